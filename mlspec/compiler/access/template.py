"""Render ``access`` (and the roles the artifacts' identities need) into ``access/role-assignments.json``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlspec.compiler import addresses
from mlspec.compiler.access import identities, needs, scopes, synapse_roles
from mlspec.compiler.access.assignment import IMMUTABLE, ROLE_ASSIGNMENT_TYPE, Assignment
from mlspec.compiler.access.merge import merge
from mlspec.compiler.access.scopes import ScopeError
from mlspec.compiler.arm import literal
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.contract.graph import Address, Resource
from mlspec.diagnostics import SpecPath
from mlspec.spec_schema.roles import role_definition_guid

TEMPLATE_FILE = "access/role-assignments.json"
DEPLOYMENT_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


def render(ctx: RenderContext, out: ArtifactSet) -> None:
    """Add the role assignments template and its resources (nothing when there is nothing to assign),
    and the Synapse RBAC assignments beside it (:mod:`.synapse_roles`)."""
    synapse_roles.render(ctx, out)
    model = ctx.model
    tags = {k: literal(v) for k, v in {**model.project.tags, "mlspec-project": ctx.project}.items()}
    assignments = merge(_grants(ctx, out), needs.implied(ctx))
    identity_part = _workload_identity(ctx, tags)
    if not assignments and identity_part is None:
        return
    resources: list[dict[str, Any]] = []
    graph: list[Resource] = []
    outputs: dict[str, Any] = {}
    if identity_part is not None:
        resources.append(identity_part.resource)
        outputs.update(identity_part.outputs)
        graph.append(
            Resource(
                address=identity_part.address,
                provider_type=f"arm:{identity_part.resource['type']}",
                files=[TEMPLATE_FILE],
                pointer="/resources/0",
                source=identity_part.source,
                description=identity_part.description,
            )
        )
    seen: set[str] = set()
    for assignment in assignments:
        address = addresses.access_role_assignment(assignment.label)
        if str(address) in seen:
            continue  # a duplicate grant; the spec checks refuse it at its line (MLS651)
        seen.add(str(address))
        graph.append(
            Resource(
                address=address,
                provider_type=f"arm:{ROLE_ASSIGNMENT_TYPE}",
                files=[TEMPLATE_FILE],
                depends_on=list(assignment.depends_on),
                pointer=f"/resources/{len(resources)}",
                immutable=list(IMMUTABLE),
                source=assignment.source,
                description=f"{assignment.role} for {assignment.principal.label} on {assignment.scope.label}",
            )
        )
        resources.append(assignment.resource())
    template = {
        "$schema": DEPLOYMENT_SCHEMA,
        "contentVersion": "1.0.0.0",
        "metadata": {"generator": "mlspec", "project": ctx.project, "environment": ctx.environment},
        "resources": resources,
        **({"outputs": outputs} if outputs else {}),
    }
    out.add_json(TEMPLATE_FILE, template)
    for part in graph:
        out.add_resource(part)


def _grants(ctx: RenderContext, out: ArtifactSet) -> list[Assignment]:
    found: list[Assignment] = []
    for i, grant in enumerate(ctx.model.access.grants):
        base: SpecPath = ("access", "grants", i)
        role_guid = role_definition_guid(grant.role)
        if role_guid is None:
            continue  # the spec check (MLS321) reports an unknown role; the check below repeats it
        try:
            scope = scopes.grant_scope(ctx.model, grant.scope)
        except ScopeError as exc:
            out.diagnostics.append(
                ctx.error("MLS652", f"grant scope {grant.scope!r}: {exc}", (*base, "scope"))
            )
            continue
        principal = identities.literal_principal(grant.principal.kind, grant.principal.object_id)
        why = grant.description or f"mlspec grant: {grant.role} on {grant.scope} ({ctx.project})"
        found.append(Assignment(principal, grant.role, role_guid, scope, base, why))
    return found


def provides(ctx: RenderContext) -> set[Address]:
    """The scoring pods' workload identity, or the federated credential on the given one, when this
    template renders it (the role assignments are not listed: nothing asks about them, and their names
    come from rendering them)."""
    identity = identities.scoring_identity(ctx.model)
    return {identity.address} if identity is not None and identity.renders_resource else set()


@dataclass(frozen=True)
class _IdentityPart:
    address: Address
    resource: dict[str, Any]
    outputs: dict[str, Any]
    source: SpecPath
    description: str


def _workload_identity(ctx: RenderContext, tags: dict[str, str]) -> _IdentityPart | None:
    """The created identity with its credential, or the credential on the identity the spec names."""
    identity, deployment = identities.scoring_identity(ctx.model), ctx.model.deployment
    cluster = ctx.model.workspace.kubernetes
    if identity is None or identity.name is None or deployment is None or cluster is None:
        return None
    where = {"cluster": cluster, "namespace": deployment.namespace, "endpoint": deployment.endpoint}
    if identity.created:
        resource = identities.workload_identity_resource(identity.name, ctx.location, tags=tags, **where)
        return _IdentityPart(
            identity.address,
            resource,
            identities.workload_identity_outputs(identity.name),
            ("deployment",),
            "the scoring pods' workload identity and its federated credential",
        )
    credential = identities.credential_name(ctx.project, ctx.environment, deployment.endpoint)
    resource = identities.federated_credential_resource(identity.name, credential, **where)
    return _IdentityPart(
        identity.address,
        resource,
        {},
        ("deployment", "identity", "name"),
        f"the federated credential of the scoring pods' identity {identity.name}",
    )
