"""Spec durations: a whole number and a unit among m, h, d (``5m``, ``1h``, ``30d``)."""

from __future__ import annotations

import re

DURATION = re.compile(r"0*([0-9]{1,9})([mhd])")
"""ASCII digits only (``\\d`` takes any script's), and few enough that ``int()`` cannot refuse them."""
_MINUTES = {"m": 1, "h": 60, "d": 1440}
MAX_MINUTES = 366 * 1440


def duration_problem(text: str) -> str | None:
    match = DURATION.fullmatch(text)
    if match is None:
        return "not a duration"
    minutes = int(match[1]) * _MINUTES[match[2]]
    if minutes == 0:
        return "must be longer than zero"
    if minutes > MAX_MINUTES:
        return "must be at most a year"
    return None


def duration_minutes(text: str) -> int:
    """Minutes in a valid duration (call after :func:`duration_problem` returned ``None``)."""
    match = DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    return int(match[1]) * _MINUTES[match[2]]


def iso8601(text: str) -> str:
    """``5m`` → ``PT5M``, ``2h`` → ``PT2H``, ``1d`` → ``P1D``: what Azure Monitor's windowSize wants."""
    minutes = duration_minutes(text)
    if minutes % 1440 == 0:
        return f"P{minutes // 1440}D"
    if minutes % 60 == 0:
        return f"PT{minutes // 60}H"
    return f"PT{minutes}M"
