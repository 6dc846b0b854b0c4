/* test_train.c - CUnit tests of the trainer driver (runtime/train*.c) through dlrt_train_run, with hand-written
 * descriptors of three tiny models whose functions are written here: a linear regression on data embedded in the
 * descriptor, the same model on a CSV table (k-fold and submissions), and a classifier of 28 x 28 images on IDX
 * files the suite writes (pictures and --predict). The model functions record what the driver asked of them
 * (seed, largest batch, learning rate, steps), so the tests check that flags reach the model, not only that the
 * run printed something. The generated zoo trainers are covered as programs by test_trainer and test_parity. */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dlrt.h"

static char tmpdir[256];

static char *path(const char *name) {
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static char *slurp(const char *file) {
    FILE *f = fopen(file, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

static void spit(const char *file, const void *data, size_t len) {
    FILE *f = fopen(file, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fwrite(data, 1, len, f) == len);
    fclose(f);
}

static int count(const char *s, const char *sub) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)) != NULL; p++)
        n++;
    return n;
}

#define ASSERT_HAS(text, sub)                                                                                          \
    do {                                                                                                               \
        int found_ = (text) && strstr((text), (sub)) != NULL;                                                          \
        if (!found_)                                                                                                   \
            fprintf(stderr, "\n    expected \"%s\" in: %s\n", (sub), (text) ? (text) : "(null)");                      \
        CU_ASSERT(found_);                                                                                             \
    } while (0)

/* ---------------------------------------------------------------------------------------------------------- */
/* What the model functions were asked to do                                                                  */
/* ---------------------------------------------------------------------------------------------------------- */

static struct {
    uint64_t seed; /* the last init's */
    int inits;
    int max_n; /* the largest batch forward_train saw */
    float lr;  /* the last step's */
    int steps;
} rec;

/* ---------------------------------------------------------------------------------------------------------- */
/* A linear regression y = w . x + b with momentum, and a log_rmse metric                                     */
/* ---------------------------------------------------------------------------------------------------------- */

enum { MAXB = 16 };

typedef struct {
    float w[2], b;
    float vw[2], vb; /* momentum: optimizer state that checkpoints carry */
    float gw[2], gb;
    float out[MAXB];
    uint64_t step;
} Lin;

static const int64_t dims_w[1] = {2}, dims_b[1] = {1};

static DlrtParam lin_param(int i) {
    if (i == 0)
        return (DlrtParam){"w", 1, dims_w, offsetof(Lin, w), {offsetof(Lin, vw), -1}};
    return (DlrtParam){"b", 1, dims_b, offsetof(Lin, b), {offsetof(Lin, vb), -1}};
}

static void lin_init(void *state, uint64_t seed) {
    Lin *s = state;
    memset(s, 0, sizeof *s);
    s->w[0] = 0.125f * (float)(seed % 5);
    rec.seed = seed;
    rec.inits++;
}

static int lin_forward(void *state, int n, const float *x) {
    Lin *s = state;
    for (int i = 0; i < n; i++)
        s->out[i] = s->w[0] * x[2 * i] + s->w[1] * x[2 * i + 1] + s->b;
    return 0;
}

/* Half the mean squared error; metrics[0] sums the squared log errors (predictions clamped at 1, as D2L does). */
static float lin_loss(Lin *s, int n, const float *x, const float *y, double *metrics) {
    lin_forward(s, n, x);
    double loss = 0, sle = 0;
    for (int i = 0; i < n; i++) {
        double d = (double)s->out[i] - y[i], l = log(fmax(s->out[i], 1)) - log(fmax(y[i], 1));
        loss += d * d / 2;
        sle += l * l;
    }
    if (metrics)
        metrics[0] = sle;
    return (float)(loss / n);
}

static float lin_forward_train(void *state, int n, const float *x, const float *y, double *metrics) {
    rec.max_n = n > rec.max_n ? n : rec.max_n;
    return lin_loss(state, n, x, y, metrics);
}

static int lin_backward(void *state, int n, const float *x, const float *y) {
    Lin *s = state;
    s->gw[0] = s->gw[1] = s->gb = 0;
    for (int i = 0; i < n; i++) {
        float d = s->out[i] - y[i];
        s->gw[0] += d * x[2 * i] / (float)n;
        s->gw[1] += d * x[2 * i + 1] / (float)n;
        s->gb += d / (float)n;
    }
    return 0;
}

static void lin_step(void *state, float lr) {
    Lin *s = state;
    for (int k = 0; k < 2; k++) {
        s->vw[k] = 0.5f * s->vw[k] + s->gw[k];
        s->w[k] -= lr * s->vw[k];
    }
    s->vb = 0.5f * s->vb + s->gb;
    s->b -= lr * s->vb;
    s->step++;
    rec.lr = lr;
    rec.steps++;
}

static float lin_evaluate(void *state, int n, const float *x, const float *y, double *metrics) {
    return lin_loss(state, n, x, y, metrics);
}

static uint64_t *lin_step_counter(void *state) { return &((Lin *)state)->step; }

static const float *lin_output(const void *state) { return ((const Lin *)state)->out; }

/* y = 2 x0 - 3 x1 + 1 at ten points */
static const float lin_x[20] = {0, 0, 1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 2, 1, 1, 2, 0.5f, 0.5f, 1.5f, 0.25f};
static const float lin_y[10] = {1, 3, -2, 0, 5, -5, 2, -3, 0.5f, 3.25f};

static const DlrtModel linear = {
    .name = "linear",
    .dlc_version = "test",
    .x_size = 2,
    .y_size = 1,
    .x_name = "x",
    .n_metrics = 0,
    .accuracy_metric = -1,
    .log_rmse_metric = -1,
    .max_batch = MAXB,
    .state_bytes = sizeof(Lin),
    .n_params = 2,
    .param = lin_param,
    .optim_names = {"momentum", NULL},
    .init = lin_init,
    .targets = {.forward_train = lin_forward_train, .backward = lin_backward, .evaluate = lin_evaluate},
    .step = lin_step,
    .step_counter = lin_step_counter,
    .epochs = 3,
    .batch = 4,
    .lr = 0.05,
    .seed = 7,
    .data = {.kind = DLRT_DATA_TENSORS, .tensors = {.x = lin_x, .y = lin_y, .n = 10}},
};

/* The same model on a CSV table (columns Id, A, B, Price; test.csv without Price), scored by log_rmse. */
static const char *const house_drop[1] = {"Id"};

static DlrtModel houses(void) {
    DlrtModel m = linear;
    m.name = "houses";
    m.n_metrics = 1;
    m.log_rmse_metric = 0;
    m.forward = lin_forward;
    m.output = lin_output;
    m.lr = 0.01;
    m.data = (DlrtDataSpec){
        .kind = DLRT_DATA_CSV,
        .csv = {.train = "train.csv", .test = "test.csv", .target = "Price", .drop = house_drop, .n_drop = 1}};
    m.kfold = 1;
    m.submission = 1;
    return m;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* A classifier of 28 x 28 images: logits_k = w_k * mean(x) + b_k, softmax cross-entropy, an accuracy metric    */
/* ---------------------------------------------------------------------------------------------------------- */

enum { SIDE = 28, PIXELS = SIDE * SIDE, CLASSES = 10 };

typedef struct {
    float w[CLASSES], b[CLASSES];
    float gw[CLASSES], gb[CLASSES];
    float logits[MAXB * CLASSES];
    uint64_t step;
} Cls;

static const int64_t dims_cls[1] = {CLASSES};

static DlrtParam cls_param(int i) {
    return (DlrtParam){i ? "b" : "w", 1, dims_cls, i ? offsetof(Cls, b) : offsetof(Cls, w), {-1, -1}};
}

static void cls_init(void *state, uint64_t seed) {
    Cls *s = state;
    memset(s, 0, sizeof *s);
    for (int k = 0; k < CLASSES; k++)
        s->w[k] = 0.1f * (float)k;
    rec.seed = seed;
    rec.inits++;
}

static float mean_pixel(const float *x) {
    float sum = 0;
    for (int p = 0; p < PIXELS; p++)
        sum += x[p];
    return sum / PIXELS;
}

static int cls_forward(void *state, int n, const float *x) {
    Cls *s = state;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < CLASSES; k++)
            s->logits[i * CLASSES + k] = s->w[k] * mean_pixel(x + i * PIXELS) + s->b[k];
    return 0;
}

/* Softmax of example i's logits into p. */
static void softmax(const Cls *s, int i, double *p) {
    double mx = s->logits[i * CLASSES], sum = 0;
    for (int k = 1; k < CLASSES; k++)
        mx = fmax(mx, s->logits[i * CLASSES + k]);
    for (int k = 0; k < CLASSES; k++)
        sum += p[k] = exp(s->logits[i * CLASSES + k] - mx);
    for (int k = 0; k < CLASSES; k++)
        p[k] /= sum;
}

static float cls_loss(void *state, int n, const float *x, const int32_t *y, double *metrics) {
    Cls *s = state;
    cls_forward(s, n, x);
    double loss = 0, correct = 0;
    for (int i = 0; i < n; i++) {
        double p[CLASSES];
        softmax(s, i, p);
        loss -= log(p[y[i]]);
        correct += dlrt_argmax(s->logits + i * CLASSES, CLASSES) == y[i];
    }
    if (metrics)
        metrics[0] = correct;
    return (float)(loss / n);
}

static float cls_forward_train(void *state, int n, const float *x, const int32_t *y, double *metrics) {
    rec.max_n = n > rec.max_n ? n : rec.max_n;
    return cls_loss(state, n, x, y, metrics);
}

static int cls_backward(void *state, int n, const float *x, const int32_t *y) {
    Cls *s = state;
    memset(s->gw, 0, sizeof s->gw);
    memset(s->gb, 0, sizeof s->gb);
    for (int i = 0; i < n; i++) {
        double p[CLASSES];
        softmax(s, i, p);
        for (int k = 0; k < CLASSES; k++) {
            float d = (float)(p[k] - (k == y[i])) / (float)n;
            s->gw[k] += d * mean_pixel(x + i * PIXELS);
            s->gb[k] += d;
        }
    }
    return 0;
}

static void cls_step(void *state, float lr) {
    Cls *s = state;
    for (int k = 0; k < CLASSES; k++) {
        s->w[k] -= lr * s->gw[k];
        s->b[k] -= lr * s->gb[k];
    }
    s->step++;
    rec.lr = lr;
    rec.steps++;
}

static uint64_t *cls_step_counter(void *state) { return &((Cls *)state)->step; }

static const float *cls_output(const void *state) { return ((const Cls *)state)->logits; }

static const DlrtModel classifier = {
    .name = "classifier",
    .dlc_version = "test",
    .x_size = PIXELS,
    .y_size = 1,
    .x_name = "image",
    .n_metrics = 1,
    .accuracy_metric = 0,
    .log_rmse_metric = -1,
    .max_batch = MAXB,
    .state_bytes = sizeof(Cls),
    .n_params = 2,
    .param = cls_param,
    .init = cls_init,
    .labels = {.forward_train = cls_forward_train, .backward = cls_backward, .evaluate = cls_loss},
    .step = cls_step,
    .step_counter = cls_step_counter,
    .forward = cls_forward,
    .output = cls_output,
    .epochs = 1,
    .batch = 8,
    .lr = 0.5,
    .seed = 1,
    .data = {.kind = DLRT_DATA_FASHION_MNIST},
    .images = 1,
};

/* ---------------------------------------------------------------------------------------------------------- */
/* Running the trainer                                                                                        */
/* ---------------------------------------------------------------------------------------------------------- */

typedef struct {
    int status;
    char *out, *err;
} Run;

static char *read_back(FILE *f) {
    fflush(f);
    long n = ftell(f);
    char *s = malloc((size_t)n + 1);
    rewind(f);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

/* dlrt_train_run(model) with argv[0] "<name>-train" and the space-separated words of args (printf-style). */
static Run train(const DlrtModel *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static Run train(const DlrtModel *m, const char *fmt, ...) {
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char prog[64], *argv[64];
    snprintf(prog, sizeof prog, "%s-train", m->name);
    int argc = 0;
    argv[argc++] = prog;
    for (char *w = strtok(line, " "); w && argc < 63; w = strtok(NULL, " "))
        argv[argc++] = w;
    argv[argc] = NULL;
    FILE *out = tmpfile(), *err = tmpfile();
    CU_ASSERT_FATAL(out && err);
    memset(&rec, 0, sizeof rec);
    Run r = {.status = dlrt_train_run(m, argc, argv, out, err)};
    r.out = read_back(out);
    r.err = read_back(err);
    return r;
}

static void done(Run *r) {
    free(r->out);
    free(r->err);
}

static int lines(const char *file) {
    char *s = slurp(file);
    int n = s ? count(s, "\n") : -1;
    free(s);
    return n;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Tests                                                                                                      */
/* ---------------------------------------------------------------------------------------------------------- */

static void test_defaults(void) {
    Run r = train(&linear, "--metrics %s", path("defaults.csv"));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    CU_ASSERT_EQUAL(rec.seed, 7);
    CU_ASSERT_EQUAL(rec.max_n, 4);
    CU_ASSERT_EQUAL(rec.lr, 0.05f);
    CU_ASSERT_EQUAL(rec.steps, 3 * 3); /* 3 epochs of 10 examples in batches of 4 */
    CU_ASSERT_EQUAL(count(r.out, "epoch "), 3);
    ASSERT_HAS(r.out, "epoch 3/3  train_loss ");
    CU_ASSERT_EQUAL(lines(path("defaults.csv")), 1 + 3);
    done(&r);
}

static void test_flag_overrides(void) {
    Run r = train(&linear, "--epochs 2 --batch 3 --lr 0.5 --seed=9 --limit 7 --metrics %s", path("flags.csv"));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_EQUAL(rec.seed, 9);
    CU_ASSERT_EQUAL(rec.max_n, 3);
    CU_ASSERT_EQUAL(rec.lr, 0.5f);
    CU_ASSERT_EQUAL(rec.steps, 2 * 3); /* --limit 7: batches of 3, 3 and 1 */
    CU_ASSERT_EQUAL(lines(path("flags.csv")), 1 + 2);
    ASSERT_HAS(r.out, "epoch 2/2 ");
    done(&r);
    r = train(&linear, "--epochs 1 --quiet");
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    done(&r);
}

static void test_resume(void) {
    const char *a = path("resume-a.ckpt");
    Run r = train(&linear, "--epochs 2 --save %s", a);
    CU_ASSERT_EQUAL(r.status, 0);
    done(&r);
    /* --epochs counts the total: the run continues with epochs 3 to 5 and the step counter goes on */
    r = train(&linear, "--epochs 5 --resume %s --save %s --metrics %s", a, a, path("resume.csv"));
    CU_ASSERT_EQUAL(r.status, 0);
    ASSERT_HAS(r.out, "after epoch 2 (step 6)");
    CU_ASSERT_EQUAL(count(r.out, "epoch "), 1 + 3);
    ASSERT_HAS(r.out, "epoch 3/5");
    CU_ASSERT_PTR_NULL(strstr(r.out, "epoch 2/5"));
    CU_ASSERT_EQUAL(rec.steps, 3 * 3);
    char *csv = slurp(path("resume.csv"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
    CU_ASSERT_EQUAL(count(csv, "\n"), 1 + 3);
    ASSERT_HAS(csv, "\n3,");
    ASSERT_HAS(csv, "\n5,");
    free(csv);
    done(&r);
    /* an uninterrupted run ends with the same bytes */
    const char *b = path("resume-b.ckpt");
    r = train(&linear, "--epochs 5 --save %s", b);
    CU_ASSERT_EQUAL(r.status, 0);
    done(&r);
    char *ca = slurp(a), *cb = slurp(b);
    struct stat sa, sb;
    CU_ASSERT_FATAL(ca && cb && stat(a, &sa) == 0 && stat(b, &sb) == 0);
    CU_ASSERT(sa.st_size == sb.st_size && memcmp(ca, cb, (size_t)sa.st_size) == 0);
    free(ca);
    free(cb);
    /* asking for fewer epochs than the checkpoint has trains nothing and scores what was loaded */
    r = train(&linear, "--epochs 4 --resume %s", a);
    CU_ASSERT_EQUAL(r.status, 0);
    ASSERT_HAS(r.out, "nothing to train: the checkpoint has 5 epochs and --epochs asks for 4");
    CU_ASSERT_EQUAL(rec.steps, 0);
    done(&r);
}

/* Bad usage: status 2, a message naming the flag, and nothing run. */
static void test_usage(void) {
    static const struct {
        const char *args, *message;
    } cases[] = {
        {"--epochs many", "--epochs expects a non-negative integer, got 'many'"},
        {"--batch 17", "--batch 17 is outside 1..16"},
        {"--lr -1", "--lr expects a positive number"},
        {"--frobnicate", "unknown option '--frobnicate'"},
        {"--epoch 3", "unknown option '--epoch'; did you mean '--epochs'?"},
        {"--seed", "--seed needs a value"},
        {"stray", "unexpected argument 'stray'"},
        {"--load x --resume y", "--load x and --resume y conflict"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Run r = train(&linear, "%s", cases[i].args);
        CU_ASSERT_EQUAL(r.status, 2);
        ASSERT_HAS(r.err, cases[i].message);
        ASSERT_HAS(r.err, "linear-train: ");
        CU_ASSERT_STRING_EQUAL(r.out, "");
        CU_ASSERT_EQUAL(rec.inits, 0);
        done(&r);
    }
    Run r = train(&linear, "--help");
    CU_ASSERT_EQUAL(r.status, 0);
    ASSERT_HAS(r.out, "usage: linear-train [flags]");
    ASSERT_HAS(r.out, "(default 3)");
    ASSERT_HAS(r.out, "(default 0.05)");
    ASSERT_HAS(r.out, "--version");
    CU_ASSERT_EQUAL(rec.inits, 0);
    done(&r);
    r = train(&linear, "--version");
    CU_ASSERT_EQUAL(r.status, 0);
    ASSERT_HAS(r.out, "linear-train: generated by dlc test from linear.dlm");
    CU_ASSERT_EQUAL(rec.inits, 0);
    done(&r);
}

/* Flags the model does not offer are refused before anything runs. */
static void test_refusals(void) {
    static const struct {
        const char *args, *message;
    } cases[] = {
        {"--kfold 2", "--kfold needs a model trained on CSV data with a log_rmse metric; linear is not"},
        {"--submission s.csv", "--submission needs a model trained on CSV data"},
        {"--predict a.png", "--predict, --show-samples and --show-predictions need a model that classifies"},
        {"--show-samples a.png", "need a model that classifies Fashion-MNIST images; linear does not"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Run r = train(&linear, "%s", cases[i].args);
        CU_ASSERT_EQUAL(r.status, 2);
        ASSERT_HAS(r.err, cases[i].message);
        CU_ASSERT_EQUAL(rec.inits, 0);
        done(&r);
    }
}

static int has_key(const char *json, const char *key) {
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\":", key);
    return strstr(json, quoted) != NULL;
}

static void test_report(void) {
    Run r = train(&linear, "--epochs 2 --report %s", path("linear.json"));
    CU_ASSERT_EQUAL(r.status, 0);
    done(&r);
    char *json = slurp(path("linear.json"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    static const char *const keys[] = {"model",   "epochs",         "train_loss", "test_loss", "examples_per_second",
                                       "seconds", "peak_rss_bytes", "parameters"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        CU_ASSERT(has_key(json, keys[i]));
    CU_ASSERT(!has_key(json, "train_acc") && !has_key(json, "test_acc") && !has_key(json, "kfold"));
    ASSERT_HAS(json, "\"model\": \"linear\"");
    ASSERT_HAS(json, "\"epochs\": 2");
    ASSERT_HAS(json, "\"test_loss\": null"); /* tensors(...) data has no test set */
    ASSERT_HAS(json, "\"w\": [");
    free(json);
}

/* A loss that stops being a number ends the run before the update, naming the last good checkpoint. */
static void test_diverged(void) {
    Run r = train(&linear, "--epochs 3 --lr 1e30 --save %s", path("diverged.ckpt"));
    CU_ASSERT_EQUAL(r.status, 1);
    ASSERT_HAS(r.err, "linear-train: the loss became ");
    ASSERT_HAS(r.err, "with learning rate 1e+30; stopped before the update");
    ASSERT_HAS(r.err, "the last good checkpoint, from ");
    done(&r);
}

static void write_houses(void) {
    mkdir(path("houses"), 0700);
    char train_csv[4096] = "Id,A,B,Price\n", test_csv[1024] = "Id,A,B\n";
    for (int i = 0; i < 30; i++) {
        size_t len = strlen(train_csv);
        snprintf(train_csv + len, sizeof train_csv - len, "%d,%d,%d,%d\n", i + 1, i % 7, i % 3,
                 100 + 10 * (i % 7) + 5 * (i % 3));
    }
    for (int i = 0; i < 5; i++) {
        size_t len = strlen(test_csv);
        snprintf(test_csv + len, sizeof test_csv - len, "%d,%d,%d\n", 101 + i, i, i % 3);
    }
    spit(path("houses/train.csv"), train_csv, strlen(train_csv));
    spit(path("houses/test.csv"), test_csv, strlen(test_csv));
}

static void test_kfold_and_submission(void) {
    DlrtModel m = houses();
    write_houses();
    char data[512];
    snprintf(data, sizeof data, "%s", path("houses"));
    Run r = train(&m, "--data %s --kfold 3 --epochs 2 --submission %s --report %s", data, path("sub.csv"),
                  path("houses.json"));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    ASSERT_HAS(r.out, "fold 1: train log rmse ");
    ASSERT_HAS(r.out, "fold 3: train log rmse ");
    ASSERT_HAS(r.out, "3-fold validation: avg train log rmse ");
    ASSERT_HAS(r.out, "wrote 5 predictions to ");
    CU_ASSERT_EQUAL(rec.inits, 3 + 1); /* every fold starts from the seed, then the run on all the data */
    char *sub = slurp(path("sub.csv")), *json = slurp(path("houses.json"));
    CU_ASSERT_FATAL(sub && json);
    CU_ASSERT_EQUAL(strncmp(sub, "Id,Price\n101,", 13), 0);
    CU_ASSERT_EQUAL(count(sub, "\n"), 1 + 5);
    CU_ASSERT(has_key(json, "kfold"));
    CU_ASSERT_EQUAL(count(json, "valid_log_rmse"), 3 + 1);
    free(sub);
    free(json);
    done(&r);
    r = train(&m, "--data %s --kfold 31 --epochs 1", data);
    CU_ASSERT_EQUAL(r.status, 2);
    ASSERT_HAS(r.err, "--kfold 31 needs at least 31 training examples; the data has 30");
    done(&r);
    r = train(&m, "--data %s/missing --epochs 1", data);
    CU_ASSERT_EQUAL(r.status, 1);
    ASSERT_HAS(r.err, "missing/train.csv");
    done(&r);
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* IDX images of class k are uniformly bright in proportion to k. */
static void write_split(const char *images, const char *labels, uint32_t n) {
    size_t isize = 16 + (size_t)n * PIXELS, lsize = 8 + n;
    unsigned char *img = calloc(1, isize), *lab = calloc(1, lsize);
    put_be32(img, 0x803);
    put_be32(img + 4, n);
    put_be32(img + 8, SIDE);
    put_be32(img + 12, SIDE);
    put_be32(lab, 0x801);
    put_be32(lab + 4, n);
    for (uint32_t i = 0; i < n; i++) {
        lab[8 + i] = (unsigned char)(i % CLASSES);
        memset(img + 16 + (size_t)i * PIXELS, (int)(20 * (i % CLASSES)), PIXELS);
    }
    spit(path(images), img, isize);
    spit(path(labels), lab, lsize);
    free(img);
    free(lab);
}

static int is_png(const char *file) {
    char *s = slurp(file);
    int yes = s && memcmp(s, "\x89PNG", 4) == 0;
    free(s);
    return yes;
}

static void test_pictures_and_predict(void) {
    mkdir(path("fm"), 0700);
    write_split("fm/train-images-idx3-ubyte", "fm/train-labels-idx1-ubyte", 40);
    write_split("fm/t10k-images-idx3-ubyte", "fm/t10k-labels-idx1-ubyte", 20);
    char data[512], ckpt[512], test_images[512];
    snprintf(data, sizeof data, "%s", path("fm"));
    snprintf(ckpt, sizeof ckpt, "%s", path("classifier.ckpt"));
    snprintf(test_images, sizeof test_images, "%s", path("fm/t10k-images-idx3-ubyte"));
    Run r = train(&classifier, "--data %s --epochs 2 --save %s --show-samples %s --show-predictions %s --report %s",
                  data, ckpt, path("samples.png"), path("predictions.png"), path("classifier.json"));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    ASSERT_HAS(r.out, "train_acc ");
    ASSERT_HAS(r.out, "test_acc ");
    CU_ASSERT(is_png(path("samples.png")));
    CU_ASSERT(is_png(path("predictions.png")));
    char *json = slurp(path("classifier.json"));
    CU_ASSERT_FATAL(json != NULL);
    CU_ASSERT(has_key(json, "train_acc") && has_key(json, "test_acc"));
    free(json);
    done(&r);
    /* with loaded weights and no --epochs, --predict only predicts: no training, no data */
    r = train(&classifier, "--load %s --predict %s %s", ckpt, test_images, path("none.png"));
    CU_ASSERT_EQUAL(r.status, 1);
    ASSERT_HAS(r.out, "loaded the weights of ");
    CU_ASSERT_EQUAL(count(r.out, "t10k-images-idx3-ubyte["), 20);
    CU_ASSERT_EQUAL(count(r.out, ","), 2 * 20); /* three classes a line */
    ASSERT_HAS(r.err, "none.png");
    CU_ASSERT_EQUAL(rec.steps, 0);
    done(&r);
}

/* Two outputs that are one file, or an output that is an input, are refused before anything runs (the report
 * used to be renamed over the checkpoint at the end of the run); --save F --resume F continues a run in place. */
static void test_output_collisions(void) {
    char ckpt[512], same[512], link[512], other[512];
    snprintf(ckpt, sizeof ckpt, "%s", path("collide.ckpt"));
    snprintf(same, sizeof same, "%s/./collide.ckpt", tmpdir);
    snprintf(link, sizeof link, "%s", path("collide.link"));
    snprintf(other, sizeof other, "%s", path("collide.json"));
    Run r = train(&linear, "--epochs 1 --save %s", ckpt);
    CU_ASSERT_EQUAL_FATAL(r.status, 0);
    done(&r);
    char *before = slurp(ckpt);
    CU_ASSERT_FATAL(before != NULL && symlink(ckpt, link) == 0);
    static const struct {
        const char *fmt, *message;
    } cases[] = {
        {"--save %s --report %s", "--save %s and --report %s are the same file"},
        {"--metrics %s --plot %s", "--metrics %s and --plot %s are the same file"},
        {"--load %s --report %s", "--report %s is also an input (--load %s)"},
        {"--resume %s --metrics %s", "--metrics %s is also an input (--resume %s)"},
        {"--load %s --save %s", "--save %s is also an input (--load %s)"},
    };
    const char *spellings[][2] = {{ckpt, ckpt}, {ckpt, same}, {link, ckpt}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t k = 0; k < sizeof spellings / sizeof spellings[0]; k++) {
            const char *p0 = spellings[k][0], *p1 = spellings[k][1];
            r = train(&linear, cases[i].fmt, p0, p1);
            CU_ASSERT_EQUAL(r.status, 2);
            char message[2048];
            if (strncmp(cases[i].fmt, "--load", 6) == 0 || strncmp(cases[i].fmt, "--resume", 8) == 0)
                snprintf(message, sizeof message, cases[i].message, p1, p0);
            else
                snprintf(message, sizeof message, cases[i].message, p0, p1);
            ASSERT_HAS(r.err, message);
            CU_ASSERT_EQUAL(rec.inits, 0);
            done(&r);
        }
    char *after = slurp(ckpt);
    CU_ASSERT(after != NULL && strcmp(before, after) == 0); /* the checkpoint is still the checkpoint */
    free(before);
    free(after);
    /* an output onto a data file */
    DlrtModel m = houses();
    write_houses();
    r = train(&m, "--data %s --epochs 1 --submission %s", path("houses"), path("houses/test.csv"));
    CU_ASSERT_EQUAL(r.status, 2);
    ASSERT_HAS(r.err, "houses/test.csv is also an input (--data ");
    done(&r);
    r = train(&classifier, "--load %s --predict %s --report %s", ckpt, other, other);
    CU_ASSERT_EQUAL(r.status, 2);
    ASSERT_HAS(r.err, "is also an input (--predict ");
    done(&r);
    /* continuing a run in place */
    r = train(&linear, "--epochs 2 --resume %s --save %s --report %s", link, ckpt, other);
    CU_ASSERT_EQUAL(r.status, 0);
    ASSERT_HAS(r.out, "after epoch 1");
    done(&r);
}

/* Every output is checked before the data is read and the first epoch runs: a missing folder, a directory or a
 * place that is not a folder ends the run at once, naming the flag and the file. */
static void test_outputs_checked_first(void) {
    static const char *const flags[] = {"--report", "--metrics", "--plot", "--save"};
    mkdir(path("adir"), 0700);
    spit(path("plain"), "x", 1);
    struct {
        const char *file, *message;
    } places[] = {
        {path("nowhere/out"), "nowhere does not exist"},
        {path("adir"), "adir: cannot write: it is a directory"},
        {path("plain/out"), "plain is not a folder"},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        for (size_t k = 0; k < sizeof places / sizeof places[0]; k++) {
            Run r = train(&linear, "--epochs 2 %s %s", flags[i], places[k].file);
            CU_ASSERT_EQUAL(r.status, 1);
            ASSERT_HAS(r.err, flags[i]);
            ASSERT_HAS(r.err, places[k].message);
            CU_ASSERT_EQUAL(rec.steps, 0);
            CU_ASSERT_STRING_EQUAL(r.out, "");
            done(&r);
        }
    /* the picture flags too, before the data is read */
    Run r = train(&classifier, "--data %s --show-predictions %s", path("no-data-here"), path("nowhere/p.png"));
    CU_ASSERT_EQUAL(r.status, 1);
    ASSERT_HAS(r.err, "--show-predictions");
    CU_ASSERT_PTR_NULL(strstr(r.err, "Fashion-MNIST not found"));
    done(&r);
}

/* --save onto a symbolic link replaces the link's target and leaves the link a link; a file name of 250
 * characters works (the temporary name made from it must stay within NAME_MAX). */
static void test_save_names(void) {
    char target[512], link[512], longname[512];
    snprintf(target, sizeof target, "%s", path("target.ckpt"));
    snprintf(link, sizeof link, "%s", path("via.link"));
    spit(target, "old", 3);
    CU_ASSERT_FATAL(symlink("target.ckpt", link) == 0); /* relative, as links usually are */
    Run r = train(&linear, "--epochs 1 --save %s", link);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    done(&r);
    struct stat st;
    CU_ASSERT(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    char *ck = slurp(target);
    CU_ASSERT(ck != NULL && memcmp(ck,
                                   "\x89"
                                   "DLCKPT",
                                   7) == 0);
    free(ck);
    r = train(&linear, "--epochs 2 --resume %s --save %s", link, link);
    CU_ASSERT_EQUAL(r.status, 0);
    ASSERT_HAS(r.out, "after epoch 1");
    done(&r);
    CU_ASSERT(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    char name[251];
    memset(name, 'n', 250);
    name[250] = '\0';
    snprintf(longname, sizeof longname, "%s/%s", tmpdir, name);
    r = train(&linear, "--epochs 1 --save %s --report %s.json", longname, path("long"));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    done(&r);
    CU_ASSERT(stat(longname, &st) == 0 && st.st_size > 32);
}

/* A model scored by the log rmse refuses a target of 0 or below (it used to train and report "train_loss":
 * null), and a value that only looks like a number is named rather than turning its column categorical. */
static void test_csv_data_errors(void) {
    DlrtModel m = houses();
    mkdir(path("bad-houses"), 0700);
    spit(path("bad-houses/test.csv"), "Id,A,B\n101,1,2\n", 15);
    const char *zero = "Id,A,B,Price\n1,1,2,150\n2,3,1,0\n3,2,2,170\n";
    spit(path("bad-houses/train.csv"), zero, strlen(zero));
    Run r = train(&m, "--data %s --epochs 1 --report %s", path("bad-houses"), path("bad-houses.json"));
    CU_ASSERT_EQUAL(r.status, 1);
    ASSERT_HAS(r.err, "bad-houses/train.csv:3: row 2, column 'Price': the target is 0, but the model is scored by "
                      "the log rmse");
    CU_ASSERT_EQUAL(rec.steps, 0);
    done(&r);
    const char *hex = "Id,A,B,Price\n1,1,2,150\n2,0x3,1,160\n3,2,2,170\n";
    spit(path("bad-houses/train.csv"), hex, strlen(hex));
    r = train(&m, "--data %s --epochs 1", path("bad-houses"));
    CU_ASSERT_EQUAL(r.status, 1);
    ASSERT_HAS(r.err, "train.csv:3: row 2, column 'A': '0x3' is not a number");
    done(&r);
}

static DlrtParam bad_param(int i) {
    static const int64_t dims[9] = {1, 1, 1, 1, 1, 1, 1, 1, 2};
    return (DlrtParam){"w", i ? 1 : 9, dims, 0, {-1, -1}};
}

/* A descriptor that cannot be run is refused with its fault named, before the command line is read. */
static void test_model_check(void) {
    DlrtModel m = linear;
    m.step = NULL;
    Run r = train(&m, "--help");
    CU_ASSERT_EQUAL(r.status, 1);
    ASSERT_HAS(r.err, "model linear: init, step and step_counter are required");
    done(&r);
    m = linear;
    m.labels.forward_train = cls_forward_train;
    DlrtError err;
    CU_ASSERT_EQUAL(dlrt_model_check(&m, &err), DLRT_EINVAL);
    ASSERT_HAS(err.msg, "exactly one of labels and targets");
    m = linear;
    m.kfold = 1;
    CU_ASSERT_EQUAL(dlrt_model_check(&m, &err), DLRT_EINVAL);
    ASSERT_HAS(err.msg, "kfold needs CSV data");
    m = linear;
    m.param = bad_param;
    CU_ASSERT_EQUAL(dlrt_model_check(&m, &err), DLRT_EINVAL);
    ASSERT_HAS(err.msg, "param(i) must give");
    DlrtModel h = houses();
    CU_ASSERT_EQUAL(dlrt_model_check(&h, &err), DLRT_OK);
    CU_ASSERT_EQUAL(dlrt_model_check(&classifier, &err), DLRT_OK);
}

/* dlrt_train_main is dlrt_train_run on stdout and stderr (OMP_WAIT_POLICY is set, so it does not re-execute). */
static void test_train_main(void) {
    fflush(stdout);
    int saved = dup(1), fd = open(path("main.out"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    char *argv[] = {"linear-train", "--help", NULL};
    int status = dlrt_train_main(&linear, 2, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(fd);
    CU_ASSERT_EQUAL(status, 0);
    char *out = slurp(path("main.out"));
    ASSERT_HAS(out, "usage: linear-train [flags]");
    free(out);
}

static int init_suite(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dlrt-train-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : 1;
}

static int clean_suite(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : 1;
}

int main(void) {
    setenv("OMP_WAIT_POLICY", "passive", 1);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("train", init_suite, clean_suite);
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"defaults", test_defaults},
        {"flag overrides", test_flag_overrides},
        {"resume", test_resume},
        {"usage", test_usage},
        {"refusals", test_refusals},
        {"report", test_report},
        {"diverged", test_diverged},
        {"kfold and submission", test_kfold_and_submission},
        {"pictures and predict", test_pictures_and_predict},
        {"output collisions", test_output_collisions},
        {"outputs checked first", test_outputs_checked_first},
        {"save names", test_save_names},
        {"csv data errors", test_csv_data_errors},
        {"model check", test_model_check},
        {"train main", test_train_main},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        CU_add_test(s, tests[i].name, tests[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
