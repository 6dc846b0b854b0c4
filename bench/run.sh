#!/bin/bash
# bench/run.sh — dlc's generated trainers vs the PyTorch peer, same machine,
# one run.  Prints a table (also saved as RESULTS_DIR/table.txt).
#
# Environment knobs (defaults in brackets):
#   MODELS       models to run    [softmax mlp lenet alexnet vgg11 batchnorm_concise resnet18]
#   THREADS      thread counts                  [1 2]
#   REPEAT       repeats per measurement, median reported          [3]
#   BIG_BATCHES  timed training batches for alexnet/vgg11/resnet18  [4]
#   BUILD        meson build directory                         [ROOT/build]
#   PY           python with torch (Debian's, not the one on PATH) [/usr/bin/python3]
#   OUT          results directory              [ROOT/bench/out/<timestamp>]
#   SKIP_TORCH=1 / SKIP_DLC=1  skip one side
#   SKIP_GEMM=1  skip the BLAS-at-the-network's-shapes step (below)
#   SKIP_PEAK=1  skip measuring the FP32 FMA peak (bench/fma_peak.c)
#   PEAK_SECONDS seconds of FMA loops per thread count                  [1]
#   SKIP_BW=1    skip measuring the memory bandwidth (bench/mem_bw.c)
#   BW_SECONDS   seconds per working-set size and thread count           [0.5]
#   GEMM_BUDGET  seconds of timed calls per recorded shape              [0.2]
#   GEMM_PEAK    side of the square sgemm shown for context            [2048]
#   DATA         Fashion-MNIST folder               [$FASHION_MNIST or /usr/share/datasets/fashion-mnist]
#
# The BLAS step, per model and thread count: the trainer runs once more (the same examples) with
# bench/gemm_shapes.c preloaded, which records every cblas_sgemm/sgemv call's shape, count and time; its test set
# is a single image, so the BLAS time is the training steps'. bench/gemm_replay.c then times each shape alone.
# The table shows OpenBLAS's rate at the network's own shapes, dlc's GFLOP/s as a fraction of it, and the share
# of the step spent in BLAS calls (README.md).
#
# OPENBLAS_CORETYPE is passed through unchanged to both sides; it matters
# (see README.md).  Compare e.g.
#   OPENBLAS_CORETYPE=Haswell bench/run.sh
#   env -u OPENBLAS_CORETYPE bench/run.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-/usr/bin/python3}
BUILD=${BUILD:-$ROOT/build}
MODELS=${MODELS:-"softmax mlp lenet alexnet vgg11 batchnorm_concise resnet18"}
THREADS=${THREADS:-"1 2"}
REPEAT=${REPEAT:-3}
BIG_BATCHES=${BIG_BATCHES:-4}
GEMM_BUDGET=${GEMM_BUDGET:-0.2}
GEMM_PEAK=${GEMM_PEAK:-2048}
DATA=${DATA:-${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}}
OUT=${OUT:-$ROOT/bench/out/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

# D2L training batch size per model (must match torch_peer.py and dlc).
batch_size() {
    case $1 in
        alexnet|vgg11|batchnorm_concise|resnet18) echo 128 ;;
        *) echo 256 ;;
    esac
}

# Timed training examples per run: a full epoch for the 28x28 models,
# BIG_BATCHES batches for the 224x224 ones and ResNet-18 (96x96).
train_examples() {
    case $1 in
        alexnet|vgg11|resnet18) echo $((BIG_BATCHES * $(batch_size "$1"))) ;;
        *) echo 60000 ;;
    esac
}

echo "# dlc bench  $(date -Is)  host=$(hostname)  cpus=$(nproc)" | tee "$OUT/env.txt"
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset>}  results in $OUT" | tee -a "$OUT/env.txt"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/env.txt"
# the CPU, named in the table (table.py reads this line)
echo "# cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores," \
    "$(grep -o -w -E 'avx512f|avx2|fma|avx512_bf16|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')" | tee -a "$OUT/env.txt"

# ----------------------------------------------------------------------------
# The machine's FP32 FMA peak per thread count (bench/fma_peak.c: independent FMAs on every unit, AVX-512 or AVX2
# chosen at run time, checked against cores x measured clock x FLOP per cycle): the table's "of peak" column.
# ----------------------------------------------------------------------------
if [[ ${SKIP_PEAK:-0} != 1 ]]; then
    cc -std=gnu11 -O2 -fopenmp "$ROOT/bench/fma_peak.c" -o "$OUT/fma_peak"
    for threads in $THREADS; do
        "$OUT/fma_peak" "$threads" "${PEAK_SECONDS:-1}" > "$OUT/fma-peak-t$threads.json"
    done
fi

# The memory bandwidth an elementwise kernel draws per thread count, from L2-sized working sets to DRAM
# (bench/mem_bw.c): what limits the networks whose steps move more bytes than they compute (SKIP_BW=1 skips it).
if [[ ${SKIP_BW:-0} != 1 ]]; then
    cc -std=gnu11 -O3 -march=native -fopenmp "$ROOT/bench/mem_bw.c" -o "$OUT/mem_bw"
    for threads in $THREADS; do
        "$OUT/mem_bw" "$threads" "${BW_SECONDS:-0.5}" > "$OUT/mem-bw-t$threads.json"
    done
fi

# ----------------------------------------------------------------------------
# PyTorch peer: one JSON line per (model, threads) into torch.jsonl.
# ----------------------------------------------------------------------------
run_torch() { # model threads
    local model=$1 threads=$2 extra=()
    case $model in
        alexnet|vgg11|resnet18) extra=(--batches "$BIG_BATCHES") ;;
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

# ----------------------------------------------------------------------------
# BLAS at the network's own shapes (SKIP_GEMM=1 skips it).
# ----------------------------------------------------------------------------
GEMM=$OUT/gemm
setup_gemm() {
    mkdir -p "$GEMM/data"
    cc -std=c11 -O2 -Wall -Wextra -shared -fPIC "$ROOT/bench/gemm_shapes.c" -o "$GEMM/gemm_shapes.so" -ldl
    cc -std=c11 -O2 -Wall -Wextra -fopenmp -I"$ROOT/runtime" "$ROOT/bench/gemm_replay.c" "$ROOT/runtime/gemm.c" \
        -o "$GEMM/gemm_replay" -lopenblas
    # The training set as it is, and a test set of one blank image, so that the trainer's evaluation adds
    # almost nothing to the BLAS calls recorded (an IDX file cannot hold zero images).
    local name
    for name in train-images-idx3-ubyte train-labels-idx1-ubyte; do
        if [[ -e $DATA/$name ]]; then ln -sf "$DATA/$name" "$GEMM/data/"; else ln -sf "$DATA/$name.gz" "$GEMM/data/"; fi
    done
    { printf '\x00\x00\x08\x03\x00\x00\x00\x01\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c 784 /dev/zero; } \
        > "$GEMM/data/t10k-images-idx3-ubyte"
    printf '\x00\x00\x08\x01\x00\x00\x00\x01\x00' > "$GEMM/data/t10k-labels-idx1-ubyte"
}

run_gemm() { # model threads
    local model=$1 threads=$2
    local bin="$BUILD/models/$model-train" base="$OUT/gemm-$model-t$threads"
    [[ -x $bin ]] || return 0
    local examples
    examples=$(train_examples "$model")
    ((examples <= 60000)) || examples=60000
    # DLRT_GEMM=blas: every product through OpenBLAS, where the shim sees it (dlc's own kernel is no BLAS call)
    DLRT_GEMM=blas GEMM_SHAPES_OUT=$base.shapes LD_PRELOAD="$GEMM/gemm_shapes.so${LD_PRELOAD:+ $LD_PRELOAD}" \
        OPENBLAS_NUM_THREADS=$threads "$bin" --epochs 1 --limit "$examples" --threads "$threads" \
        --data "$GEMM/data" --report "$base.report.json" --quiet
    if ! grep -q '^sg' "$base.shapes" 2>/dev/null; then
        echo "  gemm: the shim saw no BLAS calls from $bin (OpenBLAS linked statically?); skipping" >&2
        return 0
    fi
    if ! OPENBLAS_NUM_THREADS=$threads "$GEMM/gemm_replay" shapes "$base.shapes" "$threads" "$GEMM_BUDGET" \
        "$examples" > "$base.json"; then
        echo "  gemm: replaying $base.shapes failed" >&2
        rm -f "$base.json"
    fi
}

if [[ ${SKIP_DLC:-0} != 1 && ${SKIP_GEMM:-0} != 1 ]]; then
    setup_gemm
    for threads in $THREADS; do
        OPENBLAS_NUM_THREADS=$threads "$GEMM/gemm_replay" peak "$GEMM_PEAK" "$threads" 1 > "$OUT/gemm-peak-t$threads.json"
    done
fi
# ============================================================================

for model in $MODELS; do
    for threads in $THREADS; do
        echo "running $model threads=$threads ..." >&2
        [[ ${SKIP_DLC:-0} == 1 ]] || run_dlc "$model" "$threads"
        [[ ${SKIP_DLC:-0} == 1 || ${SKIP_GEMM:-0} == 1 ]] || run_gemm "$model" "$threads"
        [[ ${SKIP_TORCH:-0} == 1 ]] || run_torch "$model" "$threads"
    done
done

echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/env.txt"

echo
"$PY" "$ROOT/bench/table.py" "$OUT" | tee "$OUT/table.txt"
