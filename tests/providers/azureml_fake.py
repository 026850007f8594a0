"""A fake of the Azure ML REST API (and the blob storage code uploads go to), as a transport for the
SDK's own pipeline: ``azure-ai-ml`` builds, signs, retries, polls and parses every request as in
production; only the bytes on the wire are replaced.

It extends :class:`tests.providers.azure_fake.FakeAzure` (same recording, ``fail_next`` and
long-running operations) with the workspace's control plane, under
``/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/<ws>/``:

- versioned assets (``environments``, ``components``, ``codes``, ``models``): ``.../<name>/versions/<v>``
  GET/PUT (the body kept as sent, with ``id``, ``name``, ``type`` and ``systemData`` added), the
  ``versions`` list (``hash`` filters code versions by the content hash their upload recorded), and a
  code version's ``startPendingUpload`` (a SAS URI into the default datastore's container);
- ``computes/<name>``: PUT answered ``201`` with an ``Azure-AsyncOperation`` polled ``InProgress``
  once, then ``Succeeded``; a system-assigned identity gets a ``principalId`` derived from the name;
  DELETE a long-running operation;
- ``jobs/<name>``: PUT (a new run starts ``Running``), GET, ``cancel`` (POST, ``202``);
- ``schedules/<name>``: PUT and DELETE as long-running operations;
- the workspace itself (GET: its location and discovery URL), the discovery document, and the run
  history's PATCH of a run (``hidden``: how the SDK archives and restores a job);
- ``datastores/workspaceblobstore`` and its ``listSecrets``;
- blob storage (``<account>.blob.core.windows.net``): block blob PUTs and blob metadata, kept in
  :attr:`FakeAzureML.blobs`; a HEAD/GET of a missing blob is ``404 BlobNotFound``.

Azure ML's blob uploads are made by a ``BlobServiceClient`` that ``azure-ai-ml`` builds itself from the
SAS URI, without the ``MLClient``'s options: :func:`serve_uploads` makes it use this transport too.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.azure_http import http_response
from tests.providers.azure_fake import ARM, FakeAzure, Recorded, _guid

_WORKSPACE = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)(?P<rest>/.*)?$",
    re.IGNORECASE,
)
_RUN = re.compile(
    r"^/history/v1\.0/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/"
    r"workspaces/(?P<ws>[^/]+)/experiments/(?P<experiment>[^/]+)/runs/(?P<run>[^/]+)$",
    re.IGNORECASE,
)
DATA_PLANE = "westeurope.api.azureml.ms"
ACCOUNT = "stmlfake"
CONTAINER = "azureml-blobstore-0000"
_TYPES = {
    "environments": "Microsoft.MachineLearningServices/workspaces/environments/versions",
    "components": "Microsoft.MachineLearningServices/workspaces/components/versions",
    "codes": "Microsoft.MachineLearningServices/workspaces/codes/versions",
    "models": "Microsoft.MachineLearningServices/workspaces/models/versions",
}


class FakeAzureML(FakeAzure):
    """Resource Manager, Synapse (from :class:`FakeAzure`), an Azure ML workspace and its blob store."""

    def __init__(self, subscription: str, resource_group: str, workspace: str) -> None:
        super().__init__(subscription, resource_group)
        self.workspace = workspace
        self.ml: dict[str, dict[str, Any]] = {}  # by lower-cased path under the workspace
        self.blobs: dict[str, bytes] = {}  # /<container>/<blob path> -> content
        self.blob_metadata: dict[str, dict[str, str]] = {}
        self.code_hashes: dict[str, str] = {}  # code version path -> the content hash it was uploaded with
        self._pending_hash: dict[str, str] = {}
        self.run_patches: list[tuple[str, dict[str, Any]]] = []  # run history PATCHes: (run id, body)

    # --- the transport protocol (blob bodies are bytes, not JSON) ------------------------------------

    def send(self, request: Any, **kwargs: Any) -> Any:
        url = urlparse(request.url)
        if (url.hostname or "").endswith(".blob.core.windows.net"):
            return self._blob(request, url, bool(kwargs.get("stream")))
        return super().send(request, **kwargs)

    # --- what tests use -----------------------------------------------------------------------------

    def ws_path(self, relative: str) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{self.workspace}/{relative}"
        )

    def entity(self, relative: str) -> dict[str, Any] | None:
        """What the workspace holds at ``<kind>/<name>[/versions/<v>]`` (the stored REST body)."""
        return self.ml.get(f"/{relative}".lower())

    def put_entity(self, relative: str, body: dict[str, Any]) -> None:
        self.ml[f"/{relative}".lower()] = body

    def drop(self, relative: str) -> None:
        self.ml.pop(f"/{relative}".lower(), None)

    def workspace_body(self) -> dict[str, Any]:
        return {
            "id": self.ws_path("").rstrip("/"),
            "name": self.workspace,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "location": "westeurope",
            "identity": {"type": "SystemAssigned", "principalId": _guid("principal", "workspace")},
            "properties": {
                "workspaceId": _guid("workspace", self.workspace),
                "discoveryUrl": f"https://{DATA_PLANE}/discovery",
                "provisioningState": "Succeeded",
            },
        }

    def register_model(self, name: str, version: str) -> None:
        """A training run registered ``name`` version ``version`` (what ``register.py`` does)."""
        self.put_entity(
            f"models/{name}/versions/{version}",
            self._stored(
                f"models/{name}/versions/{version}",
                {
                    "properties": {
                        "modelUri": f"azureml://jobs/run-{version}/outputs/artifacts/paths/model/",
                        "modelType": "mlflow_model",
                        "flavors": {"python_function": {"data": {"loader_module": "mlflow.sklearn"}}},
                        "tags": {},
                        "properties": {},
                        "isArchived": False,
                    }
                },
                version,
            ),
        )

    def ml_sent(self, method: str | None = None, relative: str = "") -> list[Recorded]:
        """The recorded workspace requests (no polls), whose path under the workspace contains ``relative``."""
        prefix = self.ws_path("").lower()
        return [
            r
            for r in self.sent(method)
            if r.path.lower().startswith(prefix) and relative.lower() in r.path[len(prefix) - 1 :].lower()
        ]

    # --- routing ------------------------------------------------------------------------------------

    def _answer(self, method: str, host: str, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        if host == DATA_PLANE:
            return self._data_plane(method, path, body)
        return super()._answer(method, host, path, body)

    def _data_plane(self, method: str, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        """The workspace's discovery document and run history (the SDK archives a job there)."""
        if path == "/discovery" and method == "GET":
            api = f"https://{DATA_PLANE}"
            return 200, {}, {"api": api, "history": api, "catalog": api, "experimentation": api}
        run = _RUN.match(path)
        if run and method == "PATCH" and run["ws"].lower() == self.workspace.lower():
            job = self.ml.get(f"/jobs/{run['run']}".lower())
            if job is None:
                return 404, {}, _error("RunNotFound", f"run {run['run']} not found")
            edits = body if isinstance(body, dict) else {}
            if "hidden" in edits:
                job["properties"]["isArchived"] = bool(edits["hidden"])
            for field in ("displayName", "description", "tags"):
                if field in edits:
                    job["properties"][field] = copy.deepcopy(edits[field])
            self.run_patches.append((run["run"], dict(body or {})))
            return 200, {}, {"runId": run["run"], "experimentName": run["experiment"], **(body or {})}
        return 404, {}, _error("NotFound", f"{method} {path} is not served by the fake")

    def _arm(self, method: str, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        match = _WORKSPACE.match(path)
        if match and match["ws"].lower() == self.workspace.lower():
            return self._ml(method, match["rest"] or "/", body)
        return super()._arm(method, path, body)

    def _stored(self, rest: str, body: Any, name: str) -> dict[str, Any]:
        segments = rest.strip("/").split("/")
        kind_type = _TYPES.get(segments[0], f"Microsoft.MachineLearningServices/workspaces/{segments[0]}")
        stored = copy.deepcopy(body) if isinstance(body, dict) else {}
        stored.update(
            {
                "id": self.ws_path(rest.strip("/")),
                "name": name,
                "type": kind_type,
                "systemData": {"createdBy": "mlspec", "createdAt": "2026-01-01T00:00:00Z"},
            }
        )
        return stored

    def _ml(self, method: str, rest: str, body: Any) -> tuple[int, dict[str, str], Any]:
        key = rest.lower()
        segments = rest.strip("/").split("/")
        kind = segments[0]
        if rest.strip("/") == "" and method == "GET":
            return 200, {}, self.workspace_body()
        if kind == "datastores":
            return self._datastore(method, segments)
        if kind in _TYPES:
            if len(segments) == 3 and segments[2] == "versions" and method == "GET":
                return self._versions(kind, segments[1])
            if len(segments) == 5 and segments[4] == "startPendingUpload" and method == "POST":
                return self._pending_upload(segments[1], segments[3])
            if len(segments) == 4 and segments[2] == "versions":
                return self._asset(method, rest, key, body, kind, segments[1], segments[3])
        if kind == "computes" and len(segments) == 2:
            return self._compute(method, rest, key, body, segments[1])
        if kind == "jobs" and len(segments) >= 2:
            return self._job(method, rest, key, body, segments)
        if kind == "schedules" and len(segments) == 2:
            return self._schedule(method, rest, key, body, segments[1])
        if method == "GET" and len(segments) == 2 and key in self.ml:
            return 200, {}, self.ml[key]
        return 404, {}, _error("NotFound", f"{method} {rest} is not served by the fake")

    def _asset(
        self, method: str, rest: str, key: str, body: Any, kind: str, name: str, version: str
    ) -> tuple[int, dict[str, str], Any]:
        if method == "GET":
            found = self.ml.get(key)
            return (
                (200, {}, found) if found else (404, {}, _error("UserError", f"{name}:{version} not found"))
            )
        if method == "PUT":
            existed = key in self.ml
            self.ml[key] = self._stored(rest, body, version)
            if kind == "codes":
                pending = self._pending_hash.get(f"{name}/{version}".lower())
                if pending:
                    self.code_hashes[key] = pending
            return (200 if existed else 201), {}, self.ml[key]
        if method == "DELETE":
            return (200, {}, None) if self.ml.pop(key, None) else (204, {}, None)
        return 400, {}, _error("BadRequest", f"{method} {rest}")

    def _versions(self, kind: str, name: str) -> tuple[int, dict[str, str], Any]:
        prefix = f"/{kind}/{name}/versions/".lower()
        found = [v for k, v in sorted(self.ml.items()) if k.startswith(prefix)]
        query = self._query()
        if kind == "codes" and "hash" in query:
            found = [v for v in found if self.code_hashes.get(self._key_of(v)) == query["hash"]]
        if query.get("listViewType", "ActiveOnly") == "ActiveOnly":
            found = [v for v in found if not (v.get("properties") or {}).get("isArchived")]
        if kind == "models" and not found and not any(k.startswith(prefix) for k in self.ml):
            return 404, {}, _error("UserError", f"model {name} not found")
        return 200, {}, {"value": found}

    def _key_of(self, stored: dict[str, Any]) -> str:
        return str(stored["id"])[len(self.ws_path("")) - 1 :].lower()

    def _query(self) -> dict[str, str]:
        return dict(self.requests[-1].query) if self.requests else {}

    def _pending_upload(self, name: str, version: str) -> tuple[int, dict[str, str], Any]:
        # A temporary container of its own, as the service gives (the SDK uploads into it).
        self._pending_hash[f"{name}/{version}".lower()] = _guid("hash", name, version)
        blob_uri = f"https://{ACCOUNT}.blob.core.windows.net/{_guid('upload', name, version)}"
        return (
            200,
            {},
            {
                "blobReferenceForConsumption": {
                    "blobUri": blob_uri,
                    "storageAccountArmId": f"{self.ws_path('')}storage/{ACCOUNT}",
                    "credential": {"credentialType": "SAS", "sasUri": f"{blob_uri}?sv=2021-08-06&sig=fake"},
                },
                "pendingUploadId": _guid("pending", name, version),
                "pendingUploadType": "TemporaryBlobReference",
            },
        )

    def _datastore(self, method: str, segments: list[str]) -> tuple[int, dict[str, str], Any]:
        if len(segments) >= 2 and segments[1] == "workspaceblobstore":
            if len(segments) == 3 and segments[2] == "listSecrets":
                return 200, {}, {"secretsType": "Sas", "sasToken": "sv=2021-08-06&sig=fake"}
            return (
                200,
                {},
                {
                    "id": self.ws_path("datastores/workspaceblobstore"),
                    "name": "workspaceblobstore",
                    "properties": {
                        "datastoreType": "AzureBlob",
                        "accountName": ACCOUNT,
                        "containerName": CONTAINER,
                        "endpoint": "core.windows.net",
                        "protocol": "https",
                        "isDefault": True,
                        "credentials": {"credentialsType": "Sas"},
                    },
                },
            )
        return 404, {}, _error("UserError", "datastore not found")

    def _compute(
        self, method: str, rest: str, key: str, body: Any, name: str
    ) -> tuple[int, dict[str, str], Any]:
        if method == "GET":
            found = self.ml.get(key)
            return (200, {}, found) if found else (404, {}, _error("ResourceNotFound", f"compute {name}"))
        if method == "PUT":
            stored = self._stored(rest, body, name)
            identity = stored.get("identity")
            if isinstance(identity, dict) and "SystemAssigned" in str(identity.get("type", "")):
                identity["principalId"] = _guid("principal", "compute", name)
                identity["tenantId"] = _guid("tenant")
            stored.setdefault("properties", {})["provisioningState"] = "Succeeded"
            self.ml[key] = stored
            operation = self._operation(
                ARM, [(200, {"status": "InProgress"}), (200, {"status": "Succeeded"})]
            )
            creating = copy.deepcopy(stored)
            creating["properties"]["provisioningState"] = "Creating"
            return 201, {"Azure-AsyncOperation": operation, "Retry-After": "0"}, creating
        if method == "DELETE":
            if self.ml.pop(key, None) is None:
                return 204, {}, None
            operation = self._operation(
                ARM, [(200, {"status": "InProgress"}), (200, {"status": "Succeeded"})]
            )
            return 202, {"Azure-AsyncOperation": operation, "Location": operation, "Retry-After": "0"}, None
        return 400, {}, _error("BadRequest", f"{method} {rest}")

    def _job(
        self, method: str, rest: str, key: str, body: Any, segments: list[str]
    ) -> tuple[int, dict[str, str], Any]:
        name = segments[1]
        job_key = f"/jobs/{name}".lower()
        if len(segments) == 3 and segments[2] == "cancel" and method == "POST":
            found = self.ml.get(job_key)
            if found is None:
                return 404, {}, _error("UserError", f"job {name} not found")
            found["properties"]["status"] = "Canceled"
            location = self._operation(ARM, [(202, None), (200, None)])
            return 202, {"Location": location, "Retry-After": "0"}, None
        if len(segments) != 2:
            return 404, {}, _error("NotFound", rest)
        if method == "GET":
            found = self.ml.get(job_key)
            return (200, {}, found) if found else (404, {}, _error("UserError", f"job {name} not found"))
        if method == "PUT":
            existed = job_key in self.ml
            stored = self._stored(rest, body, name)
            properties = stored.setdefault("properties", {})
            if existed:
                properties["status"] = self.ml[job_key]["properties"].get("status", "Running")
            else:
                properties["status"] = "Running"
                properties["services"] = {
                    "Studio": {"endpoint": f"https://ml.azure.com/runs/{name}", "jobServiceType": "Studio"}
                }
            self.ml[job_key] = stored
            return (200 if existed else 201), {}, stored
        return 400, {}, _error("BadRequest", f"{method} {rest}")

    def _schedule(
        self, method: str, rest: str, key: str, body: Any, name: str
    ) -> tuple[int, dict[str, str], Any]:
        if method == "GET":
            found = self.ml.get(key)
            return (200, {}, found) if found else (404, {}, _error("UserError", f"schedule {name}"))
        if method == "PUT":
            stored = self._stored(rest, body, name)
            stored.setdefault("properties", {})["provisioningState"] = "Succeeded"
            self.ml[key] = stored
            operation = self._operation(
                ARM, [(200, {"status": "InProgress"}), (200, {"status": "Succeeded"})]
            )
            return 201, {"Azure-AsyncOperation": operation, "Retry-After": "0"}, stored
        if method == "DELETE":
            if self.ml.pop(key, None) is None:
                return 204, {}, None
            operation = self._operation(ARM, [(200, {"status": "Succeeded"})])
            return 202, {"Azure-AsyncOperation": operation, "Location": operation, "Retry-After": "0"}, None
        return 400, {}, _error("BadRequest", f"{method} {rest}")

    # --- blob storage -----------------------------------------------------------------------------------

    def _blob(self, request: Any, url: Any, stream: bool) -> Any:
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        raw = getattr(request, "content", None)
        if raw is None:
            raw = getattr(request, "body", None)
        content = raw.encode() if isinstance(raw, str) else raw if isinstance(raw, bytes) else b""
        self.requests.append(
            Recorded(request.method, url.hostname or "", url.path, query, None, dict(request.headers))
        )
        path = url.path
        headers = {"x-ms-request-id": _guid("blob", str(len(self.requests))), "x-ms-version": "2021-08-06"}
        comp = query.get("comp")
        if request.method == "PUT" and comp == "metadata":
            if path not in self.blobs:
                return http_response(
                    request, 404, {**headers, "x-ms-error-code": "BlobNotFound"}, b"", stream
                )
            self.blob_metadata[path] = {
                k[len("x-ms-meta-") :]: v
                for k, v in request.headers.items()
                if k.lower().startswith("x-ms-meta-")
            }
            return http_response(request, 200, {**headers, "ETag": '"0x1"'}, b"", stream)
        if request.method == "PUT":
            self.blobs[path] = content
            self.blob_metadata[path] = {
                k[len("x-ms-meta-") :]: v
                for k, v in request.headers.items()
                if k.lower().startswith("x-ms-meta-")
            }
            return http_response(
                request,
                201,
                {**headers, "ETag": '"0x1"', "Last-Modified": "Thu, 01 Jan 2026 00:00:00 GMT"},
                b"",
                stream,
            )
        if request.method in ("HEAD", "GET") and query.get("restype") == "container" and comp == "list":
            prefix = f"/{CONTAINER}/" + query.get("prefix", "")
            names = "".join(
                f"<Blob><Name>{p[len(CONTAINER) + 2 :]}</Name><Properties></Properties></Blob>"
                for p in sorted(self.blobs)
                if p.startswith(prefix)
            )
            body = (
                '<?xml version="1.0" encoding="utf-8"?><EnumerationResults><Blobs>'
                f"{names}</Blobs><NextMarker /></EnumerationResults>"
            ).encode()
            return http_response(request, 200, {**headers, "Content-Type": "application/xml"}, body, stream)
        if request.method in ("HEAD", "GET"):
            if path not in self.blobs:
                return http_response(
                    request, 404, {**headers, "x-ms-error-code": "BlobNotFound"}, b"", stream
                )
            meta = {f"x-ms-meta-{k}": v for k, v in self.blob_metadata.get(path, {}).items()}
            blob = self.blobs[path]
            return http_response(
                request,
                200,
                {
                    **headers,
                    **meta,
                    "x-ms-blob-type": "BlockBlob",
                    "ETag": '"0x1"',
                    "Last-Modified": "Thu, 01 Jan 2026 00:00:00 GMT",
                },
                b"" if request.method == "HEAD" else blob,
                stream,
            )
        return http_response(request, 400, headers, b"", stream)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


@contextmanager
def serve_uploads(fake: FakeAzureML) -> Iterator[None]:
    """Make the storage clients ``azure-ai-ml`` builds for uploads send through ``fake``: its
    ``_blob_storage_helper`` makes a ``BlobServiceClient`` and, from the SAS URI the workspace returns,
    a ``ContainerClient`` with no options of the ``MLClient`` (no ``transport``), so this gives each
    one it constructs the fake as its transport."""
    import pytest
    from azure.ai.ml._artifacts import _blob_storage_helper
    from azure.storage.blob import BlobServiceClient, ContainerClient

    options = {"transport": fake, "retry_total": 0}

    def service_client(*args: Any, **kwargs: Any) -> BlobServiceClient:
        return BlobServiceClient(*args, **{**options, **kwargs})

    class Containers:
        @staticmethod
        def from_container_url(url: str, *args: Any, **kwargs: Any) -> ContainerClient:
            return ContainerClient.from_container_url(url, *args, **{**options, **kwargs})

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_blob_storage_helper, "BlobServiceClient", service_client)
        patch.setattr(_blob_storage_helper, "ContainerClient", Containers)
        yield


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


class JwtCredential:
    """A credential whose tokens are unsigned JWTs with an audience and tenant: ``azure-ai-ml`` decodes
    the token before it submits a pipeline job (it checks the Azure ML audience) and appends the
    tenant to a job's studio URL. The fake never checks them."""

    def __init__(self, tenant: str = "72f988bf-86f1-41af-91ab-2d7cd011db47") -> None:
        self.tenant = tenant
        self.scopes: list[tuple[str, ...]] = []

    def _token(self, scopes: tuple[str, ...]) -> str:
        import base64

        self.scopes.append(scopes)
        audience = (scopes[0] if scopes else "").removesuffix("/.default").removesuffix("/")
        claims = {"aud": audience, "tid": self.tenant, "oid": _guid("oid"), "exp": 4102444800}

        def part(value: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

        return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.c2ln"

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token(scopes), 4102444800)

    def get_token_info(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(self._token(scopes), 4102444800)
