#!/usr/bin/env python3
"""The report generator on fixture runs (real normkit-bench output, trimmed, in tests/data).

usage: test_report.py GENERATOR RUN_A.json RUN_B.json REPS_A.json REPS_B.json LINEAR.json BLOCKS.json
                      DEPTH.json BOUND.json
RUN_A/RUN_B: one repetition per case; REPS_A/REPS_B: --benchmark_repetitions=3 (iterations
and the mean/median/stddev/cv aggregates); LINEAR: norm + linear cases (fused, packed, unfused,
_2t, two peers) with one ceiling_fma and one ceiling_read; BLOCKS: whole-block cases (synthetic,
tests/data/make-bench-blocks.py: one configuration with 3 repetitions, one with 1); DEPTH:
normkit-depth's JSON on a tiny stack; BOUND: norm cases with normkit-bench's bound counters
(pct_of_bound, bound_ns, ns_per_call, pct_of_copy_ws, copy_ws_ns), the decode rows and the
ceilings the bound reads.
Checks figures against the fixture entries they come from, that every image is a real PNG,
that the HTML is self-contained, the spread (CV, min-max) in every output, compare mode's
ratios, the --fail-above gate (ranges, median-only fallback labelled, missing/failed cases),
--isa and --filter, unknown context keys shown, the norm + linear section (its ratios, the
winner, the plot, the CSV rows, kept out of the norm tables, in compare mode), the blocks
section (tokens/s, the fused path's ratios and targets, recomputed from the fixture), the depth
section (--depth, --run-depth), the bound (the % of bound and same-size copy columns, misses
marked by the rule recomputed from the fixture, the decode table, the summary.csv columns; run
names with knob variants, as --variants=all writes them; no bound columns for runs without
counters), each section omitted without its data, and that each kind of bad input gives its
one-line message, a non-zero exit and no output folder.
"""
import csv
import functools
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

gen, run_a, run_b, reps_a, reps_b, linear, blocks, depth, bound = sys.argv[1:10]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def generate(*args):
    return subprocess.run([sys.executable, gen, *args], capture_output=True, text=True, timeout=300)


def median_entry(path, name):
    """(CPU time in ns, bytes_per_second) of a case in a fixture, the way the report must read
    it: the median aggregate when there is one, else the single iteration entry."""
    doc = json.load(open(path))
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
    entries = [b for b in doc["benchmarks"] if b.get("run_name", b["name"]) == name]
    med = [b for b in entries if b.get("aggregate_name") == "median"]
    b = (med or entries)[0]
    # CPU time: the time normkit-bench's rates are computed from
    return b.get("cpu_time", b["real_time"]) * scale[b["time_unit"]], b.get("bytes_per_second", 0)


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


SCALE = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}


def spread_entry(path, name):
    """(median, [per-repetition times], cv fraction or None) of a case in a fixture, CPU ns."""
    doc = json.load(open(path))
    entries = [b for b in doc["benchmarks"] if b.get("run_name", b["name"]) == name]
    reps = [b["cpu_time"] * SCALE[b["time_unit"]] for b in entries if b.get("run_type") == "iteration"]
    cv = [b["cpu_time"] for b in entries if b.get("aggregate_name") == "cv"]
    return median_entry(path, name)[0], reps, cv[0] if cv else None


def kernel_names(path):
    doc = json.load(open(path))
    return sorted({b.get("run_name", b["name"]) for b in doc["benchmarks"]
                   if not b["name"].startswith("ceiling_")})


def set_times(doc, name, times_ns):
    """Gives a case of a repetitions fixture these per-repetition CPU times, with the median,
    mean, stddev and cv aggregates and the rates recomputed as Google Benchmark would."""
    its = sorted((b for b in doc["benchmarks"] if b["run_name"] == name and b["run_type"] == "iteration"),
                 key=lambda b: b["repetition_index"])
    assert len(its) == len(times_ns), (name, len(its))
    per_call = its[0]["bytes_per_second"] * its[0]["cpu_time"] * SCALE[its[0]["time_unit"]] * 1e-9
    for b, t in zip(its, times_ns):
        b["cpu_time"] = b["real_time"] = t / SCALE[b["time_unit"]]
        b["bytes_per_second"] = per_call / (t * 1e-9)
    mean, med, sd = statistics.fmean(times_ns), statistics.median(times_ns), statistics.stdev(times_ns)
    for b in doc["benchmarks"]:
        if b["run_name"] == name and b["run_type"] == "aggregate":
            v = {"mean": mean, "median": med, "stddev": sd}.get(b["aggregate_name"])
            if v is not None:
                b["cpu_time"] = b["real_time"] = v / SCALE[b["time_unit"]]
                if b["aggregate_name"] == "median":
                    b["bytes_per_second"] = per_call / (v * 1e-9)
            elif b["aggregate_name"] == "cv":
                b["cpu_time"] = b["real_time"] = sd / mean


def one_repetition(doc):
    """The run as if made without --benchmark_repetitions: the first repetition of each case."""
    out = []
    for b in doc["benchmarks"]:
        if b["run_type"] == "iteration" and b["repetition_index"] == 0:
            b = dict(b, repetitions=1)
            out.append(b)
    doc["benchmarks"] = out


def aggregates_only(doc):
    """The run as --benchmark_report_aggregates_only=true writes it: no per-repetition entries."""
    doc["benchmarks"] = [b for b in doc["benchmarks"] if b["run_type"] == "aggregate"]


def write_json(doc, name):
    path = os.path.join(tmp, name)
    json.dump(doc, open(path, "w"))
    return path


def regression_names(stderr):
    return {m.group(1) for m in re.finditer(r"^regression: (\S+) in ", stderr, re.M)}


tmp = tempfile.mkdtemp(prefix="nk-report-test-")

# ---- one run ----
out = os.path.join(tmp, "single")
p = generate("-o", out, run_a)
check(p.returncode == 0, f"a report from {os.path.basename(run_a)} (stderr: {p.stderr.strip()[:300]})")
for f in ("report.md", "index.html", "summary.csv"):
    check(os.path.isfile(os.path.join(out, f)), f"{f} is written")
images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", open(os.path.join(out, "report.md")).read())
check(len(images) >= 2, "report.md shows at least two plots")
for img in images:
    check(os.path.isfile(os.path.join(out, img)) and is_png(os.path.join(out, img)), f"{img} is a PNG file")
page = open(os.path.join(out, "index.html")).read()
check(not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", page), "index.html has no external src/href")
check("<script" not in page and "<link" not in page and "@import" not in page and "url(" not in page,
      "index.html loads no scripts, stylesheets or fonts")
check(page.count("data:image/png;base64,") == len(images), "index.html embeds every plot")

# The speedup of the best ISA over scalar for one shape, recomputed from the fixture.
rows = list(csv.DictReader(open(os.path.join(out, "summary.csv"))))
doc = json.load(open(run_a))
names = {b.get("run_name", b["name"]) for b in doc["benchmarks"]}
pairs = [(n, n.replace("/scalar/", "/avx512/")) for n in sorted(names)
         if n.startswith("rmsnorm/f32/scalar/") and n.replace("/scalar/", "/avx512/") in names]
check(bool(pairs), "the fixture has rmsnorm scalar and avx512 cases of one shape")
for scalar_name, simd_name in pairs[:3]:
    t_s, _ = median_entry(run_a, scalar_name)
    t_v, bps = median_entry(run_a, simd_name)
    dim, nrows = re.search(r"dim:(\d+)/rows:(\d+)", simd_name).groups()
    row = [r for r in rows if r["op"] == "rmsnorm" and r["isa"] == "avx512" and r["dim"] == dim
           and r["rows"] == nrows]
    check(len(row) == 1, f"summary.csv has {simd_name}")
    if row:
        want = t_s / t_v
        got = float(row[0]["speedup_vs_scalar"])
        check(abs(got - want) <= 1e-3 * want, f"{simd_name}: speedup over scalar {got} == {want:.4f}")
        check(abs(float(row[0]["gbps"]) - bps / 1e9) <= 1e-3 * bps / 1e9, f"{simd_name}: GB/s from the fixture")
        md = open(os.path.join(out, "report.md")).read()
        check(f"{want:.3g}" in md, f"report.md shows the speedup {want:.3g}")

# ---- the bound: pct_of_bound, the same-size copy, misses, decode rows ----
BOUND_TARGET, PEER_TARGET = 85.0, 1.5  # docs/performance.md
OURS = ("scalar", "avx2", "avx512", "neon", "sve")
PLAIN = ("autovec", "autovec_fastmath")
KNOBS = re.compile(r"^(scalar|avx2|avx512|neon|sve)(_[a-z]+[0-9]+)*$")
NORM_NAME = re.compile(r"^(rmsnorm|layernorm|add_rmsnorm|add_layernorm)/f32/([a-z0-9_]+)/dim:(\d+)/rows:(\d+)$")


def bound_expectations(path):
    """{name: (isa, op, dim, rows, time_ns, pct, copy pct, judged, miss)} of a fixture's norm cases,
    the miss rule recomputed: normkit's SIMD variants below 85% of the bound and below 1.5x the
    fastest peer of the shape (eigen, onednn: neither normkit's nor the plain C)."""
    doc = json.load(open(path))
    cases = {}
    for b in doc["benchmarks"]:
        m = NORM_NAME.match(b["name"])
        if m:
            cases[b["name"]] = (m.group(2), m.group(1), int(m.group(3)), int(m.group(4)),
                                b["cpu_time"] * SCALE[b["time_unit"]], b.get("pct_of_bound"), b.get("pct_of_copy_ws"))
    out = {}
    for name, (isa, op, dim, rows, t, pct, cpct) in cases.items():
        peers = [c[4] for c in cases.values() if c[1:4] == (op, dim, rows) and not KNOBS.match(c[0])
                 and c[0] not in PLAIN and c[0] != "api"]
        x_peer = min(peers) / t if peers else None
        judged = bool(KNOBS.match(isa)) and not isa.startswith("scalar")
        miss = judged and pct < BOUND_TARGET and (x_peer is None or x_peer < PEER_TARGET)
        out[name] = (isa, op, dim, rows, t, pct, cpct, judged, miss)
    return out


def ns3(ns):
    return f"{ns:.3g}" if ns < 1000 else f"{ns:,.0f}"


def check_bound_report(path, label):
    """The bound's columns, marks, CSV and decode table of a report from `path`."""
    out = os.path.join(tmp, label)
    p = generate("-o", out, path)
    check(p.returncode == 0, f"{label}: a report from {os.path.basename(path)} (stderr: {p.stderr.strip()[:300]})")
    if p.returncode != 0:
        return
    md = open(os.path.join(out, "report.md")).read()
    page = open(os.path.join(out, "index.html")).read()
    want = bound_expectations(path)
    check(len(want) >= 40 and all(w[5] is not None and w[6] is not None for w in want.values()),
          f"{label}: the fixture's norm cases carry pct_of_bound and pct_of_copy_ws")
    check("| variant | µs/call | GB/s | % of ceiling | % of bound | % of same-size copy | × scalar | × autovec |" in md,
          f"{label}: the norm tables show % of bound beside % of ceiling, and the same-size copy")
    check("## Against the bound" in md and "<h2>Against the bound</h2>" in page, f"{label}: the bound section")
    rows = {f"{r['op']}/{r['dtype']}/{r['isa']}/dim:{r['dim']}/rows:{r['rows']}": r
            for r in csv.DictReader(open(os.path.join(out, "summary.csv")))}
    misses = [n for n, w in want.items() if w[8]]
    met = [n for n, w in want.items() if w[7] and not w[8]]
    check(misses and met, f"{label}: the fixture has judged cases that miss ({len(misses)}) and that meet a "
          f"target ({len(met)})")
    for name, (isa, op, dim, rows_, t, pct, cpct, judged_, miss) in sorted(want.items()):
        r = rows.get(name)
        check(r is not None and r["pct_of_bound"] == f"{pct:.1f}" and r["pct_of_copy_ws"] == f"{cpct:.1f}"
              and r["miss"] == str(int(miss)),
              f"{label}: summary.csv {name}: pct_of_bound {pct:.1f}, pct_of_copy_ws {cpct:.1f}, miss {int(miss)}")
        table = md.split(f"### {op} f32: dim {dim}, rows {rows_}")[-1].split("\n#")[0]
        line = [l for l in table.splitlines() if l.startswith(f"| {isa} |") or l.startswith(f"| **{isa}** ★ |")]
        cell = f"**{pct:.0f}% ✗**" if miss else f"{pct:.0f}%"
        check(len(line) == 1 and f"| {cell} | {cpct:.0f}% |" in line[0],
              f"{label}: {name}: its row shows '{cell}' then the same-size copy {cpct:.0f}%")
    check(f"**{len(met)} of {len(met) + len(misses)} judged cases meet a target**" in md,
          f"{label}: the section counts {len(met)} of {len(met) + len(misses)} judged cases meeting a target")
    section = md.split("## Against the bound")[-1].split("\n## ")[0]
    for name in misses:
        check(f"| {name} |" in section, f"{label}: the misses table lists {name}")
    # the decode table: normkit's fastest variant per operator and dim (rows 1), with its bound
    check("### Decode: one row per call" in md, f"{label}: the decode table")
    dec = section.split("### Decode: one row per call")[-1]
    doc = json.load(open(path))
    entries = {b["name"]: b for b in doc["benchmarks"]}
    for op in ("rmsnorm", "layernorm", "add_rmsnorm", "add_layernorm"):
        for dim in (64, 768, 4096):
            ours = [(w[4], n) for n, w in want.items() if w[1:4] == (op, dim, 1) and KNOBS.match(w[0])]
            peers = [(w[4], n) for n, w in want.items() if w[1:4] == (op, dim, 1) and not KNOBS.match(w[0])
                     and w[0] not in PLAIN]
            if not ours:
                check(False, f"{label}: the fixture has {op} at dim {dim}, rows 1")
                continue
            t, best = min(ours)
            b = entries[best]
            cells = [op, str(dim), want[best][0], ns3(t), ns3(b["bound_ns"]), f"{b['pct_of_bound']:.0f}%"]
            row = "| " + " | ".join(cells) + " | "
            pt = f"{ns3(min(peers)[0])} ({want[min(peers)[1]][0]})" if peers else "–"
            check(row + pt + " |" in dec, f"{label}: decode row '{row}{pt} | ...'")


check_bound_report(bound, "bound")
# the per-call ceilings, one column per norm family: the fixture's RMSNorm rows
# (ceiling_rowcall), and a LayerNorm row (ceiling_rowcall_ln) added here for avx2 only
rc_doc = json.load(open(bound))
rms_calls = {b["name"].split("/")[2]: b["ns_per_call"] for b in rc_doc["benchmarks"]
             if b["name"].startswith("ceiling_rowcall/")}
ln_row = dict(next(b for b in rc_doc["benchmarks"] if b["name"] == "ceiling_rowcall/f32/avx2/dim:8"))
ln_row["name"] = ln_row["run_name"] = "ceiling_rowcall_ln/f32/avx2/dim:8"
ln_row["ns_per_call"] = 1.5 * rms_calls["avx2"]
rc_doc["benchmarks"].append(ln_row)
p = generate("-o", os.path.join(tmp, "rowcall"), write_json(rc_doc, "bound-rowcall.json"))
rc_md = open(os.path.join(tmp, "rowcall", "report.md")).read() if p.returncode == 0 else ""
check(len(rms_calls) >= 2 and "| ISA | one-vector RMSNorm call, ns (`ceiling_rowcall`) | one-vector "
      "LayerNorm call, ns (`ceiling_rowcall_ln`) |" in rc_md, "the per-call table has a column per family")
for isa, ns in sorted(rms_calls.items()):
    ln_cell = f"{1.5 * ns:.1f}" if isa == "avx2" else "–"
    check(f"| {isa} | {ns:.1f} | {ln_cell} |" in rc_md,
          f"per-call table: {isa} {ns:.1f} ns (RMSNorm), {ln_cell} (LayerNorm)")
# the public entry point (isa field api) on the decode rows: its own last column, never a peer
# nor the best, even when it is the fastest case of its shape (here: half the fastest's time)
api_doc = json.load(open(bound))
fastest = {}  # (op, dim) of the rows-1 cases -> the fastest case's time, as the report reads it
for name in {b.get("run_name", b["name"]) for b in api_doc["benchmarks"]}:
    m = NORM_NAME.match(name)
    if m and m.group(4) == "1":
        key = (m.group(1), m.group(3))
        fastest[key] = min(fastest.get(key, math.inf), median_entry(bound, name)[0])
for b in list(api_doc["benchmarks"]):
    m = NORM_NAME.match(b.get("run_name", b["name"]))
    if m and m.group(2) == "avx512" and m.group(4) == "1":
        c = dict(b)
        for key in ("name", "run_name"):
            if key in c:
                c[key] = c[key].replace("/avx512/", "/api/")
        for key in ("real_time", "cpu_time"):
            c[key] = 0.5 * fastest[(m.group(1), m.group(3))] / SCALE[b["time_unit"]]
        api_doc["benchmarks"].append(c)
api_path = write_json(api_doc, "bound-api.json")
p = generate("-o", os.path.join(tmp, "bound-api"), api_path)
check(p.returncode == 0, f"a report with api cases (stderr: {p.stderr.strip()[:300]})")
api_md = open(os.path.join(tmp, "bound-api", "report.md")).read() if p.returncode == 0 else ""
base_md = open(os.path.join(tmp, "bound", "report.md")).read()
api_dec = api_md.split("### Decode: one row per call")[-1].split("\n#")[0]
base_dec = base_md.split("### Decode: one row per call")[-1].split("\n#")[0]
base_rows = [l for l in base_dec.splitlines() if l.startswith("| ") and "ns/call" not in l and "---" not in l]
api_rows = [l for l in api_dec.splitlines() if l.startswith("| ") and "ns/call" not in l and "---" not in l]
check(base_rows and len(api_rows) == len(base_rows), "the decode table keeps its rows with api cases")
for b_row, a_row in zip(base_rows, api_rows):
    op, dim = b_row.split(" | ")[0][2:], b_row.split(" | ")[1]
    t, _ = median_entry(api_path, f"{op}/f32/api/dim:{dim}/rows:1")
    check(b_row.endswith(" | – |") and a_row == b_row[:-len(" – |")] + f" {ns3(t)} |",
          f"decode {op} {dim}: the same best, peer and plain C, and the entry point's {ns3(t)} ns last")
check("| **api** ★ |" not in api_md and "| api |" in api_md,
      "the per-shape tables list the api rows, never with the best mark")

# --variants=all names: every registry variant's isa field carries its knobs
renamed = json.load(open(bound))
for b in renamed["benchmarks"]:
    for key in ("name", "run_name"):
        m = NORM_NAME.match(b.get(key, ""))
        if m and m.group(2) in ("avx512", "avx2"):
            b[key] = b[key].replace(f"/{m.group(2)}/", f"/{m.group(2)}_u4_acc8/")
renamed["context"]["ceiling_isa_map"] += " avx512_u4_acc8=avx512 avx2_u4_acc8=avx2"
check_bound_report(write_json(renamed, "bound-variants.json"), "bound-variants")
# no counters (a run from before the bound): no bound columns, no bound section
md = open(os.path.join(tmp, "single", "report.md")).read()
check("% of bound" not in md and "## Against the bound" not in md,
      "a run without the bound counters: no bound columns, no bound section")

# ---- the norm + linear section ----
out = os.path.join(tmp, "linear")
p = generate("-o", out, linear)
check(p.returncode == 0, f"a report from {os.path.basename(linear)} (stderr: {p.stderr.strip()[:300]})")
md = open(os.path.join(out, "report.md")).read() if p.returncode == 0 else ""
page = open(os.path.join(out, "index.html")).read() if p.returncode == 0 else ""
check("## Norm + linear (pre-norm)" in md and "<h2>Norm + linear (pre-norm)</h2>" in page,
      "report.md and index.html have the Norm + linear (pre-norm) section")
check("## rmsnorm_linear" not in md.replace("### rmsnorm_linear", ""),
      "the linear cases get no norm section of their own")
ldoc = json.load(open(linear))
lin = {}  # (variant, rows) -> entry; the rates as normkit-bench wrote them
for b in ldoc["benchmarks"]:
    m = re.match(r"rmsnorm_linear/f32/([a-z0-9_]+)/dim:4096/n:4096/rows:(\d+)(/real_time)?$", b["name"])
    if m:
        lin[(m.group(1), int(m.group(2)))] = b
fma = [b["flops_per_second"] for b in ldoc["benchmarks"] if b["name"].startswith("ceiling_fma/f32/avx512/")]
read = [b for b in ldoc["benchmarks"] if b["name"].startswith("ceiling_read/f32/avx512/")]
peers = [v for v in ("onednn", "openblas", "xnnpack") if (v, 8) in lin]
check(len(fma) == 1 and len(read) == 1 and read[0]["label"] == lin[("avx512", 8)]["label"] == "L3"
      and len(peers) >= 2 and ("avx512_unfused", 8) in lin and ("avx512_packed", 8) in lin
      and ("avx512_2t", 8) in lin,
      "the linear fixture has fused, packed, unfused, _2t and two peers, one ceiling_fma and one L3 "
      "ceiling_read")
ncol = {"onednn": "oneDNN", "openblas": "OpenBLAS", "xnnpack": "XNNPACK"}
check("| rows | normkit's best | GFLOP/s | " + " | ".join(f"× {ncol[v]}" for v in peers)
      + " | × unfused | % of FMA peak | W GB/s (rows ≤ 8) | % of read ceiling |" in md,
      "the best-variant table's header: the peers, unfused, FMA peak, W streaming and read ceiling")
for rows in sorted({r for _, r in lin}):
    g = {v: b["flops_per_second"] / 1e9 for (v, r), b in lin.items() if r == rows}
    best = max((v for v in g if v in ("avx512", "avx512_packed")), key=g.get)
    winner = max((v for v in g if not v.endswith("_2t")), key=g.get)
    cells = [str(rows), f"`{best}`", f"{g[best]:.3g}"] + [f"{g[best] / g[v]:.2f}" for v in peers]
    cells += [f"{g[best] / g['avx512_unfused']:.2f}", f"{100 * g[best] * 1e9 / fma[0]:.0f}% (avx512)"]
    if rows <= 8:
        w = lin[(best, rows)]["bytes_per_second"]
        cells += [f"{w / 1e9:.1f}", f"{100 * w / read[0]['bytes_per_second']:.0f}% of L3 read (avx512)"]
    else:
        cells += ["–", "–"]
    row = "| " + " | ".join(cells) + " |"
    check(row in md and f"<td>{cells[-4] if rows <= 8 else cells[-3]}</td>" in page,
          f"rows {rows}: normkit's best {best} against the peers, unfused and the ceilings: '{row}'")
    line = [r for r in md.splitlines() if r.startswith(f"| {rows} | L3 | ")]
    check(len(line) == 1 and f"**{g[winner]:.3g}** ★" in line[0] and line[0].count("★") == 1,
          f"rows {rows}: the GFLOP/s table marks the one-core winner {winner} ({g[winner]:.3g})")
check("**OpenBLAS core: Haswell** — held to Haswell by OPENBLAS_CORETYPE" in md,
      "the section says OpenBLAS was held to its Haswell core by OPENBLAS_CORETYPE")
images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
check("linear-rmsnorm_linear.png" in images and is_png(os.path.join(out, "linear-rmsnorm_linear.png")),
      "report.md shows the GFLOP/s-against-rows plot, a PNG file")
check(page.count("data:image/png;base64,") == len(images), "index.html embeds the linear plot")
lrows = [r for r in csv.DictReader(open(os.path.join(out, "summary.csv")))] if p.returncode == 0 else []
check(len(lrows) == len(lin) and all(r["op"] == "rmsnorm_linear" and r["dim"] == "4096" and r.get("n") == "4096"
                                       for r in lrows),
      f"summary.csv has the {len(lin)} linear cases with op, dim and n")
for (v, rows), b in sorted(lin.items()):
    r = [r for r in lrows if r.get("variant") == v and r["rows"] == str(rows)]
    peak = fma[0] * (2 if v.endswith("_2t") else 1)  # _2t: two cores' worth
    ok = len(r) == 1 and r[0]["gflops"] == f"{b['flops_per_second'] / 1e9:.3f}" \
        and r[0]["gbps"] == f"{b['bytes_per_second'] / 1e9:.3f}" \
        and r[0]["pct_fma_peak"] == f"{100 * b['flops_per_second'] / peak:.1f}" \
        and r[0]["pct_read_ceiling"] == (f"{100 * b['bytes_per_second'] / read[0]['bytes_per_second']:.1f}"
                                         if rows <= 8 else "")
    check(ok, f"summary.csv: {v} rows {rows}: gflops, gbps, pct_fma_peak, pct_read_ceiling from the fixture")
# The _2t case is timed in wall time: its time is the real time, not the main thread's CPU time.
b2 = lin[("avx512_2t", 8)]
r = [r for r in lrows if r.get("variant") == "avx512_2t"]
check(len(r) == 1 and abs(float(r[0]["time_ns"]) - b2["real_time"]) < 0.1 and b2["cpu_time"] < b2["real_time"],
      "the _2t case's time is its wall time (what its rates use)")

# Norms and linear cases in one run: the norm tables and the norm CSV rows are as without them.
mixed = json.load(open(run_a))
mixed["benchmarks"] += ldoc["benchmarks"]
mixed["context"].update({k: v for k, v in ldoc["context"].items() if k.startswith("linear_")})
p_plain = generate("-o", os.path.join(tmp, "norms-only"), run_a)
p = generate("-o", os.path.join(tmp, "mixed"), write_json(mixed, "mixed.json"))
mrows = list(csv.DictReader(open(os.path.join(tmp, "mixed", "summary.csv")))) if p.returncode == 0 else []
nrows = list(csv.DictReader(open(os.path.join(tmp, "norms-only", "summary.csv")))) if p_plain.returncode == 0 else []
strip = ("n", "variant", "gflops", "pct_fma_peak", "pct_read_ceiling")
check(p.returncode == 0 and [{k: v for k, v in r.items() if k not in strip} for r in mrows if r.get("n", "") == ""]
      == [{k: v for k, v in r.items() if k not in strip} for r in nrows]
      and len([r for r in mrows if r.get("n")]) == len(lin),
      f"a run with norms and linear cases: the norm rows of summary.csv are unchanged, the linear ones "
      f"added (stderr: {p.stderr.strip()[:200]})")
md = open(os.path.join(tmp, "mixed", "report.md")).read() if p.returncode == 0 else ""
norm_part = md.split("## Norm + linear (pre-norm)")[0]
check("## Norm + linear (pre-norm)" in md and "rmsnorm_linear" not in norm_part.split("## Machine")[0]
      and "## rmsnorm_linear" not in norm_part and "n 4096" not in norm_part,
      "a run with norms and linear cases: the at-a-glance and norm tables hold no linear case")

# Compare mode: the linear cases are more cases, matched by name (the _2t one on wall time).
slow = json.load(open(linear))
for b in slow["benchmarks"]:
    if b["name"].startswith("rmsnorm_linear/"):
        f = 2.0 if "_2t" in b["name"] else 1.25
        b["real_time"] *= f
        if "_2t" not in b["name"]:
            b["cpu_time"] *= f
p = generate("-o", os.path.join(tmp, "linear-compare"), "--compare", linear, write_json(slow, "linear-slow.json"))
crow = {r["case"]: r for r in csv.DictReader(open(os.path.join(tmp, "linear-compare", "summary.csv")))} \
    if p.returncode == 0 else {}
check(p.returncode == 0 and len(crow) == len(lin)
      and all(r["speedup"] == ("0.5000" if "_2t" in n else "0.8000") for n, r in crow.items()),
      f"compare mode lines up the linear cases (the _2t one on wall time) (stderr: {p.stderr.strip()[:300]})")
p = generate("-o", os.path.join(tmp, "linear-gate"), "--compare", linear, os.path.join(tmp, "linear-slow.json"),
             "--fail-above", "10")
check(p.returncode == 1 and regression_names(p.stderr) == {n for n in crow},
      "--fail-above 10: every slower linear case fails the gate (median only, one repetition)")

# ---- the blocks section: block/<layout>/<norm>/<act>/<impl>/<path>/d:D/rows:R ----
BLOCK_NAME = re.compile(r"^block/(\w+)/(\w+)/(\w+)/(\w+)/(\w+)/d:(\d+)/rows:(\d+)$")


def block_rates(path):
    """{(layout, norm, act, d): {rows: {impl/path: tokens/s}}} as the report must read them: the
    median aggregate's counter when there is one, else the single iteration entry's."""
    doc = json.load(open(path))
    out = {}
    for name in {b.get("run_name", b["name"]) for b in doc["benchmarks"]}:
        m = BLOCK_NAME.match(name)
        if not m:
            continue
        entries = [b for b in doc["benchmarks"] if b.get("run_name", b["name"]) == name]
        med = [b for b in entries if b.get("aggregate_name") == "median"]
        b = (med or entries)[0]
        layout, norm, act, impl, path_, d, rows = m.groups()
        out.setdefault((layout, norm, act, int(d)), {}).setdefault(int(rows), {})[f"{impl}/{path_}"] = \
            b["tokens_per_second"]
    return out


def rate_text(v):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:.3g}{unit}"
    return f"{v:.3g}"


# The targets, as the brief states them: fused >= 1.15x its unfused path at rows <= 32 and >= 1.0x
# above; >= 1.0x oneDNN and >= 2x PyTorch at every shape.
def target(against, rows):
    return {"unfused": 1.15 if rows <= 32 else 1.0, "onednn": 1.0, "torch": 2.0}.get(against)


out = os.path.join(tmp, "blocks")
p = generate("-o", out, blocks)
check(p.returncode == 0, f"a report from {os.path.basename(blocks)} (stderr: {p.stderr.strip()[:300]})")
md = open(os.path.join(out, "report.md")).read() if p.returncode == 0 else ""
page = open(os.path.join(out, "index.html")).read() if p.returncode == 0 else ""
check("## Blocks (pre-norm and post-norm FFN)" in md and "<h2>Blocks (pre-norm and post-norm FFN)</h2>" in page,
      "report.md and index.html have the Blocks section")
check(not re.search(r"^## block", md, re.M) and "## At a glance" not in md,
      "the block cases get no norm section and are not in the at-a-glance table")
brates = block_rates(blocks)
reps = {b.get("repetitions") for b in json.load(open(blocks))["benchmarks"]}
check(len(brates) == 2 and reps == {1, 3}, "the blocks fixture has two configurations, with 3 and 1 repetitions")
want_targets = []  # (layout, norm, act, d, rows, fused, against, ratio, target)
for key, by_rows in sorted(brates.items()):
    layout, norm, act, d = key
    sub = md.split(f"#### {layout} {norm} {act}: d {d}")[-1].split("\n#")[0]
    check(f"#### {layout} {norm} {act}: d {d}" in md, f"{key}: a table of its own")
    peers = sorted({v.split("/")[0] for r in by_rows.values() for v in r if v.endswith("/peer")})
    check(("× PyTorch" in sub) == ("torch" in peers), f"{key}: a PyTorch ratio column exactly when the run has torch")
    for rows, rates in sorted(by_rows.items()):
        winner = max(rates, key=rates.get)
        line = [l for l in sub.splitlines() if l.startswith(f"| {rows} | ") and "★" in l]
        check(len(line) == 1 and f"**{rate_text(rates[winner])} (" in line[0] and line[0].count("★") == 1,
              f"{key} rows {rows}: the tokens/s table marks the winner {winner} ({rate_text(rates[winner])})")
        fused = max((v for v in rates if v.endswith("/fused")), key=rates.get)
        isa = fused.split("/")[0]
        cells = [str(rows), f"`{fused}`", rate_text(rates[fused])]
        for against in ["unfused"] + peers:
            other = rates.get(f"{isa}/unfused" if against == "unfused" else f"{against}/peer")
            if other is None:
                cells.append("–")
                continue
            ratio = rates[fused] / other
            t = target(against, rows)
            cells.append(f"{ratio:.2f} ✓" if ratio >= t else f"**{ratio:.2f} ✗**")
            want_targets.append((layout, norm, act, d, rows, fused, against, ratio, t))
        row = "| " + " | ".join(cells) + " |"
        check(row in sub, f"{key} rows {rows}: fused {fused} against unfused and the peers: '{row}'")
met = [t for t in want_targets if t[7] >= t[8]]
check(met and len(met) < len(want_targets), f"the fixture has met ({len(met)}) and missed "
      f"({len(want_targets) - len(met)}) targets")
check(f"**{len(met)} of {len(want_targets)} targets met**" in md, f"report.md counts {len(met)} of "
      f"{len(want_targets)} targets met")
check(any(t[5] == "avx2/fused" for t in want_targets) and any(t[5] == "avx512/fused" for t in want_targets),
      "the fused path of the row is the fastest ISA's (avx2 wins one row of the fixture)")
missed = [l for l in md.split("### Missed targets")[-1].splitlines() if l.startswith("| ") and "shape" not in l]
check("### Missed targets" in md and len(missed) == len(want_targets) - len(met),
      "the missed targets are listed under the tables")
trows = list(csv.DictReader(open(os.path.join(out, "block-targets.csv")))) if p.returncode == 0 else []
got = sorted((r["layout"], r["d"], r["rows"], r["fused"], r["against"], r["met"]) for r in trows)
exp = sorted((t[0], str(t[3]), str(t[4]), t[5], t[6], str(int(t[7] >= t[8]))) for t in want_targets)
check(got == exp and all(abs(float(r["ratio"]) - t[7]) < 1e-3 for r, t in zip(
    sorted(trows, key=lambda r: (r["layout"], r["d"], r["rows"], r["against"])),
    sorted(want_targets, key=lambda t: (t[0], str(t[3]), str(t[4]), t[6])))),
      "block-targets.csv: one line per target check, with its ratio and verdict")
crows = list(csv.DictReader(open(os.path.join(out, "blocks.csv")))) if p.returncode == 0 else []
ncases = sum(len(r) for by_rows in brates.values() for r in by_rows.values())
check(len(crows) == ncases and all(
    abs(float(r["tokens_per_second"]) - brates[(r["layout"], r["norm"], r["act"], int(r["d"]))][int(r["rows"])][
        f"{r['impl']}/{r['path']}"]) < 0.1 for r in crows),
      f"blocks.csv: the {ncases} block cases with their tokens/s")
check(all(r["repetitions"] == ("3" if r["layout"] == "prenorm" else "1") for r in crows)
      and all((r["cv_pct"] != "") == (r["layout"] == "prenorm") for r in crows),
      "blocks.csv: the repetitions and the spread where there is one")
srows = list(csv.DictReader(open(os.path.join(out, "summary.csv")))) if p.returncode == 0 else []
check(not srows, "summary.csv holds no block case (they are in blocks.csv)")
images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
check({"blocks-prenorm-rmsnorm-swiglu.png", "blocks-postnorm-layernorm-gelu.png"} <= set(images)
      and all(is_png(os.path.join(out, i)) for i in images), "report.md shows a tokens/s plot per configuration")
check(page.count("data:image/png;base64,") == len(images), "index.html embeds the block plots")
check("## Depth" not in md and "the depth sweep: give normkit-depth's JSON" in md,
      "without --depth: no depth section, and the report says how to get one")

# Norms and blocks in one run: the norm tables are as without the blocks; the blocks section as alone.
mixed = json.load(open(run_a))
mixed["benchmarks"] += json.load(open(blocks))["benchmarks"]
p = generate("-o", os.path.join(tmp, "mixed-blocks"), write_json(mixed, "mixed-blocks.json"))
mrows = list(csv.DictReader(open(os.path.join(tmp, "mixed-blocks", "summary.csv")))) if p.returncode == 0 else []
nrows = list(csv.DictReader(open(os.path.join(tmp, "norms-only", "summary.csv"))))
mmd = open(os.path.join(tmp, "mixed-blocks", "report.md")).read() if p.returncode == 0 else ""
check(p.returncode == 0 and mrows == nrows, "a run with norms and blocks: summary.csv as without the blocks")
check(mmd.count("## Blocks (pre-norm and post-norm FFN)") == 1 and "block/" not in mmd.split("## Blocks")[0],
      "a run with norms and blocks: the blocks only in their section")

# No block cases: no section, and the report says why.
md = open(os.path.join(tmp, "linear", "report.md")).read()
check("## Blocks" not in md and "pre-norm and post-norm blocks: their cases (`block/...`) are not in this run" in md,
      "a run without block cases: no Blocks section, and the report says so")

# Compare mode lines up the block cases by name.
slow = json.load(open(blocks))
for b in slow["benchmarks"]:
    if b["run_type"] == "iteration" or b.get("aggregate_name") in ("mean", "median", "stddev"):
        b["cpu_time"] *= 1.25
        b["real_time"] *= 1.25
p = generate("-o", os.path.join(tmp, "blocks-compare"), "--compare", blocks, write_json(slow, "blocks-slow.json"))
crow = {r["case"]: r for r in csv.DictReader(open(os.path.join(tmp, "blocks-compare", "summary.csv")))} \
    if p.returncode == 0 else {}
check(len(crow) == ncases and all(r["speedup"] == "0.8000" for r in crow.values()),
      f"compare mode lines up the block cases (stderr: {p.stderr.strip()[:300]})")

# ---- the depth section: normkit-depth's JSON (--depth, --run-depth) ----
ddoc = json.load(open(depth))
out = os.path.join(tmp, "depth")
p = generate("-o", out, run_a, "--depth", depth)
check(p.returncode == 0, f"a report with --depth {os.path.basename(depth)} (stderr: {p.stderr.strip()[:300]})")
md = open(os.path.join(out, "report.md")).read() if p.returncode == 0 else ""
page = open(os.path.join(out, "index.html")).read() if p.returncode == 0 else ""
check("## Depth: residual stream and error over a stack of blocks" in md
      and "<h2>Depth: residual stream and error over a stack of blocks</h2>" in page, "the depth section is there")
check("depth.png" in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md) and is_png(os.path.join(out, "depth.png")),
      "the depth plot is a PNG shown in report.md")
check(os.path.isfile(os.path.join(out, "normkit-depth.json"))
      and open(os.path.join(out, "normkit-depth.json")).read() == open(depth).read(),
      "the depth JSON is kept in the report folder")
paths = ddoc["config"]["paths"]
nlayers = ddoc["config"]["layers"]
shown = [L for L in (1, 2, 4, 8, 16, 32, 64) if L < nlayers] + [nlayers]
for layout in ddoc["config"]["layouts"]:
    recs = {r["layer"]: r for r in ddoc["records"] if r["layout"] == layout}
    sub = md.split(f"### {layout} (excerpt)")[-1].split("\n#")[0]
    check(f"### {layout} (excerpt)" in md and "| layer | residual RMS | output RMS | "
          + " | ".join(f"`{q}`" for q in paths) + " | bound |" in sub, f"{layout}: the excerpt's header names every path")
    for L in shown:
        r = recs[L]
        row = (f"| {L} | {r['residual_rms']:.4g} | {r['output_rms']:.4g} | "
               + " | ".join(f"{r['errors'][q]:.2e}" for q in paths)
               + (" | – |" if r["error_bound"] is None else f" | {r['error_bound']:.2e} |"))
        check(row in sub, f"{layout} layer {L}: '{row}'")
    check(len([l for l in sub.splitlines() if re.match(r"^\| \d+ \|", l)]) == len(shown),
          f"{layout}: the excerpt shows layers {shown}")
pre = sorted((r for r in ddoc["records"] if r["layout"] == "prenorm"), key=lambda r: r["layer"])
note = (f"pre-norm residual RMS {pre[0]['residual_rms']:.3g} at layer 1 → {pre[-1]['residual_rms']:.3g} at layer "
        f"{nlayers} (×{pre[-1]['residual_rms'] / pre[0]['residual_rms']:.2f})")
check(note in md, f"the section sums up the pre-norm growth: '{note}'")
check("the depth sweep" not in md.split("## Depth")[-1], "with --depth the report does not call the depth sweep absent")
check(not [l for l in p.stdout.splitlines() if "running" in l], "--depth runs nothing")

# --run-depth: runs the given normkit-depth (here a stand-in writing the fixture) and reports on it.
fake = os.path.join(tmp, "fake-depth")
with open(fake, "w") as f:
    f.write("#!/bin/sh\n# normkit-depth --format json --output FILE\n"
            f"[ \"$1 $2 $3\" = '--format json --output' ] || exit 9\ncp '{depth}' \"$4\"\n")
os.chmod(fake, 0o755)
p = generate("-o", os.path.join(tmp, "run-depth"), run_a, "--run-depth", fake)
md = open(os.path.join(tmp, "run-depth", "report.md")).read() if p.returncode == 0 else ""
check(p.returncode == 0 and "## Depth: residual stream" in md and f"report: running {fake} --format json" in p.stdout,
      f"--run-depth runs normkit-depth and adds its section (stderr: {p.stderr.strip()[:300]})")
with open(fake, "w") as f:
    f.write("#!/bin/sh\nexit 3\n")
dest = os.path.join(tmp, "run-depth-fail")
p = generate("-o", dest, run_a, "--run-depth", fake)
check(p.returncode == 2 and "exited with status 3" in p.stderr and not os.path.exists(dest),
      "--run-depth: a failing normkit-depth is an error, no report")
for args, message in ((["--compare", run_a, run_b, "--depth", depth], "go with a one-run report"),
                      ([run_a, "--depth", depth, "--run-depth", fake], "not both")):
    dest = os.path.join(tmp, "depth-usage")
    p = generate("-o", dest, *args)
    check(p.returncode == 2 and message in p.stderr and not os.path.exists(dest),
          f"{' '.join(a for a in args if a.startswith('--'))}: usage error '{message}'")
BAD_DEPTH = {
    "depth-empty.json": ("", "is empty"),
    "depth-truncated.json": (open(depth).read()[:300], "not valid JSON"),
    "depth-foreign.json": (json.dumps({"context": {}, "benchmarks": []}), "not normkit-depth output"),
    "depth-none.json": (json.dumps({"config": {}, "records": []}), "has no records"),
    "depth-nolayer.json": (json.dumps({"config": {}, "records": [{"layout": "prenorm", "residual_rms": 1,
                                                                   "output_rms": 1, "errors": {}}]}),
                           "record #0 has no layer number"),
    "depth-texterr.json": (json.dumps({"config": {}, "records": [{"layer": 1, "layout": "prenorm", "residual_rms": 1,
                                                                   "output_rms": 1, "errors": {"x/fused": "small"}}]}),
                           "'errors' is not an object of numbers"),
    "depth-twice.json": (json.dumps({"config": {}, "records": [{"layer": 1, "layout": "prenorm", "residual_rms": 1,
                                                                 "output_rms": 1, "errors": {}}] * 2}),
                         "layer 1 prenorm appears twice"),
    # found by tests/fuzz/fuzz_report.py: an integer too large for a float (was OverflowError), a
    # layer number no stack has, nesting deeper than the JSON reader recurses (was RecursionError)
    "depth-bigint.json": (json.dumps({"config": {}, "records": [{"layer": 1, "layout": "prenorm",
                                                                  "residual_rms": 10 ** 400, "output_rms": 1,
                                                                  "errors": {}}]}),
                          "'residual_rms' is missing or not a number"),
    "depth-layer-huge.json": (json.dumps({"config": {}, "records": [{"layer": 10 ** 30, "layout": "prenorm",
                                                                      "residual_rms": 1, "output_rms": 1,
                                                                      "errors": {}}]}),
                              "has no layer number (an integer from 1 to 1000000)"),
    "depth-deep.json": ('{"config": {}, "records": ' + "[" * 5000 + "]" * 5000 + "}", "nested more than 64 levels deep"),
}
for fname, (content, message) in BAD_DEPTH.items():
    path = os.path.join(tmp, fname)
    open(path, "w").write(content)
    dest = os.path.join(tmp, "out-" + fname)
    p = generate("-o", dest, run_a, "--depth", path)
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 2 and len(lines) == 1 and fname in lines[0] and message in lines[0]
          and not os.path.exists(dest), f"--depth {fname}: one line naming the file and '{message}', no output "
          f"(got: {p.stderr.strip()[:200]})")

# ---- compare ----
out = os.path.join(tmp, "compare")
p = generate("-o", out, "--compare", run_a, run_b)
check(p.returncode == 0, f"compare mode runs (stderr: {p.stderr.strip()[:300]})")
crow = list(csv.DictReader(open(os.path.join(out, "summary.csv"))))
check(len(crow) > 0, "compare mode lines up cases")
worst = -1e9
for r in crow[:50]:
    ta, _ = median_entry(run_a, r["case"])
    tb, _ = median_entry(run_b, r["case"])
    check(abs(float(r["speedup"]) - ta / tb) <= 1e-3 * ta / tb, f"compare ratio of {r['case']}")
for r in crow:
    worst = max(worst, float(r["change_pct"]))
page = open(os.path.join(out, "index.html")).read()
check(not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", page), "compare index.html is self-contained")
p = generate("-o", os.path.join(tmp, "gate1"), "--compare", run_a, run_b, "--fail-above", f"{worst - 0.5:.2f}")
check(p.returncode == 1 and "regression:" in p.stderr, f"--fail-above {worst - 0.5:.2f} (below the worst change) exits 1")
p = generate("-o", os.path.join(tmp, "gate2"), "--compare", run_a, run_b, "--fail-above", f"{worst + 0.5:.2f}")
check(p.returncode == 0, f"--fail-above {worst + 0.5:.2f} (above the worst change) exits 0")
# One repetition per case: no spread, so the gate judged every case on its median, and says so.
check(re.search(r"gate --fail-above \S+%: PASS: 0 regression\(s\); 0 comparison\(s\) judged on the "
                rf"ranges, {len(crow)} on the median alone \(median only: no spread in "
                rf"{re.escape(os.path.basename(run_a))}, {re.escape(os.path.basename(run_b))}\)", p.stdout),
      f"single-repetition runs: the gate's output says every case was judged on the median alone "
      f"(got: {p.stdout.strip().splitlines()[-2:]})")
md = open(os.path.join(tmp, "gate2", "report.md")).read()
check(md.count("| median only |") == len(crow) and "1 repetition per case, so no spread is known" in md
      and "on the median alone (**median only**" in md,
      "single-repetition runs: report.md labels each row and the gate 'median only'")
check([r["judged_on"] for r in crow] == ["median only"] * len(crow) and not any(r["base_min_ns"] for r in crow),
      "single-repetition runs: summary.csv says median only and has no min-max")
check(any(l.startswith(crow[0]["case"] + " ") and l.endswith("median only") for l in p.stdout.splitlines()),
      "compare mode prints its table on standard output")

# ---- the spread over repetitions (fixtures run with --benchmark_repetitions=3) ----
out = os.path.join(tmp, "reps-single")
p = generate("-o", out, reps_a)
check(p.returncode == 0, f"a report from {os.path.basename(reps_a)} (stderr: {p.stderr.strip()[:300]})")
md = open(os.path.join(out, "report.md")).read()
page = open(os.path.join(out, "index.html")).read()
rows = {f"{r['op']}/{r['dtype']}/{r['isa']}/dim:{r['dim']}/rows:{r['rows']}": r
        for r in csv.DictReader(open(os.path.join(out, "summary.csv")))}
check("3 repetitions per case" in md and "µs/call ±CV" in md, "report.md names the repetitions and the ±CV column")
names = kernel_names(reps_a)
check(len(names) >= 6 and set(names) <= set(rows), "summary.csv has every kernel case of the repetitions fixture")
for name in names:
    med, reps, cv = spread_entry(reps_a, name)
    r = rows.get(name)
    if not r:
        continue
    check(len(reps) == 3 and cv is not None, f"{name}: the fixture has 3 repetitions and a cv aggregate")
    check(r["repetitions"] == "3" and abs(float(r["time_min_ns"]) - min(reps)) < 0.06
          and abs(float(r["time_max_ns"]) - max(reps)) < 0.06 and abs(float(r["cv_pct"]) - 100 * cv) < 0.006
          and abs(float(r["time_ns"]) - med) < 0.06,
          f"{name}: summary.csv has median {med:.1f}, min {min(reps):.1f}, max {max(reps):.1f} ns, CV {100 * cv:.2f}%")
    cell = f"{med / 1e3:.3f} ±{100 * cv:.1f}%"
    check(f"| {cell} |" in md and f"<td>{cell}</td>" in page, f"{name}: report.md and index.html show '{cell}'")
# the single-repetition report says it has no spread, and shows none
md = open(os.path.join(tmp, "single", "report.md")).read()
srows = list(csv.DictReader(open(os.path.join(tmp, "single", "summary.csv"))))
check("1 repetition per case, so no spread is known" in md and "±" not in md,
      "a single-repetition report says it has no spread and shows no ±CV")
check(srows and all(r["repetitions"] == "1" and r["time_min_ns"] == r["cv_pct"] == "" for r in srows),
      "a single-repetition summary.csv has repetitions 1 and no min/max/CV")

# ---- compare mode on the repetitions fixtures: ranges from the fixtures, the gate on them ----
out = os.path.join(tmp, "reps-compare")
LIMIT = 2.0
p = generate("-o", out, "--compare", reps_a, reps_b, "--fail-above", f"{LIMIT:g}")
crow = {r["case"]: r for r in csv.DictReader(open(os.path.join(out, "summary.csv")))}
md = open(os.path.join(out, "report.md")).read()
want_fail, want_noisy = set(), set()
for name in kernel_names(reps_a):
    ma, ra, _ = spread_entry(reps_a, name)
    mb, rb, _ = spread_entry(reps_b, name)
    overlap = not (min(rb) > max(ra) or max(rb) < min(ra))
    change = (mb / ma - 1) * 100
    if change > LIMIT:
        (want_noisy if overlap else want_fail).add(name)
    r = crow.get(name)
    check(r is not None and r["ranges"] == ("overlap" if overlap else "disjoint") and r["judged_on"] == "ranges"
          and abs(float(r["other_min_ns"]) - min(rb)) < 0.06 and abs(float(r["base_max_ns"]) - max(ra)) < 0.06,
          f"{name}: compare summary.csv has both ranges, {'overlapping' if overlap else 'disjoint'}")
    cell = f"{mb / 1e3:.3f} ({min(rb) / 1e3:.3f}–{max(rb) / 1e3:.3f})"
    check(cell in md and cell in p.stdout, f"{name}: report.md and the printed table show '{cell}'")
check(want_fail and want_noisy, f"the fixtures have cases slower by more than {LIMIT:g}% with disjoint "
      f"({sorted(want_fail)}) and with overlapping ({sorted(want_noisy)}) ranges")
check(p.returncode == 1 and regression_names(p.stderr) == want_fail,
      f"--fail-above {LIMIT:g}: exactly the slower cases with disjoint ranges fail the gate "
      f"(got {sorted(regression_names(p.stderr))}, stderr: {p.stderr.strip()[:300]})")
check("ranges disjoint:" in p.stderr and "median only" not in p.stderr, "each regression names its basis: disjoint ranges")
check(all(n in md.split("(not counted):")[-1] for n in want_noisy),
      "report.md lists the slower cases whose ranges overlap as not counted")

# ---- the gate on controlled cases (times set in a copy of the repetitions fixture) ----
X, Y, Z = "rmsnorm/f32/avx512/dim:2048/rows:1", "rmsnorm/f32/avx2/dim:2048/rows:1", "rmsnorm/f32/scalar/dim:2048/rows:1"
W = "rmsnorm/f32/eigen/dim:2048/rows:1"
base = json.load(open(reps_a))
set_times(base, X, [100.0, 104.0, 120.0])
set_times(base, Y, [100.0, 101.0, 102.0])
set_times(base, Z, [100.0, 101.0, 102.0])
set_times(base, W, [100.0, 101.0, 102.0])
base_path = write_json(base, "gate-base.json")
new = json.load(open(base_path))
set_times(new, X, [110.0, 118.0, 125.0])   # median +13.5%, ranges overlap: noise
set_times(new, Y, [110.0, 111.0, 112.0])   # median +9.9%, ranges disjoint: a regression
set_times(new, Z, [103.0, 104.0, 105.0])   # median +3.0%, disjoint but under the limit
set_times(new, W, [90.0, 91.0, 92.0])      # median -9.9%, disjoint: faster
new_path = write_json(new, "gate-new.json")
p = generate("-o", os.path.join(tmp, "gate-ranges"), "--compare", base_path, new_path, "--fail-above", "5")
grow = {r["case"]: r for r in csv.DictReader(open(os.path.join(tmp, "gate-ranges", "summary.csv")))}
check([(grow[n]["ranges"], grow[n]["gate"]) for n in (X, Y, Z, W)]
      == [("overlap", "pass"), ("disjoint", "fail"), ("disjoint", "pass"), ("disjoint", "pass")]
      and all(r["gate"] == "pass" and r["change_pct"] == "0.00" for n, r in grow.items() if n not in (X, Y, Z, W)),
      "summary.csv: ranges and gate verdict per case (overlap/disjoint above/disjoint below, unchanged cases pass)")
check(p.returncode == 1 and regression_names(p.stderr) == {Y}
      and f"regression: {Y} in gate-new.json: +9.9% (limit 5%; ranges disjoint: 0.100–0.102 µs vs 0.110–0.112 µs)"
      in p.stderr, f"--fail-above 5: +9.9% with disjoint ranges fails, +13.5% within overlapping ranges and "
      f"+3% disjoint pass (stderr: {p.stderr.strip()[:400]})")
md = open(os.path.join(tmp, "gate-ranges", "report.md")).read()
check(f"| {X} | gate-new.json | +13.5% | ranges overlap: 0.100–0.120 µs vs 0.110–0.125 µs |" in md,
      "report.md shows the overlapping +13.5% case as not counted, with both ranges")
check("Rule: a case regresses when its median CPU time is more than 5% above" in md and "do not overlap" in md,
      "report.md states the gate's rule")
set_times(new, Y, [101.0, 111.0, 112.0])   # the same median, but its range now overlaps the base's
p = generate("-o", os.path.join(tmp, "gate-ranges2"), "--compare", base_path, write_json(new, "gate-new2.json"),
             "--fail-above", "5")
check(p.returncode == 0 and "PASS: 0 regression(s)" in p.stdout and not p.stderr,
      f"--fail-above 5: the same +9.9% median passes once the ranges overlap (stdout: {p.stdout[-300:]})")
# The new run with one repetition: no spread, the gate falls back to the median alone, labelled.
one = json.load(open(new_path))
one_repetition(one)
p = generate("-o", os.path.join(tmp, "gate-one"), "--compare", base_path, write_json(one, "gate-one.json"),
             "--fail-above", "5")
x_one = spread_entry(os.path.join(tmp, "gate-one.json"), X)[0]
check(p.returncode == 1 and X in regression_names(p.stderr)
      and "(limit 5%; median only: gate-one.json has 1 repetition)" in p.stderr,
      f"one repetition in the new run: X ({(x_one / 104 - 1) * 100:+.1f}% on the median) fails, labelled "
      f"'median only: ... has 1 repetition' (stderr: {p.stderr.strip()[:300]})")
check("on the median alone (median only: no spread in gate-one.json)" in p.stdout,
      "one repetition in the new run: the printed gate line says so")
md = open(os.path.join(tmp, "gate-one", "report.md")).read()
check("`gate-one.json`: 1 repetition per case, so no spread is known" in md and "| median only" in md,
      "one repetition in the new run: report.md says so")
# Aggregates only (--benchmark_report_aggregates_only): CV but no min-max, median only, labelled.
agg = json.load(open(new_path))
aggregates_only(agg)
p = generate("-o", os.path.join(tmp, "gate-agg"), "--compare", base_path, write_json(agg, "gate-agg.json"),
             "--fail-above", "5")
check(p.returncode == 1 and X in regression_names(p.stderr) and Y in regression_names(p.stderr)
      and "median only: gate-agg.json has only aggregates of 3 repetitions" in p.stderr,
      f"aggregates only: judged on the median alone, labelled (stderr: {p.stderr.strip()[:300]})")

# ---- one tool: two ISAs of one run, and --filter ----
out = os.path.join(tmp, "isa")
p = generate("-o", out, "--compare", reps_a, "--isa", "scalar", "avx512")
irows = list(csv.DictReader(open(os.path.join(out, "summary.csv")))) if p.returncode == 0 else []
pairs = [(n, n.replace("/scalar/", "/avx512/")) for n in kernel_names(reps_a) if "/scalar/" in n]
check(p.returncode == 0 and len(irows) == len(pairs) == 2, f"--isa scalar avx512 lines up {len(pairs)} shapes "
      f"(stderr: {p.stderr.strip()[:200]})")
for sn, vn in pairs:
    want = spread_entry(reps_a, sn)[0] / spread_entry(reps_a, vn)[0]
    r = [r for r in irows if r["case"] == sn.replace("/scalar/", "/*/")]
    check(len(r) == 1 and abs(float(r[0]["speedup"]) - want) <= 1e-3 * want,
          f"--isa: {sn.replace('/scalar/', '/*/')} avx512 over scalar {want:.3f}")
p = generate("-o", os.path.join(tmp, "isa-bad"), "--compare", reps_a, "--isa", "scalar", "neon")
check(p.returncode == 2 and "no case of isa 'neon'" in p.stderr, "--isa with an ISA the run lacks: clear error")
p = generate("-o", os.path.join(tmp, "filtered-compare"), "--compare", reps_a, reps_b, "--filter", "/avx512/")
frows = list(csv.DictReader(open(os.path.join(tmp, "filtered-compare", "summary.csv")))) if p.returncode == 0 else []
check(frows and all("/avx512/" in r["case"] for r in frows)
      and len(frows) == len([n for n in kernel_names(reps_a) if "/avx512/" in n]),
      "--filter keeps only the matching cases")

# ---- context keys the report does not know are shown as they are ----
doc = json.load(open(run_a))
doc["context"].update({"cache_source": "L1d=hwloc L2=hwloc L3=sysconf", "openblas_core": "SkylakeX",
                       "tuning_zz": {"block": 64, "threads": "1"}})
ctx_path = write_json(doc, "context.json")
p = generate("-o", os.path.join(tmp, "context"), ctx_path)
md = open(os.path.join(tmp, "context", "report.md")).read() if p.returncode == 0 else ""
page = open(os.path.join(tmp, "context", "index.html")).read() if p.returncode == 0 else ""
for key, value in (("cache_source", "L1d=hwloc L2=hwloc L3=sysconf"), ("openblas_core", "SkylakeX"),
                   ("tuning_zz", "block=64, threads=1")):
    check(f"| {key} | {value} |" in md and f"<td>{key}</td><td>{value}</td>" in page,
          f"an unknown context key is a plain row: {key} = {value}")
p = generate("-o", os.path.join(tmp, "context-compare"), "--compare", run_a, ctx_path)
md = open(os.path.join(tmp, "context-compare", "report.md")).read() if p.returncode == 0 else ""
check("| cache_source | – | L1d=hwloc L2=hwloc L3=sysconf |" in md,
      "compare mode's machine table shows a key only one run has")

# ---- the tuning a run used: said in the report's opening, whichever it was ----
for tuning, want in ((None, "**Tuning:** none recorded"), ("defaults", "**Tuning:** the built-in defaults"),
                     ("/tmp/my-tuning.json", "**Tuning:** `/tmp/my-tuning.json` (NORMKIT_TUNING)")):
    doc = json.load(open(run_a))
    doc["context"].pop("tuning", None)
    if tuning:
        doc["context"]["tuning"] = tuning
    path = write_json(doc, "tuning.json")
    p = generate("-o", os.path.join(tmp, "tuning"), path)
    md = open(os.path.join(tmp, "tuning", "report.md")).read() if p.returncode == 0 else ""
    check(want in md, f"the report says which tuning the run used ({tuning})")

# ---- --help documents the gate ----
p = generate("--help")
flat = " ".join(p.stdout.split())
check(p.returncode == 0 and "--isa BASE NEW" in flat and "--filter REGEX" in flat
      and "the ranges do not overlap" in flat and "judged on the median alone" in flat
      and "fails the gate whatever the threshold" in flat,
      "--help states the gate's rule, the single-repetition fallback, --isa and --filter")

# ---- the output folder ----
p = generate("-o", os.path.join(tmp, "single"), run_a)
check(p.returncode == 0, "a report folder this tool wrote is replaced on the next run")
mine = os.path.join(tmp, "my-work")
os.makedirs(os.path.join(mine, "src"))
open(os.path.join(mine, "notes.txt"), "w").write("precious")
p = generate("-o", mine, run_a)
check(p.returncode == 2 and "not a normkit report folder" in p.stderr
      and open(os.path.join(mine, "notes.txt")).read() == "precious" and os.path.isdir(os.path.join(mine, "src")),
      "-o naming a folder of the user's is refused and left untouched")
check(os.stat(os.path.join(tmp, "single")).st_mode & 0o055 == 0o055, "the report folder is readable by others")

# ---- a filtered run (no scalar cases) still makes a report ----
doc = json.load(open(run_a))
doc["benchmarks"] = [b for b in doc["benchmarks"] if "/avx512/" in b["name"]]
filtered = os.path.join(tmp, "only-avx512.json")
json.dump(doc, open(filtered, "w"))
p = generate("-o", os.path.join(tmp, "filtered"), filtered)
check(p.returncode == 0, f"a run without scalar cases gives a report (stderr: {p.stderr.strip()[:200]})")

# ---- a case that vanished or failed fails the gate, whatever the threshold ----
doc = json.load(open(run_b))
victim = next(b["name"] for b in doc["benchmarks"] if b["name"].startswith("rmsnorm/f32/avx512/"))
doc["benchmarks"] = [b for b in doc["benchmarks"] if b["name"] != victim]
gone = os.path.join(tmp, "gone.json")
json.dump(doc, open(gone, "w"))
p = generate("-o", os.path.join(tmp, "gate-gone"), "--compare", run_a, gone, "--fail-above", "1000")
check(p.returncode == 1 and victim in p.stderr and "is missing" in p.stderr,
      "--fail-above: a case missing from the new run fails the gate")
doc = json.load(open(run_b))
for b in doc["benchmarks"]:
    if b["name"] == victim:
        b["error_occurred"] = True
        b["error_message"] = "injected"
failed = os.path.join(tmp, "failed.json")
json.dump(doc, open(failed, "w"))
p = generate("-o", os.path.join(tmp, "gate-failed"), "--compare", run_a, failed, "--fail-above", "1000")
check(p.returncode == 1 and victim in p.stderr and "reported an error" in p.stderr,
      "--fail-above: a case that reported an error fails the gate")

# ---- bad input ----
bad = {
    "empty.json": ("", "is empty"),
    "truncated.json": (open(run_a).read()[:400], "not valid JSON"),
    "not-benchmark.json": (json.dumps({"hello": "world"}), "not Google Benchmark output"),
    "missing-field.json": (json.dumps({"context": {}, "benchmarks": [{"name": "rmsnorm/f32/scalar/dim:8/rows:1",
                                                                    "time_unit": "ns"}]}), "has no 'real_time'"),
    "foreign.json": (json.dumps({"context": {}, "benchmarks": [{"name": "BM_memcpy/64", "real_time": 1.0,
                                                               "time_unit": "ns"}]}), "holds no normkit cases"),
    "null-time.json": (json.dumps({"context": {}, "benchmarks": [{"name": "rmsnorm/f32/scalar/dim:8/rows:1",
                                                                 "real_time": 1.0, "cpu_time": None,
                                                                 "time_unit": "ns"}]}), "'cpu_time' is not a finite number"),
    "text-rate.json": (json.dumps({"context": {}, "benchmarks": [{"name": "rmsnorm/f32/scalar/dim:8/rows:1",
                                                                 "real_time": 1.0, "time_unit": "ns",
                                                                 "bytes_per_second": "fast"}]}),
                       "'bytes_per_second' is not a finite number"),
    "bad-param.json": (json.dumps({"context": {}, "benchmarks": [{"name": "rmsnorm/f32/scalar/dim:1.2.3/rows:1",
                                                                 "real_time": 1.0, "time_unit": "ns"}]}),
                       "holds no normkit cases"),
}
# Found by tests/fuzz/fuzz_report.py (each was a traceback or an "internal error" before; the
# regression seeds are in tests/fuzz/corpus/report): one benchmark entry with one field changed.
ENTRY = {"name": "rmsnorm/f32/scalar/dim:8/rows:1", "real_time": 1.0, "cpu_time": 1.0, "time_unit": "ns"}


def one_entry(**kw):
    return json.dumps({"context": {}, "benchmarks": [dict(ENTRY, **kw)]})


bad.update({
    "number.json": ("1.5", "not Google Benchmark output"),
    "name-number.json": (one_entry(name=1.5), "'name' is not a non-empty string"),         # TypeError
    "run-name-list.json": (one_entry(run_name=["x"]), "'run_name' is not a non-empty string"),
    "unit-list.json": (one_entry(time_unit=["ns"]), "unknown time_unit"),                  # unhashable
    "int-digits.json": (one_entry()[:-3] + ', "cpu_time": 1' + "0" * 5000 + "}]}", "not valid JSON"),  # ValueError
    "deep.json": ("[" * 100000 + "]" * 100000, "nested more than 64 levels deep"),          # RecursionError
    "deep-context.json": (json.dumps({"context": functools.reduce(lambda d, _: {"a": d}, range(950), 1),
                                      "benchmarks": [ENTRY]}), "nested more than 64 levels deep"),
    "big-int-time.json": (one_entry(real_time=10 ** 400), "'real_time' is not a finite number"),  # OverflowError
    "huge-time.json": (one_entry(cpu_time=1e300), "'cpu_time' is out of range"),            # fsum overflow
    "negative-rate.json": (one_entry(bytes_per_second=-5.0), "'bytes_per_second' is out of range"),
    "text-walltime.json": (one_entry(wall_time_rates="ns"), "'wall_time_rates' is not a finite number"),
    "text-flops.json": (one_entry(flops="many"), "'flops' is not a finite number"),        # ValueError
    "half-bound.json": (one_entry(pct_of_bound=90.0, ns_per_call=1.0), "has 'pct_of_bound' without 'bound_ns'"),
    "param-digits.json": (one_entry(name="rmsnorm/f32/scalar/dim:" + "9" * 400 + "/rows:1"), "has more than 15 digits"),
    "param-4301-digits.json": (one_entry(name="rmsnorm/f32/scalar/dim:" + "9" * 4301 + "/rows:1"),
                               "has more than 15 digits"),
})
for fname, (content, message) in bad.items():
    path = os.path.join(tmp, fname)
    open(path, "w").write(content)
    dest = os.path.join(tmp, "out-" + fname)
    p = generate("-o", dest, path)
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 2 and len(lines) == 1 and fname in lines[0] and message in lines[0],
          f"{fname}: one line naming the file and '{message}' (got: {p.stderr.strip()[:200]})")
    check(not os.path.exists(dest), f"{fname}: no output folder left behind")
# different kernels: two runs with nothing in common
other = os.path.join(tmp, "other.json")
json.dump({"context": {}, "benchmarks": [{"name": "layernorm/f32/neon/dim:3/rows:3", "real_time": 1.0,
                                          "time_unit": "ns", "bytes_per_second": 1.0}]}, open(other, "w"))
dest = os.path.join(tmp, "out-different")
p = generate("-o", dest, "--compare", run_a, other)
check(p.returncode == 2 and "in common" in p.stderr and not os.path.exists(dest),
      "runs with no case or shape in common: clear error, no output")

# ---- odd but readable input: a report, not a traceback (tests/fuzz/fuzz_report.py found these) ----
def small_run(**context):
    """bench-linear.json with these context fields."""
    doc = json.load(open(linear))
    doc["context"].update(context)
    return doc


odd = small_run(caches=[{"type": "Data", "level": 1, "size": "48K", "num_sharing": 1}])  # was TypeError
p = generate("-o", os.path.join(tmp, "odd-caches"), write_json(odd, "odd-caches.json"))
md = open(os.path.join(tmp, "odd-caches", "report.md"), encoding="utf-8").read() if p.returncode == 0 else ""
check(p.returncode == 0 and "size=48K" in md, f"caches with a text size: shown as they are (stderr: {p.stderr.strip()[:200]})")
# a lone surrogate (a valid JSON escape, not a character): was UnicodeEncodeError writing report.md
odd = small_run(host_name="\ud800")
odd["benchmarks"][0]["label"] = "L3 \udc80"
p = generate("-o", os.path.join(tmp, "odd-surrogate"), write_json(odd, "odd-surrogate.json"))
md = open(os.path.join(tmp, "odd-surrogate", "report.md"), encoding="utf-8").read() if p.returncode == 0 else ""
check(p.returncode == 0 and "\ufffd" in md, f"lone surrogates in strings: replaced by U+FFFD (stderr: {p.stderr.strip()[:200]})")
# linear_peers with a long run of ';': the peers' regular expression took quadratic time (minutes)
odd = small_run(linear_peers="onednn: x" + ";" * 300000)
t0 = time.monotonic()
try:
    p = subprocess.run([sys.executable, gen, "-o", os.path.join(tmp, "odd-peers"), write_json(odd, "odd-peers.json")],
                       capture_output=True, text=True, timeout=120)
except subprocess.TimeoutExpired:
    p = subprocess.CompletedProcess([], -1, "", "timed out after 120 s")
check(p.returncode == 0 and time.monotonic() - t0 < 60,
      f"linear_peers of 300000 ';': a report in {time.monotonic() - t0:.1f} s (stderr: {p.stderr.strip()[:200]})")
# a file name that is not UTF-8, in compare mode (printed on standard output): was UnicodeEncodeError
odd_name = os.path.join(os.fsencode(tmp), b"run-\xff.json")
shutil.copy(run_b, odd_name)
p = subprocess.run([sys.executable, gen, "-o", os.path.join(tmp, "odd-name"), "--compare", run_a, os.fsdecode(odd_name)],
                   capture_output=True, timeout=300)
check(p.returncode == 0 and os.path.isfile(os.path.join(tmp, "odd-name", "report.md")),
      f"a file name that is not UTF-8: compare mode writes its report (stderr: {p.stderr.decode(errors='replace')[-200:]})")

# ---- hostile flags and paths: one line, exit 2, nothing written ----
def one_error(p, message, dest=None, what=""):
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 2 and len(lines) == 1 and lines[0].startswith("normkit_report: error: ")
          and message in lines[0] and "internal error" not in lines[0] and (dest is None or not os.path.lexists(dest)),
          f"{what}: one line with '{message}', exit 2{', no output' if dest else ''} (got {p.returncode}: {p.stderr.strip()[:300]})")


dest = os.path.join(tmp, "flags-out")
a_file = os.path.join(tmp, "a-file")
open(a_file, "w").write("mine\n")
for args, message in ((["--fail-above", "nan"], "not a finite number: 'nan'"),           # was accepted
                      (["--fail-above", "inf"], "not a finite number: 'inf'"),
                      (["--fail-above", "abc"], "not a number: 'abc'"),                   # argparse: 2 lines
                      (["--fail-above"], "expected one argument"),
                      (["--isa", "scalar"], "expected 2 arguments"),
                      (["--bogus"], "unknown argument(s): --bogus"),
                      (["--filter", "a{99999999999}"], "not a regular expression"),      # was OverflowError
                      (["--filter", "(" * 3000 + ")" * 3000], "not a regular expression")):  # RecursionError
    p = generate("-o", dest, "--compare", run_a, run_b, *args) if args[0] == "--isa" else generate("-o", dest, run_a, *args)
    one_error(p, message, dest, " ".join(a[:20] for a in args))
p = generate("-o")
one_error(p, "argument -o/--output: expected one argument", None, "-o without a folder")
# inputs: missing, a directory, unreadable
p = generate("-o", dest, os.path.join(tmp, "no-such.json"))
one_error(p, "cannot read: No such file or directory", dest, "a missing RUN.json")
p = generate("-o", dest, tmp)
one_error(p, "cannot read: Is a directory", dest, "a directory as RUN.json")
p = generate("-o", dest, run_a, "--depth", tmp)
one_error(p, "cannot read: Is a directory", dest, "a directory as --depth")
p = generate("-o", dest, "--compare", run_a, os.path.join(tmp, "no-such.json"))
one_error(p, "no-such.json: cannot read", dest, "--compare with a missing run")
unreadable = os.path.join(tmp, "unreadable.json")
shutil.copy(run_a, unreadable)
os.chmod(unreadable, 0)
if os.geteuid() == 0:
    print("skip an unreadable RUN.json: running as root, chmod 000 does not stop reads")
else:
    p = generate("-o", dest, unreadable)
    one_error(p, "cannot read: Permission denied", dest, "an unreadable RUN.json")
# the output folder: under a file (fails even for root), an existing file, unwritable
p = generate("-o", os.path.join(a_file, "sub"), run_a)                    # was FileExistsError
one_error(p, "is not a folder", None, "-o existing_file/sub")
check(open(a_file).read() == "mine\n", "-o existing_file/sub: the file is left as it was")
p = generate("-o", os.path.join(a_file, "sub", "deeper"), "--compare", run_a, run_b)
one_error(p, "is not a folder", None, "--compare -o existing_file/sub/deeper")
p = generate("-o", a_file, run_a)
one_error(p, "exists and is not a normkit report folder", None, "-o an existing file")
check(open(a_file).read() == "mine\n", "-o an existing file: the file is left as it was")
locked = os.path.join(tmp, "locked")
os.makedirs(locked)
os.chmod(locked, 0o555)
if os.geteuid() == 0:
    print("skip -o in a read-only folder: running as root, the folder's mode does not stop writes "
          "(-o existing_file/sub above fails even for root)")
else:
    p = generate("-o", os.path.join(locked, "out"), run_a)
    one_error(p, "is not writable", os.path.join(locked, "out"), "-o in a read-only folder")
os.chmod(locked, 0o755)
# missing parents are created for a report, and left uncreated when the run fails
p = generate("-o", os.path.join(tmp, "new1", "new2", "out"), os.path.join(tmp, "no-such.json"))
one_error(p, "cannot read", os.path.join(tmp, "new1"), "a failed run under missing folders")
p = generate("-o", os.path.join(tmp, "new1", "new2", "out"), run_a)
check(p.returncode == 0 and os.path.isfile(os.path.join(tmp, "new1", "new2", "out", "report.md")),
      "-o under missing folders: they are created")
# a failed run leaves an earlier report at -o as it was
before = open(os.path.join(tmp, "new1", "new2", "out", "report.md"), "rb").read()
p = generate("-o", os.path.join(tmp, "new1", "new2", "out"), os.path.join(tmp, "deep.json"))
check(p.returncode == 2 and open(os.path.join(tmp, "new1", "new2", "out", "report.md"), "rb").read() == before,
      "a failed run leaves the earlier report at -o untouched")
# --run-bench: a program that cannot run, and an -o it could not write to (checked before it runs)
p = generate("-o", dest, "--run-bench", os.path.join(tmp, "no-such-normkit-bench"))
one_error(p, "cannot run: No such file or directory", dest, "--run-bench a missing program")  # FileNotFoundError
p = generate("-o", dest, "--run-bench", tmp)
one_error(p, "cannot run: Permission denied", dest, "--run-bench a directory")              # PermissionError
ran = os.path.join(tmp, "bench-ran")
fake_bench = os.path.join(tmp, "fake-bench")
with open(fake_bench, "w") as f:
    f.write(f"#!/bin/sh\ntouch '{ran}'\nexit 1\n")
os.chmod(fake_bench, 0o755)
p = generate("-o", os.path.join(a_file, "sub"), "--run-bench", fake_bench)                # FileExistsError
one_error(p, "is not a folder", None, "--run-bench with -o existing_file/sub")
check(not os.path.exists(ran), "--run-bench with an -o it cannot write to: the benchmark is not run")
# without matplotlib: one line saying what to install, not a traceback halfway through
p = subprocess.run([sys.executable, "-c", "import runpy, sys; sys.modules['matplotlib'] = None; "
                    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
                    gen, "-o", dest, run_a], capture_output=True, text=True, timeout=300)
one_error(p, "apt-get install python3-matplotlib", dest, "without matplotlib")

check(not [f for f in os.listdir(tmp) if f.startswith(".normkit-report-")], "no temporary folders left")

print(f"{'FAIL' if failures else 'PASS'}: {len(failures)} failure(s)"
      + (f"; outputs kept in {tmp}" if failures else ""))
if not failures:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if failures else 0)
