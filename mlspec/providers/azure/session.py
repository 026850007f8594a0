"""The SDK clients of one Azure provider, made on first use, all through one HTTP pipeline setup.

Every client takes the same options: production passes none and gets the SDKs' own retry policy
(exponential back-off on 408/429/5xx, honouring ``Retry-After``) and polling of long-running operations;
tests pass ``transport`` (a fake Azure that records every request) and ``polling_interval=0``. The
SDK modules are imported here, inside the properties, so nothing imports them before a client is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mlspec.providers.azure.workspace import AzureWorkspace

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient
    from azure.mgmt.resource.resources import ResourceManagementClient
    from azure.synapse.artifacts import ArtifactsClient


def raw_json(pipeline_response: Any, deserialized: Any, headers: Any) -> Any:
    """An SDK call's ``cls``: the response body as JSON, exactly as Azure sent it (no model between)."""
    import json

    text = pipeline_response.http_response.text()  # the legacy responses (Synapse's SDK) have no .json()
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


class AzureSession:
    """The workspace, the credential and the SDK clients made with them."""

    def __init__(
        self,
        workspace: AzureWorkspace,
        credential: TokenCredential,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.workspace = workspace
        self.credential = credential
        self.client_options = dict(client_options or {})

    @cached_property
    def deployments(self) -> DeploymentsMgmtClient:
        from azure.mgmt.resource.deployments import DeploymentsMgmtClient

        return DeploymentsMgmtClient(self.credential, self.workspace.subscription_id, **self.client_options)

    @cached_property
    def resources(self) -> ResourceManagementClient:
        from azure.mgmt.resource.resources import ResourceManagementClient

        return ResourceManagementClient(
            self.credential, self.workspace.subscription_id, **self.client_options
        )

    @cached_property
    def synapse(self) -> ArtifactsClient:
        from azure.synapse.artifacts import ArtifactsClient

        self.workspace.require("synapse", "deploying Synapse notebooks and pipelines")
        return ArtifactsClient(self.credential, self.workspace.synapse_endpoint, **self.client_options)
