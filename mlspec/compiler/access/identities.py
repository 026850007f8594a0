"""The managed identities the rendered artifacts run as, and the roles each one needs.

System-assigned identities are read at deployment time with ARM ``reference()``:

- Azure ML workspace: ``reference(<workspace id>, '2024-04-01', 'Full').identity.principalId``
- Synapse workspace: ``reference(<workspace id>, '2021-06-01', 'Full').identity.principalId``
- AKS kubelet (pulls images):
  ``reference(<cluster id>, '2024-02-01').identityProfile.kubeletidentity.objectId``
- the retrain Logic App: ``reference(<workflow id>, '2019-05-01', 'Full').identity.principalId``

The scoring pods run as a user-assigned identity this template creates (unless
``deployment.identity.client_id`` names one), federated with the cluster's OIDC issuer for the
Kubernetes service account ``system:serviceaccount:<namespace>:<endpoint>`` (AKS workload identity).
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


def workload_identity_resource(
    name: str, location: str, *, cluster: str, namespace: str, endpoint: str, tags: dict[str, str]
) -> dict[str, Any]:
    """The user-assigned identity with its federated credential nested (one resource, one pointer)."""
    cluster_id = resource_id("Microsoft.ContainerService/managedClusters", cluster)
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
                "properties": {
                    "issuer": expression(
                        f"reference({cluster_id}, {quote(AKS_API)}).oidcIssuerProfile.issuerURL"
                    ),
                    "subject": f"system:serviceaccount:{namespace}:{endpoint}",
                    "audiences": [TOKEN_EXCHANGE_AUDIENCE],
                },
            }
        ],
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


def scoring_identity(model: MLProject) -> tuple[Address, str] | None:
    """The scoring pods' workload identity the access template creates (its address and Azure name):
    for a deployment on a cluster that names no identity of its own."""
    deployment = model.deployment
    if deployment is None or deployment.identity is not None or model.workspace.kubernetes is None:
        return None
    name = workload_identity_name(model.project.name, deployment.endpoint)
    return addresses.access_identity(deployment.endpoint), name
