"""One alert rule per spec alert: a metric alert or a log (scheduled query) alert."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlspec.compiler import addresses
from mlspec.compiler.arm import expression, literal, resource_id
from mlspec.compiler.artifacts import RenderContext
from mlspec.compiler.monitor import kql, tables
from mlspec.compiler.monitor.parts import ACTION_GROUP_TYPE, Part
from mlspec.compiler.monitor.signals import (
    OPERATORS,
    POD_RESOURCE_SIGNALS,
    STATISTIC_SIGNALS,
    MetricSignal,
    metric_signal,
    rising,
)
from mlspec.compiler.monitor.windows import (
    LOG_FREQUENCIES,
    METRIC_FREQUENCIES,
    frequency_for,
    statistic_frequency,
    statistic_lookback,
)
from mlspec.contract.graph import Address
from mlspec.diagnostics import SpecPath
from mlspec.spec_schema.durations import duration_minutes, iso8601
from mlspec.spec_schema.models import Alert

METRIC_ALERT_TYPE = "Microsoft.Insights/metricAlerts"
LOG_ALERT_TYPE = "Microsoft.Insights/scheduledQueryRules"
METRIC_ALERT_API = "2018-03-01"
LOG_ALERT_API = "2023-12-01"


@dataclass(frozen=True)
class Rule:
    """What every rule of one alert shares."""

    alert: Alert
    name: str
    source: SpecPath
    depends_on: list[Address]
    action_ids: list[str]
    tags: dict[str, str]

    @property
    def description(self) -> str:
        return literal(self.alert.description or _describe(self.alert))


def rule_name(project: str, alert: str) -> str:
    return f"{project}-{alert}"


def left_out(ctx: RenderContext, alert: Alert) -> bool:
    """A statistic alert whose rows no monitoring job writes (no prediction log to compute them from)."""
    model = ctx.model.model
    if alert.signal not in STATISTIC_SIGNALS:
        return False
    return model is None or not ctx.will_produce(addresses.aml_monitoring_schedule(model.name))


def alert_part(
    ctx: RenderContext, index: int, alert: Alert, groups: list[str], tags: dict[str, str]
) -> Part | None:
    """The rule for ``alert`` notifying ``groups``; ``None`` when the watched resource is not named, or
    for a statistic signal when no monitoring job writes its rows (the spec checks warn, MLS629)."""
    if left_out(ctx, alert):
        return None
    depends = [addresses.monitor_action_group(g) for g in groups]
    model = ctx.model.model
    if len(groups) > 1 and model is not None:  # the retrain group: the pipeline must exist first
        depends.append(addresses.aml_pipeline(model.name))
    rule = Rule(
        alert,
        rule_name(ctx.project, alert.name),
        ("monitoring", "alerts", index),
        depends,
        [expression(resource_id(ACTION_GROUP_TYPE, g)) for g in groups],
        tags,
    )
    signal = metric_signal(alert, ctx.model.workspace)
    if signal is not None:
        scope = getattr(ctx.model.workspace, signal.workspace_key)
        return None if scope is None else _metric_alert(rule, signal, scope)  # a missing scope: MLS644
    workspace = ctx.model.workspace.log_analytics
    return None if workspace is None else _log_alert(ctx, rule, workspace)


def _metric_alert(rule: Rule, signal: MetricSignal, scope: str) -> Part:
    alert = rule.alert
    window = iso8601(alert.window)
    criterion = {
        "criterionType": "StaticThresholdCriterion",
        "name": alert.signal,
        "metricNamespace": signal.namespace,
        "metricName": signal.metric,
        "operator": OPERATORS[alert.operator],
        "threshold": alert.threshold,
        "timeAggregation": signal.aggregation,
    }
    properties: dict[str, Any] = {
        "description": rule.description,
        "severity": alert.severity,
        "enabled": True,
        "scopes": [expression(resource_id(signal.resource_type, scope))],
        "evaluationFrequency": frequency_for(window, METRIC_FREQUENCIES),
        "windowSize": window,
        "criteria": {
            "odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
            "allOf": [criterion],
        },
        "autoMitigate": True,
        "actions": [{"actionGroupId": i} for i in rule.action_ids],
    }
    resource = {
        "type": METRIC_ALERT_TYPE,
        "apiVersion": METRIC_ALERT_API,
        "name": rule.name,
        "location": "global",
        "tags": rule.tags,
        "dependsOn": list(rule.action_ids),
        "properties": properties,
    }
    address = addresses.monitor_metric_alert(alert.name)
    return Part(address, resource, rule.source, rule.depends_on, f"metric alert {alert.signal}")


@dataclass(frozen=True)
class LogQuery:
    query: str
    split_by_feature: bool
    window: str
    frequency: str
    table: str


def _log_query(ctx: RenderContext, alert: Alert) -> LogQuery:
    minutes = duration_minutes(alert.window)
    if alert.signal in STATISTIC_SIGNALS:
        model = ctx.model.model
        query, split = kql.statistic_query(
            alert.signal,
            ctx.project,
            ctx.environment,
            model.name if model else "",
            features=alert.features or [],
            window=iso8601(alert.window),
            metric=alert.metric,
            rising=rising(alert),
        )
        window = statistic_lookback(minutes)
        return LogQuery(query, split, window, statistic_frequency(window), tables.MONITORING_TABLE)
    deployment = ctx.model.deployment
    endpoint, namespace = (deployment.endpoint, deployment.namespace) if deployment else ("", "")
    window = iso8601(alert.window)
    frequency = frequency_for(window, LOG_FREQUENCIES)
    if alert.signal in POD_RESOURCE_SIGNALS:
        query = kql.pod_resource_query(
            alert.signal,
            cluster=ctx.model.workspace.kubernetes,
            namespace=namespace,
            labels=scoring_pod_labels(ctx.project, endpoint),
            container=SCORING_CONTAINER,
        )
        return LogQuery(query, False, window, frequency, tables.POD_PERFORMANCE_TABLE)
    query = kql.serving_query(alert.signal, namespace, ctx.project, endpoint, minutes)
    return LogQuery(query, False, window, frequency, tables.SERVING_TABLE)


SCORING_CONTAINER = "scoring"
"""The scoring container of every pod of an endpoint (the AKS renderer names it so)."""


def scoring_pod_labels(project: str, endpoint: str) -> dict[str, str]:
    """The Kubernetes recommended labels the AKS renderer puts on every pod of the endpoint, whatever
    its rollout slot: the CPU and memory queries find the pods by them."""
    return {"app.kubernetes.io/name": endpoint, "app.kubernetes.io/part-of": project}


def _log_alert(ctx: RenderContext, rule: Rule, workspace: str) -> Part:
    alert = rule.alert
    found = _log_query(ctx, alert)
    query, split, window, frequency, table = (
        found.query,
        found.split_by_feature,
        found.window,
        found.frequency,
        found.table,
    )
    condition: dict[str, Any] = {
        "query": query,
        "timeAggregation": "Maximum" if rising(alert) else "Minimum",
        "metricMeasureColumn": kql.MEASURE,
        "operator": OPERATORS[alert.operator],
        "threshold": alert.threshold,
        "failingPeriods": {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1},
    }
    if split:
        condition["dimensions"] = [{"name": "Feature", "operator": "Include", "values": ["*"]}]
    declared = table in tables.TABLE_COLUMNS  # the custom table this template creates (not ContainerLogV2)
    table_id = expression(resource_id("Microsoft.OperationalInsights/workspaces/tables", workspace, table))
    resource = {
        "type": LOG_ALERT_TYPE,
        "apiVersion": LOG_ALERT_API,
        "name": rule.name,
        "location": ctx.model.workspace.location,
        "kind": "LogAlert",
        "tags": rule.tags,
        "dependsOn": [*rule.action_ids, *([table_id] if declared else [])],
        "properties": {
            "displayName": rule.name,
            "description": rule.description,
            "severity": alert.severity,
            "enabled": True,
            "scopes": [expression(resource_id("Microsoft.OperationalInsights/workspaces", workspace))],
            "evaluationFrequency": frequency,
            "windowSize": window,
            "criteria": {"allOf": [condition]},
            "autoMitigate": True,
            "actions": {
                "actionGroups": list(rule.action_ids),
                "customProperties": {"mlspec-alert": alert.name, "mlspec-action": alert.action},
            },
        },
    }
    depends = [*rule.depends_on, *([addresses.monitor_log_table(table)] if declared else [])]
    return Part(
        addresses.monitor_log_alert(alert.name), resource, rule.source, depends, f"log alert {alert.signal}"
    )


def _describe(alert: Alert) -> str:
    watched = f" of {alert.metric}" if alert.metric else ""
    if alert.features:
        watched = f" of {', '.join(alert.features)}"
    return f"mlspec: {alert.signal}{watched} {alert.operator} {alert.threshold:g} over {alert.window}"
