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
#include <errno.h>
#include <math.h>

#include "elab.h"
#include "parser.h"

/* ---- argument lists ---- */

void args_push(Ctx *ctx, Args *a, const char *key, Value v, Loc loc) {
    Arg arg = {.key = key, .v = v, .loc = loc};
    vec_push(ctx, a, arg);
    if (key)
        return;
    /* after a keyword (an error already reported) the positional argument still counts as one */
    memmove(&a->v[a->npos + 1], &a->v[a->npos], sizeof(Arg) * (size_t)(a->n - 1 - a->npos));
    a->v[a->npos++] = arg;
}

/* The first keyword argument named `key`, or NULL. */
Arg *args_find_key(Args *a, const char *key) {
    for (int i = a->npos; i < a->n; i++)
        if (strcmp(a->v[i].key, key) == 0)
            return &a->v[i];
    return NULL;
}

/* The argument named `key`, or positional number `pos` (-1: keyword only). */
bool arg_get(Args *a, const char *key, int pos, Value *out, Loc *loc) {
    Arg *arg = args_find_key(a, key);
    if (!arg && pos >= 0 && pos < a->npos)
        arg = &a->v[pos];
    if (!arg)
        return false;
    *out = arg->v;
    if (loc)
        *loc = arg->loc;
    return true;
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
    if (args->n != np) {
        error_at(loc, "block '%s' takes %d argument%s (%s), got %d", def->name, np, np == 1 ? "" : "s",
                 block_params_str(ctx, def), args->n);
        note_at(def->loc, "'%s' is defined here", def->name);
        return v_error(e);
    }
    if (!charge(e, (int64_t)(args->n - args->npos) * np, loc)) /* matching keywords to parameters */
        return v_error(e);
    Env *env = env_new(ctx, e->globals);
    for (int i = 0; i < args->npos; i++)
        env_set(ctx, env, def->params.v[i]->name, args->v[i].v);
    for (int i = args->npos; i < args->n; i++) {
        bool found = false;
        for (int j = 0; j < np; j++)
            if (strcmp(def->params.v[j]->name, args->v[i].key) == 0) {
                env_set(ctx, env, args->v[i].key, args->v[i].v);
                found = true;
            }
        if (!found) {
            error_at(args->v[i].loc, "block '%s' has no parameter '%s'; its parameters are %s", def->name,
                     args->v[i].key, block_params_str(ctx, def));
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
    Args args = {0};
    args.loc = loc;
    args_push(e->ctx, &args, NULL, input, loc);
    for (int i = 0; i < l->args.n; i++)
        args_push(e->ctx, &args, l->args.v[i].key, l->args.v[i].v, l->args.v[i].loc);
    return call_block_with(e, l->block, l, &args, loc);
}

static char *next_layer_name(Elab *e, const char *label) {
    int idx = e->scope->counter++;
    return label ? xsprintf(e->ctx, "%s%s", e->scope->prefix, label) : xsprintf(e->ctx, "%s%d", e->scope->prefix, idx);
}

void args_eval(Elab *e, Node *call, Value *first, Loc first_loc, Args *a) {
    memset(a, 0, sizeof *a);
    a->loc = call->loc;
    if (first)
        args_push(e->ctx, a, NULL, *first, first_loc);
    for (int i = 0; i < call->args.n; i++) {
        Node *arg = call->args.v[i];
        if (arg->kind == N_KWARG) {
            /* the duplicate check is linear in the keywords so far: charged, a call can have thousands */
            if (!charge(e, a->n - a->npos, arg->loc)) {
                args_push(e->ctx, a, NULL, v_error(e), arg->loc); /* the call is not made */
                return;
            }
            if (args_find_key(a, arg->name))
                error_at(arg->loc, "argument '%s' given twice", arg->name);
            args_push(e->ctx, a, arg->name, eval(e, arg->a), arg->loc);
        } else {
            if (a->n > a->npos)
                error_at(arg->loc, "a positional argument cannot follow keyword arguments");
            args_push(e->ctx, a, NULL, eval(e, arg), arg->loc);
        }
    }
}

bool args_have_error(Args *a) {
    for (int i = 0; i < a->n; i++)
        if (a->v[i].v.kind == V_ERROR)
            return true;
    return false;
}

static Node *find_block(Elab *e, const char *name) {
    int i = env_index(e->blocks, name);
    return i >= 0 ? e->blocks->vals.v[i].block : NULL;
}

/* A call of a layer (built-in or block): applied when its first argument is a tensor, an instance otherwise. */
static Value call_layer(Elab *e, const Builtin *fn, Node *block, Args *a, const char *label, const char *hint,
                        Loc loc) {
    bool apply = a->npos > 0 && a->v[0].v.kind == V_TENSOR;
    if (block) {
        int np = block->params.n;
        apply = a->n == np && a->npos > 0 && a->v[0].v.kind == V_TENSOR;
        if (!apply && a->n != np - 1) {
            error_at(loc, "block '%s' takes %d argument%s (%s), or %d without the input to make a layer, got %d",
                     block->name, np, np == 1 ? "" : "s", block_params_str(e->ctx, block), np - 1, a->n);
            note_at(block->loc, "'%s' is defined here", block->name);
            return v_error(e);
        }
    }
    Layer *l = xalloc(e->ctx, sizeof(Layer));
    l->fn = fn;
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
    l->args.fname = block ? block->name : fn->name;
    if (apply) {
        Value input = a->v[0].v;
        l->args.v++;
        l->args.n--;
        l->args.cap--;
        l->args.npos--;
        return apply_layer(e, l, input, loc);
    }
    Value v = {.kind = V_LAYER, .layer = l};
    return v;
}

static Value eval_call(Elab *e, Node *call, Value *pipe_in, Loc pipe_loc, const char *hint);

/* x.f(args), PyTorch's method spelling (A.sum(axis=0), y.detach(), X.argmax(1)): the built-in f applied to the
 * tensor x as by x |> f(args). */
static Value eval_method(Elab *e, Node *call, const char *hint) {
    Node *attr = call->a;
    Value obj = eval(e, attr->a);
    if (obj.kind == V_ERROR)
        return obj;
    if (obj.kind != V_TENSOR || env_find(e->env, attr->name) || !builtin_lookup(e->ctx, attr->name)) {
        error_at(attr->loc, "%s has no method '%s'%s", value_desc(e->ctx, obj), attr->name,
                 obj.kind == V_TENSOR ? did_you_mean(e->ctx, suggest_name(e, attr->name, true))
                                      : " (tensors have the built-in functions as methods: x.sum())");
        return v_error(e);
    }
    Node fn = *call;
    fn.a = node_ident(e->ctx, attr->name, attr->loc);
    return eval_call(e, &fn, &obj, attr->a->loc, hint);
}

/* A pipeline stage after an earlier stage's error: what can be checked without its input is, so that one run
 * reports every argument mistake of a pipeline (an unknown callee, an argument the row does not take, one
 * positional argument too many). Nothing is built. */
static void check_pipe_stage(Elab *e, Node *stage) {
    Node *callee = stage->kind == N_CALL ? stage->a : stage;
    if (callee->kind != N_IDENT || env_find(e->env, callee->name) || find_block(e, callee->name))
        return;
    const Builtin *fn = builtin_lookup(e->ctx, callee->name);
    if (!fn) {
        error_at(callee->loc, "unknown function or layer '%s'%s", callee->name,
                 did_you_mean(e->ctx, suggest_name(e, callee->name, true)));
        return;
    }
    if (stage->kind != N_CALL || !fn->params || fn->match)
        return;
    Args a;
    Value input = v_none(); /* a function's first argument is the input; a layer's row leaves it out */
    args_eval(e, stage, fn->kind == BK_LAYER ? NULL : &input, stage->loc, &a);
    a.fname = fn->name;
    if (!args_have_error(&a))
        args_check(&a, fn->params);
}

/* Evaluates a call node; `pipe_in` is the left side of `|>` (prepended to the arguments). */
static Value eval_call(Elab *e, Node *call, Value *pipe_in, Loc pipe_loc, const char *hint) {
    Node *callee = call->a;
    Value fv;
    if (callee->kind == N_ATTR && !pipe_in)
        return eval_method(e, call, hint);
    if (callee->kind == N_IDENT && !env_find(e->env, callee->name) && !builtin_lookup(e->ctx, callee->name) &&
        !find_block(e, callee->name)) {
        error_at(callee->loc, "unknown function or layer '%s'%s", callee->name,
                 did_you_mean(e->ctx, suggest_name(e, callee->name, true)));
        return v_error(e);
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
        return call_layer(e, NULL, fv.block, &a, call->label, hint, call->loc);
    if (fv.kind == V_LAYER) {
        if (a.npos != 1 || a.n != 1) {
            error_at(call->loc, "layer instance '%s' takes exactly its input, got %d arguments",
                     fv.layer->name    ? fv.layer->name
                     : fv.layer->block ? fv.layer->block->name
                                       : fv.layer->fn->name,
                     a.n);
            return v_error(e);
        }
        return apply_instance(e, fv.layer, a.v[0].v, call->loc);
    }
    if (fv.kind != V_FUNC) {
        error_at(callee->loc, "%s is not callable", value_desc(e->ctx, fv));
        return v_error(e);
    }
    if (fv.fn->kind == BK_LAYER)
        return charge_fold_args(e, call_layer(e, fv.fn, NULL, &a, call->label, hint, call->loc), &a, call->loc);
    if (call->label)
        error_at(call->label_loc, "'%s' is a function, not a layer: it has no name to give", fv.fn->name);
    return charge_fold_args(e, call_builtin(e, fv.fn, &a, call->loc), &a, call->loc);
}

/* Applies a value as a function to one argument: `x |> relu`, `x |> shared`. */
static Value apply_value(Elab *e, Value f, Value x, Node *at, Loc loc) {
    if (f.kind == V_ERROR || x.kind == V_ERROR)
        return v_error(e);
    if (f.kind == V_LAYER)
        return apply_instance(e, f.layer, x, loc);
    Args a = {0};
    a.loc = loc;
    args_push(e->ctx, &a, NULL, x, loc);
    const char *label = at && at->kind == N_IDENT ? at->label : NULL;
    if (f.kind == V_BLOCK)
        return call_layer(e, NULL, f.block, &a, label, NULL, loc);
    if (f.kind == V_FUNC) {
        a.fname = f.fn->name;
        if (f.fn->kind == BK_LAYER)
            return charge_fold_args(e, call_layer(e, f.fn, NULL, &a, label, NULL, loc), &a, loc);
        return charge_fold_args(e, call_builtin(e, f.fn, &a, loc), &a, loc);
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
    const Builtin *b = builtin_lookup(e->ctx, n->name);
    if (b)
        return (Value){.kind = V_FUNC, .fn = b};
    error_at(n->loc, "'%s' is not defined%s", n->name, did_you_mean(e->ctx, suggest_name(e, n->name, false)));
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
        return n->is_int ? v_int(n->inum) : v_float(n->num);
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
        if (x.kind == V_ERROR) {
            check_pipe_stage(e, n->b);
            return x;
        }
        if (n->b->kind == N_CALL)
            return eval_call(e, n->b, &x, n->a->loc, NULL);
        Value f = eval(e, n->b);
        return apply_value(e, f, x, n->b, n->b->loc);
    }
    case N_CALL:
        return eval_call(e, n, NULL, n->loc, NULL);
    case N_INDEX:
        return eval_index(e, n);
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
        if (a.kind == V_TENSOR && strcmp(n->name, "T") == 0) {
            /* x.T: the axes reversed (a matrix's transpose), as PyTorch's */
            int perm[MAX_RANK], r = a.t->shape.rank;
            for (int k = 0; k < r; k++)
                perm[k] = r - 1 - k;
            return v_tensor(e, r == 2 && !a.t->shape.batched ? b_transpose(e->g, a.t, n->loc)
                                                             : b_permute(e->g, a.t, perm, n->loc));
        }
        error_at(n->loc, "%s has no attribute '%s' (tensors have .shape and .T)", value_desc(ctx, a), n->name);
        return v_error(e);
    }
    default:
        error_at(n->loc, "this is a statement, not an expression");
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
    /* still true after the last iteration: the result is truncated, which the generated code must report */
    Value c = eval(e, s->a);
    if (c.kind != V_TENSOR || !active)
        return;
    IrNode *flag = b_binary(e->g, OP_MUL, active, c.t, s->loc);
    double v;
    if (!flag || (ir_is_const(flag, &v) && v == 0))
        return;
    if (ir_is_const(flag, &v)) {
        error_at(s->loc,
                 "the loop's condition still holds after its %lld iterations (max %lld), so its result "
                 "would be truncated; raise the bound after 'max'",
                 (long long)k, (long long)k);
        return;
    }
    vec_push(e->ctx, &e->g->loop_limits, ((LoopLimit){flag, s->loc, k}));
}

static void exec_stmt_node(Elab *e, Node *s);

/* -D name=value from the command line overrides a top-level constant of the model. */
static bool define_value(Elab *e, const char *name, Value *out) {
    for (int i = 0; i < e->opt->ndefines; i++) {
        const char *d = e->opt->defines[i], *eq = strchr(d, '=');
        if (!eq || (size_t)(eq - d) != strlen(name) || strncmp(d, name, (size_t)(eq - d)) != 0)
            continue;
        /* the driver checked the spelling and the range */
        char *end;
        if (strpbrk(eq + 1, ".eE")) {
            *out = v_float(strtod(eq + 1, &end));
        } else {
            errno = 0;
            long long v = strtoll(eq + 1, &end, 10);
            if (errno == ERANGE)
                return false;
            *out = v_int((int64_t)v);
        }
        return !*end && end != eq + 1;
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

/* Executes the declaration `input name: dtype[dims]`. */
static void exec_input(Elab *e, Node *s) {
    Graph *g = e->g;
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

/* Executes `output name = value` or `output name`. */
static void exec_output(Elab *e, Node *s) {
    Graph *g = e->g;
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
    Value *first = env_find(e->outputs, s->name);
    if (first) {
        error_at(s->loc, "output '%s' is declared twice", s->name);
        note_at(g->outputs.v[first->i].loc, "first declared here");
        return;
    }
    env_set(e->ctx, e->outputs, s->name, v_int(g->outputs.n));
    Output o = {.name = s->name, .node = v.t, .loc = s->loc};
    vec_push(e->ctx, &g->outputs, o);
    return;
}

/* Executes `param name: [dims] = init`, `const name: [dims] = init` and `state name: [dims] = init`. */
static void exec_param(Elab *e, Node *s) {
    Value sv = eval(e, s->a);
    Shape shape;
    Init *init;
    const char *kw = s->kind == N_PARAM ? "param" : s->kind == N_CONST ? "const" : "state";
    const char *what = xsprintf(e->ctx, "%s '%s'", kw, s->name);
    IrNode *n = NULL;
    if (sv.kind != V_ERROR && shape_from_value(e, sv, s->a->loc, &shape, false, what, DT_F32)) {
        Value iv = eval(e, s->b);
        if (init_value(e, iv, s->b->loc, &init)) {
            if (init->kind == INIT_DATA && (int64_t)init->a != shape_numel(&shape))
                error_at(s->b->loc, "the initial data has %lld elements but %s needs %lld", (long long)init->a,
                         shape_str(e->ctx, &shape), (long long)shape_numel(&shape));
            else
                n = make_param(e, s->name, shape, s->kind == N_PARAM, init, s->loc);
            if (n && s->kind == N_STATE)
                e->g->params.v[n->index].state = true;
        }
    }
    /* after an error the name is bound to the poison value: no "not defined" at every use */
    if (n || !find_local(e->env, s->name))
        env_set(e->ctx, e->env, s->name, n ? v_tensor(e, n) : v_error(e));
    return;
}

/* Executes `name := value`: in training mode, the value the state `name` takes once the training step is done
 * (reads of `name` in the same step see the old value); evaluation and inference never set a state, so the
 * evaluation graph only checks the statement. */
static void exec_update(Elab *e, Node *s) {
    Value *sv = env_find(e->env, s->name);
    Value v = eval(e, s->a);
    if (!sv) {
        error_at(s->loc, "'%s' is not defined; ':=' sets a state declared with 'state %s: [dims] = init'", s->name,
                 s->name);
        return;
    }
    if (sv->kind == V_ERROR || v.kind == V_ERROR)
        return;
    IrNode *st = sv->kind == V_TENSOR ? sv->t : NULL;
    if (!st || st->op != OP_STATE || !e->g->params.v[st->index].state) {
        error_at(s->loc, "':=' sets a state, but '%s' is %s; declare it with 'state %s: [dims] = init'", s->name,
                 st && st->op == OP_STATE   ? "a const"
                 : st && st->op == OP_PARAM ? "a param"
                                            : value_desc(e->ctx, *sv),
                 s->name);
        return;
    }
    IrNode *x =
        to_tensor(e, v, s->a->loc, xsprintf(e->ctx, "the new value of state '%s'", e->g->params.v[st->index].name));
    if (x)
        state_set(e, st->index, x, s->loc, s->a->loc);
}

bool state_set(Elab *e, int param, IrNode *x, Loc loc, Loc value_loc) {
    Param *p = &e->g->params.v[param];
    if (x->dtype != DT_F32 || x->shape.batched || !shape_eq(&x->shape, &p->shape)) {
        error_at(value_loc, "state '%s' is %s, but its new value is %s", p->name, type_str(e->ctx, DT_F32, &p->shape),
                 type_str(e->ctx, x->dtype, &x->shape));
        return false;
    }
    for (int i = 0; i < e->g->updates.n; i++)
        if (e->g->updates.v[i].param == param) {
            error_at(loc, "state '%s' is set twice in one training step", p->name);
            note_at(e->g->updates.v[i].loc, "it was set here");
            return false;
        }
    if (!e->training)
        return true;
    StateUpdate u = {.param = param, .value = x, .loc = loc};
    vec_push(e->ctx, &e->g->updates, u);
    return true;
}

/* Executes `for x in list:` and `for a, b in list:`. */
static void exec_for(Elab *e, Node *s) {
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

/* Executes `if cond:` ... `else:`, on a compile-time condition. */
static void exec_if(Elab *e, Node *s) {
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

static void exec_stmt_node(Elab *e, Node *s) {
    switch (s->kind) {
    case N_INPUT:
        exec_input(e, s);
        return;
    case N_OUTPUT:
        exec_output(e, s);
        return;
    case N_PARAM:
    case N_CONST:
    case N_STATE:
        exec_param(e, s);
        return;
    case N_UPDATE:
        exec_update(e, s);
        return;
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
        Value v = s->args.n              ? assign_index(e, s)
                  : s->a->kind == N_CALL ? eval_call(e, s->a, NULL, s->a->loc, s->name)
                                         : eval(e, s->a);
        if (!e->in_block && e->env == e->globals && define_value(e, s->name, &v))
            e->used_defines++;
        env_set(e->ctx, e->env, s->name, v);
        return;
    }
    case N_FOR:
        exec_for(e, s);
        return;
    case N_WHILE:
        exec_while(e, s);
        return;
    case N_IF:
        exec_if(e, s);
        return;
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
    e.outputs = env_new(ctx, NULL);
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
            if (builtin_lookup(ctx, it->name))
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
