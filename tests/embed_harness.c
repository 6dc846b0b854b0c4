/* embed_harness.c: the driver test_embed compiles together with one build of a model's generated C.
 *
 * The model is named by macros on the command line: MODEL (the prefix of its symbols, `lenet`), MODEL_UC (of its
 * macros, `LENET`) and MODEL_H (its header, "lenet.h"); the model has one input `x` and one output `logits`. One
 * more macro says which build it is:
 *   EMBED_TRAIN   the training build (`dlc compile`): a state block of <NAME>_STATE_BYTES, weights read by
 *                 libdlrt's checkpoint reader (runtime/checkpoint_core.c, linked in) into descriptors made from
 *                 <name>_params, outputs from <name>_forward
 *   EMBED_BAKED   `dlc compile --infer --weights CKPT`: the weights are in the code
 *   (neither)     `dlc compile --infer`: the weights come from <name>_load on the file's bytes
 * EMBED_WRAP counts heap allocations: link with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc and every call the
 * harness and the generated code make goes through __wrap_*; on glibc, malloc and friends are also interposed, so
 * the shared libraries' calls (OpenBLAS, libc) are counted as well.
 *
 * Commands (CKPT is ignored by baked builds; INPUTS is raw f32, <NAME>_INPUT_X_SIZE values per example):
 *   outputs CKPT INPUTS OUT CHUNK  runs every example, CHUNK at a time (predict for 1, predict_batch or forward
 *                                  for more, capped at MAX_BATCH), and writes the raw f32 outputs to OUT
 *   threads CKPT INPUTS REPEAT     two contexts in two threads, each running all the examples REPEAT times;
 *                                  exit 0 when every output is bit-identical to a single thread's
 *   alloc CKPT INPUTS              counts allocations across load and predict (after one warm-up predict);
 *                                  prints `direct N all M` and exits 0 when both are 0
 *   refuse CKPT OTHER              load builds: truncated buffers give -1, OTHER (another model's) -2, a flipped
 *                                  data byte -3, and every refusal leaves the context byte-identical
 *   save SEED OUT [perturb]        training builds: <name>_init(SEED) written as a checkpoint (a stand-in for a
 *                                  trained one when Fashion-MNIST is missing)
 * Failures print one line saying what differed. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include MODEL_H
#ifdef EMBED_TRAIN
#include "dlrt_core.h"
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(suffix) CAT(MODEL, suffix)
#define M(suffix) CAT(MODEL_UC, suffix)

#define IN_SIZE M(_INPUT_X_SIZE)
#define OUT_SIZE M(_OUTPUT_LOGITS_SIZE)
#define MAX_BATCH M(_MAX_BATCH)
#ifdef EMBED_TRAIN
#define CTX_BYTES M(_STATE_BYTES)
#else
#define CTX_BYTES M(_WORKSPACE_BYTES)
#endif

typedef FN(_real) real;

/* ---- allocation counting ---- */

#ifndef EMBED_TRAIN
static atomic_int counting;
static atomic_long n_direct, n_all;
#endif

#ifdef EMBED_WRAP
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n) {
    if (counting)
        n_direct++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size) {
    if (counting)
        n_direct++;
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n) {
    if (counting)
        n_direct++;
    return __real_realloc(p, n);
}
#ifdef __GLIBC__
/* glibc's allocator under its internal names; these definitions interpose malloc for every shared library */
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void *malloc(size_t n) {
    if (counting)
        n_all++;
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t size) {
    if (counting)
        n_all++;
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) {
    if (counting)
        n_all++;
    return __libc_realloc(p, n);
}
void *aligned_alloc(size_t align, size_t n) {
    if (counting)
        n_all++;
    return __libc_memalign(align, n);
}
int posix_memalign(void **out, size_t align, size_t n) {
    if (counting)
        n_all++;
    void *p = __libc_memalign(align, n);
    if (!p)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}
#endif
#endif

/* ---- files and contexts ---- */

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "short read on %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void *new_context(void) {
    size_t bytes = ((size_t)CTX_BYTES + 63) / 64 * 64;
    void *ctx = aligned_alloc(64, bytes);
    memset(ctx, 0, bytes);
    return ctx;
}

/* Fills ctx with the checkpoint's weights (exits 2 when the build refuses it). */
static void load_weights(void *ctx, const char *ckpt) {
#if defined(EMBED_BAKED)
    (void)ctx;
    (void)ckpt;
#elif defined(EMBED_TRAIN)
    FN(_init)(ctx, 1);
    DlrtTensorDesc desc[M(_PARAM_COUNT)];
    for (int i = 0; i < M(_PARAM_COUNT); i++) {
        const FN(_param_info) *p = &FN(_params)[i];
        desc[i].name = p->name;
        desc[i].dtype = sizeof(real) == 4 ? DLRT_F32 : DLRT_F64;
        desc[i].rank = p->rank;
        for (int d = 0; d < p->rank; d++)
            desc[i].dims[d] = p->dims[d];
        desc[i].data = (unsigned char *)ctx + p->offset;
    }
    DlrtCheckpoint ck = {.params = desc, .n_params = M(_PARAM_COUNT)};
    DlrtError err;
    size_t len;
    unsigned char *buf = read_file(ckpt, &len);
    if (dlrt_checkpoint_read_mem(buf, len, ckpt, &ck, 0, &err) != DLRT_OK) {
        fprintf(stderr, "dlrt_checkpoint_read_mem: %s\n", err.msg);
        exit(2);
    }
    free(buf);
#else
    size_t len;
    unsigned char *buf = read_file(ckpt, &len);
    int rc = FN(_load)(ctx, buf, len);
    free(buf);
    if (rc != 0) {
        fprintf(stderr, "load returned %d\n", rc);
        exit(2);
    }
#endif
}

/* out[i] for every example, chunk at a time. */
static void run_all(void *ctx, const real *x, long n, long chunk, real *out) {
    if (chunk > MAX_BATCH)
        chunk = MAX_BATCH;
    for (long i = 0; i < n; i += chunk) {
        int b = (int)(n - i < chunk ? n - i : chunk);
#ifdef EMBED_TRAIN
        FN(_forward)(ctx, b, x + i * IN_SIZE);
        memcpy(out + i * OUT_SIZE, FN(_output_logits)(ctx), sizeof(real) * (size_t)b * OUT_SIZE);
#else
        if (b == 1)
            FN(_predict)(ctx, x + i * IN_SIZE, out + i * OUT_SIZE);
        else
            FN(_predict_batch)(ctx, b, x + i * IN_SIZE, out + i * OUT_SIZE);
#endif
    }
}

static real *read_inputs(const char *path, long *n) {
    size_t len;
    unsigned char *b = read_file(path, &len);
    *n = (long)(len / (sizeof(float) * IN_SIZE));
    real *x = malloc(sizeof(real) * (size_t)*n * IN_SIZE);
    for (long i = 0; i < *n * IN_SIZE; i++) {
        float f;
        memcpy(&f, b + 4 * i, 4);
        x[i] = (real)f;
    }
    free(b);
    return x;
}

/* ---- commands ---- */

static int cmd_outputs(const char *ckpt, const char *inputs, const char *out_path, long chunk) {
    long n;
    real *x = read_inputs(inputs, &n);
    void *ctx = new_context();
    load_weights(ctx, ckpt);
    real *out = malloc(sizeof(real) * (size_t)n * OUT_SIZE);
    run_all(ctx, x, n, chunk, out);
    FILE *f = fopen(out_path, "wb");
    for (long i = 0; i < n * OUT_SIZE; i++) {
        float v = (float)out[i];
        fwrite(&v, 4, 1, f);
    }
    return fclose(f) == 0 ? 0 : 2;
}

typedef struct {
    const char *ckpt;
    const real *x;
    long n, repeat;
    const real *want;
    int bad;
} Job;

static void *thread_main(void *arg) {
    Job *j = arg;
    void *ctx = new_context();
    load_weights(ctx, j->ckpt);
    real *out = malloc(sizeof(real) * (size_t)j->n * OUT_SIZE);
    for (long r = 0; r < j->repeat; r++) {
        run_all(ctx, j->x, j->n, 1, out);
        if (memcmp(out, j->want, sizeof(real) * (size_t)j->n * OUT_SIZE) != 0)
            j->bad++;
    }
    free(out);
    free(ctx);
    return NULL;
}

static int cmd_threads(const char *ckpt, const char *inputs, long repeat) {
    long n;
    real *x = read_inputs(inputs, &n);
    void *ctx = new_context();
    load_weights(ctx, ckpt);
    real *want = malloc(sizeof(real) * (size_t)n * OUT_SIZE);
    run_all(ctx, x, n, 1, want);
    Job jobs[2] = {{ckpt, x, n, repeat, want, 0}, {ckpt, x, n, repeat, want, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, thread_main, &jobs[i]) != 0) {
            printf("pthread_create failed\n");
            return 2;
        }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("thread 0: %d of %ld rounds differ; thread 1: %d of %ld\n", jobs[0].bad, repeat, jobs[1].bad, repeat);
    return jobs[0].bad || jobs[1].bad;
}

#ifndef EMBED_TRAIN
static int cmd_alloc(const char *ckpt, const char *inputs) {
    long n;
    real *x = read_inputs(inputs, &n);
    void *ctx = new_context();
    real *out = malloc(sizeof(real) * (size_t)n * OUT_SIZE);
#if !defined(EMBED_BAKED) && !defined(EMBED_TRAIN)
    /* the load itself: the file's bytes are read first, then only the call is counted */
    size_t len;
    unsigned char *buf = read_file(ckpt, &len);
    counting = 1;
    int rc = FN(_load)(ctx, buf, len);
    counting = 0;
    if (rc != 0) {
        printf("load returned %d\n", rc);
        return 2;
    }
    long load_direct = n_direct, load_all = n_all;
#else
    load_weights(ctx, ckpt);
    long load_direct = 0, load_all = 0;
#endif
    FN(_predict)(ctx, x, out); /* warm-up: lets the BLAS library set itself up */
    counting = 1;
    for (long i = 0; i < n; i++)
        FN(_predict)(ctx, x + i * IN_SIZE, out + i * OUT_SIZE);
    counting = 0;
    printf("load: direct %ld all %ld; %ld predicts: direct %ld all %ld\n", load_direct, load_all, n,
           (long)n_direct - load_direct, (long)n_all - load_all);
#ifdef EMBED_WRAP
    /* the counters must count. On glibc this file defines malloc, so its own call binds to that definition and
     * counts in n_all (a superset: the generated code's calls reach it through __wrap_malloc); elsewhere it is
     * an undefined reference like the generated code's, and goes through __wrap_malloc. */
    long before = n_direct + n_all;
    counting = 1;
    void *volatile probe = malloc(16); /* volatile: the compiler may not drop the pair */
    free(probe);
    counting = 0;
    if (n_direct + n_all != before + 1) {
        printf("the counting wrappers do not count\n");
        return 2;
    }
#ifdef __GLIBC__
    n_all--;
#else
    n_direct--;
#endif
#endif
    return n_direct != 0 || n_all != 0;
}
#endif

#if !defined(EMBED_BAKED) && !defined(EMBED_TRAIN)
static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* Offsets of the first and the last parameter record's data in a checkpoint whose first section is PARM. */
static int data_offsets(const unsigned char *b, size_t len, size_t *first, size_t *last) {
    if (len < 48 || le32(b + 32) != 0x4D524150u)
        return -1;
    uint32_t count = le32(b + 36);
    size_t q = 48;
    for (uint32_t i = 0; i < count; i++) {
        size_t name_len = le32(b + q);
        q += 4 + name_len + 4;
        uint32_t rank = le32(b + q);
        q += 4 + 8 * (size_t)rank;
        size_t data_len = (size_t)le64(b + q);
        q += 8;
        if (i == 0)
            *first = q + data_len / 2;
        *last = q + data_len - 1;
        q += data_len + 4;
    }
    return 0;
}

static int failures;
static void expect(const char *what, int got, int want, const void *ctx, const void *snapshot) {
    int changed = memcmp(ctx, snapshot, CTX_BYTES) != 0;
    printf("%-44s %3d (want %d)%s\n", what, got, want, changed ? "  CONTEXT CHANGED" : "");
    if (got != want || changed)
        failures++;
}

static int cmd_refuse(const char *ckpt, const char *other) {
    size_t len, olen;
    unsigned char *good = read_file(ckpt, &len), *alien = read_file(other, &olen);
    unsigned char *buf = malloc(len);
    void *ctx = new_context(), *snap = new_context();
    if (FN(_load)(ctx, good, len) != 0) {
        printf("the good checkpoint does not load\n");
        return 2;
    }
    memcpy(snap, ctx, CTX_BYTES);
    expect("empty buffer", FN(_load)(ctx, good, 0), -1, ctx, snap);
    expect("the header only", FN(_load)(ctx, good, 32), -1, ctx, snap);
    expect("half the file", FN(_load)(ctx, good, len / 2), -1, ctx, snap);
    expect("all but the last byte", FN(_load)(ctx, good, len - 1), -1, ctx, snap);
    memcpy(buf, good, len);
    buf[0] ^= 0x80;
    expect("a damaged magic", FN(_load)(ctx, buf, len), -1, ctx, snap);
    expect("another model's checkpoint", FN(_load)(ctx, alien, olen), -2, ctx, snap);
    size_t first = 0, last = 0;
    if (data_offsets(good, len, &first, &last) != 0) {
        printf("the checkpoint does not start with PARM\n");
        return 2;
    }
    memcpy(buf, good, len);
    buf[first] ^= 0x01;
    expect("a flipped bit in the first tensor's data", FN(_load)(ctx, buf, len), -3, ctx, snap);
    memcpy(buf, good, len);
    buf[last] ^= 0x40;
    expect("a flipped bit in the last tensor's data", FN(_load)(ctx, buf, len), -3, ctx, snap);
    /* a zero-filled context that is refused stays zero: nothing was copied before the CRC failed */
    void *fresh = new_context(), *zero = new_context();
    expect("the same, into a fresh context", FN(_load)(fresh, buf, len), -3, fresh, zero);
    expect("the good checkpoint again", FN(_load)(ctx, good, len), 0, ctx, snap);
    return failures != 0;
}
#endif

#ifdef EMBED_TRAIN
/* Moves every value off its initial one, deterministically: states (batch norm's running statistics, which start
 * at 0 and 1) to -0.25..0.25, variances to 0.5..1.5, trainable values by up to 0.1 (batch norm's weight and bias
 * start at 1 and 0). */
static void perturb(void *ctx) {
    uint64_t h = 12345;
    for (int i = 0; i < M(_PARAM_COUNT); i++) {
        const FN(_param_info) *p = &FN(_params)[i];
        real *v = (real *)(void *)((unsigned char *)ctx + p->offset);
        int64_t n = 1;
        for (int d = 0; d < p->rank; d++)
            n *= p->dims[d];
        for (int64_t k = 0; k < n; k++) {
            h = h * 6364136223846793005u + 1442695040888963407u;
            real u = (real)(h >> 40) / (real)(1u << 24);
            v[k] = p->trainable             ? v[k] + (u - (real)0.5) / 5
                   : strstr(p->name, "var") ? (real)0.5 + u
                                            : (u - (real)0.5) / 2;
        }
    }
}

static int cmd_save(uint64_t seed, const char *out, bool perturbed) {
    void *ctx = new_context();
    FN(_init)(ctx, seed);
    if (perturbed)
        perturb(ctx);
    DlrtTensorDesc desc[M(_PARAM_COUNT)];
    for (int i = 0; i < M(_PARAM_COUNT); i++) {
        const FN(_param_info) *p = &FN(_params)[i];
        desc[i].name = p->name;
        desc[i].dtype = sizeof(real) == 4 ? DLRT_F32 : DLRT_F64;
        desc[i].rank = p->rank;
        for (int d = 0; d < p->rank; d++)
            desc[i].dims[d] = p->dims[d];
        desc[i].data = (unsigned char *)ctx + p->offset;
    }
    DlrtCheckpoint ck = {.params = desc, .n_params = M(_PARAM_COUNT)};
    DlrtError err;
    size_t cap = (size_t)dlrt_checkpoint_size(&ck), len;
    unsigned char *buf = malloc(cap);
    if (dlrt_checkpoint_write_mem(&ck, buf, cap, &len, &err) != DLRT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", out);
        return 2;
    }
    return 0;
}
#endif

int main(int argc, char **argv) {
    if (argc >= 6 && strcmp(argv[1], "outputs") == 0)
        return cmd_outputs(argv[2], argv[3], argv[4], atol(argv[5]));
    if (argc >= 5 && strcmp(argv[1], "threads") == 0)
        return cmd_threads(argv[2], argv[3], atol(argv[4]));
#ifndef EMBED_TRAIN
    if (argc >= 4 && strcmp(argv[1], "alloc") == 0)
        return cmd_alloc(argv[2], argv[3]);
#endif
#if !defined(EMBED_BAKED) && !defined(EMBED_TRAIN)
    if (argc >= 4 && strcmp(argv[1], "refuse") == 0)
        return cmd_refuse(argv[2], argv[3]);
#endif
#ifdef EMBED_TRAIN
    if (argc >= 4 && strcmp(argv[1], "save") == 0)
        return cmd_save(strtoull(argv[2], NULL, 10), argv[3], argc >= 5 && strcmp(argv[4], "perturb") == 0);
#endif
    fprintf(stderr, "usage: %s outputs|threads|alloc|refuse|save ... (see embed_harness.c)\n", argv[0]);
    return 2;
}
