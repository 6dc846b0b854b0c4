/* mem_bw.c: the memory bandwidth a kernel of the generated code can draw, per thread count and working-set size,
 * for bench/run.sh's note on the networks whose step moves more bytes than it computes (LeNet's training step
 * keeps 19.5 MB of buffers for about 0.6 GFLOP).
 *
 * The loop is the shape of an elementwise kernel: y[i] = x[i] * s + y[i] over two float arrays, split between the
 * threads as the generated code splits its loops (`omp parallel for schedule(static)`). Bytes counted: 12 per
 * element (two reads, one write; write-allocate traffic is not counted). Each size runs for about SECONDS and the
 * best of its repeats is kept, so that time a thread spent descheduled on a busy machine counts less.
 *
 *   mem_bw THREADS [SECONDS]   prints one JSON object: GB/s at working sets from 256 KB (L2) to 512 MB (DRAM)
 *
 * Build: cc -std=gnu11 -O2 -fopenmp bench/mem_bw.c -o mem_bw */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Bytes per second of y = x * s + y over n floats, the best of repeated passes within about seconds. */
static double rate(float *restrict x, float *restrict y, int64_t n, double seconds) {
    double best = 0, start = now();
    int64_t passes = 1;
    do {
        double t0 = now();
        for (int64_t p = 0; p < passes; p++) {
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < n; i++)
                y[i] = x[i] * 0.999f + y[i];
        }
        double dt = now() - t0, r = 12.0 * (double)n * (double)passes / dt;
        if (r > best)
            best = r;
        if (dt < 0.01)
            passes *= 2; /* short passes time badly: batch them */
    } while (now() - start < seconds);
    return best;
}

int main(int argc, char **argv) {
    if (argc < 2 || atoi(argv[1]) < 1) {
        fprintf(stderr, "usage: mem_bw THREADS [SECONDS]\n");
        return 2;
    }
    int threads = atoi(argv[1]);
    double seconds = argc > 2 ? atof(argv[2]) : 0.5;
    static const int64_t kb[] = {256, 1024, 4096, 16384, 65536, 524288}; /* the two arrays together */
    int64_t most = kb[sizeof kb / sizeof kb[0] - 1] * 1024 / 8;
    float *x = aligned_alloc(64, (size_t)most * sizeof(float)), *y = aligned_alloc(64, (size_t)most * sizeof(float));
    if (!x || !y) {
        fprintf(stderr, "mem_bw: out of memory\n");
        return 1;
    }
    omp_set_num_threads(threads);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < most; i++) { /* first touch by the thread that will use the page */
        x[i] = 1.0f;
        y[i] = 0.5f;
    }
    printf("{\"threads\": %d, \"gbytes_per_second\": {", threads);
    for (size_t k = 0; k < sizeof kb / sizeof kb[0]; k++) {
        int64_t n = kb[k] * 1024 / 8;
        printf("%s\"%lld\": %.2f", k ? ", " : "", (long long)kb[k], rate(x, y, n, seconds) / 1e9);
        fflush(stdout);
    }
    printf("}, \"unit\": \"KB of working set (both arrays)\", \"checksum\": %g}\n", (double)y[most / 3]);
    free(x);
    free(y);
    return 0;
}
