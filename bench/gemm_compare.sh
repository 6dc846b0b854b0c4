#!/bin/bash
# bench/gemm_compare.sh — dlc's own matrix product (runtime/gemm.c) against OpenBLAS, on one thread, in one run:
#   1. AlexNet's products (recorded by bench/gemm_shapes.c from `alexnet-train`) timed by `gemm_replay compare`
#      with OpenBLAS's default core and with OPENBLAS_CORETYPE=Haswell, alternating, REPEAT times each: OpenBLAS's
#      GFLOP/s, dlc's and the trainers' rule's at the shape mix, and per shape.
#   2. `alexnet-train --epochs 1 --limit 256 --threads 1` (256 examples trained, 256 evaluated), alternating
#      REPEAT times over: OpenBLAS default core, OpenBLAS Haswell (both DLRT_GEMM=blas), dlc's kernel on the
#      default core (DLRT_GEMM=dlc), and Haswell with the rule (DLRT_GEMM unset). User CPU seconds, median.
# Results in OUT (default bench/out/gemm-<timestamp>): summary.txt, the shapes and every run's JSON.
#
# Knobs: BUILD [ROOT/build], REPEAT [3], BUDGET seconds per shape and kernel [0.3], DATA (passed as --data if set).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
REPEAT=${REPEAT:-3}
BUDGET=${BUDGET:-0.3}
OUT=${OUT:-$ROOT/bench/out/gemm-$(date -u +%Y%m%dT%H%M%SZ)}
PY=${PY:-/usr/bin/python3}
TRAINER=$BUILD/models/alexnet-train
DATA_ARGS=()
[[ -n ${DATA:-} ]] && DATA_ARGS=(--data "$DATA")
mkdir -p "$OUT"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

cc -std=c11 -O2 -Wall -Wextra -shared -fPIC "$ROOT/bench/gemm_shapes.c" -o "$OUT/gemm_shapes.so" -ldl
cc -std=c11 -O2 -Wall -Wextra -fopenmp -I"$ROOT/runtime" "$ROOT/bench/gemm_replay.c" "$ROOT/runtime/gemm.c" \
    -o "$OUT/gemm_replay" -lopenblas
DLRT_GEMM=blas GEMM_SHAPES_OUT=$OUT/alexnet.shapes LD_PRELOAD="$OUT/gemm_shapes.so" \
    "$TRAINER" --epochs 1 --limit 256 --threads 1 --quiet "${DATA_ARGS[@]}"

{
    echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-) load: $(cut -d' ' -f1-3 /proc/loadavg)"
    for r in $(seq "$REPEAT"); do
        env -u OPENBLAS_CORETYPE "$OUT/gemm_replay" compare "$OUT/alexnet.shapes" "$BUDGET" > "$OUT/compare-default-$r.json"
        OPENBLAS_CORETYPE=Haswell "$OUT/gemm_replay" compare "$OUT/alexnet.shapes" "$BUDGET" > "$OUT/compare-haswell-$r.json"
    done
    configs=(default-blas haswell-blas default-dlc haswell-rule)
    for r in $(seq "$REPEAT"); do
        for c in "${configs[@]}"; do
            core=${c%%-*} route=${c#*-}
            envs=(env -u OPENBLAS_CORETYPE -u DLRT_GEMM)
            [[ $core == haswell ]] && envs+=(OPENBLAS_CORETYPE=Haswell)
            [[ $route != rule ]] && envs+=(DLRT_GEMM="$route")
            /usr/bin/time -f "%U" -o "$OUT/train-$c-$r.user" "${envs[@]}" "$TRAINER" --epochs 1 --limit 256 \
                --threads 1 --quiet --report "$OUT/train-$c-$r.json" "${DATA_ARGS[@]}"
        done
    done
    echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/log.txt" 2>&1

"$PY" - "$OUT" "$REPEAT" <<'PYEOF' | tee "$OUT/summary.txt"
import json, statistics, sys
out, rep = sys.argv[1], int(sys.argv[2])
med = statistics.median
print(open(f"{out}/log.txt").readline().strip())
for core in ("default", "haswell"):
    runs = [json.load(open(f"{out}/compare-{core}-{r}.json")) for r in range(1, rep + 1)]
    f = lambda key: med(x[key] for x in runs)
    print(f"products, OpenBLAS core {runs[0]['openblas_core']}, dlc kernel {runs[0]['dlc_isa']}: GFLOP/s at AlexNet's "
          f"shape mix, median of {rep}: OpenBLAS {f('blas_gflops_at_shapes'):.1f}, dlc {f('dlc_gflops_at_shapes'):.1f}, "
          f"the rule {f('rule_gflops_at_shapes'):.1f}")
    for i, s in enumerate(runs[0]["per_shape"]):
        b = med(x["per_shape"][i]["blas_gflops"] for x in runs)
        d = med(x["per_shape"][i]["dlc_gflops"] for x in runs)
        print(f"  {s['ta']}{s['tb']} m {s['m']:5d} n {s['n']:5d} k {s['k']:5d} beta {s['beta']:g} x{s['count']:4d}: "
              f"OpenBLAS {b:6.1f}  dlc {d:6.1f}  rule: {s['rule']}")
for c in ("default-blas", "haswell-blas", "default-dlc", "haswell-rule"):
    user = [float(open(f"{out}/train-{c}-{r}.user").read().split()[-1]) for r in range(1, rep + 1)]
    eps = [json.load(open(f"{out}/train-{c}-{r}.json"))["examples_per_second"] for r in range(1, rep + 1)]
    print(f"alexnet-train --epochs 1 --limit 256 --threads 1, {c}: user s median {med(user):.2f} "
          f"(runs {' '.join(f'{u:.2f}' for u in user)}), trainer's examples/s (wall) median {med(eps):.1f}")
print(open(f"{out}/log.txt").read().strip().splitlines()[-1])
PYEOF
