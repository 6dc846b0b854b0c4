/* test_gemm.c - dlc's own f32 matrix product (runtime/gemm.c): dlrt_sgemm on every kernel path this CPU has
 * (DLRT_ISA forces each; a path the CPU lacks is skipped with the feature named) against a double-precision
 * product, over shapes that leave partial tiles in m, n and k and cross the cache blocks (KC, MC, NC), with every
 * transpose, accumulate, and leading dimensions wider than the matrices; the same bits on 1 and 2 threads; and
 * the routing of dlrt_gemm_f32 (DLRT_GEMM=dlc|blas). dlrt_conv_f32's implicit products (forward, dx, dw) on every
 * path against double-precision convolutions written as plain loops, over geometries that cross the same blocks,
 * with strides, paddings and non-square kernels, and the same bits on 1 and 2 threads. */
#include <CUnit/Basic.h>
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "dlrt.h"

static const struct {
    DlrtGemmIsa isa;
    const char *name, *needs;
} paths[] = {
    {DLRT_GEMM_AVX512, "avx512", "avx512f"},
    {DLRT_GEMM_AVX2, "avx2", "avx2 and fma"},
    {DLRT_GEMM_PORTABLE, "portable", NULL},
};

static float uniform(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / 16777216.0f - 0.5f;
}

/* m, n, k: 1 and the tiles' edges (4, 6, 12 rows; 16, 32 columns) either side, and past KC = 384, MC = 192 and
 * NC = 1024; from {25, 65, 100} on large enough (2e5 multiply-adds) to be split between threads, the next to last
 * wide enough (2 x 512 columns) that each thread takes its own columns, each thread's crossing NC and KC, and the
 * last one column sliver of ten (a 10-class output layer) whose rows the threads share */
static const int shapes[][3] = {{1, 1, 1},    {1, 37, 5},     {2, 3, 4},      {5, 17, 3},      {11, 31, 13},
                                {12, 32, 16}, {13, 33, 17},   {25, 65, 100},  {37, 15, 257},   {193, 47, 31},
                                {7, 3073, 9}, {100, 97, 513}, {200, 70, 300}, {13, 2113, 400}, {400, 10, 1100}};

/* One product of the shape on the chosen path: against the double sum, the error of an f32 sum of k products in
 * any order (k + 2) * 2^-24 of the sum of magnitudes at most; and on 2 threads the same bits as on 1. */
static void check_shape(const char *path, int m, int n, int k, int ta, int tb, int acc, unsigned seed) {
    int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2; /* strides wider than the matrices */
    size_t na = (size_t)(ta ? k : m) * (size_t)lda, nb = (size_t)(tb ? n : k) * (size_t)ldb,
           nc = (size_t)m * (size_t)ldc;
    float *a = malloc(sizeof(float) * na), *b = malloc(sizeof(float) * nb), *c = malloc(sizeof(float) * nc);
    float *c2 = malloc(sizeof(float) * nc), *before = malloc(sizeof(float) * nc);
    CU_ASSERT_FATAL(a && b && c && c2 && before);
    for (size_t i = 0; i < na; i++)
        a[i] = uniform(&seed);
    for (size_t i = 0; i < nb; i++)
        b[i] = uniform(&seed);
    for (size_t i = 0; i < nc; i++)
        before[i] = c[i] = c2[i] = uniform(&seed);
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    dlrt_sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, acc);
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    dlrt_sgemm(ta, tb, m, n, k, a, lda, b, ldb, c2, ldc, acc);
    CU_ASSERT_EQUAL(memcmp(c, c2, sizeof(float) * nc), 0);
    double worst = 0;
    int untouched = 1;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double sum = 0, mag = 0;
            for (int q = 0; q < k; q++) {
                double x = ta ? a[(size_t)q * (size_t)lda + (size_t)i] : a[(size_t)i * (size_t)lda + (size_t)q];
                double y = tb ? b[(size_t)j * (size_t)ldb + (size_t)q] : b[(size_t)q * (size_t)ldb + (size_t)j];
                sum += x * y;
                mag += fabs(x * y);
            }
            double old = before[(size_t)i * (size_t)ldc + (size_t)j];
            double want = sum + (acc ? old : 0);
            double err =
                fabs(c[(size_t)i * (size_t)ldc + (size_t)j] - want) / ((k + 2) * 0x1p-24 * (mag + fabs(old)) + 1e-30);
            worst = err > worst ? err : worst;
        }
        /* the padding beyond n in each row of C is not C's */
        for (int j = n; j < ldc; j++)
            untouched &= c[(size_t)i * (size_t)ldc + (size_t)j] == before[(size_t)i * (size_t)ldc + (size_t)j];
    }
    if (worst > 1)
        printf("\n    %s: m %d n %d k %d ta %d tb %d acc %d: %.2f of the bound", path, m, n, k, ta, tb, acc, worst);
    CU_ASSERT(worst <= 1);
    CU_ASSERT(untouched);
    free(a);
    free(b);
    free(c);
    free(c2);
    free(before);
}

/* Forces path p (DLRT_ISA) and checks that the selection takes it; false, with a line naming the missing feature,
 * where this CPU lacks it. */
static bool use_path(size_t p) {
    if (!dlrt_gemm_isa_supported(paths[p].isa)) {
        printf("\n    skipped the %s path: this CPU has no %s", paths[p].name, paths[p].needs);
        return false;
    }
    setenv("DLRT_ISA", paths[p].name, 1);
    CU_ASSERT_EQUAL(dlrt_gemm_select(), paths[p].isa);
    return true;
}

static void test_paths(void) {
    int ran = 0;
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
        if (!use_path(p))
            continue;
        CU_ASSERT_EQUAL(dlrt_gemm_isa(), paths[p].isa);
        ran++;
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int t = 0; t < 8; t++)
                check_shape(paths[p].name, shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t >> 1 & 1, t >> 2,
                            (unsigned)(s * 8 + (size_t)t) + 1);
    }
    unsetenv("DLRT_ISA");
    dlrt_gemm_select();
    CU_ASSERT(ran >= 1); /* the portable path runs everywhere */
}

/* The AVX2 and AVX-512 kernels sum each element in the same order (one FMA per k from zero, then added to C), so
 * where the CPU has both they give the same bits; the portable one multiplies and adds apart. */
static void test_paths_agree(void) {
    if (!dlrt_gemm_isa_supported(DLRT_GEMM_AVX512)) {
        printf("\n    skipped: this CPU has no avx512f");
        return;
    }
    enum { M = 50, N = 70, K = 300 };
    static float a[M * K], b[K * N], c512[M * N], c2[M * N], cp[M * N];
    unsigned seed = 99;
    for (int i = 0; i < M * K; i++)
        a[i] = uniform(&seed);
    for (int i = 0; i < K * N; i++)
        b[i] = uniform(&seed);
    const char *names[] = {"avx512", "avx2", "portable"};
    float *out[] = {c512, c2, cp};
    for (int i = 0; i < 3; i++) {
        setenv("DLRT_ISA", names[i], 1);
        dlrt_gemm_select();
        dlrt_sgemm(0, 0, M, N, K, a, K, b, N, out[i], N, 0);
    }
    unsetenv("DLRT_ISA");
    dlrt_gemm_select();
    CU_ASSERT_EQUAL(memcmp(c512, c2, sizeof c512), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(c512, cp, sizeof c512), 0); /* the forced portable path did run */
}

/* DLRT_GEMM=blas: dlrt_gemm_f32 is OpenBLAS's sgemm, bit for bit; =dlc: dlrt_sgemm, bit for bit. */
static void test_routing(void) {
    enum { M = 33, N = 40, K = 70 };
    static float a[M * K], b[N * K], c[M * N], want[M * N];
    unsigned seed = 5;
    for (int i = 0; i < M * K; i++)
        a[i] = uniform(&seed);
    for (int i = 0; i < N * K; i++)
        b[i] = uniform(&seed);
    setenv("DLRT_GEMM", "blas", 1);
    dlrt_gemm_select();
    CU_ASSERT_EQUAL(dlrt_gemm_route(), DLRT_ROUTE_BLAS);
    CU_ASSERT(dlrt_gemm_uses_blas(M, N, K));
    dlrt_gemm_f32(0, 1, M, N, K, a, K, b, K, c, N, 0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, want, N);
    CU_ASSERT_EQUAL(memcmp(c, want, sizeof c), 0);
    setenv("DLRT_GEMM", "dlc", 1);
    dlrt_gemm_select();
    CU_ASSERT_EQUAL(dlrt_gemm_route(), DLRT_ROUTE_DLC);
    CU_ASSERT(!dlrt_gemm_uses_blas(M, N, K));
    CU_ASSERT(!dlrt_gemm_uses_blas(1, N, K));
    dlrt_gemm_f32(0, 1, M, N, K, a, K, b, K, c, N, 0);
    dlrt_sgemm(0, 1, M, N, K, a, K, b, K, want, N, 0);
    CU_ASSERT_EQUAL(memcmp(c, want, sizeof c), 0);
    unsetenv("DLRT_GEMM");
    dlrt_gemm_select();
    CU_ASSERT_EQUAL(dlrt_gemm_route(), DLRT_ROUTE_AUTO);
    CU_ASSERT(dlrt_gemm_uses_blas(1, N, K)); /* one row: sgemv, whatever the kernels */
    printf("\n    the rule here: %s (dlc's kernel: %s, OpenBLAS's core: %s) ",
           dlrt_gemm_uses_blas(M, N, K) ? "OpenBLAS" : "dlc", dlrt_gemm_isa_name(dlrt_gemm_isa()),
           openblas_get_corename());
    /* the rule asks the CPU only (dlc's kernels, never OpenBLAS's core nor the thread count): dlc's kernel on every
     * vector path, OpenBLAS where dlc has only portable C */
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        if (!dlrt_gemm_isa_supported(paths[p].isa))
            continue;
        setenv("DLRT_ISA", paths[p].name, 1);
        dlrt_gemm_select();
        CU_ASSERT_EQUAL(dlrt_gemm_uses_blas(M, N, K), paths[p].isa == DLRT_GEMM_PORTABLE);
        CU_ASSERT(dlrt_gemm_uses_blas(1, N, K));
    }
    unsetenv("DLRT_ISA");
    dlrt_gemm_select();
}

/* ---- dlrt_conv_f32 ---- */

/* A chunk of g images: x [g, C, H, W], w [K, C, R, S], y [g, K, P, Q]. */
typedef struct {
    int g, K, C, H, W, R, S, sh, sw, ph, pw;
} Geo;

static const Geo geos[] = {
    {2, 13, 50, 9, 9, 3, 3, 1, 1, 1, 1},  /* C*R*S = 450 crosses KC */
    {3, 5, 2, 20, 20, 3, 3, 1, 1, 1, 1},  /* g*P*Q = 1200 crosses NC; rows of 20 windows take the masked loads */
    {4, 16, 3, 20, 20, 3, 3, 1, 1, 1, 1}, /* forward and dx split by columns between threads (g*P*Q = 1600) */
    {1, 200, 3, 6, 7, 5, 3, 1, 1, 2, 0},  /* K crosses MC; a 5x3 kernel, uneven padding */
    {2, 7, 4, 11, 10, 3, 3, 2, 2, 1, 1},  /* stride 2 (dx declines) */
    {3, 9, 6, 7, 7, 1, 1, 2, 2, 0, 0},    /* ResNet's 1x1 projection */
    {2, 4, 1, 16, 16, 7, 7, 2, 2, 3, 3},  /* a stem: 7x7, stride 2, padding 3 */
    {5, 33, 17, 3, 3, 3, 3, 1, 1, 1, 1},  /* 3x3 images, windows mostly padding */
    {2, 3, 5, 4, 5, 3, 3, 1, 1, 2, 2},    /* padding wider than half the kernel */
};

/* The convolution of geometry e, op, in doubles: sum[i] and mag[i] (the sum of its terms' magnitudes) for each
 * element i of dlrt_conv_f32's output, every term visited once. */
static void conv_ref(const Geo *e, int op, const float *w, const float *x, const float *dy, double *sum, double *mag) {
    int P = (e->H + 2 * e->ph - e->R) / e->sh + 1, Q = (e->W + 2 * e->pw - e->S) / e->sw + 1;
    for (int i = 0; i < e->g; i++)
        for (int k = 0; k < e->K; k++)
            for (int c = 0; c < e->C; c++)
                for (int r = 0; r < e->R; r++)
                    for (int s = 0; s < e->S; s++)
                        for (int p = 0; p < P; p++)
                            for (int q = 0; q < Q; q++) {
                                int h = p * e->sh - e->ph + r, v = q * e->sw - e->pw + s;
                                if (h < 0 || h >= e->H || v < 0 || v >= e->W)
                                    continue;
                                size_t wi = (((size_t)k * (size_t)e->C + (size_t)c) * (size_t)e->R + (size_t)r) *
                                                (size_t)e->S +
                                            (size_t)s,
                                       xi = (((size_t)i * (size_t)e->C + (size_t)c) * (size_t)e->H + (size_t)h) *
                                                (size_t)e->W +
                                            (size_t)v,
                                       yi = (((size_t)i * (size_t)e->K + (size_t)k) * (size_t)P + (size_t)p) *
                                                (size_t)Q +
                                            (size_t)q;
                                /* the output element the term belongs to, in the layout dlrt_conv_f32 writes */
                                size_t at;
                                double t;
                                if (op == DLRT_CONV_FWD) {
                                    at = (size_t)k * (size_t)(e->g * P * Q) + (size_t)(i * P * Q + p * Q + q);
                                    t = (double)w[wi] * x[xi];
                                } else if (op == DLRT_CONV_DX) {
                                    at = (size_t)c * (size_t)(e->g * e->H * e->W) +
                                         (size_t)(i * e->H * e->W + h * e->W + v);
                                    t = (double)w[wi] * dy[yi];
                                } else {
                                    at = wi;
                                    t = (double)dy[yi] * x[xi];
                                }
                                sum[at] += t;
                                mag[at] += fabs(t);
                            }
}

/* One op of one geometry on the chosen path: 1 and 2 threads give the same bits, and every element is within the
 * f32 bound of the double convolution (plus what was there, for dw accumulating). dx with a stride declines. */
static void check_conv(const char *path, const Geo *e, int op, int acc, unsigned seed) {
    int P = (e->H + 2 * e->ph - e->R) / e->sh + 1, Q = (e->W + 2 * e->pw - e->S) / e->sw + 1;
    size_t nw = (size_t)(e->K * e->C * e->R * e->S), nx = (size_t)(e->g * e->C * e->H * e->W),
           ny = (size_t)(e->g * e->K * P * Q);
    size_t nout = op == DLRT_CONV_FWD ? ny : op == DLRT_CONV_DX ? nx : nw;
    float *w = malloc(sizeof(float) * nw), *x = malloc(sizeof(float) * nx), *dy = malloc(sizeof(float) * ny);
    float *out = malloc(sizeof(float) * nout), *out2 = malloc(sizeof(float) * nout),
          *before = malloc(sizeof(float) * nout);
    CU_ASSERT_FATAL(w && x && dy && out && out2 && before);
    for (size_t i = 0; i < nw; i++)
        w[i] = uniform(&seed);
    for (size_t i = 0; i < nx; i++)
        x[i] = uniform(&seed);
    for (size_t i = 0; i < ny; i++)
        dy[i] = uniform(&seed);
    for (size_t i = 0; i < nout; i++)
        before[i] = out[i] = out2[i] = uniform(&seed);
    const float *a = op == DLRT_CONV_DW ? dy : w, *image = op == DLRT_CONV_DX ? dy : x;
    int took[2];
    for (int t = 0; t < 2; t++) {
#ifdef _OPENMP
        omp_set_num_threads(t + 1);
#endif
        took[t] = dlrt_conv_f32(op, e->g, e->K, e->C, e->H, e->W, e->R, e->S, P, Q, e->sh, e->sw, e->ph, e->pw, a,
                                image, t ? out2 : out, acc);
    }
    CU_ASSERT_EQUAL(took[0], took[1]);
    if (op == DLRT_CONV_DX && (e->sh != 1 || e->sw != 1)) {
        CU_ASSERT_EQUAL(took[0], 0);
        CU_ASSERT_EQUAL(memcmp(out, before, sizeof(float) * nout), 0);
    } else {
        CU_ASSERT_EQUAL(took[0], 1);
        CU_ASSERT_EQUAL(memcmp(out, out2, sizeof(float) * nout), 0);
        double worst = 0;
        int terms = op == DLRT_CONV_FWD ? e->C * e->R * e->S : op == DLRT_CONV_DX ? e->K * e->R * e->S : e->g * P * Q;
        double *sum = calloc(nout, sizeof(double)), *mag = calloc(nout, sizeof(double));
        CU_ASSERT_FATAL(sum && mag);
        conv_ref(e, op, w, x, dy, sum, mag);
        for (size_t i = 0; i < nout; i++) {
            double old = acc ? before[i] : 0, want = sum[i] + old;
            double err = fabs(out[i] - want) / ((terms + 2) * 0x1p-24 * (mag[i] + fabs(old)) + 1e-30);
            worst = err > worst ? err : worst;
        }
        free(sum);
        free(mag);
        if (worst > 1)
            printf("\n    %s: conv op %d geometry %d: %.2f of the bound", path, op, (int)(e - geos), worst);
        CU_ASSERT(worst <= 1);
    }
    free(w);
    free(x);
    free(dy);
    free(out);
    free(out2);
    free(before);
}

static void test_conv_paths(void) {
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
        if (!use_path(p))
            continue;
        for (size_t e = 0; e < sizeof geos / sizeof *geos; e++)
            for (int op = DLRT_CONV_FWD; op <= DLRT_CONV_DW; op++)
                check_conv(paths[p].name, &geos[e], op, op == DLRT_CONV_DW && e % 2, (unsigned)(e * 3 + (size_t)op));
    }
    unsetenv("DLRT_ISA");
    dlrt_gemm_select();
}

/* DLRT_GEMM=blas: dlrt_conv_f32 declines every product (the generated code then runs im2col and sgemm). */
static void test_conv_declines(void) {
    float w[9] = {0}, x[16] = {0}, out[4] = {1, 2, 3, 4};
    setenv("DLRT_GEMM", "blas", 1);
    dlrt_gemm_select();
    CU_ASSERT_EQUAL(dlrt_conv_f32(DLRT_CONV_FWD, 1, 1, 1, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0, w, x, out, 0), 0);
    CU_ASSERT(out[0] == 1 && out[3] == 4);
    unsetenv("DLRT_GEMM");
    dlrt_gemm_select();
    CU_ASSERT_EQUAL(dlrt_conv_f32(DLRT_CONV_FWD, 1, 1, 1, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0, w, x, out, 0), 1);
    CU_ASSERT(out[0] == 0 && out[3] == 0);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("gemm", NULL, NULL);
    CU_add_test(s, "every kernel path against a double product, on 1 and 2 threads", test_paths);
    CU_add_test(s, "the AVX2 and AVX-512 kernels give the same bits", test_paths_agree);
    CU_add_test(s, "DLRT_GEMM routes dlrt_gemm_f32", test_routing);
    CU_add_test(s, "dlrt_conv_f32 on every kernel path against double convolutions, on 1 and 2 threads",
                test_conv_paths);
    CU_add_test(s, "DLRT_GEMM=blas: dlrt_conv_f32 declines", test_conv_declines);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
