/* emit_api.c: what the generated code offers its callers around the kernels: <name>.h (the training API, or the
 * inference API of --infer), the parameters' initialisers (<name>_init) and the checkpoint reader (<name>_load).
 *
 * emit.c writes the kernels and the functions that run them, and calls into this file for the parts that depend on
 * the state block's layout and the model's interface rather than on its ops. */
#include <inttypes.h>
#include <math.h>

#include "dlc.h"

/* ---- the header ---- */

static void emit_api(Emit *e, bool decl) {
    Compiled *c = e->c;
    FILE *o = e->o;
    const char *end = decl ? ");\n" : ") {\n";
    Sched *fw = &c->fn[FN_FORWARD];
    if (decl)
        fprintf(o,
                "\n/* Runs the model on n examples (1 <= n <= %s_MAX_BATCH) in inference mode (dropout off) and\n"
                " * writes its outputs, which %s_output_*() return until the next call on this state. Returns 0,\n"
                " * or %s_BAD_BATCH (nothing done) for another n. */\n",
                e->NAME, e->name, e->NAME);
    fprintf(o, "int %s_forward(void *state, int n", e->name);
    emit_input_params(e, fw, false);
    fputs(end, o);
    if (!decl)
        return;
    for (int i = 0; i < c->eval->outputs.n; i++) {
        Output *out = &c->eval->outputs.v[i];
        fprintf(o, "/* Output '%s' of the last %s_forward: %s (%s per example). */\n", out->name, e->name,
                type_str(e->ctx, out->node->dtype, &out->node->shape),
                out->node->shape.batched ? xsprintf(e->ctx, "%" PRId64 " values", shape_inner(&out->node->shape))
                                         : "not batched");
        fprintf(o, "const %s *%s_output_%s(const void *state);\n", e->real, e->name, emit_ident(e->ctx, out->name));
    }
}

static void emit_infer_header(Emit *e);

/* What both headers open with after their includes: C linkage for C++ callers, the alignment the caller's block
 * needs, and (with a reader) names for <name>_load's return codes. */
static void emit_header_open(Emit *e, bool has_load) {
    FILE *o = e->o;
    fprintf(o, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    fprintf(o, "#define %s_ALIGN 64 /* bytes: the alignment of the block the caller passes */\n", e->NAME);
    fprintf(o, "#define %s_BAD_BATCH (-4) /* returned for a batch n outside 1..%s_MAX_BATCH */\n", e->NAME, e->NAME);
    if (has_load)
        fprintf(o,
                "/* %s_load's return codes */\n#define %s_LOAD_OK 0\n#define %s_LOAD_TRUNCATED (-1) /* not a "
                "checkpoint, or truncated */\n#define %s_LOAD_OTHER_MODEL (-2) /* written for another model */\n"
                "#define %s_LOAD_DAMAGED (-3) /* a CRC mismatch */\n",
                e->name, e->NAME, e->NAME, e->NAME, e->NAME);
    if (emit_has_loop_limits(e->c)) {
        fprintf(
            o,
            "/* A bounded `while cond max K` loop whose condition still held after its K-th iteration: its result\n"
            " * (and every output after it) is truncated. The functions still write their outputs, then report it:\n"
            " * %s_LOOP_LIMIT (returned by those that return a status)%s. The loops: */\n",
            e->NAME, e->opt->infer ? "" : xsprintf(e->ctx, "; %s_loop_limit() tells which loop", e->name));
        Graph *g = e->c->eval;
        for (int i = 0; i < g->loop_limits.n; i++)
            fprintf(o, "/*   %s.dlm line %d: while ... max %" PRId64 " */\n", e->name, g->loop_limits.v[i].loc.line,
                    g->loop_limits.v[i].bound);
        fprintf(o, "#define %s_LOOP_LIMIT (-5)\n", e->NAME);
    }
    fprintf(o, "\n");
}

/* The first statement of a function that takes n examples: buffers are sized for <NAME>_MAX_BATCH, so a batch
 * outside 1..<NAME>_MAX_BATCH is refused before anything is read or written. */
/* dlc build --mpi, a step with sums over the batch that it uses per example (sync.c): the step in phases */
static void emit_phase_decls(Emit *e) {
    Compiled *c = e->c;
    FILE *out = e->o;
    const Sched *s = &c->fn[FN_TRAIN];
    fprintf(out,
            "\n/* A data-parallel step (dlc build --mpi) runs the global batch of m examples in pieces of n, and\n"
            " * these sums over the batch couple its examples (batch normalization's statistics): the step stops\n"
            " * after each, and the caller replaces every piece's partial sum with the global batch's before the\n"
            " * next phase. Forward phases 0..%s_FORWARD_PHASES - 1 (the last returns the piece's loss times n / m\n"
            " * and its metrics), then backward phases 0..%s_BACKWARD_PHASES - 1, leave the gradient of the piece's\n"
            " * share of the global batch's mean loss. %s_SYNCS lists the sums in order: the byte offset of\n"
            " * the values in the state, and their count. */\n",
            e->NAME, e->NAME, e->NAME);
    fprintf(out, "#define %s_FORWARD_PHASES %d\n#define %s_BACKWARD_PHASES %d\n", e->NAME, c->nsyncs_fwd + 1, e->NAME,
            c->nsyncs - c->nsyncs_fwd + 1);
    fprintf(out, "#define %s_SYNCS {", e->NAME);
    for (int i = 0; i < c->nsyncs; i++) {
        IrNode *n = s->kernels.v[c->sync_after[i]];
        fprintf(out, "%s{%" PRId64 ", %" PRId64 "}", i ? ", " : "", c->arena_off + s->offset[n->id],
                shape_numel(&n->shape));
    }
    fprintf(out, "}\n");
    fprintf(out,
            "/* The gradients computed from those sums alone, whole in every piece (offset and count): one piece's\n"
            " * counts. */\n#define %s_GLOBAL_GRAD_COUNT %d\n#define %s_GLOBAL_GRADS {",
            e->NAME, c->nglobal_grads, e->NAME);
    for (int i = 0; i < c->nglobal_grads; i++) {
        int p = c->global_grads[i];
        IrNode *n = ir_storage(c->grads[p]);
        fprintf(out, "%s{%" PRId64 ", %" PRId64 "}", i ? ", " : "", c->arena_off + s->offset[n->id],
                shape_numel(&c->train->params.v[p].shape));
    }
    fprintf(out, "%s}\n", c->nglobal_grads ? "" : "{0, 0}");
    fprintf(out, "%s %s_forward_train_phase(void *state, int phase, int n, int m", e->real, e->name);
    emit_input_params(e, &c->fn[FN_TRAIN], true);
    fprintf(out, ", double *metrics);\n");
    fprintf(out, "int %s_backward_phase(void *state, int phase, int n, int m", e->name);
    emit_input_params(e, &c->fn[FN_TRAIN], true);
    fprintf(out, ");\n");
}

void emit_batch_guard(Emit *e, const char *refusal) {
    fprintf(e->o, "    if (n < 1 || n > %s_MAX_BATCH)\n        return %s;\n", e->NAME, refusal);
}

/* ---- metadata: what an application reads without the comments ---- */

static uint64_t layout_hash(Graph *g);

/* A tensor's macros, <NAME>_INPUT_<name>_DTYPE and the like; emit_macro_name keeps names that differ only in case
 * ("x" and "X") apart. */
static void emit_tensor_macros(Emit *e, const char *kind, const char *name, DType dt, const Shape *sh) {
    char *N = xsprintf(e->ctx, "%s_%s_%s", e->NAME, kind, emit_macro_name(e->ctx, name));
    fprintf(e->o, "#define %s_DTYPE \"%s\"\n#define %s_RANK %d\n#define %s_SHAPE {", N, dt == DT_F32 ? "f32" : "i32", N,
            sh->rank, N);
    for (int d = 0; d < sh->rank; d++)
        fprintf(e->o, "%s%" PRId64, d ? ", " : "", sh->d[d]);
    fprintf(e->o, "%s}%s\n", sh->rank ? "" : "0",
            sh->batched ? " /* the first dimension is the batch, up to MAX_BATCH */"
            : sh->rank  ? ""
                        : " /* a scalar: rank 0 */");
}

static bool has_class_names(Compiled *c) { return c->train->train.data == DATA_FASHION_MNIST; }

/* Macros: the dlc version, the layout hash, each input's and output's dtype, rank and shape (row-major). */
static void emit_metadata_macros(Emit *e, bool infer) {
    Graph *g = e->c->eval;
    fprintf(e->o, "\n/* metadata (also as a table and functions below) */\n#define %s_DLC_VERSION \"%s\"\n", e->NAME,
            DLC_VERSION);
    fprintf(e->o,
            "#define %s_LAYOUT_HASH UINT64_C(0x%016llx) /* the parameters' names and shapes, as in checkpoints */\n",
            e->NAME, (unsigned long long)layout_hash(e->c->train));
    int n_in = 0;
    for (int i = 0; i < g->inputs.n; i++)
        if (!infer || emit_uses_input(&e->c->fn[FN_FORWARD], i)) {
            emit_tensor_macros(e, "INPUT", g->inputs.v[i].name, g->inputs.v[i].dtype, &g->inputs.v[i].shape);
            n_in++;
        }
    for (int i = 0; i < g->outputs.n; i++)
        emit_tensor_macros(e, "OUTPUT", g->outputs.v[i].name, g->outputs.v[i].node->dtype,
                           &g->outputs.v[i].node->shape);
    fprintf(e->o, "#define %s_INPUT_COUNT %d\n#define %s_OUTPUT_COUNT %d\n", e->NAME, n_in, e->NAME, g->outputs.n);
    if (has_class_names(e->c))
        fprintf(e->o, "#define %s_CLASS_COUNT 10\n", e->NAME);
}

/* Declarations: the table of inputs and outputs, the class names, the sizes as functions (for FFI callers). */
static void emit_metadata_decls(Emit *e, bool infer) {
    FILE *o = e->o;
    fprintf(
        o,
        "\n/* The inputs and outputs as a table: dtype \"f32\" or \"i32\", row-major dims; when batched, dims[0] is\n"
        " * %s_MAX_BATCH and a call's n takes its place. */\n",
        e->NAME);
    fprintf(o,
            "typedef struct {\n    const char *name;\n    const char *dtype;\n    int rank;\n    int batched;\n"
            "    int64_t dims[%d];\n} %s_tensor_info;\n",
            MAX_RANK, e->name);
    fprintf(o, "extern const %s_tensor_info %s_inputs[%s_INPUT_COUNT > 0 ? %s_INPUT_COUNT : 1];\n", e->name, e->name,
            e->NAME, e->NAME);
    fprintf(o, "extern const %s_tensor_info %s_outputs[%s_OUTPUT_COUNT > 0 ? %s_OUTPUT_COUNT : 1];\n", e->name, e->name,
            e->NAME, e->NAME);
    if (has_class_names(e->c))
        fprintf(o,
                "/* Fashion-MNIST's classes, by label (the trainers' names). */\n"
                "extern const char *const %s_class_names[%s_CLASS_COUNT];\n",
                e->name, e->NAME);
    fprintf(o, "/* The sizes above, as functions. */\n");
    if (infer)
        fprintf(o, "size_t %s_workspace_bytes(void);\nsize_t %s_weights_bytes(void);\nsize_t %s_scratch_bytes(void);\n",
                e->name, e->name, e->name);
    else
        fprintf(o, "size_t %s_state_bytes(void);\n", e->name);
    fprintf(o, "int %s_max_batch(void);\n", e->name);
}

static void emit_tensor_row(Emit *e, const char *name, DType dt, const Shape *sh) {
    fprintf(e->o, "    {\"%s\", \"%s\", %d, %d, {", name, dt == DT_F32 ? "f32" : "i32", sh->rank, sh->batched ? 1 : 0);
    for (int d = 0; d < sh->rank; d++)
        fprintf(e->o, "%s%" PRId64, d ? ", " : "", sh->d[d]);
    fprintf(e->o, "%s}},\n", sh->rank ? "" : "0");
}

void emit_metadata(Emit *e) {
    FILE *o = e->o;
    bool infer = e->opt->infer;
    Graph *g = e->c->eval;
    fprintf(o, "\nconst %s_tensor_info %s_inputs[%s_INPUT_COUNT > 0 ? %s_INPUT_COUNT : 1] = {\n", e->name, e->name,
            e->NAME, e->NAME);
    int n_in = 0;
    for (int i = 0; i < g->inputs.n; i++)
        if (!infer || emit_uses_input(&e->c->fn[FN_FORWARD], i)) {
            emit_tensor_row(e, g->inputs.v[i].name, g->inputs.v[i].dtype, &g->inputs.v[i].shape);
            n_in++;
        }
    if (!n_in)
        fprintf(o, "    {\"\", \"\", 0, 0, {0}},\n");
    fprintf(o, "};\n\nconst %s_tensor_info %s_outputs[%s_OUTPUT_COUNT > 0 ? %s_OUTPUT_COUNT : 1] = {\n", e->name,
            e->name, e->NAME, e->NAME);
    for (int i = 0; i < g->outputs.n; i++)
        emit_tensor_row(e, g->outputs.v[i].name, g->outputs.v[i].node->dtype, &g->outputs.v[i].node->shape);
    if (!g->outputs.n)
        fprintf(o, "    {\"\", \"\", 0, 0, {0}},\n");
    fprintf(o, "};\n");
    if (has_class_names(e->c))
        fprintf(o,
                "\nconst char *const %s_class_names[%s_CLASS_COUNT] = {\"t-shirt\", \"trouser\", \"pullover\", "
                "\"dress\", \"coat\",\n    \"sandal\", \"shirt\", \"sneaker\", \"bag\", \"ankle boot\"};\n",
                e->name, e->NAME);
    if (infer)
        fprintf(o,
                "\nsize_t %s_workspace_bytes(void) {\n    return %s_WORKSPACE_BYTES;\n}\n"
                "size_t %s_weights_bytes(void) {\n    return %s_WEIGHTS_BYTES;\n}\n"
                "size_t %s_scratch_bytes(void) {\n    return %s_SCRATCH_BYTES;\n}\n",
                e->name, e->NAME, e->name, e->NAME, e->name, e->NAME);
    else
        fprintf(o, "\nsize_t %s_state_bytes(void) {\n    return %s_STATE_BYTES;\n}\n", e->name, e->NAME);
    fprintf(o, "int %s_max_batch(void) {\n    return %s_MAX_BATCH;\n}\n", e->name, e->NAME);
}

static void emit_header_close(Emit *e) { fprintf(e->o, "\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n"); }

void emit_header(FILE *out, Compiled *c, const EmitOptions *opt) {
    Ctx *ctx = c->ctx;
    Emit e = {.ctx = ctx, .o = out, .c = c, .opt = opt, .name = c->train->name, .f64 = opt->f64};
    if (opt->infer) {
        e.NAME = emit_upper(ctx, e.name);
        e.real = xsprintf(ctx, "%s_real", e.name);
        emit_infer_header(&e);
        return;
    }
    e.NAME = emit_upper(ctx, e.name);
    e.real = xsprintf(ctx, "%s_real", e.name);
    Graph *g = c->train;
    fprintf(out, "/* %s.h: generated by dlc %s from %s.dlm. Do not edit; recompile the model instead.\n *\n", e.name,
            DLC_VERSION, e.name);
    fprintf(out,
            " * The caller owns all memory. Give every function the same state block of %s_STATE_BYTES bytes,\n"
            " * aligned to 64 bytes (a static array, the stack or one allocation at start-up); the code never\n"
            " * allocates and keeps no global state, so two states can be used from two threads. Offsets inside\n"
            " * the block are fixed at compile time. Batch sizes run from 1 to %s_MAX_BATCH.\n */\n",
            e.NAME, e.NAME);
    fprintf(out, "#ifndef %s_H\n#define %s_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n", e.NAME, e.NAME);
    emit_header_open(&e, true);
    fprintf(out, "#define %s_MAX_BATCH %" PRId64 "\n", e.NAME, g->max_batch);
    fprintf(out, "#define %s_STATE_BYTES %" PRId64 "\n", e.NAME, c->state_bytes);
    fprintf(out, "#define %s_PARAM_COUNT %d\n", e.NAME, g->params.n);
    int64_t total = 0;
    for (int i = 0; i < g->params.n; i++)
        total += shape_numel(&g->params.v[i].shape);
    fprintf(out, "#define %s_PARAM_ELEMENTS %" PRId64 "\n", e.NAME, total);
    for (int i = 0; i < g->inputs.n; i++)
        fprintf(out, "#define %s_INPUT_%s_SIZE %" PRId64 " /* per example: %s */\n", e.NAME,
                emit_macro_name(ctx, g->inputs.v[i].name), shape_inner(&g->inputs.v[i].shape),
                type_str(ctx, g->inputs.v[i].dtype, &g->inputs.v[i].shape));
    for (int i = 0; i < c->eval->outputs.n; i++)
        fprintf(out, "#define %s_OUTPUT_%s_SIZE %" PRId64 "\n", e.NAME,
                emit_macro_name(ctx, c->eval->outputs.v[i].name), shape_inner(&c->eval->outputs.v[i].node->shape));
    fprintf(out, "#define %s_METRIC_COUNT %d\n", e.NAME, g->train.metrics.n);
    if (g->train.present && c->loss_train) {
        /* -1 when a gradient is not in the arena (the gradient of a linear loss can be an input itself) */
        const Sched *ts = &c->fn[FN_TRAIN];
        fprintf(out,
                "#define %s_GRAD_OFFSET %" PRId64 " /* bytes: after %s_backward, every trainable parameter's "
                "gradient */\n",
                e.NAME, ts->pinned_all ? c->arena_off : -1, e.name);
        fprintf(out, "#define %s_GRAD_BYTES %" PRId64 " /* lies in these bytes, in parameter order */\n", e.NAME,
                ts->pinned_all ? ts->pinned_bytes : 0);
    }
    emit_metadata_macros(&e, false);
    fprintf(out, "\ntypedef %s %s;\n", opt->f64 ? "double" : "float", e.real);
    emit_metadata_decls(&e, false);
    fprintf(out, "\n/* A parameter: full name, shape, and where it lives in the state block. */\n");
    fprintf(
        out,
        "typedef struct {\n    const char *name;\n    int rank;\n    int64_t dims[%d];\n    int64_t offset;\n"
        "    int trainable;\n    int64_t opt_offset[2]; /* optimizer state (momentum; Adam m and v), -1 if none */\n"
        "} %s_param_info;\n",
        MAX_RANK, e.name);
    fprintf(out, "extern const %s_param_info %s_params[%s_PARAM_COUNT > 0 ? %s_PARAM_COUNT : 1];\n", e.name, e.name,
            e.NAME, e.NAME);
    fprintf(out, "\n/* Initialises every parameter with its declared initialiser, drawn from a generator seeded with\n"
                 " * `seed`, and zeroes the optimizer state and step counter. */\n");
    fprintf(out, "void %s_init(void *state, uint64_t seed);\n", e.name);
    emit_api(&e, true);
    if (g->train.present && c->loss_train) {
        fprintf(out,
                "\n/* Loss (mean over the n examples) in inference mode; metrics[i] receives metric i summed over\n"
                " * the batch (accuracy: correct predictions; log_rmse: squared log errors). metrics may be NULL.\n"
                " * Here and below, a loss is NaN (and nothing is done) for n outside 1..%s_MAX_BATCH. */\n",
                e.NAME);
        fprintf(out, "%s %s_evaluate(void *state, int n", e.real, e.name);
        emit_input_params(&e, &c->fn[FN_EVALUATE], true);
        fprintf(out, ", double *metrics);\n");
        fprintf(out,
                "\n/* One training step: forward in training mode, loss, backward, optimizer update with learning\n"
                " * rate lr. Returns the loss; metrics as for %s_evaluate. */\n",
                e.name);
        fprintf(out, "%s %s_train_step(void *state, int n", e.real, e.name);
        emit_input_params(&e, &c->fn[FN_TRAIN], true);
        fprintf(out, ", %s lr, double *metrics);\n", e.real);
        fprintf(out,
                "\n/* The parts of a training step, for callers that inspect gradients: %s_forward_train returns the\n"
                " * loss; %s_backward computes every gradient (%s_grad reads them) and must follow it with the\n"
                " * same inputs (0, or %s_BAD_BATCH); %s_step applies the update. */\n",
                e.name, e.name, e.name, e.NAME, e.name);
        fprintf(out, "%s %s_forward_train(void *state, int n", e.real, e.name);
        emit_input_params(&e, &c->fn[FN_TRAIN], true);
        fprintf(out, ", double *metrics);\n");
        fprintf(out, "int %s_backward(void *state, int n", e.name);
        emit_input_params(&e, &c->fn[FN_TRAIN], true);
        fprintf(out, ");\n");
        fprintf(out, "void %s_step(void *state, %s lr);\n", e.name, e.real);
        fprintf(out,
                "/* The gradient of the loss for a parameter after %s_backward, or NULL (unknown name, constant).\n"
                " * Not const: a caller may change it before %s_step (an allreduce over data-parallel replicas). */\n",
                e.name, e.name);
        fprintf(out, "%s *%s_grad(void *state, const char *name);\n", e.real, e.name);
        if (emit_has_grad_ready(c, opt)) {
            fprintf(out,
                    "/* A hook for the whole process, which %s_backward calls on any state as soon as a gradient\n"
                    " * is final: its `bytes` bytes at byte `offset` of the state, which the rest of the pass does\n"
                    " * not touch. fn may scale them or start sending them (a data-parallel trainer sums them across\n"
                    " * ranks while backward goes on); arg is passed through. NULL, the default, reports nothing. */\n",
                    e.name);
            fprintf(out, "typedef void (*%s_grad_ready_fn)(void *arg, void *state, int64_t offset, int64_t bytes);\n",
                    e.name);
            fprintf(out, "void %s_set_grad_ready(%s_grad_ready_fn fn, void *arg);\n", e.name, e.name);
        }
        if (opt->mpi && c->nsyncs > 0)
            emit_phase_decls(&e);
    }
    fprintf(
        out,
        "\n/* Loads every parameter from a checkpoint held in memory (docs/checkpoint.md; trainers write them with\n"
        " * --save). Returns %s_LOAD_OK (0) or one of the %s_LOAD_ codes above. On failure the state is\n"
        " * unchanged. */\n",
        e.NAME, e.NAME);
    fprintf(out, "int %s_load(void *state, const void *checkpoint, size_t len);\n", e.name);
    fprintf(out,
            "\n/* Writes a checkpoint of the state into buf: what the trainer's --save writes after `epochs` epochs,\n"
            " * byte for byte (the parameters, the optimizer state, the epoch and step counter; with generator,\n"
            " * the trainer's PCG32 {state, inc}). Returns its size: %s_CHECKPOINT_BYTES, 36 less without\n"
            " * generator; when that is more than cap (or buf is NULL) nothing is written. */\n",
            e.NAME);
    fprintf(out, "#define %s_CHECKPOINT_BYTES %" PRId64 "\n", e.NAME, emit_checkpoint_bytes(c));
    fprintf(out,
            "size_t %s_save(const void *state, uint64_t epochs, const uint64_t *generator, void *buf, size_t cap);\n",
            e.name);
    fprintf(out, "\n/* A parameter's values by full name (\"features.0.weight\"), or NULL. */\n");
    fprintf(out, "%s *%s_param(void *state, const char *name);\n", e.real, e.name);
    fprintf(out,
            "\n/* Training steps taken (drives dropout masks and Adam's bias correction; saved in checkpoints). */\n");
    fprintf(out, "uint64_t *%s_step_counter(void *state);\n", e.name);
    fprintf(out,
            "/* The global index of the batch's first example (0 unless a data-parallel trainer runs part of a\n"
            " * larger batch): dropout masks are keyed by it, so they do not depend on how a batch is split. */\n");
    fprintf(out, "uint64_t *%s_example_base(void *state);\n", e.name);
    if (emit_has_gemm_hook(c, opt)) {
        fprintf(out,
                "/* A matrix product to run instead of OpenBLAS's sgemm: C [m x n] = op(A) op(B), row-major, op\n"
                " * transposing when ta / tb, added to C when accumulate. It holds for every state of the program\n"
                " * (the hook is not part of the state block); the trainers' --precision bf16 passes libdlrt's\n"
                " * dlrt_gemm_bf16. NULL, the default, is sgemm. Set it before the first call, not during one. */\n");
        fprintf(out,
                "typedef void (*%s_gemm_fn)(int ta, int tb, int m, int n, int k, const float *a, int lda, const float "
                "*b,\n%*sint ldb, float *c, int ldc, int accumulate);\n",
                e.name, (int)strlen(e.name) + 22, "");
        fprintf(out, "void %s_set_gemm(%s_gemm_fn product);\n", e.name, e.name);
    }
    if (emit_has_conv_hook(c, opt)) {
        fprintf(
            out,
            "/* A chunk of g images' convolution, x [g, C, H, W] with w [K, C, R, S] into [g, K, P, Q], to run\n"
            " * instead of im2col and the product: op 0 the forward product into out [K x g*P*Q] (a = w, image\n"
            " * = x), 1 the input gradient into out [C x g*H*W] (a = w, image = dy), 2 the weight gradient into\n"
            " * out [K x C*R*S], added to it when accumulate (a = dy, image = x). It returns 0, leaving out alone,\n"
            " * for a product it does not take, which then runs as without it. The trainers pass libdlrt's\n"
            " * dlrt_conv_f32. NULL, the default, is im2col. Set it before the first call, not during one. */\n");
        fprintf(out,
                "typedef int (*%s_conv_fn)(int op, int g, int K, int C, int H, int W, int R, int S, int P, int Q, int "
                "sh,\n%*sint sw, int ph, int pw, const float *a, const float *image, float *out,\n%*sint "
                "accumulate);\n",
                e.name, (int)strlen(e.name) + 24, "", (int)strlen(e.name) + 24, "");
        fprintf(out, "void %s_set_conv(%s_conv_fn conv);\n", e.name, e.name);
    }
    if (emit_has_loop_limits(c)) {
        fprintf(out,
                "/* The .dlm line of the first bounded while loop whose condition still held after its last\n"
                " * iteration in the last %s_forward, _forward_train (or _train_step) or _evaluate on this state,\n"
                " * or 0 when none did. */\n",
                e.name);
        fprintf(out, "int %s_loop_limit(const void *state);\n", e.name);
    }
    emit_header_close(&e);
}

/* ---- the inference header ---- */

static Output *first_output(Compiled *c) { return c->eval->outputs.n ? &c->eval->outputs.v[0] : NULL; }

static void emit_infer_header(Emit *e) {
    Compiled *c = e->c;
    FILE *o = e->o;
    Graph *g = c->eval;
    Sched *fw = &c->fn[FN_FORWARD];
    bool baked = c->baked != NULL;
    fprintf(o,
            "/* %s.h: generated by dlc %s from %s.dlm: inference only. Do not edit; recompile the model instead.\n *\n",
            e->name, DLC_VERSION, e->name);
    fprintf(o,
            " * The forward pass in evaluation mode (dropout off). The caller owns all memory: a context of\n"
            " * %s_WORKSPACE_BYTES bytes, aligned to 64 (a static array, the stack or one allocation at start-up).\n"
            " * The code never allocates, does no I/O and keeps no global mutable state, so two contexts can run in\n"
            " * two threads. %s\n */\n",
            e->NAME,
            baked ? "The weights are compiled in." : xsprintf(e->ctx, "Load the weights with %s_load first.", e->name));
    fprintf(o, "#ifndef %s_H\n#define %s_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n", e->NAME, e->NAME);
    emit_header_open(e, !baked);
    fprintf(o, "#define %s_MAX_BATCH %" PRId64 "\n", e->NAME, g->max_batch);
    fprintf(o, "#define %s_WORKSPACE_BYTES %" PRId64 " /* = %s_WEIGHTS_BYTES + %s_SCRATCH_BYTES */\n", e->NAME,
            c->state_bytes, e->NAME, e->NAME);
    fprintf(o, "#define %s_WEIGHTS_BYTES %" PRId64 " /* the block's start: %s */\n", e->NAME, c->arena_off,
            baked ? "unused, the weights are compiled in" : "the weights, read-only once loaded");
    fprintf(o, "#define %s_SCRATCH_BYTES %" PRId64 " /* the rest: activations, per thread */\n", e->NAME,
            c->state_bytes - c->arena_off);
    for (int i = 0; i < g->inputs.n; i++)
        if (emit_uses_input(fw, i))
            fprintf(o, "#define %s_INPUT_%s_SIZE %" PRId64 " /* per example: %s */\n", e->NAME,
                    emit_macro_name(e->ctx, g->inputs.v[i].name), shape_inner(&g->inputs.v[i].shape),
                    type_str(e->ctx, g->inputs.v[i].dtype, &g->inputs.v[i].shape));
    for (int i = 0; i < g->outputs.n; i++)
        fprintf(o, "#define %s_OUTPUT_%s_SIZE %" PRId64 "\n", e->NAME, emit_macro_name(e->ctx, g->outputs.v[i].name),
                shape_inner(&g->outputs.v[i].node->shape));
    emit_metadata_macros(e, true);
    fprintf(o, "\ntypedef %s %s;\n", e->f64 ? "double" : "float", e->real);
    emit_metadata_decls(e, true);
    if (!baked) {
        fprintf(o,
                "\n/* Loads every parameter from a checkpoint held in memory (the format of dlc's docs/checkpoint.md,\n"
                " * as trainers write with --save). Returns %s_LOAD_OK (0) or one of the %s_LOAD_ codes above. On\n"
                " * failure the context is unchanged. */\n",
                e->NAME, e->NAME);
        fprintf(o, "int %s_load(void *ctx, const void *checkpoint, size_t len);\n", e->name);
    }
    Output *out = first_output(c);
    if (out) {
        char *ins = xstrdup(e->ctx, "");
        for (int i = 0; i < g->inputs.n; i++)
            if (emit_uses_input(fw, i))
                ins = xsprintf(e->ctx, "%s%s%s %s", ins, *ins ? ", " : "",
                               type_str(e->ctx, g->inputs.v[i].dtype, &g->inputs.v[i].shape), g->inputs.v[i].name);
        const char *range = c->train->train.data == DATA_FASHION_MNIST
                                ? " Pixels are in [0, 1] (byte / 255), light on dark, as the trainers load them."
                                : "";
        fprintf(o,
                "\n/* Runs the model on one example. Input: %s (one example's worth).%s Writes output '%s',\n"
                " * %" PRId64 " values (%s), to `out`. */\n",
                ins, range, out->name, shape_inner(&out->node->shape),
                type_str(e->ctx, out->node->dtype, &out->node->shape));
        fprintf(o, "void %s_predict(void *ctx", e->name);
        emit_input_params(e, fw, false);
        fprintf(o, ", %s *out);\n", e->real);
        fprintf(o,
                "\n/* The same for n examples, 1 <= n <= %s_MAX_BATCH, stored one after another. Returns 0, or\n"
                " * %s_BAD_BATCH (nothing done) for another n. */\n",
                e->NAME, e->NAME);
        fprintf(o, "int %s_predict_batch(void *ctx, int n", e->name);
        emit_input_params(e, fw, false);
        fprintf(o, ", %s *out);\n", e->real);
        fprintf(
            o,
            "\n/* The same with the weights and the scratch apart, so that threads share one read-only copy of the\n"
            " * weights: `weights` is a block of %s_WEIGHTS_BYTES (%s), `scratch` one of\n"
            " * %s_SCRATCH_BYTES per thread, both aligned to %s_ALIGN. */\n",
            e->NAME,
            baked ? "not read: the weights are compiled in; NULL will do"
                  : xsprintf(e->ctx, "%s_load fills it", e->name),
            e->NAME, e->NAME);
        fprintf(o, "int %s_predict_shared(const void *weights, void *scratch, int n", e->name);
        emit_input_params(e, fw, false);
        fprintf(o, ", %s *out);\n", e->real);
    }
    fprintf(
        o,
        "\n/* The forward pass on n examples; the outputs stay readable through %s_output_*() until the next call.\n"
        " * Returns 0, or %s_BAD_BATCH (nothing done) for n outside 1..%s_MAX_BATCH. */\n",
        e->name, e->NAME, e->NAME);
    fprintf(o, "int %s_forward(void *ctx, int n", e->name);
    emit_input_params(e, fw, false);
    fprintf(o, ");\n");
    for (int i = 0; i < g->outputs.n; i++)
        fprintf(o, "const %s *%s_output_%s(const void *ctx);\n", e->real, e->name,
                emit_ident(e->ctx, g->outputs.v[i].name));
    emit_header_close(e);
}

/* ---- initialisers ---- */

static bool init_uses(const Init *x, bool normal) {
    if (!x)
        return false;
    bool n = x->kind == INIT_NORMAL || x->kind == INIT_XAVIER_NORMAL || x->kind == INIT_KAIMING_NORMAL;
    bool u = x->kind == INIT_UNIFORM || x->kind == INIT_XAVIER_UNIFORM || x->kind == INIT_KAIMING_UNIFORM;
    return (normal ? n : u) || init_uses(x->x, normal) || init_uses(x->y, normal);
}

static void emit_init_body(Emit *e, bool random);

/* The C expression of one initialiser for element i of parameter pi; `v` holds the previous one's value. */
static char *init_expr(Ctx *ctx, Init *x, int pi, int ki, double fi, double fo) {
    switch (x->kind) {
    case INIT_CONST:
        return xsprintf(ctx, "%.17g", x->a);
    case INIT_NORMAL:
        return xsprintf(ctx, "(%.17g + %.17g * rng_normal(&r))", x->a, x->b);
    case INIT_UNIFORM:
        return xsprintf(ctx, "(%.17g + %.17g * rng_uniform(&r))", x->a, x->b - x->a);
    case INIT_XAVIER_UNIFORM: {
        double b = x->a * sqrt(6.0 / (fi + fo));
        return xsprintf(ctx, "(%.17g + %.17g * rng_uniform(&r))", -b, 2 * b);
    }
    case INIT_XAVIER_NORMAL:
        return xsprintf(ctx, "(%.17g * rng_normal(&r))", x->a * sqrt(2.0 / (fi + fo)));
    case INIT_KAIMING_UNIFORM: {
        double b = x->a * sqrt(2.0) * sqrt(3.0 / fi);
        return xsprintf(ctx, "(%.17g + %.17g * rng_uniform(&r))", -b, 2 * b);
    }
    case INIT_KAIMING_NORMAL:
        return xsprintf(ctx, "(%.17g * rng_normal(&r))", x->a * sqrt(2.0 / fi));
    case INIT_SELF:
        return xstrdup(ctx, "v");
    case INIT_NEG:
        return xsprintf(ctx, "(-%s)", init_expr(ctx, x->x, pi, ki, fi, fo));
    case INIT_ABS:
        return xsprintf(ctx, "fabs(%s)", init_expr(ctx, x->x, pi, ki, fi, fo));
    case INIT_DATA:
        return xsprintf(ctx, "init_%d_%d[i]", pi, ki);
    default:
        break;
    }
    const char *op = x->kind == INIT_ADD   ? "+"
                     : x->kind == INIT_SUB ? "-"
                     : x->kind == INIT_MUL ? "*"
                     : x->kind == INIT_DIV ? "/"
                     : x->kind == INIT_LT  ? "<"
                     : x->kind == INIT_LE  ? "<="
                     : x->kind == INIT_GT  ? ">"
                                           : ">=";
    char *a = init_expr(ctx, x->x, pi, ki, fi, fo), *b = init_expr(ctx, x->y, pi, ki, fi, fo);
    if (x->kind >= INIT_LT)
        return xsprintf(ctx, "(%s %s %s ? 1.0 : 0.0)", a, op, b);
    return xsprintf(ctx, "(%s %s %s)", a, op, b);
}

void emit_init(Emit *e) {
    Graph *g = e->c->train;
    FILE *o = e->o;
    bool normal = false, uniform = false;
    for (int i = 0; i < g->params.n; i++)
        for (int k = 0; k < g->params.v[i].inits.n; k++) {
            normal |= init_uses(g->params.v[i].inits.v[k], true);
            uniform |= init_uses(g->params.v[i].inits.v[k], false);
        }
    if (!normal && !uniform) {
        emit_init_body(e, false);
        return;
    }
    fprintf(o, "\n/* PCG32 and Box-Muller, as libdlrt's generator, for the initialisers. */\n");
    fprintf(o, "typedef struct {\n    uint64_t state, inc;\n} rng;\n");
    fprintf(o, "static uint32_t rng_u32(rng *r) {\n    uint64_t old = r->state;\n"
               "    r->state = old * 6364136223846793005u + r->inc;\n"
               "    uint32_t xs = (uint32_t)(((old >> 18) ^ old) >> 27), rot = (uint32_t)(old >> 59);\n"
               "    return (xs >> rot) | (xs << ((-rot) & 31));\n}\n");
    fprintf(o, "static void rng_seed(rng *r, uint64_t seed, uint64_t stream) {\n    r->state = 0;\n"
               "    r->inc = (stream << 1) | 1u;\n    rng_u32(r);\n    r->state += seed;\n    rng_u32(r);\n}\n");
    fprintf(o, "static double rng_uniform(rng *r) {\n    uint32_t a = rng_u32(r) >> 5, b = rng_u32(r) >> 6;\n"
               "    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);\n}\n");
    if (normal)
        fprintf(o, "static double rng_normal(rng *r) {\n    double u1 = 1.0 - rng_uniform(r), u2 = rng_uniform(r);\n"
                   "    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);\n}\n");
    emit_init_body(e, true);
}

static void emit_init_body(Emit *e, bool random) {
    Compiled *c = e->c;
    Graph *g = c->train;
    FILE *o = e->o;
    const char *R = e->real;
    /* custom-data initialisers */
    for (int i = 0; i < g->params.n; i++) {
        Param *p = &g->params.v[i];
        for (int k = 0; k < p->inits.n; k++) {
            Init *in = p->inits.v[k];
            if (in->kind != INIT_DATA)
                continue;
            int64_t cnt = (int64_t)in->a;
            fprintf(o, "static const double init_%d_%d[%" PRId64 "] = {", i, k, cnt);
            for (int64_t j = 0; j < cnt; j++)
                fprintf(o, "%s%.17g", j % 6 ? ", " : (j ? ",\n    " : "\n    "), in->data[j]);
            fprintf(o, "\n};\n");
        }
    }
    fprintf(o, "\nvoid %s_init(void *state, uint64_t seed) {\n", e->name);
    fprintf(o, "    unsigned char *st = (unsigned char *)state;\n");
    fprintf(o, "    memset(st, 0, %" PRId64 ");\n", c->arena_off);
    fprintf(o, "    header *h = (header *)state;\n    h->seed = seed;\n    h->step = 0;\n    h->base = 0;\n");
    if (random)
        fprintf(o, "    rng r;\n");
    for (int i = 0; i < g->params.n; i++) {
        Param *p = &g->params.v[i];
        int64_t cnt = shape_numel(&p->shape);
        fprintf(o, "    /* %s %s", p->name, shape_str(e->ctx, &p->shape));
        if (p->loc.src)
            fprintf(o, ", %s.dlm line %d", e->name, p->loc.line);
        fprintf(o, " */\n");
        if (random)
            fprintf(o, "    rng_seed(&r, seed, %d);\n", i);
        fprintf(o, "    for (int64_t i = 0; i < %" PRId64 "; i++) {\n", cnt);
        fprintf(o, "        double v = 0.0;\n");
        for (int k = 0; k < p->inits.n; k++) {
            Init *in = p->inits.v[k];
            fprintf(o, "        v = %s;\n", init_expr(e->ctx, in, i, k, (double)p->fan_in, (double)p->fan_out));
        }
        fprintf(o, "        ((%s *)(st + %" PRId64 "))[i] = (%s)v;\n    }\n", R, c->param_off[i], R);
    }
    fprintf(o, "}\n");
}

/* ---- the checkpoint reader ---- */

void emit_loader(Emit *e) {
    Compiled *c = e->c;
    FILE *o = e->o;
    Graph *g = c->train;
    fprintf(o, "\n/* The checkpoint reader: little-endian fields, CRC-32 per tensor record (docs/checkpoint.md). */\n");
    fprintf(o, "static uint64_t le(const unsigned char *p, int bytes) {\n    uint64_t v = 0;\n"
               "    for (int i = bytes - 1; i >= 0; i--)\n        v = v << 8 | p[i];\n    return v;\n}\n");
    fprintf(o, "static uint32_t crc32(const unsigned char *p, uint64_t n) {\n    uint32_t c = 0xFFFFFFFFu;\n"
               "    for (uint64_t i = 0; i < n; i++) {\n        c ^= p[i];\n        for (int k = 0; k < 8; k++)\n"
               "            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));\n    }\n    return ~c;\n}\n");
    fprintf(o,
            "static const struct {\n    const char *name;\n    int rank;\n    uint64_t dims[%d];\n    int64_t offset;\n"
            "} tensors[%d] = {\n",
            MAX_RANK, g->params.n > 0 ? g->params.n : 1);
    for (int i = 0; i < g->params.n; i++) {
        Param *p = &g->params.v[i];
        fprintf(o, "    {\"%s\", %d, {", p->name, p->shape.rank);
        for (int d = 0; d < p->shape.rank; d++)
            fprintf(o, "%s%" PRId64, d ? ", " : "", p->shape.d[d]);
        if (!p->shape.rank)
            fprintf(o, "0"); /* a scalar (num_batches_tracked): ISO C has no empty initialiser */
        fprintf(o, "}, %" PRId64 "},\n", c->param_off[i]);
    }
    if (!g->params.n)
        fprintf(o, "    {\"\", 0, {0}, 0},\n");
    fprintf(o, "};\n");
    fprintf(o, "\nint %s_load(void *ctx, const void *checkpoint, size_t len) {\n", e->name);
    fprintf(o, "    const unsigned char *b = (const unsigned char *)checkpoint;\n");
    fprintf(o, "    static const unsigned char magic[8] = {0x89, 'D', 'L', 'C', 'K', 'P', 'T', '\\n'};\n");
    fprintf(o, "    if (len < 32 || memcmp(b, magic, 8) != 0 || le(b + 8, 4) != 1 || le(b + 24, 8) != len)\n        "
               "return -1;\n");
    fprintf(o, "    const unsigned char *parm = NULL;\n    uint64_t parm_len = 0, parm_count = 0, at = 32;\n");
    fprintf(o, "    for (uint64_t s = le(b + 12, 4); s > 0; s--) {\n"
               "        if (len - at < 16)\n            return -1;\n"
               "        uint64_t body = le(b + at + 8, 8);\n"
               "        if (body > len - at - 16)\n            return -1;\n"
               "        if (le(b + at, 4) == 0x4D524150u) { /* \"PARM\" */\n"
               "            if (parm)\n                return -1; /* a tag appears at most once */\n"
               "            parm = b + at + 16;\n            parm_len = body;\n            parm_count = le(b + at + 4, "
               "4);\n        }\n"
               "        at += 16 + body;\n    }\n"
               "    if (at != len)\n        return -1; /* the sections must tile the file */\n");
    fprintf(o, "    if (!parm)\n        return -1;\n    if (parm_count != %d)\n        return -2;\n", g->params.n);
    fprintf(o, "    /* check every record first, then copy: a refused file changes nothing */\n");
    fprintf(o, "    for (int pass = 0; pass < 2; pass++) {\n        uint64_t q = 0;\n");
    fprintf(o, "        for (int i = 0; i < %d; i++) {\n", g->params.n);
    fprintf(o, "            uint64_t start = q, count = 1;\n");
    fprintf(o, "            if (parm_len - q < 4)\n                return -1;\n");
    fprintf(o, "            uint64_t name_len = le(parm + q, 4);\n            q += 4;\n");
    fprintf(o,
            "            if (name_len > parm_len - q || name_len != strlen(tensors[i].name) ||\n"
            "                memcmp(parm + q, tensors[i].name, (size_t)name_len) != 0)\n                return -2;\n");
    fprintf(o, "            q += name_len;\n            if (parm_len - q < 8)\n                return -1;\n");
    fprintf(o, "            uint64_t dtype = le(parm + q, 4), rank = le(parm + q + 4, 4);\n            q += 8;\n");
    fprintf(o, "            if (rank != (uint64_t)tensors[i].rank || parm_len - q < 8 * rank + 8)\n                "
               "return -2;\n");
    fprintf(o, "            for (uint64_t d = 0; d < rank; d++, q += 8) {\n"
               "                if (le(parm + q, 8) != tensors[i].dims[d])\n                    return -2;\n"
               "                count *= tensors[i].dims[d];\n            }\n");
    fprintf(o, "            uint64_t size = dtype == 1 ? 4 : dtype == 2 ? 8 : 0, data_len = le(parm + q, 8);\n         "
               "   q += 8;\n");
    fprintf(o, "            if (size == 0 || data_len != count * size || parm_len - q < data_len + 4)\n                "
               "return -1;\n");
    fprintf(o, "            const unsigned char *data = parm + q;\n            q += data_len;\n");
    fprintf(o, "            if (pass == 0 && crc32(parm + start, q - start) != (uint32_t)le(parm + q, 4))\n            "
               "    return -3;\n");
    fprintf(o, "            q += 4;\n            if (pass == 0)\n                continue;\n");
    fprintf(o, "            %s *dst = (%s *)(void *)((unsigned char *)ctx + tensors[i].offset);\n", e->real, e->real);
    fprintf(
        o,
        "            for (uint64_t k = 0; k < count; k++) {\n"
        "                if (size == 4) {\n                    uint32_t u = (uint32_t)le(data + 4 * k, 4);\n"
        "                    float f;\n                    memcpy(&f, &u, 4);\n                    dst[k] = (%s)f;\n"
        "                } else {\n                    uint64_t u = le(data + 8 * k, 8);\n                    double "
        "d;\n"
        "                    memcpy(&d, &u, 8);\n                    dst[k] = (%s)d;\n                }\n            "
        "}\n",
        e->real, e->real);
    fprintf(o, "        }\n    }\n    return 0;\n}\n");
}

/* ---- the checkpoint writer ---- */

/* One tensor _save writes: a parameter, or an optimizer buffer named "<param>#<momentum|adam_m|adam_v>" as the
 * trainer names them (runtime/train.c). */
typedef struct {
    const char *name;
    const Shape *shape;
    int64_t offset;
} SavedTensor;

/* The tensors of each section and the size of everything _save writes; the size does not depend on the state, so
 * the header states it. */
typedef struct {
    Vec(SavedTensor) parm, optm;
    int64_t parm_body, optm_body, bytes; /* bytes: with the RNGS section */
} SaveLayout;

static int64_t record_bytes(const SavedTensor *t, int64_t elem) {
    return 4 + (int64_t)strlen(t->name) + 8 + 8 * t->shape->rank + 8 + shape_numel(t->shape) * elem + 4;
}

static SaveLayout save_layout(Compiled *c) {
    Ctx *ctx = c->ctx;
    Graph *g = c->train;
    SaveLayout l = {0};
    static const char *const optim_names[2][2] = {{"momentum", NULL}, {"adam_m", "adam_v"}};
    for (int i = 0; i < g->params.n; i++) {
        Param *p = &g->params.v[i];
        vec_push(ctx, &l.parm, ((SavedTensor){p->name, &p->shape, c->param_off[i]}));
        l.parm_body += record_bytes(&l.parm.v[l.parm.n - 1], c->elem_size);
    }
    bool adam = g->train.optim == OPTIM_ADAM;
    for (int i = 0; i < g->params.n; i++) {
        Param *p = &g->params.v[i];
        for (int k = 0; k < 2 && c->opt_off[i] >= 0; k++) {
            if (!optim_names[adam][k])
                continue;
            int64_t off = c->opt_off[i] + k * shape_numel(&p->shape) * c->elem_size;
            vec_push(ctx, &l.optm,
                     ((SavedTensor){xsprintf(ctx, "%s#%s", p->name, optim_names[adam][k]), &p->shape, off}));
            l.optm_body += record_bytes(&l.optm.v[l.optm.n - 1], c->elem_size);
        }
    }
    l.bytes = 32 + 16 + l.parm_body + (l.optm.n ? 16 + l.optm_body : 0) + 36 + 36;
    return l;
}

/* FNV-1a 64 over each parameter's name, a 0 byte, its rank (4 bytes) and dims (8 bytes each), little-endian. */
static uint64_t layout_hash(Graph *g) {
    uint64_t h = 0xcbf29ce484222325u;
    for (int i = 0; i < g->params.n; i++) {
        Param *p = &g->params.v[i];
        unsigned char b[8];
        for (const char *s = p->name;; s++) {
            h = (h ^ (unsigned char)*s) * 0x100000001b3u;
            if (!*s)
                break;
        }
        for (int k = 0; k < 4; k++)
            h = (h ^ ((uint32_t)p->shape.rank >> (8 * k) & 0xffu)) * 0x100000001b3u;
        for (int d = 0; d < p->shape.rank; d++) {
            for (int k = 0; k < 8; k++)
                b[k] = (unsigned char)((uint64_t)p->shape.d[d] >> (8 * k));
            for (int k = 0; k < 8; k++)
                h = (h ^ b[k]) * 0x100000001b3u;
        }
    }
    return h;
}

int64_t emit_checkpoint_bytes(Compiled *c) { return save_layout(c).bytes; }

static void emit_saved_table(Emit *e, const char *table, const SavedTensor *t, int n) {
    fprintf(e->o,
            "static const struct {\n    const char *name;\n    int rank;\n    uint64_t dims[%d];\n"
            "    int64_t offset;\n} %s[%d] = {\n",
            MAX_RANK, table, n > 0 ? n : 1);
    for (int i = 0; i < n; i++) {
        fprintf(e->o, "    {\"%s\", %d, {", t[i].name, t[i].shape->rank);
        for (int d = 0; d < t[i].shape->rank; d++)
            fprintf(e->o, "%s%" PRId64, d ? ", " : "", t[i].shape->d[d]);
        if (!t[i].shape->rank)
            fprintf(e->o, "0"); /* a scalar (num_batches_tracked): ISO C has no empty initialiser */
        fprintf(e->o, "}, %" PRId64 "},\n", t[i].offset);
    }
    if (!n)
        fprintf(e->o, "    {\"\", 0, {0}, 0},\n");
    fprintf(e->o, "};\n");
}

/* <name>_save: the checkpoint the trainer's --save writes for the same state, byte for byte (PARM, OPTM when the
 * optimizer has state, TRAN, and RNGS when the caller has the trainer's generator). Follows emit_loader, whose
 * crc32 it uses. */
void emit_saver(Emit *e) {
    Compiled *c = e->c;
    FILE *o = e->o;
    SaveLayout l = save_layout(c);
    int elem = (int)c->elem_size, dtype = elem == 4 ? 1 : 2;
    fprintf(o, "\n/* The checkpoint writer: the same bytes as the trainer's --save (docs/checkpoint.md). */\n");
    emit_saved_table(e, "saved_params", l.parm.v, l.parm.n);
    if (l.optm.n)
        emit_saved_table(e, "saved_optim", l.optm.v, l.optm.n);
    fprintf(o, "static unsigned char *ck_put(unsigned char *p, uint64_t v, int bytes) {\n"
               "    for (int i = 0; i < bytes; i++)\n        p[i] = (unsigned char)(v >> (8 * i));\n"
               "    return p + bytes;\n}\n");
    fprintf(o, "static unsigned char *ck_section(unsigned char *p, uint32_t tag, uint32_t count, uint64_t body) {\n"
               "    return ck_put(ck_put(ck_put(p, tag, 4), count, 4), body, 8);\n}\n");
    fprintf(o, "static unsigned char *ck_small(unsigned char *p, uint32_t tag, uint64_t a, uint64_t b) {\n"
               "    p = ck_put(ck_put(ck_section(p, tag, 0, 20), a, 8), b, 8);\n"
               "    return ck_put(p, crc32(p - 16, 16), 4);\n}\n");
    fprintf(
        o,
        "static unsigned char *ck_record(unsigned char *p, const unsigned char *st, const char *name, int rank,\n"
        "                                 const uint64_t *dims, int64_t offset) {\n"
        "    unsigned char *rec = p;\n    size_t len = strlen(name);\n    uint64_t count = 1;\n"
        "    p = ck_put(p, len, 4);\n    memcpy(p, name, len);\n    p = ck_put(p + len, %d, 4);\n"
        "    p = ck_put(p, (uint64_t)rank, 4);\n"
        "    for (int d = 0; d < rank; d++) {\n        p = ck_put(p, dims[d], 8);\n        count *= dims[d];\n    }\n"
        "    p = ck_put(p, count * %d, 8);\n"
        "    const %s *v = (const %s *)(const void *)(st + offset);\n"
        "    for (uint64_t k = 0; k < count; k++) {\n        uint%d_t u;\n        memcpy(&u, &v[k], %d);\n"
        "        p = ck_put(p, u, %d);\n    }\n"
        "    return ck_put(p, crc32(rec, (uint64_t)(p - rec)), 4);\n}\n",
        dtype, elem, e->real, e->real, elem * 8, elem, elem);
    fprintf(
        o, "\nsize_t %s_save(const void *state, uint64_t epochs, const uint64_t *generator, void *buf, size_t cap) {\n",
        e->name);
    fprintf(o, "    size_t size = generator ? %s_CHECKPOINT_BYTES : %s_CHECKPOINT_BYTES - 36;\n", e->NAME, e->NAME);
    fprintf(o, "    if (!buf || size > cap)\n        return size;\n");
    fprintf(o, "    const unsigned char *st = (const unsigned char *)state;\n");
    fprintf(o, "    static const unsigned char magic[8] = {0x89, 'D', 'L', 'C', 'K', 'P', 'T', '\\n'};\n");
    fprintf(o, "    unsigned char *p = (unsigned char *)buf;\n    memcpy(p, magic, 8);\n");
    fprintf(o, "    p = ck_put(ck_put(p + 8, 1, 4), %du + (generator != NULL), 4);\n", 2 + (l.optm.n > 0));
    fprintf(o, "    p = ck_put(ck_put(p, UINT64_C(0x%016llx), 8), size, 8);\n",
            (unsigned long long)layout_hash(c->train));
    fprintf(o, "    p = ck_section(p, 0x4D524150u, %d, %" PRId64 "); /* PARM */\n", l.parm.n, l.parm_body);
    fprintf(o, "    for (int i = 0; i < %d; i++)\n", l.parm.n);
    fprintf(o, "        p = ck_record(p, st, saved_params[i].name, saved_params[i].rank, saved_params[i].dims,\n"
               "                       saved_params[i].offset);\n");
    if (l.optm.n) {
        fprintf(o, "    p = ck_section(p, 0x4D54504Fu, %d, %" PRId64 "); /* OPTM */\n", l.optm.n, l.optm_body);
        fprintf(o, "    for (int i = 0; i < %d; i++)\n", l.optm.n);
        fprintf(o, "        p = ck_record(p, st, saved_optim[i].name, saved_optim[i].rank, saved_optim[i].dims,\n"
                   "                       saved_optim[i].offset);\n");
    }
    fprintf(o, "    p = ck_small(p, 0x4E415254u, epochs, ((const header *)state)->step); /* TRAN */\n");
    fprintf(o, "    if (generator)\n        p = ck_small(p, 0x53474E52u, generator[0], generator[1]); /* RNGS */\n");
    fprintf(o, "    return (size_t)(p - (unsigned char *)buf);\n}\n");
}
