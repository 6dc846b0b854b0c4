/* sync.c - where a data-parallel training step must stop. A trainer built with --mpi runs the global batch in
 * pieces (chunks of examples, or one rank's share), so a reduction over the batch axis sees only its piece's
 * examples. That is right for the loss, the metrics and the parameters' gradients, which the runtime adds up
 * afterwards, but not for a reduction whose result the step goes on to use per example or to store (batch
 * normalization's statistics, the sums of its backward pass, its running statistics): such a sum couples the
 * examples of the global batch. The step is then cut into phases after each of those sums; between two phases
 * the runtime replaces each piece's partial sum, in its buffer, with the global batch's (train_dist.c). */
#include "dlc.h"

/* Whether n's value reaches, through nodes without a batch axis, a node with one or a state's new value. */
static bool used_per_example(Sched *s, IrNode *n, IrNode **updates, int nupdates, bool *seen) {
    Graph *g = s->g;
    IrNode *stack[1024];
    int sp = 0;
    stack[sp++] = n;
    seen[n->id] = true;
    while (sp) {
        IrNode *v = stack[--sp];
        for (int i = 0; i < nupdates; i++)
            if (updates[i] == v)
                return true;
        for (int k = 0; k < g->nodes.n; k++) {
            IrNode *u = g->nodes.v[k];
            if (!s->live[u->id] || seen[u->id])
                continue;
            for (int j = 0; j < u->nin; j++)
                if (u->in[j] == v) {
                    if (u->shape.batched)
                        return true;
                    seen[u->id] = true;
                    if (sp == (int)(sizeof stack / sizeof *stack))
                        return true; /* too deep to follow: stopping there is the safe answer */
                    stack[sp++] = u;
                    break;
                }
        }
    }
    return false;
}

static bool reads_batch(const IrNode *n) {
    for (int j = 0; j < n->nin; j++)
        if (n->in[j]->shape.batched)
            return true;
    return false;
}

/* The sums over the batch that a parameter's gradient is computed from, following nodes without a batch axis
 * from it: whether one is a sync (global) and whether one is not (partial). */
static void grad_sources(Sched *s, IrNode *grad, const bool *is_sync, bool *seen, bool *global, bool *partial) {
    IrNode *stack[1024];
    int sp = 0;
    stack[sp++] = grad;
    while (sp) {
        IrNode *n = stack[--sp];
        if (seen[n->id] || n->shape.batched)
            continue;
        seen[n->id] = true;
        if (reads_batch(n)) {
            *(is_sync[n->id] ? global : partial) = true;
            continue;
        }
        for (int j = 0; j < n->nin; j++)
            if (sp < (int)(sizeof stack / sizeof *stack))
                stack[sp++] = n->in[j];
            else
                *global = *partial = true; /* too deep to follow: refused below */
    }
    (void)s;
}

/* A gradient computed from syncs alone (batch_norm's weight and bias: dy's sums, which its input's gradient reads
 * too) is the global batch's in every piece, not the piece's share: c->global_grads lists them, and the runtime
 * counts one piece's. One that adds both kinds cannot be split by piece and is refused. */
static bool global_grads(Compiled *c) {
    Sched *s = &c->fn[FN_TRAIN];
    Graph *g = s->g;
    bool *is_sync = xalloc(c->ctx, sizeof(bool) * (size_t)g->nodes.n);
    bool *seen = xalloc(c->ctx, sizeof(bool) * (size_t)g->nodes.n);
    for (int i = 0; i < c->nsyncs; i++)
        is_sync[s->kernels.v[c->sync_after[i]]->id] = true;
    c->global_grads = xalloc(c->ctx, sizeof(int) * (size_t)(g->params.n + 1));
    c->nglobal_grads = 0;
    bool ok = true;
    for (int i = 0; i < g->params.n; i++) {
        if (!c->grads[i] || !c->train->params.v[i].trainable || c->nsyncs == 0)
            continue;
        IrNode *gn = ir_storage(c->grads[i]);
        bool global = false, partial = false;
        memset(seen, 0, sizeof(bool) * (size_t)g->nodes.n);
        grad_sources(s, gn, is_sync, seen, &global, &partial);
        if (global && partial) {
            error_at(gn->loc,
                     "--mpi: the gradient of %s adds sums over the batch to values computed from the global batch's "
                     "statistics, which a data-parallel trainer cannot split by piece of the batch",
                     g->params.v[i].name);
            ok = false;
        } else if (global) {
            if (s->offset[gn->id] < 0)
                die("a gradient without a buffer");
            c->global_grads[c->nglobal_grads++] = i;
        }
    }
    return ok;
}

/* Requires the training schedule, planned; fills c->sync_after (kernel indices) and c->nsyncs, c->nsyncs_fwd.
 * False, after a located error per reduction, when one that couples the batch is not a sum. */
bool sync_points(Compiled *c) {
    Sched *s = &c->fn[FN_TRAIN];
    Graph *g = s->g;
    Ctx *ctx = c->ctx;
    c->sync_after = xalloc(ctx, sizeof(int) * (size_t)(s->kernels.n + 1));
    c->nsyncs = c->nsyncs_fwd = 0;
    bool ok = true;
    bool *seen = xalloc(ctx, sizeof(bool) * (size_t)g->nodes.n);
    for (int k = 0; k < s->kernels.n; k++) {
        IrNode *n = s->kernels.v[k];
        if (n->shape.batched || !reads_batch(n))
            continue;
        memset(seen, 0, sizeof(bool) * (size_t)g->nodes.n);
        if (!used_per_example(s, n, c->updates, c->nupdates, seen))
            continue;
        if (n->op != OP_SUM) {
            error_at(n->loc,
                     "--mpi: %s reduces over the batch and the training step uses its result per example; a "
                     "data-parallel trainer completes only sums over the batch across its ranks",
                     op_info[n->op].name);
            ok = false;
            continue;
        }
        if (s->offset[n->id] < 0)
            die("a sum over the batch without a buffer");
        c->sync_after[c->nsyncs++] = k;
        if (k < s->train_split)
            c->nsyncs_fwd++;
    }
    return ok && global_grads(c);
}
