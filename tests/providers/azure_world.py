"""One fake Azure behind a whole :class:`AzureProvider`: every service module's fake, reached through the
one transport the provider's session hands every SDK client, as in production.

:class:`FakeAzureWorld` is that transport. It routes each request to the fake that serves it:

- Resource Manager (``management.azure.com``): a registry's Tasks operations
  (``.../Microsoft.ContainerRegistry/registries/<name>/...``) to :class:`FakeAcr`, a cluster's
  ``listClusterUserCredential`` to :class:`FakeAks`, everything else (template deployments and what-if,
  resources by id, the subscription, Application Insights, the Azure ML workspace's control plane) to
  :class:`FakeAzureML`; a long-running operation's poll goes to the fake that started it;
- the registry's data plane (``<registry>.azurecr.io``) and its source and log storage to
  :class:`FakeAcr`;
- Azure ML's data plane (discovery, run history) and its blob store to :class:`FakeAzureML`, the lake's
  other blob endpoints to :class:`FakeAzure`'s lake, Synapse to :class:`FakeAzure`'s artifacts.

The Kubernetes API server is not reached through the Azure SDK's transport: :func:`world_provider`
puts :attr:`FakeAzureWorld.api_server` under the cluster client the provider makes from the fake AKS
kubeconfig (as ``tests/providers/test_azure_kubernetes.py`` does), and paces its waits with a clock
that sleeping moves on.

:class:`WorldCredential` gives each audience the token its fake accepts: the AKS server application's
token to the API server, unsigned JWTs (which ``azure-ai-ml`` decodes) to every Entra audience; the
registry's token exchange takes the Resource Manager one.

:class:`ChurnBuild` is the churn example's prod build (``projects/churn``, built from a copy), whose
resources give requests as apply sends them: what a service accepts, unlike the contract's toy
samples (an ACR task YAML, an Azure ML compute and pipeline job).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mlspec.contract.graph import Address
from mlspec.contract.payload import Payload
from mlspec.providers.azure import AzureProvider
from mlspec.providers.azure.kubernetes import AKS_SERVER_SCOPE, Cluster, KubernetesResources
from mlspec.providers.azure.workspace import AzureWorkspace
from mlspec.providers.base import DeployRequest
from tests.azure_http import FakeTransport
from tests.providers.acr_fake import AAD_TOKEN, LOG_STORAGE, SOURCE_STORAGE, FakeAcr
from tests.providers.azure_fake import ARM, FakeAzure
from tests.providers.azureml_fake import ACCOUNT, DATA_PLANE, FakeAzureML, JwtCredential, serve_uploads
from tests.providers.fabric_fake import FakeFabric
from tests.providers.kubernetes_fake import Clock, FakeAks, FakeApiServer

FABRIC_HOST = "api.fabric.microsoft.com"
POWER_BI_HOST = "api.powerbi.com"

ROOT = Path(__file__).resolve().parents[2]
CHURN = ROOT / "projects" / "churn"
MANAGEMENT_SCOPE = f"https://{ARM}/.default"
_ACR_OPERATIONS = 1_000_000
"""Where the ACR fake's operation numbers start, apart from :class:`FakeAzure`'s (both name their
operations ``op<n>`` under the same host; a poll goes to the fake that knows the name)."""


@dataclass(frozen=True)
class WorldNames:
    """The environment the world's fakes stand for: a subscription, a resource group and the
    workspace resources in it."""

    subscription: str = "00000000-0000-0000-0000-0000000000aa"
    resource_group: str = "rg-contract-dev"
    environment: str = "dev"
    synapse: str = "syn-contract-dev"
    machine_learning: str = "mlw-contract-dev"
    container_registry: str = "acrcontractdev"
    kubernetes: str = "aks-contract-dev"
    application_insights: str = "appi-contract-dev"
    location: str = "westeurope"
    power_bi_workspace: str = "Churn Analytics"
    power_bi_workspace_id: str = "5d1b6a3e-0000-4000-8000-00000000c4a1"

    def workspace(self) -> AzureWorkspace:
        return AzureWorkspace.of(
            {
                "subscription_id": self.subscription,
                "resource_group": self.resource_group,
                "synapse": self.synapse,
                "machine_learning": self.machine_learning,
                "container_registry": self.container_registry,
                "kubernetes": self.kubernetes,
                "application_insights": self.application_insights,
                "location": self.location,
            },
            self.environment,
        )


class FakeAzureWorld(FakeTransport):
    """Every fake of the Azure provider's services behind one transport (see the module's docstring).
    One per test; :func:`world_provider` makes a provider on it, as often as a test reopens one."""

    def __init__(self, names: WorldNames | None = None) -> None:
        super().__init__()
        self.names = names or WorldNames()
        n = self.names
        self.azure = FakeAzureML(n.subscription, n.resource_group, n.machine_learning)
        """Resource Manager, Synapse, the lake, the Azure ML workspace and its blob store."""
        self.acr: FakeAcr = _WorldAcr(n.subscription, n.resource_group, n.container_registry)
        self.aks = FakeAks(n.subscription, n.resource_group, n.kubernetes)
        self.fabric = FakeFabric({n.power_bi_workspace_id: n.power_bi_workspace})
        """Fabric (items and their definitions) and the Power BI refresh call."""
        self.api_server = FakeApiServer()
        self.api_server.put(
            "/api/v1/namespaces/default",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}},
        )
        self.clock = Clock()
        self.routed: list[tuple[str, str, str, str]] = []
        """``(fake, method, host, path)`` of every request, in order: which fake served it."""

    # --- the transport protocol -------------------------------------------------------------------

    def sleep(self, duration: float) -> None:
        self.azure.sleep(duration)

    def send(self, request: Any, **kwargs: Any) -> Any:
        url = urlparse(request.url)
        name, send = self._route(url.hostname or "", url.path)
        self.routed.append((name, request.method, url.hostname or "", url.path))
        return send(request, **kwargs)

    # --- routing ------------------------------------------------------------------------------------

    def _route(self, host: str, path: str) -> tuple[str, Any]:
        lowered = path.lower()
        if host == ARM:
            if lowered.startswith("/operations/"):
                return self._poll_of(path)
            if "/providers/microsoft.containerregistry/registries/" in lowered:
                return "acr", self.acr.send
            if lowered.endswith("/listclusterusercredential"):
                return "aks", self.aks.send
            return "azure", self.azure.send
        if host in (FABRIC_HOST, POWER_BI_HOST):
            return "fabric", self.fabric.send
        if host in (SOURCE_STORAGE, LOG_STORAGE, self.acr.login_server):
            return "acr", self.acr.send
        if host in (f"{ACCOUNT}.blob.core.windows.net", DATA_PLANE):
            return "azure", self.azure.send
        if host.endswith(".blob.core.windows.net"):  # the lake (HEAD of a path), as FakeAzure serves it
            return "lake", lambda request, **kwargs: FakeAzure.send(self.azure, request, **kwargs)
        return "azure", self.azure.send  # Synapse; an unknown host is FakeAzure's 404

    def _poll_of(self, path: str) -> tuple[str, Any]:
        operation = path.rsplit("/", 1)[-1]
        owners = [
            (name, fake)
            for name, fake in (("azure", self.azure), ("acr", self.acr))
            if operation in fake._operations
        ]
        assert len(owners) == 1, f"{operation} is an operation of {[name for name, _ in owners]}"
        [(name, fake)] = owners
        return name, fake.send


class WorldCredential(JwtCredential):
    """Unsigned JWTs for every Entra audience (``azure-ai-ml`` decodes the Azure ML one, and the
    Resource Manager one for the tenant of a job's studio URL), except the AKS server application's:
    the token the API server accepts."""

    def __init__(self, api_server: FakeApiServer) -> None:
        super().__init__()
        self.api_server = api_server

    def _token(self, scopes: tuple[str, ...]) -> str:
        if scopes == (AKS_SERVER_SCOPE,):
            self.scopes.append(scopes)
            return self.api_server.token
        return super()._token(scopes)


class _WorldAcr(FakeAcr):
    """:class:`FakeAcr` whose token exchange takes the world credential's Resource Manager token for
    the AAD token it checks (:data:`AAD_TOKEN`, a plain string where the world's tokens are JWTs)."""

    def __init__(self, subscription: str, resource_group: str, registry: str) -> None:
        super().__init__(subscription, resource_group, registry)
        self.aad_token = JwtCredential()._token((MANAGEMENT_SCOPE,))
        self._counter = _ACR_OPERATIONS

    def _data_plane(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        if (
            path == "/oauth2/exchange"
            and isinstance(body, dict)
            and body.get("access_token") == self.aad_token
        ):
            body = {**body, "access_token": AAD_TOKEN}
        return super()._data_plane(method, path, query, headers, body)


def world_provider(world: FakeAzureWorld, project: str = "contract") -> AzureProvider:
    """A new Azure provider on ``world`` (a new run of apply: no client, token or cache carried over),
    made as the registry makes it; only its cluster client is put on the fake API server."""
    provider = AzureProvider(
        world.names.workspace(),
        project,
        WorldCredential(world.api_server),  # type: ignore[arg-type]
        {"transport": world, "polling_interval": 0, "retry_backoff_factor": 0},
        report_workspaces=_ReportWorkspaces(world.names.power_bi_workspace),
    )
    _on_api_server(provider.kubernetes, world)
    return provider


class _ReportWorkspaces(dict[str, str]):
    """Every report of the world, at whatever address a test puts it, in the world's one workspace."""

    def __init__(self, workspace: str) -> None:
        super().__init__()
        self.workspace = workspace

    def get(self, key: str, default: Any = None) -> Any:
        return self.workspace

    def __getitem__(self, key: str) -> str:
        return self.workspace

    def __contains__(self, key: object) -> bool:
        return True


def _on_api_server(resources: KubernetesResources, world: FakeAzureWorld) -> None:
    """The cluster client, once made from the fake AKS kubeconfig, sends to the world's API server; the
    module's waits pass on the world's clock."""
    connect = resources._connect

    def connected() -> Cluster:
        cluster = connect()
        cluster.api.rest_client.pool_manager = world.api_server
        return cluster

    resources._connect = connected  # type: ignore[method-assign]
    resources.sleep = world.clock.sleep
    resources.clock = world.clock


@contextmanager
def serving(world: FakeAzureWorld) -> Iterator[FakeAzureWorld]:
    """While it lasts, the storage clients ``azure-ai-ml`` makes for code uploads send to the world
    too (they are not given the session's transport: :func:`serve_uploads`)."""
    with serve_uploads(world.azure):
        yield world


# --- the churn example's build, as requests ---------------------------------------------------------


class ChurnBuild:
    """The churn project built for prod into ``folder`` (from a copy of ``projects/churn``, so the
    build's cache stays out of the repository); its resources as the requests apply sends."""

    def __init__(self, folder: Path, environment: str = "prod") -> None:
        from mlspec import api

        project = folder / "churn"
        shutil.copytree(CHURN, project, ignore=shutil.ignore_patterns(".mlspec", "build"))
        self.out = folder / environment
        api.build(project / "mlproject.yaml", environment, out_dir=self.out)
        self.manifest: dict[str, Any] = json.loads((self.out / "manifest.json").read_text())

    def entry(self, address: Address) -> dict[str, Any]:
        [found] = [r for r in self.manifest["resources"] if r["address"] == str(address)]
        return found

    def of_kind(self, service: str, kind: str) -> dict[str, Any]:
        """The build's first resource of ``service.kind``."""
        found = [r for r in self.manifest["resources"] if r["address"].startswith(f"{service}.{kind}.")]
        assert found, f"the churn build has no {service}.{kind}"
        return found[0]

    def request(self, entry: dict[str, Any], address: Address | None = None) -> DeployRequest:
        """The request apply sends for the build's ``entry`` (its files as built, the primary first, and
        the build's hash), at ``address`` (by default its own): the payload does not depend on it."""
        assert not entry.get("needs"), f"{entry['address']} needs outputs: replace its markers first"
        files = {path: (self.out / path).read_bytes() for path in entry["files"]}
        payload = Payload(entry["payload"]["properties"], entry["payload"]["attachments"], entry["hash"])
        return DeployRequest(
            address or Address.parse(entry["address"]),
            entry["provider_type"],
            payload,
            files,
            entry["file"],
        )
