"""The registry of Azure services mlspec compiles to: one :class:`Service` entry each, in :data:`SERVICES`.

Build renders and checks every entry, the access template grants the roles every entry's identities
need, ``build --check`` looks for every entry's platform checkers: a new service is one package plus
one line here, and nothing else lists them.

No renderer asks whether another one ran: a question about another service's resource is answered
by :meth:`RenderContext.will_produce`, from what each entry's ``provides`` computes from the resolved
spec alone, so the services may render in any order (``tests/compiler/test_services.py`` builds in
reversed and shuffled order and compares every byte).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlspec.compiler import access, aks, azureml, monitor, powerbi, synapse
from mlspec.compiler.access import needs, synapse_roles
from mlspec.compiler.access.assignment import Assignment
from mlspec.compiler.access.synapse_roles import SynapseRoleAssignment
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.contract.graph import Address
from mlspec.diagnostics import Diagnostic

Renderer = Callable[[RenderContext, ArtifactSet], None]
Checker = Callable[[RenderContext, ArtifactSet], list[Diagnostic]]
Provides = Callable[[RenderContext], set[Address]]
Roles = Callable[[RenderContext], list[Assignment]]
SynapseRoles = Callable[[RenderContext], list[SynapseRoleAssignment]]


def _promises_nothing(ctx: RenderContext) -> set[Address]:
    return set()


def _needs_no_roles(ctx: RenderContext) -> list[Assignment]:
    return []


def _needs_no_synapse_roles(ctx: RenderContext) -> list[SynapseRoleAssignment]:
    return []


@dataclass(frozen=True)
class Service:
    """One Azure service: how it renders and checks, which addresses are its own, what its identities need."""

    name: str
    render: Renderer
    """Adds the service's artifacts and resources to the build; reads the spec and ``ctx.will_produce`` only."""
    check: Checker
    """mlspec's own checks of the rendered artifacts, run once every service has rendered."""
    kinds: tuple[str, ...]
    """The ``<service>.<kind>`` address prefixes it owns; no two services share one."""
    provides: Provides = _promises_nothing
    """Addresses it will render, from the resolved spec alone (never from ``will_produce``).

    Promised: every address in it is rendered (a dependency on it never dangles), and every address
    another service asks about is in it exactly when it is rendered. Not promised: every rendered address
    -- listing each AKS object or role assignment would restate the renderers' whole logic a second time,
    for questions nobody asks."""
    roles: Roles = _needs_no_roles
    """Role assignments the identities its artifacts run as need; the access template renders them."""
    synapse_roles: SynapseRoles = _needs_no_synapse_roles
    """Synapse RBAC role assignments they need inside the Synapse workspace (its data plane, which ARM
    cannot assign); the access service renders them in ``access/synapse-role-assignments.json``."""
    checker_modules: tuple[str, ...] = ()
    """The SDK modules ``build --check`` runs its artifacts through (the ``azure-checks`` extra)."""

    def owns(self, address: Address) -> bool:
        return f"{address.service}.{address.kind}" in self.kinds


# The order is the order of what the services share: the implied role assignments in
# access/role-assignments.json and the build's diagnostics. Rendering does not depend on it.
SERVICES: tuple[Service, ...] = (
    Service(
        "azureml",
        azureml.render,
        azureml.check,
        (
            "aml.environment",
            "aml.compute",
            "aml.component",
            "aml.pipeline",
            "aml.schedule",
            "aml.monitor",
        ),
        provides=azureml.provides,
        roles=needs.azure_ml_roles,
        synapse_roles=synapse_roles.azure_ml_synapse_roles,
        checker_modules=("azure.ai.ml",),
    ),
    Service(
        "synapse",
        synapse.render,
        synapse.check,
        ("synapse.notebook", "synapse.pipeline"),
        provides=synapse.provides,
        roles=needs.synapse_roles,
        checker_modules=("azure.synapse.artifacts", "nbformat"),
    ),
    Service(
        "aks",
        aks.render,
        aks.check,
        (
            "acr.task",
            "aks.namespace",
            "aks.service_account",
            "aks.config_map",
            "aks.secret_provider_class",
            "aks.network_policy",
            "aks.deployment",
            "aks.service",
            "aks.hpa",
            "aks.pdb",
        ),
        roles=needs.serving_roles,
        checker_modules=("kubernetes_validate", "jsonschema"),
    ),
    Service(
        "monitor",
        monitor.render,
        monitor.check,
        (
            "monitor.log_table",
            "monitor.data_collection_endpoint",
            "monitor.data_collection_rule",
            "monitor.retrain_trigger",
            "monitor.action_group",
            "monitor.metric_alert",
            "monitor.log_alert",
        ),
        provides=monitor.provides,
        checker_modules=("azure.mgmt.monitor",),
    ),
    Service(
        "access",
        access.render,
        access.check,
        ("access.identity", "access.role_assignment", "access.synapse_role_assignment"),
        provides=access.provides,
    ),
    Service(
        "powerbi",
        powerbi.render,
        powerbi.check,
        ("powerbi.report",),
        checker_modules=("jsonschema",),
    ),
)


def service_of(address: Address, services: tuple[Service, ...] = SERVICES) -> Service | None:
    """The service owning ``address``, if any."""
    return next((s for s in services if s.owns(address)), None)
