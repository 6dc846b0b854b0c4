#!/bin/bash
# bench/latency.sh: batch-1 LeNet inference, this dlc's `--infer` code against aedff97's (bench/baseline/) and
# PyTorch, one run (issue 18's latency goal: at most 0.55x aedff97's time, and faster than PyTorch).
#
# Both dlc builds are timed by one program, bench/latency_b1.c, interleaved (the machine is shared: a slow
# stretch hits both), from one checkpoint loaded with their _load; then bench/torch_peer.py times net(x1) on the
# same image. Prints a table (also RESULTS_DIR/latency_table.txt).
#
# Environment knobs (defaults in brackets):
#   BUDGET       seconds of interleaved rounds                   [10]
#   CALLS        calls per side per round                        [25]
#   REPEAT       torch_peer's repeats (median reported)          [5]
#   BUILD        meson build directory (dlc and lenet-train)     [ROOT/build]
#   SKIP_BUILD=1 use BUILD as it is (no ninja)
#   CFLAGS       how both generated files are compiled           [-O3 -march=native]
#   PY           python with torch (Debian's)                    [/usr/bin/python3]
#   OUT          results directory                               [ROOT/bench/out/latency-<timestamp>]
#   SKIP_TORCH=1 only the dlc side
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-/usr/bin/python3}
BUILD=${BUILD:-$ROOT/build}
BUDGET=${BUDGET:-10}
CALLS=${CALLS:-25}
REPEAT=${REPEAT:-5}
CFLAGS=${CFLAGS:-"-O3 -march=native"}
OUT=${OUT:-$ROOT/bench/out/latency-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

{
    echo "# dlc latency bench  $(date -Is)  host=$(hostname)  cpus=$(getconf _NPROCESSORS_ONLN)  load=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')  CFLAGS=$CFLAGS  cc=$(cc --version | head -1)"
    echo "# commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')  results in $OUT"
} | tee "$OUT/env.txt"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    ninja -C "$BUILD" compiler/dlc models/lenet-train >/dev/null
fi
# the trainer's starting point: speed does not depend on the weights
"$BUILD/models/lenet-train" --epochs 0 --limit 1 --threads 1 --save "$OUT/lenet.ckpt" --quiet
"$BUILD/compiler/dlc" compile "$ROOT/models/lenet.dlm" --infer --batch 1 -o "$OUT/gen"
# shellcheck disable=SC2086
cc -std=c11 $CFLAGS -I"$OUT/gen" -I"$ROOT/bench/baseline" "$ROOT/bench/latency_b1.c" "$OUT/gen/lenet.c" \
    "$ROOT/bench/baseline/lenet_aedff97.c" -o "$OUT/latency_b1" -lopenblas -lz -lm
echo "dlc: this build and aedff97's, interleaved for ${BUDGET}s ..." >&2
"$OUT/latency_b1" "$OUT/lenet.ckpt" "$BUDGET" "$CALLS" > "$OUT/dlc.json"
if [[ ${SKIP_TORCH:-0} != 1 ]]; then
    echo "torch: lenet, --no-train, threads 1 ..." >&2
    "$PY" "$ROOT/bench/torch_peer.py" --model lenet --threads 1 --no-train --repeat "$REPEAT" --quiet > "$OUT/torch.jsonl"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/env.txt"

"$PY" - "$OUT" <<'PYEOF' | tee "$OUT/latency_table.txt"
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
d = json.loads((out / "dlc.json").read_text())
torch = None
if (out / "torch.jsonl").exists():
    rows = [json.loads(l) for l in (out / "torch.jsonl").read_text().splitlines() if l.strip()]
    torch = next((r for r in rows if r.get("model") == "lenet" and r.get("threads") == 1), None)
print("| lenet, batch 1 | CPU µs median | p10-p90 | wall µs median | vs aedff97 (CPU, paired) | vs torch (wall) |")
print("|---|---:|---:|---:|---:|---:|")
for side, name in (("aedff97", "dlc aedff97 (baseline)"), ("now", "dlc this build")):
    s = d[side]
    ratio = "1" if side == "aedff97" else f"{d['ratio_cpu_median']:.2f}x ({d['ratio_cpu_p10']:.2f}-{d['ratio_cpu_p90']:.2f})"
    vs = f"{s['wall_us'] / torch['infer_latency_us']:.2f}x" if torch else ""
    print(f"| {name} | {s['cpu_us']:.2f} | {s['cpu_p10_us']:.2f}-{s['cpu_p90_us']:.2f} | {s['wall_us']:.2f} | {ratio} | {vs} |")
if torch:
    print(f"| torch | | | {torch['infer_latency_us']:.2f} | | 1 |")
print()
print(f"{d['rounds']} rounds of {d['calls_per_round']} calls per side; ratios are time over the other's time "
      f"(below 1: faster); logits differ by at most {d['max_abs_diff']:.2g}")
print((out / "env.txt").read_text().strip())
PYEOF
