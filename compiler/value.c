/* value.c: the interpreter's values and what is done with them.
 *
 * A value is a compile-time number, string, list, layer, block, function or initialiser, or a tensor (a graph
 * node). This file describes values for messages, converts them (to integers, shapes, tensors, initialisers),
 * combines them with the language's operators (folding compile-time numbers, building tensor ops through
 * the ops' builders), holds the environments that bind names to them, and keeps the elaboration budget that every step
 * and every value made is charged to. */
#include <math.h>

#include "elab.h"
#include "parser.h"

/* ---- values ---- */

static const char *kind_name(ValueKind k) {
    switch (k) {
    case V_ERROR:
        return "an erroneous value";
    case V_NONE:
        return "nothing";
    case V_INT:
        return "an integer";
    case V_FLOAT:
        return "a number";
    case V_BOOL:
        return "a boolean";
    case V_STR:
        return "a string";
    case V_LIST:
        return "a list";
    case V_TENSOR:
        return "a tensor";
    case V_LAYER:
        return "a layer";
    case V_BLOCK:
        return "a block";
    case V_FUNC:
        return "a function";
    case V_INIT:
        return "an initialiser";
    case V_BATCH:
        return "the batch dimension";
    }
    return "?";
}

char *value_desc(Ctx *ctx, Value v) {
    if (v.kind == V_TENSOR)
        return type_str(ctx, v.t->dtype, &v.t->shape);
    if (v.kind == V_INT)
        return xsprintf(ctx, "the integer %lld", (long long)v.i);
    if (v.kind == V_FLOAT)
        return xsprintf(ctx, "the number %g", v.f);
    return (char *)kind_name(v.kind);
}

/* Whether two compile-time values are the same value (a while loop may not change them). */
bool value_same(Value a, Value b) {
    if (a.kind != b.kind)
        return false;
    switch (a.kind) {
    case V_INT:
    case V_BOOL:
        return a.i == b.i;
    case V_FLOAT:
        return memcmp(&a.f, &b.f, sizeof a.f) == 0;
    case V_STR:
        return strcmp(a.s, b.s) == 0;
    case V_LIST:
        return a.list == b.list;
    case V_TENSOR:
        return a.t == b.t;
    case V_LAYER:
        return a.layer == b.layer;
    case V_BLOCK:
        return a.block == b.block;
    case V_FUNC:
        return a.fn == b.fn;
    case V_INIT:
        return a.init == b.init;
    case V_ERROR:
    case V_NONE:
    case V_BATCH:
        return true;
    }
    return false;
}

/* ---- the budget ---- */

/* Charges `cost` steps to the budget; false, after one located error that halts elaboration, once it is spent. */
bool charge(Elab *e, int64_t cost, Loc loc) {
    if (e->halted)
        return false;
    e->work += cost;
    size_t mem = ctx_allocated(e->ctx) - e->arena_start;
    if (e->work <= ELAB_BUDGET && mem <= ELAB_MEMORY)
        return true;
    if (mem > ELAB_MEMORY)
        error_at(loc,
                 "elaborating the model takes more than %zu MiB of memory here; is a loop or a recursive block "
                 "unrolled too many times, or a compile-time constant too big?",
                 ELAB_MEMORY >> 20);
    else
        error_at(loc,
                 "elaborating the model takes more than %lld steps here; is a loop or a recursive block "
                 "unrolled too many times, or a compile-time constant too big?",
                 (long long)ELAB_BUDGET);
    e->halted = true;
    return false;
}

/* Compile-time elements a value holds: what folding an operation on it costs. */
static int64_t const_cost(Value v) {
    if (v.kind == V_TENSOR && v.t->op == OP_CONST)
        return shape_numel(&v.t->shape);
    return 0;
}

/* A compile-time result `r` computed from operands `ops`: charges the elements folded. */
Value charge_fold(Elab *e, Value r, const Value *ops, int nops, Loc loc) {
    if (const_cost(r) == 0)
        return r;
    int64_t cost = const_cost(r);
    for (int i = 0; i < nops; i++)
        cost += const_cost(ops[i]);
    return charge(e, ELEMS(cost), loc) ? r : v_error(e);
}

/* charge_fold for a call's result, from its arguments (lists of constants included: concat, penalties). */
Value charge_fold_args(Elab *e, Value r, const Args *a, Loc loc) {
    if (const_cost(r) == 0)
        return r;
    int64_t cost = const_cost(r);
    for (int i = 0; i < a->n; i++) {
        Value v = a->v[i].v;
        cost += const_cost(v);
        for (int j = 0; v.kind == V_LIST && j < v.list->n; j++)
            cost += const_cost(v.list->v[j]);
    }
    return charge(e, ELEMS(cost), loc) ? r : v_error(e);
}

/* Enters one more level of nesting; false, after a located error that halts elaboration, past MAX_DEPTH. */
bool enter(Elab *e, Loc loc) {
    if (e->halted)
        return false;
    if (e->depth >= MAX_DEPTH) {
        error_at(loc,
                 "this expression or statement nests more than %d levels deep (each operator, call, loop, if and block "
                 "application is one)",
                 MAX_DEPTH);
        e->halted = true;
        return false;
    }
    e->depth++;
    return true;
}

/* Charges the graph nodes made since the last call. */
bool charge_nodes(Elab *e, Loc loc) {
    int grown = e->g->nodes.n - e->nodes_charged;
    e->nodes_charged = e->g->nodes.n;
    return charge(e, (int64_t)grown * NODE_COST, loc);
}

/* ---- environments ---- */

/* Names are hashed (environments, parameters): a model with many layers would otherwise take time quadratic in their
 * number. */
uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

Env *env_new(Ctx *ctx, Env *parent) {
    Env *e = xalloc(ctx, sizeof(Env));
    e->parent = parent;
    return e;
}

/* The hash slot of `name` in e's index: its own, or the empty one where it would go. */
static int *env_slot(Env *e, const char *name) {
    int mask = e->index_cap - 1;
    for (int i = (int)(name_hash(name) & (uint64_t)mask);; i = (i + 1) & mask) {
        int k = e->index[i];
        if (k == 0 || strcmp(e->names.v[k - 1], name) == 0)
            return &e->index[i];
    }
}

/* The position of `name` in scope e (not its parents), or -1. A model's top level may hold thousands of names
 * and is looked up at every use, in every unrolled iteration: past 16 names the scope is hashed. */
int env_index(Env *e, const char *name) {
    if (e->index_cap)
        return *env_slot(e, name) - 1;
    for (int i = 0; i < e->names.n; i++)
        if (strcmp(e->names.v[i], name) == 0)
            return i;
    return -1;
}

Value *env_find(Env *e, const char *name) {
    for (; e; e = e->parent) {
        int i = env_index(e, name);
        if (i >= 0)
            return &e->vals.v[i];
    }
    return NULL;
}

bool find_local(Env *e, const char *name) { return env_index(e, name) >= 0; }

void env_set(Ctx *ctx, Env *e, const char *name, Value v) {
    int i = env_index(e, name);
    if (i >= 0) {
        e->vals.v[i] = v;
        return;
    }
    vec_push(ctx, &e->names, xstrdup(ctx, name));
    vec_push(ctx, &e->vals, v);
    int n = e->names.n;
    if (n > 16 && 2 * n > e->index_cap) {
        e->index_cap = e->index_cap ? 2 * e->index_cap : 64;
        e->index = xalloc(ctx, sizeof(int) * (size_t)e->index_cap);
        for (int k = 0; k < n - 1; k++)
            *env_slot(e, e->names.v[k]) = k + 1;
    }
    if (e->index_cap)
        *env_slot(e, name) = n;
}

/* ---- conversions ---- */

bool want_int(Value v, Loc loc, const char *what, int64_t *out) {
    if (v.kind == V_ERROR)
        return false;
    if (v.kind == V_INT || v.kind == V_BOOL) {
        *out = v.i;
        return true;
    }
    /* a float, even a whole one (linear(256.0)), is not taken for an integer; past 2^53, where integer literals
     * are held as doubles too, whole numbers are integers (and checked against the int64 range) */
    if (v.kind == V_FLOAT && v.f == floor(v.f) && fabs(v.f) < 9e15) {
        error_at(loc, "%s must be a compile-time integer, got the float %.1f; write %.0f", what, v.f, v.f);
        return false;
    }
    if (v.kind == V_FLOAT && v.f == floor(v.f)) {
        /* 2^63 is the first double past the int64 range */
        if (!(v.f >= -9223372036854775808.0 && v.f < 9223372036854775808.0)) {
            error_at(loc, "%s must be a compile-time integer, got %s, which is out of range", what,
                     value_desc(loc.src->ctx, v));
            return false;
        }
        *out = (int64_t)v.f;
        return true;
    }
    error_at(loc, "%s must be a compile-time integer, got %s", what, value_desc(loc.src->ctx, v));
    return false;
}

bool want_num(Value v, Loc loc, const char *what, double *out) {
    if (v.kind == V_ERROR)
        return false;
    if (is_num(v)) {
        *out = num(v);
        return true;
    }
    error_at(loc, "%s must be a compile-time number, got %s", what, value_desc(loc.src->ctx, v));
    return false;
}

/* An int or an (h, w) pair. */
bool want_pair(Value v, Loc loc, const char *what, int64_t out[2]) {
    if (v.kind == V_LIST) {
        if (v.list->n != 2) {
            error_at(loc, "%s must be an integer or a pair (h, w), got a list of %d", what, v.list->n);
            return false;
        }
        return want_int(v.list->v[0], loc, what, &out[0]) && want_int(v.list->v[1], loc, what, &out[1]);
    }
    if (!want_int(v, loc, what, &out[0]))
        return false;
    out[1] = out[0];
    return true;
}

/* Copies the numbers of a nested list of shape s into data[*k...]; false if it is not that rectangular shape. At
 * most one visit per element and per list of the shape, so the walk is bounded by the shape's size, which is
 * checked before (the same big list may appear in a nest many times over). */
static bool list_to_data(Value v, const Shape *s, int depth, double *data, int64_t *k) {
    if (depth == s->rank) {
        if (!is_num(v))
            return false;
        data[(*k)++] = num(v);
        return true;
    }
    if (v.kind != V_LIST || v.list->n != s->d[depth])
        return false;
    for (int i = 0; i < v.list->n; i++)
        if (!list_to_data(v.list->v[i], s, depth + 1, data, k))
            return false;
    return true;
}

IrNode *to_tensor(Elab *e, Value v, Loc loc, const char *what) {
    if (v.kind == V_ERROR)
        return NULL;
    if (v.kind == V_TENSOR)
        return v.t;
    if (is_num(v))
        return ir_const_scalar(e->g, num(v), loc);
    if (v.kind == V_LIST) {
        /* the shape from the first element at each depth, then a walk that checks it */
        Shape s = {0};
        Value first = v;
        for (; first.kind == V_LIST && s.rank < MAX_RANK; first = first.list->n ? first.list->v[0] : v_none())
            s.d[s.rank++] = first.list->n;
        int64_t n = shape_numel(&s);
        if (n > MAX_CONST_NUMEL) {
            error_at(loc, "%s: a list used as a tensor may hold at most %lld numbers, got %s", what,
                     (long long)MAX_CONST_NUMEL, shape_str(e->ctx, &s));
            return NULL;
        }
        if (n == 0) { /* before the walk, which would not be bounded by n */
            error_at(loc, "%s: an empty list is not a tensor (shape %s)", what, shape_str(e->ctx, &s));
            return NULL;
        }
        if (!charge(e, ELEMS(2 * n), loc))
            return NULL;
        double *data = xalloc(e->ctx, sizeof(double) * (size_t)n);
        int64_t k = 0;
        if (!list_to_data(v, &s, 0, data, &k)) {
            error_at(loc, "%s: a list used as a tensor must be a rectangular nest of numbers, at most %d deep", what,
                     MAX_RANK);
            return NULL;
        }
        return ir_const_data(e->g, s, data, loc);
    }
    error_at(loc, "%s must be a tensor, got %s", what, value_desc(e->ctx, v));
    return NULL;
}

/* The shape a value spells ([2, 3], 4, [batch, 784]) of the tensor `what`, of element type dt. */
bool shape_from_value(Elab *e, Value v, Loc loc, Shape *s, bool allow_batch, const char *what, DType dt) {
    (void)e;
    memset(s, 0, sizeof *s);
    if (v.kind == V_INT) {
        if (v.i <= 0 || v.i > MAX_NUMEL) {
            error_at(loc, "a shape's dimensions must be in 1..%lld, got %lld", (long long)MAX_NUMEL, (long long)v.i);
            return false;
        }
        s->rank = 1;
        s->d[0] = v.i;
        return true;
    }
    if (v.kind != V_LIST) {
        error_at(loc, "expected a shape such as [2, 3], got %s", value_desc(e->ctx, v));
        return false;
    }
    if (v.list->n > MAX_RANK) {
        error_at(loc, "a shape has at most %d dimensions, got %d", MAX_RANK, v.list->n);
        return false;
    }
    s->rank = v.list->n;
    for (int i = 0; i < v.list->n; i++) {
        Value d = v.list->v[i];
        if (d.kind == V_BATCH) {
            if (!allow_batch || i != 0) {
                error_at(loc, "'batch' can only be the first dimension%s",
                         allow_batch ? "" : " of an input or reshape");
                return false;
            }
            s->batched = true;
            s->d[0] = e->g->max_batch;
            continue;
        }
        int64_t k;
        if (!want_int(d, loc, "a dimension", &k))
            return false;
        if (k <= 0) {
            error_at(loc, "dimension %d is %lld; dimensions must be positive", i, (long long)k);
            return false;
        }
        s->d[i] = k;
    }
    return shape_check_size(s, dt, loc, what);
}

/* ---- initialisers ---- */

Init *init_new(Ctx *ctx, InitKind k, double a, double b) {
    Init *i = xalloc(ctx, sizeof(Init));
    i->kind = k;
    i->a = a;
    i->b = b;
    return i;
}

bool init_value(Elab *e, Value v, Loc loc, Init **out) {
    (void)e;
    if (v.kind == V_ERROR)
        return false;
    if (v.kind == V_INIT) {
        *out = v.init;
        return true;
    }
    if (is_num(v)) {
        *out = init_new(e->ctx, INIT_CONST, num(v), 0);
        return true;
    }
    if (v.kind == V_FUNC && v.fn->kind == BK_INIT) { /* a bare name: xavier_uniform, zeros */
        Args a = {.loc = loc};
        Value r = call_builtin(e, v.fn, &a, loc);
        if (r.kind != V_INIT)
            return false;
        *out = r.init;
        return true;
    }
    if (v.kind == V_TENSOR && v.t->op == OP_CONST) {
        Init *i = init_new(e->ctx, INIT_DATA, 0, 0);
        i->data = v.t->data;
        i->a = (double)shape_numel(&v.t->shape);
        *out = i;
        return true;
    }
    if (v.kind == V_LIST) {
        IrNode *t = to_tensor(e, v, loc, "an initialiser");
        return t && init_value(e, v_tensor(e, t), loc, out);
    }
    error_at(loc, "expected an initialiser (normal(0, 0.01), zeros, xavier_uniform, a number, ...), got %s",
             value_desc(e->ctx, v));
    return false;
}

/* ---- operators ---- */

static Op binop_op(int op) {
    switch (op) {
    case '+':
        return OP_ADD;
    case '-':
        return OP_SUB;
    case '*':
        return OP_MUL;
    case '/':
        return OP_DIV;
    case POW:
        return OP_POW;
    case '<':
        return OP_LT;
    case LE:
        return OP_LE;
    case '>':
        return OP_GT;
    case GE:
        return OP_GE;
    case EQ:
        return OP_EQ;
    case NE:
        return OP_NE;
    default:
        return OP_COUNT;
    }
}

static InitKind init_op(int op) {
    switch (op) {
    case '+':
        return INIT_ADD;
    case '-':
        return INIT_SUB;
    case '*':
        return INIT_MUL;
    case '/':
        return INIT_DIV;
    case '<':
        return INIT_LT;
    case LE:
        return INIT_LE;
    case '>':
        return INIT_GT;
    case GE:
        return INIT_GE;
    default:
        return INIT_CONST;
    }
}

/* Stacks of matrices, [.., m, k] @ [.., k, n] with the leading axes broadcast (batched operands included): the
 * products as one broadcast multiply [.., m, k, 1] * [.., 1, k, n] summed over k, which the fuser runs as one
 * loop nest without storing the products. */
static IrNode *matmul_stacked(Graph *g, IrNode *a, IrNode *b, Loc loc) {
    Shape as = a->shape, bs = b->shape, la = as, lb = bs, lead;
    la.rank -= 2, lb.rank -= 2;
    if (as.rank + 1 > MAX_RANK || bs.rank + 1 > MAX_RANK || !shape_broadcast(&la, &lb, &lead)) {
        error_at(loc, "matrix product: the leading axes of %s and %s %s", type_str(g->ctx, a->dtype, &as),
                 type_str(g->ctx, b->dtype, &bs),
                 as.rank + 1 > MAX_RANK || bs.rank + 1 > MAX_RANK ? "leave no room for the product's axes"
                                                                  : "do not broadcast");
        return NULL;
    }
    Shape a4 = as, b4 = bs;
    a4.d[a4.rank++] = 1; /* [.., m, k, 1] */
    b4.d[b4.rank] = bs.d[bs.rank - 1];
    b4.d[b4.rank - 1] = bs.d[bs.rank - 2];
    b4.d[b4.rank - 2] = 1; /* [.., 1, k, n] */
    b4.rank++;
    IrNode *p = b_binary(g, OP_MUL, b_reshape(g, a, a4, loc), b_reshape(g, b, b4, loc), loc);
    return p ? b_reduce(g, OP_SUM, p, 1u << (p->shape.rank - 2), false, loc) : NULL;
}

/* a @ b as torch.matmul reads it: a vector on either side is a matrix of one row (left) or one column (right)
 * whose axis the result drops; two vectors give their dot product; stacks of matrices multiply matrix by matrix
 * with their leading axes broadcast. Plain products (and an unbatched stack times a matrix, as one) go to the
 * matmul op, which calls BLAS. */
IrNode *matmul_any(Graph *g, IrNode *a, IrNode *b, Loc loc) {
    const Shape *as = &a->shape, *bs = &b->shape;
    bool va = as->rank == 1 && !as->batched, vb = bs->rank == 1 && !bs->batched;
    int64_t ka = as->rank ? as->d[as->rank - 1] : 0;
    int64_t kb = bs->rank == 0 ? 0 : bs->rank == 1 ? bs->d[0] : bs->d[bs->rank - 2];
    if (as->rank && bs->rank && ka != kb && a->dtype == DT_F32 && b->dtype == DT_F32 &&
        (va || vb || as->rank > 2 || bs->rank > 2)) {
        error_at(loc, "matrix product: inner dimensions differ: %s @ %s (%lld vs %lld)", type_str(g->ctx, a->dtype, as),
                 type_str(g->ctx, b->dtype, bs), (long long)ka, (long long)kb);
        return NULL;
    }
    if (va && vb)
        return b_reduce(g, OP_SUM, b_binary(g, OP_MUL, a, b, loc), 1, false, loc);
    if (va || vb) {
        /* the vector as a matrix, the product, and its axis dropped again */
        int64_t row[2] = {1, as->d[0]}, col[2] = {bs->d[0], 1};
        IrNode *m = matmul_any(g, va ? b_reshape(g, a, shape_make(2, row, false), loc) : a,
                               vb ? b_reshape(g, b, shape_make(2, col, false), loc) : b, loc);
        if (!m)
            return NULL;
        Shape s = m->shape;
        int drop = va ? s.rank - 2 : s.rank - 1;
        for (int k = drop; k < s.rank - 1; k++)
            s.d[k] = s.d[k + 1];
        s.rank--;
        return b_reshape(g, m, s, loc);
    }
    if (as->rank > 2 && !as->batched && bs->rank == 2 && a->dtype == DT_F32) {
        int64_t flat[2] = {shape_numel(as) / as->d[as->rank - 1], as->d[as->rank - 1]};
        IrNode *m = b_matmul(g, b_reshape(g, a, shape_make(2, flat, false), loc), b, false, false, loc);
        Shape s = *as;
        s.d[s.rank - 1] = bs->d[1];
        return m ? b_reshape(g, m, s, loc) : NULL;
    }
    if ((as->rank > 2 || bs->rank > 2) && a->dtype == DT_F32 && b->dtype == DT_F32)
        return matmul_stacked(g, a, b, loc);
    return b_matmul(g, a, b, false, false, loc);
}

Value arith(Elab *e, int op, Value a, Value b, Loc loc) {
    Ctx *ctx = e->ctx;
    /* compile-time numbers */
    if (is_num(a) && is_num(b)) {
        double x = num(a), y = num(b);
        bool ints = a.kind != V_FLOAT && b.kind != V_FLOAT;
        int64_t r = 0;
        bool over = false;
        if (ints) {
            switch (op) {
            case '+':
                over = __builtin_add_overflow(a.i, b.i, &r);
                break;
            case '-':
                over = __builtin_sub_overflow(a.i, b.i, &r);
                break;
            case '*':
                over = __builtin_mul_overflow(a.i, b.i, &r);
                break;
            case '/':
                over = a.i == INT64_MIN && b.i == -1;
                break;
            case POW:
                /* exactly, by squaring: pow() in double is inexact past 2^53 */
                r = 1;
                for (int64_t base = a.i, k = b.i; k > 0 && !over; k >>= 1) {
                    if (k & 1)
                        over = __builtin_mul_overflow(r, base, &r);
                    if (k > 1 && !over)
                        over = __builtin_mul_overflow(base, base, &base);
                }
                break;
            default:
                break;
            }
        }
        if (over) {
            error_at(loc, "integer overflow: %lld %s %lld does not fit in 64 bits", (long long)a.i, token_spelling(op),
                     (long long)b.i);
            return v_error(e);
        }
        switch (op) {
        case '+':
            return ints ? v_int(r) : v_float(x + y);
        case '-':
            return ints ? v_int(r) : v_float(x - y);
        case '*':
            return ints ? v_int(r) : v_float(x * y);
        case '/':
            if (y == 0) {
                error_at(loc, "division by zero: %g / 0", x);
                return v_error(e);
            }
            return ints && a.i % b.i == 0 ? v_int(a.i / b.i) : v_float(x / y);
        case POW:
            return ints && b.i >= 0 ? v_int(r) : v_float(pow(x, y));
        case '<':
            return v_bool(x < y);
        case LE:
            return v_bool(x <= y);
        case '>':
            return v_bool(x > y);
        case GE:
            return v_bool(x >= y);
        case EQ:
            return v_bool(x == y);
        case NE:
            return v_bool(x != y);
        case AND:
            return v_bool(x != 0 && y != 0);
        case OR:
            return v_bool(x != 0 || y != 0);
        default:
            break;
        }
    }
    if (a.kind == V_STR && b.kind == V_STR && (op == EQ || op == NE))
        return v_bool((strcmp(a.s, b.s) == 0) == (op == EQ));
    if (op == '*' && ((a.kind == V_LIST && b.kind == V_INT) || (a.kind == V_INT && b.kind == V_LIST))) {
        /* list repetition, as Python: [0] * 197 */
        Value l = a.kind == V_LIST ? a : b;
        int64_t times = a.kind == V_INT ? a.i : b.i;
        if (times < 0 || times * l.list->n > 1000000) {
            error_at(loc, "list repetition %lld times is out of range (0 to 1,000,000 elements)", (long long)times);
            return v_error(e);
        }
        Value r = v_list(ctx);
        for (int64_t k = 0; k < times; k++)
            for (int i = 0; i < l.list->n; i++)
                vec_push(ctx, r.list, l.list->v[i]);
        return r;
    }
    if (op == '+' && a.kind == V_LIST && b.kind == V_LIST) {
        if ((int64_t)a.list->n + b.list->n > MAX_LIST) {
            error_at(loc, "joining lists of %d and %d elements: a list may hold at most %lld", a.list->n, b.list->n,
                     (long long)MAX_LIST);
            return v_error(e);
        }
        if (!charge(e, LIST_ELEMS((int64_t)a.list->n + b.list->n), loc))
            return v_error(e);
        Value l = v_list(ctx);
        for (int i = 0; i < a.list->n; i++)
            vec_push(ctx, l.list, a.list->v[i]);
        for (int i = 0; i < b.list->n; i++)
            vec_push(ctx, l.list, b.list->v[i]);
        return l;
    }
    /* initialiser expressions */
    if (a.kind == V_INIT || b.kind == V_INIT) {
        InitKind k = init_op(op);
        Init *x, *y;
        if (k == INIT_CONST || !init_value(e, a, loc, &x) || !init_value(e, b, loc, &y)) {
            if (k == INIT_CONST)
                error_at(loc, "'%s' cannot be used in an initialiser", token_spelling(op));
            return v_error(e);
        }
        Init *r = init_new(ctx, k, 0, 0);
        r->x = x;
        r->y = y;
        return v_init(r);
    }
    if (op == '@') {
        IrNode *x = to_tensor(e, a, loc, "the left operand of '@'");
        IrNode *y = to_tensor(e, b, loc, "the right operand of '@'");
        return x && y ? v_tensor(e, matmul_any(e->g, x, y, loc)) : v_error(e);
    }
    if (op == AND || op == OR) {
        IrNode *x = to_tensor(e, a, loc, "an operand"), *y = to_tensor(e, b, loc, "an operand");
        if (!x || !y)
            return v_error(e);
        /* on 0/1 conditions: and = x*y, or = max(x, y) */
        return v_tensor(e, b_binary(e->g, op == AND ? OP_MUL : OP_MAXIMUM, x, y, loc));
    }
    Op o = binop_op(op);
    if (o == OP_COUNT)
        die("operator %d", op);
    if ((a.kind != V_TENSOR && !is_num(a) && a.kind != V_LIST) ||
        (b.kind != V_TENSOR && !is_num(b) && b.kind != V_LIST)) {
        error_at(loc, "'%s' cannot combine %s and %s", token_spelling(op), value_desc(ctx, a), value_desc(ctx, b));
        return v_error(e);
    }
    IrNode *x = to_tensor(e, a, loc, "the left operand");
    IrNode *y = to_tensor(e, b, loc, "the right operand");
    if (!x || !y)
        return v_error(e);
    return v_tensor(e, b_binary(e->g, o, x, y, loc));
}
