/* pool.c: the pooling family: max_pool and avg_pool, and their input gradients max_pool_dx and avg_pool_dx.
 *
 * Shape rules, gradient rules, FLOPs and kernels. Attributes: window (R, S), stride (sh, sw), padding (ph, pw);
 * max pooling pads with -inf, average pooling counts the padding (PyTorch's defaults), and max_pool_dx finds
 * each window's first maximum again from x rather than storing it. Pooling whose windows tile the image (LeNet's
 * 2x2) gets a function per geometry with the window written out; any other runs through one helper per op,
 * written once per generated file with the geometry as arguments. */
#include <inttypes.h>
#include <string.h>

#include "dlc.h"

/* The tensors of a pooling node: its input x (NULL for avg_pool_dx, which does not read it), the pooled y or its
 * gradient dy, and dx (NULL for the forward ops). */
typedef struct PoolTensors {
    const IrNode *x, *y, *dx;
} PoolTensors;

static bool pool_fwd(Op op) { return op == OP_MAXPOOL || op == OP_AVGPOOL; }

static PoolTensors pool_tensors(const IrNode *n) {
    if (pool_fwd(n->op))
        return (PoolTensors){n->in[0], n, NULL};
    return (PoolTensors){n->op == OP_MAXPOOL_DX ? n->in[0] : NULL, n->in[n->nin - 1], n};
}

/* Windows that tile the image: no padding, stride = window (LeNet's 2x2), at most 16 elements. */
static bool pool_tiled(const IrNode *n) {
    bool fwd = n->op == OP_MAXPOOL || n->op == OP_AVGPOOL;
    const Shape *x = fwd ? &n->in[0]->shape : &n->shape, *y = fwd ? &n->shape : &n->in[n->nin - 1]->shape;
    const int64_t *a = n->attr; /* window R x S, stride, padding */
    return a[4] == 0 && a[5] == 0 && a[2] == a[0] && a[3] == a[1] && y->d[2] * a[0] == x->d[2] &&
           y->d[3] * a[1] == x->d[3] && a[0] * a[1] <= 16;
}

/* ---- shape rules ---- */

static IrNode *build_pool(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    IrNode *x = in[0];
    const int64_t *win = a->attr, *stride = a->attr + 2, *pad = a->attr + 4;
    const char *name = op_info[op].name;
    if (x->shape.rank != 4) {
        error_at(loc, "%s expects [N, C, H, W], got %s", name, type_str(g->ctx, x->dtype, &x->shape));
        return NULL;
    }
    if (win[0] < 1 || win[1] < 1 || stride[0] < 1 || stride[1] < 1) {
        error_at(loc,
                 "%s: the window and the stride must be at least 1, got window (%lld, %lld) and stride (%lld, %lld)",
                 name, (long long)win[0], (long long)win[1], (long long)stride[0], (long long)stride[1]);
        return NULL;
    }
    if (pad[0] < 0 || pad[1] < 0) {
        error_at(loc, "%s: padding must be at least 0, got (%lld, %lld)", name, (long long)pad[0], (long long)pad[1]);
        return NULL;
    }
    /* pad * 2 > win, written so that it cannot overflow */
    if (pad[0] > win[0] / 2 || pad[1] > win[1] / 2) {
        error_at(loc, "%s: padding (%lld, %lld) must be at most half the window (%lld, %lld)", name, (long long)pad[0],
                 (long long)pad[1], (long long)win[0], (long long)win[1]);
        return NULL;
    }
    int64_t oh = conv_out_dim(x->shape.d[2], win[0], pad[0], stride[0]);
    int64_t ow = conv_out_dim(x->shape.d[3], win[1], pad[1], stride[1]);
    if (oh < 1 || ow < 1 || x->shape.d[2] + 2 * pad[0] < win[0] || x->shape.d[3] + 2 * pad[1] < win[1]) {
        error_at(loc, "%s: window (%lld, %lld) with stride (%lld, %lld) does not fit input %s", name, (long long)win[0],
                 (long long)win[1], (long long)stride[0], (long long)stride[1], type_str(g->ctx, x->dtype, &x->shape));
        return NULL;
    }
    int64_t d[4] = {x->shape.d[0], x->shape.d[1], oh, ow};
    return ir_node(g, op, DT_F32, shape_make(4, d, x->shape.batched), 1, &x, a->attr, loc);
}

IrNode *b_pool(Graph *g, Op op, IrNode *x, const int64_t win[2], const int64_t stride[2], const int64_t pad[2],
               Loc loc) {
    OpArgs a = {.attr = {win[0], win[1], stride[0], stride[1], pad[0], pad[1]}};
    return op_build(g, op, 1, &x, &a, loc);
}

/* The gradients: (x, dy) -> dx for max_pool_dx, (dy) -> dx for avg_pool_dx; a->shape is x's, which must pool onto
 * dy's shape. */
static IrNode *build_pool_dx(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    const Shape *x = &a->shape, *dy = &in[nin - 1]->shape;
    const int64_t *at = a->attr;
    bool ok = x->rank == 4 && dy->rank == 4 && x->d[0] == dy->d[0] && x->d[1] == dy->d[1] &&
              x->batched == dy->batched && at[2] >= 1 && at[3] >= 1 && (nin == 1 || shape_eq(&in[0]->shape, x));
    for (int i = 0; ok && i < 2; i++)
        ok = conv_out_dim(x->d[2 + i], at[i], at[4 + i], at[2 + i]) == dy->d[2 + i];
    if (!ok) {
        error_at(loc, "%s: dx %s and dy %s are not one pooling's", op_info[op].name, shape_str(g->ctx, x),
                 shape_str(g->ctx, dy));
        return NULL;
    }
    return ir_node(g, op, DT_F32, *x, nin, in, a->attr, loc);
}

/* ---- gradients ---- */

static IrNode *grad_pool(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)i;
    OpArgs a = {.shape = n->in[0]->shape};
    memcpy(a.attr, n->attr, sizeof a.attr);
    if (n->op == OP_MAXPOOL) {
        IrNode *in[2] = {n->in[0], d};
        return op_build(g, OP_MAXPOOL_DX, 2, in, &a, n->loc);
    }
    return op_build(g, OP_AVGPOOL_DX, 1, &d, &a, n->loc);
}

/* ---- FLOPs: one per window element of each output (or of each gradient element) ---- */

static double flops_pool(const IrNode *n) {
    return (double)shape_numel(&pool_tensors(n).y->shape) * (double)(n->attr[0] * n->attr[1]);
}

/* ---- kernels ---- */

static void emit_pool(Emit *e, IrNode *n) {
    PoolTensors t = pool_tensors(n);
    const Shape *xs = t.dx ? &t.dx->shape : &t.x->shape, *ys = &t.y->shape;
    char *x = t.x ? emit_ptr(e, (IrNode *)t.x) : "NULL", *y = emit_ptr(e, (IrNode *)t.y);
    char *dx = t.dx ? emit_ptr(e, n) : "NULL";
    if (pool_tiled(n)) {
        /* the tiled functions take only the tensors they read and write */
        if (n->op == OP_MAXPOOL_DX)
            fprintf(e->o, "    %s(%s, %s, %s, n);\n", emit_own_fn_name(e, n), x, y, dx);
        else
            fprintf(e->o, "    %s(%s, %s, n);\n", emit_own_fn_name(e, n), t.dx ? y : x, t.dx ? dx : y);
        return;
    }
    const char *kind = n->op == OP_MAXPOOL      ? "max_fwd"
                       : n->op == OP_AVGPOOL    ? "avg_fwd"
                       : n->op == OP_MAXPOOL_DX ? "max_dx"
                                                : "avg_dx";
    fprintf(e->o,
            "    pool_%s(%s, %s, %s, n * %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
            ", %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ");\n",
            kind, x, y, dx, xs->d[1], xs->d[2], xs->d[3], ys->d[2], ys->d[3], n->attr[0], n->attr[1], n->attr[2],
            n->attr[3], n->attr[4], n->attr[5]);
}

/* The generic pooling functions of the ops some kernel of which is not tiled. */
static void pool_helpers(Emit *e, const bool *used) {
    FILE *o = e->o;
    const char *R = e->real;
    fprintf(o, "\n/* Pooling over planes = n * C of H x W into P x Q; max pooling pads with -inf, average pooling\n"
               " * counts the padding (PyTorch's defaults). Backward recomputes the argmax from x. */\n");
    const char *pargs = "int64_t planes, int64_t H, int64_t W, int64_t P, int64_t Q, int64_t R, "
                        "int64_t S, int64_t sh, int64_t sw, int64_t ph, int64_t pw";
    const char *kinds[4] = {"max_fwd", "avg_fwd", "max_dx", "avg_dx"};
    const Op ops[4] = {OP_MAXPOOL, OP_AVGPOOL, OP_MAXPOOL_DX, OP_AVGPOOL_DX};
    for (int k = 0; k < 4; k++) {
        if (!used[ops[k]])
            continue;
        bool is_max = k == 0 || k == 2, fwd = k < 2;
        fprintf(o, "static void pool_%s(const %s *x, %s%s *y, %s *dx, %s) {\n", kinds[k], R, fwd ? "" : "const ", R, R,
                pargs);
        if (fwd)
            fprintf(o, "    (void)dx;\n");
        if (!is_max)
            fprintf(o, "    (void)x;\n");
        fprintf(o, "    %s_PARALLEL_FOR\n", e->NAME);
        fprintf(o, "    for (int64_t pl = 0; pl < planes; pl++) {\n");
        if (!fwd)
            fprintf(o, "        for (int64_t i = 0; i < H * W; i++)\n            dx[pl * H * W + i] = 0;\n");
        /* the window's rows [r0, r1) and columns [s0, s1) inside the image, so the inner loops need no tests */
        fprintf(o, "        for (int64_t p = 0; p < P; p++) {\n"
                   "            int64_t top = p * sh - ph;\n"
                   "            int64_t r0 = top < 0 ? -top : 0, r1 = H - top < R ? H - top : R;\n"
                   "            for (int64_t q = 0; q < Q; q++) {\n"
                   "                int64_t left = q * sw - pw;\n"
                   "                int64_t s0 = left < 0 ? -left : 0, s1 = W - left < S ? W - left : S;\n");
        /* max: the window's first element, then each one strictly greater (a NaN only where it comes first), as
         * selects rather than branches on the data */
        if (k == 0)
            fprintf(o, "                %s best = x[(pl * H + top + r0) * W + left + s0];\n", R);
        else if (is_max)
            fprintf(
                o,
                "                int64_t at = (pl * H + top + r0) * W + left + s0;\n                %s best = x[at];\n",
                R);
        else if (fwd)
            fprintf(o, "                %s acc = 0;\n", R);
        fprintf(o, "                for (int64_t r = r0; r < r1; r++)\n"
                   "                    for (int64_t s = s0; s < s1; s++) {\n"
                   "                        int64_t i = (pl * H + top + r) * W + left + s;\n");
        if (k == 0)
            fprintf(o, "                        best = x[i] > best ? x[i] : best;\n");
        else if (is_max)
            fprintf(o, "                        int greater = x[i] > best;\n"
                       "                        at = greater ? i : at;\n"
                       "                        best = greater ? x[i] : best;\n");
        else if (fwd)
            fprintf(o, "                        acc += x[i];\n");
        else
            fprintf(o, "                        dx[i] += y[(pl * P + p) * Q + q] / (%s)(R * S);\n", R);
        fprintf(o, "                    }\n");
        if (k == 0)
            fprintf(o, "                y[(pl * P + p) * Q + q] = best;\n");
        else if (k == 1)
            fprintf(o, "                y[(pl * P + p) * Q + q] = acc / (%s)(R * S);\n", R);
        else if (k == 2)
            fprintf(o, "                dx[at] += y[(pl * P + p) * Q + q];\n");
        fprintf(o, "            }\n        }\n    }\n}\n");
    }
}

/* ---- tiled pooling ---- */

bool pool_fusable(const IrNode *n) {
    return (n->op == OP_AVGPOOL || n->op == OP_MAXPOOL) && pool_tiled(n) && n->attr[0] == 2 && n->attr[1] == 2;
}

/* Forward pooling n of one window, whose elements (rows, then columns) are the C expressions at[], into lvalue:
 * statements at indent d. Its own kernel and a convolution's epilogue (pool_fusable) both write it, so the two
 * agree to the bit. */
void pool_emit_window(Emit *e, const IrNode *n, char *const *at, const char *lvalue, const char *d) {
    FILE *o = e->o;
    const char *R = e->real;
    int64_t size = n->attr[0] * n->attr[1];
    if (n->op == OP_AVGPOOL) {
        fprintf(o, "%s%s = (", d, lvalue);
        for (int64_t i = 0; i < size; i++)
            fprintf(o, "%s%s", i ? " + " : "", at[i]);
        fprintf(o, ") * (%s)%.17g;\n", R, 1.0 / (double)size);
        return;
    }
    fprintf(o, "%s%s best = %s;\n", d, R, at[0]);
    for (int64_t i = 1; i < size; i++)
        fprintf(o, "%sbest = %s > best ? %s : best;\n", d, at[i], at[i]);
    fprintf(o, "%s%s = best;\n", d, lvalue);
}

/* Pooling node n, for which pool_tiled holds, as static function `fname`. */
static void emit_pool_own(Emit *e, const IrNode *n, const char *fname) {
    FILE *o = e->o;
    const char *R = e->real, *NAME = e->NAME, *model = e->name;
    bool fwd = n->op == OP_MAXPOOL || n->op == OP_AVGPOOL, is_max = n->op == OP_MAXPOOL || n->op == OP_MAXPOOL_DX;
    const Shape *xs = fwd ? &n->in[0]->shape : &n->shape, *ys = fwd ? &n->shape : &n->in[n->nin - 1]->shape;
    int64_t H = xs->d[2], W = xs->d[3], P = ys->d[2], Q = ys->d[3], WR = n->attr[0], WS = n->attr[1];
    fprintf(o,
            "\n/* %s %s, %s.dlm line %d: %" PRId64 "x%" PRId64 " windows that tile the planes of [n, %" PRId64
            ", %" PRId64 ", %" PRId64 "] into %" PRId64 "x%" PRId64 "%s. */\n",
            is_max ? "max_pool" : "avg_pool", fwd ? "forward" : "backward", model, n->loc.line, WR, WS, xs->d[1], H, W,
            P, Q, is_max && !fwd ? "; the gradient goes to each window's first maximum" : "");
    if (n->op == OP_MAXPOOL_DX)
        fprintf(o, "static void %s(const %s *restrict x, const %s *restrict dy, %s *restrict dx, int64_t n) {\n", fname,
                R, R, R);
    else if (fwd)
        fprintf(o, "static void %s(const %s *restrict x, %s *restrict y, int64_t n) {\n", fname, R, R);
    else
        fprintf(o, "static void %s(const %s *restrict dy, %s *restrict dx, int64_t n) {\n", fname, R, R);
    fprintf(o, "    %s_PARALLEL_FOR\n", NAME);
    fprintf(o, "    for (int64_t pl = 0; pl < n * %" PRId64 "; pl++)\n", xs->d[1]);
    fprintf(o, "        for (int p = 0; p < %" PRId64 "; p++) {\n", P);
    const char *img = n->op == OP_AVGPOOL_DX ? "dx" : "x";
    fprintf(o, "            %s%s *top = %s + (pl * %" PRId64 " + p * %" PRId64 ") * %" PRId64 ";\n",
            n->op == OP_AVGPOOL_DX ? "" : "const ", R, img, H, WR, W);
    fprintf(o, "            int64_t o = (pl * %" PRId64 " + p) * %" PRId64 ";\n", P, Q);
    if (n->op == OP_MAXPOOL_DX)
        fprintf(o, "            %s *out = dx + (pl * %" PRId64 " + p * %" PRId64 ") * %" PRId64 ";\n", R, H, WR, W);
    fprintf(o, "            for (int q = 0; q < %" PRId64 "; q++) {\n", Q);
    /* the window's elements in the generic kernel's order: rows, then columns */
    char **at = xalloc(e->ctx, sizeof(char *) * (size_t)(WR * WS));
    for (int64_t r = 0; r < WR; r++)
        for (int64_t s = 0; s < WS; s++)
            at[r * WS + s] = r * W + s ? xsprintf(e->ctx, "q * %" PRId64 " + %" PRId64, WS, r * W + s)
                                       : xsprintf(e->ctx, "q * %" PRId64, WS);
    const char *d = "                ";
    switch (n->op) {
    case OP_AVGPOOL:
    case OP_MAXPOOL:
        for (int64_t i = 0; i < WR * WS; i++)
            at[i] = xsprintf(e->ctx, "top[%s]", at[i]);
        pool_emit_window(e, n, at, "y[o + q]", d);
        break;
    case OP_AVGPOOL_DX:
        fprintf(o, "%s%s g = dy[o + q] * (%s)%.17g;\n", d, R, R, 1.0 / (double)(WR * WS));
        for (int64_t i = 0; i < WR * WS; i++)
            fprintf(o, "%stop[%s] = g;\n", d, at[i]);
        break;
    default: /* OP_MAXPOOL_DX */
        fprintf(o, "%s%s best = top[%s];\n%sint64_t arg = %s;\n", d, R, at[0], d, at[0]);
        for (int64_t i = 1; i < WR * WS; i++)
            fprintf(o, "%sif (top[%s] > best) {\n%s    best = top[%s];\n%s    arg = %s;\n%s}\n", d, at[i], d, at[i], d,
                    at[i], d);
        for (int64_t i = 0; i < WR * WS; i++)
            fprintf(o, "%sout[%s] = 0;\n", d, at[i]);
        fprintf(o, "%sout[arg] = dy[o + q];\n", d);
        break;
    }
    fprintf(o, "            }\n        }\n}\n");
}

/* ---- export ---- */

/* MaxPool and AveragePool (counting the padding, as PyTorch's AvgPool2d and dlc's kernels do); an average over the
 * whole image (adaptive_avg_pool(1), the modern CNNs' heads) as GlobalAveragePool, as PyTorch writes
 * AdaptiveAvgPool2d(1) */
static const char *onnx_pool(const IrNode *n, OnnxNode *o) {
    const int64_t *a = n->attr;
    const Shape *x = &n->in[0]->shape;
    if (n->op == OP_AVGPOOL && a[0] == x->d[2] && a[1] == x->d[3] && a[4] == 0 && a[5] == 0) {
        o->op_type = "GlobalAveragePool";
        return NULL;
    }
    int64_t pads[4] = {a[4], a[5], a[4], a[5]};
    o->op_type = n->op == OP_MAXPOOL ? "MaxPool" : "AveragePool";
    onnx_ints(o, "kernel_shape", 2, a);
    onnx_ints(o, "strides", 2, a + 2);
    onnx_ints(o, "pads", 4, pads);
    if (n->op == OP_AVGPOOL)
        onnx_int(o, "count_include_pad", 1);
    return NULL;
}

/* ---- the rules ---- */

const OpRule rule_MAXPOOL = {
    .build = build_pool,
    .grad = grad_pool,
    .emit = emit_pool,
    .own_fn = pool_tiled,
    .own_fn_prefix = "max_pool_fwd_",
    .emit_own_fn = emit_pool_own,
    .helpers = pool_helpers,
    .flops = flops_pool,
    .onnx = onnx_pool,
};

const OpRule rule_MAXPOOL_DX = {
    .build = build_pool_dx,
    .grad = grad_refused,
    .emit = emit_pool,
    .own_fn = pool_tiled,
    .own_fn_prefix = "max_pool_dx_",
    .emit_own_fn = emit_pool_own,
    .helpers = pool_helpers,
    .flops = flops_pool,
    .onnx_refused = "a gradient kernel (not written)",
};

const OpRule rule_AVGPOOL = {
    .build = build_pool,
    .grad = grad_pool,
    .emit = emit_pool,
    .own_fn = pool_tiled,
    .own_fn_prefix = "avg_pool_fwd_",
    .emit_own_fn = emit_pool_own,
    .helpers = pool_helpers,
    .flops = flops_pool,
    .onnx = onnx_pool,
};

const OpRule rule_AVGPOOL_DX = {
    .build = build_pool_dx,
    .grad = grad_refused,
    .emit = emit_pool,
    .own_fn = pool_tiled,
    .own_fn_prefix = "avg_pool_dx_",
    .emit_own_fn = emit_pool_own,
    .helpers = pool_helpers,
    .flops = flops_pool,
    .onnx_refused = "a gradient kernel (not written)",
};
