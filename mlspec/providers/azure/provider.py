"""The ``azure`` provider: deploys the compiled artifacts into the environment's Azure resources.

Each provider type goes to the service module that deploys it: ``arm:*`` to ARM template deployments
(:mod:`.arm`), Synapse notebooks and pipelines to the workspace's artifacts API (:mod:`.synapse`). A
kind no module deploys yet is refused before anything is read or changed (MLS810, listing them), so an
apply never does half a project and then stops at the first such resource.

Ownership: the provider deletes only what state records (mlspec created it), never the workspace's
own resources (resource group, the Synapse and Azure ML workspaces, the cluster, vault, registry or
lake), which are never resources of the graph; deployments and taggable resources carry
``mlspec-project`` and ``mlspec-env`` tags. The state does not depend on who deploys: provider ids are
Azure resource ids and names come from the spec, not from the signed-in identity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from mlspec.contract.graph import Address
from mlspec.contract.outputs import marker_tokens, value_tokens
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.providers.azure.acr import AcrTasks
from mlspec.providers.azure.arm import ArmResources
from mlspec.providers.azure.azureml import AzureMLResources
from mlspec.providers.azure.errors import azure_error
from mlspec.providers.azure.kubernetes import KubernetesResources
from mlspec.providers.azure.lake import account_url
from mlspec.providers.azure.powerbi import PowerBIReports
from mlspec.providers.azure.session import AzureSession, raw_json
from mlspec.providers.azure.synapse import SynapseArtifacts
from mlspec.providers.azure.synapse_access import SynapseRoleAssignments
from mlspec.providers.azure.workspace import SUBSCRIPTION_API, AzureWorkspace
from mlspec.providers.base import DeployRequest, LiveObject, ProviderError, ProviderResult

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

APPLICATION_INSIGHTS_API = "2020-02-02"


class ServiceResources(Protocol):
    """What one service module does for the provider types it deploys."""

    def read(self, address: Address, current: ResourceState) -> LiveObject | None: ...
    def create(self, request: DeployRequest) -> ProviderResult: ...
    def update(self, request: DeployRequest, current: ResourceState) -> ProviderResult: ...
    def delete(self, address: Address, current: ResourceState) -> None: ...
    def describe(self, address: Address, result: ProviderResult) -> str: ...


SERVICES: tuple[tuple[str, Callable[[str], bool]], ...] = (
    (
        "ARM resources (alerts, action groups, data collection, role assignments, federated credentials)",
        ArmResources.handles,
    ),
    ("Synapse notebooks and pipelines", SynapseArtifacts.handles),
    ("Synapse role assignments", SynapseRoleAssignments.handles),
    ("the scoring image (ACR task runs)", AcrTasks.handles),
    ("Power BI projects (Fabric items)", PowerBIReports.handles),
    (
        "Azure ML environments, components, compute, pipeline jobs, schedules and monitors",
        AzureMLResources.handles,
    ),
    ("the AKS objects (server-side apply, rollout status)", KubernetesResources.handles),
)
"""What each service module deploys, in words, and which provider types it takes."""


def deploys(provider_type: str) -> bool:
    """Whether this version of the Azure provider deploys resources of ``provider_type``."""
    return any(handles(provider_type) for _, handles in SERVICES)


def refuse_undeployable(provider_types: Iterable[str], environment: str) -> None:
    """MLS810 naming every provider type of the build that no service module deploys yet."""
    missing = sorted({t for t in provider_types if not deploys(t)})
    if missing:
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS810",
                    f"the Azure provider cannot deploy {len(missing)} kind(s) of this build yet: "
                    f"{', '.join(missing)}",
                    ("environments", environment, "provider"),
                    hint=f"this version deploys {'; '.join(what for what, _ in SERVICES)}. Use `--env local` "
                    "(or `provider: local`) to deploy the whole project on this machine",
                )
            ]
        )


T = TypeVar("T")


def _one_line(address: Address, action: str, call: Callable[[], T]) -> T:
    """``call()``, with any SDK error a service module let through (a network failure, an answer it
    did not expect) as the one-line MLS820 of that resource, never an "internal error"."""
    from azure.core.exceptions import AzureError

    try:
        return call()
    except AzureError as exc:
        raise azure_error(address, action, exc) from None


def _refuse_markers(request: DeployRequest) -> None:
    """Nothing goes to Azure with an ``mlspec:output:`` marker in it: apply replaces them all before it
    calls the provider, so one left is a bug or an edited plan, and Azure would store it as a value."""
    left = value_tokens(request.payload.properties) | {
        token for content in request.files.values() for token in marker_tokens(content)
    }
    if left:
        raise ProviderError(
            request.address,
            f"refusing to send it with unresolved output markers: {', '.join(sorted(left))}",
            "make the plan again (`mlspec plan`): apply fills them from what their producers reported",
        )


class AzureProvider:
    """Creates, reads, updates and deletes an environment's resources in Azure."""

    def __init__(
        self,
        workspace: AzureWorkspace,
        project: str,
        credential: TokenCredential,
        client_options: Mapping[str, Any] | None = None,
        lake_url: Callable[[str], str] | None = None,
        report_workspaces: Mapping[str, str] | None = None,
    ) -> None:
        """``lake_url`` gives a storage account's endpoint (``https://<account>.dfs.core.windows.net``;
        tests point it at Azurite); ``report_workspaces`` each report's Power BI workspace, by address."""
        self.session = AzureSession(workspace, credential, client_options)
        self.project = project
        self.lake_url = lake_url or account_url
        self.arm = ArmResources(self.session, project)
        self.synapse = SynapseArtifacts(self.session)
        self.synapse_access = SynapseRoleAssignments(self.session, project)
        self.acr = AcrTasks(self.session, project)
        self.powerbi = PowerBIReports(self.session, project, report_workspaces)
        self.azureml = AzureMLResources(self.session, project)
        self.kubernetes = KubernetesResources(self.session, project)
        self._services: tuple[tuple[Callable[[str], bool], ServiceResources], ...] = (
            (ArmResources.handles, self.arm),
            (SynapseArtifacts.handles, self.synapse),
            (SynapseRoleAssignments.handles, self.synapse_access),
            (AcrTasks.handles, self.acr),
            (PowerBIReports.handles, self.powerbi),
            (AzureMLResources.handles, self.azureml),
            (KubernetesResources.handles, self.kubernetes),
        )

    @property
    def name(self) -> str:
        return "azure"

    def _service(self, address: Address, provider_type: str) -> ServiceResources:
        for handles, service in self._services:
            if handles(provider_type):
                return service
        raise ProviderError(
            address,
            f"the Azure provider cannot deploy {provider_type} yet",
            "use `--env local` to deploy it on this machine",
        )

    def read(self, address: Address, current: ResourceState) -> LiveObject | None:
        service = self._service(address, current.provider_type)
        return _one_line(address, "read", lambda: service.read(address, current))

    def create(self, request: DeployRequest) -> ProviderResult:
        service = self._service(request.address, request.provider_type)
        _refuse_markers(request)
        return _one_line(request.address, "create", lambda: service.create(request))

    def update(self, request: DeployRequest, current: ResourceState) -> ProviderResult:
        service = self._service(request.address, request.provider_type)
        _refuse_markers(request)
        return _one_line(request.address, "update", lambda: service.update(request, current))

    def delete(self, address: Address, current: ResourceState) -> None:
        service = self._service(address, current.provider_type)
        _one_line(address, "delete", lambda: service.delete(address, current))

    def describe(self, address: Address, result: ProviderResult) -> str:
        return self._describer(address).describe(address, result)

    def _describer(self, address: Address) -> ServiceResources:
        """The service of an address's kind (``describe`` is not given the provider type)."""
        kind = (address.service, address.kind)
        if address.service == "synapse" and address.kind in ("notebook", "pipeline"):
            return self.synapse
        if kind == ("access", "synapse_role_assignment"):
            return self.synapse_access
        if address.service == "acr":
            return self.acr
        if address.service == "powerbi":
            return self.powerbi
        if address.service == "aml":
            return self.azureml
        if address.service == "aks":
            return self.kubernetes
        return self.arm

    def target_outputs(self) -> Mapping[str, str]:
        return self._target_outputs

    @cached_property
    def _target_outputs(self) -> dict[str, str]:
        """The tenant of the subscription, and the connection string of the workspace's Application
        Insights component when the manifest names one; read once per provider."""
        from azure.core.exceptions import AzureError

        workspace = self.session.workspace
        client = self.session.resources
        values: dict[str, str] = {}
        try:
            subscription = client.resources.get_by_id(
                f"/subscriptions/{workspace.subscription_id}", api_version=SUBSCRIPTION_API, cls=raw_json
            )
        except AzureError as exc:
            raise azure_error(
                f"subscription {workspace.subscription_id}", "read", exc, "Reader on the subscription"
            ) from None
        tenant = subscription.get("tenantId") if isinstance(subscription, dict) else None
        values["tenant_id"] = str(tenant or workspace.tenant_id)
        if workspace.application_insights:
            component_id = workspace.resource_id(
                "Microsoft.Insights/components", workspace.application_insights
            )
            try:
                component = client.resources.get_by_id(
                    component_id, api_version=APPLICATION_INSIGHTS_API, cls=raw_json
                )
            except AzureError as exc:
                raise azure_error(component_id, "read", exc, "Reader on the resource group") from None
            properties: Any = component.get("properties") if isinstance(component, dict) else None
            connection = properties.get("ConnectionString") if isinstance(properties, dict) else None
            if connection:
                values["application_insights_connection_string"] = str(connection)
        return values

    def check_sources(self, sources: Mapping[str, str]) -> Mapping[str, str]:
        from mlspec.providers.azure.lake import missing_sources

        return missing_sources(sources, self.session.credential, self.lake_url, self.session.client_options)

    def observe_outputs(self, address: Address, current: ResourceState) -> Mapping[str, str]:
        """The newest model version a pipeline registered (the only output that changes outside apply)."""
        if AzureMLResources.handles(current.provider_type):
            return _one_line(
                address, "reading its newest model version", lambda: self.azureml.observe(address, current)
            )
        return {}
