#!/usr/bin/env python3
"""Generates the norm kernel variants from their templates (kernels/templates/), XNNPACK-style.

    tools/gen/generate.py            write every generated file
    tools/gen/generate.py --check    write nothing; exit 1 if a generated file is missing,
                                     differs from its template's output, or is stale
    tools/gen/generate.py --check --cc cc
                                     also compile every generated file for this machine's
                                     architecture with plain `cc -c` and no ISA flags (each
                                     file carries its own target pragma)

The manifest below is the one place the variants are declared: for each operator family, a
template per ISA; for each ISA, its compiled knobs (every combination of their values becomes a
variant, named e.g. normkit_rmsnorm_f32__avx512_u4_acc8), its run-time knob defaults, and the
dispatcher's default variant per shape class. Outputs, all committed:
    kernels/<op>/<op>_f32__<isa>[_<knobs>].c   one variant each, self-contained
    kernels/<op>/<op>.inc                      the operator's enumerator (registry data)
    kernels/normkit_defaults.inc               the dispatcher's default per shape class
"""
import argparse
import concurrent.futures
import itertools
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nkgen  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
KERNELS = os.path.join(ROOT, "kernels")

# ---- the manifest ---------------------------------------------------------------------------

# Operator families: one template per ISA renders every operator of the family.
FAMILIES = {
    "rmsnorm": {"rmsnorm": {"RESIDUAL": 0}, "add_rmsnorm": {"RESIDUAL": 1}},
    "layernorm": {"layernorm": {"RESIDUAL": 0}, "add_layernorm": {"RESIDUAL": 1}},
}

MIB = "(size_t)%d << 20"
NEVER = "SIZE_MAX"

# Per ISA, best first: the architecture its files compile on, the compiled knobs (name in the
# variant, template variable, values), and the run-time knob defaults (normkit_kparams) of its
# variants. Knob defaults measured as kernels/<op>/<op>.inc says.
ISAS = {
    "avx512": {
        "arch": "x86_64",
        "knobs": [("u", "UNROLL", [2, 4]), ("acc", "ACC", [4, 8])],
        "kparams": {"nt_min_bytes": MIB % 32, "dram_min_bytes": MIB % 64, "pipe_max_dim": "2048"},
    },
    "avx2": {
        "arch": "x86_64",
        "knobs": [("u", "UNROLL", [2, 4]), ("acc", "ACC", [4, 8])],
        "kparams": {"nt_min_bytes": MIB % 32, "dram_min_bytes": MIB % 32, "pipe_max_dim": "2048"},
    },
    "neon": {
        "arch": "aarch64",
        "knobs": [("u", "UNROLL", [2, 4]), ("acc", "ACC", [4, 8])],
        "kparams": {"nt_min_bytes": NEVER, "dram_min_bytes": NEVER, "pipe_max_dim": "0"},
    },
    "scalar": {
        "arch": None,  # any
        "knobs": [],
        "kparams": {"nt_min_bytes": NEVER, "dram_min_bytes": NEVER, "pipe_max_dim": "0"},
    },
}

# The dispatcher's shape classes (dispatch/dispatch.c): where the call's working set sits
# (l1, l2, mem: beyond L2) and whether it is one row or many.
CLASSES = ["l1_row", "l1_rows", "l2_row", "l2_rows", "mem_row", "mem_rows"]

# The default variant per (operator, ISA) and shape class; the one most classes run is also
# listed first (normkit_kernels_for, the blocks, the benchmarks' default cases). Measured with tools/gen/pick_defaults.py over two
# `normkit-bench --variants=all` runs (3 and 5 repetitions; 2-core KVM guest, AMD EPYC
# "Turin-like", L1d 48 KiB, L2 1 MiB, 2026-12-02), keeping only changes that both runs agree
# on by more than 5%: the AVX2 LayerNorm family runs acc4 (acc8's 16 accumulators leave GCC no
# ymm register to spare: it spills; acc4 8-24% faster per class), and AVX-512 add & RMSNorm
# acc4 (21% faster on single L1 rows, 3-9% in the other classes measured). Every other
# difference between knob values stayed within the runs' noise (about +-10% per case here), so
# no class needs a variant of its own on this machine; the table keeps the mechanism for the
# tuner and for machines where one does.
DEFAULTS = {}
for _op, _isa, _v in [("rmsnorm", "avx512", "u4_acc8"), ("add_rmsnorm", "avx512", "u4_acc4"),
                      ("layernorm", "avx512", "u4_acc4"), ("add_layernorm", "avx512", "u4_acc4"),
                      ("rmsnorm", "avx2", "u4_acc8"), ("add_rmsnorm", "avx2", "u4_acc8"),
                      ("layernorm", "avx2", "u4_acc4"), ("add_layernorm", "avx2", "u4_acc4"),
                      ("rmsnorm", "neon", "u4_acc4"), ("add_rmsnorm", "neon", "u4_acc4"),
                      ("layernorm", "neon", "u4_acc4"), ("add_layernorm", "neon", "u4_acc4")]:
    DEFAULTS[(_op, _isa)] = dict.fromkeys(CLASSES, _v)
# (NEON: no Arm hardware to measure on; acc4 as the hand-written variants had.)

# ---- rendering ------------------------------------------------------------------------------


def variants(isa):
    """[(suffix, {VAR: value}, [(name, value)])] for every combination of the ISA's knobs."""
    spec = ISAS[isa]["knobs"]
    if not spec:
        return [("", {}, [])]
    out = []
    for values in itertools.product(*(v for _, _, v in spec)):
        suffix = "_".join("%s%d" % (k, v) for (k, _, _), v in zip(spec, values))
        out.append((suffix, {var: v for (_, var, _), v in zip(spec, values)},
                    [(k, v) for (k, _, _), v in zip(spec, values)]))
    return out


def main_default(op, isa):
    """The variant most shape classes run (ties: the first class's), or None."""
    d = DEFAULTS.get((op, isa))
    if not d:
        return None
    picks = [d[c] for c in CLASSES]
    return max(picks, key=lambda v: (picks.count(v), -picks.index(v)))


def ordered_variants(op, isa):
    """The ISA's variants with the operator's main default first (normkit_kernels_for)."""
    vs = variants(isa)
    first = main_default(op, isa) or vs[0][0]
    return sorted(vs, key=lambda v: v[0] != first)


def func_name(op, isa, suffix):
    return "normkit_%s_f32__%s%s" % (op, isa, "_" + suffix if suffix else "")


def render_kernel(family, op, isa, suffix, knob_vars):
    tpl = "kernels/templates/%s__%s.c.in" % (family, isa)
    with open(os.path.join(ROOT, tpl)) as f:
        text = f.read()
    env = dict(FAMILIES[family][op])
    env.update(knob_vars)
    env.update(OP=op, FAMILY=family, ISA=isa, VARIANT=suffix, FUNC=func_name(op, isa, suffix))
    body = nkgen.render(text, env, tpl)
    knobs = ", ".join("%s=%s" % kv for kv in sorted(knob_vars.items()))
    banner = ("/* Generated by tools/gen/generate.py from %s\n"
              " * (%s%s): do not edit; edit the template and run ./dev.sh gen. */\n"
              % (tpl, op, ", " + knobs if knobs else ""))
    return banner + body.lstrip("\n").rstrip("\n") + "\n"


def render_enumerator(family, op):
    lines = [
        "/* Generated by tools/gen/generate.py: do not edit; the manifest there declares the variants.",
        " *",
        " * Every %s f32 variant, grouped by ISA, best ISA first, each ISA's default variant first." % op,
        " * The registry, the tests and the benchmarks all expand this one list.",
        " *",
        " * NORMKIT_KERNEL(op, dtype, isa, _knobs, NORMKIT_KNOBS(compiled knobs), run-time knobs)",
        " *   _knobs         the variant's name suffix after the ISA (empty when it has none)",
        " *   compiled knobs {name, value} pairs: u = vectors per iteration of the output pass,",
        " *                  acc = accumulators (per sum) of the statistics pass",
        " *   run-time knobs normkit_kparams (normkit_kernel.h): the tuner can change them",
        " *",
        " * Run-time knob defaults (measured: 2-core Xeon family 6 model 207 KVM guest, 2026-11-26):",
        " *  - nt_min_bytes 32 MiB: streaming stores win once a call writes ~2 MiB of y (1.2-1.9x on",
        " *    DRAM-sized calls) but evict y, which the next operator usually reads; 32 MiB keeps y",
        " *    cached wherever it fits in L2 or a typical L3 share.",
        " *  - dram_min_bytes (memory mode): AVX-512 +40-65% from 64 MiB, neutral at 12-32 MiB,",
        " *    -10-25% when L2-resident; AVX2 1.3-1.4x from 64 MiB, neutral-to-worse below 32 MiB.",
        " *  - pipe_max_dim: rows up to this long are software-pipelined (the next row's statistics",
        " *    while this row is written); 0 never.",
        " *  - SIZE_MAX: never (the variant has no such mode).",
        " */",
    ]
    for isa in ISAS:
        for suffix, knob_vars, knobs in ordered_variants(op, isa):
            guard = "NORMKIT_HAVE_%s_F32__%s%s" % (op, isa, "_" + suffix if suffix else "")
            kn = ", ".join('{"%s", %d}' % kv for kv in knobs) or "{NULL, 0}"
            kp = ", ".join(".%s = %s" % kv for kv in ISAS[isa]["kparams"].items())
            entry = "NORMKIT_KERNEL(%s, f32, %s, %s, NORMKIT_KNOBS(%s), {%s})" % (
                op, isa, "_" + suffix if suffix else "", kn, kp)
            if isa == "scalar":
                lines.append(entry)
            else:
                lines += ["#if " + guard.upper(), entry, "#endif"]
    return "\n".join(lines) + "\n"


def render_defaults():
    lines = [
        "/* Generated by tools/gen/generate.py: do not edit; DEFAULTS there holds the data.",
        " *",
        " * The dispatcher's default variant per operator, ISA and shape class (dispatch/dispatch.c:",
        " * l1/l2/mem = the call's working set fits L1d / L2 / neither; row = one row, rows = more).",
        " * NORMKIT_DEFAULT(op, isa, class, _knobs): a variant missing from the build is skipped",
        " * and the ISA's first variant runs instead.",
        " */",
    ]
    for family, ops in FAMILIES.items():
        for op in ops:
            for isa in ISAS:
                d = DEFAULTS.get((op, isa))
                if not d:
                    continue
                for cls in CLASSES:
                    lines.append("NORMKIT_DEFAULT(%s, %s, %s, _%s)" % (op, isa, cls, d[cls]))
    return "\n".join(lines) + "\n"


def outputs(only=None, data_only=False):
    """{path relative to ROOT: text} of every generated file, and the arch of each kernel;
    with `only` (a list of ISAs), just those ISAs' kernel files; with data_only, only the
    enumerators and the defaults."""
    files, arch = {}, {}
    for family, ops in FAMILIES.items():
        for op in ops:
            for isa in ISAS:
                if (only and isa not in only) or data_only:
                    continue
                for suffix, knob_vars, _ in variants(isa):
                    rel = "kernels/%s/%s.c" % (op, func_name(op, isa, suffix)[len("normkit_"):])
                    files[rel] = render_kernel(family, op, isa, suffix, knob_vars)
                    arch[rel] = ISAS[isa]["arch"]
            if not only:
                files["kernels/%s/%s.inc" % (op, op)] = render_enumerator(family, op)
    if not only:
        files["kernels/normkit_defaults.inc"] = render_defaults()
    return files, arch


def stale(files):
    """Kernel files of the generated operators that the manifest no longer produces."""
    out = []
    for family, ops in FAMILIES.items():
        for op in ops:
            d = os.path.join(KERNELS, op)
            for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                rel = "kernels/%s/%s" % (op, name)
                if name.endswith(".c") and rel not in files:
                    out.append(rel)
    return out


def compile_plain(cc, files, arch):
    """Each generated kernel of this machine's architecture, by plain `cc -c`: no ISA flags
    (one compiler per core). Returns the number that failed."""
    machine = os.uname().machine
    rels = [rel for rel, a in sorted(arch.items()) if a in (None, machine)]
    with tempfile.TemporaryDirectory() as tmp:
        def one(i_rel):
            i, rel = i_rel
            cmd = [cc, "-std=c11", "-O2", "-Wall", "-Werror", "-c", "-I", KERNELS,
                   os.path.join(ROOT, rel), "-o", os.path.join(tmp, "k%d.o" % i)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            return cmd, r
        with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            results = list(pool.map(one, enumerate(rels)))
    bad = 0
    for cmd, r in results:
        if r.returncode != 0:
            bad += 1
            sys.stderr.write("generate.py: `%s` failed:\n%s" % (" ".join(cmd), r.stderr))
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="write nothing; fail if any generated file is missing, differs or is stale")
    ap.add_argument("--cc", help="with --check: also compile each generated kernel with plain CC -c")
    ap.add_argument("--isa", action="append", choices=list(ISAS),
                    help="only this ISA's kernel files (repeatable; while working on a template)")
    ap.add_argument("--data-only", action="store_true",
                    help="only the enumerators and the defaults table (no template is read)")
    args = ap.parse_args()
    try:
        files, arch = outputs(args.isa, args.data_only)
    except (nkgen.TemplateError, OSError) as e:
        sys.stderr.write("generate.py: %s\n" % e)
        return 2
    if args.check:
        bad = []
        for rel, text in sorted(files.items()):
            try:
                with open(os.path.join(ROOT, rel)) as f:
                    same = f.read() == text
            except OSError:
                same = False
            if not same:
                bad.append(rel)
        for rel in bad:
            sys.stderr.write("generate.py: %s is not what its template generates\n" % rel)
        old = [] if args.isa or args.data_only else stale(files)
        for rel in old:
            sys.stderr.write("generate.py: %s is not generated by the manifest (stale)\n" % rel)
        ncc = compile_plain(args.cc, files, arch) if args.cc else 0
        if bad or old or ncc:
            sys.stderr.write("generate.py: run ./dev.sh gen (tools/gen/generate.py) and commit\n")
            return 1
        print("generate.py: %d generated files match their templates%s" %
              (len(files), ", and compile with plain %s -c" % args.cc if args.cc else ""))
        return 0
    for rel in [] if args.isa or args.data_only else stale(files):
        os.remove(os.path.join(ROOT, rel))
    for rel, text in files.items():
        path = os.path.join(ROOT, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    print("generate.py: wrote %d files" % len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
