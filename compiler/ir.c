/* ir.c: the IR graph: hash-consed node construction, shapes, and the readable dump.
 *
 * Nodes are immutable once built and identical nodes (same op, inputs, attributes, shape) are shared, so
 * common subexpressions of the forward and backward graphs are merged as they are built. Random nodes
 * (dropout masks) carry a unique attribute so two of them never merge. */
#include "dlc.h"

Graph *graph_new(Ctx *ctx, const char *name) {
    Graph *g = xalloc(ctx, sizeof(Graph));
    g->ctx = ctx;
    g->name = xstrdup(ctx, name);
    g->table_cap = 1024;
    g->table = xalloc(ctx, sizeof(IrNode *) * (size_t)g->table_cap);
    return g;
}

/* The product of d[from..rank), saturating at INT64_MAX: dimensions come from the user, and a shape that is too
 * big must reach the check that refuses it rather than overflow into a small or negative count. */
static int64_t dims_product(const Shape *s, int from) {
    int64_t n = 1;
    for (int i = from; i < s->rank; i++) {
        if (s->d[i] <= 0)
            return 0;
        if (__builtin_mul_overflow(n, s->d[i], &n))
            return INT64_MAX;
    }
    return n;
}

int64_t shape_numel(const Shape *s) { return dims_product(s, 0); }

int64_t shape_inner(const Shape *s) { return dims_product(s, s->batched ? 1 : 0); }

bool shape_eq(const Shape *a, const Shape *b) {
    if (a->rank != b->rank || a->batched != b->batched)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->d[i] != b->d[i])
            return false;
    return true;
}

Shape shape_make(int rank, const int64_t *d, bool batched) {
    Shape s = {0};
    s.rank = rank;
    s.batched = batched && rank > 0;
    for (int i = 0; i < rank; i++)
        s.d[i] = d[i];
    return s;
}

Shape shape_scalar(void) {
    Shape s = {0};
    return s;
}

char *shape_str(Ctx *ctx, const Shape *s) {
    char buf[256];
    int k = 0;
    buf[k++] = '[';
    for (int i = 0; i < s->rank; i++) {
        k += snprintf(buf + k, sizeof buf - (size_t)k, "%s%s%lld", i ? ", " : "",
                      (i == 0 && s->batched) ? "batch " : "", (long long)s->d[i]);
    }
    snprintf(buf + k, sizeof buf - (size_t)k, "]");
    return xstrdup(ctx, buf);
}

char *type_str(Ctx *ctx, DType dt, const Shape *s) {
    return xsprintf(ctx, "%s%s", dt == DT_F32 ? "f32" : "i32", shape_str(ctx, s));
}

bool shape_broadcast(const Shape *a, const Shape *b, Shape *out) {
    Shape r = {0};
    r.rank = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r.rank; i++) {
        int ia = a->rank - r.rank + i, ib = b->rank - r.rank + i;
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        bool ba = ia == 0 && a->batched, bb = ib == 0 && b->batched;
        /* the batch dimension stretches nothing and is stretched by nothing but a 1 of an unbatched operand */
        if (ba && bb) {
            if (da != db)
                return false;
        } else if (ba || bb) {
            int64_t other = ba ? db : da;
            if (other != 1 || ((ba ? ib : ia) >= 0 && (ba ? b : a)->batched))
                return false;
        } else if (da != db && da != 1 && db != 1) {
            return false;
        }
        r.d[i] = da == 1 ? db : da;
        if (ba || bb) {
            if (i != 0)
                return false;
            r.batched = true;
            r.d[i] = ba ? da : db;
        }
    }
    *out = r;
    return true;
}

static uint64_t hash_mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

static uint64_t node_hash(Op op, DType dt, const Shape *s, int nin, IrNode **in, const int64_t *attr,
                          const double *data, int index, double fattr, bool copy) {
    uint64_t h = hash_mix((uint64_t)op, (uint64_t)dt);
    if (copy)
        h = hash_mix(h, 1);
    h = hash_mix(h, (uint64_t)s->rank);
    for (int i = 0; i < s->rank; i++)
        h = hash_mix(h, (uint64_t)s->d[i]);
    for (int i = 0; i < nin; i++)
        h = hash_mix(h, (uint64_t)in[i]->id);
    for (int i = 0; i < MAX_ATTR; i++)
        h = hash_mix(h, (uint64_t)attr[i]);
    if (data) {
        /* constants are interned by value (ir_const_data) */
        int64_t n = shape_numel(s);
        for (int64_t i = 0; i < n; i++) {
            uint64_t b;
            memcpy(&b, &data[i], sizeof b);
            h = hash_mix(h, b);
        }
    } else {
        h = hash_mix(h, (uint64_t)(uintptr_t)data);
    }
    h = hash_mix(h, (uint64_t)index);
    uint64_t fb;
    memcpy(&fb, &fattr, sizeof fb);
    h = hash_mix(h, fb);
    /* splitmix64's finaliser: the table is indexed by the low bits, and hash_mix leaves them untouched by
     * values that differ only in their high bits, as small integers stored as doubles do; every scalar
     * constant then fell into one chain */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

static bool node_same(const IrNode *n, Op op, DType dt, const Shape *s, int nin, IrNode **in, const int64_t *attr,
                      const double *data, int index, double fattr, bool copy) {
    if (n->op != op || n->copy != copy || n->dtype != dt || n->nin != nin || !shape_eq(&n->shape, s) ||
        n->index != index || memcmp(&n->fattr, &fattr, sizeof fattr) != 0)
        return false;
    if (data && n->data ? memcmp(n->data, data, sizeof(double) * (size_t)shape_numel(s)) != 0 : n->data != data)
        return false;
    for (int i = 0; i < nin; i++)
        if (n->in[i] != in[i])
            return false;
    return memcmp(n->attr, attr, sizeof n->attr) == 0;
}

static void table_insert(Graph *g, IrNode *n, uint64_t h) {
    int i = (int)(h & (uint64_t)(g->table_cap - 1));
    while (g->table[i])
        i = (i + 1) & (g->table_cap - 1);
    g->table[i] = n;
}

static void table_grow(Graph *g) {
    IrNode **old = g->table;
    int oldcap = g->table_cap;
    g->table_cap *= 2;
    g->table = xalloc(g->ctx, sizeof(IrNode *) * (size_t)g->table_cap);
    for (int i = 0; i < oldcap; i++) {
        IrNode *n = old[i];
        if (n)
            table_insert(
                g, n,
                node_hash(n->op, n->dtype, &n->shape, n->nin, n->in, n->attr, n->data, n->index, n->fattr, n->copy));
    }
}

/* The node equal to the one described, or NULL; *hash gets its hash. */
static IrNode *table_find(Graph *g, Op op, DType dt, const Shape *shape, int nin, IrNode **in, const int64_t *attr,
                          const double *data, int index, double fattr, bool copy, uint64_t *hash) {
    uint64_t h = node_hash(op, dt, shape, nin, in, attr, data, index, fattr, copy);
    *hash = h;
    for (int i = (int)(h & (uint64_t)(g->table_cap - 1)); g->table[i]; i = (i + 1) & (g->table_cap - 1))
        if (node_same(g->table[i], op, dt, shape, nin, in, attr, data, index, fattr, copy))
            return g->table[i];
    return NULL;
}

static IrNode *ir_node_full(Graph *g, Op op, DType dt, Shape shape, int nin, IrNode **in, const int64_t *attr,
                            const double *data, int index, double fattr, bool copy, Loc loc) {
    int64_t zero[MAX_ATTR] = {0};
    if (!attr)
        attr = zero;
    if (nin > MAX_IN)
        die("node with %d inputs", nin);
    /* the builders refuse bigger shapes with a located error */
    if (shape_numel(&shape) > MAX_NUMEL)
        die("%s node of shape %s is over the element limit", op_info[op].name, shape_str(g->ctx, &shape));
    uint64_t h;
    IrNode *found = table_find(g, op, dt, &shape, nin, in, attr, data, index, fattr, copy, &h);
    if (found)
        return found;
    IrNode *n = xalloc(g->ctx, sizeof(IrNode));
    n->id = g->nodes.n;
    n->op = op;
    n->dtype = dt;
    n->shape = shape;
    n->nin = nin;
    for (int i = 0; i < nin; i++)
        n->in[i] = in[i];
    memcpy(n->attr, attr, sizeof n->attr);
    n->data = data;
    n->index = index;
    n->fattr = fattr;
    n->copy = copy;
    n->loc = loc;
    vec_push(g->ctx, &g->nodes, n);
    if (2 * (g->nodes.n + 1) > g->table_cap)
        table_grow(g);
    table_insert(g, n, h);
    return n;
}

IrNode *ir_node(Graph *g, Op op, DType dt, Shape shape, int nin, IrNode **in, const int64_t *attr, Loc loc) {
    return ir_node_full(g, op, dt, shape, nin, in, attr, NULL, 0, 0, false, loc);
}

IrNode *ir_leaf(Graph *g, Op op, DType dt, Shape shape, int index, Loc loc) {
    return ir_node_full(g, op, dt, shape, 0, NULL, NULL, NULL, index, 0, false, loc);
}

IrNode *ir_node_f(Graph *g, Op op, Shape shape, int nin, IrNode **in, const int64_t *attr, double fattr, Loc loc) {
    return ir_node_full(g, op, DT_F32, shape, nin, in, attr, NULL, 0, fattr, false, loc);
}

IrNode *ir_copy(Graph *g, IrNode *n, IrNode **in) {
    return ir_node_full(g, n->op, n->dtype, n->shape, n->nin, in, n->attr, n->data, n->index, n->fattr, true, n->loc);
}

/* Constants are interned by value, so equal constants are one node: the hash table holds them under a hash of
 * their data (a linear scan of the graph per constant was quadratic in the size of the graph). */
IrNode *ir_const_data(Graph *g, Shape shape, const double *data, Loc loc) {
    int64_t n = shape_numel(&shape);
    int64_t zero[MAX_ATTR] = {0};
    uint64_t h;
    IrNode *found = table_find(g, OP_CONST, DT_F32, &shape, 0, NULL, zero, data, 0, 0, false, &h);
    if (found)
        return found;
    double *copy = xalloc(g->ctx, sizeof(double) * (size_t)(n ? n : 1));
    memcpy(copy, data, sizeof(double) * (size_t)n);
    return ir_node_full(g, OP_CONST, DT_F32, shape, 0, NULL, NULL, copy, 0, 0, false, loc);
}

IrNode *ir_const_scalar(Graph *g, double v, Loc loc) { return ir_const_data(g, shape_scalar(), &v, loc); }

IrNode *ir_storage(IrNode *n) {
    while (op_info[n->op].cls == OPC_VIEW)
        n = n->in[0];
    return n;
}

bool ir_is_const(const IrNode *n, double *value) {
    if (!n->data)
        return false;
    int64_t k = shape_numel(&n->shape);
    for (int64_t i = 1; i < k; i++)
        if (n->data[i] != n->data[0])
            return false;
    if (value)
        *value = n->data[0];
    return true;
}

/* One line per node: "%12 = add %10, %11 : f32[batch 256, 120]  ; line 21", with a mark per node when a
 * schedule is given ("fused" for nodes computed inside a consumer's loop, "@offset" for planned buffers). */
void ir_dump(FILE *out, Graph *g, const Sched *s) {
    for (int i = 0; i < g->nodes.n; i++) {
        IrNode *n = g->nodes.v[i];
        if (s && !s->live[i])
            continue;
        fprintf(out, "%%%d = %s", n->id, op_info[n->op].name);
        for (int j = 0; j < n->nin; j++)
            fprintf(out, "%s%%%d", j ? ", " : " ", n->in[j]->id);
        if (op_rule(n->op)->dump)
            op_rule(n->op)->dump(out, g, n);
        for (int j = 0; j < MAX_ATTR; j++)
            if (n->attr[j]) {
                fprintf(out, " {");
                for (int k = 0; k < MAX_ATTR; k++)
                    fprintf(out, "%s%lld", k ? "," : "", (long long)n->attr[k]);
                fprintf(out, "}");
                break;
            }
        fprintf(out, " : %s", type_str(g->ctx, n->dtype, &n->shape));
        if (s && s->inl[i])
            fprintf(out, "  fused");
        if (s && s->offset && s->offset[i] >= 0)
            fprintf(out, "  @%lld", (long long)s->offset[i]);
        if (n->loc.src)
            fprintf(out, "  ; line %d", n->loc.line);
        fputc('\n', out);
    }
}

/* Checks the invariants every pass relies on; a violation is a compiler bug. */
void ir_verify(Graph *g, const char *after) {
    for (int i = 0; i < g->nodes.n; i++) {
        IrNode *n = g->nodes.v[i];
        const OpInfo *info = &op_info[n->op];
        if (n->id != i)
            die("after %s: node %%%d has id %d", after, i, n->id);
        if (info->arity >= 0 && n->nin != info->arity)
            die("after %s: %%%d (%s) has %d inputs, not %d", after, i, info->name, n->nin, info->arity);
        for (int k = 0; k < n->nin; k++)
            if (!n->in[k] || n->in[k]->id >= n->id)
                die("after %s: %%%d reads a node that does not precede it", after, i);
        if (n->shape.rank < 0 || n->shape.rank > MAX_RANK || (n->shape.batched && n->shape.rank == 0))
            die("after %s: %%%d has a malformed shape", after, i);
        if (info->cls == OPC_ELEM && n->nin > 0) {
            Shape b = n->in[0]->shape;
            for (int k = 1; k < n->nin; k++)
                if (!shape_broadcast(&b, &n->in[k]->shape, &b))
                    die("after %s: %%%d (%s) has operands that do not broadcast", after, i, info->name);
            Shape r;
            if (!shape_broadcast(&b, &n->shape, &r) || !shape_eq(&r, &n->shape))
                die("after %s: %%%d (%s) is %s but its operands broadcast to %s", after, i, info->name,
                    shape_str(g->ctx, &n->shape), shape_str(g->ctx, &b));
        }
        if (info->cls == OPC_VIEW && shape_numel(&n->shape) != shape_numel(&n->in[0]->shape))
            die("after %s: view %%%d changes the element count", after, i);
    }
}
