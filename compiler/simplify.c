/* simplify.c: algebraic simplification by table-driven rewrites, applied to a fixpoint.
 *
 * The graph is immutable, so a pass rebuilds the part the roots reach, bottom up, asking each rule of the
 * table in turn whether it rewrites the node just rebuilt; the result goes through the builders again, so
 * constant folding and hash-consing (common subexpressions) apply to it too. Passes repeat until one changes
 * nothing. The backward graph gains most: autodiff's rules are written for clarity, not economy.
 *
 * Requires: roots of g. Guarantees: each root replaced by an equivalent node (same shape and values up to
 * floating-point reassociation of constants); nothing that was dead becomes live. */
#include "dlc.h"

typedef IrNode *(*RuleFn)(Graph *g, IrNode *n);

static bool is_scalar(const IrNode *n, double *v) { return n->shape.rank == 0 && ir_is_const(n, v); }

/* --x -> x */
static IrNode *neg_neg(Graph *g, IrNode *n) {
    (void)g;
    return n->in[0]->op == OP_NEG ? n->in[0]->in[0] : NULL;
}

/* x + -y -> x - y;  x - -y -> x + y */
static IrNode *add_neg(Graph *g, IrNode *n) {
    IrNode *y = n->in[1];
    if (y->op != OP_NEG || !shape_eq(&y->shape, &y->in[0]->shape))
        return NULL;
    return b_binary(g, n->op == OP_ADD ? OP_SUB : OP_ADD, n->in[0], y->in[0], n->loc);
}

/* c1 * (c2 * x) -> (c1 c2) * x, and the mirrored forms, for scalar constants */
static IrNode *mul_consts(Graph *g, IrNode *n) {
    double c1, c2;
    IrNode *a = n->in[0], *b = n->in[1];
    if (is_scalar(b, &c1)) {
        IrNode *t = a;
        a = b;
        b = t;
    } else if (!is_scalar(a, &c1)) {
        return NULL;
    }
    if (b->op != OP_MUL)
        return NULL;
    IrNode *x;
    if (is_scalar(b->in[0], &c2))
        x = b->in[1];
    else if (is_scalar(b->in[1], &c2))
        x = b->in[0];
    else
        return NULL;
    if (!shape_eq(&x->shape, &n->shape))
        return NULL;
    return b_binary(g, OP_MUL, x, ir_const_scalar(g, c1 * c2, n->loc), n->loc);
}

/* x * -1 -> -x */
static IrNode *mul_minus_one(Graph *g, IrNode *n) {
    double c;
    for (int k = 0; k < 2; k++)
        if (is_scalar(n->in[k], &c) && c == -1 && shape_eq(&n->in[1 - k]->shape, &n->shape))
            return b_unary(g, OP_NEG, n->in[1 - k], n->loc);
    return NULL;
}

/* a copy to the shape it already has is the value itself */
static IrNode *copy_same(Graph *g, IrNode *n) {
    (void)g;
    return shape_eq(&n->shape, &n->in[0]->shape) ? n->in[0] : NULL;
}

/* x + x -> 2x */
static IrNode *add_same(Graph *g, IrNode *n) {
    if (n->in[0] != n->in[1])
        return NULL;
    return b_binary(g, OP_MUL, n->in[0], ir_const_scalar(g, 2, n->loc), n->loc);
}

static const struct {
    Op op;
    RuleFn fn;
    const char *name;
} rules[] = {
    {OP_NEG, neg_neg, "--x = x"},         {OP_ADD, add_neg, "x + -y = x - y"},
    {OP_SUB, add_neg, "x - -y = x + y"},  {OP_MUL, mul_consts, "c1 (c2 x) = (c1 c2) x"},
    {OP_MUL, mul_minus_one, "-1 x = -x"}, {OP_COPY, copy_same, "copy to the same shape"},
    {OP_ADD, add_same, "x + x = 2x"},
};

/* Rebuilds node n with its inputs replaced by their new versions, then applies the rules. */
static IrNode *rebuild(Graph *g, IrNode *n, IrNode **map, bool *changed) {
    if (map[n->id])
        return map[n->id];
    IrNode *in[MAX_IN];
    bool same = true;
    for (int k = 0; k < n->nin; k++) {
        in[k] = rebuild(g, n->in[k], map, changed);
        same &= in[k] == n->in[k];
    }
    IrNode *r = n;
    if (!same) {
        /* the same op over the new inputs: element-wise ops go through their builder (folding, identities) */
        if (op_info[n->op].cls == OPC_ELEM && n->op != OP_DIVCOUNT && n->op != OP_DROPMASK && n->op != OP_COPY)
            r = b_elem(g, n->op, n->nin, in, n->loc);
        else
            r = ir_node_f(g, n->op, n->shape, n->nin, in, n->attr, n->fattr, n->loc);
        if (r && n->dtype != DT_F32 && r->dtype != n->dtype)
            r = ir_node(g, n->op, n->dtype, n->shape, n->nin, in, n->attr, n->loc);
        if (!r)
            die("simplify: rebuilding %s failed", op_info[n->op].name);
    }
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (r->op != rules[i].op)
            continue;
        IrNode *s = rules[i].fn(g, r);
        if (s && s != r && shape_eq(&s->shape, &r->shape)) {
            r = s;
            *changed = true;
            break;
        }
    }
    map[n->id] = r;
    return r;
}

void pass_simplify(Graph *g, IrNode **roots, int nroots) {
    for (int round = 0; round < 16; round++) {
        int n = g->nodes.n;
        IrNode **map = calloc((size_t)n, sizeof(IrNode *));
        if (!map)
            die("out of memory");
        bool changed = false;
        for (int i = 0; i < nroots; i++)
            if (roots[i] && roots[i]->id < n)
                roots[i] = rebuild(g, roots[i], map, &changed);
        free(map);
        if (!changed)
            return;
    }
}
