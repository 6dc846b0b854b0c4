/* idx.c - IDX files (LeCun's MNIST format, used by Fashion-MNIST) into DlrtDatasets.
 * zlib's gz reader handles both gzip-compressed and plain files, so one path serves both. Every byte offset in a
 * message is an offset into the decompressed stream, which is what the IDX format describes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "internal.h"

enum {
    IDX_IMAGES_MAGIC = 0x00000803, /* unsigned bytes, 3 dimensions */
    IDX_LABELS_MAGIC = 0x00000801, /* unsigned bytes, 1 dimension */
    MAX_SIDE = 1 << 14,
    MAX_COUNT = 1 << 28,
    /* deflate's largest expansion: a 258-byte match costs at least 2 bits, so 1 byte of input gives at most
     * 1032 bytes of output (zlib's technical details; 1032:1 is reached only on long runs of one byte) */
    MAX_RATIO = 1032,
};

void dlrt_dataset_free(DlrtDataset *ds) {
    free(ds->x);
    free(ds->u8);
    free(ds->labels);
    free(ds->targets);
    memset(ds, 0, sizeof *ds);
}

static const char *gz_message(gzFile f) {
    int code;
    const char *m = gzerror(f, &code);
    return code == Z_ERRNO ? strerror(errno) : m;
}

/* Reads exactly n bytes at *offset or explains why not (truncation or corrupt compression). */
static int read_exact(gzFile f, const char *path, void *buf, size_t n, int64_t *offset, const char *what,
                      DlrtError *err) {
    size_t done = 0;
    while (done < n) {
        unsigned chunk = n - done > (1u << 30) ? 1u << 30 : (unsigned)(n - done);
        int got = gzread(f, (char *)buf + done, chunk);
        if (got < 0)
            return dlrt_fail(err, DLRT_EFORMAT, "%s: read error at byte offset %lld while reading %s: %s", path,
                             (long long)(*offset + (int64_t)done), what, gz_message(f));
        if (got == 0)
            return dlrt_fail(err, DLRT_EFORMAT,
                             "%s: truncated: expected %zu bytes of %s at byte offset %lld, the file ends at "
                             "byte offset %lld",
                             path, n, what, (long long)*offset, (long long)(*offset + (int64_t)done));
        done += (size_t)got;
    }
    *offset += (int64_t)n;
    return DLRT_OK;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Opens an IDX file and reads its header: the magic and `rank` big-endian dimensions. */
static int open_idx(const char *path, uint32_t magic, int rank, uint32_t *dims, gzFile *out, int64_t *offset,
                    DlrtError *err) {
    gzFile f = gzopen(path, "rb");
    if (!f)
        return dlrt_fail(err, DLRT_EIO, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    unsigned char hdr[16];
    *offset = 0;
    int rc = read_exact(f, path, hdr, 4 + 4 * (size_t)rank, offset, "IDX header", err);
    if (rc) {
        gzclose(f);
        return rc;
    }
    uint32_t found = be32(hdr);
    if (found != magic) {
        gzclose(f);
        return dlrt_fail(
            err, DLRT_EFORMAT, "%s: bad magic number at byte offset 0: expected 0x%08x (IDX %s), found 0x%08x", path,
            (unsigned)magic,
            magic == IDX_IMAGES_MAGIC ? "images: unsigned bytes, 3 dimensions" : "labels: unsigned bytes, 1 dimension",
            (unsigned)found);
    }
    for (int i = 0; i < rank; i++) {
        dims[i] = be32(hdr + 4 + 4 * i);
        uint32_t max = i == 0 ? MAX_COUNT : MAX_SIDE;
        if (dims[i] == 0 || dims[i] > max) {
            gzclose(f);
            return dlrt_fail(err, DLRT_EFORMAT, "%s: dimension %d at byte offset %d is %u, expected 1 to %u", path, i,
                             4 + 4 * i, (unsigned)dims[i], (unsigned)max);
        }
    }
    *out = f;
    return DLRT_OK;
}

/* Whether `bytes` of decompressed data (what the header claims, the header included) can be in the file at path,
 * checked before anything is inflated: a gzip file of c bytes inflates to at most MAX_RATIO * c bytes, so a small
 * file whose header claims gigabytes is refused at once instead of after inflating what it holds (a 3 MB file
 * of zeros inflates to 3 GB). A plain file needs no such check: it is read as it comes and a short one is
 * reported as truncated where it ends. */
static int plausible(gzFile f, const char *path, uint64_t bytes, const char *claim, DlrtError *err) {
    struct stat st;
    if (gzdirect(f) || stat(path, &st) != 0)
        return DLRT_OK;
    uint64_t most = (uint64_t)st.st_size * MAX_RATIO;
    if (bytes <= most)
        return DLRT_OK;
    return dlrt_fail(err, DLRT_EFORMAT,
                     "%s: the header claims %s (%llu bytes), but a gzip file of %lld bytes inflates to at most %llu; "
                     "the file is damaged or forged",
                     path, claim, (unsigned long long)bytes, (long long)st.st_size, (unsigned long long)most);
}

/* Grows *buf (elements of `size` bytes) to hold at least `need` elements, doubling. Loaders grow their arrays
 * as the data arrives instead of trusting a header's counts, so a 16-byte file that claims 2^28 images of
 * 16384 x 16384 pixels is refused as truncated without asking for gigabytes first. */
static int grow(void **buf, int64_t *cap, int64_t need, size_t size) {
    if (need <= *cap)
        return 0;
    int64_t want = *cap > 0 ? *cap : 4096;
    while (want < need)
        want *= 2;
    void *p = realloc(*buf, (size_t)want * size);
    if (!p)
        return -1;
    *buf = p;
    *cap = want;
    return 0;
}

/* Reads n images of `features` pixels from f (positioned after the header at *offset) into out->x, or as the
 * bytes they are into out->u8. */
static int read_images(gzFile f, const char *path, int64_t n, int64_t features, int64_t *offset, int as_u8,
                       DlrtDataset *out, DlrtError *err) {
    enum { PIECE = 1 << 16 };
    unsigned char *bytes = malloc(PIECE);
    int64_t cap = 0;
    int rc = bytes ? DLRT_OK : dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory", path);
    for (int64_t i = 0; i < n && !rc; i++) {
        int64_t start = *offset;
        if (as_u8 ? grow((void **)&out->u8, &cap, (i + 1) * features, 1)
                  : grow((void **)&out->x, &cap, (i + 1) * features, sizeof *out->x)) {
            rc = dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory for %lld images", path, (long long)(i + 1));
            break;
        }
        float *x = as_u8 ? NULL : out->x + i * features;
        uint8_t *u8 = as_u8 ? out->u8 + i * features : NULL;
        for (int64_t done = 0; done < features && !rc;) {
            unsigned piece = features - done > PIECE ? PIECE : (unsigned)(features - done);
            int got = gzread(f, u8 ? u8 + done : bytes, piece);
            if (got < 0)
                rc = dlrt_fail(err, DLRT_EFORMAT, "%s: read error at byte offset %lld in image %lld: %s", path,
                               (long long)*offset, (long long)i, gz_message(f));
            else if (got == 0)
                rc = dlrt_fail(err, DLRT_EFORMAT,
                               "%s: truncated: expected %lld bytes of image pixels (image %lld) at byte offset "
                               "%lld, the file ends at byte offset %lld",
                               path, (long long)features, (long long)i, (long long)start, (long long)*offset);
            for (int k = 0; x && k < got; k++)
                x[done + k] = dlrt_u8_to_f32(bytes[k]);
            done += got > 0 ? got : 0;
            *offset += got > 0 ? got : 0;
        }
    }
    free(bytes);
    return rc;
}

/* Fills in the shape of n images of rows x cols pixels. */
static void image_shape(DlrtDataset *out, int64_t n, uint32_t rows, uint32_t cols) {
    out->n = n;
    out->rank = 3;
    out->dims[0] = 1;
    out->dims[1] = rows;
    out->dims[2] = cols;
    out->features = (int64_t)rows * cols;
}

/* dlrt_idx_load, the images as floats or (as_u8) as bytes. */
static int idx_load(const char *images_path, const char *labels_path, int classes, int64_t limit, int as_u8,
                    DlrtDataset *out, DlrtError *err) {
    memset(out, 0, sizeof *out);
    if (classes < 1 || classes > 256)
        return dlrt_fail(err, DLRT_EINVAL, "%s: classes must be 1 to 256, got %d", labels_path, classes);

    gzFile fi, fl;
    uint32_t idims[3], ldims[1];
    int64_t ioff, loff;
    int rc = open_idx(images_path, IDX_IMAGES_MAGIC, 3, idims, &fi, &ioff, err);
    if (rc)
        return rc;
    rc = open_idx(labels_path, IDX_LABELS_MAGIC, 1, ldims, &fl, &loff, err);
    if (rc) {
        gzclose(fi);
        return rc;
    }
    if (idims[0] != ldims[0]) {
        rc = dlrt_fail(err, DLRT_EFORMAT, "%s: %u labels (count at byte offset 4), but %s has %u images", labels_path,
                       (unsigned)ldims[0], images_path, (unsigned)idims[0]);
        goto done;
    }

    /* Both headers are checked against what their files can hold before either is inflated, then the labels
     * (a byte an example) are read before the images, so a mismatch stops the load at the cheapest point. */
    int64_t n = idims[0];
    if (limit > 0 && limit < n)
        n = limit;
    char claim[96];
    snprintf(claim, sizeof claim, "%lld images of %u x %u pixels", (long long)n, (unsigned)idims[1],
             (unsigned)idims[2]);
    rc = plausible(fi, images_path, 16 + (uint64_t)n * idims[1] * idims[2], claim, err);
    if (!rc) {
        snprintf(claim, sizeof claim, "%lld labels", (long long)n);
        rc = plausible(fl, labels_path, 8 + (uint64_t)n, claim, err);
    }
    if (rc)
        goto done;
    image_shape(out, n, idims[1], idims[2]);
    out->classes = classes;

    int64_t cap = 0;
    unsigned char label;
    for (int64_t i = 0; i < n; i++) {
        if (grow((void **)&out->labels, &cap, i + 1, sizeof *out->labels)) {
            rc = dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory for %lld labels", labels_path, (long long)n);
            goto done;
        }
        rc = read_exact(fl, labels_path, &label, 1, &loff, "label", err);
        if (rc)
            goto done;
        if (label >= classes) {
            rc = dlrt_fail(err, DLRT_EFORMAT,
                           "%s: label %u at byte offset %lld (example %lld) is out of range: "
                           "expected 0 to %d",
                           labels_path, label, (long long)(loff - 1), (long long)i, classes - 1);
            goto done;
        }
        out->labels[i] = label;
    }
    rc = read_images(fi, images_path, n, out->features, &ioff, as_u8, out, err);

done:
    gzclose(fi);
    gzclose(fl);
    if (rc)
        dlrt_dataset_free(out);
    return rc;
}

int dlrt_idx_load(const char *images_path, const char *labels_path, int classes, int64_t limit, DlrtDataset *out,
                  DlrtError *err) {
    return idx_load(images_path, labels_path, classes, limit, 0, out, err);
}

void dlrt_dataset_get(const DlrtDataset *ds, int64_t first, int64_t count, float *dst) {
    int64_t len = count * ds->features, at = first * ds->features;
    if (ds->u8)
        for (int64_t i = 0; i < len; i++)
            dst[i] = dlrt_u8_to_f32(ds->u8[at + i]);
    else
        memcpy(dst, ds->x + at, sizeof(float) * (size_t)len);
}

int dlrt_idx_load_images(const char *path, int64_t limit, DlrtDataset *out, DlrtError *err) {
    memset(out, 0, sizeof *out);
    gzFile f;
    uint32_t dims[3];
    int64_t off;
    int rc = open_idx(path, IDX_IMAGES_MAGIC, 3, dims, &f, &off, err);
    if (rc)
        return rc;
    int64_t n = dims[0];
    if (limit > 0 && limit < n)
        n = limit;
    char claim[96];
    snprintf(claim, sizeof claim, "%lld images of %u x %u pixels", (long long)n, (unsigned)dims[1], (unsigned)dims[2]);
    rc = plausible(f, path, 16 + (uint64_t)n * dims[1] * dims[2], claim, err);
    image_shape(out, n, dims[1], dims[2]);
    if (!rc)
        rc = read_images(f, path, n, out->features, &off, 0, out, err);
    gzclose(f);
    if (rc)
        dlrt_dataset_free(out);
    return rc;
}

/* Finds dir/base.gz or, failing that, dir/base; returns 0 and the path found, or -1 with the .gz path. */
static int find_file(const char *dir, const char *base, char *path, size_t cap) {
    struct stat st;
    size_t len = strlen(dir);
    const char *sep = len > 0 && dir[len - 1] == '/' ? "" : "/";
    snprintf(path, cap, "%s%s%s", dir, sep, base);
    if (stat(path, &st) == 0)
        return 0;
    snprintf(path, cap, "%s%s%s.gz", dir, sep, base);
    return stat(path, &st) == 0 ? 0 : -1;
}

/* Fashion-MNIST's four files under dir, the images as floats or as bytes. */
static int load_fashion_mnist(const char *dir, int64_t limit, int as_u8, DlrtDataset *train, DlrtDataset *test,
                              DlrtError *err) {
    static const char *const names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                         "t10k-labels-idx1-ubyte"};
    char paths[4][1024];
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!dir)
        dir = DLRT_FASHION_MNIST_DIR;
    for (int i = 0; i < 4; i++)
        if (find_file(dir, names[i], paths[i], sizeof paths[i]) != 0)
            return dlrt_fail(err, DLRT_EIO,
                             "Fashion-MNIST not found: no %s.gz or %s in %s. Install it with "
                             "`apt-get install dataset-fashion-mnist` (into " DLRT_FASHION_MNIST_DIR
                             "), or pass --data DIR",
                             names[i], names[i], dir);
    int rc = idx_load(paths[0], paths[1], 10, limit, as_u8, train, err);
    if (!rc)
        rc = idx_load(paths[2], paths[3], 10, limit, as_u8, test, err);
    if (rc)
        dlrt_dataset_free(train);
    return rc;
}

int dlrt_load_fashion_mnist(const char *dir, int64_t limit, DlrtDataset *train, DlrtDataset *test, DlrtError *err) {
    return load_fashion_mnist(dir, limit, 0, train, test, err);
}

int dlrt_load_fashion_mnist_u8(const char *dir, int64_t limit, DlrtDataset *train, DlrtDataset *test, DlrtError *err) {
    return load_fashion_mnist(dir, limit, 1, train, test, err);
}

const char *dlrt_fashion_mnist_class(int label) {
    static const char *const classes[10] = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                            "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};
    return label >= 0 && label < 10 ? classes[label] : "?";
}
