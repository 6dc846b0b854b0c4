/* leaf.c: the leaves: inputs, parameters, constant tensors and states (non-trainable tensors set at init).
 *
 * Leaves compute nothing and get no gradient of their own (autodiff hands a parameter's adjoint to the optimizer).
 * Their rules say where their data is in the generated code (an input's argument, the state block at the
 * parameter's offset or a weight compiled in, a constant's static array) and what the IR dump shows of them.
 * ir.c builds them (ir_leaf; ir_const_data interns constants by value). */
#include <inttypes.h>

#include "dlc.h"

static char *c_input(Emit *e, const IrNode *n) { return emit_input_name(e->ctx, e->s->g->inputs.v[n->index].name); }

/* parameters and states: in the state block, or compiled in (--weights) */
static char *c_param(Emit *e, const IrNode *n) {
    if (e->c->baked && e->c->baked[n->index])
        return xsprintf(e->ctx, "w_%s", emit_ident(e->ctx, e->c->train->params.v[n->index].name));
    return xsprintf(e->ctx, "((%s *)(st + %" PRId64 "))", e->real, e->c->param_off[n->index]);
}

static char *c_const(Emit *e, const IrNode *n) { return emit_const_name(e, n); }

static void dump_input(FILE *out, const Graph *g, const IrNode *n) { fprintf(out, " %s", g->inputs.v[n->index].name); }

static void dump_param(FILE *out, const Graph *g, const IrNode *n) { fprintf(out, " %s", g->params.v[n->index].name); }

/* a scalar's value */
static void dump_const(FILE *out, const Graph *g, const IrNode *n) {
    (void)g;
    if (shape_numel(&n->shape) == 1)
        fprintf(out, " %g", n->data[0]);
}

const OpRule rule_INPUT = {.grad = grad_none, .c_ptr = c_input, .dump = dump_input};
const OpRule rule_PARAM = {.grad = grad_none, .c_ptr = c_param, .dump = dump_param};
const OpRule rule_CONST = {.grad = grad_none, .c_ptr = c_const, .dump = dump_const};
const OpRule rule_STATE = {.grad = grad_none, .c_ptr = c_param, .dump = dump_param};
