#!/usr/bin/env bash
# demo.sh: the main job. Compiles a model of the zoo with dlc, builds its trainer, trains it on Fashion-MNIST
# and prints its accuracy. Extra arguments go to the trainer (--epochs 2, --threads 1, ...).
#   scripts/demo.sh [trainer flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${DLC_DEMO_MODEL:-lenet}
scripts/setup.sh build
mkdir -p out
echo "== dlc check models/$model.dlm"
build/compiler/dlc check "models/$model.dlm" | sed -n '/^parameters/,/^total/p;/^FLOPs/,/^$/p'
echo "== dlc build models/$model.dlm"
build/compiler/dlc build "models/$model.dlm" --native -o "out/$model-train"
pictures=() # image classifiers also draw the data and their predictions (docs/trainer.md)
if grep -q 'fashion_mnist(' "models/$model.dlm"; then
    pictures=(--show-samples "out/$model-samples.png" --show-predictions "out/$model-predictions.png")
fi
echo "== out/$model-train $*"
"out/$model-train" --report "out/$model-report.json" --metrics "out/$model-metrics.csv" \
    --plot "out/$model-curves.svg" ${pictures[@]+"${pictures[@]}"} "$@"
acc=$(sed -n 's/.*"test_acc": *\([0-9.]*\).*/\1/p' "out/$model-report.json")
echo "== $model: test accuracy $acc (report out/$model-report.json, curves out/$model-curves.svg)"
if [ ${#pictures[@]} -gt 0 ]; then
    echo "== pictures: out/$model-samples.png (training images), out/$model-predictions.png (test predictions)"
fi
