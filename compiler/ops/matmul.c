/* matmul.c: the matrix product family: matmul, with either operand read transposed.
 *
 * a [M, K] @ b [K, N] -> [M, N]; attributes: transpose a, transpose b, which the kernel passes to BLAS as flags
 * (so a gradient's transposes cost no copy). The batch dimension may be the result's rows, or the contracted
 * dimension on both sides (x^T @ dy, a weight's gradient). */
#include <inttypes.h>

#include "dlc.h"

/* ---- shape rule ---- */

static IrNode *build_matmul(Graph *g, Op op, int nin, IrNode **in, const OpArgs *args, Loc loc) {
    Ctx *ctx = g->ctx;
    (void)nin;
    IrNode *a = in[0], *b = in[1];
    bool ta = args->attr[0], tb = args->attr[1];
    if (a->dtype != DT_F32 || b->dtype != DT_F32) {
        error_at(loc, "matrix product needs f32 operands, got %s @ %s", type_str(ctx, a->dtype, &a->shape),
                 type_str(ctx, b->dtype, &b->shape));
        return NULL;
    }
    if (a->shape.rank != 2 || b->shape.rank != 2) {
        error_at(loc, "matrix product needs 2-D operands, got %s @ %s", type_str(ctx, a->dtype, &a->shape),
                 type_str(ctx, b->dtype, &b->shape));
        return NULL;
    }
    int64_t m = ta ? a->shape.d[1] : a->shape.d[0], ka = ta ? a->shape.d[0] : a->shape.d[1];
    int64_t kb = tb ? b->shape.d[1] : b->shape.d[0], n = tb ? b->shape.d[0] : b->shape.d[1];
    if (ka != kb) {
        error_at(loc, "matrix product: inner dimensions differ: %s @ %s (%lld vs %lld)",
                 type_str(ctx, a->dtype, &a->shape), type_str(ctx, b->dtype, &b->shape), (long long)ka, (long long)kb);
        return NULL;
    }
    /* the batch dimension may be the output's rows, or the contracted dimension on both sides (x^T @ dy) */
    bool a_rows_b = !ta && a->shape.batched, a_k_b = ta && a->shape.batched;
    bool b_k_b = !tb && b->shape.batched, b_cols_b = tb && b->shape.batched;
    if (b_cols_b || a_k_b != b_k_b) {
        error_at(loc,
                 "matrix product: %s @ %s would move the batch dimension; only the left operand's rows "
                 "can be batched",
                 type_str(ctx, a->dtype, &a->shape), type_str(ctx, b->dtype, &b->shape));
        return NULL;
    }
    int64_t d[2] = {m, n};
    Shape s = shape_make(2, d, a_rows_b);
    if (!shape_check_size(&s, DT_F32, loc, "the matrix product"))
        return NULL;
    int64_t attr[MAX_ATTR] = {ta, tb};
    return ir_node(g, op, DT_F32, s, 2, in, attr, loc);
}

/* a @ b for a [M, K] (possibly batched) and b [K, N]; ta / tb read the operand transposed. */
IrNode *b_matmul(Graph *g, IrNode *a, IrNode *b, bool ta, bool tb, Loc loc) {
    OpArgs args = {.attr = {ta, tb}};
    IrNode *in[2] = {a, b};
    return op_build(g, OP_MATMUL, 2, in, &args, loc);
}

/* ---- gradient: products with the adjoint, the transposes as flags ---- */

static IrNode *grad_matmul(Graph *g, IrNode *n, int i, IrNode *d) {
    IrNode *x = n->in[0], *b = n->in[1];
    bool ta = n->attr[0], tb = n->attr[1];
    if (i == 0)
        return ta ? b_matmul(g, b, d, tb, true, n->loc) : b_matmul(g, d, b, false, !tb, n->loc);
    return tb ? b_matmul(g, d, x, true, ta, n->loc) : b_matmul(g, x, d, !ta, false, n->loc);
}

/* ---- FLOPs: a multiply-add per output element and contracted index; one BLAS call ---- */

static double flops_matmul(const IrNode *n) {
    const Shape *a = &n->in[0]->shape;
    int64_t k = n->attr[0] ? a->d[0] : a->d[1];
    return 2.0 * (double)shape_numel(&n->shape) * (double)k;
}

/* ---- kernel ---- */

/* Batch-1 inference's products, x [1, K] @ w^T for w [N, K] (linear layers), are matrix-vector products too small
 * for BLAS to pay its call: a function per shape (matvec), RB rows of w at a time, each a dot product in VEC partial
 * sums that the C compiler keeps in vector registers (RB of them, enough independent FMAs to fill the FMA units),
 * added in a fixed tree at the end. Only when the batch is at most 1 (--batch 1): for more rows BLAS wins. */
enum { VEC = 16, RB = 8 };

static bool matmul_vec(const IrNode *n) {
    return n->op == OP_MATMUL && !n->attr[0] && n->attr[1] && n->shape.batched && n->shape.d[0] == 1;
}

static unsigned calls_matmul(const IrNode *n) { return matmul_vec(n) ? CALLS_ISA | CALLS_SUM16 : CALLS_GEMM; }

/* The products' epilogue: bias and activation over the row, in place, once its sums are stored. */
static unsigned epilogue_matmul(const IrNode *n) { return matmul_vec(n) ? EPI_ELEM : 0; }

void emit_matvec_sum16(Emit *e) {
    const char *R = e->real;
    fprintf(e->o,
            "\n/* A dot product's %d partial sums added in a fixed tree: halves, quarters, eighths, then two. */\n",
            VEC);
    fprintf(e->o, "%s%s %s_sum16(%s *s) {\n", emit_isa_inline(e), R, e->name, R);
    for (int h = VEC / 2; h >= 2; h /= 2)
        fprintf(e->o, "    for (int j = 0; j < %d; j++)\n        s[j] += s[j + %d];\n", h, h);
    fprintf(e->o, "    return s[0] + s[1];\n}\n");
}

/* rb rows of w from row o (a C expression) into y[o .. o + rb]: chunks of VEC columns, then the K % VEC left. */
static void emit_matvec_rows(Emit *e, int64_t K, int64_t N, int64_t rb, const char *o, int d) {
    FILE *f = e->o;
    const char *R = e->real;
    int64_t full = K / VEC * VEC;
    fprintf(f, "%*s%s", d, "", R);
    for (int64_t r = 0; r < rb; r++)
        fprintf(f, "%s s%" PRId64 "[%d] = {0}", r ? "," : "", r, VEC);
    fprintf(f, ";\n%*sconst %s *wr = w + %s * %" PRId64 ";\n", d, "", R, o, K);
    if (full) {
        fprintf(f, "%*sfor (int k0 = 0; k0 < %" PRId64 "; k0 += %d)\n", d, "", full, VEC);
        fprintf(f, "%*s    for (int j = 0; j < %d; j++) {\n", d, "", VEC);
        fprintf(f, "%*s        %s v = xr[k0 + j];\n", d, "", R);
        for (int64_t r = 0; r < rb; r++)
            fprintf(f, "%*s        s%" PRId64 "[j] += wr[%" PRId64 " + k0 + j] * v;\n", d, "", r, r * K);
        fprintf(f, "%*s    }\n", d, "");
    }
    if (K > full) {
        fprintf(f, "%*sfor (int j = 0; j < %" PRId64 "; j++) {\n", d, "", K - full);
        fprintf(f, "%*s    %s v = xr[%" PRId64 " + j];\n", d, "", R, full);
        for (int64_t r = 0; r < rb; r++)
            fprintf(f, "%*s    s%" PRId64 "[j] += wr[%" PRId64 " + j] * v;\n", d, "", r, r * K + full);
        fprintf(f, "%*s}\n", d, "");
    }
    for (int64_t r = 0; r < rb; r++)
        fprintf(f, "%*sy[i * %" PRId64 " + %s + %" PRId64 "] = %s_sum16(s%" PRId64 ");\n", d, "", N, o, r, e->name, r);
}

/* Row i of y: the always-inlined body of the kernel's own function. */
static void emit_matvec_row(Emit *e, const IrNode *n, const char *fname) {
    FILE *f = e->o;
    const char *R = e->real;
    int64_t K = n->in[0]->shape.d[1], N = n->shape.d[1], full = N / RB * RB;
    Epilogue ep;
    bool fused = emit_epilogue(e, n, &ep);
    const char *bias = fused ? emit_epilogue_params(e, &ep) : "";
    fprintf(f, "%svoid %s_row(const %s *restrict x, const %s *restrict w%s, %s *restrict y, int64_t i) {\n",
            emit_isa_inline(e), fname, R, R, bias, R);
    fprintf(f, "    const %s *xr = x + i * %" PRId64 ";\n", R, K);
    if (full) {
        fprintf(f, "    for (int o = 0; o < %" PRId64 "; o += %d) {\n", full, RB);
        emit_matvec_rows(e, K, N, RB, "o", 8);
        fprintf(f, "    }\n");
    }
    if (N > full)
        emit_matvec_rows(e, K, N, N - full, xsprintf(e->ctx, "%" PRId64, full), 4);
    if (fused) {
        /* a loop of its own over the row, which vectorises (the activation would be scalar per sum) */
        fprintf(f, "    for (int o = 0; o < %" PRId64 "; o++)\n", N);
        fprintf(f, "        y[i * %" PRId64 " + o] = %s;\n", N,
                emit_epilogue_expr(e, &ep, n, xsprintf(e->ctx, "y[i * %" PRId64 " + o]", N), "o"));
    }
    fprintf(f, "}\n");
}

static void emit_matvec_own(Emit *e, const IrNode *n, const char *fname) {
    const char *R = e->real;
    int64_t K = n->in[0]->shape.d[1], N = n->shape.d[1];
    Epilogue ep;
    bool fused = emit_epilogue(e, n, &ep);
    fprintf(e->o,
            "\n/* matmul, %s.dlm line %d: y [n, %" PRId64 "] = x [n, %" PRId64 "] w^T, w [%" PRId64 ", %" PRId64
            "], a row at a time:\n * %d rows of w at once, each in %d partial sums, added in a fixed tree%s. */\n",
            e->name, n->loc.line, N, K, N, K, RB, VEC,
            fused ? xsprintf(e->ctx, "; then line %d's %s over the row", ep.elem->loc.line, op_info[ep.elem->op].name)
                  : "");
    emit_matvec_row(e, n, fname);
    const char *bp = fused ? emit_epilogue_params(e, &ep) : "", *ba = "";
    for (int i = 0; fused && i < ep.nbias; i++)
        ba = xsprintf(e->ctx, "%s, b%d", ba, i);
    /* the batch is at most one row (matmul_vec): no parallel loop */
    IsaLoop l = {.params =
                     xsprintf(e->ctx, "const %s *restrict x, const %s *restrict w%s, %s *restrict y", R, R, bp, R),
                 .args = xsprintf(e->ctx, "x, w%s, y", ba),
                 .setup = "",
                 .count = "n",
                 .step = xsprintf(e->ctx, "%s_row(x, w%s, y, i)", fname, ba),
                 .finish = ""};
    emit_isa_kernel(e, fname, &l);
}

static void emit_matmul(Emit *e, IrNode *n) {
    IrNode *a = n->in[0], *b = n->in[1];
    if (matmul_vec(n)) {
        Epilogue ep;
        bool fused = emit_epilogue(e, n, &ep);
        fprintf(e->o, "    %s(%s, %s%s, %s, n);\n", emit_own_fn_name(e, n), emit_ptr(e, a), emit_ptr(e, b),
                fused ? emit_epilogue_args(e, &ep) : "", emit_ptr(e, fused ? ep.out : n));
        return;
    }
    const Shape *s = &n->shape;
    bool ta = n->attr[0], tb = n->attr[1];
    char *m = emit_dim(e, s, 0);
    char *k = ta ? emit_dim(e, &a->shape, 0) : xsprintf(e->ctx, "%" PRId64, a->shape.d[1]);
    fprintf(e->o, "    gemm(%d, %d, %s, %" PRId64 ", %s, %s, %" PRId64 ", %s, %" PRId64 ", %s, %" PRId64 ", 0);\n", ta,
            tb, m, s->d[1], k, emit_ptr(e, a), a->shape.d[1], emit_ptr(e, b), b->shape.d[1], emit_ptr(e, n), s->d[1]);
}

/* ---- export: Gemm on matrices, the IR's transposes as transA and transB ---- */

static const char *onnx_matmul(const IrNode *n, OnnxNode *o) {
    if (n->in[0]->shape.rank != 2 || n->in[1]->shape.rank != 2)
        return "a product of tensors of ranks other than 2 (Gemm takes matrices)";
    o->op_type = "Gemm";
    onnx_int(o, "transA", n->attr[0] != 0);
    onnx_int(o, "transB", n->attr[1] != 0);
    return NULL;
}

/* ---- folding: output column o is b's column o, its row when read transposed (fold.c) ---- */

static IrNode *scale_out_matmul(Graph *g, IrNode *n, const double *scale) {
    bool tb = n->attr[1];
    IrNode *b = fold_scale_weight(g, n->in[1], tb ? 0 : 1, scale);
    return b ? b_matmul(g, n->in[0], b, n->attr[0], tb, n->loc) : NULL;
}

/* ---- int8 (quant.c): x [M, K] @ w, the weight's output columns as rows of K ---- */

static bool int8_weights_matmul(const IrNode *n, const double *w, double *out, int64_t *channels, int64_t *inner) {
    bool tb = n->attr[1];
    int64_t k = n->in[0]->shape.d[1], cols = n->shape.d[1];
    if (n->attr[0] || k > QUANT_STACK_BYTES)
        return false;
    *channels = cols, *inner = k;
    for (int64_t j = 0; out && j < cols; j++)
        for (int64_t p = 0; p < k; p++)
            out[j * k + p] = tb ? w[j * k + p] : w[p * cols + j];
    return true;
}

/* Per row of x: the row quantized on the stack, then a sum of int8 products per output column. The body of a
 * function of x, y and n. */
static void emit_int8_matmul(Emit *e, IrNode *n, const QuantKernel *q) {
    FILE *o = e->o;
    int64_t k = q->inner, cols = q->channels;
    fprintf(o, "    for (int64_t i = 0; i < %s; i++) {\n", emit_dim(e, &n->shape, 0));
    fprintf(o, "        %s xq[%" PRId64 "];\n", q->u8 ? "uint8_t" : "int8_t", k);
    fprintf(o, "        quantize_%s(x + i * %" PRId64 ", xq, %" PRId64 ", %s);\n", q->u8 ? "u8" : "s8", k, k,
            emit_lit(e, 1 / q->ascale));
    fprintf(o, "        for (int64_t j = 0; j < %" PRId64 "; j++) {\n", cols);
    fprintf(o, "            const int8_t *wr = q%d_w + j * %" PRId64 ";\n", n->id, k);
    fprintf(o, "            int32_t acc = 0;\n");
    fprintf(o, "            for (int64_t p = 0; p < %" PRId64 "; p++)\n", k);
    fprintf(o, "                acc += (int32_t)xq[p] * (int32_t)wr[p];\n");
    fprintf(o, "            y[i * %" PRId64 " + j] = (float)acc * q%d_scale[j];\n", cols, n->id);
    fprintf(o, "        }\n    }\n");
}

/* ---- the rule ---- */

const OpRule rule_MATMUL = {
    .build = build_matmul,
    .grad = grad_matmul,
    .scale_out = scale_out_matmul,
    .emit = emit_matmul,
    .own_fn = matmul_vec,
    .own_fn_prefix = "matvec_",
    .emit_own_fn = emit_matvec_own,
    .epilogue = epilogue_matmul,
    .calls_of = calls_matmul,
    .flops = flops_matmul,
    .blas_flops = flops_matmul,
    .onnx = onnx_matmul,
    .int8_weights = int8_weights_matmul,
    .emit_int8 = emit_int8_matmul,
};
