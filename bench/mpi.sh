#!/bin/bash
# bench/mpi.sh — data-parallel trainers (`dlc build --mpi`, docs/trainer.md) on this machine: 1 rank x 2 threads
# against 2 ranks x 1 thread, in the canonical summation order (the default) and with --fast-reduce, for LeNet and
# AlexNet on Fashion-MNIST. Each trainer prints, at the end of a run, the milliseconds per step it spent summing
# gradients across ranks (from the end of its own backward passes to the reduced gradient: communication, the
# tree's additions, and waiting for the slowest rank) and the milliseconds per training step; this script
# collects them into a table (median of REPEAT runs). --fast-reduce runs twice: with its sums overlapped with
# backward (the default; "ms reducing" is then the wait after backward for the sums it started) and without
# (DLRT_MPI_OVERLAP=0, the sum after backward). Not a test: the figures depend on the machine's load.
#
# Environment knobs (defaults in brackets):
#   MODELS    models                                   [lenet alexnet]
#   REPEAT    runs per configuration, median reported  [3]
#   LENET_N   LeNet training examples (batch 256)      [5120: 20 steps]
#   ALEX_N    AlexNet training examples (batch 128)    [512: 4 steps]
#   BUILD     meson build directory                    [ROOT/build]
#   DATA      Fashion-MNIST folder                     [/usr/share/datasets/fashion-mnist]
#   OUT       results directory                        [ROOT/bench/out/mpi-<timestamp>]
#   LAYOUTS   ranks x threads per rank                 [1x2 2x1]
#   ORDERS    summation orders                         [canonical fast-overlap fast-no-overlap]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MODELS=${MODELS:-lenet alexnet}
REPEAT=${REPEAT:-3}
LENET_N=${LENET_N:-5120}
ALEX_N=${ALEX_N:-512}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
OUT=${OUT:-$ROOT/bench/out/mpi-$(date +%Y%m%d-%H%M%S)}
ORDERS=${ORDERS:-canonical fast-overlap fast-no-overlap}
LAYOUTS=${LAYOUTS:-1x2 2x1}
mkdir -p "$OUT"
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

printf '%-8s %-18s %-16s %12s %14s %8s\n' model layout order "ms/step" "ms reducing" share | tee "$OUT/table.txt"
for model in $MODELS; do
    exe=$OUT/$model-train
    "$BUILD/compiler/dlc" build "$ROOT/models/$model.dlm" --mpi -o "$exe" >/dev/null
    n=$LENET_N
    [ "$model" = lenet ] || n=$ALEX_N
    for layout in $LAYOUTS; do
        np=${layout%x*} threads=${layout#*x}
        for order in $ORDERS; do
            flag="" overlap=1
            case $order in
            canonical) ;;
            fast-overlap) flag=--fast-reduce ;;
            fast-no-overlap) flag=--fast-reduce overlap=0 ;;
            *) echo "unknown order $order" >&2; exit 2 ;;
            esac
            : >"$OUT/$model-$np-$order.txt"
            for _ in $(seq "$REPEAT"); do
                DLRT_MPI_OVERLAP=$overlap mpirun -x DLRT_MPI_OVERLAP -np "$np" "$exe" --data "$DATA" --epochs 1 \
                    --limit "$n" --threads "$threads" $flag | grep 'ms per step' >>"$OUT/$model-$np-$order.txt"
            done
            # "<N> ranks, <order>: <r> ms per step summing gradients across ranks, of <s> ms"
            red=$(awk '{for (i = 1; i <= NF; i++) if ($i == "ms" && $(i + 2) == "step") print $(i - 1)}' \
                "$OUT/$model-$np-$order.txt" | median)
            step=$(awk '{print $(NF - 1)}' "$OUT/$model-$np-$order.txt" | median)
            printf '%-8s %-18s %-16s %12.1f %14.1f %7.0f%%\n' "$model" "$np rank x $threads thr" "$order" "$step" \
                "$red" "$(echo "100 * $red / $step" | bc -l)" | tee -a "$OUT/table.txt"
        done
    done
done
echo "results in $OUT" >&2
