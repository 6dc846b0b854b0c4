/* reduce.c: the reduction family: sum and max over a set of axes (attributes: the axes as a bit mask, and
 * keepdim), mean, built as a sum and divcount, the element-wise division by the count, cumsum, the running
 * sums along an axis (a kernel of its own; its gradient is a cumsum from the other end), argmax, the index of
 * the first extremum along an axis (a kernel; max's gradient along one axis is built on it), and moments, batch
 * normalization's per-channel mean and variance in one pass over the data (a kernel).
 *
 * A reduction is emitted by emit.c's loop nests, which fuse its element-wise producers into the loop: the rules
 * here give its accumulator (a sum accumulates in double, for accuracy and run-to-run stability). A gradient
 * expands the adjoint back over the reduced axes. */
#include <inttypes.h>

#include "dlc.h"

/* ---- shape rule ---- */

/* Folds a reduction of constant a over `mask` into s's values, combining with the op's fold rule. */
static IrNode *reduce_consts(Graph *g, Op op, IrNode *a, uint32_t mask, bool keepdim, const Shape *s, Loc loc) {
    int64_t n = shape_numel(&a->shape), m = shape_numel(s);
    double *v = xalloc(g->ctx, sizeof(double) * (size_t)(m ? m : 1));
    bool *seen = xalloc(g->ctx, (size_t)(m ? m : 1));
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, o = 0, stride = 1;
        for (int k = a->shape.rank - 1, j = s->rank - 1; k >= 0; k--) {
            int64_t coord = rem % a->shape.d[k];
            rem /= a->shape.d[k];
            if (mask & (1u << k)) {
                if (keepdim)
                    j--;
                continue;
            }
            o += coord * stride;
            stride *= s->d[j--];
        }
        double x[2] = {v[o], a->data[i]};
        v[o] = seen[o] ? op_rule(op)->fold(x, a) : a->data[i];
        seen[o] = true;
    }
    return ir_const_data(g, *s, v, loc);
}

static IrNode *build_reduce(Graph *g, Op op, int nin, IrNode **in, const OpArgs *args, Loc loc) {
    (void)nin;
    IrNode *a = in[0];
    uint32_t mask = (uint32_t)args->attr[0];
    bool keepdim = args->attr[1];
    if (a->dtype != DT_F32) {
        error_at(loc, "a reduction needs an f32 tensor, got %s", type_str(g->ctx, a->dtype, &a->shape));
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
    if (a->op == OP_CONST)
        return reduce_consts(g, op, a, mask, keepdim, &s, loc);
    /* attr[2]: a max along one axis within each example, whose gradient goes to the first maximum (grad_max) */
    bool first = op == OP_MAX && args->attr[2] && __builtin_popcount(mask) == 1 && !(mask == 1 && a->shape.batched);
    int64_t attr[MAX_ATTR] = {(int64_t)mask, keepdim, first};
    return ir_node(g, op, DT_F32, s, 1, &a, attr, loc);
}

IrNode *b_max_along(Graph *g, IrNode *a, int axis, bool keepdim, Loc loc) {
    OpArgs args = {.attr = {(int64_t)1 << axis, keepdim, true}};
    return op_build(g, OP_MAX, 1, &a, &args, loc);
}

/* Sum (or max) over the axes in `mask`; keepdim keeps them as size 1. */
IrNode *b_reduce(Graph *g, Op op, IrNode *a, uint32_t mask, bool keepdim, Loc loc) {
    OpArgs args = {.attr = {(int64_t)mask, keepdim}};
    return op_build(g, op, 1, &a, &args, loc);
}

/* Mean over `mask`: a sum and a division by the count, which includes the run-time batch when axis 0 of a
 * batched tensor is reduced (divcount). */
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
    OpArgs args = {.attr = {k, uses_batch}};
    return op_build(g, OP_DIVCOUNT, 1, &s, &args, loc);
}

/* ---- gradients ---- */

/* Expands a reduction's adjoint back over the reduced axes. */
static IrNode *unreduce(Graph *g, IrNode *n, IrNode *d) {
    Shape keep = n->in[0]->shape;
    uint32_t mask = (uint32_t)n->attr[0];
    for (int i = 0; i < keep.rank; i++)
        if (mask & (1u << i))
            keep.d[i] = 1;
    keep.batched = n->in[0]->shape.batched && !(mask & 1u);
    IrNode *k = b_reshape(g, d, keep, n->loc);
    return b_expand(g, k, n->in[0]->shape, n->loc);
}

static IrNode *grad_sum(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)i;
    return unreduce(g, n, d);
}

/* PyTorch's subgradients at ties: along one axis (attr[2], x.max(dim)) the whole gradient goes to the first
 * maximal element, the index argmax gives; over several axes or all (x.max(), amax) it is spread evenly over the
 * elements equal to the maximum. */
static IrNode *grad_max(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)i;
    IrNode *x = n->in[0];
    uint32_t mask = (uint32_t)n->attr[0];
    if (n->attr[2]) {
        int axis = __builtin_ctz(mask);
        int64_t len = x->shape.d[axis];
        Shape is = {.rank = x->shape.rank};
        for (int k = 0; k < is.rank; k++)
            is.d[k] = k == axis ? len : 1;
        double *iota = xalloc(g->ctx, sizeof(double) * (size_t)len);
        for (int64_t j = 0; j < len; j++)
            iota[j] = (double)j;
        IrNode *first =
            b_binary(g, OP_EQ, ir_const_data(g, is, iota, n->loc), b_argmax(g, x, axis, false, n->loc), n->loc);
        return b_binary(g, OP_MUL, unreduce(g, n, d), first, n->loc);
    }
    IrNode *hit = b_binary(g, OP_EQ, x, unreduce(g, n, n), n->loc);
    IrNode *ties = b_reduce(g, OP_SUM, hit, mask, n->attr[1], n->loc);
    return b_binary(g, OP_MUL, unreduce(g, n, b_binary(g, OP_DIV, d, ties, n->loc)), hit, n->loc);
}

/* ---- folding: the accumulator x[0] combined with an element x[1] ---- */

static double fold_sum(const double *x, const IrNode *n) {
    (void)n;
    return x[0] + x[1];
}

static double fold_max(const double *x, const IrNode *n) {
    (void)n;
    return x[1] > x[0] ? x[1] : x[0];
}

/* ---- divcount: mean's divisor ---- */

/* x / k, or x / (k * n) when the count includes the run-time batch n (attributes k, uses_batch); folded only in
 * the first case, whose divisor is known */
static IrNode *build_divcount(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    if (a->attr[0] < 1 || in[0]->dtype != DT_F32) {
        error_at(loc, "divcount: a count of %lld for %s", (long long)a->attr[0],
                 type_str(g->ctx, in[0]->dtype, &in[0]->shape));
        return NULL;
    }
    IrNode *f = a->attr[1] ? NULL : elem_fold(g, op, in[0]->shape, 1, in, a->attr, loc);
    if (f)
        return f;
    return ir_node(g, op, DT_F32, in[0]->shape, 1, in, a->attr, loc);
}

static double fold_divcount(const double *x, const IrNode *n) { return x[0] / (double)n->attr[0]; }

static char *c_divcount(Emit *e, const IrNode *n, char *const *x, const char *flat) {
    (void)flat;
    if (n->attr[1])
        return xsprintf(e->ctx, "(%s / (%s)(%" PRId64 " * %s))", x[0], e->real, n->attr[0], e->count ? e->count : "n");
    return xsprintf(e->ctx, "(%s / %s)", x[0], emit_lit(e, (double)n->attr[0]));
}

static IrNode *grad_divcount(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)i;
    OpArgs a = {0};
    memcpy(a.attr, n->attr, sizeof a.attr);
    return op_build(g, OP_DIVCOUNT, 1, &d, &a, n->loc);
}

/* ---- cumsum: running sums along an axis ---- */

/* y[.., j, ..] = x[.., 0, ..] + ... + x[.., j, ..] along axis attr[0] (negative: from the last, as torch.cumsum's
 * dim), within each example; attr[1] sums from the end instead (its gradient). */
static IrNode *build_cumsum(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    IrNode *x = in[0];
    int rank = x->shape.rank;
    int64_t axis = a->attr[0] < 0 ? a->attr[0] + rank : a->attr[0];
    if (x->dtype != DT_F32 || rank < 1) {
        error_at(loc, "cumsum needs an f32 tensor of at least one dimension, got %s",
                 type_str(g->ctx, x->dtype, &x->shape));
        return NULL;
    }
    if (axis < 0 || axis >= rank) {
        error_at(loc, "cumsum: axis %lld is out of range for %s, which has axes %d..%d", (long long)a->attr[0],
                 type_str(g->ctx, x->dtype, &x->shape), -rank, rank - 1);
        return NULL;
    }
    if (axis == 0 && x->shape.batched) {
        error_at(loc, "cumsum: axis %lld is the batch dimension of %s; sums run within each example",
                 (long long)a->attr[0], type_str(g->ctx, x->dtype, &x->shape));
        return NULL;
    }
    int64_t attr[MAX_ATTR] = {axis, a->attr[1] != 0};
    return ir_node(g, op, DT_F32, x->shape, 1, &x, attr, loc);
}

/* the adjoint summed from the other end: dx[j] = dy[j] + ... + dy[last] */
static IrNode *grad_cumsum(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)i;
    OpArgs a = {.attr = {n->attr[0], !n->attr[1]}};
    return op_build(g, OP_CUMSUM, 1, &d, &a, n->loc);
}

static double flops_cumsum(const IrNode *n) { return (double)shape_numel(&n->shape); }

/* Blocks [outer, len, inner] around the axis; each (outer, inner) runs its sum in double along the axis. */
static void emit_cumsum(Emit *e, IrNode *n) {
    const Shape *s = &n->shape;
    int axis = (int)n->attr[0];
    int64_t len = s->d[axis], outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= s->d[d];
    for (int d = axis + 1; d < s->rank; d++)
        inner *= s->d[d];
    char *j = n->attr[1] ? xsprintf(e->ctx, "%" PRId64 " - j", len - 1) : "j";
    if (shape_numel(s) >= 4096)
        fprintf(e->o, "    %s_PARALLEL_FOR\n", e->NAME);
    fprintf(e->o, "    for (int64_t o = 0; o < %s; o++)\n", emit_outer(e, s, outer));
    fprintf(e->o, "        for (int64_t i = 0; i < %" PRId64 "; i++) {\n", inner);
    fprintf(e->o, "            double acc = 0.0;\n");
    fprintf(e->o, "            for (int64_t j = 0; j < %" PRId64 "; j++) {\n", len);
    fprintf(e->o, "                int64_t at = (o * %" PRId64 " + %s) * %" PRId64 " + i;\n", len, j, inner);
    fprintf(e->o, "                acc += %s[at];\n", emit_ptr(e, n->in[0]));
    fprintf(e->o, "                %s[at] = (%s)acc;\n", emit_ptr(e, n), e->real);
    fprintf(e->o, "            }\n        }\n");
}

/* ---- moments: a channel's mean and biased variance in one pass ---- */

/* x [N, C] or [N, C, H, W] (batched) -> [2, C]: row 0 the mean of each channel over the batch and the image, row 1
 * its biased variance; batch_norm's statistics. */
static IrNode *build_moments(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    (void)a;
    IrNode *x = in[0];
    if (x->dtype != DT_F32 || !x->shape.batched || (x->shape.rank != 2 && x->shape.rank != 4)) {
        error_at(loc, "moments expects f32[batch, C] or f32[batch, C, H, W], got %s",
                 type_str(g->ctx, x->dtype, &x->shape));
        return NULL;
    }
    int64_t d[2] = {2, x->shape.d[1]};
    return ir_node(g, op, DT_F32, shape_make(2, d, false), 1, &x, NULL, loc);
}

IrNode *b_moments(Graph *g, IrNode *x, Loc loc) { return op_build(g, OP_MOMENTS, 1, &x, NULL, loc); }

/* d[0] / M + d[1] * 2 (x - mean) / M per channel, M the values per channel in the batch (the run-time n times the
 * image's extent) */
static IrNode *grad_moments(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)i;
    IrNode *x = n->in[0];
    int64_t pd[3] = {x->shape.d[1], 1, 1}, hw = x->shape.rank == 4 ? x->shape.d[2] * x->shape.d[3] : 1;
    Shape ps = shape_make(x->shape.rank == 4 ? 3 : 1, pd, false);
    IrNode *dmean = b_reshape(g, b_slice(g, d, 0, 0, 1, n->loc), ps, n->loc);
    IrNode *dvar = b_reshape(g, b_slice(g, d, 0, 1, 1, n->loc), ps, n->loc);
    IrNode *mean = b_reshape(g, b_slice(g, n, 0, 0, 1, n->loc), ps, n->loc);
    IrNode *one = ir_const_scalar(g, 1, n->loc);
    OpArgs count = {.attr = {hw, 1}};
    IrNode *inv_m = op_build(g, OP_DIVCOUNT, 1, &one, &count, n->loc);
    IrNode *dev = b_binary(g, OP_SUB, x, mean, n->loc);
    IrNode *sum =
        b_binary(g, OP_ADD, dmean, b_binary(g, OP_MUL, b_scalar_op(g, OP_MUL, dvar, 2, n->loc), dev, n->loc), n->loc);
    return b_binary(g, OP_MUL, sum, inv_m, n->loc);
}

static double flops_moments(const IrNode *n) { return 4.0 * (double)shape_numel(&n->in[0]->shape); }

/* Per channel (in parallel): the sums of d = x - s and of d * d in double, s the channel's first value, then
 * mean = s + sum d / M and var = sum d^2 / M - (sum d / M)^2. The shift keeps the subtraction's cancellation at
 * (mean - s)^2 / var, about 1 for a value drawn from the channel (unshifted, mean^2 / var, unbounded: activations
 * of mean 0.5 and deviation 0.01 would lose 8 digits); in double, an f32 model's d and d * d are exact, and an f64
 * model loses a few bits, well inside 1e-9. One read of x instead of the two passes of mean((x - mean)^2). A
 * variance that rounds below zero is 0. */
static void emit_moments(Emit *e, IrNode *n) {
    const Shape *s = &n->in[0]->shape;
    int64_t ch = s->d[1], hw = s->rank == 4 ? s->d[2] * s->d[3] : 1;
    const char *x = emit_ptr(e, n->in[0]), *y = emit_ptr(e, n);
    /* `jam` channels side by side, each summed in its own order as alone (the same bits) */
    bool par = shape_numel(s) >= 4096;
    int jam = emit_jam_width(ch, par);
    if (par)
        fprintf(e->o, "    %s_PARALLEL_FOR\n", e->NAME);
    fprintf(e->o, "    for (int64_t c0 = 0; c0 < %" PRId64 "; c0 += %d) {\n", ch, jam);
    fprintf(e->o, "        double shift[%d], s[%d], q[%d];\n", jam, jam, jam);
    fprintf(e->o, "        for (int64_t u = 0; u < %d; u++) {\n", jam);
    fprintf(e->o, "            shift[u] = (double)%s[(c0 + u) * %" PRId64 "];\n", x, hw);
    fprintf(e->o, "            s[u] = 0.0;\n            q[u] = 0.0;\n        }\n");
    fprintf(e->o, "        for (int64_t i = 0; i < n; i++) {\n");
    fprintf(e->o, "            const %s *p = %s + (i * %" PRId64 " + c0) * %" PRId64 ";\n", e->real, x, ch, hw);
    fprintf(e->o, "            for (int64_t j = 0; j < %" PRId64 "; j++) {\n", hw);
    fprintf(e->o, "                for (int64_t u = 0; u < %d; u++) {\n", jam);
    fprintf(e->o, "                    double d = (double)p[u * %" PRId64 " + j] - shift[u];\n", hw);
    fprintf(e->o, "                    s[u] += d;\n                    q[u] += d * d;\n                }\n");
    fprintf(e->o, "            }\n        }\n");
    fprintf(e->o, "        for (int64_t u = 0; u < %d; u++) {\n", jam);
    fprintf(e->o,
            "            double m = s[u] / (double)(n * %" PRId64 "), v = q[u] / (double)(n * %" PRId64 ") - m * m;\n",
            hw, hw);
    fprintf(e->o, "            %s[c0 + u] = (%s)(shift[u] + m);\n", y, e->real);
    fprintf(e->o, "            %s[%" PRId64 " + c0 + u] = (%s)(v > 0 ? v : 0);\n        }\n    }\n", y, ch, e->real);
}

/* ---- argmax, argmin: the index of the first extremum along an axis ---- */

/* attr: axis (>= 0, not the batch axis), min; the result keeps the axis with size 1 and holds indices as f32, so
 * they compute as values (D2L's comparisons and counts). Ties go to the first, as torch.argmax's do. */
static IrNode *build_argmax(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    IrNode *x = in[0];
    int64_t axis = a->attr[0];
    if (x->dtype != DT_F32 || axis < 0 || axis >= x->shape.rank || (axis == 0 && x->shape.batched)) {
        error_at(loc, "argmax: axis %lld of %s: an axis of an f32 tensor within each example", (long long)axis,
                 type_str(g->ctx, x->dtype, &x->shape));
        return NULL;
    }
    Shape s = x->shape;
    s.d[axis] = 1;
    int64_t outer = 1, inner = 1, len = x->shape.d[axis];
    for (int k = 0; k < axis; k++)
        outer *= s.d[k];
    for (int k = (int)axis + 1; k < s.rank; k++)
        inner *= s.d[k];
    if (x->op == OP_CONST) {
        double *v = xalloc(g->ctx, sizeof(double) * (size_t)(outer * inner));
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) {
                const double *p = x->data + o * len * inner + i;
                int64_t best = 0;
                for (int64_t j = 1; j < len; j++)
                    if (a->attr[1] ? p[j * inner] < p[best * inner] : p[j * inner] > p[best * inner])
                        best = j;
                v[o * inner + i] = (double)best;
            }
        return ir_const_data(g, s, v, loc);
    }
    int64_t attr[MAX_ATTR] = {axis, a->attr[1] != 0};
    return ir_node(g, op, DT_F32, s, 1, &x, attr, loc);
}

IrNode *b_argmax(Graph *g, IrNode *x, int axis, bool min, Loc loc) {
    OpArgs a = {.attr = {axis, min}};
    return op_build(g, OP_ARGMAX, 1, &x, &a, loc);
}

static double flops_argmax(const IrNode *n) { return (double)shape_numel(&n->in[0]->shape); }

static void emit_argmax(Emit *e, IrNode *n) {
    const Shape *s = &n->in[0]->shape;
    int axis = (int)n->attr[0];
    int64_t len = s->d[axis], outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= s->d[d];
    for (int d = axis + 1; d < s->rank; d++)
        inner *= s->d[d];
    fprintf(e->o, "    for (int64_t o = 0; o < %s; o++)\n", emit_outer(e, s, outer));
    fprintf(e->o, "        for (int64_t i = 0; i < %" PRId64 "; i++) {\n", inner);
    fprintf(e->o, "            const %s *p = %s + o * %" PRId64 " + i;\n", e->real, emit_ptr(e, n->in[0]), len * inner);
    fprintf(e->o, "            int64_t best = 0;\n");
    fprintf(e->o, "            for (int64_t j = 1; j < %" PRId64 "; j++)\n", len);
    fprintf(e->o, "                if (p[j * %" PRId64 "] %s p[best * %" PRId64 "])\n", inner, n->attr[1] ? "<" : ">",
            inner);
    fprintf(e->o, "                    best = j;\n");
    fprintf(e->o, "            %s[o * %" PRId64 " + i] = (%s)best;\n        }\n", emit_ptr(e, n), inner, e->real);
}

/* ---- export: ReduceSum takes its axes as an input from opset 13, ReduceMax as an attribute until opset 18 ---- */

static int mask_axes(const IrNode *n, int64_t *axes) {
    int k = 0;
    for (int i = 0; i < n->in[0]->shape.rank; i++)
        if (n->attr[0] & (1 << i))
            axes[k++] = i;
    return k;
}

static const char *onnx_sum(const IrNode *n, OnnxNode *o) {
    int64_t axes[MAX_RANK];
    o->op_type = "ReduceSum";
    onnx_input(o, onnx_const(o, "axes", mask_axes(n, axes), axes));
    onnx_int(o, "keepdims", n->attr[1] != 0);
    return NULL;
}

static const char *onnx_max(const IrNode *n, OnnxNode *o) {
    int64_t axes[MAX_RANK];
    o->op_type = "ReduceMax";
    onnx_ints(o, "axes", mask_axes(n, axes), axes);
    onnx_int(o, "keepdims", n->attr[1] != 0);
    return NULL;
}

/* x / k: Div by a float constant; x / (k * n), n the run-time batch: the batch size times k as an int64, cast to
 * float and squeezed to a scalar (the count C computes, (real)(k * n)) */
static const char *onnx_divcount(const IrNode *n, OnnxNode *o) {
    o->op_type = "Div";
    if (!n->attr[1]) {
        onnx_input(o, onnx_fconst(o, "count", (double)n->attr[0]));
        return NULL;
    }
    int count = onnx_pre(o, "Mul", NULL, ONNX_REF_BATCH, onnx_const(o, "count", 1, &n->attr[0]), NULL, 0);
    int real = onnx_pre(o, "Cast", NULL, count, 0, "to", ONNX_TYPE_FLOAT);
    onnx_input(o, onnx_pre(o, "Squeeze", NULL, real, 0, NULL, 0));
    return NULL;
}

/* ArgMax (ArgMin) keeping the axis, its int64 index cast to float; both take the first extremum, as here */
static const char *onnx_argmax(const IrNode *n, OnnxNode *o) {
    o->op_type = n->attr[1] ? "ArgMin" : "ArgMax";
    onnx_int(o, "axis", n->attr[0]);
    onnx_int(o, "keepdims", 1);
    onnx_post(o, "Cast", "to", ONNX_TYPE_FLOAT);
    return NULL;
}

/* CumSum, its axis a scalar int64 input; reverse sums from the end */
static const char *onnx_cumsum(const IrNode *n, OnnxNode *o) {
    o->op_type = "CumSum";
    onnx_input(o, onnx_const(o, "axis", -1, &n->attr[0]));
    if (n->attr[1])
        onnx_int(o, "reverse", 1);
    return NULL;
}

/* ---- the rules ---- */

const OpRule rule_SUM = {
    .build = build_reduce,
    .grad = grad_sum,
    .fold = fold_sum,
    .acc_init = "0.0",
    .acc_update = "acc += %s;\n",
    .acc_double = true,
    .onnx = onnx_sum,
};

const OpRule rule_MAX = {
    .build = build_reduce,
    .grad = grad_max,
    .fold = fold_max,
    .acc_init = "-INFINITY",
    .acc_update = "acc = maxr(acc, %s);\n",
    .calls = CALLS_MAXR,
    .onnx = onnx_max,
};

const OpRule rule_DIVCOUNT = {
    .build = build_divcount,
    .grad = grad_divcount,
    .fold = fold_divcount,
    .c_expr = c_divcount,
    .onnx = onnx_divcount,
};

const OpRule rule_ARGMAX = {
    .build = build_argmax,
    .grad = grad_none,
    .emit = emit_argmax,
    .flops = flops_argmax,
    .onnx = onnx_argmax,
};

const OpRule rule_MOMENTS = {
    .build = build_moments,
    .grad = grad_moments,
    .emit = emit_moments,
    .flops = flops_moments,
    .onnx_refused = "batch statistics exist only in training graphs; inference uses the running statistics",
};

const OpRule rule_CUMSUM = {
    .build = build_cumsum,
    .grad = grad_cumsum,
    .emit = emit_cumsum,
    .flops = flops_cumsum,
    .onnx = onnx_cumsum,
};
