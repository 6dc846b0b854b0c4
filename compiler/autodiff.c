/* autodiff.c: reverse-mode differentiation that builds the backward pass as nodes of the same graph.
 *
 * Node ids grow in creation order and every input is created before its users, so descending id order is a
 * reverse topological order. Only nodes that lie between a requested `wrt` and `y` get adjoints, so no
 * gradient is built that nothing asks for (the first layer's input gradient, say). Each op's rule is a few
 * builder calls (build.c); the results are ordinary nodes, hash-consed with the forward graph, and go
 * through the same simplification, fusion and planning. */
#include "dlc.h"

typedef struct Ad {
    Graph *g;
    IrNode **adj; /* adjoint by node id */
    bool *dep;    /* depends on some wrt */
    Loc loc;
} Ad;

/* Sums `d` (shaped like the op's output) down to `s`, the shape of the operand that was broadcast. */
static IrNode *unbroadcast(Graph *g, IrNode *d, const Shape *s, Loc loc) {
    if (shape_eq(&d->shape, s))
        return d;
    uint32_t mask = 0;
    bool only_leading = true; /* every summed axis is one that s lacks: no size-1 axes to keep */
    int off = d->shape.rank - s->rank;
    for (int i = 0; i < d->shape.rank; i++) {
        int j = i - off;
        bool batch_only_here = i == 0 && d->shape.batched && !(j == 0 && s->batched);
        if (j < 0 || (s->d[j] == 1 && d->shape.d[i] != 1) || batch_only_here) {
            mask |= 1u << i;
            only_leading &= j < 0;
        }
    }
    IrNode *r = b_reduce(g, OP_SUM, d, mask, !only_leading, loc);
    /* drop the leading axes that s does not have */
    return b_reshape(g, r, *s, loc);
}

static IrNode *c(Ad *ad, double v) { return ir_const_scalar(ad->g, v, ad->loc); }
static IrNode *mul(Ad *ad, IrNode *a, IrNode *b) { return b_binary(ad->g, OP_MUL, a, b, ad->loc); }
static IrNode *sub(Ad *ad, IrNode *a, IrNode *b) { return b_binary(ad->g, OP_SUB, a, b, ad->loc); }
static IrNode *divn(Ad *ad, IrNode *a, IrNode *b) { return b_binary(ad->g, OP_DIV, a, b, ad->loc); }

/* The contribution of node n's adjoint d to its input number i. NULL: no gradient flows there. */
static IrNode *grad_rule(Ad *ad, IrNode *n, int i, IrNode *d) {
    Graph *g = ad->g;
    if (op_rule(n->op)->grad)
        return op_rule(n->op)->grad(g, n, i, d);
    IrNode *x = n->in[0], *y = n;
    IrNode *b = n->nin > 1 ? n->in[1] : NULL;
    switch (n->op) {
    case OP_NEG:
        return b_unary(g, OP_NEG, d, ad->loc);
    case OP_EXP:
        return mul(ad, d, y);
    case OP_LOG:
        return divn(ad, d, x);
    case OP_ABS:
        return mul(ad, d, b_unary(g, OP_SIGN, x, ad->loc));
    case OP_SQRT:
        return divn(ad, mul(ad, d, c(ad, 0.5)), y);
    /* relu' from the output: y > 0 exactly where x > 0, and x then need not be kept for backward */
    case OP_RELU:
        return mul(ad, d, b_binary(g, OP_GT, y, c(ad, 0), ad->loc));
    case OP_SIGMOID:
        return mul(ad, d, mul(ad, y, sub(ad, c(ad, 1), y)));
    case OP_TANH:
        return mul(ad, d, sub(ad, c(ad, 1), mul(ad, y, y)));
    case OP_COPY:
        return d;
    case OP_ADD:
        return d;
    case OP_SUB:
        return i == 0 ? d : b_unary(g, OP_NEG, d, ad->loc);
    case OP_MUL:
        return mul(ad, d, i == 0 ? b : x);
    case OP_DIV:
        return i == 0 ? divn(ad, d, b) : b_unary(g, OP_NEG, divn(ad, mul(ad, d, y), b), ad->loc);
    case OP_POW:
        if (i == 0) {
            double p;
            if (ir_is_const(b, &p)) {
                if (p == 2)
                    return mul(ad, d, mul(ad, x, c(ad, 2)));
                return mul(ad, d, mul(ad, b, b_binary(g, OP_POW, x, c(ad, p - 1), ad->loc)));
            }
            return mul(ad, d, mul(ad, b, b_binary(g, OP_POW, x, sub(ad, b, c(ad, 1)), ad->loc)));
        }
        return mul(ad, d, mul(ad, y, b_unary(g, OP_LOG, x, ad->loc)));
    case OP_MAXIMUM:
        return mul(ad, d, b_binary(g, i == 0 ? OP_GE : OP_LT, x, b, ad->loc));
    case OP_MINIMUM:
        return mul(ad, d, b_binary(g, i == 0 ? OP_LE : OP_GT, x, b, ad->loc));
    case OP_WHERE: {
        if (i == 0)
            return NULL;
        IrNode *zero = c(ad, 0);
        IrNode *in[3] = {x, i == 1 ? d : zero, i == 1 ? zero : d};
        return b_elem(g, OP_WHERE, 3, in, ad->loc);
    }
    case OP_SIGN:
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
    case OP_EQ:
    case OP_NE:
    case OP_DROPMASK:
        return NULL;
    default:
        die("no gradient rule for %s (differentiating a gradient is not supported)", op_info[n->op].name);
    }
}

/* Whether an adjoint flows from node n to its input i: not into comparisons, masks and integer labels. */
static bool ad_flows(const IrNode *n, int i) {
    if (op_rule(n->op)->grad == grad_none)
        return false;
    switch (n->op) {
    case OP_SIGN:
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
    case OP_EQ:
    case OP_NE:
    case OP_DROPMASK:
        return false;
    case OP_WHERE:
        return i != 0;
    default:
        return n->in[i]->dtype == DT_F32;
    }
}

/* Ops whose adjoint grad_rule cannot propagate: the backward kernels, reached by a gradient of a gradient. */
static bool ad_has_rule(Op op) { return op_rule(op)->grad != grad_refused; }

IrNode *grad_none(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)g, (void)n, (void)i, (void)d;
    return NULL;
}

IrNode *grad_refused(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)g, (void)i, (void)d;
    die("no gradient rule for %s (differentiating a gradient is not supported)", op_info[n->op].name);
}

IrNode *ad_unsupported(Graph *g, IrNode *y, IrNode **wrt, int nwrt) {
    int n = y->id + 1;
    bool *dep = calloc((size_t)n, sizeof(bool)), *reach = calloc((size_t)n, sizeof(bool));
    if (!dep || !reach)
        die("out of memory");
    for (int k = 0; k < nwrt; k++)
        if (wrt[k] && wrt[k]->id < n)
            dep[wrt[k]->id] = true;
    for (int id = 0; id < n; id++) {
        IrNode *m = g->nodes.v[id];
        for (int k = 0; k < m->nin && !dep[id]; k++)
            dep[id] = dep[m->in[k]->id];
    }
    IrNode *bad = NULL;
    reach[y->id] = dep[y->id];
    for (int id = y->id; id >= 0 && !bad; id--) {
        IrNode *m = g->nodes.v[id];
        if (!reach[id] || m->nin == 0)
            continue;
        bool needed = false;
        for (int k = 0; k < m->nin; k++)
            if (dep[m->in[k]->id] && ad_flows(m, k))
                needed = reach[m->in[k]->id] = true;
        if (needed && !ad_has_rule(m->op))
            bad = m;
    }
    free(dep);
    free(reach);
    return bad;
}

void ad_grad(Graph *g, IrNode *y, IrNode **wrt, int nwrt, IrNode **out) {
    int n = g->nodes.n;
    Ad ad = {.g = g, .loc = y->loc};
    ad.adj = calloc((size_t)n, sizeof(IrNode *));
    ad.dep = calloc((size_t)n, sizeof(bool));
    if (!ad.adj || !ad.dep)
        die("out of memory");
    for (int k = 0; k < nwrt; k++)
        if (wrt[k])
            ad.dep[wrt[k]->id] = true;
    for (int id = 0; id <= y->id; id++) {
        IrNode *m = g->nodes.v[id];
        for (int k = 0; k < m->nin && !ad.dep[id]; k++)
            ad.dep[id] = ad.dep[m->in[k]->id];
    }
    if (ad.dep[y->id])
        ad.adj[y->id] = ir_const_scalar(g, 1, y->loc);
    for (int id = y->id; id >= 0; id--) {
        IrNode *m = g->nodes.v[id];
        IrNode *d = ad.adj[id];
        if (!d || m->nin == 0)
            continue;
        ad.loc = m->loc;
        for (int k = 0; k < m->nin; k++) {
            IrNode *in = m->in[k];
            if (!ad.dep[in->id] || in->dtype != DT_F32)
                continue;
            int errors = g->ctx->diag.errors;
            IrNode *contrib = grad_rule(&ad, m, k, d);
            if (g->ctx->diag.errors > errors)
                die("a builder refused the gradient of %s", op_info[m->op].name);
            if (!contrib)
                continue;
            contrib = unbroadcast(g, contrib, &in->shape, m->loc);
            if (!contrib)
                die("gradient of %s has no shape", op_info[m->op].name);
            ad.adj[in->id] = ad.adj[in->id] ? b_binary(g, OP_ADD, ad.adj[in->id], contrib, m->loc) : contrib;
        }
    }
    for (int k = 0; k < nwrt; k++)
        out[k] = wrt[k] && wrt[k]->id < n ? ad.adj[wrt[k]->id] : NULL;
    free(ad.adj);
    free(ad.dep);
}
