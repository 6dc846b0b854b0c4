/* test_bf16.c - the trainers' --precision bf16 (runtime/bf16.c): dlrt_gemm_bf16 on every path this CPU has (AMX,
 * AVX512-BF16; DLRT_BF16 forces each, and a path the CPU lacks is skipped with the feature named), against a
 * double-precision product of the same bf16-rounded operands, bit-identical on 1 and 2 threads; and the MLP's
 * gradients (generated/mlp.c, linked in) with bf16 products against its f32 gradients, within what bf16's 8-bit
 * significand allows. The f64 gradient checks (test_gradcheck) are untouched: bf16 is never their arithmetic. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "dlrt.h"
#include "mlp.h"

static const char *const paths[] = {"amx", "avx512"};

/* Forces path p; false (after saying why) when this CPU lacks it. */
static int use_path(const char *p) {
    setenv("DLRT_BF16", p, 1);
    DlrtError err;
    if (dlrt_bf16_enable(&err) != DLRT_OK) {
        printf("\n    skipped the %s path: %s ", p, err.msg);
        return 0;
    }
    return 1;
}

static float uniform(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / 16777216.0f - 0.5f;
}

/* Every transpose and edge case (m, n, k not multiples of 32; accumulate) against a double sum of the rounded
 * operands: only the f32 accumulation's rounding may differ, k * 2^-24 of the sum of |a||b| at most. */
static void test_gemm_paths(void) {
    static const int shapes[][3] = {{1, 1, 1}, {5, 7, 3}, {33, 65, 31}, {64, 10, 256}, {70, 45, 300}, {256, 256, 784}};
    int ran = 0;
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
        if (!use_path(paths[p]))
            continue;
        ran++;
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int t = 0; t < 8; t++) {
                int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ta = t & 1, tb = t >> 1 & 1, acc = t >> 2;
                int lda = ta ? m : k, ldb = tb ? k : n;
                float *a = malloc(sizeof(float) * (size_t)(m * k)), *b = malloc(sizeof(float) * (size_t)(k * n));
                float *c = malloc(sizeof(float) * (size_t)(m * n)), *c2 = malloc(sizeof(float) * (size_t)(m * n));
                CU_ASSERT_FATAL(a && b && c && c2);
                unsigned seed = (unsigned)(s * 8 + (size_t)t) + 1;
                for (int i = 0; i < m * k; i++)
                    a[i] = uniform(&seed);
                for (int i = 0; i < k * n; i++)
                    b[i] = uniform(&seed);
                for (int i = 0; i < m * n; i++)
                    c[i] = c2[i] = uniform(&seed);
                float *before = malloc(sizeof(float) * (size_t)(m * n));
                CU_ASSERT_FATAL(before != NULL);
                memcpy(before, c, sizeof(float) * (size_t)(m * n));
#ifdef _OPENMP
                omp_set_num_threads(1);
#endif
                dlrt_gemm_bf16(ta, tb, m, n, k, a, lda, b, ldb, c, n, acc);
#ifdef _OPENMP
                omp_set_num_threads(2);
#endif
                dlrt_gemm_bf16(ta, tb, m, n, k, a, lda, b, ldb, c2, n, acc);
                CU_ASSERT_EQUAL(memcmp(c, c2, sizeof(float) * (size_t)(m * n)), 0);
                double worst = 0;
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        double sum = 0, mag = 0;
                        for (int q = 0; q < k; q++) {
                            double x = dlrt_bf16_round(ta ? a[q * lda + i] : a[i * lda + q]);
                            double y = dlrt_bf16_round(tb ? b[j * ldb + q] : b[q * ldb + j]);
                            sum += x * y;
                            mag += fabs(x * y);
                        }
                        double want = sum + (acc ? before[i * n + j] : 0);
                        double err = fabs(c[i * n + j] - want) / ((k + 2) * 0x1p-24 * (mag + 1));
                        worst = err > worst ? err : worst;
                    }
                if (worst > 1)
                    printf("\n    %s: m %d n %d k %d ta %d tb %d acc %d: %.2f of the bound", paths[p], m, n, k, ta, tb,
                           acc, worst);
                CU_ASSERT(worst <= 1);
                free(a);
                free(b);
                free(c);
                free(c2);
                free(before);
            }
    }
    unsetenv("DLRT_BF16");
    if (!ran)
        printf("\n    this CPU has no bf16 path: only the refusal was checked ");
}

/* A DLRT_BF16 that names no path is a usage error naming it. */
static void test_bad_path(void) {
    setenv("DLRT_BF16", "sse", 1);
    DlrtError err;
    CU_ASSERT_EQUAL(dlrt_bf16_enable(&err), DLRT_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "sse"));
    CU_ASSERT_EQUAL(dlrt_bf16_path(), DLRT_BF16_NONE);
    unsetenv("DLRT_BF16");
}

/* The MLP's gradients on one batch of images: f32 products against bf16 ones from the same state. Each product's
 * operands are rounded to 8 significant bits (relative error 2^-9 each, 2^-8 for a product). The first layer's
 * gradients pass through two rounded products, the first of them a sum over the 10 classes of softmax minus
 * one-hot, which sums to zero: the cancellation magnifies the rounding (measured here: 2.1% for 1.weight, 2.8%
 * for 1.bias, 0.4% for 3.weight). The test allows 2^-4 (16 times a product's rounding), relative in the 2-norm
 * per parameter, and prints what it measured. */
static void test_mlp_gradients(void) {
    enum { N = 64 };
    void *state = aligned_alloc(MLP_ALIGN, MLP_STATE_BYTES);
    float *x = malloc(sizeof(float) * N * MLP_INPUT_X_SIZE), *g32 = malloc(MLP_GRAD_BYTES);
    CU_ASSERT_FATAL(state && x && g32);
    int32_t y[N];
    unsigned seed = 7;
    /* images that carry their class (a pattern per class plus noise): gradients of random labels on noise would
     * be sums that cancel to almost nothing, whose relative error says little */
    float pattern[10][MLP_INPUT_X_SIZE];
    for (int c = 0; c < 10; c++)
        for (int j = 0; j < MLP_INPUT_X_SIZE; j++)
            pattern[c][j] = uniform(&seed) + 0.5f;
    for (int i = 0; i < N; i++) {
        y[i] = i % 10;
        for (int j = 0; j < MLP_INPUT_X_SIZE; j++)
            x[i * MLP_INPUT_X_SIZE + j] = pattern[y[i]][j] + 0.1f * uniform(&seed);
    }
    int ran = 0;
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
        if (!use_path(paths[p]))
            continue;
        ran++;
        mlp_init(state, 3);
        mlp_set_gemm(NULL);
        float loss32 = mlp_forward_train(state, N, x, y, NULL);
        CU_ASSERT_EQUAL(mlp_backward(state, N, x, y), 0);
        memcpy(g32, (unsigned char *)state + MLP_GRAD_OFFSET, MLP_GRAD_BYTES);
        mlp_set_gemm(dlrt_gemm_bf16);
        float loss16 = mlp_forward_train(state, N, x, y, NULL);
        CU_ASSERT_EQUAL(mlp_backward(state, N, x, y), 0);
        CU_ASSERT(fabsf(loss16 - loss32) <= 0x1p-6f * fabsf(loss32));
        printf("\n    %s: loss %.6f (f32 %.6f)", paths[p], (double)loss16, (double)loss32);
        for (int i = 0; i < MLP_PARAM_COUNT; i++) {
            const mlp_param_info *pi = &mlp_params[i];
            int64_t count = 1;
            for (int d = 0; d < pi->rank; d++)
                count *= pi->dims[d];
            const float *g = mlp_grad(state, pi->name);
            const float *ref = g32 + (((const unsigned char *)g - (const unsigned char *)state) - MLP_GRAD_OFFSET) /
                                         (int64_t)sizeof(float);
            double diff = 0, norm = 0;
            for (int64_t j = 0; j < count; j++) {
                diff += ((double)g[j] - ref[j]) * ((double)g[j] - ref[j]);
                norm += (double)ref[j] * ref[j];
            }
            double rel = sqrt(diff / norm);
            printf(", %s %.2e", pi->name, rel);
            CU_ASSERT(norm > 0 && rel <= 0x1p-4);
        }
        printf(" ");
    }
    unsetenv("DLRT_BF16");
    if (!ran)
        printf("\n    skipped: this CPU has no bf16 path ");
    free(state);
    free(x);
    free(g32);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("bf16", NULL, NULL);
    CU_add_test(s, "the product on each path, on 1 and 2 threads", test_gemm_paths);
    CU_add_test(s, "an unknown DLRT_BF16 path", test_bad_path);
    CU_add_test(s, "the MLP's gradients, bf16 against f32", test_mlp_gradients);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
