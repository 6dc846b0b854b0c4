/* diag.c: diagnostics in the format users of clang and rustc read without thinking:
 *
 *   lenet.dlm:12:9: error: conv2d expects [N, C, H, W], got f32[batch 256, 784]
 *      12 |     x = conv2d(x, 6, kernel=5)
 *         |         ^~~~~~~~~~~~~~~~~~~~~~
 *
 * A run reports every error it can and exits 1 at the end; its context's Diag counts them. A diagnostic finds
 * that Diag through its location: the source it points into belongs to one compilation (Source.ctx), so the
 * two hundred places that report an error need nothing but the location they already have. */
#include "dlc.h"

void diag_init(Diag *d, FILE *out) {
    d->out = out;
    d->errors = 0;
    d->max_errors = 50;
    d->color = false;
}

Loc span(Loc a, Loc b) {
    Loc r = a;
    if (b.src && (b.end_line > a.end_line || (b.end_line == a.end_line && b.end_col > a.end_col))) {
        r.end_line = b.end_line;
        r.end_col = b.end_col;
    }
    return r;
}

/* The text of line `line` (1-based) and its length, or NULL past the end. */
static const char *line_text(const Source *src, int line, int *len) {
    const char *p = src->text, *end = src->text + src->len;
    for (int l = 1; l < line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return NULL;
        p = nl + 1;
    }
    if (p > end)
        return NULL;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    *len = (int)((nl ? nl : end) - p);
    return p;
}

static void print_excerpt(FILE *out, Loc loc) {
    int len;
    const char *text = line_text(loc.src, loc.line, &len);
    if (!text)
        return;
    char num[16];
    int w = snprintf(num, sizeof num, "%d", loc.line);
    fprintf(out, " %*s | ", w, num);
    for (int i = 0; i < len; i++)
        fputc(text[i] == '\t' ? ' ' : (text[i] >= 0x20 || text[i] < 0 ? text[i] : ' '), out);
    fprintf(out, "\n %*s | ", w, "");
    int last = loc.end_line == loc.line ? loc.end_col : len;
    if (last < loc.col)
        last = loc.col;
    for (int c = 1; c < loc.col; c++)
        fputc(' ', out);
    for (int c = loc.col; c <= last && c <= len + 1; c++)
        fputc(c == loc.col ? '^' : '~', out);
    fputc('\n', out);
}

void verror_at(Loc loc, const char *kind, const char *fmt, va_list ap) {
    if (!loc.src)
        die("a diagnostic with no location: %s", fmt);
    Diag *d = &loc.src->ctx->diag;
    bool is_error = strcmp(kind, "error") == 0;
    if (is_error && ++d->errors > d->max_errors) {
        if (d->errors == d->max_errors + 1)
            fprintf(d->out, "dlc: too many errors; stopping the report here\n");
        return;
    }
    if (!is_error && d->errors > d->max_errors)
        return;
    fprintf(d->out, "%s:%d:%d: %s: ", loc.src->path, loc.line, loc.col, kind);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    print_excerpt(d->out, loc);
}

void error_at(Loc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    verror_at(loc, "error", fmt, ap);
    va_end(ap);
}

void note_at(Loc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    verror_at(loc, "note", fmt, ap);
    va_end(ap);
}
