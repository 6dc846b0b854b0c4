/* builtins.c: the language's built-in functions and initialisers, and how any builtin's arguments are bound.
 *
 * Every builtin is a row {name, kind, parameters, handler} of a table (jq's function_list[] is the model): the
 * functions and initialisers below, the layers in layers.c. A row's parameters (names, kinds, whether they are
 * given by position or by name, defaults) are data: a call's arguments are checked against them and matched to
 * them generically before the handler runs. The handler then reads each argument through an accessor that
 * converts it to its parameter's kind where the handler needs it, so errors come in the order the handler meets
 * them. Rows that share a handler tell it what to build with their `op` (or `init`): one handler serves
 * exp/log/abs/sqrt, another the reductions, and a generic row for an IR op would need no more than that. */
#include <math.h>

#include "elab.h"
#include "parser.h"

/* ---- binding ---- */

/* Checks that the call gives no more positional arguments than `params` take (the leading PF_POS ones) and only
 * keywords that they name (the PF_KEY ones), reporting each that is not. */
bool args_check(Args *a, const BuiltinParam *params) {
    bool ok = true;
    int npos = 0;
    while (params[npos].name && (params[npos].flags & PF_POS))
        npos++;
    if (a->npos > npos && npos == 0) {
        error_at(a->v[npos].loc, "%s takes no arguments besides its input, got %d", a->fname, a->npos);
        ok = false;
    } else if (a->npos > npos) {
        error_at(a->v[npos].loc, "%s takes at most %d positional argument%s, got %d", a->fname, npos,
                 npos == 1 ? "" : "s", a->npos);
        ok = false;
    }
    for (int i = a->npos; i < a->n; i++) {
        bool known = false;
        for (int j = 0; params[j].name; j++)
            known |= (params[j].flags & PF_KEY) && strcmp(params[j].name, a->v[i].key) == 0;
        if (!known) {
            char expect[256] = "";
            for (int j = 0; params[j].name; j++)
                if (params[j].flags & PF_KEY)
                    snprintf(expect + strlen(expect), sizeof expect - strlen(expect), "%s%s", expect[0] ? ", " : "",
                             params[j].name);
            const char *keys[MAX_BUILTIN_PARAMS];
            int nk = 0;
            for (int j = 0; params[j].name && nk < MAX_BUILTIN_PARAMS; j++)
                if (params[j].flags & PF_KEY)
                    keys[nk++] = params[j].name;
            const char *near = suggest_among(a->v[i].key, keys, nk);
            if (near)
                error_at(a->v[i].loc, "%s has no argument '%s'; did you mean '%s'? It takes %s", a->fname, a->v[i].key,
                         near, expect);
            else
                error_at(a->v[i].loc, "%s has no argument '%s'%s%s", a->fname, a->v[i].key,
                         expect[0] ? "; it takes " : "; it takes no named arguments", expect);
            ok = false;
        }
    }
    return ok;
}

/* Matches the arguments of call c to the parameters of its row: each parameter takes its keyword argument, or
 * else the positional one of its index. False after the errors of arguments the row does not take. */
static bool args_bind(Call *c) {
    Args *given = c->args;
    int npos = 0;
    while (c->fn->params[npos].name && (c->fn->params[npos].flags & PF_POS))
        npos++;
    if (c->fn->extra_positional && npos >= 1 && given->npos == npos + 1) {
        Value x = given->v[npos - 1].v, y = given->v[npos].v;
        if (x.kind == V_INT && y.kind == V_INT) {
            error_at(span(given->v[npos - 1].loc, given->v[npos].loc), c->fn->extra_positional, (long long)x.i,
                     (long long)y.i, (long long)y.i);
            return false;
        }
    }
    if (!args_check(c->args, c->fn->params))
        return false;
    for (int i = 0; c->fn->params[i].name; i++) {
        const BuiltinParam *p = &c->fn->params[i];
        if (i >= MAX_BUILTIN_PARAMS)
            die("builtin %s has more than %d parameters", c->fn->name, MAX_BUILTIN_PARAMS);
        Arg *a = p->flags & PF_KEY ? args_find_key(c->args, p->name) : NULL;
        if (!a && (p->flags & PF_POS) && i < c->args->npos)
            a = &c->args->v[i];
        c->arg[i] = a;
    }
    return true;
}

Value builtin_run(Call *c) {
    if (c->fn->params && !args_bind(c))
        return v_error(c->e);
    return c->fn->fn(c);
}

/* ---- accessors: a handler's arguments, converted to their parameters' kinds ---- */

/* Parameter `name` of c's row, checked to be of kind k (AK_VALUE: any); asking for another is a compiler bug. */
static int param_index(const Call *c, const char *name, ArgKind k) {
    for (int i = 0; c->fn->params && c->fn->params[i].name; i++)
        if (strcmp(c->fn->params[i].name, name) == 0) {
            if (k != AK_VALUE && c->fn->params[i].kind != k)
                die("builtin %s: parameter '%s' is read as another kind than its row says", c->fn->name, name);
            return i;
        }
    die("builtin %s has no parameter '%s'", c->fn->name, name);
}

/* The argument of parameter `name`, or NULL when it was left out: silently when the parameter is optional,
 * after the parameter's message otherwise. */
static Arg *arg_lookup(Call *c, const char *name, ArgKind k, const BuiltinParam **param) {
    int i = param_index(c, name, k);
    const BuiltinParam *p = &c->fn->params[i];
    *param = p;
    if (c->arg[i] || (p->flags & PF_OPT))
        return c->arg[i];
    Args *a = c->args;
    if (p->missing)
        error_at(a->loc, p->missing, a->fname, a->fname);
    else
        error_at(a->loc, "%s needs argument '%s' (number %d), got %d argument%s", a->fname, name, i + 1, a->npos,
                 a->npos == 1 ? "" : "s");
    return NULL;
}

static const char *param_what(const BuiltinParam *p) { return p->what ? p->what : p->name; }

bool arg_has(Call *c, const char *name) { return c->arg[param_index(c, name, AK_VALUE)] != NULL; }

Loc arg_loc(Call *c, const char *name) {
    Arg *a = c->arg[param_index(c, name, AK_VALUE)];
    return a ? a->loc : c->args->loc;
}

Arg *arg_value(Call *c, const char *name) {
    const BuiltinParam *p;
    return arg_lookup(c, name, AK_VALUE, &p);
}

IrNode *arg_tensor(Call *c, const char *name) {
    Ctx *ctx = c->e->ctx;
    const BuiltinParam *p;
    Arg *a = arg_lookup(c, name, AK_TENSOR, &p);
    return a ? to_tensor(c->e, a->v, a->loc, xsprintf(ctx, "%s's argument '%s'", c->args->fname, name)) : NULL;
}

bool arg_int(Call *c, const char *name, int64_t *out) {
    const BuiltinParam *p;
    Arg *a = arg_lookup(c, name, AK_INT, &p);
    if (a)
        return want_int(a->v, a->loc, param_what(p), out);
    *out = (int64_t)p->dflt;
    return p->flags & PF_OPT;
}

bool arg_num(Call *c, const char *name, double *out) {
    const BuiltinParam *p;
    Arg *a = arg_lookup(c, name, AK_NUM, &p);
    if (a)
        return want_num(a->v, a->loc, param_what(p), out);
    *out = p->dflt;
    return p->flags & PF_OPT;
}

bool arg_pair(Call *c, const char *name, int64_t out[2]) {
    const BuiltinParam *p;
    Arg *a = arg_lookup(c, name, AK_PAIR, &p);
    if (a)
        return want_pair(a->v, a->loc, param_what(p), out);
    out[0] = out[1] = (int64_t)p->dflt;
    return p->flags & PF_OPT;
}

bool arg_bool(Call *c, const char *name) {
    Ctx *ctx = c->e->ctx;
    const BuiltinParam *p;
    Arg *a = arg_lookup(c, name, AK_BOOL, &p);
    bool dflt = p->dflt != 0;
    if (!a)
        return dflt;
    Value v = a->v;
    if (v.kind != V_BOOL && !(v.kind == V_INT && (v.i == 0 || v.i == 1))) {
        if (v.kind != V_ERROR)
            error_at(a->loc, "'%s' must be true or false, got %s", name, value_desc(ctx, v));
        return dflt;
    }
    return v.i != 0;
}

Init *arg_init(Call *c, const char *name, Init *dflt) {
    const BuiltinParam *p;
    Arg *a = arg_lookup(c, name, AK_INIT, &p);
    Init *i;
    return a && init_value(c->e, a->v, a->loc, &i) ? i : dflt;
}

/* Argument `key` (positional number `pos`) of a call that has no row (a metric), as a tensor. */
IrNode *tensor_arg(Elab *e, Args *a, const char *key, int pos) {
    Value v;
    Loc loc = a->loc;
    if (!arg_get(a, key, pos, &v, &loc)) {
        error_at(a->loc, "%s needs argument '%s' (number %d), got %d argument%s", a->fname, key, pos + 1, a->npos,
                 a->npos == 1 ? "" : "s");
        return NULL;
    }
    return to_tensor(e, v, loc, xsprintf(e->ctx, "%s's argument '%s'", a->fname, key));
}

/* ---- element-wise functions ---- */

static const BuiltinParam unary_params[] = {
    {"x", AK_TENSOR, .flags = PF_POS, .missing = "%s needs one argument, got none"},
    {0},
};

/* exp, log, abs, sqrt: of a number, a number; of a tensor, its node; abs of an initialiser, an initialiser. */
static Value fn_unary(Call *c) {
    Ctx *ctx = c->e->ctx;
    Arg *a = arg_value(c, "x");
    if (!a)
        return v_error(c->e);
    Op op = c->fn->op;
    if (op == OP_ABS && a->v.kind == V_INIT) {
        Init *i = init_new(ctx, INIT_ABS, 0, 0);
        i->x = a->v.init;
        return v_init(i);
    }
    if (is_num(a->v)) {
        double x = num(a->v);
        return v_float(op == OP_EXP ? exp(x) : op == OP_LOG ? log(x) : op == OP_ABS ? fabs(x) : sqrt(x));
    }
    IrNode *x = arg_tensor(c, "x");
    return x ? v_tensor(c->e, b_unary(c->e->g, op, x, c->loc)) : v_error(c->e);
}

static const BuiltinParam pow_params[] = {
    {"x", AK_VALUE, .flags = PF_POS | PF_KEY, .missing = "pow needs two arguments: pow(x, 2)"},
    {"p", AK_VALUE, .flags = PF_POS | PF_KEY, .missing = "pow needs two arguments: pow(x, 2)"},
    {0},
};

static Value fn_pow(Call *c) {
    Arg *x = arg_value(c, "x");
    Arg *p = x ? arg_value(c, "p") : NULL;
    return p ? arith(c->e, POW, x->v, p->v, c->loc) : v_error(c->e);
}

static const BuiltinParam where_params[] = {
    {"cond", AK_TENSOR, .flags = PF_POS},
    {"a", AK_TENSOR, .flags = PF_POS},
    {"b", AK_TENSOR, .flags = PF_POS},
    {0},
};

static Value fn_where(Call *c) {
    IrNode *cond = arg_tensor(c, "cond");
    IrNode *x = arg_tensor(c, "a");
    IrNode *y = arg_tensor(c, "b");
    if (!cond || !x || !y)
        return v_error(c->e);
    IrNode *in[3] = {cond, x, y};
    return v_tensor(c->e, b_elem(c->e->g, OP_WHERE, 3, in, c->loc));
}

/* max(a, b) and min(a, b) of two tensors or numbers are element-wise; the other calls of max reduce. */
static bool two_operands(const Args *a) {
    Value b = a->npos == 2 && a->n == 2 ? a->v[1].v : v_none();
    return b.kind != V_LIST && (b.kind == V_TENSOR || is_num(b));
}

static const BuiltinParam operands_params[] = {
    {"a", AK_TENSOR, .flags = PF_POS},
    {"b", AK_TENSOR, .flags = PF_POS},
    {0},
};

static Value fn_extremum(Call *c) {
    bool max = c->fn->op == OP_MAXIMUM;
    Value a = arg_value(c, "a")->v, b = arg_value(c, "b")->v;
    if (is_num(a) && is_num(b)) {
        double x = num(a), y = num(b);
        return v_float(max ? (x > y ? x : y) : (x < y ? x : y));
    }
    IrNode *x = arg_tensor(c, "a");
    IrNode *y = arg_tensor(c, "b");
    return x && y ? v_tensor(c->e, b_binary(c->e->g, c->fn->op, x, y, c->loc)) : v_error(c->e);
}

/* ---- reductions and shapes ---- */

static const BuiltinParam reduce_params[] = {
    {"x", AK_TENSOR, .flags = PF_POS},
    {"axis", AK_VALUE, .flags = PF_POS | PF_KEY | PF_OPT}, /* an axis or a list of them; all axes when left out */
    {"keepdim", AK_BOOL, .flags = PF_KEY | PF_OPT, .dflt = 0},
    {0},
};

/* The axes the `axis` argument names, as a mask over x's axes. */
static bool axes_arg(Call *c, IrNode *x, uint32_t *mask) {
    Ctx *ctx = c->e->ctx;
    Arg *a = arg_value(c, "axis");
    if (!a) {
        *mask = x->shape.rank ? (1u << x->shape.rank) - 1 : 0;
        return true;
    }
    Value v = a->v;
    *mask = 0;
    int n = v.kind == V_LIST ? v.list->n : 1;
    for (int i = 0; i < n; i++) {
        int64_t ax;
        if (!want_int(v.kind == V_LIST ? v.list->v[i] : v, a->loc, "axis", &ax))
            return false;
        int64_t given = ax;
        if (ax < 0)
            ax += x->shape.rank;
        if (ax < 0 || ax >= x->shape.rank) {
            error_at(a->loc, "axis %lld is out of range for %s, which has axes %d..%d", (long long)given,
                     type_str(ctx, x->dtype, &x->shape), -x->shape.rank, x->shape.rank - 1);
            return false;
        }
        *mask |= 1u << ax;
    }
    return true;
}

static bool reduce_args(Call *c, IrNode **x, uint32_t *mask, bool *keep) {
    *x = arg_tensor(c, "x");
    if (!*x || !axes_arg(c, *x, mask))
        return false;
    *keep = arg_bool(c, "keepdim");
    return true;
}

/* Whether the axis argument is one integer: max's gradient then follows x.max(dim)'s (the first maximum). */
static bool one_axis(Call *c) {
    Arg *a = arg_has(c, "axis") ? arg_value(c, "axis") : NULL;
    return a && a->v.kind != V_LIST;
}

/* max or -max(-x) over the axes of the call */
static IrNode *max_of(Call *c, IrNode *x, uint32_t mask, bool keep) {
    return one_axis(c) ? b_max_along(c->e->g, x, __builtin_ctz(mask), keep, c->loc)
                       : b_reduce(c->e->g, OP_MAX, x, mask, keep, c->loc);
}

/* sum and max */
static Value fn_reduce(Call *c) {
    IrNode *x;
    uint32_t mask;
    bool keep;
    if (!reduce_args(c, &x, &mask, &keep))
        return v_error(c->e);
    if (c->fn->op == OP_MAX)
        return v_tensor(c->e, max_of(c, x, mask, keep));
    return v_tensor(c->e, b_reduce(c->e->g, c->fn->op, x, mask, keep, c->loc));
}

static Value fn_mean(Call *c) {
    IrNode *x;
    uint32_t mask;
    bool keep;
    if (!reduce_args(c, &x, &mask, &keep))
        return v_error(c->e);
    return v_tensor(c->e, b_mean(c->e->g, x, mask, keep, c->loc));
}

static const BuiltinParam log_softmax_params[] = {
    {"x", AK_TENSOR, .flags = PF_POS},
    {"axis", AK_INT, .flags = PF_POS | PF_KEY | PF_OPT, .dflt = -1},
    {0},
};

/* softmax or log_softmax (op) along any axis within each example: the softmax kernel runs over the last axis, so
 * another axis is swapped with the last before and after (two permutes). */
IrNode *softmax_along(Graph *g, Op op, IrNode *x, int64_t axis, Loc axis_loc, Loc loc) {
    int rank = x->shape.rank;
    const char *what = op == OP_SOFTMAX ? "softmax" : "log_softmax";
    if (rank == 0)
        return b_softmax(g, op, x, loc); /* its message */
    if (axis < -rank || axis >= rank) {
        error_at(axis_loc, "%s: axis %lld is out of range for %s, which has axes %d..%d", what, (long long)axis,
                 type_str(g->ctx, x->dtype, &x->shape), -rank, rank - 1);
        return NULL;
    }
    int a = (int)(axis < 0 ? axis + rank : axis);
    if (a == rank - 1)
        return b_softmax(g, op, x, loc);
    if (a == 0 && x->shape.batched) {
        error_at(axis_loc, "%s: axis %lld is the batch dimension of %s; a softmax runs within each example", what,
                 (long long)axis, type_str(g->ctx, x->dtype, &x->shape));
        return NULL;
    }
    int perm[MAX_RANK];
    for (int k = 0; k < rank; k++)
        perm[k] = k == a ? rank - 1 : k == rank - 1 ? a : k;
    IrNode *y = b_softmax(g, op, b_permute(g, x, perm, loc), loc);
    return y ? b_permute(g, y, perm, loc) : NULL;
}

static Value fn_log_softmax(Call *c) {
    IrNode *x = arg_tensor(c, "x");
    int64_t axis;
    if (!x || !arg_int(c, "axis", &axis))
        return v_error(c->e);
    return v_tensor(c->e, softmax_along(c->e->g, OP_LOGSOFTMAX, x, axis, arg_loc(c, "axis"), c->loc));
}

static const BuiltinParam reshape_params[] = {
    {"x", AK_TENSOR, .flags = PF_POS},
    {"shape", AK_VALUE, .flags = PF_POS, .missing = "reshape needs a shape: reshape(x, [batch, 784])"},
    {0},
};

/* The shape list with its one -1 replaced by what the element count leaves for it, as torch.reshape does. */
static Value infer_dim(Call *c, IrNode *x, Arg *a) {
    Ctx *ctx = c->e->ctx;
    if (a->v.kind != V_LIST)
        return a->v;
    ValueList *l = a->v.list;
    int at = -1;
    int64_t known = 1;
    for (int i = 0; i < l->n; i++) {
        Value d = l->v[i];
        if (d.kind == V_INT && d.i == -1) {
            if (at >= 0) {
                error_at(a->loc, "reshape: only one dimension can be -1 (inferred)");
                return v_error(c->e);
            }
            at = i;
        } else if (d.kind == V_BATCH) {
            known *= x->shape.batched ? x->shape.d[0] : 1;
        } else if (d.kind == V_INT && d.i > 0 && d.i <= MAX_NUMEL) {
            known *= d.i;
        } else {
            return a->v; /* shape_from_value says what is wrong */
        }
    }
    if (at < 0)
        return a->v;
    int64_t n = shape_numel(&x->shape);
    if (known > n || n % known != 0) {
        error_at(a->loc, "reshape: %s has %lld elements, which the other dimensions (%lld elements) do not divide",
                 type_str(ctx, x->dtype, &x->shape), (long long)n, (long long)known);
        return v_error(c->e);
    }
    Value r = v_list(ctx);
    for (int i = 0; i < l->n; i++)
        vec_push(ctx, r.list, i == at ? v_int(n / known) : l->v[i]);
    return r;
}

static Value fn_reshape(Call *c) {
    IrNode *x = arg_tensor(c, "x");
    if (!x)
        return v_error(c->e);
    Arg *a = arg_value(c, "shape");
    Shape s;
    Value sv = a ? infer_dim(c, x, a) : v_error(c->e);
    if (sv.kind == V_ERROR || !shape_from_value(c->e, sv, a->loc, &s, true, "the reshaped tensor", x->dtype))
        return v_error(c->e);
    return v_tensor(c->e, b_reshape(c->e->g, x, s, c->loc));
}

static const BuiltinParam transpose_params[] = {
    {"x", AK_TENSOR, .flags = PF_POS},
    {"dim0", AK_INT, .flags = PF_POS | PF_OPT, .what = "transpose's first axis"},
    {"dim1", AK_INT, .flags = PF_POS | PF_OPT, .what = "transpose's second axis"},
    {0},
};

/* An axis given as an argument, negative counting from the last; false after a located error. */
static bool axis_of(Call *c, IrNode *x, int64_t ax, Loc loc, int *out) {
    int rank = x->shape.rank;
    if (ax < -rank || ax >= rank) {
        error_at(loc, "%s: axis %lld is out of range for %s, which has axes %d..%d", c->args->fname, (long long)ax,
                 type_str(c->e->ctx, x->dtype, &x->shape), -rank, rank - 1);
        return false;
    }
    *out = (int)(ax < 0 ? ax + rank : ax);
    return true;
}

/* transpose(x): a matrix's transpose; transpose(x, a, b): axes a and b swapped (torch.transpose). */
static Value fn_transpose(Call *c) {
    IrNode *x = arg_tensor(c, "x");
    if (!x)
        return v_error(c->e);
    if (!arg_has(c, "dim0"))
        return v_tensor(c->e, b_transpose(c->e->g, x, c->loc));
    int64_t a, b;
    int perm[MAX_RANK], i, j;
    if (!arg_int(c, "dim0", &a) || !arg_int(c, "dim1", &b) || !axis_of(c, x, a, arg_loc(c, "dim0"), &i) ||
        !axis_of(c, x, b, arg_loc(c, "dim1"), &j))
        return v_error(c->e);
    for (int k = 0; k < x->shape.rank; k++)
        perm[k] = k == i ? j : k == j ? i : k;
    return v_tensor(c->e, b_permute(c->e->g, x, perm, c->loc));
}

static const BuiltinParam concat_params[] = {
    {"xs", AK_VALUE, .flags = PF_POS,
     .missing = "concat needs a list of tensors: concat([a, b], axis=1), got no arguments"},
    {"axis", AK_INT, .flags = PF_POS | PF_KEY | PF_OPT, .dflt = 0},
    {0},
};

static Value fn_concat(Call *c) {
    Ctx *ctx = c->e->ctx;
    Arg *l = arg_value(c, "xs");
    if (!l)
        return v_error(c->e);
    if (l->v.kind != V_LIST) {
        error_at(l->loc, "concat needs a list of tensors: concat([a, b], axis=1), got %s", value_desc(ctx, l->v));
        return v_error(c->e);
    }
    int64_t axis;
    if (!arg_int(c, "axis", &axis))
        return v_error(c->e);
    if (axis < -MAX_RANK || axis >= MAX_RANK) {
        error_at(arg_loc(c, "axis"), "concat: axis %lld is out of range; a tensor has at most %d axes", (long long)axis,
                 MAX_RANK);
        return v_error(c->e);
    }
    IrNode *xs[MAX_IN];
    ValueList *vs = l->v.list;
    int n = vs->n > MAX_IN ? MAX_IN + 1 : vs->n;
    for (int i = 0; i < n && i < MAX_IN; i++)
        if (!(xs[i] = to_tensor(c->e, vs->v[i], l->loc, "a concatenated value")))
            return v_error(c->e);
    return v_tensor(c->e, b_concat(c->e->g, xs, n, (int)axis, c->loc));
}

static const BuiltinParam xy_params[] = {
    {"x", AK_TENSOR, .flags = PF_POS},
    {"y", AK_TENSOR, .flags = PF_POS},
    {0},
};

static Value fn_dot(Call *c) {
    Ctx *ctx = c->e->ctx;
    IrNode *x = arg_tensor(c, "x");
    IrNode *y = arg_tensor(c, "y");
    if (!x || !y)
        return v_error(c->e);
    if (x->shape.rank != 1 || y->shape.rank != 1 || x->shape.d[0] != y->shape.d[0]) {
        error_at(c->loc, "dot needs two vectors of one length, got %s and %s", type_str(ctx, x->dtype, &x->shape),
                 type_str(ctx, y->dtype, &y->shape));
        return v_error(c->e);
    }
    IrNode *p = b_binary(c->e->g, OP_MUL, x, y, c->loc);
    return v_tensor(c->e, p ? b_reduce(c->e->g, OP_SUM, p, 1, false, c->loc) : NULL);
}

static Value fn_matmul(Call *c) {
    IrNode *x = arg_tensor(c, "a");
    IrNode *y = arg_tensor(c, "b");
    return x && y ? v_tensor(c->e, matmul_any(c->e->g, x, y, c->loc)) : v_error(c->e);
}

/* ---- compile-time data ---- */

static const BuiltinParam tensor_params[] = {
    {"data", AK_TENSOR, .flags = PF_POS},
    {0},
};

static Value fn_tensor(Call *c) { return v_tensor(c->e, arg_tensor(c, "data")); }

static const BuiltinParam arange_params[] = {
    {"n", AK_INT, .flags = PF_POS, .what = "arange's length", .missing = "arange needs a length: arange(10)"},
    {0},
};

static Value fn_arange(Call *c) {
    Ctx *ctx = c->e->ctx;
    int64_t n;
    if (!arg_int(c, "n", &n))
        return v_error(c->e);
    Loc nl = arg_loc(c, "n");
    if (n <= 0 || n > (1 << 24)) {
        error_at(nl, "arange length must be in 1..16777216, got %lld", (long long)n);
        return v_error(c->e);
    }
    if (!charge(c->e, ELEMS(n), nl))
        return v_error(c->e);
    double *d = xalloc(ctx, sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        d[i] = (double)i;
    return v_tensor(c->e, ir_const_data(c->e->g, shape_make(1, &n, false), d, c->loc));
}

static const BuiltinParam range_params[] = {
    {"n", AK_INT, .flags = PF_POS, .what = "range's bound",
     .missing = "range needs a bound: range(10) or range(2, 10)"},
    {"end", AK_INT, .flags = PF_POS | PF_OPT, .what = "range's bound"}, /* range(start, end) */
    {0},
};

static Value fn_range(Call *c) {
    Ctx *ctx = c->e->ctx;
    int64_t lo = 0, hi;
    if (!arg_int(c, "n", &hi))
        return v_error(c->e);
    if (arg_has(c, "end")) {
        lo = hi;
        if (!arg_int(c, "end", &hi))
            return v_error(c->e);
    }
    /* hi - lo may overflow; compared without subtracting */
    if (hi > lo && (lo < 0 ? hi > 100000 + lo : hi - lo > 100000)) {
        error_at(c->loc, "range(%lld, %lld) is too long to unroll: a range has at most 100000 values", (long long)lo,
                 (long long)hi);
        return v_error(c->e);
    }
    if (hi > lo && !charge(c->e, LIST_ELEMS(hi - lo), c->loc))
        return v_error(c->e);
    Value l = v_list(ctx);
    for (int64_t i = lo; i < hi; i++)
        vec_push(ctx, l.list, v_int(i));
    return l;
}

static const BuiltinParam len_params[] = {
    {"x", AK_VALUE, .flags = PF_POS, .missing = "len needs a list, got no arguments"},
    {0},
};

static Value fn_len(Call *c) {
    Ctx *ctx = c->e->ctx;
    Arg *a = arg_value(c, "x");
    if (!a)
        return v_error(c->e);
    if (a->v.kind != V_LIST) {
        error_at(c->loc, "len needs a list, got %s", value_desc(ctx, a->v));
        return v_error(c->e);
    }
    return v_int(a->v.list->n);
}

/* ---- parameters and gradients ---- */

/* training(): true while elaborating the training step's graph, false for evaluation and inference (dropout's and
 * batch normalization's switch, for models that write their own). A compile-time boolean, so `if` takes it. */
static Value fn_training(Call *c) {
    if (c->args->n) {
        error_at(c->args->v[0].loc, "training() takes no arguments, got %d", c->args->n);
        return v_error(c->e);
    }
    return v_bool(c->e->training);
}

static const BuiltinParam param_params[] = {
    {"name", AK_VALUE, .flags = PF_POS,
     .missing = "%s needs a parameter name as a string: %s(\"0.weight\"), got no arguments"},
    {0},
};

/* The parameters named `name` (param) or matching the glob `name` (params), as a list. */
static Value params_named(Call *c, bool glob) {
    Ctx *ctx = c->e->ctx;
    Arg *a = arg_value(c, "name");
    if (!a)
        return v_error(c->e);
    const char *f = c->fn->name;
    if (a->v.kind != V_STR) {
        error_at(c->loc, "%s needs a parameter name as a string: %s(\"0.weight\"), got %s", f, f,
                 value_desc(ctx, a->v));
        return v_error(c->e);
    }
    Graph *g = c->e->g;
    if (!charge(c->e, g->params.n, c->loc))
        return v_error(c->e);
    Value l = v_list(ctx);
    for (int i = 0; i < g->params.n; i++)
        if (glob ? glob_match(a->v.s, g->params.v[i].name) : strcmp(g->params.v[i].name, a->v.s) == 0)
            vec_push(ctx, l.list, v_tensor(c->e, g->params.v[i].node));
    if (l.list->n == 0) {
        const char **names = xalloc(ctx, sizeof(char *) * (size_t)(g->params.n + 1));
        for (int i = 0; i < g->params.n; i++)
            names[i] = g->params.v[i].name;
        const char *near = glob ? NULL : suggest_among(a->v.s, names, g->params.n);
        if (near) {
            error_at(a->loc, "no parameter is named \"%s\"; did you mean \"%s\"?", a->v.s, near);
            return v_error(c->e);
        }
        error_at(a->loc, "no parameter %s \"%s\"", glob ? "matches" : "is named", a->v.s);
        if (g->params.n)
            note_at(g->params.v[0].loc, "parameters are named like \"%s\"", g->params.v[0].name);
        return v_error(c->e);
    }
    return l;
}

static Value fn_param(Call *c) {
    Value l = params_named(c, false);
    return l.kind == V_LIST ? l.list->v[0] : l;
}

static Value fn_params(Call *c) { return params_named(c, true); }

static const BuiltinParam grad_params[] = {
    {"y", AK_TENSOR, .flags = PF_POS},
    {"x", AK_TENSOR, .flags = PF_POS},
    {0},
};

static Value fn_grad(Call *c) {
    Graph *g = c->e->g;
    Loc loc = c->loc;
    IrNode *y = arg_tensor(c, "y");
    IrNode *x = arg_tensor(c, "x");
    if (!y || !x)
        return v_error(c->e);
    if (x->op == OP_CONST) {
        error_at(loc, "grad: the value to differentiate by is a compile-time constant; declare it as an "
                      "input or a param");
        return v_error(c->e);
    }
    if (y->shape.rank != 0) {
        error_at(arg_loc(c, "y"), "grad needs a scalar to differentiate, got %s; take sum() of it first",
                 type_str(g->ctx, y->dtype, &y->shape));
        return v_error(c->e);
    }
    /* both walk the graph up to y */
    if (!charge(c->e, 2 * (int64_t)y->id + 1, loc))
        return v_error(c->e);
    IrNode *bad = ad_unsupported(g, y, &x, 1);
    if (bad) {
        error_at(loc,
                 "grad: cannot differentiate through %s, a gradient built by grad() or the loss; "
                 "second-order gradients go through element-wise ops, reductions and matmul only",
                 op_info[bad->op].name);
        note_at(bad->loc, "%s is part of the gradient of this", op_info[bad->op].name);
        return v_error(c->e);
    }
    IrNode *dx;
    ad_grad(g, y, &x, 1, &dx);
    if (!dx)
        dx = b_expand(g, ir_const_scalar(g, 0, loc), x->shape, loc);
    return v_tensor(c->e, dx);
}

/* ---- losses and penalties ---- */

static Value loss_mean(Call *c, IrNode *t) {
    return v_tensor(c->e, b_mean(c->e->g, t, t->shape.rank ? (1u << t->shape.rank) - 1 : 0, false, c->loc));
}

static const BuiltinParam cross_entropy_params[] = {
    {"logits", AK_TENSOR, .flags = PF_POS},
    {"labels", AK_TENSOR, .flags = PF_POS},
    {"axis", AK_INT, .flags = PF_KEY | PF_OPT, .dflt = -1, .what = "the class axis"},
    {0},
};

/* cross_entropy(logits, labels, axis=k): the mean over every label of the softmax cross-entropy, the classes
 * along axis k of the logits and the labels shaped as the logits without it (PyTorch's F.cross_entropy takes
 * [n, classes, d1, ...] and [n, d1, ...]: axis=1). The kernel reads classes along the last axis, so another axis
 * is moved there first (the others keep their order, so they line up with the labels'). */
static Value fn_cross_entropy(Call *c) {
    Graph *g = c->e->g;
    IrNode *x = arg_tensor(c, "logits");
    IrNode *y = arg_tensor(c, "labels");
    int64_t axis;
    if (!x || !y || !arg_int(c, "axis", &axis))
        return v_error(c->e);
    int rank = x->shape.rank;
    if (rank >= 2 && axis != -1 && axis != rank - 1) {
        bool range = axis >= -rank && axis < rank;
        int a = (int)(axis < 0 ? axis + rank : axis), perm[MAX_RANK];
        if (!range || (a == 0 && x->shape.batched)) {
            error_at(arg_loc(c, "axis"), "cross_entropy: axis %lld %s of %s; the classes lie along axes %d..%d",
                     (long long)axis, range ? "is the batch dimension" : "is out of range",
                     type_str(g->ctx, x->dtype, &x->shape), x->shape.batched ? 1 : 0, rank - 1);
            return v_error(c->e);
        }
        for (int k = 0, j = 0; k < rank; k++)
            if (k != a)
                perm[j++] = k;
        perm[rank - 1] = a;
        x = b_permute(g, x, perm, c->loc);
    }
    IrNode *l = x ? b_xent(g, x, y, c->loc) : NULL;
    return l ? loss_mean(c, l) : v_error(c->e);
}

static const BuiltinParam squared_params[] = {
    {"pred", AK_TENSOR, .flags = PF_POS},
    {"target", AK_TENSOR, .flags = PF_POS},
    {0},
};

/* The mean of (pred - target)^2, halved when `half` (squared_loss; mse is PyTorch's MSELoss). */
static Value squared_error(Call *c, bool half) {
    Graph *g = c->e->g;
    Loc loc = c->loc;
    IrNode *p = arg_tensor(c, "pred");
    IrNode *t = arg_tensor(c, "target");
    if (!p || !t)
        return v_error(c->e);
    if (!shape_eq(&p->shape, &t->shape)) {
        error_at(loc, "%s: prediction %s and target %s differ in shape", c->fn->name,
                 type_str(g->ctx, p->dtype, &p->shape), type_str(g->ctx, t->dtype, &t->shape));
        return v_error(c->e);
    }
    IrNode *d = b_binary(g, OP_SUB, p, t, loc);
    IrNode *sq = d ? b_binary(g, OP_MUL, d, d, loc) : NULL;
    if (sq && half)
        sq = b_scalar_op(g, OP_MUL, sq, 0.5, loc);
    return sq ? loss_mean(c, sq) : v_error(c->e);
}

static Value fn_squared_loss(Call *c) { return squared_error(c, true); }
static Value fn_mse(Call *c) { return squared_error(c, false); }

static const BuiltinParam penalty_params[] = {
    {"w", AK_VALUE, .flags = PF_POS, .missing = "%s needs a parameter or a list of them"},
    {0},
};

/* The sum over a parameter or a list of them of w^2 / 2 (l2) or |w| (l1). */
static Value penalty(Call *c, bool l2) {
    Graph *g = c->e->g;
    Loc loc = c->loc;
    const char *f = c->fn->name;
    Arg *a = arg_value(c, "w");
    if (!a)
        return v_error(c->e);
    Value v = a->v;
    int n = v.kind == V_LIST ? v.list->n : 1;
    if (n == 0) {
        error_at(a->loc, "%s needs a parameter or a list of them, got an empty list", f);
        return v_error(c->e);
    }
    IrNode *total = NULL;
    for (int i = 0; i < n; i++) {
        IrNode *w = to_tensor(c->e, v.kind == V_LIST ? v.list->v[i] : v, a->loc, "a penalised value");
        if (!w)
            return v_error(c->e);
        if (w->dtype != DT_F32) {
            error_at(a->loc, "%s penalises f32 parameters, got %s", f, type_str(g->ctx, w->dtype, &w->shape));
            return v_error(c->e);
        }
        IrNode *t = l2 ? b_binary(g, OP_MUL, w, w, loc) : b_unary(g, OP_ABS, w, loc);
        if (t && l2)
            t = b_scalar_op(g, OP_MUL, t, 0.5, loc);
        if (t)
            t = b_reduce(g, OP_SUM, t, w->shape.rank ? (1u << w->shape.rank) - 1 : 0, false, loc);
        if (t)
            t = total ? b_binary(g, OP_ADD, total, t, loc) : t;
        if (!t)
            return v_error(c->e);
        total = t;
    }
    return v_tensor(c->e, total);
}

static Value fn_l2_penalty(Call *c) { return penalty(c, true); }
static Value fn_l1_penalty(Call *c) { return penalty(c, false); }

/* ---- initialisers ---- */

static const BuiltinParam normal_params[] = {
    {"mean", AK_NUM, .flags = PF_POS | PF_KEY | PF_OPT, .dflt = 0},
    {"std", AK_NUM, .flags = PF_POS | PF_KEY | PF_OPT, .dflt = 1},
    {0},
};

static const BuiltinParam uniform_params[] = {
    {"a", AK_NUM, .flags = PF_POS | PF_KEY | PF_OPT, .dflt = 0},
    {"b", AK_NUM, .flags = PF_POS | PF_KEY | PF_OPT, .dflt = 1},
    {0},
};

/* normal(mean, std) and uniform(a, b) */
static Value fn_distribution(Call *c) {
    Ctx *ctx = c->e->ctx;
    double p[2];
    for (int i = 0; i < 2; i++)
        if (!arg_num(c, c->fn->params[i].name, &p[i]))
            return v_error(c->e);
    if (c->fn->init == INIT_NORMAL && p[1] < 0) {
        error_at(c->loc, "normal: std must not be negative, got %g", p[1]);
        return v_error(c->e);
    }
    return v_init(init_new(ctx, c->fn->init, p[0], p[1]));
}

static const BuiltinParam gain_params[] = {
    {"gain", AK_NUM, .flags = PF_POS | PF_KEY | PF_OPT, .dflt = 1},
    {0},
};

/* xavier_* and kaiming_*: scaled by the parameter's fans when it is initialised */
static Value fn_fan_init(Call *c) {
    Ctx *ctx = c->e->ctx;
    double gain;
    return arg_num(c, "gain", &gain) ? v_init(init_new(ctx, c->fn->init, gain, 0)) : v_error(c->e);
}

static const BuiltinParam constant_params[] = {
    {"value", AK_NUM, .flags = PF_POS | PF_KEY, .what = "constant's value",
     .missing = "constant needs a value: constant(42)"},
    {0},
};

static Value fn_constant(Call *c) {
    Ctx *ctx = c->e->ctx;
    double v;
    return arg_num(c, "value", &v) ? v_init(init_new(ctx, INIT_CONST, v, 0)) : v_error(c->e);
}

/* The shape a call's positional arguments give, as a list (zeros([2, 3])) or one dimension each (zeros(2, 3)). */
static bool shape_args(Call *c, Shape *s) {
    Ctx *ctx = c->e->ctx;
    Args *a = c->args;
    Value sv = a->v[0].v;
    if (a->npos > 1) {
        sv = v_list(ctx);
        for (int i = 0; i < a->npos; i++)
            vec_push(ctx, sv.list, a->v[i].v);
    }
    return shape_from_value(c->e, sv, a->v[0].loc, s, false, a->fname, DT_F32);
}

/* zeros / ones: an initialiser, or with a shape (zeros([2, 3]) or zeros(2, 3)) a constant tensor. The row has
 * no parameter list: any number of dimensions may follow. */
static Value filled(Call *c, double value) {
    Ctx *ctx = c->e->ctx;
    Args *a = c->args;
    if (a->npos == 0)
        return v_init(init_new(ctx, INIT_CONST, value, 0));
    Shape s;
    if (!shape_args(c, &s))
        return v_error(c->e);
    int64_t n = shape_numel(&s);
    if (n > MAX_CONST_NUMEL) {
        error_at(a->v[0].loc, "%s(%s) would be a compile-time constant of %lld elements; the limit is %lld", a->fname,
                 shape_str(ctx, &s), (long long)n, (long long)MAX_CONST_NUMEL);
        return v_error(c->e);
    }
    if (!charge(c->e, ELEMS(n), c->loc))
        return v_error(c->e);
    double *d = xalloc(ctx, sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        d[i] = value;
    return v_tensor(c->e, ir_const_data(c->e->g, s, d, c->loc));
}

static Value fn_zeros(Call *c) { return filled(c, 0); }
static Value fn_ones(Call *c) { return filled(c, 1); }

/* randn(3, 4) or randn([3, 4]): torch.randn, a tensor of standard normal numbers drawn when the model is
 * initialised, from its seed, as a `const r: [3, 4] = normal(0, 1)` is; each call is a constant of its own
 * (randn.0, randn.1, ... in the scope's names), so two calls draw different numbers. */
static Value fn_randn(Call *c) {
    Elab *e = c->e;
    Shape s;
    if (c->args->npos == 0) {
        error_at(c->loc, "randn needs a shape: randn(3, 4) or randn([3, 4])");
        return v_error(e);
    }
    if (!shape_args(c, &s))
        return v_error(e);
    char *name = xsprintf(e->ctx, "randn.%d", e->randn_made++);
    return v_tensor(e, make_param(e, name, s, false, init_new(e->ctx, INIT_NORMAL, 0, 1), c->loc));
}

/* ---- D2L chapter 2's tensor functions ---- */

static Value fn_min(Call *c) {
    IrNode *x;
    uint32_t mask;
    bool keep;
    if (!reduce_args(c, &x, &mask, &keep))
        return v_error(c->e);
    Graph *g = c->e->g;
    IrNode *nx = b_unary(g, OP_NEG, x, c->loc), *m = nx ? max_of(c, nx, mask, keep) : NULL;
    return v_tensor(c->e, m ? b_unary(g, OP_NEG, m, c->loc) : NULL);
}

static const BuiltinParam argmax_params[] = {
    {"x", AK_TENSOR, .flags = PF_POS},
    {"axis", AK_INT, .flags = PF_POS | PF_KEY | PF_OPT, .dflt = INT64_MIN, .what = "the axis"},
    {"keepdim", AK_BOOL, .flags = PF_KEY | PF_OPT, .dflt = 0},
    {0},
};

/* argmax / argmin along an axis (as f32 indices), or over every element of an unbatched tensor (the flat index,
 * as torch.argmax(x) without dim). */
static Value fn_argmax(Call *c) {
    Graph *g = c->e->g;
    IrNode *x = arg_tensor(c, "x");
    int64_t ax;
    int axis;
    if (!x || !arg_int(c, "axis", &ax))
        return v_error(c->e);
    bool keep = arg_bool(c, "keepdim"), min = c->fn->op == OP_MINIMUM;
    if (x->dtype != DT_F32 || x->shape.rank == 0) {
        error_at(c->loc, "%s needs an f32 tensor of at least one dimension, got %s", c->args->fname,
                 type_str(g->ctx, x->dtype, &x->shape));
        return v_error(c->e);
    }
    if (ax == INT64_MIN) {
        if (x->shape.batched) {
            error_at(c->loc, "%s over every element of %s would mix the examples; give an axis: %s(x, axis=1)",
                     c->args->fname, type_str(g->ctx, x->dtype, &x->shape), c->args->fname);
            return v_error(c->e);
        }
        int64_t n = shape_numel(&x->shape);
        IrNode *i = b_argmax(g, b_reshape(g, x, shape_make(1, &n, false), c->loc), 0, min, c->loc);
        return v_tensor(c->e, i ? b_reshape(g, i, shape_scalar(), c->loc) : NULL);
    }
    if (!axis_of(c, x, ax, arg_loc(c, "axis"), &axis))
        return v_error(c->e);
    if (axis == 0 && x->shape.batched) {
        error_at(arg_loc(c, "axis"), "%s: axis %lld is the batch dimension of %s; give an axis within each example",
                 c->args->fname, (long long)ax, type_str(g->ctx, x->dtype, &x->shape));
        return v_error(c->e);
    }
    IrNode *i = b_argmax(g, x, axis, min, c->loc);
    if (!i || keep)
        return v_tensor(c->e, i);
    Shape s = i->shape;
    for (int k = axis; k < s.rank - 1; k++)
        s.d[k] = s.d[k + 1];
    s.rank--;
    return v_tensor(c->e, b_reshape(g, i, s, c->loc));
}

static const BuiltinParam permute_params[] = {
    {"x", AK_TENSOR, .flags = PF_POS},
    {"dims", AK_VALUE, .flags = PF_POS, .missing = "permute needs the new order of the axes: permute(x, [0, 2, 1])"},
    {0},
};

/* permute(x, [2, 0, 1]): result axis k is x's axis dims[k] (torch.permute) */
static Value fn_permute(Call *c) {
    Ctx *ctx = c->e->ctx;
    IrNode *x = arg_tensor(c, "x");
    Arg *a = x ? arg_value(c, "dims") : NULL;
    if (!a)
        return v_error(c->e);
    if (a->v.kind != V_LIST || a->v.list->n != x->shape.rank) {
        error_at(a->loc, "permute needs a list of %d axes for %s, got %s", x->shape.rank,
                 type_str(ctx, x->dtype, &x->shape),
                 a->v.kind == V_LIST ? xsprintf(ctx, "a list of %d", a->v.list->n) : value_desc(ctx, a->v));
        return v_error(c->e);
    }
    int perm[MAX_RANK];
    bool seen[MAX_RANK] = {false};
    for (int k = 0; k < x->shape.rank; k++) {
        int64_t ax;
        if (!want_int(a->v.list->v[k], a->loc, "an axis", &ax) || !axis_of(c, x, ax, a->loc, &perm[k]))
            return v_error(c->e);
        if (seen[perm[k]]) {
            error_at(a->loc, "permute: axis %d is given twice; the list is a permutation of 0..%d", perm[k],
                     x->shape.rank - 1);
            return v_error(c->e);
        }
        seen[perm[k]] = true;
    }
    return v_tensor(c->e, b_permute(c->e->g, x, perm, c->loc));
}

static const BuiltinParam norm_params[] = {
    {"x", AK_TENSOR, .flags = PF_POS},
    {"p", AK_VALUE, .flags = PF_POS | PF_KEY | PF_OPT},
    {"axis", AK_VALUE, .flags = PF_KEY | PF_OPT},
    {"keepdim", AK_BOOL, .flags = PF_KEY | PF_OPT, .dflt = 0},
    {0},
};

/* norm(x): the L2 norm of every element (a matrix's Frobenius norm, "fro"); p=1 the L1 norm; over axes with
 * axis=, keepdim= as sum's */
static Value fn_norm(Call *c) {
    Ctx *ctx = c->e->ctx;
    Graph *g = c->e->g;
    IrNode *x;
    uint32_t mask;
    bool keep;
    if (!reduce_args(c, &x, &mask, &keep))
        return v_error(c->e);
    Arg *p = arg_has(c, "p") ? arg_value(c, "p") : NULL;
    bool l1 = false;
    if (p && !(p->v.kind == V_STR && strcmp(p->v.s, "fro") == 0)) {
        double pv;
        if (!want_num(p->v, p->loc, "norm's p", &pv))
            return v_error(c->e);
        if (pv != 1 && pv != 2) {
            error_at(p->loc, "norm takes p=1, p=2 or p=\"fro\", got %s", value_desc(ctx, p->v));
            return v_error(c->e);
        }
        l1 = pv == 1;
    }
    if (l1)
        return v_tensor(c->e, b_reduce(g, OP_SUM, b_unary(g, OP_ABS, x, c->loc), mask, keep, c->loc));
    IrNode *ss = b_reduce(g, OP_SUM, b_binary(g, OP_MUL, x, x, c->loc), mask, keep, c->loc);
    return v_tensor(c->e, ss ? b_unary(g, OP_SQRT, ss, c->loc) : NULL);
}

/* stack([a, b], axis): the tensors, of one shape, joined along a new axis (torch.stack) */
#define MAX_STACK 64
static Value fn_stack(Call *c) {
    Ctx *ctx = c->e->ctx;
    Graph *g = c->e->g;
    Arg *l = arg_value(c, "xs");
    int64_t ax;
    if (!l || !arg_int(c, "axis", &ax))
        return v_error(c->e);
    if (l->v.kind != V_LIST || l->v.list->n < 1 || l->v.list->n > MAX_STACK) {
        error_at(l->loc, "stack needs a list of 1 to %d tensors: stack([a, b], axis=0), got %s", MAX_STACK,
                 value_desc(ctx, l->v));
        return v_error(c->e);
    }
    IrNode *xs[MAX_STACK];
    ValueList *vs = l->v.list;
    for (int i = 0; i < vs->n; i++)
        if (!(xs[i] = to_tensor(c->e, vs->v[i], l->loc, "a stacked value")))
            return v_error(c->e);
    Shape s = xs[0]->shape;
    for (int i = 1; i < vs->n; i++)
        if (!shape_eq(&xs[i]->shape, &s)) {
            error_at(l->loc, "stack needs tensors of one shape, got %s and %s", type_str(ctx, xs[0]->dtype, &s),
                     type_str(ctx, xs[i]->dtype, &xs[i]->shape));
            return v_error(c->e);
        }
    if (s.rank >= MAX_RANK || ax < -(s.rank + 1) || ax > s.rank) {
        error_at(arg_loc(c, "axis"), "stack: axis %lld is out of range for the new axis of %s, %d..%d", (long long)ax,
                 type_str(ctx, xs[0]->dtype, &s), -(s.rank + 1), s.rank);
        return v_error(c->e);
    }
    int axis = (int)(ax < 0 ? ax + s.rank + 1 : ax);
    Shape t = s;
    t.rank++;
    for (int k = t.rank - 1; k > axis; k--)
        t.d[k] = s.d[k - 1];
    t.d[axis] = 1;
    for (int i = 0; i < vs->n; i++)
        if (!(xs[i] = b_reshape(g, xs[i], t, c->loc)))
            return v_error(c->e);
    /* concat joins at most MAX_IN at once: groups of them, then the groups, along the same axis */
    int n = vs->n;
    while (n > 1) {
        int m = 0;
        for (int i = 0; i < n; i += MAX_IN) {
            int k = n - i < MAX_IN ? n - i : MAX_IN;
            if (!(xs[m++] = k == 1 ? xs[i] : b_concat(g, xs + i, k, axis, c->loc)))
                return v_error(c->e);
        }
        n = m;
    }
    return v_tensor(c->e, xs[0]);
}

static const BuiltinParam full_params[] = {
    {"shape", AK_VALUE, .flags = PF_POS, .missing = "full needs a shape and a value: full([2, 3], 7)"},
    {"value", AK_NUM, .flags = PF_POS | PF_KEY, .what = "full's value",
     .missing = "full needs a shape and a value: full([2, 3], 7)"},
    {0},
};

static Value constant_tensor(Call *c, Shape s, double *d) {
    return v_tensor(c->e, ir_const_data(c->e->g, s, d, c->loc));
}

/* full(shape, v): a compile-time tensor of v (torch.full) */
static Value fn_full(Call *c) {
    Ctx *ctx = c->e->ctx;
    Arg *a = arg_value(c, "shape");
    double v;
    Shape s;
    if (!a || !arg_num(c, "value", &v) || !shape_from_value(c->e, a->v, a->loc, &s, false, "full", DT_F32))
        return v_error(c->e);
    int64_t n = shape_numel(&s);
    if (n > MAX_CONST_NUMEL || !charge(c->e, ELEMS(n), c->loc)) {
        if (n > MAX_CONST_NUMEL)
            error_at(a->loc, "full(%s) would be a compile-time constant of %lld elements; the limit is %lld",
                     shape_str(ctx, &s), (long long)n, (long long)MAX_CONST_NUMEL);
        return v_error(c->e);
    }
    double *d = xalloc(ctx, sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        d[i] = v;
    return constant_tensor(c, s, d);
}

static const BuiltinParam eye_params[] = {
    {"n", AK_INT, .flags = PF_POS, .what = "eye's size", .missing = "eye needs a size: eye(3)"},
    {"m", AK_INT, .flags = PF_POS | PF_OPT, .dflt = -1, .what = "eye's number of columns"},
    {0},
};

/* eye(n) / eye(n, m): ones on the diagonal (torch.eye) */
static Value fn_eye(Call *c) {
    Ctx *ctx = c->e->ctx;
    int64_t n, m;
    if (!arg_int(c, "n", &n) || !arg_int(c, "m", &m))
        return v_error(c->e);
    if (m == -1)
        m = n;
    if (n < 1 || m < 1 || n > 4096 || m > 4096) {
        error_at(c->loc, "eye's sizes must be in 1..4096, got %lld and %lld", (long long)n, (long long)m);
        return v_error(c->e);
    }
    if (!charge(c->e, ELEMS(n * m), c->loc))
        return v_error(c->e);
    double *d = xalloc(ctx, sizeof(double) * (size_t)(n * m));
    for (int64_t i = 0; i < n * m; i++)
        d[i] = i / m == i % m;
    int64_t dims[2] = {n, m};
    return constant_tensor(c, shape_make(2, dims, false), d);
}

/* ---- the table ---- */

const Builtin function_builtins[] = {
    {"exp", BK_FUNCTION, unary_params, .fn = fn_unary, .op = OP_EXP},
    {"log", BK_FUNCTION, unary_params, .fn = fn_unary, .op = OP_LOG},
    {"abs", BK_FUNCTION, unary_params, .fn = fn_unary, .op = OP_ABS},
    {"sqrt", BK_FUNCTION, unary_params, .fn = fn_unary, .op = OP_SQRT},
    {"pow", BK_FUNCTION, pow_params, .fn = fn_pow},
    {"where", BK_FUNCTION, where_params, .fn = fn_where},
    {"max", BK_FUNCTION, operands_params, .fn = fn_extremum, .op = OP_MAXIMUM, .match = two_operands},
    {"max", BK_FUNCTION, reduce_params, .fn = fn_reduce, .op = OP_MAX},
    {"min", BK_FUNCTION, operands_params, .fn = fn_extremum, .op = OP_MINIMUM, .match = two_operands},
    {"min", BK_FUNCTION, reduce_params, .fn = fn_min},
    {"sum", BK_FUNCTION, reduce_params, .fn = fn_reduce, .op = OP_SUM},
    {"mean", BK_FUNCTION, reduce_params, .fn = fn_mean},
    {"log_softmax", BK_FUNCTION, log_softmax_params, .fn = fn_log_softmax},
    {"reshape", BK_FUNCTION, reshape_params, .fn = fn_reshape},
    {"transpose", BK_FUNCTION, transpose_params, .fn = fn_transpose},
    {"concat", BK_FUNCTION, concat_params, .fn = fn_concat},
    {"dot", BK_FUNCTION, xy_params, .fn = fn_dot},
    {"matmul", BK_FUNCTION, operands_params, .fn = fn_matmul},
    {"tensor", BK_FUNCTION, tensor_params, .fn = fn_tensor},
    {"arange", BK_FUNCTION, arange_params, .fn = fn_arange},
    {"range", BK_FUNCTION, range_params, .fn = fn_range},
    {"len", BK_FUNCTION, len_params, .fn = fn_len},
    {"param", BK_FUNCTION, param_params, .fn = fn_param},
    {"params", BK_FUNCTION, param_params, .fn = fn_params},
    {"grad", BK_FUNCTION, grad_params, .fn = fn_grad},
    {"training", BK_FUNCTION, NULL, .fn = fn_training},
    {"cross_entropy", BK_FUNCTION, cross_entropy_params, .fn = fn_cross_entropy},
    {"squared_loss", BK_FUNCTION, squared_params, .fn = fn_squared_loss},
    {"mse", BK_FUNCTION, squared_params, .fn = fn_mse},
    {"l2_penalty", BK_FUNCTION, penalty_params, .fn = fn_l2_penalty},
    {"l1_penalty", BK_FUNCTION, penalty_params, .fn = fn_l1_penalty},
    {"argmax", BK_FUNCTION, argmax_params, .fn = fn_argmax, .op = OP_MAXIMUM},
    {"argmin", BK_FUNCTION, argmax_params, .fn = fn_argmax, .op = OP_MINIMUM},
    {"permute", BK_FUNCTION, permute_params, .fn = fn_permute},
    {"norm", BK_FUNCTION, norm_params, .fn = fn_norm},
    {"cat", BK_FUNCTION, concat_params, .fn = fn_concat},
    {"stack", BK_FUNCTION, concat_params, .fn = fn_stack},
    {"full", BK_FUNCTION, full_params, .fn = fn_full},
    {"eye", BK_FUNCTION, eye_params, .fn = fn_eye},
    {"normal", BK_INIT, normal_params, .fn = fn_distribution, .init = INIT_NORMAL},
    {"uniform", BK_INIT, uniform_params, .fn = fn_distribution, .init = INIT_UNIFORM},
    {"xavier_uniform", BK_INIT, gain_params, .fn = fn_fan_init, .init = INIT_XAVIER_UNIFORM},
    {"xavier_normal", BK_INIT, gain_params, .fn = fn_fan_init, .init = INIT_XAVIER_NORMAL},
    {"kaiming_uniform", BK_INIT, gain_params, .fn = fn_fan_init, .init = INIT_KAIMING_UNIFORM},
    {"kaiming_normal", BK_INIT, gain_params, .fn = fn_fan_init, .init = INIT_KAIMING_NORMAL},
    {"constant", BK_INIT, constant_params, .fn = fn_constant},
    {"zeros", BK_INIT, NULL, .fn = fn_zeros},
    {"ones", BK_INIT, NULL, .fn = fn_ones},
    {"randn", BK_FUNCTION, NULL, .fn = fn_randn},
    {0},
};

/* The tables, searched in order. */
static const Builtin *const builtin_tables[] = {layer_builtins, function_builtins};

/* ---- ops called by their ops.def surface name ---- */

/* `surface(operands..., attributes...)`: the operands as tensors, the integer attributes by position or by name,
 * the node built through the op's shape rule. */
static Value fn_op(Call *c) {
    const OpInfo *info = &op_info[c->fn->op];
    IrNode *in[MAX_IN];
    OpArgs oa = {0};
    int k = 0;
    for (const BuiltinParam *p = c->fn->params; p->name; p++) {
        if (p->kind == AK_TENSOR) {
            if (!(in[k++] = arg_tensor(c, p->name)))
                return v_error(c->e);
        } else if (!arg_int(c, p->name, &oa.attr[p - c->fn->params - info->arity])) {
            return v_error(c->e);
        }
    }
    return v_tensor(c->e, op_build(c->e->g, c->fn->op, info->arity, in, &oa, c->loc));
}

/* The row of op `op`, made from its ops.def columns: operands x, y, z by position, then its attributes by
 * position or by name. */
static const Builtin *op_row(Ctx *ctx, Op op) {
    static const char *const operands[] = {"x", "y", "z"};
    const OpInfo *info = &op_info[op];
    const char *attrs[MAX_ATTR];
    int nattr = op_params(ctx, op, attrs);
    if (info->arity < 0 || info->arity > 3 || info->arity + nattr >= MAX_BUILTIN_PARAMS)
        die("op %s cannot be called by name: %d operands, %d attributes", info->name, info->arity, nattr);
    BuiltinParam *params = xalloc(ctx, (size_t)(info->arity + nattr + 1) * sizeof *params);
    for (int i = 0; i < info->arity; i++)
        params[i] = (BuiltinParam){operands[i], AK_TENSOR, .flags = PF_POS};
    for (int i = 0; i < nattr; i++)
        params[info->arity + i] = (BuiltinParam){attrs[i], AK_INT, .flags = PF_POS | PF_KEY,
                                                 .what = xsprintf(ctx, "%s's %s", info->surface, attrs[i]),
                                                 .missing = xsprintf(ctx, "%%s needs argument '%s'", attrs[i])};
    Builtin *row = xalloc(ctx, sizeof *row);
    *row = (Builtin){info->surface, BK_FUNCTION, params, .fn = fn_op, .op = op};
    return row;
}

const Builtin *builtin_lookup(Ctx *ctx, const char *name) {
    for (size_t t = 0; t < sizeof builtin_tables / sizeof builtin_tables[0]; t++)
        for (const Builtin *b = builtin_tables[t]; b->name; b++)
            if (strcmp(b->name, name) == 0)
                return b;
    int op = op_lookup(name);
    return op >= 0 ? op_row(ctx, (Op)op) : NULL;
}

/* Calls function or initialiser `fn` with arguments `a`: the first row of its name that accepts them. */
Value call_builtin(Elab *e, const Builtin *fn, Args *a, Loc loc) {
    while (fn->match && !fn->match(a))
        fn++;
    a->fname = fn->name;
    Call c = {.e = e, .fn = fn, .args = a, .loc = loc};
    return builtin_run(&c);
}
