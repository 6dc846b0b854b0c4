/* fault_shim.c - an LD_PRELOAD library that makes one call of a program fail, for the fault-injection test in
 * test_trainer.c: a disk that fills up, a flush to disk that fails, a rename that is refused. Set in the
 * environment:
 *
 *   FAULT_OP     write, fsync or rename: the kind of call to fail
 *   FAULT_PATH   only calls on a file whose path contains this text count (the target's name for rename)
 *   FAULT_N      the call of that kind that fails, counted from 1; 0 fails none and only counts
 *   FAULT_ERRNO  the error it fails with (default ENOSPC for write, EIO for fsync and rename)
 *   FAULT_COUNT  a file that receives the number of matching calls when the program exits
 *
 * write covers write(2) and fwrite(3). glibc's stdio reaches the kernel through an internal alias of write that
 * no preloaded library can intercept, so a program's buffered writes are failed where it hands them to stdio,
 * which is where it would see the error of a full disk first. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    int ready;
    const char *op, *path;
    long n, count;
    int error;
} fault;

static void setup(void) {
    if (fault.ready)
        return;
    fault.ready = 1;
    fault.op = getenv("FAULT_OP");
    fault.path = getenv("FAULT_PATH");
    const char *n = getenv("FAULT_N"), *e = getenv("FAULT_ERRNO");
    fault.n = n ? atol(n) : 0;
    fault.error = e ? atoi(e) : fault.op && strcmp(fault.op, "write") == 0 ? ENOSPC : EIO;
}

static int fd_matches(int fd) {
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, target, sizeof target - 1);
    if (len < 0)
        return 0;
    target[len] = '\0';
    return strstr(target, fault.path) != NULL;
}

/* Counts a call of kind `op` (on a file that `matches`) and says whether it is the one to fail. */
static int fails(const char *op, int (*matches)(int), int fd, const char *name) {
    setup();
    if (!fault.op || !fault.path || strcmp(fault.op, op) != 0)
        return 0;
    if (matches ? !matches(fd) : !strstr(name, fault.path))
        return 0;
    return ++fault.count == fault.n;
}

ssize_t write(int fd, const void *buf, size_t n) {
    static ssize_t (*real)(int, const void *, size_t);
    if (!real)
        real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (fails("write", fd_matches, fd, NULL)) {
        errno = fault.error;
        return -1;
    }
    return real(fd, buf, n);
}

size_t fwrite(const void *buf, size_t size, size_t n, FILE *f) {
    static size_t (*real)(const void *, size_t, size_t, FILE *);
    if (!real)
        real = (size_t(*)(const void *, size_t, size_t, FILE *))dlsym(RTLD_NEXT, "fwrite");
    if (fails("write", fd_matches, fileno(f), NULL)) {
        errno = fault.error;
        return 0;
    }
    return real(buf, size, n, f);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (fails("fsync", fd_matches, fd, NULL)) {
        errno = fault.error;
        return -1;
    }
    return real(fd);
}

int rename(const char *from, const char *to) {
    static int (*real)(const char *, const char *);
    if (!real)
        real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    if (fails("rename", NULL, -1, to)) {
        errno = fault.error;
        return -1;
    }
    return real(from, to);
}

__attribute__((destructor)) static void report(void) {
    const char *file = getenv("FAULT_COUNT");
    if (!file)
        return;
    FILE *f = fopen(file, "w");
    if (f) {
        fprintf(f, "%ld\n", fault.count);
        fclose(f);
    }
}
