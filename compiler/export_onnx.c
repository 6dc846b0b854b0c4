/* export_onnx.c - `dlc export`: the inference graph as an ONNX model (opset 13), written with protobuf-c from the
 * onnx.proto Debian ships (libonnx-dev), whose C the build generates (compiler/meson.build).
 *
 * The graph is the evaluation graph (dropout off) from the model's outputs back to the inputs they read. Each
 * node is written as its op's export rule describes it (OpRule's onnx_op, onnx or onnx_refused, next to the op's
 * other rules in compiler/ops/), except where a layer's nodes together are one ONNX node (batch norm's element-wise
 * ops are one BatchNormalization over the running statistics, a convolution or product and the bias added to it one
 * Conv or Gemm: layer_patterns). A rule may describe several ONNX nodes (steps before and after its main one, its
 * constants, the run-time batch size, which is read once from a batched input's shape: batch_size). ONNX nodes are
 * named after the IR node and carry its .dlm line in doc_string; parameters and states (batch norm's running
 * statistics) become initializers under their full names (PyTorch's state_dict names) when weights are given, graph
 * inputs of their fixed shapes otherwise. The batch dimension is the symbolic "batch" wherever the IR marks a shape
 * batched, so the model runs any batch size. A node whose rule refuses it is reported at its source line, every one of
 * them, and nothing is written for a model the exporter cannot express.
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
    char **names;            /* per IR node id: the name of its value */
    const IrNode *batch_src; /* the batched input the batch size is read from */
    const char *batch;       /* the batch size's value, once written */
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

/* A node of op_type named `name` from the named inputs to one output, with its attributes; doc the .dlm line. */
static void node_named(Ex *x, const char *name, const char *doc, const char *op_type, int nin, char **in,
                       const char *out, int nattr, Onnx__AttributeProto **attrs) {
    Onnx__NodeProto *p = xalloc(x->ctx, sizeof *p);
    onnx__node_proto__init(p);
    p->op_type = xstrdup(x->ctx, op_type);
    p->name = xstrdup(x->ctx, name);
    p->doc_string = doc ? xstrdup(x->ctx, doc) : NULL;
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
}

/* The node IR node n is written as, named <op>_<id> and the suffix, its doc_string n's .dlm line. */
static void node(Ex *x, const IrNode *n, const char *suffix, const char *op_type, int nin, char **in, const char *out,
                 int nattr, Onnx__AttributeProto **attrs) {
    char *doc = n->loc.src ? xsprintf(x->ctx, "%s:%d", n->loc.src->path, n->loc.line) : NULL;
    node_named(x, xsprintf(x->ctx, "%s_%d%s", op_info[n->op].name, n->id, suffix), doc, op_type, nin, in, out, nattr,
               attrs);
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

static Onnx__AttributeProto *attr_float(Ex *x, const char *name, double v) {
    Onnx__AttributeProto *a = xalloc(x->ctx, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = xstrdup(x->ctx, name);
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    a->has_f = 1;
    a->f = (float)v;
    return a;
}

/* The run-time batch size as an int64 [1]: Shape of a batched input and Gather of its first element, written the
 * first time a description reads it. */
static const char *batch_size(Ex *x) {
    if (!x->batch_src)
        die("a description reads the batch size of a model without a batched input");
    if (!x->batch) {
        const char *shape = "batch_size.shape", *index = "batch_size.index";
        char *in[2] = {x->names[x->batch_src->id], (char *)shape};
        node_named(x, shape, NULL, "Shape", 1, in, shape, 0, NULL);
        int64_t one = 1, zero = 0;
        initializer(x, index, 1, &one, NULL, &zero);
        in[0] = (char *)shape;
        in[1] = (char *)index;
        Onnx__AttributeProto *axis[1] = {attr_int(x, "axis", 0)};
        node_named(x, "batch_size", NULL, "Gather", 2, in, "batch_size", 1, axis);
        x->batch = "batch_size";
    }
    return x->batch;
}

/* The value an input of node n's description reads: the IR node `in`, or what ref names. */
static char *value_of(Ex *x, const IrNode *n, const OnnxNode *d, const IrNode *in, int ref) {
    const char *out = x->names[n->id];
    if (!ref)
        return x->names[in->id];
    if (ref == ONNX_REF_BATCH)
        return (char *)batch_size(x);
    if (ref >= ONNX_REF_STEP)
        return xsprintf(x->ctx, "%s.pre%d", out, ref - ONNX_REF_STEP);
    return xsprintf(x->ctx, "%s.%s", out, d->consts[ref - ONNX_REF_CONST].name);
}

/* A step before or after node n's main node, from its inputs to out. */
static void write_step(Ex *x, const IrNode *n, const char *suffix, const OnnxStep *s, char **in, const char *out) {
    Onnx__AttributeProto *attrs[1] = {s->attr ? attr_int(x, s->attr, s->value) : NULL};
    node(x, n, suffix, s->op_type, s->nin, in, out, s->attr != NULL, attrs);
}

/* Writes node n as its description d says: its constants, the steps before, the ONNX node, the steps after. */
static void write_node(Ex *x, const IrNode *n, const OnnxNode *d) {
    const char *out = x->names[n->id];
    for (int k = 0; k < d->nconst; k++) {
        const OnnxConst *c = &d->consts[k];
        char *name = xsprintf(x->ctx, "%s.%s", out, c->name);
        int64_t count = c->n;
        initializer(x, name, c->n < 0 ? 0 : 1, &count, c->is_float ? &c->f : NULL, c->v);
    }
    char *in[MAX_ONNX_IN];
    for (int j = 0; j < d->npre; j++) {
        const OnnxStep *s = &d->pre[j];
        for (int k = 0; k < s->nin; k++)
            in[k] = value_of(x, n, d, s->in[k], s->ref[k]);
        write_step(x, n, xsprintf(x->ctx, ".pre%d", j), s, in, xsprintf(x->ctx, "%s.pre%d", out, j));
    }
    for (int k = 0; k < d->nin; k++)
        in[k] = value_of(x, n, d, d->in[k], d->ref[k]);
    Onnx__AttributeProto *attrs[MAX_ONNX_ATTR];
    for (int k = 0; k < d->nattr; k++) {
        const OnnxAttr *a = &d->attr[k];
        attrs[k] = a->kind == ONNX_ATTR_INT    ? attr_int(x, a->name, a->ints[0])
                   : a->kind == ONNX_ATTR_INTS ? attr_ints(x, a->name, a->n, a->ints)
                                               : attr_float(x, a->name, a->f);
    }
    char *value = d->npost ? xsprintf(x->ctx, "%s.main", out) : (char *)out;
    node(x, n, d->npost ? ".main" : "", d->op_type, d->nin, in, value, d->nattr, attrs);
    for (int j = 0; j < d->npost; j++) {
        char *next = j + 1 < d->npost ? xsprintf(x->ctx, "%s.post%d", out, j) : (char *)out;
        write_step(x, n, j + 1 < d->npost ? xsprintf(x->ctx, ".post%d", j) : "", &d->post[j], &value, next);
        value = next;
    }
}

/* The layers written as one ONNX node, tried before a node's op rule (an op's own mapping is its OpRule's onnx_op,
 * onnx or onnx_refused, compiler/ops/). */
static bool (*const layer_patterns[])(const IrNode *n, OnnxNode *out) = {layer_batch_norm_onnx, layer_bias_onnx};

/* Describes node n and, first, every node its description reads (what the outputs read, through the descriptions:
 * the element-wise ops a BatchNormalization stands for are not written). Leaves have no description. *batch is set
 * when a description reads the batch size. */
static void describe(IrNode *n, bool *live, OnnxNode *desc, const char **why, bool *batch) {
    if (live[n->id])
        return;
    live[n->id] = true;
    if (op_info[n->op].cls == OPC_LEAF)
        return;
    OnnxNode *d = &desc[n->id];
    bool matched = false;
    for (size_t k = 0; !matched && k < sizeof layer_patterns / sizeof layer_patterns[0]; k++)
        matched = layer_patterns[k](n, d);
    if (!matched)
        why[n->id] = op_onnx(n, d);
    if (why[n->id])
        return;
    for (int j = 0; j < d->npre; j++)
        for (int k = 0; k < d->pre[j].nin; k++) {
            if (d->pre[j].in[k])
                describe(d->pre[j].in[k], live, desc, why, batch);
            *batch |= d->pre[j].ref[k] == ONNX_REF_BATCH;
        }
    for (int k = 0; k < d->nin; k++) {
        if (d->in[k])
            describe(d->in[k], live, desc, why, batch);
        *batch |= d->ref[k] == ONNX_REF_BATCH;
    }
}

bool export_onnx(Graph *g, const double **weights, const char *producer_version, uint8_t **bytes, size_t *len) {
    Ctx *ctx = g->ctx;
    Ex x = {.ctx = ctx, .g = g, .weights = weights};
    int count = g->nodes.n;
    bool *live = xalloc(ctx, sizeof(bool) * (size_t)(count + 1));
    OnnxNode *desc = xalloc(ctx, sizeof(OnnxNode) * (size_t)(count + 1));
    const char **why = xalloc(ctx, sizeof(char *) * (size_t)(count + 1));
    x.names = xalloc(ctx, sizeof(char *) * (size_t)(count + 1));
    bool batch = false;
    for (int i = 0; i < g->outputs.n; i++)
        describe(g->outputs.v[i].node, live, desc, why, &batch);
    /* the batch size is read from the first batched input, which the graph then declares */
    for (int i = 0; batch && !x.batch_src && i < count; i++)
        if (g->nodes.v[i]->op == OP_INPUT && g->nodes.v[i]->shape.batched)
            live[(x.batch_src = g->nodes.v[i])->id] = true;
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
        } else if (op_info[n->op].cls == OPC_LEAF) {
            refuse(&x, n, "a batched constant");
        } else if (why[n->id]) {
            refuse(&x, n, "%s (docs/interop.md lists the ops)", why[n->id]);
        } else {
            write_node(&x, n, &desc[n->id]);
        }
    }
    /* an output that is an input or a parameter itself goes through an Identity */
    for (int i = 0; i < g->outputs.n; i++) {
        IrNode *n = g->outputs.v[i].node;
        const char *name = g->outputs.v[i].name;
        if (strcmp(x.names[n->id], name) != 0) {
            char *in[1] = {x.names[n->id]};
            node(&x, n, "", "Identity", 1, in, name, 0, NULL);
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
