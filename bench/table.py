#!/usr/bin/python3
"""Print the dlc-vs-PyTorch table for one bench/run.sh results directory.

Inputs (written by run.sh into RESULTS_DIR):
  torch.jsonl                   one JSON line per (model, threads) from
                                torch_peer.py
  dlc-<model>-t<T>-r<R>.json    dlc trainer reports (key examples_per_second),
                                one per repeat; the median is used

Usage: bench/table.py RESULTS_DIR [--markdown]
"""

import glob
import json
import os
import re
import statistics
import sys


def load_torch(path):
    rows = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    rows[(r["model"], r["threads"])] = r
    return rows


def load_dlc(results_dir):
    """{(model, threads): median examples_per_second over repeats}."""
    runs = {}
    for path in glob.glob(os.path.join(results_dir, "dlc-*.json")):
        m = re.match(r"dlc-(.+)-t(\d+)-r\d+\.json$", os.path.basename(path))
        if not m:
            continue
        try:
            with open(path) as f:
                eps = json.load(f)["examples_per_second"]
        except (OSError, ValueError, KeyError):
            continue
        runs.setdefault((m.group(1), int(m.group(2))), []).append(eps)
    return {k: statistics.median(v) for k, v in runs.items()}


def load_dlc_flops(results_dir):
    """{model: FLOPs per training example} from `dlc check` (run.sh writes dlc-flops-<model>.txt)."""
    scale = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}
    flops = {}
    for path in glob.glob(os.path.join(results_dir, "dlc-flops-*.txt")):
        model = os.path.basename(path)[len("dlc-flops-"):-len(".txt")]
        with open(path) as f:
            parts = f.read().split()
        if len(parts) >= 1:
            flops[model] = float(parts[0]) * scale.get(parts[1] if len(parts) > 1 else "", 1)
    return flops


def fmt(x, digits=0):
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    results_dir = sys.argv[1]
    markdown = "--markdown" in sys.argv[2:]
    torch_rows = load_torch(os.path.join(results_dir, "torch.jsonl"))
    dlc_rows = load_dlc(results_dir)
    dlc_flops = load_dlc_flops(results_dir)
    order = ["softmax", "mlp", "lenet", "alexnet", "vgg11"]
    keys = sorted(set(torch_rows) | set(dlc_rows),
                  key=lambda k: (order.index(k[0]) if k[0] in order else 99,
                                 k[0], k[1]))

    header = ["model", "thr", "torch train ex/s", "dlc train ex/s",
              "dlc/torch", "dlc GFLOP/s", "torch GFLOP/s", "torch b1 lat us",
              "torch b256 ex/s"]
    table = []
    for k in keys:
        t = torch_rows.get(k, {})
        d = dlc_rows.get(k)
        tt = t.get("train_examples_per_second")
        small = tt is not None and tt < 1000
        table.append([
            k[0], str(k[1]),
            fmt(tt, 1 if small else 0),
            fmt(d, 1 if small else 0),
            f"{d / tt:.2f}x" if d and tt else "-",
            fmt(d * dlc_flops[k[0]] / 1e9 if d and k[0] in dlc_flops else None, 1),
            fmt(t.get("train_gflops_per_second"), 1),
            fmt(t.get("infer_latency_us"), 1),
            fmt(t.get("infer_examples_per_second"),
                1 if small else 0),
        ])

    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for row in table:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(r[i]) for r in table + [header])
              for i in range(len(header))]
    line = "  ".join(h.ljust(w) if i < 2 else h.rjust(w)
                     for i, (h, w) in enumerate(zip(header, widths)))
    print(line)
    print("-" * len(line))
    for row in table:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))))


if __name__ == "__main__":
    main()
