"""Synapse RBAC role assignments: what mlspec's identities need *inside* a Synapse workspace.

Running a Synapse pipeline is governed by Synapse RBAC, the workspace's own data plane
(``https://<workspace>.dev.azuresynapse.net``, the access control API), not by Azure RBAC: an ARM
template cannot create these assignments. They are rendered as their own artifact,
``access/synapse-role-assignments.json``, one resource ``access.synapse_role_assignment.<label>``
(provider type :data:`PROVIDER_TYPE`) per entry of ``roleAssignments``, which a provider applies
through that API (the role by its built-in name, as ``az synapse role assignment create --role``).

What is assigned, from "Synapse RBAC roles" (learn.microsoft.com, articles/synapse-analytics/security/
synapse-workspace-synapse-rbac-roles.md), for the Azure ML step that runs the pipeline before training
(``refresh_features``; it runs as the compute cluster's system identity):

- *Synapse Credential User* on the workspace system identity credential
  (``workspaces/<ws>/credentials/WorkspaceSystemIdentity``): "to run pipelines, this role is required,
  scoped to the workspace system identity";
- *Synapse Compute Operator* on the workspace: the pipeline's notebook activities submit Spark jobs to
  the workspace's pools (``bigDataPools/useCompute``) through its integration runtime;
- *Synapse Monitoring Operator* on the workspace: reads pipeline runs (the step looks for the last
  successful one, then polls the run it started) without the right to cancel anything.

The principal is the cluster identity as ``access/role-assignments.json`` names it (an ARM
``reference()`` of the compute's ``identity.principalId``): the cluster exists, with its identity,
once the Azure ML service has created it, so every assignment depends on ``aml.compute.<cluster>``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from mlspec.compiler import addresses
from mlspec.compiler.access import identities
from mlspec.compiler.access.identities import Principal
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.contract.graph import Address, Resource
from mlspec.contract.outputs import output_marker
from mlspec.diagnostics import SpecPath

FILE = "access/synapse-role-assignments.json"
PROVIDER_TYPE = "synapse:role_assignment"
IMMUTABLE = ["role", "principalId", "principalType", "scope"]
"""Another role, principal or scope is another assignment; the description updates in place."""
SYSTEM_IDENTITY_CREDENTIAL = "WorkspaceSystemIdentity"
CREDENTIAL_USER = "Synapse Credential User"
COMPUTE_OPERATOR = "Synapse Compute Operator"
MONITORING_OPERATOR = "Synapse Monitoring Operator"


@dataclass(frozen=True)
class SynapseScope:
    label: str
    """Readable, for resource addresses."""
    path: str
    """The Synapse RBAC scope: ``workspaces/<ws>``, ``workspaces/<ws>/credentials/<name>``."""


def workspace_scope(workspace: str) -> SynapseScope:
    return SynapseScope("workspace", f"workspaces/{workspace}")


def pool_scope(workspace: str, pool: str) -> SynapseScope:
    return SynapseScope(f"pool-{pool}", f"workspaces/{workspace}/bigDataPools/{pool}")


def _pools(ctx: RenderContext) -> list[str]:
    """The Spark pools the Synapse pipeline's notebooks run on (each transform's, else the workspace's)."""
    default = ctx.model.workspace.spark_pool
    found = {t.spark.pool or default for t in ctx.model.transforms.values()}
    return sorted(p for p in found if p)


def system_identity_credential_scope(workspace: str) -> SynapseScope:
    return SynapseScope(
        "workspace-system-identity", f"workspaces/{workspace}/credentials/{SYSTEM_IDENTITY_CREDENTIAL}"
    )


@dataclass(frozen=True)
class SynapseRoleAssignment:
    principal: Principal
    role: str
    scope: SynapseScope
    source: SpecPath
    why: str
    depends_on: tuple[Address, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        return f"{self.principal.label}-{_slug(self.role)}-{self.scope.label}"

    def entry(self) -> dict[str, str]:
        return {
            "role": self.role,
            "principalId": self.principal.principal_id,
            "principalType": self.principal.principal_type,
            "scope": self.scope.path,
            "description": self.why,
        }


def azure_ml_synapse_roles(ctx: RenderContext) -> list[SynapseRoleAssignment]:
    """The Azure ML service's: the step that runs the Synapse pipeline before training runs as the
    compute cluster's identity, which needs to run it, use its Spark pools and read its runs."""
    model, workspace = ctx.model, ctx.model.workspace
    step = addresses.aml_component(addresses.FEATURE_REFRESH_STEP)
    if model.model is None or workspace.synapse is None or workspace.machine_learning is None:
        return []
    if not ctx.will_produce(step):
        return []
    cluster = model.model.training.compute.cluster
    created = addresses.aml_compute(cluster)
    if not ctx.will_produce(created):
        return []
    # The Synapse access control API takes an object id, not an ARM expression: the cluster's identity
    # is an output of the cluster, resolved at apply (mlspec.contract.outputs).
    arm = identities.aml_compute(workspace.machine_learning, cluster)
    compute = dataclasses.replace(arm, principal_id=output_marker(str(created), "principal_id"))
    waits = (created,)
    source: SpecPath = ("model", "training", "data")
    synapse = workspace.synapse
    # Compute Operator on the pools the notebooks use only, not on every pool of the workspace.
    pools = _pools(ctx)
    operate = [pool_scope(synapse, p) for p in pools] if pools else [workspace_scope(synapse)]
    wanted = (
        (CREDENTIAL_USER, system_identity_credential_scope(synapse), "runs the Synapse pipeline"),
        *((COMPUTE_OPERATOR, scope, "runs the pipeline's notebooks on Spark") for scope in operate),
        (MONITORING_OPERATOR, workspace_scope(synapse), "reads the pipeline's runs"),
    )
    return [
        SynapseRoleAssignment(
            compute,
            role,
            scope,
            source,
            f"the refresh_features step {what} before training, as the compute cluster's identity",
            waits,
        )
        for role, scope, what in wanted
    ]


def render(ctx: RenderContext, out: ArtifactSet) -> None:
    """Add ``access/synapse-role-assignments.json`` and its resources (nothing when nobody needs a role)."""
    workspace = ctx.model.workspace.synapse
    assignments = _unique([a for service in ctx.services for a in service.synapse_roles(ctx)])
    if not assignments or workspace is None:
        return
    document = {
        "metadata": {"generator": "mlspec", "project": ctx.project, "environment": ctx.environment},
        "workspace": workspace,
        "endpoint": f"https://{workspace}.dev.azuresynapse.net",
        "roleAssignments": [a.entry() for a in assignments],
    }
    out.add_json(FILE, document)
    for index, assignment in enumerate(assignments):
        out.add_resource(
            Resource(
                address=addresses.access_synapse_role_assignment(assignment.label),
                provider_type=PROVIDER_TYPE,
                files=[FILE],
                depends_on=list(assignment.depends_on),
                pointer=f"/roleAssignments/{index}",
                immutable=list(IMMUTABLE),
                source=assignment.source,
                description=(
                    f"{assignment.role} for {assignment.principal.label} on {assignment.scope.path}"
                ),
            )
        )


def _unique(assignments: list[SynapseRoleAssignment]) -> list[SynapseRoleAssignment]:
    """One assignment per principal, role and scope."""
    seen: set[tuple[str, str, str]] = set()
    kept: list[SynapseRoleAssignment] = []
    for a in assignments:
        key = (a.principal.seed.lower(), a.role, a.scope.path.lower())
        if key not in seen:
            seen.add(key)
            kept.append(a)
    return kept


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "role"
