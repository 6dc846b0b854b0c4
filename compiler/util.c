/* util.c: the compilation arena, strings, and the one way a compiler bug ends a run.
 *
 * Every allocation of a compilation comes from one arena of large chunks, freed at once by arena_free_all():
 * the compiler's data structures never free piecemeal. */
#include "dlc.h"

typedef struct Chunk {
    struct Chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char mem[];
} Chunk;

static Chunk *arena_head;
static size_t arena_total; /* bytes of all chunks */

void *xalloc(size_t size) {
    size = (size + 15) & ~(size_t)15;
    if (!arena_head || arena_head->used + size > arena_head->cap) {
        size_t cap = size > (1u << 20) ? size : (1u << 20);
        Chunk *c = malloc(sizeof(Chunk) + cap);
        if (!c)
            die("out of memory (%zu bytes)", size);
        c->next = arena_head;
        c->used = 0;
        c->cap = cap;
        arena_head = c;
        arena_total += cap;
    }
    void *p = arena_head->mem + arena_head->used;
    arena_head->used += size;
    memset(p, 0, size);
    return p;
}

void *xrealloc_arr(void *p, size_t old_n, size_t new_n, size_t elem) {
    void *q = xalloc(new_n * elem);
    if (p && old_n)
        memcpy(q, p, old_n * elem);
    return q;
}

size_t arena_allocated(void) { return arena_total; }

void arena_free_all(void) {
    arena_total = 0;
    while (arena_head) {
        Chunk *next = arena_head->next;
        free(arena_head);
        arena_head = next;
    }
}

char *xstrndup(const char *s, size_t n) {
    char *p = xalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

/* gcc 12 with -fsanitize=address reports a "null format string" here that cannot happen (fmt is a format
 * attribute's argument); the warning is silenced for this function only. */
#pragma GCC diagnostic push
#ifndef __clang__ /* clang has no such warning, and warns about the unknown name */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
char *xsprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *buf = xalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(buf, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return buf;
}
#pragma GCC diagnostic pop

_Noreturn void die_at(const char *file, int line, const char *fmt, ...) {
    fflush(stdout);
    fprintf(stderr, "dlc: internal compiler error at %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nThis is a bug in dlc, not in your model; please report it with the .dlm file.\n");
    abort();
}

/* Shell-style glob where '*' also matches dots ("*.weight" matches "features.0.weight"), and '?' one char.
 * Greedy with one backtracking point, the last '*': a later star only ever needs to extend its own match, so
 * this is O(|p| * |s|) where the recursive form is exponential in the number of stars ("*a*a*a*a*b"). */
bool glob_match(const char *p, const char *s) {
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*p == '*') {
            while (*p == '*')
                p++;
            star = p;
            resume = s;
        } else if (*p == '?' || *p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    Vec(char) buf = {0};
    char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
        for (size_t i = 0; i < k; i++)
            vec_push(&buf, tmp[i]);
    bool bad = ferror(f);
    fclose(f);
    if (bad)
        return NULL;
    vec_push(&buf, '\0');
    *len = (size_t)buf.n - 1;
    return buf.v;
}
