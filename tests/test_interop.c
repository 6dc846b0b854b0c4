/* test_interop.c: models in and out of dlc, checked against NumPy and PyTorch themselves (Debian's python3-numpy
 * and python3-torch, run as /usr/bin/python3; docs/interop.md).
 *
 * For each model below, in a private temporary directory:
 *   - PyTorch -> dlc: tests/interop/book_models.py trains the book's PyTorch definition for one epoch on 2,000
 *     Fashion-MNIST images and saves its state_dict with np.savez and np.savez_compressed; `dlc compile --infer
 *     --weights` of each archive gives the same C (both forms read alike), which, linked with
 *     tests/embed_harness.c, gives PyTorch's outputs on 256 test images;
 *   - dlc -> PyTorch: the zoo trainer trains one epoch with `--save W.npz`; PyTorch's strict load_state_dict of
 *     that archive gives the outputs of dlc's code compiled with `--weights W.npz`; and the trainer's own
 *     checkpoint of the same weights (`--load W.npz --epochs 0 --save W.ckpt`) compiles to the same C;
 *   - dlc -> ONNX: `dlc export --weights W.npz` twice gives the same bytes, onnx.checker (python3-onnx) accepts it
 *     (tests/interop/check_onnx.py: opset >= 13, the .dlm's input and output names, the batch dimension symbolic)
 *     and so the export without weights, and ONNX Runtime (npm's onnxruntime-node, run by
 *     tests/interop/run_onnx.js) gives the outputs of dlc's C on the same images.
 *   - dlc -> ONNX -> dlc: `dlc import` of that export, exported again, is a model ONNX Runtime runs to dlc's outputs,
 *     and importing and exporting once more gives the same bytes (a fixed point);
 *   - PyTorch -> ONNX -> dlc: tests/interop/onnx_zoo.py exports the book's models with torch.onnx.export (reduced
 *     widths and resolutions for the CNNs); `dlc import`, `dlc compile --infer --weights` of the imported archive
 *     and the embedding harness give PyTorch's outputs on 32 test images; `dlc import` refuses unsupported
 *     operators, attributes and dynamic shapes (every node named) and malformed files (where they break), writing
 *     nothing.
 * With the argument `big`, the same for AlexNet and the VGG-11s at 224 x 224 on 8 images, untrained; with `modern`,
 * for NiN, GoogLeNet, ResNet-18 and DenseNet, trained one step on 16 images (big_round_trips).
 * "Gives the outputs": max |a - b| <= 1e-5 * max |b| + 1e-6 over all of a model's outputs, and the same top-1 class
 * for every image. A missing tool or data set fails the test with the command that installs it. On failure the
 * directory is kept and named; otherwise it is removed. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#ifndef SOURCE_ROOT
#define SOURCE_ROOT "."
#endif
#ifndef BUILD_ROOT
#define BUILD_ROOT "build"
#endif
#ifndef DLC_PATH
#define DLC_PATH "dlc"
#endif

#define PYTHON "/usr/bin/python3"

static char *workdir; /* made by main(), in big_files_dir() */
static bool any_failure;

/* run_words, its log in the work folder. */
static int runs(char **out, const char *cmd) { return run_words(out, fmt("%s/run.log", workdir), cmd); }

/* Runs cmd; on failure reports what and the output, and returns false. */
static bool step(const char *what, const char *cmd) {
    char *out;
    if (runs(&out, cmd) == 0)
        return true;
    any_failure = true;
    printf("\n  FAILED: %s\n  $ %s\n%s", what, cmd, out);
    CU_FAIL(what);
    return false;
}

/* ---- the tools ---- */

static bool have_python;

static void test_tools(void) {
    char *out, *script = fmt("%s/check.py", workdir);
    write_text(script, "import numpy, torch\nprint(numpy.__version__, torch.__version__)\n");
    have_python = runs(&out, fmt("%s %s", PYTHON, script)) == 0;
    if (have_python)
        printf("(numpy and torch %.*s) ", (int)strcspn(out, "\n"), out);
    if (!have_python) {
        any_failure = true;
        printf("\n  FAILED: " PYTHON " cannot import numpy and torch: apt-get install python3-numpy python3-torch\n%s",
               out);
    }
    CU_ASSERT(have_python);
    bool data = access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", R_OK) == 0;
    if (!data) {
        any_failure = true;
        printf("\n  FAILED: Fashion-MNIST is missing: apt-get install dataset-fashion-mnist\n");
    }
    CU_ASSERT(data);
}

/* python3-onnx for onnx.checker; node and ONNX Runtime (npm's onnxruntime-node, installed on first use into the
 * build tree, which git ignores) */
static bool have_onnx, have_ort;
static char *ort_modules;

static void test_onnx_tools(void) {
    char *out, *script = fmt("%s/check_onnx_import.py", workdir);
    write_text(script, "import onnx\nprint(onnx.__version__)\n");
    have_onnx = runs(&out, fmt("%s %s", PYTHON, script)) == 0;
    if (!have_onnx) {
        any_failure = true;
        printf("\n  FAILED: " PYTHON " cannot import onnx: apt-get install python3-onnx\n%s", out);
    }
    CU_ASSERT(have_onnx);
    if (runs(&out, "node --version") != 0) {
        any_failure = true;
        printf("\n  FAILED: node is missing: apt-get install nodejs npm (Debian's, only where node is missing)\n");
        CU_FAIL("node is missing");
        return;
    }
    if (runs(&out, "npm --version") != 0) {
        any_failure = true;
        printf("\n  FAILED: npm is missing: apt-get install npm (where node is Debian's; another node brings its "
               "own npm)\n");
        CU_FAIL("npm is missing");
        return;
    }
    char *prefix = fmt("%s/onnxruntime", BUILD_ROOT);
    ort_modules = fmt("%s/node_modules", prefix);
    if (access(fmt("%s/onnxruntime-node/package.json", ort_modules), R_OK) != 0 &&
        !step("npm install onnxruntime-node",
              fmt("npm install --prefix %s --ignore-scripts --no-audit --no-fund onnxruntime-node", prefix)))
        return;
    have_ort = true;
}

/* ---- outputs ---- */

static float *read_floats(const char *path, size_t *n) {
    size_t bytes = 0;
    char *b = slurp_n(path, &bytes);
    *n = bytes / sizeof(float);
    return (float *)(void *)b;
}

/* Checks a's outputs against b's, CLASSES per image: the tolerance over all of them and the top-1 of each (none
 * when CLASSES is 1: an output that is not a classification). */
static void same_outputs(const char *what, const char *pa, const char *pb, int classes) {
    size_t na, nb;
    float *a = read_floats(pa, &na), *b = read_floats(pb, &nb);
    bool ok = na == nb && na > 0 && na % (size_t)classes == 0;
    double diff = 0, top = 0;
    size_t images = ok ? na / (size_t)classes : 0, top1 = 0;
    for (size_t i = 0; ok && i < na; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        diff = d > diff || d != d ? d : diff;
        top = fmax(top, fabs((double)b[i]));
    }
    for (size_t r = 0; r < images; r++) {
        int ia = 0, ib = 0;
        for (int c = 1; c < classes; c++) {
            ia = a[r * (size_t)classes + (size_t)c] > a[r * (size_t)classes + (size_t)ia] ? c : ia;
            ib = b[r * (size_t)classes + (size_t)c] > b[r * (size_t)classes + (size_t)ib] ? c : ib;
        }
        top1 += ia == ib;
    }
    double tol = 1e-5 * top + 1e-6;
    ok = ok && diff <= tol && top1 == images;
    if (classes > 1)
        printf("\n    %-28s max|a-b| %.3g (tolerance %.3g), same top-1 on %zu of %zu images", what, diff, tol, top1,
               images);
    else
        printf("\n    %-34s max|a-b| %.3g (tolerance %.3g), %zu values", what, diff, tol, na);
    if (!ok) {
        any_failure = true;
        printf("\n  FAILED: %s: %zu and %zu outputs", what, na, nb);
    }
    CU_ASSERT(ok);
}

static void make_dir(const char *path) {
    if (mkdir(path, 0777) != 0)
        CU_FAIL("mkdir");
}

static bool same_file(const char *pa, const char *pb) {
    size_t na, nb;
    char *a = slurp_n(pa, &na), *b = slurp_n(pb, &nb);
    return na == nb && na > 0 && memcmp(a, b, na) == 0;
}

/* `dlc compile --infer --weights W` of DLM (the zoo's model of that name when NULL; W NULL when it has no
 * parameters) into DIR, linked with the embedding harness into DIR/run. */
static bool build_dlm(const char *model, const char *dlm, const char *weights, const char *dir) {
    char uc[64];
    size_t k = 0;
    for (; model[k] && k + 1 < sizeof uc; k++)
        uc[k] = (char)(model[k] >= 'a' && model[k] <= 'z' ? model[k] - 32 : model[k]);
    uc[k] = '\0';
    dlm = dlm ? dlm : fmt("%s/models/%s.dlm", SOURCE_ROOT, model);
    const char *w = weights ? fmt(" --weights %s", weights) : "";
    return step(fmt("dlc compile %s --infer%s", model, w),
                fmt("%s compile %s --infer%s -o %s", DLC_PATH, dlm, w, dir)) &&
           step(fmt("building the harness for %s", dir),
                fmt("cc -std=c11 -O2 -I%s -DMODEL=%s -DMODEL_UC=%s -DMODEL_H=\"%s.h\" -DEMBED_BAKED "
                    "%s/tests/embed_harness.c %s/%s.c -o %s/run -pthread -lopenblas -lm",
                    dir, model, uc, model, SOURCE_ROOT, dir, model, dir));
}

static bool build(const char *model, const char *weights, const char *dir) {
    return build_dlm(model, NULL, weights, dir);
}

/* ---- the round trips ---- */

/* `dlc import` of dlc's own export P.onnx, exported again (E1): ONNX Runtime gives dlc's outputs on it, and the
 * import of E1, exported (E2), is E1 byte for byte. E1 and E2 are written under the same base name and imported
 * into the same directory, so that the model's name and the .dlm's path in doc_string are the same. */
static void import_fixed_point(const char *m, const char *p, const char *onnx, const char *inputs, const char *dims,
                               const char *dlc_out) {
    char *dir = fmt("%s-imported", p), *e1 = fmt("%s-fp1/%s.onnx", p, m), *e2 = fmt("%s-fp2/%s.onnx", p, m);
    const char *dlm = fmt("%s/%s.dlm", dir, m), *npz = fmt("%s/%s.npz", dir, m);
    make_dir(fmt("%s-fp1", p));
    make_dir(fmt("%s-fp2", p));
    if (!step(fmt("dlc import %s", onnx), fmt("%s import %s -o %s", DLC_PATH, onnx, dir)) ||
        !step(fmt("dlc export of the imported %s", m),
              fmt("%s export %s --weights %s -o %s", DLC_PATH, dlm, npz, e1)) ||
        !step(fmt("dlc import %s", e1), fmt("%s import %s -o %s", DLC_PATH, e1, dir)) ||
        !step(fmt("dlc export of the imported %s again", m),
              fmt("%s export %s --weights %s -o %s", DLC_PATH, dlm, npz, e2)))
        return;
    bool same = same_file(e1, e2);
    printf("\n    %-28s export -> import -> export: %s", fmt("%s:", m), same ? "a fixed point" : "DIFFERENT");
    if (!same)
        any_failure = true;
    CU_ASSERT(same);
    if (step(fmt("ONNX Runtime on %s", e1), fmt("node %s/tests/interop/run_onnx.js %s %s %s %s %s-fp-ort.f32",
                                                SOURCE_ROOT, ort_modules, e1, inputs, dims, p)))
        same_outputs(fmt("%s: dlc -> import -> ORT", m), fmt("%s-fp-ort.f32", p), dlc_out, 10);
}

/* `dlc export` of dlc's trained weights: onnx.checker accepts it (tests/interop/check_onnx.py) and ONNX Runtime
 * gives the outputs of dlc's own C (in DLC_OUT); with `graph_checked_by` NULL, also: the export is deterministic,
 * the export without weights passes the checker, and import -> export is a fixed point (import_fixed_point). A model
 * that only widens another's layers names that one there, whose run checks the same graph on smaller files. */
static void onnx_export(const char *m, const char *p, const char *npz, const char *inputs, const char *dims,
                        const char *dlc_out, int params, const char *ops, const char *graph_checked_by) {
    if (!have_onnx || !have_ort) {
        CU_FAIL("python3-onnx or ONNX Runtime is missing (see above)");
        return;
    }
    char *onnx = fmt("%s.onnx", p), *again = fmt("%s-again.onnx", p), *bare = fmt("%s-bare.onnx", p);
    const char *dlm = fmt("%s/models/%s.dlm", SOURCE_ROOT, m);
    if (!step(fmt("dlc export %s", m), fmt("%s export %s --weights %s -o %s", DLC_PATH, dlm, npz, onnx)))
        return;
    char *check = fmt("%s %s/tests/interop/check_onnx.py", PYTHON, SOURCE_ROOT), *out;
    if (!graph_checked_by) {
        if (!step(fmt("dlc export %s again", m), fmt("%s export %s --weights %s -o %s", DLC_PATH, dlm, npz, again)) ||
            !step(fmt("dlc export %s without weights", m), fmt("%s export %s -o %s", DLC_PATH, dlm, bare)))
            return;
        bool same = same_file(onnx, again);
        if (!same)
            printf("\n  FAILED: %s: two exports differ", m);
        CU_ASSERT(same);
        if (!step(fmt("onnx.checker on %s", bare), fmt("%s %s x logits -1 %s", check, bare, ops)))
            return;
    }
    if (!step(fmt("onnx.checker on %s", onnx), fmt("%s %s x logits %d %s", check, onnx, params, ops)))
        return;
    runs(&out, fmt("%s %s x logits %d", check, onnx, params));
    printf("\n    %.*s", (int)strcspn(out, "\n"), out);
    if (step(fmt("ONNX Runtime on %s", onnx), fmt("node %s/tests/interop/run_onnx.js %s %s %s %s %s-ort.f32",
                                                  SOURCE_ROOT, ort_modules, onnx, inputs, dims, p)))
        same_outputs(fmt("%s: dlc -> ONNX Runtime", m), fmt("%s-ort.f32", p), dlc_out, 10);
    if (graph_checked_by)
        printf("\n    %-28s determinism, bare export, import fixed point: checked on %s's graph", fmt("%s:", m),
               graph_checked_by);
    else
        import_fixed_point(m, p, onnx, inputs, dims, dlc_out);
}

static void round_trips(const char *m, int params, const char *ops) {
    if (!have_python) {
        CU_FAIL("python3 with numpy and torch is missing (see above)");
        return;
    }
    char *p = fmt("%s/%s", workdir, m), *dlc_npz = fmt("%s-dlc.npz", p);
    if (!step(fmt("%s-train --save %s", m, dlc_npz),
              fmt("%s/models/%s-train --epochs 1 --limit 2000 --seed 3 --threads 1 --save %s --quiet", BUILD_ROOT, m,
                  dlc_npz)) ||
        !step(fmt("the book's %s in PyTorch", m),
              fmt("%s %s/tests/interop/book_models.py %s %s %s", PYTHON, SOURCE_ROOT, m, p, dlc_npz)))
        return;
    char *inputs = fmt("%s-inputs.f32", p);

    /* PyTorch -> dlc, from np.savez and np.savez_compressed */
    char *from_torch = fmt("%s-from-torch", p), *from_torch_z = fmt("%s-from-torch-z", p);
    if (build(m, fmt("%s.npz", p), from_torch) && build(m, fmt("%s-compressed.npz", p), from_torch_z)) {
        bool same = same_file(fmt("%s/%s.c", from_torch, m), fmt("%s/%s.c", from_torch_z, m));
        if (!same)
            printf("\n  FAILED: %s: np.savez and np.savez_compressed archives compile to different C", m);
        CU_ASSERT(same);
        if (step("running PyTorch's weights in dlc",
                 fmt("%s/run outputs - %s %s-torch-in-dlc.f32 256", from_torch, inputs, p)))
            same_outputs(fmt("%s: PyTorch -> dlc", m), fmt("%s-torch-in-dlc.f32", p), fmt("%s-torch.f32", p), 10);
    }

    /* dlc -> PyTorch */
    char *dlc = fmt("%s-dlc", p), *dlc_ckpt = fmt("%s-dlc-ckpt", p);
    if (build(m, dlc_npz, dlc) &&
        step("running dlc's weights in dlc", fmt("%s/run outputs - %s %s-dlc.f32 256", dlc, inputs, p)))
        same_outputs(fmt("%s: dlc -> PyTorch", m), fmt("%s-dlc-in-torch.f32", p), fmt("%s-dlc.f32", p), 10);
    onnx_export(m, p, dlc_npz, inputs, "1,28,28", fmt("%s-dlc.f32", p), params, ops, NULL);
    /* the archive holds what the trainer's checkpoint holds */
    if (step(fmt("%s-train --load %s --save CKPT", m, dlc_npz),
             fmt("%s/models/%s-train --load %s --epochs 0 --limit 10 --threads 1 --save %s.ckpt --quiet", BUILD_ROOT, m,
                 dlc_npz, dlc_ckpt)) &&
        build(m, fmt("%s.ckpt", dlc_ckpt), dlc_ckpt)) {
        bool same = same_file(fmt("%s/%s.c", dlc, m), fmt("%s/%s.c", dlc_ckpt, m));
        if (!same)
            printf("\n  FAILED: %s: the .npz and the checkpoint of the same weights compile to different C", m);
        CU_ASSERT(same);
    }
}

/* `dlc compile --infer` (weights loaded at run time with <name>_load) into DIR, linked with the harness into
 * DIR/run: the build for models whose weights are too many to compile in. */
static bool build_load(const char *model, const char *dir) {
    char uc[64];
    size_t k = 0;
    for (; model[k] && k + 1 < sizeof uc; k++)
        uc[k] = (char)(model[k] >= 'a' && model[k] <= 'z' ? model[k] - 32 : model[k]);
    uc[k] = '\0';
    return step(fmt("dlc compile %s --infer", model),
                fmt("%s compile %s/models/%s.dlm --infer -o %s", DLC_PATH, SOURCE_ROOT, model, dir)) &&
           step(fmt("building the harness for %s", dir),
                fmt("cc -std=c11 -O2 -I%s -DMODEL=%s -DMODEL_UC=%s -DMODEL_H=\"%s.h\" %s/tests/embed_harness.c "
                    "%s/%s.c -o %s/run -pthread -lopenblas -lm",
                    dir, model, uc, model, SOURCE_ROOT, dir, model, dir));
}

/* The models at 224 x 224 and 96 x 96, on 8 test images: `steps` > 0 trains both sides for one step on that many
 * images (batch norm's running statistics move), 0 leaves the book's initialisation on either side. PyTorch's
 * archive -> the trainer's --load, whose checkpoint the --infer build loads, gives PyTorch's outputs (and, with
 * `baked`, so does `dlc compile --infer --weights` of the archive itself); the trainer's --save W.npz -> PyTorch
 * gives dlc's; and dlc export of W.npz -> ONNX Runtime gives dlc's, its graph using the ONNX operators `ops`
 * (onnx_export; `graph_checked_by`: the model of the same graph, narrower, on which the export's other checks run). */
typedef struct Big {
    const char *model, *dims;
    int steps, params;
    bool baked;
    const char *ops, *graph_checked_by;
} Big;

static void big_round_trips(const Big *b) {
    if (!have_python) {
        CU_FAIL("python3 with numpy and torch is missing (see above)");
        return;
    }
    const char *m = b->model;
    char *p = fmt("%s/%s", workdir, m), *dlc_npz = fmt("%s-dlc.npz", p), *dir = fmt("%s-c", p);
    const char *train = fmt("%s/models/%s-train --epochs 0 --limit 1 --threads 1 --quiet", BUILD_ROOT, m);
    const char *first = b->steps ? fmt("%s/models/%s-train --epochs 1 --limit %d --batch %d --threads 1 --quiet",
                                       BUILD_ROOT, m, b->steps, b->steps)
                                 : train;
    if (!step(fmt("%s-train --save %s", m, dlc_npz), fmt("%s --seed 3 --save %s", first, dlc_npz)) ||
        !step(fmt("the book's %s in PyTorch", m),
              fmt("%s %s/tests/interop/book_models.py %s %s %s", PYTHON, SOURCE_ROOT, m, p, dlc_npz)) ||
        !step(fmt("%s-train --load %s.npz", m, p), fmt("%s --load %s.npz --save %s-torch.ckpt", train, p, p)) ||
        !step(fmt("%s-train --load %s", m, dlc_npz), fmt("%s --load %s --save %s-dlc.ckpt", train, dlc_npz, p)) ||
        !build_load(m, dir))
        return;
    char *inputs = fmt("%s-inputs.f32", p);
    if (step("running PyTorch's weights in dlc",
             fmt("%s/run outputs %s-torch.ckpt %s %s-torch-in-dlc.f32 8", dir, p, inputs, p)))
        same_outputs(fmt("%s: PyTorch -> dlc", m), fmt("%s-torch-in-dlc.f32", p), fmt("%s-torch.f32", p), 10);
    char *baked = fmt("%s-baked", p);
    if (b->baked && build(m, fmt("%s.npz", p), baked) &&
        step("running PyTorch's weights compiled in",
             fmt("%s/run outputs - %s %s-torch-baked.f32 8", baked, inputs, p)))
        same_outputs(fmt("%s: PyTorch -> dlc --weights", m), fmt("%s-torch-baked.f32", p), fmt("%s-torch.f32", p), 10);
    if (!step("running dlc's weights in dlc", fmt("%s/run outputs %s-dlc.ckpt %s %s-dlc.f32 8", dir, p, inputs, p)))
        return;
    same_outputs(fmt("%s: dlc -> PyTorch", m), fmt("%s-dlc-in-torch.f32", p), fmt("%s-dlc.f32", p), 10);
    onnx_export(m, p, dlc_npz, inputs, b->dims, fmt("%s-dlc.f32", p), b->params, b->ops, b->graph_checked_by);
}

/* each model, its input, the images of its one training step, its export's float initializers (parameters and
 * running statistics) and operators that must be there */
static const Big alexnet = {"alexnet", "1,224,224", 0, 16, false, "Conv,MaxPool,Gemm", NULL};
static const Big vgg11 = {"vgg11", "1,224,224", 0, 22, false, "Conv,MaxPool,Gemm", NULL};
/* full VGG-11's files are 515 MB each: its run checks the weights' ways in and out at that size, and leaves the
 * graph's other export checks to VGG-11, which has the same layers, a quarter as wide */
static const Big vgg11_full = {"vgg11_full", "1,224,224", 0, 22, false, "Conv,MaxPool,Gemm", "vgg11"};
static const Big nin = {"nin", "1,224,224", 16, 24, false, "Conv,MaxPool,GlobalAveragePool,Flatten", NULL};
static const Big googlenet = {"googlenet", "1,96,96", 16, 116, false, "Conv,MaxPool,Concat,GlobalAveragePool,Gemm",
                              NULL};
static const Big resnet18 = {"resnet18", "1,96,96", 16, 110, false, "Conv,BatchNormalization,Add,GlobalAveragePool",
                             NULL};
static const Big densenet = {
    "densenet", "1,96,96", 16, 126, true, "Conv,BatchNormalization,Concat,AveragePool,GlobalAveragePool", NULL};
static void test_alexnet(void) { big_round_trips(&alexnet); }
static void test_vgg11(void) { big_round_trips(&vgg11); }
static void test_vgg11_full(void) { big_round_trips(&vgg11_full); }
static void test_nin(void) { big_round_trips(&nin); }
static void test_googlenet(void) { big_round_trips(&googlenet); }
static void test_resnet18(void) { big_round_trips(&resnet18); }
static void test_densenet(void) { big_round_trips(&densenet); }

/* A node the exporter refuses (the adjoint of a slice with a step) is refused at its line, exit 1, nothing written;
 * -o is required (exit 2). */
static void test_export_refusals(void) {
    char *dlm = fmt("%s/us.dlm", workdir), *onnx = fmt("%s/us.onnx", workdir), *out;
    write_text(dlm, "input x: f32[batch, 6]\ny = grad(sum(x[:, ::2] * x[:, ::2]), x)\noutput y\n");
    CU_ASSERT_EQUAL(runs(&out, fmt("%s export %s -o %s", DLC_PATH, dlm, onnx)), 1);
    CU_ASSERT(strstr(out, "us.dlm:2:14: error: dlc export cannot write 'unslice' as ONNX: the adjoint of a slice with "
                          "a step") != NULL);
    CU_ASSERT(access(onnx, F_OK) != 0);
    CU_ASSERT_EQUAL(runs(&out, fmt("%s export %s", DLC_PATH, dlm)), 2);
    CU_ASSERT(strstr(out, "dlc export needs -o FILE.onnx") != NULL);
}

/* The scratch BN-LeNet (its batch norm is the book's own code in `param`, `state` and element-wise ops, which has no
 * state_dict of PyTorch's to round-trip with): dlc's trained weights exported, checked and run by ONNX Runtime. */
static void test_batchnorm(void) {
    if (!have_python) {
        CU_FAIL("python3 with numpy and torch is missing (see above)");
        return;
    }
    char *p = fmt("%s/batchnorm", workdir), *npz = fmt("%s-dlc.npz", p), *dir = fmt("%s-dlc", p);
    if (step("batchnorm-train --save", fmt("%s/models/batchnorm-train --epochs 1 --limit 1000 --seed 3 --threads 1 "
                                           "--save %s --quiet",
                                           BUILD_ROOT, npz)) &&
        step("the test images", fmt("%s %s/tests/interop/book_models.py inputs %s", PYTHON, SOURCE_ROOT, p)) &&
        build("batchnorm", npz, dir) &&
        step("running dlc's weights in dlc", fmt("%s/run outputs - %s-inputs.f32 %s-dlc.f32 256", dir, p, p)))
        onnx_export("batchnorm", p, npz, fmt("%s-inputs.f32", p), "1,28,28", fmt("%s-dlc.f32", p), 27,
                    "Conv,Sqrt,Div,AveragePool,Gemm", NULL); /* as batchnorm_concise's, and eps */
}

/* The ops no zoo model exports (reductions, permute, detach), in a model of their own: ONNX Runtime gives dlc's
 * outputs. */
static void test_export_ops(void) {
    if (!have_python) {
        CU_FAIL("python3 with numpy and torch is missing (see above)");
        return;
    }
    char *p = fmt("%s/reduce_ops", workdir), *dlm = fmt("%s.dlm", p), *dir = fmt("%s-dlc", p);
    write_text(dlm, "input x: f32[batch, 1, 28, 28]\n"
                    "k = reshape(arange(280), [28, 10]) / 280\n"
                    "h = sum(permute(x, [0, 1, 3, 2]), axis=(1, 2)) + detach(max(x, axis=(1, 2)))\n"
                    "logits = h @ k + sum(x, axis=(2, 3)) * sum(max(x, axis=3, keepdim=true), axis=(2, 3))\n"
                    "output logits\n");
    if (!step("the test images", fmt("%s %s/tests/interop/book_models.py inputs %s", PYTHON, SOURCE_ROOT, p)) ||
        !build_dlm("reduce_ops", dlm, NULL, dir) ||
        !step("running reduce_ops in dlc", fmt("%s/run outputs - %s-inputs.f32 %s-dlc.f32 256", dir, p, p)))
        return;
    char *onnx = fmt("%s.onnx", p);
    if (step("dlc export reduce_ops", fmt("%s export %s -o %s", DLC_PATH, dlm, onnx)) &&
        step("onnx.checker on reduce_ops", fmt("%s %s/tests/interop/check_onnx.py %s x logits 1 "
                                               "ReduceSum,ReduceMax,Transpose,Identity",
                                               PYTHON, SOURCE_ROOT, onnx)) &&
        step("ONNX Runtime on reduce_ops",
             fmt("node %s/tests/interop/run_onnx.js %s %s %s-inputs.f32 1,28,28 %s-ort.f32", SOURCE_ROOT, ort_modules,
                 onnx, p, p)))
        same_outputs("reduce_ops: dlc -> ONNX Runtime", fmt("%s-ort.f32", p), fmt("%s-dlc.f32", p), 10);
}

/* The modern CNNs (NiN, GoogLeNet's and DenseNet's concatenations, ResNet's residuals, batch norm) export without
 * weights into models onnx.checker accepts, its shape inference agreeing through every node, with the ONNX
 * operators they need; the slow suite's interop-big runs them. */
static void test_export_modern(void) {
    if (!have_onnx) {
        CU_FAIL("python3-onnx is missing (see above)");
        return;
    }
    const Big *models[] = {&nin, &googlenet, &resnet18, &densenet};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        const char *m = models[i]->model;
        char *onnx = fmt("%s/%s-bare.onnx", workdir, m), *out;
        char *check =
            fmt("%s %s/tests/interop/check_onnx.py %s x logits -1 %s", PYTHON, SOURCE_ROOT, onnx, models[i]->ops);
        if (step(fmt("dlc export %s", m), fmt("%s export %s/models/%s.dlm -o %s", DLC_PATH, SOURCE_ROOT, m, onnx)) &&
            step(fmt("onnx.checker on %s", onnx), check)) {
            runs(&out, check);
            printf("\n    %.*s", (int)strcspn(out, "\n"), out);
        }
    }
}

/* A model of any inputs and outputs (DLM; the zoo's model M when NULL) against ONNX Runtime, output by output:
 * tests/interop/zoo_io.py writes random weights and inputs (a batch of 8) and a driver for `dlc compile --infer
 * --weights`; `dlc export --weights` twice gives the same bytes, onnx.checker accepts it and the export without
 * weights, its graph uses the ONNX operators `ops`, and ONNX Runtime gives each output of dlc's C (as defined above;
 * no top-1: these outputs are not classifications). */
static void io_round_trip(const char *m, const char *dlm, const char *ops) {
    if (!have_python || !have_onnx || !have_ort) {
        CU_FAIL("python3 with numpy, torch and onnx, or ONNX Runtime, is missing (see above)");
        return;
    }
    char *dir = fmt("%s/io-%s", workdir, m), *out;
    dlm = dlm ? dlm : fmt("%s/models/%s.dlm", SOURCE_ROOT, m);
    make_dir(dir);
    if (!step(fmt("zoo_io.py %s", m),
              fmt("%s %s/tests/interop/zoo_io.py %s %s %s 8", PYTHON, SOURCE_ROOT, DLC_PATH, dlm, dir)) ||
        !step(fmt("building the driver for %s", m), fmt("cc -std=c11 -O1 -I%s/c %s/main.c %s/c/%s.c -o %s/run "
                                                        "-pthread -lopenblas -lm",
                                                        dir, dir, dir, m, dir)) ||
        !step(fmt("running %s in dlc", m), fmt("%s/run", dir)))
        return;
    char *npz = fmt("%s/w.npz", dir), *onnx = fmt("%s/%s.onnx", dir, m), *again = fmt("%s/again.onnx", dir);
    const char *w = access(npz, R_OK) == 0 ? fmt(" --weights %s", npz) : "";
    char *inputs = slurp_n(fmt("%s/inputs.txt", dir), NULL), *outputs = slurp_n(fmt("%s/outputs.txt", dir), NULL);
    inputs[strcspn(inputs, "\n")] = '\0';
    outputs[strcspn(outputs, "\n")] = '\0';
    char *check = fmt("%s %s/tests/interop/check_onnx.py", PYTHON, SOURCE_ROOT);
    if (!step(fmt("dlc export %s", m), fmt("%s export %s%s -o %s", DLC_PATH, dlm, w, onnx)) ||
        !step(fmt("dlc export %s again", m), fmt("%s export %s%s -o %s", DLC_PATH, dlm, w, again)) ||
        !step(fmt("onnx.checker on %s", onnx), fmt("%s %s %s %s -2 %s", check, onnx, inputs, outputs, ops)))
        return;
    CU_ASSERT(same_file(onnx, again));
    if (*w && (!step(fmt("dlc export %s without weights", m), fmt("%s export %s -o %s", DLC_PATH, dlm, again)) ||
               !step(fmt("onnx.checker on %s", again), fmt("%s %s %s %s -1 %s", check, again, inputs, outputs, ops))))
        return;
    runs(&out, fmt("%s %s %s %s -2", check, onnx, inputs, outputs));
    printf("\n    %.*s", (int)strcspn(out, "\n"), out);
    if (!step(fmt("ONNX Runtime on %s", onnx),
              fmt("node %s/tests/interop/run_onnx.js %s %s --io %s", SOURCE_ROOT, ort_modules, onnx, dir)))
        return;
    for (char *o = strtok(outputs, ","); o; o = strtok(NULL, ","))
        same_outputs(fmt("%s %s: dlc -> ONNX Runtime", m, o), fmt("%s/ort.%s.f32", dir, o),
                     fmt("%s/dlc.%s.f32", dir, o), 1);
}

/* The zoo's models of several inputs and outputs, unbatched ones among them, and the regression models: D2L's
 * autograd (comparisons and where from its `while` loop and branch, gradients broadcast over the batch), blocks
 * (a `while` loop), custom_layers (a mean over the batch), and the rest of the zoo the image tests do not cover. */
static void test_export_zoo_io(void) {
    static const struct {
        const char *model, *ops;
    } models[] = {
        {"autograd", "Less,Greater,Cast,Where,Expand,Sqrt,Sigmoid,Tanh"},
        {"blocks", "Gemm,Greater,Cast,Where,Abs,ReduceSum"},
        {"custom_layers", "Gemm,ReduceSum,Shape,Gather,Squeeze,Div"},
        {"params", "Gemm"},
        {"linreg", "Gemm"},
        {"polyfit", "Gemm"},
        {"weight_decay", "Gemm"},
        {"lasso", "Gemm"},
        {"house_prices", "Gemm"},
        {"conv_edge", "Conv"},
    };
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        io_round_trip(models[i].model, NULL, models[i].ops);
}

/* The ops no zoo model exports through the image tests, in a model of their own: slices (and the adjoint of one,
 * a Pad), cumsum, argmax, the comparisons and where, means within an example and over the batch. */
static void test_export_select_ops(void) {
    char *dlm = fmt("%s/select_ops.dlm", workdir);
    write_text(dlm, "input x: f32[batch, 1, 28, 28]\n"
                    "h = x[:, 0, 2:22:2, 3] * 4\n"
                    "c = cumsum(h, 1)\n"
                    "k = argmax(h, axis=1, keepdim=true) + argmin(c, axis=1, keepdim=true)\n"
                    "d = grad(sum(h[:, 1:4] * c[:, 1:4]), h)\n"
                    "e = where(c > mean(c), c, -c) + k * (h <= 0.5) + (h != c) - (h == 0) + (h >= 1) * (h < 2)\n"
                    "logits = e - mean(x) + mean(h, axis=1, keepdim=true) + d\n"
                    "output logits\n");
    io_round_trip("select_ops", dlm,
                  "Slice,Pad,CumSum,ArgMax,ArgMin,Cast,Where,Greater,LessOrEqual,Not,Equal,GreaterOrEqual,Less");
}

/* An imported model trains: with a train section appended, `dlc build` links its trainer, which loads the imported
 * archive, trains an epoch on 2,000 images and saves weights that differ from the ones it loaded (saved by the same
 * trainer with --epochs 0). */
static void fine_tune(const char *p, const char *m) {
    char *dlm = fmt("%s/%s.dlm", p, m), *text = slurp_n(dlm, NULL), *exe = fmt("%s/%s-train", p, m);
    write_text(dlm, fmt("%s\ninput y: i32[batch]\ntrain {\n    data = fashion_mnist(x, y)\n"
                        "    loss = cross_entropy(logits, y)\n    optimizer = sgd(lr = 0.1)\n    batch = 256\n"
                        "    epochs = 1\n    metrics = [accuracy(logits, y)]\n}\n",
                        text));
    if (!step(fmt("dlc build of the imported %s with a train section", m),
              fmt("%s build %s -o %s", DLC_PATH, dlm, exe)) ||
        !step(
            fmt("the imported %s's trainer saving what it loads", m),
            fmt("%s --load %s/%s.npz --epochs 0 --limit 10 --threads 1 --quiet --save %s/loaded.npz", exe, p, m, p)) ||
        !step(fmt("fine-tuning the imported %s", m),
              fmt("%s --load %s/%s.npz --epochs 1 --limit 2000 --threads 1 --quiet --save %s/tuned.npz", exe, p, m, p)))
        return;
    bool changed =
        !same_file(fmt("%s/loaded.npz", p), fmt("%s/tuned.npz", p)); /* one writer: the bytes are the values */
    printf("\n    %s: imported, a train section added, built and trained an epoch: %s", m,
           changed ? "the weights changed" : "THE WEIGHTS DID NOT CHANGE");
    CU_ASSERT(changed);
}

/* The book's models as torch.onnx.export writes them (tests/interop/onnx_zoo.py), imported: each imported model,
 * compiled with --infer --weights of the imported archive, gives PyTorch's outputs on 32 test images; the archives
 * of STRICT_LOADS, keyed by PyTorch's state_dict names, load into the PyTorch models with a strict load_state_dict. */
#define STRICT_LOADS "softmax mlp lenet alexnet vgg nin googlenet"
static void test_import_pytorch(void) {
    if (!have_python || !have_onnx) {
        CU_FAIL("python3 with numpy, torch and onnx is missing (see above)");
        return;
    }
    static const char *const models[] = {"softmax",  "mlp", "lenet",     "alexnet",  "vgg",
                                         "bn_lenet", "nin", "googlenet", "resnet18", "densenet"};
    char *dir = fmt("%s/zoo", workdir), *list = "", *out;
    make_dir(dir);
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        list = fmt("%s %s", list, models[i]);
    if (runs(&out, fmt("%s %s/tests/interop/onnx_zoo.py %s%s", PYTHON, SOURCE_ROOT, dir, list)) != 0) {
        any_failure = true;
        printf("\n  FAILED: torch.onnx.export of the book's models (tests/interop/onnx_zoo.py):\n%s", out);
        CU_FAIL("onnx_zoo.py");
        return;
    }
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        if (!strstr(line, "Warning") && !strstr(line, "warn"))
            printf("\n    %s", line);
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        const char *m = models[i];
        char *p = fmt("%s/%s", dir, m), *c = fmt("%s-c", p), uc[64];
        size_t k = 0;
        for (; m[k] && k + 1 < sizeof uc; k++)
            uc[k] = (char)(m[k] >= 'a' && m[k] <= 'z' ? m[k] - 32 : m[k]);
        uc[k] = '\0';
        if (!step(fmt("dlc import %s.onnx", p), fmt("%s import %s.onnx -o %s", DLC_PATH, p, p)) ||
            !step(fmt("dlc check of the imported %s", m), fmt("%s check %s/%s.dlm", DLC_PATH, p, m)) ||
            !step(fmt("dlc compile --infer --weights of the imported %s", m),
                  fmt("%s compile %s/%s.dlm --infer --weights %s/%s.npz --batch 32 -o %s", DLC_PATH, p, m, p, m, c)) ||
            !step(fmt("building the harness for the imported %s", m),
                  fmt("cc -std=c11 -O1 -I%s -DMODEL=%s -DMODEL_UC=%s -DMODEL_H=\"%s.h\" -DEMBED_BAKED "
                      "%s/tests/embed_harness.c %s/%s.c -o %s/run -pthread -lopenblas -lm",
                      c, m, uc, m, SOURCE_ROOT, c, m, c)) ||
            !step(fmt("running the imported %s", m), fmt("%s/run outputs - %s-inputs.f32 %s-dlc.f32 32", c, p, p)))
            continue;
        same_outputs(fmt("%s: PyTorch -> ONNX -> dlc", m), fmt("%s-dlc.f32", p), fmt("%s-torch.f32", p), 10);
    }
    /* the imported archives are PyTorch's state_dicts: a strict load_state_dict takes them (not bn_lenet's,
     * resnet18's and densenet's, some of whose batch norms torch.onnx.export folds into the convolutions before
     * them, renaming their weights: the file has no parameters of PyTorch's names to import) */
    bool loaded =
        runs(&out, fmt("%s %s/tests/interop/onnx_zoo.py --load %s %s", PYTHON, SOURCE_ROOT, dir, STRICT_LOADS)) == 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        printf("\n    %s%s", loaded ? "" : "FAILED: ", line);
    if (!loaded)
        any_failure = true;
    CU_ASSERT(loaded);
    fine_tune(fmt("%s/mlp", dir), "mlp");
}

/* What dlc import refuses, each with exit status 1 and nothing written: a model with unsupported operators,
 * attributes and a dynamic shape (tests/interop/bad_onnx.py writes it with onnx.helper), every node named in one
 * run; a truncated file, with the byte and the field where it breaks; an empty file; and bad usage (exit 2). */
static void test_import_refusals(void) {
    char *dir = fmt("%s/refusals", workdir), *out;
    make_dir(dir);
    if (have_onnx &&
        step("bad_onnx.py", fmt("%s %s/tests/interop/bad_onnx.py %s/bad.onnx", PYTHON, SOURCE_ROOT, dir))) {
        CU_ASSERT_EQUAL(runs(&out, fmt("%s import %s/bad.onnx -o %s/bad", DLC_PATH, dir, dir)), 1);
        /* the shapes are unknown past the input, but the operators are reported all the same */
        static const char *const expected[] = {
            "bad.onnx: error: dynamic shape: dimension 2 of graph input 'x' is 'height'",
            "bad.onnx: error: node 'erf' (Erf): unsupported operator",
            "bad.onnx: error: node 'lstm' (LSTM): unsupported operator",
            "bad.onnx: error: node 'shape' (Shape): unsupported operator",
        };
        for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
            bool found = strstr(out, expected[i]) != NULL;
            if (!found)
                printf("\n  FAILED: dlc import does not say \"%s\":\n%s", expected[i], out);
            CU_ASSERT(found);
        }
        CU_ASSERT(access(fmt("%s/bad", dir), F_OK) != 0);
        CU_ASSERT_EQUAL(runs(&out, fmt("%s import %s/bad.onnx -o %s/bad --static", DLC_PATH, dir, dir)), 2);
        if (step("bad_onnx.py --static",
                 fmt("%s %s/tests/interop/bad_onnx.py %s/bad2.onnx --static", PYTHON, SOURCE_ROOT, dir))) {
            CU_ASSERT_EQUAL(runs(&out, fmt("%s import %s/bad2.onnx -o %s/bad2", DLC_PATH, dir, dir)), 1);
            static const char *const nodes[] = {
                "node 'grouped' (Conv): group 2 is not supported",
                "node 'dilated' (Conv): dilations (2, 2) are not supported",
                "node 'erf' (Erf): unsupported operator",
                "node 'lstm' (LSTM): unsupported operator",
                "node 'ceil' (MaxPool): ceil_mode 1 is not supported",
                "node 'avg_ceil' (AveragePool): ceil_mode 1 is not supported",
                "node 'dilated_pool' (MaxPool): dilations (2, 2) are not supported",
                "node 'shape' (Shape): unsupported operator",
                "node 'softmax' (Softmax): attribute 'stash_type' is not supported",
            };
            for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
                bool found = strstr(out, nodes[i]) != NULL;
                if (!found)
                    printf("\n  FAILED: dlc import does not say \"%s\":\n%s", nodes[i], out);
                CU_ASSERT(found);
            }
            CU_ASSERT(access(fmt("%s/bad2", dir), F_OK) != 0);
        }
    }
    /* a file cut in the middle of a tensor: the byte, the field, and what is wrong */
    char *whole = fmt("%s/zoo/lenet.onnx", workdir), *cut = fmt("%s/cut.onnx", dir);
    size_t n;
    char *bytes = slurp_n(whole, &n);
    if (n > 1000) {
        FILE *f = fopen(cut, "wb");
        fwrite(bytes, 1, n / 2, f);
        fclose(f);
        CU_ASSERT_EQUAL(runs(&out, fmt("%s import %s -o %s/cut", DLC_PATH, cut, dir)), 1);
        bool said = strstr(out, "cut.onnx: error: not a well-formed ONNX model: byte ") &&
                    strstr(out, "in model.graph.") && strstr(out, "runs past the end of the file") &&
                    strstr(out, "the file is truncated or damaged");
        if (!said)
            printf("\n  FAILED: the truncated file's message:\n%s", out);
        CU_ASSERT(said);
        CU_ASSERT(access(fmt("%s/cut", dir), F_OK) != 0);
    } else {
        CU_FAIL("the PyTorch export of lenet is missing (see test_import_pytorch)");
    }
    write_text(fmt("%s/empty.onnx", dir), "");
    CU_ASSERT_EQUAL(runs(&out, fmt("%s import %s/empty.onnx -o %s/empty", DLC_PATH, dir, dir)), 1);
    CU_ASSERT(strstr(out, "the file is empty, not an ONNX model") != NULL);
    CU_ASSERT_EQUAL(runs(&out, fmt("%s import", DLC_PATH)), 2);
    CU_ASSERT(strstr(out, "no ONNX file given") != NULL);
    CU_ASSERT_EQUAL(runs(&out, fmt("%s import --help", DLC_PATH)), 0);
    CU_ASSERT(strstr(out, "usage: dlc import FILE.onnx [-o DIR]") != NULL);
}

/* each model and the number of float initializers its export has (parameters, running statistics, constants) */
#define ROUND_TRIP(name, params, ops)                                                                                  \
    static void test_##name(void) { round_trips(#name, params, ops); }
ROUND_TRIP(softmax, 2, "Gemm")
ROUND_TRIP(mlp, 4, "Gemm,Relu")
ROUND_TRIP(dropout_mlp, 6, "Gemm,Relu")
ROUND_TRIP(lenet, 10, "Conv,Sigmoid,AveragePool,Flatten,Gemm")
ROUND_TRIP(lenet_relu, 10, "Conv,Relu,MaxPool,Flatten,Gemm")
/* 5 layers' weights and biases; 4 batch norms' weights, biases, running means and variances */
ROUND_TRIP(batchnorm_concise, 26, "Conv,BatchNormalization,Gemm")

/* `test_interop`: the tools, the refusals and the 28 x 28 models; `test_interop big`: AlexNet and the VGG-11s (the
 * slow suite's interop-big); `test_interop modern`: NiN, GoogLeNet, ResNet-18 and DenseNet (interop-modern); a
 * second argument runs that model of the mode alone. */
int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "", *only = argc > 2 ? argv[2] : NULL;
    bool big = strcmp(mode, "big") == 0, modern = strcmp(mode, "modern") == 0;
    /* interop-big's files: ~2.5 GB for full VGG-11 */
    workdir = fmt("%s/dlc-interop-XXXXXX", big_files_dir(big ? 6ull << 30 : 1ull << 30));
    if (!mkdtemp(workdir))
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite(big ? "interop-big" : modern ? "interop-modern" : "interop", NULL, NULL);
    CU_add_test(s, "tools: numpy, torch, Fashion-MNIST", test_tools);
    CU_add_test(s, "tools: onnx, node, onnxruntime-node", test_onnx_tools);
    static const struct {
        const Big *model;
        bool modern;
        CU_TestFunc fn;
    } bigs[] = {{&alexnet, false, test_alexnet},       {&vgg11, false, test_vgg11},
                {&vgg11_full, false, test_vgg11_full}, {&nin, true, test_nin},
                {&googlenet, true, test_googlenet},    {&resnet18, true, test_resnet18},
                {&densenet, true, test_densenet}};
    if (big || modern) {
        for (size_t i = 0; i < sizeof bigs / sizeof bigs[0]; i++)
            if (bigs[i].modern == modern && (!only || strcmp(only, bigs[i].model->model) == 0))
                CU_add_test(s, fmt("%s: PyTorch <-> dlc (.npz), dlc -> ONNX", bigs[i].model->model), bigs[i].fn);
    } else {
        CU_add_test(s, "dlc export refusals", test_export_refusals);
        CU_add_test(s, "reductions, permute, detach: dlc -> ONNX", test_export_ops);
        CU_add_test(s, "softmax: PyTorch <-> dlc (.npz), dlc -> ONNX", test_softmax);
        CU_add_test(s, "mlp: PyTorch <-> dlc (.npz), dlc -> ONNX", test_mlp);
        CU_add_test(s, "dropout_mlp: PyTorch <-> dlc (.npz), dlc -> ONNX", test_dropout_mlp);
        CU_add_test(s, "lenet: PyTorch <-> dlc (.npz), dlc -> ONNX", test_lenet);
        CU_add_test(s, "lenet_relu: PyTorch <-> dlc (.npz), dlc -> ONNX", test_lenet_relu);
        CU_add_test(s, "batchnorm_concise: PyTorch <-> dlc (.npz), dlc -> ONNX", test_batchnorm_concise);
        CU_add_test(s, "batchnorm (scratch): dlc -> ONNX", test_batchnorm);
        CU_add_test(s, "modern CNNs: dlc export accepted by onnx.checker", test_export_modern);
        CU_add_test(s, "the zoo's other models: dlc -> ONNX, output by output", test_export_zoo_io);
        CU_add_test(s, "slices, cumsum, argmax, comparisons, where: dlc -> ONNX", test_export_select_ops);
        CU_add_test(s, "PyTorch's ONNX exports -> dlc import", test_import_pytorch);
        CU_add_test(s, "dlc import refusals", test_import_refusals);
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    if (failed || any_failure)
        printf("\nthe files are kept in %s\n", workdir);
    else
        remove_tree(workdir);
    free_kept();
    return failed || any_failure ? 1 : 0;
}
