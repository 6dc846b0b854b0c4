/* quant.c: int8 inference (dlc compile --infer --weights CKPT --quantize int8 --calibration DATA).
 *
 * After the middle end, quant_plan picks the forward schedule's kernels whose op has an int8 kernel
 * (OpRule.int8_weights, emit_int8: matmul and conv2d) and whose weight is compiled in (a baked parameter, or a
 * constant that batch normalization was folded into), and quantizes each weight per output channel, symmetric:
 * scale[o] = max |w[o]| / 127, q = round(w / scale[o]). The driver (main.c) then runs the f32 inference code, with
 * a call before each such kernel recording its input's range (quant_emit_observe, quant_emit_harness), over the
 * calibration images, and quant_set_range turns each range into the input's scale, one per tensor with zero
 * point 0: max / 255 as uint8 when the input was never negative (pixels, sigmoid and ReLU outputs), else
 * max |x| / 127 as int8. The emitter then writes those kernels in int8 with int32 sums (emit_int8 of the op's
 * rule) and leaves out the f32 weights only they read. Every other op stays f32: the int32 sums are scaled back
 * to f32 by one multiply per output, and the next int8 kernel quantizes its input again. */
#include <inttypes.h>
#include <math.h>

#include "dlc.h"

/* The values of a kernel's weight operand when they are known at compile time, else NULL. */
static const double *weight_values(const Compiled *c, const IrNode *w) {
    if (w->op == OP_CONST && w->data)
        return w->data;
    if ((w->op == OP_PARAM || w->op == OP_STATE) && c->baked && c->baked[w->index])
        return c->baked[w->index];
    return NULL;
}

static void quantize_weights(Ctx *ctx, QuantKernel *k, const double *w) {
    int64_t n = k->channels * k->inner;
    k->w = xalloc(ctx, (size_t)n + 1);
    k->wscale = xalloc(ctx, sizeof(double) * (size_t)k->channels);
    for (int64_t o = 0; o < k->channels; o++) {
        const double *row = w + o * k->inner;
        double m = 0;
        for (int64_t i = 0; i < k->inner; i++)
            m = fmax(m, fabs(row[i]));
        double s = m > 0 ? m / 127 : 1;
        k->wscale[o] = s;
        for (int64_t i = 0; i < k->inner; i++) {
            double q = nearbyint(row[i] / s);
            k->w[o * k->inner + i] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
        }
    }
}

QuantPlan *quant_plan(Compiled *c) {
    Ctx *ctx = c->ctx;
    Graph *g = c->eval;
    Sched *fw = &c->fn[FN_FORWARD];
    QuantPlan *p = xalloc(ctx, sizeof *p);
    p->of = xalloc(ctx, sizeof(int) * (size_t)(g->nodes.n + 1));
    p->weight_dead = xalloc(ctx, sizeof(bool) * (size_t)(g->nodes.n + 1));
    for (int i = 0; i < g->nodes.n; i++)
        p->of[i] = -1;
    for (int i = 0; i < fw->kernels.n; i++) {
        IrNode *n = fw->kernels.v[i];
        const OpRule *r = op_rule(n->op);
        QuantKernel k = {.node = n};
        const double *w = n->nin > 1 ? weight_values(c, n->in[1]) : NULL;
        if (!r->int8_weights || !w || n->dtype != DT_F32 || weight_values(c, n->in[0]) ||
            !r->int8_weights(n, w, NULL, &k.channels, &k.inner))
            continue;
        double *laid = xalloc(ctx, sizeof(double) * (size_t)(k.channels * k.inner + 1));
        r->int8_weights(n, w, laid, &k.channels, &k.inner);
        quantize_weights(ctx, &k, laid);
        p->of[n->id] = p->k.n;
        vec_push(ctx, &p->k, k);
        p->weight_dead[n->in[1]->id] = true;
    }
    /* a weight that anything else reads keeps its f32 array */
    for (int i = 0; i < g->nodes.n; i++) {
        IrNode *n = g->nodes.v[i];
        if (!fw->live[i])
            continue;
        for (int j = 0; j < n->nin; j++)
            if (!(j == 1 && p->of[n->id] >= 0))
                p->weight_dead[n->in[j]->id] = false;
    }
    return p;
}

void quant_set_range(QuantKernel *k, double lo, double hi) {
    k->lo = lo, k->hi = hi;
    k->u8 = lo >= 0;
    double m = k->u8 ? hi / 255 : fmax(fabs(lo), fabs(hi)) / 127;
    k->ascale = m > 0 && isfinite(m) ? m : 1;
}

const QuantKernel *quant_of(const Compiled *c, const IrNode *n) {
    if (!c->quant || n->id >= c->eval->nodes.n || c->eval->nodes.v[n->id] != n || c->quant->of[n->id] < 0)
        return NULL;
    return &c->quant->k.v[c->quant->of[n->id]];
}

bool quant_weight_dead(const Compiled *c, const IrNode *n) {
    return c->quant && n->id < c->eval->nodes.n && c->eval->nodes.v[n->id] == n && c->quant->weight_dead[n->id];
}

void quant_emit_tables(Emit *e) {
    FILE *o = e->o;
    const QuantPlan *p = e->c->quant;
    bool u8 = false, s8 = false;
    if (!p || !p->k.n)
        return;
    fprintf(o,
            "\n/* int8 kernels (dlc --quantize int8): weights quantized per output channel, w = scale * q. Each\n"
            " * q<id>_scale[o] is the output channel's weight scale times the input's scale, so that y = sum * scale.\n"
            " * Inputs are quantized per tensor with zero point 0 (the scale from the calibration set). */\n");
    for (int i = 0; i < p->k.n; i++) {
        const QuantKernel *k = &p->k.v[i];
        IrNode *n = k->node;
        u8 |= k->u8, s8 |= !k->u8;
        fprintf(o, "/* %s", op_info[n->op].name);
        if (n->loc.src)
            fprintf(o, " at %s.dlm line %d", e->name, n->loc.line);
        fprintf(o, ": input range [%.6g, %.6g] as %s, scale %.6g */\n", k->lo, k->hi, k->u8 ? "uint8" : "int8",
                k->ascale);
        int64_t cnt = k->channels * k->inner;
        fprintf(o, "static const int8_t q%d_w[%" PRId64 "] = {", n->id, cnt);
        for (int64_t j = 0; j < cnt; j++)
            fprintf(o, "%s%d", j % 16 ? ", " : (j ? ",\n    " : "\n    "), k->w[j]);
        fprintf(o, "\n};\nstatic const float q%d_scale[%" PRId64 "] = {", n->id, k->channels);
        for (int64_t j = 0; j < k->channels; j++)
            fprintf(o, "%s%s", j % 8 ? ", " : (j ? ",\n    " : "\n    "), emit_lit(e, k->ascale * k->wscale[j]));
        fprintf(o, "\n};\n");
    }
    /* rounding half away from zero by truncation; NaN becomes 0 */
    if (u8)
        fprintf(o, "\n/* q = x * inv_scale rounded to the nearest integer and clamped to [0, 255] */\n"
                   "static void quantize_u8(const float *x, uint8_t *q, int64_t count, float inv_scale) {\n"
                   "    for (int64_t i = 0; i < count; i++) {\n"
                   "        float v = x[i] * inv_scale + 0.5f;\n"
                   "        q[i] = v >= 255.0f ? 255 : v > 0.0f ? (uint8_t)(int32_t)v : 0;\n"
                   "    }\n}\n");
    if (s8)
        fprintf(o, "\n/* q = x * inv_scale rounded to the nearest integer and clamped to [-127, 127] */\n"
                   "static void quantize_s8(const float *x, int8_t *q, int64_t count, float inv_scale) {\n"
                   "    for (int64_t i = 0; i < count; i++) {\n"
                   "        float v = x[i] * inv_scale;\n"
                   "        v = v >= 0.0f ? v + 0.5f : v - 0.5f;\n"
                   "        q[i] = v >= 127.0f ? 127 : v <= -127.0f ? -127 : v == v ? (int8_t)(int32_t)v : 0;\n"
                   "    }\n}\n");
    for (int i = 0; i < p->k.n; i++) {
        const QuantKernel *k = &p->k.v[i];
        fprintf(o, "\nstatic void q%d_kernel(const float *x, float *y, int64_t n) {\n    (void)n;\n", k->node->id);
        op_rule(k->node->op)->emit_int8(e, k->node, k);
        fprintf(o, "}\n");
    }
}

void quant_emit_kernel(Emit *e, IrNode *n) {
    fprintf(e->o, "    q%d_kernel(%s, %s, n);\n", n->id, emit_ptr(e, n->in[0]), emit_ptr(e, n));
}

/* ---- calibration ---- */

void quant_emit_observe(Emit *e, IrNode *n) {
    const QuantPlan *p = e->opt->observe;
    if (!p || n->id >= e->c->eval->nodes.n || p->of[n->id] < 0)
        return;
    IrNode *x = n->in[0];
    fprintf(e->o, "    dlc_calibration_observe(%d, %s, %s);\n", p->of[n->id], emit_ptr(e, x),
            emit_outer(e, &x->shape, shape_numel(&x->shape)));
}

void quant_emit_harness(FILE *o, Compiled *c, const EmitOptions *opt) {
    const QuantPlan *p = opt->observe;
    const char *name = c->train->name;
    char *NAME = emit_upper(c->ctx, name);
    int nk = p->k.n;
    const char *in = NULL; /* the one input the forward pass reads (main.c checks there is one) */
    for (int i = 0; i < c->eval->inputs.n; i++)
        if (emit_uses_input(&c->fn[FN_FORWARD], i))
            in = emit_macro_name(c->ctx, c->eval->inputs.v[i].name);
    fprintf(o,
            "/* dlc's calibration run for %s: the f32 inference code over raw f32 examples (argv[1]); prints\n"
            " * the range of each int8 kernel's input, one line per kernel, as hexadecimal floats. */\n",
            name);
    fprintf(o, "#include \"%s.h\"\n#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n\n", name);
    fprintf(o, "void dlc_calibration_observe(int k, const float *x, int64_t count);\n");
    fprintf(o, "static double lo[%d], hi[%d];\n\n", nk, nk);
    fprintf(o, "void dlc_calibration_observe(int k, const float *x, int64_t count) {\n"
               "    for (int64_t i = 0; i < count; i++) {\n"
               "        if (x[i] < lo[k])\n            lo[k] = x[i];\n"
               "        if (x[i] > hi[k])\n            hi[k] = x[i];\n"
               "    }\n}\n\n");
    fprintf(o,
            "int main(int argc, char **argv) {\n"
            "    (void)argc;\n"
            "    FILE *f = fopen(argv[1], \"rb\");\n"
            "    size_t per = %s_INPUT_%s_SIZE;\n"
            "    float *x = malloc(sizeof(float) * per * %s_MAX_BATCH);\n"
            "    void *ctx = aligned_alloc(%s_ALIGN, (%s_WORKSPACE_BYTES + %s_ALIGN - 1) / %s_ALIGN * %s_ALIGN);\n"
            "    if (!f || !x || !ctx)\n        return 1;\n"
            "    for (int k = 0; k < %d; k++)\n        lo[k] = hi[k] = 0;\n"
            "    size_t got;\n"
            "    while ((got = fread(x, sizeof(float) * per, %s_MAX_BATCH, f)) > 0)\n"
            "        if (%s_forward(ctx, (int)got, x) != 0)\n            return 1;\n"
            "    for (int k = 0; k < %d; k++)\n        printf(\"%%a %%a\\n\", lo[k], hi[k]);\n"
            "    return fclose(f) != 0;\n}\n",
            NAME, in, NAME, NAME, NAME, NAME, NAME, NAME, nk, NAME, name, nk);
}
