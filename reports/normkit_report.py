#!/usr/bin/env python3
"""normkit benchmark reports: tables, roofline and speedup plots, run-to-run comparison.

  normkit_report.py [-o DIR] RUN.json               one run -> DIR/report.md, index.html, summary.csv, *.png
  normkit_report.py -o DIR --compare A.json B.json [...] [--fail-above PCT]
  normkit_report.py -o DIR --run-bench PATH/normkit-bench [-- extra normkit-bench flags]

Inputs are Google Benchmark JSON files written by normkit-bench (--benchmark_format=json or
--benchmark_out). The output folder is written whole or not at all. Exit status: 0 done,
1 a comparison regressed by more than --fail-above, 2 bad input or usage.
"""
import argparse
import base64
import csv
import datetime
import html
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nkr_analysis import (at_a_glance, best_per_shape, ceilings, compare, kernel_table,  # noqa: E402
                          missing_in, shape_text)
from nkr_data import LEVELS, ReportError, load_run  # noqa: E402

# Context fields shown first (Google Benchmark's own, then normkit-bench's), in this order.
CONTEXT_FIRST = ("normkit_cpu", "cpu_model", "normkit_isa", "isa", "date", "host_name", "num_cpus",
                 "mhz_per_cpu", "normkit_version", "git_revision", "compiler", "compiler_flags")


def fmt(v, digits=3):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v)


def context_rows(ctx):
    keys = [k for k in CONTEXT_FIRST if k in ctx] + sorted(k for k in ctx if k not in CONTEXT_FIRST)
    rows = []
    for k in keys:
        v = ctx[k]
        if k == "caches" and isinstance(v, list):
            v = ", ".join(f"L{c.get('level')} {c.get('type', '')} {c.get('size', 0) // 1024} KiB"
                          f" x{c.get('num_sharing', 1)}" for c in v)
        elif isinstance(v, (list, dict)):
            v = str(v)
        rows.append([k, str(v)])
    return rows


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
    doc.p("A kernel's percent of ceiling is its bandwidth over the best **copy** bandwidth "
          "measured in this run at the cache level its working set fits in (`copy`, or `copy_nt` "
          "with streaming stores where measured), with the ISA the run's `ceiling_isa_map` names "
          "for it (its own; the best one for autovec and peers): a norm reads its input and "
          "writes its output once, as a copy does. Above 100% means the level's one ceiling "
          "measurement does not represent that case: typically a case far larger than the "
          "ceiling's working set within the same level, or one that streams its output where "
          "only a plain copy was measured.")


def single_report(run, folder):
    import nkr_plots
    title = f"normkit benchmark report: {run.label}"
    doc = Doc()
    doc.h(1, title)
    doc.p(f"Generated {datetime.datetime.now():%Y-%m-%d %H:%M} from `{run.label}` "
          f"({len(run.cases)} cases; median of repetitions where there were several"
          + (f"; {run.skipped} entries left out: not normkit cases, or failed"
             + (f" ({', '.join(sorted(run.errored))})" if run.errored else "") if run.skipped else "")
          + "). "
          "Times are CPU time per call (what normkit-bench's rates use); bandwidth counts bytes "
          "read + written.")
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
                         f"{b['gbps']:.1f}", f"{b['pct']:.0f}%" if b["pct"] is not None else "–",
                         fmt(b["x_scalar"]),
                         f"{fmt(g['x_plain'])} ({g['plain']['case'].isa})" if g["plain"] else "–",
                         f"{fmt(g['x_peer'])} ({g['peer']['case'].isa})" if g["peer"] else "–"])
        doc.table(["op", "shape", "level", "best", "GB/s", "% of ceiling", "× scalar",
                   "× best plain C", "× best peer"], rows)
    doc.h(2, "Machine")
    doc.table(["field", "value"], context_rows(run.context))
    doc.h(2, "Ceilings")
    ceiling_section(doc, run)

    doc.h(2, "Plots")
    if nkr_plots.roofline(run, os.path.join(folder, "roofline.png"), title):
        doc.img("roofline.png", "achieved bandwidth against bytes per call, with measured ceilings")
    else:
        doc.p("No roofline: the run has no kernel case with a bandwidth.")
    if nkr_plots.speedup_bars(run, os.path.join(folder, "speedup.png"), title):
        doc.img("speedup.png", "speedup over scalar per ISA")
    else:
        doc.p("No speedup chart: the run has no scalar cases to measure against.")

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
                out.append([name, f"{r['us']:.3f}", f"{r['gbps']:.1f}", pct,
                            fmt(r["x_scalar"]), fmt(r["x_autovec"])])
                csv_rows.append([c.op, c.dtype, c.isa, c.params.get("dim", ""), c.params.get("rows", ""),
                                 c.level, f"{c.time_ns:.1f}", f"{c.gbps:.3f}",
                                 "" if r["pct"] is None else f"{r['pct']:.1f}",
                                 "" if r["x_scalar"] is None else f"{r['x_scalar']:.3f}",
                                 "" if r["x_autovec"] is None else f"{r['x_autovec']:.3f}",
                                 int(r["best"])])
            doc.table(["variant", "µs/call", "GB/s", "% of ceiling", "× scalar", "× autovec"], out)
    doc.h(2, "Not in this run")
    doc.p("Fused norm+linear (against OpenBLAS), pre-norm vs post-norm blocks and the depth sweep "
          "get their sections when normkit-bench runs them; this run has no such cases.")
    with open(os.path.join(folder, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["op", "dtype", "isa", "dim", "rows", "level", "time_ns", "gbps",
                    "pct_of_ceiling", "speedup_vs_scalar", "speedup_vs_autovec", "best"])
        w.writerows(csv_rows)
    return doc, title


def compare_report(runs, folder, fail_above):
    import nkr_plots
    labels = [r.label for r in runs]
    if len(set(labels)) < len(labels):
        labels = [f"#{i + 1} {l}" for i, l in enumerate(labels)]
    matched = compare(runs)
    shapes = best_per_shape(runs)
    if not matched and not shapes:
        raise ReportError(f"{runs[0].path} and {', '.join(r.path for r in runs[1:])} have no benchmark "
                          "case or shape in common (different kernels or shapes?)")
    title = "normkit comparison: " + " vs ".join(labels)
    doc = Doc()
    doc.h(1, title)
    doc.p(f"Generated {datetime.datetime.now():%Y-%m-%d %H:%M}. Ratios are time of `{labels[0]}` over "
          "time of the other run: above 1 the other run is faster. Change is the other run's time "
          f"relative to `{labels[0]}`.")
    doc.h(2, "Machines")
    keys = []
    for r in runs:
        keys += [k for k, _ in context_rows(r.context) if k not in keys]
    doc.table(["field"] + labels,
              [[k] + [dict(context_rows(r.context)).get(k, "–") for r in runs] for k in keys])

    regressions = []
    csv_rows = []
    if matched:
        nkr_plots.compare_bars(matched, labels, os.path.join(folder, "compare.png"), title)
        doc.h(2, "Same cases")
        doc.img("compare.png", "speedup per operator and ISA against the first run")
        rows = []
        for name, cases in matched:
            base = cases[0]
            row = [name, f"{base.time_ns / 1e3:.3f}"]
            for k, c in enumerate(cases[1:], start=1):
                if c is None:
                    row += ["–", "–", "–"]
                    continue
                ratio = base.time_ns / c.time_ns
                change = (c.time_ns / base.time_ns - 1.0) * 100.0
                row += [f"{c.time_ns / 1e3:.3f}", f"{ratio:.3f}", f"{change:+.1f}%"]
                csv_rows.append([name, labels[0], labels[k], f"{base.time_ns:.1f}", f"{c.time_ns:.1f}",
                                 f"{ratio:.4f}", f"{change:.2f}"])
                if fail_above is not None and change > fail_above:
                    regressions.append((name, labels[k], change))
            rows.append(row)
        header = ["case", f"{labels[0]} µs"]
        for l in labels[1:]:
            header += [f"{l} µs", "ratio", "change"]
        doc.table(header, rows)
    if shapes:
        doc.h(2, "Best variant per shape")
        rows = []
        for (op, dtype, params), cases in shapes.items():
            row = [f"{op} {dtype} {shape_text(dict(params))}"]
            base = cases[0]
            for c in cases:
                cell = f"{c.isa} {c.gbps:.1f} GB/s" if c else "–"
                if c and base and c is not base:
                    cell += f" ({base.time_ns / c.time_ns:.2f}x)"
                row.append(cell)
            rows.append(row)
        doc.table(["shape"] + labels, rows)
    with open(os.path.join(folder, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "base", "other", "base_time_ns", "other_time_ns", "speedup", "change_pct"])
        w.writerows(csv_rows)
    gone = missing_in(runs)
    if gone:
        doc.h(2, "Missing or failed")
        doc.p(f"Kernel cases of `{labels[0]}` that another run lacks or reports as failed:")
        doc.table(["case", "run", "what"], [[n, l, why] for n, l, why in gone])
    if fail_above is not None:
        regressions += [(n, l, why) for n, l, why in gone]
        doc.h(2, f"Gate: --fail-above {fail_above:g}%")
        doc.p(f"{len(regressions)} case(s) regressed by more than {fail_above:g}%, went missing or "
              "failed." if regressions else f"No case regressed by more than {fail_above:g}%, "
              "and none went missing.")
    return doc, title, regressions


MARKER = ".normkit-report"  # in every folder this tool writes: only those it may replace


def write_atomically(out_dir, build):
    """Builds the report in a temporary sibling folder and renames it into place, so a failure
    leaves no half-written report (and an earlier report at out_dir survives a failed run).
    An existing out_dir is replaced only if this tool wrote it (it holds MARKER): anything else
    there is the user's, and is refused rather than deleted."""
    out_dir = os.path.abspath(out_dir)
    if os.path.lexists(out_dir) and not (os.path.isdir(out_dir) and not os.path.islink(out_dir)
                                         and os.path.isfile(os.path.join(out_dir, MARKER))):
        raise ReportError(f"{out_dir}: exists and is not a normkit report folder; "
                          "choose another -o or remove it")
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".normkit-report-", dir=parent)
    try:
        result = build(tmp)
        with open(os.path.join(tmp, MARKER), "w") as f:
            f.write("written by reports/normkit_report.py; the folder is replaced on the next run\n")
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        old = None
        if os.path.exists(out_dir):
            old = tempfile.mkdtemp(prefix=".normkit-report-old-", dir=parent)
            os.rmdir(old)
            os.rename(out_dir, old)
        os.rename(tmp, out_dir)
        if old:
            shutil.rmtree(old, ignore_errors=True)
        return result
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def run_bench(bench, extra, folder):
    """Runs normkit-bench's quick profile and returns the JSON path it wrote."""
    out = os.path.join(folder, "normkit-bench.json")
    cmd = [bench, "--profile=quick", "--benchmark_format=console", f"--benchmark_out={out}",
           "--benchmark_out_format=json"] + extra
    print("report: running", " ".join(cmd), flush=True)
    rc = subprocess.call(cmd)
    if rc != 0:
        raise ReportError(f"{bench}: exited with status {rc}")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="normkit_report.py",
        description="Reports (Markdown, self-contained HTML, CSV, PNG plots) from normkit-bench JSON.")
    ap.add_argument("runs", nargs="*", metavar="RUN.json", help="one run to report on")
    ap.add_argument("-o", "--output", default="report", help="output folder (default: ./report)")
    ap.add_argument("--compare", nargs="+", metavar="RUN.json",
                    help="compare runs side by side, the first being the baseline")
    ap.add_argument("--fail-above", type=float, metavar="PCT",
                    help="with --compare: exit 1 if any case's time grew by more than PCT percent")
    ap.add_argument("--run-bench", metavar="NORMKIT_BENCH",
                    help="run this normkit-bench (quick profile) first and report on its output")
    args, extra = ap.parse_known_args(argv)
    try:
        if args.run_bench:
            if args.runs or args.compare:
                raise ReportError("--run-bench takes no RUN.json files")
            os.makedirs(os.path.dirname(os.path.abspath(args.output)) or ".", exist_ok=True)
            keep = tempfile.mkdtemp(prefix=".normkit-bench-")
            try:
                path = run_bench(args.run_bench, extra, keep)
                runs = [load_run(path)]

                def build(folder):
                    shutil.copy(path, os.path.join(folder, "normkit-bench.json"))
                    return single_report(runs[0], folder)
                doc, title = write_atomically(args.output, lambda f: finish(f, build(f)))
            finally:
                shutil.rmtree(keep, ignore_errors=True)
        elif extra:
            raise ReportError(f"unknown argument(s): {' '.join(extra)} (try --help)")
        elif args.compare:
            if args.runs:
                raise ReportError("give the runs to compare after --compare only")
            if len(args.compare) < 2:
                raise ReportError("--compare needs at least two JSON files")
            runs = [load_run(p) for p in args.compare]
            regs = write_atomically(args.output, lambda f: finish_compare(f, runs, args.fail_above))
            if regs:
                for name, label, change in regs:
                    if isinstance(change, str):
                        print(f"regression: {name} {change} in {label}", file=sys.stderr)
                    else:
                        print(f"regression: {name} in {label}: {change:+.1f}% "
                              f"(limit {args.fail_above:g}%)", file=sys.stderr)
                print(f"report: {os.path.join(os.path.abspath(args.output), 'index.html')}")
                return 1
        else:
            if args.fail_above is not None:
                raise ReportError("--fail-above only makes sense with --compare")
            if len(args.runs) != 1:
                raise ReportError("give exactly one RUN.json (or --compare A.json B.json ...)")
            runs = [load_run(p) for p in args.runs]
            write_atomically(args.output, lambda f: finish(f, single_report(runs[0], f)))
    except ReportError as e:
        print(f"normkit_report: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug or an input we did not foresee: still exit 2, not 1 (regression)
        print(f"normkit_report: error: internal error ({type(e).__name__}: {e}); no report written",
              file=sys.stderr)
        return 2
    print(f"report: {os.path.join(os.path.abspath(args.output), 'index.html')} "
          f"(and report.md, summary.csv beside it)")
    return 0


def finish(folder, built):
    doc, title = built
    with open(os.path.join(folder, "report.md"), "w") as f:
        f.write(doc.markdown())
    with open(os.path.join(folder, "index.html"), "w") as f:
        f.write(doc.html(folder, title))
    return doc, title


def finish_compare(folder, runs, fail_above):
    doc, title, regressions = compare_report(runs, folder, fail_above)
    finish(folder, (doc, title))
    return regressions


if __name__ == "__main__":
    sys.exit(main())
