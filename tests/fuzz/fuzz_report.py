#!/usr/bin/env python3
"""A mutation fuzzer for the report generator (reports/normkit_report.py) in the libFuzzer spirit:
standard library only, deterministic for a given --seed and --runs.

  fuzz_report.py [--time SECONDS] [--runs N] [--seed S] [--corpus DIR]... [--artifacts DIR]
  fuzz_report.py --replay [--corpus DIR]...     every seed once, in every mode (a meson test)
  fuzz_report.py --minimize CRASH.json          the smallest input that still crashes the same way

Seeds: the JSON fixtures in tests/data plus the files of each --corpus folder (default
tests/fuzz/corpus/report). Each execution mutates a seed or an input kept earlier, at byte level
(bit flips, random or JSON-ish bytes inserted, ranges deleted, duplicated or overwritten,
truncation, two inputs spliced) or at structure level (the JSON parsed, then values replaced by
other types, NaN/Infinity/-0/huge/tiny/negative numbers, big integers, empty and very long
strings, unicode and lone surrogates, deep nesting; keys removed, duplicated or added; lists
emptied, duplicated, cut; case names, units and aggregate kinds swapped for others that matter),
writes it to a temporary file and runs the generator's command line IN PROCESS
(normkit_report.run: reading, analysis, tables, the files written atomically) in one mode:

  single   -o OUT FILE                            the one-run report
  depth    -o OUT BASE.json --depth FILE          the depth section (normkit-depth JSON)
  compare  -o OUT --compare BASE.json FILE --fail-above PCT (either order)
  compare-self  -o OUT --compare FILE FILE
  isa      -o OUT --compare FILE --isa A B        two ISAs of the file (chosen from its names)
  filter   -o OUT --filter REGEX FILE             (invalid, huge-repeat and deeply nested ones too)
  flags    random command lines: bad flags and values (--fail-above nan, a lone --isa, ...),
           missing files, a directory as input, -o an existing file / a path under a file / a
           folder of the user's / an old report, --run-bench and --run-depth with a missing
           program, a directory, /bin/false, or a stand-in script that writes FILE as its output

BASE.json is the fixture sharing most case names with the input; the choices within a mode
(ISAs, regex, flags) follow from the input's bytes, so a replay of a saved input runs exactly
what the fuzzer ran (--replay runs every mode). Oracle: the run returns 0 or 1 and the output
folder holds report.md, index.html and summary.csv; or it raises ReportError (what main() prints
as one line `normkit_report: error: ...`, exit status 2) with a one-line message, the output
folder absent (or an old report there untouched), and no temporary folder left. Anything else
(KeyError, TypeError, ZeroDivisionError, RecursionError, an escaping ValueError or SystemExit, a
broken oracle, an execution over --timeout seconds) is a crash: the input's path and the
traceback are printed, the input saved to the artifacts folder as crash-<sha1>.json with
crash-<sha1>.txt (mode, command line, traceback), and the fuzzer exits 1 (--keep-going: saves
each distinct crash and goes on).

Plots: matplotlib is slow (about a second a report), so by default a fuzzing execution uses
stand-in plot functions that write a tiny PNG; --plots P uses the real ones with probability P
(default 0.02), and --replay uses them always (--plots 0 to skip). Without matplotlib the
stand-ins are used throughout (the generator itself then stops with its one-line error).

Feedback: --cov (default on) traces the lines run in reports/*.py; an input that reaches a new
line, or writes a new kind of report (its set of sections), joins the in-memory corpus (written
to --save-new DIR if given). 25% of the mutations are at byte level, 35% hostile at structure
level and 40% keep the file readable (numbers scaled, cases renamed, copied or dropped,
aggregates, counters, labels and context changed), so that the analysis and the tables run on
shapes the fixtures do not have. The end prints the executions and executions per second.

A crash: fix it in reports/*.py at its root, shrink the input (--minimize, or by hand) and add
it to tests/fuzz/corpus/report/ under a name saying what it holds (the regression seeds there
are the inputs that crashed the generator before; `--replay` runs them), and a check to
tests/test_report.py.
"""
import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REPORTS = os.path.join(ROOT, "reports")
DATA = os.path.join(ROOT, "tests", "data")
DEFAULT_CORPUS = os.path.join(HERE, "corpus", "report")
sys.path.insert(0, REPORTS)

import normkit_report  # noqa: E402
from nkr_data import ReportError  # noqa: E402

try:
    import nkr_plots as REAL_PLOTS  # needs matplotlib
except ImportError:
    REAL_PLOTS = None

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
       b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x04\x00\x09\xfb\x03\xfd\xe3U\xf2\x9c\x00\x00\x00"
       b"\x00IEND\xaeB`\x82")


def _stub_plot(*args):
    """A plot function's stand-in: writes a 1x1 PNG where the real one writes its plot."""
    path = next(a for a in args if isinstance(a, str) and a.endswith(".png"))
    with open(path, "wb") as f:
        f.write(PNG)
    return True


STUB_PLOTS = types.ModuleType("nkr_plots")
for _name in ("roofline", "speedup_bars", "linear_rows", "block_rows", "depth_plot", "compare_bars"):
    setattr(STUB_PLOTS, _name, _stub_plot)


def use_plots(real):
    sys.modules["nkr_plots"] = REAL_PLOTS if real and REAL_PLOTS is not None else STUB_PLOTS


# ---- seeds ----

NAME_RX = re.compile(rb'"(?:run_)?name"\s*:\s*"([^"\\]{1,200})"')


def names_in(data):
    return set(NAME_RX.findall(data))


def is_depth(data):
    return b'"records"' in data or b'"layer"' in data


def read_seeds(dirs):
    """[(path, bytes)] of tests/data/*.json and every file in dirs, sorted, duplicates once."""
    out, seen = [], set()
    paths = sorted(os.path.join(DATA, f) for f in os.listdir(DATA) if f.endswith(".json"))
    for d in dirs:
        if os.path.isdir(d):
            paths += sorted(os.path.join(d, f) for f in os.listdir(d)
                            if os.path.isfile(os.path.join(d, f)) and not f.startswith("."))
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        h = hashlib.sha1(data).digest()
        if h not in seen:
            seen.add(h)
            out.append((p, data))
    return out


FIXTURES = {}  # path -> names, of tests/data's bench runs (the compare and depth modes' BASE)


def load_fixtures():
    for f in sorted(os.listdir(DATA)):
        if f.endswith(".json") and not f.startswith("depth"):
            with open(os.path.join(DATA, f), "rb") as fh:
                FIXTURES[os.path.join(DATA, f)] = names_in(fh.read())


def base_for(data):
    """The fixture sharing most case names with the input (bench-linear.json, the smallest, when none)."""
    names = names_in(data)
    best = max(FIXTURES, key=lambda p: (len(FIXTURES[p] & names), -len(FIXTURES[p])))
    return best if FIXTURES[best] & names else os.path.join(DATA, "bench-linear.json")


# ---- mutations ----

JSONISH = [b'"', b"{", b"}", b"[", b"]", b",", b":", b"null", b"true", b"false", b"0", b"-0", b"-1",
           b"1e308", b"-1e308", b"1e999", b"NaN", b"Infinity", b"-Infinity", b"5e-324", b"\\u0000",
           b"\\ud800", b"\\\"", b"\xff", b"\xc3\xa9", b"\xf0\x9f\x98\x80", b"9" * 5000, b"\n", b"\t",
           b'"name":', b'"benchmarks":', b'"context":', b'"records":', b'"real_time":', b'"time_unit":',
           b'"cpu_time":', b'"run_type":"aggregate"', b'"aggregate_name":"median"', b'"aggregate_name":"cv"',
           b'"errors":', b'"layer":', b'"layout":', b"/real_time", b"/rows:", b"/dim:", b"block/"]
NAMES = ["rmsnorm/f32/avx512/dim:4096/rows:64", "rmsnorm/f32/scalar/dim:4096/rows:64",
         "layernorm/f32/autovec/dim:768/rows:1", "rmsnorm/f32/onednn/dim:64/rows:1",
         "rmsnorm/f32/avx512_u2_acc4/dim:64/rows:1", "rmsnorm_linear/f32/avx512/dim:4096/n:4096/rows:8",
         "rmsnorm_linear/f32/avx512_2t/dim:4096/n:4096/rows:8/real_time", "linear/f32/openblas/dim:8/n:8/rows:1",
         "rmsnorm_linear/f32/avx512_unfused/dim:4096/n:4096/rows:8", "ceiling_copy/f32/avx512/bytes:16384",
         "ceiling_read/f32/avx512/bytes:23633408", "ceiling_fma/f32/avx512/acc:16", "ceiling_rowcall/f32/avx2/dim:1",
         "ceiling_copy_ws/f32/avx512/bytes:4096", "block/prenorm/rmsnorm/swiglu/avx512/fused/d:256/rows:1",
         "block/postnorm/layernorm/gelu/onednn/peer/d:256/rows:32",
         "block/prenorm/rmsnorm/swiglu/torch/peer/d:256/rows:1",
         "block/x/y/z/avx2/unfused/d:0/rows:0", "rmsnorm/f32/avx512/dim:0/rows:0", "rmsnorm/f32/avx2/dim:1.5/rows:2",
         "rmsnorm/f32/avx512/dim:" + "9" * 30 + "/rows:1", "rmsnorm/f32/avx512/dim:" + "9" * 5000 + "/rows:1",
         "rmsnorm/f32/avx512/dim:1" + "0" * 400 + ".5/rows:1", "rmsnorm/f32/avx512", "block/", "", "/", "a/b/c/d:e"]
STRINGS = ["", " ", "median", "cv", "mean", "stddev", "aggregate", "iteration", "ns", "us", "ms", "s", "min",
           "L1", "L2", "L3", "DRAM", "L1 L2", "defaults", "prenorm", "postnorm", "scalar/fused", "x" * 100000,
           "é", "\u2028", "\ud800", "\x00", "\n", "😀" * 50, "avx512=avx512 autovec=avx512 =",
           "core Haswell (forced by OPENBLAS_CORETYPE)",
           "onednn: oneDNN 2.6; openblas: OpenBLAS core Haswell (forced by OPENBLAS_CORETYPE); xnnpack: ",
           "not started"] + NAMES
KEYS = ["name", "run_name", "run_type", "aggregate_name", "repetitions", "repetition_index", "threads",
        "iterations", "real_time", "cpu_time", "time_unit", "label", "error_occurred", "error_message",
        "bytes_per_second", "items_per_second", "flops_per_second", "flops", "FLOP/s", "tokens_per_second",
        "rows_per_second", "ns_per_call", "bound_ns", "pct_of_bound", "copy_ws_ns", "pct_of_copy_ws",
        "wall_time_rates", "working_set_bytes", "context", "benchmarks", "caches", "tuning", "ceiling_isa_map",
        "linear_peers", "linear_2t", "cpu_model", "level", "size", "type", "num_sharing", "records", "config",
        "machine", "layer", "layout", "residual_rms", "output_rms", "update_rms", "error_bound", "errors",
        "layers", "dim", "eps", "error_metric", "norm", "act", ""]


class Raw:
    """JSON text written as is (numbers json.dumps cannot write, deep nesting, duplicate keys)."""

    def __init__(self, text):
        self.text = text


class Pairs(list):
    """An object as [(key, value)]: may hold a key twice."""


def dumps(v):
    out = []
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, Raw):
            out.append(x.text)
        elif isinstance(x, str) and x.startswith("\0sep"):
            out.append(x[4:])
        elif isinstance(x, (dict, Pairs)):
            items = list(x.items()) if isinstance(x, dict) else list(x)
            todo = ["\0sep{"]
            for i, (k, val) in enumerate(items):
                todo += (["\0sep,"] if i else []) + [Raw(json.dumps(str(k)) + ":"), val]
            stack += reversed(todo + ["\0sep}"])
        elif isinstance(x, list):
            todo = ["\0sep["]
            for i, val in enumerate(x):
                todo += (["\0sep,"] if i else []) + [val]
            stack += reversed(todo + ["\0sep]"])
        else:
            out.append(json.dumps(x))
    return "".join(out).encode("utf-8", "surrogatepass")


def nodes(doc):
    """[(container, key)] of every value in the document (iteratively)."""
    out, stack = [], [doc]
    while stack and len(out) < 20000:
        x = stack.pop()
        items = x.items() if isinstance(x, dict) else enumerate(x) if isinstance(x, list) else ()
        for k, v in items:
            out.append((x, k))
            if isinstance(v, (dict, list)):
                stack.append(v)
    return out


def new_value(rng, old):
    r = rng.randrange(22)
    if r == 0:
        return rng.choice([None, True, False, [], {}, "", 0, -0.0, [old], {"k": old}])
    if r == 1:
        return float(rng.choice(["nan", "inf", "-inf"]))
    if r == 2:
        return rng.choice([1e308, -1e308, 5e-324, -5e-324, 1e-300, 1e30, 1e15, 2.0 ** 63, -(2 ** 63), 2 ** 64])
    if r == 3:
        return Raw(rng.choice(["1e999", "-1e999", "9" * rng.choice([20, 400, 4299, 4301, 20000]), "-0", "1E+2"]))
    if r == 4:
        n = rng.choice([2, 10, 100, 900, 1000, 5000, 100000])
        o, c = rng.choice([("[", "]"), ('{"a":', "}")])
        return Raw(o * n + "1" + c * n)
    if r == 5:
        return rng.choice(STRINGS)
    if r == 6:
        return rng.choice(NAMES)
    if r in (7, 8) and isinstance(old, (int, float)) and not isinstance(old, bool) and abs(old) < 1e300:
        return rng.choice([-old, 0, old * rng.choice([1e-9, 1e-3, 0.5, 2, 1e3, 1e9, 1e200]), old + 1, old - 1,
                           int(old) if abs(old) < 1e18 else old, float(old)])
    if r in (9, 10) and isinstance(old, str):
        s = old
        if s and rng.random() < 0.5:
            i = rng.randrange(len(s))
            s = s[:i] + rng.choice(["/", ":", ".", "0", "9" * 40, "_", "A", "real_time", "", "\n"]) + s[i + 1:]
        else:
            s = s + rng.choice(["/real_time", "/x", "/rows:1", ":1", "_packed", "_unfused", "_2t", "/"])
        return s
    if r == 11:
        return rng.randint(-3, 5)
    if r == 12:
        return rng.choice(["ns", "us", "ms", "s", "ps", "NS", ["ns"], {"ns": 1}])
    if r == 13:
        return rng.choice(["median", "cv", "mean", "stddev", "min", None, 3])
    if r == 14:
        return rng.choice(["aggregate", "iteration", "", None])
    if r == 15:
        return [] if rng.random() < 0.5 else [old, old]
    if r == 18:
        return rng.choice(";:/ \\_.-0a|`*<") * rng.choice([100, 5000, 100000])  # long runs: quadratic parsing
    if r == 16:
        return "".join(rng.choice("aé😀\u2028\x00/:.0") for _ in range(rng.randrange(1, 20)))
    if r == 17:
        return {rng.choice(KEYS): new_value(rng, None) for _ in range(rng.randrange(3))}
    return rng.choice([0, 1, -1, 0.5, 1e-9, 3, 1000, 1e9, 2.5e12])


def mutate_tree(rng, doc):
    """Structure-level mutations of a parsed document, in place; returns the document."""
    dup = None
    for _ in range(rng.choice([1, 1, 1, 2, 3, 5, 10])):
        all_nodes = nodes(doc)
        if not all_nodes:
            return new_value(rng, doc)
        parent, key = rng.choice(all_nodes)
        r = rng.randrange(10)
        if r <= 3:
            parent[key] = new_value(rng, parent[key])
        elif r == 4 and isinstance(parent, dict):
            del parent[key]
        elif r == 4:
            parent.pop(key)
        elif r == 5 and isinstance(parent, dict):
            parent[rng.choice(KEYS)] = new_value(rng, parent[key]) if rng.random() < 0.5 else parent[key]
        elif r == 5:
            parent.insert(key, parent[key] if rng.random() < 0.6 else new_value(rng, parent[key]))
        elif r == 6 and isinstance(parent, list):
            i = rng.randrange(len(parent) + 1)
            if rng.random() < 0.5:
                del parent[i:]
            else:
                rng.shuffle(parent)
        elif r == 6:
            dup = parent  # a key twice: done last (the document then holds a Pairs)
        elif r == 7:
            v = parent[key]
            if isinstance(v, (dict, list)) and v:
                parent[key] = type(v)() if rng.random() < 0.7 else v
            else:
                parent[key] = new_value(rng, v)
        elif r == 8 and isinstance(parent, dict):
            # rename a key: to one the reader knows, or a near miss
            v = parent.pop(key)
            parent[rng.choice(KEYS + [str(key).upper(), str(key) + " "])] = v
        else:
            # a copy of another benchmark or record, with one field changed
            lists = [p for p, _ in all_nodes if isinstance(p, list) and p and isinstance(p[0], dict)]
            if lists:
                lst = rng.choice(lists)
                src = rng.choice(lst)
                if isinstance(src, dict):
                    c = dict(src)
                    if c:
                        k = rng.choice(list(c))
                        c[k] = new_value(rng, c[k])
                    lst.insert(rng.randrange(len(lst) + 1), c)
    if dup is not None and dup:
        # one key twice (Python's json keeps the last), swapped in where the object was
        items = list(dup.items())
        k = rng.choice(list(dup))
        items.insert(rng.randrange(len(items) + 1), (k, new_value(rng, dup[k])))
        if dup is doc:
            return Pairs(items)
        for p, k2 in nodes(doc):
            if p[k2] is dup:
                p[k2] = Pairs(items)
                break
    return doc


ISAS = ["scalar", "avx2", "avx512", "neon", "sve", "autovec", "autovec_fastmath", "eigen", "onednn", "openblas",
        "xnnpack", "torch", "avx512_packed", "avx512_unfused", "avx512_2t", "avx2_packed", "avx512_u2_acc4",
        "scalar_2t"]


def small_number(rng, old=None):
    if isinstance(old, (int, float)) and not isinstance(old, bool) and old and abs(old) < 1e300 and rng.random() < 0.7:
        return old * rng.choice([0.5, 0.9, 0.99, 1.01, 1.1, 2, 10, 1e-3, 1e3])
    return rng.choice([0, 1, 2, 0.5, 1e-3, 7.5, 100, 4096, 1e6, 1e9, 3e10, 1e-30, 1e30])


def mutate_benign(rng, doc):
    """Mutations that keep the document readable, so that the analysis and the tables run on
    shapes the fixtures do not have: numbers scaled, cases renamed, dropped or copied, aggregates
    and repetitions changed, counters and labels added or removed, context fields changed."""
    if isinstance(doc, dict) and isinstance(doc.get("benchmarks"), list) and doc["benchmarks"]:
        bs = doc["benchmarks"]
        for _ in range(rng.choice([1, 1, 2, 3, 6])):
            if not bs:
                break
            i = rng.randrange(len(bs))
            b = bs[i] if isinstance(bs[i], dict) else {}
            r = rng.randrange(12)
            if r == 0:
                del bs[i]
            elif r == 1:
                c = dict(b)
                name = str(c.get("run_name", c.get("name", "")))
                f = name.split("/")
                if len(f) > 2:
                    j = 4 if name.startswith("block/") and len(f) > 5 else 2
                    f[j] = rng.choice(ISAS)
                    name = "/".join(f)
                c["name"] = c["run_name"] = name
                bs.insert(rng.randrange(len(bs) + 1), c)
            elif r == 2:
                keys = [k for k, v in b.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
                if keys:
                    k = rng.choice(keys)
                    b[k] = small_number(rng, b[k])
            elif r == 3:
                name = str(b.get("run_name", b.get("name", "")))
                name = re.sub(r":[0-9.]+", lambda m: ":" + str(rng.choice([0, 1, 2, 8, 32, 64, 768, 4096, 1.5])), name, count=1) \
                    if rng.random() < 0.6 else rng.choice(NAMES[:18])
                b["name"] = b["run_name"] = name
                if rng.random() < 0.3:
                    b["name"] = name + "_" + rng.choice(["median", "mean", "cv"])
            elif r == 4:
                b["run_type"] = rng.choice(["aggregate", "iteration"])
                b["aggregate_name"] = rng.choice(["median", "mean", "stddev", "cv"])
                if rng.random() < 0.5:
                    b["repetitions"] = rng.choice([1, 2, 3, 5, 0, -1])
            elif r == 5:
                for pct, ns in (("pct_of_bound", "bound_ns"), ("pct_of_copy_ws", "copy_ws_ns")):
                    if rng.random() < 0.5:
                        b[pct], b[ns] = small_number(rng), small_number(rng)
                    else:
                        b.pop(pct, None)
                        b.pop(ns, None)
                b["ns_per_call"] = small_number(rng)
            elif r == 6:
                b["label"] = rng.choice(["L1", "L2", "L3", "DRAM", "", "L1 L2", "x", "DRAM rows"])
            elif r == 7:
                b["time_unit"] = rng.choice(["ns", "us", "ms", "s"])
            elif r == 8:
                for k in ("bytes_per_second", "flops_per_second", "tokens_per_second", "rows_per_second",
                          "items_per_second", "wall_time_rates"):
                    if rng.random() < 0.3:
                        if rng.random() < 0.5:
                            b.pop(k, None)
                        else:
                            b[k] = small_number(rng) if k != "wall_time_rates" else rng.choice([0, 1])
            elif r == 9:
                b["error_occurred"] = rng.random() < 0.8
                b["error_message"] = "injected"
            elif r == 10:
                del bs[rng.randrange(len(bs)):]
            else:
                rng.shuffle(bs)
        if rng.random() < 0.2 and isinstance(doc.get("context"), dict):
            ctx = doc["context"]
            k = rng.choice(["ceiling_isa_map", "linear_peers", "caches", "tuning", "linear_2t", "cpu_model"])
            ctx[k] = rng.choice([
                "avx512=avx512 autovec=avx2 onednn=scalar", "", "=", "onednn: a; openblas: core Haswell; xnnpack: b",
                "core Zen (forced by OPENBLAS_CORETYPE)", [{"type": "Data", "level": 1, "size": 32768, "num_sharing": 1}],
                [{"type": "Unified", "level": 2, "size": 0}], [], "defaults", "my.tuning", None, "not started", 3])
    elif isinstance(doc, dict) and isinstance(doc.get("records"), list) and doc["records"]:
        rs = doc["records"]
        for _ in range(rng.choice([1, 2, 4])):
            if not rs:
                break
            i = rng.randrange(len(rs))
            rec = rs[i] if isinstance(rs[i], dict) else {}
            r = rng.randrange(8)
            if r == 0:
                del rs[i]
            elif r == 1:
                c = dict(rec, layer=rng.choice([1, 2, 3, 9, 64, 1000, 1000000]))
                rs.append(c)
            elif r == 2:
                k = rng.choice(["residual_rms", "output_rms", "update_rms", "error_bound"])
                rec[k] = rng.choice([None, 0, 1e-30, 1e300, small_number(rng, rec.get(k))])
            elif r == 3 and isinstance(rec.get("errors"), dict):
                e = rec["errors"]
                if e and rng.random() < 0.5:
                    e[rng.choice(list(e))] = rng.choice([None, 0, 1e-300, 2.0, 1e300])
                else:
                    e[rng.choice(["x/fused", "avx512/fused", "a/b/c", "", "/"])] = rng.choice([1e-7, None, 0])
            elif r == 4:
                rec["layout"] = rng.choice(["prenorm", "postnorm", "sandwich", "x" * 200])
            elif r == 5:
                rec["layer"] = rng.choice([1, 2, 5, 1000000])
            elif r == 6:
                doc["config"] = {k: rng.choice([1, 1.5e-5, "rmsnorm", None, [1, 2], {"a": 1}]) for k in
                                 rng.sample(["layers", "norm", "act", "dim", "hidden", "rows", "init", "eps", "seed",
                                             "error_metric"], 4)}
            else:
                doc["machine"] = rng.choice([{}, {"cpu_model": "x"}, [], "m", {"cpu_model": None}])
    return doc


def mutate_bytes(rng, data, other):
    data = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 4, 8])):
        n = len(data)
        r = rng.randrange(9)
        if r == 0 and n:
            i = rng.randrange(n)
            data[i] ^= 1 << rng.randrange(8)
        elif r == 1 and n:
            data[rng.randrange(n)] = rng.randrange(256)
        elif r == 2:
            i = rng.randrange(n + 1)
            data[i:i] = rng.choice(JSONISH) if rng.random() < 0.7 else bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
        elif r == 3 and n:
            i = rng.randrange(n)
            del data[i:i + rng.choice([1, 2, 8, 64, 1024])]
        elif r == 4 and n:
            del data[rng.randrange(n):]  # truncated
        elif r == 5 and n:
            i = rng.randrange(n)
            j = min(n, i + rng.choice([1, 16, 200, 4000]))
            data[i:i] = data[i:j]
        elif r == 6 and n:
            i = rng.randrange(n)
            tok = rng.choice(JSONISH)
            data[i:i + len(tok)] = tok
        elif r == 7 and other:
            # splice: the head of this input and the tail of another
            i, j = rng.randrange(n + 1), rng.randrange(len(other) + 1)
            data = bytearray(data[:i] + other[j:])
        elif r == 8 and n:
            # a digit run changed: numbers are most of these files
            k = rng.randrange(n)
            lo = max(0, k - 200)
            m = list(re.finditer(rb"-?[0-9][0-9.e+-]*", bytes(data[lo:k + 200])))
            if m:
                mm = rng.choice(m)
                a, b = lo + mm.start(), lo + mm.end()
                data[a:b] = rng.choice([b"0", b"-1", b"1e308", b"NaN", b"-0", b"1e-320", b"9" * 400, b"2.5", b'"1"', b"null"])
    return bytes(data)


def mutate(rng, data, other):
    """25% byte level, 35% hostile structure, 40% structure kept readable (then maybe hostile too)."""
    try:
        return _mutate(rng, data, other)
    except (ValueError, TypeError, OverflowError, RecursionError):  # a mutation that does not apply
        return mutate_bytes(rng, data, other)


def _mutate(rng, data, other):
    r = rng.random()
    if r >= 0.25:
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            doc = None
        if doc is not None:
            if r >= 0.6:
                doc = mutate_benign(rng, doc)
                if rng.random() < 0.15:
                    doc = mutate_tree(rng, doc)
                return dumps(doc)
            out = dumps(mutate_tree(rng, doc))
            return out if rng.random() < 0.85 else mutate_bytes(rng, out, other)
    return mutate_bytes(rng, data, other)


# ---- modes: the command lines an input runs in ----

MODES = ("single", "depth", "compare", "compare-self", "isa", "filter", "flags")
FILTERS = ["^rmsnorm/", "avx512", "rows:1$", "/scalar/", "(", "[a-", "^$", "block/", "linear", "x{2,1}",
           "dim:(64|768)", ".*", "ceiling_", "\\", "(?P<a>", "é", "\n", "a{99999999999}", "(" * 2000 + ")" * 2000]
ISA_RX = re.compile(rb'"(?:run_)?name"\s*:\s*"(?:block/[a-z0-9_]+/[a-z0-9_]+/[a-z0-9_]+/([a-z][a-z0-9_]*)|'
                    rb'[a-z][a-z0-9_]*/[a-z][a-z0-9]*/([a-z][a-z0-9_]*))/')


def argv_for(mode, path, data, work):
    """The command line of one mode on one input; its choices follow from the input's bytes."""
    out = os.path.join(work, "out")
    r = random.Random(hashlib.sha1(data + mode.encode()).digest())
    base = base_for(data)
    if mode == "single":
        return ["-o", out, path]
    if mode == "depth":
        return ["-o", out, os.path.join(DATA, "bench-linear.json"), "--depth", path]
    if mode == "compare":
        pair = [base, path] if r.random() < 0.6 else [path, base]
        return ["-o", out, "--compare"] + pair + ["--fail-above", r.choice(["5", "0", "-10", "1e9"])]
    if mode == "compare-self":
        return ["-o", out, "--compare", path, path]
    if mode == "isa":
        isas = sorted({(a or b).decode() for a, b in ISA_RX.findall(data)})
        pick = (isas + ["scalar", "avx512"])[:2] if len(isas) < 2 else [isas[0], isas[-1]]
        if r.random() < 0.3 and isas:
            pick = [r.choice(isas), r.choice(isas + ["neon"])]
        return ["-o", out, "--compare", path, "--isa"] + pick + (["--fail-above", "3"] if r.random() < 0.5 else [])
    if mode == "filter":
        return ["-o", out, "--filter", r.choice(FILTERS), path]
    # flags: a random command line around the input
    existing = os.path.join(work, "a-file")
    mine = os.path.join(work, "users-folder")
    old = os.path.join(work, "old-report")
    pool = [["--compare", path], ["--compare", path, base], ["--compare", base, path, path], ["--isa", "scalar", "avx512"],
            ["--isa", "avx2"], ["--isa", "x", "x"], ["--filter", r.choice(FILTERS)], ["--fail-above"],
            ["--fail-above", r.choice(["5", "nan", "inf", "-inf", "-3", "abc", "1e999", "", "0x10", "1_0"])],
            ["--depth", path], ["--depth", os.path.join(DATA, "depth-small.json")], ["--depth", work],
            ["--run-depth", os.path.join(work, "no-such-normkit-depth")], ["--run-depth", work],
            ["--run-bench", os.path.join(work, "no-such-normkit-bench")], ["--run-bench", work],
            ["--run-bench", "/bin/false"], ["--run-bench", "/bin/true"], ["--"], ["--bogus"], ["-x"], ["--compare"],
            ["-o", existing], ["-o", os.path.join(existing, "sub")], ["-o", mine], ["-o", old], ["-o", ""],
            ["-o", os.path.join(work, "new", "deeper", "out")], [work], [os.path.join(work, "no-such.json")],
            ["--run-bench", os.path.join(work, "input", "fake-bench")], ["--run-depth", os.path.join(work, "input", "fake-depth")],
            [path], [path], [base], ["--output=" + out], ["--filter=" + r.choice(FILTERS)], ["-o"], ["--isa"],
            ["--dep", path], [os.path.join(existing, "x.json")], ["--help"] if r.random() < 0.05 else []]
    argv = ["-o", out]
    for _ in range(r.randrange(1, 6)):
        argv += r.choice(pool)
    return argv


# ---- one execution and its oracle ----

class Crash(Exception):
    """The oracle's verdict: not a crash of the generator itself, a broken promise."""


class Timeout(BaseException):
    pass


def _alarm(signum, frame):
    raise Timeout("execution took longer than --timeout")


FAKE_BENCH = """#!/bin/sh
# normkit-bench ... --benchmark_out=FILE ...: writes the fuzzer's input as its output
for a; do case "$a" in --benchmark_out=*) cp "$(dirname "$0")/input.json" "${a#--benchmark_out=}";; esac; done
"""
FAKE_DEPTH = """#!/bin/sh
# normkit-depth --format json --output FILE: writes the fuzzer's input as its output
[ "$3" = --output ] && cp "$(dirname "$0")/input.json" "$4"
"""


def make_fakes(work):
    for name, text in (("fake-bench", FAKE_BENCH), ("fake-depth", FAKE_DEPTH)):
        p = os.path.join(work, "input", name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, 0o755)


def prepare(work):
    """The work folder as each execution finds it: a file, a folder of the user's and an old report
    (its MARKER and a file of its own, to see it survive a failed run)."""
    for name in os.listdir(work):
        p = os.path.join(work, name)
        if name == "input":
            continue
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    with open(os.path.join(work, "a-file"), "w") as f:
        f.write("not a folder\n")
    os.makedirs(os.path.join(work, "users-folder"))
    with open(os.path.join(work, "users-folder", "notes.txt"), "w") as f:
        f.write("precious\n")
    os.makedirs(os.path.join(work, "old-report"))
    for name in (normkit_report.MARKER, "report.md"):
        with open(os.path.join(work, "old-report", name), "w") as f:
            f.write("old\n")


def tree(path):
    out = {}
    for dirpath, dirs, files in os.walk(path):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, path)] = hashlib.sha1(fh.read()).hexdigest()
    return out


def output_of(argv, work):
    """Where the report goes: the last -o / --output / --output= (default ./report)."""
    out = os.path.join(work, "report")
    i = 0
    while i < len(argv):
        if argv[i] in ("-o", "--output") and i + 1 < len(argv):
            out = argv[i + 1]
            i += 1
        elif argv[i].startswith("--output="):
            out = argv[i][len("--output="):]
        i += 1
    return os.path.abspath(os.path.join(work, out))


def temps(out):
    """The generator's temporary folders beside the output (new ones after a run: left behind;
    others may be another process's, when -o names the work folder itself, beside it in /tmp)."""
    parent = os.path.dirname(out)
    return {f for f in os.listdir(parent) if f.startswith(".normkit-report-")} if os.path.isdir(parent) else set()


def execute(argv, work, timeout):
    """Runs the command line; returns an outcome signature, or raises (a crash)."""
    prepare(work)
    out = output_of(argv, work)
    before = {n: tree(os.path.join(work, n)) for n in ("users-folder", "old-report")}
    listing = sorted(os.listdir(work))
    temps_before = temps(out)
    out_existed = os.path.lexists(out)
    out_before = tree(out) if os.path.isdir(out) else None
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")                          # strict, as a pipe is
    stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace")  # as sys.stderr is
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                rc = normkit_report.run(argv)
                err = None
            except ReportError as e:
                rc, err = 2, str(e)
            except SystemExit as e:
                if e.code == 0 and ("--help" in argv or "-h" in argv):
                    return "help"
                raise Crash(f"SystemExit({e.code!r}) escaped run()") from e
            stdout.flush()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    leftovers = sorted(temps(out) - temps_before) if out.startswith(work + os.sep) else []
    if leftovers:
        raise Crash(f"temporary folder(s) left beside the output: {leftovers}")
    if tree(os.path.join(work, "users-folder")) != before["users-folder"]:
        raise Crash("the user's folder given as -o was changed")
    if err is not None:
        if not err or "\n" in err or "\r" in err:
            raise Crash(f"the error message is not one line: {err[:500]!r}")
        if tree(os.path.join(work, "old-report")) != before["old-report"]:
            raise Crash("a failed run changed the earlier report at -o")
        if out_existed and os.path.isdir(out) and tree(out) != out_before:
            raise Crash(f"a failed run changed what was at {out}")
        if not out_existed and os.path.lexists(out):
            raise Crash(f"a failed run left output at {out}: {sorted(os.listdir(out)) if os.path.isdir(out) else 'a file'}")
        if sorted(os.listdir(work)) != listing:
            raise Crash(f"a failed run left {sorted(set(os.listdir(work)) - set(listing))} in the work folder")
        # the outcome: the message without numbers, paths and quoted values
        sig = re.sub(r"'[^']*'|\"[^\"]*\"|/\S*|#?\d+(\.\d+)?|\\x\w\w|byte \S+|\([^)]*\)", "_", err)[:100]
        return "error: " + sig
    if rc not in (0, 1):
        raise Crash(f"run() returned {rc!r}")
    missing = [f for f in ("report.md", "index.html", "summary.csv", normkit_report.MARKER)
               if not os.path.isfile(os.path.join(out, f))]
    if missing:
        raise Crash(f"a successful run did not write {missing} in {out}")
    with open(os.path.join(out, "report.md"), encoding="utf-8") as f:
        heads = tuple(sorted({ln.strip()[:24] for ln in f if ln.startswith("## ")}))
    return f"ok {rc} " + " ".join(heads)


# ---- coverage: the lines run in reports/*.py ----

class Coverage:
    def __init__(self):
        self.lines = set()
        self.new = 0

    def _local(self, frame, event, arg):
        if event == "line":
            k = (frame.f_code.co_filename, frame.f_lineno)
            if k not in self.lines:
                self.lines.add(k)
                self.new += 1
        return self._local

    def _global(self, frame, event, arg):
        return self._local if frame.f_code.co_filename.startswith(REPORTS) else None

    def start(self):
        self.new = 0
        sys.settrace(self._global)

    def stop(self):
        sys.settrace(None)
        return self.new


# ---- the fuzzer ----

def save_crash(artifacts, data, mode, argv, tb):
    os.makedirs(artifacts, exist_ok=True)
    h = hashlib.sha1(data).hexdigest()
    path = os.path.join(artifacts, f"crash-{h}.json")
    with open(path, "wb") as f:
        f.write(data)
    with open(os.path.join(artifacts, f"crash-{h}.txt"), "w", encoding="utf-8", errors="backslashreplace") as f:
        f.write(f"mode: {mode}\nargv: {argv!r}\n\n{tb}")
    return path


def crash_key(exc):
    """What makes two crashes the same: the exception type and the innermost reports/ frame."""
    where = ""
    for fr in traceback.extract_tb(exc.__traceback__):
        if fr.filename.startswith(REPORTS):
            where = f"{os.path.basename(fr.filename)}:{fr.lineno}"
    msg = str(exc)[:60] if isinstance(exc, Crash) else ""
    return f"{type(exc).__name__} {where} {msg}"


def run_one(data, mode, work, timeout, real_plots):
    """Writes the input, runs one mode; returns (argv, signature, exception or None)."""
    path = os.path.join(work, "input", "input.json")
    with open(path, "wb") as f:
        f.write(data)
    argv = argv_for(mode, path, data, work)
    use_plots(real_plots)
    try:
        return argv, execute(argv, work, timeout), None
    except (Exception, Timeout, RecursionError) as e:
        return argv, None, e


def modes_for(data, rng):
    if is_depth(data):
        return rng.choice(["depth"] * 6 + ["single", "flags"])
    return rng.choice(["single"] * 4 + ["compare"] * 2 + ["compare-self", "isa", "isa", "filter", "flags", "flags", "depth"])


def fuzz(opts, seeds, work):
    rng = random.Random(opts.seed)
    cov = Coverage() if opts.cov else None
    pool = [d for _, d in seeds]
    seen_sigs = set()
    crashes = {}
    execs, new_inputs = 0, 0
    kinds = {"ok": 0, "error": 0, "help": 0}
    sig_counts = {}
    start = time.monotonic()
    last_print = start
    # every seed once first (libFuzzer's INITED), to fill the coverage and outcome tables
    queue = [(d, m) for d in pool for m in (["depth", "single"] if is_depth(d) else ["single", "compare", "isa"])]
    while True:
        elapsed = time.monotonic() - start
        if (opts.runs is not None and execs >= opts.runs) or (opts.runs is None and elapsed >= opts.time):
            break
        if queue:
            data, mode = queue.pop(0)
        else:
            parent = rng.choice(pool) if rng.random() < 0.7 or len(pool) == len(seeds) else rng.choice(pool[len(seeds):])
            data = mutate(rng, parent, rng.choice(pool))
            if len(data) > opts.max_len:
                data = data[:opts.max_len]
            mode = modes_for(data, rng)
        real = REAL_PLOTS is not None and rng.random() < opts.plots
        if cov:
            cov.start()
        argv, sig, exc = run_one(data, mode, work, opts.timeout, real)
        newcov = cov.stop() if cov else 0
        execs += 1
        if exc is not None:
            key = crash_key(exc)
            tb = "".join(traceback.format_exception(exc))
            if key not in crashes:
                path = save_crash(opts.artifacts, data, mode, argv, tb)
                crashes[key] = path
                print(f"\n==== CRASH ({mode}) {key}\ninput: {path}\nargv: {argv!r}\n{tb}", flush=True)
                if not opts.keep_going:
                    break
            continue
        kinds[sig.split(" ")[0].rstrip(":")] += 1
        if opts.verbose:
            sig_counts[sig] = sig_counts.get(sig, 0) + 1
        fresh = sig not in seen_sigs
        seen_sigs.add(sig)
        if newcov or (fresh and (sig.startswith("ok") or not cov)):
            if data not in pool:
                pool.append(data)
                new_inputs += 1
                if opts.save_new:
                    os.makedirs(opts.save_new, exist_ok=True)
                    with open(os.path.join(opts.save_new, hashlib.sha1(data).hexdigest()), "wb") as f:
                        f.write(data)
        now = time.monotonic()
        if now - last_print >= 10:
            last_print = now
            print(f"#{execs} {now - start:.0f}s {execs / (now - start):.1f} exec/s corpus {len(pool)} "
                  f"(+{new_inputs}) outcomes {len(seen_sigs)}" + (f" lines {len(cov.lines)}" if cov else "")
                  + (f" crashes {len(crashes)}" if crashes else ""), flush=True)
    if cov and opts.cov_report:
        with open(opts.cov_report, "w") as f:
            for fn, line in sorted(cov.lines):
                f.write(f"{os.path.relpath(fn, ROOT)}:{line}\n")
    for sig, n in sorted(sig_counts.items(), key=lambda kv: -kv[1])[:40]:
        print(f"{n:7d}  {sig}")
    elapsed = time.monotonic() - start
    print(f"done: {execs} executions in {elapsed:.1f}s, {execs / max(elapsed, 1e-9):.1f} exec/s; corpus {len(pool)} "
          f"({len(seeds)} seeds + {new_inputs} new), {len(seen_sigs)} outcomes (reports written {kinds['ok']}, "
          f"clean errors {kinds['error']})"
          + (f", {len(cov.lines)} lines of reports/*.py" if cov else "")
          + (f"; plots: real with probability {opts.plots:g}" if REAL_PLOTS is not None else "; plots: stand-ins (no matplotlib)")
          + f"; {len(crashes)} crash(es)" + (": " + ", ".join(crashes.values()) if crashes else ""), flush=True)
    return 1 if crashes else 0


def replay(opts, seeds, work):
    failed = 0
    execs = 0
    start = time.monotonic()
    for path, data in seeds:
        for mode in MODES:
            argv, sig, exc = run_one(data, mode, work, opts.timeout, opts.plots > 0)
            execs += 1
            if exc is not None:
                failed += 1
                print(f"CRASH {os.path.relpath(path, ROOT)} ({mode}): {crash_key(exc)}\nargv: {argv!r}\n"
                      + "".join(traceback.format_exception(exc)), flush=True)
            elif opts.verbose:
                print(f"ok   {os.path.relpath(path, ROOT)} ({mode}): {sig}")
    elapsed = time.monotonic() - start
    print(f"replay: {len(seeds)} inputs x {len(MODES)} modes = {execs} executions in {elapsed:.1f}s "
          f"({execs / max(elapsed, 1e-9):.1f} exec/s), plots {'real' if opts.plots > 0 and REAL_PLOTS else 'stand-ins'}: "
          f"{failed} crash(es)", flush=True)
    return 1 if failed else 0


def minimize(opts, work):
    """Greedy: drops chunks of lists and keys of objects (JSON), then byte ranges, while the input
    still crashes the same way in the mode that first crashed."""
    with open(opts.minimize, "rb") as f:
        data = f.read()
    want = mode = None
    for m in MODES:
        _, _, exc = run_one(data, m, work, opts.timeout, opts.plots > 0)
        if exc is not None:
            want, mode = crash_key(exc), m
            break
    if want is None:
        print(f"{opts.minimize}: does not crash")
        return 1
    print(f"crash ({mode}): {want}")

    def same(d):
        exc = run_one(d, mode, work, opts.timeout, opts.plots > 0)[2]
        return exc is not None and crash_key(exc) == want
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        doc = None
    if doc is not None and isinstance(doc, (dict, list)):
        changed = True
        while changed:
            changed = False
            containers = [doc] + [p[k] for p, k in nodes(doc) if isinstance(p[k], (dict, list))]
            for c in containers:
                if isinstance(c, list):
                    size = max(1, len(c) // 2)
                    while size >= 1:
                        i = 0
                        while i < len(c):
                            cut = c[i:i + size]
                            del c[i:i + size]
                            if same(dumps(doc)):
                                changed = True
                            else:
                                c[i:i] = cut
                                i += size
                        size //= 2
                else:
                    for k in list(c):
                        v = c.pop(k)
                        if same(dumps(doc)):
                            changed = True
                        else:
                            c[k] = v
        pretty = json.dumps(doc, indent=1, ensure_ascii=True).encode()
        data = pretty if same(pretty) else dumps(doc)
    if len(data) < 4000:
        step = max(1, len(data) // 4)
        while step >= 1:
            i = 0
            while i < len(data):
                cand = data[:i] + data[i + step:]
                if cand and same(cand):
                    data = cand
                else:
                    i += step
            step //= 2
    out = opts.minimize + ".min"
    with open(out, "wb") as f:
        f.write(data)
    print(f"{len(data)} bytes: {out}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time", type=float, default=60.0, metavar="SECONDS", help="fuzz this long (default 60)")
    ap.add_argument("--runs", type=int, metavar="N", help="stop after N executions instead (-runs=N)")
    ap.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    ap.add_argument("--corpus", action="append", metavar="DIR",
                    help=f"seed folder, repeatable (default {os.path.relpath(DEFAULT_CORPUS, ROOT)}); "
                         "tests/data/*.json are always seeds")
    ap.add_argument("--artifacts", default="fuzz-report-artifacts", metavar="DIR",
                    help="where crashing inputs go (default ./fuzz-report-artifacts)")
    ap.add_argument("--replay", action="store_true", help="run every seed once in every mode, no mutation (-runs=0)")
    ap.add_argument("--minimize", metavar="FILE", help="shrink a crashing input to FILE.min")
    ap.add_argument("--plots", type=float, metavar="P",
                    help="probability of the real matplotlib plots per execution (default 0.02; 1 with --replay)")
    ap.add_argument("--cov", action=argparse.BooleanOptionalAction, default=True,
                    help="line coverage of reports/*.py as feedback (default on)")
    ap.add_argument("--cov-report", metavar="FILE", help="write the lines of reports/*.py the run reached")
    ap.add_argument("--save-new", metavar="DIR", help="write the inputs that found something new here")
    ap.add_argument("--keep-going", action="store_true", help="save every distinct crash and go on")
    ap.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                    help="an execution taking longer is a crash (default 30)")
    ap.add_argument("--max-len", type=int, default=400000, metavar="BYTES", help="inputs are cut to this (default 400000)")
    ap.add_argument("-v", "--verbose", action="store_true", help="--replay: print every outcome")
    opts = ap.parse_args()
    if opts.plots is None:
        opts.plots = 1.0 if (opts.replay or opts.minimize) else 0.02
    opts.artifacts = os.path.abspath(opts.artifacts)
    if opts.save_new:
        opts.save_new = os.path.abspath(opts.save_new)
    dirs = [os.path.abspath(d) for d in (opts.corpus or [DEFAULT_CORPUS])]
    if opts.minimize:
        opts.minimize = os.path.abspath(opts.minimize)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    signal.signal(signal.SIGALRM, _alarm)
    load_fixtures()
    seeds = read_seeds(dirs)
    work = tempfile.mkdtemp(prefix="nk-fuzz-report-")
    cwd = os.getcwd()
    try:
        os.makedirs(os.path.join(work, "input"))
        make_fakes(work)
        os.chdir(work)  # relative -o values (and the default ./report) land in the work folder
        if opts.minimize:
            return minimize(opts, work)
        if opts.replay:
            return replay(opts, seeds, work)
        print(f"fuzz_report: {len(seeds)} seeds, seed {opts.seed}, "
              + (f"{opts.runs} runs" if opts.runs is not None else f"{opts.time:g} s"), flush=True)
        return fuzz(opts, seeds, work)
    finally:
        os.chdir(cwd)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
