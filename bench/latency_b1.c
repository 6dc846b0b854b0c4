/* latency_b1.c: batch-1 LeNet inference, this dlc's code against aedff97's (bench/baseline/), timed in one run.
 *
 * Linked with two generated LeNets: lenet.c (`dlc compile models/lenet.dlm --infer --batch 1`, this build's dlc)
 * and bench/baseline/lenet_aedff97.c (the same model as dlc emitted it at commit aedff97). Both load one
 * checkpoint with their _load, then run Fashion-MNIST test image 0 through _predict.
 *
 *   latency_b1 CKPT BUDGET_S [CALLS]
 *
 * The machine is shared and loaded, so the two are interleaved: each round times CALLS calls (default 25) of one
 * and then of the other, the order swapped every round, until BUDGET_S seconds have passed; a round's figure is
 * the thread's CPU time over its calls divided by CALLS (CLOCK_THREAD_CPUTIME_ID: time on the CPU only, which for
 * calls that make no system calls is user time; wall time is kept beside it). Prints one JSON line: per side the
 * median and the 10th and 90th percentiles over rounds, CPU and wall; the median of the per-round ratios
 * (current / baseline, paired, so that a slow stretch of the machine hits both); and the largest difference
 * between the two sides' logits. Single thread: build without -fopenmp, run with OPENBLAS_NUM_THREADS=1. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "stats.h"
#include "lenet.h"
#include "lenet_aedff97.h"

enum { MAX_ROUNDS = 1 << 20, WARMUP = 2000 };

static _Alignas(64) unsigned char now_ctx[LENET_WORKSPACE_BYTES];
static _Alignas(64) unsigned char base_ctx[LENET_AEDFF97_WORKSPACE_BYTES];
static volatile float sink; /* keeps the outputs live */

static double clock_us(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    unsigned char *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (!buf || fseek(f, 0, SEEK_SET) != 0 || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "latency_b1: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Test image 0 of Fashion-MNIST ($FASHION_MNIST, default /usr/share/datasets/fashion-mnist), scaled to [0, 1]. */
static void test_image(float x[784]) {
    const char *dir = getenv("FASHION_MNIST") ? getenv("FASHION_MNIST") : "/usr/share/datasets/fashion-mnist";
    char path[4096];
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    gzFile f = gzopen(path, "rb"); /* reads plain files too */
    if (!f) {
        snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", dir);
        f = gzopen(path, "rb");
    }
    unsigned char head[16], pixels[784];
    if (!f || gzread(f, head, 16) != 16 || head[11] != 28 || head[15] != 28 || gzread(f, pixels, 784) != 784) {
        fprintf(stderr, "latency_b1: cannot read a 28x28 image from %s (set FASHION_MNIST to the folder)\n", path);
        exit(1);
    }
    gzclose(f);
    for (int i = 0; i < 784; i++)
        x[i] = (float)pixels[i] / 255.0f;
}

/* CALLS calls of one side; its CPU and wall time per call, in microseconds. */
static void run(int side, const float *x, int calls, double *cpu, double *wall) {
    float out[10];
    double w0 = clock_us(CLOCK_MONOTONIC), c0 = clock_us(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < calls; i++) {
        if (side)
            lenet_predict(now_ctx, x, out);
        else
            lenet_aedff97_predict(base_ctx, x, out);
        sink = out[0];
    }
    *cpu = (clock_us(CLOCK_THREAD_CPUTIME_ID) - c0) / calls;
    *wall = (clock_us(CLOCK_MONOTONIC) - w0) / calls;
}

static void print_side(const char *name, double *cpu, double *wall, long n) {
    printf("\"%s\": {\"cpu_us\": %.4g, \"cpu_p10_us\": %.4g, \"cpu_p90_us\": %.4g, \"wall_us\": %.4g, "
           "\"wall_p10_us\": %.4g, \"wall_p90_us\": %.4g}, ",
           name, quantile(cpu, n, 0.5), quantile(cpu, n, 0.1), quantile(cpu, n, 0.9), quantile(wall, n, 0.5),
           quantile(wall, n, 0.1), quantile(wall, n, 0.9));
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s CKPT BUDGET_S [CALLS]\n", argv[0]);
        return 2;
    }
    double budget = atof(argv[2]);
    int calls = argc > 3 ? atoi(argv[3]) : 25;
    if (budget <= 0 || calls < 1) {
        fprintf(stderr, "%s: BUDGET_S must be above 0 and CALLS at least 1\n", argv[0]);
        return 2;
    }
    size_t len;
    unsigned char *ckpt = read_file(argv[1], &len);
    int rc_now = lenet_load(now_ctx, ckpt, len), rc_base = lenet_aedff97_load(base_ctx, ckpt, len);
    if (rc_now != 0 || rc_base != 0) {
        fprintf(stderr, "latency_b1: %s refused: lenet_load %d, lenet_aedff97_load %d\n", argv[1], rc_now, rc_base);
        return 1;
    }
    free(ckpt);
    float x[784], a[10], b[10];
    test_image(x);
    lenet_predict(now_ctx, x, a);
    lenet_aedff97_predict(base_ctx, x, b);
    double diff = 0;
    for (int i = 0; i < 10; i++)
        diff = fmax(diff, fabs((double)a[i] - (double)b[i]));

    static double cpu[2][MAX_ROUNDS], wall[2][MAX_ROUNDS], ratio[MAX_ROUNDS];
    for (int i = 0; i < WARMUP / calls + 1; i++)
        for (int side = 0; side < 2; side++)
            run(side, x, calls, &cpu[side][0], &wall[side][0]);
    long n = 0;
    double end = clock_us(CLOCK_MONOTONIC) + budget * 1e6;
    while (n < MAX_ROUNDS && (n < 10 || clock_us(CLOCK_MONOTONIC) < end)) {
        int first = (int)(n & 1); /* the order swaps every round */
        run(first, x, calls, &cpu[first][n], &wall[first][n]);
        run(!first, x, calls, &cpu[!first][n], &wall[!first][n]);
        ratio[n] = cpu[1][n] / cpu[0][n];
        n++;
    }
    printf("{\"model\": \"lenet\", \"batch\": 1, \"rounds\": %ld, \"calls_per_round\": %d, ", n, calls);
    print_side("aedff97", cpu[0], wall[0], n);
    print_side("now", cpu[1], wall[1], n);
    printf("\"ratio_cpu_median\": %.4g, \"ratio_cpu_p10\": %.4g, \"ratio_cpu_p90\": %.4g, \"max_abs_diff\": %.3g}\n",
           quantile(ratio, n, 0.5), quantile(ratio, n, 0.1), quantile(ratio, n, 0.9), diff);
    return 0;
}
