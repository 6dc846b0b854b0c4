/* export_onnx.c - `dlc export`: the inference graph as an ONNX model (opset 13), written with protobuf-c from the
 * onnx.proto Debian ships (libonnx-dev), whose C the build generates (compiler/meson.build).
 *
 * The graph is the evaluation graph (dropout off) from the model's outputs back to the inputs they read. Each
 * node becomes one ONNX node, named after the IR node and carrying its .dlm line in doc_string; parameters and states
 * (batch norm's running statistics) become initializers under their full names (PyTorch's state_dict names) when
 * weights are given, graph inputs of their fixed shapes otherwise. The batch dimension is the symbolic "batch" wherever
 * the IR marks a shape batched, so the model runs any batch size. The rows below say how each op is written; an op
 * without a row is refused with the node's source line, so nothing is written for a model the exporter cannot express.
 */
#include <stdarg.h>
#include <string.h>

#include "dlc.h"
#include "onnx.pb-c.h"

enum { ONNX_FLOAT = 1, ONNX_INT64 = 7, OPSET = 13, IR_VERSION = 7 };

typedef struct Ex {
    Ctx *ctx;
    Graph *g;
    const double **weights; /* per parameter, or NULL: parameters are graph inputs */
    Vec(Onnx__NodeProto *) nodes;
    Vec(Onnx__TensorProto *) inits;
    Vec(Onnx__ValueInfoProto *) inputs;
    Vec(Onnx__ValueInfoProto *) outputs;
    char **names; /* per IR node id: the name of its value */
    int errors;
} Ex;

/* ---- building protobuf-c messages in the arena ---- */

static Onnx__AttributeProto *attr_ints(Ex *x, const char *name, int n, const int64_t *v) {
    Onnx__AttributeProto *a = xalloc(x->ctx, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = xstrdup(x->ctx, name);
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    a->n_ints = (size_t)n;
    a->ints = xalloc(x->ctx, sizeof(int64_t) * (size_t)(n ? n : 1));
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
    return a;
}

static Onnx__AttributeProto *attr_int(Ex *x, const char *name, int64_t v) {
    Onnx__AttributeProto *a = xalloc(x->ctx, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = xstrdup(x->ctx, name);
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a->has_i = 1;
    a->i = v;
    return a;
}

/* A node of op_type from the named inputs to one output, with up to four attributes. */
static Onnx__NodeProto *node(Ex *x, const IrNode *n, const char *op_type, int nin, char **in, const char *out,
                             int nattr, Onnx__AttributeProto **attrs) {
    Onnx__NodeProto *p = xalloc(x->ctx, sizeof *p);
    onnx__node_proto__init(p);
    p->op_type = xstrdup(x->ctx, op_type);
    p->name = xsprintf(x->ctx, "%s_%d", op_info[n->op].name, n->id);
    p->doc_string = n->loc.src ? xsprintf(x->ctx, "%s:%d", n->loc.src->path, n->loc.line) : NULL;
    p->n_input = (size_t)nin;
    p->input = xalloc(x->ctx, sizeof(char *) * (size_t)(nin ? nin : 1));
    for (int i = 0; i < nin; i++)
        p->input[i] = in[i];
    p->n_output = 1;
    p->output = xalloc(x->ctx, sizeof(char *));
    p->output[0] = xstrdup(x->ctx, out);
    p->n_attribute = (size_t)nattr;
    p->attribute = xalloc(x->ctx, sizeof(Onnx__AttributeProto *) * (size_t)(nattr ? nattr : 1));
    for (int i = 0; i < nattr; i++)
        p->attribute[i] = attrs[i];
    vec_push(x->ctx, &x->nodes, p);
    return p;
}

/* An initializer: float32 from doubles, or int64. */
static void initializer(Ex *x, const char *name, int rank, const int64_t *dims, const double *f, const int64_t *i) {
    Onnx__TensorProto *t = xalloc(x->ctx, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = xstrdup(x->ctx, name);
    t->n_dims = (size_t)rank;
    t->dims = xalloc(x->ctx, sizeof(int64_t) * (size_t)(rank ? rank : 1));
    int64_t count = 1;
    for (int k = 0; k < rank; k++)
        count *= (t->dims[k] = dims[k]);
    t->has_data_type = 1;
    t->data_type = f ? ONNX_FLOAT : ONNX_INT64;
    size_t size = f ? 4 : 8;
    uint8_t *raw = xalloc(x->ctx, size * (size_t)(count ? count : 1));
    for (int64_t k = 0; k < count; k++) {
        uint64_t bits;
        if (f) {
            float v = (float)f[k];
            uint32_t b32;
            memcpy(&b32, &v, 4);
            bits = b32;
        } else {
            bits = (uint64_t)i[k];
        }
        for (size_t b = 0; b < size; b++) /* little-endian, as ONNX's raw_data is */
            raw[(size_t)k * size + b] = (uint8_t)(bits >> (8 * b));
    }
    t->has_raw_data = 1;
    t->raw_data.len = size * (size_t)count;
    t->raw_data.data = raw;
    vec_push(x->ctx, &x->inits, t);
}

/* The type of a float tensor of shape s, the batch dimension symbolic. */
static Onnx__ValueInfoProto *value_info(Ex *x, const char *name, const Shape *s) {
    Onnx__TensorShapeProto *shape = xalloc(x->ctx, sizeof *shape);
    onnx__tensor_shape_proto__init(shape);
    shape->n_dim = (size_t)s->rank;
    shape->dim = xalloc(x->ctx, sizeof(Onnx__TensorShapeProto__Dimension *) * (size_t)(s->rank ? s->rank : 1));
    for (int k = 0; k < s->rank; k++) {
        Onnx__TensorShapeProto__Dimension *d = xalloc(x->ctx, sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        if (k == 0 && s->batched) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = "batch";
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = s->d[k];
        }
        shape->dim[k] = d;
    }
    Onnx__TypeProto__Tensor *tt = xalloc(x->ctx, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = ONNX_FLOAT;
    tt->shape = shape;
    Onnx__TypeProto *type = xalloc(x->ctx, sizeof *type);
    onnx__type_proto__init(type);
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tt;
    Onnx__ValueInfoProto *v = xalloc(x->ctx, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = xstrdup(x->ctx, name);
    v->type = type;
    return v;
}

/* ---- the ops ---- */

static void refuse(Ex *x, const IrNode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refuse(Ex *x, const IrNode *n, const char *fmt, ...) {
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    error_at(n->loc, "dlc export cannot write '%s' as ONNX: %s", op_info[n->op].name, why);
    x->errors++;
}

typedef void (*WriteFn)(Ex *x, const IrNode *n, const char *onnx_op, char **in, const char *out);

/* One input or two, no attributes: element-wise ops (ONNX broadcasts as NumPy does, as the IR does). */
static void write_plain(Ex *x, const IrNode *n, const char *onnx_op, char **in, const char *out) {
    node(x, n, onnx_op, n->nin, in, out, 0, NULL);
}

/* reshape: the target shape as an int64 initializer, 0 (copy the input's dimension) for the batch. */
static void write_reshape(Ex *x, const IrNode *n, const char *onnx_op, char **in, const char *out) {
    int64_t dims[MAX_RANK];
    for (int k = 0; k < n->shape.rank; k++)
        dims[k] = k == 0 && n->shape.batched ? 0 : n->shape.d[k];
    if (n->shape.batched && !n->in[0]->shape.batched) {
        refuse(x, n, "a reshape that makes an unbatched tensor batched");
        return;
    }
    char *shape_name = xsprintf(x->ctx, "%s.shape", out);
    int64_t rank = n->shape.rank;
    initializer(x, shape_name, 1, &rank, NULL, dims);
    char *ins[2] = {in[0], shape_name};
    node(x, n, onnx_op, 2, ins, out, 0, NULL);
}

/* matmul: Gemm on matrices, with the IR's transposes as transA and transB. */
static void write_matmul(Ex *x, const IrNode *n, const char *onnx_op, char **in, const char *out) {
    if (n->in[0]->shape.rank != 2 || n->in[1]->shape.rank != 2) {
        refuse(x, n, "a product of tensors of ranks %d and %d (Gemm takes matrices)", n->in[0]->shape.rank,
               n->in[1]->shape.rank);
        return;
    }
    Onnx__AttributeProto *a[2] = {attr_int(x, "transA", n->attr[0] != 0), attr_int(x, "transB", n->attr[1] != 0)};
    node(x, n, onnx_op, 2, in, out, 2, a);
}

/* conv2d: attributes stride h w, padding h w. */
static void write_conv(Ex *x, const IrNode *n, const char *onnx_op, char **in, const char *out) {
    for (int k = 4; k < MAX_ATTR; k++)
        if (n->attr[k]) {
            refuse(x, n, "attribute %d is %lld (only strides and padding are written)", k, (long long)n->attr[k]);
            return;
        }
    const Shape *w = &n->in[1]->shape;
    int64_t kernel[2] = {w->d[2], w->d[3]}, strides[2] = {n->attr[0], n->attr[1]},
            pads[4] = {n->attr[2], n->attr[3], n->attr[2], n->attr[3]};
    Onnx__AttributeProto *a[3] = {attr_ints(x, "kernel_shape", 2, kernel), attr_ints(x, "strides", 2, strides),
                                  attr_ints(x, "pads", 4, pads)};
    node(x, n, onnx_op, 2, in, out, 3, a);
}

/* max_pool, avg_pool: attributes window h w, stride h w, padding h w; average pooling counts the padding, as
 * PyTorch's AvgPool2d and dlc's kernels do. */
static void write_pool(Ex *x, const IrNode *n, const char *onnx_op, char **in, const char *out) {
    int64_t kernel[2] = {n->attr[0], n->attr[1]}, strides[2] = {n->attr[2], n->attr[3]},
            pads[4] = {n->attr[4], n->attr[5], n->attr[4], n->attr[5]};
    Onnx__AttributeProto *a[4] = {attr_ints(x, "kernel_shape", 2, kernel), attr_ints(x, "strides", 2, strides),
                                  attr_ints(x, "pads", 4, pads), NULL};
    int nattr = 3;
    if (n->op == OP_AVGPOOL)
        a[nattr++] = attr_int(x, "count_include_pad", 1);
    node(x, n, onnx_op, 1, in, out, nattr, a);
}

/* softmax, log_softmax: over the last axis. */
static void write_softmax(Ex *x, const IrNode *n, const char *onnx_op, char **in, const char *out) {
    Onnx__AttributeProto *a[1] = {attr_int(x, "axis", -1)};
    node(x, n, onnx_op, 1, in, out, 1, a);
}

/* concat: along attribute 0's axis, any number of inputs. */
static void write_concat(Ex *x, const IrNode *n, const char *onnx_op, char **in, const char *out) {
    Onnx__AttributeProto *a[1] = {attr_int(x, "axis", n->attr[0])};
    node(x, n, onnx_op, n->nin, in, out, 1, a);
}

/* How each op is written: its ONNX operator and the function that writes its attributes. The leaves (input,
 * param, const) are the graph's inputs and initializers. */
static const struct {
    const char *onnx_op;
    WriteFn write;
} rows[OP_COUNT] = {
    [OP_NEG] = {"Neg", write_plain},
    [OP_EXP] = {"Exp", write_plain},
    [OP_LOG] = {"Log", write_plain},
    [OP_ABS] = {"Abs", write_plain},
    [OP_SQRT] = {"Sqrt", write_plain},
    [OP_SIGN] = {"Sign", write_plain},
    [OP_RELU] = {"Relu", write_plain},
    [OP_SIGMOID] = {"Sigmoid", write_plain},
    [OP_TANH] = {"Tanh", write_plain},
    [OP_ADD] = {"Add", write_plain},
    [OP_SUB] = {"Sub", write_plain},
    [OP_MUL] = {"Mul", write_plain},
    [OP_DIV] = {"Div", write_plain},
    [OP_POW] = {"Pow", write_plain},
    [OP_MAXIMUM] = {"Max", write_plain},
    [OP_MINIMUM] = {"Min", write_plain},
    [OP_RESHAPE] = {"Reshape", write_reshape},
    [OP_MATMUL] = {"Gemm", write_matmul},
    [OP_CONV2D] = {"Conv", write_conv},
    [OP_MAXPOOL] = {"MaxPool", write_pool},
    [OP_AVGPOOL] = {"AveragePool", write_pool},
    [OP_CONCAT] = {"Concat", write_concat},
    [OP_SOFTMAX] = {"Softmax", write_softmax},
    [OP_LOGSOFTMAX] = {"LogSoftmax", write_softmax},
};

/* Marks what the outputs read. */
static void mark(IrNode *n, bool *live) {
    if (live[n->id])
        return;
    live[n->id] = true;
    for (int i = 0; i < n->nin; i++)
        mark(n->in[i], live);
}

bool export_onnx(Graph *g, const double **weights, const char *producer_version, uint8_t **bytes, size_t *len) {
    Ctx *ctx = g->ctx;
    Ex x = {.ctx = ctx, .g = g, .weights = weights};
    int count = g->nodes.n;
    bool *live = xalloc(ctx, sizeof(bool) * (size_t)(count + 1));
    x.names = xalloc(ctx, sizeof(char *) * (size_t)(count + 1));
    for (int i = 0; i < g->outputs.n; i++)
        mark(g->outputs.v[i].node, live);
    /* names: the .dlm's for inputs, parameters and outputs, t<id> for the rest */
    for (int i = 0; i < count; i++) {
        IrNode *n = g->nodes.v[i];
        bool param = n->op == OP_PARAM || n->op == OP_STATE; /* states: batch norm's running statistics */
        x.names[n->id] = n->op == OP_INPUT ? g->inputs.v[n->index].name
                         : param           ? g->params.v[n->index].name
                                           : xsprintf(ctx, "t%d", n->id);
    }
    for (int i = 0; i < g->outputs.n; i++) {
        IrNode *n = g->outputs.v[i].node;
        if (n->op != OP_INPUT && n->op != OP_PARAM && n->op != OP_STATE)
            x.names[n->id] = g->outputs.v[i].name;
    }
    for (int i = 0; i < count; i++) {
        IrNode *n = g->nodes.v[i];
        if (!live[n->id])
            continue;
        if (n->dtype != DT_F32) {
            refuse(&x, n, "an integer tensor (ONNX export writes float models)");
            continue;
        }
        char *name = x.names[n->id];
        if (n->op == OP_INPUT) {
            vec_push(ctx, &x.inputs, value_info(&x, name, &n->shape));
        } else if (n->op == OP_PARAM || n->op == OP_STATE) {
            if (weights)
                initializer(&x, name, n->shape.rank, n->shape.d, weights[n->index], NULL);
            else
                vec_push(ctx, &x.inputs, value_info(&x, name, &n->shape));
        } else if (n->op == OP_CONST && !n->shape.batched) {
            initializer(&x, name, n->shape.rank, n->shape.d, n->data, NULL);
        } else if (!rows[n->op].write) {
            refuse(&x, n, "no ONNX operator is written for it yet (docs/interop.md lists the ops)");
        } else {
            char *in[MAX_IN];
            for (int k = 0; k < n->nin; k++)
                in[k] = x.names[n->in[k]->id];
            rows[n->op].write(&x, n, rows[n->op].onnx_op, in, name);
        }
    }
    /* an output that is an input or a parameter itself goes through an Identity */
    for (int i = 0; i < g->outputs.n; i++) {
        IrNode *n = g->outputs.v[i].node;
        const char *name = g->outputs.v[i].name;
        if (strcmp(x.names[n->id], name) != 0) {
            char *in[1] = {x.names[n->id]};
            node(&x, n, "Identity", 1, in, name, 0, NULL);
        }
        vec_push(ctx, &x.outputs, value_info(&x, name, &n->shape));
    }
    if (x.errors)
        return false;

    Onnx__GraphProto *graph = xalloc(ctx, sizeof *graph);
    onnx__graph_proto__init(graph);
    graph->name = g->name;
    graph->n_node = (size_t)x.nodes.n;
    graph->node = x.nodes.v;
    graph->n_initializer = (size_t)x.inits.n;
    graph->initializer = x.inits.v;
    graph->n_input = (size_t)x.inputs.n;
    graph->input = x.inputs.v;
    graph->n_output = (size_t)x.outputs.n;
    graph->output = x.outputs.v;
    Onnx__OperatorSetIdProto opset;
    onnx__operator_set_id_proto__init(&opset);
    opset.domain = "";
    opset.has_version = 1;
    opset.version = OPSET;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    Onnx__ModelProto model;
    onnx__model_proto__init(&model);
    model.has_ir_version = 1;
    model.ir_version = IR_VERSION;
    model.producer_name = "dlc";
    model.producer_version = (char *)producer_version;
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.graph = graph;
    *len = onnx__model_proto__get_packed_size(&model);
    *bytes = xalloc(ctx, *len + 1);
    onnx__model_proto__pack(&model, *bytes);
    return true;
}
