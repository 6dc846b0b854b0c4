/* dlrt_mpi.h - libdlrt-mpi: data-parallel trainers over MPI (`dlc build --mpi`). Link with
 * `pkg-config --cflags --libs dlrt-mpi`; plain libdlrt links no MPI. docs/trainer.md describes a run. */
#ifndef DLRT_MPI_H
#define DLRT_MPI_H

#include "dlrt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* main() of a data-parallel trainer, run as `mpirun -np N <name>-train [flags]`: initialises MPI, runs
 * dlrt_train_run_dist over MPI_COMM_WORLD on stdout and stderr, finalises MPI and returns the exit status (the
 * same on every rank). With OpenMP it first sets OMP_WAIT_POLICY as dlrt_train_main does. */
int dlrt_mpi_train_main(const DlrtModel *model, int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
