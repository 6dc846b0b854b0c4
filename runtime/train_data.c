/* train_data.c - the trainer's data: whatever the model's train section names (Fashion-MNIST, a synthetic set
 * from D2L, a CSV table, or examples written into the model file), loaded or generated as the descriptor's
 * DlrtDataSpec says, with --data and --limit applied; and --submission, which writes the predictions for a CSV
 * model's test rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* csv(...): train.csv and test.csv, under --data when it is given. test.csv without the target column becomes
 * t->unlabeled, the rows --submission predicts. */
static int load_csv(DlrtTrainer *t, int64_t limit) {
    const DlrtDataSpec *d = &t->m->data;
    DlrtCsvSpec spec = {.train_path = d->csv.train,
                        .test_path = d->csv.test,
                        .target = d->csv.target,
                        .drop = d->csv.drop,
                        .n_drop = d->csv.n_drop,
                        .positive_target = t->m->log_rmse_metric >= 0,
                        .limit = limit};
    char train_path[4096], test_path[4096];
    if (t->args.data) {
        snprintf(train_path, sizeof train_path, "%s/%s", t->args.data, spec.train_path);
        snprintf(test_path, sizeof test_path, "%s/%s", t->args.data, spec.test_path);
        spec.train_path = train_path;
        spec.test_path = test_path;
    }
    int rc = dlrt_csv_load_house(&spec, &t->train, &t->test, &t->info, &t->err);
    if (rc == DLRT_OK && !t->test.targets) { /* no labels: not a test set */
        t->unlabeled = t->test;
        t->test = (DlrtDataset){0};
    }
    return rc;
}

/* tensors(...): a copy of the descriptor's examples, so the data is freed like any other. */
static int load_tensors(DlrtTrainer *t) {
    const DlrtModel *m = t->m;
    int64_t n = m->data.tensors.n;
    size_t nx = (size_t)(n * m->x_size), ny = (size_t)(n * m->y_size);
    t->train = (DlrtDataset){.n = n, .rank = 1, .dims = {m->x_size}, .features = m->x_size, .target_dim = m->y_size};
    t->train.x = malloc(sizeof(float) * (nx > 0 ? nx : 1));
    t->train.targets = malloc(sizeof(float) * (ny > 0 ? ny : 1));
    if (!t->train.x || !t->train.targets)
        return dlrt_fail(&t->err, DLRT_ENOMEM, "out of memory for %lld examples", (long long)n);
    memcpy(t->train.x, m->data.tensors.x, sizeof(float) * nx);
    memcpy(t->train.targets, m->data.tensors.y, sizeof(float) * ny);
    return DLRT_OK;
}

/* The data of the model's kind; a DlrtStatus. Synthetic sets draw from the stream (seed, 7). */
static int load(DlrtTrainer *t, int64_t limit) {
    const DlrtModel *m = t->m;
    const DlrtDataSpec *d = &m->data;
    DlrtRng rng;
    dlrt_rng_seed(&rng, t->seed, 7);
    switch (d->kind) {
    case DLRT_DATA_FASHION_MNIST:
        return dlrt_load_fashion_mnist_u8(t->args.data, limit, &t->train, &t->test, &t->err);
    case DLRT_DATA_SYNTH_LINEAR:
        return dlrt_synthetic_linear(d->linear.w, d->linear.d, d->linear.b, d->linear.noise, d->linear.n, &rng,
                                     &t->train, &t->err);
    case DLRT_DATA_POLYNOMIAL:
        return dlrt_synthetic_polynomial(d->polynomial.degree, (int)m->x_size, d->polynomial.coeffs,
                                         d->polynomial.n_coeffs, d->polynomial.noise, d->polynomial.n_train,
                                         d->polynomial.n_test, &rng, &t->train, &t->test, &t->err);
    case DLRT_DATA_HIGH_DIM:
        return dlrt_synthetic_high_dim((int)m->x_size, d->high_dim.n_train, d->high_dim.n_test, d->high_dim.noise, &rng,
                                       &t->train, &t->test, &t->err);
    case DLRT_DATA_CSV:
        return load_csv(t, limit);
    case DLRT_DATA_TENSORS:
        return load_tensors(t);
    default:
        return dlrt_fail(&t->err, DLRT_EINVAL, "model %s: unknown data kind %d", m->name, d->kind);
    }
}

/* --valid: the last round(fraction x n) training examples (after --limit) become the validation set, the same
 * ones every epoch; t->valid points into t->train's storage, which keeps owning it. */
static int hold_out(DlrtTrainer *t) {
    DlrtDataset *tr = &t->train;
    int64_t k = llround(t->args.valid * (double)tr->n);
    if (k < 1 || k >= tr->n) {
        fprintf(t->errf,
                "%s: --valid %g of %lld training examples holds out %lld; it must leave at least one example "
                "for each of training and validation\n",
                t->prog, t->args.valid, (long long)tr->n, (long long)k);
        return 2;
    }
    int64_t first = tr->n - k;
    t->valid = *tr;
    t->valid.n = k;
    if (tr->x)
        t->valid.x = tr->x + first * tr->features;
    if (tr->u8)
        t->valid.u8 = tr->u8 + first * tr->features;
    if (tr->labels)
        t->valid.labels = tr->labels + first;
    if (tr->targets)
        t->valid.targets = tr->targets + first * tr->target_dim;
    tr->n = first;
    return 0;
}

int dlrt_trainer_load_data(DlrtTrainer *t) {
    const DlrtModel *m = t->m;
    const DlrtArgs *a = &t->args;
    /* not needed to predict, unless a picture or the report asks for it */
    if (t->predict_only && !a->show_samples && !a->show_predictions && !a->report)
        return 0;
    int64_t limit = a->has_limit ? a->limit : 0;
    int rc = load(t, limit);
    if (rc != DLRT_OK)
        return dlrt_trainer_fail(t, rc == DLRT_EUSAGE ? 2 : 1);
    int64_t raw =
        m->data.kind == DLRT_DATA_FASHION_MNIST ? DLRT_RAW_PIXELS : m->x_size; /* features as the data holds them */
    if (t->train.features != raw) {
        fprintf(t->errf, "%s: the data has %lld features per example, but the model's input '%s' takes %lld\n", t->prog,
                (long long)t->train.features, m->x_name, (long long)raw);
        return 1;
    }
    if (m->data.kind != DLRT_DATA_FASHION_MNIST && m->data.kind != DLRT_DATA_CSV) { /* their loaders take limit */
        if (limit > 0 && t->train.n > limit)
            t->train.n = limit;
        if (limit > 0 && t->test.n > limit)
            t->test.n = limit;
    }
    return a->has_valid ? hold_out(t) : 0;
}

int dlrt_trainer_submission(DlrtTrainer *t) {
    const DlrtModel *m = t->m;
    const DlrtDataset *rows = t->unlabeled.n > 0 ? &t->unlabeled : &t->test;
    if (rows->n == 0 || !t->info.test_ids) {
        fprintf(t->errf, "%s: --submission: the data has no test rows to predict\n", t->prog);
        return 1;
    }
    float *preds = malloc(sizeof(float) * (size_t)rows->n);
    if (!preds) {
        fprintf(t->errf, "%s: out of memory for %lld predictions\n", t->prog, (long long)rows->n);
        return 1;
    }
    for (int64_t i = 0; i < rows->n; i += t->batch) {
        int n = (int)(rows->n - i < t->batch ? rows->n - i : t->batch);
        m->forward(t->state, n, rows->x + i * m->x_size);
        memcpy(preds + i, m->output(t->state), sizeof(float) * (size_t)n);
    }
    int status = 0;
    if (dlrt_write_submission(t->args.submission, t->info.id_name, m->data.csv.target, t->info.test_ids, preds, rows->n,
                              &t->err) != DLRT_OK)
        status = dlrt_trainer_fail(t, 1);
    else if (!t->args.quiet)
        fprintf(t->out, "wrote %lld predictions to %s\n", (long long)rows->n, t->args.submission);
    free(preds);
    return status;
}
