/* train.c: the train section, from `train { ... }` to the graph's TrainSpec.
 *
 * Runs after the model: the loss, eval_loss and metrics are expressions over the model's names, evaluated by the
 * interpreter (elab.c) in the model's scope. The optimizer, the data source and the other settings are checked
 * here, each at its own location, and recorded for the emitter (emit_trainer.c writes them into the trainer). */
#include <math.h>

#include "elab.h"

Node *train_find(Node *train, const char *key) {
    for (int i = 0; train && i < train->body.n; i++) {
        Node *s = train->body.v[i];
        if (s->kind == N_ASSIGN && strcmp(s->name, key) == 0)
            return s;
    }
    return NULL;
}

static int input_arg(Elab *e, Args *a, int pos, const char *what) {
    if (pos >= a->npos) {
        error_at(a->loc, "%s needs the model input for %s as argument %d", a->fname, what, pos + 1);
        return -1;
    }
    Value v = a->v[pos].v;
    for (int i = 0; v.kind == V_TENSOR && i < e->g->inputs.n; i++)
        if (e->g->inputs.v[i].node == v.t)
            return i;
    error_at(a->v[pos].loc, "%s: argument %d must be one of the model's inputs, got %s", a->fname, pos + 1,
             value_desc(e->ctx, v));
    return -1;
}

/* The optimizer setting `key`, which must lie in [lo, hi) (or [lo, hi] when hi_ok). */
static void train_num(Elab *e, Args *a, const char *key, double *out, double lo, double hi, bool hi_ok) {
    Value v;
    Loc l;
    double x;
    (void)e;
    if (!arg_get(a, key, -1, &v, &l) || !want_num(v, l, key, &x))
        return;
    if (!(x >= lo && (x < hi || (hi_ok && x == hi)))) {
        if (hi == INFINITY)
            error_at(l, "%s must be at least %g, got %g", key, lo, x);
        else
            error_at(l, "%s must be in [%g, %g%s, got %g", key, lo, hi, hi_ok ? "]" : ")", x);
        return;
    }
    *out = x;
}

/* A glob of the optimizer that must choose some parameter when its setting is in use. */
static void train_glob(Elab *e, Args *a, const char *key, char **out, bool used) {
    Value v;
    Loc l;
    if (!arg_get(a, key, -1, &v, &l))
        return;
    if (v.kind != V_STR) {
        error_at(l, "%s must be a glob string such as \"*.weight\", got %s", key, value_desc(e->ctx, v));
        return;
    }
    *out = v.s;
    bool any = false;
    for (int i = 0; i < e->g->params.n && !any; i++)
        any = e->g->params.v[i].trainable && glob_match(v.s, e->g->params.v[i].name);
    if (used && !any) {
        error_at(l, "%s \"%s\" matches no trainable parameter", key, v.s);
        if (e->g->params.n)
            note_at(e->g->params.v[0].loc, "parameters are named like \"%s\"", e->g->params.v[0].name);
    }
}

/* Setting `key = v` of a data source as the typed value the runtime reads, of the kind its parameter p says;
 * false after a located error. */
static bool data_setting(Ctx *ctx, const BuiltinParam *p, Value v, Loc loc, DataValue *out) {
    const char *key = p->name;
    bool ok;
    switch (p->kind) {
    case AK_STR:
        if (v.kind != V_STR)
            error_at(loc, "%s must be a string (a file name or a column), got %s", key, value_desc(ctx, v));
        *out = (DataValue){.kind = DV_STR, .str = v.s};
        return v.kind == V_STR;
    case AK_STRS:
    case AK_NUMS:
        ok = v.kind == V_LIST && (p->kind == AK_STRS || v.list->n > 0);
        for (int i = 0; ok && i < v.list->n; i++)
            ok = p->kind == AK_STRS ? v.list->v[i].kind == V_STR : is_num(v.list->v[i]);
        if (!ok) {
            error_at(loc,
                     p->kind == AK_STRS ? "%s must be a list of column names such as [\"Id\"], got %s"
                                        : "%s must be a non-empty list of numbers, got %s",
                     key, value_desc(ctx, v));
            return false;
        }
        *out = (DataValue){.kind = DV_LIST, .nitems = v.list->n};
        DataValue *items = xalloc(ctx, sizeof(DataValue) * (size_t)(v.list->n + 1));
        for (int i = 0; i < v.list->n; i++) {
            Value el = v.list->v[i];
            items[i] = el.kind == V_STR ? (DataValue){.kind = DV_STR, .str = el.s}
                                        : (DataValue){.kind = DV_NUM, .num = num(el)};
        }
        out->items = items;
        return true;
    case AK_COUNT: {
        int64_t n;
        if (!want_int(v, loc, key, &n))
            return false;
        if (n < 1 || n > (1 << 30)) {
            error_at(loc, "%s must be in 1..%d, got %lld", key, 1 << 30, (long long)n);
            return false;
        }
        *out = (DataValue){.kind = DV_NUM, .num = num(v)};
        return true;
    }
    case AK_NUM: {
        double x;
        if (!want_num(v, loc, key, &x))
            return false;
        if (strcmp(key, "noise") == 0 && !(x >= 0 && x < INFINITY)) {
            error_at(loc, "noise must be at least 0, got %g", x);
            return false;
        }
        *out = (DataValue){.kind = DV_NUM, .num = x};
        return true;
    }
    default:
        unreachable();
    }
}

const DataValue *train_data_setting(const TrainSpec *t, const char *key) {
    for (int i = 0; i < t->data_settings.n; i++)
        if (strcmp(t->data_settings.v[i].key, key) == 0)
            return &t->data_settings.v[i].value;
    return NULL;
}

/* The data sources' parameters: the model inputs they feed, by position, then their settings, by name. */
static const BuiltinParam fashion_mnist_params[] = {
    {"x", AK_TENSOR, .flags = PF_POS},
    {"y", AK_TENSOR, .flags = PF_POS},
    {"resize", AK_INT, .flags = PF_KEY | PF_OPT, .dflt = 28},
    {0},
};

static const BuiltinParam synthetic_linear_params[] = {
    {"x", AK_TENSOR, .flags = PF_POS},
    {"y", AK_TENSOR, .flags = PF_POS},
    {"w", AK_NUMS, .flags = PF_KEY | PF_OPT},
    {"b", AK_NUM, .flags = PF_KEY | PF_OPT},
    {"noise", AK_NUM, .flags = PF_KEY | PF_OPT},
    {"n", AK_COUNT, .flags = PF_KEY | PF_OPT},
    {0},
};

static const BuiltinParam polynomial_params[] = {
    {"x", AK_TENSOR, .flags = PF_POS},
    {"y", AK_TENSOR, .flags = PF_POS},
    {"degree", AK_COUNT, .flags = PF_KEY | PF_OPT},
    {"n_train", AK_COUNT, .flags = PF_KEY | PF_OPT},
    {"n_test", AK_COUNT, .flags = PF_KEY | PF_OPT},
    {"noise", AK_NUM, .flags = PF_KEY | PF_OPT},
    {"coeffs", AK_NUMS, .flags = PF_KEY | PF_OPT},
    {0},
};

static const BuiltinParam high_dim_params[] = {
    {"x", AK_TENSOR, .flags = PF_POS},
    {"y", AK_TENSOR, .flags = PF_POS},
    {"n_train", AK_COUNT, .flags = PF_KEY | PF_OPT},
    {"n_test", AK_COUNT, .flags = PF_KEY | PF_OPT},
    {"noise", AK_NUM, .flags = PF_KEY | PF_OPT},
    {0},
};

static const BuiltinParam csv_params[] = {
    {"x", AK_TENSOR, .flags = PF_POS},
    {"y", AK_TENSOR, .flags = PF_POS},
    {"train", AK_STR, .flags = PF_KEY | PF_OPT},
    {"test", AK_STR, .flags = PF_KEY | PF_OPT},
    {"target", AK_STR, .flags = PF_KEY | PF_OPT},
    {"drop", AK_STRS, .flags = PF_KEY | PF_OPT},
    {0},
};

static const BuiltinParam tensors_params[] = {
    {"x", AK_TENSOR, .flags = PF_POS}, {"y", AK_TENSOR, .flags = PF_POS},
    {"X", AK_TENSOR, .flags = PF_POS}, /* the examples of x: [n, ...] */
    {"Y", AK_TENSOR, .flags = PF_POS}, {0},
};

static void elab_data(Elab *e, Node *s) {
    Ctx *ctx = e->ctx;
    TrainSpec *t = &e->g->train;
    if (s->a->kind != N_CALL || s->a->a->kind != N_IDENT) {
        error_at(s->a->loc, "data must be a call such as fashion_mnist(x, y)");
        return;
    }
    const char *name = s->a->a->name;
    static const struct {
        const char *name;
        DataKind kind;
        const BuiltinParam *params;
    } kinds[] = {
        {"fashion_mnist", DATA_FASHION_MNIST, fashion_mnist_params},
        {"synthetic_linear", DATA_SYNTH_LINEAR, synthetic_linear_params},
        {"polynomial", DATA_POLYNOMIAL, polynomial_params},
        {"high_dim", DATA_HIGH_DIM, high_dim_params},
        {"csv", DATA_CSV, csv_params},
        {"tensors", DATA_TENSORS, tensors_params},
    };
    int k = -1;
    for (int i = 0; i < (int)(sizeof kinds / sizeof kinds[0]); i++)
        if (strcmp(kinds[i].name, name) == 0)
            k = i;
    if (k < 0) {
        error_at(
            s->a->a->loc,
            "unknown data source '%s'; expected fashion_mnist, synthetic_linear, polynomial, high_dim, csv or tensors",
            name);
        return;
    }
    Args a;
    args_eval(e, s->a, NULL, s->a->loc, &a);
    a.fname = name;
    if (args_have_error(&a))
        return;
    if (!args_check(&a, kinds[k].params))
        return;
    t->data = kinds[k].kind;
    t->data_x = input_arg(e, &a, 0, "features");
    t->data_y = input_arg(e, &a, 1, "labels or targets");
    if (t->data_x < 0 || t->data_y < 0)
        return;
    Input *x = &e->g->inputs.v[t->data_x], *y = &e->g->inputs.v[t->data_y];
    for (int i = a.npos; i < a.n; i++) {
        DataSetting ds = {.key = a.v[i].key};
        const BuiltinParam *p = kinds[k].params;
        while (strcmp(p->name, ds.key) != 0) /* there is one: args_check has checked the keywords */
            p++;
        if (strcmp(ds.key, "resize") != 0 && data_setting(ctx, p, a.v[i].v, a.v[i].loc, &ds.value))
            vec_push(ctx, &t->data_settings, ds);
    }
    if (t->data == DATA_FASHION_MNIST) {
        int64_t resize = 28;
        Value rv;
        Loc rl;
        if (arg_get(&a, "resize", -1, &rv, &rl) && want_int(rv, rl, "resize", &resize) &&
            (resize < 1 || resize > 4096)) {
            error_at(rl, "resize must be an image size in 1..4096, got %lld", (long long)resize);
            resize = 28;
        }
        t->resize = resize;
        int64_t want[3] = {1, t->resize, t->resize};
        bool ok = x->dtype == DT_F32 && x->shape.batched &&
                  ((x->shape.rank == 4 && x->shape.d[1] == 1 && x->shape.d[2] == want[1] && x->shape.d[3] == want[2]) ||
                   (x->shape.rank == 2 && x->shape.d[1] == want[1] * want[2]));
        if (!ok) {
            error_at(a.v[0].loc, "fashion_mnist gives images f32[batch, 1, %lld, %lld], but '%s' is %s",
                     (long long)t->resize, (long long)t->resize, x->name, type_str(ctx, x->dtype, &x->shape));
            note_at(x->loc, "'%s' is declared here", x->name);
        }
        if (y->dtype != DT_I32 || y->shape.rank != 1 || !y->shape.batched) {
            error_at(a.v[1].loc, "fashion_mnist gives labels i32[batch], but '%s' is %s", y->name,
                     type_str(ctx, y->dtype, &y->shape));
            note_at(y->loc, "'%s' is declared here", y->name);
        }
    } else if (t->data == DATA_TENSORS) {
        IrNode *xs = a.npos > 2 ? to_tensor(e, a.v[2].v, a.v[2].loc, "the feature data") : NULL;
        IrNode *ys = a.npos > 3 ? to_tensor(e, a.v[3].v, a.v[3].loc, "the target data") : NULL;
        if (!xs || !ys) {
            if (a.npos <= 3)
                error_at(a.loc, "tensors(x, y, X, Y) needs the data X and Y");
            return;
        }
        if (xs->op != OP_CONST || ys->op != OP_CONST) {
            error_at(a.loc, "tensors(...) data must be compile-time constants, got %s and %s",
                     xs->op == OP_CONST ? "a constant" : type_str(ctx, xs->dtype, &xs->shape),
                     ys->op == OP_CONST ? "a constant" : type_str(ctx, ys->dtype, &ys->shape));
            return;
        }
        /* the data are [n, ...] with the inputs' per-example dimensions, n examples of each */
        bool fits = x->shape.batched && y->shape.batched && xs->shape.rank == x->shape.rank &&
                    ys->shape.rank == y->shape.rank && xs->shape.d[0] == ys->shape.d[0];
        for (int i = 1; fits && i < x->shape.rank; i++)
            fits = xs->shape.d[i] == x->shape.d[i];
        for (int i = 1; fits && i < y->shape.rank; i++)
            fits = ys->shape.d[i] == y->shape.d[i];
        if (!fits) {
            error_at(a.loc,
                     "tensors(...): data %s and %s do not match inputs %s and %s (the data hold n examples "
                     "of each input's shape after its batch dimension)",
                     shape_str(ctx, &xs->shape), shape_str(ctx, &ys->shape), type_str(ctx, x->dtype, &x->shape),
                     type_str(ctx, y->dtype, &y->shape));
            return;
        }
        int64_t n = xs->shape.d[0];
        t->tensor_x = xs->data;
        t->tensor_y = ys->data;
        t->tensor_n = n;
    } else {
        if (x->dtype != DT_F32 || x->shape.rank != 2 || y->dtype != DT_F32 || y->shape.rank != 2 || y->shape.d[1] != 1)
            error_at(a.loc, "%s gives features f32[batch, d] and targets f32[batch, 1]; got %s and %s", name,
                     type_str(ctx, x->dtype, &x->shape), type_str(ctx, y->dtype, &y->shape));
        if (t->data == DATA_SYNTH_LINEAR) {
            Value w;
            if (arg_get(&a, "w", -1, &w, NULL) && w.kind == V_LIST && w.list->n != x->shape.d[1])
                error_at(a.loc, "synthetic_linear: w has %d entries but '%s' has %lld features", w.list->n, x->name,
                         (long long)x->shape.d[1]);
        }
    }
}

static const BuiltinParam sgd_params[] = {
    {"lr", AK_NUM, .flags = PF_POS | PF_KEY | PF_OPT},
    {"momentum", AK_NUM, .flags = PF_KEY | PF_OPT},
    {"weight_decay", AK_NUM, .flags = PF_KEY | PF_OPT},
    {"decay", AK_VALUE, .flags = PF_KEY | PF_OPT}, /* a glob of the parameters decayed */
    {"l1", AK_NUM, .flags = PF_KEY | PF_OPT},
    {"l1_on", AK_VALUE, .flags = PF_KEY | PF_OPT}, /* a glob */
    {0},
};

static const BuiltinParam adam_params[] = {
    {"lr", AK_NUM, .flags = PF_POS | PF_KEY | PF_OPT},
    {"beta1", AK_NUM, .flags = PF_KEY | PF_OPT},
    {"beta2", AK_NUM, .flags = PF_KEY | PF_OPT},
    {"eps", AK_NUM, .flags = PF_KEY | PF_OPT},
    {"weight_decay", AK_NUM, .flags = PF_KEY | PF_OPT},
    {"decay", AK_VALUE, .flags = PF_KEY | PF_OPT},
    {0},
};

/* accuracy(logits, labels) and log_rmse(pred, target) */
static const BuiltinParam metric_params[] = {
    {"pred", AK_TENSOR, .flags = PF_POS},
    {"target", AK_TENSOR, .flags = PF_POS},
    {0},
};

static const BuiltinParam step_schedule_params[] = {
    {"step_size", AK_INT, .flags = PF_POS | PF_KEY},
    {"gamma", AK_NUM, .flags = PF_KEY | PF_OPT},
    {"warmup", AK_INT, .flags = PF_KEY | PF_OPT},
    {"start_factor", AK_NUM, .flags = PF_KEY | PF_OPT},
    {0},
};

static const BuiltinParam cosine_schedule_params[] = {
    {"t_max", AK_INT, .flags = PF_POS | PF_KEY | PF_OPT},
    {"eta_min", AK_NUM, .flags = PF_KEY | PF_OPT},
    {"warmup", AK_INT, .flags = PF_KEY | PF_OPT},
    {"start_factor", AK_NUM, .flags = PF_KEY | PF_OPT},
    {0},
};

/* An integer setting of a schedule (argument `pos` when given by position) that must be at least lo. */
static void schedule_int(Args *a, const char *key, int pos, int64_t *out, int64_t lo) {
    Value v;
    Loc l;
    int64_t x;
    if (!arg_get(a, key, pos, &v, &l) || !want_int(v, l, key, &x))
        return;
    if (x < lo || x > (INT64_C(1) << 40))
        error_at(l, "%s must be in %lld..%lld epochs, got %lld", key, (long long)lo, (long long)(INT64_C(1) << 40),
                 (long long)x);
    else
        *out = x;
}

/* A factor of a schedule that must lie in (0, 1]. */
static void schedule_factor(Args *a, const char *key, double *out) {
    Value v;
    Loc l;
    double x;
    if (!arg_get(a, key, -1, &v, &l) || !want_num(v, l, key, &x))
        return;
    if (!(x > 0 && x <= 1))
        error_at(l, "%s must be in (0, 1], got %g", key, x);
    else
        *out = x;
}

/* `schedule = step(step_size, gamma=0.1)` or `cosine(t_max, eta_min=0)`, both with `warmup=W, start_factor=F`:
 * PyTorch's StepLR and CosineAnnealingLR after a LinearLR warmup, stepped once per epoch. */
static void train_schedule(Elab *e, Node *c) {
    Ctx *ctx = e->ctx;
    Schedule *s = &e->g->train.schedule;
    bool step = c->kind == N_CALL && c->a->kind == N_IDENT && strcmp(c->a->name, "step") == 0;
    bool cosine = c->kind == N_CALL && c->a->kind == N_IDENT && strcmp(c->a->name, "cosine") == 0;
    if (!step && !cosine) {
        error_at(c->loc, "schedule must be step(step_size, gamma=0.1) or cosine(t_max, eta_min=0), got %s",
                 c->kind == N_CALL && c->a->kind == N_IDENT ? xsprintf(ctx, "%s(...)", c->a->name)
                                                            : "another expression");
        return;
    }
    Args a;
    args_eval(e, c, NULL, c->loc, &a);
    a.fname = c->a->name;
    if (args_have_error(&a) || !args_check(&a, step ? step_schedule_params : cosine_schedule_params))
        return;
    *s = (Schedule){.kind = step ? SCHED_STEP : SCHED_COSINE, .gamma = 0.1, .start_factor = 1.0 / 3};
    Value v;
    if (step && !arg_get(&a, "step_size", 0, &v, NULL))
        error_at(c->loc, "step(...) needs step_size, the epochs between decays: step(30, gamma=0.1)");
    schedule_int(&a, step ? "step_size" : "t_max", 0, step ? &s->step_size : &s->t_max, 1);
    schedule_int(&a, "warmup", -1, &s->warmup, 0);
    schedule_factor(&a, "gamma", &s->gamma);
    schedule_factor(&a, "start_factor", &s->start_factor);
    train_num(e, &a, "eta_min", &s->eta_min, 0, INFINITY, false);
}

/* Checks that the train section holds only known settings, each given once. */
static void train_check_keys(Node *tn) {
    static const char *const keys[] = {"data", "loss",    "eval_loss", "optimizer", "batch",    "epochs",
                                       "seed", "metrics", "lr",        "plot",      "schedule", NULL};
    for (int i = 0; i < tn->body.n; i++) {
        Node *s = tn->body.v[i];
        if (s->kind != N_ASSIGN) {
            error_at(s->loc, "the train section holds settings: key = value");
            continue;
        }
        bool known = false;
        for (int k = 0; keys[k]; k++)
            known |= strcmp(keys[k], s->name) == 0;
        if (!known)
            error_at(s->loc,
                     "unknown train setting '%s'; expected data, loss, eval_loss, optimizer, batch, epochs, "
                     "seed, metrics, lr, plot or schedule",
                     s->name);
        for (int j = 0; j < i; j++) {
            Node *o = tn->body.v[j];
            if (o->kind == N_ASSIGN && strcmp(o->name, s->name) == 0) {
                error_at(s->loc, "train setting '%s' is given twice", s->name);
                note_at(o->loc, "first given here");
                break;
            }
        }
    }
}

/* `loss = ...`: a scalar f32 expression that can be differentiated with respect to the trainable parameters. */
static void train_loss(Elab *e, Node *tn) {
    Ctx *ctx = e->ctx;
    TrainSpec *t = &e->g->train;
    Node *s;
    if ((s = train_find(tn, "loss"))) {
        Value v = eval(e, s->a);
        if (v.kind == V_TENSOR && (v.t->shape.rank != 0 || v.t->dtype != DT_F32))
            error_at(s->a->loc, "the loss must be a scalar, got %s; reduce it with mean() or sum()",
                     type_str(ctx, v.t->dtype, &v.t->shape));
        else if (v.kind != V_TENSOR && v.kind != V_ERROR)
            error_at(s->a->loc, "the loss must be a tensor expression, got %s", value_desc(ctx, v));
        else if (v.kind == V_TENSOR) {
            Vec(IrNode *) wrt = {0};
            for (int i = 0; i < e->g->params.n; i++)
                if (e->g->params.v[i].trainable)
                    vec_push(ctx, &wrt, e->g->params.v[i].node);
            IrNode *bad = ad_unsupported(e->g, v.t, wrt.v, wrt.n);
            if (bad) {
                error_at(s->a->loc,
                         "the loss cannot be differentiated through %s, a gradient built by grad(); "
                         "second-order gradients go through element-wise ops, reductions and matmul only",
                         op_info[bad->op].name);
                note_at(bad->loc, "%s is part of the gradient of this", op_info[bad->op].name);
            } else {
                t->loss = v.t;
            }
        }
    } else {
        error_at(tn->loc, "the train section needs a loss: loss = cross_entropy(logits, y)");
    }
}

/* `optimizer = sgd(...)` or `adam(...)`, the call c. */
static void train_optimizer(Elab *e, Node *c) {
    Ctx *ctx = e->ctx;
    TrainSpec *t = &e->g->train;
    if (c->kind != N_CALL || c->a->kind != N_IDENT ||
        (strcmp(c->a->name, "sgd") != 0 && strcmp(c->a->name, "adam") != 0)) {
        error_at(c->loc, "optimizer must be sgd(lr=...) or adam(lr=...), got %s",
                 c->kind == N_CALL && c->a->kind == N_IDENT ? xsprintf(ctx, "%s(...)", c->a->name)
                                                            : "another expression");
    } else {
        Args a;
        args_eval(e, c, NULL, c->loc, &a);
        a.fname = c->a->name;
        t->optim = strcmp(c->a->name, "adam") == 0 ? OPTIM_ADAM : OPTIM_SGD;
        if (!args_have_error(&a) && args_check(&a, t->optim == OPTIM_ADAM ? adam_params : sgd_params)) {
            Value v;
            Loc l;
            if (arg_get(&a, "lr", 0, &v, &l))
                want_num(v, l, "lr", &t->lr);
            train_num(e, &a, "momentum", &t->momentum, 0, 1, false);
            train_num(e, &a, "weight_decay", &t->weight_decay, 0, INFINITY, false);
            train_num(e, &a, "l1", &t->l1, 0, INFINITY, false);
            train_num(e, &a, "beta1", &t->beta1, 0, 1, false);
            train_num(e, &a, "beta2", &t->beta2, 0, 1, false);
            train_num(e, &a, "eps", &t->eps, 0, INFINITY, false);
            if (arg_get(&a, "eps", -1, &v, &l) && !(t->eps > 0))
                error_at(l, "eps must be positive, got %g", t->eps);
            train_glob(e, &a, "decay", &t->decay_glob, t->weight_decay != 0);
            train_glob(e, &a, "l1_on", &t->l1_glob, t->l1 != 0);
            if (!(t->lr > 0 && t->lr < INFINITY))
                error_at(c->loc, "the learning rate must be positive, got %g", t->lr);
        }
    }
}

/* `metrics = [accuracy(logits, y), ...]`, the list l. */
static void train_metrics(Elab *e, Node *l) {
    Ctx *ctx = e->ctx;
    TrainSpec *t = &e->g->train;
    if (l->kind != N_LIST) {
        error_at(l->loc, "metrics is a list: [accuracy(logits, y)]");
    } else {
        for (int i = 0; i < l->args.n; i++) {
            Node *c = l->args.v[i];
            if (c->kind != N_CALL || c->a->kind != N_IDENT ||
                (strcmp(c->a->name, "accuracy") != 0 && strcmp(c->a->name, "log_rmse") != 0)) {
                error_at(c->loc, "unknown metric%s; expected accuracy(logits, labels) or log_rmse(pred, target)",
                         c->kind == N_CALL && c->a->kind == N_IDENT ? xsprintf(ctx, " '%s'", c->a->name) : "");
                continue;
            }
            Args a;
            args_eval(e, c, NULL, c->loc, &a);
            a.fname = c->a->name;
            if (args_have_error(&a) || !args_check(&a, metric_params))
                continue;
            IrNode *p = tensor_arg(e, &a, "pred", 0), *y = tensor_arg(e, &a, "target", 1);
            if (!p || !y)
                continue;
            Metric m = {.kind = strcmp(c->a->name, "accuracy") == 0 ? METRIC_ACCURACY : METRIC_LOG_RMSE};
            if (m.kind == METRIC_ACCURACY) {
                m.pred = b_argmax_eq(e->g, p, y, c->loc);
                if (!m.pred)
                    continue;
            } else if (!shape_eq(&p->shape, &y->shape)) {
                error_at(c->loc, "log_rmse: prediction %s and target %s differ in shape",
                         type_str(ctx, p->dtype, &p->shape), type_str(ctx, y->dtype, &y->shape));
                continue;
            } else {
                m.pred = p;
                m.target = y;
            }
            vec_push(ctx, &t->metrics, m);
        }
    }
}

void elab_train(Elab *e, Node *tn) {
    Ctx *ctx = e->ctx;
    TrainSpec *t = &e->g->train;
    t->present = true;
    t->loc = tn->loc;
    t->lr = 0.1;
    t->epochs = 10;
    t->seed = 1;
    t->beta1 = 0.9;
    t->beta2 = 0.999;
    t->eps = 1e-8;
    t->decay_glob = "*";
    t->l1_glob = "*";
    train_check_keys(tn);
    train_loss(e, tn);
    Node *s;
    if ((s = train_find(tn, "eval_loss"))) {
        Value v = eval(e, s->a);
        if (v.kind == V_TENSOR && v.t->shape.rank == 0 && v.t->dtype == DT_F32)
            t->eval_loss = v.t;
        else if (v.kind != V_ERROR)
            error_at(s->a->loc, "eval_loss must be a scalar tensor expression, got %s", value_desc(ctx, v));
    }
    if ((s = train_find(tn, "plot"))) {
        Value v = eval(e, s->a);
        if (v.kind == V_STR && (strcmp(v.s, "log") == 0 || strcmp(v.s, "linear") == 0))
            t->plot_log = strcmp(v.s, "log") == 0;
        else if (v.kind != V_ERROR)
            error_at(s->a->loc, "plot is \"log\" or \"linear\" (the loss axis of --plot), got %s", value_desc(ctx, v));
    }
    int64_t iv;
    if ((s = train_find(tn, "epochs")) && want_int(eval(e, s->a), s->a->loc, "epochs", &iv)) {
        if (iv < 1)
            error_at(s->a->loc, "epochs must be at least 1, got %lld", (long long)iv);
        else
            t->epochs = iv;
    }
    if ((s = train_find(tn, "seed")) && want_int(eval(e, s->a), s->a->loc, "seed", &iv))
        t->seed = iv;
    t->batch = e->g->max_batch;
    if ((s = train_find(tn, "lr")) && want_num(eval(e, s->a), s->a->loc, "lr", &t->lr) &&
        !(t->lr > 0 && t->lr < INFINITY))
        error_at(s->a->loc, "the learning rate must be positive, got %g", t->lr);
    if ((s = train_find(tn, "optimizer")))
        train_optimizer(e, s->a);
    if ((s = train_find(tn, "metrics")))
        train_metrics(e, s->a);
    if ((s = train_find(tn, "schedule")))
        train_schedule(e, s->a);
    /* data is optional: a model without it compiles (for gradient checks, say) but has no trainer */
    if ((s = train_find(tn, "data")))
        elab_data(e, s);
}
