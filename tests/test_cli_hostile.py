#!/usr/bin/env python3
"""Every CLI fed hostile flags and paths (issue 14): bad flags, missing and unreadable files,
directories where files are expected, unwritable output places. Each must print exactly one
line on stderr, `<tool>: error: ...`, naming the flag or the path, exit non-zero (2 for bad
usage, 1 for a file it cannot read or write: the codes normkit-depth documents and the others
use), print no traceback, and leave nothing behind: no output file, no temporary. Successful
and interrupted runs leave the output whole or absent, and no temporary either.

  test_cli_hostile.py [--info P] [--depth P] [--tune P] [--bench P] [--export P] [--wrapper W]

Each tool is tested when given (the build may lack some). WRAPPER (qemu-user in a cross build)
runs the C tools; normkit-export is a launcher that brings its own. normkit-tune's other bad
arguments, and its leftovers after successful runs, are tests/test_tuning.py's; the report
generator is out of scope here.

Running as root, chmod 000 does not stop reading and chmod 555 does not stop writing: those
cases are reported as "skip" (by name), and paths under /proc and under a regular file (which
fail even for root) stand in for an unwritable folder.
"""
import argparse
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
for name in ("info", "depth", "tune", "bench", "export"):
    ap.add_argument("--" + name)
ap.add_argument("--wrapper", action="append", default=[])
A = ap.parse_args()
for name in ("info", "depth", "tune", "bench", "export"):  # the runs happen in scratch folders
    if getattr(A, name):
        setattr(A, name, os.path.abspath(getattr(A, name)))

failures, skipped = [], []
TMP = tempfile.mkdtemp(prefix="nk-hostile-")


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)
        if detail:
            print("   " + detail.strip().replace("\n", "\n   "))
    return cond


def skip(what, why):
    print("skip %s (%s)" % (what, why))
    skipped.append(what)


def scratch():
    """A fresh folder with the hostile fixtures: a regular file, an empty folder, a read-only
    folder, an unreadable file."""
    d = tempfile.mkdtemp(dir=TMP)
    open(os.path.join(d, "file"), "w").close()
    os.mkdir(os.path.join(d, "dir"))
    os.mkdir(os.path.join(d, "ro"), 0o555)
    os.chmod(os.path.join(d, "ro"), 0o555)
    with open(os.path.join(d, "unreadable.json"), "w") as f:
        f.write("{}\n")
    os.chmod(os.path.join(d, "unreadable.json"), 0)
    return d


def snapshot(d):
    out = []
    for root, dirs, files in os.walk(d):
        out += [os.path.relpath(os.path.join(root, n), d) for n in dirs + files]
    return sorted(out)


def root_can(kind, d):
    """Whether this user gets past the fixture's permissions (root does)."""
    try:
        if kind == "read":
            open(os.path.join(d, "unreadable.json")).close()
        else:
            p = os.path.join(d, "ro", ".w")
            open(p, "w").close()
            os.remove(p)
        return True
    except OSError:
        return False


def run(cmd, cwd, stdout=subprocess.PIPE, timeout=300):
    return subprocess.run(cmd, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, env=ENV)


ENV = dict(os.environ)
for k in ("NORMKIT_ISA", "NORMKIT_TUNING"):
    ENV.pop(k, None)
DEV_FULL = os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode)


def hostile(tool, cmd, cases):
    """cases: (label, args, status, words, needs) with {d} in args and words replaced by the
    case's scratch folder; needs: None, "read" (an unreadable file), "write" (a read-only
    folder), "full" (stdout to /dev/full)."""
    for label, args, status, words, needs in cases:
        d = scratch()
        what = "%s: %s" % (tool, label)
        if needs in ("read", "write") and root_can(needs, d):
            skip(what, "running as root: chmod 000 does not stop reading" if needs == "read"
                 else "running as root: chmod 555 does not stop writing")
            continue
        if needs == "full" and not DEV_FULL:
            skip(what, "no /dev/full")
            continue
        args = [a.replace("{d}", d) for a in args]
        words = [w.replace("{d}", d) for w in words]
        before = snapshot(d)
        if needs == "full":
            with open("/dev/full", "w") as full:
                p = run(cmd + args, d, stdout=full)
            p.stdout = ""
        else:
            p = run(cmd + args, d)
        lines = p.stderr.splitlines()
        after = snapshot(d)
        problems = []
        if p.returncode != status:
            problems.append("exit %d, not %d" % (p.returncode, status))
        if len(lines) != 1 or not lines[0].startswith(tool + ": error: "):
            problems.append("not one '%s: error:' line" % tool)
        elif any(w not in lines[0] for w in words):
            problems.append("the line does not name %s" % words)
        if "Traceback" in p.stderr:
            problems.append("a traceback")
        if p.stdout:
            problems.append("output on stdout")
        if after != before:
            problems.append("left %s" % sorted(set(after) ^ set(before)))
        check(not problems, what, "; ".join(problems) + "\n$ %s\n%s" % (" ".join(args), p.stderr))


def interrupted(tool, cmd, args, target_rel, delay):
    """Stopped by SIGTERM mid-run: neither the target nor a temporary is left."""
    d = scratch()
    before = snapshot(d)
    args = [a.replace("{d}", d) for a in args]
    p = subprocess.Popen(cmd + args, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, env=ENV)
    time.sleep(delay)
    finished = p.poll() is not None
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=120)
    after = snapshot(d)
    if finished:
        skip("%s: stopped by SIGTERM mid-run" % tool, "the run ended within %.1f s" % delay)
        return
    check(p.returncode != 0 and after == before,
          "%s: stopped by SIGTERM mid-run: no %s, no temporary" % (tool, target_rel),
          "exit %d, left %s" % (p.returncode, sorted(set(after) ^ set(before))))


def succeeds(tool, cmd, args, want, what):
    """A successful run leaves exactly `want` (relative paths) in its folder: no temporary."""
    d = scratch()
    before = snapshot(d)
    p = run(cmd + [a.replace("{d}", d) for a in args], d)
    new = sorted(set(snapshot(d)) - set(before))
    check(p.returncode == 0 and new == sorted(want), "%s: %s: exactly %s, no temporary"
          % (tool, what, ", ".join(want) or "nothing"),
          "exit %d, new: %s\n%s" % (p.returncode, new, p.stderr[-2000:]))
    return d


# a nonexistent folder, a path under a regular file, under /proc (unwritable even for root),
# in a read-only folder (not for root), an existing folder
def output_cases(flag, name, eq=False, direct_ok=True):
    def arg(path):
        return [flag + "=" + path] if eq else [flag, path]
    cases = [
        ("output in a nonexistent folder", arg("{d}/nowhere/" + name), 1,
         ["{d}/nowhere/" + name], None),
        ("output under a regular file", arg("{d}/file/" + name), 1, ["{d}/file/" + name], None),
        ("output under /proc", arg("/proc/" + name), 1, ["/proc/" + name], None),
        ("output in a read-only folder", arg("{d}/ro/" + name), 1, ["{d}/ro/" + name], "write"),
        ("output is an existing folder", arg("{d}/dir"), 1, ["{d}/dir"], None),
    ]
    if direct_ok and DEV_FULL:  # written directly (not renamed over): fails at the write
        cases.append(("output on a full disk (/dev/full)", arg("/dev/full"), 1, ["/dev/full"],
                      None))
    return cases


t0 = time.time()

# ---- normkit-info: flags only; its output is standard output ----
if A.info:
    cmd = A.wrapper + [A.info]
    hostile("normkit-info", cmd, [
        ("unknown flag", ["--frobnicate"], 2, ["'--frobnicate'"], None),
        ("a stray argument", ["stray"], 2, ["'stray'"], None),
        ("a value for a flag without one", ["--json=yes"], 2, ["'--json=yes'"], None),
        ("standard output on a full disk (text)", [], 1, ["standard output"], "full"),
        ("standard output on a full disk (--json)", ["--json"], 1, ["standard output"], "full"),
    ])
    succeeds("normkit-info", cmd, ["--json"], [], "a --json run")

# ---- normkit-depth: documents 0 done, 1 a normkit call or the output failed, 2 bad usage ----
if A.depth:
    cmd = A.wrapper + [A.depth]
    SMALL = ["--layers", "1", "--dim", "8", "--rows", "1"]
    hostile("normkit-depth", cmd, [
        ("unknown flag", ["--frobnicate"], 2, ["'--frobnicate'"], None),
        ("flag missing its value", SMALL + ["--output"], 2, ["--output"], None),
        ("empty --output", SMALL + ["--output="], 2, ["--output"], None),
        ("bad number (--rows -1)", ["--rows", "-1"], 2, ["--rows", "'-1'"], None),
        ("bad number (--dim 1e3)", ["--dim", "1e3"], 2, ["--dim", "'1e3'"], None),
        ("bad number (--bias-std 0x)", ["--bias-std", "0x"], 2, ["--bias-std", "'0x'"], None),
        ("standard output on a full disk", SMALL, 1, ["standard output"], "full"),
    ] + [(l, SMALL + a, s, w, n) for l, a, s, w, n in output_cases("--output", "depth.json")])
    if DEV_FULL:
        check(stat.S_ISCHR(os.stat("/dev/full").st_mode),
              "normkit-depth: /dev/full is still a device")
    d = succeeds("normkit-depth", cmd, SMALL + ["--output", "{d}/depth.json"], ["depth.json"],
                 "--output")
    p = run(cmd + SMALL + ["--format", "csv", "--output", "depth.json"], d)
    check(p.returncode == 0 and open(os.path.join(d, "depth.json")).read().startswith("layer,")
          and sorted(os.listdir(d)) == ["depth.json", "dir", "file", "ro", "unreadable.json"],
          "normkit-depth: --output over an existing file replaces it, no temporary")
    interrupted("normkit-depth", cmd, ["--output", "{d}/depth.json"], "depth.json", 0.5)

# ---- normkit-tune: 2 bad usage, 1 cannot write (its other bad arguments: test_tuning.py) ----
if A.tune:
    cmd = A.wrapper + [A.tune]
    # bounded if a check did not fail early: one second, one operator, the scalar ISA
    FAST = ["--quiet", "--budget", "1", "--ops", "rmsnorm", "--isas", "scalar"]
    hostile("normkit-tune", cmd, [
        ("-o missing its value", FAST + ["-o"], 2, ["'-o'"], None),
        ("--ops missing its value", ["-o", "{d}/t.json", "--ops"], 2, ["'--ops'"], None),
        ("--isas missing its value", ["-o", "{d}/t.json", "--isas"], 2, ["'--isas'"], None),
        ("empty -o", FAST + ["-o", ""], 2, ["-o"], None),
        ("bad number (--budget inf)", FAST + ["-o", "{d}/t.json", "--budget", "inf"], 2,
         ["--budget", "'inf'"], None),
        ("bad number (--budget -5)", FAST + ["-o", "{d}/t.json", "--budget", "-5"], 2,
         ["--budget", "'-5'"], None),
        ("bad number (--budget 1e999)", FAST + ["-o", "{d}/t.json", "--budget", "1e999"], 2,
         ["--budget", "'1e999'"], None),
    ] + [(l, FAST + a, s, w, n) for l, a, s, w, n in output_cases("-o", "t.json")])
    # scalar linear: its blocking knobs take well over the budget's 5 s (scalar rmsnorm has
    # nothing to search and ends within a second)
    interrupted("normkit-tune", cmd, ["--quiet", "--budget", "5", "--ops", "linear", "--isas",
                                      "scalar", "-o", "{d}/t.json"], "t.json", 1.0)

# ---- normkit-bench: its own flags (2) and --benchmark_out (1) ----
if A.bench:
    cmd = A.wrapper + [A.bench]
    NONE = ["--benchmark_filter=^no-such-case$"]  # bounded if a check did not fail early
    hostile("normkit-bench", cmd, [
        ("unknown flag", ["--frobnicate"], 2, ["'--frobnicate'"], None),
        ("--profile missing its value", ["--profile"], 2, ["--profile"], None),
        ("--variants missing its value", ["--variants"], 2, ["--variants"], None),
        ("--pin-core missing its value", ["--pin-core"], 2, ["--pin-core"], None),
        ("bad number (--pin-core=x)", ["--pin-core=x"], 2, ["--pin-core", "'x'"], None),
        ("bad number (--pin-core -1)", ["--pin-core", "-1"], 2, ["--pin-core", "'-1'"], None),
        ("bad number (--pin-core=99999999999)", ["--pin-core=99999999999"], 2,
         ["--pin-core", "'99999999999'"], None),
    ] + [(l, NONE + a, s, w + ["--benchmark_out"], n)
         for l, a, s, w, n in output_cases("--benchmark_out", "b.json", eq=True, direct_ok=False)])
    ONE = ["--benchmark_filter=^ceiling_rowcall/f32/scalar/dim:1$", "--benchmark_min_time=0.01",
           "--benchmark_out_format=json"]
    succeeds("normkit-bench", cmd, ONE + ["--benchmark_out={d}/b.json"], ["b.json"],
             "--benchmark_out")
    # exits before the run (Google Benchmark's --help exits inside Initialize): no file at all
    for flag in ("--help", "--list"):
        succeeds("normkit-bench", cmd, [flag, "--benchmark_out={d}/b.json"], [],
                 flag + " with --benchmark_out")
    interrupted("normkit-bench", cmd, ["--benchmark_filter=^ceiling_fma/f32/scalar/",
                                       "--benchmark_min_time=30", "--benchmark_out={d}/b.json"],
                "b.json", 3.0)

# ---- normkit-export: 2 bad usage, 1 cannot read or write; its output is a folder ----
if A.export:
    cmd = [A.export]  # the launcher runs normkit-info through the build's wrapper itself
    OK = ["--isa", "scalar", "--ops", "rmsnorm", "--l1d", "32768", "--l2", "1048576"]
    base = ["--isa", "scalar", "--ops", "rmsnorm", "-o", "{d}/out"]
    hostile("normkit-export", cmd, [
        ("unknown flag", OK + ["-o", "{d}/out", "--frobnicate"], 2, ["--frobnicate"], None),
        ("flag missing its value", OK + ["-o"], 2, ["-o/--output"], None),
        ("bad number (--l1d abc)", base + ["--l1d", "abc", "--l2", "1048576"], 2,
         ["--l1d", "'abc'"], None),
        ("bad number (--l1d -1)", base + ["--l1d", "-1", "--l2", "1048576"], 2, ["--l1d"], None),
        ("bad number (--l2 10^30)", base + ["--l1d", "32768", "--l2", "1" + "0" * 30], 2,
         ["--l2"], None),
        ("missing --tuning file", base + ["--tuning", "{d}/missing.json"], 1,
         ["{d}/missing.json"], None),
        ("--tuning is a folder", base + ["--tuning", "{d}/dir"], 1, ["{d}/dir"], None),
        ("unreadable --tuning file", base + ["--tuning", "{d}/unreadable.json"], 1,
         ["{d}/unreadable.json"], "read"),
        ("the source tree is gone (the launcher's --source-dir)",
         OK + ["-o", "{d}/out", "--source-dir", "{d}/gone"], 1, ["{d}/gone"], None),
        ("-o is a regular file", OK + ["-o", "{d}/file"], 1, ["{d}/file"], None),
        ("output in a nonexistent folder", OK + ["-o", "{d}/nowhere/out"], 1,
         ["{d}/nowhere/out"], None),
        ("output under a regular file", OK + ["-o", "{d}/file/out"], 1, ["{d}/file/out"], None),
        ("output under /proc", OK + ["-o", "/proc/nk-out"], 1, ["/proc"], None),
        ("output in a read-only folder", OK + ["-o", "{d}/ro/out"], 1, ["{d}/ro"], "write"),
    ])
    succeeds("normkit-export", cmd, OK + ["-o", "{d}/out"],
             ["out", "out/nkx_normkit.h", "out/nkx_normkit_scalar.c"], "-o DIR")
    succeeds("normkit-export", cmd, OK + ["-o", "{d}/dir"],
             ["dir/nkx_normkit.h", "dir/nkx_normkit_scalar.c"], "-o an existing empty folder")

shutil.rmtree(TMP, ignore_errors=True)
print("%d failure(s), %d skipped (%s); %.1f s" % (len(failures), len(skipped),
                                                 "; ".join(skipped) or "none", time.time() - t0))
sys.exit(1 if failures else 0)
