/* test_trainer.c: the generated trainers as their users meet them, run as programs.
 *
 * Every test runs a zoo trainer built by meson (build/models/<name>-train), or one that `dlc build` links from a
 * model the test writes, on data the test writes: a small Fashion-MNIST look-alike in IDX files whose classes
 * are easy to learn (class k is a bright bar at a height of its own), so nothing depends on the dataset being
 * installed and every run takes a fraction of a second. The tests cover progress output on a terminal and in a
 * pipe, metrics and plots, a loss that turns infinite, the two picture grids, --predict on IDX, PGM and PNG
 * files, checkpoints (a run killed with SIGKILL and resumed ends byte-identical to an uninterrupted one; damaged
 * or foreign files are refused; reloaded weights give identical outputs) and the messages for broken data. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dlc.h"
#include "dlrt.h"

#ifndef BUILD_ROOT
#define BUILD_ROOT "."
#endif
#ifndef DLC_PATH
#define DLC_PATH "dlc"
#endif
#ifndef SOURCE_ROOT
#define SOURCE_ROOT ".."
#endif
#ifndef FAULT_SHIM
#define FAULT_SHIM ""
#endif
/* `dlc build` links against this build's libdlrt, instrumented like this test when sanitizers are on */
#if defined(__SANITIZE_ADDRESS__)
#define BUILD_CC "CC='cc -fsanitize=address,undefined' "
#else
#define BUILD_CC ""
#endif

static char tmpdir[256];
/* The test program's own strings and file contents: one context for the whole run, freed at its end. */
static Ctx scratch;
static char *data_dir; /* the look-alike Fashion-MNIST: 2000 training and 500 test images */
static char *mlp_ckpt; /* mlp trained 2 epochs on it, with its report */
static char *mlp_report;
static char *mlp_predict_out; /* what that run printed for --predict five.idx */

enum { FAKE_TRAIN = 2000, FAKE_TEST = 500, SIDE = 28 };

/* Test images whose label is not the class they show, so --show-predictions has mistakes to mark. */
static const int mislabelled[] = {2, 5, 20};

/* ---------------------------------------------------------------------------------------------------------- */
/* Helpers                                                                                                    */
/* ---------------------------------------------------------------------------------------------------------- */

static char *tmp(const char *name) { return xsprintf(&scratch, "%s/%s", tmpdir, name); }

static char *trainer(const char *model) { return xsprintf(&scratch, "'%s/models/%s-train'", BUILD_ROOT, model); }

/* A whole file, NUL-terminated, in the arena (like every string here: never freed); NULL if unreadable. */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (len)
        *len = 0;
    if (!f)
        return NULL;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return NULL;
    }
    char *s = xalloc(&scratch, (size_t)st.st_size + 1);
    size_t n = fread(s, 1, (size_t)st.st_size, f);
    fclose(f);
    s[n] = '\0';
    if (len)
        *len = n;
    return s;
}

/* Writes a file; used by the suite's set-up too, so it reports failure without CUnit. */
static void spit(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
}

/* Runs a shell command with stdout and stderr captured; returns the exit status (-1 if it did not exit). */
static int run(const char *cmd, char **out, char **err) {
    static int serial;
    char *o = tmp(xsprintf(&scratch, "out-%d", serial)), *e = tmp(xsprintf(&scratch, "err-%d", serial));
    serial++;
    int rc = system(xsprintf(&scratch, "%s >'%s' 2>'%s'", cmd, o, e));
    char *os = slurp(o, NULL), *es = slurp(e, NULL);
    if (out)
        *out = os ? os : xstrdup(&scratch, "");
    if (err)
        *err = es ? es : xstrdup(&scratch, "");
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static bool has(const char *s, const char *sub) { return s && strstr(s, sub) != NULL; }

/* Asserts that `text` contains `sub`, showing both when not. */
#define ASSERT_HAS(text, sub)                                                                                          \
    do {                                                                                                               \
        if (!has(text, sub))                                                                                           \
            fprintf(stderr, "\n  expected \"%s\" in: %s\n", sub, (text) ? (text) : "(null)");                          \
        CU_ASSERT(has(text, sub));                                                                                     \
    } while (0)

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Writes an IDX file: magic, the dims, then `len` bytes of data (which may be fewer than the dims say). */
static void write_idx(const char *path, uint32_t magic, int rank, const uint32_t *dims, const unsigned char *data,
                      size_t len) {
    size_t head = 4 + 4 * (size_t)rank;
    unsigned char *buf = malloc(head + len);
    put_be32(buf, magic);
    for (int i = 0; i < rank; i++)
        put_be32(buf + 4 + 4 * i, dims[i]);
    memcpy(buf + head, data, len);
    spit(path, buf, head + len);
    free(buf);
}

/* The look-alike's image i of class k: a bright bar across rows 2k + 4 and 2k + 5, some noise elsewhere. */
static void fake_image(unsigned char *px, int k, int i) {
    unsigned h = (unsigned)i * 2654435761u;
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            h = h * 1103515245u + 12345u;
            bool bar = (y == 2 * k + 4 || y == 2 * k + 5) && x >= 4 && x < 24;
            px[y * SIDE + x] = (unsigned char)(bar ? 200 + (h >> 16) % 56 : (h >> 16) % 40);
        }
}

/* Writes a Fashion-MNIST folder (plain IDX files) of n_train + n_test look-alike images; example i is class
 * i % 10, and the test images listed in `mislabelled` carry the label of the next class. */
static void write_fake_fmnist(const char *dir, int n_train, int n_test) {
    mkdir(dir, 0700);
    static const char *const names[2][2] = {{"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
                                            {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}};
    for (int s = 0; s < 2; s++) {
        int n = s ? n_test : n_train;
        unsigned char *img = malloc((size_t)n * SIDE * SIDE), *lab = malloc((size_t)n);
        for (int i = 0; i < n; i++) {
            fake_image(img + (size_t)i * SIDE * SIDE, i % 10, i + s * 100000);
            lab[i] = (unsigned char)(i % 10);
            for (size_t m = 0; s && m < sizeof mislabelled / sizeof mislabelled[0]; m++)
                if (mislabelled[m] == i)
                    lab[i] = (unsigned char)((i + 1) % 10);
        }
        uint32_t idims[3] = {(uint32_t)n, SIDE, SIDE}, ldims[1] = {(uint32_t)n};
        write_idx(xsprintf(&scratch, "%s/%s", dir, names[s][0]), 0x803, 3, idims, img, (size_t)n * SIDE * SIDE);
        write_idx(xsprintf(&scratch, "%s/%s", dir, names[s][1]), 0x801, 1, ldims, lab, (size_t)n);
        free(img);
        free(lab);
    }
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* The epochs-completed field of a checkpoint's TRAN section (docs/checkpoint.md), or -1. */
static int64_t ckpt_epoch(const char *path) {
    size_t len;
    unsigned char *b = (unsigned char *)slurp(path, &len);
    int64_t epoch = -1;
    for (size_t pos = 32; b && len >= 32 && pos + 16 <= len;) {
        uint64_t body = le64(b + pos + 8);
        if (memcmp(b + pos, "TRAN", 4) == 0 && body == 20 && pos + 36 <= len) { /* 2 x u64, CRC-32 */
            epoch = (int64_t)le64(b + pos + 16);
            break;
        }
        if (body > len - pos - 16)
            break;
        pos += 16 + body;
    }
    return epoch;
}

/* The number after "key": in a JSON text, as its text (NULL if absent). */
static char *json_text(const char *json, const char *key) {
    const char *p = json ? strstr(json, xsprintf(&scratch, "\"%s\":", key)) : NULL;
    if (!p)
        return NULL;
    p += strlen(key) + 3;
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, ",}\n");
    char *s = xstrdup(&scratch, p);
    s[n] = '\0';
    return s;
}

/* An RGB PNG as read by libpng. */
typedef struct {
    unsigned char *rgb;
    int w, h;
} Picture;

static bool read_png(const char *path, Picture *pic) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path))
        return false;
    image.format = PNG_FORMAT_RGB;
    pic->w = (int)image.width;
    pic->h = (int)image.height;
    pic->rgb = malloc(PNG_IMAGE_SIZE(image));
    return png_image_finish_read(&image, NULL, pic->rgb, 0, NULL) != 0;
}

static void write_png_gray(const char *path, const unsigned char *gray, int w, int h, bool alpha) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)w;
    image.height = (png_uint_32)h;
    image.format = alpha ? PNG_FORMAT_GA : PNG_FORMAT_GRAY;
    unsigned char *buf = malloc((size_t)w * (size_t)h * 2);
    for (int i = 0; i < w * h; i++) {
        if (alpha) { /* transparent where white: the reader composites onto white, which gives the same image */
            buf[2 * i] = gray[i];
            buf[2 * i + 1] = gray[i] == 255 ? 0 : 255;
        } else {
            buf[i] = gray[i];
        }
    }
    CU_ASSERT(png_image_write_to_file(&image, path, 0, buf, 0, NULL) != 0);
    free(buf);
}

static const unsigned char *pixel(const Picture *p, int x, int y) {
    return p->rgb + ((size_t)y * (size_t)p->w + (size_t)x) * 3;
}

static bool is_red(const unsigned char *px) { return px[0] > 150 && px[1] < 80 && px[2] < 80; }
static bool is_green(const unsigned char *px) { return px[1] > 100 && px[0] < 60 && px[2] < 80; }
static bool is_ink(const unsigned char *px) { return px[0] < 60 && px[1] < 60 && px[2] < 60; }

/* ---------------------------------------------------------------------------------------------------------- */
/* Fixtures                                                                                                   */
/* ---------------------------------------------------------------------------------------------------------- */

static char *five_idx; /* the first five look-alike test images as an IDX file */
static unsigned char first_test[SIDE * SIDE];

static int init_suite(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dlc-trainer-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    data_dir = tmp("fmnist");
    write_fake_fmnist(data_dir, FAKE_TRAIN, FAKE_TEST);
    unsigned char five[5 * SIDE * SIDE];
    for (int i = 0; i < 5; i++)
        fake_image(five + i * SIDE * SIDE, i, i + 100000);
    memcpy(first_test, five, sizeof first_test);
    five_idx = tmp("five.idx");
    uint32_t dims[3] = {5, SIDE, SIDE};
    write_idx(five_idx, 0x803, 3, dims, five, sizeof five);

    /* mlp, 2 epochs with its final evaluation in a report and predictions printed: several tests compare with
     * this run. */
    mlp_ckpt = tmp("mlp.ckpt");
    mlp_report = tmp("mlp.json");
    char *err;
    int rc = run(
        xsprintf(&scratch,
                 "%s --data '%s' --epochs 2 --batch 32 --threads 1 --quiet --save '%s' --report '%s' --predict '%s'",
                 trainer("mlp"), data_dir, mlp_ckpt, mlp_report, five_idx),
        &mlp_predict_out, &err);
    if (rc != 0)
        fprintf(stderr, "mlp-train failed (%d): %s\n", rc, err);
    return rc != 0;
}

static int clean_suite(void) {
    if (system(xsprintf(&scratch, "rm -rf '%s'", tmpdir)) != 0)
        return 1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* While training                                                                                             */
/* ---------------------------------------------------------------------------------------------------------- */

/* The trainer of model text `model`, written to NAME.dlm in the test's folder and built with dlc build, as a
 * quoted command; NULL (after printing dlc's messages) when it does not build. */
static char *built_here(const char *name, const char *model) {
    char *dlm = tmp(xsprintf(&scratch, "%s.dlm", name)), *exe = tmp(xsprintf(&scratch, "%s-train", name)), *err;
    spit(dlm, model, strlen(model));
    if (run(xsprintf(&scratch, BUILD_CC "'%s' build '%s' -o '%s'", DLC_PATH, dlm, exe), NULL, &err) != 0) {
        printf("\n    dlc build %s: %s\n", name, err ? err : "");
        return NULL;
    }
    return xsprintf(&scratch, "'%s'", exe);
}

/* Runs cmd on a pseudo-terminal 100 columns wide and returns everything it wrote. */
static char *run_on_terminal(const char *cmd) {
    int master;
    struct winsize ws = {.ws_row = 24, .ws_col = 100};
    pid_t pid = forkpty(&master, NULL, NULL, &ws);
    if (pid < 0)
        return NULL;
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t got = read(master, buf + len, 4096);
        if (got <= 0) /* EIO once the child has exited and the terminal is gone */
            break;
        len += (size_t)got;
    }
    buf[len] = '\0';
    close(master);
    waitpid(pid, NULL, 0);
    char *text = xstrdup(&scratch, buf);
    free(buf);
    return text;
}

static void test_progress(void) {
    char *cmd = xsprintf(&scratch, "%s --data '%s' --epochs 2 --threads 1 --limit 1000", trainer("mlp"), data_dir);
    /* in a pipe: one plain line per epoch (an epoch here is far shorter than the interval of plain lines) */
    char *out;
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "DLRT_PROGRESS_SECONDS=100000 %s", cmd), &out, NULL), 0);
    ASSERT_HAS(out, "epoch 1/2  train_loss ");
    ASSERT_HAS(out, "epoch 2/2  train_loss ");
    ASSERT_HAS(out, "test_acc ");
    CU_ASSERT(!has(out, "\r"));
    CU_ASSERT(!has(out, "ETA"));
    /* on a terminal: a bar redrawn in place, then the same summary lines */
    char *tty = run_on_terminal(xsprintf(&scratch, "TERM=xterm %s --batch 10", cmd));
    CU_ASSERT_PTR_NOT_NULL_FATAL(tty);
    ASSERT_HAS(tty, "\repoch 1/2 [>    ");                              /* the first batch */
    ASSERT_HAS(tty, "[==============================] 100/100  loss "); /* the last */
    ASSERT_HAS(tty, " ex/s  ETA ");
    ASSERT_HAS(tty, "\repoch 2/2 evaluating on the test set");
    ASSERT_HAS(tty, "epoch 2/2  train_loss ");
    /* --quiet: nothing */
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --quiet", cmd), &out, NULL), 0);
    CU_ASSERT_STRING_EQUAL(out, "");
    char *quiet_tty = run_on_terminal(xsprintf(&scratch, "TERM=xterm %s --quiet", cmd));
    CU_ASSERT(quiet_tty && !has(quiet_tty, "epoch"));
}

/* Where the output is a log (a pipe, TERM=dumb, mpirun, which hands ranks a terminal), no cursor control: plain
 * lines, one every DLRT_PROGRESS_SECONDS within an epoch (0 here: after every batch but the last, so nothing
 * depends on timing). */
static void test_progress_log(void) {
    char *cmd =
        xsprintf(&scratch, "DLRT_PROGRESS_SECONDS=0 %s --data '%s' --epochs 2 --threads 1 --limit 1000 --batch 100",
                 trainer("mlp"), data_dir);
    static const char *const how[] = {"TERM=dumb", "TERM=xterm OMPI_COMM_WORLD_SIZE=1", "TERM=xterm PMI_SIZE=1"};
    for (size_t i = 0; i < sizeof how / sizeof how[0]; i++) {
        char *tty = run_on_terminal(xsprintf(&scratch, "%s %s", how[i], cmd));
        CU_ASSERT_PTR_NOT_NULL_FATAL(tty);
        CU_ASSERT(!has(tty, "\r\033") && !has(tty, "\033[") && !has(tty, "\repoch"));
        ASSERT_HAS(tty, "epoch 1/2 batch 1/10  loss ");
        ASSERT_HAS(tty, "epoch 2/2 batch 9/10  loss ");
        CU_ASSERT(!has(tty, "batch 10/10")); /* the summary line stands for the last batch */
        ASSERT_HAS(tty, "epoch 2/2  train_loss ");
    }
    /* stdout to a file, stderr too */
    char *log = tmp("progress.log");
    CU_ASSERT_EQUAL(system(xsprintf(&scratch, "TERM=xterm %s >'%s' 2>&1", cmd, log)), 0);
    char *text = slurp(log, NULL);
    CU_ASSERT(!has(text, "\r") && !has(text, "\033"));
    ASSERT_HAS(text, "epoch 1/2 batch 5/10  loss ");
    ASSERT_HAS(text, " ex/s  ETA ");
    ASSERT_HAS(text, "epoch 1/2  train_loss ");
}

/* A bounded while loop still true after its last iteration: the trainer stops with an error naming the loop's
 * line instead of training on truncated results. */
static void test_loop_limit(void) {
    const char *model = "input x: f32[batch, 2]\n"
                        "input y: f32[batch, 1]\n"
                        "X = tensor([[1, 2], [3, 4]])\n"
                        "Y = tensor([[1], [2]])\n"
                        "h = x |> linear(1)\n"
                        "g = h\n"
                        "while mean(abs(g)) < 1000000 max 3 {\n"
                        "    g = g * 2\n"
                        "}\n"
                        "output g\n"
                        "train {\n"
                        "    data      = tensors(x, y, X, Y)\n"
                        "    loss      = mean((g - y) ** 2)\n"
                        "    optimizer = sgd(lr = 0.001)\n"
                        "    batch     = 2\n"
                        "    epochs    = 2\n"
                        "}\n";
    char *exe = built_here("loop", model), *err;
    CU_ASSERT_PTR_NOT_NULL_FATAL(exe);
    CU_ASSERT_EQUAL(run(exe, NULL, &err), 1);
    ASSERT_HAS(err, "loop.dlm line 7: the bounded while loop's condition still held after its last iteration");
    CU_ASSERT(!has(err, "the loss became"));
}

static void test_metrics_and_plot(void) {
    char *csv = tmp("metrics.csv"), *svg = tmp("curves.svg");
    CU_ASSERT_EQUAL(
        run(xsprintf(&scratch, "%s --data '%s' --epochs 3 --threads 1 --limit 500 --quiet --metrics '%s' --plot '%s'",
                     trainer("mlp"), data_dir, csv, svg),
            NULL, NULL),
        0);
    char *m = slurp(csv, NULL), *s = slurp(svg, NULL);
    ASSERT_HAS(m, "epoch,train_loss,train_acc,test_loss,test_acc,seconds\n1,");
    ASSERT_HAS(m, "\n3,");
    CU_ASSERT(!has(m, "\n4,"));
    ASSERT_HAS(s, "<svg");
    ASSERT_HAS(s, "train loss");
    ASSERT_HAS(s, "test acc");
}

/* A learning rate that makes the loss infinite: the trainer stops before the update, names the epoch, the batch
 * and the rate, and the checkpoint on disk is the last good one, which loads and holds finite weights. */
static void test_infinite_loss(void) {
    char *ckpt = tmp("diverged.ckpt"), *out, *err;
    /* linreg at lr 2.1 survives its first epoch and overflows in the second */
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --lr 2.1 --epochs 5 --save '%s'", trainer("linreg"), ckpt), &out, &err),
                    1);
    ASSERT_HAS(err, "the loss became inf in epoch ");
    ASSERT_HAS(err, "with learning rate 2.1");
    ASSERT_HAS(err, "stopped before the update");
    ASSERT_HAS(err, ckpt);
    long long epoch = 0, batch = 0;
    const char *p = strstr(err, "in epoch ");
    CU_ASSERT_FATAL(p && sscanf(p, "in epoch %lld, batch %lld", &epoch, &batch) == 2);
    CU_ASSERT(epoch >= 2 && batch >= 1);
    CU_ASSERT_EQUAL(ckpt_epoch(ckpt), epoch - 1);
    ASSERT_HAS(err, xsprintf(&scratch, "from the end of epoch %lld", epoch - 1));
    /* the saved weights are finite: load them and report */
    char *report = tmp("diverged.json");
    CU_ASSERT_EQUAL(
        run(xsprintf(&scratch, "%s --load '%s' --epochs 0 --quiet --report '%s'", trainer("linreg"), ckpt, report),
            NULL, NULL),
        0);
    char *json = slurp(report, NULL);
    char *params = strstr(json, "\"parameters\"");
    CU_ASSERT_FATAL(params != NULL);
    CU_ASSERT(has(params, "[[") && !has(params, "null") && !has(params, "inf") && !has(params, "nan"));

    /* diverging within the first epoch still leaves the starting point */
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --lr 100 --epochs 5 --save '%s'", trainer("linreg"), ckpt), NULL, &err),
                    1);
    ASSERT_HAS(err, "in epoch 1, batch ");
    ASSERT_HAS(err, "from before the first epoch");
    CU_ASSERT_EQUAL(ckpt_epoch(ckpt), 0);
    /* without --save there is nothing to point at */
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --lr 100 --epochs 5", trainer("linreg")), NULL, &err), 1);
    ASSERT_HAS(err, "in epoch 1, batch ");
    CU_ASSERT(!has(err, "--resume"));
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Pictures                                                                                                   */
/* ---------------------------------------------------------------------------------------------------------- */

/* The grids have 9 columns of equal width. Returns the first caption line under the first row of images in
 * column `col` (20 pixel rows below the image) as a string of '#' (text) and '.' (background). */
static char *caption_signature(const Picture *p, int col) {
    int cell_w = p->w / 9;
    /* the image's bottom: the end of the first run of 100 or more rows that are not white in the middle of the
     * column (the title above is shorter) */
    int x_mid = col * cell_w + cell_w / 2, y = 0, run_len = 0;
    for (; y < p->h; y++) {
        bool white = pixel(p, x_mid, y)[0] == 255 && pixel(p, x_mid, y)[1] == 255;
        if (!white)
            run_len++;
        else if (run_len >= 100)
            break;
        else
            run_len = 0;
    }
    size_t n = 0;
    char *sig = xalloc(&scratch, 20 * (size_t)cell_w + 1);
    for (int yy = y; yy < y + 20 && yy < p->h; yy++)
        for (int x = col * cell_w; x < (col + 1) * cell_w; x++)
            sig[n++] = is_ink(pixel(p, x, yy)) || is_red(pixel(p, x, yy)) || is_green(pixel(p, x, yy)) ? '#' : '.';
    sig[n] = '\0';
    return sig;
}

static int ink_width(const char *sig, int cell_w) {
    int lo = cell_w, hi = -1;
    for (int i = 0; sig[i]; i++)
        if (sig[i] == '#') {
            lo = i % cell_w < lo ? i % cell_w : lo;
            hi = i % cell_w > hi ? i % cell_w : hi;
        }
    return hi - lo + 1;
}

static void test_show_samples(void) {
    char *png = tmp("samples.png");
    CU_ASSERT_EQUAL(
        run(xsprintf(&scratch, "%s --data '%s' --epochs 0 --quiet --show-samples '%s'", trainer("mlp"), data_dir, png),
            NULL, NULL),
        0);
    Picture p;
    CU_ASSERT_FATAL(read_png(png, &p));
    CU_ASSERT(p.w > 9 * 28 * 4 && p.h > 2 * 28 * 4); /* 18 images magnified 4 times, in 2 rows of 9 */
    /* Training image i is class i % 10, so the first row's captions read t-shirt, trouser, pullover, dress,
     * coat, sandal, shirt, sneaker, bag: text under every image, as wide as its name, different for different
     * names of the same length. */
    int cw = p.w / 9;
    char *sig[9];
    for (int c = 0; c < 9; c++)
        sig[c] = caption_signature(&p, c);
    static const int letters[9] = {7, 7, 8, 5, 4, 6, 5, 7, 3};
    for (int c = 0; c < 9; c++) {
        CU_ASSERT(ink_width(sig[c], cw) > 3 * 2 * 5); /* at least three glyphs at 2 pixels a font pixel */
        for (int d = 0; d < 9; d++)
            if (letters[c] < letters[d])
                CU_ASSERT(ink_width(sig[c], cw) < ink_width(sig[d], cw));
    }
    CU_ASSERT_EQUAL(ink_width(sig[0], cw), (7 * 6 - 1) * 2); /* "t-shirt": 7 glyphs 6 apart, 2 pixels each */
    CU_ASSERT(strcmp(sig[0], sig[1]) != 0 && strcmp(sig[1], sig[7]) != 0 && strcmp(sig[0], sig[7]) != 0);
    free(p.rgb);
}

static void test_show_predictions(void) {
    char *png = tmp("predictions.png"), *out;
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --load '%s' --data '%s' --epochs 0 --quiet --show-predictions '%s'",
                                 trainer("mlp"), mlp_ckpt, data_dir, png),
                        &out, NULL),
                    0);
    Picture p;
    CU_ASSERT_FATAL(read_png(png, &p));
    /* 36 test images in 4 rows of 9. The mislabelled ones (2, 5 and 20: columns 2, 5 and 2) are the model's only
     * mistakes; they have red frames and red predictions, every other column green predictions only. */
    int cw = p.w / 9;
    bool red_in[9] = {false}, green_in[9] = {false};
    for (int y = 0; y < p.h; y++)
        for (int x = 0; x < p.w; x++) {
            red_in[x / cw % 9] |= is_red(pixel(&p, x, y));
            green_in[x / cw % 9] |= is_green(pixel(&p, x, y));
        }
    for (int c = 0; c < 9; c++) {
        CU_ASSERT_EQUAL(red_in[c], c == 2 || c == 5);
        CU_ASSERT(green_in[c]);
    }
    /* a red frame: a long run of red pixels along one row */
    int longest = 0;
    for (int y = 0; y < p.h; y++)
        for (int x = 0, run_len = 0; x < p.w; x++) {
            run_len = is_red(pixel(&p, x, y)) ? run_len + 1 : 0;
            longest = run_len > longest ? run_len : longest;
        }
    CU_ASSERT(longest >= 28 * 4);
    free(p.rgb);

    /* only classifiers of images have pictures */
    char *err;
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --show-predictions '%s'", trainer("linreg"), png), NULL, &err), 2);
    ASSERT_HAS(err, "need a model that classifies");
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Prediction                                                                                                 */
/* ---------------------------------------------------------------------------------------------------------- */

/* The top class and its probability in one line of --predict output for `name`. */
static bool top_class(const char *out, const char *name, char *cls, double *prob) {
    const char *p = strstr(out, xsprintf(&scratch, "%s:", name));
    if (!p)
        return false;
    p += strlen(name) + 1;
    char buf[64];
    if (sscanf(p, " %63[a-z -] %lf", buf, prob) != 2)
        return false;
    size_t n = strlen(buf);
    while (n && buf[n - 1] == ' ')
        buf[--n] = '\0';
    strcpy(cls, buf);
    return true;
}

static void test_predict(void) {
    /* the same first test image as IDX, PGM (binary), PGM (plain text, 3x larger and inverted: a dark object on
     * white) and PNG (inverted, with transparency) */
    char *pgm = tmp("first.pgm"), *pgm_big = tmp("first-big.pgm"), *png = tmp("first.png");
    char *head = xsprintf(&scratch, "P5\n# the first test image\n%d %d\n255\n", SIDE, SIDE);
    size_t hl = strlen(head);
    unsigned char *bin = malloc(hl + sizeof first_test);
    memcpy(bin, head, hl);
    memcpy(bin + hl, first_test, sizeof first_test);
    spit(pgm, bin, hl + sizeof first_test);
    FILE *f = fopen(pgm_big, "w");
    fprintf(f, "P2\n%d %d\n255\n", 3 * SIDE, 3 * SIDE);
    unsigned char big[3 * SIDE * 3 * SIDE];
    for (int y = 0; y < 3 * SIDE; y++)
        for (int x = 0; x < 3 * SIDE; x++) {
            big[y * 3 * SIDE + x] = (unsigned char)(255 - first_test[y / 3 * SIDE + x / 3]);
            fprintf(f, "%d%c", big[y * 3 * SIDE + x], x == 3 * SIDE - 1 ? '\n' : ' ');
        }
    fclose(f);
    write_png_gray(png, big, 3 * SIDE, 3 * SIDE, true);

    char *out, *err;
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --load '%s' --threads 1 --predict '%s' '%s' '%s' '%s'", trainer("mlp"),
                                 mlp_ckpt, five_idx, pgm, pgm_big, png),
                        &out, &err),
                    0);
    CU_ASSERT(!has(out, "epoch")); /* --load and --predict without --epochs: no training */
    static const char *const classes[5] = {"t-shirt", "trouser", "pullover", "dress", "coat"};
    char cls[64];
    double prob, p0 = 0;
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_FATAL(top_class(out, xsprintf(&scratch, "%s[%d]", five_idx, i), cls, &prob));
        CU_ASSERT_STRING_EQUAL(cls, classes[i]);
        if (!(prob > 0.5 && prob <= 1))
            fprintf(stderr, "\n  unsure prediction: %s\n", out);
        CU_ASSERT(prob > 0.5 && prob <= 1);
        if (i == 0)
            p0 = prob;
    }
    /* the three other files hold image 0: the same class and probability (the 3x enlargement shrinks back
     * exactly by area averaging) */
    const char *files[3] = {pgm, pgm_big, png};
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_FATAL(top_class(out, files[i], cls, &prob));
        CU_ASSERT_STRING_EQUAL(cls, "t-shirt");
        CU_ASSERT_DOUBLE_EQUAL(prob, p0, 1e-4);
    }
    ASSERT_HAS(out, xsprintf(&scratch, "%s: t-shirt", pgm_big));
    ASSERT_HAS(strstr(out, pgm_big), "(inverted: a dark object on a light background)");
    /* three classes per line, probabilities decreasing and summing to at most 1 */
    const char *line = strstr(out, xsprintf(&scratch, "%s:", pgm));
    char c1[32], c2[32], c3[32];
    double q1, q2, q3;
    CU_ASSERT_FATAL(line && sscanf(line + strlen(pgm) + 1, " %31[a-z -] %lf, %31[a-z -] %lf, %31[a-z -] %lf", c1, &q1,
                                   c2, &q2, c3, &q3) == 6);
    CU_ASSERT(q1 >= q2 && q2 >= q3 && q1 + q2 + q3 <= 1.00001);

    /* an unreadable file is named, the others are still classified, and the exit status says so */
    char *text = tmp("notes.txt");
    spit(text, "hello\n", 6);
    CU_ASSERT_EQUAL(
        run(xsprintf(&scratch, "%s --load '%s' --predict '%s' '%s'", trainer("mlp"), mlp_ckpt, text, pgm), &out, &err),
        1);
    ASSERT_HAS(err, text);
    ASSERT_HAS(err, "not an image: expected a PNG, a PGM");
    ASSERT_HAS(out, xsprintf(&scratch, "%s: t-shirt", pgm));
    /* a PGM cut short */
    spit(text, bin, hl + 100);
    CU_ASSERT_EQUAL(
        run(xsprintf(&scratch, "%s --load '%s' --predict '%s'", trainer("mlp"), mlp_ckpt, text), NULL, &err), 1);
    ASSERT_HAS(err, "truncated: expected 784 bytes of pixels");
    free(bin);

    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --predict '%s'", trainer("linreg"), pgm), NULL, &err), 2);
    ASSERT_HAS(err, "need a model that classifies");
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Checkpoints                                                                                                */
/* ---------------------------------------------------------------------------------------------------------- */

/* The book's check: the saved MLP, loaded by a fresh process, gives the same test loss and accuracy (to the
 * last digit the report prints) and the same predictions as the process that trained it. */
static void test_reload_identical(void) {
    char *report = tmp("reloaded.json"), *out;
    CU_ASSERT_EQUAL(
        run(xsprintf(&scratch, "%s --load '%s' --data '%s' --batch 32 --threads 1 --quiet --report '%s' --predict '%s'",
                     trainer("mlp"), mlp_ckpt, data_dir, report, five_idx),
            &out, NULL),
        0);
    char *a = slurp(mlp_report, NULL), *b = slurp(report, NULL);
    char *la = json_text(a, "test_loss"), *lb = json_text(b, "test_loss");
    char *aa = json_text(a, "test_acc"), *ab = json_text(b, "test_acc");
    CU_ASSERT_FATAL(la && lb && aa && ab);
    CU_ASSERT_STRING_EQUAL(la, lb);
    CU_ASSERT_STRING_EQUAL(aa, ab);
    CU_ASSERT(strtod(aa, NULL) > 0.9); /* the look-alike is easy */
    /* the predictions, line by line (the trained run printed nothing else) */
    ASSERT_HAS(out, mlp_predict_out);
    CU_ASSERT(strlen(mlp_predict_out) > 100);
}

/* With nothing to train, a trainer evaluates what it has (the loaded weights) and prints that. */
static void test_evaluate_only(void) {
    char *out;
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --load '%s' --data '%s' --epochs 0", trainer("mlp"), mlp_ckpt, data_dir),
                        &out, NULL),
                    0);
    ASSERT_HAS(out, xsprintf(&scratch, "loaded the weights of %s\ntest_loss ", mlp_ckpt));
    ASSERT_HAS(out, "  test_acc 0.9");
    CU_ASSERT(!has(out, "epoch"));
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --epochs 0", trainer("polyfit")), &out, NULL), 0);
    ASSERT_HAS(out, "test_loss ");
    CU_ASSERT(!has(out, "test_acc") && !has(out, "nan"));
}

/* Trains `exe` (a shell word) for `epochs` with --save into `a`; then again into `b`, killed with SIGKILL once
 * b holds `kill_at` or more epochs, and resumed from b to the same total. The two final files must be equal, and
 * with best_a and best_b (runs with --valid), the --save-best files of the two runs too. */
static void kill_and_resume_best(const char *exe, const char *flags, int epochs, int kill_at, const char *a,
                                 const char *b, const char *best_a, const char *best_b) {
    char *common = xsprintf(&scratch, "%s %s --epochs %d --threads 1 --quiet", exe, flags, epochs);
    char *keep_a = best_a ? xsprintf(&scratch, " --save-best '%s'", best_a) : "";
    char *keep_b = best_b ? xsprintf(&scratch, " --save-best '%s'", best_b) : "";
    CU_ASSERT_EQUAL_FATAL(run(xsprintf(&scratch, "%s --save '%s'%s", common, a, keep_a), NULL, NULL), 0);
    CU_ASSERT_EQUAL(ckpt_epoch(a), epochs);

    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl("/bin/sh", "sh", "-c", xsprintf(&scratch, "exec %s --save '%s'%s", common, b, keep_b), (char *)NULL);
        _exit(127);
    }
    int64_t at = -1;
    struct timespec tick = {0, 500000};
    for (int i = 0; i < 120000 && at < kill_at; i++) { /* up to a minute */
        nanosleep(&tick, NULL);
        at = ckpt_epoch(b);
        int status;
        if (at < kill_at && waitpid(pid, &status, WNOHANG) == pid) {
            pid = -1;
            break;
        }
    }
    CU_ASSERT_FATAL(pid > 0); /* it must still be running */
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    at = ckpt_epoch(b);
    if (at >= epochs)
        fprintf(stderr, "\n  the run finished before SIGKILL reached it; the test proves nothing\n");
    CU_ASSERT(at >= kill_at && at < epochs);

    char *out;
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --epochs %d --threads 1 --resume '%s' --save '%s'%s",
                                 xsprintf(&scratch, "%s %s", exe, flags), epochs, b, b, keep_b),
                        &out, NULL),
                    0);
    ASSERT_HAS(out, xsprintf(&scratch, "resumed from %s after epoch %lld", b, (long long)at));
    ASSERT_HAS(out, xsprintf(&scratch, "epoch %lld/%d", (long long)at + 1, epochs));
    CU_ASSERT(!has(out, xsprintf(&scratch, "epoch %lld/%d", (long long)at, epochs)));
    CU_ASSERT_EQUAL(system(xsprintf(&scratch, "cmp -s '%s' '%s'", a, b)), 0);
    if (best_a && best_b)
        CU_ASSERT_EQUAL(system(xsprintf(&scratch, "cmp -s '%s' '%s'", best_a, best_b)), 0);
}

static void kill_and_resume(const char *exe, const char *flags, int epochs, int kill_at, const char *a, const char *b) {
    kill_and_resume_best(exe, flags, epochs, kill_at, a, b, NULL, NULL);
}

static void test_kill_and_resume_mlp(void) {
    kill_and_resume(trainer("mlp"), xsprintf(&scratch, "--data '%s'", data_dir), 10, 3, tmp("whole.ckpt"),
                    tmp("killed.ckpt"));
}

/* BN-LeNet from scratch: the moving statistics (states the step sets with :=) are in the checkpoint and restored,
 * so the resumed run ends in the same bytes. */
static void test_kill_and_resume_batchnorm(void) {
    kill_and_resume(trainer("batchnorm"), xsprintf(&scratch, "--data '%s'", data_dir), 10, 3, tmp("bn-whole.ckpt"),
                    tmp("bn-killed.ckpt"));
}

/* A model with optimizer state (Adam's moments) and dropout (whose masks follow the step counter), built here. */
static void test_kill_and_resume_adam_dropout(void) {
    const char *model = "input x: f32[batch, 1, 28, 28]\n"
                        "input y: i32[batch]\n"
                        "logits = x |> flatten |> linear(64) |> relu |> dropout(0.3) |> linear(10)\n"
                        "output logits\n"
                        "init \"*.weight\" = normal(0, 0.01)\n"
                        "train {\n"
                        "    data      = fashion_mnist(x, y)\n"
                        "    loss      = cross_entropy(logits, y)\n"
                        "    optimizer = adam(lr = 0.001)\n"
                        "    batch     = 64\n"
                        "    epochs    = 10\n"
                        "    metrics   = [accuracy(logits, y)]\n"
                        "}\n";
    char *exe = built_here("adamdrop", model);
    CU_ASSERT_PTR_NOT_NULL_FATAL(exe);
    kill_and_resume(exe, xsprintf(&scratch, "--data '%s'", data_dir), 10, 3, tmp("adam-whole.ckpt"),
                    tmp("adam-killed.ckpt"));
}

/* --recompute (docs/compiler.md): BN-LeNet and a residual block with batch norm and dropout, each built with and
 * without the option, train to the same checkpoint bytes (weights, momentum, running statistics). dlc check says
 * how many values the option computes again; none would leave the comparison vacuous. */
static void test_recompute_same_bytes(void) {
    const char *resblock = "input x: f32[batch, 1, 28, 28]\n"
                           "input y: i32[batch]\n"
                           "block residual(x, channels) {\n"
                           "    y = x |> conv2d(channels, kernel=3, padding=1) |> batch_norm |> relu\n"
                           "    y = y |> conv2d(channels, kernel=3, padding=1) |> batch_norm\n"
                           "    return relu(y + x)\n"
                           "}\n"
                           "logits = x |> conv2d(8, kernel=3, padding=1) |> batch_norm |> relu |> residual(8)\n"
                           "    |> dropout(0.2) |> max_pool(2) |> flatten |> linear(10)\n"
                           "output logits\n"
                           "train {\n"
                           "    data      = fashion_mnist(x, y)\n"
                           "    loss      = cross_entropy(logits, y)\n"
                           "    optimizer = sgd(lr = 0.05, momentum = 0.9)\n"
                           "    batch     = 64\n"
                           "    epochs    = 1\n"
                           "    metrics   = [accuracy(logits, y)]\n"
                           "}\n";
    const char *names[2] = {"rc_bnlenet", "rc_resblock"};
    const char *texts[2] = {slurp(SOURCE_ROOT "/models/batchnorm.dlm", NULL), resblock};
    for (int m = 0; m < 2; m++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(texts[m]);
        char *dlm = tmp(xsprintf(&scratch, "%s.dlm", names[m])), *out, *err;
        spit(dlm, texts[m], strlen(texts[m]));
        CU_ASSERT_EQUAL_FATAL(run(xsprintf(&scratch, "'%s' check '%s' --recompute", DLC_PATH, dlm), &out, &err), 0);
        const char *line = strstr(out, "--recompute:"), *of = line ? strstr(line, " of ") : NULL;
        CU_ASSERT_PTR_NOT_NULL_FATAL(of);
        while (of > line && of[-1] >= '0' && of[-1] <= '9')
            of--;
        CU_ASSERT(atoi(of) > 0);
        char *ckpt[2];
        for (int r = 0; r < 2; r++) {
            char *exe = tmp(xsprintf(&scratch, "%s%s-train", names[m], r ? "-rc" : ""));
            ckpt[r] = tmp(xsprintf(&scratch, "%s%s.ckpt", names[m], r ? "-rc" : ""));
            int rc = run(
                xsprintf(&scratch, BUILD_CC "'%s' build '%s' -o '%s'%s", DLC_PATH, dlm, exe, r ? " --recompute" : ""),
                NULL, &err);
            CU_ASSERT_EQUAL_FATAL(rc, 0);
            rc = run(xsprintf(&scratch, "'%s' --data '%s' --epochs 1 --limit 320 --threads 1 --quiet --save '%s'", exe,
                              data_dir, ckpt[r]),
                     NULL, &err);
            CU_ASSERT_EQUAL_FATAL(rc, 0);
        }
        size_t n0, n1;
        char *a = slurp(ckpt[0], &n0), *b = slurp(ckpt[1], &n1);
        CU_ASSERT_FATAL(a && b && n0 > 0);
        CU_ASSERT(n0 == n1 && memcmp(a, b, n0) == 0);
        if (n0 != n1 || memcmp(a, b, n0) != 0)
            printf("\n    %s: the --recompute trainer's checkpoint differs from the plain one's\n", names[m]);
    }
}

/* Results do not depend on the thread count (issue 18's rule): dlc's products split the columns of C, the generated
 * loops split whole outputs, OpenBLAS runs on one thread. The MLP's products (256 x 784 x 256) are split on two
 * threads, LeNet's convolutions and BN-LeNet's phases too. */
static void test_threads_same_bytes(void) {
    const char *models[] = {"mlp", "lenet", "batchnorm"};
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        char *ckpt[2], *bytes[2];
        size_t len[2];
        for (int t = 0; t < 2; t++) {
            ckpt[t] = tmp(xsprintf(&scratch, "%s-threads%d.ckpt", models[m], t + 1));
            CU_ASSERT_EQUAL_FATAL(run(xsprintf(&scratch,
                                               "%s --data '%s' --epochs 1 --limit 640 --threads %d --quiet "
                                               "--save '%s'",
                                               trainer(models[m]), data_dir, t + 1, ckpt[t]),
                                      NULL, NULL),
                                  0);
            bytes[t] = slurp(ckpt[t], &len[t]);
        }
        CU_ASSERT_FATAL(bytes[0] && bytes[1] && len[0] > 0);
        bool same = len[0] == len[1] && memcmp(bytes[0], bytes[1], len[0]) == 0;
        CU_ASSERT(same);
        if (!same)
            printf("\n    %s: --threads 1 and --threads 2 wrote different checkpoints\n", models[m]);
    }
}

/* What libgomp reports last for `key` (OMP_DISPLAY_ENV=verbose: the trainer and the process it re-executes each
 * print their settings), e.g. "ACTIVE" for "OMP_WAIT_POLICY = '", or NULL when it prints none. */
static const char *omp_setting(const char *env, const char *key) {
    char *err;
    run(xsprintf(&scratch, "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT %s OMP_DISPLAY_ENV=verbose %s --help", env,
                 trainer("mlp")),
        NULL, &err);
    const char *last = NULL;
    for (const char *p = strstr(err, key); p; p = strstr(p + 1, key))
        last = p + strlen(key);
    return last ? xstrndup(&scratch, last, strcspn(last, "'")) : NULL;
}

/* Idle OpenMP threads spin a while (active, spinning DLRT_SPIN_COUNT times) where they are the trainer's only
 * pool, and sleep (passive) beside OpenBLAS's own threads (DLRT_GEMM=blas); what the user set is kept. */
static void test_wait_policy(void) {
    const char *policy = "OMP_WAIT_POLICY = '", *spin = "GOMP_SPINCOUNT = '";
    if (!omp_setting("", policy)) {
        printf("\n    skipped: this OpenMP prints no OMP_DISPLAY_ENV, so the policy cannot be seen ");
        return;
    }
    CU_ASSERT_STRING_EQUAL(omp_setting("", policy), "ACTIVE");
    CU_ASSERT_STRING_EQUAL(omp_setting("", spin), DLRT_SPIN_COUNT);
    CU_ASSERT_STRING_EQUAL(omp_setting("GOMP_SPINCOUNT=50", spin), "50");
    CU_ASSERT_STRING_EQUAL(omp_setting("DLRT_GEMM=blas", policy), "PASSIVE");
    CU_ASSERT_STRING_EQUAL(omp_setting("OMP_WAIT_POLICY=passive", policy), "PASSIVE");
    CU_ASSERT_STRING_EQUAL(omp_setting("DLRT_GEMM=blas OMP_WAIT_POLICY=active", policy), "ACTIVE");
}

/* A small classifier with momentum and a cosine schedule after a 2-epoch warmup, built once for the tests below. */
static char *scheduled_trainer(void) {
    static char *exe;
    if (exe)
        return exe;
    const char *model = "input x: f32[batch, 1, 28, 28]\n"
                        "input y: i32[batch]\n"
                        "logits = x |> flatten |> linear(32) |> relu |> linear(10)\n"
                        "output logits\n"
                        "init \"*.weight\" = normal(0, 0.01)\n"
                        "train {\n"
                        "    data      = fashion_mnist(x, y)\n"
                        "    loss      = cross_entropy(logits, y)\n"
                        "    optimizer = sgd(lr = 0.2, momentum = 0.9)\n"
                        "    schedule  = cosine(warmup = 2, eta_min = 0.001)\n"
                        "    batch     = 64\n"
                        "    epochs    = 10\n"
                        "    metrics   = [accuracy(logits, y)]\n"
                        "}\n";
    return exe = built_here("sched", model);
}

/* The schedule is a function of the epoch and --valid's split is fixed, so a killed run with both resumes to
 * the same bytes, and --save-best, whose best score so far the checkpoints carry, keeps the same epoch. */
static void test_kill_and_resume_schedule(void) {
    char *exe = scheduled_trainer();
    CU_ASSERT_PTR_NOT_NULL_FATAL(exe);
    kill_and_resume_best(exe, xsprintf(&scratch, "--data '%s' --valid 0.2", data_dir), 10, 3, tmp("sched-whole.ckpt"),
                         tmp("sched-killed.ckpt"), tmp("sched-whole-best.ckpt"), tmp("sched-killed-best.ckpt"));
}

/* The numbers of column `col` (0-based) of a metrics CSV, into v; returns how many rows. */
static int csv_column(const char *csv, int col, double *v, int max) {
    int n = 0;
    const char *line = csv ? strchr(csv, '\n') : NULL;
    while (line && line[1] && n < max) {
        const char *p = line + 1;
        for (int c = 0; c < col && p; c++)
            p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
        v[n++] = p ? strtod(p, NULL) : NAN;
        line = strchr(line + 1, '\n');
    }
    return n;
}

/* --valid holds out the last examples and scores them every epoch; the schedule's rate is the lr column;
 * --save-best keeps the epoch of the best validation accuracy. */
static void test_valid_and_schedule(void) {
    char *exe = scheduled_trainer();
    CU_ASSERT_PTR_NOT_NULL_FATAL(exe);
    char *csv = tmp("valid.csv"), *report = tmp("valid.json"), *best = tmp("valid-best.ckpt"), *svg = tmp("valid.svg");
    char *out, *err;
    CU_ASSERT_EQUAL_FATAL(run(xsprintf(&scratch,
                                       "%s --data '%s' --epochs 6 --threads 1 --valid 0.25 --save-best '%s' --metrics "
                                       "'%s' --report '%s' --plot '%s'",
                                       exe, data_dir, best, csv, report, svg),
                              &out, &err),
                          0);
    ASSERT_HAS(out, "epoch 1/6  train_loss ");
    ASSERT_HAS(out, "  valid_loss ");
    ASSERT_HAS(out, "  valid_acc ");
    ASSERT_HAS(out, "  lr 0.06667"); /* warmup: 0.2 x 1/3, then 0.2 x 2/3 */
    ASSERT_HAS(out, "  lr 0.1333");
    char *m = slurp(csv, NULL);
    ASSERT_HAS(m, "epoch,train_loss,train_acc,test_loss,test_acc,valid_loss,valid_acc,lr,seconds\n");
    double lr[8], acc[8];
    CU_ASSERT_EQUAL_FATAL(csv_column(m, 7, lr, 8), 6);
    CU_ASSERT_EQUAL_FATAL(csv_column(m, 6, acc, 8), 6);
    /* PyTorch's LinearLR(1/3, 2) then CosineAnnealingLR(T_max=4, eta_min=0.001) */
    double want[6] = {0.2 / 3,
                      0.4 / 3,
                      0.2,
                      0.001 + 0.199 * (1 + sqrt(0.5)) / 2,
                      0.001 + 0.199 / 2,
                      0.001 + 0.199 * (1 - sqrt(0.5)) / 2};
    int best_epoch = 0;
    for (int i = 0; i < 6; i++) {
        CU_ASSERT(fabs(lr[i] - want[i]) < 1e-8);
        if (!best_epoch || acc[i] > acc[best_epoch - 1])
            best_epoch = i + 1;
    }
    char *r = slurp(report, NULL);
    ASSERT_HAS(r, "\"valid_acc\": ");
    ASSERT_HAS(r, xsprintf(&scratch, "\"best_epoch\": %d", best_epoch));
    CU_ASSERT_EQUAL(ckpt_epoch(best), best_epoch);
    ASSERT_HAS(slurp(svg, NULL), ">valid acc<");
    /* --limit first: 25 of the first 100 examples held out */
    CU_ASSERT_EQUAL(
        run(xsprintf(&scratch, "%s --data '%s' --epochs 1 --valid 0.25 --limit 100", exe, data_dir), &out, &err), 0);
    ASSERT_HAS(out, "valid_acc");

    /* refusals: --save-best without --valid, a fraction outside (0, 1), one that holds out nothing, --kfold */
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --data '%s' --save-best '%s'", exe, data_dir, best), NULL, &err), 2);
    ASSERT_HAS(err, "--save-best");
    ASSERT_HAS(err, "needs --valid");
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --data '%s' --valid 1", exe, data_dir), NULL, &err), 2);
    ASSERT_HAS(err, "--valid expects the fraction");
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --data '%s' --valid 0.0001 --limit 100", exe, data_dir), NULL, &err), 2);
    ASSERT_HAS(err, "--valid 0.0001 of 100 training examples holds out 0");
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --valid 0.2 --kfold 5", trainer("house_prices")), NULL, &err), 2);
    ASSERT_HAS(err, "--valid and --kfold");
}

/* Copies the mlp checkpoint with one byte replaced, or cut to `len` bytes. */
static char *damaged(const char *name, long at, int byte, long len) {
    size_t n;
    unsigned char *b = (unsigned char *)slurp(mlp_ckpt, &n);
    if (at >= 0)
        b[at] = (unsigned char)byte;
    char *path = tmp(name);
    spit(path, b, len >= 0 ? (size_t)len : n);
    return path;
}

static void test_checkpoint_refusals(void) {
    char *mlp = trainer("mlp"), *err, *cmd;
    /* another model's checkpoint */
    char *lin = tmp("linreg.ckpt");
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --epochs 1 --quiet --save '%s'", trainer("linreg"), lin), NULL, NULL),
                    0);
    cmd = xsprintf(&scratch, "%s --data '%s' --epochs 0 --quiet --load '%s'", mlp, data_dir, lin);
    CU_ASSERT_EQUAL(run(cmd, NULL, &err), 1);
    ASSERT_HAS(err, lin);
    ASSERT_HAS(err, "written for another model");
    ASSERT_HAS(err, "'1.weight' [256, 784] in the model");
    /* truncated */
    char *cut = damaged("cut.ckpt", -1, 0, 5000);
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --data '%s' --epochs 0 --load '%s'", mlp, data_dir, cut), NULL, &err),
                    1);
    ASSERT_HAS(err, cut);
    ASSERT_HAS(err, "truncated");
    ASSERT_HAS(err, "the file has 5000");
    /* one byte flipped in a tensor's data */
    char *flip = damaged("flipped.ckpt", 5000, 0x5a, -1);
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --data '%s' --epochs 0 --resume '%s'", mlp, data_dir, flip), NULL, &err),
                    1);
    ASSERT_HAS(err, flip);
    ASSERT_HAS(err, "CRC mismatch in parameter tensor '1.weight'");
    /* ... in the magic */
    char *magic = damaged("magic.ckpt", 3, 'x', -1);
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --data '%s' --epochs 0 --load '%s'", mlp, data_dir, magic), NULL, &err),
                    1);
    ASSERT_HAS(err, magic);
    ASSERT_HAS(err, "not a dlc checkpoint: bad magic");
    /* a missing file */
    CU_ASSERT_EQUAL(
        run(xsprintf(&scratch, "%s --data '%s' --resume '%s'", mlp, data_dir, tmp("none.ckpt")), NULL, &err), 1);
    ASSERT_HAS(err, "none.ckpt: cannot open checkpoint");
    /* none of these touched the good file */
    CU_ASSERT_EQUAL(
        run(xsprintf(&scratch, "%s --data '%s' --epochs 0 --quiet --load '%s'", mlp, data_dir, mlp_ckpt), NULL, NULL),
        0);
}

/* A checkpoint of linreg's layout (0.weight [1, 2], 0.bias [1]) with the given values, valid CRCs included. */
static char *linreg_ckpt(const char *name, int dtype, double w0, double w1) {
    float w32[2] = {(float)w0, (float)w1}, b32[1] = {0.5f};
    double w64[2] = {w0, w1}, b64[1] = {0.5};
    int f64 = dtype == DLRT_F64;
    DlrtTensorDesc params[2] = {{"0.weight", dtype, 2, {1, 2}, f64 ? (void *)w64 : (void *)w32},
                                {"0.bias", dtype, 1, {1}, f64 ? (void *)b64 : (void *)b32}};
    DlrtCheckpoint ck = {.params = params, .n_params = 2};
    uint8_t buf[512];
    size_t len;
    DlrtError e;
    CU_ASSERT_FATAL(dlrt_checkpoint_write_mem(&ck, buf, sizeof buf, &len, &e) == DLRT_OK);
    char *path = tmp(name);
    spit(path, buf, len);
    return path;
}

/* Weights that are not finite, or f64 values that an f32 model cannot hold, are refused by --load (status 1) and
 * by dlc compile --weights (2, as for any --weights file it cannot use) (which used to emit `1e+300f`, a literal that
 * overflows), naming the tensor and the index. */
static void test_weights_not_finite(void) {
    char *err, *out_dir = tmp("weights-out"), *model = xsprintf(&scratch, "'%s/models/linreg.dlm'", SOURCE_ROOT);
    mkdir(out_dir, 0700);
    char *nan_ckpt = linreg_ckpt("nan.ckpt", DLRT_F32, 2.0, NAN);
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --load '%s' --epochs 0", trainer("linreg"), nan_ckpt), NULL, &err), 1);
    ASSERT_HAS(err, xsprintf(&scratch, "%s: parameter tensor '0.weight' holds NaN at index 1 of f32[1, 2]", nan_ckpt));
    CU_ASSERT_EQUAL(
        run(xsprintf(&scratch, "'%s' compile %s --infer --weights '%s' -o '%s'", DLC_PATH, model, nan_ckpt, out_dir),
            NULL, &err),
        2);
    ASSERT_HAS(err, "--weights: ");
    ASSERT_HAS(err, "'0.weight' holds NaN at index 1");
    char *big = linreg_ckpt("big.ckpt", DLRT_F64, 1e300, 1.0);
    CU_ASSERT_EQUAL(
        run(xsprintf(&scratch, "'%s' compile %s --infer --weights '%s' -o '%s'", DLC_PATH, model, big, out_dir), NULL,
            &err),
        2);
    ASSERT_HAS(err, xsprintf(&scratch, "%s: parameter tensor '0.weight' holds a value beyond the range of f32", big));
    ASSERT_HAS(err, "at index 0 of f64[1, 2]");
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --load '%s' --epochs 0", trainer("linreg"), big), NULL, &err), 1);
    ASSERT_HAS(err, "beyond the range of f32");
    /* the f64 build holds it */
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "'%s' compile %s --infer --dtype f64 --weights '%s' -o '%s'", DLC_PATH,
                                 model, big, out_dir),
                        NULL, &err),
                    0);
    /* and finite weights load */
    char *fine = linreg_ckpt("fine.ckpt", DLRT_F64, 2.0, -3.4);
    CU_ASSERT_EQUAL(
        run(xsprintf(&scratch, "'%s' compile %s --infer --weights '%s' -o '%s'", DLC_PATH, model, fine, out_dir), NULL,
            &err),
        0);
}

/* --save writes atomically: while a run saves every epoch, the file is at every moment a complete checkpoint. */
static void test_save_atomic(void) {
    char *ckpt = tmp("watched.ckpt");
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl("/bin/sh", "sh", "-c",
              xsprintf(&scratch, "exec %s --data '%s' --epochs 40 --limit 200 --batch 50 --threads 1 --save '%s'",
                       trainer("mlp"), data_dir, ckpt),
              (char *)NULL);
        _exit(127);
    }
    int looks = 0, bad = 0, status;
    struct timespec tick = {0, 200000};
    while (waitpid(pid, &status, WNOHANG) == 0) {
        /* whether it existed before the read: the first save may land between a failed read and a later look */
        int existed = access(ckpt, F_OK) == 0;
        int64_t e = ckpt_epoch(ckpt);
        if (e >= 0)
            looks++;
        else if (existed)
            bad++;
        nanosleep(&tick, NULL);
    }
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT(looks > 0);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(ckpt_epoch(ckpt), 40);
    /* no temporary file is left beside it */
    CU_ASSERT_EQUAL(system(xsprintf(&scratch, "ls '%s' | grep -q 'watched.ckpt.tmp'", tmpdir)) == 0, 0);
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Faults                                                                                                     */
/* ---------------------------------------------------------------------------------------------------------- */

/* Whether any temporary file of `name` is left in the test's folder. */
static bool leftover(const char *name) {
    return system(xsprintf(&scratch, "ls '%s' | grep -q '^%s.tmp'", tmpdir, name)) == 0;
}

/* A run that resumes the 3-epoch linreg checkpoint `good` to 5 epochs, saving in place, with tests/fault_shim.c
 * failing call n (0: none) of kind op on the checkpoint's files. Returns the status; *count gets the calls made. */
static int faulty_resume(const char *op, long n, const char *name, const char *good, long *count, char **err) {
    size_t len;
    char *bytes = slurp(good, &len);
    char *ck = tmp(name), *counted = tmp(xsprintf(&scratch, "%s.count", name));
    spit(ck, bytes, len);
    int rc = run(xsprintf(&scratch,
                          "OMP_WAIT_POLICY=passive LD_PRELOAD='%s' FAULT_OP=%s FAULT_N=%ld FAULT_PATH='%s' "
                          "FAULT_COUNT='%s' %s --epochs 5 --threads 1 --quiet --resume '%s' --save '%s'",
                          FAULT_SHIM, op, n, name, counted, trainer("linreg"), ck, ck),
                 NULL, err);
    char *c = slurp(counted, NULL);
    *count = c ? atol(c) : -1;
    return rc;
}

/* A write, an fsync or a rename that fails while a checkpoint is saved ends the run with a message naming the file
 * and the cause, and leaves the previous checkpoint whole, with no temporary file beside it. The calls are
 * failed by an LD_PRELOAD library (tests/fault_shim.c), in the first save of the run and in its last. */
static void test_fault_injection(void) {
#if defined(__SANITIZE_ADDRESS__)
    printf("skipped: AddressSanitizer must come first in the library list, so the LD_PRELOAD shim cannot be "
           "loaded into this build's trainers");
    return;
#endif
    char *good = tmp("faults-good.ckpt"), *err;
    CU_ASSERT_EQUAL_FATAL(
        run(xsprintf(&scratch, "%s --epochs 3 --threads 1 --quiet --save '%s'", trainer("linreg"), good), NULL, NULL),
        0);
    size_t good_len;
    char *good_bytes = slurp(good, &good_len);
    static const struct {
        const char *op, *cause;
    } ops[] = {
        {"write", ": write failed: No space left on device"},
        {"fsync", ": cannot flush it to disk (fsync): Input/output error"},
        {"rename", "into place: Input/output error"},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char *name = xsprintf(&scratch, "faults-%s.ckpt", ops[i].op), *ck = tmp(name);
        long total, count;
        /* counting: the run saves three times (its start, epochs 4 and 5) */
        CU_ASSERT_EQUAL_FATAL(faulty_resume(ops[i].op, 0, name, good, &total, &err), 0);
        CU_ASSERT_FATAL(total >= 3 && total % 3 == 0);
        long per_save = total / 3;
        /* the first call of the first save, the last call of the first, the first of the last */
        long ns[3] = {1, per_save, 2 * per_save + 1};
        int64_t epoch_left[3] = {3, 3, 4};
        for (int k = 0; k < 3; k++) {
            CU_ASSERT_EQUAL(faulty_resume(ops[i].op, ns[k], name, good, &count, &err), 1);
            CU_ASSERT_EQUAL(count, ns[k]); /* the run stops at the failure */
            ASSERT_HAS(err, xsprintf(&scratch, "%s: ", ck));
            ASSERT_HAS(err, ops[i].cause);
            ASSERT_HAS(err, "the file is as it was before");
            CU_ASSERT_EQUAL(ckpt_epoch(ck), epoch_left[k]);
            if (k < 2) { /* the first save failed: the file is the one the run started from, byte for byte */
                size_t len;
                char *bytes = slurp(ck, &len);
                CU_ASSERT(bytes && len == good_len && memcmp(bytes, good_bytes, len) == 0);
            }
            CU_ASSERT(!leftover(name));
            CU_ASSERT_EQUAL(
                run(xsprintf(&scratch, "%s --load '%s' --epochs 0 --quiet", trainer("linreg"), ck), NULL, NULL), 0);
        }
    }
}

/* A real full disk: a small tmpfs where the first checkpoint fits and the second does not beside it; and a
 * read-only one (root may mount them; elsewhere the test is skipped, saying why). */
static void test_full_disk(void) {
    char *mnt = tmp("small-disk");
    mkdir(mnt, 0700);
    /* mlp's checkpoint is 814,404 bytes: the start's fits in 1200 KiB, the next one's temporary file does not */
    if (system(xsprintf(&scratch, "mount -t tmpfs -o size=1200k tmpfs '%s' 2>/dev/null", mnt)) != 0) {
        printf("skipped: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)");
        return;
    }
    char *ck = xsprintf(&scratch, "%s/mlp.ckpt", mnt), *err;
    int rc = run(xsprintf(&scratch, "%s --data '%s' --epochs 2 --limit 200 --threads 1 --quiet --save '%s'",
                          trainer("mlp"), data_dir, ck),
                 NULL, &err);
    CU_ASSERT_EQUAL(rc, 1);
    ASSERT_HAS(err, xsprintf(&scratch, "%s: ", ck));
    ASSERT_HAS(err, "No space left on device");
    CU_ASSERT_EQUAL(ckpt_epoch(ck), 0); /* the start's checkpoint survives */
    CU_ASSERT_EQUAL(system(xsprintf(&scratch, "ls '%s' | grep -q tmp", mnt)) == 0, 0);
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --data '%s' --limit 200 --epochs 0 --quiet --load '%s'", trainer("mlp"),
                                 data_dir, ck),
                        NULL, NULL),
                    0);
    CU_ASSERT_EQUAL(system(xsprintf(&scratch, "umount '%s'", mnt)), 0);

    /* a read-only place: every output is checked before the first epoch, not written after the last */
    char *ro = tmp("read-only");
    mkdir(ro, 0700);
    CU_ASSERT_EQUAL_FATAL(system(xsprintf(&scratch, "mount -t tmpfs -o ro,size=64k tmpfs '%s'", ro)), 0);
    static const char *const flags[] = {"--report", "--metrics", "--plot", "--save"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char *out;
        rc = run(xsprintf(&scratch, "%s --epochs 3 %s '%s/out'", trainer("linreg"), flags[i], ro), &out, &err);
        CU_ASSERT_EQUAL(rc, 1);
        ASSERT_HAS(err, xsprintf(&scratch, "%s %s/out: cannot create ", flags[i], ro));
        ASSERT_HAS(err, "Read-only file system");
        CU_ASSERT_STRING_EQUAL(out, ""); /* no epoch ran */
    }
    CU_ASSERT_EQUAL(system(xsprintf(&scratch, "umount '%s'", ro)), 0);
}

/* dlc compile writes each file through a temporary one renamed over it: a write or a rename that fails ends with a
 * message naming the file, leaves the file as it was and no temporary file beside it (tests/fault_shim.c fails the
 * first matching call). */
static void test_compile_faults(void) {
#if defined(__SANITIZE_ADDRESS__)
    printf("skipped: AddressSanitizer must come first in the library list, so the LD_PRELOAD shim cannot be "
           "loaded into this build's dlc");
    return;
#endif
    char *dir = tmp("compile-faults"), *err;
    mkdir(dir, 0700);
    static const char *const ops[] = {"write", "rename"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char *c_file = xsprintf(&scratch, "%s/mlp.c", dir);
        spit(c_file, "/* the previous mlp.c */\n", 25);
        int rc = run(
            xsprintf(&scratch,
                     "LD_PRELOAD='%s' FAULT_OP=%s FAULT_N=1 FAULT_PATH=mlp.c '%s' compile '%s/models/mlp.dlm' -o '%s'",
                     FAULT_SHIM, ops[i], DLC_PATH, SOURCE_ROOT, dir),
            NULL, &err);
        CU_ASSERT_EQUAL(rc, 1);
        ASSERT_HAS(err, xsprintf(&scratch, "cannot write '%s'", c_file));
        size_t len;
        char *bytes = slurp(c_file, &len);
        CU_ASSERT(bytes && len == 25 && memcmp(bytes, "/* the previous mlp.c */\n", 25) == 0);
        CU_ASSERT_EQUAL(system(xsprintf(&scratch, "ls '%s' | grep -q tmp", dir)) == 0, 0);
    }
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Data errors                                                                                                */
/* ---------------------------------------------------------------------------------------------------------- */

/* A small look-alike folder (100 + 50 examples) with one file replaced by an IDX file of the given header
 * and `body` bytes (i % 10 for byte i, except that byte `odd` is `odd_value`). Returns the folder. */
static char *broken_dataset(const char *name, const char *file, uint32_t magic, int rank, const uint32_t *dims,
                            size_t body, long odd, int odd_value) {
    char *dir = tmp(name);
    write_fake_fmnist(dir, 100, 50);
    unsigned char *data = calloc(body + 1, 1);
    for (size_t i = 0; i < body; i++)
        data[i] = (unsigned char)(i % 10);
    if (odd >= 0)
        data[odd] = (unsigned char)odd_value;
    write_idx(xsprintf(&scratch, "%s/%s", dir, file), magic, rank, dims, data, body);
    free(data);
    return dir;
}

static void test_data_errors(void) {
    char *mlp = trainer("mlp"), *err;
    /* no dataset */
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --data /nonexistent/fmnist", mlp), NULL, &err), 1);
    ASSERT_HAS(err, "apt-get install dataset-fashion-mnist");
    ASSERT_HAS(err, "/nonexistent/fmnist");

    uint32_t img100[3] = {100, SIDE, SIDE}, lab50[1] = {50}, lab99[1] = {99};
    /* a labels file where the images should be */
    char *dir = broken_dataset("magic", "train-images-idx3-ubyte", 0x801, 3, img100, 100 * SIDE * SIDE, -1, 0);
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --data '%s'", mlp, dir), NULL, &err), 1);
    ASSERT_HAS(err, xsprintf(&scratch, "%s/train-images-idx3-ubyte: bad magic number at byte offset 0", dir));
    ASSERT_HAS(err, "expected 0x00000803");
    ASSERT_HAS(err, "found 0x00000801");
    /* images cut short: image 60 of 100 is the first one missing */
    dir = broken_dataset("short", "train-images-idx3-ubyte", 0x803, 3, img100, 60 * SIDE * SIDE + 10, -1, 0);
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --data '%s'", mlp, dir), NULL, &err), 1);
    ASSERT_HAS(err, xsprintf(&scratch, "%s/train-images-idx3-ubyte: truncated", dir));
    ASSERT_HAS(err, xsprintf(&scratch, "(image 60) at byte offset %d", 16 + 60 * SIDE * SIDE));
    ASSERT_HAS(err, xsprintf(&scratch, "the file ends at byte offset %d", 16 + 60 * SIDE * SIDE + 10));
    /* 99 labels for 100 images */
    dir = broken_dataset("count", "train-labels-idx1-ubyte", 0x801, 1, lab99, 99, -1, 0);
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --data '%s'", mlp, dir), NULL, &err), 1);
    ASSERT_HAS(err, xsprintf(&scratch, "%s/train-labels-idx1-ubyte: 99 labels (count at byte offset 4)", dir));
    ASSERT_HAS(err, "has 100 images");
    /* a label outside the ten classes */
    dir = broken_dataset("label", "t10k-labels-idx1-ubyte", 0x801, 1, lab50, 50, 37, 10);
    char *bad = xsprintf(&scratch, "%s/t10k-labels-idx1-ubyte", dir);
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --data '%s'", mlp, dir), NULL, &err), 1);
    ASSERT_HAS(err,
               xsprintf(&scratch, "%s: label 10 at byte offset 45 (example 37) is out of range: expected 0 to 9", bad));

    /* a CSV row with a field missing */
    char *csv = tmp("houses");
    mkdir(csv, 0700);
    const char *train_csv = "Id,LotArea,Street,SalePrice\n1,8450,Pave,208500\n2,9600,Grvl\n3,11250,Pave,223500\n";
    spit(xsprintf(&scratch, "%s/train.csv", csv), train_csv, strlen(train_csv));
    spit(xsprintf(&scratch, "%s/test.csv", csv), "Id,LotArea,Street\n4,9550,Pave\n", 30);
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --data '%s' --epochs 1", trainer("house_prices"), csv), NULL, &err), 1);
    ASSERT_HAS(err, xsprintf(&scratch, "%s/train.csv:3: expected 4 fields (as in the header on line 1), found 3", csv));
}

static void test_refusals(void) {
    char *err;
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --kfold 5", trainer("mlp")), NULL, &err), 2);
    ASSERT_HAS(err, "--kfold");
    CU_ASSERT_EQUAL(run(xsprintf(&scratch, "%s --show-samples x.png", trainer("polyfit")), NULL, &err), 2);
    ASSERT_HAS(err, "need a model that classifies Fashion-MNIST images");
}

int main(void) {
    ctx_init(&scratch, stderr);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("trainer", init_suite, clean_suite);
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"progress", test_progress},
        {"progress in logs", test_progress_log},
        {"while loop's bound", test_loop_limit},
        {"metrics and plot", test_metrics_and_plot},
        {"infinite loss", test_infinite_loss},
        {"show samples", test_show_samples},
        {"show predictions", test_show_predictions},
        {"predict", test_predict},
        {"reload identical", test_reload_identical},
        {"evaluate only", test_evaluate_only},
        {"kill and resume mlp", test_kill_and_resume_mlp},
        {"kill and resume adam dropout", test_kill_and_resume_adam_dropout},
        {"--recompute trains to the same bytes", test_recompute_same_bytes},
        {"--threads 1 and 2 train to the same bytes", test_threads_same_bytes},
        {"OpenMP's wait policy", test_wait_policy},
        {"kill and resume batch norm's states", test_kill_and_resume_batchnorm},
        {"kill and resume a schedule, --valid and --save-best", test_kill_and_resume_schedule},
        {"--valid, --save-best and a schedule's lr column", test_valid_and_schedule},
        {"checkpoint refusals", test_checkpoint_refusals},
        {"save atomic", test_save_atomic},
        {"weights not finite", test_weights_not_finite},
        {"fault injection", test_fault_injection},
        {"full and read-only disks", test_full_disk},
        {"dlc compile's write faults", test_compile_faults},
        {"data errors", test_data_errors},
        {"refusals", test_refusals},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        CU_add_test(s, tests[i].name, tests[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    ctx_free(&scratch);
    return failed ? 1 : 0;
}
