/* gemm_replay.c: OpenBLAS's speed at the calls a network makes, each timed on its own, for the comparison in
 * bench/run.sh: what fraction of the BLAS rate at its own shapes does a generated trainer reach?
 *
 *   gemm_replay shapes FILE THREADS BUDGET_S EXAMPLES
 *       FILE is what bench/gemm_shapes.c recorded while a trainer ran EXAMPLES training examples. Each distinct
 *       call (function, transposes, sizes, leading dimensions, beta) is run alone on buffers of its sizes: warm-up
 *       calls, then at least 5 timed calls and as many as fit in BUDGET_S seconds; the median is its isolated
 *       time. The rate at the network's shape mix weighs every shape by how often the trainer called it:
 *           sum(count * flops) / sum(count * isolated time),  flops = 2mnk (sgemm), 2mn (sgemv)
 *       Also reported: the same FLOPs over the time the calls took inside the trainer (in situ), the FLOPs per
 *       training example, and every shape's numbers.
 *   gemm_replay peak N THREADS BUDGET_S
 *       The plain square product: N x N times N x N, median over BUDGET_S seconds of calls.
 *   gemm_replay compare FILE BUDGET_S
 *       On one thread, each recorded sgemm (row-major, alpha 1) timed with OpenBLAS and with dlc's own kernel
 *       (runtime/gemm.c's dlrt_sgemm), alternating call by call, the median CPU time of each: both rates per
 *       shape, the path the trainers' rule (dlrt_gemm_uses_blas) gives it, and the rates at the shape mix of
 *       OpenBLAS alone, dlc alone and the rule. OPENBLAS_CORETYPE and DLRT_ISA are the environment's.
 *
 * Prints one JSON line. OpenBLAS runs THREADS threads (openblas_set_num_threads), and OPENBLAS_CORETYPE is
 * whatever the environment says: run it as the trainer was run. The isolated calls reuse their buffers, so
 * operands that fit the caches stay warm, as consecutive calls on the same weights are in a trainer. cpu_per_wall,
 * the process's CPU seconds per wall second while timing, is close to THREADS when OpenBLAS's threads had the
 * cores to themselves; less means that other processes took some (and the rates are low), or that OpenBLAS ran
 * small products on fewer threads.
 *
 * Build: cc -std=c11 -O2 -fopenmp -Iruntime bench/gemm_replay.c runtime/gemm.c -o gemm_replay -lopenblas */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlrt.h"

enum { MIN_REPS = 5, MAX_REPS = 100000, MAX_SHAPES = 4096 };

typedef struct {
    int gemv; /* sgemv rather than sgemm */
    int order, ta, tb, m, n, k, lda, ldb, ldc, incx, incy;
    float alpha, beta;
    long count;
    double in_situ_s;  /* seconds the trainer spent in these calls */
    double isolated_s; /* median seconds of one call, alone */
} Call;

typedef struct {
    float *a, *b, *c;
} Buffers;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int by_value(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double flops(const Call *c) { return c->gemv ? 2.0 * c->m * c->n : 2.0 * c->m * c->n * c->k; }

/* A buffer of n floats in [-0.5, 0.5): the values do not matter for speed, but must be normal numbers. */
static float *filled(long n) {
    size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (!p) {
        fprintf(stderr, "gemm_replay: out of memory for %ld floats\n", n);
        exit(1);
    }
    unsigned s = 12345;
    for (long i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        p[i] = (float)(s >> 8) / (float)(1u << 24) - 0.5f;
    }
    return p;
}

/* Storage for one call's operands: a rows x cols matrix with leading dimension ld holds `rows` runs of ld
 * (row-major) or `cols` runs (column-major). */
static long matrix_len(int order, long rows, long cols, long ld) { return (order == CblasRowMajor ? rows : cols) * ld; }

static long vector_len(long n, int inc) { return n > 0 ? 1 + (n - 1) * (inc < 0 ? -inc : inc) : 0; }

static Buffers buffers(const Call *c) {
    int ta = c->ta != CblasNoTrans, tb = c->tb != CblasNoTrans;
    if (c->gemv)
        return (Buffers){filled(matrix_len(c->order, c->m, c->n, c->lda)),
                         filled(vector_len(ta ? c->m : c->n, c->incx)), filled(vector_len(ta ? c->n : c->m, c->incy))};
    return (Buffers){filled(matrix_len(c->order, ta ? c->k : c->m, ta ? c->m : c->k, c->lda)),
                     filled(matrix_len(c->order, tb ? c->n : c->k, tb ? c->k : c->n, c->ldb)),
                     filled(matrix_len(c->order, c->m, c->n, c->ldc))};
}

static void run(const Call *c, const Buffers *b) {
    if (c->gemv)
        cblas_sgemv((enum CBLAS_ORDER)c->order, (enum CBLAS_TRANSPOSE)c->ta, c->m, c->n, c->alpha, b->a, c->lda, b->b,
                    c->incx, c->beta, b->c, c->incy);
    else
        cblas_sgemm((enum CBLAS_ORDER)c->order, (enum CBLAS_TRANSPOSE)c->ta, (enum CBLAS_TRANSPOSE)c->tb, c->m, c->n,
                    c->k, c->alpha, b->a, c->lda, b->b, c->ldb, c->beta, b->c, c->ldc);
}

/* The median wall time of one call, after warm-up calls (at least 2, or 10% of the budget). */
static double time_call(const Call *c, double budget_s) {
    static double t[MAX_REPS];
    Buffers b = buffers(c);
    double end = now_s() + budget_s / 10;
    for (int i = 0; i < 2 || now_s() < end; i++)
        run(c, &b);
    end = now_s() + budget_s;
    long n = 0;
    while (n < MAX_REPS && (n < MIN_REPS || now_s() < end)) {
        double t0 = now_s();
        run(c, &b);
        t[n++] = now_s() - t0;
    }
    free(b.a), free(b.b), free(b.c);
    qsort(t, (size_t)n, sizeof *t, by_value);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static const char *coretype_env(void) {
    const char *env = getenv("OPENBLAS_CORETYPE");
    return env ? env : "<unset>";
}

/* The value after `key` in the recorder's header line (e.g. "core="), up to the next space, into out. */
static void header_field(const char *line, const char *key, char *out, size_t cap) {
    const char *p = strstr(line, key);
    snprintf(out, cap, "%s", "?");
    if (p) {
        p += strlen(key);
        size_t len = strcspn(p, " \n");
        snprintf(out, cap, "%.*s", (int)(len < cap ? len : cap - 1), p);
    }
}

static const char *trans_name(int t) { return t == CblasNoTrans ? "N" : t == CblasTrans ? "T" : "C"; }

static int replay(const char *path, double budget_s, long examples) {
    static Call calls[MAX_SHAPES];
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "gemm_replay: cannot read %s\n", path);
        return 1;
    }
    char line[512], core[64] = "?", threads[16] = "0", blas_s[32] = "0", wall_s[32] = "0";
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "# gemm_shapes ", 14) == 0) {
            header_field(line, "core=", core, sizeof core);
            header_field(line, "threads=", threads, sizeof threads);
            header_field(line, "blas_seconds=", blas_s, sizeof blas_s);
            header_field(line, "wall_seconds=", wall_s, sizeof wall_s);
        }
        if (line[0] == '#')
            continue;
        char fn[8];
        Call c = {0};
        if (sscanf(line, "%7s %d %d %d %d %d %d %d %d %d %d %d %f %f %ld %lf", fn, &c.order, &c.ta, &c.tb, &c.m, &c.n,
                   &c.k, &c.lda, &c.ldb, &c.ldc, &c.incx, &c.incy, &c.alpha, &c.beta, &c.count, &c.in_situ_s) != 16 ||
            (strcmp(fn, "sgemm") != 0 && strcmp(fn, "sgemv") != 0)) {
            fprintf(stderr, "gemm_replay: %s: cannot read the line '%.60s'\n", path, line);
            fclose(f);
            return 1;
        }
        if (n == MAX_SHAPES) {
            fprintf(stderr, "gemm_replay: %s has more than %d shapes\n", path, MAX_SHAPES);
            fclose(f);
            return 1;
        }
        c.gemv = strcmp(fn, "sgemv") == 0;
        calls[n++] = c;
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "gemm_replay: %s records no BLAS calls (was the shim preloaded?)\n", path);
        return 1;
    }
    const char *now_core = openblas_get_corename();
    if (strcmp(core, now_core) != 0)
        fprintf(stderr, "gemm_replay: warning: the calls were recorded on OpenBLAS core %s, replayed on %s\n", core,
                now_core);

    double total_flops = 0, isolated = 0, in_situ = 0, wall0 = now_s(), cpu0 = cpu_s();
    long total_calls = 0;
    for (int i = 0; i < n; i++) {
        Call *c = &calls[i];
        c->isolated_s = time_call(c, budget_s);
        total_flops += (double)c->count * flops(c);
        isolated += (double)c->count * c->isolated_s;
        in_situ += c->in_situ_s;
        total_calls += c->count;
    }
    double cpu_per_wall = (cpu_s() - cpu0) / (now_s() - wall0);
    printf("{\"threads\": %d, \"openblas_core\": \"%s\", \"openblas_coretype_env\": \"%s\", \"recorded_core\": \"%s\", "
           "\"recorded_threads\": %d, \"examples\": %ld, \"shapes\": %d, \"calls\": %ld, \"gemm_flops\": %.6g, "
           "\"gemm_flops_per_example\": %.6g, \"isolated_seconds\": %.6g, \"in_situ_seconds\": %.6g, "
           "\"sgemm_gflops_at_shapes\": %.6g, \"in_situ_gflops\": %.6g, \"recorded_blas_seconds\": %.6g, "
           "\"recorded_wall_seconds\": %.6g, \"budget_s\": %g, \"cpu_per_wall\": %.3g, \"per_shape\": [",
           openblas_get_num_threads(), now_core, coretype_env(), core, atoi(threads), examples, n, total_calls,
           total_flops, examples > 0 ? total_flops / (double)examples : 0, isolated, in_situ,
           total_flops / isolated / 1e9, total_flops / in_situ / 1e9, atof(blas_s), atof(wall_s), budget_s,
           cpu_per_wall);
    for (int i = 0; i < n; i++) {
        const Call *c = &calls[i];
        printf("%s{\"fn\": \"%s\", \"ta\": \"%s\", \"tb\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"lda\": %d, "
               "\"ldb\": %d, \"ldc\": %d, \"incx\": %d, \"incy\": %d, \"beta\": %g, \"count\": %ld, "
               "\"in_situ_s\": %.6g, \"isolated_s\": %.6g}",
               i ? ", " : "", c->gemv ? "sgemv" : "sgemm", trans_name(c->ta), c->gemv ? "-" : trans_name(c->tb), c->m,
               c->n, c->k, c->lda, c->ldb, c->ldc, c->incx, c->incy, (double)c->beta, c->count, c->in_situ_s,
               c->isolated_s);
    }
    printf("]}\n");
    return 0;
}

static int peak(int size, double budget_s) {
    Call c = {.order = CblasRowMajor,
              .ta = CblasNoTrans,
              .tb = CblasNoTrans,
              .m = size,
              .n = size,
              .k = size,
              .lda = size,
              .ldb = size,
              .ldc = size,
              .alpha = 1,
              .beta = 0};
    double wall0 = now_s(), cpu0 = cpu_s();
    double t = time_call(&c, budget_s);
    double cpu_per_wall = (cpu_s() - cpu0) / (now_s() - wall0);
    printf("{\"threads\": %d, \"openblas_core\": \"%s\", \"openblas_coretype_env\": \"%s\", \"size\": %d, "
           "\"seconds\": %.6g, \"sgemm_gflops\": %.6g, \"cpu_per_wall\": %.3g}\n",
           openblas_get_num_threads(), openblas_get_corename(), coretype_env(), size, t, flops(&c) / t / 1e9,
           cpu_per_wall);
    return 0;
}

/* The median CPU seconds of one call of c by OpenBLAS (*blas_s) and by dlrt_sgemm (*dlc_s), calls alternating. */
static void time_both(const Call *c, double budget_s, double *blas_s, double *dlc_s) {
    static double tb[MAX_REPS], td[MAX_REPS];
    Buffers b = buffers(c);
    int ta = c->ta != CblasNoTrans, tt = c->tb != CblasNoTrans, acc = c->beta != 0;
    for (int i = 0; i < 2; i++) {
        run(c, &b);
        dlrt_sgemm(ta, tt, c->m, c->n, c->k, b.a, c->lda, b.b, c->ldb, b.c, c->ldc, acc);
    }
    double end = cpu_s() + budget_s;
    long n = 0;
    while (n < MAX_REPS && (n < MIN_REPS || cpu_s() < end)) {
        double t0 = cpu_s();
        run(c, &b);
        double t1 = cpu_s();
        dlrt_sgemm(ta, tt, c->m, c->n, c->k, b.a, c->lda, b.b, c->ldb, b.c, c->ldc, acc);
        td[n] = cpu_s() - t1;
        tb[n++] = t1 - t0;
    }
    free(b.a), free(b.b), free(b.c);
    qsort(tb, (size_t)n, sizeof *tb, by_value);
    qsort(td, (size_t)n, sizeof *td, by_value);
    *blas_s = n % 2 ? tb[n / 2] : (tb[n / 2 - 1] + tb[n / 2]) / 2;
    *dlc_s = n % 2 ? td[n / 2] : (td[n / 2 - 1] + td[n / 2]) / 2;
}

static int compare(const char *path, double budget_s) {
    static Call calls[MAX_SHAPES];
    static double dlc_s[MAX_SHAPES];
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "gemm_replay: cannot read %s\n", path);
        return 1;
    }
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < MAX_SHAPES) {
        char fn[8];
        Call c = {0};
        if (line[0] == '#' ||
            sscanf(line, "%7s %d %d %d %d %d %d %d %d %d %d %d %f %f %ld %lf", fn, &c.order, &c.ta, &c.tb, &c.m, &c.n,
                   &c.k, &c.lda, &c.ldb, &c.ldc, &c.incx, &c.incy, &c.alpha, &c.beta, &c.count, &c.in_situ_s) != 16)
            continue;
        /* dlrt_sgemm has the generated code's convention: row-major, alpha 1, beta 0 or 1 */
        if (strcmp(fn, "sgemm") == 0 && c.order == CblasRowMajor && c.alpha == 1 && (c.beta == 0 || c.beta == 1))
            calls[n++] = c;
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "gemm_replay: %s records no row-major sgemm calls\n", path);
        return 1;
    }
    openblas_set_num_threads(1);
    double total = 0, blas_t = 0, dlc_t = 0, rule_t = 0;
    for (int i = 0; i < n; i++) {
        Call *c = &calls[i];
        time_both(c, budget_s, &c->isolated_s, &dlc_s[i]);
        total += (double)c->count * flops(c);
        blas_t += (double)c->count * c->isolated_s;
        dlc_t += (double)c->count * dlc_s[i];
        rule_t += (double)c->count * (dlrt_gemm_uses_blas(c->m, c->n, c->k) ? c->isolated_s : dlc_s[i]);
    }
    printf("{\"openblas_core\": \"%s\", \"openblas_coretype_env\": \"%s\", \"dlc_isa\": \"%s\", \"shapes\": %d, "
           "\"blas_gflops_at_shapes\": %.6g, \"dlc_gflops_at_shapes\": %.6g, \"rule_gflops_at_shapes\": %.6g, "
           "\"per_shape\": [",
           openblas_get_corename(), coretype_env(), dlrt_gemm_isa_name(dlrt_gemm_isa()), n, total / blas_t / 1e9,
           total / dlc_t / 1e9, total / rule_t / 1e9);
    for (int i = 0; i < n; i++) {
        const Call *c = &calls[i];
        printf("%s{\"ta\": \"%s\", \"tb\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"beta\": %g, \"count\": %ld, "
               "\"blas_gflops\": %.4g, \"dlc_gflops\": %.4g, \"rule\": \"%s\"}",
               i ? ", " : "", trans_name(c->ta), trans_name(c->tb), c->m, c->n, c->k, (double)c->beta, c->count,
               flops(c) / c->isolated_s / 1e9, flops(c) / dlc_s[i] / 1e9,
               dlrt_gemm_uses_blas(c->m, c->n, c->k) ? "blas" : "dlc");
    }
    printf("]}\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "compare") == 0 && atof(argv[3]) > 0)
        return compare(argv[2], atof(argv[3]));
    int is_shapes = argc == 6 && strcmp(argv[1], "shapes") == 0, is_peak = argc == 5 && strcmp(argv[1], "peak") == 0;
    if (!is_shapes && !is_peak) {
        fprintf(stderr,
                "usage: %s shapes FILE THREADS BUDGET_S EXAMPLES | peak N THREADS BUDGET_S | compare FILE BUDGET_S\n",
                argv[0]);
        return 2;
    }
    int threads = atoi(argv[3]);
    double budget_s = atof(argv[4]);
    if (threads < 1 || budget_s <= 0) {
        fprintf(stderr, "%s: THREADS must be at least 1 and BUDGET_S positive\n", argv[0]);
        return 2;
    }
    openblas_set_num_threads(threads);
    if (is_shapes)
        return replay(argv[2], budget_s, atol(argv[5]));
    int size = atoi(argv[2]);
    if (size < 1) {
        fprintf(stderr, "%s: N must be at least 1\n", argv[0]);
        return 2;
    }
    return peak(size, budget_s);
}
