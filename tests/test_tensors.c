/* test_tensors.c: D2L chapter 2's code cells, written in .dlm (the .dlm files of tests/d2l) and run through the
 * generated f64 code, against the book's printed values.
 *
 * Each file holds its inputs' values and its expectations in comments, so the book's tensors are fed at run time
 * and nothing is folded away at compile time:
 *   #! input NAME = v0 v1 ...           the values of input NAME (one example), in row-major order
 *   #! expect NAME = v0 v1 ...          what output NAME holds, exactly (within 1e-12, relative)
 *   #! expect NAME ~TOL = v0 v1 ...     within TOL (absolute): the book prints 4 to 6 digits
 *   #! expect forward_status = S        what <model>_forward returned (0, or <MODEL>_LOOP_LIMIT: -5)
 *   #! expect loop_limit = LINE         what <model>_loop_limit returned (models with a bounded while loop)
 * Values are read as numbers wherever they start, so the book's printed tensors paste as they are: `tensor([[0.,
 * 1.], [2., 3.]])` reads as 0 1 2 3, and True / False as 1 / 0. The runner compiles each file with `dlc compile
 * --dtype f64 --portable`, builds it with tests/conv_harness.c (its `forward` mode: one example) and compares. */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifndef SOURCE_ROOT
#define SOURCE_ROOT "."
#endif
#ifndef DLC_PATH
#define DLC_PATH "dlc"
#endif

#define MAX_VALUES 4096
#define MAX_ITEMS 64

static char workdir[] = "/tmp/dlc-tensors-XXXXXX";
static bool any_failure;

typedef struct Item {
    char name[64];
    double tol;
    double *v;
    int n;
} Item;

typedef struct Spec {
    Item inputs[MAX_ITEMS], expects[MAX_ITEMS];
    int ninputs, nexpects;
} Spec;

/* The numbers of `s` (up to the end of the line): wherever a number starts, and True / False. */
static int parse_values(const char *s, double *v, int max) {
    int n = 0;
    while (*s && *s != '\n' && n < max) {
        if (strncmp(s, "True", 4) == 0 || strncmp(s, "False", 5) == 0) {
            v[n++] = *s == 'T';
            s += *s == 'T' ? 4 : 5;
            continue;
        }
        if ((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == '.') {
            char *end;
            double x = strtod(s, &end);
            if (end != s) {
                v[n++] = x;
                s = end;
                continue;
            }
        }
        s++;
    }
    return n;
}

/* Reads `#! input` and `#! expect` lines; false (after a message) on a malformed one. */
static bool parse_spec(const char *path, const char *text, Spec *sp) {
    memset(sp, 0, sizeof *sp);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        bool in = strncmp(p, "#! input ", 9) == 0, ex = strncmp(p, "#! expect ", 10) == 0;
        if (!in && !ex)
            continue;
        Item *it = in ? &sp->inputs[sp->ninputs++] : &sp->expects[sp->nexpects++];
        const char *q = p + (in ? 9 : 10), *eq = strchr(q, '=');
        char tol[32] = "";
        if (!eq || sscanf(q, "%63s %31s", it->name, tol) < 1 || (sp->ninputs >= MAX_ITEMS) ||
            (sp->nexpects >= MAX_ITEMS)) {
            printf("\n  %s: malformed line: %.60s", path, p);
            return false;
        }
        it->tol = tol[0] == '~' ? strtod(tol + 1, NULL) : -1;
        it->v = keep(malloc(sizeof(double) * MAX_VALUES));
        it->n = parse_values(eq + 1, it->v, MAX_VALUES);
    }
    return true;
}

static const Item *find_item(const Item *items, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(items[i].name, name) == 0)
            return &items[i];
    return NULL;
}

/* A name as the header's macros spell it (docs/language.md): upper case, each capital marked with a u before it
 * (x -> X, X -> uX), so names that differ only in case keep macros of their own. */
static char *upper(const char *s) {
    char *u = keep(malloc(2 * strlen(s) + 1)), *q = u;
    for (; *s; s++) {
        if (*s >= 'A' && *s <= 'Z')
            *q++ = 'u';
        *q++ = *s >= 'a' && *s <= 'z' ? (char)(*s - 'a' + 'A') : *s;
    }
    *q = 0;
    return u;
}

static void fail(const char *file, const char *what, const char *log) {
    any_failure = true;
    printf("\n  FAILED: %s: %s\n%s\n", file, what, log ? log : "");
}

/* The inputs <model>_forward takes, in order, from the generated header: "F(X,X) F(y,Y)" and their names. */
/* The expectations that are the harness's statuses rather than outputs of the model. */
static bool is_status(const char *name) { return !strcmp(name, "forward_status") || !strcmp(name, "loop_limit"); }

static char *forward_inputs(const char *header, const char *model, char names[][64], int *n) {
    const char *p = strstr(header, fmt(" %s_forward(void *state, int n", model));
    char *list = "";
    *n = 0;
    if (!p)
        return NULL;
    const char *end = strchr(p, ')');
    const char *pat = fmt("const %s_real *", model);
    for (const char *q = strstr(p, pat); q && q < end && *n < MAX_ITEMS; q = strstr(q, pat)) {
        q += strlen(pat);
        int len = (int)strcspn(q, ",)");
        snprintf(names[*n], 64, "%.*s", len, q);
        /* a parameter named like the generated code's own variables is prefixed (in_h); its macros are not */
        if (strncmp(names[*n], "in_", 3) == 0 && !strstr(header, fmt("_INPUT_%s_SIZE", upper(names[*n]))))
            memmove(names[*n], names[*n] + 3, strlen(names[*n]) - 2);
        list = fmt("%s F(%s,%s)", list, names[*n], upper(names[*n]));
        ++*n;
    }
    return list;
}

static void run_file(const char *file) {
    char *path = fmt("%s/tests/d2l/%s", SOURCE_ROOT, file), *text = slurp(path);
    Spec *sp = keep(malloc(sizeof(Spec)));
    if (!parse_spec(file, text, sp) || sp->nexpects == 0) {
        fail(file, "no expectations", NULL);
        return;
    }
    char model[64];
    snprintf(model, sizeof model, "%.*s", (int)(strlen(file) - 4), file);
    char *dir = fmt("%s/%s", workdir, model), *log = fmt("%s/log", dir);
    mkdir_p(dir);
    char *dlc[] = {DLC_PATH, "compile", path, "-o", dir, "--dtype", "f64", "--portable", NULL};
    if (run(dlc, log) != 0) {
        fail(file, "dlc compile failed", slurp(log));
        return;
    }
    char names[MAX_ITEMS][64];
    int nin;
    char *header = slurp(fmt("%s/%s.h", dir, model));
    char *inputs = forward_inputs(header, model, names, &nin);
    if (!inputs) {
        fail(file, "no forward function in the header", NULL);
        return;
    }
    /* the values file: each input the forward function takes, in its order */
    FILE *f = fopen(fmt("%s/values", dir), "w");
    for (int i = 0; f && i < nin; i++) {
        const Item *it = find_item(sp->inputs, sp->ninputs, names[i]);
        if (!it) {
            fclose(f);
            fail(file, fmt("no '#! input %s = ...' line", names[i]), NULL);
            return;
        }
        for (int k = 0; k < it->n; k++)
            fprintf(f, "%.17g\n", it->v[k]);
    }
    if (f)
        fclose(f);
    char *outputs = "";
    for (int i = 0; i < sp->nexpects; i++)
        if (!is_status(sp->expects[i].name))
            outputs = fmt("%s O(%s,%s)", outputs, sp->expects[i].name, upper(sp->expects[i].name));
    char *exe = fmt("%s/run", dir), *model_uc = keep(strdup(model));
    for (char *p = model_uc; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    char *cc[] = {"cc",
                  "-std=c11",
                  "-O1",
                  "-Wall",
                  "-Wextra",
                  "-Wconversion",
                  "-pedantic",
                  "-Werror",
                  "-I",
                  dir,
                  fmt("-DMODEL=%s", model),
                  fmt("-DMODEL_UC=%s", model_uc),
                  fmt("-DMODEL_H=\"%s.h\"", model),
                  fmt("-DINPUTS=%s", inputs),
                  fmt("-DOUTPUTS=%s", outputs),
                  "-DNO_TRAINING",
                  strstr(header, "_LOOP_LIMIT (-5)") ? "-DHAS_LOOP_LIMIT" : "-DNO_LOOP_LIMIT",
                  SOURCE_ROOT "/tests/conv_harness.c",
                  fmt("%s/%s.c", dir, model),
                  "-o",
                  exe,
                  "-lm",
                  NULL};
    if (run(cc, log) != 0) {
        fail(file, "the generated C does not build with the harness", slurp(log));
        return;
    }
    char *rargs[] = {exe, "forward", fmt("%s/values", dir), NULL};
    if (run(rargs, log) != 0) {
        fail(file, "the harness failed", slurp(log));
        return;
    }
    char *out = slurp(log);
    for (int i = 0; i < sp->nexpects; i++) {
        const Item *e = &sp->expects[i];
        const char *key = fmt("%s %s ", is_status(e->name) ? "status" : "output", e->name), *line = strstr(out, key);
        double *got = keep(malloc(sizeof(double) * MAX_VALUES));
        int n = line ? parse_values(line + strlen(key), got, MAX_VALUES) - 1 : -1; /* the first is the size */
        if (n != e->n) {
            fail(file, fmt("output %s: %d values, expected %d", e->name, n, e->n), out);
            continue;
        }
        for (int k = 0; k < n; k++) {
            double want = e->v[k], have = got[k + 1];
            double tol = e->tol >= 0 ? e->tol : 1e-12 * fmax(1, fabs(want));
            if (!(fabs(have - want) <= tol)) {
                fail(file, fmt("output %s[%d] is %.17g, expected %.17g (tolerance %g)", e->name, k, have, want, tol),
                     out);
                break;
            }
        }
    }
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_d2l_cells(void) {
    DIR *d = opendir(SOURCE_ROOT "/tests/d2l");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    char *files[256];
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) && n < 256;) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".dlm") == 0)
            files[n++] = keep(strdup(de->d_name));
    }
    closedir(d);
    qsort(files, (size_t)n, sizeof files[0], by_name);
    CU_ASSERT_TRUE(n > 0);
    for (int i = 0; i < n; i++)
        run_file(files[i]);
    CU_ASSERT_FALSE(any_failure);
}

int main(void) {
    atexit(free_kept);
    if (!mkdtemp(workdir))
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("D2L chapter 2", NULL, NULL);
    CU_add_test(s, "the code cells of tests/d2l against the book's values", test_d2l_cells);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    if (!any_failure)
        remove_tree(workdir);
    return failed ? 1 : 0;
}
