/* dlrt_mpi.c - libdlrt-mpi: the collective operations of a data-parallel trainer (DlrtDist, dlrt.h) over MPI, and
 * its main(). This is the only file of the runtime that includes <mpi.h>; train_dist.c does the rest. */
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <unistd.h>

#include "dlrt_mpi.h"

/* MPI counts are int: a larger buffer goes in pieces. */
enum { CHUNK = INT_MAX / 2 };

static void sum_f32(const DlrtDist *d, float *v, int64_t n) {
    (void)d;
    for (int64_t i = 0; i < n; i += CHUNK)
        MPI_Allreduce(MPI_IN_PLACE, v + i, (int)(n - i < CHUNK ? n - i : CHUNK), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

static void sum_f64(const DlrtDist *d, double *v, int64_t n) {
    (void)d;
    for (int64_t i = 0; i < n; i += CHUNK)
        MPI_Allreduce(MPI_IN_PLACE, v + i, (int)(n - i < CHUNK ? n - i : CHUNK), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

static void gather_u64(const DlrtDist *d, uint64_t v, uint64_t *all) {
    (void)d;
    MPI_Allgather(&v, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
}

/* int counts and displacements from int64 ones (train_dist.c keeps them below 2^31) */
static void to_int(int n, const int64_t *count, int *c, int *displ) {
    int at = 0;
    for (int r = 0; r < n; r++) {
        c[r] = (int)count[r];
        displ[r] = at;
        at += c[r];
    }
}

static void exchange_f32(const DlrtDist *d, const float *send, const int64_t *send_count, float *recv,
                         const int64_t *recv_count) {
    int sc[d->size], sd[d->size], rc[d->size], rd[d->size];
    to_int(d->size, send_count, sc, sd);
    to_int(d->size, recv_count, rc, rd);
    MPI_Alltoallv(send, sc, sd, MPI_FLOAT, recv, rc, rd, MPI_FLOAT, MPI_COMM_WORLD);
}

static void gather_f32(const DlrtDist *d, float *v, const int64_t *count) {
    int c[d->size], displ[d->size];
    to_int(d->size, count, c, displ);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, v, c, displ, MPI_FLOAT, MPI_COMM_WORLD);
}

/* The sums started and not yet known to have finished (DlrtDist.impl). */
typedef struct {
    MPI_Request *req;
    int n, cap;
} Pending;

static void wait_sums(const DlrtDist *d) {
    Pending *p = d->impl;
    MPI_Waitall(p->n, p->req, MPI_STATUSES_IGNORE);
    p->n = 0;
}

static void start_sum_f32(const DlrtDist *d, float *v, int64_t n) {
    Pending *p = d->impl;
    for (int64_t i = 0; i < n; i += CHUNK) {
        int count = (int)(n - i < CHUNK ? n - i : CHUNK);
        if (p->n == p->cap) { /* grows in the first steps only: a step starts the same sums each time */
            int cap = p->cap ? 2 * p->cap : 64;
            MPI_Request *req = realloc(p->req, sizeof *req * (size_t)cap);
            if (!req) { /* no room to wait later: sum now */
                MPI_Allreduce(MPI_IN_PLACE, v + i, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
                continue;
            }
            p->req = req;
            p->cap = cap;
        }
        MPI_Iallreduce(MPI_IN_PLACE, v + i, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &p->req[p->n++]);
    }
}

static int progress(const DlrtDist *d) {
    Pending *p = d->impl;
    int done = 1;
    if (p->n > 0)
        MPI_Testall(p->n, p->req, &done, MPI_STATUSES_IGNORE);
    if (done)
        p->n = 0;
    return done;
}

/* The ranks on this host, from the launcher's environment (MPI_Init has not run yet): 0 when it does not say. */
static int ranks_on_host(void) {
    const char *names[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        long n = v ? strtol(v, NULL, 10) : 0;
        if (n > 0 && n < INT_MAX)
            return (int)n;
    }
    return 0;
}

int dlrt_mpi_train_main(const DlrtModel *model, int argc, char **argv) {
    /* several ranks on a host may share its cores (--threads, or more ranks than cores), where a rank's spinning
     * threads would take the time another rank's step needs, and every rank waits for the slowest at each sum */
    dlrt_exec_with_wait_policy(argc, argv, ranks_on_host());
    MPI_Init(&argc, &argv);
    Pending pending = {0};
    DlrtDist d = {.impl = &pending,
                  .sum_f32 = sum_f32,
                  .sum_f64 = sum_f64,
                  .gather_u64 = gather_u64,
                  .exchange_f32 = exchange_f32,
                  .gather_f32 = gather_f32,
                  .start_sum_f32 = start_sum_f32,
                  .progress = progress,
                  .wait_sums = wait_sums};
    MPI_Comm_rank(MPI_COMM_WORLD, &d.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d.size);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &d.local_size);
    MPI_Comm_free(&local);
    int status = dlrt_train_run_dist(model, argc, argv, stdout, stderr, &d);
    fflush(stdout);
    free(pending.req);
    MPI_Finalize();
    return status;
}
