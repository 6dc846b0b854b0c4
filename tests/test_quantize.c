/* test_quantize.c: `dlc compile --infer --weights CKPT --quantize int8 --calibration DATA` (issue 18).
 *
 * In a private temporary directory: mlp-train (2 epochs) and lenet-train (3 epochs) write checkpoints of all of
 * Fashion-MNIST; each model is compiled --portable with its weights, in f32 and in int8 (calibrated on the first
 * 1000 training images), and linked with tests/quant_harness.c, which classifies the 10,000 test images at batch
 * 1. The int8 build's test accuracy must be within 1 point of the f32 build's. Also:
 *   - the int8 C compiles with `cc -std=c11 -Wall -Wextra -Wconversion -pedantic -Werror`, references no malloc,
 *     keeps no f32 array of the weights it quantized, and is the same bytes when compiled again;
 *   - `dlc check --infer --json` reports the int8 build's constant data under 30% of the f32 build's;
 *   - a calibration file that is missing, not an IDX file, or of images of another size, and --quantize without
 *     --infer, --weights or --calibration, are refused with a message naming the problem.
 * Without Fashion-MNIST the tests that need it say that they are skipped. On failure the directory is kept. */
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "dlrt.h"

#ifndef SOURCE_ROOT
#define SOURCE_ROOT "."
#endif
#ifndef BUILD_ROOT
#define BUILD_ROOT "build"
#endif
#ifndef DLC_PATH
#define DLC_PATH "dlc"
#endif

static char workdir[] = "/tmp/dlc-quantize-XXXXXX";
static bool any_failure, have_data;
static const char *calibration = DLRT_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz";

enum { MLP, LENET, N_MODELS };
static const char *const model_name[N_MODELS] = {"mlp", "lenet"};
static const char *const model_uc[N_MODELS] = {"MLP", "LENET"};
static const int epochs[N_MODELS] = {2, 3};
static char *ckpt[N_MODELS];

/* run_words, its log in the work folder. */
static int runs(char **out, const char *cmd) { return run_words(out, fmt("%s/run.log", workdir), cmd); }

static void fail(const char *what, const char *detail) {
    any_failure = true;
    printf("\n  FAILED: %s\n%s\n", what, detail ? detail : "");
}

static bool skipped(void) {
    if (!have_data)
        printf("\n    skipped: Fashion-MNIST is not installed in %s (apt-get install dataset-fashion-mnist)",
               DLRT_FASHION_MNIST_DIR);
    return !have_data;
}

/* The model compiled --infer --portable --weights, in int8 when q, into its own directory (once). */
static const char *generate(int m, bool q) {
    static char *dir[N_MODELS][2];
    if (dir[m][q])
        return dir[m][q];
    char *d = fmt("%s/%s-%s", workdir, model_name[m], q ? "int8" : "f32"), *out;
    char *cmd = fmt("%s compile %s/models/%s.dlm --infer --portable --weights %s%s -o %s", DLC_PATH, SOURCE_ROOT,
                    model_name[m], ckpt[m], q ? fmt(" --quantize int8 --calibration %s", calibration) : "", d);
    if (runs(&out, cmd) != 0) {
        fail(cmd, out);
        return NULL;
    }
    return dir[m][q] = d;
}

static int suite_init(void) {
    if (!mkdtemp(workdir))
        return -1;
    DlrtDataset test = {0};
    DlrtError err;
    have_data = access(calibration, R_OK) == 0 &&
                dlrt_idx_load(DLRT_FASHION_MNIST_DIR "/t10k-images-idx3-ubyte.gz",
                              DLRT_FASHION_MNIST_DIR "/t10k-labels-idx1-ubyte.gz", 10, 0, &test, &err) == DLRT_OK;
    if (!have_data)
        return 0;
    FILE *fx = fopen(fmt("%s/test.f32", workdir), "wb"), *fy = fopen(fmt("%s/test.i32", workdir), "wb");
    bool ok = fx && fy && fwrite(test.x, sizeof(float) * 784, (size_t)test.n, fx) == (size_t)test.n &&
              fwrite(test.labels, sizeof(int32_t), (size_t)test.n, fy) == (size_t)test.n;
    ok = fx && fclose(fx) == 0 && ok;
    ok = fy && fclose(fy) == 0 && ok;
    dlrt_dataset_free(&test);
    for (int m = 0; ok && m < N_MODELS; m++) {
        char *out;
        ckpt[m] = fmt("%s/%s.ckpt", workdir, model_name[m]);
        if (runs(&out, fmt("%s/models/%s-train --epochs %d --threads 1 --seed 3 --save %s --quiet", BUILD_ROOT,
                           model_name[m], epochs[m], ckpt[m])) != 0) {
            fail(fmt("%s-train", model_name[m]), out);
            return -1;
        }
    }
    return ok ? 0 : -1;
}

static int suite_clean(void) {
    if (any_failure)
        printf("\n  test_quantize: kept %s for inspection\n", workdir);
    else
        remove_tree(workdir);
    return 0;
}

/* The harness's accuracy on the test set (-1 after reporting a failure); *seconds: one pass at batch 1. */
static double accuracy(int m, bool q, double *seconds) {
    const char *dir = generate(m, q);
    if (!dir)
        return -1;
    char *exe = fmt("%s/harness-%s", dir, model_name[m]), *out;
    char *cmd = fmt("cc -std=c11 -O2 -iquote %s -DMODEL=%s -DMODEL_UC=%s -DMODEL_H=\"%s.h\" %s/tests/quant_harness.c "
                    "%s/%s.c -o %s -lm",
                    dir, model_name[m], model_uc[m], model_name[m], SOURCE_ROOT, dir, model_name[m], exe);
    if (runs(&out, cmd) != 0 || runs(&out, fmt("%s %s/test.f32 %s/test.i32", exe, workdir, workdir)) != 0) {
        fail(fmt("%s (%s) harness", model_name[m], q ? "int8" : "f32"), out);
        return -1;
    }
    double acc = -1;
    if (sscanf(out, "accuracy %lf seconds %lf", &acc, seconds) != 2)
        fail("the harness's output", out);
    return acc;
}

static void test_accuracy(void) {
    if (skipped())
        return;
    for (int m = 0; m < N_MODELS; m++) {
        double tf = 0, tq = 0, f = accuracy(m, false, &tf), q = accuracy(m, true, &tq);
        printf("\n    %-5s test accuracy f32 %.4f, int8 %.4f (%+.2f points); batch-1 CPU seconds for 10,000: "
               "%.3f, %.3f",
               model_name[m], f, q, 100 * (q - f), tf, tq);
        CU_ASSERT(f > 0.5); /* the checkpoint learned something, so agreement means something */
        CU_ASSERT(q >= 0 && q >= f - 0.01 && q <= f + 0.01);
        if (!(q >= f - 0.01 && q <= f + 0.01))
            fail(fmt("%s: int8 accuracy %.4f is more than 1 point from f32's %.4f", model_name[m], q, f), "");
    }
}

static void test_generated_code(void) {
    if (skipped())
        return;
    for (int m = 0; m < N_MODELS; m++) {
        const char *dir = generate(m, true);
        CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
        char *out, *obj = fmt("%s/%s.o", dir, model_name[m]);
        int rc = runs(&out, fmt("cc -std=c11 -Wall -Wextra -Wconversion -pedantic -Werror -O2 -c %s/%s.c -o %s", dir,
                                model_name[m], obj));
        if (rc != 0)
            fail(fmt("%s int8 C with the strict flags", model_name[m]), out);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_EQUAL(runs(&out, fmt("nm -u %s", obj)), 0);
        CU_ASSERT(strstr(out, "malloc") == NULL && strstr(out, "calloc") == NULL && strstr(out, "free") == NULL);
        char *src = slurp(fmt("%s/%s.c", dir, model_name[m]));
        /* every weight is quantized: no f32 array of weights is left (the biases stay f32), each kernel is int8 */
        CU_ASSERT(strstr(src, "static const int8_t q") != NULL && strstr(src, "_bias[") != NULL);
        CU_ASSERT(strstr(src, "_weight[") == NULL);
        CU_ASSERT(strstr(src, "gemm(") == NULL && strstr(src, "conv2d_fwd_direct") == NULL);
        /* deterministic: the same bytes from a second compilation */
        char *again = fmt("%s/again-%s", workdir, model_name[m]);
        CU_ASSERT_EQUAL(runs(&out, fmt("%s compile %s/models/%s.dlm --infer --portable --weights %s --quantize int8 "
                                       "--calibration %s -o %s",
                                       DLC_PATH, SOURCE_ROOT, model_name[m], ckpt[m], calibration, again)),
                        0);
        size_t la, lb;
        char *a = slurp_n(fmt("%s/%s.c", dir, model_name[m]), &la),
             *b = slurp_n(fmt("%s/%s.c", again, model_name[m]), &lb);
        CU_ASSERT(la == lb && la > 0 && memcmp(a, b, la) == 0);
    }
}

/* "key": number in the JSON report */
static double json_number(const char *json, const char *key) {
    const char *p = strstr(json, fmt("\"%s\": ", key));
    return p ? strtod(p + strlen(key) + 4, NULL) : -1;
}

static void test_check_sizes(void) {
    if (skipped())
        return;
    for (int m = 0; m < N_MODELS; m++) {
        char *f, *q;
        const char *cmd = fmt("%s check %s/models/%s.dlm --infer --portable --weights %s --json", DLC_PATH, SOURCE_ROOT,
                              model_name[m], ckpt[m]);
        CU_ASSERT_EQUAL_FATAL(runs(&f, cmd), 0);
        CU_ASSERT_EQUAL_FATAL(runs(&q, fmt("%s --quantize int8 --calibration %s", cmd, calibration)), 0);
        double cf = json_number(f, "constant_bytes"), cq = json_number(q, "constant_bytes");
        double kf = json_number(f, "code_bytes"), kq = json_number(q, "code_bytes");
        printf("\n    %-5s constant data f32 %.0f, int8 %.0f bytes (%.2f); code %.0f, %.0f bytes", model_name[m], cf,
               cq, cq / cf, kf, kq);
        CU_ASSERT(cf > 0 && cq > 0 && cq < 0.3 * cf);
    }
}

/* dlc's exit status and message for a command line that must be refused */
static void refused(const char *args, int status, const char *says) {
    char *out;
    int rc = runs(&out, fmt("%s compile %s/models/mlp.dlm %s -o %s/refused", DLC_PATH, SOURCE_ROOT, args, workdir));
    bool ok = rc == status && strstr(out, says) != NULL;
    if (!ok)
        fail(fmt("dlc compile mlp.dlm %s: exit %d, wanted %d and '%s'", args, rc, status, says), out);
    CU_ASSERT(ok);
}

static void test_bad_input(void) {
    /* a checkpoint: the trained one, or the one test_embed's harness would write; the options are checked first */
    const char *ck = ckpt[MLP] ? ckpt[MLP] : "none.ckpt";
    refused("--quantize int8 --calibration x", 2, "--quantize int8 needs --infer, --weights CKPT and --calibration");
    refused(fmt("--infer --quantize int8 --calibration x"), 2, "needs --infer, --weights CKPT");
    refused(fmt("--infer --weights %s --quantize int8", ck), 2, "--calibration DATA");
    refused(fmt("--infer --weights %s --quantize int4 --calibration x", ck), 2, "--quantize takes int8, got 'int4'");
    refused(fmt("--infer --weights %s --calibration x", ck), 2, "--calibration is for --quantize int8");
    if (skipped())
        return;
    char *missing = fmt("%s/no-such-file", workdir), *junk = fmt("%s/junk.idx", workdir);
    char *small = fmt("%s/small-idx3-ubyte", workdir);
    write_text(junk, "this is not an IDX file at all\n");
    /* a well-formed IDX file of two 10 x 10 images */
    FILE *f = fopen(small, "wb");
    static const unsigned char head[16] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 10, 0, 0, 0, 10};
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fwrite(head, 1, sizeof head, f);
    for (int i = 0; i < 200; i++)
        fputc(i, f);
    fclose(f);
    const char *q = fmt("--infer --weights %s --quantize int8 --calibration", ckpt[MLP]);
    refused(fmt("%s %s", q, missing), 2, missing);
    refused(fmt("%s %s", q, junk), 2, junk);
    refused(fmt("%s %s", q, small), 2, "holds 2 images of 10 x 10 pixels, but input x of mlp is");
}

int main(void) {
    atexit(free_kept);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("int8 inference (dlc compile --quantize int8)", suite_init, suite_clean);
    CU_add_test(s, "int8 test accuracy within 1 point of f32 (mlp, lenet)", test_accuracy);
    CU_add_test(s, "the int8 C is strict-clean, allocation-free, weight-free in f32 and deterministic",
                test_generated_code);
    CU_add_test(s, "dlc check --infer: int8 constant data under 30% of f32's", test_check_sizes);
    CU_add_test(s, "bad calibration files and flag combinations are refused", test_bad_input);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
