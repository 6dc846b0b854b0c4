/* elementwise.c: the element-wise family: unary and binary arithmetic, comparisons, where, the broadcasting copy,
 * detach and dropout's mask (mean's divisor, divcount, is with the reductions).
 *
 * Operands broadcast (NumPy's rules, the batch dimension only with itself); emit.c fuses chains of these ops
 * into one loop nest, so an op here is a C expression over its operands' expressions. Each op's rules sit
 * together: the value of one element (constant folding), its C expression and its gradient, written with the
 * macros below, whose bodies see x (the operands' values or C expressions), n (the node), e (the emission),
 * g (the graph), i (the operand differentiated) and d (the adjoint). */
#include <inttypes.h>
#include <math.h>

#include "dlc.h"

#define FOLD(op, value)                                                                                                \
    static double fold_##op(const double *x, const IrNode *n) {                                                        \
        (void)x, (void)n;                                                                                              \
        return (value);                                                                                                \
    }
#define C_EXPR(op, ...)                                                                                                \
    static char *c_##op(Emit *e, const IrNode *n, char *const *x, const char *flat) {                                  \
        (void)e, (void)n, (void)x, (void)flat;                                                                         \
        return xsprintf(e->ctx, __VA_ARGS__);                                                                          \
    }
#define GRAD(op, rule)                                                                                                 \
    static IrNode *grad_##op(Graph *g, IrNode *n, int i, IrNode *d) {                                                  \
        (void)g, (void)n, (void)i;                                                                                     \
        return (rule);                                                                                                 \
    }

/* The gradients' arithmetic, located at the node they differentiate. */
static IrNode *k(Graph *g, IrNode *n, double v) { return ir_const_scalar(g, v, n->loc); }
static IrNode *mul(Graph *g, IrNode *n, IrNode *a, IrNode *b) { return b_binary(g, OP_MUL, a, b, n->loc); }
static IrNode *sub(Graph *g, IrNode *n, IrNode *a, IrNode *b) { return b_binary(g, OP_SUB, a, b, n->loc); }
static IrNode *divn(Graph *g, IrNode *n, IrNode *a, IrNode *b) { return b_binary(g, OP_DIV, a, b, n->loc); }
static IrNode *neg(Graph *g, IrNode *n, IrNode *a) { return b_unary(g, OP_NEG, a, n->loc); }

/* ---- shape rules and folding ---- */

static bool is_scalar_const(const IrNode *n, double v) {
    double c;
    return ir_is_const(n, &c) && c == v && n->shape.rank == 0;
}

/* The flat index into `in` (broadcast to `out`) of element `i` of `out`. */
static int64_t bcast_index(const Shape *out, const Shape *in, int64_t i) {
    int64_t idx = 0, stride = 1;
    for (int k = out->rank - 1, j = in->rank - 1; k >= 0; k--, j--) {
        int64_t coord = i % out->d[k];
        i /= out->d[k];
        if (j >= 0) {
            if (in->d[j] != 1)
                idx += coord * stride;
            stride *= in->d[j];
        }
    }
    return idx;
}

/* The node as a constant when every operand is one (and the result is small enough to hold), else NULL. */
IrNode *elem_fold(Graph *g, Op op, Shape shape, int nin, IrNode **in, const int64_t *attr, Loc loc) {
    for (int i = 0; i < nin; i++)
        if (in[i]->op != OP_CONST)
            return NULL;
    if (shape.batched)
        return NULL;
    int64_t n = shape_numel(&shape);
    if (n > MAX_CONST_NUMEL)
        return NULL; /* computed at run time */
    double *v = xalloc(g->ctx, sizeof(double) * (size_t)(n ? n : 1));
    IrNode tmp = {0};
    if (attr)
        memcpy(tmp.attr, attr, sizeof tmp.attr);
    for (int64_t i = 0; i < n; i++) {
        double x[3] = {0, 0, 0};
        for (int k = 0; k < nin; k++)
            x[k] = in[k]->data[bcast_index(&shape, &in[k]->shape, i)];
        v[i] = op_rule(op)->fold(x, &tmp);
    }
    return ir_const_data(g, shape, v, loc);
}

/* Operands broadcast together, f32; constants fold, and identities (x * 1, x + 0) are never built. */
static IrNode *build_elem(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)a;
    const OpRule *r = op_rule(op);
    Shape s = in[0]->shape;
    for (int i = 1; i < nin; i++) {
        Shape t;
        if (!shape_broadcast(&s, &in[i]->shape, &t)) {
            error_at(loc, "operands do not broadcast: %s and %s", type_str(g->ctx, in[0]->dtype, &s),
                     type_str(g->ctx, in[i]->dtype, &in[i]->shape));
            return NULL;
        }
        s = t;
    }
    if (!shape_check_size(&s, DT_F32, loc, "the operands broadcast together"))
        return NULL;
    for (int i = 0; i < nin; i++)
        if (in[i]->dtype != DT_F32) {
            error_at(loc, "'%s' needs f32 operands, got %s (integer labels are only for losses and metrics)",
                     r->spelling ? r->spelling : op_info[op].name, type_str(g->ctx, in[i]->dtype, &in[i]->shape));
            return NULL;
        }
    if (nin == 2) {
        if (r->right_identity && is_scalar_const(in[1], r->identity) && shape_eq(&in[0]->shape, &s))
            return in[0];
        if (r->left_identity && is_scalar_const(in[0], r->identity) && shape_eq(&in[1]->shape, &s))
            return in[1];
    }
    IrNode *f = elem_fold(g, op, s, nin, in, NULL, loc);
    if (f)
        return f;
    return ir_node(g, op, DT_F32, s, nin, in, NULL, loc);
}

IrNode *b_elem(Graph *g, Op op, int nin, IrNode **in, Loc loc) { return op_build(g, op, nin, in, NULL, loc); }

IrNode *b_unary(Graph *g, Op op, IrNode *a, Loc loc) { return b_elem(g, op, 1, &a, loc); }

IrNode *b_binary(Graph *g, Op op, IrNode *a, IrNode *b, Loc loc) {
    IrNode *in[2] = {a, b};
    return b_elem(g, op, 2, in, loc);
}

IrNode *b_scalar_op(Graph *g, Op op, IrNode *a, double c, Loc loc) {
    return b_binary(g, op, a, ir_const_scalar(g, c, loc), loc);
}

/* copy: a broadcast to a->shape (a loop, usually fused away) */
static IrNode *build_copy(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    IrNode *x = in[0];
    if (shape_eq(&x->shape, &a->shape))
        return x;
    Shape r;
    if (!shape_broadcast(&x->shape, &a->shape, &r) || !shape_eq(&r, &a->shape)) {
        error_at(loc, "cannot broadcast %s to %s", type_str(g->ctx, x->dtype, &x->shape), shape_str(g->ctx, &a->shape));
        return NULL;
    }
    IrNode *f = elem_fold(g, op, a->shape, 1, in, NULL, loc);
    if (f)
        return f;
    return ir_node(g, op, x->dtype, a->shape, 1, in, NULL, loc);
}

/* Broadcast `a` to `shape`. */
IrNode *b_expand(Graph *g, IrNode *a, Shape shape, Loc loc) {
    OpArgs args = {.shape = shape};
    return op_build(g, OP_COPY, 1, &a, &args, loc);
}

/* dropmask: no operands; a->shape, the salt of its hash (attribute), p (fattr) */
static IrNode *build_dropmask(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin, (void)in;
    return ir_node_f(g, op, a->shape, 0, NULL, a->attr, a->fattr, loc);
}

IrNode *b_dropmask(Graph *g, Shape s, double p, int64_t salt, Loc loc) {
    OpArgs a = {.attr = {salt}, .fattr = p, .shape = s};
    return op_build(g, OP_DROPMASK, 0, NULL, &a, loc);
}

/* ---- rewrites: simplify.c applies an op's, in order, to a fixpoint ---- */

static bool is_scalar(const IrNode *n, double *v) { return n->shape.rank == 0 && ir_is_const(n, v); }

/* --x -> x */
static IrNode *neg_neg(Graph *g, IrNode *n) {
    (void)g;
    return n->in[0]->op == OP_NEG ? n->in[0]->in[0] : NULL;
}

/* x + -y -> x - y;  x - -y -> x + y */
static IrNode *add_neg(Graph *g, IrNode *n) {
    IrNode *y = n->in[1];
    if (y->op != OP_NEG || !shape_eq(&y->shape, &y->in[0]->shape))
        return NULL;
    return b_binary(g, n->op == OP_ADD ? OP_SUB : OP_ADD, n->in[0], y->in[0], n->loc);
}

/* c1 * (c2 * x) -> (c1 c2) * x, and the mirrored forms, for scalar constants */
static IrNode *mul_consts(Graph *g, IrNode *n) {
    double c1, c2;
    IrNode *a = n->in[0], *b = n->in[1];
    if (is_scalar(b, &c1)) {
        IrNode *t = a;
        a = b;
        b = t;
    } else if (!is_scalar(a, &c1)) {
        return NULL;
    }
    if (b->op != OP_MUL)
        return NULL;
    IrNode *x;
    if (is_scalar(b->in[0], &c2))
        x = b->in[1];
    else if (is_scalar(b->in[1], &c2))
        x = b->in[0];
    else
        return NULL;
    if (!shape_eq(&x->shape, &n->shape))
        return NULL;
    return b_binary(g, OP_MUL, x, ir_const_scalar(g, c1 * c2, n->loc), n->loc);
}

/* x * -1 -> -x */
static IrNode *mul_minus_one(Graph *g, IrNode *n) {
    double c;
    for (int k = 0; k < 2; k++)
        if (is_scalar(n->in[k], &c) && c == -1 && shape_eq(&n->in[1 - k]->shape, &n->shape))
            return b_unary(g, OP_NEG, n->in[1 - k], n->loc);
    return NULL;
}

/* a copy to the shape it already has is the value itself */
static IrNode *copy_same(Graph *g, IrNode *n) {
    (void)g;
    return shape_eq(&n->shape, &n->in[0]->shape) ? n->in[0] : NULL;
}

/* x + x -> 2x */
static IrNode *add_same(Graph *g, IrNode *n) {
    if (n->in[0] != n->in[1])
        return NULL;
    return b_binary(g, OP_MUL, n->in[0], ir_const_scalar(g, 2, n->loc), n->loc);
}

static const RewriteFn neg_rewrites[] = {neg_neg, fold_affine, NULL};
static const RewriteFn add_rewrites[] = {add_neg, add_same, fold_affine, NULL};
static const RewriteFn sub_rewrites[] = {add_neg, fold_affine, NULL};
static const RewriteFn mul_rewrites[] = {mul_consts, mul_minus_one, fold_affine, NULL};
static const RewriteFn div_rewrites[] = {fold_affine, NULL};
static const RewriteFn copy_rewrites[] = {copy_same, NULL};

/* ---- unary ---- */

FOLD(neg, -x[0])
C_EXPR(neg, "(-%s)", x[0])
GRAD(neg, neg(g, n, d))
const OpRule rule_NEG = {.build = build_elem,
                         .grad = grad_neg,
                         .rewrites = neg_rewrites,
                         .fold = fold_neg,
                         .c_expr = c_neg,
                         .spelling = "-",
                         .onnx_op = "Neg"};

FOLD(exp, exp(x[0]))
C_EXPR(exp, "%s(%s)", emit_exp(e), x[0])
GRAD(exp, mul(g, n, d, n))
const OpRule rule_EXP = {
    .build = build_elem, .grad = grad_exp, .fold = fold_exp, .c_expr = c_exp, .calls = CALLS_EXPV, .onnx_op = "Exp"};

FOLD(log, log(x[0]))
C_EXPR(log, "%s(%s)", emit_libm(e, "log"), x[0])
GRAD(log, divn(g, n, d, n->in[0]))
const OpRule rule_LOG = {.build = build_elem, .grad = grad_log, .fold = fold_log, .c_expr = c_log, .onnx_op = "Log"};

FOLD(abs, fabs(x[0]))
C_EXPR(abs, "%s(%s)", emit_libm(e, "fabs"), x[0])
GRAD(abs, mul(g, n, d, b_unary(g, OP_SIGN, n->in[0], n->loc)))
const OpRule rule_ABS = {.build = build_elem, .grad = grad_abs, .fold = fold_abs, .c_expr = c_abs, .onnx_op = "Abs"};

FOLD(sqrt, sqrt(x[0]))
C_EXPR(sqrt, "%s(%s)", emit_libm(e, "sqrt"), x[0])
GRAD(sqrt, divn(g, n, mul(g, n, d, k(g, n, 0.5)), n))
const OpRule rule_SQRT = {
    .build = build_elem, .grad = grad_sqrt, .fold = fold_sqrt, .c_expr = c_sqrt, .onnx_op = "Sqrt"};

/* piecewise constant: no gradient */
FOLD(sign, (x[0] > 0) - (x[0] < 0))
C_EXPR(sign, "((%s) > %s ? %s : (%s) < %s ? -%s : %s)", x[0], emit_lit(e, 0), emit_lit(e, 1), x[0], emit_lit(e, 0),
       emit_lit(e, 1), emit_lit(e, 0))
const OpRule rule_SIGN = {
    .build = build_elem, .grad = grad_none, .fold = fold_sign, .c_expr = c_sign, .onnx_op = "Sign"};

/* detach: the value, and a gradient stops here (D2L 2.5.3's u = y.detach()) */
FOLD(detach, x[0])
C_EXPR(detach, "%s", x[0])
const OpRule rule_DETACH = {
    .build = build_elem, .grad = grad_none, .fold = fold_detach, .c_expr = c_detach, .onnx_op = "Identity"};

/* relu' from the output: y > 0 exactly where x > 0, and x then need not be kept for backward */
FOLD(relu, x[0] > 0 ? x[0] : 0)
C_EXPR(relu, "relu(%s)", x[0])
GRAD(relu, mul(g, n, d, b_binary(g, OP_GT, n, k(g, n, 0), n->loc)))
const OpRule rule_RELU = {.build = build_elem,
                          .grad = grad_relu,
                          .fold = fold_relu,
                          .c_expr = c_relu,
                          .calls = CALLS_RELU,
                          .onnx_op = "Relu"};

FOLD(sigmoid, 1 / (1 + exp(-x[0])))
/* f32: the emitted sigmoidv (emit.c), which needs no division; f64: libm's exp */
static char *c_sigmoid(Emit *e, const IrNode *n, char *const *x, const char *flat) {
    (void)n, (void)flat;
    if (!e->f64)
        return xsprintf(e->ctx, "sigmoidv(%s)", x[0]);
    return xsprintf(e->ctx, "(%s / (%s + %s(-(%s))))", emit_lit(e, 1), emit_lit(e, 1), emit_exp(e), x[0]);
}
GRAD(sigmoid, mul(g, n, d, mul(g, n, n, sub(g, n, k(g, n, 1), n))))
const OpRule rule_SIGMOID = {.build = build_elem,
                             .grad = grad_sigmoid,
                             .fold = fold_sigmoid,
                             .c_expr = c_sigmoid,
                             .calls = CALLS_SIGMOID,
                             .flat_epilogue = true,
                             .onnx_op = "Sigmoid"};

FOLD(tanh, tanh(x[0]))
C_EXPR(tanh, "%s(%s)", emit_libm(e, "tanh"), x[0])
GRAD(tanh, mul(g, n, d, sub(g, n, k(g, n, 1), mul(g, n, n, n))))
const OpRule rule_TANH = {
    .build = build_elem, .grad = grad_tanh, .fold = fold_tanh, .c_expr = c_tanh, .onnx_op = "Tanh"};

/* a broadcast: free when fused, so it counts no FLOPs */
static double flops_none(const IrNode *n) {
    (void)n;
    return 0;
}
/* Expand to the node's shape; ONNX broadcasts the batch dimension from the input's (1 in the target shape), or,
 * for an unbatched tensor broadcast over the batch, takes it from the run-time batch size */
static const char *onnx_copy(const IrNode *n, OnnxNode *o) {
    o->op_type = "Expand";
    int64_t dims[MAX_RANK];
    for (int k = 0; k < n->shape.rank; k++)
        dims[k] = k == 0 && n->shape.batched ? 1 : n->shape.d[k];
    if (!n->shape.batched || n->in[0]->shape.batched) {
        onnx_input(o, onnx_const(o, "shape", n->shape.rank, dims));
    } else if (n->shape.rank == 1) {
        onnx_input(o, ONNX_REF_BATCH);
    } else {
        int rest = onnx_const(o, "dims", n->shape.rank - 1, dims + 1);
        onnx_input(o, onnx_pre(o, "Concat", NULL, ONNX_REF_BATCH, rest, "axis", 0));
    }
    return NULL;
}
FOLD(copy, x[0])
C_EXPR(copy, "%s", x[0])
GRAD(copy, d)
const OpRule rule_COPY = {.build = build_copy,
                          .grad = grad_copy,
                          .rewrites = copy_rewrites,
                          .fold = fold_copy,
                          .c_expr = c_copy,
                          .flops = flops_none,
                          .onnx = onnx_copy};

/* 0 or 1/(1-p) from a counter-based hash of the step, the site and the element: recomputed wherever it is read */
C_EXPR(dropmask, "dropmask(st, %" PRId64 ", (uint64_t)(%s), %" PRId64 "u, %s)", n->attr[0], flat,
       n->shape.batched ? shape_inner(&n->shape) : 0, emit_lit(e, n->fattr))
const OpRule rule_DROPMASK = {
    .build = build_dropmask,
    .grad = grad_none,
    .c_expr = c_dropmask,
    .recompute = true,
    .calls = CALLS_DROPMASK,
    .onnx_refused = "dropout masks exist in training graphs only (the exported graph is the evaluation graph)"};

/* ---- binary ---- */

FOLD(add, x[0] + x[1])
C_EXPR(add, "(%s + %s)", x[0], x[1])
GRAD(add, d)
const OpRule rule_ADD = {.build = build_elem,
                         .grad = grad_add,
                         .rewrites = add_rewrites,
                         .fold = fold_add,
                         .c_expr = c_add,
                         .spelling = "+",
                         .left_identity = true,
                         .right_identity = true,
                         .identity = 0,
                         .onnx_op = "Add"};

FOLD(sub, x[0] - x[1])
C_EXPR(sub, "(%s - %s)", x[0], x[1])
GRAD(sub, i == 0 ? d : neg(g, n, d))
const OpRule rule_SUB = {.build = build_elem,
                         .grad = grad_sub,
                         .rewrites = sub_rewrites,
                         .fold = fold_sub,
                         .c_expr = c_sub,
                         .spelling = "-",
                         .right_identity = true,
                         .identity = 0,
                         .onnx_op = "Sub"};

FOLD(mul, x[0] * x[1])
C_EXPR(mul, "(%s * %s)", x[0], x[1])
GRAD(mul, mul(g, n, d, i == 0 ? n->in[1] : n->in[0]))
const OpRule rule_MUL = {.build = build_elem,
                         .grad = grad_mul,
                         .rewrites = mul_rewrites,
                         .fold = fold_mul,
                         .c_expr = c_mul,
                         .spelling = "*",
                         .left_identity = true,
                         .right_identity = true,
                         .identity = 1,
                         .onnx_op = "Mul"};

FOLD(div, x[0] / x[1])
C_EXPR(div, "(%s / %s)", x[0], x[1])
GRAD(div, i == 0 ? divn(g, n, d, n->in[1]) : neg(g, n, divn(g, n, mul(g, n, d, n), n->in[1])))
const OpRule rule_DIV = {.build = build_elem,
                         .grad = grad_div,
                         .rewrites = div_rewrites,
                         .fold = fold_div,
                         .c_expr = c_div,
                         .spelling = "/",
                         .right_identity = true,
                         .identity = 1,
                         .onnx_op = "Div"};

/* x ** p; squares are written as products */
FOLD(pow, pow(x[0], x[1]))
static char *c_pow(Emit *e, const IrNode *n, char *const *x, const char *flat) {
    (void)flat;
    double p;
    if (ir_is_const(n->in[1], &p) && p == 2)
        return xsprintf(e->ctx, "(%s * %s)", x[0], x[0]);
    return xsprintf(e->ctx, "%s(%s, %s)", emit_libm(e, "pow"), x[0], x[1]);
}
static IrNode *grad_pow(Graph *g, IrNode *n, int i, IrNode *d) {
    IrNode *x = n->in[0], *b = n->in[1];
    if (i == 0) {
        double p;
        if (ir_is_const(b, &p)) {
            if (p == 2)
                return mul(g, n, d, mul(g, n, x, k(g, n, 2)));
            return mul(g, n, d, mul(g, n, b, b_binary(g, OP_POW, x, k(g, n, p - 1), n->loc)));
        }
        return mul(g, n, d, mul(g, n, b, b_binary(g, OP_POW, x, sub(g, n, b, k(g, n, 1)), n->loc)));
    }
    return mul(g, n, d, mul(g, n, n, b_unary(g, OP_LOG, x, n->loc)));
}
const OpRule rule_POW = {
    .build = build_elem, .grad = grad_pow, .fold = fold_pow, .c_expr = c_pow, .spelling = "**", .onnx_op = "Pow"};

/* maximum and minimum: the gradient goes to the operand that wins, half to each where they tie (as
 * torch.maximum's): d * (x_i wins + 0.5 * (x_0 == x_1)) */
static IrNode *tie_share(Graph *g, IrNode *n, int i, Op wins) {
    IrNode *x = n->in[i], *other = n->in[1 - i];
    IrNode *tie = b_binary(g, OP_EQ, n->in[0], n->in[1], n->loc);
    return b_binary(g, OP_ADD, b_binary(g, wins, x, other, n->loc), mul(g, n, tie, k(g, n, 0.5)), n->loc);
}

FOLD(maximum, x[0] > x[1] ? x[0] : x[1])
C_EXPR(maximum, "maxr(%s, %s)", x[0], x[1])
GRAD(maximum, mul(g, n, d, tie_share(g, n, i, OP_GT)))
const OpRule rule_MAXIMUM = {.build = build_elem,
                             .grad = grad_maximum,
                             .fold = fold_maximum,
                             .c_expr = c_maximum,
                             .spelling = "max",
                             .calls = CALLS_MAXR,
                             .onnx_op = "Max"};

FOLD(minimum, x[0] < x[1] ? x[0] : x[1])
C_EXPR(minimum, "minr(%s, %s)", x[0], x[1])
GRAD(minimum, mul(g, n, d, tie_share(g, n, i, OP_LT)))
const OpRule rule_MINIMUM = {.build = build_elem,
                             .grad = grad_minimum,
                             .fold = fold_minimum,
                             .c_expr = c_minimum,
                             .spelling = "min",
                             .calls = CALLS_MINR,
                             .onnx_op = "Min"};

/* comparisons: 1 or 0, piecewise constant: no gradient. ONNX's comparisons give booleans, cast to 0/1 floats
 * (ne: Equal, Not) */
static const char *onnx_compare(const IrNode *n, OnnxNode *o) {
    static const char *const onnx_ops[] = {
        [OP_LT] = "Less",           [OP_LE] = "LessOrEqual", [OP_GT] = "Greater",
        [OP_GE] = "GreaterOrEqual", [OP_EQ] = "Equal",       [OP_NE] = "Equal",
    };
    o->op_type = onnx_ops[n->op];
    if (n->op == OP_NE)
        onnx_post(o, "Not", NULL, 0);
    onnx_post(o, "Cast", "to", ONNX_TYPE_FLOAT);
    return NULL;
}
#define COMPARISON(op, OP, c_op)                                                                                       \
    FOLD(op, x[0] c_op x[1])                                                                                           \
    C_EXPR(op, "(%s " #c_op " %s ? %s : %s)", x[0], x[1], emit_lit(e, 1), emit_lit(e, 0))                              \
    const OpRule rule_##OP = {.build = build_elem,                                                                     \
                              .grad = grad_none,                                                                       \
                              .fold = fold_##op,                                                                       \
                              .c_expr = c_##op,                                                                        \
                              .spelling = #c_op,                                                                       \
                              .onnx = onnx_compare};
COMPARISON(lt, LT, <)
COMPARISON(le, LE, <=)
COMPARISON(gt, GT, >)
COMPARISON(ge, GE, >=)
COMPARISON(eq, EQ, ==)
COMPARISON(ne, NE, !=)

/* where(cond, a, b): the adjoint goes to the operand chosen, none to the condition. ONNX's Where takes a boolean
 * condition: the 0/1 float cast to bool (nonzero is true, as here) */
static const char *onnx_where(const IrNode *n, OnnxNode *o) {
    o->op_type = "Where";
    o->in[0] = NULL;
    o->ref[0] = onnx_pre(o, "Cast", n->in[0], 0, 0, "to", ONNX_TYPE_BOOL);
    return NULL;
}
FOLD(where, x[0] != 0 ? x[1] : x[2])
C_EXPR(where, "(%s != %s ? %s : %s)", x[0], emit_lit(e, 0), x[1], x[2])
static IrNode *grad_where(Graph *g, IrNode *n, int i, IrNode *d) {
    if (i == 0)
        return NULL;
    IrNode *zero = k(g, n, 0);
    IrNode *in[3] = {n->in[0], i == 1 ? d : zero, i == 1 ? zero : d};
    return b_elem(g, OP_WHERE, 3, in, n->loc);
}
const OpRule rule_WHERE = {.build = build_elem,
                           .grad = grad_where,
                           .no_grad_in = 1u << 0,
                           .fold = fold_where,
                           .c_expr = c_where,
                           .onnx = onnx_where};
