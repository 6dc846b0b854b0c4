/* main.c: the dlc command line: check, compile, build.
 *
 * Exit status: 0 clean, 1 errors in the model, 2 bad usage (../shared/INTERFACE.md). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dlc.h"
#include "dlrt.h"

static const char *const prog_name = "dlc";

static void usage_main(FILE *f) {
    fprintf(f, "usage: dlc COMMAND [options] FILE.dlm\n"
               "\n"
               "dlc compiles a neural-network model written in the .dlm language into plain C: the forward pass,\n"
               "the backward pass and the optimizer step, specialised to the model's shapes, with every buffer at\n"
               "an offset fixed at compile time.\n"
               "\n"
               "commands:\n"
               "  check FILE.dlm      check the model; print shapes, parameters, FLOPs and memory\n"
               "  compile FILE.dlm    write <name>.h and <name>.c\n"
               "  build FILE.dlm      compile the model and link its trainer, <name>-train\n"
               "  export FILE.dlm     write the inference graph as an ONNX model\n"
               "  import FILE.onnx    write an ONNX model as a .dlm model and an .npz of its weights\n"
               "\n"
               "options:\n"
               "  --help              this help; `dlc COMMAND --help` for a command's options\n"
               "  --version           print the version\n"
               "\n"
               "The language is documented in docs/language.md; the zoo of D2L models is in models/.\n");
}

static void usage_check(FILE *f) {
    fprintf(f, "usage: dlc check FILE.dlm [--json] [--batch N] [-D NAME=NUMBER] [--infer] [--dump-after=PASS]\n"
               "                 [--weights CKPT] [--portable] [--quantize int8 --calibration DATA] [--recompute]\n"
               "\n"
               "Elaborates the model and checks every shape. Prints each layer's output shape, every parameter\n"
               "(full name, shape, count), totals, FLOPs per example (forward, and a training step counted from\n"
               "the real backward graph). Exit status 0 when the model is clean, 1 on errors, 2 on bad usage.\n"
               "\n"
               "  --json              the same report as one JSON object (docs/embedding.md lists its keys)\n"
               "  --batch N           the maximum batch size (default: the model's train batch)\n"
               "  -D NAME=NUMBER      set a top-level constant of the model (`features = 4` in polyfit.dlm)\n"
               "  --infer             report for inference code only, with what embedding it costs: code,\n"
               "                      constant-data and workspace bytes (code and constant data measured by\n"
               "                      compiling the --infer C with the system compiler, $CC or cc, at -O2)\n"
               "  --weights CKPT      with --infer: sizes with the weights compiled in\n"
               "  --portable          with --infer: sizes of the build without BLAS\n"
               "  --quantize int8     with --infer --weights: sizes of the int8 build (--calibration DATA,\n"
               "                      as for dlc compile)\n"
               "  --recompute         report the training step as compiled with --recompute (without it, the\n"
               "                      report still says what --recompute would save)\n"
               "  --dump-after=PASS   print the IR after a pass: elab, autodiff, simplify, fuse or plan\n");
}

static void usage_compile(FILE *f) {
    fprintf(f, "usage: dlc compile FILE.dlm [-o DIR] [--batch N] [--dtype f32|f64] [--infer] [--weights CKPT] "
               "[--portable]\n"
               "                   [--quantize int8 --calibration DATA] [--recompute]\n"
               "\n"
               "Writes DIR/<name>.h and DIR/<name>.c, <name> being the model file's base name.\n"
               "\n"
               "  -o DIR              the output directory (default: .; created when missing)\n"
               "  --batch N           the maximum batch size (default: the model's; 1 with --infer)\n"
               "  -D NAME=NUMBER      set a top-level constant of the model\n"
               "  --dtype f32|f64     the element type (gradient checks use f64)\n"
               "  --infer             inference only: the forward pass, a workspace of <NAME>_WORKSPACE_BYTES\n"
               "  --weights CKPT      with --infer: compile the checkpoint's weights in as constants\n"
               "                      (CKPT.npz: a NumPy archive keyed by the parameters' names, a state_dict)\n"
               "  --portable          plain C11 and libm: no BLAS\n"
               "  --quantize int8     with --infer --weights: matrix products and convolutions in int8 (weights\n"
               "                      per output channel, inputs per tensor), int32 sums; other ops stay f32\n"
               "  --calibration DATA  the images that set the inputs' scales: an IDX image file (idx3-ubyte,\n"
               "                      plain or .gz, as Fashion-MNIST's train-images-idx3-ubyte), its first 1000\n"
               "                      images (docs/embedding.md); runs the f32 code on them with cc\n"
               "  --trainer           also write <name>_train.c, the trainer's main()\n"
               "  --recompute         compute cheap element-wise forward values (ReLU, batch norm's scale-shift,\n"
               "                      residual sums) again in backward instead of keeping them, where that lowers\n"
               "                      the training step's arena; same results bit for bit (docs/compiler.md)\n");
}

static void usage_build(FILE *f) {
    fprintf(f, "usage: dlc build FILE.dlm [-o EXE] [--batch N] [-D NAME=NUMBER] [--mpi] [--native] [--recompute]\n"
               "\n"
               "Compiles the model and links its trainer (default name <name>-train) against libdlrt (statically),\n"
               "OpenBLAS and OpenMP with the system compiler. `<name>-train --help` lists its flags.\n"
               "\n"
               "  -o EXE              the trainer's file name (default: <name>-train)\n"
               "  --batch N           the maximum batch size (default: the model's)\n"
               "  -D NAME=NUMBER      set a top-level constant of the model\n"
               "  --mpi               a data-parallel trainer, run as `mpirun -np N EXE [flags]` (links\n"
               "                      libdlrt-mpi and MPI; docs/trainer.md)\n"
               "  --native            compile for this machine's CPU (-march=native); the default is portable\n"
               "  --recompute         a smaller training step: cheap forward values computed again in backward\n"
               "                      where that lowers its arena, with the same results (as dlc compile)\n"
               "\n"
               "environment: CC (default cc), CFLAGS (added after -O3 -ffp-contract=fast), LDFLAGS; each is split\n"
               "at blanks into arguments, as make does. The compiler runs without a shell.\n");
}

static void usage_export(FILE *f) {
    fprintf(f, "usage: dlc export FILE.dlm [--weights CKPT] [-D NAME=NUMBER] -o FILE.onnx\n"
               "\n"
               "Writes the model's inference graph (dropout off) as an ONNX model: opset 13, a symbolic batch\n"
               "dimension, the inputs and outputs named as in the .dlm. With --weights (a checkpoint, or a NumPy\n"
               ".npz keyed by the parameters' names) the parameters are initializers under their full names;\n"
               "without, they are inputs of the graph. docs/interop.md lists the ops it writes.\n");
}

static void usage_import(FILE *f) {
    fprintf(f, "usage: dlc import FILE.onnx [-o DIR]\n"
               "\n"
               "Writes DIR/<name>.dlm, the ONNX model in dlc's language (a layer or an expression per node, layers\n"
               "named after their weights' initializers or their nodes, each line's output shape in a comment), and\n"
               "DIR/<name>.npz, the initializers under the parameter names the .dlm gives them; <name> is the file's\n"
               "base name without .onnx. `dlc check`, `dlc compile --infer --weights DIR/<name>.npz` and, once a\n"
               "train section is added, `dlc build` take the model as any other. Every node, attribute or shape it\n"
               "cannot express is reported with the node's name and op type (exit status 1, nothing written), and a\n"
               "malformed or truncated file with where it breaks. docs/interop.md lists the operators.\n"
               "\n"
               "  -o DIR              the output directory (default: .; created when missing)\n");
}

typedef struct Options {
    const char *cmd;
    const char *file;
    const char *out;
    int64_t batch;
    bool f64;
    bool infer;
    bool portable;
    const char *weights;
    const char *quantize;    /* --quantize int8 */
    const char *calibration; /* --calibration DATA: an IDX image file */
    const char *dump_after;
    bool trainer;              /* compile --trainer: also write <name>_train.c */
    bool native;               /* build --native: -march=native */
    bool mpi;                  /* build --mpi: a data-parallel trainer linked with libdlrt-mpi */
    bool json;                 /* check --json */
    bool recompute;            /* --recompute: cheap forward values computed again in backward (recompute.c) */
    Vec(const char *) defines; /* -D name=value */
} Options;

static int bad_usage(void (*usage)(FILE *), const char *fmt, const char *arg) {
    fprintf(stderr, "%s: ", prog_name);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n");
    usage(stderr);
    return 2;
}

/* The model's name: the file's base name without .dlm, which must be a C identifier. */
static char *model_name(Ctx *ctx, const char *path) {
    char *copy = xstrdup(ctx, path);
    char *base = basename(copy);
    size_t n = strlen(base);
    if (n > 4 && strcmp(base + n - 4, ".dlm") == 0)
        base[n - 4] = '\0';
    return xstrdup(ctx, base);
}

static bool valid_ident(const char *s) {
    if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return false;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

/* Why a model's name (a C identifier) cannot name its files and symbols, or NULL. The generated folder is on the
 * include path with -iquote (dlc build, the tests), so <math.h> and the like cannot be shadowed by <name>.h; the
 * runtime's headers are included with quotes, from the trainer beside <name>.h, and symbols starting with '_' are
 * reserved to C (`_` makes `__real`, a GNU keyword). The names of the zoo and of dlc's tests are all fine. */
static const char *name_clash(const char *name) {
    static const char *const runtime_headers[] = {"dlrt", "dlrt_core"};
    for (size_t i = 0; i < sizeof runtime_headers / sizeof *runtime_headers; i++)
        if (strcmp(name, runtime_headers[i]) == 0)
            return "would make a header that shadows the runtime's own (dlrt.h, dlrt_core.h)";
    /* the header's guard is <NAME>_H, and OpenBLAS's <cblas.h>, which the generated C includes, guards with CBLAS_H */
    if (strcmp(name, "cblas") == 0)
        return "would make a header whose guard, CBLAS_H, is the one of <cblas.h>";
    if (name[0] == '_')
        return "starts with '_': the symbols <name>_... would be identifiers that C reserves";
    return NULL;
}

/* Why `-D val` is not NAME=NUMBER, NUMBER spelled as in the language (digits, a point, an exponent, a sign; no
 * hex, inf or nan) and in range (an integer fits in 64 bits, a float is finite), or NULL. The message takes val. */
static const char *define_error(Ctx *ctx, const char *val) {
    const char *eq = strchr(val, '=');
    if (!eq || eq == val || !valid_ident(xstrndup(ctx, val, (size_t)(eq - val))))
        return "-D takes NAME=NUMBER (a top-level constant of the model), got '%s'";
    const char *p = eq + 1;
    p += *p == '-' || *p == '+';
    size_t digits = strspn(p, "0123456789");
    p += digits;
    bool is_int = true;
    if (*p == '.') {
        size_t frac = strspn(p + 1, "0123456789");
        digits += frac;
        p += 1 + frac;
        is_int = false;
    }
    if (digits && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        q += *q == '-' || *q == '+';
        size_t exp = strspn(q, "0123456789");
        p = exp ? q + exp : p;
        is_int = is_int && !exp;
    }
    if (!digits || *p)
        return "-D takes NAME=NUMBER, a number as the language writes it (digits, '.', an exponent; no hex), got "
               "'%s'";
    errno = 0;
    char *end;
    if (is_int)
        (void)strtoll(eq + 1, &end, 10);
    else if (!isfinite(strtod(eq + 1, &end)))
        errno = ERANGE;
    if (errno == ERANGE)
        return is_int ? "-D %s: the integer does not fit in 64 bits" : "-D %s: the number is out of range";
    return NULL;
}

/* dlc's options, read by libdlrt's scanner as the trainers' are (exact names, --x v or --x=v, -o v or -ov). Which
 * command takes which is decided below: --json is check's, --native build's. */
static const DlrtOption dlc_options[] = {
    {"--help", 0},        {"-h", 0},          {"-o", 1},           {"--batch", 1}, {"--dtype", 1},
    {"--infer", 0},       {"-D", 1},          {"--trainer", 0},    {"--json", 0},  {"--native", 0},
    {"--portable", 0},    {"--weights", 1},   {"--dump-after", 1}, {"--mpi", 0},   {"--quantize", 1},
    {"--calibration", 1}, {"--recompute", 0},
};

static int parse_options(Ctx *ctx, int argc, char **argv, Options *o, void (*usage)(FILE *)) {
    const DlrtOption *opt;
    const char *val;
    DlrtError err;
    int rc, i = 2;
    while ((rc = dlrt_next_option(argc, argv, &i, dlc_options, sizeof dlc_options[0],
                                  sizeof dlc_options / sizeof dlc_options[0], &opt, &val, &err)) == 1) {
        const char *a = opt ? opt->name : val;
        if (!opt) {
            if (o->file)
                return bad_usage(usage, "more than one model file: '%s'", a);
            o->file = a;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return -1;
        } else if (strcmp(a, "-o") == 0) {
            o->out = val;
        } else if (strcmp(a, "--batch") == 0) {
            char *end;
            long long b = strtoll(val, &end, 10);
            if (*end || b < 1 || b > (1 << 20))
                return bad_usage(usage, "--batch needs a positive integer up to 1048576, got '%s'", val);
            o->batch = b;
        } else if (strcmp(a, "--dtype") == 0) {
            if (strcmp(val, "f32") == 0)
                o->f64 = false;
            else if (strcmp(val, "f64") == 0)
                o->f64 = true;
            else
                return bad_usage(usage, "--dtype is f32 or f64, got '%s'", val);
        } else if (strcmp(a, "--infer") == 0) {
            o->infer = true;
        } else if (strcmp(a, "-D") == 0) {
            const char *why = define_error(ctx, val);
            if (why)
                return bad_usage(usage, why, val);
            const char *eq = strchr(val, '=');
            for (int k = 0; k < o->defines.n; k++)
                if (strncmp(o->defines.v[k], val, (size_t)(eq - val) + 1) == 0)
                    return bad_usage(usage, "-D %s: that constant is already defined by an earlier -D", val);
            vec_push(ctx, &o->defines, val);
        } else if (strcmp(a, "--trainer") == 0) {
            o->trainer = true;
        } else if (strcmp(a, "--json") == 0 && usage == usage_check) {
            o->json = true;
        } else if (strcmp(a, "--mpi") == 0 && usage == usage_build) {
            o->mpi = true;
        } else if (strcmp(a, "--native") == 0 && usage == usage_build) {
            o->native = true;
        } else if (strcmp(a, "--portable") == 0) {
            o->portable = true;
        } else if (strcmp(a, "--recompute") == 0 && usage != usage_export) {
            o->recompute = true;
        } else if (strcmp(a, "--weights") == 0) {
            o->weights = val;
        } else if (strcmp(a, "--quantize") == 0 && (usage == usage_compile || usage == usage_check)) {
            if (strcmp(val, "int8") != 0)
                return bad_usage(usage, "--quantize takes int8, got '%s'", val);
            o->quantize = val;
        } else if (strcmp(a, "--calibration") == 0 && (usage == usage_compile || usage == usage_check)) {
            o->calibration = val;
        } else if (strcmp(a, "--dump-after") == 0) {
            o->dump_after = val;
            if (strcmp(val, "elab") && strcmp(val, "autodiff") && strcmp(val, "simplify") && strcmp(val, "fuse") &&
                strcmp(val, "plan"))
                return bad_usage(usage, "--dump-after takes elab, autodiff, simplify, fuse or plan; got '%s'", val);
        } else {
            return bad_usage(usage, "unknown option '%s'", a);
        }
    }
    if (rc)
        return bad_usage(usage, "%s", err.msg);
    if (!o->file)
        return bad_usage(usage, "no model file given%s", "");
    if (o->quantize && (!o->infer || !o->weights || !o->calibration))
        return bad_usage(usage, "--quantize int8 needs --infer, --weights CKPT and --calibration DATA%s", "");
    if (o->calibration && !o->quantize)
        return bad_usage(usage, "--calibration is for --quantize int8%s", "");
    if (o->quantize && o->f64)
        return bad_usage(usage, "--quantize int8 quantizes f32 code; it does not take --dtype f64%s", "");
    return 0;
}

/* Parses and elaborates; NULL after reporting errors. */
static Graph *front_end(Ctx *ctx, const Options *o, bool training) {
    Source *src = source_from_file(ctx, o->file);
    if (!src && errno == EFBIG)
        fprintf(stderr, "%s: '%s' is too large: a model file has at most %zu MiB\n", prog_name, o->file,
                MAX_SOURCE_BYTES >> 20);
    else if (!src)
        fprintf(stderr, "%s: cannot read '%s': %s\n", prog_name, o->file, strerror(errno));
    if (!src)
        return NULL;
    char *name = model_name(ctx, o->file);
    if (!valid_ident(name)) {
        fprintf(stderr,
                "%s: the model's name comes from its file name, '%s', which is not a C identifier; "
                "rename the file (letters, digits, _)\n",
                prog_name, name);
        return NULL;
    }
    const char *clash = name_clash(name);
    if (clash) {
        fprintf(stderr,
                "%s: the model's name comes from its file name, '%s', which %s; rename the file, say to '%s%s.dlm'\n",
                prog_name, name, clash, name[0] == '_' ? "model" : name, name[0] == '_' ? name : "_model");
        return NULL;
    }
    Program *prog = parse_program(src);
    if (ctx->diag.errors)
        return NULL;
    ElabOptions eo = {.batch = o->batch   ? o->batch
                               : o->infer ? 1
                                          : 0,
                      .training = training,
                      .dist = training && o->mpi,
                      .defines = o->defines.v,
                      .ndefines = o->defines.n};
    Graph *g = elaborate(prog, name, &eo);
    if (ctx->diag.errors)
        return NULL;
    return g;
}

static Compiled *compile_file(Ctx *ctx, const Options *o);

static int finish(Ctx *ctx, int status) {
    if (ctx->diag.errors)
        fprintf(stderr, "%d error%s generated.\n", ctx->diag.errors, ctx->diag.errors == 1 ? "" : "s");
    return status;
}

typedef void (*EmitFn)(FILE *, Compiled *, const EmitOptions *);
static bool write_file(const char *path, EmitFn fn, Compiled *c, const EmitOptions *eo);

/* ---- running the system compiler ---- */

typedef Vec(const char *) Words;

/* Appends the blank-separated words of an environment variable ($CC, $CFLAGS, $LDFLAGS) to *w, as make splits
 * them; quotes are not interpreted (no shell is involved), so CC="cc -fsanitize=address" works and a compiler
 * whose path holds a blank does not. */
static void push_words(Ctx *ctx, Words *w, const char *s) {
    while (s && *s) {
        size_t blank = strspn(s, " \t\n");
        s += blank;
        size_t len = strcspn(s, " \t\n");
        if (len)
            vec_push(ctx, w, xsprintf(ctx, "%.*s", (int)len, s));
        s += len;
    }
}

/* The command as a shell would need it, for messages only: words with anything but [A-Za-z0-9_./=:,+-] quoted. */
static char *shell_quoted(Ctx *ctx, const Words *w) {
    char *out = xstrdup(ctx, "");
    for (int i = 0; i < w->n; i++) {
        const char *a = w->v[i];
        bool plain =
            *a && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./=:,+-@%") == strlen(a);
        char *q = xstrdup(ctx, plain ? a : "'");
        if (!plain) {
            for (const char *p = a; *p; p++)
                q = *p == '\'' ? xsprintf(ctx, "%s'\\''", q) : xsprintf(ctx, "%s%c", q, *p);
            q = xsprintf(ctx, "%s'", q);
        }
        out = xsprintf(ctx, "%s%s%s", out, i ? " " : "", q);
    }
    return out;
}

extern char **environ;

/* Runs w (w->v[0] looked up on PATH) without a shell and waits for it. With `log`, its stdout and stderr go to
 * that file. Returns its exit status (128 + the signal when killed), or -1 with errno set when it could not be
 * started. */
static int run_program(Ctx *ctx, const Words *w, const char *log) {
    Words argv = *w;
    vec_push(ctx, &argv, NULL);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (log) {
        posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    pid_t pid;
    int rc = posix_spawnp(&pid, argv.v[0], &fa, NULL, (char *const *)argv.v, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Where libdlrt is: the static archive and the directory of "dlrt.h". */
typedef struct {
    char *library, *include;
} Runtime;

/* Finds the runtime relative to this executable, never through paths of the build tree: installed, libdir and
 * includedir relative to bindir (DLC_LIBDIR, DLC_INCLUDEDIR from meson; absolute when configured so), else an
 * uninstalled dlc's own build tree, <build>/compiler/dlc beside <build>/runtime (the archive and copies of the
 * public headers). Returns false after saying where it looked. */
static bool find_runtime(Ctx *ctx, Runtime *rt) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "%s: cannot find my own executable (/proc/self/exe): %s\n", prog_name, strerror(errno));
        return false;
    }
    self[n] = '\0';
    char *bindir = dirname(self);
    const char *lib_dir = DLC_LIBDIR[0] == '/' ? DLC_LIBDIR : xsprintf(ctx, "%s/%s", bindir, DLC_LIBDIR);
    const char *inc_dir = DLC_INCLUDEDIR[0] == '/' ? DLC_INCLUDEDIR : xsprintf(ctx, "%s/%s", bindir, DLC_INCLUDEDIR);
    const char *places[2][2] = {{lib_dir, inc_dir}, {xsprintf(ctx, "%s/../runtime", bindir), NULL}};
    places[1][1] = places[1][0];
    for (int i = 0; i < 2; i++) {
        rt->library = xsprintf(ctx, "%s/libdlrt.a", places[i][0]);
        rt->include = xsprintf(ctx, "%s", places[i][1]);
        if (access(rt->library, R_OK) == 0 && access(xsprintf(ctx, "%s/dlrt.h", rt->include), R_OK) == 0)
            return true;
    }
    fprintf(stderr,
            "%s: cannot find libdlrt: looked for libdlrt.a and dlrt.h in %s and %s (installed), and in %s (a build "
            "tree)\n",
            prog_name, lib_dir, inc_dir, places[1][0]);
    return false;
}

/* 1234567 -> "1,234,567", as check.c prints numbers. */
static char *commas(Ctx *ctx, uint64_t v) {
    char raw[32], out[48];
    snprintf(raw, sizeof raw, "%llu", (unsigned long long)v);
    int len = (int)strlen(raw), k = 0;
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            out[k++] = ',';
        out[k++] = raw[i];
    }
    out[k] = '\0';
    return xstrdup(ctx, out);
}

/* Section sizes of an ELF object: code (allocated, executable), constant data (allocated, read-only after
 * relocation: .rodata*, .data.rel.ro*) and mutable static data (.data, .bss). Unwind tables (.eh_frame, ARM's
 * .ARM.exidx and .ARM.extab) and notes are left out: they are not the program's. Both classes and both byte
 * orders are read, so 32-bit objects of a microcontroller's compiler (arm-none-eabi-gcc, gcc -m32) are measured
 * as x86-64 ones are. A reader of the few fields needed, rather than libelf or binutils' `size`: dlc gains no
 * library or program to depend on, and the split into code, constant and mutable data follows the sections'
 * flags, where `size`'s totals put .rodata under text. Returns false when the file is not such an ELF. */
typedef struct {
    uint64_t code, constant, mutable_data;
} ObjectSizes;

typedef struct {
    const unsigned char *b;
    uint64_t len;
    bool be, is64;
} ElfFile;

/* The unsigned integer of `bytes` bytes at off in the file's byte order; 0 past the end (then caught by the
 * bounds checks of the caller). */
static uint64_t elf_uint(const ElfFile *e, uint64_t off, int bytes) {
    uint64_t v = 0;
    if (off > e->len || e->len - off < (uint64_t)bytes)
        return 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)e->b[off + (uint64_t)(e->be ? bytes - 1 - i : i)] << (8 * i);
    return v;
}

/* A word of the file's class: 8 bytes in ELF64, 4 in ELF32. */
static uint64_t elf_word(const ElfFile *e, uint64_t off) { return elf_uint(e, off, e->is64 ? 8 : 4); }

static bool elf_sizes(Ctx *ctx, const char *path, ObjectSizes *sz) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    unsigned char *b = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        b = xalloc(ctx, (size_t)len);
        if (fread(b, 1, (size_t)len, f) != (size_t)len)
            len = -1;
    }
    fclose(f);
    if (len < EI_NIDENT || memcmp(b, ELFMAG, SELFMAG) != 0 ||
        (b[EI_CLASS] != ELFCLASS32 && b[EI_CLASS] != ELFCLASS64) ||
        (b[EI_DATA] != ELFDATA2LSB && b[EI_DATA] != ELFDATA2MSB))
        return false;
    ElfFile e = {b, (uint64_t)len, b[EI_DATA] == ELFDATA2MSB, b[EI_CLASS] == ELFCLASS64};
    /* the header's and a section header's layout (elf.h's Elf32_/Elf64_ structs): offsets of the fields read */
    uint64_t ehsize = e.is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
    uint64_t shsize = e.is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
    uint64_t shoff = elf_word(&e, e.is64 ? offsetof(Elf64_Ehdr, e_shoff) : offsetof(Elf32_Ehdr, e_shoff));
    uint64_t shentsize =
        elf_uint(&e, e.is64 ? offsetof(Elf64_Ehdr, e_shentsize) : offsetof(Elf32_Ehdr, e_shentsize), 2);
    uint64_t shnum = elf_uint(&e, e.is64 ? offsetof(Elf64_Ehdr, e_shnum) : offsetof(Elf32_Ehdr, e_shnum), 2);
    uint64_t shstrndx = elf_uint(&e, e.is64 ? offsetof(Elf64_Ehdr, e_shstrndx) : offsetof(Elf32_Ehdr, e_shstrndx), 2);
    uint64_t o_name = e.is64 ? offsetof(Elf64_Shdr, sh_name) : offsetof(Elf32_Shdr, sh_name);
    uint64_t o_type = e.is64 ? offsetof(Elf64_Shdr, sh_type) : offsetof(Elf32_Shdr, sh_type);
    uint64_t o_flags = e.is64 ? offsetof(Elf64_Shdr, sh_flags) : offsetof(Elf32_Shdr, sh_flags);
    uint64_t o_offset = e.is64 ? offsetof(Elf64_Shdr, sh_offset) : offsetof(Elf32_Shdr, sh_offset);
    uint64_t o_size = e.is64 ? offsetof(Elf64_Shdr, sh_size) : offsetof(Elf32_Shdr, sh_size);
    if (e.len < ehsize || shentsize != shsize || shoff > e.len || shnum > (e.len - shoff) / shsize || shstrndx >= shnum)
        return false;
    uint64_t strtab = shoff + shstrndx * shsize;
    uint64_t names_off = elf_word(&e, strtab + o_offset), names_len = elf_word(&e, strtab + o_size);
    if (names_off > e.len || names_len > e.len - names_off || names_len == 0 || b[names_off + names_len - 1] != '\0')
        return false;
    const char *names = (const char *)b + names_off;
    *sz = (ObjectSizes){0};
    for (uint64_t i = 0; i < shnum; i++) {
        uint64_t sh = shoff + i * shsize;
        uint64_t name = elf_uint(&e, sh + o_name, 4), type = elf_uint(&e, sh + o_type, 4);
        uint64_t flags = elf_word(&e, sh + o_flags), size = elf_word(&e, sh + o_size);
        if (!(flags & SHF_ALLOC) || type == SHT_NOTE || name >= names_len)
            continue;
        const char *nm = names + name;
        if (strncmp(nm, ".eh_frame", 9) == 0 || strncmp(nm, ".ARM.exidx", 10) == 0 ||
            strncmp(nm, ".ARM.extab", 10) == 0)
            continue;
        if (flags & SHF_EXECINSTR)
            sz->code += size;
        else if (!(flags & SHF_WRITE) || strncmp(nm, ".data.rel.ro", 12) == 0)
            sz->constant += size;
        else
            sz->mutable_data += size;
    }
    return true;
}

/* dlc check --infer: what embedding the model costs. The workspace is the generated header's
 * <NAME>_WORKSPACE_BYTES; code and constant data are measured, not estimated, by compiling the --infer C (with the
 * same --portable and --weights) with the system compiler at -O2 in a temporary directory. A missing or failing
 * compiler leaves those two unknown, with a note; the model is still clean. */
static void measure_embedding(const Options *o, Compiled *c, CheckSizes *sizes) {
    Ctx *ctx = c->ctx;
    const char *name = c->train->name;
    *sizes = (CheckSizes){.portable = o->portable};
    char tmpl[] = "/tmp/dlc-check-XXXXXX";
    char *dir = mkdtemp(tmpl);
    EmitOptions eo = {.f64 = o->f64, .infer = true, .portable = o->portable};
    ObjectSizes sz;
    const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
    Words cmd = {0};
    if (!dir)
        return;
    char *h = xsprintf(ctx, "%s/%s.h", dir, name), *src = xsprintf(ctx, "%s/%s.c", dir, name);
    char *obj = xsprintf(ctx, "%s/%s.o", dir, name), *log = xsprintf(ctx, "%s/cc.log", dir);
    if (write_file(h, emit_header, c, &eo) && write_file(src, emit_source, c, &eo)) {
        push_words(ctx, &cmd, cc);
        push_words(ctx, &cmd, "-std=c11 -O2 -c");
        vec_push(ctx, &cmd, src);
        vec_push(ctx, &cmd, "-o");
        vec_push(ctx, &cmd, obj);
        if (run_program(ctx, &cmd, log) == 0 && elf_sizes(ctx, obj, &sz))
            *sizes = (CheckSizes){.portable = o->portable,
                                  .measured = true,
                                  .code = sz.code,
                                  .constant = sz.constant,
                                  .mutable_data = sz.mutable_data};
        else
            fprintf(stderr,
                    "%s: check --infer: `%s -std=c11 -O2 -c` failed on the generated C; code and "
                    "constant-data bytes are unknown%s\n",
                    prog_name, cc, o->portable ? "" : " (is OpenBLAS's cblas.h installed? --portable needs no BLAS)");
    }
    remove(obj);
    remove(log);
    remove(src);
    remove(h);
    rmdir(dir);
}

static void print_embedding_sizes(FILE *out, const Options *o, Compiled *c, const CheckSizes *sz) {
    Ctx *ctx = c->ctx;
    const char *name = c->train->name;
    char *NAME = xstrdup(ctx, name);
    for (char *p = NAME; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    fprintf(out, "\nembedding (dlc compile --infer%s%s: %s, weights %s)\n", o->portable ? " --portable" : "",
            c->baked ? " --weights" : "", o->portable ? "C11 and libm only" : "BLAS-backed",
            c->baked ? "compiled in" : xsprintf(ctx, "read by %s_load into the workspace", name));
    const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
    if (sz->measured) {
        fprintf(out, "  code:          %s bytes (executable sections%s)\n", commas(ctx, sz->code),
                o->portable ? "" : "; the BLAS library not counted");
        fprintf(out, "  constant data: %s bytes (read-only sections%s)\n", commas(ctx, sz->constant),
                c->baked ? ", the weights included" : "");
        if (sz->mutable_data)
            fprintf(out, "  mutable data:  %s bytes (.data, .bss)\n", commas(ctx, sz->mutable_data));
    } else {
        fprintf(out, "  code:          unknown\n  constant data: unknown\n");
    }
    fprintf(out, "  workspace:     %s bytes (%s_WORKSPACE_BYTES: %s)\n", commas(ctx, (uint64_t)c->state_bytes), NAME,
            c->baked ? xsprintf(ctx, "arena %s", commas(ctx, (uint64_t)(c->state_bytes - c->arena_off)))
                     : xsprintf(ctx, "parameters %s, arena %s", commas(ctx, (uint64_t)(c->params_end - 64)),
                                commas(ctx, (uint64_t)(c->state_bytes - c->arena_off))));
    if (sz->measured)
        fprintf(out, "  code and constant data measured with the system compiler: %s -std=c11 -O2 -c\n", cc);
}

static int cmd_check(Ctx *ctx, int argc, char **argv) {
    Options o = {0};
    int r = parse_options(ctx, argc, argv, &o, usage_check);
    if (r)
        return r < 0 ? 0 : r;
    Compiled *c = compile_file(ctx, &o);
    if (!c)
        return finish(ctx, ctx->diag.errors ? 1 : 2);
    if (c->fn[FN_TRAIN].g && !o.recompute) {
        /* what --recompute would do: the same model compiled again with it, for its numbers alone */
        Options ro = o;
        ro.recompute = true;
        ro.dump_after = NULL;
        Compiled *rc = compile_file(ctx, &ro);
        if (rc)
            c->recompute = rc->recompute;
    }
    CheckSizes sizes;
    if (o.infer)
        measure_embedding(&o, c, &sizes);
    if (o.json) {
        check_print_json(stdout, c, o.infer ? &sizes : NULL);
    } else {
        check_print(stdout, c);
        if (o.infer)
            print_embedding_sizes(stdout, &o, c, &sizes);
    }
    return finish(ctx, 0);
}

/* A file's text, emitted into memory before any file is made, so that a compiler bug (die) during emission leaves
 * no file behind: no <name>.c.tmpPID, no half-written temporary folder. */
typedef struct Text {
    char *s; /* malloc'd */
    size_t len;
} Text;

static Text render(EmitFn fn, Compiled *c, const EmitOptions *eo) {
    Text t = {0};
    FILE *mem = open_memstream(&t.s, &t.len);
    if (!mem)
        die("out of memory");
    fn(mem, c, eo);
    if (fclose(mem) != 0)
        die("out of memory");
    return t;
}

/* Writes path atomically: a temporary file beside it, renamed over it. */
static bool write_text(Ctx *ctx, const char *path, Text t) {
    char *tmp = xsprintf(ctx, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "%s: cannot write '%s': %s\n", prog_name, tmp, strerror(errno));
        return false;
    }
    bool ok = fwrite(t.s, 1, t.len, f) == t.len;
    ok = fflush(f) == 0 && !ferror(f) && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "%s: cannot write '%s': %s\n", prog_name, path, strerror(errno));
        remove(tmp);
        return false;
    }
    return true;
}

static bool write_file(const char *path, EmitFn fn, Compiled *c, const EmitOptions *eo) {
    Text t = render(fn, c, eo);
    bool ok = write_text(c->ctx, path, t);
    free(t.s);
    return ok;
}

/* The parameters of a checkpoint, for --weights: checked against the model's layout by the runtime's reader,
 * which also refuses values that are not finite and, for an f32 build, values beyond f32's range (they would be
 * emitted as literals such as 1e+300f, which overflow). */
static const double **read_weights(const char *path, Graph *g, bool f64) {
    int np = g->params.n;
    DlrtTensorDesc *desc = xalloc(g->ctx, sizeof(DlrtTensorDesc) * (size_t)(np + 1));
    const double **out = xalloc(g->ctx, sizeof(double *) * (size_t)(np + 1));
    for (int i = 0; i < np; i++) {
        Param *p = &g->params.v[i];
        desc[i].name = p->name;
        desc[i].dtype = DLRT_F64;
        desc[i].rank = p->shape.rank;
        for (int d = 0; d < p->shape.rank; d++)
            desc[i].dims[d] = p->shape.d[d];
        desc[i].data = xalloc(g->ctx, sizeof(double) * (size_t)(shape_numel(&p->shape) + 1));
        out[i] = desc[i].data;
    }
    DlrtCheckpoint ck = {.params = desc, .n_params = np};
    DlrtError err;
    if (dlrt_checkpoint_load(path, &ck, f64 ? 0u : (unsigned)DLRT_CKPT_F32_VALUES, &err) != DLRT_OK) {
        fprintf(stderr, "%s: --weights: %s\n", prog_name, err.msg);
        return NULL;
    }
    return out;
}

/* --quantize int8: how many images of the calibration file set the scales (docs/embedding.md) */
#define CALIBRATION_IMAGES 1000

/* The calibration images, checked against the model's one input: NULL after a message naming the file. */
static float *calibration_images(const Options *o, Compiled *c, int64_t *count, int64_t *per) {
    Graph *g = c->eval;
    const Input *in = NULL;
    int used = 0;
    for (int i = 0; i < g->inputs.n; i++)
        if (emit_uses_input(&c->fn[FN_FORWARD], i))
            in = &g->inputs.v[i], used++;
    if (used != 1 || in->dtype != DT_F32 || !in->shape.batched) {
        fprintf(stderr,
                "%s: --quantize int8: calibration feeds images to one batched f32 input; %s's inference reads %d "
                "input%s\n",
                prog_name, g->name, used, used == 1 ? " that is not one" : "s");
        return NULL;
    }
    DlrtDataset ds = {0};
    DlrtError err;
    if (dlrt_idx_load_images(o->calibration, CALIBRATION_IMAGES, &ds, &err) != DLRT_OK) {
        fprintf(stderr, "%s: --calibration: %s\n", prog_name, err.msg);
        return NULL;
    }
    const Shape *s = &in->shape;
    bool fits = shape_inner(s) == ds.features && (s->rank != 4 || (s->d[1] == 1 && s->d[2] == ds.dims[1]));
    if (!fits || ds.n == 0) {
        fprintf(stderr,
                "%s: --calibration: '%s' holds %lld images of %lld x %lld pixels, but input %s of %s is %s (one "
                "channel of the images' size, flattened or not)\n",
                prog_name, o->calibration, (long long)ds.n, (long long)ds.dims[1], (long long)ds.dims[2], in->name,
                g->name, shape_str(c->ctx, s));
        dlrt_dataset_free(&ds);
        return NULL;
    }
    float *x = xalloc(c->ctx, sizeof(float) * (size_t)(ds.n * ds.features));
    dlrt_dataset_get(&ds, 0, ds.n, x);
    *count = ds.n, *per = ds.features;
    dlrt_dataset_free(&ds);
    return x;
}

/* --quantize int8: picks the kernels that run in int8 and sets their inputs' scales from the ranges the f32
 * inference code meets on the calibration images. That code (--portable, with a call recording each such
 * kernel's input before it) is compiled with `cc -O1 -ffp-contract=off`, which rounds as the f32 code is
 * specified to on any IEEE target, and run in a temporary directory. False after a message. */
static bool calibrate(const Options *o, Compiled *c) {
    Ctx *ctx = c->ctx;
    QuantPlan *plan = quant_plan(c);
    if (!plan->k.n) {
        fprintf(stderr,
                "%s: --quantize int8: %s has no matrix product or convolution with compiled-in weights that an "
                "int8 kernel takes\n",
                prog_name, c->eval->name);
        return false;
    }
    int64_t count, per;
    float *images = calibration_images(o, c, &count, &per);
    if (!images)
        return false;
    char tmpl[] = "/tmp/dlc-calibrate-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) {
        fprintf(stderr, "%s: cannot make a temporary directory: %s\n", prog_name, strerror(errno));
        return false;
    }
    const char *name = c->train->name;
    char *h = xsprintf(ctx, "%s/%s.h", dir, name), *src = xsprintf(ctx, "%s/%s.c", dir, name);
    char *main_c = xsprintf(ctx, "%s/calibrate.c", dir), *exe = xsprintf(ctx, "%s/calibrate", dir);
    char *data = xsprintf(ctx, "%s/images.f32", dir), *log = xsprintf(ctx, "%s/out.log", dir);
    EmitOptions eo = {.infer = true, .portable = true, .observe = plan};
    bool ok = write_file(h, emit_header, c, &eo) && write_file(src, emit_source, c, &eo) &&
              write_file(main_c, quant_emit_harness, c, &eo);
    ok = ok && write_text(ctx, data, (Text){(char *)images, sizeof(float) * (size_t)(count * per)});
    Words cmd = {0};
    push_words(ctx, &cmd, "cc -std=c11 -O1 -ffp-contract=off -iquote");
    vec_push(ctx, &cmd, dir);
    vec_push(ctx, &cmd, src);
    vec_push(ctx, &cmd, main_c);
    vec_push(ctx, &cmd, "-o");
    vec_push(ctx, &cmd, exe);
    vec_push(ctx, &cmd, "-lm");
    if (ok && run_program(ctx, &cmd, log) != 0) {
        fprintf(stderr, "%s: --quantize int8: compiling the calibration run failed: %s\n", prog_name,
                shell_quoted(ctx, &cmd));
        ok = false;
    }
    Words run = {0};
    vec_push(ctx, &run, exe);
    vec_push(ctx, &run, data);
    if (ok && run_program(ctx, &run, log) != 0) {
        fprintf(stderr, "%s: --quantize int8: the calibration run failed\n", prog_name);
        ok = false;
    }
    size_t len;
    char *out = ok ? read_file(ctx, log, &len) : NULL, *p = out;
    for (int k = 0; ok && k < plan->k.n; k++) {
        char *end;
        double lo = p ? strtod(p, &end) : NAN;
        double hi = p && end != p ? strtod(end, &p) : NAN;
        if (!isfinite(lo) || !isfinite(hi)) {
            fprintf(stderr, "%s: --quantize int8: the calibration run gave no finite range for %s at %s.dlm line %d\n",
                    prog_name, op_info[plan->k.v[k].node->op].name, name, plan->k.v[k].node->loc.line);
            ok = false;
            break;
        }
        quant_set_range(&plan->k.v[k], lo, hi);
    }
    remove(h), remove(src), remove(main_c), remove(exe), remove(data), remove(log);
    rmdir(dir);
    if (ok)
        c->quant = plan;
    return ok;
}

static Compiled *compile_file(Ctx *ctx, const Options *o) {
    Graph *train = front_end(ctx, o, true);
    if (!train)
        return NULL;
    Graph *eval = front_end(ctx, o, false);
    if (!eval)
        return NULL;
    const double **baked = NULL;
    if (o->weights && !(baked = read_weights(o->weights, train, o->f64)))
        return NULL;
    /* int8 kernels replace f32 ones, which then keep no epilogue (fuse.c); DLC_EPILOGUES=0 turns them off, so
     * that tests compare the fused code with the unfused one bit for bit */
    const char *epi = getenv("DLC_EPILOGUES");
    eval->keep_outputs = o->quantize != NULL || (epi && strcmp(epi, "0") == 0);
    Compiled *c = compile_model(train, eval, o->f64 ? 8 : 4, o->infer, o->dump_after, baked, o->recompute);
    if (o->quantize && !calibrate(o, c))
        return NULL;
    return c;
}

/* dlc build: emit the model and its trainer into a temporary directory and link them with libdlrt's archive, so
 * the trainer runs from anywhere. The compiler is $CC (else cc) with $CFLAGS and $LDFLAGS, started without a
 * shell; -march=native only with --native. */
static int build_trainer(const Options *o, Compiled *c, const EmitOptions *eo) {
    Ctx *ctx = c->ctx;
    if (!c->train->train.present || !c->loss_train || c->train->train.data == DATA_NONE) {
        fprintf(stderr,
                "%s: %s has no train section with data; `dlc build` makes a trainer, `dlc compile` the "
                "model's C\n",
                prog_name, o->file);
        return 1;
    }
    Runtime rt;
    if (!find_runtime(ctx, &rt))
        return 1;
    if (o->mpi && !sync_points(c))
        return 1;
    char *mpi_library = xsprintf(ctx, "%s/libdlrt-mpi.a", dirname(xstrdup(ctx, rt.library)));
    if (o->mpi && (!DLC_MPI_FLAGS[0] || access(mpi_library, R_OK) != 0)) {
        fprintf(stderr,
                "%s: --mpi needs libdlrt-mpi (%s), which is built when MPI is found: install libopenmpi-dev and "
                "configure dlc again\n",
                prog_name, mpi_library);
        return 1;
    }
    Text th = render(emit_header, c, eo), ts = render(emit_source, c, eo), tt = render(emit_trainer, c, eo);
    char tmpl[] = "/tmp/dlc-build-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) {
        fprintf(stderr, "%s: cannot make a temporary directory: %s\n", prog_name, strerror(errno));
        free(th.s), free(ts.s), free(tt.s);
        return 1;
    }
    const char *name = c->train->name;
    char *h = xsprintf(ctx, "%s/%s.h", dir, name), *src = xsprintf(ctx, "%s/%s.c", dir, name);
    char *tr = xsprintf(ctx, "%s/%s_train.c", dir, name);
    const char *exe = o->out ? o->out : xsprintf(ctx, "%s-train", name);
    int rc = 1;
    Words cmd = {0};
    bool written = write_text(ctx, h, th) && write_text(ctx, src, ts) && write_text(ctx, tr, tt);
    free(th.s), free(ts.s), free(tt.s);
    if (written) {
        const char *cc = getenv("CC");
        push_words(ctx, &cmd, cc && *cc ? cc : "cc");
        push_words(ctx, &cmd, "-std=c11 -O3 -ffp-contract=fast");
        if (o->native)
            push_words(ctx, &cmd, "-march=native");
        if (DLC_OPENMP)
            push_words(ctx, &cmd, "-fopenmp");
        push_words(ctx, &cmd, getenv("CFLAGS"));
        vec_push(ctx, &cmd, "-iquote"); /* <name>.h shadows no <math.h> (a model named math) */
        vec_push(ctx, &cmd, dir);
        vec_push(ctx, &cmd, xsprintf(ctx, "-I%s", rt.include));
        vec_push(ctx, &cmd, src);
        vec_push(ctx, &cmd, tr);
        if (o->mpi)
            vec_push(ctx, &cmd, mpi_library);
        vec_push(ctx, &cmd, rt.library);
        vec_push(ctx, &cmd, "-o");
        vec_push(ctx, &cmd, exe);
        push_words(ctx, &cmd, getenv("LDFLAGS"));
        if (DLC_BLAS_LIBDIR[0])
            vec_push(ctx, &cmd, "-L" DLC_BLAS_LIBDIR);
        push_words(ctx, &cmd, "-lopenblas -lpng -lz -lm -lpthread");
        if (o->mpi)
            push_words(ctx, &cmd, DLC_MPI_FLAGS);
        int st = run_program(ctx, &cmd, NULL);
        if (st == 0)
            rc = 0;
        else if (st < 0)
            fprintf(stderr, "%s: cannot run the C compiler '%s': %s\n", prog_name, cmd.v[0], strerror(errno));
        else
            fprintf(stderr, "%s: linking the trainer failed: %s\n", prog_name, shell_quoted(ctx, &cmd));
    }
    remove(h);
    remove(src);
    remove(tr);
    rmdir(dir);
    if (rc == 0)
        fprintf(stderr, "%s: wrote %s\n", prog_name, exe);
    return rc;
}

static int cmd_compile(Ctx *ctx, int argc, char **argv, bool build) {
    Options o = {0};
    int r = parse_options(ctx, argc, argv, &o, build ? usage_build : usage_compile);
    if (r)
        return r < 0 ? 0 : r;
    Compiled *c = compile_file(ctx, &o);
    if (!c)
        return finish(ctx, ctx->diag.errors ? 1 : 2);
    EmitOptions eo = {.f64 = o.f64, .infer = o.infer, .portable = o.portable, .mpi = o.mpi};
    const char *dir = o.out ? o.out : ".";
    if (build)
        return finish(ctx, build_trainer(&o, c, &eo));
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create the output directory '%s': %s\n", prog_name, dir, strerror(errno));
        return 1;
    }
    char *h = xsprintf(ctx, "%s/%s.h", dir, c->train->name), *src = xsprintf(ctx, "%s/%s.c", dir, c->train->name);
    Text th = render(emit_header, c, &eo), ts = render(emit_source, c, &eo);
    bool written = write_text(ctx, h, th) && write_text(ctx, src, ts);
    free(th.s), free(ts.s);
    if (!written)
        return 1;
    if (o.trainer) {
        char *tr = xsprintf(ctx, "%s/%s_train.c", dir, c->train->name);
        if (!c->train->train.present || !c->loss_train || c->train->train.data == DATA_NONE) {
            fprintf(stderr, "%s: %s has no train section with data, so there is no trainer to write\n", prog_name,
                    o.file);
            return 1;
        }
        if (!write_file(tr, emit_trainer, c, &eo))
            return 1;
    }
    return finish(ctx, 0);
}

/* The memory budget of one compilation (docs/language.md): DLC_MEMORY_BUDGET bytes, or COMPILE_BUDGET. */
#define COMPILE_BUDGET ((size_t)4 << 30)

static _Noreturn void over_budget(Ctx *ctx, size_t wanted) {
    fprintf(stderr,
            "%s: error: compiling the model needs more than the %zu MiB of compiler memory one compilation may take "
            "(it asked for %zu MiB); make the model smaller, or set DLC_MEMORY_BUDGET=BYTES to change the budget\n",
            prog_name, ctx->budget >> 20, wanted >> 20);
    exit(1);
}

static size_t memory_budget(void) {
    const char *env = getenv("DLC_MEMORY_BUDGET");
    if (!env || !*env)
        return COMPILE_BUDGET;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(env, &end, 10);
    if (errno || *end || v == 0 || env[0] == '-') {
        fprintf(stderr, "%s: DLC_MEMORY_BUDGET is '%s', not a positive number of bytes; using %zu\n", prog_name, env,
                COMPILE_BUDGET);
        return COMPILE_BUDGET;
    }
    return (size_t)v;
}

/* dlc export: the evaluation graph as ONNX, written atomically. */
static int cmd_export(Ctx *ctx, int argc, char **argv) {
    Options o = {0};
    int r = parse_options(ctx, argc, argv, &o, usage_export);
    if (r)
        return r < 0 ? 0 : r;
    if (!o.out)
        return bad_usage(usage_export, "%s", "dlc export needs -o FILE.onnx");
    o.infer = true;
    Graph *eval = front_end(ctx, &o, false);
    if (!eval)
        return finish(ctx, ctx->diag.errors ? 1 : 2);
    const double **weights = NULL;
    if (o.weights && !(weights = read_weights(o.weights, eval, false))) /* ONNX initializers are float32 */
        return finish(ctx, 1);
    uint8_t *bytes;
    size_t len;
    if (!export_onnx(eval, weights, DLC_VERSION, &bytes, &len))
        return finish(ctx, 1);
    return finish(ctx, write_text(ctx, o.out, (Text){(char *)bytes, len}) ? 0 : 1);
}

/* dlc import: the ONNX model as DIR/<name>.dlm and DIR/<name>.npz, each written atomically, once the whole model
 * converted and the .dlm checked (import_check). */
static int cmd_import(Ctx *ctx, int argc, char **argv) {
    static const DlrtOption options[] = {{"-o", 1}, {"--help", 0}, {"-h", 0}};
    const DlrtOption *opt;
    const char *val, *file = NULL, *dir = ".";
    DlrtError err;
    int rc, i = 2;
    while ((rc = dlrt_next_option(argc, argv, &i, options, sizeof options[0], sizeof options / sizeof options[0], &opt,
                                  &val, &err)) == 1) {
        if (!opt && file)
            return bad_usage(usage_import, "more than one model file: '%s'", val);
        if (!opt)
            file = val;
        else if (strcmp(opt->name, "-o") == 0)
            dir = val;
        else {
            usage_import(stdout);
            return 0;
        }
    }
    if (rc)
        return bad_usage(usage_import, "%s", err.msg);
    if (!file)
        return bad_usage(usage_import, "no ONNX file given%s", "");
    /* the model's name: the file's base name without .onnx, made an identifier (resnet-18 -> resnet_18) */
    char *name = model_name(ctx, file);
    size_t n = strlen(name);
    if (n > 5 && strcmp(name + n - 5, ".onnx") == 0)
        name[n - 5] = '\0';
    for (char *p = name; *p; p++)
        if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            *p = '_';
    if (!valid_ident(name) || name_clash(name))
        name = xsprintf(ctx, "model_%s", name[0] == '_' ? name + 1 : name);
    size_t len;
    char *bytes = read_file_max(ctx, file, (size_t)1 << 31, &len);
    if (!bytes) {
        fprintf(stderr, "%s: cannot read '%s': %s\n", prog_name, file,
                errno == EFBIG ? "larger than 2 GiB, the most a protobuf message holds" : strerror(errno));
        return 1;
    }
    Imported im;
    if (!import_onnx(ctx, (const uint8_t *)bytes, len, file, name, &im))
        return finish(ctx, 1);
    if (!import_check(ctx, &im, name)) {
        fprintf(stderr, "%s: %s converts to a model that dlc cannot compile (above); nothing written\n", prog_name,
                file);
        return 1;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create the output directory '%s': %s\n", prog_name, dir, strerror(errno));
        return 1;
    }
    DlrtTensorDesc *desc = xalloc(ctx, sizeof(DlrtTensorDesc) * (size_t)(im.ntensors + 1));
    int64_t values = 0;
    for (int k = 0; k < im.ntensors; k++) {
        const ImportTensor *t = &im.tensors[k];
        desc[k] = (DlrtTensorDesc){.name = t->name,
                                   .dtype = t->f32 ? DLRT_F32 : DLRT_I64,
                                   .rank = t->rank,
                                   .data = t->f32 ? (void *)t->f32 : (void *)t->i64};
        memcpy(desc[k].dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
        values += t->f32 ? dlrt_tensor_count(&desc[k]) : 0;
    }
    char *npz = xsprintf(ctx, "%s/%s.npz", dir, name), *dlm = xsprintf(ctx, "%s/%s.dlm", dir, name);
    if (dlrt_npz_save(npz, desc, im.ntensors, &err) != DLRT_OK) {
        fprintf(stderr, "%s: %s\n", prog_name, err.msg);
        return 1;
    }
    if (!write_text(ctx, dlm, (Text){im.dlm, im.len}))
        return 1;
    printf("%s: wrote %s and %s (%d tensors, %lld values)\n", prog_name, dlm, npz, im.ntensors, (long long)values);
    return finish(ctx, 0);
}

int main(int argc, char **argv) {
    Ctx ctx;
    ctx_init(&ctx, stderr);
    ctx.budget = memory_budget();
    ctx.over_budget = over_budget;
    if (argc < 2) {
        usage_main(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    int status;
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage_main(stdout);
        status = 0;
    } else if (strcmp(cmd, "--version") == 0) {
        printf("dlc %s\n", DLC_VERSION);
        status = 0;
    } else if (strcmp(cmd, "check") == 0) {
        status = cmd_check(&ctx, argc, argv);
    } else if (strcmp(cmd, "compile") == 0) {
        status = cmd_compile(&ctx, argc, argv, false);
    } else if (strcmp(cmd, "build") == 0) {
        status = cmd_compile(&ctx, argc, argv, true);
    } else if (strcmp(cmd, "export") == 0) {
        status = cmd_export(&ctx, argc, argv);
    } else if (strcmp(cmd, "import") == 0) {
        status = cmd_import(&ctx, argc, argv);
    } else {
        fprintf(stderr, "%s: unknown command '%s'\n\n", prog_name, cmd);
        usage_main(stderr);
        status = 2;
    }
    ctx_free(&ctx);
    return status;
}
