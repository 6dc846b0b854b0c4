#!/bin/bash
# bench/threads.sh — how much a second thread speeds up each trainer (issue 18's goal: >= 1.8x), in one run:
# every model trains on 1 and on 2 threads, alternating, REPEAT times; the median of the report's
# examples_per_second (training steps only) per thread count, their ratio, and the user+sys CPU seconds of the
# 1-thread runs. Meaningful only on an otherwise idle machine (two-thread wall-clock times are not, while other
# jobs run): the load before and after is printed.
#
# Knobs (defaults in brackets): MODELS [mlp lenet batchnorm alexnet vgg11 resnet18], REPEAT [3], BUILD
# [ROOT/build], OUT [ROOT/bench/out/threads-<timestamp>], DATA (passed as --data if set), and any environment the
# trainers read (e.g. DLRT_GEMM=blas OMP_WAIT_POLICY=passive: the trainers as they were before one thread pool).
# Examples per run: a full epoch for the 28x28 models, 4 batches of 128 for AlexNet, VGG-11 and ResNet-18 (as
# bench/run.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MODELS=${MODELS:-"mlp lenet batchnorm alexnet vgg11 resnet18"}
REPEAT=${REPEAT:-3}
OUT=${OUT:-$ROOT/bench/out/threads-$(date -u +%Y%m%dT%H%M%SZ)}
DATA_ARGS=()
[[ -n ${DATA:-} ]] && DATA_ARGS=(--data "$DATA")
mkdir -p "$OUT"

examples() {
    case $1 in
        alexnet | vgg11 | resnet18) echo 512 ;;
        *) echo 60000 ;;
    esac
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/summary.txt"
for model in $MODELS; do
    for r in $(seq "$REPEAT"); do
        for t in 1 2; do
            /usr/bin/time -f "%U %S" -o "$OUT/$model-t$t-r$r.cpu" "$BUILD/models/$model-train" --epochs 1 \
                --limit "$(examples "$model")" --threads "$t" --quiet --report "$OUT/$model-t$t-r$r.json" \
                "${DATA_ARGS[@]}" > /dev/null
        done
    done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/summary.txt"

/usr/bin/python3 - "$OUT" "$REPEAT" "$MODELS" <<'PYEOF' | tee -a "$OUT/summary.txt"
import json, statistics, sys
out, rep, models = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
med = statistics.median
print(f"{'model':<10} {'1 thread ex/s':>14} {'2 threads ex/s':>15} {'2/1':>6} {'1-thread user+sys s':>20}")
for m in models:
    eps = {t: med(json.load(open(f"{out}/{m}-t{t}-r{r}.json"))["examples_per_second"] for r in range(1, rep + 1))
           for t in (1, 2)}
    cpu = med(sum(map(float, open(f"{out}/{m}-t1-r{r}.cpu").read().split())) for r in range(1, rep + 1))
    print(f"{m:<10} {eps[1]:>14,.1f} {eps[2]:>15,.1f} {eps[2] / eps[1]:>5.2f}x {cpu:>20.2f}")
PYEOF
