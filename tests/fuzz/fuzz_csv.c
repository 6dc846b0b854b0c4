/* fuzz_csv.c: libFuzzer target for libdlrt's CSV reader and the house-price preprocessing (runtime/csv.c).
 *
 * Each input is a CSV file, parsed from memory (the bytes as they are, NULs included, not NUL-terminated so
 * the sanitizers catch any read past the end). A refused input must leave a message and a zeroed table. An
 * accepted one must satisfy the table's invariants, and is then preprocessed as both train and test, once
 * with no target and once with its first column as the target and its last dropped, and split into two folds;
 * every feature must be finite and every row must hold one 1 per categorical column. Any crash, sanitizer report or
 * broken invariant (__builtin_trap) is a bug. Seeds: small CSVs, e.g. the first lines of the Kaggle files.
 *
 *   clang -g -fsanitize=fuzzer,address,undefined -Iruntime tests/fuzz/fuzz_csv.c runtime/csv.c runtime/idx.c \
 *       runtime/sys.c -lz -lm -lopenblas
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            __builtin_trap();                                                                                          \
    } while (0)

static void check_table(const DlrtCsvTable *t) {
    CHECK(t->n_cols >= 1 && t->n_rows >= 0);
    for (int c = 0; c < t->n_cols; c++) {
        CHECK(t->names[c] != NULL);
        CHECK(t->kinds[c] == DLRT_CSV_NUMERIC || t->kinds[c] == DLRT_CSV_CATEGORICAL);
        for (int d = c + 1; d < t->n_cols; d++)
            CHECK(strcmp(t->names[c], t->names[d]) != 0);
    }
    for (int64_t r = 0; r < t->n_rows; r++) {
        CHECK(r == 0 || t->lines[r] > t->lines[r - 1]);
        CHECK(t->lines[r] > t->header_line);
        for (int c = 0; c < t->n_cols; c++) {
            const char *s = t->cells[r * t->n_cols + c];
            double v = t->numbers[r * t->n_cols + c];
            if (!s) {
                CHECK(isnan(v));
                continue;
            }
            CHECK(s[0] != '\0' && strcmp(s, "NA") != 0);
            CHECK(isnan(v) || isfinite(v));
            if (isnan(v))
                CHECK(t->kinds[c] == DLRT_CSV_CATEGORICAL);
        }
    }
}

/* Every feature finite; past the numeric ones, each categorical column's one-hot group holds one 1 per row. */
static void check_dataset(const DlrtDataset *ds, const DlrtCsvInfo *info, int64_t categorical) {
    CHECK(ds->features == info->n_features);
    for (int64_t i = 0; i < ds->n; i++) {
        const float *row = ds->x + i * ds->features;
        float ones = 0;
        for (int64_t f = 0; f < ds->features; f++) {
            CHECK(isfinite(row[f]));
            if (f >= info->n_numeric) {
                CHECK(row[f] == 0.0f || row[f] == 1.0f);
                ones += row[f];
            }
        }
        CHECK(ones == (float)categorical);
    }
}

static void preprocess(const DlrtCsvTable *t, const char *target, const char *drop, int64_t limit) {
    const char *drops[1] = {drop};
    DlrtCsvSpec spec = {.target = target, .drop = drops, .n_drop = drop ? 1 : 0, .limit = limit};
    DlrtDataset train, test;
    DlrtCsvInfo info;
    DlrtError err = {{0}};
    if (dlrt_csv_preprocess(&spec, t, t, &train, &test, &info, &err) != DLRT_OK) {
        CHECK(err.msg[0] != '\0');
        CHECK(train.x == NULL && test.x == NULL && info.names == NULL);
        return;
    }
    int64_t categorical = t->n_cols - (target != NULL) - (drop != NULL) - info.n_numeric;
    check_dataset(&train, &info, categorical);
    check_dataset(&test, &info, categorical);
    CHECK((train.targets != NULL) == (target != NULL));
    if (train.n >= 2) {
        DlrtDataset tr, va;
        CHECK(dlrt_kfold_split(&train, 2, 1, &tr, &va, &err) == DLRT_OK);
        CHECK(tr.n == train.n / 2 && va.n == train.n / 2);
        if (va.n)
            CHECK(memcmp(va.x, train.x + va.n * train.features, (size_t)train.features * sizeof *va.x) == 0);
        dlrt_dataset_free(&tr);
        dlrt_dataset_free(&va);
    }
    dlrt_dataset_free(&train);
    dlrt_dataset_free(&test);
    dlrt_csv_info_free(&info);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    DlrtCsvTable t;
    DlrtError err = {{0}};
    /* An exact-size copy, so reading one byte too far is a heap overflow even for an empty input. */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    if (size)
        memcpy(text, data, size);
    int rc = dlrt_csv_parse(text, size, "fuzz.csv", &t, &err);
    free(text);
    if (rc != DLRT_OK) {
        CHECK(rc == DLRT_EFORMAT && err.msg[0] != '\0');
        CHECK(t.cells == NULL && t.text == NULL && t.n_rows == 0 && t.n_cols == 0);
        return 0;
    }
    check_table(&t);
    /* The preprocessing's output is rows x (numeric columns + distinct values): keep it small. */
    if ((double)t.n_rows * ((double)t.n_rows * t.n_cols + t.n_cols) < 1 << 22) {
        preprocess(&t, NULL, NULL, 0);
        if (t.n_cols >= 2)
            preprocess(&t, t.names[0], t.n_cols >= 3 ? t.names[t.n_cols - 1] : NULL, 3);
    }
    if (t.n_cols >= 1) {
        CHECK(dlrt_csv_declare(&t, t.names[0], DLRT_CSV_CATEGORICAL, &err) == DLRT_OK);
        CHECK(t.kinds[0] == DLRT_CSV_CATEGORICAL);
        rc = dlrt_csv_declare(&t, t.names[0], DLRT_CSV_NUMERIC, &err);
        CHECK(rc == DLRT_OK || rc == DLRT_EFORMAT);
    }
    dlrt_csv_free(&t);
    return 0;
}
