/* fuzz_npz.c: libFuzzer target for the NumPy archive reader, dlrt_npz_read_mem (runtime/npz.c), which --load,
 * `dlc compile --weights` and the interop tests share on files that come from elsewhere.
 *
 * The reader always expects one small model: "0.weight" f32 [3, 2], "0.bias" f32 [2], a scalar "scale" (f32) and
 * "bn.num_batches_tracked" (int64). The first byte of an input picks the mode:
 *   even: raw. The rest is decoded as it is (seeds-npz/ holds archives NumPy wrote for this model, np.savez and
 *         np.savez_compressed, behind a 0 byte).
 *   odd:  structured. A valid archive is encoded by dlrt_npz_encode first (values from the input; written as f32
 *         or f64, sometimes for a slightly different model: a key renamed, a tensor reshaped or missing, one more),
 *         then damaged by the input's edits (byte XORs at chosen offsets, a cut), then decoded.
 * Invariants (else __builtin_trap): a refused archive leaves the caller's tensors untouched and the message starts
 * with the buffer's name; an intact archive of the right model is accepted and gives the values bit for bit (f32)
 * and re-encodes to the same bytes; one for a different model is refused as such; and damage never loads changed
 * values (every member's bytes are covered by its CRC-32).
 *
 *   CC=clang meson setup /tmp/fz -Dfuzz=true && ninja -C /tmp/fz tests/fuzz/fuzz_npz
 *   mkdir -p /tmp/fz-npz && /tmp/fz/tests/fuzz/fuzz_npz /tmp/fz-npz tests/fuzz/seeds-npz -max_total_time=600
 */
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            __builtin_trap();                                                                                          \
    } while (0)

enum { NT = 4, ELEMS = 6 + 2 + 1 };

typedef struct {
    float p[ELEMS];
    int64_t nb;
    DlrtTensorDesc t[NT + 1];
} Model;

static void model_init(Model *mo, float fill) {
    for (int i = 0; i < ELEMS; i++)
        mo->p[i] = fill;
    mo->nb = -3;
    mo->t[0] = (DlrtTensorDesc){"0.weight", DLRT_F32, 2, {3, 2}, mo->p};
    mo->t[1] = (DlrtTensorDesc){"0.bias", DLRT_F32, 1, {2}, mo->p + 6};
    mo->t[2] = (DlrtTensorDesc){"scale", DLRT_F32, 0, {0}, mo->p + 8};
    mo->t[3] = (DlrtTensorDesc){"bn.num_batches_tracked", DLRT_I64, 0, {0}, &mo->nb};
}

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

typedef struct {
    DlrtSink sink;
    uint8_t *p;
    size_t len, cap;
} MemSink;

static int mem_write(DlrtSink *self, const void *bytes, size_t n) {
    MemSink *ms = (MemSink *)self;
    if (ms->len + n > ms->cap) {
        ms->cap = (ms->len + n) * 2;
        ms->p = realloc(ms->p, ms->cap);
    }
    memcpy(ms->p + ms->len, bytes, n);
    ms->len += n;
    return 0;
}

/* Decodes buf into a model filled with a sentinel; checks the invariants of a refusal; returns the status. */
static int decode(const uint8_t *buf, size_t len, Model *into) {
    model_init(into, -7.25f);
    Model before = *into;
    DlrtError err = {{0}};
    int rc = dlrt_npz_read_mem(buf, len, "fuzz.npz", into->t, NT, 0, &err);
    if (rc != DLRT_OK) {
        CHECK(memcmp(into->p, before.p, sizeof into->p) == 0 && into->nb == before.nb);
        CHECK(strncmp(err.msg, "fuzz.npz: ", 10) == 0);
        CHECK(rc == DLRT_EFORMAT || rc == DLRT_EMISMATCH);
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    Model got;
    if (data[0] % 2 == 0) {
        decode(data + 1, size - 1, &got);
        return 0;
    }

    Stream s = {data + 1, size - 1};
    uint8_t shape = next(&s), f64 = next(&s) & 1;
    float pf[ELEMS];
    double pd[ELEMS];
    for (int i = 0; i < ELEMS; i++) {
        uint32_t bits = (uint32_t)next(&s) << 24 | (uint32_t)next(&s) << 16 | (uint32_t)next(&s) << 8;
        if ((bits & 0x7f800000u) == 0x7f800000u) /* weights are finite: the reader refuses NaN and inf */
            bits &= ~0x40000000u;
        memcpy(&pf[i], &bits, 4);
        pd[i] = (double)pf[i];
    }
    int64_t nb = (int64_t)next(&s) << 40 | next(&s);
    Model w;
    model_init(&w, 0);
    static const int first[3] = {0, 6, 8};
    for (int i = 0; i < 3; i++) {
        w.t[i].dtype = f64 ? DLRT_F64 : DLRT_F32;
        w.t[i].data = f64 ? (void *)(pd + first[i]) : (void *)(pf + first[i]);
    }
    w.t[3].data = &nb;
    int n = NT, same_model = 1;
    switch (shape % 8) {
    case 1:
        w.t[1].name = "0.b1as";
        same_model = 0;
        break;
    case 2:
        w.t[0].dims[0] = 2;
        w.t[0].dims[1] = 3;
        same_model = 0;
        break;
    case 3:
        n = NT - 1;
        same_model = 0;
        break;
    case 4:
        w.t[NT] = (DlrtTensorDesc){"1.weight", DLRT_F32, 1, {1}, pf};
        n = NT + 1;
        same_model = 0;
        break;
    default:
        break;
    }
    MemSink ms = {{mem_write}, NULL, 0, 0};
    DlrtError err;
    CHECK(dlrt_npz_encode(w.t, n, &ms.sink, &err) == DLRT_OK && ms.len > 22);

    int edits = next(&s) % 5, cut = next(&s) % 4 == 0, damaged = 0;
    for (int e = 0; e < edits; e++) {
        size_t at = ((size_t)next(&s) << 8 | next(&s)) % ms.len;
        uint8_t x = next(&s);
        damaged |= x != 0;
        ms.p[at] ^= x;
    }
    size_t use = cut ? ((size_t)next(&s) << 8 | next(&s)) % ms.len : ms.len;
    int rc = decode(ms.p, use, &got);
    if (!damaged && use == ms.len)
        CHECK(same_model ? rc == DLRT_OK : rc == DLRT_EMISMATCH);
    if (same_model && rc == DLRT_OK) {
        /* intact or harmlessly damaged: exactly the values written */
        for (int i = 0; i < ELEMS; i++)
            CHECK(f64 ? got.p[i] == (float)pd[i] || (got.p[i] != got.p[i] && pd[i] != pd[i])
                      : memcmp(&got.p[i], &pf[i], 4) == 0);
        CHECK(got.nb == nb);
        if (!f64 && !damaged && use == ms.len) {
            MemSink again = {{mem_write}, NULL, 0, 0};
            CHECK(dlrt_npz_encode(got.t, NT, &again.sink, &err) == DLRT_OK);
            CHECK(again.len == ms.len && memcmp(again.p, ms.p, ms.len) == 0);
            free(again.p);
        }
    }
    free(ms.p);
    return 0;
}
