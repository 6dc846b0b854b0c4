/* batch.c - epoch iteration: a seeded permutation of the examples and copies of each batch into the trainer's
 * contiguous input buffers. The permutation is allocated once; batches only copy. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int dlrt_batcher_init(DlrtBatcher *b, int64_t n, int64_t batch, DlrtError *err) {
    memset(b, 0, sizeof *b);
    if (n < 0 || batch < 1)
        return dlrt_fail(err, DLRT_EINVAL, "batcher: need n >= 0 and batch >= 1, got n = %lld, batch = %lld",
                         (long long)n, (long long)batch);
    if (n > UINT32_MAX)
        return dlrt_fail(err, DLRT_EINVAL, "batcher: %lld examples exceed the shuffle's 2^32 limit", (long long)n);
    b->order = malloc((size_t)(n + 1) * sizeof *b->order);
    if (!b->order)
        return dlrt_fail(err, DLRT_ENOMEM, "batcher: out of memory for %lld examples", (long long)n);
    b->n = n;
    b->batch = batch;
    b->pos = n; /* no epoch started */
    return DLRT_OK;
}

void dlrt_batcher_free(DlrtBatcher *b) {
    free(b->order);
    memset(b, 0, sizeof *b);
}

void dlrt_batcher_start_epoch(DlrtBatcher *b, DlrtRng *rng) {
    for (int64_t i = 0; i < b->n; i++)
        b->order[i] = i;
    if (rng) {
        for (int64_t i = b->n - 1; i > 0; i--) {
            int64_t j = dlrt_rng_below(rng, (uint32_t)(i + 1));
            int64_t t = b->order[i];
            b->order[i] = b->order[j];
            b->order[j] = t;
        }
    }
    b->pos = 0;
}

/* One example's bytes as floats. The runtime is built at -O2, where GCC vectorises no loop of unknown length, and
 * this one ran a conversion a byte; as `omp simd` it converts a vector at a time, with the same multiply. */
static void bytes_to_floats(float *restrict dst, const uint8_t *restrict src, int64_t n) {
#ifdef _OPENMP
#pragma omp simd
#endif
    for (int64_t k = 0; k < n; k++)
        dst[k] = dlrt_u8_to_f32(src[k]);
}

/* Examples times features from which a batch's copy is shared among the trainer's threads: below it, the fork and
 * join would cost more than they save (a 256-image batch of Fashion-MNIST is 200,704). */
#define BATCH_SHARED_FROM 65536

/* Each thread copies whole examples, and each float is a copy or the one conversion, so the batch is the same
 * whatever the thread count. On two threads the copy was 7% of the MLP's samples and 2.5% of LeNet's, run by
 * one thread while the other waited (docs/trainer.md, "Threads"). */
int64_t dlrt_batcher_next(DlrtBatcher *b, const DlrtDataset *ds, float *x, int32_t *labels, float *targets) {
    int64_t count = b->n - b->pos < b->batch ? b->n - b->pos : b->batch;
    size_t row = (size_t)ds->features * sizeof *x;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (count * ds->features >= BATCH_SHARED_FROM)
#endif
    for (int64_t i = 0; i < count; i++) {
        int64_t e = b->order[b->pos + i];
        if (ds->u8)
            bytes_to_floats(x + i * ds->features, ds->u8 + e * ds->features, ds->features);
        else
            memcpy(x + i * ds->features, ds->x + e * ds->features, row);
        if (labels && ds->labels)
            labels[i] = ds->labels[e];
        if (targets && ds->targets)
            memcpy(targets + i * ds->target_dim, ds->targets + e * ds->target_dim,
                   (size_t)ds->target_dim * sizeof *targets);
    }
    b->pos += count;
    return count;
}

int64_t dlrt_batcher_batches(const DlrtBatcher *b) { return (b->n + b->batch - 1) / b->batch; }
