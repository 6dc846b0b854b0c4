/* ops.c: the rule table, expanded from ops.def.
 *
 * op_info holds each op's name, arity, class, surface name and parameters from its ops.def row and points to its
 * rules, `rule_<NAME>`, which the op's family file defines (conv.c, pool.c, matmul.c, softmax.c, layout.c,
 * reduce.c, elementwise.c, leaf.c): an op without rules does not link. The generic passes reach the rules through
 * op_rule() and the few dispatchers here, which hold the class defaults; the elaborator finds the ops a model
 * calls by name (op_lookup, op_params). */
#include "dlc.h"

#define OP(name, str, arity, cls, surface, params) extern const OpRule rule_##name;
#include "ops.def"
#undef OP

const OpInfo op_info[OP_COUNT] = {
#define OP(name, str, arity, cls, surface, params) [OP_##name] = {str, arity, OPC_##cls, surface, params, &rule_##name},
#include "ops.def"
#undef OP
};

int op_lookup(const char *surface) {
    for (int op = 0; op < OP_COUNT; op++)
        if (op_info[op].surface && strcmp(op_info[op].surface, surface) == 0)
            return op;
    return -1;
}

int op_params(Ctx *ctx, Op op, const char *names[MAX_ATTR]) {
    int n = 0;
    for (const char *p = op_info[op].params; p && *p && n < MAX_ATTR;) {
        size_t len = strcspn(p, ", ");
        names[n++] = xstrndup(ctx, p, len);
        p += len;
        p += strspn(p, ", ");
    }
    return n;
}

IrNode *op_build(Graph *g, Op op, int nin, IrNode **in, const OpArgs *a, Loc loc) {
    const OpInfo *info = &op_info[op];
    if ((info->arity >= 0 && nin != info->arity) || !info->rule->build)
        die("cannot build %s from %d operands", info->name, nin);
    static const OpArgs none;
    return info->rule->build(g, op, nin, in, a ? a : &none, loc);
}

int64_t op_scratch(const IrNode *n) {
    const OpRule *r = op_rule(n->op);
    return r->scratch ? r->scratch(n) : 0;
}

double op_flops(const IrNode *n) {
    const OpRule *r = op_rule(n->op);
    if (r->flops)
        return r->flops(n);
    switch (op_info[n->op].cls) {
    case OPC_ELEM:
        return (double)shape_numel(&n->shape);
    case OPC_REDUCE:
        return (double)shape_numel(&n->in[0]->shape);
    default:
        return 0;
    }
}

double op_blas_flops(const IrNode *n) {
    const OpRule *r = op_rule(n->op);
    return r->blas_flops ? r->blas_flops(n) : 0;
}

bool shape_check_size(const Shape *s, DType dt, Loc loc, const char *what) {
    int64_t n = shape_numel(s);
    if (n <= MAX_NUMEL)
        return true;
    error_at(loc, "%s would be %s, %s%lld elements; a tensor has at most %lld", what, type_str(loc.src->ctx, dt, s),
             n == INT64_MAX ? "more than " : "", (long long)n, (long long)MAX_NUMEL);
    return false;
}

/* ---- export: the op's ONNX node (export_onnx.c writes it) ---- */

const char *op_onnx(const IrNode *n, OnnxNode *out) {
    const OpRule *r = op_rule(n->op);
    *out = (OnnxNode){.nin = n->nin};
    memcpy(out->in, n->in, sizeof(IrNode *) * (size_t)n->nin);
    if (r->onnx)
        return r->onnx(n, out);
    if (r->onnx_op) {
        out->op_type = r->onnx_op;
        return NULL;
    }
    return r->onnx_refused ? r->onnx_refused : "no ONNX operator is written for it";
}

static OnnxAttr *onnx_attr(OnnxNode *o, const char *name, OnnxAttrKind kind) {
    if (o->nattr == MAX_ONNX_ATTR)
        die("%s: more than %d ONNX attributes", o->op_type, MAX_ONNX_ATTR);
    OnnxAttr *a = &o->attr[o->nattr++];
    *a = (OnnxAttr){.name = name, .kind = kind};
    return a;
}

void onnx_int(OnnxNode *o, const char *name, int64_t v) { onnx_attr(o, name, ONNX_ATTR_INT)->ints[0] = v; }

void onnx_ints(OnnxNode *o, const char *name, int n, const int64_t *v) {
    if (n > MAX_ONNX_INTS)
        die("%s: attribute %s has %d values", o->op_type, name, n);
    OnnxAttr *a = onnx_attr(o, name, ONNX_ATTR_INTS);
    a->n = n;
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
}

void onnx_float(OnnxNode *o, const char *name, double v) { onnx_attr(o, name, ONNX_ATTR_FLOAT)->f = v; }

int onnx_const(OnnxNode *o, const char *name, int n, const int64_t *v) {
    if (o->nconst == MAX_ONNX_CONSTS || n > MAX_RANK * 2)
        die("%s: constant %s: %d values, %d constants", o->op_type, name, n, o->nconst);
    OnnxConst *c = &o->consts[o->nconst];
    *c = (OnnxConst){.name = name, .n = n};
    memcpy(c->v, v, sizeof(int64_t) * (size_t)(n < 0 ? 1 : n));
    return ONNX_REF_CONST + o->nconst++;
}

int onnx_fconst(OnnxNode *o, const char *name, double v) {
    if (o->nconst == MAX_ONNX_CONSTS)
        die("%s: more than %d constants", o->op_type, MAX_ONNX_CONSTS);
    o->consts[o->nconst] = (OnnxConst){.name = name, .n = -1, .is_float = true, .f = v};
    return ONNX_REF_CONST + o->nconst++;
}

void onnx_input(OnnxNode *o, int ref) {
    if (o->nin == MAX_ONNX_IN)
        die("%s: more than %d inputs", o->op_type, MAX_ONNX_IN);
    o->in[o->nin] = NULL;
    o->ref[o->nin++] = ref;
}

static OnnxStep *onnx_step(OnnxStep *steps, int *n, const char *op_type, const char *attr, int64_t value) {
    if (*n == MAX_ONNX_STEPS)
        die("%s: more than %d steps", op_type, MAX_ONNX_STEPS);
    OnnxStep *s = &steps[(*n)++];
    *s = (OnnxStep){.op_type = op_type, .attr = attr, .value = value};
    return s;
}

int onnx_pre(OnnxNode *o, const char *op_type, IrNode *a, int ref_a, int ref_b, const char *attr, int64_t value) {
    OnnxStep *s = onnx_step(o->pre, &o->npre, op_type, attr, value);
    s->in[0] = a;
    s->ref[0] = a ? 0 : ref_a;
    s->nin = 1;
    if (ref_b)
        s->ref[s->nin++] = ref_b;
    return ONNX_REF_STEP + o->npre - 1;
}

void onnx_post(OnnxNode *o, const char *op_type, const char *attr, int64_t value) {
    onnx_step(o->post, &o->npost, op_type, attr, value)->nin = 1;
}
