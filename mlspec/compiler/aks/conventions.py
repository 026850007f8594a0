"""Names, labels, paths and markers the AKS renderer and its checks agree on."""

from __future__ import annotations

from mlspec.compiler.addresses import access_identity
from mlspec.contract import outputs
from mlspec.spec_schema.models import MLProject

CONTAINER = "scoring"
RUN_AS = 10001
"""UID and GID of the scoring process (non-root; the Dockerfile creates the user)."""
SECRETS_MOUNT = "/mnt/secrets"
TMP_MOUNT = "/tmp"
SERVICE_PORT = 80
PORT_NAME = "http"
TERMINATION_GRACE_SECONDS = 30
PRE_STOP_SECONDS = 5
"""The pod keeps serving this long after it is marked terminating, while the Service stops routing to it."""
LIVE_PATH = "/"
"""Azure ML's inference server answers ``GET /`` once a worker has loaded the model."""
READY_PATH = "/score"
"""``GET /score``: the scoring script's readiness (model loaded, requests can be authenticated)."""

NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
COMPONENT_LABEL = "app.kubernetes.io/component"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
ENVIRONMENT_LABEL = "mlspec.dev/environment"
TRACK_LABEL = "track"
"""Canary rollouts: ``stable`` or ``canary``."""
SLOT_LABEL = "slot"
"""Blue/green rollouts: ``blue`` or ``green``."""
WORKLOAD_IDENTITY_LABEL = "azure.workload.identity/use"
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
TENANT_ID_ANNOTATION = "azure.workload.identity/tenant-id"
INTERNAL_LB = "service.beta.kubernetes.io/azure-load-balancer-internal"
INTERNAL_SUBNET = "service.beta.kubernetes.io/azure-load-balancer-internal-subnet"
LB_IPV4 = "service.beta.kubernetes.io/azure-load-balancer-ipv4"

PRE_EXISTING_NAMESPACES = frozenset({"default"})
"""Namespaces every cluster has: mlspec neither creates nor relabels them."""

# Output markers (``mlspec:output:<address>.<attribute>``, ``mlspec:output:workspace.tenant_id``): values
# apply replaces before it sends a manifest. Their grammar lives in the contract, which plan reads too;
# the AKS renderer and its checks take them from here.
MARKER_PREFIX = outputs.MARKER_PREFIX
output_marker = outputs.output_marker
is_marker = outputs.is_marker


def registry_host(model: MLProject) -> str | None:
    """The project's own ACR login server (ACR login servers are lower case)."""
    acr = model.workspace.container_registry
    return f"{acr.lower()}.azurecr.io" if acr else None


def client_id(model: MLProject, endpoint: str) -> str:
    """The workload identity's client id: from the spec, else the identity the access renderer creates."""
    deployment = model.deployment
    if deployment is not None and deployment.identity is not None:
        return deployment.identity.client_id
    return output_marker(str(access_identity(endpoint)), "client_id")


def tenant_id(model: MLProject) -> str:
    return model.workspace.tenant_id or output_marker("workspace", "tenant_id")


def common_labels(project: str, endpoint: str, environment: str) -> dict[str, str]:
    return {
        NAME_LABEL: endpoint,
        PART_OF_LABEL: project,
        COMPONENT_LABEL: "scoring",
        MANAGED_BY_LABEL: "mlspec",
        ENVIRONMENT_LABEL: environment,
    }
