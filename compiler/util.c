/* util.c: the compilation context and its arena, strings, and the one way a compiler bug ends a run.
 *
 * Every allocation of a compilation comes from its context's arena of large chunks, freed at once by ctx_free():
 * the compiler's data structures never free piecemeal. */
#include "dlc.h"

#include <errno.h>
#include <limits.h>

typedef struct Chunk {
    struct Chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char mem[];
} Chunk;

void ctx_init(Ctx *ctx, FILE *diag_out) {
    ctx->arena = (Arena){0};
    ctx->budget = 0;
    ctx->over_budget = NULL;
    diag_init(&ctx->diag, diag_out);
}

void ctx_free(Ctx *ctx) {
    Arena *a = &ctx->arena;
    while (a->head) {
        Chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    a->total = 0;
}

size_t ctx_allocated(const Ctx *ctx) { return ctx->arena.total; }

void *xalloc(Ctx *ctx, size_t size) {
    Arena *a = &ctx->arena;
    size = (size + 15) & ~(size_t)15;
    if (!a->head || a->head->used + size > a->head->cap) {
        size_t cap = size > (1u << 20) ? size : (1u << 20);
        if (ctx->budget && (cap > ctx->budget || a->total > ctx->budget - cap)) {
            ctx->over_budget(ctx, a->total + cap);
            die("the memory budget's handler returned");
        }
        Chunk *c = malloc(sizeof(Chunk) + cap);
        if (!c)
            die("out of memory (%zu bytes)", size);
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
        a->total += cap;
    }
    void *p = a->head->mem + a->head->used;
    a->head->used += size;
    memset(p, 0, size);
    return p;
}

int vec_grown_cap(int cap) {
    if (cap > INT_MAX / 2)
        die("a vector of more than %d elements", INT_MAX / 2);
    return cap ? cap * 2 : 8;
}

void *xrealloc_arr(Ctx *ctx, void *p, size_t old_n, size_t new_n, size_t elem) {
    if (elem && new_n > SIZE_MAX / elem)
        die("an array of %zu elements of %zu bytes", new_n, elem);
    void *q = xalloc(ctx, new_n * elem);
    if (p && old_n)
        memcpy(q, p, old_n * elem);
    return q;
}

char *xstrndup(Ctx *ctx, const char *s, size_t n) {
    char *p = xalloc(ctx, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xstrdup(Ctx *ctx, const char *s) { return xstrndup(ctx, s, strlen(s)); }

/* gcc 12 with -fsanitize=address reports a "null format string" here that cannot happen (fmt is a format
 * attribute's argument); the warning is silenced for this function only. */
#pragma GCC diagnostic push
#ifndef __clang__ /* clang has no such warning, and warns about the unknown name */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
char *xsprintf(Ctx *ctx, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *buf = xalloc(ctx, (size_t)n + 1);
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

char *read_file(Ctx *ctx, const char *path, size_t *len) { return read_file_max(ctx, path, SIZE_MAX - 1, len); }

char *read_file_max(Ctx *ctx, const char *path, size_t max, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t n = 0, cap = 65536;
    char *buf = malloc(cap + 1);
    bool bad = !buf;
    for (size_t k; !bad && (k = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += k;
        if (n > max) {
            errno = EFBIG;
            bad = true;
        } else if (n == cap) {
            char *more = cap <= SIZE_MAX / 2 - 1 ? realloc(buf, cap * 2 + 1) : NULL;
            bad = !more;
            buf = more ? more : buf;
            cap *= 2;
        }
    }
    int err = errno;
    bad |= ferror(f) != 0;
    fclose(f);
    char *text = bad ? NULL : xstrndup(ctx, buf ? buf : "", n);
    free(buf);
    if (bad) {
        errno = err;
        return NULL;
    }
    *len = n;
    return text;
}
