/* checkpoint_core.c - the checkpoint codec over bytes: streaming encoder, validating decoder from a buffer.
 * The byte layout is documented in docs/checkpoint.md. Freestanding on purpose (no stdio, no malloc, no zlib):
 * embedded inference links this file alone to load weights from a buffer in flash. Messages are built with the
 * small appenders below instead of snprintf for the same reason. All integers are little-endian on disk
 * whatever the host; tensor data is copied straight through on little-endian hosts and byte-swapped otherwise. */
#include <float.h>
#include <string.h>

#include "dlrt_core.h"

enum {
    HEADER_BYTES = 32,
    SECTION_HEADER_BYTES = 16,
    SMALL_SECTION_BYTES = 20, /* TRAN, RNGS: two u64 and a CRC-32 */
    FORMAT_VERSION = 1,
    MAX_NAME = 4096,
};

#define MAX_EPOCH (UINT64_C(1) << 40) /* the largest --epochs */

static const uint8_t MAGIC[8] = {0x89, 'D', 'L', 'C', 'K', 'P', 'T', '\n'};

/* Section tags: four ASCII letters read as a little-endian u32. */
#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define TAG_PARAMS TAG('P', 'A', 'R', 'M')
#define TAG_OPTIM TAG('O', 'P', 'T', 'M')
#define TAG_TRAIN TAG('T', 'R', 'A', 'N')
#define TAG_RNG TAG('R', 'N', 'G', 'S')
#define TAG_DIST TAG('D', 'I', 'S', 'T')
#define TAG_BEST TAG('B', 'E', 'S', 'T')

static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu, 0xe963a535u, 0x9e6495a3u, 0x0edb8832u,
    0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u, 0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u, 0x136c9856u, 0x646ba8c0u, 0xfd62f97au,
    0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu, 0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u,
    0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u, 0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u, 0x2f6f7c87u, 0x58684c11u, 0xc1611dabu,
    0xb6662d3du, 0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du, 0x91646c97u, 0xe6635c01u, 0x6b6b51f4u,
    0x1c6c6162u, 0x856530d8u, 0xf262004eu, 0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u, 0x4db26158u, 0x3ab551ceu, 0xa3bc0074u,
    0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u, 0x5768b525u,
    0x206f85b3u, 0xb966d409u, 0xce61e49fu, 0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au, 0xead54739u, 0x9dd277afu, 0x04db2615u,
    0x73dc1683u, 0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u, 0xfed41b76u,
    0x89d32be0u, 0x10da7a5au, 0x67dd4accu, 0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu, 0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u,
    0x41047a60u, 0xdf60efc3u, 0xa867df55u, 0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u,
    0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du, 0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u, 0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u,
    0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u, 0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u, 0xa00ae278u,
    0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u, 0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u, 0xbdbdf21cu, 0xcabac28au, 0x53b39330u,
    0x24b4a3a6u, 0xbad03605u, 0xcdd70693u, 0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t dlrt_crc32(uint32_t crc, const void *data, size_t n) {
    const uint8_t *p = data;
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

/* ---- little-endian fields ---- */

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static size_t dtype_size(int dtype) { return dtype == DLRT_F32 ? 4 : dtype == DLRT_F64 ? 8 : 0; }

static const char *dtype_name(int dtype) { return dtype == DLRT_F32 ? "f32" : dtype == DLRT_F64 ? "f64" : "?"; }

/* ---- messages without stdio ---- */

typedef struct {
    char *buf; /* NULL when the caller passed no DlrtError: every append is a no-op */
    size_t cap, len;
} Msg;

static void m_strn(Msg *m, const char *s, size_t n) {
    if (!m->buf)
        return;
    for (size_t i = 0; i < n && s[i] && m->len + 1 < m->cap; i++) {
        char c = s[i];
        m->buf[m->len++] = (c >= 32 && c < 127) ? c : '?'; /* names from a corrupt file may hold anything */
    }
    m->buf[m->len] = '\0';
}

static void m_str(Msg *m, const char *s) { m_strn(m, s, (size_t)-1); }

static void m_u64(Msg *m, uint64_t v) {
    char t[24];
    int i = 23;
    t[i] = '\0';
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    m_str(m, t + i);
}

static void m_hex(Msg *m, uint64_t v, int digits) {
    char t[19];
    t[0] = '0';
    t[1] = 'x';
    for (int i = 0; i < digits; i++)
        t[2 + i] = "0123456789abcdef"[(v >> (4 * (digits - 1 - i))) & 0xfu];
    t[2 + digits] = '\0';
    m_str(m, t);
}

static void m_shape(Msg *m, int dtype, int rank, const int64_t *dims) {
    if (dtype)
        m_str(m, dtype_name(dtype));
    m_str(m, "[");
    for (int i = 0; i < rank; i++) {
        if (i)
            m_str(m, ", ");
        m_u64(m, (uint64_t)dims[i]);
    }
    m_str(m, "]");
}

static Msg m_begin(DlrtError *err, const char *source) {
    Msg m = {err ? err->msg : NULL, err ? sizeof err->msg : 0, 0};
    if (m.buf)
        m.buf[0] = '\0';
    m_str(&m, source ? source : "checkpoint");
    m_str(&m, ": ");
    return m;
}

/* ---- layout ---- */

int64_t dlrt_tensor_count(const DlrtTensorDesc *d) {
    int64_t n = 1;
    for (int i = 0; i < d->rank; i++)
        n *= d->dims[i];
    return n;
}

static void fnv1a(uint64_t *h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        *h ^= p[i];
        *h *= 0x100000001b3ULL;
    }
}

uint64_t dlrt_layout_hash(const DlrtTensorDesc *params, int n_params) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < n_params; i++) {
        const DlrtTensorDesc *d = &params[i];
        uint8_t b[8];
        fnv1a(&h, (const uint8_t *)d->name, strlen(d->name) + 1); /* the name and its terminating 0 */
        put_u32(b, (uint32_t)d->rank);
        fnv1a(&h, b, 4);
        for (int k = 0; k < d->rank; k++) {
            put_u64(b, (uint64_t)d->dims[k]);
            fnv1a(&h, b, 8);
        }
    }
    return h;
}

/* Checks a descriptor the caller supplied; returns its data size in bytes, or -1. */
static int64_t desc_bytes(const DlrtTensorDesc *d) {
    if (!d->name || strlen(d->name) >= MAX_NAME || !dtype_size(d->dtype) || d->rank < 0 || d->rank > DLRT_MAX_RANK)
        return -1;
    int64_t n = 1;
    for (int i = 0; i < d->rank; i++) {
        if (d->dims[i] < 0 || (d->dims[i] > 0 && n > (INT64_C(1) << 59) / d->dims[i]))
            return -1;
        n *= d->dims[i];
    }
    if (n > 0 && !d->data)
        return -1;
    return n * (int64_t)dtype_size(d->dtype);
}

static uint64_t record_bytes(const DlrtTensorDesc *d, int64_t data_bytes) {
    return 4 + strlen(d->name) + 4 + 4 + 8 * (uint64_t)d->rank + 8 + (uint64_t)data_bytes + 4;
}

/* Size of a tensor section's body, or -1 on an invalid descriptor. */
static int64_t tensors_bytes(const DlrtTensorDesc *ds, int n) {
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        int64_t b = desc_bytes(&ds[i]);
        if (b < 0)
            return -1;
        total += record_bytes(&ds[i], b);
    }
    return (int64_t)total;
}

uint64_t dlrt_checkpoint_size(const DlrtCheckpoint *ck) {
    if (!ck || ck->n_params < 0 || (ck->n_params > 0 && !ck->params) || ck->n_optim < 0 ||
        (ck->n_optim > 0 && !ck->optim))
        return 0;
    uint64_t total = HEADER_BYTES;
    int64_t body = tensors_bytes(ck->params, ck->n_params);
    if (body < 0)
        return 0;
    total += SECTION_HEADER_BYTES + (uint64_t)body;
    if (ck->optim) {
        body = tensors_bytes(ck->optim, ck->n_optim);
        if (body < 0)
            return 0;
        total += SECTION_HEADER_BYTES + (uint64_t)body;
    }
    if (ck->has_epoch)
        total += SECTION_HEADER_BYTES + SMALL_SECTION_BYTES;
    if (ck->has_rng)
        total += SECTION_HEADER_BYTES + SMALL_SECTION_BYTES;
    if (ck->ranks > 1 || ck->chunk > 0)
        total += SECTION_HEADER_BYTES + SMALL_SECTION_BYTES;
    if (ck->has_best)
        total += SECTION_HEADER_BYTES + SMALL_SECTION_BYTES;
    return total;
}

/* ---- encoder ---- */

typedef struct {
    DlrtSink *sink;
    uint32_t crc;
    int failed;
} Out;

static void out_bytes(Out *o, const void *p, size_t n) {
    if (o->failed || n == 0)
        return;
    o->crc = dlrt_crc32(o->crc, p, n);
    if (o->sink->write(o->sink, p, n) != 0)
        o->failed = 1;
}

static void out_u32(Out *o, uint32_t v) {
    uint8_t b[4];
    put_u32(b, v);
    out_bytes(o, b, 4);
}

static void out_u64(Out *o, uint64_t v) {
    uint8_t b[8];
    put_u64(b, v);
    out_bytes(o, b, 8);
}

static void out_data(Out *o, const void *data, size_t bytes, size_t elem) {
    if (host_is_little_endian()) {
        out_bytes(o, data, bytes);
        return;
    }
    /* Big-endian host: reverse each element's bytes through a small buffer. */
    const uint8_t *p = data;
    uint8_t chunk[4096];
    while (bytes > 0) {
        size_t n = bytes < sizeof chunk ? bytes : sizeof chunk;
        for (size_t i = 0; i < n; i += elem)
            for (size_t k = 0; k < elem; k++)
                chunk[i + k] = p[i + elem - 1 - k];
        out_bytes(o, chunk, n);
        p += n;
        bytes -= n;
    }
}

static void out_section_header(Out *o, uint32_t tag, uint32_t count, uint64_t body) {
    out_u32(o, tag);
    out_u32(o, count);
    out_u64(o, body);
}

/* TRAN and RNGS: two u64 and the CRC-32 of their 16 bytes, so a flipped byte there is refused like one in a
 * tensor. */
static void out_small_section(Out *o, uint32_t tag, uint64_t a, uint64_t b) {
    unsigned char bytes[16];
    for (int i = 0; i < 8; i++) {
        bytes[i] = (unsigned char)(a >> (8 * i));
        bytes[8 + i] = (unsigned char)(b >> (8 * i));
    }
    out_section_header(o, tag, 0, SMALL_SECTION_BYTES);
    out_bytes(o, bytes, sizeof bytes);
    out_u32(o, dlrt_crc32(0, bytes, sizeof bytes));
}

static void out_tensors(Out *o, uint32_t tag, const DlrtTensorDesc *ds, int n) {
    out_section_header(o, tag, (uint32_t)n, (uint64_t)tensors_bytes(ds, n));
    for (int i = 0; i < n; i++) {
        const DlrtTensorDesc *d = &ds[i];
        size_t name_len = strlen(d->name);
        o->crc = 0; /* each record's CRC covers the record from its name length through its data */
        out_u32(o, (uint32_t)name_len);
        out_bytes(o, d->name, name_len);
        out_u32(o, (uint32_t)d->dtype);
        out_u32(o, (uint32_t)d->rank);
        for (int k = 0; k < d->rank; k++)
            out_u64(o, (uint64_t)d->dims[k]);
        int64_t bytes = desc_bytes(d);
        out_u64(o, (uint64_t)bytes);
        out_data(o, d->data, (size_t)bytes, dtype_size(d->dtype));
        uint32_t crc = o->crc;
        out_u32(o, crc);
    }
}

int dlrt_checkpoint_encode(const DlrtCheckpoint *ck, DlrtSink *sink, DlrtError *err) {
    uint64_t size = dlrt_checkpoint_size(ck);
    if (!size) {
        Msg m = m_begin(err, "checkpoint");
        m_str(&m, "invalid tensor descriptors (missing name or data, bad dtype, rank or dims)");
        return DLRT_EINVAL;
    }
    Out o = {sink, 0, 0};
    uint32_t sections = 1u + (ck->optim != NULL) + (ck->has_epoch != 0) + (ck->has_rng != 0) +
                        (ck->ranks > 1 || ck->chunk > 0) + (ck->has_best != 0);
    out_bytes(&o, MAGIC, sizeof MAGIC);
    out_u32(&o, FORMAT_VERSION);
    out_u32(&o, sections);
    out_u64(&o, dlrt_layout_hash(ck->params, ck->n_params));
    out_u64(&o, size);
    out_tensors(&o, TAG_PARAMS, ck->params, ck->n_params);
    if (ck->optim)
        out_tensors(&o, TAG_OPTIM, ck->optim, ck->n_optim);
    if (ck->has_epoch)
        out_small_section(&o, TAG_TRAIN, (uint64_t)ck->epoch, ck->step);
    if (ck->has_rng)
        out_small_section(&o, TAG_RNG, ck->rng.state, ck->rng.inc);
    if (ck->ranks > 1 || ck->chunk > 0) /* a single process's files stay as they were */
        out_small_section(&o, TAG_DIST, ck->ranks > 1 ? ck->ranks : 0, ck->chunk);
    if (ck->has_best) {
        uint64_t bits;
        memcpy(&bits, &ck->best_score, sizeof bits);
        out_small_section(&o, TAG_BEST, (uint64_t)ck->best_epoch, bits);
    }
    if (o.failed) {
        Msg m = m_begin(err, "checkpoint");
        m_str(&m, "write failed");
        return DLRT_EIO;
    }
    return DLRT_OK;
}

typedef struct {
    DlrtSink sink;
    uint8_t *p;
    size_t cap, len;
} MemSink;

static int mem_write(DlrtSink *self, const void *bytes, size_t n) {
    MemSink *ms = (MemSink *)self;
    if (n > ms->cap - ms->len)
        return -1;
    memcpy(ms->p + ms->len, bytes, n);
    ms->len += n;
    return 0;
}

int dlrt_checkpoint_write_mem(const DlrtCheckpoint *ck, void *buf, size_t cap, size_t *len, DlrtError *err) {
    uint64_t size = dlrt_checkpoint_size(ck);
    if (size > cap) {
        Msg m = m_begin(err, "checkpoint");
        m_str(&m, "buffer of ");
        m_u64(&m, cap);
        m_str(&m, " bytes is too small for ");
        m_u64(&m, size);
        return DLRT_EINVAL;
    }
    MemSink ms = {{mem_write}, buf, cap, 0};
    int rc = dlrt_checkpoint_encode(ck, &ms.sink, err);
    if (len)
        *len = ms.len;
    return rc;
}

/* ---- decoder ---- */

typedef struct {
    const uint8_t *buf;
    size_t len;
    const char *source;
    DlrtError *err;
    unsigned flags;
} In;

typedef struct {
    uint64_t offset; /* of the record, for messages */
    const char *name;
    size_t name_len;
    int dtype, rank;
    int64_t dims[DLRT_MAX_RANK];
    const uint8_t *data;
    uint64_t data_bytes;
    uint64_t next;
} Record;

typedef struct {
    uint64_t body, end; /* body offset and end; body == 0 when absent */
    uint32_t count;
} Section;

static int truncated(In *in, uint64_t offset, uint64_t need, const char *what) {
    Msg m = m_begin(in->err, in->source);
    m_str(&m, "truncated or corrupt: ");
    m_str(&m, what);
    m_str(&m, " at byte offset ");
    m_u64(&m, offset);
    m_str(&m, " needs ");
    m_u64(&m, need);
    m_str(&m, " bytes, the section or file ends first");
    return DLRT_EFORMAT;
}

/* Parses the record at off within [off, end). */
static int parse_record(In *in, uint64_t off, uint64_t end, Record *r) {
    const uint8_t *b = in->buf;
    r->offset = off;
    if (end - off < 12)
        return truncated(in, off, 12, "tensor record header");
    uint64_t name_len = get_u32(b + off);
    if (name_len >= MAX_NAME || end - off - 4 < name_len + 8)
        return truncated(in, off, name_len + 12, "tensor name");
    r->name = (const char *)b + off + 4;
    r->name_len = (size_t)name_len;
    off += 4 + name_len;
    r->dtype = (int)get_u32(b + off);
    uint32_t rank = get_u32(b + off + 4);
    off += 8;
    if (!dtype_size(r->dtype) || rank > DLRT_MAX_RANK) {
        Msg m = m_begin(in->err, in->source);
        m_str(&m, "corrupt tensor '");
        m_strn(&m, r->name, r->name_len);
        m_str(&m, "' at byte offset ");
        m_u64(&m, r->offset);
        m_str(&m, ": dtype ");
        m_u64(&m, (uint64_t)(uint32_t)r->dtype);
        m_str(&m, " (expected 1 = f32 or 2 = f64), rank ");
        m_u64(&m, rank);
        m_str(&m, " (expected at most 8)");
        return DLRT_EFORMAT;
    }
    r->rank = (int)rank;
    if (end - off < 8 * (uint64_t)rank + 8)
        return truncated(in, off, 8 * (uint64_t)rank + 8, "tensor shape");
    uint64_t count = 1;
    int overflow = 0;
    for (uint32_t k = 0; k < rank; k++) {
        uint64_t d = get_u64(b + off + 8 * k);
        if (d > (UINT64_C(1) << 40) || (d && count > (UINT64_C(1) << 59) / d))
            overflow = 1;
        else
            count *= d;
        r->dims[k] = (int64_t)d;
    }
    off += 8 * (uint64_t)rank;
    r->data_bytes = get_u64(b + off);
    off += 8;
    if (overflow || r->data_bytes != count * dtype_size(r->dtype)) {
        Msg m = m_begin(in->err, in->source);
        m_str(&m, "corrupt tensor '");
        m_strn(&m, r->name, r->name_len);
        m_str(&m, "' at byte offset ");
        m_u64(&m, r->offset);
        m_str(&m, ": data size ");
        m_u64(&m, r->data_bytes);
        m_str(&m, " does not match its shape ");
        m_shape(&m, r->dtype, r->rank, r->dims);
        return DLRT_EFORMAT;
    }
    if (end - off < r->data_bytes + 4)
        return truncated(in, off, r->data_bytes + 4, "tensor data");
    r->data = b + off;
    r->next = off + r->data_bytes + 4;
    return DLRT_OK;
}

static int same_layout(const Record *r, const DlrtTensorDesc *d) {
    if (r->name_len != strlen(d->name) || memcmp(r->name, d->name, r->name_len) != 0 || r->rank != d->rank)
        return 0;
    for (int k = 0; k < r->rank; k++)
        if (r->dims[k] != d->dims[k])
            return 0;
    return 1;
}

static int layout_mismatch(In *in, const char *what, int index, const Record *r, const DlrtTensorDesc *d) {
    Msg m = m_begin(in->err, in->source);
    m_str(&m, "written for another model: ");
    m_str(&m, what);
    m_str(&m, " ");
    m_u64(&m, (uint64_t)index);
    m_str(&m, " is '");
    m_strn(&m, r->name, r->name_len);
    m_str(&m, "' ");
    m_shape(&m, 0, r->rank, r->dims);
    m_str(&m, " in the file but '");
    m_str(&m, d->name);
    m_str(&m, "' ");
    m_shape(&m, 0, d->rank, d->dims);
    m_str(&m, " in the model");
    return DLRT_EMISMATCH;
}

static int count_mismatch(In *in, const char *what, uint32_t in_file, int in_model) {
    Msg m = m_begin(in->err, in->source);
    m_str(&m, "written for another model: the file has ");
    m_u64(&m, in_file);
    m_str(&m, " ");
    m_str(&m, what);
    m_str(&m, " tensors, the model has ");
    m_u64(&m, (uint64_t)in_model);
    return DLRT_EMISMATCH;
}

/* The first element of a record that is not a finite number, or that does not fit the f32 it will become (an f32
 * descriptor, or any with DLRT_CKPT_F32_VALUES); -1 when all do. *why says what is wrong with it. */
static int64_t first_bad_value(const In *in, const Record *r, const DlrtTensorDesc *d, const char **why) {
    uint64_t count = r->data_bytes / dtype_size(r->dtype);
    if (r->dtype == DLRT_F32) {
        /* This scan runs over every weight a trainer loads: a block at a time without branches, then the block
         * that holds a bad value element by element. */
        for (uint64_t k = 0; k < count; k += 1024) {
            uint64_t end = count - k < 1024 ? count : k + 1024;
            uint32_t any = 0;
            for (uint64_t i = k; i < end; i++)
                any |= (get_u32(r->data + 4 * i) & 0x7f800000u) == 0x7f800000u;
            for (uint64_t i = k; any && i < end; i++) {
                uint32_t bits = get_u32(r->data + 4 * i);
                if ((bits & 0x7f800000u) == 0x7f800000u) {
                    *why = bits & 0x007fffffu ? "NaN" : bits >> 31 ? "-inf" : "inf";
                    return (int64_t)i;
                }
            }
        }
        return -1;
    }
    int to_f32 = d->dtype == DLRT_F32 || (in->flags & DLRT_CKPT_F32_VALUES);
    for (uint64_t k = 0; k < count; k++) {
        uint64_t bits = get_u64(r->data + 8 * k);
        if ((bits & UINT64_C(0x7ff0000000000000)) == UINT64_C(0x7ff0000000000000)) {
            *why = bits & UINT64_C(0x000fffffffffffff) ? "NaN" : bits >> 63 ? "-inf" : "inf";
            return (int64_t)k;
        }
        double v;
        memcpy(&v, &bits, 8);
        if (to_f32 && (v > FLT_MAX || v < -FLT_MAX)) {
            *why = "a value beyond the range of f32 (|x| > 3.4028235e38)";
            return (int64_t)k;
        }
    }
    return -1;
}

/* Validates a tensor section against the caller's descriptors: structure, names, shapes and, if verify_crc,
 * CRCs. Layout is compared record by record before each CRC, so another model's file is reported as such. */
static int check_tensors(In *in, const Section *s, const char *what, const DlrtTensorDesc *ds, int n, int verify_crc) {
    uint32_t count = s->count;
    uint64_t off = s->body;
    for (uint32_t i = 0; i < count; i++) {
        Record r;
        int rc = parse_record(in, off, s->end, &r);
        if (rc)
            return rc;
        if (i < (uint32_t)n && !same_layout(&r, &ds[i]))
            return layout_mismatch(in, what, (int)i, &r, &ds[i]);
        if (i >= (uint32_t)n)
            return count_mismatch(in, what, count, n);
        off = r.next;
        if (!verify_crc)
            continue;
        uint32_t stored = get_u32(in->buf + r.next - 4);
        uint32_t actual = dlrt_crc32(0, in->buf + r.offset, (size_t)(r.next - 4 - r.offset));
        if (stored != actual) {
            Msg m = m_begin(in->err, in->source);
            m_str(&m, "CRC mismatch in ");
            m_str(&m, what);
            m_str(&m, " tensor '");
            m_str(&m, ds[i].name);
            m_str(&m, "' (record at byte offset ");
            m_u64(&m, r.offset);
            m_str(&m, "): stored ");
            m_hex(&m, stored, 8);
            m_str(&m, ", computed ");
            m_hex(&m, actual, 8);
            m_str(&m, "; the file is corrupt");
            return DLRT_EFORMAT;
        }
        const char *why;
        int64_t bad = first_bad_value(in, &r, &ds[i], &why);
        if (bad >= 0) {
            Msg m = m_begin(in->err, in->source);
            m_str(&m, what);
            m_str(&m, " tensor '");
            m_str(&m, ds[i].name);
            m_str(&m, "' holds ");
            m_str(&m, why);
            m_str(&m, " at index ");
            m_u64(&m, (uint64_t)bad);
            m_str(&m, " of ");
            m_shape(&m, r.dtype, r.rank, r.dims);
            m_str(&m, ": the weights are not usable (the run that wrote them had diverged, or the file was edited)");
            return DLRT_EFORMAT;
        }
    }
    if (count < (uint32_t)n)
        return count_mismatch(in, what, count, n);
    if (off != s->end) {
        Msg m = m_begin(in->err, in->source);
        m_str(&m, "corrupt: ");
        m_u64(&m, s->end - off);
        m_str(&m, " stray bytes after the last ");
        m_str(&m, what);
        m_str(&m, " tensor at byte offset ");
        m_u64(&m, off);
        return DLRT_EFORMAT;
    }
    return DLRT_OK;
}

/* Copies a validated section's data into the descriptors, converting dtype and byte order as needed. */
static void load_tensors(In *in, const Section *s, DlrtTensorDesc *ds, int n) {
    uint64_t off = s->body;
    int le = host_is_little_endian();
    for (int i = 0; i < n; i++) {
        Record r;
        parse_record(in, off, s->end, &r); /* cannot fail: check_tensors accepted it */
        off = r.next;
        size_t count = (size_t)(r.data_bytes / dtype_size(r.dtype));
        if (r.dtype == ds[i].dtype && le) {
            memcpy(ds[i].data, r.data, (size_t)r.data_bytes);
            continue;
        }
        for (size_t k = 0; k < count; k++) {
            double v;
            if (r.dtype == DLRT_F32) {
                uint32_t bits = get_u32(r.data + 4 * k);
                float f;
                memcpy(&f, &bits, 4);
                v = f;
            } else {
                uint64_t bits = get_u64(r.data + 8 * k);
                memcpy(&v, &bits, 8);
            }
            if (ds[i].dtype == DLRT_F32)
                ((float *)ds[i].data)[k] = (float)v;
            else
                ((double *)ds[i].data)[k] = v;
        }
    }
}

/* Called when the layout hash differs: find the first differing parameter to name it. */
static int explain_hash_mismatch(In *in, const Section *s, const DlrtCheckpoint *ck, uint64_t file_hash,
                                 uint64_t model_hash) {
    int rc = check_tensors(in, s, "parameter", ck->params, ck->n_params, 0);
    if (rc)
        return rc;
    Msg m = m_begin(in->err, in->source);
    m_str(&m, "corrupt: layout hash ");
    m_hex(&m, file_hash, 16);
    m_str(&m, " in the header does not match its parameters (");
    m_hex(&m, model_hash, 16);
    m_str(&m, ")");
    return DLRT_EFORMAT;
}

static int missing_section(In *in, const char *what) {
    Msg m = m_begin(in->err, in->source);
    m_str(&m, "cannot resume: the checkpoint has no ");
    m_str(&m, what);
    m_str(&m, " (it was not written during training; use --load to start from its weights)");
    return DLRT_EFORMAT;
}

int dlrt_checkpoint_read_mem(const void *buf, size_t len, const char *source, DlrtCheckpoint *ck, unsigned flags,
                             DlrtError *err) {
    In in = {buf, len, source ? source : "checkpoint", err, flags};
    const uint8_t *b = buf;
    if (len < HEADER_BYTES) {
        Msg m = m_begin(err, in.source);
        m_str(&m, "truncated: ");
        m_u64(&m, len);
        m_str(&m, " bytes, shorter than the 32-byte checkpoint header");
        return DLRT_EFORMAT;
    }
    if (memcmp(b, MAGIC, sizeof MAGIC) != 0) {
        Msg m = m_begin(err, in.source);
        m_str(&m, "not a dlc checkpoint: bad magic at byte offset 0 (expected 89 44 4c 43 4b 50 54 0a "
                  "\"\\x89DLCKPT\\n\", found ");
        for (int i = 0; i < 8; i++) {
            m_hex(&m, b[i], 2);
            m_str(&m, i < 7 ? " " : ")");
        }
        return DLRT_EFORMAT;
    }
    uint32_t version = get_u32(b + 8);
    if (version != FORMAT_VERSION) {
        Msg m = m_begin(err, in.source);
        m_str(&m, "checkpoint format version ");
        m_u64(&m, version);
        m_str(&m, " at byte offset 8; this build reads version 1");
        return DLRT_EFORMAT;
    }
    uint32_t n_sections = get_u32(b + 12);
    uint64_t file_hash = get_u64(b + 16);
    uint64_t size = get_u64(b + 24);
    if (size != len) {
        Msg m = m_begin(err, in.source);
        m_str(&m, size > len ? "truncated: the header (byte offset 24) says " : "corrupt: the header says ");
        m_u64(&m, size);
        m_str(&m, " bytes, the file has ");
        m_u64(&m, len);
        return DLRT_EFORMAT;
    }

    Section params = {0, 0, 0}, optim = {0, 0, 0}, train = {0, 0, 0}, rng = {0, 0, 0}, dist = {0, 0, 0},
            best = {0, 0, 0};
    uint64_t off = HEADER_BYTES;
    for (uint32_t i = 0; i < n_sections; i++) {
        if (len - off < SECTION_HEADER_BYTES)
            return truncated(&in, off, SECTION_HEADER_BYTES, "section header");
        uint32_t tag = get_u32(b + off);
        uint64_t body = get_u64(b + off + 8);
        if (len - off - SECTION_HEADER_BYTES < body)
            return truncated(&in, off, SECTION_HEADER_BYTES + body, "section");
        Section s = {off + SECTION_HEADER_BYTES, off + SECTION_HEADER_BYTES + body, get_u32(b + off + 4)};
        Section *slot = tag == TAG_PARAMS  ? &params
                        : tag == TAG_OPTIM ? &optim
                        : tag == TAG_TRAIN ? &train
                        : tag == TAG_RNG   ? &rng
                        : tag == TAG_DIST  ? &dist
                        : tag == TAG_BEST  ? &best
                                           : NULL;
        /* Unknown sections are skipped: later minor additions stay readable. */
        if (slot) {
            if (slot->body) {
                Msg m = m_begin(err, in.source);
                m_str(&m, "corrupt: a second section with tag ");
                m_hex(&m, tag, 8);
                m_str(&m, " at byte offset ");
                m_u64(&m, off);
                return DLRT_EFORMAT;
            }
            *slot = s;
        }
        off = s.end;
    }
    if (off != len) {
        Msg m = m_begin(err, in.source);
        m_str(&m, "corrupt: the sections end at byte offset ");
        m_u64(&m, off);
        m_str(&m, ", the file at ");
        m_u64(&m, len);
        return DLRT_EFORMAT;
    }
    if (!params.body) {
        Msg m = m_begin(err, in.source);
        m_str(&m, "corrupt: no parameter (PARM) section");
        return DLRT_EFORMAT;
    }

    uint64_t model_hash = dlrt_layout_hash(ck->params, ck->n_params);
    if (model_hash != file_hash)
        return explain_hash_mismatch(&in, &params, ck, file_hash, model_hash);
    int rc = check_tensors(&in, &params, "parameter", ck->params, ck->n_params, 1);
    if (rc)
        return rc;
    if (ck->optim && optim.body) {
        rc = check_tensors(&in, &optim, "optimizer state", ck->optim, ck->n_optim, 1);
        if (rc)
            return rc;
    }
    const Section *small[4] = {&train, &rng, &dist, &best};
    for (int s = 0; s < 4; s++)
        if (small[s]->body && small[s]->end - small[s]->body != SMALL_SECTION_BYTES) {
            Msg m = m_begin(err, in.source);
            m_str(&m, "corrupt: the training, RNG, ranks or best-score section is not 20 bytes");
            return DLRT_EFORMAT;
        }
    static const char *const small_names[4] = {"CRC mismatch in the training section (epoch, step)",
                                               "CRC mismatch in the RNG section", "CRC mismatch in the ranks section",
                                               "CRC mismatch in the best-score section"};
    for (int s = 0; s < 4; s++) {
        uint64_t body = small[s]->body;
        if (body && dlrt_crc32(0, b + body, 16) != get_u32(b + body + 16)) {
            Msg m = m_begin(err, in.source);
            m_str(&m, small_names[s]);
            m_str(&m, " at byte offset ");
            m_u64(&m, body);
            m_str(&m, ": the file is damaged");
            return DLRT_EFORMAT;
        }
    }
    /* The epoch is a count the trainer compares with --epochs (at most 2^40) as a signed number: 2^64 - 1 read
     * as -1 would resume "after epoch -1". */
    if (train.body && get_u64(b + train.body) > MAX_EPOCH) {
        Msg m = m_begin(err, in.source);
        m_str(&m, "corrupt: the epoch count at byte offset ");
        m_u64(&m, train.body);
        m_str(&m, " is ");
        m_u64(&m, get_u64(b + train.body));
        m_str(&m, ", expected 0 to 2^40");
        return DLRT_EFORMAT;
    }
    double best_score = 0;
    if (best.body) {
        uint64_t bits = get_u64(b + best.body + 8);
        memcpy(&best_score, &bits, sizeof best_score);
    }
    if (best.body && (get_u64(b + best.body) > MAX_EPOCH || !(best_score - best_score == 0))) {
        Msg m = m_begin(err, in.source);
        m_str(&m, "corrupt: the best-score section at byte offset ");
        m_u64(&m, best.body);
        m_str(&m, " holds an epoch past 2^40 or a score that is not a finite number");
        return DLRT_EFORMAT;
    }
    if (rng.body && !(get_u64(b + rng.body + 8) & 1)) {
        Msg m = m_begin(err, in.source);
        m_str(&m, "corrupt: RNG stream selector at byte offset ");
        m_u64(&m, rng.body + 8);
        m_str(&m, " is even (expected odd)");
        return DLRT_EFORMAT;
    }
    if (flags & DLRT_CKPT_RESUME) {
        if (ck->optim && !optim.body)
            return missing_section(&in, "optimizer state");
        if (!train.body)
            return missing_section(&in, "epoch counter");
        if (!rng.body)
            return missing_section(&in, "RNG state");
    }

    /* Everything checked: only now touch the caller's memory. */
    load_tensors(&in, &params, ck->params, ck->n_params);
    ck->has_optim = ck->optim && optim.body;
    if (ck->has_optim)
        load_tensors(&in, &optim, ck->optim, ck->n_optim);
    ck->has_epoch = train.body != 0;
    if (ck->has_epoch) {
        ck->epoch = (int64_t)get_u64(b + train.body);
        ck->step = get_u64(b + train.body + 8);
    }
    ck->has_rng = rng.body != 0;
    if (ck->has_rng) {
        ck->rng.state = get_u64(b + rng.body);
        ck->rng.inc = get_u64(b + rng.body + 8);
    }
    ck->ranks = dist.body ? get_u64(b + dist.body) : 1;
    ck->chunk = dist.body ? get_u64(b + dist.body + 8) : 0;
    ck->has_best = best.body != 0;
    if (ck->has_best) {
        ck->best_epoch = (int64_t)get_u64(b + best.body);
        ck->best_score = best_score;
    }
    return DLRT_OK;
}
