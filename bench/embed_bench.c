/* embed_bench.c: the speed of one build of `dlc compile --infer`, measured as bench/torch_peer.py measures
 * PyTorch's inference, so the two sit in one table (bench/embed_bench.sh builds and runs this, then the peer).
 *
 * Compiled together with the generated C, named by macros as in tests/embed_harness.c: MODEL (`lenet`), MODEL_UC
 * (`LENET`), MODEL_H ("lenet.h"), and VARIANT (a label for the output: "blas", "portable"). One input x, one
 * output logits.
 *
 *   embed_bench latency REPEAT BUDGET_S    batch 1: the median wall time of one <name>_predict on Fashion-MNIST
 *                                          test image 0 (torch_peer: the same image, the median of up to 2,000
 *                                          calls in 2 s), after warm-up calls; REPEAT times, the median reported,
 *                                          with the medians of each repeat's 10th and 90th percentiles
 *   embed_bench throughput REPEAT          <name>_predict_batch over the test set in batches of MAX_BATCH (a
 *                                          --batch 256 build; torch_peer: 39 batches of 256), after one warm-up
 *                                          batch; REPEAT passes, the median reported
 *
 * Prints one JSON line. Images come from $FASHION_MNIST (default /usr/share/datasets/fashion-mnist),
 * t10k-images-idx3-ubyte[.gz], scaled to [0, 1] as the trainers do; the model's single context is static. Single
 * thread: build without -fopenmp and run with OPENBLAS_NUM_THREADS=1. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

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

typedef FN(_real) real;

static _Alignas(64) unsigned char context[M(_WORKSPACE_BYTES)];

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile of v[0..n) (sorts v). */
static double quantile(double *v, long n, double q) {
    qsort(v, (size_t)n, sizeof *v, by_value);
    double pos = q * (double)(n - 1);
    long i = (long)pos;
    return i + 1 < n ? v[i] + (pos - (double)i) * (v[i + 1] - v[i]) : v[i];
}

/* The test images as model inputs; *n receives the count (10,000). */
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
    if (!f || gzread(f, header, 16) != 16 || header[2] != 8 || header[3] != 3) {
        fprintf(stderr, "embed_bench: cannot read %s (set FASHION_MNIST to the folder)\n", path);
        exit(1);
    }
    long count = (long)header[4] << 24 | (long)header[5] << 16 | (long)header[6] << 8 | header[7];
    long pixels = count * 784;
    if (IN_SIZE != 784) {
        fprintf(stderr, "embed_bench: the model takes %d values per example, not 784\n", IN_SIZE);
        exit(1);
    }
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

static volatile real sink; /* keeps the outputs live */

static void print_runs(const double *runs, int repeat) {
    printf("[");
    for (int r = 0; r < repeat; r++)
        printf("%s%.6g", r ? ", " : "", runs[r]);
    printf("]");
}

static int latency(const real *x, int repeat, double budget_s) {
    enum { MAX_ITERS = 200000, WARMUP = 200 };
    static double t[MAX_ITERS];
    double runs[64], p10[64], p90[64];
    long iters = 0;
    real out[OUT_SIZE];
    for (int r = 0; r < repeat; r++) {
        for (int i = 0; i < WARMUP; i++)
            FN(_predict)(context, x, out);
        double end = now_us() + budget_s * 1e6;
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
           "\"infer_latency_us\": %.6g, \"p10_us\": %.6g, \"p90_us\": %.6g, \"iters_per_repeat\": %ld, \"runs\": ",
           STR(MODEL), VARIANT, quantile(sorted, repeat, 0.5), quantile(p10, repeat, 0.5), quantile(p90, repeat, 0.5),
           iters);
    print_runs(runs, repeat);
    printf("}\n");
    return 0;
}

static int throughput(const real *x, long n_images, int repeat) {
    long batches = n_images / MAX_BATCH;
    if (batches < 1) {
        fprintf(stderr, "embed_bench: fewer images than one batch\n");
        return 1;
    }
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
           "\"batches\": %ld, \"infer_examples_per_second\": %.6g, \"runs\": ",
           STR(MODEL), VARIANT, MAX_BATCH, batches, quantile(sorted, repeat, 0.5));
    print_runs(runs, repeat);
    printf("}\n");
    free(out);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "latency") != 0 && strcmp(argv[1], "throughput") != 0)) {
        fprintf(stderr, "usage: %s latency REPEAT BUDGET_S | throughput REPEAT\n", argv[0]);
        return 2;
    }
    int repeat = atoi(argv[2]);
    if (repeat < 1 || repeat > 64) {
        fprintf(stderr, "%s: REPEAT is 1 to 64\n", argv[0]);
        return 2;
    }
    long n;
    real *x = test_images(&n);
    if (strcmp(argv[1], "latency") == 0)
        return latency(x, repeat, argc > 3 ? atof(argv[3]) : 1.0);
    return throughput(x, n, repeat);
}
