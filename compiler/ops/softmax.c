/* softmax.c: the softmax family: softmax and log_softmax over the last axis, the per-example cross-entropy of
 * logits against integer labels and its gradient, and the accuracy count argmax_eq.
 *
 * Every kernel here is a loop over rows that finds the row's maximum first and sums exp(x - max) in double, so no
 * exponential overflows and the results do not depend on the thread count. xent_grad is cross-entropy's gradient
 * in one pass, softmax(logits) - onehot(label) scaled by the row's adjoint, so no softmax is ever stored. */
#include <inttypes.h>

#include "dlc.h"

/* ---- shape rules ---- */

static IrNode *build_softmax(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    IrNode *x = in[0];
    if (x->shape.rank < 1 || x->dtype != DT_F32) {
        error_at(loc, "%s needs an f32 tensor of at least one dimension, got %s", op_info[op].name,
                 type_str(g->ctx, x->dtype, &x->shape));
        return NULL;
    }
    return ir_node(g, op, DT_F32, x->shape, 1, &x, a->attr, loc);
}

IrNode *b_softmax(Graph *g, Op op, IrNode *x, Loc loc) { return op_build(g, op, 1, &x, NULL, loc); }

/* Logits f32[..., classes] and labels i32[...], the logits' shape without its last axis (f32[n, classes] and
 * i32[n] for a classifier; f32[n, h, w, classes] and i32[n, h, w] for one label per pixel), as cross_entropy and
 * accuracy take them. */
static bool logits_labels(const IrNode *logits, const IrNode *labels) {
    const Shape *x = &logits->shape, *y = &labels->shape;
    if (x->rank < 2 || logits->dtype != DT_F32 || y->rank != x->rank - 1 || labels->dtype != DT_I32 ||
        x->batched != y->batched)
        return false;
    for (int i = 0; i < y->rank; i++)
        if (x->d[i] != y->d[i])
            return false;
    return true;
}

/* xent and argmax_eq: one value per row of logits (per label). */
static IrNode *build_per_example(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    IrNode *logits = in[0], *labels = in[1];
    /* accuracy counts examples: one label each */
    if (!logits_labels(logits, labels) || (op == OP_ARGMAX_EQ && logits->shape.rank != 2)) {
        error_at(loc,
                 "%s expects logits f32[n, classes] and labels i32[n], got %s and %s (or logits f32[n, ..., classes] "
                 "and labels i32[n, ...]: the logits' shape without the class axis)",
                 op == OP_XENT ? "cross_entropy" : "accuracy", type_str(g->ctx, logits->dtype, &logits->shape),
                 type_str(g->ctx, labels->dtype, &labels->shape));
        return NULL;
    }
    return ir_node(g, op, DT_F32, labels->shape, 2, in, a->attr, loc);
}

/* Per-example softmax cross-entropy of logits [n, k] against integer labels [n]. */
IrNode *b_xent(Graph *g, IrNode *logits, IrNode *labels, Loc loc) {
    IrNode *in[2] = {logits, labels};
    return op_build(g, OP_XENT, 2, in, NULL, loc);
}

IrNode *b_argmax_eq(Graph *g, IrNode *logits, IrNode *labels, Loc loc) {
    IrNode *in[2] = {logits, labels};
    return op_build(g, OP_ARGMAX_EQ, 2, in, NULL, loc);
}

/* (logits, labels, dy [n]) -> the gradient of the logits. */
static IrNode *build_xent_grad(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    const Shape *dy = &in[2]->shape;
    if (!logits_labels(in[0], in[1]) || in[2]->dtype != DT_F32 || !shape_eq(dy, &in[1]->shape)) {
        error_at(loc, "xent_grad: logits %s, labels %s and dy %s do not fit",
                 type_str(g->ctx, in[0]->dtype, &in[0]->shape), type_str(g->ctx, in[1]->dtype, &in[1]->shape),
                 type_str(g->ctx, in[2]->dtype, dy));
        return NULL;
    }
    return ir_node(g, op, DT_F32, in[0]->shape, 3, in, a->attr, loc);
}

/* ---- gradients ---- */

/* softmax: y * (d - sum(d * y)) over the last axis */
static IrNode *grad_softmax(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)i;
    IrNode *y = n;
    uint32_t last = 1u << (y->shape.rank - 1);
    IrNode *dot = b_reduce(g, OP_SUM, b_binary(g, OP_MUL, d, y, n->loc), last, true, n->loc);
    return b_binary(g, OP_MUL, y, b_binary(g, OP_SUB, d, dot, n->loc), n->loc);
}

/* log_softmax: d - exp(y) * sum(d) over the last axis */
static IrNode *grad_log_softmax(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)i;
    IrNode *y = n;
    uint32_t last = 1u << (y->shape.rank - 1);
    IrNode *sd = b_reduce(g, OP_SUM, d, last, true, n->loc);
    return b_binary(g, OP_SUB, d, b_binary(g, OP_MUL, b_unary(g, OP_EXP, y, n->loc), sd, n->loc), n->loc);
}

/* the logits' gradient in one kernel; none flows to the labels */
static IrNode *grad_xent(Graph *g, IrNode *n, int i, IrNode *d) {
    if (i == 1)
        return NULL;
    IrNode *in[3] = {n->in[0], n->in[1], d};
    return op_build(g, OP_XENT_GRAD, 3, in, NULL, n->loc);
}

/* ---- FLOPs: the maximum, the exponentials, the sum and the result, about 4 per logit ---- */

static double flops_rows(const IrNode *n) { return 4.0 * (double)shape_numel(&n->in[0]->shape); }

static double flops_argmax(const IrNode *n) { return (double)shape_numel(&n->in[0]->shape); }

/* ---- kernels ---- */

/* Inside a row loop over xr[0 .. k): its maximum mx and sum = sum(exp(xr[j] - mx)) in double. */
static void emit_row_max_sum(Emit *e, int64_t k) {
    fprintf(e->o, "        %s mx = xr[0];\n", e->real);
    fprintf(e->o, "        for (int64_t j = 1; j < %" PRId64 "; j++)\n            mx = maxr(mx, xr[j]);\n", k);
    fprintf(e->o, "        double sum = 0.0;\n");
    fprintf(e->o, "        for (int64_t j = 0; j < %" PRId64 "; j++)\n            sum += %s(xr[j] - mx);\n", k,
            emit_exp(e));
}

static void emit_softmax(Emit *e, IrNode *n) {
    FILE *o = e->o;
    const Shape *s = &n->shape;
    int64_t cols = s->rank ? s->d[s->rank - 1] : 1;
    fprintf(o, "    %s_PARALLEL_FOR\n", e->NAME);
    fprintf(o, "    for (int64_t r = 0; r < %s; r++) {\n", emit_rows(e, s));
    fprintf(o, "        const %s *xr = %s + r * %" PRId64 ";\n", e->real, emit_ptr(e, n->in[0]), cols);
    fprintf(o, "        %s *yr = %s + r * %" PRId64 ";\n", e->real, emit_ptr(e, n), cols);
    emit_row_max_sum(e, cols);
    if (n->op == OP_SOFTMAX) {
        fprintf(o, "        %s inv = (%s)(1.0 / sum);\n", e->real, e->real);
        fprintf(o, "        for (int64_t j = 0; j < %" PRId64 "; j++)\n            yr[j] = %s(xr[j] - mx) * inv;\n",
                cols, emit_exp(e));
    } else {
        fprintf(o, "        %s lse = mx + (%s)log(sum);\n", e->real, e->real);
        fprintf(o, "        for (int64_t j = 0; j < %" PRId64 "; j++)\n            yr[j] = xr[j] - lse;\n", cols);
    }
    fprintf(o, "    }\n");
}

/* xent, xent_grad and argmax_eq: a loop over the rows of logits (their last axis), each with its label */
static void emit_per_example(Emit *e, IrNode *n) {
    FILE *o = e->o;
    const Shape *x = &n->in[0]->shape;
    int64_t k = x->d[x->rank - 1];
    fprintf(o, "    for (int64_t r = 0; r < %s; r++) {\n", emit_rows(e, x));
    fprintf(o, "        const %s *xr = %s + r * %" PRId64 ";\n", e->real, emit_ptr(e, n->in[0]), k);
    fprintf(o, "        int32_t label = %s[r];\n", emit_ptr(e, n->in[1]));
    if (n->op == OP_ARGMAX_EQ) {
        fprintf(o, "        int64_t best = 0;\n");
        fprintf(o,
                "        for (int64_t j = 1; j < %" PRId64 "; j++)\n            if (xr[j] > xr[best])\n"
                "                best = j;\n",
                k);
        fprintf(o, "        %s[r] = best == label ? %s : %s;\n", emit_ptr(e, n), emit_lit(e, 1), emit_lit(e, 0));
        fprintf(o, "    }\n");
        return;
    }
    emit_row_max_sum(e, k);
    if (n->op == OP_XENT) {
        fprintf(o, "        %s[r] = mx + (%s)log(sum) - xr[label];\n", emit_ptr(e, n), e->real);
    } else {
        fprintf(o, "        %s *yr = %s + r * %" PRId64 ";\n", e->real, emit_ptr(e, n), k);
        fprintf(o, "        %s scale = %s[r], inv = (%s)(1.0 / sum);\n", e->real, emit_ptr(e, n->in[2]), e->real);
        fprintf(o,
                "        for (int64_t j = 0; j < %" PRId64 "; j++)\n"
                "            yr[j] = (%s(xr[j] - mx) * inv - (j == label ? %s : %s)) * scale;\n",
                k, emit_exp(e), emit_lit(e, 1), emit_lit(e, 0));
    }
    fprintf(o, "    }\n");
}

/* ---- export: over the last axis ---- */

static const char *onnx_softmax(const IrNode *n, OnnxNode *o) {
    o->op_type = n->op == OP_SOFTMAX ? "Softmax" : "LogSoftmax";
    onnx_int(o, "axis", -1);
    return NULL;
}

/* ---- the rules ---- */

const OpRule rule_SOFTMAX = {
    .build = build_softmax,
    .grad = grad_softmax,
    .emit = emit_softmax,
    .calls = CALLS_MAXR | CALLS_EXPV,
    .flops = flops_rows,
    .onnx = onnx_softmax,
};

const OpRule rule_LOGSOFTMAX = {
    .build = build_softmax,
    .grad = grad_log_softmax,
    .emit = emit_softmax,
    .calls = CALLS_MAXR | CALLS_EXPV,
    .flops = flops_rows,
    .onnx = onnx_softmax,
};

const OpRule rule_XENT = {
    .build = build_per_example,
    .grad = grad_xent,
    .no_grad_in = 1u << 1,
    .emit = emit_per_example,
    .calls = CALLS_MAXR | CALLS_EXPV,
    .flops = flops_rows,
    .onnx_refused = "a loss: losses are in training graphs (not written yet)",
};

const OpRule rule_XENT_GRAD = {
    .build = build_xent_grad,
    .grad = grad_refused,
    .emit = emit_per_example,
    .calls = CALLS_MAXR | CALLS_EXPV,
    .flops = flops_rows,
    .onnx_refused = "a gradient kernel (not written)",
};

/* 1 where the row's first maximum is at the label: a count, through which nothing flows back */
const OpRule rule_ARGMAX_EQ = {
    .build = build_per_example,
    .grad = grad_none,
    .emit = emit_per_example,
    .flops = flops_argmax,
    .onnx_refused = "a metric: metrics are in training graphs (not written yet)",
};
