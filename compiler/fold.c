/* fold.c: with the weights compiled in (dlc compile --infer --weights), a per-channel affine map of a convolution's
 * or matrix product's output folds into the kernel's weight and one bias add: batch normalization in inference
 * mode, x * scale + shift with scale and shift computed from baked parameters and states, costs nothing.
 *
 * fold_affine is a rewrite of the element-wise arithmetic ops (elementwise.c lists it; simplify.c applies it). From
 * the node it walks down a chain of +, -, *, / and negation whose other operand is a compile-time constant (a cone
 * of constants and baked parameters through element-wise ops and views, evaluated by the builders' own constant
 * folding) to a kernel with a scale_out rule (conv2d, matmul); on the way back up it composes the chain into y =
 * k * a + b. When a and b are per output channel (axis 1 of the kernel's output), the node becomes
 * scale_out(k, a) + b, the weight scaled per output channel, a new constant: one pass over the output fewer per
 * step of the chain, and the statistics' tiny loops gone. The chain from conv2d's or linear's bias add onward folds
 * as a whole, so batch_norm after either layer (the built-in and models/batchnorm.dlm's block of primitives) leaves
 * one convolution and one bias add. */
#include "dlc.h"

/* How deep an affine chain may be, and how many nodes one look for a constant cone visits (batch norm's have
 * under ten), so that the rewrite stays cheap on the element-wise chains of other models. */
enum { FOLD_DEPTH = 16, FOLD_VISITS = 64 };

/* n as a constant node when it is computed from constants and baked parameters alone, by element-wise ops and
 * views whose builders fold it (the result stays within MAX_CONST_NUMEL); NULL otherwise, or when the search
 * would visit more than *budget nodes. */
static IrNode *cone(Graph *g, IrNode *n, int *budget) {
    if (--*budget < 0)
        return NULL;
    if (n->op == OP_CONST)
        return n;
    if (n->op == OP_PARAM || n->op == OP_STATE) {
        if (!g->baked || !g->baked[n->index] || shape_numel(&n->shape) > MAX_CONST_NUMEL)
            return NULL;
        return ir_const_data(g, n->shape, g->baked[n->index], n->loc);
    }
    OpClass cls = op_info[n->op].cls;
    if ((cls != OPC_ELEM && cls != OPC_VIEW) || n->nin == 0 || n->shape.batched)
        return NULL;
    IrNode *in[MAX_IN];
    for (int k = 0; k < n->nin; k++)
        if (!(in[k] = cone(g, n->in[k], budget)))
            return NULL;
    OpArgs a = {.fattr = n->fattr, .shape = n->shape};
    memcpy(a.attr, n->attr, sizeof a.attr);
    IrNode *r = op_build(g, n->op, n->nin, in, &a, n->loc);
    return r && r->op == OP_CONST ? r : NULL; /* a builder that does not fold (divcount: the run-time batch) */
}

static IrNode *const_cone(Graph *g, IrNode *n) {
    int budget = FOLD_VISITS;
    return cone(g, n, &budget);
}

/* Walks down the chain from n to a kernel with scale_out, composing n = k * *a + *b (a and b constants; *steps
 * counts the chain's ops, chain[] holds the nodes below n, k included). NULL when n is no such chain. */
static IrNode *affine(Graph *g, IrNode *n, IrNode **a, IrNode **b, int *steps, IrNode **chain, int depth) {
    if (depth > 0)
        chain[depth - 1] = n;
    if (op_rule(n->op)->scale_out) {
        *a = ir_const_scalar(g, 1, n->loc);
        *b = ir_const_scalar(g, 0, n->loc);
        return n;
    }
    if (depth >= FOLD_DEPTH || n->dtype != DT_F32)
        return NULL;
    Op op = n->op;
    IrNode *u = NULL, *c = NULL; /* the chain's operand and the constant one */
    bool c_left = false;
    if (op == OP_NEG) {
        u = n->in[0];
    } else if (op == OP_ADD || op == OP_SUB || op == OP_MUL || op == OP_DIV) {
        IrNode *c0 = const_cone(g, n->in[0]), *c1 = c0 ? NULL : const_cone(g, n->in[1]);
        if (c1)
            u = n->in[0], c = c1;
        else if (c0 && op != OP_DIV) /* c / u is not affine in u */
            u = n->in[1], c = c0, c_left = true;
        else
            return NULL;
    } else {
        return NULL;
    }
    IrNode *ua, *ub;
    IrNode *k = affine(g, u, &ua, &ub, steps, chain, depth + 1);
    if (!k || !shape_eq(&u->shape, &n->shape)) /* the constant must not broadcast the chain wider */
        return NULL;
    Loc l = n->loc;
    (*steps)++;
    switch (op) {
    case OP_NEG:
        *a = b_unary(g, OP_NEG, ua, l), *b = b_unary(g, OP_NEG, ub, l);
        break;
    case OP_ADD:
        *a = ua, *b = b_binary(g, OP_ADD, ub, c, l);
        break;
    case OP_SUB: /* u - c, or c - u */
        *a = c_left ? b_unary(g, OP_NEG, ua, l) : ua;
        *b = c_left ? b_binary(g, OP_SUB, c, ub, l) : b_binary(g, OP_SUB, ub, c, l);
        break;
    case OP_MUL:
        *a = b_binary(g, OP_MUL, ua, c, l), *b = b_binary(g, OP_MUL, ub, c, l);
        break;
    default: /* OP_DIV: u / c */
        *a = b_binary(g, OP_DIV, ua, c, l), *b = b_binary(g, OP_DIV, ub, c, l);
        break;
    }
    return *a && *b && (*a)->op == OP_CONST && (*b)->op == OP_CONST ? k : NULL;
}

/* The per-channel values of constant c broadcast against an output of shape `out` whose axis 1 holds the
 * channels (NULL when c varies along another axis). */
static double *per_channel(Ctx *ctx, const IrNode *c, const Shape *out) {
    int64_t ch = out->d[1];
    int j = c->shape.rank - out->rank + 1; /* c's axis over the channels, when it has one */
    if (c->shape.rank > out->rank)
        return NULL;
    for (int k = 0; k < c->shape.rank; k++)
        if (c->shape.d[k] != 1 && !(k == j && c->shape.d[k] == ch))
            return NULL;
    bool varies = j >= 0 && c->shape.d[j] == ch && ch != 1;
    double *v = xalloc(ctx, sizeof(double) * (size_t)ch);
    for (int64_t o = 0; o < ch; o++)
        v[o] = c->data[varies ? o : 0];
    return v;
}

static bool folded_away(const Graph *g, const IrNode *m) {
    for (int i = 0; i < g->folded.n; i++)
        if (g->folded.v[i] == m->id)
            return true;
    return false;
}

/* Whether no node of the chain has a consumer besides the node above it: a kernel whose output is also read
 * elsewhere would be computed twice. Simplification leaves dead nodes behind that still point into the graph,
 * and they must not count: the nodes this rewrite replaced (g->folded), and the graph simplification started from
 * (ids below g->baked_from), whose nodes a node it built is never read by, and whose own consumers there stand
 * for the rebuilt ones. A doubt keeps the chain as it is. */
static bool single_use(Graph *g, IrNode **chain, int len) {
    int uses[FOLD_DEPTH] = {0};
    for (int i = 0; i < g->nodes.n; i++) {
        IrNode *m = g->nodes.v[i];
        for (int j = 0; j < m->nin; j++)
            for (int c = 0; c < len; c++)
                if (m->in[j] == chain[c] && (chain[c]->id >= g->baked_from || m->id < g->baked_from) &&
                    !folded_away(g, m))
                    uses[c]++;
    }
    for (int c = 0; c < len; c++)
        if (uses[c] > 1)
            return false;
    return true;
}

IrNode *fold_affine(Graph *g, IrNode *n) {
    if (!g->baked)
        return NULL;
    IrNode *a, *b, *chain[FOLD_DEPTH];
    int steps = 0;
    IrNode *k = affine(g, n, &a, &b, &steps, chain, 0);
    if (!k || k->shape.rank < 2 || !shape_eq(&k->shape, &n->shape))
        return NULL;
    double one;
    bool unit = ir_is_const(a, &one) && one == 1;
    /* a lone bias add is already the folded form */
    if (steps < 2 && unit)
        return NULL;
    double *scale = per_channel(g->ctx, a, &k->shape), *shift = per_channel(g->ctx, b, &k->shape);
    if (!scale || !shift || !single_use(g, chain, steps))
        return NULL;
    IrNode *scaled = unit ? k : op_rule(k->op)->scale_out(g, k, scale);
    if (!scaled)
        return NULL;
    /* n and the chain below it are dead once n is replaced; so is k when its weight was scaled */
    vec_push(g->ctx, &g->folded, n->id);
    for (int c = 0; c < steps - (unit ? 1 : 0); c++)
        vec_push(g->ctx, &g->folded, chain[c]->id);
    /* the shift as the layers' biases are shaped: [C] for [batch, C], [C, 1, 1] for [N, C, H, W] */
    Shape bs = shape_scalar();
    bs.rank = k->shape.rank - 1;
    for (int d = 0; d < bs.rank; d++)
        bs.d[d] = d ? 1 : k->shape.d[1];
    return b_binary(g, OP_ADD, scaled, ir_const_data(g, bs, shift, n->loc), n->loc);
}

/* The weight w (a constant, or a baked parameter) with output channel o, which runs along w's axis `axis`, scaled
 * by scale[o]; NULL when w's values are not known at compile time. */
IrNode *fold_scale_weight(Graph *g, IrNode *w, int axis, const double *scale) {
    IrNode *c = const_cone(g, w);
    if (!c)
        return NULL;
    int64_t n = shape_numel(&c->shape), inner = 1;
    for (int d = axis + 1; d < c->shape.rank; d++)
        inner *= c->shape.d[d];
    double *v = xalloc(g->ctx, sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        v[i] = c->data[i] * scale[i / inner % c->shape.d[axis]];
    return ir_const_data(g, c->shape, v, w->loc);
}
