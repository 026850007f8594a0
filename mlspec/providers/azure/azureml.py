"""Azure ML environments, components, compute clusters, pipeline jobs and schedules (``azure-ai-ml``).

Each entity is loaded with the SDK's own loader (``load_environment``, ``load_component``...) from the
request's files, written into a temporary folder with their build-relative paths, so relative
references (a conda file, a component's code folder, a schedule's ``create_job``) resolve as the CLI
resolves them; the SDK then uploads code to the workspace's default datastore and sends the entity.

What each kind means here:

- environments and components are versioned assets: created with the version the build gives (a
  content hash), so a changed one is a new version. Azure ML cannot delete an asset version, so
  "delete" archives it; a create that finds the same version archived restores it;
- a compute cluster is created or updated in place (a long-running operation); its system-assigned
  identity's object id is the ``principal_id`` output; delete deletes it;
- a pipeline job is a run: create submits it under a name derived from the address and the payload
  (its hash and the output values replaced into it), so a create retried after a lost state write
  finds the job it submitted (GET by that name) instead of submitting a second run; an update submits
  the changed pipeline as a new run. Its ``model_version`` output is the newest version of the model
  the pipeline registers (the compiler names the pipeline after the model:
  ``aml.pipeline.<model>``), or ``unregistered``, read again by :meth:`AzureMLResources.observe`.
  Delete cancels the run if it has not finished, then archives it (runs are history, not deleted);
- schedules and monitor schedules are created or updated in place; delete disables, then deletes.

Ownership: every entity mlspec sends carries the tags ``mlspec-project`` and ``mlspec-env`` (added to
the entity as it is sent, beside the spec's own tags; never part of the payload, its hash or the
diff). They are what tells mlspec's objects from another project's or environment's of the same name
(every project's compute cluster defaults to ``cpu-cluster``). A create that finds an object whose
tags name this project and environment (made by the create it retries, its state write lost) adopts
it, and repairs it if it drifted (a compute cluster or schedule is sent again; a pipeline job's name,
description and tags are set back; an asset version is immutable, so a drifted one is refused). One
whose tags do not (none, or another project's or environment's) is adopted only when it is identical
to the request (never a schedule, whose job cannot be compared), as it is, and recorded so: the
output ``adopted: "true"``, which update keeps; the delete of an adopted object leaves it in place
(state only forgets it). Any other is refused. An update or delete refuses an object whose tags name
another project or environment, or that has none (a state entry that points at something mlspec did
not make), except one adopted: update leaves it alone while it is what the request asks for, delete
always; a delete that finds nothing is fine.

Reading compares only what mlspec sets (:data:`COMPARED`: the fields that round-trip through Azure
ML; a reference to a local file, such as a code folder, cannot be read back and is taken as sent,
which is safe because the asset version that holds it is immutable). An archived asset version or
job reads as missing; the SDK's entities do not say whether they are archived, so that is read with a
plain GET of the resource by its ARM id (through the session's Resource Manager client).

Transport: ``MLClient(credential, subscription, resource group, workspace, **client_options)`` hands
its keyword arguments (``transport``, ``polling_interval``, retry settings) to every REST service
client it makes for the workspace's control plane (environments, components, code versions, computes,
jobs, schedules, models, datastores), to its plain ``HttpPipeline`` (the workspace discovery
document) and to the data-plane clients jobs use (run history, where the SDK archives a job), so
those calls go through the session's transport. Schedule operations poll with a fixed 5-second
``AzureMLPolling`` whatever ``polling_interval`` says (it waits through the transport's ``sleep``,
and honours ``Retry-After``). Two kinds of client it makes do NOT get the options: the blob (or ADLS Gen2) storage clients that upload code and
build contexts (``azure.ai.ml._artifacts._blob_storage_helper`` builds a ``BlobServiceClient`` from
the SAS URI the workspace returns, with no further options), and the ARM deployments client of the
component pre-flight validation (not used: ``skip_remote_validation`` stays on). Production needs
neither (they use azure-core's default transport); a test that serves uploads must inject its
transport into the storage client itself (tests/providers/azureml_fake.py does).

Submitting a pipeline job needs a token for the Azure ML audience (``https://ml.azure.com``) from the
same credential (the SDK decodes it and refuses another audience), and records the git commit of the
current directory in the job's properties, as the CLI does.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from mlspec.contract.graph import Address
from mlspec.contract.outputs import sent_payload
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import MlspecError
from mlspec.providers.azure.errors import azure_error, error_code_and_message
from mlspec.providers.azure.session import AzureSession, raw_json
from mlspec.providers.base import DeployRequest, LiveObject, ProviderError, ProviderResult
from mlspec.redaction import printable

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

ENVIRONMENT = "azureml:environment"
COMPONENT = "azureml:component"
COMPUTE = "azureml:compute"
PIPELINE_JOB = "azureml:pipeline_job"
SCHEDULE = "azureml:schedule"
MONITOR_SCHEDULE = "azureml:monitor_schedule"
PROVIDER_TYPES = frozenset({ENVIRONMENT, COMPONENT, COMPUTE, PIPELINE_JOB, SCHEDULE, MONITOR_SCHEDULE})

_WHAT = {
    ENVIRONMENT: "environment",
    COMPONENT: "component",
    COMPUTE: "compute cluster",
    PIPELINE_JOB: "pipeline job",
    SCHEDULE: "schedule",
    MONITOR_SCHEDULE: "monitor schedule",
}
VERSIONED = frozenset({ENVIRONMENT, COMPONENT})

COMPARED: Mapping[str, frozenset[str]] = {
    ENVIRONMENT: frozenset({"name", "version", "image", "description", "tags"}),
    COMPONENT: frozenset(
        {"name", "version", "type", "display_name", "description", "tags", "command", "environment"}
    ),
    COMPUTE: frozenset(
        {
            "name",
            "type",
            "size",
            "tier",
            "min_instances",
            "max_instances",
            "idle_time_before_scale_down",
            "identity",
            "description",
            "tags",
        }
    ),
    PIPELINE_JOB: frozenset({"display_name", "experiment_name", "description", "tags"}),
    SCHEDULE: frozenset({"name", "display_name", "description", "tags", "trigger"}),
    MONITOR_SCHEDULE: frozenset({"name", "display_name", "description", "tags", "trigger"}),
}
"""The fields of each kind read back and compared; every other field of the payload is taken as sent
(a local path, a reference the SDK resolves to an ARM id, a job graph Azure rewrites)."""

ARCHIVE_API = "2023-04-01"
"""The Azure ML API version of the plain GET that reads whether a version or job is archived."""
UNREGISTERED = "unregistered"
_MODEL_VERSION = re.compile(r"[1-9][0-9]{0,9}")
JOB_NAME_LIMIT = 255
_FINISHED_JOB_STATES = frozenset({"Completed", "Failed", "Canceled", "CancelRequested", "Finished"})
"""States in which a run is not cancelled before it is archived (it ended, or is being cancelled)."""
ADOPTED = "adopted"
"""The output (``"true"``) of an object create found already and could not show mlspec made (no
ownership tags, or another project's or environment's) but identical to the request: adopted as it is,
kept adopted by update, and left in place by delete (state only forgets it)."""
PROJECT_TAG = "mlspec-project"
ENV_TAG = "mlspec-env"
UNTAGGED: frozenset[str] = frozenset()
"""Kinds whose SDK entity carries no tags: none today (environments, components, computes, jobs,
schedules and monitor schedules all do). Ownership cannot be read off such an entity, so for a kind
listed here nothing shows that mlspec made an object: a create adopts an existing object only if every
compared field is the request's, and records it as adopted (delete then leaves it in place). A kind is listed here only after checking that Azure ML cannot tag it."""
CONFLICT_ATTEMPTS = 4
CONFLICT_DELAY_SECONDS = 15.0
"""A 409 on a compute or schedule (another operation on it is running) is tried again this many times,
this long apart, times the attempt (the SDK's retry policy retries 408/429/5xx, not 409). A session
whose options set ``polling_interval`` (tests: 0) waits that long instead."""


class AzureMLResources:
    """Creates, reads, updates and deletes the Azure ML workspace's assets, compute, jobs and schedules."""

    provider_types = PROVIDER_TYPES

    def __init__(self, session: AzureSession, project: str) -> None:
        self.session = session
        self.project = project

    @staticmethod
    def handles(provider_type: str) -> bool:
        return provider_type in PROVIDER_TYPES

    @cached_property
    def client(self) -> MLClient:
        from azure.ai.ml import MLClient

        # The SDK warns through logging for every "experimental" class it builds (schedules and monitors
        # are): noise on an apply's output, not something a user of mlspec can act on.
        logging.getLogger("azure.ai.ml._utils._experimental").setLevel(logging.ERROR)
        workspace = self.session.workspace
        name = workspace.require("machine_learning", "deploying Azure ML assets, compute, jobs and schedules")
        options: dict[str, Any] = {"show_progress": False, "enable_telemetry": False}
        options.update(self.session.client_options)
        client = MLClient(
            self.session.credential, workspace.subscription_id, workspace.resource_group, name, **options
        )
        _quiet_schedule_polling(client)
        return client

    # --- the provider operations ---------------------------------------------------------------------

    def read(self, address: Address, current: ResourceState) -> LiveObject | None:
        sent = sent_payload(current.payload, current.resolved, current.sent_attachments)
        properties = sent.properties if isinstance(sent.properties, dict) else {}
        name = self._name_of(address, current.provider_type, properties, current.provider_id)
        live = self._get(address, current.provider_type, name, _version(properties))
        if live is None or self._archived(address, current.provider_type, live):
            return None
        seen = self._seen(current.provider_type, live, properties)
        if seen == properties:
            return LiveObject(sent)
        return LiveObject(Payload(seen, sent.attachments))

    def create(self, request: DeployRequest) -> ProviderResult:
        provider_type = request.provider_type
        properties = _properties(request)
        name = self._name_of(request.address, provider_type, properties, "", request)
        found = self._get(request.address, provider_type, name, _version(properties))
        if found is None:
            return self._put(request, name)
        same = self._seen(provider_type, found, properties) == properties
        if not self._owned(provider_type, found):
            # Not shown to be this project's and environment's (no tags, or another's): an identical
            # one is adopted as it is (sending it would tag it as this project's), and a later delete
            # leaves it in place; a different one is refused. A schedule's job (or monitor) cannot be
            # compared, so a schedule is never shown identical: it is refused.
            if not same or provider_type in (SCHEDULE, MONITOR_SCHEDULE):
                self._check_owned(request.address, provider_type, found, name, properties, "create")
                raise self._differs(request.address, provider_type, name, properties)
            return self._adopt(request.address, provider_type, found, name, properties)
        # This project's and environment's: what a create retried after a lost state write made.
        if provider_type in VERSIONED or provider_type == PIPELINE_JOB:
            if not same and provider_type in VERSIONED:  # immutable: a drifted one cannot be repaired
                raise self._differs(request.address, provider_type, name, properties)
            if self._archived(request.address, provider_type, found):
                self._restore(request.address, provider_type, name, _version(properties))
            if same:
                return self._result(request.address, provider_type, found)
            return self._repair_job(request, found)  # its name, description or tags edited since
        if provider_type == COMPUTE and same:  # every field of the cluster's YAML was compared
            return self._result(request.address, provider_type, found)
        # A drifted cluster is repaired; a schedule's job (or monitor) cannot be compared: it is sent
        # again, over the one found.
        return self._put(request, name)

    def update(self, request: DeployRequest, current: ResourceState) -> ProviderResult:
        provider_type = request.provider_type
        properties = _properties(request)
        name = self._name_of(request.address, provider_type, properties, "", request)
        found = self._get(request.address, provider_type, name, _version(properties))
        if found is not None and not self._owned(provider_type, found):
            # Never sent over another project's (or a hand-made) object: one adopted at create is
            # kept, adopted, while it is what the request asks for; any other update of it is refused.
            if (
                _is_adopted(current)
                and provider_type not in (SCHEDULE, MONITOR_SCHEDULE)
                and self._seen(provider_type, found, properties) == properties
            ):
                return self._adopt(request.address, provider_type, found, name, properties)
            self._check_owned(request.address, provider_type, found, name, properties, "update")
        result = self._updated(request, found, name, properties)
        if _is_adopted(current) and found is not None and not self._owned(provider_type, found):
            result.outputs[ADOPTED] = "true"  # an untagged kind's adopted object: still not mlspec's
        return result

    def _updated(
        self, request: DeployRequest, found: Any, name: str, properties: Mapping[str, Any]
    ) -> ProviderResult:
        provider_type = request.provider_type
        if provider_type in VERSIONED or provider_type == PIPELINE_JOB:
            # A version (a run) is never changed in place: an existing one is what this request made.
            if found is not None and self._seen(provider_type, found, properties) == properties:
                if self._archived(request.address, provider_type, found):
                    self._restore(request.address, provider_type, name, _version(properties))
                return self._result(request.address, provider_type, found)
            if found is not None and provider_type == PIPELINE_JOB:
                return self._repair_job(request, found)
        return self._put(request, name)

    def delete(self, address: Address, current: ResourceState) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        provider_type = current.provider_type
        properties = current.payload.properties if isinstance(current.payload.properties, dict) else {}
        name = self._name_of(address, provider_type, properties, current.provider_id)
        version = _version(properties)
        if _is_adopted(current):
            return  # found at create, not shown to be mlspec's: state forgets it, Azure ML keeps it
        client = self.client
        found = self._get(address, provider_type, name, version)
        if found is None:
            return  # gone already: a retried delete, or removed behind mlspec's back
        self._check_owned(address, provider_type, found, name, properties, "delete")
        with self._sdk_errors(address, "delete", provider_type):
            try:
                if provider_type == ENVIRONMENT:
                    # Azure ML cannot delete an asset version (a job may run on it): archive hides it.
                    client.environments.archive(name, version=version)
                elif provider_type == COMPONENT:
                    client.components.archive(name, version=version)
                elif provider_type == COMPUTE:
                    self._conflicts_retried(lambda: client.compute.begin_delete(name).result())
                elif provider_type == PIPELINE_JOB:
                    status = getattr(found, "status", None)
                    if str(getattr(status, "value", status) or "") not in _FINISHED_JOB_STATES:
                        client.jobs.begin_cancel(name).result()
                    client.jobs.archive(name)
                else:
                    self._conflicts_retried(lambda: client.schedules.begin_disable(name).result())
                    self._conflicts_retried(lambda: client.schedules.begin_delete(name).result())
            except ResourceNotFoundError:
                pass  # gone already: a retried delete, or removed behind mlspec's back

    def describe(self, address: Address, result: ProviderResult) -> str:
        what = {
            "environment": "environment",
            "component": "component",
            "compute": "compute cluster",
            "pipeline": "pipeline job",
            "monitor": "monitor schedule",
        }.get(address.kind, address.kind.replace("_", " "))
        tail = result.provider_id.rstrip("/").split("/")
        shown = ":".join(tail[-3::2]) if len(tail) >= 3 and tail[-2] == "versions" else tail[-1]
        return (
            f"Azure ML {what} {printable(shown or address.name, 200)} in "
            f"{printable(self.session.workspace.machine_learning)}"
        )

    def observe(self, address: Address, current: ResourceState) -> dict[str, str]:
        """The outputs of the recorded resource that change without an apply: a pipeline's newest
        registered model version. None for the other kinds."""
        if current.provider_type != PIPELINE_JOB:
            return {}
        return {"model_version": self.newest_model_version(address, address.name)}

    def newest_model_version(self, address: Address, model: str) -> str:
        """The newest (highest) active version of ``model`` in the workspace, or ``unregistered``."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            versions = [str(m.version) for m in self.client.models.list(name=model)]
        except ResourceNotFoundError:
            return UNREGISTERED
        except HttpResponseError as exc:
            raise azure_error(address, f"read of model {model}", exc, self._role(PIPELINE_JOB)) from None
        numbers = [int(v) for v in versions if _MODEL_VERSION.fullmatch(v)]
        return str(max(numbers)) if numbers else UNREGISTERED

    # --- names ----------------------------------------------------------------------------------------

    def job_name(self, address: Address, request: DeployRequest) -> str:
        """``mlspec-<project>-<env>-<name>-<digest>``: the digest is over the payload's hash and the
        output values replaced into it, so the same request always names the same run."""
        digest = hashlib.sha256(request.payload.hash.encode())
        for key, value in sorted(request.resolved.items()):
            digest.update(f"\0{key}={value}".encode())
        suffix = digest.hexdigest()[:16]
        base = re.sub(
            r"[^A-Za-z0-9_-]",
            "-",
            f"mlspec-{self.project}-{self.session.workspace.environment}-{address.name}",
        )
        return f"{base[: JOB_NAME_LIMIT - len(suffix) - 1]}-{suffix}"

    def _name_of(
        self,
        address: Address,
        provider_type: str,
        properties: Mapping[str, Any],
        provider_id: str,
        request: DeployRequest | None = None,
    ) -> str:
        if provider_type == PIPELINE_JOB:
            if request is not None:
                return self.job_name(address, request)
            return provider_id.rstrip("/").rsplit("/", 1)[-1] or address.name
        return str(properties.get("name") or address.name)

    # --- SDK calls ------------------------------------------------------------------------------------

    def _get(self, address: Address, provider_type: str, name: str, version: str | None) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        client = self.client
        with self._sdk_errors(address, "read", provider_type):
            try:
                if provider_type == ENVIRONMENT:
                    return client.environments.get(name, version=version) if version else None
                if provider_type == COMPONENT:
                    return client.components.get(name, version=version) if version else None
                if provider_type == COMPUTE:
                    return client.compute.get(name)
                if provider_type == PIPELINE_JOB:
                    return client.jobs.get(name)
                return client.schedules.get(name)
            except ResourceNotFoundError:
                return None

    def _put(self, request: DeployRequest, name: str) -> ProviderResult:
        provider_type = request.provider_type
        client = self.client
        with (
            self._sdk_errors(request.address, "create or update", provider_type),
            self._loaded(request) as entity,
        ):
            self._tag(request.address, entity, provider_type)
            if provider_type == ENVIRONMENT:
                made = client.environments.create_or_update(entity)
            elif provider_type == COMPONENT:
                made = client.components.create_or_update(entity)
            elif provider_type == COMPUTE:
                made = self._conflicts_retried(lambda: client.compute.begin_create_or_update(entity).result())
            elif provider_type == PIPELINE_JOB:
                entity.name = name
                made = client.jobs.create_or_update(entity)
            else:
                made = self._conflicts_retried(
                    lambda: client.schedules.begin_create_or_update(entity).result()
                )
        if provider_type == COMPUTE and not _principal_id(made):
            made = self._get(request.address, provider_type, name, None) or made  # filled in on a GET
        return self._result(request.address, provider_type, made)

    def _archived(self, address: Address, provider_type: str, entity: Any) -> bool:
        """Whether an asset version or a job is archived (what mlspec's delete does to them). The SDK's
        entities do not carry the flag, so the resource is read as Azure holds it, by its ARM id."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        if provider_type not in VERSIONED and provider_type != PIPELINE_JOB:
            return False
        resource_id = str(getattr(entity, "id", "") or "") or self._entity_id(provider_type, entity)
        try:
            found = self.session.resources.resources.get_by_id(
                resource_id, api_version=ARCHIVE_API, cls=raw_json
            )
        except ResourceNotFoundError:
            return True  # gone between the two reads: as good as archived
        except HttpResponseError as exc:
            raise azure_error(address, "read", exc, self._role(provider_type)) from None
        properties = found.get("properties") if isinstance(found, dict) else None
        return bool(isinstance(properties, dict) and properties.get("isArchived"))

    def _repair_job(self, request: DeployRequest, found: Any) -> ProviderResult:
        """The run this request submitted, its name, description and tags edited since (in the studio):
        they are set back on the run found (the SDK sends a fetched job's metadata as the studio does,
        to the run history), never by submitting it again."""

        with self._sdk_errors(request.address, "update", PIPELINE_JOB):
            with self._loaded(request) as entity:
                self._tag(request.address, entity, PIPELINE_JOB)
                found.display_name = entity.display_name
                found.description = entity.description
                found.tags = dict(entity.tags or {})
            made = self.client.jobs.create_or_update(found)
        return self._result(request.address, PIPELINE_JOB, made)

    def _restore(self, address: Address, provider_type: str, name: str, version: str | None) -> None:
        from azure.core.exceptions import HttpResponseError

        client = self.client
        try:
            if provider_type == ENVIRONMENT:
                client.environments.restore(name, version=version)
            elif provider_type == COMPONENT:
                client.components.restore(name, version=version)
            else:
                client.jobs.restore(name)
        except HttpResponseError as exc:
            raise azure_error(address, "restore", exc, self._role(provider_type)) from None

    def _result(self, address: Address, provider_type: str, entity: Any) -> ProviderResult:
        provider_id = str(getattr(entity, "id", "") or "") or self._entity_id(provider_type, entity)
        outputs: dict[str, Any] = {}
        if provider_type == COMPUTE:
            principal = _principal_id(entity)
            if not principal:
                raise ProviderError(
                    address,
                    "the compute cluster has no system-assigned identity, so it reports no principal_id",
                    "give the cluster `identity: {type: system_assigned}` (the compiler does), then apply again",
                )
            outputs["principal_id"] = principal
        elif provider_type == PIPELINE_JOB:
            outputs["model_version"] = self.newest_model_version(address, address.name)
        return ProviderResult(provider_id, outputs)

    def _entity_id(self, provider_type: str, entity: Any) -> str:
        """The ARM id of an entity the SDK gives back without one (a schedule)."""
        workspace = self.session.workspace
        name = str(getattr(entity, "name", "") or "")
        segment = {COMPUTE: "computes", PIPELINE_JOB: "jobs"}.get(provider_type, "schedules")
        base = workspace.resource_id(
            "Microsoft.MachineLearningServices/workspaces", workspace.machine_learning
        )
        if provider_type in VERSIONED:
            plural = "environments" if provider_type == ENVIRONMENT else "components"
            return f"{base}/{plural}/{name}/versions/{getattr(entity, 'version', '')}"
        return f"{base}/{segment}/{name}"

    def _conflicts_retried(self, call: Callable[[], Any]) -> Any:
        from azure.core.exceptions import HttpResponseError

        delay = float(self.session.client_options.get("polling_interval", CONFLICT_DELAY_SECONDS))
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                return call()
            except HttpResponseError as exc:
                if getattr(exc, "status_code", None) != 409 or attempt == CONFLICT_ATTEMPTS - 1:
                    raise
            time.sleep(delay * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _loaded(self, request: DeployRequest) -> Iterator[Any]:
        """The entity the SDK's loader makes of the request's primary file, with every file of the
        request beside it at its build-relative path (the loader and the upload read them there)."""
        with tempfile.TemporaryDirectory(prefix="mlspec-aml-") as folder:
            root = Path(folder)
            for relative, content in request.files.items():
                target = root / _safe_relative(request.address, relative)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            if not request.primary_file or request.primary_file not in request.files:
                raise ProviderError(
                    request.address,
                    f"the request ships no {_WHAT[request.provider_type]} YAML (primary file "
                    f"{request.primary_file!r})",
                    "build again: every Azure ML resource is deployed from the YAML the build writes",
                )
            source = root / _safe_relative(request.address, request.primary_file)
            yield _loader(request.provider_type)(source=str(source))

    @property
    def _ownership(self) -> dict[str, str]:
        """The tags that say an object is this project's and environment's."""
        return {PROJECT_TAG: self.project, ENV_TAG: self.session.workspace.environment}

    def _tag(self, address: Address, entity: Any, provider_type: str) -> None:
        """Put mlspec's ownership tags on ``entity`` as it is sent, beside the spec's own (read compares
        only the spec's, so they are no drift, and the payload and its hash stay the build's). They
        replace any ``mlspec-*`` value the YAML gave: ownership is not the spec's to claim."""
        if provider_type in UNTAGGED:
            return
        tags = getattr(entity, "tags", None)
        try:
            entity.tags = {**(tags if isinstance(tags, dict) else {}), **self._ownership}
        except AttributeError:
            raise ProviderError(
                address,
                f"the Azure ML SDK's {_WHAT[provider_type]} takes no tags, so mlspec cannot mark it as "
                "this project's",
                "report this to mlspec: the kind must be listed as untagged",
            ) from None

    def _owned(self, provider_type: str, found: Any) -> bool:
        """Whether ``found``'s ownership tags name this project and environment (mlspec made it)."""
        if provider_type in UNTAGGED:
            return False  # no tags to read: nothing shows that mlspec made it
        tags = getattr(found, "tags", None)
        tags = tags if isinstance(tags, dict) else {}
        return {key: tags.get(key) for key in (PROJECT_TAG, ENV_TAG)} == self._ownership

    def _adopt(
        self, address: Address, provider_type: str, found: Any, name: str, properties: Mapping[str, Any]
    ) -> ProviderResult:
        """The result of an identical object mlspec cannot show it made, adopted as it is (an archived
        version or run restored): marked :data:`ADOPTED`, so its delete leaves it in place."""
        if self._archived(address, provider_type, found):
            self._restore(address, provider_type, name, _version(properties))
        result = self._result(address, provider_type, found)
        result.outputs[ADOPTED] = "true"
        return result

    def _differs(
        self, address: Address, provider_type: str, name: str, properties: Mapping[str, Any]
    ) -> ProviderError:
        return ProviderError(
            address,
            f"another Azure ML {_WHAT[provider_type]} {_shown(name, _version(properties))} already "
            f"exists in {self.session.workspace.machine_learning} and differs from this one; "
            "creating it would overwrite it",
            _refusal_hint(provider_type),
        )

    def _check_owned(
        self,
        address: Address,
        provider_type: str,
        found: Any,
        name: str,
        properties: Mapping[str, Any],
        action: str,
    ) -> None:
        """Refuse to adopt, overwrite or delete an object whose ownership tags do not name this project
        and environment (another project's, or one mlspec did not make)."""
        if provider_type in UNTAGGED:
            return  # no tags to read: the name and the compared fields decide (see UNTAGGED)
        tags = getattr(found, "tags", None)
        tags = tags if isinstance(tags, dict) else {}
        owner = {key: tags.get(key) for key in (PROJECT_TAG, ENV_TAG)}
        if owner == self._ownership:
            return
        shown = _shown(name, _version(properties))
        if owner[PROJECT_TAG] or owner[ENV_TAG]:
            whose = (
                f"belongs to project {printable(str(owner[PROJECT_TAG] or '?'), 80)!r} environment "
                f"{printable(str(owner[ENV_TAG] or '?'), 80)!r} (its mlspec tags say so)"
            )
        else:
            whose = "was not made by mlspec (it has no mlspec-project/mlspec-env tags)"
        workspace = self.session.workspace.machine_learning
        what = f"Azure ML {_WHAT[provider_type]} {printable(shown, 200)} in {workspace}"
        if action == "create":
            raise ProviderError(
                address,
                f"another {what} already exists and {whose}; creating it would take it over",
                _ownership_hint(provider_type),
            )
        if action == "update":
            raise ProviderError(
                address,
                f"the {what} {whose}; updating it would overwrite it",
                _ownership_hint(provider_type),
            )
        raise ProviderError(
            address,
            f"the {what} that the state names {whose}; mlspec does not delete it",
            f"to stop managing it without deleting it, `mlspec state rm {address}`; if it is not "
            "needed, delete it in Azure ML studio yourself",
        )

    def _seen(self, provider_type: str, live: Any, sent: Mapping[str, Any]) -> dict[str, Any]:
        """``sent`` with each compared field replaced by what Azure holds (dropped if Azure has none)."""
        live_dict = _as_dict(live)
        compared = COMPARED[provider_type]
        seen: dict[str, Any] = {}
        for key, value in sent.items():
            if key not in compared:
                seen[key] = value
            elif key in live_dict:
                seen[key] = _shaped(live_dict[key], value)
        return seen

    def _role(self, provider_type: str) -> str:
        workspace = self.session.workspace.machine_learning
        if provider_type == COMPUTE:
            return f"AzureML Compute Operator (or Contributor) on {workspace}"
        return f"AzureML Data Scientist on {workspace}"

    @contextmanager
    def _sdk_errors(self, address: Address, action: str, provider_type: str) -> Iterator[None]:
        """What the SDK raises inside, as one line: an HTTP error response by its code (with the role
        this needs), anything else of the SDK's (MlException, validation, the network) by
        :meth:`_sdk_error`; mlspec's own errors pass as they are."""
        from azure.core.exceptions import HttpResponseError

        try:
            yield
        except HttpResponseError as exc:
            raise azure_error(address, action, exc, self._role(provider_type)) from None
        except MlspecError:
            raise
        except Exception as exc:
            raise self._sdk_error(address, action, exc) from None

    def _sdk_error(self, address: Address, action: str, exc: Exception) -> ProviderError:
        """A one-line error for what the SDK raised that is not an HTTP error response: a YAML its
        loader or validation refused, or Azure ML not reached at all."""
        from azure.core.exceptions import ServiceRequestError, ServiceResponseError

        _, message = error_code_and_message(exc)
        if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
            hint = "Azure ML could not be reached: check the network (and proxy settings), then apply again"
        elif type(exc).__name__ in ("ValidationException", "ValidationError", "SchemaValidationError"):
            hint = "the Azure ML SDK refused the YAML the build wrote: run `mlspec validate` and build again"
        else:
            hint = "apply again; if it fails the same way, the message above is the Azure ML SDK's"
        return ProviderError(address, f"{action} failed ({type(exc).__name__}): {message}", hint)


# --- helpers ----------------------------------------------------------------------------------------


def _quiet_schedule_polling(client: Any) -> None:
    """Schedule operations poll with ``AzureMLPolling``, which prints a dot to stdout at every poll
    (into mlspec's own output, ``--format json`` included): this client's schedule operations poll the
    same way (same interval and URL arguments) without printing. Only this client instance changes."""
    from azure.mgmt.core.polling.arm_polling import ARMPolling

    operations = getattr(client, "_schedules", None)
    make = getattr(operations, "_get_polling", None)
    if operations is None or make is None:
        return

    def quiet(name: str | None) -> Any:
        polling = make(name)
        polling.update_status = lambda: ARMPolling.update_status(polling)
        return polling

    operations._get_polling = quiet


def _loader(provider_type: str) -> Callable[..., Any]:
    from azure.ai.ml import load_component, load_compute, load_environment, load_job
    from azure.ai.ml.entities._load_functions import load_schedule

    loaders: dict[str, Callable[..., Any]] = {
        ENVIRONMENT: load_environment,
        COMPONENT: load_component,
        COMPUTE: load_compute,
        PIPELINE_JOB: load_job,
        SCHEDULE: load_schedule,
        MONITOR_SCHEDULE: load_schedule,
    }
    return loaders[provider_type]


def _is_adopted(current: ResourceState) -> bool:
    """Whether the state records the object as adopted (:data:`ADOPTED`)."""
    return str((current.outputs or {}).get(ADOPTED, "")).lower() == "true"


def _properties(request: DeployRequest) -> dict[str, Any]:
    properties = request.payload.properties
    return dict(properties) if isinstance(properties, dict) else {}


def _version(properties: Mapping[str, Any]) -> str | None:
    version = properties.get("version")
    return None if version is None else str(version)


def _shown(name: str, version: str | None) -> str:
    return f"{name}:{version}" if version else name


def _safe_relative(address: Address, relative: str) -> PurePosixPath:
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ProviderError(address, f"the request names a file outside the build: {printable(relative)!r}")
    return path


def _as_dict(entity: Any) -> dict[str, Any]:
    if isinstance(entity, dict):
        return entity
    try:
        found = entity._to_dict()
    except Exception:  # an entity the SDK cannot dump compares as empty (every compared field drifts)
        return {}
    return found if isinstance(found, dict) else {}


def _shaped(live: Any, sent: Any) -> Any:
    """``live`` cut down to the shape of ``sent`` (the keys mlspec set), with a number or boolean
    Azure returns as a string (or the reverse) read as the type mlspec sent."""
    if isinstance(sent, dict) and isinstance(live, dict):
        return {key: _shaped(live[key], value) for key, value in sent.items() if key in live}
    if isinstance(sent, list) and isinstance(live, list):
        shaped = [_shaped(item, pattern) for item, pattern in zip(live, sent, strict=False)]
        return shaped + live[len(sent) :]
    if isinstance(sent, str) and isinstance(live, (int, float)) and not isinstance(live, bool):
        return sent if sent == str(live) else str(live)
    if isinstance(sent, (int, float)) and not isinstance(sent, bool) and isinstance(live, str):
        try:
            number = type(sent)(live)
        except ValueError:
            return live
        return number if number == sent else live
    if isinstance(sent, str) and isinstance(live, str):
        if sent.lower() == live.lower():
            return sent  # Azure ML spells enums its own way (Dedicated, SystemAssigned...)
        if _ARM_REFERENCE.fullmatch(live) and _short_reference(live) == sent:
            return sent  # the SDK resolved azureml:<name>:<version> to the asset's ARM id
    return live


_ARM_REFERENCE = re.compile(
    r"(?:azureml:)?/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/"
    r"workspaces/[^/]+/(?P<kind>[a-z]+)/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?",
    re.IGNORECASE,
)


def _short_reference(arm_reference: str) -> str:
    """``azureml:<name>:<version>`` (``azureml:<name>`` for a compute) of an asset's ARM id."""
    match = _ARM_REFERENCE.fullmatch(arm_reference)
    if match is None:
        return arm_reference
    version = match["version"]
    return f"azureml:{match['name']}:{version}" if version else f"azureml:{match['name']}"


def _principal_id(entity: Any) -> str:
    identity = getattr(entity, "identity", None)
    return str(getattr(identity, "principal_id", "") or "")


def _refusal_hint(provider_type: str) -> str:
    if provider_type in VERSIONED:
        return (
            "mlspec has no `import`: a version is immutable, so change the spec (a new version) or "
            "archive that version in Azure ML studio and apply again; to keep it, apply the spec that made it"
        )
    return (
        "mlspec has no `import`: to let mlspec own it, delete it in Azure ML studio (or give the spec's "
        "resource another name) and apply again; to keep it, apply the spec that made it"
    )


def _ownership_hint(provider_type: str) -> str:
    if provider_type in VERSIONED:
        return (
            "mlspec has no `import`: rename the spec's resource (its versions are then this project's), "
            "or archive that version in Azure ML studio if nothing uses it, and apply again"
        )
    return (
        "mlspec has no `import`: rename the spec's resource, or delete that one in Azure ML studio if "
        "its owner no longer needs it, and apply again"
    )
