"""KQL for the log alerts, assembled from escaped literals: a spec value is only ever KQL *data*.

Every string from the spec (project, environment, endpoint, model, feature and metric names) goes
through :func:`string_literal`: a double-quoted KQL literal with ``\\`` and ``"`` escaped, newline and
tab written ``\\n`` / ``\\t``, and any other control or format character spliced in with
``make_string(<code point>)`` so no character can end the literal, start a comment or a new statement.

Each query ends in one numeric column, ``AggregatedValue`` (the rule's ``metricMeasureColumn``); per
feature alerts keep a ``Feature`` column the rule splits by.

The alert service applies the rule's time range to every table a query reads, so a query never
filters on ``TimeGenerated`` itself.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from mlspec.compiler.monitor.tables import (
    MONITORING_TABLE,
    POD_INVENTORY_TABLE,
    POD_PERFORMANCE_TABLE,
    SERVING_TABLE,
)

MEASURE = "AggregatedValue"
_SIMPLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def string_literal(value: str) -> str:
    """``value`` as a KQL string expression that evaluates to exactly ``value``."""
    parts: list[str] = []
    run: list[str] = []
    for char in value:
        if char in _SIMPLE_ESCAPES:
            run.append(_SIMPLE_ESCAPES[char])
        elif unicodedata.category(char) in _UNSAFE_CATEGORIES:
            if run:
                parts.append('"' + "".join(run) + '"')
                run = []
            parts.append(f"make_string({ord(char)})")
        else:
            run.append(char)
    if run or not parts:
        parts.append('"' + "".join(run) + '"')
    return parts[0] if len(parts) == 1 else f"strcat({', '.join(parts)})"


def is_plain_literal(kql: str) -> bool:
    return kql.startswith('"')


def one_of(column: str, values: Sequence[str]) -> str:
    """``column in ("a", "b")``, or an ``or`` of ``==`` when a value needs a computed literal."""
    literals = [string_literal(v) for v in values]
    if all(is_plain_literal(v) for v in literals):
        return f"{column} in ({', '.join(literals)})"
    return "(" + " or ".join(f"{column} == {v}" for v in literals) + ")"


def _where(**equals: str) -> str:
    return "| where " + " and ".join(
        f"{column} == {string_literal(value)}" for column, value in equals.items()
    )


def serving_query(signal: str, namespace: str, project: str, endpoint: str, window_minutes: int) -> str:
    """The serving statistic over the rule's window (the alert service applies the time range).

    Reads the scoring server's JSON log lines in ``ContainerLogV2`` (see :mod:`.tables`).
    """
    lines = [
        SERVING_TABLE,
        f"| where PodNamespace == {string_literal(namespace)}",
        f"| where tostring(LogMessage.project) == {string_literal(project)}"
        f" and tostring(LogMessage.endpoint) == {string_literal(endpoint)}",
    ]
    if signal in ("latency_p95_ms", "latency_p99_ms"):
        percentile = 95 if signal == "latency_p95_ms" else 99
        lines.append('| where tostring(LogMessage.event) == "scored"')
        lines.append(f"| summarize {MEASURE} = percentile(todouble(LogMessage.ms), {percentile})")
        return "\n".join(lines)
    lines.append(
        '| where tostring(LogMessage.event) == "request" and tostring(LogMessage.path) startswith "/score"'
    )
    if signal == "error_rate":
        lines.append("| summarize Failed = countif(toint(LogMessage.status) >= 500), Total = count()")
        lines.append(f"| project {MEASURE} = iff(Total == 0, 0.0, todouble(Failed) / Total)")
    elif signal == "request_rate":  # requests per second over the window
        lines.append(f"| summarize {MEASURE} = todouble(count()) / {window_minutes * 60}.0")
    else:
        raise ValueError(f"{signal} is not a serving signal")
    return "\n".join(lines)


def statistic_query(
    signal: str,
    project: str,
    environment: str,
    model: str,
    *,
    features: Sequence[str] = (),
    window: str,
    metric: str | None = None,
    rising: bool = True,
) -> tuple[str, bool]:
    """The newest value the monitoring job wrote for a drift, data-quality or model-metric alert.

    ``window`` is the alert's own window (ISO 8601): the job computes each statistic over every window
    an alert asks for and writes it in ``Window``, so the rows of a 7-day alert are told from those of
    a 1-day alert on the same signal, whatever range the rule looks back over for the newest row.

    Returns the query and whether it is split by ``Feature``. When the job writes several metrics for
    one feature, the most alarming one counts (the largest for ``>`` alerts, the smallest for ``<``).
    """
    pick = "max" if rising else "min"
    lines = [
        MONITORING_TABLE,
        _where(Project=project, Environment=environment, Model=model),
        _where(Signal=signal, Window=window),
    ]
    if metric is not None:
        lines.append(_where(Metric=metric))
    if features:
        lines.append(f"| where {one_of('Feature', features)}")
        lines.append("| summarize arg_max(TimeGenerated, Value) by Feature, Metric")
        lines.append(f"| summarize {MEASURE} = {pick}(Value) by Feature")
        return "\n".join(lines), True
    lines.append("| summarize arg_max(TimeGenerated, Value) by Metric")
    lines.append(f"| summarize {MEASURE} = {pick}(Value)")
    return "\n".join(lines), False


POD_COUNTERS = {
    "cpu_percent": ("cpuUsageNanoCores", "cpuLimitNanoCores"),
    "memory_percent": ("memoryWorkingSetBytes", "memoryLimitBytes"),
}
"""Per signal, the ``K8SContainer`` usage and limit counters Container Insights writes to ``Perf``."""


def pod_resource_query(
    signal: str,
    *,
    cluster: str | None,
    namespace: str,
    labels: dict[str, str],
    container: str,
) -> str:
    """CPU or memory of the endpoint's scoring containers, in percent of their limits.

    The pods are found in ``KubePodInventory`` by cluster (when the workspace names it), namespace,
    pod labels (``PodLabel`` is a JSON list holding one object of the pod's labels) and container
    name; their containers' ``Perf`` records (``InstanceName`` is ``<ClusterId>/<PodUid>/<container>``,
    as in Microsoft's container CPU alert query) give usage and limit. Each container's average usage
    over the window is divided by its limit; the value is the average over the endpoint's containers,
    so an alert watches the endpoint's saturation, whichever nodes its pods run on.
    """
    usage, limit = POD_COUNTERS[signal]
    pods = [POD_INVENTORY_TABLE]
    if cluster is not None:
        pods.append(f"    | where ClusterName == {string_literal(cluster)}")
    pods.append(f"    | where Namespace == {string_literal(namespace)}")
    pods.append("    | extend Labels = parse_json(PodLabel)[0]")
    for key, value in labels.items():
        pods.append(f"    | where tostring(Labels[{string_literal(key)}]) == {string_literal(value)}")
    pods.append(f'    | where tostring(split(ContainerName, "/")[1]) == {string_literal(container)}')
    pods.append('    | extend InstanceName = strcat(ClusterId, "/", ContainerName)')
    pods.append("    | distinct InstanceName;")
    lines = [
        f"let scoring = {pods[0]}",
        *pods[1:],
        POD_PERFORMANCE_TABLE,
        '| where ObjectName == "K8SContainer"',
        f"| where {one_of('CounterName', [usage, limit])}",
        "| where InstanceName in (scoring)",
        f"| summarize Usage = avgif(CounterValue, CounterName == {string_literal(usage)}),"
        f" Limit = maxif(CounterValue, CounterName == {string_literal(limit)}) by InstanceName",
        "| where Limit > 0",
        f"| summarize {MEASURE} = avg(100.0 * Usage / Limit)",
    ]
    return "\n".join(lines)
