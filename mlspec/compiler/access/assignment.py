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
        return resource


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "role"
