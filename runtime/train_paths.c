/* train_paths.c - the files a run reads and writes, checked before it loads anything. Every output is written at
 * the end by renaming a temporary file over its path, so two outputs that are one file would leave only the last
 * (`--save run.out --report run.out` replaced the trained weights by the report), an output that is an input
 * would destroy the input, and an output that cannot be written would fail only after the last epoch. Paths are
 * compared as the files they lead to: symbolic links followed, `.`, `..` and hard links seen through. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

typedef struct {
    const char *flag; /* "--report", or for inputs found under --data, "--data" */
    const char *path;
} Use;

enum { MAX_USES = 64 };

/* Where path leads once symbolic links are followed: the file itself when it exists, else its folder's real path
 * and its own name; the path as given when its folder does not exist either (the write check reports that). */
static void resolve(const char *path, char *out, size_t cap) {
    char real[PATH_MAX], dir[PATH_MAX + 1];
    if (realpath(path, real)) {
        snprintf(out, cap, "%s", real);
        return;
    }
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (realpath(dir, real))
        snprintf(out, cap, "%s/%s", strcmp(real, "/") == 0 ? "" : real, slash ? slash + 1 : path);
    else
        snprintf(out, cap, "%s", path);
}

static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char ra[2 * PATH_MAX + 2], rb[2 * PATH_MAX + 2];
    resolve(a, ra, sizeof ra);
    resolve(b, rb, sizeof rb);
    return strcmp(ra, rb) == 0;
}

static void add(Use *uses, int *n, const char *flag, const char *path) {
    if (path && *n < MAX_USES)
        uses[(*n)++] = (Use){flag, path};
}

/* The data files the run reads: --data itself, and the files the model's loader opens under it (or under the
 * default folder). Their names live in `names`, which the caller keeps for as long as the uses. */
static void add_data(DlrtTrainer *t, Use *in, int *n, char (*names)[PATH_MAX + 64], int cap) {
    static const char *const idx[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                       "t10k-labels-idx1-ubyte"};
    const DlrtDataSpec *d = &t->m->data;
    const char *data = t->args.data;
    int k = 0;
    add(in, n, "--data", data);
    if (d->kind == DLRT_DATA_CSV) {
        const char *files[2] = {d->csv.train, d->csv.test};
        for (int i = 0; i < 2 && k < cap; i++) {
            if (!files[i])
                continue;
            snprintf(names[k], sizeof names[k], "%s%s%s", data ? data : "", data ? "/" : "", files[i]);
            add(in, n, "--data", names[k++]);
        }
    } else if (d->kind == DLRT_DATA_FASHION_MNIST) {
        for (int i = 0; i < 8 && k < cap; i++) {
            snprintf(names[k], sizeof names[k], "%s/%s%s", data ? data : DLRT_FASHION_MNIST_DIR, idx[i / 2],
                     i % 2 ? ".gz" : "");
            add(in, n, "--data", names[k++]);
        }
    }
}

int dlrt_trainer_check_paths(DlrtTrainer *t) {
    const DlrtArgs *a = &t->args;
    Use out[MAX_USES], in[MAX_USES];
    char names[8][PATH_MAX + 64];
    int n_out = 0, n_in = 0;
    add(out, &n_out, "--save", a->save);
    add(out, &n_out, "--save-best", a->save_best);
    add(out, &n_out, "--report", a->report);
    add(out, &n_out, "--metrics", a->metrics);
    add(out, &n_out, "--plot", a->plot);
    add(out, &n_out, "--show-samples", a->show_samples);
    add(out, &n_out, "--show-predictions", a->show_predictions);
    add(out, &n_out, "--submission", a->submission);
    add(in, &n_in, "--load", a->load);
    add(in, &n_in, "--resume", a->resume);
    if (!t->predict_only || a->show_samples || a->show_predictions || a->report)
        add_data(t, in, &n_in, names, 8);
    for (int i = 0; i < a->n_predict; i++)
        add(in, &n_in, "--predict", a->predict[i]);

    for (int i = 0; i < n_out; i++) {
        for (int j = 0; j < i; j++)
            if (same_file(out[j].path, out[i].path)) {
                fprintf(t->errf,
                        "%s: %s %s and %s %s are the same file: one would replace the other; give each output "
                        "its own file\n",
                        t->prog, out[j].flag, out[j].path, out[i].flag, out[i].path);
                return 2;
            }
        for (int j = 0; j < n_in; j++) {
            /* --save F --resume F continues a run in place: the checkpoint is read before it is replaced */
            if (out[i].path == a->save && in[j].path == a->resume)
                continue;
            if (same_file(out[i].path, in[j].path)) {
                fprintf(t->errf, "%s: %s %s is also an input (%s %s): writing it would destroy the input\n", t->prog,
                        out[i].flag, out[i].path, in[j].flag, in[j].path);
                return 2;
            }
        }
    }
    for (int i = 0; i < n_out; i++)
        if (dlrt_output_check(out[i].path, &t->err) != DLRT_OK) {
            fprintf(t->errf, "%s: %s %s\n", t->prog, out[i].flag, t->err.msg);
            return 1;
        }
    return 0;
}
