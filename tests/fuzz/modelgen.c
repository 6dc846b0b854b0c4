/* modelgen.c: the campaign of issue 12. A grammar-aware generator of random models (inputs, layers, convolutions,
 * blocks, loops, element-wise arithmetic, gradients as values, inits, train sections with their optimizers and
 * penalties, -D overrides) that holds every one to dlc's promise: a model `dlc check` accepts compiles with `dlc
 * compile`, with and without --infer, in f32 and f64, and the C passes `cc -std=c11 -Wall -Wextra -Wconversion
 * -pedantic -Werror`; dlc never dies (a signal, an internal error) and never answers with anything but 0 or 1.
 *
 * usage: modelgen DLC [COUNT [SEED]]   (SEED defaults to the time; it is printed first, so a failure can be
 * replayed with the same seed). A failing model is printed with the command that failed and kept in the work
 * folder. The shapes are tracked as the model is generated, so almost every model is valid; the ones dlc
 * refuses (exit 1) are counted, and too many of them fails the run, since the campaign then tests little. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng;

static uint64_t next(void) {
    uint64_t z = (rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int pick(int n) { return (int)(next() % (uint64_t)n); }
static bool chance(int percent) { return pick(100) < percent; }
static const char *one_of(const char *const *v, int n) { return v[pick(n)]; }
#define ONE_OF(...) one_of((const char *const[]){__VA_ARGS__}, sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *))

/* The model text being generated. */
static char text[1 << 16];
static size_t len;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(text + len, sizeof text - len, fmt, ap);
    va_end(ap);
    if (k > 0 && (size_t)k < sizeof text - len)
        len += (size_t)k;
}

/* What is known of the current tensor h: [batch, d] or [batch, c, hw, hw]. */
typedef struct Shape {
    bool image;
    int d, c, hw;
} Shape;

static char defines[256];

static const char *act(void) { return ONE_OF("relu", "sigmoid", "tanh"); }

static const char *init_expr(void) {
    return ONE_OF("normal(0, 0.01)", "uniform(-0.1, 0.1)", "xavier_uniform", "xavier_normal", "kaiming_uniform",
                  "kaiming_normal", "zeros", "constant(0.5)", "0.25", "normal(0, 1) * 0.1", "self * 0.5",
                  "self * (abs(self) >= 0.01)");
}

/* One step applied to h, shape s. */
static void vector_step(Shape *s, bool has_block) {
    switch (pick(14)) {
    case 9: {
        int w = 1 + pick(6);
        out("h = h |> my_linear(%d)\n", w);
        s->d = w;
        break;
    }
    case 10:
        out("while sum(abs(h)) > %s max %d {\n    h = h / 2\n}\n", ONE_OF("1", "10", "0.5"), 1 + pick(8));
        break;
    case 11:
        out("if %d %s %d {\n    h = h * 2\n} else {\n    h = relu(h)\n}\n", pick(4), ONE_OF("<", ">=", "=="), pick(4));
        break;
    case 12:
        out("h = %s\n", ONE_OF("cumsum(h, 1)", "h - max(h, axis=1, keepdim=true)",
                               "h / (1 + sum(abs(h), axis=1, keepdim=true))", "h * mean(h)"));
        break;
    case 13: {
        static int consts;
        int w = 1 + pick(8);
        consts++;
        out("const proj%d: [h.shape[-1], %d] = uniform(0, 1)\nh = relu(h @ proj%d + 1)\n", consts, w, consts);
        s->d = w;
        break;
    }
    case 0:
    case 1: {
        int w = 1 + pick(12);
        if (chance(20))
            out("h = h |> linear(%d, weight_init=%s)\n", w, init_expr());
        else if (chance(15))
            out("h = h |> linear(%d, bias=false)\n", w);
        else
            out("h = h |> linear(%d) |> %s\n", w, act());
        s->d = w;
        break;
    }
    case 2:
        out("h = %s\n", ONE_OF("h * 0.5 + 1", "abs(h) - h / 3", "exp(-h * h)", "max(h, 0.1 * h)", "min(h, 2)",
                               "where(h > 0, h, 0.01 * h)", "h ** 2 - h", "sqrt(abs(h) + 1)", "log(1 + h * h)", "-h",
                               "pow(h, 3) * 0.1", "(h >= 0) * h"));
        break;
    case 3:
        out("h = h |> dropout(%s)\n", ONE_OF("0.1", "0.5", "0.25"));
        break;
    case 4: {
        int n = 1 + pick(3), w = 1 + pick(8);
        out("for i in range(%d) {\n    h = h |> linear(%d) |> %s\n}\n", n, w, act());
        s->d = w;
        break;
    }
    case 5:
        if (has_block) {
            out("h = blk(h, %d)\n", pick(3));
            s->d = 4;
        } else {
            out("h = h + %s\n", ONE_OF("1", "0.5", "h", "tanh(h)"));
        }
        break;
    case 6:
        out("h = %s\n", ONE_OF("h - mean(h, axis=1, keepdim=true)", "h |> batch_norm", "h |> batch_norm(eps=1e-3)"));
        break;
    case 7:
        if (s->d > 1 && chance(50)) {
            out("h = softmax(h)\n");
        } else {
            out("h = concat([h, %s], axis=1)\n", ONE_OF("h", "relu(h)", "h * 2"));
            s->d *= 2;
        }
        break;
    default: {
        int w = 1 + pick(6);
        static int instances;
        instances++;
        out("shared%d = linear(%d)\nh = h |> linear(%d) |> shared%d |> %s |> shared%d\n", instances, w, w, instances,
            act(), instances);
        s->d = w;
        break;
    }
    }
}

static void image_step(Shape *s) {
    switch (pick(4)) {
    case 0: {
        int c = 1 + pick(4), k = 1 + 2 * pick(2);
        out("h = h |> conv2d(%d, kernel=%d, padding=%d) |> %s\n", c, k, k / 2, act());
        s->c = c;
        break;
    }
    case 1:
        if (s->hw >= 2) {
            out("h = h |> %s(2)\n", ONE_OF("max_pool", "avg_pool"));
            s->hw /= 2;
        }
        break;
    case 2:
        if (s->hw >= 3) {
            int c = 1 + pick(3);
            out("h = h |> conv2d(%d, kernel=3, stride=2)\n", c);
            s->c = c;
            s->hw = (s->hw - 3) / 2 + 1;
        }
        break;
    default:
        out("h = h %s\n", ONE_OF("* 0.5 + relu(h)", "|> batch_norm", "|> batch_norm(momentum=0.2) |> relu"));
        break;
    }
}

/* A model; returns whether it has a batched input (an unbatched one is never trained). */
static void generate(void) {
    len = 0;
    defines[0] = '\0';
    out("# generated by tests/fuzz/modelgen.c\n");
    bool image = chance(20), batched = image || chance(85), train = batched && chance(70);
    bool classify = train && (image || chance(40));
    int d = 1 + pick(10);
    if (chance(40)) {
        out("width = %d\n", d);
        if (chance(50)) {
            d = 1 + pick(10);
            snprintf(defines, sizeof defines, "-D width=%d", d);
        }
    }
    out("block my_linear(x, units) {\n    param weight: [x.shape[-1], units] = normal(0, 0.1)\n"
        "    param bias: [units] = zeros\n    return relu(x @ weight + bias)\n}\n");
    bool has_block = !image && chance(40);
    if (has_block)
        out("block blk(x, n) {\n    x = x |> linear(4) |> relu\n    for i in range(n) {\n"
            "        x = x |> linear(4) |> %s\n    }\n    return x\n}\n",
            act());
    Shape s = {.image = image, .d = d};
    if (image) {
        s.c = 1;
        s.hw = 28;
        out("input x: f32[batch, 1, 28, 28]\n");
    } else {
        char dim[16];
        snprintf(dim, sizeof dim, "%d", d);
        out("input x: f32[%s%s]\n", batched ? "batch, " : "", strstr(text, "width =") ? "width" : dim);
    }
    if (chance(10))
        out("input unused: %s\n", ONE_OF("f32[batch, 2]", "i32[batch]", "f32[3]"));
    out("h = x\n");
    if (!batched)
        out("h = reshape(h, [1, %d])\n", d);
    int steps = 1 + pick(6);
    for (int i = 0; i < steps; i++) {
        if (s.image && (i < steps - 1 || chance(30)))
            image_step(&s);
        else {
            if (s.image) {
                out("h = flatten(h)\n");
                s.image = false;
                s.d = s.c * s.hw * s.hw;
            }
            vector_step(&s, has_block);
        }
    }
    if (s.image) {
        out("h = flatten(h)\n");
        s.image = false;
    }
    int classes = 2 + pick(9);
    if (classify)
        out("yhat = h |> linear(%d)\n", image ? 10 : classes);
    else
        out("yhat = h |> linear(1)\n");
    out("output yhat\n");
    if (chance(25))
        out("output gx = grad(sum(yhat * yhat), x)\n");
    if (chance(20))
        out("output s = sum(yhat, axis=1)\n");
    if (chance(10))
        out("output same = x\n");
    if (chance(10))
        out("output k = %s\n", ONE_OF("sum(x) * 0 + 1", "mean(x)", "max(x)"));
    if (chance(30))
        out("init \"*.weight\" = %s\n", init_expr());
    if (chance(20))
        out("init \"*.bias\" = %s\n", ONE_OF("zeros", "ones", "constant(0.1)"));
    if (!train)
        return;
    if (classify)
        out("input y: i32[batch]\n");
    else
        out("input y: f32[batch, 1]\n");
    out("train {\n");
    if (image)
        out("    data = fashion_mnist(x, y)\n");
    else if (classify)
        out("    data = tensors(x, y, ones([64, x.shape[-1]]), arange(64) - arange(64))\n");
    else if (chance(50))
        out("    data = high_dim(x, y, n_train=20, n_test=20, noise=0.01)\n");
    else
        out("    data = synthetic_linear(x, y, w=%s, b=0.5, noise=0.01, n=50)\n", "[1] * x.shape[-1]");
    if (classify)
        out("    loss = cross_entropy(yhat, y)%s\n", chance(40) ? " + 0.01 * l2_penalty(params(\"*.weight\"))" : "");
    else
        out("    loss = %s(yhat, y)%s\n", ONE_OF("squared_loss", "mse"),
            chance(40) ? ONE_OF(" + 0.01 * l2_penalty(params(\"*.weight\"))", " + 0.001 * l1_penalty(params(\"*\"))")
                       : "");
    out("    optimizer = %s\n",
        ONE_OF("sgd(lr = 0.01)", "sgd(lr = 0.05, momentum = 0.9)",
               "sgd(lr = 0.01, weight_decay = 0.001, decay = \"*.weight\")", "sgd(lr = 0.01, l1 = 0.001)",
               "adam(lr = 0.001)", "adam(lr = 0.01, beta1 = 0.8, weight_decay = 0.01)"));
    out("    batch = %d\n    epochs = %d\n", 1 + pick(16), 1 + pick(3));
    if (classify)
        out("    metrics = [accuracy(yhat, y)]\n");
    out("}\n");
}

static char work[64];

/* Runs a command given as words (no shell: half the processes) with its output in work/log.txt; the exit status,
 * or -1 on a signal. Words are split at spaces, so no word may hold one. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[2048], *argv[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int n = 0;
    for (char *w = strtok(cmd, " "); w && n < 63; w = strtok(NULL, " "))
        argv[n++] = w;
    argv[n] = NULL;
    char log[128];
    snprintf(log, sizeof log, "%s/log.txt", work);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        if (!f || dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
            _exit(127);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool log_has(const char *s) {
    char path[128], buf[8192];
    snprintf(path, sizeof path, "%s/log.txt", work);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, s) != NULL;
}

static void report(int i, const char *what, const char *cmd) {
    char path[128];
    snprintf(path, sizeof path, "%s/log.txt", work);
    fprintf(stderr, "\nmodel %d: %s\n  %s\n--- model (%s) ---\n%s--- output ---\n", i, what, cmd, defines, text);
    FILE *f = fopen(path, "r");
    char buf[4096];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    fprintf(stderr, "%s---\n", buf);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: modelgen DLC [COUNT [SEED]]\n");
        return 2;
    }
    const char *dlc = argv[1];
    int count = argc > 2 ? atoi(argv[2]) : 300;
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
    printf("modelgen: seed %" PRIu64 ", %d models (replay: modelgen DLC %d %" PRIu64 ")\n", seed, count, count, seed);
    fflush(stdout);
    snprintf(work, sizeof work, "/tmp/dlc-modelgen-XXXXXX");
    if (!mkdtemp(work))
        return 2;
    int accepted = 0, refused = 0, failures = 0;
    for (int i = 0; i < count; i++) {
        rng = seed + (uint64_t)i * 0x632be59bd9b4e019u; /* model i depends on the seed and i only */
        generate();
        char path[128];
        snprintf(path, sizeof path, "%s/m%d.dlm", work, i);
        FILE *f = fopen(path, "w");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0)
            return 2;
        /* dlc compile refuses what dlc check refuses (the same front end): check runs only then, to be sure */
        int rc = sh("%s compile %s %s -o %s/v0", dlc, path, defines, work);
        if (rc == 1 && !log_has("internal compiler error")) {
            if (sh("%s check %s %s", dlc, path, defines) == 1) {
                if (getenv("MODELGEN_SHOW_REFUSED"))
                    report(i, "refused", "dlc check");
                refused++;
                continue;
            }
            report(i, "dlc check accepted it, dlc compile did not", "dlc compile");
            failures++;
            continue;
        }
        if (rc != 0) {
            report(i, rc < 0 ? "dlc compile died" : "dlc compile failed", "dlc compile");
            failures++;
            continue;
        }
        accepted++;
        bool bad = false;
        static const char *const variants[] = {"", "--infer", "--dtype f64", "--infer --dtype f64"};
        for (int v = 1; v < 4 && !bad; v++) {
            rc = sh("%s compile %s %s %s -o %s/v%d", dlc, path, defines, variants[v], work, v);
            if (rc != 0) {
                report(i, "dlc check accepted it, dlc compile did not", variants[v]);
                bad = true;
            }
        }
        /* one cc for the four (a quoted include finds <name>.h beside its .c) */
        if (!bad && sh("cc -std=c11 -Wall -Wextra -Wconversion -pedantic -Werror -fsyntax-only %s/v0/m%d.c "
                       "%s/v1/m%d.c %s/v2/m%d.c %s/v3/m%d.c",
                       work, i, work, i, work, i, work, i) != 0) {
            report(i, "the emitted C fails -Werror (v0: f32, v1: --infer, v2: f64, v3: --infer f64)", "cc");
            bad = true;
        }
        failures += bad;
        if (!bad)
            remove(path);
    }
    printf("modelgen: seed %" PRIu64 ": %d models, %d accepted and compiled 4 ways, %d refused by dlc check, %d "
           "failures%s%s\n",
           seed, count, accepted, refused, failures, failures ? "; the failing models are in " : "",
           failures ? work : "");
    if (!failures) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", work);
        if (system(cmd) != 0)
            return 2;
    }
    /* a generator whose models dlc mostly refuses tests little */
    if (refused * 4 > count) {
        fprintf(stderr, "modelgen: dlc refused %d of %d models; the generator has drifted from the language\n", refused,
                count);
        return 1;
    }
    return failures ? 1 : 0;
}
