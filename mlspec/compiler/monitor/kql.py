"""KQL for the log alerts, assembled from escaped literals: a spec value is only ever KQL *data*.

Every string from the spec (project, environment, endpoint, model, feature and metric names) goes
through :func:`string_literal`: a double-quoted KQL literal with ``\\`` and ``"`` escaped, newline and
tab written ``\\n`` / ``\\t``, and any other control or format character spliced in with
``make_string(<code point>)`` so no character can end the literal, start a comment or a new statement.

Each query ends in one numeric column, ``AggregatedValue`` (the rule's ``metricMeasureColumn``); per
feature alerts keep a ``Feature`` column the rule splits by.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from mlspec.compiler.monitor.tables import MONITORING_TABLE, SERVING_TABLE

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
    metric: str | None = None,
    rising: bool = True,
) -> tuple[str, bool]:
    """The newest value the monitoring job wrote for a drift, data-quality or model-metric alert.

    Returns the query and whether it is split by ``Feature``. When the job writes several metrics for
    one feature, the most alarming one counts (the largest for ``>`` alerts, the smallest for ``<``).
    """
    pick = "max" if rising else "min"
    lines = [
        MONITORING_TABLE,
        _where(Project=project, Environment=environment, Model=model),
        _where(Signal=signal),
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
