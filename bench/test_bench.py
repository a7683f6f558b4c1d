#!/usr/bin/env python3
"""normkit-bench as CI sees it, on a tiny slice of the quick profile (no timing assertions).

usage: test_bench.py NORMKIT_BENCH NORMKIT_INFO [WRAPPER...]   (WRAPPER: e.g. qemu-aarch64)

- own flags: --help mentions them, a bad --profile or --variants and an unknown flag exit 2
  with a message;
- --list: every name parses, every operator x supported ISA (the truth is normkit-info's kernel
  list, not a list here) once, with its default variant, autovec and autovec_fastmath, the
  peers that were built, and the ceilings are there, each operator has a shape in every cache
  level of the machine, each norm operator the decode rows (dim 64, 768, 4096 x rows 1), each
  norm case a same-size copy (ceiling_copy_ws of its working set); --variants=all lists every
  knob variant of normkit-info's list, its knobs in the isa field;
- a real run of one shape per operator plus the smallest ceiling of each kind and ISA, written
  as JSON with --benchmark_out: every case has a positive rate and a level label, every norm
  case its bound counters (ns_per_call, bound_ns, pct_of_bound, copy_ws_ns, pct_of_copy_ws:
  present, finite, positive; no timing values asserted), and the context has the machine
  fields;
- again with HWLOC_SYNTHETIC="pack:1 core:2 pu:1" (a topology without caches, as hwloc sees a
  container, some VMs or qemu-user): the cache sizes come from the fallback (sysconf, CPUID or
  assumed, never "hwloc"), the quick profile still has one shape per operator in L1, L2, L3 and
  DRAM, the ceilings exist at every level, and a tiny run has L1 ceilings and a cache_source;
  its norm cases have their bound although the filter left out the ceilings it needs (they are
  measured on the spot).
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile

bench, info, wrapper = sys.argv[1], sys.argv[2], sys.argv[3:]
failures = []

KERNEL = re.compile(r"^(?P<op>[a-z0-9_]+)/(?P<dtype>f32)/(?P<isa>[a-z0-9_]+)/dim:(?P<dim>\d+)/rows:(?P<rows>\d+)$")
LINEAR = re.compile(r"^(?P<op>[a-z0-9_]+)/(?P<dtype>f32)/(?P<isa>[a-z0-9_]+)/dim:(?P<dim>\d+)/n:(?P<n>\d+)/rows:(?P<rows>\d+)$")
BANDWIDTH = re.compile(r"^ceiling_(?P<kind>read|copy|copy_nt|triad|write|copy_ws)/f32/(?P<isa>[a-z0-9_]+)"
                       r"/bytes:(?P<bytes>\d+)$")
FMA = re.compile(r"^ceiling_fma/f32/(?P<isa>[a-z0-9_]+)/acc:(?P<acc>\d+)$")
ROWCALL = re.compile(r"^ceiling_rowcall(?P<ln>_ln)?/f32/(?P<isa>[a-z0-9_]+)/dim:(?P<dim>\d+)$")
BOUND = ("ns_per_call", "bound_ns", "pct_of_bound", "copy_ws_ns", "pct_of_copy_ws")
DECODE_DIMS = ("64", "768", "4096")
BLOCK = re.compile(r"^block/(?P<layout>prenorm|postnorm)/(?P<norm>rmsnorm|layernorm)/(?P<act>gelu|silu|swiglu)/"
                   r"(?P<impl>[a-z0-9_]+)/(?P<path>scalar|unfused|fused|peer)/d:(?P<d>\d+)/rows:(?P<rows>\d+)$")
LEVELS = ("L1", "L2", "L3", "DRAM")


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


def environment(extra=None):
    env = dict(os.environ)
    env.pop("NORMKIT_ISA", None)
    env.pop("HWLOC_SYNTHETIC", None)
    env.update(extra or {})
    return env


def run(args, timeout=600, env=None):
    return subprocess.run(wrapper + [bench] + args, capture_output=True, text=True,
                          env=environment(env), timeout=timeout)


def info_json(env=None):
    return json.loads(subprocess.run(wrapper + [info, "--json"], capture_output=True, text=True,
                                     check=True, env=environment(env)).stdout)


def check_bound(name, b):
    """A norm case's bound counters: present, finite, positive (never their values: timings)."""
    for counter in BOUND:
        v = b.get(counter)
        check(isinstance(v, (int, float)) and math.isfinite(v) and v > 0,
              f"{name}: {counter} present, finite and positive (got {v!r})")
    if all(isinstance(b.get(k), (int, float)) and b[k] > 0 for k in BOUND):
        check(abs(b["pct_of_bound"] - 100 * b["bound_ns"] / b["ns_per_call"]) <= 1e-6 * b["pct_of_bound"],
              f"{name}: pct_of_bound = 100 bound_ns / ns_per_call")
        check(abs(b["ns_per_call"] - b["cpu_time"] * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b["time_unit"]])
              <= 0.05 * b["ns_per_call"], f"{name}: ns_per_call is the CPU time per call")


def parse_list(stdout):
    out = []
    for line in stdout.splitlines():
        name, label, ws, nbytes = line.split("\t")
        out.append((name, label, float(ws), float(nbytes)))
    return out


# --- own flags -----------------------------------------------------------------------------
p = run(["--help"])
check(p.returncode == 0, f"--help exits 0 (got {p.returncode})")
for flag in ("--profile=quick", "--profile=full", "--variants=all", "--no-pin", "--benchmark_filter",
             "pct_of_bound"):
    check(flag in p.stdout, f"--help mentions {flag}")

p = run(["--profile=slow"])
check(p.returncode == 2, f"--profile=slow exits 2 (got {p.returncode})")
check("--profile must be quick or full" in p.stderr and "slow" in p.stderr,
      "--profile=slow says what is wrong")
check(p.stdout == "", "a bad flag prints nothing on stdout")
p = run(["--variants=some"])
check(p.returncode == 2 and "--variants must be defaults or all" in p.stderr,
      f"--variants=some exits 2 and says what is wrong (got {p.returncode}: {p.stderr.strip()})")
for bad in ("--frobnicate", "--benchmark_frobnicate=1", "stray"):
    p = run([bad])
    check(p.returncode == 2, f"{bad} exits 2 (got {p.returncode})")
    check("unknown option" in p.stderr and bad.split("=")[0] in p.stderr, f"{bad} is named on stderr")

# --- the truth: normkit-info ---------------------------------------------------------------
doc = info_json()
supported = set(doc["isa"]["supported"])
expected = {(k["op"], k["isa"]) for k in doc["kernels"] if k["supported"]}
linear_ops = sorted(op for op, t in doc["ops"].items() if t["linear"])
ops = sorted({k["op"] for k in doc["kernels"]} - set(linear_ops))  # the norm and elementwise ops
norm_ops = sorted(op for op in ops if doc["ops"][op]["norm"] != "none")  # the ones with a bound
topo = doc["topology"]
caps = [topo.get("l1d_bytes", 0), topo.get("l2_bytes", 0), topo.get("l3_bytes", 0)]
check(expected, "normkit-info lists supported kernels")

# --- --list: names and levels of the whole quick profile -----------------------------------
p = run(["--profile=quick", "--list"])
check(p.returncode == 0, f"--list exits 0 (got {p.returncode}): {p.stderr}")
cases = parse_list(p.stdout)
for name, label, _, _ in cases:
    check(KERNEL.match(name) or LINEAR.match(name) or BANDWIDTH.match(name) or FMA.match(name)
          or ROWCALL.match(name) or BLOCK.match(name), f"name parses: {name}")
    check(label in LEVELS + ("REG",), f"{name}: label {label!r} is a level")
names = [c[0] for c in cases]
check(len(names) == len(set(names)), "names are unique")
listed = {(m["op"], m["isa"]) for m in map(KERNEL.match, names) if m}
# the quick profile's linear cases: rmsnorm_linear (the full profile has all three)
lin_listed = {(m["op"], m["isa"]) for m in map(LINEAR.match, names) if m}
check(not ({op for op, _ in listed} & set(linear_ops)), "no linear operator under the norm grammar")
for op, isa in sorted(expected):
    if op in linear_ops:
        if op == "rmsnorm_linear":
            for v in ("", "_packed", "_unfused") if isa != "scalar" else ("", "_unfused"):
                check((op, isa + v) in lin_listed, f"{op} x {isa}{v} is benchmarked")
        continue
    check((op, isa) in listed, f"{op} x {isa} is benchmarked")
# one variant per operator, ISA and shape (the ISA's default, not every knob variant)
kshapes = [(m["op"], m["isa"], m["dim"], m["rows"]) for m in map(KERNEL.match, names) if m]
check(len(kshapes) == len(set(kshapes)), "one case per operator, isa and shape (the default variant)")
# the decode rows, and each norm case's copy of the same working set
copy_ws = {int(m["bytes"]) for m in map(BANDWIDTH.match, names) if m and m["kind"] == "copy_ws"}
for op in norm_ops:
    for isa in {i for o, i in listed if o == op}:
        for d in DECODE_DIMS:
            check((op, isa, d, "1") in kshapes, f"{op} x {isa} has the decode row dim {d} x rows 1")
# the public entry point (isa field api): every norm operator, on exactly its decode rows
for op in norm_ops:
    got = sorted((int(d), int(r)) for o, i, d, r in kshapes if o == op and i == "api")
    want = sorted((int(d), 1) for d in DECODE_DIMS)
    check(got == want, f"{op} x api: the decode rows {want} and no other shape ({got})")
for name, _, ws, _ in cases:
    m = KERNEL.match(name)
    if m and m["op"] in norm_ops:
        # the copy kernel's sizes are multiples of 1 KiB (two arrays of 128-float blocks)
        check(any(abs(b - ws) <= 512 for b in copy_ws), f"{name}: a ceiling_copy_ws of its working set ({ws:.0f})")
# --variants=all: every knob variant of normkit-info's list, named <isa>_<knobs>
p_all = run(["--profile=quick", "--variants=all", "--list"])
all_names = [c[0] for c in parse_list(p_all.stdout)] if p_all.returncode == 0 else []
check(p_all.returncode == 0, f"--variants=all --list exits 0 (got {p_all.returncode}): {p_all.stderr}")
all_listed = {(m["op"], m["isa"]) for m in map(KERNEL.match, all_names) if m}
for k in doc["kernels"]:
    if k["supported"] and k["op"] in ops:
        field = k["name"].split("__", 1)[1]  # normkit_<op>_f32__<isa>[_<knobs>]
        check((k["op"], field) in all_listed, f"--variants=all benchmarks {k['name']} as isa {field}")
p_full = run(["--profile=full", "--list"])
full_lin = {(m["op"], m["isa"]) for c in parse_list(p_full.stdout) if (m := LINEAR.match(c[0]))}
for op in linear_ops:
    check((op, "autovec_fastmath") in full_lin, f"{op} x autovec_fastmath in the full profile")
    for isa in supported - {"scalar"}:
        check((op, isa) in full_lin and (op, isa + "_packed") in full_lin,
              f"{op} x {isa} (row-major and packed) in the full profile")
for op in ops:
    for isa in ("autovec", "autovec_fastmath"):
        check((op, isa) in listed, f"{op} x {isa} is benchmarked")
    levels_of_op = {c[1] for c in cases if KERNEL.match(c[0]) and KERNEL.match(c[0])["op"] == op}
    want = [LEVELS[i] for i in range(3) if caps[i]] + ["DRAM"]
    for lvl in want:
        check(lvl in levels_of_op, f"{op} has a shape in {lvl} (quick profile)")
# blocks: every supported SIMD ISA's unfused and fused paths, and the scalar path, for each
# quick configuration, at rows 1, 32 and 512 (scalar: up to its FLOP limit)
blocks = [m for m in map(BLOCK.match, names) if m]
check(blocks, "the quick profile has block cases")
configs = {(m["layout"], m["norm"], m["act"], m["d"]) for m in blocks}
check({c[:3] for c in configs} >= {("prenorm", "rmsnorm", "swiglu"), ("postnorm", "layernorm", "gelu")},
      f"the gated pre-norm and a post-norm block are in the quick profile ({sorted(configs)})")
have = {(m["layout"], m["norm"], m["act"], m["d"], m["impl"], m["path"], m["rows"]) for m in blocks}
for cfg in configs:
    for isa in supported - {"scalar"}:
        for path in ("unfused", "fused"):
            for rows in ("1", "32", "512"):
                check(cfg + (isa, path, rows) in have, f"block {cfg} {isa}/{path} rows {rows}")
    check(cfg + ("scalar", "scalar", "1") in have, f"block {cfg} scalar path at rows 1")
ceil_isas = {m["isa"] for m in map(FMA.match, names) if m}
row_isas = {(m["isa"], bool(m["ln"])) for m in map(ROWCALL.match, names) if m}
for isa in supported:
    check(isa in ceil_isas, f"an FMA ceiling for {isa}")
    check((isa, False) in row_isas, f"a ceiling_rowcall (RMSNorm's row) for {isa}")
    check((isa, True) in row_isas, f"a ceiling_rowcall_ln (LayerNorm's row) for {isa}")
    for kind in ("read", "copy", "triad"):
        lvls = {c[1] for c in cases if (m := BANDWIDTH.match(c[0])) and m["kind"] == kind and m["isa"] == isa}
        check(set(want) <= lvls, f"ceiling_{kind} for {isa} at every level ({sorted(lvls)})")
    lvls = {c[1] for c in cases if (m := BANDWIDTH.match(c[0])) and m["kind"] == "write" and m["isa"] == isa}
    check(lvls == {"L1"}, f"ceiling_write for {isa} in L1 only ({sorted(lvls)})")

# --- a real run: one shape per operator (the smallest), the smallest ceilings, and the
# decode-sized (rows 1) rmsnorm_linear cases --------------------------------------------------
pick = {c[0] for c in cases if (m := LINEAR.match(c[0])) and m["rows"] == "1"}
lin_picked = {(m["op"], m["isa"]) for n in pick if (m := LINEAR.match(n))}
for op in ops:
    ks = [c for c in cases if (m := KERNEL.match(c[0])) and m["op"] == op]
    smallest = min(c[2] for c in ks)
    pick |= {c[0] for c in ks if c[2] == smallest}
for c in cases:
    m = BANDWIDTH.match(c[0])
    if m and c[1] == "L1" or FMA.match(c[0]) or ROWCALL.match(c[0]):
        pick.add(c[0])
# one block configuration at rows 1: every path and peer
first_block = blocks[0] if blocks else None
block_pick = {m.string for m in blocks if first_block and m["rows"] == "1" and
              (m["layout"], m["norm"], m["act"], m["d"]) ==
              (first_block["layout"], first_block["norm"], first_block["act"], first_block["d"])}
pick |= block_pick
regex = "^(" + "|".join(sorted(pick)) + ")$"
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "bench.json")
    p = run(["--profile=quick", "--benchmark_filter=" + regex, "--benchmark_min_time=0.01",
             "--benchmark_out=" + out, "--benchmark_out_format=json"])
    check(p.returncode == 0, f"the run exits 0 (got {p.returncode}): {p.stderr[-2000:]}")
    with open(out) as f:
        res = json.load(f)

ctx = res["context"]
for key in ("normkit_version", "normkit_git", "profile", "cpu_model", "isa_active", "isa_cpu",
            "topo_cores", "cache_l1d_bytes", "cache_l2_bytes", "cache_l3_bytes", "pinning",
            "compiler_c", "compiler_cpp", "build_options", "flags_autovec", "lib_hwloc",
            "lib_benchmark", "lib_eigen", "lib_onednn", "lib_sleef", "ceiling_isa_map",
            "cache_source"):
    check(key in ctx and ctx[key] != "", f"context has {key}")
src = topo.get("cache_source", {})
check(ctx.get("cache_source") == f"L1d={src.get('l1d')} L2={src.get('l2')} L3={src.get('l3')}",
      f"context's cache_source ({ctx.get('cache_source')!r}) agrees with normkit-info ({src})")
check([ctx.get(f"cache_{k}_bytes") for k in ("l1d", "l2", "l3")] == [str(c) for c in caps],
      "context's cache sizes agree with normkit-info")
check(ctx.get("profile") == "quick", "context records the profile")
check(ctx.get("isa_active") == doc["isa"]["active"], "context's isa_active agrees with normkit-info")
check(ctx.get("pinning", "").startswith("thread bound to core"), f"pinned by default ({ctx.get('pinning')})")

ran = {b["name"]: b for b in res["benchmarks"]}
check(set(ran) == pick, f"the filter ran exactly the picked cases (missing {sorted(pick - set(ran))})")
seen = set()
for name, b in ran.items():
    check(not b.get("error_occurred"), f"{name}: no error ({b.get('error_message')})")
    if FMA.match(name):
        check(b.get("flops_per_second", 0) > 0, f"{name}: positive flops_per_second")
        check(b.get("label") == "REG", f"{name}: label REG")
        continue
    if ROWCALL.match(name):
        check(b.get("ns_per_call", 0) > 0, f"{name}: positive ns_per_call")
        check(b.get("label") == "L1", f"{name}: label L1")
        continue
    if BLOCK.match(name):
        for counter in ("tokens_per_second", "flops_per_second", "rows_per_second"):
            check(b.get(counter, 0) > 0, f"{name}: positive {counter}")
        check(b.get("label") in LEVELS, f"{name}: cache-level label ({b.get('label')!r})")
        continue
    check(b.get("bytes_per_second", 0) > 0, f"{name}: positive bytes_per_second")
    check(b.get("working_set_bytes", 0) > 0, f"{name}: positive working_set_bytes")
    check(b.get("label") in LEVELS, f"{name}: cache-level label ({b.get('label')!r})")
    m = KERNEL.match(name) or LINEAR.match(name)
    if m:
        seen.add((m["op"], m["isa"]))
        check(b.get("rows_per_second", 0) > 0, f"{name}: positive rows_per_second")
    if KERNEL.match(name) and m["op"] in norm_ops:
        check_bound(name, b)
    if LINEAR.match(name):
        check(b.get("flops_per_second", 0) > 0, f"{name}: positive flops_per_second")
for op, isa in sorted(expected):
    if op not in linear_ops:
        check((op, isa) in seen, f"{op} x {isa} ran")
check(lin_picked and lin_picked <= seen, f"the rows-1 linear cases ran ({sorted(lin_picked - seen)})")
for peer in ("onednn", "openblas", "xnnpack"):
    built = peer + ":" in ctx.get("linear_peers", "")
    usable = built and (peer + ": disabled") not in ctx.get("linear_peers", "")
    check(usable == (("rmsnorm_linear", peer) in seen),
          f"the {peer} linear peer ran exactly when linear_peers says it is usable")
for op in ops:
    for isa in ("autovec", "autovec_fastmath"):
        check((op, isa) in seen, f"{op} x {isa} ran")
for peer, key in (("eigen", "lib_eigen"), ("onednn", "lib_onednn")):
    present = not ctx.get(key, "absent").startswith(("absent", "disabled"))
    check(present == any(i == peer for _, i in seen), f"{peer} ran exactly when {key} says present")
check(any(BANDWIDTH.match(n) for n in ran) and any(FMA.match(n) for n in ran), "ceilings ran")

# --no-pin is honoured and recorded
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "nopin.json")
    fma_one = sorted(n for n in names if FMA.match(n))[0]
    p = run(["--no-pin", "--benchmark_filter=^" + fma_one + "$", "--benchmark_min_time=0.01",
             "--benchmark_out=" + out])
    check(p.returncode == 0, f"--no-pin run exits 0 (got {p.returncode})")
    if p.returncode == 0:
        with open(out) as f:
            check(json.load(f)["context"].get("pinning") == "off (--no-pin)", "--no-pin is recorded")

# --- no caches from hwloc ------------------------------------------------------------------
# hwloc's synthetic topology has no caches, as on a host without /sys/devices/system/cpu/cpuN/
# cache (containers, some VMs, qemu-user): the sizes come from the fallback, and the levels
# and ceilings are there as on any machine.
SYNTH = {"HWLOC_SYNTHETIC": "pack:1 core:2 pu:1"}
SOURCES = ("sysconf", "cpuid", "assumed")
sdoc = info_json(SYNTH)
stopo = sdoc["topology"]
scaps = [stopo.get("l1d_bytes", 0), stopo.get("l2_bytes", 0), stopo.get("l3_bytes", 0)]
ssrc = stopo.get("cache_source", {})
check(stopo.get("cores") == 2 and stopo.get("l3_count") == 0,
      f"normkit-info sees the synthetic topology ({stopo})")
check(all(c > 0 for c in scaps), f"synthetic topology: every cache level has a size ({scaps})")
check(all(ssrc.get(k) in SOURCES for k in ("l1d", "l2", "l3")),
      f"synthetic topology: every size comes from sysconf, cpuid or assumed, not hwloc ({ssrc})")


def level_of(ws, caps):
    for i, c in enumerate(caps):
        if ws <= c:
            return LEVELS[i]
    return "DRAM"


p = run(["--profile=quick", "--list"], env=SYNTH)
check(p.returncode == 0, f"synthetic topology: --list exits 0 (got {p.returncode}): {p.stderr}")
check("labelled DRAM" not in p.stderr and "warning: no" not in p.stderr,
      f"synthetic topology: no warning about missing caches ({p.stderr.strip()!r})")
scases = parse_list(p.stdout)
for name, label, ws, _ in scases:
    if KERNEL.match(name) or BANDWIDTH.match(name):
        check(label == level_of(ws, scaps), f"synthetic topology: {name} labelled {label} "
                                            f"by the fallback sizes ({level_of(ws, scaps)})")
skernels = [(KERNEL.match(c[0]), c[1]) for c in scases if KERNEL.match(c[0])]
for op, isa in sorted({(m["op"], m["isa"]) for m, _ in skernels if m["isa"] != "api"}):
    # one shape per level, plus the decode rows of the norm operators (a level's shape may be one)
    def decode(m):
        return m["op"] in norm_ops and m["rows"] == "1" and m["dim"] in DECODE_DIMS
    per_level = {lvl: [m for m, l in skernels if m["op"] == op and m["isa"] == isa and l == lvl]
                 for lvl in LEVELS}
    check(all(ms and len([m for m in ms if not decode(m)]) <= 1 and (len(ms) == 1 or op in norm_ops)
              for ms in per_level.values()),
          f"synthetic topology: {op} x {isa} has one case per level, besides the decode rows "
          f"({ {lvl: len(ms) for lvl, ms in per_level.items()} })")
check({(m["op"], m["isa"]) for m, _ in skernels} == listed,
      "synthetic topology: the same operator x variant pairs as with hwloc's caches")
# (besides one per level, a read ceiling of each linear shape's own W size)
w_sizes = {4 * int(m["n"]) * int(m["dim"]) for c in scases if (m := LINEAR.match(c[0]))}
for isa in supported:
    for kind in ("read", "copy", "triad"):
        lvls = [c[1] for c in scases if (m := BANDWIDTH.match(c[0])) and m["kind"] == kind
                and m["isa"] == isa
                and not (kind == "read" and any(abs(int(m["bytes"]) - w) <= w // 64 for w in w_sizes))]
        check(sorted(lvls) == sorted(LEVELS), f"synthetic topology: ceiling_{kind} for {isa} once at every level ({sorted(lvls)})")

# a tiny run: the scalar variant of each operator at its L1 shape, the L1 bandwidth ceilings
spick = {c[0] for c in scases if c[1] == "L1" and BANDWIDTH.match(c[0])}
for op in sorted({m["op"] for m, _ in skernels}):  # one L1 scalar case per operator
    spick |= {next(c[0] for c in scases if c[1] == "L1" and (m := KERNEL.match(c[0]))
                   and m["op"] == op and m["isa"] == "scalar")}
sops = sorted({m["op"] for m, _ in skernels})
check(sops and sorted(KERNEL.match(n)["op"] for n in spick if KERNEL.match(n)) == sops,
      f"synthetic topology: an L1 scalar case per operator ({sops})")
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "synthetic.json")
    p = run(["--profile=quick", "--benchmark_filter=^(" + "|".join(sorted(spick)) + ")$",
             "--benchmark_min_time=0.01", "--benchmark_out=" + out, "--benchmark_out_format=json"],
            env=SYNTH)
    check(p.returncode == 0, f"synthetic topology: the run exits 0 (got {p.returncode}): {p.stderr[-2000:]}")
    sres = {"context": {}, "benchmarks": []}
    if p.returncode == 0 and check(os.path.exists(out) and os.path.getsize(out) > 0,
                                   "synthetic topology: the run wrote its JSON"):
        with open(out) as f:
            sres = json.load(f)
sctx = sres["context"]
sran = {b["name"]: b for b in sres["benchmarks"]}
check(set(sran) == spick, f"synthetic topology: the filter ran the picked cases (missing {sorted(spick - set(sran))})")
check(any(BANDWIDTH.match(n) and b.get("label") == "L1" and b.get("bytes_per_second", 0) > 0
          for n, b in sran.items()), "synthetic topology: L1 ceilings ran")
for name, b in sran.items():
    check(not b.get("error_occurred") and b.get("label") == "L1", f"synthetic topology: {name} ran in L1")
    if (m := KERNEL.match(name)) and m["op"] in norm_ops:
        check_bound("synthetic topology: " + name, b)  # its FMA and rowcall ceilings were left out
cs = re.fullmatch(r"L1d=(\w+) L2=(\w+) L3=(\w+)", sctx.get("cache_source", ""))
check(cs and all(g in SOURCES for g in cs.groups()),
      f"synthetic topology: cache_source names a fallback per level, not hwloc ({sctx.get('cache_source')!r})")
check(cs and list(cs.groups()) == [ssrc.get(k) for k in ("l1d", "l2", "l3")],
      "synthetic topology: cache_source agrees with normkit-info")
check([sctx.get(f"cache_{k}_bytes") for k in ("l1d", "l2", "l3")] == [str(c) for c in scaps],
      "synthetic topology: the context's cache sizes are the fallback sizes")

print(f"ran {len(ran)} cases ({len(seen)} operator x isa pairs) of {len(cases)} listed; "
      f"synthetic topology: {len(sran)} of {len(scases)}")
print(f"{'FAIL' if failures else 'PASS'}: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
