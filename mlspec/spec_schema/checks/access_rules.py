"""Role assignments the access template cannot make as the spec asks, at the grant's line.

- MLS651 two grants give the same principal the same role on the same scope (a source or transform
  scope is its lake container, so two datasets in one container are one scope)
- MLS652 a scope a resource-group template cannot assign on (``subscription``)
- MLS653 the scoring pods' identity is given by client id, so mlspec cannot grant it its Key Vault
  role (a warning)
"""

from __future__ import annotations

from collections.abc import Iterator

from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.spec_schema.checks.context import CheckContext
from mlspec.spec_schema.grant_scopes import SUBSCRIPTION_SCOPE_PROBLEM, scope_identity
from mlspec.spec_schema.roles import role_definition_guid

KEY_VAULT_READER_ROLES = ("Key Vault Secrets User", "Key Vault Secrets Officer", "Key Vault Administrator")


def check_access(ctx: CheckContext) -> Iterator[Diagnostic]:
    yield from _duplicate_grants(ctx)
    for i, grant in enumerate(ctx.model.access.grants):
        if grant.scope == "subscription":
            yield ctx.error(
                "MLS652",
                f"grant scope {grant.scope!r}: {SUBSCRIPTION_SCOPE_PROBLEM}",
                ("access", "grants", i, "scope"),
            )
    yield from _client_id_identity(ctx)


def _duplicate_grants(ctx: CheckContext) -> Iterator[Diagnostic]:
    seen: dict[tuple[object, ...], int] = {}
    grants = ctx.model.access.grants
    for i, grant in enumerate(grants):
        role = role_definition_guid(grant.role) or grant.role
        key = (grant.principal.object_id.lower(), role, scope_identity(ctx.model, grant.scope))
        first = seen.setdefault(key, i)
        if first == i:
            continue
        if grants[first].scope == grant.scope:
            message = f"grant repeats grants[{first}]: same principal, role and scope"
        else:
            message = (
                f"grant repeats grants[{first}]: same principal and role, and scope {grant.scope!r} "
                f"is the lake container of {grants[first].scope!r}"
            )
        yield ctx.error(
            "MLS651", message, ("access", "grants", i), "remove one of them (a role assignment exists once)"
        )


def _client_id_identity(ctx: CheckContext) -> Iterator[Diagnostic]:
    deployment = ctx.model.deployment
    if deployment is None or deployment.identity is None:
        return
    needs_vault = bool(deployment.secrets) or deployment.auth == "key"
    vault_roles = {role_definition_guid(r) for r in KEY_VAULT_READER_ROLES}
    granted = any(
        g.scope == "key_vault"
        and g.principal.kind == "service_principal"
        and role_definition_guid(g.role) in vault_roles
        for g in ctx.model.access.grants
    )
    if needs_vault and not granted:
        path: SpecPath = ("deployment", "identity", "client_id")
        yield ctx.warning(
            "MLS653",
            "the scoring pods' identity is given by client id; mlspec cannot grant it Key Vault Secrets User",
            path,
            "grant it yourself, or add a grant with its object id: "
            "{principal: {service_principal: <object id>}, "
            "role: Key Vault Secrets User, scope: key_vault}",
        )
