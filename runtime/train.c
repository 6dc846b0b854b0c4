/* train.c - the trainer program: `<name>-train [flags]`. `dlc build` emits a descriptor of the model (DlrtModel:
 * sizes, the generated functions, the train section's values) and a main() that hands it to dlrt_train_main;
 * everything else a trainer does is here. This file reads the command line, sets up the state, loads or resumes
 * checkpoints, runs the epoch loop and writes what the run leaves behind (metrics, plot, report); the epoch and
 * evaluation passes and k-fold are in train_loop.c, the data in train_data.c, the pictures and --predict in
 * train_pictures.c. Messages and exit statuses are those of docs/trainer.md: 2 for bad usage, 1 for anything
 * else that fails. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The steps of a run return 0 when it goes on and the exit status when it ends; reading the command line may
 * also end a run that succeeded (--help), so it says CONTINUE. */
enum { CONTINUE = -1 };

int dlrt_trainer_fail(DlrtTrainer *t, int status) {
    fprintf(t->errf, "%s: %s\n", t->prog, t->err.msg);
    return status;
}

/* The command line over the model's defaults, and the flags this model cannot serve. */
static int command_line(DlrtTrainer *t, int argc, char **argv) {
    const DlrtModel *m = t->m;
    DlrtArgs *a = &t->args;
    if (dlrt_parse_args(argc, argv, a, &t->err) != DLRT_OK) {
        fprintf(t->errf, "%s: %s\nTry '%s --help'.\n", t->prog, t->err.msg, t->prog);
        return 2;
    }
    DlrtArgs defaults = {.epochs = m->epochs, .batch = m->batch, .lr = m->lr, .seed = m->seed};
    if (a->help) {
        dlrt_usage(t->out, t->prog, m->name, &defaults);
        return 0;
    }
    t->epochs = a->has_epochs ? a->epochs : defaults.epochs;
    t->batch = a->has_batch ? a->batch : defaults.batch;
    t->lr = (float)(a->has_lr ? a->lr : defaults.lr);
    t->seed = a->has_seed ? a->seed : defaults.seed;
    if (t->batch < 1 || t->batch > m->max_batch) {
        fprintf(t->errf,
                "%s: --batch %lld is outside 1..%d, the maximum this trainer was compiled for; rebuild with `dlc "
                "build --batch N`\n",
                t->prog, (long long)t->batch, m->max_batch);
        return 2;
    }
    if (!m->kfold && a->has_kfold) {
        fprintf(t->errf, "%s: --kfold needs a model trained on CSV data with a log_rmse metric; %s is not\n", t->prog,
                m->name);
        return 2;
    }
    if (!m->submission && a->submission) {
        fprintf(t->errf,
                "%s: --submission needs a model trained on CSV data that predicts one value per row with a "
                "log_rmse metric; %s does not\n",
                t->prog, m->name);
        return 2;
    }
    if (!m->images && (a->n_predict || a->show_samples || a->show_predictions)) {
        fprintf(t->errf,
                "%s: --predict, --show-samples and --show-predictions need a model that classifies Fashion-MNIST "
                "images; %s does not\n",
                t->prog, m->name);
        return 2;
    }
    /* --predict with --load or --resume and no --epochs predicts with the loaded weights and trains nothing. */
    t->predict_only = a->n_predict > 0 && (a->load || a->resume) && !a->has_epochs;
    return CONTINUE;
}

/* The model's state (one block, allocated once), the batch buffers and the tables checkpoints describe. */
static int allocate(DlrtTrainer *t) {
    const DlrtModel *m = t->m;
    size_t batch = (size_t)t->batch, nm = (size_t)(m->n_metrics > 0 ? m->n_metrics : 1);
    size_t np = (size_t)(m->n_params > 0 ? m->n_params : 1), no = 2 * (size_t)m->n_params + 1;
    t->state = aligned_alloc(64, (m->state_bytes + 63) / 64 * 64);
    t->xb = malloc(sizeof(float) * batch * (size_t)m->x_size);
    if (m->data.resize)
        t->raw = malloc(sizeof(float) * batch * DLRT_RAW_PIXELS);
    t->yb = malloc((m->labels.forward_train ? sizeof(int32_t) : sizeof(float)) * batch * (size_t)m->y_size);
    t->sums = malloc(sizeof(double) * 3 * nm);
    t->params = malloc(sizeof(DlrtTensorDesc) * np);
    t->optim = malloc(sizeof(DlrtTensorDesc) * no);
    t->optim_names = malloc(sizeof *t->optim_names * no);
    if (t->args.has_kfold)
        t->folds = malloc(sizeof(DlrtFold) * (size_t)t->args.kfold);
    if (!t->state || !t->xb || !t->yb || (m->data.resize && !t->raw) || !t->sums || !t->params || !t->optim ||
        !t->optim_names || (t->args.has_kfold && !t->folds)) {
        fprintf(t->errf, "%s: out of memory for the model's %lld-byte state\n", t->prog, (long long)m->state_bytes);
        return 1;
    }
    return 0;
}

/* Parameters and optimizer state as named tensors in the state block, for checkpoints. */
static void describe(DlrtTrainer *t) {
    const DlrtModel *m = t->m;
    int no = 0;
    for (int i = 0; i < m->n_params; i++) {
        DlrtParam p = m->param(i);
        DlrtTensorDesc *d = &t->params[i];
        *d = (DlrtTensorDesc){.name = p.name, .dtype = DLRT_F32, .rank = p.rank};
        memcpy(d->dims, p.dims, sizeof(int64_t) * (size_t)p.rank);
        d->data = (unsigned char *)t->state + p.offset;
        for (int k = 0; k < 2; k++) {
            if (p.opt_offset[k] < 0)
                continue;
            snprintf(t->optim_names[no], sizeof t->optim_names[no], "%s#%s", p.name,
                     m->optim_names[k] ? m->optim_names[k] : "?");
            t->optim[no] = *d;
            t->optim[no].name = t->optim_names[no];
            t->optim[no].data = (unsigned char *)t->state + p.opt_offset[k];
            no++;
        }
    }
    t->n_optim = no;
}

/* A checkpoint with everything --resume needs, after `epoch` epochs. */
static int save_checkpoint(DlrtTrainer *t, int64_t epoch) {
    DlrtCheckpoint ck = {.params = t->params,
                         .n_params = t->m->n_params,
                         .optim = t->n_optim ? t->optim : NULL,
                         .n_optim = t->n_optim,
                         .has_epoch = 1,
                         .epoch = epoch,
                         .step = *t->m->step_counter(t->state),
                         .has_rng = 1,
                         .rng = t->shuffle};
    return dlrt_checkpoint_save(t->args.save, &ck, &t->err);
}

/* The starting point: the model initialised from the seed, then --load's weights or --resume's whole state;
 * --show-samples; and with --save, the starting point written first, so an unwritable path fails now, not after
 * an epoch, and a run that diverges in its first epoch still leaves its last good state. */
static int start(DlrtTrainer *t) {
    const DlrtArgs *a = &t->args;
    t->m->init(t->state, t->seed);
    dlrt_rng_seed(&t->shuffle, t->seed, 1);
    describe(t);
    if (a->load || a->resume) {
        const char *path = a->load ? a->load : a->resume;
        DlrtCheckpoint ck = {.params = t->params,
                             .n_params = t->m->n_params,
                             .optim = a->resume && t->n_optim ? t->optim : NULL,
                             .n_optim = a->resume ? t->n_optim : 0};
        if (dlrt_checkpoint_load(path, &ck, a->resume ? DLRT_CKPT_RESUME : 0u, &t->err) != DLRT_OK)
            return dlrt_trainer_fail(t, 1);
        if (a->resume) {
            t->first_epoch = ck.epoch;
            *t->m->step_counter(t->state) = ck.step;
            t->shuffle = ck.rng;
            if (!a->quiet)
                fprintf(t->out, "resumed from %s after epoch %lld (step %llu)\n", path, (long long)ck.epoch,
                        (unsigned long long)ck.step);
        } else if (!a->quiet) {
            fprintf(t->out, "loaded the weights of %s\n", path);
        }
    }
    if (t->predict_only)
        t->epochs = t->first_epoch;
    else if (a->resume && t->first_epoch >= t->epochs && !a->quiet)
        fprintf(t->out, "nothing to train: the checkpoint has %lld epochs and --epochs asks for %lld\n",
                (long long)t->first_epoch, (long long)t->epochs);
    if (t->m->images && a->show_samples && dlrt_trainer_show_samples(t) != 0)
        return 1;
    t->saved = -1;
    if (a->save) {
        if (save_checkpoint(t, t->first_epoch) != DLRT_OK)
            return dlrt_trainer_fail(t, 1);
        t->saved = t->first_epoch;
    }
    return 0;
}

/* The message for a loss that stopped being a number, and where the last good state is. */
static void diverged(DlrtTrainer *t, float bad_loss, int64_t epoch, int64_t bad_batch) {
    fprintf(t->errf,
            "%s: the loss became %g in epoch %lld, batch %lld, with learning rate %g; stopped before the update "
            "(try a smaller --lr)\n",
            t->prog, (double)bad_loss, (long long)epoch + 1, (long long)bad_batch + 1, (double)t->lr);
    if (t->saved > 0)
        fprintf(t->errf,
                "%s: the last good checkpoint, from the end of epoch %lld, is %s; --resume it with a smaller --lr\n",
                t->prog, (long long)t->saved, t->args.save);
    else if (t->saved == 0)
        fprintf(t->errf,
                "%s: the last good checkpoint, from before the first epoch, is %s; --resume it with a smaller --lr\n",
                t->prog, t->args.save);
}

/* The epochs from first_epoch to epochs: train, evaluate on the test set, record, checkpoint. Returns the run's
 * status so far (the loop stops at the first failure). */
static int train(DlrtTrainer *t) {
    const DlrtModel *m = t->m;
    int nm = m->n_metrics > 0 ? m->n_metrics : 1;
    DlrtProgress po;
    dlrt_progress_init(&po, t->out, t->epochs, t->first_epoch + 1, dlrt_batcher_batches(&t->batcher), t->args.quiet);
    int status = 0;
    for (int64_t epoch = t->first_epoch; epoch < t->epochs && status == 0; epoch++) {
        dlrt_progress_epoch_begin(&po, epoch + 1);
        double loss_sum, te = dlrt_now();
        const double *metric_sum = t->sums + nm;
        float bad_loss = 0;
        int64_t bad_batch = 0;
        int64_t seen =
            dlrt_trainer_epoch(t, &t->train, &t->batcher, &t->shuffle, &po, epoch, &loss_sum, &bad_loss, &bad_batch);
        t->train_seconds += dlrt_now() - te;
        if (seen < 0) {
            if (po.drawn)
                fputs("\n", t->out);
            diverged(t, bad_loss, epoch, bad_batch);
            status = 1;
            break;
        }
        t->trained += seen;
        t->train_loss = seen ? loss_sum / (double)seen : NAN;
        if (m->accuracy_metric >= 0)
            t->train_acc = seen ? metric_sum[m->accuracy_metric] / (double)seen : NAN;
        else if (m->log_rmse_metric >= 0)
            t->train_loss = seen ? sqrt(metric_sum[m->log_rmse_metric] / (double)seen) : NAN;
        if (t->test.n > 0) {
            dlrt_progress_note(&po, epoch + 1, "evaluating on the test set");
            dlrt_trainer_evaluate(t, &t->test, &t->tbatcher, &t->test_loss, &t->test_acc);
        }
        double secs = dlrt_progress_epoch_end(&po, epoch + 1, t->train_loss, t->train_acc, t->test_loss, t->test_acc);
        dlrt_history_add(&t->hist, epoch + 1, t->train_loss, t->train_acc, t->test_loss, t->test_acc, secs, &t->err);
        if (t->args.save) {
            if (save_checkpoint(t, epoch + 1) != DLRT_OK)
                status = dlrt_trainer_fail(t, 1);
            else
                t->saved = epoch + 1;
        }
    }
    return status;
}

/* What follows training: the test set's scores when no epoch ran (--load or --resume with nothing left to
 * train), the pictures, --predict and --submission. Each runs only while everything before succeeded. */
static int after_training(DlrtTrainer *t, int status) {
    const DlrtArgs *a = &t->args;
    if (status == 0 && t->first_epoch >= t->epochs && t->test.n > 0) {
        dlrt_trainer_evaluate(t, &t->test, &t->tbatcher, &t->test_loss, &t->test_acc);
        if (!a->quiet && isnan(t->test_acc))
            fprintf(t->out, "test_loss %.4f\n", t->test_loss);
        else if (!a->quiet)
            fprintf(t->out, "test_loss %.4f  test_acc %.4f\n", t->test_loss, t->test_acc);
    }
    if (t->m->images) {
        if (status == 0 && a->show_predictions) {
            if (t->test.n == 0) {
                fprintf(t->errf, "%s: --show-predictions: no test images\n", t->prog);
                status = 1;
            } else {
                status = dlrt_trainer_show_predictions(t);
            }
        }
        if (status == 0 && a->n_predict)
            status = dlrt_trainer_predict(t);
    }
    if (t->m->submission && status == 0 && a->submission)
        status = dlrt_trainer_submission(t);
    return status;
}

/* The metrics CSV, the plot and the JSON report: written whatever happened, for the epochs that finished. */
static int write_outputs(DlrtTrainer *t, int status, double seconds) {
    const DlrtModel *m = t->m;
    const DlrtArgs *a = &t->args;
    if (a->metrics && dlrt_write_metrics_csv(a->metrics, &t->hist, &t->err) != DLRT_OK)
        status = dlrt_trainer_fail(t, 1);
    if (a->plot && dlrt_write_history_svg(a->plot, &t->hist, m->name, m->plot_log, &t->err) != DLRT_OK)
        status = dlrt_trainer_fail(t, 1);
    if (a->report) {
        DlrtReport r = {.model = m->name,
                        .epochs = t->epochs,
                        .train_loss = t->train_loss,
                        .test_loss = t->test_loss,
                        .classifies = m->accuracy_metric >= 0,
                        .train_acc = t->train_acc,
                        .test_acc = t->test_acc,
                        .examples_per_second = t->train_seconds > 0 ? (double)t->trained / t->train_seconds : 0,
                        .seconds = seconds,
                        .peak_rss_bytes = dlrt_peak_rss(),
                        .params = t->params,
                        .n_params = m->n_params,
                        .folds = t->folds,
                        .n_folds = t->n_folds};
        if (dlrt_report_write(a->report, &r, &t->err) != DLRT_OK)
            status = dlrt_trainer_fail(t, 1);
    }
    return status;
}

/* A run whose command line was accepted: data, state, k-fold, the epochs, what follows them and the outputs. */
static int run(DlrtTrainer *t) {
    dlrt_set_threads(t->args.has_threads ? t->args.threads : 0, t->m->blas_flops);
    int status = dlrt_trainer_load_data(t);
    if (status == 0)
        status = allocate(t);
    if (status == 0 && t->args.has_kfold) /* only models that offer it get here */
        status = dlrt_trainer_kfold(t);
    if (status == 0)
        status = start(t);
    if (status)
        return status;
    if (dlrt_batcher_init(&t->batcher, t->train.n, t->batch, &t->err) != DLRT_OK ||
        dlrt_batcher_init(&t->tbatcher, t->test.n, t->batch, &t->err) != DLRT_OK ||
        dlrt_history_init(&t->hist, t->epochs > 0 ? t->epochs : 1, &t->err) != DLRT_OK)
        return dlrt_trainer_fail(t, 1);
    t->train_loss = t->train_acc = t->test_loss = t->test_acc = NAN;
    double t0 = dlrt_now();
    status = train(t);
    status = after_training(t, status);
    return write_outputs(t, status, dlrt_now() - t0);
}

static void release(DlrtTrainer *t) {
    dlrt_history_free(&t->hist);
    dlrt_batcher_free(&t->batcher);
    dlrt_batcher_free(&t->tbatcher);
    dlrt_dataset_free(&t->train);
    dlrt_dataset_free(&t->test);
    dlrt_dataset_free(&t->unlabeled);
    dlrt_csv_info_free(&t->info);
    free(t->state);
    free(t->xb);
    free(t->raw);
    free(t->yb);
    free(t->sums);
    free(t->folds);
    free(t->params);
    free(t->optim);
    free(t->optim_names);
}

#define REQUIRE(cond, what)                                                                                            \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            return dlrt_fail(err, DLRT_EINVAL, "model %s: %s", name, what);                                            \
    } while (0)

int dlrt_model_check(const DlrtModel *m, DlrtError *err) {
    const char *name = m->name ? m->name : "(unnamed)";
    const DlrtLabelFns *l = &m->labels;
    const DlrtTargetFns *g = &m->targets;
    REQUIRE(m->name && m->name[0], "no name");
    REQUIRE(m->x_name, "no x_name");
    REQUIRE(m->x_size >= 1 && m->y_size >= 1, "x_size and y_size must be at least 1");
    REQUIRE(m->n_metrics >= 0 && m->accuracy_metric < m->n_metrics && m->log_rmse_metric < m->n_metrics,
            "accuracy_metric and log_rmse_metric must be -1 or below n_metrics");
    REQUIRE(m->max_batch >= 1 && m->state_bytes >= 1, "max_batch and state_bytes must be at least 1");
    REQUIRE(m->n_params >= 0 && (m->n_params == 0 || m->param), "n_params parameters need param()");
    for (int i = 0; i < m->n_params; i++) {
        DlrtParam p = m->param(i);
        REQUIRE(p.name && p.rank >= 0 && p.rank <= DLRT_MAX_RANK && (p.rank == 0 || p.dims) && p.offset >= 0,
                "param(i) must give a name, a rank up to DLRT_MAX_RANK with its dims, and an offset");
    }
    REQUIRE(m->init && m->step && m->step_counter, "init, step and step_counter are required");
    int has_labels = l->forward_train || l->backward || l->evaluate;
    int has_targets = g->forward_train || g->backward || g->evaluate;
    REQUIRE(has_labels != has_targets, "exactly one of labels and targets must be given");
    REQUIRE(has_labels ? l->forward_train && l->backward && l->evaluate
                       : g->forward_train && g->backward && g->evaluate,
            "forward_train, backward and evaluate are all required");
    REQUIRE(m->data.kind >= DLRT_DATA_FASHION_MNIST && m->data.kind <= DLRT_DATA_TENSORS, "unknown data kind");
    REQUIRE(!m->data.resize || (m->data.kind == DLRT_DATA_FASHION_MNIST && m->data.resize >= 1),
            "resize needs Fashion-MNIST data");
    REQUIRE(m->data.kind != DLRT_DATA_FASHION_MNIST ||
                m->x_size == (m->data.resize ? m->data.resize * m->data.resize : DLRT_RAW_PIXELS),
            "Fashion-MNIST data needs an input of 28 x 28 values, or resize x resize");
    REQUIRE(m->data.kind != DLRT_DATA_TENSORS || (m->data.tensors.x && m->data.tensors.y),
            "tensors data needs x and y");
    REQUIRE(!m->images || (m->data.kind == DLRT_DATA_FASHION_MNIST && has_labels && m->forward && m->output),
            "images needs Fashion-MNIST data, labels, forward and output");
    REQUIRE(!m->kfold || (m->data.kind == DLRT_DATA_CSV && m->log_rmse_metric >= 0),
            "kfold needs CSV data and a log_rmse metric");
    REQUIRE(!m->submission || (m->kfold && m->y_size == 1 && m->forward && m->output),
            "submission needs what kfold needs, y_size 1, forward and output");
    return DLRT_OK;
}

int dlrt_train_run(const DlrtModel *model, int argc, char **argv, FILE *out, FILE *errf) {
    DlrtTrainer t = {.m = model, .out = out, .errf = errf};
    snprintf(t.prog_buf, sizeof t.prog_buf, "%s-train", model->name ? model->name : "dlrt");
    t.prog = argc > 0 ? argv[0] : t.prog_buf;
    if (dlrt_model_check(model, &t.err) != DLRT_OK)
        return dlrt_trainer_fail(&t, 1);
    int status = command_line(&t, argc, argv);
    if (status == CONTINUE)
        status = run(&t);
    release(&t);
    return status;
}

int dlrt_train_main(const DlrtModel *model, int argc, char **argv) {
#ifdef _OPENMP
    if (!getenv("OMP_WAIT_POLICY") && argc > 0) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
#endif
    return dlrt_train_run(model, argc, argv, stdout, stderr);
}
