"""mlspec's own checks of ``access/role-assignments.json`` (MLS650-659), at the spec line they come from.

MLS650 a grant's role has no role definition GUID, or a rendered roleDefinitionId is not one ·
MLS651 two rendered role assignments share a name, or a principal, role and scope (Azure refuses the
second with ``RoleAssignmentExists``) · MLS654 a rendered principalId is neither an object id nor an
expression that yields one, or is the scoring identity's client id. What the spec alone decides
(duplicate grants MLS651, scopes MLS652, an identity given by client id MLS653, a client id as a
principal MLS654) is checked before a build, by :mod:`mlspec.spec_schema.checks.access_rules`; these
look at what was rendered (defence in depth).
"""

from __future__ import annotations

import re
from typing import Any

from mlspec.compiler.access import template
from mlspec.compiler.access.assignment import ROLE_ASSIGNMENT_TYPE
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.diagnostics import Diagnostic
from mlspec.spec_schema.roles import GUID, role_definition_guid

_OBJECT_ID_EXPRESSION = re.compile(r"^\[reference\(.*\)(\.\w+)*\.(principalId|objectId)\]$")
"""``reference(<identity owner>, ...).identity.principalId`` and the like: what yields an object id."""
_ROLE_ID = re.compile(
    r"^\[subscriptionResourceId\('Microsoft\.Authorization/roleDefinitions', '([^']*)'\)\]$"
)


def check(ctx: RenderContext, out: ArtifactSet) -> list[Diagnostic]:
    found = _grant_roles(ctx)
    artifact = out.artifacts.get(template.TEMPLATE_FILE)
    if artifact is None or not isinstance(artifact.data, dict):
        return found
    arm: dict[str, Any] = artifact.data
    sources = {r.pointer: r.source for r in out.resources if r.file == template.TEMPLATE_FILE}
    names: set[str] = set()
    keys: set[tuple[str, str, str]] = set()
    client_id = _scoring_client_id(ctx)
    for index, resource in enumerate(arm.get("resources", [])):
        if resource.get("type") != ROLE_ASSIGNMENT_TYPE:
            continue
        source = sources.get(f"/resources/{index}", ("access",))
        properties = resource.get("properties", {})
        role_id = str(properties.get("roleDefinitionId", ""))
        match = _ROLE_ID.match(role_id)
        if match is None or not GUID.fullmatch(match[1]):
            found.append(
                ctx.error("MLS650", f"role definition id {role_id!r} is not a built-in role GUID", source)
            )
        name = str(resource.get("name"))
        if name in names:
            found.append(ctx.error("MLS651", f"two role assignments would be named {name}", source))
        names.add(name)
        principal = str(properties.get("principalId", ""))
        key = (principal.lower(), role_id.lower(), str(resource.get("scope", "")).lower())
        if key in keys:
            message = f"two role assignments give {principal} the same role on the same scope"
            found.append(ctx.error("MLS651", message, source))
        keys.add(key)
        problem = _principal_problem(principal, client_id)
        if problem is not None:
            found.append(ctx.error("MLS654", problem, source))
    return found


def _scoring_client_id(ctx: RenderContext) -> str | None:
    deployment = ctx.model.deployment
    if deployment is None or deployment.identity is None:
        return None
    return deployment.identity.client_id.lower()


def _principal_problem(principal: str, client_id: str | None) -> str | None:
    """Why ``principal`` cannot be a role assignment's principalId (Azure needs an object id)."""
    if GUID.fullmatch(principal):
        if principal.lower() == client_id:
            return f"principalId {principal} is the scoring identity's client id, not its object id"
        return None
    if _OBJECT_ID_EXPRESSION.fullmatch(principal):
        return None
    return f"principalId {principal!r} is neither an object id nor an expression that yields one"


def _grant_roles(ctx: RenderContext) -> list[Diagnostic]:
    return [
        ctx.error("MLS650", f"role {g.role!r} has no role definition GUID", ("access", "grants", i, "role"))
        for i, g in enumerate(ctx.model.access.grants)
        if role_definition_guid(g.role) is None
    ]
