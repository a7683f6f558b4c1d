"""Plots (matplotlib, Agg backend, PNG): roofline-style bandwidth chart, speedup bars, the norm +
linear GFLOP/s-against-rows lines, and the comparison chart. Every axis carries its unit."""
import math
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nkr_analysis import ceilings, peer_name, speedups_by_isa, variant_kind  # noqa: E402
from nkr_data import caches  # noqa: E402

ISA_STYLE = {  # stable colours and markers, so plots read the same from run to run
    "scalar": ("#7f7f7f", "o"), "autovec": ("#bcbd22", "v"), "autovec_fastmath": ("#8c564b", "^"),
    "avx2": ("#1f77b4", "s"), "avx512": ("#d62728", "D"), "neon": ("#2ca02c", "P"),
    "sve": ("#17becf", "X"), "eigen": ("#9467bd", "<"), "onednn": ("#e377c2", ">"),
    "openblas": ("#ff7f0e", "*"), "xnnpack": ("#2f4f4f", "h"), "torch": ("#ee4c2c", "p"),
}
LEVEL_COLOURS = {"L1": "#2ca02c", "L2": "#1f77b4", "L3": "#9467bd", "DRAM": "#d62728"}


def style(isa):
    return ISA_STYLE.get(isa, ("#000000", "x"))


def _bytes_text(b):
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b:.0f} B"


def cache_sizes(context):
    """{"L1": bytes, "L2": ..., "L3": ...} from Google Benchmark's context (data/unified caches)."""
    out = {}
    for c in caches(context) or []:
        if c["type"] in ("Data", "Unified") and c["size"] > 0:
            out.setdefault(f"L{c['level']}", c["size"])
    return out


def level_spans(run, x_min, x_max):
    """The range of working-set sizes each level covers, for drawing its ceiling: from the
    cache below it to its own size (DRAM: beyond the last cache)."""
    sizes = cache_sizes(run.context)
    spans, lo = {}, x_min
    for level in ("L1", "L2", "L3"):
        if level in sizes:
            spans[level] = (lo, sizes[level])
            lo = sizes[level]
    spans["DRAM"] = (lo, max(x_max, lo * 4))
    return spans


def roofline(run, path, title):
    """Achieved bandwidth against bytes moved per call, one panel per operator, with each
    cache level's measured copy ceiling (dashed; streaming-store copy dotted) drawn over the
    working-set sizes that level holds."""
    kernels = run.norms()  # the linear operators have their own plot (linear_rows)
    ops = sorted({c.op for c in kernels if c.gbps > 0})
    if not ops:
        return False
    bw, _ = ceilings(run)
    ncol = 2 if len(ops) > 1 else 1
    nrow = math.ceil(len(ops) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.4 * ncol, 4.4 * nrow), squeeze=False)
    for ax, op in zip(axes.flat, ops):
        by_isa = defaultdict(list)
        for c in kernels:
            if c.op == op and c.gbps > 0:
                by_isa[c.isa].append(c)
        for isa in sorted(by_isa):
            pts = sorted(by_isa[isa], key=lambda c: c.bytes_per_call)
            colour, marker = style(isa)
            ax.plot([c.bytes_per_call for c in pts], [c.gbps for c in pts], marker=marker,
                    color=colour, linestyle="-", linewidth=1, markersize=4, label=isa)
        xs = [c.bytes_per_call for c in kernels if c.op == op and c.gbps > 0] or [1.0]
        spans = level_spans(run, min(xs) / 2, max(xs) * 2)
        for kind, dash in (("copy", "--"), ("copy_nt", ":")):
            for level, (gbps, _, _) in bw.get(kind, {}).items():
                if level not in spans:
                    continue
                lo, hi = spans[level]
                ax.hlines(gbps, lo, hi, colors=LEVEL_COLOURS[level], linestyles=dash, linewidth=1.5)
                ax.annotate(f"{level} {kind} {gbps:.0f} GB/s", (lo, gbps), textcoords="offset points",
                            xytext=(2, 3), fontsize=7, color=LEVEL_COLOURS[level])
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(op)
        ax.set_xlabel("bytes read + written per call (log scale)")
        ax.set_ylabel("achieved bandwidth, GB/s (log scale)")
        ax.grid(True, which="both", alpha=0.25)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: _bytes_text(v)))
        ax.legend(fontsize=7, loc="lower left")
    for ax in list(axes.flat)[len(ops):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def speedup_bars(run, path, title):
    """Geometric-mean speedup over the scalar variant, per operator and ISA."""
    sp = speedups_by_isa(run)
    ops = sorted(sp)
    isas = sorted({isa for d in sp.values() for isa in d}, key=lambda i: (i not in ISA_STYLE, i))
    if not ops or not isas:
        return False  # no scalar baseline in the run (e.g. filtered out): nothing to draw
    fig, ax = plt.subplots(figsize=(max(6.4, 1.6 * len(ops) + 2), 4.2))
    width = 0.8 / max(1, len(isas))
    for j, isa in enumerate(isas):
        xs = [i + (j - (len(isas) - 1) / 2) * width for i in range(len(ops))]
        ys = [sp[op].get(isa) or 0 for op in ops]
        bars = ax.bar(xs, ys, width, color=style(isa)[0], label=isa)
        for b, y in zip(bars, ys):
            if y:
                ax.annotate(f"{y:.1f}x", (b.get_x() + b.get_width() / 2, y), ha="center",
                            va="bottom", fontsize=6)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(ops)))
    ax.set_xticklabels(ops)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(matplotlib.ticker.FixedLocator([0.5, 1, 2, 5, 10, 20, 50, 100]))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_ylabel("speedup over scalar (geometric mean over shapes; log)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=min(4, len(isas)))
    ax.grid(True, axis="y", which="both", alpha=0.25)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def linear_rows(run, op, tables, path, title):
    """GFLOP/s against rows (log scale), one panel per shape (dim x n) of a linear operator, one
    line per variant: normkit fused (row-major W), packed W and unfused at the shape's best ISA,
    and each peer; the in-run FMA peak of that ISA dotted. tables: linear_tables(run) entries of
    op, {(op, dtype, dim, n): table}. False when there is nothing to draw."""
    keys = [k for k in tables if k[0] == op and tables[k]["best_isa"]]
    if not keys:
        return False
    _, peaks = ceilings(run)
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 4.0), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        t = tables[key]
        isa = t["best_isa"]
        colour = style(isa)[0]
        lines = [(isa, f"{isa} fused", colour, "-", "o"), (f"{isa}_packed", f"{isa} fused, packed W", colour, "--", "s"),
                 (f"{isa}_unfused", f"{isa} unfused (norm, then linear)", colour, ":", "^")]
        how = "its matmul" if op == "linear" else "normkit norm, its matmul"  # linear: no norm
        lines += [(v, f"{peer_name(v)} ({how})", style(v)[0], "-", style(v)[1])
                  for v in t["variants"] if variant_kind(v)[0] == "peer"]
        for variant, label, col, dash, marker in lines:
            pts = [(r["rows"], r["cases"][variant].gflops) for r in t["rows"]
                   if variant in r["cases"] and r["cases"][variant].gflops > 0]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=col, linestyle=dash, marker=marker,
                        linewidth=1.2, markersize=4, label=label)
        rows = [r["rows"] for r in t["rows"]]
        if isa in peaks:
            ax.axhline(peaks[isa], color="black", linestyle=":", linewidth=1)
            ax.annotate(f"{isa} FMA peak {peaks[isa]:.0f} GFLOP/s (in-run, one core)", (rows[-1], peaks[isa]),
                        textcoords="offset points", xytext=(0, 3), ha="right", fontsize=7)
            top = max([peaks[isa]] + [y for line in ax.get_lines() for y in line.get_ydata()])
            ax.set_ylim(top=top * 1.12)
        ax.set_xscale("log", base=2)
        ax.set_xticks(rows)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_ylim(bottom=0)
        ax.set_title(f"{op}: dim {key[2]} × n {key[3]}", fontsize=9)
        ax.set_xlabel("rows per call (log scale)")
        ax.set_ylabel("GFLOP/s (2·rows·n·dim per call; one core)")
        ax.grid(True, which="both", alpha=0.25)
    return _finish_panels(fig, axes, path, title)


def _finish_panels(fig, axes, path, title):
    """One legend under the panels (every label once), the title, and the file."""
    legend = {}
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, h)
    fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=min(3, len(legend)), fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06 * math.ceil(len(legend) / 3) + 0.02, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def compare_bars(matched, labels, path, title):
    """Per run after the first: geometric-mean speedup against the first, per operator and ISA
    (cases matched by exact name)."""
    from nkr_analysis import geomean
    groups = defaultdict(lambda: defaultdict(list))
    for name, cases in matched:
        base = cases[0]
        for k, c in enumerate(cases[1:], start=1):
            if c:
                groups[f"{base.op}/{base.isa}"][k].append(base.time_ns / c.time_ns)
    keys = sorted(groups)
    fig, ax = plt.subplots(figsize=(7.0, max(2.5, 0.32 * len(keys) * max(1, len(labels) - 1) + 1.2)))
    height = 0.8 / max(1, len(labels) - 1)
    for k in range(1, len(labels)):
        ys = [i + (k - 1) * height for i in range(len(keys))]
        vals = [geomean(groups[key][k]) or 0 for key in keys]
        ax.barh(ys, vals, height, label=f"{labels[k]} vs {labels[0]}")
        for y, v in zip(ys, vals):
            if v:
                ax.annotate(f"{v:.2f}x", (v, y), va="center", fontsize=6, xytext=(2, 0),
                            textcoords="offset points")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks([i + (len(labels) - 2) * height / 2 for i in range(len(keys))])
    ax.set_yticklabels(keys, fontsize=7)
    ax.set_xlabel(f"speedup against {labels[0]} (x, geometric mean over shapes; >1 is faster)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(True, axis="x", alpha=0.25)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _rate_text(v, _=None):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:g}{unit}"
    return f"{v:g}"


def block_rows(tables, group, path, title):
    """Tokens/s against rows (log-log), one panel per d of one (layout, norm, act) group: normkit's
    fused and unfused paths at the group's best ISA, the scalar path, and each peer. tables:
    block_tables(run); group: (layout, norm, act). False when there is nothing to draw."""
    keys = [k for k in tables if k[:3] == group and tables[k]["best_isa"]]
    if not keys:
        return False
    fig, axes = plt.subplots(1, len(keys), figsize=(max(7.0, 4.6 * len(keys)), 4.4), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        t = tables[key]
        isa = t["best_isa"]
        colour = style(isa)[0]
        lines = [(f"{isa}/fused", f"normkit {isa} fused", colour, "-", "o"),
                 (f"{isa}/unfused", f"normkit {isa} unfused", colour, ":", "^"),
                 ("scalar/scalar", "normkit scalar path", style("scalar")[0], "--", style("scalar")[1])]
        lines += [(f"{p}/peer", peer_name(p), style(p)[0], "-", style(p)[1]) for p in t["peers"]]
        for variant, label, col, dash, marker in lines:
            pts = [(r["rows"], r["cases"][variant].tokens_rate) for r in t["rows"]
                   if variant in r["cases"] and r["cases"][variant].tokens_rate > 0]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=col, linestyle=dash, marker=marker,
                        linewidth=1.2, markersize=4, label=label)
        rows = [r["rows"] for r in t["rows"]]
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(rows)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_rate_text))
        ax.set_title(f"d {key[3]}", fontsize=9)
        ax.set_xlabel("rows (tokens) per call (log scale)")
        ax.set_ylabel("tokens/s (log scale; one core)")
        ax.grid(True, which="both", alpha=0.25)
    return _finish_panels(fig, axes, path, title)


LAYOUT_DASH = {"prenorm": "-", "postnorm": "--"}


def depth_plot(depth, path, title):
    """Two panels against the layer: the float64 stack's RMS figures per layout (pre-norm: the
    residual stream; post-norm: x + FFN(x) before the norm, and the output), and each block path's
    normwise relative error (log), with the first-order bound while it is below 1."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12.0, 6.4))
    for layout in depth.layouts():
        recs = depth.of(layout)
        dash = LAYOUT_DASH.get(layout, "-.")
        xs = [r["layer"] for r in recs]

        def series(key):
            return [r.get(key) if r.get(key) is not None else float("nan") for r in recs]
        if layout == "prenorm":
            ax1.plot(xs, series("residual_rms"), color="#d62728", linestyle=dash, label="pre-norm: residual stream h")
        else:
            ax1.plot(xs, series("residual_rms"), color="#1f77b4", linestyle=dash,
                     label=f"{layout}: x + FFN(x), before the norm")
            ax1.plot(xs, series("output_rms"), color="#2ca02c", linestyle=dash, label=f"{layout}: output Norm(x + FFN(x))")
        if any(r.get("update_rms") is not None for r in recs):
            ax1.plot(xs, series("update_rms"), color="#7f7f7f", linestyle=dash, linewidth=0.8,
                     label=f"{layout}: FFN branch (the update)")
        for p in depth.paths:
            isa = p.split("/")[0]
            kind = p.split("/")[-1]
            colour, marker = style(isa)
            ys = [r["errors"].get(p) for r in recs]
            pts = [(x, y) for x, y in zip(xs, ys) if y is not None and y > 0]
            if pts:
                ax2.plot([q[0] for q in pts], [q[1] for q in pts], color=colour, linestyle=dash,
                         marker=marker if kind == "fused" else None, markersize=3, linewidth=1,
                         alpha=0.6 if kind == "unfused" else 1.0, label=f"{layout} {p}")
        bound = [(r["layer"], r.get("error_bound")) for r in recs]
        bound = [(x, y) for x, y in bound if y is not None and 0 < y <= 1]
        if bound:
            ax2.plot([q[0] for q in bound], [q[1] for q in bound], color="black", linestyle=dash, linewidth=1.5,
                     marker="_" if layout == "prenorm" else "x", markersize=10,
                     label=f"{layout}: first-order worst-case bound (while ≤ 1)")
    ax1.set_xlabel("layer")
    ax1.set_ylabel("RMS over rows × d (float64 stack)")
    ax1.set_title("residual stream and output RMS", fontsize=9)
    ax1.grid(True, alpha=0.25)
    ax1.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    ax1.set_ylim(bottom=0)
    ax2.set_yscale("log")
    ax2.set_xlabel("layer")
    ax2.set_ylabel("max over rows of ‖h − h64‖₂ / ‖h64‖₂ (log)")
    ax2.set_title("error against the float64 stack, each path fed its own output", fontsize=9)
    ax2.grid(True, which="both", alpha=0.25)
    ax2.legend(fontsize=6, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
