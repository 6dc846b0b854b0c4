/* test_parity.c: every zoo trainer still produces the bytes it produced before the compiler was restructured.
 *
 * Each trained zoo model runs `--limit 512 --epochs 2 --seed 1 --threads 1` (AlexNet and VGG-11 `--limit 128`; full
 * VGG-11, NiN, GoogLeNet, ResNet-18 and DenseNet `--limit 32`: 512 of full VGG-11's 224x224 images take six minutes
 * on two cores), two trainers at a time, and writes a checkpoint and its per-epoch metrics; the SHA-256 of the
 * checkpoint and of the metrics CSV without its timing column must equal the ones recorded in
 * tests/trainer_hashes.txt. A refactoring that changes one bit of any parameter, optimizer state, loss or accuracy
 * fails here, named by model. ResNet-18 and GoogLeNet then run again on two threads and must give the same bytes (on
 * any CPU, recorded or not): the thread count never changes a result.
 *
 * The bits depend on the CPU (the trainers are built with -march=native and OpenBLAS picks kernels by CPU), so
 * the file records the CPU it was made on; on another CPU the comparison is skipped with that reason.
 * `test_parity --record [MODEL...]` rewrites the lines of the given models (all, without any) from this build's
 * trainers. */
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

/* One trainer run: the model, its thread count, its files, its process and its hashes. */
typedef struct Run {
    const char *model, *threads;
    char *ck, *csv, *log;
    pid_t pid;
    bool ok;
    char ckpt[65], metrics[65];
} Run;

/* the models whose 512 resized images would take minutes on two cores: 128 for AlexNet and VGG-11 at 224 x 224
 * (one batch an epoch), 32 for full VGG-11 and the modern CNNs */
static const char *limit_of(const char *model) {
    static const char *const big[] = {"vgg11_full", "nin", "googlenet", "resnet18", "densenet"};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        if (strcmp(model, big[i]) == 0)
            return "32";
    return strcmp(model, "alexnet") == 0 || strcmp(model, "vgg11") == 0 ? "128" : "512";
}

/* The models trained a second time on two threads, whose checkpoint and metrics must be the same bytes: results do
 * not depend on the thread count (issue 18's rule). test_trainer checks the MLP, LeNet and BN-LeNet so (in the
 * sanitizer pass too); these two add the implicit convolutions, strided and 1x1 ones, residual sums and
 * concatenations, on the big models' thread splits. */
static const char *const on_two_threads[] = {"resnet18", "googlenet"};

/* Starts `model`'s trainer as the recorded runs did, in the background. */
static void start(Run *r, const char *model, const char *threads) {
    *r = (Run){.model = model, .threads = threads};
    r->ck = fmt("%s/%s-%s.ckpt", tmpdir, model, threads);
    r->csv = fmt("%s/%s-%s.csv", tmpdir, model, threads);
    r->log = fmt("%s/%s-%s.log", tmpdir, model, threads);
    char *argv[24] = {fmt("%s/models/%s-train", BUILD_ROOT, model),
                      "--limit",
                      (char *)limit_of(model),
                      "--epochs",
                      "2",
                      "--seed",
                      "1",
                      "--threads",
                      (char *)threads,
                      "--quiet",
                      "--save",
                      r->ck,
                      "--metrics",
                      r->csv};
    int n = 14;
    if (strcmp(model, "house_prices") == 0) {
        argv[n++] = "--data";
        argv[n++] = HOUSE_DATA;
    }
    argv[n] = NULL;
    r->pid = fork();
    if (r->pid == 0)
        _exit(run(argv, r->log) == 0 ? 0 : 1);
}

/* Waits for the run and hashes its checkpoint and metrics; false (with the log on stderr) when the trainer failed. */
static bool finish(Run *r) {
    int status;
    bool exited = r->pid > 0 && waitpid(r->pid, &status, 0) == r->pid;
    if (!exited || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "\n  %s --threads %s failed:\n%s\n", r->model, r->threads, slurp(r->log));
        return false;
    }
    snprintf(r->ckpt, sizeof r->ckpt, "%s", sha256(r->ck));
    snprintf(r->metrics, sizeof r->metrics, "%s", sha256(without_timing(r->csv)));
    r->ok = r->ckpt[0] && r->metrics[0];
    return r->ok;
}

static bool skip_model(const char *model) {
    return strcmp(model, "house_prices") == 0 && access(HOUSE_DATA "/train.csv", R_OK) != 0;
}

/* Runs `models` on one thread each, two at a time (one per core: the most trainers an hour on the CI's two cores),
 * or one at a time on two threads; runs[i] holds models[i]'s result. */
static void train_all(const char *const *models, int n, const char *threads, Run *runs) {
    int at_once = strcmp(threads, "1") == 0 ? 2 : 1;
    for (int i = 0; i < n; i += at_once) {
        for (int k = i; k < n && k < i + at_once; k++)
            start(&runs[k], models[k], threads);
        for (int k = i; k < n && k < i + at_once; k++)
            finish(&runs[k]);
    }
}

/* `test_parity --record [MODEL...]`: the hashes of the given models (all, without any) from this build's trainers,
 * each other line of the file kept. */
static int record(int argc, char **argv) {
    const char *models[NZOO];
    int n = 0;
    for (int i = 0; i < NZOO; i++) {
        bool wanted = argc == 0;
        for (int k = 0; k < argc; k++)
            wanted |= strcmp(argv[k], zoo[i]) == 0;
        if (wanted && !skip_model(zoo[i]))
            models[n++] = zoo[i];
    }
    Run runs[NZOO];
    train_all(models, n, "1", runs);
    const char *old = access(HASHES, R_OK) == 0 ? slurp(HASHES) : "";
    FILE *f = fopen(HASHES ".tmp", "w");
    if (!f)
        return 1;
    fprintf(f,
            "# test_parity: SHA-256 of each zoo trainer's checkpoint and metrics CSV (timing column left out)\n"
            "# after --limit 512 (alexnet, vgg11: 128; vgg11_full, nin, googlenet, resnet18, densenet: 32) --epochs 2 "
            "--seed 1 --threads 1.\n# Rewrite with `test_parity --record [MODEL...]`.\n");
    fprintf(f, "cpu %s\n", cpu);
    int status = 0;
    for (int i = 0; i < NZOO; i++) {
        int k = 0;
        while (k < n && models[k] != zoo[i])
            k++;
        if (k < n) {
            if (!runs[k].ok)
                status = 1;
            fprintf(f, "%s %s %s\n", zoo[i], runs[k].ckpt, runs[k].metrics);
            continue;
        }
        const char *line = strstr(old, fmt("\n%s ", zoo[i]));
        if (line)
            fprintf(f, "%.*s\n", (int)strcspn(line + 1, "\n"), line + 1);
    }
    fclose(f);
    if (status != 0) {
        remove(HASHES ".tmp");
        return status;
    }
    return rename(HASHES ".tmp", HASHES) == 0 ? 0 : 1;
}

/* Compares a run with the recorded line of its model; false when it differs. */
static bool same_as_recorded(const Run *r, const char *text) {
    char key[64], ck[65] = "", mt[65] = "";
    const char *line = strstr(text, fmt("\n%s ", r->model));
    if (!line) {
        fprintf(stderr, "\n  %s: no recorded hashes in %s\n", r->model, HASHES);
        CU_FAIL("a zoo trainer has no recorded hashes");
        return false;
    }
    CU_ASSERT_EQUAL(sscanf(line + 1, "%63s %64s %64s", key, ck, mt), 3);
    CU_ASSERT_TRUE(r->ok);
    bool same = r->ok && strcmp(r->ckpt, ck) == 0 && strcmp(r->metrics, mt) == 0;
    if (r->ok && !same)
        fprintf(stderr, "\n  %s --threads %s: checkpoint %s (recorded %s), metrics %s (recorded %s)\n", r->model,
                r->threads, r->ckpt, ck, r->metrics, mt);
    CU_ASSERT_TRUE(same);
    fprintf(stderr, "\n  %s --threads %s: %s", r->model, r->threads, same ? "same" : "DIFFERENT");
    return same;
}

/* The recorded CPU, or NULL (saying why) when the hashes were made on another one. */
static const char *recorded_here(void) {
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
        return NULL;
    }
    return text;
}

/* test_trainers_bit_identical's runs, which test_two_threads_same_bits compares with */
static Run one_thread[NZOO];
static int n_one_thread;

static void test_trainers_bit_identical(void) {
    const char *text = recorded_here();
    if (!text)
        return;
    const char *models[NZOO];
    int n = 0;
    for (int i = 0; i < NZOO; i++)
        if (skip_model(zoo[i]))
            fprintf(stderr, "\n  %s skipped: the house-price data is not in %s\n", zoo[i], HOUSE_DATA);
        else
            models[n++] = zoo[i];
    train_all(models, n, "1", one_thread);
    n_one_thread = n;
    int compared = 0;
    for (int i = 0; i < n; i++)
        compared += same_as_recorded(&one_thread[i], text);
    CU_ASSERT_EQUAL(compared, n);
}

/* On any CPU: the same checkpoint and metrics on two threads as on one (the one-thread runs of the test above, or
 * made here when that test was skipped). */
static void test_two_threads_same_bits(void) {
    enum { N = sizeof on_two_threads / sizeof on_two_threads[0] };
    Run two[N], one[N];
    train_all(on_two_threads, N, "2", two);
    for (int i = 0; i < N; i++) {
        int k = 0;
        while (k < n_one_thread && strcmp(one_thread[k].model, on_two_threads[i]) != 0)
            k++;
        if (k < n_one_thread)
            one[i] = one_thread[k];
        else
            train_all(&on_two_threads[i], 1, "1", &one[i]);
        CU_ASSERT_TRUE(one[i].ok && two[i].ok);
        bool same = one[i].ok && two[i].ok && strcmp(one[i].ckpt, two[i].ckpt) == 0 &&
                    strcmp(one[i].metrics, two[i].metrics) == 0;
        fprintf(stderr, "\n  %s: --threads 2 %s --threads 1", on_two_threads[i],
                same ? "gives the bytes of" : "DIFFERS from");
        CU_ASSERT_TRUE(same);
    }
}

int main(int argc, char **argv) {
    atexit(free_kept);
    read_cpu();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dlc-parity-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    if (argc > 1 && strcmp(argv[1], "--record") == 0) {
        int rc = record(argc - 2, argv + 2);
        remove_tree(tmpdir);
        return rc;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("parity", NULL, NULL);
    CU_add_test(s, "every zoo trainer's checkpoint and metrics on one thread are bit-identical to the recorded ones",
                test_trainers_bit_identical);
    CU_add_test(s, "two threads give one thread's bytes (resnet18, googlenet)", test_two_threads_same_bits);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    remove_tree(tmpdir);
    return failed ? 1 : 0;
}
