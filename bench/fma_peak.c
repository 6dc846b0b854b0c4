/* fma_peak.c: the machine's FP32 FMA peak, measured, for bench/run.sh's "share of peak" column.
 *
 * Each thread runs a loop of independent vector FMAs: ACC accumulators, more than FMA units times FMA latency (2
 * units x 4 cycles on the AVX-512 cores seen here), so every unit starts one FMA per cycle. The instruction set is
 * chosen at run time (AVX-512, else AVX2+FMA; FMA_ISA=avx512|avx2 forces one); the widest one the CPU has is the
 * peak the generated kernels can reach. The clock is measured too, with a chain of dependent integer adds (one per
 * cycle), so the printed FLOP per cycle per core can be checked against what the core should do: 2 units x 16
 * lanes x 2 = 64 with two 512-bit FMA units, 32 with one (or with two 256-bit units).
 *
 *   fma_peak THREADS [SECONDS]   prints one JSON object
 *
 * Build: cc -std=gnu11 -O2 -fopenmp bench/fma_peak.c -o fma_peak (x86-64, GCC or Clang). */
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ACC = 16, ROUNDS = 1 << 14 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ROUNDS x ACC FMAs on 16 lanes; returns a sum so that nothing is optimised away. */
__attribute__((target("avx512f"))) static float loop_avx512(float seed) {
    __m512 a[ACC], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < ACC; i++)
        a[i] = _mm512_set1_ps(seed + (float)i);
    for (int r = 0; r < ROUNDS; r++)
#pragma GCC unroll 16
        for (int i = 0; i < ACC; i++)
            a[i] = _mm512_fmadd_ps(a[i], m, c);
    for (int i = 1; i < ACC; i++)
        a[0] = _mm512_add_ps(a[0], a[i]);
    return _mm512_reduce_add_ps(a[0]);
}

__attribute__((target("avx2,fma"))) static float loop_avx2(float seed) {
    __m256 a[ACC], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < ACC; i++)
        a[i] = _mm256_set1_ps(seed + (float)i);
    for (int r = 0; r < ROUNDS; r++)
#pragma GCC unroll 16
        for (int i = 0; i < ACC; i++)
            a[i] = _mm256_fmadd_ps(a[i], m, c);
    for (int i = 1; i < ACC; i++)
        a[0] = _mm256_add_ps(a[0], a[i]);
    float s[8];
    _mm256_storeu_ps(s, a[0]);
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

/* Cycles per second of one core: 8 dependent register adds per iteration, one cycle each (an add of an immediate
 * can take less on recent Intel cores); the best of many short windows, so that time the thread spent
 * descheduled on a busy machine does not count. */
static double clock_hz(double seconds) {
    double best = 0, t_end = now() + seconds;
    do {
        uint64_t x = 0, one = 1;
        double t0 = now();
        for (int i = 0; i < 200000; i++)
            __asm__ volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                             "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0"
                             : "+r"(x)
                             : "r"(one));
        double hz = (double)x / (now() - t0);
        if (hz > best)
            best = hz;
    } while (now() < t_end);
    return best;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    double seconds = argc > 2 ? atof(argv[2]) : 1.0;
    if (threads < 1 || seconds <= 0) {
        fprintf(stderr, "usage: fma_peak THREADS [SECONDS]\n");
        return 2;
    }
    __builtin_cpu_init();
    const char *want = getenv("FMA_ISA");
    int avx512 = __builtin_cpu_supports("avx512f"),
        avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (want && *want) {
        if (strcmp(want, "avx2") == 0)
            avx512 = 0;
        else if (strcmp(want, "avx512") != 0) {
            fprintf(stderr, "fma_peak: FMA_ISA must be avx512 or avx2, not %s\n", want);
            return 2;
        }
    }
    if (!avx512 && !avx2) {
        fprintf(stderr, "fma_peak: this CPU has neither AVX-512F nor AVX2+FMA\n");
        return 1;
    }
    int lanes = avx512 ? 16 : 8;
    double hz = clock_hz(0.3);
    /* Each thread times short passes on its own and keeps its best rate; the peak is the sum. On a shared machine
     * a pass that waited for a descheduled thread would understate the cores' speed, which is what is measured. */
    double best = 0, sink = 0;
    omp_set_num_threads(threads);
#pragma omp parallel reduction(+ : best, sink)
    {
        double mine = 0, t_end = now() + seconds;
        int loops = 1;
        do {
            double t0 = now();
            for (int l = 0; l < loops; l++)
                sink += avx512 ? loop_avx512((float)l) : loop_avx2((float)l);
            double t = now() - t0, rate = 2.0 * lanes * ACC * (double)ROUNDS * loops / t;
            if (rate > mine)
                mine = rate;
            if (t < 0.005)
                loops *= 2;
        } while (now() < t_end);
        best += mine;
    }
    double per_cycle = best / threads / hz;
    printf("{\"isa\": \"%s\", \"threads\": %d, \"fma_gflops\": %.2f, \"clock_ghz\": %.3f, "
           "\"flop_per_cycle_per_core\": %.1f, \"fma_units\": %.2f, \"expected_gflops\": %.2f, \"sink\": %g}\n",
           avx512 ? "avx512" : "avx2", threads, best / 1e9, hz / 1e9, per_cycle, per_cycle / (2.0 * lanes),
           /* cores x clock x FLOP per cycle, for two FMA units of this width */
           threads * hz * 4.0 * lanes / 1e9, sink > 0 ? 0.0 : 1.0);
    return 0;
}
