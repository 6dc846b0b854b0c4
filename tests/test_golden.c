/* test_golden.c: generated/ is golden output. Every zoo model is recompiled by this build's dlc and must match
 * generated/ byte for byte (a change to code generation shows up as a readable diff; `ninja regenerate`
 * rewrites it), compiling twice gives the same bytes, and every generated file compiles clean with the flags of
 * ../shared/INTERFACE.md. The memory planner must really reuse buffers, and fusion really merge loops, on every
 * multi-layer model. One process compiles every zoo model 20 times, each compilation in a context of its own,
 * and gets the same bytes each time. */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <unistd.h>

#include "dlc.h"

#ifndef SOURCE_ROOT
#define SOURCE_ROOT "."
#endif
#ifndef DLC_PATH
#define DLC_PATH "dlc"
#endif

static const char *const zoo[] = {
#define ZOO_TRAINED(name) #name,
#define ZOO_UNTRAINED(name) #name,
#include "../models/zoo.def"
};
#define NZOO (int)(sizeof zoo / sizeof zoo[0])

static char tmpdir[256];
/* The test program's own strings and file contents: one context for the whole run, freed at its end. */
static Ctx scratch;

static int run(const char *cmd) {
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static bool same_file(const char *a, const char *b) {
    size_t la, lb;
    char *x = read_file(&scratch, a, &la), *y = read_file(&scratch, b, &lb);
    return x && y && la == lb && memcmp(x, y, la) == 0;
}

static void test_generated_is_golden(void) {
    for (int i = 0; i < NZOO; i++) {
        char *cmd =
            xsprintf(&scratch, "'%s' compile '%s/models/%s.dlm' -o '%s'", DLC_PATH, SOURCE_ROOT, zoo[i], tmpdir);
        CU_ASSERT_EQUAL_FATAL(run(cmd), 0);
        for (int k = 0; k < 2; k++) {
            const char *ext = k ? "c" : "h";
            char *fresh = xsprintf(&scratch, "%s/%s.%s", tmpdir, zoo[i], ext);
            char *golden = xsprintf(&scratch, "%s/generated/%s.%s", SOURCE_ROOT, zoo[i], ext);
            bool same = same_file(fresh, golden);
            if (!same)
                fprintf(stderr, "\n%s differs from %s: review `diff %s %s`, then run `ninja -C build regenerate`\n",
                        golden, fresh, golden, fresh);
            CU_ASSERT(same);
        }
    }
}

static void test_deterministic(void) {
    /* two compilations of one model, in two processes, give the same bytes */
    char *d2 = xsprintf(&scratch, "%s/again", tmpdir);
    CU_ASSERT_EQUAL_FATAL(run(xsprintf(&scratch, "mkdir -p '%s'", d2)), 0);
    for (int i = 0; i < NZOO; i++) {
        CU_ASSERT_EQUAL(
            run(xsprintf(&scratch, "'%s' compile '%s/models/%s.dlm' -o '%s'", DLC_PATH, SOURCE_ROOT, zoo[i], d2)), 0);
        CU_ASSERT(same_file(xsprintf(&scratch, "%s/%s.c", tmpdir, zoo[i]), xsprintf(&scratch, "%s/%s.c", d2, zoo[i])));
        CU_ASSERT(same_file(xsprintf(&scratch, "%s/%s.h", tmpdir, zoo[i]), xsprintf(&scratch, "%s/%s.h", d2, zoo[i])));
    }
}

static void test_compiles_clean(void) {
    /* the generated code is warning-free under INTERFACE.md's flags, in f32 and f64 */
    for (int i = 0; i < NZOO; i++) {
        char *cmd = xsprintf(&scratch,
                             "cc -std=c11 -Wall -Wextra -Wconversion -pedantic -Werror -O0 -c '%s/generated/%s.c' "
                             "-iquote '%s/generated' -o '%s/%s.o'",
                             SOURCE_ROOT, zoo[i], SOURCE_ROOT, tmpdir, zoo[i]);
        int rc = run(cmd);
        if (rc)
            fprintf(stderr, "\nfailed: %s\n", cmd);
        CU_ASSERT_EQUAL(rc, 0);
    }
    static const char *const f64[] = {"mlp", "lenet", "blocks", "params"};
    char *d = xsprintf(&scratch, "%s/f64", tmpdir);
    CU_ASSERT_EQUAL_FATAL(run(xsprintf(&scratch, "mkdir -p '%s'", d)), 0);
    for (size_t i = 0; i < sizeof f64 / sizeof f64[0]; i++) {
        CU_ASSERT_EQUAL(run(xsprintf(&scratch, "'%s' compile --dtype f64 '%s/models/%s.dlm' -o '%s'", DLC_PATH,
                                     SOURCE_ROOT, f64[i], d)),
                        0);
        char *cmd = xsprintf(&scratch,
                             "cc -std=c11 -Wall -Wextra -Wconversion -pedantic -Werror -O0 -c '%s/%s.c' -iquote '%s' "
                             "-o '%s/%s.o'",
                             d, f64[i], d, d, f64[i]);
        int rc = run(cmd);
        if (rc)
            fprintf(stderr, "\nfailed: %s\n", cmd);
        CU_ASSERT_EQUAL(rc, 0);
    }
}

/* Compiles a zoo model in-process, in ctx, as `dlc compile` does; NULL after errors (reported to ctx). */
static Compiled *compile_zoo(Ctx *ctx, const char *name) {
    Source *src = source_from_file(ctx, xsprintf(ctx, "%s/models/%s.dlm", SOURCE_ROOT, name));
    if (!src)
        return NULL;
    Program *p = parse_program(src);
    if (ctx->diag.errors)
        return NULL;
    ElabOptions tr = {.training = true}, ev = {.training = false};
    Graph *gt = elaborate(p, name, &tr), *ge = elaborate(p, name, &ev);
    if (ctx->diag.errors)
        return NULL;
    return compile_model(gt, ge, 4, false, NULL, NULL, false);
}

static void test_reuse_and_fusion(void) {
    /* every multi-layer model: the arena with reuse is smaller than without, fusion removes loops */
    static const char *const multi[] = {"mlp",   "dropout_mlp", "lenet",  "alexnet",
                                        "vgg11", "vgg11_full",  "blocks", "custom_layers"};
    for (size_t i = 0; i < sizeof multi / sizeof multi[0]; i++) {
        Ctx ctx;
        ctx_init(&ctx, stderr);
        Compiled *c = compile_zoo(&ctx, multi[i]);
        CU_ASSERT_PTR_NOT_NULL(c);
        if (c) {
            FnKind f = c->train->train.present ? FN_TRAIN : FN_FORWARD;
            Sched *s = &c->fn[f];
            if (!(s->arena_bytes < s->arena_bytes_noreuse) || !(s->loops_fused < s->loops_unfused))
                fprintf(stderr, "\n%s: arena %lld vs %lld without reuse; loops %d fused vs %d\n", multi[i],
                        (long long)s->arena_bytes, (long long)s->arena_bytes_noreuse, s->loops_fused, s->loops_unfused);
            CU_ASSERT(s->arena_bytes < s->arena_bytes_noreuse);
            CU_ASSERT(s->loops_fused < s->loops_unfused);
        }
        ctx_free(&ctx);
    }
}

/* What one compilation of a zoo model gives: the bytes of its header, source and trainer (when it has one), the
 * diagnostics printed, and how much its arena held. */
typedef struct Emitted {
    char *text, *diags;
    size_t len, diags_len;
    int errors;
    size_t allocated;
} Emitted;

static Emitted compile_zoo_to_memory(const char *name) {
    Emitted out = {0};
    FILE *diags = open_memstream(&out.diags, &out.diags_len);
    FILE *text = open_memstream(&out.text, &out.len);
    Ctx ctx;
    ctx_init(&ctx, diags);
    Compiled *c = compile_zoo(&ctx, name);
    if (c) {
        EmitOptions eo = {0};
        emit_header(text, c, &eo);
        emit_source(text, c, &eo);
        if (c->train->train.present && c->loss_train && c->train->train.data != DATA_NONE)
            emit_trainer(text, c, &eo);
    }
    out.errors = ctx.diag.errors + !c;
    out.allocated = ctx_allocated(&ctx);
    ctx_free(&ctx);
    fclose(text);
    fclose(diags);
    return out;
}

/* One process compiles every zoo model 20 times, each compilation in a context of its own that is freed at its
 * end: nothing carries over from one compilation to the next (the same bytes come out, from an arena of the same
 * size, with no error), the first run's model C is generated/'s, and under LeakSanitizer (scripts/test.sh)
 * freeing the context frees everything a compilation allocated. */
#define RUNS 20

static void test_many_compilations(void) {
    for (int i = 0; i < NZOO; i++) {
        Emitted first = compile_zoo_to_memory(zoo[i]);
        if (first.errors)
            fprintf(stderr, "\n%s: %d errors:\n%s", zoo[i], first.errors, first.diags);
        CU_ASSERT_EQUAL(first.errors, 0);
        CU_ASSERT_EQUAL(first.diags_len, 0);
        CU_ASSERT(first.len > 0 && first.allocated > 0);
        /* the header and the source lead the text, as generated/ holds them */
        size_t hl, cl;
        char *h = read_file(&scratch, xsprintf(&scratch, "%s/generated/%s.h", SOURCE_ROOT, zoo[i]), &hl);
        char *c = read_file(&scratch, xsprintf(&scratch, "%s/generated/%s.c", SOURCE_ROOT, zoo[i]), &cl);
        CU_ASSERT_FATAL(h && c);
        bool golden = first.len >= hl + cl && memcmp(first.text, h, hl) == 0 && memcmp(first.text + hl, c, cl) == 0;
        if (!golden)
            fprintf(stderr, "\n%s: the in-process compilation differs from generated/\n", zoo[i]);
        CU_ASSERT(golden);
        for (int run = 1; run < RUNS; run++) {
            Emitted again = compile_zoo_to_memory(zoo[i]);
            bool same = again.len == first.len && memcmp(again.text, first.text, first.len) == 0;
            if (!same || again.errors || again.allocated != first.allocated)
                fprintf(stderr, "\n%s, run %d: %zu bytes of C (first run: %zu), %d errors, %zu bytes allocated (%zu)\n",
                        zoo[i], run + 1, again.len, first.len, again.errors, again.allocated, first.allocated);
            CU_ASSERT(same);
            CU_ASSERT_EQUAL(again.errors, 0);
            CU_ASSERT_EQUAL(again.diags_len, 0);
            CU_ASSERT_EQUAL(again.allocated, first.allocated);
            free(again.text);
            free(again.diags);
        }
        free(first.text);
        free(first.diags);
    }
}

/* --dump-after prints the IR after every pass, for training graphs and for --infer (whose functions are scheduled
 * from the inference graph) alike. */
static void test_dump_after(void) {
    static const char *const passes[] = {"elab", "autodiff", "simplify", "fuse", "plan"};
    for (int infer = 0; infer < 2; infer++)
        for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++) {
            char *log = xsprintf(&scratch, "%s/dump.txt", tmpdir);
            char *cmd = xsprintf(&scratch, "'%s' check '%s/models/mlp.dlm' %s--dump-after=%s >/dev/null 2>'%s'",
                                 DLC_PATH, SOURCE_ROOT, infer ? "--infer " : "", passes[i], log);
            CU_ASSERT_EQUAL(run(cmd), 0);
            size_t n;
            char *text = read_file(&scratch, log, &n);
            bool ok = text && strstr(text, xsprintf(&scratch, "after %s\n", passes[i])) && strstr(text, "%0 = input x");
            if (!ok)
                fprintf(stderr, "\n%s printed:\n%s\n", cmd, text ? text : "(nothing)");
            CU_ASSERT(ok);
        }
}

static void test_plan_no_overlap(void) {
    /* no two buffers that are live at the same time overlap, in every function of every model */
    for (int m = 0; m < NZOO; m++) {
        Ctx ctx;
        ctx_init(&ctx, stderr);
        Compiled *c = compile_zoo(&ctx, zoo[m]);
        CU_ASSERT_PTR_NOT_NULL(c);
        for (int f = 0; c && f < FN_COUNT; f++) {
            Sched *s = &c->fn[f];
            if (!s->g)
                continue;
            int nk = s->kernels.n;
            /* a buffer lives from its kernel to its last reader (or the end, for roots) */
            int *last = calloc((size_t)s->g->nodes.n, sizeof(int));
            for (int k = 0; k < nk; k++) {
                IrNode *n = s->kernels.v[k];
                last[n->id] = k;
            }
            for (int k = 0; k < nk; k++) {
                IrNode *n = s->kernels.v[k];
                for (int i = 0; i < n->nin; i++) {
                    IrNode *in = ir_storage(n->in[i]);
                    if (last[in->id] < k)
                        last[in->id] = k;
                }
            }
            for (int r = 0; r < s->roots.n; r++) {
                IrNode *in = ir_storage(s->roots.v[r]);
                last[in->id] = nk;
            }
            for (int a = 0; a < nk; a++)
                for (int b = a + 1; b < nk; b++) {
                    IrNode *x = s->kernels.v[a], *y = s->kernels.v[b];
                    if (last[x->id] < b)
                        continue; /* x is dead when y is written */
                    int64_t xs = s->offset[x->id], xe = xs + shape_numel(&x->shape) * 4;
                    int64_t ys = s->offset[y->id], ye = ys + shape_numel(&y->shape) * 4;
                    bool overlap = xs < ye && ys < xe;
                    if (overlap)
                        fprintf(stderr, "\n%s: %%%d and %%%d overlap\n", zoo[m], x->id, y->id);
                    CU_ASSERT(!overlap);
                    CU_ASSERT(xe <= s->arena_bytes && ye <= s->arena_bytes);
                }
            free(last);
        }
        ctx_free(&ctx);
    }
}

int main(void) {
    ctx_init(&scratch, stderr);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dlc-golden-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("golden", NULL, NULL);
    CU_add_test(s, "generated/ matches dlc's output", test_generated_is_golden);
    CU_add_test(s, "compilation is deterministic", test_deterministic);
    CU_add_test(s, "generated code compiles with -Werror", test_compiles_clean);
    CU_add_test(s, "buffer reuse and fusion happen", test_reuse_and_fusion);
    CU_add_test(s, "live buffers never overlap", test_plan_no_overlap);
    CU_add_test(s, "every zoo model compiled 20 times in one process", test_many_compilations);
    CU_add_test(s, "--dump-after prints every pass, --infer too", test_dump_after);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    run(xsprintf(&scratch, "rm -rf '%s'", tmpdir));
    ctx_free(&scratch);
    return failed ? 1 : 0;
}
