/* stats.h: the quantiles the benchmark programs report (embed_bench.c, latency_b1.c), as static functions. */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stdlib.h>

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile of v[0..n) (sorts v), interpolated between neighbours. */
static double quantile(double *v, long n, double q) {
    qsort(v, (size_t)n, sizeof *v, by_value);
    double pos = q * (double)(n - 1);
    long i = (long)pos;
    return i + 1 < n ? v[i] + (pos - (double)i) * (v[i + 1] - v[i]) : v[i];
}

#endif
