/* simplify.c: algebraic simplification by table-driven rewrites, applied to a fixpoint.
 *
 * The graph is immutable, so a pass rebuilds the part the roots reach, bottom up, through the ops' builders
 * (constant folding, identities, hash-consing: common subexpressions), and asks each rewrite of the node's op
 * (OpRule.rewrites, with the op's other rules in its family's file: --x = x, x + -y = x - y, c1 (c2 x) = (c1 c2) x,
 * -1 x = -x, x + x = 2x, a copy to its own shape) in turn whether it rewrites it; the result goes through the
 * builders too. Passes repeat until one changes nothing. The backward graph gains most: the gradient rules are
 * written for clarity, not economy.
 *
 * Requires: roots of g. Guarantees: each root replaced by an equivalent node (same shape and values up to
 * floating-point reassociation of constants); nothing that was dead becomes live. */
#include "dlc.h"

/* Rebuilds node n, whose inputs are already rebuilt (map), through its builder, then applies the rules. */
static IrNode *rebuild_one(Graph *g, IrNode *n, IrNode **map, bool *changed) {
    IrNode *in[MAX_IN];
    bool same = true;
    for (int k = 0; k < n->nin; k++) {
        in[k] = map[n->in[k]->id];
        same &= in[k] == n->in[k];
    }
    IrNode *r = n;
    if (!same) {
        /* the same op over the new inputs, through its builder: folding, identities and shape checks apply */
        OpArgs a = {.fattr = n->fattr, .shape = n->shape};
        memcpy(a.attr, n->attr, sizeof a.attr);
        r = op_build(g, n->op, n->nin, in, &a, n->loc);
        if (!r)
            die("simplify: rebuilding %s failed", op_info[n->op].name);
    }
    const RewriteFn *rw = op_rule(r->op)->rewrites;
    for (int i = 0; rw && rw[i]; i++) {
        IrNode *s = rw[i](g, r);
        if (s && s != r && shape_eq(&s->shape, &r->shape)) {
            r = s;
            *changed = true;
            break;
        }
    }
    return r;
}

typedef struct Frame {
    IrNode *n;
    int next; /* the next input to visit */
} Frame;

/* Rebuilds the cone of `root` in depth-first post-order (inputs left to right: the order in which new nodes are
 * built, hence their ids) with an explicit stack, since a graph may be a chain hundreds of thousands of nodes
 * deep. The stack holds one path of the acyclic graph, so it never exceeds the node count. */
static IrNode *rebuild(Graph *g, IrNode *root, IrNode **map, Frame *stack, bool *changed) {
    int top = 0;
    stack[top++] = (Frame){root, 0};
    while (top) {
        Frame *f = &stack[top - 1];
        if (f->next < f->n->nin) {
            IrNode *in = f->n->in[f->next++];
            if (!map[in->id])
                stack[top++] = (Frame){in, 0};
            continue;
        }
        if (!map[f->n->id])
            map[f->n->id] = rebuild_one(g, f->n, map, changed);
        top--;
    }
    return map[root->id];
}

void pass_simplify(Graph *g, IrNode **roots, int nroots) {
    for (int round = 0; round < 16; round++) {
        int n = g->nodes.n;
        IrNode **map = calloc((size_t)n, sizeof(IrNode *));
        Frame *stack = malloc(sizeof(Frame) * (size_t)n);
        if (!map || !stack)
            die("out of memory");
        bool changed = false;
        for (int i = 0; i < nroots; i++)
            if (roots[i] && roots[i]->id < n)
                roots[i] = rebuild(g, roots[i], map, stack, &changed);
        free(map);
        free(stack);
        if (!changed)
            return;
    }
}
