"""The "did you mean" hint added to unknown names and values."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(value: object, candidates: Iterable[object]) -> str:
    """`` (did you mean 'x'?)`` when a candidate differs only in case or is close, else ``""``."""
    if not isinstance(value, str):
        return ""
    names = [c for c in candidates if isinstance(c, str)]
    folded = [c for c in names if c.lower() == value.lower()]
    close = folded or difflib.get_close_matches(value, names, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
