/* elab.h: what the files of the elaborator share.
 *
 * Elaboration (AST -> graph) runs the .dlm program at compile time; dlc.h declares its one entry, elaborate().
 * The interpreter's values, environments and state are private to it, so they live here rather than in dlc.h:
 * only the elaborator's files include this header. Declarations are grouped under a banner per file. */
#ifndef ELAB_H
#define ELAB_H

#include "dlc.h"

typedef enum ValueKind {
    V_ERROR,
    V_NONE,
    V_INT,
    V_FLOAT,
    V_BOOL,
    V_STR,
    V_LIST,
    V_TENSOR,
    V_LAYER,
    V_BLOCK,
    V_FUNC,
    V_INIT,
    V_BATCH,
} ValueKind;

typedef struct Value Value;
typedef struct Layer Layer;
typedef struct ValueList ValueList;
typedef struct Builtin Builtin;

struct Value {
    ValueKind kind;
    int64_t i;
    double f;
    char *s;
    ValueList *list;
    IrNode *t;
    Layer *layer;
    Node *block;
    const Builtin *fn; /* V_FUNC */
    Init *init;
};

struct ValueList {
    Value *v;
    int n, cap;
};

/* One argument of a call, evaluated: positional (key NULL) or `key = value`. */
typedef struct Arg {
    const char *key;
    Value v;
    Loc loc;
} Arg;

/* The arguments of a call: the positional ones first, in order, then the keywords in order. */
typedef struct Args {
    Arg *v;
    int n, cap;
    int npos;          /* v[0 .. npos) are positional */
    Loc loc;           /* the call */
    const char *fname; /* what messages call the callee */
} Args;

/* A layer instance: a built-in layer or a block, with its name and configuration, and the parameters it
 * created on first application (reused by later applications: tied weights). */
struct Layer {
    const Builtin *fn; /* a built-in layer: its row; NULL for a block */
    Node *block;       /* N_BLOCKDEF */
    char *name;        /* full name prefix: "features.0" */
    Args args;         /* configuration (without the input) */
    int applied;
    int param_first, param_count; /* built-in layers: the parameters made at first application */
    Loc loc;
};

typedef struct Env Env;
struct Env {
    Vec(char *) names; /* each once; a name keeps its position (exec_while relies on it) */
    Vec(Value) vals;
    Env *parent;
    int *index; /* past a few names, an open-addressed hash of them: position + 1, 0 empty */
    int index_cap;
};

/* Naming scope of a block application: full-name prefix and the index of the next layer call. */
typedef struct Scope {
    char *prefix;
    int counter;
    bool reuse; /* a block instance applied again: parameters of the same name are the same tensors */
} Scope;

typedef struct InitRule {
    char *glob;
    Init *init;
    Loc loc;
    bool matched;
} InitRule;

typedef struct Elab {
    Ctx *ctx;
    Graph *g;
    const ElabOptions *opt;
    int used_defines;
    Program *prog;
    Env *globals;
    Scope *scope;
    Env *env;
    bool training;
    int dropout_salt;
    int randn_made; /* randn(...) tensors so far: their names, randn.0, randn.1, ... */
    Vec(InitRule) rules;
    bool in_block;
    Value ret;
    bool returned;
    Node *train_node;
    Env *blocks;  /* the block definitions by name (the first of a name) */
    Env *outputs; /* the outputs' names, each bound to its index in g->outputs: a model may have many */
    /* Limits that keep a hostile or mistaken program from hanging the compiler or exhausting its stack. */
    int64_t work;       /* steps taken (statements, expressions, elements of compile-time data made or read) */
    int nodes_charged;  /* graph nodes already paid for */
    size_t arena_start; /* ctx_allocated() when elaboration began */
    int *param_table;   /* open-addressed hash of parameter names: index + 1, 0 empty */
    int param_table_cap;
    int depth;   /* nesting of expressions and statements being run */
    int calls;   /* nesting of block applications */
    bool halted; /* a limit was hit: elaboration unwinds without doing anything more */
} Elab;

/* Steps of elaboration a model may take: one per expression and statement run, and in proportion to the time
 * they take, NODE_COST per graph node, CALL_COST per layer or block application, ELEMS(n) for n elements of
 * compile-time data folded or made, LIST_ELEMS(n) for n list elements. The zoo takes at most a few thousand;
 * the budget is spent in well under a second. ELAB_MEMORY bounds the memory taken on the way. */
#define ELAB_BUDGET ((int64_t)1 << 22)
#define NODE_COST 16
#define CALL_COST 64
#define ELEMS(n) ((n) / 16 + 1)
#define LIST_ELEMS(n) ((n) / 4 + 1)
#define ELAB_MEMORY ((size_t)1 << 29)
#define MAX_DEPTH 1000 /* expressions and statements nested in each other, block calls included */
#define MAX_CALLS 200  /* block applications nested in each other */
#define MAX_LIST ((int64_t)1 << 20)

/* The poison value. It stands for an error already reported: one made without a message would drop a statement
 * silently and give a wrong model with no diagnostic, so that is a compiler bug. */
static inline Value v_error(Elab *e) {
    if (e->ctx->diag.errors == 0)
        die("an erroneous value with no error reported");
    return (Value){.kind = V_ERROR};
}
static inline Value v_none(void) { return (Value){.kind = V_NONE}; }
static inline Value v_int(int64_t i) { return (Value){.kind = V_INT, .i = i}; }
static inline Value v_float(double f) { return (Value){.kind = V_FLOAT, .f = f}; }
static inline Value v_bool(bool b) { return (Value){.kind = V_BOOL, .i = b}; }
static inline Value v_tensor(Elab *e, IrNode *t) { return t ? (Value){.kind = V_TENSOR, .t = t} : v_error(e); }
static inline Value v_init(Init *i) { return (Value){.kind = V_INIT, .init = i}; }

static inline Value v_list(Ctx *ctx) {
    Value v = {.kind = V_LIST};
    v.list = xalloc(ctx, sizeof(ValueList));
    return v;
}

static inline bool is_num(Value v) { return v.kind == V_INT || v.kind == V_FLOAT || v.kind == V_BOOL; }
static inline double num(Value v) { return v.kind == V_FLOAT ? v.f : (double)v.i; }

/* ---- value.c: values, the budget, environments, conversions, operators ---- */

/* "f32[batch 256, 10]", "the integer 3", "a string": what a message says was found */
char *value_desc(Ctx *ctx, Value v);
bool value_same(Value a, Value b); /* the same compile-time value (a while loop may not change them) */

/* Charges `cost` steps to the budget; false, after one located error that halts elaboration, once it is spent. */
bool charge(Elab *e, int64_t cost, Loc loc);
/* A compile-time result `r` computed from operands `ops`: charges the elements folded. */
Value charge_fold(Elab *e, Value r, const Value *ops, int nops, Loc loc);
/* charge_fold for a call's result, from its arguments (lists of constants included: concat, penalties). */
Value charge_fold_args(Elab *e, Value r, const Args *a, Loc loc);
/* Charges the graph nodes made since the last call. */
bool charge_nodes(Elab *e, Loc loc);
/* Enters one more level of nesting; false, after a located error that halts elaboration, past MAX_DEPTH. */
bool enter(Elab *e, Loc loc);

uint64_t name_hash(const char *s);
Env *env_new(Ctx *ctx, Env *parent);
int env_index(Env *e, const char *name); /* the position of `name` in scope e (not its parents), or -1 */
Value *env_find(Env *e, const char *name);
bool find_local(Env *e, const char *name);
void env_set(Ctx *ctx, Env *e, const char *name, Value v);

/* Conversions: false (NULL) after a located error that names the value `what`. */
bool want_int(Value v, Loc loc, const char *what, int64_t *out);
bool want_num(Value v, Loc loc, const char *what, double *out);
bool want_pair(Value v, Loc loc, const char *what, int64_t out[2]); /* an integer or an (h, w) pair */
IrNode *to_tensor(Elab *e, Value v, Loc loc, const char *what);     /* numbers and nested lists become constants */
/* The shape a value spells ([2, 3], 4, [batch, 784]) of the tensor `what`, of element type dt. */
bool shape_from_value(Elab *e, Value v, Loc loc, Shape *s, bool allow_batch, const char *what, DType dt);
Init *init_new(Ctx *ctx, InitKind k, double a, double b);
bool init_value(Elab *e, Value v, Loc loc, Init **out); /* an initialiser from a value: normal(0, 1), 0, [1, 2] */
/* `a op b` for a binary operator token of the parser: numbers fold, tensors become graph nodes. */
Value arith(Elab *e, int op, Value a, Value b, Loc loc);
IrNode *matmul_any(Graph *g, IrNode *a, IrNode *b, Loc loc); /* a @ b with vectors and stacks of matrices */
/* softmax or log_softmax along any axis of an example (builtins.c) */
IrNode *softmax_along(Graph *g, Op op, IrNode *x, int64_t axis, Loc axis_loc, Loc loc);

/* ---- elab.c: the interpreter ---- */

Value eval(Elab *e, Node *n);
/* Adds an argument; a positional one goes after the positional ones already there. */
void args_push(Ctx *ctx, Args *a, const char *key, Value v, Loc loc);
/* Evaluates a call's arguments; `first` (the left side of `|>`) is prepended. */
void args_eval(Elab *e, Node *call, Value *first, Loc first_loc, Args *a);
bool args_have_error(Args *a);
/* The argument named `key`, or positional number `pos` (-1: keyword only). */
bool arg_get(Args *a, const char *key, int pos, Value *out, Loc *loc);
Arg *args_find_key(Args *a, const char *key); /* the first keyword argument named `key`, or NULL */
/* A block applied as a layer: its input, then the instance's arguments. */
Value apply_block(Elab *e, Layer *l, Value input, Loc loc);

/* ---- suggest.c: "did you mean" ---- */

/* The known name nearest to `name` (variables in reach unless `callable`, blocks, builtins, ops), or NULL when
 * none is close enough to be a slip; suggest_among picks among `cands`. */
const char *suggest_name(Elab *e, const char *name, bool callable);
const char *suggest_among(const char *name, const char *const *cands, int ncands);
char *did_you_mean(Ctx *ctx, const char *suggestion); /* "; did you mean 'x'?", or "" */

/* ---- index.c: subscripts ---- */

Value eval_index(Elab *e, Node *n);   /* a[subscripts] (N_INDEX) on a tensor or a list */
Value assign_index(Elab *e, Node *s); /* `X[subscripts] = value` (N_ASSIGN with args): the new X */

/* ---- builtins.c: the builtins' table and how their arguments are bound ---- */

/* The kind of value a builtin's parameter takes; the parameter's accessor converts its argument to it. */
typedef enum ArgKind {
    AK_VALUE,  /* any value: the handler looks at it */
    AK_TENSOR, /* a tensor; numbers and nested lists of numbers become constants */
    AK_INT,    /* a compile-time integer */
    AK_NUM,    /* a compile-time number */
    AK_PAIR,   /* an integer or an (h, w) pair of them */
    AK_BOOL,   /* true or false; another value is reported and the default taken */
    AK_INIT,   /* an initialiser */
    /* settings of a data source (train.c), as the runtime reads them */
    AK_STR,   /* a string */
    AK_STRS,  /* a list of strings */
    AK_NUMS,  /* a non-empty list of numbers */
    AK_COUNT, /* an integer in 1..2^30 */
} ArgKind;

/* How a parameter may be given. Positional parameters come first: parameter i is positional argument i. */
enum { PF_POS = 1, PF_KEY = 2, PF_OPT = 4 };

/* A parameter of a builtin. */
typedef struct BuiltinParam {
    const char *name;
    ArgKind kind;
    int flags;           /* PF_POS: by position; PF_KEY: by name; PF_OPT: may be left out */
    double dflt;         /* the value of an optional number, integer, pair (both halves) or boolean left out */
    const char *what;    /* how messages about its value name it, when not by its name ("linear's output size") */
    const char *missing; /* the error when it is required and left out: a format whose %s are the builtin's
                          * name (NULL: "f needs argument 'x' (number 1), got 0 arguments") */
} BuiltinParam;

typedef enum BuiltinKind {
    BK_LAYER,    /* applied to an input tensor and counted as a layer call (naming); without it, an instance */
    BK_FUNCTION, /* a function of its arguments */
    BK_INIT,     /* an initialiser; its bare name is one too (`init "*.weight" = xavier_uniform`) */
} BuiltinKind;

typedef struct Call Call;

/* A builtin: one row of a table. Rows of one name are adjacent; a call takes the first whose `match` accepts
 * its arguments (or that has none). */
struct Builtin {
    const char *name;
    BuiltinKind kind;
    const BuiltinParam *params; /* ends with {0}; NULL: the handler reads the arguments itself (zeros(2, 3)) */
    Value (*fn)(Call *c);       /* the handler */
    Op op;                      /* for handlers that rows share: the IR op the row builds */
    InitKind init;              /* ... or the initialiser it makes */
    bool (*match)(const Args *a);
    /* The message for one positional argument too many, where it has a likely cause: PyTorch's nn.Linear(in, out)
     * written as linear(784, 256). Given the two arguments' spellings. */
    const char *extra_positional;
};

#define MAX_BUILTIN_PARAMS 8

/* A call of a builtin being made: its row, the arguments bound to the row's parameters and, for a layer, the
 * instance applied and its input. */
struct Call {
    Elab *e;
    const Builtin *fn;
    Args *args;
    Arg *arg[MAX_BUILTIN_PARAMS]; /* per parameter of the row, its argument; NULL: left out */
    Loc loc;                      /* the call; a layer's application */
    Layer *layer;                 /* BK_LAYER */
    IrNode *x;                    /* BK_LAYER: the input, an f32 tensor */
};

extern const Builtin function_builtins[]; /* the functions and initialisers (builtins.c) */
extern const Builtin layer_builtins[];    /* the layers (layers.c) */
/* The first row named `name` (for an op with that surface name in ops.def, a row made in ctx's arena), or NULL. */
const Builtin *builtin_lookup(Ctx *ctx, const char *name);
/* Calls the function or initialiser `fn` with the arguments `a`. */
Value call_builtin(Elab *e, const Builtin *fn, Args *a, Loc loc);
/* Binds c's arguments to its row's parameters (false, after located errors, for arguments it does not take) and
 * runs the row's handler. */
Value builtin_run(Call *c);
/* Checks that a call gives no more positional arguments than `params` take and only keywords they name. */
bool args_check(Args *a, const BuiltinParam *params);

/* A handler's arguments, by parameter name, converted to the parameter's kind: false (NULL) after a located
 * error. An optional parameter left out gives its default. */
bool arg_has(Call *c, const char *name);
Loc arg_loc(Call *c, const char *name);    /* where the argument is; the call's arguments when left out */
Arg *arg_value(Call *c, const char *name); /* the argument as given; NULL when left out */
IrNode *arg_tensor(Call *c, const char *name);
bool arg_int(Call *c, const char *name, int64_t *out);
bool arg_num(Call *c, const char *name, double *out);
bool arg_pair(Call *c, const char *name, int64_t out[2]);
bool arg_bool(Call *c, const char *name);
Init *arg_init(Call *c, const char *name, Init *dflt); /* `dflt` when left out or wrong (after its error) */
/* Argument `key` (or positional number `pos`) of a call without a row (a metric), as a tensor. */
IrNode *tensor_arg(Elab *e, Args *a, const char *key, int pos);

/* ---- layers.c: parameters and the built-in layers ---- */

/* Creates (or, in a re-applied block instance, finds) parameter `local` of the current scope; NULL after an error. */
IrNode *make_param(Elab *e, const char *local, Shape shape, bool trainable, Init *init, Loc loc);
/* Records x as the value state parameter `param` takes after the training step (`:=`, batch_norm's running
 * statistics); only the training graph records it. False after an error (a shape other than the state's, a
 * second setting in the step). */
bool state_set(Elab *e, int param, IrNode *x, Loc loc, Loc value_loc);
/* Applies layer instance `l` (a built-in layer or a block) to `input`. */
Value apply_layer(Elab *e, Layer *l, Value input, Loc loc);

/* ---- train.c: the train section ---- */

/* The setting `key = ...` of a train section, or NULL. */
Node *train_find(Node *train, const char *key);
/* Fills the graph's TrainSpec from the train section `tn`, after the model has been run. */
void elab_train(Elab *e, Node *tn);

#endif
