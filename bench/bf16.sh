#!/bin/bash
# bench/bf16.sh — the trainers' --precision bf16 against f32: user-CPU seconds of the same training run in each
# precision (medians of REPEAT runs), the speed-up, and the test accuracy each reached. User-CPU time, not wall
# time: on a shared machine it is what the run itself spent (docs/trainer.md, "Precision").
#
# Environment knobs (defaults in brackets):
#   MODELS   models to run                         [mlp lenet alexnet]
#   THREADS  --threads                                                 [1]
#   REPEAT   runs per precision, median reported                       [3]
#   EXAMPLES training examples per run (--limit)   [60000; alexnet 256]
#   EPOCHS   epochs per run                                            [1]
#   BUILD    meson build directory                 [ROOT/build]
#   DATA     Fashion-MNIST folder                  [/usr/share/datasets/fashion-mnist]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MODELS=${MODELS:-"mlp lenet alexnet"}
THREADS=${THREADS:-1}
REPEAT=${REPEAT:-3}
EPOCHS=${EPOCHS:-1}
DATA=${DATA:-${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

examples() {
    if [ -n "${EXAMPLES:-}" ]; then echo "$EXAMPLES"; return; fi
    case $1 in alexnet|vgg11|resnet18) echo 256 ;; *) echo 60000 ;; esac
}

# user-CPU seconds of one run, and its report's test accuracy
run() {
    local model=$1 precision=$2
    local exe=$BUILD/models/$model-train
    /usr/bin/time -f %U -o "$TMP/time" "$exe" --data "$DATA" --epochs "$EPOCHS" --limit "$(examples "$model")" \
        --threads "$THREADS" --precision "$precision" --quiet --report "$TMP/report.json" >/dev/null
    local acc
    acc=$(sed -n 's/.*"test_acc": *\([0-9.eE+-]*\).*/\1/p' "$TMP/report.json")
    echo "$(cat "$TMP/time") ${acc:-nan}"
}

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); --threads $THREADS; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %12s %12s %9s %10s %10s\n' model f32_user_s bf16_user_s speed-up f32_acc bf16_acc
for m in $MODELS; do
    : >"$TMP/f32" && : >"$TMP/bf16"
    for _ in $(seq "$REPEAT"); do
        run "$m" f32 >>"$TMP/f32"
        run "$m" bf16 >>"$TMP/bf16"
    done
    f=$(cut -d' ' -f1 "$TMP/f32" | median)
    b=$(cut -d' ' -f1 "$TMP/bf16" | median)
    fa=$(tail -1 "$TMP/f32" | cut -d' ' -f2)
    ba=$(tail -1 "$TMP/bf16" | cut -d' ' -f2)
    printf '%-10s %12s %12s %9s %10s %10s\n' "$m" "$f" "$b" "$(awk -v f="$f" -v b="$b" 'BEGIN {printf "%.2fx", f / b}')" \
        "$fa" "$ba"
done
