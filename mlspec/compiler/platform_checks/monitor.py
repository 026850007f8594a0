"""Azure Monitor alert resources in an ARM template, read by ``azure-mgmt-monitor``'s models.

The models catch type errors (``"5m"`` as a duration); the walk in :mod:`sdk_models` adds missing
required fields, length limits (``groupShortName`` ≤ 12), unknown keys, discriminators
(``odata.type``, ``criterionType``) and enum values such as ``operator``, none of which ``from_dict``
checks. On top, rules the service applies that the models do not carry: severities 0-4, the allowed
metric-alert frequencies and windows, resource IDs where IDs go, the fields a log alert needs and
single-resource criteria having one scope.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from mlspec.compiler.platform_checks.arm_expressions import is_arm_expression
from mlspec.compiler.platform_checks.json_pointers import child
from mlspec.compiler.platform_checks.problems import PlatformProblem
from mlspec.compiler.platform_checks.sdk_models import ModelSet, check_model

CHECKER = "azure-mgmt-monitor"

METRIC_ALERTS = "Microsoft.Insights/metricAlerts"
SCHEDULED_QUERY_RULES = "Microsoft.Insights/scheduledQueryRules"
ACTION_GROUPS = "Microsoft.Insights/actionGroups"

# The api-version azure-mgmt-monitor 7.0's models describe; for another version the check would not hold.
API_VERSIONS = {METRIC_ALERTS: "2018-03-01", SCHEDULED_QUERY_RULES: "2023-12-01", ACTION_GROUPS: "2023-01-01"}
_MODELS = {
    METRIC_ALERTS: "MetricAlertResource",
    SCHEDULED_QUERY_RULES: "ScheduledQueryRuleResource",
    ACTION_GROUPS: "ActionGroupResource",
}
_FREQUENCIES = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H")
_WINDOWS = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "PT24H", "P1D")
_SINGLE_RESOURCE = "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
_MULTIPLE_RESOURCE = "Microsoft.Azure.Monitor.MultipleResourceMultipleMetricCriteria"


@cache
def _models() -> ModelSet:
    from azure.core.exceptions import DeserializationError
    from azure.mgmt.monitor import models
    from azure.mgmt.monitor._utils.serialization import Deserializer

    return ModelSet(
        namespace=models,
        deserializer=Deserializer(),
        error=DeserializationError,
        checker=CHECKER,
        is_expression=is_arm_expression,
        sdk_logger="azure.mgmt.monitor._utils.serialization",
    )


def check_monitor_resource(resource: dict[str, Any], where: str, artifact: str) -> list[PlatformProblem]:
    """Problems in one metric alert, log alert or action group (the ARM envelope keys already removed)."""
    resource_type = resource.get("type")
    problems = check_model(_models(), _MODELS[str(resource_type)], resource, artifact, where)
    properties = resource.get("properties")
    if not isinstance(properties, dict):
        return problems
    at = child(where, "properties")
    if resource_type == METRIC_ALERTS:
        found = _metric_alert_rules(properties, at)
    elif resource_type == SCHEDULED_QUERY_RULES:
        found = _log_alert_rules(properties, at, str(resource.get("kind", "LogAlert")))
    else:
        found = _action_group_rules(properties, at)
    return problems + [PlatformProblem(artifact, w, message, "mlspec") for w, message in found]


def _metric_alert_rules(properties: dict[str, Any], where: str) -> list[tuple[str, str]]:
    found = _severity(properties, where) + _resource_ids(properties.get("scopes"), child(where, "scopes"))
    frequency, window = properties.get("evaluationFrequency"), properties.get("windowSize")
    if isinstance(frequency, str) and frequency.startswith("P") and frequency not in _FREQUENCIES:
        found.append(
            (child(where, "evaluationFrequency"), f"{frequency!r} is not one of {', '.join(_FREQUENCIES)}")
        )
    # A value that is no duration at all is the SDK's to report ("cannot read ... as a duration").
    if isinstance(window, str) and window.startswith("P") and window not in _WINDOWS:
        found.append((child(where, "windowSize"), f"{window!r} is not one of {', '.join(_WINDOWS)}"))
    elif window in _WINDOWS and frequency in _WINDOWS and _WINDOWS.index(window) < _WINDOWS.index(frequency):
        found.append(
            (
                child(where, "windowSize"),
                f"windowSize {window} is shorter than evaluationFrequency {frequency}",
            )
        )
    for index, action in enumerate(properties.get("actions") or []):
        if isinstance(action, dict):
            found += _resource_ids(
                [action.get("actionGroupId")], child(where, "actions", index, "actionGroupId"), 0
            )
    criteria, scopes = properties.get("criteria"), properties.get("scopes")
    kind = criteria.get("odata.type") if isinstance(criteria, dict) else None
    if isinstance(scopes, list) and kind == _SINGLE_RESOURCE and len(scopes) != 1:
        found.append((child(where, "scopes"), "single-resource criteria need exactly one scope"))
    if isinstance(scopes, list) and kind == _MULTIPLE_RESOURCE and len(scopes) > 1:
        for key in ("targetResourceType", "targetResourceRegion"):
            if key not in properties:
                found.append((child(where, key), f"{key} is required when a metric alert has several scopes"))
    return found


def _log_alert_rules(properties: dict[str, Any], where: str, kind: str) -> list[tuple[str, str]]:
    # The REST spec marks these required (the log alert ones only for kind LogAlert); the models do not.
    required = ["scopes", "criteria"] + (
        ["severity", "evaluationFrequency", "windowSize"] if kind == "LogAlert" else []
    )
    found = [
        (child(where, key), f"missing required field '{key}'") for key in required if key not in properties
    ]
    found += _severity(properties, where) + _resource_ids(properties.get("scopes"), child(where, "scopes"))
    actions = properties.get("actions")
    if isinstance(actions, dict):
        found += _resource_ids(actions.get("actionGroups"), child(where, "actions", "actionGroups"))
    criteria = properties.get("criteria")
    conditions = criteria.get("allOf") if isinstance(criteria, dict) else None
    for index, condition in enumerate(conditions if isinstance(conditions, list) else []):
        if isinstance(condition, dict) and kind == "LogAlert":
            for key in ("query", "timeAggregation", "operator", "threshold"):
                if key not in condition:
                    at = child(where, "criteria", "allOf", index, key)
                    found.append((at, f"missing required field '{key}' (a log alert condition needs it)"))
    return found


def _action_group_rules(properties: dict[str, Any], where: str) -> list[tuple[str, str]]:
    # Required in the REST spec (ActionGroup: groupShortName, enabled), optional in the model.
    return [
        (child(where, key), f"missing required field '{key}'")
        for key in ("groupShortName", "enabled")
        if key not in properties
    ]


def _severity(properties: dict[str, Any], where: str) -> list[tuple[str, str]]:
    severity = properties.get("severity")
    if isinstance(severity, int) and not isinstance(severity, bool) and not 0 <= severity <= 4:
        return [(child(where, "severity"), f"severity {severity} is not between 0 and 4")]
    return []


def _resource_ids(values: object, where: str, single: int | None = None) -> list[tuple[str, str]]:
    """Literal IDs must be ARM resource IDs; expressions (``[resourceId(...)]``) are taken as they are."""
    if not isinstance(values, list):
        return []
    found: list[tuple[str, str]] = []
    for index, value in enumerate(values):
        at = where if single is not None else child(where, index)
        if (
            isinstance(value, str)
            and not is_arm_expression(value)
            and not value.lower().startswith("/subscriptions/")
        ):
            found.append((at, f"{value!r} is not a resource ID (/subscriptions/...) nor an ARM expression"))
    return found
