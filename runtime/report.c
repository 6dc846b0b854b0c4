/* report.c - what a training run leaves behind besides checkpoints: the JSON report of INTERFACE.md and the
 * per-epoch history with its CSV. Everything is written atomically so a reader never sees half a file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* JSON has no NaN or infinity; a missing value is null. The shortest of 15 or 17 digits that reads back as
 * the same double, so 0.1 stays "0.1" and nothing is lost. */
static void json_number(FILE *f, double v) {
    if (!isfinite(v)) {
        fputs("null", f);
        return;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, f);
}

static void json_key_number(FILE *f, const char *key, double v) {
    fprintf(f, ",\n  \"%s\": ", key);
    json_number(f, v);
}

/* Writes dims[axis..] of the tensor starting at element *index as nested arrays. */
static void json_tensor(FILE *f, const DlrtTensorDesc *d, int axis, int64_t *index) {
    if (axis == d->rank) {
        double v = d->dtype == DLRT_F64 ? ((const double *)d->data)[*index] : ((const float *)d->data)[*index];
        if (d->dtype == DLRT_F32 && isfinite(v))
            fprintf(f, "%.9g", v); /* 9 digits round-trip a float */
        else
            json_number(f, v);
        (*index)++;
        return;
    }
    fputc('[', f);
    for (int64_t i = 0; i < d->dims[axis]; i++) {
        if (i)
            fputs(", ", f);
        json_tensor(f, d, axis + 1, index);
    }
    fputc(']', f);
}

int dlrt_report_write(const char *path, const DlrtReport *r, DlrtError *err) {
    DlrtAtomicFile af;
    int rc = dlrt_atomic_open(&af, path, err);
    if (rc)
        return rc;
    FILE *f = af.f;
    fputs("{\n  \"model\": ", f);
    json_string(f, r->model ? r->model : "");
    fprintf(f, ",\n  \"epochs\": %lld", (long long)r->epochs);
    json_key_number(f, "train_loss", r->train_loss);
    if (r->classifies)
        json_key_number(f, "train_acc", r->train_acc);
    json_key_number(f, "test_loss", r->test_loss);
    if (r->classifies)
        json_key_number(f, "test_acc", r->test_acc);
    if (r->has_valid) {
        json_key_number(f, "valid_loss", r->valid_loss);
        if (r->classifies)
            json_key_number(f, "valid_acc", r->valid_acc);
    }
    if (r->best_epoch > 0)
        fprintf(f, ",\n  \"best_epoch\": %lld", (long long)r->best_epoch);
    json_key_number(f, "examples_per_second", r->examples_per_second);
    json_key_number(f, "seconds", r->seconds);
    fprintf(f, ",\n  \"peak_rss_bytes\": %lld", (long long)r->peak_rss_bytes);
    fprintf(f, ",\n  \"ranks\": %d", r->ranks > 0 ? r->ranks : 1);

    int64_t total = 0;
    for (int i = 0; i < r->n_params; i++)
        total += dlrt_tensor_count(&r->params[i]);
    if (r->params && r->n_params > 0 && total < 1000) { /* INTERFACE.md: only for small models */
        fputs(",\n  \"parameters\": {", f);
        for (int i = 0; i < r->n_params; i++) {
            fputs(i ? ",\n    " : "\n    ", f);
            json_string(f, r->params[i].name);
            fputs(": ", f);
            int64_t index = 0;
            json_tensor(f, &r->params[i], 0, &index);
        }
        fputs("\n  }", f);
    }

    if (r->folds && r->n_folds > 0) {
        double train = 0, valid = 0;
        fputs(",\n  \"kfold\": {\"folds\": [", f);
        for (int i = 0; i < r->n_folds; i++) {
            fputs(i ? ", " : "", f);
            fputs("{\"train_log_rmse\": ", f);
            json_number(f, r->folds[i].train_log_rmse);
            fputs(", \"valid_log_rmse\": ", f);
            json_number(f, r->folds[i].valid_log_rmse);
            fputc('}', f);
            train += r->folds[i].train_log_rmse;
            valid += r->folds[i].valid_log_rmse;
        }
        fputs("], \"train_log_rmse\": ", f);
        json_number(f, train / r->n_folds);
        fputs(", \"valid_log_rmse\": ", f);
        json_number(f, valid / r->n_folds);
        fputc('}', f);
    }
    fputs("\n}\n", f);
    return dlrt_atomic_commit(&af, err);
}

/* ---- history ---- */

int dlrt_history_init(DlrtHistory *h, int64_t cap, DlrtError *err) {
    memset(h, 0, sizeof *h);
    if (cap < 1)
        cap = 1;
    size_t n = (size_t)cap;
    h->epoch = malloc(n * 9 * sizeof(double)); /* the nine columns share one block */
    if (!h->epoch) {
        dlrt_history_free(h);
        return dlrt_fail(err, DLRT_ENOMEM, "history: out of memory for %lld epochs", (long long)cap);
    }
    h->train_loss = h->epoch + n;
    h->train_acc = h->epoch + 2 * n;
    h->test_loss = h->epoch + 3 * n;
    h->test_acc = h->epoch + 4 * n;
    h->seconds = h->epoch + 5 * n;
    h->valid_loss = h->epoch + 6 * n;
    h->valid_acc = h->epoch + 7 * n;
    h->lr = h->epoch + 8 * n;
    h->cap = cap;
    return DLRT_OK;
}

void dlrt_history_free(DlrtHistory *h) {
    free(h->epoch);
    memset(h, 0, sizeof *h);
}

int dlrt_history_add(DlrtHistory *h, int64_t epoch, const DlrtEpochScores *s, double seconds, DlrtError *err) {
    if (h->n >= h->cap)
        return dlrt_fail(err, DLRT_EINVAL, "history: full after %lld epochs", (long long)h->cap);
    int64_t i = h->n++;
    h->epoch[i] = (double)epoch;
    h->train_loss[i] = s->train_loss;
    h->train_acc[i] = s->train_acc;
    h->test_loss[i] = s->test_loss;
    h->test_acc[i] = s->test_acc;
    h->seconds[i] = seconds;
    h->valid_loss[i] = s->valid_loss;
    h->valid_acc[i] = s->valid_acc;
    h->lr[i] = s->lr;
    return DLRT_OK;
}

static int any_finite(const double *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            return 1;
    return 0;
}

static void csv_cell(FILE *f, double v) {
    fputc(',', f);
    if (isfinite(v))
        fprintf(f, "%.9g", v);
}

int dlrt_write_metrics_csv(const char *path, const DlrtHistory *h, DlrtError *err) {
    DlrtAtomicFile af;
    int rc = dlrt_atomic_open(&af, path, err);
    if (rc)
        return rc;
    int valid = any_finite(h->valid_loss, h->n) || any_finite(h->valid_acc, h->n), lr = any_finite(h->lr, h->n);
    fprintf(af.f, "epoch,train_loss,train_acc,test_loss,test_acc%s%s,seconds\n", valid ? ",valid_loss,valid_acc" : "",
            lr ? ",lr" : "");
    for (int64_t i = 0; i < h->n; i++) {
        fprintf(af.f, "%.0f", h->epoch[i]);
        csv_cell(af.f, h->train_loss[i]);
        csv_cell(af.f, h->train_acc[i]);
        csv_cell(af.f, h->test_loss[i]);
        csv_cell(af.f, h->test_acc[i]);
        if (valid) {
            csv_cell(af.f, h->valid_loss[i]);
            csv_cell(af.f, h->valid_acc[i]);
        }
        if (lr)
            csv_cell(af.f, h->lr[i]);
        csv_cell(af.f, h->seconds[i]);
        fputc('\n', af.f);
    }
    return dlrt_atomic_commit(&af, err);
}
