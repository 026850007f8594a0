"""Alert windows and evaluation frequencies: what Azure Monitor accepts, and how mlspec picks them.

Metric alerts (``Microsoft.Insights/metricAlerts`` 2018-03-01) take a fixed set of windows and
frequencies; log alerts (``scheduledQueryRules`` 2023-12-01) another set, and look back at most two
days. A window outside the set is rendered as written and reported by :mod:`.checks` (MLS640) at the
alert's ``window`` line, so the user sees the allowed values instead of a deployment failure.
"""

from __future__ import annotations

import re

from mlspec.spec_schema.alert_windows import (
    LOG_FREQUENCIES,
    LOG_MAX_LOOKBACK,
    LOG_WINDOWS,
    METRIC_FREQUENCIES,
    METRIC_WINDOWS,
)

__all__ = ["LOG_FREQUENCIES", "LOG_MAX_LOOKBACK", "LOG_WINDOWS", "METRIC_FREQUENCIES", "METRIC_WINDOWS"]

_ISO = re.compile(r"P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?)?")


def iso_minutes(duration: str) -> int:
    """Minutes in an ISO 8601 duration of days, hours and minutes (``P1D``, ``PT6H``, ``PT5M``)."""
    match = _ISO.fullmatch(duration)
    if match is None or duration in ("P", "PT"):
        raise ValueError(f"not a day/hour/minute ISO 8601 duration: {duration!r}")
    return int(match["days"] or 0) * 1440 + int(match["hours"] or 0) * 60 + int(match["minutes"] or 0)


def frequency_for(window: str, allowed: tuple[str, ...]) -> str:
    """How often to evaluate a rule over ``window``: the largest allowed step of at most a third of it.

    A third keeps an alert from waiting a whole window before it notices; the smallest allowed
    frequency is the floor.
    """
    budget = max(1, iso_minutes(window) // 3)
    fitting = [f for f in allowed if iso_minutes(f) <= budget]
    return fitting[-1] if fitting else allowed[0]


def statistic_lookback(window_minutes: int) -> str:
    """The query range of an alert over a statistic the monitoring job computes over its own window.

    This is not the statistic's window. Drift and model metrics are computed by the monitoring job
    over the alert's window (7 days for a ``7d`` alert) and written as one row per run with that
    ``Window``; the alert's query selects the rows of its window (:func:`.kql.statistic_query`) and
    reads the newest. The rule's range only bounds how old that newest row may be: the window itself,
    up to the two days log alerts allow. A statistic over more than two days is therefore still the
    statistic the spec names, provided the monitoring job writes a row at least every two days.
    """
    capped = min(window_minutes, iso_minutes(LOG_MAX_LOOKBACK))
    return next(w for w in LOG_WINDOWS if iso_minutes(w) >= capped)


def statistic_frequency(lookback: str) -> str:
    """Evaluate a statistic alert twice per lookback (newest row read at least twice), at most daily."""
    budget = max(1, iso_minutes(lookback) // 2)
    fitting = [f for f in LOG_FREQUENCIES if iso_minutes(f) <= budget]
    return fitting[-1] if fitting else LOG_FREQUENCIES[0]
