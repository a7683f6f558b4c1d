#!/usr/bin/env python3
"""Picks the dispatcher's default norm variant per operator, ISA and shape class from a
normkit-bench run over every knob variant:

    normkit-bench --variants=all --benchmark_filter='^(add_)?(rms|layer)norm/' \\
        --benchmark_repetitions=5 --benchmark_out=variants.json --benchmark_out_format=json
    tools/gen/pick_defaults.py variants.json

Per (operator, ISA, class) it compares every variant with the current default on the same
cases (median time per case, then the geometric mean of the ratios over the class's cases)
and prints the table and a DEFAULTS block for tools/gen/generate.py. A variant replaces the
default only when it is faster by more than --margin (default 3%): smaller differences are
within this machine's run-to-run noise, and a default that keeps its place is one fewer
surprise. Classes follow dispatch/dispatch.c: the case's working set against the run's L1d
and L2 sizes (its context), one row or more.
"""
import argparse
import json
import math
import os
import re
import statistics
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate  # noqa: E402

CASE = re.compile(r"^(?P<op>(?:add_)?(?:rms|layer)norm)/f32/(?P<isa>[a-z0-9]+)_(?P<var>u\d+_acc\d+)"
                  r"/dim:(?P<dim>\d+)/rows:(?P<rows>\d+)")


def load(paths):
    """{(op, isa, var, dim, rows): [seconds per call]} and the run's (L1d, L2) bytes."""
    times, caches = defaultdict(list), None
    for path in paths:
        with open(path) as f:
            doc = json.load(f)
        ctx = doc.get("context", {})
        caches = (int(ctx["cache_l1d_bytes"]), int(ctx["cache_l2_bytes"]))
        for b in doc.get("benchmarks", []):
            if b.get("run_type") != "iteration" or b.get("error_occurred"):
                continue
            m = CASE.match(b["name"])
            if not m:
                continue
            scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b.get("time_unit", "ns")]
            key = (m["op"], m["isa"], m["var"], int(m["dim"]), int(m["rows"]))
            times[key].append((b["real_time"] * scale, b.get("working_set_bytes", 0)))
    if caches is None:
        sys.exit("pick_defaults.py: no run with a context in %s" % ", ".join(paths))
    return times, caches


def class_of(ws, rows, caches):
    level = 0 if ws <= caches[0] else 1 if ws <= caches[1] else 2
    return generate.CLASSES[2 * level + (rows > 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="normkit-bench JSON files (--variants=all)")
    ap.add_argument("--margin", type=float, default=0.03,
                    help="a variant must beat the default by this fraction (default 0.03)")
    args = ap.parse_args()
    times, caches = load(args.runs)
    # (op, isa, class) -> {var: [ratio to the default, per case]}
    ratios = defaultdict(lambda: defaultdict(list))
    for (op, isa, var, dim, rows), samples in times.items():
        default = generate.DEFAULTS.get((op, isa), {})
        ws = samples[0][1]
        cls = class_of(ws, rows, caches)
        base = times.get((op, isa, default.get(cls), dim, rows))
        if not base:
            continue
        ratio = statistics.median(t for t, _ in samples) / statistics.median(t for t, _ in base)
        ratios[(op, isa, cls)][var].append(ratio)
    picks = {}
    print("%-14s %-7s %-9s %-9s %-8s %s" % ("op", "isa", "class", "default", "cases",
                                            "time vs default per variant (geomean)"))
    for (op, isa, cls), per_var in sorted(ratios.items()):
        gm = {v: math.exp(sum(map(math.log, r)) / len(r)) for v, r in per_var.items()}
        default = generate.DEFAULTS[(op, isa)][cls]
        best = min(gm, key=gm.get)
        pick = best if gm[best] < 1.0 - args.margin else default
        picks[(op, isa, cls)] = pick
        print("%-14s %-7s %-9s %-9s %-8d %s%s" % (
            op, isa, cls, default, len(per_var[default]),
            " ".join("%s %.3f" % (v, g) for v, g in sorted(gm.items())),
            "   -> %s" % pick if pick != default else ""))
    print("\n# DEFAULTS for tools/gen/generate.py (classes without cases keep the current default)")
    for (op, isa), d in sorted(generate.DEFAULTS.items()):
        row = {cls: picks.get((op, isa, cls), d[cls]) for cls in generate.CLASSES}
        print("(%r, %r): %r," % (op, isa, row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
