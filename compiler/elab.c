/* elab.c: elaboration, from the AST to the graph.
 *
 * The .dlm file is a program run at compile time: this file is its interpreter. Values are compile-time
 * numbers, strings, lists, layers and blocks, or tensors, which are graph nodes. Running the program expands
 * blocks, unrolls loops, names and creates parameters, and builds every tensor op through the builders of the op table
 * (compiler/ops/), whose shape rules report mismatches at the source location. Errors produce a poison value (V_ERROR)
 * that later operations pass along silently, so one mistake gives one message and elaboration goes on to find the next.
 *
 * Requires: a parsed Program. Guarantees: a Graph whose inputs, parameters, outputs, loss and metrics are
 * nodes with checked static shapes, or errors in its context's Diag. */
#include <math.h>

#include "elab.h"
#include "parser.h"

/* ---- built-ins ---- */

static const char *const builtin_names[B_COUNT] = {
    [B_LINEAR] = "linear",
    [B_CONV2D] = "conv2d",
    [B_MAX_POOL] = "max_pool",
    [B_AVG_POOL] = "avg_pool",
    [B_DROPOUT] = "dropout",
    [B_FLATTEN] = "flatten",
    [B_RELU] = "relu",
    [B_SIGMOID] = "sigmoid",
    [B_TANH] = "tanh",
    [B_SOFTMAX] = "softmax",
    [B_EXP] = "exp",
    [B_LOG] = "log",
    [B_ABS] = "abs",
    [B_SQRT] = "sqrt",
    [B_POW] = "pow",
    [B_WHERE] = "where",
    [B_MAX] = "max",
    [B_MIN] = "min",
    [B_SUM] = "sum",
    [B_MEAN] = "mean",
    [B_LOG_SOFTMAX] = "log_softmax",
    [B_RESHAPE] = "reshape",
    [B_TRANSPOSE] = "transpose",
    [B_CONCAT] = "concat",
    [B_DOT] = "dot",
    [B_MATMUL] = "matmul",
    [B_TENSOR] = "tensor",
    [B_ARANGE] = "arange",
    [B_RANGE] = "range",
    [B_LEN] = "len",
    [B_PARAM] = "param",
    [B_PARAMS] = "params",
    [B_GRAD] = "grad",
    [B_CROSS_ENTROPY] = "cross_entropy",
    [B_SQUARED_LOSS] = "squared_loss",
    [B_MSE] = "mse",
    [B_L2_PENALTY] = "l2_penalty",
    [B_L1_PENALTY] = "l1_penalty",
    [B_NORMAL] = "normal",
    [B_UNIFORM] = "uniform",
    [B_XAVIER_UNIFORM] = "xavier_uniform",
    [B_XAVIER_NORMAL] = "xavier_normal",
    [B_KAIMING_UNIFORM] = "kaiming_uniform",
    [B_KAIMING_NORMAL] = "kaiming_normal",
    [B_CONSTANT] = "constant",
    [B_ZEROS] = "zeros",
    [B_ONES] = "ones",
};

static int builtin_lookup(const char *name) {
    for (int i = 0; i < B_COUNT; i++)
        if (builtin_names[i] && strcmp(builtin_names[i], name) == 0)
            return i;
    return -1;
}

const char *func_name(int f) { return builtin_names[f]; }

/* ---- argument access ---- */

static int args_find_key(Args *a, const char *key) {
    for (int i = 0; i < a->key.n; i++)
        if (strcmp(a->key.v[i], key) == 0)
            return i;
    return -1;
}

/* The argument named `key`, or positional number `pos` (-1: keyword only). */
bool arg_get(Args *a, const char *key, int pos, Value *out, Loc *loc) {
    int k = args_find_key(a, key);
    if (k >= 0) {
        *out = a->kval.v[k];
        if (loc)
            *loc = a->key_loc.v[k];
        return true;
    }
    if (pos >= 0 && pos < a->pos.n) {
        *out = a->pos.v[pos];
        if (loc)
            *loc = a->pos_loc.v[pos];
        return true;
    }
    return false;
}

/* Checks that the call has at most `npos` positional arguments and only keywords from `keys`. */
bool args_check(Args *a, int npos, const char *const *keys) {
    bool ok = true;
    if (a->pos.n > npos && npos == 0) {
        error_at(a->pos_loc.v[npos], "%s takes no arguments besides its input, got %d", a->fname, a->pos.n);
        ok = false;
    } else if (a->pos.n > npos) {
        error_at(a->pos_loc.v[npos], "%s takes at most %d positional argument%s, got %d", a->fname, npos,
                 npos == 1 ? "" : "s", a->pos.n);
        ok = false;
    }
    for (int i = 0; i < a->key.n; i++) {
        bool known = false;
        for (int j = 0; keys && keys[j]; j++)
            known |= strcmp(keys[j], a->key.v[i]) == 0;
        if (!known) {
            char expect[256] = "";
            for (int j = 0; keys && keys[j]; j++)
                snprintf(expect + strlen(expect), sizeof expect - strlen(expect), "%s%s", j ? ", " : "", keys[j]);
            error_at(a->key_loc.v[i], "%s has no argument '%s'%s%s", a->fname, a->key.v[i],
                     expect[0] ? "; it takes " : "; it takes no named arguments", expect);
            ok = false;
        }
    }
    return ok;
}

/* ---- blocks and layers ---- */

static Scope *scope_enter(Elab *e, Layer *l) {
    Scope *s = xalloc(e->ctx, sizeof(Scope));
    s->prefix = xsprintf(e->ctx, "%s.", l->name);
    s->reuse = l->applied > 0;
    Scope *old = e->scope;
    e->scope = s;
    return old;
}

bool bool_arg(Args *a, const char *key, bool dflt) {
    Value v;
    Loc loc;
    if (!arg_get(a, key, -1, &v, &loc))
        return dflt;
    if (v.kind != V_BOOL && !(v.kind == V_INT && (v.i == 0 || v.i == 1))) {
        if (v.kind != V_ERROR)
            error_at(loc, "'%s' must be true or false, got %s", key, value_desc(loc.src->ctx, v));
        return dflt;
    }
    return v.i != 0;
}

/* ---- statements ---- */

static void exec_stmts(Elab *e, NodeList *body);
static char *next_layer_name(Elab *e, const char *label);

/* Applying an instance takes a position in the current scope, as a module placed in nn.Sequential does. */
static Value apply_instance(Elab *e, Layer *l, Value input, Loc loc) {
    char *pos = next_layer_name(e, NULL);
    if (!l->name)
        l->name = pos;
    return apply_layer(e, l, input, loc);
}

/* "x, convs, channels": a block's parameters, for messages. */
static char *block_params_str(Ctx *ctx, Node *def) {
    char *s = "";
    for (int i = 0; i < def->params.n; i++)
        s = xsprintf(ctx, "%s%s%s", s, i ? ", " : "", def->params.v[i]->name);
    return s;
}

static Value call_block_with(Elab *e, Node *def, Layer *l, Args *args, Loc loc) {
    Ctx *ctx = e->ctx;
    int np = def->params.n;
    if (args->pos.n + args->key.n != np) {
        error_at(loc, "block '%s' takes %d argument%s (%s), got %d", def->name, np, np == 1 ? "" : "s",
                 block_params_str(ctx, def), args->pos.n + args->key.n);
        note_at(def->loc, "'%s' is defined here", def->name);
        return v_error(e);
    }
    if (!charge(e, (int64_t)args->key.n * np, loc)) /* matching keywords to parameters */
        return v_error(e);
    Env *env = env_new(ctx, e->globals);
    for (int i = 0; i < args->pos.n; i++)
        env_set(ctx, env, def->params.v[i]->name, args->pos.v[i]);
    for (int i = 0; i < args->key.n; i++) {
        bool found = false;
        for (int j = 0; j < np; j++)
            if (strcmp(def->params.v[j]->name, args->key.v[i]) == 0) {
                env_set(ctx, env, args->key.v[i], args->kval.v[i]);
                found = true;
            }
        if (!found) {
            error_at(args->key_loc.v[i], "block '%s' has no parameter '%s'; its parameters are %s", def->name,
                     args->key.v[i], block_params_str(ctx, def));
            return v_error(e);
        }
    }
    if (!charge(e, CALL_COST, loc))
        return v_error(e);
    if (e->calls >= MAX_CALLS) {
        error_at(loc, "block applications nest more than %d deep here; does '%s' call itself without end?", MAX_CALLS,
                 def->name);
        note_at(def->loc, "'%s' is defined here", def->name);
        e->halted = true;
        return v_error(e);
    }
    Env *old_env = e->env;
    Scope *old_scope = scope_enter(e, l);
    bool old_in_block = e->in_block, old_returned = e->returned;
    Value old_ret = e->ret;
    e->env = env;
    e->in_block = true;
    e->returned = false;
    e->ret = v_none();
    e->calls++;
    exec_stmts(e, &def->body);
    e->calls--;
    Value r = e->ret;
    if (e->halted) {
        r = v_error(e);
    } else if (!e->returned) {
        error_at(def->loc, "block '%s' ends without 'return'", def->name);
        note_at(loc, "called here");
        r = v_error(e);
    }
    e->env = old_env;
    e->scope = old_scope;
    e->in_block = old_in_block;
    e->returned = old_returned;
    e->ret = old_ret;
    l->applied++;
    if (r.kind == V_TENSOR) {
        LayerTrace tr = {.name = l->name, .kind = def->name, .dtype = r.t->dtype, .shape = r.t->shape, .loc = loc};
        vec_push(ctx, &e->g->layers, tr);
    }
    return r;
}

Value apply_block(Elab *e, Layer *l, Value input, Loc loc) {
    Ctx *ctx = e->ctx;
    Args args = {0};
    args.loc = loc;
    vec_push(ctx, &args.pos, input);
    vec_push(ctx, &args.pos_loc, loc);
    for (int i = 0; i < l->args.pos.n; i++) {
        vec_push(ctx, &args.pos, l->args.pos.v[i]);
        vec_push(ctx, &args.pos_loc, l->args.pos_loc.v[i]);
    }
    for (int i = 0; i < l->args.key.n; i++) {
        vec_push(ctx, &args.key, l->args.key.v[i]);
        vec_push(ctx, &args.kval, l->args.kval.v[i]);
        vec_push(ctx, &args.key_loc, l->args.key_loc.v[i]);
    }
    return call_block_with(e, l->block, l, &args, loc);
}

static char *next_layer_name(Elab *e, const char *label) {
    int idx = e->scope->counter++;
    return label ? xsprintf(e->ctx, "%s%s", e->scope->prefix, label) : xsprintf(e->ctx, "%s%d", e->scope->prefix, idx);
}

void args_eval(Elab *e, Node *call, Value *first, Loc first_loc, Args *a) {
    Ctx *ctx = e->ctx;
    memset(a, 0, sizeof *a);
    a->loc = call->loc;
    if (first) {
        vec_push(ctx, &a->pos, *first);
        vec_push(ctx, &a->pos_loc, first_loc);
    }
    for (int i = 0; i < call->args.n; i++) {
        Node *arg = call->args.v[i];
        if (arg->kind == N_KWARG) {
            /* the duplicate check is linear in the keywords so far: charged, a call can have thousands */
            if (!charge(e, a->key.n, arg->loc)) {
                vec_push(ctx, &a->pos, v_error(e)); /* the call is not made */
                vec_push(ctx, &a->pos_loc, arg->loc);
                return;
            }
            if (args_find_key(a, arg->name) >= 0)
                error_at(arg->loc, "argument '%s' given twice", arg->name);
            vec_push(ctx, &a->key, arg->name);
            vec_push(ctx, &a->kval, eval(e, arg->a));
            vec_push(ctx, &a->key_loc, arg->loc);
        } else {
            if (a->key.n > 0)
                error_at(arg->loc, "a positional argument cannot follow keyword arguments");
            vec_push(ctx, &a->pos, eval(e, arg));
            vec_push(ctx, &a->pos_loc, arg->loc);
        }
    }
}

bool args_have_error(Args *a) {
    for (int i = 0; i < a->pos.n; i++)
        if (a->pos.v[i].kind == V_ERROR)
            return true;
    for (int i = 0; i < a->kval.n; i++)
        if (a->kval.v[i].kind == V_ERROR)
            return true;
    return false;
}

static Node *find_block(Elab *e, const char *name) {
    int i = env_index(e->blocks, name);
    return i >= 0 ? e->blocks->vals.v[i].block : NULL;
}

/* A call of a layer (built-in or block): applied when its first argument is a tensor, an instance otherwise. */
static Value call_layer(Elab *e, int func, Node *block, Args *a, const char *label, const char *hint, Loc loc) {
    bool apply = a->pos.n > 0 && a->pos.v[0].kind == V_TENSOR;
    if (block) {
        int np = block->params.n;
        apply = a->pos.n + a->key.n == np && a->pos.n > 0 && a->pos.v[0].kind == V_TENSOR;
        if (!apply && a->pos.n + a->key.n != np - 1) {
            error_at(loc, "block '%s' takes %d argument%s (%s), or %d without the input to make a layer, got %d",
                     block->name, np, np == 1 ? "" : "s", block_params_str(e->ctx, block), np - 1, a->pos.n + a->key.n);
            note_at(block->loc, "'%s' is defined here", block->name);
            return v_error(e);
        }
    }
    Layer *l = xalloc(e->ctx, sizeof(Layer));
    l->func = block ? -1 : func;
    l->block = block;
    l->loc = loc;
    /* an applied call takes the next position of the scope; an instance takes one each time it is applied,
     * and is named by its label, the variable it is bound to, or its position at first use */
    if (apply)
        l->name = next_layer_name(e, label);
    else if (label || hint)
        l->name = xsprintf(e->ctx, "%s%s", e->scope->prefix, label ? label : hint);
    if (block && apply)
        return call_block_with(e, block, l, a, loc);
    /* separate the input from the configuration */
    l->args = *a;
    l->args.fname = block ? block->name : func_name(func);
    if (apply) {
        Value input = a->pos.v[0];
        l->args.pos.v++;
        l->args.pos.n--;
        l->args.pos.cap--;
        l->args.pos_loc.v++;
        l->args.pos_loc.n--;
        l->args.pos_loc.cap--;
        return apply_layer(e, l, input, loc);
    }
    Value v = {.kind = V_LAYER, .layer = l};
    return v;
}

/* A call of an op by its ops.def surface name: its tensor operands, then its integer attributes by position or by
 * name, built through the op's shape rule. */
static Value call_op(Elab *e, Op op, Args *a, Loc loc) {
    int arity = op_info[op].arity;
    const char *keys[MAX_ATTR + 1] = {0};
    int nk = op_params(e->ctx, op, keys);
    if (!args_check(a, arity + nk, keys))
        return v_error(e);
    IrNode *in[MAX_IN];
    for (int i = 0; i < arity; i++)
        if (!(in[i] = tensor_arg(e, a, i ? "y" : "x", i)))
            return v_error(e);
    OpArgs oa = {0};
    for (int k = 0; k < nk; k++) {
        Value v;
        Loc vl = loc;
        if (!arg_get(a, keys[k], arity + k, &v, &vl)) {
            error_at(loc, "%s needs argument '%s'", a->fname, keys[k]);
            return v_error(e);
        }
        if (!want_int(v, vl, xsprintf(e->ctx, "%s's %s", a->fname, keys[k]), &oa.attr[k]))
            return v_error(e);
    }
    return v_tensor(e, op_build(e->g, op, arity, in, &oa, loc));
}

/* Evaluates a call node; `pipe_in` is the left side of `|>` (prepended to the arguments). */
static Value eval_call(Elab *e, Node *call, Value *pipe_in, Loc pipe_loc, const char *hint) {
    Node *callee = call->a;
    Value fv;
    if (callee->kind == N_IDENT && !env_find(e->env, callee->name) && builtin_lookup(callee->name) < 0 &&
        !find_block(e, callee->name)) {
        int op = op_lookup(callee->name);
        if (op < 0) {
            error_at(callee->loc, "unknown function or layer '%s'", callee->name);
            return v_error(e);
        }
        Args a;
        args_eval(e, call, pipe_in, pipe_loc, &a);
        a.fname = callee->name;
        return args_have_error(&a) ? v_error(e) : charge_fold_args(e, call_op(e, (Op)op, &a, call->loc), &a, call->loc);
    }
    fv = eval(e, callee);
    if (fv.kind == V_ERROR)
        return fv;
    Args a;
    args_eval(e, call, pipe_in, pipe_loc, &a);
    a.fname = callee->kind == N_IDENT ? callee->name : "call";
    if (args_have_error(&a))
        return v_error(e);
    if (fv.kind == V_BLOCK)
        return call_layer(e, -1, fv.block, &a, call->label, hint, call->loc);
    if (fv.kind == V_LAYER) {
        if (a.pos.n != 1 || a.key.n) {
            error_at(call->loc, "layer instance '%s' takes exactly its input, got %d arguments",
                     fv.layer->name    ? fv.layer->name
                     : fv.layer->block ? fv.layer->block->name
                                       : func_name(fv.layer->func),
                     a.pos.n + a.key.n);
            return v_error(e);
        }
        return apply_instance(e, fv.layer, a.pos.v[0], call->loc);
    }
    if (fv.kind != V_FUNC) {
        error_at(callee->loc, "%s is not callable", value_desc(e->ctx, fv));
        return v_error(e);
    }
    if (fv.func < B_LAYER_END)
        return charge_fold_args(e, call_layer(e, fv.func, NULL, &a, call->label, hint, call->loc), &a, call->loc);
    if (call->label)
        error_at(call->label_loc, "'%s' is a function, not a layer: it has no name to give", func_name(fv.func));
    return charge_fold_args(e, call_function(e, fv.func, &a, call->loc), &a, call->loc);
}

/* Applies a value as a function to one argument: `x |> relu`, `x |> shared`. */
static Value apply_value(Elab *e, Value f, Value x, Node *at, Loc loc) {
    if (f.kind == V_ERROR || x.kind == V_ERROR)
        return v_error(e);
    if (f.kind == V_LAYER)
        return apply_instance(e, f.layer, x, loc);
    Args a = {0};
    a.loc = loc;
    vec_push(e->ctx, &a.pos, x);
    vec_push(e->ctx, &a.pos_loc, loc);
    const char *label = at && at->kind == N_IDENT ? at->label : NULL;
    if (f.kind == V_BLOCK)
        return call_layer(e, -1, f.block, &a, label, NULL, loc);
    if (f.kind == V_FUNC) {
        a.fname = func_name(f.func);
        if (f.func < B_LAYER_END)
            return charge_fold_args(e, call_layer(e, f.func, NULL, &a, label, NULL, loc), &a, loc);
        return charge_fold_args(e, call_function(e, f.func, &a, loc), &a, loc);
    }
    error_at(loc, "the right side of '|>' must be a layer or a function, got %s", value_desc(e->ctx, f));
    return v_error(e);
}

/* ---- expressions ---- */

static Value eval_ident(Elab *e, Node *n) {
    Value *v = env_find(e->env, n->name);
    if (v)
        return *v;
    Node *blk = find_block(e, n->name);
    if (blk)
        return (Value){.kind = V_BLOCK, .block = blk};
    int b = builtin_lookup(n->name);
    if (b >= 0)
        return (Value){.kind = V_FUNC, .func = b};
    error_at(n->loc, "'%s' is not defined", n->name);
    return v_error(e);
}

static Value eval_node(Elab *e, Node *n);

Value eval(Elab *e, Node *n) {
    if (!charge(e, 1, n->loc) || !enter(e, n->loc))
        return v_error(e);
    Value v = eval_node(e, n);
    e->depth--;
    return charge_nodes(e, n->loc) ? v : v_error(e);
}

static Value eval_node(Elab *e, Node *n) {
    Ctx *ctx = e->ctx;
    switch (n->kind) {
    case N_NUMBER:
        return n->is_int && fabs(n->num) < 9e15 ? v_int((int64_t)n->num) : v_float(n->num);
    case N_STRING: {
        Value v = {.kind = V_STR, .s = n->name};
        return v;
    }
    case N_BOOL:
        return v_bool(n->num != 0);
    case N_BATCH:
        return (Value){.kind = V_BATCH};
    case N_SELF:
        return v_init(init_new(ctx, INIT_SELF, 0, 0));
    case N_IDENT:
        return eval_ident(e, n);
    case N_LIST:
    case N_TUPLE: {
        Value l = v_list(ctx);
        if (!charge(e, n->args.n, n->loc))
            return v_error(e);
        for (int i = 0; i < n->args.n; i++) {
            Value x = eval(e, n->args.v[i]);
            if (x.kind == V_ERROR)
                return x;
            vec_push(ctx, l.list, x);
        }
        return l;
    }
    case N_UNARY: {
        Value a = eval(e, n->a);
        if (a.kind == V_ERROR)
            return a;
        if (n->op == NOT) {
            if (a.kind == V_BOOL || a.kind == V_INT)
                return v_bool(!a.i);
            if (a.kind == V_TENSOR)
                return v_tensor(e, b_binary(e->g, OP_EQ, a.t, ir_const_scalar(e->g, 0, n->loc), n->loc));
            error_at(n->loc, "'not' needs a boolean, got %s", value_desc(ctx, a));
            return v_error(e);
        }
        if (a.kind == V_INT) {
            if (a.i == INT64_MIN) {
                error_at(n->loc, "integer overflow: -(%lld) does not fit in 64 bits", (long long)a.i);
                return v_error(e);
            }
            return v_int(-a.i);
        }
        if (a.kind == V_FLOAT)
            return v_float(-a.f);
        if (a.kind == V_INIT) {
            Init *i = init_new(ctx, INIT_NEG, 0, 0);
            i->x = a.init;
            return v_init(i);
        }
        IrNode *t = to_tensor(e, a, n->loc, "the operand of '-'");
        return t ? charge_fold(e, v_tensor(e, b_unary(e->g, OP_NEG, t, n->loc)), &a, 1, n->loc) : v_error(e);
    }
    case N_BINARY: {
        Value a = eval(e, n->a);
        Value b = eval(e, n->b);
        if (a.kind == V_ERROR || b.kind == V_ERROR)
            return v_error(e);
        Value ops[2] = {a, b};
        return charge_fold(e, arith(e, n->op, a, b, n->loc), ops, 2, n->loc);
    }
    case N_PIPE: {
        Value x = eval(e, n->a);
        if (x.kind == V_ERROR)
            return x;
        if (n->b->kind == N_CALL)
            return eval_call(e, n->b, &x, n->a->loc, NULL);
        Value f = eval(e, n->b);
        return apply_value(e, f, x, n->b, n->b->loc);
    }
    case N_CALL:
        return eval_call(e, n, NULL, n->loc, NULL);
    case N_INDEX: {
        Value a = eval(e, n->a);
        Value i = eval(e, n->b);
        if (a.kind == V_ERROR || i.kind == V_ERROR)
            return v_error(e);
        if (a.kind != V_LIST) {
            error_at(n->loc, "only lists can be indexed, got %s", value_desc(ctx, a));
            return v_error(e);
        }
        int64_t k;
        if (!want_int(i, n->b->loc, "an index", &k))
            return v_error(e);
        if (k < 0)
            k += a.list->n;
        if (k < 0 || k >= a.list->n) {
            error_at(n->b->loc, "index %lld is out of range for a list of %d", (long long)num(i), a.list->n);
            return v_error(e);
        }
        return a.list->v[k];
    }
    case N_ATTR: {
        Value a = eval(e, n->a);
        if (a.kind == V_ERROR)
            return a;
        if (a.kind == V_TENSOR && strcmp(n->name, "shape") == 0) {
            Value l = v_list(ctx);
            for (int i = 0; i < a.t->shape.rank; i++)
                vec_push(ctx, l.list, v_int(a.t->shape.d[i]));
            return l;
        }
        error_at(n->loc, "%s has no attribute '%s' (tensors have .shape)", value_desc(ctx, a), n->name);
        return v_error(e);
    }
    default:
        error_at(n->loc, "this is a statement, not an expression");
        return v_error(e);
    }
}

/* ---- built-in functions ---- */

static bool axes_arg(Args *a, IrNode *x, uint32_t *mask) {
    Value v;
    Loc loc;
    if (!arg_get(a, "axis", 1, &v, &loc)) {
        *mask = x->shape.rank ? (1u << x->shape.rank) - 1 : 0;
        return true;
    }
    *mask = 0;
    int n = v.kind == V_LIST ? v.list->n : 1;
    for (int i = 0; i < n; i++) {
        int64_t ax;
        if (!want_int(v.kind == V_LIST ? v.list->v[i] : v, loc, "axis", &ax))
            return false;
        int64_t given = ax;
        if (ax < 0)
            ax += x->shape.rank;
        if (ax < 0 || ax >= x->shape.rank) {
            error_at(loc, "axis %lld is out of range for %s, which has axes %d..%d", (long long)given,
                     type_str(loc.src->ctx, x->dtype, &x->shape), -x->shape.rank, x->shape.rank - 1);
            return false;
        }
        *mask |= 1u << ax;
    }
    return true;
}

IrNode *tensor_arg(Elab *e, Args *a, const char *key, int pos) {
    Value v;
    Loc loc = a->loc;
    if (!arg_get(a, key, pos, &v, &loc)) {
        error_at(a->loc, "%s needs argument '%s' (number %d), got %d argument%s", a->fname, key, pos + 1, a->pos.n,
                 a->pos.n == 1 ? "" : "s");
        return NULL;
    }
    return to_tensor(e, v, loc, xsprintf(e->ctx, "%s's argument '%s'", a->fname, key));
}

static Value loss_mean(Elab *e, IrNode *t, Loc loc) {
    return v_tensor(e, b_mean(e->g, t, t->shape.rank ? (1u << t->shape.rank) - 1 : 0, false, loc));
}

Value call_function(Elab *e, int f, Args *a, Loc loc) {
    Ctx *ctx = e->ctx;
    Graph *g = e->g;
    a->fname = func_name(f);
    switch ((Builtin)f) {
    case B_EXP:
    case B_LOG:
    case B_ABS:
    case B_SQRT: {
        if (!args_check(a, 1, NULL))
            return v_error(e);
        Value v;
        if (!arg_get(a, "x", 0, &v, NULL)) {
            error_at(loc, "%s needs one argument, got none", a->fname);
            return v_error(e);
        }
        if (f == B_ABS && v.kind == V_INIT) {
            Init *i = init_new(ctx, INIT_ABS, 0, 0);
            i->x = v.init;
            return v_init(i);
        }
        if (is_num(v)) {
            double x = num(v);
            return v_float(f == B_EXP ? exp(x) : f == B_LOG ? log(x) : f == B_ABS ? fabs(x) : sqrt(x));
        }
        IrNode *x = tensor_arg(e, a, "x", 0);
        Op op = f == B_EXP ? OP_EXP : f == B_LOG ? OP_LOG : f == B_ABS ? OP_ABS : OP_SQRT;
        return x ? v_tensor(e, b_unary(g, op, x, loc)) : v_error(e);
    }
    case B_POW: {
        static const char *const keys[] = {"x", "p", NULL};
        if (!args_check(a, 2, keys))
            return v_error(e);
        Value x, p;
        if (!arg_get(a, "x", 0, &x, NULL) || !arg_get(a, "p", 1, &p, NULL)) {
            error_at(loc, "pow needs two arguments: pow(x, 2)");
            return v_error(e);
        }
        return arith(e, POW, x, p, loc);
    }
    case B_WHERE: {
        if (!args_check(a, 3, NULL))
            return v_error(e);
        IrNode *c = tensor_arg(e, a, "cond", 0), *x = tensor_arg(e, a, "a", 1), *y = tensor_arg(e, a, "b", 2);
        if (!c || !x || !y)
            return v_error(e);
        IrNode *in[3] = {c, x, y};
        return v_tensor(e, b_elem(g, OP_WHERE, 3, in, loc));
    }
    case B_MAX:
    case B_MIN:
    case B_SUM:
    case B_MEAN: {
        static const char *const keys[] = {"axis", "keepdim", NULL};
        /* max(a, b) / min(a, b) of two tensors is element-wise */
        if ((f == B_MAX || f == B_MIN) && a->pos.n == 2 && a->key.n == 0 && a->pos.v[1].kind != V_LIST &&
            (a->pos.v[1].kind == V_TENSOR || is_num(a->pos.v[1]))) {
            if (is_num(a->pos.v[0]) && is_num(a->pos.v[1])) {
                double x = num(a->pos.v[0]), y = num(a->pos.v[1]);
                return v_float(f == B_MAX ? (x > y ? x : y) : (x < y ? x : y));
            }
            IrNode *x = tensor_arg(e, a, "a", 0), *y = tensor_arg(e, a, "b", 1);
            return x && y ? v_tensor(e, b_binary(g, f == B_MAX ? OP_MAXIMUM : OP_MINIMUM, x, y, loc)) : v_error(e);
        }
        if (f == B_MIN) {
            error_at(loc, "min takes two tensors; for a reduction use -max(-x)");
            return v_error(e);
        }
        if (!args_check(a, 2, keys))
            return v_error(e);
        IrNode *x = tensor_arg(e, a, "x", 0);
        uint32_t mask;
        if (!x || !axes_arg(a, x, &mask))
            return v_error(e);
        bool keep = bool_arg(a, "keepdim", false);
        if (f == B_MEAN)
            return v_tensor(e, b_mean(g, x, mask, keep, loc));
        return v_tensor(e, b_reduce(g, f == B_SUM ? OP_SUM : OP_MAX, x, mask, keep, loc));
    }
    case B_LOG_SOFTMAX: {
        static const char *const keys[] = {"axis", NULL};
        if (!args_check(a, 2, keys))
            return v_error(e);
        IrNode *x = tensor_arg(e, a, "x", 0);
        if (!x)
            return v_error(e);
        Value v;
        Loc vl;
        int64_t axis = -1;
        if (arg_get(a, "axis", 1, &v, &vl) && !want_int(v, vl, "axis", &axis))
            return v_error(e);
        if (axis != -1 && axis != x->shape.rank - 1) {
            error_at(vl, "log_softmax is over the last axis only (axis=-1), got axis=%lld", (long long)axis);
            return v_error(e);
        }
        return v_tensor(e, b_softmax(g, OP_LOGSOFTMAX, x, loc));
    }
    case B_RESHAPE: {
        if (!args_check(a, 2, NULL))
            return v_error(e);
        IrNode *x = tensor_arg(e, a, "x", 0);
        Value sv;
        Loc sl = loc;
        Shape s;
        if (!x)
            return v_error(e);
        if (!arg_get(a, "shape", 1, &sv, &sl)) {
            error_at(loc, "reshape needs a shape: reshape(x, [batch, 784])");
            return v_error(e);
        }
        if (!shape_from_value(e, sv, sl, &s, true, "the reshaped tensor", x->dtype))
            return v_error(e);
        return v_tensor(e, b_reshape(g, x, s, loc));
    }
    case B_TRANSPOSE: {
        if (!args_check(a, 1, NULL))
            return v_error(e);
        IrNode *x = tensor_arg(e, a, "x", 0);
        return x ? v_tensor(e, b_transpose(g, x, loc)) : v_error(e);
    }
    case B_CONCAT: {
        static const char *const keys[] = {"axis", NULL};
        if (!args_check(a, 2, keys))
            return v_error(e);
        Value lv, av;
        Loc ll = loc, al = loc;
        int64_t axis = 0;
        if (!arg_get(a, "xs", 0, &lv, &ll) || lv.kind != V_LIST) {
            error_at(ll, "concat needs a list of tensors: concat([a, b], axis=1), got %s",
                     a->pos.n ? value_desc(ctx, lv) : "no arguments");
            return v_error(e);
        }
        if (arg_get(a, "axis", 1, &av, &al) && !want_int(av, al, "axis", &axis))
            return v_error(e);
        if (axis < -MAX_RANK || axis >= MAX_RANK) {
            error_at(al, "concat: axis %lld is out of range; a tensor has at most %d axes", (long long)axis, MAX_RANK);
            return v_error(e);
        }
        IrNode *xs[MAX_IN];
        int n = lv.list->n > MAX_IN ? MAX_IN + 1 : lv.list->n;
        for (int i = 0; i < n && i < MAX_IN; i++)
            if (!(xs[i] = to_tensor(e, lv.list->v[i], ll, "a concatenated value")))
                return v_error(e);
        return v_tensor(e, b_concat(g, xs, n, (int)axis, loc));
    }
    case B_DOT: {
        if (!args_check(a, 2, NULL))
            return v_error(e);
        IrNode *x = tensor_arg(e, a, "x", 0), *y = tensor_arg(e, a, "y", 1);
        if (!x || !y)
            return v_error(e);
        if (x->shape.rank != 1 || y->shape.rank != 1 || x->shape.d[0] != y->shape.d[0]) {
            error_at(loc, "dot needs two vectors of one length, got %s and %s", type_str(ctx, x->dtype, &x->shape),
                     type_str(ctx, y->dtype, &y->shape));
            return v_error(e);
        }
        IrNode *p = b_binary(g, OP_MUL, x, y, loc);
        return v_tensor(e, p ? b_reduce(g, OP_SUM, p, 1, false, loc) : NULL);
    }
    case B_MATMUL: {
        if (!args_check(a, 2, NULL))
            return v_error(e);
        IrNode *x = tensor_arg(e, a, "a", 0), *y = tensor_arg(e, a, "b", 1);
        return x && y ? v_tensor(e, b_matmul(g, x, y, false, false, loc)) : v_error(e);
    }
    case B_TENSOR: {
        if (!args_check(a, 1, NULL))
            return v_error(e);
        return v_tensor(e, tensor_arg(e, a, "data", 0));
    }
    case B_ARANGE: {
        if (!args_check(a, 1, NULL))
            return v_error(e);
        Value v;
        Loc vl = loc;
        int64_t n;
        if (!arg_get(a, "n", 0, &v, &vl)) {
            error_at(loc, "arange needs a length: arange(10)");
            return v_error(e);
        }
        if (!want_int(v, vl, "arange's length", &n))
            return v_error(e);
        if (n <= 0 || n > (1 << 24)) {
            error_at(vl, "arange length must be in 1..16777216, got %lld", (long long)n);
            return v_error(e);
        }
        if (!charge(e, ELEMS(n), vl))
            return v_error(e);
        double *d = xalloc(ctx, sizeof(double) * (size_t)n);
        for (int64_t i = 0; i < n; i++)
            d[i] = (double)i;
        return v_tensor(e, ir_const_data(g, shape_make(1, &n, false), d, loc));
    }
    case B_RANGE: {
        if (!args_check(a, 2, NULL))
            return v_error(e);
        Value v;
        Loc vl = loc;
        int64_t lo = 0, hi;
        if (!arg_get(a, "n", 0, &v, &vl)) {
            error_at(loc, "range needs a bound: range(10) or range(2, 10)");
            return v_error(e);
        }
        if (!want_int(v, vl, "range's bound", &hi))
            return v_error(e);
        if (a->pos.n == 2) {
            lo = hi;
            if (!want_int(a->pos.v[1], a->pos_loc.v[1], "range's bound", &hi))
                return v_error(e);
        }
        /* hi - lo may overflow; compared without subtracting */
        if (hi > lo && (lo < 0 ? hi > 100000 + lo : hi - lo > 100000)) {
            error_at(loc, "range(%lld, %lld) is too long to unroll: a range has at most 100000 values", (long long)lo,
                     (long long)hi);
            return v_error(e);
        }
        if (hi > lo && !charge(e, LIST_ELEMS(hi - lo), loc))
            return v_error(e);
        Value l = v_list(ctx);
        for (int64_t i = lo; i < hi; i++)
            vec_push(ctx, l.list, v_int(i));
        return l;
    }
    case B_LEN: {
        if (!args_check(a, 1, NULL))
            return v_error(e);
        Value v;
        if (!arg_get(a, "x", 0, &v, NULL) || v.kind != V_LIST) {
            error_at(loc, "len needs a list, got %s", a->pos.n ? value_desc(ctx, v) : "no arguments");
            return v_error(e);
        }
        return v_int(v.list->n);
    }
    case B_PARAM:
    case B_PARAMS: {
        if (!args_check(a, 1, NULL))
            return v_error(e);
        Value v;
        Loc vl = loc;
        if (!arg_get(a, "name", 0, &v, &vl) || v.kind != V_STR) {
            error_at(loc, "%s needs a parameter name as a string: %s(\"0.weight\"), got %s", a->fname, a->fname,
                     a->pos.n ? value_desc(ctx, v) : "no arguments");
            return v_error(e);
        }
        if (!charge(e, g->params.n, loc))
            return v_error(e);
        Value l = v_list(ctx);
        for (int i = 0; i < g->params.n; i++)
            if (f == B_PARAM ? strcmp(g->params.v[i].name, v.s) == 0 : glob_match(v.s, g->params.v[i].name))
                vec_push(ctx, l.list, v_tensor(e, g->params.v[i].node));
        if (l.list->n == 0) {
            error_at(vl, "no parameter %s \"%s\"", f == B_PARAM ? "is named" : "matches", v.s);
            if (g->params.n)
                note_at(g->params.v[0].loc, "parameters are named like \"%s\"", g->params.v[0].name);
            return v_error(e);
        }
        return f == B_PARAM ? l.list->v[0] : l;
    }
    case B_GRAD: {
        if (!args_check(a, 2, NULL))
            return v_error(e);
        IrNode *y = tensor_arg(e, a, "y", 0), *x = tensor_arg(e, a, "x", 1);
        if (!y || !x)
            return v_error(e);
        if (x->op == OP_CONST) {
            error_at(loc, "grad: the value to differentiate by is a compile-time constant; declare it as an "
                          "input or a param");
            return v_error(e);
        }
        if (y->shape.rank != 0) {
            error_at(a->pos_loc.v[0], "grad needs a scalar to differentiate, got %s; take sum() of it first",
                     type_str(ctx, y->dtype, &y->shape));
            return v_error(e);
        }
        /* both walk the graph up to y */
        if (!charge(e, 2 * (int64_t)y->id + 1, loc))
            return v_error(e);
        IrNode *bad = ad_unsupported(g, y, &x, 1);
        if (bad) {
            error_at(loc,
                     "grad: cannot differentiate through %s, a gradient built by grad() or the loss; "
                     "second-order gradients go through element-wise ops, reductions and matmul only",
                     op_info[bad->op].name);
            note_at(bad->loc, "%s is part of the gradient of this", op_info[bad->op].name);
            return v_error(e);
        }
        IrNode *dx;
        ad_grad(g, y, &x, 1, &dx);
        if (!dx) {
            double zero = 0;
            (void)zero;
            dx = b_expand(g, ir_const_scalar(g, 0, loc), x->shape, loc);
        }
        return v_tensor(e, dx);
    }
    case B_CROSS_ENTROPY: {
        if (!args_check(a, 2, NULL))
            return v_error(e);
        IrNode *x = tensor_arg(e, a, "logits", 0), *y = tensor_arg(e, a, "labels", 1);
        if (!x || !y)
            return v_error(e);
        IrNode *l = b_xent(g, x, y, loc);
        return l ? loss_mean(e, l, loc) : v_error(e);
    }
    case B_SQUARED_LOSS:
    case B_MSE: {
        if (!args_check(a, 2, NULL))
            return v_error(e);
        IrNode *p = tensor_arg(e, a, "pred", 0), *t = tensor_arg(e, a, "target", 1);
        if (!p || !t)
            return v_error(e);
        if (!shape_eq(&p->shape, &t->shape)) {
            error_at(loc, "%s: prediction %s and target %s differ in shape", a->fname,
                     type_str(ctx, p->dtype, &p->shape), type_str(ctx, t->dtype, &t->shape));
            return v_error(e);
        }
        IrNode *d = b_binary(g, OP_SUB, p, t, loc);
        IrNode *sq = d ? b_binary(g, OP_MUL, d, d, loc) : NULL;
        if (sq && f == B_SQUARED_LOSS)
            sq = b_scalar_op(g, OP_MUL, sq, 0.5, loc);
        return sq ? loss_mean(e, sq, loc) : v_error(e);
    }
    case B_L2_PENALTY:
    case B_L1_PENALTY: {
        if (!args_check(a, 1, NULL))
            return v_error(e);
        Value v;
        Loc vl = loc;
        if (!arg_get(a, "w", 0, &v, &vl)) {
            error_at(loc, "%s needs a parameter or a list of them", a->fname);
            return v_error(e);
        }
        int n = v.kind == V_LIST ? v.list->n : 1;
        if (n == 0) {
            error_at(vl, "%s needs a parameter or a list of them, got an empty list", a->fname);
            return v_error(e);
        }
        IrNode *total = NULL;
        for (int i = 0; i < n; i++) {
            IrNode *w = to_tensor(e, v.kind == V_LIST ? v.list->v[i] : v, vl, "a penalised value");
            if (!w)
                return v_error(e);
            if (w->dtype != DT_F32) {
                error_at(vl, "%s penalises f32 parameters, got %s", a->fname, type_str(ctx, w->dtype, &w->shape));
                return v_error(e);
            }
            IrNode *t = f == B_L2_PENALTY ? b_binary(g, OP_MUL, w, w, loc) : b_unary(g, OP_ABS, w, loc);
            if (t && f == B_L2_PENALTY)
                t = b_scalar_op(g, OP_MUL, t, 0.5, loc);
            if (t)
                t = b_reduce(g, OP_SUM, t, w->shape.rank ? (1u << w->shape.rank) - 1 : 0, false, loc);
            if (t)
                t = total ? b_binary(g, OP_ADD, total, t, loc) : t;
            if (!t)
                return v_error(e);
            total = t;
        }
        return v_tensor(e, total);
    }
    case B_NORMAL:
    case B_UNIFORM: {
        static const char *const nk[] = {"mean", "std", NULL}, *const uk[] = {"a", "b", NULL};
        const char *const *keys = f == B_NORMAL ? nk : uk;
        if (!args_check(a, 2, keys))
            return v_error(e);
        double p[2] = {0, 1};
        for (int i = 0; i < 2; i++) {
            Value v;
            Loc vl = loc;
            if (arg_get(a, keys[i], i, &v, &vl) && !want_num(v, vl, keys[i], &p[i]))
                return v_error(e);
        }
        if (f == B_NORMAL && p[1] < 0) {
            error_at(loc, "normal: std must not be negative, got %g", p[1]);
            return v_error(e);
        }
        return v_init(init_new(ctx, f == B_NORMAL ? INIT_NORMAL : INIT_UNIFORM, p[0], p[1]));
    }
    case B_XAVIER_UNIFORM:
    case B_XAVIER_NORMAL:
    case B_KAIMING_UNIFORM:
    case B_KAIMING_NORMAL: {
        static const char *const keys[] = {"gain", NULL};
        if (!args_check(a, 1, keys))
            return v_error(e);
        double gain = 1;
        Value v;
        Loc vl = loc;
        if (arg_get(a, "gain", 0, &v, &vl) && !want_num(v, vl, "gain", &gain))
            return v_error(e);
        InitKind k = f == B_XAVIER_UNIFORM    ? INIT_XAVIER_UNIFORM
                     : f == B_XAVIER_NORMAL   ? INIT_XAVIER_NORMAL
                     : f == B_KAIMING_UNIFORM ? INIT_KAIMING_UNIFORM
                                              : INIT_KAIMING_NORMAL;
        return v_init(init_new(ctx, k, gain, 0));
    }
    case B_CONSTANT: {
        static const char *const keys[] = {"value", NULL};
        if (!args_check(a, 1, keys))
            return v_error(e);
        Value v;
        Loc vl = loc;
        double c;
        if (!arg_get(a, "value", 0, &v, &vl)) {
            error_at(loc, "constant needs a value: constant(42)");
            return v_error(e);
        }
        if (!want_num(v, vl, "constant's value", &c))
            return v_error(e);
        return v_init(init_new(ctx, INIT_CONST, c, 0));
    }
    case B_ZEROS:
    case B_ONES: {
        /* zeros / ones: an initialiser, or with a shape a constant tensor */
        if (a->pos.n == 0)
            return v_init(init_new(ctx, INIT_CONST, f == B_ONES, 0));
        Shape s;
        Value sv = a->pos.v[0];
        if (a->pos.n > 1) {
            sv = v_list(ctx);
            for (int i = 0; i < a->pos.n; i++)
                vec_push(ctx, sv.list, a->pos.v[i]);
        }
        if (!shape_from_value(e, sv, a->pos_loc.v[0], &s, false, a->fname, DT_F32))
            return v_error(e);
        int64_t n = shape_numel(&s);
        if (n > MAX_CONST_NUMEL) {
            error_at(a->pos_loc.v[0], "%s(%s) would be a compile-time constant of %lld elements; the limit is %lld",
                     a->fname, shape_str(ctx, &s), (long long)n, (long long)MAX_CONST_NUMEL);
            return v_error(e);
        }
        if (!charge(e, ELEMS(n), loc))
            return v_error(e);
        double *d = xalloc(ctx, sizeof(double) * (size_t)n);
        for (int64_t i = 0; i < n; i++)
            d[i] = f == B_ONES;
        return v_tensor(e, ir_const_data(g, s, d, loc));
    }
    default:
        error_at(loc, "%s cannot be called here", a->fname);
        return v_error(e);
    }
}

/* ---- statements ---- */

static void exec_while(Elab *e, Node *s) {
    Value kv = eval(e, s->b);
    int64_t k;
    if (!want_int(kv, s->b->loc, "the loop bound after 'max'", &k))
        return;
    if (k < 1 || k > 1000) {
        error_at(s->b->loc, "the loop bound must be in 1..1000, got %lld", (long long)k);
        return;
    }
    IrNode *active = NULL;
    for (int64_t it = 0; it < k; it++) {
        Value c = eval(e, s->a);
        if (c.kind == V_ERROR)
            return;
        if (c.kind != V_TENSOR) {
            error_at(s->a->loc,
                     "a while loop's condition must be a tensor (the loop is data-dependent), got %s; "
                     "for a compile-time loop use 'for'",
                     value_desc(e->ctx, c));
            return;
        }
        if (c.t->shape.rank != 0 || c.t->dtype != DT_F32) {
            error_at(s->a->loc, "a while loop's condition must be an f32 scalar, got %s; reduce it with sum() or max()",
                     type_str(e->ctx, c.t->dtype, &c.t->shape));
            return;
        }
        active = active ? b_binary(e->g, OP_MUL, active, c.t, s->loc) : c.t;
        if (!active)
            return;
        /* run the body, then select per variable between its values before and after. A scope only grows at
         * its end, so the variables that existed before keep their positions. */
        int nbefore = e->env->vals.n, errors = e->ctx->diag.errors;
        if (!charge(e, LIST_ELEMS(nbefore), s->loc))
            return;
        Value *before = xalloc(e->ctx, sizeof(Value) * (size_t)(nbefore + 1));
        memcpy(before, e->env->vals.v, sizeof(Value) * (size_t)nbefore);
        exec_stmts(e, &s->body);
        if (e->halted)
            return;
        if (e->returned) {
            error_at(s->loc, "'return' inside a while loop: the loop is data-dependent, so it cannot decide the "
                             "block's result; assign in the loop and return after it");
            return;
        }
        if (e->ctx->diag.errors > errors)
            return; /* the next iteration would report the same mistakes again */
        for (int i = 0; i < nbefore; i++) {
            Value *now = &e->env->vals.v[i], *old = &before[i];
            if (value_same(*now, *old))
                continue;
            if (now->kind != V_TENSOR || old->kind != V_TENSOR) {
                if (now->kind != V_ERROR && old->kind != V_ERROR)
                    error_at(s->loc,
                             "'%s' changes in a while loop from %s to %s; only tensors can change in a "
                             "data-dependent loop",
                             e->env->names.v[i], value_desc(e->ctx, *old), value_desc(e->ctx, *now));
                return;
            }
            if (now->t == old->t)
                continue;
            if (!shape_eq(&now->t->shape, &old->t->shape)) {
                error_at(s->loc, "'%s' changes shape in the loop, from %s to %s", e->env->names.v[i],
                         shape_str(e->ctx, &old->t->shape), shape_str(e->ctx, &now->t->shape));
                return;
            }
            IrNode *in[3] = {active, now->t, old->t};
            Value sel = v_tensor(e, b_elem(e->g, OP_WHERE, 3, in, s->loc));
            Value ops[2] = {*now, *old};
            sel = sel.kind == V_TENSOR ? charge_fold(e, sel, ops, 2, s->loc) : sel;
            if (sel.kind == V_ERROR) {
                *now = sel;
                return;
            }
            now->t = sel.t;
        }
    }
}

static void exec_stmt_node(Elab *e, Node *s);

/* -D name=value from the command line overrides a top-level constant of the model. */
static bool define_value(Elab *e, const char *name, Value *out) {
    for (int i = 0; i < e->opt->ndefines; i++) {
        const char *d = e->opt->defines[i], *eq = strchr(d, '=');
        if (!eq || (size_t)(eq - d) != strlen(name) || strncmp(d, name, (size_t)(eq - d)) != 0)
            continue;
        char *end;
        double v = strtod(eq + 1, &end);
        if (*end || end == eq + 1)
            return false; /* reported by the driver */
        *out = v == (double)(int64_t)v && !strpbrk(eq + 1, ".eE") ? v_int((int64_t)v) : v_float(v);
        return true;
    }
    return false;
}

static void exec_stmt(Elab *e, Node *s) {
    if (!charge(e, 1, s->loc) || !enter(e, s->loc))
        return;
    exec_stmt_node(e, s);
    e->depth--;
    charge_nodes(e, s->loc);
}

static void exec_stmt_node(Elab *e, Node *s) {
    Graph *g = e->g;
    switch (s->kind) {
    case N_INPUT: {
        if (e->in_block) {
            error_at(s->loc, "inputs are declared at the top level of the model, not in a block");
            return;
        }
        DType dt;
        if (strcmp(s->dtype_name, "f32") == 0)
            dt = DT_F32;
        else if (strcmp(s->dtype_name, "i32") == 0)
            dt = DT_I32;
        else {
            error_at(s->dtype_loc, "unknown element type '%s'; inputs are f32 or i32", s->dtype_name);
            return;
        }
        Value dims = v_list(e->ctx);
        for (int i = 0; i < s->args.n; i++)
            vec_push(e->ctx, dims.list, eval(e, s->args.v[i]));
        Shape shape;
        if (!shape_from_value(e, dims, s->loc, &shape, true, xsprintf(e->ctx, "input '%s'", s->name), dt)) {
            env_set(e->ctx, e->env, s->name, v_error(e)); /* no "not defined" at every use */
            return;
        }
        for (int i = 0; i < g->inputs.n; i++)
            if (strcmp(g->inputs.v[i].name, s->name) == 0) {
                error_at(s->loc, "input '%s' is declared twice", s->name);
                note_at(g->inputs.v[i].loc, "first declared here");
                return;
            }
        Input in = {.name = s->name, .dtype = dt, .shape = shape, .loc = s->loc};
        in.node = ir_leaf(g, OP_INPUT, dt, shape, g->inputs.n, s->loc);
        vec_push(e->ctx, &g->inputs, in);
        env_set(e->ctx, e->env, s->name, v_tensor(e, in.node));
        return;
    }
    case N_OUTPUT: {
        if (e->in_block) {
            error_at(s->loc, "outputs are declared at the top level of the model; return a value from the block");
            return;
        }
        Value v;
        if (s->a) {
            v = eval(e, s->a);
            env_set(e->ctx, e->env, s->name, v);
        } else {
            Value *p = env_find(e->env, s->name);
            if (!p) {
                error_at(s->loc, "'%s' is not defined", s->name);
                return;
            }
            v = *p;
        }
        if (v.kind == V_ERROR)
            return;
        if (v.kind != V_TENSOR) {
            error_at(s->loc, "output '%s' must be a tensor, got %s", s->name, value_desc(e->ctx, v));
            return;
        }
        for (int i = 0; i < g->outputs.n; i++)
            if (strcmp(g->outputs.v[i].name, s->name) == 0) {
                error_at(s->loc, "output '%s' is declared twice", s->name);
                note_at(g->outputs.v[i].loc, "first declared here");
                return;
            }
        Output o = {.name = s->name, .node = v.t, .loc = s->loc};
        vec_push(e->ctx, &g->outputs, o);
        return;
    }
    case N_PARAM:
    case N_CONST: {
        Value sv = eval(e, s->a);
        Shape shape;
        Init *init;
        const char *what = xsprintf(e->ctx, "%s '%s'", s->kind == N_PARAM ? "param" : "const", s->name);
        IrNode *n = NULL;
        if (sv.kind != V_ERROR && shape_from_value(e, sv, s->a->loc, &shape, false, what, DT_F32)) {
            Value iv = eval(e, s->b);
            if (init_value(e, iv, s->b->loc, &init)) {
                if (init->kind == INIT_DATA && (int64_t)init->a != shape_numel(&shape))
                    error_at(s->b->loc, "the initial data has %lld elements but %s needs %lld", (long long)init->a,
                             shape_str(e->ctx, &shape), (long long)shape_numel(&shape));
                else
                    n = make_param(e, s->name, shape, s->kind == N_PARAM, init, s->loc);
            }
        }
        /* after an error the name is bound to the poison value: no "not defined" at every use */
        if (n || !find_local(e->env, s->name))
            env_set(e->ctx, e->env, s->name, n ? v_tensor(e, n) : v_error(e));
        return;
    }
    case N_INIT: {
        Value v = eval(e, s->a);
        Init *init;
        if (!init_value(e, v, s->a->loc, &init))
            return;
        if (!charge(e, NODE_COST, s->loc)) /* a rule is kept, and matched against every parameter */
            return;
        InitRule r = {.glob = s->name, .init = init, .loc = s->loc};
        vec_push(e->ctx, &e->rules, r);
        return;
    }
    case N_ASSIGN: {
        if (strcmp(s->name, "batch") == 0 && !e->in_block && e->env == e->globals) {
            /* `batch = N` outside train: a top-level setting, read before elaboration */
            return;
        }
        Value v = s->a->kind == N_CALL ? eval_call(e, s->a, NULL, s->a->loc, s->name) : eval(e, s->a);
        if (!e->in_block && e->env == e->globals && define_value(e, s->name, &v))
            e->used_defines++;
        env_set(e->ctx, e->env, s->name, v);
        return;
    }
    case N_FOR: {
        Value it = eval(e, s->b);
        if (it.kind == V_ERROR)
            return;
        if (it.kind != V_LIST) {
            error_at(s->b->loc, "'for' iterates over a list or range(n), got %s", value_desc(e->ctx, it));
            return;
        }
        for (int i = 0; i < it.list->n && !e->returned; i++) {
            if (!charge(e, 1, s->loc)) /* an empty body costs nothing else */
                return;
            Value x = it.list->v[i];
            if (s->a->kind == N_IDENT) {
                env_set(e->ctx, e->env, s->a->name, x);
            } else {
                int n = s->a->args.n;
                if (x.kind != V_LIST || x.list->n != n) {
                    error_at(s->a->loc, "cannot unpack %s into %d names",
                             x.kind == V_LIST ? xsprintf(e->ctx, "a list of %d", x.list->n) : value_desc(e->ctx, x), n);
                    return;
                }
                for (int k = 0; k < n; k++)
                    env_set(e->ctx, e->env, s->a->args.v[k]->name, x.list->v[k]);
            }
            int errors = e->ctx->diag.errors;
            exec_stmts(e, &s->body);
            if (e->ctx->diag.errors > errors)
                break; /* later iterations would mostly report the same mistakes again */
        }
        return;
    }
    case N_WHILE:
        exec_while(e, s);
        return;
    case N_IF: {
        Value c = eval(e, s->a);
        if (c.kind == V_ERROR)
            return;
        if (c.kind == V_TENSOR) {
            error_at(s->a->loc,
                     "'if' needs a compile-time condition, got %s; for a data-dependent choice use "
                     "where(c, a, b)",
                     value_desc(e->ctx, c));
            return;
        }
        if (!is_num(c)) {
            error_at(s->a->loc, "'if' needs a boolean, got %s", value_desc(e->ctx, c));
            return;
        }
        exec_stmts(e, num(c) != 0 ? &s->body : &s->orelse);
        return;
    }
    case N_RETURN:
        if (!e->in_block) {
            error_at(s->loc, "'return' is only allowed in a block; the model's results are its outputs");
            return;
        }
        e->ret = eval(e, s->a);
        e->returned = true;
        return;
    case N_BLOCKDEF:
        if (e->in_block)
            error_at(s->loc, "blocks are defined at the top level");
        return;
    case N_TRAIN:
        if (e->train_node) {
            error_at(s->loc, "a model has one train section");
            note_at(e->train_node->loc, "the first one is here");
            return;
        }
        e->train_node = s;
        return;
    default:
        error_at(s->loc, "an expression cannot stand alone as a statement; assign it: name = ...");
        return;
    }
}

static void exec_stmts(Elab *e, NodeList *body) {
    for (int i = 0; i < body->n && !e->returned && !e->halted; i++)
        exec_stmt(e, body->v[i]);
}

/* ---- driver ---- */

/* The batch size the model declares (train's `batch = N` or a top-level `batch = N`), read before elaboration
 * because input shapes depend on it. */
static int64_t declared_batch(Program *prog) {
    int64_t b = 0;
    for (int i = 0; i < prog->items.n; i++) {
        Node *it = prog->items.v[i];
        Node *s = it->kind == N_TRAIN                                        ? train_find(it, "batch")
                  : (it->kind == N_ASSIGN && strcmp(it->name, "batch") == 0) ? it
                                                                             : NULL;
        if (!s)
            continue;
        if (s->a->kind == N_NUMBER && s->a->is_int && s->a->num >= 1 && s->a->num <= 1 << 20)
            b = (int64_t)s->a->num;
        else
            error_at(s->a->loc, "batch must be a positive integer literal (at most 1048576), got %s",
                     s->a->kind == N_NUMBER ? xsprintf(prog->src->ctx, "%g", s->a->num) : "an expression");
    }
    return b;
}

static void apply_init_rules(Elab *e) {
    for (int r = 0; r < e->rules.n; r++) {
        InitRule *rule = &e->rules.v[r];
        if (!charge(e, e->g->params.n, rule->loc))
            return;
        for (int i = 0; i < e->g->params.n; i++) {
            Param *p = &e->g->params.v[i];
            if (!glob_match(rule->glob, p->name))
                continue;
            rule->matched = true;
            if (rule->init->kind == INIT_DATA && (int64_t)rule->init->a != shape_numel(&p->shape)) {
                error_at(rule->loc, "the initial data has %lld elements but '%s' is %s", (long long)rule->init->a,
                         p->name, shape_str(e->ctx, &p->shape));
                continue;
            }
            vec_push(e->ctx, &p->inits, rule->init);
        }
        if (!rule->matched) {
            error_at(rule->loc, "no parameter matches \"%s\"", rule->glob);
            if (e->g->params.n)
                note_at(e->g->params.v[0].loc, "parameters are named like \"%s\"", e->g->params.v[0].name);
        }
    }
}

Graph *elaborate(Program *prog, const char *model_name, const ElabOptions *opt) {
    Ctx *ctx = prog->src->ctx;
    Elab e = {.ctx = ctx};
    e.opt = opt;
    e.arena_start = ctx_allocated(ctx);
    e.g = graph_new(ctx, model_name);
    e.prog = prog;
    e.training = opt->training;
    e.globals = env_new(ctx, NULL);
    e.env = e.globals;
    Scope root = {.prefix = ""};
    e.scope = &root;
    int64_t b = declared_batch(prog);
    e.g->max_batch = opt->batch > 0 ? opt->batch : b > 0 ? b : 1;
    e.blocks = env_new(ctx, NULL);
    for (int i = 0; i < prog->items.n; i++) {
        Node *it = prog->items.v[i];
        if (it->kind == N_BLOCKDEF) {
            Node *first = find_block(&e, it->name);
            if (first) {
                error_at(it->loc, "block '%s' is defined twice", it->name);
                note_at(first->loc, "first defined here");
            } else {
                env_set(ctx, e.blocks, it->name, (Value){.kind = V_BLOCK, .block = it});
            }
            if (builtin_lookup(it->name) >= 0)
                error_at(it->loc, "'%s' is a built-in; give the block another name", it->name);
            Env *seen = env_new(ctx, NULL);
            for (int j = 0; j < it->params.n; j++) {
                if (find_local(seen, it->params.v[j]->name))
                    error_at(it->params.v[j]->loc, "block '%s' has two parameters named '%s'", it->name,
                             it->params.v[j]->name);
                env_set(ctx, seen, it->params.v[j]->name, v_none());
            }
        }
    }
    exec_stmts(&e, &prog->items);
    for (int i = 0; i < opt->ndefines; i++) {
        /* a -D that names no top-level constant is a mistake the user wants to hear about */
        const char *d = opt->defines[i], *eq = strchr(d, '=');
        bool found = false;
        for (int k = 0; k < prog->items.n && eq; k++) {
            Node *it = prog->items.v[k];
            found |= it->kind == N_ASSIGN && strlen(it->name) == (size_t)(eq - d) &&
                     strncmp(it->name, d, (size_t)(eq - d)) == 0;
        }
        if (!found)
            error_at(parse_loc_raw(prog->src, 1, 1, 1, 1), "-D %s: the model has no top-level constant of that name",
                     d);
    }
    if (e.halted)
        return e.g;
    apply_init_rules(&e);
    if (e.train_node && !e.halted)
        elab_train(&e, e.train_node);
    if (e.g->outputs.n == 0 && !e.g->train.present && ctx->diag.errors == 0)
        error_at(parse_loc_raw(prog->src, 1, 1, 1, 1), "the model has no outputs; mark a result with 'output name'");
    return e.g;
}
