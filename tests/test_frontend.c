/* test_frontend.c: the front end: lexer and parser units, the bad-input corpus in tests/errors (each file
 * carries its expected diagnostics in `#! error LINE:COL: text` comments), and the zoo, which must check clean
 * with the parameter counts of ../shared/INTERFACE.md. Many files are parsed in one process, which also shows
 * that the parser keeps no global state between runs. */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <time.h>

#include "dlc.h"

#ifndef SOURCE_ROOT
#define SOURCE_ROOT "."
#endif

/* A compilation of a test: its context, with the diagnostics collected in memory. A test's compilations stay
 * alive until it ends, since it looks into their graphs, and are freed then (end_test, the suite's teardown). */
typedef struct Compilation {
    Ctx ctx; /* first: a Source's ctx leads back to its Compilation */
    FILE *mem;
    char *buf;
    size_t len;
    struct Compilation *next;
} Compilation;

static Compilation *compilations; /* the current test's */
static Ctx *scratch_ctx;          /* the current test's own strings */

static Ctx *compilation(void) {
    Compilation *c = calloc(1, sizeof *c);
    if (!c || !(c->mem = open_memstream(&c->buf, &c->len)))
        die("out of memory");
    ctx_init(&c->ctx, c->mem);
    c->next = compilations;
    compilations = c;
    return &c->ctx;
}

static void end_compilation(Ctx *ctx) {
    for (Compilation **p = &compilations; *p; p = &(*p)->next)
        if (&(*p)->ctx == ctx) {
            Compilation *c = *p;
            *p = c->next;
            ctx_free(&c->ctx);
            fclose(c->mem);
            free(c->buf);
            free(c);
            return;
        }
}

static Ctx *scratch(void) { return scratch_ctx ? scratch_ctx : (scratch_ctx = compilation()); }

static void end_test(void) {
    while (compilations)
        end_compilation(&compilations->ctx);
    scratch_ctx = NULL;
}

typedef struct Run {
    Ctx *ctx;
    Graph *g;
    Program *prog;
    int errors;
    const char *diags; /* everything printed, for matching */
} Run;

/* Parses and elaborates `src`, in its compilation. */
static Run run_source(Source *src, const char *name, int64_t batch) {
    Compilation *c = (Compilation *)src->ctx;
    Run r = {.ctx = src->ctx};
    r.prog = parse_program(src);
    if (c->ctx.diag.errors == 0) {
        ElabOptions eo = {.batch = batch, .training = true};
        r.g = elaborate(r.prog, name, &eo);
    }
    fflush(c->mem);
    r.errors = c->ctx.diag.errors;
    r.diags = c->buf ? c->buf : "";
    return r;
}

static Run run_text(const char *text) {
    return run_source(source_from_string(compilation(), "test.dlm", text), "test", 0);
}

static Run run_file(const char *path, const char *name) {
    Source *src = source_from_file(compilation(), path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(src);
    return run_source(src, name, 0);
}

/* ---- lexer and parser ---- */

static void test_parse_minimal(void) {
    Run r = run_text("input x: f32[batch, 4]\noutput y = x * 2\n");
    CU_ASSERT_EQUAL(r.errors, 0);
    CU_ASSERT_EQUAL(r.prog->items.n, 2);
    CU_ASSERT_EQUAL(r.prog->items.v[0]->kind, N_INPUT);
    CU_ASSERT_EQUAL(r.prog->items.v[1]->kind, N_OUTPUT);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.g);
    CU_ASSERT_EQUAL(r.g->outputs.n, 1);
    CU_ASSERT_TRUE(r.g->outputs.v[0].node->shape.batched);
}

static void test_parse_pipe_continuation(void) {
    /* a line starting with |> continues the statement, across blank and comment lines */
    Run r = run_text("input x: f32[batch, 4]\n"
                     "y = x\n"
                     "    |> linear(3)\n"
                     "\n"
                     "    # a comment between stages\n"
                     "    |> relu\n"
                     "output y\n");
    CU_ASSERT_EQUAL(r.errors, 0);
    CU_ASSERT_EQUAL(r.prog->items.n, 3);
    CU_ASSERT_EQUAL(r.prog->items.v[1]->a->kind, N_PIPE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.g);
    CU_ASSERT_EQUAL(r.g->outputs.v[0].node->shape.d[1], 3);
}

static void test_parse_one_line_block(void) {
    Run r = run_text("block f(x) { return x + 1 }\ninput x: f32[2]\noutput y = f(x)\n");
    CU_ASSERT_EQUAL(r.errors, 0);
    CU_ASSERT_EQUAL(r.prog->items.v[0]->kind, N_BLOCKDEF);
    CU_ASSERT_EQUAL(r.prog->items.v[0]->body.n, 1);
}

static void test_parse_precedence(void) {
    /* -a ** 2 is -(a ** 2); a + b * c is a + (b * c); comparisons bind looser than arithmetic */
    Run r = run_text("a = -3 ** 2\nb = 1 + 2 * 3\nc = 1 + 1 > 1\ninput x: f32[1]\noutput y = x * a + b + c\n");
    CU_ASSERT_EQUAL_FATAL(r.errors, 0);
    Node *a = r.prog->items.v[0]->a, *b = r.prog->items.v[1]->a, *c = r.prog->items.v[2]->a;
    CU_ASSERT_EQUAL(a->kind, N_UNARY);
    CU_ASSERT_EQUAL(b->kind, N_BINARY);
    CU_ASSERT_EQUAL(b->b->kind, N_BINARY);
    CU_ASSERT_EQUAL(c->a->kind, N_BINARY);
    /* y = x * (-9) + 7 + 1: constant folding shows the values were computed in the right order */
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.g);
}

static void test_parse_errors_located(void) {
    Run r = run_text("input x: f32[batch, 4]\ny = x |> linear(3))\noutput y\n");
    CU_ASSERT(r.errors >= 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.diags, "test.dlm:2:19: error: syntax error, unexpected ')'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.diags, "^"));
}

static void test_lexer_bad_characters(void) {
    Run r = run_text("input x: f32[batch, 4]\ny = x $ 2\noutput y\n");
    CU_ASSERT(r.errors >= 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.diags, "test.dlm:2:7: error: unexpected character '$'"));
    Run s = run_text("x = \"unterminated\ninput z: f32[1]\noutput z\n");
    CU_ASSERT(s.errors >= 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.diags, "unterminated string"));
    /* a NUL byte inside the text is an error, not the end of the file */
    Source *src = source_from_string(compilation(), "nul.dlm", "input x: f32[1]\noutput x\n");
    ((char *)src->text)[3] = '\0';
    Run t = run_source(src, "nul", 0);
    CU_ASSERT(t.errors >= 1);
}

static void test_many_parses_one_process(void) {
    /* the parser keeps no state between runs: the same text gives the same result 200 times */
    for (int i = 0; i < 200; i++) {
        Run r = run_text("input x: f32[batch, 8]\noutput y = x |> linear(4) |> relu\n");
        CU_ASSERT_EQUAL(r.errors, 0);
        CU_ASSERT_EQUAL(r.g->params.n, 2);
        end_compilation(r.ctx);
    }
}

/* ---- elaboration ---- */

static void test_names_and_tied(void) {
    Run r = run_text("input x: f32[batch, 4]\n"
                     "shared = linear(8)\n"
                     "output y = x |> linear(8) |> relu |> shared |> relu |> shared |> relu |> linear(1)\n");
    CU_ASSERT_EQUAL_FATAL(r.errors, 0);
    CU_ASSERT_EQUAL(r.g->params.n, 6); /* 0.*, shared.*, 6.* : the shared layer's tensors exist once */
    CU_ASSERT_STRING_EQUAL(r.g->params.v[0].name, "0.weight");
    CU_ASSERT_STRING_EQUAL(r.g->params.v[2].name, "shared.weight");
    CU_ASSERT_STRING_EQUAL(r.g->params.v[4].name, "6.weight");
}

static void test_block_names(void) {
    Run r = run_text("block vgg_block(x, convs, channels) {\n"
                     "    for i in range(convs) { x = x |> conv2d(channels, kernel=3, padding=1) |> relu }\n"
                     "    return max_pool(x, 2)\n"
                     "}\n"
                     "input x: f32[batch, 1, 8, 8]\n"
                     "y = x\n"
                     "for (n, c) in [(1, 4), (2, 8)] { y = vgg_block(y, n, c) }\n"
                     "output y\n");
    CU_ASSERT_EQUAL_FATAL(r.errors, 0);
    CU_ASSERT_EQUAL(r.g->params.n, 6);
    CU_ASSERT_STRING_EQUAL(r.g->params.v[0].name, "0.0.weight");
    CU_ASSERT_STRING_EQUAL(r.g->params.v[4].name, "1.2.weight");
    Shape s = r.g->outputs.v[0].node->shape;
    CU_ASSERT_EQUAL(s.d[1], 8);
    CU_ASSERT_EQUAL(s.d[2], 2);
}

static void test_grad_value(void) {
    /* D2L 2.5: y = 2 x.x; dy/dx is built symbolically as a tensor of x's shape that depends on x */
    Run r = run_text("input x: f32[4]\noutput g = grad(2 * dot(x, x), x)\n");
    CU_ASSERT_EQUAL_FATAL(r.errors, 0);
    IrNode *g = r.g->outputs.v[0].node;
    CU_ASSERT_EQUAL(g->shape.rank, 1);
    CU_ASSERT_EQUAL(g->shape.d[0], 4);
    CU_ASSERT_NOT_EQUAL(g->op, OP_CONST);
    bool *live = calloc((size_t)r.g->nodes.n, 1);
    ir_mark_live(r.g, &g, 1, live);
    CU_ASSERT_TRUE(live[r.g->inputs.v[0].node->id]);
    free(live);
    /* with respect to a folded constant there is nothing to differentiate: a clear error */
    Run c = run_text("x = tensor([0, 1, 2, 3])\noutput g = grad(2 * dot(x, x), x)\n");
    CU_ASSERT_EQUAL(c.errors, 1);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(c.diags, "test.dlm:2:12: error: grad: the value to differentiate by is a compile-time constant"));
}

static void test_while_bounded(void) {
    /* FixedHiddenMLP's loop on a constant folds to the exact answer: 8 halvings of sum 10 gives <= 1 */
    Run r = run_text("x = tensor([4, 6])\nwhile sum(abs(x)) > 1 max 32 { x = x / 2 }\noutput y = sum(x)\n");
    CU_ASSERT_EQUAL_FATAL(r.errors, 0);
    IrNode *y = r.g->outputs.v[0].node;
    CU_ASSERT_EQUAL_FATAL(y->op, OP_CONST);
    CU_ASSERT_DOUBLE_EQUAL(y->data[0], 10.0 / 16, 1e-12);
}

/* ---- robustness: inputs that once crashed, hung or took quadratic time (most found by tests/fuzz) ---- */

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A text of `n` copies of `unit` between `head` and `tail`. */
static char *repeat(const char *head, const char *unit, int n, const char *tail) {
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = xalloc(scratch(), hl + ul * (size_t)n + tl + 1), *p = s;
    memcpy(p, head, hl), p += hl;
    for (int i = 0; i < n; i++)
        memcpy(p, unit, ul), p += ul;
    memcpy(p, tail, tl + 1);
    return s;
}

/* The inputs below made an earlier front end quadratic or exponential: minutes or hours. They take well under a
 * second now; the bound only says that they finish, with room for a loaded CI machine, and measures no speed. */
#define TERMINATES 60.0

static void test_glob(void) {
    CU_ASSERT_TRUE(glob_match("*.weight", "features.0.weight"));
    CU_ASSERT_TRUE(glob_match("*", ""));
    CU_ASSERT_TRUE(glob_match("a*b*c", "aXbYbZc"));
    CU_ASSERT_TRUE(glob_match("?.bias", "3.bias"));
    CU_ASSERT_FALSE(glob_match("?.bias", "13.bias"));
    CU_ASSERT_FALSE(glob_match("*.weight", "0.bias"));
    CU_ASSERT_FALSE(glob_match("a*b", "a"));
    CU_ASSERT_TRUE(glob_match("**a**", "xay"));
    /* many stars against a long name that does not match: exponential for a recursive matcher */
    char *name = repeat("", "a", 200, "");
    double t0 = seconds();
    CU_ASSERT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", name));
    CU_ASSERT(seconds() - t0 < TERMINATES);
}

static void test_many_blank_lines(void) {
    /* the newline rule once looked ahead over every following blank line: quadratic in their number */
    char *text = repeat("input x: f32[4]\ny = x\n", "\n  # comment\n", 100000, "  |> relu\noutput y\n");
    double t0 = seconds();
    Run r = run_text(text);
    CU_ASSERT(seconds() - t0 < TERMINATES);
    CU_ASSERT_EQUAL(r.errors, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.g);
    CU_ASSERT_EQUAL(r.g->layers.n, 1); /* the relu joined the statement across the blank lines */
}

static void test_deep_nesting(void) {
    /* past the parser's stack: a message about nesting, not bison's "memory exhausted" */
    Run p = run_text(repeat("input x: f32[4]\noutput y = ", "relu(", 12000, "x)\n"));
    CU_ASSERT(p.errors >= 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(p.diags, "nest too deeply here for the parser"));
    /* within the parser's reach but past the elaborator's limit: one located error, no stack overflow */
    char *t = repeat("input x: f32[4]\ny = x\n", "for i in [1] {\n", 1500, "y = y + 1\n");
    t = xsprintf(scratch(), "%s%soutput y\n", t, repeat("", "}\n", 1500, ""));
    Run q = run_text(t);
    CU_ASSERT_EQUAL(q.errors, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(q.diags, "nests more than 1000 levels deep"));
}

static void test_many_constants(void) {
    /* constants are interned by value through the hash table; a scan of the graph per constant was quadratic */
    double t0 = seconds();
    Run r = run_text("input x: f32[4]\ny = x\nfor i in range(20000) { y = y + i }\noutput y\n");
    CU_ASSERT(seconds() - t0 < TERMINATES);
    CU_ASSERT_EQUAL(r.errors, 0);
    /* the same constants again are the same nodes */
    Run s =
        run_text("a = tensor([1, 2, 3])\nb = tensor([1, 2, 3])\ninput x: f32[3]\noutput y = x + a\noutput z = x + b\n");
    CU_ASSERT_EQUAL_FATAL(s.errors, 0);
    CU_ASSERT_PTR_EQUAL(s.g->outputs.v[0].node, s.g->outputs.v[1].node);
}

static void test_many_layers(void) {
    /* parameters are found by name through a hash table: 20000 layers take linear time */
    double t0 = seconds();
    Run r = run_text("input x: f32[batch, 2]\ny = x\nfor i in range(20000) { y = y |> linear(2) }\noutput y\n");
    CU_ASSERT(seconds() - t0 < TERMINATES);
    CU_ASSERT_EQUAL(r.errors, 0);
    CU_ASSERT_EQUAL_FATAL(r.g->params.n, 40000);
    CU_ASSERT_STRING_EQUAL(r.g->params.v[39999].name, "19999.bias");
}

static void test_limits_halt(void) {
    /* an exponential recursion that ends is stopped by the budget with one error, in bounded time */
    double t0 = seconds();
    Run r = run_text("block f(x, n) {\n if n == 0 { return x }\n return f(x, n - 1) + f(x, n - 1)\n}\n"
                     "input x: f32[4]\noutput y = f(x, 60)\n");
    CU_ASSERT(seconds() - t0 < TERMINATES);
    CU_ASSERT_EQUAL(r.errors, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.diags, "elaborating the model takes more than"));
    /* an error in nested data-dependent loops is reported once, not once per unrolled iteration */
    Run w = run_text("input a: f32[]\nb = a\nwhile sum(b) < 9 max 64 { while sum(b) < 9 max 64 {\n"
                     " while sum(b) < 9 max 64 { b = b * q } } }\noutput b\n");
    CU_ASSERT_EQUAL(w.errors, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(w.diags, "'q' is not defined"));
}

static void test_numbers_checked(void) {
    /* a float dimension past the int64 range was converted with undefined behaviour */
    Run a = run_text("input x: f32[1e188]\noutput x\n");
    CU_ASSERT_EQUAL(a.errors, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(a.diags, "out of range"));
    /* dimensions whose product overflows int64 */
    Run b = run_text("input x: f32[4]\nparam w: [3037000500, 3037000500, 3037000500] = zeros\noutput x\n");
    CU_ASSERT_EQUAL(b.errors, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(b.diags, "more than 9223372036854775807 elements"));
    /* a broadcast whose result is over the element limit, from operands within it */
    Run c = run_text("input x: f32[65536, 1]\ninput y: f32[1, 65536]\noutput z = x + y\n");
    CU_ASSERT_EQUAL(c.errors, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.diags, "the operands broadcast together would be f32[65536, 65536]"));
    /* strides of 0 divided by zero in the output size */
    Run d = run_text("input x: f32[1, 1, 4, 4]\noutput y = max_pool(x, 0)\noutput z = avg_pool(x, 2, stride=0)\n");
    CU_ASSERT_EQUAL(d.errors, 2);
    /* tensors() with scalar inputs divided by a zero example count */
    Run e = run_text("input x: f32[]\ninput y: f32[]\noutput z = x * 2\ntrain {\n data = tensors(x, y, 1, 2)\n"
                     " loss = (z - y) ** 2\n}\n");
    CU_ASSERT_EQUAL(e.errors, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.diags, "do not match inputs"));
}

static void test_nul_in_string(void) {
    /* a NUL inside a string or a comment ends neither the text nor the token */
    static const char text[] = "input x: f32[1]\n# a \0 comment\ninit \"a\0b\" = zeros\noutput x\n";
    Source *src = source_from_string(compilation(), "nul.dlm", "");
    src->text = text;
    src->len = sizeof text - 1;
    Run r = run_source(src, "nul", 0);
    CU_ASSERT_EQUAL(r.errors, 1); /* the init pattern matches no parameter; nothing crashes */
    CU_ASSERT_PTR_NOT_NULL(strstr(r.diags, "no parameter matches \"a\""));
}

/* ---- the bad-input corpus ---- */

typedef struct Expect {
    char kind[8];
    int line, col;
    char text[256];
} Expect;

static int read_expectations(const char *text, Expect *out, int max) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, "#! ")) != NULL && n < max; p++) {
        Expect e = {0};
        if (sscanf(p, "#! %7s %d:%d: %255[^\n]", e.kind, &e.line, &e.col, e.text) == 4)
            out[n++] = e;
    }
    return n;
}

static void test_error_corpus(void) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/errors", SOURCE_ROOT);
    DIR *d = opendir(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    struct dirent *ent;
    int files = 0;
    while ((ent = readdir(d)) != NULL) {
        size_t len = strlen(ent->d_name);
        if (len < 5 || strcmp(ent->d_name + len - 4, ".dlm") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        Source *src = source_from_file(compilation(), path);
        CU_ASSERT_PTR_NOT_NULL_FATAL(src);
        Expect ex[64];
        int n = read_expectations(src->text, ex, 64);
        Run r = run_source(src, "bad", 0);
        files++;
        int expected_errors = 0;
        for (int i = 0; i < n; i++) {
            expected_errors += strcmp(ex[i].kind, "error") == 0;
            char *want = xsprintf(scratch(), "%s:%d:%d: %s: ", path, ex[i].line, ex[i].col, ex[i].kind);
            bool found = false;
            for (const char *p = r.diags; (p = strstr(p, want)) != NULL; p++)
                if (strncmp(p + strlen(want), ex[i].text, strlen(ex[i].text)) == 0)
                    found = true;
            if (!found)
                fprintf(stderr, "\n%s: expected \"%s%s\"; got:\n%s", ent->d_name, want, ex[i].text, r.diags);
            CU_ASSERT(found);
        }
        CU_ASSERT(n > 0);
        if (r.errors != expected_errors)
            fprintf(stderr, "\n%s: expected %d errors, got %d:\n%s", ent->d_name, expected_errors, r.errors, r.diags);
        CU_ASSERT_EQUAL(r.errors, expected_errors);
        end_compilation(r.ctx);
    }
    closedir(d);
    CU_ASSERT(files >= 5);
}

/* ---- the zoo ---- */

static const struct {
    const char *name;
    int64_t params;
} zoo_counts[] = {
    {"softmax", 7850},
    {"mlp", 203530},
    {"lenet", 61706},
    {"alexnet", 46764746},
    {"vgg11", 43093322},
    {"batchnorm", 44878},
    {"batchnorm_concise", 44878},
    {"nin", 1992166},
    {"googlenet", 5977530},
    {"resnet18", 11178378},
    {"densenet", 758226},
};

static void test_zoo_checks_clean(void) {
    static const char *const zoo[] = {
#define ZOO_TRAINED(name) #name,
#define ZOO_UNTRAINED(name) #name,
#include "../models/zoo.def"
    };
    for (size_t i = 0; i < sizeof zoo / sizeof zoo[0]; i++) {
        char *path = xsprintf(scratch(), "%s/models/%s.dlm", SOURCE_ROOT, zoo[i]);
        Run r = run_file(path, zoo[i]);
        if (r.errors)
            fprintf(stderr, "\n%s:\n%s", path, r.diags);
        CU_ASSERT_EQUAL(r.errors, 0);
        int64_t total = 0;
        for (int k = 0; r.g && k < r.g->params.n; k++)
            if (r.g->params.v[k].trainable)
                total += shape_numel(&r.g->params.v[k].shape);
        for (size_t k = 0; k < sizeof zoo_counts / sizeof zoo_counts[0]; k++)
            if (strcmp(zoo_counts[k].name, zoo[i]) == 0) {
                if (total != zoo_counts[k].params)
                    fprintf(stderr, "\n%s: %lld parameters, expected %lld\n", zoo[i], (long long)total,
                            (long long)zoo_counts[k].params);
                CU_ASSERT_EQUAL(total, zoo_counts[k].params);
            }
        end_compilation(r.ctx);
    }
}

static int64_t layer_shape_dim(Graph *g, const char *kind, int nth, int dim) {
    for (int i = 0; i < g->layers.n; i++)
        if (strcmp(g->layers.v[i].kind, kind) == 0 && nth-- == 0)
            return g->layers.v[i].shape.d[dim];
    return -1;
}

static void test_zoo_book_shapes(void) {
    /* AlexNet: 96x54x54 after the first convolution, 6400 after flatten; VGG-11 (ratio 4): 6272 */
    Run a = run_file(SOURCE_ROOT "/models/alexnet.dlm", "alexnet");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a.g);
    CU_ASSERT_EQUAL(layer_shape_dim(a.g, "conv2d", 0, 1), 96);
    CU_ASSERT_EQUAL(layer_shape_dim(a.g, "conv2d", 0, 2), 54);
    CU_ASSERT_EQUAL(layer_shape_dim(a.g, "flatten", 0, 1), 6400);
    Run v = run_file(SOURCE_ROOT "/models/vgg11.dlm", "vgg11");
    CU_ASSERT_PTR_NOT_NULL_FATAL(v.g);
    CU_ASSERT_EQUAL(layer_shape_dim(v.g, "flatten", 0, 1), 6272);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite_with_setup_and_teardown("frontend", NULL, NULL, NULL, end_test);
    CU_add_test(s, "parse a minimal model", test_parse_minimal);
    CU_add_test(s, "a line starting with |> continues", test_parse_pipe_continuation);
    CU_add_test(s, "one-line block", test_parse_one_line_block);
    CU_add_test(s, "operator precedence", test_parse_precedence);
    CU_add_test(s, "syntax errors are located", test_parse_errors_located);
    CU_add_test(s, "lexer errors", test_lexer_bad_characters);
    CU_add_test(s, "200 parses in one process", test_many_parses_one_process);
    CU_add_test(s, "layer names and tied parameters", test_names_and_tied);
    CU_add_test(s, "block names and compile-time loops", test_block_names);
    CU_add_test(s, "grad() as a value", test_grad_value);
    CU_add_test(s, "bounded while loop", test_while_bounded);
    CU_add_test(s, "glob patterns in linear time", test_glob);
    CU_add_test(s, "100000 blank lines before a |>", test_many_blank_lines);
    CU_add_test(s, "nesting past the parser's and the elaborator's limits", test_deep_nesting);
    CU_add_test(s, "20000 constants", test_many_constants);
    CU_add_test(s, "20000 layers", test_many_layers);
    CU_add_test(s, "the elaboration budget halts once", test_limits_halt);
    CU_add_test(s, "compile-time numbers are checked", test_numbers_checked);
    CU_add_test(s, "NUL bytes in strings and comments", test_nul_in_string);
    CU_add_test(s, "bad-input corpus tests/errors", test_error_corpus);
    CU_add_test(s, "every zoo model checks clean", test_zoo_checks_clean);
    CU_add_test(s, "the book's shapes", test_zoo_book_shapes);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
