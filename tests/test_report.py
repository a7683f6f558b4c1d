#!/usr/bin/env python3
"""The report generator on fixture runs (real normkit-bench output, trimmed, in tests/data).

usage: test_report.py GENERATOR RUN_A.json RUN_B.json
Checks figures against the fixture entries they come from, that every image is a real PNG,
that the HTML is self-contained, compare mode's ratios and --fail-above, and that each kind of
bad input gives its one-line message, a non-zero exit and no output folder.
"""
import csv
import json
import os
import re
import subprocess
import sys
import tempfile

gen, run_a, run_b = sys.argv[1:4]
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
check(not [f for f in os.listdir(tmp) if f.startswith(".normkit-report-")], "no temporary folders left")

print(f"{'FAIL' if failures else 'PASS'}: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
