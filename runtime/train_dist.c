/* train_dist.c - a trainer as one rank of a data-parallel run. The collective operations come from the caller
 * (DlrtDist: libdlrt-mpi implements them over MPI), so libdlrt links no MPI. Every rank reads the same data and
 * shuffles it with the same seed, so every rank holds the same global batch; each runs the model on its share,
 * the gradients are summed across ranks between backward and the optimizer step, and every rank then takes the
 * same step. Dropout masks are keyed by an example's index in the global batch (the model's example_base), so
 * they do not depend on the number of ranks. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

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
    int64_t flags[3] = {t->epochs, t->batch, (int64_t)t->seed};
    fnv1a(&h, sizes, sizeof sizes);
    fnv1a(&h, flags, sizeof flags);
    fnv1a(&h, &t->lr, sizeof t->lr);
    if (name_differing(t, h, "a different model, or different --epochs, --batch, --lr or --seed") == 0)
        return 0;
    return 1;
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

double dlrt_dist_batch(DlrtTrainer *t, int64_t m, float *loss, double *metrics) {
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
    d->sum_f64(d, sums, 1 + nm);
    *loss = (float)(sums[0] / (double)m);
    for (int k = 0; k < nm; k++)
        metrics[k] = sums[1 + k];
    if (!isfinite(*loss))
        return sums[0];
    float *g = (float *)(void *)((unsigned char *)t->state + md->grad_offset);
    int64_t ng = md->grad_bytes / (int64_t)sizeof(float);
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
    d->sum_f32(d, g, ng);
    return sums[0];
}
