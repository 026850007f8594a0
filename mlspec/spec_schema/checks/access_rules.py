"""Role assignments the access template cannot make as the spec asks, at the grant's line.

- MLS651 two grants give the same principal the same role on the same scope (a source or transform
  scope is its lake container, so two datasets in one container are one scope)
- MLS652 a scope a resource-group template cannot assign on (``subscription``)
- MLS653 the scoring pods' identity is given by client id only (no ``name``): mlspec cannot create its
  federated credential, nor (without ``object_id``) grant it its roles (a warning)
- MLS654 a client id where an object id belongs: ``deployment.identity.object_id`` equal to its client id,
  or a grant whose principal is the scoring identity's client id
"""

from __future__ import annotations

from collections.abc import Iterator

from mlspec.diagnostics import Diagnostic
from mlspec.spec_schema.checks.context import CheckContext
from mlspec.spec_schema.grant_scopes import SUBSCRIPTION_SCOPE_PROBLEM, scope_identity
from mlspec.spec_schema.roles import role_definition_guid


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
    yield from _client_id_as_object_id(ctx)


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
    """An identity named only by client id deploys, but its pods cannot work: say what is missing."""
    deployment = ctx.model.deployment
    if deployment is None or deployment.identity is None:
        return
    identity = deployment.identity
    if identity.name is not None:
        return
    subject = f"system:serviceaccount:{deployment.namespace}:{deployment.endpoint}"
    missing = [f"no federated credential for {subject}, so the pods' token exchange fails"]
    given = "" if identity.object_id is None else " and object id"
    if identity.object_id is None:
        roles = ["Reader on the Azure ML workspace, so loading the model is a 403"]
        if deployment.secrets or deployment.auth == "key":
            roles.append("Key Vault Secrets User")
        if deployment.log_predictions is not None:
            roles.append("Storage Blob Data Contributor on the prediction log's folder")
        if ctx.model.workspace.application_insights is not None:
            roles.append("Monitoring Metrics Publisher on Application Insights")
        missing.append(f"no role assignment ({'; '.join(roles)})")
    yield ctx.warning(
        "MLS653",
        f"the scoring pods' identity is given by client id{given} only, no name: mlspec renders "
        + ", and ".join(missing),
        ("deployment", "identity", "client_id"),
        f"add `name:` (the identity's name in {ctx.model.workspace.resource_group}) to deployment.identity; "
        "mlspec then creates the credential and looks the object id up for the roles",
    )


def _client_id_as_object_id(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A managed identity's client id and object id are two GUIDs; Azure role assignments need the object id."""
    deployment = ctx.model.deployment
    if deployment is None or deployment.identity is None:
        return
    client_id = deployment.identity.client_id.lower()
    hint = (
        "the object (principal) id is on the identity's overview page: `az identity show --query principalId`"
    )
    object_id = deployment.identity.object_id
    if object_id is not None and object_id.lower() == client_id:
        yield ctx.error(
            "MLS654",
            "deployment.identity.object_id repeats its client_id: a role assignment needs the object id",
            ("deployment", "identity", "object_id"),
            hint,
        )
    for i, grant in enumerate(ctx.model.access.grants):
        if grant.principal.object_id.lower() == client_id:
            yield ctx.error(
                "MLS654",
                f"grant principal {grant.principal.object_id} is deployment.identity.client_id: a role "
                "assignment needs the identity's object id, never its client id",
                ("access", "grants", i, "principal"),
                hint + "; with deployment.identity.name (or object_id) mlspec grants the pods' roles itself",
            )
