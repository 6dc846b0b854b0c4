#!/usr/bin/env python3
"""Prints the embedded-inference table from a bench/embed_bench.sh results directory.

usage: embed_bench.py RESULTS_DIR [--markdown]

Reads dlc.jsonl (bench/embed_bench.c: one latency and one throughput line per model and build) and torch.jsonl
(bench/torch_peer.py --no-train). Ratios are speed-ups over PyTorch: torch latency / dlc latency, and dlc
throughput / torch throughput, so above 1 means dlc is faster; a throughput ratio is shown only when both sides
ran the same batch size (256 for LeNet and the MLP, BIG_BATCH for AlexNet and VGG-11). The spread column is half
the range of the per-repeat medians over their median, a measure of how noisy the machine was.
"""
import json
import sys
from pathlib import Path


def load(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def spread(runs):
    runs = sorted(runs or [])
    if len(runs) < 2:
        return ""
    mid = runs[len(runs) // 2] if len(runs) % 2 else (runs[len(runs) // 2 - 1] + runs[len(runs) // 2]) / 2
    return f"±{50 * (runs[-1] - runs[0]) / mid:.0f}%"


def digits(r):
    """Decimals for a throughput: one below 1,000 examples/s (AlexNet's), none above."""
    return 1 if r["infer_examples_per_second"] < 1000 else 0


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    markdown = "--markdown" in sys.argv
    if len(args) != 1:
        sys.exit(__doc__)
    out = Path(args[0])
    dlc = load(out / "dlc.jsonl")
    torch = {r["model"]: r for r in load(out / "torch.jsonl") if r.get("threads") == 1}

    rows = []
    header = ["model", "build", "b1 latency µs", "p10-p90 µs", "spread", "vs torch",
              "batch", "ex/s", "spread", "vs torch"]
    models = list(dict.fromkeys(r["model"] for r in dlc))
    for m in models:
        t = torch.get(m)
        for variant in dict.fromkeys(r["variant"] for r in dlc if r["model"] == m):
            lat = next((r for r in dlc if r["model"] == m and r["variant"] == variant and r["mode"] == "latency"), None)
            thr = next((r for r in dlc if r["model"] == m and r["variant"] == variant and r["mode"] == "throughput"),
                       None)
            row = [m, f"dlc {variant}"]
            if lat:
                row += [f"{lat['infer_latency_us']:,.1f}", f"{lat['p10_us']:,.1f}-{lat['p90_us']:,.1f}",
                        spread(lat["runs"]), f"{t['infer_latency_us'] / lat['infer_latency_us']:.2f}x" if t else ""]
            else:
                row += ["", "", "", ""]
            if thr:
                same = t and t.get("infer_batch") == thr["batch"]
                row += [str(thr["batch"]), f"{thr['infer_examples_per_second']:,.{digits(thr)}f}", spread(thr["runs"]),
                        f"{thr['infer_examples_per_second'] / t['infer_examples_per_second']:.2f}x" if same else ""]
            else:
                row += ["", "", "", ""]
            rows.append(row)
        if t:
            rows.append([m, "torch", f"{t['infer_latency_us']:,.1f}", "", spread(t.get("infer_latency_us_runs")), "1",
                         str(t.get("infer_batch", "")), f"{t['infer_examples_per_second']:,.{digits(t)}f}",
                         spread(t.get("infer_examples_per_second_runs")), "1"])

    env = (out / "env.txt").read_text() if (out / "env.txt").exists() else ""
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
        fmt = lambda r: "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        print(fmt(header))
        for r in rows:
            print(fmt(r))
    print()
    print("one thread on both sides; medians over repeats; 'vs torch' above 1 means dlc is faster")
    if any(r.get("weights") == "loaded" for r in dlc):
        print("alexnet/vgg11: weights loaded at start-up with <name>_load (not baked in), BLAS build only")
    print(env.strip())


if __name__ == "__main__":
    main()
