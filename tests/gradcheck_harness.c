/* gradcheck_harness.c: the driver test_gradcheck compiles together with one model's generated C.
 *
 * The model is named by macros given on the command line: MODEL (the prefix of its symbols, `mlp`), MODEL_UC (the
 * prefix of its macros, `MLP`), MODEL_H (its header, "mlp.h") and INPUTS, its inputs in declaration order as an
 * X-macro list: F(x, X) for a real input, L(y, Y, classes) for i32 labels drawn from 0..classes-1. Inputs are
 * filled from a generator seeded by the command line, so two models with the same inputs see the same values.
 *
 *   check INPUT_SEED N SAMPLES TOL    every trainable parameter's gradient (forward_train, backward, grad) against
 *                                     central differences of forward_train's loss, on all elements of a small
 *                                     parameter and SAMPLES of a larger one; prints one line per parameter, and
 *                                     the numbers of every element off by more than TOL. Exit 0 when all agree.
 *   trace INPUT_SEED N STEPS LR [VALUES]
 *                                     STEPS training steps; before each step prints every parameter, its gradient
 *                                     (or "null") and after the step the parameter again, for the test to check
 *                                     the optimizer by hand. VALUES ("name index value" lines) overrides
 *                                     initial parameter values. With -DEVAL_OUTPUT=E(name,NAME), then
 *                                     the inference forward pass on the same inputs and its output `name`.
 *   dump INPUT_SEED N LR FILE         (needs EVAL_OUTPUT) one training step from parameters drawn by a formula
 *                                     (below, tests/pytorch/zoo.py draws the same), then inference: writes the
 *                                     loss, every trainable parameter's gradient, every state after the step and
 *                                     the output to FILE, each record a line `KIND NAME COUNT` and COUNT f64
 *                                     little-endian. For models too large for a VALUES file or a text trace.
 *
 * With -DDLRT_GEMM_HOOK (an f32 build linked with runtime/gemm.c), the model's matrix products go to libdlrt's
 * dlrt_gemm_f32, as in a trainer, instead of OpenBLAS's sgemm; with -DDLRT_CONV_HOOK as well, its im2col
 * convolutions go to dlrt_conv_f32's implicit products.
 *
 * Output lines: `loss STEP VALUE`, `before|grad|after STEP NAME TRAINABLE v0 v1 ...`, `grad STEP NAME T null`,
 * `output STEPS NAME 0 v0 v1 ...`. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include MODEL_H
#ifdef DLRT_GEMM_HOOK
#include "dlrt.h"
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STR_(a) #a
#define STR(a) STR_(a)
#define CAT4_(a, b, c, d) a##b##c##d
#define CAT4(a, b, c, d) CAT4_(a, b, c, d)

typedef CAT(MODEL, _real) real;
#define PARAMS CAT(MODEL, _params)
#define PARAM_COUNT CAT(MODEL_UC, _PARAM_COUNT)
#define MAX_BATCH CAT(MODEL_UC, _MAX_BATCH)
#define STATE_BYTES CAT(MODEL_UC, _STATE_BYTES)
#define INPUT_SIZE(N) CAT4(MODEL_UC, _INPUT_, N, _SIZE)

/* the inputs, in the order the model's functions take them */
#define F(name, NAME) static real in_##name[MAX_BATCH * INPUT_SIZE(NAME)];
#define L(name, NAME, k) static int32_t in_##name[MAX_BATCH * INPUT_SIZE(NAME)];
INPUTS
#undef F
#undef L
#define F(name, NAME) , in_##name
#define L(name, NAME, k) , in_##name
static real forward_train(void *st, int n) { return CAT(MODEL, _forward_train)(st, n INPUTS, NULL); }
static void backward(void *st, int n) { CAT(MODEL, _backward)(st, n INPUTS); }

/* SplitMix64: the inputs' generator, independent of the model's own */
static uint64_t rng_state;
static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}
static double rng_uniform(void) { return (double)(rng_next() >> 11) * 0x1p-53; }

static void fill_inputs(uint64_t seed) {
    rng_state = seed;
#undef F
#undef L
#define F(name, NAME)                                                                                                  \
    for (size_t i = 0; i < sizeof in_##name / sizeof in_##name[0]; i++)                                                \
        in_##name[i] = (real)(2 * rng_uniform() - 1);
#define L(name, NAME, k)                                                                                               \
    for (size_t i = 0; i < sizeof in_##name / sizeof in_##name[0]; i++)                                                \
        in_##name[i] = (int32_t)(rng_next() % (uint64_t)(k));
    INPUTS
}

static int64_t param_count(int p) {
    int64_t c = 1;
    for (int k = 0; k < PARAMS[p].rank; k++)
        c *= PARAMS[p].dims[k];
    return c;
}

static real *param_values(void *st, int p) { return (real *)(void *)((unsigned char *)st + PARAMS[p].offset); }

static int check(void *st, int n, int samples, double tol) {
    const double h = 1e-5; /* balances truncation (h^2) against rounding (1/h) best for these models */
    /* the gradients live in the arena, which the next forward pass reuses: copy them all first */
    double *grads[PARAM_COUNT > 0 ? PARAM_COUNT : 1] = {0};
    real loss = forward_train(st, n);
    backward(st, n);
    int failed = 0;
    if (!isfinite((double)loss)) {
        printf("FAIL: the loss is %g\n", (double)loss);
        return 1;
    }
    for (int p = 0; p < PARAM_COUNT; p++) {
        const real *g = CAT(MODEL, _grad)(st, PARAMS[p].name);
        if (!PARAMS[p].trainable) {
            if (g) {
                printf("FAIL %s: not trainable, yet grad() returns a gradient\n", PARAMS[p].name);
                failed = 1;
            }
            continue;
        }
        if (!g) {
            printf("FAIL %s: trainable, yet grad() returns NULL\n", PARAMS[p].name);
            failed = 1;
            continue;
        }
        int64_t cnt = param_count(p);
        grads[p] = malloc(sizeof(double) * (size_t)cnt);
        for (int64_t i = 0; i < cnt; i++)
            grads[p][i] = (double)g[i];
    }
    /* dropout masks depend only on the step counter, which forward_train leaves alone: the loss repeats */
    real again = forward_train(st, n);
    if (again != loss) {
        printf("FAIL: forward_train is not repeatable: %.17g, then %.17g\n", (double)loss, (double)again);
        failed = 1;
    }
    printf("loss %.17g\n", (double)loss);
    for (int p = 0; p < PARAM_COUNT; p++) {
        if (!grads[p])
            continue;
        int64_t cnt = param_count(p), checked = 0;
        double worst = 0, largest = 0;
        real *v = param_values(st, p);
        for (int64_t s = 0; s < (cnt <= samples ? cnt : samples); s++) {
            /* all of a small parameter; else the first, the last and random elements between */
            int64_t i = cnt <= samples ? s : s == 0 ? 0 : s == 1 ? cnt - 1 : (int64_t)(rng_next() % (uint64_t)cnt);
            real keep = v[i];
            v[i] = keep + (real)h;
            double lp = (double)forward_train(st, n);
            v[i] = keep - (real)h;
            double lm = (double)forward_train(st, n);
            v[i] = keep;
            double num = (lp - lm) / (2 * h), ana = grads[p][i];
            /* relative, with a floor so that rounding noise in a tiny gradient is not a failure */
            double err = fabs(num - ana) / fmax(fmax(fabs(num), fabs(ana)), 1e-3);
            if (!(err <= tol)) {
                printf("FAIL %s[%lld]: analytic %.12g, central difference %.12g, relative error %.3g\n", PARAMS[p].name,
                       (long long)i, ana, num, err);
                failed = 1;
            }
            worst = fmax(worst, err);
            largest = fmax(largest, fabs(num));
            checked++;
        }
        printf("param %s: %lld of %lld elements, max relative error %.3g, largest gradient %.3g\n", PARAMS[p].name,
               (long long)checked, (long long)cnt, worst, largest);
        /* a check of zeros against zeros proves nothing: every parameter of these models matters to the loss */
        if (!(largest > 1e-6)) {
            printf("FAIL %s: every sampled gradient is zero; the check would be vacuous\n", PARAMS[p].name);
            failed = 1;
        }
        free(grads[p]);
    }
    return failed;
}

static void print_param(const char *kind, int step, void *st, int p, const real *v) {
    printf("%s %d %s %d", kind, step, PARAMS[p].name, PARAMS[p].trainable);
    if (!v) {
        printf(" null\n");
        return;
    }
    for (int64_t i = 0; i < param_count(p); i++)
        printf(" %.17g", (double)v[i]);
    printf("\n");
    (void)st;
}

static int load_values(void *st, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    char name[256];
    long long i;
    double x;
    while (fscanf(f, "%255s %lld %lf", name, &i, &x) == 3) {
        real *v = CAT(MODEL, _param)(st, name);
        if (!v) {
            fprintf(stderr, "%s: no parameter '%s'\n", path, name);
            fclose(f);
            return 1;
        }
        v[i] = (real)x;
    }
    fclose(f);
    return 0;
}

#ifdef EVAL_OUTPUT
/* the inference forward pass on the inputs, which reads what the training steps left (running statistics) */
static void eval_forward(void *st, int n) {
#undef F
#undef L
#define F(name, NAME) , in_##name
#define L(name, NAME, k)
    CAT(MODEL, _forward)(st, n INPUTS);
}

/* FNV-1a of a parameter's name: the seed of its values, so they do not depend on the order of the parameters */
static uint64_t name_seed(const char *name) {
    uint64_t h = 0xcbf29ce484222325u;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = (h ^ *c) * 0x100000001b3u;
    return h;
}

/* Uniform values in (-a, a) from SplitMix64 seeded by the name: a = 2 / sqrt(fan-in) for a weight of rank 2 or
 * more, 1 +- 0.3 for a batch norm's scale (`weight` of rank 1, `gamma`), 0.1 for biases and shifts. Random rather
 * than a smooth formula, whose weight matrices would have rank 2. */
static void formula_values(void *st) {
    for (int p = 0; p < PARAM_COUNT; p++) {
        if (!PARAMS[p].trainable)
            continue;
        const char *name = PARAMS[p].name, *dot = strrchr(name, '.');
        const char *leaf = dot ? dot + 1 : name;
        int64_t count = param_count(p);
        double amp = 0.1, centre = 0;
        if (strcmp(leaf, "gamma") == 0 || (strcmp(leaf, "weight") == 0 && PARAMS[p].rank == 1))
            amp = 0.3, centre = 1;
        else if (strcmp(leaf, "weight") == 0)
            amp = 2 / sqrt((double)(count / PARAMS[p].dims[0]));
        real *v = param_values(st, p);
        rng_state = name_seed(name);
        for (int64_t i = 0; i < count; i++)
            v[i] = (real)(centre + amp * (2 * rng_uniform() - 1));
    }
}

static int dump_record(FILE *f, const char *kind, const char *name, const real *v, int64_t count) {
    fprintf(f, "%s %s %lld\n", kind, name, (long long)count);
    for (int64_t i = 0; i < count; i++) {
        double d = (double)v[i];
        if (fwrite(&d, sizeof d, 1, f) != 1)
            return 1;
    }
    return 0;
}

static int dump(void *st, int n, double lr, const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 2;
    }
    formula_values(st);
    real loss = forward_train(st, n);
    backward(st, n);
    int bad = dump_record(f, "loss", "-", &loss, 1);
    for (int p = 0; p < PARAM_COUNT; p++)
        if (PARAMS[p].trainable)
            bad |= dump_record(f, "grad", PARAMS[p].name, CAT(MODEL, _grad)(st, PARAMS[p].name), param_count(p));
    CAT(MODEL, _step)(st, (real)lr);
    for (int p = 0; p < PARAM_COUNT; p++)
        if (!PARAMS[p].trainable)
            bad |= dump_record(f, "state", PARAMS[p].name, param_values(st, p), param_count(p));
    eval_forward(st, n);
#undef E
#define E(name, NAME)                                                                                                  \
    bad |= dump_record(f, "output", STR(name), CAT(CAT(MODEL, _output_), name)(st),                                    \
                       n * CAT4(MODEL_UC, _OUTPUT_, NAME, _SIZE));
    EVAL_OUTPUT
    if (fclose(f) != 0 || bad) {
        perror(path);
        return 2;
    }
    return 0;
}

static void print_output(const char *name, const real *v, int64_t count, int steps) {
    printf("output %d %s 0", steps, name);
    for (int64_t i = 0; i < count; i++)
        printf(" %.17g", (double)v[i]);
    printf("\n");
}
#endif

static int trace(void *st, int n, int steps, double lr) {
    for (int s = 1; s <= steps; s++) {
        real loss = forward_train(st, n);
        backward(st, n);
        printf("loss %d %.17g\n", s, (double)loss);
        for (int p = 0; p < PARAM_COUNT; p++) {
            print_param("before", s, st, p, param_values(st, p));
            print_param("grad", s, st, p, CAT(MODEL, _grad)(st, PARAMS[p].name));
        }
        CAT(MODEL, _step)(st, (real)lr);
        for (int p = 0; p < PARAM_COUNT; p++)
            print_param("after", s, st, p, param_values(st, p));
    }
#ifdef EVAL_OUTPUT
    eval_forward(st, n);
#undef E
#define E(name, NAME)                                                                                                  \
    print_output(STR(name), CAT(CAT(MODEL, _output_), name)(st), n *CAT4(MODEL_UC, _OUTPUT_, NAME, _SIZE), steps);
    EVAL_OUTPUT
#endif
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr,
                "usage: %s check INPUT_SEED N SAMPLES TOL | trace INPUT_SEED N STEPS LR [VALUES] | dump INPUT_SEED N "
                "LR FILE\n",
                argv[0]);
        return 2;
    }
#ifdef DLRT_GEMM_HOOK
    CAT(MODEL, _set_gemm)(dlrt_gemm_f32);
#endif
#ifdef DLRT_CONV_HOOK
    CAT(MODEL, _set_conv)(dlrt_conv_f32);
#endif
    int n = atoi(argv[3]);
    if (n < 1 || n > MAX_BATCH) {
        fprintf(stderr, "batch %d is outside 1..%d\n", n, MAX_BATCH);
        return 2;
    }
    /* the state block must be 64-byte aligned; STATE_BYTES is not necessarily a multiple of 64 */
    void *st = aligned_alloc(64, ((size_t)STATE_BYTES + 63) / 64 * 64);
    if (!st)
        return 2;
    CAT(MODEL, _init)(st, 42);
    fill_inputs(strtoull(argv[2], NULL, 10));
    int rc;
    if (strcmp(argv[1], "check") == 0) {
        rc = check(st, n, atoi(argv[4]), atof(argv[5]));
    } else if (strcmp(argv[1], "trace") == 0) {
        rc = argc > 6 && load_values(st, argv[6]) ? 2 : trace(st, n, atoi(argv[4]), atof(argv[5]));
#ifdef EVAL_OUTPUT
    } else if (strcmp(argv[1], "dump") == 0) {
        rc = dump(st, n, atof(argv[4]), argv[5]);
#endif
    } else {
        fprintf(stderr, "unknown mode '%s'\n", argv[1]);
        rc = 2;
    }
    free(st);
    return rc;
}
