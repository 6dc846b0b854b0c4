#!/usr/bin/python3
"""Print the dlc-vs-PyTorch table for one bench/run.sh results directory.

Inputs (written by run.sh into RESULTS_DIR):
  torch.jsonl                   one JSON line per (model, threads) from
                                torch_peer.py
  dlc-<model>-t<T>-r<R>.json    dlc trainer reports (key examples_per_second),
                                one per repeat; the median is used
  dlc-flops-<model>.txt         FLOPs per training example from `dlc check`
  gemm-<model>-t<T>.json        bench/gemm_replay.c: OpenBLAS's rate at the
                                calls the trainer made, each timed alone
  gemm-<model>-t<T>.report.json the report of the trainer run that recorded
                                them (bench/gemm_shapes.c preloaded)
  gemm-peak-t<T>.json           the plain square sgemm, for context
  fma-peak-t<T>.json            bench/fma_peak.c: the FP32 FMA peak of T cores,
                                for the "of FMA peak" column
  mem-bw-t<T>.json              bench/mem_bw.c: GB/s of an elementwise kernel
                                on T threads, by working-set size
  env.txt                       its "# cpu:" line names the CPU under the table

The second table compares dlc with OpenBLAS at the network's own shapes:
  sgemm GFLOP/s @shapes  sum(count * flops) / sum(count * isolated time) over
                         the recorded calls (flops = 2mnk; 2mn for sgemv)
  dlc/sgemm              dlc GFLOP/s over that: the whole training step
                         against its matrix products alone at BLAS speed
  BLAS share             seconds inside BLAS calls / seconds of training
                         steps, in the recording run
  in situ GFLOP/s        the same FLOPs over the time the calls took inside
                         the trainer (cold caches, the trainer's memory)
  gemm/check             BLAS FLOPs per example over dlc check's count
  replay cpu/wall        CPU seconds per wall second while the shapes were
                         timed: near the thread count, unless other
                         processes took cores (then the rates are low) or
                         OpenBLAS ran small products on fewer threads

Usage: bench/table.py RESULTS_DIR [--markdown] [--shapes]
  --shapes also lists every recorded call shape, by time in the trainer
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
    """({(model, threads): median examples_per_second over repeats},
    {(model, threads): largest peak_rss_bytes over repeats})."""
    runs, rss = {}, {}
    for path in glob.glob(os.path.join(results_dir, "dlc-*.json")):
        m = re.match(r"dlc-(.+)-t(\d+)-r\d+\.json$", os.path.basename(path))
        if not m:
            continue
        try:
            with open(path) as f:
                report = json.load(f)
            eps = report["examples_per_second"]
        except (OSError, ValueError, KeyError):
            continue
        key = (m.group(1), int(m.group(2)))
        runs.setdefault(key, []).append(eps)
        if report.get("peak_rss_bytes"):
            rss[key] = max(rss.get(key, 0), report["peak_rss_bytes"])
    return {k: statistics.median(v) for k, v in runs.items()}, rss


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


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_gemm(results_dir):
    """{(model, threads): (replay JSON, recording run's report or None)}."""
    rows = {}
    for path in glob.glob(os.path.join(results_dir, "gemm-*-t*.json")):
        m = re.match(r"gemm-(.+)-t(\d+)\.json$", os.path.basename(path))
        if not m or m.group(1) == "peak":
            continue
        replay = load_json(path)
        if replay:
            report = load_json(path[:-len(".json")] + ".report.json")
            rows[(m.group(1), int(m.group(2)))] = (replay, report)
    return rows


def load_peaks(results_dir):
    """[peak JSON] by thread count."""
    peaks = (load_json(p) for p in glob.glob(os.path.join(results_dir, "gemm-peak-t*.json")))
    return sorted((p for p in peaks if p), key=lambda p: p["threads"])


def load_fma_peaks(results_dir):
    """{threads: FMA peak JSON} (bench/fma_peak.c)."""
    peaks = (load_json(p) for p in glob.glob(os.path.join(results_dir, "fma-peak-t*.json")))
    return {p["threads"]: p for p in peaks if p}


def cpu_line(results_dir):
    try:
        with open(os.path.join(results_dir, "env.txt")) as f:
            for line in f:
                if line.startswith("# cpu:"):
                    return line[len("# cpu:"):].strip()
    except OSError:
        pass
    return None


def fmt(x, digits=0):
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def print_table(header, table, markdown):
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


def order_key(order):
    return lambda k: (order.index(k[0]) if k[0] in order else 99, k[0], k[1])


def gemm_table(keys, dlc_rows, dlc_flops, gemm_rows):
    header = ["model", "thr", "dlc GFLOP/s", "sgemm GFLOP/s @shapes",
              "dlc/sgemm", "BLAS share", "in situ GFLOP/s",
              "in situ/alone", "gemm/check", "replay cpu/wall"]
    table = []
    for k in keys:
        if k not in gemm_rows:
            continue
        g, report = gemm_rows[k]
        d = dlc_rows.get(k)
        dlc_gf = d * dlc_flops[k[0]] / 1e9 if d and k[0] in dlc_flops else None
        at_shapes = g["sgemm_gflops_at_shapes"]
        eps = report.get("examples_per_second") if report else None
        share = (g["in_situ_seconds"] / (g["examples"] / eps)
                 if eps and g["examples"] else None)
        table.append([
            k[0], str(k[1]),
            fmt(dlc_gf, 1),
            fmt(at_shapes, 1),
            f"{dlc_gf / at_shapes:.0%}" if dlc_gf else "-",
            f"{share:.0%}" if share is not None else "-",
            fmt(g["in_situ_gflops"], 1),
            f"{g['in_situ_gflops'] / at_shapes:.0%}",
            f"{g['gemm_flops_per_example'] / dlc_flops[k[0]]:.2f}"
            if k[0] in dlc_flops else "-",
            fmt(g.get("cpu_per_wall"), 2),
        ])
    return header, table


def shapes_listing(key, g):
    """Every recorded shape of one run, by its time inside the trainer."""
    print(f"\n{key[0]}, {key[1]} thread(s): {g['shapes']} shapes, "
          f"{g['calls']:,} calls, {g['in_situ_seconds']:.3f} s in BLAS")
    print(f"  {'fn':5} {'op':2} {'m':>6} {'n':>6} {'k':>6} {'ldb':>6} "
          f"{'beta':>4} {'count':>7} {'time':>5} {'in situ GF/s':>12} "
          f"{'alone GF/s':>10}")
    total = g["in_situ_seconds"] or 1
    for c in sorted(g["per_shape"], key=lambda c: -c["in_situ_s"]):
        flops = 2 * c["m"] * c["n"] * (c["k"] if c["fn"] == "sgemm" else 1)
        situ = flops * c["count"] / c["in_situ_s"] / 1e9 if c["in_situ_s"] else 0
        alone = flops / c["isolated_s"] / 1e9 if c["isolated_s"] else 0
        print(f"  {c['fn']:5} {c['ta'] + c['tb'].replace('-', ''):2} "
              f"{c['m']:>6} {c['n']:>6} {c['k']:>6} {c['ldb']:>6} "
              f"{c['beta']:>4g} {c['count']:>7} "
              f"{c['in_situ_s'] / total:>5.0%} {situ:>12.1f} {alone:>10.1f}")


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    results_dir = sys.argv[1]
    markdown = "--markdown" in sys.argv[2:]
    torch_rows = load_torch(os.path.join(results_dir, "torch.jsonl"))
    dlc_rows, dlc_rss = load_dlc(results_dir)
    dlc_flops = load_dlc_flops(results_dir)
    gemm_rows = load_gemm(results_dir)
    fma_peaks = load_fma_peaks(results_dir)
    order = ["softmax", "mlp", "lenet", "alexnet", "vgg11", "batchnorm_concise", "resnet18"]
    keys = sorted(set(torch_rows) | set(dlc_rows), key=order_key(order))

    header = ["model", "thr", "torch train ex/s", "dlc train ex/s",
              "dlc/torch", "dlc GFLOP/s", "of FMA peak", "torch GFLOP/s",
              "torch b1 lat us", "torch b256 ex/s", "dlc peak RSS MB",
              "torch peak RSS MB"]
    table = []
    for k in keys:
        t = torch_rows.get(k, {})
        d = dlc_rows.get(k)
        tt = t.get("train_examples_per_second")
        small = tt is not None and tt < 1000
        dlc_gf = d * dlc_flops[k[0]] / 1e9 if d and k[0] in dlc_flops else None
        peak = fma_peaks.get(k[1])
        table.append([
            k[0], str(k[1]),
            fmt(tt, 1 if small else 0),
            fmt(d, 1 if small else 0),
            f"{d / tt:.2f}x" if d and tt else "-",
            fmt(dlc_gf, 1),
            f"{dlc_gf / peak['fma_gflops']:.0%}" if dlc_gf and peak else "-",
            fmt(t.get("train_gflops_per_second"), 1),
            fmt(t.get("infer_latency_us"), 1),
            fmt(t.get("infer_examples_per_second"),
                1 if small else 0),
            fmt(dlc_rss[k] / 1e6 if k in dlc_rss else None, 0),
            fmt(t["peak_rss_bytes"] / 1e6 if t.get("peak_rss_bytes") else None, 0),
        ])
    print_table(header, table, markdown)
    cpu = cpu_line(results_dir)
    if cpu:
        print(f"CPU: {cpu}")
    if fma_peaks:
        print("FP32 FMA peak (bench/fma_peak.c): " + ", ".join(
            f"{p['fma_gflops']:.1f} GFLOP/s on {t} thread(s) ({p['isa']}, {p['flop_per_cycle_per_core']:.1f} "
            f"FLOP/cycle/core at a measured {p['clock_ghz']:.2f} GHz; 2 FMA units would give "
            f"{p['expected_gflops']:.1f})" for t, p in sorted(fma_peaks.items())))

    bws = [load_json(p) for p in sorted(glob.glob(os.path.join(results_dir, "mem-bw-t*.json")))]
    bws = [b for b in bws if b]
    if bws:
        def kb(k):
            return f"{int(k) // 1024} MB" if int(k) >= 1024 else f"{k} KB"
        print("Memory bandwidth of an elementwise kernel (bench/mem_bw.c, GB/s by working set): " + "; ".join(
            f"{b['threads']} thread(s): " + ", ".join(f"{kb(k)} {v:.1f}" for k, v in b["gbytes_per_second"].items())
            for b in sorted(bws, key=lambda b: b["threads"])))

    if not gemm_rows:
        return
    gkeys = sorted(set(keys) | set(gemm_rows), key=order_key(order))
    print()
    print_table(*gemm_table(gkeys, dlc_rows, dlc_flops, gemm_rows), markdown)
    first = next(iter(gemm_rows.values()))[0]
    print(f"OpenBLAS core {first['openblas_core']}, "
          f"OPENBLAS_CORETYPE={first['openblas_coretype_env']}; "
          f"each shape timed alone for {first['budget_s']:g} s, median")
    peaks = load_peaks(results_dir)
    if peaks:
        n = peaks[0]["size"]
        print(f"sgemm {n}x{n}x{n} alone: " + ", ".join(
            f"{p['sgemm_gflops']:.1f} GFLOP/s on {p['threads']} thread(s)"
            + (f" (cpu/wall {p['cpu_per_wall']:.2f})" if "cpu_per_wall" in p else "")
            for p in peaks))
    if "--shapes" in sys.argv[2:]:
        for k in gkeys:
            if k in gemm_rows:
                shapes_listing(k, gemm_rows[k][0])


if __name__ == "__main__":
    main()
