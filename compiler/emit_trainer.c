/* emit_trainer.c: <name>_train.c, what `dlc build` links with the model's C and libdlrt to make its trainer. The
 * trainer program itself is libdlrt's dlrt_train_main (runtime/train.c); this file writes only what depends on
 * the model: a DlrtModel descriptor (sizes, the generated functions, the train section's values: defaults, data
 * settings, plot scale, the FLOPs that set OpenBLAS's threads, which extra flags the model can serve), the data
 * arrays a tensors(...) section embeds, and a main() that hands the descriptor to the runtime. */
#include <inttypes.h>

#include "dlc.h"

/* A float literal that C accepts: "2.0f", not "2f". */
static char *flit(Ctx *ctx, double v) {
    char buf[48];
    snprintf(buf, sizeof buf, "%.9g", v);
    if (!strpbrk(buf, ".eEn"))
        strcat(buf, ".0");
    return xsprintf(ctx, "%sf", buf);
}

static const char *data_str(TrainSpec *t, const char *key, const char *dflt) {
    const DataValue *v = train_data_setting(t, key);
    return v && v->kind == DV_STR ? v->str : dflt;
}

static double data_num(TrainSpec *t, const char *key, double dflt) {
    const DataValue *v = train_data_setting(t, key);
    return v && v->kind == DV_NUM ? v->num : dflt;
}

/* A list setting as a C initialiser; returns its length. */
static int data_list(Ctx *ctx, TrainSpec *t, const char *key, char *buf, size_t cap, bool strings) {
    const DataValue *v = train_data_setting(t, key);
    int n = v && v->kind == DV_LIST ? v->nitems : 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        const DataValue *it = &v->items[i];
        size_t len = strlen(buf);
        if (strings)
            snprintf(buf + len, cap - len, "%s\"%s\"", i ? ", " : "", it->kind == DV_STR ? it->str : "");
        else
            snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", flit(ctx, it->kind == DV_NUM ? it->num : 0));
    }
    return n;
}

/* A C identifier from a model name ("conv.out" -> "conv_out"), as the model header spells output accessors. */
static char *ident(Ctx *ctx, const char *s) {
    char *u = xstrdup(ctx, s);
    for (char *p = u; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            *p = '_';
    return u;
}

/* The eval graph's output that holds a classifier's logits: the output the accuracy metric reads, or else the
 * only batched output of `classes` values. -1 if there is none. */
static int logits_output(Compiled *c, int acc_metric, int64_t classes) {
    Graph *g = c->train;
    if (acc_metric < 0 || c->eval->outputs.n != g->outputs.n)
        return -1;
    for (int i = 0; i < g->outputs.n; i++)
        if (g->outputs.v[i].node == g->train.metrics.v[acc_metric].pred)
            return i;
    int found = -1;
    for (int i = 0; i < c->eval->outputs.n; i++) {
        IrNode *n = c->eval->outputs.v[i].node;
        if (n->shape.batched && shape_inner(&n->shape) == classes) {
            if (found >= 0)
                return -1;
            found = i;
        }
    }
    return found;
}

/* True when <name>_forward takes the input named x and no other, so pictures and predictions need only images. */
static bool forward_takes_only(Compiled *c, const char *x) {
    Sched *fw = &c->fn[FN_FORWARD];
    if (!fw->live)
        return false;
    bool has_x = false;
    for (int i = 0; i < fw->g->inputs.n; i++) {
        Input *in = &fw->g->inputs.v[i];
        if (!fw->live[in->node->id])
            continue;
        if (strcmp(in->name, x) != 0)
            return false;
        has_x = true;
    }
    return has_x;
}

/* The FLOPs of the training step's largest BLAS call (a matrix product, or one image's product of an im2col
 * convolution), at the full batch: the runtime gives OpenBLAS one thread when this is small. */
static double largest_blas_call(Compiled *c) {
    Sched *s = &c->fn[FN_TRAIN];
    double most = 0;
    for (int i = 0; i < s->kernels.n; i++) {
        double flops = op_blas_flops(s->kernels.v[i]);
        if (flops > most)
            most = flops;
    }
    return most;
}

/* The train section's data as a DlrtDataSpec initialiser; the arrays it points to are written to o first. */
static char *data_spec(FILE *o, Compiled *c, int64_t xsize, int64_t ysize) {
    Ctx *ctx = c->ctx;
    TrainSpec *t = &c->train->train;
    char list[4096];
    switch (t->data) {
    case DATA_FASHION_MNIST:
        if (t->resize != 28)
            return xsprintf(ctx, "{.kind = DLRT_DATA_FASHION_MNIST, .resize = %" PRId64 "}", t->resize);
        return xsprintf(ctx, "{.kind = DLRT_DATA_FASHION_MNIST}");
    case DATA_SYNTH_LINEAR: {
        int nw = data_list(ctx, t, "w", list, sizeof list, false);
        fprintf(o, "static const float w_true[%d] = {%s};\n\n", nw > 0 ? nw : 1, nw ? list : "0");
        return xsprintf(ctx,
                        "{.kind = DLRT_DATA_SYNTH_LINEAR,\n"
                        "             .linear = {.w = w_true, .d = %d, .b = %s, .noise = %s, .n = %" PRId64 "}}",
                        nw, flit(ctx, data_num(t, "b", 0)), flit(ctx, data_num(t, "noise", 0.01)),
                        (int64_t)data_num(t, "n", 1000));
    }
    case DATA_POLYNOMIAL: {
        int nc = data_list(ctx, t, "coeffs", list, sizeof list, false);
        fprintf(o, "static const float coeffs[%d] = {%s};\n\n", nc > 0 ? nc : 1, nc ? list : "0");
        return xsprintf(ctx,
                        "{.kind = DLRT_DATA_POLYNOMIAL,\n"
                        "             .polynomial = {.degree = %d, .coeffs = coeffs, .n_coeffs = %d, .noise = %s, "
                        ".n_train = %" PRId64 ", .n_test = %" PRId64 "}}",
                        (int)data_num(t, "degree", 20), nc, flit(ctx, data_num(t, "noise", 0.1)),
                        (int64_t)data_num(t, "n_train", 100), (int64_t)data_num(t, "n_test", 100));
    }
    case DATA_HIGH_DIM:
        return xsprintf(ctx,
                        "{.kind = DLRT_DATA_HIGH_DIM,\n"
                        "             .high_dim = {.noise = %s, .n_train = %" PRId64 ", .n_test = %" PRId64 "}}",
                        flit(ctx, data_num(t, "noise", 0.01)), (int64_t)data_num(t, "n_train", 20),
                        (int64_t)data_num(t, "n_test", 100));
    case DATA_CSV: {
        int nd = data_list(ctx, t, "drop", list, sizeof list, true);
        fprintf(o, "static const char *const drop[%d] = {%s};\n\n", nd > 0 ? nd : 1, nd ? list : "\"\"");
        return xsprintf(ctx,
                        "{.kind = DLRT_DATA_CSV,\n"
                        "             .csv = {.train = \"%s\", .test = \"%s\", .target = \"%s\", .drop = drop, "
                        ".n_drop = %d}}",
                        data_str(t, "train", "train.csv"), data_str(t, "test", "test.csv"),
                        data_str(t, "target", "target"), nd);
    }
    case DATA_TENSORS:
        fprintf(o, "/* The model's data, given in %s.dlm. */\n", c->train->name);
        fprintf(o, "static const float data_x[%" PRId64 "] = {", t->tensor_n * xsize);
        for (int64_t i = 0; i < t->tensor_n * xsize; i++)
            fprintf(o, "%s%s", i ? ", " : "", flit(ctx, t->tensor_x[i]));
        fprintf(o, "};\nstatic const float data_y[%" PRId64 "] = {", t->tensor_n * ysize);
        for (int64_t i = 0; i < t->tensor_n * ysize; i++)
            fprintf(o, "%s%s", i ? ", " : "", flit(ctx, t->tensor_y[i]));
        fprintf(o, "};\n\n");
        return xsprintf(ctx, "{.kind = DLRT_DATA_TENSORS, .tensors = {.x = data_x, .y = data_y, .n = %" PRId64 "}}",
                        t->tensor_n);
    case DATA_NONE:
        break;
    }
    return xsprintf(ctx, "{.kind = DLRT_DATA_NONE}");
}

void emit_trainer(FILE *o, Compiled *c, const EmitOptions *opt) {
    Graph *g = c->train;
    TrainSpec *t = &g->train;
    const char *name = g->name;
    char *NAME = xstrdup(c->ctx, name);
    for (char *p = NAME; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    Input *X = &g->inputs.v[t->data_x], *Y = &g->inputs.v[t->data_y];
    bool classify = Y->dtype == DT_I32;
    int acc_metric = -1, rmse_metric = -1;
    for (int i = 0; i < t->metrics.n; i++) {
        if (t->metrics.v[i].kind == METRIC_ACCURACY && acc_metric < 0)
            acc_metric = i;
        if (t->metrics.v[i].kind == METRIC_LOG_RMSE && rmse_metric < 0)
            rmse_metric = i;
    }
    int64_t xsize = shape_inner(&X->shape), ysize = shape_inner(&Y->shape);
    /* Pictures and --predict serve image classifiers: Fashion-MNIST's ten classes, logits in an output, and a
     * forward pass that needs nothing but the image. */
    int out_i = -1;
    if (t->data == DATA_FASHION_MNIST && classify && forward_takes_only(c, X->name))
        out_i = logits_output(c, acc_metric, 10);
    bool images = out_i >= 0 && shape_inner(&c->eval->outputs.v[out_i].node->shape) == 10;
    /* --kfold and --submission serve CSV regression models with a log_rmse metric (D2L's house prices); the
     * submission reads the output that metric scores, one value per example. */
    bool csv = t->data == DATA_CSV;
    bool kfold = csv && rmse_metric >= 0;
    int sub_i = -1;
    if (csv && rmse_metric >= 0 && ysize == 1 && forward_takes_only(c, X->name))
        sub_i = logits_output(c, rmse_metric, 1);
    bool submission = sub_i >= 0 && shape_inner(&c->eval->outputs.v[sub_i].node->shape) == 1;
    /* <name>_forward's signature is (state, n, x) only when it takes x alone: the descriptor names it then */
    int reads = images ? out_i : submission ? sub_i : -1;

    fprintf(o,
            "/* %s_train.c: generated by dlc %s from %s.dlm: the trainer. Do not edit.\n"
            " * The program is libdlrt's dlrt_train_main (runtime/train.c); this is its description of the model. */\n",
            name, DLC_VERSION, name);
    fprintf(o, "#include \"dlrt.h\"\n%s#include \"%s.h\"\n\n", opt->mpi ? "#include \"dlrt_mpi.h\"\n" : "", name);
    char *data = data_spec(o, c, xsize, ysize);
    fprintf(o, "/* Parameter i of %s_params, as the runtime describes parameters. */\n", name);
    fprintf(o, "static DlrtParam param(int i) {\n");
    fprintf(o, "    const %s_param_info *p = &%s_params[i];\n", name, name);
    fprintf(o, "    return (DlrtParam){p->name, p->rank, p->dims, p->offset, {p->opt_offset[0], p->opt_offset[1]}};\n");
    fprintf(o, "}\n\n");

    if (opt->mpi && c->nsyncs > 0)
        fprintf(o,
                "/* The sums over the batch that the phases of a step stop after (%s.h). */\n"
                "static const DlrtSync syncs[] = %s_SYNCS;\n"
                "static const DlrtSync global_grads[] = %s_GLOBAL_GRADS;\n\n",
                name, NAME, NAME);
    fprintf(o, "static const DlrtModel %s_model = {\n", name);
    fprintf(o, "    .name = \"%s\",\n    .dlc_version = \"%s\",\n", name, DLC_VERSION);
    fprintf(o, "    .x_size = %" PRId64 ",\n    .y_size = %" PRId64 ",\n    .x_name = \"%s\",\n", xsize, ysize,
            X->name);
    fprintf(o, "    .n_metrics = %d,\n    .accuracy_metric = %d,\n    .log_rmse_metric = %d,\n", t->metrics.n,
            acc_metric, rmse_metric);
    fprintf(o, "    .max_batch = %s_MAX_BATCH,\n    .state_bytes = %s_STATE_BYTES,\n", NAME, NAME);
    fprintf(o, "    .n_params = %s_PARAM_COUNT,\n    .param = param,\n", NAME);
    fprintf(o, "    .optim_names = %s,\n",
            t->optim == OPTIM_ADAM ? "{\"adam_m\", \"adam_v\"}" : "{\"momentum\", NULL}");
    fprintf(o, "    .init = %s_init,\n", name);
    const char *set = classify ? "labels" : "targets"; /* the type of y: int32 labels or float targets */
    bool phases = opt->mpi && c->nsyncs > 0;
    fprintf(o, "    .%s = {.forward_train = %s_forward_train,\n", set, name);
    fprintf(o, "%*s.backward = %s_backward,\n%*s.evaluate = %s_evaluate%s\n", (int)strlen(set) + 9, "", name,
            (int)strlen(set) + 9, "", name, phases ? "," : "},");
    if (phases)
        fprintf(o, "%*s.forward_phase = %s_forward_train_phase,\n%*s.backward_phase = %s_backward_phase},\n",
                (int)strlen(set) + 9, "", name, (int)strlen(set) + 9, "", name);
    fprintf(o, "    .step = %s_step,\n    .step_counter = %s_step_counter,\n", name, name);
    fprintf(o, "    .example_base = %s_example_base,\n", name);
    fprintf(o, "    .grad_offset = %s_GRAD_OFFSET,\n    .grad_bytes = %s_GRAD_BYTES,\n", NAME, NAME);
    if (phases)
        fprintf(o,
                "    .phases = {%s_FORWARD_PHASES, %s_BACKWARD_PHASES},\n    .syncs = syncs,\n"
                "    .n_global_grads = %s_GLOBAL_GRAD_COUNT,\n    .global_grads = global_grads,\n",
                NAME, NAME, NAME);
    if (reads >= 0)
        fprintf(o, "    .forward = %s_forward,\n    .output = %s_output_%s,\n", name, name,
                ident(c->ctx, c->eval->outputs.v[reads].name));
    fprintf(o, "    .epochs = %" PRId64 ",\n    .batch = %" PRId64 ",\n    .lr = %.17g,\n    .seed = %" PRId64 ",\n",
            t->epochs, t->batch, t->lr, t->seed);
    const Schedule *sc = &t->schedule;
    if (sc->kind != SCHED_NONE)
        fprintf(o,
                "    .schedule = {.kind = %s, .step_size = %" PRId64 ", .gamma = %.17g, .t_max = %" PRId64
                ",\n                 .eta_min = %.17g, .warmup = %" PRId64 ", .start_factor = %.17g},\n",
                sc->kind == SCHED_STEP ? "DLRT_SCHEDULE_STEP" : "DLRT_SCHEDULE_COSINE", sc->step_size, sc->gamma,
                sc->t_max, sc->eta_min, sc->warmup, sc->start_factor);
    fprintf(o, "    .data = %s,\n", data);
    fprintf(o, "    .plot_log = %d,\n", t->plot_log);
    fprintf(o, "    .images = %d,\n    .kfold = %d,\n    .submission = %d,\n", images, kfold, submission);
    fprintf(o, "    .blas_flops = %.0f,\n", largest_blas_call(c));
    fprintf(o, "    .isa = DLRT_COMPILED_ISA,\n");
    if (emit_has_grad_ready(c, opt))
        fprintf(o, "    .set_grad_ready = %s_set_grad_ready,\n", name);
    if (emit_has_loop_limits(c))
        fprintf(o, "    .loop_limit = %s_loop_limit,\n", name);
    if (emit_has_gemm_hook(c, opt))
        fprintf(o, "    .set_gemm = %s_set_gemm,\n", name);
    if (emit_has_conv_hook(c, opt))
        fprintf(o, "    .set_conv = %s_set_conv,\n", name);
    fprintf(o, "};\n\n");
    if (opt->mpi)
        fprintf(o, "int main(int argc, char **argv) { return dlrt_mpi_train_main(&%s_model, argc, argv); }\n", name);
    else
        fprintf(o, "int main(int argc, char **argv) { return dlrt_train_main(&%s_model, argc, argv); }\n", name);
}
