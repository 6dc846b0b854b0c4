/* parse.c: sources, and the glue that runs the reentrant flex scanner under the pure bison parser. */
#include "dlc.h"
#include "lexer.h"
#include "parser.h"

Source *source_from_string(Ctx *ctx, const char *path, const char *text) {
    Source *s = xalloc(ctx, sizeof(Source));
    s->path = xstrdup(ctx, path);
    s->text = xstrdup(ctx, text);
    s->len = strlen(text);
    s->ctx = ctx;
    return s;
}

Source *source_from_file(Ctx *ctx, const char *path) {
    size_t len;
    char *text = read_file_max(ctx, path, MAX_SOURCE_BYTES, &len);
    if (!text)
        return NULL;
    Source *s = xalloc(ctx, sizeof(Source));
    s->path = xstrdup(ctx, path);
    s->text = text;
    s->len = len;
    s->ctx = ctx;
    return s;
}

Loc parse_loc_raw(const Source *src, int fl, int fc, int ll, int lc) {
    Loc l = {src, fl, fc, ll, lc};
    return l;
}

void parse_error(Parser *ps, Loc loc, const char *fmt, ...) {
    (void)ps;
    va_list ap;
    va_start(ap, fmt);
    verror_at(loc, "error", fmt, ap);
    va_end(ap);
}

char *lex_unquote(Ctx *ctx, const char *text, size_t len) {
    /* text includes the quotes; a lexer rule guarantees the opening one */
    char *out = xalloc(ctx, len + 1), *o = out;
    size_t end = (len >= 2 && text[len - 1] == '"') ? len - 1 : len;
    for (size_t i = 1; i < end; i++) {
        if (text[i] == '\\' && i + 1 < end)
            i++;
        *o++ = text[i];
    }
    *o = '\0';
    return out;
}

Program *parse_program(Source *src) {
    Program *prog = xalloc(src->ctx, sizeof(Program));
    prog->src = src;
    Lexer lx = {.line = 1, .col = 1, .src = src, .skip_to = -1};
    Parser ps = {.ctx = src->ctx, .program = prog, .src = src, .lexer = &lx};
    yyscan_t scanner;
    if (dlmlex_init_extra(&lx, &scanner) != 0)
        die("cannot start the scanner");
    /* NUL bytes in the text would end flex's buffer early: scan exactly len bytes */
    YY_BUFFER_STATE buf = dlm_scan_bytes(src->text, (int)src->len, scanner);
    dlmparse(scanner, &ps);
    dlm_delete_buffer(buf, scanner);
    dlmlex_destroy(scanner);
    return prog;
}
