"""The Azure provider's Kubernetes module (:mod:`mlspec.providers.azure.kubernetes`), through the real
clients: the AKS credentials call goes through ``ContainerServiceClient`` and the Azure SDK's pipeline
to :class:`FakeAks`; every Kubernetes request goes through the ``kubernetes`` client's ``ApiClient``
and REST client to :class:`FakeApiServer`, which replaces only its urllib3 pool manager."""

from __future__ import annotations

import copy
import subprocess
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kubernetes")
pytest.importorskip("azure.mgmt.containerservice")

from mlspec.contract.graph import Address
from mlspec.contract.outputs import output_marker, substitute_value
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.providers.azure import AzureProvider
from mlspec.providers.azure.kubernetes import (
    AKS_SERVER_SCOPE,
    KINDS,
    Cluster,
    KubernetesResources,
    ObjectRef,
    quantity_value,
    rollout_progress,
    same_quantity,
)
from mlspec.providers.azure.session import AzureSession
from mlspec.providers.azure.workspace import AzureWorkspace
from mlspec.providers.base import DeployRequest, ProviderError, ProviderResult
from providers.contract import (
    FILE_ARTIFACT,
    PROPERTIES_ONLY,
    WITH_ATTACHMENTS,
    ProviderContract,
    ProviderUnderTest,
    SampleTarget,
)
from tests.providers.kubernetes_fake import (
    CA_PEM,
    SERVER,
    Clock,
    FakeAks,
    FakeApiServer,
    FakeAzureWithAks,
    Rollout,
    canonical_quantity,
)

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
RESOURCE_GROUP = "rg-churn-prod"
CLUSTER = "aks-ml-prod"
ARM_SCOPE = "https://management.azure.com/.default"
POLL = 5.0

NAMESPACE_PATH = "/api/v1/namespaces/churn"
CONFIG_MAP_PATH = "/api/v1/namespaces/churn/configmaps/churn-scoring"
DEPLOYMENT_PATH = "/apis/apps/v1/namespaces/churn/deployments/churn-scoring"
MANAGED = {"app.kubernetes.io/managed-by": "mlspec", "app.kubernetes.io/part-of": "churn"}


# --- the world a test runs in ---------------------------------------------------------------------------


class Credential:
    """Hands out tokens and records the scopes asked for: the AKS server application's token is
    ``token``, Resource Manager's another one."""

    def __init__(self, token: str = "k8s-token-1", lifetime: float = 3600) -> None:
        self.token = token
        self.lifetime = lifetime
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        value = self.token if scopes == (AKS_SERVER_SCOPE,) else "arm-token"
        return AccessToken(value, int(time.time() + self.lifetime))

    def get_token_info(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessTokenInfo

        token = self.get_token(*scopes)
        return AccessTokenInfo(token.token, token.expires_on)

    def asked_for_the_cluster(self) -> int:
        return self.scopes.count((AKS_SERVER_SCOPE,))


@dataclass
class World:
    resources: KubernetesResources
    api: FakeApiServer
    aks: FakeAks
    credential: Credential
    clock: Clock

    def reopen(self) -> KubernetesResources:
        """A second provider on the same cluster (the next run of apply)."""
        return connect(make_resources(self.aks, self.credential, self.clock), self.api, check_transport=False)


def workspace() -> AzureWorkspace:
    return AzureWorkspace.of(
        {"subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP, "kubernetes": CLUSTER}, "prod"
    )


def make_resources(aks: FakeAks, credential: Credential, clock: Clock, **options: Any) -> KubernetesResources:
    session = AzureSession(workspace(), credential, {"transport": aks, "retry_total": 0})
    return KubernetesResources(
        session, "churn", poll_interval=POLL, sleep=clock.sleep, clock=clock, **options
    )


def connect(
    resources: KubernetesResources, api: FakeApiServer, check_transport: bool = True
) -> KubernetesResources:
    """Make the cluster client (one AKS call) and put the fake API server under its REST client."""
    rest = resources.cluster.api.rest_client
    if check_transport:  # what production would connect with: TLS verified against the cluster's CA
        assert rest.pool_manager.connection_pool_kw["ca_cert_data"] == CA_PEM
        assert rest.pool_manager.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"
    rest.pool_manager = api
    return resources


def make_world(credential: Credential | None = None, **options: Any) -> World:
    api = FakeApiServer()
    aks = FakeAks(SUBSCRIPTION, RESOURCE_GROUP, CLUSTER)
    credential = credential or Credential()
    clock = Clock()
    resources = connect(make_resources(aks, credential, clock, **options), api)
    return World(resources, api, aks, credential, clock)


@pytest.fixture
def world() -> World:
    return make_world()


# --- payloads, as the compiler writes them -------------------------------------------------------------


def namespace(**labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "churn",
            "labels": {**MANAGED, "pod-security.kubernetes.io/enforce": "restricted", **labels},
        },
    }


def config_map(**data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "churn-scoring", "namespace": "churn", "labels": dict(MANAGED)},
        "data": {"LOG_LEVEL": "INFO", "PORT": "8080", **data},
    }


def deployment(
    image: str = "acrchurnprod.azurecr.io/churn/churn-scoring@sha256:" + "a" * 64, **spec: Any
) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": "churn-scoring", "track": "stable"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "churn-scoring", "namespace": "churn", "labels": {**MANAGED, **labels}},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": {**MANAGED, **labels}},
                "spec": {
                    "containers": [{"name": "scoring", "image": image, "ports": [{"containerPort": 8080}]}]
                },
            },
            **spec,
        },
    }


def request_for(address: Address, provider_type: str, properties: Any) -> DeployRequest:
    return DeployRequest(address, provider_type, Payload.hashed(provider_type, properties, {}))


NS = Address("aks", "namespace", "churn")
CM = Address("aks", "config_map", "churn-scoring")
DEPLOY = Address("aks", "deployment", "churn-scoring")


def ns_request(**labels: str) -> DeployRequest:
    return request_for(NS, "kubernetes:v1/Namespace", namespace(**labels))


def cm_request(**data: str) -> DeployRequest:
    return request_for(CM, "kubernetes:v1/ConfigMap", config_map(**data))


def deploy_request(**kwargs: Any) -> DeployRequest:
    return request_for(DEPLOY, "kubernetes:apps/v1/Deployment", deployment(**kwargs))


def recorded(request: DeployRequest, result: ProviderResult) -> ResourceState:
    return ResourceState(request.provider_type, request.payload, result.provider_id)


def with_namespace(world: World) -> None:
    world.resources.create(ns_request())
    world.api.requests.clear()


# --- import time, kinds, paths --------------------------------------------------------------------------


def test_importing_the_module_imports_no_sdk() -> None:
    code = (
        "import sys, mlspec.providers.azure.kubernetes\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'azure', 'urllib3')]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_it_handles_the_kinds_the_compiler_emits_and_no_others() -> None:
    for api_version, kind in KINDS:
        assert KubernetesResources.handles(f"kubernetes:{api_version}/{kind}")
    assert KubernetesResources.provider_types == {f"kubernetes:{v}/{k}" for v, k in KINDS}
    assert not KubernetesResources.handles("kubernetes:v1/Pod")  # refused before apply starts (MLS810)
    assert not KubernetesResources.handles("kubernetes:Deployment")
    assert not KubernetesResources.handles("arm:Microsoft.Insights/actionGroups")


@pytest.mark.parametrize(
    ("api_version", "kind", "path"),
    [
        ("v1", "Namespace", "/api/v1/namespaces/x"),
        ("v1", "ConfigMap", "/api/v1/namespaces/churn/configmaps/x"),
        ("v1", "Service", "/api/v1/namespaces/churn/services/x"),
        ("v1", "ServiceAccount", "/api/v1/namespaces/churn/serviceaccounts/x"),
        ("apps/v1", "Deployment", "/apis/apps/v1/namespaces/churn/deployments/x"),
        (
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "/apis/autoscaling/v2/namespaces/churn/horizontalpodautoscalers/x",
        ),
        ("policy/v1", "PodDisruptionBudget", "/apis/policy/v1/namespaces/churn/poddisruptionbudgets/x"),
        (
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "/apis/networking.k8s.io/v1/namespaces/churn/networkpolicies/x",
        ),
        (
            "secrets-store.csi.x-k8s.io/v1",
            "SecretProviderClass",
            "/apis/secrets-store.csi.x-k8s.io/v1/namespaces/churn/secretproviderclasses/x",
        ),
    ],
)
def test_the_rest_path_of_each_kind(api_version: str, kind: str, path: str) -> None:
    properties = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "namespace": "churn"}}
    resources = make_resources(FakeAks(SUBSCRIPTION, RESOURCE_GROUP, CLUSTER), Credential(), Clock())
    assert (
        resources.ref_of(Address("aks", "x", "x"), f"kubernetes:{api_version}/{kind}", properties).path
        == path
    )


def test_a_payload_of_another_kind_than_its_provider_type_is_refused() -> None:
    resources = make_resources(FakeAks(SUBSCRIPTION, RESOURCE_GROUP, CLUSTER), Credential(), Clock())
    with pytest.raises(ProviderError, match="not the apps/v1/Deployment"):
        resources.ref_of(DEPLOY, "kubernetes:apps/v1/Deployment", config_map())
    with pytest.raises(ProviderError, match="cannot deploy kubernetes:v1/Pod"):
        resources.ref_of(DEPLOY, "kubernetes:v1/Pod", {"metadata": {"name": "x"}})


# --- the cluster client ----------------------------------------------------------------------------------


def test_the_cluster_client_is_made_once_on_first_use_from_the_user_kubeconfig() -> None:
    aks = FakeAks(SUBSCRIPTION, RESOURCE_GROUP, CLUSTER)
    credential = Credential()
    resources = make_resources(aks, credential, Clock())
    assert resources.describe(CM, ProviderResult(SERVER + CONFIG_MAP_PATH))
    assert aks.sent == [] and credential.scopes == []  # nothing is asked before a call needs the cluster
    api = FakeApiServer()
    connect(resources, api)
    [call] = aks.sent
    assert call.method == "POST"
    assert call.url.startswith(
        f"https://management.azure.com/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
        f"Microsoft.ContainerService/managedClusters/{CLUSTER}/listClusterUserCredential?api-version="
    )
    assert call.headers["Authorization"] == "Bearer arm-token"
    assert resources.cluster.server == SERVER and resources.cluster.name == CLUSTER
    resources.create(ns_request())
    resources.read(CM, recorded(cm_request(), ProviderResult("")))
    assert len(aks.sent) == 1, "the kubeconfig is read once per provider"
    assert credential.asked_for_the_cluster() == 1, "the token is reused while it is valid"
    assert all(r.headers["Authorization"] == "Bearer k8s-token-1" for r in api.requests)
    assert {r.host for r in api.requests} == {SERVER.removeprefix("https://")}


@pytest.mark.parametrize(("no_proxy", "proxied"), [("", True), (".azmk8s.io", False)])
def test_the_api_server_is_reached_through_the_environments_proxy(
    monkeypatch: pytest.MonkeyPatch, no_proxy: str, proxied: bool
) -> None:
    import urllib3

    for name in ("https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.contoso.internal:3128")
    if no_proxy:
        monkeypatch.setenv("NO_PROXY", no_proxy)
    resources = make_resources(FakeAks(SUBSCRIPTION, RESOURCE_GROUP, CLUSTER), Credential(), Clock())
    manager = resources.cluster.api.rest_client.pool_manager
    assert isinstance(manager, urllib3.ProxyManager) is proxied
    assert manager.connection_pool_kw["ca_cert_data"] == CA_PEM


def test_apply_threads_share_one_cluster_client_and_token() -> None:
    """Apply runs independent resources in parallel: the first thread to need the cluster makes its
    client, the others wait for it and use the same one."""
    from concurrent.futures import ThreadPoolExecutor

    api = FakeApiServer()
    aks = FakeAks(SUBSCRIPTION, RESOURCE_GROUP, CLUSTER)
    credential = Credential()
    session = AzureSession(workspace(), credential, {"transport": aks, "retry_total": 0})  # type: ignore[arg-type]
    resources = _OnFakeCluster(session, "churn", poll_interval=POLL, sleep=Clock().sleep, clock=Clock())
    resources.api_server = api
    api.put(NAMESPACE_PATH, namespace())
    requests = []
    for i in range(8):
        properties = config_map()
        properties["metadata"]["name"] = f"cm-{i}"
        requests.append(
            request_for(Address("aks", "config_map", f"cm-{i}"), "kubernetes:v1/ConfigMap", properties)
        )
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(resources.create, requests))
    assert len(aks.sent) == 1 and credential.asked_for_the_cluster() == 1
    assert sorted(r.provider_id for r in results) == sorted(
        f"{SERVER}/api/v1/namespaces/churn/configmaps/cm-{i}" for i in range(8)
    )


def test_a_token_near_its_expiry_is_renewed() -> None:
    world = make_world(Credential(lifetime=60))  # inside the refresh margin: asked again every time
    world.resources.create(ns_request())
    assert world.credential.asked_for_the_cluster() == len(world.api.requests) == 2


def test_a_kubeconfig_without_a_server_is_refused() -> None:
    aks = FakeAks(SUBSCRIPTION, RESOURCE_GROUP, CLUSTER, config={"apiVersion": "v1", "clusters": []})
    resources = make_resources(aks, Credential(), Clock())
    with pytest.raises(ProviderError, match="names no https:// API server"):
        resources.create(ns_request())


def test_a_403_on_the_user_credentials_names_the_role() -> None:
    aks = FakeAks(SUBSCRIPTION, RESOURCE_GROUP, CLUSTER)
    aks.status = 403
    resources = make_resources(aks, Credential(), Clock())
    with pytest.raises(ProviderError) as refused:
        resources.create(ns_request())
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.message.startswith(f"AKS cluster {CLUSTER}: 403 on reading its user credentials")
    assert "Azure Kubernetes Service Cluster User Role on aks-ml-prod" in (diagnostic.hint or "")


# --- create, read ------------------------------------------------------------------------------------------


def test_create_applies_server_side_and_read_returns_the_payload(world: World) -> None:
    with_namespace(world)
    request = cm_request()
    result = world.resources.create(request)
    assert result.provider_id == SERVER + CONFIG_MAP_PATH
    get, patch = world.api.requests
    assert (get.method, get.path, get.query) == ("GET", CONFIG_MAP_PATH, {})
    assert (patch.method, patch.path) == ("PATCH", CONFIG_MAP_PATH)
    assert patch.query == {"fieldManager": "mlspec", "force": "true"}
    assert patch.content_type == "application/apply-patch+yaml"
    assert patch.body == request.payload.properties  # sent as built: the compiler set the label already
    assert patch.headers["Authorization"] == "Bearer k8s-token-1"
    stored = world.api.objects[CONFIG_MAP_PATH]["metadata"]
    assert stored["uid"] and stored["resourceVersion"] and stored["managedFields"]  # server fields
    world.api.requests.clear()
    live = world.resources.read(CM, recorded(request, result))
    assert live is not None
    assert live.payload.content() == request.payload.content()
    assert live.hash == request.payload.hash  # vouched for: unchanged since it was applied
    assert [(r.method, r.path) for r in world.api.requests] == [("GET", CONFIG_MAP_PATH)]


def test_what_the_server_adds_is_not_drift(world: World) -> None:
    """Namespace finalizers and its metadata.name label, a Service's clusterIP and nodePorts, a
    Deployment's defaults and status: none of them is a field mlspec set."""
    ns = world.resources.create(ns_request())
    service = request_for(
        Address("aks", "service", "churn-scoring"),
        "kubernetes:v1/Service",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "churn-scoring", "namespace": "churn", "labels": dict(MANAGED)},
            "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
    )
    svc = world.resources.create(service)
    dep = world.resources.create(deploy_request())
    assert world.api.objects["/api/v1/namespaces/churn/services/churn-scoring"]["spec"]["ports"][0][
        "nodePort"
    ]
    assert world.api.objects[DEPLOYMENT_PATH]["status"]["availableReplicas"] == 1
    for request, result in ((ns_request(), ns), (service, svc), (deploy_request(), dep)):
        live = world.resources.read(request.address, recorded(request, result))
        assert live is not None and live.payload.content() == request.payload.content(), request.address


def test_read_of_an_object_deleted_behind_its_back_is_none(world: World) -> None:
    with_namespace(world)
    request = cm_request()
    result = world.resources.create(request)
    del world.api.objects[CONFIG_MAP_PATH]
    assert world.resources.read(CM, recorded(request, result)) is None


def test_read_of_an_object_being_deleted_is_none(world: World) -> None:
    with_namespace(world)
    request = cm_request()
    result = world.resources.create(request)
    world.api.objects[CONFIG_MAP_PATH]["metadata"]["deletionTimestamp"] = "2026-12-02T10:00:00Z"
    assert world.resources.read(CM, recorded(request, result)) is None


def test_read_after_an_edit_behind_its_back_returns_what_the_cluster_holds(world: World) -> None:
    with_namespace(world)
    request = cm_request()
    result = world.resources.create(request)
    stored = world.api.objects[CONFIG_MAP_PATH]
    stored["data"]["LOG_LEVEL"] = "DEBUG"  # kubectl edit
    del stored["data"]["PORT"]
    stored["data"]["ADDED_BY_HAND"] = "x"  # not a field mlspec sets: not drift
    stored["metadata"]["labels"]["team"] = "fraud"  # neither
    live = world.resources.read(CM, recorded(request, result))
    assert live is not None and live.hash == ""
    expected = copy.deepcopy(request.payload.properties)
    expected["data"] = {"LOG_LEVEL": "DEBUG"}
    assert live.payload.properties == expected


def test_read_compares_what_was_sent_when_markers_were_replaced(world: World) -> None:
    """State keeps the marker form; the cluster holds the values apply replaced them with."""
    with_namespace(world)
    marker = output_marker("workspace", "tenant_id")
    built = Payload.hashed("kubernetes:v1/ConfigMap", config_map(TENANT_ID=marker), {})
    resolved = {"workspace.tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}
    sent = Payload(substitute_value(built.properties, resolved), {}, built.hash)
    result = world.resources.create(DeployRequest(CM, "kubernetes:v1/ConfigMap", sent, resolved=resolved))
    assert world.api.objects[CONFIG_MAP_PATH]["data"]["TENANT_ID"] == resolved["workspace.tenant_id"]
    state = ResourceState("kubernetes:v1/ConfigMap", built, result.provider_id, resolved=resolved)
    live = world.resources.read(CM, state)
    assert live is not None and live.hash == built.hash
    assert live.payload.properties["data"]["TENANT_ID"] == resolved["workspace.tenant_id"]


# --- update, delete --------------------------------------------------------------------------------------------


def test_update_applies_the_new_payload_and_leaves_other_managers_fields(world: World) -> None:
    with_namespace(world)
    before = deploy_request()
    created = world.resources.create(before)
    world.api.objects[DEPLOYMENT_PATH]["spec"]["replicas"] = 3  # the HPA scaled it; mlspec sets no replicas
    world.api.objects[DEPLOYMENT_PATH]["status"].update(replicas=3, updatedReplicas=3, availableReplicas=3)
    world.api.requests.clear()
    after = deploy_request(image="acrchurnprod.azurecr.io/churn/churn-scoring@sha256:" + "b" * 64)
    updated = world.resources.update(after, recorded(before, created))
    assert updated.provider_id == created.provider_id == SERVER + DEPLOYMENT_PATH
    patch = world.api.requests[0]
    assert (patch.method, patch.query, patch.body) == (
        "PATCH",
        {"fieldManager": "mlspec", "force": "true"},
        after.payload.properties,
    )
    assert world.api.objects[DEPLOYMENT_PATH]["spec"]["replicas"] == 3
    live = world.resources.read(DEPLOY, recorded(after, updated))
    assert live is not None and live.payload.content() == after.payload.content()


def test_update_drops_what_mlspec_no_longer_sets_and_repairs_drift(world: World) -> None:
    with_namespace(world)
    before = cm_request(EXTRA="1")
    created = world.resources.create(before)
    world.api.objects[CONFIG_MAP_PATH]["data"]["LOG_LEVEL"] = "DEBUG"
    after = cm_request()
    updated = world.resources.update(after, recorded(before, created))
    assert world.api.objects[CONFIG_MAP_PATH]["data"] == {"LOG_LEVEL": "INFO", "PORT": "8080"}
    live = world.resources.read(CM, recorded(after, updated))
    assert live is not None and live.payload.content() == after.payload.content()


def test_delete_is_foreground_and_a_missing_object_is_fine(world: World) -> None:
    with_namespace(world)
    request = cm_request()
    current = recorded(request, world.resources.create(request))
    uid = world.api.objects[CONFIG_MAP_PATH]["metadata"]["uid"]
    world.api.requests.clear()
    world.resources.delete(CM, current)
    check, delete, get = world.api.requests
    assert (check.method, check.path) == ("GET", CONFIG_MAP_PATH)  # is it mlspec's to delete?
    assert (delete.method, delete.path, delete.query) == (
        "DELETE",
        CONFIG_MAP_PATH,
        {"propagationPolicy": "Foreground"},
    )
    # the API server reads DeleteOptions from the body when there is one: the policy goes there too
    assert delete.body == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "propagationPolicy": "Foreground",
        "preconditions": {"uid": uid},
    }
    assert delete.headers["Authorization"] == "Bearer k8s-token-1"
    assert (get.method, get.path) == ("GET", CONFIG_MAP_PATH)
    assert CONFIG_MAP_PATH not in world.api.objects
    assert world.resources.read(CM, current) is None
    world.api.requests.clear()
    world.reopen().delete(CM, current)  # a retried delete, its state write lost: a 404, not an error
    assert [(r.method, r.path) for r in world.api.requests] == [("GET", CONFIG_MAP_PATH)]


def test_delete_waits_until_a_foreground_delete_is_done(world: World) -> None:
    request = ns_request()
    current = recorded(request, world.resources.create(request))
    world.api.linger[NAMESPACE_PATH] = 2  # the namespace's objects go first
    world.api.requests.clear()
    world.resources.delete(NS, current)
    assert [r.method for r in world.api.requests] == ["GET", "DELETE", "GET", "GET", "GET"]
    assert world.api.sent("DELETE")[0].body["propagationPolicy"] == "Foreground"
    assert world.clock.slept == [POLL, POLL]
    assert NAMESPACE_PATH not in world.api.objects


def test_a_delete_that_does_not_finish_fails_naming_the_finalizers() -> None:
    world = make_world(delete_timeout=20)
    request = ns_request()
    current = recorded(request, world.resources.create(request))
    world.api.linger[NAMESPACE_PATH] = 1000
    with pytest.raises(
        ProviderError, match=r"still being deleted after 20 s \(finalizers: foregroundDeletion\)"
    ):
        world.resources.delete(NS, current)
    assert sum(world.clock.slept) == 20


def test_a_retried_delete_of_an_object_being_deleted_waits_for_it(world: World) -> None:
    request = ns_request()
    current = recorded(request, world.resources.create(request))
    world.api.linger[NAMESPACE_PATH] = 2  # the first delete's, still under way
    world.api.objects[NAMESPACE_PATH]["metadata"]["deletionTimestamp"] = "2026-12-02T10:00:00Z"
    world.api.requests.clear()
    world.resources.delete(NS, current)
    assert [r.method for r in world.api.requests] == ["GET", "GET", "GET"]  # no second DELETE
    assert world.clock.slept == [POLL]
    assert NAMESPACE_PATH not in world.api.objects


# --- delete only what mlspec made ------------------------------------------------------------------------------


def _state_pointing_at(
    world: World, path: str, obj: dict[str, Any], address: Address, kind: str
) -> ResourceState:
    """A state entry for ``obj`` (hand-edited, or another tool's object at the name since), which the
    cluster holds as ``obj``."""
    world.api.put(path, obj)
    world.api.requests.clear()
    request = request_for(address, kind, obj)
    return recorded(request, ProviderResult(SERVER + path))


@pytest.mark.parametrize(
    ("labels", "why"),
    [
        ({}, "not labelled app.kubernetes.io/managed-by: mlspec"),
        (
            {"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/part-of": "churn"},
            "labelled app.kubernetes.io/managed-by: Helm",
        ),
        (
            {"app.kubernetes.io/managed-by": "mlspec", "app.kubernetes.io/part-of": "fraud"},
            "labelled app.kubernetes.io/part-of: fraud, not this project's churn",
        ),
        (
            {"app.kubernetes.io/managed-by": "mlspec", "mlspec.dev/environment": "staging"},
            "labelled mlspec.dev/environment: staging, not this environment's prod",
        ),
    ],
)
def test_delete_refuses_an_object_mlspec_did_not_make(world: World, labels: dict[str, str], why: str) -> None:
    """The state (edited by hand, or stale) names an object that is not this project's: a
    ConfigMap another tool manages, another project's, another environment's."""
    with_namespace(world)
    theirs = config_map()
    theirs["metadata"]["labels"] = dict(labels)
    current = _state_pointing_at(world, CONFIG_MAP_PATH, theirs, CM, "kubernetes:v1/ConfigMap")
    stored = copy.deepcopy(world.api.objects[CONFIG_MAP_PATH])
    with pytest.raises(ProviderError) as refused:
        world.resources.delete(CM, current)
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.message == (
        f"{CM}: refusing to delete ConfigMap churn/churn-scoring on aks-ml-prod: mlspec did not make it ({why})"
    )
    assert f"`mlspec state rm {CM} --env prod`" in (diagnostic.hint or "")
    assert "\n" not in diagnostic.message + (diagnostic.hint or "")
    assert [r.method for r in world.api.requests] == ["GET"], "nothing is deleted"
    assert world.api.objects[CONFIG_MAP_PATH] == stored


def test_delete_refuses_an_object_without_the_project_label_mlspec_set(world: World) -> None:
    """mlspec sent the part-of label: an object labelled mlspec's but without it is not the one it made."""
    with_namespace(world)
    current = recorded(cm_request(), world.resources.create(cm_request()))
    del world.api.objects[CONFIG_MAP_PATH]["metadata"]["labels"]["app.kubernetes.io/part-of"]
    world.api.requests.clear()
    with pytest.raises(ProviderError, match=r"not labelled app.kubernetes.io/part-of: churn\)$"):
        world.resources.delete(CM, current)
    assert world.api.sent("DELETE") == []


def test_delete_of_an_object_labelled_mlspecs_without_project_labels_deletes_it(world: World) -> None:
    """Labels the compiler does not set on an object (a payload with no part-of nor environment label)
    are not asked for; the managed-by label is, and the manifest sets it."""
    with_namespace(world)
    properties = config_map()
    properties["metadata"]["labels"] = {}
    request = request_for(CM, "kubernetes:v1/ConfigMap", properties)
    current = recorded(request, world.resources.create(request))
    world.resources.delete(CM, current)
    assert CONFIG_MAP_PATH not in world.api.objects


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public", "kube-node-lease"])
def test_delete_never_deletes_the_clusters_own_namespaces(world: World, name: str) -> None:
    labelled = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {**MANAGED, "mlspec.dev/environment": "prod"}},
    }
    path = f"/api/v1/namespaces/{name}"
    current = _state_pointing_at(
        world, path, labelled, Address("aks", "namespace", name), "kubernetes:v1/Namespace"
    )
    with pytest.raises(ProviderError) as refused:
        world.resources.delete(Address("aks", "namespace", name), current)
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.message.endswith(
        f"refusing to delete Namespace {name} on aks-ml-prod: every cluster has it, and mlspec never deletes it"
    )
    assert "mlspec state rm aks.namespace." in (diagnostic.hint or "")
    assert world.api.sent("DELETE") == [] and path in world.api.objects


def test_delete_does_not_delete_an_object_made_at_the_name_after_its_check(world: World) -> None:
    """Between the GET that showed the object mlspec's and the DELETE, another object took the name:
    the uid precondition makes the API server refuse (409), and it stays."""
    with_namespace(world)
    current = recorded(cm_request(), world.resources.create(cm_request()))
    real_get = world.resources._get

    def get_then_replace(address: Address, ref: ObjectRef) -> dict[str, Any] | None:
        found = real_get(address, ref)
        if found is not None:
            world.api.objects[CONFIG_MAP_PATH]["metadata"]["uid"] = "uid-of-another-object"
        return found

    world.resources._get = get_then_replace  # type: ignore[method-assign]
    with pytest.raises(ProviderError, match=r"409 on delete .*Precondition failed: UID in precondition"):
        world.resources.delete(CM, current)
    assert CONFIG_MAP_PATH in world.api.objects


def test_create_after_a_delete_still_under_way_waits_for_it(world: World) -> None:
    with_namespace(world)
    request = cm_request()
    current = recorded(request, world.resources.create(request))
    world.api.linger[CONFIG_MAP_PATH] = 2
    world.api.objects[CONFIG_MAP_PATH]["metadata"]["deletionTimestamp"] = "2026-12-02T10:00:00Z"
    world.api.requests.clear()
    replaced = cm_request(LOG_LEVEL="DEBUG")
    world.resources.create(replaced)  # the replace's create, while the old object still terminates
    assert [r.method for r in world.api.requests] == ["GET", "GET", "GET", "PATCH"]
    assert world.clock.slept == [POLL]
    live = world.resources.read(
        CM, ResourceState(replaced.provider_type, replaced.payload, current.provider_id)
    )
    assert live is not None and live.payload.content() == replaced.payload.content()


# --- "already exists" --------------------------------------------------------------------------------------------


def test_create_adopts_an_identical_object_it_made(world: World) -> None:
    with_namespace(world)
    request = cm_request()
    first = world.resources.create(request)
    world.api.requests.clear()
    again = world.reopen().create(request)  # the next run, after the state write was lost
    assert again.provider_id == first.provider_id
    assert [(r.method, r.path) for r in world.api.requests] == [
        ("GET", CONFIG_MAP_PATH),
        ("PATCH", CONFIG_MAP_PATH),
    ]


def test_a_retried_create_repairs_the_drifted_object_it_made(world: World) -> None:
    """This project's and environment's object (labelled so), found by a create retried after a lost
    state write and edited since: adopted and applied again, not refused."""
    with_namespace(world)
    world.reopen().create(cm_request(LOG_LEVEL="DEBUG"))  # made by this project, its state lost
    world.api.requests.clear()
    request = cm_request()
    result = world.resources.create(request)
    assert "adopted" not in result.outputs
    assert [r.method for r in world.api.requests] == ["GET", "PATCH"]
    assert world.api.objects[CONFIG_MAP_PATH]["data"]["LOG_LEVEL"] == "INFO"
    current = recorded(request, result)
    live = world.resources.read(CM, current)
    assert live is not None and live.payload.content() == request.payload.content()
    world.resources.delete(CM, current)  # mlspec's: deleted
    assert CONFIG_MAP_PATH not in world.api.objects


@pytest.mark.parametrize(
    ("labels", "why"),
    [
        ({"app.kubernetes.io/part-of": "fraud"}, "labelled app.kubernetes.io/part-of: fraud"),
        ({"mlspec.dev/environment": "staging"}, "labelled mlspec.dev/environment: staging"),
    ],
)
def test_create_refuses_a_different_object_of_another_project_or_environment(
    world: World, labels: dict[str, str], why: str
) -> None:
    with_namespace(world)
    foreign = config_map(LOG_LEVEL="DEBUG")
    foreign["metadata"]["labels"].update(labels)
    world.api.put(CONFIG_MAP_PATH, foreign)
    before = copy.deepcopy(world.api.objects[CONFIG_MAP_PATH])
    world.api.requests.clear()
    with pytest.raises(ProviderError) as refused:
        world.resources.create(cm_request())
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.message.startswith(f"{CM}: another ConfigMap churn/churn-scoring on aks-ml-prod")
    assert "differs" in diagnostic.message and why in diagnostic.message
    hint = (diagnostic.hint or "").lower()
    assert "import" in hint and "delete" in hint
    assert [r.method for r in world.api.requests] == ["GET"], "a refused create changes nothing"
    assert world.api.objects[CONFIG_MAP_PATH] == before


def test_an_identical_object_of_another_environment_is_adopted_and_delete_leaves_it(world: World) -> None:
    """The same project's ConfigMap for staging, identical in every field this one sets: adopted as it
    is (not applied), marked adopted, kept so by update, and never deleted."""
    with_namespace(world)
    theirs = config_map()
    theirs["metadata"]["labels"]["mlspec.dev/environment"] = "staging"
    world.api.put(CONFIG_MAP_PATH, theirs)
    world.api.requests.clear()
    request = cm_request()
    result = world.resources.create(request)
    assert result.outputs == {"adopted": "true"}
    assert [r.method for r in world.api.requests] == ["GET"], "adopted as it is: nothing applied"
    current = ResourceState(request.provider_type, request.payload, result.provider_id, dict(result.outputs))
    live = world.resources.read(CM, current)
    assert live is not None and live.payload.content() == request.payload.content()
    assert world.resources.update(request, current).outputs == {"adopted": "true"}
    world.api.requests.clear()
    world.resources.delete(CM, current)
    assert world.api.requests == [] and CONFIG_MAP_PATH in world.api.objects
    world.api.objects[CONFIG_MAP_PATH]["metadata"]["labels"]["mlspec.dev/environment"] = "staging"
    unmarked = recorded(request, result)  # the same entry without the mark: refused, as before
    with pytest.raises(ProviderError, match="refusing to delete"):
        world.resources.delete(CM, unmarked)
    assert CONFIG_MAP_PATH in world.api.objects


def test_a_different_object_labelled_only_managed_by_is_refused(world: World) -> None:
    """An object labelled managed-by mlspec and nothing else names no project: only an identical one
    is taken as the retry of an interrupted apply."""
    with_namespace(world)
    bare = config_map(LOG_LEVEL="DEBUG")
    bare["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "mlspec"}
    world.api.put(CONFIG_MAP_PATH, bare)
    properties = config_map()
    properties["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "mlspec"}
    request = request_for(CM, "kubernetes:v1/ConfigMap", properties)
    with pytest.raises(ProviderError, match="differs from this one"):
        world.resources.create(request)
    world.api.objects[CONFIG_MAP_PATH]["data"]["LOG_LEVEL"] = "INFO"
    assert "adopted" not in world.resources.create(request).outputs


@pytest.mark.parametrize("labels", [{}, {"app.kubernetes.io/managed-by": "Helm"}])
def test_create_never_adopts_an_object_mlspec_did_not_label(world: World, labels: dict[str, str]) -> None:
    """A namespace made by hand, identical in every field mlspec sets but its label, is not mlspec's."""
    made_by_hand = namespace()
    made_by_hand["metadata"]["labels"] = {
        k: v for k, v in made_by_hand["metadata"]["labels"].items() if k != "app.kubernetes.io/managed-by"
    }
    made_by_hand["metadata"]["labels"].update(labels)
    world.api.put(NAMESPACE_PATH, made_by_hand)
    with pytest.raises(ProviderError) as refused:
        world.resources.create(ns_request())
    [diagnostic] = refused.value.diagnostics
    assert "Namespace churn on aks-ml-prod already exists and mlspec did not make it" in diagnostic.message
    assert "delete" in (diagnostic.hint or "") and "import" in (diagnostic.hint or "")
    assert [r.method for r in world.api.requests] == ["GET"]


def test_the_managed_by_label_is_added_where_a_payload_lacks_it(world: World) -> None:
    properties = namespace()
    del properties["metadata"]["labels"]["app.kubernetes.io/managed-by"]
    request = request_for(NS, "kubernetes:v1/Namespace", properties)
    result = world.resources.create(request)
    sent = world.api.sent("PATCH")[0].body
    assert sent["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "mlspec"
    world.reopen().create(request)  # and so the retry adopts it
    live = world.resources.read(NS, recorded(request, result))
    assert live is not None and live.payload.content() == request.payload.content()


# --- a Deployment's rollout --------------------------------------------------------------------------------------


def test_a_deployment_apply_waits_for_its_rollout(world: World) -> None:
    with_namespace(world)
    world.api.rollouts[DEPLOYMENT_PATH] = Rollout(ready_after=3)
    world.resources.create(deploy_request())
    assert [r.method for r in world.api.requests] == ["GET", "PATCH", "GET", "GET", "GET", "GET"]
    assert world.clock.slept == [POLL, POLL, POLL]
    status = world.api.objects[DEPLOYMENT_PATH]["status"]
    assert status["availableReplicas"] == status["updatedReplicas"] == 1


def test_a_rollout_that_does_not_complete_fails_with_its_reason(world: World) -> None:
    with_namespace(world)
    world.api.rollouts[DEPLOYMENT_PATH] = Rollout(ready_after=None)
    with pytest.raises(ProviderError) as failed:
        world.resources.create(deploy_request(progressDeadlineSeconds=60))
    [diagnostic] = failed.value.diagnostics
    assert diagnostic.message.startswith(
        f"{DEPLOY}: the rollout of Deployment churn/churn-scoring on aks-ml-prod made no progress for 60 s"
    )
    assert "0 of 1 updated replicas available" in diagnostic.message
    assert (
        'Progressing: ReplicaSetUpdated: ReplicaSet "churn-scoring-7d4b9c" is progressing.'
        in diagnostic.message
    )
    assert "Available: MinimumReplicasUnavailable" in diagnostic.message
    assert "\n" not in diagnostic.message
    assert "kubectl -n churn describe deployment churn-scoring" in (diagnostic.hint or "")
    assert sum(world.clock.slept) == 60


def test_a_slow_rollout_that_keeps_progressing_is_waited_for(world: World) -> None:
    """20 replicas, one more available every poll: 100 s in all, past the 10 s deadline, which counts
    from the last progress as the controller's does."""
    with_namespace(world)
    world.api.rollouts[DEPLOYMENT_PATH] = Rollout(ready_after=20, creeping=True)
    world.resources.create(deploy_request(replicas=20, progressDeadlineSeconds=10))
    assert sum(world.clock.slept) == 100
    assert world.api.objects[DEPLOYMENT_PATH]["status"]["availableReplicas"] == 20


def test_a_rollout_waits_600_s_when_the_deployment_sets_no_deadline(world: World) -> None:
    with_namespace(world)
    world.api.rollouts[DEPLOYMENT_PATH] = Rollout(ready_after=None)
    with pytest.raises(ProviderError, match="made no progress for 600 s"):
        world.resources.create(deploy_request())
    assert sum(world.clock.slept) == 600


def test_a_rollout_past_its_progress_deadline_fails_at_once(world: World) -> None:
    with_namespace(world)
    world.api.rollouts[DEPLOYMENT_PATH] = Rollout(ready_after=None, deadline_after=2)
    with pytest.raises(ProviderError) as failed:
        world.resources.create(deploy_request(progressDeadlineSeconds=900))
    message = failed.value.diagnostics[0].message
    assert "rollout of Deployment churn/churn-scoring on aks-ml-prod failed" in message
    assert "ProgressDeadlineExceeded" in message and "has timed out progressing" in message
    assert world.clock.slept == [POLL, POLL]


def test_a_retried_create_of_a_rolled_out_deployment_adopts_it(world: World) -> None:
    with_namespace(world)
    first = world.resources.create(deploy_request())
    world.api.requests.clear()
    again = world.reopen().create(deploy_request())
    assert again.provider_id == first.provider_id
    assert [r.method for r in world.api.requests] == ["GET", "PATCH", "GET"]
    assert world.api.objects[DEPLOYMENT_PATH]["metadata"]["generation"] == 1  # an identical apply


# --- quantities the API server rewrites --------------------------------------------------------------------------


def deployment_with_quantities(
    cpu: Any = "0.5", memory: str = "1024Mi", limit_cpu: Any = "1.5", limit_memory: str = "1.5Gi"
) -> DeployRequest:
    """What the build writes for ``resources: {cpu: 0.5, memory: 1024Mi, cpu_limit: 1.5, ...}``."""
    properties = deployment()
    pod = properties["spec"]["template"]["spec"]
    resources = {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": limit_cpu, "memory": limit_memory},
    }
    pod["containers"][0]["resources"] = resources
    pod["initContainers"] = [
        {"name": "warm-up", "image": "busybox", "resources": {"requests": {"cpu": "100m", "memory": "0.5Gi"}}}
    ]
    pod["volumes"] = [{"name": "tmp", "emptyDir": {"sizeLimit": "1024Mi"}}]
    return request_for(DEPLOY, "kubernetes:apps/v1/Deployment", properties)


def test_quantities_the_server_stores_canonically_are_not_drift(world: World) -> None:
    with_namespace(world)
    request = deployment_with_quantities()
    result = world.resources.create(request)
    pod = world.api.objects[DEPLOYMENT_PATH]["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"] == {  # as a real API server stores them
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "1500m", "memory": "1536Mi"},
    }
    assert pod["initContainers"][0]["resources"]["requests"] == {"cpu": "100m", "memory": "512Mi"}
    assert pod["volumes"][0]["emptyDir"]["sizeLimit"] == "1Gi"
    live = world.resources.read(DEPLOY, recorded(request, result))
    assert live is not None and live.hash == request.payload.hash  # no perpetual diff
    assert live.payload.content() == request.payload.content()  # reported in the form sent


def test_a_retried_create_adopts_a_deployment_whose_quantities_the_server_rewrote(world: World) -> None:
    with_namespace(world)
    first = world.resources.create(deployment_with_quantities())
    world.api.requests.clear()
    again = world.reopen().create(deployment_with_quantities())  # the state write after it was lost
    assert again.provider_id == first.provider_id
    assert [r.method for r in world.api.requests] == ["GET", "PATCH", "GET"]
    assert world.api.objects[DEPLOYMENT_PATH]["metadata"]["generation"] == 1  # an identical apply


def test_a_quantity_sent_as_a_number_is_not_drift(world: World) -> None:
    with_namespace(world)
    request = deployment_with_quantities(cpu=0.5, limit_cpu=2)
    result = world.resources.create(request)
    assert (
        world.api.objects[DEPLOYMENT_PATH]["spec"]["template"]["spec"]["containers"][0]["resources"][
            "limits"
        ]["cpu"]
        == "2"
    )
    live = world.resources.read(DEPLOY, recorded(request, result))
    assert live is not None and live.hash == request.payload.hash


def test_a_quantity_changed_behind_its_back_is_drift_in_the_clusters_form(world: World) -> None:
    with_namespace(world)
    request = deployment_with_quantities()
    result = world.resources.create(request)
    container = world.api.objects[DEPLOYMENT_PATH]["spec"]["template"]["spec"]["containers"][0]
    container["resources"]["requests"]["memory"] = "2Gi"  # kubectl set resources
    live = world.resources.read(DEPLOY, recorded(request, result))
    assert live is not None and live.hash == ""
    resources = live.payload.properties["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {
        "requests": {"cpu": "0.5", "memory": "2Gi"},
        "limits": {"cpu": "1.5", "memory": "1.5Gi"},
    }
    world.api.requests.clear()
    world.reopen().create(request)  # a create retried after a lost state write repairs it
    assert [r.method for r in world.api.requests][:2] == ["GET", "PATCH"]
    container = world.api.objects[DEPLOYMENT_PATH]["spec"]["template"]["spec"]["containers"][0]
    assert same_quantity(container["resources"]["requests"]["memory"], "1024Mi")


def test_a_quantity_field_of_another_kind_is_compared_as_text(world: World) -> None:
    """A ConfigMap's "0.5" is a string: only a kind's quantity fields are compared by value."""
    with_namespace(world)
    request = cm_request(RATE="0.5")
    result = world.resources.create(request)
    world.api.objects[CONFIG_MAP_PATH]["data"]["RATE"] = "500m"
    live = world.resources.read(CM, recorded(request, result))
    assert live is not None and live.hash == "" and live.payload.properties["data"]["RATE"] == "500m"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("0.5", "500m"),
        (0.5, "500m"),
        (0.1, "100m"),
        ("1024Mi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("2000m", "2"),
        (2, "2"),
        ("1000", "1k"),
        ("1e3", "1k"),
        ("1E3", "1k"),
        ("1E", "1000P"),
        ("128974848000m", "128974848"),
        ("+1", "1"),
        (".5", "500m"),
        ("1n", "0.000000001"),
        ("1Ki", "1024"),
    ],
)
def test_equal_quantities_are_equal(a: Any, b: Any) -> None:
    assert same_quantity(a, b) and same_quantity(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1G", "1Gi"),
        ("1M", "1Mi"),
        ("1K", "1k"),  # no K suffix: not a quantity
        ("1mi", "0.0009765625"),  # nor mi
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        (" 1", "1"),
        ("1_000", "1k"),
        (True, "1"),
        (None, None),
        ("1e1000", "1e1000"),
        ("", "0"),
    ],
)
def test_what_is_no_quantity_or_another_value_is_not_the_same_quantity(a: Any, b: Any) -> None:
    assert not same_quantity(a, b)


def test_quantity_value_is_exact() -> None:
    assert quantity_value("1.5Gi") == 3 * 2**29
    assert quantity_value("500m") == Fraction(1, 2)
    assert quantity_value("-1.5e-3") == Fraction(-3, 2000)
    assert quantity_value("12345678901234567890123456789012345") != quantity_value(
        "12345678901234567890123456789012346"
    )


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("0.5", "500m"),
        ("1024Mi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("0.5Gi", "512Mi"),
        ("2000m", "2"),
        ("1000", "1k"),
        ("1500", "1500"),
        ("1e3", "1e3"),
        ("1.5e3", "1500"),
        ("1E", "1E"),
        ("2E3", "2e3"),
        ("128974848000m", "128974848"),
        ("129M", "129M"),
        ("123Mi", "123Mi"),
        ("0.001", "1m"),
        ("0.0000000001", "1n"),
        ("512", "512"),
        ("0Mi", "0"),
        (0.5, "500m"),
        ("not-a-quantity", "not-a-quantity"),
    ],
)
def test_the_fake_api_server_stores_quantities_as_kubernetes_does(sent: Any, stored: str) -> None:
    assert canonical_quantity(sent) == stored


def test_rollout_progress_follows_kubectl_rollout_status() -> None:
    base = {"metadata": {"generation": 2}, "spec": {"replicas": 3}}
    assert rollout_progress({**base, "status": {"observedGeneration": 1}}) == (
        False,
        "the controller has not observed generation 2 yet (it saw 1)",
    )
    status = {"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3}
    assert rollout_progress({**base, "status": status}) == (False, "1 old replica(s) pending termination")
    status = {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}
    assert rollout_progress({**base, "status": status}) == (True, "")
    assert rollout_progress(
        {"metadata": {"generation": 1}, "spec": {"replicas": 0}, "status": {"observedGeneration": 1}}
    ) == (True, "")


# --- errors -----------------------------------------------------------------------------------------------------


def test_a_403_is_one_line_naming_the_role_and_no_token(world: World) -> None:
    with_namespace(world)
    world.api.fail_next(
        "PATCH",
        "/deployments/",
        403,
        "Forbidden",
        'deployments.apps "churn-scoring" is forbidden: User "3f2c1a9e-0000-0000-0000-00000000abcd" cannot '
        'patch resource "deployments" in API group "apps" in the namespace "churn"',
    )
    with pytest.raises(ProviderError) as refused:
        world.resources.create(deploy_request())
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.message.startswith(
        f'{DEPLOY}: 403 on apply (Forbidden): deployments.apps "churn-scoring" is forbidden: User'
    )
    assert "\n" not in diagnostic.message
    hint = diagnostic.hint or ""
    assert hint.startswith("the deploying identity needs Azure Kubernetes Service RBAC Writer on aks-ml-prod")
    for text in (diagnostic.message, hint):
        assert "k8s-token-1" not in text and "arm-token" not in text


def test_a_token_the_cluster_refuses_is_a_401_naming_the_role() -> None:
    world = make_world(Credential(token="a-token-of-another-tenant"))
    with pytest.raises(ProviderError) as refused:
        world.resources.create(ns_request())
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.message == f"{NS}: 401 on read (Unauthorized): Unauthorized"
    assert "RBAC Writer on aks-ml-prod" in (diagnostic.hint or "")
    assert "a-token-of-another-tenant" not in diagnostic.message + (diagnostic.hint or "")


def test_a_missing_namespace_is_a_404_with_a_hint(world: World) -> None:
    with pytest.raises(ProviderError) as failed:
        world.resources.create(cm_request())
    [diagnostic] = failed.value.diagnostics
    assert diagnostic.message == f'{CM}: 404 on apply (NotFound): namespaces "churn" not found'
    assert "namespace" in (diagnostic.hint or "")


def test_describe_is_one_line_naming_the_object_and_cluster(world: World) -> None:
    assert world.resources.describe(CM, ProviderResult(SERVER + CONFIG_MAP_PATH)) == (
        "ConfigMap churn/churn-scoring on aks-ml-prod"
    )
    assert (
        world.resources.describe(NS, ProviderResult(SERVER + NAMESPACE_PATH))
        == "Namespace churn on aks-ml-prod"
    )
    assert world.resources.describe(DEPLOY, ProviderResult(SERVER + DEPLOYMENT_PATH)) == (
        "Deployment churn/churn-scoring on aks-ml-prod"
    )


# --- the churn example's objects ----------------------------------------------------------------------------------


def test_every_kubernetes_object_of_the_churn_build_applies_and_reads_back_unchanged(
    world: World, tmp_path: Path
) -> None:
    import json

    from mlspec import api

    api.build(ROOT / "projects" / "churn" / "mlproject.yaml", "prod", out_dir=tmp_path, environ={})
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    objects = [r for r in manifest["resources"] if r["provider_type"].startswith("kubernetes:")]
    assert {r["provider_type"].removeprefix("kubernetes:") for r in objects} == {f"{v}/{k}" for v, k in KINDS}
    objects.sort(key=lambda r: r["provider_type"] != "kubernetes:v1/Namespace")  # the namespace first
    applied = []
    for entry in objects:
        assert KubernetesResources.handles(entry["provider_type"])
        request = request_for(
            Address.parse(entry["address"]), entry["provider_type"], entry["payload"]["properties"]
        )
        applied.append((request, world.resources.create(request)))
    patched = [r.path for r in world.api.sent("PATCH")]
    assert len(patched) == len(objects) and len(set(patched)) == len(objects)
    assert (
        "/apis/secrets-store.csi.x-k8s.io/v1/namespaces/churn/secretproviderclasses/churn-scoring" in patched
    )
    for request, result in applied:
        live = world.resources.read(request.address, recorded(request, result))
        assert live is not None and live.hash == request.payload.hash, request.address
        ref = ObjectRef(*_ref_parts(request))
        assert result.provider_id == SERVER + ref.path
        line = world.resources.describe(request.address, result)
        assert line.endswith(" on aks-ml-prod") and ref.kind in line


def _ref_parts(request: DeployRequest) -> tuple[str, str, str, str]:
    properties = request.payload.properties
    metadata = properties["metadata"]
    namespaced = properties["kind"] != "Namespace"
    return (
        properties["apiVersion"],
        properties["kind"],
        metadata.get("namespace", "") if namespaced else "",
        metadata["name"],
    )


# --- the shared provider contract, through a whole Azure provider ------------------------------------------


class _OnFakeCluster(KubernetesResources):
    """The module as it is, whose cluster client, once made (from the fake Azure's kubeconfig), sends
    to ``api_server``."""

    api_server: FakeApiServer

    def _connect(self) -> Cluster:
        made = super()._connect()
        made.api.rest_client.pool_manager = self.api_server
        return made


class _AzureWithKubernetes(AzureProvider):
    """The Azure provider with ``kubernetes:*`` dispatched to this module, as ``provider.py`` will."""

    def __init__(self, fake: FakeAzureWithAks, api_server: FakeApiServer, clock: Clock) -> None:
        workspace = AzureWorkspace.of(
            {
                "subscription_id": CONTRACT_SUBSCRIPTION,
                "resource_group": CONTRACT_RESOURCE_GROUP,
                "kubernetes": CLUSTER,
                "application_insights": "appi-contract-dev",
                "location": "westeurope",
            },
            "dev",
        )
        options = {"transport": fake, "polling_interval": 0, "retry_backoff_factor": 0}
        super().__init__(workspace, "contract", Credential(), options)  # type: ignore[arg-type]
        self.kubernetes = _OnFakeCluster(self.session, "contract", sleep=clock.sleep, clock=clock)
        self.kubernetes.api_server = api_server

    def _service(self, address: Address, provider_type: str) -> Any:
        if KubernetesResources.handles(provider_type):
            return self.kubernetes
        return super()._service(address, provider_type)

    def describe(self, address: Address, result: ProviderResult) -> str:
        if address.service == "aks":
            return self.kubernetes.describe(address, result)
        return super().describe(address, result)


CONTRACT_SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
CONTRACT_RESOURCE_GROUP = "rg-contract-dev"
CONTRACT_SAMPLES = {
    FILE_ARTIFACT: SampleTarget(Address("aks", "config_map", "contract-features"), "kubernetes:v1/ConfigMap"),
    PROPERTIES_ONLY: SampleTarget(
        Address("aks", "deployment", "contract-scoring"), "kubernetes:apps/v1/Deployment"
    ),
    WITH_ATTACHMENTS: SampleTarget(
        Address("aks", "secret_provider_class", "contract-with-files"),
        "kubernetes:secrets-store.csi.x-k8s.io/v1/SecretProviderClass",
    ),
}
CONTRACT_PRODUCERS = {
    (
        "access",
        "identity",
    ): "arm:Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
    ("monitor", "data_collection_endpoint"): "arm:Microsoft.Insights/dataCollectionEndpoints",
    ("monitor", "data_collection_rule"): "arm:Microsoft.Insights/dataCollectionRules",
}


def _sample_path(request: DeployRequest) -> str:
    """Where a contract sample lives: its kind's path in the ``default`` namespace."""
    api_version, kind = request.provider_type.removeprefix("kubernetes:").rsplit("/", 1)
    return ObjectRef(api_version, kind, "default", request.address.name).path


def _tamper(api_server: FakeApiServer, request: DeployRequest) -> dict[str, Any]:
    api_server.objects[_sample_path(request)]["properties"]["owner"] = "edited with kubectl"
    changed = copy.deepcopy(request.payload.properties)
    changed["properties"]["owner"] = "edited with kubectl"
    return {"properties": changed, "attachments": dict(request.payload.attachments)}


class TestKubernetesProviderContract(ProviderContract):
    """The contract's samples (``{"name", "properties"}``, no metadata) as Kubernetes objects: the
    module names them after the address, in the ``default`` namespace, labelled as mlspec's."""

    @pytest.fixture
    def subject(self) -> ProviderUnderTest:
        fake = FakeAzureWithAks(CONTRACT_SUBSCRIPTION, CONTRACT_RESOURCE_GROUP, CLUSTER)
        api_server = FakeApiServer()
        api_server.put(
            "/api/v1/namespaces/default",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}},
        )
        clock = Clock()
        return ProviderUnderTest(
            provider=_AzureWithKubernetes(fake, api_server, clock),
            reopen=lambda: _AzureWithKubernetes(fake, api_server, clock),
            tamper=lambda request, result: _tamper(api_server, request),
            remove_behind_its_back=lambda request, result: (
                api_server.objects.pop(_sample_path(request)) and None
            ),
            samples=CONTRACT_SAMPLES,
            producers=CONTRACT_PRODUCERS,
            chain_consumer=SampleTarget(
                Address("aks", "config_map", "contract-chain"), "kubernetes:v1/ConfigMap"
            ),
            object_name=lambda address: (
                f"id-{address.name}/{address.name}" if address.kind == "identity" else address.name
            ),
        )

    @pytest.mark.skip(
        reason="no Kubernetes kind is a producer, and this subject's transport serves ARM and AKS only: "
        "every producer kind is run through the whole Azure provider by TestAzureProviderContract "
        "(test_azure_provider_contract.py)",
    )
    def test_a_producer_reports_every_declared_output(self, subject: ProviderUnderTest) -> None:
        super().test_a_producer_reports_every_declared_output(subject)


# --- TLS, for real: the pool manager the module makes, against a local HTTPS API server ------------------


def _self_signed(tmp_path: Path) -> tuple[str, Path, Path]:
    """A CA-less self-signed certificate for 127.0.0.1: its PEM, and the cert and key files."""
    pytest.importorskip("cryptography")
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "apiserver")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_file, key_file = tmp_path / "server.crt", tmp_path / "server.key"
    cert_file.write_text(pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return pem, cert_file, key_file


@pytest.fixture
def https_api_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An HTTPS server on 127.0.0.1 serving the churn Namespace, recording each request's headers."""
    import json
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    pem, cert_file, key_file = _self_signed(tmp_path)
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({"path": self.path, **dict(self.headers)})
            body = json.dumps({**namespace(), "metadata": {**namespace()["metadata"], "uid": "u-1"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", pem, seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_api_server_is_verified_against_the_kubeconfigs_ca(https_api_server: Any) -> None:
    url, pem, seen = https_api_server
    aks = FakeAks(SUBSCRIPTION, RESOURCE_GROUP, CLUSTER)
    aks.config = kubeconfig_for(url, pem)
    resources = make_resources(aks, Credential(), Clock())
    request = ns_request()
    live = resources.read(NS, recorded(request, ProviderResult(url + NAMESPACE_PATH)))
    assert live is not None and live.payload.content() == request.payload.content()
    [got] = seen
    assert got["path"] == NAMESPACE_PATH and got["Authorization"] == "Bearer k8s-token-1"


def test_a_server_the_kubeconfigs_ca_did_not_sign_is_refused(https_api_server: Any, tmp_path: Path) -> None:
    url, _, seen = https_api_server
    other = tmp_path / "other"
    other.mkdir()
    other_ca, _, _ = _self_signed(other)  # another cluster's CA
    aks = FakeAks(SUBSCRIPTION, RESOURCE_GROUP, CLUSTER)
    aks.config = kubeconfig_for(url, other_ca)
    resources = make_resources(aks, Credential(), Clock())
    with pytest.raises(ProviderError) as refused:
        resources.read(NS, recorded(ns_request(), ProviderResult(url + NAMESPACE_PATH)))
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.message == f"{NS}: read failed: cannot reach the API server of aks-ml-prod (SSLError)"
    assert "not signed by the CA" in (diagnostic.hint or "")
    assert seen == [], "no request reached a server that is not the cluster's"


def kubeconfig_for(server: str, ca_pem: str) -> dict[str, Any]:
    from tests.providers.kubernetes_fake import kubeconfig

    return kubeconfig(CLUSTER, server, ca_pem)
