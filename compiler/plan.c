/* plan.c: the static memory plan.
 *
 * Every materialised node gets a buffer at a fixed offset of one arena. Offsets come from liveness over the
 * kernel order: a buffer is busy from the kernel that writes it to the last kernel that reads it (through
 * views and fused consumers), then its bytes are free for later buffers. Two placements are made and the one with
 * the smaller arena is kept: first fit in time order, and largest first (plan_place). Roots stay live to the
 * end of the function, so callers can read outputs and gradients. Alignment is 64 bytes, a cache line.
 *
 * Pinned buffers (the training step's gradients) come first, one after another from offset 0 in the order given,
 * and stay busy for the whole function: a data-parallel trainer then sums every gradient across ranks with one
 * call over [0, pinned_bytes). It costs arena bytes only where the peak was in the forward pass.
 *
 * Requires: sched_build. Guarantees: s->offset for every kernel node, arena_bytes >= every live buffer's end,
 * no two buffers that are live at once overlap, and pinned kernels (each once) fill [0, s->pinned_bytes). */
#include "dlc.h"

#define ALIGN 64

static int64_t align_up(int64_t v) { return (v + ALIGN - 1) / ALIGN * ALIGN; }

/* Marks the kernel index `k` as a reader of every buffer that node n reads, looking through fused nodes. */
static void note_reads(Sched *s, IrNode *n, int k, int *last) {
    for (int i = 0; i < n->nin; i++) {
        IrNode *in = ir_storage(n->in[i]);
        if (s->inl[in->id])
            note_reads(s, in, k, last);
        else if (last[in->id] < k)
            last[in->id] = k;
    }
}

typedef struct Block {
    int64_t off, size;
    int free_after; /* the last time the buffer is read */
} Block;

typedef Vec(Block) Blocks;

/* The lowest offset where `size` bytes fit between the busy blocks; the new block is busy until `until`. */
static int64_t first_fit(Ctx *ctx, Blocks *busy, int64_t size, int until, int64_t *top) {
    for (int i = 1; i < busy->n; i++)
        for (int j = i; j > 0 && busy->v[j - 1].off > busy->v[j].off; j--) {
            Block t = busy->v[j];
            busy->v[j] = busy->v[j - 1];
            busy->v[j - 1] = t;
        }
    int64_t off = 0;
    for (int i = 0; i < busy->n; i++) {
        if (busy->v[i].off - off >= size)
            break;
        if (busy->v[i].off + busy->v[i].size > off)
            off = busy->v[i].off + busy->v[i].size;
    }
    Block b = {off, size, until};
    vec_push(ctx, busy, b);
    if (off + size > *top)
        *top = off + size;
    return off;
}

/* First fit in order of time: each buffer at the lowest offset clear of the ones still busy when it is written. */
static int64_t place_in_time_order(Ctx *ctx, const PlanBuf *b, int n, int64_t *off) {
    Blocks busy = {0};
    int64_t top = 0;
    for (int i = 0; i < n; i++) {
        /* release buffers whose last reader ran before this one is written */
        int w = 0;
        for (int j = 0; j < busy.n; j++)
            if (busy.v[j].free_after >= b[i].start)
                busy.v[w++] = busy.v[j];
        busy.n = w;
        off[i] = first_fit(ctx, &busy, b[i].size, b[i].end, &top);
    }
    return top;
}

/* Largest first (ties in time order), each at the lowest offset clear of every buffer already placed whose time
 * overlaps its own; the buffers busy from the start (start < 0: the pinned gradients) first, in the order given, so
 * they keep their places one after another from 0. Knowing every lifetime, the big activations go in first and the
 * small ones fill the holes between them, where time order leaves holes a big one later cannot use. */
static int64_t place_largest_first(Ctx *ctx, const PlanBuf *b, int n, int64_t *off) {
    int *order = xalloc(ctx, sizeof(int) * (size_t)(n > 0 ? n : 1));
    int np = 0;
    for (int i = 0; i < n; i++)
        if (b[i].start < 0)
            order[np++] = i;
    int m = np;
    for (int i = 0; i < n; i++)
        if (b[i].start >= 0) { /* insertion by size, descending; stable, so equal sizes stay in time order */
            int j = m++;
            for (; j > np && b[order[j - 1]].size < b[i].size; j--)
                order[j] = order[j - 1];
            order[j] = i;
        }
    Block *clash = xalloc(ctx, sizeof(Block) * (size_t)(n > 0 ? n : 1));
    int64_t top = 0;
    for (int k = 0; k < n; k++) {
        const PlanBuf *x = &b[order[k]];
        int nc = 0; /* the placed buffers busy at some time x is, by offset */
        for (int q = 0; q < k; q++) {
            const PlanBuf *y = &b[order[q]];
            if (y->start <= x->end && x->start <= y->end) {
                int j = nc++;
                for (; j > 0 && clash[j - 1].off > off[order[q]]; j--)
                    clash[j] = clash[j - 1];
                clash[j] = (Block){off[order[q]], y->size, 0};
            }
        }
        int64_t at = 0;
        for (int j = 0; j < nc && clash[j].off - at < x->size; j++)
            if (clash[j].off + clash[j].size > at)
                at = clash[j].off + clash[j].size;
        off[order[k]] = at;
        if (at + x->size > top)
            top = at + x->size;
    }
    return top;
}

int64_t plan_place(Ctx *ctx, const PlanBuf *b, int n) {
    int64_t *first = xalloc(ctx, sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    int64_t *largest = xalloc(ctx, sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    int64_t top_first = place_in_time_order(ctx, b, n, first);
    int64_t top_largest = place_largest_first(ctx, b, n, largest);
    const int64_t *off = top_largest < top_first ? largest : first;
    for (int i = 0; i < n; i++)
        if (b[i].at)
            *b[i].at = off[i];
    return top_largest < top_first ? top_largest : top_first;
}

int *plan_last_use(Sched *s) {
    int n = s->g->nodes.n;
    int *last = xalloc(s->g->ctx, sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++)
        last[i] = -1;
    for (int k = 0; k < s->kernels.n; k++) {
        last[s->kernels.v[k]->id] = k;
        note_reads(s, s->kernels.v[k], k, last);
    }
    return last;
}

int64_t plan_saved_bytes(Sched *s, int elem_size) {
    int *last = plan_last_use(s);
    int64_t bytes = 0;
    for (int k = 0; k < s->train_split; k++) {
        IrNode *m = s->kernels.v[k];
        if (last[m->id] >= s->train_split)
            bytes += plan_bytes(m, elem_size);
    }
    return bytes;
}

int64_t plan_bytes(const IrNode *n, int elem_size) { return align_up(shape_numel(&n->shape) * elem_size); }

void plan_memory(Sched *s, int elem_size, IrNode **pinned, int npinned) {
    Ctx *ctx = s->g->ctx;
    Graph *g = s->g;
    int n = g->nodes.n, nk = s->kernels.n;
    s->offset = xalloc(ctx, sizeof(int64_t) * (size_t)n);
    s->scratch = xalloc(ctx, sizeof(int64_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        s->offset[i] = -1;
        s->scratch[i] = -1;
    }
    int *last = plan_last_use(s);
    for (int i = 0; i < s->roots.n; i++)
        last[ir_storage(s->roots.v[i])->id] = nk;

    Vec(PlanBuf) bufs = {0};
    int64_t total = 0;
    bool *kernel = xalloc(ctx, sizeof(bool) * (size_t)n);
    for (int k = 0; k < nk; k++)
        kernel[s->kernels.v[k]->id] = true;
    s->pinned_all = true;
    int64_t pinned_top = 0;
    for (int i = 0; i < npinned; i++) {
        IrNode *m = ir_storage(pinned[i]);
        if (!kernel[m->id]) { /* a leaf (an input, a constant): not in the arena */
            s->pinned_all = false;
            continue;
        }
        if (s->offset[m->id] >= 0) /* shared by two parameters: hash-consing made their gradients one node */
            continue;
        int64_t size = plan_bytes(m, elem_size);
        total += size;
        s->offset[m->id] = pinned_top; /* placed below as the first buffers: one after another */
        pinned_top += size;
        vec_push(ctx, &bufs, ((PlanBuf){size, -1, nk, &s->offset[m->id]}));
    }
    s->pinned_bytes = pinned_top;
    for (int k = 0; k < nk; k++) {
        IrNode *m = s->kernels.v[k];
        if (s->offset[m->id] < 0) { /* pinned ones were placed above; their scratch is placed as any kernel's */
            int64_t size = plan_bytes(m, elem_size);
            total += size;
            if (size)
                vec_push(ctx, &bufs, ((PlanBuf){size, k, last[m->id], &s->offset[m->id]}));
        }
        int64_t col = op_scratch(m);
        if (col > 0) {
            int64_t bytes = align_up(col * elem_size);
            total += bytes;
            vec_push(ctx, &bufs, ((PlanBuf){bytes, k, k, &s->scratch[m->id]}));
        }
    }
    s->arena_bytes = plan_place(ctx, bufs.v, bufs.n);
    s->arena_bytes_noreuse = total;
}
