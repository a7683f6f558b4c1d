#!/usr/bin/env python3
"""normkit benchmark reports: tables, roofline and speedup plots, run-to-run comparison.

  normkit_report.py [-o DIR] [--filter REGEX] RUN.json
        one run -> DIR/report.md, index.html, summary.csv, *.png
  normkit_report.py [-o DIR] [--filter REGEX] --compare BASE.json NEW.json [...] [--fail-above PCT]
        runs side by side, case by case, against the first (and the best variant per shape)
  normkit_report.py [-o DIR] [--filter REGEX] --compare RUN.json --isa BASE NEW [--fail-above PCT]
        one run: ISA NEW against ISA BASE, shape by shape (e.g. --isa scalar avx512)
  normkit_report.py [-o DIR] --run-bench PATH/normkit-bench [-- extra normkit-bench flags]
  ... [--depth DEPTH.json | --run-depth PATH/normkit-depth]   (one-run reports)
        adds the depth section from normkit-depth's JSON (or runs it, default configuration)

Inputs are Google Benchmark JSON files written by normkit-bench (--benchmark_format=json or
--benchmark_out). Times are CPU time per call (wall time for the cases normkit-bench times in
it, named .../real_time: the two-thread _2t linear cases), the median over the repetitions; rates
(bytes/s, rows/s, FLOP/s) are per-call figures over the same time, so they give the same ratios.
The linear operators (linear, rmsnorm_linear, layernorm_linear: .../dim:D/n:N/rows:R) get their
own section, "Norm + linear (pre-norm)", with GFLOP/s against rows plots; whole blocks
(block/<layout>/<norm>/<act>/<impl>/<path>/d:D/rows:R) the "Blocks" section, tokens/s and GFLOP/s
against rows with the fused path's targets. With
--benchmark_repetitions=N (N >= 3 recommended; 5 on a noisy machine) the tables also show the
spread: the coefficient of variation (CV, as ±x%) and the fastest–slowest repetition (min–max).
Compare mode prints its table on standard output as well. The output folder is written whole or
not at all. Exit status: 0 done, 1 the --fail-above gate failed, 2 bad input or usage.
"""
import argparse
import base64
import csv
import datetime
import html
import math
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nkr_analysis import (BLOCK_SMALL_ROWS, BLOCK_TARGET_TEXT, BOUND_TARGET, GATE_RULE,  # noqa: E402
                          PEER_TARGET, W_STREAM_ROWS, at_a_glance, best_per_shape, block_misses,
                          block_tables, block_variant, bound_summary, ceilings, compare,
                          decode_table, depth_excerpt_layers, fma_peak_for, judge, kernel_table,
                          linear_peer_info, linear_peers, linear_tables, linear_variant, missing_in,
                          openblas_core, peer_name, read_ceiling_for, shape_text)
from nkr_data import LEVELS, ReportError, caches, filtered, isa_view, load_depth, load_run  # noqa: E402

# Context fields shown first, in this order; every other key follows in name order, as a plain
# key/value row, so keys normkit-bench adds later (cache_source, openblas_core, ...) show up
# without changes here.
CONTEXT_FIRST = ("cpu_model", "cpu_id", "isa_active", "tuning", "isa_cpu", "date", "host_name", "num_cpus",
                 "mhz_per_cpu", "normkit_version", "normkit_git", "compiler_c", "compiler_cpp",
                 "profile", "pinning")


# Output text files: UTF-8 whatever the locale (µs, ×, ✗; index.html says utf-8), and a file name
# that is not UTF-8 (surrogate escapes from the command line) written escaped rather than failing.
TEXT_OUT = {"encoding": "utf-8", "errors": "backslashreplace"}


def fmt(v, digits=3):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v)


def context_value(v):
    if isinstance(v, dict):
        return ", ".join(f"{k}={context_value(x)}" for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(context_value(x) for x in v)
    return " ".join(str(v).split())  # one line: a table row


def context_rows(ctx):
    """[[key, value]] for every context key: the known ones first, then the rest by name."""
    keys = [k for k in CONTEXT_FIRST if k in ctx] + sorted(k for k in ctx if k not in CONTEXT_FIRST)
    rows = []
    for k in keys:
        v = ctx[k]
        if k == "caches" and caches(ctx) is not None:
            v = ", ".join(f"L{c['level']} {c['type']} {c['size'] // 1024} KiB x{c['num_sharing']}"
                          for c in caches(ctx)) or "(none detected)"
        rows.append([str(k), context_value(v)])
    return rows


def us(ns):
    return f"{ns / 1e3:.3f}"


def cv_text(case):
    """" ±2.1%": the CV over the repetitions, or "" for a single repetition."""
    return f" ±{case.cv * 100:.1f}%" if case.cv is not None else ""


def range_text(case):
    """"2.672–2.863" (µs, fastest–slowest repetition) or "" without per-repetition times."""
    return f"{us(case.time_min_ns)}–{us(case.time_max_ns)}" if case.has_range else ""


def time_cell(case):
    """Compare tables: "2.735 (2.672–2.863)", the median and the range in µs."""
    r = range_text(case)
    return us(case.time_ns) + (f" ({r})" if r else "")


class Doc:
    """A report as blocks, written out as Markdown and as self-contained HTML."""

    def __init__(self):
        self.blocks = []

    def h(self, level, text):
        self.blocks.append(("h", level, text))

    def p(self, text):
        self.blocks.append(("p", text))

    def table(self, header, rows):
        self.blocks.append(("table", header, rows))

    def img(self, file, alt):
        self.blocks.append(("img", file, alt))

    def markdown(self):
        out = []
        for b in self.blocks:
            if b[0] == "h":
                out.append("#" * b[1] + " " + b[2])
            elif b[0] == "p":
                out.append(b[1])
            elif b[0] == "img":
                out.append(f"![{b[2]}]({b[1]})")
            else:
                out.append("| " + " | ".join(b[1]) + " |")
                out.append("|" + "|".join("---" for _ in b[1]) + "|")
                out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in b[2]]
            out.append("")
        return "\n".join(out)

    def html(self, folder, title):
        css = ("body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}"
               "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;"
               "padding:.2em .6em;text-align:right}td:first-child,th:first-child{text-align:left}"
               "th{background:#f3f3f3}img{max-width:100%}code{background:#f3f3f3;padding:0 .2em}")
        out = [f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
               f"<style>{css}</style></head><body>"]

        def inline(text):  # **bold** and `code`, after escaping
            t = html.escape(text)
            for mark, tag in (("**", "b"), ("`", "code")):
                parts = t.split(mark)
                t = "".join(p if i % 2 == 0 else f"<{tag}>{p}</{tag}>" for i, p in enumerate(parts))
            return t

        for b in self.blocks:
            if b[0] == "h":
                out.append(f"<h{b[1]}>{inline(b[2])}</h{b[1]}>")
            elif b[0] == "p":
                out.append(f"<p>{inline(b[1])}</p>")
            elif b[0] == "img":
                with open(os.path.join(folder, b[1]), "rb") as f:
                    data = base64.b64encode(f.read()).decode()
                out.append(f"<p><img alt=\"{html.escape(b[2])}\" src=\"data:image/png;base64,{data}\"></p>")
            else:
                out.append("<table><tr>" + "".join(f"<th>{inline(h)}</th>" for h in b[1]) + "</tr>")
                out += ["<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in b[2]]
                out.append("</table>")
        out.append("</body></html>")
        return "\n".join(out)


def ceiling_section(doc, run):
    bw, fma = ceilings(run)
    if not bw and not fma:
        doc.p("This run has no ceiling cases, so no percent-of-ceiling figures.")
        return
    kinds = sorted(bw)
    rows = []
    for level in LEVELS:
        if any(level in bw[k] for k in kinds):
            rows.append([level] + [f"{bw[k][level][0]:.1f} ({bw[k][level][1]})" if level in bw[k] else "–"
                                   for k in kinds])
    doc.table(["level"] + [f"{k} GB/s (best ISA)" for k in kinds], rows)
    if fma:
        doc.table(["ISA", "peak FMA GFLOP/s (f32, one core)"], [[i, f"{g:.1f}"] for i, g in sorted(fma.items())])
    calls = {}  # isa -> {kind: ns per call}: RMSNorm's row and LayerNorm's
    for c in run.ceilings():
        if c.ceiling_kind in ("rowcall", "rowcall_ln") and c.ns_per_call:
            calls.setdefault(c.isa, {})[c.ceiling_kind] = c.ns_per_call
    if calls:
        doc.table(["ISA", "one-vector RMSNorm call, ns (`ceiling_rowcall`)",
                   "one-vector LayerNorm call, ns (`ceiling_rowcall_ln`)"],
                  [[isa] + [f"{k[kind]:.1f}" if kind in k else "–" for kind in ("rowcall", "rowcall_ln")]
                   for isa, k in sorted(calls.items())])
    doc.p("A kernel's percent of ceiling is its bandwidth over the best **copy** bandwidth "
          "measured in this run at the cache level its working set fits in (`copy`, or `copy_nt` "
          "with streaming stores where measured), with the ISA the run's `ceiling_isa_map` names "
          "for it (its own; the best one for autovec and peers): a norm reads its input and "
          "writes its output once, as a copy does. Above 100% means the level's one ceiling "
          "measurement does not represent that case: typically a case far larger than the "
          "ceiling's working set within the same level, or one that streams its output where "
          "only a plain copy was measured.")
    if any(c.pct_of_bound is not None for c in run.norms()):
        doc.p("A norm case's **percent of bound** is its modeled best time over its measured time "
              "(normkit-bench's `pct_of_bound`, docs/performance.md): the L1 load and store rates "
              "(`read` and `write` in L1), the FMA rate, the traffic each cache level must move "
              "(`copy`, `copy_nt` per level) and the per-call cost (`ceiling_rowcall`, and "
              "`ceiling_rowcall_ln` for the LayerNorm operators) of this run, "
              "for the case's operator and shape. **% of same-size copy** is its bandwidth over a "
              "copy of exactly its working set in the same run (`ceiling_copy_ws`), the reference "
              "for cases near a level boundary, where one ceiling per level misjudges them.")


CSV_HEADER = ["op", "dtype", "isa", "dim", "rows", "level", "time_ns", "gbps", "pct_of_ceiling",
              "speedup_vs_scalar", "speedup_vs_autovec", "best", "repetitions", "time_min_ns",
              "time_max_ns", "cv_pct",
              # the linear operators (empty for norms; variant = isa for them): columns of y,
              # GFLOP/s, percent of the in-run FMA peak (own ISA; best ISA's for the plain C and
              # peers; two cores' for _2t), and for rows <= 8 percent of the in-run read ceiling
              # at the working set's level
              "n", "variant", "gflops", "pct_fma_peak", "pct_read_ceiling",
              # the norm cases' bound (docs/performance.md; empty in runs without it): percent
              # of the modeled best time and that time, percent of the bandwidth of a copy of
              # the case's own working set, and 1 for a judged case missing both targets
              "pct_of_bound", "bound_ns", "pct_of_copy_ws", "miss"]
BOUND_CSV = ("pct_of_bound", "bound_ns", "pct_of_copy_ws", "miss")


def bound_cell(r):
    """"91%", "**62% ✗**" for a miss (below the bound target and the peer target), "–"."""
    if r.get("pct_bound") is None:
        return "–"
    return f"**{r['pct_bound']:.0f}% ✗**" if r["miss"] else f"{r['pct_bound']:.0f}%"


def bound_csv_cells(r):
    if r.get("pct_bound") is None:
        return [""] * len(BOUND_CSV)
    return [f"{r['pct_bound']:.1f}", f"{r['bound_ns']:.1f}",
            "" if r["pct_copy_ws"] is None else f"{r['pct_copy_ws']:.1f}", int(r["miss"])]


def ns_text(ns):
    """ns for the decode table: 3 significant digits."""
    return f"{ns:.3g}" if ns < 1000 else f"{ns:,.0f}"


def bound_section(doc, run):
    """The norm cases against their bound: the targets met, the decode rows (ns per call), the
    misses with what was measured beside them."""
    doc.h(2, "Against the bound")
    met, total, misses = bound_summary(run)
    doc.p(f"Targets (docs/performance.md): every case of normkit's SIMD variants at ≥ {BOUND_TARGET:.0f}% "
          f"of its modeled bound, or ≥ {PEER_TARGET:g}× as fast as the best peer of its shape; the "
          "scalar variant is the one-lane baseline and is not judged. A miss is marked **✗** in "
          "the tables. A figure above 100% means the model charges the case more than it needed: "
          "near a level boundary, where the cache kept more of a working set larger than it than "
          "the model's least-recently-used reading assumes (compare the same-size copy).")
    if total:
        doc.p(f"**{met} of {total} judged cases meet a target**" + (f"; {len(misses)} miss both:" if misses else "."))
    if misses:
        doc.table(["case", "level", "µs/call", "% of bound", "bound µs", "× best peer", "% of same-size copy"],
                  [[m["case"].name, m["case"].level or "–", f"{m['us']:.3f}", f"{m['pct_bound']:.0f}%",
                    f"{m['bound_ns'] / 1e3:.3f}",
                    f"{m['x_peer']:.2f} ({m['peer'].isa})" if m["x_peer"] is not None else "no peer",
                    f"{m['pct_copy_ws']:.0f}%" if m["pct_copy_ws"] else "–"] for m in misses])
    dec = decode_table(run)
    if dec:
        doc.h(3, "Decode: one row per call")
        doc.p("Single rows, the decode step's norm: nanoseconds per call (CPU time, the median) of "
              "normkit's fastest variant, its modeled best time, and the fastest peer and plain C "
              "of the same shape. At these sizes the per-call cost (`ceiling_rowcall`: the call, "
              "the lane reduction and the divide/sqrt chain of a one-vector row; "
              "`ceiling_rowcall_ln` for LayerNorm, two reductions) is much of the bound. The last column is the same call through normkit's public entry point "
              "(`normkit_<op>_f32`: its argument checks, the dispatcher's pick, then the active "
              "ISA's variant; the isa field `api`), what an engine calling the library pays.")
        doc.table(["op", "dim", "best", "ns/call", "bound ns", "% of bound", "best peer ns", "best plain C ns",
                   "entry point ns"],
                  [[d["op"], str(d["dim"]), d["best"].isa, ns_text(d["best"].time_ns),
                    ns_text(d["best"].bound_ns) if d["best"].bound_ns else "–",
                    f"{d['best'].pct_of_bound:.0f}%" if d["best"].pct_of_bound is not None else "–",
                    f"{ns_text(d['peer'].time_ns)} ({d['peer'].isa})" if d["peer"] else "–",
                    f"{ns_text(d['plain'].time_ns)} ({d['plain'].isa})" if d["plain"] else "–",
                    ns_text(d["api"].time_ns) if d["api"] else "–"]
                   for d in dec])


def spread_cells(c):
    return [c.repetitions, f"{c.time_min_ns:.1f}" if c.has_range else "",
            f"{c.time_max_ns:.1f}" if c.has_range else "", f"{c.cv * 100:.2f}" if c.cv is not None else ""]


def linear_section(doc, run, folder, title):
    """The norm + linear section: per operator and shape, GFLOP/s per variant and row count, and
    normkit's best against the peers, the unfused pair and the in-run ceilings; one plot per
    operator. Returns the summary.csv rows of the linear cases."""
    import nkr_plots
    tables = linear_tables(run)
    if not tables:
        return []
    peers = linear_peers(run)
    doc.h(2, "Norm + linear (pre-norm)")
    doc.p("y = Norm(x)·Wᵀ (+ bias), W of n × dim as torch.nn.Linear.weight: `rmsnorm_linear` and "
          "`layernorm_linear` normalize each row of x and multiply it by Wᵀ in one pass; `linear` "
          "is the matmul alone. GFLOP/s counts 2·rows·n·dim per call (not the norm's few flops) "
          "over the case's time: CPU time, wall time for the `_2t` cases. Variants: `<isa>` fused, "
          "row-major W; `<isa>_packed` fused on W packed once (untimed) in the kernel's layout; "
          "`<isa>_unfused` normkit's norm writes Norm(x), then normkit's linear reads it; "
          "`<isa>_2t` the fused kernel on two threads, each bound to its own core and computing "
          "half of the n columns (two cores, wall time: shown, but not ranked against the one-core "
          "variants); `autovec`, `autovec_fastmath` the plain C compiled for this machine (small "
          "shapes only); " + (", ".join(f"`{p}`" for p in peers) or "the peers")
          + ": normkit's best norm, then the peer's matmul (for `linear` the matmul alone; "
          "weights reordered or packed once, untimed, where the peer can). ★ marks the fastest one-core variant per row count.")
    doc.p(f"**normkit's best** per row count is the fastest one-core `<isa>` or `<isa>_packed` "
          "case. Against it: × peer and × unfused are GFLOP/s ratios (above 1: normkit's best is "
          "faster), × unfused against the unfused pair of the same ISA; % of FMA peak is its "
          "GFLOP/s over the in-run `ceiling_fma` of its ISA (in summary.csv the plain C and the "
          "peers are held against the best ISA's, the `_2t` cases against two cores' worth). Up "
          f"to {W_STREAM_ROWS} rows a call's bytes (W, x and y once) are almost all W: **W GB/s** is "
          "then W's streaming bandwidth, and its percent is of the in-run `ceiling_read` at the "
          "cache level the working set's label names, measured with the same ISA. Above 100% "
          "means that level's one read measurement (at its own size, on this run's machine "
          "load) does not represent the case: a working set well inside the level, or a ceiling "
          "run that lost time to other load.")
    info = linear_peer_info(run)
    if info:
        doc.table(["peer", "as run (context `linear_peers`)"], [[peer_name(p), t] for p, t in info])
    core = openblas_core(run)
    if core:
        name, forced = core
        if forced:
            kernels = f"its {name} kernels" + (" (AVX2 + FMA)" if name.lower() == "haswell" else "")
            doc.p(f"**OpenBLAS core: {name}** — held to {name} by OPENBLAS_CORETYPE: the `openblas` "
                  f"figures are those of {kernels}, not of the kernels OpenBLAS would pick for this CPU.")
        else:
            doc.p(f"**OpenBLAS core: {name}** (OpenBLAS's own choice for this CPU).")
    elif "openblas" in peers:
        doc.p("OpenBLAS core: the run's context does not say which kernels OpenBLAS used.")
    two_t = run.context.get("linear_2t")
    if two_t is not None and any(linear_variant(c)[0] == "2t" for c in run.linears()):
        doc.p(f"`_2t` cases (context `linear_2t`): {context_value(two_t)}"
              + (" — written into the context before the cases ran, so it does not report "
                 "how the `_2t` cases' second thread was bound." if "not started" in str(two_t) else "."))

    csv_rows = []
    peaks = ceilings(run)[1]
    ops = sorted({k[0] for k in tables}, key=lambda op: (op == "linear", op))
    for op in ops:
        doc.h(3, op)
        png = f"linear-{op}.png"
        if nkr_plots.linear_rows(run, op, tables, os.path.join(folder, png), f"{op}: GFLOP/s against rows"):
            doc.img(png, f"{op}: GFLOP/s against rows per variant and shape")
        for key in [k for k in tables if k[0] == op]:
            t = tables[key]
            _, dtype, dim, n = key
            doc.h(4, f"{op} {dtype}: dim {dim} × n {n}")
            out = []
            for r in t["rows"]:
                level = next(iter(r["cases"].values())).level or "–"
                cells = [str(r["rows"]), level]
                for v in t["variants"]:
                    c = r["cases"].get(v)
                    if c is None or c.gflops <= 0:
                        cells.append("–")
                    elif v == r["winner"]:
                        cells.append(f"**{c.gflops:.3g}** ★")
                    else:
                        cells.append(f"{c.gflops:.3g}")
                out.append(cells)
            doc.table(["rows", "level"] + [f"`{v}`" for v in t["variants"]], out)
            shape_peers = [p for p in peers if any(p in r["cases"] for r in t["rows"])]
            has_unfused = any(r["x_unfused"] is not None for r in t["rows"])
            has_w = any(r["w_gbps"] is not None for r in t["rows"])
            out = []
            for r in t["rows"]:
                b = r["best"]
                if b is None:
                    continue
                cells = [str(r["rows"]), f"`{b.isa}`", f"{b.gflops:.3g}"]
                cells += [f"{r['x_peer'][p]:.2f}" if p in r["x_peer"] else "–" for p in shape_peers]
                if has_unfused:
                    cells.append(f"{r['x_unfused']:.2f}" if r["x_unfused"] is not None else "–")
                cells.append(f"{r['pct_fma']:.0f}% ({r['fma'][1]})" if r["pct_fma"] is not None else "–")
                if has_w:
                    cells.append(f"{r['w_gbps']:.1f}" if r["w_gbps"] is not None else "–")
                    cells.append(f"{r['pct_read']:.0f}% of {r['read'][2]} read ({r['read'][1]})"
                                 if r["pct_read"] is not None else "–")
                out.append(cells)
            if out:
                doc.table(["rows", "normkit's best", "GFLOP/s"] + [f"× {peer_name(p)}" for p in shape_peers]
                          + (["× unfused"] if has_unfused else []) + ["% of FMA peak"]
                          + ([f"W GB/s (rows ≤ {W_STREAM_ROWS})", "% of read ceiling"] if has_w else []), out)
            for r in t["rows"]:
                for v in t["variants"]:
                    c = r["cases"].get(v)
                    if c is None:
                        continue
                    fma = fma_peak_for(run, c, peaks)
                    pct_fma = 100.0 * c.gflops / fma[0] if fma and c.gflops > 0 else None
                    read = read_ceiling_for(run, c) if r["rows"] <= W_STREAM_ROWS else None
                    pct_read = 100.0 * c.gbps / read[0] if read and c.gbps > 0 else None
                    csv_rows.append([c.op, c.dtype, c.isa, c.params.get("dim", ""), c.params.get("rows", ""),
                                     c.level, f"{c.time_ns:.1f}", f"{c.gbps:.3f}", "", "", "",
                                     int(v == r["winner"])] + spread_cells(c)
                                    + [c.params.get("n", ""), c.isa, f"{c.gflops:.3f}",
                                       "" if pct_fma is None else f"{pct_fma:.1f}",
                                       "" if pct_read is None else f"{pct_read:.1f}"]
                                    + [""] * len(BOUND_CSV))
    return csv_rows


def rate_text(v):
    """tokens/s for tables: 3 significant digits with k, M or G."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:.3g}{unit}"
    return f"{v:.3g}"


BLOCK_CSV_HEADER = ["layout", "norm", "act", "d", "rows", "impl", "path", "time_ns", "tokens_per_second",
                    "gflops", "winner", "repetitions", "time_min_ns", "time_max_ns", "cv_pct"]
BLOCK_TARGETS_CSV_HEADER = ["layout", "norm", "act", "d", "rows", "fused", "against", "ratio", "target", "met"]


def ratio_cell(ratio, minimum):
    """"1.21 ✓" when a target is met, "**0.93 ✗**" when missed, "1.21" without a target."""
    if minimum is None:
        return f"{ratio:.2f}"
    return f"{ratio:.2f} ✓" if ratio >= minimum else f"**{ratio:.2f} ✗**"


def blocks_section(doc, run, folder, title):
    """Whole FFN blocks: per (layout, norm, act, d), tokens/s and GFLOP/s of every impl/path per row
    count, normkit's fused path against its unfused path and the peers with the targets, a plot
    per (layout, norm, act); blocks.csv and block-targets.csv. Nothing when the run has no block
    cases."""
    import nkr_plots
    tables = block_tables(run)
    if not tables:
        return
    doc.h(2, "Blocks (pre-norm and post-norm FFN)")
    doc.p("A whole transformer FFN block per call (`normkit_block.h`): **pre-norm** h = x + FFN(Norm(x)), "
          "**post-norm** h = Norm(x + FFN(x)), FFN(u) = W2·act(W1·u + b1) + b2 (hidden usually 4 d), or Llama's gated "
          "`swiglu` W2·(SiLU(W1·u) * W3·u). Columns are `<impl>/<path>`: `<isa>/fused` (pre-norm: norm + "
          "W1 in one kernel with gamma and beta folded into W1, the activation in W1's epilogue, the "
          "residual add in W2's; post-norm: the activation in W1's epilogue, then add + norm in one "
          "kernel), `<isa>/unfused` (one call per step over the same packed weights), `scalar/scalar` "
          "(the scalar variants of every step) and the peers (`<peer>/peer`: the same block in that "
          "library). A cell is tokens/s (one token = one row of d values) with GFLOP/s in parentheses "
          "(the matmuls' 2 flops per multiply-add); the median over the repetitions, CPU time, one "
          "core. ★ marks the most tokens/s per row count.")
    doc.p("**Targets**, ratios of tokens/s of normkit's fused path (the fastest `<isa>/fused` of the "
          f"row) over: its own ISA's unfused path {BLOCK_TARGET_TEXT['unfused']} (at rows ≤ "
          f"{BLOCK_SMALL_ROWS} the activations written and re-read by the unfused steps cost most "
          f"next to the weights); oneDNN {BLOCK_TARGET_TEXT['onednn']}; PyTorch "
          f"{BLOCK_TARGET_TEXT['torch']}, at every shape. ✓ met, **✗** missed.")
    misses = block_misses(tables)
    total = sum(len(r["targets"]) for t in tables.values() for r in t["rows"])
    if total:
        doc.p(f"**{total - len(misses)} of {total} targets met**"
              + (f"; missed: {len(misses)} (listed under the tables)." if misses else "."))
    case_rows, target_rows = [], []
    groups = []
    for key in tables:
        if key[:3] not in groups:
            groups.append(key[:3])
    for group in groups:
        layout, norm, act = group
        doc.h(3, f"{layout} · {norm} · {act}")
        png = f"blocks-{layout}-{norm}-{act}.png"
        if nkr_plots.block_rows(tables, group, os.path.join(folder, png),
                                f"{layout} {norm} {act}: tokens/s against rows (normkit's best ISA)"):
            doc.img(png, f"{layout} {norm} {act}: tokens/s against rows per d")
        for key in [k for k in tables if k[:3] == group]:
            t = tables[key]
            d = key[3]
            doc.h(4, f"{layout} {norm} {act}: d {d}")
            out = []
            for r in t["rows"]:
                cells = [str(r["rows"])]
                for v in t["variants"]:
                    c = r["cases"].get(v)
                    if c is None or c.tokens_rate <= 0:
                        cells.append("–")
                        continue
                    cell = rate_text(c.tokens_rate) + (f" ({c.gflops:.3g})" if c.gflops > 0 else "")
                    cells.append(f"**{cell}** ★" if v == r["winner"] else cell)
                out.append(cells)
            doc.table(["rows"] + [f"`{v}` tok/s (GFLOP/s)" for v in t["variants"]], out)
            against = (["unfused"] if any("unfused" in r["ratios"] for r in t["rows"]) else []) + t["peers"]
            out = []
            for r in t["rows"]:
                f = r["fused"]
                if f is None:
                    continue
                cells = [str(r["rows"]), f"`{block_variant(f)}`", rate_text(f.tokens_rate)]
                targets = {a: m for a, _, m, _ in r["targets"]}
                for a in against:
                    cells.append(ratio_cell(r["ratios"][a], targets.get(a)) if a in r["ratios"] else "–")
                out.append(cells)
                for a, ratio, minimum, met in r["targets"]:
                    target_rows.append([layout, norm, act, d, r["rows"], block_variant(f), a,
                                        f"{ratio:.4f}", f"{minimum:g}", int(met)])
            if out and against:
                doc.table(["rows", "fused (best ISA)", "tok/s"]
                          + [f"× {a if a == 'unfused' else peer_name(a)} ({BLOCK_TARGET_TEXT.get(a, 'no target')})"
                             for a in against], out)
            for r in t["rows"]:
                for v, c in sorted(r["cases"].items()):
                    b = c.block
                    case_rows.append([layout, norm, act, d, r["rows"], b["impl"], b["path"], f"{c.time_ns:.1f}",
                                      f"{c.tokens_rate:.1f}", f"{c.gflops:.3f}", int(v == r["winner"])]
                                     + spread_cells(c))
    if misses:
        doc.h(3, "Missed targets")
        doc.table(["shape", "rows", "fused / …", "ratio", "target"],
                  [[f"{k[0]} {k[1]} {k[2]} d {k[3]}", str(rows), a if a == "unfused" else peer_name(a),
                    f"{ratio:.2f}", f"≥ {minimum:.2f}"] for k, rows, a, ratio, minimum in misses])
    doc.p("Every block case is in `blocks.csv` (tokens/s, GFLOP/s, the spread); every target check in "
          "`block-targets.csv`.")
    with open(os.path.join(folder, "blocks.csv"), "w", newline="", **TEXT_OUT) as fh:
        w = csv.writer(fh)
        w.writerow(BLOCK_CSV_HEADER)
        w.writerows(case_rows)
    with open(os.path.join(folder, "block-targets.csv"), "w", newline="", **TEXT_OUT) as fh:
        w = csv.writer(fh)
        w.writerow(BLOCK_TARGETS_CSV_HEADER)
        w.writerows(target_rows)


def sci(v):
    return "–" if v is None else f"{v:.2e}"


def depth_section(doc, depth, folder):
    """The depth sweep from normkit-depth: residual-stream RMS and each block path's error against a
    float64 stack over L = 1..N layers, both layouts; a plot and a table excerpt per layout."""
    import nkr_plots
    cfg = depth.config
    doc.h(2, "Depth: residual stream and error over a stack of blocks")
    keys = ("layers", "norm", "act", "dim", "hidden", "rows", "init", "w1_std", "w2_std", "bias_std", "eps", "seed")
    doc.p(f"From `{depth.label}` (normkit-depth"
          + (f", on {depth.machine.get('cpu_model')}" if depth.machine.get("cpu_model") else "") + "): "
          + ", ".join(f"{k} {cfg[k]:.4g}" if isinstance(cfg[k], float) else f"{k} {context_value(cfg[k])}"
                      for k in keys if k in cfg)
          + ". Each layer has its own weights; the float64 stack is computed in double from the same float "
          "weights and input; every block path runs the stack through `normkit_block_forward`, **fed its "
          "own previous output**, so its error accumulates as in a model. **residual RMS**: the float64 "
          "stack's unnormalized residual stream (pre-norm: h; post-norm: x + FFN(x), before the norm); "
          "**output RMS**: the layer's output. **Error**: "
          + str(cfg.get("error_metric", "max over rows i of ||h_i - h64_i||_2 / ||h64_i||_2"))
          + "; **bound**: the same ratio for a first-order worst-case bound carried through the stack "
          "(docs/depth.md), meaningful while it is well below 1.")
    if nkr_plots.depth_plot(depth, os.path.join(folder, "depth.png"),
                            f"normkit-depth: {cfg.get('norm', '')} {cfg.get('act', '')}, d {cfg.get('dim', '')}"):
        doc.img("depth.png", "residual RMS and error against depth, pre-norm and post-norm")
    notes = []
    for layout in depth.layouts():
        recs = depth.of(layout)
        first, last = recs[0], recs[-1]
        if layout == "prenorm" and first.get("residual_rms") and last.get("residual_rms") is not None:
            notes.append(f"pre-norm residual RMS {first['residual_rms']:.3g} at layer {first['layer']} → "
                         f"{last['residual_rms']:.3g} at layer {last['layer']} "
                         f"(×{last['residual_rms'] / first['residual_rms']:.2f})")
        elif layout != "prenorm":
            outs = [r["output_rms"] for r in recs if r.get("output_rms") is not None]
            sums = [r["residual_rms"] for r in recs if r.get("residual_rms") is not None]
            if outs and sums:
                notes.append(f"{layout} output RMS {min(outs):.6f}–{max(outs):.6f} over all layers (gamma = 1), "
                             f"x + FFN(x) before the norm {min(sums):.3g}–{max(sums):.3g}")
        worst = [(last["errors"][p], p) for p in depth.paths if r_has(last, p)]
        if worst:
            e, p = max(worst)
            notes.append(f"{layout} largest error at layer {last['layer']}: {e:.2e} (`{p}`)")
    if notes:
        doc.p("; ".join(notes) + ".")
    for layout in depth.layouts():
        recs = {r["layer"]: r for r in depth.of(layout)}
        layers = [L for L in depth_excerpt_layers(max(recs)) if L in recs]
        doc.h(3, f"{layout} (excerpt)")
        out = []
        for L in layers:
            r = recs[L]
            out.append([str(L), fmt(r.get("residual_rms"), 4), fmt(r.get("output_rms"), 4)]
                       + [sci(r["errors"].get(p)) for p in depth.paths] + [sci(r.get("error_bound"))])
        doc.table(["layer", "residual RMS", "output RMS"] + [f"`{p}`" for p in depth.paths] + ["bound"], out)


def r_has(record, path):
    v = record["errors"].get(path)
    return v is not None


def single_report(run, folder, depth=None):
    import nkr_plots
    title = f"normkit benchmark report: {run.label}"
    doc = Doc()
    doc.h(1, title)
    doc.p(f"Generated {datetime.datetime.now():%Y-%m-%d %H:%M} from `{run.label}` "
          f"({len(run.cases)} cases, {run.repetitions_text()}"
          + (f"; {run.skipped} entries left out: not normkit cases, or failed"
             + (f" ({', '.join(sorted(run.errored))})" if run.errored else "") if run.skipped else "")
          + "). "
          "Times are CPU time per call (what normkit-bench's rates use; wall time for the cases "
          "it times in wall time, `.../real_time`), the median over the repetitions; bandwidth "
          "counts bytes read + written.")
    tuning = run.context.get("tuning")
    doc.p("**Tuning:** " + ("none recorded (a run from before tuning files)" if tuning is None
                            else "the built-in defaults" if tuning == "defaults"
                            else f"`{tuning}` (NORMKIT_TUNING): each ISA's default rows ran the "
                                 "variant and knobs it picks per shape class")
          + ".")
    has_cv = any(c.cv is not None for c in run.kernels())
    doc.p("**Spread:** " + run.spread_note()
          + (" In the tables, `±x%` after a time is the coefficient of variation (standard "
             "deviation over mean) of the repetitions; summary.csv has the fastest and slowest "
             "repetition too." if has_cv else ""))
    has_bound = any(c.pct_of_bound is not None for c in run.norms())
    glance = at_a_glance(run)
    if glance:
        doc.h(2, "At a glance")
        doc.p("Per shape, normkit's fastest variant against the alternatives: the same C compiled "
              "by the compiler at its best (`autovec`: -O3 -march=native; `autovec_fastmath`: plus "
              "-ffast-math) and the fastest peer library in the run. Ratios are times (above 1: "
              "normkit is faster).")
        rows = []
        for g in glance:
            b = g["best"]
            rows.append([g["op"], shape_text(g["params"]), b["case"].level or "–", b["case"].isa,
                         f"{b['gbps']:.1f}", f"{b['pct']:.0f}%" if b["pct"] is not None else "–"]
                        + ([bound_cell(b)] if has_bound else [])
                        + [fmt(b["x_scalar"]),
                           f"{fmt(g['x_plain'])} ({g['plain']['case'].isa})" if g["plain"] else "–",
                           f"{fmt(g['x_peer'])} ({g['peer']['case'].isa})" if g["peer"] else "–"])
        doc.table(["op", "shape", "level", "best", "GB/s", "% of ceiling"]
                  + (["% of bound"] if has_bound else []) + ["× scalar", "× best plain C", "× best peer"],
                  rows)
    if has_bound:
        bound_section(doc, run)
    doc.h(2, "Machine")
    doc.table(["field", "value"], context_rows(run.context))
    doc.h(2, "Ceilings")
    ceiling_section(doc, run)

    doc.h(2, "Plots")
    if nkr_plots.roofline(run, os.path.join(folder, "roofline.png"), title):
        doc.img("roofline.png", "achieved bandwidth against bytes per call, with measured ceilings")
    else:
        doc.p("No roofline: the run has no norm case with a bandwidth"
              + (" (the norm + linear cases have their own plots below)." if run.linears() else "."))
    if nkr_plots.speedup_bars(run, os.path.join(folder, "speedup.png"), title):
        doc.img("speedup.png", "speedup over scalar per ISA")
    else:
        doc.p("No speedup chart: the run has no scalar norm cases to measure against.")

    table = kernel_table(run)
    csv_rows = []
    for op in sorted({k[0] for k in table}):
        doc.h(2, op)
        for key in sorted(k for k in table if k[0] == op):
            rows = table[key]
            c0 = rows[0]["case"]
            doc.h(3, f"{op} {c0.dtype}: {shape_text(dict(key[2]))}" + (f" ({c0.level})" if c0.level else ""))
            out = []
            for r in rows:
                c = r["case"]
                name = f"**{c.isa}** ★" if r["best"] else c.isa
                pct = (f"{r['pct']:.0f}% of {r['ceiling'][2]} {r['ceiling'][0]}"
                       if r["pct"] is not None else "–")
                out.append([name, f"{r['us']:.3f}{cv_text(c)}", f"{r['gbps']:.1f}", pct]
                           + ([bound_cell(r), f"{r['pct_copy_ws']:.0f}%" if r["pct_copy_ws"] else "–"]
                              if has_bound else [])
                           + [fmt(r["x_scalar"]), fmt(r["x_autovec"])])
                csv_rows.append([c.op, c.dtype, c.isa, c.params.get("dim", ""), c.params.get("rows", ""),
                                 c.level, f"{c.time_ns:.1f}", f"{c.gbps:.3f}",
                                 "" if r["pct"] is None else f"{r['pct']:.1f}",
                                 "" if r["x_scalar"] is None else f"{r['x_scalar']:.3f}",
                                 "" if r["x_autovec"] is None else f"{r['x_autovec']:.3f}",
                                 int(r["best"])] + spread_cells(c) + ["", c.isa, "", "", ""]
                                + bound_csv_cells(r))
            doc.table(["variant", "µs/call ±CV" if has_cv else "µs/call", "GB/s", "% of ceiling"]
                      + (["% of bound", "% of same-size copy"] if has_bound else [])
                      + ["× scalar", "× autovec"], out)
    csv_rows += linear_section(doc, run, folder, title)
    blocks_section(doc, run, folder, title)
    if depth is not None:
        depth_section(doc, depth, folder)
        shutil.copy(depth.path, os.path.join(folder, "normkit-depth.json"))
    absent = []
    if not run.linears():
        absent.append("fused norm + linear (against oneDNN, OpenBLAS and XNNPACK): its cases "
                      "(`rmsnorm_linear/f32/...`) are not in this run")
    if not run.blocks():
        absent.append("pre-norm and post-norm blocks: their cases (`block/...`) are not in this run")
    if depth is None:
        absent.append("the depth sweep: give normkit-depth's JSON with `--depth FILE` (or `--run-depth "
                      "PATH/normkit-depth`; `meson compile -C build report` does)")
    if absent:
        doc.h(2, "Not in this report")
        doc.p("Sections left out, for want of data: " + "; ".join(absent) + ".")
    with open(os.path.join(folder, "summary.csv"), "w", newline="", **TEXT_OUT) as f:
        w = csv.writer(f)
        w.writerow(CSV_HEADER)
        w.writerows(csv_rows)
    return doc, title


def gate_basis(j, base_case, other_case, labels, k):
    """How a comparison was judged, in words: "ranges disjoint: ..." / "ranges overlap: ..." /
    "median only: RUN has 1 repetition"."""
    if j["no_range"]:
        who = [(labels[0] if i == 0 else labels[k], why) for i, why in j["no_range"]]
        return "median only: " + "; ".join(f"{l} {why}" for l, why in who)
    return (f"ranges {'overlap' if j['overlap'] else 'disjoint'}: {range_text(base_case)} µs "
            f"vs {range_text(other_case)} µs")


def ranges_cell(j):
    if j["overlap"] is None:
        return "median only"
    return "overlap" if j["overlap"] else "disjoint"


def compare_report(runs, folder, fail_above, by_isa=None):
    """The comparison report. Returns (doc, title, console lines, regressions), a regression
    being (case, run label, what). by_isa: (BASE, NEW) when runs are two ISA views of one run."""
    import nkr_plots
    labels = [r.label for r in runs]
    if len(set(labels)) < len(labels):
        labels = [f"#{i + 1} {l}" for i, l in enumerate(labels)]
    matched = compare(runs)
    shapes = {} if by_isa else best_per_shape(runs)
    if not matched and not shapes:
        if by_isa:
            raise ReportError(f"{runs[0].path}: no shape has both isa '{by_isa[0]}' and isa "
                              f"'{by_isa[1]}'")
        raise ReportError(f"{runs[0].path} and {', '.join(r.path for r in runs[1:])} have no benchmark "
                          "case or shape in common (different kernels or shapes?)")
    title = "normkit comparison: " + " vs ".join(labels)
    doc = Doc()
    doc.h(1, title)
    doc.p(f"Generated {datetime.datetime.now():%Y-%m-%d %H:%M}. Times are CPU time per call (wall "
          "time for the cases timed in it, `.../real_time`), the median over the repetitions. Ratios are time of `{labels[0]}` over time of the other "
          "run: above 1 the other run is faster. Change is the other run's time relative to "
          f"`{labels[0]}`.")
    notes = [r.spread_note() for r in runs]
    doc.p("**Spread:** " + " ".join(notes) + " In the tables a time reads `median (min–max)` in "
          "µs over the repetitions; **ranges** says whether the two runs' min–max ranges overlap "
          "(a difference within the runs' own noise) or are disjoint; *median only* where a run "
          "has no range for the case (one repetition, or only aggregates written).")
    doc.h(2, "Machine" if by_isa else "Machines")
    if by_isa:
        doc.table(["field", "value"], context_rows(runs[0].context))
    else:
        keys = []
        for r in runs:
            keys += [k for k, _ in context_rows(r.context) if k not in keys]
        doc.table(["field"] + labels,
                  [[k] + [dict(context_rows(r.context)).get(k, "–") for r in runs] for k in keys])

    regressions = []          # (case, run label, what)
    noisy = []                # worse than the limit but within the ranges: not counted
    judged = {"ranges": 0, "median only": 0}
    csv_rows = []
    console = []
    if matched:
        nkr_plots.compare_bars(matched, labels, os.path.join(folder, "compare.png"), title)
        doc.h(2, "Same shapes" if by_isa else "Same cases")
        doc.img("compare.png", "speedup per operator and ISA against the first run")
        rows = []
        width = max(len(n) for n, _ in matched)
        blocks = {k: [] for k in range(1, len(runs))}
        for name, cases in matched:
            base = cases[0]
            row = [name, time_cell(base)]
            for k, c in enumerate(cases[1:], start=1):
                if c is None:
                    row += ["–", "–", "–", "–"]
                    continue
                j = judge(base, c, fail_above)
                judged["median only" if j["overlap"] is None else "ranges"] += 1
                basis = gate_basis(j, base, c, labels, k)
                cell = ranges_cell(j)
                if j["regressed"]:
                    cell += " **regression**"
                    regressions.append((name, labels[k], f"{j['change']:+.1f}% (limit {fail_above:g}%; "
                                                         f"{basis})"))
                elif fail_above is not None and j["change"] > fail_above:
                    noisy.append((name, labels[k], j["change"], basis))
                row += [time_cell(c), f"{j['ratio']:.3f}", f"{j['change']:+.1f}%", cell]
                csv_rows.append([name, labels[0], labels[k], f"{base.time_ns:.1f}", f"{c.time_ns:.1f}",
                                 f"{j['ratio']:.4f}", f"{j['change']:.2f}",
                                 base.repetitions, c.repetitions,
                                 f"{base.time_min_ns:.1f}" if base.has_range else "",
                                 f"{base.time_max_ns:.1f}" if base.has_range else "",
                                 f"{c.time_min_ns:.1f}" if c.has_range else "",
                                 f"{c.time_max_ns:.1f}" if c.has_range else "",
                                 f"{base.cv * 100:.2f}" if base.cv is not None else "",
                                 f"{c.cv * 100:.2f}" if c.cv is not None else "",
                                 {True: "overlap", False: "disjoint", None: ""}[j["overlap"]],
                                 "ranges" if j["overlap"] is not None else "median only",
                                 "" if fail_above is None else ("fail" if j["regressed"] else "pass")])
                blocks[k].append(f"{name:<{width}}  {time_cell(base):>22}  {time_cell(c):>22}  "
                                 f"{j['ratio']:6.3f}  {j['change']:+7.1f}%  {cell.replace('**', '')}")
            rows.append(row)
        header = ["case", f"{labels[0]} µs"]
        for l in labels[1:]:
            header += [f"{l} µs", "ratio", "change", "ranges"]
        doc.table(header, rows)
        for k, lines in blocks.items():
            if lines:
                console.append(f"{'case':<{width}}  {labels[0] + ' µs':>22}  {labels[k] + ' µs':>22}  "
                               f"{'ratio':>6}  {'change':>8}  ranges")
                console += lines
                console.append("")
        console.append("times: median (min–max) CPU µs per call over the repetitions; ratio > 1: the "
                       "second run is faster; " + " ".join(n.replace("`", "") for n in notes))
    if shapes:
        doc.h(2, "Best variant per shape")
        rows = []
        for (op, dtype, params), cases in shapes.items():
            row = [f"{op} {dtype} {shape_text(dict(params))}"]
            base = cases[0]
            for c in cases:
                rate = f"{c.gflops:.3g} GFLOP/s" if c and c.is_linear and c.gflops > 0 else \
                    f"{c.gbps:.1f} GB/s" if c else ""
                cell = f"{c.isa} {rate}{cv_text(c)}" if c else "–"
                if c and base and c is not base:
                    cell += f" ({base.time_ns / c.time_ns:.2f}x)"
                row.append(cell)
            rows.append(row)
        doc.table(["shape"] + labels, rows)
    with open(os.path.join(folder, "summary.csv"), "w", newline="", **TEXT_OUT) as f:
        w = csv.writer(f)
        w.writerow(["case", "base", "other", "base_time_ns", "other_time_ns", "speedup", "change_pct",
                    "base_repetitions", "other_repetitions", "base_min_ns", "base_max_ns",
                    "other_min_ns", "other_max_ns", "base_cv_pct", "other_cv_pct", "ranges",
                    "judged_on", "gate"])
        w.writerows(csv_rows)
    gone = missing_in(runs)
    if gone:
        doc.h(2, "Missing or failed")
        doc.p(f"Kernel cases of `{labels[0]}` that another run lacks or reports as failed:")
        doc.table(["case", "run", "what"], [[n, l, why] for n, l, why in gone])
    if fail_above is not None:
        regressions += [(n, l, why) for n, l, why in gone]
        doc.h(2, f"Gate: --fail-above {fail_above:g}%")
        doc.p("Rule: " + GATE_RULE.replace("PCT%", f"{fail_above:g}%"))
        doc.p(f"{judged['ranges']} comparison(s) judged on the ranges, {judged['median only']} on "
              "the median alone" + (" (**median only**: no spread, see above)"
                                    if judged["median only"] else "") + ". "
              + (f"**FAIL**: {len(regressions)} case(s) regressed, went missing or failed."
                 if regressions else f"**PASS**: no case regressed by more than {fail_above:g}%, "
                 "and none went missing."))
        if regressions:
            doc.table(["case", "run", "what"], [[n, l, w] for n, l, w in regressions])
        if noisy:
            doc.p(f"Slower by more than {fail_above:g}% but within the runs' ranges (not counted):")
            doc.table(["case", "run", "change", "basis"],
                      [[n, l, f"{ch:+.1f}%", b] for n, l, ch, b in noisy])
        console.append(f"gate --fail-above {fail_above:g}%: {'FAIL' if regressions else 'PASS'}: "
                       f"{len(regressions)} regression(s); {judged['ranges']} comparison(s) judged "
                       f"on the ranges, {judged['median only']} on the median alone"
                       + (" (median only: no spread in " + ", ".join(
                           l for r, l in zip(runs, labels) if any(not c.has_range for c in r.kernels()))
                          + ")" if judged["median only"] else "")
                       + (f"; {len(noisy)} slower by more than {fail_above:g}% within the ranges "
                          "(not counted)" if noisy else ""))
    return doc, title, console, regressions


MARKER = ".normkit-report"  # in every folder this tool writes: only those it may replace


def check_output(out_dir):
    """The absolute output folder, or a ReportError before any work when the report could not go
    there: it exists and is not a folder this tool wrote (a file, or a folder of the user's), or a
    file or an unwritable folder is in the way of creating it."""
    out_dir = os.path.abspath(out_dir)
    if os.path.lexists(out_dir) and not (os.path.isdir(out_dir) and not os.path.islink(out_dir)
                                         and os.path.isfile(os.path.join(out_dir, MARKER))):
        raise ReportError(f"{out_dir}: exists and is not a normkit report folder; "
                          "choose another -o or remove it")
    p = os.path.dirname(out_dir)
    while not os.path.lexists(p):  # the nearest existing ancestor: the folders below it are created
        p = os.path.dirname(p)
    if not os.path.isdir(p):
        raise ReportError(f"{out_dir}: cannot write the report there: {p} is not a folder")
    if not os.access(p, os.W_OK | os.X_OK):
        raise ReportError(f"{out_dir}: cannot write the report there: {p} is not writable")
    return out_dir


def _os_error(out_dir, what, e):
    where = f" ({e.filename})" if getattr(e, "filename", None) and e.filename != out_dir else ""
    return ReportError(f"{out_dir}: cannot {what}: {e.strerror or e}{where}")


def write_atomically(out_dir, build):
    """Builds the report in a temporary sibling folder and renames it into place, so a failure
    leaves no half-written report (and an earlier report at out_dir survives a failed run), nor
    the folders created to hold it. An existing out_dir is replaced only if this tool wrote it (it
    holds MARKER): anything else there is the user's, and is refused rather than deleted. An
    OSError writing becomes a ReportError naming the folder."""
    out_dir = check_output(out_dir)
    parent = os.path.dirname(out_dir)
    created = []  # the missing ancestors, created here: removed again if the report fails
    p = parent
    while not os.path.lexists(p):
        created.append(p)
        p = os.path.dirname(p)
    tmp = old = None
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".normkit-report-", dir=parent)
        result = build(tmp)
        with open(os.path.join(tmp, MARKER), "w") as f:
            f.write("written by reports/normkit_report.py; the folder is replaced on the next run\n")
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        if os.path.lexists(out_dir):
            old = tempfile.mkdtemp(prefix=".normkit-report-old-", dir=parent)
            os.rmdir(old)
            os.rename(out_dir, old)
        os.rename(tmp, out_dir)
        tmp = None
    except BaseException as e:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        if old and not os.path.lexists(out_dir):
            os.rename(old, out_dir)  # the earlier report back
        for d in created:  # deepest first
            try:
                os.rmdir(d)
            except OSError:
                break
        if isinstance(e, OSError):
            raise _os_error(out_dir, "write the report", e) from None
        raise
    if old:
        shutil.rmtree(old, ignore_errors=True)
    return result


def run_bench(bench, extra, folder):
    """Runs normkit-bench's quick profile and returns the JSON path it wrote."""
    out = os.path.join(folder, "normkit-bench.json")
    cmd = [bench, "--profile=quick", "--benchmark_format=console", f"--benchmark_out={out}",
           "--benchmark_out_format=json"] + extra
    print("report: running", " ".join(cmd), flush=True)
    try:
        rc = subprocess.call(cmd)
    except OSError as e:
        raise ReportError(f"{bench}: cannot run: {e.strerror}") from None
    if rc != 0:
        raise ReportError(f"{bench}: exited with status {rc}")
    return out


def run_depth(exe, folder):
    """Runs normkit-depth (its default configuration) and returns the JSON path it wrote."""
    out = os.path.join(folder, "normkit-depth.json")
    cmd = [exe, "--format", "json", "--output", out]
    print("report: running", " ".join(cmd), flush=True)
    try:
        rc = subprocess.call(cmd)
    except OSError as e:
        raise ReportError(f"{exe}: cannot run: {e.strerror}") from None
    if rc != 0:
        raise ReportError(f"{exe}: exited with status {rc}")
    return out


HELP_EPILOG = f"""\
spread and the gate:
  Each case's time is the median CPU time over its repetitions. With
  --benchmark_repetitions=N the tables show the spread: "±x%" is the coefficient of
  variation, "median (min–max)" the fastest and slowest repetition (summary.csv has both).
{textwrap.fill("--fail-above PCT: " + GATE_RULE, 88, initial_indent="  ", subsequent_indent="  ")}
  Use N >= 3 (5 on a noisy machine): with one repetition every case is judged on its
  median, which the report and this program's output say.

depth:
  --depth DEPTH.json adds the depth section (residual-stream RMS and each block path's error
  against a float64 stack, layer by layer) from normkit-depth's JSON; --run-depth
  PATH/normkit-depth runs it first (its default configuration). One-run reports only.

comparing:
  --compare writes the report and prints its case-by-case table on standard output;
  --isa BASE NEW compares two ISAs of one run shape by shape; --filter REGEX keeps the
  kernel cases whose name matches (ceilings stay, for percent-of-ceiling). The median is
  used throughout, never the mean. Google Benchmark's tools/compare.py (with its U test)
  reads the same JSON files.

exit status: 0 done (gate passed), 1 the --fail-above gate failed, 2 bad input or usage
"""


class ArgParser(argparse.ArgumentParser):
    """argparse, with its usage errors raised as ReportError: one line, exit status 2, like every
    other error (argparse itself prints the usage and exits)."""

    def error(self, message):
        raise ReportError(f"{message} (try --help)")


def finite_float(text):
    """--fail-above's PCT: a finite number (nan and inf would make the gate meaningless)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return v


def need_plots():
    """The plots need matplotlib: say so in one line rather than fail halfway (nkr_plots imports it)."""
    try:
        import nkr_plots  # noqa: F401
    except ImportError as e:
        raise ReportError(f"the plots need matplotlib, which {sys.executable} cannot import ({e}); "
                          "install Debian's python3-matplotlib (apt-get install python3-matplotlib) "
                          "and run this with /usr/bin/python3") from None


def run(argv=None):
    """The command line, without main()'s handlers: returns the exit status (0 done, 1 the gate
    failed) or raises ReportError for bad input or usage (main prints it; exit status 2). Any
    other exception is a bug (tests/fuzz/fuzz_report.py calls this to find them)."""
    ap = ArgParser(
        prog="normkit_report.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Reports (Markdown, self-contained HTML, CSV, PNG plots) from normkit-bench JSON:\n"
                    "  normkit_report.py -o DIR RUN.json                            one run\n"
                    "  normkit_report.py -o DIR --compare BASE.json NEW.json [...]  runs, case by case\n"
                    "  normkit_report.py -o DIR --compare RUN.json --isa BASE NEW   two ISAs of one run\n"
                    "  normkit_report.py -o DIR --run-bench PATH/normkit-bench [-- normkit-bench flags]\n"
                    "  ... [--depth DEPTH.json | --run-depth PATH/normkit-depth]   one-run reports: the depth section",
        epilog=HELP_EPILOG)
    ap.add_argument("runs", nargs="*", metavar="RUN.json", help="one run to report on")
    ap.add_argument("-o", "--output", default="report", help="output folder (default: ./report)")
    ap.add_argument("--compare", nargs="+", metavar="RUN.json",
                    help="compare runs side by side, the first being the baseline (one run with --isa)")
    ap.add_argument("--isa", nargs=2, metavar=("BASE", "NEW"),
                    help="with --compare and one run: ISA NEW against ISA BASE of that run, shape "
                         "by shape")
    ap.add_argument("--filter", metavar="REGEX",
                    help="only the kernel cases whose name matches REGEX (searched, e.g. '^rmsnorm/')")
    ap.add_argument("--fail-above", type=finite_float, metavar="PCT",
                    help="with --compare: exit 1 if a case's median CPU time grew by more than PCT "
                         "percent and its min–max range lies wholly above the baseline's (median "
                         "alone where a run has one repetition), or if a baseline case is missing "
                         "or failed in another run")
    ap.add_argument("--run-bench", metavar="NORMKIT_BENCH",
                    help="run this normkit-bench (quick profile) first and report on its output")
    ap.add_argument("--depth", metavar="DEPTH.json",
                    help="add the depth section from normkit-depth's JSON output (one-run reports)")
    ap.add_argument("--run-depth", metavar="NORMKIT_DEPTH",
                    help="run this normkit-depth (default configuration) first and add its depth section")
    args, extra = ap.parse_known_args(argv)
    need_plots()

    def load(path):
        run = load_run(path)
        return filtered(run, args.filter) if args.filter is not None else run
    keep = None
    try:
        check_output(args.output)  # before any work: no bench run, no reading, for nothing
        if args.isa and not args.compare:
            raise ReportError("--isa BASE NEW goes with --compare RUN.json")
        if args.depth and args.run_depth:
            raise ReportError("give --depth DEPTH.json or --run-depth PATH/normkit-depth, not both")
        if (args.depth or args.run_depth) and args.compare:
            raise ReportError("--depth and --run-depth go with a one-run report, not --compare")
        depth = load_depth(args.depth) if args.depth else None
        if args.run_depth:
            keep = tempfile.mkdtemp(prefix=".normkit-bench-")
            depth = load_depth(run_depth(args.run_depth, keep))
        if args.run_bench:
            if args.runs or args.compare:
                raise ReportError("--run-bench takes no RUN.json files")
            keep = keep or tempfile.mkdtemp(prefix=".normkit-bench-")
            path = run_bench(args.run_bench, extra, keep)
            runs = [load(path)]

            def build(folder):
                shutil.copy(path, os.path.join(folder, "normkit-bench.json"))
                return single_report(runs[0], folder, depth)
            doc, title = write_atomically(args.output, lambda f: finish(f, build(f)))
        elif extra:
            raise ReportError(f"unknown argument(s): {' '.join(extra)} (try --help)")
        elif args.compare:
            if args.runs:
                raise ReportError("give the runs to compare after --compare only")
            if args.isa:
                if len(args.compare) != 1:
                    raise ReportError("--isa BASE NEW compares two ISAs of one run: give one JSON file")
                if args.isa[0] == args.isa[1]:
                    raise ReportError("--isa: give two different ISAs")
                run = load(args.compare[0])
                runs = [isa_view(run, isa) for isa in args.isa]
            elif len(args.compare) < 2:
                raise ReportError("--compare needs at least two JSON files (or one with --isa BASE NEW)")
            else:
                runs = [load(p) for p in args.compare]
            console, regs = write_atomically(
                args.output, lambda f: finish_compare(f, runs, args.fail_above, args.isa))
            print("\n".join(console))
            if regs:
                for name, label, what in regs:
                    print(f"regression: {name} in {label}: {what}", file=sys.stderr)
                print(f"report: {os.path.join(os.path.abspath(args.output), 'index.html')}")
                return 1
        else:
            if args.fail_above is not None:
                raise ReportError("--fail-above only makes sense with --compare")
            if len(args.runs) != 1:
                raise ReportError("give exactly one RUN.json (or --compare A.json B.json ...)")
            runs = [load(p) for p in args.runs]
            write_atomically(args.output, lambda f: finish(f, single_report(runs[0], f, depth)))
    finally:
        if keep:
            shutil.rmtree(keep, ignore_errors=True)
    print(f"report: {os.path.join(os.path.abspath(args.output), 'index.html')} "
          f"(and report.md, summary.csv beside it)")
    return 0


def one_line(text, limit=2000):
    """A message as one line of printable text: control characters escaped, very long ones cut."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return text if len(text) <= limit else text[:limit] + "…"


def main(argv=None):
    for stream in (sys.stdout, sys.stderr):  # a case or file name the terminal cannot show: escaped
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        return run(argv)
    except ReportError as e:
        print(f"normkit_report: error: {one_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug or an input we did not foresee: still exit 2, not 1 (regression)
        print(f"normkit_report: error: internal error ({type(e).__name__}: {one_line(e, 300)}); "
              "no report written", file=sys.stderr)
        return 2


def finish(folder, built):
    doc, title = built
    with open(os.path.join(folder, "report.md"), "w", **TEXT_OUT) as f:
        f.write(doc.markdown())
    with open(os.path.join(folder, "index.html"), "w", **TEXT_OUT) as f:
        f.write(doc.html(folder, title))
    return doc, title


def finish_compare(folder, runs, fail_above, by_isa=None):
    doc, title, console, regressions = compare_report(runs, folder, fail_above, by_isa)
    finish(folder, (doc, title))
    return console, regressions


if __name__ == "__main__":
    sys.exit(main())
