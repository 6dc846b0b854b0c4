/* testutil.h: helpers shared by the tests that compile and run generated C (testutil.c). */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Records p to be freed at exit (atexit(free_kept)), so sanitizer builds report only real leaks. */
void *keep(void *p);
void free_kept(void);
/* printf into a string that lives until exit. */
char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
/* A file's text (until exit), or a note that it cannot be read; slurp_n also gives its size (0 then). */
char *slurp(const char *path);
char *slurp_n(const char *path, size_t *len);
int mkdir_p(const char *path);
/* Removes a directory and everything below it. */
void remove_tree(const char *path);
bool write_text(const char *path, const char *text);
/* Runs argv (no shell) with stdout and stderr going to `log`; returns the exit status, or -1. */
int run(char *const argv[], const char *log);
/* The feature a path of <name>_isa() (DLRT_ISA: avx512, avx2, portable) needs that this CPU lacks, or NULL. */
const char *isa_missing(const char *isa);
/* Runs a command given as words separated by single spaces (no word has a space: the paths are the tests' own),
 * its output to `log` and, when out is not NULL, into *out. */
int run_words(char **out, const char *log, const char *cmd);
/* The folder a test that writes files of hundreds of megabytes makes its own directory in: /dev/shm when it is a
 * tmpfs with `need` bytes free and at least as much memory available (the files then never reach the disk, whose
 * writes throttle to ~100 MB/s on the CI's virtual machines), else $TMPDIR, else /tmp. */
const char *big_files_dir(unsigned long long need);

#endif
