/* emit_conv.c: tiled pooling kernels, one C function per geometry, every extent a literal.
 *
 * Pooling whose windows tile the image (LeNet's 2x2) gets a function with the window written out. */
#include <inttypes.h>
#include <string.h>

#include "dlc.h"

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
