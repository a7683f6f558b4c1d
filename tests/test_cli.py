#!/usr/bin/env python3
"""normkit-info as a user meets it: --help, a bad flag, text and JSON output, NORMKIT_ISA.

usage: test_cli.py NORMKIT_INFO [WRAPPER...]   (WRAPPER: e.g. qemu-aarch64 in cross builds)
"""
import json
import os
import platform
import re
import subprocess
import sys

info = sys.argv[1:]
failures = []


def run(args, env_isa=None, env_extra=None):
    env = dict(os.environ)
    env.pop("NORMKIT_ISA", None)
    env.pop("HWLOC_SYNTHETIC", None)
    if env_isa is not None:
        env["NORMKIT_ISA"] = env_isa
    env.update(env_extra or {})
    wrapper, exe = info[1:], info[0]
    return subprocess.run(wrapper + [exe] + args, capture_output=True, text=True, env=env, timeout=60)


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


p = run(["--help"])
check(p.returncode == 0 and "usage: normkit-info" in p.stdout, "--help exits 0 with a usage text")

p = run(["--frobnicate"])
check(p.returncode == 2, f"an unknown flag exits 2 (got {p.returncode})")
check("unknown option '--frobnicate'" in p.stderr, "an unknown flag is named on stderr")
check(p.stdout == "", "an unknown flag prints nothing on stdout")

p = run([])
check(p.returncode == 0, "text output exits 0")
for op in ("rmsnorm", "layernorm", "add_rmsnorm", "add_layernorm"):
    check(op in p.stdout, f"text output names {op}")
check("topology:" in p.stdout, "text output has the topology line")

p = run(["--json"])
check(p.returncode == 0, "--json exits 0")
doc = json.loads(p.stdout)
supported = doc["isa"]["supported"]
check("scalar" in supported, "scalar is always supported")
# the list is in enum order, weakest first within each architecture's family; auto runs the
# last, but NEON rather than SVE with 128-bit SVE vectors (dispatch.c, default_isa)
want = supported[-1]
if want == "sve" and doc["cpu"].get("sve_bits", 0) < 256 and "neon" in supported:
    want = "neon"
check(doc["isa"]["active"] == want,
      "with NORMKIT_ISA unset auto's choice is active (%s, SVE bits %s)"
      % (want, doc["cpu"].get("sve_bits", "-")))
check(("sve" in doc["cpu"]["features"]) == (doc["cpu"].get("sve_bits", 0) in range(128, 2049, 128)),
      "an SVE CPU reports its vector length (128..2048 bits), others none")
for op, d in doc["dispatch"].items():
    check(d["kernel"].startswith(f"normkit_{op}_f32__"), f"{op} dispatches to one of its variants")
for k in doc["kernels"]:
    check(k["supported"] == (k["isa"] in supported), f"{k['name']}: 'supported' agrees with the ISA list")
    knobs = k.get("knobs", {})
    mem = {"nt_min_bytes", "dram_min_bytes"}
    lin = {"lin_kc", "lin_mc", "lin_prefetch", "lin_pack_rows", "pack_nr", "pack_vl"}
    op = doc.get("ops", {}).get(k["op"], {})
    linear, norm = op.get("linear"), not op.get("linear") and not op.get("elementwise")
    check(set(knobs) == (mem | lin if linear else mem | {"pipe_max_dim"} if norm else mem)
          and all(v is None or (isinstance(v, int) and v >= 0) for v in knobs.values()),
          f"{k['name']}: its default knobs are listed (bytes, or null for never)")
    # the compiled knobs: the name's suffix after the ISA, and the same as data
    suffix = "_".join("%s%d" % kv for kv in k.get("compiled", {}).items())
    check(k.get("variant") == suffix and k["name"].endswith(k["isa"] + ("_" + suffix if suffix else "")),
          f"{k['name']}: variant '{k.get('variant')}' and compiled knobs agree with the name")
    if linear:
        check(knobs.get("pack_nr", 0) >= 1 and knobs.get("pack_vl", 0) >= 1,
              f"{k['name']}: its packed layout is listed")
    if k["isa"] == "scalar" or linear:
        check(all(knobs.get(v) is None for v in mem), f"{k['name']}: no memory modes")
for op, d in doc["dispatch"].items():
    names = {k["name"] for k in doc["kernels"] if k["op"] == op and k["isa"] == d["isa"]}
    check(set(d.get("classes", {})) == {"l1_row", "l1_rows", "l2_row", "l2_rows", "mem_row", "mem_rows"}
          and all(v in names for v in d["classes"].values()),
          f"{op}: every shape class runs a variant of the active ISA")
topo = doc["topology"]
check("error" not in topo and topo["cores"] >= 1 and topo["pus"] >= topo["cores"],
      "hwloc reports at least one core")

# Cache sizes: every level has one and says where it came from, hwloc's when it has one, else
# sysconf, CPUID or an assumed typical size (normkit_cpu_caches).
LEVELS = ("l1d", "l2", "l3")
SOURCES = ("hwloc", "sysconf", "cpuid", "assumed")


def caches_ok(topo, text, where, allowed):
    src = topo.get("cache_source", {})
    sizes = [topo.get(f"{l}_bytes", 0) for l in LEVELS]
    check(isinstance(src, dict) and set(src) == set(LEVELS) and all(src[l] in allowed for l in LEVELS),
          f"{where}: --json has a cache_source per level from {allowed} ({src})")
    check(all(isinstance(b, int) and b > 0 for b in sizes), f"{where}: every cache level has a size ({sizes})")
    line = next((l for l in text.splitlines() if l.startswith("topology:")), "")
    for l, name in zip(LEVELS, ("L1d", "L2", "L3")):
        check(re.search(rf"\b{name} \d+ [KM]iB( x \d+)? \({src.get(l)}\)", line),
              f"{where}: the text names {name}'s size and source ({line!r})")
    return src, sizes, line


real_src, real_sizes, _ = caches_ok(topo, run([]).stdout, "this machine", SOURCES)
if topo.get("l3_count", 0) > 0:  # hwloc has L3 objects: their size is hwloc's
    check(real_src.get("l3") == "hwloc", f"hwloc's L3 is reported as hwloc's ({real_src})")

# hwloc's synthetic topology has no caches (as in a container, some VMs, qemu-user): the
# sizes come from the fallback, never claimed as hwloc's.
SYNTH = {"HWLOC_SYNTHETIC": "pack:1 core:2 pu:1"}
p = run(["--json"], env_extra=SYNTH)
check(p.returncode == 0, f"synthetic topology: --json exits 0 (got {p.returncode})")
stopo = json.loads(p.stdout)["topology"]
check(stopo.get("cores") == 2 and stopo.get("l3_count") == 0, f"the synthetic topology is used ({stopo})")
p = run([], env_extra=SYNTH)
check(p.returncode == 0, f"synthetic topology: text output exits 0 (got {p.returncode})")
syn_src, syn_sizes, line = caches_ok(stopo, p.stdout, "synthetic topology", SOURCES[1:])
check(" x 0" not in line, f"synthetic topology: no L3 count of 0 in the text ({line!r})")

# hwloc failing to load altogether (hwloc 2: an empty component list): still the sizes.
p = run(["--json"], env_extra={"HWLOC_COMPONENTS": "stop"})
check(p.returncode == 0, f"HWLOC_COMPONENTS=stop: --json exits 0 (got {p.returncode})")
ftopo = json.loads(p.stdout)["topology"]
if "error" in ftopo:
    caches_ok(ftopo, run([], env_extra={"HWLOC_COMPONENTS": "stop"}).stdout, "no hwloc topology", SOURCES[1:])
    check([ftopo.get(f"{l}_bytes") for l in LEVELS] == syn_sizes,
          "no hwloc topology: the same fallback sizes as under the synthetic topology")

# The features normkit reports are the ones the kernel reports (x86 Linux, native runs).
if doc["cpu"]["arch"] == "x86_64" and len(info) == 1 and os.path.exists("/proc/cpuinfo"):
    flags = set()
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    feats = set(doc["cpu"]["features"])
    for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"):
        check((f in feats) == (f in flags), f"{f}: normkit and /proc/cpuinfo agree")
    if any(k["isa"] == "avx512" for k in doc["kernels"]):
        check(("avx512" in supported) == all(f in flags for f in ("avx512f", "avx512bw", "avx512vl", "avx512dq")),
              "avx512 is supported exactly when the kernel lists F, BW, VL and DQ")

# NORMKIT_ISA: every supported ISA can be forced; a bad value warns and falls back.
for isa in supported:
    p = run(["--json"], env_isa=isa)
    d = json.loads(p.stdout)
    check(d["isa"]["active"] == isa and p.stderr == "", f"NORMKIT_ISA={isa} is honoured silently")
    for op, k in d["dispatch"].items():
        if any(v["op"] == op and v["isa"] == isa for v in d["kernels"]):
            check(k["isa"] == isa, f"NORMKIT_ISA={isa}: {op} runs the {isa} variant")
p = run(["--json"], env_isa="avx9000")
d = json.loads(p.stdout)
check(d["isa"]["active"] == doc["isa"]["active"], "a bad NORMKIT_ISA falls back to the best ISA")
check(p.stderr.count("warning") == 1 and "NORMKIT_ISA=avx9000" in p.stderr, "a bad NORMKIT_ISA warns once")

print(f"{'FAIL' if failures else 'PASS'}: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
