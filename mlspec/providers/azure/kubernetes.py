"""Kubernetes objects (``kubernetes:<apiVersion>/<Kind>``) in the environment's AKS cluster, by
server-side apply.

Cluster access: Resource Manager's ``listClusterUserCredential`` gives the user kubeconfig of
``workspace.kubernetes``; only its server URL and CA certificate are used. An Entra-ID cluster's user
kubeconfig authenticates through the ``kubelogin`` exec plugin, which mlspec does not depend on: the
provider asks the deploying credential for a token of the AKS Entra server application
(:data:`AKS_SERVER_SCOPE`, what kubelogin does) and sends it as a bearer token, refreshed before it
expires. The cluster client is made once per provider, on first use.

Calls go through the official ``kubernetes`` client's ``ApiClient.call_api`` on REST paths worked out
here from the object's apiVersion and kind (:data:`KINDS`), not through its typed APIs (which have no
model for a CRD such as SecretProviderClass and would rebuild the payload through models) nor the
``DynamicClient`` (whose discovery costs several requests to ``/api`` and ``/apis`` on every provider
instance, and whose results depend on what the cluster serves): the payload is sent as the build
wrote it, and the answer read as the API server sent it.

Create and update are a server-side apply (a PATCH of ``application/apply-patch+yaml``, JSON being
YAML, with ``fieldManager=mlspec&force=true``): the API server merges, and fields other managers own
(an HPA's ``replicas``) are left alone. Reading compares only what mlspec sets: the server's metadata
(``uid``, ``resourceVersion``, ``managedFields``...), defaults and ``status`` are not drift, nor is a
resource quantity the server wrote in its canonical form (``0.5`` stored as ``500m``, ``1024Mi`` as
``1Gi``: :data:`QUANTITY_FIELDS`, compared by value). A create that finds an object already at the
name labelled ``app.kubernetes.io/managed-by: mlspec`` with this project's ``app.kubernetes.io/part-of``
and this environment's ``mlspec.dev/environment`` (where the object sent or the live one sets them: the
delete check below) adopts it, the retry of an interrupted apply, and applies again (repairing any
drift; one labelled managed-by alone names no project, so it is taken only when identical). One not
shown so but identical in mlspec's fields is adopted as it is, not applied, and recorded with the
output ``adopted: "true"`` (kept by update); its delete deletes nothing (state only forgets it). Any
other is refused. A Deployment's apply waits for its rollout. Delete deletes only what mlspec made
(labelled so, and with this project's and environment's labels where the compiler sets them; never
the namespaces every cluster has), the object it checked (a ``uid`` precondition); it is
foreground (dependants first) and waits until the object is gone, so a replace never applies into an
object being deleted.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlparse

from mlspec.contract.graph import Address
from mlspec.contract.outputs import sent_payload
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.providers.azure.errors import MAX_MESSAGE_CHARS, azure_error
from mlspec.providers.azure.session import AzureSession, raw_json
from mlspec.providers.azure.synapse import as_sent
from mlspec.providers.base import DeployRequest, LiveObject, ProviderError, ProviderResult
from mlspec.redaction import printable, redact

if TYPE_CHECKING:
    from kubernetes.client import ApiClient  # type: ignore[import-untyped, import-not-found, unused-ignore]

PREFIX = "kubernetes:"
AKS_SERVER_SCOPE = "6dae42f8-4368-4678-94ff-3960e28e3630/.default"
"""The AKS Entra ID server application: the audience of the tokens an Entra-ID cluster accepts."""
FIELD_MANAGER = "mlspec"
ADOPTED = "adopted"
"""The output (``"true"``) of an object create found already, identical, and could not show mlspec made
for this project and environment: update keeps it, and delete leaves the object in place."""
MANAGED_BY = "app.kubernetes.io/managed-by"
PART_OF = "app.kubernetes.io/part-of"
"""The compiler's label of the project an object belongs to."""
ENVIRONMENT = "mlspec.dev/environment"
"""The compiler's label of the environment an object belongs to."""
CLUSTER_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
"""The namespaces every cluster has, and its own objects live in: mlspec never deletes them."""
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
DEFAULT_ROLLOUT_TIMEOUT = 600.0
DELETE_TIMEOUT = 600.0
TOKEN_REFRESH_MARGIN = 300.0
REQUEST_TIMEOUT = (10.0, 60.0)
POOL_SIZE = 16
"""Connections kept to the API server: as many as apply's threads may use at once."""
WRITER_ROLE = "Azure Kubernetes Service RBAC Writer"
CREDENTIALS_ROLE = "Azure Kubernetes Service Cluster User Role"


@dataclass(frozen=True)
class Kind:
    """Where the API server serves a kind: its plural (the REST path's resource) and whether it lives
    in a namespace."""

    plural: str
    namespaced: bool = True


KINDS: Mapping[tuple[str, str], Kind] = {
    ("v1", "Namespace"): Kind("namespaces", namespaced=False),
    ("v1", "ConfigMap"): Kind("configmaps"),
    ("v1", "Service"): Kind("services"),
    ("v1", "ServiceAccount"): Kind("serviceaccounts"),
    ("apps/v1", "Deployment"): Kind("deployments"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): Kind("horizontalpodautoscalers"),
    ("policy/v1", "PodDisruptionBudget"): Kind("poddisruptionbudgets"),
    ("networking.k8s.io/v1", "NetworkPolicy"): Kind("networkpolicies"),
    ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"): Kind("secretproviderclasses"),
}
"""The kinds the compiler emits. A kind not here is not deployed (:meth:`KubernetesResources.handles`
is false for it), so the provider refuses it before an apply starts, not half-way through."""

_KIND_OF_PLURAL = {kind.plural: name for (_, name), kind in KINDS.items()}

_POD_QUANTITIES: tuple[tuple[str, ...], ...] = (
    ("containers", "*", "resources", "requests", "*"),
    ("containers", "*", "resources", "limits", "*"),
    ("initContainers", "*", "resources", "requests", "*"),
    ("initContainers", "*", "resources", "limits", "*"),
    ("resources", "requests", "*"),
    ("resources", "limits", "*"),
    ("overhead", "*"),
    ("volumes", "*", "emptyDir", "sizeLimit"),
)
QUANTITY_FIELDS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "Deployment": tuple(("spec", "template", "spec", *path) for path in _POD_QUANTITIES),
}
"""Where a kind the compiler emits holds ``resource.Quantity`` fields (``*``: every key or item), which
the API server stores in its canonical form: compared by value, not text. The other kinds' numbers
(an HPA's replicas and utilisation, a PDB's ``minAvailable``, ports, ``maxSurge``) are ints or
int-or-strings, which the server returns as sent; an HPA's ``averageValue`` is a quantity, but the
compiler's HPA targets a utilisation only."""


@dataclass(frozen=True)
class ObjectRef:
    """One object's apiVersion, kind, namespace (empty for a cluster-scoped kind) and name."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @property
    def path(self) -> str:
        """The object's REST path: ``/api/v1/...`` for the core group, ``/apis/<group>/<version>/...``
        for the others; ``namespaces/<ns>/`` before the plural for a namespaced kind."""
        spec = KINDS[(self.api_version, self.kind)]
        base = f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"
        scope = f"/namespaces/{quote(self.namespace, safe='')}" if spec.namespaced else ""
        return f"{base}{scope}/{spec.plural}/{quote(self.name, safe='')}"

    @property
    def shown(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass
class Cluster:
    """The cluster's API server, as the kubeconfig names it, and a client for it."""

    name: str
    server: str
    api: ApiClient


class KubernetesResources:
    """Applies, reads and deletes Kubernetes objects in the environment's AKS cluster.

    ``poll_interval``, ``sleep`` and ``clock`` pace the waits (a Deployment's rollout, a foreground
    delete); tests pass a clock that the sleep advances, so they wait for nothing.
    """

    provider_types = frozenset(f"{PREFIX}{api_version}/{kind}" for api_version, kind in KINDS)

    def __init__(
        self,
        session: AzureSession,
        project: str,
        *,
        poll_interval: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        delete_timeout: float = DELETE_TIMEOUT,
    ) -> None:
        self.session = session
        self.project = project
        self.poll_interval = poll_interval
        self.sleep = sleep
        self.clock = clock
        self.delete_timeout = delete_timeout
        self._lock = threading.Lock()  # apply runs independent resources in parallel threads
        self._cluster: Cluster | None = None
        self._token: Any = None

    @staticmethod
    def handles(provider_type: str) -> bool:
        """Whether ``provider_type`` is a Kubernetes kind this module deploys."""
        parsed = _parse_type(provider_type)
        return parsed is not None and parsed in KINDS

    # --- the provider operations ---------------------------------------------------------------------

    def read(self, address: Address, current: ResourceState) -> LiveObject | None:
        sent = sent_payload(current.payload, current.resolved, current.sent_attachments)
        ref = self.ref_of(address, current.provider_type, sent.properties)
        live = self._get(address, ref)
        if live is None or _terminating(live):
            return None
        seen = live_as_sent(ref.kind, live, sent.properties)
        if seen == sent.properties:
            return LiveObject(sent)
        return LiveObject(Payload(seen, sent.attachments))

    def create(self, request: DeployRequest) -> ProviderResult:
        manifest = self.manifest_of(request.address, request.provider_type, request.payload.properties)
        ref = self.ref_of(request.address, request.provider_type, manifest)
        found = self._get(request.address, ref)
        if found is not None and _terminating(found):  # a replace's delete still under way
            self._wait_gone(request.address, ref)
            found = None
        if found is not None and not self._adopt_or_repair(request.address, ref, found, manifest):
            # Identical, but not shown to be this project's and environment's: adopted as it is (not
            # applied, which would take its fields over), and a later delete leaves it in place.
            return ProviderResult(self.provider_id(ref), {ADOPTED: "true"})
        return self._apply(request.address, ref, manifest)

    def update(self, request: DeployRequest, current: ResourceState) -> ProviderResult:
        manifest = self.manifest_of(request.address, request.provider_type, request.payload.properties)
        result = self._apply(
            request.address, self.ref_of(request.address, request.provider_type, manifest), manifest
        )
        if adopted(current):
            result.outputs[ADOPTED] = "true"  # still not shown to be mlspec's: delete leaves it
        return result

    def delete(self, address: Address, current: ResourceState) -> None:
        """Delete the object the state names, once it is shown to be mlspec's: a state entry edited by
        hand, or one naming an object another tool has made since, must not delete what mlspec did not
        make. The DELETE carries the checked object's ``uid`` as a precondition, so an object made at
        the name between the check and the delete is not deleted either (a 409)."""
        sent = sent_payload(current.payload, current.resolved, current.sent_attachments)
        ref = self.ref_of(address, current.provider_type, sent.properties)
        if adopted(current):
            return  # found at create, not shown to be mlspec's: state forgets it, the cluster keeps it
        if ref.kind == "Namespace" and ref.name in CLUSTER_NAMESPACES:
            raise self._delete_refused(address, ref, "every cluster has it, and mlspec never deletes it")
        live = self._get(address, ref)
        if live is None:  # gone already (a retried delete, or removed by hand): nothing to do
            return
        why = self._not_ours_to_delete(live, sent.properties)
        if why:
            raise self._delete_refused(address, ref, f"mlspec did not make it ({why})")
        if not _terminating(live):  # a delete under way already (a retry) is only waited for
            options: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "DeleteOptions",
                "propagationPolicy": "Foreground",  # the server reads a body's options, not the query's
            }
            uid = (live.get("metadata") or {}).get("uid")
            if uid:
                options["preconditions"] = {"uid": str(uid)}
            gone = self._call(
                address,
                "delete",
                "DELETE",
                ref.path,
                {"propagationPolicy": "Foreground"},
                options,
                missing_ok=True,
            )
            if gone is None:  # a 404: deleted since the read
                return
        self._wait_gone(address, ref)

    def _not_ours_to_delete(self, live: Mapping[str, Any], sent: Any) -> str:
        """Why ``live`` is not mlspec's to delete (empty when it is): it must be labelled
        ``app.kubernetes.io/managed-by: mlspec`` and, where the object mlspec sent set them or the
        live one has them, with this project's ``app.kubernetes.io/part-of`` and this environment's
        ``mlspec.dev/environment``."""
        labels = _labels(live)
        owner = labels.get(MANAGED_BY)
        if owner != FIELD_MANAGER:
            return f"labelled {MANAGED_BY}: {owner}" if owner else f"not labelled {MANAGED_BY}: mlspec"
        sent_labels = _labels(sent)
        for label, expected, of in (
            (PART_OF, self.project, "project"),
            (ENVIRONMENT, self.session.workspace.environment, "environment"),
        ):
            value = labels.get(label)
            if not expected or value == expected or (value is None and label not in sent_labels):
                continue
            if value is None:
                return f"not labelled {label}: {expected}"
            return f"labelled {label}: {value}, not this {of}'s {expected}"
        return ""

    def _delete_refused(self, address: Address, ref: ObjectRef, why: str) -> ProviderError:
        cluster = self.session.workspace.kubernetes or "the AKS cluster"
        environment = self.session.workspace.environment
        forget = f"`mlspec state rm {address}" + (f" --env {environment}`" if environment else "`")
        return ProviderError(
            address,
            printable(f"refusing to delete {ref.shown} on {cluster}: {why}", 400),
            printable(
                f"if the state is wrong, {forget} forgets the entry and deletes nothing; if the object "
                f"is to go, delete it yourself (kubectl delete), then {forget}",
                400,
            ),
        )

    def describe(self, address: Address, result: ProviderResult) -> str:
        cluster = self.session.workspace.kubernetes or "the AKS cluster"
        parts = urlparse(result.provider_id).path.strip("/").split("/")
        namespace = parts[parts.index("namespaces") + 1] if "namespaces" in parts[:-2] else ""
        kind = _KIND_OF_PLURAL.get(parts[-2], "") if len(parts) >= 2 else ""
        if kind == "Namespace":
            namespace = ""
        if not kind:
            return f"Kubernetes object {printable(str(address))} on {printable(cluster)}"
        ref = ObjectRef("", kind, namespace, parts[-1])
        return printable(f"{ref.shown} on {cluster}", 300)

    # --- objects -------------------------------------------------------------------------------------

    def manifest_of(self, address: Address, provider_type: str, properties: Any) -> dict[str, Any]:
        """The object to apply: the payload, with its apiVersion and kind (the provider type's), its
        name (the address's) and namespace (``default``) filled in where it has none, and mlspec's
        ``app.kubernetes.io/managed-by`` label (the compiler sets it already)."""
        manifest = copy.deepcopy(properties) if isinstance(properties, dict) else {}
        api_version, kind = _parse_type(provider_type) or ("", "")
        manifest.setdefault("apiVersion", api_version)
        manifest.setdefault("kind", kind)
        metadata = manifest.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise ProviderError(address, "the object's metadata is not a mapping")
        metadata.setdefault("name", address.name)
        spec = KINDS.get((str(manifest["apiVersion"]), str(manifest["kind"])))
        if spec is not None and spec.namespaced:
            metadata.setdefault("namespace", "default")
        labels = metadata.setdefault("labels", {})
        if isinstance(labels, dict):
            labels.setdefault(MANAGED_BY, FIELD_MANAGER)
        return manifest

    def ref_of(self, address: Address, provider_type: str, properties: Any) -> ObjectRef:
        """Which object ``properties`` (of ``provider_type``) is; a kind this module does not know, or
        a payload whose apiVersion or kind is not its provider type's, is refused."""
        parsed = _parse_type(provider_type)
        if parsed is None or parsed not in KINDS:
            raise ProviderError(
                address,
                f"the Azure provider cannot deploy {provider_type} yet",
                f"it deploys these Kubernetes kinds: {', '.join(f'{v}/{k}' for v, k in sorted(KINDS))}",
            )
        manifest = properties if isinstance(properties, dict) else {}
        api_version = str(manifest.get("apiVersion") or parsed[0])
        kind = str(manifest.get("kind") or parsed[1])
        if (api_version, kind) != parsed:
            raise ProviderError(
                address,
                f"the object is a {api_version}/{kind}, not the {parsed[0]}/{parsed[1]} its provider type names",
                "build again: the manifest and its Kubernetes file disagree",
            )
        metadata = manifest.get("metadata") if isinstance(manifest.get("metadata"), dict) else {}
        name = str((metadata or {}).get("name") or address.name)
        namespace = ""
        if KINDS[parsed].namespaced:
            namespace = str((metadata or {}).get("namespace") or "default")
        return ObjectRef(api_version, kind, namespace, name)

    def provider_id(self, ref: ObjectRef) -> str:
        return f"{self.cluster.server}{ref.path}"

    # --- the cluster -----------------------------------------------------------------------------------

    @property
    def cluster(self) -> Cluster:
        """The cluster's server and a client for it, made on first use from the AKS user credentials
        (once per provider, whichever of apply's threads asks first)."""
        with self._lock:
            if self._cluster is None:
                self._cluster = self._connect()
            return self._cluster

    def _connect(self) -> Cluster:
        from kubernetes.client import ApiClient, Configuration  # type: ignore[import-untyped, import-not-found, unused-ignore]

        workspace = self.session.workspace
        name = workspace.require("kubernetes", "deploying Kubernetes objects")
        server, ca_pem = server_and_ca(self._kubeconfig(name), name)
        configuration = Configuration()
        configuration.host = server
        configuration.verify_ssl = True
        api = ApiClient(configuration)
        # The CA travels as data, not as a file the client would need on disk: the client's pool
        # manager is replaced by one that verifies against it.
        api.rest_client.pool_manager = _pool_manager(ca_pem, server)
        return Cluster(name, server, api)

    def _kubeconfig(self, cluster: str) -> Any:
        from azure.core.exceptions import HttpResponseError
        from azure.mgmt.containerservice import ContainerServiceClient

        workspace = self.session.workspace
        client = ContainerServiceClient(
            self.session.credential, workspace.subscription_id, **self.session.client_options
        )
        try:
            answer = client.managed_clusters.list_cluster_user_credentials(
                workspace.resource_group, cluster, cls=raw_json
            )
        except HttpResponseError as exc:
            raise azure_error(
                f"AKS cluster {cluster}",
                "reading its user credentials",
                exc,
                f"{CREDENTIALS_ROLE} on {cluster}",
            ) from None
        configs = answer.get("kubeconfigs") if isinstance(answer, dict) else None
        value = configs[0].get("value") if configs and isinstance(configs[0], dict) else None
        if not value:
            raise ProviderError(f"AKS cluster {cluster}", "Azure returned no kubeconfig for the cluster")
        import yaml

        try:
            return yaml.safe_load(base64.b64decode(str(value)))
        except (ValueError, yaml.YAMLError):
            raise ProviderError(
                f"AKS cluster {cluster}", "the kubeconfig Azure returned is not base64-encoded YAML"
            ) from None

    def _authorization(self, address: Address | str) -> str:
        """``Bearer <token>`` for the AKS server application, a new token when this one nears expiry."""
        from azure.core.exceptions import ClientAuthenticationError

        with self._lock:
            token = self._token
            if token is None or float(token.expires_on) - TOKEN_REFRESH_MARGIN <= time.time():
                try:
                    token = self.session.credential.get_token(AKS_SERVER_SCOPE)
                except ClientAuthenticationError as exc:
                    raise azure_error(address, "signing in to the cluster", exc) from None
                self._token = token
        return f"Bearer {token.token}"

    # --- requests ----------------------------------------------------------------------------------------

    def _call(
        self,
        address: Address,
        action: str,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "",
        missing_ok: bool = False,
    ) -> Any:
        """The API server's JSON answer to one request (``None`` for a 404 when ``missing_ok``)."""
        from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped, import-not-found, unused-ignore]
        from urllib3.exceptions import HTTPError

        cluster = self.cluster
        headers = {"Accept": "application/json", "Authorization": self._authorization(address)}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = cluster.api.call_api(
                path,
                method,
                query_params=list((query or {}).items()),
                header_params=headers,
                body=body,
                auth_settings=[],
                _preload_content=False,  # the body as the server sent it: no model between
                _return_http_data_only=True,  # the response alone (kubernetes 31-33 return a tuple else)
                _request_timeout=REQUEST_TIMEOUT,
            )
        except ApiException as exc:
            if missing_ok and exc.status == 404:
                return None
            raise kubernetes_error(address, action, exc, cluster.name) from None
        except HTTPError as exc:
            cause = type(getattr(exc, "reason", None) or exc).__name__  # a MaxRetryError's reason
            raise ProviderError(
                address,
                f"{action} failed: cannot reach the API server of {cluster.name} ({cause})",
                "the API server's certificate is not signed by the CA of the cluster's kubeconfig (a proxy "
                "that intercepts TLS?): check the network path to the cluster"
                if "SSL" in cause
                else "check that this machine can reach the cluster's API server (a private cluster needs "
                "its network, and authorized IP ranges must include this machine), then apply again",
            ) from None
        data = response.data
        release = getattr(response, "release_conn", None)
        if callable(release):
            release()
        try:
            return json.loads(data) if data else {}
        except ValueError:
            return {}

    def _get(self, address: Address, ref: ObjectRef) -> dict[str, Any] | None:
        found = self._call(address, "read", "GET", ref.path, missing_ok=True)
        return found if isinstance(found, dict) or found is None else {}

    def _apply(self, address: Address, ref: ObjectRef, manifest: dict[str, Any]) -> ProviderResult:
        self._call(
            address,
            "apply",
            "PATCH",
            ref.path,
            {"fieldManager": FIELD_MANAGER, "force": "true"},
            manifest,
            APPLY_CONTENT_TYPE,
        )
        if ref.kind == "Deployment":
            self._wait_for_rollout(address, ref, manifest)
        return ProviderResult(self.provider_id(ref))

    def _adopt_or_repair(
        self, address: Address, ref: ObjectRef, found: dict[str, Any], manifest: dict[str, Any]
    ) -> bool:
        """Whether ``found``, at the name create applies to, is to be applied over: true when mlspec
        made it for this project and environment (the retry of an interrupted apply: re-applied, which
        repairs any drift); false when it is identical to ``manifest`` but not shown to be mlspec's
        (adopted as it is). Any other object is refused."""
        why = self._not_ours_to_delete(found, manifest)
        same = live_as_sent(ref.kind, found, manifest) == manifest
        labels = _labels(found)
        if not why and (same or any(label in labels for label in (PART_OF, ENVIRONMENT))):
            # mlspec's, and this project's and environment's where its labels say whose (the compiler
            # sets them on every object): re-applied. One labelled only managed-by (a payload without
            # the compiler's labels) names no project, so only an identical one is taken as the retry.
            return True
        if same:
            return False
        where = f"{ref.shown} on {self.cluster.name}"
        if not why:
            why = f"labelled {MANAGED_BY}: {FIELD_MANAGER} only, naming no project or environment"
        if labels.get(MANAGED_BY) != FIELD_MANAGER:
            raise ProviderError(
                address,
                f"{where} already exists and mlspec did not make it ({printable(why, 120)}); "
                "applying this one would take it over",
                "mlspec has no `import`: to let mlspec own it, delete it (kubectl delete) or give the spec's "
                "object another name and apply again; to keep it, remove it from the spec",
            )
        raise ProviderError(
            address,
            f"another {where} already exists, differs from this one and is not this project's and "
            f"environment's ({printable(why, 160)}); applying would overwrite it",
            "mlspec has no `import`: to let mlspec own it, delete it (kubectl delete) and apply again; to "
            "keep it, apply the spec that made it",
        )

    # --- waits -------------------------------------------------------------------------------------------

    def _wait_for_rollout(self, address: Address, ref: ObjectRef, manifest: Mapping[str, Any]) -> None:
        """Poll the Deployment until its rollout completed (as ``kubectl rollout status`` judges). It
        fails when the controller reports the progress deadline exceeded, or when the rollout made no
        progress (no replica updated, ready or available) for the Deployment's
        ``progressDeadlineSeconds`` (600 s when it sets none): a rollout of many replicas with slow
        start-up probes may take longer than that in all, and still be healthy."""
        spec = manifest.get("spec") if isinstance(manifest.get("spec"), dict) else {}
        deadline_seconds = (spec or {}).get("progressDeadlineSeconds")
        timeout = (
            float(deadline_seconds)
            if isinstance(deadline_seconds, (int, float)) and deadline_seconds > 0
            else DEFAULT_ROLLOUT_TIMEOUT
        )
        deadline = self.clock() + timeout
        last: tuple[Any, ...] | None = None
        while True:
            live = self._get(address, ref)
            if live is None:
                raise ProviderError(
                    address,
                    f"{ref.shown} was deleted while mlspec waited for its rollout",
                    "something else deletes it: find what, then apply again",
                )
            done, waiting = rollout_progress(live)
            if done:
                return
            failed = _condition(live, "Progressing")
            if failed and failed.get("reason") == "ProgressDeadlineExceeded":
                raise self._rollout_error(address, ref, live, "failed", waiting)
            status = live.get("status") or {}
            counts = tuple(
                status.get(key)
                for key in (
                    "observedGeneration",
                    "replicas",
                    "updatedReplicas",
                    "readyReplicas",
                    "availableReplicas",
                )
            )
            if last is not None and counts != last:
                deadline = self.clock() + timeout  # it moved on: the deadline counts from now
            last = counts
            if self.clock() >= deadline:
                raise self._rollout_error(address, ref, live, f"made no progress for {timeout:g} s", waiting)
            self.sleep(self.poll_interval)

    def _rollout_error(
        self, address: Address, ref: ObjectRef, live: Mapping[str, Any], what: str, waiting: str
    ) -> ProviderError:
        reasons = [waiting] if waiting else []
        for kind in ("Progressing", "ReplicaFailure", "Available"):
            condition = _condition(live, kind)
            if condition and (kind != "Available" or condition.get("status") != "True"):
                text = " ".join(str(condition.get("message") or "").split())
                reasons.append(
                    f"{kind}: {condition.get('reason') or condition.get('status')}: {text}".rstrip(": ")
                )
        shown = "; ".join(reasons) or "no status reported"
        namespace = f"-n {ref.namespace} " if ref.namespace else ""
        return ProviderError(
            address,
            printable(redact(f"the rollout of {ref.shown} on {self.cluster.name} {what}: {shown}"), 600),
            f"`kubectl {namespace}describe deployment {ref.name}` and `kubectl {namespace}get events` show why "
            "its new pods do not become ready; the object is applied, and the next apply waits for it again",
        )

    def _wait_gone(self, address: Address, ref: ObjectRef) -> None:
        """Poll until the object is gone (a foreground delete finishes after its dependants)."""
        deadline = self.clock() + self.delete_timeout
        while True:
            live = self._get(address, ref)
            if live is None:
                return
            if self.clock() >= deadline:
                finalizers = (live.get("metadata") or {}).get("finalizers") or []
                waiting = f" (finalizers: {', '.join(map(str, finalizers))})" if finalizers else ""
                raise ProviderError(
                    address,
                    printable(
                        f"{ref.shown} on {self.cluster.name} is still being deleted after "
                        f"{self.delete_timeout:g} s{waiting}",
                        400,
                    ),
                    "its dependants or finalizers hold it: `kubectl get` it to see why, then apply again",
                )
            self.sleep(self.poll_interval)


# --- helpers -------------------------------------------------------------------------------------------


def _parse_type(provider_type: str) -> tuple[str, str] | None:
    """``kubernetes:apps/v1/Deployment`` -> ``("apps/v1", "Deployment")``."""
    if not provider_type.startswith(PREFIX):
        return None
    api_version, _, kind = provider_type.removeprefix(PREFIX).rpartition("/")
    return (api_version, kind) if api_version and kind else None


def server_and_ca(kubeconfig: Any, cluster: str) -> tuple[str, str]:
    """The server URL and CA certificate (PEM) of the kubeconfig's current context's cluster."""
    config = kubeconfig if isinstance(kubeconfig, dict) else {}
    clusters = [c for c in config.get("clusters") or [] if isinstance(c, dict)]
    wanted = ""
    current = config.get("current-context")
    for context in config.get("contexts") or []:
        if isinstance(context, dict) and context.get("name") == current:
            wanted = str((context.get("context") or {}).get("cluster") or "")
    chosen = next((c for c in clusters if c.get("name") == wanted), clusters[0] if clusters else {})
    details = chosen.get("cluster") if isinstance(chosen.get("cluster"), dict) else {}
    server = str((details or {}).get("server") or "").rstrip("/")
    if not server.startswith("https://"):
        raise ProviderError(
            f"AKS cluster {cluster}", "the kubeconfig Azure returned names no https:// API server"
        )
    ca_data = (details or {}).get("certificate-authority-data")
    try:
        ca_pem = base64.b64decode(str(ca_data)).decode("ascii") if ca_data else ""
    except ValueError:
        raise ProviderError(
            f"AKS cluster {cluster}", "the kubeconfig's certificate-authority-data is not base64 PEM"
        ) from None
    return server, ca_pem


def _pool_manager(ca_pem: str, server: str) -> Any:
    """A urllib3 pool manager that verifies the API server against the cluster's CA (the system's
    when the kubeconfig has none), through the ``https_proxy`` of the environment unless ``no_proxy``
    names the server (as the Azure SDK's requests do for Resource Manager)."""
    import urllib.request

    import urllib3

    tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"}
    if ca_pem:
        tls["ca_cert_data"] = ca_pem
    else:
        import certifi

        tls["ca_certs"] = certifi.where()
    proxy = urllib.request.getproxies().get("https")
    if proxy and not urllib.request.proxy_bypass(urlparse(server).hostname or ""):
        return urllib3.ProxyManager(proxy, num_pools=4, maxsize=POOL_SIZE, **tls)
    return urllib3.PoolManager(num_pools=4, maxsize=POOL_SIZE, **tls)


def adopted(current: ResourceState) -> bool:
    """Whether the state records the object as adopted (:data:`ADOPTED`)."""
    return str((current.outputs or {}).get(ADOPTED, "")).lower() == "true"


def _labels(obj: Any) -> dict[str, Any]:
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    return dict(labels) if isinstance(labels, Mapping) else {}


def live_as_sent(kind: str, live: Any, sent: Any) -> Any:
    """``live`` cut down to the shape of ``sent`` (:func:`as_sent`), with each quantity field of the
    kind (:data:`QUANTITY_FIELDS`) whose value equals the sent one's in the form it was sent in: the
    API server stores ``0.5`` as ``500m``, which is not a change."""
    seen = as_sent(live, sent)
    for path in QUANTITY_FIELDS.get(kind, ()):
        _quantities_as_sent(seen, sent, path)
    return seen


def _quantities_as_sent(seen: Any, sent: Any, path: Sequence[str]) -> None:
    """Follow ``path`` in ``seen`` and ``sent`` together; at its end, put the sent text in ``seen``
    where the two are equal quantities. ``seen`` is :func:`as_sent`'s copy, never the live object."""
    key, rest = path[0], path[1:]
    keys: list[Any]
    if isinstance(seen, dict) and isinstance(sent, dict):
        keys = [k for k in (list(sent) if key == "*" else [key]) if k in sent and k in seen]
    elif isinstance(seen, list) and isinstance(sent, list) and key == "*":
        keys = list(range(min(len(seen), len(sent))))
    else:
        return
    for k in keys:
        if rest:
            _quantities_as_sent(seen[k], sent[k], rest)
        elif seen[k] != sent[k] and same_quantity(seen[k], sent[k]):
            seen[k] = sent[k]


# k8s.io/apimachinery's resource.Quantity: a signed decimal number, then a binary (Ki..Ei), decimal SI
# (n, u, m, k, M..E) or exponent (e3, E-3) suffix. ``1E`` is an exa; ``1E3`` a thousand.
_QUANTITY = re.compile(
    r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))((?:[KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]{1,3})?"
)
_BINARY_POWERS = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_EXPONENTS = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_MAX_QUANTITY_CHARS = 64


def quantity_value(value: Any) -> Fraction | None:
    """The exact number a Kubernetes quantity stands for (``"500m"``, ``"0.5"`` and ``0.5`` → 1/2,
    ``"1Gi"`` and ``"1024Mi"`` → 2**30), ``None`` when ``value`` is not one.

    Not ``kubernetes.utils.quantity.parse_quantity``: it parses every form, but takes what is no
    quantity too (``1K``, ``1mi`` as 1/1024, ``NaN``, ``Infinity``, ``" 1"``, ``1_000``), reads a float
    through its binary value (``0.1`` is not ``100m`` to it), rounds in the caller's decimal context,
    and would load the client SDK for a comparison; the spec's own parser is not the providers' to
    import (``tests/test_layering.py``). A JSON number is read as the text it prints as."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value)
    match = _QUANTITY.fullmatch(text) if len(text) <= _MAX_QUANTITY_CHARS else None
    if match is None:
        return None
    number, suffix = Fraction(match[1]), match[2] or ""
    if suffix in _BINARY_POWERS:
        return number * (1 << _BINARY_POWERS[suffix])
    if suffix in _DECIMAL_EXPONENTS:  # before the exponent: ``E`` alone is an exa
        return number * Fraction(10) ** _DECIMAL_EXPONENTS[suffix]
    return number * Fraction(10) ** int(suffix[1:])


def same_quantity(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are both quantities, of the same value."""
    value = quantity_value(a)
    return value is not None and value == quantity_value(b)


def _terminating(live: Mapping[str, Any]) -> bool:
    return bool((live.get("metadata") or {}).get("deletionTimestamp"))


def _condition(live: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    for condition in (live.get("status") or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == kind:
            return condition
    return None


def rollout_progress(live: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether a Deployment's rollout completed and, when not, what it waits for: the controller has
    seen the newest generation, every replica runs the new template, no old one is left, and all are
    available."""
    metadata = live.get("metadata") or {}
    spec = live.get("spec") or {}
    status = live.get("status") or {}
    generation = int(metadata.get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    if observed < generation:
        return False, f"the controller has not observed generation {generation} yet (it saw {observed})"
    replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < replicas:
        return False, f"{updated} of {replicas} replicas updated"
    if total > updated:
        return False, f"{total - updated} old replica(s) pending termination"
    if available < replicas:
        return False, f"{available} of {replicas} updated replicas available"
    return True, ""


def kubernetes_error(address: Address | str, action: str, exc: Any, cluster: str) -> ProviderError:
    """The one-line :class:`ProviderError` for a Kubernetes ``ApiException``: the status, the Status
    object's reason and message, and what to do."""
    status = getattr(exc, "status", None) or 0
    reason = str(getattr(exc, "reason", "") or "")
    message = ""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(body) if isinstance(body, str) and body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        reason = str(parsed.get("reason") or reason)
        message = str(parsed.get("message") or "")
    head = f"{status} on {action}" if status else f"{action} failed"
    if reason:
        head += f" ({printable(' '.join(reason.split()), 80)})"
    text = printable(redact(" ".join((message or reason or type(exc).__name__).split())), MAX_MESSAGE_CHARS)
    hint: str | None = None
    if status in (401, 403):
        hint = (
            f"the deploying identity needs {WRITER_ROLE} on {cluster} (namespaces and custom resources "
            "such as SecretProviderClass need Azure Kubernetes Service RBAC Cluster Admin, or a custom "
            "role); `mlspec doctor --env NAME` lists the roles to deploy"
        )
    elif status == 404:
        hint = "its namespace, or the custom resource's definition (CRD), does not exist in the cluster"
    elif status == 409:
        hint = "another change to the object is under way: apply again"
    elif status == 422:
        hint = "the API server rejected the object; a field that cannot change needs a replace (delete, then apply)"
    elif status == 429 or status >= 500:
        hint = "the API server refused (throttled or unavailable): apply again later"
    elif not status:
        hint = (
            "the API server could not be reached securely: check the network path to it, and that the "
            "cluster's CA (from its kubeconfig) signs its certificate"
        )
    return ProviderError(address, f"{head}: {text}", hint)
