#!/usr/bin/env python3
"""Tuning files end to end (docs/tuning.md).

  test_tuning.py NORMKIT_INFO NORMKIT_TUNE TEST_TUNING [WRAPPER...]

- normkit-tune on a tiny budget writes a file the library accepts;
- a hand-made file that picks another variant and other knobs everywhere is applied: normkit-info
  shows it, and test_tuning (C) checks that the entry points run exactly that;
- every kind of bad file gives exactly one warning on stderr and changes nothing;
- normkit-tune's bad arguments: one error line, a non-zero exit, no file.
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

if sys.argv[1] == "--no-cjson":
    # a library built without cJSON: NORMKIT_TUNING gives one warning, and the defaults run
    env = dict(os.environ, NORMKIT_TUNING=os.path.abspath(__file__))
    r = subprocess.run(sys.argv[3:] + [sys.argv[2], "-", "0", "0"], env=env, capture_output=True,
                       text=True, timeout=600)
    lines = r.stderr.splitlines()
    ok = (r.returncode == 0 and len(lines) == 1 and "built without cJSON" in lines[0]
          and lines[0].endswith("; using the built-in defaults"))
    print(("ok   " if ok else "FAIL ") + "without cJSON: one warning, the defaults run")
    print(r.stdout + r.stderr, end="")
    sys.exit(0 if ok else 1)

INFO, TUNE, CHECKER = sys.argv[1:4]
WRAP = sys.argv[4:]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(prog, args, tuning=None, env_extra=None):
    env = dict(os.environ)
    env.pop("NORMKIT_TUNING", None)
    if tuning is not None:
        env["NORMKIT_TUNING"] = tuning
    for k, v in (env_extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return subprocess.run(WRAP + [prog] + args, env=env, capture_output=True, text=True,
                          timeout=600)


base = run(INFO, ["--json"])
assert base.returncode == 0, base.stderr
info = json.loads(base.stdout)
machine = {"cpu": info["cpu"]["model"], "l1d_bytes": info["tuning"]["l1d_bytes"],
           "l2_bytes": info["tuning"]["l2_bytes"]}
isas = [i for i in info["isa"]["supported"] if i != "scalar"]
check(info["tuning"]["path"] is None, "no NORMKIT_TUNING: normkit-info says defaults")
tmp = tempfile.mkdtemp(prefix="nk-tuning-")


def write(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w" if isinstance(text, str) else "wb") as f:
        f.write(text)
    return path


# ---- a hand-made file: another variant and other knobs in every class of every ISA ----
NORMS = ["rmsnorm", "layernorm", "add_rmsnorm", "add_layernorm"]
LINEARS = ["linear", "rmsnorm_linear", "layernorm_linear"]
CLASSES = ["l1_row", "l1_rows", "l2_row", "l2_rows", "mem_row", "mem_rows"]
variants = {(k["op"], k["isa"]): [] for k in info["kernels"]}
for k in info["kernels"]:
    variants[(k["op"], k["isa"])].append(k["variant"])
PICK, PIPE, KC = "u2_acc4", 4096, 256
good = {"format": "normkit-tuning", "version": 1, "machine": machine,
        "created": "2026-12-02T00:00:00Z", "tool": "test_tuning.py", "budget_s": 0, "kernels": []}
# scalar too (the linear operators' knobs; scalar norms have no knob variants): the suite also
# runs with NORMKIT_ISA=scalar
for isa in isas + ["scalar"]:
    for op in NORMS:
        if PICK not in variants.get((op, isa), []):
            continue
        for c in CLASSES:
            good["kernels"].append({"op": op, "isa": isa, "class": c, "variant": PICK,
                                    "params": {"pipe_max_dim": PIPE, "dram_min_bytes": "never"},
                                    "default": "u4_acc8", "gain": 1.0, "spread": 0.0})
    for op in LINEARS:
        if (op, isa) in variants:
            good["kernels"].append({"op": op, "isa": isa, "class": "all", "variant": "",
                                    "params": {"lin_kc": KC, "lin_mc": 16}})
good_path = write("good.json", json.dumps(good, indent=1))

if isas:
    r = run(INFO, ["--json"], tuning=good_path)
    d = json.loads(r.stdout)
    check(r.returncode == 0 and r.stderr == "", "a good file loads without a warning")
    check(d["tuning"]["path"] == good_path, "normkit-info --json names the file")
    act = d["isa"]["active"]
    ok = act == "scalar" or all(d["dispatch"][op]["classes"][c].endswith("__%s_%s" % (act, PICK))
             and d["dispatch"][op]["class_knobs"][c]["pipe_max_dim"] == PIPE
             and d["dispatch"][op]["class_knobs"][c]["dram_min_bytes"] is None
             for op in NORMS for c in CLASSES)
    check(ok, "normkit-info: every class of every norm runs the file's variant and knobs")
    check(all(d["dispatch"][op]["knobs"]["lin_kc"] == KC and d["dispatch"][op]["knobs"]["lin_mc"] == 16
              for op in LINEARS), "normkit-info: the linear operators take the file's lin_kc, lin_mc")
    text = run(INFO, [], tuning=good_path).stdout
    check("tuning:    " + good_path in text, "normkit-info's text has a tuning: line with the path")
    r = run(CHECKER, [PICK, str(PIPE), str(KC)], tuning=good_path)
    print(r.stdout + r.stderr, end="")
    check(r.returncode == 0, "test_tuning: the entry points run the file's variants and knobs")
    for isa in isas:
        r = run(CHECKER, [PICK, str(PIPE), str(KC)], tuning=good_path,
                env_extra={"NORMKIT_ISA": isa})
        check(r.returncode == 0, "test_tuning under NORMKIT_ISA=%s" % isa)
        if r.returncode:
            print(r.stdout + r.stderr, end="")
r = run(CHECKER, ["-", "0", "0"])
check(r.returncode == 0, "test_tuning without a file: the registry knobs")

# ---- a file's "isa": what "auto" runs (the tuner writes it when another ISA of the default's
# family wins); NORMKIT_ISA still wins over it ----
# (without NORMKIT_ISA, which the suite's --setup runs set: it would pin the ISA)
FAMILY = {"avx2": 1, "avx512": 1, "neon": 2, "sve": 2}
AUTO = {"NORMKIT_ISA": None}
dflt = json.loads(run(INFO, ["--json"], env_extra=AUTO).stdout)["isa"]["active"]
rivals = [i for i in isas if i != dflt and FAMILY.get(i) == FAMILY.get(dflt)]
if rivals:
    rival = rivals[0]
    isa_path = write("isa.json", json.dumps(dict(good, isa=rival, isa_gain=1.05)))
    r = run(INFO, ["--json"], tuning=isa_path, env_extra=AUTO)
    d = json.loads(r.stdout) if r.returncode == 0 else {}
    check(r.stderr == "" and d.get("isa", {}).get("active") == rival
          and all(v["isa"] == rival for v in d["dispatch"].values()),
          "a file with \"isa\": %s makes auto run %s (default %s)" % (rival, rival, dflt))
    r = run(INFO, ["--json"], tuning=isa_path, env_extra={"NORMKIT_ISA": "scalar"})
    d = json.loads(r.stdout) if r.returncode == 0 else {}
    check(d.get("isa", {}).get("active") == "scalar", "NORMKIT_ISA=scalar wins over the file's isa")
    r = run(CHECKER, ["--isa", isa_path, rival], env_extra=AUTO)
    print(r.stdout + r.stderr, end="")
    check(r.returncode == 0, "normkit_tuning_load of a file with an isa: auto, forced, defaults")
else:
    print("skip the file's \"isa\": no other ISA of %s's family here" % dflt)

# ---- bad files: one warning each, nothing changed ----
def mutated(fn):
    g = copy.deepcopy(good)
    if not g["kernels"]:
        g["kernels"].append({"op": "rmsnorm", "isa": "scalar", "class": "l1_row", "variant": ""})
    fn(g)
    return json.dumps(g)


def set_in(path, value):
    def f(g):
        o = g
        for k in path[:-1]:
            o = o[k]
        o[path[-1]] = value
    return f


def delete(path):
    def f(g):
        o = g
        for k in path[:-1]:
            o = o[k]
        del o[path[-1]]
    return f


foreign = "neon" if info["cpu"]["arch"].startswith("x86") else "avx2"
bad = {
    "missing file": (None, "cannot open"),
    "a directory": (tmp, "not a regular file"),
    "empty": ("", "malformed or truncated"),
    "truncated": (json.dumps(good)[: len(json.dumps(good)) // 2], "malformed or truncated"),
    "not JSON": ("format = normkit\n", "malformed"),
    "a NUL byte": (json.dumps(good)[:10].encode() + b"\0" + json.dumps(good)[10:].encode(), "NUL"),
    "an array": ("[]", "top level must be an object"),
    "another format": (mutated(set_in(["format"], "other")), "not a normkit tuning file"),
    "version 2": (mutated(set_in(["version"], 2)), "version"),
    "another CPU": (mutated(set_in(["machine", "cpu"], "Imaginary CPU 9000")), "another machine"),
    "another L2": (mutated(set_in(["machine", "l2_bytes"], machine["l2_bytes"] * 2)), "another machine"),
    "another L1d": (mutated(set_in(["machine", "l1d_bytes"], machine["l1d_bytes"] + 1)), "another machine"),
    "no machine": (mutated(delete(["machine"])), "\"machine\" must be an object"),
    "unknown top key": (mutated(set_in(["extra"], 1)), "unknown key \"extra\""),
    "unknown entry key": (mutated(set_in(["kernels", 0, "speed"], 2)), "unknown key \"speed\""),
    "unknown knob": (mutated(set_in(["kernels", 0, "params", "unroll"], 2)), "unknown key \"unroll\""),
    "kernels not an array": (mutated(set_in(["kernels"], {})), "must be an array"),
    "unknown op": (mutated(set_in(["kernels", 0, "op"], "softmax")), "not a tunable operator"),
    "elementwise op": (mutated(set_in(["kernels", 0, "op"], "gelu")), "not a tunable operator"),
    "unknown ISA": (mutated(set_in(["kernels", 0, "isa"], "avx9000")), "not an ISA"),
    "ISA not in build": (mutated(set_in(["kernels", 0, "isa"], foreign)), "has no"),
    "unknown class": (mutated(set_in(["kernels", 0, "class"], "l3_row")), "not a shape class"),
    "unknown variant": (mutated(set_in(["kernels", 0, "variant"], "u16_acc2")), "has no"),
    "op as number": (mutated(set_in(["kernels", 0, "op"], 3)), "must be a string"),
    "negative knob": (mutated(set_in(["kernels", 0, "params", "pipe_max_dim"], -1)), "must be an integer"),
    "huge knob": (mutated(set_in(["kernels", 0, "params", "pipe_max_dim"], 1e30)), "must be an integer"),
    "fractional knob": (mutated(set_in(["kernels", 0, "params", "pipe_max_dim"], 2.5)), "must be an integer"),
    "never where not allowed": (mutated(set_in(["kernels", 0, "params", "pipe_max_dim"], "never")), "must be an integer"),
    "gain as string": (mutated(set_in(["kernels", 0, "gain"], "fast")), "must be a number"),
    "duplicate entry": (mutated(lambda g: g["kernels"].append(dict(g["kernels"][0]))), "repeats"),
    "duplicate key": (json.dumps(good)[:-1] + ', "version": 1}', "duplicate key"),
    "isa auto": (mutated(set_in(["isa"], "auto")), "\"isa\" must name one ISA"),
    "isa not a string": (mutated(set_in(["isa"], 3)), "\"isa\" must name one ISA"),
    "isa not supported": (mutated(set_in(["isa"], foreign)), "is not supported"),
    "isa_gain as string": (mutated(set_in(["isa_gain"], "fast")), "must be a number"),
}
if isas:
    lin = next(i for i, e in enumerate(good["kernels"]) if e["op"] == "linear")
    bad["lin_kc not a multiple of 64"] = (mutated(set_in(["kernels", lin, "params", "lin_kc"], 100)),
                                         "multiple of 64")
    bad["linear with a class"] = (mutated(set_in(["kernels", lin, "class"], "l1_row")), "not a shape class")
    bad["norm knob on linear"] = (mutated(set_in(["kernels", lin, "params", "pipe_max_dim"], 0)),
                                 "unknown key")
base_dispatch = info["dispatch"]
for name, (text, reason) in bad.items():
    if text is None:
        path = os.path.join(tmp, "does-not-exist.json")
    elif text == tmp:
        path = tmp
    else:
        path = write("bad.json", text)
    r = run(INFO, ["--json"], tuning=path)
    lines = r.stderr.splitlines()
    try:
        d = json.loads(r.stdout)
    except ValueError:
        d = {}
    ok = (r.returncode == 0 and len(lines) == 1 and
          lines[0].startswith("normkit: warning: NORMKIT_TUNING=%s: " % path) and
          lines[0].endswith("; using the built-in defaults") and reason in lines[0] and
          d.get("tuning", {}).get("path", "x") is None and d.get("dispatch") == base_dispatch)
    check(ok, "bad file (%s): one warning naming the reason, defaults kept" % name)
    if not ok:
        print("   stderr: " + r.stderr.strip())

# ---- a valid file with no entries: loaded (named by normkit-info), nothing changed; under the
# sanitizers this also checks that loading it leaks nothing (it did: found by tests/fuzz) ----
empty = dict(good, kernels=[])
empty_path = write("empty.json", json.dumps(empty))
r = run(INFO, ["--json"], tuning=empty_path)
d = json.loads(r.stdout) if r.returncode == 0 else {}
check(r.returncode == 0 and r.stderr == "" and d["tuning"]["path"] == empty_path
      and d["dispatch"] == base_dispatch, "a file with no entries: loaded, defaults unchanged")

# ---- normkit-tune ----
out = os.path.join(tmp, "tuned.json")
isa = isas[0] if isas else "scalar"
# under emulation (WRAPPER) the linear's prefill shape alone would take minutes
ops = "rmsnorm" if WRAP else "rmsnorm,linear"
r = run(TUNE, ["--budget", "1", "--ops", ops, "--isas", isa, "-o", out])
check(r.returncode == 0 and os.path.exists(out), "normkit-tune --budget 1 writes a file")
if r.returncode == 0:
    check("[1/" in r.stderr and "wrote " + out in r.stderr, "normkit-tune shows its progress")
    t = json.load(open(out))
    ents = {(e["op"], e["class"]) for e in t["kernels"]}
    check(t["machine"] == machine and t["format"] == "normkit-tuning" and t["version"] == 1,
          "the tuner's file names this machine")
    check((WRAP or ("linear", "all") in ents) and len([e for e in ents if e[0] == "rmsnorm"]) >= 4,
          "the tuner's file has rmsnorm per class and the linear (%d entries)" % len(ents))
    check(all(isinstance(e["gain"], (int, float)) and isinstance(e["spread"], (int, float))
              and e["gain"] > 0 for e in t["kernels"]), "each entry records its gain and spread")
    r2 = run(INFO, ["--json"], tuning=out)
    check(r2.returncode == 0 and r2.stderr == "" and json.loads(r2.stdout)["tuning"]["path"] == out,
          "the library loads the tuner's file")
    r3 = run(TUNE, ["--budget", "1", "--ops", "rmsnorm", "--isas", isa, "--quiet", "-o", out],
             tuning=good_path)
    check(r3.returncode == 0 and r3.stderr.strip() == "", "--quiet: nothing on stderr")

# the ISA question: with two ISAs of the default's family, the tuner times them against each
# other on every case it tuned for both, and writes "isa" only for the rival
if rivals:
    out2 = os.path.join(tmp, "tuned-isa.json")
    r = run(TUNE, ["--budget", "2", "--ops", "rmsnorm", "--isas", "%s,%s" % (dflt, rivals[0]),
                   "-o", out2], env_extra=AUTO)
    t = json.load(open(out2)) if r.returncode == 0 else {}
    n_isa = len([l for l in r.stderr.splitlines() if l.startswith("[isa] rmsnorm ")])
    check(r.returncode == 0 and n_isa >= 4 and
          ("%s against %s over %d cases" % (rivals[0], dflt, n_isa)) in r.stderr,
          "normkit-tune --isas %s,%s: one [isa] A/B per class, then the verdict" % (dflt, rivals[0]))
    check(t.get("isa") in (None, rivals[0]) and ("isa" in t) == ("isa_gain" in t)
          and ("auto will run it" in r.stderr) == ("isa" in t),
          "the file names the rival as its isa exactly when the verdict says so (%s)" % t.get("isa"))
    r2 = run(INFO, ["--json"], tuning=out2, env_extra=AUTO)
    check(r2.returncode == 0 and r2.stderr == "", "the library loads that file")

cli_bad = [
    (["--budget", "0"], "--budget"), (["--budget", "x"], "--budget"),
    (["-o", os.path.join(tmp, "never.json"), "--budget"], "missing value"),
    (["--ops", "softmax"], "not a tunable operator"), (["--ops", "gelu"], "not a tunable operator"),
    (["--isas", "avx9000"], "not an ISA"), (["--isas", foreign], "not supported"),
    (["--frobnicate"], "unknown argument"),
    (["-o", os.path.join(tmp, "no", "such", "dir.json")], "cannot write"),
    (["-o", os.path.join(good_path, "x.json")], "cannot write"),
]
for args, reason in cli_bad:
    target = os.path.join(tmp, "never.json")
    full = args if "-o" in args else args + ["-o", target]
    r = run(TUNE, full + ["--budget", "1"] if "--budget" not in args else full)
    lines = r.stderr.strip().splitlines()
    ok = (r.returncode in (1, 2) and len(lines) == 1 and lines[0].startswith("normkit-tune: error:")
          and reason in lines[0] and not os.path.exists(target))
    check(ok, "normkit-tune %s: one error line, exit %d, no file" % (" ".join(args), r.returncode))
    if not ok:
        print("   stderr: " + r.stderr.strip())
leftovers = [f for f in os.listdir(tmp) if ".tmp." in f or f.endswith(".probe")]
check(not leftovers, "no temporary files left behind")

print("%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
