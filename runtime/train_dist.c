/* train_dist.c - a trainer as one rank of a data-parallel run. The collective operations come from the caller
 * (DlrtDist: libdlrt-mpi implements them over MPI), so libdlrt links no MPI. Every rank reads the same data and
 * shuffles it with the same seed, so every rank holds the same global batch; each runs the model on its share,
 * the gradients are summed across ranks between backward and the optimizer step, and every rank then takes the
 * same step. Dropout masks are keyed by an example's index in the global batch (the model's example_base), so
 * they do not depend on the number of ranks. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The canonical order. A global batch of m examples is cut into K = ceil(m / chunk) chunks (the last one may be
 * shorter); chunk k's gradient is the model's backward pass over chunk k alone, one call of the generated code
 * with the same inputs wherever it runs, scaled by its share of the batch. The chunks are the leaves of one
 * binary tree over 0..K, each node the float sum of its children, the left child holding the largest power of
 * two of chunks below the node's count. Rank r holds a contiguous range of chunks (dlrt_dist_share over K) and
 * adds up the largest subtrees inside it, its "roots" (one when N is a power of two dividing K; at most about
 * 2 log2 K). The gradient vector is cut into N pieces: every rank sends piece j of each of its roots to rank j
 * (exchange_f32), rank j adds the tree's nodes above the roots for its piece, and every rank gathers the pieces
 * (gather_f32). Communication is about two gradients per rank, as a ring all-reduce's, and every sum of the tree
 * is the same floating-point operation on the same operands whatever N is. */
enum { SLAB = 1 << 24 }; /* floats reduced at a time: MPI counts stay below 2^31 and buffers stay bounded */

typedef struct {
    int64_t lo, hi; /* chunks lo..hi */
} Node;

struct DlrtDistTree {
    int size;            /* ranks */
    int64_t ng;          /* floats of gradient */
    int64_t max_chunks;  /* K of a full batch */
    int depth;           /* levels of the tree of max_chunks leaves */
    Node *roots;         /* every rank's roots, in chunk order (so rank by rank); capacity max_roots_all */
    int64_t *first_root; /* [size + 1]: rank r's roots are roots[first_root[r] .. first_root[r + 1]) */
    int max_roots_all;   /* bound on the roots of all ranks */
    float **mine;        /* this rank's roots' sums, ng floats each */
    float **tmp;         /* one per level: a right subtree's sum while its left sibling waits */
    float *send, *recv;  /* one slab's pieces: this rank's roots' for every rank, every rank's roots' of ours */
    float **top;         /* one per level, a piece long: the nodes above the roots */
    int64_t *send_count, *recv_count;
    double *chunk_sums; /* per chunk: loss times its size, then its metrics */
    /* a step in phases (DlrtModel.syncs): every chunk of this rank keeps its own state from the first phase to
     * the last, states[0] the trainer's and the others copies of its parameters; a sync's values of every chunk
     * (sync_all), their tree's sum and one buffer per level of the tree */
    void **states;
    int nstates;
    int64_t first_chunk; /* this rank's first chunk in the current batch */
    float *sync_all, *sync_sum, *sync_tmp;
};

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* The left child's chunk count: the largest power of two below n (n >= 2). */
static int64_t left_count(int64_t n) {
    int64_t p = 1;
    while (2 * p < n)
        p *= 2;
    return p;
}

static int levels(int64_t k) {
    int d = 1;
    for (int64_t p = 1; p < k; p *= 2)
        d++;
    return d;
}

/* Appends to out the largest subtrees of node lo..hi inside chunks a..b, left to right; returns their count. */
static int collect_roots(int64_t lo, int64_t hi, int64_t a, int64_t b, Node *out) {
    if (hi <= a || lo >= b)
        return 0;
    if (a <= lo && hi <= b) {
        if (out)
            *out = (Node){lo, hi};
        return 1;
    }
    int64_t mid = lo + left_count(hi - lo);
    int n = collect_roots(lo, mid, a, b, out);
    return n + collect_roots(mid, hi, a, b, out ? out + n : NULL);
}

/* Every rank's roots for a batch of k chunks, into tr->roots and tr->first_root. */
static void all_roots(const DlrtDist *d, DlrtDistTree *tr, int64_t k) {
    int64_t n = 0;
    for (int r = 0; r < d->size; r++) {
        DlrtDist other = *d;
        other.rank = r;
        int64_t first, count;
        dlrt_dist_share(&other, k, &first, &count);
        tr->first_root[r] = n;
        n += collect_roots(0, k, first, first + count, tr->roots + n);
    }
    tr->first_root[d->size] = n;
}

static int roots_bound(const DlrtDist *d, int64_t k, int rank) {
    DlrtDist other = *d;
    int total = 0;
    for (int r = 0; r < d->size; r++) {
        if (rank >= 0 && r != rank)
            continue;
        other.rank = r;
        int64_t first, count;
        dlrt_dist_share(&other, k, &first, &count);
        total += collect_roots(0, k, first, first + count, NULL);
    }
    return total;
}

static void overlap_free(DlrtTrainer *t);

void dlrt_dist_free(DlrtTrainer *t) {
    overlap_free(t);
    DlrtDistTree *tr = t->tree;
    if (!tr)
        return;
    for (int i = 0; tr->mine && i < tr->max_roots_all; i++)
        free(tr->mine[i]);
    for (int i = 0; i < tr->depth; i++) {
        if (tr->tmp)
            free(tr->tmp[i]);
        if (tr->top)
            free(tr->top[i]);
    }
    free(tr->mine);
    free(tr->tmp);
    free(tr->top);
    free(tr->roots);
    free(tr->first_root);
    free(tr->send);
    free(tr->recv);
    free(tr->send_count);
    free(tr->recv_count);
    free(tr->chunk_sums);
    for (int i = 1; tr->states && i < tr->nstates; i++)
        free(tr->states[i]);
    free(tr->states);
    free(tr->sync_all);
    free(tr->sync_sum);
    free(tr->sync_tmp);
    free(tr);
    t->tree = NULL;
}

/* A step in phases: a state for each chunk this rank may run (at least one, for a rank without a chunk, which
 * still runs the phases to complete the sums and update the running statistics), and the syncs' buffers. */
static int setup_phases(DlrtTrainer *t, const int64_t ks[2]) {
    const DlrtModel *md = t->m;
    DlrtDistTree *tr = t->tree;
    int64_t most = 1, cnt = 1;
    for (int i = 0; i < 2; i++) {
        int64_t first, count;
        dlrt_dist_share(t->dist, ks[i], &first, &count);
        most = count > most ? count : most;
    }
    for (int i = 0; i < md->phases[0] + md->phases[1] - 2; i++)
        cnt = md->syncs[i].count > cnt ? md->syncs[i].count : cnt;
    size_t bytes = (md->state_bytes + 63) / 64 * 64;
    if (!t->chunk)
        most = 1; /* --fast-reduce: the rank's share is one piece */
    if (!(tr->states = calloc((size_t)most, sizeof(void *))))
        return 1;
    tr->nstates = (int)most;
    tr->states[0] = t->state;
    for (int i = 1; i < tr->nstates; i++) {
        if (!(tr->states[i] = aligned_alloc(64, bytes)))
            return 1;
        memset(tr->states[i], 0, bytes);
    }
    if (!t->chunk)
        return 0;
    tr->sync_all = malloc(sizeof(float) * (size_t)(ks[0] * cnt));
    tr->sync_sum = malloc(sizeof(float) * (size_t)cnt);
    tr->sync_tmp = malloc(sizeof(float) * (size_t)(tr->depth * cnt));
    return !tr->sync_all || !tr->sync_sum || !tr->sync_tmp;
}

static int overlap_setup(DlrtTrainer *t);

int dlrt_dist_setup(DlrtTrainer *t) {
    const DlrtDist *d = t->dist;
    if (!d)
        return 0;
    if (!t->chunk && overlap_setup(t))
        goto oom;
    if (!t->chunk && !t->m->syncs)
        return 0;
    DlrtDistTree *tr = t->tree = calloc(1, sizeof *tr);
    if (!tr)
        goto oom;
    if (!t->chunk) {
        int64_t none[2] = {0, 0};
        if (setup_phases(t, none))
            goto oom;
        return 0;
    }
    int64_t batch = t->batch < t->train.n || t->train.n == 0 ? t->batch : t->train.n;
    int64_t ks[2] = {ceil_div(batch, t->chunk), ceil_div(t->train.n % batch, t->chunk)}; /* full, last batch */
    int mine = 0, all = 0;
    for (int i = 0; i < 2; i++) {
        if (ks[i] == 0)
            continue;
        int a = roots_bound(d, ks[i], d->rank), b = roots_bound(d, ks[i], -1);
        mine = a > mine ? a : mine;
        all = b > all ? b : all;
    }
    tr->size = d->size;
    tr->ng = t->m->grad_bytes / (int64_t)sizeof(float);
    tr->max_chunks = ks[0];
    tr->depth = levels(ks[0]);
    tr->max_roots_all = all;
    int64_t slab = tr->ng < SLAB ? tr->ng : SLAB, piece = ceil_div(slab, d->size);
    int nm = t->m->n_metrics;
    tr->roots = malloc(sizeof(Node) * (size_t)(all > 0 ? all : 1));
    tr->first_root = malloc(sizeof(int64_t) * (size_t)(d->size + 1));
    tr->mine = calloc((size_t)(all > 0 ? all : 1), sizeof(float *));
    tr->tmp = calloc((size_t)tr->depth, sizeof(float *));
    tr->top = calloc((size_t)tr->depth, sizeof(float *));
    tr->send = malloc(sizeof(float) * (size_t)(mine * slab + 1));
    tr->recv = malloc(sizeof(float) * (size_t)(all * piece + 1));
    tr->send_count = malloc(sizeof(int64_t) * (size_t)d->size);
    tr->recv_count = malloc(sizeof(int64_t) * (size_t)d->size);
    tr->chunk_sums = malloc(sizeof(double) * (size_t)(ks[0] * (1 + nm)));
    if (!tr->roots || !tr->first_root || !tr->mine || !tr->tmp || !tr->top || !tr->send || !tr->recv ||
        !tr->send_count || !tr->recv_count || !tr->chunk_sums)
        goto oom;
    for (int i = 0; i < mine; i++)
        if (!(tr->mine[i] = malloc(sizeof(float) * (size_t)tr->ng)))
            goto oom;
    if (t->m->syncs && setup_phases(t, ks))
        goto oom;
    /* a right subtree of more than one chunk needs a buffer per level while its left sibling waits: a node at
     * level L holds at most 2^(depth - 1 - L) chunks, so only levels up to depth - 3 have one; the top's buffers
     * are a piece long */
    for (int i = 0; i < tr->depth; i++)
        if ((i <= tr->depth - 3 && !(tr->tmp[i] = malloc(sizeof(float) * (size_t)tr->ng))) ||
            !(tr->top[i] = malloc(sizeof(float) * (size_t)piece)))
            goto oom;
    return 0;
oom:
    fprintf(t->errf, "%s: out of memory for the buffers of the data-parallel step%s\n", t->prog,
            t->chunk ? " in the canonical summation order (--fast-reduce needs fewer)" : "");
    return 1;
}

void dlrt_dist_share(const DlrtDist *d, int64_t m, int64_t *first, int64_t *count) {
    int64_t q = m / d->size, r = m % d->size, k = d->rank;
    *first = k * q + (k < r ? k : r);
    *count = q + (k < r ? 1 : 0);
}

int dlrt_dist_threads(const DlrtDist *d) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long n = cores / (d->local_size > 0 ? d->local_size : 1);
    return n > 1 ? (int)n : 1;
}

int dlrt_dist_agree(const DlrtTrainer *t, int status) {
    const DlrtDist *d = t->dist;
    if (!d)
        return status;
    uint64_t all[d->size];
    d->gather_u64(d, (uint64_t)status, all);
    for (int r = 0; r < d->size; r++)
        if (all[r])
            return status ? status : (int)all[r];
    return 0;
}

static void fnv1a(uint64_t *h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 0x100000001b3u;
    }
}

/* Rank 0 names the ranks whose value differs from its own; returns how many do. */
static int name_differing(DlrtTrainer *t, uint64_t mine, const char *what) {
    const DlrtDist *d = t->dist;
    uint64_t all[d->size];
    d->gather_u64(d, mine, all);
    int n = 0;
    char list[512] = "";
    for (int r = 1; r < d->size; r++)
        if (all[r] != all[0]) {
            size_t len = strlen(list);
            if (len < sizeof list - 16)
                snprintf(list + len, sizeof list - len, "%s%d", n ? ", " : "", r);
            n++;
        }
    if (n && d->rank == 0)
        fprintf(t->errf, "%s: %s %s %s from rank 0: %s (hash %016llx on rank 0)\n", t->prog, n == 1 ? "rank" : "ranks",
                list, n == 1 ? "differs" : "differ", what, (unsigned long long)all[0]);
    return n;
}

/* --fast-reduce overlaps its sums with backward unless DLRT_MPI_OVERLAP=0, where the model reports its gradients
 * and the collectives can start a sum without waiting. Every rank must agree: their sums would not match. */
static int overlap_wanted(const DlrtTrainer *t) {
    const char *env = getenv("DLRT_MPI_OVERLAP");
    return !t->chunk && !(env && strcmp(env, "0") == 0) && t->m->set_grad_ready && t->dist->start_sum_f32 &&
           t->m->grad_offset >= 0;
}

int dlrt_dist_check_model(DlrtTrainer *t) {
    if (!t->dist)
        return 0;
    const DlrtModel *m = t->m;
    uint64_t h = 0xcbf29ce484222325u;
    fnv1a(&h, m->name, strlen(m->name) + 1);
    for (int i = 0; i < m->n_params; i++) {
        DlrtParam p = m->param(i);
        fnv1a(&h, p.name, strlen(p.name) + 1);
        fnv1a(&h, &p.rank, sizeof p.rank);
        fnv1a(&h, p.dims, sizeof(int64_t) * (size_t)p.rank);
        fnv1a(&h, &p.offset, sizeof p.offset);
    }
    uint64_t sizes[3] = {m->state_bytes, (uint64_t)m->grad_offset, (uint64_t)m->grad_bytes};
    int64_t flags[6] = {t->epochs,
                        t->batch,
                        (int64_t)t->seed,
                        t->args.fast_reduce,
                        t->args.has_chunk ? t->args.chunk : DLRT_DIST_CHUNK,
                        overlap_wanted(t)};
    fnv1a(&h, sizes, sizeof sizes);
    fnv1a(&h, flags, sizeof flags);
    fnv1a(&h, &t->lr, sizeof t->lr);
    double valid = t->args.has_valid ? t->args.valid : 0;
    fnv1a(&h, &valid, sizeof valid);
    if (name_differing(t, h,
                       "a different model, or different --epochs, --batch, --lr, --seed, --valid, --chunk, "
                       "--fast-reduce or DLRT_MPI_OVERLAP") == 0)
        return 0;
    return 1;
}

void dlrt_dist_check_kernels(DlrtTrainer *t) {
    if (!t->dist)
        return;
    char what[512];
    const char *core = openblas_get_corename();
    /* dlc's own product sums in the order of its kernel's instruction set (gemm.c) */
    const char *gemm = dlrt_gemm_isa_name(dlrt_gemm_isa());
    int route = (int)dlrt_gemm_route();
    snprintf(what, sizeof what,
             "its kernels (rank 0 runs generated code compiled for %s, dlc's %s product kernel and OpenBLAS's %s "
             "kernels); the same bits on every rank need the same kernels: build the trainer without --native and "
             "give every host the same CPU family, or set DLRT_ISA, DLRT_GEMM and OPENBLAS_CORETYPE alike",
             t->m->isa ? t->m->isa : "an unrecorded instruction set", gemm, core ? core : "unknown");
    what[sizeof what - 1] = '\0';
    uint64_t h = 0xcbf29ce484222325u;
    fnv1a(&h, t->m->isa ? t->m->isa : "", t->m->isa ? strlen(t->m->isa) : 0);
    fnv1a(&h, gemm, strlen(gemm));
    fnv1a(&h, &route, sizeof route);
    fnv1a(&h, core ? core : "", core ? strlen(core) : 0);
    name_differing(t, h, what);
}

int dlrt_dist_check_params(DlrtTrainer *t, int64_t epoch) {
    if (!t->dist)
        return 0;
    uint64_t h = 0xcbf29ce484222325u;
    for (int i = 0; i < t->m->n_params; i++)
        fnv1a(&h, t->params[i].data, sizeof(float) * (size_t)dlrt_tensor_count(&t->params[i]));
    char what[96];
    snprintf(what, sizeof what, "its parameters after epoch %lld", (long long)epoch + 1);
    return name_differing(t, h, what) ? 1 : 0;
}

/* The ranks' sums of the loss (sums[0], the loss times the examples) and metrics added up: the batch's mean loss
 * into *loss and the metrics; 0 when the loss is not a number. */
static int reduce_loss(const DlrtDist *d, double *sums, int nm, int64_t m, float *loss, double *metrics) {
    d->sum_f64(d, sums, 1 + nm);
    *loss = (float)(sums[0] / (double)m);
    for (int k = 0; k < nm; k++)
        metrics[k] = sums[1 + k];
    return isfinite(*loss);
}

/* ---- --fast-reduce with overlap: gradients summed while backward goes on ----
 *
 * The generated backward reports each gradient as soon as it is final (DlrtModel.set_grad_ready). The report
 * scales it by the rank's share of the batch, as fast_batch did after backward, and adds it to a bucket: a run of
 * finished gradients that are neighbours in the gradient region (backward finishes them from the last layer's to
 * the first's, so a bucket grows downwards). A bucket whose neighbour is not the next to finish, or that holds
 * bucket_bytes, starts its sum across ranks at once (DlrtDist.start_sum_f32, MPI_Iallreduce), and every report
 * lets the started sums advance (Open MPI moves them only inside its calls). After backward the last bucket and
 * any bytes never reported start too, and the step waits for all of them before the optimizer. Every rank runs the
 * same generated code, so every rank starts the same buckets in the same order, and each float is still the sum
 * of the same N values in MPI's order: with 2 ranks, a + b whatever the bucket, so the bits do not change. */
enum { BUCKET_MAX = 4 << 20, BUCKET_MIN = 16 << 10 };

struct DlrtOverlap {
    DlrtTrainer *t;
    int64_t bucket_bytes;  /* a bucket starts when it holds this much */
    float w;               /* this step's scale of a finished gradient: the rank's share of the batch, or 1 */
    int drop_global;       /* a step in phases on a rank other than 0: zero the gradients of global sums */
    int zero;              /* a rank without an example: its gradient is zero */
    int64_t lo, hi;        /* the bucket being filled: bytes lo..hi of the gradient region, hi == lo when empty */
    int64_t (*started)[2]; /* the byte ranges started this step */
    int nstarted, cap;
};

static int overlap_setup(DlrtTrainer *t) {
    const DlrtModel *md = t->m;
    if (!overlap_wanted(t))
        return 0;
    DlrtOverlap *o = t->overlap = calloc(1, sizeof *o);
    if (!o)
        return 1;
    o->t = t;
    /* an eighth of the gradient, so that even LeNet's 247 KB start in a few pieces, within 16 KB .. 4 MB: fewer
     * and larger sums cost less per byte, more and smaller ones start earlier */
    o->bucket_bytes = md->grad_bytes / 8;
    o->bucket_bytes = o->bucket_bytes < BUCKET_MIN   ? BUCKET_MIN
                      : o->bucket_bytes > BUCKET_MAX ? BUCKET_MAX
                                                     : o->bucket_bytes;
    /* generated code reports a gradient once a step, and a report starts at most two sums */
    o->cap = 2 * md->n_params + 4;
    o->started = malloc(sizeof *o->started * (size_t)o->cap);
    return !o->started;
}

static void overlap_free(DlrtTrainer *t) {
    DlrtOverlap *o = t->overlap;
    if (!o)
        return;
    free(o->started);
    free(o);
    t->overlap = NULL;
}

static float *grad_at(const DlrtTrainer *t, int64_t byte) {
    return (float *)(void *)((unsigned char *)t->state + t->m->grad_offset + byte);
}

/* Starts summing bytes lo..hi of the gradient region. */
static void overlap_start(DlrtOverlap *o, int64_t lo, int64_t hi) {
    if (hi <= lo)
        return;
    o->t->dist->start_sum_f32(o->t->dist, grad_at(o->t, lo), (hi - lo) / (int64_t)sizeof(float));
    if (o->nstarted < o->cap) {
        o->started[o->nstarted][0] = lo;
        o->started[o->nstarted][1] = hi;
        o->nstarted++;
    }
}

/* The hook: bytes offset..offset + bytes of the state hold a finished gradient. */
static void grad_ready(void *arg, void *state, int64_t offset, int64_t bytes) {
    DlrtOverlap *o = arg;
    DlrtTrainer *t = o->t;
    const DlrtModel *md = t->m;
    if (state != t->state)
        return;
    t->grad_reports++;
    float *g = (float *)(void *)((unsigned char *)state + offset);
    int64_t n = bytes / (int64_t)sizeof(float);
    if (o->zero) {
        memset(g, 0, (size_t)bytes);
    } else {
        if (o->w != 1)
            for (int64_t i = 0; i < n; i++)
                g[i] *= o->w;
        for (int i = 0; o->drop_global && i < md->n_global_grads; i++) {
            int64_t at = md->global_grads[i].offset;
            if (at >= offset && at < offset + bytes)
                memset((unsigned char *)state + at, 0, sizeof(float) * (size_t)md->global_grads[i].count);
        }
    }
    /* the gradient's bytes in the region, with the padding up to the next one (buffers are 64-byte aligned) */
    int64_t lo = offset - md->grad_offset, hi = (lo + bytes + 63) / 64 * 64;
    hi = hi < md->grad_bytes ? hi : md->grad_bytes;
    if (hi == o->lo && o->hi > o->lo) {
        o->lo = lo;
    } else if (lo == o->hi && o->hi > o->lo) {
        o->hi = hi;
    } else {
        overlap_start(o, o->lo, o->hi);
        o->lo = lo;
        o->hi = hi;
    }
    if (o->hi - o->lo >= o->bucket_bytes) {
        overlap_start(o, o->lo, o->hi);
        o->lo = o->hi = 0;
    }
    t->dist->progress(t->dist);
}

/* Before backward: arms the hook for this step (w, the rank's share of the batch's mean). */
static void overlap_arm(DlrtTrainer *t, float w, int zero) {
    DlrtOverlap *o = t->overlap;
    o->w = w;
    o->zero = zero;
    o->drop_global = t->m->syncs && t->dist->rank != 0;
    o->lo = o->hi = 0;
    o->nstarted = 0;
    t->m->set_grad_ready(grad_ready, o);
}

static int by_start(const void *a, const void *b) {
    int64_t x = (*(const int64_t(*)[2])a)[0], y = (*(const int64_t(*)[2])b)[0];
    return (x > y) - (x < y);
}

/* After backward: starts the last bucket and every byte no report covered (none, for generated code that reports
 * every gradient), then waits for all the sums. */
static void overlap_finish(DlrtTrainer *t) {
    DlrtOverlap *o = t->overlap;
    t->m->set_grad_ready(NULL, NULL);
    overlap_start(o, o->lo, o->hi);
    int n = o->nstarted;
    int64_t(*s)[2] = o->started;
    qsort(s, (size_t)n, sizeof *s, by_start);
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (s[i][0] > at)
            overlap_start(o, at, s[i][0]);
        at = s[i][1] > at ? s[i][1] : at;
    }
    overlap_start(o, at, t->m->grad_bytes);
    double t0 = dlrt_now();
    t->dist->wait_sums(t->dist);
    t->reduce_seconds += dlrt_now() - t0;
}

/* --fast-reduce: this rank's share of examples in one call, each share's gradient weighted by its size, and
 * MPI's all-reduce, whose order of addition depends on the number of ranks. */
static double fast_phased(DlrtTrainer *t, int64_t m, float *loss, double *metrics);

static double fast_batch(DlrtTrainer *t, int64_t m, float *loss, double *metrics) {
    if (t->m->syncs)
        return fast_phased(t, m, loss, metrics);
    const DlrtDist *d = t->dist;
    const DlrtModel *md = t->m;
    int nm = md->n_metrics;
    int64_t first, count;
    dlrt_dist_share(d, m, &first, &count);
    const float *x = t->xb + first * md->x_size;
    const void *y = (const char *)t->yb + (size_t)(first * md->y_size) * 4; /* int32 labels or float targets */
    double sums[1 + nm];
    for (int k = 0; k < 1 + nm; k++)
        sums[k] = 0;
    if (md->example_base)
        *md->example_base(t->state) = (uint64_t)first;
    if (count > 0) {
        float local = md->labels.forward_train
                          ? md->labels.forward_train(t->state, (int)count, x, (const int32_t *)y, metrics)
                          : md->targets.forward_train(t->state, (int)count, x, (const float *)y, metrics);
        dlrt_trainer_note_loop_limit(t);
        if (t->loop_line)
            local = NAN; /* every rank then stops at this batch, as for a loss that is not a number */
        sums[0] = (double)local * (double)count; /* exact in double */
        for (int k = 0; k < nm; k++)
            sums[1 + k] = metrics[k];
    }
    if (!reduce_loss(d, sums, nm, m, loss, metrics))
        return sums[0];
    float *g = (float *)(void *)((unsigned char *)t->state + md->grad_offset);
    int64_t ng = md->grad_bytes / (int64_t)sizeof(float);
    if (t->overlap && m >= d->size) { /* every rank runs backward, so every rank starts the same sums */
        overlap_arm(t, (float)((double)count / (double)m), 0);
        if (md->labels.backward)
            md->labels.backward(t->state, (int)count, x, (const int32_t *)y);
        else
            md->targets.backward(t->state, (int)count, x, (const float *)y);
        overlap_finish(t);
        return sums[0];
    }
    if (count > 0) {
        if (md->labels.backward)
            md->labels.backward(t->state, (int)count, x, (const int32_t *)y);
        else
            md->targets.backward(t->state, (int)count, x, (const float *)y);
        /* each share's gradient is of its mean loss: weighted by its size, the sum is the global batch's mean */
        if (count != m) {
            float w = (float)((double)count / (double)m);
            for (int64_t i = 0; i < ng; i++)
                g[i] *= w;
        }
    } else {
        memset(g, 0, (size_t)md->grad_bytes);
    }
    double t0 = dlrt_now();
    d->sum_f32(d, g, ng);
    t->reduce_seconds += dlrt_now() - t0;
    return sums[0];
}

/* ---- a step in phases (DlrtModel.syncs): sums over the batch completed between them ---- */

/* A gradient that the step computes from the global batch's sums alone (batch_norm's weight and bias) is the
 * whole batch's in every piece: only the first piece's counts, the others' are zeroed before the gradients are
 * added up (x + 0 is x, so the sum is that piece's value whatever the order). */
static void drop_global_grads(const DlrtModel *md, void *state) {
    for (int i = 0; i < md->n_global_grads; i++)
        memset((unsigned char *)state + md->global_grads[i].offset, 0,
               sizeof(float) * (size_t)md->global_grads[i].count);
}

/* Phase p of the forward pass (backward when `back`) on examples first..first + count of the batch in t->xb and
 * t->yb, whose means divide by m: the loss times count / m and the metrics at the forward pass's last phase. */
static float run_phase(DlrtTrainer *t, void *state, int back, int p, int64_t first, int64_t count, int64_t m,
                       double *metrics) {
    const DlrtModel *md = t->m;
    const float *x = t->xb + first * md->x_size;
    const void *y = (const char *)t->yb + (size_t)(first * md->y_size) * 4; /* int32 labels or float targets */
    int n = (int)count, all = (int)m;
    if (back) {
        if (md->labels.backward_phase)
            md->labels.backward_phase(state, p, n, all, x, (const int32_t *)y);
        else
            md->targets.backward_phase(state, p, n, all, x, (const float *)y);
        return 0;
    }
    return md->labels.forward_phase ? md->labels.forward_phase(state, p, n, all, x, (const int32_t *)y, metrics)
                                    : md->targets.forward_phase(state, p, n, all, x, (const float *)y, metrics);
}

/* --fast-reduce: this rank's share in one piece, each sum over the batch completed by MPI's all-reduce. A rank
 * without an example runs the phases on one (its sums zero, its gradient dropped), so that its running
 * statistics take the global batch's as every rank's do. The means divide by m: the gradients are already the
 * shares of the batch's mean. */
static double fast_phased(DlrtTrainer *t, int64_t m, float *loss, double *metrics) {
    const DlrtDist *d = t->dist;
    const DlrtModel *md = t->m;
    int nm = md->n_metrics;
    int64_t first, count;
    dlrt_dist_share(d, m, &first, &count);
    int idle = count == 0;
    *md->example_base(t->state) = (uint64_t)first;
    double sums[1 + nm];
    for (int k = 0; k < 1 + nm; k++)
        sums[k] = 0;
    const DlrtSync *sync = md->syncs;
    for (int back = 0; back < 2; back++)
        for (int p = 0; p < md->phases[back]; p++, sync++) {
            if (back && p == 0 && t->overlap)
                overlap_arm(t, 1, idle);
            float local = run_phase(t, t->state, back, p, idle ? 0 : first, idle ? 1 : count, m, metrics);
            if (!back && p == md->phases[0] - 1 && !idle) {
                sums[0] = (double)local * (double)m;
                for (int k = 0; k < nm; k++)
                    sums[1 + k] = metrics[k];
            }
            if (p == md->phases[back] - 1) {
                sync--; /* the last phase of a pass ends with no sum */
                continue;
            }
            float *v = (float *)(void *)((unsigned char *)t->state + sync->offset);
            if (idle)
                memset(v, 0, sizeof(float) * (size_t)sync->count);
            double t0 = dlrt_now();
            d->sum_f32(d, v, sync->count);
            t->reduce_seconds += dlrt_now() - t0;
        }
    if (t->overlap) { /* every rank ran the phases, the idle one too: the gradients are summed */
        overlap_finish(t);
        reduce_loss(d, sums, nm, m, loss, metrics);
        return sums[0];
    }
    if (d->rank != 0)
        drop_global_grads(md, t->state);
    if (!reduce_loss(d, sums, nm, m, loss, metrics))
        return sums[0];
    float *g = (float *)(void *)((unsigned char *)t->state + md->grad_offset);
    if (idle)
        memset(g, 0, (size_t)md->grad_bytes);
    double t0 = dlrt_now();
    d->sum_f32(d, g, md->grad_bytes / (int64_t)sizeof(float));
    t->reduce_seconds += dlrt_now() - t0;
    return sums[0];
}

/* Node lo..hi of the chunks' tree (the gradients' shape) for count floats per chunk in all: into out, with one
 * buffer of count floats per level below in tmp. */
static void tree_sum(const float *all, int64_t count, int64_t lo, int64_t hi, float *out, float *tmp) {
    if (hi - lo == 1) {
        memcpy(out, all + lo * count, sizeof(float) * (size_t)count);
        return;
    }
    int64_t mid = lo + left_count(hi - lo);
    tree_sum(all, count, lo, mid, out, tmp);
    tree_sum(all, count, mid, hi, tmp, tmp + count);
    for (int64_t i = 0; i < count; i++)
        out[i] += tmp[i];
}

/* The canonical order: every chunk's partial sum goes to every rank (an all-gather, exact), and each adds them in
 * the tree of the chunks, the same operations whatever N is, then hands the sum to its chunks' states. */
static void sync_chunks(DlrtTrainer *t, const DlrtSync *sync, int64_t k, int64_t nc, int nrun) {
    const DlrtDist *d = t->dist;
    DlrtDistTree *tr = t->tree;
    int64_t cnt = sync->count, counts[d->size];
    for (int i = 0; i < nc; i++)
        memcpy(tr->sync_all + (tr->first_chunk + i) * cnt, (unsigned char *)tr->states[i] + sync->offset,
               sizeof(float) * (size_t)cnt);
    DlrtDist other = *d;
    for (int r = 0; r < d->size; r++) {
        int64_t first;
        other.rank = r;
        dlrt_dist_share(&other, k, &first, &counts[r]);
        counts[r] *= cnt;
    }
    double t0 = dlrt_now();
    d->gather_f32(d, tr->sync_all, counts);
    t->reduce_seconds += dlrt_now() - t0;
    tree_sum(tr->sync_all, cnt, 0, k, tr->sync_sum, tr->sync_tmp);
    for (int i = 0; i < nrun; i++)
        memcpy((unsigned char *)tr->states[i] + sync->offset, tr->sync_sum, sizeof(float) * (size_t)cnt);
}

/* The canonical order's step in phases: every chunk of this rank through each phase in its own state, the syncs
 * completed between them; the chunks' losses and metrics into chunk_sums, their gradients left in their states
 * for the tree. A rank without a chunk runs one example as fast_phased's idle rank does. */
static void canonical_phases(DlrtTrainer *t, int64_t m, int64_t k) {
    const DlrtModel *md = t->m;
    DlrtDistTree *tr = t->tree;
    int nm = md->n_metrics;
    int64_t nc;
    dlrt_dist_share(t->dist, k, &tr->first_chunk, &nc);
    int nrun = nc > 0 ? (int)nc : 1;
    for (int i = 0; i < nrun; i++) {
        if (i > 0)
            memcpy(tr->states[i], t->state, (size_t)md->grad_offset); /* the parameters, states and header */
        *md->example_base(tr->states[i]) = (uint64_t)((tr->first_chunk + i) * t->chunk);
    }
    const DlrtSync *sync = md->syncs;
    for (int back = 0; back < 2; back++)
        for (int p = 0; p < md->phases[back]; p++) {
            for (int i = 0; i < nrun; i++) {
                int64_t c = tr->first_chunk + i, first = nc ? c * t->chunk : 0;
                int64_t count = !nc ? 1 : m - first < t->chunk ? m - first : t->chunk;
                float local = run_phase(t, tr->states[i], back, p, first, count, m, t->sums);
                if (!back && p == md->phases[0] - 1 && nc) {
                    double *sums = tr->chunk_sums + c * (1 + nm);
                    sums[0] = (double)local * (double)m;
                    for (int j = 0; j < nm; j++)
                        sums[1 + j] = t->sums[j];
                }
            }
            if (p < md->phases[back] - 1)
                sync_chunks(t, sync++, k, nc, nrun);
        }
    for (int i = 0; i < nrun; i++)
        if (tr->first_chunk + i != 0 || !nc)
            drop_global_grads(md, tr->states[i]);
}

/* Chunk c's gradient, a leaf of the tree: computed here, or left by the phases in its chunk's state. */
static const float *leaf(DlrtTrainer *t, int64_t c, int64_t m);

/* The model's forward and backward passes over chunk k of the batch in t->xb and t->yb (examples first..first +
 * count), its gradient then scaled by count / m in place; its loss times count and its metrics into sums. */
static void run_chunk(DlrtTrainer *t, int64_t first, int64_t count, int64_t m, double *sums) {
    const DlrtModel *md = t->m;
    const float *x = t->xb + first * md->x_size;
    const void *y = (const char *)t->yb + (size_t)(first * md->y_size) * 4; /* int32 labels or float targets */
    double *metrics = t->sums;
    *md->example_base(t->state) = (uint64_t)first;
    float local = md->labels.forward_train
                      ? md->labels.forward_train(t->state, (int)count, x, (const int32_t *)y, metrics)
                      : md->targets.forward_train(t->state, (int)count, x, (const float *)y, metrics);
    sums[0] = (double)local * (double)count; /* exact in double */
    for (int k = 0; k < md->n_metrics; k++)
        sums[1 + k] = metrics[k];
    if (md->labels.backward)
        md->labels.backward(t->state, (int)count, x, (const int32_t *)y);
    else
        md->targets.backward(t->state, (int)count, x, (const float *)y);
    if (count != m) {
        float *g = (float *)(void *)((unsigned char *)t->state + md->grad_offset);
        float w = (float)((double)count / (double)m);
        for (int64_t i = 0, n = t->tree->ng; i < n; i++)
            g[i] *= w;
    }
}

static void add_into(float *restrict out, const float *restrict v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        out[i] += v[i];
}

static const float *leaf(DlrtTrainer *t, int64_t c, int64_t m) {
    DlrtDistTree *tr = t->tree;
    const DlrtModel *md = t->m;
    if (md->syncs)
        return (const float *)(const void *)((const unsigned char *)tr->states[c - tr->first_chunk] + md->grad_offset);
    int64_t first = c * t->chunk, count = m - first < t->chunk ? m - first : t->chunk;
    run_chunk(t, first, count, m, tr->chunk_sums + c * (1 + md->n_metrics));
    return (const float *)(const void *)((const unsigned char *)t->state + md->grad_offset);
}

/* Node lo..hi's sum into out: the leaves are this rank's chunks (leaf). */
static void subtree(DlrtTrainer *t, int64_t lo, int64_t hi, int level, int64_t m, float *out) {
    DlrtDistTree *tr = t->tree;
    if (hi - lo == 1) {
        memcpy(out, leaf(t, lo, m), sizeof(float) * (size_t)tr->ng);
        return;
    }
    int64_t mid = lo + left_count(hi - lo);
    subtree(t, lo, mid, level + 1, m, out);
    if (hi - mid == 1) { /* a leaf: its gradient is added where backward left it */
        add_into(out, leaf(t, mid, m), tr->ng);
        return;
    }
    subtree(t, mid, hi, level + 1, m, tr->tmp[level]);
    add_into(out, tr->tmp[level], tr->ng);
}

/* For the piece of n floats this rank gathers: node lo..hi's sum into out, from the ranks' roots in tr->recv
 * (root i's piece at i * n), adding the nodes above them. */
static void top(DlrtDistTree *tr, int64_t lo, int64_t hi, int level, int64_t n, float *out) {
    for (int64_t i = 0; i < tr->first_root[tr->size]; i++)
        if (tr->roots[i].lo == lo && tr->roots[i].hi == hi) {
            memcpy(out, tr->recv + i * n, sizeof(float) * (size_t)n);
            return;
        }
    int64_t mid = lo + left_count(hi - lo);
    top(tr, lo, mid, level + 1, n, out);
    top(tr, mid, hi, level + 1, n, tr->top[level]);
    add_into(out, tr->top[level], n);
}

static double canonical_batch(DlrtTrainer *t, int64_t m, float *loss, double *metrics) {
    const DlrtDist *d = t->dist;
    DlrtDistTree *tr = t->tree;
    int nm = t->m->n_metrics, size = d->size, me = d->rank;
    int64_t k = ceil_div(m, t->chunk);
    all_roots(d, tr, k);
    memset(tr->chunk_sums, 0, sizeof(double) * (size_t)(k * (1 + nm)));
    if (t->m->syncs)
        canonical_phases(t, m, k);
    int64_t r0 = tr->first_root[me], nr = tr->first_root[me + 1] - r0;
    for (int64_t i = 0; i < nr; i++)
        subtree(t, tr->roots[r0 + i].lo, tr->roots[r0 + i].hi, 0, m, tr->mine[i]);
    double t0 = dlrt_now();
    /* the loss and metrics: every chunk's slot is filled by one rank and zero on the others, so the sum across
     * ranks is exact, and the chunks are then added in order */
    d->sum_f64(d, tr->chunk_sums, k * (1 + nm));
    double loss_sum = 0;
    for (int j = 0; j < nm; j++)
        metrics[j] = 0;
    for (int64_t c = 0; c < k; c++) {
        loss_sum += tr->chunk_sums[c * (1 + nm)];
        for (int j = 0; j < nm; j++)
            metrics[j] += tr->chunk_sums[c * (1 + nm) + 1 + j];
    }
    *loss = (float)(loss_sum / (double)m);
    if (!isfinite(*loss))
        return loss_sum;
    float *g = (float *)(void *)((unsigned char *)t->state + t->m->grad_offset);
    if (size == 1) {
        memcpy(g, tr->mine[0], sizeof(float) * (size_t)tr->ng);
    } else {
        int64_t piece_count[size], piece_first[size + 1];
        for (int64_t s = 0; s < tr->ng; s += SLAB) {
            int64_t slab = tr->ng - s < SLAB ? tr->ng - s : SLAB;
            DlrtDist other = *d;
            for (int r = 0; r < size; r++) {
                other.rank = r;
                dlrt_dist_share(&other, slab, &piece_first[r], &piece_count[r]);
            }
            piece_first[size] = slab;
            float *p = tr->send;
            for (int r = 0; r < size; r++) {
                for (int64_t i = 0; i < nr; i++, p += piece_count[r])
                    memcpy(p, tr->mine[i] + s + piece_first[r], sizeof(float) * (size_t)piece_count[r]);
                tr->send_count[r] = nr * piece_count[r];
                tr->recv_count[r] = (tr->first_root[r + 1] - tr->first_root[r]) * piece_count[me];
            }
            d->exchange_f32(d, tr->send, tr->send_count, tr->recv, tr->recv_count);
            top(tr, 0, k, 0, piece_count[me], g + s + piece_first[me]);
            for (int r = 0; r < size; r++)
                tr->send_count[r] = piece_count[r];
            d->gather_f32(d, g + s, tr->send_count);
        }
    }
    t->reduce_seconds += dlrt_now() - t0;
    return loss_sum;
}

double dlrt_dist_batch(DlrtTrainer *t, int64_t m, float *loss, double *metrics) {
    t->steps++;
    return t->chunk ? canonical_batch(t, m, loss, metrics) : fast_batch(t, m, loss, metrics);
}
