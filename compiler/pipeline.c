/* pipeline.c: the compiler's middle end, in order: metrics and gradients built into the graphs, one schedule
 * per exported function (liveness, fusion), the memory plan of each, and the state block's layout.
 *
 *   elaborate (train, eval) -> ad_grad -> sched_build -> plan_memory -> layout -> emit
 */
#include "dlc.h"

/* A root must live in the arena: leaves (an input, a parameter, a constant) get a copy. Views are fine: they
 * read their storage's buffer. */
static IrNode *materialised(Graph *g, IrNode *n) {
    if (op_info[ir_storage(n)->op].cls == OPC_LEAF)
        return ir_node(g, OP_COPY, n->dtype, n->shape, 1, &n, NULL, n->loc);
    return n;
}

/* Each metric as a scalar sum over the batch, built in g. */
static void metric_sums(Graph *g, void *out_vec) {
    Vec(IrNode *) *out = out_vec;
    for (int i = 0; i < g->train.metrics.n; i++) {
        Metric *m = &g->train.metrics.v[i];
        IrNode *v;
        if (m->kind == METRIC_ACCURACY) {
            v = b_reduce(g, OP_SUM, m->pred, 1, false, m->pred->loc);
        } else {
            /* log_rmse: squared log errors, predictions clamped at 1 as the book does */
            Loc l = m->pred->loc;
            IrNode *p = b_binary(g, OP_MAXIMUM, m->pred, ir_const_scalar(g, 1, l), l);
            IrNode *d = b_binary(g, OP_SUB, b_unary(g, OP_LOG, p, l), b_unary(g, OP_LOG, m->target, l), l);
            IrNode *sq = b_binary(g, OP_MUL, d, d, l);
            v = b_reduce(g, OP_SUM, sq, (1u << sq->shape.rank) - 1, false, l);
        }
        vec_push(g->ctx, out, materialised(g, v));
    }
}

static int64_t align64(int64_t v) { return (v + 63) / 64 * 64; }

static void after(const char *pass, const char *dump_after, Graph *g, const Sched *s) {
#ifndef NDEBUG
    ir_verify(g, pass);
#endif
    if (dump_after && strcmp(dump_after, pass) == 0) {
        fprintf(stderr, "; %s: %s graph after %s\n", g->name, s ? "scheduled" : "the", pass);
        ir_dump(stderr, g, s);
    }
}

Compiled *compile_model(Graph *train, Graph *eval, int elem_size, bool infer_only, const char *dump_after,
                        const double **baked, bool recompute) {
    Ctx *ctx = train->ctx;
    Compiled *c = xalloc(ctx, sizeof(Compiled));
    c->ctx = ctx;
    c->train = train;
    c->eval = eval;
    c->elem_size = elem_size;
    c->infer_only = infer_only;
    c->baked = baked;
    TrainSpec *t = &train->train;
    bool trains = t->present && t->loss && !infer_only;
    /* --dump-after shows the graph the emitted functions are scheduled from: the training graph when the model
     * trains, the inference graph otherwise (--infer, or a model without a train section) */
    Graph *shown = trains ? train : eval;

    after("elab", dump_after, shown, NULL);
    /* build every node first: schedules size their side arrays by the node count */
    for (int i = 0; i < eval->outputs.n; i++)
        eval->outputs.v[i].node = materialised(eval, eval->outputs.v[i].node);
    for (int i = 0; i < eval->loop_limits.n; i++)
        eval->loop_limits.v[i].flag = materialised(eval, eval->loop_limits.v[i].flag);
    for (int i = 0; i < train->loop_limits.n && trains; i++)
        train->loop_limits.v[i].flag = materialised(train, train->loop_limits.v[i].flag);
    int np = train->params.n;
    c->grads = xalloc(ctx, sizeof(IrNode *) * (size_t)(np + 1));
    if (trains) {
        c->loss_train = materialised(train, t->loss);
        /* evaluation reports eval_loss when the model gives one (the data term without its penalties) */
        c->loss_eval = materialised(eval, eval->train.eval_loss ? eval->train.eval_loss : eval->train.loss);
        metric_sums(train, &c->metric_train);
        metric_sums(eval, &c->metric_eval);
        IrNode **wrt = xalloc(ctx, sizeof(IrNode *) * (size_t)(np + 1));
        for (int i = 0; i < np; i++)
            wrt[i] = train->params.v[i].trainable ? train->params.v[i].node : NULL;
        ad_grad(train, t->loss, wrt, np, c->grads);
        for (int i = 0; i < np; i++)
            if (c->grads[i])
                c->grads[i] = materialised(train, c->grads[i]);
        /* the states' new values: roots of the training step, copied into the state by _step */
        c->updates = xalloc(ctx, sizeof(IrNode *) * (size_t)(train->updates.n + 1));
        c->nupdates = train->updates.n;
        for (int i = 0; i < c->nupdates; i++)
            c->updates[i] = materialised(train, train->updates.v[i].value);
    }
    after("autodiff", dump_after, shown, NULL);

    /* simplify each graph over all of its roots at once, so shared subexpressions stay shared */
    Vec(IrNode *) tr_roots = {0}, ev_roots = {0};
    vec_push(ctx, &tr_roots, c->loss_train);
    for (int i = 0; i < c->metric_train.n; i++)
        vec_push(ctx, &tr_roots, c->metric_train.v[i]);
    for (int i = 0; i < np; i++)
        vec_push(ctx, &tr_roots, c->grads[i]);
    for (int i = 0; i < c->nupdates; i++)
        vec_push(ctx, &tr_roots, c->updates[i]);
    for (int i = 0; i < train->loop_limits.n && trains; i++)
        vec_push(ctx, &tr_roots, train->loop_limits.v[i].flag);
    for (int i = 0; i < eval->outputs.n; i++)
        vec_push(ctx, &ev_roots, eval->outputs.v[i].node);
    for (int i = 0; i < eval->loop_limits.n; i++)
        vec_push(ctx, &ev_roots, eval->loop_limits.v[i].flag);
    vec_push(ctx, &ev_roots, c->loss_eval);
    for (int i = 0; i < c->metric_eval.n; i++)
        vec_push(ctx, &ev_roots, c->metric_eval.v[i]);
    if (trains)
        pass_simplify(train, tr_roots.v, tr_roots.n);
    /* inference with the weights compiled in: batch normalization folds into the kernel before it (fold.c) */
    if (infer_only && baked) {
        eval->baked = baked;
        eval->baked_from = eval->nodes.n;
    }
    pass_simplify(eval, ev_roots.v, ev_roots.n);
    int k = 0;
    c->loss_train = tr_roots.v[k++];
    for (int i = 0; i < c->metric_train.n; i++)
        c->metric_train.v[i] = tr_roots.v[k++];
    for (int i = 0; i < np; i++)
        c->grads[i] = tr_roots.v[k++];
    for (int i = 0; i < c->nupdates; i++)
        c->updates[i] = materialised(train, tr_roots.v[k++]);
    for (int i = 0; i < train->loop_limits.n && trains; i++)
        train->loop_limits.v[i].flag = materialised(train, tr_roots.v[k++]);
    k = 0;
    for (int i = 0; i < eval->outputs.n; i++)
        eval->outputs.v[i].node = materialised(eval, ev_roots.v[k++]);
    for (int i = 0; i < eval->loop_limits.n; i++)
        eval->loop_limits.v[i].flag = materialised(eval, ev_roots.v[k++]);
    c->loss_eval = ev_roots.v[k++];
    for (int i = 0; i < c->metric_eval.n; i++)
        c->metric_eval.v[i] = ev_roots.v[k++];
    for (int i = 0; i < np; i++)
        if (c->grads[i])
            c->grads[i] = materialised(train, c->grads[i]);
    if (c->loss_train)
        c->loss_train = materialised(train, c->loss_train);
    if (c->loss_eval)
        c->loss_eval = materialised(eval, c->loss_eval);
    after("simplify", dump_after, shown, NULL);

    Vec(IrNode *) roots = {0};
    for (int i = 0; i < eval->outputs.n; i++)
        vec_push(ctx, &roots, eval->outputs.v[i].node);
    for (int i = 0; i < eval->loop_limits.n; i++)
        vec_push(ctx, &roots, eval->loop_limits.v[i].flag);
    sched_build(&c->fn[FN_FORWARD], eval, FN_FORWARD, roots.v, roots.n);
    if (!trains)
        after("fuse", dump_after, eval, &c->fn[FN_FORWARD]);
    plan_memory(&c->fn[FN_FORWARD], elem_size, NULL, 0);
    if (!trains)
        after("plan", dump_after, eval, &c->fn[FN_FORWARD]);
    int64_t arena = c->fn[FN_FORWARD].arena_bytes;
    if (trains) {
        Vec(IrNode *) er = {0}, tr = {0};
        vec_push(ctx, &er, c->loss_eval);
        vec_push(ctx, &tr, c->loss_train);
        for (int i = 0; i < c->metric_eval.n; i++)
            vec_push(ctx, &er, c->metric_eval.v[i]);
        for (int i = 0; i < c->metric_train.n; i++)
            vec_push(ctx, &tr, c->metric_train.v[i]);
        for (int i = 0; i < c->nupdates; i++) /* computed in the forward pass: the batch's statistics */
            vec_push(ctx, &tr, c->updates[i]);
        for (int i = 0; i < eval->loop_limits.n; i++)
            vec_push(ctx, &er, eval->loop_limits.v[i].flag);
        for (int i = 0; i < train->loop_limits.n; i++) /* the forward pass's too */
            vec_push(ctx, &tr, train->loop_limits.v[i].flag);
        for (int i = 0; i < np; i++)
            if (c->grads[i])
                vec_push(ctx, &tr, c->grads[i]);
        sched_build(&c->fn[FN_EVALUATE], eval, FN_EVALUATE, er.v, er.n);
        plan_memory(&c->fn[FN_EVALUATE], elem_size, NULL, 0);
        c->fn[FN_TRAIN].nfwd_roots = 1 + c->metric_train.n + c->nupdates + train->loop_limits.n;
        sched_build(&c->fn[FN_TRAIN], train, FN_TRAIN, tr.v, tr.n);
        after("fuse", dump_after, train, &c->fn[FN_TRAIN]);
        /* the trainable parameters' gradients, in parameter order: one region that one allreduce covers */
        Vec(IrNode *) pin = {0};
        for (int i = 0; i < np; i++)
            if (c->grads[i] && train->params.v[i].trainable)
                vec_push(ctx, &pin, c->grads[i]);
        plan_memory(&c->fn[FN_TRAIN], elem_size, pin.v, pin.n);
        c->recompute.arena_before = c->fn[FN_TRAIN].arena_bytes;
        c->recompute.saved_before = plan_saved_bytes(&c->fn[FN_TRAIN], elem_size);
        if (recompute)
            pass_recompute(c, pin.v, pin.n);
        after("plan", dump_after, train, &c->fn[FN_TRAIN]);
        for (int f = FN_EVALUATE; f <= FN_TRAIN; f++)
            if (c->fn[f].arena_bytes > arena)
                arena = c->fn[f].arena_bytes;
    }

    /* state layout: header, parameters, optimizer state, arena */
    c->param_off = xalloc(ctx, sizeof(int64_t) * (size_t)(np + 1));
    c->opt_off = xalloc(ctx, sizeof(int64_t) * (size_t)(np + 1));
    int64_t off = 64;
    for (int i = 0; i < np; i++) {
        c->param_off[i] = -1;
        if (c->baked && c->baked[i])
            continue; /* compiled in as constants */
        c->param_off[i] = off;
        off += align64(shape_numel(&train->params.v[i].shape) * elem_size);
    }
    c->params_end = off;
    int slots = !trains ? 0 : t->optim == OPTIM_ADAM ? 2 : t->momentum != 0 ? 1 : 0;
    for (int i = 0; i < np; i++) {
        c->opt_off[i] = -1;
        if (slots && train->params.v[i].trainable && c->grads[i]) {
            c->opt_off[i] = off;
            off += align64(slots * shape_numel(&train->params.v[i].shape) * elem_size);
        }
    }
    c->opt_end = off;
    c->arena_off = off;
    c->state_bytes = off + arena;
    return c;
}
