"""JSON as JSON is, for files mlspec reads back (state, locks, local provider objects): no NaN or
Infinity, no number beyond a float. Shared by the plan and the providers, below both."""

from __future__ import annotations

import json
import math
from typing import Any

from mlspec.redaction import printable


def strict_json_loads(text: str) -> Any:
    """``json.loads`` without Python's extensions: NaN, Infinity and numbers beyond a float (1e999)
    raise ``ValueError``, as an integer of thousands of digits already does."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


def _refuse_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON has not: mlspec never writes them, and one
    # read back would print as bare `NaN` in --json output that no other JSON reader accepts.
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: JSON syntax, but beyond a float — infinity by another name
        raise ValueError(f"{printable(text, 40)} is beyond the range of a number")
    return value
