"""The Azure provider passes the shared provider contract (tests/providers/contract.py), through the
SDKs' own HTTP pipelines against one fake Azure (:class:`FakeAzureWorld`: Resource Manager, Synapse,
ACR Tasks and the registry, Azure ML, AKS): its samples are Synapse notebooks and an ARM action
group; its producers (federated identity credential, data collection endpoint and rule, ACR task,
Azure ML compute and pipeline job) are the churn example's prod build, as apply sends them."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("azure.mgmt.resource.deployments")
pytest.importorskip("azure.synapse.artifacts")

from mlspec.contract.graph import Address
from mlspec.providers.azure import AzureProvider
from mlspec.providers.azure.workspace import AzureWorkspace
from mlspec.providers.base import DeployRequest, ProviderResult
from providers.contract import (
    FILE_ARTIFACT,
    PROPERTIES_ONLY,
    WITH_ATTACHMENTS,
    ProviderContract,
    ProviderUnderTest,
    SampleTarget,
)
from tests.providers.acr_fake import SOURCE_STORAGE
from tests.providers.azure_fake import ARM, FakeAzure
from tests.providers.azure_world import ChurnBuild, FakeAzureWorld, WorldNames, serving, world_provider

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
RESOURCE_GROUP = "rg-contract-dev"
WORLD = WorldNames(subscription=SUBSCRIPTION, resource_group=RESOURCE_GROUP)
"""The whole provider's environment (its Synapse workspace and Application Insights component are
those of :func:`workspace`)."""
NOTEBOOK = "Microsoft.Synapse/workspaces/notebooks"
ACTION_GROUP = "arm:Microsoft.Insights/actionGroups"

SAMPLES = {
    FILE_ARTIFACT: SampleTarget(Address("synapse", "notebook", "contract_features"), NOTEBOOK),
    PROPERTIES_ONLY: SampleTarget(Address("monitor", "action_group", "contract-notify"), ACTION_GROUP),
    WITH_ATTACHMENTS: SampleTarget(Address("synapse", "notebook", "contract_with_files"), NOTEBOOK),
}
PRODUCERS = {
    (
        "access",
        "identity",
    ): "arm:Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
    ("acr", "task"): "acr:task",
    ("aml", "compute"): "azureml:compute",
    ("aml", "pipeline"): "azureml:pipeline_job",
    ("monitor", "data_collection_endpoint"): "arm:Microsoft.Insights/dataCollectionEndpoints",
    ("monitor", "data_collection_rule"): "arm:Microsoft.Insights/dataCollectionRules",
    ("powerbi", "report"): "powerbi:pbip",
}


def object_name(address: Address) -> str:
    """A federated credential is named ``<identity>/<credential>``, as the compiler names it (the chain's
    producer, whose payload is the contract's)."""
    return f"id-{address.name}/{address.name}" if address.kind == "identity" else address.name


class StaticCredential:
    """A credential that is never asked for a real token (the fake does not check it)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("fake-token", 4102444800)

    def get_token_info(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo("fake-token", 4102444800)


def workspace() -> AzureWorkspace:
    return AzureWorkspace.of(
        {
            "subscription_id": SUBSCRIPTION,
            "resource_group": RESOURCE_GROUP,
            "synapse": "syn-contract-dev",
            "application_insights": "appi-contract-dev",
            "location": "westeurope",
        },
        "dev",
    )


def azure_provider(fake: FakeAzure) -> AzureProvider:
    return AzureProvider(
        workspace(),
        "contract",
        StaticCredential(),  # type: ignore[arg-type]
        {"transport": fake, "polling_interval": 0, "retry_backoff_factor": 0},
    )


def tamper(fake: FakeAzure, request: DeployRequest, result: ProviderResult) -> dict[str, Any]:
    """An edit in the portal: the sample's ``owner`` changed, as Azure now holds it."""
    if request.provider_type == NOTEBOOK:
        key = ("notebooks", request.payload.properties["name"])
        fake.artifacts[key]["properties"]["owner"] = "edited in Synapse Studio"
    else:
        stored = fake.resource(result.provider_id)
        assert stored is not None
        stored["properties"]["owner"] = "edited in the portal"
    changed = copy.deepcopy(request.payload.properties)
    changed["properties"]["owner"] = (
        "edited in Synapse Studio" if request.provider_type == NOTEBOOK else "edited in the portal"
    )
    return {"properties": changed, "attachments": dict(request.payload.attachments)}


def remove(fake: FakeAzure, request: DeployRequest, result: ProviderResult) -> None:
    if request.provider_type == NOTEBOOK:
        del fake.artifacts[("notebooks", request.payload.properties["name"])]
    else:
        fake.remove(result.provider_id)


WORLD_SDKS = (
    "azure.ai.ml",
    "azure.mgmt.containerregistry.v2019_06_01_preview",
    "azure.containerregistry",
    "azure.storage.blob",
    "azure.mgmt.containerservice",
    "kubernetes",
)
"""What the whole provider needs besides ARM and Synapse (skipped here, not at import: other test
modules import this one's helpers)."""


@pytest.fixture(scope="module")
def world_sdks() -> None:
    for module in WORLD_SDKS:
        pytest.importorskip(module)


@pytest.fixture(scope="module")
def churn(world_sdks: None, tmp_path_factory: pytest.TempPathFactory) -> ChurnBuild:
    return ChurnBuild(tmp_path_factory.mktemp("churn"))


def producer_request(churn: ChurnBuild, target: SampleTarget) -> DeployRequest:
    """The churn build's resource of the target's kind, at the target's address."""
    entry = churn.of_kind(target.address.service, target.address.kind)
    assert entry["provider_type"] == target.provider_type, entry["address"]
    return churn.request(entry, target.address)


class TestAzureProviderContract(ProviderContract):
    @pytest.fixture
    def subject(self, churn: ChurnBuild) -> Iterator[ProviderUnderTest]:
        world = FakeAzureWorld(WORLD)
        with serving(world):
            yield ProviderUnderTest(
                provider=world_provider(world),
                reopen=lambda: world_provider(world),
                tamper=lambda request, result: tamper(world.azure, request, result),
                remove_behind_its_back=lambda request, result: remove(world.azure, request, result),
                samples=SAMPLES,
                producers=PRODUCERS,
                chain_consumer=SampleTarget(
                    Address("monitor", "action_group", "contract-chain"), ACTION_GROUP
                ),
                object_name=object_name,
                producer_request=lambda target: producer_request(churn, target),
            )


def test_every_producer_goes_to_its_own_fake_through_the_one_transport(churn: ChurnBuild) -> None:
    """What the contract's producer test relies on: each service's requests reach the fake that serves
    it (the registry's Tasks, data plane and source storage the ACR fake; Resource Manager and the
    Azure ML workspace the Azure fake), and each producer was made there."""
    world = FakeAzureWorld(WORLD)
    with serving(world):
        provider = world_provider(world)
        for (service, kind), provider_type in sorted(PRODUCERS.items()):
            target = SampleTarget(Address(service, kind, "contract-producer"), provider_type)
            provider.create(producer_request(churn, target))
    assert {(name, host) for name, _, host, _ in world.routed} == {
        ("azure", ARM),
        ("acr", ARM),
        ("acr", f"{WORLD.container_registry}.azurecr.io"),
        ("acr", SOURCE_STORAGE),
        ("fabric", "api.fabric.microsoft.com"),  # the report's items
        ("fabric", "api.powerbi.com"),  # its model's refresh
    }
    assert all(
        f"/Microsoft.ContainerRegistry/registries/{WORLD.container_registry}/" in path
        for name, _, host, path in world.routed
        if (name, host) == ("acr", ARM) and not path.startswith("/operations/")  # its runs' polls
    )
    [run] = world.acr.runs.values()
    assert run.outcome == "Succeeded" and world.acr.tags
    assert world.azure.entity("computes/cpu-cluster") is not None
    assert len(world.azure.ml_sent("PUT", "/jobs/")) == 1
    assert len(world.azure.deployments) == 3  # identity, endpoint, rule: one template deployment each
    assert len(world.fabric.items) == 2  # the report's semantic model and the report


def test_the_world_serves_kubernetes_through_the_aks_kubeconfig(world_sdks: None) -> None:
    """The same world and provider deploy a Kubernetes object: the kubeconfig from the fake AKS, the
    object applied on the fake API server with the AKS server application's token."""
    from mlspec.contract.graph import canonical_json
    from mlspec.contract.payload import Payload
    from mlspec.contract.resource_state import ResourceState

    world = FakeAzureWorld(WORLD)
    provider = world_provider(world)
    address = Address("aks", "config_map", "contract-world")
    properties = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"A": "1"}}
    request = DeployRequest(
        address,
        "kubernetes:v1/ConfigMap",
        Payload.hashed("kubernetes:v1/ConfigMap", properties, {}),
        {"aks/configmap.json": canonical_json(properties)},
        "aks/configmap.json",
    )
    result = provider.create(request)
    assert "/api/v1/namespaces/default/configmaps/contract-world" in world.api_server.objects
    assert ("aks", "POST") in {(name, method) for name, method, *_ in world.routed}
    current = ResourceState(request.provider_type, request.payload, result.provider_id, dict(result.outputs))
    live = world_provider(world).read(address, current)
    assert live is not None and live.payload.content() == request.payload.content()
