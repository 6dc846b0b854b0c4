/* test_npz.c - CUnit tests of libdlrt's NumPy archives (runtime/npz.c). The archives here are built by this file's
 * own small ZIP and .npy packer, independent of the writer under test, in each form NumPy writes or reads: stored
 * and deflated members, ZIP64 local extras (every member np.savez writes), ZIP64 central fields and end records,
 * .npy versions 1 to 3, big-endian and Fortran-order arrays. Files that NumPy itself writes are read in the
 * interop test (tests/test_interop.c). */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
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

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

/* Whether bytes[0 .. len) contain the string s. */
static int contains(const unsigned char *bytes, size_t len, const char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(bytes + i, s, n) == 0)
            return 1;
    return 0;
}

#define ASSERT_MSG_HAS(err, text)                                                                                      \
    do {                                                                                                               \
        int found_ = strstr((err).msg, (text)) != NULL;                                                                \
        if (!found_)                                                                                                   \
            fprintf(stderr, "\n    message \"%s\" lacks \"%s\"\n", (err).msg, (text));                                 \
        CU_ASSERT(found_);                                                                                             \
    } while (0)

/* ---- the model the archives are read into ---- */

/* "0.weight" f32 [3, 2], "0.bias" f32 [2], "scale" f32 scalar, "bn.num_batches_tracked" i64 scalar. */
typedef struct {
    float w[6], b[2], s;
    int64_t nb;
    DlrtTensorDesc t[4];
} Model;

static const float W[6] = {1.5f, -2.25f, 3.0f, 0.125f, -1e-3f, 7.0f};
static const float B[2] = {-0.5f, 0.75f};
static const float S = 3.25f;
static const int64_t NB = 12345678901LL;

static void model_init(Model *m, float fill) {
    for (int i = 0; i < 6; i++)
        m->w[i] = fill;
    m->b[0] = m->b[1] = m->s = fill;
    m->nb = -1;
    m->t[0] = (DlrtTensorDesc){"0.weight", DLRT_F32, 2, {3, 2}, m->w};
    m->t[1] = (DlrtTensorDesc){"0.bias", DLRT_F32, 1, {2}, m->b};
    m->t[2] = (DlrtTensorDesc){"scale", DLRT_F32, 0, {0}, &m->s};
    m->t[3] = (DlrtTensorDesc){"bn.num_batches_tracked", DLRT_I64, 0, {0}, &m->nb};
}

static void model_expected(Model *m) {
    model_init(m, 0);
    memcpy(m->w, W, sizeof W);
    memcpy(m->b, B, sizeof B);
    m->s = S;
    m->nb = NB;
}

static int model_equal(const Model *a, const Model *b) {
    return memcmp(a->w, b->w, sizeof a->w) == 0 && memcmp(a->b, b->b, sizeof a->b) == 0 &&
           memcmp(&a->s, &b->s, sizeof a->s) == 0 && a->nb == b->nb;
}

/* ---- the test's own .npy and ZIP packer ---- */

typedef struct {
    unsigned char *p;
    size_t len, cap;
} Buf;

static void put(Buf *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}
static void put16(Buf *b, unsigned v) {
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    put(b, x, 2);
}
static void put32(Buf *b, uint32_t v) {
    put16(b, v & 0xffff);
    put16(b, v >> 16);
}
static void put64(Buf *b, uint64_t v) {
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

/* An .npy file: header dictionary `dict` (padded as NumPy pads) and raw data bytes. */
static Buf npy(int version, const char *dict, const void *data, size_t n) {
    Buf b = {0};
    put(&b, "\x93NUMPY", 6);
    unsigned char v[2] = {(unsigned char)version, 0};
    put(&b, v, 2);
    size_t pre = version == 1 ? 10 : 12, dl = strlen(dict), total = (pre + dl + 1 + 63) / 64 * 64;
    if (version == 1)
        put16(&b, (unsigned)(total - pre));
    else
        put32(&b, (uint32_t)(total - pre));
    put(&b, dict, dl);
    for (size_t i = pre + dl; i + 1 < total; i++)
        put(&b, " ", 1);
    put(&b, "\n", 1);
    put(&b, data, n);
    return b;
}

/* The forms of a ZIP archive. */
enum {
    Z_DEFLATE = 1,     /* deflated members (np.savez_compressed) */
    Z_LOCAL64 = 2,     /* ZIP64 extras in the local headers, sizes 0xffffffff there (every np.savez member) */
    Z_CENTRAL64 = 4,   /* ZIP64 extras in the central directory for sizes and offsets */
    Z_END64 = 8,       /* ZIP64 end record and locator, the plain end record saturated */
    Z_COMMENT = 16,    /* an archive comment after the end record */
    Z_DESCRIPTOR = 32, /* general-purpose flag bit 3, a data descriptor after each member (zipfile's unseekable
                          output) */
};

typedef struct {
    const char *name;
    Buf data;
} Entry;

static Buf zip(const Entry *e, int n, int form) {
    Buf z = {0};
    uint64_t *offsets = calloc((size_t)n, sizeof *offsets), *csizes = calloc((size_t)n, sizeof *csizes);
    uint32_t *crcs = calloc((size_t)n, sizeof *crcs);
    Buf *bodies = calloc((size_t)n, sizeof *bodies);
    for (int i = 0; i < n; i++) {
        crcs[i] = (uint32_t)crc32(0, e[i].data.p, (uInt)e[i].data.len);
        if (form & Z_DEFLATE) {
            z_stream s = {0};
            CU_ASSERT_FATAL(deflateInit2(&s, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
            uLong cap = deflateBound(&s, (uLong)e[i].data.len) + 16;
            bodies[i].p = malloc(cap);
            s.next_in = e[i].data.p;
            s.avail_in = (uInt)e[i].data.len;
            s.next_out = bodies[i].p;
            s.avail_out = (uInt)cap;
            CU_ASSERT_FATAL(deflate(&s, Z_FINISH) == Z_STREAM_END);
            bodies[i].len = s.total_out;
            deflateEnd(&s);
        } else {
            put(&bodies[i], e[i].data.p, e[i].data.len);
        }
        csizes[i] = bodies[i].len;
        offsets[i] = z.len;
        size_t nl = strlen(e[i].name);
        int l64 = form & Z_LOCAL64, desc = form & Z_DESCRIPTOR;
        put32(&z, 0x04034b50);
        put16(&z, l64 ? 45 : 20);
        put16(&z, desc ? 8 : 0);
        put16(&z, form & Z_DEFLATE ? 8 : 0);
        put16(&z, 0x6000); /* some time of day */
        put16(&z, 0x5821); /* some date */
        put32(&z, desc ? 0 : crcs[i]);
        put32(&z, l64 ? 0xffffffffu : desc ? 0 : (uint32_t)csizes[i]);
        put32(&z, l64 ? 0xffffffffu : desc ? 0 : (uint32_t)e[i].data.len);
        put16(&z, (unsigned)nl);
        put16(&z, l64 ? 20 : 0);
        put(&z, e[i].name, nl);
        if (l64) {
            put16(&z, 1);
            put16(&z, 16);
            put64(&z, e[i].data.len);
            put64(&z, csizes[i]);
        }
        put(&z, bodies[i].p, bodies[i].len);
        if (desc) {
            put32(&z, 0x08074b50);
            put32(&z, crcs[i]);
            put32(&z, (uint32_t)csizes[i]);
            put32(&z, (uint32_t)e[i].data.len);
        }
    }
    uint64_t cd = z.len;
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(e[i].name);
        int c64 = form & Z_CENTRAL64;
        put32(&z, 0x02014b50);
        put16(&z, 20);
        put16(&z, c64 ? 45 : 20);
        put16(&z, form & Z_DESCRIPTOR ? 8 : 0);
        put16(&z, form & Z_DEFLATE ? 8 : 0);
        put16(&z, 0x6000);
        put16(&z, 0x5821);
        put32(&z, crcs[i]);
        put32(&z, c64 ? 0xffffffffu : (uint32_t)csizes[i]);
        put32(&z, c64 ? 0xffffffffu : (uint32_t)e[i].data.len);
        put16(&z, (unsigned)nl);
        put16(&z, c64 ? 4 + 24 + 8 : 8); /* an unrelated extra field first, to be skipped */
        put16(&z, 0);
        put16(&z, 0);
        put16(&z, 0);
        put32(&z, 0x01800000u);
        put32(&z, c64 ? 0xffffffffu : (uint32_t)offsets[i]);
        put(&z, e[i].name, nl);
        put16(&z, 0x5455); /* extended timestamp, 4 bytes */
        put16(&z, 4);
        put32(&z, 0);
        if (c64) {
            put16(&z, 1);
            put16(&z, 24);
            put64(&z, e[i].data.len);
            put64(&z, csizes[i]);
            put64(&z, offsets[i]);
        }
    }
    uint64_t cd_size = z.len - cd;
    int e64 = form & Z_END64;
    if (e64) {
        uint64_t at = z.len;
        put32(&z, 0x06064b50);
        put64(&z, 44);
        put16(&z, 45);
        put16(&z, 45);
        put32(&z, 0);
        put32(&z, 0);
        put64(&z, (uint64_t)n);
        put64(&z, (uint64_t)n);
        put64(&z, cd_size);
        put64(&z, cd);
        put32(&z, 0x07064b50);
        put32(&z, 0);
        put64(&z, at);
        put32(&z, 1);
    }
    put32(&z, 0x06054b50);
    put16(&z, 0);
    put16(&z, 0);
    put16(&z, e64 ? 0xffff : (unsigned)n);
    put16(&z, e64 ? 0xffff : (unsigned)n);
    put32(&z, e64 ? 0xffffffffu : (uint32_t)cd_size);
    put32(&z, e64 ? 0xffffffffu : (uint32_t)cd);
    const char *comment = form & Z_COMMENT ? "a comment, PK\x05\x06 inside" : "";
    put16(&z, (unsigned)strlen(comment));
    put(&z, comment, strlen(comment));
    for (int i = 0; i < n; i++)
        free(bodies[i].p);
    free(bodies);
    free(offsets);
    free(csizes);
    free(crcs);
    return z;
}

/* The expected model's four members as NumPy writes them. */
static int standard_entries(Entry *e, int version) {
    e[0] = (Entry){"0.weight.npy",
                   npy(version, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", W, sizeof W)};
    e[1] =
        (Entry){"0.bias.npy", npy(version, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", B, sizeof B)};
    e[2] = (Entry){"scale.npy", npy(version, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", &S, sizeof S)};
    e[3] = (Entry){"bn.num_batches_tracked.npy",
                   npy(version, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }", &NB, sizeof NB)};
    return 4;
}

static void free_entries(Entry *e, int n) {
    for (int i = 0; i < n; i++)
        free(e[i].data.p);
}

/* Reads buf into a fresh model; returns the status and leaves the model in *m. */
static int read_into(const Buf *z, Model *m, DlrtError *err) {
    model_init(m, -9.0f);
    memset(err->msg, 0, sizeof err->msg);
    return dlrt_npz_read_mem(z->p, z->len, "t.npz", m->t, 4, 0, err);
}

/* ---- tests ---- */

static void test_round_trip(void) {
    Model a, b;
    model_expected(&a);
    DlrtError err;
    const char *path = tmp_path("a.npz"), *again = tmp_path("b.npz");
    CU_ASSERT_EQUAL_FATAL(dlrt_npz_save(path, a.t, 4, &err), DLRT_OK);
    model_init(&b, 0);
    CU_ASSERT_EQUAL_FATAL(dlrt_npz_load(path, b.t, 4, 0, &err), DLRT_OK);
    CU_ASSERT(model_equal(&a, &b));
    /* the bytes are a function of the tensors: what was read writes the same file */
    CU_ASSERT_EQUAL(dlrt_npz_save(again, b.t, 4, &err), DLRT_OK);
    size_t la, lb;
    unsigned char *fa = slurp(path, &la), *fb = slurp(again, &lb);
    CU_ASSERT(la == lb && memcmp(fa, fb, la) == 0);
    CU_ASSERT(la > 4 && memcmp(fa, "PK\x03\x04", 4) == 0);
    /* the header NumPy writes, padded to 64 bytes */
    CU_ASSERT(contains(fa, la, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }"));
    CU_ASSERT(contains(fa, la, "'shape': (2,), }"));
    CU_ASSERT(contains(fa, la, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }"));
    free(fa);
    free(fb);

    /* f64 tensors, rank 4 */
    double d[24], e[24];
    for (int i = 0; i < 24; i++)
        d[i] = (i - 11) * 0.1 + 1e-17;
    DlrtTensorDesc t = {"k.weight", DLRT_F64, 4, {2, 3, 2, 2}, d}, u = t;
    u.data = e;
    CU_ASSERT_EQUAL(dlrt_npz_save(path, &t, 1, &err), DLRT_OK);
    CU_ASSERT_EQUAL(dlrt_npz_load(path, &u, 1, 0, &err), DLRT_OK);
    CU_ASSERT(memcmp(d, e, sizeof d) == 0);
    /* into f32: converted */
    float f[24];
    u.dtype = DLRT_F32;
    u.data = f;
    CU_ASSERT_EQUAL(dlrt_npz_load(path, &u, 1, 0, &err), DLRT_OK);
    CU_ASSERT_EQUAL(f[5], (float)d[5]);
    /* an empty archive for a model without parameters */
    CU_ASSERT_EQUAL(dlrt_npz_save(path, NULL, 0, &err), DLRT_OK);
    CU_ASSERT_EQUAL(dlrt_npz_load(path, NULL, 0, 0, &err), DLRT_OK);
}

static void test_numpy_forms(void) {
    static const int forms[] = {0,
                                Z_DEFLATE,
                                Z_LOCAL64,
                                Z_LOCAL64 | Z_DEFLATE,
                                Z_CENTRAL64,
                                Z_END64,
                                Z_CENTRAL64 | Z_END64 | Z_DEFLATE,
                                Z_COMMENT,
                                Z_DESCRIPTOR | Z_DEFLATE,
                                Z_DESCRIPTOR};
    Model want, got;
    model_expected(&want);
    DlrtError err;
    for (int version = 1; version <= 3; version++) {
        for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
            Entry e[4];
            standard_entries(e, version);
            Buf z = zip(e, 4, forms[f]);
            int rc = read_into(&z, &got, &err);
            if (rc != DLRT_OK || !model_equal(&want, &got))
                fprintf(stderr, "\n    npy version %d, ZIP form %d: %d %s\n", version, forms[f], rc, err.msg);
            CU_ASSERT(rc == DLRT_OK && model_equal(&want, &got));
            free(z.p);
            free_entries(e, 4);
        }
    }

    /* big-endian data, Fortran order (W transposed in memory), float64 into the f32 model, double quotes */
    float wf[6], wbe[6];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 2; c++)
            wf[c * 3 + r] = W[r * 2 + c];
    for (int i = 0; i < 6; i++) {
        unsigned char *src = (unsigned char *)&W[i], *dst = (unsigned char *)&wbe[i];
        for (int k = 0; k < 4; k++)
            dst[k] = src[3 - k];
    }
    double b64[2] = {B[0], B[1]};
    const struct {
        const char *dict;
        const void *data;
        size_t n;
    } weight[] = {{"{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }", wf, sizeof wf},
                  {"{'descr': '>f4', 'fortran_order': False, 'shape': (3, 2), }", wbe, sizeof wbe},
                  {"{\"descr\": \"<f4\", \"shape\": (3, 2), \"fortran_order\": False}", W, sizeof W}};
    for (size_t k = 0; k < sizeof weight / sizeof weight[0]; k++) {
        Entry e[4];
        standard_entries(e, 1);
        free(e[0].data.p);
        e[0].data = npy(1, weight[k].dict, weight[k].data, weight[k].n);
        free(e[1].data.p);
        e[1].data = npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", b64, sizeof b64);
        Buf z = zip(e, 4, Z_LOCAL64);
        int rc = read_into(&z, &got, &err);
        if (rc != DLRT_OK || !model_equal(&want, &got))
            fprintf(stderr, "\n    %s: %d %s\n", weight[k].dict, rc, err.msg);
        CU_ASSERT(rc == DLRT_OK && model_equal(&want, &got));
        free(z.p);
        free_entries(e, 4);
    }
}

static void test_mismatches(void) {
    DlrtError err;
    Model m, untouched;
    model_init(&untouched, -9.0f);
    /* a shape, a dtype, a missing key and two extra ones, all in one message */
    Entry e[5];
    standard_entries(e, 1);
    free(e[0].data.p);
    e[0].data = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", W, sizeof W);
    free(e[1].data.p);
    uint16_t hb[2] = {0x3c00, 0x4000}; /* float16 1 and 2 */
    e[1].data = npy(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", hb, sizeof hb);
    free(e[2].data.p);
    double fc[4] = {1, 2, 3, 4};
    e[2] = (Entry){"fc.weight.npy", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 1), }", fc, 32)};
    e[4] = (Entry){"notes.txt", npy(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", W, 2)};
    Buf z = zip(e, 5, 0);
    CU_ASSERT_EQUAL(read_into(&z, &m, &err), DLRT_EMISMATCH);
    CU_ASSERT(model_equal(&m, &untouched));
    ASSERT_MSG_HAS(err, "t.npz: written for another model, 5 differences");
    ASSERT_MSG_HAS(err, "'0.weight' expected [3, 2], found [2, 3]");
    ASSERT_MSG_HAS(err, "'0.bias' expected float [2], found float16 [2]");
    ASSERT_MSG_HAS(err, "'scale' expected [], found nothing");
    ASSERT_MSG_HAS(err, "'fc.weight' expected nothing, found float64 [4, 1]");
    ASSERT_MSG_HAS(err, "'notes.txt' expected nothing, found float16 [1]");
    free(z.p);
    free_entries(e, 5);

    /* a bool where the model has a float, a float where it has int64 */
    standard_entries(e, 1);
    free(e[2].data.p);
    unsigned char yes = 1;
    e[2].data = npy(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (), }", &yes, 1);
    free(e[3].data.p);
    e[3].data = npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", &NB, sizeof NB);
    z = zip(e, 4, Z_DEFLATE);
    CU_ASSERT_EQUAL(read_into(&z, &m, &err), DLRT_EMISMATCH);
    CU_ASSERT(model_equal(&m, &untouched));
    ASSERT_MSG_HAS(err, "'scale' expected float [], found bool []");
    ASSERT_MSG_HAS(err, "'bn.num_batches_tracked' expected int64 [], found float64 []");
    free(z.p);
    free_entries(e, 4);

    /* another model's archive with more differences than a message holds: the count is right, the rest summed up */
    enum { MANY = 60 };
    Entry many[MANY];
    char names[MANY][48];
    for (int i = 0; i < MANY; i++) {
        snprintf(names[i], sizeof names[i], "features.%d.conv.weight.npy", i);
        many[i] = (Entry){names[i], npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", W, 4)};
    }
    z = zip(many, MANY, 0);
    CU_ASSERT_EQUAL(read_into(&z, &m, &err), DLRT_EMISMATCH);
    ASSERT_MSG_HAS(err, "64 differences");
    ASSERT_MSG_HAS(err, "more");
    CU_ASSERT(strlen(err.msg) < sizeof err.msg - 1);
    free(z.p);
    free_entries(many, MANY);
}

/* Damaged archives: every single-byte change and every cut of a small archive, stored and deflated, is refused
 * with a message naming the source and the model untouched, or accepted with exactly the original values (a
 * change in a field the reader does not need: a timestamp, the version that made it). */
static void test_damage(void) {
    Model want, got, untouched;
    model_expected(&want);
    model_init(&untouched, -9.0f);
    DlrtError err;
    for (int form = 0; form < 2; form++) {
        Entry e[4];
        standard_entries(e, 1);
        Buf z = zip(e, 4, form ? Z_LOCAL64 | Z_DEFLATE : Z_LOCAL64);
        int refused = 0, accepted = 0, bad = 0, crc_named = 0;
        for (size_t at = 0; at < z.len; at++) {
            for (int x = 1; x < 256; x <<= 2) {
                z.p[at] ^= (unsigned char)x;
                int rc = read_into(&z, &got, &err);
                z.p[at] ^= (unsigned char)x;
                if (rc == DLRT_OK) {
                    accepted++;
                    bad += !model_equal(&want, &got);
                } else {
                    refused++;
                    bad += !model_equal(&untouched, &got) || strncmp(err.msg, "t.npz: ", 7) != 0 ||
                           (rc != DLRT_EFORMAT && rc != DLRT_EMISMATCH);
                    crc_named += strstr(err.msg, "CRC mismatch in member") != NULL;
                }
            }
        }
        for (size_t cut = 0; cut < z.len; cut++) {
            Buf c = {z.p, cut, cut};
            int rc = read_into(&c, &got, &err);
            bad += rc == DLRT_OK || !model_equal(&untouched, &got);
        }
        printf("(%s: %d changes refused, %d harmless) ", form ? "deflated" : "stored", refused, accepted);
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT(refused > accepted);
        CU_ASSERT(crc_named > 0);
        free(z.p);
        free_entries(e, 4);
    }
}

static void test_bad_headers(void) {
    static const char *const dicts[] = {
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), 'extra': 1}",
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3, 2), }",
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3, 2), }",
        "{'descr': 'O', 'fortran_order': False, 'shape': (3, 2), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, -2), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 6), }",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
        "['descr', '<f4']",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), } trailing",
    };
    Model got, untouched;
    model_init(&untouched, -9.0f);
    DlrtError err;
    for (size_t k = 0; k < sizeof dicts / sizeof dicts[0]; k++) {
        Entry e[4];
        standard_entries(e, 1);
        free(e[0].data.p);
        e[0].data = npy(1, dicts[k], W, sizeof W);
        Buf z = zip(e, 4, 0);
        int rc = read_into(&z, &got, &err);
        if (rc != DLRT_EFORMAT)
            fprintf(stderr, "\n    %s: %d %s\n", dicts[k], rc, err.msg);
        CU_ASSERT_EQUAL(rc, DLRT_EFORMAT);
        ASSERT_MSG_HAS(err, "member '0.weight.npy'");
        CU_ASSERT(model_equal(&got, &untouched));
        free(z.p);
        free_entries(e, 4);
    }
    /* data shorter than the shape says; a member that is no .npy; not a ZIP at all */
    Entry e[4];
    standard_entries(e, 1);
    e[0].data.len -= 4;
    Buf z = zip(e, 4, 0);
    CU_ASSERT_EQUAL(read_into(&z, &got, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "'0.weight.npy' holds");
    free(z.p);
    memcpy(e[1].data.p, "GARBAGE", 7);
    z = zip(e, 4, 0);
    CU_ASSERT_EQUAL(read_into(&z, &got, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "no \\x93NUMPY magic");
    free(z.p);
    free_entries(e, 4);
    /* the same member twice */
    standard_entries(e, 1);
    Entry twice[5] = {e[0], e[1], e[2], e[3], e[1]};
    z = zip(twice, 5, 0);
    CU_ASSERT_EQUAL(read_into(&z, &got, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "member '0.bias.npy' appears twice");
    free(z.p);
    free_entries(e, 4);
    Buf text = {(unsigned char *)"just some text that is long enough to look for an end record", 60, 60};
    CU_ASSERT_EQUAL(read_into(&text, &got, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "t.npz: not a valid .npz archive: no ZIP end-of-central-directory record");
}

/* Batch norm's num_batches_tracked: an int64 in PyTorch's state_dict, a float in dlc's state. Integer arrays load
 * into float tensors, and a float counter is written as int64. */
static void test_counter(void) {
    float count = 0, mean[2] = {0.5f, -1};
    DlrtTensorDesc t[2] = {{"3.running_mean", DLRT_F32, 1, {2}, mean},
                           {"3.num_batches_tracked", DLRT_F32, 0, {0}, &count}};
    int64_t nb = 469;
    Entry e[2] = {
        {"3.running_mean.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", mean, 8)},
        {"3.num_batches_tracked.npy", npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }", &nb, 8)}};
    Buf z = zip(e, 2, 0);
    DlrtError err;
    CU_ASSERT_EQUAL(dlrt_npz_read_mem(z.p, z.len, "t.npz", t, 2, 0, &err), DLRT_OK);
    CU_ASSERT_EQUAL(count, 469.0f);
    free(z.p);
    free_entries(e, 2);
    const char *path = tmp_path("bn.npz");
    CU_ASSERT_EQUAL_FATAL(dlrt_npz_save(path, t, 2, &err), DLRT_OK);
    size_t len;
    unsigned char *bytes = slurp(path, &len);
    CU_ASSERT(contains(bytes, len, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }"));
    CU_ASSERT(contains(bytes, len, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"));
    free(bytes);
    count = 0;
    CU_ASSERT_EQUAL(dlrt_npz_load(path, t, 2, 0, &err), DLRT_OK);
    CU_ASSERT_EQUAL(count, 469.0f);
}

/* Weights are finite numbers that fit the type they become, as in checkpoints. */
static void test_values(void) {
    Model got, untouched;
    model_init(&untouched, -9.0f);
    DlrtError err;
    Entry e[4];
    standard_entries(e, 1);
    free(e[1].data.p);
    double nan_b[2] = {1.0, NAN};
    e[1].data = npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", nan_b, sizeof nan_b);
    Buf z = zip(e, 4, 0);
    CU_ASSERT_EQUAL(read_into(&z, &got, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "t.npz: '0.bias' holds NaN at element 1");
    CU_ASSERT(model_equal(&got, &untouched));
    free(z.p);
    free(e[1].data.p);
    double big[2] = {1e300, 0};
    e[1].data = npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", big, sizeof big);
    z = zip(e, 4, 0);
    CU_ASSERT_EQUAL(read_into(&z, &got, &err), DLRT_EFORMAT);
    ASSERT_MSG_HAS(err, "'0.bias' holds a value beyond the range of f32");
    /* into f64 tensors it fits, unless the caller says the values become f32 (dlc compile --weights) */
    double b64[2];
    DlrtTensorDesc t = {"0.bias", DLRT_F64, 1, {2}, b64};
    Entry one = e[1];
    Buf z1 = zip(&one, 1, 0);
    CU_ASSERT_EQUAL(dlrt_npz_read_mem(z1.p, z1.len, "t.npz", &t, 1, 0, &err), DLRT_OK);
    CU_ASSERT_EQUAL(b64[0], 1e300);
    CU_ASSERT_EQUAL(dlrt_npz_read_mem(z1.p, z1.len, "t.npz", &t, 1, DLRT_CKPT_F32_VALUES, &err), DLRT_EFORMAT);
    free(z1.p);
    free(z.p);
    free_entries(e, 4);
}

/* The trainers' and dlc's entry points: a path ending in .npz is an archive of the parameters alone. */
static void test_checkpoint_paths(void) {
    Model a, b;
    model_expected(&a);
    model_init(&b, 0);
    float mom[6] = {1, 2, 3, 4, 5, 6};
    DlrtTensorDesc optim = {"0.weight#momentum", DLRT_F32, 2, {3, 2}, mom};
    /* the checkpoint format has no int64: the trainer's checkpoints hold the three float tensors */
    DlrtCheckpoint ck = {a.t, 3, &optim, 1, 0, 1, 4, 99, 1, {5, 7}, 1, 0, 0, 0, 0};
    DlrtError err;
    const char *path = tmp_path("model.npz");
    CU_ASSERT_EQUAL_FATAL(dlrt_checkpoint_save(path, &ck, &err), DLRT_OK);
    size_t len;
    unsigned char *bytes = slurp(path, &len);
    CU_ASSERT(len > 4 && memcmp(bytes, "PK\x03\x04", 4) == 0);
    CU_ASSERT(!contains(bytes, len, "momentum")); /* weights only */
    free(bytes);
    DlrtCheckpoint back = {b.t, 3, NULL, 0, 1, 1, 0, 0, 1, {0, 1}, 1, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(path, &back, 0, &err), DLRT_OK);
    CU_ASSERT(memcmp(a.w, b.w, sizeof a.w) == 0 && memcmp(a.b, b.b, sizeof a.b) == 0 && a.s == b.s);
    CU_ASSERT(!back.has_optim && !back.has_epoch && !back.has_rng);
    model_init(&b, 0);
    CU_ASSERT_EQUAL(dlrt_checkpoint_load(path, &back, DLRT_CKPT_RESUME, &err), DLRT_EUSAGE);
    ASSERT_MSG_HAS(err, "model.npz: a NumPy archive holds only the weights; resuming needs the full checkpoint");
    CU_ASSERT(b.w[0] == 0);
    CU_ASSERT(dlrt_path_is_npz("a/b.npz") && !dlrt_path_is_npz("b.npz.ckpt") && !dlrt_path_is_npz("npz"));
    /* atomic: an unwritable directory fails, no stray file */
    CU_ASSERT_EQUAL(dlrt_checkpoint_save("/nonexistent-dir/x.npz", &ck, &err), DLRT_EIO);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dlrt-npz-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("npz", NULL, NULL);
    CU_add_test(s, "round trip", test_round_trip);
    CU_add_test(s, "NumPy's forms", test_numpy_forms);
    CU_add_test(s, "mismatches named", test_mismatches);
    CU_add_test(s, "damage", test_damage);
    CU_add_test(s, "bad headers", test_bad_headers);
    CU_add_test(s, "values", test_values);
    CU_add_test(s, "num_batches_tracked", test_counter);
    CU_add_test(s, "checkpoint paths", test_checkpoint_paths);
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
