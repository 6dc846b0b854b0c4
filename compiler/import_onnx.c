/* import_onnx.c - `dlc import`: an ONNX model (what torch.onnx.export and `dlc export` write) as a model in dlc's
 * language and the tensors of an .npz archive of its initializers, named as the .dlm names its parameters.
 *
 * Three steps. The wire walk (wire_walk) follows the protobuf encoding of the ModelProto and of the messages inside
 * it that matter, and says at which byte and in which field a malformed or truncated file breaks, before protobuf-c
 * (whose C the build generates from Debian's onnx.proto) decodes it. The conversion goes through the graph's nodes
 * in order: each node becomes a step, a layer or an expression of the language (Conv a conv2d, Gemm a linear,
 * ...), or folds away (Identity, inference Dropout, a Pad of zeros, a Reshape of a constant, the bias Add after a
 * Conv or Gemm without one, as `dlc export` writes them); output shapes are computed and checked on the way. Every
 * node it cannot express is reported, with its name and op type, and the conversion goes on to report them all.
 * Last, the text: one pipeline per chain of values used once, shapes in comments, each layer named after its
 * weight's initializer (PyTorch's state_dict name, where the file keeps it) or its node. import_check then
 * elaborates the text and checks it against the tensors and the shapes computed here: a difference is a bug of
 * this file, never the user's. */
#include <errno.h>
#include <limits.h>
#include <math.h>

#include "dlc.h"
#include "elab.h"
#include "onnx.pb-c.h"

enum { ONNX_FLOAT = 1, ONNX_INT64 = 7, MAX_REPORTED = 200 };

/* ---- the wire walk ---- */

enum { W_MODEL, W_GRAPH, W_NODE, W_ATTR, W_TENSOR, W_VALUE, W_TYPE, W_TTENSOR, W_SHAPE, W_DIM, W_OPSET, W_LEAF };

/* The fields the walk goes into, and the names it gives fields in messages. */
static const struct {
    int msg, field, child;
    const char *name;
} wire_fields[] = {
    {W_MODEL, 1, W_LEAF, "ir_version"},  {W_MODEL, 7, W_GRAPH, "graph"},     {W_MODEL, 8, W_OPSET, "opset_import"},
    {W_GRAPH, 1, W_NODE, "node"},        {W_GRAPH, 2, W_LEAF, "name"},       {W_GRAPH, 5, W_TENSOR, "initializer"},
    {W_GRAPH, 11, W_VALUE, "input"},     {W_GRAPH, 12, W_VALUE, "output"},   {W_GRAPH, 13, W_VALUE, "value_info"},
    {W_NODE, 1, W_LEAF, "input"},        {W_NODE, 2, W_LEAF, "output"},      {W_NODE, 3, W_LEAF, "name"},
    {W_NODE, 4, W_LEAF, "op_type"},      {W_NODE, 5, W_ATTR, "attribute"},   {W_ATTR, 5, W_TENSOR, "t"},
    {W_ATTR, 6, W_GRAPH, "g"},           {W_ATTR, 10, W_TENSOR, "tensors"},  {W_ATTR, 11, W_GRAPH, "graphs"},
    {W_TENSOR, 1, W_LEAF, "dims"},       {W_TENSOR, 2, W_LEAF, "data_type"}, {W_TENSOR, 4, W_LEAF, "float_data"},
    {W_TENSOR, 7, W_LEAF, "int64_data"}, {W_TENSOR, 8, W_LEAF, "name"},      {W_TENSOR, 9, W_LEAF, "raw_data"},
    {W_VALUE, 1, W_LEAF, "name"},        {W_VALUE, 2, W_TYPE, "type"},       {W_TYPE, 1, W_TTENSOR, "tensor_type"},
    {W_TTENSOR, 2, W_SHAPE, "shape"},    {W_SHAPE, 1, W_DIM, "dim"},
};

static int wire_field(int msg, int field, const char **name) {
    for (size_t i = 0; i < sizeof wire_fields / sizeof wire_fields[0]; i++)
        if (wire_fields[i].msg == msg && wire_fields[i].field == field) {
            *name = wire_fields[i].name;
            return wire_fields[i].child;
        }
    *name = NULL;
    return W_LEAF;
}

static bool wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*p >= end)
            return false;
        uint8_t b = *(*p)++;
        if (shift < 64)
            *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* Walks the message in [p, end) of kind msg, at path; NULL when it is well formed, else what is wrong and where. */
static char *wire_walk(Ctx *ctx, const uint8_t *base, const uint8_t *p, const uint8_t *end, const uint8_t *file_end,
                       int msg, const char *path, int depth) {
    if (depth > 32)
        return xsprintf(ctx, "byte %zu, in %s: messages nested more than 32 deep", (size_t)(p - base), path);
    int count[16] = {0}; /* index of the next element of repeated fields 1..15 */
    while (p < end) {
        size_t at = (size_t)(p - base);
        uint64_t key, v;
        if (!wire_varint(&p, end, &key))
            return xsprintf(ctx, "byte %zu, in %s: a field's key is cut off or longer than 10 bytes", at, path);
        uint64_t field = key >> 3;
        int type = (int)(key & 7);
        const char *fname = NULL;
        int child = field < 1u << 29 ? wire_field(msg, (int)field, &fname) : W_LEAF;
        char *where = fname ? xsprintf(ctx, "%s.%s", path, fname)
                            : xsprintf(ctx, "%s.field %llu", path, (unsigned long long)field);
        if (field == 0)
            return xsprintf(ctx, "byte %zu, in %s: a field numbered 0", at, path);
        bool single = (msg == W_MODEL && field == 7) || (msg == W_VALUE && field == 2) || msg == W_TYPE ||
                      msg == W_TTENSOR || (msg == W_ATTR && (field == 5 || field == 6));
        if (field < 16 && child != W_LEAF && !single)
            where = xsprintf(ctx, "%s[%d]", where, count[field]++);
        switch (type) {
        case 0:
            if (!wire_varint(&p, end, &v))
                return xsprintf(ctx, "byte %zu, in %s: a varint is cut off or longer than 10 bytes", at, where);
            break;
        case 1:
        case 5: {
            size_t n = type == 1 ? 8 : 4;
            if ((size_t)(end - p) < n)
                return xsprintf(ctx, "byte %zu, in %s: a %zu-byte value runs past the end (%zu bytes left)", at, where,
                                n, (size_t)(end - p));
            p += n;
            break;
        }
        case 2: {
            if (!wire_varint(&p, end, &v))
                return xsprintf(ctx, "byte %zu, in %s: a length is cut off or longer than 10 bytes", at, where);
            /* a message cut short: where inside it the cut falls says more than its length does */
            if (v > (uint64_t)(end - p) && child != W_LEAF) {
                char *inside = wire_walk(ctx, base, p, end, file_end, child, where, depth + 1);
                if (inside)
                    return inside;
            }
            if (v > (uint64_t)(end - p))
                return xsprintf(ctx,
                                "byte %zu, in %s: a length of %llu bytes runs past the end of %s (%zu bytes left): "
                                "the file is truncated or damaged",
                                at, where, (unsigned long long)v, end == file_end ? "the file" : "its message",
                                (size_t)(end - p));
            if (child != W_LEAF) {
                char *why = wire_walk(ctx, base, p, p + v, file_end, child, where, depth + 1);
                if (why)
                    return why;
            }
            p += v;
            break;
        }
        default:
            return xsprintf(ctx, "byte %zu, in %s: wire type %d, which onnx.proto never uses", at, where, type);
        }
    }
    return NULL;
}

/* ---- names ---- */

/* A map from strings to pointers (open addressing), for the graph's values and the names the .dlm uses. */
typedef struct Map {
    const char **keys;
    void **vals;
    size_t cap, n;
} Map;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211u;
    return h;
}

static size_t map_slot(const Map *m, const char *k) {
    size_t i = (size_t)hash_str(k) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], k) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static void *map_get(const Map *m, const char *k) {
    if (!m->cap)
        return NULL;
    size_t i = map_slot(m, k);
    return m->keys[i] ? m->vals[i] : NULL;
}

static void map_put(Ctx *ctx, Map *m, const char *k, void *v) {
    if (2 * (m->n + 1) > m->cap) {
        Map bigger = {.cap = m->cap ? 2 * m->cap : 64};
        bigger.keys = xalloc(ctx, sizeof(char *) * bigger.cap);
        bigger.vals = xalloc(ctx, sizeof(void *) * bigger.cap);
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i])
                map_put(ctx, &bigger, m->keys[i], m->vals[i]);
        *m = bigger;
    }
    size_t i = map_slot(m, k);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = k;
    m->vals[i] = v;
}

static bool is_ident_char(char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Words the .dlm cannot bind: keywords, and builtins a binding would shadow. */
static bool reserved(Ctx *ctx, const char *s) {
    static const char *const keywords[] = {"input", "output", "param", "const", "state", "block", "return",
                                           "for",   "in",     "while", "if",    "else",  "init",  "train",
                                           "batch", "as",     "and",   "or",    "not",   "true",  "false",
                                           "self",  "max",    "min",   "sum",   "mean",  "range", "len"};
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (strcmp(s, keywords[i]) == 0)
            return true;
    return builtin_lookup(ctx, s) != NULL || op_lookup(s) >= 0;
}

/* s as an identifier of the language: runs of other characters become one '_', none at either end; a leading
 * digit takes `prefix_` in front; a reserved word takes a '_' after. */
static char *ident(Ctx *ctx, const char *s, const char *prefix) {
    size_t n = strlen(s);
    char *out = xalloc(ctx, n + strlen(prefix) + 4), *o = out;
    for (const char *p = s; *p; p++) {
        if (is_ident_char(*p) && *p != '_')
            *o++ = *p;
        else if (o > out && o[-1] != '_')
            *o++ = '_';
    }
    while (o > out && o[-1] == '_')
        o--;
    *o = '\0';
    if (!*out)
        return xstrdup(ctx, prefix);
    if (*out >= '0' && *out <= '9')
        out = xsprintf(ctx, "%s_%s", prefix, out);
    if (reserved(ctx, out))
        out = xsprintf(ctx, "%s_", out);
    return out;
}

/* ---- the conversion ---- */

typedef enum { V_DATA, V_CONST } ValKind;

typedef struct Step Step;

/* One value of the graph. */
typedef struct Val {
    ValKind kind;
    bool bad; /* made by a node that was refused: what reads it is not reported again */
    int rank;
    int64_t d[MAX_RANK];
    bool batched; /* d[0] is the batch */
    /* constants: float32 values, or int64 (shapes, pads) */
    float *f;
    int64_t *i;
    int64_t count;
    const char *init_name; /* the initializer's (or Constant node's) name, for the parameter made of it */
    char *param;           /* the .dlm parameter that holds it, once declared */
    /* data */
    Step *by;           /* the step that computes it; NULL for a graph input */
    char *var;          /* the .dlm variable (or input) that holds it, once written */
    int uses;           /* steps and graph outputs reading it */
    int alias_reads;    /* reads under other names (Identity, Dropout, a Pad of nothing) */
    bool output;        /* a graph output */
    int last_read;      /* the last step that reads it (INT_MAX: a graph output) */
    struct Val *pad_of; /* a Pad of zeros around the image of pad_of: only Conv and AveragePool take it */
    int64_t pad[2];
} Val;

typedef enum {
    S_CONV,
    S_LINEAR,
    S_BN,
    S_MAXPOOL,
    S_AVGPOOL,
    S_GAP,
    S_FLATTEN,
    S_RESHAPE,
    S_PERMUTE,
    S_UNARY,
    S_SOFTMAX,
    S_BINARY,
    S_CONCAT,
} StepKind;

/* A layer or an expression of the .dlm. */
struct Step {
    StepKind kind;
    Vec(Val *) in;
    Val *out;
    const char *fn; /* S_UNARY, S_SOFTMAX: the function; S_BINARY: the operator */
    int64_t a[8];   /* out features or channels; kernel h w, stride h w, padding h w; an axis; a shape */
    int64_t perm[MAX_RANK];
    float eps, momentum;
    char *layer; /* the `as` name of a layer with parameters */
    int pos;     /* its place in Im.steps */
    int npath;   /* the module path of its weight, PyTorch's `4.0.conv1` of `4.0.conv1.weight` (0: none) */
    char **path;
    Val *weight, *bias; /* S_CONV, S_LINEAR (the weight in dlc's layout); S_BN: weight, bias, and */
    Val *mean, *var;
};

typedef struct Im {
    Ctx *ctx;
    const char *source;
    int errors;
    int64_t opset;
    Map vals;     /* ONNX name -> Val */
    Map raw_uses; /* ONNX name -> how many node inputs and graph outputs name it */
    Map names;    /* the names the .dlm binds */
    Vec(Step *) steps;
    Vec(Val *) inputs;
    Vec(char *) input_names;
    Vec(Val *) outputs;
    Vec(char *) output_names;
    Vec(ImportTensor) tensors;
    const Onnx__NodeProto *node; /* the node being converted */
    int node_index;
} Im;

static void report(Im *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(Im *im, const char *fmt, ...) {
    im->ctx->diag.errors++; /* the driver's count, "N errors generated." */
    if (++im->errors > MAX_REPORTED) {
        if (im->errors == MAX_REPORTED + 1)
            fprintf(im->ctx->diag.out, "%s: too many errors; stopping the report here\n", im->source);
        return;
    }
    fprintf(im->ctx->diag.out, "%s: error: ", im->source);
    const Onnx__NodeProto *n = im->node;
    if (n)
        fprintf(im->ctx->diag.out,
                "node '%s' (%s): ", n->name && *n->name ? n->name : xsprintf(im->ctx, "#%d", im->node_index),
                n->op_type ? n->op_type : "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(im->ctx->diag.out, fmt, ap);
    va_end(ap);
    fputc('\n', im->ctx->diag.out);
}

static char *dims_str(Ctx *ctx, const Val *v) {
    char *s = "[";
    for (int k = 0; k < v->rank; k++)
        s = k == 0 && v->batched ? xsprintf(ctx, "%sbatch", s)
                                 : xsprintf(ctx, "%s%s%lld", s, k ? ", " : "", (long long)v->d[k]);
    return xsprintf(ctx, "%s]", s);
}

static int64_t numel(const Val *v) {
    int64_t n = 1;
    for (int k = 0; k < v->rank; k++)
        n *= v->d[k];
    return n;
}

static int64_t inner(const Val *v) {
    int64_t n = 1;
    for (int k = v->batched ? 1 : 0; k < v->rank; k++)
        n *= v->d[k];
    return n;
}

/* A new value of rank r and dims d; false after a report when it is too large for dlc. */
static bool set_dims(Im *im, Val *v, int rank, const int64_t *d) {
    if (rank > MAX_RANK) {
        report(im, "a tensor of rank %d (dlc's tensors have at most %d dimensions)", rank, MAX_RANK);
        return false;
    }
    v->rank = rank;
    int64_t n = 1;
    for (int k = 0; k < rank; k++) {
        if (d[k] < 1 || d[k] > MAX_NUMEL || n > MAX_NUMEL / d[k]) {
            report(im, "a tensor with dimension %lld, or more than %lld elements", (long long)d[k],
                   (long long)MAX_NUMEL);
            return false;
        }
        n *= d[k];
        v->d[k] = d[k];
    }
    return true;
}

static Val *new_val(Im *im, ValKind kind) {
    Val *v = xalloc(im->ctx, sizeof *v);
    v->kind = kind;
    return v;
}

/* The value named by input k of the node, NULL when it is absent (an optional input left out). */
static Val *input_val(Im *im, int k, bool *missing) {
    const Onnx__NodeProto *n = im->node;
    if ((size_t)k >= n->n_input || !n->input[k] || !*n->input[k])
        return NULL;
    Val *v = map_get(&im->vals, n->input[k]);
    if (!v) {
        report(im,
               "input '%s' is made by no earlier node, initializer or graph input (the nodes must be in "
               "topological order)",
               n->input[k]);
        *missing = true;
    }
    return v;
}

static void bind_output(Im *im, int k, Val *v) {
    const Onnx__NodeProto *n = im->node;
    if ((size_t)k < n->n_output && n->output[k] && *n->output[k])
        map_put(im->ctx, &im->vals, n->output[k], v);
}

/* ---- attributes ---- */

static const Onnx__AttributeProto *attr(const Im *im, const char *name) {
    for (size_t i = 0; i < im->node->n_attribute; i++)
        if (im->node->attribute[i]->name && strcmp(im->node->attribute[i]->name, name) == 0)
            return im->node->attribute[i];
    return NULL;
}

/* Reports every attribute not named in `known` (a NULL-terminated list). */
static bool attrs_known(Im *im, const char *const *known) {
    bool ok = true;
    for (size_t i = 0; i < im->node->n_attribute; i++) {
        const char *name = im->node->attribute[i]->name ? im->node->attribute[i]->name : "";
        bool found = false;
        for (const char *const *k = known; *k && !found; k++)
            found = strcmp(*k, name) == 0;
        if (!found) {
            report(im, "attribute '%s' is not supported", name);
            ok = false;
        }
    }
    return ok;
}

static bool attr_int(Im *im, const char *name, int64_t dflt, int64_t *out) {
    const Onnx__AttributeProto *a = attr(im, name);
    *out = dflt;
    if (!a)
        return true;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) {
        report(im, "attribute '%s' is not an integer", name);
        return false;
    }
    *out = a->i;
    return true;
}

static bool attr_float(Im *im, const char *name, float dflt, float *out) {
    const Onnx__AttributeProto *a = attr(im, name);
    *out = dflt;
    if (!a)
        return true;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT || !isfinite(a->f)) {
        report(im, "attribute '%s' is not a finite float", name);
        return false;
    }
    *out = a->f;
    return true;
}

/* An ints attribute of exactly n values (or absent: *present false). */
static bool attr_ints(Im *im, const char *name, int n, int64_t *out, bool *present) {
    const Onnx__AttributeProto *a = attr(im, name);
    *present = a != NULL;
    if (!a)
        return true;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS || a->n_ints != (size_t)n) {
        report(im, "attribute '%s' should be %d integers", name, n);
        return false;
    }
    memcpy(out, a->ints, sizeof(int64_t) * (size_t)n);
    return true;
}

static bool attr_string_is(Im *im, const char *name, const char *want) {
    const Onnx__AttributeProto *a = attr(im, name);
    if (!a)
        return true;
    bool ok = a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING && a->s.len == strlen(want) &&
              memcmp(a->s.data, want, a->s.len) == 0;
    if (!ok)
        report(im, "attribute '%s' is supported as \"%s\" only", name, want);
    return ok;
}

/* ---- tensors ---- */

static uint64_t le_bytes(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int b = 0; b < n; b++)
        v |= (uint64_t)p[b] << (8 * b);
    return v;
}

/* A constant from a TensorProto (an initializer or a Constant's value), float32 or int64. */
static Val *tensor_val(Im *im, const Onnx__TensorProto *t, const char *what) {
    const char *name = t->name && *t->name ? t->name : what;
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        report(im,
               "tensor '%s' is stored in an external file, which dlc import does not read (save the model with "
               "onnx.save(model, path, save_as_external_data=False))",
               name);
        return NULL;
    }
    if (t->data_type != ONNX_FLOAT && t->data_type != ONNX_INT64) {
        report(im, "tensor '%s' has data type %d; dlc imports float32 (1) tensors and int64 (7) shapes", name,
               t->data_type);
        return NULL;
    }
    if (t->segment) {
        report(im, "tensor '%s' is a segment of a tensor, which dlc import does not read", name);
        return NULL;
    }
    Val *v = new_val(im, V_CONST);
    v->init_name = name;
    if (t->n_dims > MAX_RANK) {
        report(im, "tensor '%s' has rank %zu (dlc's tensors have at most %d dimensions)", name, t->n_dims, MAX_RANK);
        return NULL;
    }
    int64_t count = 1;
    for (size_t k = 0; k < t->n_dims; k++) {
        if (t->dims[k] < 1 || t->dims[k] > MAX_NUMEL || count > MAX_NUMEL / t->dims[k]) {
            report(im, "tensor '%s' has dimension %lld, or more than %lld elements", name, (long long)t->dims[k],
                   (long long)MAX_NUMEL);
            return NULL;
        }
        count *= t->dims[k];
        v->d[k] = t->dims[k];
    }
    v->rank = (int)t->n_dims;
    v->count = count;
    bool is_f = t->data_type == ONNX_FLOAT;
    size_t size = is_f ? 4 : 8, have = t->has_raw_data ? t->raw_data.len / size
                                       : is_f          ? t->n_float_data
                                                       : t->n_int64_data;
    if ((t->has_raw_data && t->raw_data.len % size) || have != (size_t)count) {
        report(im, "tensor '%s' of shape %s holds %zu values, not %lld", name, dims_str(im->ctx, v), have,
               (long long)count);
        return NULL;
    }
    if (is_f)
        v->f = xalloc(im->ctx, sizeof(float) * (size_t)count);
    else
        v->i = xalloc(im->ctx, sizeof(int64_t) * (size_t)count);
    for (int64_t k = 0; k < count; k++) {
        if (t->has_raw_data) {
            uint64_t bits = le_bytes(t->raw_data.data + (size_t)k * size, (int)size);
            if (is_f) {
                uint32_t b32 = (uint32_t)bits;
                memcpy(&v->f[k], &b32, 4);
            } else {
                v->i[k] = (int64_t)bits;
            }
        } else if (is_f) {
            v->f[k] = t->float_data[k];
        } else {
            v->i[k] = t->int64_data[k];
        }
        if (is_f && !isfinite(v->f[k])) {
            report(im, "tensor '%s' holds a value that is not finite at element %lld", name, (long long)k);
            return NULL;
        }
    }
    return v;
}

/* ---- steps ---- */

static Step *new_step(Im *im, StepKind kind, Val *x, Val *out) {
    Step *s = xalloc(im->ctx, sizeof *s);
    s->kind = kind;
    s->pos = im->steps.n;
    if (x)
        vec_push(im->ctx, &s->in, x);
    s->out = out;
    out->by = s;
    vec_push(im->ctx, &im->steps, s);
    return s;
}

/* The data input k: a computed value, not a constant and not a pending Pad (unless the op takes one). */
static Val *data_input(Im *im, int k, bool *missing, bool pad_ok) {
    Val *v = input_val(im, k, missing);
    if (!v) {
        if (!*missing) {
            report(im, "input %d is missing", k);
            *missing = true;
        }
        return NULL;
    }
    if (v->bad) {
        *missing = true;
        return NULL;
    }
    if (v->kind != V_DATA) {
        report(im, "input %d ('%s') is a constant; dlc imports this op on computed tensors only", k,
               im->node->input[k]);
        *missing = true;
        return NULL;
    }
    if (v->pad_of && !pad_ok) {
        report(im, "input %d comes from a Pad, which dlc imports only before Conv and AveragePool", k);
        *missing = true;
        return NULL;
    }
    return v;
}

/* A constant input of float32 values and the given rank (-1: any). */
static Val *const_input(Im *im, int k, int rank, const char *what, bool *missing) {
    Val *v = input_val(im, k, missing);
    if (!v) {
        if (!*missing)
            report(im, "the %s (input %d) is missing", what, k);
        *missing = true;
        return NULL;
    }
    if (v->bad) {
        *missing = true;
        return NULL;
    }
    if (v->kind != V_CONST || !v->f) {
        report(im,
               "the %s ('%s') is not a float32 initializer or constant; dlc imports it as a parameter, whose "
               "values the file must hold",
               what, im->node->input[k]);
        *missing = true;
        return NULL;
    }
    if (rank >= 0 && v->rank != rank) {
        report(im, "the %s ('%s') has shape %s, not of rank %d", what, im->node->input[k], dims_str(im->ctx, v), rank);
        *missing = true;
        return NULL;
    }
    return v;
}

static bool no_extra_outputs(Im *im) {
    for (size_t k = 1; k < im->node->n_output; k++)
        if (im->node->output[k] && *im->node->output[k] && map_get(&im->raw_uses, im->node->output[k])) {
            report(im, "output %zu ('%s') is used, and dlc imports only the op's first output", k, im->node->output[k]);
            return false;
        }
    return true;
}

static Val *data_out(Im *im) { return new_val(im, V_DATA); }

/* The node's output is its input under another name, read as often as that name is. */
static void alias(Im *im, Val *x) {
    const char *out = im->node->n_output ? im->node->output[0] : NULL;
    if (out && *out)
        x->alias_reads += (int)(intptr_t)map_get(&im->raw_uses, out);
    bind_output(im, 0, x);
}

/* The module path of a weight named `A.B.C.weight` (PyTorch's state_dict key: A.B.C the module), each part a
 * number without leading zeros (an nn.Sequential's child) or an identifier (an attribute); else no path. */
static void module_path(Im *im, Step *s, const Val *weight) {
    const char *w = weight ? weight->init_name : NULL;
    size_t wl = w ? strlen(w) : 0;
    if (!w || wl <= 7 || strcmp(w + wl - 7, ".weight") != 0)
        return;
    char **parts = xalloc(im->ctx, sizeof(char *) * (wl + 1));
    int n = 0;
    for (const char *p = w, *end = w + wl - 7; p <= end; n++) {
        size_t len = strcspn(p, ".");
        if (p + len > end)
            len = (size_t)(end - p);
        char *part = xstrndup(im->ctx, p, len);
        bool number = len > 0 && len < 7 && strspn(part, "0123456789") == len && (len == 1 || part[0] != '0');
        if (!number && (len == 0 || strcmp(ident(im->ctx, part, "m"), part) != 0))
            return;
        parts[n] = part;
        p += len + 1;
    }
    s->npath = n;
    s->path = parts;
}

/* The layer's name: its weight's initializer's name without ".weight" (PyTorch's module path), else the node's
 * name without the trailing op (torch's "/features/features.0/Conv"), as an identifier not yet bound. */
static char *layer_name(Im *im, const Val *weight, const char *prefix) {
    const char *w = weight ? weight->init_name : NULL;
    const char *base = NULL;
    size_t wl = w ? strlen(w) : 0;
    if (w && wl > 7 && strcmp(w + wl - 7, ".weight") == 0 && !strstr(w, "::"))
        base = xstrndup(im->ctx, w, wl - 7);
    else if (im->node->name && *im->node->name) {
        const char *slash = strrchr(im->node->name, '/');
        base = slash && slash != im->node->name ? xstrndup(im->ctx, im->node->name, (size_t)(slash - im->node->name))
                                                : im->node->name;
    }
    char *name = ident(im->ctx, base ? base : xsprintf(im->ctx, "%s_%d", prefix, im->node_index), prefix);
    char *unique = name;
    for (int k = 2; map_get(&im->names, unique); k++)
        unique = xsprintf(im->ctx, "%s_%d", name, k);
    map_put(im->ctx, &im->names, unique, unique);
    return unique;
}

/* Spatial attributes of Conv and the pools: kernel_shape (checked against `kernel` when given), strides, pads
 * (the same at both ends), dilations of 1, auto_pad NOTSET; into a[1..6]. */
static bool spatial(Im *im, Step *s, const int64_t *kernel, const Val *x) {
    int64_t k[2] = {kernel ? kernel[0] : 0, kernel ? kernel[1] : 0}, st[2] = {1, 1}, pads[4] = {0, 0, 0, 0},
            dil[2] = {1, 1};
    bool has_k, has, ok = true;
    int64_t kk[2];
    ok &= attr_ints(im, "kernel_shape", 2, kk, &has_k);
    if (ok && has_k && kernel && (kk[0] != k[0] || kk[1] != k[1])) {
        report(im, "kernel_shape (%lld, %lld) is not the weight's (%lld, %lld)", (long long)kk[0], (long long)kk[1],
               (long long)k[0], (long long)k[1]);
        ok = false;
    }
    if (ok && has_k)
        k[0] = kk[0], k[1] = kk[1];
    if (ok && !has_k && !kernel) {
        report(im, "attribute 'kernel_shape' is missing");
        ok = false;
    }
    ok &= attr_ints(im, "strides", 2, st, &has) && attr_ints(im, "pads", 4, pads, &has) &&
          attr_ints(im, "dilations", 2, dil, &has) && attr_string_is(im, "auto_pad", "NOTSET");
    if (!ok)
        return false;
    if (dil[0] != 1 || dil[1] != 1) {
        report(im, "dilations (%lld, %lld) are not supported (only 1): dlc's convolutions and pools have no dilation",
               (long long)dil[0], (long long)dil[1]);
        return false;
    }
    if (pads[0] != pads[2] || pads[1] != pads[3]) {
        report(im, "pads (%lld, %lld, %lld, %lld) differ at the two ends of an axis (dlc pads both alike)",
               (long long)pads[0], (long long)pads[1], (long long)pads[2], (long long)pads[3]);
        return false;
    }
    int64_t pad[2] = {pads[0], pads[1]};
    if (x->pad_of)
        pad[0] += x->pad[0], pad[1] += x->pad[1];
    for (int j = 0; j < 2; j++) {
        if (k[j] < 1 || st[j] < 1 || pad[j] < 0 || k[j] > MAX_NUMEL || st[j] > MAX_NUMEL || pad[j] > MAX_NUMEL) {
            report(im, "kernel (%lld, %lld), strides (%lld, %lld) or pads (%lld, %lld) out of range", (long long)k[0],
                   (long long)k[1], (long long)st[0], (long long)st[1], (long long)pad[0], (long long)pad[1]);
            return false;
        }
    }
    s->a[1] = k[0], s->a[2] = k[1], s->a[3] = st[0], s->a[4] = st[1], s->a[5] = pad[0], s->a[6] = pad[1];
    return true;
}

/* The image input of Conv and the pools: [batch, C, H, W]; a pending Pad folds into the op's padding. */
static Val *image_input(Im *im, bool pad_ok, bool *missing) {
    Val *x = data_input(im, 0, missing, pad_ok);
    if (x && (x->rank != 4 || !x->batched)) {
        report(im, "input of shape %s; dlc imports it on [batch, C, H, W]", dims_str(im->ctx, x));
        *missing = true;
        return NULL;
    }
    return x;
}

/* The output [batch, C, H', W'] of a window op whose attributes spatial() put in s->a. */
static bool window_out(Im *im, Step *s, const Val *x, int64_t channels, Val *y) {
    int64_t d[4] = {x->d[0], channels, 0, 0};
    for (int j = 0; j < 2; j++) {
        int64_t span = x->d[2 + j] + 2 * s->a[5 + j];
        if (s->a[1 + j] > span) {
            report(im, "a %lldx%lld window with padding (%lld, %lld) does not fit the input %s", (long long)s->a[1],
                   (long long)s->a[2], (long long)s->a[5], (long long)s->a[6], dims_str(im->ctx, x));
            return false;
        }
        d[2 + j] = (span - s->a[1 + j]) / s->a[3 + j] + 1;
    }
    y->batched = true;
    return set_dims(im, y, 4, d);
}

typedef bool (*ConvertFn)(Im *im);

static bool conv_conv(Im *im) {
    static const char *const known[] = {"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad", NULL};
    bool missing = false;
    Val *x = image_input(im, true, &missing);
    Val *w = const_input(im, 1, 4, "weight", &missing);
    bool has_b = im->node->n_input > 2 && im->node->input[2] && *im->node->input[2];
    Val *b = has_b ? const_input(im, 2, 1, "bias", &missing) : NULL;
    int64_t group;
    bool ok = attrs_known(im, known) && attr_int(im, "group", 1, &group) && !missing;
    if (ok && group != 1) {
        report(im,
               "group %lld is not supported (only 1): dlc's conv2d has no groups, its weight [out, in, kh, kw] reads "
               "every input channel (no grouped or depthwise convolutions)",
               (long long)group);
        ok = false;
    }
    if (!ok)
        return false;
    if (w->d[1] != x->d[1]) {
        report(im, "the weight %s does not match the input's %lld channels", dims_str(im->ctx, w), (long long)x->d[1]);
        return false;
    }
    if (b && b->d[0] != w->d[0]) {
        report(im, "the bias %s does not match the weight %s", dims_str(im->ctx, b), dims_str(im->ctx, w));
        return false;
    }
    Val *y = data_out(im);
    Val *src = x->pad_of ? x->pad_of : x;
    Step *s = new_step(im, S_CONV, src, y);
    if (!spatial(im, s, w->d + 2, x) || !window_out(im, s, src, w->d[0], y))
        return false;
    s->a[0] = w->d[0];
    s->weight = w, s->bias = b;
    s->layer = layer_name(im, w, "conv");
    module_path(im, s, w);
    bind_output(im, 0, y);
    return true;
}

/* Gemm as a linear layer: Y = X W^T + b with the weight [out, in] (transB = 1, PyTorch's) or W [in, out]. */
static bool conv_gemm(Im *im) {
    static const char *const known[] = {"alpha", "beta", "transA", "transB", NULL};
    bool missing = false;
    Val *x = data_input(im, 0, &missing, false);
    Val *w = const_input(im, 1, 2, "weight", &missing);
    bool has_c = im->node->n_input > 2 && im->node->input[2] && *im->node->input[2];
    Val *c = has_c ? const_input(im, 2, -1, "bias", &missing) : NULL;
    float alpha, beta;
    int64_t ta, tb;
    bool ok = attrs_known(im, known) && attr_float(im, "alpha", 1, &alpha) && attr_float(im, "beta", 1, &beta) &&
              attr_int(im, "transA", 0, &ta) && attr_int(im, "transB", 0, &tb) && !missing;
    if (!ok)
        return false;
    if (alpha != 1 || (c && beta != 1) || ta != 0) {
        report(im, "alpha %g, beta %g, transA %lld: dlc imports Gemm with alpha = beta = 1 and transA = 0", alpha, beta,
               (long long)ta);
        return false;
    }
    if (x->rank != 2 || !x->batched) {
        report(im, "input of shape %s; dlc imports Gemm on [batch, features]", dims_str(im->ctx, x));
        return false;
    }
    int64_t in = tb ? w->d[1] : w->d[0], out = tb ? w->d[0] : w->d[1];
    if (in != x->d[1]) {
        report(im, "the weight %s (transB %lld) does not match the input %s", dims_str(im->ctx, w), (long long)tb,
               dims_str(im->ctx, x));
        return false;
    }
    if (c && !(c->count == out && (c->rank == 1 || (c->rank == 2 && c->d[0] == 1)))) {
        report(im, "the bias C has shape %s; dlc imports a bias of [%lld]", dims_str(im->ctx, c), (long long)out);
        return false;
    }
    Val *wt = w;
    if (!tb) { /* dlc's linear weight is [out, in], PyTorch's layout */
        wt = new_val(im, V_CONST);
        *wt = *w;
        wt->d[0] = out, wt->d[1] = in;
        wt->f = xalloc(im->ctx, sizeof(float) * (size_t)w->count);
        for (int64_t r = 0; r < in; r++)
            for (int64_t k = 0; k < out; k++)
                wt->f[k * in + r] = w->f[r * out + k];
    }
    Val *y = data_out(im);
    y->batched = true;
    if (!set_dims(im, y, 2, (int64_t[]){x->d[0], out}))
        return false;
    Step *s = new_step(im, S_LINEAR, x, y);
    s->a[0] = out;
    s->weight = wt, s->bias = c;
    s->layer = layer_name(im, w, "linear");
    module_path(im, s, w);
    bind_output(im, 0, y);
    return true;
}

/* MatMul of [batch, in] by a constant [in, out]: a linear layer without bias (its weight transposed). */
static bool conv_matmul(Im *im) {
    static const char *const known[] = {NULL};
    bool missing = false;
    Val *x = data_input(im, 0, &missing, false);
    Val *w = const_input(im, 1, 2, "weight", &missing);
    if (!attrs_known(im, known) || missing)
        return false;
    if (x->rank != 2 || !x->batched || w->d[0] != x->d[1]) {
        report(im, "%s times %s; dlc imports MatMul of [batch, in] by a constant [in, out]", dims_str(im->ctx, x),
               dims_str(im->ctx, w));
        return false;
    }
    int64_t in = w->d[0], out = w->d[1];
    Val *wt = new_val(im, V_CONST);
    *wt = *w;
    wt->d[0] = out, wt->d[1] = in;
    wt->f = xalloc(im->ctx, sizeof(float) * (size_t)w->count);
    for (int64_t r = 0; r < in; r++)
        for (int64_t k = 0; k < out; k++)
            wt->f[k * in + r] = w->f[r * out + k];
    Val *y = data_out(im);
    y->batched = true;
    if (!set_dims(im, y, 2, (int64_t[]){x->d[0], out}))
        return false;
    Step *s = new_step(im, S_LINEAR, x, y);
    s->a[0] = out;
    s->weight = wt;
    s->layer = layer_name(im, w, "linear");
    module_path(im, s, w);
    bind_output(im, 0, y);
    return true;
}

static bool conv_pool(Im *im, StepKind kind) {
    static const char *const max_known[] = {"kernel_shape", "strides",       "pads",     "dilations",
                                            "ceil_mode",    "storage_order", "auto_pad", NULL};
    static const char *const avg_known[] = {"kernel_shape",      "strides",  "pads", "ceil_mode",
                                            "count_include_pad", "auto_pad", NULL};
    bool missing = false;
    Val *x = image_input(im, kind == S_AVGPOOL, &missing);
    int64_t ceil_mode, order, include;
    bool ok = attrs_known(im, kind == S_MAXPOOL ? max_known : avg_known) && attr_int(im, "ceil_mode", 0, &ceil_mode) &&
              attr_int(im, "storage_order", 0, &order) && attr_int(im, "count_include_pad", 0, &include) &&
              no_extra_outputs(im) && !missing;
    if (ok && ceil_mode) {
        report(im,
               "ceil_mode %lld is not supported (only 0): dlc's pools round the output size down, their padding "
               "the same at both ends",
               (long long)ceil_mode);
        ok = false;
    }
    if (ok && order) {
        report(im, "storage_order %lld is not supported (only 0)", (long long)order);
        ok = false;
    }
    if (!ok)
        return false;
    Val *y = data_out(im);
    Val *src = x->pad_of ? x->pad_of : x;
    Step *s = new_step(im, kind, src, y);
    if (!spatial(im, s, NULL, x) || !window_out(im, s, src, x->d[1], y))
        return false;
    bool own_pads = s->a[5] != (x->pad_of ? x->pad[0] : 0) || s->a[6] != (x->pad_of ? x->pad[1] : 0);
    if (kind == S_AVGPOOL && own_pads && !include) {
        report(im, "count_include_pad 0 with pads: dlc's average pooling counts the padding (PyTorch's default)");
        return false;
    }
    if (2 * s->a[5] > s->a[1] || 2 * s->a[6] > s->a[2]) {
        report(im, "pads (%lld, %lld) more than half the window (%lld, %lld)", (long long)s->a[5], (long long)s->a[6],
               (long long)s->a[1], (long long)s->a[2]);
        return false;
    }
    bind_output(im, 0, y);
    return true;
}

static bool conv_maxpool(Im *im) { return conv_pool(im, S_MAXPOOL); }
static bool conv_avgpool(Im *im) { return conv_pool(im, S_AVGPOOL); }

static bool conv_gap(Im *im) {
    static const char *const known[] = {NULL};
    bool missing = false;
    Val *x = image_input(im, false, &missing);
    if (!attrs_known(im, known) || missing)
        return false;
    Val *y = data_out(im);
    y->batched = true;
    if (!set_dims(im, y, 4, (int64_t[]){x->d[0], x->d[1], 1, 1}))
        return false;
    new_step(im, S_GAP, x, y);
    bind_output(im, 0, y);
    return true;
}

/* The shortest decimal that reads back as the same float32. */
static char *float_str(Ctx *ctx, float v) {
    for (int p = 1; p < 9; p++) {
        char *s = xsprintf(ctx, "%.*g", p, (double)v);
        if (strtof(s, NULL) == v)
            return s;
    }
    return xsprintf(ctx, "%.9g", (double)v);
}

static bool conv_bn(Im *im) {
    static const char *const known[] = {"epsilon", "momentum", "training_mode", "spatial", NULL};
    bool missing = false;
    Val *x = data_input(im, 0, &missing, false);
    Val *p[4];
    static const char *const what[4] = {"scale", "bias", "running mean", "running variance"};
    for (int k = 0; k < 4; k++)
        p[k] = const_input(im, 1 + k, 1, what[k], &missing);
    int64_t training, sp;
    float eps, momentum;
    bool ok = attrs_known(im, known) && attr_float(im, "epsilon", 1e-5f, &eps) &&
              attr_float(im, "momentum", 0.9f, &momentum) && attr_int(im, "training_mode", 0, &training) &&
              attr_int(im, "spatial", 1, &sp) && no_extra_outputs(im) && !missing;
    if (!ok)
        return false;
    if (training || sp != 1) {
        report(im, "training_mode %lld, spatial %lld: dlc imports inference batch normalization per channel",
               (long long)training, (long long)sp);
        return false;
    }
    if (!(eps > 0) || !(momentum >= 0 && momentum <= 1)) {
        report(im, "epsilon %g must be positive and momentum %g in [0, 1]", eps, momentum);
        return false;
    }
    if (!x->batched || (x->rank != 2 && x->rank != 4)) {
        report(im, "input of shape %s; dlc imports it on [batch, C] or [batch, C, H, W]", dims_str(im->ctx, x));
        return false;
    }
    for (int k = 0; k < 4; k++)
        if (p[k]->d[0] != x->d[1]) {
            report(im, "the %s has %lld values for %lld channels", what[k], (long long)p[k]->d[0], (long long)x->d[1]);
            return false;
        }
    for (int64_t c = 0; c < p[3]->count; c++)
        if (p[3]->f[c] < 0) {
            report(im, "the running variance is negative at channel %lld", (long long)c);
            return false;
        }
    Val *y = data_out(im);
    y->batched = true;
    if (!set_dims(im, y, x->rank, x->d))
        return false;
    Step *s = new_step(im, S_BN, x, y);
    s->eps = eps;
    /* ONNX's momentum weighs the running statistic, PyTorch's (and dlc's) the batch's: 1 - m, in decimal */
    s->momentum = (float)(1 - strtod(float_str(im->ctx, momentum), NULL));
    s->weight = p[0], s->bias = p[1], s->mean = p[2], s->var = p[3];
    s->layer = layer_name(im, p[0], "bn");
    module_path(im, s, p[0]);
    bind_output(im, 0, y);
    return true;
}

static bool conv_unary(Im *im) {
    static const char *const known[] = {NULL};
    static const struct {
        const char *onnx, *dlc;
    } fns[] = {{"Relu", "relu"}, {"Sigmoid", "sigmoid"}, {"Tanh", "tanh"}, {"Exp", "exp"},
               {"Log", "log"},   {"Abs", "abs"},         {"Sqrt", "sqrt"}};
    bool missing = false;
    Val *c = input_val(im, 0, &missing);
    if (c && !c->bad && c->kind == V_CONST && c->f && attrs_known(im, known)) { /* folded */
        Val *y = new_val(im, V_CONST);
        *y = *c;
        y->param = NULL;
        y->f = xalloc(im->ctx, sizeof(float) * (size_t)c->count);
        const char *op = im->node->op_type;
        for (int64_t k = 0; k < c->count; k++) {
            float x = c->f[k];
            y->f[k] = strcmp(op, "Relu") == 0      ? (x > 0 ? x : 0)
                      : strcmp(op, "Sigmoid") == 0 ? 1 / (1 + expf(-x))
                      : strcmp(op, "Tanh") == 0    ? tanhf(x)
                      : strcmp(op, "Exp") == 0     ? expf(x)
                      : strcmp(op, "Log") == 0     ? logf(x)
                      : strcmp(op, "Abs") == 0     ? fabsf(x)
                                                   : sqrtf(x);
            if (!isfinite(y->f[k])) {
                report(im, "folding the constant gives a value that is not finite");
                return false;
            }
        }
        bind_output(im, 0, y);
        return true;
    }
    Val *x = data_input(im, 0, &missing, false);
    if (!attrs_known(im, known) || missing)
        return false;
    Val *y = data_out(im);
    *y = (Val){.kind = V_DATA, .rank = x->rank, .batched = x->batched};
    memcpy(y->d, x->d, sizeof y->d);
    Step *s = new_step(im, S_UNARY, x, y);
    for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++)
        if (strcmp(im->node->op_type, fns[k].onnx) == 0)
            s->fn = fns[k].dlc;
    bind_output(im, 0, y);
    return true;
}

/* Softmax and LogSoftmax along one axis of an example (before opset 13, the last axis only: the older operator
 * flattens the trailing axes together). */
static bool conv_softmax(Im *im) {
    static const char *const known[] = {"axis", NULL};
    bool missing = false;
    Val *x = data_input(im, 0, &missing, false);
    int64_t axis;
    if (!attrs_known(im, known) || !attr_int(im, "axis", im->opset >= 13 ? -1 : 1, &axis) || missing)
        return false;
    int64_t a = axis < 0 ? axis + x->rank : axis;
    if (a < 0 || a >= x->rank || (a == 0 && x->batched) || (im->opset < 13 && a != x->rank - 1)) {
        report(im,
               "axis %lld of a tensor of shape %s (opset %lld): dlc imports softmax along an axis within an "
               "example%s",
               (long long)axis, dims_str(im->ctx, x), (long long)im->opset,
               im->opset < 13 ? ", the last before opset 13" : "");
        return false;
    }
    Val *y = data_out(im);
    *y = (Val){.kind = V_DATA, .rank = x->rank, .batched = x->batched};
    memcpy(y->d, x->d, sizeof y->d);
    Step *s = new_step(im, S_SOFTMAX, x, y);
    s->fn = strcmp(im->node->op_type, "Softmax") == 0 ? "softmax" : "log_softmax";
    s->a[0] = a == x->rank - 1 ? -1 : a;
    bind_output(im, 0, y);
    return true;
}

/* Folds an element-wise op of constants (batch norm's scale, as `dlc export` writes it) into a constant, named
 * after its first operand that is more than a number. */
static bool const_binary(Im *im, const Val *a, const Val *b, char op) {
    int rank = a->rank > b->rank ? a->rank : b->rank;
    int64_t d[MAX_RANK], sa[MAX_RANK] = {0}, sb[MAX_RANK] = {0};
    int64_t st_a = 1, st_b = 1;
    for (int j = rank - 1, ka = a->rank - 1, kb = b->rank - 1; j >= 0; j--, ka--, kb--) {
        int64_t ea = ka >= 0 ? a->d[ka] : 1, eb = kb >= 0 ? b->d[kb] : 1;
        if (ea != eb && ea != 1 && eb != 1) {
            report(im, "%s and %s do not broadcast", dims_str(im->ctx, a), dims_str(im->ctx, b));
            return false;
        }
        d[j] = ea > eb ? ea : eb;
        sa[j] = ea == 1 ? 0 : st_a, sb[j] = eb == 1 ? 0 : st_b;
        st_a *= ea, st_b *= eb;
    }
    Val *y = new_val(im, V_CONST);
    if (!set_dims(im, y, rank, d))
        return false;
    y->count = numel(y);
    y->f = xalloc(im->ctx, sizeof(float) * (size_t)y->count);
    y->init_name = a->count > 1 || b->count == 1 ? a->init_name : b->init_name;
    int64_t idx[MAX_RANK] = {0};
    for (int64_t k = 0; k < y->count; k++) {
        int64_t ia = 0, ib = 0;
        for (int j = 0; j < rank; j++)
            ia += idx[j] * sa[j], ib += idx[j] * sb[j];
        float x = a->f[ia], z = b->f[ib];
        y->f[k] = op == '+' ? x + z : op == '-' ? x - z : op == '*' ? x * z : x / z;
        if (!isfinite(y->f[k])) {
            report(im, "folding the constants gives a value that is not finite");
            return false;
        }
        for (int j = rank - 1; j >= 0 && ++idx[j] == d[j]; j--)
            idx[j] = 0;
    }
    bind_output(im, 0, y);
    return true;
}

/* Add, Sub, Mul, Div, broadcast as NumPy does, the batch staying first. */
static bool conv_binary(Im *im) {
    static const char *const known[] = {NULL};
    bool missing = false;
    Val *v[2];
    for (int k = 0; k < 2; k++) {
        v[k] = input_val(im, k, &missing);
        if (!v[k] && !missing) {
            report(im, "input %d is missing", k);
            missing = true;
        }
        if (v[k] && (v[k]->bad || v[k]->pad_of)) {
            if (!v[k]->bad)
                report(im, "input %d comes from a Pad, which dlc imports only before Conv and AveragePool", k);
            missing = true;
        }
        if (v[k] && v[k]->kind == V_CONST && !v[k]->f) {
            report(im, "input %d ('%s') is an integer constant", k, im->node->input[k]);
            missing = true;
        }
    }
    if (!attrs_known(im, known) || missing)
        return false;
    const char *op = strcmp(im->node->op_type, "Add") == 0   ? "+"
                     : strcmp(im->node->op_type, "Sub") == 0 ? "-"
                     : strcmp(im->node->op_type, "Mul") == 0 ? "*"
                                                             : "/";
    if (v[0]->kind == V_CONST && v[1]->kind == V_CONST)
        return const_binary(im, v[0], v[1], *op);
    /* the bias that `dlc export` writes after a bias-less Conv or Gemm folds back into the layer */
    for (int k = 0; k < 2 && *op == '+'; k++) {
        Val *a = v[k], *b = v[1 - k];
        Step *s = a->kind == V_DATA ? a->by : NULL;
        intptr_t uses = (intptr_t)map_get(&im->raw_uses, im->node->input[k]);
        if (!s || s->out != a || s->bias || uses != 1 || a->alias_reads || b->kind != V_CONST ||
            (s->kind != S_CONV && s->kind != S_LINEAR) || b->count != s->a[0])
            continue;
        bool fits = s->kind == S_LINEAR ? b->rank == 1 || (b->rank == 2 && b->d[0] == 1)
                                        : (b->rank == 3 && b->d[1] == 1 && b->d[2] == 1) ||
                                              (b->rank == 4 && b->d[0] == 1 && b->d[2] == 1 && b->d[3] == 1);
        if (!fits)
            continue;
        Val *bias = new_val(im, V_CONST);
        *bias = *b;
        bias->rank = 1;
        bias->d[0] = b->count;
        s->bias = bias;
        bind_output(im, 0, a);
        return true;
    }
    Val *y = data_out(im);
    int rank = v[0]->rank > v[1]->rank ? v[0]->rank : v[1]->rank;
    bool batched = v[0]->batched || v[1]->batched;
    int64_t d[MAX_RANK];
    for (int j = 0; j < rank; j++) {
        int64_t dj = 1;
        for (int k = 0; k < 2; k++) {
            int at = j - (rank - v[k]->rank);
            if (at < 0)
                continue;
            int64_t e = v[k]->d[at];
            bool is_batch = at == 0 && v[k]->batched;
            if ((is_batch && j != 0) || (batched && j == 0 && !v[k]->batched && e != 1)) {
                report(im, "%s %s %s would broadcast the batch dimension away from the first axis",
                       dims_str(im->ctx, v[0]), op, dims_str(im->ctx, v[1]));
                return false;
            }
            if (e != 1 && dj != 1 && e != dj) {
                report(im, "%s and %s do not broadcast", dims_str(im->ctx, v[0]), dims_str(im->ctx, v[1]));
                return false;
            }
            dj = e != 1 ? e : dj;
        }
        d[j] = dj;
    }
    if (batched) { /* the batch dimension is the batched operand's, whichever holds it */
        for (int k = 0; k < 2; k++)
            if (v[k]->batched)
                d[0] = v[k]->d[0];
    }
    y->batched = batched;
    if (!set_dims(im, y, rank, d))
        return false;
    Step *s = new_step(im, S_BINARY, v[0], y);
    vec_push(im->ctx, &s->in, v[1]);
    s->fn = op;
    bind_output(im, 0, y);
    return true;
}

static bool conv_concat(Im *im) {
    static const char *const known[] = {"axis", NULL};
    bool missing = false;
    int64_t axis;
    if (!attrs_known(im, known) || !attr_int(im, "axis", 0, &axis) || !attr(im, "axis")) {
        if (!attr(im, "axis"))
            report(im, "attribute 'axis' is missing");
        return false;
    }
    int n = (int)im->node->n_input;
    if (n < 1) {
        report(im, "no inputs");
        return false;
    }
    Val **xs = xalloc(im->ctx, sizeof(Val *) * (size_t)n);
    for (int k = 0; k < n; k++)
        xs[k] = data_input(im, k, &missing, false);
    if (missing)
        return false;
    int64_t a = axis < 0 ? axis + xs[0]->rank : axis;
    if (a < 0 || a >= xs[0]->rank || (a == 0 && xs[0]->batched)) {
        report(im, "axis %lld of %s: dlc joins along an axis within an example", (long long)axis,
               dims_str(im->ctx, xs[0]));
        return false;
    }
    int64_t d[MAX_RANK];
    memcpy(d, xs[0]->d, sizeof d);
    d[a] = 0;
    for (int k = 0; k < n; k++) {
        bool same = xs[k]->rank == xs[0]->rank && xs[k]->batched == xs[0]->batched;
        for (int j = 0; same && j < xs[0]->rank; j++)
            same = j == a || xs[k]->d[j] == xs[0]->d[j];
        if (!same) {
            report(im, "input %d of shape %s does not match input 0's %s along the other axes", k,
                   dims_str(im->ctx, xs[k]), dims_str(im->ctx, xs[0]));
            return false;
        }
        d[a] += xs[k]->d[a];
        if (d[a] > MAX_NUMEL)
            break;
    }
    Val *y = data_out(im);
    y->batched = xs[0]->batched;
    if (!set_dims(im, y, xs[0]->rank, d))
        return false;
    Step *s = new_step(im, S_CONCAT, xs[0], y);
    for (int k = 1; k < n; k++)
        vec_push(im->ctx, &s->in, xs[k]);
    s->a[0] = a;
    bind_output(im, 0, y);
    return true;
}

/* A constant with new dimensions and the same values. */
static Val *const_reshaped(Im *im, const Val *c, int rank, const int64_t *d) {
    Val *v = new_val(im, V_CONST);
    *v = *c;
    v->param = NULL;
    if (!set_dims(im, v, rank, d))
        return NULL;
    return v;
}

/* Flatten (axis 1 of a batched tensor: dlc's flatten; of a constant: any axis). */
static bool conv_flatten(Im *im) {
    static const char *const known[] = {"axis", NULL};
    bool missing = false;
    Val *x = input_val(im, 0, &missing);
    int64_t axis;
    if (!attrs_known(im, known) || !attr_int(im, "axis", 1, &axis) || missing || !x || x->bad)
        return false;
    int64_t a = axis < 0 ? axis + x->rank : axis;
    if (a < 0 || a > x->rank) {
        report(im, "axis %lld of a tensor of rank %d", (long long)axis, x->rank);
        return false;
    }
    int64_t d[2] = {1, 1};
    for (int j = 0; j < x->rank; j++)
        d[j < a ? 0 : 1] *= x->d[j];
    if (x->kind == V_CONST) {
        Val *c = const_reshaped(im, x, 2, d);
        if (c)
            bind_output(im, 0, c);
        return c != NULL;
    }
    if (x->pad_of || !x->batched || a != 1) {
        report(im, "axis %lld of %s: dlc imports Flatten at axis 1 of a batched tensor", (long long)axis,
               dims_str(im->ctx, x));
        return false;
    }
    Val *y = data_out(im);
    y->batched = true;
    if (!set_dims(im, y, 2, d))
        return false;
    new_step(im, S_FLATTEN, x, y);
    bind_output(im, 0, y);
    return true;
}

/* Reshape to a constant shape: 0 copies the input's dimension, -1 takes what the others leave. The batch stays
 * first: the new shape starts with 0, -1 or the input's batch dimension. */
static bool conv_reshape(Im *im) {
    static const char *const known[] = {"allowzero", NULL};
    bool missing = false;
    Val *x = input_val(im, 0, &missing);
    Val *sh = input_val(im, 1, &missing);
    int64_t allowzero;
    if (!attrs_known(im, known) || !attr_int(im, "allowzero", 0, &allowzero) || missing || !x || x->bad)
        return false;
    if (!sh || sh->bad || sh->kind != V_CONST || !sh->i || sh->rank != 1) {
        if (!sh || !sh->bad)
            report(im, "the shape is not a constant int64 vector (a shape computed at run time is dynamic)");
        return false;
    }
    if (allowzero) {
        report(im, "allowzero 1 is not supported");
        return false;
    }
    int rank = (int)sh->count;
    if (rank > MAX_RANK || rank < 1) {
        report(im, "a target shape of rank %d (dlc: 1 to %d)", rank, MAX_RANK);
        return false;
    }
    int64_t d[MAX_RANK], known_n = 1, total = x->kind == V_DATA && x->batched ? inner(x) : numel(x);
    int minus = -1;
    bool batch_first = x->kind == V_DATA && x->batched;
    for (int j = 0; j < rank; j++) {
        int64_t t = sh->i[j];
        if (j == 0 && batch_first) {
            if (t != 0 && t != -1 && t != x->d[0]) {
                report(im, "the new shape starts with %lld, not the batch (0, -1 or %lld)", (long long)t,
                       (long long)x->d[0]);
                return false;
            }
            d[0] = x->d[0];
            continue;
        }
        if (t == 0 && j < x->rank)
            t = x->d[j];
        if (t == -1 && minus < 0) {
            minus = j;
            continue;
        }
        if (t < 1 || t > MAX_NUMEL || known_n > MAX_NUMEL / t) {
            report(im, "dimension %d of the new shape is %lld", j, (long long)sh->i[j]);
            return false;
        }
        known_n *= t;
        d[j] = t;
    }
    if (minus >= 0)
        d[minus] = known_n ? total / known_n : 0;
    if ((minus >= 0 ? d[minus] * known_n : known_n) != total || (minus >= 0 && d[minus] < 1)) {
        report(im, "%s cannot be reshaped to that shape", dims_str(im->ctx, x));
        return false;
    }
    if (x->kind == V_CONST) {
        Val *c = const_reshaped(im, x, rank, d);
        if (c)
            bind_output(im, 0, c);
        return c != NULL;
    }
    if (x->pad_of) {
        report(im, "input 0 comes from a Pad, which dlc imports only before Conv and AveragePool");
        return false;
    }
    Val *y = data_out(im);
    y->batched = x->batched;
    if (!set_dims(im, y, rank, d))
        return false;
    new_step(im, x->batched && rank == 2 && x->rank > 2 ? S_FLATTEN : S_RESHAPE, x, y);
    bind_output(im, 0, y);
    return true;
}

static bool conv_transpose(Im *im) {
    static const char *const known[] = {"perm", NULL};
    bool missing = false;
    Val *x = input_val(im, 0, &missing);
    if (!attrs_known(im, known) || missing || !x || x->bad)
        return false;
    int64_t perm[MAX_RANK];
    bool has;
    if (!attr_ints(im, "perm", x->rank, perm, &has))
        return false;
    bool seen[MAX_RANK] = {false};
    for (int j = 0; j < x->rank; j++) {
        if (!has)
            perm[j] = x->rank - 1 - j;
        if (perm[j] < 0 || perm[j] >= x->rank || seen[perm[j]]) {
            report(im, "perm is not a permutation of the %d axes", x->rank);
            return false;
        }
        seen[perm[j]] = true;
    }
    int64_t d[MAX_RANK];
    for (int j = 0; j < x->rank; j++)
        d[j] = x->d[perm[j]];
    if (x->kind == V_CONST) {
        Val *c = const_reshaped(im, x, x->rank, d);
        if (!c)
            return false;
        int64_t n = x->count, src_stride[MAX_RANK], idx[MAX_RANK] = {0};
        int64_t st = 1;
        for (int j = x->rank - 1; j >= 0; j--)
            src_stride[j] = st, st *= x->d[j];
        if (x->f)
            c->f = xalloc(im->ctx, sizeof(float) * (size_t)n);
        else
            c->i = xalloc(im->ctx, sizeof(int64_t) * (size_t)n);
        for (int64_t k = 0; k < n; k++) { /* k walks the result in order; idx is its index */
            int64_t from = 0;
            for (int j = 0; j < x->rank; j++)
                from += idx[j] * src_stride[perm[j]];
            if (x->f)
                c->f[k] = x->f[from];
            else
                c->i[k] = x->i[from];
            for (int j = x->rank - 1; j >= 0 && ++idx[j] == d[j]; j--)
                idx[j] = 0;
        }
        bind_output(im, 0, c);
        return true;
    }
    if (x->pad_of || (x->batched && perm[0] != 0)) {
        report(im, "perm moves the batch dimension of %s", dims_str(im->ctx, x));
        return false;
    }
    Val *y = data_out(im);
    y->batched = x->batched;
    if (!set_dims(im, y, x->rank, d))
        return false;
    Step *s = new_step(im, S_PERMUTE, x, y);
    memcpy(s->perm, perm, sizeof perm);
    bind_output(im, 0, y);
    return true;
}

/* Identity, and Dropout at inference: the output is the input. */
static bool conv_identity(Im *im) {
    static const char *const id_known[] = {NULL};
    static const char *const drop_known[] = {"seed", "ratio", "is_test", NULL};
    bool dropout = strcmp(im->node->op_type, "Dropout") == 0, missing = false;
    Val *x = input_val(im, 0, &missing);
    if (!attrs_known(im, dropout ? drop_known : id_known) || missing || !x || x->bad || !no_extra_outputs(im))
        return false;
    if (dropout && im->node->n_input > 2 && im->node->input[2] && *im->node->input[2]) {
        Val *t = input_val(im, 2, &missing);
        bool off = t && t->kind == V_CONST && t->count == 1 && ((t->i && t->i[0] == 0) || (t->f && t->f[0] == 0));
        if (!off) {
            report(im, "training_mode is not a constant false: dlc imports Dropout at inference only");
            return false;
        }
    }
    alias(im, x);
    return true;
}

static bool conv_constant(Im *im) {
    const Onnx__AttributeProto *a = im->node->n_attribute == 1 ? im->node->attribute[0] : NULL;
    Val *v = NULL;
    const char *name = a && a->name ? a->name : "";
    const char *out = im->node->n_output ? im->node->output[0] : "";
    if (a && strcmp(name, "value") == 0 && a->t) {
        v = tensor_val(im, a->t, out);
    } else if (a && (strcmp(name, "value_float") == 0 || strcmp(name, "value_floats") == 0) &&
               (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT ||
                a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS)) {
        bool one = a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        v = new_val(im, V_CONST);
        v->count = one ? 1 : (int64_t)a->n_floats;
        v->rank = one ? 0 : 1;
        v->d[0] = v->count;
        v->f = xalloc(im->ctx, sizeof(float) * (size_t)(v->count + 1));
        for (int64_t k = 0; k < v->count; k++)
            if (!isfinite(v->f[k] = one ? a->f : a->floats[k])) {
                report(im, "a value that is not finite");
                return false;
            }
    } else if (a && (strcmp(name, "value_int") == 0 || strcmp(name, "value_ints") == 0) &&
               (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT ||
                a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)) {
        bool one = a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        v = new_val(im, V_CONST);
        v->count = one ? 1 : (int64_t)a->n_ints;
        v->rank = one ? 0 : 1;
        v->d[0] = v->count;
        v->i = xalloc(im->ctx, sizeof(int64_t) * (size_t)(v->count + 1));
        for (int64_t k = 0; k < v->count; k++)
            v->i[k] = one ? a->i : a->ints[k];
    } else {
        report(im, "dlc imports Constant with one attribute, value (a tensor), value_float(s) or value_int(s)");
        return false;
    }
    if (!v || (v->rank == 1 && v->count < 1))
        return false;
    v->init_name = out;
    bind_output(im, 0, v);
    return true;
}

/* Pad with zeros around the image (the H and W axes, the same at both ends): PyTorch's AvgPool2d writes one before
 * AveragePool; it folds into the padding of the Conv or AveragePool that reads it. A Pad of nothing is the input. */
static bool conv_pad(Im *im) {
    static const char *const known[] = {"mode", "pads", "value", NULL};
    bool missing = false;
    Val *x = data_input(im, 0, &missing, false);
    if (!attrs_known(im, known) || !attr_string_is(im, "mode", "constant") || missing)
        return false;
    int64_t pads[2 * MAX_RANK];
    int n = 2 * x->rank;
    bool has;
    float value = 0;
    if (im->opset < 11) {
        if (!attr_ints(im, "pads", n, pads, &has) || !attr_float(im, "value", 0, &value))
            return false;
    } else {
        Val *p = input_val(im, 1, &missing);
        Val *c = im->node->n_input > 2 && *im->node->input[2] ? input_val(im, 2, &missing) : NULL;
        if (missing || !p || p->bad || p->kind != V_CONST || !p->i || p->count != n) {
            if (!missing && !(p && p->bad))
                report(im, "the pads are not a constant of %d int64 values", n);
            return false;
        }
        memcpy(pads, p->i, sizeof(int64_t) * (size_t)n);
        if (c && (c->kind != V_CONST || c->count != 1 || (c->f ? c->f[0] != 0 : c->i[0] != 0))) {
            report(im, "the constant value is not 0");
            return false;
        }
    }
    if (value != 0) {
        report(im, "the constant value is not 0");
        return false;
    }
    bool zero = true;
    for (int j = 0; j < n; j++)
        zero &= pads[j] == 0;
    if (zero) {
        alias(im, x);
        return true;
    }
    if (x->rank != 4 || !x->batched || pads[0] || pads[1] || pads[4] || pads[5] || pads[2] != pads[6] ||
        pads[3] != pads[7] || pads[2] < 0 || pads[3] < 0 || pads[2] > MAX_NUMEL || pads[3] > MAX_NUMEL || x->pad_of) {
        report(im, "dlc imports Pad of zeros on H and W of [batch, C, H, W], the same at both ends");
        return false;
    }
    Val *y = data_out(im);
    *y = *x;
    y->by = NULL, y->uses = 0, y->pad_of = x, y->pad[0] = pads[2], y->pad[1] = pads[3];
    y->d[2] += 2 * pads[2], y->d[3] += 2 * pads[3];
    bind_output(im, 0, y);
    return true;
}

static const struct {
    const char *op;
    ConvertFn fn;
} converters[] = {
    {"Conv", conv_conv},
    {"Gemm", conv_gemm},
    {"MatMul", conv_matmul},
    {"Add", conv_binary},
    {"Sub", conv_binary},
    {"Mul", conv_binary},
    {"Div", conv_binary},
    {"Relu", conv_unary},
    {"Sigmoid", conv_unary},
    {"Tanh", conv_unary},
    {"Exp", conv_unary},
    {"Log", conv_unary},
    {"Abs", conv_unary},
    {"Sqrt", conv_unary},
    {"MaxPool", conv_maxpool},
    {"AveragePool", conv_avgpool},
    {"GlobalAveragePool", conv_gap},
    {"BatchNormalization", conv_bn},
    {"Flatten", conv_flatten},
    {"Reshape", conv_reshape},
    {"Concat", conv_concat},
    {"Softmax", conv_softmax},
    {"LogSoftmax", conv_softmax},
    {"Dropout", conv_identity},
    {"Identity", conv_identity},
    {"Constant", conv_constant},
    {"Transpose", conv_transpose},
    {"Pad", conv_pad},
};

/* A graph input: float32, the first dimension the batch (symbolic or fixed), the others fixed. */
static void graph_input(Im *im, const Onnx__ValueInfoProto *in) {
    const char *name = in->name ? in->name : "";
    const Onnx__TypeProto *t = in->type;
    const Onnx__TypeProto__Tensor *tt =
        t && t->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ? t->tensor_type : NULL;
    Val *v = new_val(im, V_DATA);
    v->bad = true; /* until it is known good: the nodes reading it say nothing more */
    map_put(im->ctx, &im->vals, name, v);
    im->node = NULL;
    if (!tt || !tt->shape) {
        report(im, "graph input '%s' is not a tensor of known rank", name);
        return;
    }
    if (tt->elem_type != ONNX_FLOAT) {
        report(im, "graph input '%s' has element type %d; dlc imports float32 (1) inputs", name, tt->elem_type);
        return;
    }
    int rank = (int)tt->shape->n_dim;
    if (rank < 1 || rank > MAX_RANK) {
        report(im, "graph input '%s' has rank %d; dlc imports [batch, ...] inputs of rank 1 to %d", name, rank,
               MAX_RANK);
        return;
    }
    int64_t d[MAX_RANK];
    bool ok = true;
    for (int k = 0; k < rank; k++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[k];
        bool fixed = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dim->dim_value > 0;
        bool symbolic = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        d[k] = fixed ? dim->dim_value : 1;
        if (!fixed && k > 0) {
            report(im,
                   "dynamic shape: dimension %d of graph input '%s' is %s%s%s; dlc compiles static shapes (the "
                   "first dimension, the batch, alone may be symbolic)",
                   k, name, symbolic ? "'" : "", symbolic ? dim->dim_param : "not given", symbolic ? "'" : "");
            ok = false;
        }
    }
    if (!ok || !set_dims(im, v, rank, d))
        return;
    v->bad = false;
    v->batched = true;
    char *var = ident(im->ctx, name, "x");
    for (int k = 2; map_get(&im->names, var); k++)
        var = xsprintf(im->ctx, "%s_%d", ident(im->ctx, name, "x"), k);
    map_put(im->ctx, &im->names, var, var);
    v->var = var;
    vec_push(im->ctx, &im->inputs, v);
}

/* ---- the text ---- */

typedef struct Out {
    Ctx *ctx;
    char *s;
    size_t len, cap;
} Out;

static void put(Out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(Out *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (o->len + (size_t)n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (o->len + (size_t)n + 1 > cap)
            cap *= 2;
        o->s = xrealloc_arr(o->ctx, o->s, o->cap, cap, 1);
        o->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(o->s + o->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    o->len += (size_t)n;
}

/* Pads the current line to the comment column and writes the shape comment. */
static void shape_comment(Out *o, size_t line_start, const Val *v) {
    size_t col = o->len - line_start;
    put(o, "%*s# %s\n", col < 60 ? (int)(60 - col) : 1, "", dims_str(o->ctx, v));
}

static char *pair(Ctx *ctx, int64_t a, int64_t b) {
    return a == b ? xsprintf(ctx, "%lld", (long long)a) : xsprintf(ctx, "(%lld, %lld)", (long long)a, (long long)b);
}

static void add_tensor(Im *im, const char *name, const Val *v, int64_t *i64) {
    ImportTensor t = {.name = xstrdup(im->ctx, name), .rank = v ? v->rank : 0, .f32 = v ? v->f : NULL, .i64 = i64};
    if (v)
        memcpy(t.dims, v->d, sizeof(int64_t) * (size_t)v->rank);
    vec_push(im->ctx, &im->tensors, t);
}

/* How a layer with parameters is named in its scope: `prefix` its parameters' (the scope's and its own), `as` what
 * the call says ("" when the numbering of layer calls names it). */
typedef struct Naming {
    const char *prefix, *as;
} Naming;

/* The .dlm text of a layer in a pipeline, registering its parameters' tensors under nm's names. */
static char *layer_text(Im *im, Step *s, Naming nm) {
    Ctx *ctx = im->ctx;
    const char *layer = nm.prefix;
    switch (s->kind) {
    case S_CONV: {
        char *t = xsprintf(ctx, "conv2d(%lld, kernel=%s", (long long)s->a[0], pair(ctx, s->a[1], s->a[2]));
        if (s->a[5] || s->a[6])
            t = xsprintf(ctx, "%s, padding=%s", t, pair(ctx, s->a[5], s->a[6]));
        if (s->a[3] != 1 || s->a[4] != 1)
            t = xsprintf(ctx, "%s, stride=%s", t, pair(ctx, s->a[3], s->a[4]));
        add_tensor(im, xsprintf(ctx, "%s.weight", layer), s->weight, NULL);
        if (s->bias)
            add_tensor(im, xsprintf(ctx, "%s.bias", layer), s->bias, NULL);
        return xsprintf(ctx, "%s%s)%s", t, s->bias ? "" : ", bias=false", nm.as);
    }
    case S_LINEAR:
        add_tensor(im, xsprintf(ctx, "%s.weight", layer), s->weight, NULL);
        if (s->bias) {
            Val *b = xalloc(ctx, sizeof *b);
            *b = *s->bias;
            b->rank = 1, b->d[0] = b->count;
            add_tensor(im, xsprintf(ctx, "%s.bias", layer), b, NULL);
        }
        return xsprintf(ctx, "linear(%lld%s)%s", (long long)s->a[0], s->bias ? "" : ", bias=false", nm.as);
    case S_BN: {
        add_tensor(im, xsprintf(ctx, "%s.weight", layer), s->weight, NULL);
        add_tensor(im, xsprintf(ctx, "%s.bias", layer), s->bias, NULL);
        add_tensor(im, xsprintf(ctx, "%s.running_mean", layer), s->mean, NULL);
        add_tensor(im, xsprintf(ctx, "%s.running_var", layer), s->var, NULL);
        add_tensor(im, xsprintf(ctx, "%s.num_batches_tracked", layer), NULL, xalloc(ctx, sizeof(int64_t)));
        char *args = "";
        if (s->eps != 1e-5f)
            args = xsprintf(ctx, "eps=%s", float_str(ctx, s->eps));
        if (s->momentum != 0.1f)
            args = xsprintf(ctx, "%s%smomentum=%s", args, *args ? ", " : "", float_str(ctx, s->momentum));
        return xsprintf(ctx, "batch_norm%s%s%s%s", *args ? "(" : "", args, *args ? ")" : "", nm.as);
    }
    case S_MAXPOOL:
    case S_AVGPOOL: {
        char *t = xsprintf(ctx, "%s(%s", s->kind == S_MAXPOOL ? "max_pool" : "avg_pool", pair(ctx, s->a[1], s->a[2]));
        if (s->a[3] != s->a[1] || s->a[4] != s->a[2])
            t = xsprintf(ctx, "%s, stride=%s", t, pair(ctx, s->a[3], s->a[4]));
        if (s->a[5] || s->a[6])
            t = xsprintf(ctx, "%s, padding=%s", t, pair(ctx, s->a[5], s->a[6]));
        return xsprintf(ctx, "%s)", t);
    }
    case S_GAP:
        return "adaptive_avg_pool(1)";
    case S_FLATTEN:
        return "flatten";
    case S_RESHAPE: {
        char *t = "reshape([";
        for (int j = 0; j < s->out->rank; j++)
            t = j == 0 && s->out->batched ? xsprintf(ctx, "%sbatch", t)
                                          : xsprintf(ctx, "%s%s%lld", t, j ? ", " : "", (long long)s->out->d[j]);
        return xsprintf(ctx, "%s])", t);
    }
    case S_PERMUTE: {
        char *t = "permute([";
        for (int j = 0; j < s->out->rank; j++)
            t = xsprintf(ctx, "%s%s%lld", t, j ? ", " : "", (long long)s->perm[j]);
        return xsprintf(ctx, "%s])", t);
    }
    case S_UNARY:
        return (char *)s->fn;
    case S_SOFTMAX:
        return s->a[0] == -1 ? (char *)s->fn : xsprintf(ctx, "%s(axis=%lld)", s->fn, (long long)s->a[0]);
    case S_BINARY:
    case S_CONCAT:
        break;
    }
    unreachable();
}

/* The expression for an operand: its variable, a number for a one-element constant that changes no shape, or a
 * parameter declared (before the statement, on its own line) for another constant. */
static char *operand(Im *im, Out *o, Val *v, int result_rank) {
    if (v->kind == V_DATA)
        return v->var;
    if (v->count == 1 && v->rank <= result_rank)
        return float_str(im->ctx, v->f[0]);
    if (!v->param) {
        char *name = ident(im->ctx, v->init_name ? v->init_name : "p", "p");
        char *unique = name;
        for (int k = 2; map_get(&im->names, unique); k++)
            unique = xsprintf(im->ctx, "%s_%d", name, k);
        map_put(im->ctx, &im->names, unique, unique);
        v->param = unique;
        char *dims = "[";
        for (int j = 0; j < v->rank; j++)
            dims = xsprintf(im->ctx, "%s%s%lld", dims, j ? ", " : "", (long long)v->d[j]);
        put(o, "param %s: %s] = zeros\n", unique, dims);
        add_tensor(im, unique, v, NULL);
    }
    return v->param;
}

static char *new_var(Im *im, int *counter) {
    char *v;
    do
        v = xsprintf(im->ctx, "t%d", ++*counter);
    while (map_get(&im->names, v));
    map_put(im->ctx, &im->names, v, v);
    return v;
}

/* Whether the step's call counts in the .dlm's numbering of layer calls (docs/language.md: built-in layers,
 * activations used as layers and blocks do; functions such as reshape and log_softmax, and operators, do not). */
static bool counted(Im *im, const Step *s) {
    static const char *const calls[] = {
        [S_CONV] = "conv2d",      [S_LINEAR] = "linear",    [S_BN] = "batch_norm",
        [S_MAXPOOL] = "max_pool", [S_AVGPOOL] = "avg_pool", [S_GAP] = "adaptive_avg_pool",
        [S_FLATTEN] = "flatten",  [S_RESHAPE] = "reshape",  [S_PERMUTE] = "permute",
    };
    const char *fn = s->kind == S_UNARY || s->kind == S_SOFTMAX ? s->fn : calls[s->kind];
    const Builtin *b = fn ? builtin_lookup(im->ctx, fn) : NULL;
    return b && b->kind == BK_LAYER;
}

/* The writing of the steps, in scopes. PyTorch's names where the language can give them (docs/language.md): in a
 * scope, a layer whose weight is `K.weight` is the scope's K-th layer call when no more than K calls come before
 * it (the calls of PyTorch's modules that have no ONNX node, Dropout at inference, made up by calls of an identity
 * block), one whose weight is `name.weight` is called `as name`; the steps of a module `A` (the weights `A.*`, from
 * its first to its last and the steps without parameters up to the next module's) are a block of their own, called
 * as the scope's A-th call or `as A`, when they read one value from outside and only their last value is read
 * outside. Other layers keep the names layer_name gave them. */
typedef struct WScope {
    const char *prefix; /* the parameters' prefix: "" at the top, "4.0." in the block of module 4.0 */
    const char *indent;
    int depth;    /* the module path's parts the scope stands for */
    int64_t next; /* the number of the next layer call */
    Val *open;    /* the value the statement being written ends with, which a pipeline may go on from */
    Out *o;
    Map labels; /* the `as` names given in the scope */
} WScope;

typedef struct Writer {
    Out defs;         /* the blocks, written before the inputs */
    const char *skip; /* the identity block, once written */
    int counter;      /* of t<N> variables */
} Writer;

static bool is_number(const char *p) { return *p >= '0' && *p <= '9'; }

/* Whether s's module path starts with `key`'s first n parts. */
static bool path_has(const Step *s, const Step *key, int n) {
    if (s->npath < n)
        return false;
    for (int k = 0; k < n; k++)
        if (strcmp(s->path[k], key->path[k]) != 0)
            return false;
    return true;
}

/* The value steps [a, b) read from outside (NULL when they read none, or more than one, or a constant the block
 * would have to declare as a parameter of its own), when only the last step's value is read after them. */
static Val *block_input(Im *im, int a, int b) {
    Val *x = NULL;
    for (int i = a; i < b; i++) {
        Step *s = im->steps.v[i];
        for (int k = 0; k < s->in.n; k++) {
            Val *v = s->in.v[k];
            if (v->kind == V_CONST) {
                if (s->kind == S_BINARY && !(v->count == 1 && v->rank <= s->out->rank))
                    return NULL;
            } else if (!v->by || v->by->pos < a) {
                if (x && x != v)
                    return NULL;
                x = v;
            }
        }
        if (i + 1 < b && (s->out->last_read >= b || s->out->output))
            return NULL;
    }
    return x;
}

static void write_steps(Im *im, Writer *w, WScope *sc, int lo, int hi);

/* A layer call in a pipeline from x to y: `|> text`, after the identity block's calls that bring the scope's
 * numbering to `number` (-1: any). */
static void write_call(Im *im, Writer *w, WScope *sc, Val *x, Val *y, const char *text, int64_t number, bool counts) {
    Out *o = sc->o;
    if (!(x == sc->open && x->uses == 1 && !x->output)) {
        char *var = new_var(im, &w->counter);
        put(o, "%s%s = %s\n", sc->indent, var, x->var);
        y->var = var;
    } else {
        y->var = x->var;
    }
    if (number > sc->next && !w->skip) {
        const char *skip = "skipped";
        for (int k = 2; map_get(&im->names, skip); k++)
            skip = xsprintf(im->ctx, "skipped_%d", k);
        map_put(im->ctx, &im->names, skip, (void *)skip);
        put(&w->defs,
            "# A PyTorch module without an ONNX node (Dropout at inference): a layer call that keeps the layers'\n"
            "# numbering, so that the parameters have the names of PyTorch's state_dict.\n"
            "block %s(x) {\n    return x\n}\n\n",
            skip);
        w->skip = skip;
    }
    for (; number > sc->next; sc->next++)
        put(o, "%s    |> %s\n", sc->indent, w->skip);
    size_t line = o->len;
    put(o, "%s    |> %s", sc->indent, text);
    shape_comment(o, line, y);
    sc->next += counts;
    sc->open = y;
}

/* How the scope names the module `part`: by its number (the scope's numbering must not have passed it), or `as`
 * it; false when it cannot. */
static bool scope_name(WScope *sc, const char *part, int64_t *number) {
    *number = -1;
    if (is_number(part)) {
        *number = strtoll(part, NULL, 10);
        return *number >= sc->next;
    }
    return !map_get(&sc->labels, part);
}

/* Steps [a, b), module `part` of the scope, as a block of their own called from the scope; false when they are
 * not one. */
static bool write_block(Im *im, Writer *w, WScope *sc, int a, int b) {
    Ctx *ctx = im->ctx;
    Step *first = im->steps.v[a];
    const char *part = first->path[sc->depth];
    int64_t number;
    Val *x = block_input(im, a, b);
    if (!x || !scope_name(sc, part, &number))
        return false;
    char *full = xsprintf(ctx, "%s%s", sc->prefix, part), *name = ident(ctx, full, "block");
    if (strncmp(name, "block_", 6) != 0)
        name = xsprintf(ctx, "block_%s", name);
    char *unique = name;
    for (int k = 2; map_get(&im->names, unique); k++)
        unique = xsprintf(ctx, "%s_%d", name, k);
    map_put(ctx, &im->names, unique, unique);
    Out body = {.ctx = ctx};
    WScope in = {.prefix = xsprintf(ctx, "%s.", full), .indent = "    ", .depth = sc->depth + 1, .o = &body};
    char *outer = x->var;
    int uses = x->uses;
    bool output = x->output;
    x->var = "x";
    x->uses = 0, x->output = false; /* inside, the block's argument is read as a variable's first line */
    write_steps(im, w, &in, a, b);
    x->var = outer, x->uses = uses, x->output = output;
    Val *y = im->steps.v[b - 1]->out;
    put(&w->defs, "# %s: PyTorch's module %s\nblock %s(x) {\n%s    return %s\n}\n\n", unique, full, unique,
        body.s ? body.s : "", y->var);
    /* outside, the block is one reader of x */
    x->uses = 1;
    for (int i = 0; i < im->steps.n; i++)
        for (int k = 0; (i < a || i >= b) && k < im->steps.v[i]->in.n; k++)
            x->uses += im->steps.v[i]->in.v[k] == x;
    if (is_number(part)) {
        write_call(im, w, sc, x, y, unique, number, true);
    } else {
        map_put(ctx, &sc->labels, part, (void *)part);
        write_call(im, w, sc, x, y, xsprintf(ctx, "%s as %s", unique, part), -1, true);
    }
    x->uses = uses;
    return true;
}

/* The steps of module `key->path[depth]` from a: the end of the block they make, or 0 when they make none. The
 * block runs from the module's first step to its last and takes the steps without parameters after it (a VGG
 * block's ReLU and pooling) but those the scope's numbering needs before the next module's (GoogLeNet's pooling
 * between two Inceptions); when that is no block, the run up to the next module's first step, then the module's
 * own steps alone, are tried. */
static int write_module(Im *im, Writer *w, WScope *sc, int a, int hi) {
    Step *key = im->steps.v[a];
    int last = a, end = hi;
    for (int j = a; j < hi; j++) {
        Step *s = im->steps.v[j];
        if (path_has(s, key, sc->depth + 1))
            last = j;
        else if (s->npath && j > last) {
            end = j;
            break;
        }
    }
    for (int j = a; j <= last; j++) /* the module's steps are not interleaved with another's */
        if (im->steps.v[j]->npath && !path_has(im->steps.v[j], key, sc->depth + 1))
            return 0;
    int best = last + 1;
    const char *part = key->path[sc->depth];
    if (end < hi && sc->depth < im->steps.v[end]->npath && is_number(part) &&
        is_number(im->steps.v[end]->path[sc->depth])) {
        int64_t room = strtoll(im->steps.v[end]->path[sc->depth], NULL, 10) - strtoll(part, NULL, 10) - 1;
        for (best = end; best > last + 1 && room > 0 && counted(im, im->steps.v[best - 1]); best--)
            room--;
    }
    int tries[3] = {best, end, last + 1};
    for (int t = 0; t < 3; t++)
        if ((t == 0 || tries[t] != tries[0]) && write_block(im, w, sc, a, tries[t]))
            return tries[t];
    return 0;
}

/* One step in the scope. */
static void write_step(Im *im, Writer *w, WScope *sc, Step *s) {
    Ctx *ctx = im->ctx;
    Out *o = sc->o;
    if (s->kind == S_BINARY || s->kind == S_CONCAT) {
        char *args[2] = {NULL, NULL};
        if (s->kind == S_BINARY)
            for (int k = 0; k < 2; k++)
                args[k] = operand(im, o, s->in.v[k], s->out->rank);
        char *var = new_var(im, &w->counter);
        size_t line = o->len;
        if (s->kind == S_BINARY) {
            put(o, "%s%s = %s %s %s", sc->indent, var, args[0], s->fn, args[1]);
        } else {
            /* dlc's concat joins up to MAX_IN tensors: more are joined in groups, left to right */
            char *e = s->in.v[0]->var;
            for (int k = 1; k < s->in.n;) {
                e = xsprintf(ctx, "concat([%s", e);
                for (int j = 0; j < MAX_IN - 1 && k < s->in.n; j++, k++)
                    e = xsprintf(ctx, "%s, %s", e, s->in.v[k]->var);
                e = xsprintf(ctx, "%s], axis=%lld)", e, (long long)s->a[0]);
            }
            if (s->in.n == 1)
                e = xsprintf(ctx, "concat([%s], axis=%lld)", e, (long long)s->a[0]);
            put(o, "%s%s = %s", sc->indent, var, e);
        }
        shape_comment(o, line, s->out);
        s->out->var = var;
        sc->open = s->out;
        return;
    }
    int64_t number = -1;
    Naming nm = {.prefix = xsprintf(ctx, "%s%s", sc->prefix, s->layer ? s->layer : ""),
                 .as = s->layer ? xsprintf(ctx, " as %s", s->layer) : ""};
    if (s->layer && s->npath == sc->depth + 1 && scope_name(sc, s->path[sc->depth], &number)) {
        const char *part = s->path[sc->depth];
        nm.prefix = xsprintf(ctx, "%s%s", sc->prefix, part);
        nm.as = number >= 0 ? "" : xsprintf(ctx, " as %s", part);
        if (number < 0)
            map_put(ctx, &sc->labels, part, (void *)part);
    } else if (s->layer) {
        number = -1;
        map_put(ctx, &sc->labels, s->layer, s->layer);
    }
    char *text = layer_text(im, s, nm);
    write_call(im, w, sc, s->in.v[0], s->out, text, number, counted(im, s));
}

static void write_steps(Im *im, Writer *w, WScope *sc, int lo, int hi) {
    for (int i = lo; i < hi; i++) {
        Step *s = im->steps.v[i];
        int end = s->npath > sc->depth + 1 ? write_module(im, w, sc, i, hi) : 0;
        if (end)
            i = end - 1;
        else
            write_step(im, w, sc, s);
    }
}

static void write_dlm(Im *im, Out *o, const char *source, const char *model_name, const Onnx__ModelProto *m) {
    Ctx *ctx = im->ctx;
    for (int i = 0; i < im->steps.n; i++) {
        Step *s = im->steps.v[i];
        for (int k = 0; k < s->in.n; k++)
            s->in.v[k]->last_read = s->in.v[k]->last_read > i ? s->in.v[k]->last_read : i;
    }
    for (int i = 0; i < im->outputs.n; i++)
        im->outputs.v[i]->last_read = INT_MAX;
    Writer w = {.defs = {.ctx = ctx}};
    Out body = {.ctx = ctx};
    WScope top = {.prefix = "", .indent = "", .o = &body};
    write_steps(im, &w, &top, 0, im->steps.n);
    put(o, "# %s.dlm: written by `dlc import` from %s", model_name, source);
    if (m->producer_name && *m->producer_name)
        put(o, " (%s %s, opset %lld)", m->producer_name, m->producer_version ? m->producer_version : "",
            (long long)im->opset);
    put(o, "\n# Each line's comment is its output's shape; the parameters' values are in %s.npz.\n\n", model_name);
    if (w.defs.s)
        put(o, "%s", w.defs.s);
    for (int i = 0; i < im->inputs.n; i++) {
        Val *v = im->inputs.v[i];
        put(o, "input %s: f32%s\n", v->var, dims_str(ctx, v));
    }
    put(o, "\n%s", body.s ? body.s : "");
    for (int i = 0; i < im->outputs.n; i++)
        put(o, "output %s = %s\n", im->output_names.v[i], im->outputs.v[i]->var);
}

/* ---- the driver ---- */

bool import_onnx(Ctx *ctx, const uint8_t *bytes, size_t len, const char *source, const char *model_name,
                 Imported *out) {
    Im im = {.ctx = ctx, .source = source};
    if (len == 0) {
        report(&im, "the file is empty, not an ONNX model");
        return false;
    }
    char *why = wire_walk(ctx, bytes, bytes, bytes + len, bytes + len, W_MODEL, "model", 0);
    if (why) {
        report(&im, "not a well-formed ONNX model: %s", why);
        return false;
    }
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, bytes);
    if (!m) {
        report(&im, "not an ONNX model: protobuf-c cannot decode it as onnx.proto's ModelProto (a field of the wrong "
                    "type)");
        return false;
    }
    const Onnx__GraphProto *g = m->graph;
    bool ok = false;
    im.opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (!o->domain || !*o->domain || strcmp(o->domain, "ai.onnx") == 0)
            im.opset = o->version;
    }
    if (!g || !g->n_output) {
        report(&im, "the model has %s", g ? "no outputs" : "no graph");
        goto done;
    }
    if (im.opset < 7 || im.opset > 21) {
        report(&im, "opset %lld of the default domain; dlc imports opsets 7 to 21", (long long)im.opset);
        goto done;
    }
    /* how many times each name is read */
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t k = 0; k < g->node[i]->n_input; k++)
            if (g->node[i]->input[k] && *g->node[i]->input[k])
                map_put(ctx, &im.raw_uses, g->node[i]->input[k],
                        (void *)((intptr_t)map_get(&im.raw_uses, g->node[i]->input[k]) + 1));
    for (size_t i = 0; i < g->n_output; i++)
        if (g->output[i]->name)
            map_put(ctx, &im.raw_uses, g->output[i]->name,
                    (void *)((intptr_t)map_get(&im.raw_uses, g->output[i]->name) + 1));
    for (size_t i = 0; i < g->n_initializer; i++) {
        Val *v = tensor_val(&im, g->initializer[i], xsprintf(ctx, "initializer %zu", i));
        if (v && !(g->initializer[i]->name && *g->initializer[i]->name)) {
            report(&im, "initializer %zu has no name", i);
            v = NULL;
        }
        if (v)
            map_put(ctx, &im.vals, g->initializer[i]->name, v);
    }
    if (g->n_sparse_initializer)
        report(&im, "the graph has sparse initializers, which dlc import does not read");
    for (size_t i = 0; i < g->n_input; i++)
        if (!g->input[i]->name || !map_get(&im.vals, g->input[i]->name)) /* older files list initializers too */
            graph_input(&im, g->input[i]);
    if (!im.inputs.n && !im.errors) {
        report(&im, "the graph has no inputs besides its initializers");
        goto done;
    }
    for (size_t i = 0; i < g->n_node; i++) {
        im.node = g->node[i];
        im.node_index = (int)i;
        const char *op = im.node->op_type ? im.node->op_type : "";
        ConvertFn fn = NULL;
        for (size_t k = 0; k < sizeof converters / sizeof converters[0] && !fn; k++)
            if (strcmp(converters[k].op, op) == 0)
                fn = converters[k].fn;
        bool std_domain = !im.node->domain || !*im.node->domain || strcmp(im.node->domain, "ai.onnx") == 0;
        /* an input a refused node made is not reported again */
        bool poisoned = false;
        for (size_t k = 0; k < im.node->n_input; k++) {
            Val *v = im.node->input[k] ? map_get(&im.vals, im.node->input[k]) : NULL;
            poisoned |= v && v->bad;
        }
        bool done_ok = false;
        if (!fn || !std_domain) /* whatever its inputs */
            report(&im, "unsupported operator%s%s (docs/interop.md lists the operators dlc imports)",
                   std_domain ? "" : " of domain ", std_domain ? "" : im.node->domain);
        else if (!poisoned)
            done_ok = fn(&im);
        if (!done_ok) {
            Val *bad = new_val(&im, V_DATA);
            bad->bad = true;
            for (size_t k = 0; k < im.node->n_output; k++)
                if (im.node->output[k] && *im.node->output[k])
                    map_put(ctx, &im.vals, im.node->output[k], bad);
        }
    }
    im.node = NULL;
    for (size_t i = 0; i < g->n_output; i++) {
        const char *name = g->output[i]->name ? g->output[i]->name : "";
        Val *v = map_get(&im.vals, name);
        if (!v)
            report(&im, "graph output '%s' is made by no node", name);
        else if (v->kind != V_DATA || v->pad_of)
            report(&im, "graph output '%s' is a constant%s", name, v->pad_of ? " Pad" : "");
        else if (!v->bad) {
            char *var = ident(ctx, name, "y");
            for (int k = 2; map_get(&im.names, var); k++)
                var = xsprintf(ctx, "%s_%d", ident(ctx, name, "y"), k);
            map_put(ctx, &im.names, var, var);
            vec_push(ctx, &im.outputs, v);
            vec_push(ctx, &im.output_names, var);
            v->output = true;
            v->uses++;
        }
    }
    if (!im.errors && im.outputs.n == 0)
        report(&im, "the graph has no output computed from its input (%zu graph outputs)", g->n_output);
    if (im.errors)
        goto done;
    for (int i = 0; i < im.steps.n; i++)
        for (int k = 0; k < im.steps.v[i]->in.n; k++)
            im.steps.v[i]->in.v[k]->uses++;
    Out o = {.ctx = ctx};
    const char *base = strrchr(source, '/');
    write_dlm(&im, &o, base ? base + 1 : source, model_name, m);
    out->dlm = o.s;
    out->len = o.len;
    out->tensors = im.tensors.v;
    out->ntensors = im.tensors.n;
    out->outputs = xalloc(ctx, sizeof(Shape) * (size_t)im.outputs.n);
    out->noutputs = im.outputs.n;
    for (int i = 0; i < im.outputs.n; i++) {
        const Val *v = im.outputs.v[i];
        out->outputs[i] = shape_make(v->rank, v->d, v->batched);
        if (v->batched)
            out->outputs[i].d[0] = 1;
    }
    ok = true;
done:
    onnx__model_proto__free_unpacked(m, NULL);
    return ok;
}

/* Elaborates the text (inference, batch 1) under the caller's memory budget and checks what it declares against
 * the tensors and the shapes the conversion computed. A model that dlc's limits refuse (too many nodes to fuse,
 * say) is reported, with those errors, as false; a model that elaborates but declares something else is a bug of
 * this file (die), never the user's. */
bool import_check(const Ctx *parent, const Imported *im, const char *model_name) {
    Ctx ctx;
    ctx_init(&ctx, stderr);
    ctx.budget = parent->budget;
    ctx.over_budget = parent->over_budget;
    Source *src = source_from_string(&ctx, xsprintf(&ctx, "%s.dlm", model_name), im->dlm);
    Program *prog = parse_program(src);
    ElabOptions eo = {.batch = 1};
    Graph *g = ctx.diag.errors ? NULL : elaborate(prog, model_name, &eo);
    if (!g || ctx.diag.errors) {
        ctx_free(&ctx);
        return false;
    }
    if (g->params.n != im->ntensors)
        die("dlc import wrote %d parameters and %d tensors", g->params.n, im->ntensors);
    for (int i = 0; i < im->ntensors; i++) {
        const ImportTensor *t = &im->tensors[i];
        const Param *p = NULL;
        for (int k = 0; k < g->params.n && !p; k++)
            if (strcmp(g->params.v[k].name, t->name) == 0)
                p = &g->params.v[k];
        bool same = p && p->shape.rank == t->rank;
        for (int k = 0; same && k < t->rank; k++)
            same = p->shape.d[k] == t->dims[k];
        if (!same)
            die("dlc import's tensor '%s' is not a parameter of that shape in the model it wrote", t->name);
    }
    if (g->outputs.n != im->noutputs)
        die("dlc import wrote %d outputs, not %d", g->outputs.n, im->noutputs);
    for (int i = 0; i < im->noutputs; i++) {
        Shape s = g->outputs.v[i].node->shape;
        if (!shape_eq(&s, &im->outputs[i]))
            die("dlc import computed output %d's shape as %s; the model it wrote gives %s", i,
                shape_str(&ctx, &im->outputs[i]), shape_str(&ctx, &s));
    }
    ctx_free(&ctx);
    return true;
}
