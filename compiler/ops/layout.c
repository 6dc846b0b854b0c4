/* layout.c: the layout family: reshape (a view: no code), transpose, concat and slice.
 *
 * These ops move elements without computing: their kernels are copies (transpose as a loop, concat and slice
 * as memcpy of contiguous blocks), and their gradients are each other's: concat's adjoint is sliced back to its
 * operands. Constants are laid out at compile time. */
#include <inttypes.h>

#include "dlc.h"

/* ---- shape rules ---- */

static IrNode *build_reshape(Graph *g, Op op, int nin, IrNode **in, const OpArgs *args, Loc loc) {
    (void)nin;
    IrNode *a = in[0];
    Shape shape = args->shape;
    if (shape_eq(&a->shape, &shape))
        return a;
    if (shape_numel(&a->shape) != shape_numel(&shape) || a->shape.batched != shape.batched ||
        (shape.batched && a->shape.d[0] != shape.d[0])) {
        error_at(loc, "cannot reshape %s to %s: %s", type_str(g->ctx, a->dtype, &a->shape), shape_str(g->ctx, &shape),
                 a->shape.batched != shape.batched ? "the batch dimension must stay first"
                                                   : "the element counts differ");
        return NULL;
    }
    if (a->op == OP_CONST)
        return ir_const_data(g, shape, a->data, loc);
    /* a view of a view reads the first one's storage */
    if (a->op == op)
        a = a->in[0];
    if (shape_eq(&a->shape, &shape))
        return a;
    return ir_node(g, op, a->dtype, shape, 1, &a, NULL, loc);
}

IrNode *b_reshape(Graph *g, IrNode *a, Shape shape, Loc loc) {
    OpArgs args = {.shape = shape};
    return op_build(g, OP_RESHAPE, 1, &a, &args, loc);
}

static IrNode *build_transpose(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    IrNode *x = in[0];
    if (x->shape.rank != 2 || x->shape.batched) {
        error_at(loc, "transpose needs an unbatched 2-D tensor, got %s", type_str(g->ctx, x->dtype, &x->shape));
        return NULL;
    }
    int64_t d[2] = {x->shape.d[1], x->shape.d[0]};
    return ir_node(g, op, x->dtype, shape_make(2, d, false), 1, &x, a->attr, loc);
}

IrNode *b_transpose(Graph *g, IrNode *x, Loc loc) { return op_build(g, OP_TRANSPOSE, 1, &x, NULL, loc); }

/* Joins constants at compile time, as element-wise ops on them are folded: an initialiser may then stack kernels
 * (D2L 6.4's torch.stack((K, K + 1, K + 2))). */
static IrNode *concat_consts(Graph *g, IrNode **xs, int n, int axis, const Shape *s, Loc loc) {
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < axis; k++)
        outer *= s->d[k];
    for (int k = axis + 1; k < s->rank; k++)
        inner *= s->d[k];
    double *v = xalloc(g->ctx, sizeof(double) * (size_t)(shape_numel(s) ? shape_numel(s) : 1)), *p = v;
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < n; i++) {
            int64_t len = xs[i]->shape.d[axis] * inner;
            memcpy(p, xs[i]->data + o * len, sizeof(double) * (size_t)len);
            p += len;
        }
    return ir_const_data(g, *s, v, loc);
}

static IrNode *build_concat(Graph *g, Op op, int n, IrNode **xs, const OpArgs *a, Loc loc) {
    if (n < 1 || n > MAX_IN) {
        error_at(loc, "concat takes 1 to %d tensors, got %d", MAX_IN, n);
        return NULL;
    }
    Shape s = xs[0]->shape;
    int axis = (int)a->attr[0], given = axis;
    if (axis < 0)
        axis += s.rank;
    if (axis < 0 || axis >= s.rank) {
        error_at(loc, "concat: axis %d is out of range for %s, which has axes %d..%d", given, shape_str(g->ctx, &s),
                 -s.rank, s.rank - 1);
        return NULL;
    }
    if (axis == 0 && s.batched) {
        error_at(loc, "concat: axis %d is the batch dimension of %s; tensors are joined within each example", given,
                 shape_str(g->ctx, &s));
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (xs[i]->dtype != DT_F32) {
            error_at(loc, "concat needs f32 tensors, got %s", type_str(g->ctx, xs[i]->dtype, &xs[i]->shape));
            return NULL;
        }
    for (int i = 1; i < n; i++) {
        Shape t = xs[i]->shape;
        bool ok = t.rank == s.rank && t.batched == s.batched;
        for (int k = 0; ok && k < s.rank; k++)
            ok = k == axis || t.d[k] == s.d[k];
        if (!ok) {
            error_at(loc, "concat: %s and %s differ outside axis %d", shape_str(g->ctx, &xs[0]->shape),
                     shape_str(g->ctx, &t), axis);
            return NULL;
        }
        s.d[axis] += t.d[axis];
    }
    if (!shape_check_size(&s, DT_F32, loc, "the concatenation"))
        return NULL;
    bool consts = !s.batched && shape_numel(&s) <= MAX_CONST_NUMEL;
    for (int i = 0; consts && i < n; i++)
        consts = xs[i]->op == OP_CONST;
    if (consts)
        return concat_consts(g, xs, n, axis, &s, loc);
    int64_t attr[MAX_ATTR] = {axis};
    return ir_node(g, op, DT_F32, s, n, xs, attr, loc);
}

IrNode *b_concat(Graph *g, IrNode **xs, int n, int axis, Loc loc) {
    OpArgs a = {.attr = {axis}};
    if (n < 1 || n > MAX_IN) {
        error_at(loc, "concat takes 1 to %d tensors, got %d", MAX_IN, n);
        return NULL;
    }
    return op_build(g, OP_CONCAT, n, xs, &a, loc);
}

/* Elements [start, start + len) of x along `axis` (attributes axis and start; a->shape is the result's). */
static IrNode *build_slice(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    IrNode *x = in[0];
    int64_t axis = a->attr[0], start = a->attr[1];
    Shape s = a->shape;
    bool ok = s.rank == x->shape.rank && s.batched == x->shape.batched && axis >= 0 && axis < s.rank &&
              !(axis == 0 && s.batched) && start >= 0 && s.d[axis] >= 1 && start + s.d[axis] <= x->shape.d[axis];
    for (int k = 0; ok && k < s.rank; k++)
        ok = k == axis || s.d[k] == x->shape.d[k];
    if (!ok) {
        error_at(loc, "slice: %s is not a slice of %s along axis %lld from %lld", shape_str(g->ctx, &s),
                 type_str(g->ctx, x->dtype, &x->shape), (long long)axis, (long long)start);
        return NULL;
    }
    return ir_node(g, op, DT_F32, s, 1, &x, a->attr, loc);
}

IrNode *b_slice(Graph *g, IrNode *x, int axis, int64_t start, int64_t len, Loc loc) {
    OpArgs a = {.attr = {axis, start}, .shape = x->shape};
    a.shape.d[axis] = len;
    return op_build(g, OP_SLICE, 1, &x, &a, loc);
}

/* ---- gradients ---- */

static IrNode *grad_reshape(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)i;
    return b_reshape(g, d, n->in[0]->shape, n->loc);
}

static IrNode *grad_transpose(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)i;
    return b_transpose(g, d, n->loc);
}

/* each operand's part of the adjoint */
static IrNode *grad_concat(Graph *g, IrNode *n, int i, IrNode *d) {
    int axis = (int)n->attr[0];
    int64_t start = 0;
    for (int k = 0; k < i; k++)
        start += n->in[k]->shape.d[axis];
    return b_slice(g, d, axis, start, n->in[i]->shape.d[axis], n->loc);
}

/* ---- FLOPs: one per element moved ---- */

static double flops_moved(const IrNode *n) { return (double)shape_numel(&n->in[0]->shape); }

/* ---- kernels ---- */

static void emit_transpose(Emit *e, IrNode *n) {
    const Shape *s = &n->shape;
    fprintf(e->o, "    for (int64_t i = 0; i < %" PRId64 "; i++)\n", s->d[0]);
    fprintf(e->o, "        for (int64_t j = 0; j < %" PRId64 "; j++)\n", s->d[1]);
    fprintf(e->o, "            %s[i * %" PRId64 " + j] = %s[j * %" PRId64 " + i];\n", emit_ptr(e, n), s->d[1],
            emit_ptr(e, n->in[0]), s->d[0]);
}

/* concat and slice copy [outer, axis, inner] blocks: `outer` rows of contiguous elements */
static int64_t blocks_before(const Shape *s, int axis) {
    int64_t outer = 1;
    for (int d = 0; d < axis; d++)
        outer *= s->d[d];
    return outer;
}

static int64_t inner_after(const Shape *s, int axis) {
    int64_t inner = 1;
    for (int d = axis + 1; d < s->rank; d++)
        inner *= s->d[d];
    return inner;
}

static void emit_concat(Emit *e, IrNode *n) {
    const Shape *s = &n->shape;
    int axis = (int)n->attr[0];
    int64_t inner = inner_after(s, axis);
    char *outer = emit_outer(e, s, blocks_before(s, axis));
    int64_t at = 0, total = s->d[axis] * inner;
    for (int k = 0; k < n->nin; k++) {
        int64_t len = n->in[k]->shape.d[axis] * inner;
        fprintf(e->o, "    for (int64_t i = 0; i < %s; i++)\n", outer);
        fprintf(e->o,
                "        memcpy(%s + i * %" PRId64 " + %" PRId64 ", %s + i * %" PRId64 ", %" PRId64 " * sizeof(%s));\n",
                emit_ptr(e, n), total, at, emit_ptr(e, n->in[k]), len, len, e->real);
        at += len;
    }
}

static void emit_slice(Emit *e, IrNode *n) {
    const Shape *s = &n->shape;
    int axis = (int)n->attr[0];
    int64_t inner = inner_after(s, axis);
    int64_t len = s->d[axis] * inner, src = n->in[0]->shape.d[axis] * inner, start = n->attr[1] * inner;
    fprintf(e->o, "    for (int64_t i = 0; i < %s; i++)\n", emit_outer(e, s, blocks_before(s, axis)));
    fprintf(e->o,
            "        memcpy(%s + i * %" PRId64 ", %s + i * %" PRId64 " + %" PRId64 ", %" PRId64 " * sizeof(%s));\n",
            emit_ptr(e, n), len, emit_ptr(e, n->in[0]), src, start, len, e->real);
}

/* ---- the rules ---- */

const OpRule rule_RESHAPE = {
    .build = build_reshape,
    .grad = grad_reshape,
};

const OpRule rule_TRANSPOSE = {
    .build = build_transpose,
    .grad = grad_transpose,
    .emit = emit_transpose,
    .flops = flops_moved,
};

const OpRule rule_CONCAT = {
    .build = build_concat,
    .grad = grad_concat,
    .emit = emit_concat,
    .flops = flops_moved,
};

/* only built as concat's gradient: a gradient of a gradient through it is refused */
const OpRule rule_SLICE = {
    .build = build_slice,
    .grad = grad_refused,
    .emit = emit_slice,
    .flops = flops_moved,
};
