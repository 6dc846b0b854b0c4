/* fuzz_idx.c: libFuzzer target for libdlrt's image readers: IDX (runtime/idx.c), and the PGM, PNG and format
 * sniffing behind --predict (runtime/image.c).
 *
 * The first byte of an input picks how the rest is used:
 *   even: raw. The rest is split in two at an offset taken from the next two bytes: an images file and a labels
 *         file, loaded as a pair with a class count and limit from two more bytes. The whole rest is also
 *         loaded alone as an image file (dlrt_idx_load_images), as a --predict file (dlrt_load_images, which
 *         tells IDX, PGM and PNG apart by their first bytes) and parsed as a PGM from memory.
 *   odd:  structured. Valid IDX headers are built from the next bytes (counts, sizes, a label count that may
 *         differ by one) and the rest becomes the pixels and labels, so the loaders' deeper checks (truncation,
 *         count mismatch, labels out of range) are reached at once.
 * Files live in a memfd, opened by path through /proc/self/fd. Invariants (else __builtin_trap): a refused input
 * leaves a zeroed dataset and a message naming the file; an accepted one has every pixel in [0, 1], every label
 * below the class count and no more examples than the header or limit allows. Any crash or sanitizer report is
 * a bug too.
 *
 *   CC=clang meson setup /tmp/fz -Dfuzz=true && ninja -C /tmp/fz tests/fuzz/fuzz_idx
 *   mkdir -p /tmp/fz-idx && /tmp/fz/tests/fuzz/fuzz_idx /tmp/fz-idx -max_total_time=600 -rss_limit_mb=2048
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dlrt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            __builtin_trap();                                                                                          \
    } while (0)

typedef struct {
    int fd;
    char path[64];
} MemFile;

static void mem_open(MemFile *m, const char *name) {
    m->fd = memfd_create(name, 0);
    CHECK(m->fd >= 0);
    snprintf(m->path, sizeof m->path, "/proc/self/fd/%d", m->fd);
}

static void mem_set(MemFile *m, const uint8_t *bytes, size_t n) {
    CHECK(ftruncate(m->fd, 0) == 0);
    CHECK(n == 0 || pwrite(m->fd, bytes, n, 0) == (ssize_t)n);
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int zeroed(const DlrtDataset *ds) {
    static const DlrtDataset zero;
    return memcmp(ds, &zero, sizeof zero) == 0;
}

static void check_images(const DlrtDataset *ds, int rc, const DlrtError *err, const char *path) {
    if (rc != DLRT_OK) {
        CHECK(zeroed(ds));
        CHECK(strstr(err->msg, path) != NULL);
        return;
    }
    CHECK(ds->n >= 0 && ds->rank == 3 && ds->features == ds->dims[1] * ds->dims[2]);
    for (int64_t i = 0; i < ds->n * ds->features; i++)
        CHECK(ds->x[i] >= 0 && ds->x[i] <= 1);
}

static void load_pair(const MemFile *img, const MemFile *lab, int classes, int64_t limit, int64_t max_n) {
    DlrtDataset ds;
    DlrtError err = {{0}};
    int rc = dlrt_idx_load(img->path, lab->path, classes, limit, &ds, &err);
    if (rc != DLRT_OK) {
        CHECK(zeroed(&ds));
        CHECK(err.msg[0] != '\0');
        return;
    }
    check_images(&ds, rc, &err, img->path);
    CHECK(ds.classes == classes && ds.labels != NULL);
    CHECK(limit <= 0 || ds.n <= limit);
    CHECK(max_n < 0 || ds.n <= max_n);
    for (int64_t i = 0; i < ds.n; i++)
        CHECK(ds.labels[i] >= 0 && ds.labels[i] < classes);
    dlrt_dataset_free(&ds);
}

static void load_alone(const MemFile *img, const uint8_t *bytes, size_t n) {
    DlrtDataset ds;
    DlrtError err = {{0}};
    int rc = dlrt_idx_load_images(img->path, 0, &ds, &err);
    check_images(&ds, rc, &err, img->path);
    dlrt_dataset_free(&ds);

    int inverted = -1;
    rc = dlrt_load_images(img->path, 28, 28, &ds, &inverted, &err);
    check_images(&ds, rc, &err, img->path);
    CHECK(rc != DLRT_OK || (ds.dims[1] == 28 && ds.dims[2] == 28 && (inverted == 0 || inverted == 1)));
    dlrt_dataset_free(&ds);

    float *pixels = NULL;
    int64_t rows = 0, cols = 0;
    if (dlrt_parse_pgm(bytes, n, "fuzz.pgm", &pixels, &rows, &cols, &err) == DLRT_OK) {
        CHECK(rows >= 1 && cols >= 1 && pixels != NULL);
        for (int64_t i = 0; i < rows * cols; i++)
            CHECK(pixels[i] >= 0 && pixels[i] <= 1);
    } else {
        CHECK(pixels == NULL && strncmp(err.msg, "fuzz.pgm: ", 10) == 0);
    }
    free(pixels);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static MemFile img, lab;
    if (!img.path[0]) {
        mem_open(&img, "images");
        mem_open(&lab, "labels");
    }
    if (size < 6)
        return 0;
    const uint8_t *rest = data + 6;
    size_t n = size - 6;
    int classes = 1 + data[4] % 16;
    int64_t limit = data[5] % 4 == 0 ? 0 : data[5] % 11;
    if (data[0] % 2 == 0) {
        size_t split = ((size_t)data[1] << 8 | data[2]) % (n + 1);
        mem_set(&img, rest, split);
        mem_set(&lab, rest + split, n - split);
        load_pair(&img, &lab, classes, limit, -1);
        mem_set(&img, rest, n);
        load_alone(&img, rest, n);
        return 0;
    }
    /* structured: up to 9 images of up to 8 x 8 */
    uint32_t count = data[1] % 10, rows = 1 + data[2] % 8, cols = 1 + data[3] % 8;
    static const int64_t delta[3] = {0, 1, -1}; /* labels for as many images, one more, one fewer */
    uint32_t label_count = (uint32_t)((int64_t)count + delta[(data[0] >> 1) % 3]);
    size_t pixels = (size_t)count * rows * cols;
    size_t have = n < pixels ? n : pixels;
    uint8_t *buf = malloc(16 + pixels + 8 + n + 1);
    put_be32(buf, 0x803);
    put_be32(buf + 4, count);
    put_be32(buf + 8, rows);
    put_be32(buf + 12, cols);
    memcpy(buf + 16, rest, have);
    mem_set(&img, buf, 16 + have);
    put_be32(buf, 0x801);
    put_be32(buf + 4, label_count);
    memcpy(buf + 8, rest + have, n - have);
    mem_set(&lab, buf, 8 + (n - have));
    load_pair(&img, &lab, classes, limit, count);
    free(buf);
    return 0;
}
