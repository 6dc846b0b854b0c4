/* dlrt.h - libdlrt, the runtime library of dlc's trainers.
 *
 * The trainer itself lives here: dlrt_train_main (train.c) is the whole program behind `<name>-train`, and the
 * C that `dlc build` emits for a model is only a descriptor of it (a DlrtModel: sizes, the generated functions,
 * the train section's values) and a main() that passes it in. The driver is made of the pieces below, which
 * applications may also use on their own: it parses the command line, loads or synthesises the data, iterates
 * over shuffled batches, reports progress, writes checkpoints, metrics, plots and the JSON report. Apart from
 * the driver calling the model through its descriptor, the runtime never calls back into generated code.
 * Conventions:
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
 * contiguously in x, or for images kept as their file stores them (dlrt_load_fashion_mnist_u8), as bytes in u8
 * whose values are byte / 255 (x is NULL then: a quarter of the memory, converted a batch at a time). A
 * classification set has labels (n int32 in [0, classes)); a regression set has targets (n * target_dim floats).
 * The other pointer is NULL. */
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
    uint8_t *u8; /* instead of x: the images as stored bytes */
} DlrtDataset;

/* Frees what a loader or generator allocated and zeroes *ds. Safe on a zeroed or already freed dataset. */
void dlrt_dataset_free(DlrtDataset *ds);

/* Examples [first, first + count) of ds as floats into dst (count * features), from x or converted from u8. */
void dlrt_dataset_get(const DlrtDataset *ds, int64_t first, int64_t count, float *dst);

#define DLRT_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Loads one IDX pair: images (magic 0x00000803, n x rows x cols unsigned bytes, scaled to [0, 1] by / 255) and
 * labels (magic 0x00000801, n unsigned bytes, each < classes). Files may be gzip-compressed or plain. limit > 0
 * keeps only the first `limit` examples. The result has rank 3, dims {1, rows, cols}. Errors name the file, the
 * byte offset (in the decompressed stream) and what was expected and found: bad magic, bad dims, truncation,
 * image count != label count, label out of range. */
int dlrt_idx_load(const char *images_path, const char *labels_path, int classes, int64_t limit, DlrtDataset *out,
                  DlrtError *err);

/* Loads an IDX image file alone (for --predict), as dlrt_idx_load does; labels stay NULL, classes 0. */
int dlrt_idx_load_images(const char *path, int64_t limit, DlrtDataset *out, DlrtError *err);

/* Loads Fashion-MNIST from dir (NULL = DLRT_FASHION_MNIST_DIR): train-{images-idx3,labels-idx1}-ubyte[.gz] and
 * t10k-... . limit > 0 caps both splits. A missing dataset is DLRT_EIO with a message naming the path searched
 * and `apt-get install dataset-fashion-mnist`. */
int dlrt_load_fashion_mnist(const char *dir, int64_t limit, DlrtDataset *train, DlrtDataset *test, DlrtError *err);

/* The same with the images kept as bytes (DlrtDataset.u8; x NULL): 47 MB for the training set instead of 188.
 * dlrt_batcher_next and dlrt_dataset_get give the floats dlrt_load_fashion_mnist would have held, bit for bit. */
int dlrt_load_fashion_mnist_u8(const char *dir, int64_t limit, DlrtDataset *train, DlrtDataset *test, DlrtError *err);

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
int dlrt_synthetic_polynomial(int max_degree, int kept, const float *coeffs, int n_coeffs, float noise, int64_t n_train,
                              int64_t n_test, DlrtRng *rng, DlrtDataset *train, DlrtDataset *test, DlrtError *err);

/* D2L 4.5: X ~ N(0, 1) of shape [n, d], y = 0.05 + sum_i 0.01 x_i + N(0, noise^2); train first, then test, each
 * drawn as dlrt_synthetic_linear does. D2L: d = 200, n_train = 20, n_test = 100, noise = 0.01. */
int dlrt_synthetic_high_dim(int d, int64_t n_train, int64_t n_test, float noise, DlrtRng *rng, DlrtDataset *train,
                            DlrtDataset *test, DlrtError *err);

/* ---------------------------------------------------------------------------------------------------------- */
/* CSV tables and D2L's house-price preprocessing (csv.c); the rules are in docs/data.md                      */
/* ---------------------------------------------------------------------------------------------------------- */

typedef enum {
    DLRT_CSV_NUMERIC = 1,     /* every non-missing value is a number */
    DLRT_CSV_CATEGORICAL = 2, /* values are category names, compared bytewise */
} DlrtCsvKind;

/* A CSV file as read: RFC 4180 (a header row, then records of the same field count; fields separated by commas,
 * quoted with '"' when they hold commas, quotes (doubled) or line breaks), LF or CRLF line endings, a UTF-8 BOM
 * skipped, blank lines skipped. A cell whose text is empty or exactly NA (quoted or not) is missing. A number
 * is [+-]digits[.digits][(e|E)[+-]digits] (or .digits...) with optional surrounding spaces or tabs, finite as a
 * double; no hex, inf or nan. A column is detected numeric when every non-missing cell is a number (so an
 * all-missing column is numeric), categorical otherwise; dlrt_csv_declare overrides that. */
typedef struct {
    char *source;   /* the path or buffer name that messages use */
    int64_t n_rows; /* records after the header */
    int n_cols;
    char **names;    /* n_cols header names, distinct */
    char **cells;    /* n_rows * n_cols, row-major; NULL where missing; otherwise the unquoted text */
    double *numbers; /* n_rows * n_cols: the value of each cell that is a number, NaN for the rest */
    int *kinds;      /* n_cols DlrtCsvKind */
    int64_t *lines;  /* n_rows: the line each record starts on, for messages */
    int64_t header_line;
    char *text; /* storage behind names and cells */
} DlrtCsvTable;

/* Parses text[0 .. len) (it need not be NUL-terminated) into *out; `source` names it in messages. Refused, with
 * DLRT_EFORMAT and a message "source:line: ...": no header row, a record whose field count differs from the
 * header's (saying how many were expected and found), a quote inside an unquoted field, a character after a
 * closing quote, an unterminated quoted field (at the line it starts on), a NUL byte, a column name used
 * twice. On error *out is left zeroed. */
int dlrt_csv_parse(const char *text, size_t len, const char *source, DlrtCsvTable *out, DlrtError *err);

/* Reads the file at path and parses it as dlrt_csv_parse does, messages naming the path. */
int dlrt_csv_read(const char *path, DlrtCsvTable *out, DlrtError *err);

/* Frees what dlrt_csv_parse allocated and zeroes *t. Safe on a zeroed table. */
void dlrt_csv_free(DlrtCsvTable *t);

/* The index of the column named `name`, or -1. */
int dlrt_csv_column(const DlrtCsvTable *t, const char *name);

/* Declares a column's kind. Declaring DLRT_CSV_NUMERIC fails with DLRT_EFORMAT, naming the line and value, if
 * a non-missing cell is not a number; DLRT_EINVAL for an unknown column. */
int dlrt_csv_declare(DlrtCsvTable *t, const char *column, int kind, DlrtError *err);

/* D2L 4.10 (5.7 in the 2023 edition), "Predicting House Prices on Kaggle". Zero-initialise, then set: */
typedef struct {
    const char *train_path, *test_path;
    const char *target;      /* train's regression target ("SalePrice"); NULL = none */
    const char *const *drop; /* columns left out of the features ("Id"); each must exist in a file */
    int n_drop;
    const char *id;             /* test column whose integers become info->test_ids; NULL = "Id" if
                                 * test.csv has it, else the 1-based row numbers */
    const char *const *numeric; /* feature columns declared numeric / categorical, overriding detection */
    int n_numeric;
    const char *const *categorical;
    int n_categorical;
    int population_std;  /* 0: the sample std (ddof = 1, pandas' and the book's); 1: ddof = 0 */
    int positive_target; /* refuse a target <= 0, naming its line (a model scored by the log rmse) */
    int64_t limit;       /* > 0: keep the first `limit` rows of each set, after preprocessing */
} DlrtCsvSpec;

/* What the preprocessing produced besides the data. Features come in this order: the numeric columns in
 * train.csv's order, then for each categorical column its values sorted bytewise and "<column>_nan" (pandas'
 * get_dummies(dummy_na=True) order and names). */
typedef struct {
    int64_t n_features;
    char **names;       /* n_features names: "LotArea", "MSZoning_RL", "MSZoning_nan" */
    int64_t n_numeric;  /* features [0, n_numeric) are standardised numeric columns */
    double *mean, *std; /* n_numeric: the statistics standardisation used (std 0 or NaN: feature all 0) */
    int64_t *test_ids;  /* test->n ids, for dlrt_write_submission */
    char *id_name;      /* the id column's name ("Id") */
} DlrtCsvInfo;

/* The book's preprocessing over train.csv and test.csv: the features of both (every column but the target and
 * the dropped ones; test must have the same feature columns, in any order) are concatenated; each numeric
 * column is standardised with the mean and std of its non-missing values over train + test, then missing
 * values become 0; each categorical column becomes one 0/1 feature per distinct value over train + test plus
 * one for missing, always present. Gives 331 features on the Kaggle data. train gets targets of shape [n, 1]
 * (a missing or non-numeric target is an error naming the line); test gets targets only if test.csv has the
 * target column too, else test->targets is NULL. Both datasets have rank 1. info may be NULL. Also refused,
 * naming the file, line, row, column and value: a file with a header and no rows; in a feature column not
 * declared categorical whose other values are numbers, a cell that only looks like one (NaN, inf, 1e400, 0x10,
 * 12abc), which detection alone would take for a category; with positive_target, a target <= 0. */
int dlrt_csv_load_house(const DlrtCsvSpec *spec, DlrtDataset *train, DlrtDataset *test, DlrtCsvInfo *info,
                        DlrtError *err);

/* The same over tables already parsed (which are not modified); spec's paths are unused. */
int dlrt_csv_preprocess(const DlrtCsvSpec *spec, const DlrtCsvTable *train_table, const DlrtCsvTable *test_table,
                        DlrtDataset *train, DlrtDataset *test, DlrtCsvInfo *info, DlrtError *err);

void dlrt_csv_info_free(DlrtCsvInfo *info);

/* Writes a Kaggle submission atomically: the header "<id_name>,<target_name>" (NULL: "Id", "SalePrice"), then
 * one line "id,prediction" per example, predictions with 9 significant digits (a float read back exactly). */
int dlrt_write_submission(const char *path, const char *id_name, const char *target_name, const int64_t *ids,
                          const float *preds, int64_t n, DlrtError *err);

/* Fold i of k-fold cross-validation as the book's get_k_fold_data (D2L 4.10): fold_size = n / k (rounded down);
 * valid is rows [i * fold_size, (i + 1) * fold_size), train the other rows of [0, k * fold_size) in order; the
 * last n - k * fold_size rows are in neither. Both are copies (free them with dlrt_dataset_free). DLRT_EINVAL
 * unless 2 <= k <= n and 0 <= i < k. */
int dlrt_kfold_split(const DlrtDataset *all, int k, int i, DlrtDataset *train, DlrtDataset *valid, DlrtError *err);

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

/* Copies the next batch of ds into x (batch * ds->features floats, converted from bytes when ds holds them) and
 * labels or targets (whichever ds has; the other pointer may be NULL) and returns its size: `batch`, less for the
 * last one, 0 once the epoch is done. Does not allocate. */
int64_t dlrt_batcher_next(DlrtBatcher *b, const DlrtDataset *ds, float *x, int32_t *labels, float *targets);

/* Number of batches per epoch: ceil(n / batch). */
int64_t dlrt_batcher_batches(const DlrtBatcher *b);

/* ---------------------------------------------------------------------------------------------------------- */
/* Images (resize.c, image.c, font.c)                                                                         */
/* ---------------------------------------------------------------------------------------------------------- */

/* Bilinear resize of `planes` single-channel images src[planes][in_h][in_w] into dst[planes][out_h][out_w], with
 * PyTorch's F.interpolate(mode="bilinear", align_corners=False, antialias=False) semantics (as torchvision's
 * Resize on tensors when upsampling): source coordinate (d + 0.5) * in / out - 0.5, clamped below at 0, the
 * upper neighbour clamped to the edge. src and dst must not overlap. Does not allocate. */
void dlrt_resize_bilinear(const float *src, int64_t planes, int64_t in_h, int64_t in_w, float *dst, int64_t out_h,
                          int64_t out_w);

/* What a grid shows under one image: up to two lines of text in the runtime's built-in 5x7 font (a-z, 0-9,
 * space and - / . , : ; % ? ! ( ) + = _ ' < >; uppercase is drawn as lowercase, any other character as a box;
 * at most 48 characters a line) and a mark. */
typedef enum {
    DLRT_MARK_NONE = 0,
    DLRT_MARK_RIGHT = 1, /* the second line in green */
    DLRT_MARK_WRONG = 2, /* the second line in red, and a red frame around the image */
} DlrtMark;

typedef struct {
    const char *line[2]; /* NULL: no line */
    int mark;            /* DlrtMark */
} DlrtCaption;

/* Writes n grayscale images (h x w floats in [0, 1], clamped) as a PNG grid of `cols` columns on white, each
 * magnified `scale` times (>= 1), with captions[i] centred under image i when captions is non-NULL and the
 * title (if non-NULL) above the grid. Text is drawn at max(1, scale / 2) pixels per font pixel; every cell is as
 * wide as the widest caption needs. Written atomically. */
int dlrt_write_image_grid(const char *path, const char *title, const float *images, int64_t n, int h, int w, int cols,
                          int scale, const DlrtCaption *captions, DlrtError *err);

/* Reads one PNG (any colour type or depth; transparency composited onto white) or PGM (binary P5 or plain P2,
 * maxval up to 65535), converts it to grayscale in [0, 1] (invert != 0 maps v to 1 - v), pads it to the aspect
 * ratio of h x w with the shade of its border, centred, and resizes it to h x w: area averaging when it shrinks,
 * bilinear (dlrt_resize_bilinear) when it grows. The format is told by the first bytes, not the name. */
int dlrt_read_image(const char *path, float *dst, int h, int w, int invert, DlrtError *err);

/* The images of one file for --predict, as a dataset of rank 3, dims {1, h, w} (labels NULL): every image of an
 * IDX image file (see dlrt_idx_load_images; resized bilinearly if its images are not h x w), or the single
 * image of a PNG or PGM, read as dlrt_read_image does with invert chosen automatically: a light border (mean of
 * the outermost pixels above 0.5) means a dark object on a light background, which is inverted to
 * Fashion-MNIST's light-on-dark; *inverted (if non-NULL) says whether that happened. Anything else is refused
 * with DLRT_EFORMAT, naming the formats expected and the bytes found. */
int dlrt_load_images(const char *path, int h, int w, DlrtDataset *out, int *inverted, DlrtError *err);

/* The PGM decoder behind dlrt_read_image, over data[0 .. len): on success *pixels (rows * cols floats in
 * [0, 1], the caller frees them), *rows and *cols. Errors name `source` and the byte offset. */
int dlrt_parse_pgm(const void *data, size_t len, const char *source, float **pixels, int64_t *rows, int64_t *cols,
                   DlrtError *err);

/* ---------------------------------------------------------------------------------------------------------- */
/* Classification (classify.c)                                                                                */
/* ---------------------------------------------------------------------------------------------------------- */

/* The index of the largest of v[0 .. n) (the first on ties; NaN never wins unless all are NaN: then 0). */
int dlrt_argmax(const float *v, int n);

/* The k most probable classes of one example's logits (classes values): softmax computed in double with the
 * maximum subtracted, so large logits do not overflow. Writes index[0 .. k) and prob[0 .. k) in decreasing
 * probability (ties: the lower index first) and returns k, clamped to 1 .. classes. */
int dlrt_top_k(const float *logits, int classes, int k, int *index, double *prob);

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
    int64_t chunk; /* data-parallel trainers: examples per chunk of the canonical summation order */
    int has_epochs, has_batch, has_lr, has_seed, has_limit, has_threads, has_kfold, has_chunk;
    int fast_reduce; /* data-parallel trainers: sum the gradients in an order that depends on the ranks */
    const char *data, *report, *metrics, *plot, *save, *load, *resume, *show_samples, *show_predictions;
    const char *submission; /* CSV models: write the test set's predictions as a Kaggle submission */
    double valid;           /* --valid: the fraction of the training set held out, in (0, 1) */
    int has_valid;
    const char *save_best; /* --save-best: the checkpoint of the best validation score */
    const char *precision; /* --precision: "f32" (also when NULL) or "bf16" */
    char **predict;        /* argv slice of the files after --predict */
    int n_predict;
    int quiet, help, version;
} DlrtArgs;

/* Parses argv[1 .. argc) into *args (zeroed first). Flags take their value as the next argument or after '='
 * (--epochs=5). --predict takes every following argument up to the next one starting with "--". Returns
 * DLRT_EUSAGE with a message for an unknown flag, a missing or malformed value, a stray argument, or
 * conflicting flags (--load with --resume). --help sets args->help and returns 0: print dlrt_usage, exit 0; --version
 * sets args->version. */
int dlrt_parse_args(int argc, char **argv, DlrtArgs *args, DlrtError *err);

/* The option scanner dlc and every trainer share (args.c), so both read a command line alike. An option is matched by
 * its exact name, never a prefix; a long option ("--batch") takes its value as `--batch 8` or `--batch=8`, a short
 * one ("-o", "-D") as `-o out` or `-oout`; an option that takes no value refuses one (`--quiet=yes`). */
typedef struct {
    const char *name; /* "--batch", "-o" */
    int takes_value;
} DlrtOption;

/* Reads the item at argv[*i] (start with *i = 1, or past a command word) and advances *i past it and its value.
 * `options` is an array of n structs `stride` bytes apart, each starting with a DlrtOption (so a caller's table
 * can carry more per row). Returns 1 with *opt and *value set (*opt NULL for an argument that is not an option,
 * *value then the argument), 0 when argv is exhausted, or DLRT_EUSAGE with a message: "unknown option '--x'"
 * (with "; did you mean '--epochs'?" when an option of the table is a slip away: `--epoch`, `--epcohs`, `-epochs`),
 * "--batch needs a value", "--quiet takes no value, got 'yes'". */
int dlrt_next_option(int argc, char **argv, int *i, const void *options, size_t stride, size_t n,
                     const DlrtOption **opt, const char **value, DlrtError *err);

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

/* Both take a path ending in ".npz" as a NumPy archive of the parameters (dlrt_npz_*, below): save writes only
 * ck->params (an archive has no optimizer, epoch or RNG section); load reads ck->params and refuses
 * DLRT_CKPT_RESUME, which needs the full checkpoint. */

/* ---------------------------------------------------------------------------------------------------------- */
/* NumPy archives (npz.c)                                                                                     */
/* ---------------------------------------------------------------------------------------------------------- */

/* An .npz archive holds one .npy member per tensor, named "<tensor name>.npy", as np.savez(path, **state_dict)
 * writes and np.load reads: the keys are the tensors' full names (PyTorch's state_dict keys), the layouts the
 * tensors' own. */

/* Whether path ends in ".npz". */
int dlrt_path_is_npz(const char *path);

/* Streams the archive of ts[0 .. n) into sink: stored members in the order given, little-endian C-order arrays
 * of the descriptors' dtypes (float32, float64, int64), a fixed timestamp, so equal tensors give equal bytes. */
int dlrt_npz_encode(const DlrtTensorDesc *ts, int n, DlrtSink *sink, DlrtError *err);

/* Writes the archive to path atomically (temporary file, fsync, rename). */
int dlrt_npz_save(const char *path, const DlrtTensorDesc *ts, int n, DlrtError *err);

/* Reads an archive from buf[0 .. len) into ts[0 .. n): each tensor from the member named after it. Reads what
 * NumPy writes: np.savez (stored members) and np.savez_compressed (deflated), ZIP64 fields, .npy versions 1 to 3,
 * either byte order, C or Fortran order. Float arrays (float32, float64) load into f32 and f64 tensors, converted;
 * int64 arrays into DLRT_I64 tensors. Everything is checked before any tensor is written: the ZIP structure and
 * every member's CRC-32 and header (DLRT_EFORMAT), then every key, shape and dtype against ts (DLRT_EMISMATCH,
 * one message naming each missing, extra or mismatched key with what the model expects and what the file has).
 * Float values must be finite, and fit f32 where they become f32 (f32 tensors, or any with DLRT_CKPT_F32_VALUES in
 * flags), as in checkpoints (DLRT_EFORMAT naming the key and the element). On any error the caller's tensors are
 * untouched. `source` names the buffer in messages. */
int dlrt_npz_read_mem(const void *buf, size_t len, const char *source, DlrtTensorDesc *ts, int n, unsigned flags,
                      DlrtError *err);

/* dlrt_npz_read_mem on a file (memory-mapped); messages name the path. */
int dlrt_npz_load(const char *path, DlrtTensorDesc *ts, int n, unsigned flags, DlrtError *err);

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
    int classifies; /* write train_acc and test_acc */
    double train_acc, test_acc;
    double examples_per_second, seconds;
    int64_t peak_rss_bytes;
    const DlrtTensorDesc *params; /* written as "parameters" if the total element count is below 1,000 */
    int n_params;
    const DlrtFold *folds; /* written as "kfold" when n_folds > 0 */
    int n_folds;
    int ranks;     /* a data-parallel run's world size; 0 is taken for 1 */
    int has_valid; /* --valid: write valid_loss (and valid_acc where the model classifies) */
    double valid_loss, valid_acc;
    int64_t best_epoch; /* --save-best: the epochs of the checkpoint kept, written as best_epoch when above 0 */
} DlrtReport;

/* Writes the report as one JSON object, atomically. */
int dlrt_report_write(const char *path, const DlrtReport *r, DlrtError *err);

/* One epoch's scores, NaN where there is none: the training set's (as trained: the mean over the epoch's batches),
 * the held-out part's (--valid) and the test set's (in inference mode after the epoch), and the learning rate of a
 * schedule. */
typedef struct {
    double train_loss, train_acc, valid_loss, valid_acc, test_loss, test_acc, lr;
} DlrtEpochScores;

/* Per-epoch metrics, preallocated for `cap` epochs (one block; free with dlrt_history_free). Missing values are
 * NaN. Epoch numbers are doubles so they serve directly as a plot's x values. */
typedef struct {
    int64_t n, cap;
    double *epoch;
    double *train_loss, *train_acc, *test_loss, *test_acc, *seconds;
    double *valid_loss, *valid_acc, *lr;
} DlrtHistory;

int dlrt_history_init(DlrtHistory *h, int64_t cap, DlrtError *err);
void dlrt_history_free(DlrtHistory *h);
/* Appends one epoch's values; DLRT_EINVAL when full. Does not allocate. */
int dlrt_history_add(DlrtHistory *h, int64_t epoch, const DlrtEpochScores *s, double seconds, DlrtError *err);

/* CSV with header epoch,train_loss,train_acc,test_loss,test_acc,seconds; NaN values are empty cells. The columns
 * valid_loss,valid_acc and lr come before seconds, each pair or column only when some epoch has a value in it. */
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

/* Plots the history's series that have any value (train loss, valid loss, test loss, train acc, valid acc, test
 * acc) against epoch. */
int dlrt_write_history_svg(const char *path, const DlrtHistory *h, const char *title, int log_y, DlrtError *err);

/* ---------------------------------------------------------------------------------------------------------- */
/* Progress, time, memory and threads (progress.c, sys.c)                                                     */
/* ---------------------------------------------------------------------------------------------------------- */

typedef struct {
    FILE *out;
    int quiet, tty;
    int64_t epochs, batches; /* totals, for the ETA */
    int64_t first_epoch;     /* the epoch the run started at (resume), for the ETA */
    double t_start, t_epoch, t_drawn;
    double t_trained; /* this epoch: when its last batch ended (the rate leaves evaluation out) */
    double loss_sum;  /* this epoch: sum of batch loss * batch size */
    int64_t seen;     /* this epoch: examples */
    int drawn;        /* a \r line is on screen */
    double interval;  /* seconds between plain progress lines */
} DlrtProgress;

/* Prepares progress output to `out` (normally stdout): a line redrawn with \r when out is a terminal that takes
 * cursor control (TERM set and not "dumb") outside mpirun (OMPI_COMM_WORLD_SIZE or PMI_SIZE set); otherwise no
 * \r or escape sequence, a plain line every DLRT_PROGRESS_SECONDS (default 10) seconds within an epoch and one
 * per epoch; nothing when quiet. Epochs are numbered from 1; first_epoch is where this run starts (1, or later
 * after --resume). */
void dlrt_progress_init(DlrtProgress *p, FILE *out, int64_t epochs, int64_t first_epoch, int64_t batches, int quiet);
void dlrt_progress_epoch_begin(DlrtProgress *p, int64_t epoch);
/* After batch number `batch` (0-based) of n examples with mean loss `loss`. Redraws at most 10 times a second;
 * without redrawing, prints "epoch 3/10 batch 118/235  loss ..." once the interval has passed in the epoch. */
void dlrt_progress_batch(DlrtProgress *p, int64_t epoch, int64_t batch, int64_t n, double loss);
/* On a terminal, replaces the status line with what the trainer does between batches ("evaluating"), so a
 * long evaluation does not look like a hang. Nothing in a pipe or when quiet. */
void dlrt_progress_note(DlrtProgress *p, int64_t epoch, const char *what);
/* Prints the epoch's summary line; NaN values are left out. Returns the epoch's seconds. */
double dlrt_progress_epoch_end(DlrtProgress *p, int64_t epoch, const DlrtEpochScores *s);

/* Seconds from an arbitrary fixed point, from CLOCK_MONOTONIC. */
double dlrt_now(void);

/* Peak resident set size of this process in bytes (getrusage), or -1. */
int64_t dlrt_peak_rss(void);

/* Sets OpenMP's thread count (when compiled with OpenMP) and OpenBLAS's. n <= 0 means all online cores. The
 * products of an f32 trainer run on dlc's own kernel and its OpenMP threads (dlrt_gemm_f32's rule), so OpenBLAS,
 * which keeps one-row products and CPUs without AVX2, gets one thread: a second pool of threads spun on
 * sched_yield against the OpenMP ones (perf: 32% of LeNet's two-thread run in the kernel's scheduler), and its
 * bits depend on its thread count for some shapes. Only under DLRT_GEMM=blas (every product OpenBLAS's, as the
 * trainers were before libdlrt had its own) does OpenBLAS get the n threads, and then only when the model's
 * largest BLAS call (`largest_blas_flops`, which dlc computes) is at least 48 MFLOP: splitting a smaller product
 * costs more than it saves (softmax regression's 256x784x10 products ran at 67 GFLOP/s on one thread and 44 on
 * two). Returns n. */
int dlrt_set_threads(int n, double largest_blas_flops);

/* ---------------------------------------------------------------------------------------------------------- */
/* The trainer (train.c, train_data.c, train_pictures.c); what it does for the user is in docs/trainer.md      */
/* ---------------------------------------------------------------------------------------------------------- */

/* One parameter of a compiled model, as the generated table <name>_params describes it. */
typedef struct {
    const char *name;      /* full name: "features.0.weight" */
    int rank;              /* 0 .. 6 */
    const int64_t *dims;   /* dims[0 .. rank) */
    int64_t offset;        /* bytes into the state block, where its f32 values start */
    int64_t opt_offset[2]; /* its optimizer tensors (momentum; Adam's m and v) in the state block, -1 if none */
} DlrtParam;

/* The data a model's train section names (`data = ...`). */
typedef enum {
    DLRT_DATA_NONE = 0,
    DLRT_DATA_FASHION_MNIST = 1, /* fashion_mnist(x, y, resize=N): IDX files, --data or the installed package */
    DLRT_DATA_SYNTH_LINEAR = 2,  /* synthetic_linear(...): dlrt_synthetic_linear */
    DLRT_DATA_POLYNOMIAL = 3,    /* polynomial(...): dlrt_synthetic_polynomial */
    DLRT_DATA_HIGH_DIM = 4,      /* high_dim(...): dlrt_synthetic_high_dim */
    DLRT_DATA_CSV = 5,           /* csv(...): dlrt_csv_load_house */
    DLRT_DATA_TENSORS = 6,       /* tensors(...): examples written into the model file */
} DlrtDataKind;

/* The data's settings; only the member of `kind` is read. Synthetic data is drawn from the stream (seed, 7)
 * of the run's seed. */
typedef struct {
    int kind;       /* DlrtDataKind */
    int64_t resize; /* fashion_mnist: 0 = the stored 28 x 28 images, else the side they are resized to */
    struct {
        const float *w; /* d weights */
        int d;
        float b, noise;
        int64_t n;
    } linear;
    struct {
        int degree;
        const float *coeffs;
        int n_coeffs;
        float noise;
        int64_t n_train, n_test;
    } polynomial;
    struct {
        float noise;
        int64_t n_train, n_test;
    } high_dim;
    struct {
        const char *train, *test; /* file names, under --data when it is given */
        const char *target;       /* the column predicted, and the header of a --submission's second column */
        const char *const *drop;  /* columns that are not features */
        int n_drop;
    } csv;
    struct {
        const float *x, *y; /* n examples of the model's x_size and y_size values */
        int64_t n;
    } tensors;
} DlrtDataSpec;

/* The learning rate over the epochs, from the train section's `schedule = ...` (docs/language.md). */
typedef enum {
    DLRT_SCHEDULE_CONSTANT = 0, /* the rate of --lr or the model file throughout */
    DLRT_SCHEDULE_STEP = 1,     /* PyTorch's StepLR: lr * gamma^floor(e / step_size) */
    DLRT_SCHEDULE_COSINE = 2,   /* PyTorch's CosineAnnealingLR: eta_min + (lr - eta_min) (1 + cos(pi e / t_max)) / 2 */
} DlrtScheduleKind;

/* Both after `warmup` epochs of PyTorch's LinearLR (the rate times start_factor + (1 - start_factor) e / warmup,
 * for e < warmup), e counting from the warmup's end (SequentialLR). */
typedef struct {
    int kind; /* DlrtScheduleKind */
    int64_t step_size;
    double gamma;
    int64_t t_max; /* 0: the run's epochs after the warmup */
    double eta_min;
    int64_t warmup;
    double start_factor;
} DlrtSchedule;

/* The rate of epoch `epoch` (counted from 0) of a run of `epochs` epochs whose base rate is lr. A function of
 * these alone, so a resumed run continues the schedule exactly. The cosine stays at eta_min past t_max. */
double dlrt_schedule_lr(const DlrtSchedule *s, double lr, int64_t epoch, int64_t epochs);

/* A gradient that backward has finished: `bytes` bytes at byte `offset` of `state`, which the rest of the pass
 * neither reads nor writes; arg is the pointer given with the hook (DlrtModel.set_grad_ready). */
typedef void (*DlrtGradReadyFn)(void *arg, void *state, int64_t offset, int64_t bytes);

/* A sum over the batch that a data-parallel step completes across the global batch: count floats at byte offset
 * `offset` of the state, which the phase before it leaves holding the sum over its own examples. */
typedef struct {
    int64_t offset, count;
} DlrtSync;

/* The training entry points of a model whose y is int32 class labels (DlrtDataset.labels)... (backward and forward
 * return 0, or non-zero for a batch outside 1..max_batch, which the trainer never passes) */
typedef struct {
    float (*forward_train)(void *state, int n, const float *x, const int32_t *y, double *metrics);
    int (*backward)(void *state, int n, const float *x, const int32_t *y);
    float (*evaluate)(void *state, int n, const float *x, const int32_t *y, double *metrics);
    /* a data-parallel build whose step couples the batch's examples (DlrtModel.syncs), else NULL: phase p of
     * forward_train and backward on n of the global batch's m examples */
    float (*forward_phase)(void *state, int phase, int n, int m, const float *x, const int32_t *y, double *metrics);
    int (*backward_phase)(void *state, int phase, int n, int m, const float *x, const int32_t *y);
} DlrtLabelFns;

/* ... and of a model whose y is float targets (DlrtDataset.targets). */
typedef struct {
    float (*forward_train)(void *state, int n, const float *x, const float *y, double *metrics);
    int (*backward)(void *state, int n, const float *x, const float *y);
    float (*evaluate)(void *state, int n, const float *x, const float *y, double *metrics);
    float (*forward_phase)(void *state, int phase, int n, int m, const float *x, const float *y, double *metrics);
    int (*backward_phase)(void *state, int phase, int n, int m, const float *x, const float *y);
} DlrtTargetFns;

/* ---------------------------------------------------------------------------------------------------------- */
/* bf16 matrix products (bf16.c): the trainers' --precision bf16                                              */
/* ---------------------------------------------------------------------------------------------------------- */

/* Where dlrt_gemm_bf16 runs: AMX tiles, or AVX512-BF16's VDPBF16PS. */
typedef enum { DLRT_BF16_NONE, DLRT_BF16_AVX512, DLRT_BF16_AMX } DlrtBf16Path;

/* Chooses the path once, at start-up: AMX where the CPU has amx_bf16 and amx_tile and Linux grants the tile
 * state, else AVX512-BF16; DLRT_BF16=amx|avx512 in the environment forces one. DLRT_EUSAGE, naming the CPU
 * features that are missing, when the CPU has neither. */
int dlrt_bf16_enable(DlrtError *err);

/* The path dlrt_bf16_enable chose (DLRT_BF16_NONE before it succeeds). */
DlrtBf16Path dlrt_bf16_path(void);

/* A matrix product in the generated code's gemm() convention (the type of <name>_gemm_fn). */
typedef void (*DlrtGemmFn)(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                           float *c, int ldc, int accumulate);

/* C [m x n] = op(A) op(B), plus C when accumulate, row-major, op transposing when ta / tb (the generated code's
 * gemm, which calls it instead of OpenBLAS's sgemm once <name>_set_gemm passes it): every element of A and B
 * rounded to bf16 (to nearest even), the products summed in f32. Needs dlrt_bf16_enable first. Its operands'
 * bf16 copies live in a buffer that grows to the largest product's, the only allocation; where it fails, the
 * product is OpenBLAS's f32 sgemm. Call it from one thread at a time: it runs OpenMP threads of its own. */
void dlrt_gemm_bf16(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c,
                    int ldc, int accumulate);

/* f32 rounded to bf16 (to nearest even) and back: what dlrt_gemm_bf16 multiplies. */
float dlrt_bf16_round(float f);

/* ---------------------------------------------------------------------------------------------------------- */
/* f32 matrix products (gemm.c): dlc's own kernels, or OpenBLAS's                                             */
/* ---------------------------------------------------------------------------------------------------------- */

/* The instruction sets dlrt_sgemm has a kernel for (DLRT_ISA=portable|avx2|avx512 names them). */
typedef enum { DLRT_GEMM_PORTABLE, DLRT_GEMM_AVX2, DLRT_GEMM_AVX512 } DlrtGemmIsa;

/* Whether this CPU (and its OS) runs isa's kernel: avx2 needs AVX2 and FMA, avx512 AVX512F. */
int dlrt_gemm_isa_supported(DlrtGemmIsa isa);

/* The kernel dlrt_sgemm uses: the first call picks the widest the CPU has, or the one DLRT_ISA names if the CPU
 * has it. dlrt_gemm_select picks again (reading DLRT_ISA and DLRT_GEMM anew: tests run every path in one
 * process). */
DlrtGemmIsa dlrt_gemm_isa(void);
DlrtGemmIsa dlrt_gemm_select(void);
const char *dlrt_gemm_isa_name(DlrtGemmIsa isa); /* "avx512", "avx2", "portable" */

/* dlc's register-blocked f32 product in the generated code's gemm() convention (below: DlrtGemmFn): packed
 * operands, a 12x32 (AVX-512), 6x16 (AVX2) or 4x16 (C) microkernel, OpenMP threads over columns of C, so the
 * result has the same bits whatever the thread count. Its packed operands live in a buffer per calling thread
 * that grows to the largest product's, the only allocation (where it fails, the product is OpenBLAS's). */
void dlrt_sgemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c,
                int ldc, int accumulate);

/* Where dlrt_gemm_f32 sends products: DLRT_GEMM=dlc or blas in the environment forces one, else the rule. */
typedef enum { DLRT_ROUTE_AUTO, DLRT_ROUTE_DLC, DLRT_ROUTE_BLAS } DlrtGemmRoute;
DlrtGemmRoute dlrt_gemm_route(void);

/* Whether dlrt_gemm_f32 gives an m x n x k product to OpenBLAS (1) or to dlrt_sgemm (0). The rule (DLRT_GEMM
 * unset), which depends on the CPU and never on the thread count: dlc's kernel wherever it has a vector path
 * (AVX-512 or AVX2), OpenBLAS (on one thread, dlrt_set_threads) for one-row products and on other CPUs. */
int dlrt_gemm_uses_blas(int m, int n, int k);

/* The f32 trainers' product (they install it with <name>_set_gemm): dlrt_sgemm or OpenBLAS, per shape. */
void dlrt_gemm_f32(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c,
                   int ldc, int accumulate);

/* The convolutions dlrt_conv_f32 computes for a chunk of g images (the type of <name>_conv_fn: the generated code
 * calls it instead of im2col and gemm once <name>_set_conv passes it). The convolution: x [g, C, H, W], w [K, C,
 * R, S], y [g, K, P, Q], stride sh x sw, padding ph x pw. By op:
 *   DLRT_CONV_FWD  out [K x g*P*Q] (the chunk's y, channel-major) = w . columns of x     (a = w, image = x)
 *   DLRT_CONV_DX   out [C x g*H*W] (dx, channel-major) = the transposed convolution of dy with w, stride 1 only
 *                                                                                        (a = w, image = dy)
 *   DLRT_CONV_DW   out [K x C*R*S] = dy . (columns of x)^T, plus out when accumulate    (a = dy, image = x)
 * image and dy in the images' layout. The columns are packed from the images straight into dlrt_sgemm's slivers
 * (an implicit product: no im2col buffer), and summed as dlrt_sgemm sums, the same bits on any thread count.
 * Returns 1, or 0 without touching out when it does not take the product: DLRT_GEMM=blas, a strided dx, offsets
 * beyond 32 bits, or no memory for the packed operands; the caller then runs im2col and its product. */
enum { DLRT_CONV_FWD, DLRT_CONV_DX, DLRT_CONV_DW };
typedef int (*DlrtConvFn)(int op, int g, int K, int C, int H, int W, int R, int S, int P, int Q, int sh, int sw, int ph,
                          int pw, const float *a, const float *image, float *out, int accumulate);
int dlrt_conv_f32(int op, int g, int K, int C, int H, int W, int R, int S, int P, int Q, int sh, int sw, int ph, int pw,
                  const float *a, const float *image, float *out, int accumulate);

/* A compiled model as the trainer sees it: `dlc build` emits one as a static constant in <name>_train.c, its
 * function pointers set to the generated functions of <name>.h (docs/compiler.md says what they compute). The
 * generated code is f32: every pointer has the exact type of the function it names. */
typedef struct {
    const char *name;        /* "mlp": messages, the report, the plot's title */
    const char *dlc_version; /* the dlc that generated the model */

    /* sizes */
    int64_t x_size, y_size;     /* values per example of the inputs the data feeds */
    const char *x_name;         /* the model's name for that input, for messages ("x") */
    int n_metrics;              /* values the forward_train and evaluate functions write into metrics */
    int accuracy_metric;        /* the metric that counts correct predictions, or -1 */
    int log_rmse_metric;        /* the metric that sums squared log errors, or -1 (used when there is no accuracy) */
    int max_batch;              /* <NAME>_MAX_BATCH */
    size_t state_bytes;         /* <NAME>_STATE_BYTES */
    int n_params;               /* <NAME>_PARAM_COUNT */
    DlrtParam (*param)(int i);  /* parameter i < n_params, in the model's order */
    const char *optim_names[2]; /* checkpoints name opt_offset[k]'s tensor "<param>#<optim_names[k]>" */

    /* the generated functions; exactly one of labels and targets is filled in */
    void (*init)(void *state, uint64_t seed);
    DlrtLabelFns labels;
    DlrtTargetFns targets;
    void (*step)(void *state, float lr);
    uint64_t *(*step_counter)(void *state);
    /* data parallelism (optional: NULL and -1 in descriptors that predate it): the global index of the batch's
     * first example, which keys dropout masks; every gradient lies in grad_bytes from grad_offset after backward
     * (<NAME>_GRAD_OFFSET, -1 when one does not) */
    uint64_t *(*example_base)(void *state);
    int64_t grad_offset, grad_bytes;
    /* a data-parallel build (dlc build --mpi) of a model whose step uses sums over the batch per example (batch
     * normalization's statistics), else zero and NULL: the step in phases[0] forward and phases[1] backward
     * phases (labels.forward_phase ...), the sums it stops after, phases[0] - 1 then phases[1] - 1 of them */
    int phases[2];
    const DlrtSync *syncs;
    /* the gradients computed from those sums alone, which every piece then holds whole (offset and count) */
    int n_global_grads;
    const DlrtSync *global_grads;
    /* inference, for pictures, --predict and --submission (which feed it nothing but x), and the output they
     * read after it: a Fashion-MNIST classifier's 10 logits, or the one value per row --submission writes */
    int (*forward)(void *state, int n, const float *x);
    const float *(*output)(const void *state);

    /* the train section: the defaults that flags override, the data and the plot */
    int64_t epochs, batch;
    double lr;
    uint64_t seed;
    DlrtSchedule schedule; /* zero: a constant rate */
    DlrtDataSpec data;
    int plot_log; /* plot = "log" */

    /* what the trainer offers beyond training */
    int images;     /* --show-samples, --show-predictions and --predict (Fashion-MNIST classifiers) */
    int kfold;      /* --kfold (CSV data with a log_rmse metric) */
    int submission; /* --submission (the same, predicting one value per row) */

    double blas_flops; /* FLOPs of the training step's largest BLAS call, for dlrt_set_threads */
    const char *isa;   /* the instruction set the generated code was compiled for: DLRT_COMPILED_ISA, or NULL */

    /* <name>_set_grad_ready (f32 training code; else NULL): installs, for the whole process, a hook that backward
     * (and backward_phase) calls as soon as a gradient is final, with its byte range in the state; NULL removes
     * it. A data-parallel trainer with --fast-reduce starts summing finished gradients while backward goes on. */
    void (*set_grad_ready)(DlrtGradReadyFn fn, void *arg);

    /* <name>_loop_limit, in models with a bounded `while cond max K` (else NULL): the .dlm line of the loop whose
     * condition still held after its K-th iteration in the last call, or 0. The trainer stops with an error
     * naming that line rather than train on, or report, truncated results. */
    int (*loop_limit)(const void *state);

    /* <name>_set_gemm, where the generated code calls OpenBLAS's sgemm (else NULL): the trainer passes it
     * dlrt_gemm_f32, or dlrt_gemm_bf16 with --precision bf16, once, before the first step (the hook belongs to
     * the program, not to a state block) */
    void (*set_gemm)(DlrtGemmFn gemm);

    /* <name>_set_conv, where the generated code lowers convolutions to im2col and gemm (else NULL): the f32
     * trainer passes it dlrt_conv_f32, before the first step (with --precision bf16 it stays unset, so the
     * convolutions' products go through set_gemm's bf16 product) */
    void (*set_conv)(DlrtConvFn conv);
} DlrtModel;

/* The instruction set of the translation unit that expands it, as the trainer's descriptor records it: the
 * generated loops compiled for another one sum in other orders (wider vectors, fused multiply-adds). */
#if defined(__AVX512F__)
#define DLRT_COMPILED_ISA "avx512f"
#elif defined(__AVX2__) && defined(__FMA__)
#define DLRT_COMPILED_ISA "avx2+fma"
#elif defined(__AVX__)
#define DLRT_COMPILED_ISA "avx"
#elif defined(__x86_64__)
#define DLRT_COMPILED_ISA "x86-64"
#elif defined(__aarch64__)
#define DLRT_COMPILED_ISA "aarch64"
#else
#define DLRT_COMPILED_ISA "portable"
#endif

/* DLRT_EINVAL, naming the field, when the descriptor cannot be run: a missing function, both or neither of
 * labels and targets, sizes out of range, an offer (images, kfold, submission) without what it needs. */
int dlrt_model_check(const DlrtModel *model, DlrtError *err);

/* The trainer program: `<name>-train [flags]` of ../shared/INTERFACE.md for the model, writing progress and
 * answers to `out` and messages to `err` (normally stdout and stderr). Returns the exit status: 0, 1 when
 * something failed (data, files, a loss that stopped being a number), 2 on bad usage. Everything it allocates is
 * freed before it returns. */
int dlrt_train_run(const DlrtModel *model, int argc, char **argv, FILE *out, FILE *err);

/* A data-parallel run's collective operations, which libdlrt-mpi (dlrt_mpi.h) implements over MPI; libdlrt itself
 * links no MPI. Every rank calls each operation at the same point of the run. */
typedef struct DlrtDist {
    int rank, size;
    int local_size; /* ranks on this host, which share its cores */
    void *impl;
    /* sums n values across ranks in place, every rank getting the same result */
    void (*sum_f32)(const struct DlrtDist *d, float *v, int64_t n);
    void (*sum_f64)(const struct DlrtDist *d, double *v, int64_t n);
    /* every rank's value, into all[size] on every rank */
    void (*gather_u64)(const struct DlrtDist *d, uint64_t v, uint64_t *all);
    /* the canonical reduction's two steps (train_dist.c), every count below 2^31: `exchange` sends send_count[r]
     * values to rank r, taken in rank order from send, and receives recv_count[r] from rank r, placed in rank
     * order into recv (an all-to-all); `gather` fills v, which holds count[r] values of each rank r in rank order,
     * with every rank's values, its own already in place (an all-gather) */
    void (*exchange_f32)(const struct DlrtDist *d, const float *send, const int64_t *send_count, float *recv,
                         const int64_t *recv_count);
    void (*gather_f32)(const struct DlrtDist *d, float *v, const int64_t *count);
    /* sums that overlap other work (NULL where absent): `start_sum_f32` starts summing n values in place as
     * sum_f32 does and returns at once, v then left untouched until `wait_sums`; `progress` lets the started sums
     * advance (MPI moves a non-blocking collective only inside its calls) and returns whether all have finished;
     * `wait_sums` returns when every started sum has. Every rank starts the same sums in the same order. */
    void (*start_sum_f32)(const struct DlrtDist *d, float *v, int64_t n);
    int (*progress)(const struct DlrtDist *d);
    void (*wait_sums)(const struct DlrtDist *d);
} DlrtDist;

/* dlrt_train_run as one rank of a data-parallel run over dist (NULL: the single process of dlrt_train_run). */
int dlrt_train_run_dist(const DlrtModel *model, int argc, char **argv, FILE *out, FILE *err, const DlrtDist *dist);

/* The OpenMP wait policy for a trainer whose user set none: "active" (idle threads spin, so the next of a step's
 * many short parallel regions starts at once) when the trainer's threads are its cores' only pool, "passive"
 * (they sleep) when OpenBLAS runs threads of its own (DLRT_GEMM=blas) or when other ranks of a data-parallel run
 * may share the host's cores (`ranks_on_host` above 1, or 0: not known). Measured on two threads of an idle Xeon
 * (docs/trainer.md): LeNet 32,900 examples/s passive, 38,300 active; BN-LeNet 18,400 and 33,800. */
const char *dlrt_wait_policy(int ranks_on_host);

/* When OMP_WAIT_POLICY is unset (and the runtime is built with OpenMP): sets it to dlrt_wait_policy(ranks_on_host),
 * and with "active" GOMP_SPINCOUNT to DLRT_SPIN_COUNT unless the user set it (libgomp's idle threads then spin
 * that many times, about 0.1 ms, before they sleep, rather than for minutes), and executes the program
 * (/proc/self/exe) again with argv, since OpenMP reads both once, when it loads. Returns only when it does not
 * execute (a user's own policy, argc 0, or execv failing). */
#define DLRT_SPIN_COUNT "3000"
void dlrt_exec_with_wait_policy(int argc, char **argv, int ranks_on_host);

/* main() of a trainer: dlrt_exec_with_wait_policy (one process: 1 rank on the host), then dlrt_train_run on stdout
 * and stderr. */
int dlrt_train_main(const DlrtModel *model, int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
