/* emit_conv.c: direct convolution and tiled pooling kernels, one C function per geometry, every extent a literal.
 *
 * A small convolution (LeNet's: 1 or 6 input channels, 5x5, 28x28 or 14x14 images) feeds matrix products too
 * small for BLAS to pay for im2col's columns, so it runs as loops written for its shape. Each kernel first copies
 * an image into a zero-padded block on the stack, so the inner loops need no bounds tests, then works on tiles of
 * TILE output columns, every loop count a constant:
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
};

ConvGeo conv_geo(const IrNode *n) {
    const Shape *x = n->op == OP_CONV2D_DX ? &n->shape : &n->in[0]->shape;
    const Shape *w = n->op == OP_CONV2D_DW ? &n->shape : &n->in[1]->shape;
    const Shape *y = n->op == OP_CONV2D ? &n->shape : n->op == OP_CONV2D_DX ? &n->in[0]->shape : &n->in[1]->shape;
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

bool conv_direct(const IrNode *n) {
    if (n->op != OP_CONV2D && n->op != OP_CONV2D_DX && n->op != OP_CONV2D_DW)
        return false;
    ConvGeo g = conv_geo(n);
    if (n->op != OP_CONV2D_DX)
        return direct_pays(&g);
    ConvGeo t = dx_as_conv(&g);
    return g.sh == 1 && g.sw == 1 && g.ph < g.R && g.pw < g.S && g.K * g.C * g.R * g.S <= FLIP_ELEMS && direct_pays(&t);
}

int64_t conv_direct_images(const ConvGeo *g) {
    int64_t images = BLOCK_ELEMS / (g->C * g->HP * block_width(g) + g->K * g->P * tiled_q(g));
    return images < 1 ? 1 : images > g->N ? g->N : images;
}

/* Copies image `img` (an expression) of x into the zero-padded block `dst` ([C][HP][block_width]). */
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
static char *col_index(const ConvGeo *g, const char *q, int64_t shift) {
    char *scaled = g->sw == 1       ? xsprintf("%s", q)
                   : strchr(q, ' ') ? xsprintf("(%s) * %" PRId64, q, g->sw)
                                    : xsprintf("%s * %" PRId64, q, g->sw);
    return shift ? xsprintf("%s + %" PRId64, scaled, shift) : scaled;
}

/* The block row an output row p reads with kernel row r. */
static char *row_index(const ConvGeo *g) {
    return g->sh == 1 ? xsprintf("p + r") : xsprintf("p * %" PRId64 " + r", g->sh);
}

/* Whether some output row's window reaches into the block's padding rows, which hold only zeros. */
static bool pads_rows(const ConvGeo *g) { return g->ph > 0 || (g->P - 1) * g->sh + g->R > g->H + g->ph; }

/* At the top of an output row p's loop: the kernel rows [r0, r1) that meet the image rather than zero padding
 * (adding their products changes nothing), so border rows skip them. */
static void emit_row_bounds(FILE *o, const ConvGeo *g, int d) {
    if (!pads_rows(g))
        return;
    char *top = g->sh == 1 ? xsprintf("p") : xsprintf("p * %" PRId64, g->sh);
    fprintf(o, "%*sconst int r0 = %s < %" PRId64 " ? %" PRId64 " - %s : 0;\n", d, "", top, g->ph, g->ph, top);
    fprintf(o, "%*sconst int r1 = %" PRId64 " - %s < %" PRId64 " ? %" PRId64 " - %s : %" PRId64 ";\n", d, "",
            g->H + g->ph, top, g->R, g->H + g->ph, top, g->R);
}

/* The loop over kernel rows, all of them or [r0, r1). */
static char *row_loop(const ConvGeo *g) {
    return pads_rows(g) ? xsprintf("for (int r = r0; r < r1; r++)")
                        : xsprintf("for (int r = 0; r < %" PRId64 "; r++)", g->R);
}

/* One forward tile: `width` columns from q0 of output row p, channels k .. k + kb. */
static void emit_fwd_tile(FILE *o, const ConvGeo *g, const char *R, int64_t kb, int64_t width, int d) {
    fprintf(o, "%*s%s", d, "", R);
    for (int64_t j = 0; j < kb; j++)
        fprintf(o, "%s a%" PRId64 "[%d] = {0}", j ? "," : "", j, TILE);
    fprintf(o, ";\n");
    fprintf(o, "%*sfor (int c = 0; c < %" PRId64 "; c++)\n", d, "", g->C);
    fprintf(o, "%*s    %s\n", d, "", row_loop(g));
    fprintf(o, "%*s        for (int s = 0; s < %" PRId64 "; s++) {\n", d, "", g->S);
    int e = d + 8;
    fprintf(o, "%*s    const %s *src = &xp[c][%s][%s + s];\n", e, "", R, row_index(g), col_index(g, "q0", 0));
    fprintf(o, "%*s    const %s *wk = w + ((k * %" PRId64 " + c) * %" PRId64 " + r) * %" PRId64 " + s;\n", e, "", R,
            g->C, g->R, g->S);
    fprintf(o, "%*s    %s", e, "", R);
    for (int64_t j = 0; j < kb; j++)
        fprintf(o, "%s w%" PRId64 " = wk[%" PRId64 "]", j ? "," : "", j, j * g->C * g->R * g->S);
    fprintf(o, ";\n");
    fprintf(o, "%*s    for (int q = 0; q < %d; q++) {\n", e, "", TILE);
    fprintf(o, "%*s        %s v = src[%s];\n", e, "", R, col_index(g, "q", 0));
    for (int64_t j = 0; j < kb; j++)
        fprintf(o, "%*s        a%" PRId64 "[q] += w%" PRId64 " * v;\n", e, "", j, j);
    fprintf(o, "%*s    }\n%*s}\n", e, "", e, "");
    fprintf(o, "%*s%s *out = y + ((b * %" PRId64 " + k) * %" PRId64 " + p) * %" PRId64 " + q0;\n", d, "", R, g->K, g->P,
            g->Q);
    fprintf(o, "%*sfor (int q = 0; q < %" PRId64 "; q++) {\n", d, "", width);
    for (int64_t j = 0; j < kb; j++)
        fprintf(o, "%*s    out[%" PRId64 " + q] = a%" PRId64 "[q];\n", d, "", j * g->P * g->Q, j);
    fprintf(o, "%*s}\n", d, "");
}

/* Output rows of channels k .. k + kb, for every k the loop header (already printed) gives. */
static void emit_fwd_rows(FILE *o, const ConvGeo *g, const char *R, int64_t kb, int d) {
    int64_t full = g->Q / TILE * TILE, rest = g->Q - full;
    fprintf(o, "%*sfor (int p = 0; p < %" PRId64 "; p++) {\n", d, "", g->P);
    emit_row_bounds(o, g, d + 4);
    if (full == TILE) {
        fprintf(o, "%*s    {\n%*s        const int q0 = 0;\n", d, "", d, "");
        emit_fwd_tile(o, g, R, kb, TILE, d + 8);
        fprintf(o, "%*s    }\n", d, "");
    } else if (full) {
        fprintf(o, "%*s    for (int q0 = 0; q0 < %" PRId64 "; q0 += %d) {\n", d, "", full, TILE);
        emit_fwd_tile(o, g, R, kb, TILE, d + 8);
        fprintf(o, "%*s    }\n", d, "");
    }
    if (rest) {
        fprintf(o, "%*s    {\n%*s        const int q0 = %" PRId64 ";\n", d, "", d, "", full);
        emit_fwd_tile(o, g, R, kb, rest, d + 8);
        fprintf(o, "%*s    }\n", d, "");
    }
    fprintf(o, "%*s}\n", d, "");
}

/* Narrow outputs (Q <= QMAX) of many channels (K a multiple of TILE): the lanes run over TILE output channels and
 * each output column of a row has its own partial sums, so no lane is wasted on columns past the row's end. The
 * kernel is laid out [c][r][s][k] first, so a tile's weights are one load. */
static bool lanes_over_k(const ConvGeo *g) {
    return g->K % TILE == 0 && g->Q <= QMAX && g->K * g->C * g->R * g->S <= FLIP_ELEMS;
}

static void emit_fwd_lanes_k(FILE *o, const ConvGeo *g, const char *R) {
    fprintf(o, "        for (int64_t k = 0; k < %" PRId64 "; k += %d)\n", g->K, TILE);
    fprintf(o, "            for (int p = 0; p < %" PRId64 "; p++) {\n", g->P);
    emit_row_bounds(o, g, 16);
    fprintf(o, "                %s", R);
    for (int64_t q = 0; q < g->Q; q++)
        fprintf(o, "%s a%" PRId64 "[%d] = {0}", q ? "," : "", q, TILE);
    fprintf(o, ";\n");
    fprintf(o, "                for (int c = 0; c < %" PRId64 "; c++)\n", g->C);
    fprintf(o, "                    %s\n", row_loop(g));
    fprintf(o, "                        for (int s = 0; s < %" PRId64 "; s++) {\n", g->S);
    fprintf(o, "                            const %s *src = &xp[c][%s][s];\n", R, row_index(g));
    fprintf(o,
            "                            const %s *wk = wk_all + ((c * %" PRId64 " + r) * %" PRId64 " + s) * %" PRId64
            " + k;\n",
            R, g->R, g->S, g->K);
    fprintf(o, "                            %s", R);
    for (int64_t q = 0; q < g->Q; q++)
        fprintf(o, "%s x%" PRId64 " = src[%" PRId64 "]", q ? "," : "", q, q * g->sw);
    fprintf(o, ";\n");
    fprintf(o, "                            for (int j = 0; j < %d; j++) {\n", TILE);
    fprintf(o, "                                %s v = wk[j];\n", R);
    for (int64_t q = 0; q < g->Q; q++)
        fprintf(o, "                                a%" PRId64 "[j] += x%" PRId64 " * v;\n", q, q);
    fprintf(o, "                            }\n                        }\n");
    fprintf(o, "                for (int j = 0; j < %d; j++) {\n", TILE);
    fprintf(o, "                    %s *out = y + ((b * %" PRId64 " + k + j) * %" PRId64 " + p) * %" PRId64 ";\n", R,
            g->K, g->P, g->Q);
    for (int64_t q = 0; q < g->Q; q++)
        fprintf(o, "                    out[%" PRId64 "] = a%" PRId64 "[j];\n", q, q);
    fprintf(o, "                }\n            }\n");
}

/* y = x (*) w over the geometry g; for dx (turned), y is dx, x is dy, and w is turned into wt first. */
static void emit_fwd(FILE *o, const ConvGeo *g0, bool turned, const char *fname, const char *R, const char *NAME) {
    ConvGeo g = turned ? dx_as_conv(g0) : *g0;
    if (turned) {
        fprintf(o, "static void %s(const %s *restrict dy, const %s *restrict kernel, %s *restrict dx, int64_t n) {\n",
                fname, R, R, R);
        fprintf(o, "    const %s *restrict x = dy;\n    %s *restrict y = dx;\n", R, R);
        fprintf(o, "    /* wt[c][k][r][s] = kernel[k][c][R - 1 - r][S - 1 - s] */\n");
        fprintf(o, "    %s wt[%" PRId64 "];\n", R, g.K * g.C * g.R * g.S);
        fprintf(o, "    for (int k = 0; k < %" PRId64 "; k++)\n", g.C);
        fprintf(o, "        for (int c = 0; c < %" PRId64 "; c++)\n", g.K);
        fprintf(o, "            for (int rs = 0; rs < %" PRId64 "; rs++)\n", g.R * g.S);
        fprintf(o,
                "                wt[(c * %" PRId64 " + k) * %" PRId64 " + rs] = kernel[(k * %" PRId64 " + c) * %" PRId64
                " + %" PRId64 " - rs];\n",
                g.C, g.R * g.S, g.K, g.R * g.S, g.R * g.S - 1);
        fprintf(o, "    const %s *w = wt;\n", R);
    } else {
        fprintf(o, "static void %s(const %s *restrict x, const %s *restrict w, %s *restrict y, int64_t n) {\n", fname,
                R, R, R);
    }
    if (lanes_over_k(&g)) {
        fprintf(o, "    /* wk_all[c][r][s][k] = w[k][c][r][s] */\n");
        fprintf(o, "    %s wk_all[%" PRId64 "];\n", R, g.K * g.C * g.R * g.S);
        fprintf(o, "    for (int k = 0; k < %" PRId64 "; k++)\n", g.K);
        fprintf(o, "        for (int crs = 0; crs < %" PRId64 "; crs++)\n", g.C * g.R * g.S);
        fprintf(o, "            wk_all[crs * %" PRId64 " + k] = w[k * %" PRId64 " + crs];\n", g.K, g.C * g.R * g.S);
    }
    fprintf(o, "    %s_PARALLEL_FOR\n    for (int64_t b = 0; b < n; b++) {\n", NAME);
    fprintf(o, "        %s xp[%" PRId64 "][%" PRId64 "][%" PRId64 "];\n", R, g.C, g.HP, block_width(&g));
    emit_pad(o, &g, "b", "xp", R, 8);
    int64_t blocks = g.K / KBLOCK * KBLOCK, rest = g.K - blocks;
    if (lanes_over_k(&g)) {
        emit_fwd_lanes_k(o, &g, R);
        blocks = rest = 0;
    }
    if (blocks == KBLOCK) {
        fprintf(o, "        {\n            const int64_t k = 0;\n");
        emit_fwd_rows(o, &g, R, KBLOCK, 12);
        fprintf(o, "        }\n");
    } else if (blocks) {
        fprintf(o, "        for (int64_t k = 0; k < %" PRId64 "; k += %d)\n", blocks, KBLOCK);
        emit_fwd_rows(o, &g, R, KBLOCK, 12);
    }
    if (rest) {
        fprintf(o, "        {\n            const int64_t k = %" PRId64 ";\n", blocks);
        emit_fwd_rows(o, &g, R, rest, 12);
        fprintf(o, "        }\n");
    }
    fprintf(o, "    }\n}\n");
}

/* The end of a dw kernel: closes the loop over chunks, then adds the chunks' sums in order. */
static void emit_dw_sum(FILE *o, const ConvGeo *g, const char *R) {
    int64_t kcrs = g->K * g->C * g->R * g->S;
    fprintf(o, "    }\n");
    fprintf(o, "    for (int64_t j = 0; j < %" PRId64 "; j++) {\n", kcrs);
    fprintf(o, "        double acc = 0;\n");
    fprintf(o, "        for (int64_t chunk = 0; chunk < chunks; chunk++)\n");
    fprintf(o, "            acc += part[chunk * %" PRId64 " + j];\n", kcrs);
    fprintf(o, "        dw[j] = (%s)acc;\n    }\n}\n", R);
}

/* dw with the vector lanes over TILE output channels (narrow rows, as lanes_over_k): dy is copied channel-last,
 * so dy[i][p][q][k .. k + TILE] is one load, and for one (c, r) the S partial sums accumulate it times x's S
 * shifted values at (p, q). */
static void emit_dw_lanes_k(FILE *o, const ConvGeo *g, const char *R) {
    int64_t images = conv_direct_images(g), kcrs = g->K * g->C * g->R * g->S, pq = g->P * g->Q;
    fprintf(o, "        %s gt[%" PRId64 "][%" PRId64 "][%" PRId64 "];\n", R, images, pq, g->K);
    fprintf(o, "        for (int64_t i = 0; i < count; i++) {\n");
    emit_pad(o, g, "(b0 + i)", "xp[i]", R, 12);
    fprintf(o, "            for (int k = 0; k < %" PRId64 "; k++)\n", g->K);
    fprintf(o, "                for (int pq = 0; pq < %" PRId64 "; pq++)\n", pq);
    fprintf(o, "                    gt[i][pq][k] = dy[((b0 + i) * %" PRId64 " + k) * %" PRId64 " + pq];\n", g->K, pq);
    fprintf(o, "        }\n");
    fprintf(o, "        for (int k = 0; k < %" PRId64 "; k += %d)\n", g->K, TILE);
    fprintf(o, "            for (int c = 0; c < %" PRId64 "; c++)\n", g->C);
    fprintf(o, "                for (int r = 0; r < %" PRId64 "; r++) {\n", g->R);
    fprintf(o, "                    %s", R);
    for (int64_t s = 0; s < g->S; s++)
        fprintf(o, "%s a%" PRId64 "[%d] = {0}", s ? "," : "", s, TILE);
    fprintf(o, ";\n");
    fprintf(o, "                    for (int64_t i = 0; i < count; i++)\n");
    fprintf(o, "                        for (int p = 0; p < %" PRId64 "; p++) {\n", g->P);
    fprintf(o, "                            const %s *src = xp[i][c][%s];\n", R, row_index(g));
    fprintf(o, "                            for (int q = 0; q < %" PRId64 "; q++) {\n", g->Q);
    fprintf(o, "                                const %s *v = &gt[i][p * %" PRId64 " + q][k];\n", R, g->Q);
    fprintf(o, "                                %s", R);
    for (int64_t s = 0; s < g->S; s++)
        fprintf(o, "%s x%" PRId64 " = src[%s]", s ? "," : "", s, col_index(g, "q", s));
    fprintf(o, ";\n");
    fprintf(o, "                                for (int j = 0; j < %d; j++) {\n", TILE);
    for (int64_t s = 0; s < g->S; s++)
        fprintf(o, "                                    a%" PRId64 "[j] += x%" PRId64 " * v[j];\n", s, s);
    fprintf(o, "                                }\n                            }\n                        }\n");
    fprintf(o, "                    for (int j = 0; j < %d; j++) {\n", TILE);
    fprintf(o,
            "                        %s *sum = part + chunk * %" PRId64 " + (((k + j) * %" PRId64 " + c) * %" PRId64
            " + r) * %" PRId64 ";\n",
            R, kcrs, g->C, g->R, g->S);
    for (int64_t s = 0; s < g->S; s++)
        fprintf(o, "                        sum[%" PRId64 "] = a%" PRId64 "[j];\n", s, s);
    fprintf(o, "                    }\n                }\n");
}

static void emit_dw(FILE *o, const IrNode *n, const char *fname, const char *R, const char *NAME) {
    ConvGeo g = conv_geo(n);
    int64_t images = conv_direct_images(&g), kcrs = g.K * g.C * g.R * g.S, qt = tiled_q(&g);
    fprintf(o,
            "static void %s(const %s *restrict x, %s *restrict dw, const %s *restrict dy, %s *restrict part, "
            "int64_t n) {\n",
            fname, R, R, R, R);
    fprintf(o, "    int64_t chunks = (n + %" PRId64 ") / %" PRId64 ";\n", images - 1, images);
    fprintf(o, "    %s_PARALLEL_FOR\n    for (int64_t chunk = 0; chunk < chunks; chunk++) {\n", NAME);
    fprintf(o, "        int64_t b0 = chunk * %" PRId64 ", count = n - b0 < %" PRId64 " ? n - b0 : %" PRId64 ";\n",
            images, images, images);
    fprintf(o, "        %s xp[%" PRId64 "][%" PRId64 "][%" PRId64 "][%" PRId64 "];\n", R, images, g.C, g.HP,
            block_width(&g));
    if (lanes_over_k(&g)) {
        emit_dw_lanes_k(o, &g, R);
        emit_dw_sum(o, &g, R);
        return;
    }
    fprintf(o, "        %s gp[%" PRId64 "][%" PRId64 "][%" PRId64 "][%" PRId64 "];\n", R, images, g.K, g.P, qt);
    fprintf(o, "        for (int64_t i = 0; i < count; i++) {\n");
    emit_pad(o, &g, "(b0 + i)", "xp[i]", R, 12);
    if (qt != g.Q)
        fprintf(o, "            memset(gp[i], 0, sizeof(gp[i]));\n");
    fprintf(o, "            for (int k = 0; k < %" PRId64 "; k++)\n", g.K);
    fprintf(o, "                for (int p = 0; p < %" PRId64 "; p++)\n", g.P);
    fprintf(o,
            "                    memcpy(gp[i][k][p], dy + (((b0 + i) * %" PRId64 " + k) * %" PRId64 " + p) * %" PRId64
            ", %" PRId64 " * sizeof(%s));\n",
            g.K, g.P, g.Q, g.Q, R);
    fprintf(o, "        }\n");
    /* kb output channels at once (kb * S partial sums in registers): each row of x loaded serves kb of them */
    int64_t kb = g.K % 3 == 0 && 3 * g.S <= 16 ? 3 : g.K % 2 == 0 && 2 * g.S <= 16 ? 2 : 1;
    fprintf(o, "        for (int k = 0; k < %" PRId64 "; k += %" PRId64 ")\n", g.K, kb);
    fprintf(o, "            for (int c = 0; c < %" PRId64 "; c++)\n", g.C);
    fprintf(o, "                for (int r = 0; r < %" PRId64 "; r++) {\n", g.R);
    for (int64_t j = 0; j < kb; j++) {
        fprintf(o, "                    %s", R);
        for (int64_t s = 0; s < g.S; s++)
            fprintf(o, "%s a%" PRId64 "_%" PRId64 "[%d] = {0}", s ? "," : "", j, s, TILE);
        fprintf(o, ";\n");
    }
    fprintf(o, "                    for (int64_t i = 0; i < count; i++)\n");
    fprintf(o, "                        for (int p = 0; p < %" PRId64 "; p++)\n", g.P);
    fprintf(o, "                            for (int q0 = 0; q0 < %" PRId64 "; q0 += %d) {\n", qt, TILE);
    fprintf(o, "                                const %s *gq = &gp[i][k][p][q0], *src = &xp[i][c][%s][%s];\n", R,
            row_index(&g), col_index(&g, "q0", 0));
    fprintf(o, "                                for (int q = 0; q < %d; q++) {\n", TILE);
    for (int64_t j = 0; j < kb; j++)
        fprintf(o, "                                    %s g%" PRId64 " = gq[%" PRId64 " + q];\n", R, j, j * g.P * qt);
    for (int64_t s = 0; s < g.S; s++) {
        fprintf(o, "                                    %s v%" PRId64 " = src[%s];\n", R, s, col_index(&g, "q", s));
        for (int64_t j = 0; j < kb; j++)
            fprintf(o,
                    "                                    a%" PRId64 "_%" PRId64 "[q] += g%" PRId64 " * v%" PRId64 ";\n",
                    j, s, j, s);
    }
    fprintf(o, "                                }\n                            }\n");
    for (int64_t j = 0; j < kb; j++) {
        fprintf(o,
                "                    %s *sum%" PRId64 " = part + chunk * %" PRId64 " + (((k + %" PRId64 ") * %" PRId64
                " + c) * %" PRId64 " + r) * %" PRId64 ";\n",
                R, j, kcrs, j, g.C, g.R, g.S);
        for (int64_t s = 0; s < g.S; s++) {
            fprintf(o, "                    sum%" PRId64 "[%" PRId64 "] = 0;\n", j, s);
            fprintf(o, "                    for (int q = 0; q < %d; q++)\n", TILE);
            fprintf(o, "                        sum%" PRId64 "[%" PRId64 "] += a%" PRId64 "_%" PRId64 "[q];\n", j, s, j,
                    s);
        }
    }
    fprintf(o, "                }\n");
    emit_dw_sum(o, &g, R);
}

void emit_conv_direct(FILE *o, const IrNode *n, const char *fname, const char *real, const char *NAME,
                      const char *model) {
    ConvGeo g = conv_geo(n);
    const char *what = n->op == OP_CONV2D      ? "conv2d"
                       : n->op == OP_CONV2D_DX ? "conv2d's input gradient"
                                               : "conv2d's weight gradient";
    fprintf(o,
            "\n/* %s, %s.dlm line %d: x [n, %" PRId64 ", %" PRId64 ", %" PRId64 "], w [%" PRId64 ", %" PRId64
            ", %" PRId64 ", %" PRId64 "], y [n, %" PRId64 ", %" PRId64 ", %" PRId64 "], stride %" PRId64 "x%" PRId64
            ", padding %" PRId64 "x%" PRId64 ".\n",
            what, model, n->loc.line, g.C, g.H, g.W, g.K, g.C, g.R, g.S, g.K, g.P, g.Q, g.sh, g.sw, g.ph, g.pw);
    if (n->op == OP_CONV2D)
        fprintf(o, " * Per image: a zero-padded copy, then tiles of %d columns of up to %d output channels. */\n", TILE,
                KBLOCK);
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
    if (n->op == OP_CONV2D_DW)
        emit_dw(o, n, fname, real, NAME);
    else
        emit_fwd(o, &g, n->op == OP_CONV2D_DX, fname, real, NAME);
}

bool pool_tiled(const IrNode *n) {
    if (n->op != OP_MAXPOOL && n->op != OP_AVGPOOL && n->op != OP_MAXPOOL_DX && n->op != OP_AVGPOOL_DX)
        return false;
    bool fwd = n->op == OP_MAXPOOL || n->op == OP_AVGPOOL;
    const Shape *x = fwd ? &n->in[0]->shape : &n->shape, *y = fwd ? &n->shape : &n->in[n->nin - 1]->shape;
    const int64_t *a = n->attr; /* window R x S, stride, padding */
    return a[4] == 0 && a[5] == 0 && a[2] == a[0] && a[3] == a[1] && y->d[2] * a[0] == x->d[2] &&
           y->d[3] * a[1] == x->d[3] && a[0] * a[1] <= 16;
}

void emit_pool_tiled(FILE *o, const IrNode *n, const char *fname, const char *R, const char *NAME, const char *model) {
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
    char **at = xalloc(sizeof(char *) * (size_t)(WR * WS));
    for (int64_t r = 0; r < WR; r++)
        for (int64_t s = 0; s < WS; s++)
            at[r * WS + s] =
                r * W + s ? xsprintf("q * %" PRId64 " + %" PRId64, WS, r * W + s) : xsprintf("q * %" PRId64, WS);
    const char *d = "                ";
    switch (n->op) {
    case OP_AVGPOOL:
        fprintf(o, "%sy[o + q] = (", d);
        for (int64_t i = 0; i < WR * WS; i++)
            fprintf(o, "%stop[%s]", i ? " + " : "", at[i]);
        fprintf(o, ") * (%s)%.17g;\n", R, 1.0 / (double)(WR * WS));
        break;
    case OP_AVGPOOL_DX:
        fprintf(o, "%s%s g = dy[o + q] * (%s)%.17g;\n", d, R, R, 1.0 / (double)(WR * WS));
        for (int64_t i = 0; i < WR * WS; i++)
            fprintf(o, "%stop[%s] = g;\n", d, at[i]);
        break;
    case OP_MAXPOOL:
        fprintf(o, "%s%s best = top[%s];\n", d, R, at[0]);
        for (int64_t i = 1; i < WR * WS; i++)
            fprintf(o, "%sbest = top[%s] > best ? top[%s] : best;\n", d, at[i], at[i]);
        fprintf(o, "%sy[o + q] = best;\n", d);
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
