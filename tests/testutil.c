/* testutil.c: what the tests that compile generated C share: strings that live until exit, files, and running
 * a program with its output in a log. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* Strings and buffers live until the program ends, as in the compiler's arena: keep() records them and one
 * atexit() handler frees them all, so that a -Db_sanitize=address build reports only real leaks. */
static void **kept;
static size_t nkept, capkept;

void *keep(void *p) {
    if (nkept == capkept) {
        capkept = capkept ? 2 * capkept : 256;
        kept = realloc(kept, sizeof *kept * capkept);
        if (!kept)
            abort();
    }
    kept[nkept++] = p;
    return p;
}

void free_kept(void) {
    for (size_t i = 0; i < nkept; i++)
        free(kept[i]);
    free(kept);
}

/* gcc 12 with -fsanitize=address reports a "null format string" in the vsnprintf below that cannot happen (as in
 * compiler/util.c's xsprintf); silenced for this function only. */
#pragma GCC diagnostic push
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
char *fmt(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    int len = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    char *s = malloc((size_t)len + 1);
    va_start(ap, f);
    vsnprintf(s, (size_t)len + 1, f, ap);
    va_end(ap);
    return keep(s);
}
#pragma GCC diagnostic pop

char *slurp_n(const char *path, size_t *len) {
    if (len)
        *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fmt("(cannot read %s)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = keep(malloc((size_t)(n > 0 ? n : 0) + 1));
    size_t got = fread(s, 1, (size_t)(n > 0 ? n : 0), f);
    s[got] = 0;
    fclose(f);
    if (len)
        *len = got;
    return s;
}

char *slurp(const char *path) { return slurp_n(path, NULL); }

int mkdir_p(const char *path) { return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1; }

/* Removes the work directory: files, and directories one level down. */
void remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = fmt("%s/%s", path, e->d_name);
        if (unlink(p) != 0)
            remove_tree(p);
    }
    closedir(d);
    rmdir(path);
}

bool write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fputs(text, f);
    return fclose(f) == 0;
}

/* Runs argv (no shell) with stdout and stderr going to `log`; returns the exit status, or -1. */
int run(char *const argv[], const char *log) {
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The feature a path of <name>_isa() (DLRT_ISA) needs that this CPU lacks, or NULL: the features the generated
 * code asks the CPU for. */
const char *isa_missing(const char *isa) {
    __builtin_cpu_init();
    const struct {
        const char *name;
        int has;
        bool avx512;
    } f[] = {
        {"avx2", __builtin_cpu_supports("avx2"), false},        {"fma", __builtin_cpu_supports("fma"), false},
        {"bmi", __builtin_cpu_supports("bmi"), false},          {"bmi2", __builtin_cpu_supports("bmi2"), false},
        {"avx512f", __builtin_cpu_supports("avx512f"), true},   {"avx512vl", __builtin_cpu_supports("avx512vl"), true},
        {"avx512bw", __builtin_cpu_supports("avx512bw"), true}, {"avx512dq", __builtin_cpu_supports("avx512dq"), true},
        {"avx512cd", __builtin_cpu_supports("avx512cd"), true},
    };
    bool portable = strcmp(isa, "portable") == 0, avx512 = strcmp(isa, "avx512") == 0;
    for (size_t i = 0; !portable && i < sizeof f / sizeof f[0]; i++)
        if (!f[i].has && (avx512 || !f[i].avx512))
            return f[i].name;
    return NULL;
}

int run_words(char **out, const char *log, const char *cmd) {
    char *copy = fmt("%s", cmd), *argv[64];
    int k = 0;
    for (char *w = strtok(copy, " "); w && k < 63; w = strtok(NULL, " "))
        argv[k++] = w;
    argv[k] = NULL;
    int rc = run(argv, log);
    if (out)
        *out = slurp_n(log, NULL);
    return rc;
}

/* MemAvailable of /proc/meminfo in bytes, or 0 when it cannot be read. */
static unsigned long long mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

const char *big_files_dir(unsigned long long need) {
    enum { TMPFS_MAGIC = 0x01021994 };
    struct statfs fs;
    if (statfs("/dev/shm", &fs) == 0 && fs.f_type == TMPFS_MAGIC && access("/dev/shm", W_OK) == 0 &&
        (unsigned long long)fs.f_bavail * (unsigned long long)fs.f_bsize >= need && mem_available() >= need)
        return "/dev/shm";
    const char *tmp = getenv("TMPDIR");
    return tmp && *tmp ? tmp : "/tmp";
}
