"""ACR tasks (``acr:task``): the scoring image, built and pushed by ACR Tasks in the environment's registry.

The payload's properties are the task YAML (``acr/task.yaml``: a ``build`` step and a ``push`` of
``$Registry/<repository>:<content tag>``); the request's other files under the task file's folder are
the build context. A build is what ``az acr run`` does, through ``azure-mgmt-containerregistry``
(API ``2019-06-01-preview``, the Tasks API its newer versions no longer carry):

1. ``listBuildSourceUploadUrl`` gives a SAS URL and the ``relativePath`` a run reads it from;
2. the context is uploaded there as a ``.tar.gz`` made the same byte for byte from the same files
   (sorted, fixed mtime, owner and mode: :func:`build_context`);
3. ``scheduleRun`` runs the task YAML as sent (markers replaced), base64-encoded in an
   ``EncodedTaskRunRequest`` on ``linux/amd64``; its long-running operation gives the queued run, which
   is polled (``runs.get``) until it ends;
4. the output ``image_digest`` is the run's ``outputImages`` digest of the content-tagged image.

Idempotency: the tag is content-derived (the first 12 hex digits of the SHA-256 of the build inputs),
so the image exists exactly when the registry holds that tag. Before building, the registry's data
plane (``azure-containerregistry``, with an ARM-audience token) is asked for it, and a tag found is
adopted with its digest, without a rebuild: a create retried after a crash reports the digest the
first run pushed. Why the data plane and not ``runs.list``: the run history says what was pushed once,
the registry what is there now (a tag deleted or moved since, a run record purged), and ``read`` and
``delete`` need the registry anyway.

Drift (``read``): the tag still pointing to the recorded digest is the applied object; the tag gone is
``None`` (deleted behind mlspec's back: create builds it again); the tag pointing to another digest is
the payload with :data:`MOVED_KEY` added (the digest the tag holds now), so plan shows the drift and
updates, and ``update`` rebuilds instead of adopting the foreign image.

Ownership: mlspec owns the content tag it built; ``delete`` deletes that tag (its manifest stays
while other tags or digests reference it), never the repository or another tag (the run-id tags ACR
Tasks pushes alongside are ACR's history, left alone).
"""

from __future__ import annotations

import base64
import copy
import gzip
import io
import posixpath
import re
import tarfile
import time
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mlspec.contract.graph import Address
from mlspec.contract.outputs import sent_payload
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.providers.azure.errors import azure_error
from mlspec.providers.azure.session import AzureSession
from mlspec.providers.azure.workspace import ARM_ENDPOINT
from mlspec.providers.base import DeployRequest, LiveObject, ProviderError, ProviderResult
from mlspec.redaction import printable, redact, strip_query

if TYPE_CHECKING:
    from azure.containerregistry import ContainerRegistryClient
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

PROVIDER_TYPE = "acr:task"
TASKS_API = "2019-06-01-preview"
"""The Container Registry API version of the Tasks operations (scheduleRun, runs, listBuildSourceUploadUrl)."""
LOGIN_SUFFIX = ".azurecr.io"
CONTEXT_MTIME = 0
"""The mtime of every file in the build context (and of the gzip header): same files, same bytes."""
RUN_TIMEOUT_SECONDS = 3600
RUN_POLL_SECONDS = 5.0
"""Between two reads of a running build (``polling_interval`` of the client options overrides it)."""
RUN_WAIT_MARGIN_SECONDS = 600
"""How much longer than the run's own timeout apply waits for ACR to report the run ended."""
TERMINAL_STATUSES = frozenset({"Succeeded", "Failed", "Canceled", "Error", "Timeout"})
LOG_TAIL_BYTES = 8192
LOG_TAIL_LINES = 3
MOVED_KEY = "content_tag_now_points_to"
"""The key a read adds to the live payload when the content tag holds another digest than was applied."""
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_PUSHED_IMAGE = re.compile(
    r"\$Registry/(?P<repository>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"
)


class AcrTasks:
    """Builds (ACR Tasks), reads, adopts and deletes the content-tagged images of ``acr:task`` resources."""

    provider_types = frozenset({PROVIDER_TYPE})

    def __init__(self, session: AzureSession, project: str) -> None:
        self.session = session
        self.project = project

    @staticmethod
    def handles(provider_type: str) -> bool:
        return provider_type == PROVIDER_TYPE

    # --- the provider operations ---------------------------------------------------------------------

    def read(self, address: Address, current: ResourceState) -> LiveObject | None:
        sent = sent_payload(current.payload, current.resolved, current.sent_attachments)
        repository, tag = content_image(address, sent.properties)
        found = self._tag_digest(address, repository, tag)
        if found is None:
            return None
        if found == recorded_digest(current):
            return LiveObject(sent)
        live = copy.deepcopy(sent.properties) if isinstance(sent.properties, dict) else {}
        live[MOVED_KEY] = found
        return LiveObject(Payload(live, sent.attachments))

    def create(self, request: DeployRequest) -> ProviderResult:
        repository, tag = content_image(request.address, request.payload.properties)
        found = self._tag_digest(request.address, repository, tag)
        if found is not None:  # built before (a retried create, or the same inputs built once already)
            return self._result(request.address, repository, found)
        return self._result(request.address, repository, self._build(request, repository, tag))

    def update(self, request: DeployRequest, current: ResourceState) -> ProviderResult:
        repository, tag = content_image(request.address, request.payload.properties)
        found = self._tag_digest(request.address, repository, tag)
        sent = sent_payload(current.payload, current.resolved, current.sent_attachments)
        applied_tag = _content_image_or_none(sent.properties)
        moved = applied_tag == (repository, tag) and found != recorded_digest(current)
        if found is not None and not moved:  # a retried update, or a return to inputs built before
            return self._result(request.address, repository, found)
        return self._result(request.address, repository, self._build(request, repository, tag))

    def delete(self, address: Address, current: ResourceState) -> None:
        from azure.core.exceptions import HttpResponseError

        sent = sent_payload(current.payload, current.resolved, current.sent_attachments)
        repository, tag = content_image(address, sent.properties)
        try:
            self.registry.delete_tag(repository, tag)  # a tag already gone (404) is no error
        except HttpResponseError as exc:
            raise azure_error(
                address, f"delete of tag {repository}:{tag}", exc, self._data_plane_role("AcrDelete")
            ) from None

    def describe(self, address: Address, result: ProviderResult) -> str:
        return f"image {printable(result.provider_id, 300)} built by ACR Tasks in {self.registry_name}"

    # --- clients --------------------------------------------------------------------------------------

    @property
    def registry_name(self) -> str:
        return self.session.workspace.require("container_registry", "building images with ACR Tasks")

    @property
    def login_server(self) -> str:
        return f"{self.registry_name.lower()}{LOGIN_SUFFIX}"

    @cached_property
    def tasks(self) -> ContainerRegistryManagementClient:
        from azure.mgmt.containerregistry import ContainerRegistryManagementClient

        return ContainerRegistryManagementClient(
            self.session.credential,
            self.session.workspace.subscription_id,
            api_version=TASKS_API,
            **self.session.client_options,
        )

    @cached_property
    def registry(self) -> ContainerRegistryClient:
        """The registry's data plane (tags), with an ARM-audience token: the same credential and
        scope as every other call (the registry exchanges it for its own token)."""
        from azure.containerregistry import ContainerRegistryClient

        return ContainerRegistryClient(
            f"https://{self.login_server}", self.session.credential, audience=ARM_ENDPOINT, **self._pipeline()
        )

    def _pipeline(self) -> dict[str, Any]:
        """The client options of the data-plane and blob clients (no LRO polling there)."""
        return {k: v for k, v in self.session.client_options.items() if k != "polling_interval"}

    def _role(self) -> str:
        return f"Contributor (or AcrPush and the Container Registry Tasks Contributor role) on {self.registry_name}"

    def _data_plane_role(self, role: str = "") -> str:
        """What a 401/403 of the registry's own API means: the role, or ARM-audience tokens refused."""
        needs = f"Contributor (or {role}) on {self.registry_name}" if role else self._role()
        return (
            f"{needs}, and the registry must accept ARM-audience tokens (`az acr config "
            f"authentication-as-arm show --registry {self.registry_name}`)"
        )

    # --- building -------------------------------------------------------------------------------------

    def _tag_digest(self, address: Address, repository: str, tag: str) -> str | None:
        """The digest the registry's ``repository:tag`` points to, ``None`` when there is no such tag."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            properties = self.registry.get_tag_properties(repository, tag)
        except ResourceNotFoundError:
            return None
        except HttpResponseError as exc:
            raise azure_error(
                address, f"read of tag {repository}:{tag}", exc, self._data_plane_role()
            ) from None
        return str(properties.digest or "")

    def _result(self, address: Address, repository: str, digest: str) -> ProviderResult:
        if not _DIGEST.fullmatch(digest):
            raise ProviderError(
                address,
                f"the registry reports {printable(digest, 100)!r} as the image's digest, not sha256:<64 hex>",
            )
        return ProviderResult(f"{self.login_server}/{repository}@{digest}", {"image_digest": digest})

    def _build(self, request: DeployRequest, repository: str, tag: str) -> str:
        from azure.core.exceptions import AzureError, HttpResponseError
        from azure.mgmt.containerregistry.v2019_06_01_preview.models import (
            EncodedTaskRunRequest,
            PlatformProperties,
        )
        from azure.storage.blob import BlobClient

        address = request.address
        group, registry = self.session.workspace.resource_group, self.registry_name
        task_file = _task_file(request)
        try:
            upload = self.tasks.registries.get_build_source_upload_url(group, registry)
        except HttpResponseError as exc:
            raise azure_error(address, "listBuildSourceUploadUrl", exc, self._role()) from None
        if not upload.upload_url or not upload.relative_path:
            raise ProviderError(address, f"{registry} gave no upload URL for the build context")
        try:
            BlobClient.from_blob_url(upload.upload_url, **self._pipeline()).upload_blob(
                build_context(context_files(request.files, task_file)), overwrite=True
            )
        except AzureError as exc:
            raise azure_error(address, "upload of the build context", exc, self._role()) from None
        run_request = EncodedTaskRunRequest(
            encoded_task_content=base64.b64encode(_task_yaml(request, task_file)).decode("ascii"),
            platform=PlatformProperties(os="Linux", architecture="amd64"),
            source_location=upload.relative_path,
            timeout=RUN_TIMEOUT_SECONDS,
            is_archive_enabled=False,
        )
        try:
            run = self.tasks.registries.begin_schedule_run(group, registry, run_request).result()
        except HttpResponseError as exc:
            raise azure_error(address, "scheduleRun", exc, self._role()) from None
        run = self._wait(address, run)
        if run.status != "Succeeded":
            raise self._run_failed(address, run)
        for image in run.output_images or []:
            if image.repository == repository and image.tag == tag and image.digest:
                return str(image.digest)
        found = self._tag_digest(address, repository, tag)  # pushed, though the run does not list it
        if found is None:
            raise ProviderError(
                address,
                f"run {run.run_id} succeeded but pushed no {self.login_server}/{repository}:{tag}",
                "the task YAML must push the content-tagged image: build again (`mlspec build`) and apply",
            )
        return found

    def _wait(self, address: Address, run: Any) -> Any:
        """The run once it ended (the scheduleRun operation ends when the run is queued)."""
        from azure.core.exceptions import HttpResponseError

        run_id = str(run.run_id or "")
        if not run_id:
            raise ProviderError(address, f"{self.registry_name} scheduled a run without a run id")
        interval = float(self.session.client_options.get("polling_interval", RUN_POLL_SECONDS))
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS + RUN_WAIT_MARGIN_SECONDS
        while run.status not in TERMINAL_STATUSES:
            if time.monotonic() > deadline:
                raise ProviderError(
                    address,
                    f"run {run_id} in {self.registry_name} is still {run.status} after "
                    f"{RUN_TIMEOUT_SECONDS + RUN_WAIT_MARGIN_SECONDS}s",
                    f"see `az acr task logs --registry {self.registry_name} --run-id {run_id}`; apply "
                    "again once it ended (a pushed image is adopted, not rebuilt)",
                )
            if interval:
                time.sleep(interval)
            try:
                run = self.tasks.runs.get(self.session.workspace.resource_group, self.registry_name, run_id)
            except HttpResponseError as exc:
                raise azure_error(address, f"read of run {run_id}", exc, self._role()) from None
        return run

    def _run_failed(self, address: Address, run: Any) -> ProviderError:
        """The one-line error of a run that did not succeed: its status, ACR's message, the last
        lines of its log and where the log is (its SAS query string stripped)."""
        run_id = str(run.run_id)
        parts = [f"run {run_id} in {self.registry_name} ended {run.status}"]
        if run.run_error_message:
            parts.append(str(run.run_error_message))
        link, tail = self._log_tail(run_id)
        if tail:
            parts.append(f"log ends: {tail}")
        if link:
            parts.append(f"log: {strip_query(link)}")
        message = " ".join(redact("; ".join(parts)).split())
        return ProviderError(
            address,
            printable(message, 600),
            f"`az acr task logs --registry {self.registry_name} --run-id {run_id}` shows the whole log; "
            "fix the image's inputs in mlproject.yaml, build and apply again",
        )

    def _log_tail(self, run_id: str) -> tuple[str, str]:
        """The log's SAS URL and its last lines ("" for what cannot be read: the error says what it can)."""
        from azure.core.exceptions import AzureError
        from azure.storage.blob import BlobClient

        try:
            result = self.tasks.runs.get_log_sas_url(
                self.session.workspace.resource_group, self.registry_name, run_id
            )
        except AzureError:
            return "", ""
        link = str(result.log_link or "")
        if not link:
            return "", ""
        try:
            blob = BlobClient.from_blob_url(link, **self._pipeline())
            size = int(blob.get_blob_properties().size or 0)
            offset = max(0, size - LOG_TAIL_BYTES)
            data = blob.download_blob(offset=offset, length=size - offset).readall() if size else b""
        except (AzureError, ValueError):
            return link, ""
        lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
        return link, " | ".join(lines[-LOG_TAIL_LINES:])


# --- the payload ------------------------------------------------------------------------------------


def content_image(address: Address, properties: Any) -> tuple[str, str]:
    """The ``(repository, tag)`` the task pushes by content tag (``$Registry/<repository>:<tag>``, not a
    ``{{.Run.ID}}`` tag); a :class:`ProviderError` unless there is exactly one."""
    found = _content_image_or_none(properties)
    if found is None:
        raise ProviderError(
            address,
            "the task pushes no single $Registry/<repository>:<content tag> image: cannot tell which "
            "image is the resource",
            "build again with this version of mlspec (`mlspec build`), then plan and apply",
        )
    return found


def _content_image_or_none(properties: Any) -> tuple[str, str] | None:
    steps = properties.get("steps") if isinstance(properties, dict) else None
    images: set[tuple[str, str]] = set()
    for step in steps if isinstance(steps, list) else []:
        pushed = step.get("push") if isinstance(step, dict) else None
        for image in pushed if isinstance(pushed, list) else [pushed]:
            match = _PUSHED_IMAGE.fullmatch(image) if isinstance(image, str) else None
            if match:
                images.add((match["repository"], match["tag"]))
    return next(iter(images)) if len(images) == 1 else None


def recorded_digest(current: ResourceState) -> str:
    """The digest apply recorded: the ``image_digest`` output, else the provider id's ``@sha256:...``."""
    digest = current.outputs.get("image_digest")
    if isinstance(digest, str) and digest:
        return digest
    return current.provider_id.rpartition("@")[2] if "@" in current.provider_id else ""


def _task_file(request: DeployRequest) -> str:
    if request.primary_file:
        return request.primary_file
    return next((p for p in sorted(request.files) if p.endswith("task.yaml")), "acr/task.yaml")


def _task_yaml(request: DeployRequest, task_file: str) -> bytes:
    """The task YAML as sent: the file (markers replaced, comments kept), else its properties as JSON
    (which is YAML)."""
    content = request.files.get(task_file)
    if content is not None:
        return bytes(content)
    import json

    return json.dumps(request.payload.properties, sort_keys=True).encode()


def context_files(files: Mapping[str, bytes], task_file: str) -> dict[str, bytes]:
    """The build context: every file of the request under the task file's folder, by its path there."""
    folder = posixpath.dirname(task_file)
    prefix = f"{folder}/" if folder else ""
    context: dict[str, bytes] = {}
    for path, content in files.items():
        if not path.startswith(prefix):
            continue
        relative = posixpath.normpath(path[len(prefix) :])
        if relative.startswith(("../", "/")) or relative in ("..", "."):
            continue  # never outside the context (the build writes no such path)
        context[relative] = bytes(content)
    return context


def build_context(files: Mapping[str, bytes]) -> bytes:
    """A ``.tar.gz`` of ``files`` (context-relative path → bytes), the same bytes for the same files:
    sorted, regular files ``0644`` of uid/gid 0 with no owner names, mtime :data:`CONTEXT_MTIME`, and a
    gzip header without name or time."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(files):
            info = tarfile.TarInfo(path)
            info.size = len(files[path])
            info.mtime = CONTEXT_MTIME
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            archive.addfile(info, io.BytesIO(files[path]))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, compresslevel=9, mtime=CONTEXT_MTIME) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()
