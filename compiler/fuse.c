/* fuse.c: a function's schedule: liveness from its roots (dead-node elimination), fusion, kernel order.
 *
 * Fusion is decided per element-wise node by one rule: a node whose single consumer loops over exactly its
 * shape (an element-wise op of the same shape, or a reduction over it) is computed inside that consumer's loop
 * instead of being stored. Applied over the whole graph this turns chains such as bias + activation, an
 * activation's gradient, or |x| summed, into one loop each. Dropout masks are recomputed from their hash
 * wherever they are used, so they are never stored at all. Common subexpressions were merged when the nodes
 * were built (hash-consing), and constants folded (the ops' builders).
 *
 * Inference and evaluation schedules go one step further: a kernel whose function can (OpRule.epilogue: the direct
 * convolutions, the batch-1 products) computes its one element-wise consumer too, when that reads nothing but the
 * kernel's result, scalars and leaves that vary along the output channels alone (bias + activation), and then the
 * 2x2 pooling that is that consumer's one reader. The kernel applies them to its results before they leave the
 * registers, so the element-wise loop and the pooling pass disappear with their buffers. Training's step keeps its
 * kernels' outputs (its backward pass and --recompute read them).
 *
 * Requires: roots whose inputs all precede them (node ids); for FN_TRAIN, s->nfwd_roots set. Guarantees: s->kernels
 * lists every node that needs a loop or a library call, in an order that respects dependencies; s->inl marks the fused
 * ones; s->epilogue, s->pooled and s->producer describe the epilogues (dlc.h). */
#include "dlc.h"

/* The shape a node's loop iterates over when it is emitted as a loop. */
static const Shape *loop_shape(const IrNode *n) {
    return op_info[n->op].cls == OPC_REDUCE ? &n->in[0]->shape : &n->shape;
}

/* Bounds the loop that computes m with its fused inputs: at most FUSE_MAX_SRC operands (the emitter's nest) and
 * an expression at most FUSE_MAX_DEPTH deep, so that the emitter's strings and the passes' walks over a fused tree
 * stay small whatever the model (a chain of 100,000 element-wise ops fuses into loops of FUSE_MAX_DEPTH). Where m
 * would exceed either, its fused input with the most operands (or the deepest) is materialised instead, until m
 * fits. Counts are over the tree (an operand read twice counts twice), an upper bound of what the nest holds. The
 * inputs' decisions are final when m is visited (ids are a topological order); un-fusing an input that several
 * recompute consumers share only lowers the others' counts. */
static void bound_loop(Sched *s, IrNode *m, int *nsrc, int *depth) {
    for (;;) {
        int ns = 0, dp = 0, worst_src = -1, worst_depth = -1;
        for (int k = 0; k < m->nin; k++) {
            IrNode *in = m->in[k];
            double v;
            if (s->inl[in->id]) {
                ns += nsrc[in->id];
                if (depth[in->id] > dp)
                    dp = depth[in->id];
                if (worst_src < 0 || nsrc[in->id] > nsrc[m->in[worst_src]->id])
                    worst_src = k;
                if (worst_depth < 0 || depth[in->id] > depth[m->in[worst_depth]->id])
                    worst_depth = k;
            } else if (!(ir_is_const(in, &v) && in->shape.rank == 0)) {
                ns++;
            }
        }
        nsrc[m->id] = ns;
        depth[m->id] = dp + 1;
        if (ns > FUSE_MAX_SRC && worst_src >= 0)
            s->inl[m->in[worst_src]->id] = false;
        else if (dp + 1 > FUSE_MAX_DEPTH && worst_depth >= 0)
            s->inl[m->in[worst_depth]->id] = false;
        else
            return;
    }
}

/* Whether operand shape `a`, aligned right against kernel output shape `k`, varies along axis 1 alone. */
static bool per_channel(const Shape *k, const Shape *a) {
    int off = k->rank - a->rank;
    if (a->batched || off < 0 || k->rank < 2)
        return false;
    for (int d = 0; d < a->rank; d++)
        if (a->d[d] != 1 && d + off != 1)
            return false;
    return true;
}

/* Whether kernel k can compute node m, read inside m's fused loop: every operand there is k itself, a scalar
 * constant or a leaf that varies along the output channels alone (at most EPI_MAX_BIAS reads), and no op needs
 * more than its operands (a dropout mask hashes its flat index, divcount reads the batch size). */
static bool epilogue_tree(const Sched *s, const IrNode *k, const IrNode *m, int *nbias) {
    if (op_rule(m->op)->recompute || m->op == OP_DIVCOUNT || m->dtype != k->dtype)
        return false;
    for (int i = 0; i < m->nin; i++) {
        const IrNode *in = m->in[i];
        double v;
        if (in == k || (ir_is_const(in, &v) && in->shape.rank == 0))
            continue;
        if (s->inl[in->id]) {
            if (!epilogue_tree(s, k, in, nbias))
                return false;
            continue;
        }
        if (op_info[ir_storage((IrNode *)in)->op].cls != OPC_LEAF || !per_channel(&k->shape, &in->shape) ||
            ++*nbias > EPI_MAX_BIAS)
            return false;
    }
    return true;
}

/* The epilogues of an inference or evaluation schedule, after the inline decisions (the comment at the top). */
static void find_epilogues(Sched *s, IrNode **consumer, const bool *is_root) {
    Graph *g = s->g;
    if (s->kind == FN_TRAIN || g->keep_outputs)
        return;
    for (int id = 0; id < g->nodes.n; id++) {
        IrNode *k = g->nodes.v[id], *m = consumer[id];
        const OpRule *r = op_rule(k->op);
        unsigned can = s->live[id] && r->epilogue ? r->epilogue(k) : 0;
        int nbias = 0;
        /* (a kernel with scratch keeps its place: the plan gives scratch to the kernels it lists) */
        if (!(can & EPI_ELEM) || is_root[id] || s->uses[id] != 1 || op_scratch(k) > 0)
            continue;
        while (s->inl[m->id] && !op_rule(m->op)->recompute) /* the loop k's consumer is fused into */
            m = consumer[m->id];
        if (op_info[m->op].cls != OPC_ELEM || s->inl[m->id] || !shape_eq(&m->shape, &k->shape) ||
            !epilogue_tree(s, k, m, &nbias))
            continue;
        s->epilogue[id] = m;
        s->inl[id] = true;
        IrNode *last = m, *p = consumer[m->id];
        if ((can & EPI_POOL) && !is_root[m->id] && s->uses[m->id] == 1 && pool_fusable(p)) {
            s->pooled[id] = p;
            s->inl[m->id] = true;
            last = p;
        }
        s->producer[last->id] = k;
    }
}

void sched_build(Sched *s, Graph *g, FnKind kind, IrNode **roots, int nroots) {
    Ctx *ctx = g->ctx;
    int n = g->nodes.n;
    s->kind = kind;
    s->g = g;
    for (int i = 0; i < nroots; i++)
        vec_push(ctx, &s->roots, roots[i]);
    s->live = xalloc(ctx, (size_t)n);
    s->inl = xalloc(ctx, (size_t)n);
    s->uses = xalloc(ctx, sizeof(int) * (size_t)n);
    s->epilogue = xalloc(ctx, sizeof(IrNode *) * (size_t)n);
    s->pooled = xalloc(ctx, sizeof(IrNode *) * (size_t)n);
    s->producer = xalloc(ctx, sizeof(IrNode *) * (size_t)n);
    ir_mark_live(g, roots, nroots, s->live);

    IrNode **consumer = xalloc(ctx, sizeof(IrNode *) * (size_t)n);
    bool *same_shape_users = xalloc(ctx, (size_t)n);
    for (int id = 0; id < n; id++) {
        if (!s->live[id])
            continue;
        same_shape_users[id] = true;
    }
    for (int id = 0; id < n; id++) {
        IrNode *m = g->nodes.v[id];
        if (!s->live[id])
            continue;
        for (int k = 0; k < m->nin; k++) {
            IrNode *in = m->in[k];
            /* an op that reads the same input twice (x * x) counts once */
            bool dup = false;
            for (int j = 0; j < k; j++)
                dup |= m->in[j] == in;
            if (dup)
                continue;
            s->uses[in->id]++;
            consumer[in->id] = m;
            OpClass c = op_info[m->op].cls;
            if (!((c == OPC_ELEM || c == OPC_REDUCE) && shape_eq(loop_shape(m), &in->shape)))
                same_shape_users[in->id] = false;
        }
    }
    int *nsrc = xalloc(ctx, sizeof(int) * (size_t)n), *depth = xalloc(ctx, sizeof(int) * (size_t)n);
    bool *is_root = xalloc(ctx, (size_t)n); /* a model may have tens of thousands of outputs */
    for (int i = 0; i < nroots; i++)
        if (roots[i])
            is_root[roots[i]->id] = true;
    for (int id = 0; id < n; id++) {
        IrNode *m = g->nodes.v[id];
        if (!s->live[id])
            continue;
        bound_loop(s, m, nsrc, depth);
        if (op_info[m->op].cls != OPC_ELEM || is_root[id])
            continue;
        if (op_rule(m->op)->recompute)
            s->inl[id] = same_shape_users[id];
        else
            s->inl[id] = s->uses[id] == 1 && same_shape_users[id];
    }
    find_epilogues(s, consumer, is_root);

    /* kernels: the forward roots' cone first, so a training step's forward pass is a prefix */
    bool *placed = xalloc(ctx, (size_t)n);
    int nfwd = kind == FN_TRAIN ? s->nfwd_roots : nroots;
    bool *fwd = xalloc(ctx, (size_t)n);
    ir_mark_live(g, roots, nfwd, fwd);
    for (int pass = 0; pass < 2; pass++) {
        for (int id = 0; id < n; id++) {
            IrNode *m = g->nodes.v[id];
            OpClass c = op_info[m->op].cls;
            if (!s->live[id] || placed[id] || (pass == 0 && !fwd[id]))
                continue;
            placed[id] = true;
            s->loops_unfused += c != OPC_LEAF && c != OPC_VIEW;
            if (c == OPC_LEAF || c == OPC_VIEW || s->inl[id])
                continue;
            vec_push(ctx, &s->kernels, m);
        }
        if (pass == 0)
            s->train_split = s->kernels.n;
    }
    s->loops_fused = s->kernels.n;
}
