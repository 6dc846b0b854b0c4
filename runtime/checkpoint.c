/* checkpoint.c - checkpoint files: the codec of checkpoint_core.c, and the NumPy archives of npz.c, bound to the
 * file system. Saving streams the encoding into an atomically replaced file; loading maps the file and decodes it
 * in place, so even a large model's checkpoint costs no second copy in memory. A path ending in .npz is an
 * archive: the trainers' --save and --load and dlc's --weights take either format through the same two calls. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

typedef struct {
    DlrtSink sink;
    FILE *f;
} FileSink;

static int file_write(DlrtSink *self, const void *bytes, size_t n) {
    FileSink *fs = (FileSink *)self;
    return fwrite(bytes, 1, n, fs->f) == n ? 0 : -1;
}

/* Writes the encoding that `encode` streams into path, atomically. */
static int save_stream(const char *path, int (*encode)(const void *what, DlrtSink *sink, DlrtError *err),
                       const void *what, DlrtError *err) {
    DlrtAtomicFile af;
    int rc = dlrt_atomic_open(&af, path, err);
    if (rc)
        return rc;
    FileSink fs = {{file_write}, af.f};
    rc = encode(what, &fs.sink, err);
    if (rc) {
        int saved = errno; /* the write's, before closing and removing the temporary file change it */
        dlrt_atomic_abort(&af);
        return rc == DLRT_EIO
                   ? dlrt_fail(err, rc, "%s: write failed: %s; the file is as it was before", path, strerror(saved))
                   : rc;
    }
    return dlrt_atomic_commit(&af, err);
}

static int encode_checkpoint(const void *what, DlrtSink *sink, DlrtError *err) {
    return dlrt_checkpoint_encode(what, sink, err);
}

typedef struct {
    const DlrtTensorDesc *ts;
    int n;
} Tensors;

static int encode_npz(const void *what, DlrtSink *sink, DlrtError *err) {
    const Tensors *t = what;
    return dlrt_npz_encode(t->ts, t->n, sink, err);
}

int dlrt_npz_save(const char *path, const DlrtTensorDesc *ts, int n, DlrtError *err) {
    Tensors t = {ts, n};
    return save_stream(path, encode_npz, &t, err);
}

int dlrt_checkpoint_save(const char *path, const DlrtCheckpoint *ck, DlrtError *err) {
    if (!dlrt_checkpoint_size(ck))
        return dlrt_fail(err, DLRT_EINVAL,
                         "%s: invalid tensor descriptors (missing name or data, bad dtype, "
                         "rank or dims)",
                         path);
    if (dlrt_path_is_npz(path))
        return dlrt_npz_save(path, ck->params, ck->n_params, err);
    return save_stream(path, encode_checkpoint, ck, err);
}

/* A file mapped read-only (an empty file is a zero-length buffer: mmap refuses empty mappings). */
typedef struct {
    const void *p;
    size_t len;
} Mapped;

static int map_file(const char *path, Mapped *m, DlrtError *err) {
    *m = (Mapped){"", 0};
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return dlrt_fail(err, DLRT_EIO, "%s: cannot open checkpoint: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int saved = errno;
        close(fd);
        return dlrt_fail(err, DLRT_EIO, "%s: cannot stat checkpoint: %s", path, strerror(saved));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return dlrt_fail(err, DLRT_EIO, "%s: %s, not a checkpoint file", path,
                         S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
    }
    if (st.st_size == 0) { /* the decoder reports the truncation */
        close(fd);
        return DLRT_OK;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    close(fd);
    if (map == MAP_FAILED)
        return dlrt_fail(err, DLRT_EIO, "%s: cannot map checkpoint: %s", path, strerror(saved));
    *m = (Mapped){map, (size_t)st.st_size};
    return DLRT_OK;
}

static void unmap_file(Mapped *m) {
    if (m->len)
        munmap((void *)(uintptr_t)m->p, m->len);
}

int dlrt_npz_load(const char *path, DlrtTensorDesc *ts, int n, unsigned flags, DlrtError *err) {
    Mapped m;
    int rc = map_file(path, &m, err);
    if (rc)
        return rc;
    rc = dlrt_npz_read_mem(m.p, m.len, path, ts, n, flags, err);
    unmap_file(&m);
    return rc;
}

int dlrt_checkpoint_load(const char *path, DlrtCheckpoint *ck, unsigned flags, DlrtError *err) {
    if (dlrt_path_is_npz(path)) {
        if (flags & DLRT_CKPT_RESUME)
            return dlrt_fail(err, DLRT_EUSAGE,
                             "%s: a NumPy archive holds only the weights; resuming needs the full checkpoint "
                             "(optimizer state, epoch, RNG) that --save writes to a path not ending in .npz "
                             "(use --load to start from these weights)",
                             path);
        ck->has_optim = ck->has_epoch = ck->has_rng = 0;
        return dlrt_npz_load(path, ck->params, ck->n_params, flags & DLRT_CKPT_F32_VALUES, err);
    }
    Mapped m;
    int rc = map_file(path, &m, err);
    if (rc)
        return rc;
    rc = dlrt_checkpoint_read_mem(m.p, m.len, path, ck, flags, err);
    unmap_file(&m);
    return rc;
}
