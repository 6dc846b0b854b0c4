#!/bin/bash
# bench/run.sh — dlc's generated trainers vs the PyTorch peer, same machine,
# one run.  Prints a table (also saved as RESULTS_DIR/table.txt).
#
# Environment knobs (defaults in brackets):
#   MODELS       models to run                  [softmax mlp lenet alexnet vgg11]
#   THREADS      thread counts                  [1 2]
#   REPEAT       repeats per measurement, median reported          [3]
#   BIG_BATCHES  timed training batches for alexnet/vgg11           [4]
#   BUILD        meson build directory                         [ROOT/build]
#   PY           python with torch (Debian's, not the one on PATH) [/usr/bin/python3]
#   OUT          results directory              [ROOT/bench/out/<timestamp>]
#   SKIP_TORCH=1 / SKIP_DLC=1  skip one side
#
# OPENBLAS_CORETYPE is passed through unchanged to both sides; it matters
# (see README.md).  Compare e.g.
#   OPENBLAS_CORETYPE=Haswell bench/run.sh
#   env -u OPENBLAS_CORETYPE bench/run.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-/usr/bin/python3}
BUILD=${BUILD:-$ROOT/build}
MODELS=${MODELS:-"softmax mlp lenet alexnet vgg11"}
THREADS=${THREADS:-"1 2"}
REPEAT=${REPEAT:-3}
BIG_BATCHES=${BIG_BATCHES:-4}
OUT=${OUT:-$ROOT/bench/out/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

# D2L training batch size per model (must match torch_peer.py and dlc).
batch_size() {
    case $1 in
        alexnet|vgg11) echo 128 ;;
        *) echo 256 ;;
    esac
}

# Timed training examples per run: a full epoch for the 28x28 models,
# BIG_BATCHES batches for the 224x224 ones.
train_examples() {
    case $1 in
        alexnet|vgg11) echo $((BIG_BATCHES * $(batch_size "$1"))) ;;
        *) echo 60000 ;;
    esac
}

echo "# dlc bench  $(date -Is)  host=$(hostname)  cpus=$(nproc)" | tee "$OUT/env.txt"
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset>}  results in $OUT" | tee -a "$OUT/env.txt"

# ----------------------------------------------------------------------------
# PyTorch peer: one JSON line per (model, threads) into torch.jsonl.
# ----------------------------------------------------------------------------
run_torch() { # model threads
    local model=$1 threads=$2 extra=()
    case $model in
        alexnet|vgg11) extra=(--batches "$BIG_BATCHES") ;;
    esac
    "$PY" "$ROOT/bench/torch_peer.py" --model "$model" --threads "$threads" \
        --repeat "$REPEAT" "${extra[@]}" --quiet >> "$OUT/torch.jsonl"
}

# ============================================================================
# ===== dlc side ===============================================================
# The zoo's trainers: --limit counts training examples; the report's examples_per_second counts the training
# steps only (data loading and evaluation excluded, the per-batch resize for alexnet/vgg11 included, as on the
# torch side). No warm-up is excluded: the first batch's cost is part of the epoch.
# ============================================================================
# FLOPs per training example, counted by dlc from the real backward graph, for dlc's GFLOP/s column
for model in $MODELS; do
    if [[ -x $BUILD/compiler/dlc ]]; then
        "$BUILD/compiler/dlc" check "$ROOT/models/$model.dlm" |
            sed -n 's/.*training step: *\([0-9.]*\) \([kMG]*\)FLOP.*/\1 \2/p' > "$OUT/dlc-flops-$model.txt"
    fi
done

run_dlc() { # model threads
    local model=$1 threads=$2
    local bin="$BUILD/models/$model-train"
    if [[ ! -x $bin ]]; then
        echo "  (no $bin; skipping dlc $model)" >&2
        return 0
    fi
    local r
    for ((r = 0; r < REPEAT; r++)); do
        "$bin" --epochs 1 --limit "$(train_examples "$model")" \
            --threads "$threads" \
            --report "$OUT/dlc-$model-t$threads-r$r.json" --quiet
    done
}
# ============================================================================

for model in $MODELS; do
    for threads in $THREADS; do
        echo "running $model threads=$threads ..." >&2
        [[ ${SKIP_DLC:-0} == 1 ]] || run_dlc "$model" "$threads"
        [[ ${SKIP_TORCH:-0} == 1 ]] || run_torch "$model" "$threads"
    done
done

echo
"$PY" "$ROOT/bench/table.py" "$OUT" | tee "$OUT/table.txt"
