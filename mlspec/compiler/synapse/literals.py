"""Spec values as text that is safe in generated code: Python literals and markdown code spans.

Notebook cells are jinja2 templates, and a template may print a value only through one of
these filters (:mod:`mlspec.compiler.synapse.cells` refuses anything else). So a spec string
is always a literal that evaluates back to itself, never code: quotes, newlines, ``{{ }}``,
``${{ }}`` or ``</script>`` in a description or in SQL stay data.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
from collections.abc import Mapping


class Code(str):
    """Text already rendered for its target language; the only thing a cell template may print."""

    __slots__ = ()


def python_literal(value: object) -> Code:
    """``value`` (str, int, float, bool, None, or lists and dicts of them) as Python source.

    Strings come back as literals that ``ast.literal_eval`` turns into the same string;
    multi-line text that can be written as a triple-quoted literal is, so SQL stays readable.
    """
    return Code(_literal(value))


def _literal(value: object) -> str:
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return repr(value)
        return f'float("{value}")'  # nan, inf and -inf have no literal
    if isinstance(value, str):
        return _string_literal(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Python literal for {type(value).__name__} values")


def _string_literal(text: str) -> str:
    if '"' not in text and "\\" not in text and text.isprintable():
        # No quote, no backslash, no line break or control character: nothing in it can end or
        # escape a double-quoted literal, so it needs no re-parse to prove it (builds call this a lot).
        return '"' + text + '"'
    if "\n" in text and _fits_triple_quotes(text):
        # The backslash-newline after the opening quotes is a line continuation: the text starts
        # at the beginning of the next line, unchanged.
        candidate = '"""\\\n' + text + '"""'
        if ast.literal_eval(candidate) == text:
            return candidate
    return repr(text)  # always a literal of the same string: every quote and control character escaped


def _fits_triple_quotes(text: str) -> bool:
    """Whether ``text`` reads the same inside triple quotes (nothing in it is an escape or a delimiter)."""
    if "\\" in text or '"""' in text or text.endswith('"'):
        return False
    return all(line.replace("\t", " ").isprintable() for line in text.split("\n"))


def python_identifier(value: object) -> Code:
    """``value`` as a Python name; anything that is not one (a keyword, a dotted or spaced name) raises."""
    if not isinstance(value, str) or not value.isidentifier() or keyword.iskeyword(value):
        raise ValueError(f"{value!r} is not a Python identifier")
    return Code(value)


_BACKTICK_RUNS = re.compile("`+")


def markdown_code(value: object) -> Code:
    """``value`` as an inline markdown code span: shown as typed, never read as markup or HTML."""
    text = " ".join(str(value).splitlines())
    longest = max(map(len, _BACKTICK_RUNS.findall(text)), default=0) if "`" in text else 0
    fence = "`" * (longest + 1)
    # CommonMark strips one space from each end of a span that has both; pad where that or a
    # backtick at either end would change what is shown.
    padded = text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" "))
    return Code(f"{fence} {text} {fence}" if padded else f"{fence}{text}{fence}")
