/* dlc.h: the compiler's one internal header.
 *
 * Declares the AST, the elaborated IR graph and every function that crosses a file, grouped under a banner per
 * .c file, in pipeline order: util -> diag -> lexer/parser -> elab -> autodiff -> passes -> plan -> emit ->
 * driver. */
#ifndef DLC_H
#define DLC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DLC_VERSION
#error "DLC_VERSION comes from meson.build's project() version"
#endif

/* ---- util.c: the compilation context, its arena, strings, vectors ---- */

/* Where the diagnostics of a compilation go, and how many errors it has had (diag.c). */
typedef struct Diag {
    FILE *out;
    int errors;
    int max_errors;
    bool color;
} Diag;

/* Large chunks that every allocation of a compilation comes from, freed all at once. */
typedef struct Arena {
    struct Chunk *head;
    size_t total; /* bytes of all chunks */
} Arena;

/* One compilation: its arena and its diagnostics sink. Everything the compiler builds belongs to one context and
 * reaches it: a Source, the Graph, the parser's, elaborator's and emitter's states and Compiled hold a pointer
 * to it, and functions with none of those take it as their first parameter. Nothing else is shared between
 * compilations, so one process can run many, one after another or side by side. */
typedef struct Ctx {
    Arena arena;
    Diag diag;
    /* The memory budget of the whole compilation: once the arena would pass `budget` bytes (0: no budget),
     * `over_budget` runs and must not return (the driver reports and exits; docs/language.md). */
    size_t budget;
    void (*over_budget)(struct Ctx *ctx, size_t wanted);
} Ctx;

void ctx_init(Ctx *ctx, FILE *diag_out); /* diagnostics to diag_out */
void ctx_free(Ctx *ctx);                 /* frees everything allocated in ctx; ctx_init makes it usable again */
size_t ctx_allocated(const Ctx *ctx);    /* bytes the arena holds */

void *xalloc(Ctx *ctx, size_t size); /* zeroed, from the arena; never freed individually */
void *xrealloc_arr(Ctx *ctx, void *p, size_t old_n, size_t new_n, size_t elem);
char *xstrdup(Ctx *ctx, const char *s);
char *xstrndup(Ctx *ctx, const char *s, size_t n);
char *xsprintf(Ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void die_at(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define die(...) die_at(__FILE__, __LINE__, __VA_ARGS__)
#define unreachable() die_at(__FILE__, __LINE__, "unreachable")
bool glob_match(const char *pattern, const char *s);
char *read_file(Ctx *ctx, const char *path, size_t *len);
/* read_file, but NULL with errno EFBIG when the file holds more than max bytes (a device never ends) */
char *read_file_max(Ctx *ctx, const char *path, size_t max, size_t *len);

/* A growable array of T in ctx's arena: `Vec(Node *) v = {0}; vec_push(ctx, &v, x);` */
#define Vec(T)                                                                                                         \
    struct {                                                                                                           \
        T *v;                                                                                                          \
        int n, cap;                                                                                                    \
    }
int vec_grown_cap(int cap); /* twice cap (8 at first); a capacity past INT_MAX is a compiler bug (die) */
#define vec_push(ctx, vec, x)                                                                                          \
    do {                                                                                                               \
        if ((vec)->n == (vec)->cap) {                                                                                  \
            int nc_ = vec_grown_cap((vec)->cap);                                                                       \
            (vec)->v = xrealloc_arr((ctx), (vec)->v, (size_t)(vec)->cap, (size_t)nc_, sizeof *(vec)->v);               \
            (vec)->cap = nc_;                                                                                          \
        }                                                                                                              \
        (vec)->v[(vec)->n++] = (x);                                                                                    \
    } while (0)

/* ---- diag.c: located diagnostics ---- */

/* A source file of one compilation. Its context is where the diagnostics located in it go, so a diagnostic
 * needs nothing but its location. */
typedef struct Source {
    const char *path;
    const char *text;
    size_t len;
    Ctx *ctx;
} Source;

typedef struct Loc {
    const Source *src;
    int line, col;         /* 1-based start */
    int end_line, end_col; /* inclusive end */
} Loc;

void diag_init(Diag *d, FILE *out);
/* Reported to loc.src->ctx->diag: every diagnostic has a location, whose source belongs to one compilation. */
void error_at(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void note_at(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void verror_at(Loc loc, const char *kind, const char *fmt, va_list ap);
Loc span(Loc a, Loc b);

/* ---- ast.c: the syntax tree ---- */

typedef enum NodeKind {
    /* expressions */
    N_NUMBER,
    N_STRING,
    N_BOOL,
    N_SELF,
    N_BATCH,
    N_IDENT,
    N_LIST,
    N_TUPLE,
    N_BINARY,
    N_UNARY,
    N_PIPE,
    N_CALL,
    N_INDEX, /* a[subscripts]: args holds the subscripts */
    N_SLICE, /* start:stop:step inside a subscript: a, b and args.v[0], each left out when NULL (args empty) */
    N_ATTR,
    N_KWARG,
    /* statements */
    N_INPUT,
    N_OUTPUT,
    N_PARAM,
    N_CONST,
    N_STATE,  /* state name: [dims] = init */
    N_UPDATE, /* name := expr: the state's value after a training step */
    N_INIT,
    N_ASSIGN,
    N_FOR,
    N_WHILE,
    N_IF,
    N_RETURN,
    N_BLOCKDEF,
    N_TRAIN,
} NodeKind;

typedef struct Node Node;
typedef struct NodeList {
    Node **v;
    int n, cap;
} NodeList;

struct Node {
    NodeKind kind;
    Loc loc;
    int op;       /* operator token of N_BINARY / N_UNARY */
    double num;   /* N_NUMBER, N_BOOL */
    bool is_int;  /* N_NUMBER written without a point or exponent */
    int64_t inum; /* N_NUMBER with is_int: its exact value (num is the nearest double) */
    char *name;   /* identifier, string, statement target, attribute, keyword argument */
    char *label;  /* `call as label` */
    Loc label_loc;
    char *dtype_name; /* N_INPUT */
    Loc dtype_loc;
    Node *a, *b;     /* operands, callee, value */
    NodeList args;   /* call arguments, list/tuple elements, input dims */
    NodeList params; /* block parameters (N_IDENT) */
    NodeList body;   /* statements */
    NodeList orelse; /* N_IF */
};

typedef struct Program {
    Source *src;
    NodeList items;
} Program;

NodeList *nodelist_new(Ctx *ctx);
void nodelist_push(Ctx *ctx, NodeList *l, Node *n);
Node *node_new(Ctx *ctx, NodeKind kind, Loc loc);
Node *node_ident(Ctx *ctx, char *name, Loc loc);
Node *node_binary(Ctx *ctx, NodeKind kind, int op, Node *a, Node *b, Loc loc);
Node *node_unary(Ctx *ctx, int op, Node *a, Loc loc);
const char *token_spelling(int op);

/* ---- parse.c: lexer and parser glue ---- */

#define MAX_OPEN 64
typedef struct OpenBracket {
    int tok, line, col;
} OpenBracket;

typedef struct Lexer {
    int line, col;
    int depth;                  /* nesting of ( and [ */
    OpenBracket open[MAX_OPEN]; /* where the first MAX_OPEN open ones are */
    int last;                   /* last token returned */
    bool pending_close;         /* a `}` is due after the NEWLINE just returned */
    int close_line, close_col;
    int nl_line, nl_col;  /* the newline that ends the statement unless a `|>` follows */
    int braces;           /* nesting of { } */
    int stmt_braces;      /* nesting of { } where the current statement began */
    int prev_stmt_braces; /* the same before the last token (the parser's lookahead) */
    int skip_to;          /* error recovery: no NEWLINE until the nesting is back to this (-1: off) */
    const Source *src;
} Lexer;

typedef struct Parser {
    Ctx *ctx;
    Program *program;
    const Source *src;
    Lexer *lexer;
} Parser;

/* The largest model file read (docs/language.md); a larger one is refused with errno EFBIG. */
#define MAX_SOURCE_BYTES ((size_t)64 << 20)
Source *source_from_file(Ctx *ctx, const char *path); /* NULL when unreadable */
Source *source_from_string(Ctx *ctx, const char *path, const char *text);
Program *parse_program(Source *src); /* in src->ctx; returns the (partial) program */
Loc parse_loc_raw(const Source *src, int fl, int fc, int ll, int lc);
void parse_error(Parser *ps, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
char *lex_unquote(Ctx *ctx, const char *text, size_t len);

/* ---- the IR (ir.c) ---- */

typedef enum Op {
#define OP(name, str, arity, cls, surface, params) OP_##name,
#include "ops.def"
#undef OP
    OP_COUNT
} Op;

typedef enum OpClass { OPC_LEAF, OPC_ELEM, OPC_REDUCE, OPC_VIEW, OPC_KERNEL } OpClass;

typedef struct OpRule OpRule;
typedef struct OpInfo {
    const char *name;
    int arity;
    OpClass cls;
    const char *surface; /* the name a model calls it by, through the table (NULL: none) */
    const char *params;  /* the names of its integer attributes in the language: "axis, k" */
    const OpRule *rule;  /* the op's rules (compiler/ops/) */
} OpInfo;
extern const OpInfo op_info[OP_COUNT];

typedef enum DType { DT_F32, DT_I32 } DType;

#define MAX_RANK 6
/* The most elements a tensor may have: its elements are indexed with int in the generated code. Larger shapes
 * are refused with a located error where they arise (inputs, parameters, layers, broadcasts); shape_numel
 * saturates, so no product of dimensions overflows on the way there. */
#define MAX_NUMEL ((int64_t)INT32_MAX)
/* The most elements of a compile-time constant (tensor(), zeros(shape), arange(n), folded results): they are
 * held, as doubles, by the compiler. Bigger results of constant operands are computed at run time. */
#define MAX_CONST_NUMEL ((int64_t)1 << 24)
#define MAX_IN 4
#define MAX_ATTR 8

/* A static shape. When `batched`, d[0] is the compile-time maximum of the batch dimension and the generated
 * code runs with any n <= d[0] in its place. */
typedef struct Shape {
    int rank;
    bool batched;
    int64_t d[MAX_RANK];
} Shape;

typedef struct IrNode IrNode;
struct IrNode {
    int id;
    Op op;
    DType dtype;
    Shape shape;
    int nin;
    IrNode *in[MAX_IN];
    int64_t attr[MAX_ATTR]; /* per-op integer attributes (axes mask, stride, padding, ...) */
    double fattr;           /* per-op scalar attribute (dropout p) */
    const double *data;     /* OP_CONST: the values, row-major */
    int index;              /* OP_INPUT: input number; OP_PARAM / OP_STATE: parameter number */
    bool copy;              /* built by ir_copy (--recompute): never merged with the node it copies */
    Loc loc;                /* the .dlm source this node comes from */
};

/* An initialiser program, evaluated element by element at init time: a tiny expression tree. */
typedef enum InitKind {
    INIT_CONST,
    INIT_NORMAL,
    INIT_UNIFORM,
    INIT_XAVIER_UNIFORM,
    INIT_XAVIER_NORMAL,
    INIT_KAIMING_UNIFORM,
    INIT_KAIMING_NORMAL,
    INIT_SELF, /* the value of the previous initialiser */
    INIT_NEG,
    INIT_ABS,
    INIT_ADD,
    INIT_SUB,
    INIT_MUL,
    INIT_DIV,
    INIT_LT,
    INIT_LE,
    INIT_GT,
    INIT_GE,
    INIT_DATA, /* compile-time tensor data of the parameter's shape */
} InitKind;

typedef struct Init Init;
struct Init {
    InitKind kind;
    double a, b;        /* constants, distribution parameters */
    Init *x, *y;        /* operands */
    const double *data; /* INIT_DATA */
};

typedef struct Param {
    char *name; /* full hierarchical name: "features.0.weight" */
    Shape shape;
    bool trainable;
    bool state;        /* not trainable, and the training step may set it (`state` declarations, running statistics) */
    Vec(Init *) inits; /* applied in order; `self` in one refers to the result of the one before */
    int64_t fan_in, fan_out;
    Loc loc;
    IrNode *node;
} Param;

typedef struct Input {
    char *name;
    DType dtype;
    Shape shape;
    Loc loc;
    IrNode *node;
} Input;

typedef struct Output {
    char *name;
    IrNode *node;
    Loc loc;
} Output;

typedef enum OptimKind { OPTIM_SGD, OPTIM_ADAM } OptimKind;
typedef enum DataKind {
    DATA_NONE,
    DATA_FASHION_MNIST,
    DATA_SYNTH_LINEAR,
    DATA_POLYNOMIAL,
    DATA_HIGH_DIM,
    DATA_CSV,
    DATA_TENSORS,
} DataKind;
typedef enum MetricKind { METRIC_ACCURACY, METRIC_LOG_RMSE } MetricKind;

typedef struct Metric {
    MetricKind kind;
    IrNode *pred, *target;
} Metric;

/* A setting of the data source as the train section gives it (`w=[2, -3.4]`, `train="train.csv"`): a number, a
 * string or a list of them. */
typedef enum DataValueKind { DV_NUM, DV_STR, DV_LIST } DataValueKind;
typedef struct DataValue DataValue;
struct DataValue {
    DataValueKind kind;
    double num;             /* DV_NUM */
    const char *str;        /* DV_STR */
    const DataValue *items; /* DV_LIST: numbers or strings */
    int nitems;
};
typedef struct DataSetting {
    const char *key;
    DataValue value;
} DataSetting;

/* `schedule = step(...)` or `cosine(...)`: the learning rate per epoch, after an optional linear warmup
 * (docs/language.md gives the formulas; the runtime's dlrt_schedule_lr computes them). */
typedef enum ScheduleKind { SCHED_NONE, SCHED_STEP, SCHED_COSINE } ScheduleKind;
typedef struct Schedule {
    ScheduleKind kind;
    int64_t step_size;   /* step: epochs between decays */
    double gamma;        /* step: the factor of each decay */
    int64_t t_max;       /* cosine: epochs from the warmup's end to eta_min; 0 = the rest of the run */
    double eta_min;      /* cosine: the last rate */
    int64_t warmup;      /* epochs of linear warmup, 0 for none */
    double start_factor; /* the warmup's first epoch runs at lr * start_factor */
} Schedule;

typedef struct TrainSpec {
    bool present;
    Loc loc;
    IrNode *loss;
    IrNode *eval_loss; /* what evaluation reports (default: loss): the data term without penalties */
    OptimKind optim;
    double lr, momentum, weight_decay, l1, beta1, beta2, eps;
    char *decay_glob, *l1_glob;
    int64_t batch, epochs, seed;
    Schedule schedule;
    bool plot_log; /* plot = "log": training curves on a logarithmic loss axis (D2L 4.4's figures) */
    Vec(Metric) metrics;
    DataKind data;
    int data_x, data_y; /* input numbers fed by the data */
    int64_t resize;
    Vec(DataSetting) data_settings;    /* generator and CSV settings; the emitter passes them to the runtime */
    const double *tensor_x, *tensor_y; /* DATA_TENSORS */
    int64_t tensor_n;
} TrainSpec;

/* A layer application, recorded for `dlc check`. */
typedef struct LayerTrace {
    char *name;
    const char *kind;
    DType dtype;
    Shape shape;
    Loc loc;
} LayerTrace;

/* The elaborated model: a graph of IR nodes (hash-consed) plus its interface. */
/* `name := value` in training mode: the value state parameter `param` takes after each training step. */
typedef struct StateUpdate {
    int param;
    IrNode *value;
    Loc loc;
} StateUpdate;

/* A bounded `while cond max K` loop: `flag` is 1 when its condition still held after its K-th iteration (the
 * result is truncated), else 0; the generated code reports it (LoopLimit status, docs/language.md). */
typedef struct LoopLimit {
    IrNode *flag;
    Loc loc;
    int64_t bound;
} LoopLimit;

typedef struct Graph {
    Ctx *ctx; /* the compilation it belongs to */
    char *name;
    Vec(IrNode *) nodes;
    Vec(Input) inputs;
    Vec(Param) params;
    Vec(StateUpdate) updates; /* the training graph's; evaluation and inference never set a state */
    Vec(Output) outputs;
    Vec(LoopLimit) loop_limits; /* in source order */
    TrainSpec train;
    Vec(LayerTrace) layers;
    int64_t max_batch;
    /* dlc compile --infer --weights: per parameter (and state), the values compiled in, which simplification may
     * fold into the kernels that read them (fold.c); NULL otherwise */
    const double **baked;
    int baked_from;  /* the node count when simplification began: fold.c counts consumers below it */
    Vec(int) folded; /* ids of the nodes fold.c replaced, dead from then on */
    /* hash-consing table */
    IrNode **table;
    int table_cap;
    /* every kernel stores its own result, none takes an epilogue (fuse.c): --quantize, whose plan picks kernels
     * from the schedule, and DLC_EPILOGUES=0 */
    bool keep_outputs;
} Graph;

Graph *graph_new(Ctx *ctx, const char *name);
IrNode *ir_node(Graph *g, Op op, DType dt, Shape shape, int nin, IrNode **in, const int64_t *attr, Loc loc);
IrNode *ir_leaf(Graph *g, Op op, DType dt, Shape shape, int index, Loc loc);
IrNode *ir_node_f(Graph *g, Op op, Shape shape, int nin, IrNode **in, const int64_t *attr, double fattr, Loc loc);
IrNode *ir_const_scalar(Graph *g, double v, Loc loc);
/* A copy of n over the inputs `in` (n's op, attributes and data as they are, no builder), marked so that it is a
 * node of its own even over n's inputs: recompute.c's backward copies of forward values. */
IrNode *ir_copy(Graph *g, IrNode *n, IrNode **in);
IrNode *ir_const_data(Graph *g, Shape shape, const double *data, Loc loc);
bool ir_is_const(const IrNode *n, double *value); /* a scalar or uniform constant */
IrNode *ir_storage(IrNode *n);       /* the node whose bytes a view (reshape) reads: n itself for any other node */
int64_t shape_numel(const Shape *s); /* saturates at INT64_MAX */
int64_t shape_inner(const Shape *s); /* elements per example (numel / d[0] when batched) */
bool shape_eq(const Shape *a, const Shape *b);
char *shape_str(Ctx *ctx, const Shape *s);          /* "[batch 256, 784]" style, for messages */
char *type_str(Ctx *ctx, DType dt, const Shape *s); /* "f32[256, 784]" */
Shape shape_make(int rank, const int64_t *d, bool batched);
Shape shape_scalar(void);

/* Broadcast a and b; false (and *out untouched) if they do not broadcast. */
bool shape_broadcast(const Shape *a, const Shape *b, Shape *out);

/* ---- ops/ops.c: the rule table ----
 *
 * Every op of ops.def has one OpRule, `rule_<NAME>`, defined in its family's file under compiler/ops/ (rule_CONV2D
 * in conv.c), which op_info[op].rule points to. The generic passes (autodiff, simplify, fuse, plan, check, emit,
 * ir) ask these entries instead of switching on ops. A field an op does not need stays NULL; test_ops checks
 * that every op has what its class needs. */

typedef struct Emit Emit;
typedef struct Compiled Compiled;
typedef struct QuantKernel QuantKernel;
typedef IrNode *(*RewriteFn)(Graph *g, IrNode *n); /* an equivalent node, or NULL */

/* What a builder takes besides its operands: integer attributes, a real one (dropout's p), and the result's
 * shape for the ops whose operands do not fix it (a broadcast copy, an input's gradient). */
typedef struct OpArgs {
    int64_t attr[MAX_ATTR];
    double fattr;
    Shape shape;
} OpArgs;

/* How a node is written as ONNX, filled in by the op's export rule (OpRule.onnx) and written by export_onnx.c: one
 * ONNX node of op_type over the values of in[] (IR nodes, which need not be the node's own operands: a pattern
 * such as batch norm reads the parameters behind its reshapes) and attributes. An input may be another value
 * instead (ref[k] != 0, in[k] NULL): one of the description's constants (int64 tensors such as Reshape's target
 * shape or ReduceSum's axes, or float scalars), the output of a step written before the node, or the run-time batch
 * size. Steps after the node apply in turn to its output, the last one giving the IR node's value. So a rule can say
 * what one ONNX node cannot: a comparison is Greater and a Cast of its boolean to float, where's 0/1 condition a
 * Cast to bool before Where, a mean over the batch divides by the batch size read from an input's shape. The
 * exporter names the values and writes the protobuf, so the rules need no protobuf-c, which is linked into dlc
 * alone. */
enum { MAX_ONNX_IN = 8, MAX_ONNX_ATTR = 4, MAX_ONNX_INTS = 8, MAX_ONNX_CONSTS = 4, MAX_ONNX_STEPS = 4 };
/* what ref[k] names: ONNX_REF_CONST + i, consts[i]; ONNX_REF_STEP + j, the output of pre[j]; ONNX_REF_BATCH, the
 * batch size as an int64 [1] (Shape and Gather of a batched graph input, written once per model) */
enum { ONNX_REF_CONST = 1, ONNX_REF_STEP = 16, ONNX_REF_BATCH = 32 };
/* ONNX's element types, for Cast's `to` */
enum { ONNX_TYPE_FLOAT = 1, ONNX_TYPE_INT64 = 7, ONNX_TYPE_BOOL = 9 };
typedef enum OnnxAttrKind { ONNX_ATTR_INT, ONNX_ATTR_INTS, ONNX_ATTR_FLOAT } OnnxAttrKind;
typedef struct OnnxAttr {
    const char *name;
    OnnxAttrKind kind;
    int n; /* ONNX_ATTR_INTS: how many of ints */
    int64_t ints[MAX_ONNX_INTS];
    double f;
} OnnxAttr;
/* an initializer of the description, named after the output: "shape" names t12's t12.shape */
typedef struct OnnxConst {
    const char *name;
    int n;         /* a vector of n values (0 included); -1: a scalar */
    bool is_float; /* the float f (a scalar), else the int64 values v */
    int64_t v[MAX_RANK * 2];
    double f;
} OnnxConst;
/* a node before or after the main one: up to two inputs (an IR node, or a ref), at most one int attribute */
typedef struct OnnxStep {
    const char *op_type;
    int nin;
    IrNode *in[2];
    int ref[2];
    const char *attr; /* NULL: none */
    int64_t value;
} OnnxStep;
typedef struct OnnxNode {
    const char *op_type;
    int nin;
    IrNode *in[MAX_ONNX_IN];
    int ref[MAX_ONNX_IN]; /* 0: input k is in[k] */
    int nattr;
    OnnxAttr attr[MAX_ONNX_ATTR];
    int nconst;
    OnnxConst consts[MAX_ONNX_CONSTS];
    int npre, npost;
    OnnxStep pre[MAX_ONNX_STEPS], post[MAX_ONNX_STEPS];
} OnnxNode;
/* Export rules: fill *out for node n and return NULL, or return why n cannot be written (the exporter reports it
 * at n's source line). onnx_int, onnx_ints, onnx_float append an attribute; onnx_const (n int64 values, -1: a
 * scalar) and onnx_fconst (a float scalar) add a constant and return its ref, which onnx_input appends to the node's
 * inputs; onnx_pre adds a step before the node, reading the IR node a (or ref_a when a is NULL) and ref_b when nonzero,
 * and returns its output's ref; onnx_post applies a unary step to the node's output. */
typedef const char *(*OnnxFn)(const IrNode *n, OnnxNode *out);
void onnx_int(OnnxNode *o, const char *name, int64_t v);
void onnx_ints(OnnxNode *o, const char *name, int n, const int64_t *v);
void onnx_float(OnnxNode *o, const char *name, double v);
int onnx_const(OnnxNode *o, const char *name, int n, const int64_t *v);
int onnx_fconst(OnnxNode *o, const char *name, double v);
void onnx_input(OnnxNode *o, int ref);
int onnx_pre(OnnxNode *o, const char *op_type, IrNode *a, int ref_a, int ref_b, const char *attr, int64_t value);
void onnx_post(OnnxNode *o, const char *op_type, const char *attr, int64_t value);

/* The helper functions of a generated file that an op's code calls; emit.c writes each one once, up front. */
/* CALLS_ISA: kernels compiled once per instruction set, the <name>_isa() that picks one at run time. */
enum {
    CALLS_MAXR = 1,
    CALLS_MINR = 2,
    CALLS_RELU = 4,
    CALLS_EXPV = 8,
    CALLS_DROPMASK = 16,
    CALLS_GEMM = 32,
    CALLS_ISA = 64,
    CALLS_SIGMOID = 128,
    CALLS_SUM16 = 256,
};

/* What a kernel's own function can apply to its results before storing them (OpRule.epilogue): an element-wise
 * epilogue (a bias per output channel, an activation), then 2x2 pooling (pool_fusable). */
enum { EPI_ELEM = 1, EPI_POOL = 2 };

struct OpRule {
    /* The shape rule: checks the operands and attributes and builds the node (hash-consed, maybe folded), or
     * reports a located error and returns NULL. Elaboration, autodiff and simplification all build through it. */
    IrNode *(*build)(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc);
    /* The gradient rule: the contribution of node n's adjoint d to its input i, built through the builders (NULL:
     * none flows there). grad_none declares that no adjoint flows through the op (comparisons, masks, leaves);
     * grad_refused that it has no rule (the gradient kernels: a gradient of a gradient through them is refused). */
    IrNode *(*grad)(Graph *g, IrNode *n, int i, IrNode *d);
    uint32_t no_grad_in; /* inputs (bits) into which no adjoint flows, whatever their type (where's condition) */
    /* Element-wise ops: one element from its operands' values (constant folding; for a reduction, x[0] combined
     * with x[1]), and its C expression over the operands' expressions (`flat`: the element's flat index). */
    double (*fold)(const double *x, const IrNode *n);
    char *(*c_expr)(Emit *e, const IrNode *n, char *const *x, const char *flat);
    const char *spelling; /* how messages write the op ("*"), when not its name */
    /* x op identity = x (right_identity) and identity op x = x (left_identity): such nodes are never built */
    bool left_identity, right_identity;
    double identity;
    bool recompute; /* computed again in every consumer's loop, never stored (dropout masks) */
    /* A long C expression (sigmoidv): at the root of a pooled convolution's epilogue it runs in a pass of its own
     * over the pooled rows' block, in full vectors, rather than in the tile beside the sums (Epilogue.flat). */
    bool flat_epilogue;
    const RewriteFn *rewrites; /* algebraic rewrites simplify.c tries in order (NULL-terminated) */
    /* Kernels linear in a weight per output channel (axis 1 of the output: conv2d, matmul): node n with output
     * channel o scaled by scale[o], through a new weight; NULL when the weight is not known at compile time
     * (fold.c folds batch normalization with it). */
    IrNode *(*scale_out)(Graph *g, IrNode *n, const double *scale);
    /* Reductions: the accumulator's start and update ("acc += %s"), accumulated in double when acc_double. */
    const char *acc_init, *acc_update;
    bool acc_double;
    /* Kernels: the C statements of node n; a function of its own per geometry when own_fn(n) holds (named
     * own_fn_prefix and a number, written by emit_own_fn); helper functions written once when some kernel of
     * the op is emitted without one (used[op]); the generated file's helpers its code calls. */
    void (*emit)(Emit *e, IrNode *n);
    bool (*own_fn)(const IrNode *n);
    const char *own_fn_prefix;
    void (*emit_own_fn)(Emit *e, const IrNode *n, const char *fname);
    /* Kernels with an own function: what it can apply to its results in registers (EPI_* bits, 0: nothing);
     * sched_build decides, emit_epilogue tells the emitter. */
    unsigned (*epilogue)(const IrNode *n);
    void (*helpers)(Emit *e, const bool *used);
    unsigned calls;
    unsigned (*calls_of)(const IrNode *n);
    /* Elements of scratch the kernel needs while it runs (the planner places them); its FLOPs (a multiply-add
     * counts 2) at the maximum batch; the FLOPs of its largest single BLAS call (0: it calls none). */
    int64_t (*scratch)(const IrNode *n);
    double (*flops)(const IrNode *n);
    double (*blas_flops)(const IrNode *n);
    /* Leaves: the C expression of their data, and what the IR dump prints after them. */
    char *(*c_ptr)(Emit *e, const IrNode *n);
    void (*dump)(FILE *out, const Graph *g, const IrNode *n);
    /* Export (`dlc export`): onnx_op, an ONNX operator that takes the op's operands as they are, with no
     * attributes; or onnx, which describes node n (its operator, inputs and attributes) or says why n cannot be
     * written; or onnx_refused, why the op is never written. Leaves are the graph's inputs and initializers.
     * test_ops checks every other op has one of the three. */
    const char *onnx_op;
    OnnxFn onnx;
    const char *onnx_refused;
    /* int8 kernels (quant.c, dlc compile --quantize int8): int8_weights lays weight values w (the kernel's weight
     * operand, in[1]) out as [output channel][inner] into out (when not NULL) and sets *channels and *inner;
     * false when node n has no int8 kernel (its weight or geometry does not fit one). emit_int8 writes the
     * kernel's C: its input quantized row by row (an image at a time) on the stack, int8 products summed in
     * int32, each sum scaled back to f32 by its output channel's scale. */
    bool (*int8_weights)(const IrNode *n, const double *w, double *out, int64_t *channels, int64_t *inner);
    void (*emit_int8)(Emit *e, IrNode *n, const QuantKernel *q);
};

static inline const OpRule *op_rule(Op op) { return op_info[op].rule; }

/* The op a model calls by `surface` (ops.def's surface column), or -1; and its attributes' names, in order. */
int op_lookup(const char *surface);
int op_params(Ctx *ctx, Op op, const char *names[MAX_ATTR]);
/* Builds a node of op through its shape rule (NULL after a located error). */
IrNode *op_build(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc);
/* The op's scratch in elements, and its FLOPs (class defaults: none for leaves and views, one per element for
 * element-wise ops and per input element for reductions). */
int64_t op_scratch(const IrNode *n);
double op_flops(const IrNode *n);
/* The FLOPs of the largest BLAS call a kernel makes (0: none), for the trainer's choice of BLAS threads. */
double op_blas_flops(const IrNode *n);
/* Node n as ONNX through its op's export rule: NULL and *out filled (its inputs n's operands unless the rule says
 * otherwise), or why n cannot be written. */
const char *op_onnx(const IrNode *n, OnnxNode *out);
/* False, after a located error naming `what`, when `s` has more than MAX_NUMEL elements. */
bool shape_check_size(const Shape *s, DType dt, Loc loc, const char *what);

/* ---- ops/elementwise.c: element-wise arithmetic, comparisons, where, copy, dropout masks ---- */

/* op over operands that broadcast together (NULL after a located error); constants fold, and identities
 * (x * 1, x + 0) give the operand itself */
IrNode *b_elem(Graph *g, Op op, int nin, IrNode **in, Loc loc);
IrNode *b_unary(Graph *g, Op op, IrNode *a, Loc loc);
IrNode *b_binary(Graph *g, Op op, IrNode *a, IrNode *b, Loc loc);
IrNode *b_scalar_op(Graph *g, Op op, IrNode *a, double c, Loc loc);
/* a broadcast to `shape` (a copy, usually fused away) */
IrNode *b_expand(Graph *g, IrNode *a, Shape shape, Loc loc);
/* 0 or 1/(1-p) per element, from a hash salted with `salt` */
IrNode *b_dropmask(Graph *g, Shape s, double p, int64_t salt, Loc loc);
/* Op over constant operands as a constant (NULL when an operand is not one, or the result is batched or too
 * big to hold). */
IrNode *elem_fold(Graph *g, Op op, Shape shape, int nin, IrNode **in, const int64_t *attr, Loc loc);

/* ---- ops/reduce.c: sum, max, mean, cumsum ---- */

/* Sum (or max) over the axes in `mask`; keepdim keeps them as size 1. A max's gradient is spread evenly over
 * tied maxima (x.max(), amax); b_max_along's, a max along one axis (x.max(dim)), goes to the first of them. */
IrNode *b_reduce(Graph *g, Op op, IrNode *a, uint32_t mask, bool keepdim, Loc loc);
IrNode *b_max_along(Graph *g, IrNode *a, int axis, bool keepdim, Loc loc);
/* sum and divcount, the count including the run-time batch when axis 0 of a batched tensor is reduced */
IrNode *b_mean(Graph *g, IrNode *a, uint32_t mask, bool keepdim, Loc loc);
/* The index of the first maximum (or minimum) along axis, as f32, the axis kept with size 1 (torch.argmax's
 * index, keepdim=True). */
IrNode *b_argmax(Graph *g, IrNode *x, int axis, bool min, Loc loc);
/* batch normalization's statistics of x [N, C(, H, W)]: [2, C], the per-channel mean and biased variance */
IrNode *b_moments(Graph *g, IrNode *x, Loc loc);

/* ---- ops/layout.c: reshape, transpose, concat, slice, unslice ---- */

IrNode *b_reshape(Graph *g, IrNode *a, Shape shape, Loc loc);
IrNode *b_transpose(Graph *g, IrNode *x, Loc loc);
IrNode *b_concat(Graph *g, IrNode **xs, int n, int axis, Loc loc);
/* elements [start, start + len) of x along axis */
IrNode *b_slice(Graph *g, IrNode *x, int axis, int64_t start, int64_t len, Loc loc);
/* len elements of x along axis, from start, every step-th (x[start : start + len * step : step]) */
IrNode *b_slice_step(Graph *g, IrNode *x, int axis, int64_t start, int64_t step, int64_t len, Loc loc);
/* slice's adjoint: a tensor of shape `to`, zero but for x at the positions b_slice_step(to, axis, start, step)
 * reads */
IrNode *b_unslice(Graph *g, IrNode *x, Shape to, int axis, int64_t start, int64_t step, Loc loc);
/* the axes of x in the order perm gives (result axis k is x's axis perm[k]); the batch axis stays first */
IrNode *b_permute(Graph *g, IrNode *x, const int *perm, Loc loc);

/* ---- ops/softmax.c: softmax, log_softmax, cross-entropy and accuracy ---- */

/* softmax or log_softmax (op) over the last axis */
IrNode *b_softmax(Graph *g, Op op, IrNode *x, Loc loc);
/* per row of logits [.., k] (classes along the last axis): the softmax cross-entropy against labels i32[..] (the
 * logits' shape without the last axis); 1 where argmax == label */
IrNode *b_xent(Graph *g, IrNode *logits, IrNode *labels, Loc loc);
IrNode *b_argmax_eq(Graph *g, IrNode *logits, IrNode *labels, Loc loc);

/* ---- ops/matmul.c: matrix products ---- */

IrNode *b_matmul(Graph *g, IrNode *a, IrNode *b, bool ta, bool tb, Loc loc);
/* <name>_sum16 (CALLS_SUM16): the batch-1 products' 16 partial sums of a dot product added in a fixed tree. */
void emit_matvec_sum16(Emit *e);

/* ---- ops/conv.c: conv2d, conv2d_dx, conv2d_dw ---- */

int64_t conv_out_dim(int64_t in, int64_t k, int64_t pad, int64_t stride);
IrNode *b_conv2d(Graph *g, IrNode *x, IrNode *w, const int64_t stride[2], const int64_t pad[2], Loc loc);
/* A convolution's geometry: x [N, C, H, W], w [K, C, R, S], y [N, K, P, Q], stride (sh, sw), padding (ph, pw);
 * HP is the number of padded input rows that outputs read. */
typedef struct ConvGeo {
    int64_t N, K, C, H, W, R, S, P, Q, sh, sw, ph, pw, HP;
} ConvGeo;
ConvGeo conv_geo(const IrNode *n);
/* Whether a convolution, its dx or its dw runs as direct loops: when a zero-padded image fits a 16K-element
 * block and an output sums at most 512 products (LeNet's layers), the matrix products of im2col would be too
 * small for BLAS to pay for the columns' memory traffic. dx needs stride 1. */
bool conv_direct(const IrNode *n);
/* Whether some convolution kernel of the model runs through im2col and a matrix product. */
bool conv_im2col(Compiled *c);

/* ---- ops/pool.c: max_pool, avg_pool and their gradients ---- */

IrNode *b_pool(Graph *g, Op op, IrNode *x, const int64_t win[2], const int64_t stride[2], const int64_t pad[2],
               Loc loc);
/* Forward pooling over 2x2 windows that tile the image: a convolution's function can apply it (EPI_POOL). */
bool pool_fusable(const IrNode *n);
/* The statements (at indent d) that store forward pooling n of one window into lvalue, from the window's elements
 * (rows, then columns) as C expressions at[]: the same operations in the same order as n's own kernel. */
void pool_emit_window(Emit *e, const IrNode *n, char *const *at, const char *lvalue, const char *d);

/* ---- elab.c: AST -> graph ---- */

typedef struct ElabOptions {
    int64_t batch;        /* --batch, 0 = the model's */
    bool training;        /* dropout active */
    bool dist;            /* dlc build --mpi: batch statistics as sums, which the runtime completes across ranks */
    const char **defines; /* -D name=value: a top-level `name = ...` takes this number instead */
    int ndefines;
} ElabOptions;

Graph *elaborate(Program *prog, const char *model_name, const ElabOptions *opt);

/* ---- train.c: the train section ---- */

/* The data source's setting `key`, or NULL when the model does not give it. */
const DataValue *train_data_setting(const TrainSpec *t, const char *key);

/* ---- autodiff.c: reverse-mode differentiation ---- */

/* The gradient of scalar `y` with respect to each of `wrt`, as new nodes of g (NULL where y does not depend on
 * it). Nodes that no requested gradient needs are never built. */
void ad_grad(Graph *g, IrNode *y, IrNode **wrt, int nwrt, IrNode **out);
/* The node on the way from y back to wrt that has no gradient rule (a backward kernel, met when differentiating
 * a gradient), or NULL when ad_grad can differentiate y. */
IrNode *ad_unsupported(Graph *g, IrNode *y, IrNode **wrt, int nwrt);
/* Marks in used[0 .. y->id] the nodes whose gradient rule ad_grad applies: those between wrt and y through
 * which an adjoint flows into an input. */
void ad_rule_uses(Graph *g, IrNode *y, IrNode **wrt, int nwrt, bool *used);
/* Gradient rules that are declarations (OpRule.grad): no adjoint flows through the op; the op has no rule. */
IrNode *grad_none(Graph *g, IrNode *n, int i, IrNode *d);
IrNode *grad_refused(Graph *g, IrNode *n, int i, IrNode *d);

/* ---- simplify.c: algebraic rewrites to a fixpoint ---- */

/* Rewrites the graph the roots reach with the algebraic rules of its table, to a fixpoint; roots[] is
 * updated in place (NULL entries are skipped). */
void pass_simplify(Graph *g, IrNode **roots, int nroots);

/* ---- fold.c: per-channel affine maps folded into the kernel before them, with the weights baked ---- */

/* The rewrite (of +, -, *, / and negation): k * a + b, for a kernel k with scale_out and constants a and b per
 * output channel, as scale_out(k, a) + b. Does nothing unless g->baked. */
IrNode *fold_affine(Graph *g, IrNode *n);
/* Weight w (constant or baked) with the index along `axis` o scaled by scale[o], as a constant (NULL: not known). */
IrNode *fold_scale_weight(Graph *g, IrNode *w, int axis, const double *scale);

/* ---- fuse.c: schedules (liveness, fusion, kernel order) ---- */

/* The functions a compiled model exports, each a schedule of kernels over one graph. */
typedef enum FnKind { FN_FORWARD, FN_EVALUATE, FN_TRAIN, FN_COUNT } FnKind;

/* One function's schedule: which nodes it computes (materialises) and where each lives. Per-node data is in
 * side arrays indexed by node id. */
typedef struct Sched {
    FnKind kind;
    Graph *g;
    Vec(IrNode *) roots;
    bool *live;            /* needed by a root */
    bool *inl;             /* element-wise, computed inside its one consumer's loop: no buffer */
    int *uses;             /* consumers among live nodes */
    Vec(IrNode *) kernels; /* materialised nodes in execution order */
    int64_t *offset;       /* arena byte offset of a materialised node's buffer; -1 when it has none */
    int64_t *scratch;      /* arena byte offset of a kernel's scratch (im2col columns), live during it only */
    int64_t arena_bytes, arena_bytes_noreuse;
    int64_t pinned_bytes; /* plan_memory's pinned buffers fill [0, pinned_bytes) of the arena */
    bool pinned_all;      /* every pinned node had a buffer there (none was a leaf) */
    int loops_unfused, loops_fused;
    int train_split; /* FN_TRAIN: kernels before this index are the forward pass, the rest backward */
    int nfwd_roots;  /* FN_TRAIN: the first roots (loss, metrics) are the forward pass's */
    /* Epilogues (FN_FORWARD, FN_EVALUATE): kernel k's own function applies the element-wise node epilogue[k] to
     * its results, then the pooling pooled[k] (or NULL), and stores only the last; k and the nodes it computes
     * but the last are inl. producer[last] = k: the schedule lists the last, emitted as k's call. */
    IrNode **epilogue, **pooled, **producer;
} Sched;

/* A fused loop reads at most FUSE_MAX_SRC tensors and its expression nests at most FUSE_MAX_DEPTH ops deep. */
#define FUSE_MAX_SRC 32
#define FUSE_MAX_DEPTH 64

/* Roots and liveness of a function, inline decisions (fusion) and the kernel order. */
void sched_build(Sched *s, Graph *g, FnKind kind, IrNode **roots, int nroots);

/* ---- plan.c: the static memory plan ---- */

/* Buffer offsets from liveness over the kernel order (plan_place), 64-byte aligned; the buffers of `pinned` first,
 * contiguous from offset 0 and live throughout. */
void plan_memory(Sched *s, int elem_size, IrNode **pinned, int npinned);
/* Per node id: the last kernel of s that writes or reads the node's buffer (through views and fused consumers),
 * or -1. */
int *plan_last_use(Sched *s);
/* A node's buffer: its bytes rounded up to the 64-byte alignment. */
int64_t plan_bytes(const IrNode *n, int elem_size);
/* FN_TRAIN: the bytes of the forward pass's buffers that the backward pass reads (the saved activations). */
int64_t plan_saved_bytes(Sched *s, int elem_size);
/* A buffer to place: busy from time `start` to `end` (both included, in any increasing unit), given in order of
 * start; *at (when not NULL) gets its offset. */
typedef struct PlanBuf {
    int64_t size;
    int start, end;
    int64_t *at;
} PlanBuf;
/* Places the buffers so that no two busy at the same time overlap (the smaller arena of first fit in time order
 * and of largest first); returns the arena's size. Buffers with start < 0 (busy throughout) come first and are
 * placed one after another from offset 0 in the order given. */
int64_t plan_place(Ctx *ctx, const PlanBuf *b, int n);

/* ---- pipeline.c: the middle end, in order ---- */

/* The training step's saved activations, and what --recompute did to them (recompute.c). */
typedef struct RecomputeStats {
    bool tried;                         /* --recompute ran */
    int candidates, values;             /* element-wise forward values backward reads; those computed again */
    int64_t arena_before, saved_before; /* the step's arena and saved activations (bytes) without copies */
    int64_t arena_after, saved_after;   /* with them: the step that was kept */
} RecomputeStats;

/* The whole compiled model: the two graphs, the schedules, the state layout. */
typedef struct Compiled {
    Ctx *ctx;         /* train's and eval's */
    Graph *train;     /* elaborated with dropout active, plus the backward nodes */
    Graph *eval;      /* elaborated for inference */
    IrNode **grads;   /* per parameter of `train` (NULL for constants) */
    IrNode **updates; /* per update of `train` (train->updates), the state's new value */
    int nupdates;
    IrNode *loss_train, *loss_eval;
    Vec(IrNode *) metric_train; /* per metric, a scalar sum over the batch */
    Vec(IrNode *) metric_eval;
    Sched fn[FN_COUNT];
    /* state layout (bytes): header, parameters, optimizer state, arena */
    int64_t *param_off; /* per parameter */
    int64_t *opt_off;   /* per parameter: momentum or Adam m (v follows at +param bytes) */
    int64_t params_end, opt_end, arena_off, state_bytes;
    int elem_size; /* 4 (f32) or 8 (f64) */
    bool infer_only;
    const double **baked;    /* --weights: per parameter, the values compiled in as constants (NULL: in the state) */
    struct QuantPlan *quant; /* --quantize int8: the kernels that run in int8 (quant.c); NULL otherwise */
    /* dlc build --mpi (sync.c): the training kernels after which the step stops for the runtime to complete a
     * sum over the batch; the first nsyncs_fwd are the forward pass's */
    int *sync_after;
    int nsyncs, nsyncs_fwd;
    int *global_grads; /* the parameters whose gradient is computed from those sums alone */
    int nglobal_grads;
    RecomputeStats recompute;
} Compiled;

/* dump_after: NULL, or "elab", "autodiff", "fuse" or "plan": print the IR after that pass to stderr. recompute:
 * run pass_recompute on the training step. */
Compiled *compile_model(Graph *train, Graph *eval, int elem_size, bool infer_only, const char *dump_after,
                        const double **baked, bool recompute);

/* ---- recompute.c: cheap forward values computed again in backward ---- */

/* Requires c's training step scheduled and planned with the gradients `pin`. Where the planner finds that it
 * lowers the step's peak, element-wise forward values that backward reads are computed again there from their
 * inputs instead of kept; c->fn[FN_TRAIN], c->grads and pin then describe the new step. Sets c->recompute. */
void pass_recompute(Compiled *c, IrNode **pin, int npin);

/* ---- sync.c: where a data-parallel step stops ---- */

/* Requires c's training schedule, planned. Sets c->sync_after: the sums over the batch whose results the step
 * uses per example or stores (batch normalization's statistics), after which a data-parallel trainer completes
 * them across the global batch. False, with a located error, for such a reduction that is not a sum. */
bool sync_points(Compiled *c);

/* ---- emit.c: C emission ---- */

typedef struct EmitOptions {
    bool f64;
    bool infer;
    bool portable;
    bool mpi; /* the trainer: a data-parallel one, main() from libdlrt-mpi */
    /* calibration (quant.c): before each kernel of this plan, a call recording the range of its input */
    const struct QuantPlan *observe;
} EmitOptions;

/* One emission in progress; the kernel emitters of compiler/ops/ write through it. */
struct Emit {
    Ctx *ctx;
    FILE *o;
    Compiled *c;
    const EmitOptions *opt;
    const char *name; /* lenet */
    char *NAME;       /* LENET */
    const char *real; /* lenet_real */
    Sched *s;         /* the schedule being emitted */
    bool f64;
    const char *count; /* the examples a mean over the batch divides by: "n", or "m" in a data-parallel phase */
    /* while the backward pass is emitted (emit_has_grad_ready): per parameter, the training kernel after which
     * its gradient is final (the last to write or read its buffer), or -1 when nothing is reported for it */
    const int *grad_final;
};

void emit_source(FILE *out, Compiled *c, const EmitOptions *o);
/* The helpers (CALLS_*) that the live kernels of the model's functions call. */
unsigned emit_calls(Compiled *c);
/* Whether the model's gemm() calls the product installed by <name>_set_gemm first (f32 training code that calls
 * sgemm somewhere). */
bool emit_has_gemm_hook(Compiled *c, const EmitOptions *o);
/* Whether its im2col convolutions call the implicit product installed by <name>_set_conv first (the same code,
 * when some convolution runs through im2col). */
bool emit_has_conv_hook(Compiled *c, const EmitOptions *o);
/* Whether a function the compiled model exports has a bounded while loop to report (Graph.loop_limits). */
bool emit_has_loop_limits(const Compiled *c);
/* Whether the training code reports each gradient as backward finishes it (<name>_set_grad_ready). */
bool emit_has_grad_ready(const Compiled *c, const EmitOptions *o);
/* The C expression of a node's data: a view reads its storage's; a kernel's scratch (the planner's offset). */
char *emit_ptr(Emit *e, IrNode *n);
int emit_jam_width(int64_t outputs, bool parallel); /* outputs of a sum to compute side by side */
char *emit_scratch(Emit *e, const IrNode *n);
/* A literal of the emitted precision ("0.5f"), a libm function of it ("logf"), exp (emit_expv's in f32). */
char *emit_lit(Emit *e, double v);
const char *emit_libm(Emit *e, const char *name);
const char *emit_exp(Emit *e);
/* Extents in C: dimension d of s ("n" for a batched one), the rows of the last axis, a count of `outer`
 * elements before an axis ("n * 3" when batched). */
char *emit_dim(Emit *e, const Shape *s, int d);
char *emit_rows(Emit *e, const Shape *s);
char *emit_outer(Emit *e, const Shape *s, int64_t outer);
/* The name of a kernel's own function (OpRule.own_fn): the op's prefix, numbered per op in order of first use. */
char *emit_own_fn_name(Emit *e, const IrNode *n);
/* A kernel's own function as emit_isa_kernel writes it: `setup`, then `for (int64_t i = 0; i < count; i++) step;`
 * (an OpenMP parallel loop when `parallel`), then `finish`; step calls the kernel's always-inlined body. */
typedef struct {
    const char *params; /* its C parameters before `int64_t n` */
    const char *args;   /* the same as arguments */
    const char *setup;  /* statements before the loop (arrays the iterations share), or "" */
    const char *count;  /* the loop's trip count */
    const char *step;   /* what iteration i runs, without the semicolon */
    const char *finish; /* statements after the loop, or "" */
    bool parallel;
} IsaLoop;
/* What comes before the return type of a kernel's always-inlined body. */
const char *emit_isa_inline(Emit *e);
/* Kernel k's epilogue in the schedule being emitted (e->s): the element-wise node, the pooling, the operands read
 * per output channel (bias[i], the function's parameter bi, read at channel * stride[i]) and the node whose buffer
 * it stores into. False when k stores its own result. */
enum { EPI_MAX_BIAS = 4 };
typedef struct Epilogue {
    const Sched *s;
    const IrNode *kernel;
    IrNode *elem, *pool, *out;
    int nbias;
    IrNode *bias[EPI_MAX_BIAS];
    int64_t stride[EPI_MAX_BIAS];
    /* With pooling, the element-wise node is a unary op with OpRule.flat_epilogue whose operand is the rest of the
     * tree: the tile applies the rest (emit_epilogue_tile_expr), a pass over the pooled block the root. */
    bool flat;
} Epilogue;
bool emit_epilogue(Emit *e, const IrNode *k, Epilogue *ep);
/* The C expression of ep's element-wise node for k's result `acc` in output channel `chan`. */
char *emit_epilogue_expr(Emit *e, const Epilogue *ep, const IrNode *k, const char *acc, const char *chan);
/* What a tile applies to `acc`: emit_epilogue_expr, or with ep->flat that without its root; and the root on `v`. */
char *emit_epilogue_tile_expr(Emit *e, const Epilogue *ep, const char *acc, const char *chan);
char *emit_epilogue_root(Emit *e, const Epilogue *ep, const char *v);
/* ep's parameters of k's own function (", const float *restrict b0, ..."), and the call's arguments. */
char *emit_epilogue_params(Emit *e, const Epilogue *ep);
char *emit_epilogue_args(Emit *e, const Epilogue *ep);
/* Kernel fname's own function `fname(l->params, int64_t n)`, compiled per instruction set: a wrapper for each
 * holds l's loop, and fname calls the one <name>_isa() picks, or runs the loop as portable C. */
void emit_isa_kernel(Emit *e, const char *fname, const IsaLoop *l);
/* Whether schedule s reads input number `input`; the C parameters of the inputs it reads (`all`: every input). */
bool emit_uses_input(Sched *s, int input);
void emit_input_params(Emit *e, Sched *s, bool all);
char *emit_upper(Ctx *ctx, const char *s);
char *emit_macro_name(Ctx *ctx, const char *name); /* X -> uX, x -> X: see emit.c */
/* Names the generated code gives inputs (renamed away from the code's own), parameters and constants. */
char *emit_input_name(Ctx *ctx, const char *model_name);
char *emit_ident(Ctx *ctx, const char *s);
char *emit_const_name(Emit *e, const IrNode *n);

/* ---- emit_api.c: the generated code's interface: headers, initialisers, checkpoint reader ---- */

void emit_header(FILE *out, Compiled *c, const EmitOptions *o);
/* <name>_init, and <name>_load with the tensors' table, as C of the source being emitted */
void emit_init(Emit *e);
void emit_loader(Emit *e);
void emit_batch_guard(Emit *e, const char *refusal);
void emit_saver(Emit *e);    /* <name>_save, after emit_loader in the training source */
void emit_metadata(Emit *e); /* the tables and functions behind the header's metadata */
int64_t emit_checkpoint_bytes(Compiled *c);

/* ---- quant.c: int8 kernels for --quantize int8 ---- */

/* One kernel that runs in int8: its weights quantized per output channel, symmetric (w = scale[o] * q, q in
 * [-127, 127]); its input quantized per tensor with zero point 0, as uint8 (x = ascale * q, q in [0, 255]) when
 * the calibration set never made it negative, else as int8 in [-127, 127]. */
struct QuantKernel {
    IrNode *node;
    int64_t channels, inner;
    int8_t *w;      /* [channels][inner] */
    double *wscale; /* per output channel */
    double lo, hi;  /* the input's range over the calibration set */
    bool u8;        /* lo >= 0: uint8 activations */
    double ascale;  /* the input's scale */
};

/* The most bytes an int8 kernel's quantized input (a row, or a zero-padded image) takes on the stack; a kernel
 * whose input is larger stays f32. It also keeps an output's int32 sum of products (at most 255 * 127 each) far
 * from overflow. */
#define QUANT_STACK_BYTES 16384

typedef struct QuantPlan {
    Vec(QuantKernel) k;
    int *of;           /* per node id of the evaluation graph: its kernel in k, or -1 */
    bool *weight_dead; /* per node id: a weight that only int8 kernels read (its f32 array is not emitted) */
} QuantPlan;

/* The forward schedule's kernels that have an int8 kernel and compiled-in weights, their weights quantized; the
 * activation scales wait for quant_set_range. An empty plan when there are none. */
QuantPlan *quant_plan(Compiled *c);
/* Kernel k's input ranged over [lo, hi] on the calibration set: its activation scale. */
void quant_set_range(QuantKernel *k, double lo, double hi);
/* The kernel of node n in c's plan, or NULL (no plan, or n runs in f32). */
const QuantKernel *quant_of(const Compiled *c, const IrNode *n);
bool quant_weight_dead(const Compiled *c, const IrNode *n);
/* The int8 tables (weights, scales) and the quantize helpers, as C of the inference source. */
void quant_emit_tables(Emit *e);
/* The call of node n's int8 kernel (quant_of(n) is not NULL), inside the forward function. */
void quant_emit_kernel(Emit *e, IrNode *n);
/* Calibration: the call recording kernel n's input range (nothing unless e->opt->observe holds n), and the main()
 * that runs the f32 inference code over raw f32 examples and prints each kernel's range. */
void quant_emit_observe(Emit *e, IrNode *n);
void quant_emit_harness(FILE *out, Compiled *c, const EmitOptions *o); /* for the kernels of o->observe */

/* ---- emit_trainer.c: the trainer's main() ---- */

void emit_trainer(FILE *out, Compiled *c, const EmitOptions *o);

/* ---- layers.c: the layers the exporter writes as one ONNX node ---- */

/* True, with *out one BatchNormalization over the running statistics, when n ends an inference-mode batch_norm
 * layer (the element-wise ops layer_batch_norm builds; the exporter tries this before n's op rule). */
bool layer_batch_norm_onnx(const IrNode *n, OnnxNode *out);
/* True, with *out one Conv or Gemm with its bias input, when n adds a conv2d or linear layer's bias. */
bool layer_bias_onnx(const IrNode *n, OnnxNode *out);

/* ---- export_onnx.c: `dlc export` (linked into dlc itself, with protobuf-c) ---- */

/* The evaluation graph g from its outputs back as an ONNX model (opset 13, the batch dimension symbolic), with
 * weights[i] (parameter i's values) as initializers, or the parameters as graph inputs when weights is NULL.
 * Returns false after reporting, located, every node it cannot write; else *bytes (in g's arena) and *len. */
bool export_onnx(Graph *g, const double **weights, const char *producer_version, uint8_t **bytes, size_t *len);

/* ---- import_onnx.c: `dlc import` (linked into dlc itself, with protobuf-c) ---- */

/* A parameter of an imported model: its full name in the .dlm (the archive's key), shape and values (float32, or
 * int64 for batch norm's num_batches_tracked). */
typedef struct ImportTensor {
    char *name;
    int rank;
    int64_t dims[MAX_RANK];
    float *f32;
    int64_t *i64;
} ImportTensor;

/* What import_onnx makes of a model: the .dlm text, its parameters' tensors and its outputs' shapes (batch 1). */
typedef struct Imported {
    char *dlm;
    size_t len;
    ImportTensor *tensors;
    int ntensors;
    Shape *outputs;
    int noutputs;
} Imported;

/* The ONNX model in bytes[0 .. len) as a model named model_name. Returns false after reporting to ctx's
 * diagnostics, each message starting with `source`, where a malformed file breaks, or every node, attribute and
 * shape it cannot express; else fills *out (in ctx's arena). Nothing is written. */
bool import_onnx(Ctx *ctx, const uint8_t *bytes, size_t len, const char *source, const char *model_name, Imported *out);
/* Elaborates the imported text under the budget of `parent` and checks it declares the tensors and outputs
 * import_onnx computed. False, after the elaborator's messages, when dlc's limits refuse the model; dies (a bug of
 * the importer) when it declares something else. */
bool import_check(const Ctx *parent, const Imported *im, const char *model_name);

/* ---- ir.c: dump and verifier ---- */

void ir_dump(FILE *out, Graph *g, const Sched *s);
void ir_verify(Graph *g, const char *after);

/* ---- check.c: `dlc check` report ---- */

/* Marks in `live` (indexed by id, g->nodes.n entries) every node the roots depend on. */
void ir_mark_live(Graph *g, IrNode **roots, int nroots, bool *live);
void check_print(FILE *out, Compiled *c);
/* What `dlc check --infer` measured of the inference code (main.c); code, constant and mutable bytes only when
 * `measured`. */
typedef struct CheckSizes {
    bool portable, measured;
    uint64_t code, constant, mutable_data;
} CheckSizes;
/* The same report as one JSON object; with sizes (check --infer), an "embedding" member. */
void check_print_json(FILE *out, Compiled *c, const CheckSizes *sizes);

#endif
