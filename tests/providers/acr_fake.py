"""A fake of what building an image with ACR Tasks talks to, as a transport for the SDKs' own pipelines.

In the shapes the REST references give:

- Resource Manager, Container Registry Tasks (``2019-06-01-preview``): ``listBuildSourceUploadUrl``
  (a SAS URL into the registry's source storage and its ``relativePath``), ``scheduleRun`` (a
  long-running operation: ``202`` with a ``Location`` polled once more, then the queued run; or, with
  :attr:`FakeAcr.schedule_at_once`, ``200`` with the queued run),
  ``runs/{id}`` (``Running`` on the first read, then how the test wants it to end: ``Succeeded``
  pushes every ``$Registry/<repository>:<tag>`` of the task's ``push`` steps, with a digest new for
  each run, as builds are not reproducible) and ``runs/{id}/listLogSasUrl``;
- the source blob (``PUT`` of the context, which the run reads back) and the run's log blob
  (``HEAD`` and ranged ``GET``); every blob URL carries a SAS (:data:`SAS_SIGNATURE`), which nothing
  may print;
- the registry's data plane: a tag's ``GET``/``DELETE`` under ``/acr/v1``, answered ``401`` with a
  ``WWW-Authenticate`` challenge until the request carries an ACR access token, which the client gets
  by ``POST /oauth2/exchange`` (the AAD token for a refresh token) and ``POST /oauth2/token`` (that for
  an access token to the challenge's scope).

Every request is recorded (:attr:`FakeAcr.requests`); :meth:`FakeAcr.fail_next` makes the next matching
requests fail with a status (throttling, a missing role).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tarfile
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any
from urllib.parse import unquote, urlparse

import yaml

from tests.azure_http import FakeTransport, Recorded, http_response, recorded

ARM = "management.azure.com"
SOURCE_STORAGE = "acrsourceweu01.blob.core.windows.net"
LOG_STORAGE = "acrlogsweu01.blob.core.windows.net"
TASKS_API = "2019-06-01-preview"
DATA_PLANE_API = "2021-07-01"
AAD_TOKEN = "fake-token"
SAS_SIGNATURE = "Zm9vYmFyU0VDUkVUc2lnbmF0dXJlMTIzNDU2Nzg5MA%3D"
"""The ``sig=`` of every SAS URL the fake hands out: a test asserts it appears in no message."""
_TASKS = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.ContainerRegistry/"
    r"registries/(?P<registry>[^/]+)/(?P<op>listBuildSourceUploadUrl|scheduleRun|runs/(?P<run>[^/]+)"
    r"(?P<log>/listLogSasUrl)?)$",
    re.IGNORECASE,
)
_TAG = re.compile(r"^/acr/v1/(?P<repository>.+)/_tags/(?P<tag>[^/]+)$")
_PUSHED = re.compile(r"^\$Registry/(?P<repository>[^:@\s]+):(?P<tag>\S+)$")


@dataclass
class FakeRun:
    """One run ACR Tasks was asked for: what it was sent and how far it got."""

    run_id: str
    task: str
    source: bytes
    request: dict[str, Any]
    outcome: str
    statuses: list[str]
    output_images: list[dict[str, str]] = field(default_factory=list)
    log: bytes = b""


class FakeAcr(FakeTransport):
    """One registry's Tasks, its source and log storage and its data plane, in memory. One per test;
    give it to the provider as ``client_options={"transport": fake, "polling_interval": 0}``."""

    def __init__(self, subscription: str, resource_group: str, registry: str) -> None:
        super().__init__()
        self.subscription = subscription
        self.resource_group = resource_group
        self.registry = registry
        self.login_server = f"{registry}.azurecr.io"
        self.tags: dict[tuple[str, str], str] = {}
        self.blobs: dict[str, bytes] = {}  # "<host><path>" -> content
        self.runs: dict[str, FakeRun] = {}
        self.outcomes: list[str] = []
        """How the next runs end, in turn (``Succeeded`` once none is left)."""
        self.raw: list[bytes] = []
        """The body of each request as sent (the uploaded tarball is not JSON)."""
        self._operations: dict[str, list[tuple[int, Any]]] = {}
        self._access_tokens: dict[str, str] = {}  # token -> the scope it was issued for
        self._counter = 0
        self.schedule_at_once = False
        """``scheduleRun`` answers ``200`` with the queued run at once (no operation to poll)."""
        self.list_output_images = True
        """A succeeded run lists the images it pushed (``outputImages``)."""

    # --- the transport protocol -------------------------------------------------------------------

    def send(self, request: Any, **kwargs: Any) -> Any:
        sent, raw = recorded(request)
        sent.headers = {k.lower(): v for k, v in sent.headers.items()}
        host, query, headers, body = sent.host, sent.query, sent.headers, sent.body
        url = urlparse(request.url)
        self.requests.append(sent)
        self.raw.append(raw)
        status, answer_headers, answer = self._answer(
            request.method, host, url.path, query, headers, body, raw
        )
        content = (
            answer if isinstance(answer, bytes) else b"" if answer is None else json.dumps(answer).encode()
        )
        answer_headers = {
            "Content-Type": "application/json"
            if not isinstance(answer, bytes)
            else "application/octet-stream",
            "x-ms-request-id": f"req-{len(self.requests)}",
            **answer_headers,
        }
        if request.method == "HEAD":
            content = b""
        return http_response(request, status, answer_headers, content, bool(kwargs.get("stream")))

    # --- what tests use -----------------------------------------------------------------------------

    def sent(
        self, method: str | None = None, path_contains: str = "", host: str | None = None
    ) -> list[Recorded]:
        """The recorded requests, without polls of long-running operations."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method)
            and (host is None or r.host == host)
            and path_contains in r.path
            and "/operations/" not in r.path
        ]

    def push(self, repository: str, tag: str, digest: str) -> None:
        """A push to the registry that is not mlspec's (or a build that happened before)."""
        self.tags[(repository, tag)] = digest

    # --- routing ------------------------------------------------------------------------------------

    def _answer(
        self,
        method: str,
        host: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
        raw: bytes,
    ) -> tuple[int, dict[str, str], Any]:
        failure = self.scripted_failure(method, path)
        if failure is not None:
            return failure.answer()
        if host == ARM and path.startswith("/operations/"):
            results = self._operations[path.rsplit("/", 1)[-1]]
            status, answer = results[0] if len(results) == 1 else results.pop(0)
            return (
                status,
                ({"Location": f"https://{ARM}{path}", "Retry-After": "0"} if status == 202 else {}),
                answer,
            )
        if host == ARM:
            return self._tasks(method, path, query, body)
        if host in (SOURCE_STORAGE, LOG_STORAGE):
            return self._blob(method, host, path, query, headers, raw)
        if host == self.login_server:
            return self._data_plane(method, path, query, headers, body)
        return 404, {}, {"error": {"code": "NotFound", "message": f"no such host {host}"}}

    # --- Resource Manager: Tasks ------------------------------------------------------------------------

    def _tasks(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        match = _TASKS.match(path)
        if not match or method not in ("POST", "GET"):
            return (
                400,
                {},
                {"error": {"code": "BadRequest", "message": f"{method} {path} is not served here"}},
            )
        if (match["sub"], match["rg"].lower(), match["registry"].lower()) != (
            self.subscription,
            self.resource_group.lower(),
            self.registry.lower(),
        ):
            return 404, {}, {"error": {"code": "ResourceNotFound", "message": f"{path} was not found."}}
        if query.get("api-version") != TASKS_API:
            return (
                400,
                {},
                {"error": {"code": "InvalidApiVersionParameter", "message": query.get("api-version")}},
            )
        op = match["op"]
        if op == "listBuildSourceUploadUrl" and method == "POST":
            self._counter += 1
            relative = f"source/202612020000/{self._counter:04d}-{hashlib.md5(str(self._counter).encode()).hexdigest()}.tar.gz"
            url = (
                f"https://{SOURCE_STORAGE}/{self.registry}-sources/{relative}"
                f"?sv=2021-08-06&se=2026-12-02T15%3A00%3A00Z&sr=b&sp=cw&sig={SAS_SIGNATURE}"
            )
            return 200, {}, {"uploadUrl": url, "relativePath": relative}
        if op == "scheduleRun" and method == "POST":
            return self._schedule(body)
        run = self.runs.get(str(match["run"]))
        if run is None:
            return (
                404,
                {},
                {"error": {"code": "RunNotFound", "message": f"run {match['run']} was not found."}},
            )
        if match["log"] and method == "POST":
            link = (
                f"https://{LOG_STORAGE}/logs/{run.run_id}/rawtext.log"
                f"?sv=2021-08-06&se=2026-12-02T15%3A00%3A00Z&sr=b&sp=r&sig={SAS_SIGNATURE}"
            )
            return 200, {}, {"logLink": link}
        if method == "GET" and not match["log"]:
            if len(run.statuses) > 1:
                run.statuses.pop(0)
            if run.statuses[0] == "Succeeded" and not run.output_images:
                self._finish(run)
            return 200, {}, self._run_body(run)
        return 400, {}, {"error": {"code": "BadRequest", "message": f"{method} {path}"}}

    def _schedule(self, body: Any) -> tuple[int, dict[str, str], Any]:
        if not isinstance(body, dict) or body.get("type") != "EncodedTaskRunRequest":
            return 400, {}, {"error": {"code": "InvalidRequest", "message": "not an EncodedTaskRunRequest"}}
        if (body.get("platform") or {}).get("os") != "Linux":
            return 400, {}, {"error": {"code": "InvalidRequest", "message": "platform.os is required"}}
        source = self.blobs.get(f"{SOURCE_STORAGE}/{self.registry}-sources/{body.get('sourceLocation')}")
        if source is None:
            return (
                400,
                {},
                {"error": {"code": "InvalidSourceLocation", "message": "the source was not uploaded"}},
            )
        task = base64.b64decode(body["encodedTaskContent"]).decode()
        run_id = f"ca{len(self.runs) + 1}"
        outcome = self.outcomes.pop(0) if self.outcomes else "Succeeded"
        run = FakeRun(run_id, task, source, body, outcome, ["Queued", "Running", outcome])
        self.runs[run_id] = run
        if self.schedule_at_once:
            return 200, {}, self._run_body(run)
        self._counter += 1
        op = f"op{self._counter}"
        self._operations[op] = [(202, None), (200, self._run_body(run))]
        return 202, {"Location": f"https://{ARM}/operations/{op}", "Retry-After": "0"}, None

    def _finish(self, run: FakeRun) -> None:
        """What a succeeded build did: push the task's images, with a digest of this run."""
        digest = "sha256:" + hashlib.sha256(run.run_id.encode() + b"\0" + run.source).hexdigest()
        steps = yaml.safe_load(run.task)["steps"]
        for step in steps:
            for image in step.get("push", []):
                match = _PUSHED.match(image.replace("{{.Run.ID}}", run.run_id))
                assert match, image
                self.tags[(match["repository"], match["tag"])] = digest
                run.output_images.append(
                    {
                        "registry": self.login_server,
                        "repository": match["repository"],
                        "tag": match["tag"],
                        "digest": digest,
                    }
                )

    def _run_body(self, run: FakeRun) -> dict[str, Any]:
        status = run.statuses[0]
        if status == "Failed" and not run.log:
            run.log = b"".join(
                f"{line}\n".encode()
                for line in (
                    "2026/12/02 14:00:01 Downloading source code...",
                    *(
                        f"2026/12/02 14:00:{n % 60:02d} Collecting package-{n}==1.0 (from -r requirements.txt)"
                        for n in range(400)
                    ),
                    "ERROR: No matching distribution found for scikit-learn==9.9",
                    "2026/12/02 14:01:10 Container failed during run: build. No retries remaining.",
                    "failed to run step ID: build: exit status 1",
                )
            )
            self.blobs[f"{LOG_STORAGE}/logs/{run.run_id}/rawtext.log"] = run.log
        properties: dict[str, Any] = {
            "runId": run.run_id,
            "status": status,
            "runType": "QuickRun",
            "provisioningState": "Succeeded",
            "platform": {"os": "linux", "architecture": "amd64"},
            "createTime": "2026-12-02T14:00:00+00:00",
        }
        if status == "Succeeded" and self.list_output_images:
            properties["outputImages"] = run.output_images
        if status == "Failed":
            properties["runErrorMessage"] = "failed during run, err: exit status 1"
        return {
            "id": f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.ContainerRegistry/registries/{self.registry}/runs/{run.run_id}",
            "name": run.run_id,
            "type": "Microsoft.ContainerRegistry/registries/runs",
            "properties": properties,
        }

    # --- storage ------------------------------------------------------------------------------------

    def _blob(
        self, method: str, host: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        if query.get("sig") != unquote(SAS_SIGNATURE):
            return (
                403,
                {"x-ms-error-code": "AuthenticationFailed"},
                b"<Error><Code>AuthenticationFailed</Code></Error>",
            )
        key = f"{host}{path}"
        stamp = {"ETag": '"0x8DD0000000000001"', "Last-Modified": "Wed, 02 Dec 2026 14:00:00 GMT"}
        if method == "PUT":
            assert headers.get("x-ms-blob-type") == "BlockBlob", headers
            self.blobs[key] = raw
            return 201, {**stamp, "x-ms-request-server-encrypted": "true"}, None
        content = self.blobs.get(key)
        if content is None:
            return 404, {"x-ms-error-code": "BlobNotFound"}, b"<Error><Code>BlobNotFound</Code></Error>"
        blob_headers = {**stamp, "x-ms-blob-type": "BlockBlob", "Accept-Ranges": "bytes"}
        if method == "HEAD":
            return 200, {**blob_headers, "Content-Length": str(len(content))}, None
        if method == "GET":
            wanted = headers.get("x-ms-range") or headers.get("range")
            if wanted:
                start_text, _, end_text = wanted.removeprefix("bytes=").partition("-")
                start = int(start_text)
                end = min(int(end_text) if end_text else len(content) - 1, len(content) - 1)
                return (
                    206,
                    {**blob_headers, "Content-Range": f"bytes {start}-{end}/{len(content)}"},
                    content[start : end + 1],
                )
            return 200, blob_headers, content
        return 400, {}, None

    # --- the registry's data plane ---------------------------------------------------------------------

    def _data_plane(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        if path == "/oauth2/exchange" and method == "POST":
            form = body or {}
            if form.get("grant_type") != "access_token" or form.get("access_token") != AAD_TOKEN:
                return 401, {}, {"errors": [{"code": "UNAUTHORIZED", "message": "bad AAD token"}]}
            claims = base64.urlsafe_b64encode(json.dumps({"exp": 4102444800}).encode()).decode().rstrip("=")
            return 200, {}, {"refresh_token": f"eyJhbGciOiJSUzI1NiJ9.{claims}.c2ln"}
        if path == "/oauth2/token" and method == "POST":
            form = body or {}
            if form.get("grant_type") != "refresh_token" or not str(form.get("refresh_token", "")).startswith(
                "eyJ"
            ):
                return 401, {}, {"errors": [{"code": "UNAUTHORIZED", "message": "bad refresh token"}]}
            token = f"acr-access-{len(self._access_tokens) + 1}"
            self._access_tokens[token] = str(form.get("scope", ""))
            return 200, {}, {"access_token": token}
        match = _TAG.match(unquote(path))
        if not match:
            return 404, {}, {"errors": [{"code": "NAME_UNKNOWN", "message": path}]}
        repository, tag = match["repository"], match["tag"]
        action = "delete" if method == "DELETE" else "metadata_read"
        scope = f"repository:{repository}:{action}"
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if self._access_tokens.get(token) != scope:
            challenge = (
                f'Bearer realm="https://{self.login_server}/oauth2/token",'
                f'service="{self.login_server}",scope="{scope}"'
            )
            return (
                401,
                {"WWW-Authenticate": challenge},
                {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
            )
        if query.get("api-version") != DATA_PLANE_API:
            return 400, {}, {"errors": [{"code": "UNSUPPORTED", "message": "api-version"}]}
        digest = self.tags.get((repository, tag))
        if digest is None:
            return (
                404,
                {},
                {"errors": [{"code": "TAG_UNKNOWN", "message": "the specified tag does not exist"}]},
            )
        if method == "DELETE":
            del self.tags[(repository, tag)]
            return 202, {}, None
        return (
            200,
            {},
            {
                "registry": self.login_server,
                "imageName": repository,
                "tag": {
                    "name": tag,
                    "digest": digest,
                    "createdTime": "2026-12-02T14:01:00Z",
                    "lastUpdateTime": "2026-12-02T14:01:00Z",
                    "signed": False,
                    "changeableAttributes": {
                        "deleteEnabled": True,
                        "writeEnabled": True,
                        "readEnabled": True,
                        "listEnabled": True,
                    },
                },
            },
        )


def tar_members(tarball: bytes) -> list[tarfile.TarInfo]:
    """The members of an uploaded ``.tar.gz`` (to check names, owners and times)."""
    with tarfile.open(fileobj=BytesIO(tarball), mode="r:gz") as archive:
        return archive.getmembers()


def tar_contents(tarball: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=BytesIO(tarball), mode="r:gz") as archive:
        out: dict[str, bytes] = {}
        for member in archive.getmembers():
            extracted = archive.extractfile(member)
            assert extracted is not None
            out[member.name] = extracted.read()
        return out
