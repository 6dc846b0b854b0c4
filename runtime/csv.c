/* csv.c - CSV tables and the house-price preprocessing of D2L 4.10 (docs/data.md).
 *
 * dlrt_csv_parse turns RFC 4180 text into a table of unquoted cells and refuses malformed input with the line
 * it is on. dlrt_csv_preprocess turns a train and a test table into datasets the way the book's pandas code
 * does: concat the features, (x - mean) / std, fillna(0), get_dummies(dummy_na=True). Everything here runs once
 * at start-up, so it allocates freely, and every error path frees what it allocated.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---------------------------------------------------------------------------------------------------------- */
/* Small helpers                                                                                              */
/* ---------------------------------------------------------------------------------------------------------- */

/* Makes room for `need` elements of `elem` bytes in *p (capacity *cap), doubling. 0 on success. */
static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return -1;
        n *= 2;
    }
    void *q = realloc(*p, n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static char *dup_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* A value as messages quote it: at most 40 bytes, control bytes as '?', "..." when cut. */
static const char *shown(const char *s, char buf[64]) {
    size_t i = 0;
    for (; s[i] && i < 40; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (s[i])
        memcpy(buf + i, "...", 4);
    else
        buf[i] = '\0';
    return buf;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* The number syntax of dlrt.h: optional blanks, [+-], digits with an optional fraction (at least one digit in
 * all), an optional exponent, optional blanks; finite. strtod does the conversion once the syntax is known
 * good, so it never sees hex, inf or nan. */
static int parse_number(const char *s, double *value) {
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *begin = p;
    if (*p == '+' || *p == '-')
        p++;
    int digits = 0;
    for (; is_digit(*p); p++)
        digits++;
    if (*p == '.')
        for (p++; is_digit(*p); p++)
            digits++;
    if (!digits)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!is_digit(*p))
            return 0;
        while (is_digit(*p))
            p++;
    }
    const char *stop = p;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p)
        return 0;
    char *end;
    double v = strtod(begin, &end);
    if (end != stop || !isfinite(v))
        return 0;
    *value = v;
    return 1;
}

/* A whole number: optional blanks, [+-]digits, optional blanks, within int64. */
static int parse_int64(const char *s, int64_t *value) {
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *begin = p;
    if (*p == '+' || *p == '-')
        p++;
    if (!is_digit(*p))
        return 0;
    while (is_digit(*p))
        p++;
    const char *stop = p;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p)
        return 0;
    errno = 0;
    char *end;
    long long v = strtoll(begin, &end, 10);
    if (errno == ERANGE || end != stop)
        return 0;
    *value = (int64_t)v;
    return 1;
}

/* Column names sorted for lookup: parse's duplicate check and preprocessing's matching of train to test. */
typedef struct {
    const char *name;
    int index;
} NameIndex;

static int cmp_name_index(const void *a, const void *b) {
    const NameIndex *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static NameIndex *name_index(char *const *names, int n) {
    NameIndex *ix = malloc(((size_t)n + 1) * sizeof *ix);
    if (!ix)
        return NULL;
    for (int i = 0; i < n; i++)
        ix[i] = (NameIndex){names[i], i};
    qsort(ix, (size_t)n, sizeof *ix, cmp_name_index);
    return ix;
}

/* The index of `name` in a sorted NameIndex (names distinct), or -1. */
static int find_name(const NameIndex *ix, int n, const char *name) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(ix[mid].name, name);
        if (c == 0)
            return ix[mid].index;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Parsing                                                                                                    */
/* ---------------------------------------------------------------------------------------------------------- */

typedef struct {
    const char *p, *end; /* the input not yet read */
    char *out;           /* where the next unquoted byte goes */
    int64_t line;        /* the line p is on */
    const char *source;
    DlrtError *err;
} Parser;

enum { END_FIELD, END_RECORD, END_INPUT };

/* Consumes the line break at p: LF, CRLF or a lone CR (as pandas reads old Mac files). */
static void line_break(Parser *ps) {
    if (*ps->p == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n')
        ps->p++;
    ps->p++;
    ps->line++;
}

/* Reads field number `field` (1-based) of the current record, unquoted and NUL-terminated, into ps->out.
 * *start receives its text, *quoted whether it was quoted, *how what ended it. */
static int read_field(Parser *ps, int64_t field, char **start, int *quoted, int *how) {
    char *o = ps->out;
    *start = o;
    *quoted = 0;
    if (ps->p < ps->end && *ps->p == '"') {
        int64_t first_line = ps->line;
        *quoted = 1;
        ps->p++;
        for (;;) {
            if (ps->p == ps->end)
                return dlrt_fail(ps->err, DLRT_EFORMAT,
                                 "%s:%lld: field %lld opens a quote that is never closed (the file ends inside it)",
                                 ps->source, (long long)first_line, (long long)field);
            char c = *ps->p++;
            if (c == '"') {
                if (ps->p < ps->end && *ps->p == '"') {
                    *o++ = '"';
                    ps->p++;
                    continue;
                }
                break;
            }
            if (c == '\0')
                return dlrt_fail(ps->err, DLRT_EFORMAT, "%s:%lld: field %lld holds a NUL byte", ps->source,
                                 (long long)ps->line, (long long)field);
            /* Line breaks inside quotes are data, kept as they are, but still count as lines. */
            if (c == '\n' || (c == '\r' && !(ps->p < ps->end && *ps->p == '\n')))
                ps->line++;
            *o++ = c;
        }
        if (ps->p < ps->end && *ps->p != ',' && *ps->p != '\n' && *ps->p != '\r')
            return dlrt_fail(ps->err, DLRT_EFORMAT,
                             "%s:%lld: field %lld has text after its closing quote (a quote inside a quoted "
                             "field is written twice: \"\")",
                             ps->source, (long long)ps->line, (long long)field);
    } else {
        for (; ps->p < ps->end; ps->p++) {
            char c = *ps->p;
            if (c == ',' || c == '\n' || c == '\r')
                break;
            if (c == '"')
                return dlrt_fail(ps->err, DLRT_EFORMAT,
                                 "%s:%lld: field %lld has a quote inside an unquoted field (quote the whole field "
                                 "and write the quote twice)",
                                 ps->source, (long long)ps->line, (long long)field);
            if (c == '\0')
                return dlrt_fail(ps->err, DLRT_EFORMAT, "%s:%lld: field %lld holds a NUL byte", ps->source,
                                 (long long)ps->line, (long long)field);
            *o++ = c;
        }
    }
    *o++ = '\0';
    ps->out = o;
    if (ps->p == ps->end) {
        *how = END_INPUT;
    } else if (*ps->p == ',') {
        ps->p++;
        *how = END_FIELD;
    } else {
        line_break(ps);
        *how = END_RECORD;
    }
    return DLRT_OK;
}

/* Reads one record's fields into *row (capacity *cap): *n fields, *blank for an empty line. */
static int read_record(Parser *ps, char ***row, size_t *cap, size_t *n, int *blank) {
    int how, first_quoted = 0;
    *n = 0;
    do {
        char *start;
        int quoted;
        int rc = read_field(ps, (int64_t)*n + 1, &start, &quoted, &how);
        if (rc)
            return rc;
        if (grow((void **)row, cap, *n + 1, sizeof **row))
            return dlrt_fail(ps->err, DLRT_ENOMEM, "%s:%lld: out of memory", ps->source, (long long)ps->line);
        if (*n == 0)
            first_quoted = quoted;
        (*row)[(*n)++] = start;
    } while (how == END_FIELD);
    *blank = *n == 1 && !first_quoted && (*row)[0][0] == '\0';
    return DLRT_OK;
}

static int is_missing(const char *s) { return s[0] == '\0' || strcmp(s, "NA") == 0; }

/* Fills t->numbers and detects t->kinds once the cells are in place. */
static int detect_kinds(DlrtCsvTable *t, DlrtError *err) {
    size_t cells = (size_t)t->n_rows * (size_t)t->n_cols;
    t->numbers = malloc((cells + 1) * sizeof *t->numbers);
    t->kinds = malloc(((size_t)t->n_cols + 1) * sizeof *t->kinds);
    if (!t->numbers || !t->kinds)
        return dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory for %zu cells", t->source, cells);
    for (int c = 0; c < t->n_cols; c++)
        t->kinds[c] = DLRT_CSV_NUMERIC;
    for (size_t i = 0; i < cells; i++) {
        double v = NAN;
        const char *s = t->cells[i];
        if (s && !parse_number(s, &v)) {
            v = NAN;
            t->kinds[i % (size_t)t->n_cols] = DLRT_CSV_CATEGORICAL;
        }
        t->numbers[i] = v;
    }
    return DLRT_OK;
}

int dlrt_csv_parse(const char *text, size_t len, const char *source, DlrtCsvTable *out, DlrtError *err) {
    memset(out, 0, sizeof *out);
    if (!source)
        source = "<csv>";
    if (!text && len)
        return dlrt_fail(err, DLRT_EINVAL, "%s: NULL text of %zu bytes", source, len);
    if (len > SIZE_MAX - 2)
        return dlrt_fail(err, DLRT_ENOMEM, "%s: too large", source);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    out->source = dup_string(source);
    /* Unquoting never lengthens a field, and each field's NUL takes the place of the separator or line break
     * after it, except for the last field of the input: len + 1 bytes always suffice. */
    out->text = malloc(len + 2);
    if (!out->source || !out->text) {
        dlrt_csv_free(out);
        return dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory for %zu bytes", source, len);
    }
    Parser ps = {text, text ? text + len : text, out->text, 1, source, err};
    char **row = NULL;
    size_t row_cap = 0, n = 0, cells_cap = 0, lines_cap = 0;
    int blank = 1, rc = DLRT_OK;

    while (blank && ps.p < ps.end) {
        out->header_line = ps.line;
        if ((rc = read_record(&ps, &row, &row_cap, &n, &blank)))
            goto fail;
    }
    if (blank) {
        rc = dlrt_fail(err, DLRT_EFORMAT, "%s: no header row (the file is empty or blank)", source);
        goto fail;
    }
    if (n > INT_MAX / 2) {
        rc = dlrt_fail(err, DLRT_EFORMAT, "%s:%lld: %zu columns are too many", source, (long long)out->header_line, n);
        goto fail;
    }
    out->n_cols = (int)n;
    out->names = malloc(n * sizeof *out->names);
    if (!out->names) {
        rc = dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory", source);
        goto fail;
    }
    memcpy(out->names, row, n * sizeof *row);
    NameIndex *ix = name_index(out->names, out->n_cols);
    if (!ix) {
        rc = dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory", source);
        goto fail;
    }
    for (int i = 1; i < out->n_cols; i++) {
        if (strcmp(ix[i - 1].name, ix[i].name) == 0) {
            char buf[64];
            rc = dlrt_fail(err, DLRT_EFORMAT, "%s:%lld: the header names column '%s' twice (columns %d and %d)", source,
                           (long long)out->header_line, shown(ix[i].name, buf), ix[i - 1].index + 1, ix[i].index + 1);
            free(ix);
            goto fail;
        }
    }
    free(ix);

    while (ps.p < ps.end) {
        int64_t line = ps.line;
        if ((rc = read_record(&ps, &row, &row_cap, &n, &blank)))
            goto fail;
        if (blank)
            continue;
        if (n != (size_t)out->n_cols) {
            rc = dlrt_fail(err, DLRT_EFORMAT, "%s:%lld: expected %d fields (as in the header on line %lld), found %zu",
                           source, (long long)line, out->n_cols, (long long)out->header_line, n);
            goto fail;
        }
        size_t r = (size_t)out->n_rows;
        if (grow((void **)&out->cells, &cells_cap, (r + 1) * n, sizeof *out->cells) ||
            grow((void **)&out->lines, &lines_cap, r + 1, sizeof *out->lines)) {
            rc = dlrt_fail(err, DLRT_ENOMEM, "%s:%lld: out of memory", source, (long long)line);
            goto fail;
        }
        for (size_t c = 0; c < n; c++)
            out->cells[r * n + c] = is_missing(row[c]) ? NULL : row[c];
        out->lines[r] = line;
        out->n_rows++;
    }
    free(row);
    row = NULL;
    if (!out->cells)
        out->cells = malloc(sizeof *out->cells);
    if (!out->lines)
        out->lines = malloc(sizeof *out->lines);
    if (!out->cells || !out->lines) {
        rc = dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory", source);
        goto fail;
    }
    if ((rc = detect_kinds(out, err)))
        goto fail;
    return DLRT_OK;

fail:
    free(row);
    dlrt_csv_free(out);
    return rc;
}

int dlrt_csv_read(const char *path, DlrtCsvTable *out, DlrtError *err) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return dlrt_fail(err, DLRT_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (grow((void **)&buf, &cap, len + 65536, 1)) {
            free(buf);
            fclose(f);
            return dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory after %zu bytes", path, len);
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (failed) {
        free(buf);
        return dlrt_fail(err, DLRT_EIO, "%s: read failed: %s", path, strerror(saved));
    }
    int rc = dlrt_csv_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

void dlrt_csv_free(DlrtCsvTable *t) {
    free(t->source);
    free(t->names);
    free(t->cells);
    free(t->numbers);
    free(t->kinds);
    free(t->lines);
    free(t->text);
    memset(t, 0, sizeof *t);
}

int dlrt_csv_column(const DlrtCsvTable *t, const char *name) {
    for (int c = 0; c < t->n_cols; c++)
        if (strcmp(t->names[c], name) == 0)
            return c;
    return -1;
}

/* DLRT_EFORMAT naming the first non-missing cell of column c that is not a number, or 0 if there is none. */
static int check_numeric(const DlrtCsvTable *t, int c, DlrtError *err) {
    for (int64_t r = 0; r < t->n_rows; r++) {
        size_t i = (size_t)r * (size_t)t->n_cols + (size_t)c;
        if (t->cells[i] && isnan(t->numbers[i])) {
            char buf[64];
            return dlrt_fail(err, DLRT_EFORMAT, "%s:%lld: column '%s' is declared numeric, but '%s' is not a number",
                             t->source, (long long)t->lines[r], t->names[c], shown(t->cells[i], buf));
        }
    }
    return DLRT_OK;
}

int dlrt_csv_declare(DlrtCsvTable *t, const char *column, int kind, DlrtError *err) {
    int c = dlrt_csv_column(t, column);
    if (c < 0)
        return dlrt_fail(err, DLRT_EINVAL, "%s: no column '%s' to declare", t->source, column);
    if (kind != DLRT_CSV_NUMERIC && kind != DLRT_CSV_CATEGORICAL)
        return dlrt_fail(err, DLRT_EINVAL, "%s: column '%s' declared with unknown kind %d", t->source, column, kind);
    if (kind == DLRT_CSV_NUMERIC) {
        int rc = check_numeric(t, c, err);
        if (rc)
            return rc;
    }
    t->kinds[c] = kind;
    return DLRT_OK;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* The house-price preprocessing                                                                              */
/* ---------------------------------------------------------------------------------------------------------- */

/* One feature column of the concatenated train + test table. */
typedef struct {
    int train_col, test_col;
    int kind;
    int64_t first;         /* its first output feature */
    size_t level0, levels; /* categorical: its sorted distinct values are levels[level0 .. level0 + levels) */
    double mean, std;      /* numeric: of the values times 2^-scale (see numeric_stats) */
    int scale;
} Feature;

/* The state of one preprocessing run; everything in it is freed by prep_free. */
typedef struct {
    const DlrtCsvSpec *spec;
    const DlrtCsvTable *tr, *te;
    DlrtError *err;
    NameIndex *tr_ix, *te_ix;
    int *role;      /* per train column: ROLE_* */
    int *test_used; /* per test column: matched to a train column, the target or dropped */
    Feature *feat;
    int n_feat;
    const char **levels;
    int64_t n_out; /* output features */
} Prep;

enum { ROLE_FEATURE, ROLE_TARGET, ROLE_DROP };

static void prep_free(Prep *p) {
    free(p->tr_ix);
    free(p->te_ix);
    free(p->role);
    free(p->test_used);
    free(p->feat);
    free(p->levels);
}

static int cmp_string_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *cell(const DlrtCsvTable *t, int64_t r, int c) {
    return t->cells[(size_t)r * (size_t)t->n_cols + (size_t)c];
}

static double number(const DlrtCsvTable *t, int64_t r, int c) {
    return t->numbers[(size_t)r * (size_t)t->n_cols + (size_t)c];
}

/* Works out which train column is what and pairs every feature column with its test column. */
static int match_columns(Prep *p) {
    const DlrtCsvSpec *spec = p->spec;
    const DlrtCsvTable *tr = p->tr, *te = p->te;
    p->tr_ix = name_index(tr->names, tr->n_cols);
    p->te_ix = name_index(te->names, te->n_cols);
    p->role = calloc((size_t)tr->n_cols + 1, sizeof *p->role);
    p->test_used = calloc((size_t)te->n_cols + 1, sizeof *p->test_used);
    p->feat = calloc((size_t)tr->n_cols + 1, sizeof *p->feat);
    if (!p->tr_ix || !p->te_ix || !p->role || !p->test_used || !p->feat)
        return dlrt_fail(p->err, DLRT_ENOMEM, "%s: out of memory", tr->source);

    if (spec->target) {
        int c = find_name(p->tr_ix, tr->n_cols, spec->target);
        if (c < 0)
            return dlrt_fail(p->err, DLRT_EFORMAT, "%s: no column '%s' (the target)", tr->source, spec->target);
        p->role[c] = ROLE_TARGET;
        int tc = find_name(p->te_ix, te->n_cols, spec->target);
        if (tc >= 0)
            p->test_used[tc] = 1;
    }
    for (int d = 0; d < spec->n_drop; d++) {
        const char *name = spec->drop[d];
        int c = find_name(p->tr_ix, tr->n_cols, name), tc = find_name(p->te_ix, te->n_cols, name);
        if (c < 0 && tc < 0)
            return dlrt_fail(p->err, DLRT_EFORMAT, "no column '%s' to drop in %s or %s", name, tr->source, te->source);
        if (spec->target && strcmp(name, spec->target) == 0)
            return dlrt_fail(p->err, DLRT_EINVAL, "column '%s' is both the target and dropped", name);
        if (c >= 0)
            p->role[c] = ROLE_DROP;
        if (tc >= 0)
            p->test_used[tc] = 1;
    }
    for (int c = 0; c < tr->n_cols; c++) {
        if (p->role[c] != ROLE_FEATURE)
            continue;
        int tc = find_name(p->te_ix, te->n_cols, tr->names[c]);
        if (tc < 0) {
            char buf[64];
            return dlrt_fail(p->err, DLRT_EFORMAT, "%s has no column '%s', which %s has (line %lld)", te->source,
                             shown(tr->names[c], buf), tr->source, (long long)tr->header_line);
        }
        p->test_used[tc] = 1;
        p->feat[p->n_feat++] = (Feature){.train_col = c, .test_col = tc};
    }
    for (int tc = 0; tc < te->n_cols; tc++) {
        if (!p->test_used[tc]) {
            char buf[64];
            return dlrt_fail(p->err, DLRT_EFORMAT, "%s:%lld: column '%s' is not in %s", te->source,
                             (long long)te->header_line, shown(te->names[tc], buf), tr->source);
        }
    }
    return DLRT_OK;
}

/* The feature whose column is called `name`, or NULL. */
static Feature *feature_named(Prep *p, const char *name) {
    int c = find_name(p->tr_ix, p->tr->n_cols, name);
    if (c < 0 || p->role[c] != ROLE_FEATURE)
        return NULL;
    for (int f = 0; f < p->n_feat; f++)
        if (p->feat[f].train_col == c)
            return &p->feat[f];
    return NULL;
}

/* Text a reader would take for a number but the number syntax refuses: a sign, then a digit, a '.' and a digit,
 * or nan/inf in any case ("NaN", "inf", "-Infinity", "1e400", "0x10", "12abc"). */
static int looks_numeric(const char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '+' || *s == '-')
        s++;
    if (is_digit(*s) || (*s == '.' && is_digit(s[1])))
        return 1;
    char low[4] = {0};
    for (int i = 0; i < 3 && s[i]; i++)
        low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    return strcmp(low, "nan") == 0 || strcmp(low, "inf") == 0;
}

static int declared(const char *const *names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

/* A column of numbers with one cell that only looks like one (NaN, inf, 1e400, 0x10, 12abc) is a typo or a
 * foreign export, not a column of categories: refused, naming the cell, where detection would silently have
 * made the whole column categorical. A column with no number in it ("1Fam", "2Story") is categorical as
 * before. */
static int stray_text(const Prep *p, const Feature *ft) {
    const DlrtCsvTable *t[2] = {p->tr, p->te};
    int col[2] = {ft->train_col, ft->test_col}, numbers = 0;
    int64_t bad_row = -1;
    int bad_table = 0;
    for (int k = 0; k < 2; k++)
        for (int64_t r = 0; r < t[k]->n_rows; r++) {
            const char *s = cell(t[k], r, col[k]);
            if (!s)
                continue;
            if (!isnan(number(t[k], r, col[k])))
                numbers++;
            else if (bad_row < 0 && looks_numeric(s)) {
                bad_row = r;
                bad_table = k;
            }
        }
    if (bad_row < 0 || numbers == 0)
        return DLRT_OK;
    const DlrtCsvTable *bt = t[bad_table];
    char buf[64];
    return dlrt_fail(p->err, DLRT_EFORMAT,
                     "%s:%lld: row %lld, column '%s': '%s' is not a number, but the column's other values are (%d "
                     "of them): numbers are decimal and finite (no hex, inf or nan); leave the cell empty or write "
                     "NA for a missing value",
                     bt->source, (long long)bt->lines[bad_row], (long long)bad_row + 1, bt->names[col[bad_table]],
                     shown(cell(bt, bad_row, col[bad_table]), buf), numbers);
}

/* Each feature's kind: declared, or numeric when every non-missing value of train and test is a number. */
static int decide_kinds(Prep *p) {
    const DlrtCsvSpec *spec = p->spec;
    for (int f = 0; f < p->n_feat; f++) {
        Feature *ft = &p->feat[f];
        ft->kind = DLRT_CSV_NUMERIC;
        if (check_numeric(p->tr, ft->train_col, NULL) || check_numeric(p->te, ft->test_col, NULL)) {
            ft->kind = DLRT_CSV_CATEGORICAL;
            int rc = declared(spec->categorical, spec->n_categorical, p->tr->names[ft->train_col]) ? DLRT_OK
                                                                                                   : stray_text(p, ft);
            if (rc)
                return rc;
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        const char *const *names = pass ? spec->categorical : spec->numeric;
        int n = pass ? spec->n_categorical : spec->n_numeric;
        int kind = pass ? DLRT_CSV_CATEGORICAL : DLRT_CSV_NUMERIC;
        for (int i = 0; i < n; i++) {
            Feature *ft = feature_named(p, names[i]);
            if (!ft)
                return dlrt_fail(p->err, DLRT_EINVAL, "column '%s' is declared %s but is not a feature column of %s",
                                 names[i], pass ? "categorical" : "numeric", p->tr->source);
            if (pass) {
                for (int j = 0; j < spec->n_numeric; j++)
                    if (strcmp(spec->numeric[j], names[i]) == 0)
                        return dlrt_fail(p->err, DLRT_EINVAL, "column '%s' is declared both numeric and categorical",
                                         names[i]);
            } else {
                int rc = check_numeric(p->tr, ft->train_col, p->err);
                if (!rc)
                    rc = check_numeric(p->te, ft->test_col, p->err);
                if (rc)
                    return rc;
            }
            ft->kind = kind;
        }
    }
    return DLRT_OK;
}

/* Mean and std of a numeric feature's non-missing values over train + test, two-pass for accuracy. The sums run
 * over the values times 2^-scale, scale chosen so every scaled value is below 1 in magnitude: no sum or square
 * can overflow, and since scaling by a power of two is exact, ordinary data gets bit for bit the statistics
 * pandas would. A column whose values are all equal gets std 0 exactly (rounding in the mean would otherwise
 * turn it into noise). */
static void numeric_stats(Prep *p, Feature *ft) {
    const DlrtCsvTable *t[2] = {p->tr, p->te};
    int col[2] = {ft->train_col, ft->test_col};
    double lo = INFINITY, hi = -INFINITY;
    int64_t count = 0;
    for (int k = 0; k < 2; k++)
        for (int64_t r = 0; r < t[k]->n_rows; r++) {
            double v = number(t[k], r, col[k]);
            if (!isnan(v)) {
                lo = fmin(lo, v);
                hi = fmax(hi, v);
                count++;
            }
        }
    ft->scale = 0;
    ft->mean = ft->std = NAN;
    if (count == 0)
        return;
    if (lo == hi) {
        ft->mean = lo;
        ft->std = (double)count - (p->spec->population_std ? 0 : 1) > 0 ? 0 : NAN;
        return;
    }
    frexp(fmax(fabs(lo), fabs(hi)), &ft->scale);
    double sum = 0;
    for (int k = 0; k < 2; k++)
        for (int64_t r = 0; r < t[k]->n_rows; r++) {
            double v = number(t[k], r, col[k]);
            if (!isnan(v))
                sum += ldexp(v, -ft->scale);
        }
    double mean = sum / (double)count, sq = 0;
    for (int k = 0; k < 2; k++)
        for (int64_t r = 0; r < t[k]->n_rows; r++) {
            double v = number(t[k], r, col[k]);
            if (!isnan(v))
                sq += (ldexp(v, -ft->scale) - mean) * (ldexp(v, -ft->scale) - mean);
        }
    double dof = (double)count - (p->spec->population_std ? 0 : 1);
    ft->mean = mean;
    ft->std = dof > 0 ? sqrt(sq / dof) : NAN;
}

/* Sorts and deduplicates each categorical feature's values over train + test into p->levels, and numbers the
 * output features: numeric columns first, then each categorical column's values and its missing column. */
static int plan_features(Prep *p) {
    const DlrtCsvTable *tr = p->tr, *te = p->te;
    int n_cat = 0;
    for (int f = 0; f < p->n_feat; f++)
        n_cat += p->feat[f].kind == DLRT_CSV_CATEGORICAL;
    size_t rows = (size_t)tr->n_rows + (size_t)te->n_rows;
    if (n_cat && rows > SIZE_MAX / sizeof *p->levels / (size_t)n_cat)
        return dlrt_fail(p->err, DLRT_ENOMEM, "%s: too many categorical values", tr->source);
    p->levels = malloc(rows * (size_t)n_cat * sizeof *p->levels + 1);
    if (!p->levels)
        return dlrt_fail(p->err, DLRT_ENOMEM, "%s: out of memory for categorical values", tr->source);
    int64_t out = 0;
    for (int f = 0; f < p->n_feat; f++) {
        if (p->feat[f].kind == DLRT_CSV_NUMERIC) {
            numeric_stats(p, &p->feat[f]);
            p->feat[f].first = out++;
        }
    }
    size_t used = 0;
    for (int f = 0; f < p->n_feat; f++) {
        Feature *ft = &p->feat[f];
        if (ft->kind != DLRT_CSV_CATEGORICAL)
            continue;
        const char **lv = p->levels + used;
        size_t n = 0;
        for (int64_t r = 0; r < tr->n_rows; r++)
            if (cell(tr, r, ft->train_col))
                lv[n++] = cell(tr, r, ft->train_col);
        for (int64_t r = 0; r < te->n_rows; r++)
            if (cell(te, r, ft->test_col))
                lv[n++] = cell(te, r, ft->test_col);
        qsort(lv, n, sizeof *lv, cmp_string_ptr);
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (m == 0 || strcmp(lv[m - 1], lv[i]) != 0)
                lv[m++] = lv[i];
        ft->level0 = used;
        ft->levels = m;
        ft->first = out;
        out += (int64_t)m + 1;
        used += m;
    }
    p->n_out = out;
    return DLRT_OK;
}

/* Writes the features of rows [0, n) of table t (train when which == 0) into x, row-major. */
static void encode(const Prep *p, int which, int64_t n, float *x) {
    const DlrtCsvTable *t = which ? p->te : p->tr;
    memset(x, 0, (size_t)n * (size_t)p->n_out * sizeof *x);
    for (int f = 0; f < p->n_feat; f++) {
        const Feature *ft = &p->feat[f];
        int c = which ? ft->test_col : ft->train_col;
        for (int64_t r = 0; r < n; r++) {
            float *row = x + r * p->n_out;
            if (ft->kind == DLRT_CSV_NUMERIC) {
                double v = number(t, r, c);
                /* pandas: (x - mean) / std, then fillna(0); a zero or undefined std gives NaN, so 0 too. */
                row[ft->first] =
                    isnan(v) || !(ft->std > 0) ? 0.0f : (float)((ldexp(v, -ft->scale) - ft->mean) / ft->std);
            } else {
                const char *s = cell(t, r, c);
                int64_t k = (int64_t)ft->levels; /* the missing column */
                if (s) {
                    const char **hit =
                        bsearch(&s, p->levels + ft->level0, ft->levels, sizeof *p->levels, cmp_string_ptr);
                    k = hit - (p->levels + ft->level0);
                }
                row[ft->first + k] = 1.0f;
            }
        }
    }
}

/* The target column of t as floats, refusing missing and non-numeric values. */
static int read_targets(const Prep *p, const DlrtCsvTable *t, int c, int64_t n, float *y) {
    for (int64_t r = 0; r < n; r++) {
        double v = number(t, r, c);
        if (isnan(v)) {
            char buf[64];
            const char *s = cell(t, r, c);
            return dlrt_fail(p->err, DLRT_EFORMAT, "%s:%lld: the target %s is %s%s%s", t->source,
                             (long long)t->lines[r], t->names[c], s ? "'" : "missing", s ? shown(s, buf) : "",
                             s ? "', not a number" : "");
        }
        if (p->spec->positive_target && !(v > 0)) {
            char buf[64];
            return dlrt_fail(p->err, DLRT_EFORMAT,
                             "%s:%lld: row %lld, column '%s': the target is %s, but the model is scored by the log "
                             "rmse, which needs targets above 0",
                             t->source, (long long)t->lines[r], (long long)r + 1, t->names[c],
                             shown(cell(t, r, c), buf));
        }
        y[r] = (float)v;
    }
    return DLRT_OK;
}

static int alloc_dataset(DlrtDataset *ds, int64_t n, int64_t features, int targets) {
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->rank = 1;
    ds->dims[0] = features;
    ds->features = features;
    if (features > 0 && n > (int64_t)(SIZE_MAX / sizeof(float) / 2) / features)
        return -1;
    ds->x = malloc(((size_t)n * (size_t)features + 1) * sizeof *ds->x);
    if (targets) {
        ds->target_dim = 1;
        ds->targets = malloc(((size_t)n + 1) * sizeof *ds->targets);
    }
    return !ds->x || (targets && !ds->targets) ? -1 : 0;
}

/* "<column>_<value>", or "<column>_nan" for value NULL, as pandas names its dummies. */
static char *dummy_name(const char *column, const char *value) {
    if (!value)
        value = "nan";
    size_t a = strlen(column), b = strlen(value);
    char *s = malloc(a + b + 2);
    if (s) {
        memcpy(s, column, a);
        s[a] = '_';
        memcpy(s + a + 1, value, b + 1);
    }
    return s;
}

static int fill_info(const Prep *p, const DlrtDataset *test, int id_col, DlrtCsvInfo *info) {
    const DlrtCsvTable *tr = p->tr, *te = p->te;
    info->n_features = p->n_out;
    info->names = calloc((size_t)p->n_out + 1, sizeof *info->names);
    info->test_ids = malloc(((size_t)test->n + 1) * sizeof *info->test_ids);
    info->id_name = dup_string(id_col >= 0 ? te->names[id_col] : p->spec->id ? p->spec->id : "Id");
    int64_t n_num = 0;
    for (int f = 0; f < p->n_feat; f++)
        n_num += p->feat[f].kind == DLRT_CSV_NUMERIC;
    info->n_numeric = n_num;
    info->mean = malloc(((size_t)n_num + 1) * sizeof *info->mean);
    info->std = malloc(((size_t)n_num + 1) * sizeof *info->std);
    if (!info->names || !info->test_ids || !info->id_name || !info->mean || !info->std)
        return dlrt_fail(p->err, DLRT_ENOMEM, "%s: out of memory", tr->source);
    for (int f = 0; f < p->n_feat; f++) {
        const Feature *ft = &p->feat[f];
        const char *column = tr->names[ft->train_col];
        if (ft->kind == DLRT_CSV_NUMERIC) {
            info->names[ft->first] = dup_string(column);
            info->mean[ft->first] = ldexp(ft->mean, ft->scale);
            info->std[ft->first] = ldexp(ft->std, ft->scale);
            if (!info->names[ft->first])
                return dlrt_fail(p->err, DLRT_ENOMEM, "%s: out of memory", tr->source);
            continue;
        }
        for (size_t k = 0; k <= ft->levels; k++) {
            int64_t i = ft->first + (int64_t)k;
            info->names[i] = dummy_name(column, k < ft->levels ? p->levels[ft->level0 + k] : NULL);
            if (!info->names[i])
                return dlrt_fail(p->err, DLRT_ENOMEM, "%s: out of memory", tr->source);
        }
    }
    for (int64_t r = 0; r < test->n; r++) {
        if (id_col < 0) {
            info->test_ids[r] = r + 1;
            continue;
        }
        const char *s = cell(te, r, id_col);
        char buf[64];
        if (!s || !parse_int64(s, &info->test_ids[r]))
            return dlrt_fail(p->err, DLRT_EFORMAT, "%s:%lld: the id %s is %s%s%s", te->source, (long long)te->lines[r],
                             te->names[id_col], s ? "'" : "missing", s ? shown(s, buf) : "",
                             s ? "', not a whole number" : "");
    }
    return DLRT_OK;
}

int dlrt_csv_preprocess(const DlrtCsvSpec *spec, const DlrtCsvTable *train_table, const DlrtCsvTable *test_table,
                        DlrtDataset *train, DlrtDataset *test, DlrtCsvInfo *info, DlrtError *err) {
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (info)
        memset(info, 0, sizeof *info);
    if (!spec || spec->n_drop < 0 || spec->n_numeric < 0 || spec->n_categorical < 0 || (spec->n_drop && !spec->drop) ||
        (spec->n_numeric && !spec->numeric) || (spec->n_categorical && !spec->categorical))
        return dlrt_fail(err, DLRT_EINVAL, "csv preprocessing: inconsistent spec (a count without its list)");
    for (int k = 0; k < 2; k++) {
        const DlrtCsvTable *t = k ? test_table : train_table;
        if (t->n_rows == 0)
            return dlrt_fail(err, DLRT_EFORMAT, "%s: a header (line %lld) and no rows: there is nothing to %s",
                             t->source, (long long)t->header_line, k ? "test or predict" : "train on");
    }
    Prep p = {.spec = spec, .tr = train_table, .te = test_table, .err = err};
    int rc = match_columns(&p);
    if (!rc)
        rc = decide_kinds(&p);
    if (!rc)
        rc = plan_features(&p);
    if (rc)
        goto done;

    int64_t n_tr = train_table->n_rows, n_te = test_table->n_rows;
    if (spec->limit > 0) {
        n_tr = n_tr < spec->limit ? n_tr : spec->limit;
        n_te = n_te < spec->limit ? n_te : spec->limit;
    }
    int tr_target = spec->target ? dlrt_csv_column(train_table, spec->target) : -1;
    int te_target = spec->target ? dlrt_csv_column(test_table, spec->target) : -1;
    if (alloc_dataset(train, n_tr, p.n_out, tr_target >= 0) || alloc_dataset(test, n_te, p.n_out, te_target >= 0)) {
        rc = dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory for %lld x %lld features", train_table->source,
                       (long long)(n_tr + n_te), (long long)p.n_out);
        goto done;
    }
    encode(&p, 0, n_tr, train->x);
    encode(&p, 1, n_te, test->x);
    if (tr_target >= 0 && (rc = read_targets(&p, train_table, tr_target, n_tr, train->targets)))
        goto done;
    if (te_target >= 0 && (rc = read_targets(&p, test_table, te_target, n_te, test->targets)))
        goto done;
    if (info) {
        int id_col = dlrt_csv_column(test_table, spec->id ? spec->id : "Id");
        if (spec->id && id_col < 0) {
            rc = dlrt_fail(err, DLRT_EFORMAT, "%s: no column '%s' (the ids)", test_table->source, spec->id);
            goto done;
        }
        rc = fill_info(&p, test, id_col, info);
    }

done:
    prep_free(&p);
    if (rc) {
        dlrt_dataset_free(train);
        dlrt_dataset_free(test);
        if (info)
            dlrt_csv_info_free(info);
    }
    return rc;
}

int dlrt_csv_load_house(const DlrtCsvSpec *spec, DlrtDataset *train, DlrtDataset *test, DlrtCsvInfo *info,
                        DlrtError *err) {
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (info)
        memset(info, 0, sizeof *info);
    if (!spec || !spec->train_path || !spec->test_path)
        return dlrt_fail(err, DLRT_EINVAL, "csv: the spec needs a train and a test path");
    DlrtCsvTable tr, te;
    int rc = dlrt_csv_read(spec->train_path, &tr, err);
    if (rc)
        return rc;
    rc = dlrt_csv_read(spec->test_path, &te, err);
    if (!rc)
        rc = dlrt_csv_preprocess(spec, &tr, &te, train, test, info, err);
    dlrt_csv_free(&tr);
    dlrt_csv_free(&te);
    return rc;
}

void dlrt_csv_info_free(DlrtCsvInfo *info) {
    if (info->names)
        for (int64_t i = 0; i < info->n_features; i++)
            free(info->names[i]);
    free(info->names);
    free(info->mean);
    free(info->std);
    free(info->test_ids);
    free(info->id_name);
    memset(info, 0, sizeof *info);
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Submissions and k-fold splits                                                                              */
/* ---------------------------------------------------------------------------------------------------------- */

/* A header cell, quoted as RFC 4180 wants when it holds a comma, quote or line break. */
static void write_cell(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int dlrt_write_submission(const char *path, const char *id_name, const char *target_name, const int64_t *ids,
                          const float *preds, int64_t n, DlrtError *err) {
    if (n < 0 || (n > 0 && (!ids || !preds)))
        return dlrt_fail(err, DLRT_EINVAL, "%s: submission of %lld rows without ids or predictions", path,
                         (long long)n);
    DlrtAtomicFile af;
    int rc = dlrt_atomic_open(&af, path, err);
    if (rc)
        return rc;
    write_cell(af.f, id_name ? id_name : "Id");
    fputc(',', af.f);
    write_cell(af.f, target_name ? target_name : "SalePrice");
    fputc('\n', af.f);
    for (int64_t i = 0; i < n; i++)
        fprintf(af.f, "%lld,%.9g\n", (long long)ids[i], (double)preds[i]);
    return dlrt_atomic_commit(&af, err);
}

/* An empty dataset shaped like src, with room for n examples. */
static int alloc_like(const DlrtDataset *src, int64_t n, DlrtDataset *dst) {
    memset(dst, 0, sizeof *dst);
    dst->n = n;
    dst->rank = src->rank;
    memcpy(dst->dims, src->dims, sizeof dst->dims);
    dst->features = src->features;
    dst->classes = src->classes;
    dst->target_dim = src->target_dim;
    dst->x = malloc(((size_t)n * (size_t)src->features + 1) * sizeof *dst->x);
    if (src->labels)
        dst->labels = malloc(((size_t)n + 1) * sizeof *dst->labels);
    if (src->targets)
        dst->targets = malloc(((size_t)n * (size_t)src->target_dim + 1) * sizeof *dst->targets);
    return !dst->x || (src->labels && !dst->labels) || (src->targets && !dst->targets) ? -1 : 0;
}

/* Copies rows [from, from + count) of src to rows [at, at + count) of dst. */
static void copy_rows(const DlrtDataset *src, int64_t from, int64_t count, DlrtDataset *dst, int64_t at) {
    memcpy(dst->x + at * dst->features, src->x + from * src->features,
           (size_t)count * (size_t)src->features * sizeof *src->x);
    if (src->labels)
        memcpy(dst->labels + at, src->labels + from, (size_t)count * sizeof *src->labels);
    if (src->targets)
        memcpy(dst->targets + at * src->target_dim, src->targets + from * src->target_dim,
               (size_t)count * (size_t)src->target_dim * sizeof *src->targets);
}

int dlrt_kfold_split(const DlrtDataset *all, int k, int i, DlrtDataset *train, DlrtDataset *valid, DlrtError *err) {
    memset(train, 0, sizeof *train);
    memset(valid, 0, sizeof *valid);
    if (k < 2 || i < 0 || i >= k || all->n < k)
        return dlrt_fail(err, DLRT_EINVAL,
                         "k-fold: need 2 <= k <= examples and 0 <= fold < k, got k = %d, fold = %d, "
                         "%lld examples",
                         k, i, (long long)all->n);
    int64_t fold = all->n / k;
    if (alloc_like(all, fold * (k - 1), train) || alloc_like(all, fold, valid)) {
        dlrt_dataset_free(train);
        dlrt_dataset_free(valid);
        return dlrt_fail(err, DLRT_ENOMEM, "k-fold: out of memory for %lld examples", (long long)all->n);
    }
    int64_t at = 0;
    for (int j = 0; j < k; j++) {
        if (j == i) {
            copy_rows(all, j * fold, fold, valid, 0);
        } else {
            copy_rows(all, j * fold, fold, train, at);
            at += fold;
        }
    }
    return DLRT_OK;
}
