"""nkgen: the small template language the kernel variants are generated with.

A template is C with two additions:
  - a line whose first non-blank character is `$` is a directive, never output:
        $if EXPR:   $elif EXPR:   $else:   $endif
        $for NAME in EXPR:   $endfor
        $NAME = EXPR
        $# a comment about the template itself
  - `${EXPR}` anywhere else is replaced by str(EXPR).
EXPR is a Python expression over the template's variables (and the loop names and assignments
above it). Directives nest; indentation is free. That is all: no includes, no macros, so a
template reads as the C it becomes.
"""
import re

_SUB = re.compile(r"\$\{([^{}]*)\}")
_DIRECTIVE = re.compile(r"^\s*\$(if|elif|else|endif|for|endfor)\b\s*(.*?)\s*$")
_ASSIGN = re.compile(r"^\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+?)\s*$")


class TemplateError(Exception):
    pass


def _compile(text, path):
    """The template as Python source that appends the output lines to `_out`."""
    code, depth, stack = [], 0, []

    def emit(stmt):
        code.append("    " * depth + stmt)

    for n, line in enumerate(text.split("\n"), 1):
        where = "%s:%d" % (path, n)
        if line.lstrip().startswith("$#"):
            continue
        d = _DIRECTIVE.match(line)
        a = _ASSIGN.match(line) if not d else None
        if d:
            kw, rest = d.groups()
            if kw in ("if", "for"):
                if not rest.endswith(":"):
                    raise TemplateError("%s: `$%s` needs a trailing ':'" % (where, kw))
                emit("%s %s" % (kw, rest))
                emit("    _line = %d" % n)
                stack.append((kw, where, False))  # (directive, where, $else seen)
                depth += 1
            elif kw in ("elif", "else"):
                if not stack or stack[-1][0] != "if":
                    raise TemplateError("%s: `$%s` outside `$if`" % (where, kw))
                if stack[-1][2]:
                    raise TemplateError("%s: `$%s` after `$else`" % (where, kw))
                if kw == "else":
                    stack[-1] = (stack[-1][0], stack[-1][1], True)
                depth -= 1
                emit("%s %s" % (kw, rest) if kw == "elif" else "else:")
                emit("    _line = %d" % n)
                depth += 1
            else:
                want = "if" if kw == "endif" else "for"
                if not stack or stack[-1][0] != want:
                    raise TemplateError("%s: `$%s` without `$%s`" % (where, kw, want))
                stack.pop()
                depth -= 1
        elif a:
            emit("_line = %d" % n)
            emit("%s = %s" % a.groups())
        elif line.lstrip().startswith("$") and not line.lstrip().startswith("${"):
            raise TemplateError("%s: unknown directive `%s`" % (where, line.strip()))
        else:
            parts, pos = [], 0
            for m in _SUB.finditer(line):
                parts.append(repr(line[pos:m.start()]))
                parts.append("str(%s)" % m.group(1))
                pos = m.end()
            parts.append(repr(line[pos:]))
            emit("_line = %d" % n)
            emit("_out.append(%s)" % " + ".join(parts))
    if stack:
        raise TemplateError("%s: `$%s` is never closed" % (stack[-1][1], stack[-1][0]))
    return "\n".join(code) + "\n"


def render(text, variables, path="<template>"):
    """The template `text` with `variables` (a dict) filled in."""
    src = _compile(text, path)
    env = dict(variables)
    env["_out"] = []
    env["_line"] = 0
    try:
        exec(compile(src, path, "exec"), env)
    except TemplateError:
        raise
    except Exception as e:  # name the template line, not the generated Python's
        raise TemplateError("%s:%d: %s: %s" % (path, env["_line"], type(e).__name__, e)) from e
    out = "\n".join(env["_out"])
    # collapse the runs of blank lines that removed directives leave behind
    return re.sub(r"\n{3,}", "\n\n", out)
