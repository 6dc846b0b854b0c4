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
    case OP_DIVCOUNT:
        return a / (double)n->attr[0];
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

static IrNode *fold(Graph *g, Op op, Shape shape, int nin, IrNode **in, const int64_t *attr, Loc loc) {
    for (int i = 0; i < nin; i++)
        if (in[i]->op != OP_CONST)
            return NULL;
    if (shape.batched)
        return NULL;
    int64_t n = shape_numel(&shape);
    if (n > MAX_CONST_NUMEL)
        return NULL; /* computed at run time */
    double *v = xalloc(sizeof(double) * (size_t)(n ? n : 1));
    IrNode tmp = {0};
    if (attr)
        memcpy(tmp.attr, attr, sizeof tmp.attr);
    for (int64_t i = 0; i < n; i++) {
        double x[3] = {0, 0, 0};
        for (int k = 0; k < nin; k++)
            x[k] = in[k]->data[bcast_index(&shape, &in[k]->shape, i)];
        v[i] = elem_apply(op, x[0], x[1], x[2], &tmp);
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
            error_at(loc, "operands do not broadcast: %s and %s", type_str(in[0]->dtype, &s),
                     type_str(in[i]->dtype, &in[i]->shape));
            return NULL;
        }
        s = r;
    }
    if (!shape_check_size(&s, DT_F32, loc, "the operands broadcast together"))
        return NULL;
    for (int i = 0; i < nin; i++)
        if (in[i]->dtype != DT_F32) {
            error_at(loc, "'%s' needs f32 operands, got %s (integer labels are only for losses and metrics)",
                     op_spelling(op), type_str(in[i]->dtype, &in[i]->shape));
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
    IrNode *f = fold(g, op, s, nin, in, NULL, loc);
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
        die("cannot expand %s to %s", shape_str(&a->shape), shape_str(&shape));
    IrNode *f = fold(g, OP_COPY, shape, 1, &a, NULL, loc);
    if (f)
        return f;
    return ir_node(g, OP_COPY, DT_F32, shape, 1, &a, NULL, loc);
}

IrNode *b_reshape(Graph *g, IrNode *a, Shape shape, Loc loc) {
    if (shape_eq(&a->shape, &shape))
        return a;
    if (shape_numel(&a->shape) != shape_numel(&shape) || a->shape.batched != shape.batched ||
        (shape.batched && a->shape.d[0] != shape.d[0])) {
        error_at(loc, "cannot reshape %s to %s: %s", type_str(a->dtype, &a->shape), shape_str(&shape),
                 a->shape.batched != shape.batched ? "the batch dimension must stay first"
                                                   : "the element counts differ");
        return NULL;
    }
    if (a->op == OP_CONST) {
        IrNode *c = ir_const_data(g, shape, a->data, loc);
        return c;
    }
    if (a->op == OP_RESHAPE)
        a = a->in[0];
    if (shape_eq(&a->shape, &shape))
        return a;
    return ir_node(g, OP_RESHAPE, a->dtype, shape, 1, &a, NULL, loc);
}

/* Sum (or max) over the axes in `mask`; keepdim keeps them as size 1. */
IrNode *b_reduce(Graph *g, Op op, IrNode *a, uint32_t mask, bool keepdim, Loc loc) {
    if (a->dtype != DT_F32) {
        error_at(loc, "a reduction needs an f32 tensor, got %s", type_str(a->dtype, &a->shape));
        return NULL;
    }
    Shape s = {0};
    for (int i = 0; i < a->shape.rank; i++) {
        if (mask & (1u << i)) {
            if (keepdim)
                s.d[s.rank++] = 1;
        } else {
            s.d[s.rank++] = a->shape.d[i];
        }
    }
    s.batched = a->shape.batched && !(mask & 1u);
    if (mask == 0)
        return a;
    int64_t attr[MAX_ATTR] = {(int64_t)mask, keepdim};
    if (a->op == OP_CONST) {
        /* fold over the reduced axes */
        int64_t n = shape_numel(&a->shape), m = shape_numel(&s);
        double *v = xalloc(sizeof(double) * (size_t)(m ? m : 1));
        bool *seen = xalloc((size_t)(m ? m : 1));
        for (int64_t i = 0; i < n; i++) {
            int64_t rem = i, o = 0, stride = 1;
            for (int k = a->shape.rank - 1, j = s.rank - 1; k >= 0; k--) {
                int64_t coord = rem % a->shape.d[k];
                rem /= a->shape.d[k];
                if (mask & (1u << k)) {
                    if (keepdim)
                        j--;
                    continue;
                }
                o += coord * stride;
                stride *= s.d[j--];
            }
            double x = a->data[i];
            if (!seen[o])
                v[o] = x, seen[o] = true;
            else
                v[o] = op == OP_SUM ? v[o] + x : (x > v[o] ? x : v[o]);
        }
        return ir_const_data(g, s, v, loc);
    }
    return ir_node(g, op, DT_F32, s, 1, &a, attr, loc);
}

/* Mean over `mask`: a sum and a division by the count, which includes the run-time batch when axis 0 of a
 * batched tensor is reduced. */
IrNode *b_mean(Graph *g, IrNode *a, uint32_t mask, bool keepdim, Loc loc) {
    IrNode *s = b_reduce(g, OP_SUM, a, mask, keepdim, loc);
    if (!s)
        return NULL;
    int64_t k = 1;
    bool uses_batch = false;
    for (int i = 0; i < a->shape.rank; i++)
        if (mask & (1u << i)) {
            if (i == 0 && a->shape.batched)
                uses_batch = true;
            else
                k *= a->shape.d[i];
        }
    if (k == 1 && !uses_batch)
        return s;
    int64_t attr[MAX_ATTR] = {k, uses_batch};
    IrNode *f = uses_batch ? NULL : fold(g, OP_DIVCOUNT, s->shape, 1, &s, attr, loc);
    if (f)
        return f;
    return ir_node(g, OP_DIVCOUNT, DT_F32, s->shape, 1, &s, attr, loc);
}

IrNode *b_transpose(Graph *g, IrNode *x, Loc loc) {
    if (x->shape.rank != 2 || x->shape.batched) {
        error_at(loc, "transpose needs an unbatched 2-D tensor, got %s", type_str(x->dtype, &x->shape));
        return NULL;
    }
    int64_t d[2] = {x->shape.d[1], x->shape.d[0]};
    return ir_node(g, OP_TRANSPOSE, x->dtype, shape_make(2, d, false), 1, &x, NULL, loc);
}

IrNode *b_concat(Graph *g, IrNode **xs, int n, int axis, Loc loc) {
    if (n < 1 || n > MAX_IN) {
        error_at(loc, "concat takes 1 to %d tensors, got %d", MAX_IN, n);
        return NULL;
    }
    Shape s = xs[0]->shape;
    int given = axis;
    if (axis < 0)
        axis += s.rank;
    if (axis < 0 || axis >= s.rank) {
        error_at(loc, "concat: axis %d is out of range for %s, which has axes %d..%d", given, shape_str(&s), -s.rank,
                 s.rank - 1);
        return NULL;
    }
    if (axis == 0 && s.batched) {
        error_at(loc, "concat: axis %d is the batch dimension of %s; tensors are joined within each example", given,
                 shape_str(&s));
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (xs[i]->dtype != DT_F32) {
            error_at(loc, "concat needs f32 tensors, got %s", type_str(xs[i]->dtype, &xs[i]->shape));
            return NULL;
        }
    for (int i = 1; i < n; i++) {
        Shape t = xs[i]->shape;
        bool ok = t.rank == s.rank && t.batched == s.batched;
        for (int k = 0; ok && k < s.rank; k++)
            ok = k == axis || t.d[k] == s.d[k];
        if (!ok) {
            error_at(loc, "concat: %s and %s differ outside axis %d", shape_str(&xs[0]->shape), shape_str(&t), axis);
            return NULL;
        }
        s.d[axis] += t.d[axis];
    }
    if (!shape_check_size(&s, DT_F32, loc, "the concatenation"))
        return NULL;
    /* constants joined are a constant, as element-wise ops on them are: an initialiser may then stack kernels
     * (D2L 6.4's torch.stack((K, K + 1, K + 2))) */
    bool consts = !s.batched && shape_numel(&s) <= MAX_CONST_NUMEL;
    for (int i = 0; consts && i < n; i++)
        consts = xs[i]->op == OP_CONST;
    if (consts) {
        int64_t outer = 1, inner = 1;
        for (int k = 0; k < axis; k++)
            outer *= s.d[k];
        for (int k = axis + 1; k < s.rank; k++)
            inner *= s.d[k];
        double *v = xalloc(sizeof(double) * (size_t)(shape_numel(&s) ? shape_numel(&s) : 1)), *p = v;
        for (int64_t o = 0; o < outer; o++)
            for (int i = 0; i < n; i++) {
                int64_t len = xs[i]->shape.d[axis] * inner;
                memcpy(p, xs[i]->data + o * len, sizeof(double) * (size_t)len);
                p += len;
            }
        return ir_const_data(g, s, v, loc);
    }
    int64_t attr[MAX_ATTR] = {axis};
    return ir_node(g, OP_CONCAT, DT_F32, s, n, xs, attr, loc);
}

IrNode *b_slice(Graph *g, IrNode *x, int axis, int64_t start, int64_t len, Loc loc) {
    Shape s = x->shape;
    s.d[axis] = len;
    int64_t attr[MAX_ATTR] = {axis, start};
    return ir_node(g, OP_SLICE, DT_F32, s, 1, &x, attr, loc);
}

IrNode *b_dropmask(Graph *g, Shape s, double p, int64_t salt, Loc loc) {
    int64_t attr[MAX_ATTR] = {salt};
    return ir_node_f(g, OP_DROPMASK, s, 0, NULL, attr, p, loc);
}
