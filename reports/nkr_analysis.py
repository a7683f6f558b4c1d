"""Figures derived from runs: ceilings per cache level, per-shape tables, the norm + linear
tables, comparisons."""
import math
import re
from collections import defaultdict

NORMKIT_ISAS = ("scalar", "avx2", "avx512", "neon", "sve")  # the registry's variants
PLAIN_C = ("autovec", "autovec_fastmath")                   # the scalar C, compiler-optimized
ENTRY_POINT = "api"  # normkit's public entry point (checks, dispatch, the variant): decode rows
# A registry variant's isa field: the ISA, with normkit-bench --variants=all its knobs too
# (avx512_u2_acc4: letters then a number per knob).
KNOB_VARIANT = re.compile(r"^(?P<isa>" + "|".join(NORMKIT_ISAS) + r")(?:_(?P<knobs>[a-z]+[0-9]+(?:_[a-z]+[0-9]+)*))?$")
# The targets of the bound (docs/performance.md): a case of normkit's SIMD variants reaches
# BOUND_TARGET % of its modeled bound, or is PEER_TARGET times as fast as the best peer.
BOUND_TARGET = 85.0
PEER_TARGET = 1.5
DECODE_DIMS = (64, 768, 4096)  # normkit-bench's decode rows (rows 1) of every norm operator


def split_variant(isa):
    """(ISA, knobs) of a registry variant's isa field ("avx512_u2_acc4" -> ("avx512", "u2_acc4"),
    "avx512" -> ("avx512", "")); (None, "") for anything else (plain C, peers, linear kinds)."""
    m = KNOB_VARIANT.match(isa)
    return (m.group("isa"), m.group("knobs") or "") if m else (None, "")


def is_normkit(case):
    """A registry variant of normkit (any ISA, any knob variant)."""
    return split_variant(case.isa)[0] is not None


def is_peer(case):
    """Another library's implementation: neither normkit's variants, its entry point nor the
    plain C."""
    return not is_normkit(case) and case.isa not in PLAIN_C and case.isa != ENTRY_POINT


def geomean(values):
    values = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def ceilings(run):
    """{kind: {level: (GB/s, isa, case)}}: the best bandwidth per ceiling kind and level, over
    ISAs and sizes; and {isa: GFLOP/s} for FMA peaks."""
    bw = defaultdict(dict)
    fma = {}
    for c in run.ceilings():
        if c.flops_per_second > 0 and c.bytes_per_second <= 0:
            fma[c.isa] = max(fma.get(c.isa, 0.0), c.flops_per_second / 1e9)
            continue
        if not c.level or c.bytes_per_second <= 0 or c.ceiling_kind == "copy_ws":
            continue  # (copy_ws: a copy of one case's working set, not the level's figure)
        best = bw[c.ceiling_kind].get(c.level)
        if best is None or c.gbps > best[0]:
            bw[c.ceiling_kind][c.level] = (c.gbps, c.isa, c)
    return dict(bw), fma


def isa_map(run):
    """normkit-bench's context `ceiling_isa_map` ("avx512=avx512 autovec=avx512 ..."): whose
    ceilings each variant is held against. Empty when the run has none."""
    text = str(run.context.get("ceiling_isa_map", ""))
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


def copy_ceiling(run, case):
    """(kind, GB/s, isa) of the ceiling a kernel case is held against: the best copy bandwidth
    (`copy`, or `copy_nt` with streaming stores where it was measured: a norm reads its input
    and writes its output once, as a copy does, and may stream it) at the case's cache level,
    measured with the ISA the run's ceiling_isa_map names for the case's ISA; without a map,
    or without that ISA's ceiling, the best copy at that level over all ISAs."""
    copies = [c for c in run.ceilings() if c.ceiling_kind in ("copy", "copy_nt")
              and c.level == case.level and c.bytes_per_second > 0]
    mapped = isa_map(run).get(case.isa) or isa_map(run).get(split_variant(case.isa)[0] or "")
    own = [c for c in copies if c.isa == mapped]
    pool = own or copies
    if not pool:
        return None
    best = max(pool, key=lambda c: c.bytes_per_second)
    return (best.ceiling_kind, best.gbps, best.isa)


def shape_key(case):
    return (case.op, case.dtype, tuple(sorted(case.params.items())))


def shape_text(params):
    return ", ".join(f"{k} {v}" for k, v in sorted(params.items(), key=lambda kv: (kv[0] != "dim", kv[0])))


def judged(case):
    """Whether the bound's targets apply to a case: normkit's SIMD variants (the scalar one is
    the one-lane baseline, latency-bound by its one accumulator in element order)."""
    isa = split_variant(case.isa)[0]
    return isa is not None and isa != "scalar"


def kernel_table(run):
    """The norm cases (not the linear operators: see linear_tables). Rows per shape: {shape_key: [row...]}, each row a dict with the figures of one variant,
    best first. A row: case, us, gbps, pct (of its level's ceiling), x_scalar, x_autovec, best,
    and from the run's bound counters (None in runs without them) pct_bound, bound_ns,
    pct_copy_ws (of the copy of the case's own working set); x_peer (the fastest peer's time
    over this one's: above 1 this one is faster) and peer; miss (True when judged, with a bound,
    below BOUND_TARGET % of it and below PEER_TARGET times the best peer)."""
    groups = defaultdict(list)
    for c in run.norms():
        groups[shape_key(c)].append(c)
    table = {}
    for key, cases in groups.items():
        by_isa = {c.isa: c for c in cases}
        # the entry point runs one of the variants: never the shape's best (★)
        best_time = min((c.time_ns for c in cases if c.isa != ENTRY_POINT), default=None)
        peers = [c for c in cases if is_peer(c)]
        peer = min(peers, key=lambda c: c.time_ns) if peers else None
        rows = []
        for c in sorted(cases, key=lambda c: c.time_ns):
            lc = copy_ceiling(run, c)
            x_peer = peer.time_ns / c.time_ns if peer is not None and peer is not c else None
            rows.append({
                "case": c,
                "us": c.time_ns / 1e3,
                "gbps": c.gbps,
                "pct": 100.0 * c.gbps / lc[1] if lc and c.gbps > 0 else None,
                "ceiling": lc,
                "x_scalar": by_isa["scalar"].time_ns / c.time_ns if "scalar" in by_isa else None,
                "x_autovec": by_isa["autovec"].time_ns / c.time_ns if "autovec" in by_isa else None,
                "best": c.time_ns == best_time,
                "pct_bound": c.pct_of_bound,
                "bound_ns": c.bound_ns,
                "pct_copy_ws": c.pct_of_copy_ws,
                "x_peer": x_peer,
                "peer": peer if x_peer is not None else None,
                "miss": bool(judged(c) and c.pct_of_bound is not None and c.pct_of_bound < BOUND_TARGET
                             and (x_peer is None or x_peer < PEER_TARGET)),
            })
        table[key] = rows
    return table


def bound_summary(run):
    """(met, judged, misses) over the judged cases with a bound: misses the kernel_table rows
    that miss both targets, by operator and working set."""
    rows = [r for rs in kernel_table(run).values() for r in rs
            if judged(r["case"]) and r["pct_bound"] is not None]
    misses = sorted((r for r in rows if r["miss"]),
                    key=lambda r: (r["case"].op, r["case"].bytes_per_call, r["case"].isa))
    return len(rows) - len(misses), len(rows), misses


def decode_table(run):
    """The decode rows (rows 1, dim in DECODE_DIMS) of each norm operator: [{op, dim, best (the
    fastest normkit variant's Case), peer (the fastest peer's Case or None), plain (the fastest
    plain C's Case or None), api (the same call through normkit's public entry point, or
    None)}], by operator then dim; empty when the run has none."""
    out = []
    groups = defaultdict(list)
    for c in run.norms():
        if c.params.get("rows") == 1 and c.params.get("dim") in DECODE_DIMS:
            groups[(c.op, c.params["dim"])].append(c)
    for (op, dim), cases in sorted(groups.items()):
        ours = [c for c in cases if is_normkit(c)]
        if not ours:
            continue
        peers = [c for c in cases if is_peer(c)]
        plain = [c for c in cases if c.isa in PLAIN_C]
        api = [c for c in cases if c.isa == ENTRY_POINT]
        out.append({"op": op, "dim": dim, "best": min(ours, key=lambda c: c.time_ns),
                    "peer": min(peers, key=lambda c: c.time_ns) if peers else None,
                    "plain": min(plain, key=lambda c: c.time_ns) if plain else None,
                    "api": api[0] if api else None})
    return out


def speedups_by_isa(run):
    """{op: {isa: geometric-mean speedup over scalar across shapes}}."""
    acc = defaultdict(lambda: defaultdict(list))
    for rows in kernel_table(run).values():
        for r in rows:
            if r["x_scalar"] and r["case"].isa not in ("scalar", ENTRY_POINT):
                acc[r["case"].op][r["case"].isa].append(r["x_scalar"])
    return {op: {isa: geomean(v) for isa, v in d.items()} for op, d in acc.items()}


def compare(runs):
    """Cases present in the first run and in at least one other, by exact name.
    Returns [(name, [Case or None per run])] sorted by name."""
    base = runs[0]
    out = []
    for name in sorted(base.cases):
        if base.cases[name].is_ceiling:
            continue
        others = [r.cases.get(name) for r in runs[1:]]
        if any(others):
            out.append((name, [base.cases[name]] + others))
    return out


GATE_RULE = ("a case regresses when its median CPU time is more than PCT% above the first run's "
             "AND its [min, max] over the repetitions lies wholly above the first run's [min, max] "
             "(the ranges do not overlap). Where either run has no range for the case (one "
             "repetition, or only aggregates written), the case is judged on the median alone, "
             "and labelled so. A case of the first run that another run lacks or reports as "
             "failed fails the gate whatever the threshold.")


def judge(base, other, fail_above=None):
    """How `other` compares with `base` (two Cases of one name): a dict with
    ratio (base time / other time: above 1 the other is faster), change (% of base time),
    overlap (True/False: do the [min, max] ranges overlap; None when either has no range),
    no_range ([(which, reason)] for the cases without a range: which is 0 for base, 1 for other;
    empty when the verdict rests on ranges), regressed (None without fail_above, else the
    gate's verdict, GATE_RULE)."""
    ratio = base.time_ns / other.time_ns
    change = (other.time_ns / base.time_ns - 1.0) * 100.0
    no_range = [(i, c.no_range_reason) for i, c in enumerate((base, other)) if not c.has_range]
    overlap = None
    if not no_range:
        overlap = not (other.time_min_ns > base.time_max_ns or other.time_max_ns < base.time_min_ns)
    regressed = None
    if fail_above is not None:
        # Disjoint ranges with a slower median means the other run's range lies above the base's.
        regressed = change > fail_above and overlap is not True
    return {"ratio": ratio, "change": change, "overlap": overlap, "no_range": no_range,
            "regressed": regressed}


def missing_in(runs):
    """[(name, run label, why)] for every kernel case of the first run that another run lacks
    or reports as failed: a gate must not pass because a case vanished."""
    base = runs[0]
    out = []
    for r in runs[1:]:
        for name in sorted(base.cases):
            if base.cases[name].is_ceiling or name in r.cases:
                continue
            out.append((name, r.label, "reported an error" if name in r.errored else "is missing"))
    return out


def best_per_shape(runs):
    """{(op, dtype, params): [best Case per run or None]} for shapes present in 2+ runs: lines
    up machines whose ISAs differ (an AVX-512 server against a NEON laptop)."""
    per_run = []
    for r in runs:
        best = {}
        for c in r.kernels():
            k = shape_key(c)
            if c.isa == ENTRY_POINT:
                continue  # it runs one of the variants it would be compared with
            if k not in best or c.time_ns < best[k].time_ns:
                best[k] = c
        per_run.append(best)
    keys = sorted({k for b in per_run for k in b})
    return {k: [b.get(k) for b in per_run] for k in keys if sum(k in b for b in per_run) >= 2}


def at_a_glance(run):
    """Per operator and shape: normkit's best variant against the alternatives a user has —
    the plain C at its best compiler flags, and the best peer library."""
    out = []
    for key, rows in sorted(kernel_table(run).items(), key=lambda kv: (kv[0][0], kv[1][0]["case"].bytes_per_call)):
        ours = [r for r in rows if is_normkit(r["case"])]
        if not ours:
            continue
        best = min(ours, key=lambda r: r["case"].time_ns)
        plain = [r for r in rows if r["case"].isa in PLAIN_C]
        peers = [r for r in rows if is_peer(r["case"])]
        bp = min(plain, key=lambda r: r["case"].time_ns) if plain else None
        bq = min(peers, key=lambda r: r["case"].time_ns) if peers else None
        out.append({
            "op": key[0], "params": dict(key[2]), "best": best,
            "x_plain": bp["case"].time_ns / best["case"].time_ns if bp else None, "plain": bp,
            "x_peer": bq["case"].time_ns / best["case"].time_ns if bq else None, "peer": bq,
        })
    return out


# ---- the linear operators: y = Norm(x) W^T (+ bias), op/f32/<variant>/dim:D/n:N/rows:R ----

LINEAR_KINDS = ("fused", "packed", "unfused", "2t")  # <isa>, <isa>_packed, <isa>_unfused, <isa>_2t
ISA_ORDER = ("avx512", "sve", "avx2", "neon", "scalar")  # widest first, for the table's columns
PEER_NAMES = {"onednn": "oneDNN", "openblas": "OpenBLAS", "xnnpack": "XNNPACK", "eigen": "Eigen"}
W_STREAM_ROWS = 8  # up to this many rows a call's bytes are mostly W: its streaming bandwidth


def peer_name(peer):
    return PEER_NAMES.get(peer, peer)


def linear_variant(case):
    """(kind, isa) of a linear case's variant field: see variant_kind."""
    return variant_kind(case.isa)


def variant_kind(v):
    """(kind, isa) of a linear variant name: kind one of fused (<isa>, row-major W), packed,
    unfused, 2t (normkit's registry ISAs), plain (autovec, autovec_fastmath: isa None) or peer
    (onednn, openblas, xnnpack, ...: isa None)."""
    for kind in LINEAR_KINDS[1:]:
        if v.endswith("_" + kind) and v[:-len(kind) - 1] in NORMKIT_ISAS:
            return kind, v[:-len(kind) - 1]
    if v in NORMKIT_ISAS:
        return "fused", v
    if v in PLAIN_C:
        return "plain", None
    return "peer", None


def fma_peak_for(run, case, peaks=None):
    """(GFLOP/s, isa, threads) of the in-run FMA peak a linear case is held against: the
    ceiling_fma of its own ISA for normkit's variants (two cores' worth for the _2t ones); the
    best ISA's for the plain C and the peers. None without that ceiling in the run."""
    peaks = ceilings(run)[1] if peaks is None else peaks
    if not peaks:
        return None
    kind, isa = linear_variant(case)
    if isa is None:
        isa = max(peaks, key=peaks.get)
    if isa not in peaks:
        return None
    threads = 2 if kind == "2t" else 1
    return (peaks[isa] * threads, isa, threads)


def read_ceiling_for(run, case):
    """(GB/s, isa, level) of the in-run read ceiling at the cache level of the case's working set
    (its label): measured with the case's own ISA where the run has it, else the best over ISAs."""
    reads = [c for c in run.ceilings() if c.ceiling_kind == "read" and c.level and c.level == case.level
             and c.bytes_per_second > 0]
    if not reads:
        return None
    _, isa = linear_variant(case)
    pool = [c for c in reads if c.isa == isa] or reads
    best = max(pool, key=lambda c: c.bytes_per_second)
    return (best.gbps, best.isa, best.level)


def _variant_order(variant):
    """Columns: normkit's ISAs widest first (fused, packed, unfused, 2t), the plain C, the peers."""
    kind, isa = variant_kind(variant)
    if isa is not None:
        return (0, ISA_ORDER.index(isa) if isa in ISA_ORDER else len(ISA_ORDER), isa,
                LINEAR_KINDS.index(kind))
    return (1 if kind == "plain" else 2, 0, variant, 0)


def linear_peers(run):
    """The peers among a run's linear cases, in name order."""
    return sorted({c.isa for c in run.linears() if linear_variant(c)[0] == "peer"})


def linear_tables(run):
    """{(op, dtype, dim, n): table} for the linear cases, ordered by op then size. A table:
    variants (its column order), best_isa (the ISA whose fused or packed variant is normkit's best
    in most rows: the plot's lines), and rows, one per row count, ascending, each a dict:
      rows, cases {variant: Case}, winner (the variant with the most GFLOP/s on one core: every
      variant but the _2t ones), best (normkit's best on one core: the fastest <isa> or
      <isa>_packed case), x_peer {peer: best GFLOP/s / peer GFLOP/s}, unfused (the <isa>_unfused
      case of best's ISA) and x_unfused, fma (fma_peak_for best) and pct_fma, and for rows up to
      W_STREAM_ROWS w_gbps (best's bytes/s: W, x and y once per call, mostly W) with read
      (read_ceiling_for best) and pct_read."""
    peaks = ceilings(run)[1]
    groups = defaultdict(lambda: defaultdict(dict))
    for c in run.linears():
        key = (c.op, c.dtype, c.params.get("dim", 0), c.params.get("n", 0))
        groups[key][c.params.get("rows", 0)][c.isa] = c
    out = {}
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2] * k[3], k[2], k[3])):
        variants = sorted({v for cases in groups[key].values() for v in cases}, key=_variant_order)
        rows = []
        for nrows in sorted(groups[key]):
            cases = groups[key][nrows]
            one_core = [c for c in cases.values() if linear_variant(c)[0] != "2t" and c.gflops > 0]
            ours = [c for c in one_core if linear_variant(c)[0] in ("fused", "packed")]
            winner = max(one_core, key=lambda c: c.gflops) if one_core else None
            best = max(ours, key=lambda c: c.gflops) if ours else None
            r = {"rows": nrows, "cases": cases, "winner": winner.isa if winner else None, "best": best,
                 "x_peer": {}, "unfused": None, "x_unfused": None, "fma": None, "pct_fma": None,
                 "w_gbps": None, "read": None, "pct_read": None}
            if best:
                isa = linear_variant(best)[1]
                for v, c in cases.items():
                    if linear_variant(c)[0] == "peer" and c.gflops > 0:
                        r["x_peer"][v] = best.gflops / c.gflops
                unf = cases.get(f"{isa}_unfused")
                if unf is not None and unf.gflops > 0:
                    r["unfused"], r["x_unfused"] = unf, best.gflops / unf.gflops
                r["fma"] = fma_peak_for(run, best, peaks)
                if r["fma"]:
                    r["pct_fma"] = 100.0 * best.gflops / r["fma"][0]
                if nrows <= W_STREAM_ROWS and best.bytes_per_second > 0:
                    r["w_gbps"] = best.gbps
                    r["read"] = read_ceiling_for(run, best)
                    if r["read"]:
                        r["pct_read"] = 100.0 * best.gbps / r["read"][0]
            rows.append(r)
        wins = defaultdict(int)
        for r in rows:
            if r["best"]:
                wins[linear_variant(r["best"])[1]] += 1
        best_isa = None
        if wins:
            def top_gflops(isa):  # tie-break: the more GFLOP/s at the largest row count it has
                for r in reversed(rows):
                    got = [r["cases"][v].gflops for v in (isa, f"{isa}_packed") if v in r["cases"]]
                    if got:
                        return max(got)
                return 0.0
            best_isa = max(wins, key=lambda i: (wins[i], top_gflops(i)))
        out[key] = {"variants": variants, "rows": rows, "best_isa": best_isa}
    return out


def openblas_core(run):
    """(core, forced) from the context's linear_peers: the OpenBLAS kernels the run used, and
    whether OPENBLAS_CORETYPE held them there (rather than OpenBLAS choosing for the CPU); None
    when the run says nothing of it."""
    text = dict(linear_peer_info(run)).get("openblas", "")
    m = re.search(r"\bcore ([A-Za-z0-9_]+)( \(forced by OPENBLAS_CORETYPE\))?", text)
    return (m.group(1), bool(m.group(2))) if m else None


def linear_peer_info(run):
    """[(peer, what the run says of it)] from the context's linear_peers ("onednn: oneDNN 2.6.3
    (...); openblas: ...; xnnpack: ...")."""
    text = str(run.context.get("linear_peers", ""))
    names = sorted(set(PEER_NAMES) | set(linear_peers(run)), key=len, reverse=True)
    # "name: " starting the text or a ";"-separated part (a peer's own text has "; environment:
    # ..."). Split, not one regular expression: that took time quadratic in a run of ";".
    out = []
    for part in text.split(";"):
        s = part.lstrip()
        name = next((n for n in names if s.startswith(n + ": ")), None)
        if name is not None:
            out.append([name, s[len(name) + 2:]])
        elif out:
            out[-1][1] += ";" + part
    return [(n, t.strip().rstrip(";").strip()) for n, t in out]


# ---- whole blocks: block/<layout>/<norm>/<act>/<impl>/<path>/d:D/rows:R ----

PEER_NAMES.setdefault("torch", "PyTorch")
BLOCK_PATHS = ("fused", "unfused", "scalar")    # normkit's paths, in column order per ISA
BLOCK_SMALL_ROWS = 32                           # "decode-sized" calls: the fused target is higher
# The targets the blocks section holds fused (normkit's best ISA, fused path) against, as
# (name, what the ratio divides by, minimum, applies(rows)): ratios of tokens/s.
BLOCK_TARGETS = (
    ("unfused", "unfused", 1.15, lambda rows: rows <= BLOCK_SMALL_ROWS),
    ("unfused", "unfused", 1.0, lambda rows: rows > BLOCK_SMALL_ROWS),
    ("onednn", "onednn", 1.0, lambda rows: True),
    ("torch", "torch", 2.0, lambda rows: True),
)
BLOCK_TARGET_TEXT = {"unfused": f"≥ 1.15 at rows ≤ {BLOCK_SMALL_ROWS}, ≥ 1.0 above",
                     "onednn": "≥ 1.0", "torch": "≥ 2.0"}


def block_target(against, rows):
    """The minimum ratio fused / `against` must reach at this row count, or None."""
    for _, what, minimum, applies in BLOCK_TARGETS:
        if what == against and applies(rows):
            return minimum
    return None


def block_variant(case):
    """"<impl>/<path>" of a block case: avx512/fused, scalar/scalar, onednn/peer, ..."""
    b = case.block
    return f"{b['impl']}/{b['path']}"


def _block_variant_order(v):
    impl, path = v.split("/", 1)
    if impl in NORMKIT_ISAS and path != "peer":
        return (0 if path != "scalar" else 1, ISA_ORDER.index(impl) if impl in ISA_ORDER else len(ISA_ORDER),
                BLOCK_PATHS.index(path) if path in BLOCK_PATHS else len(BLOCK_PATHS), v)
    return (2, 0, 0, v)


def block_tables(run):
    """{(layout, norm, act, d): table} for the block cases, by layout, norm, act, then d. A table:
    variants ("<impl>/<path>" column order: normkit's ISAs widest first, fused then unfused, the
    scalar path, the peers), best_isa (the ISA whose fused path has the most tokens/s in most
    rows: the plot's lines), peers (the peer impls present) and rows, one per row count,
    ascending, each a dict:
      rows, cases {variant: Case}, winner (the variant with the most tokens/s), fused (the fastest
      <isa>/fused case of the row: normkit's best), unfused (the same ISA's unfused case), ratios
      {against: fused tokens/s / against's tokens/s} for against in unfused and each peer, and
      targets [(against, ratio, minimum, met)] for those with a target (BLOCK_TARGETS)."""
    groups = defaultdict(lambda: defaultdict(dict))
    for c in run.blocks():
        b = c.block
        key = (b["layout"], b["norm"], b["act"], c.params.get("d", c.params.get("dim", 0)))
        groups[key][c.params.get("rows", 0)][block_variant(c)] = c
    out = {}
    for key in sorted(groups, key=lambda k: (k[0] != "prenorm", k[0], k[1], k[2], k[3])):
        variants = sorted({v for cases in groups[key].values() for v in cases}, key=_block_variant_order)
        peers = sorted({v.split("/")[0] for v in variants if v.endswith("/peer")})
        rows = []
        for nrows in sorted(groups[key]):
            cases = groups[key][nrows]
            rated = [c for c in cases.values() if c.tokens_rate > 0]
            winner = max(rated, key=lambda c: c.tokens_rate) if rated else None
            fused = [c for v, c in cases.items() if v.endswith("/fused") and c.tokens_rate > 0]
            best = max(fused, key=lambda c: c.tokens_rate) if fused else None
            r = {"rows": nrows, "cases": cases, "winner": block_variant(winner) if winner else None,
                 "fused": best, "unfused": None, "ratios": {}, "targets": []}
            if best:
                isa = best.block["impl"]
                unf = cases.get(f"{isa}/unfused")
                if unf is not None and unf.tokens_rate > 0:
                    r["unfused"] = unf
                    r["ratios"]["unfused"] = best.tokens_rate / unf.tokens_rate
                for p in peers:
                    c = cases.get(f"{p}/peer")
                    if c is not None and c.tokens_rate > 0:
                        r["ratios"][p] = best.tokens_rate / c.tokens_rate
                for against, ratio in r["ratios"].items():
                    minimum = block_target(against, nrows)
                    if minimum is not None:
                        r["targets"].append((against, ratio, minimum, ratio >= minimum))
            rows.append(r)
        wins = defaultdict(int)
        for r in rows:
            if r["fused"]:
                wins[r["fused"].block["impl"]] += 1
        best_isa = None
        if wins:
            best_isa = max(wins, key=lambda i: (wins[i], -ISA_ORDER.index(i) if i in ISA_ORDER else -99))
        out[key] = {"variants": variants, "peers": peers, "rows": rows, "best_isa": best_isa}
    return out


def block_misses(tables):
    """[(key, rows, against, ratio, minimum)] for every target a block table misses."""
    return [(key, r["rows"], against, ratio, minimum)
            for key, t in tables.items() for r in t["rows"]
            for against, ratio, minimum, met in r["targets"] if not met]


def depth_excerpt_layers(n):
    """The layers a depth table shows: 1, 2, 4, 8, ... and the last."""
    out, L = [], 1
    while L < n:
        out.append(L)
        L *= 2
    return out + [n]
