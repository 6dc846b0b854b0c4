/* test_runtime.c - CUnit tests of libdlrt. Each test builds its own inputs (small gzip IDX files, checkpoints,
 * argument vectors) in a private temporary directory, so the suite needs nothing installed except, for one
 * optional test, the Fashion-MNIST package. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "dlrt.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    if (len)
        *len = got;
    return buf;
}

static void spit(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fwrite(data, 1, len, f) == len);
    fclose(f);
}

#define ASSERT_MSG_HAS(err, text)                                                                                      \
    do {                                                                                                               \
        int found_ = strstr((err).msg, (text)) != NULL;                                                                \
        if (!found_)                                                                                                   \
            fprintf(stderr, "\n    message \"%s\" lacks \"%s\"\n", (err).msg, (text));                                 \
        CU_ASSERT(found_);                                                                                             \
    } while (0)

/* ---------------------------------------------------------------------------------------------------------- */
/* RNG                                                                                                        */
/* ---------------------------------------------------------------------------------------------------------- */

static void test_rng_known_answer(void) {
    /* The first outputs of pcg32-demo (pcg32_srandom_r(&rng, 42, 54)) from the PCG reference code. */
    static const uint32_t expected[6] = {0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e};
    DlrtRng rng;
    dlrt_rng_seed(&rng, 42, 54);
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(dlrt_rng_u32(&rng), expected[i]);
}

static void test_rng_determinism(void) {
    DlrtRng a, b, c;
    dlrt_rng_seed(&a, 7, 0);
    dlrt_rng_seed(&b, 7, 0);
    dlrt_rng_seed(&c, 8, 0);
    int same = 1, differ = 0;
    for (int i = 0; i < 1000; i++) {
        double x = dlrt_rng_normal(&a, 0, 1), y = dlrt_rng_normal(&b, 0, 1), z = dlrt_rng_normal(&c, 0, 1);
        same &= x == y;
        differ |= x != z;
    }
    CU_ASSERT(same);
    CU_ASSERT(differ);
    /* A copied state continues the same stream: what checkpoints rely on. */
    DlrtRng saved = a;
    uint32_t next = dlrt_rng_u32(&a);
    CU_ASSERT_EQUAL(dlrt_rng_u32(&saved), next);
}

static void test_rng_moments(void) {
    DlrtRng rng;
    dlrt_rng_seed(&rng, 1, 0);
    enum { N = 200000 };
    double sum = 0, sq = 0, usum = 0, usq = 0, cube = 0;
    float umin = 1, umax = 0;
    int counts[10] = {0};
    for (int i = 0; i < N; i++) {
        double z = dlrt_rng_normal(&rng, 0, 1);
        sum += z;
        sq += z * z;
        cube += z * z * z;
        float u = dlrt_rng_uniform(&rng);
        usum += u;
        usq += (double)u * u;
        umin = fminf(umin, u);
        umax = fmaxf(umax, u);
        counts[dlrt_rng_below(&rng, 10)]++;
    }
    double mean = sum / N, var = sq / N - mean * mean;
    CU_ASSERT(fabs(mean) < 0.01);
    CU_ASSERT(fabs(var - 1) < 0.02);
    CU_ASSERT(fabs(cube / N) < 0.03); /* symmetric */
    double umean = usum / N;
    CU_ASSERT(fabs(umean - 0.5) < 0.005);
    CU_ASSERT(fabs(usq / N - umean * umean - 1.0 / 12) < 0.002);
    CU_ASSERT(umin >= 0 && umax < 1);
    for (int k = 0; k < 10; k++)
        CU_ASSERT(abs(counts[k] - N / 10) < N / 100);
    /* Shifted and scaled normal. */
    double s2 = 0;
    for (int i = 0; i < N; i++)
        s2 += dlrt_rng_normal(&rng, 3, 0.5);
    CU_ASSERT(fabs(s2 / N - 3) < 0.01);
}

static void test_hash32(void) {
    /* SplitMix64 seeded with 0 first returns 0xE220A8397B1DCDAF; hash32(0, 0) is its upper half. */
    CU_ASSERT_EQUAL(dlrt_hash32(0, 0), 0xE220A839u);
    CU_ASSERT_EQUAL(dlrt_hash32(5, 17), dlrt_hash32(5, 17));
    CU_ASSERT_NOT_EQUAL(dlrt_hash32(5, 17), dlrt_hash32(5, 18));
    CU_ASSERT_NOT_EQUAL(dlrt_hash32(5, 17), dlrt_hash32(6, 17));
    double sum = 0;
    int kept = 0;
    for (uint64_t i = 0; i < 100000; i++) {
        float u = dlrt_hash_uniform(99, i);
        sum += u;
        kept += u >= 0.3f;
    }
    CU_ASSERT(fabs(sum / 100000 - 0.5) < 0.005);
    CU_ASSERT(abs(kept - 70000) < 700); /* dropout p = 0.3 keeps 70% */
}

/* ---------------------------------------------------------------------------------------------------------- */
/* IDX reader                                                                                                 */
/* ---------------------------------------------------------------------------------------------------------- */

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Writes an IDX images file of n rows x cols images (pixel = (i + k) % 256) whose body is cut to `body` bytes
 * (-1 = all), gzip-compressed unless plain. */
static void write_images(const char *path, uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols, long body,
                         int plain) {
    size_t full = (size_t)n * rows * cols;
    size_t len = 16 + (body < 0 ? full : (size_t)body);
    unsigned char *buf = malloc(len);
    put_be32(buf, magic);
    put_be32(buf + 4, n);
    put_be32(buf + 8, rows);
    put_be32(buf + 12, cols);
    for (size_t k = 16; k < len; k++)
        buf[k] = (unsigned char)((k - 16) / (rows * cols) + (k - 16) % (rows * cols));
    if (plain) {
        spit(path, buf, len);
    } else {
        gzFile f = gzopen(path, "wb");
        CU_ASSERT_FATAL(f != NULL);
        gzwrite(f, buf, (unsigned)len);
        gzclose(f);
    }
    free(buf);
}

/* Writes an IDX labels file whose header says n and whose body is the first min(n, 256) of labels. */
static void write_labels(const char *path, uint32_t magic, uint32_t n, const unsigned char *labels) {
    unsigned char buf[8 + 256];
    unsigned body = n < 256 ? n : 256;
    put_be32(buf, magic);
    put_be32(buf + 4, n);
    memcpy(buf + 8, labels, body);
    gzFile f = gzopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    gzwrite(f, buf, 8 + body);
    gzclose(f);
}

static const unsigned char some_labels[5] = {3, 0, 9, 1, 4};

static void test_idx_valid(void) {
    const char *img = tmp_path("ok-images.gz"), *lab = tmp_path("ok-labels.gz");
    write_images(img, 0x803, 5, 3, 2, -1, 0);
    write_labels(lab, 0x801, 5, some_labels);
    DlrtDataset ds;
    DlrtError err;
    CU_ASSERT_EQUAL_FATAL(dlrt_idx_load(img, lab, 10, 0, &ds, &err), DLRT_OK);
    CU_ASSERT_EQUAL(ds.n, 5);
    CU_ASSERT_EQUAL(ds.rank, 3);
    CU_ASSERT_EQUAL(ds.dims[1], 3);
    CU_ASSERT_EQUAL(ds.dims[2], 2);
    CU_ASSERT_EQUAL(ds.features, 6);
    CU_ASSERT_EQUAL(ds.labels[2], 9);
    CU_ASSERT_DOUBLE_EQUAL(ds.x[2 * 6 + 1], 3.0 / 255, 1e-7); /* image 2, pixel 1: 2 + 1 */
    dlrt_dataset_free(&ds);
    CU_ASSERT_PTR_NULL(ds.x);

    /* limit keeps the first examples; plain (uncompressed) files read the same. */
    const char *plain = tmp_path("plain-images");
    write_images(plain, 0x803, 5, 3, 2, -1, 1);
    CU_ASSERT_EQUAL_FATAL(dlrt_idx_load(plain, lab, 10, 2, &ds, &err), DLRT_OK);
    CU_ASSERT_EQUAL(ds.n, 2);
    CU_ASSERT_EQUAL(ds.labels[1], 0);
    CU_ASSERT_DOUBLE_EQUAL(ds.x[6 + 5], 6.0 / 255, 1e-7);
    dlrt_dataset_free(&ds);
}

static void test_idx_errors(void) {
    DlrtDataset ds;
    DlrtError err;
    const char *lab = tmp_path("labels.gz");
    write_labels(lab, 0x801, 5, some_labels);

    const char *bad_magic = tmp_path("magic-images.gz");
    write_images(bad_magic, 0x801, 5, 3, 2, -1, 0);
    CU_ASSERT_EQUAL(dlrt_idx_load(bad_magic, lab, 10, 0, &ds, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, bad_magic);
    ASSERT_MSG_HAS(err, "expected 0x00000803");
    ASSERT_MSG_HAS(err, "found 0x00000801");
    CU_ASSERT_PTR_NULL(ds.x);

    const char *truncated = tmp_path("short-images.gz");
    write_images(truncated, 0x803, 5, 3, 2, 20, 0);
    CU_ASSERT_EQUAL(dlrt_idx_load(truncated, lab, 10, 0, &ds, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, truncated);
    ASSERT_MSG_HAS(err, "truncated");
    ASSERT_MSG_HAS(err, "byte offset 34"); /* the fourth image starts at 16 + 3 * 6 */
    /* ... but the first three images are there, so a limit of 3 reads fine. */
    CU_ASSERT_EQUAL(dlrt_idx_load(truncated, lab, 10, 3, &ds, &err), DLRT_OK);
    dlrt_dataset_free(&ds);

    const char *four = tmp_path("four-labels.gz");
    write_labels(four, 0x801, 4, some_labels);
    const char *img = tmp_path("images.gz");
    write_images(img, 0x803, 5, 3, 2, -1, 0);
    CU_ASSERT_EQUAL(dlrt_idx_load(img, four, 10, 0, &ds, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, four);
    ASSERT_MSG_HAS(err, "4 labels");
    ASSERT_MSG_HAS(err, "5 images");

    CU_ASSERT_EQUAL(dlrt_idx_load(img, lab, 9, 0, &ds, &err), DLRT_EFORMAT); /* label 9 with 9 classes */
    ASSERT_MSG_HAS(err, lab);
    ASSERT_MSG_HAS(err, "label 9 at byte offset 10");
    ASSERT_MSG_HAS(err, "expected 0 to 8");

    /* Decompression bombs: small gzip files whose headers claim 2^28 images of 28 x 28 and 2^28 labels (the
     * counts agree) are refused from their headers and sizes, before anything is inflated. */
    const char *bomb = tmp_path("bomb-images.gz"), *bomb_labels = tmp_path("bomb-labels.gz");
    write_images(bomb, 0x803, 1u << 28, 28, 28, 1 << 20, 0); /* 1 MB of the claimed 210 GB, a few KB on disk */
    static const unsigned char zeros[256];
    write_labels(bomb_labels, 0x801, 1u << 28, zeros);
    CU_ASSERT_EQUAL(dlrt_idx_load(bomb, bomb_labels, 10, 0, &ds, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, bomb);
    ASSERT_MSG_HAS(err, "the header claims 268435456 images of 28 x 28 pixels (210453397520 bytes), but a gzip file");
    CU_ASSERT_PTR_NULL(ds.x);
    CU_ASSERT_EQUAL(dlrt_idx_load_images(bomb, 0, &ds, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "the file is damaged or forged");
    /* ... the labels alone, beside images that could be real */
    const char *many = tmp_path("many-images.gz");
    write_images(many, 0x803, 1u << 28, 1, 1, 0, 0);
    CU_ASSERT_EQUAL(dlrt_idx_load(many, bomb_labels, 10, 0, &ds, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "the header claims 268435456 images of 1 x 1 pixels");
    /* ... and --limit reads only what it asks for, so the same files are fine for their first examples */
    CU_ASSERT_EQUAL(dlrt_idx_load(bomb, bomb_labels, 10, 5, &ds, &err), DLRT_OK);
    CU_ASSERT_EQUAL(ds.n, 5);
    dlrt_dataset_free(&ds);

    const char *missing = tmp_path("no-such-file.gz");
    CU_ASSERT_EQUAL(dlrt_idx_load(missing, lab, 10, 0, &ds, &err), DLRT_EIO);
    ASSERT_MSG_HAS(err, missing);

    CU_ASSERT_EQUAL(dlrt_load_fashion_mnist(tmpdir, 0, &ds, &ds, &err), DLRT_EIO);
    ASSERT_MSG_HAS(err, "apt-get install dataset-fashion-mnist");
    ASSERT_MSG_HAS(err, tmpdir);
}

static void test_fashion_mnist(void) {
    struct stat st;
    if (stat(DLRT_FASHION_MNIST_DIR, &st) != 0) {
        printf("\n    skipped: %s does not exist (apt-get install dataset-fashion-mnist)\n", DLRT_FASHION_MNIST_DIR);
        CU_PASS("skipped");
        return;
    }
    DlrtDataset train, test;
    DlrtError err;
    int rc = dlrt_load_fashion_mnist(NULL, 0, &train, &test, &err);
    if (rc)
        fprintf(stderr, "\n    %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, DLRT_OK);
    CU_ASSERT_EQUAL(train.n, 60000);
    CU_ASSERT_EQUAL(test.n, 10000);
    CU_ASSERT_EQUAL(train.features, 784);
    int counts[10] = {0}, in_range = 1;
    for (int64_t i = 0; i < train.n; i++) {
        in_range &= train.labels[i] >= 0 && train.labels[i] < 10;
        if (train.labels[i] >= 0 && train.labels[i] < 10)
            counts[train.labels[i]]++;
    }
    CU_ASSERT(in_range);
    for (int k = 0; k < 10; k++)
        CU_ASSERT_EQUAL(counts[k], 6000); /* Fashion-MNIST is balanced */
    float lo = 1, hi = 0;
    for (int64_t i = 0; i < test.n * test.features; i++) {
        lo = fminf(lo, test.x[i]);
        hi = fmaxf(hi, test.x[i]);
    }
    CU_ASSERT(lo == 0.0f && hi == 1.0f);
    dlrt_dataset_free(&train);
    dlrt_dataset_free(&test);

    CU_ASSERT_EQUAL_FATAL(dlrt_load_fashion_mnist(NULL, 100, &train, &test, &err), DLRT_OK);
    CU_ASSERT_EQUAL(train.n, 100);
    CU_ASSERT_EQUAL(test.n, 100);

    /* held as bytes, the images batch into the floats the float loader holds, bit for bit */
    DlrtDataset train8, test8;
    CU_ASSERT_EQUAL_FATAL(dlrt_load_fashion_mnist_u8(NULL, 100, &train8, &test8, &err), DLRT_OK);
    CU_ASSERT(train8.x == NULL && train8.u8 != NULL && train8.n == 100 && train8.features == 784);
    CU_ASSERT(memcmp(train8.labels, train.labels, sizeof(int32_t) * 100) == 0);
    static float got[100 * 784];
    dlrt_dataset_get(&test8, 0, 100, got);
    CU_ASSERT(memcmp(got, test.x, sizeof got) == 0);
    DlrtBatcher b;
    CU_ASSERT_EQUAL_FATAL(dlrt_batcher_init(&b, 100, 32, &err), DLRT_OK);
    DlrtRng rng;
    dlrt_rng_seed(&rng, 3, 1);
    dlrt_batcher_start_epoch(&b, &rng);
    int32_t labels[32];
    int64_t m = dlrt_batcher_next(&b, &train8, got, labels, NULL);
    CU_ASSERT_EQUAL(m, 32);
    int same = 1;
    for (int64_t i = 0; i < m; i++)
        same &= memcmp(got + i * 784, train.x + b.order[i] * 784, sizeof(float) * 784) == 0 &&
                labels[i] == train.labels[b.order[i]];
    CU_ASSERT(same);
    dlrt_batcher_free(&b);
    dlrt_dataset_free(&train8);
    dlrt_dataset_free(&test8);
    CU_ASSERT_PTR_NULL(train8.u8);
    dlrt_dataset_free(&train);
    dlrt_dataset_free(&test);
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Checkpoints                                                                                                */
/* ---------------------------------------------------------------------------------------------------------- */

typedef struct {
    float w[6], b[3];
    double m[6];
    DlrtTensorDesc params[2], optim[1];
    DlrtCheckpoint ck;
} Model;

static void model_init(Model *m, float base) {
    memset(m, 0, sizeof *m);
    for (int i = 0; i < 6; i++) {
        m->w[i] = base + (float)i;
        m->m[i] = base * 0.5 + i;
    }
    for (int i = 0; i < 3; i++)
        m->b[i] = -base - (float)i;
    m->params[0] = (DlrtTensorDesc){"0.weight", DLRT_F32, 2, {2, 3}, m->w};
    m->params[1] = (DlrtTensorDesc){"0.bias", DLRT_F32, 1, {3}, m->b};
    m->optim[0] = (DlrtTensorDesc){"0.weight.momentum", DLRT_F64, 2, {2, 3}, m->m};
    m->ck = (DlrtCheckpoint){m->params, 2, m->optim, 1, 0, 1, 7, 1234, 1, {0, 1}, 1, 0, 0, 0, 0};
    dlrt_rng_seed(&m->ck.rng, 5, 3);
}

static void test_crc32_matches_zlib(void) {
    const char *text = "The quick brown fox jumps over the lazy dog";
    uLong z = crc32(0L, (const Bytef *)text, (uInt)strlen(text));
    CU_ASSERT_EQUAL(dlrt_crc32(0, text, strlen(text)), (uint32_t)z);
    CU_ASSERT_EQUAL(dlrt_crc32(0, text, strlen(text)), 0x414FA339u);
    /* chaining */
    CU_ASSERT_EQUAL(dlrt_crc32(dlrt_crc32(0, text, 10), text + 10, strlen(text) - 10), (uint32_t)z);
}

static void test_checkpoint_round_trip(void) {
    Model a, b;
    model_init(&a, 1.5f);
    model_init(&b, 0);
    DlrtError err;
    const char *path = tmp_path("model.ckpt");
    CU_ASSERT_EQUAL_FATAL(dlrt_checkpoint_save(path, &a.ck, &err), DLRT_OK);
    b.ck.has_epoch = b.ck.has_rng = 0;
    CU_ASSERT_EQUAL_FATAL(dlrt_checkpoint_load(path, &b.ck, DLRT_CKPT_RESUME, &err), DLRT_OK);
    CU_ASSERT(memcmp(a.w, b.w, sizeof a.w) == 0);
    CU_ASSERT(memcmp(a.b, b.b, sizeof a.b) == 0);
    CU_ASSERT(memcmp(a.m, b.m, sizeof a.m) == 0);
    CU_ASSERT(b.ck.has_optim && b.ck.has_epoch && b.ck.has_rng);
    CU_ASSERT_EQUAL(b.ck.epoch, 7);
    CU_ASSERT_EQUAL(b.ck.step, 1234);
    CU_ASSERT(b.ck.rng.state == a.ck.rng.state && b.ck.rng.inc == a.ck.rng.inc);

    /* Writing the loaded state again gives the same bytes (resumed runs must reproduce files exactly). */
    const char *again = tmp_path("again.ckpt");
    CU_ASSERT_EQUAL(dlrt_checkpoint_save(again, &b.ck, &err), DLRT_OK);
    size_t la, lb;
    char *fa = slurp(path, &la), *fb = slurp(again, &lb);
    CU_ASSERT(la == lb && memcmp(fa, fb, la) == 0);
    CU_ASSERT_EQUAL(la, dlrt_checkpoint_size(&a.ck));

    /* The memory variants agree with the file. */
    char buf[1024];
    size_t len = 0;
    CU_ASSERT_EQUAL(dlrt_checkpoint_write_mem(&a.ck, buf, sizeof buf, &len, &err), DLRT_OK);
    CU_ASSERT(len == la && memcmp(buf, fa, la) == 0);
    CU_ASSERT_EQUAL(dlrt_checkpoint_write_mem(&a.ck, buf, 40, &len, &err), DLRT_EINVAL);
    Model c;
    model_init(&c, 0);
    c.ck.optim = NULL; /* inference: weights only, the optimizer section is skipped */
    c.ck.n_optim = 0;
    CU_ASSERT_EQUAL(dlrt_checkpoint_read_mem(fa, la, "embedded", &c.ck, 0, &err), DLRT_OK);
    CU_ASSERT(memcmp(a.w, c.w, sizeof a.w) == 0);
    CU_ASSERT(!c.ck.has_optim);
    free(fa);
    free(fb);
}

static void test_checkpoint_dtype_conversion(void) {
    /* The f64 build's checkpoint loads into the f32 build of the same model. */
    double w64[6] = {0.1, 0.2, 0.3, -0.4, 0.5, 1e-3}, b64[3] = {1, 2, 3};
    DlrtTensorDesc p64[2] = {{"0.weight", DLRT_F64, 2, {2, 3}, w64}, {"0.bias", DLRT_F64, 1, {3}, b64}};
    DlrtCheckpoint ck64 = {p64, 2, NULL, 0, 0, 0, 0, 0, 0, {0, 1}, 1, 0, 0, 0, 0};
    DlrtError err;
    const char *path = tmp_path("f64.ckpt");
    CU_ASSERT_EQUAL_FATAL(dlrt_checkpoint_save(path, &ck64, &err), DLRT_OK);
    Model m;
    model_init(&m, 0);
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(path, &m.ck, 0, &err), DLRT_OK);
    CU_ASSERT_EQUAL(m.w[3], -0.4f);
    CU_ASSERT_EQUAL(m.b[2], 3.0f);
    CU_ASSERT(!m.ck.has_epoch && !m.ck.has_rng && !m.ck.has_optim);
    /* ... but not to resume: that needs the training sections. */
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(path, &m.ck, DLRT_CKPT_RESUME, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, path);
    ASSERT_MSG_HAS(err, "cannot resume");
}

static void test_checkpoint_corruption(void) {
    Model a, b;
    model_init(&a, 2);
    DlrtError err;
    const char *path = tmp_path("good.ckpt");
    CU_ASSERT_EQUAL_FATAL(dlrt_checkpoint_save(path, &a.ck, &err), DLRT_OK);
    size_t len;
    char *bytes = slurp(path, &len);

    /* A flipped bit in the bias data, found by its value (-2.0f occurs only there). */
    const char *bad = tmp_path("flipped.ckpt");
    char *copy = malloc(len);
    memcpy(copy, bytes, len);
    float bias0 = a.b[0];
    char *hit = NULL;
    for (size_t i = 0; i + sizeof bias0 <= len && !hit; i++)
        if (memcmp(copy + i, &bias0, sizeof bias0) == 0)
            hit = copy + i;
    CU_ASSERT_FATAL(hit != NULL);
    hit[1] ^= 0x10;
    spit(bad, copy, len);
    model_init(&b, 0);
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(bad, &b.ck, 0, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, bad);
    ASSERT_MSG_HAS(err, "CRC mismatch");
    ASSERT_MSG_HAS(err, "'0.bias'");
    CU_ASSERT_EQUAL(b.w[0], 0.0f); /* nothing was loaded */

    /* Truncated anywhere: refused. */
    const char *cut = tmp_path("cut.ckpt");
    size_t cuts[4] = {0, 20, len / 2, len - 1};
    for (int i = 0; i < 4; i++) {
        spit(cut, bytes, cuts[i]);
        err.msg[0] = '\0';
        CU_ASSERT_EQUAL(dlrt_checkpoint_load(cut, &b.ck, 0, &err), DLRT_EFORMAT);
        ASSERT_MSG_HAS(err, cut);
        ASSERT_MSG_HAS(err, "truncated");
    }

    /* A damaged layout hash in the header (byte offset 16) with intact tensors. */
    memcpy(copy, bytes, len);
    copy[16] ^= 1;
    spit(bad, copy, len);
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(bad, &b.ck, 0, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "layout hash");

    /* A flipped byte in the training section (epoch, step) or the RNG section: refused by their CRC. */
    {
        Model c;
        model_init(&c, 3);
        c.ck.has_epoch = 1;
        c.ck.epoch = 3;
        c.ck.step = 700;
        c.ck.has_rng = 1;
        dlrt_rng_seed(&c.ck.rng, 5, 1);
        c.ck.has_best = 1; /* --save-best's score, which a resumed run keeps competing with */
        c.ck.best_epoch = 2;
        c.ck.best_score = 0.8125;
        const char *tr = tmp_path("train-section.ckpt");
        CU_ASSERT_EQUAL_FATAL(dlrt_checkpoint_save(tr, &c.ck, &err), DLRT_OK);
        Model r;
        model_init(&r, 0);
        CU_ASSERT_EQUAL_FATAL(dlrt_checkpoint_load(tr, &r.ck, DLRT_CKPT_RESUME, &err), DLRT_OK);
        CU_ASSERT(r.ck.has_best && r.ck.best_epoch == 2 && r.ck.best_score == 0.8125);
        size_t tlen;
        char *tb = slurp(tr, &tlen);
        static const char *const tags[3] = {"TRAN", "RNGS", "BEST"};
        for (int s = 0; s < 3; s++) {
            char *at = NULL;
            for (size_t i = 32; i + 4 <= tlen && !at; i++)
                if (memcmp(tb + i, tags[s], 4) == 0)
                    at = tb + i;
            CU_ASSERT_FATAL(at != NULL);
            at[16] ^= 0x04; /* the first body byte: the epoch, or the RNG state */
            spit(bad, tb, tlen);
            at[16] ^= 0x04;
            err.msg[0] = '\0';
            CU_ASSERT_EQUAL(dlrt_checkpoint_load(bad, &c.ck, DLRT_CKPT_RESUME, &err), DLRT_EFORMAT);
            ASSERT_MSG_HAS(err, "CRC mismatch");
            ASSERT_MSG_HAS(err, s == 2 ? "best-score section" : s ? "RNG section" : "training section");
        }
        free(tb);
    }

    /* Wrong magic. */
    memcpy(copy, bytes, len);
    copy[1] = 'X';
    spit(bad, copy, len);
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(bad, &b.ck, 0, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "not a dlc checkpoint");

    /* Another model: a different shape for the bias. */
    float other_b[4];
    DlrtTensorDesc other[2] = {a.params[0], {"0.bias", DLRT_F32, 1, {4}, other_b}};
    DlrtCheckpoint ck = {other, 2, NULL, 0, 0, 0, 0, 0, 0, {0, 1}, 1, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(path, &ck, 0, &err), DLRT_EMISMATCH);
    ASSERT_MSG_HAS(err, path);
    ASSERT_MSG_HAS(err, "another model");
    ASSERT_MSG_HAS(err, "'0.bias' [3] in the file but '0.bias' [4] in the model");
    /* ... and one with an extra parameter. */
    float extra[2];
    DlrtTensorDesc three[3] = {a.params[0], a.params[1], {"1.weight", DLRT_F32, 1, {2}, extra}};
    ck.params = three;
    ck.n_params = 3;
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(path, &ck, 0, &err), DLRT_EMISMATCH);
    ASSERT_MSG_HAS(err, "the file has 2 parameter tensors, the model has 3");

    /* Not a file at all. */
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(tmp_path("absent.ckpt"), &b.ck, 0, &err), DLRT_EIO);
    ASSERT_MSG_HAS(err, "absent.ckpt");
    free(copy);
    free(bytes);
}

/* Well-formed files (valid CRCs) whose values or fields are out of range: refused, naming the tensor and the first
 * bad index, and nothing loaded. */
static void test_checkpoint_values(void) {
    DlrtError err;
    const char *path = tmp_path("values.ckpt");
    static const struct {
        int tensor, index;
        float value;
        const char *what;
    } cases[] = {
        {0, 4, NAN, "parameter tensor '0.weight' holds NaN at index 4 of f32[2, 3]"},
        {1, 2, INFINITY, "parameter tensor '0.bias' holds inf at index 2 of f32[3]"},
        {1, 0, -INFINITY, "parameter tensor '0.bias' holds -inf at index 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Model a, b;
        model_init(&a, 1);
        (cases[i].tensor ? a.b : a.w)[cases[i].index] = cases[i].value;
        CU_ASSERT_EQUAL_FATAL(dlrt_checkpoint_save(path, &a.ck, &err), DLRT_OK);
        model_init(&b, 0);
        err.msg[0] = '\0';
        CU_ASSERT_EQUAL(dlrt_checkpoint_load(path, &b.ck, 0, &err), DLRT_EFORMAT);
        ASSERT_MSG_HAS(err, path);
        ASSERT_MSG_HAS(err, cases[i].what);
        CU_ASSERT_EQUAL(b.w[0], 0.0f); /* nothing was loaded (1 in the file) */
    }
    /* ... found past the first block of 1024 values the scan takes at a time, and in the last, partial one */
    static float big[3000], into[3000];
    static const int at[2] = {1500, 2999};
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 3000; k++)
            big[k] = (float)k;
        big[at[i]] = NAN;
        DlrtTensorDesc d = {"big", DLRT_F32, 1, {3000}, big}, e = {"big", DLRT_F32, 1, {3000}, into};
        DlrtCheckpoint w = {.params = &d, .n_params = 1}, r = {.params = &e, .n_params = 1};
        CU_ASSERT_EQUAL_FATAL(dlrt_checkpoint_save(path, &w, &err), DLRT_OK);
        CU_ASSERT_EQUAL(dlrt_checkpoint_load(path, &r, 0, &err), DLRT_EFORMAT);
        ASSERT_MSG_HAS(err, i ? "'big' holds NaN at index 2999 of f32[3000]" : "'big' holds NaN at index 1500 of");
    }
    /* A NaN in the optimizer state is refused as well. */
    Model a, b;
    model_init(&a, 1);
    a.m[5] = NAN;
    CU_ASSERT_EQUAL_FATAL(dlrt_checkpoint_save(path, &a.ck, &err), DLRT_OK);
    model_init(&b, 0);
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(path, &b.ck, DLRT_CKPT_RESUME, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "optimizer state tensor '0.weight.momentum' holds NaN at index 5 of f64[2, 3]");

    /* f64 values beyond f32's range: refused where they become f32, accepted by an f64 reader unless it asks for
     * f32 values (dlc compile --weights for an f32 build). */
    double w64[6] = {0.1, 0.2, 0.3, -1e300, 0.5, 1e-3}, b64[3] = {1, 2, 3};
    DlrtTensorDesc p64[2] = {{"0.weight", DLRT_F64, 2, {2, 3}, w64}, {"0.bias", DLRT_F64, 1, {3}, b64}};
    DlrtCheckpoint ck64 = {p64, 2, NULL, 0, 0, 0, 0, 0, 0, {0, 1}, 1, 0, 0, 0, 0};
    CU_ASSERT_EQUAL_FATAL(dlrt_checkpoint_save(path, &ck64, &err), DLRT_OK);
    model_init(&b, 0);
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(path, &b.ck, 0, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "parameter tensor '0.weight' holds a value beyond the range of f32");
    ASSERT_MSG_HAS(err, "at index 3 of f64[2, 3]");
    CU_ASSERT_EQUAL(b.w[0], 0.0f);
    double r64[6], rb64[3];
    DlrtTensorDesc q64[2] = {{"0.weight", DLRT_F64, 2, {2, 3}, r64}, {"0.bias", DLRT_F64, 1, {3}, rb64}};
    DlrtCheckpoint read64 = {q64, 2, NULL, 0, 0, 0, 0, 0, 0, {0, 1}, 1, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(path, &read64, 0, &err), DLRT_OK);
    CU_ASSERT_EQUAL(r64[3], -1e300);
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(path, &read64, DLRT_CKPT_F32_VALUES, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "beyond the range of f32");
    w64[3] = 3.4028234663852886e38; /* FLT_MAX itself fits */
    CU_ASSERT_EQUAL_FATAL(dlrt_checkpoint_save(path, &ck64, &err), DLRT_OK);
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(path, &b.ck, 0, &err), DLRT_OK);

    /* An epoch count of 2^64 - 1 (read as -1, it resumed "after epoch -1") and one just past --epochs' range. */
    static const int64_t epochs[2] = {-1, (INT64_C(1) << 40) + 1};
    for (int i = 0; i < 2; i++) {
        model_init(&a, 1);
        a.ck.epoch = epochs[i];
        CU_ASSERT_EQUAL_FATAL(dlrt_checkpoint_save(path, &a.ck, &err), DLRT_OK);
        model_init(&b, 0);
        CU_ASSERT_EQUAL(dlrt_checkpoint_load(path, &b.ck, DLRT_CKPT_RESUME, &err), DLRT_EFORMAT);
        ASSERT_MSG_HAS(err, "the epoch count at byte offset ");
        ASSERT_MSG_HAS(err, i ? "is 1099511627777, expected 0 to 2^40" : "is 18446744073709551615, expected 0 to 2^40");
        CU_ASSERT_EQUAL(b.w[0], 0.0f);
    }
    a.ck.epoch = INT64_C(1) << 40;
    CU_ASSERT_EQUAL_FATAL(dlrt_checkpoint_save(path, &a.ck, &err), DLRT_OK);
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(path, &b.ck, DLRT_CKPT_RESUME, &err), DLRT_OK);
}

static void test_layout_hash(void) {
    Model a;
    model_init(&a, 0);
    uint64_t h = dlrt_layout_hash(a.params, 2);
    CU_ASSERT_EQUAL(h, dlrt_layout_hash(a.params, 2));
    a.params[1].dims[0] = 4;
    CU_ASSERT_NOT_EQUAL(h, dlrt_layout_hash(a.params, 2));
    a.params[1].dims[0] = 3;
    a.params[1].name = "0.bias2";
    CU_ASSERT_NOT_EQUAL(h, dlrt_layout_hash(a.params, 2));
    a.params[1].name = "0.bias";
    a.params[1].dtype = DLRT_F64; /* dtype is not part of the layout */
    CU_ASSERT_EQUAL(h, dlrt_layout_hash(a.params, 2));
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Batching and data                                                                                          */
/* ---------------------------------------------------------------------------------------------------------- */

static void test_batcher(void) {
    enum { N = 103, B = 10 };
    float xs[N * 2];
    int32_t labels[N];
    for (int i = 0; i < N; i++) {
        xs[2 * i] = (float)i;
        xs[2 * i + 1] = (float)-i;
        labels[i] = i;
    }
    DlrtDataset ds = {N, 1, {2, 0, 0, 0}, 2, xs, labels, N, NULL, 0, NULL};
    DlrtBatcher b;
    DlrtError err;
    CU_ASSERT_EQUAL_FATAL(dlrt_batcher_init(&b, N, B, &err), DLRT_OK);
    CU_ASSERT_EQUAL(dlrt_batcher_batches(&b), 11);
    DlrtRng rng, rng2;
    dlrt_rng_seed(&rng, 3, 0);
    dlrt_rng_seed(&rng2, 3, 0);
    int32_t first_order[N], order[N];
    for (int epoch = 0; epoch < 3; epoch++) {
        int seen[N] = {0};
        float x[B * 2];
        int32_t y[B];
        int64_t n, total = 0, batches = 0, last = 0;
        int rows_ok = 1;
        dlrt_batcher_start_epoch(&b, &rng);
        while ((n = dlrt_batcher_next(&b, &ds, x, y, NULL)) > 0) {
            for (int64_t i = 0; i < n; i++) {
                seen[y[i]]++;
                rows_ok &= x[2 * i] == (float)y[i] && x[2 * i + 1] == (float)-y[i];
                order[total + i] = y[i];
            }
            total += n;
            batches++;
            last = n;
        }
        CU_ASSERT(rows_ok);
        CU_ASSERT_EQUAL(total, N);
        CU_ASSERT_EQUAL(batches, 11);
        CU_ASSERT_EQUAL(last, 3);
        int once = 1;
        for (int i = 0; i < N; i++)
            once &= seen[i] == 1;
        CU_ASSERT(once);
        if (epoch == 0) {
            memcpy(first_order, order, sizeof order);
            int shuffled = 0;
            for (int i = 0; i < N; i++)
                shuffled |= order[i] != i;
            CU_ASSERT(shuffled);
        } else {
            CU_ASSERT(memcmp(first_order, order, sizeof order) != 0); /* epochs differ */
        }
    }
    /* The first epoch is exactly the documented Fisher-Yates over the identity. */
    DlrtRng ref;
    dlrt_rng_seed(&ref, 3, 0);
    int32_t expected[N];
    for (int i = 0; i < N; i++)
        expected[i] = i;
    for (int i = N - 1; i > 0; i--) {
        uint32_t j = dlrt_rng_below(&ref, (uint32_t)i + 1);
        int32_t t = expected[i];
        expected[i] = expected[j];
        expected[j] = t;
    }
    CU_ASSERT(memcmp(expected, first_order, sizeof expected) == 0);

    /* The same seed gives the same first epoch. */
    dlrt_batcher_start_epoch(&b, &rng2);
    float x[B * 2];
    int32_t y[B];
    int same = 1;
    for (int64_t pos = 0, n; (n = dlrt_batcher_next(&b, &ds, x, y, NULL)) > 0; pos += n)
        for (int64_t i = 0; i < n; i++)
            same &= y[i] == first_order[pos + i];
    CU_ASSERT(same);
    /* Without an RNG the order is sequential (evaluation). */
    dlrt_batcher_start_epoch(&b, NULL);
    CU_ASSERT_EQUAL(dlrt_batcher_next(&b, &ds, x, y, NULL), B);
    CU_ASSERT(y[0] == 0 && y[9] == 9);
    dlrt_batcher_free(&b);
}

static void test_resize(void) {
    /* Constant images stay constant, up and down. */
    float c[28 * 28], big[224 * 224], small[7 * 5];
    for (int i = 0; i < 28 * 28; i++)
        c[i] = 0.375f;
    dlrt_resize_bilinear(c, 1, 28, 28, big, 224, 224);
    int constant = 1;
    for (int i = 0; i < 224 * 224; i++)
        constant &= fabsf(big[i] - 0.375f) < 1e-6f;
    CU_ASSERT(constant);
    dlrt_resize_bilinear(c, 1, 28, 28, small, 7, 5);
    for (int i = 0; i < 35; i++)
        CU_ASSERT(fabsf(small[i] - 0.375f) < 1e-6f);

    /* F.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=4, mode="bilinear", align_corners=False):
     * source coordinates (d + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (upper neighbour clamped),
     * so each axis interpolates with weights 0, 0.25, 0.75, 1 and out[i][j] = 2 w[i] + w[j]. */
    static const float src[2][4] = {{0, 1, 2, 3}, {10, 20, 30, 40}};
    static const float expected[16] = {0,    0.25f, 0.75f, 1,    0.5f, 0.75f, 1.25f, 1.5f,
                                       1.5f, 1.75f, 2.25f, 2.5f, 2,    2.25f, 2.75f, 3};
    float out[2][16];
    dlrt_resize_bilinear(&src[0][0], 2, 2, 2, &out[0][0], 4, 4);
    for (int i = 0; i < 16; i++) {
        CU_ASSERT_DOUBLE_EQUAL(out[0][i], expected[i], 1e-6);
    }
    /* Second plane [[10, 20], [30, 40]] = 10 + 10 * first plane. */
    for (int i = 0; i < 16; i++)
        CU_ASSERT_DOUBLE_EQUAL(out[1][i], 10 + 10 * expected[i], 1e-5);
}

static void test_synthetic(void) {
    DlrtRng rng;
    DlrtError err;
    DlrtDataset ds, test;
    dlrt_rng_seed(&rng, 0, 0);
    const float w[2] = {2, -3.4f};
    CU_ASSERT_EQUAL_FATAL(dlrt_synthetic_linear(w, 2, 4.2f, 0.01f, 1000, &rng, &ds, &err), DLRT_OK);
    CU_ASSERT_EQUAL(ds.n, 1000);
    CU_ASSERT_EQUAL(ds.features, 2);
    CU_ASSERT_PTR_NULL(ds.labels);
    double r2 = 0;
    for (int i = 0; i < 1000; i++) {
        double r = ds.targets[i] - (2 * ds.x[2 * i] - 3.4 * ds.x[2 * i + 1] + 4.2);
        r2 += r * r;
    }
    CU_ASSERT(fabs(sqrt(r2 / 1000) - 0.01) < 0.002); /* the noise's standard deviation */
    dlrt_dataset_free(&ds);

    const float coeffs[4] = {5, 1.2f, -3.4f, 5.6f};
    CU_ASSERT_EQUAL_FATAL(dlrt_synthetic_polynomial(20, 4, coeffs, 4, 0.1f, 100, 100, &rng, &ds, &test, &err), DLRT_OK);
    CU_ASSERT_EQUAL(ds.n, 100);
    CU_ASSERT_EQUAL(test.n, 100);
    CU_ASSERT_EQUAL(ds.features, 4);
    double r2p = 0;
    int features_ok = 1;
    for (int i = 0; i < 100; i++) {
        const float *f = test.x + 4 * i;
        double x = f[1];
        features_ok &= f[0] == 1.0f && fabs(f[2] - x * x / 2) < 1e-5 && fabs(f[3] - x * x * x / 6) < 1e-4;
        double r = test.targets[i] - (5 + 1.2 * x - 3.4 * x * x / 2 + 5.6 * x * x * x / 6);
        r2p += r * r;
    }
    CU_ASSERT(features_ok);
    CU_ASSERT(fabs(sqrt(r2p / 100) - 0.1) < 0.03);
    dlrt_dataset_free(&ds);
    dlrt_dataset_free(&test);
    CU_ASSERT_EQUAL(dlrt_synthetic_polynomial(20, 21, coeffs, 4, 0.1f, 100, 100, &rng, &ds, &test, &err), DLRT_EINVAL);

    CU_ASSERT_EQUAL_FATAL(dlrt_synthetic_high_dim(200, 20, 100, 0.01f, &rng, &ds, &test, &err), DLRT_OK);
    CU_ASSERT_EQUAL(ds.n, 20);
    CU_ASSERT_EQUAL(test.n, 100);
    CU_ASSERT_EQUAL(test.features, 200);
    double s = 0.05;
    for (int k = 0; k < 200; k++)
        s += 0.01 * test.x[k];
    CU_ASSERT(fabs(test.targets[0] - s) < 0.05);
    dlrt_dataset_free(&ds);
    dlrt_dataset_free(&test);

    /* Same seed, same data. */
    DlrtDataset a, b;
    dlrt_rng_seed(&rng, 9, 0);
    dlrt_synthetic_linear(w, 2, 4.2f, 0.01f, 50, &rng, &a, &err);
    dlrt_rng_seed(&rng, 9, 0);
    dlrt_synthetic_linear(w, 2, 4.2f, 0.01f, 50, &rng, &b, &err);
    CU_ASSERT(memcmp(a.x, b.x, 100 * sizeof(float)) == 0 && memcmp(a.targets, b.targets, 50 * sizeof(float)) == 0);
    dlrt_dataset_free(&a);
    dlrt_dataset_free(&b);
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Command line                                                                                               */
/* ---------------------------------------------------------------------------------------------------------- */

static int parse(DlrtArgs *args, DlrtError *err, int argc, const char **argv) {
    return dlrt_parse_args(argc, (char **)argv, args, err);
}

static void test_args(void) {
    DlrtArgs a;
    DlrtError err;
    const char *ok[] = {
        "lenet-train", "--epochs", "3",       "--batch=64", "--lr",     "0.05",      "--seed",  "18446744073709551615",
        "--data",      "/d",       "--quiet", "--save",     "x.ckpt",   "--predict", "a.png",   "b.png",
        "--threads",   "2",        "--limit", "500",        "--report", "r.json",    "--kfold", "5"};
    CU_ASSERT_EQUAL_FATAL(parse(&a, &err, 24, ok), DLRT_OK);
    CU_ASSERT(a.has_epochs && a.epochs == 3);
    CU_ASSERT(a.has_batch && a.batch == 64);
    CU_ASSERT(a.has_lr && a.lr == 0.05);
    CU_ASSERT(a.has_seed && a.seed == UINT64_MAX);
    CU_ASSERT(a.has_threads && a.threads == 2);
    CU_ASSERT(a.has_limit && a.limit == 500);
    CU_ASSERT(a.has_kfold && a.kfold == 5);
    CU_ASSERT_STRING_EQUAL(a.data, "/d");
    CU_ASSERT_STRING_EQUAL(a.save, "x.ckpt");
    CU_ASSERT_STRING_EQUAL(a.report, "r.json");
    CU_ASSERT(a.quiet && !a.help);
    CU_ASSERT_EQUAL(a.n_predict, 2);
    CU_ASSERT_STRING_EQUAL(a.predict[1], "b.png");
    CU_ASSERT_PTR_NULL(a.load);
    CU_ASSERT_PTR_NULL(a.metrics);

    const char *none[] = {"t"};
    CU_ASSERT_EQUAL(parse(&a, &err, 1, none), DLRT_OK);
    CU_ASSERT(!a.has_epochs && !a.has_lr && !a.has_seed && !a.quiet && a.n_predict == 0);

    const char *help[] = {"t", "--help"};
    CU_ASSERT_EQUAL(parse(&a, &err, 2, help), DLRT_OK);
    CU_ASSERT(a.help);

    struct {
        int argc;
        const char *argv[4];
        const char *says;
    } bad[] = {
        {2, {"t", "--frobnicate"}, "unknown option '--frobnicate' (see --help)"}, /* nothing near: no guess */
        {3, {"t", "--epoch", "3"}, "unknown option '--epoch'; did you mean '--epochs'?"},
        {2, {"t", "--epcohs=3"}, "unknown option '--epcohs'; did you mean '--epochs'?"},
        {2, {"t", "-quiet"}, "unknown option '-quiet'; did you mean '--quiet'?"},
        {2, {"t", "--metric"}, "did you mean '--metrics'?"},
        {2, {"t", "--epochs"}, "--epochs needs a value"},
        {3, {"t", "--epochs", "ten"}, "--epochs expects a non-negative integer, got 'ten'"},
        {3, {"t", "--batch", "0"}, "got '0'"},
        {3, {"t", "--lr", "-1"}, "--lr expects a positive number"},
        {3, {"t", "--seed", "-4"}, "--seed expects a non-negative integer"},
        {2, {"t", "stray"}, "unexpected argument 'stray'"},
        {2, {"t", "--predict"}, "--predict needs at least one image file"},
        {3, {"t", "--quiet=yes"}, "--quiet takes no value"},
        {3, {"t", "--kfold", "1"}, "--kfold expects an integer from 2"},
        {5, {"t", "--load", "a", "--resume"}, "--resume needs a value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = '\0';
        CU_ASSERT_EQUAL(parse(&a, &err, bad[i].argc > 4 ? 4 : bad[i].argc, bad[i].argv), DLRT_EUSAGE);
        ASSERT_MSG_HAS(err, bad[i].says);
    }
    const char *conflict[] = {"t", "--load", "a", "--resume", "b"};
    CU_ASSERT_EQUAL(parse(&a, &err, 5, conflict), DLRT_EUSAGE);
    ASSERT_MSG_HAS(err, "conflict");

    /* Usage names every flag and the model's defaults. */
    DlrtArgs defaults = {.epochs = 10, .batch = 256, .lr = 0.1, .seed = 1};
    FILE *f = tmpfile();
    dlrt_usage(f, "mlp-train", "mlp", &defaults);
    rewind(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    const char *names[] = {
        "--epochs",           "--batch",   "--lr",    "--seed",  "--data", "--limit",     "--threads",
        "--report",           "--metrics", "--plot",  "--save",  "--load", "--resume",    "--show-samples",
        "--show-predictions", "--predict", "--kfold", "--quiet", "--help", "default 256", "default 0.1"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(text, names[i]));
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Report, metrics, plot, progress                                                                            */
/* ---------------------------------------------------------------------------------------------------------- */

/* A small JSON reader, enough to check the report: it validates the whole text and records the top-level
 * keys with their numeric values (NaN for non-numbers). */
typedef struct {
    const char *p;
    int depth;
    char keys[32][64];
    double values[32];
    int n;
    int ok;
} Json;

static void ws(Json *j) {
    while (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r')
        j->p++;
}

static int json_value(Json *j, double *num);

static int json_string_token(Json *j, char *out, size_t cap) {
    if (*j->p != '"')
        return 0;
    size_t n = 0;
    for (j->p++; *j->p != '"'; j->p++) {
        if (!*j->p || (unsigned char)*j->p < 0x20)
            return 0;
        if (*j->p == '\\')
            j->p++;
        if (out && n + 1 < cap)
            out[n++] = *j->p;
    }
    if (out)
        out[n] = '\0';
    j->p++;
    return 1;
}

static int json_value(Json *j, double *num) {
    ws(j);
    *num = NAN;
    if (*j->p == '{' || *j->p == '[') {
        char close = *j->p == '{' ? '}' : ']';
        int object = close == '}', top = j->depth == 0;
        j->depth++;
        j->p++;
        ws(j);
        if (*j->p == close) {
            j->p++;
            j->depth--;
            return 1;
        }
        for (;;) {
            char key[64] = "";
            double v;
            ws(j);
            if (object) {
                if (!json_string_token(j, key, sizeof key))
                    return 0;
                ws(j);
                if (*j->p++ != ':')
                    return 0;
            }
            if (!json_value(j, &v))
                return 0;
            if (object && top && j->n < 32) {
                strcpy(j->keys[j->n], key);
                j->values[j->n++] = v;
            }
            ws(j);
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p++ != close)
                return 0;
            j->depth--;
            return 1;
        }
    }
    if (*j->p == '"')
        return json_string_token(j, NULL, 0);
    if (strncmp(j->p, "null", 4) == 0 || strncmp(j->p, "true", 4) == 0) {
        j->p += 4;
        return 1;
    }
    char *end;
    *num = strtod(j->p, &end);
    if (end == j->p)
        return 0;
    j->p = end;
    return 1;
}

static int json_parse(Json *j, const char *text) {
    memset(j, 0, sizeof *j);
    j->p = text;
    double v;
    int ok = json_value(j, &v);
    ws(j);
    return ok && *j->p == '\0';
}

static double json_get(const Json *j, const char *key, int *found) {
    for (int i = 0; i < j->n; i++)
        if (strcmp(j->keys[i], key) == 0) {
            *found = 1;
            return j->values[i];
        }
    *found = 0;
    return NAN;
}

static void test_report(void) {
    float w[2][2] = {{1.5f, -2}, {0.25f, 3}};
    float b[1] = {0.125f};
    DlrtTensorDesc params[2] = {{"net.\"w\"", DLRT_F32, 2, {2, 2}, w}, {"b", DLRT_F32, 1, {1}, b}};
    DlrtFold folds[2] = {{0.1, 0.2}, {0.3, 0.4}};
    DlrtReport r = {"lenet", 10, 0.25,  NAN, 1, 0.9, 0.875, 12345.5, 61.5, 1 << 20,
                    params,  2,  folds, 2,   1, 0,   NAN,   NAN,     0};
    DlrtError err;
    const char *path = tmp_path("report.json");
    CU_ASSERT_EQUAL_FATAL(dlrt_report_write(path, &r, &err), DLRT_OK);
    char *text = slurp(path, NULL);
    Json j;
    CU_ASSERT_FATAL(json_parse(&j, text));
    int found;
    CU_ASSERT_EQUAL(json_get(&j, "epochs", &found), 10);
    CU_ASSERT(found);
    CU_ASSERT_EQUAL(json_get(&j, "train_loss", &found), 0.25);
    CU_ASSERT_EQUAL(json_get(&j, "train_acc", &found), 0.9);
    CU_ASSERT_EQUAL(json_get(&j, "test_acc", &found), 0.875);
    CU_ASSERT_EQUAL(json_get(&j, "examples_per_second", &found), 12345.5);
    CU_ASSERT_EQUAL(json_get(&j, "seconds", &found), 61.5);
    CU_ASSERT_EQUAL(json_get(&j, "peak_rss_bytes", &found), 1 << 20);
    CU_ASSERT_EQUAL(json_get(&j, "ranks", &found), 1);
    json_get(&j, "test_loss", &found);
    CU_ASSERT(found); /* as null */
    json_get(&j, "model", &found);
    CU_ASSERT(found);
    json_get(&j, "parameters", &found);
    CU_ASSERT(found);
    json_get(&j, "kfold", &found);
    CU_ASSERT(found);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"test_loss\": null"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"net.\\\"w\\\"\": [[1.5, -2], [0.25, 3]]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"valid_log_rmse\": 0.2}"));
    free(text);

    /* A regression model: no accuracy keys; a big model: no parameters. */
    float big[1000] = {0};
    DlrtTensorDesc bigp = {"w", DLRT_F32, 1, {1000}, big};
    DlrtReport reg = {"linreg", 3, 0.5, 0.75, 0, NAN, NAN, 1, 1, 1, &bigp, 1, NULL, 0, 1, 0, NAN, NAN, 0};
    CU_ASSERT_EQUAL(dlrt_report_write(path, &reg, &err), DLRT_OK);
    text = slurp(path, NULL);
    CU_ASSERT_FATAL(json_parse(&j, text));
    CU_ASSERT_EQUAL(json_get(&j, "test_loss", &found), 0.75);
    json_get(&j, "train_acc", &found);
    CU_ASSERT(!found);
    json_get(&j, "parameters", &found);
    CU_ASSERT(!found);
    free(text);

    /* Writing into a missing directory fails cleanly and names the file. */
    const char *nowhere = tmp_path("missing/report.json");
    CU_ASSERT_EQUAL(dlrt_report_write(nowhere, &reg, &err), DLRT_EIO);
    ASSERT_MSG_HAS(err, nowhere);
}

static void test_history_outputs(void) {
    DlrtHistory h;
    DlrtError err;
    CU_ASSERT_EQUAL_FATAL(dlrt_history_init(&h, 3, &err), DLRT_OK);
    DlrtEpochScores e[3] = {{0.9, 0.6, NAN, NAN, NAN, 0.55, NAN},
                            {0.5, 0.8, NAN, NAN, NAN, 0.75, NAN},
                            {0.4, 0.85, NAN, NAN, NAN, 0.8, NAN}};
    CU_ASSERT_EQUAL(dlrt_history_add(&h, 1, &e[0], 1.5, &err), DLRT_OK);
    CU_ASSERT_EQUAL(dlrt_history_add(&h, 2, &e[1], 1.25, &err), DLRT_OK);
    CU_ASSERT_EQUAL(dlrt_history_add(&h, 3, &e[2], 1.0, &err), DLRT_OK);
    CU_ASSERT_EQUAL(dlrt_history_add(&h, 4, &e[2], 1.0, &err), DLRT_EINVAL);

    const char *csv = tmp_path("metrics.csv");
    CU_ASSERT_EQUAL_FATAL(dlrt_write_metrics_csv(csv, &h, &err), DLRT_OK);
    char *text = slurp(csv, NULL);
    CU_ASSERT_STRING_EQUAL(text, "epoch,train_loss,train_acc,test_loss,test_acc,seconds\n"
                                 "1,0.9,0.6,,0.55,1.5\n2,0.5,0.8,,0.75,1.25\n3,0.4,0.85,,0.8,1\n");
    free(text);

    /* validation scores and a schedule's rate: their columns before seconds, only when some epoch has them */
    DlrtHistory hv;
    CU_ASSERT_EQUAL_FATAL(dlrt_history_init(&hv, 2, &err), DLRT_OK);
    DlrtEpochScores v[2] = {{0.9, 0.6, 0.95, 0.5, NAN, 0.55, 0.05}, {0.5, 0.8, 0.7, 0.7, NAN, 0.75, 0.025}};
    CU_ASSERT_EQUAL(dlrt_history_add(&hv, 1, &v[0], 2, &err), DLRT_OK);
    CU_ASSERT_EQUAL(dlrt_history_add(&hv, 2, &v[1], 2, &err), DLRT_OK);
    CU_ASSERT_EQUAL_FATAL(dlrt_write_metrics_csv(csv, &hv, &err), DLRT_OK);
    text = slurp(csv, NULL);
    CU_ASSERT_STRING_EQUAL(text, "epoch,train_loss,train_acc,test_loss,test_acc,valid_loss,valid_acc,lr,seconds\n"
                                 "1,0.9,0.6,,0.55,0.95,0.5,0.05,2\n2,0.5,0.8,,0.75,0.7,0.7,0.025,2\n");
    free(text);
    dlrt_history_free(&hv);

    const char *svg = tmp_path("curves.svg");
    CU_ASSERT_EQUAL_FATAL(dlrt_write_history_svg(svg, &h, "mlp <fashion>", 0, &err), DLRT_OK);
    text = slurp(svg, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "<svg"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "</svg>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "mlp &lt;fashion&gt;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, ">train loss<"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, ">test acc<"));
    CU_ASSERT_PTR_NULL(strstr(text, ">test loss<")); /* all NaN: left out */
    CU_ASSERT_PTR_NOT_NULL(strstr(text, ">epoch<"));
    int polylines = 0;
    for (const char *p = text; (p = strstr(p, "<polyline")); p++)
        polylines++;
    CU_ASSERT_EQUAL(polylines, 3);
    free(text);

    /* Log scale skips non-positive values and labels powers of ten. */
    double y[4] = {10, 1, 0.01, 0};
    DlrtSeries s = {"loss", NULL, y, 4};
    CU_ASSERT_EQUAL_FATAL(dlrt_write_plot_svg(svg, "poly", "epoch", "loss", &s, 1, 1, &err), DLRT_OK);
    text = slurp(svg, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, ">0.01<"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, ">10<"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "log scale"));
    free(text);
    dlrt_history_free(&h);
}

/* The schedules' rates against PyTorch's (tests/runtime/schedule_torch.py printed these: SequentialLR of LinearLR
 * and StepLR or CosineAnnealingLR, stepped once per epoch, base rate 0.1). */
static void test_schedule(void) {
    static const struct {
        DlrtSchedule s;
        int epochs;
        double want[10];
    } cases[] = {
        {{DLRT_SCHEDULE_STEP, 3, 0.5, 0, 0, 0, 1},
         8,
         {0.10000000000000001, 0.10000000000000001, 0.10000000000000001, 0.050000000000000003, 0.050000000000000003,
          0.050000000000000003, 0.025000000000000001, 0.025000000000000001}},
        {{DLRT_SCHEDULE_STEP, 2, 0.1, 0, 0, 3, 0.25},
         8,
         {0.025000000000000001, 0.050000000000000003, 0.075000000000000011, 0.10000000000000001, 0.10000000000000001,
          0.010000000000000002, 0.010000000000000002, 0.0010000000000000002}},
        {{DLRT_SCHEDULE_COSINE, 0, 0, 4, 0.01, 2, 1.0 / 3},
         6,
         {0.033333333333333333, 0.066666666666666666, 0.10000000000000001, 0.086819805153394644, 0.055000000000000007,
          0.023180194846605363}},
        {{DLRT_SCHEDULE_COSINE, 0, 0, 0, 0, 0, 1}, /* t_max 0: the run's epochs */
         10,
         {0.10000000000000001, 0.097552825814757688, 0.090450849718747381, 0.079389262614623674, 0.065450849718747386,
          0.05000000000000001, 0.03454915028125264, 0.020610737385376353, 0.0095491502812526351, 0.002447174185242324}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int e = 0; e < cases[c].epochs; e++) {
            double lr = dlrt_schedule_lr(&cases[c].s, 0.1, e, cases[c].epochs);
            if (!(fabs(lr - cases[c].want[e]) <= 1e-15))
                fprintf(stderr, "\n  case %zu epoch %d: %.17g, PyTorch %.17g\n", c, e, lr, cases[c].want[e]);
            CU_ASSERT(fabs(lr - cases[c].want[e]) <= 1e-15);
        }
    /* past t_max the cosine stays at eta_min (PyTorch's would climb again); no schedule is the rate itself */
    DlrtSchedule cos4 = {DLRT_SCHEDULE_COSINE, 0, 0, 4, 0.01, 0, 1}, none = {0};
    CU_ASSERT_EQUAL(dlrt_schedule_lr(&cos4, 0.1, 4, 10), 0.01);
    CU_ASSERT_EQUAL(dlrt_schedule_lr(&cos4, 0.1, 9, 10), 0.01);
    CU_ASSERT_EQUAL(dlrt_schedule_lr(&none, 0.1, 5, 10), 0.1);
}

static void test_progress(void) {
    FILE *f = tmpfile();
    DlrtProgress p;
    dlrt_progress_init(&p, f, 2, 1, 3, 0);
    CU_ASSERT(!p.tty);
    dlrt_progress_epoch_begin(&p, 1);
    dlrt_progress_batch(&p, 1, 0, 10, 1.0);
    dlrt_progress_batch(&p, 1, 1, 10, 0.5);
    dlrt_progress_batch(&p, 1, 2, 5, 0.25);
    CU_ASSERT_DOUBLE_EQUAL(p.loss_sum / (double)p.seen, 16.25 / 25, 1e-12);
    dlrt_progress_epoch_end(&p, 1, &(DlrtEpochScores){0.65, NAN, NAN, NAN, NAN, 0.8, NAN});
    rewind(f);
    char line[256] = "";
    CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof line, f));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "epoch 1/2"));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "train_loss 0.6500"));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "test_acc 0.8000"));
    CU_ASSERT_PTR_NULL(strstr(line, "train_acc"));
    CU_ASSERT_PTR_NULL(strchr(line, '\r')); /* not a terminal: plain lines */
    fclose(f);

    f = tmpfile();
    dlrt_progress_init(&p, f, 1, 1, 1, 1);
    dlrt_progress_epoch_begin(&p, 1);
    dlrt_progress_batch(&p, 1, 0, 10, 1.0);
    dlrt_progress_epoch_end(&p, 1, &(DlrtEpochScores){1.0, NAN, NAN, NAN, NAN, NAN, NAN});
    CU_ASSERT_EQUAL(ftell(f), 0); /* quiet */
    fclose(f);
}

static void test_images(void) {
    float imgs[3][4 * 4];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 16; k++)
            imgs[i][k] = (float)k / 15.0f;
    DlrtError err;
    const char *path = tmp_path("grid.png");
    DlrtCaption caps[3] = {{{"one", "one"}, DLRT_MARK_RIGHT}, {{"two", "zero"}, DLRT_MARK_WRONG}, {{"x", NULL}, 0}};
    CU_ASSERT_EQUAL_FATAL(dlrt_write_image_grid(path, "title", &imgs[0][0], 3, 4, 4, 2, 2, caps, &err), DLRT_OK);
    size_t len;
    char *png = slurp(path, &len);
    CU_ASSERT(len > 8 && memcmp(png, "\x89PNG", 4) == 0);
    free(png);
    /* Read it back, shrunk to 8x8: values stay in [0, 1] and the top-left corner is the white gap. */
    float back[8 * 8];
    CU_ASSERT_EQUAL(dlrt_read_image(path, back, 8, 8, 0, &err), DLRT_OK);
    int in_range = 1;
    for (int i = 0; i < 64; i++)
        in_range &= back[i] >= 0 && back[i] <= 1;
    CU_ASSERT(in_range);
    CU_ASSERT(back[0] > 0.9f); /* white gap in the corner */
    CU_ASSERT_EQUAL(dlrt_read_image(tmp_path("metrics.csv"), back, 8, 8, 0, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "metrics.csv");
}

/* The top classes and PGM decoding behind --predict, and IDX images without labels. */
static void test_predict_helpers(void) {
    float logits[4] = {1, 3, NAN, 2};
    CU_ASSERT_EQUAL(dlrt_argmax(logits, 4), 1);
    int index[5];
    double prob[5];
    float plain[4] = {0, 2, 1, 2};
    CU_ASSERT_EQUAL(dlrt_top_k(plain, 4, 9, index, prob), 4);                    /* k clamped to the classes */
    CU_ASSERT(index[0] == 1 && index[1] == 3 && index[2] == 2 && index[3] == 0); /* ties: lower index first */
    double e = exp(1.0), sum = 1 + e * e + e + e * e;
    CU_ASSERT_DOUBLE_EQUAL(prob[0], e * e / sum, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(prob[3], 1 / sum, 1e-12);
    float huge[2] = {1e30f, 0}; /* the maximum is subtracted: no overflow */
    CU_ASSERT_EQUAL(dlrt_top_k(huge, 2, 1, index, prob), 1);
    CU_ASSERT(index[0] == 0 && prob[0] == 1.0);

    DlrtError err;
    float *px;
    int64_t rows, cols;
    const char p2[] = "P2 # comment\n3 1\n# another\n10\n0 5 10\n";
    CU_ASSERT_EQUAL_FATAL(dlrt_parse_pgm(p2, sizeof p2 - 1, "a.pgm", &px, &rows, &cols, &err), DLRT_OK);
    CU_ASSERT(rows == 1 && cols == 3 && px[0] == 0 && px[1] == 0.5f && px[2] == 1);
    free(px);
    const unsigned char p5[] = {'P', '5', ' ', '2', ' ', '1', ' ', '2', '5', '6', '\n', 1, 0, 0, 128};
    CU_ASSERT_EQUAL_FATAL(dlrt_parse_pgm(p5, sizeof p5, "b.pgm", &px, &rows, &cols, &err), DLRT_OK);
    CU_ASSERT_DOUBLE_EQUAL(px[0], 1.0, 1e-7); /* 256 of maxval 256, two bytes big-endian */
    CU_ASSERT_DOUBLE_EQUAL(px[1], 128.0 / 256, 1e-7);
    free(px);
    CU_ASSERT_EQUAL(dlrt_parse_pgm(p5, sizeof p5 - 1, "c.pgm", &px, &rows, &cols, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "c.pgm: truncated: expected 4 bytes of pixels at byte offset 11");
    CU_ASSERT_PTR_NULL(px);
    const char over[] = "P2 1 1 9 10";
    CU_ASSERT_EQUAL(dlrt_parse_pgm(over, sizeof over - 1, "d.pgm", &px, &rows, &cols, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "d.pgm: PGM sample 10 at byte offset 9 exceeds the maxval 9");
    CU_ASSERT_EQUAL(dlrt_parse_pgm("P6 1 1 9 1", 10, "e.ppm", &px, &rows, &cols, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "e.ppm: not a PGM");

    /* an IDX image file alone, and the same file through dlrt_load_images, resized */
    const char *img = tmp_path("alone-images");
    write_images(img, 0x803, 3, 2, 2, -1, 1);
    DlrtDataset ds;
    CU_ASSERT_EQUAL_FATAL(dlrt_idx_load_images(img, 0, &ds, &err), DLRT_OK);
    CU_ASSERT(ds.n == 3 && ds.features == 4 && ds.labels == NULL);
    dlrt_dataset_free(&ds);
    int inverted = -1;
    CU_ASSERT_EQUAL_FATAL(dlrt_load_images(img, 4, 4, &ds, &inverted, &err), DLRT_OK);
    CU_ASSERT(ds.n == 3 && ds.dims[1] == 4 && ds.dims[2] == 4 && inverted == 0);
    dlrt_dataset_free(&ds);
}

int openblas_get_num_threads(void);

/* What --predict and --load say about files that are not what they should be: each names the file and what is
 * wrong with it (an empty file and a directory used to be "found the bytes 00 00 00 00", a directory to --load
 * "No such device", a truncated PNG "Read Error"). */
static void test_file_messages(void) {
    DlrtDataset ds;
    DlrtError err;
    const char *empty = tmp_path("empty.png"), *dir = tmp_path("a-dir"), *two = tmp_path("two-bytes");
    spit(empty, "", 0);
    mkdir(dir, 0700);
    spit(two, "ab", 2);
    CU_ASSERT_EQUAL(dlrt_load_images(empty, 28, 28, &ds, NULL, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "empty.png: the file is empty (0 bytes), not an image");
    CU_ASSERT_EQUAL(dlrt_load_images(dir, 28, 28, &ds, NULL, &err), DLRT_EIO);
    ASSERT_MSG_HAS(err, "a-dir: a directory, not an image file");
    CU_ASSERT_EQUAL(dlrt_load_images(two, 28, 28, &ds, NULL, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "found the bytes 61 62 at byte offset 0 (the whole file)");

    /* a PNG cut inside its image data, and inside its header chunk */
    const char *png = tmp_path("whole.png"), *cut = tmp_path("cut.png");
    float pixels[28 * 28];
    for (int i = 0; i < 28 * 28; i++)
        pixels[i] = (float)(i % 28) / 27.0f;
    CU_ASSERT_EQUAL_FATAL(dlrt_write_image_grid(png, NULL, pixels, 1, 28, 28, 1, 1, NULL, &err), DLRT_OK);
    size_t len;
    char *bytes = slurp(png, &len);
    CU_ASSERT_FATAL(bytes != NULL && len > 100);
    CU_ASSERT_EQUAL(dlrt_load_images(png, 28, 28, &ds, NULL, &err), DLRT_OK);
    dlrt_dataset_free(&ds);
    spit(cut, bytes, len - 20);
    CU_ASSERT_EQUAL(dlrt_load_images(cut, 28, 28, &ds, NULL, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "cut.png: truncated PNG: the ");
    char expected[128];
    snprintf(expected, sizeof expected, "the file ends at byte offset %zu", len - 20);
    ASSERT_MSG_HAS(err, expected);
    spit(cut, bytes, 30);
    CU_ASSERT_EQUAL(dlrt_load_images(cut, 28, 28, &ds, NULL, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err,
                   "truncated PNG: the IHDR chunk at byte offset 8 needs 25 bytes, the file ends at byte offset 30");
    free(bytes);

    /* a directory given as a checkpoint */
    float w[6], b[3];
    DlrtTensorDesc params[2] = {{"0.weight", DLRT_F32, 2, {2, 3}, w}, {"0.bias", DLRT_F32, 1, {3}, b}};
    DlrtCheckpoint ck = {.params = params, .n_params = 2};
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(dir, &ck, 0, &err), DLRT_EIO);
    ASSERT_MSG_HAS(err, "a-dir: a directory, not a checkpoint file");
}

static void test_misc(void) {
    double t0 = dlrt_now();
    nanosleep(&(struct timespec){0, 10000000}, NULL);
    double t1 = dlrt_now();
    CU_ASSERT(t1 - t0 >= 0.009 && t1 - t0 < 1);
    CU_ASSERT(dlrt_peak_rss() > 1 << 20);
    CU_ASSERT_EQUAL(dlrt_set_threads(1, 1e9), 1);
    CU_ASSERT(dlrt_set_threads(0, 1e9) >= 1);
    /* OpenBLAS gets one thread: the OpenMP threads are the only pool, and the trainer's active wait policy says so */
    unsetenv("DLRT_GEMM");
    dlrt_gemm_select();
    CU_ASSERT_EQUAL(dlrt_set_threads(2, 103e6), 2);
    CU_ASSERT_EQUAL(openblas_get_num_threads(), 1);
    CU_ASSERT_STRING_EQUAL(dlrt_wait_policy(1), "active");
    /* ranks that may share the host's cores sleep when idle, as do threads beside OpenBLAS's own */
    CU_ASSERT_STRING_EQUAL(dlrt_wait_policy(2), "passive");
    CU_ASSERT_STRING_EQUAL(dlrt_wait_policy(0), "passive");
    /* DLRT_GEMM=blas: OpenBLAS's products as before, its threads when the model's largest product is not small
     * (under 48 MFLOP: LeNet's 24.6 gets one, the MLP's 103 all) */
    setenv("DLRT_GEMM", "blas", 1);
    dlrt_gemm_select();
    CU_ASSERT_STRING_EQUAL(dlrt_wait_policy(1), "passive");
    CU_ASSERT_EQUAL(dlrt_set_threads(2, 24.6e6), 2);
    CU_ASSERT_EQUAL(openblas_get_num_threads(), 1);
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
        dlrt_set_threads(2, 103e6);
        CU_ASSERT_EQUAL(openblas_get_num_threads(), 2);
    }
    unsetenv("DLRT_GEMM");
    dlrt_gemm_select();
    CU_ASSERT_STRING_EQUAL(dlrt_fashion_mnist_class(9), "ankle boot");
    CU_ASSERT_STRING_EQUAL(dlrt_fashion_mnist_class(10), "?");
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "%s/dlrt-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("runtime", NULL, NULL);
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"rng known answer", test_rng_known_answer},
        {"rng determinism", test_rng_determinism},
        {"rng moments", test_rng_moments},
        {"hash32", test_hash32},
        {"idx valid", test_idx_valid},
        {"idx errors", test_idx_errors},
        {"fashion-mnist", test_fashion_mnist},
        {"crc32 matches zlib", test_crc32_matches_zlib},
        {"checkpoint round trip", test_checkpoint_round_trip},
        {"checkpoint dtype conversion", test_checkpoint_dtype_conversion},
        {"checkpoint corruption", test_checkpoint_corruption},
        {"checkpoint values", test_checkpoint_values},
        {"file messages", test_file_messages},
        {"layout hash", test_layout_hash},
        {"batcher", test_batcher},
        {"resize", test_resize},
        {"synthetic data", test_synthetic},
        {"args", test_args},
        {"report", test_report},
        {"history outputs", test_history_outputs},
        {"learning-rate schedules against PyTorch", test_schedule},
        {"progress", test_progress},
        {"images", test_images},
        {"predict helpers", test_predict_helpers},
        {"misc", test_misc},
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
