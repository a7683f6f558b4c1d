#!/usr/bin/env python3
"""Line up normkit-bench JSON runs, case by case (Python standard library only).

  compare_runs.py BASE.json NEW.json            every case of both runs: NEW against BASE
  compare_runs.py RUN.json --isa scalar avx512  within one run: isa avx512 against scalar,
                                                shape by shape

Options: --filter REGEX (cases whose name matches), --metric M (cpu_time, the default;
real_time; or any rate such as bytes_per_second, rows_per_second).
The ratio is how many times better the second column is: BASE/NEW for times, NEW/BASE for
rates; above 1 means faster. With --benchmark_repetitions the median aggregate is used,
otherwise the mean of the runs. Google Benchmark's own tools/compare.py reads the same files
(and adds a Mann-Whitney U test when there are enough repetitions).
"""
import argparse
import json
import re
import statistics
import sys


def load(path, metric):
    try:
        with open(path) as f:
            doc = json.load(f)
        benches = doc["benchmarks"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.exit(f"compare_runs.py: {path}: not Google Benchmark JSON ({e})")
    runs, medians = {}, {}
    for b in benches:
        if b.get("error_occurred") or metric not in b:
            continue
        name = b.get("run_name", b["name"])
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[name] = float(b[metric])
        else:
            runs.setdefault(name, []).append(float(b[metric]))
    out = {n: statistics.fmean(v) for n, v in runs.items()}
    out.update(medians)
    return out


def fmt(v, metric):
    if metric.endswith("_time"):
        return f"{v:12.1f}"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:11.3f}{unit}"
    return f"{v:12.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", help="one or two JSON files from --benchmark_out")
    ap.add_argument("--isa", nargs=2, metavar=("BASE", "NEW"), help="compare two isa fields of one run")
    ap.add_argument("--filter", default="", help="only cases whose name matches this regex")
    ap.add_argument("--metric", default="cpu_time")
    a = ap.parse_args()
    if len(a.files) == 2 and not a.isa:
        base, new = load(a.files[0], a.metric), load(a.files[1], a.metric)
        pairs = [(n, n, n) for n in base if n in new]
        heads = tuple(f.rsplit("/", 1)[-1][-12:] for f in a.files)
    elif len(a.files) == 1 and a.isa:
        base = new = load(a.files[0], a.metric)
        pairs = []
        for n in base:
            f = n.split("/")
            if len(f) >= 3 and f[2] == a.isa[0]:
                other = "/".join(f[:2] + [a.isa[1]] + f[3:])
                if other in new:
                    pairs.append(("/".join(f[:2] + ["*"] + f[3:]), n, other))
        heads = tuple(a.isa)
    else:
        ap.error("give two files, or one file and --isa BASE NEW")
    rx = re.compile(a.filter)
    pairs = [p for p in pairs if rx.search(p[0])]
    if not pairs:
        sys.exit("compare_runs.py: no case in common (check the files, --isa and --filter)")
    rate = not a.metric.endswith("_time")
    width = max(len(p[0]) for p in pairs)
    unit = "per second" if rate else "ns unless --benchmark_time_unit"
    print(f"{'case':<{width}} {heads[0]:>12} {heads[1]:>12}   ratio  ({a.metric}, {unit}; ratio > 1: the second is better)")
    for label, nb, nn in pairs:
        vb, vn = base[nb], new[nn]
        ratio = (vn / vb if rate else vb / vn) if vb > 0 and vn > 0 else float("nan")
        print(f"{label:<{width}} {fmt(vb, a.metric)} {fmt(vn, a.metric)} {ratio:7.2f}x")


if __name__ == "__main__":
    main()
