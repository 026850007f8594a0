"""mlspec's own checks of ``access/role-assignments.json`` (MLS650-659), at the spec line they come from.

MLS650 a grant's role has no role definition GUID, or a rendered roleDefinitionId is not one ·
MLS651 two grants give the same principal the same role on the same scope · MLS652 a scope this
template cannot assign on (reported by the renderer) · MLS653 the scoring pods' identity is given by
client id, so mlspec cannot grant it its Key Vault role.
"""

from __future__ import annotations

import re
from typing import Any

from mlspec.compiler.access import template
from mlspec.compiler.access.assignment import ROLE_ASSIGNMENT_TYPE
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.diagnostics import Diagnostic
from mlspec.spec_schema.roles import GUID, role_definition_guid

_ROLE_ID = re.compile(
    r"^\[subscriptionResourceId\('Microsoft\.Authorization/roleDefinitions', '([^']*)'\)\]$"
)


def check(ctx: RenderContext, out: ArtifactSet) -> list[Diagnostic]:
    found = _grant_roles(ctx) + _duplicate_grants(ctx) + _client_id_identity(ctx)
    artifact = out.artifacts.get(template.TEMPLATE_FILE)
    if artifact is None or not isinstance(artifact.data, dict):
        return found
    arm: dict[str, Any] = artifact.data
    sources = {r.pointer: r.source for r in out.resources if r.file == template.TEMPLATE_FILE}
    names: dict[str, str] = {}
    for index, resource in enumerate(arm.get("resources", [])):
        if resource.get("type") != ROLE_ASSIGNMENT_TYPE:
            continue
        source = sources.get(f"/resources/{index}", ("access",))
        role_id = str(resource.get("properties", {}).get("roleDefinitionId", ""))
        match = _ROLE_ID.match(role_id)
        if match is None or not GUID.fullmatch(match[1]):
            found.append(
                ctx.error("MLS650", f"role definition id {role_id!r} is not a built-in role GUID", source)
            )
        name = str(resource.get("name"))
        if name in names:
            found.append(ctx.error("MLS651", f"two role assignments would be named {name}", source))
        names[name] = name
    return found


def _grant_roles(ctx: RenderContext) -> list[Diagnostic]:
    return [
        ctx.error("MLS650", f"role {g.role!r} has no role definition GUID", ("access", "grants", i, "role"))
        for i, g in enumerate(ctx.model.access.grants)
        if role_definition_guid(g.role) is None
    ]


def _duplicate_grants(ctx: RenderContext) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    seen: dict[tuple[str, str, str], int] = {}
    for i, grant in enumerate(ctx.model.access.grants):
        role = role_definition_guid(grant.role) or grant.role
        key = (grant.principal.object_id.lower(), role, grant.scope)
        if key in seen:
            found.append(
                ctx.error(
                    "MLS651",
                    f"grant repeats grants[{seen[key]}]: same principal, role and scope",
                    ("access", "grants", i),
                    "remove one of them (a role assignment exists once)",
                )
            )
        else:
            seen[key] = i
    return found


def _client_id_identity(ctx: RenderContext) -> list[Diagnostic]:
    deployment = ctx.model.deployment
    if deployment is None or deployment.identity is None:
        return []
    needs_vault = bool(deployment.secrets) or deployment.auth == "key"
    vault_roles = {
        role_definition_guid(r)
        for r in ("Key Vault Secrets User", "Key Vault Secrets Officer", "Key Vault Administrator")
    }
    granted = any(
        g.scope == "key_vault"
        and g.principal.kind == "service_principal"
        and role_definition_guid(g.role) in vault_roles
        for g in ctx.model.access.grants
    )
    if not needs_vault or granted:
        return []
    path = ("deployment", "identity", "client_id")
    return [
        Diagnostic.warning(
            "MLS653",
            "the scoring pods' identity is given by client id; mlspec cannot grant it Key Vault Secrets User",
            path,
            ctx.spec.locate(path),
            "grant it yourself, or add a grant with its object id: "
            "{principal: {service_principal: <object id>}, "
            "role: Key Vault Secrets User, scope: key_vault}",
        )
    ]
