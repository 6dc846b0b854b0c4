/* test_ops.c: the rule table is complete.
 *
 * For every op of compiler/ops.def, its rules (compiler/ops/) hold what its class needs: a builder (the shape
 * rule); a gradient rule, or a declaration that no adjoint flows through it (grad_none) or that it has no rule
 * (grad_refused); folding and a C expression for an element-wise op, an accumulator for a reduction, an emitter
 * and a FLOP rule for a kernel, the C expression of its data for a leaf; for every op but the leaves (the graph's
 * inputs and initializers), one ONNX export rule: an operator, a function, or a refusal that says why. And every
 * node of the inference graphs of the gradient-check cases is described by its rule (an operator and inputs) or
 * refused with a reason. And every op with a gradient rule has a
 * gradient-check case (tests/gradcheck_cases.c) whose training graph, compiled through the compiler library,
 * differentiates a node of that op: the case's loss depends on the node, the node on a trainable parameter, and an
 * adjoint flows through it. An op added to ops.def without these fails here (one without rules does not link). */
#include <CUnit/Basic.h>
#include <stdio.h>

#include "dlc.h"
#include "gradcheck_cases.h"
#include "testutil.h"

static bool has_gradient_rule(const OpRule *r) { return r->grad && r->grad != grad_none && r->grad != grad_refused; }

/* What op's rules lack for its class, or NULL. */
static const char *missing(Op op) {
    const OpInfo *info = &op_info[op];
    const OpRule *r = info->rule;
    if (!r)
        return "rules";
    if (!r->grad)
        return "a gradient rule, or .grad = grad_none (no adjoint flows) or grad_refused (no rule)";
    switch (info->cls) {
    case OPC_LEAF:
        return r->c_ptr ? NULL : "the C expression of its data (c_ptr)";
    case OPC_ELEM:
        if (!r->c_expr)
            return "a C expression (c_expr)";
        if (info->arity != 0 && !r->fold)
            return "a folding rule (fold)";
        break;
    case OPC_REDUCE:
        if (!r->fold || !r->acc_init || !r->acc_update)
            return "folding and an accumulator (fold, acc_init, acc_update)";
        break;
    case OPC_VIEW:
        break;
    case OPC_KERNEL:
        if (!r->emit)
            return "an emitter (emit)";
        if (!r->flops)
            return "a FLOP rule (flops)";
        break;
    }
    if (info->cls != OPC_LEAF && (r->onnx_op != NULL) + (r->onnx != NULL) + (r->onnx_refused != NULL) != 1)
        return "one ONNX export rule (onnx_op, onnx, or onnx_refused saying why it is not written)";
    if (!r->build)
        return "a shape rule (build)";
    if (r->own_fn && (!r->own_fn_prefix || !r->emit_own_fn))
        return "the name and emitter of its own functions (own_fn_prefix, emit_own_fn)";
    return NULL;
}

static void test_rules_complete(void) {
    for (int op = 0; op < OP_COUNT; op++) {
        const char *m = missing((Op)op);
        if (m)
            printf("\n  op %s (ops.def) lacks %s", op_info[op].name, m);
        CU_ASSERT_PTR_NULL(m);
    }
}

/* Elaborates `text` in ctx as dlc compile does; NULL (and the diagnostics printed) on errors. */
static Graph *elaborate_text(Ctx *ctx, const char *name, const char *text, bool training) {
    Program *prog = parse_program(source_from_string(ctx, fmt("%s.dlm", name), text));
    ElabOptions eo = {.training = training};
    Graph *g = ctx->diag.errors ? NULL : elaborate(prog, name, &eo);
    return ctx->diag.errors ? NULL : g;
}

/* Compiles case c and marks in covered[] the ops whose gradient rules its training step applies. */
static bool cover(const GradCase *c, bool *covered) {
    Ctx ctx;
    ctx_init(&ctx, stdout);
    GradModel m = c->make();
    Graph *train = elaborate_text(&ctx, c->name, m.text, true);
    Graph *eval = train ? elaborate_text(&ctx, c->name, m.text, false) : NULL;
    if (eval) {
        compile_model(train, eval, 8, false, NULL, NULL, false);
        int np = train->params.n;
        IrNode **wrt = calloc((size_t)np + 1, sizeof *wrt);
        bool *used = calloc((size_t)train->nodes.n, sizeof *used);
        for (int i = 0; i < np; i++)
            wrt[i] = train->params.v[i].trainable ? train->params.v[i].node : NULL;
        ad_rule_uses(train, train->train.loss, wrt, np, used);
        for (int id = 0; id < train->nodes.n; id++)
            if (used[id])
                covered[train->nodes.v[id]->op] = true;
        free(wrt);
        free(used);
    }
    ctx_free(&ctx);
    return eval != NULL;
}

/* Every node of every case's inference graph: op_onnx describes it (an operator, and inputs that are nodes of the
 * graph) or says why not. */
static void test_export_rules(void) {
    bool seen[OP_COUNT] = {false};
    for (int i = 0; i < gradcheck_ncases; i++) {
        Ctx ctx;
        ctx_init(&ctx, stdout);
        GradModel m = gradcheck_cases[i].make();
        Graph *eval = elaborate_text(&ctx, gradcheck_cases[i].name, m.text, false);
        CU_ASSERT_PTR_NOT_NULL(eval);
        for (int id = 0; eval && id < eval->nodes.n; id++) {
            IrNode *n = eval->nodes.v[id];
            if (op_info[n->op].cls == OPC_LEAF)
                continue;
            OnnxNode d;
            const char *why = op_onnx(n, &d);
            bool ok = why ? *why != '\0' : d.op_type && d.nin <= MAX_ONNX_IN && d.nconst <= MAX_ONNX_CONSTS;
            for (int k = 0; !why && ok && k < d.nin; k++)
                ok = d.ref[k] ? d.ref[k] == ONNX_REF_BATCH || d.ref[k] < ONNX_REF_CONST + d.nconst ||
                                    (d.ref[k] >= ONNX_REF_STEP && d.ref[k] < ONNX_REF_STEP + d.npre)
                              : d.in[k] && d.in[k]->id < n->id;
            if (!ok)
                printf("\n  case %s: node %%%d (%s) has no ONNX description and no reason", gradcheck_cases[i].name,
                       n->id, op_info[n->op].name);
            CU_ASSERT_TRUE(ok);
            seen[n->op] = true;
        }
        ctx_free(&ctx);
    }
    int ops = 0;
    for (int op = 0; op < OP_COUNT; op++)
        ops += seen[op];
    CU_ASSERT_TRUE(ops > 20); /* the cases reach most of the forward ops */
}

static void test_every_gradient_checked(void) {
    bool covered[OP_COUNT] = {false};
    for (int i = 0; i < gradcheck_ncases; i++) {
        bool ok = cover(&gradcheck_cases[i], covered);
        if (!ok)
            printf("\n  gradient-check case %s does not compile", gradcheck_cases[i].name);
        CU_ASSERT_TRUE(ok);
    }
    for (int op = 0; op < OP_COUNT; op++) {
        bool need = has_gradient_rule(op_info[op].rule);
        if (need && !covered[op])
            printf("\n  op %s has a gradient rule that no case of tests/gradcheck_cases.c applies", op_info[op].name);
        CU_ASSERT_TRUE(!need || covered[op]);
    }
}

int main(void) {
    atexit(free_kept);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("the rule table", NULL, NULL);
    CU_add_test(s, "every op has the rules its class needs", test_rules_complete);
    CU_add_test(s, "every gradient rule is checked by a gradient-check case", test_every_gradient_checked);
    CU_add_test(s, "every node of the cases' inference graphs is exported or refused", test_export_rules);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
