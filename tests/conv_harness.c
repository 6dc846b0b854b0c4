/* conv_harness.c: the driver test_conv_examples compiles together with one model's generated C.
 *
 * The model is named by macros given on the command line: MODEL (the prefix of its symbols, `xcorr`), MODEL_UC
 * (the prefix of its macros, `XCORR`), MODEL_H (its header, "xcorr.h"), INPUTS, its inputs in declaration order
 * as an X-macro list of F(x, X) (possibly empty), and OUTPUTS, the outputs to print, as O(y, Y). Define TRAINS
 * when the model has a training section (its functions then take the inputs, then lr).
 *
 *   forward VALUES            fills the inputs of one example (n = 1) from VALUES, a file of numbers in input
 *                             order, runs <model>_forward on FORWARD_INPUTS (default INPUTS: forward takes only the
 *                             inputs its outputs depend on) and prints each output: `output NAME SIZE v0 v1 ...`,
 *                             SIZE being <MODEL>_OUTPUT_<NAME>_SIZE; before them, forward's return value
 *                             (`status forward_status 1 S`) and, when HAS_LOOP_LIMIT is defined (the model has a
 *                             bounded while loop), <model>_loop_limit's (`status loop_limit 1 LINE`).
 *   train VALUES STEPS LR     fills the inputs, prints every parameter (`param 0 NAME v0 ...`), takes STEPS
 *                             training steps (<model>_train_step, n = 1), printing each step's loss (`loss STEP v`),
 *                             and prints the parameters again (`param STEPS NAME v0 ...`).
 *
 * Values are printed with %.17g, so that the test reads back exactly the value the model computed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include MODEL_H

#ifndef FORWARD_INPUTS
#define FORWARD_INPUTS INPUTS
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define CAT3_(a, b, c) a##b##c
#define CAT3(a, b, c) CAT3_(a, b, c)
#define CAT4_(a, b, c, d) a##b##c##d
#define CAT4(a, b, c, d) CAT4_(a, b, c, d)

typedef CAT(MODEL, _real) real;
#define PARAMS CAT(MODEL, _params)
#define PARAM_COUNT CAT(MODEL_UC, _PARAM_COUNT)
#define STATE_BYTES CAT(MODEL_UC, _STATE_BYTES)
#define INPUT_SIZE(N) CAT4(MODEL_UC, _INPUT_, N, _SIZE)
#define OUTPUT_SIZE(N) CAT4(MODEL_UC, _OUTPUT_, N, _SIZE)

/* one example of each input */
#define F(name, NAME) static real in_##name[INPUT_SIZE(NAME)];
INPUTS
#undef F
#define F(name, NAME) , in_##name

static int read_inputs(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    int rc = 0;
#undef F
#define F(name, NAME)                                                                                                  \
    for (size_t i = 0; rc == 0 && i < sizeof in_##name / sizeof in_##name[0]; i++) {                                   \
        double v;                                                                                                      \
        if (fscanf(f, "%lf", &v) != 1) {                                                                               \
            fprintf(stderr, "%s: too few values for input '%s'\n", path, #name);                                       \
            rc = 1;                                                                                                    \
        }                                                                                                              \
        in_##name[i] = (real)v;                                                                                        \
    }
    INPUTS
#undef F
#define F(name, NAME) , in_##name
    double extra;
    if (rc == 0 && fscanf(f, "%lf", &extra) == 1) {
        fprintf(stderr, "%s: more values than the inputs hold\n", path);
        rc = 1;
    }
    fclose(f);
    return rc;
}

static void print_values(const char *kind, const char *name, long long size, const real *v, long long count) {
    printf("%s %s %lld", kind, name, size);
    for (long long i = 0; i < count; i++)
        printf(" %.17g", (double)v[i]);
    printf("\n");
}

static void print_params(void *st, int step) {
    for (int p = 0; p < PARAM_COUNT; p++) {
        long long cnt = 1;
        for (int k = 0; k < PARAMS[p].rank; k++)
            cnt *= (long long)PARAMS[p].dims[k];
        char kind[32];
        snprintf(kind, sizeof kind, "param %d", step);
        print_values(kind, PARAMS[p].name, cnt, CAT(MODEL, _param)(st, PARAMS[p].name), cnt);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s forward VALUES | train VALUES STEPS LR\n", argv[0]);
        return 2;
    }
    /* the state block must be 64-byte aligned; STATE_BYTES is not necessarily a multiple of 64 */
    void *st = aligned_alloc(64, ((size_t)STATE_BYTES + 63) / 64 * 64);
    if (!st || read_inputs(argv[2]) != 0)
        return 2;
    CAT(MODEL, _init)(st, 42);
    int rc = 0;
    if (strcmp(argv[1], "forward") == 0) {
        int status = CAT(MODEL, _forward)(st, 1 FORWARD_INPUTS);
        printf("status forward_status 1 %d\n", status);
#ifdef HAS_LOOP_LIMIT
        printf("status loop_limit 1 %d\n", CAT(MODEL, _loop_limit)(st));
#endif
#define O(name, NAME)                                                                                                  \
    print_values("output", #name, (long long)OUTPUT_SIZE(NAME), CAT3(MODEL, _output_, name)(st),                       \
                 (long long)OUTPUT_SIZE(NAME));
        OUTPUTS
#undef O
    }
#ifdef TRAINS
    else if (strcmp(argv[1], "train") == 0 && argc == 5) {
        int steps = atoi(argv[3]);
        real lr = (real)atof(argv[4]);
        print_params(st, 0);
        for (int s = 1; s <= steps; s++)
            printf("loss %d %.17g\n", s, (double)CAT(MODEL, _train_step)(st, 1 INPUTS, lr, NULL));
        print_params(st, steps);
    }
#endif
    else {
        fprintf(stderr, "unknown mode '%s'\n", argv[1]);
        rc = 2;
    }
    (void)print_params;
    free(st);
    return rc;
}
