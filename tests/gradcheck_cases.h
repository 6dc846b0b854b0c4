/* gradcheck_cases.h: the models whose gradients test_gradcheck checks against central differences
 * (gradcheck_cases.c). test_ops compiles them too, to check that together they use every op of compiler/ops.def
 * that has a gradient rule. */
#ifndef GRADCHECK_CASES_H
#define GRADCHECK_CASES_H

#include <stdint.h>

/* A model's text, and its inputs as the harness lists them: "F(x,X) L(y,Y,10)" (tests/gradcheck_harness.c). */
typedef struct GradModel {
    const char *text;
    const char *inputs;
} GradModel;

typedef struct GradCase {
    const char *name;        /* the model's name: gc_unary */
    const char *title;       /* what it covers */
    GradModel (*make)(void); /* its shapes may be drawn from the cases' generator */
    int n;                   /* examples per check */
    const char *flags;       /* more dlc compile flags */
} GradCase;

extern const GradCase gradcheck_cases[];
extern const int gradcheck_ncases;
/* Seeds the generator the cases draw shapes from (GRADCHECK_SEED picks another draw). */
void gradcheck_seed(uint64_t seed);

#endif
