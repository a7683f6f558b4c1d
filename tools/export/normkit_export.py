#!/usr/bin/env python3
"""normkit-export: normkit's kernels for one ISA as self-contained C for another engine's tree.

    normkit-export --isa ISA --ops LIST [--tuning FILE] [--prefix PREFIX] -o DIR

writes DIR/<prefix>normkit.h (declarations and their documentation) and
DIR/<prefix>normkit_<isa>.c (the chosen variants, the pieces of kernels/normkit_kernel.h they
use and the checking wrappers), which need only the C standard library and the ISA's
intrinsics header. docs/export.md describes the output and its contract.

The build's launcher (tools/export/normkit-export.in) passes --source-dir, --build-isas and
--normkit-info; the rest is the user's command line. Python 3 standard library only.
"""
import argparse
import ast
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

PROG = "normkit-export"

EXPORTABLE = ["rmsnorm", "layernorm", "add_rmsnorm", "add_layernorm", "linear", "rmsnorm_linear",
              "layernorm_linear"]
REFUSED = {
    "gelu": "gelu and silu call SLEEF's vector erfc/exp, which an export may not depend on",
    "silu": "gelu and silu call SLEEF's vector erfc/exp, which an export may not depend on",
    "add": "add and mul are one IEEE operation per element: write the loop inline",
    "mul": "add and mul are one IEEE operation per element: write the loop inline",
}
CLASSES = ["l1_row", "l1_rows", "l2_row", "l2_rows", "mem_row", "mem_rows"]
KNOWN_ISAS = ["scalar", "avx2", "avx512", "neon", "sve"]
KP_FIELDS = ["nt_min_bytes", "dram_min_bytes", "pipe_max_dim", "lin_kc", "lin_mc",
             "lin_prefetch", "lin_pack_rows", "pack_nr", "pack_vl"]
NEVER = "SIZE_MAX"  # a knob value meaning "never"
TARGET = {"avx2": "avx2,fma", "avx512": "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma",
          "sve": "+sve"}
CPU_FEATURES = {"avx2": ["avx2", "fma"],
                "avx512": ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx2", "fma"]}
INTRIN = {"avx2": "immintrin.h", "avx512": "immintrin.h", "neon": "arm_neon.h",
          "sve": "arm_sve.h"}
# docs/tuning.md: the knobs a tuning file may set, with their ranges
NORM_KNOBS = {"pipe_max_dim": (0, 1 << 24, False), "dram_min_bytes": (0, 1 << 50, True),
              "nt_min_bytes": (0, 1 << 50, True)}
LIN_KNOBS = {"lin_kc": (0, 65536, False), "lin_mc": (0, 4096, False),
             "lin_prefetch": (0, 4096, False), "lin_pack_rows": (0, 1 << 20, False)}
STATUS = {"NULL": 1, "SHAPE": 2, "EPS": 3, "NOMEM": 5}


class ExportError(Exception):
    def __init__(self, msg, status=1):
        super().__init__(msg)
        self.status = status


# ---------------------------------------------------------------- reading the sources

def split_top(s):
    """s split at its top-level commas (outside (), {} and [])."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    return out


def macro_calls(text, name):
    """The argument lists of every NAME(...) call in text, split at top-level commas."""
    calls = []
    for m in re.finditer(r"^\s*%s\(" % re.escape(name), text, re.M):
        i, depth = m.end(), 1
        while depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        calls.append(split_top(text[m.end():i - 1]))
    return calls


def read(src, *path):
    # the launcher's source tree may have moved or be unreadable: one error line, no traceback
    try:
        with open(os.path.join(src, *path), encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ExportError("cannot read normkit's source %s: %s"
                          % (os.path.join(src, *path), getattr(e, "strerror", None) or e))


def parse_ops(src):
    """normkit_ops.inc: op -> dict(mats, vecs, residual, beta, linear, norm, params, kparams)."""
    text = read(src, "kernels", "normkit_ops.inc")
    defines = dict(re.findall(r"^#define (NORMKIT_\w+_PARAMS) (.*)$", text, re.M))
    ops = {}
    for a in macro_calls(text, "NORMKIT_OP"):
        kparams = a[9].strip()[1:-1]
        for k, v in defines.items():
            kparams = kparams.replace(k, v)
        ops[a[0]] = dict(norm=a[1], residual=int(a[2]), beta=int(a[3]), linear=int(a[4]),
                         mats=int(a[5]) + int(a[6]) - int(a[2]), vecs=int(a[7]),
                         params=" ".join(a[8].strip()[1:-1].split()), kparams=kparams)
    return ops


def c_size(expr):
    """A registry initializer's value: an int, or NEVER for SIZE_MAX."""
    expr = expr.strip()
    if expr == "SIZE_MAX":
        return NEVER
    expr = expr.replace("(size_t)", "")
    node = ast.parse(expr, mode="eval")
    for n in ast.walk(node):
        if not isinstance(n, (ast.Expression, ast.BinOp, ast.Constant, ast.LShift, ast.Mult,
                              ast.Add)):
            raise ExportError("cannot read the registry value %r" % expr)
    return int(eval(compile(node, "<registry>", "eval")))


def parse_variants(src, op):
    """kernels/<op>/<op>.inc: [(isa, knobs suffix, {knob: value})] in registry order."""
    out = []
    for a in macro_calls(read(src, "kernels", op, op + ".inc"), "NORMKIT_KERNEL"):
        init = a[-1].strip()
        assert init.startswith("{") and init.endswith("}"), init
        params = dict.fromkeys(KP_FIELDS, 0)
        for item in split_top(init[1:-1]):
            k, v = item.split("=", 1)
            params[k.strip().lstrip(".")] = c_size(v)
        out.append((a[2], a[3], params))
    return out


def parse_defaults(src):
    text = read(src, "kernels", "normkit_defaults.inc")
    return {(a[0], a[1], a[2]): a[3] for a in macro_calls(text, "NORMKIT_DEFAULT")}


def fused_norm_variant(src, op, isa):
    """The norm variant a fused op's file composes (NORMKIT_NORM_LINEAR(norm, isa, _nvar))."""
    text = read(src, "kernels", op, "%s_f32__%s.c" % (op, isa))
    m = re.search(r"^NORMKIT_NORM_LINEAR\((\w+),\s*(\w+),\s*(\w*)\)", text, re.M)
    if not m:
        raise ExportError("kernels/%s/%s_f32__%s.c: no NORMKIT_NORM_LINEAR line" % (op, op, isa))
    return m.group(1), m.group(3)


# ---------------------------------------------------------------- the tuning file

def load_tuning(path, ops, variants, build_isas):
    """The tuning file (docs/tuning.md, format 1), validated by the library's rules."""
    def bad(msg):
        raise ExportError("%s: %s" % (path, msg))

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise ExportError("cannot read the tuning file %s: %s" % (path, e.strerror))
    except (ValueError, UnicodeDecodeError) as e:
        bad("not valid JSON (%s)" % e)

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    def is_num(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    def keys(obj, where, allowed, required):
        if not isinstance(obj, dict):
            bad("%s: expected an object" % where)
        for k in obj:
            if k not in allowed:
                bad("%s: unknown key %r" % (where, k))
        for k in required:
            if k not in obj:
                bad("%s: missing %r" % (where, k))

    keys(data, "top level", {"format", "version", "machine", "created", "tool", "budget_s",
                             "kernels"}, ["format", "version", "machine", "kernels"])
    if data["format"] != "normkit-tuning":
        bad('"format" must be "normkit-tuning"')
    if not is_int(data["version"]) or data["version"] != 1:
        bad('"version" must be 1')
    for k, t in (("created", str), ("tool", str)):
        if k in data and not isinstance(data[k], t):
            bad('"%s" must be a string' % k)
    if "budget_s" in data and not is_num(data["budget_s"]):
        bad('"budget_s" must be a number')
    m = data["machine"]
    keys(m, "machine", {"cpu", "l1d_bytes", "l2_bytes"}, ["cpu", "l1d_bytes", "l2_bytes"])
    if not isinstance(m["cpu"], str):
        bad("machine.cpu must be a string")
    for k in ("l1d_bytes", "l2_bytes"):
        if not is_int(m[k]) or not 0 < m[k] <= 1 << 50:
            bad("machine.%s must be a positive integer" % k)
    if not isinstance(data["kernels"], list):
        bad('"kernels" must be a list')
    entries, seen = {}, set()
    for i, e in enumerate(data["kernels"]):
        where = "kernels[%d]" % i
        keys(e, where, {"op", "isa", "class", "variant", "params", "default", "gain", "spread"},
             ["op", "isa", "class", "variant"])
        for k in ("op", "isa", "class", "variant", "default"):
            if k in e and not isinstance(e[k], str):
                bad("%s.%s must be a string" % (where, k))
        for k in ("gain", "spread"):
            if k in e and not is_num(e[k]):
                bad("%s.%s must be a number" % (where, k))
        op, isa, cls, var = e["op"], e["isa"], e["class"], e["variant"]
        if op not in EXPORTABLE:
            bad("%s: unknown or untunable operator %r" % (where, op))
        if isa not in KNOWN_ISAS:
            bad("%s: unknown ISA %r" % (where, isa))
        if isa not in build_isas:
            bad("%s: ISA %r is not in this build" % (where, isa))
        linear = ops[op]["linear"]
        if (linear and cls != "all") or (not linear and cls not in CLASSES):
            bad("%s: unknown class %r for %s" % (where, cls, op))
        suffixes = [v[1] for v in variants[op] if v[0] == isa]
        if ("_" + var if var else "") not in suffixes:
            bad("%s: %s has no %s variant %r" % (where, op, isa, var))
        if (op, isa, cls) in seen:
            bad("%s: a second entry for (%s, %s, %s)" % (where, op, isa, cls))
        seen.add((op, isa, cls))
        params = e.get("params", {})
        if not isinstance(params, dict):
            bad("%s.params must be an object" % where)
        allowed = LIN_KNOBS if linear else NORM_KNOBS
        knobs = {}
        for k, v in params.items():
            if k not in allowed:
                bad("%s.params: unknown knob %r for %s" % (where, k, op))
            lo, hi, never = allowed[k]
            if never and v == "never":
                knobs[k] = NEVER
                continue
            if not is_int(v) or not lo <= v <= hi or (k == "lin_kc" and v % 64):
                bad("%s.params.%s: %r is out of range" % (where, k, v))
            knobs[k] = v
        entries[(op, isa, cls)] = ("_" + var if var else "", knobs)
    return dict(path=path, cpu=m["cpu"], l1d=m["l1d_bytes"], l2=m["l2_bytes"],
                created=data.get("created"), entries=entries)


def machine_caches(normkit_info, wrapper):
    """L1d and L2 bytes from the build's `normkit-info --json`, or None."""
    if not normkit_info or not os.path.exists(normkit_info):
        return None
    try:
        out = subprocess.run(wrapper + [normkit_info, "--json"], capture_output=True,
                             text=True, timeout=60)
        topo = json.loads(out.stdout)["topology"]
        l1d, l2 = int(topo["l1d_bytes"]), int(topo["l2_bytes"])
        return (l1d, l2) if l1d > 0 and l2 > 0 else None
    except (OSError, ValueError, KeyError, TypeError, subprocess.SubprocessError):
        return None


# ---------------------------------------------------------------- C text surgery

TOKEN = re.compile(r"""
    (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<string>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
  | (?P<number>\.?[0-9](?:[eEpP][+-]|[0-9A-Za-z_.])*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<other>.)
""", re.S | re.X)


def tokens(text):
    return [(m.lastgroup, m.group()) for m in TOKEN.finditer(text)]


def unifdef_no_act(text):
    """Resolves `#ifndef NORMKIT_EXPORT_NO_ACT` blocks as if it were defined: their lines
    (up to the matching #else or #endif) are dropped, so no dead SLEEF branch is exported."""
    out, stack = [], []  # stack: for each open #if, whether its current branch is dropped
    for line in text.split("\n"):
        s = line.strip()
        drop = any(stack)
        if re.match(r"#\s*ifndef\s+NORMKIT_EXPORT_NO_ACT\b", s):
            stack.append(True)
            continue
        if re.match(r"#\s*ifdef\s+NORMKIT_EXPORT_NO_ACT\b", s):
            stack.append(False)
            continue
        if re.match(r"#\s*if", s):
            stack.append(None)
        elif re.match(r"#\s*else\b", s) and stack and stack[-1] is not None:
            stack[-1] = not stack[-1]
            continue
        elif re.match(r"#\s*endif\b", s) and stack:
            if stack.pop() is not None:
                continue
        if not drop:
            out.append(line)
    return "\n".join(out)


# a kernel file's own target block: the export puts one around every unit of the ISA instead
OWN_TARGET = re.compile(
    r"^#if defined\(__clang__\)\n#pragma clang attribute push\(.*?\)\n#else\n"
    r"#pragma GCC target\(.*?\)\n#endif\n", re.M)
OWN_POP = re.compile(r"^#if defined\(__clang__\)\n#pragma clang attribute pop\n#endif\n", re.M)
# the SVE files' (and their headers') plain pragma: a push/pop block replaces it too
OWN_SVE = re.compile(r'^#pragma GCC target\("\+sve"\)\n', re.M)


def local_names(text):
    """What a kernel file defines for itself: macros, enum constants, typedef and struct names,
    and functions other than normkit_* (the variant itself). The export renames them per
    file, so several variants (each with its own nk_mask, MR, tile, ...) share one .c."""
    names = set(re.findall(r"^\s*#\s*define\s+([A-Za-z_]\w*)", text, re.M))
    code = [t for t in tokens(re.sub(r"^\s*#.*?(?<!\\)$", "", text, flags=re.M | re.S))
            if t[0] not in ("comment",) and not t[1].isspace()]
    depth, i = 0, 0
    while i < len(code):
        kind, v = code[i]
        if v == "enum" and i + 1 < len(code):
            j = i + 1
            if code[j][0] == "ident":
                j += 1
            if j < len(code) and code[j][1] == "{":
                d, j, expect = 1, j + 1, True
                while d:
                    k2, v2 = code[j]
                    if v2 in "({[":
                        d += 1
                    elif v2 in ")}]":
                        d -= 1
                    elif d == 1 and expect and k2 == "ident":
                        names.add(v2)
                        expect = False
                    elif d == 1 and v2 == ",":
                        expect = True
                    j += 1
        if v == "{":
            depth += 1
        elif v == "}":
            depth -= 1
        elif depth == 0 and v == "typedef":
            j, d, last = i + 1, 0, None
            while not (d == 0 and code[j][1] == ";"):
                if code[j][1] in "({[":
                    d += 1
                elif code[j][1] in ")}]":
                    d -= 1
                elif d == 0 and code[j][0] == "ident":
                    last = code[j][1]
                j += 1
            names.add(last)
        elif depth == 0 and v == "struct" and code[i + 1][0] == "ident":
            names.add(code[i + 1][1])
        elif depth == 0 and kind == "ident" and i + 1 < len(code) and code[i + 1][1] == "(":
            j, d = i + 2, 1
            while d:
                d += {"(": 1, ")": -1}.get(code[j][1], 0)
                j += 1
            if j < len(code) and code[j][1] == "{":
                names.add(v)
        i += 1
    return {n for n in names if n and not n.startswith(("normkit_", "NORMKIT_"))}


def rename(text, pfx, local):
    """normkit_* -> <pfx>nk_*, NORMKIT_* -> <PFX>NK_*, and the file's local names as mapped;
    code only (comments and strings stay), never a member after . or ->."""
    PFX = pfx.upper()
    out, prev = [], ""
    for kind, v in tokens(text):
        if kind == "ident" and prev not in (".", "->"):
            if v in local:
                v = local[v]
            elif v.startswith("normkit_"):
                v = pfx + "nk_" + v[len("normkit_"):]
            elif v.startswith("NORMKIT_"):
                v = PFX + "NK_" + v[len("NORMKIT_"):]
        out.append(v)
        if not v.isspace() and kind != "comment":
            prev = v if v != ">" or prev != "-" else "->"
    return "".join(out)


def local_map(names, pfx, tag):
    m = {}
    for n in sorted(names):
        base = re.sub(r"^(nk_|NK_)", "", n)
        m[n] = (pfx.upper() + tag.upper() if n.isupper() else pfx + tag) + "_" + base
    return m


def strip_includes(text):
    return re.sub(r'^#include\s+"[^"]*"[^\n]*\n', "", text, flags=re.M)


def kernel_header(src, ops, needed_ops):
    """kernels/normkit_kernel.h with the operator typedefs expanded for the needed ops only."""
    text = read(src, "kernels", "normkit_kernel.h")
    start = text.index("#define NORMKIT_OP(")
    end = text.index("#undef NORMKIT_OP\n") + len("#undef NORMKIT_OP\n")
    typedefs = "".join("typedef void normkit_%s_f32_ukernel(%s, %s);\n"
                       % (op, ops[op]["params"], ops[op]["kparams"]) for op in needed_ops)
    return text[:start] + typedefs + text[end:]


# ---------------------------------------------------------------- the export itself

def c_value(v):
    return "SIZE_MAX" if v == NEVER else "(size_t)%d" % v


def kparams_init(p):
    return "{" + ", ".join(".%s = %s" % (k, c_value(p[k]) if k not in ("pack_nr", "pack_vl")
                                         else str(p[k])) for k in KP_FIELDS) + "}"


def fmt_knobs(p, linear):
    keys = ["lin_kc", "lin_mc", "lin_prefetch", "lin_pack_rows"] if linear else \
        ["nt_min_bytes", "dram_min_bytes", "pipe_max_dim"]
    return ", ".join("%s %s" % (k, "never" if p[k] == NEVER else p[k]) for k in keys)


FORMULA = {
    "rmsnorm": "y = x / sqrt(mean(x^2) + eps) * gamma",
    "layernorm": "y = (x - mean) / sqrt(var + eps) * gamma + beta  (var: population variance)",
    "add_rmsnorm": "h = x + r (one float addition); r <- h; y = RMSNorm(h)",
    "add_layernorm": "h = x + r (one float addition); r <- h; y = LayerNorm(h)",
    "linear": "y = x . W^T + bias  (W [n x dim] row-major, like torch.nn.Linear.weight)",
    "rmsnorm_linear": "y = RMSNorm(x) . W^T + bias",
    "layernorm_linear": "y = LayerNorm(x) . W^T + bias",
}
BOUND = {
    "RMS": "|y - y_exact| <= (dim/2 + 6) u |y_exact|",
    "LN": "|y - y_exact| <= (1.5 dim + 12) u |gamma| zmax + 2u |y_exact|, "
          "zmax = max |x - mean| / sqrt(var + eps) over the row "
          "(plus 2^-148 |gamma| / sqrt(var + eps) for a mean in the subnormal range)",
}


def plan(args, src, ops, variants, defaults):
    """Per op: the units (kernel files) it needs and how its wrapper calls them."""
    isa, tuning = args.isa, args.tuning_data
    units, calls = [], {}

    def unit(op, suffix):
        path = "kernels/%s/%s_f32__%s%s.c" % (op, op, isa, suffix)
        if path not in units:
            units.append(path)
        return "normkit_%s_f32__%s%s" % (op, isa, suffix)

    for op in args.ops:
        mine = [v for v in variants[op] if v[0] == isa]
        if not mine:
            raise ExportError("this build has no %s variant of %s" % (isa, op))
        by_suffix = {v[1]: v[2] for v in mine}
        if ops[op]["linear"]:
            suffix, knobs = "", {}
            if tuning and (op, isa, "all") in tuning["entries"]:
                suffix, knobs = tuning["entries"][(op, isa, "all")]
            params = dict(by_suffix[suffix], **knobs)
            if op != "linear":
                norm, nvar = fused_norm_variant(src, op, isa)
                unit(norm, nvar)
            unit("linear", "")
            calls[op] = dict(fn="normkit_%s_f32__%s" % (op, isa), params=params,
                             norm=op != "linear" and "normkit_%s_f32__%s%s" % (norm, isa, nvar))
        else:
            per_class = []
            for cls in CLASSES:
                if tuning and (op, isa, cls) in tuning["entries"]:
                    suffix, knobs = tuning["entries"][(op, isa, cls)]
                else:
                    suffix, knobs = defaults.get((op, isa, cls), mine[0][1]), {}
                    if suffix not in by_suffix:
                        suffix = mine[0][1]
                per_class.append((suffix, dict(by_suffix[suffix], **knobs)))
            for s, _ in per_class:
                unit(op, s)
            calls[op] = dict(classes=per_class)
    # the fused ops' own functions come last: they call the norm and linear variants
    fused = [op for op in args.ops if op.endswith("_linear")]
    return units, calls, fused


def wrapper(op, info, call, pfx, isa, l1d, l2):
    """The public function: the entry point's checks, then the baked variant."""
    P, NK = pfx, pfx + "nk_"
    params = info["params"]
    lin, res, beta = info["linear"], info["residual"], info["beta"]
    norm = info["norm"] != "NONE"
    body = ["    if (rows == 0)", "        return 0;"]
    if lin:
        body += ["    if (!x || !w || !y)", "        return %d;" % STATUS["NULL"],
                 "    if (dim == 0 || n == 0 || !%smatrix_ok(rows, dim, ldx) ||" % P,
                 "        !%smatrix_ok(rows, n, ldy) || !%smatrix_ok(n, dim, ldw))" % (P, P),
                 "        return %d;" % STATUS["SHAPE"]]
        ov = ["%soverlap(y, rows, n, ldy, x, rows, dim, ldx)" % P,
              "%soverlap(y, rows, n, ldy, w, n, dim, ldw)" % P,
              "(bias && %soverlap(y, rows, n, ldy, bias, 1, n, n))" % P]
        if norm:
            ov.append("(gamma && %soverlap(y, rows, n, ldy, gamma, 1, dim, dim))" % P)
        if beta:
            ov.append("(beta && %soverlap(y, rows, n, ldy, beta, 1, dim, dim))" % P)
        body += ["    if (" + " ||\n        ".join(ov) + ")", "        return %d;" % STATUS["SHAPE"]]
    else:
        body += ["    if (!x || !y%s)" % (" || !r" if res else ""),
                 "        return %d;" % STATUS["NULL"],
                 "    if (dim == 0 || !%smatrix_ok(rows, dim, ldx) || !%smatrix_ok(rows, dim, ldy)%s)"
                 % (P, P, " ||\n        !%smatrix_ok(rows, dim, ldr)" % P if res else ""),
                 "        return %d;" % STATUS["SHAPE"],
                 "    if (%s(y == x && ldy != ldx && rows > 1))" % ("y == r || " if res else ""),
                 "        return %d;" % STATUS["SHAPE"]]
    if norm:
        body += ["    if (!(eps >= 0.0f && eps <= FLT_MAX))", "        return %d;" % STATUS["EPS"]]
    args = [a.split()[-1].lstrip("*") for a in params.split(",")]
    if lin:
        fused = 1 if norm else 0
        body += ["    static const %skparams base = %s;" % (NK, kparams_init(call["params"])),
                 "    %skparams kp;" % NK,
                 "    %slinear_blocking(&base, rows, dim, %s_L1D_BYTES, %s_L2_BYTES, &kp);"
                 % (NK, (P + "normkit").upper(), (P + "normkit").upper()),
                 "    const size_t floats = %slinear_ws_floats(&kp, rows, dim, %d);" % (NK, fused),
                 "    if (floats > (SIZE_MAX - 64) / sizeof(float))",
                 "        return %d;" % STATUS["NOMEM"],
                 "    float *ws = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);",
                 "    if (!ws)", "        return %d;" % STATUS["NOMEM"],
                 "    %s(%s, &kp, ws, NULL);" % (call["fn"].replace("normkit_", NK),
                                                 ", ".join(args)),
                 "    free(ws);", "    return 0;"]
    else:
        classes = call["classes"]
        configs = []
        for s, p in classes:
            if (s, p) not in configs:
                configs.append((s, p))
        for i, (s, p) in enumerate(configs):
            body.append("    static const %skparams kp%d = %s;" % (NK, i, kparams_init(p)))
        fn = lambda s: "%s%s_f32__%s%s" % (NK, op, isa, s)
        call_args = ", ".join(args)
        if len(configs) == 1:
            body.append("    %s(%s, &kp0);" % (fn(configs[0][0]), call_args))
        else:
            body += ["    switch (%sshape_class_index(rows, dim, %d, %d, %s_L1D_BYTES, %s_L2_BYTES)) {"
                     % (NK, info["mats"], info["vecs"], (P + "normkit").upper(),
                        (P + "normkit").upper())]
            for c, (s, p) in enumerate(classes):
                i = configs.index((s, p))
                last = c == len(classes) - 1
                body += ["    %s: /* %s */" % ("default" if last else "case %d" % c, CLASSES[c]),
                         "        %s(%s, &kp%d);" % (fn(s), call_args, i), "        break;"]
            body.append("    }")
        body.append("    return 0;")
    return "int %s%s_f32(%s)\n{\n%s\n}\n" % (pfx, op, params, "\n".join(body))


def export(args, src):
    ops = parse_ops(src)
    variants = {op: parse_variants(src, op) for op in ops}
    defaults = parse_defaults(src)
    isa, pfx = args.isa, args.prefix
    PFXN = (pfx + "normkit").upper()
    units, calls, fused = plan(args, src, ops, variants, defaults)

    # the .c: the kernel header, then the units (each in the ISA's target block), then wrappers
    kops = sorted({u.split("/")[1] for u in units} | set(fused), key=list(ops).index)
    hdr = unifdef_no_act(kernel_header(src, ops, kops))
    parts = [rename(strip_includes(hdr), pfx, {})]
    headers_done = set()
    for n, u in enumerate(units, 1):
        text = unifdef_no_act(read(src, u))
        text = OWN_SVE.sub("", OWN_POP.sub("", OWN_TARGET.sub("", text)))
        pieces = []
        for inc in re.findall(r'^#include\s+"([^"]+)"', text, re.M):
            if inc == "normkit_kernel.h" or inc in headers_done:
                continue
            headers_done.add(inc)
            htext = OWN_SVE.sub("", unifdef_no_act(read(src, os.path.dirname(u), inc)))
            hmap = local_map(local_names(htext), pfx, "h%d" % len(headers_done))
            pieces.append(("%s (from %s)" % (inc, u), htext, hmap))
        for label, htext, hmap in pieces:
            parts.append(block(isa, "/* ---- %s ---- */\n" % label +
                               rename(strip_includes(htext), pfx, hmap)))
        own = local_map(local_names(text), pfx, "k%d" % n)
        hmaps = {}
        for _, _, hm in pieces:
            hmaps.update(hm)
        for name, new in list(hmaps.items()):
            own.setdefault(name, new)
        text = strip_includes(text)
        # the variant has internal linkage: only the wrappers are exported
        text = re.sub(r"^(normkit_\w+_f32_ukernel normkit_\w+;)", r"static \1", text, flags=re.M)
        parts.append(block(isa, "/* ---- %s ---- */\n" % u + rename(text, pfx, own)))
    for op in fused:
        norm = op[:-len("_linear")]
        _, nvar = fused_norm_variant(src, op, isa)
        parts.append(block(isa, rename(
            "/* ---- kernels/%s/%s_f32__%s.c: %s from normkit_%s_f32__%s%s and "
            "normkit_linear_f32__%s ---- */\n"
            "static normkit_%s_f32_ukernel normkit_%s_f32__%s;\nNORMKIT_NORM_LINEAR(%s, %s, %s)\n"
            % (op, op, isa, op, norm, isa, nvar, isa, op, op, isa, norm, isa, nvar), pfx, {})))

    wr = [wrapper(op, ops[op], calls[op], pfx, isa, 0, 0) for op in args.ops]
    supported = supported_fn(isa, pfx)
    ctext = c_file(args, pfx, PFXN, isa, parts, wr, supported)
    htext = h_file(args, pfx, PFXN, isa, ops, calls, variants)
    return {"%snormkit.h" % pfx: htext, "%snormkit_%s.c" % (pfx, isa): ctext}


def block(isa, text):
    if isa not in TARGET:
        return text
    t = TARGET[isa]
    return ("#if defined(__clang__)\n"
            "#pragma clang attribute push(__attribute__((target(\"%s\"))), apply_to = function)\n"
            "#elif defined(__GNUC__)\n#pragma GCC push_options\n#pragma GCC target(\"%s\")\n"
            "#endif\n\n%s\n#if defined(__clang__)\n#pragma clang attribute pop\n"
            "#elif defined(__GNUC__)\n#pragma GCC pop_options\n#endif\n" % (t, t, text.rstrip()))


def supported_fn(isa, pfx):
    name = "int %snormkit_%s_supported(void)\n{\n" % (pfx, isa)
    if isa in CPU_FEATURES:
        checks = " &&\n           ".join('__builtin_cpu_supports("%s")' % f
                                         for f in CPU_FEATURES[isa])
        return (name + "    /* the compiler's CPUID check (it also asks the OS, via XGETBV, "
                "whether it saves the vector registers) */\n    __builtin_cpu_init();\n"
                "    return %s;\n}\n" % checks)
    if isa == "sve":
        return ("#if defined(__aarch64__) && defined(__linux__)\n#include <asm/hwcap.h>\n"
                "#include <sys/auxv.h>\n#endif\n" + name +
                "#if defined(__aarch64__) && defined(__linux__) && defined(HWCAP_SVE)\n"
                "    /* the kernel says whether the CPU has SVE (and the OS saves its state) */\n"
                "    return (getauxval(AT_HWCAP) & HWCAP_SVE) != 0;\n#else\n    return 0;\n"
                "#endif\n}\n")
    return name + "    return 1; /* part of the architecture's baseline */\n}\n"


LICENSE = """Copyright (c) the normkit authors. MIT License (normkit's, see its meson.build):
Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions: The above copyright
notice and this permission notice shall be included in all copies or substantial portions of
the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A
PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE
LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
IN THE SOFTWARE."""


def tuning_line(args):
    t = args.tuning_data
    if not t:
        return ("built-in defaults (kernels/normkit_defaults.inc and the registry's knobs); "
                "caches L1d %d B, L2 %d B" % (args.l1d_bytes, args.l2_bytes))
    return ("tuning file %s (machine: %s, L1d %d B, L2 %d B%s)"
            % (t["path"], t["cpu"], t["l1d"], t["l2"],
               ", created %s" % t["created"] if t["created"] else ""))


def command_line(args):
    cmd = ["normkit-export", "--isa", args.isa, "--ops", ",".join(args.ops)]
    if args.tuning:
        cmd += ["--tuning", args.tuning]
    if args.l1d is not None:
        cmd += ["--l1d", str(args.l1d), "--l2", str(args.l2)]
    return " ".join(cmd + ["--prefix", args.prefix, "-o", "DIR"])


def provenance(args):
    """The command and the tuning, as comment lines."""
    out = []
    for l in ("command: " + command_line(args), "tuning: " + tuning_line(args)):
        out += textwrap.wrap(l, 91, initial_indent="   ", subsequent_indent="     ",
                             break_on_hyphens=False, break_long_words=False)
    return "\n".join(" *" + l for l in out)


def c_file(args, pfx, PFXN, isa, parts, wrappers, supported):
    intrin = "#include <%s>\n" % INTRIN[isa] if isa in INTRIN else ""
    head = """/*
 * %snormkit_%s.c: normkit kernels exported for %s by normkit-export; declarations and
 * documentation in %snormkit.h. Generated: edit normkit and export again rather than this file.
%s
 * Builds with any C11 compiler and no flags (`cc -c`; add your usual -O2): the kernels carry
 * their ISA as target attributes, the rest is plain C. Names from normkit are renamed into
 * this export's namespace (normkit_X -> %snk_X, NORMKIT_X -> %sNK_X; each kernel file's
 * private names get a %skN_ / %shN_ prefix); comments keep normkit's names.
 *
 * %s
 */
""" % (pfx, isa, isa, pfx, provenance(args), pfx, pfx.upper(), pfx,
       pfx, LICENSE.replace("\n", "\n * "))
    pre = """#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
%s
#include "%snormkit.h"

/* normkit is built as ISO C (no contraction of a * b + c into an FMA): so is this file, for
 * the same results bit for bit whatever the compiler's default. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

""" % (intrin, pfx)
    helpers = """
/* ---- the public entry points' argument checks (normkit's dispatch/dispatch.c) ---- */

/* rows x dim with stride ld is addressable: (rows-1)*ld + dim floats within PTRDIFF_MAX bytes */
static int %smatrix_ok(size_t rows, size_t dim, size_t ld)
{
    const size_t max = (size_t)PTRDIFF_MAX / sizeof(float);
    return ld >= dim && dim <= max && (rows - 1) <= (max - dim) / ld;
}

/* The address ranges [p, p + (rows-1)*ld + cols) of two checked matrices overlap. */
static int %soverlap(const float *p, size_t prows, size_t pcols, size_t pld, const float *q,
                     size_t qrows, size_t qcols, size_t qld)
{
    const uintptr_t p0 = (uintptr_t)p, p1 = p0 + ((prows - 1) * pld + pcols) * sizeof(float);
    const uintptr_t q0 = (uintptr_t)q, q1 = q0 + ((qrows - 1) * qld + qcols) * sizeof(float);
    return p0 < q1 && q0 < p1;
}

""" % (pfx, pfx)
    lin = any(w for w in wrappers if "_linear_f32(" in w or "%slinear_f32(" % pfx in w)
    norm_only = not any("overlap(" in w for w in wrappers)
    if norm_only:  # no linear op: the overlap helper would be unused
        helpers = helpers[:helpers.index("/* The address ranges")]
    text = head + pre + "\n".join(p.rstrip() + "\n" for p in parts) + helpers + \
        "\n".join(wrappers) + "\n" + supported
    text = re.sub(r"\n{3,}", "\n\n", text)
    del lin
    return text


def h_file(args, pfx, PFXN, isa, ops, calls, variants):
    guard = PFXN + "_H"
    docs = []
    for op in args.ops:
        info, call = ops[op], calls[op]
        lines = ["%s%s_f32: %s" % (pfx, op, FORMULA[op])]
        if info["norm"] != "NONE":
            lines.append("  bound (u = 2^-24, against exact arithmetic; float accumulation): %s%s"
                         % (BOUND[info["norm"]], "; for add+norm, against the norm of h"
                            if info["residual"] else ""))
        if info["linear"]:
            lines.append("  each output within (dim + 4) u sum_k |A_k W_jk| + u |y| of the exact "
                         "product of the (normalized) row A%s"
                         % (", plus the norm's bound carried through W" if info["norm"] != "NONE"
                            else ""))
            lines.append("  kernel %s%s; knobs %s; blocking from L1d %d B, L2 %d B"
                         % (call["fn"].replace("normkit_", pfx + "nk_"),
                            " (norm: %s)" % call["norm"].replace("normkit_", pfx + "nk_")
                            if call["norm"] else "", fmt_knobs(call["params"], True),
                            args.l1d_bytes, args.l2_bytes))
        else:
            groups = []
            for c, (s, p) in enumerate(call["classes"]):
                desc = "%snk_%s_f32__%s%s (%s)" % (pfx, op, isa, s, fmt_knobs(p, False))
                if groups and groups[-1][1] == desc:
                    groups[-1][0].append(CLASSES[c])
                else:
                    groups.append(([CLASSES[c]], desc))
            for cls, desc in groups:
                lines.append("  %s: %s" % ("every shape class" if len(cls) == len(CLASSES)
                                           else ",".join(cls), desc))
        wrapped = []
        for l in lines:  # at 96 columns, continuation lines indented under their item
            indent = " " * (len(l) - len(l.lstrip()) + 2)
            wrapped += textwrap.wrap(l, 93, subsequent_indent=indent, break_on_hyphens=False)
        docs.append("\n".join(" * " + l for l in wrapped))
    decls = "\n".join("int %s%s_f32(%s);" % (pfx, op, ops[op]["params"]) for op in args.ops)
    return """/*
 * %snormkit.h: normkit kernels for %s, exported by normkit-export (%snormkit_%s.c).
%s
 *
 * Each %sOP_f32 takes exactly the parameters of normkit's public normkit_OP_f32 and applies
 * its argument rules: 0 on success; otherwise, writing nothing, 1 (a NULL x, y, r or w),
 * 2 (dim or n 0, a stride below dim or n, a size beyond the address space, y == r, y == x
 * with another stride, or, for the linear ops, y overlapping x, W, bias, gamma or beta),
 * 3 (eps negative, NaN or infinite), 5 (out of memory: the linear ops allocate their
 * workspace, 64-byte aligned, with aligned_alloc and free it before returning).
 * rows == 0 returns 0 and looks at nothing else. Strides count elements; no alignment is
 * needed; gamma/beta/bias may be NULL (1, 0, 0); y may be exactly x (same stride) for the
 * norms. Thread-safe: no state.
 *
 * Numerics (normkit's, bit for bit the library's %s variants with these knobs):
 * float accumulation; LayerNorm shifts its statistics by the row's first element and keeps
 * the mean as a pair of floats (never E[x^2] - E[x]^2); rows whose float statistics could
 * overflow or underflow are recomputed in double; a row with NaN or Inf gives NaN throughout
 * (add+norm still writes r = x + r); zero spread with eps == 0 gives y = 0 (RMSNorm) or beta.
 *
%s
 *
 * Flags: none. The %s kernels carry target attributes; call them only on a CPU that has
 * the ISA: %snormkit_%s_supported() says so (1 for scalar and neon; sve asks HWCAP_SVE).
 * Linking: the C library (and libm for sqrt).
 *
 * %s
 */
#ifndef %s
#define %s

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* the cache sizes the shape classes and the linear blocking were cut at */
#define %s_L1D_BYTES %d
#define %s_L2_BYTES %d

/* 1 when this CPU (and OS) can run the %s kernels */
int %snormkit_%s_supported(void);

%s

#ifdef __cplusplus
}
#endif

#endif /* %s */
""" % (pfx, isa, pfx, isa, provenance(args), pfx, isa,
       "\n *\n".join(docs), isa, pfx, isa, LICENSE.replace("\n", "\n * "), guard, guard,
       PFXN, args.l1d_bytes, PFXN, args.l2_bytes, isa, pfx, isa, decls, guard)


# ---------------------------------------------------------------- command line

class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ExportError(message, 2)


def main(argv=None):
    p = Parser(prog=PROG, description="Export normkit kernels as self-contained C.")
    p.add_argument("--isa", required=True)
    p.add_argument("--ops", required=True, help="comma-separated: " + ",".join(EXPORTABLE))
    p.add_argument("--tuning", help="a tuning file (docs/tuning.md) to bake in")
    p.add_argument("--prefix", default="nkx_")
    p.add_argument("--l1d", type=int, help="L1d bytes (without --tuning; default: normkit-info)")
    p.add_argument("--l2", type=int, help="L2 bytes (with --l1d)")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    # set by the build's launcher
    p.add_argument("--source-dir", default=os.path.join(os.path.dirname(__file__), "..", ".."),
                   help=argparse.SUPPRESS)
    p.add_argument("--build-isas", help=argparse.SUPPRESS)
    p.add_argument("--normkit-info", help=argparse.SUPPRESS)
    p.add_argument("--exe-wrapper", default="", help=argparse.SUPPRESS)
    try:
        args = p.parse_args(argv)
        run(args)
    except ExportError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return e.status
    return 0


def run(args):
    src = os.path.abspath(args.source_dir)
    build_isas = args.build_isas.split(",") if args.build_isas else ["scalar"]
    if args.isa not in KNOWN_ISAS:
        raise ExportError("unknown ISA %r (known: %s)" % (args.isa, ", ".join(KNOWN_ISAS)), 2)
    if args.isa not in build_isas:
        raise ExportError("ISA %r is not in this build (it has %s)"
                          % (args.isa, ", ".join(build_isas)), 2)
    ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    if not ops:
        raise ExportError("--ops is empty", 2)
    for o in ops:
        if o in REFUSED:
            raise ExportError("%s cannot be exported: %s" % (o, REFUSED[o]), 2)
        if o not in EXPORTABLE:
            raise ExportError("unknown op %r (exportable: %s)" % (o, ", ".join(EXPORTABLE)), 2)
    args.ops = [o for o in EXPORTABLE if o in ops]  # table order, once each
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", args.prefix) or \
            re.match(r"_[A-Z_]", args.prefix):
        raise ExportError("--prefix %r is not a valid (non-reserved) C identifier prefix"
                          % args.prefix, 2)
    if (args.l1d is None) != (args.l2 is None):
        raise ExportError("--l1d and --l2 go together", 2)
    if args.tuning and args.l1d is not None:
        raise ExportError("--l1d/--l2 and --tuning exclude each other: the tuning file's "
                          "machine gives the cache sizes", 2)
    # the tuning file's range (docs/tuning.md); a huge one would not even be a C integer constant
    if args.l1d is not None and not (0 < args.l1d <= 1 << 50 and 0 < args.l2 <= 1 << 50):
        raise ExportError("--l1d and --l2 must be positive byte counts up to 2^50 (got %d, %d)"
                          % (args.l1d, args.l2), 2)
    ops_table = parse_ops(src)
    variants = {op: parse_variants(src, op) for op in ops_table}
    args.tuning_data = None
    if args.tuning:
        args.tuning_data = load_tuning(args.tuning, ops_table, variants, build_isas)
        args.l1d_bytes, args.l2_bytes = args.tuning_data["l1d"], args.tuning_data["l2"]
    elif args.l1d is not None:
        args.l1d_bytes, args.l2_bytes = args.l1d, args.l2
    else:
        caches = machine_caches(args.normkit_info, args.exe_wrapper.split())
        if not caches:
            raise ExportError("cannot read this machine's cache sizes (normkit-info --json); "
                              "pass --l1d BYTES --l2 BYTES", 2)
        args.l1d_bytes, args.l2_bytes = caches
    files = export(args, src)
    write_atomically(args.output, files)


def write_atomically(out, files):
    """Everything into a temporary sibling, renamed into place at the end."""
    out = os.path.abspath(out)
    parent = os.path.dirname(out)
    if os.path.lexists(out):
        if not os.path.isdir(out) or os.listdir(out):
            raise ExportError("%s exists and is not an empty directory" % out)
    if not os.path.isdir(parent):
        raise ExportError("cannot write %s: %s is not a directory" % (out, parent))
    try:
        tmp = tempfile.mkdtemp(prefix="." + os.path.basename(out) + ".", dir=parent)
    except OSError as e:
        raise ExportError("cannot write into %s: %s" % (parent, e.strerror))
    try:
        for name, text in files.items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(text)
        os.chmod(tmp, 0o755)
        if os.path.isdir(out):
            os.rmdir(out)  # empty (checked above)
        os.rename(tmp, out)
    except BaseException as e:  # Ctrl-C too: no temporary left behind
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError):
            raise ExportError("cannot write %s: %s" % (out, e.strerror))
        raise


if __name__ == "__main__":
    sys.exit(main())
