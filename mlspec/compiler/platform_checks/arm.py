"""ARM deployment templates: the template's own structure, then each resource by its type.

Alerts and action groups go to :mod:`monitor` (azure-mgmt-monitor's models), role assignments to
:mod:`access`. Other resource types get the envelope checks only (type, apiVersion, name). Microsoft's
published deploymentTemplate JSON schema is not used: its draft-4 ``additionalProperties`` beside
``oneOf`` rejects valid metric alerts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from mlspec.compiler.platform_checks.access import ROLE_ASSIGNMENTS, check_role_assignment
from mlspec.compiler.platform_checks.arm_expressions import is_arm_expression, references
from mlspec.compiler.platform_checks.json_pointers import child, pointer, strings_in
from mlspec.compiler.platform_checks.monitor import (
    ACTION_GROUPS,
    API_VERSIONS,
    METRIC_ALERTS,
    SCHEDULED_QUERY_RULES,
    check_monitor_resource,
)
from mlspec.compiler.platform_checks.problems import PlatformProblem
from mlspec.compiler.platform_checks.suggestions import did_you_mean

ResourceCheck = Callable[[dict[str, Any], str, str], list[PlatformProblem]]

RESOURCE_CHECKS: dict[str, ResourceCheck] = {
    METRIC_ALERTS: check_monitor_resource,
    SCHEDULED_QUERY_RULES: check_monitor_resource,
    ACTION_GROUPS: check_monitor_resource,
    ROLE_ASSIGNMENTS: check_role_assignment,
}

_SCHEMA = re.compile(
    r"^https://schema\.management\.azure\.com/schemas/\d{4}-\d{2}-\d{2}/"
    r"(deploymentTemplate|subscriptionDeploymentTemplate|managementGroupDeploymentTemplate|tenantDeploymentTemplate)"
    r"\.json#?$"
)
_CONTENT_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$")
_API_VERSION = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$")
_TOP_LEVEL_KEYS = (
    "$schema",
    "contentVersion",
    "apiProfile",
    "languageVersion",
    "definitions",
    "parameters",
    "variables",
    "functions",
    "resources",
    "outputs",
    "metadata",
)
_PARAMETER_TYPES = frozenset({"string", "securestring", "int", "bool", "object", "secureobject", "array"})
# Keys ARM itself consumes; what remains of a resource is the body the resource provider receives.
_ENVELOPE_KEYS = frozenset({"apiVersion", "dependsOn", "condition", "copy", "comments"})


def check_arm_template(template: dict[str, Any], *, artifact: str | None = None) -> list[PlatformProblem]:
    """Problems in an ARM deployment template, its resources checked by type."""
    label = artifact or "ARM template"
    found = _top_level(template)
    problems = [PlatformProblem(label, where, message, "mlspec") for where, message in found]
    for where, resource in _resources(template):
        problems += _check_resource(resource, where, label)
    problems += [PlatformProblem(label, w, m, "mlspec") for w, m in _undeclared_references(template)]
    return problems


def _top_level(template: dict[str, Any]) -> list[tuple[str, str]]:
    found = [
        (pointer(key), f"unknown top-level field '{key}'{did_you_mean(key, _TOP_LEVEL_KEYS)}")
        for key in template
        if key not in _TOP_LEVEL_KEYS
    ]
    schema, version = template.get("$schema"), template.get("contentVersion")
    if schema is None:
        found.append((pointer("$schema"), "missing required field '$schema'"))
    elif not (isinstance(schema, str) and _SCHEMA.match(schema)):
        found.append((pointer("$schema"), f"{schema!r} is not an ARM deployment template schema URL"))
    if version is None:
        found.append((pointer("contentVersion"), "missing required field 'contentVersion'"))
    elif not (isinstance(version, str) and _CONTENT_VERSION.match(version)):
        found.append((pointer("contentVersion"), f"{version!r} is not a four-part version such as 1.0.0.0"))
    resources = template.get("resources")
    symbolic = template.get("languageVersion") == "2.0"  # resources keyed by symbolic name
    if resources is None:
        found.append((pointer("resources"), "missing required field 'resources'"))
    elif not isinstance(resources, dict if symbolic else list):
        found.append((pointer("resources"), f"resources must be {'an object' if symbolic else 'a list'}"))
    parameters = template.get("parameters")
    for name, parameter in parameters.items() if isinstance(parameters, dict) else []:
        kind = parameter.get("type") if isinstance(parameter, dict) else None
        if not isinstance(kind, str) or kind.lower() not in _PARAMETER_TYPES:
            found.append((pointer("parameters", name, "type"), f"parameter type {kind!r} is not an ARM type"))
    return found


def _resources(template: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    resources = template.get("resources")
    if isinstance(resources, list):
        return [(pointer("resources", index), resource) for index, resource in enumerate(resources)]
    if isinstance(resources, dict):
        return [(pointer("resources", name), resource) for name, resource in resources.items()]
    return []


def _check_resource(resource: object, where: str, label: str) -> list[PlatformProblem]:
    if not isinstance(resource, dict):
        return [PlatformProblem(label, where, "a resource must be an object", "mlspec")]
    found: list[tuple[str, str]] = []
    for key in ("type", "apiVersion", "name"):
        if not isinstance(resource.get(key), str):
            found.append((child(where, key), f"missing required field '{key}'"))
    resource_type, api_version = resource.get("type"), resource.get("apiVersion")
    expected = API_VERSIONS.get(str(resource_type))
    if isinstance(api_version, str) and not _API_VERSION.match(api_version):
        found.append(
            (child(where, "apiVersion"), f"{api_version!r} is not an api-version such as 2023-01-01")
        )
    elif expected and isinstance(api_version, str) and api_version != expected:
        message = (
            f"{resource_type} is checked against api-version {expected}, not {api_version}; render {expected}"
        )
        found.append((child(where, "apiVersion"), message))
    problems = [PlatformProblem(label, w, message, "mlspec") for w, message in found]
    check = RESOURCE_CHECKS.get(str(resource_type))
    if check is not None:
        body = {key: value for key, value in resource.items() if key not in _ENVELOPE_KEYS}
        problems += check(body, where, label)
    return problems


def _undeclared_references(template: dict[str, Any]) -> list[tuple[str, str]]:
    declared = {
        kind: set(template[kind]) if isinstance(template.get(kind), dict) else set()
        for kind in ("parameters", "variables")
    }
    found: list[tuple[str, str]] = []
    for where, text in strings_in(template):
        if not is_arm_expression(text):
            continue
        for kind, name in references(text):
            if name not in declared[kind]:
                hint = did_you_mean(name, sorted(declared[kind]))
                found.append((where, f"{kind}('{name}') is not declared in the template{hint}"))
    return found
