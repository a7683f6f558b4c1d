#!/usr/bin/env python3
"""normkit-export's tests (suite 'export'; tests/meson.build passes the paths).

  main:    for every ISA of the build, an export of every exportable op compiled alone with the
           plain compiler (`cc -c`, no flags), linked with tests/export_driver.c and the
           library, run (under the exe wrapper in a cross build): reference, bit-identity and
           bad-argument checks; each op exported alone compiles; two prefixes link together;
           a tuning file's choices are baked; the command line's errors.
  example: examples/toy_engine: its committed exports are what the command in its README
           writes, and it builds and runs with make.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

A = None  # the command line
OPS = ["rmsnorm", "layernorm", "add_rmsnorm", "add_layernorm", "linear", "rmsnorm_linear",
       "layernorm_linear"]


def export(*args, check=True):
    p = subprocess.run([A.exporter] + list(args), capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError("normkit-export %s: %d\n%s" % (" ".join(args), p.returncode,
                                                            p.stderr))
    return p


def sh(cmd, cwd=None):
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(cmd), p.returncode, p.stdout,
                                                    p.stderr))
    return p


class Main(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="nk-export-test.")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_isas(self):
        """Every ISA of the build: export, plain cc -c, link with the driver, run."""
        cc = shlex.split(A.cc)
        for isa in A.build_isas:
            with self.subTest(isa=isa):
                out = os.path.join(self.tmp, "all-" + isa)
                export("--isa", isa, "--ops", ",".join(OPS), "--prefix", "nkt_", "-o", out)
                src = "nkt_normkit_%s.c" % isa
                sh(cc + ["-c", src], cwd=out)  # no flags at all
                with open(os.path.join(out, src)) as f:
                    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", f.read(), flags=re.S)
                for bad in ("sleef", "Sleef", "#include \"normkit", "hwloc", "pthread"):
                    self.assertFalse(bad in code, "%s: %r outside comments" % (src, bad))
                exe = os.path.join(out, "driver")
                S, B = A.source_dir, A.build_dir
                sh(cc + ["-std=c11", "-O1",
                         "-DNKT_SUPPORTED=nkt_normkit_%s_supported" % isa,
                         "-I", out, "-I", os.path.join(S, "include"),
                         "-I", os.path.join(S, "kernels"), "-I", os.path.join(S, "tests"),
                         "-I", os.path.join(S, "dispatch"), "-I", os.path.join(B, "kernels"),
                         "-o", exe, os.path.join(S, "tests", "export_driver.c"),
                         os.path.join(S, "tests", "reference.c"),
                         os.path.join(S, "tests", "block_f64.c"),
                         os.path.join(out, "nkt_normkit_%s.o" % isa), A.lib] +
                   shlex.split(A.libs) + shlex.split(A.link_flags))
                p = subprocess.run(A.wrapper + [exe, isa], capture_output=True, text=True)
                sys.stdout.write(p.stdout)
                if p.returncode == 77:
                    print("SKIP %s: this CPU cannot run it" % isa)
                    continue
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr[-4000:])

    def test_each_op_alone(self):
        cc = shlex.split(A.cc)
        for isa in A.build_isas:
            for op in OPS:
                with self.subTest(isa=isa, op=op):
                    out = os.path.join(self.tmp, "%s-%s" % (isa, op))
                    export("--isa", isa, "--ops", op, "-o", out)
                    self.assertEqual(sorted(os.listdir(out)),
                                     ["nkx_normkit.h", "nkx_normkit_%s.c" % isa])
                    sh(cc + ["-c", "nkx_normkit_%s.c" % isa], cwd=out)

    def test_two_prefixes_link(self):
        cc = shlex.split(A.cc)
        isa = A.build_isas[-1]
        for pfx in ("nka_", "nkb_"):
            export("--isa", isa, "--ops", "rmsnorm,linear", "--prefix", pfx,
                   "-o", os.path.join(self.tmp, pfx))
        main = os.path.join(self.tmp, "main.c")
        with open(main, "w") as f:
            f.write('#include "nka_normkit.h"\n#include "nkb_normkit.h"\n'
                    "int main(void) { float x[4] = {1, 2, 3, 4}, y[4], z[4];\n"
                    "  if (!nka_normkit_%s_supported()) return 0;\n"
                    "  return nka_rmsnorm_f32(1, 4, x, 4, 0, 0.0f, y, 4) |\n"
                    "         nkb_rmsnorm_f32(1, 4, x, 4, 0, 0.0f, z, 4) | (y[3] != z[3]); }\n"
                    % isa)
        exe = os.path.join(self.tmp, "two")
        sh(cc + ["-std=c11", "-I", os.path.join(self.tmp, "nka_"),
                 "-I", os.path.join(self.tmp, "nkb_"), "-o", exe, main,
                 os.path.join(self.tmp, "nka_", "nka_normkit_%s.c" % isa),
                 os.path.join(self.tmp, "nkb_", "nkb_normkit_%s.c" % isa), "-lm"])
        sh(A.wrapper + [exe])

    def tuning_file(self, kernels, machine=None, **top):
        data = {"format": "normkit-tuning", "version": 1,
                "machine": machine or {"cpu": "Test CPU", "l1d_bytes": 32768,
                                       "l2_bytes": 524288},
                "created": "2026-12-02T19:00:00Z", "tool": "test", "kernels": kernels}
        data.update(top)
        path = os.path.join(self.tmp, "tuning-%d.json" % len(os.listdir(self.tmp)))
        with open(path, "w") as f:
            json.dump(data, f)
        return path

    def test_tuning_baked(self):
        isa = A.build_isas[-1]
        if isa == "scalar":
            self.skipTest("no SIMD ISA with several variants in this build")
        other = "u2_acc4"
        path = self.tuning_file([
            {"op": "rmsnorm", "isa": isa, "class": "l1_row", "variant": other,
             "params": {"pipe_max_dim": 512, "nt_min_bytes": "never"}},
            {"op": "linear", "isa": isa, "class": "all", "variant": "",
             "params": {"lin_kc": 128, "lin_mc": 8}}])
        out = os.path.join(self.tmp, "tuned")
        export("--isa", isa, "--ops", "rmsnorm,linear", "--tuning", path, "-o", out)
        with open(os.path.join(out, "nkx_normkit_%s.c" % isa)) as f:
            c = f.read()
        with open(os.path.join(out, "nkx_normkit.h")) as f:
            h = f.read()
        self.assertIn("nkx_nk_rmsnorm_f32__%s_%s(rows" % (isa, other), c)
        self.assertIn("switch (nkx_nk_shape_class_index(rows, dim, 2, 1, NKX_NORMKIT_L1D_BYTES", c)
        self.assertIn(".pipe_max_dim = (size_t)512", c)
        self.assertIn(".nt_min_bytes = SIZE_MAX", c)
        self.assertIn(".lin_kc = (size_t)128, .lin_mc = (size_t)8", c)
        self.assertIn("#define NKX_NORMKIT_L1D_BYTES 32768", h)
        self.assertIn("Test CPU", h)
        self.assertIn("2026-12-02T19:00:00Z", h)
        self.assertIn("l1_row: nkx_nk_rmsnorm_f32__%s_%s" % (isa, other), h)
        sh(shlex.split(A.cc) + ["-c", "nkx_normkit_%s.c" % isa], cwd=out)

    def expect_error(self, args, status, words, out=None):
        out = out or os.path.join(self.tmp, "out")
        before = sorted(os.listdir(os.path.dirname(out)))
        p = export(*(list(args) + ["-o", out]), check=False)
        self.assertEqual(p.returncode, status, p.stderr)
        lines = p.stderr.strip().split("\n")
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith("normkit-export: error: "), p.stderr)
        for w in words:
            self.assertIn(w, lines[0])
        self.assertEqual(sorted(os.listdir(os.path.dirname(out))), before)  # nothing written

    def test_cli_errors(self):
        isa = A.build_isas[0]
        foreign = "neon" if "avx2" in A.build_isas or "avx512" in A.build_isas else "avx2"
        self.expect_error(["--isa", isa, "--ops", "rmsnorm,bogus"], 2, ["bogus"])
        self.expect_error(["--isa", isa, "--ops", "gelu"], 2, ["gelu", "SLEEF"])
        self.expect_error(["--isa", isa, "--ops", "mul"], 2, ["mul"])
        self.expect_error(["--isa", "avx9000", "--ops", "rmsnorm"], 2, ["avx9000"])
        self.expect_error(["--isa", foreign, "--ops", "rmsnorm"], 2, [foreign, "not in this build"])
        self.expect_error(["--isa", isa, "--ops", "rmsnorm", "--prefix", "9x"], 2, ["prefix"])
        self.expect_error(["--isa", isa, "--ops", "rmsnorm", "--tuning",
                           os.path.join(self.tmp, "missing.json")], 1, ["missing.json"])
        # an existing non-empty folder
        full = os.path.join(self.tmp, "full")
        os.mkdir(full)
        open(os.path.join(full, "keep"), "w").close()
        self.expect_error(["--isa", isa, "--ops", "rmsnorm"], 1, ["not an empty directory"],
                          out=full)
        self.assertEqual(os.listdir(full), ["keep"])
        # an unwritable place: under a regular file (root can write anywhere else)
        plain = os.path.join(self.tmp, "plain")
        open(plain, "w").close()
        p = export("--isa", isa, "--ops", "rmsnorm", "-o", os.path.join(plain, "out"),
                   check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertTrue(p.stderr.startswith("normkit-export: error: "))
        ro = os.path.join(self.tmp, "ro")
        os.mkdir(ro)
        os.chmod(ro, 0o555)
        if os.access(ro, os.W_OK):
            print("note: running as root: a read-only folder is writable; tested a path under "
                  "a regular file instead")
        else:
            self.expect_error(["--isa", isa, "--ops", "rmsnorm"], 1, ["cannot"],
                              out=os.path.join(ro, "out"))
        os.chmod(ro, 0o755)
        # an existing empty folder is replaced
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        export("--isa", isa, "--ops", "rmsnorm", "-o", empty)
        self.assertEqual(len(os.listdir(empty)), 2)

    def test_bad_tuning(self):
        isa = A.build_isas[-1]
        ok = {"op": "rmsnorm", "isa": isa, "class": "l1_row",
              "variant": "" if isa == "scalar" else "u4_acc4"}
        foreign = "neon" if isa in ("avx2", "avx512", "scalar") else "avx2"
        cases = {
            "unknown top key": dict(kernels=[ok], extra=1),
            "unknown knob": dict(kernels=[dict(ok, params={"bogus": 1})]),
            "out of range": dict(kernels=[dict(ok, params={"pipe_max_dim": -1})]),
            "wrong type": dict(kernels=[dict(ok, params={"pipe_max_dim": "2048"})]),
            "unknown op": dict(kernels=[dict(ok, op="rmsnorm2")]),
            "unknown class": dict(kernels=[dict(ok, **{"class": "l3_rows"})]),
            "unknown variant": dict(kernels=[dict(ok, variant="u9_acc9")]),
            "duplicate": dict(kernels=[ok, ok]),
            "ISA not in build": dict(kernels=[dict(ok, isa=foreign, variant="")]),
            "lin_kc not a multiple of 64": dict(kernels=[
                {"op": "linear", "isa": isa, "class": "all", "variant": "",
                 "params": {"lin_kc": 100}}]),
        }
        for name, top in cases.items():
            with self.subTest(case=name):
                kernels = top.pop("kernels")
                path = self.tuning_file(kernels, **top)
                self.expect_error(["--isa", isa, "--ops", "rmsnorm", "--tuning", path], 1,
                                  [os.path.basename(path)])
        with self.subTest(case="truncated"):
            path = self.tuning_file([ok])
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text[:len(text) // 2])
            self.expect_error(["--isa", isa, "--ops", "rmsnorm", "--tuning", path], 1,
                              ["JSON"])


class Example(unittest.TestCase):
    """examples/toy_engine: committed exports reproduce; make builds and runs it."""

    def test_reproduces(self):
        ex = os.path.join(A.source_dir, "examples", "toy_engine")
        with open(os.path.join(ex, "README.md")) as f:
            cmds = [l.strip() for l in f if l.strip().startswith("normkit-export ")]
        self.assertEqual(len(cmds), 2, "README.md: the two export commands")
        tmp = tempfile.mkdtemp(prefix="nk-export-example.")
        try:
            for cmd in cmds:
                args = shlex.split(cmd)[1:]
                i = args.index("-o")
                rel = args[i + 1]
                if any(i not in A.build_isas for i in [args[args.index("--isa") + 1]]):
                    self.skipTest("the example's ISAs are not in this build")
                args[i + 1] = os.path.join(tmp, rel.replace("/", "_"))
                export(*args)
                for name in os.listdir(args[i + 1]):
                    with open(os.path.join(args[i + 1], name)) as f:
                        new = f.read()
                    with open(os.path.join(ex, rel, name)) as f:
                        old = f.read()
                    self.assertEqual(new, old, "%s/%s differs from a fresh export: export "
                                     "again with the README's command" % (rel, name))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_make_run(self):
        if A.wrapper:
            self.skipTest("cross build: the example is built and run natively")
        if not shutil.which("make"):
            self.skipTest("no make")
        tmp = tempfile.mkdtemp(prefix="nk-example.")
        try:
            dst = os.path.join(tmp, "toy_engine")
            shutil.copytree(os.path.join(A.source_dir, "examples", "toy_engine"), dst)
            sh(["make", "-s"], cwd=dst)
            p = sh(["make", "-s", "run"], cwd=dst)
            sys.stdout.write(p.stdout)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument("--exporter", required=True)
    p.add_argument("--source-dir", required=True)
    p.add_argument("--build-dir", required=True)
    p.add_argument("--build-isas", required=True)
    p.add_argument("--cc", required=True)
    p.add_argument("--lib", required=True)
    p.add_argument("--libs", default="-lm")
    p.add_argument("--exe-wrapper", default="")
    p.add_argument("--link-flags", default="", help="for the driver's link (a sanitized build)")
    p.add_argument("--only", choices=["main", "example"])
    A, rest = p.parse_known_args()
    A.build_isas = A.build_isas.split(",")
    A.wrapper = shlex.split(A.exe_wrapper)
    A.exporter = os.path.abspath(A.exporter)
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    if rest:  # names of tests to run, e.g. Main.test_isas
        suite.addTests(loader.loadTestsFromNames(rest, sys.modules[__name__]))
    if A.only in (None, "main") and not rest:
        suite.addTests(loader.loadTestsFromTestCase(Main))
    if A.only in (None, "example") and not rest:
        suite.addTests(loader.loadTestsFromTestCase(Example))
    r = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    return 0 if r.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
