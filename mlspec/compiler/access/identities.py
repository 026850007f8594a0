"""The managed identities the rendered artifacts run as, and the roles each one needs.

System-assigned identities are read at deployment time with ARM ``reference()``:

- Azure ML workspace: ``reference(<workspace id>, '2024-04-01', 'Full').identity.principalId``
- Synapse workspace: ``reference(<workspace id>, '2021-06-01', 'Full').identity.principalId``
- AKS kubelet (pulls images):
  ``reference(<cluster id>, '2024-02-01').identityProfile.kubeletidentity.objectId``
- the retrain Logic App: ``reference(<workflow id>, '2019-05-01', 'Full').identity.principalId``

The scoring pods run as a user-assigned identity federated with the cluster's OIDC issuer for the
Kubernetes service account ``system:serviceaccount:<namespace>:<endpoint>`` (AKS workload identity):

- without ``deployment.identity``, this template creates the identity with its federated credential;
- with ``deployment.identity.name``, the identity exists: the template adds the federated credential to
  it (``Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials``, named
  ``<project>-<environment>-<endpoint>`` so that two environments sharing the identity do not
  overwrite each other's) and its role assignments name ``object_id`` or, absent, look the object id
  up with ``reference(<identity id>, '2023-01-31').principalId``;
- with ``client_id`` only, nothing is rendered for it (MLS653 says what is missing); with
  ``object_id`` but no ``name``, its roles are assigned, with no federated credential.

A role assignment never names a client id: ``principalId`` is a literal object id or an expression
that yields one (``.principalId``, ``.objectId``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlspec.compiler import addresses
from mlspec.compiler.arm import expression, quote, resource_id
from mlspec.contract.graph import Address
from mlspec.spec_schema.models import MLProject

ML_API = "2024-04-01"
SYNAPSE_API = "2021-06-01"
AKS_API = "2024-02-01"
LOGIC_API = "2019-05-01"
IDENTITY_API = "2023-01-31"
IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
CREDENTIAL_TYPE = f"{IDENTITY_TYPE}/federatedIdentityCredentials"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"


@dataclass(frozen=True)
class Principal:
    label: str
    """Readable, for resource addresses (``aml-workspace``)."""
    principal_id: str
    """A literal object id or an ARM expression string (``[reference(...)...]``)."""
    principal_type: str
    seed: str
    """An ARM expression (no brackets) that identifies the principal at template-compile time, for ``guid()``;
    ``reference()`` is not allowed in a resource name."""


def literal_principal(kind: str, object_id: str) -> Principal:
    principal_type = {"user": "User", "group": "Group", "service_principal": "ServicePrincipal"}[kind]
    # Object ids are case-insensitive; one spelling keeps the guid() name and the comparison of grants stable.
    object_id = object_id.lower()
    return Principal(f"{kind}-{object_id}", object_id, principal_type, quote(object_id))


def system_identity(label: str, resource_type: str, name: str, api: str) -> Principal:
    rid = resource_id(resource_type, name)
    return Principal(
        label,
        expression(f"reference({rid}, {quote(api)}, 'Full').identity.principalId"),
        "ServicePrincipal",
        rid,
    )


def aml_workspace(name: str) -> Principal:
    return system_identity("aml-workspace", "Microsoft.MachineLearningServices/workspaces", name, ML_API)


def aml_compute(workspace: str, cluster: str) -> Principal:
    """The system-assigned identity of an Azure ML compute cluster (what ``identity: managed`` jobs run as)."""
    rid = resource_id("Microsoft.MachineLearningServices/workspaces/computes", workspace, cluster)
    return Principal(
        "aml-compute",
        expression(f"reference({rid}, {quote(ML_API)}, 'Full').identity.principalId"),
        "ServicePrincipal",
        rid,
    )


def synapse_workspace(name: str) -> Principal:
    return system_identity("synapse-workspace", "Microsoft.Synapse/workspaces", name, SYNAPSE_API)


def retrain_trigger(workflow: str) -> Principal:
    return system_identity("retrain-trigger", "Microsoft.Logic/workflows", workflow, LOGIC_API)


def aks_kubelet(cluster: str) -> Principal:
    rid = resource_id("Microsoft.ContainerService/managedClusters", cluster)
    return Principal(
        "aks-kubelet",
        expression(f"reference({rid}, {quote(AKS_API)}).identityProfile.kubeletidentity.objectId"),
        "ServicePrincipal",
        f"{rid}, 'kubelet'",
    )


def workload_identity_name(project: str, endpoint: str) -> str:
    return f"{project}-{endpoint}"


def workload_identity(name: str, endpoint: str) -> Principal:
    rid = resource_id(IDENTITY_TYPE, name)
    return Principal(
        f"{endpoint}-pods",
        expression(f"reference({rid}, {quote(IDENTITY_API)}).principalId"),
        "ServicePrincipal",
        rid,
    )


def _credential_properties(cluster: str, namespace: str, endpoint: str) -> dict[str, Any]:
    cluster_id = resource_id("Microsoft.ContainerService/managedClusters", cluster)
    return {
        "issuer": expression(f"reference({cluster_id}, {quote(AKS_API)}).oidcIssuerProfile.issuerURL"),
        "subject": f"system:serviceaccount:{namespace}:{endpoint}",
        "audiences": [TOKEN_EXCHANGE_AUDIENCE],
    }


def workload_identity_resource(
    name: str, location: str, *, cluster: str, namespace: str, endpoint: str, tags: dict[str, str]
) -> dict[str, Any]:
    """The user-assigned identity with its federated credential nested (one resource, one pointer)."""
    return {
        "type": IDENTITY_TYPE,
        "apiVersion": IDENTITY_API,
        "name": name,
        "location": location,
        "tags": tags,
        "resources": [
            {
                "type": "federatedIdentityCredentials",
                "apiVersion": IDENTITY_API,
                "name": f"{endpoint}-aks",
                "dependsOn": [expression(resource_id(IDENTITY_TYPE, name))],
                "properties": _credential_properties(cluster, namespace, endpoint),
            }
        ],
    }


def federated_credential_resource(
    identity: str, credential: str, *, cluster: str, namespace: str, endpoint: str
) -> dict[str, Any]:
    """The federated credential on an existing user-assigned identity (a top-level child resource)."""
    return {
        "type": CREDENTIAL_TYPE,
        "apiVersion": IDENTITY_API,
        "name": f"{identity}/{credential}",
        "properties": _credential_properties(cluster, namespace, endpoint),
    }


def workload_identity_outputs(name: str) -> dict[str, Any]:
    rid = resource_id(IDENTITY_TYPE, name)
    return {
        "servingIdentityClientId": {
            "type": "string",
            "value": expression(f"reference({rid}, {quote(IDENTITY_API)}).clientId"),
        },
        "servingIdentityPrincipalId": {
            "type": "string",
            "value": expression(f"reference({rid}, {quote(IDENTITY_API)}).principalId"),
        },
    }


@dataclass(frozen=True)
class ScoringIdentity:
    """The identity the scoring pods run as, as far as the access template is concerned."""

    address: Address
    """``access.identity.<endpoint>``: the created identity, or the federated credential on a given one."""
    endpoint: str
    name: str | None
    """Its Azure name (created, or ``deployment.identity.name``); ``None`` when given by client id only."""
    created: bool
    principal: Principal | None
    """Who its role assignments name; ``None`` when neither ``name`` nor ``object_id`` is known."""

    @property
    def renders_resource(self) -> bool:
        """Whether the template has a resource at :attr:`address` (the identity or its credential)."""
        return self.name is not None

    def arm_depends_on(self) -> list[str]:
        """What a role assignment to it waits for in the template: the identity when it creates it."""
        if self.created and self.name is not None:
            return [expression(resource_id(IDENTITY_TYPE, self.name))]
        return []

    def depends_on(self) -> list[Address]:
        return [self.address] if self.created else []


def scoring_identity(model: MLProject) -> ScoringIdentity | None:
    """The scoring pods' workload identity, for a deployment on a cluster."""
    deployment = model.deployment
    if deployment is None or model.workspace.kubernetes is None:
        return None
    address, endpoint = addresses.access_identity(deployment.endpoint), deployment.endpoint
    given = deployment.identity
    if given is None:
        name = workload_identity_name(model.project.name, endpoint)
        return ScoringIdentity(address, endpoint, name, True, workload_identity(name, endpoint))
    principal: Principal | None = None
    if given.object_id is not None:
        object_id = given.object_id.lower()
        principal = Principal(f"{endpoint}-pods", object_id, "ServicePrincipal", quote(object_id))
    elif given.name is not None:
        principal = workload_identity(given.name, endpoint)
    return ScoringIdentity(address, endpoint, given.name, False, principal)


def credential_name(project: str, environment: str, endpoint: str) -> str:
    """The federated credential's name on a given identity, unique per project, environment and endpoint."""
    return f"{project}-{environment}-{endpoint}"
