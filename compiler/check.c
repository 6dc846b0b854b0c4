/* check.c: the `dlc check` report: every layer's output shape, every parameter, totals, FLOPs and (from the
 * planner) memory and fusion figures. Numbers are counted from the graphs that are emitted, backward included. */
#include "dlc.h"

void ir_mark_live(Graph *g, IrNode **roots, int nroots, bool *live) {
    for (int i = 0; i < nroots; i++)
        if (roots[i])
            live[roots[i]->id] = true;
    for (int id = g->nodes.n - 1; id >= 0; id--)
        if (live[id])
            for (int k = 0; k < g->nodes.v[id]->nin; k++)
                live[g->nodes.v[id]->in[k]->id] = true;
}

/* Floating-point operations of one node at the maximum batch: a multiply-add counts 2. */
static char *group(Ctx *ctx, int64_t v) {
    char raw[32], out[48];
    snprintf(raw, sizeof raw, "%lld", (long long)(v < 0 ? -v : v));
    int len = (int)strlen(raw), k = 0;
    if (v < 0)
        out[k++] = '-';
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            out[k++] = ',';
        out[k++] = raw[i];
    }
    out[k] = '\0';
    return xstrdup(ctx, out);
}

static char *human_flops(Ctx *ctx, double f) {
    if (f >= 1e9)
        return xsprintf(ctx, "%.3f GFLOP", f / 1e9);
    if (f >= 1e6)
        return xsprintf(ctx, "%.3f MFLOP", f / 1e6);
    if (f >= 1e3)
        return xsprintf(ctx, "%.3f kFLOP", f / 1e3);
    return xsprintf(ctx, "%.0f FLOP", f);
}

static double graph_flops(Graph *g, IrNode **roots, int nroots) {
    bool *live = calloc((size_t)g->nodes.n, 1);
    ir_mark_live(g, roots, nroots, live);
    double total = 0;
    for (int i = 0; i < g->nodes.n; i++)
        if (live[i])
            total += op_flops(g->nodes.v[i]);
    free(live);
    return total;
}

void check_print(FILE *out, Compiled *c) {
    Ctx *ctx = c->ctx;
    Graph *g = c->train;
    fprintf(out, "model %s: batch up to %lld\n\n", g->name, (long long)g->max_batch);
    fprintf(out, "inputs\n");
    for (int i = 0; i < g->inputs.n; i++)
        fprintf(out, "  %-28s %s\n", g->inputs.v[i].name, type_str(ctx, g->inputs.v[i].dtype, &g->inputs.v[i].shape));
    if (g->layers.n) {
        fprintf(out, "\nlayers (output shapes)\n");
        for (int i = 0; i < g->layers.n; i++) {
            LayerTrace *l = &g->layers.v[i];
            fprintf(out, "  %-28s %-16s %s\n", l->name, l->kind, type_str(ctx, l->dtype, &l->shape));
        }
    }
    int64_t total = 0, trainable = 0;
    if (g->params.n) {
        fprintf(out, "\nparameters\n");
        for (int i = 0; i < g->params.n; i++) {
            Param *p = &g->params.v[i];
            int64_t n = shape_numel(&p->shape);
            total += n;
            if (p->trainable)
                trainable += n;
            fprintf(out, "  %-28s %-20s %12s%s\n", p->name, shape_str(ctx, &p->shape), group(ctx, n),
                    p->trainable ? ""
                    : p->state   ? "  (state)"
                                 : "  (constant)");
        }
    }
    fprintf(out, "\ntotal: %s parameters (%s trainable), %s bytes of f32\n", group(ctx, total), group(ctx, trainable),
            group(ctx, total * 4));
    fprintf(out, "\noutputs\n");
    for (int i = 0; i < c->eval->outputs.n; i++)
        fprintf(out, "  %-28s %s\n", c->eval->outputs.v[i].name,
                type_str(ctx, c->eval->outputs.v[i].node->dtype, &c->eval->outputs.v[i].node->shape));

    /* FLOPs: the forward pass to the outputs, and a training step from the real backward graph */
    double per = (double)g->max_batch;
    Sched *fw = &c->fn[FN_FORWARD];
    double fwd = graph_flops(c->eval, fw->roots.v, fw->roots.n);
    fprintf(out, "\nFLOPs per example\n  forward:       %s\n", human_flops(ctx, fwd / per));
    TrainSpec *t = &g->train;
    if (t->present && c->loss_train) {
        Sched *s = &c->fn[FN_TRAIN];
        double step = graph_flops(g, s->roots.v, s->roots.n);
        double update = (double)trainable * (t->optim == OPTIM_ADAM ? 10 : t->momentum != 0 ? 4 : 2);
        fprintf(out, "  training step: %s (forward, loss, backward and %s update)\n",
                human_flops(ctx, (step + update) / per), t->optim == OPTIM_ADAM ? "Adam" : "SGD");
    }
    fprintf(out, "\nmemory (bytes)\n");
    fprintf(out, "  state block:   %s (parameters %s, optimizer %s, arena %s)\n", group(ctx, c->state_bytes),
            group(ctx, c->params_end - 64), group(ctx, c->opt_end - c->params_end),
            group(ctx, c->state_bytes - c->arena_off));
    static const char *const fn_names[FN_COUNT] = {"forward", "evaluate", "train step"};
    for (int f = 0; f < FN_COUNT; f++) {
        Sched *s = &c->fn[f];
        if (!s->g)
            continue;
        fprintf(out, "  %-14s arena %s with buffer reuse, %s without; %d loops before fusion, %d after\n",
                xsprintf(ctx, "%s:", fn_names[f]), group(ctx, s->arena_bytes), group(ctx, s->arena_bytes_noreuse),
                s->loops_unfused, s->loops_fused);
    }
    if (t->present && c->loss_train) {
        static const char *const data_names[] = {"none",     "fashion_mnist", "synthetic_linear", "polynomial",
                                                 "high_dim", "csv",           "tensors"};
        fprintf(out, "\ntraining\n  %s, lr %g", t->optim == OPTIM_ADAM ? "adam" : "sgd", t->lr);
        if (t->momentum != 0)
            fprintf(out, ", momentum %g", t->momentum);
        if (t->weight_decay != 0)
            fprintf(out, ", weight decay %g on \"%s\"", t->weight_decay, t->decay_glob);
        fprintf(out, "; batch %lld, %lld epochs, seed %lld; data %s\n", (long long)t->batch, (long long)t->epochs,
                (long long)t->seed, data_names[t->data]);
    }
}
