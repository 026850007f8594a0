"""One role assignment: who gets which built-in role where, and its ARM resource."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mlspec.compiler.access.identities import Principal
from mlspec.compiler.access.scopes import Scope
from mlspec.compiler.arm import expression, literal, quote
from mlspec.contract.graph import Address
from mlspec.diagnostics import SpecPath

ROLE_ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"
ROLE_ASSIGNMENT_API = "2022-04-01"
IMMUTABLE = [
    "name",
    "scope",
    "properties.roleDefinitionId",
    "properties.principalId",
    "properties.principalType",
]
"""Another role, principal or scope is a new assignment; its description and condition update in place."""


@dataclass
class Assignment:
    principal: Principal
    role: str
    role_guid: str
    scope: Scope
    source: SpecPath
    why: str
    depends_on: list[Address] = field(default_factory=list)
    arm_depends_on: list[str] = field(default_factory=list)
    paths: tuple[str, ...] | None = None
    """For a Storage Blob Data role on a container: the folders (container-relative) it is limited to,
    by an attribute-based condition (:func:`path_condition`); ``None``: the whole container."""
    read_only: bool = True
    """With ``paths``: whether the role may only read there (``False``: also write, never delete)."""

    @property
    def key(self) -> tuple[str, str, str]:
        """Who gets which role where, as Azure resolves it: Azure keeps one assignment per key
        (``RoleAssignmentExists``). Resource ids and object ids are case-insensitive; a literal object id
        and a ``reference()`` of the same identity cannot be compared, so they are two keys."""
        return (self.principal.seed.lower(), self.role_guid, self.scope.id_expression.lower())

    @property
    def label(self) -> str:
        return f"{self.principal.label}-{_slug(self.role)}-{self.scope.label}"

    def name_expression(self) -> str:
        return expression(f"guid({self.scope.id_expression}, {self.principal.seed}, {quote(self.role_guid)})")

    def resource(self) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "type": ROLE_ASSIGNMENT_TYPE,
            "apiVersion": ROLE_ASSIGNMENT_API,
            "name": self.name_expression(),
        }
        if self.scope.path is not None:
            resource["scope"] = self.scope.path
        if self.arm_depends_on:
            resource["dependsOn"] = list(self.arm_depends_on)
        resource["properties"] = {
            "roleDefinitionId": expression(
                f"subscriptionResourceId('Microsoft.Authorization/roleDefinitions', {quote(self.role_guid)})"
            ),
            "principalId": self.principal.principal_id,
            "principalType": self.principal.principal_type,
            "description": literal(self.why),
        }
        if self.paths:
            resource["properties"]["condition"] = literal(
                path_condition(self.paths, read_only=self.read_only)
            )
            resource["properties"]["conditionVersion"] = "2.0"
        return resource


_BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
_READ_ACTIONS = (f"{_BLOB}/read",)
_WRITE_ACTIONS = (f"{_BLOB}/read", f"{_BLOB}/write", f"{_BLOB}/add/action", f"{_BLOB}/move/action")


def path_condition(paths: tuple[str, ...], *, read_only: bool) -> str:
    """An Azure ABAC condition limiting a Storage Blob Data role's data actions to blobs below ``paths``
    (ADLS Gen2 blob paths, container-relative), and for a writer refusing delete everywhere.

    The prefixes carry no trailing slash, so listing the folder itself is allowed too (its path has
    none). See "Azure role assignment condition format and syntax" (Microsoft Learn)."""
    actions = _READ_ACTIONS if read_only else _WRITE_ACTIONS
    not_these = " AND ".join(f"!(ActionMatches{{'{action}'}})" for action in actions)
    under = " OR ".join(
        f"@Resource[{_BLOB}:path] StringStartsWith '{path.strip('/')}'" for path in sorted(set(paths))
    )
    limited = f"(({not_these}) OR ({under}))"
    if read_only:
        return limited
    return f"((!(ActionMatches{{'{_BLOB}/delete'}}))) AND {limited}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "role"
