/* sys.c - the runtime's contact with the operating system: error formatting, atomic file replacement,
 * the monotonic clock, peak memory and thread counts. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "internal.h"

/* OpenBLAS's own entry point; declared here rather than via cblas.h, whose install path varies by distribution. */
void openblas_set_num_threads(int n);

int dlrt_fail(DlrtError *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

int dlrt_atomic_open(DlrtAtomicFile *af, const char *path, DlrtError *err) {
    af->f = NULL;
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof af->path)
        return dlrt_fail(err, DLRT_EINVAL, "%s: path is empty or too long", path);
    memcpy(af->path, path, len + 1);
    /* The temporary file lives in the target's directory so rename() stays within one file system. */
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f)
        return dlrt_fail(err, DLRT_EIO, "%s: cannot create %s: %s", path, af->tmp, strerror(errno));
    return DLRT_OK;
}

void dlrt_atomic_abort(DlrtAtomicFile *af) {
    if (af->f) {
        fclose(af->f);
        af->f = NULL;
        remove(af->tmp);
    }
}

/* Makes the rename itself durable; failure here is not worth reporting (some file systems refuse it). */
static void sync_parent_dir(const char *path) {
    char dir[1024];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int dlrt_atomic_commit(DlrtAtomicFile *af, DlrtError *err) {
    FILE *f = af->f;
    af->f = NULL;
    int failed = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int saved = errno;
    if (fclose(f) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (failed) {
        remove(af->tmp);
        return dlrt_fail(err, DLRT_EIO, "%s: write failed: %s", af->path, strerror(saved));
    }
    if (rename(af->tmp, af->path) != 0) {
        saved = errno;
        remove(af->tmp);
        return dlrt_fail(err, DLRT_EIO, "%s: cannot rename %s into place: %s", af->path, af->tmp, strerror(saved));
    }
    sync_parent_dir(af->path);
    return DLRT_OK;
}

double dlrt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t dlrt_peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
#ifdef __APPLE__
    return (int64_t)ru.ru_maxrss; /* bytes on macOS */
#else
    return (int64_t)ru.ru_maxrss * 1024; /* kilobytes on Linux and the BSDs */
#endif
}

int dlrt_set_threads(int n, double largest_blas_flops) {
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)cores : 1;
    }
    openblas_set_num_threads(largest_blas_flops < 16e6 ? 1 : n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    return n;
}
