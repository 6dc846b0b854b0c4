/* index.c: subscripts. `X[-1]`, `X[1:3]`, `X[:, 1]`, `X[1, 2]`, `X[::2]` on tensors, `l[i]` and `l[a:b]` on
 * lists, and the slice assignment `X[0:2, :] = 12`.
 *
 * Subscripts are compile-time integers and slices, resolved here against the tensor's static shape, as Python
 * and PyTorch read them: negative positions count from the end, slice bounds are clamped to the axis, an integer
 * index drops its axis. A tensor's subscript becomes one slice op per axis it narrows (ops/layout.c) and a
 * reshape dropping the indexed axes; a slice assignment becomes where(mask, unslice(value), X). The batch axis
 * is only ever taken whole (`X[:, 1]`): its size is known at run time only. */
#include "elab.h"

/* What a subscript takes of one axis: positions start, start + step, ... (len of them); drop: an integer index. */
typedef struct AxisSub {
    int64_t start, step, len;
    bool drop, whole;
} AxisSub;

static bool slice_bound(Elab *e, Node *n, const char *what, int64_t size, int64_t dflt, int64_t *out) {
    if (!n) {
        *out = dflt;
        return true;
    }
    int64_t v;
    if (!want_int(eval(e, n), n->loc, what, &v))
        return false;
    if (v < 0)
        v += size;
    *out = v < 0 ? 0 : v > size ? size : v; /* clamped, as Python does */
    return true;
}

/* start:stop:step over an axis of `size`: false after a located error. */
static bool resolve_slice(Elab *e, Node *n, int64_t size, AxisSub *r) {
    int64_t step = 1;
    if (n->args.n && !want_int(eval(e, n->args.v[0]), n->args.v[0]->loc, "a slice's step", &step))
        return false;
    if (step <= 0) {
        error_at(n->args.v[0]->loc, "a slice's step must be positive, got %lld (PyTorch has no negative steps)",
                 (long long)step);
        return false;
    }
    int64_t start, stop;
    if (!slice_bound(e, n->a, "a slice's start", size, 0, &start) ||
        !slice_bound(e, n->b, "a slice's end", size, size, &stop))
        return false;
    *r = (AxisSub){.start = start, .step = step, .len = stop > start ? (stop - start + step - 1) / step : 0};
    r->whole = r->start == 0 && r->step == 1 && r->len == size;
    return true;
}

/* One AxisSub per axis of shape s from the subscripts of `ix` (axes past them whole); false after errors. */
static bool resolve_subs(Elab *e, Node *ix, const char *what, DType dt, const Shape *s, AxisSub *subs) {
    Ctx *ctx = e->ctx;
    NodeList *l = &ix->args;
    if (l->n > s->rank) {
        error_at(ix->loc, "too many subscripts: %s is %s, with %d ax%s, and is given %d", what, type_str(ctx, dt, s),
                 s->rank, s->rank == 1 ? "is" : "es", l->n);
        return false;
    }
    bool ok = true;
    for (int k = 0; k < s->rank; k++) {
        AxisSub *r = &subs[k];
        int64_t size = s->d[k];
        *r = (AxisSub){.start = 0, .step = 1, .len = size, .whole = true};
        if (k >= l->n)
            continue;
        Node *n = l->v[k];
        bool batch = k == 0 && s->batched;
        if (n->kind == N_SLICE) {
            if (!resolve_slice(e, n, size, r)) {
                ok = false;
                continue;
            }
            if (batch && !r->whole) {
                error_at(n->loc,
                         "axis 0 of %s is the batch dimension, whose size is known only at run time: it is taken "
                         "whole (':'); subscripts select within each example: %s[:, ...]",
                         what, what);
                ok = false;
            } else if (r->len == 0) {
                error_at(n->loc, "this slice selects no element of axis %d, of size %lld", k, (long long)size);
                ok = false;
            }
            continue;
        }
        Value v = eval(e, n);
        if (v.kind == V_ERROR) {
            ok = false;
            continue;
        }
        if (v.kind == V_TENSOR) {
            error_at(n->loc,
                     "a subscript is a compile-time integer or slice, got %s; for a data-dependent choice use "
                     "where(cond, a, b)",
                     value_desc(ctx, v));
            ok = false;
            continue;
        }
        int64_t i;
        if (!want_int(v, n->loc, "an index", &i)) {
            ok = false;
            continue;
        }
        if (batch) {
            error_at(n->loc,
                     "cannot index axis 0 of %s: it is the batch dimension, whose size is known only at run time; "
                     "subscripts select within each example: %s[:, ...]",
                     what, what);
            ok = false;
            continue;
        }
        if (i < -size || i >= size) {
            error_at(n->loc, "index %lld is out of range for axis %d of %s, of size %lld (valid: %lld..%lld)",
                     (long long)i, k, what, (long long)size, (long long)-size, (long long)(size - 1));
            ok = false;
            continue;
        }
        *r = (AxisSub){.start = i < 0 ? i + size : i, .step = 1, .len = 1, .drop = true, .whole = false};
    }
    return ok;
}

/* The shape of x's part the subscripts take, with the indexed axes kept (size 1) or dropped. */
static Shape sub_shape(const Shape *s, const AxisSub *subs, bool drop) {
    Shape r = *s;
    r.rank = 0;
    for (int k = 0; k < s->rank; k++)
        if (!(drop && subs[k].drop))
            r.d[r.rank++] = subs[k].len;
    return r;
}

static const char *subject(Elab *e, Node *n) { return n->kind == N_IDENT ? n->name : xsprintf(e->ctx, "the tensor"); }

static Value index_tensor(Elab *e, Node *n, IrNode *t) {
    AxisSub subs[MAX_RANK];
    if (!resolve_subs(e, n, subject(e, n->a), t->dtype, &t->shape, subs))
        return v_error(e);
    for (int k = 0; k < t->shape.rank && t; k++)
        if (!subs[k].whole)
            t = b_slice_step(e->g, t, k, subs[k].start, subs[k].step, subs[k].len, n->loc);
    if (t)
        t = b_reshape(e->g, t, sub_shape(&t->shape, subs, true), n->loc);
    return v_tensor(e, t);
}

static Value index_list(Elab *e, Node *n, ValueList *l) {
    Ctx *ctx = e->ctx;
    if (n->args.n != 1) {
        error_at(n->loc, "a list takes one subscript, got %d", n->args.n);
        return v_error(e);
    }
    Node *s = n->args.v[0];
    if (s->kind == N_SLICE) {
        AxisSub r;
        if (!resolve_slice(e, s, l->n, &r))
            return v_error(e);
        Value out = v_list(ctx);
        for (int64_t j = 0; j < r.len; j++)
            vec_push(ctx, out.list, l->v[r.start + j * r.step]);
        return out;
    }
    Value i = eval(e, s);
    int64_t k;
    if (!want_int(i, s->loc, "an index", &k))
        return v_error(e);
    if (k < 0)
        k += l->n;
    if (k < 0 || k >= l->n) {
        error_at(s->loc, "index %lld is out of range for a list of %d", (long long)num(i), l->n);
        return v_error(e);
    }
    return l->v[k];
}

Value eval_index(Elab *e, Node *n) {
    Value a = eval(e, n->a);
    if (a.kind == V_ERROR)
        return a;
    if (a.kind == V_LIST)
        return index_list(e, n, a.list);
    if (a.kind == V_TENSOR)
        return index_tensor(e, n, a.t);
    error_at(n->loc, "only tensors and lists take subscripts, got %s", value_desc(e->ctx, a));
    return v_error(e);
}

/* `X[subs] = v`: X becomes where(mask, placed, X), placed being v broadcast to the selected part and unsliced
 * back to X's shape, and mask the constant that is 1 on that part (unbatched: it broadcasts over the batch). */
Value assign_index(Elab *e, Node *s) {
    Ctx *ctx = e->ctx;
    Graph *g = e->g;
    Value *cur = env_find(e->env, s->name);
    if (!cur) {
        error_at(s->loc, "'%s' is not defined; a subscript assignment replaces elements of an existing tensor",
                 s->name);
        return v_error(e);
    }
    if (cur->kind == V_ERROR)
        return *cur;
    if (cur->kind != V_TENSOR || cur->t->dtype != DT_F32) {
        error_at(s->loc, "a subscript assignment needs an f32 tensor, but '%s' is %s", s->name, value_desc(ctx, *cur));
        return v_error(e);
    }
    IrNode *x = cur->t;
    Node ix = {.kind = N_INDEX, .loc = s->loc, .args = s->args};
    AxisSub subs[MAX_RANK];
    bool ok = resolve_subs(e, &ix, s->name, x->dtype, &x->shape, subs);
    Value vv = eval(e, s->a);
    IrNode *v = to_tensor(e, vv, s->a->loc, "the assigned value");
    if (!ok || !v)
        return v_error(e);
    Shape part = sub_shape(&x->shape, subs, true), keep = sub_shape(&x->shape, subs, false), b;
    if (v->dtype != DT_F32 || !shape_broadcast(&v->shape, &part, &b) || !shape_eq(&b, &part)) {
        error_at(s->a->loc, "the assigned value, %s, does not broadcast to %s[...], which is %s",
                 type_str(ctx, v->dtype, &v->shape), s->name, type_str(ctx, DT_F32, &part));
        return v_error(e);
    }
    IrNode *placed = b_reshape(g, b_expand(g, v, part, s->a->loc), keep, s->loc);
    /* the mask is built over one example: axis 0 of a batched X is whole, and a 1 there broadcasts */
    Shape mshape = keep;
    if (mshape.batched)
        mshape.d[0] = 1, mshape.batched = false;
    double *ones = xalloc(ctx, sizeof(double) * (size_t)shape_numel(&mshape));
    for (int64_t i = 0; i < shape_numel(&mshape); i++)
        ones[i] = 1;
    IrNode *mask = ir_const_data(g, mshape, ones, s->loc);
    Shape full = keep, mfull = mshape;
    for (int k = x->shape.rank - 1; k >= 0 && placed && mask; k--) {
        if (subs[k].whole)
            continue;
        full.d[k] = mfull.d[k] = x->shape.d[k];
        placed = b_unslice(g, placed, full, k, subs[k].start, subs[k].step, s->loc);
        mask = b_unslice(g, mask, mfull, k, subs[k].start, subs[k].step, s->loc);
    }
    if (!placed || !mask)
        return v_error(e);
    IrNode *in[3] = {mask, placed, x};
    return v_tensor(e, b_elem(g, OP_WHERE, 3, in, s->loc));
}
