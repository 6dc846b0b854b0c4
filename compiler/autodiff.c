/* autodiff.c: reverse-mode differentiation that builds the backward pass as nodes of the same graph.
 *
 * Node ids grow in creation order and every input is created before its users, so descending id order is a
 * reverse topological order. Only nodes that lie between a requested `wrt` and `y` get adjoints, so no
 * gradient is built that nothing asks for (the first layer's input gradient, say). Each op's gradient rule
 * (OpRule.grad, in its family's file) is a few builder calls, so gradient nodes are shape-checked like forward
 * ones; the results are ordinary nodes, hash-consed with the forward graph, and go through the same
 * simplification, fusion and planning. This file keeps what is common to every op: the order, the sums of
 * contributions, and the sums over broadcast axes. */
#include "dlc.h"

typedef struct Ad {
    Graph *g;
    IrNode **adj; /* adjoint by node id */
    bool *dep;    /* depends on some wrt */
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

/* Whether an adjoint flows from node n to its input i: not through ops declared gradient-free (comparisons, masks),
 * into the inputs an op declares flat (where's condition), or into integer tensors (labels). */
static bool ad_flows(const IrNode *n, int i) {
    const OpRule *r = op_rule(n->op);
    return r->grad != grad_none && !(r->no_grad_in & (1u << i)) && n->in[i]->dtype == DT_F32;
}

IrNode *grad_none(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)g, (void)n, (void)i, (void)d;
    return NULL;
}

IrNode *grad_refused(Graph *g, IrNode *n, int i, IrNode *d) {
    (void)g, (void)i, (void)d;
    die("no gradient rule for %s (differentiating a gradient is not supported)", op_info[n->op].name);
}

void ad_rule_uses(Graph *g, IrNode *y, IrNode **wrt, int nwrt, bool *used) {
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
    reach[y->id] = dep[y->id];
    for (int id = y->id; id >= 0; id--) {
        IrNode *m = g->nodes.v[id];
        used[id] = false;
        if (!reach[id])
            continue;
        for (int k = 0; k < m->nin; k++)
            if (dep[m->in[k]->id] && ad_flows(m, k))
                used[id] = reach[m->in[k]->id] = true;
    }
    free(dep);
    free(reach);
}

IrNode *ad_unsupported(Graph *g, IrNode *y, IrNode **wrt, int nwrt) {
    bool *used = calloc((size_t)y->id + 1, sizeof(bool));
    if (!used)
        die("out of memory");
    ad_rule_uses(g, y, wrt, nwrt, used);
    IrNode *bad = NULL;
    for (int id = y->id; id >= 0 && !bad; id--)
        if (used[id] && op_rule(g->nodes.v[id]->op)->grad == grad_refused)
            bad = g->nodes.v[id];
    free(used);
    return bad;
}

void ad_grad(Graph *g, IrNode *y, IrNode **wrt, int nwrt, IrNode **out) {
    int n = g->nodes.n;
    Ad ad = {.g = g};
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
        for (int k = 0; k < m->nin; k++) {
            IrNode *in = m->in[k];
            if (!ad.dep[in->id] || in->dtype != DT_F32)
                continue;
            int errors = g->ctx->diag.errors;
            IrNode *contrib = op_rule(m->op)->grad(g, m, k, d);
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
