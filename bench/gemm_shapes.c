/* gemm_shapes.c: an LD_PRELOAD shim that records every BLAS call a generated trainer makes, so that
 * bench/gemm_replay.c can time the same calls in isolation (bench/run.sh builds and runs both).
 *
 * The generated code reaches OpenBLAS through its one `gemm` helper, which calls cblas_sgemm, or cblas_sgemv
 * when the product has one row. Both are imported from the shared libopenblas, so they go through the PLT and a
 * preloaded definition takes their place. This file defines both, forwards each call to the real function
 * (dlsym RTLD_NEXT) and adds its wall time to the call's shape: the function, order, transposes, sizes, leading
 * dimensions, increments, alpha and beta. At exit it writes one line per distinct shape, with its count and
 * total seconds, to $GEMM_SHAPES_OUT (stderr when unset):
 *
 *   # gemm_shapes core=Haswell threads=1 coretype_env=Haswell calls=1234 blas_seconds=1.5 wall_seconds=2.0
 *   sgemm order ta tb m n k lda ldb ldc incx incy alpha beta count seconds
 *   sgemv order ta 0  m n 0 lda 0   0   incx incy alpha beta count seconds
 *
 * (order and the transposes are CBLAS's enum values; a field a function does not have is 0.) wall_seconds runs
 * from the shim's start to exit. A process that replaces itself with execv writes nothing; its successor,
 * which inherits LD_PRELOAD, does. The table is guarded by a mutex, so calls from several threads are safe.
 *
 * Build: cc -std=c11 -O2 -shared -fPIC bench/gemm_shapes.c -o gemm_shapes.so -ldl */
#define _GNU_SOURCE /* RTLD_NEXT, RTLD_DEFAULT */
#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { FN_SGEMM, FN_SGEMV, MAX_SHAPES = 4096 };

typedef struct {
    int fn, order, ta, tb, m, n, k, lda, ldb, ldc, incx, incy;
    float alpha, beta;
} Shape;

_Static_assert(sizeof(Shape) == 14 * 4, "Shape has no padding: shapes are compared with memcmp");

typedef struct {
    Shape shape;
    long count;
    double seconds;
} Entry;

typedef void SgemmFn(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint, blasint, float,
                     const float *, blasint, const float *, blasint, float, float *, blasint);
typedef void SgemvFn(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, blasint, blasint, float, const float *, blasint,
                     const float *, blasint, float, float *, blasint);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static Entry table[MAX_SHAPES];
static int n_shapes, overflow;
static double start_s;
static char core[64] = "?";
static int blas_threads = -1;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The real function behind a name we define, stored into *fn (POSIX's way to assign dlsym's result to a
 * function pointer), or an abort: without it the trainer cannot go on. */
static void next_symbol(const char *name, void *fn) {
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "gemm_shapes: no %s after the shim (is the program linked with OpenBLAS?)\n", name);
        abort();
    }
    memcpy(fn, &f, sizeof f);
}

/* Which OpenBLAS core and thread count the program runs with, read at its first BLAS call (the trainer has
 * set its thread count by then). Looked up by name so that the shim needs no link to OpenBLAS. */
static void note_blas(void) {
    char *(*corename)(void) = NULL;
    int (*threads)(void) = NULL;
    void *f = dlsym(RTLD_DEFAULT, "openblas_get_corename"), *g = dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    if (f)
        memcpy(&corename, &f, sizeof f);
    if (g)
        memcpy(&threads, &g, sizeof g);
    if (corename && corename())
        snprintf(core, sizeof core, "%s", corename());
    if (threads)
        blas_threads = threads();
}

static void record(const Shape *s, double seconds) {
    pthread_mutex_lock(&lock);
    if (blas_threads < 0)
        note_blas();
    int i = 0;
    while (i < n_shapes && memcmp(&table[i].shape, s, sizeof *s) != 0)
        i++;
    if (i == n_shapes) {
        if (n_shapes == MAX_SHAPES) {
            overflow++;
            pthread_mutex_unlock(&lock);
            return;
        }
        table[n_shapes++].shape = *s;
    }
    table[i].count++;
    table[i].seconds += seconds;
    pthread_mutex_unlock(&lock);
}

void cblas_sgemm(OPENBLAS_CONST enum CBLAS_ORDER order, OPENBLAS_CONST enum CBLAS_TRANSPOSE ta,
                 OPENBLAS_CONST enum CBLAS_TRANSPOSE tb, OPENBLAS_CONST blasint m, OPENBLAS_CONST blasint n,
                 OPENBLAS_CONST blasint k, OPENBLAS_CONST float alpha, OPENBLAS_CONST float *a,
                 OPENBLAS_CONST blasint lda, OPENBLAS_CONST float *b, OPENBLAS_CONST blasint ldb,
                 OPENBLAS_CONST float beta, float *c, OPENBLAS_CONST blasint ldc) {
    static SgemmFn *real;
    if (!real)
        next_symbol("cblas_sgemm", &real);
    double t0 = now_s();
    real(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    double t = now_s() - t0;
    Shape s = {.fn = FN_SGEMM,
               .order = (int)order,
               .ta = (int)ta,
               .tb = (int)tb,
               .m = m,
               .n = n,
               .k = k,
               .lda = lda,
               .ldb = ldb,
               .ldc = ldc,
               .alpha = alpha,
               .beta = beta};
    record(&s, t);
}

void cblas_sgemv(OPENBLAS_CONST enum CBLAS_ORDER order, OPENBLAS_CONST enum CBLAS_TRANSPOSE trans,
                 OPENBLAS_CONST blasint m, OPENBLAS_CONST blasint n, OPENBLAS_CONST float alpha,
                 OPENBLAS_CONST float *a, OPENBLAS_CONST blasint lda, OPENBLAS_CONST float *x,
                 OPENBLAS_CONST blasint incx, OPENBLAS_CONST float beta, float *y, OPENBLAS_CONST blasint incy) {
    static SgemvFn *real;
    if (!real)
        next_symbol("cblas_sgemv", &real);
    double t0 = now_s();
    real(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
    double t = now_s() - t0;
    Shape s = {.fn = FN_SGEMV,
               .order = (int)order,
               .ta = (int)trans,
               .m = m,
               .n = n,
               .lda = lda,
               .incx = incx,
               .incy = incy,
               .alpha = alpha,
               .beta = beta};
    record(&s, t);
}

__attribute__((constructor)) static void shim_start(void) { start_s = now_s(); }

__attribute__((destructor)) static void shim_write(void) {
    const char *path = getenv("GEMM_SHAPES_OUT");
    FILE *f = path && *path ? fopen(path, "w") : stderr;
    if (!f) {
        fprintf(stderr, "gemm_shapes: cannot write %s\n", path);
        return;
    }
    long calls = 0;
    double blas = 0;
    for (int i = 0; i < n_shapes; i++)
        calls += table[i].count, blas += table[i].seconds;
    const char *env = getenv("OPENBLAS_CORETYPE");
    fprintf(f, "# gemm_shapes core=%s threads=%d coretype_env=%s calls=%ld blas_seconds=%.9g wall_seconds=%.9g\n", core,
            blas_threads, env ? env : "<unset>", calls, blas, now_s() - start_s);
    if (overflow)
        fprintf(f, "# more than %d shapes: %d calls not recorded\n", MAX_SHAPES, overflow);
    fprintf(f, "# fn order ta tb m n k lda ldb ldc incx incy alpha beta count seconds\n");
    for (int i = 0; i < n_shapes; i++) {
        const Shape *s = &table[i].shape;
        fprintf(f, "%s %d %d %d %d %d %d %d %d %d %d %d %.9g %.9g %ld %.9g\n", s->fn == FN_SGEMM ? "sgemm" : "sgemv",
                s->order, s->ta, s->tb, s->m, s->n, s->k, s->lda, s->ldb, s->ldc, s->incx, s->incy, (double)s->alpha,
                (double)s->beta, table[i].count, table[i].seconds);
    }
    if (f != stderr)
        fclose(f);
}
