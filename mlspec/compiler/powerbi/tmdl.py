"""Writing TMDL line by line, with every spec value quoted or escaped per the TMDL rules.

- Object names are always single-quoted, ``'`` doubled (``'Sales ''24'``).
- Text property values are always double-quoted, ``"`` doubled; they are single-line by definition,
  so a value holding a line break is refused before it gets here (:func:`single_line_problem`).
- Expressions (DAX, M) start on the line after ``=`` and every line of them is indented one level
  deeper than the owning object's properties: whatever the text holds, it cannot reach a shallower
  indentation and so cannot end the expression or declare a property or object.
- Descriptions are ``///`` lines above the object, one per line of text.

Indentation is tabs (what Power BI Desktop writes).
"""

from __future__ import annotations

import re
import unicodedata

_LINE_BREAKS = re.compile(r"\r\n|[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
"""Every character Python's ``splitlines`` (and .NET readers) may treat as a line break."""


def name(value: str) -> str:
    """An object name or reference: always in single quotes, ``'`` doubled."""
    return "'" + value.replace("'", "''") + "'"


def text(value: str) -> str:
    """A text property value: in double quotes, ``"`` doubled (check :func:`single_line_problem` first)."""
    return '"' + value.replace('"', '""') + '"'


def single_line_problem(value: str) -> str | None:
    """Why ``value`` cannot be a TMDL name or text property value, or ``None``."""
    if not value.strip():
        return "it is empty"
    for char in value:
        if _LINE_BREAKS.match(char) or (unicodedata.category(char) in ("Cc", "Cf") and char != "\t"):
            return f"it contains the control character U+{ord(char):04X}"
    return None


def expression_problem(value: str) -> str | None:
    """Why ``value`` cannot be written as a TMDL expression, or ``None``."""
    if not value.strip():
        return "it is empty"
    if "```" in value:
        return "it contains ``` (TMDL's verbatim-expression delimiter)"
    for char in _LINE_BREAKS.sub("\n", value):
        if char not in "\n\t" and unicodedata.category(char) == "Cc":
            return f"it contains the control character U+{ord(char):04X}"
    return None


def expression_lines(value: str) -> list[str]:
    """The lines of an expression: line breaks normalised, trailing blanks and outer blank lines dropped."""
    lines = [line.rstrip() for line in _LINE_BREAKS.sub("\n", value).split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


class Document:
    """A TMDL file under construction."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def line(self, depth: int, content: str) -> None:
        self._lines.append("\t" * depth + content)

    def blank(self) -> None:
        if self._lines and self._lines[-1] != "":
            self._lines.append("")

    def description(self, depth: int, value: str) -> None:
        for line in expression_lines(value) or [""]:
            self.line(depth, f"/// {line}".rstrip())

    def expression(self, depth: int, value: str) -> None:
        """The lines of an expression at ``depth`` (blank lines stay empty: TMDL keeps them as part of it)."""
        for line in expression_lines(value):
            self._lines.append("\t" * depth + line if line else "")

    def property(self, depth: int, key: str, value: str) -> None:
        self.line(depth, f"{key}: {value}")

    def render(self) -> str:
        lines = list(self._lines)
        while lines and lines[-1] == "":
            lines.pop()
        return "\n".join(lines) + "\n"
