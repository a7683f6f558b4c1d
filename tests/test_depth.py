#!/usr/bin/env python3
"""normkit-depth as a user meets it: --help, bad flags, JSON and CSV output, and what a stack of
blocks must show: errors within their first-order bound at small depth, the pre-norm residual
stream growing with depth while the post-norm output stays at gamma's scale.

usage: test_depth.py NORMKIT_DEPTH [WRAPPER...]   (WRAPPER: e.g. qemu-aarch64 in cross builds)
"""
import csv
import io
import json
import math
import os
import subprocess
import sys
import tempfile

tool = sys.argv[1:]
failures = []


def run(args):
    env = dict(os.environ)
    env.pop("NORMKIT_ISA", None)
    wrapper, exe = tool[1:], tool[0]
    return subprocess.run(wrapper + [exe] + args, capture_output=True, text=True, env=env, timeout=300)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# ---- --help and bad usage ----
p = run(["--help"])
flat = " ".join(p.stdout.split())
check(p.returncode == 0 and "usage: normkit-depth" in p.stdout and p.stderr == "",
      "--help exits 0 with a usage text")
check("||h_i - h64_i||_2 / ||h64_i||_2" in flat and "N(0, 1/fan_in)" in flat and "--layers N" in flat,
      "--help defines the error metric, the init and the flags")

BAD = [
    (["--frobnicate"], "unknown option '--frobnicate'"),
    (["--layers", "0"], "--layers: '0' is out of range"),
    (["--layers", "1001"], "--layers: '1001' is out of range"),
    (["--layers", "abc"], "--layers: 'abc' is not a non-negative integer"),
    (["--layers", "-3"], "--layers: '-3' is not a non-negative integer"),
    (["--layers=12x"], "--layers: '12x' is not a non-negative integer"),
    (["--layers"], "--layers needs a value"),
    (["--layout", "sideways"], "unknown layout 'sideways'"),
    (["--norm", "batchnorm"], "unknown norm 'batchnorm'"),
    (["--act", "relu"], "unknown activation 'relu'"),
    (["--dim", "0"], "--dim: '0' is out of range"),
    (["--rows", "1.5"], "--rows: '1.5' is not a non-negative integer"),
    (["--hidden", "99999999"], "--hidden: '99999999' is out of range"),
    (["--seed", "18446744073709551616"], "--seed: '18446744073709551616' is out of range"),
    (["--eps", "-1"], "--eps: '-1' must be a finite number >= 0"),
    (["--eps", "nan"], "--eps: 'nan' must be a finite number >= 0"),
    (["--eps", "1e-5x"], "--eps: '1e-5x' is not a number"),
    (["--bias-std", ""], "--bias-std: '' is not a number"),
    (["--gamma-std", "inf"], "--gamma-std: 'inf' must be a finite number >= 0"),
    (["--init", "xavier"], "unknown scheme 'xavier'"),
    (["--format", "xml"], "unknown format 'xml'"),
    (["stray"], "unexpected argument 'stray'"),
]
for args, message in BAD:
    p = run(args)
    check(p.returncode == 2 and message in p.stderr and p.stderr.count("\n") == 1 and p.stdout == "",
          f"{' '.join(args)}: exit 2 with one line naming the problem ({p.returncode}, {p.stderr.strip()!r})")

# ---- JSON and CSV on a small configuration ----
SMALL = ["--dim", "64", "--layers", "12", "--rows", "4", "--seed", "7"]
p = run(SMALL)
check(p.returncode == 0 and p.stderr == "", f"a small run exits 0 silently (stderr: {p.stderr.strip()[:200]})")
doc = json.loads(p.stdout)
check(set(doc) == {"machine", "config", "records"}, "the JSON has machine, config and records")
cfg, recs = doc["config"], doc["records"]
isas = doc["machine"].get("isa_supported", [])
want_paths = ["scalar/scalar"] + [f"{i}/{k}" for i in isas for k in ("unfused", "fused")]
check("scalar" in isas and cfg["paths"] == want_paths,
      f"the paths: the scalar path, then unfused and fused on every supported ISA ({cfg['paths']})")
check(cfg["dim"] == 64 and cfg["hidden"] == 256 and cfg["rows"] == 4 and cfg["layers"] == 12
      and cfg["norm"] == "rmsnorm" and cfg["act"] == "gelu" and cfg["init"] == "fanin" and cfg["seed"] == 7
      and cfg["layouts"] == ["prenorm", "postnorm"] and abs(cfg["w1_std"] - 1 / 8) < 1e-12
      and abs(cfg["w2_std"] - 1 / 16) < 1e-12, "the config records the run's settings and defaults")
keys = sorted((r["layer"], r["layout"]) for r in recs)
check(keys == sorted((L, lo) for L in range(1, 13) for lo in ("prenorm", "postnorm")),
      f"exactly one record per layer per layout ({len(recs)} records)")
fields_ok = all(finite(r[k]) and r[k] >= 0 for r in recs for k in ("residual_rms", "output_rms", "update_rms")) \
    and all(r["error_bound"] is None or (finite(r["error_bound"]) and 0 < r["error_bound"] <= 1) for r in recs) \
    and all(finite(r["error_bound"]) for r in recs if r["layer"] == 1)
errs_ok = all(list(r["errors"]) == want_paths and all(finite(v) and v > 0 for v in r["errors"].values())
              for r in recs)
check(fields_ok and errs_ok, "every record has finite RMS figures, a positive finite error per path, and a bound "
      "in (0, 1] or none (null once above 1; layer 1 always has one)")
check(all(r["residual_rms"] == r["output_rms"] for r in recs if r["layout"] == "prenorm"),
      "pre-norm: the residual stream is the output")

p_csv = run(SMALL + ["--format", "csv"])
rows = list(csv.DictReader(io.StringIO(p_csv.stdout)))
header = p_csv.stdout.splitlines()[0].split(",") if p_csv.stdout else []
check(p_csv.returncode == 0 and header == ["layer", "layout", "residual_rms", "output_rms", "update_rms",
                                           "error_bound"] + ["err_" + q.replace("/", "_") for q in want_paths],
      f"CSV: the header names every column ({header})")
check(len(rows) == len(recs), f"CSV: one line per layer per layout ({len(rows)})")
by_key = {(r["layer"], r["layout"]): r for r in recs}
same = True
for row in rows:
    r = by_key.get((int(row["layer"]), row["layout"]))
    same &= r is not None and all(float(row[k]) == r[k] for k in ("residual_rms", "output_rms", "update_rms")) \
        and (row["error_bound"] == "" if r["error_bound"] is None else float(row["error_bound"]) == r["error_bound"]) \
        and all(float(row["err_" + q.replace("/", "_")]) == r["errors"][q] for q in want_paths)
check(same, "CSV: the same figures as the JSON")

# --output, determinism, another seed, one layout
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "depth.json")
    p = run(SMALL + ["--output", out])
    check(p.returncode == 0 and p.stdout == "" and os.path.isfile(out) and open(out).read() == run(SMALL).stdout,
          "--output writes the file, nothing on stdout, the same bytes as a second run (deterministic)")
    p = run(SMALL + ["--output", os.path.join(tmp, "no", "such", "dir.json")])
    check(p.returncode == 1 and "cannot write" in p.stderr, "an unwritable --output exits 1 with a message")
other = json.loads(run(SMALL[:-1] + ["8"]).stdout)
check(other["records"][0]["residual_rms"] != recs[0]["residual_rms"], "another seed, other weights")
p = run(SMALL + ["--layout", "postnorm", "--layers", "3"])
d1 = json.loads(p.stdout) if p.returncode == 0 else {"records": []}
check([(r["layer"], r["layout"]) for r in d1["records"]] == [(1, "postnorm"), (2, "postnorm"), (3, "postnorm")],
      "--layout postnorm --layers 3: three post-norm records")
check(d1["records"] and d1["records"][0]["residual_rms"] == by_key[(1, "postnorm")]["residual_rms"],
      "a layer's weights do not depend on --layers or the layouts run")

# ---- errors at small depth: within the first-order worst-case bound ----
# error_bound (docs/depth.md) carries the bound of docs/numerics.md, "Blocks" (the one
# tests/test_block.c asserts for one block) through the stack: each step's own rounding plus the
# errors already in its inputs through the step's derivative, the input error of layer L being
# the bound after layer L - 1. Every term is a worst case (each rounding in the same direction,
# |W| in place of W, the activations' largest slope), so the carried bound grows by about
# sqrt(fan_in) per matmul, ~100x per layer at d 64: it says something for the first layer or two
# only, which is what "small depth" means here. It is first order in u: the terms it leaves out
# are products of two first-order errors, at most bound^2 relative, so where the bound is at most
# 0.1 the error must stay within bound * (1 + bound). Layer 1 (exact input, the one-block setting)
# is always in that regime at these sizes (~5e-4 at d 64).


def within_bound(records, what):
    regime = [r for r in records if r["error_bound"] is not None and r["error_bound"] <= 0.1]
    layouts = {r["layout"] for r in records}
    check(all(any(r["layer"] == 1 and r["layout"] == lo for r in regime) for lo in layouts),
          f"{what}: layer 1 of each layout has a first-order bound below 0.1")
    worst = max(((e / r["error_bound"], q, r["layer"], r["layout"]) for r in regime
                 for q, e in r["errors"].items()), default=(0,))
    check(all(e <= r["error_bound"] * (1 + r["error_bound"]) for r in regime for e in r["errors"].values()),
          f"{what}: every path's error is within the bound on the {len(regime)} records where it applies "
          f"(largest error / bound: {worst[0]:.2g}, {worst[1:]})")


within_bound(recs, "rmsnorm gelu")
for extra in (["--norm", "layernorm", "--act", "silu"], ["--act", "swiglu", "--bias-std", "0"],
              ["--init", "gpt2"], ["--norm", "layernorm", "--gamma-std", "0.3"]):
    p = run(["--dim", "64", "--layers", "4", "--rows", "3"] + extra)
    d2 = json.loads(p.stdout) if p.returncode == 0 else {"records": [], "config": {}}
    check(p.returncode == 0 and len(d2["records"]) == 8
          and all(finite(v) for r in d2["records"] for v in r["errors"].values()),
          f"{' '.join(extra)}: runs, 8 records, finite errors")
    if extra[1] == "swiglu":
        check(d2["config"].get("gated") is True and d2["config"].get("hidden") == 256,
              "swiglu: the gated FFN, hidden = Llama's 8 d / 3 rounded up to 256")
    if "--gamma-std" in extra and d2["records"]:
        r1 = [r for r in d2["records"] if r["layer"] == 1 and r["layout"] == "prenorm"][0]
        check(r1["errors"]["avx512/fused" if "avx512" in isas else "scalar/fused"]
              != r1["errors"]["avx512/unfused" if "avx512" in isas else "scalar/unfused"],
              "--gamma-std 0.3: the fused pre-norm path folds gamma and beta into W1 (its rounding differs "
              "from the unfused path's)")
    if d2["records"]:
        within_bound(d2["records"], " ".join(extra))

# ---- depth: the pre-norm residual stream grows, the post-norm output stays at gamma's scale ----
# With the default fan-in init, Norm(x) has mean square 1, z = W1 Norm(x) + b1 has variance
# 1 + s_b^2 (s_b = bias std), the activation's output mean square m2 = E[act(z)^2], and W2 (variance
# 1/fan_in) keeps it; with b2, each layer adds an update of mean square m2 + s_b^2 that is
# uncorrelated with the stream (independent random weights). So the pre-norm stream's mean square
# after L layers is 1 + L (m2 + s_b^2) in expectation: RMS ~ sqrt(1 + 0.42 L) for GELU, ~4.6 at
# L = 48. A finite model (d 64, 8 rows) fluctuates around it by O(1/sqrt(d)) per layer, averaged
# over the layers: a factor of 2 either way holds by a wide margin and still fails for a stream
# that does not accumulate (no residual: RMS ~0.65) or that doubles each update.
# Post-norm renormalizes every layer: with gamma = 1 and beta = 0, a row's output RMS is
# sqrt(ms / (ms + eps)) for ms the mean square (RMSNorm) of x + FFN(x), about 1 + m2 here, so
# 1 - RMS <= eps / (2 ms) ~ 4e-6; 1e-3 would need a row with ms ~ 0.005, which this input never has.


def gelu(z):
    return 0.5 * z * (1 + math.erf(z / math.sqrt(2)))


def mean_square(act, var, n=4000):
    """E[act(z)^2] for z ~ N(0, var), by Simpson's rule over +-12 standard deviations."""
    s = math.sqrt(var)
    a, b = -12 * s, 12 * s
    h = (b - a) / n
    total = 0.0
    for i in range(n + 1):
        z = a + i * h
        w = 1 if i in (0, n) else (4 if i % 2 else 2)
        total += w * act(z) ** 2 * math.exp(-z * z / (2 * var)) / math.sqrt(2 * math.pi * var)
    return total * h / 3


p = run(["--dim", "64", "--layers", "48", "--rows", "8"])
deep = json.loads(p.stdout) if p.returncode == 0 else {"records": [], "config": {}}
bias2 = deep["config"].get("bias_std", 0.02) ** 2
step = mean_square(gelu, 1 + bias2) + bias2
pre = {r["layer"]: r for r in deep["records"] if r["layout"] == "prenorm"}
post = {r["layer"]: r for r in deep["records"] if r["layout"] == "postnorm"}
check(len(pre) == 48 and len(post) == 48, "48 layers of each layout")
if len(pre) == 48 and len(post) == 48:
    marks = [1, 6, 12, 24, 48]
    rms = [pre[L]["residual_rms"] for L in marks]
    check(all(a < b for a, b in zip(rms, rms[1:])) and rms[-1] >= 2 * rms[0],
          f"pre-norm: the residual RMS grows with depth, at least doubling over 48 layers ({rms})")
    for L in (12, 24, 48):
        want = 1 + L * step
        got = pre[L]["residual_rms"] ** 2
        check(want / 2 <= got <= 2 * want,
              f"pre-norm layer {L}: mean square {got:.2f} within a factor 2 of 1 + L (m2 + s_b^2) = {want:.2f}")
    outs = [r["output_rms"] for r in post.values()]
    check(all(abs(v - 1) <= 1e-3 for v in outs),
          f"post-norm: the output RMS stays at gamma = 1 (within 1e-3) at every layer ({min(outs):.6f}-{max(outs):.6f})")
    sums = [r["residual_rms"] for r in post.values()]
    check(max(sums) <= 2 * math.sqrt(1 + step) and post[48]["residual_rms"] < pre[48]["residual_rms"] / 2,
          f"post-norm: x + FFN(x) stays near sqrt(1 + m2) = {math.sqrt(1 + step):.2f} "
          f"(max {max(sums):.2f}), far below the pre-norm stream at layer 48")

print(f"{'FAIL' if failures else 'PASS'}: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
