"""Render ``monitoring`` into one ARM template, ``monitor/alerts.json``, and one resource per part of it."""

from __future__ import annotations

from typing import Any

from mlspec.compiler import addresses
from mlspec.compiler.arm import expression, literal, resource_id
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.monitor import retrain, rules, tables
from mlspec.compiler.monitor.parts import ACTION_GROUP_TYPE, Part
from mlspec.contract.graph import Address, Resource
from mlspec.diagnostics import SpecPath
from mlspec.spec_schema.durations import duration_problem
from mlspec.spec_schema.models import Alert, ModelSpec, Monitoring

TEMPLATE_FILE = "monitor/alerts.json"
DEPLOYMENT_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
ACTION_GROUP_API = "2023-01-01"
SHORT_NAME_MAX = 12


def notify_group_name(project: str) -> str:
    return f"{project}-notify"


def retrain_group_name(project: str) -> str:
    return f"{project}-retrain"


def short_name(project: str, suffix: str) -> str:
    """``groupShortName`` (at most 12 characters, shown in SMS and e-mail subjects)."""
    return f"{project[: SHORT_NAME_MAX - len(suffix) - 1].rstrip('-')}-{suffix}"


def retrain_wired(alert: Alert, monitoring: Monitoring) -> bool:
    """An alert triggers retraining when it says ``action: retrain`` or ``retrain.on_alerts`` lists it."""
    listed = monitoring.retrain is not None and alert.name in monitoring.retrain.on_alerts
    return alert.action == "retrain" or listed


def retrain_schedule(model: str) -> Address:
    """The Azure ML retrain schedule whose job the trigger re-runs (rendered by the azureml renderer)."""
    return addresses.aml_schedule(f"{model}-retrain")


def _alerting(ctx: RenderContext) -> tuple[Monitoring, str] | None:
    """The monitoring section and Log Analytics workspace, when there are alerts to template."""
    monitoring, workspace = ctx.model.monitoring, ctx.model.workspace
    if monitoring is None or not monitoring.alerts or workspace.log_analytics is None:
        return None
    return monitoring, workspace.log_analytics


def _retrains(ctx: RenderContext, monitoring: Monitoring) -> tuple[ModelSpec, str] | None:
    """The model an alert retrains and its Azure ML workspace, when an alert retrains and there is one."""
    model, workspace = ctx.model.model, ctx.model.workspace
    wired = any(retrain_wired(a, monitoring) for a in monitoring.alerts)
    if not wired or model is None or workspace.machine_learning is None:
        return None
    return model, workspace.machine_learning


def provides(ctx: RenderContext) -> set[Address]:
    """The template's supporting resources, which the access template grants roles on (the alert rules
    are not listed: whether one renders depends on its signal, and nothing asks about them)."""
    alerting = _alerting(ctx)
    if alerting is None:
        return set()
    project = ctx.project
    found = {
        addresses.monitor_log_table(tables.MONITORING_TABLE),
        addresses.monitor_data_collection_endpoint(project),
        addresses.monitor_data_collection_rule(project),
        addresses.monitor_action_group(notify_group_name(project)),
    }
    if _retrains(ctx, alerting[0]) is not None:
        found.add(addresses.monitor_retrain_trigger(project))
        found.add(addresses.monitor_action_group(retrain_group_name(project)))
    return found


def render(ctx: RenderContext, out: ArtifactSet) -> None:
    """Add ``monitor/alerts.json`` and its resources (nothing without alerts or a Log Analytics workspace)."""
    alerting = _alerting(ctx)
    if alerting is None:
        return
    monitoring, log_analytics = alerting
    project = ctx.project
    tags = {k: literal(v) for k, v in {**ctx.model.project.tags, "mlspec-project": project}.items()}
    parts = _log_ingestion(ctx, log_analytics, ctx.location, tags)
    notify = notify_group_name(project)
    parts.append(_notify_group(ctx, notify, tags))
    retrain_group = _retrain_parts(ctx, monitoring, parts, tags)
    for index, alert in enumerate(monitoring.alerts):
        if duration_problem(alert.window) is not None:
            continue  # the spec check reports the window
        groups = [notify] + ([retrain_group] if retrain_group and retrain_wired(alert, monitoring) else [])
        part = rules.alert_part(ctx, index, alert, groups, tags)
        if part is not None:
            parts.append(part)
    template = {
        "$schema": DEPLOYMENT_SCHEMA,
        "contentVersion": "1.0.0.0",
        "metadata": {"generator": "mlspec", "project": project, "environment": ctx.environment},
        "resources": [p.resource for p in parts],
        "outputs": tables.outputs(
            addresses.monitor_data_collection_endpoint(project).name,
            addresses.monitor_data_collection_rule(project).name,
        ),
    }
    out.add_json(TEMPLATE_FILE, template)
    for index, part in enumerate(parts):
        out.add_resource(
            Resource(
                address=part.address,
                provider_type=part.provider_type,
                files=[TEMPLATE_FILE],
                depends_on=part.depends_on,
                pointer=f"/resources/{index}",
                source=part.source,
                description=part.description,
            )
        )


def _log_ingestion(ctx: RenderContext, workspace: str, location: str, tags: dict[str, str]) -> list[Part]:
    project = ctx.project
    names = [tables.MONITORING_TABLE]
    parts = [
        Part(
            addresses.monitor_log_table(table),
            tables.table_resource(workspace, table),
            ("monitoring",),
            description=f"Log Analytics table {table} in {workspace}",
        )
        for table in names
    ]
    endpoint = addresses.monitor_data_collection_endpoint(project)
    rule = addresses.monitor_data_collection_rule(project)
    parts.append(
        Part(
            endpoint,
            {**tables.endpoint_resource(endpoint.name, location), "tags": tags},
            ("monitoring",),
            description="Logs Ingestion API endpoint",
        )
    )
    parts.append(
        Part(
            rule,
            {**tables.rule_resource(rule.name, location, workspace, endpoint.name, names), "tags": tags},
            ("monitoring",),
            depends_on=[endpoint, *(addresses.monitor_log_table(t) for t in names)],
            description="routes monitoring rows into their table",
        )
    )
    return parts


def _notify_group(ctx: RenderContext, name: str, tags: dict[str, str]) -> Part:
    notify = ctx.model.monitoring.notify if ctx.model.monitoring else None
    emails = notify.email if notify else []
    webhooks = notify.webhook if notify else []
    properties: dict[str, Any] = {
        "groupShortName": short_name(ctx.project, "ntf"),
        "enabled": True,
        "emailReceivers": [
            {"name": f"email-{i + 1}", "emailAddress": literal(email), "useCommonAlertSchema": True}
            for i, email in enumerate(emails)
        ],
        "webhookReceivers": [
            {"name": f"webhook-{i + 1}", "serviceUri": literal(url), "useCommonAlertSchema": True}
            for i, url in enumerate(webhooks)
        ],
    }
    resource = {
        "type": ACTION_GROUP_TYPE,
        "apiVersion": ACTION_GROUP_API,
        "name": name,
        "location": "Global",
        "tags": tags,
        "properties": properties,
    }
    return Part(
        addresses.monitor_action_group(name),
        resource,
        ("monitoring", "notify"),
        description="alert notifications",
    )


def _retrain_parts(
    ctx: RenderContext, monitoring: Monitoring, parts: list[Part], tags: dict[str, str]
) -> str | None:
    """The retrain trigger and its action group, when an alert retrains and there is a model to retrain."""
    retrains = _retrains(ctx, monitoring)
    if retrains is None:
        return None
    model, machine_learning = retrains
    trigger = addresses.monitor_retrain_trigger(ctx.project)
    schedule = retrain_schedule(model.name)
    depends = [addresses.aml_pipeline(model.name)]
    if ctx.will_produce(schedule):  # the check reports a missing one (MLS647)
        depends.append(schedule)
    source: SpecPath = ("monitoring", "retrain") if monitoring.retrain is not None else ("monitoring",)
    parts.append(
        Part(
            trigger,
            retrain.workflow_resource(trigger.name, ctx.location, machine_learning, schedule.name, tags),
            source,
            depends_on=depends,
            description=f"re-runs the {model.name} pipeline when a retrain alert fires",
        )
    )
    name = retrain_group_name(ctx.project)
    group = {
        "type": ACTION_GROUP_TYPE,
        "apiVersion": ACTION_GROUP_API,
        "name": name,
        "location": "Global",
        "tags": tags,
        "dependsOn": [expression(resource_id("Microsoft.Logic/workflows", trigger.name))],
        "properties": {
            "groupShortName": short_name(ctx.project, "rtr"),
            "enabled": True,
            "logicAppReceivers": [retrain.receiver(trigger.name)],
        },
    }
    parts.append(
        Part(
            addresses.monitor_action_group(name),
            group,
            source,
            depends_on=[trigger],
            description="retrain trigger",
        )
    )
    return name
