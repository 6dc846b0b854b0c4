/* fuzz_checkpoint.c: libFuzzer target for the checkpoint decoder, dlrt_checkpoint_read_mem
 * (runtime/checkpoint_core.c), which --load, --resume, `dlc compile --weights` and embedded inference share.
 *
 * The reader always expects one small model: parameters "0.weight" [3, 2], "0.bias" [2] and a scalar "scale"
 * (f32), with momentum buffers for the first two. The first byte of an input picks the mode:
 *   even: raw. The rest is decoded as it is, with or without optimizer descriptors and DLRT_CKPT_RESUME.
 *   odd:  structured. A valid checkpoint is encoded first (values, epoch, step and RNG state from the input;
 *         written as f32 or f64, sometimes for a slightly different model: a parameter renamed, reshaped or
 *         missing), then damaged by the input's edits (byte XORs at chosen offsets, a cut), then decoded.
 * Invariants (else __builtin_trap): a refused buffer leaves the caller's tensors and training fields untouched
 * and the message starts with the buffer's name; an accepted one sets has_* only for sections present and an
 * odd RNG increment; an intact f32 checkpoint of the right model is accepted and reproduces the values
 * bit for bit and re-encodes to the same bytes; a checkpoint for a different model is refused; and damage inside
 * the tensor records (the data or the record headers) never loads changed values.
 *
 *   CC=clang meson setup /tmp/fz -Dfuzz=true && ninja -C /tmp/fz tests/fuzz/fuzz_checkpoint
 *   mkdir -p /tmp/fz-ckpt && /tmp/fz/tests/fuzz/fuzz_checkpoint /tmp/fz-ckpt -max_total_time=600
 */
#include <stdlib.h>
#include <string.h>

#include "dlrt_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            __builtin_trap();                                                                                          \
    } while (0)

enum { NP = 3, NO = 2, ELEMS = 6 + 2 + 1 };

/* The reader's model: tensors in one array (w: 6, b: 2, s: 1), momentum in another (w: 6, b: 2). */
typedef struct {
    float p[ELEMS], m[8];
    DlrtTensorDesc params[NP], optim[NO];
} Model;

static void model_init(Model *mo, float fill) {
    for (int i = 0; i < ELEMS; i++)
        mo->p[i] = fill;
    for (int i = 0; i < 8; i++)
        mo->m[i] = fill;
    mo->params[0] = (DlrtTensorDesc){"0.weight", DLRT_F32, 2, {3, 2}, mo->p};
    mo->params[1] = (DlrtTensorDesc){"0.bias", DLRT_F32, 1, {2}, mo->p + 6};
    mo->params[2] = (DlrtTensorDesc){"scale", DLRT_F32, 0, {0}, mo->p + 8};
    mo->optim[0] = (DlrtTensorDesc){"0.weight#momentum", DLRT_F32, 2, {3, 2}, mo->m};
    mo->optim[1] = (DlrtTensorDesc){"0.bias#momentum", DLRT_F32, 1, {2}, mo->m + 6};
}

/* Reads the next byte of the input, 0 once it is used up. */
typedef struct {
    const uint8_t *p;
    size_t n;
} Stream;

static uint8_t next(Stream *s) {
    if (!s->n)
        return 0;
    s->n--;
    return *s->p++;
}

static uint64_t next64(Stream *s) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | next(s);
    return v;
}

/* Decodes buf into a model filled with a sentinel; checks the invariants; returns the status. */
static int decode(const uint8_t *buf, size_t len, int with_optim, unsigned flags, Model *into, DlrtCheckpoint *ck) {
    model_init(into, -7.25f);
    Model before = *into;
    *ck = (DlrtCheckpoint){.params = into->params,
                           .n_params = NP,
                           .optim = with_optim ? into->optim : NULL,
                           .n_optim = with_optim ? NO : 0,
                           .epoch = -5,
                           .step = 77};
    DlrtError err = {{0}};
    int rc = dlrt_checkpoint_read_mem(buf, len, "fuzz.ckpt", ck, flags, &err);
    if (rc != DLRT_OK) {
        CHECK(memcmp(into->p, before.p, sizeof into->p) == 0 && memcmp(into->m, before.m, sizeof into->m) == 0);
        CHECK(strncmp(err.msg, "fuzz.ckpt", 9) == 0);
        CHECK(rc == DLRT_EFORMAT || rc == DLRT_EMISMATCH);
        return rc;
    }
    CHECK(ck->has_epoch || (ck->epoch == -5 && ck->step == 77));
    CHECK(!ck->has_rng || (ck->rng.inc & 1));
    CHECK(!(flags & DLRT_CKPT_RESUME) || (ck->has_epoch && ck->has_rng && (!with_optim || ck->has_optim)));
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    Model got;
    DlrtCheckpoint ck;
    if (data[0] % 2 == 0) {
        unsigned flags = data[0] & 2 ? DLRT_CKPT_RESUME : 0u;
        decode(data + 1, size - 1, data[0] & 4, flags, &got, &ck);
        return 0;
    }

    /* structured: the writer's model, perhaps in f64 or perhaps another model */
    Stream s = {data + 1, size - 1};
    uint8_t shape = next(&s), opts = next(&s);
    float pf[ELEMS], mf[8];
    double pd[ELEMS], md[8];
    for (int i = 0; i < ELEMS; i++) {
        uint32_t bits = (uint32_t)next(&s) << 24 | (uint32_t)next(&s) << 16 | (uint32_t)next(&s) << 8;
        memcpy(&pf[i], &bits, 4);
        pd[i] = (double)pf[i];
    }
    for (int i = 0; i < 8; i++) {
        mf[i] = (float)(next(&s) - 128) / 16.0f;
        md[i] = mf[i];
    }
    int f64 = opts & 1, with_optim = (opts & 2) != 0, train = (opts & 4) != 0;
    Model w;
    model_init(&w, 0);
    static const int first[NP] = {0, 6, 8}; /* each parameter's first element */
    for (int i = 0; i < NP; i++) {
        w.params[i].dtype = f64 ? DLRT_F64 : DLRT_F32;
        w.params[i].data = f64 ? (void *)(pd + first[i]) : (void *)(pf + first[i]);
    }
    for (int i = 0; i < NO; i++) {
        w.optim[i].dtype = f64 ? DLRT_F64 : DLRT_F32;
        w.optim[i].data = f64 ? (void *)(md + 6 * i) : (void *)(mf + 6 * i);
    }
    int n_params = NP, same_model = 1;
    switch (shape % 8) {
    case 1: /* renamed */
        w.params[1].name = "0.b1as";
        same_model = 0;
        break;
    case 2: /* reshaped, same element count */
        w.params[0].dims[0] = 2;
        w.params[0].dims[1] = 3;
        same_model = 0;
        break;
    case 3: /* one parameter fewer */
        n_params = 2;
        same_model = 0;
        break;
    default:
        break;
    }
    DlrtCheckpoint wc = {.params = w.params,
                         .n_params = n_params,
                         .optim = with_optim ? w.optim : NULL,
                         .n_optim = with_optim ? NO : 0,
                         .has_epoch = train,
                         .epoch = (int64_t)(next64(&s) >> 1),
                         .step = next64(&s),
                         .has_rng = train,
                         .rng = {next64(&s), next64(&s) | 1}};
    uint64_t len = dlrt_checkpoint_size(&wc);
    CHECK(len > 32);
    uint8_t *buf = malloc(len);
    size_t written = 0;
    DlrtError err;
    CHECK(dlrt_checkpoint_write_mem(&wc, buf, len, &written, &err) == DLRT_OK && written == len);

    /* damage: up to 4 XORs, then perhaps a cut */
    int edits = next(&s) % 5, cut = next(&s) % 4 == 0;
    int damaged_records = 0, damaged = 0;
    /* the tensor records of PARM and OPTM lie between the end of the 32-byte header plus PARM's 16-byte section
     * header and the start of TRAN (or the end): only the training sections follow them */
    uint64_t records_end = len - (train ? 2 * (16 + 16) : 0);
    for (int e = 0; e < edits; e++) {
        uint64_t at = ((uint64_t)next(&s) << 16 | (uint64_t)next(&s) << 8 | next(&s)) % len;
        uint8_t x = next(&s);
        if (!x)
            continue;
        buf[at] ^= x;
        damaged = 1;
        damaged_records |= at >= 48 && at < records_end;
    }
    size_t use = cut ? (size_t)(((uint64_t)next(&s) << 8 | next(&s)) % len) : (size_t)len;

    /* values that are not finite and an epoch past 2^40 (the largest --epochs) are refused as damage */
    int usable = !train || (uint64_t)wc.epoch <= (UINT64_C(1) << 40);
    for (int i = 0; i < ELEMS; i++) {
        uint32_t bits;
        memcpy(&bits, &pf[i], 4);
        usable &= (bits & 0x7f800000u) != 0x7f800000u;
    }
    int rc = decode(buf, use, with_optim, next(&s) & 1 ? DLRT_CKPT_RESUME : 0u, &got, &ck);
    if (!same_model && use == len && !damaged)
        CHECK(rc == DLRT_EMISMATCH || (!usable && rc == DLRT_EFORMAT));
    if (same_model && !damaged && use == len && !usable)
        CHECK(rc == DLRT_EFORMAT);
    if (same_model && !damaged && use == len && usable) {
        CHECK(rc == DLRT_OK || (!train && rc == DLRT_EFORMAT)); /* RESUME refuses a file without training state */
        if (rc == DLRT_OK && !f64) {
            CHECK(memcmp(got.p, pf, sizeof pf) == 0);
            CHECK(!with_optim || memcmp(got.m, mf, sizeof mf) == 0);
            CHECK(ck.has_epoch == train && ck.has_rng == train && ck.has_optim == with_optim);
            CHECK(!train || (ck.epoch == wc.epoch && ck.step == wc.step && ck.rng.state == wc.rng.state));
            /* re-encoding what was read gives the same bytes */
            Model again = got;
            again.params[0].data = again.p;
            again.params[1].data = again.p + 6;
            again.params[2].data = again.p + 8;
            again.optim[0].data = again.m;
            again.optim[1].data = again.m + 6;
            DlrtCheckpoint rc2 = ck;
            rc2.params = again.params;
            rc2.optim = with_optim ? again.optim : NULL;
            uint8_t *buf2 = malloc(len);
            size_t len2 = 0;
            CHECK(dlrt_checkpoint_write_mem(&rc2, buf2, len, &len2, &err) == DLRT_OK);
            CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
            free(buf2);
        }
    }
    if (same_model && damaged_records && rc == DLRT_OK && !f64) {
        /* damage in the records was accepted: it was cancelled out (the same byte XORed twice) or it dropped the
         * optional OPTM section (a damaged tag is an unknown section, skipped); values never change */
        CHECK(memcmp(got.p, pf, sizeof pf) == 0);
        CHECK(!ck.has_optim || memcmp(got.m, mf, sizeof mf) == 0);
    }
    free(buf);
    return 0;
}
