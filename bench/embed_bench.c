/* embed_bench.c: the speed of one build of `dlc compile --infer`, measured as bench/torch_peer.py measures
 * PyTorch's inference, so the two sit in one table (bench/embed_bench.sh builds and runs this, then the peer).
 *
 * Compiled together with the generated C, named by macros as in tests/embed_harness.c: MODEL (`lenet`), MODEL_UC
 * (`LENET`), MODEL_H ("lenet.h"), and VARIANT (a label for the output: "blas", "portable"). One input x, one
 * output logits. With LOAD_WEIGHTS defined the build has no weights baked in (`dlc compile --infer` without
 * --weights, as for AlexNet's 47M parameters), and `--load CKPT` reads a trainer's checkpoint into memory and
 * hands it to <name>_load before anything is timed.
 *
 *   embed_bench [--load CKPT] latency REPEAT BUDGET_S
 *       batch 1: the median wall time of one <name>_predict on Fashion-MNIST test image 0 (torch_peer: the same
 *       image, the median of up to 2,000 calls in 2 s), after warm-up calls; REPEAT times, the median reported,
 *       with the medians of each repeat's 10th and 90th percentiles
 *   embed_bench [--load CKPT] throughput REPEAT [BATCHES]
 *       <name>_predict_batch over BATCHES batches of MAX_BATCH test images (default: as many as the test set
 *       holds; torch_peer: 39 batches of 256), after one warm-up batch; REPEAT passes, the median reported
 *
 * Prints one JSON line. Images come from $FASHION_MNIST (default /usr/share/datasets/fashion-mnist),
 * t10k-images-idx3-ubyte[.gz], scaled to [0, 1] as the trainers do, and for a model that takes more than 28x28
 * (AlexNet, VGG: 224x224) resized bilinearly as the trainers resize them (runtime/resize.c), only the images a
 * measurement uses. The model's single context is static. Single thread: build without -fopenmp and run with
 * OPENBLAS_NUM_THREADS=1. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "stats.h"
#include MODEL_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(suffix) CAT(MODEL, suffix)
#define M(suffix) CAT(MODEL_UC, suffix)
#define STR_(a) #a
#define STR(a) STR_(a)
#define IN_SIZE M(_INPUT_X_SIZE)
#define OUT_SIZE M(_OUTPUT_LOGITS_SIZE)
#define MAX_BATCH M(_MAX_BATCH)

#ifndef VARIANT
#define VARIANT "?"
#endif
#ifdef LOAD_WEIGHTS
#define WEIGHTS "loaded"
#define LOAD_USAGE " --load CKPT"
#else
#define WEIGHTS "baked"
#define LOAD_USAGE ""
#endif

typedef FN(_real) real;

static _Alignas(64) unsigned char context[M(_WORKSPACE_BYTES)];

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* The test images, 28x28, scaled to [0, 1]; *n receives the count (10,000). */
static real *test_images(long *n) {
    const char *dir = getenv("FASHION_MNIST") ? getenv("FASHION_MNIST") : "/usr/share/datasets/fashion-mnist";
    char path[4096];
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    gzFile f = gzopen(path, "rb"); /* reads plain files too */
    if (!f) {
        snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", dir);
        f = gzopen(path, "rb");
    }
    unsigned char header[16];
    if (!f || gzread(f, header, 16) != 16 || header[2] != 8 || header[3] != 3 || header[11] != 28 || header[15] != 28) {
        fprintf(stderr, "embed_bench: cannot read 28x28 images from %s (set FASHION_MNIST to the folder)\n", path);
        exit(1);
    }
    long count = (long)header[4] << 24 | (long)header[5] << 16 | (long)header[6] << 8 | header[7];
    long pixels = count * 784;
    unsigned char *bytes = malloc((size_t)pixels);
    real *x = malloc(sizeof(real) * (size_t)pixels);
    if (!bytes || !x || gzread(f, bytes, (unsigned)pixels) != (int)pixels) {
        fprintf(stderr, "embed_bench: %s is short\n", path);
        exit(1);
    }
    gzclose(f);
    for (long i = 0; i < pixels; i++)
        x[i] = (real)bytes[i] / (real)255;
    free(bytes);
    *n = count;
    return x;
}

/* PyTorch's bilinear sample position with align_corners=False, in float, as runtime/resize.c computes it: the
 * lower neighbour, the upper one and the upper one's weight. */
static void source_index(long d, float scale, long in, long *lo, long *hi, float *frac) {
    float s = scale * ((float)d + 0.5f) - 0.5f;
    if (s < 0)
        s = 0;
    long i = (long)s;
    if (i > in - 1)
        i = in - 1;
    *lo = i;
    *hi = i < in - 1 ? i + 1 : i;
    *frac = s - (float)i;
}

/* The first `count` of the 28x28 images as model inputs: themselves, or resized to side x side when the model
 * takes IN_SIZE = side^2 values. */
static real *model_inputs(real *images, long count) {
    if (IN_SIZE == 784)
        return images;
    long side = 1;
    while (side * side < IN_SIZE)
        side++;
    if (side * side != IN_SIZE) {
        fprintf(stderr, "embed_bench: the model takes %d values per example, not a square image\n", IN_SIZE);
        exit(1);
    }
    real *x = malloc(sizeof(real) * (size_t)(count * IN_SIZE));
    if (!x) {
        fprintf(stderr, "embed_bench: out of memory for %ld inputs\n", count);
        exit(1);
    }
    float scale = 28.0f / (float)side;
    for (long i = 0; i < count; i++)
        for (long y = 0; y < side; y++) {
            long y0, y1, x0, x1;
            float fy, fx;
            source_index(y, scale, 28, &y0, &y1, &fy);
            const real *r0 = images + i * 784 + y0 * 28, *r1 = images + i * 784 + y1 * 28;
            for (long c = 0; c < side; c++) {
                source_index(c, scale, 28, &x0, &x1, &fx);
                float top = (1 - fx) * r0[x0] + fx * r0[x1], bottom = (1 - fx) * r1[x0] + fx * r1[x1];
                x[(i * side + y) * side + c] = (real)((1 - fy) * top + fy * bottom);
            }
        }
    free(images);
    return x;
}

#ifdef LOAD_WEIGHTS
/* Reads a checkpoint into memory and loads its weights into the context. */
static void load_weights(const char *path) {
    FILE *f = fopen(path, "rb");
    long len = -1;
    if (f && fseek(f, 0, SEEK_END) == 0)
        len = ftell(f);
    unsigned char *buf = len > 0 ? malloc((size_t)len) : NULL;
    if (!buf || fseek(f, 0, SEEK_SET) != 0 || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "embed_bench: cannot read the checkpoint %s\n", path);
        exit(1);
    }
    fclose(f);
    int rc = FN(_load)(context, buf, (size_t)len);
    if (rc != 0) {
        fprintf(stderr, "embed_bench: %s_load refused %s (%d)\n", STR(MODEL), path, rc);
        exit(1);
    }
    free(buf);
}
#endif

static volatile real sink; /* keeps the outputs live */

static void print_runs(const double *runs, int repeat) {
    printf("[");
    for (int r = 0; r < repeat; r++)
        printf("%s%.6g", r ? ", " : "", runs[r]);
    printf("]");
}

/* Warm-up: WARMUP calls, or as many as fit in a fifth of the budget when calls are slow (AlexNet's). */
static int latency(const real *x, int repeat, double budget_s) {
    enum { MAX_ITERS = 200000, WARMUP = 200 };
    static double t[MAX_ITERS];
    double runs[64], p10[64], p90[64];
    long iters = 0;
    real out[OUT_SIZE];
    for (int r = 0; r < repeat; r++) {
        double end = now_us() + budget_s * 1e6 / 5;
        for (int i = 0; i < WARMUP && (i < 2 || now_us() < end); i++)
            FN(_predict)(context, x, out);
        end = now_us() + budget_s * 1e6;
        long n = 0;
        while (n < MAX_ITERS && (n < 10 || now_us() < end)) {
            double t0 = now_us();
            FN(_predict)(context, x, out);
            t[n++] = now_us() - t0;
            sink = out[0];
        }
        runs[r] = quantile(t, n, 0.5);
        p10[r] = quantile(t, n, 0.1);
        p90[r] = quantile(t, n, 0.9);
        iters = n;
    }
    double sorted[64];
    memcpy(sorted, runs, sizeof(double) * (size_t)repeat);
    printf("{\"peer\": \"dlc\", \"model\": \"%s\", \"variant\": \"%s\", \"mode\": \"latency\", \"batch\": 1, "
           "\"weights\": \"%s\", \"infer_latency_us\": %.6g, \"p10_us\": %.6g, \"p90_us\": %.6g, "
           "\"iters_per_repeat\": %ld, \"runs\": ",
           STR(MODEL), VARIANT, WEIGHTS, quantile(sorted, repeat, 0.5), quantile(p10, repeat, 0.5),
           quantile(p90, repeat, 0.5), iters);
    print_runs(runs, repeat);
    printf("}\n");
    return 0;
}

static int throughput(const real *x, long batches, int repeat) {
    real *out = malloc(sizeof(real) * MAX_BATCH * OUT_SIZE);
    double runs[64];
    for (int r = 0; r < repeat; r++) {
        FN(_predict_batch)(context, MAX_BATCH, x, out); /* warm-up */
        double t0 = now_us();
        for (long b = 0; b < batches; b++) {
            FN(_predict_batch)(context, MAX_BATCH, x + b * MAX_BATCH * IN_SIZE, out);
            sink = out[0];
        }
        runs[r] = (double)(batches * MAX_BATCH) / ((now_us() - t0) / 1e6);
    }
    double sorted[64];
    memcpy(sorted, runs, sizeof(double) * (size_t)repeat);
    printf("{\"peer\": \"dlc\", \"model\": \"%s\", \"variant\": \"%s\", \"mode\": \"throughput\", \"batch\": %d, "
           "\"batches\": %ld, \"weights\": \"%s\", \"infer_examples_per_second\": %.6g, \"runs\": ",
           STR(MODEL), VARIANT, MAX_BATCH, batches, WEIGHTS, quantile(sorted, repeat, 0.5));
    print_runs(runs, repeat);
    printf("}\n");
    free(out);
    return 0;
}

int main(int argc, char **argv) {
    const char *prog = argv[0];
#ifdef LOAD_WEIGHTS
    if (argc < 3 || strcmp(argv[1], "--load") != 0) {
        fprintf(stderr, "%s: built without weights: --load CKPT comes first\n", prog);
        return 2;
    }
    const char *checkpoint = argv[2];
    argc -= 2, argv += 2;
#endif
    if (argc < 3 || (strcmp(argv[1], "latency") != 0 && strcmp(argv[1], "throughput") != 0)) {
        fprintf(stderr, "usage: %s%s latency REPEAT BUDGET_S | throughput REPEAT [BATCHES]\n", prog, LOAD_USAGE);
        return 2;
    }
    int repeat = atoi(argv[2]);
    if (repeat < 1 || repeat > 64) {
        fprintf(stderr, "%s: REPEAT is 1 to 64\n", prog);
        return 2;
    }
    long n;
    real *images = test_images(&n);
    int is_latency = strcmp(argv[1], "latency") == 0;
    long batches = !is_latency && argc > 3 ? atol(argv[3]) : n / MAX_BATCH;
    if (batches < 1 || batches * MAX_BATCH > n) {
        fprintf(stderr, "%s: the test set holds 1 to %ld batches of %d, not %ld\n", prog, n / MAX_BATCH, MAX_BATCH,
                batches);
        return 2;
    }
#ifdef LOAD_WEIGHTS
    load_weights(checkpoint);
#endif
    real *x = model_inputs(images, is_latency ? 1 : batches * MAX_BATCH);
    if (is_latency)
        return latency(x, repeat, argc > 3 ? atof(argv[3]) : 1.0);
    return throughput(x, batches, repeat);
}
