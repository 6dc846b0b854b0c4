/* emit.c: C emission.
 *
 * Writes <name>.c: straight-line code specialised to the model's shapes, one block per kernel of each schedule,
 * every buffer at the offset the memory plan fixed, each block headed by a comment naming the .dlm line it comes
 * from. Fused element-wise chains become one loop nest whose dimensions are merged wherever every operand agrees
 * on broadcasting, each op's part of it the C expression of its rule; reductions are loop nests too, with their
 * rule's accumulator; any other kernel is its rule's emitter (compiler/ops/), which writes through the helpers
 * exported here. emit_api.c writes <name>.h, the initialisers and the checkpoint reader. The output depends only
 * on the compiled model, so the same input gives the same bytes. */
#include <inttypes.h>
#include <math.h>

#include "dlc.h"

char *emit_upper(Ctx *ctx, const char *s) {
    char *u = xstrdup(ctx, s);
    for (char *p = u; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return u;
}

/* A C identifier from a parameter name: "features.0.weight" -> "features_0_weight". */
char *emit_ident(Ctx *ctx, const char *s) {
    char *u = xstrdup(ctx, s);
    for (char *p = u; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            *p = '_';
    return u;
}

/* An input's or output's name in the header's macros (<NAME>_INPUT_<name>_SIZE): upper case, as C macros are.
 * Names that differ only in case must not meet there (D2L's X and x), so a name with a capital letter marks
 * each capital with a lower-case u: x -> X, X -> uX, inputX -> INPUTuX. No name without capitals has a lower-case
 * letter in its macro, and the marks decode, so no two names share a spelling. */
char *emit_macro_name(Ctx *ctx, const char *s) {
    char *id = emit_ident(ctx, s), *u = xalloc(ctx, 2 * strlen(id) + 1), *q = u;
    for (const char *p = id; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *q++ = 'u';
        *q++ = *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
    }
    *q = 0;
    return u;
}

char *emit_lit(Emit *e, double v) {
    if (isnan(v))
        return xstrdup(e->ctx, "NAN");
    if (isinf(v))
        return xstrdup(e->ctx, v > 0 ? "INFINITY" : "-INFINITY");
    char buf[64];
    snprintf(buf, sizeof buf, e->f64 ? "%.17g" : "%.9g", v);
    if (!strpbrk(buf, ".eEn"))
        strcat(buf, ".0");
    if (!e->f64)
        strcat(buf, "f");
    return xstrdup(e->ctx, buf);
}

const char *emit_libm(Emit *e, const char *name) { return e->f64 ? name : xsprintf(e->ctx, "%sf", name); }

/* exp: libm's in f64; in f32 the emitted expv, which vectorises (emit_expv). */
const char *emit_exp(Emit *e) { return e->f64 ? "exp" : "expv"; }

/* An input's parameter name: the model's own, unless it would collide with a name the generated code uses. */
char *emit_input_name(Ctx *ctx, const char *model_name) {
    static const char *const reserved[] = {
        "st",  "ar",  "n",   "r",     "h",     "state", "metrics", "lr",  "acc",     "loss",    "xr", "yr", "mx",
        "sum", "inv", "lse", "scale", "label", "best",  "j",       "p",   "g",       "m",       "v",  "t",  "bc1",
        "bc2", "gi",  "thr", "i",     "k",     "main",  "ctx",     "out", "weights", "scratch", NULL};
    char *id = emit_ident(ctx, model_name);
    for (int i = 0; reserved[i]; i++)
        if (strcmp(reserved[i], id) == 0 || (id[0] == 'i' && id[1] >= '0' && id[1] <= '9') || id[0] == 'k')
            return xsprintf(ctx, "in_%s", id);
    return id;
}

static bool const_same(const IrNode *a, const IrNode *b) {
    return a == b || (b->data && shape_eq(&a->shape, &b->shape) &&
                      memcmp(a->data, b->data, sizeof(double) * (size_t)shape_numel(&a->shape)) == 0);
}

/* A constant's C name. The training and the inference graph both number their nodes from 0, so an inference
 * constant takes a name of its own (ke<id>) when the training graph's node of that id is a different constant. */
char *emit_const_name(Emit *e, const IrNode *n) {
    Graph *t = e->c->train;
    IrNode *same_id = n->id < t->nodes.n ? t->nodes.v[n->id] : NULL;
    bool own = same_id && same_id != n && same_id->data && !const_same(n, same_id);
    return xsprintf(e->ctx, own ? "ke%d" : "k%d", n->id);
}

/* The C expression of a node's data pointer: a leaf's from its rule, any other node's buffer in the arena. */
char *emit_ptr(Emit *e, IrNode *n) {
    n = ir_storage(n);
    if (op_rule(n->op)->c_ptr)
        return op_rule(n->op)->c_ptr(e, n);
    if (e->s->offset[n->id] < 0)
        die("node %%%d (%s) has no buffer", n->id, op_info[n->op].name);
    return xsprintf(e->ctx, "((%s *)(ar + %" PRId64 "))", e->real, e->s->offset[n->id]);
}

char *emit_scratch(Emit *e, const IrNode *n) {
    if (e->s->scratch[n->id] < 0)
        die("node %%%d (%s) has no scratch", n->id, op_info[n->op].name);
    return xsprintf(e->ctx, "(%s *)(ar + %" PRId64 ")", e->real, e->s->scratch[n->id]);
}

/* ---- loop nests with merged dimensions ---- */

#define MAX_SRC FUSE_MAX_SRC

typedef struct Nest {
    int ndim;
    int64_t ext[MAX_RANK];  /* static extent (with the batch at its maximum) */
    bool batched[MAX_RANK]; /* extent scales with the run-time batch */
    bool reduced[MAX_RANK]; /* for reductions: summed over */
    int nsrc;
    IrNode *src[MAX_SRC]; /* logical nodes read (views included) */
    int64_t stride[MAX_SRC][MAX_RANK];
    int64_t out_stride[MAX_RANK];
    int64_t flat_stride[MAX_RANK];
} Nest;

static void collect_sources(Sched *s, IrNode *n, Nest *nest) {
    for (int i = 0; i < n->nin; i++) {
        IrNode *in = n->in[i];
        double v;
        if (s->inl[in->id]) {
            collect_sources(s, in, nest);
            continue;
        }
        if (ir_is_const(in, &v) && in->shape.rank == 0)
            continue;
        bool seen = false;
        for (int k = 0; k < nest->nsrc; k++)
            seen |= nest->src[k] == in;
        if (!seen) {
            if (nest->nsrc == MAX_SRC)
                die("too many operands in one fused loop");
            nest->src[nest->nsrc++] = in;
        }
    }
}

/* Row-major stride of each dimension of s aligned right against a loop shape of rank r; 0 where broadcast. */
static void aligned_strides(const Shape *loop, const Shape *s, int64_t *out) {
    int off = loop->rank - s->rank;
    int64_t stride = 1;
    for (int k = loop->rank - 1; k >= 0; k--) {
        int j = k - off;
        if (j < 0) {
            out[k] = 0;
            continue;
        }
        out[k] = (s->d[j] == 1 && loop->d[k] != 1) ? 0 : stride;
        stride *= s->d[j];
    }
}

/* Builds the nest over `loop` for kernel root n: merges adjacent dimensions that every operand (and the
 * reduction mask) treats alike, and drops size-1 dimensions. */
static void build_nest(Sched *s, IrNode *root, const Shape *loop, uint32_t reduce_mask, const Shape *out_shape,
                       Nest *nest) {
    memset(nest, 0, sizeof *nest);
    collect_sources(s, root, nest);
    int64_t full[MAX_SRC][MAX_RANK], outs[MAX_RANK], flat[MAX_RANK];
    for (int k = 0; k < nest->nsrc; k++)
        aligned_strides(loop, &nest->src[k]->shape, full[k]);
    /* output strides: over the kept dimensions of the loop */
    int64_t stride = 1;
    for (int d = loop->rank - 1; d >= 0; d--) {
        flat[d] = stride;
        stride *= loop->d[d];
    }
    stride = 1;
    for (int d = loop->rank - 1; d >= 0; d--) {
        if (reduce_mask & (1u << d)) {
            outs[d] = 0;
        } else {
            outs[d] = stride;
            stride *= loop->d[d];
        }
    }
    (void)out_shape;
    int nd = 0;
    for (int d = 0; d < loop->rank; d++) {
        bool red = reduce_mask & (1u << d);
        bool bat = d == 0 && loop->batched;
        if (loop->d[d] == 1 && !bat)
            continue;
        bool merge = nd > 0 && nest->reduced[nd - 1] == red && !(nest->batched[nd - 1] && red);
        for (int k = 0; merge && k < nest->nsrc; k++)
            merge = (nest->stride[k][nd - 1] == 0) == (full[k][d] == 0);
        if (merge) {
            nest->ext[nd - 1] *= loop->d[d];
            for (int k = 0; k < nest->nsrc; k++)
                nest->stride[k][nd - 1] = full[k][d];
            nest->out_stride[nd - 1] = outs[d];
            nest->flat_stride[nd - 1] = flat[d];
        } else {
            nest->ext[nd] = loop->d[d];
            nest->batched[nd] = bat;
            nest->reduced[nd] = red;
            for (int k = 0; k < nest->nsrc; k++)
                nest->stride[k][nd] = full[k][d];
            nest->out_stride[nd] = outs[d];
            nest->flat_stride[nd] = flat[d];
            nd++;
        }
    }
    nest->ndim = nd;
}

static char *index_expr(Ctx *ctx, const Nest *nest, const int64_t *strides) {
    char buf[512] = "";
    for (int d = 0; d < nest->ndim; d++) {
        if (strides[d] == 0)
            continue;
        size_t len = strlen(buf);
        if (strides[d] == 1)
            snprintf(buf + len, sizeof buf - len, "%si%d", len ? " + " : "", d);
        else
            snprintf(buf + len, sizeof buf - len, "%si%d * %" PRId64, len ? " + " : "", d, strides[d]);
    }
    return xstrdup(ctx, buf[0] ? buf : "0");
}

static char *extent(Emit *e, const Nest *nest, int d) {
    (void)e;
    if (!nest->batched[d])
        return xsprintf(e->ctx, "%" PRId64, nest->ext[d]);
    int64_t per = nest->ext[d] / e->s->g->max_batch;
    return per == 1 ? xstrdup(e->ctx, "n") : xsprintf(e->ctx, "n * %" PRId64, per);
}

static char *expr(Emit *e, IrNode *n, const Nest *nest);

static char *operand(Emit *e, IrNode *in, const Nest *nest) {
    double v;
    if (e->s->inl[in->id])
        return expr(e, in, nest);
    if (ir_is_const(in, &v) && in->shape.rank == 0)
        return emit_lit(e, v);
    for (int k = 0; k < nest->nsrc; k++)
        if (nest->src[k] == in)
            return xsprintf(e->ctx, "%s[%s]", emit_ptr(e, in), index_expr(e->ctx, nest, nest->stride[k]));
    die("operand %%%d not in the nest", in->id);
}

static char *expr(Emit *e, IrNode *n, const Nest *nest) {
    char *x[MAX_IN] = {0};
    for (int k = 0; k < n->nin; k++)
        x[k] = operand(e, n->in[k], nest);
    return op_rule(n->op)->c_expr(e, n, x, index_expr(e->ctx, nest, nest->flat_stride));
}

static void indent(Emit *e, int depth) {
    for (int i = 0; i < depth; i++)
        fputs("    ", e->o);
}

/* Opens the loops of dims [from, to); returns the depth reached. */
static int open_loops(Emit *e, const Nest *nest, int from, int to, int depth, bool parallel) {
    for (int d = from; d < to; d++) {
        if (d == from && parallel) {
            indent(e, depth);
            fprintf(e->o, "%s_PARALLEL_FOR\n", e->NAME);
        }
        indent(e, depth);
        fprintf(e->o, "for (int64_t i%d = 0; i%d < %s; i%d++) {\n", d, d, extent(e, nest, d), d);
        depth++;
    }
    return depth;
}

static int close_loops(Emit *e, int depth, int count) {
    for (int i = 0; i < count; i++) {
        depth--;
        indent(e, depth);
        fputs("}\n", e->o);
    }
    return depth;
}

/* Work worth spreading over threads: the loop nest's total element count at the maximum batch. */
static bool worth_parallel(const Nest *nest, int upto) {
    int64_t w = 1;
    for (int d = 0; d < upto; d++)
        w *= nest->ext[d];
    return w >= 4096 && nest->ndim > 0 && (nest->ext[0] > 1 || nest->batched[0]);
}

static void emit_elem_kernel(Emit *e, IrNode *n) {
    Nest nest;
    build_nest(e->s, n, &n->shape, 0, &n->shape, &nest);
    int64_t ostr[MAX_RANK];
    for (int d = 0; d < nest.ndim; d++)
        ostr[d] = nest.out_stride[d];
    int depth = open_loops(e, &nest, 0, nest.ndim, 1, worth_parallel(&nest, nest.ndim));
    indent(e, depth);
    fprintf(e->o, "%s[%s] = %s;\n", emit_ptr(e, n), index_expr(e->ctx, &nest, ostr), expr(e, n, &nest));
    close_loops(e, depth, nest.ndim);
}

/* How many of `outputs` independent sums to compute side by side (unroll and jam), each in its own accumulator and
 * in the order it would alone, so the same bits: a sum's accumulator is a chain of dependent additions, one every
 * few cycles (ResNet-18's batch-norm gradients spent 4 cycles per value on it), and side by side the chains
 * overlap. The largest width up to 8 that divides `outputs`; where the blocks are what the threads share
 * (`parallel`), one that leaves an even number of blocks or at least 16, so that two threads get equal shares
 * (BN-LeNet's 6 channels as 3 blocks of 2 left one thread a third of the time idle; as 2 blocks of 3 none). */
int emit_jam_width(int64_t outputs, bool parallel) {
    for (int jam = 8; jam > 1; jam--)
        if (outputs % jam == 0 && (!parallel || (outputs / jam) % 2 == 0 || outputs / jam >= 16))
            return jam;
    return 1;
}

/* The width for a reduction's innermost kept loop (dimension kept - 1 of the reordered nest), where each output
 * sums at least REDUCE_JAM_MIN values; `par`: the nest's outer loop is shared among threads. */
#define REDUCE_JAM_MIN 16
static int reduce_jam(const Nest *r, int kept, bool par) {
    if (kept == 0 || r->batched[kept - 1])
        return 1;
    int64_t per = 1;
    for (int d = kept; d < r->ndim; d++)
        per *= r->ext[d];
    if (per < REDUCE_JAM_MIN)
        return 1;
    return emit_jam_width(r->ext[kept - 1], par && kept == 1);
}

/* The loop over a jammed reduction's `jam` lanes (u), at `depth`, with the lane's output index i<j> and its
 * accumulator `acc` in scope; the caller writes the body and closes it. */
static void open_jam_lane(Emit *e, int depth, int jam, int j, const char *acc_type) {
    indent(e, depth);
    fprintf(e->o, "for (int64_t u = 0; u < %d; u++) {\n", jam);
    indent(e, depth + 1);
    fprintf(e->o, "const int64_t i%d = b%d + u;\n", j, j);
    indent(e, depth + 1);
    fprintf(e->o, "%s acc = accs[u];\n", acc_type);
}

static void emit_reduce_kernel(Emit *e, IrNode *n) {
    IrNode *x = n->in[0];
    Nest nest;
    build_nest(e->s, n, &x->shape, (uint32_t)n->attr[0], &n->shape, &nest);
    /* kept dimensions outside, reduced inside: reorder the nest */
    Nest r = nest;
    int k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int d = 0; d < nest.ndim; d++)
            if (nest.reduced[d] == (pass == 1)) {
                r.ext[k] = nest.ext[d];
                r.batched[k] = nest.batched[d];
                r.reduced[k] = nest.reduced[d];
                r.out_stride[k] = nest.out_stride[d];
                r.flat_stride[k] = nest.flat_stride[d];
                for (int s = 0; s < nest.nsrc; s++)
                    r.stride[s][k] = nest.stride[s][d];
                k++;
            }
    int kept = 0;
    while (kept < r.ndim && !r.reduced[kept])
        kept++;
    int64_t ostr[MAX_RANK] = {0};
    for (int d = 0; d < r.ndim; d++)
        ostr[d] = r.out_stride[d];
    bool par = worth_parallel(&r, r.ndim) && kept > 0;
    const OpRule *rule = op_rule(n->op);
    const char *acc_type = rule->acc_double ? "double" : e->real;
    char *out = xsprintf(e->ctx, "%s[%s] = %sacc", emit_ptr(e, n), index_expr(e->ctx, &r, ostr),
                         rule->acc_double ? xsprintf(e->ctx, "(%s)", e->real) : "");
    int jam = reduce_jam(&r, kept, par);
    if (jam > 1) {
        /* unroll and jam: `jam` consecutive outputs of the innermost kept loop (i<j>) accumulate side by side,
         * each in its own accumulator and in the order it would alone (the same bits), so the chains of
         * dependent additions overlap instead of waiting on each other's latency */
        int j = kept - 1;
        int depth = open_loops(e, &r, 0, j, 1, par);
        if (j == 0 && par) {
            indent(e, depth);
            fprintf(e->o, "%s_PARALLEL_FOR\n", e->NAME);
        }
        indent(e, depth);
        fprintf(e->o, "for (int64_t b%d = 0; b%d < %" PRId64 "; b%d += %d) {\n", j, j, r.ext[j], j, jam);
        indent(e, ++depth);
        fprintf(e->o, "%s accs[%d] = {", acc_type, jam);
        for (int u = 0; u < jam; u++)
            fprintf(e->o, "%s%s", u ? ", " : "", rule->acc_init);
        fputs("};\n", e->o);
        depth = open_loops(e, &r, kept, r.ndim, depth, false);
        open_jam_lane(e, depth, jam, j, acc_type);
        indent(e, depth + 1);
        fprintf(e->o, rule->acc_update, operand(e, x, &r));
        indent(e, depth + 1);
        fputs("accs[u] = acc;\n", e->o);
        indent(e, depth);
        fputs("}\n", e->o);
        depth = close_loops(e, depth, r.ndim - kept);
        open_jam_lane(e, depth, jam, j, acc_type);
        indent(e, depth + 1);
        fprintf(e->o, "%s;\n", out);
        indent(e, depth);
        fputs("}\n", e->o);
        close_loops(e, depth, kept);
        return;
    }
    int depth = open_loops(e, &r, 0, kept, 1, par);
    indent(e, depth);
    fprintf(e->o, "%s acc = %s;\n", acc_type, rule->acc_init);
    depth = open_loops(e, &r, kept, r.ndim, depth, false);
    indent(e, depth);
    fprintf(e->o, rule->acc_update, operand(e, x, &r));
    depth = close_loops(e, depth, r.ndim - kept);
    indent(e, depth);
    fprintf(e->o, "%s;\n", out);
    close_loops(e, depth, kept);
}

char *emit_outer(Emit *e, const Shape *s, int64_t outer) {
    if (!s->batched)
        return xsprintf(e->ctx, "%" PRId64, outer);
    int64_t per = outer / e->s->g->max_batch;
    return per == 1 ? xstrdup(e->ctx, "n") : xsprintf(e->ctx, "n * %" PRId64, per);
}

char *emit_rows(Emit *e, const Shape *s) {
    int64_t cols = s->rank ? s->d[s->rank - 1] : 1;
    return emit_outer(e, s, shape_numel(s) / cols);
}

char *emit_dim(Emit *e, const Shape *s, int d) {
    (void)e;
    return d == 0 && s->batched ? xstrdup(e->ctx, "n") : xsprintf(e->ctx, "%" PRId64, s->d[d]);
}

/* Kernels with a function of their own, written for their shapes (OpRule.own_fn): small convolutions and pooling
 * whose windows tile the image. */
static bool own_fn(const Emit *e, const IrNode *n) {
    const OpRule *r = op_rule(n->op);
    return r->own_fn && r->own_fn(n) && !quant_of(e->c, n); /* an int8 kernel has a function of its own */
}

/* The node whose kernel computes schedule entry n: the kernel that applies n as its epilogue, else n itself. */
static IrNode *computed_by(const Sched *s, IrNode *n) { return s->producer[n->id] ? s->producer[n->id] : n; }

/* Same op, operand and result shapes and attributes: one specialised function serves both. */
static bool same_geometry(const IrNode *a, const IrNode *b) {
    if (a->op != b->op || a->nin != b->nin || !shape_eq(&a->shape, &b->shape) ||
        memcmp(a->attr, b->attr, sizeof a->attr) != 0)
        return false;
    for (int i = 0; i < a->nin; i++)
        if (!shape_eq(&a->in[i]->shape, &b->in[i]->shape))
            return false;
    return true;
}

static bool epilogue_in(Emit *e, const Sched *s, const IrNode *k, Epilogue *ep);

/* Kernel a of schedule sa and b of sb have the same geometry and epilogue (the same expression over the
 * accumulator and the same pooling): one function serves both. */
static bool same_kernel(Emit *e, const Sched *sa, const IrNode *a, const Sched *sb, const IrNode *b) {
    Epilogue ea, eb;
    bool fa = epilogue_in(e, sa, a, &ea), fb = epilogue_in(e, sb, b, &eb);
    if (!same_geometry(a, b) || fa != fb)
        return false;
    if (!fa)
        return true;
    if (ea.nbias != eb.nbias || memcmp(ea.stride, eb.stride, sizeof ea.stride) != 0 || !ea.pool != !eb.pool ||
        (ea.pool && !same_geometry(ea.pool, eb.pool)))
        return false;
    return strcmp(emit_epilogue_expr(e, &ea, a, "v", "c"), emit_epilogue_expr(e, &eb, b, "v", "c")) == 0;
}

/* Whether kernel i of function f has a function of its own and no earlier kernel has its geometry: each such
 * kernel gets one function, shared by the later ones. */
static bool first_own_fn(Emit *e, int f, int i) {
    Sched *s = &e->c->fn[f];
    IrNode *n = computed_by(s, s->kernels.v[i]);
    if (!own_fn(e, n))
        return false;
    for (int pf = 0; pf <= f; pf++)
        for (int pi = 0; pi < (pf == f ? i : e->c->fn[pf].kernels.n); pi++) {
            Sched *ps = &e->c->fn[pf];
            IrNode *m = computed_by(ps, ps->kernels.v[pi]);
            if (own_fn(e, m) && same_kernel(e, ps, m, s, n))
                return false;
        }
    return true;
}

/* conv2d_fwd_direct_0, conv2d_dw_direct_0, avg_pool_fwd_0, ...: numbered per op in order of first use. Kernel n
 * belongs to the schedule being emitted. */
char *emit_own_fn_name(Emit *e, const IrNode *n) {
    int id = 0;
    for (int f = 0; f < FN_COUNT; f++)
        for (int i = 0; i < e->c->fn[f].kernels.n; i++) {
            Sched *s = &e->c->fn[f];
            IrNode *m = computed_by(s, s->kernels.v[i]);
            if (m->op != n->op || !first_own_fn(e, f, i))
                continue;
            if (same_kernel(e, s, m, e->s, n))
                return xsprintf(e->ctx, "%s%d", op_rule(n->op)->own_fn_prefix, id);
            id++;
        }
    die("kernel %d has no function of its own", n->id);
}

/* ---- epilogues: bias, activation and pooling inside a kernel's own function (fuse.c) ---- */

static bool epilogue_in(Emit *e, const Sched *s, const IrNode *k, Epilogue *ep) {
    memset(ep, 0, sizeof *ep);
    if (!s->epilogue || !s->epilogue[k->id])
        return false;
    ep->s = s;
    ep->kernel = k;
    ep->elem = s->epilogue[k->id];
    ep->pool = s->pooled[k->id];
    ep->out = ep->pool ? ep->pool : ep->elem;
    /* the per-channel operands of the element-wise tree, each once, in the order the tree reads them */
    IrNode *stack[64];
    int sp = 0;
    stack[sp++] = ep->elem;
    while (sp) {
        IrNode *m = stack[--sp];
        for (int i = m->nin - 1; i >= 0; i--) {
            IrNode *in = m->in[i];
            double v;
            if (in == k || (ir_is_const(in, &v) && in->shape.rank == 0))
                continue;
            if (s->inl[in->id]) {
                if (sp == 64)
                    die("epilogue of kernel %d nests too deep", k->id);
                stack[sp++] = in;
                continue;
            }
            bool seen = false;
            for (int j = 0; j < ep->nbias; j++)
                seen |= ep->bias[j] == in;
            if (seen)
                continue;
            if (ep->nbias == EPI_MAX_BIAS)
                die("epilogue of kernel %d reads too many operands", k->id);
            int64_t strides[MAX_RANK];
            aligned_strides(&k->shape, &in->shape, strides);
            ep->stride[ep->nbias] = strides[1];
            ep->bias[ep->nbias++] = in;
        }
    }
    const IrNode *root = ep->elem;
    ep->flat =
        ep->pool && op_rule(root->op)->flat_epilogue && root->nin == 1 && (root->in[0] == k || s->inl[root->in[0]->id]);
    (void)e;
    return true;
}

bool emit_epilogue(Emit *e, const IrNode *k, Epilogue *ep) { return epilogue_in(e, e->s, k, ep); }

static char *epilogue_expr(Emit *e, const Epilogue *ep, const IrNode *k, const IrNode *m, const char *acc,
                           const char *chan) {
    char *x[MAX_IN] = {0};
    for (int i = 0; i < m->nin; i++) {
        IrNode *in = m->in[i];
        double v;
        if (in == k) {
            x[i] = xstrdup(e->ctx, acc);
        } else if (ir_is_const(in, &v) && in->shape.rank == 0) {
            x[i] = emit_lit(e, v);
        } else if (ep->s->inl[in->id]) {
            x[i] = epilogue_expr(e, ep, k, in, acc, chan);
        } else {
            int b = 0;
            while (ep->bias[b] != in)
                b++;
            x[i] = ep->stride[b] == 0   ? xsprintf(e->ctx, "b%d[0]", b)
                   : ep->stride[b] == 1 ? xsprintf(e->ctx, "b%d[%s]", b, chan)
                                        : xsprintf(e->ctx, "b%d[(%s) * %" PRId64 "]", b, chan, ep->stride[b]);
        }
    }
    return op_rule(m->op)->c_expr(e, m, x, "0"); /* no op of an epilogue reads its flat index (fuse.c) */
}

char *emit_epilogue_expr(Emit *e, const Epilogue *ep, const IrNode *k, const char *acc, const char *chan) {
    return epilogue_expr(e, ep, k, ep->elem, acc, chan);
}

char *emit_epilogue_tile_expr(Emit *e, const Epilogue *ep, const char *acc, const char *chan) {
    if (!ep->flat)
        return epilogue_expr(e, ep, ep->kernel, ep->elem, acc, chan);
    const IrNode *in = ep->elem->in[0];
    return in == ep->kernel ? xstrdup(e->ctx, acc) : epilogue_expr(e, ep, ep->kernel, in, acc, chan);
}

char *emit_epilogue_root(Emit *e, const Epilogue *ep, const char *v) {
    char *x[MAX_IN] = {xstrdup(e->ctx, v)};
    return op_rule(ep->elem->op)->c_expr(e, ep->elem, x, "0");
}

char *emit_epilogue_params(Emit *e, const Epilogue *ep) {
    char *p = xstrdup(e->ctx, "");
    for (int i = 0; i < ep->nbias; i++)
        p = xsprintf(e->ctx, "%s, const %s *restrict b%d", p, e->real, i);
    return p;
}

char *emit_epilogue_args(Emit *e, const Epilogue *ep) {
    char *p = xstrdup(e->ctx, "");
    for (int i = 0; i < ep->nbias; i++)
        p = xsprintf(e->ctx, "%s, %s", p, emit_ptr(e, ep->bias[i]));
    return p;
}

/* What comes before a kernel's always-inlined body (emit_isa_kernel): under --portable a plain static inline. */
const char *emit_isa_inline(Emit *e) {
    return e->opt->portable ? "static inline " : xsprintf(e->ctx, "%s_INLINE static inline ", e->NAME);
}

/* The statements of a kernel's own function around its loop (l), at the function's top level. */
static void emit_isa_loop(Emit *e, const IsaLoop *l) {
    FILE *o = e->o;
    fputs(l->setup, o);
    if (l->parallel)
        fprintf(o, "    %s_PARALLEL_FOR\n", e->NAME);
    fprintf(o, "    for (int64_t i = 0; i < %s; i++)\n        %s;\n", l->count, l->step);
    fputs(l->finish, o);
}

/* Kernel fname's own function `fname(l->params, int64_t n)`. Its body is written once by the kernel's emitter, as
 * always-inlined functions (emit_isa_inline) that l's statements call: one per iteration of the loop, which is
 * the kernel's parallel loop over images or chunks. A wrapper per instruction set (AVX-512 and AVX2 under their
 * target attributes) holds the loop and the statements around it, and the body is inlined there, so the C
 * compiler compiles it for each instruction set from one copy in the source. The loop must be in the wrapper,
 * not in the body: OpenMP outlines a parallel loop into a child function of the function that holds it before
 * anything is inlined, and the child takes that function's target, so a loop in an inlined body would be
 * compiled for the file's target alone. `fname` calls the wrapper <name>_isa() picks, or runs the statements
 * itself as portable C; with --portable, it is the statements alone. */
void emit_isa_kernel(Emit *e, const char *fname, const IsaLoop *l) {
    FILE *o = e->o;
    const char *params = xsprintf(e->ctx, "%s, int64_t n", l->params);
    if (!e->opt->portable) {
        static const char *const isas[][2] = {{"avx512", "AVX512"}, {"avx2", "AVX2"}};
        fprintf(o, "#if %s_X86\n", e->NAME);
        for (int i = 0; i < 2; i++) {
            fprintf(o, "%s_%s static void %s_%s(%s) {\n", e->NAME, isas[i][1], fname, isas[i][0], params);
            emit_isa_loop(e, l);
            fprintf(o, "}\n");
        }
        fprintf(o, "#endif\n");
    }
    fprintf(o, "static void %s(%s) {\n", fname, params);
    if (!e->opt->portable) {
        fprintf(o, "#if %s_X86\n    switch (%s_isa()) {\n", e->NAME, e->name);
        fprintf(o, "    case 2:\n        %s_avx512(%s, n);\n        return;\n", fname, l->args);
        fprintf(o, "    case 1:\n        %s_avx2(%s, n);\n        return;\n", fname, l->args);
        fprintf(o, "    default:\n        break;\n    }\n#endif\n");
    }
    emit_isa_loop(e, l);
    fprintf(o, "}\n");
}

static void emit_kernel(Emit *e, IrNode *n) {
    if (e->s->producer[n->id]) { /* an epilogue: its kernel's call */
        IrNode *k = e->s->producer[n->id];
        op_rule(k->op)->emit(e, k);
        return;
    }
    if (quant_of(e->c, n)) {
        quant_emit_kernel(e, n);
        return;
    }
    switch (op_info[n->op].cls) {
    case OPC_ELEM:
        emit_elem_kernel(e, n);
        return;
    case OPC_REDUCE:
        emit_reduce_kernel(e, n);
        return;
    default:
        if (!op_rule(n->op)->emit)
            die("no emitter for %s", op_info[n->op].name);
        op_rule(n->op)->emit(e, n);
    }
}

/* ---- the functions' parameters ---- */

bool emit_uses_input(Sched *s, int input) {
    IrNode *in = s->g->inputs.v[input].node;
    return s->live && s->live[in->id];
}

/* The C parameters of the inputs schedule s reads (`all`: every input), each after a comma. */
static const char *input_params(Emit *e, Sched *s, bool all) {
    Graph *g = s->g;
    const char *p = "";
    for (int i = 0; i < g->inputs.n; i++) {
        if (!all && !emit_uses_input(s, i))
            continue;
        Input *in = &g->inputs.v[i];
        p = xsprintf(e->ctx, "%s, const %s *%s", p, in->dtype == DT_I32 ? "int32_t" : e->real,
                     emit_input_name(e->ctx, in->name));
    }
    return p;
}

void emit_input_params(Emit *e, Sched *s, bool all) { fputs(input_params(e, s, all), e->o); }

/* ---- the source ---- */

/* The helpers (CALLS_*) that the live kernels of every function call. */
unsigned emit_calls(Compiled *c) {
    unsigned calls = 0;
    for (int f = 0; f < FN_COUNT; f++) {
        Sched *s = &c->fn[f];
        for (int i = 0; s->g && i < s->g->nodes.n; i++)
            if (s->live[i] && !quant_of(c, s->g->nodes.v[i])) {
                const OpRule *r = op_rule(s->g->nodes.v[i]->op);
                calls |= r->calls | (r->calls_of ? r->calls_of(s->g->nodes.v[i]) : 0);
            }
    }
    return calls;
}

/* Training code in f32 with BLAS lets the program replace sgemm (<name>_set_gemm: the trainers' --precision bf16
 * passes libdlrt's bf16 product); gemm() then calls the hook first. The hook is a static of the translation unit,
 * not a field of the state block: a state filled by <name>_load alone (never <name>_init) holds no pointer to
 * trust, and an application that never calls <name>_set_gemm gets sgemm as before, bit for bit. */
bool emit_has_gemm_hook(Compiled *c, const EmitOptions *o) {
    return !o->f64 && !o->infer && !o->portable && (emit_calls(c) & CALLS_GEMM);
}

/* <name>_set_conv, in the same code: an implicit product (libdlrt's dlrt_conv_f32) for the convolutions that would
 * run through im2col, which takes a chunk's product or declines it (returning 0), and the code then runs im2col
 * and gemm as without it. Unset, the code is what it was without the hook, bit for bit. */
bool emit_has_conv_hook(Compiled *c, const EmitOptions *o) { return emit_has_gemm_hook(c, o) && conv_im2col(c); }

/* <name>_isa(): which compilation of the kernels that have one per instruction set runs (2 AVX-512, 1 AVX2 with
 * FMA, 0 the portable C), decided on the first call from the CPU (GCC's and Clang's __builtin_cpu_supports), or the
 * path DLRT_ISA names (avx512, avx2, portable) when the CPU has it: tests force each path with it. The answer is
 * kept in a static, read and written atomically: getenv on every kernel call would cost batch-1 inference. Other
 * compilers and CPUs get the portable C alone.
 *
 * A kernel's body is written once, <NAME>_INLINE (always inlined), and compiled per instruction set inside the
 * wrappers under <NAME>_AVX512 and <NAME>_AVX2 (emit_isa_kernel). The targets add exactly the features
 * <name>_isa() checks to the file's own: GCC inlines only a callee whose target is a subset of the caller's, with
 * the same "arch", so an "arch=x86-64-v4" wrapper could not take the body of a file built with -march=native (an
 * error under always_inline). The AVX-512 target asks GCC for 512-bit vectors, which its tuning for Intel cores
 * otherwise avoids; Clang takes no such option and uses 512 bits there. The wrappers are never inlined into the
 * function that picks one: where the file's target already has AVX-512 (-march=native), GCC would inline the
 * AVX-512 wrapper there and compile its body at the file's preferred width, 256 bits. */
static void emit_isa(Emit *e) {
    FILE *o = e->o;
    const char *N = e->NAME;
    const char *avx2 = "avx2,fma,bmi,bmi2", *avx512 = "avx512f,avx512vl,avx512bw,avx512dq,avx512cd";
    fprintf(o, "\n#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)\n#define %s_X86 1\n", N);
    fprintf(o, "#include <stdlib.h>\n");
    fprintf(o, "#define %s_INLINE __attribute__((always_inline))\n", N);
    fprintf(o, "#ifdef __clang__\n#define %s_AVX512 __attribute__((target(\"%s,%s\"), noinline))\n#else\n", N, avx2,
            avx512);
    fprintf(o, "#define %s_AVX512 __attribute__((target(\"%s,%s,prefer-vector-width=512\"), noinline))\n#endif\n", N,
            avx2, avx512);
    fprintf(o, "#define %s_AVX2 __attribute__((target(\"%s\"), noinline))\n", N, avx2);
    fprintf(o, "static int %s_isa(void) {\n", e->name);
    fprintf(o, "    static int chosen = -1; /* the same answer for the whole process, asked for once */\n");
    fprintf(o, "    int isa = __atomic_load_n(&chosen, __ATOMIC_RELAXED);\n");
    fprintf(o, "    if (isa >= 0)\n        return isa;\n");
    fprintf(o, "    __builtin_cpu_init();\n");
    fprintf(o, "    int avx2 = __builtin_cpu_supports(\"avx2\") && __builtin_cpu_supports(\"fma\") && "
               "__builtin_cpu_supports(\"bmi\") &&\n               __builtin_cpu_supports(\"bmi2\");\n");
    fprintf(o,
            "    int avx512 = avx2 && __builtin_cpu_supports(\"avx512f\") && __builtin_cpu_supports(\"avx512vl\") &&\n"
            "                 __builtin_cpu_supports(\"avx512bw\") && __builtin_cpu_supports(\"avx512dq\") &&\n"
            "                 __builtin_cpu_supports(\"avx512cd\");\n");
    fprintf(o, "    const char *want = getenv(\"DLRT_ISA\");\n");
    fprintf(o, "    isa = want && strcmp(want, \"portable\") == 0 ? 0 : want && strcmp(want, \"avx2\") == 0 ? avx2 "
               ": avx512 ? 2 : avx2;\n");
    fprintf(
        o,
        "    __atomic_store_n(&chosen, isa, __ATOMIC_RELAXED);\n    return isa;\n}\n#else\n#define %s_INLINE\n#endif\n",
        N);
}

static void emit_dropmask(Emit *e) {
    FILE *o = e->o;
    const char *R = e->real;
    fprintf(o, "\n/* Dropout: keep element i of this step's mask with probability 1 - p, scaled by 1 / (1 - p). The\n"
               " * hash is SplitMix64's output function (libdlrt's dlrt_hash32) of (seed, step, site, i), so the\n"
               " * backward pass recomputes the forward pass's mask instead of storing it. i counts from the\n"
               " * header's base example (inner elements an example), so a data-parallel rank that holds part of the\n"
               " * global batch draws the masks the whole batch would. */\n");
    fprintf(o,
            "static inline %s dropmask(const unsigned char *st, uint64_t site, uint64_t i, uint64_t inner, %s p) {\n",
            R, R);
    fprintf(o, "    const header *h = (const header *)(const void *)st;\n");
    fprintf(o, "    uint64_t counter = ((h->step * 1024u + site) << 32) ^ (h->base * inner + i);\n");
    fprintf(o, "    uint64_t z = h->seed + (counter + 1) * 0x9E3779B97F4A7C15u;\n");
    fprintf(o, "    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;\n    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;\n"
               "    z = z ^ (z >> 31);\n");
    fprintf(o, "    %s u = (%s)((uint32_t)(z >> 32) >> 8) * (%s)0x1p-24;\n", R, R, R);
    fprintf(o, "    return u >= p ? (%s)1 / ((%s)1 - p) : (%s)0;\n}\n", R, R, R);
}

/* glibc's expf is a call per element, which keeps sigmoid, softmax and cross-entropy loops scalar (a sixth of
 * LeNet's training step). expv is the same function in straight-line C that GCC vectorises: within 1.3 ulp of
 * expf (0.94 with FMA) over every 97th float from -104 to 88.7, 0 and inf beyond as expf, NaN stays NaN. */
static void emit_expv(Emit *e) {
    fprintf(
        e->o,
        "\n/* exp(x) = 2^n exp(r): n = round(x / ln 2) by the 1.5 * 2^23 rounding trick, r = x - n ln 2 in two\n"
        " * parts (|r| <= ln 2 / 2), exp(r) by its degree-7 Taylor polynomial; 2^n as two factors, so that\n"
        " * subnormal results and n = 128 (overflow to inf) come out right. Within 1.3 ulp of expf. */\n"
        "static inline float expv(float x) {\n"
        "    float xc = x > 88.8f ? 88.8f : x < -104.0f ? -104.0f : x;\n"
        "    float t = xc * 1.44269504f + 12582912.0f;\n"
        "    float k = t - 12582912.0f;\n"
        "    float r = (xc - k * 0.693145752f) - k * 1.42860677e-6f;\n"
        "    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f + r * (0.00833333377f +\n"
        "              r * (0.00138888892f + r * 0.000198412701f))))));\n"
        "    uint32_t bits;\n"
        "    memcpy(&bits, &t, sizeof bits);\n"
        "    int32_t n = (int32_t)(bits - 0x4B400000u), n1 = n / 2, n2 = n - n1;\n"
        "    uint32_t b1 = (uint32_t)(n1 + 127) << 23, b2 = (uint32_t)(n2 + 127) << 23;\n"
        "    float s1, s2;\n"
        "    memcpy(&s1, &b1, sizeof s1);\n"
        "    memcpy(&s2, &b2, sizeof s2);\n"
        "    return p * s1 * s2;\n"
        "}\n");
}

/* sigmoid in f32: 1 / (1 + e^-x) with e^-x as expv computes it, but for |x| <= 87 (beyond, the result is 1, or
 * below 1.2e-38, within 1.2e-38 of 0), so 2^n is one factor; and the reciprocal by Newton's iteration from the
 * exponent-bits estimate (3 steps: 12% error, then 1.4%, 2e-4, 4e-8), so no division, which GCC otherwise splits
 * in two at the clamp and which holds the AVX-512 loop to the divider's pace; 1 from x = 17.5, where sigmoid
 * rounds to 1 (the Newton steps end an ulp short without FMA). Within 4 ulp of the sigmoid in double where that is
 * above 1e-30 (3.2 with FMA), 2e-7 absolute everywhere (test_embed); NaN stays NaN. A third faster than
 * 1 / (1 + expv(-x)) in 512-bit vectors (LeNet's 4,704 values). Training code and its evaluation use this one:
 * its bits are the golden files' and test_parity's. */
static void emit_sigmoidv_train(Emit *e) {
    fprintf(e->o,
            "static inline float sigmoidv(float x) {\n"
            "    float z = x < -87.0f ? 87.0f : x > 87.0f ? -87.0f : -x;\n"
            "    float t = z * 1.44269504f + 12582912.0f;\n"
            "    float k = t - 12582912.0f;\n"
            "    float r = (z - k * 0.693145752f) - k * 1.42860677e-6f;\n"
            "    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f + r * (0.00833333377f "
            "+\n"
            "              r * (0.00138888892f + r * 0.000198412701f))))));\n"
            "    uint32_t bits;\n"
            "    memcpy(&bits, &t, sizeof bits);\n"
            "    uint32_t sb = (bits - 0x4B400000u + 127u) << 23;\n"
            "    float s;\n"
            "    memcpy(&s, &sb, sizeof s);\n"
            "    float d = 1.0f + p * s;\n"
            "    uint32_t db;\n"
            "    memcpy(&db, &d, sizeof db);\n"
            "    uint32_t qb = 0x7EF311C3u - db;\n"
            "    float q;\n"
            "    memcpy(&q, &qb, sizeof q);\n"
            "    q = q * (2.0f - d * q);\n"
            "    q = q * (2.0f - d * q);\n"
            "    q = q * (2.0f - d * q);\n"
            "    return x > 17.5f ? 1.0f : q;\n"
            "}\n");
}

/* sigmoid in --infer code, whose bits no training run shares: the same method in 24 vector instructions instead of
 * 27 (GCC, AVX-512; 35 inside LeNet's convolution tile), 8% faster alone. The clamp of -x to [-87, 87] is integer
 * arithmetic on the bits (|x| by an unsigned minimum, then the sign of -x): a float comparison there makes GCC compute
 * sigmoid(+-87) as a constant and run the rest under masks. 2^n is the bits of t shifted, t's rounding constant holding
 * the exponent bias; exp(r) a degree-6 polynomial (minimax on |r| <= ln 2 / 2, relative error 4.3e-9, instead of the
 * degree-7 Taylor one); NaN made NaN in the reciprocal's first estimate; and no final select at x = 17.5: the Newton
 * steps in the form q + q (1 - d q) end at 1 where sigmoid rounds to 1. Within 3 ulp of the sigmoid in double over
 * every float in (-120, 120) (2.48 with FMA, 2.82 without), 1.2e-7 absolute, same special values (test_embed). */
static void emit_sigmoidv_infer(Emit *e) {
    fprintf(e->o, "static inline float sigmoidv(float x) {\n"
                  "    uint32_t xb;\n"
                  "    memcpy(&xb, &x, sizeof xb);\n"
                  "    uint32_t ab = xb & 0x7FFFFFFFu;\n"
                  "    uint32_t zb = (ab < 0x42AE0000u ? ab : 0x42AE0000u) | (~xb & 0x80000000u);\n"
                  "    float z;\n"
                  "    memcpy(&z, &zb, sizeof z);\n"
                  "    float t = z * 1.44269504f + 12583039.0f;\n"
                  "    float k = t - 12583039.0f;\n"
                  "    float r = (z - k * 0.693145752f) - k * 1.42860677e-6f;\n"
                  "    float p = 1.0f + r * (1.0f + r * (0.499999981f + r * (0.166665061f + r * (0.0416670902f +\n"
                  "              r * (0.00837026267f + r * 0.00138934029f)))));\n"
                  "    uint32_t bits;\n"
                  "    memcpy(&bits, &t, sizeof bits);\n"
                  "    uint32_t sb = bits << 23;\n"
                  "    float s;\n"
                  "    memcpy(&s, &sb, sizeof s);\n"
                  "    float d = 1.0f + p * s;\n"
                  "    uint32_t db;\n"
                  "    memcpy(&db, &d, sizeof db);\n"
                  "    uint32_t qb = (0x7EF311C3u - db) | (ab > 0x7F800000u ? 0x7FC00000u : 0u);\n"
                  "    float q;\n"
                  "    memcpy(&q, &qb, sizeof q);\n"
                  "    q = q + q * (1.0f - d * q);\n"
                  "    q = q + q * (1.0f - d * q);\n"
                  "    return q + q * (1.0f - d * q);\n"
                  "}\n");
}

/* <NAME>_PARALLEL_FOR, before a loop that threads share under OpenMP. */
static void emit_parallel_for(Emit *e) {
    fprintf(e->o,
            "#ifdef _OPENMP\n#define %s_PARALLEL_FOR _Pragma(\"omp parallel for schedule(static)\")\n#else\n"
            "#define %s_PARALLEL_FOR\n#endif\n",
            e->NAME, e->NAME);
}

static void emit_prelude(Emit *e) {
    FILE *o = e->o;
    const char *R = e->real;
    fprintf(o, "/* %s.c: generated by dlc %s from %s.dlm. Do not edit; recompile the model instead. */\n", e->name,
            DLC_VERSION, e->name);
    fprintf(o, "#include \"%s.h\"\n\n#include <math.h>\n#include <string.h>\n", e->name);
    if (!e->opt->portable)
        fprintf(o, "#include <cblas.h>\n");
    fprintf(o, "\n");
    if (e->opt->infer && !e->opt->portable)
        /* ISO C modes (-std=c11) turn GCC's contraction of a * b + c into one FMA off; its GNU modes and Clang
         * contract. The inference code asks for it, so that its kernels run at the FMA units' rate (twice the
         * multiply-adds per cycle of a multiply and an add) and round alike whatever -std the application builds
         * with. It changes nothing where the target has no FMA (the portable path, --portable). */
        fprintf(o,
                "#if defined(__GNUC__) && !defined(__clang__)\n#pragma GCC optimize(\"fp-contract=fast\")\n#endif\n\n");
    emit_parallel_for(e);
    fprintf(o, "\n");
    fprintf(o, "/* The state block starts with this header; parameters, optimizer state and the arena follow. */\n");
    fprintf(o, "typedef struct {\n    uint64_t seed;\n    uint64_t step;\n    uint64_t base;\n%s} header;\n\n",
            emit_has_loop_limits(e->c) && !e->opt->infer
                ? "    int64_t loop_limit; /* the last call's truncated while loop (.dlm line), or 0 */\n"
                : "");
    /* only the helpers the kernels call: an unused static function is a warning under clang */
    unsigned calls = emit_calls(e->c);
    if (e->opt->infer && !e->opt->portable)
        calls |= CALLS_ISA; /* the forward pass is compiled per instruction set (emit_infer_source) */
    if (calls & CALLS_MAXR)
        fprintf(o, "static inline %s maxr(%s a, %s b) { return a > b ? a : b; }\n", R, R, R);
    if (calls & CALLS_MINR)
        fprintf(o, "static inline %s minr(%s a, %s b) { return a < b ? a : b; }\n", R, R, R);
    if (calls & CALLS_RELU)
        fprintf(o, "static inline %s relu(%s a) { return a > 0 ? a : 0; }\n", R, R);
    if (!e->f64 && (calls & CALLS_EXPV))
        emit_expv(e);
    if (!e->f64 && (calls & CALLS_SIGMOID))
        (e->opt->infer ? emit_sigmoidv_infer : emit_sigmoidv_train)(e);
    if (calls & CALLS_DROPMASK)
        emit_dropmask(e);
    if ((calls & CALLS_ISA) && !e->opt->portable)
        emit_isa(e);
    if (calls & CALLS_SUM16)
        emit_matvec_sum16(e);
    if (!(calls & CALLS_GEMM))
        return;
    if (emit_has_gemm_hook(e->c, e->opt))
        fprintf(o,
                "\n/* The product %s_set_gemm installed instead of sgemm, or NULL. */\nstatic %s_gemm_fn gemm_hook;\n",
                e->name, e->name);
    if (emit_has_conv_hook(e->c, e->opt))
        fprintf(o,
                "\n/* The implicit convolution product %s_set_conv installed, asked before im2col, or NULL. */\n"
                "static %s_conv_fn conv_hook;\n",
                e->name, e->name);
    fprintf(o, "\n/* C[m x n] = op(A) op(B), row-major; op transposes when ta / tb. */\n");
    fprintf(o,
            "static void gemm(int ta, int tb, int m, int n, int k, const %s *a, int lda, const %s *b, int ldb, %s *c,"
            " int ldc, int accumulate) {\n",
            R, R, R);
    if (emit_has_gemm_hook(e->c, e->opt))
        fprintf(o, "    if (gemm_hook) {\n        gemm_hook(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate);\n"
                   "        return;\n    }\n");
    if (!e->opt->portable) {
        /* one row (batch-1 inference): a matrix-vector product, which packs nothing */
        fprintf(
            o,
            "    if (m == 1) {\n"
            "        cblas_%sgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? n : k, tb ? k : n, 1, b, ldb, a,"
            " ta ? lda : 1, accumulate ? 1 : 0, c, 1);\n"
            "        return;\n    }\n",
            e->f64 ? "d" : "s");
        fprintf(o,
                "    cblas_%sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,"
                " k, 1, a, lda, b, ldb, accumulate ? 1 : 0, c, ldc);\n}\n",
                e->f64 ? "d" : "s");
    } else {
        /* B stored transposed (a linear layer's [out, in] weight): rows of A and B are both contiguous, a dot
         * product with eight independent partial sums that vectorises */
        fprintf(o,
                "    if (tb && !ta) {\n"
                "        for (int i = 0; i < m; i++)\n"
                "            for (int j = 0; j < n; j++) {\n"
                "                const %s *x = a + i * lda, *y = b + j * ldb;\n"
                "                %s part[8] = {0, 0, 0, 0, 0, 0, 0, 0}, sum = 0;\n"
                "                int p = 0;\n"
                "                for (; p + 8 <= k; p += 8)\n"
                "                    for (int u = 0; u < 8; u++)\n"
                "                        part[u] += x[p + u] * y[p + u];\n"
                "                for (; p < k; p++)\n                    sum += x[p] * y[p];\n"
                "                for (int u = 0; u < 8; u++)\n                    sum += part[u];\n"
                "                c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;\n"
                "            }\n"
                "        return;\n    }\n",
                R, R);
        fprintf(o,
                "    for (int i = 0; i < m; i++) {\n        for (int j = 0; j < n && !accumulate; j++)\n            "
                "c[i * ldc + j] = 0;\n"
                "        for (int p = 0; p < k; p++) {\n"
                "            %s av = ta ? a[p * lda + i] : a[i * lda + p];\n"
                "            for (int j = 0; j < n; j++)\n"
                "                c[i * ldc + j] += av * (tb ? b[j * ldb + p] : b[p * ldb + j]);\n"
                "        }\n    }\n}\n",
                R);
    }
}

/* The kernels' own functions, then the helper functions of the ops some kernels of which have none. */
static void emit_kernel_helpers(Emit *e) {
    bool used[OP_COUNT] = {0};
    for (int f = 0; f < FN_COUNT; f++) {
        Sched *s = &e->c->fn[f];
        for (int i = 0; i < s->kernels.n; i++) {
            IrNode *k = computed_by(s, s->kernels.v[i]);
            if (!own_fn(e, k) && !quant_of(e->c, k))
                used[k->op] = true;
        }
    }
    Sched *was = e->s;
    for (int f = 0; f < FN_COUNT; f++)
        for (int i = 0; i < e->c->fn[f].kernels.n; i++) {
            e->s = &e->c->fn[f]; /* the kernel's epilogue is its schedule's */
            IrNode *k = computed_by(e->s, e->s->kernels.v[i]);
            if (!first_own_fn(e, f, i))
                continue;
            op_rule(k->op)->emit_own_fn(e, k, emit_own_fn_name(e, k));
        }
    e->s = was;
    /* ops of a family share their helpers: each function once */
    void (*done[OP_COUNT])(Emit *, const bool *);
    int ndone = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        void (*h)(Emit *, const bool *) = op_rule((Op)op)->helpers;
        bool seen = false;
        for (int k = 0; k < ndone; k++)
            seen |= done[k] == h;
        if (!used[op] || !h || seen)
            continue;
        done[ndone++] = h;
        h(e, used);
    }
}

static void emit_consts(Emit *e) {
    Vec(IrNode *) seen = {0};
    for (int f = 0; f < FN_COUNT; f++) {
        Sched *s = &e->c->fn[f];
        if (!s->g)
            continue;
        for (int i = 0; i < s->g->nodes.n; i++) {
            IrNode *n = s->g->nodes.v[i];
            if (!s->live[i] || !n->data || n->shape.rank == 0 || quant_weight_dead(e->c, n))
                continue;
            /* one definition per name: the graphs share a name only for equal constants */
            bool dup = false;
            for (int k = 0; k < seen.n; k++)
                dup |= strcmp(emit_const_name(e, seen.v[k]), emit_const_name(e, n)) == 0;
            if (dup)
                continue;
            vec_push(e->ctx, &seen, n);
        }
    }
    for (int k = 0; k < seen.n; k++) {
        IrNode *n = seen.v[k];
        int64_t cnt = shape_numel(&n->shape);
        fprintf(e->o, "static const %s %s[%" PRId64 "] = {", e->real, emit_const_name(e, n), cnt);
        for (int64_t i = 0; i < cnt; i++)
            fprintf(e->o, "%s%s", i % 8 ? ", " : (i ? ",\n    " : "\n    "), emit_lit(e, n->data[i]));
        fprintf(e->o, "\n};\n");
    }
}

/* ---- gradients reported as backward finishes them (<name>_set_grad_ready) ---- */

/* f32 training code whose gradients lie in the arena tells a hook when each gradient is final, so that a
 * data-parallel trainer can start summing it across ranks while backward goes on (docs/trainer.md). The hook is
 * process-wide, a static pointer of the generated code rather than a field of the state: a state that <name>_load
 * alone filled must never hold a pointer. It is NULL by default, which costs one test per gradient. */
bool emit_has_grad_ready(const Compiled *c, const EmitOptions *o) {
    return !o->f64 && !o->infer && c->train->train.present && c->loss_train && c->fn[FN_TRAIN].pinned_all;
}

/* Per parameter, the training kernel after which its gradient is final: the last that writes or reads its buffer
 * (a trainer may scale the buffer in place or hand it to MPI, so no kernel may touch it afterwards), or -1 for a
 * parameter that reports nothing (frozen, or sharing an earlier parameter's gradient through hash-consing). */
static const int *grad_final_kernels(Emit *e) {
    Compiled *c = e->c;
    Sched *s = &c->fn[FN_TRAIN];
    int np = c->train->params.n;
    int *last = plan_last_use(s), *at = xalloc(e->ctx, sizeof(int) * (size_t)(np > 0 ? np : 1));
    for (int i = 0; i < np; i++) {
        at[i] = -1;
        if (!c->train->params.v[i].trainable || !c->grads[i])
            continue;
        IrNode *m = ir_storage(c->grads[i]);
        bool shared = false;
        for (int j = 0; j < i && !shared; j++)
            shared = at[j] >= 0 && ir_storage(c->grads[j]) == m;
        if (!shared && s->offset[m->id] >= 0)
            at[i] = last[m->id];
    }
    return at;
}

/* The hook's calls for the gradients final after a kernel in lo..hi. */
static void emit_grad_ready(Emit *e, int lo, int hi) {
    Compiled *c = e->c;
    for (int i = 0; i < c->train->params.n; i++) {
        if (e->grad_final[i] < lo || e->grad_final[i] > hi)
            continue;
        IrNode *m = ir_storage(c->grads[i]);
        fprintf(e->o, "    if (grad_ready) /* %s */\n", c->train->params.v[i].name);
        fprintf(e->o, "        grad_ready(grad_ready_arg, state, %" PRId64 ", %" PRId64 ");\n",
                c->arena_off + c->fn[FN_TRAIN].offset[m->id], shape_numel(&m->shape) * c->elem_size);
    }
}

static void emit_schedule(Emit *e, Sched *s, int from, int to) {
    e->s = s;
    for (int k = from; k < to; k++) {
        IrNode *n = s->kernels.v[k];
        if (e->grad_final && k == s->train_split) /* gradients the forward pass finished */
            emit_grad_ready(e, 0, k - 1);
        IrNode *by = s->producer[n->id];
        Epilogue ep;
        if (by && epilogue_in(e, s, by, &ep)) /* an epilogue: its kernel's ops in turn */
            fprintf(e->o, "    /* %s + %s%s%s", op_info[by->op].name, op_info[ep.elem->op].name, ep.pool ? " + " : "",
                    ep.pool ? op_info[ep.pool->op].name : "");
        else
            fprintf(e->o, "    /* %s", op_info[n->op].name);
        fprintf(e->o, " -> %s", type_str(e->ctx, n->dtype, &n->shape));
        if (n->loc.src)
            fprintf(e->o, ", %s.dlm line %d", e->name, n->loc.line);
        fprintf(e->o, " */\n    {\n");
        quant_emit_observe(e, n);
        emit_kernel(e, n);
        fprintf(e->o, "    }\n");
        if (e->grad_final)
            emit_grad_ready(e, k, k);
    }
}

static void unused_inputs(Emit *e, Sched *s, int from, int to, bool all) {
    /* inputs the emitted kernels never read are cast to void, keeping -Wunused-parameter quiet */
    Graph *g = s->g;
    for (int i = 0; i < g->inputs.n; i++) {
        if (!all && !emit_uses_input(s, i))
            continue;
        IrNode *in = g->inputs.v[i].node;
        bool used = false;
        for (int k = from; k < to && !used; k++) {
            IrNode *n = s->kernels.v[k];
            /* walk the fused tree */
            IrNode *stack[256];
            int sp = 0;
            stack[sp++] = n;
            while (sp && !used) {
                IrNode *m = stack[--sp];
                for (int j = 0; j < m->nin; j++) {
                    IrNode *x = ir_storage(m->in[j]);
                    if (x == in)
                        used = true;
                    else if (s->inl[x->id] && sp < 256)
                        stack[sp++] = x;
                }
            }
        }
        if (!used)
            fprintf(e->o, "    (void)%s;\n", emit_input_name(e->ctx, g->inputs.v[i].name));
    }
}

/* Without a batched input nothing is batched, and n (always 1) appears in no loop. */
static bool has_batched_input(const Graph *g) {
    for (int i = 0; i < g->inputs.n; i++)
        if (g->inputs.v[i].shape.batched)
            return true;
    return false;
}

static void emit_fn_open(Emit *e, Sched *s, bool uses_batch) {
    fprintf(e->o, "    unsigned char *st = (unsigned char *)state;\n");
    fprintf(e->o, "    unsigned char *ar = st + %" PRId64 ";\n", e->c->arena_off);
    fprintf(e->o, "    (void)ar;\n");
    if (!uses_batch || !has_batched_input(s->g))
        fprintf(e->o, "    (void)n;\n");
}

static int metric_count(Compiled *c) { return c->train->train.metrics.n; }

bool emit_has_loop_limits(const Compiled *c) {
    return c->eval->loop_limits.n > 0 || (c->loss_train && !c->infer_only && c->train->loop_limits.n > 0);
}

/* After a function's kernels: the first bounded while loop of g (in source order) whose condition still held
 * after its last iteration, as its .dlm line in the header's loop_limit (0: none), or (infer: nothing may be
 * written to the weights) as the function's status. */
static void emit_loop_limits(Emit *e, Sched *s, Graph *g) {
    if (!emit_has_loop_limits(e->c))
        return;
    e->s = s;
    if (!e->opt->infer)
        fprintf(e->o, "    ((header *)state)->loop_limit = 0;\n");
    for (int i = 0; i < g->loop_limits.n; i++) {
        LoopLimit *l = &g->loop_limits.v[i];
        fprintf(e->o, "    %sif (%s[0] != 0) /* while ... max %" PRId64 ", %s.dlm line %d */\n", i ? "else " : "",
                emit_ptr(e, l->flag), l->bound, e->name, l->loc.line);
        if (e->opt->infer)
            fprintf(e->o, "        return %s_LOOP_LIMIT;\n", e->NAME);
        else
            fprintf(e->o, "        ((header *)state)->loop_limit = %d;\n", l->loc.line);
    }
}

/* The forward pass's statements, from the weights and scratch pointers to the status returned. */
static void emit_forward_statements(Emit *e, Sched *fw, Graph *g) {
    fprintf(e->o, "    unsigned char *st = (unsigned char *)(uintptr_t)weights; /* read, never written */\n"
                  "    unsigned char *ar = (unsigned char *)scratch;\n    (void)ar;\n    (void)st;\n");
    unused_inputs(e, fw, 0, fw->kernels.n, false);
    emit_schedule(e, fw, 0, fw->kernels.n);
    emit_loop_limits(e, fw, g);
    fprintf(e->o, "    return 0;\n");
}

static void emit_metrics_out(Emit *e, Sched *s, IrNode **metric, int nm) {
    if (!nm) {
        fprintf(e->o, "    (void)metrics;\n");
        return;
    }
    fprintf(e->o, "    if (metrics) {\n");
    for (int i = 0; i < nm; i++)
        fprintf(e->o, "        metrics[%d] = (double)%s[0];\n", i, (e->s = s, emit_ptr(e, metric[i])));
    fprintf(e->o, "    }\n");
}

static void emit_step(Emit *e) {
    Compiled *c = e->c;
    Graph *g = c->train;
    TrainSpec *t = &g->train;
    FILE *o = e->o;
    Sched *s = &c->fn[FN_TRAIN];
    e->s = s;
    fprintf(o, "\nvoid %s_step(void *state, %s lr) {\n", e->name, e->real);
    fprintf(o,
            "    unsigned char *st = (unsigned char *)state;\n    unsigned char *ar = st + %" PRId64
            ";\n    (void)ar;\n",
            c->arena_off);
    fprintf(o, "    header *h = (header *)state;\n    h->step++;\n");
    if (t->optim == OPTIM_ADAM) {
        fprintf(o, "    double t = (double)h->step;\n");
        fprintf(o, "    %s bc1 = (%s)(1.0 - pow(%.17g, t)), bc2 = (%s)(1.0 - pow(%.17g, t));\n", e->real, e->real,
                t->beta1, e->real, t->beta2);
    }
    bool any = false;
    for (int i = 0; i < g->params.n; i++) {
        Param *p = &g->params.v[i];
        if (!p->trainable || !c->grads[i])
            continue;
        any = true;
        int64_t cnt = shape_numel(&p->shape);
        bool decay = t->weight_decay != 0 && glob_match(t->decay_glob, p->name);
        bool l1 = t->l1 != 0 && glob_match(t->l1_glob, p->name);
        fprintf(o, "    /* %s */\n    {\n", p->name);
        fprintf(o, "        %s *p = (%s *)(st + %" PRId64 ");\n", e->real, e->real, c->param_off[i]);
        fprintf(o, "        const %s *g = %s;\n", e->real, emit_ptr(e, c->grads[i]));
        if (c->opt_off[i] >= 0)
            fprintf(o, "        %s *m = (%s *)(st + %" PRId64 ");\n", e->real, e->real, c->opt_off[i]);
        if (t->optim == OPTIM_ADAM)
            fprintf(o, "        %s *v = m + %" PRId64 ";\n", e->real, cnt);
        if (cnt >= 4096)
            fprintf(o, "        %s_PARALLEL_FOR\n", e->NAME);
        fprintf(o, "        for (int64_t i = 0; i < %" PRId64 "; i++) {\n", cnt);
        fprintf(o, "            %s gi = g[i]%s;\n", e->real,
                decay ? xsprintf(e->ctx, " + %s * p[i]", emit_lit(e, t->weight_decay)) : "");
        if (t->optim == OPTIM_ADAM) {
            fprintf(o, "            m[i] = %s * m[i] + %s * gi;\n", emit_lit(e, t->beta1), emit_lit(e, 1 - t->beta1));
            fprintf(o, "            v[i] = %s * v[i] + %s * gi * gi;\n", emit_lit(e, t->beta2),
                    emit_lit(e, 1 - t->beta2));
            fprintf(o, "            p[i] -= lr * (m[i] / bc1) / (%s(v[i] / bc2) + %s);\n", emit_libm(e, "sqrt"),
                    emit_lit(e, t->eps));
        } else if (t->momentum != 0) {
            fprintf(o, "            m[i] = %s * m[i] + gi;\n            p[i] -= lr * m[i];\n",
                    emit_lit(e, t->momentum));
        } else {
            fprintf(o, "            p[i] -= lr * gi;\n");
        }
        if (l1) {
            fprintf(o, "            %s thr = lr * %s;\n", e->real, emit_lit(e, t->l1));
            fprintf(o, "            p[i] = p[i] > thr ? p[i] - thr : p[i] < -thr ? p[i] + thr : 0;\n");
        }
        fprintf(o, "        }\n    }\n");
    }
    if (!any)
        fprintf(o, "    (void)lr;\n");
    /* the states' new values, computed by the forward pass, replace the old ones once nothing reads them */
    for (int i = 0; i < c->nupdates; i++) {
        Param *p = &g->params.v[g->updates.v[i].param];
        fprintf(o, "    /* %s := */\n", p->name);
        fprintf(o, "    memcpy(st + %" PRId64 ", %s, (size_t)%" PRId64 ");\n", c->param_off[g->updates.v[i].param],
                emit_ptr(e, c->updates[i]), shape_numel(&p->shape) * c->elem_size);
    }
    fprintf(o, "}\n");
}

/* Kernels from..to of the training schedule as phases of a data-parallel step, each ending after a sum over the
 * batch that the runtime completes (c->sync_after); a mean over the batch divides by the global batch's m. */
static void emit_phase_bodies(Emit *e, int from, int to, const int *after, int nafter, bool forward) {
    Compiled *c = e->c;
    Sched *s = &c->fn[FN_TRAIN];
    int start = from;
    e->count = "m";
    for (int p = 0; p <= nafter; p++) {
        int end = p < nafter ? after[p] + 1 : to;
        fprintf(e->o, "    if (phase == %d) {\n", p);
        emit_schedule(e, s, start, end);
        if (p < nafter) {
            fprintf(e->o, "        return 0;\n    }\n");
        } else if (forward) {
            emit_loop_limits(e, s, c->train);
            e->s = s;
            emit_metrics_out(e, s, c->metric_train.v, metric_count(c));
            fprintf(e->o, "        return %s[0];\n    }\n", emit_ptr(e, c->loss_train));
        } else {
            fprintf(e->o, "        return 0;\n    }\n");
        }
        start = end;
    }
    e->count = NULL;
}

static void emit_phases(Emit *e) {
    Compiled *c = e->c;
    FILE *o = e->o;
    Sched *s = &c->fn[FN_TRAIN];
    e->s = s;
    fprintf(o, "\n%s %s_forward_train_phase(void *state, int phase, int n, int m", e->real, e->name);
    emit_input_params(e, s, true);
    fprintf(o, ", double *metrics) {\n");
    fprintf(o, "    if (n < 1 || n > m || m > %s_MAX_BATCH)\n        return NAN;\n", e->NAME);
    emit_fn_open(e, s, true);
    unused_inputs(e, s, 0, s->train_split, true);
    emit_phase_bodies(e, 0, s->train_split, c->sync_after, c->nsyncs_fwd, true);
    fprintf(o, "    (void)metrics;\n    return NAN;\n}\n");
    fprintf(o, "\nint %s_backward_phase(void *state, int phase, int n, int m", e->name);
    emit_input_params(e, s, true);
    fprintf(o, ") {\n");
    fprintf(o, "    if (n < 1 || n > m || m > %s_MAX_BATCH)\n        return %s_BAD_BATCH;\n", e->NAME, e->NAME);
    emit_fn_open(e, s, true);
    unused_inputs(e, s, s->train_split, s->kernels.n, true);
    emit_phase_bodies(e, s->train_split, s->kernels.n, c->sync_after + c->nsyncs_fwd, c->nsyncs - c->nsyncs_fwd, false);
    fprintf(o, "    return %s_BAD_BATCH;\n}\n", e->NAME);
}

static void emit_train_fns(Emit *e) {
    Compiled *c = e->c;
    FILE *o = e->o;
    Sched *s = &c->fn[FN_TRAIN];
    int nm = metric_count(c);
    /* forward_train */
    e->s = s;
    fprintf(o, "\n%s %s_forward_train(void *state, int n", e->real, e->name);
    emit_input_params(e, s, true);
    fprintf(o, ", double *metrics) {\n");
    emit_batch_guard(e, "NAN");
    emit_fn_open(e, s, true);
    unused_inputs(e, s, 0, s->train_split, true);
    emit_schedule(e, s, 0, s->train_split);
    emit_loop_limits(e, s, c->train);
    e->s = s;
    emit_metrics_out(e, s, c->metric_train.v, nm);
    fprintf(o, "    return %s[0];\n}\n", emit_ptr(e, c->loss_train));
    /* backward */
    if (emit_has_grad_ready(c, e->opt)) {
        fprintf(o, "\n/* The hook that %s_set_grad_ready sets, process-wide. */\n", e->name);
        fprintf(o, "static %s_grad_ready_fn grad_ready;\nstatic void *grad_ready_arg;\n", e->name);
        fprintf(o, "\nvoid %s_set_grad_ready(%s_grad_ready_fn fn, void *arg) {\n", e->name, e->name);
        fprintf(o, "    grad_ready = fn;\n    grad_ready_arg = arg;\n}\n");
        e->grad_final = grad_final_kernels(e);
    }
    fprintf(o, "\nint %s_backward(void *state, int n", e->name);
    emit_input_params(e, s, true);
    fprintf(o, ") {\n");
    emit_batch_guard(e, xsprintf(e->ctx, "%s_BAD_BATCH", e->NAME));
    emit_fn_open(e, s, true);
    unused_inputs(e, s, s->train_split, s->kernels.n, true);
    emit_schedule(e, s, s->train_split, s->kernels.n);
    fprintf(o, "    return 0;\n}\n");
    if (e->opt->mpi && c->nsyncs > 0)
        emit_phases(e);
    e->grad_final = NULL;
    emit_step(e);
    /* train_step */
    Graph *g = s->g;
    fprintf(o, "\n%s %s_train_step(void *state, int n", e->real, e->name);
    emit_input_params(e, s, true);
    fprintf(o, ", %s lr, double *metrics) {\n", e->real);
    emit_batch_guard(e, "NAN");
    char args[1024] = "";
    for (int i = 0; i < g->inputs.n; i++)
        snprintf(args + strlen(args), sizeof args - strlen(args), ", %s", emit_input_name(e->ctx, g->inputs.v[i].name));
    fprintf(o, "    %s loss = %s_forward_train(state, n%s, metrics);\n", e->real, e->name, args);
    fprintf(o, "    %s_backward(state, n%s);\n", e->name, args);
    fprintf(o, "    %s_step(state, lr);\n    return loss;\n}\n", e->name);
    /* evaluate */
    Sched *ev = &c->fn[FN_EVALUATE];
    e->s = ev;
    fprintf(o, "\n%s %s_evaluate(void *state, int n", e->real, e->name);
    emit_input_params(e, ev, true);
    fprintf(o, ", double *metrics) {\n");
    emit_batch_guard(e, "NAN");
    emit_fn_open(e, ev, true);
    unused_inputs(e, ev, 0, ev->kernels.n, true);
    emit_schedule(e, ev, 0, ev->kernels.n);
    emit_loop_limits(e, ev, c->eval);
    e->s = ev;
    emit_metrics_out(e, ev, c->metric_eval.v, nm);
    fprintf(o, "    return %s[0];\n}\n", emit_ptr(e, c->loss_eval));
    /* grad accessor */
    e->s = s;
    fprintf(o, "\n%s *%s_grad(void *state, const char *name) {\n", e->real, e->name);
    fprintf(o, "    unsigned char *ar = (unsigned char *)state + %" PRId64 ";\n", c->arena_off);
    for (int i = 0; i < c->train->params.n; i++) {
        if (!c->grads[i])
            continue;
        IrNode *gn = ir_storage(c->grads[i]);
        if (s->offset[gn->id] < 0)
            continue;
        fprintf(o, "    if (strcmp(name, \"%s\") == 0)\n        return (%s *)(void *)(ar + %" PRId64 ");\n",
                c->train->params.v[i].name, e->real, s->offset[gn->id]);
    }
    fprintf(o, "    (void)ar;\n    (void)name;\n    return NULL;\n}\n");
}

static void emit_infer_source(Emit *e);

void emit_source(FILE *out, Compiled *c, const EmitOptions *opt) {
    Emit e = {.ctx = c->ctx, .o = out, .c = c, .opt = opt, .name = c->train->name, .f64 = opt->f64};
    e.NAME = emit_upper(c->ctx, e.name);
    e.real = xsprintf(c->ctx, "%s_real", e.name);
    if (opt->infer) {
        emit_infer_source(&e);
        return;
    }
    Graph *g = c->train;
    emit_prelude(&e);
    emit_kernel_helpers(&e);
    fprintf(out, "\n");
    emit_consts(&e);
    /* the parameter table */
    fprintf(out, "\nconst %s_param_info %s_params[%s_PARAM_COUNT > 0 ? %s_PARAM_COUNT : 1] = {\n", e.name, e.name,
            e.NAME, e.NAME);
    for (int i = 0; i < g->params.n; i++) {
        Param *p = &g->params.v[i];
        fprintf(out, "    {\"%s\", %d, {", p->name, p->shape.rank);
        for (int d = 0; d < p->shape.rank; d++)
            fprintf(out, "%s%" PRId64, d ? ", " : "", p->shape.d[d]);
        if (!p->shape.rank)
            fprintf(out, "0"); /* a scalar (num_batches_tracked): ISO C has no empty initialiser */
        int64_t o2 = c->opt_off[i] >= 0 && g->train.optim == OPTIM_ADAM
                         ? c->opt_off[i] + shape_numel(&p->shape) * c->elem_size
                         : -1;
        fprintf(out, "}, %" PRId64 ", %d, {%" PRId64 ", %" PRId64 "}},\n", c->param_off[i], p->trainable, c->opt_off[i],
                o2);
    }
    if (!g->params.n)
        fprintf(out, "    {\"\", 0, {0}, 0, 0, {-1, -1}},\n");
    fprintf(out, "};\n");
    emit_init(&e);
    /* forward */
    Sched *fw = &c->fn[FN_FORWARD];
    e.s = fw;
    fprintf(out, "\nint %s_forward(void *state, int n", e.name);
    emit_input_params(&e, fw, false);
    fprintf(out, ") {\n");
    emit_batch_guard(&e, xsprintf(e.ctx, "%s_BAD_BATCH", e.NAME));
    emit_fn_open(&e, fw, true);
    unused_inputs(&e, fw, 0, fw->kernels.n, false);
    emit_schedule(&e, fw, 0, fw->kernels.n);
    emit_loop_limits(&e, fw, c->eval);
    fprintf(out, "    return %s;\n}\n",
            emit_has_loop_limits(c) ? xsprintf(c->ctx, "((header *)state)->loop_limit ? %s_LOOP_LIMIT : 0", e.NAME)
                                    : "0");
    for (int i = 0; i < c->eval->outputs.n; i++) {
        e.s = fw;
        IrNode *on = ir_storage(c->eval->outputs.v[i].node);
        fprintf(out, "\nconst %s *%s_output_%s(const void *state) {\n", e.real, e.name,
                emit_ident(c->ctx, c->eval->outputs.v[i].name));
        fprintf(out, "    return (const %s *)(const void *)((const unsigned char *)state + %" PRId64 ");\n}\n", e.real,
                c->arena_off + fw->offset[on->id]);
    }
    if (g->train.present && c->loss_train)
        emit_train_fns(&e);
    emit_loader(&e);
    emit_saver(&e);
    emit_metadata(&e);
    fprintf(out, "\n%s *%s_param(void *state, const char *name) {\n", e.real, e.name);
    fprintf(out, "    for (int i = 0; i < %s_PARAM_COUNT; i++)\n", e.NAME);
    fprintf(out, "        if (strcmp(%s_params[i].name, name) == 0)\n", e.name);
    fprintf(out, "            return (%s *)(void *)((unsigned char *)state + %s_params[i].offset);\n", e.real, e.name);
    fprintf(out, "    return NULL;\n}\n");
    fprintf(out, "\nuint64_t *%s_step_counter(void *state) {\n    return &((header *)state)->step;\n}\n", e.name);
    fprintf(out, "\nuint64_t *%s_example_base(void *state) {\n    return &((header *)state)->base;\n}\n", e.name);
    if (emit_has_gemm_hook(c, e.opt))
        fprintf(out, "\nvoid %s_set_gemm(%s_gemm_fn product) {\n    gemm_hook = product;\n}\n", e.name, e.name);
    if (emit_has_conv_hook(c, e.opt))
        fprintf(out, "\nvoid %s_set_conv(%s_conv_fn conv) {\n    conv_hook = conv;\n}\n", e.name, e.name);
    if (emit_has_loop_limits(c))
        fprintf(out,
                "\nint %s_loop_limit(const void *state) {\n    return (int)((const header *)state)->loop_limit;\n}\n",
                e.name);
}

/* ---- inference code (dlc compile --infer) ---- */

static void emit_infer_source(Emit *e) {
    Compiled *c = e->c;
    FILE *o = e->o;
    Graph *g = c->eval;
    Sched *fw = &c->fn[FN_FORWARD];
    e->s = fw;
    emit_prelude(e);
    emit_kernel_helpers(e);
    fprintf(o, "\n");
    emit_consts(e);
    quant_emit_tables(e);
    if (c->baked) {
        /* only the weights the forward pass reads: batch normalization's are folded into the kernels before it
         * (fold.c), and an unused static array is a warning */
        bool *used = xalloc(e->ctx, sizeof(bool) * (size_t)(c->train->params.n + 1));
        for (int i = 0; i < g->nodes.n; i++) {
            IrNode *n = g->nodes.v[i];
            if (fw->live[i] && (n->op == OP_PARAM || n->op == OP_STATE) && !quant_weight_dead(c, n))
                used[n->index] = true;
        }
        fprintf(o, "\n/* The weights, from the checkpoint given to dlc --weights. */\n");
        for (int i = 0; i < c->train->params.n; i++) {
            Param *p = &c->train->params.v[i];
            if (!used[i])
                continue;
            int64_t cnt = shape_numel(&p->shape);
            fprintf(o, "static const %s w_%s[%" PRId64 "] = {", e->real, emit_ident(e->ctx, p->name), cnt);
            for (int64_t k = 0; k < cnt; k++)
                fprintf(o, "%s%s", k % 8 ? ", " : (k ? ",\n    " : "\n    "), emit_lit(e, c->baked[i][k]));
            fprintf(o, "\n};\n");
        }
    } else {
        emit_loader(e);
    }
    /* the arguments passed on: as many as the model has inputs, so no fixed buffer */
    size_t len = 1;
    for (int i = 0; i < g->inputs.n; i++)
        if (emit_uses_input(fw, i))
            len += 2 + strlen(emit_input_name(e->ctx, g->inputs.v[i].name));
    char *args = xalloc(e->ctx, len), *end = args;
    for (int i = 0; i < g->inputs.n; i++)
        if (emit_uses_input(fw, i))
            end += sprintf(end, ", %s", emit_input_name(e->ctx, g->inputs.v[i].name));
    /* the weights (the block's first <NAME>_WEIGHTS_BYTES) are only read, so threads may share them */
    const char *call = xsprintf(e->ctx, "weights, scratch, n%s", args);
    const char *params = xsprintf(e->ctx, "const void *weights, void *scratch, int n%s", input_params(e, fw, false));
    if (!e->opt->portable) {
        /* The whole pass compiled per instruction set from one body, as the kernels with their own functions are
         * (emit_isa_kernel): bias and activation, pooling vectorise to the instruction set's width. The body's
         * own loops run on the calling thread (<NAME>_PARALLEL_FOR is empty around it): OpenMP would outline a
         * parallel loop of it into a function compiled for the file's target alone, whichever wrapper calls it.
         * The kernels with their own functions keep their parallel loops; forward_shared's callers run on threads
         * of their own. */
        fprintf(o, "\n#undef %s_PARALLEL_FOR\n#define %s_PARALLEL_FOR\n", e->NAME, e->NAME);
        fprintf(o, "%s_INLINE static inline int forward_body(%s) {\n", e->NAME, params);
        fprintf(o, "    (void)n; /* checked by forward_shared; unread when no input is batched */\n");
        emit_forward_statements(e, fw, g);
        fprintf(o, "}\n#undef %s_PARALLEL_FOR\n", e->NAME);
        emit_parallel_for(e);
        fprintf(o, "#if %s_X86\n", e->NAME);
        fprintf(o, "%s_AVX512 static int forward_avx512(%s) {\n    return forward_body(%s);\n}\n", e->NAME, params,
                call);
        fprintf(o, "%s_AVX2 static int forward_avx2(%s) {\n    return forward_body(%s);\n}\n#endif\n", e->NAME, params,
                call);
    }
    fprintf(o, "\nstatic int forward_shared(%s) {\n", params);
    emit_batch_guard(e, xsprintf(e->ctx, "%s_BAD_BATCH", e->NAME));
    if (!e->opt->portable) {
        fprintf(o, "#if %s_X86\n    switch (%s_isa()) {\n", e->NAME, e->name);
        fprintf(o, "    case 2:\n        return forward_avx512(%s);\n", call);
        fprintf(o, "    case 1:\n        return forward_avx2(%s);\n", call);
        fprintf(o, "    default:\n        break;\n    }\n#endif\n");
        fprintf(o, "    return forward_body(%s);\n", call);
    } else {
        emit_forward_statements(e, fw, g);
    }
    fprintf(o, "}\n");
    fprintf(o, "\nint %s_forward(void *ctx, int n", e->name);
    emit_input_params(e, fw, false);
    fprintf(o, ") {\n    return forward_shared(ctx, (unsigned char *)ctx + %s_WEIGHTS_BYTES, n%s);\n}\n", e->NAME,
            args);
    for (int i = 0; i < g->outputs.n; i++) {
        IrNode *on = ir_storage(g->outputs.v[i].node);
        fprintf(o, "\nconst %s *%s_output_%s(const void *ctx) {\n", e->real, e->name,
                emit_ident(e->ctx, g->outputs.v[i].name));
        fprintf(o, "    return (const %s *)(const void *)((const unsigned char *)ctx + %" PRId64 ");\n}\n", e->real,
                c->arena_off + fw->offset[on->id]);
    }
    Output *out = c->eval->outputs.n ? &c->eval->outputs.v[0] : NULL;
    if (out) {
        fprintf(o, "\nint %s_predict_batch(void *ctx, int n", e->name);
        emit_input_params(e, fw, false);
        fprintf(o, ", %s *out) {\n", e->real);
        /* a truncated loop's status comes after the outputs it truncated */
        const char *status = emit_has_loop_limits(c) ? "status" : "0";
        fprintf(o, "    int status = %s_forward(ctx, n%s);\n    if (status == %s_BAD_BATCH)\n        return status;\n",
                e->name, args, e->NAME);
        fprintf(o, "    memcpy(out, %s_output_%s(ctx), sizeof(%s) * (size_t)n * %" PRId64 ");\n    return %s;\n}\n",
                e->name, emit_ident(e->ctx, out->name), e->real, shape_inner(&out->node->shape), status);
        fprintf(o, "\nint %s_predict_shared(const void *weights, void *scratch, int n", e->name);
        emit_input_params(e, fw, false);
        fprintf(o, ", %s *out) {\n", e->real);
        fprintf(o,
                "    int status = forward_shared(weights, scratch, n%s);\n    if (status == %s_BAD_BATCH)\n"
                "        return status;\n",
                args, e->NAME);
        fprintf(
            o, "    memcpy(out, (const unsigned char *)scratch + %" PRId64 ", sizeof(%s) * (size_t)n * %" PRId64 ");\n",
            fw->offset[ir_storage(out->node)->id], e->real, shape_inner(&out->node->shape));
        fprintf(o, "    return %s;\n}\n", status);
        fprintf(o, "\nvoid %s_predict(void *ctx", e->name);
        emit_input_params(e, fw, false);
        fprintf(o, ", %s *out) {\n    (void)%s_predict_batch(ctx, 1%s, out); /* 1 is always a valid batch */\n}\n",
                e->real, e->name, args);
    }
    emit_metadata(e);
}
