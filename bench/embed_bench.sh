#!/bin/bash
# bench/embed_bench.sh: embedded inference (`dlc compile --infer`) against PyTorch, same machine, one run.
# Batch-1 latency and batch-256 throughput of LeNet and the MLP, one thread, then bench/torch_peer.py with
# --no-train on the same models; prints a table with ratios (also RESULTS_DIR/embed_table.txt).
#
# Environment knobs (defaults in brackets):
#   MODELS     models                                            [lenet mlp]
#   REPEAT     repeats per measurement, the median reported      [5]
#   BUDGET     seconds per batch-1 latency repeat (dlc side)     [1]
#   BUILD      meson build directory (dlc and the trainers)      [ROOT/build]
#   CFLAGS     how the generated C is compiled                   [-O3 -march=native]
#   PY         python with torch (Debian's)                      [/usr/bin/python3]
#   OUT        results directory                                 [ROOT/bench/out/embed-<timestamp>]
#   SKIP_TORCH=1  only the dlc side
#
# The weights: a checkpoint from each zoo trainer (one epoch on 10,000 examples), compiled in with --weights;
# speed does not depend on how well they are trained. Two dlc builds per model: BLAS-backed (OpenBLAS, one
# thread) and --portable (no BLAS). OPENBLAS_CORETYPE passes through to both sides (see README.md).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-/usr/bin/python3}
BUILD=${BUILD:-$ROOT/build}
MODELS=${MODELS:-"lenet mlp"}
REPEAT=${REPEAT:-5}
BUDGET=${BUDGET:-1}
CFLAGS=${CFLAGS:-"-O3 -march=native"}
OUT=${OUT:-$ROOT/bench/out/embed-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

{
    echo "# dlc embed bench  $(date -Is)  host=$(hostname)  cpus=$(getconf _NPROCESSORS_ONLN)  load=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset>}  CFLAGS=$CFLAGS  cc=$(cc --version | head -1)"
    echo "# results in $OUT"
} | tee "$OUT/env.txt"

ninja -C "$BUILD" compiler/dlc $(for m in $MODELS; do echo "models/$m-train"; done) >/dev/null
DLC=$BUILD/compiler/dlc

: > "$OUT/dlc.jsonl"
for m in $MODELS; do
    ckpt=$OUT/$m.ckpt
    echo "dlc $m: training a checkpoint ..." >&2
    "$BUILD/models/$m-train" --epochs 1 --limit 10000 --threads 1 --save "$ckpt" --quiet
    uc=$(echo "$m" | tr a-z A-Z)
    for variant in blas portable; do
        flags=() libs=(-lz -lm)
        if [[ $variant == portable ]]; then flags=(--portable); else libs+=(-lopenblas); fi
        for batch in 1 256; do
            gen=$OUT/gen-$m-$variant-b$batch
            "$DLC" compile "$ROOT/models/$m.dlm" --infer "${flags[@]}" --batch "$batch" --weights "$ckpt" -o "$gen"
            # shellcheck disable=SC2086
            cc -std=c11 $CFLAGS -I"$gen" -DMODEL="$m" -DMODEL_UC="$uc" -DMODEL_H="\"$m.h\"" \
                -DVARIANT="\"$variant\"" "$ROOT/bench/embed_bench.c" "$gen/$m.c" -o "$gen/bench" "${libs[@]}"
        done
        echo "dlc $m $variant: batch-1 latency, batch-256 throughput ..." >&2
        "$OUT/gen-$m-$variant-b1/bench" latency "$REPEAT" "$BUDGET" >> "$OUT/dlc.jsonl"
        "$OUT/gen-$m-$variant-b256/bench" throughput "$REPEAT" >> "$OUT/dlc.jsonl"
    done
done

if [[ ${SKIP_TORCH:-0} != 1 ]]; then
    echo "torch: $MODELS, --no-train, threads 1 ..." >&2
    "$PY" "$ROOT/bench/torch_peer.py" --model "$(echo $MODELS | tr ' ' ,)" --threads 1 --no-train \
        --repeat "$REPEAT" --quiet > "$OUT/torch.jsonl"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/env.txt"

echo
"$PY" "$ROOT/bench/embed_bench.py" "$OUT" | tee "$OUT/embed_table.txt"
