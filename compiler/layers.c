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

/* ---- layer application ---- */

static IrNode *layer_tensor(Elab *e, Layer *l, int which, const char *local, Shape shape, Init *init, bool state,
                            Loc loc) {
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
    IrNode *n = make_param(e, local, shape, !state, init, loc);
    e->scope = old;
    if (n)
        e->g->params.v[n->index].state = state;
    if (n && which == 0)
        l->param_first = n->index;
    if (n)
        l->param_count++;
    return n;
}

/* Parameter number `which` of layer l (the layer's first application creates it), or a state of it. */
static IrNode *layer_param(Elab *e, Layer *l, int which, const char *local, Shape shape, Init *init, Loc loc) {
    return layer_tensor(e, l, which, local, shape, init, false, loc);
}

static IrNode *layer_state(Elab *e, Layer *l, int which, const char *local, Shape shape, Init *init, Loc loc) {
    return layer_tensor(e, l, which, local, shape, init, true, loc);
}

Value apply_layer(Elab *e, Layer *l, Value input, Loc loc) {
    if (input.kind == V_ERROR)
        return input;
    if (!charge(e, CALL_COST, loc))
        return v_error(e);
    if (!l->fn)
        return apply_block(e, l, input, loc);
    const char *name = l->fn->name;
    l->args.fname = name;
    IrNode *x = to_tensor(e, input, loc, xsprintf(e->ctx, "the input of %s", name));
    if (!x)
        return v_error(e);
    if (x->dtype != DT_F32) {
        error_at(loc, "%s expects an f32 tensor, got %s", name, type_str(e->ctx, x->dtype, &x->shape));
        return v_error(e);
    }
    Call c = {.e = e, .fn = l->fn, .args = &l->args, .loc = loc, .layer = l, .x = x};
    return builtin_run(&c);
}

/* A layer handler's result y (NULL after an error): the layer has been applied (its parameters, if any, exist),
 * and the application is recorded for `dlc check`. A handler that rejects its arguments returns before this. */
static Value layer_done(Call *c, IrNode *y) {
    Ctx *ctx = c->e->ctx;
    Layer *l = c->layer;
    l->applied++;
    if (y) {
        LayerTrace tr = {.name = l->name, .kind = c->fn->name, .dtype = y->dtype, .shape = y->shape, .loc = c->loc};
        vec_push(ctx, &c->e->g->layers, tr);
    }
    return v_tensor(c->e, y);
}

/* ---- the layers ---- */

static const BuiltinParam linear_params[] = {
    {"out", AK_INT, .flags = PF_POS | PF_KEY, .what = "linear's output size",
     .missing = "linear needs the number of output features: linear(256)"},
    {"bias", AK_BOOL, .flags = PF_KEY | PF_OPT, .dflt = 1},
    {"weight_init", AK_INIT, .flags = PF_KEY | PF_OPT},
    {"bias_init", AK_INIT, .flags = PF_KEY | PF_OPT},
    {0},
};

static Value layer_linear(Call *c) {
    Elab *e = c->e;
    Layer *l = c->layer;
    IrNode *x = c->x;
    Loc loc = c->loc;
    int64_t out;
    if (!arg_int(c, "out", &out))
        return v_error(e);
    if (out < 1 || out > MAX_NUMEL) {
        error_at(arg_loc(c, "out"), "linear's output size must be in 1..%lld, got %lld", (long long)MAX_NUMEL,
                 (long long)out);
        return v_error(e);
    }
    if (x->shape.rank != 2 && !(x->shape.rank == 1 && !x->shape.batched)) {
        error_at(loc, "linear expects [batch, features], got %s; flatten it first",
                 type_str(e->ctx, x->dtype, &x->shape));
        return v_error(e);
    }
    bool was_vec = x->shape.rank == 1;
    if (was_vec) {
        int64_t d[2] = {1, x->shape.d[0]};
        x = b_reshape(e->g, x, shape_make(2, d, false), loc);
    }
    int64_t in = x->shape.d[1];
    int64_t wd[2] = {out, in};
    IrNode *w = layer_param(e, l, 0, "weight", shape_make(2, wd, false),
                            arg_init(c, "weight_init", default_init(e->ctx, in)), loc);
    if (!w)
        return v_error(e);
    IrNode *y = b_matmul(e->g, x, w, false, true, loc);
    if (y && arg_bool(c, "bias")) {
        IrNode *b = layer_param(e, l, 1, "bias", shape_make(1, &out, false),
                                arg_init(c, "bias_init", default_init(e->ctx, in)), loc);
        y = b ? b_binary(e->g, OP_ADD, y, b, loc) : NULL;
    }
    if (y && was_vec)
        y = b_reshape(e->g, y, shape_make(1, &out, false), loc);
    return layer_done(c, y);
}

static const BuiltinParam conv2d_params[] = {
    {"out", AK_INT, .flags = PF_POS | PF_KEY, .what = "conv2d's output channels",
     .missing = "conv2d needs the number of output channels: conv2d(6, kernel=5)"},
    {"kernel", AK_PAIR, .flags = PF_POS | PF_KEY | PF_OPT}, /* required: the handler's message names `out` */
    {"padding", AK_PAIR, .flags = PF_KEY | PF_OPT, .dflt = 0},
    {"stride", AK_PAIR, .flags = PF_KEY | PF_OPT, .dflt = 1},
    {"bias", AK_BOOL, .flags = PF_KEY | PF_OPT, .dflt = 1},
    {"weight_init", AK_INIT, .flags = PF_KEY | PF_OPT},
    {"bias_init", AK_INIT, .flags = PF_KEY | PF_OPT},
    {0},
};

/* conv2d's sizes: out channels, kernel, padding and stride, each checked in that order. */
static bool conv2d_sizes(Call *c, int64_t *out, int64_t k[2], int64_t pad[2], int64_t stride[2]) {
    if (!arg_int(c, "out", out))
        return false;
    if (*out < 1 || *out > MAX_NUMEL) {
        error_at(arg_loc(c, "out"), "conv2d's output channels must be in 1..%lld, got %lld", (long long)MAX_NUMEL,
                 (long long)*out);
        return false;
    }
    if (!arg_has(c, "kernel")) {
        error_at(c->args->loc, "conv2d needs a kernel size: conv2d(%lld, kernel=3)", (long long)*out);
        return false;
    }
    if (!arg_pair(c, "kernel", k))
        return false;
    if (k[0] < 1 || k[1] < 1 || k[0] > MAX_NUMEL || k[1] > MAX_NUMEL) {
        error_at(arg_loc(c, "kernel"), "conv2d's kernel size must be at least 1, got (%lld, %lld)", (long long)k[0],
                 (long long)k[1]);
        return false;
    }
    if (!arg_pair(c, "padding", pad))
        return false;
    if (pad[0] < 0 || pad[1] < 0 || pad[0] > MAX_NUMEL || pad[1] > MAX_NUMEL) {
        error_at(arg_loc(c, "padding"), "conv2d's padding must be in 0..%lld, got (%lld, %lld)", (long long)MAX_NUMEL,
                 (long long)pad[0], (long long)pad[1]);
        return false;
    }
    if (!arg_pair(c, "stride", stride))
        return false;
    if (stride[0] < 1 || stride[1] < 1 || stride[0] > MAX_NUMEL || stride[1] > MAX_NUMEL) {
        error_at(arg_loc(c, "stride"), "conv2d's stride must be in 1..%lld, got (%lld, %lld)", (long long)MAX_NUMEL,
                 (long long)stride[0], (long long)stride[1]);
        return false;
    }
    return true;
}

static Value layer_conv2d(Call *c) {
    Elab *e = c->e;
    Layer *l = c->layer;
    IrNode *x = c->x;
    Loc loc = c->loc;
    int64_t out, k[2], pad[2], stride[2];
    if (!conv2d_sizes(c, &out, k, pad, stride))
        return v_error(e);
    if (x->shape.rank != 4) {
        error_at(loc, "conv2d expects [N, C, H, W], got %s", type_str(e->ctx, x->dtype, &x->shape));
        return v_error(e);
    }
    /* the geometry is checked before the weight is made: a kernel that does not fit is the error to report,
     * not the size of its weight */
    if (k[0] > x->shape.d[2] + 2 * pad[0] || k[1] > x->shape.d[3] + 2 * pad[1]) {
        error_at(loc,
                 "conv2d: a %lldx%lld kernel with padding (%lld, %lld) and stride (%lld, %lld) does not fit "
                 "input %s",
                 (long long)k[0], (long long)k[1], (long long)pad[0], (long long)pad[1], (long long)stride[0],
                 (long long)stride[1], shape_str(e->ctx, &x->shape));
        return v_error(e);
    }
    int64_t wd[4] = {out, x->shape.d[1], k[0], k[1]};
    int64_t fan_in = shape_numel(&(Shape){.rank = 3, .d = {x->shape.d[1], k[0], k[1]}});
    IrNode *w = layer_param(e, l, 0, "weight", shape_make(4, wd, false),
                            arg_init(c, "weight_init", default_init(e->ctx, fan_in)), loc);
    if (!w)
        return v_error(e);
    IrNode *y = b_conv2d(e->g, x, w, stride, pad, loc);
    if (y && arg_bool(c, "bias")) {
        IrNode *b = layer_param(e, l, 1, "bias", shape_make(1, &out, false),
                                arg_init(c, "bias_init", default_init(e->ctx, fan_in)), loc);
        int64_t bd[3] = {out, 1, 1};
        IrNode *b3 = b ? b_reshape(e->g, b, shape_make(3, bd, false), loc) : NULL;
        y = b3 ? b_binary(e->g, OP_ADD, y, b3, loc) : NULL;
    }
    return layer_done(c, y);
}

static const BuiltinParam pool_params[] = {
    {"window", AK_PAIR, .flags = PF_POS | PF_KEY, .missing = "%s needs a window size: %s(2)"},
    {"stride", AK_PAIR, .flags = PF_KEY | PF_OPT}, /* the window when left out */
    {"padding", AK_PAIR, .flags = PF_KEY | PF_OPT, .dflt = 0},
    {0},
};

/* max_pool and avg_pool */
static Value layer_pool(Call *c) {
    int64_t win[2], stride[2], pad[2];
    if (!arg_pair(c, "window", win))
        return v_error(c->e);
    stride[0] = win[0], stride[1] = win[1];
    if (arg_has(c, "stride") && !arg_pair(c, "stride", stride))
        return v_error(c->e);
    if (!arg_pair(c, "padding", pad))
        return v_error(c->e);
    return layer_done(c, b_pool(c->e->g, c->fn->op, c->x, win, stride, pad, c->loc));
}

static const BuiltinParam dropout_params[] = {
    {"p", AK_NUM, .flags = PF_POS | PF_KEY, .what = "dropout's probability",
     .missing = "dropout needs a probability: dropout(0.5)"},
    {0},
};

/* Active in training only: x times a mask of zeros and 1/(1-p); each dropout layer draws its own (the salt). */
static Value layer_dropout(Call *c) {
    Elab *e = c->e;
    double p;
    if (!arg_num(c, "p", &p))
        return v_error(e);
    if (!(p >= 0 && p < 1)) {
        error_at(arg_loc(c, "p"), "dropout probability must be in [0, 1), got %g", p);
        return v_error(e);
    }
    int salt = e->dropout_salt++;
    if (!e->training || p == 0)
        return layer_done(c, c->x);
    return layer_done(c, b_binary(e->g, OP_MUL, c->x, b_dropmask(e->g, c->x->shape, p, salt + 1, c->loc), c->loc));
}

static const BuiltinParam no_params[] = {{0}};

/* [batch, ...] -> [batch, features]; an unbatched tensor becomes a vector */
static Value layer_flatten(Call *c) {
    IrNode *x = c->x;
    Shape s = {0};
    if (x->shape.batched || x->shape.rank > 1) {
        int64_t d[2] = {x->shape.d[0], shape_numel(&x->shape) / (x->shape.rank ? x->shape.d[0] : 1)};
        s = shape_make(2, d, x->shape.batched);
    } else {
        int64_t d = shape_numel(&x->shape);
        s = shape_make(1, &d, false);
    }
    return layer_done(c, b_reshape(c->e->g, x, s, c->loc));
}

/* relu, sigmoid, tanh */
static Value layer_activation(Call *c) { return layer_done(c, b_unary(c->e->g, c->fn->op, c->x, c->loc)); }

static const BuiltinParam softmax_params[] = {
    {"axis", AK_INT, .flags = PF_POS | PF_KEY | PF_OPT, .dflt = -1},
    {0},
};

static Value layer_softmax(Call *c) {
    int64_t axis;
    if (!arg_int(c, "axis", &axis))
        return v_error(c->e);
    return layer_done(c, softmax_along(c->e->g, OP_SOFTMAX, c->x, axis, arg_loc(c, "axis"), c->loc));
}

static const BuiltinParam batch_norm_params[] = {
    {"momentum", AK_NUM, .flags = PF_KEY | PF_OPT, .dflt = 0.1},
    {"eps", AK_NUM, .flags = PF_KEY | PF_OPT, .dflt = 1e-5},
    {"weight_init", AK_INIT, .flags = PF_KEY | PF_OPT},
    {"bias_init", AK_INIT, .flags = PF_KEY | PF_OPT},
    {0},
};

/* x * a + b, built through the element-wise builders */
static IrNode *mul_add(Graph *g, IrNode *x, IrNode *a, IrNode *b, Loc loc) {
    return b_binary(g, OP_ADD, b_binary(g, OP_MUL, x, a, loc), b, loc);
}

/* PyTorch's nn.BatchNorm1d ([batch, C]) and nn.BatchNorm2d ([N, C, H, W]) over each channel. Training: the batch's
 * mean and biased variance (moments, one pass over x) normalise; running_mean and running_var (with the unbiased
 * variance) move by `momentum` and num_batches_tracked counts, all after the step. Inference: the running
 * statistics. Either way the output is x * scale + shift with scale = weight / sqrt(var + eps) and shift = bias -
 * mean * scale per channel, as PyTorch's CPU kernel computes it: one loop over x that fuses with the activation
 * after it, and the form that folds into a convolution or linear layer before it (fold.c). The gradient is
 * autodiff's through these ops, so it is exact. */
static Value layer_batch_norm(Call *c) {
    Elab *e = c->e;
    Graph *g = e->g;
    Layer *l = c->layer;
    IrNode *x = c->x;
    Loc loc = c->loc;
    double momentum, eps;
    if (!arg_num(c, "momentum", &momentum) || !arg_num(c, "eps", &eps))
        return v_error(e);
    if (!(momentum >= 0 && momentum <= 1)) {
        error_at(arg_loc(c, "momentum"), "batch_norm's momentum must be in [0, 1], got %g", momentum);
        return v_error(e);
    }
    if (!(eps > 0)) {
        error_at(arg_loc(c, "eps"), "batch_norm's eps must be positive, got %g", eps);
        return v_error(e);
    }
    int rank = x->shape.rank;
    if (!x->shape.batched || (rank != 2 && rank != 4)) {
        error_at(loc, "batch_norm expects [batch, C] or [batch, C, H, W], got %s",
                 type_str(e->ctx, x->dtype, &x->shape));
        return v_error(e);
    }
    int64_t ch = x->shape.d[1];
    Shape cs = shape_make(1, &ch, false);
    Init *zero = init_new(e->ctx, INIT_CONST, 0, 0), *one_init = init_new(e->ctx, INIT_CONST, 1, 0);
    IrNode *w = layer_param(e, l, 0, "weight", cs, arg_init(c, "weight_init", one_init), loc);
    IrNode *b = w ? layer_param(e, l, 1, "bias", cs, arg_init(c, "bias_init", zero), loc) : NULL;
    IrNode *rm = b ? layer_state(e, l, 2, "running_mean", cs, zero, loc) : NULL;
    IrNode *rv = rm ? layer_state(e, l, 3, "running_var", cs, one_init, loc) : NULL;
    IrNode *nbt = rv ? layer_state(e, l, 4, "num_batches_tracked", shape_make(0, NULL, false), zero, loc) : NULL;
    if (!nbt)
        return v_error(e);
    /* per-channel tensors broadcast against x as [C, 1, 1] or [C] */
    int64_t pd[3] = {ch, 1, 1};
    Shape ps = shape_make(rank == 4 ? 3 : 1, pd, false);
    IrNode *wp = b_reshape(g, w, ps, loc), *bp = b_reshape(g, b, ps, loc);
    IrNode *eps_c = ir_const_scalar(g, eps, loc), *one = ir_const_scalar(g, 1, loc);
    IrNode *mean, *var;
    if (e->training) {
        IrNode *mean_c, *var_c;
        if (e->opt->dist) {
            /* a data-parallel trainer completes sums over the batch across its ranks (sync.c), and moments' one
             * pass is not a sum: the mean, then the mean of the squared deviations from it, two sums */
            uint32_t axes = rank == 4 ? 1u | 4u | 8u : 1u;
            IrNode *m = b_mean(g, x, axes, true, loc);
            IrNode *dev = m ? b_binary(g, OP_SUB, x, m, loc) : NULL;
            IrNode *v = dev ? b_mean(g, b_binary(g, OP_MUL, dev, dev, loc), axes, true, loc) : NULL;
            if (!v)
                return v_error(e);
            mean_c = b_reshape(g, m, cs, loc);
            var_c = b_reshape(g, v, cs, loc);
        } else {
            IrNode *moments = b_moments(g, x, loc);
            if (!moments)
                return v_error(e);
            mean_c = b_reshape(g, b_slice(g, moments, 0, 0, 1, loc), cs, loc);
            var_c = b_reshape(g, b_slice(g, moments, 0, 1, 1, loc), cs, loc);
        }
        mean = b_reshape(g, mean_c, ps, loc);
        var = b_reshape(g, var_c, ps, loc);
        /* the running variance takes the unbiased variance, var * k n / (k n - 1) with k n the values per channel
         * in this batch: divcount of 1 is 1 / (k n), n the run-time batch */
        OpArgs count = {.attr = {rank == 4 ? x->shape.d[2] * x->shape.d[3] : 1, 1}};
        IrNode *inv_n = op_build(g, OP_DIVCOUNT, 1, &one, &count, loc);
        IrNode *unbiased = b_binary(g, OP_DIV, var_c, b_binary(g, OP_SUB, one, inv_n, loc), loc);
        IrNode *keep = ir_const_scalar(g, 1 - momentum, loc), *mom = ir_const_scalar(g, momentum, loc);
        IrNode *new_rm = mul_add(g, rm, keep, b_binary(g, OP_MUL, mean_c, mom, loc), loc);
        IrNode *new_rv = mul_add(g, rv, keep, b_binary(g, OP_MUL, unbiased, mom, loc), loc);
        if (!state_set(e, rm->index, new_rm, loc, loc) || !state_set(e, rv->index, new_rv, loc, loc) ||
            !state_set(e, nbt->index, b_binary(g, OP_ADD, nbt, one, loc), loc, loc))
            return v_error(e);
    } else {
        mean = b_reshape(g, rm, ps, loc);
        var = b_reshape(g, rv, ps, loc);
    }
    IrNode *scale = b_binary(g, OP_DIV, wp, b_unary(g, OP_SQRT, b_binary(g, OP_ADD, var, eps_c, loc), loc), loc);
    IrNode *shift = b_binary(g, OP_SUB, bp, b_binary(g, OP_MUL, mean, scale, loc), loc);
    return layer_done(c, mul_add(g, x, scale, shift, loc));
}

/* The per-channel tensor behind t, [C] before the reshape to [C, 1, 1] that broadcasts it against [N, C, H, W] */
static IrNode *per_channel(IrNode *t, int64_t ch) {
    IrNode *v = t->op == OP_RESHAPE ? t->in[0] : t;
    return v->shape.rank == 1 && !v->shape.batched && v->shape.d[0] == ch ? v : NULL;
}

bool layer_batch_norm_onnx(const IrNode *n, OnnxNode *out) {
    /* n = x * scale + (bias - mean * scale), scale = weight / sqrt(var + eps), as layer_batch_norm builds it for
     * inference */
    if (n->op != OP_ADD || n->in[0]->op != OP_MUL || n->in[1]->op != OP_SUB)
        return false;
    IrNode *x = n->in[0]->in[0], *scale = n->in[0]->in[1], *shift = n->in[1];
    if (scale->op != OP_DIV || shift->in[1]->op != OP_MUL || shift->in[1]->in[1] != scale)
        return false;
    IrNode *root = scale->in[1];
    int rank = x->shape.rank;
    if (!x->shape.batched || (rank != 2 && rank != 4) || !shape_eq(&x->shape, &n->shape) || root->op != OP_SQRT ||
        root->in[0]->op != OP_ADD)
        return false;
    int64_t ch = x->shape.d[1];
    IrNode *w = per_channel(scale->in[0], ch), *b = per_channel(shift->in[0], ch),
           *mean = per_channel(shift->in[1]->in[0], ch), *var = per_channel(root->in[0]->in[0], ch);
    double eps;
    if (!w || !b || !mean || !var || !ir_is_const(root->in[0]->in[1], &eps) || root->in[0]->in[1]->shape.rank)
        return false;
    *out = (OnnxNode){.op_type = "BatchNormalization", .nin = 5, .in = {x, w, b, mean, var}};
    onnx_float(out, "epsilon", eps);
    return true;
}

bool layer_bias_onnx(const IrNode *n, OnnxNode *out) {
    /* n = conv2d(x, w) + bias as [C, 1, 1], or matmul(x, w) + bias as [C] (conv2d's and linear's biases) */
    if (n->op != OP_ADD || (n->in[0]->op != OP_CONV2D && n->in[0]->op != OP_MATMUL) || !n->in[0]->shape.batched)
        return false;
    IrNode *b = per_channel(n->in[1], n->in[0]->shape.d[1]);
    if (!b || (n->in[0]->op == OP_MATMUL && b != n->in[1]) || op_onnx(n->in[0], out))
        return false;
    out->in[out->nin++] = b;
    return true;
}

static const BuiltinParam adaptive_pool_params[] = {
    {"size", AK_PAIR, .flags = PF_POS | PF_KEY | PF_OPT, .dflt = 1},
    {0},
};

/* PyTorch's nn.AdaptiveAvgPool2d(size) where the size divides the image: an average pool whose window and stride
 * are the image's extent over the size (size 1, the default, is global average pooling, D2L's NiN, GoogLeNet,
 * ResNet and DenseNet heads). The output keeps [N, C, size_h, size_w]; flatten follows as in PyTorch. */
static Value layer_adaptive_avg_pool(Call *c) {
    Elab *e = c->e;
    IrNode *x = c->x;
    int64_t size[2], pad[2] = {0, 0};
    if (!arg_pair(c, "size", size))
        return v_error(e);
    if (x->shape.rank != 4) {
        error_at(c->loc, "adaptive_avg_pool expects [N, C, H, W], got %s", type_str(e->ctx, x->dtype, &x->shape));
        return v_error(e);
    }
    int64_t win[2];
    for (int k = 0; k < 2; k++) {
        int64_t extent = x->shape.d[2 + k];
        if (size[k] < 1 || size[k] > extent || extent % size[k] != 0) {
            error_at(arg_loc(c, "size"),
                     "adaptive_avg_pool: output size (%lld, %lld) must divide the image, %lld x %lld (windows of "
                     "equal size)",
                     (long long)size[0], (long long)size[1], (long long)x->shape.d[2], (long long)x->shape.d[3]);
            return v_error(e);
        }
        win[k] = extent / size[k];
    }
    return layer_done(c, b_pool(e->g, OP_AVGPOOL, x, win, win, pad, c->loc));
}

/* The built-in layers: rows of the same table as the functions (builtins.c), whose lookup searches this one
 * first. A layer's input is not among its parameters: apply_layer converts and checks it before binding. */
const Builtin layer_builtins[] = {
    {"linear", BK_LAYER, linear_params, .fn = layer_linear,
     .extra_positional = "linear takes the output size only: the input size is inferred from the input, so "
                         "PyTorch's nn.Linear(%lld, %lld) is linear(%lld) here"},
    {"conv2d", BK_LAYER, conv2d_params, .fn = layer_conv2d},
    {"max_pool", BK_LAYER, pool_params, .fn = layer_pool, .op = OP_MAXPOOL},
    {"avg_pool", BK_LAYER, pool_params, .fn = layer_pool, .op = OP_AVGPOOL},
    {"dropout", BK_LAYER, dropout_params, .fn = layer_dropout},
    {"flatten", BK_LAYER, no_params, .fn = layer_flatten},
    {"relu", BK_LAYER, no_params, .fn = layer_activation, .op = OP_RELU},
    {"sigmoid", BK_LAYER, no_params, .fn = layer_activation, .op = OP_SIGMOID},
    {"tanh", BK_LAYER, no_params, .fn = layer_activation, .op = OP_TANH},
    {"softmax", BK_LAYER, softmax_params, .fn = layer_softmax},
    {"batch_norm", BK_LAYER, batch_norm_params, .fn = layer_batch_norm},
    {"adaptive_avg_pool", BK_LAYER, adaptive_pool_params, .fn = layer_adaptive_avg_pool},
    {0},
};
