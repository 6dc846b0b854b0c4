/* recompute.c: `--recompute`: cheap forward values computed again in backward instead of kept alive for it.
 *
 * A training step keeps every forward buffer that backward reads alive from the forward pass to its last backward
 * reader, so at the start of backward the saved activations are most of the arena's peak. An element-wise forward
 * kernel (a ReLU, batch norm's normalize and scale-shift over the batch's saved statistics, a residual addition,
 * dropout's mask times x) can instead be computed again from the buffers its own loop reads, right before
 * backward needs it. Its copy is built by ir_copy: the same op, attributes and inputs, so the emitter writes the
 * same C expression over the same bytes and the values are bit-identical; the copy is only marked so that
 * hash-consing keeps it a node of its own. It pays when the inputs stay live anyway (a convolution's output, which
 * batch norm's gradient reads) and the value does not (the ReLU after it, which the next convolution's weight
 * gradient reads); it costs where it keeps those inputs alive longer.
 *
 * The planner decides which values: candidates are tried largest first, and each is kept when the simulated plan
 * of the step (plan.c's plan_place over the same kernel order, the copy's buffer placed just before its first
 * backward reader, or none when the copy fuses into that reader's loop, and the buffers the copy reads kept live
 * until then) has a lower peak than without it. Then the backward graph is built again once, every backward node
 * copied in its order so the kernel order is the old one with the copies inserted, and scheduled and planned for
 * real; if that plan is not smaller, the step keeps its first schedule.
 *
 * Requires: c's training schedule, planned with the gradients `pinned`. Guarantees: c->fn[FN_TRAIN] and c->grads
 * (and `pinned`) describe the step that was kept; c->recompute says what was measured. */
#include "dlc.h"

#include <limits.h>

typedef Vec(int) Ints;

typedef struct Rc {
    Ctx *ctx;
    Sched *s;
    Graph *g;
    int elem, nk, split;
    int *kidx;     /* node id -> its kernel index, or -1 */
    Ints *reads;   /* kernel index -> the buffers (storage node ids) its loop reads */
    int *last;     /* node id -> the last kernel reading it (plan_last_use), nk for roots */
    int *last_fw;  /* node id -> the last forward kernel writing or reading it */
    int *first_bw; /* node id -> the first backward kernel reading it, or -1 */
    int *last_bw;  /* node id -> the last backward kernel reading it */
    int *readers;  /* node id -> the backward nodes that read it */
    bool *other;   /* node id -> one of them reads it through a view, or loops over another shape */
    bool *pinned;
    IrNode **pin;
    int npin;
} Rc;

/* The buffers that kernel k's loop reads, through fused nodes and views. */
static void collect_reads(Rc *r, IrNode *n, int k) {
    for (int i = 0; i < n->nin; i++) {
        IrNode *in = ir_storage(n->in[i]);
        if (r->s->inl[in->id]) {
            collect_reads(r, in, k);
            continue;
        }
        Ints *v = &r->reads[k];
        bool dup = false;
        for (int j = 0; j < v->n && !dup; j++)
            dup = v->v[j] == in->id;
        if (!dup)
            vec_push(r->ctx, v, in->id);
    }
}

static const Shape *loop_shape(const IrNode *n) {
    return op_info[n->op].cls == OPC_REDUCE ? &n->in[0]->shape : &n->shape;
}

/* Kernel k runs at time T(k); the copies it reads are computed at the times just before, a copy before the copies
 * that read it. */
#define T(k) (64 * (k) + 63)

/* The step's peak with the values in `acc` computed again in backward, by the plan's placement over the same kernel
 * order with each copy's buffer (when it needs one) placed just before its first reader; *area gets the bytes live
 * summed over time. A copy reads the copies of the values its loop reads, so a chain (batch norm's normalized x,
 * then the activation over it) is computed again from the first buffer that is kept. */
static int64_t simulate(Rc *r, const bool *acc, double *area) {
    Ctx *ctx = r->ctx;
    int n = r->g->nodes.n;
    int *ext = xalloc(ctx, sizeof(int) * (size_t)n);   /* the time until which a copy keeps a kept buffer live */
    int *first = xalloc(ctx, sizeof(int) * (size_t)n); /* per accepted value: its copy's first and last reader */
    int *lastr = xalloc(ctx, sizeof(int) * (size_t)n);
    int *ncopy = xalloc(ctx, sizeof(int) * (size_t)n); /* copies that read it */
    bool *other = xalloc(ctx, (size_t)n);              /* a copy that reads it has another shape */
    for (int i = 0; i < n; i++) {
        ext[i] = lastr[i] = -1;
        first[i] = INT_MAX;
    }
    Vec(PlanBuf) copies = {0};
    for (int k = r->split - 1; k >= 0; k--) { /* readers before what they read */
        IrNode *x = r->s->kernels.v[k];
        if (!acc[x->id])
            continue;
        int f = first[x->id], l = lastr[x->id];
        if (r->first_bw[x->id] >= 0) {
            if (T(r->first_bw[x->id]) < f)
                f = T(r->first_bw[x->id]);
            if (T(r->last_bw[x->id]) > l)
                l = T(r->last_bw[x->id]);
        }
        bool fused = r->readers[x->id] + ncopy[x->id] == 1 && !r->other[x->id] && !other[x->id];
        int at = fused ? f : f - 1 > 64 * (f / 64) ? f - 1 : 64 * (f / 64);
        if (!fused)
            vec_push(ctx, &copies, ((PlanBuf){plan_bytes(x, r->elem), at, l, NULL}));
        for (int j = 0; j < r->reads[k].n; j++) {
            int y = r->reads[k].v[j];
            if (acc[y]) {
                if (at < first[y])
                    first[y] = at;
                if (at > lastr[y])
                    lastr[y] = at;
                ncopy[y]++;
                other[y] |= !shape_eq(&r->g->nodes.v[y]->shape, &x->shape);
            } else if (ext[y] < at) {
                ext[y] = at;
            }
        }
    }
    for (int i = 1; i < copies.n; i++) /* by time, stable */
        for (int j = i; j > 0 && copies.v[j - 1].start > copies.v[j].start; j--) {
            PlanBuf t = copies.v[j];
            copies.v[j] = copies.v[j - 1];
            copies.v[j - 1] = t;
        }
    Vec(PlanBuf) bufs = {0};
    for (int i = 0; i < r->npin; i++) {
        bool dup = false; /* as plan_memory: each kernel once, leaves not at all */
        for (int j = 0; j < i && !dup; j++)
            dup = r->pin[j] == r->pin[i];
        if (!dup && r->kidx[r->pin[i]->id] >= 0)
            vec_push(ctx, &bufs, ((PlanBuf){plan_bytes(r->pin[i], r->elem), -1, T(r->nk), NULL}));
    }
    int c = 0;
    for (int k = 0; k < r->nk; k++) {
        while (c < copies.n && copies.v[c].start < T(k))
            vec_push(ctx, &bufs, copies.v[c++]);
        IrNode *m = r->s->kernels.v[k];
        int end = T(acc[m->id] ? r->last_fw[m->id] : r->last[m->id]);
        if (ext[m->id] > end)
            end = ext[m->id];
        int64_t size = plan_bytes(m, r->elem);
        if (!r->pinned[m->id] && size)
            vec_push(ctx, &bufs, ((PlanBuf){size, T(k), end, NULL}));
        int64_t col = op_scratch(m);
        if (col > 0)
            vec_push(ctx, &bufs, ((PlanBuf){(col * r->elem + 63) / 64 * 64, T(k), T(k), NULL}));
    }
    *area = 0;
    for (int i = 0; i < bufs.n; i++)
        *area += (double)bufs.v[i].size * (bufs.v[i].end - bufs.v[i].start + 1);
    return plan_place(ctx, bufs.v, bufs.n);
}

static IrNode *copy_value(Rc *r, IrNode *n, const bool *acc, IrNode **memo);

/* n, read inside a copied value's loop: the fused element-wise nodes are copied too (they have one consumer, which
 * stays theirs), dropout masks (recomputed wherever read) are read as they are, and buffers as backward reads
 * them: a value computed again is read from its copy. */
static IrNode *copy_loop(Rc *r, IrNode *n, const bool *acc, IrNode **memo) {
    if (!r->s->inl[n->id] || op_rule(n->op)->recompute)
        return copy_value(r, n, acc, memo);
    IrNode *in[MAX_IN];
    for (int i = 0; i < n->nin; i++)
        in[i] = copy_loop(r, n->in[i], acc, memo);
    return ir_copy(r->g, n, in);
}

/* A forward node as backward reads it: an accepted value's copy (one per value), a view over such a copy, or n. */
static IrNode *copy_value(Rc *r, IrNode *n, const bool *acc, IrNode **memo) {
    if (memo[n->id])
        return memo[n->id];
    IrNode *c = n;
    if (op_info[n->op].cls == OPC_VIEW) {
        IrNode *in[MAX_IN];
        for (int i = 0; i < n->nin; i++)
            in[i] = i == 0 ? copy_value(r, n->in[0], acc, memo) : n->in[i];
        if (in[0] != n->in[0])
            c = ir_copy(r->g, n, in);
    } else if (acc[n->id]) {
        IrNode *in[MAX_IN];
        for (int i = 0; i < n->nin; i++)
            in[i] = copy_loop(r, n->in[i], acc, memo);
        c = ir_copy(r->g, n, in);
    }
    return memo[n->id] = c;
}

static void analyse(Rc *r) {
    Ctx *ctx = r->ctx;
    Sched *s = r->s;
    int n = r->g->nodes.n;
    r->kidx = xalloc(ctx, sizeof(int) * (size_t)n);
    r->last_fw = xalloc(ctx, sizeof(int) * (size_t)n);
    r->first_bw = xalloc(ctx, sizeof(int) * (size_t)n);
    r->last_bw = xalloc(ctx, sizeof(int) * (size_t)n);
    r->pinned = xalloc(ctx, (size_t)n);
    r->reads = xalloc(ctx, sizeof(Ints) * (size_t)(r->nk + 1));
    for (int i = 0; i < n; i++)
        r->kidx[i] = r->last_fw[i] = r->first_bw[i] = r->last_bw[i] = -1;
    for (int i = 0; i < r->npin; i++)
        r->pinned[r->pin[i]->id] = true;
    r->last = plan_last_use(s);
    for (int i = 0; i < s->roots.n; i++)
        r->last[ir_storage(s->roots.v[i])->id] = r->nk;
    for (int k = 0; k < r->nk; k++) {
        IrNode *m = s->kernels.v[k];
        r->kidx[m->id] = k;
        if (k < r->split)
            r->last_fw[m->id] = k;
        collect_reads(r, m, k);
        for (int j = 0; j < r->reads[k].n; j++) {
            int id = r->reads[k].v[j];
            if (k < r->split) {
                r->last_fw[id] = k;
            } else {
                if (r->first_bw[id] < 0)
                    r->first_bw[id] = k;
                r->last_bw[id] = k;
            }
        }
    }
    /* a copy fuses where one backward node reads the value, directly, in a loop over its shape (fuse.c's rule) */
    bool *fwd = xalloc(ctx, (size_t)n);
    ir_mark_live(r->g, s->roots.v, s->nfwd_roots, fwd);
    int *readers = r->readers = xalloc(ctx, sizeof(int) * (size_t)n);
    bool *other = r->other = xalloc(ctx, (size_t)n);
    for (int id = 0; id < n; id++) {
        IrNode *b = r->g->nodes.v[id];
        if (!s->live[id] || fwd[id])
            continue;
        for (int i = 0; i < b->nin; i++) {
            IrNode *in = b->in[i];
            bool dup = false;
            for (int j = 0; j < i; j++)
                dup |= b->in[j] == in;
            if (dup)
                continue;
            IrNode *st = ir_storage(in);
            readers[st->id]++;
            OpClass c = op_info[b->op].cls;
            if (st != in || !((c == OPC_ELEM || c == OPC_REDUCE) && shape_eq(loop_shape(b), &in->shape)))
                other[st->id] = true;
        }
    }
}

/* Builds the backward graph again over the copies of the values in `acc`: every live backward node is copied in
 * id order, so the kernels keep their order with each copy before its first reader. Returns the step's roots. */
static IrNode **rebuild(Rc *r, const bool *acc, IrNode **grads, int np) {
    Ctx *ctx = r->ctx;
    Sched *s = r->s;
    int n = r->g->nodes.n;
    bool *fwd = xalloc(ctx, (size_t)n);
    ir_mark_live(r->g, s->roots.v, s->nfwd_roots, fwd);
    IrNode **map = xalloc(ctx, sizeof(IrNode *) * (size_t)n), **memo = xalloc(ctx, sizeof(IrNode *) * (size_t)n);
    for (int id = 0; id < n; id++)
        map[id] = r->g->nodes.v[id];
    for (int id = 0; id < n; id++) {
        IrNode *b = r->g->nodes.v[id];
        if (!s->live[id] || fwd[id] || op_info[b->op].cls == OPC_LEAF)
            continue;
        IrNode *in[MAX_IN];
        for (int i = 0; i < b->nin; i++)
            in[i] = fwd[b->in[i]->id] ? copy_value(r, b->in[i], acc, memo) : map[b->in[i]->id];
        map[id] = ir_copy(r->g, b, in);
    }
    IrNode **roots = xalloc(ctx, sizeof(IrNode *) * (size_t)(s->roots.n + 1));
    for (int i = 0; i < s->roots.n; i++)
        roots[i] = s->roots.v[i] ? map[s->roots.v[i]->id] : NULL;
    for (int i = 0; i < np; i++)
        if (grads[i])
            grads[i] = map[grads[i]->id];
    for (int i = 0; i < r->npin; i++)
        r->pin[i] = map[r->pin[i]->id];
    return roots;
}

/* Schedules and plans the training step over `roots`, into a fresh schedule. */
static Sched schedule(Compiled *c, const Sched *old, IrNode **roots, IrNode **pin, int npin) {
    Sched s = {0};
    s.nfwd_roots = old->nfwd_roots;
    sched_build(&s, c->train, FN_TRAIN, roots, old->roots.n);
    plan_memory(&s, c->elem_size, pin, npin);
    return s;
}

/* Improves the set `acc` (values computed again) one candidate at a time: a value goes in when the simulated peak
 * falls, or stays while fewer bytes are live over the step (which may let a later value lower the peak), and out
 * when the peak does not rise without it. Returns the number in the set. */
static int choose(Rc *r, const Ints *cand, bool *acc) {
    double best_area, area;
    int64_t best = simulate(r, acc, &best_area);
    for (int i = 0; i < cand->n; i++) {
        int id = r->s->kernels.v[cand->v[i]]->id;
        if (acc[id])
            continue;
        acc[id] = true;
        int64_t peak = simulate(r, acc, &area);
        if (peak < best || (peak == best && area < best_area)) {
            best = peak;
            best_area = area;
        } else {
            acc[id] = false;
        }
    }
    int chosen = 0;
    for (int i = cand->n - 1; i >= 0; i--) {
        int id = r->s->kernels.v[cand->v[i]]->id;
        if (!acc[id])
            continue;
        acc[id] = false;
        int64_t peak = simulate(r, acc, &area);
        if (peak > best)
            acc[id] = true;
        else
            best = peak;
        chosen += acc[id];
    }
    return chosen;
}

void pass_recompute(Compiled *c, IrNode **pin, int npin) {
    Ctx *ctx = c->ctx;
    Sched *s = &c->fn[FN_TRAIN];
    RecomputeStats *st = &c->recompute;
    st->tried = true;
    st->arena_after = s->arena_bytes;
    st->saved_after = st->saved_before;
    Rc r = {.ctx = ctx, .s = s, .g = c->train, .elem = c->elem_size, .nk = s->kernels.n, .split = s->train_split};
    r.pin = xalloc(ctx, sizeof(IrNode *) * (size_t)(npin + 1));
    for (int i = 0; i < npin; i++)
        r.pin[i] = ir_storage(pin[i]);
    r.npin = npin;
    analyse(&r);

    /* candidates: element-wise forward kernels that backward reads, largest first (then in kernel order) */
    int n = c->train->nodes.n;
    bool *acc = xalloc(ctx, (size_t)n);
    Ints cand = {0};
    for (int k = 0; k < r.split; k++) {
        IrNode *x = s->kernels.v[k];
        if (op_info[x->op].cls == OPC_ELEM && r.first_bw[x->id] >= 0 && r.last[x->id] < r.nk && !r.pinned[x->id])
            vec_push(ctx, &cand, k);
    }
    for (int i = 1; i < cand.n; i++)
        for (int j = i;
             j > 0 && shape_numel(&s->kernels.v[cand.v[j - 1]]->shape) < shape_numel(&s->kernels.v[cand.v[j]]->shape);
             j--) {
            int t = cand.v[j];
            cand.v[j] = cand.v[j - 1];
            cand.v[j - 1] = t;
        }
    /* two starts, the better kept: none computed again, and every candidate (where the placement's holes hide what
     * one value alone saves) */
    bool *all = xalloc(ctx, (size_t)n);
    for (int i = 0; i < cand.n; i++)
        all[s->kernels.v[cand.v[i]]->id] = true;
    int chosen = choose(&r, &cand, acc), chosen_all = choose(&r, &cand, all);
    double area;
    int64_t peak = simulate(&r, acc, &area), peak_all = simulate(&r, all, &area);
    if (peak_all < peak || (peak_all == peak && chosen_all < chosen)) {
        acc = all;
        chosen = chosen_all;
    }
    st->candidates = cand.n;
    if (!chosen)
        return;

    int np = c->train->params.n;
    IrNode **grads = xalloc(ctx, sizeof(IrNode *) * (size_t)(np + 1));
    memcpy(grads, c->grads, sizeof(IrNode *) * (size_t)np);
    IrNode **oldpin = xalloc(ctx, sizeof(IrNode *) * (size_t)(npin + 1));
    memcpy(oldpin, pin, sizeof(IrNode *) * (size_t)npin);
    IrNode **roots = rebuild(&r, acc, grads, np);
    for (int i = 0; i < npin; i++)
        pin[i] = r.pin[i];
    Sched s2 = schedule(c, s, roots, pin, npin);

    if (s2.arena_bytes < s->arena_bytes) {
        *s = s2;
        memcpy(c->grads, grads, sizeof(IrNode *) * (size_t)np);
        st->values = chosen;
        st->arena_after = s->arena_bytes;
        st->saved_after = plan_saved_bytes(s, c->elem_size);
        return;
    }
    /* not smaller after all: the first schedule again, over the graph that now holds the unused copies */
    memcpy(pin, oldpin, sizeof(IrNode *) * (size_t)npin);
    *s = schedule(c, s, s->roots.v, pin, npin);
}
