/* npz.c - NumPy .npz archives of named tensors: a ZIP archive holding one .npy member per tensor, the member
 * named after the tensor (`0.weight.npy`), which is what np.savez(path, **state_dict) writes and np.load reads.
 *
 * The reader takes what NumPy writes: stored members (np.savez) and deflated ones (np.savez_compressed), the
 * ZIP64 extra fields Python's zipfile puts in every local header NumPy writes, and the ZIP64 end records of
 * archives past 4 GiB or 65535 members; .npy versions 1, 2 and 3, either byte order, C or Fortran order. It
 * validates everything (the ZIP structure, every member's CRC-32, every header, every key, shape and dtype
 * against the model) before it touches the caller's tensors, and names every mismatch at once.
 *
 * The writer writes stored members with a fixed timestamp, so the bytes are a function of the tensors alone, and
 * ZIP64 fields only where a size or an offset needs them. Layouts are the caller's: dlc's parameters already have
 * PyTorch's names and layouts, so nothing is transposed here. */
#include <float.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"

enum {
    LOCAL_SIG = 0x04034b50,
    CENTRAL_SIG = 0x02014b50,
    END_SIG = 0x06054b50,
    END64_SIG = 0x06064b50,
    LOCATOR64_SIG = 0x07064b50,
    LOCAL_BYTES = 30,
    CENTRAL_BYTES = 46,
    END_BYTES = 22,
    END64_BYTES = 56,
    LOCATOR64_BYTES = 20,
    ZIP64_EXTRA = 0x0001,
    METHOD_STORED = 0,
    METHOD_DEFLATE = 8,
    MAX_HEADER = 1 << 16, /* an .npy header longer than this is not one NumPy wrote for a plain array */
};

static const uint8_t NPY_MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

int dlrt_path_is_npz(const char *path) {
    size_t n = path ? strlen(path) : 0;
    return n >= 4 && strcmp(path + n - 4, ".npz") == 0;
}

/* ---- little-endian fields ---- */

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static void wr16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void wr32(uint8_t *p, uint32_t v) {
    wr16(p, v & 0xffffu);
    wr16(p + 2, v >> 16);
}
static void wr64(uint8_t *p, uint64_t v) {
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* zlib's crc32 over any length (its length argument is a uInt). */
static uint32_t crc_of(uint32_t crc, const uint8_t *p, uint64_t n) {
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return crc;
}

static size_t dtype_bytes(int dtype) { return dtype == DLRT_F32 ? 4 : dtype == DLRT_F64 || dtype == DLRT_I64 ? 8 : 0; }

/* ---------------------------------------------------------------------------------------------------------- */
/* The .npy header                                                                                            */
/* ---------------------------------------------------------------------------------------------------------- */

/* What an .npy header says: its element type (kind 'f', 'i', ...; size in bytes; byte order), order and shape. */
typedef struct {
    char descr[16]; /* as written, for messages: "<f4" */
    char kind;
    int size, big_endian;
    int fortran;
    int rank;
    int64_t dims[DLRT_MAX_RANK];
    uint64_t header_bytes; /* magic through the header's padding: where the data starts */
} NpyHeader;

/* The numpy name of a header's element type, for messages. */
static const char *npy_type_name(const NpyHeader *h) {
    if (h->kind == 'f')
        return h->size == 2 ? "float16" : h->size == 4 ? "float32" : h->size == 8 ? "float64" : "float";
    if (h->kind == 'i')
        return h->size == 1 ? "int8" : h->size == 2 ? "int16" : h->size == 4 ? "int32" : "int64";
    if (h->kind == 'u')
        return h->size == 1 ? "uint8" : h->size == 2 ? "uint16" : h->size == 4 ? "uint32" : "uint64";
    if (h->kind == 'b')
        return "bool";
    if (h->kind == 'c')
        return "complex";
    return h->descr;
}

typedef struct {
    const char *p, *end;
} Lex;

static void skip_space(Lex *l) {
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t'))
        l->p++;
}

static int accept(Lex *l, char c) {
    skip_space(l);
    if (l->p < l->end && *l->p == c) {
        l->p++;
        return 1;
    }
    return 0;
}

/* A Python string literal without escapes, quoted with ' or ". */
static int lex_string(Lex *l, char *out, size_t cap) {
    skip_space(l);
    if (l->p >= l->end || (*l->p != '\'' && *l->p != '"'))
        return 0;
    char q = *l->p++;
    size_t n = 0;
    while (l->p < l->end && *l->p != q) {
        if (*l->p == '\\' || n + 1 >= cap)
            return 0;
        out[n++] = *l->p++;
    }
    if (l->p >= l->end)
        return 0;
    l->p++;
    out[n] = '\0';
    return 1;
}

static int lex_word(Lex *l, const char *w) {
    skip_space(l);
    size_t n = strlen(w);
    if ((size_t)(l->end - l->p) < n || memcmp(l->p, w, n) != 0)
        return 0;
    l->p += n;
    return 1;
}

/* A shape tuple: (), (3,), (2, 3) and Python's spellings of them; dims up to 2^40 (a larger one is no array
 * anyone loads). */
static int lex_shape(Lex *l, NpyHeader *h) {
    if (!accept(l, '('))
        return 0;
    h->rank = 0;
    for (;;) {
        if (accept(l, ')'))
            return 1;
        skip_space(l);
        if (h->rank == DLRT_MAX_RANK || l->p >= l->end || *l->p < '0' || *l->p > '9')
            return 0;
        int64_t v = 0;
        while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
            v = v * 10 + (*l->p++ - '0');
            if (v > (INT64_C(1) << 40))
                return 0;
        }
        if (l->p < l->end && *l->p == 'L') /* Python 2's long suffix, in old files */
            l->p++;
        h->dims[h->rank++] = v;
        if (!accept(l, ',')) {
            if (!accept(l, ')'))
                return 0;
            /* (3) is not a tuple: a rank-1 shape is written (3,) */
            return h->rank != 1;
        }
    }
}

/* Parses the dictionary literal of an .npy header: the keys 'descr', 'fortran_order' and 'shape', once each. */
static int parse_dict(const char *text, size_t len, NpyHeader *h, const char **why) {
    Lex l = {text, text + len};
    int seen[3] = {0, 0, 0};
    *why = "the header is not a dictionary literal";
    if (!accept(&l, '{'))
        return 0;
    while (!accept(&l, '}')) {
        char key[32];
        if (!lex_string(&l, key, sizeof key) || !accept(&l, ':')) {
            *why = "a key of the header dictionary is not a plain string";
            return 0;
        }
        int k = strcmp(key, "descr") == 0           ? 0
                : strcmp(key, "fortran_order") == 0 ? 1
                : strcmp(key, "shape") == 0         ? 2
                                                    : -1;
        if (k < 0) {
            *why = "the header has a key other than 'descr', 'fortran_order' and 'shape'";
            return 0;
        }
        if (seen[k]++) {
            *why = "the header repeats a key";
            return 0;
        }
        if (k == 0 && !lex_string(&l, h->descr, sizeof h->descr)) {
            *why = "'descr' is not a simple type string (structured and object arrays are not tensors)";
            return 0;
        }
        if (k == 1 && !(lex_word(&l, "True") ? (h->fortran = 1) : lex_word(&l, "False") ? (h->fortran = 0, 1) : 0)) {
            *why = "'fortran_order' is neither True nor False";
            return 0;
        }
        if (k == 2 && !lex_shape(&l, h)) {
            *why = "'shape' is not a tuple of at most 8 non-negative integers";
            return 0;
        }
        if (!accept(&l, ',')) {
            if (!accept(&l, '}')) {
                *why = "the header dictionary is malformed";
                return 0;
            }
            break;
        }
    }
    while (l.p < l.end && (*l.p == ' ' || *l.p == '\n' || *l.p == '\0'))
        l.p++;
    if (l.p != l.end) {
        *why = "stray characters after the header dictionary";
        return 0;
    }
    if (!seen[0] || !seen[1] || !seen[2]) {
        *why = "the header lacks 'descr', 'fortran_order' or 'shape'";
        return 0;
    }
    const char *d = h->descr;
    if (strlen(d) < 3 || !strchr("<>|=", d[0]) || !strchr("fiubc", d[1])) {
        *why = "'descr' is not a numeric type";
        return 0;
    }
    h->kind = d[1];
    h->size = 0;
    for (const char *p = d + 2; *p; p++) {
        if (*p < '0' || *p > '9' || h->size > 64) {
            *why = "'descr' is not a numeric type";
            return 0;
        }
        h->size = h->size * 10 + (*p - '0');
    }
    if (h->size < 1 || h->size > 16) {
        *why = "'descr' has an impossible element size";
        return 0;
    }
    h->big_endian = d[0] == '>' || (d[0] == '=' && !host_is_little_endian());
    return 1;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* The ZIP container                                                                                          */
/* ---------------------------------------------------------------------------------------------------------- */

typedef struct {
    const char *name; /* the member's name in the archive, not terminated */
    size_t name_len;
    int method;
    uint32_t crc;
    uint64_t csize, usize, data; /* data: offset of the (compressed) bytes in the archive */
    int claimed;                 /* matched to a tensor of the model */
    NpyHeader h;
} Member;

typedef struct {
    const uint8_t *buf;
    uint64_t len;
    const char *source;
    DlrtError *err;
    Member *m;
    uint64_t n;
} Archive;

static int corrupt(Archive *a, const char *fmt, ...) DLRT_PRINTF(2, 3);
static int corrupt(Archive *a, const char *fmt, ...) {
    if (a->err) {
        int k = snprintf(a->err->msg, sizeof a->err->msg, "%s: not a valid .npz archive: ", a->source);
        va_list ap;
        va_start(ap, fmt);
        if (k > 0 && (size_t)k < sizeof a->err->msg)
            vsnprintf(a->err->msg + k, sizeof a->err->msg - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return DLRT_EFORMAT;
}

/* Member names come from the file: printable ASCII is shown as is, anything else as '?'. */
static const char *shown(const char *s, size_t n, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap; i++)
        out[k++] = (s[i] >= 32 && s[i] < 127) ? s[i] : '?';
    if (n > 0 && k < n && k + 4 >= cap)
        memcpy(out + k, "...", 3), k += 3;
    out[k] = '\0';
    return out;
}

/* The ZIP64 extra field of a central directory entry: the 64-bit forms of the fields saturated at 0xffffffff, in
 * the order usize, csize, offset. */
static int zip64_fields(Archive *a, const uint8_t *extra, uint32_t extra_len, uint64_t *usize, uint64_t *csize,
                        uint64_t *offset, const char *name) {
    uint32_t at = 0;
    while (extra_len - at >= 4) {
        uint32_t id = rd16(extra + at), size = rd16(extra + at + 2);
        if (size > extra_len - at - 4)
            return corrupt(a, "the extra field of member '%s' overruns its entry", name);
        if (id == ZIP64_EXTRA) {
            const uint8_t *p = extra + at + 4;
            uint32_t left = size;
            uint64_t *fields[3] = {usize, csize, offset};
            for (int i = 0; i < 3; i++) {
                if (*fields[i] != 0xffffffffu)
                    continue;
                if (left < 8)
                    return corrupt(a, "the ZIP64 field of member '%s' is too short", name);
                *fields[i] = rd64(p);
                p += 8;
                left -= 8;
            }
            return DLRT_OK;
        }
        at += 4 + size;
    }
    if (*usize == 0xffffffffu || *csize == 0xffffffffu || *offset == 0xffffffffu)
        return corrupt(a, "member '%s' needs a ZIP64 field and has none", name);
    return DLRT_OK;
}

/* Where the central directory is and how many entries it has, from the end records. */
static int find_directory(Archive *a, uint64_t *cd_off, uint64_t *cd_size, uint64_t *entries) {
    const uint8_t *b = a->buf;
    if (a->len < END_BYTES)
        return corrupt(a, "%llu bytes, shorter than a ZIP end record (22 bytes)", (unsigned long long)a->len);
    /* the end record sits before a comment of at most 65535 bytes: search backwards for one whose comment
     * reaches exactly the end of the file */
    uint64_t end = 0;
    int found = 0;
    for (uint64_t back = END_BYTES; back <= a->len && back <= END_BYTES + 0xffffu; back++) {
        uint64_t at = a->len - back;
        if (rd32(b + at) == END_SIG && at + END_BYTES + rd16(b + at + 20) == a->len) {
            end = at;
            found = 1;
            break;
        }
    }
    if (!found)
        return corrupt(a, "no ZIP end-of-central-directory record (the file is not a ZIP archive, or it is "
                          "truncated)");
    if (rd16(b + end + 4) != 0 || rd16(b + end + 6) != 0)
        return corrupt(a, "a multi-volume archive (ZIP end record at byte offset %llu)", (unsigned long long)end);
    *entries = rd16(b + end + 10);
    *cd_size = rd32(b + end + 12);
    *cd_off = rd32(b + end + 16);
    if (*entries != 0xffffu && *cd_size != 0xffffffffu && *cd_off != 0xffffffffu)
        return DLRT_OK;
    /* ZIP64: a locator right before the end record points at the ZIP64 end record */
    if (end < LOCATOR64_BYTES || rd32(b + end - LOCATOR64_BYTES) != LOCATOR64_SIG)
        return corrupt(a, "the end record at byte offset %llu has ZIP64 markers but no ZIP64 locator precedes it",
                       (unsigned long long)end);
    uint64_t e64 = rd64(b + end - LOCATOR64_BYTES + 8);
    if (e64 > end - LOCATOR64_BYTES || end - LOCATOR64_BYTES - e64 < END64_BYTES || rd32(b + e64) != END64_SIG)
        return corrupt(a, "the ZIP64 locator points at byte offset %llu, where there is no ZIP64 end record",
                       (unsigned long long)e64);
    if (rd32(b + e64 + 16) != 0 || rd32(b + e64 + 20) != 0)
        return corrupt(a, "a multi-volume archive (ZIP64 end record at byte offset %llu)", (unsigned long long)e64);
    *entries = rd64(b + e64 + 32);
    *cd_size = rd64(b + e64 + 40);
    *cd_off = rd64(b + e64 + 48);
    return DLRT_OK;
}

static int by_name(const void *pa, const void *pb) {
    const Member *a = *(const Member *const *)pa, *b = *(const Member *const *)pb;
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);
    return c ? c : (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

/* Reads the central directory into a->m, checking that every member's local header and data lie in the file. */
static int read_directory(Archive *a) {
    const uint8_t *b = a->buf;
    uint64_t cd_off = 0, cd_size = 0, entries = 0;
    int rc = find_directory(a, &cd_off, &cd_size, &entries);
    if (rc)
        return rc;
    if (cd_off > a->len || cd_size > a->len - cd_off)
        return corrupt(a, "the central directory (byte offset %llu, %llu bytes) lies outside the file of %llu bytes",
                       (unsigned long long)cd_off, (unsigned long long)cd_size, (unsigned long long)a->len);
    if (entries > cd_size / CENTRAL_BYTES)
        return corrupt(a, "%llu members cannot fit in a central directory of %llu bytes", (unsigned long long)entries,
                       (unsigned long long)cd_size);
    a->m = calloc(entries ? (size_t)entries : 1, sizeof *a->m);
    if (!a->m)
        return dlrt_fail(a->err, DLRT_ENOMEM, "%s: out of memory for %llu archive members", a->source,
                         (unsigned long long)entries);
    uint64_t at = cd_off, cd_end = cd_off + cd_size;
    char nm[96];
    for (uint64_t i = 0; i < entries; i++) {
        if (cd_end - at < CENTRAL_BYTES || rd32(b + at) != CENTRAL_SIG)
            return corrupt(a, "central directory entry %llu at byte offset %llu is damaged", (unsigned long long)i,
                           (unsigned long long)at);
        Member *m = &a->m[a->n];
        uint32_t flags = rd16(b + at + 8), name_len = rd16(b + at + 28), extra_len = rd16(b + at + 30),
                 comment_len = rd16(b + at + 32);
        if (cd_end - at - CENTRAL_BYTES < (uint64_t)name_len + extra_len + comment_len)
            return corrupt(a, "central directory entry %llu at byte offset %llu overruns the directory",
                           (unsigned long long)i, (unsigned long long)at);
        m->name = (const char *)b + at + CENTRAL_BYTES;
        m->name_len = name_len;
        shown(m->name, m->name_len, nm, sizeof nm);
        m->method = (int)rd16(b + at + 10);
        m->crc = rd32(b + at + 16);
        m->csize = rd32(b + at + 20);
        m->usize = rd32(b + at + 24);
        uint64_t local = rd32(b + at + 42);
        if (rd16(b + at + 34) == 0xffffu)
            return corrupt(a, "member '%s' is on another volume", nm);
        rc = zip64_fields(a, b + at + CENTRAL_BYTES + name_len, extra_len, &m->usize, &m->csize, &local, nm);
        if (rc)
            return rc;
        if (flags & 1)
            return corrupt(a, "member '%s' is encrypted", nm);
        if (m->method != METHOD_STORED && m->method != METHOD_DEFLATE)
            return corrupt(a, "member '%s' uses compression method %d (NumPy writes 0, stored, or 8, deflate)", nm,
                           m->method);
        if (m->method == METHOD_STORED && m->csize != m->usize)
            return corrupt(a, "stored member '%s' has %llu bytes in the archive but says it holds %llu", nm,
                           (unsigned long long)m->csize, (unsigned long long)m->usize);
        if (local > a->len || a->len - local < LOCAL_BYTES || rd32(b + local) != LOCAL_SIG)
            return corrupt(a, "the local header of member '%s' (byte offset %llu) is missing or damaged", nm,
                           (unsigned long long)local);
        if (rd16(b + local + 26) != name_len || memcmp(b + local + LOCAL_BYTES, m->name, name_len) != 0)
            return corrupt(a, "the local header of member '%s' (byte offset %llu) names another member", nm,
                           (unsigned long long)local);
        m->data = local + LOCAL_BYTES + name_len + rd16(b + local + 28);
        if (m->data > a->len || m->csize > a->len - m->data)
            return corrupt(a,
                           "the data of member '%s' (%llu bytes at byte offset %llu) runs past the end of the "
                           "file (%llu bytes)",
                           nm, (unsigned long long)m->csize, (unsigned long long)m->data, (unsigned long long)a->len);
        a->n++;
        at += CENTRAL_BYTES + (uint64_t)name_len + extra_len + comment_len;
    }
    /* no name twice: sorted copies side by side, so a hostile directory of many members costs n log n */
    const Member **sorted = malloc(sizeof *sorted * (size_t)(a->n ? a->n : 1));
    if (!sorted)
        return dlrt_fail(a->err, DLRT_ENOMEM, "%s: out of memory", a->source);
    for (uint64_t i = 0; i < a->n; i++)
        sorted[i] = &a->m[i];
    qsort(sorted, (size_t)a->n, sizeof *sorted, by_name);
    for (uint64_t i = 1; i < a->n && !rc; i++)
        if (by_name(&sorted[i - 1], &sorted[i]) == 0)
            rc = corrupt(a, "member '%s' appears twice", shown(sorted[i]->name, sorted[i]->name_len, nm, sizeof nm));
    free(sorted);
    return rc;
}

/* The first `want` bytes of a member's contents (fewer if it is shorter) into out, inflating a deflated member;
 * with want == usize the whole member, its size and CRC-32 checked. Returns 0 or DLRT_EFORMAT. */
static int member_bytes(Archive *a, const Member *m, uint8_t *out, uint64_t want, uint64_t *got) {
    char nm[96];
    shown(m->name, m->name_len, nm, sizeof nm);
    if (want > m->usize)
        want = m->usize;
    const uint8_t *src = a->buf + m->data;
    if (m->method == METHOD_STORED) {
        memcpy(out, src, (size_t)want);
    } else {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
            return dlrt_fail(a->err, DLRT_ENOMEM, "%s: cannot start zlib's inflate", a->source);
        /* a whole member must end its deflate stream exactly at usize bytes: once they are out, one spare byte of
         * room tells a stream that ends from one that goes on */
        int whole = want == m->usize, zr = Z_OK;
        uint64_t in_left = m->csize, done = 0, extra = 0;
        uint8_t spare;
        while (zr == Z_OK) {
            if (z.avail_in == 0 && in_left > 0) {
                z.next_in = (Bytef *)(uintptr_t)(src + (m->csize - in_left));
                z.avail_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
                in_left -= z.avail_in;
            }
            uint64_t room = want - done;
            if (room == 0 && !whole)
                break;
            z.next_out = room ? out + done : &spare;
            z.avail_out = room == 0 ? 1 : room > (1u << 30) ? (1u << 30) : (uInt)room;
            uInt before = z.avail_out;
            zr = inflate(&z, Z_NO_FLUSH);
            if (room)
                done += before - z.avail_out;
            else
                extra += before - z.avail_out;
            if (extra)
                break;
        }
        const char *why = z.msg ? z.msg : "zlib error";
        inflateEnd(&z);
        if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT || zr == Z_STREAM_ERROR)
            return corrupt(a, "the compressed data of member '%s' is damaged (%s)", nm, why);
        if (zr == Z_MEM_ERROR)
            return dlrt_fail(a->err, DLRT_ENOMEM, "%s: out of memory inflating member '%s'", a->source, nm);
        if (extra || done < want)
            return corrupt(a, "member '%s' inflates to %s bytes than the %llu its directory entry says", nm,
                           extra ? "more" : "fewer", (unsigned long long)m->usize);
        if (whole && zr != Z_STREAM_END)
            return corrupt(a, "the compressed data of member '%s' is cut short", nm);
    }
    *got = want;
    if (want == m->usize) {
        uint32_t crc = crc_of(0, out, want);
        if (crc != m->crc)
            return corrupt(a, "CRC mismatch in member '%s': stored 0x%08x, computed 0x%08x; the file is damaged", nm,
                           (unsigned)m->crc, (unsigned)crc);
    }
    return DLRT_OK;
}

/* Parses the .npy header at the start of a member into m->h. */
static int read_header(Archive *a, Member *m) {
    char nm[96];
    shown(m->name, m->name_len, nm, sizeof nm);
    uint64_t want = m->usize < MAX_HEADER + 12 ? m->usize : MAX_HEADER + 12, got = 0;
    uint8_t *head = malloc((size_t)want + 1);
    if (!head)
        return dlrt_fail(a->err, DLRT_ENOMEM, "%s: out of memory", a->source);
    int rc = member_bytes(a, m, head, want, &got);
    if (rc) {
        free(head);
        return rc;
    }
    uint64_t hlen = 0, start = 0;
    if (got < 10 || memcmp(head, NPY_MAGIC, 6) != 0)
        rc = corrupt(a, "member '%s' is not an .npy array (no \\x93NUMPY magic)", nm);
    else if (head[6] == 1)
        hlen = rd16(head + 8), start = 10;
    else if ((head[6] == 2 || head[6] == 3) && got >= 12)
        hlen = rd32(head + 8), start = 12;
    else
        rc = corrupt(a, "member '%s' is .npy version %d.%d; this reader knows 1.0, 2.0 and 3.0", nm, head[6], head[7]);
    if (!rc && hlen > got - start)
        rc = corrupt(a, "the .npy header of member '%s' (%llu bytes) runs past the member's %llu bytes", nm,
                     (unsigned long long)hlen, (unsigned long long)m->usize);
    const char *why = NULL;
    if (!rc && !parse_dict((const char *)head + start, (size_t)hlen, &m->h, &why))
        rc = corrupt(a, "the .npy header of member '%s': %s", nm, why);
    m->h.header_bytes = start + hlen;
    free(head);
    return rc;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Matching the archive with the model                                                                        */
/* ---------------------------------------------------------------------------------------------------------- */

/* The differences between the archive and the model, collected into one message: each is named with its key,
 * what the model expects and what the file has. */
typedef struct {
    char text[sizeof(((DlrtError *)0)->msg)];
    size_t len, cap; /* cap: what the message leaves for the list after its prefix */
    int count, shown;
} Diffs;

static void diff(Diffs *d, const char *fmt, ...) DLRT_PRINTF(2, 3);
static void diff(Diffs *d, const char *fmt, ...) {
    char one[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(one, sizeof one, fmt, ap);
    va_end(ap);
    d->count++;
    size_t n = strlen(one);
    /* keep room for "; and 99999 more" */
    if (d->len + n + 2 + 20 >= d->cap)
        return;
    if (d->shown++)
        memcpy(d->text + d->len, "; ", 2), d->len += 2;
    memcpy(d->text + d->len, one, n + 1);
    d->len += n;
}

static void shape_str(char *out, size_t cap, int rank, const int64_t *dims) {
    size_t k = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < rank && k < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (k < cap)
        snprintf(out + k, cap - k, "]");
}

static const char *want_type(int dtype) { return dtype == DLRT_I64 ? "int64" : "float"; }

/* Whether an array of the header's type loads into a tensor of dtype: floats into floats (converted, as PyTorch's
 * load_state_dict converts), int64 into int64, and integers into floats (batch norm's num_batches_tracked, an
 * int64 in PyTorch, is a float in dlc's state). */
static int type_fits(const NpyHeader *h, int dtype) {
    if (dtype == DLRT_I64)
        return h->kind == 'i' && h->size == 8;
    return (h->kind == 'f' && (h->size == 4 || h->size == 8)) ||
           ((h->kind == 'i' || h->kind == 'u') && (h->size == 1 || h->size == 2 || h->size == 4 || h->size == 8));
}

static int same_shape(const NpyHeader *h, const DlrtTensorDesc *t) {
    if (h->rank != t->rank)
        return 0;
    for (int k = 0; k < h->rank; k++)
        if (h->dims[k] != t->dims[k])
            return 0;
    return 1;
}

static Member *find_member(Archive *a, const char *key) {
    size_t n = strlen(key);
    for (uint64_t i = 0; i < a->n; i++) {
        Member *m = &a->m[i];
        if (m->name_len == n + 4 && memcmp(m->name, key, n) == 0 && memcmp(m->name + n, ".npy", 4) == 0)
            return m;
    }
    return NULL;
}

/* One element of a member's data as double (float kinds) or int64 (I64 tensors), from either byte order. */
static void load_elements(const uint8_t *src, const NpyHeader *h, const DlrtTensorDesc *t, uint8_t *dst) {
    int64_t count = dlrt_tensor_count(t);
    /* Fortran order: the file's element for C index i is at the column-major offset of i's coordinates */
    int64_t idx[DLRT_MAX_RANK] = {0}, stride[DLRT_MAX_RANK];
    for (int k = 0; k < t->rank; k++)
        stride[k] = k ? stride[k - 1] * t->dims[k - 1] : 1;
    int swap = h->big_endian != !host_is_little_endian();
    if (!swap && !h->fortran && (size_t)h->size == dtype_bytes(t->dtype) &&
        (h->kind == 'f') == (t->dtype != DLRT_I64)) {
        memcpy(dst, src, (size_t)count * (size_t)h->size);
        return;
    }
    for (int64_t i = 0; i < count; i++) {
        int64_t at = i;
        if (h->fortran) {
            at = 0;
            for (int k = 0; k < t->rank; k++)
                at += idx[k] * stride[k];
            for (int k = t->rank - 1; k >= 0 && ++idx[k] == t->dims[k]; k--)
                idx[k] = 0;
        }
        uint8_t e[8];
        for (int b = 0; b < h->size; b++)
            e[b] = src[at * h->size + (swap ? h->size - 1 - b : b)];
        if (h->kind != 'f' && t->dtype != DLRT_I64) { /* an integer into a float */
            uint64_t bits = 0;
            for (int b = 0; b < h->size; b++)
                bits |= (uint64_t)e[b] << (8 * b);
            int neg = h->kind == 'i' && (bits >> (8 * h->size - 1)) & 1;
            if (neg && h->size < 8)
                bits |= ~UINT64_C(0) << (8 * h->size); /* sign-extend */
            double v = neg ? (double)(int64_t)bits : (double)bits;
            if (t->dtype == DLRT_F32) {
                float f = (float)v;
                memcpy(dst + 4 * i, &f, 4);
            } else {
                memcpy(dst + 8 * i, &v, 8);
            }
            continue;
        }
        if ((size_t)h->size == dtype_bytes(t->dtype)) { /* same type: the bits as they are, NaN payloads too */
            memcpy(dst + (size_t)h->size * (size_t)i, e, (size_t)h->size);
            continue;
        }
        double v;
        if (h->size == 4) {
            float f;
            memcpy(&f, e, 4);
            v = f;
        } else {
            memcpy(&v, e, 8);
        }
        if (t->dtype == DLRT_F32) {
            float f = (float)v;
            memcpy(dst + 4 * i, &f, 4);
        } else {
            memcpy(dst + 8 * i, &v, 8);
        }
    }
}

/* The first element of a member's data that is not a finite number, or (to_f32) beyond f32's range; -1 when all
 * are fine. *why says what is wrong with it. Integer members are not looked at. */
static int64_t first_bad_value(const uint8_t *src, const NpyHeader *h, int64_t count, int to_f32, const char **why) {
    if (h->kind != 'f')
        return -1;
    int swap = h->big_endian != !host_is_little_endian();
    for (int64_t k = 0; k < count; k++) {
        uint8_t e[8];
        for (int b = 0; b < h->size; b++)
            e[b] = src[k * h->size + (swap ? h->size - 1 - b : b)];
        double v;
        if (h->size == 4) {
            float f;
            memcpy(&f, e, 4);
            v = f;
        } else {
            memcpy(&v, e, 8);
        }
        if (v != v) {
            *why = "NaN";
            return k;
        }
        if (v > DBL_MAX || v < -DBL_MAX) {
            *why = v > 0 ? "inf" : "-inf";
            return k;
        }
        if (to_f32 && (v > FLT_MAX || v < -FLT_MAX)) {
            *why = "a value beyond the range of f32 (|x| > 3.4028235e38)";
            return k;
        }
    }
    return -1;
}

int dlrt_npz_read_mem(const void *buf, size_t len, const char *source, DlrtTensorDesc *ts, int n, unsigned flags,
                      DlrtError *err) {
    Archive a = {buf, len, source ? source : "npz", err, NULL, 0};
    if (n < 0 || (n > 0 && !ts))
        return dlrt_fail(err, DLRT_EINVAL, "%s: invalid tensor descriptors", a.source);
    uint64_t staged = 0;
    for (int i = 0; i < n; i++) {
        int64_t c = dlrt_tensor_count(&ts[i]);
        if (!ts[i].name || !dtype_bytes(ts[i].dtype) || ts[i].rank < 0 || ts[i].rank > DLRT_MAX_RANK || c < 0 ||
            (c > 0 && !ts[i].data))
            return dlrt_fail(err, DLRT_EINVAL, "%s: invalid tensor descriptor %d", a.source, i);
        staged += (uint64_t)c * dtype_bytes(ts[i].dtype);
    }
    uint8_t *stage = NULL, *member = NULL;
    int rc = read_directory(&a);
    Diffs d = {{0}, 0, 0, 0, 0};
    d.cap = sizeof d.text - strlen(a.source) - 64;
    if (strlen(a.source) + 64 + 200 > sizeof d.text)
        d.cap = 200; /* a very long path: the message is cut, the first differences still show */
    char s1[160], s2[160], nm[96];
    for (int i = 0; !rc && i < n; i++) {
        Member *m = find_member(&a, ts[i].name);
        shape_str(s1, sizeof s1, ts[i].rank, ts[i].dims);
        if (!m) {
            diff(&d, "'%s' expected %s, found nothing", ts[i].name, s1);
            continue;
        }
        m->claimed = 1;
        rc = read_header(&a, m);
        if (rc)
            break;
        shape_str(s2, sizeof s2, m->h.rank, m->h.dims);
        if (!type_fits(&m->h, ts[i].dtype))
            diff(&d, "'%s' expected %s %s, found %s %s", ts[i].name, want_type(ts[i].dtype), s1, npy_type_name(&m->h),
                 s2);
        else if (!same_shape(&m->h, &ts[i]))
            diff(&d, "'%s' expected %s, found %s", ts[i].name, s1, s2);
    }
    for (uint64_t i = 0; !rc && i < a.n; i++) {
        Member *m = &a.m[i];
        if (m->claimed)
            continue;
        shown(m->name, m->name_len, nm, sizeof nm);
        int is_npy = m->name_len > 4 && memcmp(m->name + m->name_len - 4, ".npy", 4) == 0;
        if (is_npy && m->name_len - 4 < sizeof nm)
            nm[m->name_len - 4] = '\0';
        rc = read_header(&a, m);
        if (rc)
            break;
        shape_str(s2, sizeof s2, m->h.rank, m->h.dims);
        diff(&d, "'%s' expected nothing, found %s %s", nm, npy_type_name(&m->h), s2);
    }
    if (!rc && d.count) {
        if (d.shown < d.count)
            snprintf(d.text + d.len, sizeof d.text - d.len, "; and %d more", d.count - d.shown);
        rc = dlrt_fail(err, DLRT_EMISMATCH, "%s: written for another model, %d difference%s: %s", a.source, d.count,
                       d.count == 1 ? "" : "s", d.text);
    }
    /* everything matches: read every member in full (size and CRC), convert into a staging copy, and only then
     * copy into the caller's tensors */
    if (!rc && !(stage = malloc(staged ? (size_t)staged : 1)))
        rc = dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory staging %llu bytes", a.source, (unsigned long long)staged);
    uint64_t off = 0;
    for (int i = 0; !rc && i < n; i++) {
        Member *m = find_member(&a, ts[i].name);
        uint64_t count = (uint64_t)dlrt_tensor_count(&ts[i]), bytes = count * (uint64_t)m->h.size;
        shown(m->name, m->name_len, nm, sizeof nm);
        if (m->usize != m->h.header_bytes + bytes) {
            rc = corrupt(&a, "member '%s' holds %llu bytes; its header (%llu bytes) and shape call for %llu", nm,
                         (unsigned long long)m->usize, (unsigned long long)m->h.header_bytes,
                         (unsigned long long)(m->h.header_bytes + bytes));
            break;
        }
        const uint8_t *src = a.buf + m->data;
        uint64_t got = 0;
        if (m->method == METHOD_DEFLATE) {
            free(member);
            member = malloc(m->usize ? (size_t)m->usize : 1);
            if (!member) {
                rc = dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory inflating '%s'", a.source, nm);
                break;
            }
            rc = member_bytes(&a, m, member, m->usize, &got);
            src = member;
        } else if (crc_of(0, src, m->usize) != m->crc) {
            rc = corrupt(&a, "CRC mismatch in member '%s': stored 0x%08x, computed 0x%08x; the file is damaged", nm,
                         (unsigned)m->crc, (unsigned)crc_of(0, src, m->usize));
        }
        if (rc)
            break;
        const char *why;
        int64_t bad = first_bad_value(src + m->h.header_bytes, &m->h, (int64_t)count,
                                      ts[i].dtype == DLRT_F32 || (flags & DLRT_CKPT_F32_VALUES), &why);
        if (bad >= 0) {
            rc = dlrt_fail(err, DLRT_EFORMAT, "%s: '%s' holds %s at element %lld; weights must be finite numbers",
                           a.source, ts[i].name, why, (long long)bad);
            break;
        }
        load_elements(src + m->h.header_bytes, &m->h, &ts[i], stage + off);
        off += count * dtype_bytes(ts[i].dtype);
    }
    if (!rc) {
        off = 0;
        for (int i = 0; i < n; i++) {
            uint64_t bytes = (uint64_t)dlrt_tensor_count(&ts[i]) * dtype_bytes(ts[i].dtype);
            if (bytes)
                memcpy(ts[i].data, stage + off, (size_t)bytes);
            off += bytes;
        }
    }
    free(member);
    free(stage);
    free(a.m);
    return rc;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* The writer                                                                                                 */
/* ---------------------------------------------------------------------------------------------------------- */

/* The dtype a tensor is written with: its own, except that batch norm's num_batches_tracked, a float in dlc's
 * state, is written as the int64 PyTorch's state_dict has, so that a strict load_state_dict takes the archive. */
static int written_dtype(const DlrtTensorDesc *t) {
    static const char suffix[] = ".num_batches_tracked";
    size_t n = strlen(t->name), k = sizeof suffix - 1;
    int counter = (n > k && strcmp(t->name + n - k, suffix) == 0) || strcmp(t->name, suffix + 1) == 0;
    return counter && t->dtype != DLRT_I64 ? DLRT_I64 : t->dtype;
}

/* The .npy header NumPy writes for a C-order array of t's type and shape (version 1.0, padded with spaces to a
 * multiple of 64 bytes and ended by a newline); returns its length. */
static size_t npy_header(const DlrtTensorDesc *t, char *out, size_t cap) {
    char shape[DLRT_MAX_RANK * 24 + 4];
    size_t k = (size_t)snprintf(shape, sizeof shape, "(");
    for (int i = 0; i < t->rank; i++)
        k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
    snprintf(shape + k, sizeof shape - k, "%s)", t->rank == 1 ? "," : "");
    int dtype = written_dtype(t);
    const char *descr = dtype == DLRT_F32 ? "<f4" : dtype == DLRT_F64 ? "<f8" : "<i8";
    memcpy(out, NPY_MAGIC, 6);
    out[6] = 1;
    out[7] = 0;
    size_t dict =
        (size_t)snprintf(out + 10, cap - 10, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    size_t total = (10 + dict + 1 + 63) / 64 * 64;
    memset(out + 10 + dict, ' ', total - 10 - dict - 1);
    out[total - 1] = '\n';
    wr16((uint8_t *)out + 8, (uint32_t)(total - 10));
    return total;
}

typedef struct {
    DlrtSink *sink;
    uint64_t at;
    int failed;
} Writer;

static void put(Writer *w, const void *p, uint64_t n) {
    if (w->failed || n == 0)
        return;
    if (w->sink->write(w->sink, p, (size_t)n) != 0)
        w->failed = 1;
    w->at += n;
}

/* A tensor's data as little-endian bytes, through a small buffer on big-endian hosts. */
static void put_data(Writer *w, const DlrtTensorDesc *t, uint32_t *crc) {
    if (written_dtype(t) != t->dtype) { /* a float counter written as int64, little-endian */
        for (int64_t i = 0; i < dlrt_tensor_count(t); i++) {
            double v = t->dtype == DLRT_F32 ? (double)((const float *)t->data)[i] : ((const double *)t->data)[i];
            int64_t c = v != v ? 0 : v >= 0x1p62 ? INT64_C(1) << 62 : v <= -0x1p62 ? -(INT64_C(1) << 62) : (int64_t)v;
            uint8_t b[8];
            wr64(b, (uint64_t)c);
            if (crc)
                *crc = crc_of(*crc, b, 8);
            else
                put(w, b, 8);
        }
        return;
    }
    uint64_t bytes = (uint64_t)dlrt_tensor_count(t) * dtype_bytes(t->dtype);
    const uint8_t *p = t->data;
    size_t elem = dtype_bytes(t->dtype);
    uint8_t chunk[4096];
    while (bytes > 0) {
        size_t n = bytes < sizeof chunk ? (size_t)bytes : sizeof chunk;
        if (host_is_little_endian())
            memcpy(chunk, p, n);
        else
            for (size_t i = 0; i < n; i += elem)
                for (size_t k = 0; k < elem; k++)
                    chunk[i + k] = p[i + elem - 1 - k];
        if (crc)
            *crc = crc_of(*crc, chunk, n);
        else
            put(w, chunk, n);
        p += n;
        bytes -= n;
    }
}

/* DOS date 1980-01-01, time 00:00: the archive's bytes never depend on when it was written. */
enum { DOS_DATE = (0 << 9) | (1 << 5) | 1, DOS_TIME = 0 };

int dlrt_npz_encode(const DlrtTensorDesc *ts, int n, DlrtSink *sink, DlrtError *err) {
    if (n < 0 || (n > 0 && !ts))
        return dlrt_fail(err, DLRT_EINVAL, "npz: invalid tensor descriptors");
    for (int i = 0; i < n; i++) {
        const DlrtTensorDesc *t = &ts[i];
        int bad =
            !t->name || strlen(t->name) > 0xfff0u || !dtype_bytes(t->dtype) || t->rank < 0 || t->rank > DLRT_MAX_RANK;
        for (int k = 0; !bad && k < t->rank; k++)
            bad = t->dims[k] < 0;
        if (bad || (dlrt_tensor_count(t) > 0 && !t->data))
            return dlrt_fail(err, DLRT_EINVAL, "npz: invalid tensor descriptor %d", i);
    }
    Writer w = {sink, 0, 0};
    uint64_t *local = malloc(sizeof(uint64_t) * (size_t)(n ? n : 1));
    uint32_t *crcs = malloc(sizeof(uint32_t) * (size_t)(n ? n : 1));
    if (!local || !crcs) {
        free(local);
        free(crcs);
        return dlrt_fail(err, DLRT_ENOMEM, "npz: out of memory");
    }
    char head[256 + DLRT_MAX_RANK * 24];
    uint8_t rec[64];
    for (int i = 0; i < n; i++) {
        const DlrtTensorDesc *t = &ts[i];
        size_t hl = npy_header(t, head, sizeof head), name_len = strlen(t->name) + 4;
        uint64_t size = hl + (uint64_t)dlrt_tensor_count(t) * dtype_bytes(written_dtype(t));
        uint32_t crc = crc_of(0, (const uint8_t *)head, hl);
        put_data(&w, t, &crc);
        crcs[i] = crc;
        local[i] = w.at;
        int z64 = size >= 0xffffffffu;
        wr32(rec, LOCAL_SIG);
        wr16(rec + 4, z64 ? 45 : 20);
        wr16(rec + 6, 0);
        wr16(rec + 8, METHOD_STORED);
        wr16(rec + 10, DOS_TIME);
        wr16(rec + 12, DOS_DATE);
        wr32(rec + 14, crc);
        wr32(rec + 18, z64 ? 0xffffffffu : (uint32_t)size);
        wr32(rec + 22, z64 ? 0xffffffffu : (uint32_t)size);
        wr16(rec + 26, (uint32_t)name_len);
        wr16(rec + 28, z64 ? 20 : 0);
        put(&w, rec, LOCAL_BYTES);
        put(&w, t->name, name_len - 4);
        put(&w, ".npy", 4);
        if (z64) {
            wr16(rec, ZIP64_EXTRA);
            wr16(rec + 2, 16);
            wr64(rec + 4, size);
            wr64(rec + 12, size);
            put(&w, rec, 20);
        }
        put(&w, head, hl);
        put_data(&w, t, NULL);
    }
    uint64_t cd_off = w.at;
    for (int i = 0; i < n; i++) {
        const DlrtTensorDesc *t = &ts[i];
        size_t hl = npy_header(t, head, sizeof head), name_len = strlen(t->name) + 4;
        uint64_t size = hl + (uint64_t)dlrt_tensor_count(t) * dtype_bytes(written_dtype(t));
        int big = size >= 0xffffffffu, far = local[i] >= 0xffffffffu;
        uint32_t extra = (big ? 16u : 0u) + (far ? 8u : 0u);
        wr32(rec, CENTRAL_SIG);
        wr16(rec + 4, 20);                   /* made by: MS-DOS, ZIP 2.0, as Python's zipfile says */
        wr16(rec + 6, big || far ? 45 : 20); /* needed: 4.5 for ZIP64 */
        wr16(rec + 8, 0);
        wr16(rec + 10, METHOD_STORED);
        wr16(rec + 12, DOS_TIME);
        wr16(rec + 14, DOS_DATE);
        wr32(rec + 16, crcs[i]);
        wr32(rec + 20, big ? 0xffffffffu : (uint32_t)size);
        wr32(rec + 24, big ? 0xffffffffu : (uint32_t)size);
        wr16(rec + 28, (uint32_t)name_len);
        wr16(rec + 30, extra ? extra + 4 : 0);
        wr16(rec + 32, 0);
        wr16(rec + 34, 0);
        wr16(rec + 36, 0);
        wr32(rec + 38, 0x01800000u); /* external attributes: a regular file, mode 0600, as np.savez's */
        wr32(rec + 42, far ? 0xffffffffu : (uint32_t)local[i]);
        put(&w, rec, CENTRAL_BYTES);
        put(&w, t->name, name_len - 4);
        put(&w, ".npy", 4);
        if (extra) {
            uint8_t *p = rec;
            wr16(p, ZIP64_EXTRA);
            wr16(p + 2, extra);
            p += 4;
            if (big) {
                wr64(p, size);
                wr64(p + 8, size);
                p += 16;
            }
            if (far) {
                wr64(p, local[i]);
                p += 8;
            }
            put(&w, rec, (uint64_t)(p - rec));
        }
    }
    uint64_t cd_size = w.at - cd_off;
    if (n >= 0xffff || cd_off >= 0xffffffffu || cd_size >= 0xffffffffu) {
        uint64_t end64 = w.at;
        wr32(rec, END64_SIG);
        wr64(rec + 4, END64_BYTES - 12);
        wr16(rec + 12, 45);
        wr16(rec + 14, 45);
        wr32(rec + 16, 0);
        wr32(rec + 20, 0);
        wr64(rec + 24, (uint64_t)n);
        wr64(rec + 32, (uint64_t)n);
        wr64(rec + 40, cd_size);
        wr64(rec + 48, cd_off);
        put(&w, rec, END64_BYTES);
        wr32(rec, LOCATOR64_SIG);
        wr32(rec + 4, 0);
        wr64(rec + 8, end64);
        wr32(rec + 16, 1);
        put(&w, rec, LOCATOR64_BYTES);
    }
    wr32(rec, END_SIG);
    wr16(rec + 4, 0);
    wr16(rec + 6, 0);
    wr16(rec + 8, n >= 0xffff ? 0xffffu : (uint32_t)n);
    wr16(rec + 10, n >= 0xffff ? 0xffffu : (uint32_t)n);
    wr32(rec + 12, cd_size >= 0xffffffffu ? 0xffffffffu : (uint32_t)cd_size);
    wr32(rec + 16, cd_off >= 0xffffffffu ? 0xffffffffu : (uint32_t)cd_off);
    wr16(rec + 20, 0);
    put(&w, rec, END_BYTES);
    free(local);
    free(crcs);
    if (w.failed)
        return dlrt_fail(err, DLRT_EIO, "npz: write failed");
    return DLRT_OK;
}
