"""Which Azure Monitor rule watches each spec signal, and on what.

A metric alert watches what a platform metric measures directly: when the workspace names an
Application Insights resource, the request rate (``requests/rate``, requests per second, namespace
``microsoft.insights/components``).

Everything else is a log alert: Azure metric alerts cannot take a percentile (latency p95/p99) or a
ratio (error rate) of a metric, so those are KQL over the serving table; drift, data quality and model
metrics are statistics the monitoring job writes to the monitoring table.

CPU and memory watch the scoring pods, not the cluster: the AKS platform metrics
(``node_cpu_usage_percentage``, ``node_memory_working_set_percentage``) measure the nodes, which other
workloads share, and say nothing about whether the endpoint's containers run out of their limits.
Container Insights records each container's usage and limit in ``Perf`` (object ``K8SContainer``) and
its pod's namespace and labels in ``KubePodInventory``; a log alert joins the two, filtered to the
endpoint's namespace, pod labels and container, as Microsoft's log alerts for container CPU and memory
do (https://learn.microsoft.com/azure/azure-monitor/containers/container-insights-log-alerts). The
query is :func:`mlspec.compiler.monitor.kql.pod_resource_query`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlspec.spec_schema.alert_windows import POD_RESOURCE_SIGNALS
from mlspec.spec_schema.models import Alert, Workspace

OPERATORS = {">": "GreaterThan", ">=": "GreaterThanOrEqual", "<": "LessThan", "<=": "LessThanOrEqual"}
SERVING_SIGNALS = frozenset({"latency_p95_ms", "latency_p99_ms", "error_rate", "request_rate"})
STATISTIC_SIGNALS = frozenset({"data_drift", "prediction_drift", "data_quality", "model_metric"})

__all__ = [
    "OPERATORS",
    "POD_RESOURCE_SIGNALS",
    "SERVING_SIGNALS",
    "STATISTIC_SIGNALS",
    "MetricSignal",
    "metric_signal",
    "rising",
    "rule_kind",
]


@dataclass(frozen=True)
class MetricSignal:
    workspace_key: str
    """The ``workspace`` field naming the watched resource."""
    resource_type: str
    namespace: str
    metric: str
    aggregation: str


APP_INSIGHTS = "Microsoft.Insights/components"

APP_INSIGHTS_REQUEST_RATE = MetricSignal(
    "application_insights", APP_INSIGHTS, "microsoft.insights/components", "requests/rate", "Average"
)


def metric_signal(alert: Alert, workspace: Workspace) -> MetricSignal | None:
    """The platform metric watching ``alert``, or ``None`` when it is a log alert."""
    if alert.signal == "request_rate" and workspace.application_insights is not None:
        return APP_INSIGHTS_REQUEST_RATE
    return None


def rule_kind(alert: Alert, workspace: Workspace) -> Literal["metric", "log"]:
    return "metric" if metric_signal(alert, workspace) is not None else "log"


def rising(alert: Alert) -> bool:
    """Whether the alert fires on large values (``>``/``>=``)."""
    return alert.operator in (">", ">=")
