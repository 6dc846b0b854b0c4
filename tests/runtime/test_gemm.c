/* test_gemm.c - dlc's own f32 matrix product (runtime/gemm.c): dlrt_sgemm on every kernel path this CPU has
 * (DLRT_ISA forces each; a path the CPU lacks is skipped with the feature named) against a double-precision
 * product, over shapes that leave partial tiles in m, n and k and cross the cache blocks (KC, MC, NC), with every
 * transpose, accumulate, and leading dimensions wider than the matrices; the same bits on 1 and 2 threads; and
 * the routing of dlrt_gemm_f32 (DLRT_GEMM=dlc|blas). */
#include <CUnit/Basic.h>
#include <cblas.h>
#include <math.h>
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
 * NC = 1024; the last three large enough (4 MFLOP) to be split between threads, the very last one column sliver
 * of ten (a 10-class output layer) whose rows the threads share */
static const int shapes[][3] = {{1, 1, 1},    {1, 37, 5},     {2, 3, 4},      {5, 17, 3},     {11, 31, 13},
                                {12, 32, 16}, {13, 33, 17},   {25, 65, 100},  {37, 15, 257},  {193, 47, 31},
                                {7, 3073, 9}, {100, 97, 513}, {200, 70, 300}, {400, 10, 1100}};

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

static void test_paths(void) {
    int ran = 0;
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
        if (!dlrt_gemm_isa_supported(paths[p].isa)) {
            printf("\n    skipped the %s path: this CPU has no %s", paths[p].name, paths[p].needs);
            continue;
        }
        setenv("DLRT_ISA", paths[p].name, 1);
        CU_ASSERT_EQUAL(dlrt_gemm_select(), paths[p].isa);
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

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("gemm", NULL, NULL);
    CU_add_test(s, "every kernel path against a double product, on 1 and 2 threads", test_paths);
    CU_add_test(s, "the AVX2 and AVX-512 kernels give the same bits", test_paths_agree);
    CU_add_test(s, "DLRT_GEMM routes dlrt_gemm_f32", test_routing);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
