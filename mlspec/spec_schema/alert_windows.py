"""Which alert windows Azure Monitor accepts, by the kind of rule a signal becomes.

Shared by the validator (so `validate` refuses what a deploy would refuse) and the monitor
renderer (which picks frequencies from the same sets). Metric alerts (``metricAlerts``
2018-03-01) and log alerts (``scheduledQueryRules`` 2023-12-01) each take a fixed set of
windows; a window outside its set is an error at the alert's ``window`` line (MLS415), never
rendered as another window. Statistic signals (drift, data quality, model metrics) are computed
by the monitoring job over the alert's own window, whatever its length, and written with it
(``Window``); the log alert reading them selects that window's rows and looks back only for the
newest one (at most ``LOG_MAX_LOOKBACK``), so any valid duration works for them.

CPU and memory (``POD_RESOURCE_SIGNALS``) are log alerts over Container Insights' per-container
records of the scoring pods, not metric alerts on the cluster's nodes.
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

POD_RESOURCE_SIGNALS = frozenset({"cpu_percent", "memory_percent"})
STATISTIC_SIGNALS = frozenset({"data_drift", "prediction_drift", "data_quality", "model_metric"})

RuleKind = Literal["metric", "log", "statistic"]


def rule_kind(signal: str, *, application_insights: bool) -> RuleKind:
    """The kind of Azure Monitor rule a signal is watched by."""
    if signal in STATISTIC_SIGNALS:
        return "statistic"
    if signal == "request_rate" and application_insights:
        return "metric"
    return "log"


def allowed_windows(kind: RuleKind) -> tuple[str, ...] | None:
    """The ISO 8601 windows a rule kind accepts; ``None`` when any duration works."""
    return {"metric": METRIC_WINDOWS, "log": LOG_WINDOWS}.get(kind)
