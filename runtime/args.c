/* args.c - the trainer command line of INTERFACE.md. Parsing only records what the user said (with has_ flags
 * for numbers); the generated main() merges that with the model file's defaults. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef enum { ARG_INT, ARG_I32, ARG_U64, ARG_REAL, ARG_PATH, ARG_FLAG, ARG_FILES } ArgKind;

/* The flag table: one row per flag, pointing into a DlrtArgs; each row starts with the DlrtOption that
 * dlrt_next_option matches. */
typedef struct {
    DlrtOption opt;
    ArgKind kind;
    size_t value, has; /* offsetof into DlrtArgs; has is 0 for kinds that need none */
    int64_t min;       /* ARG_INT lower bound */
    int64_t max;
} Flag;

#define OFF(field) offsetof(DlrtArgs, field)

static const Flag flags[] = {
    {{"--epochs", 1}, ARG_INT, OFF(epochs), OFF(has_epochs), 0, INT64_C(1) << 40},
    {{"--batch", 1}, ARG_INT, OFF(batch), OFF(has_batch), 1, INT64_C(1) << 40},
    {{"--lr", 1}, ARG_REAL, OFF(lr), OFF(has_lr), 0, 0},
    {{"--seed", 1}, ARG_U64, OFF(seed), OFF(has_seed), 0, 0},
    {{"--data", 1}, ARG_PATH, OFF(data), 0, 0, 0},
    {{"--limit", 1}, ARG_INT, OFF(limit), OFF(has_limit), 1, INT64_C(1) << 40},
    {{"--threads", 1}, ARG_I32, OFF(threads), OFF(has_threads), 1, 4096},
    {{"--report", 1}, ARG_PATH, OFF(report), 0, 0, 0},
    {{"--metrics", 1}, ARG_PATH, OFF(metrics), 0, 0, 0},
    {{"--plot", 1}, ARG_PATH, OFF(plot), 0, 0, 0},
    {{"--save", 1}, ARG_PATH, OFF(save), 0, 0, 0},
    {{"--load", 1}, ARG_PATH, OFF(load), 0, 0, 0},
    {{"--resume", 1}, ARG_PATH, OFF(resume), 0, 0, 0},
    {{"--show-samples", 1}, ARG_PATH, OFF(show_samples), 0, 0, 0},
    {{"--show-predictions", 1}, ARG_PATH, OFF(show_predictions), 0, 0, 0},
    {{"--predict", 0}, ARG_FILES, OFF(predict), OFF(n_predict), 0, 0},
    {{"--kfold", 1}, ARG_I32, OFF(kfold), OFF(has_kfold), 2, 1000},
    {{"--submission", 1}, ARG_PATH, OFF(submission), 0, 0, 0},
    {{"--chunk", 1}, ARG_INT, OFF(chunk), OFF(has_chunk), 1, INT64_C(1) << 40},
    {{"--fast-reduce", 0}, ARG_FLAG, OFF(fast_reduce), 0, 0, 0},
    {{"--valid", 1}, ARG_REAL, OFF(valid), OFF(has_valid), 0, 0},
    {{"--save-best", 1}, ARG_PATH, OFF(save_best), 0, 0, 0},
    {{"--precision", 1}, ARG_PATH, OFF(precision), 0, 0, 0},
    {{"--quiet", 0}, ARG_FLAG, OFF(quiet), 0, 0, 0},
    {{"--help", 0}, ARG_FLAG, OFF(help), 0, 0, 0},
    {{"--version", 0}, ARG_FLAG, OFF(version), 0, 0, 0},
};

static int usage_error(DlrtError *err, const char *fmt, ...) DLRT_PRINTF(2, 3);

/* Every usage message ends by pointing at --help. */
static int usage_error(DlrtError *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg - 16, fmt, ap);
        va_end(ap);
        strcat(err->msg, " (see --help)");
    }
    return DLRT_EUSAGE;
}

/* Stores `text` as the value of flag f; returns DLRT_EUSAGE with a message when malformed. */
static int set_value(DlrtArgs *args, const Flag *f, const char *text, DlrtError *err) {
    char *base = (char *)args, *end;
    errno = 0;
    switch (f->kind) {
    case ARG_INT:
    case ARG_I32: {
        long long v = strtoll(text, &end, 10);
        if (*text == '\0' || *end != '\0' || errno || v < f->min || v > f->max) {
            if (f->max >= INT64_C(1) << 40) /* effectively unbounded: don't print the bound */
                return usage_error(err, "%s expects a %s integer, got '%s'", f->opt.name,
                                   f->min > 0 ? "positive" : "non-negative", text);
            return usage_error(err, "%s expects an integer from %lld to %lld, got '%s'", f->opt.name, (long long)f->min,
                               (long long)f->max, text);
        }
        if (f->kind == ARG_I32)
            *(int *)(base + f->value) = (int)v;
        else
            *(int64_t *)(base + f->value) = v;
        break;
    }
    case ARG_U64: {
        unsigned long long v = strtoull(text, &end, 10);
        if (*text == '\0' || *text == '-' || *end != '\0' || errno)
            return usage_error(err, "%s expects a non-negative integer, got '%s'", f->opt.name, text);
        *(uint64_t *)(base + f->value) = v;
        break;
    }
    case ARG_REAL: {
        double v = strtod(text, &end);
        if (*text == '\0' || *end != '\0' || errno || !isfinite(v) || v <= 0)
            return usage_error(err, "%s expects a positive number, got '%s'", f->opt.name, text);
        *(double *)(base + f->value) = v;
        break;
    }
    case ARG_PATH:
        if (*text == '\0')
            return usage_error(err, "%s expects a file name, got '%s'", f->opt.name, text);
        *(const char **)(base + f->value) = text;
        break;
    case ARG_FLAG:
    case ARG_FILES:
        break;
    }
    if (f->has)
        *(int *)(base + f->has) = 1;
    return DLRT_OK;
}

/* The optimal string alignment distance between the first la bytes of a and b (insertions, deletions,
 * substitutions and the swap of two neighbours: `--epcohs`), or cap + 1 once it is more than cap. */
static int option_distance(const char *a, size_t la, const char *b, int cap) {
    size_t lb = strlen(b);
    if (la > 40 || lb > 40 || (la > lb ? la - lb : lb - la) > (size_t)cap)
        return cap + 1;
    int d[41][41];
    for (size_t x = 0; x <= la; x++)
        for (size_t y = 0; y <= lb; y++) {
            if (x == 0 || y == 0) {
                d[x][y] = (int)(x + y);
                continue;
            }
            int best = d[x - 1][y - 1] + (a[x - 1] != b[y - 1]);
            best = d[x - 1][y] + 1 < best ? d[x - 1][y] + 1 : best;
            best = d[x][y - 1] + 1 < best ? d[x][y - 1] + 1 : best;
            if (x > 1 && y > 1 && a[x - 1] == b[y - 2] && a[x - 2] == b[y - 1] && d[x - 2][y - 2] + 1 < best)
                best = d[x - 2][y - 2] + 1;
            d[x][y] = best;
        }
    return d[la][lb] > cap ? cap + 1 : d[la][lb];
}

/* The option of the table nearest to the unknown `name` (its first len bytes) when close enough to be a slip:
 * one edit in a name of up to four letters past its dashes, a third of its letters beyond, and fewer edits than
 * it has letters (`-x` is no slip for `-o`); else NULL. */
static const char *nearest_option(const char *name, size_t len, const void *options, size_t stride, size_t n) {
    size_t letters = len - strspn(name, "-");
    int cap = letters <= 4 ? 1 : (int)(letters / 3), best = cap + 1;
    const char *found = NULL;
    for (size_t k = 0; k < n; k++) {
        const DlrtOption *o = (const DlrtOption *)(const void *)((const char *)options + k * stride);
        int d = option_distance(name, len, o->name, cap);
        if (d < best && (size_t)d < letters) {
            best = d;
            found = o->name;
        }
    }
    return found;
}

int dlrt_next_option(int argc, char **argv, int *i, const void *options, size_t stride, size_t n,
                     const DlrtOption **opt, const char **value, DlrtError *err) {
    if (*i >= argc)
        return 0;
    const char *arg = argv[(*i)++];
    *opt = NULL;
    *value = arg;
    if (arg[0] != '-' || arg[1] == '\0')
        return 1;
    bool is_long = arg[1] == '-';
    size_t name_len = is_long ? strcspn(arg, "=") : 2;
    for (size_t k = 0; k < n; k++) {
        const DlrtOption *o = (const DlrtOption *)(const void *)((const char *)options + k * stride);
        if (strlen(o->name) == name_len && strncmp(o->name, arg, name_len) == 0)
            *opt = o;
    }
    if (!*opt) {
        int shown = is_long ? (int)name_len : (int)strlen(arg);
        const char *near = nearest_option(arg, (size_t)shown, options, stride, n);
        if (near)
            return usage_error(err, "unknown option '%.*s'; did you mean '%s'?", shown, arg, near);
        return usage_error(err, "unknown option '%.*s'", shown, arg);
    }
    const char *attached = arg[name_len] == '\0' ? NULL : is_long ? arg + name_len + 1 : arg + name_len;
    if (!(*opt)->takes_value) {
        if (attached)
            return usage_error(err, "%s takes no value, got '%s'", (*opt)->name, attached);
        *value = NULL;
        return 1;
    }
    if (attached) {
        *value = attached;
        return 1;
    }
    if (*i >= argc)
        return usage_error(err, "%s needs a value", (*opt)->name);
    *value = argv[(*i)++];
    return 1;
}

int dlrt_parse_args(int argc, char **argv, DlrtArgs *args, DlrtError *err) {
    memset(args, 0, sizeof *args);
    const DlrtOption *o;
    const char *value;
    int rc, i = 1;
    while ((rc = dlrt_next_option(argc, argv, &i, flags, sizeof flags[0], sizeof flags / sizeof flags[0], &o, &value,
                                  err)) == 1) {
        if (!o)
            return usage_error(err, "unexpected argument '%s'", value);
        const Flag *f = (const Flag *)(const void *)o;
        if (f->kind == ARG_FLAG) {
            *(int *)((char *)args + f->value) = 1;
            continue;
        }
        if (f->kind == ARG_FILES) {
            int first = i;
            while (i < argc && strncmp(argv[i], "--", 2) != 0)
                i++;
            if (i == first)
                return usage_error(err, "%s needs at least one image file", f->opt.name);
            args->predict = argv + first;
            args->n_predict = i - first;
            continue;
        }
        rc = set_value(args, f, value, err);
        if (rc)
            return rc;
    }
    if (rc)
        return rc;
    if (args->has_valid && !(args->valid < 1))
        return usage_error(err,
                           "--valid expects the fraction of the training set to hold out, above 0 and below 1, "
                           "got %g",
                           args->valid);
    if (args->precision && strcmp(args->precision, "f32") != 0 && strcmp(args->precision, "bf16") != 0)
        return usage_error(err, "--precision expects f32 or bf16, got '%s'", args->precision);
    if (args->save_best && !args->has_valid)
        return usage_error(err,
                           "--save-best %s needs --valid FRACTION: the best checkpoint is the one with the best "
                           "score on the held-out examples",
                           args->save_best);
    if (args->load && args->resume)
        return usage_error(err, "--load %s and --resume %s conflict: --resume already loads the weights", args->load,
                           args->resume);
    return DLRT_OK;
}

void dlrt_usage(FILE *out, const char *prog, const char *model, const DlrtArgs *d) {
    fprintf(out,
            "usage: %s [flags]\n"
            "Trains the %s model compiled by dlc.\n"
            "\n"
            "  --epochs N            total epochs (default %lld); with --resume, continue up to N\n"
            "  --batch N             batch size (default %lld)\n"
            "  --lr X                learning rate (default %g)\n"
            "  --seed N              random seed (default %llu)\n"
            "  --data PATH           IDX folder, or CSV file / folder with train.csv and test.csv\n"
            "  --limit N             use the first N training examples (and at most N test examples)\n"
            "  --threads N           threads for the generated loops and products (default: all cores)\n"
            "  --report FILE         write a JSON summary at the end\n"
            "  --metrics FILE.csv    per-epoch metrics\n"
            "  --plot FILE.svg       training curves\n"
            "  --save FILE           write checkpoints (weights, optimizer and RNG state);\n"
            "                        FILE.npz: the weights only, as a NumPy archive (PyTorch's names)\n"
            "  --load FILE           start from a checkpoint's weights (or a NumPy .npz of a state_dict)\n"
            "  --resume FILE         continue an interrupted run from its checkpoint\n"
            "  --show-samples FILE.png      a grid of training images with their labels\n"
            "  --show-predictions FILE.png  test images with labels and predictions, mistakes in red\n"
            "  --predict FILE...     print the top 3 classes of the images in IDX, PNG or PGM files;\n"
            "                        with --load and no --epochs, predict without training\n"
            "  --kfold K             K-fold cross-validation (CSV models), then training on all the data\n"
            "  --submission FILE.csv after training, predict the test set and write a Kaggle submission\n"
            "                        (CSV models: a header such as Id,SalePrice, then one line per test row)\n"
            "  --chunk N             data-parallel trainers (dlc build --mpi): examples per chunk of the\n"
            "                        canonical order in which gradients are summed (default 16)\n"
            "  --fast-reduce         data-parallel trainers: sum the ranks' gradients with MPI's own order;\n"
            "                        the bits then depend on the number of ranks\n"
            "  --valid FRACTION      hold out the last FRACTION of the training examples (after --limit)\n"
            "                        and report the loss and accuracy on them after every epoch\n"
            "  --save-best FILE      keep the checkpoint of the epoch with the best validation accuracy\n"
            "                        (the lowest validation loss for a model without one); needs --valid\n"
            "  --precision f32|bf16  bf16: matrix products (linear layers, the convolutions that run as\n"
            "                        products) take bf16 inputs and sum in f32, on AMX or AVX512-BF16\n"
            "                        (refused on a CPU with neither); weights stay f32 (default f32)\n"
            "  --quiet               no progress output\n"
            "  --version             the dlc version that generated this trainer\n"
            "  --help                this text\n",
            prog, model, (long long)d->epochs, (long long)d->batch, d->lr, (unsigned long long)d->seed);
}
