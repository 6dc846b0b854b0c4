/* layers.c: parameters and the built-in layers.
 *
 * A layer is applied to an input tensor; on its first application it creates its parameters under its full name
 * ("features.0.weight"), shaped from the input, and later applications of the same instance reuse them (tied
 * weights). make_param creates every parameter of the model, those of `param` statements included, and keeps
 * them hashed by name. Each layer's arguments are checked here, then its graph is built through the op table's
 * builders. */
#include <math.h>

#include "elab.h"

/* ---- parameters ---- */

static int64_t fan(const Shape *s, bool in) {
    if (s->rank < 2)
        return s->rank == 1 ? s->d[0] : 1;
    int64_t rf = 1;
    for (int i = 2; i < s->rank; i++)
        rf *= s->d[i];
    return (in ? s->d[1] : s->d[0]) * rf;
}

/* Parameters by name, hashed: a model with many layers would otherwise take time quadratic in their number. */
static int *param_slot(Elab *e, const char *name) {
    int mask = e->param_table_cap - 1;
    for (int i = (int)(name_hash(name) & (uint64_t)mask);; i = (i + 1) & mask) {
        int k = e->param_table[i];
        if (k == 0 || strcmp(e->g->params.v[k - 1].name, name) == 0)
            return &e->param_table[i];
    }
}

static int find_param(Elab *e, const char *name) { return e->param_table_cap ? *param_slot(e, name) - 1 : -1; }

/* Records parameter number k (just pushed) in the table. */
static void index_param(Elab *e, int k) {
    if (2 * (k + 1) > e->param_table_cap) {
        e->param_table_cap = e->param_table_cap ? 2 * e->param_table_cap : 64;
        e->param_table = xalloc(e->ctx, sizeof(int) * (size_t)e->param_table_cap);
        for (int i = 0; i < k; i++)
            *param_slot(e, e->g->params.v[i].name) = i + 1;
    }
    *param_slot(e, e->g->params.v[k].name) = k + 1;
}

/* Creates (or, in a re-applied block instance, finds) parameter `local` of the current scope. */
IrNode *make_param(Elab *e, const char *local, Shape shape, bool trainable, Init *init, Loc loc) {
    char *name = xsprintf(e->ctx, "%s%s", e->scope->prefix, local);
    int k = find_param(e, name);
    if (k >= 0) {
        Param *p = &e->g->params.v[k];
        if (e->scope->reuse && shape_eq(&p->shape, &shape))
            return p->node;
        error_at(loc, "a parameter named '%s' already exists", name);
        note_at(p->loc, "'%s' was created here", name);
        return NULL;
    }
    for (int i = 0; i < shape.rank; i++)
        if (shape.d[i] <= 0) {
            error_at(loc, "parameter '%s' has a non-positive dimension in %s", name, shape_str(e->ctx, &shape));
            return NULL;
        }
    if (!shape_check_size(&shape, DT_F32, loc, xsprintf(e->ctx, "parameter '%s'", name)))
        return NULL;
    Param p = {0};
    p.name = name;
    p.shape = shape;
    p.trainable = trainable;
    p.fan_in = fan(&shape, true);
    p.fan_out = fan(&shape, false);
    p.loc = loc;
    if (init)
        vec_push(e->ctx, &p.inits, init);
    vec_push(e->ctx, &e->g->params, p);
    int idx = e->g->params.n - 1;
    index_param(e, idx);
    IrNode *n = ir_leaf(e->g, trainable ? OP_PARAM : OP_STATE, DT_F32, shape, idx, loc);
    e->g->params.v[idx].node = n;
    return n;
}

/* PyTorch's default for linear and conv layers: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias. */
static Init *default_init(Ctx *ctx, int64_t fan_in) {
    double b = 1.0 / sqrt((double)fan_in);
    return init_new(ctx, INIT_UNIFORM, -b, b);
}

/* The layer's own `weight_init=` / `bias_init=` argument, if given. */
static Init *layer_init(Elab *e, Layer *l, const char *key, Init *dflt) {
    Value v;
    Loc loc;
    Init *i;
    if (arg_get(&l->args, key, -1, &v, &loc) && init_value(e, v, loc, &i))
        return i;
    return dflt;
}

/* ---- layer application ---- */

static IrNode *layer_param(Elab *e, Layer *l, int which, const char *local, Shape shape, Init *init, Loc loc) {
    if (l->applied > 0) {
        Param *p = &e->g->params.v[l->param_first + which];
        if (!shape_eq(&p->shape, &shape)) {
            error_at(loc, "layer '%s' is applied again to an input that needs %s %s, but it has %s", l->name, local,
                     shape_str(e->ctx, &shape), shape_str(e->ctx, &p->shape));
            note_at(l->loc, "the layer was created here");
            return NULL;
        }
        return p->node;
    }
    Scope tmp = {.prefix = xsprintf(e->ctx, "%s.", l->name)};
    Scope *old = e->scope;
    e->scope = &tmp;
    IrNode *n = make_param(e, local, shape, true, init, loc);
    e->scope = old;
    if (n && which == 0)
        l->param_first = n->index;
    if (n)
        l->param_count++;
    return n;
}

Value apply_layer(Elab *e, Layer *l, Value input, Loc loc) {
    Ctx *ctx = e->ctx;
    if (input.kind == V_ERROR)
        return input;
    if (!charge(e, CALL_COST, loc))
        return v_error(e);
    if (l->func < 0)
        return apply_block(e, l, input, loc);
    const char *name = func_name(l->func);
    Args *a = &l->args;
    a->fname = name;
    IrNode *x = to_tensor(e, input, loc, xsprintf(ctx, "the input of %s", name));
    if (!x)
        return v_error(e);
    if (x->dtype != DT_F32) {
        error_at(loc, "%s expects an f32 tensor, got %s", name, type_str(ctx, x->dtype, &x->shape));
        return v_error(e);
    }
    Graph *g = e->g;
    IrNode *y = NULL;
    switch ((Builtin)l->func) {
    case B_LINEAR: {
        static const char *const keys[] = {"out", "bias", "weight_init", "bias_init", NULL};
        if (!args_check(a, 1, keys))
            return v_error(e);
        Value vo;
        Loc lo = a->loc;
        int64_t out;
        if (!arg_get(a, "out", 0, &vo, &lo)) {
            error_at(a->loc, "linear needs the number of output features: linear(256)");
            return v_error(e);
        }
        if (!want_int(vo, lo, "linear's output size", &out))
            return v_error(e);
        if (out < 1 || out > MAX_NUMEL) {
            error_at(lo, "linear's output size must be in 1..%lld, got %lld", (long long)MAX_NUMEL, (long long)out);
            return v_error(e);
        }
        if (x->shape.rank != 2 && !(x->shape.rank == 1 && !x->shape.batched)) {
            error_at(loc, "linear expects [batch, features], got %s; flatten it first",
                     type_str(ctx, x->dtype, &x->shape));
            return v_error(e);
        }
        bool was_vec = x->shape.rank == 1;
        if (was_vec) {
            int64_t d[2] = {1, x->shape.d[0]};
            x = b_reshape(g, x, shape_make(2, d, false), loc);
        }
        int64_t in = x->shape.d[1];
        int64_t wd[2] = {out, in};
        IrNode *w = layer_param(e, l, 0, "weight", shape_make(2, wd, false),
                                layer_init(e, l, "weight_init", default_init(ctx, in)), loc);
        if (!w)
            return v_error(e);
        y = b_matmul(g, x, w, false, true, loc);
        if (y && bool_arg(a, "bias", true)) {
            IrNode *b = layer_param(e, l, 1, "bias", shape_make(1, &out, false),
                                    layer_init(e, l, "bias_init", default_init(ctx, in)), loc);
            y = b ? b_binary(g, OP_ADD, y, b, loc) : NULL;
        }
        if (y && was_vec)
            y = b_reshape(g, y, shape_make(1, &out, false), loc);
        break;
    }
    case B_CONV2D: {
        static const char *const keys[] = {"out",  "kernel",      "padding",   "stride",
                                           "bias", "weight_init", "bias_init", NULL};
        if (!args_check(a, 2, keys))
            return v_error(e);
        Value v;
        Loc vl = a->loc;
        int64_t out, k[2], pad[2] = {0, 0}, stride[2] = {1, 1};
        if (!arg_get(a, "out", 0, &v, &vl)) {
            error_at(a->loc, "conv2d needs the number of output channels: conv2d(6, kernel=5)");
            return v_error(e);
        }
        if (!want_int(v, vl, "conv2d's output channels", &out))
            return v_error(e);
        if (out < 1 || out > MAX_NUMEL) {
            error_at(vl, "conv2d's output channels must be in 1..%lld, got %lld", (long long)MAX_NUMEL, (long long)out);
            return v_error(e);
        }
        if (!arg_get(a, "kernel", 1, &v, &vl)) {
            error_at(a->loc, "conv2d needs a kernel size: conv2d(%lld, kernel=3)", (long long)out);
            return v_error(e);
        }
        if (!want_pair(v, vl, "kernel", k))
            return v_error(e);
        if (k[0] < 1 || k[1] < 1 || k[0] > MAX_NUMEL || k[1] > MAX_NUMEL) {
            error_at(vl, "conv2d's kernel size must be at least 1, got (%lld, %lld)", (long long)k[0], (long long)k[1]);
            return v_error(e);
        }
        if (arg_get(a, "padding", -1, &v, &vl)) {
            if (!want_pair(v, vl, "padding", pad))
                return v_error(e);
            if (pad[0] < 0 || pad[1] < 0 || pad[0] > MAX_NUMEL || pad[1] > MAX_NUMEL) {
                error_at(vl, "conv2d's padding must be in 0..%lld, got (%lld, %lld)", (long long)MAX_NUMEL,
                         (long long)pad[0], (long long)pad[1]);
                return v_error(e);
            }
        }
        if (arg_get(a, "stride", -1, &v, &vl)) {
            if (!want_pair(v, vl, "stride", stride))
                return v_error(e);
            if (stride[0] < 1 || stride[1] < 1 || stride[0] > MAX_NUMEL || stride[1] > MAX_NUMEL) {
                error_at(vl, "conv2d's stride must be in 1..%lld, got (%lld, %lld)", (long long)MAX_NUMEL,
                         (long long)stride[0], (long long)stride[1]);
                return v_error(e);
            }
        }
        if (x->shape.rank != 4) {
            error_at(loc, "conv2d expects [N, C, H, W], got %s", type_str(ctx, x->dtype, &x->shape));
            return v_error(e);
        }
        /* the geometry is checked before the weight is made: a kernel that does not fit is the error to report,
         * not the size of its weight */
        if (k[0] > x->shape.d[2] + 2 * pad[0] || k[1] > x->shape.d[3] + 2 * pad[1]) {
            error_at(loc,
                     "conv2d: a %lldx%lld kernel with padding (%lld, %lld) and stride (%lld, %lld) does not fit "
                     "input %s",
                     (long long)k[0], (long long)k[1], (long long)pad[0], (long long)pad[1], (long long)stride[0],
                     (long long)stride[1], shape_str(ctx, &x->shape));
            return v_error(e);
        }
        int64_t wd[4] = {out, x->shape.d[1], k[0], k[1]};
        int64_t fan_in = shape_numel(&(Shape){.rank = 3, .d = {x->shape.d[1], k[0], k[1]}});
        IrNode *w = layer_param(e, l, 0, "weight", shape_make(4, wd, false),
                                layer_init(e, l, "weight_init", default_init(ctx, fan_in)), loc);
        if (!w)
            return v_error(e);
        y = b_conv2d(g, x, w, stride, pad, loc);
        if (y && bool_arg(a, "bias", true)) {
            IrNode *b = layer_param(e, l, 1, "bias", shape_make(1, &out, false),
                                    layer_init(e, l, "bias_init", default_init(ctx, fan_in)), loc);
            int64_t bd[3] = {out, 1, 1};
            IrNode *b3 = b ? b_reshape(g, b, shape_make(3, bd, false), loc) : NULL;
            y = b3 ? b_binary(g, OP_ADD, y, b3, loc) : NULL;
        }
        break;
    }
    case B_MAX_POOL:
    case B_AVG_POOL: {
        static const char *const keys[] = {"window", "stride", "padding", NULL};
        if (!args_check(a, 1, keys))
            return v_error(e);
        Value v;
        Loc vl = a->loc;
        int64_t win[2], pad[2] = {0, 0}, stride[2];
        if (!arg_get(a, "window", 0, &v, &vl)) {
            error_at(a->loc, "%s needs a window size: %s(2)", name, name);
            return v_error(e);
        }
        if (!want_pair(v, vl, "window", win))
            return v_error(e);
        stride[0] = win[0], stride[1] = win[1];
        if (arg_get(a, "stride", -1, &v, &vl) && !want_pair(v, vl, "stride", stride))
            return v_error(e);
        if (arg_get(a, "padding", -1, &v, &vl) && !want_pair(v, vl, "padding", pad))
            return v_error(e);
        y = b_pool(g, l->func == B_MAX_POOL ? OP_MAXPOOL : OP_AVGPOOL, x, win, stride, pad, loc);
        break;
    }
    case B_DROPOUT: {
        static const char *const keys[] = {"p", NULL};
        if (!args_check(a, 1, keys))
            return v_error(e);
        Value v;
        Loc vl = a->loc;
        double p;
        if (!arg_get(a, "p", 0, &v, &vl)) {
            error_at(a->loc, "dropout needs a probability: dropout(0.5)");
            return v_error(e);
        }
        if (!want_num(v, vl, "dropout's probability", &p))
            return v_error(e);
        if (!(p >= 0 && p < 1)) {
            error_at(vl, "dropout probability must be in [0, 1), got %g", p);
            return v_error(e);
        }
        int salt = e->dropout_salt++;
        if (!e->training || p == 0)
            y = x;
        else
            y = b_binary(g, OP_MUL, x, b_dropmask(g, x->shape, p, salt + 1, loc), loc);
        break;
    }
    case B_FLATTEN: {
        if (!args_check(a, 0, NULL))
            return v_error(e);
        Shape s = {0};
        if (x->shape.batched || x->shape.rank > 1) {
            int64_t d[2] = {x->shape.d[0], shape_numel(&x->shape) / (x->shape.rank ? x->shape.d[0] : 1)};
            s = shape_make(2, d, x->shape.batched);
        } else {
            int64_t d = shape_numel(&x->shape);
            s = shape_make(1, &d, false);
        }
        y = b_reshape(g, x, s, loc);
        break;
    }
    case B_RELU:
    case B_SIGMOID:
    case B_TANH:
        if (!args_check(a, 0, NULL))
            return v_error(e);
        y = b_unary(g, l->func == B_RELU ? OP_RELU : l->func == B_SIGMOID ? OP_SIGMOID : OP_TANH, x, loc);
        break;
    case B_SOFTMAX: {
        static const char *const keys[] = {"axis", NULL};
        if (!args_check(a, 1, keys))
            return v_error(e);
        Value v;
        Loc vl;
        int64_t axis = -1;
        if (arg_get(a, "axis", 0, &v, &vl) && !want_int(v, vl, "axis", &axis))
            return v_error(e);
        if (axis != -1 && axis != x->shape.rank - 1) {
            error_at(vl, "softmax is over the last axis only (axis=-1), got axis=%lld", (long long)axis);
            return v_error(e);
        }
        y = b_softmax(g, OP_SOFTMAX, x, loc);
        break;
    }
    default:
        unreachable();
    }
    l->applied++;
    if (y) {
        LayerTrace tr = {.name = l->name, .kind = name, .dtype = y->dtype, .shape = y->shape, .loc = loc};
        vec_push(ctx, &g->layers, tr);
    }
    return v_tensor(e, y);
}
