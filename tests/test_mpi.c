/* test_mpi.c: data-parallel trainers (`dlc build --mpi`, issue 17) under Open MPI's mpirun, on a small
 * Fashion-MNIST look-alike. The trainers are built by this build's dlc as a user builds them, the plain ones too
 * (the zoo's build/models trainers are compiled with other flags). Checked: in the canonical summation order (the
 * default) 1, 2 and 4 ranks give byte-identical checkpoints, with LeNet and with dropout, whose masks are keyed by
 * an example's index in the global batch, and so do 3 ranks and a batch that is not a whole number of chunks; the
 * same number of ranks gives the same bytes over shared memory and over TCP on loopback; with --fast-reduce one
 * rank gives the plain trainer's bytes and 2 and 4 ranks agree with 1 within 1e-5 (the largest difference of a
 * parameter) after 20 LeNet steps; --resume continues bit for bit, on any number of ranks in the canonical order
 * and on as many with --fast-reduce, and refuses what would not; --fast-reduce's sums overlapped with backward
 * (the default) give what they give after it (DLRT_MPI_OVERLAP=0); a rank that cannot read its data and a different
 * model on another rank stop every rank with one message. Batch normalization (BN-LeNet in both forms) takes its
 * statistics over the global batch, with the same bits on 1, 2 and 4 ranks.
 *
 * Parameters are compared through the zoo's generated C (generated/lenet.c, dropout_mlp.c, batchnorm.c and
 * batchnorm_concise.c), whose
 * <name>_load reads a checkpoint and <name>_params lists the parameters. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../generated/batchnorm.h"
#include "../generated/batchnorm_concise.h"
#include "../generated/dropout_mlp.h"
#include "../generated/lenet.h"
#include "testutil.h"

enum { SIDE = 28, N_TRAIN = 640, N_TEST = 100 };

static char dir[] = "/tmp/dlc-test-mpi-XXXXXX";
static char *data_dir;

/* mpirun as root needs both of these; --oversubscribe lets 4 ranks share 2 cores. */
static const char *const mpirun = "mpirun --oversubscribe";

/* Runs a shell command with its stdout and stderr into *out and *err (until exit); returns the exit status, or -1
 * when it did not exit. */
static int sh(const char *cmd, char **err) {
    char *e = fmt("%s/stderr", dir);
    int rc = system(fmt("%s >/dev/null 2>'%s'", cmd, e));
    if (err)
        *err = slurp(e);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void put_be32(FILE *f, uint32_t v) {
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    fwrite(b, 1, 4, f);
}

/* A Fashion-MNIST folder of look-alike images: class k is a bright bar at rows 2k + 4 and 2k + 5, with noise. */
static void write_data(const char *d) {
    mkdir(d, 0700);
    static const char *const names[2][2] = {{"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
                                            {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}};
    for (int s = 0; s < 2; s++) {
        int n = s ? N_TEST : N_TRAIN;
        FILE *img = fopen(fmt("%s/%s", d, names[s][0]), "wb"), *lab = fopen(fmt("%s/%s", d, names[s][1]), "wb");
        put_be32(img, 0x803);
        put_be32(img, (uint32_t)n);
        put_be32(img, SIDE);
        put_be32(img, SIDE);
        put_be32(lab, 0x801);
        put_be32(lab, (uint32_t)n);
        unsigned h = 12345u + (unsigned)s;
        for (int i = 0; i < n; i++) {
            int k = i % 10;
            for (int y = 0; y < SIDE; y++)
                for (int x = 0; x < SIDE; x++) {
                    h = h * 1103515245u + 12345u;
                    bool bar = (y == 2 * k + 4 || y == 2 * k + 5) && x >= 4 && x < 24;
                    fputc(bar ? 200 + (int)((h >> 16) % 56) : (int)((h >> 16) % 40), img);
                }
            fputc(k, lab);
        }
        fclose(img);
        fclose(lab);
    }
}

static char *trainer(const char *model, bool mpi) { return fmt("%s/%s-%s", dir, model, mpi ? "mpi" : "plain"); }

static bool same_file(const char *a, const char *b) { return sh(fmt("cmp -s '%s' '%s'", a, b), NULL) == 0; }

/* The largest absolute difference between a parameter of two checkpoints of one model, or INFINITY when either
 * cannot be read. */
#define MAX_DIFF(name, NAME)                                                                                           \
    static double name##_max_diff(const char *a, const char *b) {                                                      \
        size_t la, lb;                                                                                                 \
        char *ca = slurp_n(a, &la), *cb = slurp_n(b, &lb);                                                             \
        void *sa = aligned_alloc(64, NAME##_STATE_BYTES), *sb = aligned_alloc(64, NAME##_STATE_BYTES);                 \
        double most = INFINITY;                                                                                        \
        if (sa && sb && name##_load(sa, ca, la) == NAME##_LOAD_OK && name##_load(sb, cb, lb) == NAME##_LOAD_OK) {      \
            most = 0;                                                                                                  \
            for (int i = 0; i < NAME##_PARAM_COUNT; i++) {                                                             \
                const name##_param_info *p = &name##_params[i];                                                        \
                int64_t n = 1;                                                                                         \
                for (int d = 0; d < p->rank; d++)                                                                      \
                    n *= p->dims[d];                                                                                   \
                const float *x = (const float *)(const void *)((const char *)sa + p->offset);                          \
                const float *y = (const float *)(const void *)((const char *)sb + p->offset);                          \
                for (int64_t j = 0; j < n; j++)                                                                        \
                    if (fabs((double)x[j] - (double)y[j]) > most)                                                      \
                        most = fabs((double)x[j] - (double)y[j]);                                                      \
            }                                                                                                          \
        }                                                                                                              \
        free(sa);                                                                                                      \
        free(sb);                                                                                                      \
        return most;                                                                                                   \
    }
MAX_DIFF(lenet, LENET)
MAX_DIFF(dropout_mlp, DROPOUT_MLP)
MAX_DIFF(batchnorm, BATCHNORM)
MAX_DIFF(batchnorm_concise, BATCHNORM_CONCISE)

/* 20 steps of 16 examples (the first 320 of the training set), one epoch, seed 3; threads as each rank takes them
 * by default (2 on one rank, 1 on two or four), which the canonical order does not depend on. */
static const char *const steps20 = "--epochs 1 --batch 16 --limit 320 --seed 3 --quiet";

/* Trains `model` on np ranks (0: the plain trainer) into ckpt; returns the exit status. */
static int train(const char *model, int np, const char *extra, const char *ckpt) {
    if (np == 0)
        return sh(fmt("%s --data '%s' %s %s --save '%s'", trainer(model, false), data_dir, steps20, extra, ckpt), NULL);
    return sh(fmt("%s -np %d %s --data '%s' %s %s --save '%s'", mpirun, np, trainer(model, true), data_dir, steps20,
                  extra, ckpt),
              NULL);
}

/* In the canonical order the bits do not depend on the number of ranks. */
static void test_any_ranks_same_bits(void) {
    const char *models[] = {"lenet", "dropout_mlp"};
    for (int i = 0; i < 2; i++) {
        char *c[3];
        int nps[] = {1, 2, 4};
        for (int k = 0; k < 3; k++) {
            c[k] = fmt("%s/%s-canon%d.ckpt", dir, models[i], nps[k]);
            CU_ASSERT_EQUAL(train(models[i], nps[k], "", c[k]), 0);
        }
        CU_ASSERT(same_file(c[0], c[1]));
        CU_ASSERT(same_file(c[0], c[2]));
    }
    /* 3 ranks (some hold two subtrees of the tree of chunks), a batch of 4 whole chunks and a part of one */
    const char *odd = "--batch 70 --chunk 16";
    char *a = fmt("%s/lenet-odd1.ckpt", dir), *b = fmt("%s/lenet-odd3.ckpt", dir);
    CU_ASSERT_EQUAL(train("lenet", 1, odd, a), 0);
    CU_ASSERT_EQUAL(train("lenet", 3, odd, b), 0);
    CU_ASSERT(same_file(a, b));
}

static void test_same_ranks_same_bits(void) {
    /* TCP on loopback, the transport between hosts: the same bits as shared memory */
    char *t = fmt("%s/lenet-tcp.ckpt", dir), *f = fmt("%s/lenet-fast-tcp.ckpt", dir);
    CU_ASSERT_EQUAL(sh(fmt("%s --mca btl self,tcp -np 2 %s --data '%s' %s --save '%s'", mpirun, trainer("lenet", true),
                           data_dir, steps20, t),
                       NULL),
                    0);
    CU_ASSERT(same_file(t, fmt("%s/lenet-canon2.ckpt", dir)));
    /* --fast-reduce: MPI's order, the same for the same number of ranks */
    char *a = fmt("%s/lenet-fast2.ckpt", dir);
    CU_ASSERT_EQUAL(train("lenet", 2, "--fast-reduce", a), 0);
    CU_ASSERT_EQUAL(sh(fmt("%s --mca btl self,tcp -np 2 %s --data '%s' %s --fast-reduce --save '%s'", mpirun,
                           trainer("lenet", true), data_dir, steps20, f),
                       NULL),
                    0);
    CU_ASSERT(same_file(a, f));
}

/* --fast-reduce: one rank is the plain trainer, and other numbers of ranks agree closely. */
static void test_fast_reduce_agrees(void) {
    char *p = fmt("%s/lenet-plain.ckpt", dir), *one = fmt("%s/lenet-fast1.ckpt", dir);
    CU_ASSERT_EQUAL(train("lenet", 0, "", p), 0);
    CU_ASSERT_EQUAL(train("lenet", 1, "--fast-reduce", one), 0);
    CU_ASSERT(same_file(p, one));
    int nps[] = {2, 4};
    for (int i = 0; i < 2; i++) {
        char *c = fmt("%s/lenet-fast%d.ckpt", dir, nps[i]);
        if (access(c, R_OK) != 0)
            CU_ASSERT_EQUAL(train("lenet", nps[i], "--fast-reduce", c), 0);
        double d = lenet_max_diff(one, c);
        fprintf(stderr, "\n  lenet --fast-reduce, %d ranks: parameters differ from 1 rank's by up to %g\n", nps[i], d);
        CU_ASSERT(d <= 1e-5);
    }
    char *d1 = fmt("%s/dropout-fast1.ckpt", dir), *d2 = fmt("%s/dropout-fast2.ckpt", dir);
    CU_ASSERT_EQUAL(train("dropout_mlp", 1, "--fast-reduce", d1), 0);
    CU_ASSERT_EQUAL(train("dropout_mlp", 2, "--fast-reduce", d2), 0);
    double d = dropout_mlp_max_diff(d1, d2);
    fprintf(stderr, "\n  dropout_mlp --fast-reduce, 2 ranks: parameters differ from 1 rank's by up to %g\n", d);
    CU_ASSERT(d <= 1e-5);
    /* the canonical order is not the plain trainer's: chunks, not the whole batch at once */
    CU_ASSERT(!same_file(p, fmt("%s/lenet-canon1.ckpt", dir)));
}

/* --fast-reduce overlaps the sums with backward (DLRT_MPI_OVERLAP=0 turns it off): the generated backward reports
 * every gradient as it finishes it, once per parameter and step, and the sums it starts are MPI's sums of the
 * same values. With 2 ranks each float is a + b whatever the buckets, so the bits are the same; with 4 MPI's
 * algorithm may depend on a sum's length (Open MPI's does), so the results agree within the 1e-5 of
 * test_fast_reduce_agrees. Steps in phases (BN-LeNet) report theirs too. */
static void test_overlap_agrees(void) {
    for (int np = 2; np <= 4; np += 2) {
        char *on = fmt("%s/lenet-fast%d.ckpt", dir, np), *off = fmt("%s/lenet-fast%d-off.ckpt", dir, np);
        if (access(on, R_OK) != 0)
            CU_ASSERT_EQUAL(train("lenet", np, "--fast-reduce", on), 0);
        CU_ASSERT_EQUAL(sh(fmt("DLRT_MPI_OVERLAP=0 %s -np %d %s --data '%s' %s --fast-reduce --save '%s'", mpirun, np,
                               trainer("lenet", true), data_dir, steps20, off),
                           NULL),
                        0);
        double d = lenet_max_diff(on, off);
        bool same = same_file(on, off);
        fprintf(stderr, "\n  lenet --fast-reduce, %d ranks: overlap on and off differ by up to %g%s\n", np, d,
                same ? " (the same bytes)" : "");
        CU_ASSERT(np == 2 ? same : d <= 1e-5);
    }
    /* the hook is called: once per parameter and step (LeNet's are all trainable, none shares a gradient) */
    char *log = fmt("%s/overlap.log", dir);
    const char *f = "--epochs 1 --batch 16 --limit 64 --seed 3";
    CU_ASSERT_EQUAL(
        sh(fmt("(%s -np 2 %s --data '%s' %s --fast-reduce >'%s')", mpirun, trainer("lenet", true), data_dir, f, log),
           NULL),
        0);
    char *out = slurp(log),
         *want = fmt("--fast-reduce overlapped with backward (%d.0 gradients reported a step)", LENET_PARAM_COUNT);
    CU_ASSERT(out && strstr(out, want));
    CU_ASSERT_EQUAL(sh(fmt("(DLRT_MPI_OVERLAP=0 %s -np 2 %s --data '%s' %s --fast-reduce >'%s')", mpirun,
                           trainer("lenet", true), data_dir, f, log),
                       NULL),
                    0);
    out = slurp(log);
    CU_ASSERT(out && strstr(out, "2 ranks, --fast-reduce: ") && !strstr(out, "overlapped"));
    /* a step in phases: the gradients of the last phases are reported and summed as they finish */
    const char *bn = "--epochs 1 --batch 40 --limit 120 --seed 3 --quiet --fast-reduce";
    char *b_on = fmt("%s/batchnorm-fast2.ckpt", dir), *b_off = fmt("%s/batchnorm-fast2-off.ckpt", dir);
    if (access(b_on, R_OK) != 0)
        CU_ASSERT_EQUAL(
            sh(fmt("%s -np 2 %s --data '%s' %s --save '%s'", mpirun, trainer("batchnorm", true), data_dir, bn, b_on),
               NULL),
            0);
    CU_ASSERT_EQUAL(sh(fmt("DLRT_MPI_OVERLAP=0 %s -np 2 %s --data '%s' %s --save '%s'", mpirun,
                           trainer("batchnorm", true), data_dir, bn, b_off),
                       NULL),
                    0);
    CU_ASSERT(same_file(b_on, b_off));
    int trainable = 0; /* the running statistics are state, not parameters: they have no gradient */
    for (int i = 0; i < BATCHNORM_PARAM_COUNT; i++)
        trainable += batchnorm_params[i].trainable;
    CU_ASSERT_EQUAL(sh(fmt("(%s -np 2 %s --data '%s' --epochs 1 --batch 40 --limit 80 --fast-reduce >'%s')", mpirun,
                           trainer("batchnorm", true), data_dir, log),
                       NULL),
                    0);
    out = slurp(log);
    want = fmt("--fast-reduce overlapped with backward (%d.0 gradients reported a step)", trainable);
    CU_ASSERT(out && strstr(out, want));
}

/* Two epochs in one run on `whole` ranks, and one epoch on `first` ranks resumed for the second on `second`: whether
 * the two final checkpoints (whole.ckpt, part.ckpt) are the same bytes. */
static bool resumes_bit_for_bit(const char *f, int whole, int first, int second) {
    char *w = fmt("%s/whole.ckpt", dir), *part = fmt("%s/part.ckpt", dir);
    const char *t = trainer("dropout_mlp", true);
    return sh(fmt("%s -np %d %s --data '%s' %s --epochs 2 --save '%s'", mpirun, whole, t, data_dir, f, w), NULL) == 0 &&
           sh(fmt("%s -np %d %s --data '%s' %s --epochs 1 --save '%s'", mpirun, first, t, data_dir, f, part), NULL) ==
               0 &&
           sh(fmt("%s -np %d %s --data '%s' %s --epochs 2 --resume '%s' --save '%s'", mpirun, second, t, data_dir, f,
                  part, part),
              NULL) == 0 &&
           same_file(w, part);
}

static void test_resume_continues_bit_for_bit(void) {
    char *part = fmt("%s/part.ckpt", dir), *err = NULL;
    const char *t = trainer("dropout_mlp", true);
    const char *f = "--batch 16 --limit 160 --seed 5 --quiet";
    /* the canonical order: one epoch on 4 ranks, the second on 1, is the run of 2 epochs on 2 */
    CU_ASSERT(resumes_bit_for_bit(f, 2, 4, 1));
    /* it would not continue bit for bit with another chunk, with --fast-reduce or in the plain trainer */
    int rc =
        sh(fmt("%s -np 2 %s --data '%s' %s --epochs 3 --chunk 8 --resume '%s'", mpirun, t, data_dir, f, part), &err);
    CU_ASSERT(rc == 1);
    CU_ASSERT(err && strstr(err, "resume it with --chunk 16"));
    rc = sh(fmt("%s --data '%s' %s --epochs 3 --resume '%s'", trainer("dropout_mlp", false), data_dir, f, part), &err);
    CU_ASSERT(rc == 1);
    CU_ASSERT(err && strstr(err, "summed its gradients in the canonical order (chunks of 16 examples)"));
    /* --fast-reduce: on as many ranks, bit for bit */
    const char *g = "--batch 16 --limit 160 --seed 5 --quiet --fast-reduce";
    CU_ASSERT(resumes_bit_for_bit(g, 2, 2, 2));
    /* the checkpoint records 2 ranks: another number of ranks, the canonical order, or the plain trainer would not
     * continue it bit for bit and refuses it */
    rc = sh(fmt("timeout 120 %s -np 3 %s --data '%s' %s --epochs 3 --resume '%s'", mpirun, t, data_dir, g, part), &err);
    CU_ASSERT(rc == 1);
    CU_ASSERT(err && strstr(err, "written by a run on 2 ranks and this one has 3"));
    rc = sh(fmt("timeout 120 %s -np 2 %s --data '%s' %s --epochs 3 --resume '%s'", mpirun, t, data_dir, f, part), &err);
    CU_ASSERT(rc == 1);
    CU_ASSERT(err && strstr(err, "whose summation order depends on the number of ranks"));
    rc = sh(fmt("%s --data '%s' %s --epochs 3 --resume '%s'", trainer("dropout_mlp", false), data_dir, f, part), &err);
    CU_ASSERT(rc == 1);
    CU_ASSERT(err && strstr(err, "written by a run on 2 ranks and this one has 1"));
}

static void test_outputs_are_rank_zeros(void) {
    char *rep = fmt("%s/report.json", dir), *err = NULL;
    CU_ASSERT_EQUAL(
        sh(fmt("%s -np 2 %s --data '%s' %s --report '%s'", mpirun, trainer("lenet", true), data_dir, steps20, rep),
           &err),
        0);
    char *json = slurp(rep);
    CU_ASSERT(json && strstr(json, "\"ranks\": 2") != NULL);
}

/* A failure on one rank ends every rank, within the timeout, with that rank's message only. */
static void test_failures_stop_every_rank(void) {
    char *err = NULL;
    const char *t = trainer("lenet", true);
    int rc = sh(fmt("timeout 120 %s -np 1 %s --data '%s' %s : -np 1 %s --data '%s/missing' %s", mpirun, t, data_dir,
                    steps20, t, dir, steps20),
                &err);
    CU_ASSERT(rc != 0 && rc != 124); /* 124: timeout killed a hang */
    CU_ASSERT(err && strstr(err, "(rank 1)") && strstr(err, "missing"));
    rc = sh(fmt("timeout 120 %s -np 1 %s --data '%s' %s : -np 1 %s --data '%s' %s", mpirun, t, data_dir, steps20,
                trainer("dropout_mlp", true), data_dir, steps20),
            &err);
    CU_ASSERT(rc != 0 && rc != 124);
    CU_ASSERT(err && strstr(err, "rank 1 differs from rank 0: a different model"));
}

/* Ranks whose kernels differ (here OpenBLAS's, chosen by OPENBLAS_CORETYPE on one rank) are named at start-up; the
 * run goes on, as the bits need not matter to the user. */
static void test_kernels_compared(void) {
    const char *t = trainer("lenet", true);
    const char *f = "--epochs 1 --batch 32 --limit 64 --quiet";
    char *err = NULL;
    int rc = sh(fmt("timeout 120 %s -np 1 %s --data '%s' %s : -np 1 env OPENBLAS_CORETYPE=Prescott %s --data '%s' %s",
                    mpirun, t, data_dir, f, t, data_dir, f),
                &err);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT(err && strstr(err, "rank 1 differs from rank 0: its kernels"));
    rc = sh(fmt("timeout 120 %s -np 2 %s --data '%s' %s", mpirun, t, data_dir, f), &err);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT(err && !strstr(err, "its kernels"));
}

/* Rank 1 killed mid-run: mpirun ends the job naming the rank, and rank 0's last checkpoint (written atomically)
 * resumes, bit for bit with a run that was never interrupted. The wrapper records each rank's process id, so the
 * test kills exactly the process it started. */
static void test_killed_rank(void) {
    const char *t = trainer("lenet", true);
    const char *f = "--batch 32 --limit 256 --seed 7 --threads 1 --quiet";
    char *wrap = fmt("%s/wrap.sh", dir), *ck = fmt("%s/killed.ckpt", dir), *rcfile = fmt("%s/killed.rc", dir);
    write_text(wrap, fmt("#!/bin/sh\necho $$ >\"%s/pid.$OMPI_COMM_WORLD_RANK\"\nexec \"$@\"\n", dir));
    chmod(wrap, 0700);
    char *err = NULL;
    sh(fmt("(timeout 120 %s -np 2 '%s' %s --data '%s' %s --epochs 1000 --save '%s' 2>'%s/killed.err'; echo $? >'%s') "
           "& for i in $(seq 1 600); do [ -s '%s' ] && [ -s '%s/pid.1' ] && break; sleep 0.1; done; sleep 1; "
           "kill -9 $(cat '%s/pid.1'); wait",
           mpirun, wrap, t, data_dir, f, ck, dir, rcfile, ck, dir, dir),
       NULL);
    char *rc = slurp(rcfile);
    err = slurp(fmt("%s/killed.err", dir));
    CU_ASSERT(rc && atoi(rc) != 0 && atoi(rc) != 124); /* ended, and not by the timeout */
    CU_ASSERT(err && strstr(err, "rank 1"));
    /* the epochs the checkpoint holds, from the resumed run's first line */
    char *out = fmt("%s/resumed.out", dir);
    int e = -1;
    CU_ASSERT_EQUAL(
        sh(fmt("(%s -np 2 %s --data '%s' --threads 1 --resume '%s' --epochs 0 >'%s')", mpirun, t, data_dir, ck, out),
           NULL),
        0);
    char *text = slurp(out);
    const char *at = text ? strstr(text, "after epoch ") : NULL;
    if (at)
        e = atoi(at + strlen("after epoch "));
    CU_ASSERT_FATAL(e >= 0 && e < 1000);
    char *whole = fmt("%s/unkilled.ckpt", dir);
    CU_ASSERT_EQUAL(
        sh(fmt("%s -np 2 %s --data '%s' %s --epochs %d --save '%s'", mpirun, t, data_dir, f, e + 1, whole), NULL), 0);
    CU_ASSERT_EQUAL(sh(fmt("%s -np 2 %s --data '%s' %s --epochs %d --resume '%s' --save '%s'", mpirun, t, data_dir, f,
                           e + 1, ck, ck),
                       NULL),
                    0);
    CU_ASSERT(same_file(whole, ck));
}

/* Batch normalization takes its statistics over the global batch: every sum over the batch that the step uses per
 * example is completed across the chunks in the canonical tree, so BN-LeNet, from primitives and with the
 * built-in batch_norm, gives the same bytes on 1, 2 and 4 ranks. A batch of 40 is chunks of 16, 16 and 8, so 4
 * ranks leave one without a chunk (it runs the phases on one example to follow the running statistics) and 2 ranks
 * hold unequal shares. Per-chunk statistics would put one rank's checkpoint far from the plain trainer's, which
 * normalizes over the whole batch in one call; global ones agree with it to rounding (it sums in another order). */
static void test_batch_norm_global_statistics(void) {
    const char *f = "--epochs 1 --batch 40 --limit 120 --seed 3 --quiet";
    const char *models[] = {"batchnorm", "batchnorm_concise"};
    for (int i = 0; i < 2; i++) {
        char *c[3], *p = fmt("%s/%s-plain.ckpt", dir, models[i]);
        int nps[] = {1, 2, 4};
        for (int k = 0; k < 3; k++) {
            c[k] = fmt("%s/%s-canon%d.ckpt", dir, models[i], nps[k]);
            CU_ASSERT_EQUAL(sh(fmt("%s -np %d %s --data '%s' %s --save '%s'", mpirun, nps[k], trainer(models[i], true),
                                   data_dir, f, c[k]),
                               NULL),
                            0);
        }
        CU_ASSERT(same_file(c[0], c[1]));
        CU_ASSERT(same_file(c[0], c[2]));
        CU_ASSERT_EQUAL(sh(fmt("%s --data '%s' %s --save '%s'", trainer(models[i], false), data_dir, f, p), NULL), 0);
        double d = i ? batchnorm_concise_max_diff(p, c[0]) : batchnorm_max_diff(p, c[0]);
        fprintf(stderr, "\n  %s, canonical order: parameters differ from the plain trainer's by up to %g\n", models[i],
                d);
        CU_ASSERT(d <= 1e-5);
        /* --fast-reduce: each rank's share in one piece, its sums all-reduced; 2 ranks agree with 1 */
        char *f1 = fmt("%s/%s-fast1.ckpt", dir, models[i]), *f2 = fmt("%s/%s-fast2.ckpt", dir, models[i]);
        CU_ASSERT_EQUAL(sh(fmt("%s -np 1 %s --data '%s' %s --fast-reduce --save '%s'", mpirun, trainer(models[i], true),
                               data_dir, f, f1),
                           NULL),
                        0);
        CU_ASSERT_EQUAL(sh(fmt("%s -np 2 %s --data '%s' %s --fast-reduce --save '%s'", mpirun, trainer(models[i], true),
                               data_dir, f, f2),
                           NULL),
                        0);
        d = i ? batchnorm_concise_max_diff(f1, f2) : batchnorm_max_diff(f1, f2);
        fprintf(stderr, "  %s --fast-reduce, 2 ranks: parameters differ from 1 rank's by up to %g\n", models[i], d);
        CU_ASSERT(d <= 1e-5);
    }
    /* the scratch form's one piece is the plain trainer's computation, kernel for kernel */
    CU_ASSERT(same_file(fmt("%s/batchnorm-plain.ckpt", dir), fmt("%s/batchnorm-fast1.ckpt", dir)));
}

/* A reduction over the batch that the step uses per example and that is not a sum cannot be completed across
 * ranks: dlc refuses it with its location. */
static void test_other_batch_reductions_are_refused(void) {
    char *m = fmt("%s/maxnorm.dlm", dir), *err = NULL;
    write_text(m, "input x: f32[batch, 1, 28, 28]\ninput y: i32[batch]\n"
                  "h = x |> flatten |> linear(10)\nlogits = h - max(h, axis=0, keepdim=true)\noutput logits\n"
                  "train {\n    data = fashion_mnist(x, y)\n    loss = cross_entropy(logits, y)\n"
                  "    optimizer = sgd(lr = 0.1)\n    batch = 64\n    epochs = 1\n}\n");
    int rc = sh(fmt("'%s' build '%s' --mpi -o '%s/maxnorm'", DLC_PATH, m, dir), &err);
    CU_ASSERT(rc == 1);
    CU_ASSERT(err && strstr(err, "maxnorm.dlm:4:14: error: --mpi: max reduces over the batch"));
}

int main(void) {
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    if (!mkdtemp(dir))
        return 1;
    data_dir = fmt("%s/fmnist", dir);
    write_data(data_dir);
    const char *models[] = {"lenet", "dropout_mlp", "batchnorm", "batchnorm_concise"};
    for (int i = 0; i < 4; i++)
        for (int mpi = 0; mpi < 2; mpi++)
            if (sh(fmt("'%s' build '%s/models/%s.dlm' %s -o '%s'", DLC_PATH, SOURCE_ROOT, models[i], mpi ? "--mpi" : "",
                       trainer(models[i], mpi)),
                   NULL) != 0) {
                fprintf(stderr, "test_mpi: dlc build %s%s failed\n", models[i], mpi ? " --mpi" : "");
                return 1;
            }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("mpi", NULL, NULL);
    CU_add_test(s, "any ranks give the same bits", test_any_ranks_same_bits);
    CU_add_test(s, "the same ranks give the same bits over TCP", test_same_ranks_same_bits);
    CU_add_test(s, "--fast-reduce: one rank is the plain trainer, any agree within 1e-5", test_fast_reduce_agrees);
    CU_add_test(s, "--fast-reduce: overlap on and off agree; backward reports every gradient", test_overlap_agrees);
    CU_add_test(s, "resume continues bit for bit", test_resume_continues_bit_for_bit);
    CU_add_test(s, "outputs are rank 0's", test_outputs_are_rank_zeros);
    CU_add_test(s, "failures stop every rank", test_failures_stop_every_rank);
    CU_add_test(s, "differing kernels are named", test_kernels_compared);
    CU_add_test(s, "a killed rank ends the job; its checkpoint resumes", test_killed_rank);
    CU_add_test(s, "batch norm: global statistics, the same bits on any ranks", test_batch_norm_global_statistics);
    CU_add_test(s, "other reductions over the batch are refused", test_other_batch_reductions_are_refused);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    remove_tree(dir);
    return failed ? 1 : 0;
}
