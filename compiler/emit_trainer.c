/* emit_trainer.c: the trainer program `dlc build` links: <name>_train.c, a main() that serves the compiled model
 * with libdlrt: the command line of ../shared/INTERFACE.md, the data the model's train section names, the epoch
 * loop over shuffled batches, evaluation, progress, checkpoints, metrics, plots and the JSON report. The model's
 * hyperparameters are its defaults; flags override them. */
#include <inttypes.h>

#include "dlc.h"

/* A float literal that C accepts: "2.0f", not "2f". */
static char *flit(double v) {
    char buf[48];
    snprintf(buf, sizeof buf, "%.9g", v);
    if (!strpbrk(buf, ".eEn"))
        strcat(buf, ".0");
    return xsprintf("%sf", buf);
}

static const char *data_str(TrainSpec *t, const char *key, const char *dflt) {
    for (int i = 0; i < t->data_keys.n; i++)
        if (strcmp(t->data_keys.v[i], key) == 0 && t->data_strs.v[i])
            return t->data_strs.v[i];
    return dflt;
}

static double data_num(TrainSpec *t, const char *key, double dflt) {
    for (int i = 0; i < t->data_keys.n; i++)
        if (strcmp(t->data_keys.v[i], key) == 0 && !t->data_strs.v[i])
            return t->data_vals.v[i];
    return dflt;
}

/* A list argument key[0], key[1], ... as a C initialiser; returns its length. */
static int data_list(TrainSpec *t, const char *key, char *buf, size_t cap, bool strings) {
    int n = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->data_keys.n; i++) {
        char *want = xsprintf("%s[%d]", key, n);
        if (strcmp(t->data_keys.v[i], want) != 0)
            continue;
        size_t len = strlen(buf);
        if (strings)
            snprintf(buf + len, cap - len, "%s\"%s\"", n ? ", " : "", t->data_strs.v[i] ? t->data_strs.v[i] : "");
        else
            snprintf(buf + len, cap - len, "%s%s", n ? ", " : "", flit(t->data_vals.v[i]));
        n++;
    }
    return n;
}

/* A C identifier from a model name ("conv.out" -> "conv_out"), as the model header spells output accessors. */
static char *ident(const char *s) {
    char *u = xstrdup(s);
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
        IrNode *n = s->kernels.v[i];
        double flops = 0;
        if (n->op == OP_MATMUL) {
            const Shape *a = &n->in[0]->shape;
            flops = 2.0 * (double)shape_numel(&n->shape) * (double)(n->attr[0] ? a->d[0] : a->d[1]);
        } else if ((n->op == OP_CONV2D || n->op == OP_CONV2D_DX || n->op == OP_CONV2D_DW) && !conv_direct(n)) {
            ConvGeo g = conv_geo(n);
            flops = 2.0 * (double)(g.K * g.P * g.Q * g.C * g.R * g.S);
        }
        if (flops > most)
            most = flops;
    }
    return most;
}

void emit_trainer(FILE *o, Compiled *c, const EmitOptions *opt) {
    (void)opt;
    Graph *g = c->train;
    TrainSpec *t = &g->train;
    const char *name = g->name;
    char *NAME = xstrdup(name);
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
    bool resize = t->data == DATA_FASHION_MNIST && t->resize != 28;
    int nm = t->metrics.n;
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
    const char *ytype = classify ? "int32_t" : "float";
    const char *xsrc = resize ? "raw" : "xb"; /* where batches of examples are copied */
    const char *ylab = classify ? "yb" : "NULL", *ytgt = classify ? "NULL" : "yb";

    fprintf(o, "/* %s_train.c: generated by dlc %s from %s.dlm: the trainer. Do not edit. */\n", name, DLC_VERSION,
            name);
    fprintf(o, "#define _POSIX_C_SOURCE 200809L\n#include <math.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
               "#include <string.h>\n#include <unistd.h>\n\n");
    fprintf(o, "#include \"dlrt.h\"\n#include \"%s.h\"\n\n", name);
    fprintf(o, "#define MODEL \"%s\"\n", name);
    fprintf(o, "#define X_SIZE %" PRId64 "\n#define Y_SIZE %" PRId64 "\n", xsize, ysize);
    fprintf(o, "#define METRICS %d\n", nm > 0 ? nm : 1);
    if (images)
        fprintf(o,
                "#define RAW_H 28 /* the images as the data holds them%s */\n#define RAW_W 28\n"
                "#define CLASSES 10\n#define TOP_K 3\n",
                resize ? ", before the resize to the model's input" : "");
    fprintf(o, "\n");
    if (t->data == DATA_TENSORS) {
        fprintf(o, "/* The model's data, given in %s.dlm. */\n", name);
        fprintf(o, "static float data_x[%" PRId64 "] = {", t->tensor_n * xsize);
        for (int64_t i = 0; i < t->tensor_n * xsize; i++)
            fprintf(o, "%s%s", i ? ", " : "", flit(t->tensor_x[i]));
        fprintf(o, "};\nstatic float data_y[%" PRId64 "] = {", t->tensor_n * ysize);
        for (int64_t i = 0; i < t->tensor_n * ysize; i++)
            fprintf(o, "%s%s", i ? ", " : "", flit(t->tensor_y[i]));
        fprintf(o, "};\n\n");
    }

    /* checkpoint descriptors */
    fprintf(o, "/* Parameters and optimizer state as named tensors in the state block, for checkpoints. */\n");
    fprintf(o,
            "static int describe(void *state, DlrtTensorDesc *params, DlrtTensorDesc *optim, char names[][160]) {\n");
    fprintf(o, "    int no = 0;\n");
    fprintf(o, "    for (int i = 0; i < %s_PARAM_COUNT; i++) {\n", NAME);
    fprintf(o, "        const %s_param_info *p = &%s_params[i];\n", name, name);
    fprintf(o, "        params[i] = (DlrtTensorDesc){.name = p->name, .dtype = DLRT_F32, .rank = p->rank};\n");
    fprintf(o, "        memcpy(params[i].dims, p->dims, sizeof(int64_t) * (size_t)p->rank);\n");
    fprintf(o, "        params[i].data = (unsigned char *)state + p->offset;\n");
    fprintf(o, "        for (int k = 0; k < 2; k++) {\n");
    fprintf(o, "            if (p->opt_offset[k] < 0)\n                continue;\n");
    fprintf(o, "            snprintf(names[no], 160, \"%%s#%%s\", p->name, k ? \"%s\" : \"%s\");\n",
            t->optim == OPTIM_ADAM ? "adam_v" : "?", t->optim == OPTIM_ADAM ? "adam_m" : "momentum");
    fprintf(o, "            optim[no] = params[i];\n            optim[no].name = names[no];\n");
    fprintf(o, "            optim[no].data = (unsigned char *)state + p->opt_offset[k];\n            no++;\n");
    fprintf(o, "        }\n    }\n    return no;\n}\n\n");

    fprintf(o, "static int fail(const char *prog, const DlrtError *err, int status) {\n");
    fprintf(o, "    fprintf(stderr, \"%%s: %%s\\n\", prog, err->msg);\n    return status;\n}\n\n");

    fprintf(o, "/* A checkpoint with everything --resume needs, after `epoch` epochs. */\n");
    fprintf(o,
            "static int save_checkpoint(const char *path, void *state, DlrtTensorDesc *params, DlrtTensorDesc *optim, "
            "int n_optim,\n                           int64_t epoch, DlrtRng rng, DlrtError *err) {\n");
    fprintf(o,
            "    DlrtCheckpoint ck = {.params = params, .n_params = %s_PARAM_COUNT, .optim = n_optim ? optim : NULL,\n"
            "                         .n_optim = n_optim, .has_epoch = 1, .epoch = epoch, .step = "
            "*%s_step_counter(state),\n"
            "                         .has_rng = 1, .rng = rng};\n",
            NAME, name);
    fprintf(o, "    return dlrt_checkpoint_save(path, &ck, err);\n}\n\n");

    /* evaluation */
    fprintf(o, "/* The test set's loss%s in inference mode. */\n", acc_metric >= 0 ? " and accuracy" : "");
    fprintf(o,
            "static void evaluate(void *state, const DlrtDataset *test, DlrtBatcher *b, float *xb, %s%s *yb, double "
            "*loss,\n"
            "                     double *acc) {\n",
            resize ? "float *raw, " : "", ytype);
    fprintf(o, "    double metrics[METRICS], tl = 0, tm[METRICS] = {0};\n    int64_t tn = 0, m;\n");
    fprintf(o, "    dlrt_batcher_start_epoch(b, NULL);\n");
    fprintf(o, "    while ((m = dlrt_batcher_next(b, test, %s, %s, %s)) > 0) {\n", xsrc, ylab, ytgt);
    if (resize)
        fprintf(o, "        dlrt_resize_bilinear(raw, m, 28, 28, xb, %" PRId64 ", %" PRId64 ");\n", t->resize,
                t->resize);
    fprintf(o, "        tl += (double)%s_evaluate(state, (int)m, xb, yb, metrics) * (double)m;\n", name);
    fprintf(o, "        for (int k = 0; k < %d; k++)\n            tm[k] += metrics[k];\n", nm);
    fprintf(o, "        tn += m;\n    }\n");
    fprintf(o, "    *loss = tl / (double)tn;\n");
    if (acc_metric >= 0)
        fprintf(o, "    *acc = tm[%d] / (double)tn;\n", acc_metric);
    else if (rmse_metric >= 0)
        fprintf(o, "    *loss = sqrt(tm[%d] / (double)tn);\n    *acc = NAN;\n", rmse_metric);
    else
        fprintf(o, "    *acc = NAN;\n    (void)tm;\n");
    fprintf(o, "}\n\n");

    /* one epoch of training: shared by the normal run and every fold of --kfold */
    fprintf(o,
            "/* One epoch over data in batches shuffled by `shuffle`: forward, backward and step for each. Sums the\n"
            " * batches' loss (times their size) and metrics into loss_sum and metric_sum. Returns the examples seen,\n"
            " * or -1 when a loss was not finite (*bad_loss, in batch *bad_batch), before that batch's update. */\n");
    fprintf(o,
            "static int64_t train_epoch(void *state, const DlrtDataset *data, DlrtBatcher *b, DlrtRng *shuffle, float "
            "*xb,\n"
            "                           %s%s *yb, float lr, DlrtProgress *po, int64_t epoch, double *loss_sum,\n"
            "                           double *metric_sum, float *bad_loss, int64_t *bad_batch) {\n",
            resize ? "float *raw, " : "", ytype);
    fprintf(o, "    double metrics[METRICS];\n    int64_t seen = 0, m, bi = 0;\n    *loss_sum = 0;\n");
    fprintf(o, "    for (int k = 0; k < METRICS; k++)\n        metric_sum[k] = 0;\n");
    fprintf(o, "    dlrt_batcher_start_epoch(b, shuffle);\n");
    fprintf(o, "    while ((m = dlrt_batcher_next(b, data, %s, %s, %s)) > 0) {\n", xsrc, ylab, ytgt);
    if (resize)
        fprintf(o, "        dlrt_resize_bilinear(raw, m, 28, 28, xb, %" PRId64 ", %" PRId64 ");\n", t->resize,
                t->resize);
    fprintf(o, "        float loss = %s_forward_train(state, (int)m, xb, yb, metrics);\n", name);
    fprintf(o, "        if (!isfinite(loss)) {\n            *bad_loss = loss;\n            *bad_batch = bi;\n"
               "            return -1;\n        }\n");
    fprintf(o, "        %s_backward(state, (int)m, xb, yb);\n        %s_step(state, lr);\n", name, name);
    fprintf(o, "        *loss_sum += (double)loss * (double)m;\n");
    fprintf(o, "        for (int k = 0; k < %d; k++)\n            metric_sum[k] += metrics[k];\n", nm);
    fprintf(o, "        seen += m;\n");
    fprintf(o, "        dlrt_progress_batch(po, epoch + 1, bi++, m, (double)loss);\n    }\n");
    fprintf(o, "    return seen;\n}\n\n");

    if (images) {
        const char *out = ident(c->eval->outputs.v[out_i].name);
        fprintf(o, "static const char *class_name(int k) {\n    return dlrt_fashion_mnist_class(k);\n}\n\n");
        fprintf(o,
                "/* Runs the model in inference mode on n images of RAW_H x RAW_W, `batch` at a time, and copies each "
                "one's\n"
                " * logits (output '%s', CLASSES values) to out. */\n",
                c->eval->outputs.v[out_i].name);
        fprintf(o, "static void logits_of(void *state, const float *images, int64_t n, int64_t batch, float *xb, float "
                   "*out) {\n");
        fprintf(o, "    for (int64_t i = 0; i < n; i += batch) {\n");
        fprintf(o, "        int m = (int)(n - i < batch ? n - i : batch);\n");
        if (resize) {
            fprintf(o,
                    "        dlrt_resize_bilinear(images + i * RAW_H * RAW_W, m, RAW_H, RAW_W, xb, %" PRId64
                    ", %" PRId64 ");\n",
                    t->resize, t->resize);
            fprintf(o, "        %s_forward(state, m, xb);\n", name);
        } else {
            fprintf(o, "        %s_forward(state, m, images + i * X_SIZE);\n", name);
        }
        fprintf(o, "        memcpy(out + i * CLASSES, %s_output_%s(state), sizeof(float) * (size_t)m * CLASSES);\n",
                name, out);
        fprintf(o, "    }\n%s}\n\n", resize ? "" : "    (void)xb;\n");

        fprintf(o, "/* --show-samples: the first training images with their labels, as D2L shows Fashion-MNIST. */\n");
        fprintf(o, "static int show_samples(const char *path, const DlrtDataset *train, DlrtError *err) {\n");
        fprintf(o, "    enum { N = 18 };\n    DlrtCaption captions[N];\n");
        fprintf(o, "    int64_t n = train->n < N ? train->n : N;\n");
        fprintf(o, "    for (int64_t i = 0; i < n; i++)\n"
                   "        captions[i] = (DlrtCaption){{class_name(train->labels[i]), NULL}, DLRT_MARK_NONE};\n");
        fprintf(o, "    return dlrt_write_image_grid(path, \"fashion-mnist training images\", train->x, n, RAW_H, "
                   "RAW_W, 9, 4,\n"
                   "                                 captions, err);\n}\n\n");

        fprintf(o,
                "/* --show-predictions: the first test images with their labels and the model's predictions, mistakes\n"
                " * in red, as D2L shows after training. */\n");
        fprintf(o, "static int show_predictions(const char *path, void *state, const DlrtDataset *test, int64_t batch, "
                   "float *xb,\n                            DlrtError *err) {\n");
        fprintf(o, "    enum { N = 36 };\n    static float logits[N * CLASSES];\n    DlrtCaption captions[N];\n");
        fprintf(o, "    int64_t n = test->n < N ? test->n : N, wrong = 0;\n");
        fprintf(o, "    logits_of(state, test->x, n, batch, xb, logits);\n");
        fprintf(o, "    for (int64_t i = 0; i < n; i++) {\n");
        fprintf(o, "        int p = dlrt_argmax(logits + i * CLASSES, CLASSES), y = test->labels[i];\n");
        fprintf(o, "        captions[i] = (DlrtCaption){{class_name(y), class_name(p)}, p == y ? DLRT_MARK_RIGHT : "
                   "DLRT_MARK_WRONG};\n");
        fprintf(o, "        wrong += p != y;\n    }\n");
        fprintf(o, "    char title[160];\n");
        fprintf(o, "    snprintf(title, sizeof title, MODEL \" on fashion-mnist test images: label, prediction (%%lld "
                   "of %%lld \"\n"
                   "             \"wrong, in red)\", (long long)wrong, (long long)n);\n");
        fprintf(o,
                "    return dlrt_write_image_grid(path, title, test->x, n, RAW_H, RAW_W, 9, 4, captions, err);\n}\n\n");

        fprintf(o, "/* --predict: the TOP_K most probable classes of every image in the files (PNG, PGM or IDX). "
                   "Returns 0, or 1\n"
                   " * if a file could not be read. */\n");
        fprintf(o, "static int predict_files(const char *prog, char **files, int n_files, void *state, int64_t batch, "
                   "float *xb) {\n");
        fprintf(o, "    int status = 0;\n");
        fprintf(o, "    for (int f = 0; f < n_files; f++) {\n");
        fprintf(o, "        DlrtDataset ds;\n        DlrtError err;\n        int inverted;\n");
        fprintf(o, "        if (dlrt_load_images(files[f], RAW_H, RAW_W, &ds, &inverted, &err) != DLRT_OK) {\n"
                   "            status = fail(prog, &err, 1);\n            continue;\n        }\n");
        fprintf(o, "        float *logits = malloc(sizeof(float) * (size_t)(ds.n * CLASSES));\n");
        fprintf(o, "        if (!logits) {\n            fprintf(stderr, \"%%s: %%s: out of memory for %%lld "
                   "images\\n\", prog, "
                   "files[f], (long long)ds.n);\n            dlrt_dataset_free(&ds);\n            status = 1;\n"
                   "            continue;\n        }\n");
        fprintf(o, "        logits_of(state, ds.x, ds.n, batch, xb, logits);\n");
        fprintf(o, "        for (int64_t i = 0; i < ds.n; i++) {\n");
        fprintf(o, "            int index[TOP_K];\n            double prob[TOP_K];\n");
        fprintf(o, "            int k = dlrt_top_k(logits + i * CLASSES, CLASSES, TOP_K, index, prob);\n");
        fprintf(o, "            if (ds.n > 1)\n                printf(\"%%s[%%lld]:\", files[f], (long long)i);\n"
                   "            else\n                printf(\"%%s:\", files[f]);\n");
        fprintf(o, "            for (int j = 0; j < k; j++)\n"
                   "                printf(\"%%s %%s %%.4f\", j ? \",\" : \"\", class_name(index[j]), prob[j]);\n");
        fprintf(o, "            printf(\"%%s\\n\", inverted ? \"  (inverted: a dark object on a light background)\" : "
                   "\"\");\n");
        fprintf(o, "        }\n        free(logits);\n        dlrt_dataset_free(&ds);\n    }\n");
        fprintf(o, "    fflush(stdout);\n    return status;\n}\n\n");
    }

    fprintf(o, "int main(int argc, char **argv) {\n");
    fprintf(o, "#ifdef _OPENMP\n");
    fprintf(o,
            "    /* Idle OpenMP threads spin by default and would take the cores OpenBLAS's threads need between the\n"
            "     * generated loops. The policy is read when the program starts: set it and start once more. */\n");
    fprintf(o, "    if (!getenv(\"OMP_WAIT_POLICY\") && argc > 0) {\n");
    fprintf(o,
            "        setenv(\"OMP_WAIT_POLICY\", \"passive\", 1);\n        execv(\"/proc/self/exe\", argv);\n    }\n");
    fprintf(o, "#endif\n");
    fprintf(o, "    const char *prog = argc > 0 ? argv[0] : MODEL \"-train\";\n");
    fprintf(o, "    DlrtArgs args;\n    DlrtError err;\n");
    fprintf(o, "    if (dlrt_parse_args(argc, argv, &args, &err) != DLRT_OK) {\n");
    fprintf(o, "        fprintf(stderr, \"%%s: %%s\\nTry '%%s --help'.\\n\", prog, err.msg, prog);\n        return "
               "2;\n    }\n");
    fprintf(
        o, "    DlrtArgs defaults = {.epochs = %" PRId64 ", .batch = %" PRId64 ", .lr = %.17g, .seed = %" PRId64 "};\n",
        t->epochs, t->batch, t->lr, t->seed);
    fprintf(o, "    if (args.help) {\n        dlrt_usage(stdout, prog, MODEL, &defaults);\n        return 0;\n    }\n");
    fprintf(o, "    int64_t epochs = args.has_epochs ? args.epochs : defaults.epochs;\n");
    fprintf(o, "    int64_t batch = args.has_batch ? args.batch : defaults.batch;\n");
    fprintf(o, "    float lr = (float)(args.has_lr ? args.lr : defaults.lr);\n");
    fprintf(o, "    uint64_t seed = args.has_seed ? args.seed : defaults.seed;\n");
    fprintf(o, "    if (batch < 1 || batch > %s_MAX_BATCH) {\n", NAME);
    fprintf(
        o,
        "        fprintf(stderr, \"%%s: --batch %%lld is outside 1..%%d, the maximum this trainer was compiled for; "
        "\"\n"
        "                        \"rebuild with `dlc build --batch N`\\n\", prog, (long long)batch, %s_MAX_BATCH);\n",
        NAME);
    fprintf(o, "        return 2;\n    }\n");
    if (!kfold) {
        fprintf(o, "    if (args.has_kfold) {\n");
        fprintf(o,
                "        fprintf(stderr, \"%%s: --kfold needs a model trained on CSV data with a log_rmse metric; %s "
                "is not\\n\", "
                "prog);\n        return 2;\n    }\n",
                name);
    }
    if (!submission) {
        fprintf(o, "    if (args.submission) {\n");
        fprintf(
            o,
            "        fprintf(stderr, \"%%s: --submission needs a model trained on CSV data that predicts one value per "
            "row \"\n"
            "                        \"with a log_rmse metric; %s does not\\n\", prog);\n        return 2;\n    }\n",
            name);
    }
    if (!images) {
        fprintf(o, "    if (args.n_predict || args.show_samples || args.show_predictions) {\n");
        fprintf(o,
                "        fprintf(stderr, \"%%s: --predict, --show-samples and --show-predictions need a model that "
                "classifies \"\n"
                "                        \"Fashion-MNIST images; %s does not\\n\", prog);\n        return 2;\n    }\n",
                name);
    }
    fprintf(o, "    /* --predict with --load or --resume and no --epochs predicts with the loaded weights and trains "
               "nothing. */\n");
    fprintf(o, "    int predict_only = args.n_predict > 0 && (args.load || args.resume) && !args.has_epochs;\n");
    fprintf(o, "    int threads = dlrt_set_threads(args.has_threads ? args.threads : 0, %.0f);\n    (void)threads;\n\n",
            largest_blas_call(c));

    /* data */
    fprintf(o, "    /* data: not needed to predict, unless a picture or the report asks for it */\n");
    fprintf(o, "    DlrtDataset train = {0}, test = {0};\n");
    if (csv)
        fprintf(o, "    DlrtDataset unlabeled = {0}; /* test.csv without targets: what --submission predicts */\n"
                   "    DlrtCsvInfo info = {0};\n");
    fprintf(o, "    DlrtRng data_rng;\n    dlrt_rng_seed(&data_rng, seed, 7);\n    int rc = DLRT_OK;\n");
    fprintf(o, "    int64_t limit = args.has_limit ? args.limit : 0;\n");
    fprintf(o, "    if (!predict_only || args.show_samples || args.show_predictions || args.report) {\n");
    char list[4096];
    switch (t->data) {
    case DATA_FASHION_MNIST:
        fprintf(o, "        rc = dlrt_load_fashion_mnist(args.data, limit, &train, &test, &err);\n");
        break;
    case DATA_SYNTH_LINEAR: {
        int nw = data_list(t, "w", list, sizeof list, false);
        fprintf(o, "        static const float w_true[%d] = {%s};\n", nw > 0 ? nw : 1, nw ? list : "0");
        fprintf(o, "        rc = dlrt_synthetic_linear(w_true, %d, %s, %s, %" PRId64 ", &data_rng, &train, &err);\n",
                nw, flit(data_num(t, "b", 0)), flit(data_num(t, "noise", 0.01)), (int64_t)data_num(t, "n", 1000));
        break;
    }
    case DATA_POLYNOMIAL: {
        int nc = data_list(t, "coeffs", list, sizeof list, false);
        fprintf(o, "        static const float coeffs[%d] = {%s};\n", nc > 0 ? nc : 1, nc ? list : "0");
        fprintf(o,
                "        rc = dlrt_synthetic_polynomial(%d, X_SIZE, coeffs, %d, %s, %" PRId64 ", %" PRId64
                ", &data_rng, &train, &test, &err);\n",
                (int)data_num(t, "degree", 20), nc, flit(data_num(t, "noise", 0.1)),
                (int64_t)data_num(t, "n_train", 100), (int64_t)data_num(t, "n_test", 100));
        break;
    }
    case DATA_HIGH_DIM:
        fprintf(o,
                "        rc = dlrt_synthetic_high_dim(X_SIZE, %" PRId64 ", %" PRId64
                ", %s, &data_rng, &train, &test, &err);\n",
                (int64_t)data_num(t, "n_train", 20), (int64_t)data_num(t, "n_test", 100),
                flit(data_num(t, "noise", 0.01)));
        break;
    case DATA_CSV: {
        int nd = data_list(t, "drop", list, sizeof list, true);
        fprintf(o, "        static const char *const drop[%d] = {%s};\n", nd > 0 ? nd : 1, nd ? list : "\"\"");
        fprintf(
            o,
            "        DlrtCsvSpec spec = {.train_path = \"%s\", .test_path = \"%s\", .target = \"%s\", .drop = drop, "
            ".n_drop = %d,\n                            .limit = limit};\n",
            data_str(t, "train", "train.csv"), data_str(t, "test", "test.csv"), data_str(t, "target", "target"), nd);
        fprintf(o, "        char train_path[4096], test_path[4096];\n");
        fprintf(o, "        if (args.data) {\n");
        fprintf(o, "            snprintf(train_path, sizeof train_path, \"%%s/%%s\", args.data, spec.train_path);\n");
        fprintf(o, "            snprintf(test_path, sizeof test_path, \"%%s/%%s\", args.data, spec.test_path);\n");
        fprintf(o, "            spec.train_path = train_path;\n            spec.test_path = test_path;\n        }\n");
        fprintf(o, "        rc = dlrt_csv_load_house(&spec, &train, &test, &info, &err);\n");
        fprintf(o, "        if (rc == DLRT_OK && !test.targets) { /* no labels: not a test set */\n"
                   "            unlabeled = test;\n            test = (DlrtDataset){0};\n        }\n");
        break;
    }
    case DATA_TENSORS:
        fprintf(o,
                "        train = (DlrtDataset){.n = %" PRId64
                ", .rank = 1, .dims = {X_SIZE}, .features = X_SIZE, .x = data_x, "
                ".targets = data_y,\n                              .target_dim = Y_SIZE};\n",
                t->tensor_n);
        break;
    case DATA_NONE:
        break;
    }
    fprintf(o, "        if (rc != DLRT_OK)\n            return fail(prog, &err, rc == DLRT_EUSAGE ? 2 : 1);\n");
    int64_t raw = t->data == DATA_FASHION_MNIST ? 784 : xsize;
    fprintf(o, "        if (train.features != %" PRId64 ") {\n", raw);
    fprintf(
        o,
        "            fprintf(stderr, \"%%s: the data has %%lld features per example, but the model's input '%s' \"\n"
        "                            \"takes %" PRId64 "\\n\", prog, (long long)train.features);\n"
        "            return 1;\n        }\n",
        X->name, raw);
    if (t->data != DATA_FASHION_MNIST && t->data != DATA_CSV)
        fprintf(o, "        if (limit > 0 && train.n > limit)\n            train.n = limit;\n"
                   "        if (limit > 0 && test.n > limit)\n            test.n = limit;\n");
    fprintf(o, "    }\n    (void)data_rng;\n");

    /* state */
    fprintf(o, "\n    /* the model's state: one block, allocated once */\n");
    fprintf(o, "    void *state = aligned_alloc(64, (%s_STATE_BYTES + 63) / 64 * 64);\n", NAME);
    fprintf(o, "    float *xb = malloc(sizeof(float) * (size_t)(batch * X_SIZE));\n");
    if (resize)
        fprintf(o, "    float *raw = malloc(sizeof(float) * (size_t)(batch * 784));\n");
    fprintf(o, "    %s *yb = malloc(sizeof(*yb) * (size_t)(batch * Y_SIZE));\n", ytype);
    fprintf(o, "    if (!state || !xb || !yb%s) {\n", resize ? " || !raw" : "");
    fprintf(o,
            "        fprintf(stderr, \"%%s: out of memory for the model's %%lld-byte state\\n\", prog, "
            "(long long)%s_STATE_BYTES);\n        return 1;\n    }\n",
            NAME);
    if (kfold) {
        fprintf(
            o,
            "    /* --kfold K: K models from the same start, each trained on all folds but one and scored on that one\n"
            "     * (D2L 4.10's k_fold); the run below then trains on all the data. */\n");
        fprintf(o, "    static DlrtFold folds[1000];\n    int n_folds = 0;\n");
        fprintf(o, "    if (args.has_kfold) {\n");
        fprintf(o,
                "        if (train.n < args.kfold) {\n"
                "            fprintf(stderr, \"%%s: --kfold %%d needs at least %%d training examples; the data has "
                "%%lld\\n\", prog,\n"
                "                    args.kfold, args.kfold, (long long)train.n);\n            return 2;\n        }\n");
        fprintf(o, "        double sum_train = 0, sum_valid = 0;\n");
        fprintf(o, "        for (int i = 0; i < args.kfold; i++) {\n");
        fprintf(o, "            DlrtDataset tr, va;\n            DlrtBatcher btr, bva;\n");
        fprintf(o, "            if (dlrt_kfold_split(&train, args.kfold, i, &tr, &va, &err) != DLRT_OK ||\n"
                   "                dlrt_batcher_init(&btr, tr.n, batch, &err) != DLRT_OK ||\n"
                   "                dlrt_batcher_init(&bva, va.n, batch, &err) != DLRT_OK)\n"
                   "                return fail(prog, &err, 1);\n");
        fprintf(o, "            %s_init(state, seed);\n", name);
        fprintf(o, "            DlrtRng fold_shuffle;\n            dlrt_rng_seed(&fold_shuffle, seed, 1);\n");
        fprintf(o, "            DlrtProgress fold_out; /* silent: one line per fold instead */\n");
        fprintf(o, "            dlrt_progress_init(&fold_out, stdout, epochs, 1, dlrt_batcher_batches(&btr), 1);\n");
        fprintf(o, "            for (int64_t epoch = 0; epoch < epochs; epoch++) {\n");
        fprintf(o, "                double loss_sum, metric_sum[METRICS];\n                float bad_loss = 0;\n"
                   "                int64_t bad_batch = 0;\n");
        fprintf(
            o,
            "                if (train_epoch(state, &tr, &btr, &fold_shuffle, xb, yb, lr, &fold_out, epoch, &loss_sum, "
            "metric_sum,\n                                &bad_loss, &bad_batch) < 0) {\n");
        fprintf(o, "                    fprintf(stderr, \"%%s: fold %%d: the loss became %%g in epoch %%lld, batch "
                   "%%lld, with \"\n"
                   "                                    \"learning rate %%g (try a smaller --lr)\\n\", prog, i + 1, "
                   "(double)bad_loss,\n"
                   "                            (long long)epoch + 1, (long long)bad_batch + 1, (double)lr);\n");
        fprintf(o, "                    return 1;\n                }\n            }\n");
        fprintf(o, "            double tl, vl, unused;\n");
        fprintf(o, "            evaluate(state, &tr, &btr, xb, yb, &tl, &unused);\n");
        fprintf(o, "            evaluate(state, &va, &bva, xb, yb, &vl, &unused);\n");
        fprintf(o, "            folds[n_folds++] = (DlrtFold){.train_log_rmse = tl, .valid_log_rmse = vl};\n");
        fprintf(o, "            sum_train += tl;\n            sum_valid += vl;\n");
        fprintf(o, "            printf(\"fold %%d: train log rmse %%.4f, valid log rmse %%.4f\\n\", i + 1, tl, vl);\n");
        fprintf(o, "            fflush(stdout);\n");
        fprintf(o, "            dlrt_batcher_free(&btr);\n            dlrt_batcher_free(&bva);\n"
                   "            dlrt_dataset_free(&tr);\n            dlrt_dataset_free(&va);\n        }\n");
        fprintf(o, "        printf(\"%%d-fold validation: avg train log rmse %%.4f, avg valid log rmse %%.4f\\n\", "
                   "args.kfold,\n"
                   "               sum_train / args.kfold, sum_valid / args.kfold);\n");
        fprintf(o, "        fflush(stdout);\n    }\n");
    }
    fprintf(o, "    %s_init(state, seed);\n", name);
    fprintf(o, "    DlrtRng shuffle;\n    dlrt_rng_seed(&shuffle, seed, 1);\n");
    fprintf(o, "    DlrtTensorDesc pdesc[%s_PARAM_COUNT > 0 ? %s_PARAM_COUNT : 1], odesc[2 * %s_PARAM_COUNT + 1];\n",
            NAME, NAME, NAME);
    fprintf(o, "    static char onames[2 * %s_PARAM_COUNT + 1][160];\n", NAME);
    fprintf(o, "    int n_optim = describe(state, pdesc, odesc, onames);\n");
    fprintf(o, "    int64_t first_epoch = 0;\n");
    fprintf(o, "    if (args.load || args.resume) {\n");
    fprintf(o, "        const char *path = args.load ? args.load : args.resume;\n");
    fprintf(
        o,
        "        DlrtCheckpoint ck = {.params = pdesc, .n_params = %s_PARAM_COUNT, .optim = args.resume && n_optim ? "
        "odesc : NULL,\n                             .n_optim = args.resume ? n_optim : 0};\n",
        NAME);
    fprintf(o, "        if (dlrt_checkpoint_load(path, &ck, args.resume ? DLRT_CKPT_RESUME : 0u, &err) != DLRT_OK)\n"
               "            return fail(prog, &err, 1);\n");
    fprintf(o,
            "        if (args.resume) {\n            first_epoch = ck.epoch;\n            *%s_step_counter(state) = "
            "ck.step;\n"
            "            shuffle = ck.rng;\n",
            name);
    fprintf(o, "            if (!args.quiet)\n                printf(\"resumed from %%s after epoch %%lld (step "
               "%%llu)\\n\", path, "
               "(long long)ck.epoch,\n                       (unsigned long long)ck.step);\n");
    fprintf(o, "        } else if (!args.quiet) {\n            printf(\"loaded the weights of %%s\\n\", path);\n       "
               " }\n    }\n");
    fprintf(o, "    if (predict_only)\n        epochs = first_epoch;\n");
    fprintf(o, "    else if (args.resume && first_epoch >= epochs && !args.quiet)\n"
               "        printf(\"nothing to train: the checkpoint has %%lld epochs and --epochs asks for %%lld\\n\", "
               "(long long)first_epoch,\n               (long long)epochs);\n");
    if (images)
        fprintf(o, "    if (args.show_samples && show_samples(args.show_samples, &train, &err) != DLRT_OK)\n"
                   "        return fail(prog, &err, 1);\n");
    fprintf(
        o,
        "    /* --save writes the starting point first: an unwritable path fails now, not after an epoch, and a run\n"
        "     * that diverges in its first epoch still leaves its last good state. */\n");
    fprintf(o, "    int64_t saved = -1; /* epochs in the last checkpoint written */\n");
    fprintf(o, "    if (args.save) {\n");
    fprintf(
        o,
        "        if (save_checkpoint(args.save, state, pdesc, odesc, n_optim, first_epoch, shuffle, &err) != DLRT_OK)\n"
        "            return fail(prog, &err, 1);\n        saved = first_epoch;\n    }\n");

    /* loop */
    fprintf(o, "\n    DlrtBatcher batcher, tbatcher;\n");
    fprintf(o, "    if (dlrt_batcher_init(&batcher, train.n, batch, &err) != DLRT_OK ||\n"
               "        dlrt_batcher_init(&tbatcher, test.n, batch, &err) != DLRT_OK)\n"
               "        return fail(prog, &err, 1);\n");
    fprintf(o, "    DlrtHistory hist;\n    if (dlrt_history_init(&hist, epochs > 0 ? epochs : 1, &err) != DLRT_OK)\n"
               "        return fail(prog, &err, 1);\n");
    fprintf(o, "    DlrtProgress prog_out;\n");
    fprintf(o, "    dlrt_progress_init(&prog_out, stdout, epochs, first_epoch + 1, dlrt_batcher_batches(&batcher), "
               "args.quiet);\n");
    fprintf(o, "    double train_loss = NAN, train_acc = NAN, test_loss = NAN, test_acc = NAN;\n");
    fprintf(o, "    double t0 = dlrt_now(), train_seconds = 0;\n    int64_t trained = 0;\n    int status = 0;\n");
    fprintf(o, "    for (int64_t epoch = first_epoch; epoch < epochs && status == 0; epoch++) {\n");
    fprintf(o, "        dlrt_progress_epoch_begin(&prog_out, epoch + 1);\n");
    fprintf(o, "        double loss_sum, metric_sum[METRICS], te = dlrt_now();\n");
    fprintf(o, "        float bad_loss = 0;\n        int64_t bad_batch = 0;\n");
    fprintf(o,
            "        int64_t seen = train_epoch(state, &train, &batcher, &shuffle, xb, %syb, lr, &prog_out, epoch, "
            "&loss_sum,\n"
            "                                   metric_sum, &bad_loss, &bad_batch);\n",
            resize ? "raw, " : "");
    fprintf(o, "        train_seconds += dlrt_now() - te;\n");
    fprintf(o, "        if (seen < 0) {\n");
    fprintf(o, "            if (prog_out.drawn)\n                fputs(\"\\n\", stdout);\n");
    fprintf(
        o, "            fprintf(stderr, \"%%s: the loss became %%g in epoch %%lld, batch %%lld, with learning rate \"\n"
           "                            \"%%g; stopped before the update (try a smaller --lr)\\n\", prog, "
           "(double)bad_loss,\n"
           "                    (long long)epoch + 1, (long long)bad_batch + 1, (double)lr);\n");
    fprintf(o, "            if (saved > 0)\n"
               "                fprintf(stderr, \"%%s: the last good checkpoint, from the end of epoch %%lld, is %%s; "
               "--resume it \"\n"
               "                                \"with a smaller --lr\\n\", prog, (long long)saved, args.save);\n");
    fprintf(o, "            else if (saved == 0)\n"
               "                fprintf(stderr, \"%%s: the last good checkpoint, from before the first epoch, is %%s; "
               "--resume \"\n"
               "                                \"it with a smaller --lr\\n\", prog, args.save);\n");
    fprintf(o, "            status = 1;\n            break;\n        }\n");
    fprintf(o, "        trained += seen;\n");
    fprintf(o, "        train_loss = seen ? loss_sum / (double)seen : NAN;\n");
    if (acc_metric >= 0)
        fprintf(o, "        train_acc = seen ? metric_sum[%d] / (double)seen : NAN;\n", acc_metric);
    else if (rmse_metric >= 0)
        fprintf(o, "        train_loss = seen ? sqrt(metric_sum[%d] / (double)seen) : NAN;\n", rmse_metric);
    fprintf(o,
            "        if (test.n > 0) {\n            dlrt_progress_note(&prog_out, epoch + 1, \"evaluating on the test "
            "set\");\n"
            "            evaluate(state, &test, &tbatcher, xb, %syb, &test_loss, &test_acc);\n        }\n",
            resize ? "raw, " : "");
    fprintf(o, "        double secs = dlrt_progress_epoch_end(&prog_out, epoch + 1, train_loss, train_acc, test_loss, "
               "test_acc);\n");
    fprintf(o, "        dlrt_history_add(&hist, epoch + 1, train_loss, train_acc, test_loss, test_acc, secs, &err);\n");
    fprintf(o, "        if (args.save) {\n");
    fprintf(o, "            if (save_checkpoint(args.save, state, pdesc, odesc, n_optim, epoch + 1, shuffle, &err) != "
               "DLRT_OK)\n"
               "                status = fail(prog, &err, 1);\n            else\n                saved = epoch + 1;\n");
    fprintf(o, "        }\n    }\n");
    fprintf(o, "    /* no epoch ran (--load or --resume with nothing left to train): evaluate what was loaded */\n");
    fprintf(o, "    if (status == 0 && first_epoch >= epochs && test.n > 0) {\n");
    fprintf(o, "        evaluate(state, &test, &tbatcher, xb, %syb, &test_loss, &test_acc);\n", resize ? "raw, " : "");
    fprintf(o, "        if (!args.quiet && isnan(test_acc))\n            printf(\"test_loss %%.4f\\n\", test_loss);\n"
               "        else if (!args.quiet)\n            printf(\"test_loss %%.4f  test_acc %%.4f\\n\", test_loss, "
               "test_acc);\n");
    fprintf(o, "    }\n");
    if (images) {
        fprintf(o, "    if (status == 0 && args.show_predictions) {\n");
        fprintf(o, "        if (test.n == 0)\n            fprintf(stderr, \"%%s: --show-predictions: no test "
                   "images\\n\", prog), "
                   "status = 1;\n");
        fprintf(o,
                "        else if (show_predictions(args.show_predictions, state, &test, batch, xb, &err) != DLRT_OK)\n"
                "            status = fail(prog, &err, 1);\n    }\n");
        fprintf(o, "    if (status == 0 && args.n_predict)\n"
                   "        status = predict_files(prog, args.predict, args.n_predict, state, batch, xb);\n");
    }
    if (submission) {
        const char *out = ident(c->eval->outputs.v[sub_i].name);
        fprintf(o, "    /* --submission: the trained model's prediction for every test row, in batches */\n");
        fprintf(o, "    if (status == 0 && args.submission) {\n");
        fprintf(o, "        const DlrtDataset *rows = unlabeled.n > 0 ? &unlabeled : &test;\n");
        fprintf(o, "        float *preds = malloc(sizeof(float) * (size_t)(rows->n > 0 ? rows->n : 1));\n");
        fprintf(o,
                "        if (rows->n == 0 || !info.test_ids) {\n"
                "            fprintf(stderr, \"%%s: --submission: the data has no test rows to predict\\n\", prog);\n"
                "            status = 1;\n");
        fprintf(
            o,
            "        } else if (!preds) {\n"
            "            fprintf(stderr, \"%%s: out of memory for %%lld predictions\\n\", prog, (long long)rows->n);\n"
            "            status = 1;\n        } else {\n");
        fprintf(o, "            for (int64_t i = 0; i < rows->n; i += batch) {\n");
        fprintf(o, "                int m = (int)(rows->n - i < batch ? rows->n - i : batch);\n");
        fprintf(o, "                %s_forward(state, m, rows->x + i * X_SIZE);\n", name);
        fprintf(o,
                "                memcpy(preds + i, %s_output_%s(state), sizeof(float) * (size_t)m);\n            }\n",
                name, out);
        fprintf(o,
                "            if (dlrt_write_submission(args.submission, info.id_name, \"%s\", info.test_ids, preds, "
                "rows->n, "
                "&err) != DLRT_OK)\n                status = fail(prog, &err, 1);\n",
                data_str(t, "target", "target"));
        fprintf(
            o, "            else if (!args.quiet)\n"
               "                printf(\"wrote %%lld predictions to %%s\\n\", (long long)rows->n, args.submission);\n");
        fprintf(o, "        }\n        free(preds);\n    }\n");
    }
    fprintf(o, "    double seconds = dlrt_now() - t0;\n");
    fprintf(o, "    if (args.metrics && dlrt_write_metrics_csv(args.metrics, &hist, &err) != DLRT_OK)\n"
               "        status = fail(prog, &err, 1);\n");
    fprintf(o,
            "    if (args.plot && dlrt_write_history_svg(args.plot, &hist, MODEL, %d, &err) != DLRT_OK)\n"
            "        status = fail(prog, &err, 1);\n",
            t->plot_log);
    fprintf(o, "    if (args.report) {\n");
    fprintf(
        o,
        "        DlrtReport r = {.model = MODEL, .epochs = epochs, .train_loss = train_loss, .test_loss = test_loss,\n"
        "                        .classifies = %d, .train_acc = train_acc, .test_acc = test_acc,\n"
        "                        .examples_per_second = train_seconds > 0 ? (double)trained / train_seconds : 0,\n"
        "                        .seconds = seconds, .peak_rss_bytes = dlrt_peak_rss(), .params = pdesc,\n"
        "                        .n_params = %s_PARAM_COUNT%s};\n",
        acc_metric >= 0, NAME, kfold ? ", .folds = folds, .n_folds = n_folds" : "");
    fprintf(o, "        if (dlrt_report_write(args.report, &r, &err) != DLRT_OK)\n            status = fail(prog, "
               "&err, 1);\n");
    fprintf(o, "    }\n");
    fprintf(o, "    dlrt_history_free(&hist);\n    dlrt_batcher_free(&batcher);\n    dlrt_batcher_free(&tbatcher);\n");
    if (t->data != DATA_TENSORS)
        fprintf(o, "    dlrt_dataset_free(&train);\n    dlrt_dataset_free(&test);\n");
    if (csv)
        fprintf(o, "    dlrt_dataset_free(&unlabeled);\n    dlrt_csv_info_free(&info);\n");
    fprintf(o, "    free(xb);\n    free(yb);\n%s    free(state);\n    return status;\n}\n",
            resize ? "    free(raw);\n" : "");
}
