/* dlrt.h - libdlrt, the runtime library of dlc's trainers.
 *
 * A generated trainer's main() calls these functions: it parses the command line, loads or synthesises the data,
 * iterates over shuffled batches, reports progress, writes checkpoints, metrics, plots and the JSON report. The
 * runtime serves generated code and never calls back into it. Conventions:
 *   - Fallible calls return a DlrtStatus (0 = success) and fill a DlrtError naming the file and the problem.
 *   - Nothing calls exit(). Allocation happens only in set-up calls (loaders, *_init); the per-batch calls
 *     (dlrt_batcher_next, dlrt_resize_bilinear, dlrt_progress_batch) never allocate.
 *   - Every file the runtime writes is written atomically: a temporary file in the same directory, fsync, rename.
 */
#ifndef DLRT_H
#define DLRT_H

#include <stdio.h>

#include "dlrt_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------------- */
/* Datasets (dataset.c, idx.c, synthetic.c)                                                                   */
/* ---------------------------------------------------------------------------------------------------------- */

/* n examples, each a float tensor of the per-example shape dims[0 .. rank) (features = their product), stored
 * contiguously in x. A classification set has labels (n int32 in [0, classes)); a regression set has targets
 * (n * target_dim floats). The other pointer is NULL. */
typedef struct {
    int64_t n;
    int rank;
    int64_t dims[4];
    int64_t features;
    float *x;
    int32_t *labels;
    int classes;
    float *targets;
    int64_t target_dim;
} DlrtDataset;

/* Frees what a loader or generator allocated and zeroes *ds. Safe on a zeroed or already freed dataset. */
void dlrt_dataset_free(DlrtDataset *ds);

#define DLRT_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Loads one IDX pair: images (magic 0x00000803, n x rows x cols unsigned bytes, scaled to [0, 1] by / 255) and
 * labels (magic 0x00000801, n unsigned bytes, each < classes). Files may be gzip-compressed or plain. limit > 0
 * keeps only the first `limit` examples. The result has rank 3, dims {1, rows, cols}. Errors name the file, the
 * byte offset (in the decompressed stream) and what was expected and found: bad magic, bad dims, truncation,
 * image count != label count, label out of range. */
int dlrt_idx_load(const char *images_path, const char *labels_path, int classes, int64_t limit, DlrtDataset *out,
                  DlrtError *err);

/* Loads Fashion-MNIST from dir (NULL = DLRT_FASHION_MNIST_DIR): train-{images-idx3,labels-idx1}-ubyte[.gz] and
 * t10k-... . limit > 0 caps both splits. A missing dataset is DLRT_EIO with a message naming the path searched
 * and `apt-get install dataset-fashion-mnist`. */
int dlrt_load_fashion_mnist(const char *dir, int64_t limit, DlrtDataset *train, DlrtDataset *test,
                            DlrtError *err);

/* Fashion-MNIST's class name for label 0..9 ("t-shirt", "trouser", ...), or "?" when out of range. */
const char *dlrt_fashion_mnist_class(int label);

/* D2L 3.1: X ~ N(0, 1) of shape [n, d], y = X w + b + N(0, noise^2), targets of shape [n, 1]. X is drawn first
 * (row-major), then the n noise values. D2L's values are w = {2, -3.4}, b = 4.2, noise = 0.01, n = 1000. */
int dlrt_synthetic_linear(const float *w, int d, float b, float noise, int64_t n, DlrtRng *rng, DlrtDataset *out,
                          DlrtError *err);

/* D2L 4.4: n_train + n_test scalars x ~ N(0, 1), features x^i / i! for i < max_degree, labels
 * sum_i coeffs[i] x^i / i! + N(0, noise^2) (coefficients past n_coeffs are 0). The first n_train examples form
 * the training set, the rest the test set; each example keeps only the first `kept` features (the model's input
 * width: 4 for the "normal" fit, 2 for underfitting, max_degree for overfitting). D2L: max_degree 20,
 * coeffs {5, 1.2, -3.4, 5.6}, noise 0.1, 100 + 100 examples. */
int dlrt_synthetic_polynomial(int max_degree, int kept, const float *coeffs, int n_coeffs, float noise,
                              int64_t n_train, int64_t n_test, DlrtRng *rng, DlrtDataset *train,
                              DlrtDataset *test, DlrtError *err);

/* D2L 4.5: X ~ N(0, 1) of shape [n, d], y = 0.05 + sum_i 0.01 x_i + N(0, noise^2); train first, then test, each
 * drawn as dlrt_synthetic_linear does. D2L: d = 200, n_train = 20, n_test = 100, noise = 0.01. */
int dlrt_synthetic_high_dim(int d, int64_t n_train, int64_t n_test, float noise, DlrtRng *rng,
                            DlrtDataset *train, DlrtDataset *test, DlrtError *err);

/* ---------------------------------------------------------------------------------------------------------- */
/* Batching (batch.c)                                                                                         */
/* ---------------------------------------------------------------------------------------------------------- */

typedef struct {
    int64_t n;      /* examples */
    int64_t batch;  /* maximum batch size */
    int64_t pos;    /* next position in order */
    int64_t *order; /* the epoch's permutation */
} DlrtBatcher;

/* Allocates the permutation for n examples in batches of at most `batch`. */
int dlrt_batcher_init(DlrtBatcher *b, int64_t n, int64_t batch, DlrtError *err);
void dlrt_batcher_free(DlrtBatcher *b);

/* Starts an epoch. The order is reset to 0..n-1 and, if rng is non-NULL, shuffled by Fisher-Yates
 * (for i = n-1 down to 1: swap order[i] and order[dlrt_rng_below(rng, i + 1)]). Because the order restarts from
 * the identity, an epoch's order depends only on the RNG state, which checkpoints save. */
void dlrt_batcher_start_epoch(DlrtBatcher *b, DlrtRng *rng);

/* Copies the next batch of ds into x (batch * ds->features floats) and labels or targets (whichever ds has;
 * the other pointer may be NULL) and returns its size: `batch`, less for the last one, 0 once the epoch is done.
 * Does not allocate. */
int64_t dlrt_batcher_next(DlrtBatcher *b, const DlrtDataset *ds, float *x, int32_t *labels, float *targets);

/* Number of batches per epoch: ceil(n / batch). */
int64_t dlrt_batcher_batches(const DlrtBatcher *b);

/* ---------------------------------------------------------------------------------------------------------- */
/* Images (resize.c, image.c)                                                                                 */
/* ---------------------------------------------------------------------------------------------------------- */

/* Bilinear resize of `planes` single-channel images src[planes][in_h][in_w] into dst[planes][out_h][out_w], with
 * PyTorch's F.interpolate(mode="bilinear", align_corners=False, antialias=False) semantics (as torchvision's
 * Resize on tensors when upsampling): source coordinate (d + 0.5) * in / out - 0.5, clamped below at 0, the
 * upper neighbour clamped to the edge. src and dst must not overlap. Does not allocate. */
void dlrt_resize_bilinear(const float *src, int64_t planes, int64_t in_h, int64_t in_w, float *dst, int64_t out_h,
                          int64_t out_w);

/* Writes n grayscale images (h x w floats in [0, 1], clamped) as a PNG grid of `cols` columns with 2-pixel
 * gaps, magnified `scale` times (>= 1). Under each image, when labels is non-NULL, a bar marks correctness:
 * green if labels[i] == truth[i] (or truth is NULL), red otherwise. */
int dlrt_write_image_grid(const char *path, const float *images, int64_t n, int h, int w, int cols, int scale,
                          const int32_t *labels, const int32_t *truth, DlrtError *err);

/* Reads a PNG (any colour type or depth), converts it to grayscale in [0, 1] and resizes it bilinearly to
 * h x w into dst. invert != 0 maps v to 1 - v (dark-on-light photos to Fashion-MNIST's light-on-dark). */
int dlrt_read_image(const char *path, float *dst, int h, int w, int invert, DlrtError *err);

/* ---------------------------------------------------------------------------------------------------------- */
/* Command line (args.c)                                                                                      */
/* ---------------------------------------------------------------------------------------------------------- */

/* The trainer flags of INTERFACE.md. Numeric flags carry a has_ field so the model's defaults apply otherwise;
 * string flags are NULL when absent. Strings point into argv. */
typedef struct {
    int64_t epochs, batch, limit;
    double lr;
    uint64_t seed;
    int threads, kfold;
    int has_epochs, has_batch, has_lr, has_seed, has_limit, has_threads, has_kfold;
    const char *data, *report, *metrics, *plot, *save, *load, *resume, *show_samples, *show_predictions;
    char **predict; /* argv slice of the files after --predict */
    int n_predict;
    int quiet, help;
} DlrtArgs;

/* Parses argv[1 .. argc) into *args (zeroed first). Flags take their value as the next argument or after '='
 * (--epochs=5). --predict takes every following argument up to the next one starting with "--". Returns
 * DLRT_EUSAGE with a message for an unknown flag, a missing or malformed value, a stray argument, or
 * conflicting flags (--load with --resume). --help sets args->help and returns 0: print dlrt_usage, exit 0. */
int dlrt_parse_args(int argc, char **argv, DlrtArgs *args, DlrtError *err);

/* Prints the trainer's help text. `defaults` holds the model file's values (epochs, batch, lr, seed), shown
 * next to their flags. */
void dlrt_usage(FILE *out, const char *prog, const char *model, const DlrtArgs *defaults);

/* ---------------------------------------------------------------------------------------------------------- */
/* Checkpoint files (checkpoint.c)                                                                            */
/* ---------------------------------------------------------------------------------------------------------- */

/* Writes ck to path atomically (temporary file, fsync, rename): a crash leaves the old file or the new one. */
int dlrt_checkpoint_save(const char *path, const DlrtCheckpoint *ck, DlrtError *err);

/* Reads path (memory-mapped) with dlrt_checkpoint_read_mem's validation; messages name the path. */
int dlrt_checkpoint_load(const char *path, DlrtCheckpoint *ck, unsigned flags, DlrtError *err);

/* ---------------------------------------------------------------------------------------------------------- */
/* Reports, metrics and plots (report.c, plot.c)                                                              */
/* ---------------------------------------------------------------------------------------------------------- */

typedef struct {
    double train_log_rmse, valid_log_rmse;
} DlrtFold;

/* The JSON report. Doubles that are NaN or infinite are written as null (JSON has no NaN). */
typedef struct {
    const char *model;
    int64_t epochs;
    double train_loss, test_loss;
    int classifies;                   /* write train_acc and test_acc */
    double train_acc, test_acc;
    double examples_per_second, seconds;
    int64_t peak_rss_bytes;
    const DlrtTensorDesc *params;     /* written as "parameters" if the total element count is below 1,000 */
    int n_params;
    const DlrtFold *folds;            /* written as "kfold" when n_folds > 0 */
    int n_folds;
} DlrtReport;

/* Writes the report as one JSON object, atomically. */
int dlrt_report_write(const char *path, const DlrtReport *r, DlrtError *err);

/* Per-epoch metrics, preallocated for `cap` epochs (one block; free with dlrt_history_free). Missing values are
 * NaN. Epoch numbers are doubles so they serve directly as a plot's x values. */
typedef struct {
    int64_t n, cap;
    double *epoch;
    double *train_loss, *train_acc, *test_loss, *test_acc, *seconds;
} DlrtHistory;

int dlrt_history_init(DlrtHistory *h, int64_t cap, DlrtError *err);
void dlrt_history_free(DlrtHistory *h);
/* Appends one epoch's values; DLRT_EINVAL when full. Does not allocate. */
int dlrt_history_add(DlrtHistory *h, int64_t epoch, double train_loss, double train_acc, double test_loss,
                     double test_acc, double seconds, DlrtError *err);

/* CSV with header epoch,train_loss,train_acc,test_loss,test_acc,seconds; NaN values are empty cells. */
int dlrt_write_metrics_csv(const char *path, const DlrtHistory *h, DlrtError *err);

/* One line of a plot: y[0 .. n) against x = 1 .. n (or x[i] if x is non-NULL); NaN points are skipped. */
typedef struct {
    const char *name;
    const double *x;
    const double *y;
    int64_t n;
} DlrtSeries;

/* An SVG line plot of several series on shared axes with labelled axes, ticks, a title and a legend.
 * log_y != 0 uses a base-10 logarithmic y axis (non-positive values are skipped). */
int dlrt_write_plot_svg(const char *path, const char *title, const char *xlabel, const char *ylabel,
                        const DlrtSeries *series, int n_series, int log_y, DlrtError *err);

/* Plots the history's series that have any value (train loss, test loss, train acc, test acc) against epoch. */
int dlrt_write_history_svg(const char *path, const DlrtHistory *h, const char *title, int log_y,
                           DlrtError *err);

/* ---------------------------------------------------------------------------------------------------------- */
/* Progress, time, memory and threads (progress.c, sys.c)                                                     */
/* ---------------------------------------------------------------------------------------------------------- */

typedef struct {
    FILE *out;
    int quiet, tty;
    int64_t epochs, batches;           /* totals, for the ETA */
    int64_t first_epoch;               /* the epoch the run started at (resume), for the ETA */
    double t_start, t_epoch, t_drawn;
    double loss_sum;                   /* this epoch: sum of batch loss * batch size */
    int64_t seen;                      /* this epoch: examples */
    int drawn;                         /* a \r line is on screen */
} DlrtProgress;

/* Prepares progress output to `out` (normally stdout): a line redrawn with \r when out is a terminal, one plain
 * line per epoch otherwise, nothing when quiet. Epochs are numbered from 1; first_epoch is where this run
 * starts (1, or later after --resume). */
void dlrt_progress_init(DlrtProgress *p, FILE *out, int64_t epochs, int64_t first_epoch, int64_t batches,
                        int quiet);
void dlrt_progress_epoch_begin(DlrtProgress *p, int64_t epoch);
/* After batch number `batch` (0-based) of n examples with mean loss `loss`. Redraws at most 10 times a second. */
void dlrt_progress_batch(DlrtProgress *p, int64_t epoch, int64_t batch, int64_t n, double loss);
/* Prints the epoch's summary line; NaN values are left out. Returns the epoch's seconds. */
double dlrt_progress_epoch_end(DlrtProgress *p, int64_t epoch, double train_loss, double train_acc,
                               double test_loss, double test_acc);

/* Seconds from an arbitrary fixed point, from CLOCK_MONOTONIC. */
double dlrt_now(void);

/* Peak resident set size of this process in bytes (getrusage), or -1. */
int64_t dlrt_peak_rss(void);

/* Sets OpenBLAS's thread count and, when compiled with OpenMP, OpenMP's. n <= 0 means all online cores.
 * Returns the count used. */
int dlrt_set_threads(int n);

#ifdef __cplusplus
}
#endif

#endif
