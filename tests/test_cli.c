/* test_cli.c: dlc's command line as scripts use it (issue 15): `dlc check --json` and the option syntax.
 *
 *   - `dlc check M --json` prints one well-formed JSON object (checked by a strict parser below) for zoo models of
 *     every kind (images, CSV, synthetic data, no train section); its totals, maximum batch and FLOPs equal those of
 *     the text report of the same model, and its parameters' counts add up to its total; a training step's
 *     activations kept for backward are positive, within its arena, and the same in both;
 *   - with --infer, its "embedding" member's workspace equals the generated header's <NAME>_WORKSPACE_BYTES, and
 *     its code and constant bytes are positive, and for 32-bit objects (CC='gcc -m32', arm-none-eabi-gcc on
 *     --portable code) they are what binutils' `size -A` lists for the same C built alike;
 *   - dlc reads its options with libdlrt's scanner, the trainers' (dlrt_next_option): `--batch=8` is `--batch 8`;
 *     a flag given a value (`--json=1`), a prefix of an option (`--bat`), a missing value and an option of another
 *     command (`check --native`) are bad usage, exit 2, with the trainers' messages. */
#include <CUnit/Basic.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#ifndef SOURCE_ROOT
#define SOURCE_ROOT "."
#endif
#ifndef DLC_PATH
#define DLC_PATH "dlc"
#endif

static char workdir[] = "/tmp/dlc-cli-XXXXXX";

/* Runs dlc with the arguments; its output (stdout and stderr) in *out. */
static int dlc(char **out, const char *const args[]) {
    const char *argv[16] = {DLC_PATH};
    int k = 1;
    for (; args[k - 1] && k < 15; k++)
        argv[k] = args[k - 1];
    argv[k] = NULL;
    char *log = fmt("%s/out", workdir);
    int rc = run((char *const *)argv, log);
    *out = slurp(log);
    return rc;
}
#define DLC(out, ...) dlc(out, (const char *const[]){__VA_ARGS__, NULL})

/* ---- a strict JSON parser: true when the whole text is one value ---- */

static const char *ws(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

static const char *value(const char *p, int depth);

static const char *string(const char *p) {
    if (*p++ != '"')
        return NULL;
    for (; *p != '"'; p++) {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!isxdigit((unsigned char)p[i]))
                        return NULL;
                p += 4;
            } else if (!strchr("\"\\/bfnrt", *p) || !*p) {
                return NULL;
            }
        }
    }
    return p + 1;
}

static const char *number(const char *p) {
    const char *start = p;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (isdigit((unsigned char)*p))
        while (isdigit((unsigned char)*p))
            p++;
    else
        return NULL;
    if (*p == '.') {
        if (!isdigit((unsigned char)*++p))
            return NULL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return NULL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return p > start ? p : NULL;
}

static const char *members(const char *p, char close, bool keys, int depth) {
    p = ws(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (keys) {
            if (!(p = string(p)))
                return NULL;
            p = ws(p);
            if (*p++ != ':')
                return NULL;
        }
        if (!(p = value(ws(p), depth + 1)))
            return NULL;
        p = ws(p);
        if (*p == close)
            return p + 1;
        if (*p++ != ',')
            return NULL;
        p = ws(p);
    }
}

static const char *value(const char *p, int depth) {
    if (depth > 64)
        return NULL;
    switch (*p) {
    case '{':
        return members(p, '}', true, depth);
    case '[':
        return members(p, ']', false, depth);
    case '"':
        return string(p);
    case 't':
        return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f':
        return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n':
        return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
    default:
        return number(p);
    }
}

static bool valid_json(const char *text) {
    const char *end = value(ws(text), 0);
    return end && *ws(end) == '\0';
}

/* The number after `"key": ` (the first occurrence), or -1. */
static double json_num(const char *text, const char *key) {
    const char *p = strstr(text, fmt("\"%s\": ", key));
    return p ? strtod(p + strlen(key) + 4, NULL) : -1;
}

/* A number of the text report written with thousands separators ("61,706"), after `label`; -1 when missing. */
static double text_num(const char *text, const char *label) {
    const char *p = strstr(text, label);
    if (!p)
        return -1;
    p += strlen(label);
    char digits[64];
    int k = 0;
    for (; (isdigit((unsigned char)*p) || *p == ',' || *p == '.') && k < 63; p++)
        if (*p != ',')
            digits[k++] = *p;
    digits[k] = '\0';
    return k ? strtod(digits, NULL) : -1;
}

/* ---- tests ---- */

static const char *const models[] = {"mlp", "lenet", "house_prices", "linreg", "polyfit", "blocks", "dropout_mlp"};

static void test_json_report(void) {
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        char *dlm = fmt("%s/models/%s.dlm", SOURCE_ROOT, models[m]), *json, *text;
        CU_ASSERT_EQUAL_FATAL(DLC(&json, "check", dlm, "--json"), 0);
        CU_ASSERT_EQUAL_FATAL(DLC(&text, "check", dlm), 0);
        CU_ASSERT(valid_json(json));
        if (!valid_json(json))
            printf("\n  %s: not JSON:\n%s\n", models[m], json);
        CU_ASSERT_PTR_NOT_NULL(strstr(json, fmt("\"model\": \"%s\"", models[m])));
        double total = json_num(json, "total_parameters"), trainable = json_num(json, "trainable_parameters");
        CU_ASSERT(total >= 0 && total == text_num(text, "total: "));
        CU_ASSERT(trainable >= 0 && trainable == text_num(text, fmt("parameters (")));
        CU_ASSERT(json_num(json, "max_batch") == text_num(text, "batch up to "));
        CU_ASSERT(json_num(json, "state_bytes") == text_num(text, "state block:   "));
        /* the parameters' counts add up to the total */
        double sum = 0;
        for (const char *p = strstr(json, "\"parameters\": ["); p && (p = strstr(p, "\"count\": ")); p++)
            sum += strtod(p + 9, NULL);
        CU_ASSERT(sum == total);
        /* FLOPs: the text prints them rounded to kFLOP/MFLOP/GFLOP with 3 decimals */
        double fwd = json_num(json, "forward"), shown = text_num(text, "forward:       ");
        const char *unit = strstr(text, "forward:       ");
        const char *u = unit ? strpbrk(unit + 15, "kMGF") : NULL;
        double mult = !u ? 0 : *u == 'G' ? 1e9 : *u == 'M' ? 1e6 : *u == 'k' ? 1e3 : 1;
        CU_ASSERT(fwd > 0 && shown > 0 && fabs(fwd / mult - shown) <= 0.0005 + 1e-9);
        /* a training step's activations kept for backward: live together when backward starts, so within its arena
         * (memory's own activation_bytes comes after the functions' objects, before --recompute's) */
        const char *step = strstr(json, "\"train step\": {");
        CU_ASSERT((step != NULL) == (strstr(text, "train step:") != NULL));
        if (step) {
            double kept = json_num(step, "activation_bytes"), arena = json_num(step, "arena_bytes");
            CU_ASSERT(kept > 0 && kept <= arena);
            CU_ASSERT(kept == text_num(text, "activations:   "));
        }
    }
}

static void test_json_infer(void) {
    char *dlm = fmt("%s/models/lenet.dlm", SOURCE_ROOT), *json, *out;
    CU_ASSERT_EQUAL_FATAL(DLC(&json, "check", dlm, "--json", "--infer"), 0);
    CU_ASSERT_FATAL(valid_json(json));
    CU_ASSERT_EQUAL_FATAL(DLC(&out, "compile", dlm, "--infer", "-o", workdir), 0);
    char *h = slurp(fmt("%s/lenet.h", workdir));
    CU_ASSERT(json_num(json, "workspace_bytes") == text_num(h, "#define LENET_WORKSPACE_BYTES "));
    CU_ASSERT(json_num(json, "code_bytes") > 0);
    CU_ASSERT(json_num(json, "constant_bytes") > 0);
}

/* Code, constant and mutable bytes of an object as binutils' `size -A` lists its sections: .text* code; .rodata*
 * and .data.rel.ro* constant; .data* and .bss* mutable (what dlc counts by the sections' flags). */
static bool size_sections(const char *obj, double *code, double *constant, double *mutable_data) {
    char *log = fmt("%s/size.log", workdir);
    char *argv[] = {"size", "-A", (char *)obj, NULL};
    if (run(argv, log) != 0)
        return false;
    *code = *constant = *mutable_data = 0;
    char *text = slurp(log), name[256];
    double size;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (sscanf(line, "%255s %lf", name, &size) != 2)
            continue;
        if (strncmp(name, ".text", 5) == 0)
            *code += size;
        else if (strncmp(name, ".rodata", 7) == 0 || strncmp(name, ".data.rel.ro", 12) == 0)
            *constant += size;
        else if (strncmp(name, ".data", 5) == 0 || strncmp(name, ".bss", 4) == 0)
            *mutable_data += size;
    }
    return true;
}

/* check --infer measures 32-bit objects too (microcontroller targets): with CC a 32-bit x86 compiler and the
 * bare-metal ARM one on --portable code, its sizes are those `size` reports for the same C built alike. */
static void test_sizes_32bit(void) {
    static const struct {
        const char *cc, *probe, *why;
    } targets[] = {
        {"gcc -m32", "gcc -m32 -x c -c /dev/null -o /dev/null", "gcc-multilib"},
        {"arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb", "arm-none-eabi-gcc -x c -c /dev/null -o /dev/null",
         "gcc-arm-none-eabi and libnewlib-arm-none-eabi"},
    };
    const char *small[] = {"softmax", "lenet"};
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        if (system(fmt("%s 2>/dev/null", targets[t].probe)) != 0) {
            printf("\n    skipped %s: it cannot compile here (scripts/setup.sh installs %s)\n", targets[t].cc,
                   targets[t].why);
            continue;
        }
        for (size_t m = 0; m < sizeof small / sizeof small[0]; m++) {
            char *dlm = fmt("%s/models/%s.dlm", SOURCE_ROOT, small[m]), *dir = fmt("%s/%s-%zu", workdir, small[m], t);
            char *json, *out;
            setenv("CC", targets[t].cc, 1);
            int rc = DLC(&json, "check", dlm, "--infer", "--portable", "--json");
            unsetenv("CC");
            CU_ASSERT_EQUAL_FATAL(rc, 0);
            CU_ASSERT_FATAL(valid_json(json));
            mkdir_p(dir);
            CU_ASSERT_EQUAL_FATAL(DLC(&out, "compile", dlm, "--infer", "--portable", "-o", dir), 0);
            char *obj = fmt("%s/%s.o", dir, small[m]);
            CU_ASSERT_EQUAL_FATAL(
                system(fmt("%s -std=c11 -O2 -c '%s/%s.c' -o '%s'", targets[t].cc, dir, small[m], obj)), 0);
            CU_ASSERT_FATAL(system(fmt("od -An -tx1 -j4 -N1 '%s' | grep -q 01", obj)) == 0); /* ELFCLASS32 */
            double code, constant, mutable_data;
            CU_ASSERT_FATAL(size_sections(obj, &code, &constant, &mutable_data));
            CU_ASSERT(code > 0);
            CU_ASSERT(json_num(json, "code_bytes") == code);
            CU_ASSERT(json_num(json, "constant_bytes") == constant);
            CU_ASSERT(json_num(json, "mutable_bytes") == mutable_data);
            if (json_num(json, "code_bytes") != code || json_num(json, "constant_bytes") != constant)
                printf("\n    %s, %s: dlc %.0f code, %.0f constant; size %.0f, %.0f\n", targets[t].cc, small[m],
                       json_num(json, "code_bytes"), json_num(json, "constant_bytes"), code, constant);
        }
    }
}

static void test_option_syntax(void) {
    char *dlm = fmt("%s/models/mlp.dlm", SOURCE_ROOT), *a, *b;
    CU_ASSERT_EQUAL(DLC(&a, "check", dlm, "--json", "--batch=8"), 0);
    CU_ASSERT_EQUAL(DLC(&b, "check", dlm, "--json", "--batch", "8"), 0);
    CU_ASSERT_STRING_EQUAL(a, b);
    CU_ASSERT(json_num(a, "max_batch") == 8);
    CU_ASSERT_EQUAL(DLC(&a, "check", dlm, "--json=1"), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(a, "--json takes no value, got '1'"));
    CU_ASSERT_EQUAL(DLC(&a, "check", dlm, "--bat", "8"), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(a, "unknown option '--bat'"));
    CU_ASSERT_PTR_NULL(strstr(a, "did you mean")); /* two letters short of --batch: too far to be a slip */
    CU_ASSERT_EQUAL(DLC(&a, "compile", dlm, "--dtyp", "f64"), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(a, "unknown option '--dtyp'; did you mean '--dtype'?"));
    CU_ASSERT_EQUAL(DLC(&a, "check", dlm, "--jsno"), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(a, "unknown option '--jsno'; did you mean '--json'?"));
    CU_ASSERT_EQUAL(DLC(&a, "check", dlm, "--native"), 2);
    CU_ASSERT_EQUAL(DLC(&a, "export", dlm, "--recompute", "-o", "x.onnx"), 2); /* the training step's option */
    CU_ASSERT_PTR_NOT_NULL(strstr(a, "unknown option '--recompute'"));
    CU_ASSERT_EQUAL(DLC(&a, "compile", dlm, "--json"), 2);
    CU_ASSERT_EQUAL(DLC(&a, "check", dlm, "--batch"), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(a, "--batch needs a value"));
    CU_ASSERT_EQUAL(DLC(&a, "check", dlm, "--dump-after", "plan"), 0); /* --dump-after=plan too */
    CU_ASSERT_EQUAL(DLC(&a, "compile", dlm, "--dtype=f64", "-o", workdir), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(slurp(fmt("%s/mlp.h", workdir)), "typedef double mlp_real;"));
    CU_ASSERT_EQUAL(DLC(&a, "--version"), 0);
    CU_ASSERT_STRING_EQUAL(a, "dlc " DLC_VERSION "\n");
}

int main(void) {
    atexit(free_kept);
    if (!mkdtemp(workdir) || CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("cli", NULL, NULL);
    CU_add_test(s, "dlc check --json agrees with the text report", test_json_report);
    CU_add_test(s, "dlc check --json --infer: the embedding sizes", test_json_infer);
    CU_add_test(s, "dlc check --infer: 32-bit x86 and ARM objects, as size reports them", test_sizes_32bit);
    CU_add_test(s, "--x=v is --x v; values refused, exact names", test_option_syntax);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    if (failed)
        printf("\n  test_cli: kept %s\n", workdir);
    else
        remove_tree(workdir);
    return failed ? 1 : 0;
}
