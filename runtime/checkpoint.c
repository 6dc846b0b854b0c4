/* checkpoint.c - checkpoint files: the codec of checkpoint_core.c bound to the file system. Saving streams the
 * encoding into an atomically replaced file; loading maps the file and decodes it in place, so even a large
 * model's checkpoint costs no second copy in memory. */
#include <errno.h>
#include <fcntl.h>
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

int dlrt_checkpoint_save(const char *path, const DlrtCheckpoint *ck, DlrtError *err) {
    if (!dlrt_checkpoint_size(ck))
        return dlrt_fail(err, DLRT_EINVAL,
                         "%s: invalid tensor descriptors (missing name or data, bad dtype, "
                         "rank or dims)",
                         path);
    DlrtAtomicFile af;
    int rc = dlrt_atomic_open(&af, path, err);
    if (rc)
        return rc;
    FileSink fs = {{file_write}, af.f};
    rc = dlrt_checkpoint_encode(ck, &fs.sink, err);
    if (rc) {
        int saved = errno; /* the write's, before closing and removing the temporary file change it */
        dlrt_atomic_abort(&af);
        return dlrt_fail(err, rc, "%s: write failed: %s; the file is as it was before", path, strerror(saved));
    }
    return dlrt_atomic_commit(&af, err);
}

int dlrt_checkpoint_load(const char *path, DlrtCheckpoint *ck, unsigned flags, DlrtError *err) {
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
    size_t len = (size_t)st.st_size;
    if (len == 0) { /* mmap refuses empty mappings; the decoder reports the truncation */
        close(fd);
        return dlrt_checkpoint_read_mem("", 0, path, ck, flags, err);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    close(fd);
    if (map == MAP_FAILED)
        return dlrt_fail(err, DLRT_EIO, "%s: cannot map checkpoint: %s", path, strerror(saved));
    int rc = dlrt_checkpoint_read_mem(map, len, path, ck, flags, err);
    munmap(map, len);
    return rc;
}
