"""Writing TMDL line by line, with every spec value quoted or escaped per the TMDL rules.

- Object names are always single-quoted, ``'`` doubled (``'Sales ''24'``).
- Text property values are always double-quoted, ``"`` doubled; they are single-line by definition,
  so a value holding a line break is refused before it gets here (the check stage, with
  :func:`mlspec.spec_schema.tmdl_text.single_line_problem`).
- Expressions (DAX, M) start on the line after ``=`` and every line of them is indented one level
  deeper than the owning object's properties: whatever the text holds, it cannot reach a shallower
  indentation and so cannot end the expression or declare a property or object.
- Descriptions are ``///`` lines above the object, one per line of text.

Indentation is tabs (what Power BI Desktop writes).
"""

from __future__ import annotations

from mlspec.spec_schema.tmdl_text import LINE_BREAKS


def name(value: str) -> str:
    """An object name or reference: always in single quotes, ``'`` doubled."""
    return "'" + value.replace("'", "''") + "'"


def text(value: str) -> str:
    """A text property value: in double quotes, ``"`` doubled (the check stage refuses line breaks)."""
    return '"' + value.replace('"', '""') + '"'


def expression_lines(value: str) -> list[str]:
    """The lines of an expression: line breaks normalised, trailing blanks and outer blank lines dropped."""
    lines = [line.rstrip() for line in LINE_BREAKS.sub("\n", value).split("\n")]
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
