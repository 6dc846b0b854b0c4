/* build.c: node builders with their shape rules.
 *
 * Elaboration and autodiff build every node through these functions, so each op's shape rule lives in one
 * place. A builder checks its operands and returns NULL after reporting a located error when they do not fit;
 * callers propagate NULL (elaboration: the error is the user's; autodiff: it is a compiler bug). Element-wise
 * ops on constants are folded here, and algebraic identities (x*1, x+0, ...) are not built at all. */
#include <math.h>

#include "dlc.h"

static bool is_scalar_const(const IrNode *n, double v) {
    double c;
    return ir_is_const(n, &c) && c == v && n->shape.rank == 0;
}

static double elem_apply(Op op, double a, double b, double c, const IrNode *n) {
    (void)n;
    switch (op) {
    case OP_NEG:
        return -a;
    case OP_EXP:
        return exp(a);
    case OP_LOG:
        return log(a);
    case OP_ABS:
        return fabs(a);
    case OP_SQRT:
        return sqrt(a);
    case OP_SIGN:
        return (a > 0) - (a < 0);
    case OP_RELU:
        return a > 0 ? a : 0;
    case OP_SIGMOID:
        return 1 / (1 + exp(-a));
    case OP_TANH:
        return tanh(a);
    case OP_COPY:
        return a;
    case OP_ADD:
        return a + b;
    case OP_SUB:
        return a - b;
    case OP_MUL:
        return a * b;
    case OP_DIV:
        return a / b;
    case OP_POW:
        return pow(a, b);
    case OP_MAXIMUM:
        return a > b ? a : b;
    case OP_MINIMUM:
        return a < b ? a : b;
    case OP_LT:
        return a < b;
    case OP_LE:
        return a <= b;
    case OP_GT:
        return a > b;
    case OP_GE:
        return a >= b;
    case OP_EQ:
        return a == b;
    case OP_NE:
        return a != b;
    case OP_WHERE:
        return a != 0 ? b : c;
    default:
        die("cannot fold %s", op_info[op].name);
    }
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
        v[i] = op_rule(op)->fold ? op_rule(op)->fold(x, &tmp) : elem_apply(op, x[0], x[1], x[2], &tmp);
    }
    return ir_const_data(g, shape, v, loc);
}

/* How the user wrote an element-wise op, for messages: '*' rather than the IR's "mul". */
static const char *op_spelling(Op op) {
    switch (op) {
    case OP_ADD:
        return "+";
    case OP_SUB:
        return "-";
    case OP_MUL:
        return "*";
    case OP_DIV:
        return "/";
    case OP_POW:
        return "**";
    case OP_NEG:
        return "-";
    case OP_LT:
        return "<";
    case OP_LE:
        return "<=";
    case OP_GT:
        return ">";
    case OP_GE:
        return ">=";
    case OP_EQ:
        return "==";
    case OP_NE:
        return "!=";
    case OP_MAXIMUM:
        return "max";
    case OP_MINIMUM:
        return "min";
    default:
        return op_info[op].name;
    }
}

IrNode *b_elem(Graph *g, Op op, int nin, IrNode **in, Loc loc) {
    Shape s = in[0]->shape;
    for (int i = 1; i < nin; i++) {
        Shape r;
        if (!shape_broadcast(&s, &in[i]->shape, &r)) {
            error_at(loc, "operands do not broadcast: %s and %s", type_str(g->ctx, in[0]->dtype, &s),
                     type_str(g->ctx, in[i]->dtype, &in[i]->shape));
            return NULL;
        }
        s = r;
    }
    if (!shape_check_size(&s, DT_F32, loc, "the operands broadcast together"))
        return NULL;
    for (int i = 0; i < nin; i++)
        if (in[i]->dtype != DT_F32) {
            error_at(loc, "'%s' needs f32 operands, got %s (integer labels are only for losses and metrics)",
                     op_spelling(op), type_str(g->ctx, in[i]->dtype, &in[i]->shape));
            return NULL;
        }
    /* identities that never need a node */
    if (nin == 2) {
        IrNode *a = in[0], *b = in[1];
        if ((op == OP_ADD || op == OP_SUB) && is_scalar_const(b, 0) && shape_eq(&a->shape, &s))
            return a;
        if (op == OP_ADD && is_scalar_const(a, 0) && shape_eq(&b->shape, &s))
            return b;
        if ((op == OP_MUL || op == OP_DIV) && is_scalar_const(b, 1) && shape_eq(&a->shape, &s))
            return a;
        if (op == OP_MUL && is_scalar_const(a, 1) && shape_eq(&b->shape, &s))
            return b;
    }
    IrNode *f = elem_fold(g, op, s, nin, in, NULL, loc);
    if (f)
        return f;
    return ir_node(g, op, DT_F32, s, nin, in, NULL, loc);
}

IrNode *b_unary(Graph *g, Op op, IrNode *a, Loc loc) { return b_elem(g, op, 1, &a, loc); }

IrNode *b_binary(Graph *g, Op op, IrNode *a, IrNode *b, Loc loc) {
    IrNode *in[2] = {a, b};
    return b_elem(g, op, 2, in, loc);
}

IrNode *b_scalar_op(Graph *g, Op op, IrNode *a, double c, Loc loc) {
    return b_binary(g, op, a, ir_const_scalar(g, c, loc), loc);
}

/* Broadcast `a` to `shape` (a copy loop, usually fused away). */
IrNode *b_expand(Graph *g, IrNode *a, Shape shape, Loc loc) {
    if (shape_eq(&a->shape, &shape))
        return a;
    Shape r;
    if (!shape_broadcast(&a->shape, &shape, &r) || !shape_eq(&r, &shape))
        die("cannot expand %s to %s", shape_str(g->ctx, &a->shape), shape_str(g->ctx, &shape));
    IrNode *f = elem_fold(g, OP_COPY, shape, 1, &a, NULL, loc);
    if (f)
        return f;
    return ir_node(g, OP_COPY, DT_F32, shape, 1, &a, NULL, loc);
}

IrNode *b_dropmask(Graph *g, Shape s, double p, int64_t salt, Loc loc) {
    int64_t attr[MAX_ATTR] = {salt};
    return ir_node_f(g, OP_DROPMASK, s, 0, NULL, attr, p, loc);
}
