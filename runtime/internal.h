/* internal.h - helpers shared by libdlrt's hosted source files; not installed, not for generated code. */
#ifndef DLRT_INTERNAL_H
#define DLRT_INTERNAL_H

#include <stdio.h>

#include "dlrt.h"

#if defined(__GNUC__)
#define DLRT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DLRT_PRINTF(f, a)
#endif

/* An image byte as the float a dataset holds: every loader and every conversion of DlrtDataset.u8 goes through
 * this one expression, so bytes converted per batch give the bits the float loaders give. */
static inline float dlrt_u8_to_f32(uint8_t b) { return (float)b * (1.0f / 255.0f); }

/* Formats the message into err (if non-NULL) and returns code, so error paths read `return dlrt_fail(...)`. */
int dlrt_fail(DlrtError *err, int code, const char *fmt, ...) DLRT_PRINTF(3, 4);

/* A file being written atomically: stream goes to a temporary sibling of path until commit renames it. */
typedef struct {
    FILE *f;
    char path[1024];
    char tmp[1040];
} DlrtAtomicFile;

/* A symbolic link at path is written through (its target is replaced); a directory at path is refused. */
int dlrt_atomic_open(DlrtAtomicFile *af, const char *path, DlrtError *err);
/* Flushes, fsyncs and renames over path; on any failure the temporary file is removed. */
int dlrt_atomic_commit(DlrtAtomicFile *af, DlrtError *err);
/* Gives up: closes and removes the temporary file. */
void dlrt_atomic_abort(DlrtAtomicFile *af);
/* Whether path can be written as dlrt_atomic_open would: creates and removes the temporary file. */
int dlrt_output_check(const char *path, DlrtError *err);

/* font.c: the captions' bitmap font. A glyph is DLRT_GLYPH_H rows of DLRT_GLYPH_W pixels (byte r is row r, top
 * first, bit DLRT_GLYPH_W - 1 the leftmost pixel); glyphs sit DLRT_GLYPH_ADVANCE pixels apart. */
enum { DLRT_GLYPH_W = 5, DLRT_GLYPH_H = 9, DLRT_GLYPH_ADVANCE = 6 };
const unsigned char *dlrt_glyph(int c);

typedef struct DlrtDistTree DlrtDistTree;
typedef struct DlrtOverlap DlrtOverlap;

/* Examples per chunk of a data-parallel run's canonical summation order when --chunk is not given. */
enum { DLRT_DIST_CHUNK = 16 };

/* ---- the trainer (train.c, train_loop.c, train_data.c, train_pictures.c, train_paths.c) ---- */

/* Fashion-MNIST's images as the data holds them, before a model's resize. */
enum { DLRT_RAW_SIDE = 28, DLRT_RAW_PIXELS = DLRT_RAW_SIDE * DLRT_RAW_SIDE };

/* Everything one run of dlrt_train_run holds: what the user asked for merged with the model's defaults, the data,
 * the model's state and batch buffers, the checkpoint descriptors and the epoch loop's record. Zeroed at the
 * start; the run frees what it holds when it ends, however it ends. */
typedef struct {
    const DlrtModel *m;
    const DlrtDist *dist; /* a data-parallel run's ranks (train_dist.c), or NULL */
    FILE *out, *errf;     /* progress and answers; messages */
    const char *prog;     /* argv[0], or "<name>-train" */
    char prog_buf[160];
    DlrtArgs args;
    int64_t epochs, batch; /* the flags over the model's defaults */
    double base_lr;        /* --lr or the model's: the rate the schedule scales */
    double lr_now;         /* this epoch's rate (dlrt_schedule_lr), and as the step takes it: */
    float lr;
    uint64_t seed;
    int predict_only; /* --predict with loaded weights and no --epochs: no training, no data unless needed */
    DlrtError err;

    DlrtDataset train, test;
    DlrtDataset valid;     /* --valid: the last examples of the training data, a view into train's storage */
    DlrtDataset unlabeled; /* CSV: test.csv without targets, what --submission predicts */
    DlrtCsvInfo info;

    void *state;     /* the model's state block */
    float *xb;       /* a batch of the model's input */
    float *raw;      /* a batch of raw images before the resize to xb, when the model resizes */
    void *yb;        /* a batch of labels (int32) or targets (float) */
    double *sums;    /* 3 x the metric count: one batch's metrics, an epoch's sums, an evaluation's sums */
    int loop_line;   /* the .dlm line of a bounded while loop a call truncated (DlrtModel.loop_limit), or 0 */
    DlrtFold *folds; /* --kfold's results */
    int n_folds;

    DlrtTensorDesc *params, *optim; /* the state block's tensors, for checkpoints */
    char (*optim_names)[160];
    int n_optim;

    /* the run */
    int64_t first_epoch; /* 0, or the epoch --resume continues after */
    DlrtRng shuffle;     /* the batches' order; checkpoints save it */
    int64_t saved;       /* epochs in the last checkpoint written, -1 before any */
    DlrtBatcher batcher, tbatcher, vbatcher;
    DlrtHistory hist;
    double train_loss, train_acc, test_loss, test_acc, valid_loss, valid_acc;
    int has_best; /* --save-best: the best validation score so far (checkpoints carry it, so --resume goes on) */
    int64_t best_epoch;
    double best_score;
    double train_seconds;
    int64_t trained; /* examples, for the report's rate */

    /* a data-parallel run's reduction (train_dist.c) */
    int64_t chunk;         /* examples per chunk of the canonical order; 0 with --fast-reduce */
    DlrtDistTree *tree;    /* the canonical order's buffers, from dlrt_dist_setup */
    DlrtOverlap *overlap;  /* --fast-reduce's sums started during backward (NULL: after it, DLRT_MPI_OVERLAP=0) */
    double reduce_seconds; /* spent summing gradients across ranks (after this rank's backward passes) */
    int64_t steps;         /* the batches those seconds are over */
    int64_t grad_reports;  /* gradients the generated backward reported finished (DlrtModel.set_grad_ready) */
} DlrtTrainer;

/* ---- train_dist.c: what a data-parallel rank does beyond a single process ---- */

/* This rank's share of a global batch of m examples: contiguous, in order, the first m mod N ranks one more. */
void dlrt_dist_share(const DlrtDist *d, int64_t m, int64_t *first, int64_t *count);

/* After the data is loaded and before the first batch: the canonical order's buffers, sized for this run's
 * batches. Returns 0 or 1 (out of memory, said). */
int dlrt_dist_setup(DlrtTrainer *t);
void dlrt_dist_free(DlrtTrainer *t);

/* At start-up: whether every rank runs the same kernels (the generated code's instruction set and OpenBLAS's
 * core), which the same bits on every host need; rank 0 names the ranks that differ. Only a warning. */
void dlrt_dist_check_kernels(DlrtTrainer *t);

/* Threads per rank when --threads is not given: this host's cores shared by its ranks, at least 1. */
int dlrt_dist_threads(const DlrtDist *d);

/* Every rank's status (0 or an exit status) at one point of the run: 0 when all are 0, else the first failing
 * rank's status, so every rank stops together; the failing rank has said why. */
int dlrt_dist_agree(const DlrtTrainer *t, int status);

/* At start-up: every rank runs the same model with the same flags (a hash of the parameter layout, sizes and the
 * flags that change the numbers). Returns 0, or 1 on every rank after rank 0 names the ranks that differ. */
int dlrt_dist_check_model(DlrtTrainer *t);

/* After an epoch: every rank holds the same parameters (a hash of their bytes). Returns 0, or 1 on every rank
 * after rank 0 names the ranks that differ from it. */
int dlrt_dist_check_params(DlrtTrainer *t, int64_t epoch);

/* One global batch of m examples in t->xb and t->yb, leaving in the gradient region the global batch's gradient,
 * the same on every rank, and the loss and metrics summed over all ranks in *loss (the global batch's mean) and
 * metrics[]; when the loss is not finite the gradients are left as they are. In the canonical order the batch is
 * cut into chunks of t->chunk examples, each rank runs forward and backward on whole chunks of its share, and the
 * chunks' gradients are added in one tree fixed by the chunk indices, so the bits do not depend on the number
 * of ranks; with --fast-reduce each rank runs its share of examples at once and MPI sums them. Returns the
 * global batch's loss summed over its examples. */
double dlrt_dist_batch(DlrtTrainer *t, int64_t m, float *loss, double *metrics);

/* Prints "prog: <err's message>" and returns status. */
int dlrt_trainer_fail(DlrtTrainer *t, int status);

/* One epoch over data in batches shuffled by `shuffle`: forward, backward and step for each, summing the batches'
 * loss (times their size) into *loss_sum and their metrics into t->sums + n (n = the metric count, at least 1).
 * Returns the examples seen, or -1 when a loss was not finite (*bad_loss, in batch *bad_batch, counted from 0),
 * before that batch's update. */
int64_t dlrt_trainer_epoch(DlrtTrainer *t, const DlrtDataset *data, DlrtBatcher *b, DlrtRng *shuffle, DlrtProgress *po,
                           int64_t epoch, double *loss_sum, float *bad_loss, int64_t *bad_batch);

/* The loss over ds in inference mode, and its accuracy (NaN without an accuracy metric); a model scored by
 * log_rmse reports that as its loss. */
/* Records the model's truncated while loop after a call (DlrtModel.loop_limit); reports it (1) or returns 0. */
void dlrt_trainer_note_loop_limit(DlrtTrainer *t);
int dlrt_trainer_loop_limited(DlrtTrainer *t);
void dlrt_trainer_evaluate(DlrtTrainer *t, const DlrtDataset *ds, DlrtBatcher *b, double *loss, double *acc);

/* --kfold: trains a model from the same start on each fold's complement and scores it on the fold, into
 * t->folds. Returns 0, or the exit status (1, or 2 when there are fewer examples than folds). */
int dlrt_trainer_kfold(DlrtTrainer *t);

/* Loads or generates the model's data into t->train and t->test (t->unlabeled and t->info for CSV data), and with
 * --valid moves the last examples of t->train into t->valid. Returns the exit status: 0, 1 (bad data), 2 (bad
 * usage). */
int dlrt_trainer_load_data(DlrtTrainer *t);

/* --submission: the model's prediction for every test row, as a Kaggle submission. Returns 0 or 1. */
int dlrt_trainer_submission(DlrtTrainer *t);

/* The files the run will write, checked before anything else runs: two outputs that are one file, or an output
 * that is one of the run's inputs (--load, --data, --predict; --resume unless it is --save's file), are bad usage
 * (2); an output that cannot be written (a missing folder, a directory, a read-only place) fails the run (1). */
int dlrt_trainer_check_paths(DlrtTrainer *t);

/* --show-samples, --show-predictions and --predict. Each returns 0 or 1. */
int dlrt_trainer_show_samples(DlrtTrainer *t);
int dlrt_trainer_show_predictions(DlrtTrainer *t);
int dlrt_trainer_predict(DlrtTrainer *t);

#endif
