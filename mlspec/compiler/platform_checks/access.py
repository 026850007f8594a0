"""Role assignments (``Microsoft.Authorization/roleAssignments``) in an ARM template.

No SDK in mlspec's pins models them, so the rules are written out here from the REST reference:
``properties.roleDefinitionId`` and ``principalId`` are required, ``principalType`` is one of five
values, and the assignment's name must be a GUID -- in a template, a ``guid(...)`` expression so that
redeploying yields the same name instead of a duplicate assignment.
"""

from __future__ import annotations

import re
from typing import Any

from mlspec.compiler.platform_checks.arm_expressions import is_arm_expression
from mlspec.compiler.platform_checks.json_pointers import child
from mlspec.compiler.platform_checks.problems import PlatformProblem
from mlspec.compiler.platform_checks.suggestions import did_you_mean

ROLE_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"
PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal", "ForeignGroup", "Device")

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ROLE_DEFINITION_ID = re.compile(
    r"^(/subscriptions/[^/]+)?(/resourceGroups/[^/]+)?/providers/Microsoft\.Authorization/roleDefinitions/"
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    re.IGNORECASE,
)
_RESOURCE_KEYS = ("type", "name", "properties", "scope")
_PROPERTY_KEYS = (
    "roleDefinitionId",
    "principalId",
    "principalType",
    "description",
    "condition",
    "conditionVersion",
    "delegatedManagedIdentityResourceId",
)


def check_role_assignment(resource: dict[str, Any], where: str, artifact: str) -> list[PlatformProblem]:
    """Problems in one role assignment resource (the ARM envelope keys already removed)."""
    found = [
        (child(where, key), f"unknown field '{key}' in a role assignment{did_you_mean(key, _RESOURCE_KEYS)}")
        for key in resource
        if key not in _RESOURCE_KEYS
    ]
    found += _name(resource.get("name"), child(where, "name"))
    properties = resource.get("properties")
    at = child(where, "properties")
    if not isinstance(properties, dict):
        found.append((at, "missing required field 'properties'"))
    else:
        found += _properties(properties, at)
    return [PlatformProblem(artifact, w, message, "mlspec") for w, message in found]


def _name(name: object, where: str) -> list[tuple[str, str]]:
    if is_arm_expression(name):
        if "guid(" in str(name):
            return []
        return [(where, f"{name!r} must be built with guid(...) so redeploying keeps the same assignment")]
    if isinstance(name, str) and _GUID.match(name):
        return []
    return [(where, f"{name!r} is not a GUID; use a [guid(...)] expression")]


def _properties(properties: dict[str, Any], where: str) -> list[tuple[str, str]]:
    found = [
        (
            child(where, key),
            f"unknown field '{key}' in a role assignment's properties{did_you_mean(key, _PROPERTY_KEYS)}",
        )
        for key in properties
        if key not in _PROPERTY_KEYS
    ]
    for key in ("roleDefinitionId", "principalId"):
        if properties.get(key) is None:
            found.append((child(where, key), f"missing required field '{key}'"))
    role, principal = properties.get("roleDefinitionId"), properties.get("principalId")
    if role is not None and not _literal_matches(role, _ROLE_DEFINITION_ID):
        message = f"{role!r} is not a role definition ID (.../Microsoft.Authorization/roleDefinitions/<guid>)"
        found.append((child(where, "roleDefinitionId"), message))
    if principal is not None and not _literal_matches(principal, _GUID):
        found.append((child(where, "principalId"), f"{principal!r} is not an object ID (a GUID)"))
    kind = properties.get("principalType")
    if kind is not None and not is_arm_expression(kind) and kind not in PRINCIPAL_TYPES:
        allowed = ", ".join(PRINCIPAL_TYPES)
        message = f"{kind!r} is not one of {allowed}{did_you_mean(kind, PRINCIPAL_TYPES)}"
        found.append((child(where, "principalType"), message))
    if "conditionVersion" in properties and "condition" not in properties:
        found.append((child(where, "conditionVersion"), "conditionVersion is set without a condition"))
    return found


def _literal_matches(value: object, pattern: re.Pattern[str]) -> bool:
    """An ARM expression is taken as it is; a literal must match ``pattern``."""
    return is_arm_expression(value) or (isinstance(value, str) and pattern.match(value) is not None)
