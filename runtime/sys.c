/* sys.c - the runtime's contact with the operating system: error formatting, atomic file replacement,
 * the monotonic clock, peak memory and thread counts. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

/* The directory part of path ("." when it has none), into dir[cap]. */
static void dir_of(const char *path, char *dir, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, cap, ".");
    else if (slash == path)
        snprintf(dir, cap, "/");
    else
        snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

int dlrt_atomic_open(DlrtAtomicFile *af, const char *path, DlrtError *err) {
    af->f = NULL;
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof af->path)
        return dlrt_fail(err, DLRT_EINVAL, "%s: path is empty or too long", path);
    /* A symbolic link is written through: the file replaced is its target, so the link stays a link. */
    struct stat st;
    char target[PATH_MAX];
    const char *real = path;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        if (!realpath(path, target))
            return dlrt_fail(err, DLRT_EIO, "%s: cannot write through the symbolic link: %s", path, strerror(errno));
        if (strlen(target) >= sizeof af->path)
            return dlrt_fail(err, DLRT_EINVAL, "%s: the link's target %s is too long", path, target);
        real = target;
    }
    if (stat(real, &st) == 0 && S_ISDIR(st.st_mode))
        return dlrt_fail(err, DLRT_EIO, "%s: cannot write: it is a directory", path);
    snprintf(af->path, sizeof af->path, "%s", real);
    /* The temporary file lives in the target's directory so rename() stays within one file system. Its name is
     * the target's with ".tmp<pid>" appended, the target's part shortened so that the name stays within NAME_MAX. */
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".tmp%ld", (long)getpid());
    const char *base = strrchr(af->path, '/');
    base = base ? base + 1 : af->path;
    size_t keep = strlen(base), room = NAME_MAX - strlen(suffix);
    if (keep > room)
        keep = room;
    snprintf(af->tmp, sizeof af->tmp, "%.*s%.*s%s", (int)(base - af->path), af->path, (int)keep, base, suffix);
    af->f = fopen(af->tmp, "wb");
    if (!af->f) {
        int saved = errno;
        char dir[sizeof af->path];
        dir_of(af->path, dir, sizeof dir);
        if (saved == ENOENT || (saved == ENOTDIR && stat(dir, &st) != 0))
            return dlrt_fail(err, DLRT_EIO, "%s: cannot write: the folder %s does not exist", path, dir);
        if (saved == ENOTDIR)
            return dlrt_fail(err, DLRT_EIO, "%s: cannot write: %s is not a folder", path, dir);
        return dlrt_fail(err, DLRT_EIO, "%s: cannot create %s: %s", path, af->tmp, strerror(saved));
    }
    return DLRT_OK;
}

int dlrt_output_check(const char *path, DlrtError *err) {
    DlrtAtomicFile af;
    int rc = dlrt_atomic_open(&af, path, err);
    if (rc == DLRT_OK)
        dlrt_atomic_abort(&af);
    return rc;
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
    dir_of(path, dir, sizeof dir);
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int dlrt_atomic_commit(DlrtAtomicFile *af, DlrtError *err) {
    FILE *f = af->f;
    af->f = NULL;
    const char *failed = NULL;
    int saved = 0;
    if (ferror(f) || fflush(f) != 0)
        failed = "write failed";
    else if (fsync(fileno(f)) != 0)
        failed = "cannot flush it to disk (fsync)";
    if (failed)
        saved = errno;
    if (fclose(f) != 0 && !failed) {
        failed = "write failed";
        saved = errno;
    }
    if (failed) {
        remove(af->tmp);
        return dlrt_fail(err, DLRT_EIO, "%s: %s: %s; the file is as it was before", af->path, failed, strerror(saved));
    }
    if (rename(af->tmp, af->path) != 0) {
        saved = errno;
        remove(af->tmp);
        return dlrt_fail(err, DLRT_EIO, "%s: cannot rename %s into place: %s; the file is as it was before", af->path,
                         af->tmp, strerror(saved));
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

const char *dlrt_wait_policy(int ranks_on_host) {
    return dlrt_gemm_route() == DLRT_ROUTE_BLAS || ranks_on_host != 1 ? "passive" : "active";
}

void dlrt_exec_with_wait_policy(int argc, char **argv, int ranks_on_host) {
#ifdef _OPENMP
    if (getenv("OMP_WAIT_POLICY") || argc <= 0)
        return;
    const char *policy = dlrt_wait_policy(ranks_on_host);
    setenv("OMP_WAIT_POLICY", policy, 1);
    /* libgomp's active threads spin for minutes, which on a machine whose cores other jobs share is ruinous: a
     * thread spins out its time slice waiting for one that is not running. LeNet on two threads at a load of 7 on
     * two cores, medians of 4: 14,000 examples/s passive, 350 to 2,400 spinning without end, 11,400 spinning 3000
     * times (about 0.1 ms here) before sleeping, 3,800 at 10,000 times. A user's GOMP_SPINCOUNT is kept. */
    if (strcmp(policy, "active") == 0)
        setenv("GOMP_SPINCOUNT", DLRT_SPIN_COUNT, 0);
    execv("/proc/self/exe", argv);
#else
    (void)argc;
    (void)argv;
    (void)ranks_on_host;
#endif
}

int dlrt_set_threads(int n, double largest_blas_flops) {
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)cores : 1;
    }
    openblas_set_num_threads(dlrt_gemm_route() == DLRT_ROUTE_BLAS && largest_blas_flops >= 48e6 ? n : 1);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    return n;
}
