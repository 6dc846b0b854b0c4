/* test_parity.c: every zoo trainer still produces the bytes it produced before the compiler was restructured.
 *
 * Each trained zoo model runs `--limit 512 --epochs 2 --seed 1 --threads 2` (full VGG-11, NiN, GoogLeNet, ResNet-18
 * and DenseNet `--limit 32`: 512 of full VGG-11's 224x224 images take six minutes on two cores) and writes a checkpoint
 * and its per-epoch metrics; the SHA-256 of the checkpoint and of the metrics CSV without its timing column must equal
 * the ones recorded in tests/trainer_hashes.txt. A refactoring that changes one bit of any parameter, optimizer state,
 * loss or accuracy fails here, named by model.
 *
 * The bits depend on the CPU (the trainers are built with -march=native and OpenBLAS picks kernels by CPU), so
 * the file records the CPU it was made on; on another CPU the comparison is skipped with that reason.
 * `test_parity --record` rewrites the file from this build's trainers. */
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#ifndef BUILD_ROOT
#define BUILD_ROOT "."
#endif
#ifndef SOURCE_ROOT
#define SOURCE_ROOT "."
#endif

#define HASHES SOURCE_ROOT "/tests/trainer_hashes.txt"
#define HOUSE_DATA SOURCE_ROOT "/../shared/data/house-prices"

static const char *const zoo[] = {
#define ZOO_TRAINED(name) #name,
#include "../models/zoo.def"
#undef ZOO_TRAINED
};
enum { NZOO = sizeof zoo / sizeof zoo[0] };

static char tmpdir[256];
static char cpu[256]; /* this machine's "model name" from /proc/cpuinfo */

/* The CPU as far as the trainers' bits depend on it: its model name and the vector extensions -march=native and
 * OpenBLAS choose kernels by. */
static void read_cpu(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192], name[200] = "unknown", ext[200] = "";
    bool have_name = false, have_flags = false;
    while (f && fgets(line, sizeof line, f) && !(have_name && have_flags)) {
        const char *p = strchr(line, ':');
        if (!p)
            continue;
        p += strspn(p + 1, " ") + 1;
        if (!have_name && strncmp(line, "model name", 10) == 0) {
            snprintf(name, sizeof name, "%.*s", (int)strcspn(p, "\n"), p);
            have_name = true;
        } else if (!have_flags && strncmp(line, "flags", 5) == 0) {
            static const char *const wanted[] = {" avx2", " fma", " avx512f", " avx512bw", " avx512vl", " avx512_bf16"};
            for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
                const char *at = strstr(p - 1, wanted[i]);
                size_t n = strlen(wanted[i]);
                if (at && (at[n] == ' ' || at[n] == '\n'))
                    snprintf(ext + strlen(ext), sizeof ext - strlen(ext), "%s", wanted[i]);
            }
            have_flags = true;
        }
    }
    if (f)
        fclose(f);
    snprintf(cpu, sizeof cpu, "%s /%s", name, ext);
}

/* The SHA-256 of a file as 64 hex digits (sha256sum), or "" when it cannot be read. */
static char *sha256(const char *path) {
    static char out[NZOO * 2][65];
    static int next;
    char *h = out[next++ % (NZOO * 2)];
    h[0] = '\0';
    char *log = fmt("%s/sha.txt", tmpdir);
    if (run((char *const[]){"sha256sum", (char *)path, NULL}, log) == 0) {
        const char *text = slurp(log);
        if (strlen(text) >= 64 && strspn(text, "0123456789abcdef") >= 64)
            snprintf(h, 65, "%.64s", text);
    }
    return h;
}

/* The metrics CSV without its last column (seconds per epoch), written next to it. */
static char *without_timing(const char *csv) {
    const char *text = slurp(csv);
    size_t n = strlen(text);
    char *out = keep(malloc(n + 1)), *o = out;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        if (!end)
            end = line + strlen(line);
        const char *comma = end;
        while (comma > line && *comma != ',')
            comma--;
        if (comma == line)
            comma = end;
        memcpy(o, line, (size_t)(comma - line));
        o += comma - line;
        *o++ = '\n';
        line = *end ? end + 1 : end;
    }
    *o = '\0';
    char *path = fmt("%s.notime", csv);
    write_text(path, out);
    return path;
}

typedef struct Result {
    bool ran;
    char ckpt[65], metrics[65];
} Result;

/* The examples each run trains on: 512, but for the one model that would take minutes. */
/* the models whose 512 resized images would take minutes on two cores: full VGG-11 and the modern CNNs */
static const char *limit_of(const char *model) {
    static const char *const big[] = {"vgg11_full", "nin", "googlenet", "resnet18", "densenet"};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        if (strcmp(model, big[i]) == 0)
            return "32";
    return "512";
}

/* Trains `model` as the recorded runs did; false (with the log on stderr) when the trainer failed. */
static bool train(const char *model, Result *r) {
    char *exe = fmt("%s/models/%s-train", BUILD_ROOT, model);
    char *ck = fmt("%s/%s.ckpt", tmpdir, model), *csv = fmt("%s/%s.csv", tmpdir, model);
    char *log = fmt("%s/%s.log", tmpdir, model);
    char *argv[24] = {exe,         "--limit",   (char *)limit_of(model),
                      "--epochs",  "2",         "--seed",
                      "1",         "--threads", "2",
                      "--quiet",   "--save",    ck,
                      "--metrics", csv};
    int n = 14;
    if (strcmp(model, "house_prices") == 0) {
        argv[n++] = "--data";
        argv[n++] = HOUSE_DATA;
    }
    argv[n] = NULL;
    if (run(argv, log) != 0) {
        fprintf(stderr, "\n  %s failed:\n%s\n", model, slurp(log));
        return false;
    }
    snprintf(r->ckpt, sizeof r->ckpt, "%s", sha256(ck));
    snprintf(r->metrics, sizeof r->metrics, "%s", sha256(without_timing(csv)));
    r->ran = true;
    return r->ckpt[0] && r->metrics[0];
}

static bool skip_model(const char *model) {
    return strcmp(model, "house_prices") == 0 && access(HOUSE_DATA "/train.csv", R_OK) != 0;
}

static int record(void) {
    FILE *f = fopen(HASHES ".tmp", "w");
    if (!f)
        return 1;
    fprintf(f, "# test_parity: SHA-256 of each zoo trainer's checkpoint and metrics CSV (timing column left out)\n"
               "# after --limit 512 (vgg11_full, nin, googlenet, resnet18, densenet: 32) --epochs 2 --seed 1 --threads "
               "2. Rewrite with `test_parity --record`.\n");
    fprintf(f, "cpu %s\n", cpu);
    for (int i = 0; i < NZOO; i++) {
        Result r = {0};
        if (skip_model(zoo[i]))
            continue;
        if (!train(zoo[i], &r)) {
            fclose(f);
            return 1;
        }
        fprintf(f, "%s %s %s\n", zoo[i], r.ckpt, r.metrics);
    }
    fclose(f);
    return rename(HASHES ".tmp", HASHES) == 0 ? 0 : 1;
}

static void test_trainers_bit_identical(void) {
    const char *text = slurp(HASHES);
    char want_cpu[256] = "";
    const char *p = strstr(text, "\ncpu ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    sscanf(p + 5, "%255[^\n]", want_cpu);
    if (strcmp(want_cpu, cpu) != 0) {
        fprintf(stderr,
                "\n  skipped: the hashes were recorded on '%s', this CPU is '%s' (the trainers' bits depend "
                "on it); rerun test_parity --record on this machine from the commit that made them\n",
                want_cpu, cpu);
        return;
    }
    int compared = 0;
    for (int i = 0; i < NZOO; i++) {
        char key[64], ck[65] = "", mt[65] = "";
        const char *line = strstr(text, fmt("\n%s ", zoo[i]));
        if (skip_model(zoo[i])) {
            fprintf(stderr, "\n  %s skipped: the house-price data is not in %s\n", zoo[i], HOUSE_DATA);
            continue;
        }
        if (!line) {
            fprintf(stderr, "\n  %s: no recorded hashes in %s\n", zoo[i], HASHES);
            CU_FAIL("a zoo trainer has no recorded hashes");
            continue;
        }
        CU_ASSERT_EQUAL(sscanf(line + 1, "%63s %64s %64s", key, ck, mt), 3);
        Result r = {0};
        CU_ASSERT_TRUE(train(zoo[i], &r));
        if (strcmp(r.ckpt, ck) != 0 || strcmp(r.metrics, mt) != 0)
            fprintf(stderr, "\n  %s: checkpoint %s (recorded %s), metrics %s (recorded %s)\n", zoo[i], r.ckpt, ck,
                    r.metrics, mt);
        CU_ASSERT_STRING_EQUAL(r.ckpt, ck);
        CU_ASSERT_STRING_EQUAL(r.metrics, mt);
        fprintf(stderr, "\n  %s: %s", zoo[i],
                strcmp(r.ckpt, ck) == 0 && strcmp(r.metrics, mt) == 0 ? "same" : "DIFFERENT");
        compared++;
    }
    CU_ASSERT_TRUE(compared > 0);
}

int main(int argc, char **argv) {
    atexit(free_kept);
    read_cpu();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dlc-parity-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    if (argc > 1 && strcmp(argv[1], "--record") == 0) {
        int rc = record();
        remove_tree(tmpdir);
        return rc;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("parity", NULL, NULL);
    CU_add_test(s, "every zoo trainer's checkpoint and metrics are bit-identical to the recorded ones",
                test_trainers_bit_identical);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    remove_tree(tmpdir);
    return failed ? 1 : 0;
}
