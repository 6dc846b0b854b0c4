/* train_loop.c - the trainer's passes over data: one epoch of training (forward, backward and step for each
 * shuffled batch), an evaluation in inference mode, and --kfold, which runs both over the folds of D2L 4.10.
 * train.c drives them; the model's functions come from its descriptor, typed by whether y holds class labels
 * (int32) or targets (float). */
#include <math.h>

#include "internal.h"

/* The model's functions over the batch buffers, for labels or targets as the model has them. */
static float forward_train(DlrtTrainer *t, int n, double *metrics) {
    const DlrtModel *m = t->m;
    float loss = m->labels.forward_train ? m->labels.forward_train(t->state, n, t->xb, t->yb, metrics)
                                         : m->targets.forward_train(t->state, n, t->xb, t->yb, metrics);
    dlrt_trainer_note_loop_limit(t);
    return loss;
}

void dlrt_trainer_note_loop_limit(DlrtTrainer *t) {
    if (t->m->loop_limit && !t->loop_line)
        t->loop_line = t->m->loop_limit(t->state);
}

int dlrt_trainer_loop_limited(DlrtTrainer *t) {
    if (!t->loop_line)
        return 0;
    fprintf(t->errf,
            "%s: %s.dlm line %d: the bounded while loop's condition still held after its last iteration, so its "
            "result would be truncated; raise the bound after 'max'\n",
            t->prog, t->m->name, t->loop_line);
    return 1;
}

static void backward(DlrtTrainer *t, int n) {
    const DlrtModel *m = t->m;
    if (m->labels.backward)
        m->labels.backward(t->state, n, t->xb, t->yb);
    else
        m->targets.backward(t->state, n, t->xb, t->yb);
}

static float evaluate(DlrtTrainer *t, int n, double *metrics) {
    const DlrtModel *m = t->m;
    float loss = m->labels.evaluate ? m->labels.evaluate(t->state, n, t->xb, t->yb, metrics)
                                    : m->targets.evaluate(t->state, n, t->xb, t->yb, metrics);
    dlrt_trainer_note_loop_limit(t);
    return loss;
}

/* The next batch of ds into the model's input (through the resize when the model takes larger images) and y. */
static int64_t next_batch(DlrtTrainer *t, DlrtBatcher *b, const DlrtDataset *ds) {
    const DlrtModel *m = t->m;
    int labels = m->labels.forward_train != NULL;
    int64_t r = m->data.resize;
    int64_t n = dlrt_batcher_next(b, ds, r ? t->raw : t->xb, labels ? t->yb : NULL, labels ? NULL : t->yb);
    if (r && n > 0)
        dlrt_resize_bilinear(t->raw, n, DLRT_RAW_SIDE, DLRT_RAW_SIDE, t->xb, r, r);
    return n;
}

/* The sums below add (double)loss * (double)n: a float times a batch size is exact in double, so whether the
 * compiler fuses the multiply and the add (the trainers this replaced were built with -ffp-contract=fast) makes
 * no difference to the bits. */
int64_t dlrt_trainer_epoch(DlrtTrainer *t, const DlrtDataset *data, DlrtBatcher *b, DlrtRng *shuffle, DlrtProgress *po,
                           int64_t epoch, double *loss_sum, float *bad_loss, int64_t *bad_batch) {
    int nm = t->m->n_metrics > 0 ? t->m->n_metrics : 1;
    double *metrics = t->sums, *metric_sum = t->sums + nm;
    int64_t seen = 0, m, bi = 0;
    *loss_sum = 0;
    for (int k = 0; k < nm; k++)
        metric_sum[k] = 0;
    dlrt_batcher_start_epoch(b, shuffle);
    while ((m = next_batch(t, b, data)) > 0) {
        float loss;
        double batch_loss = 0;
        if (t->dist)
            batch_loss = dlrt_dist_batch(t, m, &loss, metrics); /* the gradients are the whole batch's */
        else
            loss = forward_train(t, (int)m, metrics);
        if (t->loop_line)
            return -1;
        if (!isfinite(loss)) {
            *bad_loss = loss;
            *bad_batch = bi;
            return -1;
        }
        if (!t->dist) {
            backward(t, (int)m);
            batch_loss = (double)loss * (double)m;
        }
        t->m->step(t->state, t->lr);
        *loss_sum += batch_loss;
        for (int k = 0; k < t->m->n_metrics; k++)
            metric_sum[k] += metrics[k];
        seen += m;
        dlrt_progress_batch(po, epoch + 1, bi++, m, (double)loss);
    }
    return seen;
}

void dlrt_trainer_evaluate(DlrtTrainer *t, const DlrtDataset *ds, DlrtBatcher *b, double *loss, double *acc) {
    const DlrtModel *md = t->m;
    int nm = md->n_metrics > 0 ? md->n_metrics : 1;
    double *metrics = t->sums, *tm = t->sums + 2 * nm, tl = 0;
    int64_t tn = 0, m;
    for (int k = 0; k < nm; k++)
        tm[k] = 0;
    dlrt_batcher_start_epoch(b, NULL);
    while ((m = next_batch(t, b, ds)) > 0) {
        tl += (double)evaluate(t, (int)m, metrics) * (double)m;
        for (int k = 0; k < md->n_metrics; k++)
            tm[k] += metrics[k];
        tn += m;
    }
    *loss = tl / (double)tn;
    *acc = NAN;
    if (md->accuracy_metric >= 0)
        *acc = tm[md->accuracy_metric] / (double)tn;
    else if (md->log_rmse_metric >= 0)
        *loss = sqrt(tm[md->log_rmse_metric] / (double)tn);
}

/* One fold: a model from the run's start trained on tr for every epoch, then scored on tr and va. */
static int fold(DlrtTrainer *t, int i, const DlrtDataset *tr, const DlrtDataset *va, DlrtBatcher *btr,
                DlrtBatcher *bva) {
    t->m->init(t->state, t->seed);
    DlrtRng shuffle;
    dlrt_rng_seed(&shuffle, t->seed, 1);
    DlrtProgress quiet; /* silent: one line per fold instead */
    dlrt_progress_init(&quiet, t->out, t->epochs, 1, dlrt_batcher_batches(btr), 1);
    for (int64_t epoch = 0; epoch < t->epochs; epoch++) {
        t->lr_now = dlrt_schedule_lr(&t->m->schedule, t->base_lr, epoch, t->epochs);
        t->lr = (float)t->lr_now;
        double loss_sum;
        float bad_loss = 0;
        int64_t bad_batch = 0;
        if (dlrt_trainer_epoch(t, tr, btr, &shuffle, &quiet, epoch, &loss_sum, &bad_loss, &bad_batch) < 0) {
            if (dlrt_trainer_loop_limited(t))
                return 1;
            fprintf(t->errf,
                    "%s: fold %d: the loss became %g in epoch %lld, batch %lld, with learning rate %g (try a "
                    "smaller --lr)\n",
                    t->prog, i + 1, (double)bad_loss, (long long)epoch + 1, (long long)bad_batch + 1, (double)t->lr);
            return 1;
        }
    }
    double tl, vl, unused;
    dlrt_trainer_evaluate(t, tr, btr, &tl, &unused);
    dlrt_trainer_evaluate(t, va, bva, &vl, &unused);
    if (dlrt_trainer_loop_limited(t))
        return 1;
    t->folds[t->n_folds++] = (DlrtFold){.train_log_rmse = tl, .valid_log_rmse = vl};
    fprintf(t->out, "fold %d: train log rmse %.4f, valid log rmse %.4f\n", i + 1, tl, vl);
    fflush(t->out);
    return 0;
}

/* --kfold K: K models from the same start, each trained on all folds but one and scored on that one (D2L 4.10's
 * k_fold); the run then trains on all the data. */
int dlrt_trainer_kfold(DlrtTrainer *t) {
    int k = t->args.kfold;
    if (t->train.n < k) {
        fprintf(t->errf, "%s: --kfold %d needs at least %d training examples; the data has %lld\n", t->prog, k, k,
                (long long)t->train.n);
        return 2;
    }
    double sum_train = 0, sum_valid = 0;
    for (int i = 0; i < k; i++) {
        DlrtDataset tr = {0}, va = {0};
        DlrtBatcher btr = {0}, bva = {0};
        int status = 0;
        if (dlrt_kfold_split(&t->train, k, i, &tr, &va, &t->err) != DLRT_OK ||
            dlrt_batcher_init(&btr, tr.n, t->batch, &t->err) != DLRT_OK ||
            dlrt_batcher_init(&bva, va.n, t->batch, &t->err) != DLRT_OK)
            status = dlrt_trainer_fail(t, 1);
        else
            status = fold(t, i, &tr, &va, &btr, &bva);
        dlrt_batcher_free(&btr);
        dlrt_batcher_free(&bva);
        dlrt_dataset_free(&tr);
        dlrt_dataset_free(&va);
        if (status)
            return status;
        sum_train += t->folds[i].train_log_rmse;
        sum_valid += t->folds[i].valid_log_rmse;
    }
    fprintf(t->out, "%d-fold validation: avg train log rmse %.4f, avg valid log rmse %.4f\n", k, sum_train / k,
            sum_valid / k);
    fflush(t->out);
    return 0;
}
