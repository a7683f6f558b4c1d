"""Figures derived from runs: ceilings per cache level, per-shape tables, comparisons."""
import math
from collections import defaultdict

NORMKIT_ISAS = ("scalar", "avx2", "avx512", "neon", "sve")  # the registry's variants
PLAIN_C = ("autovec", "autovec_fastmath")                   # the scalar C, compiler-optimized


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
        if not c.level or c.bytes_per_second <= 0:
            continue
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
    mapped = isa_map(run).get(case.isa)
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


def kernel_table(run):
    """Rows per shape: {shape_key: [row...]}, each row a dict with the figures of one variant,
    best first. A row: case, us, gbps, pct (of its level's ceiling), x_scalar, x_autovec, best."""
    groups = defaultdict(list)
    for c in run.kernels():
        groups[shape_key(c)].append(c)
    table = {}
    for key, cases in groups.items():
        by_isa = {c.isa: c for c in cases}
        best_time = min(c.time_ns for c in cases)
        rows = []
        for c in sorted(cases, key=lambda c: c.time_ns):
            lc = copy_ceiling(run, c)
            rows.append({
                "case": c,
                "us": c.time_ns / 1e3,
                "gbps": c.gbps,
                "pct": 100.0 * c.gbps / lc[1] if lc and c.gbps > 0 else None,
                "ceiling": lc,
                "x_scalar": by_isa["scalar"].time_ns / c.time_ns if "scalar" in by_isa else None,
                "x_autovec": by_isa["autovec"].time_ns / c.time_ns if "autovec" in by_isa else None,
                "best": c.time_ns == best_time,
            })
        table[key] = rows
    return table


def speedups_by_isa(run):
    """{op: {isa: geometric-mean speedup over scalar across shapes}}."""
    acc = defaultdict(lambda: defaultdict(list))
    for rows in kernel_table(run).values():
        for r in rows:
            if r["x_scalar"] and r["case"].isa != "scalar":
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
        ours = [r for r in rows if r["case"].isa in NORMKIT_ISAS]
        if not ours:
            continue
        best = min(ours, key=lambda r: r["case"].time_ns)
        plain = [r for r in rows if r["case"].isa in PLAIN_C]
        peers = [r for r in rows if r["case"].isa not in NORMKIT_ISAS + PLAIN_C]
        bp = min(plain, key=lambda r: r["case"].time_ns) if plain else None
        bq = min(peers, key=lambda r: r["case"].time_ns) if peers else None
        out.append({
            "op": key[0], "params": dict(key[2]), "best": best,
            "x_plain": bp["case"].time_ns / best["case"].time_ns if bp else None, "plain": bp,
            "x_peer": bq["case"].time_ns / best["case"].time_ns if bq else None, "peer": bq,
        })
    return out
