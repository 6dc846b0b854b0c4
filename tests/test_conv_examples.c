/* test_conv_examples.c: D2L chapter 6's worked examples, written in .dlm and run through the generated C.
 *
 * Each example is a small model (inline below; 6.2.4 is the zoo's models/conv_edge.dlm) that the test compiles
 * with the dlc of this build, builds together with tests/conv_harness.c with `cc` and runs on inputs it writes, in
 * two configurations: f32 with OpenBLAS, and f64 with --portable (the two gemm paths of the im2col convolution).
 * Outputs are compared with the book's numbers, exactly: every value involved is an integer or a multiple of a
 * power of two small enough that any order of summation gives the same float.
 *   6.2  cross-correlation with a given kernel; edge detection with [[1, -1]] (and its transpose seeing nothing);
 *        learning the kernel with 10 steps of SGD, the trajectory recomputed here step by step;
 *   6.3  output shapes under padding and stride, from the compiler library (elaborate), from `dlc check`, from
 *        the generated <NAME>_OUTPUT_Y_SIZE, and the values against a direct convolution computed here;
 *   6.4  several input channels, several output channels (kernels stacked with concat in an `init`), and a 1x1
 *        convolution against the matrix product;
 *   6.5  max and average pooling with windows, padding and stride, on constants in the .dlm and on inputs, over
 *        channels; beyond the book, max pooling's padding never wins a max, average pooling counts it, and
 *        unequal windows, strides and padding on an input without order match a direct pooling computed here.
 * A failure prints the model, the configuration and the numbers; the work directory is kept then. */
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

#include "dlc.h"

#ifndef SOURCE_ROOT
#define SOURCE_ROOT "."
#endif
#ifndef DLC_PATH
#define DLC_PATH "dlc"
#endif

static char workdir[] = "/tmp/dlc-conv-examples-XXXXXX";
static bool any_failure;

/* ---- small utilities (as in test_gradcheck.c) ---- */

static void fail(const char *what, const char *detail) {
    any_failure = true;
    printf("\n  FAILED: %s\n%s\n", what, detail ? detail : "");
}

/* A tensor literal for .dlm: `tensor([v0, v1, ...])` reshaped to dims (values exact in f32, printed with %.17g). */
static char *literal(const double *v, int rank, const int *dims) {
    int64_t n = 1;
    for (int k = 0; k < rank; k++)
        n *= dims[k];
    size_t cap = (size_t)n * 26 + 64, len = 0;
    char *s = keep(malloc(cap));
    len += (size_t)snprintf(s + len, cap - len, "reshape(tensor([");
    for (int64_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%.17g", i ? ", " : "", v[i]);
    len += (size_t)snprintf(s + len, cap - len, "]), [");
    for (int k = 0; k < rank; k++)
        len += (size_t)snprintf(s + len, cap - len, "%s%d", k ? ", " : "", dims[k]);
    snprintf(s + len, cap - len, "])");
    return s;
}

/* ---- building and running a model ---- */

typedef struct Config {
    const char *tag;   /* a subdirectory of the work directory */
    const char *flags; /* dlc compile flags, space-separated */
} Config;

static const Config configs[] = {
    {"f32-blas", ""},
    {"f64-portable", "--dtype f64 --portable"},
};
#define NCONFIGS ((int)(sizeof configs / sizeof configs[0]))

typedef struct Model {
    const char *name;           /* the file's base name, hence the generated symbols' prefix */
    const char *text;           /* the .dlm source; NULL: `path` is compiled */
    const char *path;           /* an existing model file */
    const char *inputs;         /* the harness's INPUTS: "F(x,X) F(y,Y)" */
    const char *forward_inputs; /* FORWARD_INPUTS, when <model>_forward takes fewer inputs; NULL: inputs */
    const char *outputs;        /* the harness's OUTPUTS: "O(y,Y)" */
    bool trains;
} Model;

static const char *model_desc(const Model *m) { return m->text ? m->text : m->path; }

/* Compiles the model in configuration `c` and links it with the harness; returns the executable, or NULL. */
static char *build(const Model *m, const Config *c) {
    char *base = fmt("%s/%s", workdir, c->tag), *dir = fmt("%s/%s.out", base, m->name);
    char *log = fmt("%s/%s.log", base, m->name), *dlm = m->path ? (char *)m->path : fmt("%s/%s.dlm", base, m->name);
    if (mkdir_p(base) != 0 || mkdir_p(dir) != 0 || (m->text && !write_text(dlm, m->text))) {
        fail(m->name, "cannot write the model");
        return NULL;
    }
    char *argv[16] = {DLC_PATH, "compile", dlm, "-o", dir};
    int k = 5;
    char *flags = keep(strdup(c->flags));
    for (char *w = strtok(flags, " "); w && k < 15; w = strtok(NULL, " "))
        argv[k++] = w;
    argv[k] = NULL;
    if (run(argv, log) != 0) {
        fail(fmt("%s (%s): dlc compile failed", m->name, c->tag),
             fmt("%s\n--- model ---\n%s", slurp(log), model_desc(m)));
        return NULL;
    }
    char *uc = keep(strdup(m->name));
    for (char *p = uc; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    char *exe = fmt("%s/%s.exe", base, m->name);
    char *cc[] = {"cc",
                  "-std=c11",
                  "-O1",
                  "-Wall",
                  "-Wextra",
                  "-Wconversion",
                  "-pedantic",
                  "-Werror",
                  "-iquote",
                  dir,
                  fmt("-DMODEL=%s", m->name),
                  fmt("-DMODEL_UC=%s", uc),
                  fmt("-DMODEL_H=\"%s.h\"", m->name),
                  fmt("-DINPUTS=%s", m->inputs),
                  fmt("-DOUTPUTS=%s", m->outputs),
                  fmt("-DFORWARD_INPUTS=%s", m->forward_inputs ? m->forward_inputs : m->inputs),
                  m->trains ? "-DTRAINS" : "-DNO_TRAINING",
                  SOURCE_ROOT "/tests/conv_harness.c",
                  fmt("%s/%s.c", dir, m->name),
                  "-o",
                  exe,
                  "-lopenblas",
                  "-lm",
                  NULL};
    if (run(cc, log) != 0) {
        fail(fmt("%s (%s): the generated C does not compile", m->name, c->tag),
             fmt("%s\n--- model ---\n%s", slurp(log), model_desc(m)));
        return NULL;
    }
    return exe;
}

/* Writes the input values and runs the harness with `args` (space-separated; "VALUES" stands for the values
 * file). Returns its output, or NULL after reporting a failure. */
static char *run_harness(const Model *m, const Config *c, const char *exe, const char *args, const double *values,
                         int nvalues) {
    char *vals = fmt("%s/%s/%s.values", workdir, c->tag, m->name), *log = fmt("%s/%s/%s.run", workdir, c->tag, m->name);
    FILE *f = fopen(vals, "w");
    if (!f) {
        fail(m->name, "cannot write the input values");
        return NULL;
    }
    for (int i = 0; i < nvalues; i++)
        fprintf(f, "%.17g\n", values[i]);
    fclose(f);
    char *argv[16] = {(char *)exe};
    int k = 1;
    char *a = keep(strdup(args));
    for (char *w = strtok(a, " "); w && k < 15; w = strtok(NULL, " "))
        argv[k++] = strcmp(w, "VALUES") == 0 ? vals : w;
    argv[k] = NULL;
    int rc = run(argv, log);
    char *out = slurp(log);
    if (rc != 0) {
        fail(fmt("%s (%s): the harness failed (exit %d)", m->name, c->tag, rc),
             fmt("%s\n--- model ---\n%s", out, model_desc(m)));
        return NULL;
    }
    return out;
}

/* The numbers of the output line that starts with `key` ("output y", "param 0 0.weight", "loss 3"): the first
 * one (a size, or the value of a loss line) in *first, up to `max` more in v. Returns how many followed, or -1. */
static int line_values(const char *out, const char *key, double *first, double *v, int max) {
    size_t kl = strlen(key);
    for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, kl) != 0 || p[kl] != ' ')
            continue;
        char *q = (char *)p + kl, *end;
        *first = strtod(q, &end);
        if (end == q)
            return -1;
        int n = 0;
        for (q = end;; q = end) {
            double x = strtod(q, &end);
            if (end == q || n >= max)
                break;
            v[n++] = x;
        }
        return n;
    }
    return -1;
}

/* What an output should hold: `size` values per example, each within `tol` of `want` (0: exactly). */
typedef struct Expect {
    const char *output;
    int size;
    const double *want;
    double tol;
} Expect;

#define MAX_VALUES 256

/* Checks one run's outputs against the expectations; true when all agree. */
static bool check_outputs(const Model *m, const Config *c, const char *out, const Expect *e, int ne) {
    bool ok = true;
    for (int i = 0; i < ne; i++) {
        double size, got[MAX_VALUES];
        int n = line_values(out, fmt("output %s", e[i].output), &size, got, MAX_VALUES);
        if (n < 0 || size != e[i].size || n != e[i].size) {
            fail(fmt("%s (%s): output %s: expected %d values (the size macro too), got %d, size macro %g", m->name,
                     c->tag, e[i].output, e[i].size, n, n < 0 ? -1.0 : size),
                 fmt("%s\n--- model ---\n%s", out, model_desc(m)));
            ok = false;
            continue;
        }
        for (int j = 0; j < n; j++)
            if (!(fabs(got[j] - e[i].want[j]) <= e[i].tol)) {
                char *want = "", *have = "";
                for (int k = 0; k < n; k++) {
                    want = fmt("%s %g", want, e[i].want[k]);
                    have = fmt("%s %.9g", have, got[k]);
                }
                fail(fmt("%s (%s): output %s[%d] is %.9g, expected %g", m->name, c->tag, e[i].output, j, got[j],
                         e[i].want[j]),
                     fmt("expected:%s\ngot:     %s\n--- model ---\n%s", want, have, model_desc(m)));
                ok = false;
                break;
            }
    }
    return ok;
}

/* Runs the model forward on one example in every configuration and checks its outputs. */
static void expect_forward(const Model *m, const double *values, int nvalues, const Expect *e, int ne) {
    for (int ci = 0; ci < NCONFIGS; ci++) {
        char *exe = build(m, &configs[ci]);
        CU_ASSERT_PTR_NOT_NULL(exe);
        if (!exe)
            continue;
        char *out = run_harness(m, &configs[ci], exe, "forward VALUES", values, nvalues);
        CU_ASSERT_PTR_NOT_NULL(out);
        if (out)
            CU_ASSERT_TRUE(check_outputs(m, &configs[ci], out, e, ne));
    }
}

/* ---- 6.2 convolutions for images ---- */

/* 6.2.1: corr2d(X, K) with X = 0..8 and K = [[0, 1], [2, 3]], the kernel given through weight_init. */
static void test_cross_correlation(void) {
    Model m = {.name = "xcorr",
               .text = "input x: f32[batch, 1, 3, 3]\n"
                       "output y = x |> conv2d(1, kernel=2, bias=false, weight_init=tensor([[[[0, 1], [2, 3]]]]))\n",
               .inputs = "F(x,X)",
               .outputs = "O(y,Y)"};
    double x[9];
    for (int i = 0; i < 9; i++)
        x[i] = i;
    static const double y[] = {19, 25, 37, 43};
    Expect e[] = {{"y", 4, y, 0}};
    expect_forward(&m, x, 9, e, 1);
}

/* The 6 x 8 image of 6.2.3: ones, with columns 2..5 zero. */
static double edge_image(int i, int j) {
    (void)i;
    return j >= 2 && j <= 5 ? 0 : 1;
}

/* 6.2.3: K = [[1, -1]] (set by an `init` statement) marks the edges of X: +1 at column 1, -1 at column 5. The
 * same layer instance on X's transpose sees no vertical edge and gives zeros. */
static void test_edge_detection(void) {
    Model m = {.name = "edge",
               .text = "input x: f32[batch, 1, 6, 8]\n"
                       "input xt: f32[batch, 1, 8, 6]\n"
                       "edge = conv2d(1, kernel=(1, 2), bias=false)\n"
                       "init \"edge.weight\" = tensor([[[[1, -1]]]])\n"
                       "output y = x |> edge\n"
                       "output yt = xt |> edge\n",
               .inputs = "F(x,X) F(xt,XT)",
               .outputs = "O(y,Y) O(yt,YT)"};
    double v[96], y[42], yt[40] = {0};
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 8; j++)
            v[i * 8 + j] = v[48 + j * 6 + i] = edge_image(i, j);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 7; j++)
            y[i * 7 + j] = j == 1 ? 1 : j == 5 ? -1 : 0;
    Expect e[] = {{"y", 42, y, 0}, {"yt", 40, yt, 0}};
    expect_forward(&m, v, 96, e, 2);
}

/* 6.2.4: the zoo's conv_edge.dlm learns K from (X, Y) with 10 steps of SGD, lr 3e-2, on the summed squared error.
 * The loss at the 10th step falls below 0.3 (the book: 0.022 from PyTorch's initialisation; 0.05 from ours) and
 * the kernel ends near [1, -1]; every step's loss and the final kernel are also recomputed here from the initial
 * kernel the model drew, by hand: yhat = w0 X[i][j] + w1 X[i][j+1], gradient 2 sum (yhat - Y) X[i][j+k]. */
static void test_learning_kernel(void) {
    Model m = {.name = "conv_edge",
               .path = SOURCE_ROOT "/models/conv_edge.dlm",
               .inputs = "F(x,X) F(y,Y)",
               .forward_inputs = "F(x,X)",
               .outputs = "O(yhat,YHAT)",
               .trains = true};
    const int steps = 10;
    const double lr = 3e-2;
    double v[48 + 42];
    for (int i = 0; i < 6; i++) {
        for (int j = 0; j < 8; j++)
            v[i * 8 + j] = edge_image(i, j);
        for (int j = 0; j < 7; j++)
            v[48 + i * 7 + j] = edge_image(i, j) - edge_image(i, j + 1);
    }
    for (int ci = 0; ci < NCONFIGS; ci++) {
        const Config *c = &configs[ci];
        double rel = ci == 0 ? 1e-4 : 1e-10; /* f32 rounds each of the 10 steps */
        char *exe = build(&m, c);
        CU_ASSERT_PTR_NOT_NULL(exe);
        char *out = exe ? run_harness(&m, c, exe, fmt("train VALUES %d %.17g", steps, lr), v, 90) : NULL;
        CU_ASSERT_PTR_NOT_NULL(out);
        if (!out)
            continue;
        double size, w[2], w_end[2], loss[10];
        bool parsed = line_values(out, "param 0 0.weight", &size, w, 2) == 2 && size == 2 &&
                      line_values(out, fmt("param %d 0.weight", steps), &size, w_end, 2) == 2;
        for (int s = 0; parsed && s < steps; s++)
            parsed = line_values(out, fmt("loss %d", s + 1), &loss[s], NULL, 0) == 0;
        CU_ASSERT_TRUE(parsed);
        if (!parsed) {
            fail(fmt("conv_edge (%s): cannot read the training trace", c->tag), out);
            continue;
        }
        /* the book's claims */
        CU_ASSERT_TRUE(loss[steps - 1] < 0.3);
        CU_ASSERT_TRUE(loss[steps - 1] < loss[0] / 100);
        CU_ASSERT_DOUBLE_EQUAL(w_end[0], 1, 0.1);
        CU_ASSERT_DOUBLE_EQUAL(w_end[1], -1, 0.1);
        if (!(loss[steps - 1] < 0.3) || fabs(w_end[0] - 1) > 0.1 || fabs(w_end[1] + 1) > 0.1)
            fail(fmt("conv_edge (%s): after 10 steps the loss should be < 0.3 and the kernel near [1, -1]", c->tag),
                 out);
        /* the trajectory, recomputed */
        bool same = true;
        for (int s = 0; s < steps; s++) {
            double l = 0, g[2] = {0, 0};
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 7; j++) {
                    double d = w[0] * v[i * 8 + j] + w[1] * v[i * 8 + j + 1] - v[48 + i * 7 + j];
                    l += d * d;
                    g[0] += 2 * d * v[i * 8 + j];
                    g[1] += 2 * d * v[i * 8 + j + 1];
                }
            if (!(fabs(loss[s] - l) <= rel * fmax(l, 1e-3))) {
                fail(fmt("conv_edge (%s): step %d's loss is %.9g, by hand %.9g", c->tag, s + 1, loss[s], l), out);
                same = false;
            }
            w[0] -= lr * g[0];
            w[1] -= lr * g[1];
        }
        for (int k = 0; k < 2; k++)
            if (!(fabs(w_end[k] - w[k]) <= rel * 10)) {
                fail(fmt("conv_edge (%s): the kernel ends at %.9g, by hand %.9g", c->tag, w_end[k], w[k]), out);
                same = false;
            }
        CU_ASSERT_TRUE(same);
    }
}

/* ---- 6.3 padding and stride ---- */

/* Direct cross-correlation of one image (C channels, h x w) with O kernels [O, C, kh, kw]: the reference. */
static void conv_ref(const double *x, int C, int h, int w, const double *k, int O, int kh, int kw, int ph, int pw,
                     int sh, int sw, double *y, int oh, int ow) {
    for (int o = 0; o < O; o++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                double s = 0;
                for (int c = 0; c < C; c++)
                    for (int a = 0; a < kh; a++)
                        for (int b = 0; b < kw; b++) {
                            int r = i * sh - ph + a, q = j * sw - pw + b;
                            if (r >= 0 && r < h && q >= 0 && q < w)
                                s += x[(c * h + r) * w + q] * k[((o * C + c) * kh + a) * kw + b];
                        }
                y[(o * oh + i) * ow + j] = s;
            }
}

/* The shape of output `name` as the compiler library infers it (parse, elaborate), or rank -1 with the
 * diagnostics in *diags. */
static Shape library_shape(const char *text, const char *name, char **diags) {
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    Ctx ctx;
    ctx_init(&ctx, mem);
    Shape s = {.rank = -1};
    Program *prog = parse_program(source_from_string(&ctx, "shape.dlm", text));
    ElabOptions eo = {.batch = 0, .training = false};
    Graph *g = ctx.diag.errors == 0 ? elaborate(prog, "shape", &eo) : NULL;
    for (int i = 0; g && ctx.diag.errors == 0 && i < g->outputs.n; i++)
        if (strcmp(g->outputs.v[i].name, name) == 0)
            s = g->outputs.v[i].node->shape;
    ctx_free(&ctx);
    fclose(mem);
    *diags = keep(strdup(buf ? buf : ""));
    free(buf);
    return s;
}

/* The type `dlc check` prints for output `name` ("f32[batch 1, 1, 8, 8]"), or NULL. */
static char *check_type(const char *path, const char *name, char **log_text) {
    char *log = fmt("%s.check", path);
    char *argv[] = {DLC_PATH, "check", (char *)path, NULL};
    int rc = run(argv, log);
    *log_text = slurp(log);
    if (rc != 0)
        return NULL;
    const char *sec = strstr(*log_text, "\noutputs\n");
    for (const char *p = sec ? sec + 9 : NULL; p && *p == ' '; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        const char *q = p + strspn(p, " ");
        size_t nl = strlen(name);
        if (strncmp(q, name, nl) != 0 || q[nl] != ' ')
            continue;
        q += nl + strspn(q + nl, " ");
        return keep(strndup(q, strcspn(q, "\n")));
    }
    return NULL;
}

/* 6.3: on an 8 x 8 input, conv2d(1, kernel, padding, stride) gives the book's shapes; the kernel is given, so
 * the values are checked too, against conv_ref. */
static void conv_shape_case(const char *name, int kh, int kw, int ph, int pw, int sh, int sw, int oh, int ow) {
    double k[25], x[64], y[64];
    for (int i = 0; i < kh * kw; i++)
        k[i] = (double)(i * 7 % 5 - 2);
    for (int i = 0; i < 64; i++)
        x[i] = (double)((i * 5 + 3) % 9 - 4);
    int kd[] = {1, 1, kh, kw};
    char *text = fmt("input x: f32[batch, 1, 8, 8]\n"
                     "output y = x |> conv2d(1, kernel=(%d, %d), padding=(%d, %d), stride=(%d, %d), bias=false,\n"
                     "                       weight_init=%s)\n",
                     kh, kw, ph, pw, sh, sw, literal(k, 4, kd));
    /* the compiler library */
    char *diags;
    Shape s = library_shape(text, "y", &diags);
    bool lib_ok = s.rank == 4 && s.batched && s.d[0] == 1 && s.d[1] == 1 && s.d[2] == oh && s.d[3] == ow;
    CU_ASSERT_TRUE(lib_ok);
    if (!lib_ok) {
        Ctx ctx;
        ctx_init(&ctx, stderr);
        fail(fmt("%s: elaborate gives y %s, expected [batch 1, 1, %d, %d]", name,
                 s.rank < 0 ? "(none)" : shape_str(&ctx, &s), oh, ow),
             fmt("%s\n--- model ---\n%s", diags, text));
        ctx_free(&ctx);
    }
    /* dlc check */
    char *path = fmt("%s/%s.dlm", workdir, name), *log, *want = fmt("f32[batch 1, 1, %d, %d]", oh, ow);
    CU_ASSERT_TRUE_FATAL(write_text(path, text));
    char *type = check_type(path, "y", &log);
    CU_ASSERT_PTR_NOT_NULL(type);
    CU_ASSERT_TRUE(type && strcmp(type, want) == 0);
    if (!type || strcmp(type, want) != 0)
        fail(fmt("%s: dlc check prints y as %s, expected %s", name, type ? type : "(nothing)", want), log);
    /* the generated size macro and the values */
    conv_ref(x, 1, 8, 8, k, 1, kh, kw, ph, pw, sh, sw, y, oh, ow);
    Model m = {.name = name, .text = text, .inputs = "F(x,X)", .outputs = "O(y,Y)"};
    Expect e[] = {{"y", oh * ow, y, 0}};
    expect_forward(&m, x, 64, e, 1);
}

static void test_padding_stride(void) {
    conv_shape_case("pad_k3_p1", 3, 3, 1, 1, 1, 1, 8, 8);
    conv_shape_case("pad_k53_p21", 5, 3, 2, 1, 1, 1, 8, 8);
    conv_shape_case("stride_k3_p1_s2", 3, 3, 1, 1, 2, 2, 4, 4);
    conv_shape_case("stride_k35_p01_s34", 3, 5, 0, 1, 3, 4, 2, 2);
}

/* ---- 6.4 multiple input and output channels ---- */

/* X: two channels, 0..8 and 1..9 */
static void two_channel_x(double *x) {
    for (int i = 0; i < 9; i++) {
        x[i] = i;
        x[9 + i] = i + 1;
    }
}

/* 6.4.1: corr2d_multi_in sums the channels' cross-correlations. */
static void test_multi_input_channels(void) {
    Model m = {.name = "multi_in",
               .text = "input x: f32[batch, 2, 3, 3]\n"
                       "output y = x |> conv2d(1, kernel=2, bias=false,\n"
                       "                       weight_init=tensor([[[[0, 1], [2, 3]], [[1, 2], [3, 4]]]]))\n",
               .inputs = "F(x,X)",
               .outputs = "O(y,Y)"};
    double x[18];
    two_channel_x(x);
    static const double y[] = {56, 72, 104, 120};
    Expect e[] = {{"y", 4, y, 0}};
    expect_forward(&m, x, 18, e, 1);
}

/* 6.4.2: K = torch.stack((K, K + 1, K + 2), 0), written as concat of constants in an `init`. */
static void test_multi_output_channels(void) {
    Model m = {.name = "multi_out",
               .text = "input x: f32[batch, 2, 3, 3]\n"
                       "K = tensor([[[[0, 1], [2, 3]], [[1, 2], [3, 4]]]])\n"
                       "output y = x |> conv2d(3, kernel=2, bias=false)\n"
                       "init \"0.weight\" = concat([K, K + 1, K + 2], axis=0)\n",
               .inputs = "F(x,X)",
               .outputs = "O(y,Y)"};
    double x[18];
    two_channel_x(x);
    static const double y[] = {56, 72, 104, 120, 76, 100, 148, 172, 96, 128, 192, 224};
    Expect e[] = {{"y", 12, y, 0}};
    expect_forward(&m, x, 18, e, 1);
}

/* 6.4.3: a 1 x 1 convolution is a matrix product over the channels: Y[o, :] = sum_c K[o, c] X[c, :]. X and K are
 * random multiples of 1/1024 in [-1, 1], so the products and their sums are exact in f32. */
static void test_conv_1x1(void) {
    uint64_t st = 6403;
    double x[27], k[6], y[18];
    for (int i = 0; i < 33; i++) {
        uint64_t z = (st += 0x9E3779B97F4A7C15u);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
        z ^= z >> 31;
        double r = (double)((int64_t)(z % 2049) - 1024) / 1024;
        if (i < 27)
            x[i] = r;
        else
            k[i - 27] = r;
    }
    for (int o = 0; o < 2; o++)
        for (int p = 0; p < 9; p++) {
            y[o * 9 + p] = 0;
            for (int c = 0; c < 3; c++)
                y[o * 9 + p] += k[o * 3 + c] * x[c * 9 + p];
        }
    int kd[] = {2, 3, 1, 1};
    Model m = {.name = "conv1x1",
               .text = fmt("input x: f32[batch, 3, 3, 3]\n"
                           "output y = x |> conv2d(2, kernel=1, bias=false, weight_init=%s)\n",
                           literal(k, 4, kd)),
               .inputs = "F(x,X)",
               .outputs = "O(y,Y)"};
    Expect e[] = {{"y", 18, y, 0}};
    expect_forward(&m, x, 27, e, 1);
}

/* ---- 6.5 pooling ---- */

/* 6.5.1: D2L's pool2d moves its 2 x 2 window by 1; X = 0..8, once fed from C and once a constant in the model. */
static void test_pool_2x2(void) {
    static const double mx[] = {4, 5, 7, 8}, av[] = {2, 3, 5, 6};
    Expect e[] = {{"mx", 4, mx, 0}, {"av", 4, av, 0}};
    Model m = {.name = "pool2x2",
               .text = "input x: f32[batch, 1, 3, 3]\n"
                       "output mx = max_pool(x, 2, stride=1)\n"
                       "output av = x |> avg_pool(2, stride=1)\n",
               .inputs = "F(x,X)",
               .outputs = "O(mx,MX) O(av,AV)"};
    double x[9];
    for (int i = 0; i < 9; i++)
        x[i] = i;
    expect_forward(&m, x, 9, e, 2);
    Model c = {.name = "pool2x2_const",
               .text = "X = reshape(arange(9), [1, 1, 3, 3])\n"
                       "output mx = max_pool(X, 2, stride=1)\n"
                       "output av = avg_pool(X, 2, stride=1)\n",
               .inputs = "",
               .outputs = "O(mx,MX) O(av,AV)"};
    expect_forward(&c, NULL, 0, e, 2);
}

/* 6.5.2: X = arange(16) as 4 x 4. nn.MaxPool2d(3) (stride = window): [[10]]; window 3, padding 1, stride 2 and
 * window (2, 3), stride (2, 3), padding (0, 1) both give [[5, 7], [13, 15]]. Beyond the book: on X - 100, all
 * negative, max pooling's padding never wins (PyTorch pads with -inf); average pooling counts the padding. */
static void test_pool_padding_stride(void) {
    Model m = {.name = "pool4x4",
               .text = "input x: f32[batch, 1, 4, 4]\n"
                       "output a = x |> max_pool(3)\n"
                       "output b = x |> max_pool(3, padding=1, stride=2)\n"
                       "output c = x |> max_pool((2, 3), stride=(2, 3), padding=(0, 1))\n"
                       "output neg = (x - 100) |> max_pool(3, padding=1, stride=2)\n"
                       "output avg = x |> avg_pool(3, padding=1, stride=2)\n",
               .inputs = "F(x,X)",
               .outputs = "O(a,A) O(b,B) O(c,C) O(neg,NEG) O(avg,AVG)"};
    double x[16];
    for (int i = 0; i < 16; i++)
        x[i] = i;
    static const double a[] = {10}, b[] = {5, 7, 13, 15}, neg[] = {-95, -93, -87, -85};
    static const double avg[] = {10.0 / 9, 24.0 / 9, 51.0 / 9, 10};
    Expect e[] = {{"a", 1, a, 0}, {"b", 4, b, 0}, {"c", 4, b, 0}, {"neg", 4, neg, 0}, {"avg", 4, avg, 1e-6}};
    expect_forward(&m, x, 16, e, 5);
}

/* 6.5.3: pooling keeps the channels apart: X = torch.cat((X, X + 1), 1), written in the model. */
static void test_pool_channels(void) {
    Model m = {.name = "pool_channels",
               .text = "input x: f32[batch, 1, 4, 4]\n"
                       "output y = concat([x, x + 1], axis=1) |> max_pool(3, padding=1, stride=2)\n",
               .inputs = "F(x,X)",
               .outputs = "O(y,Y)"};
    double x[16];
    for (int i = 0; i < 16; i++)
        x[i] = i;
    static const double y[] = {5, 7, 13, 15, 6, 8, 14, 16};
    Expect e[] = {{"y", 8, y, 0}};
    expect_forward(&m, x, 16, e, 1);
}

/* Direct pooling of `planes` h x w images: max pads with -inf, average counts the padding (divides by R * S). */
static void pool_ref(bool is_max, const double *x, int planes, int h, int w, int R, int S, int sh, int sw, int ph,
                     int pw, double *y, int oh, int ow) {
    for (int c = 0; c < planes; c++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                double acc = is_max ? -INFINITY : 0;
                for (int a = 0; a < R; a++)
                    for (int b = 0; b < S; b++) {
                        int r = i * sh - ph + a, q = j * sw - pw + b;
                        if (r >= 0 && r < h && q >= 0 && q < w)
                            acc = is_max ? fmax(acc, x[(c * h + r) * w + q]) : acc + x[(c * h + r) * w + q];
                    }
                y[(c * oh + i) * ow + j] = is_max ? acc : acc / (R * S);
            }
}

/* Beyond the book: arange is increasing, so its maxima sit in the windows' last corner and hide a window placed
 * with the wrong stride or padding. On an uneven 2 x 7 x 9 input with unequal windows, strides and padding, both
 * pools must match pool_ref (the averages divide by 4: exact). */
static void test_pool_uneven(void) {
    Model m = {.name = "pool_uneven",
               .text = "input x: f32[batch, 2, 7, 9]\n"
                       "output mx = x |> max_pool((2, 3), stride=(3, 2), padding=(1, 0))\n"
                       "output av = x |> avg_pool(2, stride=(1, 3), padding=(1, 0))\n",
               .inputs = "F(x,X)",
               .outputs = "O(mx,MX) O(av,AV)"};
    double x[126], mx[2 * 3 * 4], av[2 * 8 * 3];
    for (int i = 0; i < 126; i++)
        x[i] = (double)(i * 37 % 23 - 11);
    /* max: (7 + 2 - 2) / 3 + 1 = 3 rows, (9 - 3) / 2 + 1 = 4 columns; avg: 7 + 2 - 2 + 1 = 8 rows, 8 / 3 + 1 = 3 */
    pool_ref(true, x, 2, 7, 9, 2, 3, 3, 2, 1, 0, mx, 3, 4);
    pool_ref(false, x, 2, 7, 9, 2, 2, 1, 3, 1, 0, av, 8, 3);
    Expect e[] = {{"mx", 24, mx, 0}, {"av", 48, av, 0}};
    expect_forward(&m, x, 126, e, 2);
}

int main(void) {
    atexit(free_kept);
    if (!mkdtemp(workdir)) {
        perror("mkdtemp");
        return 1;
    }
    printf("conv_examples: files in %s\n", workdir);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s2 = CU_add_suite("D2L 6.2 convolutions for images", NULL, NULL);
    CU_add_test(s2, "cross-correlation of 0..8 with [[0, 1], [2, 3]]", test_cross_correlation);
    CU_add_test(s2, "edge detection with [[1, -1]]", test_edge_detection);
    CU_add_test(s2, "learning the kernel: 10 SGD steps (conv_edge.dlm)", test_learning_kernel);
    CU_pSuite s3 = CU_add_suite("D2L 6.3 padding and stride", NULL, NULL);
    CU_add_test(s3, "output shapes on 8 x 8 and the values", test_padding_stride);
    CU_pSuite s4 = CU_add_suite("D2L 6.4 multiple channels", NULL, NULL);
    CU_add_test(s4, "two input channels", test_multi_input_channels);
    CU_add_test(s4, "three output channels, kernels stacked in an init", test_multi_output_channels);
    CU_add_test(s4, "1 x 1 convolution as a matrix product", test_conv_1x1);
    CU_pSuite s5 = CU_add_suite("D2L 6.5 pooling", NULL, NULL);
    CU_add_test(s5, "2 x 2 max and average pooling, from C and as constants", test_pool_2x2);
    CU_add_test(s5, "padding and stride", test_pool_padding_stride);
    CU_add_test(s5, "multiple channels", test_pool_channels);
    CU_add_test(s5, "unequal windows, strides and padding on an uneven input", test_pool_uneven);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    if (failed || any_failure)
        printf("conv_examples: files kept in %s\n", workdir);
    else
        remove_tree(workdir);
    return failed || any_failure ? 1 : 0;
}
