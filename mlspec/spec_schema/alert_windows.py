"""Which alert windows Azure Monitor accepts, by the kind of rule a signal becomes.

Shared by the validator (so `validate` refuses what a deploy would refuse) and the monitor
renderer (which picks frequencies from the same sets). Metric alerts (``metricAlerts``
2018-03-01) and log alerts (``scheduledQueryRules`` 2023-12-01) each take a fixed set of
windows; statistic signals (drift, data quality, model metrics) are computed by the monitoring
job over any window and read back by a log alert, so any valid duration works for them.
"""

from __future__ import annotations

from typing import Literal

METRIC_FREQUENCIES = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H")
METRIC_WINDOWS = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "P1D")
LOG_FREQUENCIES = (
    "PT1M",
    "PT5M",
    "PT10M",
    "PT15M",
    "PT30M",
    "PT45M",
    "PT1H",
    "PT2H",
    "PT3H",
    "PT4H",
    "PT5H",
    "PT6H",
    "P1D",
)
LOG_WINDOWS = (*LOG_FREQUENCIES, "P2D")
LOG_MAX_LOOKBACK = "P2D"

PLATFORM_METRIC_SIGNALS = frozenset({"cpu_percent", "memory_percent"})
STATISTIC_SIGNALS = frozenset({"data_drift", "prediction_drift", "data_quality", "model_metric"})

RuleKind = Literal["metric", "log", "statistic"]


def rule_kind(signal: str, *, application_insights: bool) -> RuleKind:
    """The kind of Azure Monitor rule a signal is watched by."""
    if signal in STATISTIC_SIGNALS:
        return "statistic"
    if signal in PLATFORM_METRIC_SIGNALS or (signal == "request_rate" and application_insights):
        return "metric"
    return "log"


def allowed_windows(kind: RuleKind) -> tuple[str, ...] | None:
    """The ISO 8601 windows a rule kind accepts; ``None`` when any duration works."""
    return {"metric": METRIC_WINDOWS, "log": LOG_WINDOWS}.get(kind)
