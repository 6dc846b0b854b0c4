/* suggest.c: "did you mean" for a name the elaborator does not know.
 *
 * The candidates are every name the program could have meant at that point: the variables of the scopes in
 * reach, the blocks, the built-in functions and layers, and the ops called by their surface name. The nearest by
 * edit distance (insertions, deletions, substitutions and the swap of two neighbours, which is how `lienar` is
 * typed) is suggested when it is close enough to be a slip: at most one edit in a name of up to four letters, a
 * third of its length beyond. */
#include "elab.h"

/* The optimal string alignment distance between a and b, capped: `cap + 1` once it is known to exceed cap. */
static int distance(const char *a, const char *b, int cap) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 64 || lb > 64 || abs(la - lb) > cap)
        return cap + 1;
    int d[65][65];
    for (int i = 0; i <= la; i++)
        d[i][0] = i;
    for (int j = 0; j <= lb; j++)
        d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb] > cap ? cap + 1 : d[la][lb];
}

typedef struct Nearest {
    const char *name, *best;
    int dist, cap;
} Nearest;

static void consider(Nearest *n, const char *cand) {
    if (!cand || strcmp(cand, n->name) == 0 || cand[0] == '_')
        return;
    int d = distance(n->name, cand, n->cap);
    if (d <= n->cap && d < n->dist) {
        n->dist = d;
        n->best = cand;
    }
}

static Nearest nearest_init(const char *name) {
    int len = (int)strlen(name);
    return (Nearest){.name = name, .dist = 1 << 20, .cap = len <= 4 ? 1 : len / 3};
}

const char *suggest_name(Elab *e, const char *name, bool callable) {
    Nearest n = nearest_init(name);
    for (Env *s = e->env; s && !callable; s = s->parent)
        for (int i = 0; i < s->names.n; i++)
            consider(&n, s->names.v[i]);
    for (int i = 0; i < e->blocks->names.n; i++)
        consider(&n, e->blocks->names.v[i]);
    for (const Builtin *b = function_builtins; b->name; b++)
        consider(&n, b->name);
    for (const Builtin *b = layer_builtins; b->name; b++)
        consider(&n, b->name);
    for (int op = 0; op < OP_COUNT; op++)
        consider(&n, op_info[op].surface);
    return n.best;
}

const char *suggest_among(const char *name, const char *const *cands, int ncands) {
    Nearest n = nearest_init(name);
    for (int i = 0; i < ncands; i++)
        consider(&n, cands[i]);
    return n.best;
}

char *did_you_mean(Ctx *ctx, const char *suggestion) {
    return suggestion ? xsprintf(ctx, "; did you mean '%s'?", suggestion) : "";
}
