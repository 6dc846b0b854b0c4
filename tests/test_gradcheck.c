/* test_gradcheck.c: the generated code's gradients and optimizer steps, checked through the compiled C.
 *
 * Each test writes a small model (from gradcheck_cases.c, or inline below) into a private temporary directory,
 * compiles it with the dlc of this build (`dlc compile --dtype f64`), builds it together with
 * tests/gradcheck_harness.c with `cc` and runs the result:
 *   - gradients: every trainable parameter's gradient against central differences of forward_train's loss, for
 *     each model of gradcheck_cases.c. Together they use every op of compiler/ops.def that has a gradient rule
 *     (test_ops checks it), some with shapes drawn from a seeded generator (GRADCHECK_SEED in the environment
 *     picks another draw);
 *   - optimizers: the parameters before and after each step, and the gradients, are printed by the harness and the
 *     update is recomputed here by hand: SGD, momentum, weight decay on chosen parameters, Adam's bias-corrected
 *     steps, the L1 proximal step;
 *   - a tied layer's gradient is the sum of its two uses, a const gets no gradient and no update, and D2L 2.5's
 *     grad(2 * dot(x, x), x) is 4x.
 * A failure prints the model, the parameter and the numbers; the directory is kept then, and removed otherwise.
 * GRADCHECK_VERBOSE=1 prints every parameter's result. */
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

#include "gradcheck_cases.h"
#include "testutil.h"

#ifndef SOURCE_ROOT
#define SOURCE_ROOT "."
#endif
#ifndef DLC_PATH
#define DLC_PATH "dlc"
#endif

static char workdir[] = "/tmp/dlc-gradcheck-XXXXXX";
static bool any_failure;

/* ---- small utilities ---- */

static void fail(const char *what, const char *detail) {
    any_failure = true;
    printf("\n  FAILED: %s\n%s\n", what, detail ? detail : "");
}

/* ---- compiling a model with its harness ---- */

typedef struct Build {
    const char *name;
    char *exe;
} Build;

/* Writes name.dlm, compiles it with dlc (extra flags in `dlc_flags`, space-free words separated by one space) and
 * links it with the harness. `inputs` is the harness's INPUTS list: "F(x,X) L(y,Y,10)". */
/* cc_extra: NULL, or more arguments for cc, space-separated (-DEVAL_OUTPUT for the harness, -O2) */
static bool build_with(Build *b, const char *name, const char *text, const char *inputs, const char *dlc_flags,
                       const char *cc_extra) {
    b->name = name;
    char *dlm = fmt("%s/%s.dlm", workdir, name), *log = fmt("%s/%s.log", workdir, name);
    char *dir = fmt("%s/%s.out", workdir, name);
    if (mkdir_p(dir) != 0 || !write_text(dlm, text)) {
        fail(name, "cannot write the model");
        return false;
    }
    char *argv[16] = {DLC_PATH, "compile", dlm, "-o", dir};
    int k = 5;
    char *flags = keep(strdup(dlc_flags));
    for (char *w = strtok(flags, " "); w && k < 15; w = strtok(NULL, " "))
        argv[k++] = w;
    argv[k] = NULL;
    if (run(argv, log) != 0) {
        fail(fmt("%s: dlc compile failed", name), fmt("%s\n--- model ---\n%s", slurp(log), text));
        return false;
    }
    char *uc = keep(strdup(name));
    for (char *p = uc; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    b->exe = fmt("%s/%s.exe", workdir, name);
    char *cc[32] = {"cc",
                    "-std=c11",
                    "-O1",
                    "-Wall",
                    "-Wextra",
                    "-Wconversion",
                    "-pedantic",
                    "-Werror",
                    "-iquote",
                    dir,
                    fmt("-DMODEL=%s", name),
                    fmt("-DMODEL_UC=%s", uc),
                    fmt("-DMODEL_H=\"%s.h\"", name),
                    fmt("-DINPUTS=%s", inputs),
                    SOURCE_ROOT "/tests/gradcheck_harness.c",
                    fmt("%s/%s.c", dir, name),
                    "-o",
                    b->exe,
                    "-lopenblas",
                    "-lm"};
    int n = 20;
    char *extra = keep(strdup(cc_extra ? cc_extra : "-DNO_EVAL_OUTPUT"));
    for (char *w = strtok(extra, " "); w && n < 31; w = strtok(NULL, " "))
        cc[n++] = w;
    cc[n] = NULL;
    if (run(cc, log) != 0) {
        fail(fmt("%s: the generated C does not compile", name), fmt("%s\n--- model ---\n%s", slurp(log), text));
        return false;
    }
    return true;
}

/* Runs the harness with `args` (space-separated); its output is returned in *out. */
static bool build(Build *b, const char *name, const char *text, const char *inputs, const char *dlc_flags) {
    return build_with(b, name, text, inputs, dlc_flags, NULL);
}

static int harness(const Build *b, const char *args, char **out) {
    char *log = fmt("%s/%s.run.log", workdir, b->name);
    char *argv[16] = {b->exe};
    int k = 1;
    char *a = keep(strdup(args));
    for (char *w = strtok(a, " "); w && k < 15; w = strtok(NULL, " "))
        argv[k++] = w;
    argv[k] = NULL;
    int rc = run(argv, log);
    *out = slurp(log);
    return rc;
}

/* ---- 1. gradients against central differences ---- */

/* Compiles `text` in f64 and checks every trainable parameter on n examples. */
static void gradcheck(const char *name, const char *text, const char *inputs, int n, const char *dlc_flags) {
    Build b;
    if (!build(&b, name, text, inputs, fmt("--dtype f64%s%s", *dlc_flags ? " " : "", dlc_flags))) {
        CU_FAIL("model did not build");
        return;
    }
    char *out;
    /* 40 samples per parameter: all of a small one; relative error 1e-6 with h = 1e-5 in f64 */
    int rc = harness(&b, fmt("check 7 %d 40 1e-6", n), &out);
    CU_ASSERT_EQUAL(rc, 0);
    /* every parameter line says how it went; a model whose harness printed none checked nothing */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "param "));
    if (rc != 0)
        fail(fmt("gradient check of model %s", name), fmt("%s--- model ---\n%s", out, text));
    else if (getenv("GRADCHECK_VERBOSE"))
        printf("\n%s", out);
}

/* Runs the case of gradcheck_cases.c that the current CUnit test is named after. */
static void test_grad_case(void) {
    const char *title = CU_get_current_test()->pName;
    for (int i = 0; i < gradcheck_ncases; i++) {
        const GradCase *c = &gradcheck_cases[i];
        if (strcmp(c->title, title) != 0)
            continue;
        GradModel m = c->make();
        gradcheck(c->name, m.text, m.inputs, c->n, c->flags);
        return;
    }
    CU_FAIL("no such case");
}

/* ---- 2. optimizer steps recomputed by hand ---- */

/* One harness trace: per step, the loss and every parameter before, its gradient and after. */
typedef struct Rec {
    char kind[8];
    int step;
    char name[64];
    int trainable;
    bool null;
    int n;
    double *v;
} Rec;

typedef struct Trace {
    Rec *r;
    int n;
    double loss[8];
} Trace;

static bool trace_parse(const char *text, Trace *t) {
    memset(t, 0, sizeof *t);
    char *copy = strdup(text), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int step, off;
        double loss;
        if (line[0] == '#')
            continue;
        if (sscanf(line, "loss %d %lf", &step, &loss) == 2 && step >= 0 && step < 8) {
            t->loss[step] = loss;
            continue;
        }
        Rec r = {0};
        if (sscanf(line, "%7s %d %63s %d%n", r.kind, &r.step, r.name, &r.trainable, &off) != 4)
            return false;
        char *p = line + off;
        r.null = strstr(p, "null") != NULL;
        r.v = keep(malloc(sizeof(double) * (strlen(p) / 2 + 1)));
        for (char *end;; p = end) {
            double x = strtod(p, &end);
            if (end == p)
                break;
            r.v[r.n++] = x;
        }
        t->r = realloc(t->r, sizeof(Rec) * (size_t)(t->n + 1));
        t->r[t->n++] = r;
    }
    free(copy);
    keep(t->r);
    return t->n > 0;
}

static const Rec *trace_get(const Trace *t, int step, const char *name, const char *kind) {
    for (int i = 0; i < t->n; i++)
        if (t->r[i].step == step && strcmp(t->r[i].name, name) == 0 && strcmp(t->r[i].kind, kind) == 0)
            return &t->r[i];
    return NULL;
}

/* Compiles `text` and runs `steps` steps at learning rate lr; false (and a message) when anything fails. */
static bool run_trace(const char *name, const char *text, const char *inputs, const char *dtype, int steps, double lr,
                      const char *values, Trace *t) {
    Build b;
    if (!build(&b, name, text, inputs, fmt("--dtype %s", dtype)))
        return false;
    char *out;
    int rc = harness(&b, fmt("trace 11 3 %d %.17g%s%s", steps, lr, values ? " " : "", values ? values : ""), &out);
    if (rc != 0 || !trace_parse(out, t)) {
        fail(fmt("%s: the harness failed (exit %d)", name, rc), out);
        return false;
    }
    return true;
}

static const char *opt_model(const char *optimizer) {
    return fmt("input x: f32[batch, 3]\n"
               "input t: f32[batch, 2]\n"
               "yhat = x |> linear(4) |> tanh |> linear(2)\n"
               "output yhat\n"
               "train {\n"
               "    loss = squared_loss(yhat, t)\n"
               "    optimizer = %s\n"
               "    batch = 4\n"
               "}\n",
               optimizer);
}

static const char *const opt_params[] = {"0.weight", "0.bias", "2.weight", "2.bias"};

/* The expected update of one element; `state` holds the optimizer's per-element memory (momentum, or Adam's m
 * and v), zero before the first step. */
typedef double (*UpdateFn)(const char *param, int step, double p, double g, double *state, double lr);

static bool quiet_mismatch; /* for the checks that expect a mismatch */

/* Compares every element of every parameter over every step with `update`; returns the number of mismatches. */
static int check_updates(const char *model, const Trace *t, int steps, double lr, UpdateFn update, double tol) {
    int bad = 0;
    for (size_t k = 0; k < sizeof opt_params / sizeof opt_params[0]; k++) {
        const Rec *r0 = trace_get(t, 1, opt_params[k], "before");
        CU_ASSERT_PTR_NOT_NULL_FATAL(r0);
        double *state = calloc((size_t)r0->n * 2, sizeof(double));
        for (int s = 1; s <= steps; s++) {
            const Rec *p = trace_get(t, s, opt_params[k], "before"), *g = trace_get(t, s, opt_params[k], "grad");
            const Rec *a = trace_get(t, s, opt_params[k], "after");
            CU_ASSERT_FATAL(p && g && a && !g->null && p->n == g->n && p->n == a->n && p->n > 0);
            for (int i = 0; i < p->n; i++) {
                double want = update(opt_params[k], s, p->v[i], g->v[i], state + 2 * i, lr);
                double err = fabs(a->v[i] - want) / fmax(fabs(want), 1e-3);
                if (!(err <= tol)) {
                    if (bad++ < 5 && !quiet_mismatch)
                        printf("\n  %s step %d %s[%d]: before %.17g, grad %.17g: after %.17g, by hand %.17g\n", model,
                               s, opt_params[k], i, p->v[i], g->v[i], a->v[i], want);
                }
                /* the next step starts from where this one ended */
                const Rec *next = s < steps ? trace_get(t, s + 1, opt_params[k], "before") : NULL;
                if (s < steps)
                    CU_ASSERT_TRUE(next && next->n == a->n && next->v[i] == a->v[i]);
            }
        }
        free(state);
    }
    return bad;
}

/* Every parameter moved: an update that did nothing would otherwise pass a formula that is nearly the identity. */
static bool all_moved(const Trace *t) {
    for (size_t k = 0; k < sizeof opt_params / sizeof opt_params[0]; k++) {
        const Rec *p = trace_get(t, 1, opt_params[k], "before"), *a = trace_get(t, 1, opt_params[k], "after");
        if (!p || !a || memcmp(p->v, a->v, sizeof(double) * (size_t)p->n) == 0)
            return false;
    }
    return true;
}

static bool is_weight(const char *name) { return strstr(name, ".weight") != NULL; }

static double up_sgd(const char *n, int s, double p, double g, double *m, double lr) {
    (void)n, (void)s, (void)m;
    return p - lr * g;
}

static double up_momentum(const char *n, int s, double p, double g, double *m, double lr) {
    (void)n, (void)s;
    m[0] = 0.9 * m[0] + g; /* PyTorch's SGD: the buffer starts at the first gradient */
    return p - lr * m[0];
}

static double up_decay(const char *n, int s, double p, double g, double *m, double lr) {
    (void)s, (void)m;
    return p - lr * (g + (is_weight(n) ? 0.25 * p : 0)); /* weight_decay = 0.25 on "*.weight" only */
}

static double up_adam(const char *n, int s, double p, double g, double *mv, double lr) {
    (void)n;
    const double b1 = 0.8, b2 = 0.9, eps = 1e-6;
    mv[0] = b1 * mv[0] + (1 - b1) * g;
    mv[1] = b2 * mv[1] + (1 - b2) * g * g;
    double mhat = mv[0] / (1 - pow(b1, s)), vhat = mv[1] / (1 - pow(b2, s));
    return p - lr * mhat / (sqrt(vhat) + eps);
}

static double up_l1(const char *n, int s, double p, double g, double *m, double lr) {
    (void)s, (void)m;
    double q = p - lr * g;
    if (!is_weight(n)) /* l1_on = "*.weight" */
        return q;
    double thr = lr * 0.5;
    return q > thr ? q - thr : q < -thr ? q + thr : 0;
}

static void optimizer_case(const char *name, const char *optimizer, const char *dtype, int steps, UpdateFn update,
                           double tol) {
    Trace t;
    const double lr = 0.5;
    if (!run_trace(name, opt_model(optimizer), "F(x,X) F(t,T)", dtype, steps, lr, NULL, &t)) {
        CU_FAIL("trace failed");
        return;
    }
    CU_ASSERT_TRUE(all_moved(&t));
    int bad = check_updates(name, &t, steps, lr, update, tol);
    CU_ASSERT_EQUAL(bad, 0);
    if (bad)
        fail(fmt("%s: %d elements differ from the step computed by hand (%s)", name, bad, optimizer), NULL);
}

static void test_opt_sgd(void) { optimizer_case("opt_sgd", "sgd(lr = 0.5)", "f64", 2, up_sgd, 1e-12); }

/* f32: the step is computed in float, so the comparison allows float rounding */
static void test_opt_momentum(void) {
    optimizer_case("opt_momentum", "sgd(lr = 0.5, momentum = 0.9)", "f32", 3, up_momentum, 1e-5);
}

static void test_opt_weight_decay(void) {
    optimizer_case("opt_decay", "sgd(lr = 0.5, weight_decay = 0.25, decay = \"*.weight\")", "f64", 2, up_decay, 1e-12);
}

static void test_opt_adam(void) {
    optimizer_case("opt_adam", "adam(lr = 0.5, beta1 = 0.8, beta2 = 0.9, eps = 1e-6)", "f64", 2, up_adam, 1e-12);
}

static void test_opt_l1(void) {
    optimizer_case("opt_l1", "sgd(lr = 0.5, l1 = 0.5, l1_on = \"*.weight\")", "f64", 2, up_l1, 1e-12);
}

/* The other checks can fail only if the formulas tell the optimizers apart: on one trace, each wrong formula
 * must miss. The L1 step, in particular, must have set some weights to exactly zero and shrunk others. */
static void test_opt_formulas_discriminate(void) {
    Trace t;
    const double lr = 0.5;
    if (!run_trace("opt_l1_again", opt_model("sgd(lr = 0.5, l1 = 0.5, l1_on = \"*.weight\")"), "F(x,X) F(t,T)", "f64",
                   2, lr, NULL, &t)) {
        CU_FAIL("trace failed");
        return;
    }
    int zeros = 0, shrunk = 0;
    const Rec *p = trace_get(&t, 1, "0.weight", "before"), *g = trace_get(&t, 1, "0.weight", "grad");
    const Rec *a = trace_get(&t, 1, "0.weight", "after");
    CU_ASSERT_FATAL(p && g && a);
    for (int i = 0; i < a->n; i++) {
        zeros += a->v[i] == 0;
        shrunk += a->v[i] != 0 && fabs(a->v[i]) < fabs(p->v[i] - lr * g->v[i]);
    }
    CU_ASSERT_TRUE(zeros > 0);
    CU_ASSERT_TRUE(shrunk > 0);
    printf("(l1: %d of %d weights zeroed, %d shrunk) ", zeros, a->n, shrunk);
    /* plain SGD, decay and Adam must all disagree with this trace */
    quiet_mismatch = true;
    CU_ASSERT_TRUE(check_updates("l1 trace", &t, 2, lr, up_sgd, 1e-12) > 0);
    CU_ASSERT_TRUE(check_updates("l1 trace", &t, 2, lr, up_decay, 1e-12) > 0);
    CU_ASSERT_TRUE(check_updates("l1 trace", &t, 2, lr, up_adam, 1e-12) > 0);
    CU_ASSERT_TRUE(check_updates("l1 trace", &t, 2, lr, up_momentum, 1e-12) > 0);
    quiet_mismatch = false;
}

/* ---- 3. tied parameters, constants, D2L's autograd ---- */

static const char *tied_model(const char *layers, const char *extra) {
    return fmt("input x: f32[batch, 4]\n"
               "%s"
               "h = %s\n"
               "output h\n"
               "train {\n"
               "    loss = mean(h * h) + mean(h)\n"
               "    optimizer = sgd(lr = 0.1)\n"
               "    batch = 3\n"
               "}\n",
               extra, layers);
}

static double max_rel_diff(const double *a, const double *b, int n) {
    double w = 0;
    for (int i = 0; i < n; i++)
        w = fmax(w, fabs(a[i] - b[i]) / fmax(fmax(fabs(a[i]), fabs(b[i])), 1e-3));
    return w;
}

/* One linear layer applied twice: its gradient is the sum of the gradients of two separate layers holding the
 * same values. */
static void test_tied_is_sum_of_uses(void) {
    Trace ta, tb;
    if (!run_trace("tied_one", tied_model("x |> shared |> tanh |> shared", "shared = linear(4)\n"), "F(x,X)", "f64", 1,
                   0.1, NULL, &ta)) {
        CU_FAIL("trace failed");
        return;
    }
    /* the two-layer network starts from the tied layer's values */
    char *values = fmt("%s/tied_values.txt", workdir);
    FILE *f = fopen(values, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    const char *pn[2] = {"weight", "bias"};
    for (int k = 0; k < 2; k++) {
        const Rec *r = trace_get(&ta, 1, fmt("shared.%s", pn[k]), "before");
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        for (int i = 0; i < r->n; i++)
            fprintf(f, "first.%s %d %.17g\nsecond.%s %d %.17g\n", pn[k], i, r->v[i], pn[k], i, r->v[i]);
    }
    fclose(f);
    if (!run_trace("tied_two", tied_model("x |> linear(4) as first |> tanh |> linear(4) as second", ""), "F(x,X)",
                   "f64", 1, 0.1, values, &tb)) {
        CU_FAIL("trace failed");
        return;
    }
    /* the same function of the same inputs */
    CU_ASSERT_DOUBLE_EQUAL(ta.loss[1], tb.loss[1], 1e-12 * fabs(ta.loss[1]));
    for (int k = 0; k < 2; k++) {
        const Rec *g = trace_get(&ta, 1, fmt("shared.%s", pn[k]), "grad");
        const Rec *g1 = trace_get(&tb, 1, fmt("first.%s", pn[k]), "grad");
        const Rec *g2 = trace_get(&tb, 1, fmt("second.%s", pn[k]), "grad");
        CU_ASSERT_FATAL(g && g1 && g2 && !g->null && !g1->null && !g2->null && g->n == g1->n && g->n == g2->n);
        double *sum = malloc(sizeof(double) * (size_t)g->n);
        for (int i = 0; i < g->n; i++)
            sum[i] = g1->v[i] + g2->v[i];
        double err = max_rel_diff(g->v, sum, g->n);
        CU_ASSERT_TRUE(err < 1e-10);
        if (!(err < 1e-10))
            fail(fmt("tied shared.%s: gradient differs from first + second by %.3g (relative)", pn[k], err), NULL);
        /* the two uses contribute differently, so a gradient holding only one of them would fail above */
        CU_ASSERT_TRUE(max_rel_diff(g1->v, g2->v, g->n) > 1e-3);
        CU_ASSERT_TRUE(max_rel_diff(g->v, g1->v, g->n) > 1e-3);
        CU_ASSERT_TRUE(max_rel_diff(g->v, g2->v, g->n) > 1e-3);
        free(sum);
    }
}

/* A const tensor is part of the computation but gets no gradient, and the step (which decays every parameter
 * it updates) leaves it alone. */
static void test_const_not_trained(void) {
    Trace t;
    const char *text = "input x: f32[batch, 4]\n"
                       "const r: [4, 4] = uniform(-1, 1)\n"
                       "h = x |> linear(4) |> tanh\n"
                       "h = h @ r |> linear(2)\n"
                       "output h\n"
                       "train {\n"
                       "    loss = mean(h * h)\n"
                       "    optimizer = sgd(lr = 0.1, momentum = 0.5, weight_decay = 0.5, decay = \"*\")\n"
                       "    batch = 3\n"
                       "}\n";
    if (!run_trace("const_r", text, "F(x,X)", "f64", 2, 0.1, NULL, &t)) {
        CU_FAIL("trace failed");
        return;
    }
    for (int s = 1; s <= 2; s++) {
        const Rec *b = trace_get(&t, s, "r", "before"), *g = trace_get(&t, s, "r", "grad");
        const Rec *a = trace_get(&t, s, "r", "after");
        CU_ASSERT_FATAL(b && g && a);
        CU_ASSERT_EQUAL(b->trainable, 0);
        CU_ASSERT_TRUE(g->null);
        CU_ASSERT_EQUAL(b->n, 16);
        CU_ASSERT_EQUAL(a->n, 16);
        CU_ASSERT_TRUE(b->n == a->n && memcmp(b->v, a->v, sizeof(double) * (size_t)b->n) == 0);
        /* while a trainable parameter, decayed as the const would be if the step touched it, moves */
        const Rec *wb = trace_get(&t, s, "0.weight", "before"), *wa = trace_get(&t, s, "0.weight", "after");
        const Rec *wg = trace_get(&t, s, "0.weight", "grad");
        CU_ASSERT_FATAL(wb && wa && wg);
        CU_ASSERT_EQUAL(wb->trainable, 1);
        CU_ASSERT_FALSE(wg->null);
        CU_ASSERT_TRUE(memcmp(wb->v, wa->v, sizeof(double) * (size_t)wb->n) != 0);
    }
    /* the const is used: the loss depends on it (a const multiplied by zero would make this test empty) */
    const Rec *g3 = trace_get(&t, 1, "2.weight", "grad");
    CU_ASSERT_TRUE(g3 && !g3->null && g3->n == 8);
}

/* A state is read by the forward pass, gets no gradient and no optimizer update (decay included), and takes the
 * value of its `:=` once the step is done: s_after = 0.5 * s_before + w_before, w as the forward pass saw it. */
static void test_state_update(void) {
    Trace t;
    const char *text = "input x: f32[batch, 3]\n"
                       "param w: [3] = normal(0, 1)\n"
                       "state s: [3] = uniform(-1, 1)\n"
                       "h = x * w + s\n"
                       "if training() {\n"
                       "    s := 0.5 * s + w\n"
                       "}\n"
                       "output h\n"
                       "train {\n"
                       "    loss = mean(h * h)\n"
                       "    optimizer = sgd(lr = 0.1, momentum = 0.5, weight_decay = 0.5, decay = \"*\")\n"
                       "    batch = 3\n"
                       "}\n";
    if (!run_trace("state_s", text, "F(x,X)", "f64", 3, 0.1, NULL, &t)) {
        CU_FAIL("trace failed");
        return;
    }
    for (int s = 1; s <= 3; s++) {
        const Rec *b = trace_get(&t, s, "s", "before"), *g = trace_get(&t, s, "s", "grad");
        const Rec *a = trace_get(&t, s, "s", "after"), *wb = trace_get(&t, s, "w", "before");
        const Rec *wa = trace_get(&t, s, "w", "after");
        CU_ASSERT_FATAL(b && g && a && wb && wa && b->n == 3 && a->n == 3 && wb->n == 3);
        CU_ASSERT_EQUAL(b->trainable, 0);
        CU_ASSERT_TRUE(g->null);
        for (int i = 0; i < 3; i++)
            CU_ASSERT_DOUBLE_EQUAL(a->v[i], 0.5 * b->v[i] + wb->v[i], 1e-15 * (1 + fabs(a->v[i])));
        /* the optimizer moved w, so a stale or late read of w would not match */
        CU_ASSERT_TRUE(memcmp(wb->v, wa->v, sizeof(double) * 3) != 0);
        if (s > 1) {
            const Rec *prev = trace_get(&t, s - 1, "s", "after");
            CU_ASSERT_TRUE(prev && memcmp(prev->v, b->v, sizeof(double) * 3) == 0);
        }
    }
}

/* batch_norm against PyTorch (tests/pytorch/batch_norm.py made the expected numbers): two f64 SGD steps of
 * BatchNorm2d and BatchNorm1d in training mode, from the same inputs and parameters. The loss and every gradient at
 * each step, the running statistics and num_batches_tracked after each, and the inference output with the running
 * statistics agree to 1e-9 of the largest magnitude of their tensor (or 1e-15 absolute: a gradient that is zero
 * but for rounding). */
static void test_pytorch_batch_norm(void) {
    const char *dir = SOURCE_ROOT "/tests/pytorch";
    char *text = slurp(fmt("%s/batch_norm.dlm", dir)), *expected_text = slurp(fmt("%s/batch_norm_expected.txt", dir));
    CU_ASSERT_FATAL(text && expected_text);
    Build b;
    if (!build_with(&b, "pt_batch_norm", text, "F(x,X) L(y,Y,3)", "--dtype f64", "-DEVAL_OUTPUT=E(logits,LOGITS)")) {
        CU_FAIL("build failed");
        return;
    }
    char *out;
    int rc = harness(&b, fmt("trace 11 4 2 0.1 %s/batch_norm_values.txt", dir), &out);
    Trace got, want;
    CU_ASSERT_FATAL(rc == 0 && trace_parse(out, &got) && trace_parse(expected_text, &want));
    int compared = 0;
    for (int s = 1; s <= 2; s++)
        CU_ASSERT_DOUBLE_EQUAL(got.loss[s], want.loss[s], 1e-9 * fabs(want.loss[s]));
    for (int i = 0; i < want.n; i++) {
        const Rec *w = &want.r[i], *g = trace_get(&got, w->step, w->name, w->kind);
        if (!g || g->n != w->n || g->null) {
            fail(fmt("pt_batch_norm: %s %d %s", w->kind, w->step, w->name), "missing or of another size");
            CU_FAIL("a tensor is missing");
            continue;
        }
        double scale = 0, worst = 0;
        for (int k = 0; k < w->n; k++)
            scale = fmax(scale, fabs(w->v[k]));
        for (int k = 0; k < w->n; k++)
            worst = fmax(worst, fabs(g->v[k] - w->v[k]));
        /* the bias of the linear layer before a batch norm has a gradient that is zero but for rounding */
        if (worst > 1e-9 * scale && worst > 1e-15) {
            fail(fmt("pt_batch_norm: %s %d %s", w->kind, w->step, w->name), fmt("off by %.3g of %.3g", worst, scale));
            CU_FAIL("differs from PyTorch");
        }
        compared++;
    }
    /* 9 gradients and 6 states per step, the output */
    CU_ASSERT_EQUAL(compared, 2 * (9 + 6) + 1);
}

/* ---- 3. the zoo's modern CNNs against PyTorch (`test_gradcheck zoo`, the interop suite) ---- */

/* One record of a dump (the harness's `dump` mode, tests/pytorch/zoo.py): KIND NAME COUNT, then COUNT f64. */
typedef struct DumpRec {
    char kind[8], name[96];
    long long n;
    const double *v;
} DumpRec;

/* Parses a dump into at most `cap` records; the values point into `buf`. Returns the count, or -1 if malformed. */
static int dump_parse(char *buf, size_t len, DumpRec *r, int cap) {
    int k = 0;
    for (size_t at = 0; at < len;) {
        char *nl = memchr(buf + at, '\n', len - at);
        if (!nl || k == cap)
            return -1;
        *nl = 0;
        if (sscanf(buf + at, "%7s %95s %lld", r[k].kind, r[k].name, &r[k].n) != 3 || r[k].n < 0)
            return -1;
        at = (size_t)(nl - buf) + 1;
        size_t bytes = (size_t)r[k].n * sizeof(double);
        if (bytes > len - at)
            return -1;
        double *v = keep(malloc(bytes + 1)); /* the file's bytes need not be aligned for double */
        memcpy(v, buf + at, bytes);
        r[k++].v = v;
        at += bytes;
    }
    return k;
}

/* Returns s with every `from` replaced by `to` (until exit). */
static char *replace_all(const char *s, const char *from, const char *to) {
    size_t nf = strlen(from), nt = strlen(to), count = 0;
    for (const char *p = strstr(s, from); p; p = strstr(p + nf, from))
        count++;
    char *out = keep(malloc(strlen(s) + count * nt + 1)), *o = out;
    for (const char *p; (p = strstr(s, from)); s = p + nf) {
        memcpy(o, s, (size_t)(p - s));
        o += p - s;
        memcpy(o, to, nt);
        o += nt;
    }
    strcpy(o, s);
    return out;
}

/* Each model at the smallest input its architecture takes comfortably (`side` for the .dlm's `from`), NiN's
 * dropout at p = 0 (two random masks cannot agree), a batch of 4. */
static const struct ZooCase {
    const char *model;
    int from, side;
} zoo_cases[] = {
    {"batchnorm", 28, 28}, {"batchnorm_concise", 28, 28}, {"nin", 224, 68},
    {"googlenet", 96, 32}, {"resnet18", 96, 32},          {"densenet", 96, 32},
};
enum { ZOO_BATCH = 4, ZOO_SEED = 5 };

/* One f64 SGD step of a zoo model in dlc and in PyTorch (the book's definition in tests/pytorch/zoo.py) from the
 * same parameters and batch: the loss, every parameter's gradient and the running statistics after the step agree
 * to 1e-9 of the largest magnitude of their tensor, and so does the output in inference mode. A gradient that is
 * zero but for rounding on PyTorch's side (the bias of a layer before a batch norm) must be as small on dlc's. */
static void test_pytorch_zoo(void) {
    const char *current = CU_get_current_test()->pName;
    const struct ZooCase *c = NULL;
    for (size_t i = 0; i < sizeof zoo_cases / sizeof zoo_cases[0]; i++)
        if (strncmp(current, zoo_cases[i].model, strlen(zoo_cases[i].model)) == 0 &&
            current[strlen(zoo_cases[i].model)] == ' ')
            c = &zoo_cases[i];
    CU_ASSERT_FATAL(c != NULL);
    char *text = slurp(fmt("%s/models/%s.dlm", SOURCE_ROOT, c->model));
    CU_ASSERT_FATAL(strstr(text, fmt("1, %d, %d]", c->from, c->from)) != NULL);
    text = replace_all(text, fmt("1, %d, %d]", c->from, c->from), fmt("1, %d, %d]", c->side, c->side));
    text = replace_all(text, fmt("resize=%d", c->from), fmt("resize=%d", c->side));
    text = replace_all(text, "dropout(0.5)", "dropout(0.0)");
    char *name = fmt("zoo_%s", c->model);
    Build b;
    if (!build_with(&b, name, text, "F(x,X) L(y,Y,10)", fmt("--dtype f64 --batch %d", ZOO_BATCH),
                    "-DEVAL_OUTPUT=E(logits,LOGITS)")) {
        CU_FAIL("build failed");
        return;
    }
    char *got_path = fmt("%s/%s.dlc.bin", workdir, name), *want_path = fmt("%s/%s.torch.bin", workdir, name);
    char *out;
    int rc = harness(&b, fmt("dump %d %d 0.1 %s", ZOO_SEED, ZOO_BATCH, got_path), &out);
    if (rc != 0)
        fail(fmt("%s: the harness failed (exit %d)", name, rc), out);
    char *py[] = {"/usr/bin/python3",
                  SOURCE_ROOT "/tests/pytorch/zoo.py",
                  (char *)c->model,
                  fmt("%d", c->side),
                  fmt("%d", ZOO_BATCH),
                  "0.1",
                  fmt("%d", ZOO_SEED),
                  want_path,
                  NULL};
    char *log = fmt("%s/%s.torch.log", workdir, name);
    int prc = run(py, log);
    if (prc != 0)
        fail(fmt("%s: tests/pytorch/zoo.py failed (exit %d); it needs Debian's python3-torch and python3-numpy", name,
                 prc),
             slurp(log));
    CU_ASSERT_FATAL(rc == 0 && prc == 0);
    size_t glen, wlen;
    char *gbuf = slurp_n(got_path, &glen), *wbuf = slurp_n(want_path, &wlen);
    enum { CAP = 2048 };
    DumpRec *got = keep(malloc(sizeof(DumpRec) * CAP)), *want = keep(malloc(sizeof(DumpRec) * CAP));
    int ng = dump_parse(gbuf, glen, got, CAP), nw = dump_parse(wbuf, wlen, want, CAP);
    CU_ASSERT_FATAL(ng > 0 && nw > 0);
    /* the same records: every parameter and state of one side is the other's */
    CU_ASSERT_EQUAL(ng, nw);
    /* a gradient that is zero but for rounding (the bias of a convolution before a batch norm) is compared with
     * the largest gradient of the step: both sides must have it below 1e-12 of that */
    double largest = 0;
    for (int i = 0; i < nw; i++)
        for (long long k = 0; strcmp(want[i].kind, "grad") == 0 && k < want[i].n; k++)
            largest = fmax(largest, fabs(want[i].v[k]));
    int compared = 0, grads = 0;
    for (int i = 0; i < nw; i++) {
        const DumpRec *w = &want[i], *g = NULL;
        for (int j = 0; j < ng && !g; j++)
            if (strcmp(got[j].kind, w->kind) == 0 && strcmp(got[j].name, w->name) == 0)
                g = &got[j];
        if (!g || g->n != w->n) {
            fail(fmt("%s: %s %s", name, w->kind, w->name), g ? "of another size" : "missing in dlc's");
            CU_FAIL("a tensor is missing");
            continue;
        }
        double scale = 0, worst = 0;
        for (long long k = 0; k < w->n; k++) {
            scale = fmax(scale, fabs(w->v[k]));
            worst = fmax(worst, fabs(g->v[k] - w->v[k]));
        }
        bool zero = strcmp(w->kind, "grad") == 0 && scale <= 1e-12 * largest;
        if (!(worst <= 1e-9 * scale || (zero && worst <= 1e-12 * largest) || worst <= 1e-15)) {
            fail(fmt("%s: %s %s", name, w->kind, w->name), fmt("off by %.3g of %.3g", worst, scale));
            CU_FAIL("differs from PyTorch");
        }
        if (getenv("GRADCHECK_VERBOSE"))
            printf("  %s %s: %lld values, off by %.3g of %.3g\n", w->kind, w->name, w->n, worst, scale);
        compared++;
        grads += strcmp(w->kind, "grad") == 0;
    }
    CU_ASSERT_EQUAL(compared, nw);
    CU_ASSERT_TRUE(grads > 0);
}

/* D2L 2.5.1: y = 2 * dot(x, x) at x = [0, 1, 2, 3] is 28, and grad(y, x) = 4x = [0, 4, 8, 12]. */
static void test_d2l_autograd(void) {
    const char *text = "input x: f32[4]\n"
                       "output y = 2 * dot(x, x)\n"
                       "output dx = grad(y, x)\n";
    char *dlm = fmt("%s/d2l_autograd.dlm", workdir), *dir = fmt("%s/d2l_autograd.out", workdir);
    char *log = fmt("%s/d2l_autograd.log", workdir), *main_c = fmt("%s/d2l_autograd_main.c", workdir);
    char *exe = fmt("%s/d2l_autograd.exe", workdir);
    CU_ASSERT_FATAL(mkdir_p(dir) == 0 && write_text(dlm, text));
    char *dlc[] = {DLC_PATH, "compile", dlm, "-o", dir, NULL};
    int rc = run(dlc, log);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_FATAL(write_text(main_c, "#include <stdio.h>\n#include <stdlib.h>\n#include \"d2l_autograd.h\"\n"
                                       "int main(void) {\n"
                                       "    void *st = aligned_alloc(64, (D2L_AUTOGRAD_STATE_BYTES + 63) / 64 * 64);\n"
                                       "    d2l_autograd_init(st, 1);\n"
                                       "    const d2l_autograd_real x[4] = {0, 1, 2, 3};\n"
                                       "    d2l_autograd_forward(st, 1, x);\n"
                                       "    const d2l_autograd_real *y = d2l_autograd_output_y(st);\n"
                                       "    const d2l_autograd_real *dx = d2l_autograd_output_dx(st);\n"
                                       "    printf(\"%.9g %.9g %.9g %.9g %.9g\\n\", (double)y[0], (double)dx[0],\n"
                                       "           (double)dx[1], (double)dx[2], (double)dx[3]);\n"
                                       "    free(st);\n"
                                       "    return D2L_AUTOGRAD_OUTPUT_DX_SIZE == 4 ? 0 : 1;\n"
                                       "}\n"));
    char *cc[] = {"cc",        "-std=c11", "-O1",        "-Wall", "-Wextra", "-Wconversion",
                  "-pedantic", "-Werror",  "-iquote",    dir,     main_c,    fmt("%s/d2l_autograd.c", dir),
                  "-o",        exe,        "-lopenblas", "-lm",   NULL};
    rc = run(cc, log);
    if (rc != 0)
        fail("d2l_autograd: the generated C does not compile", slurp(log));
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    char *argv[] = {exe, NULL};
    CU_ASSERT_EQUAL_FATAL(run(argv, log), 0);
    double y, dx[4];
    char *out = slurp(log);
    CU_ASSERT_EQUAL_FATAL(sscanf(out, "%lf %lf %lf %lf %lf", &y, &dx[0], &dx[1], &dx[2], &dx[3]), 5);
    CU_ASSERT_DOUBLE_EQUAL(y, 28, 1e-5);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_DOUBLE_EQUAL(dx[i], 4.0 * i, 1e-5);
    if (fabs(dx[3] - 12) > 1e-5 || fabs(y - 28) > 1e-5)
        fail("d2l_autograd: expected y = 28, dx = [0, 4, 8, 12]", out);
}

/* ---- 3. the direct convolution kernels on each instruction set ---- */

/* Every gradient of the f64 trace a against the f32 trace b of the same step: f32 sums of a few hundred products,
 * so within 1e-4 of the largest element. The number of gradients compared. */
static int f32_near_f64(const Trace *a, const Trace *b, const char *what) {
    int grads = 0;
    for (int i = 0; i < a->n; i++) {
        if (strcmp(a->r[i].kind, "grad") != 0 || a->r[i].null)
            continue;
        const Rec *g32 = trace_get(b, a->r[i].step, a->r[i].name, "grad");
        CU_ASSERT_FATAL(g32 && g32->n == a->r[i].n);
        double scale = 0, worst = 0;
        for (int j = 0; j < a->r[i].n; j++) {
            scale = fmax(scale, fabs(a->r[i].v[j]));
            worst = fmax(worst, fabs(g32->v[j] - a->r[i].v[j]));
        }
        grads++;
        CU_ASSERT(worst <= 1e-4 * scale);
        if (worst > 1e-4 * scale)
            fail(fmt("%s: the f32 gradient of %s differs from f64's by %g (largest %g)", what, a->r[i].name, worst,
                     scale),
                 NULL);
    }
    return grads;
}

/* gc_conv_direct's model (every tiling case of the direct kernels) on each path the CPU has: the f64 build's
 * gradients against central differences, and the f32 build's gradients of one step against the f64 build's. The
 * harness is compiled with -O2 -ffp-contract=fast, as trainers are, so the AVX paths use FMA and the portable one
 * (no -march: SSE2) does not: a forced path that did not run would leave the f32 results of two paths identical. */
static void test_isa_paths(void) {
    const GradCase *c = NULL;
    for (int i = 0; i < gradcheck_ncases; i++)
        if (strcmp(gradcheck_cases[i].name, "gc_conv_direct") == 0)
            c = &gradcheck_cases[i];
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    GradModel m = c->make();
    Build b64, b32;
    const char *cflags = "-O2 -ffp-contract=fast"; /* GCC contracts into FMA from -O2 */
    if (!build_with(&b64, "isa_f64", m.text, m.inputs, "--dtype f64", cflags) ||
        !build_with(&b32, "isa_f32", m.text, m.inputs, "--dtype f32", cflags)) {
        CU_FAIL("model did not build");
        return;
    }
    static const char *const isas[] = {"avx512", "avx2", "portable"};
    char *f32_out[3] = {NULL, NULL, NULL};
    for (int k = 0; k < 3; k++) {
        const char *missing = isa_missing(isas[k]);
        if (missing) {
            printf("\n  skipped DLRT_ISA=%s: this CPU has no %s", isas[k], missing);
            continue;
        }
        setenv("DLRT_ISA", isas[k], 1);
        char *out, *t64, *t32;
        int rc = harness(&b64, "check 7 2 40 1e-6", &out);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "param "));
        if (rc != 0)
            fail(fmt("DLRT_ISA=%s: gradient check of gc_conv_direct", isas[k]), out);
        int rc64 = harness(&b64, "trace 11 2 1 0.1", &t64), rc32 = harness(&b32, "trace 11 2 1 0.1", &t32);
        Trace a, b;
        CU_ASSERT_FATAL(rc64 == 0 && rc32 == 0 && trace_parse(t64, &a) && trace_parse(t32, &b));
        f32_out[k] = t32;
        CU_ASSERT(f32_near_f64(&a, &b, fmt("DLRT_ISA=%s", isas[k])) >= 10);
    }
    unsetenv("DLRT_ISA");
    /* FMA rounds differently from a product and a sum: the forced path ran */
    for (int k = 0; k < 2; k++)
        if (f32_out[k] && f32_out[2])
            CU_ASSERT(strcmp(f32_out[k], f32_out[2]) != 0);
}

/* The f32 build b32 (linked with runtime/gemm.c) on every kernel path the CPU has (DLRT_ISA), with DLRT_GEMM=dlc:
 * one step's gradients (`grads` of them) against the f64 build's; and with DLRT_GEMM=blas other bits than the last
 * path's (OpenBLAS's sgemm rounds otherwise: the hooks did send the products to dlc's kernels). */
static void f32_paths_near_f64(Build *b64, Build *b32, int grads, const char *what) {
    char *t64;
    CU_ASSERT_FATAL(harness(b64, "trace 11 5 1 0.1", &t64) == 0);
    Trace a;
    CU_ASSERT_FATAL(trace_parse(t64, &a));
    static const char *const isas[] = {"avx512", "avx2", "portable"};
    char *last = NULL;
    setenv("DLRT_GEMM", "dlc", 1);
    for (size_t k = 0; k < sizeof isas / sizeof isas[0]; k++) {
        const char *missing = isa_missing(isas[k]); /* what the generated code's path needs, a superset of gemm.c's */
        if (missing) {
            printf("\n  skipped DLRT_ISA=%s: this CPU has no %s", isas[k], missing);
            continue;
        }
        setenv("DLRT_ISA", isas[k], 1);
        char *t32;
        Trace b;
        CU_ASSERT_FATAL(harness(b32, "trace 11 5 1 0.1", &t32) == 0 && trace_parse(t32, &b));
        last = t32;
        CU_ASSERT(f32_near_f64(&a, &b, fmt("DLRT_ISA=%s %s", isas[k], what)) == grads);
    }
    unsetenv("DLRT_ISA");
    setenv("DLRT_GEMM", "blas", 1);
    char *blas;
    CU_ASSERT_FATAL(harness(b32, "trace 11 5 1 0.1", &blas) == 0);
    CU_ASSERT(last && strcmp(last, blas) != 0);
    unsetenv("DLRT_GEMM");
}

/* How many times `what` occurs in `text`. */
static int count_of(const char *text, const char *what) {
    int n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

/* The output record of a trace (the inference forward pass, EVAL_OUTPUT), or NULL. */
static const Rec *trace_output(const Trace *t) {
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->r[i].kind, "output") == 0)
            return &t->r[i];
    return NULL;
}

/* Epilogues (fuse.c): at batch 1, a forward pass whose every kernel computes its bias and activation, and each
 * convolution its 2x2 pooling, in its own function: sigmoid and average pooling on a convolution of channel blocks
 * and column tiles (the last one partial), ReLU and max pooling on one with the channels in the lanes, tanh without
 * pooling on another, and the matrix-vector products with and without an activation. On every path the CPU has
 * (DLRT_ISA): compiled as the C is specified (-ffp-contract=off), the fused build's trace (one training step, then
 * the inference output) is the text of the build with DLC_EPILOGUES=0, in f32 and in f64; compiled with -O2
 * -ffp-contract=fast, as trainers are, the f32 output is within 1e-5 of the f64 one. (With contraction the two f32
 * builds may differ in the last bits: a training build's element-wise loops are compiled for the file's target,
 * an epilogue inside the kernel's per-instruction-set function, where the C compiler may contract it into FMAs.) */
static void test_epilogues(void) {
    const char *text = "input x: f32[batch, 2, 12, 20]\n"
                       "input y: i32[batch]\n"
                       "h = x |> conv2d(6, kernel=3, padding=1) |> sigmoid |> avg_pool(2, stride=2)\n"
                       "g = h |> conv2d(16, kernel=3, padding=1) |> relu |> max_pool(2, stride=2)\n"
                       "f = g |> conv2d(16, kernel=(2, 3)) |> tanh\n"
                       "logits = f |> flatten |> linear(20) |> sigmoid |> linear(5)\n"
                       "output logits\n"
                       "train {\n"
                       "    loss = cross_entropy(logits, y)\n"
                       "    optimizer = sgd(lr = 0.1)\n"
                       "    batch = 1\n"
                       "}\n";
    const char *inputs = "F(x,X) L(y,Y,5)", *out = "-DEVAL_OUTPUT=E(logits,LOGITS)";
    static const char *const dtypes[] = {"f64", "f32"};
    Build b[2][2], fma32; /* [dtype][fused], -ffp-contract=off; the fused f32 build with contraction */
    for (int d = 0; d < 2; d++)
        for (int fused = 0; fused < 2; fused++) {
            if (!fused)
                setenv("DLC_EPILOGUES", "0", 1);
            bool ok = build_with(&b[d][fused], fmt("epi_%s_%s", dtypes[d], fused ? "fused" : "plain"), text, inputs,
                                 fmt("--dtype %s --batch 1", dtypes[d]), fmt("-O2 -ffp-contract=off %s", out));
            unsetenv("DLC_EPILOGUES");
            CU_ASSERT_FATAL(ok);
        }
    CU_ASSERT_FATAL(build_with(&fma32, "epi_f32_fma", text, inputs, "--dtype f32 --batch 1",
                               fmt("-O2 -ffp-contract=fast %s", out)));
    /* not vacuous: the fused file's forward and evaluation passes have the three convolutions' and two products'
     * epilogues, and pool in two of them; the other file has none */
    char *c = slurp(fmt("%s/epi_f32_fused.out/epi_f32_fused.c", workdir));
    char *plain = slurp(fmt("%s/epi_f32_plain.out/epi_f32_plain.c", workdir));
    CU_ASSERT(count_of(c, "/* conv2d + sigmoid + avg_pool -> ") == 2 &&
              count_of(c, "/* conv2d + relu + max_pool -> ") == 2 && count_of(c, "/* conv2d + tanh -> ") == 2 &&
              count_of(c, "/* matmul + sigmoid -> ") == 2 && count_of(c, "/* matmul + add -> ") == 2);
    CU_ASSERT(count_of(plain, "/* conv2d + ") == 0 && count_of(plain, "/* matmul + ") == 0);
    static const char *const isas[] = {"avx512", "avx2", "portable"};
    for (int k = 0; k < 3; k++) {
        const char *missing = isa_missing(isas[k]);
        if (missing) {
            printf("\n  skipped DLRT_ISA=%s: this CPU has no %s", isas[k], missing);
            continue;
        }
        setenv("DLRT_ISA", isas[k], 1);
        char *t[2][2], *tf;
        for (int d = 0; d < 2; d++)
            for (int fused = 0; fused < 2; fused++)
                CU_ASSERT_FATAL(harness(&b[d][fused], "trace 11 1 1 0.1", &t[d][fused]) == 0);
        CU_ASSERT_FATAL(harness(&fma32, "trace 11 1 1 0.1", &tf) == 0);
        for (int d = 0; d < 2; d++) {
            CU_ASSERT(strcmp(t[d][0], t[d][1]) == 0);
            if (strcmp(t[d][0], t[d][1]) != 0)
                fail(fmt("DLRT_ISA=%s %s: the fused build's trace differs from DLC_EPILOGUES=0's", isas[k], dtypes[d]),
                     fmt("--- fused ---\n%s--- plain ---\n%s", t[d][1], t[d][0]));
        }
        Trace a, f[2];
        CU_ASSERT_FATAL(trace_parse(t[0][1], &a) && trace_parse(t[1][1], &f[0]) && trace_parse(tf, &f[1]));
        for (int v = 0; v < 2; v++) {
            const Rec *o64 = trace_output(&a), *o32 = trace_output(&f[v]);
            CU_ASSERT_FATAL(o64 && o32 && o64->n == 5 && o32->n == 5);
            double worst = 0, scale = 0;
            for (int i = 0; i < 5; i++) {
                scale = fmax(scale, fabs(o64->v[i]));
                worst = fmax(worst, fabs(o64->v[i] - o32->v[i]));
            }
            CU_ASSERT(scale > 0 && worst <= 1e-5 * scale);
            if (worst > 1e-5 * scale)
                fail(fmt("DLRT_ISA=%s%s: the f32 output differs from f64's by %g (largest %g)", isas[k],
                         v ? " -ffp-contract=fast" : "", worst, scale),
                     NULL);
        }
    }
    unsetenv("DLRT_ISA");
}

/* The model `text` built twice: in f64 (<stem>_f64), and in f32 (<stem>_f32) with runtime/gemm.c linked in and
 * `hooks` (-DDLRT_GEMM_HOOK, -DDLRT_CONV_HOOK) installing its products; false, after a failed assertion, if either
 * did not build. */
static bool build_with_hooks(Build *b64, Build *b32, const char *stem, const char *text, const char *inputs,
                             const char *hooks) {
    if (!build_with(b64, fmt("%s_f64", stem), text, inputs, "--dtype f64", "-O2 -DNO_EVAL_OUTPUT") ||
        !build_with(
            b32, fmt("%s_f32", stem), text, inputs, "--dtype f32",
            fmt("-O2 -DNO_EVAL_OUTPUT %s -iquote " SOURCE_ROOT "/runtime " SOURCE_ROOT "/runtime/gemm.c", hooks))) {
        CU_FAIL("model did not build");
        return false;
    }
    return true;
}

/* The matrix products of the generated code (linear layers, an im2col convolution and a 1x1 one: every
 * transpose the emitter writes, and a dw that accumulates over chunks) through libdlrt's dlrt_gemm_f32 with
 * DLRT_GEMM=dlc, on every kernel path of runtime/gemm.c the CPU has (DLRT_ISA): the f32 gradients of one step
 * against the f64 build's (OpenBLAS's dgemm), as test_isa_paths does for the direct convolutions. */
static void test_dlc_gemm(void) {
    const char *text = "input x: f32[batch, 64, 5, 6]\n"
                       "input y: i32[batch]\n"
                       "a = x |> conv2d(13, kernel=3, padding=1) |> tanh\n" /* 576 products per output: im2col */
                       "b = a |> conv2d(7, kernel=1) |> tanh\n"
                       "logits = b |> flatten |> linear(37) |> tanh |> linear(10)\n"
                       "output logits\n"
                       "train {\n"
                       "    loss = cross_entropy(logits, y)\n"
                       "    optimizer = sgd(lr = 0.1)\n"
                       "    batch = 5\n"
                       "}\n";
    const char *inputs = "F(x,X) L(y,Y,10)";
    Build b64, b32;
    if (!build_with_hooks(&b64, &b32, "gemm", text, inputs, "-DDLRT_GEMM_HOOK"))
        return;
    /* two convolutions and two linear layers, weight and bias each */
    f32_paths_near_f64(&b64, &b32, 8, "DLRT_GEMM=dlc");
}

/* The implicit convolutions (runtime/gemm.c's dlrt_conv_f32, which the trainers install with <name>_set_conv) in a
 * model whose im2col convolutions take every path of it: a 3x3 convolution over chunks of 2, 2 and 1 images (30x30
 * images: its forward product and dx's written through the chunk buffer, and a dw that accumulates over chunks),
 * whose input has a gradient (dx as the turned kernel's forward product); a strided one, whose dx the hook declines
 * (gemm and col2im). On every kernel path the CPU has: the f32 gradients of one step against the f64 build's
 * central-difference-checked code, and with DLRT_GEMM=blas (the hook declining everything) other bits. */
static void test_dlc_conv(void) {
    const char *text = "input x: f32[batch, 2, 30, 30]\n"
                       "input y: i32[batch]\n"
                       "a = x |> conv2d(64, kernel=1) |> tanh\n"
                       "b = a |> conv2d(6, kernel=3, padding=1) |> tanh\n"
                       "s = a |> conv2d(5, kernel=3, stride=2, padding=1) |> tanh\n"
                       "logits = linear(flatten(b), 10) + linear(flatten(s), 10)\n"
                       "output logits\n"
                       "train {\n"
                       "    loss = cross_entropy(logits, y)\n"
                       "    optimizer = sgd(lr = 0.1)\n"
                       "    batch = 5\n"
                       "}\n";
    const char *inputs = "F(x,X) L(y,Y,10)";
    Build b64, b32;
    if (!build_with_hooks(&b64, &b32, "conv", text, inputs, "-DDLRT_GEMM_HOOK -DDLRT_CONV_HOOK"))
        return;
    char *out;
    int rc = harness(&b64, "check 7 5 12 1e-6", &out);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc != 0)
        fail("gradient check of the implicit convolutions' model (f64)", out);
    /* three convolutions and two linear layers, weight and bias each */
    f32_paths_near_f64(&b64, &b32, 10, "implicit convolutions");
}

/* --recompute (recompute.c): a residual model with batch norm whose step computes element-wise forward values
 * again in backward (dlc check says how many; none would leave the test vacuous). Its f64 build's gradients
 * against central differences; its f32 build's against the f64 build's; and its f32 trace (loss, every gradient
 * and parameter over three steps, to 17 digits) the same text as the build without the option's, so the copies
 * compute the very bits the stored values held. Compiled with -O2 -ffp-contract=fast, as trainers are: a copy
 * contracted into FMA differently from the original would show here. */
static void test_recompute(void) {
    const char *text =
        "input x: f32[batch, 2, 5, 5]\n"
        "block residual(x) {\n"
        "    y = x |> conv2d(2, kernel=3, padding=1, bias=false) |> batch_norm(weight_init=uniform(0.5, 1.5), "
        "bias_init=normal(0, 1)) |> tanh\n"
        "    y = y |> conv2d(2, kernel=3, padding=1, bias=false) |> batch_norm(weight_init=uniform(0.5, 1.5)) "
        "|> relu\n"
        "    return tanh(y + x)\n"
        "}\n"
        "h = x |> residual |> residual\n"
        "f = h |> flatten |> linear(3)\n"
        "output f\n"
        "train {\n"
        "    loss = mean(sigmoid(f) * f) + mean(h * h * h)\n"
        "    optimizer = sgd(lr = 0.1)\n"
        "    batch = 5\n"
        "}\n";
    char *dlm = fmt("%s/gc_recompute_check.dlm", workdir), *log = fmt("%s/gc_recompute_check.log", workdir);
    CU_ASSERT_FATAL(write_text(dlm, text));
    char *out;
    CU_ASSERT_EQUAL_FATAL(run_words(&out, log, fmt(DLC_PATH " check %s --recompute", dlm)), 0);
    const char *line = strstr(out, "--recompute:");
    const char *of = line ? strstr(line, " of ") : NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(of);
    const char *num = of;
    while (num > line && num[-1] >= '0' && num[-1] <= '9')
        num--;
    int values = atoi(num);
    CU_ASSERT(values > 0);
    if (values <= 0)
        fail("--recompute computes nothing again in the test's model", out);

    const char *cflags = "-O2 -ffp-contract=fast";
    Build b64, b32, plain;
    if (!build_with(&b64, "gc_recompute_f64", text, "F(x,X)", "--dtype f64 --recompute", cflags) ||
        !build_with(&b32, "gc_recompute_f32", text, "F(x,X)", "--dtype f32 --recompute", cflags) ||
        !build_with(&plain, "gc_recompute_plain", text, "F(x,X)", "--dtype f32", cflags)) {
        CU_FAIL("model did not build");
        return;
    }
    int rc = harness(&b64, "check 7 4 40 1e-6", &out);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "param "));
    if (rc != 0)
        fail("gradient check of the --recompute build", out);
    char *t64, *t32, *tp;
    CU_ASSERT_FATAL(harness(&b64, "trace 11 4 3 0.1", &t64) == 0 && harness(&b32, "trace 11 4 3 0.1", &t32) == 0 &&
                    harness(&plain, "trace 11 4 3 0.1", &tp) == 0);
    CU_ASSERT_STRING_EQUAL(t32, tp);
    if (strcmp(t32, tp) != 0)
        fail("the f32 --recompute build's trace differs from the build without it", NULL);
    Trace a, b;
    CU_ASSERT_FATAL(trace_parse(t64, &a) && trace_parse(t32, &b));
    int grads = f32_near_f64(&a, &b, "--recompute");
    CU_ASSERT(grads >= 10);
}

int main(int argc, char **argv) {
    atexit(free_kept);
    /* `test_gradcheck zoo`: only the zoo against PyTorch (the interop suite, which has torch) */
    bool zoo = argc > 1 && strcmp(argv[1], "zoo") == 0;
    const char *seed = getenv("GRADCHECK_SEED");
    uint64_t shape_seed = seed ? strtoull(seed, NULL, 10) : 2024;
    gradcheck_seed(shape_seed);
    if (!mkdtemp(workdir)) {
        perror("mkdtemp");
        return 1;
    }
    printf("gradcheck: shapes drawn with GRADCHECK_SEED=%llu, files in %s\n", (unsigned long long)shape_seed, workdir);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (zoo) {
        CU_pSuite z = CU_add_suite("the zoo's modern CNNs against PyTorch, one f64 step", NULL, NULL);
        for (size_t i = 0; i < sizeof zoo_cases / sizeof zoo_cases[0]; i++)
            CU_add_test(z, fmt("%s matches PyTorch: gradients, running statistics, inference", zoo_cases[i].model),
                        test_pytorch_zoo);
    } else {
        CU_pSuite g = CU_add_suite("gradients against central differences", NULL, NULL);
        for (int i = 0; i < gradcheck_ncases; i++)
            CU_add_test(g, gradcheck_cases[i].title, test_grad_case);
        CU_pSuite o = CU_add_suite("optimizer steps by hand", NULL, NULL);
        CU_add_test(o, "sgd", test_opt_sgd);
        CU_add_test(o, "sgd with momentum (f32)", test_opt_momentum);
        CU_add_test(o, "weight decay on *.weight only", test_opt_weight_decay);
        CU_add_test(o, "adam with bias correction, two steps", test_opt_adam);
        CU_add_test(o, "l1 proximal step on *.weight only", test_opt_l1);
        CU_add_test(o, "the formulas tell the optimizers apart", test_opt_formulas_discriminate);
        CU_pSuite t = CU_add_suite("tied parameters, constants, grad()", NULL, NULL);
        CU_add_test(t, "a tied layer's gradient is the sum of its uses", test_tied_is_sum_of_uses);
        CU_add_test(t, "a const gets no gradient and no update", test_const_not_trained);
        CU_add_test(t, "a state gets no gradient and takes its := value after the step", test_state_update);
        CU_add_test(t, "batch_norm matches PyTorch: gradients, running statistics, inference", test_pytorch_batch_norm);
        CU_add_test(t, "D2L 2.5: grad(2 * dot(x, x), x) = 4x", test_d2l_autograd);
        CU_pSuite k = CU_add_suite("direct convolution kernels on each instruction set (DLRT_ISA)", NULL, NULL);
        CU_add_test(k, "gradients, and f32 against f64, on every path the CPU has", test_isa_paths);
        CU_add_test(k, "f32 gradients through dlc's matrix product against f64, on every path", test_dlc_gemm);
        CU_add_test(k, "f32 gradients through the implicit convolutions against f64, on every path", test_dlc_conv);
        CU_add_test(k, "epilogues: the same bits as unfused, f32 against f64, on every path", test_epilogues);
        CU_pSuite r = CU_add_suite("--recompute", NULL, NULL);
        CU_add_test(r, "gradients, f32 against f64, and the same f32 bits as without it", test_recompute);
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    if (failed || any_failure)
        printf("gradcheck: files kept in %s\n", workdir);
    else
        remove_tree(workdir);
    return failed || any_failure ? 1 : 0;
}
