/* classify.c: an application with a LeNet inside. It reads PGM images, classifies each with the inference code
 * that `dlc compile --infer` generated from models/lenet.dlm, and prints the Fashion-MNIST class with its
 * probability. No framework and no runtime library: the model is lenet.c, plain C11 and libm.
 *
 *   classify [--top K] [--invert | --no-invert] [--show] IMAGE.pgm...
 *   classify --weights lenet.ckpt [options] IMAGE.pgm...   (the build with -DCLASSIFY_LOAD)
 *
 * The default build has the weights compiled in (`--weights CKPT` when generating lenet.c). Built with
 * -DCLASSIFY_LOAD, it instead reads a checkpoint file into memory at start-up and hands the bytes to lenet_load,
 * so new weights need no recompilation.
 *
 * Images. PGM, binary (P5) or text (P2), any maxval up to 65535. Fashion-MNIST's pictures are light garments on a
 * black background, scaled to fill 28x28; the model only knows that. So the image is made grey in [0, 1], inverted
 * when it is dark on light (judged from its border, which is background in a product photo; --invert and
 * --no-invert override), padded to a square with the background, and resized to 28x28: averaging the covered
 * pixels when shrinking, bilinear when enlarging. The input the model sees is those 784 values, row by row;
 * --show draws it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lenet.h"

static const char *const class_names[10] = {"t-shirt/top", "trouser", "pullover", "dress", "coat",
                                            "sandal",      "shirt",   "sneaker",  "bag",   "ankle boot"};

enum { SIDE = 28 };

/* ---- PGM ---- */

typedef struct {
    int width, height;
    float *pixels; /* row-major, in [0, 1] */
} Image;

/* Skips whitespace and # comments, then reads an unsigned decimal; -1 if there is none. */
static long pgm_number(FILE *f) {
    int ch = fgetc(f);
    for (;;) {
        if (ch == '#')
            while (ch != '\n' && ch != '\r' && ch != EOF)
                ch = fgetc(f);
        else if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f')
            ch = fgetc(f);
        else
            break;
    }
    if (ch < '0' || ch > '9')
        return -1;
    long v = 0;
    while (ch >= '0' && ch <= '9') {
        if (v > 100000000)
            return -1;
        v = v * 10 + (ch - '0');
        ch = fgetc(f);
    }
    /* the single whitespace after the header's last number is the separator before binary data */
    if (ch != EOF && !(ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f'))
        ungetc(ch, f);
    return v;
}

/* Reads path into img; on failure prints why and returns -1. */
static int read_pgm(const char *path, Image *img) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    const char *why = NULL;
    char magic[2] = {0, 0};
    long w = -1, h = -1, maxval = -1;
    if (fread(magic, 1, 2, f) != 2 || magic[0] != 'P' || (magic[1] != '2' && magic[1] != '5'))
        why = "not a PGM file (it should start with P2 or P5)";
    else if ((w = pgm_number(f)) < 1 || (h = pgm_number(f)) < 1 || w > 16384 || h > 16384)
        why = "bad width or height";
    else if ((maxval = pgm_number(f)) < 1 || maxval > 65535)
        why = "bad maxval (it should be 1 to 65535)";
    img->pixels = why ? NULL : malloc(sizeof(float) * (size_t)(w * h));
    if (!why && !img->pixels)
        why = "out of memory";
    for (long i = 0; !why && i < w * h; i++) {
        long v;
        if (magic[1] == '2') {
            v = pgm_number(f);
        } else if (maxval < 256) {
            int c = fgetc(f);
            v = c == EOF ? -1 : c;
        } else { /* two bytes per sample, most significant first */
            int hi = fgetc(f), lo = fgetc(f);
            v = hi == EOF || lo == EOF ? -1 : hi << 8 | lo;
        }
        if (v < 0)
            why = "the file ends before its last pixel";
        else if (v > maxval)
            why = "a pixel is above maxval";
        else
            img->pixels[i] = (float)v / (float)maxval;
    }
    fclose(f);
    if (why) {
        fprintf(stderr, "%s: %s\n", path, why);
        free(img->pixels);
        return -1;
    }
    img->width = (int)w;
    img->height = (int)h;
    return 0;
}

/* ---- preprocessing ---- */

/* Mean of the outermost rows and columns. */
static float border_mean(const Image *img) {
    double sum = 0;
    long n = 0;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            if (y == 0 || x == 0 || y == img->height - 1 || x == img->width - 1) {
                sum += img->pixels[(long)y * img->width + x];
                n++;
            }
    return (float)(sum / (double)n);
}

/* The value of the padded square image at (x, y), or `background` outside the picture. */
static float at(const Image *img, int side, float background, int x, int y) {
    x -= (side - img->width) / 2;
    y -= (side - img->height) / 2;
    if (x < 0 || y < 0 || x >= img->width || y >= img->height)
        return background;
    return img->pixels[(long)y * img->width + x];
}

/* Resizes the image, padded to a side x side square, to 28x28. Shrinking averages the source pixels each output
 * pixel covers (fractional coverage at the edges); enlarging interpolates bilinearly between pixel centres. */
static void to_28x28(const Image *img, float background, float *out) {
    int side = img->width > img->height ? img->width : img->height;
    double scale = (double)side / SIDE;
    for (int oy = 0; oy < SIDE; oy++)
        for (int ox = 0; ox < SIDE; ox++) {
            double v = 0;
            if (scale > 1) {
                double y0 = oy * scale, y1 = y0 + scale, x0 = ox * scale, x1 = x0 + scale;
                for (int y = (int)y0; y < y1 && y < side; y++)
                    for (int x = (int)x0; x < x1 && x < side; x++) {
                        double wy = fmin(y + 1, y1) - fmax(y, y0), wx = fmin(x + 1, x1) - fmax(x, x0);
                        v += wy * wx * at(img, side, background, x, y);
                    }
                v /= scale * scale;
            } else {
                double sy = (oy + 0.5) * scale - 0.5, sx = (ox + 0.5) * scale - 0.5;
                sy = fmin(fmax(sy, 0), side - 1);
                sx = fmin(fmax(sx, 0), side - 1);
                int y = (int)sy, x = (int)sx;
                int y2 = y + 1 < side ? y + 1 : y, x2 = x + 1 < side ? x + 1 : x;
                double fy = sy - y, fx = sx - x;
                v = (1 - fy) * ((1 - fx) * at(img, side, background, x, y) + fx * at(img, side, background, x2, y)) +
                    fy * ((1 - fx) * at(img, side, background, x, y2) + fx * at(img, side, background, x2, y2));
            }
            out[oy * SIDE + ox] = (float)v;
        }
}

/* The 28x28 input as text, two characters per pixel, darkest to brightest. */
static void draw(const float *x) {
    static const char shades[] = " .:-=+*#%@";
    for (int y = 0; y < SIDE; y++) {
        printf("    |");
        for (int k = 0; k < SIDE; k++) {
            float v = x[y * SIDE + k];
            int level = v <= 0 ? 0 : v >= 1 ? 9 : (int)(v * 9 + 0.5f); /* 8-bit grey is never near a boundary */
            printf("%c%c", shades[level], shades[level]);
        }
        printf("|\n");
    }
}

/* ---- the model ---- */

/* The model's only memory: one block, fixed size, from a static array. */
static _Alignas(64) unsigned char context[LENET_WORKSPACE_BYTES];

#ifdef CLASSIFY_LOAD
/* Reads the checkpoint into memory and gives the bytes to lenet_load (which does no I/O itself). */
static int load_weights(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len == cap) {
            cap = cap ? 2 * cap : 1 << 20;
            unsigned char *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(f);
                fprintf(stderr, "%s: out of memory\n", path);
                return -1;
            }
            buf = grown;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    fclose(f);
    int rc = lenet_load(context, buf, len);
    free(buf);
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", path,
                rc == -1   ? "not a dlc checkpoint, or truncated"
                : rc == -2 ? "a checkpoint of another model (lenet.dlm's parameters differ)"
                           : "damaged: a tensor's CRC does not match");
    return rc;
}
#endif

int main(int argc, char **argv) {
    int top = 1, invert = -1, show = 0; /* invert -1: decide per image */
    const char *weights = NULL;
    int first = 1;
    for (; first < argc && argv[first][0] == '-' && argv[first][1]; first++) {
        const char *a = argv[first];
        if (strcmp(a, "--top") == 0 && first + 1 < argc) {
            top = atoi(argv[++first]);
            if (top < 1 || top > 10) {
                fprintf(stderr, "%s: --top takes 1 to 10\n", argv[0]);
                return 2;
            }
        } else if (strcmp(a, "--invert") == 0) {
            invert = 1;
        } else if (strcmp(a, "--no-invert") == 0) {
            invert = 0;
        } else if (strcmp(a, "--show") == 0) {
            show = 1;
        } else if (strcmp(a, "--weights") == 0 && first + 1 < argc) {
            weights = argv[++first];
        } else if (strcmp(a, "--") == 0) {
            first++;
            break;
        } else {
            fprintf(stderr, "%s: unknown option '%s'\n", argv[0], a);
            return 2;
        }
    }
#ifdef CLASSIFY_LOAD
    const char *usage_weights = "--weights lenet.ckpt ";
    if (!weights && first < argc) {
        fprintf(stderr, "%s: this build reads its weights at start-up: --weights FILE.ckpt\n", argv[0]);
        return 2;
    }
    if (weights && load_weights(weights) != 0)
        return 1;
#else
    const char *usage_weights = "";
    if (weights) {
        fprintf(stderr, "%s: this build has its weights compiled in; --weights needs the -DCLASSIFY_LOAD build\n",
                argv[0]);
        return 2;
    }
#endif
    if (first >= argc) {
        fprintf(stderr, "usage: %s %s[--top K] [--invert | --no-invert] [--show] IMAGE.pgm...\n", argv[0],
                usage_weights);
        return 2;
    }
    int status = 0;
    for (int i = first; i < argc; i++) {
        Image img;
        if (read_pgm(argv[i], &img) != 0) {
            status = 1;
            continue;
        }
        int inv = invert >= 0 ? invert : border_mean(&img) > 0.5f;
        if (inv)
            for (long k = 0; k < (long)img.width * img.height; k++)
                img.pixels[k] = 1 - img.pixels[k];
        float x[LENET_INPUT_X_SIZE], logits[LENET_OUTPUT_LOGITS_SIZE];
        to_28x28(&img, 0, x);
        free(img.pixels);
        lenet_predict(context, x, logits);

        /* softmax, shifted by the largest logit so exp cannot overflow */
        float max = logits[0], sum = 0, p[10];
        for (int k = 1; k < 10; k++)
            max = logits[k] > max ? logits[k] : max;
        for (int k = 0; k < 10; k++)
            sum += p[k] = expf(logits[k] - max);
        int order[10];
        for (int k = 0; k < 10; k++) {
            p[k] /= sum;
            int j = k;
            for (; j > 0 && p[order[j - 1]] < p[k]; j--)
                order[j] = order[j - 1];
            order[j] = k;
        }
        printf("%s: %s (%.1f%%)%s\n", argv[i], class_names[order[0]], 100 * p[order[0]], inv ? ", inverted" : "");
        for (int k = 1; k < top; k++)
            printf("    %-12s %5.1f%%\n", class_names[order[k]], 100 * p[order[k]]);
        if (show)
            draw(x);
    }
    return status;
}
