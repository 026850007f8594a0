"""A fake of what the Kubernetes provider module talks to: the AKS user-credentials call of Resource
Manager (a transport for the Azure SDK's own pipeline) and a Kubernetes API server (a urllib3 pool
manager for the ``kubernetes`` client's own REST client).

The API server keeps objects by REST path and answers as a real one does, in the shapes of the
Kubernetes API reference: ``GET`` (a ``404`` ``Status`` for a missing object), server-side apply
(``PATCH`` of ``application/apply-patch+yaml`` with a ``fieldManager``: the fields this manager applied
before and no longer applies go, fields other managers set stay; a namespaced object needs its
namespace), ``DELETE`` (its ``DeleteOptions`` from the body when there is one, else from the query,
as the API server reads them; a ``preconditions.uid`` that is not the object's is a ``409``; the object
lingers with a ``deletionTimestamp`` for as many reads as a test says, as a foreground delete does). It
adds what a server adds (``uid``, ``resourceVersion``, ``generation``, ``managedFields``, defaults,
``status``), stores a Deployment's resource quantities in their canonical form (``0.5`` as ``500m``,
``1024Mi`` as ``1Gi``: :func:`canonical_quantity`), and a Deployment's status becomes ready after the
number of reads a test sets (or never, or with a progress deadline exceeded). It checks the bearer token
(``401`` otherwise). Every request is recorded; :meth:`FakeApiServer.fail_next` answers the next
matching ones with an error ``Status``.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import math
import re
import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlparse

import urllib3
import yaml

from tests.azure_http import ScriptedTransport
from tests.providers.azure_fake import FakeAzure

SERVER = "https://aks-ml-prod-dns-5f2a1c3e.hcp.westeurope.azmk8s.io:443"
CA_PEM = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIE6DCCAtCgAwIBAgIQFakeFakeFakeFakeFakeFakeFakeDANBgkqhkiG9w0BAQsF\n"
    "-----END CERTIFICATE-----\n"
)
_PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<namespace>[^/]+))?/(?P<plural>[^/]+)/(?P<name>[^/]+)$"
)


# --- Resource Manager: the cluster's user credentials ----------------------------------------------------


@dataclass
class Clock:
    """``time.monotonic`` and ``time.sleep`` for a test: sleeping moves the clock on at once."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def kubeconfig(cluster: str, server: str = SERVER, ca_pem: str = CA_PEM) -> dict[str, Any]:
    """The user kubeconfig AKS returns for an Entra-ID cluster: its user runs ``kubelogin``."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode(),
                },
            }
        ],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": f"clusterUser_rg_{cluster}"}}],
        "current-context": cluster,
        "users": [
            {
                "name": f"clusterUser_rg_{cluster}",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "kubelogin",
                        "args": ["get-token", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"],
                    }
                },
            }
        ],
    }


class FakeAks(ScriptedTransport):
    """``listClusterUserCredential`` of one cluster, as a transport: ``status`` other than 200 answers
    with an Azure error body."""

    def __init__(self, subscription: str, resource_group: str, cluster: str, config: Any = None) -> None:
        super().__init__(self._handle)
        self.path = (
            f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/"
            f"Microsoft.ContainerService/managedClusters/{cluster}/listClusterUserCredential"
        )
        self.config = kubeconfig(cluster) if config is None else config
        self.status = 200

    def _handle(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        url = urlparse(request.url)
        headers = {"Content-Type": "application/json"}
        if self.status != 200:
            error = {
                "error": {"code": "AuthorizationFailed", "message": "The client does not have authorization"}
            }
            return self.status, headers, json.dumps(error).encode()
        if request.method != "POST" or url.path != self.path:
            error = {"error": {"code": "NotFound", "message": f"{request.method} {url.path} is not served"}}
            return 404, headers, json.dumps(error).encode()
        value = base64.b64encode(yaml.safe_dump(self.config).encode()).decode()
        return 200, headers, json.dumps({"kubeconfigs": [{"name": "clusterUser", "value": value}]}).encode()


class FakeAzureWithAks(FakeAzure):
    """:class:`FakeAzure` that also serves one cluster's ``listClusterUserCredential``: the transport of
    a whole Azure provider whose Kubernetes objects go to a :class:`FakeApiServer`."""

    def __init__(self, subscription: str, resource_group: str, cluster: str) -> None:
        super().__init__(subscription, resource_group)
        self.aks_path = (
            f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/"
            f"Microsoft.ContainerService/managedClusters/{cluster}/listClusterUserCredential"
        )
        self.kubeconfig = kubeconfig(cluster)

    def _arm(self, method: str, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        if method == "POST" and path.lower() == self.aks_path.lower():
            value = base64.b64encode(yaml.safe_dump(self.kubeconfig).encode()).decode()
            return 200, {}, {"kubeconfigs": [{"name": "clusterUser", "value": value}]}
        return super()._arm(method, path, body)


# --- the API server -----------------------------------------------------------------------------------


@dataclass
class K8sRequest:
    """One request as the ``kubernetes`` client sent it."""

    method: str
    host: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


@dataclass
class _Failure:
    method: str
    path_pattern: str
    status: int
    reason: str
    message: str
    times: int


@dataclass
class Rollout:
    """How a Deployment's rollout goes: ready after ``ready_after`` reads (``None``: never); with
    ``deadline_after`` the Progressing condition turns ProgressDeadlineExceeded after that many."""

    ready_after: int | None = 0
    deadline_after: int | None = None
    creeping: bool = False
    """One more replica available at each read (a slow but healthy rollout) until it is ready."""
    reads: int = 0


@dataclass
class FakeApiServer:
    """An in-memory API server, standing in for the ``kubernetes`` client's urllib3 pool manager."""

    server: str = SERVER
    token: str = "k8s-token-1"
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> mlspec's last apply
    rollouts: dict[str, Rollout] = field(default_factory=dict)
    linger: dict[str, int] = field(default_factory=dict)  # path -> reads a deleted object stays
    requests: list[K8sRequest] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    _version: int = 100

    # --- what tests use ---------------------------------------------------------------------------

    def fail_next(
        self, method: str, path_pattern: str, status: int, reason: str, message: str, times: int = 1
    ) -> None:
        self.failures.append(_Failure(method, path_pattern, status, reason, message, times))

    def sent(self, method: str | None = None) -> list[K8sRequest]:
        return [r for r in self.requests if method is None or r.method == method]

    def put(self, path: str, obj: dict[str, Any]) -> None:
        """An object made by someone else (kubectl, another tool), as the server would store it."""
        self.objects[path] = self._stored(path, copy.deepcopy(obj), None)

    # --- the pool manager protocol ------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        fields: Any = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        preload_content: bool = True,
        timeout: Any = None,
        **kwargs: Any,
    ) -> urllib3.HTTPResponse:
        parsed = urlparse(url)
        query = dict(parse_qsl(parsed.query))
        if fields:  # a GET's query travels as fields
            query.update(
                {str(k): str(v) for k, v in (fields.items() if isinstance(fields, dict) else fields)}
            )
        raw = body.decode() if isinstance(body, bytes) else body
        recorded = K8sRequest(
            method,
            parsed.netloc,
            unquote(parsed.path),
            query,
            dict(headers or {}),
            json.loads(raw) if raw else None,
        )
        self.requests.append(recorded)
        status, answer = self._answer(recorded)
        data = json.dumps(answer).encode()
        return urllib3.HTTPResponse(
            body=io.BytesIO(data),
            headers={"Content-Type": "application/json", "Content-Length": str(len(data))},
            status=status,
            reason=_REASONS.get(status, "Error"),
            preload_content=preload_content,
        )

    def clear(self) -> None:
        pass

    # --- the server ---------------------------------------------------------------------------------

    def _answer(self, request: K8sRequest) -> tuple[int, Any]:
        if f"https://{request.host}" != self.server:
            return 404, _status(404, "NotFound", f"no API server at {request.host}")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, _status(401, "Unauthorized", "Unauthorized")
        for failure in self.failures:
            if (
                failure.times > 0
                and failure.method == request.method
                and re.search(failure.path_pattern, request.path)
            ):
                failure.times -= 1
                return failure.status, _status(failure.status, failure.reason, failure.message)
        match = _PATH.match(request.path)
        if not match:
            return 404, _status(404, "NotFound", "the server could not find the requested resource")
        name = f'{match["plural"]} "{match["name"]}"'
        if request.method == "GET":
            return self._get(request.path, name)
        if request.method == "PATCH":
            return self._apply(request, match, name)
        if request.method == "DELETE":
            return self._delete(request, name)
        return 405, _status(405, "MethodNotAllowed", f"{request.method} is not served here")

    def _get(self, path: str, name: str) -> tuple[int, Any]:
        found = self.objects.get(path)
        if found is None:
            return 404, _status(404, "NotFound", f"{name} not found")
        if path in self.linger and found["metadata"].get("deletionTimestamp"):  # gone after that many reads
            if self.linger[path] <= 0:
                del self.objects[path], self.linger[path]
                return 404, _status(404, "NotFound", f"{name} not found")
            self.linger[path] -= 1
        if found.get("kind") == "Deployment":
            self._progress(path, found)
        return 200, copy.deepcopy(found)

    def _apply(self, request: K8sRequest, match: re.Match[str], name: str) -> tuple[int, Any]:
        if request.content_type != "application/apply-patch+yaml":
            return 415, _status(415, "UnsupportedMediaType", f"the body of type {request.content_type}")
        manager = request.query.get("fieldManager")
        if not manager:
            return 400, _status(400, "BadRequest", "PATCH with apply requires a fieldManager")
        body = request.body
        metadata = body.get("metadata") or {}
        if metadata.get("name") != match["name"] or (metadata.get("namespace") or None) != match["namespace"]:
            return 400, _status(
                400, "BadRequest", "the name of the object does not match the name on the URL"
            )
        namespace = match["namespace"]
        if namespace and f"/api/v1/namespaces/{namespace}" not in self.objects:
            return 404, _status(404, "NotFound", f'namespaces "{namespace}" not found')
        current = self.objects.get(request.path)
        if current is not None and current["metadata"].get("deletionTimestamp"):
            return 409, _status(409, "Conflict", f"{name} is being deleted")
        foreign = copy.deepcopy(current) if current is not None else {}
        previous = self.applied.get(request.path)
        if previous is not None:
            _prune(foreign, previous)
        merged = _merge(foreign, copy.deepcopy(body))
        self.applied[request.path] = copy.deepcopy(body)
        stored = self._stored(request.path, merged, current)
        self.objects[request.path] = stored
        return (200 if current is not None else 201), copy.deepcopy(stored)

    def _delete(self, request: K8sRequest, name: str) -> tuple[int, Any]:
        found = self.objects.get(request.path)
        if found is None:
            return 404, _status(404, "NotFound", f"{name} not found")
        # The API server reads DeleteOptions from the body when there is one; the query only otherwise.
        options: dict[str, Any] = request.body if isinstance(request.body, dict) else dict(request.query)
        preconditions = options.get("preconditions")
        wanted = preconditions.get("uid") if isinstance(preconditions, dict) else None
        uid = found["metadata"].get("uid")
        if wanted and wanted != uid:
            return 409, _status(
                409,
                "Conflict",
                f"Operation cannot be fulfilled on {name}: Precondition failed: UID in precondition: "
                f"{wanted}, UID in object meta: {uid}",
            )
        self.applied.pop(request.path, None)
        if self.linger.get(request.path, 0) > 0:
            found["metadata"]["deletionTimestamp"] = "2026-12-02T10:00:00Z"
            if options.get("propagationPolicy") == "Foreground":
                found["metadata"]["finalizers"] = ["foregroundDeletion"]
            return 200, copy.deepcopy(found)
        del self.objects[request.path]
        return 200, _status(200, "", "", success=True)

    def _stored(self, path: str, obj: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        """``obj`` as the server keeps it: its defaults, metadata and status."""
        kind = obj.get("kind")
        metadata = obj.setdefault("metadata", {})
        if kind == "Namespace":
            metadata.setdefault("labels", {})["kubernetes.io/metadata.name"] = metadata.get("name")
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        if kind == "Service":
            spec = obj.setdefault("spec", {})
            spec.setdefault("clusterIP", "10.0.143.7")
            spec.setdefault("sessionAffinity", "None")
            for port in spec.get("ports") or []:
                if spec.get("type") == "LoadBalancer":
                    port.setdefault("nodePort", 31380)
        if kind == "Deployment":
            spec = obj.setdefault("spec", {})
            spec.setdefault("replicas", 1)
            pod = (spec.get("template") or {}).get("spec") or {}
            for container in pod.get("containers") or []:
                container.setdefault("terminationMessagePath", "/dev/termination-log")
                container.setdefault("imagePullPolicy", "IfNotPresent")
            _canonical_pod_quantities(pod)
        self._version += 1
        old_meta = (current or {}).get("metadata") or {}
        metadata["uid"] = old_meta.get("uid") or str(uuid.uuid5(uuid.NAMESPACE_URL, path))
        metadata["resourceVersion"] = str(self._version)
        metadata["creationTimestamp"] = old_meta.get("creationTimestamp") or "2026-12-02T09:00:00Z"
        spec_changed = current is None or current.get("spec") != obj.get("spec")
        generation = int(old_meta.get("generation") or 0)
        metadata["generation"] = generation + 1 if spec_changed else generation
        metadata["managedFields"] = [
            {"manager": "mlspec", "operation": "Apply", "apiVersion": obj.get("apiVersion")}
        ]
        if kind == "Deployment":
            status = copy.deepcopy((current or {}).get("status") or {})
            status.setdefault("observedGeneration", generation)
            if spec_changed:
                status["updatedReplicas"] = 0
                self.rollouts.setdefault(path, Rollout()).reads = 0
            obj["status"] = status
        return obj

    def _progress(self, path: str, deployment: dict[str, Any]) -> None:
        """A read of a Deployment: the controller moves its status on, as the test scripted."""
        rollout = self.rollouts.setdefault(path, Rollout())
        replicas = int(deployment["spec"].get("replicas", 1))
        status = deployment["status"]
        name = deployment["metadata"]["name"]
        if rollout.ready_after is not None and rollout.reads >= rollout.ready_after:
            status.update(
                observedGeneration=deployment["metadata"]["generation"],
                replicas=replicas,
                updatedReplicas=replicas,
                readyReplicas=replicas,
                availableReplicas=replicas,
                conditions=[
                    _condition(
                        "Available",
                        "True",
                        "MinimumReplicasAvailable",
                        "Deployment has minimum availability.",
                    ),
                    _condition(
                        "Progressing",
                        "True",
                        "NewReplicaSetAvailable",
                        f'ReplicaSet "{name}-7d4b9c" has successfully progressed.',
                    ),
                ],
            )
        else:
            progressing = _condition(
                "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{name}-7d4b9c" is progressing.'
            )
            if rollout.deadline_after is not None and rollout.reads >= rollout.deadline_after:
                progressing = _condition(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{name}-7d4b9c" has timed out progressing.',
                )
            status.update(
                observedGeneration=deployment["metadata"]["generation"],
                replicas=replicas,
                updatedReplicas=replicas if rollout.creeping else min(1, replicas),
                availableReplicas=min(rollout.reads, replicas - 1) if rollout.creeping else 0,
                conditions=[
                    _condition(
                        "Available",
                        "False",
                        "MinimumReplicasUnavailable",
                        "Deployment does not have minimum availability.",
                    ),
                    progressing,
                ],
            )
        rollout.reads += 1


_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
}


def _status(code: int, reason: str, message: str, success: bool = False) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if success else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _condition(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message}


# --- quantities, as k8s.io/apimachinery's resource.Quantity stores them ----------------------------------

_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))((?:[KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]+)?")
_BINARY_POWERS = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_EXPONENTS = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def canonical_quantity(value: Any) -> Any:
    """``value`` as the API server returns a quantity it stored (``Quantity.String``): the format its
    suffix chose (binary, decimal SI or exponent; a binary value under 1024 or not whole is written as
    decimal SI), precision below ``1n`` rounded up, no fraction digits, the largest exponent that loses
    nothing: ``0.5`` → ``500m``, ``1024Mi`` → ``1Gi``, ``1.5Gi`` → ``1536Mi``, ``2000m`` → ``2``, ``1000``
    → ``1k``, ``1e3`` stays. A JSON number is read as its text; anything else is left as it is."""
    text = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
    match = _QUANTITY.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return value
    number, suffix = Fraction(match[1]), match[2] or ""
    if suffix in _BINARY_POWERS:
        amount, form = number * 2 ** _BINARY_POWERS[suffix], "binary"
    elif suffix in _DECIMAL_EXPONENTS:  # ``E`` alone is an exa, ``E3`` an exponent
        amount, form = number * Fraction(10) ** _DECIMAL_EXPONENTS[suffix], "decimal"
    else:
        amount, form = number * Fraction(10) ** int(suffix[1:]), "exponent"
    nanos = math.ceil(abs(amount) * 10**9)
    sign = "-" if amount < 0 and nanos else ""
    whole = Fraction(nanos, 10**9)
    if form == "binary" and (whole < 1024 or whole.denominator != 1):
        form = "decimal"
    if form == "binary":
        mantissa, power = int(whole), 0
        while mantissa % 1024 == 0 and power < 60:
            mantissa, power = mantissa // 1024, power + 10
        suffix = {power: name for name, power in _BINARY_POWERS.items()}.get(power, "")
        return f"{sign}{mantissa}{suffix}"
    if nanos == 0:
        return "0"
    mantissa, exponent = nanos, -9
    while mantissa % 1000 == 0 and exponent < 18:
        mantissa, exponent = mantissa // 1000, exponent + 3
    if form == "exponent":
        return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
    suffix = {exponent: name for name, exponent in _DECIMAL_EXPONENTS.items()}[exponent]
    return f"{sign}{mantissa}{suffix}"


def _canonical_pod_quantities(pod: dict[str, Any]) -> None:
    """The quantities of a pod template as the server stores them: its containers' and init containers'
    requests and limits, the pod's own, its overhead and its emptyDir volumes' size limits."""
    groups: list[Any] = []
    for container in [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]:
        resources = container.get("resources") if isinstance(container, dict) else None
        if isinstance(resources, dict):
            groups += [resources.get("requests"), resources.get("limits")]
    resources = pod.get("resources")
    if isinstance(resources, dict):
        groups += [resources.get("requests"), resources.get("limits")]
    groups.append(pod.get("overhead"))
    for group in groups:
        if isinstance(group, dict):
            group.update({key: canonical_quantity(value) for key, value in group.items()})
    for volume in pod.get("volumes") or []:
        empty_dir = volume.get("emptyDir") if isinstance(volume, dict) else None
        if isinstance(empty_dir, dict) and "sizeLimit" in empty_dir:
            empty_dir["sizeLimit"] = canonical_quantity(empty_dir["sizeLimit"])


def _prune(live: dict[str, Any], previous: dict[str, Any]) -> None:
    """Drop from ``live`` every field ``previous`` (the manager's last apply) set: what the new apply
    sets comes back, what it no longer sets is gone (lists are atomic here)."""
    for key, value in previous.items():
        if key in ("apiVersion", "kind", "name", "namespace") or key not in live:
            continue
        if isinstance(value, dict) and isinstance(live[key], dict):
            _prune(live[key], value)
            if not live[key] and key != "metadata":
                del live[key]
        else:
            del live[key]


def _merge(base: dict[str, Any], applied: dict[str, Any]) -> dict[str, Any]:
    for key, value in applied.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = _merge(base[key], value)
        else:
            base[key] = value
    return base


def object_url(path: str, **query: str) -> str:
    return f"{SERVER}{path}" + (f"?{urlencode(query)}" if query else "")
