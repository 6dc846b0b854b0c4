#!/bin/bash
# bench/embed_bench.sh: embedded inference (`dlc compile --infer`) against PyTorch, same machine, one run.
# Batch-1 latency and batch-256 throughput of LeNet and the MLP, batch-1 latency and batch-BIG_BATCH throughput
# of AlexNet and VGG-11, one thread, then bench/torch_peer.py with --no-train on the same models; prints a table
# with ratios (also RESULTS_DIR/embed_table.txt).
#
# Environment knobs (defaults in brackets):
#   MODELS       models: lenet mlp, and the 224x224 alexnet vgg11   [lenet mlp alexnet vgg11]
#   REPEAT       repeats per measurement, the median reported       [5]
#   BUDGET       seconds per batch-1 latency repeat (dlc side)      [1]
#   BIG_BATCH    throughput batch size for alexnet/vgg11            [8]
#   BIG_BATCHES  timed batches of BIG_BATCH for alexnet/vgg11       [4]
#   BUILD        meson build directory (dlc and the trainers)       [ROOT/build]
#   SKIP_BUILD=1 use BUILD as it is (no ninja)
#   CFLAGS       how the generated C is compiled                    [-O3 -march=native]
#   PY           python with torch (Debian's)                       [/usr/bin/python3]
#   OUT          results directory                                  [ROOT/bench/out/embed-<timestamp>]
#   SKIP_TORCH=1 only the dlc side
#
# The weights: speed does not depend on them. LeNet and the MLP: a checkpoint from the zoo trainer (one epoch on
# 10,000 examples), compiled in with --weights; two dlc builds, BLAS-backed (OpenBLAS, one thread) and --portable
# (no BLAS). AlexNet and VGG-11: their 47M and 43M parameters would be C arrays of 170-190 MB, so the trainer writes
# its starting point (--epochs 0) and the benchmark loads it with <name>_load before timing; BLAS build only (the
# portable one takes seconds per image), and batch BIG_BATCH rather than 256 (AlexNet's workspace at 256 is
# 760 MB, VGG's 1.8 GB, and each pass minutes). OPENBLAS_CORETYPE passes through to both sides (see README.md).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-/usr/bin/python3}
BUILD=${BUILD:-$ROOT/build}
MODELS=${MODELS:-"lenet mlp alexnet vgg11"}
REPEAT=${REPEAT:-5}
BUDGET=${BUDGET:-1}
BIG_BATCH=${BIG_BATCH:-8}
BIG_BATCHES=${BIG_BATCHES:-4}
CFLAGS=${CFLAGS:-"-O3 -march=native"}
OUT=${OUT:-$ROOT/bench/out/embed-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

{
    echo "# dlc embed bench  $(date -Is)  host=$(hostname)  cpus=$(getconf _NPROCESSORS_ONLN)  load=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset>}  CFLAGS=$CFLAGS  cc=$(cc --version | head -1)"
    echo "# results in $OUT"
} | tee "$OUT/env.txt"

# The 224x224 models, which load their weights at run time (see above).
is_big() {
    [[ $1 == alexnet || $1 == vgg11 ]]
}

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    targets=(compiler/dlc)
    for m in $MODELS; do targets+=("models/$m-train"); done
    ninja -C "$BUILD" "${targets[@]}" >/dev/null
fi
DLC=$BUILD/compiler/dlc

: > "$OUT/dlc.jsonl"
small=() big=()
for m in $MODELS; do
    ckpt=$OUT/$m.ckpt
    uc=$(echo "$m" | tr '[:lower:]' '[:upper:]')
    if is_big "$m"; then
        big+=("$m")
        echo "dlc $m: the trainer's starting point as a checkpoint ..." >&2
        "$BUILD/models/$m-train" --epochs 0 --limit 1 --threads 1 --save "$ckpt" --quiet
        variants=(blas) tput_batch=$BIG_BATCH tput_batches=$BIG_BATCHES weights=() load=(--load "$ckpt")
        defs=(-DLOAD_WEIGHTS)
    else
        small+=("$m")
        echo "dlc $m: training a checkpoint ..." >&2
        "$BUILD/models/$m-train" --epochs 1 --limit 10000 --threads 1 --save "$ckpt" --quiet
        variants=(blas portable) tput_batch=256 tput_batches="" weights=(--weights "$ckpt") load=() defs=()
    fi
    for variant in "${variants[@]}"; do
        flags=() libs=(-lz -lm)
        if [[ $variant == portable ]]; then flags=(--portable); else libs+=(-lopenblas); fi
        for batch in 1 "$tput_batch"; do
            gen=$OUT/gen-$m-$variant-b$batch
            "$DLC" compile "$ROOT/models/$m.dlm" --infer "${flags[@]}" --batch "$batch" "${weights[@]}" -o "$gen"
            # shellcheck disable=SC2086
            cc -std=c11 $CFLAGS -I"$gen" -DMODEL="$m" -DMODEL_UC="$uc" -DMODEL_H="\"$m.h\"" \
                -DVARIANT="\"$variant\"" "${defs[@]}" "$ROOT/bench/embed_bench.c" "$gen/$m.c" -o "$gen/bench" "${libs[@]}"
        done
        echo "dlc $m $variant: batch-1 latency, batch-$tput_batch throughput ..." >&2
        "$OUT/gen-$m-$variant-b1/bench" "${load[@]}" latency "$REPEAT" "$BUDGET" >> "$OUT/dlc.jsonl"
        # shellcheck disable=SC2086 # tput_batches is empty (all the test set) or one number
        "$OUT/gen-$m-$variant-b$tput_batch/bench" "${load[@]}" throughput "$REPEAT" $tput_batches >> "$OUT/dlc.jsonl"
    done
    if is_big "$m"; then rm -f "$ckpt"; fi # 170-190 MB each, and quick to write again
done

if [[ ${SKIP_TORCH:-0} != 1 ]]; then
    : > "$OUT/torch.jsonl"
    if ((${#small[@]})); then
        echo "torch: ${small[*]}, --no-train, threads 1 ..." >&2
        "$PY" "$ROOT/bench/torch_peer.py" --model "$(IFS=,; echo "${small[*]}")" --threads 1 --no-train \
            --repeat "$REPEAT" --quiet >> "$OUT/torch.jsonl"
    fi
    if ((${#big[@]})); then
        echo "torch: ${big[*]}, --no-train, threads 1, throughput at batch $BIG_BATCH ..." >&2
        "$PY" "$ROOT/bench/torch_peer.py" --model "$(IFS=,; echo "${big[*]}")" --threads 1 --no-train \
            --infer-batch "$BIG_BATCH" --infer-batches "$BIG_BATCHES" --repeat "$REPEAT" --quiet >> "$OUT/torch.jsonl"
    fi
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/env.txt"

echo
"$PY" "$ROOT/bench/embed_bench.py" "$OUT" | tee "$OUT/embed_table.txt"
