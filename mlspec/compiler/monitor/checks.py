"""mlspec's own checks of ``monitor/alerts.json`` (MLS640-649), reported at the spec line they come from.

MLS640 window / evaluation frequency not accepted by Azure Monitor · MLS641 action group short name ·
MLS642 an alert's action group is not in the template · MLS643 empty or foreign KQL · MLS644 the
watched resource is not named in ``workspace`` · MLS647 retrain trigger without a retrain schedule.
What the spec alone decides (a webhook carrying a credential MLS645, ``retrain.on_alerts`` and ``action``
disagreeing MLS646) is checked before a build by :mod:`mlspec.spec_schema.checks.monitoring`.
"""

from __future__ import annotations

import re
from typing import Any

from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.monitor import rules, tables, template
from mlspec.compiler.monitor.parts import ACTION_GROUP_TYPE
from mlspec.compiler.monitor.signals import metric_signal
from mlspec.compiler.monitor.windows import (
    LOG_FREQUENCIES,
    LOG_MAX_LOOKBACK,
    LOG_WINDOWS,
    METRIC_FREQUENCIES,
    METRIC_WINDOWS,
    iso_minutes,
)
from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.spec_schema.durations import duration_problem

_ACTION_GROUP_ID = re.compile(r"^\[resourceId\('Microsoft\.Insights/actionGroups', '((?:[^']|'')+)'\)\]$")


def check(ctx: RenderContext, out: ArtifactSet) -> list[Diagnostic]:
    monitoring = ctx.model.monitoring
    if monitoring is None:
        return []
    found = _retrain_consistency(ctx)
    artifact = out.artifacts.get(template.TEMPLATE_FILE)
    if artifact is None or not isinstance(artifact.data, dict):
        return found
    arm: dict[str, Any] = artifact.data
    resources = [r for r in arm.get("resources", []) if isinstance(r, dict)]
    groups = {r["name"]: r for r in resources if r.get("type") == ACTION_GROUP_TYPE}
    for name, group in groups.items():
        short = group.get("properties", {}).get("groupShortName", "")
        if not 1 <= len(short) <= template.SHORT_NAME_MAX:
            found.append(
                ctx.error(
                    "MLS641",
                    f"action group {name!r}: short name {short!r} is not "
                    f"1-{template.SHORT_NAME_MAX} characters",
                    ("project", "name"),
                )
            )
    by_name = {r["name"]: r for r in resources if r.get("type") in _RULE_TYPES}
    for index, alert in enumerate(monitoring.alerts):
        path: SpecPath = ("monitoring", "alerts", index)
        if duration_problem(alert.window) is not None:
            continue
        rule = by_name.get(rules.rule_name(ctx.project, alert.name))
        if rule is None and not rules.left_out(ctx, alert):
            found += _missing_rule(ctx, index)
            continue
        if rule is None:
            continue  # a statistic alert no monitoring job computes: the spec checks warn (MLS629)
        found += _windows(ctx, rule, path)
        found += _action_groups(ctx, rule, set(groups), path)
        found += _query(ctx, rule, path)
    return found


_RULE_TYPES = (rules.METRIC_ALERT_TYPE, rules.LOG_ALERT_TYPE)


def _missing_rule(ctx: RenderContext, index: int) -> list[Diagnostic]:
    alert = ctx.model.monitoring.alerts[index] if ctx.model.monitoring else None
    if alert is None:
        return []
    signal = metric_signal(alert, ctx.model.workspace)
    key = signal.workspace_key if signal else "log_analytics"
    return [
        ctx.error(
            "MLS644",
            f"alert {alert.name!r} watches {alert.signal}, which needs workspace.{key}",
            ("monitoring", "alerts", index, "signal"),
            f"set workspace.{key} to the resource the signal is measured on",
        )
    ]


def _windows(ctx: RenderContext, rule: dict[str, Any], path: SpecPath) -> list[Diagnostic]:
    properties = rule.get("properties", {})
    window, frequency = properties.get("windowSize"), properties.get("evaluationFrequency")
    metric = rule.get("type") == rules.METRIC_ALERT_TYPE
    windows, frequencies = (METRIC_WINDOWS, METRIC_FREQUENCIES) if metric else (LOG_WINDOWS, LOG_FREQUENCIES)
    kind = "metric alerts" if metric else "log alerts"
    if window not in windows:
        shown = ", ".join(windows)
        limit = "" if metric else f"; log alerts look back at most {LOG_MAX_LOOKBACK}"
        return [
            ctx.error(
                "MLS640",
                f"window {window} is not one Azure Monitor accepts for {kind}{limit}",
                (*path, "window"),
                f"allowed windows: {shown}",
            )
        ]
    if frequency not in frequencies or iso_minutes(str(frequency)) > iso_minutes(str(window)):
        return [
            ctx.error(
                "MLS640",
                f"evaluation frequency {frequency} does not fit window {window} for {kind}",
                (*path, "window"),
                f"frequencies: {', '.join(frequencies)}, at most the window",
            )
        ]
    return []


def _action_groups(
    ctx: RenderContext, rule: dict[str, Any], groups: set[str], path: SpecPath
) -> list[Diagnostic]:
    properties = rule.get("properties", {})
    actions = properties.get("actions")
    if isinstance(actions, dict):  # log alerts
        ids = list(actions.get("actionGroups", []))
    else:  # metric alerts
        ids = [a.get("actionGroupId") for a in actions or [] if isinstance(a, dict)]
    found: list[Diagnostic] = []
    for action_id in ids:
        match = _ACTION_GROUP_ID.match(str(action_id))
        name = match[1].replace("''", "'") if match else None
        if name not in groups:
            found.append(
                ctx.error(
                    "MLS642",
                    f"alert rule {rule.get('name')!r} names action group {action_id!r}, "
                    "which the template lacks",
                    path,
                )
            )
    if not ids:
        found.append(ctx.error("MLS642", f"alert rule {rule.get('name')!r} notifies no action group", path))
    return found


def _query(ctx: RenderContext, rule: dict[str, Any], path: SpecPath) -> list[Diagnostic]:
    if rule.get("type") != rules.LOG_ALERT_TYPE:
        return []
    found: list[Diagnostic] = []
    for condition in rule.get("properties", {}).get("criteria", {}).get("allOf", []):
        query = str(condition.get("query", "")).strip()
        if not query:
            found.append(ctx.error("MLS643", f"log alert {rule.get('name')!r} has an empty query", path))
        elif any(
            t not in tables.TABLE_COLUMNS and t not in tables.STANDARD_TABLES for t in _tables_read(query)
        ):
            found.append(
                ctx.error(
                    "MLS643",
                    f"log alert {rule.get('name')!r} queries a table the template does not declare",
                    path,
                )
            )
    return found


_LET = re.compile(r"^let [A-Za-z_][A-Za-z0-9_]* = ")


def _tables_read(query: str) -> list[str]:
    """The tables a rendered query starts its statements from: every line that is no ``|`` step (nor
    indented, a step of a ``let``), without a leading ``let name =``."""
    return [
        _LET.sub("", line).rstrip(";").strip()
        for line in query.split("\n")
        if line.strip() and not line.startswith((" ", "\t", "|"))
    ]


def _retrain_consistency(ctx: RenderContext) -> list[Diagnostic]:
    monitoring, model = ctx.model.monitoring, ctx.model.model
    if monitoring is None:
        return []
    found: list[Diagnostic] = []
    wired = any(template.retrain_wired(a, monitoring) for a in monitoring.alerts)
    if wired and model is not None and not ctx.will_produce(template.retrain_schedule(model.name)):
        path: SpecPath = ("monitoring", "retrain") if monitoring.retrain is not None else ("monitoring",)
        found.append(
            ctx.error(
                "MLS647",
                "alert-triggered retraining re-runs the Azure ML retrain schedule's job, and there is none",
                path,
                "set monitoring.retrain.schedule (a cron; the retrain trigger clones that "
                "schedule's pipeline job)",
            )
        )
    return found
