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
 * same on every rank). It first calls dlrt_exec_with_wait_policy with the ranks on this host as the launcher's
 * environment gives them (Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE, MPICH's MPI_LOCALNRANKS; unknown: 0). */
int dlrt_mpi_train_main(const DlrtModel *model, int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
