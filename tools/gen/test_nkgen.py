#!/usr/bin/env python3
"""Tests of the template language (nkgen.py) and of the manifest's variant naming."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate  # noqa: E402
import nkgen  # noqa: E402


class TemplateLanguage(unittest.TestCase):
    def test_substitution_and_loops(self):
        tpl = ("a${N}b\n"
               "$for i in range(N):\n"
               "  x${i} = ${i * 2};\n"
               "$endfor\n"
               "end")
        self.assertEqual(nkgen.render(tpl, {"N": 3}), "a3b\n  x0 = 0;\n  x1 = 2;\n  x2 = 4;\nend")

    def test_if_elif_else_and_assignment(self):
        tpl = ("$K = N + 1\n"
               "$if N == 1:\n"
               "one ${K}\n"
               "$elif N == 2:\n"
               "two ${K}\n"
               "$else:\n"
               "many ${K}\n"
               "$endif")
        self.assertEqual(nkgen.render(tpl, {"N": 1}), "one 2")
        self.assertEqual(nkgen.render(tpl, {"N": 2}), "two 3")
        self.assertEqual(nkgen.render(tpl, {"N": 7}), "many 8")

    def test_nesting(self):
        tpl = ("$for i in range(2):\n"
               "  $if i:\n"
               "b${i}\n"
               "  $else:\n"
               "a${i}\n"
               "  $endif\n"
               "$endfor")
        self.assertEqual(nkgen.render(tpl, {}), "a0\nb1")

    def test_errors_name_the_template_line(self):
        for tpl, msg in [("$if X:\nfoo", "never closed"),
                         ("$endif", "without"),
                         ("$else:", "outside"),
                         ("$if X\n$endif", "trailing ':'"),
                         ("ok\n${missing}", "t.c.in:2: NameError"),
                         ("$if X:\n$else:\n$elif X:\n$endif", "t.c.in:3: `$elif` after `$else`"),
                         ("$iff X:\n", "t.c.in:1: unknown directive")]:
            with self.assertRaises(nkgen.TemplateError) as cm:
                nkgen.render(tpl, {"X": 1}, "t.c.in")
            self.assertIn(msg, str(cm.exception))

    def test_template_comments_vanish(self):
        self.assertEqual(nkgen.render("a\n  $# why the template does this\nb", {}), "a\nb")

    def test_blank_runs_collapse(self):
        self.assertEqual(nkgen.render("a\n\n$if 0:\nz\n$endif\n\n\nb", {}), "a\n\nb")


class Manifest(unittest.TestCase):
    def test_every_knob_value_has_a_variant(self):
        for isa, spec in generate.ISAS.items():
            names = [v[0] for v in generate.variants(isa)]
            self.assertEqual(len(names), len(set(names)))
            for key, _, values in spec["knobs"]:
                for value in values:
                    self.assertTrue(any("%s%d" % (key, value) in n.split("_") for n in names),
                                    (isa, key, value))

    def test_defaults_name_existing_variants_for_every_class(self):
        ops = {op for fam in generate.FAMILIES.values() for op in fam}
        for (op, isa), d in generate.DEFAULTS.items():
            self.assertIn(op, ops)
            self.assertEqual(sorted(d), sorted(generate.CLASSES))
            names = {v[0] for v in generate.variants(isa)}
            for cls, v in d.items():
                self.assertIn(v, names, (op, isa, cls))

    def test_default_variant_is_listed_first(self):
        for (op, isa), d in generate.DEFAULTS.items():
            first = generate.ordered_variants(op, isa)[0][0]
            self.assertEqual(first, generate.main_default(op, isa))
            self.assertGreaterEqual(list(d.values()).count(first), len(d) / 2)


class FusedKernels(unittest.TestCase):
    def test_norm_linear_composes_the_main_default(self):
        """kernels/<norm>_linear/*_f32__<isa>.c name the norm variant they compose; it must be
        the one the manifest makes the ISA's main default (and so exists in the build)."""
        import re
        for norm in ("rmsnorm", "layernorm"):
            for isa in generate.ISAS:
                path = os.path.join(generate.KERNELS, "%s_linear" % norm,
                                    "%s_linear_f32__%s.c" % (norm, isa))
                if not os.path.exists(path):
                    continue
                with open(path) as f:
                    m = re.search(r"NORMKIT_NORM_LINEAR\(%s, %s, *(\w*)\)" % (norm, isa), f.read())
                self.assertIsNotNone(m, path)
                want = generate.main_default(norm, isa)
                self.assertEqual(m.group(1), "_" + want if want else "", path)


if __name__ == "__main__":
    unittest.main()
