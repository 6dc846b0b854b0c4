/* test_embed.c: the inference code of `dlc compile --infer`, as an application embeds it (issue 7).
 *
 * Everything happens in a private temporary directory. The zoo's trainers write a checkpoint for mlp and for lenet
 * (a few thousand Fashion-MNIST examples; without the data set, the training build's initial weights instead).
 * Each model is compiled several ways by the dlc of this build, and each build is linked with
 * tests/embed_harness.c by `cc` and run on the same inputs (the first Fashion-MNIST test images, then random
 * ones); the harness writes the outputs as raw floats and this file compares them:
 *   - the --infer build loading the checkpoint with <name>_load equals the training build (`dlc compile`, the
 *     checkpoint read by libdlrt's reader into descriptors made from <name>_params) to 1e-6 at the same batch
 *     size; against the trainer's batch of 256, where OpenBLAS picks other kernels, to 1e-5 relative;
 *   - --weights (baked) equals _load; --portable equals the BLAS build to 1e-5; predict_batch equals predict;
 *   - batch 1 (dlc's own matrix-vector kernels) equals the batch-16 build (BLAS) to 1e-5 relative on each
 *     instruction set the CPU has, forced with DLRT_ISA (the others skipped, naming the missing feature);
 *   - two contexts in two threads give bit-identical outputs to one thread;
 *   - load and predict make no heap allocation (counting wrappers through -Wl,--wrap=malloc and friends, and on
 *     glibc an interposed malloc that also sees OpenBLAS and libc);
 *   - the portable object references nothing outside libm and the mem and str functions (`nm -u`);
 *   - every generated file compiles with `cc -std=c11 -Wall -Wextra -Wconversion -pedantic -Werror`;
 *   - _load refuses truncated buffers (-1), another model's checkpoint (-2) and a flipped data bit (-3), leaving
 *     the context byte-identical;
 *   - batch normalization folds with --weights (batchnorm_concise, the from-scratch batchnorm, resnet18, from
 *     checkpoints of a few training steps, so with running statistics of their own): the baked
 *     build's outputs equal the _load build's and the training build's to 1e-5 max|b| + 1e-6, its code has no
 *     sqrt and no per-channel arithmetic kernel left, and it compiles with the strict flags (resnet18, whose baked
 *     C is 176 MB, is only compiled by dlc: the same kernels as the _load build less the batch norms'); and
 *     tests/fold_edges.dlm keeps what must not fold (a kernel read twice, c / y, a constant that varies within a
 *     channel) with the same outputs;
 *   - `dlc check --infer` prints positive code, constant-data and workspace bytes, the workspace equal to the
 *     generated header's <NAME>_WORKSPACE_BYTES;
 *   - examples/classify.c builds against the generated LeNet and classifies examples/samples/ as the harness does;
 *   - exp in f32 code (the emitted expv) is within 1.5 ulp of exp in double over every 61st float from -110 to
 *     89, and gives exp's 0, inf and NaN where exp does; sigmoid (the emitted sigmoidv) within 4 ulp (the
 *     --infer code's own sigmoidv: 3 ulp) where it is above 1e-30 and 2e-7 absolute over every 61st float from
 *     -120 to 120, 1 above 17.5 and at inf, within 2e-38 of 0 at -inf, NaN at NaN.
 * On failure the directory is kept and named; otherwise it is removed. */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

static char workdir[] = "/tmp/dlc-embed-XXXXXX";
static bool any_failure;

/* run_words, its log in the work folder. */
static int runs(char **out, const char *cmd) { return run_words(out, fmt("%s/run.log", workdir), cmd); }

static void fail(const char *what, const char *detail) {
    any_failure = true;
    printf("\n  FAILED: %s\n%s%s", what, detail ? detail : "", detail && *detail ? "\n" : "");
}

/* ---- the models and their builds ---- */

/* the models every test runs; then the batch-norm models only the folding test builds */
enum { MLP, LENET, N_MODELS, BN = N_MODELS, BN_SCRATCH, RESNET, FOLD_EDGES, N_ALL };
static const char *const model_name[N_ALL] = {"mlp",       "lenet",    "batchnorm_concise",
                                              "batchnorm", "resnet18", "fold_edges"};
static const char *const model_uc[N_ALL] = {"MLP", "LENET", "BATCHNORM_CONCISE", "BATCHNORM", "RESNET18", "FOLD_EDGES"};
/* where the model file is, under the source tree */
static const char *model_dir(int m) { return m == FOLD_EDGES ? "tests" : "models"; }
static char *ckpt[N_ALL];
static char *inputs;      /* raw f32, 784 per example */
static int n_data_images; /* how many of them are Fashion-MNIST test images 0, 1, ... (0 without the data set) */

typedef enum { V_TRAIN, V_LOAD, V_PORTABLE, V_BAKED, V_BAKED_PORTABLE, V_BATCH, V_BATCH_PORTABLE, V_COUNT } Variant;
static const struct {
    const char *name;
    const char *dlc_flags; /* %s: the checkpoint */
    const char *macro;     /* which build the harness is told it is */
    bool blas;
} variants[V_COUNT] = {
    [V_TRAIN] = {"train", "", "-DEMBED_TRAIN", true},
    [V_LOAD] = {"load", "--infer", "-DEMBED_LOAD", true},
    [V_PORTABLE] = {"portable", "--infer --portable", "-DEMBED_LOAD", false},
    [V_BAKED] = {"baked", "--infer --weights %s", "-DEMBED_BAKED", true},
    [V_BAKED_PORTABLE] = {"baked-portable", "--infer --portable --weights %s", "-DEMBED_BAKED", false},
    [V_BATCH] = {"batch16", "--infer --batch 16", "-DEMBED_LOAD", true},
    [V_BATCH_PORTABLE] = {"batch16-portable", "--infer --portable --batch 16", "-DEMBED_LOAD", false},
};

static char *gen_dir[N_ALL][V_COUNT];
static char *harness_exe[N_ALL][V_COUNT][2];

/* Generates the model's C for a variant into its own directory (once); NULL after reporting a failure. */
static const char *generate(int m, Variant v) {
    if (gen_dir[m][v])
        return gen_dir[m][v];
    char *dir = fmt("%s/%s-%s", workdir, model_name[m], variants[v].name), *out;
    const char *flags = fmt(variants[v].dlc_flags, ckpt[m]);
    if (runs(&out,
             fmt("%s compile %s/%s/%s.dlm %s -o %s", DLC_PATH, SOURCE_ROOT, model_dir(m), model_name[m], flags, dir))) {
        fail(fmt("dlc compile %s %s", model_name[m], flags), out);
        return NULL;
    }
    return gen_dir[m][v] = dir;
}

/* Links the harness with a build of the model (once): wrap adds the allocation counters. */
static const char *harness(int m, Variant v, bool wrap) {
    if (harness_exe[m][v][wrap])
        return harness_exe[m][v][wrap];
    const char *dir = generate(m, v);
    if (!dir)
        return NULL;
    char *exe = fmt("%s/harness-%s-%s%s", workdir, model_name[m], variants[v].name, wrap ? "-wrap" : "");
    char *cmd = fmt("cc -std=c11 -O2 -iquote %s -I%s/runtime -DMODEL=%s -DMODEL_UC=%s -DMODEL_H=\"%s.h\" %s%s "
                    "%s/tests/embed_harness.c %s/%s.c%s -o %s -pthread%s -lm",
                    dir, SOURCE_ROOT, model_name[m], model_uc[m], model_name[m], variants[v].macro,
                    wrap ? " -DEMBED_WRAP -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc" : "", SOURCE_ROOT, dir,
                    model_name[m], v == V_TRAIN ? " " SOURCE_ROOT "/runtime/checkpoint_core.c" : "", exe,
                    variants[v].blas ? " -lopenblas" : "");
    char *out;
    if (runs(&out, cmd)) {
        fail(fmt("building the harness for %s (%s)", model_name[m], variants[v].name), fmt("%s\n%s", cmd, out));
        return NULL;
    }
    return harness_exe[m][v][wrap] = exe;
}

/* The model's outputs on all the inputs, CHUNK examples per call; NULL after reporting a failure. */
static float *outputs(int m, Variant v, int chunk, size_t *n) {
    const char *exe = harness(m, v, false);
    if (!exe)
        return NULL;
    char *path = fmt("%s/out-%s-%s-%d", workdir, model_name[m], variants[v].name, chunk), *out;
    if (runs(&out, fmt("%s outputs %s %s %s %d", exe, ckpt[m], inputs, path, chunk))) {
        fail(fmt("%s (%s) outputs, chunk %d", model_name[m], variants[v].name, chunk), out);
        return NULL;
    }
    size_t bytes;
    float *f = (float *)(void *)slurp_n(path, &bytes);
    *n = bytes / sizeof(float);
    return f;
}

/* Largest |a - b| / max(1, |b|) when relative, else largest |a - b|; +inf when the counts differ. */
static double worst(const float *a, const float *b, size_t n, size_t nb, bool relative) {
    if (n != nb || n == 0)
        return INFINITY;
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (relative)
            d /= fmax(1, fabs((double)b[i]));
        if (!(d <= w))
            w = d;
    }
    return w;
}

/* Checks two builds' outputs against each other; prints the worst difference either way. */
static void compare(int m, Variant va, int ca, Variant vb, int cb, double tol, bool relative) {
    size_t na = 0, nb = 0;
    float *a = outputs(m, va, ca, &na), *b = outputs(m, vb, cb, &nb);
    if (!a || !b) {
        CU_FAIL("a build did not run");
        return;
    }
    double w = worst(a, b, na, nb, relative);
    printf("\n    %-5s %s (chunk %d) vs %s (chunk %d): %zu outputs, worst %s difference %.3g (tolerance %g)",
           model_name[m], variants[va].name, ca, variants[vb].name, cb, na, relative ? "relative" : "absolute", w, tol);
    if (!(w <= tol))
        fail(fmt("%s: %s and %s differ by %g", model_name[m], variants[va].name, variants[vb].name, w), "");
    CU_ASSERT(w <= tol);
}

/* ---- set-up: checkpoints and inputs ---- */

static int suite_init(void) {
    if (!mkdtemp(workdir))
        return -1;
    char *out;
    /* a trained checkpoint from each zoo trainer; without the data set, the training build's initial weights */
    for (int m = 0; m < N_MODELS; m++) {
        ckpt[m] = fmt("%s/%s.ckpt", workdir, model_name[m]);
        int rc = runs(&out, fmt("%s/models/%s-train --epochs 1 --limit %d --threads 1 --seed 3 --save %s --quiet",
                                BUILD_ROOT, model_name[m], m == LENET ? 2000 : 4000, ckpt[m]));
        if (rc != 0) {
            printf("\n    (%s-train did not run, so the checkpoint holds the initial weights: %.200s)", model_name[m],
                   out);
            const char *exe = harness(m, V_TRAIN, false);
            if (!exe || runs(&out, fmt("%s save 5 %s", exe, ckpt[m])) != 0)
                return -1;
        }
    }
    /* inputs: the first 100 Fashion-MNIST test images, then random images, an all-0 and an all-1 one */
    enum { N_RANDOM = 30 };
    DlrtDataset train = {0}, test = {0};
    DlrtError err;
    if (dlrt_load_fashion_mnist(NULL, 100, &train, &test, &err) == DLRT_OK && test.n >= 100)
        n_data_images = 100;
    int n = n_data_images + N_RANDOM;
    float *x = keep(calloc((size_t)n * 784, sizeof(float)));
    if (n_data_images)
        memcpy(x, test.x, sizeof(float) * 100 * 784);
    dlrt_dataset_free(&train);
    dlrt_dataset_free(&test);
    DlrtRng rng;
    dlrt_rng_seed(&rng, 11, 1);
    for (int i = n_data_images; i < n - 2; i++)
        for (int k = 0; k < 784; k++)
            x[i * 784 + k] = dlrt_rng_uniform(&rng);
    for (int k = 0; k < 784; k++)
        x[(n - 1) * 784 + k] = 1;
    inputs = fmt("%s/inputs.f32", workdir);
    FILE *f = fopen(inputs, "wb");
    if (!f || fwrite(x, sizeof(float), (size_t)n * 784, f) != (size_t)n * 784 || fclose(f) != 0)
        return -1;
    return 0;
}

static int suite_clean(void) {
    if (any_failure)
        printf("\n  test_embed: kept %s for inspection\n", workdir);
    else
        remove_tree(workdir);
    return 0;
}

/* ---- the tests ---- */

static void test_strict_flags(void) {
    static const Variant vs[] = {V_LOAD, V_PORTABLE, V_BAKED, V_BAKED_PORTABLE, V_BATCH};
    for (int m = 0; m < N_MODELS; m++)
        for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
            const char *dir = generate(m, vs[i]);
            CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
            char *cmd = fmt("cc -std=c11 -Wall -Wextra -Wconversion -pedantic -Werror -O2 -c %s/%s.c -o %s/%s.o", dir,
                            model_name[m], dir, model_name[m]),
                 *out;
            int rc = runs(&out, cmd);
            if (rc)
                fail(fmt("%s (%s) does not compile with the strict flags", model_name[m], variants[vs[i]].name),
                     fmt("%s\n%s", cmd, out));
            CU_ASSERT_EQUAL(rc, 0);
        }
}

static void test_matches_training_build(void) {
    for (int m = 0; m < N_MODELS; m++) {
        compare(m, V_LOAD, 1, V_TRAIN, 1, 1e-6, false);
        compare(m, V_LOAD, 1, V_TRAIN, 256, 1e-5, true);
    }
}

static void test_baked_equals_load(void) {
    for (int m = 0; m < N_MODELS; m++) {
        compare(m, V_BAKED, 1, V_LOAD, 1, 1e-6, false);
        compare(m, V_BAKED_PORTABLE, 1, V_PORTABLE, 1, 1e-6, false);
    }
}

static void test_portable_equals_blas(void) {
    for (int m = 0; m < N_MODELS; m++)
        compare(m, V_PORTABLE, 1, V_LOAD, 1, 1e-5, false);
}

static void test_predict_batch(void) {
    for (int m = 0; m < N_MODELS; m++) {
        compare(m, V_BATCH, 16, V_LOAD, 1, 1e-5, true);
        compare(m, V_BATCH_PORTABLE, 16, V_PORTABLE, 1, 1e-6, false);
        compare(m, V_BATCH_PORTABLE, 7, V_PORTABLE, 1, 1e-6, false);
    }
}

/* The batch-1 build (--infer's default), whose products are dlc's matrix-vector kernels and whose forward pass is
 * compiled once per instruction set: on every path the CPU has (DLRT_ISA), equal to the batch build's (BLAS
 * products) to 1e-5. */
static void test_batch1_isa_paths(void) {
    static const char *const isas[] = {"avx512", "avx2", "portable"};
    for (int m = 0; m < N_MODELS; m++) {
        const char *exe = harness(m, V_LOAD, false);
        size_t nb = 0;
        float *b = outputs(m, V_BATCH, 1, &nb);
        CU_ASSERT_FATAL(exe && b);
        for (int k = 0; k < 3; k++) {
            const char *missing = isa_missing(isas[k]);
            if (missing) {
                printf("\n    skipped DLRT_ISA=%s: this CPU has no %s", isas[k], missing);
                continue;
            }
            setenv("DLRT_ISA", isas[k], 1);
            char *path = fmt("%s/out-%s-batch1-%s", workdir, model_name[m], isas[k]), *out;
            int rc = runs(&out, fmt("%s outputs %s %s %s 1", exe, ckpt[m], inputs, path));
            unsetenv("DLRT_ISA");
            CU_ASSERT_EQUAL_FATAL(rc, 0);
            size_t bytes;
            float *a = (float *)(void *)slurp_n(path, &bytes);
            double w = worst(a, b, bytes / sizeof(float), nb, true);
            printf("\n    %-5s load DLRT_ISA=%-8s vs batch16: worst relative difference %.3g (tolerance 1e-5)",
                   model_name[m], isas[k], w);
            if (!(w <= 1e-5))
                fail(fmt("%s: batch 1 on %s differs from the batch build by %g", model_name[m], isas[k], w), "");
            CU_ASSERT(w <= 1e-5);
        }
    }
}

static void test_two_threads(void) {
    static const Variant vs[] = {V_LOAD, V_PORTABLE, V_BAKED};
    for (int m = 0; m < N_MODELS; m++)
        for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
            const char *exe = harness(m, vs[i], false);
            CU_ASSERT_PTR_NOT_NULL_FATAL(exe);
            char *out;
            int rc = runs(&out, fmt("%s threads %s %s 4", exe, ckpt[m], inputs));
            printf("\n    %-5s %-8s %s", model_name[m], variants[vs[i]].name, strtok(out, "\n") ? out : "");
            if (rc)
                fail(fmt("%s (%s): two threads disagree with one", model_name[m], variants[vs[i]].name), out);
            CU_ASSERT_EQUAL(rc, 0);
        }
}

static void test_no_allocation(void) {
    static const Variant vs[] = {V_LOAD, V_PORTABLE, V_BAKED};
    for (int m = 0; m < N_MODELS; m++)
        for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
            const char *exe = harness(m, vs[i], true);
            CU_ASSERT_PTR_NOT_NULL_FATAL(exe);
            char *out;
            int rc = runs(&out, fmt("%s alloc %s %s", exe, ckpt[m], inputs));
            printf("\n    %-5s %-8s %s", model_name[m], variants[vs[i]].name, strtok(out, "\n") ? out : "");
            if (rc)
                fail(fmt("%s (%s) allocates", model_name[m], variants[vs[i]].name), out);
            CU_ASSERT_EQUAL(rc, 0);
        }
}

/* What a portable object may take from the C library: libm, and the mem and str functions a compiler may call. */
static bool allowed_import(const char *s) {
    static const char *const ok[] = {"memcpy", "memmove", "memset", "memcmp", "strlen", "strcmp"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(s, ok[i]) == 0)
            return true;
    static const char *const libm[] = {"exp",  "expm1", "log",  "log1p", "sqrt", "tanh", "pow",   "fabs", "floor",
                                       "ceil", "fmax",  "fmin", "erf",   "sin",  "cos",  "round", "trunc"};
    for (size_t i = 0; i < sizeof libm / sizeof libm[0]; i++) {
        size_t n = strlen(libm[i]);
        if (strncmp(s, libm[i], n) == 0 && (s[n] == 0 || (s[n] == 'f' && s[n + 1] == 0)))
            return true;
    }
    return false;
}

static void test_portable_imports(void) {
    static const Variant vs[] = {V_PORTABLE, V_BAKED_PORTABLE};
    for (int m = 0; m < N_MODELS; m++)
        for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
            const char *dir = generate(m, vs[i]);
            CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
            char *obj = fmt("%s/%s-nm.o", dir, model_name[m]), *out;
            CU_ASSERT_EQUAL_FATAL(runs(&out, fmt("cc -std=c11 -O2 -c %s/%s.c -o %s", dir, model_name[m], obj)), 0);
            CU_ASSERT_EQUAL_FATAL(runs(&out, fmt("nm -u %s", obj)), 0);
            int bad = 0;
            char *list = fmt("%s", "");
            for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
                char sym[256];
                if (sscanf(line, " U %255s", sym) != 1)
                    continue;
                list = fmt("%s %s", list, sym);
                if (!allowed_import(sym)) {
                    bad++;
                    fail(fmt("the portable %s object (%s) imports %s", model_name[m], variants[vs[i]].name, sym), "");
                }
            }
            printf("\n    %-5s %-14s imports:%s", model_name[m], variants[vs[i]].name, list);
            CU_ASSERT_EQUAL(bad, 0);
            /* nm read the object (which may import nothing: with MAX_BATCH 1 every memcpy can be inlined) */
            CU_ASSERT_EQUAL_FATAL(runs(&out, fmt("nm %s", obj)), 0);
            CU_ASSERT_PTR_NOT_NULL(strstr(out, fmt(" T %s_predict_batch\n", model_name[m])));
        }
}

static void test_load_refuses(void) {
    for (int m = 0; m < N_MODELS; m++) {
        const char *exe = harness(m, m == LENET ? V_PORTABLE : V_LOAD, false);
        CU_ASSERT_PTR_NOT_NULL_FATAL(exe);
        char *out;
        int rc = runs(&out, fmt("%s refuse %s %s", exe, ckpt[m], ckpt[1 - m]));
        if (rc)
            fail(fmt("%s_load: a refusal went wrong", model_name[m]), out);
        CU_ASSERT_EQUAL(rc, 0);
    }
}

/* ---- batch normalization folded into the kernels (--infer --weights) ---- */

/* How many kernels of op the generated C runs: each opens with a comment `    /+ op -> type`, or `    /+ op + ...
 * -> type` when it applies the ops after the plus signs to its results (an epilogue, fuse.c). */
static int kernels(const char *c, const char *op) {
    int n = 0;
    for (int k = 0; k < 2; k++) {
        const char *key = fmt(k ? "\n    /* %s + " : "\n    /* %s -> ", op);
        for (const char *p = c; (p = strstr(p, key)); p++)
            n++;
    }
    return n;
}

/* A checkpoint of model m with running statistics of its own: a few training steps (without the data set, the
 * initial weights with every value moved off its initial one: embed_harness.c's perturb). */
static bool bn_checkpoint(int m) {
    ckpt[m] = fmt("%s/%s.ckpt", workdir, model_name[m]);
    char *out;
    if (m != FOLD_EDGES &&
        runs(&out, fmt("%s/models/%s-train --epochs 1 --limit %s --threads 1 --seed 3 --save %s --quiet", BUILD_ROOT,
                       model_name[m], m == RESNET ? "32 --batch 8" : "512", ckpt[m])) == 0)
        return true;
    if (m != FOLD_EDGES)
        printf("\n    (%s-train did not run, so the checkpoint holds perturbed initial values: %.200s)", model_name[m],
               out);
    const char *exe = harness(m, V_TRAIN, false);
    if (!exe || runs(&out, fmt("%s save 5 %s perturb", exe, ckpt[m])) != 0) {
        fail(fmt("writing a checkpoint for %s", model_name[m]), exe ? out : "");
        return false;
    }
    return true;
}

/* The baked build's code next to the _load build's: no sqrt, no element-wise kernel of batch norm's arithmetic
 * (unless `some_left`: fold_edges keeps the chains that must not fold), and the same convolutions and matrix
 * products (none computed twice). */
static void check_folded_code(int m, bool some_left) {
    const char *bd = generate(m, V_BAKED), *ld = generate(m, V_LOAD);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bd);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ld);
    char *baked = slurp_n(fmt("%s/%s.c", bd, model_name[m]), NULL),
         *load = slurp_n(fmt("%s/%s.c", ld, model_name[m]), NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(baked);
    CU_ASSERT_PTR_NOT_NULL_FATAL(load);
    static const char *const gone[] = {"sub", "mul", "div", "sqrt"};
    int left = 0, before = 0;
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        left += kernels(baked, gone[i]), before += kernels(load, gone[i]);
    printf("\n    %-17s baked: %d conv2d, %d matmul, %d per-channel kernels (%d unfolded)", model_name[m],
           kernels(baked, "conv2d"), kernels(baked, "matmul"), left, before);
    CU_ASSERT(before > 0); /* the unfolded build has them, so their absence means something */
    if (!some_left)
        CU_ASSERT_EQUAL(left, 0);
    CU_ASSERT_PTR_NULL(strstr(baked, "sqrt"));
    CU_ASSERT_PTR_NOT_NULL(strstr(load, "sqrt"));
    CU_ASSERT_EQUAL(kernels(baked, "conv2d"), kernels(load, "conv2d"));
    CU_ASSERT_EQUAL(kernels(baked, "matmul"), kernels(load, "matmul"));
    if ((left && !some_left) || strstr(baked, "sqrt"))
        fail(fmt("%s: batch normalization is left in the baked code", model_name[m]), "");
}

/* max|a - b| <= 1e-5 max|b| + 1e-6 */
static void close_outputs(int m, Variant va, Variant vb) {
    size_t na = 0, nb = 0;
    float *a = outputs(m, va, 1, &na), *b = outputs(m, vb, 1, &nb);
    CU_ASSERT_FATAL(a && b && na == nb && na > 0);
    double diff = 0, mag = 0;
    for (size_t i = 0; i < na; i++) {
        diff = fmax(diff, fabs((double)a[i] - (double)b[i]));
        mag = fmax(mag, fabs((double)b[i]));
    }
    double tol = 1e-5 * mag + 1e-6;
    printf("\n    %-17s %s vs %s: %zu outputs, max|a-b| %.3g, max|b| %.3g (tolerance %.3g)", model_name[m],
           variants[va].name, variants[vb].name, na, diff, mag, tol);
    if (!(diff <= tol))
        fail(fmt("%s: %s and %s differ by %g", model_name[m], variants[va].name, variants[vb].name, diff), "");
    CU_ASSERT(diff <= tol);
}

static void test_batch_norm_folds(void) {
    static const int ms[] = {BN, BN_SCRATCH, FOLD_EDGES};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        int m = ms[i];
        CU_ASSERT_FATAL(bn_checkpoint(m));
        close_outputs(m, V_BAKED, V_LOAD);
        close_outputs(m, V_BAKED, V_TRAIN);
        check_folded_code(m, m == FOLD_EDGES);
        const char *dir = generate(m, V_BAKED);
        char *out;
        int rc = runs(&out, fmt("cc -std=c11 -Wall -Wextra -Wconversion -pedantic -Werror -O0 -c %s/%s.c -o %s/%s.o",
                                dir, model_name[m], dir, model_name[m]));
        if (rc)
            fail(fmt("%s (baked, folded) does not compile with the strict flags", model_name[m]), out);
        CU_ASSERT_EQUAL(rc, 0);
    }
    CU_ASSERT_FATAL(bn_checkpoint(RESNET));
    check_folded_code(RESNET, false);
}

/* The number after `label` in dlc check's output ("1,234" -> 1234), or -1. */
static long long number_after(const char *text, const char *label) {
    const char *p = strstr(text, label);
    if (!p)
        return -1;
    p += strlen(label);
    while (*p == ' ')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    long long v = 0;
    for (; (*p >= '0' && *p <= '9') || *p == ','; p++)
        if (*p != ',')
            v = v * 10 + (*p - '0');
    return v;
}

static void test_check_infer(void) {
    static const struct {
        Variant v;
        const char *flags;
    } cases[] = {{V_LOAD, ""}, {V_BAKED_PORTABLE, " --portable --weights %s"}};
    for (int m = 0; m < N_MODELS; m++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            char *flags = fmt(cases[i].flags, ckpt[m]), *out;
            int rc =
                runs(&out, fmt("%s check %s/models/%s.dlm --infer%s", DLC_PATH, SOURCE_ROOT, model_name[m], flags));
            CU_ASSERT_EQUAL(rc, 0);
            long long code = number_after(out, "code:"), data = number_after(out, "constant data:"),
                      work = number_after(out, "workspace:");
            printf("\n    dlc check --infer %s%s: code %lld, constant data %lld, workspace %lld", model_name[m], flags,
                   code, data, work);
            CU_ASSERT(code > 0);
            CU_ASSERT(data > 0);
            CU_ASSERT(strstr(out, "-O2") != NULL); /* says how the code bytes were measured */
            /* the workspace is the header's; baked weights are constant data */
            const char *dir = generate(m, cases[i].v);
            CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
            long long header = number_after(slurp_n(fmt("%s/%s.h", dir, model_name[m]), NULL),
                                            fmt("#define %s_WORKSPACE_BYTES", model_uc[m]));
            CU_ASSERT(work > 0);
            CU_ASSERT_EQUAL(work, header);
            if (cases[i].v == V_BAKED_PORTABLE)
                CU_ASSERT(data >= (m == LENET ? 61706 : 203530) * 4);
            if (rc || code <= 0 || data <= 0 || work != header)
                fail(fmt("dlc check --infer %s%s", model_name[m], flags), out);
        }
}

/* examples/classify.c against the generated LeNet: it builds with the strict flags, prints one of the ten classes
 * for each sample, the class the harness's logits give for the same test image, and its softmax probability; the
 * -DCLASSIFY_LOAD build reading the checkpoint prints the same and refuses another model's checkpoint. */
static const char *const class_names[10] = {"t-shirt/top", "trouser", "pullover", "dress", "coat",
                                            "sandal",      "shirt",   "sneaker",  "bag",   "ankle boot"};

/* exp in f32 code is the emitted expv, not libm's expf (which keeps the loops scalar): checked against exp in double
 * over every 61st float from -110 to 89 (about 35 million, subnormal results and overflow included), and on
 * the special values. */
static const char expv_driver[] =
    "#include <math.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <string.h>\n#include \"expv.h\"\n"
    "static _Alignas(64) unsigned char ctx[EXPV_WORKSPACE_BYTES];\n"
    "static float x[EXPV_MAX_BATCH], y[EXPV_MAX_BATCH];\n"
    "static double worst_ulp, worst_at;\n"
    "static int bad;\n"
    "static void check(int n) {\n"
    "    expv_predict_batch(ctx, n, x, y);\n"
    "    for (int i = 0; i < n; i++) {\n"
    "        float ref = (float)exp((double)x[i]);\n"
    "        if (isnan(x[i]) ? !isnan(y[i]) : isinf(ref) || ref == 0 ? y[i] != ref : 0) {\n"
    "            printf(\"exp(%.9g) = %.9g, expected %.9g\\n\", (double)x[i], (double)y[i], (double)ref);\n"
    "            bad = 1;\n"
    "            continue;\n"
    "        }\n"
    "        if (isnan(x[i]) || isinf(ref) || ref == 0)\n            continue;\n"
    "        double ulp = (double)nextafterf(ref, INFINITY) - (double)ref, e = fabs((double)y[i] - exp((double)x[i])) "
    "/ ulp;\n"
    "        if (e > worst_ulp) {\n            worst_ulp = e;\n            worst_at = x[i];\n        }\n"
    "    }\n"
    "}\n"
    "int main(void) {\n"
    "    int n = 0;\n"
    "    for (uint32_t b = 0; b < 0xFFFFFF00u; b += 61) {\n"
    "        float v;\n        memcpy(&v, &b, sizeof v);\n"
    "        if (!(v > -110.0f && v < 89.0f))\n            continue;\n"
    "        x[n++] = v;\n"
    "        if (n == EXPV_MAX_BATCH) {\n            check(n);\n            n = 0;\n        }\n"
    "    }\n"
    "    const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 88.72f, 88.73f, 100.0f, -103.9f, -104.5f, -200.0f,\n"
    "                             INFINITY, -INFINITY, NAN};\n"
    "    for (int i = 0; i < (int)(sizeof special / sizeof special[0]); i++)\n        x[n++] = special[i];\n"
    "    check(n);\n"
    "    printf(\"worst %.3f ulp at %.9g\\n\", worst_ulp, worst_at);\n"
    "    return bad || worst_ulp > 1.5;\n"
    "}\n";

/* sigmoid in f32 code over every 61st float from -120 to 120, against double: the training code's sigmoidv
 * (compiled without --infer: training and its evaluation) within 4 ulp, the --infer code's within 3 ulp (its own
 * function, docs/compiler.md), both within 2e-7 absolute, 1 at inf, within 2e-38 of 0 at -inf, NaN at NaN, and
 * 1 exactly above x = 17.5 (where sigmoid rounds to 1). */
static const char sigmoid_driver[] =
    "#include <math.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <string.h>\n#include \"sig.h\"\n"
    "#ifdef SIG_WORKSPACE_BYTES\n"
    "static _Alignas(64) unsigned char ctx[SIG_WORKSPACE_BYTES];\n"
    "#define ULP_BOUND 3\n"
    "#else\n"
    "static _Alignas(64) unsigned char ctx[SIG_STATE_BYTES];\n"
    "#define ULP_BOUND 4\n"
    "#endif\n"
    "static float x[SIG_MAX_BATCH], y[SIG_MAX_BATCH];\n"
    "static double worst_ulp, worst_at, worst_abs;\n"
    "static int bad;\n"
    "static void check(int n) {\n"
    "#ifdef SIG_WORKSPACE_BYTES\n"
    "    sig_predict_batch(ctx, n, x, y);\n"
    "#else\n"
    "    sig_forward(ctx, n, x);\n"
    "    memcpy(y, sig_output_y(ctx), sizeof(float) * (size_t)n);\n"
    "#endif\n"
    "    for (int i = 0; i < n; i++) {\n"
    "        double ref = 1 / (1 + exp(-(double)x[i]));\n"
    "        if (isnan(x[i]) ? !isnan(y[i]) : isinf(x[i]) ? !(fabs((double)y[i] - ref) < 2e-38) : x[i] > 17.5f ? "
    "y[i] != 1.0f : 0) {\n"
    "            printf(\"sigmoid(%.9g) = %.9g, expected %.9g\\n\", (double)x[i], (double)y[i], ref);\n"
    "            bad = 1;\n"
    "            continue;\n"
    "        }\n"
    "        if (isnan(x[i]) || isinf(x[i]))\n            continue;\n"
    "        worst_abs = fmax(worst_abs, fabs((double)y[i] - ref));\n"
    "        if (ref < 1e-30)\n            continue;\n"
    "        double ulp = (double)nextafterf((float)ref, INFINITY) - (double)(float)ref;\n"
    "        double e = fabs((double)y[i] - ref) / ulp;\n"
    "        if (e > worst_ulp) {\n            worst_ulp = e;\n            worst_at = x[i];\n        }\n"
    "    }\n"
    "}\n"
    "int main(void) {\n"
    "    int n = 0;\n"
    "    for (uint32_t b = 0; b < 0xFFFFFF00u; b += 61) {\n"
    "        float v;\n        memcpy(&v, &b, sizeof v);\n"
    "        if (!(v > -120.0f && v < 120.0f))\n            continue;\n"
    "        x[n++] = v;\n"
    "        if (n == SIG_MAX_BATCH) {\n            check(n);\n            n = 0;\n        }\n"
    "    }\n"
    "    const float special[] = {0.0f, -0.0f, 17.5f, 87.0f, -87.0f, 88.0f, -88.0f, INFINITY, -INFINITY, NAN};\n"
    "    for (int i = 0; i < (int)(sizeof special / sizeof special[0]); i++)\n        x[n++] = special[i];\n"
    "    check(n);\n"
    "    printf(\"worst %.3f ulp at %.9g, worst absolute %.3g (bound %d ulp)\\n\", worst_ulp, worst_at, worst_abs, "
    "ULP_BOUND);\n"
    "    return bad || worst_ulp > ULP_BOUND || worst_abs > 2e-7;\n"
    "}\n";

/* A one-op model `name` (its .dlm text) compiled `flags` --portable with a batch of 4096 and run by `driver`,
 * which checks it against libm in double and exits 0 when it is within bounds. */
static void accuracy(const char *name, const char *dlm, const char *driver, const char *flags, const char *what) {
    char *dir = fmt("%s/%s%s", workdir, name, strstr(flags, "--infer") ? "" : "-train"), *out;
    if (mkdir_p(dir) != 0 || !write_text(fmt("%s/%s.dlm", dir, name), dlm) ||
        !write_text(fmt("%s/driver.c", dir), driver)) {
        fail(fmt("writing the %s model", what), NULL);
        CU_FAIL("accuracy");
        return;
    }
    int rc = runs(&out, fmt("%s compile %s/%s.dlm %s --portable --batch 4096 -o %s", DLC_PATH, dir, name, flags, dir));
    if (rc == 0)
        rc = runs(&out,
                  fmt("cc -std=c11 -O2 -iquote %s %s/driver.c %s/%s.c -o %s/driver -lm", dir, dir, dir, name, dir));
    if (rc == 0)
        rc = runs(&out, fmt("%s/driver", dir));
    if (rc != 0)
        fail(fmt("%s in generated f32 code against double", what), out);
    else
        printf("\n  %s: %s", what, out);
    CU_ASSERT_EQUAL(rc, 0);
}

static void test_expv(void) {
    accuracy("expv", "input x: f32[batch, 1]\ny = exp(x)\noutput y\n", expv_driver, "--infer", "exp");
}

static void test_sigmoidv(void) {
    static const char dlm[] = "input x: f32[batch, 1]\ny = sigmoid(x)\noutput y\n";
    accuracy("sig", dlm, sigmoid_driver, "", "sigmoid (training code)");
    accuracy("sig", dlm, sigmoid_driver, "--infer", "sigmoid (--infer code)");
}

static void test_example(void) {
    const char *baked = generate(LENET, V_BAKED_PORTABLE), *load = generate(LENET, V_PORTABLE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(baked);
    CU_ASSERT_PTR_NOT_NULL_FATAL(load);
    char *exe = fmt("%s/classify", workdir), *exe_load = fmt("%s/classify-load", workdir), *out;
    const char *strict = "cc -std=c11 -O2 -Wall -Wextra -Wconversion -pedantic -Werror";
    int rc = runs(
        &out, fmt("%s -iquote %s %s/examples/classify.c %s/lenet.c -o %s -lm", strict, baked, SOURCE_ROOT, baked, exe));
    if (rc)
        fail("examples/classify.c does not build", out);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    rc = runs(&out, fmt("%s -DCLASSIFY_LOAD -iquote %s %s/examples/classify.c %s/lenet.c -o %s -lm", strict, load,
                        SOURCE_ROOT, load, exe_load));
    if (rc)
        fail("examples/classify.c -DCLASSIFY_LOAD does not build", out);
    CU_ASSERT_EQUAL_FATAL(rc, 0);

    static const struct {
        const char *file;
        int index; /* Fashion-MNIST test image */
    } samples[] = {{"ankle_boot.pgm", 0}, {"trouser.pgm", 2}, {"sneaker.pgm", 9}};
    size_t n;
    float *logits = outputs(LENET, V_BAKED_PORTABLE, 1, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(logits);
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char *path = fmt("%s/examples/samples/%s", SOURCE_ROOT, samples[i].file), *a, *b;
        CU_ASSERT_EQUAL(runs(&a, fmt("%s %s", exe, path)), 0);
        CU_ASSERT_EQUAL(runs(&b, fmt("%s --weights %s %s", exe_load, ckpt[LENET], path)), 0);
        CU_ASSERT_STRING_EQUAL(a, b);
        printf("\n    %s", strtok(a, "\n") ? a : "");
        const char *said = strstr(a, ": ");
        int cls = -1;
        for (int k = 0; said && k < 10; k++)
            if (strncmp(said + 2, class_names[k], strlen(class_names[k])) == 0 &&
                said[2 + strlen(class_names[k])] == ' ')
                cls = k;
        CU_ASSERT(cls >= 0);
        if (cls < 0 || !n_data_images)
            continue;
        /* the harness's logits for the same image: its argmax and softmax, as classify prints them */
        const float *z = logits + samples[i].index * 10;
        int best = 0;
        double sum = 0;
        for (int k = 1; k < 10; k++)
            best = z[k] > z[best] ? k : best;
        for (int k = 0; k < 10; k++)
            sum += exp((double)z[k] - (double)z[best]);
        char *want = fmt("%s: %s (%.1f%%)", path, class_names[best], 100 / sum);
        if (strcmp(a, want) != 0)
            fail("classify and the harness disagree", fmt("classify: %s\nharness:  %s", a, want));
        CU_ASSERT_STRING_EQUAL(a, want);
    }
    rc = runs(&out, fmt("%s --weights %s %s/examples/samples/trouser.pgm", exe_load, ckpt[MLP], SOURCE_ROOT));
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT(strstr(out, "another model") != NULL);

    /* the same image as P2 with maxval 255, as 16-bit P5 inverted (dark on light), and enlarged 3x: the same input
     * (--show draws it) and the same answer */
    size_t len;
    const unsigned char *src =
        (const unsigned char *)slurp_n(fmt("%s/examples/samples/trouser.pgm", SOURCE_ROOT), &len);
    CU_ASSERT_FATAL(len >= 784);
    const unsigned char *px = src + len - 784;
    char *p2 = fmt("%s/t-p2.pgm", workdir), *p5 = fmt("%s/t-inv16.pgm", workdir), *big = fmt("%s/t-big.pgm", workdir);
    FILE *f = fopen(p2, "w");
    fprintf(f, "P2\n# a comment\n28 28\n255\n");
    for (int k = 0; k < 784; k++)
        fprintf(f, "%d%c", px[k], k % 28 == 27 ? '\n' : ' ');
    fclose(f);
    f = fopen(p5, "wb");
    fprintf(f, "P5 28 28 65535\n");
    for (int k = 0; k < 784; k++) {
        int v = 65535 - 257 * px[k];
        fputc(v >> 8, f);
        fputc(v & 255, f);
    }
    fclose(f);
    f = fopen(big, "wb");
    fprintf(f, "P5\n84 84\n255\n");
    for (int y = 0; y < 84; y++)
        for (int x = 0; x < 84; x++)
            fputc(px[y / 3 * 28 + x / 3], f);
    fclose(f);
    char *orig;
    CU_ASSERT_EQUAL(runs(&orig, fmt("%s --show --top 3 %s/examples/samples/trouser.pgm", exe, SOURCE_ROOT)), 0);
    const char *want = strchr(orig, ':');
    CU_ASSERT_PTR_NOT_NULL_FATAL(want);
    const char *files[] = {p2, p5, big};
    for (int k = 0; k < 3; k++) {
        CU_ASSERT_EQUAL(runs(&out, fmt("%s --show --top 3 %s", exe, files[k])), 0);
        /* the text after the file name, without the ", inverted" note */
        char *got = strchr(out, ':');
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        char *note = strstr(got, ", inverted");
        if (k == 1)
            CU_ASSERT_PTR_NOT_NULL(note);
        if (note)
            memmove(note, note + 10, strlen(note + 10) + 1);
        if (strcmp(got, want) != 0)
            fail(fmt("classify %s differs from the original", files[k]), fmt("%s\nvs\n%s", out, orig));
        CU_ASSERT_STRING_EQUAL(got, want);
    }
}

int main(void) {
    atexit(free_kept);
    /* one BLAS thread per process, so outputs do not depend on how OpenBLAS splits the work */
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("embedded inference (dlc compile --infer)", suite_init, suite_clean);
    CU_add_test(s, "the generated C compiles with -std=c11 -Wall -Wextra -Wconversion -pedantic -Werror",
                test_strict_flags);
    CU_add_test(s, "_load outputs equal the training build's on the same checkpoint", test_matches_training_build);
    CU_add_test(s, "--weights (baked) equals _load", test_baked_equals_load);
    CU_add_test(s, "--portable equals the BLAS build to 1e-5", test_portable_equals_blas);
    CU_add_test(s, "predict_batch equals predict", test_predict_batch);
    CU_add_test(s, "batch 1 equals the batch build on every instruction set the CPU has", test_batch1_isa_paths);
    CU_add_test(s, "two contexts in two threads equal one thread", test_two_threads);
    CU_add_test(s, "load and predict make no heap allocation", test_no_allocation);
    CU_add_test(s, "the portable object imports only libm and mem/str functions", test_portable_imports);
    CU_add_test(s, "_load refuses truncated, foreign and damaged checkpoints, changing nothing", test_load_refuses);
    CU_add_test(s, "batch normalization folds into the kernel before it with --weights", test_batch_norm_folds);
    CU_add_test(s, "dlc check --infer prints code, constant-data and workspace bytes", test_check_infer);
    CU_add_test(s, "examples/classify builds and classifies the samples", test_example);
    CU_add_test(s, "exp in f32 code is within 1.5 ulp of exp, with exp's special values", test_expv);
    CU_add_test(s, "sigmoid in f32 code is within 4 ulp (--infer: 3) and 2e-7 absolute of sigmoid in double",
                test_sigmoidv);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
