/* image.c - pictures in and out: the captioned PNG grids of --show-samples and --show-predictions, and the
 * images --predict classifies (PNG, PGM or IDX, told apart by their first bytes). libpng's simplified API does
 * the PNG work (any colour type in, 8-bit RGB out) without setjmp error handling; PGM is simple enough to parse
 * here. These run outside training steps, so they allocate freely. */
#include <errno.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

enum {
    MAX_CAPTION = 48,      /* characters of a caption line that are drawn */
    MAX_TITLE = 160,       /* and of a title */
    MAX_GRID_SIDE = 16384, /* pixels */
    MAX_PIXELS = 1 << 26,  /* of an image read for --predict */
};

static unsigned char to_byte(float v) {
    if (!(v > 0)) /* also NaN */
        return 0;
    return v >= 1 ? 255 : (unsigned char)(v * 255.0f + 0.5f);
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Grids                                                                                                      */
/* ---------------------------------------------------------------------------------------------------------- */

typedef struct {
    unsigned char *rgb;
    int64_t width, height;
} Canvas;

static void fill(Canvas *c, int64_t x0, int64_t y0, int64_t w, int64_t h, const unsigned char color[3]) {
    for (int64_t y = y0 < 0 ? 0 : y0; y < y0 + h && y < c->height; y++)
        for (int64_t x = x0 < 0 ? 0 : x0; x < x0 + w && x < c->width; x++)
            memcpy(c->rgb + (y * c->width + x) * 3, color, 3);
}

/* The characters of s that are drawn: at most max. */
static int64_t text_len(const char *s, int64_t max) { return s ? (int64_t)strnlen(s, (size_t)max) : 0; }

/* Pixels a caption line takes at `ts` pixels per font pixel (no trailing space after the last glyph). */
static int64_t text_width(const char *s, int ts) {
    int64_t n = text_len(s, MAX_CAPTION);
    return n ? (n * DLRT_GLYPH_ADVANCE - 1) * ts : 0;
}

/* Draws the first `max` characters of s with its top-left corner at (x0, y0), clipped to the canvas. */
static void draw_text(Canvas *c, int64_t x0, int64_t y0, const char *s, int64_t max, int ts,
                      const unsigned char color[3]) {
    int64_t n = text_len(s, max);
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *g = dlrt_glyph((unsigned char)s[i]);
        for (int r = 0; r < DLRT_GLYPH_H; r++)
            for (int b = 0; b < DLRT_GLYPH_W; b++)
                if (g[r] >> (DLRT_GLYPH_W - 1 - b) & 1)
                    fill(c, x0 + (i * DLRT_GLYPH_ADVANCE + b) * ts, y0 + (int64_t)r * ts, ts, ts, color);
    }
}

static int write_png(const char *path, const Canvas *c, DlrtError *err) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)c->width;
    image.height = (png_uint_32)c->height;
    image.format = PNG_FORMAT_RGB;
    DlrtAtomicFile af;
    int rc = dlrt_atomic_open(&af, path, err);
    if (rc)
        return rc;
    if (!png_image_write_to_stdio(&image, af.f, 0, c->rgb, 0, NULL)) {
        dlrt_atomic_abort(&af);
        return dlrt_fail(err, DLRT_EIO, "%s: cannot write PNG: %s", path, image.message);
    }
    return dlrt_atomic_commit(&af, err);
}

int dlrt_write_image_grid(const char *path, const char *title, const float *images, int64_t n, int h, int w, int cols,
                          int scale, const DlrtCaption *captions, DlrtError *err) {
    static const unsigned char white[3] = {255, 255, 255}, ink[3] = {30, 30, 30}, green[3] = {20, 130, 40},
                               red[3] = {210, 30, 30};
    if (n < 1 || n > 100000 || h < 1 || w < 1 || cols < 1 || scale < 1 || (int64_t)h * scale > MAX_GRID_SIDE ||
        (int64_t)w * scale > MAX_GRID_SIDE)
        return dlrt_fail(err, DLRT_EINVAL, "%s: bad image grid (%lld images of %dx%d, %d columns, scale %d)", path,
                         (long long)n, h, w, cols, scale);
    if (cols > n)
        cols = (int)n;
    /* Geometry: each cell holds the image (with room for a frame around it) and up to two caption lines, all
     * centred; every cell is as wide as the widest caption needs. */
    int ts = scale / 2 > 1 ? scale / 2 : 1; /* text scale */
    int64_t frame = ts, margin = 2 * ts + frame, line_h = (DLRT_GLYPH_H + 2) * ts;
    int lines = 0;
    int64_t content_w = (int64_t)w * scale;
    for (int64_t i = 0; captions && i < n; i++)
        for (int k = 0; k < 2; k++)
            if (captions[i].line[k]) {
                lines = lines > k + 1 ? lines : k + 1;
                int64_t tw = text_width(captions[i].line[k], ts);
                content_w = tw > content_w ? tw : content_w;
            }
    int64_t cell_w = content_w + 2 * margin, cell_h = (int64_t)h * scale + 2 * margin + lines * line_h;
    int64_t rows = (n + cols - 1) / cols;
    int64_t title_h = title && *title ? line_h + 2 * ts : 0;
    Canvas c = {NULL, cols * cell_w, title_h + rows * cell_h};
    if (c.width > MAX_GRID_SIDE || c.height > MAX_GRID_SIDE)
        return dlrt_fail(err, DLRT_EINVAL, "%s: a grid of %lldx%lld pixels is too large (at most %d a side)", path,
                         (long long)c.width, (long long)c.height, MAX_GRID_SIDE);
    c.rgb = malloc((size_t)(c.width * c.height * 3));
    if (!c.rgb)
        return dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory for a %lldx%lld image", path, (long long)c.width,
                         (long long)c.height);
    fill(&c, 0, 0, c.width, c.height, white);
    if (title_h)
        draw_text(&c, margin, 2 * ts, title, MAX_TITLE, ts, ink);
    for (int64_t i = 0; i < n; i++) {
        int64_t x0 = i % cols * cell_w, y0 = title_h + i / cols * cell_h;
        int64_t ix = x0 + (cell_w - (int64_t)w * scale) / 2, iy = y0 + margin;
        int mark = captions ? captions[i].mark : DLRT_MARK_NONE;
        if (mark == DLRT_MARK_WRONG)
            fill(&c, ix - frame, iy - frame, (int64_t)w * scale + 2 * frame, (int64_t)h * scale + 2 * frame, red);
        const float *img = images + i * h * w;
        for (int64_t y = 0; y < (int64_t)h * scale; y++)
            for (int64_t x = 0; x < (int64_t)w * scale; x++) {
                unsigned char *px = c.rgb + ((iy + y) * c.width + ix + x) * 3;
                px[0] = px[1] = px[2] = to_byte(img[y / scale * w + x / scale]);
            }
        for (int k = 0; captions && k < 2; k++) {
            const char *s = captions[i].line[k];
            const unsigned char *color = k == 0 || mark == DLRT_MARK_NONE ? ink : mark == DLRT_MARK_RIGHT ? green : red;
            int64_t ty = iy + (int64_t)h * scale + frame + ts + k * line_h;
            draw_text(&c, x0 + (cell_w - text_width(s, ts)) / 2, ty, s, MAX_CAPTION, ts, color);
        }
    }
    int rc = write_png(path, &c, err);
    free(c.rgb);
    return rc;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Reading images                                                                                             */
/* ---------------------------------------------------------------------------------------------------------- */

/* A grayscale image in [0, 1], rows x cols, owned by the caller. */
typedef struct {
    float *v;
    int64_t rows, cols;
} Gray;

static int slurp(const char *path, unsigned char **out, size_t *len, DlrtError *err);

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* libpng says little more than "Read Error" about a damaged file; walking its chunks says where it ends and what
 * is missing. Called once libpng has refused the file: fills err and returns DLRT_EFORMAT when the chunks show
 * the problem, 0 when they look whole (the caller then gives libpng's reason). */
static int png_damage(const char *path, DlrtError *err) {
    unsigned char *buf = NULL;
    size_t len = 0;
    DlrtError ignored;
    if (slurp(path, &buf, &len, &ignored) != DLRT_OK)
        return 0;
    int rc = 0;
    size_t off = 8;
    int idat = 0;
    while (!rc) {
        if (len < off || len - off < 12) { /* shorter than the signature, or than a chunk's frame */
            rc = dlrt_fail(err, DLRT_EFORMAT,
                           "%s: truncated PNG: the file ends at byte offset %zu, %s (a PNG ends with an IEND chunk)",
                           path, len, idat ? "after part of the image data" : "before any image data");
            break;
        }
        uint32_t n = be32(buf + off);
        char type[5] = {0};
        for (size_t i = 0; i < 4; i++) {
            unsigned char c = buf[off + 4 + i];
            type[i] = (char)(c >= 32 && c < 127 ? c : '?');
        }
        if ((uint64_t)n + 12 > len - off) {
            rc = dlrt_fail(err, DLRT_EFORMAT,
                           "%s: truncated PNG: the %s chunk at byte offset %zu needs %llu bytes, the file ends at byte "
                           "offset %zu",
                           path, type, off, (unsigned long long)n + 12, len);
            break;
        }
        idat |= strcmp(type, "IDAT") == 0;
        if (strcmp(type, "IEND") == 0)
            break;
        off += (size_t)n + 12;
    }
    free(buf);
    return rc;
}

static int read_png(const char *path, Gray *g, DlrtError *err) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path)) {
        if (png_damage(path, err))
            return DLRT_EFORMAT;
        return dlrt_fail(err, DLRT_EFORMAT, "%s: cannot read PNG: %s", path, image.message);
    }
    image.format = PNG_FORMAT_GRAY;
    size_t pixels = (size_t)image.width * image.height;
    if (pixels == 0 || pixels > MAX_PIXELS) {
        png_image_free(&image);
        return dlrt_fail(err, DLRT_EFORMAT, "%s: a %ux%u PNG is too large to classify (at most %d pixels)", path,
                         (unsigned)image.width, (unsigned)image.height, MAX_PIXELS);
    }
    unsigned char *gray = malloc(pixels);
    g->v = malloc(pixels * sizeof *g->v);
    if (!gray || !g->v) {
        png_image_free(&image);
        free(gray);
        free(g->v);
        return dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory for a %ux%u image", path, (unsigned)image.width,
                         (unsigned)image.height);
    }
    /* Transparent pixels are composited onto white, as a viewer shows them. */
    png_color white = {255, 255, 255};
    int rc = DLRT_OK;
    if (!png_image_finish_read(&image, &white, gray, 0, NULL)) {
        rc = png_damage(path, err) ? DLRT_EFORMAT
                                   : dlrt_fail(err, DLRT_EFORMAT, "%s: cannot decode PNG: %s", path, image.message);
        free(g->v);
        g->v = NULL;
    } else {
        g->rows = image.height;
        g->cols = image.width;
        for (size_t i = 0; i < pixels; i++)
            g->v[i] = (float)gray[i] / 255.0f;
    }
    free(gray);
    return rc;
}

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Skips whitespace and '#' comments (to the end of the line) from *pos. */
static void skip_blank(const unsigned char *buf, size_t len, size_t *pos) {
    while (*pos < len) {
        if (buf[*pos] == '#') {
            while (*pos < len && buf[*pos] != '\n' && buf[*pos] != '\r')
                (*pos)++;
        } else if (is_space(buf[*pos])) {
            (*pos)++;
        } else {
            break;
        }
    }
}

/* An unsigned decimal at *pos (at most `max`); what names it in messages. */
static int pgm_number(const unsigned char *buf, size_t len, size_t *pos, long max, const char *what, const char *path,
                      long *out, DlrtError *err) {
    size_t start = *pos;
    long v = 0;
    while (*pos < len && buf[*pos] >= '0' && buf[*pos] <= '9') {
        v = v * 10 + (buf[*pos] - '0');
        (*pos)++;
        if (v > max)
            return dlrt_fail(err, DLRT_EFORMAT, "%s: PGM %s at byte offset %zu exceeds %ld", path, what, start, max);
    }
    if (*pos == start)
        return dlrt_fail(err, DLRT_EFORMAT, "%s: expected the PGM %s (a decimal number) at byte offset %zu, found %s",
                         path, what, start, *pos < len ? "another character" : "the end of the file");
    *out = v;
    return DLRT_OK;
}

int dlrt_parse_pgm(const void *data, size_t len, const char *path, float **pixels, int64_t *rows, int64_t *cols,
                   DlrtError *err) {
    const unsigned char *buf = data;
    *pixels = NULL;
    if (len < 2 || buf[0] != 'P' || (buf[1] != '5' && buf[1] != '2'))
        return dlrt_fail(err, DLRT_EFORMAT, "%s: not a PGM: expected 'P5' or 'P2' at byte offset 0", path);
    int plain = buf[1] == '2';
    size_t pos = 2;
    long w, h, maxval;
    int rc;
    skip_blank(buf, len, &pos);
    if ((rc = pgm_number(buf, len, &pos, 1 << 16, "width", path, &w, err)))
        return rc;
    skip_blank(buf, len, &pos);
    if ((rc = pgm_number(buf, len, &pos, 1 << 16, "height", path, &h, err)))
        return rc;
    skip_blank(buf, len, &pos);
    if ((rc = pgm_number(buf, len, &pos, 65535, "maxval", path, &maxval, err)))
        return rc;
    if (w < 1 || h < 1 || maxval < 1 || (int64_t)w * h > MAX_PIXELS)
        return dlrt_fail(err, DLRT_EFORMAT,
                         "%s: PGM of %ldx%ld with maxval %ld: expected 1 to %d pixels and "
                         "maxval 1 to 65535",
                         path, w, h, maxval, MAX_PIXELS);
    if (pos >= len || !is_space(buf[pos]))
        return dlrt_fail(err, DLRT_EFORMAT, "%s: expected whitespace after the PGM maxval at byte offset %zu", path,
                         pos);
    pos++;
    size_t n = (size_t)w * (size_t)h, bytes = maxval > 255 ? 2 : 1;
    if (!plain && len - pos < n * bytes)
        return dlrt_fail(err, DLRT_EFORMAT,
                         "%s: truncated: expected %zu bytes of pixels at byte offset %zu, the file "
                         "ends at byte offset %zu",
                         path, n * bytes, pos, len);
    float *v = malloc(n * sizeof *v);
    if (!v)
        return dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory for a %ldx%ld image", path, w, h);
    for (size_t i = 0; i < n; i++) {
        long s;
        size_t at = pos;
        if (plain) {
            skip_blank(buf, len, &pos);
            at = pos;
            if ((rc = pgm_number(buf, len, &pos, 65535, "sample", path, &s, err))) {
                free(v);
                return rc;
            }
        } else {
            s = bytes == 2 ? (long)buf[pos] << 8 | buf[pos + 1] : buf[pos];
            pos += bytes;
        }
        if (s > maxval) {
            free(v);
            return dlrt_fail(err, DLRT_EFORMAT, "%s: PGM sample %ld at byte offset %zu exceeds the maxval %ld", path, s,
                             at, maxval);
        }
        v[i] = (float)s / (float)maxval;
    }
    *pixels = v;
    *rows = h;
    *cols = w;
    return DLRT_OK;
}

/* The whole file at path, for the PGM parser. */
static int slurp(const char *path, unsigned char **out, size_t *len, DlrtError *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return dlrt_fail(err, DLRT_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size > (off_t)MAX_PIXELS * 8) {
        fclose(f);
        return dlrt_fail(err, DLRT_EFORMAT, "%s: cannot size the file, or it is too large for an image", path);
    }
    *len = (size_t)st.st_size;
    *out = malloc(*len + 1);
    if (!*out || fread(*out, 1, *len, f) != *len) {
        int saved = errno;
        fclose(f);
        free(*out);
        return dlrt_fail(err, DLRT_EIO, "%s: cannot read: %s", path, strerror(saved));
    }
    fclose(f);
    return DLRT_OK;
}

/* Area averaging (each output pixel the mean of the source area it covers), for shrinking: bilinear sampling
 * would skip most pixels of a large photo and alias. */
static void resize_area(const float *src, int64_t in_h, int64_t in_w, float *dst, int64_t out_h, int64_t out_w,
                        float *tmp /* in_h * out_w */) {
    for (int pass = 0; pass < 2; pass++) {
        int64_t in = pass ? in_h : in_w, out = pass ? out_h : out_w, lines = pass ? out_w : in_h;
        double s = (double)in / (double)out;
        for (int64_t l = 0; l < lines; l++)
            for (int64_t o = 0; o < out; o++) {
                double a = (double)o * s, b = (double)(o + 1) * s, sum = 0;
                for (int64_t i = (int64_t)a; i < in && (double)i < b; i++) {
                    double lo = a > (double)i ? a : (double)i, hi = b < (double)(i + 1) ? b : (double)(i + 1);
                    sum += (hi - lo) * (pass ? tmp[i * out_w + l] : src[l * in_w + i]);
                }
                if (pass)
                    dst[o * out_w + l] = (float)(sum / s);
                else
                    tmp[l * out_w + o] = (float)(sum / s);
            }
    }
}

/* Mean of the outermost rows and columns. */
static double border_mean(const Gray *g) {
    double sum = 0;
    int64_t n = 0;
    for (int64_t y = 0; y < g->rows; y++)
        for (int64_t x = 0; x < g->cols; x++)
            if (y == 0 || x == 0 || y == g->rows - 1 || x == g->cols - 1) {
                sum += g->v[y * g->cols + x];
                n++;
            }
    return n ? sum / (double)n : 0;
}

/* Fits a photo into h x w as Fashion-MNIST's images are: light-on-dark (inverted if the border is light),
 * padded to the target's aspect ratio with the border's shade, centred, then shrunk by area averaging or
 * enlarged bilinearly. */
static int fit(const char *path, Gray *g, int h, int w, int auto_invert, int invert, float *dst, int *inverted,
               DlrtError *err) {
    double border = border_mean(g);
    int flip = auto_invert ? border > 0.5 : invert;
    if (flip) {
        for (int64_t i = 0; i < g->rows * g->cols; i++)
            g->v[i] = 1.0f - g->v[i];
        border = 1 - border;
    }
    if (inverted)
        *inverted = flip;
    /* pad: the padded size has the target's aspect ratio and holds the image */
    int64_t ph = g->rows, pw = g->cols;
    if (pw * h > ph * w)
        ph = (pw * h + w - 1) / w;
    else
        pw = (ph * w + h - 1) / h;
    float *pad = malloc((size_t)(ph * pw) * sizeof *pad);
    float *tmp = malloc((size_t)(ph * (w > pw ? w : pw)) * sizeof *tmp);
    if (!pad || !tmp) {
        free(pad);
        free(tmp);
        return dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory for a %lldx%lld image", path, (long long)ph,
                         (long long)pw);
    }
    int64_t oy = (ph - g->rows) / 2, ox = (pw - g->cols) / 2;
    for (int64_t y = 0; y < ph; y++)
        for (int64_t x = 0; x < pw; x++) {
            int inside = y >= oy && y < oy + g->rows && x >= ox && x < ox + g->cols;
            pad[y * pw + x] = inside ? g->v[(y - oy) * g->cols + x - ox] : (float)border;
        }
    if (ph >= h && pw >= w)
        resize_area(pad, ph, pw, dst, h, w, tmp);
    else
        dlrt_resize_bilinear(pad, 1, ph, pw, dst, h, w);
    free(pad);
    free(tmp);
    return DLRT_OK;
}

/* What the first bytes of a file say it is. */
typedef enum { KIND_UNKNOWN, KIND_PNG, KIND_PGM, KIND_IDX } ImageKind;

static int sniff(const char *path, ImageKind *kind, DlrtError *err) {
    unsigned char b[4] = {0};
    struct stat st;
    if (stat(path, &st) != 0)
        return dlrt_fail(err, DLRT_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return dlrt_fail(err, DLRT_EIO, "%s: a directory, not an image file", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return dlrt_fail(err, DLRT_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t got = fread(b, 1, 4, f);
    int failed = ferror(f), saved = errno;
    fclose(f);
    if (failed)
        return dlrt_fail(err, DLRT_EIO, "%s: cannot read: %s", path, strerror(saved));
    if (got == 0)
        return dlrt_fail(err, DLRT_EFORMAT, "%s: the file is empty (0 bytes), not an image", path);
    if (got >= 4 && memcmp(b, "\x89PNG", 4) == 0)
        *kind = KIND_PNG;
    else if (got >= 2 && b[0] == 'P' && (b[1] == '2' || b[1] == '5'))
        *kind = KIND_PGM;
    else if ((got >= 2 && b[0] == 0x1f && b[1] == 0x8b) || (got >= 3 && b[0] == 0 && b[1] == 0 && b[2] == 8))
        *kind = KIND_IDX; /* gzip is taken for IDX; the IDX reader checks the magic inside */
    else {
        char found[16] = "";
        for (size_t i = 0, at = 0; i < got; i++, at = strlen(found))
            snprintf(found + at, sizeof found - at, "%s%02x", i ? " " : "", b[i]);
        return dlrt_fail(err, DLRT_EFORMAT,
                         "%s: not an image: expected a PNG, a PGM ('P5' or 'P2') or an IDX image file (magic "
                         "0x00000803, plain or gzip), found %s %s at byte offset 0%s",
                         path, got == 1 ? "the byte" : "the bytes", found, got < 4 ? " (the whole file)" : "");
    }
    return DLRT_OK;
}

static int read_gray(const char *path, ImageKind kind, Gray *g, DlrtError *err) {
    memset(g, 0, sizeof *g);
    if (kind == KIND_PNG)
        return read_png(path, g, err);
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = slurp(path, &buf, &len, err);
    if (rc)
        return rc;
    rc = dlrt_parse_pgm(buf, len, path, &g->v, &g->rows, &g->cols, err);
    free(buf);
    return rc;
}

int dlrt_read_image(const char *path, float *dst, int h, int w, int invert, DlrtError *err) {
    ImageKind kind;
    Gray g;
    int rc = sniff(path, &kind, err);
    if (!rc && kind == KIND_IDX)
        rc = dlrt_fail(err, DLRT_EFORMAT, "%s: an IDX file holds many images; dlrt_load_images reads it", path);
    if (!rc)
        rc = read_gray(path, kind, &g, err);
    if (!rc) {
        rc = fit(path, &g, h, w, 0, invert, dst, NULL, err);
        free(g.v);
    }
    return rc;
}

int dlrt_load_images(const char *path, int h, int w, DlrtDataset *out, int *inverted, DlrtError *err) {
    memset(out, 0, sizeof *out);
    if (inverted)
        *inverted = 0;
    if (h < 1 || w < 1 || (int64_t)h * w > MAX_PIXELS)
        return dlrt_fail(err, DLRT_EINVAL, "%s: bad target size %dx%d", path, h, w);
    ImageKind kind;
    int rc = sniff(path, &kind, err);
    if (rc)
        return rc;
    if (kind == KIND_IDX) {
        DlrtDataset raw;
        rc = dlrt_idx_load_images(path, 0, &raw, err);
        if (rc)
            return rc;
        if (raw.dims[1] == h && raw.dims[2] == w) {
            *out = raw;
            return DLRT_OK;
        }
        out->x = malloc((size_t)(raw.n * h * w) * sizeof *out->x);
        if (!out->x) {
            dlrt_dataset_free(&raw);
            return dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory for %lld images", path, (long long)raw.n);
        }
        dlrt_resize_bilinear(raw.x, raw.n, raw.dims[1], raw.dims[2], out->x, h, w);
        out->n = raw.n;
        dlrt_dataset_free(&raw);
    } else {
        Gray g;
        rc = read_gray(path, kind, &g, err);
        if (rc)
            return rc;
        out->x = malloc((size_t)h * (size_t)w * sizeof *out->x);
        rc = out->x ? fit(path, &g, h, w, 1, 0, out->x, inverted, err)
                    : dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory", path);
        free(g.v);
        if (rc) {
            dlrt_dataset_free(out);
            return rc;
        }
        out->n = 1;
    }
    out->rank = 3;
    out->dims[0] = 1;
    out->dims[1] = h;
    out->dims[2] = w;
    out->features = (int64_t)h * w;
    return DLRT_OK;
}
