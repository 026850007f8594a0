"""Which spec text TMDL can hold: names and text properties are single-line, expressions have no ```.

Used by the check stage (MLS662, MLS665, MLS666 at the spec's line) and by the Power BI renderer's
TMDL writer (:mod:`mlspec.compiler.powerbi.tmdl`), so both read line breaks the same way.
"""

from __future__ import annotations

import re
import unicodedata

LINE_BREAKS = re.compile(r"\r\n|[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
"""Every character Python's ``splitlines`` (and .NET readers) may treat as a line break."""


def single_line_problem(value: str) -> str | None:
    """Why ``value`` cannot be a TMDL name or text property value, or ``None``."""
    if not value.strip():
        return "it is empty"
    if value.isprintable():  # no control, format or line-break character: the common case, fast
        return None
    for char in value:
        if LINE_BREAKS.match(char) or (unicodedata.category(char) in ("Cc", "Cf") and char != "\t"):
            return f"it contains the control character U+{ord(char):04X}"
    return None


def expression_problem(value: str) -> str | None:
    """Why ``value`` cannot be written as a TMDL expression, or ``None``."""
    if not value.strip():
        return "it is empty"
    if "```" in value:
        return "it contains ``` (TMDL's verbatim-expression delimiter)"
    lines = LINE_BREAKS.sub("\n", value)
    if lines.replace("\n", "").replace("\t", "").isprintable():  # the common case, fast
        return None
    for char in lines:
        if char not in "\n\t" and unicodedata.category(char) == "Cc":
            return f"it contains the control character U+{ord(char):04X}"
    return None
