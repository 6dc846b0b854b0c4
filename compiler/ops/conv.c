/* conv.c: the convolution family: conv2d, its input gradient conv2d_dx and its weight gradient conv2d_dw.
 *
 * Shape rules, the gradient rule, FLOPs, scratch and the kernels. A convolution runs one of two ways, decided by
 * conv_direct from the geometry; the scratch rule and the emitters share that decision and the tiling constants
 * below, so the planner reserves exactly what the emitted code uses.
 *
 * Larger convolutions (AlexNet, VGG) are im2col over chunks of images and one BLAS product per image; the columns
 * of a chunk are the kernel's scratch. The helpers (im2col, col2im and the three drivers) are written once per
 * generated file and called with the geometry as arguments.
 *
 * A small convolution (LeNet's: 1 or 6 input channels, 5x5, 28x28 or 14x14 images) feeds matrix products too
 * small for BLAS to pay for im2col's columns, so it runs as loops written for its shape, a function per geometry
 * with every extent a literal. Each kernel first copies an image into a zero-padded block on the stack, so the
 * inner loops need no bounds tests, then works on tiles of TILE output columns, every loop count a constant:
 *
 *   forward  for KBLOCK output channels at once, the partial sums of a tile (one array per channel, which the C
 *            compiler keeps in vector registers) accumulate w[k][c][r][s] times a shifted row of the block; every
 *            input row loaded serves KBLOCK channels. The block is wide enough for whole tiles; a partial tile
 *            computes TILE columns and stores the ones that exist.
 *   dx       (stride 1) the forward loops on dy, padded by the kernel size minus 1 minus the padding, with the
 *            kernel turned by 180 degrees and its channel axes swapped.
 *   dw       for one (c, r) and up to 3 output channels k, S partial sums each (one per kernel column s)
 *            accumulate dy[k][p] times the row of the block shifted by s, over a chunk of images; dy is copied
 *            too, its rows zero-padded to whole tiles.
 *            Chunks are fixed by the batch size, each writes its sums to scratch, and the chunks are added in
 *            order, so the result does not depend on the thread count.
 *
 * Rows narrower than a tile (LeNet's second layer: 10 columns) with 16, 32, ... output channels put the channels
 * in the lanes instead (lanes_over_k): forward keeps a partial sum per output column, dw reads dy channel-last.
 * Forward reads no column past the row's end then, so without padding it reads x as it lies, with no copy.
 *
 * Output rows whose window reaches into zero padding skip those kernel rows (dx's turned kernel pads dy by
 * kernel size minus 1, so LeNet's second dx would spend a third of its products on zeros).
 *
 * The C compiler keeps the partial sums in registers only when each is its own array and the loops over them have
 * constant counts; a shared 2-D array or a masked tail spilled them to the stack (measured, GCC 12). */
#include <inttypes.h>
#include <string.h>

#include "dlc.h"

enum {
    TILE = 16,           /* output columns per tile: one AVX-512 vector of float, two of AVX2 */
    KBLOCK = 6,          /* output channels per forward tile: 6 x 16 partial sums fit AVX-512's registers, and AVX2's */
    BLOCK_ELEMS = 16384, /* the padded block's limit in elements: 64 KB of float on the stack */
    FLIP_ELEMS = 4096,   /* a rearranged kernel's limit in elements, also on the stack */
    QMAX = 12,           /* the widest output row whose columns each get their own partial sums */
    IM2COL_ELEMS = 1 << 18, /* im2col's columns per chunk of images, in elements: many small images per pass */
    GEMM_COLS = 1024,       /* columns of a chunk's one matrix product that BLAS needs to run near its peak */
    IM2COL_MAX = 1 << 22,   /* the most elements of columns a chunk may take to reach GEMM_COLS */
};

/* ---- geometry ---- */

/* The three tensors of a convolution, whichever of them the node computes: conv2d (x, w) -> y, conv2d_dx (dy, w)
 * -> dx, conv2d_dw (x, dy) -> dw. */
enum { X, W, Y };
static void conv_tensors(const IrNode *n, const IrNode *t[3]) {
    static const int roles[3][3] = {{X, W, Y}, {Y, W, X}, {X, Y, W}}; /* in[0], in[1], the node */
    const int *r = roles[n->op == OP_CONV2D ? 0 : n->op == OP_CONV2D_DX ? 1 : 2];
    t[r[0]] = n->in[0];
    t[r[1]] = n->in[1];
    t[r[2]] = n;
}

ConvGeo conv_geo(const IrNode *n) {
    const IrNode *t[3];
    conv_tensors(n, t);
    const Shape *x = &t[X]->shape, *w = &t[W]->shape, *y = &t[Y]->shape;
    ConvGeo g = {.N = x->d[0],
                 .K = w->d[0],
                 .C = w->d[1],
                 .H = x->d[2],
                 .W = x->d[3],
                 .R = w->d[2],
                 .S = w->d[3],
                 .P = y->d[2],
                 .Q = y->d[3],
                 .sh = n->attr[0],
                 .sw = n->attr[1],
                 .ph = n->attr[2],
                 .pw = n->attr[3]};
    g.HP = (g.P - 1) * g.sh + g.R;
    return g;
}

/* The padded block's row length: whole tiles read up to TILE - 1 columns past the last output, into zeros. */
static int64_t block_width(const ConvGeo *g) { return ((g->Q + TILE - 1) / TILE * TILE - 1) * g->sw + g->S; }

/* Output columns rounded up to whole tiles: the row length of dw's copy of dy. */
static int64_t tiled_q(const ConvGeo *g) { return (g->Q + TILE - 1) / TILE * TILE; }

/* dx of a stride-1 convolution is itself a convolution: of dy, padded by the kernel size minus 1 minus the padding,
 * with the kernel turned by 180 degrees and its in and out channels swapped. */
static ConvGeo dx_as_conv(const ConvGeo *g) {
    ConvGeo t = {.N = g->N,
                 .K = g->C,
                 .C = g->K,
                 .H = g->P,
                 .W = g->Q,
                 .R = g->R,
                 .S = g->S,
                 .P = g->H,
                 .Q = g->W,
                 .sh = 1,
                 .sw = 1,
                 .ph = g->R - 1 - g->ph,
                 .pw = g->S - 1 - g->pw};
    t.HP = t.P - 1 + t.R;
    return t;
}

/* A block of at most BLOCK_ELEMS and at most 512 multiply-adds per output element. */
static bool direct_pays(const ConvGeo *g) {
    return g->C * g->R * g->S <= 512 && g->C * g->HP * block_width(g) <= BLOCK_ELEMS;
}

/* A 1x1 convolution with stride 1 and no padding is a matrix product per image on x as it lies: no im2col and no
 * scratch (NiN's, GoogLeNet's and DenseNet's 1x1 layers). */
static bool conv_pointwise(const IrNode *n) {
    ConvGeo g = conv_geo(n);
    return g.R == 1 && g.S == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}

/* Whether a forward convolution (and its dw) is a product big enough for dlc's matrix kernel to beat the direct
 * loops even through im2col: at least IMPLICIT_K output channels (rows of the product, whole 12-row tiles) and
 * IMPLICIT_CRS terms per output (its depth). The 7x7 stems of ResNet-18, GoogLeNet and DenseNet (1 -> 64 channels,
 * 49 terms): the direct loops ran ResNet-18's at 23 GFLOP/s, the implicit product (dlrt_conv_f32) at 79 (forward)
 * and 60 (dw) on one Sapphire Rapids core. LeNet's layers (6 and 16 channels) stay direct. */
enum { IMPLICIT_K = 64, IMPLICIT_CRS = 48 };
static bool product_pays(const ConvGeo *g) { return g->K >= IMPLICIT_K && g->C * g->R * g->S >= IMPLICIT_CRS; }

bool conv_direct(const IrNode *n) {
    if (n->op != OP_CONV2D && n->op != OP_CONV2D_DX && n->op != OP_CONV2D_DW)
        return false;
    if (conv_pointwise(n))
        return false;
    ConvGeo g = conv_geo(n);
    if (n->op != OP_CONV2D_DX)
        return direct_pays(&g) && !product_pays(&g);
    ConvGeo t = dx_as_conv(&g);
    return g.sh == 1 && g.sw == 1 && g.ph < g.R && g.pw < g.S && g.K * g.C * g.R * g.S <= FLIP_ELEMS && direct_pays(&t);
}

/* Images per chunk of a direct dw: as many padded images as fit the kernel's 16K-element stack block. */
static int64_t conv_direct_images(const ConvGeo *g) {
    int64_t images = BLOCK_ELEMS / (g->C * g->HP * block_width(g) + g->K * g->P * tiled_q(g));
    return images < 1 ? 1 : images > g->N ? g->N : images;
}

/* Images per chunk and scratch elements: a direct dw's sums, one set per chunk of images; im2col's columns for a
 * chunk of images (none for the other direct kernels). */
static int64_t conv_chunk(const IrNode *n, int64_t *elems) {
    ConvGeo g = conv_geo(n);
    if (conv_direct(n)) {
        if (n->op != OP_CONV2D_DW) {
            *elems = 0;
            return 0;
        }
        int64_t chunk = conv_direct_images(&g);
        *elems = (g.N + chunk - 1) / chunk * g.K * g.C * g.R * g.S;
        return chunk;
    }
    if (conv_pointwise(n)) {
        *elems = 0;
        return 0;
    }
    int64_t crs = g.C * g.R * g.S, pq = g.P * g.Q;
    /* chunks of images whose columns fit in IM2COL_ELEMS: one im2col pass serves many small images; and enough
     * images that the chunk's one matrix product has GEMM_COLS columns (ResNet's 6x6 and 3x3 layers: a product
     * per image would have 36 or 9, and BLAS would pack the weights again for each), within IM2COL_MAX */
    int64_t images = IM2COL_ELEMS / (crs * pq), wide = (GEMM_COLS + pq - 1) / pq;
    if (wide > IM2COL_MAX / (crs * pq))
        wide = IM2COL_MAX / (crs * pq);
    if (images < wide)
        images = wide;
    if (images < 1)
        images = 1;
    if (images > g.N)
        images = g.N;
    /* the columns, and with more than one image the product's [K, images * PQ] (y, or dy gathered) */
    *elems = crs * images * pq + (images > 1 ? g.K * images * pq : 0);
    return images;
}

static int64_t conv_scratch(const IrNode *n) {
    int64_t elems;
    conv_chunk(n, &elems);
    return elems;
}

/* ---- shape rules ---- */

int64_t conv_out_dim(int64_t in, int64_t k, int64_t pad, int64_t stride) { return (in + 2 * pad - k) / stride + 1; }

static IrNode *build_conv2d(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    IrNode *x = in[0], *w = in[1];
    const int64_t *stride = a->attr, *pad = a->attr + 2;
    if (x->shape.rank != 4) {
        error_at(loc, "conv2d expects [N, C, H, W], got %s", type_str(g->ctx, x->dtype, &x->shape));
        return NULL;
    }
    if (w->shape.rank != 4 || w->shape.d[1] != x->shape.d[1]) {
        error_at(loc, "conv2d: kernel %s does not match input %s (kernel is [out, in channels, kh, kw])",
                 shape_str(g->ctx, &w->shape), type_str(g->ctx, x->dtype, &x->shape));
        return NULL;
    }
    for (int i = 0; i < 2; i++)
        if (stride[i] < 1 || pad[i] < 0 || pad[i] > MAX_NUMEL) {
            error_at(loc,
                     "conv2d: the stride must be at least 1 and the padding at least 0, got stride (%lld, %lld) "
                     "and padding (%lld, %lld)",
                     (long long)stride[0], (long long)stride[1], (long long)pad[0], (long long)pad[1]);
            return NULL;
        }
    /* in, k <= MAX_NUMEL and 0 <= pad <= MAX_NUMEL: no overflow */
    int64_t oh = conv_out_dim(x->shape.d[2], w->shape.d[2], pad[0], stride[0]);
    int64_t ow = conv_out_dim(x->shape.d[3], w->shape.d[3], pad[1], stride[1]);
    if (oh < 1 || ow < 1 || x->shape.d[2] + 2 * pad[0] < w->shape.d[2] || x->shape.d[3] + 2 * pad[1] < w->shape.d[3]) {
        error_at(loc,
                 "conv2d: a %lldx%lld kernel with padding (%lld, %lld) and stride (%lld, %lld) does not fit input %s",
                 (long long)w->shape.d[2], (long long)w->shape.d[3], (long long)pad[0], (long long)pad[1],
                 (long long)stride[0], (long long)stride[1], shape_str(g->ctx, &x->shape));
        return NULL;
    }
    int64_t d[4] = {x->shape.d[0], w->shape.d[0], oh, ow};
    Shape s = shape_make(4, d, x->shape.batched);
    if (!shape_check_size(&s, DT_F32, loc, "conv2d's output"))
        return NULL;
    return ir_node(g, op, DT_F32, s, 2, in, a->attr, loc);
}

IrNode *b_conv2d(Graph *g, IrNode *x, IrNode *w, const int64_t stride[2], const int64_t pad[2], Loc loc) {
    OpArgs a = {.attr = {stride[0], stride[1], pad[0], pad[1]}};
    IrNode *in[2] = {x, w};
    return op_build(g, OP_CONV2D, 2, in, &a, loc);
}

/* The gradients: a->shape is the shape of the tensor they compute (x's, or w's), which the convolution's
 * arithmetic does not fix when the stride is above 1; it must be one the forward convolution maps onto dy. */
static IrNode *build_conv2d_grad(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    (void)nin;
    IrNode *n = &(IrNode){.op = op, .shape = a->shape, .nin = 2, .in = {in[0], in[1]}};
    memcpy(n->attr, a->attr, sizeof n->attr);
    const IrNode *t[3];
    conv_tensors(n, t);
    const Shape *x = &t[X]->shape, *w = &t[W]->shape, *y = &t[Y]->shape;
    bool ok = x->rank == 4 && w->rank == 4 && y->rank == 4 && x->d[1] == w->d[1] && y->d[1] == w->d[0] &&
              x->d[0] == y->d[0] && x->batched == y->batched && !w->batched && a->attr[0] >= 1 && a->attr[1] >= 1;
    for (int i = 0; ok && i < 2; i++)
        ok = conv_out_dim(x->d[2 + i], w->d[2 + i], a->attr[2 + i], a->attr[i]) == y->d[2 + i];
    if (!ok) {
        error_at(loc, "%s: x %s, w %s and dy %s are not one convolution's", op_info[op].name, shape_str(g->ctx, x),
                 shape_str(g->ctx, w), shape_str(g->ctx, y));
        return NULL;
    }
    return ir_node(g, op, DT_F32, a->shape, 2, in, a->attr, loc);
}

/* ---- gradient ---- */

static IrNode *grad_conv2d(Graph *g, IrNode *n, int i, IrNode *d) {
    OpArgs a = {.shape = n->in[i]->shape};
    memcpy(a.attr, n->attr, sizeof a.attr);
    IrNode *in[2] = {i == 0 ? d : n->in[0], i == 0 ? n->in[1] : d};
    return op_build(g, i == 0 ? OP_CONV2D_DX : OP_CONV2D_DW, 2, in, &a, n->loc);
}

/* ---- FLOPs ---- */

static double flops_conv2d(const IrNode *n) {
    const Shape *w = &n->in[1]->shape;
    return 2.0 * (double)shape_numel(&n->shape) * (double)(w->d[1] * w->d[2] * w->d[3]);
}

static double flops_conv2d_dx(const IrNode *n) {
    const Shape *w = &n->in[1]->shape, *dy = &n->in[0]->shape;
    return 2.0 * (double)shape_numel(dy) * (double)(w->d[1] * w->d[2] * w->d[3]);
}

static double flops_conv2d_dw(const IrNode *n) {
    const Shape *dy = &n->in[1]->shape;
    return 2.0 * (double)shape_numel(dy) * (double)(n->shape.d[1] * n->shape.d[2] * n->shape.d[3]);
}

/* The largest BLAS call of an im2col convolution: one chunk's product (the direct kernels call no BLAS). */
static double blas_flops_conv(const IrNode *n) {
    if (conv_direct(n))
        return 0;
    ConvGeo g = conv_geo(n);
    int64_t elems, images = conv_pointwise(n) ? 1 : conv_chunk(n, &elems);
    return 2.0 * (double)(images * g.K * g.P * g.Q * g.C * g.R * g.S);
}

static unsigned calls_conv(const IrNode *n) { return conv_direct(n) ? CALLS_ISA : CALLS_GEMM; }

/* ---- kernels ---- */

static void emit_conv(Emit *e, IrNode *n) {
    const IrNode *t[3];
    conv_tensors(n, t);
    Epilogue ep;
    bool fused = n->op == OP_CONV2D && emit_epilogue(e, n, &ep); /* then n has no buffer: it stores ep.out */
    char *x = emit_ptr(e, (IrNode *)t[X]), *w = emit_ptr(e, (IrNode *)t[W]),
         *y = emit_ptr(e, fused ? ep.out : (IrNode *)t[Y]);
    if (conv_direct(n)) {
        /* the direct functions take their operands first and their result last */
        if (fused)
            fprintf(e->o, "    %s(%s, %s%s, %s, n);\n", emit_own_fn_name(e, n), x, w, emit_epilogue_args(e, &ep), y);
        else if (n->op == OP_CONV2D)
            fprintf(e->o, "    %s(%s, %s, %s, n);\n", emit_own_fn_name(e, n), x, w, y);
        else if (n->op == OP_CONV2D_DX)
            fprintf(e->o, "    %s(%s, %s, %s, n);\n", emit_own_fn_name(e, n), y, w, x);
        else
            fprintf(e->o, "    %s(%s, %s, %s, %s, n);\n", emit_own_fn_name(e, n), x, w, y, emit_scratch(e, n));
        return;
    }
    int64_t elems, chunk = conv_chunk(n, &elems);
    ConvGeo g = conv_geo(n);
    if (conv_pointwise(n)) {
        /* per image, y [K, PQ] = w [K, C] x [C, PQ]; dx [C, PQ] = w^T dy; dw [K, C] = sum of dy x^T */
        int64_t pq = g.P * g.Q;
        fprintf(e->o, "    for (int64_t i = 0; i < n; i++)\n");
        if (n->op == OP_CONV2D)
            fprintf(e->o,
                    "        gemm(0, 0, %" PRId64 ", %" PRId64 ", %" PRId64 ", %s, %" PRId64 ", %s + i * %" PRId64
                    ", %" PRId64 ", %s + i * %" PRId64 ", %" PRId64 ", 0);\n",
                    g.K, pq, g.C, w, g.C, x, g.C * pq, pq, y, g.K * pq, pq);
        else if (n->op == OP_CONV2D_DX)
            fprintf(e->o,
                    "        gemm(1, 0, %" PRId64 ", %" PRId64 ", %" PRId64 ", %s, %" PRId64 ", %s + i * %" PRId64
                    ", %" PRId64 ", %s + i * %" PRId64 ", %" PRId64 ", 0);\n",
                    g.C, pq, g.K, w, g.C, y, g.K * pq, pq, x, g.C * pq, pq);
        else
            fprintf(e->o,
                    "        gemm(0, 1, %" PRId64 ", %" PRId64 ", %" PRId64 ", %s + i * %" PRId64 ", %" PRId64
                    ", %s + i * %" PRId64 ", %" PRId64 ", %s, %" PRId64 ", i > 0);\n",
                    g.K, g.C, pq, y, g.K * pq, pq, x, g.C * pq, pq, w, g.C);
        return;
    }
    fprintf(e->o,
            "    conv2d_%s(%s, %s, %s, %s, n, %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
            ", %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ");\n",
            n->op == OP_CONV2D      ? "fwd"
            : n->op == OP_CONV2D_DX ? "dx"
                                    : "dw",
            x, w, y, emit_scratch(e, n), g.K, chunk, g.C, g.H, g.W, g.R, g.S, g.P, g.Q, g.sh, g.sw, g.ph, g.pw);
}

/* Whether some kernel of op `op` runs through im2col (neither direct nor pointwise). */
static bool im2col_op(Compiled *c, Op op) {
    for (int f = 0; f < FN_COUNT; f++)
        for (int i = 0; i < c->fn[f].kernels.n; i++) {
            IrNode *k = c->fn[f].kernels.v[i];
            if (k->op == op && !conv_direct(k) && !conv_pointwise(k))
                return true;
        }
    return false;
}

bool conv_im2col(Compiled *c) {
    return im2col_op(c, OP_CONV2D) || im2col_op(c, OP_CONV2D_DX) || im2col_op(c, OP_CONV2D_DW);
}

/* im2col and its drivers, written once per generated file for the convolutions that do not run direct;
 * the C compiler specialises them by their constant arguments once it inlines them. */
static void conv_helpers(Emit *e, const bool *used_by_op) {
    FILE *o = e->o;
    bool used[OP_COUNT] = {0};
    static const Op convs[] = {OP_CONV2D, OP_CONV2D_DX, OP_CONV2D_DW};
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++)
        used[convs[i]] = used_by_op[convs[i]] && im2col_op(e->c, convs[i]);
    const char *R = e->real;
    const char *geo = "int64_t C, int64_t H, int64_t W, int64_t R, int64_t S, int64_t P, int64_t Q, int64_t sh, "
                      "int64_t sw, int64_t ph, int64_t pw";
    /* f32 training code asks <name>_set_conv's implicit product first, which declines what it does not take */
    bool hook = emit_has_conv_hook(e->c, e->opt);
    const char *hook_geo = "(int)g, (int)K, (int)C, (int)H, (int)W, (int)R, (int)S, (int)P, (int)Q, (int)sh, (int)sw, "
                           "(int)ph, (int)pw";
    fprintf(o, "\n/* Convolutions as matrix products over a chunk of g images at a time: im2col lays the chunk's\n"
               " * receptive fields out as columns, col[(c*R + r)*S + s][(i*P + p)*Q + q], zero where the window\n"
               " * overhangs the padding. */\n");
    if (used[OP_CONV2D] || used[OP_CONV2D_DW]) {
        fprintf(o, "static void im2col(const %s *x, %s *col, int64_t b0, int64_t g, %s) {\n", R, R, geo);
        fprintf(o, "    int64_t cols = g * P * Q;\n");
        fprintf(o, "    %s_PARALLEL_FOR\n", e->NAME);
        /* per output row, the window's valid columns [q0, q1) are computed once, so the inner loop is a
         * plain strided copy */
        fprintf(o,
                "    for (int64_t row = 0; row < C * R * S; row++) {\n"
                "        int64_t c = row / (R * S), r = row / S %% R, s = row %% S;\n"
                "        int64_t q0 = pw - s > 0 ? (pw - s + sw - 1) / sw : 0;\n"
                "        int64_t q1 = (W - 1 + pw - s) / sw + 1;\n"
                "        if (W - 1 + pw - s < 0)\n            q1 = 0;\n"
                "        if (q1 > Q)\n            q1 = Q;\n"
                "        if (q0 > q1)\n            q0 = q1;\n"
                "        for (int64_t i = 0; i < g; i++) {\n"
                "            const %s *img = x + ((b0 + i) * C + c) * H * W;\n"
                "            %s *out = col + row * cols + i * P * Q;\n"
                "            for (int64_t p = 0; p < P; p++) {\n"
                "                int64_t h = p * sh - ph + r;\n"
                "                %s *o = out + p * Q;\n"
                "                if (h < 0 || h >= H) {\n"
                "                    memset(o, 0, sizeof(*o) * (size_t)Q);\n"
                "                    continue;\n"
                "                }\n"
                "                const %s *src = img + h * W - pw + s;\n"
                "                for (int64_t q = 0; q < q0; q++)\n                    o[q] = 0;\n"
                "                if (sw == 1)\n"
                "                    for (int64_t q = q0; q < q1; q++)\n                        o[q] = src[q];\n"
                "                else\n"
                "                    for (int64_t q = q0; q < q1; q++)\n                        o[q] = src[q * sw];\n"
                "                for (int64_t q = q1; q < Q; q++)\n                    o[q] = 0;\n"
                "            }\n"
                "        }\n"
                "    }\n}\n",
                R, R, R, R);
    }
    if (used[OP_CONV2D] || used[OP_CONV2D_DX] || used[OP_CONV2D_DW]) {
        fprintf(
            o, "\n/* Between a chunk of g images' [g, K, PQ] (y or dy as they lie) and the [K, g * PQ] of the chunk's\n"
               " * one matrix product: into the images' layout when to_images, else out of it. */\n");
        fprintf(o,
                "static void chunk_move(const %s *from, %s *to, int64_t K, int64_t g, int64_t PQ, int to_images) {\n",
                R, R);
        fprintf(o, "    %s_PARALLEL_FOR\n", e->NAME);
        fprintf(o,
                "    for (int64_t k = 0; k < K; k++)\n"
                "        for (int64_t i = 0; i < g; i++) {\n"
                "            int64_t img = (i * K + k) * PQ, buf = (k * g + i) * PQ;\n"
                "            memcpy(to + (to_images ? img : buf), from + (to_images ? buf : img), sizeof(%s) * "
                "(size_t)PQ);\n"
                "        }\n}\n",
                R);
    }
    if (used[OP_CONV2D]) {
        fprintf(o, "\n/* y [n, K, P, Q] = x [n, C, H, W] cross-correlated with w [K, C, R, S]. */\n");
        fprintf(o,
                "static void conv2d_fwd(const %s *x, const %s *w, %s *y, %s *col, int64_t n, int64_t K, "
                "int64_t G, %s) {\n",
                R, R, R, R, geo);
        fprintf(o,
                "    %s *buf = col + C * R * S * G * P * Q;\n"
                "    for (int64_t b0 = 0; b0 < n; b0 += G) {\n"
                "        int64_t g = n - b0 < G ? n - b0 : G;\n",
                R);
        if (hook)
            fprintf(o,
                    "        if (!conv_hook || !conv_hook(0, %s, w, x + b0 * C * H * W, g > 1 ? buf : y + b0 * K * P * "
                    "Q, 0)) {\n",
                    hook_geo);
        fprintf(o,
                "%s        im2col(x, col, b0, g, C, H, W, R, S, P, Q, sh, sw, ph, pw);\n"
                "%s        gemm(0, 0, (int)K, (int)(g * P * Q), (int)(C * R * S), w, (int)(C * R * S), col, "
                "(int)(g * P * Q), g > 1 ? buf : y + b0 * K * P * Q, (int)(g * P * Q), 0);\n",
                hook ? "    " : "", hook ? "    " : "");
        if (hook)
            fprintf(o, "        }\n");
        fprintf(o, "        if (g > 1)\n"
                   "            chunk_move(buf, y + b0 * K * P * Q, K, g, P * Q, 1);\n"
                   "    }\n}\n");
    }
    if (used[OP_CONV2D_DX]) {
        fprintf(o, "\n/* dx = the transposed convolution of dy with w: columns W^T dy, added back into images. */\n");
        fprintf(o, "static void col2im(const %s *col, %s *dx, int64_t b0, int64_t g, %s) {\n", R, R, geo);
        fprintf(o, "    int64_t cols = g * P * Q;\n");
        fprintf(o, "    %s_PARALLEL_FOR\n", e->NAME);
        fprintf(o,
                "    for (int64_t ic = 0; ic < g * C; ic++) {\n"
                "        int64_t i = ic / C, c = ic %% C;\n"
                "        %s *img = dx + ((b0 + i) * C + c) * H * W;\n"
                "        memset(img, 0, sizeof(%s) * (size_t)(H * W));\n"
                "        for (int64_t r = 0; r < R; r++)\n"
                "            for (int64_t s = 0; s < S; s++) {\n"
                "                const %s *src = col + ((c * R + r) * S + s) * cols + i * P * Q;\n"
                "                int64_t q0 = pw - s > 0 ? (pw - s + sw - 1) / sw : 0;\n"
                "                int64_t q1 = W - 1 + pw - s < 0 ? 0 : (W - 1 + pw - s) / sw + 1;\n"
                "                if (q1 > Q)\n                    q1 = Q;\n"
                "                for (int64_t p = 0; p < P; p++) {\n"
                "                    int64_t h = p * sh - ph + r;\n"
                "                    if (h < 0 || h >= H)\n                        continue;\n"
                "                    %s *dst = img + h * W - pw + s;\n"
                "                    const %s *sp = src + p * Q;\n"
                "                    for (int64_t q = q0; q < q1; q++)\n"
                "                        dst[q * sw] += sp[q];\n"
                "                }\n"
                "            }\n"
                "    }\n}\n",
                R, R, R, R, R);
        fprintf(o,
                "static void conv2d_dx(%s *dx, const %s *w, const %s *dy, %s *col, int64_t n, int64_t K, "
                "int64_t G, %s) {\n",
                R, R, R, R, geo);
        fprintf(o,
                "    %s *buf = col + C * R * S * G * P * Q;\n"
                "    for (int64_t b0 = 0; b0 < n; b0 += G) {\n"
                "        int64_t g = n - b0 < G ? n - b0 : G;\n",
                R);
        /* the implicit product's [C, g * H * W] takes the columns' place (stride 1: H * W <= R * S * P * Q) */
        if (hook)
            fprintf(o,
                    "        if (conv_hook && H * W <= R * S * P * Q &&\n"
                    "            conv_hook(1, %s, w, dy + b0 * K * P * Q, g > 1 ? col : dx + b0 * C * H * W, 0)) {\n"
                    "            if (g > 1)\n"
                    "                chunk_move(col, dx + b0 * C * H * W, C, g, H * W, 1);\n"
                    "            continue;\n"
                    "        }\n",
                    hook_geo);
        fprintf(o, "        if (g > 1)\n"
                   "            chunk_move(dy + b0 * K * P * Q, buf, K, g, P * Q, 0);\n"
                   "        gemm(1, 0, (int)(C * R * S), (int)(g * P * Q), (int)K, w, (int)(C * R * S), "
                   "g > 1 ? buf : dy + b0 * K * P * Q, (int)(g * P * Q), col, (int)(g * P * Q), 0);\n"
                   "        col2im(col, dx, b0, g, C, H, W, R, S, P, Q, sh, sw, ph, pw);\n"
                   "    }\n}\n");
    }
    if (used[OP_CONV2D_DW]) {
        fprintf(o, "\n/* dw = dy times the columns of x, summed over the batch. */\n");
        fprintf(o,
                "static void conv2d_dw(const %s *x, %s *dw, const %s *dy, %s *col, int64_t n, int64_t K, "
                "int64_t G, %s) {\n",
                R, R, R, R, geo);
        fprintf(o,
                "    %s *buf = col + C * R * S * G * P * Q;\n"
                "    for (int64_t b0 = 0; b0 < n; b0 += G) {\n"
                "        int64_t g = n - b0 < G ? n - b0 : G;\n",
                R);
        if (hook)
            fprintf(o,
                    "        if (conv_hook && conv_hook(2, %s, dy + b0 * K * P * Q, x + b0 * C * H * W, dw, b0 > 0))\n"
                    "            continue;\n",
                    hook_geo);
        fprintf(o, "        im2col(x, col, b0, g, C, H, W, R, S, P, Q, sh, sw, ph, pw);\n"
                   "        if (g > 1)\n"
                   "            chunk_move(dy + b0 * K * P * Q, buf, K, g, P * Q, 0);\n"
                   "        gemm(0, 1, (int)K, (int)(C * R * S), (int)(g * P * Q), g > 1 ? buf : dy + b0 * K * P * Q, "
                   "(int)(g * P * Q), col, (int)(g * P * Q), dw, (int)(C * R * S), b0 > 0);\n"
                   "    }\n}\n");
    }
}

/* ---- the direct kernels ---- */

static void emit_pad(FILE *o, const ConvGeo *g, const char *img, const char *dst, const char *R, int depth) {
    int64_t rows = g->H < g->HP - g->ph ? g->H : g->HP - g->ph;
    int64_t cols = g->W < block_width(g) - g->pw ? g->W : block_width(g) - g->pw;
    fprintf(o, "%*smemset(%s, 0, sizeof(%s));\n", depth, "", dst, dst);
    fprintf(o, "%*sfor (int c = 0; c < %" PRId64 "; c++)\n", depth, "", g->C);
    fprintf(o, "%*s    for (int h = 0; h < %" PRId64 "; h++)\n", depth, "", rows);
    fprintf(o,
            "%*s        memcpy(&%s[c][h + %" PRId64 "][%" PRId64 "], x + (%s * %" PRId64 " + c) * %" PRId64
            " + h * %" PRId64 ", %" PRId64 " * sizeof(%s));\n",
            depth, "", dst, g->ph, g->pw, img, g->C, g->H * g->W, g->W, cols, R);
}

/* A column index into a block row: q * sw + shift, as short as the stride allows (q: "q" or "q0 + q"). */
static char *col_index(Ctx *ctx, const ConvGeo *g, const char *q, int64_t shift) {
    char *scaled = g->sw == 1       ? xsprintf(ctx, "%s", q)
                   : strchr(q, ' ') ? xsprintf(ctx, "(%s) * %" PRId64, q, g->sw)
                                    : xsprintf(ctx, "%s * %" PRId64, q, g->sw);
    return shift ? xsprintf(ctx, "%s + %" PRId64, scaled, shift) : scaled;
}

/* The block row an output row p reads with kernel row r. */
static char *row_index(Ctx *ctx, const ConvGeo *g) {
    return g->sh == 1 ? xsprintf(ctx, "p + r") : xsprintf(ctx, "p * %" PRId64 " + r", g->sh);
}

/* Whether some output row's window reaches into the block's padding rows, which hold only zeros. */
static bool pads_rows(const ConvGeo *g) { return g->ph > 0 || (g->P - 1) * g->sh + g->R > g->H + g->ph; }

/* At the top of an output row p's loop: the kernel rows [r0, r1) that meet the image rather than zero padding
 * (adding their products changes nothing), so border rows skip them. */
static void emit_row_bounds(Ctx *ctx, FILE *o, const ConvGeo *g, int d) {
    if (!pads_rows(g))
        return;
    char *top = g->sh == 1 ? xsprintf(ctx, "p") : xsprintf(ctx, "p * %" PRId64, g->sh);
    fprintf(o, "%*sconst int r0 = %s < %" PRId64 " ? %" PRId64 " - %s : 0;\n", d, "", top, g->ph, g->ph, top);
    fprintf(o, "%*sconst int r1 = %" PRId64 " - %s < %" PRId64 " ? %" PRId64 " - %s : %" PRId64 ";\n", d, "",
            g->H + g->ph, top, g->R, g->H + g->ph, top, g->R);
}

/* The loop over kernel rows, all of them or [r0, r1). */
static char *row_loop(Ctx *ctx, const ConvGeo *g) {
    return pads_rows(g) ? xsprintf(ctx, "for (int r = r0; r < r1; r++)")
                        : xsprintf(ctx, "for (int r = 0; r < %" PRId64 "; r++)", g->R);
}

/* The output channel of sums aj of a tile whose first channel is `k` (a C expression). */
static char *tile_channel(Ctx *ctx, const char *k, int64_t j) {
    return j ? xsprintf(ctx, "%s + %" PRId64, k, j) : xstrdup(ctx, k);
}

/* A forward kernel's epilogue (NULL: none) on a tile's sums in place: sums a0 .. a<count - 1>[lanes], the output
 * channel of aj[l] being chan(j, l); whole vectors, so that the activation vectorises. */
static void emit_tile_epilogue(Emit *e, const Epilogue *ep, int64_t count, int lanes, bool channel_in_lanes,
                               const char *k, int d) {
    if (!ep)
        return;
    fprintf(e->o, "%*sfor (int l = 0; l < %d; l++) {\n", d, "", lanes);
    for (int64_t j = 0; j < count; j++) {
        char *acc = xsprintf(e->ctx, "a%" PRId64 "[l]", j);
        char *chan = channel_in_lanes ? xsprintf(e->ctx, "%s + l", k) : tile_channel(e->ctx, k, j);
        fprintf(e->o, "%*s    %s = %s;\n", d, "", acc, emit_epilogue_tile_expr(e, ep, acc, chan));
    }
    fprintf(e->o, "%*s}\n", d, "");
}

/* After output row p (odd) of channels k .. k + kb: the pooling of rows p - 1 and p, kept in act[j][row & 1][q]
 * (lanes: act[row & 1][q][j]), into y; first, for a flat epilogue, its root over the whole block: LeNet's first
 * sigmoid then runs on 21 full vectors per two rows instead of 24 (the 28 columns' tiles of 16 and 12), and with
 * its constants in registers of its own (LeNet at batch 1: 4% less time, measured; docs/compiler.md). */
static void emit_pool_rows(Emit *e, const ConvGeo *g, const Epilogue *ep, int64_t kb, bool lanes, int d) {
    FILE *o = e->o;
    int64_t P2 = g->P / 2, Q2 = g->Q / 2;
    if (ep->flat) {
        fprintf(o, "%*sif (p & 1) {\n", d, "");
        fprintf(o, "%*s    %s *av = (%s *)(void *)act;\n", d, "", e->real, e->real);
        fprintf(o, "%*s    for (int l = 0; l < %" PRId64 "; l++)\n", d, "", (lanes ? TILE : kb) * 2 * g->Q);
        fprintf(o, "%*s        av[l] = %s;\n%*s}\n", d, "", emit_epilogue_root(e, ep, "av[l]"), d, "");
    }
    fprintf(o, "%*sif (p & 1)\n", d, "");
    fprintf(o, "%*s    for (int j = 0; j < %" PRId64 "; j++) {\n", d, "", kb);
    fprintf(o, "%*s        %s *out = y + ((b * %" PRId64 " + k + j) * %" PRId64 " + p / 2) * %" PRId64 ";\n", d, "",
            e->real, g->K, P2, Q2);
    fprintf(o, "%*s        for (int q = 0; q < %" PRId64 "; q++) {\n", d, "", Q2);
    char *at[4];
    for (int i = 0; i < 4; i++)
        at[i] = lanes ? xsprintf(e->ctx, "act[%d][2 * q%s][j]", i / 2, i % 2 ? " + 1" : "")
                      : xsprintf(e->ctx, "act[j][%d][2 * q%s]", i / 2, i % 2 ? " + 1" : "");
    pool_emit_window(e, ep->pool, at, "out[q]", xsprintf(e->ctx, "%*s", d + 12, ""));
    fprintf(o, "%*s        }\n%*s    }\n", d, "", d, "");
}

/* One forward tile: `width` columns from q0 of output row p, channels k .. k + kb; with an epilogue (ep), its
 * sums go through it, and with pooling to act instead of y. */
static void emit_fwd_tile(Emit *e, const ConvGeo *g, const Epilogue *ep, int64_t kb, int64_t width, int d) {
    Ctx *ctx = e->ctx;
    FILE *o = e->o;
    const char *R = e->real;
    fprintf(o, "%*s%s", d, "", R);
    for (int64_t j = 0; j < kb; j++)
        fprintf(o, "%s a%" PRId64 "[%d] = {0}", j ? "," : "", j, TILE);
    fprintf(o, ";\n");
    fprintf(o, "%*sfor (int c = 0; c < %" PRId64 "; c++)\n", d, "", g->C);
    fprintf(o, "%*s    %s\n", d, "", row_loop(ctx, g));
    fprintf(o, "%*s        for (int s = 0; s < %" PRId64 "; s++) {\n", d, "", g->S);
    int i = d + 8;
    fprintf(o, "%*s    const %s *src = &xp[c][%s][%s + s];\n", i, "", R, row_index(ctx, g), col_index(ctx, g, "q0", 0));
    fprintf(o, "%*s    const %s *wk = w + ((k * %" PRId64 " + c) * %" PRId64 " + r) * %" PRId64 " + s;\n", i, "", R,
            g->C, g->R, g->S);
    fprintf(o, "%*s    %s", i, "", R);
    for (int64_t j = 0; j < kb; j++)
        fprintf(o, "%s w%" PRId64 " = wk[%" PRId64 "]", j ? "," : "", j, j * g->C * g->R * g->S);
    fprintf(o, ";\n");
    fprintf(o, "%*s    for (int q = 0; q < %d; q++) {\n", i, "", TILE);
    fprintf(o, "%*s        %s v = src[%s];\n", i, "", R, col_index(ctx, g, "q", 0));
    for (int64_t j = 0; j < kb; j++)
        fprintf(o, "%*s        a%" PRId64 "[q] += w%" PRId64 " * v;\n", i, "", j, j);
    fprintf(o, "%*s    }\n%*s}\n", i, "", i, "");
    emit_tile_epilogue(e, ep, kb, TILE, false, "k", d);
    if (ep && ep->pool) {
        fprintf(o, "%*sfor (int q = 0; q < %" PRId64 "; q++) {\n", d, "", width);
        for (int64_t j = 0; j < kb; j++)
            fprintf(o, "%*s    act[%" PRId64 "][p & 1][q0 + q] = a%" PRId64 "[q];\n", d, "", j, j);
        fprintf(o, "%*s}\n", d, "");
        return;
    }
    fprintf(o, "%*s%s *out = y + ((b * %" PRId64 " + k) * %" PRId64 " + p) * %" PRId64 " + q0;\n", d, "", R, g->K, g->P,
            g->Q);
    fprintf(o, "%*sfor (int q = 0; q < %" PRId64 "; q++) {\n", d, "", width);
    for (int64_t j = 0; j < kb; j++)
        fprintf(o, "%*s    out[%" PRId64 " + q] = a%" PRId64 "[q];\n", d, "", j * g->P * g->Q, j);
    fprintf(o, "%*s}\n", d, "");
}

/* Output rows of channels k .. k + kb, for every k the loop header (already printed) gives. */
static void emit_fwd_rows(Emit *e, const ConvGeo *g, const Epilogue *ep, int64_t kb, int d) {
    Ctx *ctx = e->ctx;
    FILE *o = e->o;
    int64_t full = g->Q / TILE * TILE, rest = g->Q - full;
    if (ep && ep->pool)
        fprintf(o, "%*s%s act[%" PRId64 "][2][%" PRId64 "];\n", d, "", e->real, kb, g->Q);
    fprintf(o, "%*sfor (int p = 0; p < %" PRId64 "; p++) {\n", d, "", g->P);
    emit_row_bounds(ctx, o, g, d + 4);
    if (full == TILE) {
        fprintf(o, "%*s    {\n%*s        const int q0 = 0;\n", d, "", d, "");
        emit_fwd_tile(e, g, ep, kb, TILE, d + 8);
        fprintf(o, "%*s    }\n", d, "");
    } else if (full) {
        fprintf(o, "%*s    for (int q0 = 0; q0 < %" PRId64 "; q0 += %d) {\n", d, "", full, TILE);
        emit_fwd_tile(e, g, ep, kb, TILE, d + 8);
        fprintf(o, "%*s    }\n", d, "");
    }
    if (rest) {
        fprintf(o, "%*s    {\n%*s        const int q0 = %" PRId64 ";\n", d, "", d, "", full);
        emit_fwd_tile(e, g, ep, kb, rest, d + 8);
        fprintf(o, "%*s    }\n", d, "");
    }
    if (ep && ep->pool)
        emit_pool_rows(e, g, ep, kb, false, d + 4);
    fprintf(o, "%*s}\n", d, "");
}

/* Narrow outputs (Q <= QMAX) of many channels (K a multiple of TILE): the lanes run over TILE output channels and
 * each output column of a row has its own partial sums, so no lane is wasted on columns past the row's end. The
 * kernel is laid out [c][r][s][k] first, so a tile's weights are one load. */
static bool lanes_over_k(const ConvGeo *g) {
    return g->K % TILE == 0 && g->Q <= QMAX && g->K * g->C * g->R * g->S <= FLIP_ELEMS;
}

static void emit_fwd_lanes_k(Emit *e, const ConvGeo *g, const Epilogue *ep) {
    Ctx *ctx = e->ctx;
    FILE *o = e->o;
    const char *R = e->real;
    if (ep && ep->pool)
        fprintf(o, "    %s act[2][%" PRId64 "][%d];\n", R, g->Q, TILE);
    fprintf(o, "    for (int64_t k = 0; k < %" PRId64 "; k += %d)\n", g->K, TILE);
    fprintf(o, "        for (int p = 0; p < %" PRId64 "; p++) {\n", g->P);
    emit_row_bounds(ctx, o, g, 12);
    fprintf(o, "            %s", R);
    for (int64_t q = 0; q < g->Q; q++)
        fprintf(o, "%s a%" PRId64 "[%d] = {0}", q ? "," : "", q, TILE);
    fprintf(o, ";\n");
    fprintf(o, "            for (int c = 0; c < %" PRId64 "; c++)\n", g->C);
    fprintf(o, "                %s\n", row_loop(ctx, g));
    fprintf(o, "                    for (int s = 0; s < %" PRId64 "; s++) {\n", g->S);
    fprintf(o, "                        const %s *src = &xp[c][%s][s];\n", R, row_index(ctx, g));
    fprintf(o,
            "                        const %s *wk = wk_all + ((c * %" PRId64 " + r) * %" PRId64 " + s) * %" PRId64
            " + k;\n",
            R, g->R, g->S, g->K);
    fprintf(o, "                        %s", R);
    for (int64_t q = 0; q < g->Q; q++)
        fprintf(o, "%s x%" PRId64 " = src[%" PRId64 "]", q ? "," : "", q, q * g->sw);
    fprintf(o, ";\n");
    fprintf(o, "                        for (int j = 0; j < %d; j++) {\n", TILE);
    fprintf(o, "                            %s v = wk[j];\n", R);
    for (int64_t q = 0; q < g->Q; q++)
        fprintf(o, "                            a%" PRId64 "[j] += x%" PRId64 " * v;\n", q, q);
    fprintf(o, "                        }\n                    }\n");
    emit_tile_epilogue(e, ep, g->Q, TILE, true, "k", 12);
    if (ep && ep->pool) {
        fprintf(o, "            for (int j = 0; j < %d; j++) {\n", TILE);
        for (int64_t q = 0; q < g->Q; q++)
            fprintf(o, "                act[p & 1][%" PRId64 "][j] = a%" PRId64 "[j];\n", q, q);
        fprintf(o, "            }\n");
        emit_pool_rows(e, g, ep, TILE, true, 12);
        fprintf(o, "        }\n");
        return;
    }
    fprintf(o, "            for (int j = 0; j < %d; j++) {\n", TILE);
    fprintf(o, "                %s *out = y + ((b * %" PRId64 " + k + j) * %" PRId64 " + p) * %" PRId64 ";\n", R, g->K,
            g->P, g->Q);
    for (int64_t q = 0; q < g->Q; q++)
        fprintf(o, "                out[%" PRId64 "] = a%" PRId64 "[j];\n", q, q);
    fprintf(o, "            }\n        }\n");
}

/* The weights as a forward kernel of geometry g reads them, when not as they lie: turned by 180 degrees into wt
 * for dx (`turned`), then laid out [c][r][s][k] into wk_all for lanes over k. As `fname`_weights, always inlined
 * into the kernel's own function before its loop over images. */
static void emit_fwd_weights(Emit *e, const ConvGeo *g, bool turned, const char *fname) {
    FILE *o = e->o;
    const char *R = e->real;
    bool lanes = lanes_over_k(g);
    fprintf(o, "%svoid %s_weights(const %s *restrict %s%s%s%s%s) {\n", emit_isa_inline(e), fname, R,
            turned ? "kernel" : "w", turned ? xsprintf(e->ctx, ", %s *restrict wt", R) : "", lanes ? ", " : "",
            lanes ? R : "", lanes ? " *restrict wk_all" : "");
    if (turned) {
        fprintf(o, "    /* wt[c][k][r][s] = kernel[k][c][R - 1 - r][S - 1 - s] */\n");
        fprintf(o, "    for (int k = 0; k < %" PRId64 "; k++)\n", g->C);
        fprintf(o, "        for (int c = 0; c < %" PRId64 "; c++)\n", g->K);
        fprintf(o, "            for (int rs = 0; rs < %" PRId64 "; rs++)\n", g->R * g->S);
        fprintf(o,
                "                wt[(c * %" PRId64 " + k) * %" PRId64 " + rs] = kernel[(k * %" PRId64 " + c) * %" PRId64
                " + %" PRId64 " - rs];\n",
                g->C, g->R * g->S, g->K, g->R * g->S, g->R * g->S - 1);
        if (lanes)
            fprintf(o, "    const %s *w = wt;\n", R);
    }
    if (lanes) {
        /* the store runs along k, the load strides: the C compiler gathers a vector of k per (c, r, s), 3 times
         * faster than scalar stores strided by K (LeNet's 16 x 150, measured on AVX-512) */
        fprintf(o, "    /* wk_all[c][r][s][k] = w[k][c][r][s] */\n");
        fprintf(o, "    for (int crs = 0; crs < %" PRId64 "; crs++)\n", g->C * g->R * g->S);
        fprintf(o, "        for (int k = 0; k < %" PRId64 "; k++)\n", g->K);
        fprintf(o, "            wk_all[crs * %" PRId64 " + k] = w[k * %" PRId64 " + crs];\n", g->K, g->C * g->R * g->S);
    }
    fprintf(o, "}\n");
}

/* y = x (*) w over the geometry g for image b, as `fname`_image: the body of a forward or dx kernel's own
 * function, whose loop over images calls it. The weights are w, or wk_all for lanes over k. */
static void emit_fwd_image(Emit *e, const ConvGeo *g0, const Epilogue *ep, const char *fname) {
    FILE *o = e->o;
    const char *R = e->real;
    const ConvGeo g = *g0;
    fprintf(o, "%svoid %s_image(const %s *restrict x, const %s *restrict %s%s, %s *restrict y, int64_t b) {\n",
            emit_isa_inline(e), fname, R, R, lanes_over_k(&g) ? "wk_all" : "w", ep ? emit_epilogue_params(e, ep) : "",
            R);
    if (lanes_over_k(&g) && g.ph == 0 && g.pw == 0) {
        /* without padding the channels-in-lanes loops read only inside the image: x as it lies, no copy */
        fprintf(o,
                "    const %s (*xp)[%" PRId64 "][%" PRId64 "] = (const %s (*)[%" PRId64 "][%" PRId64
                "])(x + b * %" PRId64 ");\n",
                R, g.H, g.W, R, g.H, g.W, g.C * g.H * g.W);
    } else {
        fprintf(o, "    %s xp[%" PRId64 "][%" PRId64 "][%" PRId64 "];\n", R, g.C, g.HP, block_width(&g));
        emit_pad(o, &g, "b", "xp", R, 4);
    }
    int64_t blocks = g.K / KBLOCK * KBLOCK, rest = g.K - blocks;
    if (lanes_over_k(&g)) {
        emit_fwd_lanes_k(e, &g, ep);
        blocks = rest = 0;
    }
    if (blocks == KBLOCK) {
        fprintf(o, "    {\n        const int64_t k = 0;\n");
        emit_fwd_rows(e, &g, ep, KBLOCK, 8);
        fprintf(o, "    }\n");
    } else if (blocks) {
        /* braces for the pooled rows' act[], declared before the loop over rows */
        bool braces = ep && ep->pool;
        fprintf(o, "    for (int64_t k = 0; k < %" PRId64 "; k += %d)%s\n", blocks, KBLOCK, braces ? " {" : "");
        emit_fwd_rows(e, &g, ep, KBLOCK, 8);
        if (braces)
            fprintf(o, "    }\n");
    }
    if (rest) {
        fprintf(o, "    {\n        const int64_t k = %" PRId64 ";\n", blocks);
        emit_fwd_rows(e, &g, ep, rest, 8);
        fprintf(o, "    }\n");
    }
    fprintf(o, "}\n");
}

/* A forward kernel's own function, or dx's (turned: y is dx, x is dy, and w is the kernel turned into wt first):
 * its body per image, then the loop over images, parallel, per instruction set. */
static void emit_fwd(Emit *e, const ConvGeo *g0, bool turned, const Epilogue *ep, const char *fname,
                     const char *params) {
    ConvGeo g = turned ? dx_as_conv(g0) : *g0;
    const char *R = e->real, *x = turned ? "dy" : "x", *y = turned ? "dx" : "y", *w = turned ? "kernel" : "w";
    bool lanes = lanes_over_k(&g);
    int64_t kcrs = g.K * g.C * g.R * g.S;
    const char *setup = "";
    if (turned || lanes) {
        emit_fwd_weights(e, &g, turned, fname);
        setup = xsprintf(e->ctx, "%s%s    %s_weights(%s%s%s);\n",
                         turned ? xsprintf(e->ctx, "    %s wt[%" PRId64 "];\n", R, kcrs) : "",
                         lanes ? xsprintf(e->ctx, "    %s wk_all[%" PRId64 "];\n", R, kcrs) : "", fname, w,
                         turned ? ", wt" : "", lanes ? ", wk_all" : "");
    }
    emit_fwd_image(e, &g, ep, fname);
    const char *bias = "";
    for (int i = 0; ep && i < ep->nbias; i++)
        bias = xsprintf(e->ctx, "%s, b%d", bias, i);
    IsaLoop l = {.params = params,
                 .args = xsprintf(e->ctx, "%s, %s%s, %s", x, w, bias, y),
                 .setup = setup,
                 .count = "n",
                 .step = xsprintf(e->ctx, "%s_image(%s, %s%s, %s, i)", fname, x,
                                  lanes    ? "wk_all"
                                  : turned ? "wt"
                                           : "w",
                                  bias, y),
                 .finish = "",
                 .parallel = true};
    emit_isa_kernel(e, fname, &l);
}

/* The end of a dw kernel, `fname`_sum: the chunks' sums added in order into dw. */
static void emit_dw_sum(Emit *e, const ConvGeo *g, const char *fname) {
    FILE *o = e->o;
    int64_t kcrs = g->K * g->C * g->R * g->S;
    fprintf(o, "%svoid %s_sum(const %s *restrict part, %s *restrict dw, int64_t chunks) {\n", emit_isa_inline(e), fname,
            e->real, e->real);
    fprintf(o, "    for (int64_t j = 0; j < %" PRId64 "; j++) {\n", kcrs);
    fprintf(o, "        double acc = 0;\n");
    fprintf(o, "        for (int64_t chunk = 0; chunk < chunks; chunk++)\n");
    fprintf(o, "            acc += part[chunk * %" PRId64 " + j];\n", kcrs);
    fprintf(o, "        dw[j] = (%s)acc;\n    }\n}\n", e->real);
}

/* dw with the vector lanes over TILE output channels (narrow rows, as lanes_over_k): dy is copied channel-last,
 * so dy[i][p][q][k .. k + TILE] is one load, and for one (c, r) the S partial sums accumulate it times x's S
 * shifted values at (p, q). */
static void emit_dw_lanes_k(Ctx *ctx, FILE *o, const ConvGeo *g, const char *R) {
    int64_t images = conv_direct_images(g), kcrs = g->K * g->C * g->R * g->S, pq = g->P * g->Q;
    fprintf(o, "    %s gt[%" PRId64 "][%" PRId64 "][%" PRId64 "];\n", R, images, pq, g->K);
    fprintf(o, "    for (int64_t i = 0; i < count; i++) {\n");
    emit_pad(o, g, "(b0 + i)", "xp[i]", R, 8);
    fprintf(o, "        for (int k = 0; k < %" PRId64 "; k++)\n", g->K);
    fprintf(o, "            for (int pq = 0; pq < %" PRId64 "; pq++)\n", pq);
    fprintf(o, "                gt[i][pq][k] = dy[((b0 + i) * %" PRId64 " + k) * %" PRId64 " + pq];\n", g->K, pq);
    fprintf(o, "    }\n");
    fprintf(o, "    for (int k = 0; k < %" PRId64 "; k += %d)\n", g->K, TILE);
    fprintf(o, "        for (int c = 0; c < %" PRId64 "; c++)\n", g->C);
    fprintf(o, "            for (int r = 0; r < %" PRId64 "; r++) {\n", g->R);
    fprintf(o, "                %s", R);
    for (int64_t s = 0; s < g->S; s++)
        fprintf(o, "%s a%" PRId64 "[%d] = {0}", s ? "," : "", s, TILE);
    fprintf(o, ";\n");
    fprintf(o, "                for (int64_t i = 0; i < count; i++)\n");
    fprintf(o, "                    for (int p = 0; p < %" PRId64 "; p++) {\n", g->P);
    fprintf(o, "                        const %s *src = xp[i][c][%s];\n", R, row_index(ctx, g));
    fprintf(o, "                        for (int q = 0; q < %" PRId64 "; q++) {\n", g->Q);
    fprintf(o, "                            const %s *v = &gt[i][p * %" PRId64 " + q][k];\n", R, g->Q);
    fprintf(o, "                            %s", R);
    for (int64_t s = 0; s < g->S; s++)
        fprintf(o, "%s x%" PRId64 " = src[%s]", s ? "," : "", s, col_index(ctx, g, "q", s));
    fprintf(o, ";\n");
    fprintf(o, "                            for (int j = 0; j < %d; j++) {\n", TILE);
    for (int64_t s = 0; s < g->S; s++)
        fprintf(o, "                                a%" PRId64 "[j] += x%" PRId64 " * v[j];\n", s, s);
    fprintf(o, "                            }\n                        }\n                    }\n");
    fprintf(o, "                for (int j = 0; j < %d; j++) {\n", TILE);
    fprintf(o,
            "                    %s *sum = part + chunk * %" PRId64 " + (((k + j) * %" PRId64 " + c) * %" PRId64
            " + r) * %" PRId64 ";\n",
            R, kcrs, g->C, g->R, g->S);
    for (int64_t s = 0; s < g->S; s++)
        fprintf(o, "                    sum[%" PRId64 "] = a%" PRId64 "[j];\n", s, s);
    fprintf(o, "                }\n            }\n");
}

/* dw's sums over one chunk of images, `fname`_chunk: the body of its own function's loop over chunks. */
static void emit_dw_chunk(Emit *e, const IrNode *n, const char *fname) {
    Ctx *ctx = e->ctx;
    FILE *o = e->o;
    const char *R = e->real;
    ConvGeo g = conv_geo(n);
    int64_t images = conv_direct_images(&g), kcrs = g.K * g.C * g.R * g.S, qt = tiled_q(&g);
    fprintf(o,
            "%svoid %s_chunk(const %s *restrict x, const %s *restrict dy, %s *restrict part, int64_t n, "
            "int64_t chunk) {\n",
            emit_isa_inline(e), fname, R, R, R);
    fprintf(o, "    int64_t b0 = chunk * %" PRId64 ", count = n - b0 < %" PRId64 " ? n - b0 : %" PRId64 ";\n", images,
            images, images);
    fprintf(o, "    %s xp[%" PRId64 "][%" PRId64 "][%" PRId64 "][%" PRId64 "];\n", R, images, g.C, g.HP,
            block_width(&g));
    if (lanes_over_k(&g)) {
        emit_dw_lanes_k(ctx, o, &g, R);
        fprintf(o, "}\n");
        return;
    }
    fprintf(o, "    %s gp[%" PRId64 "][%" PRId64 "][%" PRId64 "][%" PRId64 "];\n", R, images, g.K, g.P, qt);
    fprintf(o, "    for (int64_t i = 0; i < count; i++) {\n");
    emit_pad(o, &g, "(b0 + i)", "xp[i]", R, 8);
    if (qt != g.Q)
        fprintf(o, "        memset(gp[i], 0, sizeof(gp[i]));\n");
    fprintf(o, "        for (int k = 0; k < %" PRId64 "; k++)\n", g.K);
    fprintf(o, "            for (int p = 0; p < %" PRId64 "; p++)\n", g.P);
    fprintf(o,
            "                memcpy(gp[i][k][p], dy + (((b0 + i) * %" PRId64 " + k) * %" PRId64 " + p) * %" PRId64
            ", %" PRId64 " * sizeof(%s));\n",
            g.K, g.P, g.Q, g.Q, R);
    fprintf(o, "    }\n");
    /* kb output channels at once (kb * S partial sums in registers): each row of x loaded serves kb of them */
    int64_t kb = g.K % 3 == 0 && 3 * g.S <= 16 ? 3 : g.K % 2 == 0 && 2 * g.S <= 16 ? 2 : 1;
    fprintf(o, "    for (int k = 0; k < %" PRId64 "; k += %" PRId64 ")\n", g.K, kb);
    fprintf(o, "        for (int c = 0; c < %" PRId64 "; c++)\n", g.C);
    fprintf(o, "            for (int r = 0; r < %" PRId64 "; r++) {\n", g.R);
    for (int64_t j = 0; j < kb; j++) {
        fprintf(o, "                %s", R);
        for (int64_t s = 0; s < g.S; s++)
            fprintf(o, "%s a%" PRId64 "_%" PRId64 "[%d] = {0}", s ? "," : "", j, s, TILE);
        fprintf(o, ";\n");
    }
    fprintf(o, "                for (int64_t i = 0; i < count; i++)\n");
    fprintf(o, "                    for (int p = 0; p < %" PRId64 "; p++)\n", g.P);
    fprintf(o, "                        for (int q0 = 0; q0 < %" PRId64 "; q0 += %d) {\n", qt, TILE);
    fprintf(o, "                            const %s *gq = &gp[i][k][p][q0], *src = &xp[i][c][%s][%s];\n", R,
            row_index(ctx, &g), col_index(ctx, &g, "q0", 0));
    fprintf(o, "                            for (int q = 0; q < %d; q++) {\n", TILE);
    for (int64_t j = 0; j < kb; j++)
        fprintf(o, "                                %s g%" PRId64 " = gq[%" PRId64 " + q];\n", R, j, j * g.P * qt);
    for (int64_t s = 0; s < g.S; s++) {
        fprintf(o, "                                %s v%" PRId64 " = src[%s];\n", R, s, col_index(ctx, &g, "q", s));
        for (int64_t j = 0; j < kb; j++)
            fprintf(o, "                                a%" PRId64 "_%" PRId64 "[q] += g%" PRId64 " * v%" PRId64 ";\n",
                    j, s, j, s);
    }
    fprintf(o, "                            }\n                        }\n");
    for (int64_t j = 0; j < kb; j++) {
        fprintf(o,
                "                %s *sum%" PRId64 " = part + chunk * %" PRId64 " + (((k + %" PRId64 ") * %" PRId64
                " + c) * %" PRId64 " + r) * %" PRId64 ";\n",
                R, j, kcrs, j, g.C, g.R, g.S);
        for (int64_t s = 0; s < g.S; s++) {
            fprintf(o, "                sum%" PRId64 "[%" PRId64 "] = 0;\n", j, s);
            fprintf(o, "                for (int q = 0; q < %d; q++)\n", TILE);
            fprintf(o, "                    sum%" PRId64 "[%" PRId64 "] += a%" PRId64 "_%" PRId64 "[q];\n", j, s, j, s);
        }
    }
    fprintf(o, "            }\n}\n");
}

/* dw's own function: per chunk of images, sums into part, in parallel; then part's chunks added in order. */
static void emit_dw(Emit *e, const IrNode *n, const char *fname, const char *params) {
    ConvGeo g = conv_geo(n);
    int64_t images = conv_direct_images(&g);
    emit_dw_chunk(e, n, fname);
    emit_dw_sum(e, &g, fname);
    IsaLoop l = {.params = params,
                 .args = "x, dw, dy, part",
                 .setup =
                     xsprintf(e->ctx, "    int64_t chunks = (n + %" PRId64 ") / %" PRId64 ";\n", images - 1, images),
                 .count = "chunks",
                 .step = xsprintf(e->ctx, "%s_chunk(x, dy, part, n, i)", fname),
                 .finish = xsprintf(e->ctx, "    %s_sum(part, dw, chunks);\n", fname),
                 .parallel = true};
    emit_isa_kernel(e, fname, &l);
}

/* A direct forward convolution can apply its epilogue to its sums, and 2x2 pooling when its rows pair up. */
static unsigned epilogue_conv(const IrNode *n) {
    if (n->op != OP_CONV2D || !conv_direct(n))
        return 0;
    ConvGeo g = conv_geo(n);
    return EPI_ELEM | (g.P % 2 == 0 && g.Q % 2 == 0 ? EPI_POOL : 0);
}

/* The direct kernel of conv node n as static function `fname`. */
static void emit_conv_own(Emit *e, const IrNode *n, const char *fname) {
    FILE *o = e->o;
    const char *real = e->real, *model = e->name;
    ConvGeo g = conv_geo(n);
    const char *what = n->op == OP_CONV2D      ? "conv2d"
                       : n->op == OP_CONV2D_DX ? "conv2d's input gradient"
                                               : "conv2d's weight gradient";
    fprintf(o,
            "\n/* %s, %s.dlm line %d: x [n, %" PRId64 ", %" PRId64 ", %" PRId64 "], w [%" PRId64 ", %" PRId64
            ", %" PRId64 ", %" PRId64 "], y [n, %" PRId64 ", %" PRId64 ", %" PRId64 "], stride %" PRId64 "x%" PRId64
            ", padding %" PRId64 "x%" PRId64 ".\n",
            what, model, n->loc.line, g.C, g.H, g.W, g.K, g.C, g.R, g.S, g.K, g.P, g.Q, g.sh, g.sw, g.ph, g.pw);
    Epilogue ep;
    bool fused = n->op == OP_CONV2D && emit_epilogue(e, n, &ep);
    const char *then =
        !fused ? ""
               : xsprintf(e->ctx, "\n * Then line %d's %s on the sums%s.", ep.elem->loc.line, op_info[ep.elem->op].name,
                          ep.pool ? xsprintf(e->ctx, ", and line %d's %s of each two rows", ep.pool->loc.line,
                                             op_info[ep.pool->op].name)
                                  : "");
    if (n->op == OP_CONV2D && lanes_over_k(&g))
        fprintf(o, " * Per image%s: per output row, a partial sum per column over %d output channels at once.%s */\n",
                g.ph == 0 && g.pw == 0 ? "" : " (a zero-padded copy)", TILE, then);
    else if (n->op == OP_CONV2D)
        fprintf(o, " * Per image: a zero-padded copy, then tiles of %d columns of up to %d output channels.%s */\n",
                TILE, KBLOCK, then);
    else if (n->op == OP_CONV2D_DX)
        fprintf(o,
                " * dx = dy (*) w turned by 180 degrees, padded by %" PRId64 "x%" PRId64
                ": the forward kernel's loops. */\n",
                g.R - 1 - g.ph, g.S - 1 - g.pw);
    else
        fprintf(o,
                " * Per chunk of %" PRId64 " images: zero-padded copies, then for each (k, c, r) the %" PRId64
                " sums over s; chunk sums to part, added in order. */\n",
                conv_direct_images(&g), g.S);
    const char *R = real;
    const char *params =
        n->op == OP_CONV2D_DW
            ? xsprintf(e->ctx, "const %s *restrict x, %s *restrict dw, const %s *restrict dy, %s *restrict part", R, R,
                       R, R)
        : n->op == OP_CONV2D_DX
            ? xsprintf(e->ctx, "const %s *restrict dy, const %s *restrict kernel, %s *restrict dx", R, R, R)
            : xsprintf(e->ctx, "const %s *restrict x, const %s *restrict w%s, %s *restrict y", R, R,
                       fused ? emit_epilogue_params(e, &ep) : "", R);
    if (n->op == OP_CONV2D_DW)
        emit_dw(e, n, fname, params);
    else
        emit_fwd(e, &g, n->op == OP_CONV2D_DX, fused ? &ep : NULL, fname, params);
}

/* ---- export: Conv, attributes stride h w, padding h w ---- */

static const char *onnx_conv(const IrNode *n, OnnxNode *o) {
    for (int k = 4; k < MAX_ATTR; k++)
        if (n->attr[k])
            return "an attribute other than strides and padding";
    const Shape *w = &n->in[1]->shape;
    int64_t kernel[2] = {w->d[2], w->d[3]}, pads[4] = {n->attr[2], n->attr[3], n->attr[2], n->attr[3]};
    o->op_type = "Conv";
    onnx_ints(o, "kernel_shape", 2, kernel);
    onnx_ints(o, "strides", 2, n->attr);
    onnx_ints(o, "pads", 4, pads);
    return NULL;
}

/* ---- int8 (quant.c): the weight [K, C, R, S] is already output channel by channel ---- */

/* the zero-padded image the int8 kernel reads: the rows and columns its windows reach */
static int64_t int8_padded_cols(const ConvGeo *g) { return (g->Q - 1) * g->sw + g->S; }

static bool int8_weights_conv(const IrNode *n, const double *w, double *out, int64_t *channels, int64_t *inner) {
    ConvGeo g = conv_geo(n);
    for (int k = 4; k < MAX_ATTR; k++)
        if (n->attr[k])
            return false;
    if (g.C * g.HP * int8_padded_cols(&g) > QUANT_STACK_BYTES || g.C * g.R * g.S > QUANT_STACK_BYTES)
        return false;
    *channels = g.K, *inner = g.C * g.R * g.S;
    if (out)
        memcpy(out, w, sizeof(double) * (size_t)(g.K * g.C * g.R * g.S));
    return true;
}

/* Per image: the image quantized into a zero-padded block on the stack (zero point 0, so the padding is exact),
 * then every output a sum of int8 products over its window. The body of a function of x, y and n. */
static void emit_int8_conv(Emit *e, IrNode *n, const QuantKernel *q) {
    FILE *o = e->o;
    ConvGeo g = conv_geo(n);
    int64_t wp = int8_padded_cols(&g);
    int64_t rows = g.H < g.HP - g.ph ? g.H : g.HP - g.ph, cols = g.W < wp - g.pw ? g.W : wp - g.pw;
    const char *t = q->u8 ? "uint8_t" : "int8_t";
    fprintf(o, "    for (int64_t i = 0; i < %s; i++) {\n", emit_dim(e, &n->in[0]->shape, 0));
    fprintf(o, "        %s xq[%" PRId64 "];\n", t, g.C * g.HP * wp);
    fprintf(o, "        const float *img = x + i * %" PRId64 ";\n", g.C * g.H * g.W);
    fprintf(o, "        float *out = y + i * %" PRId64 ";\n", g.K * g.P * g.Q);
    fprintf(o, "        memset(xq, 0, sizeof xq);\n");
    fprintf(o, "        for (int64_t c = 0; c < %" PRId64 "; c++)\n", g.C);
    fprintf(o, "            for (int64_t h = 0; h < %" PRId64 "; h++)\n", rows);
    fprintf(o,
            "                quantize_%s(img + (c * %" PRId64 " + h) * %" PRId64 ", xq + (c * %" PRId64
            " + h + %" PRId64 ") * %" PRId64 " + %" PRId64 ", %" PRId64 ", %s);\n",
            q->u8 ? "u8" : "s8", g.H, g.W, g.HP, g.ph, wp, g.pw, cols, emit_lit(e, 1 / q->ascale));
    /* a row of output columns at a time, innermost, so that the C compiler vectorises the products */
    fprintf(o, "        for (int64_t k = 0; k < %" PRId64 "; k++)\n", g.K);
    fprintf(o, "            for (int64_t p = 0; p < %" PRId64 "; p++) {\n", g.P);
    fprintf(o, "                int32_t acc[%" PRId64 "] = {0};\n", g.Q);
    fprintf(o, "                for (int64_t c = 0; c < %" PRId64 "; c++)\n", g.C);
    fprintf(o, "                    for (int64_t r = 0; r < %" PRId64 "; r++) {\n", g.R);
    fprintf(o, "                        const %s *xr = xq + (c * %" PRId64 " + p * %" PRId64 " + r) * %" PRId64 ";\n",
            t, g.HP, g.sh, wp);
    fprintf(o,
            "                        const int8_t *wr = q%d_w + ((k * %" PRId64 " + c) * %" PRId64 " + r) * %" PRId64
            ";\n",
            n->id, g.C, g.R, g.S);
    fprintf(o, "                        for (int64_t s = 0; s < %" PRId64 "; s++)\n", g.S);
    fprintf(o, "                            for (int64_t q = 0; q < %" PRId64 "; q++)\n", g.Q);
    fprintf(o, "                                acc[q] += (int32_t)xr[q * %" PRId64 " + s] * (int32_t)wr[s];\n", g.sw);
    fprintf(o, "                    }\n");
    fprintf(o, "                for (int64_t q = 0; q < %" PRId64 "; q++)\n", g.Q);
    fprintf(o, "                    out[(k * %" PRId64 " + p) * %" PRId64 " + q] = (float)acc[q] * q%d_scale[k];\n",
            g.P, g.Q, n->id);
    fprintf(o, "            }\n    }\n");
}

/* ---- the rules ---- */

/* ---- folding: output channel o is the weight's row o (fold.c) ---- */

static IrNode *scale_out_conv2d(Graph *g, IrNode *n, const double *scale) {
    IrNode *w = fold_scale_weight(g, n->in[1], 0, scale);
    return w ? b_conv2d(g, n->in[0], w, n->attr, n->attr + 2, n->loc) : NULL;
}

const OpRule rule_CONV2D = {
    .build = build_conv2d,
    .grad = grad_conv2d,
    .scale_out = scale_out_conv2d,
    .emit = emit_conv,
    .own_fn = conv_direct,
    .own_fn_prefix = "conv2d_fwd_direct_",
    .emit_own_fn = emit_conv_own,
    .epilogue = epilogue_conv,
    .helpers = conv_helpers,
    .calls_of = calls_conv,
    .scratch = conv_scratch,
    .flops = flops_conv2d,
    .blas_flops = blas_flops_conv,
    .onnx = onnx_conv,
    .int8_weights = int8_weights_conv,
    .emit_int8 = emit_int8_conv,
};

const OpRule rule_CONV2D_DX = {
    .build = build_conv2d_grad,
    .grad = grad_refused,
    .emit = emit_conv,
    .own_fn = conv_direct,
    .own_fn_prefix = "conv2d_dx_direct_",
    .emit_own_fn = emit_conv_own,
    .helpers = conv_helpers,
    .calls_of = calls_conv,
    .scratch = conv_scratch,
    .flops = flops_conv2d_dx,
    .blas_flops = blas_flops_conv,
    .onnx_refused = "a gradient kernel (not written)",
};

const OpRule rule_CONV2D_DW = {
    .build = build_conv2d_grad,
    .grad = grad_refused,
    .emit = emit_conv,
    .own_fn = conv_direct,
    .own_fn_prefix = "conv2d_dw_direct_",
    .emit_own_fn = emit_conv_own,
    .helpers = conv_helpers,
    .calls_of = calls_conv,
    .scratch = conv_scratch,
    .flops = flops_conv2d_dw,
    .blas_flops = blas_flops_conv,
    .onnx_refused = "a gradient kernel (not written)",
};
