"""Loading and validating Google Benchmark JSON written by normkit-bench.

Every error is a ReportError whose message names the file and what is wrong, in one line.
"""
import json
import math
import os
import re
import statistics
from dataclasses import dataclass, field

TIME_UNITS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
LEVELS = ("L1", "L2", "L3", "DRAM")
# op/dtype/isa/key:value/key:value..., e.g. rmsnorm/f32/avx512/dim:4096/rows:64 (with
# normkit-bench --variants=all the isa field carries the knob variant: avx512_u2_acc4), the linear
# operators' rmsnorm_linear/f32/avx512_packed/dim:4096/n:11008/rows:8 (n: columns of y); a case timed
# in wall time ends in Google Benchmark's /real_time (e.g. .../rows:8/real_time for the _2t cases).
NAME_RE = re.compile(r"^(?P<op>[a-z][a-z0-9_]*)/(?P<dtype>[a-z][a-z0-9]*)/(?P<isa>[a-z][a-z0-9_]*)"
                     r"(?P<params>(/[a-z_]+:[0-9]+(\.[0-9]+)?)+)?(/[a-z_]+)*$")
# A whole FFN block: block/<layout>/<norm>/<act>/<impl>/<path>/d:<D>/rows:<R>, e.g.
# block/prenorm/rmsnorm/swiglu/avx512/fused/d:4096/rows:32 (impl: an ISA, or a peer such as onednn or
# torch with path peer; the scalar impl has path scalar).
BLOCK_RE = re.compile(r"^block/(?P<layout>[a-z][a-z0-9_]*)/(?P<norm>[a-z][a-z0-9_]*)/(?P<act>[a-z][a-z0-9_]*)/"
                      r"(?P<impl>[a-z][a-z0-9_]*)/(?P<path>[a-z][a-z0-9_]*)"
                      r"(?P<params>(/[a-z_]+:[0-9]+(\.[0-9]+)?)+)(/[a-z_]+)*$")
BLOCK_PREFIX = "block/"
LEVEL_RE = re.compile(r"\b(L1|L2|L3|DRAM)\b")
CEILING_PREFIX = "ceiling_"
REAL_TIME_SUFFIX = "/real_time"  # Google Benchmark's mark of a case whose rates use wall time
# normkit-bench's counters of a norm case's bound (plain values, not rates)
BOUND_COUNTERS = ("ns_per_call", "bound_ns", "pct_of_bound", "copy_ws_ns", "pct_of_copy_ws")
BOUND_PAIRS = (("pct_of_bound", "bound_ns"), ("pct_of_copy_ws", "copy_ws_ns"))  # present together
# Every number the report reads from a benchmark entry: times, rates and counters, each 0 or
# within [NUMBER_MIN, NUMBER_MAX] (no real run comes near either end; within them every product,
# ratio, median and standard deviation the report computes stays finite).
NUMBER_KEYS = ("real_time", "cpu_time", "bytes_per_second", "flops_per_second", "flops", "FLOP/s",
               "items_per_second", "tokens_per_second", "rows_per_second", "wall_time_rates") + BOUND_COUNTERS
NUMBER_MIN, NUMBER_MAX = 1e-30, 1e30
PARAM_DIGITS = 15   # a name's parameter (dim:4096): at most this many digits, so exact as a float
MAX_NESTING = 64    # Google Benchmark's and normkit-depth's JSON nest 4 levels deep


def is_linear_op(op):
    """linear, rmsnorm_linear, layernorm_linear (and any later <norm>_linear): y = Norm(x) W^T."""
    return op == "linear" or op.endswith("_linear")


def is_block_op(op):
    """A whole block's op field as parse_name gives it: block/<layout>/<norm>/<act>."""
    return op.startswith(BLOCK_PREFIX)


class ReportError(Exception):
    """A problem with an input file or argument; the message is shown as is."""


@dataclass
class Case:
    name: str                 # run name, without aggregate suffixes
    op: str
    dtype: str
    isa: str
    params: dict              # dim, rows, n, bytes, ... (ints or floats)
    time_ns: float            # median time per iteration: CPU time, wall time for real-time cases
    bytes_per_second: float   # 0 when the case reports none
    flops_per_second: float   # 0 when the case reports none
    level: str                # L1/L2/L3/DRAM or "" when unlabelled
    label: str
    # The spread over --benchmark_repetitions (CPU time, like time_ns):
    repetitions: int = 1      # how many times the case was run
    time_min_ns: float = None  # fastest and slowest repetition; None without per-repetition
    time_max_ns: float = None  # entries (one repetition, or --benchmark_report_aggregates_only)
    cv: float = None          # coefficient of variation (stddev / mean, a fraction); None if 1 run
    real_time: bool = False   # timed in wall time (name ends in /real_time): its rates use it
    tokens_per_second: float = 0.0  # block cases: rows (tokens) through the block per second
    rows_per_second: float = 0.0
    # The norm cases' bound (docs/performance.md), as normkit-bench computed it in the run; None
    # in runs made before it had one:
    ns_per_call: float = None     # the time per call the counters below are against
    bound_ns: float = None        # the modeled best time per call
    pct_of_bound: float = None    # bound_ns / ns_per_call * 100
    copy_ws_ns: float = None      # a copy of the case's own working set moving its bytes
    pct_of_copy_ws: float = None  # copy_ws_ns / ns_per_call * 100

    @property
    def is_block(self):
        """A whole-block case (block/<layout>/<norm>/<act>/<impl>/<path>/d:D/rows:R)."""
        return is_block_op(self.op)

    @property
    def block(self):
        """{layout, norm, act, impl, path} of a block case; None for any other case."""
        m = BLOCK_RE.match(self.name) if self.is_block else None
        return {k: m.group(k) for k in ("layout", "norm", "act", "impl", "path")} if m else None

    @property
    def tokens_rate(self):
        """Tokens (rows) per second: the tokens_per_second counter, else rows_per_second, else
        rows per call over the time per call; 0 when none of them is known."""
        if self.tokens_per_second > 0:
            return self.tokens_per_second
        if self.rows_per_second > 0:
            return self.rows_per_second
        rows = self.params.get("rows", 0)
        return rows * 1e9 / self.time_ns if rows and self.time_ns > 0 else 0.0

    @property
    def is_linear(self):
        """A linear-operator case (op/f32/variant/dim:D/n:N/rows:R), not a norm."""
        return not self.is_ceiling and not self.is_block and is_linear_op(self.op)

    @property
    def gflops(self):
        """GFLOP/s: the case's flops_per_second counter (for the linear cases 2 rows n dim per
        call, over the time its rates use); 0 when it reports none."""
        return self.flops_per_second / 1e9

    @property
    def has_range(self):
        return self.time_min_ns is not None and self.time_max_ns is not None

    @property
    def no_range_reason(self):
        """Why the case has no [min, max] (for labelling median-only judgements), or ""."""
        if self.has_range:
            return ""
        if self.repetitions <= 1:
            return "has 1 repetition"
        return f"has only aggregates of {self.repetitions} repetitions, no per-repetition times"

    @property
    def is_ceiling(self):
        return self.op.startswith(CEILING_PREFIX)

    @property
    def ceiling_kind(self):
        return self.op[len(CEILING_PREFIX):] if self.is_ceiling else ""

    @property
    def gbps(self):
        return self.bytes_per_second / 1e9

    @property
    def bytes_per_call(self):
        return self.bytes_per_second * self.time_ns * 1e-9



@dataclass
class Run:
    path: str
    context: dict
    cases: dict = field(default_factory=dict)   # name -> Case
    skipped: int = 0                            # entries that are not normkit cases, or failed
    errored: set = field(default_factory=set)   # normkit cases that reported an error
    name: str = ""                              # shown instead of the file name when set

    @property
    def label(self):
        return self.name or os.path.basename(self.path)

    def repetitions_text(self):
        """"3 repetitions per case", "1 repetition per case", "1-5 repetitions per case"."""
        reps = sorted({c.repetitions for c in self.kernels()} or {1})
        n = f"{reps[0]}" if len(reps) == 1 else f"{reps[0]}–{reps[-1]}"
        return f"{n} repetition{'s' if reps[-1] > 1 else ''} per case"

    def spread_note(self):
        """One sentence on what spread this run has, for the reports."""
        cases = self.kernels()
        ranged = sum(c.has_range for c in cases)
        if cases and ranged == len(cases):
            return f"`{self.label}`: {self.repetitions_text()}, min–max and CV over them."
        if ranged:
            return (f"`{self.label}`: {self.repetitions_text()}; {len(cases) - ranged} of {len(cases)} "
                    "cases have no per-repetition times (no min–max).")
        if any(c.repetitions > 1 for c in cases):
            return (f"`{self.label}`: {self.repetitions_text()}, but only their aggregates were "
                    "written (--benchmark_report_aggregates_only): CV where given, no min–max.")
        return (f"`{self.label}`: 1 repetition per case, so no spread is known (run normkit-bench "
                "with --benchmark_repetitions=5 for one).")

    def kernels(self):
        """Every case that is not a ceiling: norms, linear operators and blocks (compare mode)."""
        return [c for c in self.cases.values() if not c.is_ceiling]

    def norms(self):
        """The norm cases (the per-shape norm tables, the roofline, the speedups)."""
        return [c for c in self.cases.values() if not c.is_ceiling and not c.is_linear and not c.is_block]

    def blocks(self):
        """The whole-block cases (the blocks section)."""
        return [c for c in self.cases.values() if c.is_block]

    def linears(self):
        """The linear-operator cases (the norm + linear section)."""
        return [c for c in self.cases.values() if c.is_linear]

    def ceilings(self):
        return [c for c in self.cases.values() if c.is_ceiling]


def _params(text):
    """{key: int or float} of a name's /key:value parts; ValueError for a value of more than
    PARAM_DIGITS digits (no shape is that large, and it would not convert to a float)."""
    params = {}
    for part in (text or "").split("/"):
        if part:
            k, v = part.split(":", 1)
            if len(v.replace(".", "")) > PARAM_DIGITS:
                raise ValueError(f"parameter {k}:{show(v, 24)} has more than {PARAM_DIGITS} digits")
            params[k] = float(v) if "." in v else int(v)
    return params


def parse_name(name):
    """(op, dtype, isa, params) for a normkit case name, or None (not a string, or not a normkit
    name). A block case (block/<layout>/<norm>/<act>/<impl>/<path>/d:D/rows:R) gives op
    block/<layout>/<norm>/<act>, dtype f32 and isa <impl>; Case.block has the fields one by one.
    ValueError for a normkit name with a parameter too large to be a shape."""
    if not isinstance(name, str):
        return None
    m = BLOCK_RE.match(name)
    if m:
        return (f"block/{m.group('layout')}/{m.group('norm')}/{m.group('act')}", "f32", m.group("impl"),
                _params(m.group("params")))
    if name.startswith(BLOCK_PREFIX):
        return None
    m = NAME_RE.match(name)
    if not m:
        return None
    return m.group("op"), m.group("dtype"), m.group("isa"), _params(m.group("params"))


def show(v, limit=80):
    """A value from an input file, for a one-line message: its text with control characters
    escaped, cut to `limit` characters."""
    t = v if isinstance(v, str) else repr(v)
    cut = len(t) > limit
    t = "".join(c if c.isprintable() else repr(c)[1:-1] for c in t[:limit])
    return t[:limit - 1] + "…" if cut or len(t) > limit else t


def is_number(v):
    """A JSON number (not a boolean) that is finite, and as an integer convertible to a float."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    return math.isfinite(v) if isinstance(v, float) else abs(v) <= 2 ** 1000


def _clean(doc, path):
    """Walks the parsed document (without recursion): refuses nesting deeper than MAX_NESTING,
    and replaces lone surrogates (a valid JSON escape such as \\ud800, but not a character: no
    file could be written with one) in strings and keys by U+FFFD. Returns the document."""
    def fix(t):
        try:
            t.encode("utf-8")
            return t
        except UnicodeEncodeError:
            return t.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(doc, str):
        return fix(doc)
    if not isinstance(doc, (dict, list)):
        return doc  # a number, true, false, null: the callers say what they expected
    stack = [(doc, 1)]
    while stack:
        x, depth = stack.pop()
        _require(depth <= MAX_NESTING, path, f"is nested more than {MAX_NESTING} levels deep")
        if isinstance(x, dict):
            bad = [k for k in x if fix(k) is not k]
            for k in bad:
                x[fix(k)] = x.pop(k)
            items = x.items()
        else:
            items = enumerate(x)
        for k, v in list(items):
            if isinstance(v, str):
                f = fix(v)
                if f is not v:
                    x[k] = f
            elif isinstance(v, (dict, list)):
                stack.append((v, depth + 1))
    return doc


def _require(cond, path, what):
    if not cond:
        raise ReportError(f"{path}: {what}")


def _read_json(path, expected):
    """The parsed JSON of a file, or a ReportError naming the file and what is wrong with it
    (`expected`: what an empty file should have held)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ReportError(f"{path}: cannot read: {e.strerror}") from None
    _require(raw.strip(), path, f"is empty (expected {expected})")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError; an integer of over 4300 digits
        where = f" at line {e.lineno} column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        raise ReportError(f"{path}: not valid JSON (truncated or corrupt?){where}: "
                          f"{show(getattr(e, 'msg', str(e)), 200)}") from None
    except RecursionError:
        raise ReportError(f"{path}: is nested more than {MAX_NESTING} levels deep") from None
    return _clean(doc, path)


def load_run(path):
    """Reads one normkit-bench JSON file into a Run, or raises ReportError."""
    doc = _read_json(path, "Google Benchmark JSON from normkit-bench")
    _require(isinstance(doc, dict) and isinstance(doc.get("context"), dict)
             and isinstance(doc.get("benchmarks"), list), path,
             "not Google Benchmark output (expected an object with 'context' and 'benchmarks')")
    _require(doc["benchmarks"], path, "has no benchmark results ('benchmarks' is empty)")

    groups = {}
    skipped = 0
    errored = set()
    for i, b in enumerate(doc["benchmarks"]):
        _require(isinstance(b, dict), path, f"benchmark #{i} is not an object")
        for key in ("name", "real_time", "time_unit"):
            _require(key in b, path, f"benchmark #{i} ({show(b.get('name', '?'))}) has no '{key}'")
        for key in ("name", "run_name"):
            _require(key not in b or (isinstance(b[key], str) and b[key]), path,
                     f"benchmark #{i}: '{key}' is not a non-empty string ({show(b.get(key))})")
        name = show(b["name"])
        _require(isinstance(b["time_unit"], str) and b["time_unit"] in TIME_UNITS, path,
                 f"benchmark {name}: unknown time_unit {show(b['time_unit'], 20)!r} "
                 f"(expected one of {', '.join(TIME_UNITS)})")
        for key in NUMBER_KEYS:
            if key in b or key == "real_time":
                v = b[key]
                _require(is_number(v), path, f"benchmark {name}: '{key}' is not a finite number")
                _require(v == 0 or NUMBER_MIN <= v <= NUMBER_MAX, path,
                         f"benchmark {name}: '{key}' is out of range ({v:.6g}; a time, rate or counter "
                         f"is 0 or from {NUMBER_MIN:g} to {NUMBER_MAX:g})")
        for pct, ns in BOUND_PAIRS:  # a percentage is shown with the time it is of
            _require((pct in b) == (ns in b), path,
                     f"benchmark {name}: has '{pct if pct in b else ns}' without '{ns if pct in b else pct}'")
        run_name = b.get("run_name", b["name"])
        try:
            parsed = parse_name(run_name)
        except ValueError as e:
            raise ReportError(f"{path}: benchmark {show(run_name)}: {e}") from None
        if b.get("error_occurred"):
            if parsed:
                errored.add(run_name)
            skipped += 1
            continue
        if not parsed:
            skipped += 1
            continue
        agg = b.get("aggregate_name") if b.get("run_type") == "aggregate" else None
        if agg not in (None, "median", "cv"):
            continue  # mean and stddev: the median and the min-max/CV describe the case
        groups.setdefault(run_name, []).append((agg, b, parsed))

    run = Run(path=path, context=doc["context"], skipped=skipped, errored=errored)
    for run_name, entries in groups.items():
        medians = [e for e in entries if e[0] == "median"]
        reps = [e for e in entries if e[0] is None]      # one entry per repetition
        cvs = [e for e in entries if e[0] == "cv"]
        chosen = medians if medians else reps
        if not chosen:
            continue  # a cv without a median or repetitions: nothing to report

        def med(key):
            return statistics.median(float(e[1].get(key, 0.0)) for e in chosen)

        def med_or_none(key):  # a counter only some cases have
            got = [float(e[1][key]) for e in chosen if key in e[1]]
            return statistics.median(got) if got else None

        b0, parsed = chosen[0][1], chosen[0][2]
        op, dtype, isa, params = parsed
        label = str(b0.get("label", ""))
        m = LEVEL_RE.search(label)
        # The time normkit-bench's rates use: CPU time (real time when a case has none), and
        # wall time for a case timed in it (/real_time: it runs threads of its own, whose CPU
        # time the main thread's would not count).
        # normkit-bench marks such cases with the counter wall_time_rates = 1 (their names stay
        # as they are); a name ending in Google Benchmark's /real_time means the same.
        real = run_name.endswith(REAL_TIME_SUFFIX) or float(b0.get("wall_time_rates", 0)) == 1.0

        def time_of(b):  # ns
            t = b["real_time"] if real else b.get("cpu_time", b["real_time"])
            return float(t) * TIME_UNITS[b["time_unit"]]
        time_ns = statistics.median(time_of(e[1]) for e in chosen)
        flops = med("flops") or med("FLOP/s") or med("flops_per_second")
        # The spread: min and max over the repetitions' own entries; the CV from Google
        # Benchmark's cv aggregate (a fraction), else from the repetitions.
        times = [time_of(e[1]) for e in reps]
        # How many repetitions: their entries, or (aggregates only) what the aggregates declare.
        declared = [e[1].get("repetitions") for e in entries]
        declared = max([d for d in declared if isinstance(d, int) and not isinstance(d, bool) and d >= 1] or [1])
        n = len(times) if times else declared
        cv = None
        if cvs:
            cv = float(cvs[0][1]["real_time"] if real else cvs[0][1].get("cpu_time", cvs[0][1]["real_time"]))
        elif len(times) >= 2 and statistics.fmean(times) > 0:
            cv = statistics.stdev(times) / statistics.fmean(times)
        run.cases[run_name] = Case(name=run_name, op=op, dtype=dtype, isa=isa, params=params,
                                   time_ns=time_ns, bytes_per_second=med("bytes_per_second"),
                                   flops_per_second=flops, level=m.group(1) if m else "",
                                   label=label, repetitions=n,
                                   time_min_ns=min(times) if len(times) >= 2 else None,
                                   time_max_ns=max(times) if len(times) >= 2 else None,
                                   cv=cv if n >= 2 else None, real_time=real,
                                   tokens_per_second=med("tokens_per_second"),
                                   rows_per_second=med("rows_per_second"),
                                   **{k: med_or_none(k) for k in BOUND_COUNTERS})
    _require(run.cases, path, "holds no normkit cases (names like rmsnorm/f32/avx512/dim:4096/rows:64)")
    for c in run.kernels():
        _require(c.time_ns > 0, path, f"{c.name}: time is not positive")
    return run


def filtered(run, pattern):
    """The run with only the kernel cases whose name matches the regular expression (searched,
    not anchored); ceilings stay, for percent-of-ceiling. Raises ReportError if none is left."""
    try:
        rx = re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as e:  # a{99999999999}; thousands of groups
        raise ReportError(f"--filter {show(pattern)!r}: not a regular expression: {show(str(e))}") from None
    cases = {n: c for n, c in run.cases.items() if c.is_ceiling or rx.search(n)}
    out = Run(path=run.path, context=run.context, cases=cases, skipped=run.skipped,
              errored={n for n in run.errored if rx.search(n)}, name=run.name)
    _require(out.kernels(), run.path, f"no case matches --filter {show(pattern)!r}")
    return out


def isa_view(run, isa):
    """The kernel cases of one ISA of a run, renamed op/dtype/*/shape so that two views of the
    same run line up shape by shape (--compare RUN.json --isa BASE NEW)."""
    def star(name):  # the ISA field: the third, or a block's impl (the fifth)
        f = name.split("/")
        i = 4 if name.startswith(BLOCK_PREFIX) else 2
        return "/".join(f[:i] + ["*"] + f[i + 1:])
    cases = {star(n): c for n, c in run.cases.items() if not c.is_ceiling and c.isa == isa}
    errored = {star(n) for n in run.errored if (parse_name(n) or (0, 0, None))[2] == isa}
    _require(cases or errored, run.path, f"has no case of isa '{show(isa)}' "
             f"(it has: {', '.join(sorted({c.isa for c in run.kernels()}))})")
    return Run(path=run.path, context=run.context, cases=cases, skipped=run.skipped,
               errored=errored, name=f"{run.label} [{isa}]")


def caches(context):
    """Google Benchmark's context `caches` as [{level, type, size, num_sharing}] (level, size and
    num_sharing integers, size in bytes), or None when the context has none or they are not in
    that form (the report then shows the value as it is, and plots no cache boundaries)."""
    v = context.get("caches")
    if not isinstance(v, list):
        return None
    out = []
    for c in v:
        if not isinstance(c, dict):
            return None
        level, size, sharing = c.get("level"), c.get("size", 0), c.get("num_sharing", 1)
        if not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 2 ** 62
                   for x in (level, size, sharing)) or not isinstance(c.get("type", ""), str):
            return None
        out.append({"level": level, "type": c.get("type", ""), "size": size, "num_sharing": sharing})
    return out


# ---- normkit-depth output: a stack of blocks in float64 and through every block path ----

DEPTH_NUMBERS = ("residual_rms", "output_rms")  # required in every record (a number or null)


@dataclass
class Depth:
    path: str
    machine: dict
    config: dict
    records: list             # [{layer, layout, residual_rms, output_rms, update_rms, error_bound, errors}]
    paths: list               # the block paths measured, "<isa>/<path>", in the file's order

    @property
    def label(self):
        return os.path.basename(self.path)

    def layouts(self):
        """The layouts in the file, in its order."""
        out = []
        for r in self.records:
            if r["layout"] not in out:
                out.append(r["layout"])
        return out

    def of(self, layout):
        """The records of one layout, by layer."""
        return sorted((r for r in self.records if r["layout"] == layout), key=lambda r: r["layer"])


def _number_or_null(v):
    return v is None or is_number(v)


MAX_LAYERS = 1_000_000


def load_depth(path):
    """Reads normkit-depth's JSON (--format json) into a Depth, or raises ReportError naming the
    file and what is wrong."""
    doc = _read_json(path, "normkit-depth JSON")
    _require(isinstance(doc, dict) and isinstance(doc.get("config"), dict)
             and isinstance(doc.get("records"), list), path,
             "not normkit-depth output (expected an object with 'config' and 'records')")
    _require(doc["records"], path, "has no records ('records' is empty)")
    paths = []
    seen = set()
    for i, r in enumerate(doc["records"]):
        _require(isinstance(r, dict), path, f"record #{i} is not an object")
        _require(isinstance(r.get("layer"), int) and not isinstance(r.get("layer"), bool)
                 and 1 <= r["layer"] <= MAX_LAYERS, path,
                 f"record #{i} has no layer number (an integer from 1 to {MAX_LAYERS})")
        _require(isinstance(r.get("layout"), str) and r["layout"], path, f"record #{i} has no layout")
        for key in DEPTH_NUMBERS:
            _require(key in r and _number_or_null(r[key]), path,
                     f"record #{i} (layer {r['layer']} {show(r['layout'])}): '{key}' is missing or not a number")
        for key in ("update_rms", "error_bound"):
            _require(_number_or_null(r.get(key)), path,
                     f"record #{i} (layer {r['layer']} {show(r['layout'])}): '{key}' is not a number")
        errs = r.get("errors")
        _require(isinstance(errs, dict) and all(isinstance(k, str) and _number_or_null(v)
                                                for k, v in errs.items()), path,
                 f"record #{i} (layer {r['layer']} {show(r['layout'])}): 'errors' is not an object of numbers")
        for key in DEPTH_NUMBERS + ("update_rms", "error_bound"):  # as floats, like the benchmarks'
            if r.get(key) is not None:
                r[key] = float(r[key])
        r["errors"] = {k: None if v is None else float(v) for k, v in errs.items()}
        key = (r["layer"], r["layout"])
        _require(key not in seen, path, f"layer {r['layer']} {show(r['layout'])} appears twice")
        seen.add(key)
        for k in errs:
            if k not in paths:
                paths.append(k)
    machine = doc.get("machine") if isinstance(doc.get("machine"), dict) else {}
    return Depth(path=path, machine=machine, config=doc["config"], records=doc["records"], paths=paths)
