/* layout.c: the layout family: reshape (a view: no code), transpose, permute, concat, slice and
 * unslice.
 *
 * These ops move elements without computing: their kernels are copies (transpose as a loop, concat, slice and
 * unslice as memcpy of contiguous blocks), and their gradients are each other's: concat's adjoint is sliced back
 * to its operands, a slice's adjoint is unsliced into zeros of its operand's shape and the other way round. Constants
 * are laid out at compile time. */
#include <inttypes.h>
#include <string.h>

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

/* The blocks of [outer, axis, inner] that slice and unslice copy: `outer` rows, `inner` contiguous elements */
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

/* Whether `part` is what slice (axis, start, step) takes of `whole`: the same shape but along axis, where its
 * `part->d[axis]` positions start, start + step, ... lie inside whole's; never along the batch dimension. */
static bool slice_fits(const Shape *whole, const Shape *part, int64_t axis, int64_t start, int64_t step) {
    bool ok = part->rank == whole->rank && part->batched == whole->batched && axis >= 0 && axis < part->rank &&
              !(axis == 0 && part->batched) && start >= 0 && step >= 1 && part->d[axis] >= 1 &&
              start + (part->d[axis] - 1) * step < whole->d[axis];
    for (int k = 0; ok && k < part->rank; k++)
        ok = k == axis || part->d[k] == whole->d[k];
    return ok;
}

/* Copies a constant's blocks: from `whole` into the `part` a slice takes of it (to_part), or back. */
static void slice_copy(const Shape *whole, const Shape *part, int axis, int64_t start, int64_t step, const double *src,
                       double *dst, bool to_part) {
    int64_t outer = blocks_before(part, axis), inner = inner_after(part, axis), len = part->d[axis];
    for (int64_t i = 0; i < outer; i++)
        for (int64_t j = 0; j < len; j++) {
            int64_t w = (i * whole->d[axis] + start + j * step) * inner, p = (i * len + j) * inner;
            memcpy(dst + (to_part ? p : w), src + (to_part ? w : p), sizeof(double) * (size_t)inner);
        }
}

static bool foldable(const IrNode *x, const Shape *out) {
    return x->op == OP_CONST && !out->batched && shape_numel(out) <= MAX_CONST_NUMEL;
}

/* Elements start, start + step, ... of x along `axis` (attributes axis, start, step; a->shape is the result's).
 * Constants are sliced at compile time. */
static IrNode *build_slice(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    IrNode *x = in[0];
    int64_t axis = a->attr[0], start = a->attr[1], step = a->attr[2];
    Shape s = a->shape;
    if (!slice_fits(&x->shape, &s, axis, start, step)) {
        error_at(loc, "slice: %s is not a slice of %s along axis %lld from %lld by %lld", shape_str(g->ctx, &s),
                 type_str(g->ctx, x->dtype, &x->shape), (long long)axis, (long long)start, (long long)step);
        return NULL;
    }
    if (shape_eq(&s, &x->shape))
        return x;
    if (foldable(x, &s)) {
        double *v = xalloc(g->ctx, sizeof(double) * (size_t)shape_numel(&s));
        slice_copy(&x->shape, &s, (int)axis, start, step, x->data, v, true);
        return ir_const_data(g, s, v, loc);
    }
    return ir_node(g, op, x->dtype, s, 1, &x, a->attr, loc);
}

IrNode *b_slice_step(Graph *g, IrNode *x, int axis, int64_t start, int64_t step, int64_t len, Loc loc) {
    OpArgs a = {.attr = {axis, start, step}, .shape = x->shape};
    a.shape.d[axis] = len;
    return op_build(g, OP_SLICE, 1, &x, &a, loc);
}

IrNode *b_slice(Graph *g, IrNode *x, int axis, int64_t start, int64_t len, Loc loc) {
    return b_slice_step(g, x, axis, start, 1, len, loc);
}

/* x placed into zeros of shape a->shape where slice (axis, start, step) of that shape would read it */
static IrNode *build_unslice(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    IrNode *x = in[0];
    int64_t axis = a->attr[0], start = a->attr[1], step = a->attr[2];
    Shape s = a->shape;
    if (x->dtype != DT_F32 || !slice_fits(&s, &x->shape, axis, start, step)) {
        error_at(loc, "unslice: %s is not a slice of %s along axis %lld from %lld by %lld",
                 type_str(g->ctx, x->dtype, &x->shape), shape_str(g->ctx, &s), (long long)axis, (long long)start,
                 (long long)step);
        return NULL;
    }
    if (shape_eq(&s, &x->shape))
        return x;
    if (foldable(x, &s)) {
        double *v = xalloc(g->ctx, sizeof(double) * (size_t)shape_numel(&s));
        memset(v, 0, sizeof(double) * (size_t)shape_numel(&s));
        slice_copy(&s, &x->shape, (int)axis, start, step, x->data, v, false);
        return ir_const_data(g, s, v, loc);
    }
    return ir_node(g, op, DT_F32, s, 1, &x, a->attr, loc);
}

IrNode *b_unslice(Graph *g, IrNode *x, Shape to, int axis, int64_t start, int64_t step, Loc loc) {
    OpArgs a = {.attr = {axis, start, step}, .shape = to};
    return op_build(g, OP_UNSLICE, 1, &x, &a, loc);
}

/* Result axis k is x's axis attr[k]: a permutation of x's axes that keeps a batch axis first. A permutation
 * that moves nothing is x itself; constants are permuted at compile time. */
static IrNode *build_permute(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    IrNode *x = in[0];
    const Shape *xs = &x->shape;
    Shape s = *xs;
    bool seen[MAX_RANK] = {false}, same = true;
    for (int k = 0; k < xs->rank; k++) {
        int64_t p = a->attr[k];
        if (p < 0 || p >= xs->rank || seen[p]) {
            error_at(loc, "permute: the axes must be a permutation of 0..%d", xs->rank - 1);
            return NULL;
        }
        seen[p] = true;
        s.d[k] = xs->d[p];
        same &= p == k;
    }
    if (xs->batched && a->attr[0] != 0) {
        error_at(loc, "permute: %s's axis 0 is the batch dimension, which stays first", type_str(g->ctx, x->dtype, xs));
        return NULL;
    }
    if (same)
        return x;
    int64_t attr[MAX_ATTR] = {0};
    memcpy(attr, a->attr, sizeof(int64_t) * (size_t)xs->rank);
    if (foldable(x, &s)) {
        int64_t n = shape_numel(&s), stride[MAX_RANK];
        for (int k = xs->rank - 1, st = 1; k >= 0; st *= (int)xs->d[k], k--)
            stride[k] = st;
        double *v = xalloc(g->ctx, sizeof(double) * (size_t)n);
        for (int64_t i = 0; i < n; i++) {
            int64_t r = i, src = 0;
            for (int k = s.rank - 1; k >= 0; k--) {
                src += (r % s.d[k]) * stride[attr[k]];
                r /= s.d[k];
            }
            v[i] = x->data[src];
        }
        return ir_const_data(g, s, v, loc);
    }
    return ir_node(g, op, x->dtype, s, 1, &x, attr, loc);
}

IrNode *b_permute(Graph *g, IrNode *x, const int *perm, Loc loc) {
    OpArgs a = {0};
    for (int k = 0; k < x->shape.rank; k++)
        a.attr[k] = perm[k];
    return op_build(g, OP_PERMUTE, 1, &x, &a, loc);
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

/* slice and unslice are each other's adjoints */
static IrNode *grad_slice(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)i;
    return b_unslice(g, d, n->in[0]->shape, (int)n->attr[0], n->attr[1], n->attr[2], n->loc);
}

static IrNode *grad_unslice(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)i;
    return b_slice_step(g, d, (int)n->attr[0], n->attr[1], n->attr[2], n->in[0]->shape.d[n->attr[0]], n->loc);
}

/* the inverse permutation */
static IrNode *grad_permute(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)i;
    int inv[MAX_RANK];
    for (int k = 0; k < n->shape.rank; k++)
        inv[n->attr[k]] = k;
    return b_permute(g, d, inv, n->loc);
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

/* A step of 1 copies one contiguous block per outer row (the code concat's gradient has always had); a larger
 * step one block of `inner` elements per position taken. */
static void emit_slice(Emit *e, IrNode *n) {
    const Shape *s = &n->shape;
    int axis = (int)n->attr[0];
    int64_t inner = inner_after(s, axis), step = n->attr[2];
    int64_t len = s->d[axis] * inner, src = n->in[0]->shape.d[axis] * inner, start = n->attr[1] * inner;
    fprintf(e->o, "    for (int64_t i = 0; i < %s; i++)\n", emit_outer(e, s, blocks_before(s, axis)));
    if (step == 1) {
        fprintf(e->o,
                "        memcpy(%s + i * %" PRId64 ", %s + i * %" PRId64 " + %" PRId64 ", %" PRId64 " * sizeof(%s));\n",
                emit_ptr(e, n), len, emit_ptr(e, n->in[0]), src, start, len, e->real);
        return;
    }
    fprintf(e->o, "        for (int64_t j = 0; j < %" PRId64 "; j++)\n", s->d[axis]);
    fprintf(e->o,
            "            memcpy(%s + i * %" PRId64 " + j * %" PRId64 ", %s + i * %" PRId64 " + %" PRId64
            " + j * %" PRId64 ", %" PRId64 " * sizeof(%s));\n",
            emit_ptr(e, n), len, inner, emit_ptr(e, n->in[0]), src, start, step * inner, inner, e->real);
}

/* zeros, then the operand's blocks where the slice took them */
static void emit_unslice(Emit *e, IrNode *n) {
    const Shape *s = &n->in[0]->shape;
    int axis = (int)n->attr[0];
    int64_t inner = inner_after(s, axis), step = n->attr[2];
    int64_t len = s->d[axis] * inner, dst = n->shape.d[axis] * inner, start = n->attr[1] * inner;
    char *outer = emit_outer(e, s, blocks_before(s, axis));
    fprintf(e->o, "    memset(%s, 0, (size_t)(%s) * %" PRId64 " * sizeof(%s));\n", emit_ptr(e, n), outer, dst, e->real);
    fprintf(e->o, "    for (int64_t i = 0; i < %s; i++)\n", outer);
    fprintf(e->o, "        for (int64_t j = 0; j < %" PRId64 "; j++)\n", s->d[axis]);
    fprintf(e->o,
            "            memcpy(%s + i * %" PRId64 " + %" PRId64 " + j * %" PRId64 ", %s + i * %" PRId64
            " + j * %" PRId64 ", %" PRId64 " * sizeof(%s));\n",
            emit_ptr(e, n), dst, start, step * inner, emit_ptr(e, n->in[0]), len, inner, inner, e->real);
}

/* One loop over the result's elements; each finds its source from its coordinates (x's strides, permuted). */
static void emit_permute(Emit *e, IrNode *n) {
    const Shape *s = &n->shape, *xs = &n->in[0]->shape;
    int64_t stride[MAX_RANK], st = 1;
    for (int k = xs->rank - 1; k >= 0; k--) {
        stride[k] = st;
        st *= xs->d[k];
    }
    fprintf(e->o, "    for (int64_t i = 0; i < %s; i++) {\n", emit_outer(e, s, shape_numel(s)));
    fprintf(e->o, "        int64_t r = i, src = 0;\n");
    for (int k = s->rank - 1; k >= 1; k--)
        fprintf(e->o, "        src += r %% %" PRId64 " * %" PRId64 ";\n        r /= %" PRId64 ";\n", s->d[k],
                stride[n->attr[k]], s->d[k]);
    fprintf(e->o, "        src += r * %" PRId64 ";\n", stride[n->attr[0]]);
    fprintf(e->o, "        %s[i] = %s[src];\n    }\n", emit_ptr(e, n), emit_ptr(e, n->in[0]));
}

/* ---- export ---- */

/* flatten (a batched tensor to [batch, features]) as Flatten, as PyTorch writes nn.Flatten; any other reshape as
 * Reshape to its shape, 0 (the input's dimension) for the batch */
static const char *onnx_reshape(const IrNode *n, OnnxNode *o) {
    if (n->shape.batched && n->shape.rank == 2 && n->in[0]->shape.rank > 2) {
        o->op_type = "Flatten";
        onnx_int(o, "axis", 1);
        return NULL;
    }
    o->op_type = "Reshape";
    int64_t dims[MAX_RANK];
    for (int k = 0; k < n->shape.rank; k++)
        dims[k] = k == 0 && n->shape.batched ? 0 : n->shape.d[k];
    onnx_input(o, onnx_const(o, "shape", n->shape.rank, dims));
    return NULL;
}

/* x[start::step] along an axis: Slice, its bounds four int64 inputs (the end one past the last element taken) */
static const char *onnx_slice(const IrNode *n, OnnxNode *o) {
    int64_t axis = n->attr[0], start = n->attr[1], step = n->attr[2];
    int64_t end = start + (n->shape.d[axis] - 1) * step + 1;
    o->op_type = "Slice";
    onnx_input(o, onnx_const(o, "starts", 1, &start));
    onnx_input(o, onnx_const(o, "ends", 1, &end));
    onnx_input(o, onnx_const(o, "axes", 1, &axis));
    onnx_input(o, onnx_const(o, "steps", 1, &step));
    return NULL;
}

/* slice's adjoint, x placed at start::step in zeros: Pad with zeros when the step is 1 */
static const char *onnx_unslice(const IrNode *n, OnnxNode *o) {
    int64_t axis = n->attr[0], start = n->attr[1], step = n->attr[2];
    if (step != 1)
        return "the adjoint of a slice with a step (ONNX would need a scatter; not written)";
    int rank = n->shape.rank;
    int64_t pads[MAX_RANK * 2] = {0};
    pads[axis] = start;
    pads[rank + axis] = n->shape.d[axis] - start - n->in[0]->shape.d[axis];
    o->op_type = "Pad";
    onnx_input(o, onnx_const(o, "pads", 2 * rank, pads));
    return NULL;
}

static const char *onnx_transpose(const IrNode *n, OnnxNode *o) {
    int64_t perm[MAX_RANK] = {1, 0};
    if (n->op == OP_PERMUTE)
        memcpy(perm, n->attr, sizeof(int64_t) * (size_t)n->shape.rank);
    o->op_type = "Transpose";
    onnx_ints(o, "perm", n->shape.rank, perm);
    return NULL;
}

/* along attribute 0's axis, any number of inputs (Inception's and the dense blocks' channels) */
static const char *onnx_concat(const IrNode *n, OnnxNode *o) {
    o->op_type = "Concat";
    onnx_int(o, "axis", n->attr[0]);
    return NULL;
}

/* ---- the rules ---- */

const OpRule rule_RESHAPE = {
    .build = build_reshape,
    .grad = grad_reshape,
    .onnx = onnx_reshape,
};

const OpRule rule_TRANSPOSE = {
    .build = build_transpose,
    .grad = grad_transpose,
    .emit = emit_transpose,
    .flops = flops_moved,
    .onnx = onnx_transpose,
};

const OpRule rule_CONCAT = {
    .build = build_concat,
    .grad = grad_concat,
    .emit = emit_concat,
    .flops = flops_moved,
    .onnx = onnx_concat,
};

const OpRule rule_SLICE = {
    .build = build_slice,
    .grad = grad_slice,
    .emit = emit_slice,
    .flops = flops_moved,
    .onnx = onnx_slice,
};

const OpRule rule_PERMUTE = {
    .build = build_permute,
    .grad = grad_permute,
    .emit = emit_permute,
    .flops = flops_moved,
    .onnx = onnx_transpose,
};

const OpRule rule_UNSLICE = {
    .build = build_unslice,
    .grad = grad_unslice,
    .emit = emit_unslice,
    .flops = flops_moved,
    .onnx = onnx_unslice,
};
