/* check.c: the `dlc check` report: every layer's output shape, every parameter, totals, FLOPs and (from the
 * planner) memory and fusion figures. Numbers are counted from the graphs that are emitted, backward included.
 * check_print writes it as text, check_print_json as one JSON object (`dlc check --json`); both take their
 * numbers from check_totals, so they cannot disagree. */
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

/* The figures both reports derive: parameter totals and FLOPs per example. */
typedef struct {
    int64_t total, trainable;
    double forward_flops, step_flops; /* per example; step_flops < 0 when there is no training step */
    const char *optimizer;            /* the update the step counts: "Adam" or "SGD" */
} Totals;

static Totals check_totals(Compiled *c) {
    Graph *g = c->train;
    Totals t = {.step_flops = -1};
    for (int i = 0; i < g->params.n; i++) {
        int64_t n = shape_numel(&g->params.v[i].shape);
        t.total += n;
        if (g->params.v[i].trainable)
            t.trainable += n;
    }
    double per = (double)g->max_batch;
    Sched *fw = &c->fn[FN_FORWARD];
    t.forward_flops = graph_flops(c->eval, fw->roots.v, fw->roots.n) / per;
    TrainSpec *ts = &g->train;
    t.optimizer = ts->optim == OPTIM_ADAM ? "Adam" : "SGD";
    if (ts->present && c->loss_train) {
        Sched *s = &c->fn[FN_TRAIN];
        double update = (double)t.trainable * (ts->optim == OPTIM_ADAM ? 10 : ts->momentum != 0 ? 4 : 2);
        t.step_flops = (graph_flops(g, s->roots.v, s->roots.n) + update) / per;
    }
    return t;
}

static const char *const fn_names[FN_COUNT] = {"forward", "evaluate", "train step"};
static const char *const data_names[] = {"none",     "fashion_mnist", "synthetic_linear", "polynomial",
                                         "high_dim", "csv",           "tensors"};

void check_print(FILE *out, Compiled *c) {
    Ctx *ctx = c->ctx;
    Graph *g = c->train;
    Totals tot = check_totals(c);
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
    if (g->params.n) {
        fprintf(out, "\nparameters\n");
        for (int i = 0; i < g->params.n; i++) {
            Param *p = &g->params.v[i];
            int64_t n = shape_numel(&p->shape);
            fprintf(out, "  %-28s %-20s %12s%s\n", p->name, shape_str(ctx, &p->shape), group(ctx, n),
                    p->trainable ? ""
                    : p->state   ? "  (state)"
                                 : "  (constant)");
        }
    }
    fprintf(out, "\ntotal: %s parameters (%s trainable), %s bytes of f32\n", group(ctx, tot.total),
            group(ctx, tot.trainable), group(ctx, tot.total * 4));
    fprintf(out, "\noutputs\n");
    for (int i = 0; i < c->eval->outputs.n; i++)
        fprintf(out, "  %-28s %s\n", c->eval->outputs.v[i].name,
                type_str(ctx, c->eval->outputs.v[i].node->dtype, &c->eval->outputs.v[i].node->shape));

    /* FLOPs: the forward pass to the outputs, and a training step from the real backward graph */
    fprintf(out, "\nFLOPs per example\n  forward:       %s\n", human_flops(ctx, tot.forward_flops));
    TrainSpec *t = &g->train;
    if (tot.step_flops >= 0)
        fprintf(out, "  training step: %s (forward, loss, backward and %s update)\n", human_flops(ctx, tot.step_flops),
                tot.optimizer);
    fprintf(out, "\nmemory (bytes)\n");
    fprintf(out, "  state block:   %s (parameters %s, optimizer %s, arena %s)\n", group(ctx, c->state_bytes),
            group(ctx, c->params_end - 64), group(ctx, c->opt_end - c->params_end),
            group(ctx, c->state_bytes - c->arena_off));
    for (int f = 0; f < FN_COUNT; f++) {
        Sched *s = &c->fn[f];
        if (!s->g)
            continue;
        fprintf(out, "  %-14s arena %s with buffer reuse, %s without; %d loops before fusion, %d after\n",
                xsprintf(ctx, "%s:", fn_names[f]), group(ctx, s->arena_bytes), group(ctx, s->arena_bytes_noreuse),
                s->loops_unfused, s->loops_fused);
    }
    RecomputeStats *r = &c->recompute;
    if (c->fn[FN_TRAIN].g) {
        fprintf(out,
                "  activations:   %s of the train step's arena without --recompute: forward outputs kept for "
                "backward\n",
                group(ctx, r->saved_before));
        if (r->tried)
            fprintf(out,
                    "  --recompute:   train step arena %s (%s less), activations %s; %d of %d element-wise values "
                    "computed again in backward\n",
                    group(ctx, r->arena_after), group(ctx, r->arena_before - r->arena_after),
                    group(ctx, r->saved_after), r->values, r->candidates);
    }
    if (t->present && c->loss_train) {
        fprintf(out, "\ntraining\n  %s, lr %g", t->optim == OPTIM_ADAM ? "adam" : "sgd", t->lr);
        if (t->momentum != 0)
            fprintf(out, ", momentum %g", t->momentum);
        if (t->weight_decay != 0)
            fprintf(out, ", weight decay %g on \"%s\"", t->weight_decay, t->decay_glob);
        fprintf(out, "; batch %lld, %lld epochs, seed %lld; data %s\n", (long long)t->batch, (long long)t->epochs,
                (long long)t->seed, data_names[t->data]);
    }
}

/* ---- the same report as JSON ---- */

static void json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

/* {"name": ..., "dtype": "f32", "shape": [256, 784], "batched": true}: shape[0] is the maximum batch when batched */
static void json_tensor(FILE *out, const char *name, const char *kind, DType dt, const Shape *sh) {
    fprintf(out, "{\"name\": ");
    json_string(out, name);
    if (kind) {
        fprintf(out, ", \"kind\": ");
        json_string(out, kind);
    }
    fprintf(out, ", \"dtype\": \"%s\", \"shape\": [", dt == DT_F32 ? "f32" : "i32");
    for (int d = 0; d < sh->rank; d++)
        fprintf(out, "%s%lld", d ? ", " : "", (long long)sh->d[d]);
    fprintf(out, "], \"batched\": %s}", sh->batched ? "true" : "false");
}

/* A number JSON can hold: finite, integral values without an exponent. */
static void json_number(FILE *out, double v) {
    if (v == (double)(int64_t)v && v > -9e15 && v < 9e15)
        fprintf(out, "%lld", (long long)v);
    else
        fprintf(out, "%.17g", v);
}

void check_print_json(FILE *out, Compiled *c, const CheckSizes *sizes) {
    Graph *g = c->train;
    Totals tot = check_totals(c);
    fprintf(out, "{\n  \"model\": ");
    json_string(out, g->name);
    fprintf(out, ",\n  \"max_batch\": %lld,\n  \"inputs\": [", (long long)g->max_batch);
    for (int i = 0; i < g->inputs.n; i++) {
        fprintf(out, "%s\n    ", i ? "," : "");
        json_tensor(out, g->inputs.v[i].name, NULL, g->inputs.v[i].dtype, &g->inputs.v[i].shape);
    }
    fprintf(out, "\n  ],\n  \"layers\": [");
    for (int i = 0; i < g->layers.n; i++) {
        LayerTrace *l = &g->layers.v[i];
        fprintf(out, "%s\n    ", i ? "," : "");
        json_tensor(out, l->name, l->kind, l->dtype, &l->shape);
    }
    fprintf(out, "%s],\n  \"parameters\": [", g->layers.n ? "\n  " : "");
    for (int i = 0; i < g->params.n; i++) {
        Param *p = &g->params.v[i];
        fprintf(out, "%s\n    {\"name\": ", i ? "," : "");
        json_string(out, p->name);
        fprintf(out, ", \"shape\": [");
        for (int d = 0; d < p->shape.rank; d++)
            fprintf(out, "%s%lld", d ? ", " : "", (long long)p->shape.d[d]);
        fprintf(out, "], \"count\": %lld, \"trainable\": %s}", (long long)shape_numel(&p->shape),
                p->trainable ? "true" : "false");
    }
    fprintf(out, "%s],\n  \"total_parameters\": %lld,\n  \"trainable_parameters\": %lld,\n  \"outputs\": [",
            g->params.n ? "\n  " : "", (long long)tot.total, (long long)tot.trainable);
    for (int i = 0; i < c->eval->outputs.n; i++) {
        Output *o = &c->eval->outputs.v[i];
        fprintf(out, "%s\n    ", i ? "," : "");
        json_tensor(out, o->name, NULL, o->node->dtype, &o->node->shape);
    }
    fprintf(out, "\n  ],\n  \"flops_per_example\": {\"forward\": ");
    json_number(out, tot.forward_flops);
    if (tot.step_flops >= 0) {
        fprintf(out, ", \"training_step\": ");
        json_number(out, tot.step_flops);
    }
    fprintf(out,
            "},\n  \"memory\": {\"state_bytes\": %lld, \"parameter_bytes\": %lld, \"optimizer_bytes\": %lld, "
            "\"arena_bytes\": %lld, \"functions\": {",
            (long long)c->state_bytes, (long long)(c->params_end - 64), (long long)(c->opt_end - c->params_end),
            (long long)(c->state_bytes - c->arena_off));
    bool first = true;
    for (int f = 0; f < FN_COUNT; f++) {
        Sched *s = &c->fn[f];
        if (!s->g)
            continue;
        fprintf(out,
                "%s\n    \"%s\": {\"arena_bytes\": %lld, \"arena_bytes_without_reuse\": %lld, "
                "\"loops_before_fusion\": %d, \"loops_after_fusion\": %d",
                first ? "" : ",", fn_names[f], (long long)s->arena_bytes, (long long)s->arena_bytes_noreuse,
                s->loops_unfused, s->loops_fused);
        fprintf(out, "}");
        first = false;
    }
    fprintf(out, "\n  }");
    RecomputeStats *r = &c->recompute;
    if (c->fn[FN_TRAIN].g) {
        fprintf(out, ", \"activation_bytes\": %lld", (long long)r->saved_before);
        if (r->tried)
            fprintf(out,
                    ", \"recompute\": {\"train_step_arena_bytes\": %lld, \"activation_bytes\": %lld, \"values\": %d, "
                    "\"candidates\": %d}",
                    (long long)r->arena_after, (long long)r->saved_after, r->values, r->candidates);
    }
    fprintf(out, "}");
    TrainSpec *t = &g->train;
    if (t->present && c->loss_train) {
        fprintf(out, ",\n  \"training\": {\"optimizer\": \"%s\", \"lr\": ", t->optim == OPTIM_ADAM ? "adam" : "sgd");
        json_number(out, t->lr);
        fprintf(out, ", \"momentum\": ");
        json_number(out, t->momentum);
        fprintf(out, ", \"weight_decay\": ");
        json_number(out, t->weight_decay);
        fprintf(out, ", \"batch\": %lld, \"epochs\": %lld, \"seed\": %lld, \"data\": \"%s\"}", (long long)t->batch,
                (long long)t->epochs, (long long)t->seed, data_names[t->data]);
    }
    if (sizes) {
        fprintf(out, ",\n  \"embedding\": {\"portable\": %s, \"weights_compiled_in\": %s, \"workspace_bytes\": %lld",
                sizes->portable ? "true" : "false", c->baked ? "true" : "false", (long long)c->state_bytes);
        if (sizes->measured)
            fprintf(out, ", \"code_bytes\": %llu, \"constant_bytes\": %llu, \"mutable_bytes\": %llu",
                    (unsigned long long)sizes->code, (unsigned long long)sizes->constant,
                    (unsigned long long)sizes->mutable_data);
        fprintf(out, "}");
    }
    fprintf(out, "\n}\n");
}
