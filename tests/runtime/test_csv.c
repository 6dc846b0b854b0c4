/* test_csv.c - CUnit tests of libdlrt's CSV reader, the house-price preprocessing, submissions and k-fold
 * splits. Small CSVs are written into a private temporary directory; the Kaggle data in
 * SOURCE_ROOT/../shared/data/house-prices is used when it is there (the test says so when it is not). Expected
 * values were worked out by hand; the real-data spot values come from an independent Python implementation
 * of the book's pandas code (csv module, sample std). */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dlrt.h"

#ifndef SOURCE_ROOT
#define SOURCE_ROOT "."
#endif

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static void spit(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    size_t len = strlen(text);
    CU_ASSERT_FATAL(fwrite(text, 1, len, f) == len);
    fclose(f);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[4096];
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

#define ASSERT_MSG_HAS(err, text)                                                                                      \
    do {                                                                                                               \
        int found_ = strstr((err).msg, (text)) != NULL;                                                                \
        if (!found_)                                                                                                   \
            fprintf(stderr, "\n    message \"%s\" lacks \"%s\"\n", (err).msg, (text));                                 \
        CU_ASSERT(found_);                                                                                             \
    } while (0)

#define ASSERT_NEAR(a, b, tol) CU_ASSERT(fabs((double)(a) - (double)(b)) <= (tol))

static int parse(const char *text, DlrtCsvTable *t, DlrtError *err) {
    return dlrt_csv_parse(text, strlen(text), "t.csv", t, err);
}

static const char *at(const DlrtCsvTable *t, int64_t r, int c) { return t->cells[r * t->n_cols + c]; }

/* ---------------------------------------------------------------------------------------------------------- */
/* Reading                                                                                                    */
/* ---------------------------------------------------------------------------------------------------------- */

static void test_parse_fields(void) {
    DlrtCsvTable t;
    DlrtError err = {{0}};
    /* BOM, quoted separators, doubled quotes, a quoted line break, CRLF and LF mixed, blank lines, NA and empty
     * cells, a quoted NA (still missing: pandas reads it so too), no final newline. */
    const char *text = "\xEF\xBB\xBF"
                       "name,\"x,y\",note\r\n"
                       "\"a,b\",1,\"say \"\"hi\"\"\"\r\n"
                       "\n"
                       "c,NA,\"two\nlines\"\n"
                       "\r\n"
                       ",2.5,\"\"\n"
                       "\"NA\",3,NA";
    CU_ASSERT_EQUAL_FATAL(parse(text, &t, &err), DLRT_OK);
    CU_ASSERT_EQUAL(t.n_cols, 3);
    CU_ASSERT_EQUAL(t.n_rows, 4);
    CU_ASSERT_STRING_EQUAL(t.names[0], "name");
    CU_ASSERT_STRING_EQUAL(t.names[1], "x,y");
    CU_ASSERT_STRING_EQUAL(at(&t, 0, 0), "a,b");
    CU_ASSERT_STRING_EQUAL(at(&t, 0, 2), "say \"hi\"");
    CU_ASSERT_STRING_EQUAL(at(&t, 1, 0), "c");
    CU_ASSERT_PTR_NULL(at(&t, 1, 1));
    CU_ASSERT_STRING_EQUAL(at(&t, 1, 2), "two\nlines");
    CU_ASSERT_PTR_NULL(at(&t, 2, 0));
    CU_ASSERT_PTR_NULL(at(&t, 2, 2));
    CU_ASSERT_PTR_NULL(at(&t, 3, 0));
    CU_ASSERT_PTR_NULL(at(&t, 3, 2));
    /* Lines count physical lines, including the one inside quotes and the blank ones. */
    CU_ASSERT_EQUAL(t.header_line, 1);
    CU_ASSERT_EQUAL(t.lines[0], 2);
    CU_ASSERT_EQUAL(t.lines[1], 4);
    CU_ASSERT_EQUAL(t.lines[2], 7);
    CU_ASSERT_EQUAL(t.lines[3], 8);
    CU_ASSERT_EQUAL(t.kinds[0], DLRT_CSV_CATEGORICAL);
    CU_ASSERT_EQUAL(t.kinds[1], DLRT_CSV_NUMERIC);
    CU_ASSERT_EQUAL(t.kinds[2], DLRT_CSV_CATEGORICAL);
    CU_ASSERT_EQUAL(t.numbers[0 * 3 + 1], 1.0);
    CU_ASSERT(isnan(t.numbers[1 * 3 + 1]));
    CU_ASSERT_EQUAL(t.numbers[2 * 3 + 1], 2.5);
    CU_ASSERT_EQUAL(dlrt_csv_column(&t, "x,y"), 1);
    CU_ASSERT_EQUAL(dlrt_csv_column(&t, "x"), -1);
    dlrt_csv_free(&t);
    dlrt_csv_free(&t); /* safe twice */

    /* A header alone is a table of no rows; a trailing comma is an empty last field. */
    CU_ASSERT_EQUAL_FATAL(parse("a,b\n", &t, &err), DLRT_OK);
    CU_ASSERT_EQUAL(t.n_rows, 0);
    dlrt_csv_free(&t);
    CU_ASSERT_EQUAL_FATAL(parse("a,b,\n1,2,\n", &t, &err), DLRT_OK);
    CU_ASSERT_EQUAL(t.n_cols, 3);
    CU_ASSERT_STRING_EQUAL(t.names[2], "");
    CU_ASSERT_PTR_NULL(at(&t, 0, 2));
    dlrt_csv_free(&t);
}

static void test_parse_errors(void) {
    DlrtCsvTable t;
    DlrtError err = {{0}};
    CU_ASSERT_EQUAL(parse("a,b,c\n1,2,3\n4,5\n", &t, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "t.csv:3: expected 3 fields");
    ASSERT_MSG_HAS(err, "found 2");
    CU_ASSERT_PTR_NULL(t.cells);
    CU_ASSERT_EQUAL(t.n_cols, 0);

    /* The line reported is where the record starts, after a multi-line quoted field. */
    CU_ASSERT_EQUAL(parse("a,b\r\n\"x\r\ny\",2\r\n1,2,3\r\n", &t, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "t.csv:4: expected 2 fields");
    ASSERT_MSG_HAS(err, "found 3");

    CU_ASSERT_EQUAL(parse("a,b\n1,x\"y\n", &t, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "t.csv:2: field 2 has a quote inside an unquoted field");
    CU_ASSERT_EQUAL(parse("a,b\n1,\"x\"y\n", &t, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "t.csv:2: field 2 has text after its closing quote");
    CU_ASSERT_EQUAL(parse("a,b\n1,2\n3,\"open\n\n", &t, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "t.csv:3: field 2 opens a quote that is never closed");
    CU_ASSERT_EQUAL(parse("", &t, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "no header row");
    CU_ASSERT_EQUAL(parse("\n\r\n", &t, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "no header row");
    CU_ASSERT_EQUAL(parse("a,b,a\n", &t, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "t.csv:1: the header names column 'a' twice (columns 1 and 3)");
    CU_ASSERT_EQUAL(dlrt_csv_parse("a,b\n1,\0\n", 8, "t.csv", &t, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "t.csv:2: field 2 holds a NUL byte");

    CU_ASSERT_EQUAL(dlrt_csv_read(tmp_path("absent.csv"), &t, &err), DLRT_EIO);
    ASSERT_MSG_HAS(err, "absent.csv: cannot open");
}

static void test_numeric_detection(void) {
    DlrtCsvTable t;
    DlrtError err = {{0}};
    const char *text = "ints,floats,mixed,empty,inf,hex,nan,spaced\n"
                       "1,1.5,1,NA,inf,0x10,nan, 7\n"
                       "-2,.5e1,x,,1,1,1,8\t\n"
                       "+3,1E-2,2,NA,2,2,2,9\n";
    CU_ASSERT_EQUAL_FATAL(parse(text, &t, &err), DLRT_OK);
    int expected[] = {DLRT_CSV_NUMERIC,     DLRT_CSV_NUMERIC,     DLRT_CSV_CATEGORICAL, DLRT_CSV_NUMERIC,
                      DLRT_CSV_CATEGORICAL, DLRT_CSV_CATEGORICAL, DLRT_CSV_CATEGORICAL, DLRT_CSV_NUMERIC};
    for (int c = 0; c < 8; c++)
        CU_ASSERT_EQUAL(t.kinds[c], expected[c]);
    CU_ASSERT_EQUAL(t.numbers[1 * 8 + 0], -2.0);
    CU_ASSERT_EQUAL(t.numbers[1 * 8 + 1], 5.0);
    CU_ASSERT_EQUAL(t.numbers[2 * 8 + 1], 0.01);
    CU_ASSERT_EQUAL(t.numbers[0 * 8 + 7], 7.0);
    CU_ASSERT_STRING_EQUAL(at(&t, 0, 7), " 7"); /* the cell keeps its text */
    CU_ASSERT_EQUAL(t.numbers[0 * 8 + 2], 1.0); /* numbers in a categorical column still have their value */
    CU_ASSERT(isnan(t.numbers[1 * 8 + 2]));

    CU_ASSERT_EQUAL(dlrt_csv_declare(&t, "mixed", DLRT_CSV_NUMERIC, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "t.csv:3: column 'mixed' is declared numeric, but 'x' is not a number");
    CU_ASSERT_EQUAL(t.kinds[2], DLRT_CSV_CATEGORICAL);
    CU_ASSERT_EQUAL(dlrt_csv_declare(&t, "ints", DLRT_CSV_CATEGORICAL, &err), DLRT_OK);
    CU_ASSERT_EQUAL(t.kinds[0], DLRT_CSV_CATEGORICAL);
    CU_ASSERT_EQUAL(dlrt_csv_declare(&t, "ints", DLRT_CSV_NUMERIC, &err), DLRT_OK);
    CU_ASSERT_EQUAL(t.kinds[0], DLRT_CSV_NUMERIC);
    CU_ASSERT_EQUAL(dlrt_csv_declare(&t, "nope", DLRT_CSV_NUMERIC, &err), DLRT_EINVAL);
    ASSERT_MSG_HAS(err, "no column 'nope'");
    dlrt_csv_free(&t);
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Preprocessing                                                                                              */
/* ---------------------------------------------------------------------------------------------------------- */

/* Train and test as the book has them: an Id, a target in train only, test's columns in another order. */
static const char *small_train = "Id,A,B,C,D,Price\n"
                                 "1,1,x,10,b,100\n"
                                 "2,2,y,NA,a,200\n"
                                 "3,NA,x,30,b,300\n";
static const char *small_test = "Id,D,C,B,A\r\n"
                                "4,a,50,NA,4\r\n"
                                "5,a,10,\"z,w\",5\r\n";

static int load_small(DlrtCsvSpec *spec, DlrtDataset *train, DlrtDataset *test, DlrtCsvInfo *info, DlrtError *err) {
    static const char *drop[] = {"Id"};
    spec->train_path = tmp_path("train.csv");
    spec->test_path = tmp_path("test.csv");
    spec->target = "Price";
    spec->drop = drop;
    spec->n_drop = 1;
    return dlrt_csv_load_house(spec, train, test, info, err);
}

static int64_t feature(const DlrtCsvInfo *info, const char *name) {
    for (int64_t i = 0; i < info->n_features; i++)
        if (strcmp(info->names[i], name) == 0)
            return i;
    return -1;
}

static void test_preprocess_small(void) {
    spit(tmp_path("train.csv"), small_train);
    spit(tmp_path("test.csv"), small_test);
    DlrtCsvSpec spec = {0};
    DlrtDataset train, test;
    DlrtCsvInfo info;
    DlrtError err = {{0}};
    CU_ASSERT_EQUAL_FATAL(load_small(&spec, &train, &test, &info, &err), DLRT_OK);

    /* A and C numeric (train order), then B's sorted values and B_nan, then D's (no D is missing, but pandas'
     * dummy_na=True still adds D_nan). */
    static const char *names[] = {"A", "C", "B_x", "B_y", "B_z,w", "B_nan", "D_a", "D_b", "D_nan"};
    CU_ASSERT_EQUAL_FATAL(info.n_features, 9);
    CU_ASSERT_EQUAL(info.n_numeric, 2);
    for (int i = 0; i < 9; i++)
        CU_ASSERT_STRING_EQUAL(info.names[i], names[i]);
    CU_ASSERT_EQUAL(train.n, 3);
    CU_ASSERT_EQUAL(test.n, 2);
    CU_ASSERT_EQUAL(train.features, 9);
    CU_ASSERT_EQUAL(train.rank, 1);
    CU_ASSERT_EQUAL(train.dims[0], 9);
    CU_ASSERT_EQUAL(train.target_dim, 1);
    CU_ASSERT_PTR_NULL(train.labels);
    CU_ASSERT_PTR_NULL(test.targets);
    CU_ASSERT_EQUAL(train.targets[0], 100.0f);
    CU_ASSERT_EQUAL(train.targets[2], 300.0f);
    CU_ASSERT_STRING_EQUAL(info.id_name, "Id");
    CU_ASSERT_EQUAL(info.test_ids[0], 4);
    CU_ASSERT_EQUAL(info.test_ids[1], 5);

    /* A over train + test: 1, 2, 4, 5 -> mean 3, sample std sqrt(10 / 3). C: 10, 30, 50, 10 -> mean 25,
     * sample std sqrt(1100 / 3). Missing values become 0. */
    double sa = sqrt(10.0 / 3), sc = sqrt(1100.0 / 3);
    ASSERT_NEAR(info.mean[0], 3, 1e-12);
    ASSERT_NEAR(info.std[0], sa, 1e-12);
    ASSERT_NEAR(info.mean[1], 25, 1e-12);
    ASSERT_NEAR(info.std[1], sc, 1e-12);
    float expect_train[3][9] = {
        {(float)(-2 / sa), (float)(-15 / sc), 1, 0, 0, 0, 0, 1, 0},
        {(float)(-1 / sa), 0, 0, 1, 0, 0, 1, 0, 0},
        {0, (float)(5 / sc), 1, 0, 0, 0, 0, 1, 0},
    };
    float expect_test[2][9] = {
        {(float)(1 / sa), (float)(25 / sc), 0, 0, 0, 1, 1, 0, 0},
        {(float)(2 / sa), (float)(-15 / sc), 0, 0, 1, 0, 1, 0, 0},
    };
    for (int r = 0; r < 3; r++)
        for (int f = 0; f < 9; f++)
            ASSERT_NEAR(train.x[r * 9 + f], expect_train[r][f], 1e-6);
    for (int r = 0; r < 2; r++)
        for (int f = 0; f < 9; f++)
            ASSERT_NEAR(test.x[r * 9 + f], expect_test[r][f], 1e-6);
    dlrt_dataset_free(&train);
    dlrt_dataset_free(&test);
    dlrt_csv_info_free(&info);

    /* Population std, C declared categorical (its values sorted bytewise), a limit, no info wanted. */
    static const char *cat[] = {"C"};
    spec = (DlrtCsvSpec){.categorical = cat, .n_categorical = 1, .population_std = 1, .limit = 2};
    CU_ASSERT_EQUAL_FATAL(load_small(&spec, &train, &test, NULL, &err), DLRT_OK);
    CU_ASSERT_EQUAL(train.n, 2);
    CU_ASSERT_EQUAL(test.n, 2);
    CU_ASSERT_EQUAL(train.features, 1 + 4 + 4 + 3); /* A, B x4, C_10 C_30 C_50 C_nan, D x3 */
    ASSERT_NEAR(train.x[0], -2 / sqrt(10.0 / 4), 1e-6);
    /* train row 1: A, B_x B_y B_z,w B_nan, C_10 C_30 C_50 C_nan, D_a D_b D_nan */
    float row1[12] = {(float)(-1 / sqrt(2.5)), 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0};
    for (int f = 0; f < 12; f++)
        ASSERT_NEAR(train.x[12 + f], row1[f], 1e-6);
    dlrt_dataset_free(&train);
    dlrt_dataset_free(&test);

    /* A test set that has the target gets targets; a constant column standardises to 0; without an Id
     * column the ids are row numbers. */
    spit(tmp_path("train.csv"), "K,A,Price\n7,1,1\n7,NA,2\n");
    spit(tmp_path("test.csv"), "A,K,Price\n2,7,3\n");
    spec = (DlrtCsvSpec){0};
    CU_ASSERT_EQUAL_FATAL(load_small(&spec, &train, &test, &info, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "no column 'Id' to drop");
    spec = (DlrtCsvSpec){0};
    spec.train_path = tmp_path("train.csv");
    spec.test_path = tmp_path("test.csv");
    spec.target = "Price";
    CU_ASSERT_EQUAL_FATAL(dlrt_csv_load_house(&spec, &train, &test, &info, &err), DLRT_OK);
    CU_ASSERT_EQUAL(info.n_features, 2);
    CU_ASSERT_STRING_EQUAL(info.names[0], "K");
    CU_ASSERT_EQUAL(info.std[0], 0);
    CU_ASSERT_EQUAL(train.x[0], 0.0f);
    CU_ASSERT_EQUAL(test.x[0], 0.0f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(test.targets);
    CU_ASSERT_EQUAL(test.targets[0], 3.0f);
    CU_ASSERT_EQUAL(info.test_ids[0], 1);
    dlrt_dataset_free(&train);
    dlrt_dataset_free(&test);
    dlrt_csv_info_free(&info);

    /* Values near DBL_MAX: the sums must not overflow. 1e308, -1e308, 1e308 have mean 1e308 / 3 and sample
     * std 1e308 * sqrt(4 / 3), so z = 1 / sqrt(3), -2 / sqrt(3), 1 / sqrt(3). */
    spit(tmp_path("train.csv"), "A,Price\n1e308,1\n-1e308,2\n");
    spit(tmp_path("test.csv"), "A\n1e308\n");
    CU_ASSERT_EQUAL_FATAL(dlrt_csv_load_house(&spec, &train, &test, &info, &err), DLRT_OK);
    ASSERT_NEAR(train.x[0], 1 / sqrt(3), 1e-6);
    ASSERT_NEAR(train.x[1], -2 / sqrt(3), 1e-6);
    ASSERT_NEAR(test.x[0], 1 / sqrt(3), 1e-6);
    ASSERT_NEAR(info.mean[0] / 1e308, 1.0 / 3, 1e-12);
    ASSERT_NEAR(info.std[0] / 1e308, sqrt(4.0 / 3), 1e-12);
    dlrt_dataset_free(&train);
    dlrt_dataset_free(&test);
    dlrt_csv_info_free(&info);
}

static void test_preprocess_errors(void) {
    DlrtCsvSpec spec = {0};
    DlrtDataset train, test;
    DlrtCsvInfo info;
    DlrtError err = {{0}};

    spit(tmp_path("train.csv"), small_train);
    spit(tmp_path("test.csv"), "Id,D,C,B\n4,a,50,x\n");
    CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "test.csv has no column 'A', which");
    CU_ASSERT_PTR_NULL(train.x);
    CU_ASSERT_PTR_NULL(info.names);

    spit(tmp_path("test.csv"), "Id,D,C,B,A,E\n4,a,50,x,1,2\n");
    CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "test.csv:1: column 'E' is not in");

    spit(tmp_path("test.csv"), small_test);
    spit(tmp_path("train.csv"), "Id,A,B,C,D,Price\n1,1,x,10,b,100\n2,2,y,NA,a,NA\n");
    CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "train.csv:3: the target Price is missing");
    spit(tmp_path("train.csv"), "Id,A,B,C,D,Price\n1,1,x,10,b,100\n2,2,y,NA,a,cheap\n");
    CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "train.csv:3: the target Price is 'cheap', not a number");

    spit(tmp_path("train.csv"), "Id,A,B,C,D\n1,1,x,10,b\n");
    CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "no column 'Price' (the target)");

    spit(tmp_path("train.csv"), small_train);
    static const char *num[] = {"B"};
    spec = (DlrtCsvSpec){.numeric = num, .n_numeric = 1};
    CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "train.csv:2: column 'B' is declared numeric, but 'x' is not a number");
    static const char *bad[] = {"Price"};
    spec = (DlrtCsvSpec){.numeric = bad, .n_numeric = 1};
    CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_EINVAL);
    ASSERT_MSG_HAS(err, "'Price' is declared numeric but is not a feature column");

    spit(tmp_path("test.csv"), "Id,D,C,B,A\n4,a,50,NA,4\nx,a,10,y,5\n");
    spec = (DlrtCsvSpec){0};
    CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "test.csv:3: the id Id is 'x', not a whole number");

    spit(tmp_path("test.csv"), "Id,D,C,B,A\n4,a,50,NA\n");
    CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "test.csv:2: expected 5 fields (as in the header on line 1), found 4");
}

/* Silent wrong data: a value that only looks like a number in a column of numbers, a file with a header and no
 * rows, and (for a model scored by the log rmse) a target of 0 or below are refused, naming the row, the column
 * and the value; detection used to turn such a column categorical, or the log rmse became null. */
static void test_suspicious_values(void) {
    DlrtCsvSpec spec = {0};
    DlrtDataset train, test;
    DlrtCsvInfo info;
    DlrtError err = {{0}};
    static const char *const values[] = {"NaN", "inf", "-Infinity", "1e400", "0x10", "12abc", " nan "};
    spit(tmp_path("test.csv"), small_test);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char text[512], expected[256];
        snprintf(text, sizeof text, "Id,A,B,C,D,Price\n1,1,x,10,b,100\n2,2,y,%s,a,200\n3,NA,x,30,b,300\n", values[i]);
        spit(tmp_path("train.csv"), text);
        spec = (DlrtCsvSpec){0};
        err.msg[0] = '\0';
        CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_EFORMAT);
        snprintf(expected, sizeof expected, "train.csv:3: row 2, column 'C': '%s' is not a number", values[i]);
        ASSERT_MSG_HAS(err, expected);
        ASSERT_MSG_HAS(err, "the column's other values are (4 of them)"); /* 10, 30 and test's 50, 10 */
        CU_ASSERT_PTR_NULL(train.x);
        /* declared categorical, the column is what the user says */
        static const char *cat[] = {"C"};
        spec = (DlrtCsvSpec){.categorical = cat, .n_categorical = 1};
        CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_OK);
        dlrt_dataset_free(&train);
        dlrt_dataset_free(&test);
        dlrt_csv_info_free(&info);
    }
    /* ... in test.csv too */
    spit(tmp_path("train.csv"), small_train);
    spit(tmp_path("test.csv"), "Id,D,C,B,A\n4,a,50,NA,4\n5,a,10,z,0x5\n");
    spec = (DlrtCsvSpec){0};
    CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "test.csv:3: row 2, column 'A': '0x5' is not a number");
    /* a column without numbers stays categorical, digits or not (the Kaggle data's 1Fam, 2Story) */
    spit(tmp_path("test.csv"), "Id,D,C,B,A\n4,1Fam,50,NA,4\n5,2Story,10,z,5\n");
    spit(tmp_path("train.csv"), "Id,A,B,C,D,Price\n1,1,x,10,1Fam,100\n2,2,y,NA,2fmCon,200\n");
    CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_OK);
    CU_ASSERT(feature(&info, "D_1Fam") >= 0);
    dlrt_dataset_free(&train);
    dlrt_dataset_free(&test);
    dlrt_csv_info_free(&info);

    /* a header and no rows */
    spit(tmp_path("train.csv"), "Id,A,B,C,D,Price\n");
    CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "train.csv: a header (line 1) and no rows: there is nothing to train on");
    spit(tmp_path("train.csv"), small_train);
    spit(tmp_path("test.csv"), "\xef\xbb\xbfId,D,C,B,A\r\n\r\n");
    CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "test.csv: a header (line 1) and no rows: there is nothing to test or predict");

    /* targets the log rmse cannot take */
    spit(tmp_path("test.csv"), small_test);
    static const char *const prices[] = {"0", "-5", "0.0"};
    for (size_t i = 0; i < sizeof prices / sizeof prices[0]; i++) {
        char text[512], expected[256];
        snprintf(text, sizeof text, "Id,A,B,C,D,Price\n1,1,x,10,b,100\n2,2,y,NA,a,200\n3,NA,x,30,b,%s\n", prices[i]);
        spit(tmp_path("train.csv"), text);
        spec = (DlrtCsvSpec){.positive_target = 1};
        CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_EFORMAT);
        snprintf(expected, sizeof expected, "train.csv:4: row 3, column 'Price': the target is %s, but", prices[i]);
        ASSERT_MSG_HAS(err, expected);
        ASSERT_MSG_HAS(err, "log rmse, which needs targets above 0");
        spec = (DlrtCsvSpec){0}; /* a model scored otherwise takes it */
        CU_ASSERT_EQUAL(load_small(&spec, &train, &test, &info, &err), DLRT_OK);
        dlrt_dataset_free(&train);
        dlrt_dataset_free(&test);
        dlrt_csv_info_free(&info);
    }
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Submissions and k-fold                                                                                     */
/* ---------------------------------------------------------------------------------------------------------- */

static void test_submission(void) {
    DlrtError err = {{0}};
    int64_t ids[3] = {1461, 1462, 1463};
    float preds[3] = {119000.5f, 0.1f, 2e6f};
    CU_ASSERT_EQUAL_FATAL(dlrt_write_submission(tmp_path("sub.csv"), NULL, NULL, ids, preds, 3, &err), DLRT_OK);
    CU_ASSERT_STRING_EQUAL(slurp(tmp_path("sub.csv")), "Id,SalePrice\n1461,119000.5\n1462,0.100000001\n1463,2000000\n");
    CU_ASSERT_EQUAL_FATAL(dlrt_write_submission(tmp_path("sub.csv"), "Id", "Price, \"USD\"", ids, preds, 1, &err),
                          DLRT_OK);
    CU_ASSERT_STRING_EQUAL(slurp(tmp_path("sub.csv")), "Id,\"Price, \"\"USD\"\"\"\n1461,119000.5\n");
    /* It reads back with the CSV reader. */
    DlrtCsvTable t;
    CU_ASSERT_EQUAL_FATAL(dlrt_csv_read(tmp_path("sub.csv"), &t, &err), DLRT_OK);
    CU_ASSERT_STRING_EQUAL(t.names[1], "Price, \"USD\"");
    CU_ASSERT_EQUAL(t.numbers[1], 119000.5);
    dlrt_csv_free(&t);
    CU_ASSERT_EQUAL(dlrt_write_submission(tmp_path("no/such/dir.csv"), NULL, NULL, ids, preds, 3, &err), DLRT_EIO);
}

static void test_kfold(void) {
    DlrtError err = {{0}};
    DlrtDataset all = {.n = 11, .rank = 1, .dims = {2}, .features = 2, .target_dim = 1};
    float x[22], y[11];
    for (int i = 0; i < 11; i++) {
        x[2 * i] = (float)i;
        x[2 * i + 1] = (float)(100 + i);
        y[i] = (float)(1000 + i);
    }
    all.x = x;
    all.targets = y;
    DlrtDataset tr, va;
    /* The book's get_k_fold_data: fold_size = 11 // 5 = 2; fold 1 is rows 2, 3; train is rows 0, 1, 4 .. 9;
     * row 10 is in neither. */
    CU_ASSERT_EQUAL_FATAL(dlrt_kfold_split(&all, 5, 1, &tr, &va, &err), DLRT_OK);
    CU_ASSERT_EQUAL(va.n, 2);
    CU_ASSERT_EQUAL(tr.n, 8);
    CU_ASSERT_EQUAL(tr.features, 2);
    CU_ASSERT_PTR_NULL(tr.labels);
    CU_ASSERT_EQUAL(va.x[0], 2.0f);
    CU_ASSERT_EQUAL(va.x[3], 103.0f);
    CU_ASSERT_EQUAL(va.targets[1], 1003.0f);
    int rows[8] = {0, 1, 4, 5, 6, 7, 8, 9};
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_EQUAL(tr.x[2 * i], (float)rows[i]);
        CU_ASSERT_EQUAL(tr.x[2 * i + 1], (float)(100 + rows[i]));
        CU_ASSERT_EQUAL(tr.targets[i], (float)(1000 + rows[i]));
    }
    dlrt_dataset_free(&tr);
    dlrt_dataset_free(&va);

    /* Every fold of a labelled set: sizes, and the validation folds tile [0, k * fold_size). */
    int32_t labels[11];
    for (int i = 0; i < 11; i++)
        labels[i] = i;
    all.labels = labels;
    all.targets = NULL;
    all.target_dim = 0;
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL_FATAL(dlrt_kfold_split(&all, 3, i, &tr, &va, &err), DLRT_OK);
        CU_ASSERT_EQUAL(va.n, 3);
        CU_ASSERT_EQUAL(tr.n, 6);
        CU_ASSERT_PTR_NULL(tr.targets);
        CU_ASSERT_EQUAL(va.labels[0], 3 * i);
        CU_ASSERT_EQUAL(va.labels[2], 3 * i + 2);
        CU_ASSERT_EQUAL(tr.labels[0], i == 0 ? 3 : 0);
        dlrt_dataset_free(&tr);
        dlrt_dataset_free(&va);
    }
    CU_ASSERT_EQUAL(dlrt_kfold_split(&all, 1, 0, &tr, &va, &err), DLRT_EINVAL);
    ASSERT_MSG_HAS(err, "k = 1");
    CU_ASSERT_EQUAL(dlrt_kfold_split(&all, 5, 5, &tr, &va, &err), DLRT_EINVAL);
    CU_ASSERT_EQUAL(dlrt_kfold_split(&all, 12, 0, &tr, &va, &err), DLRT_EINVAL);
    CU_ASSERT_PTR_NULL(tr.x);
}

/* ---------------------------------------------------------------------------------------------------------- */
/* The Kaggle data                                                                                            */
/* ---------------------------------------------------------------------------------------------------------- */

#define HOUSE_DIR SOURCE_ROOT "/../shared/data/house-prices"

static void test_house_prices(void) {
    struct stat st;
    if (stat(HOUSE_DIR "/train.csv", &st) != 0 || stat(HOUSE_DIR "/test.csv", &st) != 0) {
        printf("skipped: %s/{train,test}.csv not found ", HOUSE_DIR);
        return;
    }
    static const char *drop[] = {"Id"};
    DlrtCsvSpec spec = {.train_path = HOUSE_DIR "/train.csv",
                        .test_path = HOUSE_DIR "/test.csv",
                        .target = "SalePrice",
                        .drop = drop,
                        .n_drop = 1};
    DlrtDataset train, test;
    DlrtCsvInfo info;
    DlrtError err = {{0}};
    int rc = dlrt_csv_load_house(&spec, &train, &test, &info, &err);
    if (rc)
        fprintf(stderr, "\n    %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, DLRT_OK);
    CU_ASSERT_EQUAL(train.n, 1460);
    CU_ASSERT_EQUAL(test.n, 1459);
    CU_ASSERT_EQUAL(info.n_features, 331); /* D2L: train_features.shape == (1460, 331) */
    CU_ASSERT_EQUAL(train.features, 331);
    CU_ASSERT_EQUAL(info.n_numeric, 36);
    CU_ASSERT_PTR_NULL(test.targets);
    CU_ASSERT_EQUAL(info.test_ids[0], 1461);
    CU_ASSERT_EQUAL(info.test_ids[1458], 2919);
    CU_ASSERT_EQUAL(train.targets[0], 208500.0f);
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < train.n; i++) {
        lo = fminf(lo, train.targets[i]);
        hi = fmaxf(hi, train.targets[i]);
    }
    CU_ASSERT_EQUAL(lo, 34900.0f);
    CU_ASSERT_EQUAL(hi, 755000.0f);

    int finite = 1;
    for (int64_t i = 0; i < train.n * 331; i++)
        finite &= isfinite(train.x[i]) != 0;
    for (int64_t i = 0; i < test.n * 331; i++)
        finite &= isfinite(test.x[i]) != 0;
    CU_ASSERT(finite);
    /* Standardised over train + test: mean 0 (a missing value, filled with 0, is the mean). */
    for (int64_t f = 0; f < info.n_numeric; f++) {
        double sum = 0;
        for (int64_t i = 0; i < train.n; i++)
            sum += train.x[i * 331 + f];
        for (int64_t i = 0; i < test.n; i++)
            sum += test.x[i * 331 + f];
        ASSERT_NEAR(sum / 2919, 0, 1e-6);
    }
    /* Every one-hot group has exactly one 1 per row: check the total. */
    double ones = 0;
    for (int64_t i = 0; i < train.n; i++)
        for (int64_t f = info.n_numeric; f < 331; f++)
            ones += train.x[i * 331 + f];
    CU_ASSERT_EQUAL(ones, 1460.0 * 43);

    /* Spot values from the independent reference (train rows 0, 7, 1459, then test rows 0, 1458). */
    CU_ASSERT_STRING_EQUAL(info.names[0], "MSSubClass");
    CU_ASSERT_STRING_EQUAL(info.names[36], "MSZoning_C (all)");
    CU_ASSERT_STRING_EQUAL(info.names[330], "SaleCondition_nan");
    struct {
        const char *name;
        double v[5];
    } spots[] = {
        {"MSSubClass",
         {0.06731987999872364, 0.06731987999872364, -0.8734663783676399, -0.8734663783676399, 0.06731987999872364}},
        {"LotFrontage", {-0.1844426168571564, 0.0, 0.24391638162839316, 0.4580958808711679, 0.2010804817798382}},
        {"LotArea",
         {-0.2178413684926929, 0.02711880544849354, -0.029303180785371866, 0.18433962102151175, -0.06860838467862641}},
        {"GarageYrBlt",
         {0.9731100780166216, -0.1999432575458032, -0.5127574803624498, -0.6691645917707731, 0.5820922994958133}},
        {"MasVnrArea",
         {0.5230383279069063, 0.7683902294799738, -0.5698928700094852, -0.5698928700094852, -0.04573198937611377}},
        {"MSZoning_RL", {1, 1, 1, 0, 1}},
        {"MSZoning_nan", {0, 0, 0, 0, 0}},
        {"PoolQC_nan", {1, 1, 1, 1, 1}},
    };
    for (size_t s = 0; s < sizeof spots / sizeof spots[0]; s++) {
        int64_t f = feature(&info, spots[s].name);
        CU_ASSERT_FATAL(f >= 0);
        ASSERT_NEAR(train.x[0 * 331 + f], spots[s].v[0], 1e-6);
        ASSERT_NEAR(train.x[7 * 331 + f], spots[s].v[1], 1e-6);
        ASSERT_NEAR(train.x[1459 * 331 + f], spots[s].v[2], 1e-6);
        ASSERT_NEAR(test.x[0 * 331 + f], spots[s].v[3], 1e-6);
        ASSERT_NEAR(test.x[1458 * 331 + f], spots[s].v[4], 1e-6);
    }

    /* Five folds of the book: 1460 // 5 = 292 rows each, nothing left over. */
    DlrtDataset tr, va;
    CU_ASSERT_EQUAL_FATAL(dlrt_kfold_split(&train, 5, 4, &tr, &va, &err), DLRT_OK);
    CU_ASSERT_EQUAL(tr.n, 1168);
    CU_ASSERT_EQUAL(va.n, 292);
    CU_ASSERT_EQUAL(va.targets[291], train.targets[1459]);
    dlrt_dataset_free(&tr);
    dlrt_dataset_free(&va);

    CU_ASSERT_EQUAL(dlrt_write_submission(tmp_path("submission.csv"), info.id_name, spec.target, info.test_ids,
                                          train.targets, test.n, &err),
                    DLRT_OK);
    dlrt_dataset_free(&train);
    dlrt_dataset_free(&test);
    dlrt_csv_info_free(&info);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "%s/dlrt-csv-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("csv", NULL, NULL);
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"parse fields", test_parse_fields},
        {"parse errors", test_parse_errors},
        {"numeric detection", test_numeric_detection},
        {"preprocess small", test_preprocess_small},
        {"preprocess errors", test_preprocess_errors},
        {"suspicious values", test_suspicious_values},
        {"submission", test_submission},
        {"kfold", test_kfold},
        {"house prices", test_house_prices},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        CU_add_test(s, tests[i].name, tests[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (!failed && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return failed ? 1 : 0;
}
