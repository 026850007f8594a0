"""Which Azure Monitor rule watches each spec signal, and on what.

Metric alerts watch what a platform metric measures directly: node CPU and memory of the AKS cluster
(``node_cpu_usage_percentage``, ``node_memory_working_set_percentage`` in namespace
``Microsoft.ContainerService/managedClusters``) and, when the workspace names an Application Insights
resource, the request rate (``requests/rate``, requests per second, namespace
``microsoft.insights/components``).

Everything else is a log alert: Azure metric alerts cannot take a percentile (latency p95/p99) or a
ratio (error rate) of a metric, so those are KQL over the serving table; drift, data quality and model
metrics are statistics the monitoring job writes to the monitoring table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlspec.spec_schema.models import Alert, Workspace

OPERATORS = {">": "GreaterThan", ">=": "GreaterThanOrEqual", "<": "LessThan", "<=": "LessThanOrEqual"}
SERVING_SIGNALS = frozenset({"latency_p95_ms", "latency_p99_ms", "error_rate", "request_rate"})
STATISTIC_SIGNALS = frozenset({"data_drift", "prediction_drift", "data_quality", "model_metric"})


@dataclass(frozen=True)
class MetricSignal:
    workspace_key: str
    """The ``workspace`` field naming the watched resource."""
    resource_type: str
    namespace: str
    metric: str
    aggregation: str


AKS = "Microsoft.ContainerService/managedClusters"
APP_INSIGHTS = "Microsoft.Insights/components"

METRIC_SIGNALS = {
    "cpu_percent": MetricSignal("kubernetes", AKS, AKS, "node_cpu_usage_percentage", "Average"),
    "memory_percent": MetricSignal("kubernetes", AKS, AKS, "node_memory_working_set_percentage", "Average"),
}
APP_INSIGHTS_REQUEST_RATE = MetricSignal(
    "application_insights", APP_INSIGHTS, "microsoft.insights/components", "requests/rate", "Average"
)


def metric_signal(alert: Alert, workspace: Workspace) -> MetricSignal | None:
    """The platform metric watching ``alert``, or ``None`` when it is a log alert."""
    if alert.signal in METRIC_SIGNALS:
        return METRIC_SIGNALS[alert.signal]
    if alert.signal == "request_rate" and workspace.application_insights is not None:
        return APP_INSIGHTS_REQUEST_RATE
    return None


def rule_kind(alert: Alert, workspace: Workspace) -> Literal["metric", "log"]:
    return "metric" if metric_signal(alert, workspace) is not None else "log"


def rising(alert: Alert) -> bool:
    """Whether the alert fires on large values (``>``/``>=``)."""
    return alert.operator in (">", ">=")
