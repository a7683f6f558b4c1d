#!/usr/bin/env python3
"""Writes bench-blocks.json: a synthetic normkit-bench run of whole-block cases, for the report's
Blocks section test (tests/test_report.py). Synthetic: the rates below are chosen, not measured,
so that some targets are met and some missed; the structure is Google Benchmark's JSON as
normkit-bench writes it (the pre-norm configuration as with --benchmark_repetitions=3: three
iteration entries per case, then the mean, median, stddev and cv aggregates; the post-norm one
with a single repetition; counters tokens_per_second, rows_per_second,
flops_per_second, working_set_bytes; the cache level as label), with the context of
bench-linear.json (the same machine). Deterministic: rerun it to regenerate the file.

usage: make-bench-blocks.py [OUT.json]   (default: bench-blocks.json beside this script)
"""
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
D = 256
# (layout, norm, act, hidden, gated): the quick profile's two configurations, at d 256
CONFIGS = [("prenorm", "rmsnorm", "swiglu", 768, True), ("postnorm", "layernorm", "gelu", 1024, False)]
# median tokens/s per (config index, rows, impl/path)
RATES = {
    0: {1: {"avx512/fused": 200e3, "avx512/unfused": 160e3, "avx2/fused": 120e3, "avx2/unfused": 100e3,
            "scalar/scalar": 5e3, "onednn/peer": 190e3, "torch/peer": 80e3},
        32: {"avx512/fused": 150e3, "avx512/unfused": 140e3, "avx2/fused": 90e3, "avx2/unfused": 85e3,
             "scalar/scalar": 4.5e3, "onednn/peer": 160e3, "torch/peer": 70e3},
        512: {"avx512/fused": 170e3, "avx512/unfused": 165e3, "avx2/fused": 95e3, "avx2/unfused": 92e3,
              "onednn/peer": 150e3, "torch/peer": 90e3}},
    1: {1: {"avx512/fused": 250e3, "avx512/unfused": 200e3, "avx2/fused": 260e3, "avx2/unfused": 210e3,
            "scalar/scalar": 6e3, "onednn/peer": 240e3},
        32: {"avx512/fused": 300e3, "avx512/unfused": 250e3, "avx2/fused": 180e3, "avx2/unfused": 170e3,
             "scalar/scalar": 5.5e3, "onednn/peer": 280e3},
        512: {"avx512/fused": 320e3, "avx512/unfused": 330e3, "avx2/fused": 200e3, "avx2/unfused": 190e3,
              "onednn/peer": 300e3}},
}
SPREAD = (0.98, 1.0, 1.03)  # the three repetitions' times relative to the median
REPEATED = {0}              # configurations run with 3 repetitions; the others with one


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "bench-blocks.json")
    base = json.load(open(os.path.join(HERE, "bench-linear.json")))
    ctx = dict(base["context"])
    ctx["executable"] = "synthetic (tests/data/make-bench-blocks.py)"
    ctx["profile"] = "quick"
    benchmarks = []
    family = 0
    for ci, (layout, norm, act, hidden, gated) in enumerate(CONFIGS):
        flops_per_token = 2.0 * D * hidden * (3 if gated else 2)
        for rows, cases in RATES[ci].items():
            for variant, rate in cases.items():
                impl, path = variant.split("/")
                name = f"block/{layout}/{norm}/{act}/{impl}/{path}/d:{D}/rows:{rows}"
                t_med = rows / rate * 1e9  # ns per call
                ws = 4.0 * (D * hidden * (3 if gated else 2) + 2 * rows * D + rows * hidden)
                label = "L2" if ws <= 1048576 else "L3"
                reps = []
                spread = SPREAD if ci in REPEATED else (1.0,)
                for i, f in enumerate(spread):
                    t = t_med * f
                    reps.append({"name": name, "family_index": family, "per_family_instance_index": 0,
                                 "run_name": name, "run_type": "iteration", "repetitions": len(spread),
                                 "repetition_index": i, "threads": 1, "iterations": 1000,
                                 "real_time": t * 1.01, "cpu_time": t, "time_unit": "ns",
                                 "flops_per_second": flops_per_token * rows / (t * 1e-9),
                                 "rows_per_second": rows / (t * 1e-9),
                                 "tokens_per_second": rows / (t * 1e-9),
                                 "working_set_bytes": ws, "label": label})
                benchmarks += reps
                if ci not in REPEATED:
                    family += 1
                    continue
                counters = ("flops_per_second", "rows_per_second", "tokens_per_second")
                for agg in ("mean", "median", "stddev", "cv"):
                    e = {"name": f"{name}_{agg}", "family_index": family, "per_family_instance_index": 0,
                         "run_name": name, "run_type": "aggregate", "repetitions": 3, "threads": 1,
                         "aggregate_name": agg, "aggregate_unit": "percentage" if agg == "cv" else "time",
                         "iterations": 3, "time_unit": "ns", "label": label}
                    for key in ("real_time", "cpu_time") + counters + ("working_set_bytes",):
                        vals = [r[key] for r in reps]
                        if agg == "mean":
                            v = statistics.fmean(vals)
                        elif agg == "median":
                            v = statistics.median(vals)
                        elif agg == "stddev":
                            v = statistics.stdev(vals)
                        else:
                            v = statistics.stdev(vals) / statistics.fmean(vals)
                        e[key] = v
                    benchmarks.append(e)
                family += 1
    with open(out, "w") as f:  # the context indented, one benchmark entry per line
        f.write('{\n  "context": ' + json.dumps(ctx, indent=2).replace("\n", "\n  ") + ',\n  "benchmarks": [\n')
        f.write(",\n".join("    " + json.dumps(b) for b in benchmarks))
        f.write("\n  ]\n}\n")


if __name__ == "__main__":
    main()
