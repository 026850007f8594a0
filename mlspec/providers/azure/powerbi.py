"""Power BI reports (``powerbi:pbip``): the build's Power BI project published to a Fabric workspace as
two items, its semantic model and its report, through the Fabric REST API; then a refresh of the model.

Why plain REST: the Azure SDK for Python has no Fabric or Power BI client in mlspec's dependency set.
``microsoft-fabric-api`` on PyPI is a pre-release (0.1.0b*, no stable version, no compatibility
promise), and the other packages that call the API are third-party wrappers; so this module talks
to ``https://api.fabric.microsoft.com/v1`` with azure-core's own :class:`~azure.core.PipelineClient`:
the same bearer-token policy, retry policy (408/429/5xx with back-off, honouring ``Retry-After``) and
transport (the tests' fake, through ``client_options["transport"]``) as every SDK client of the
provider. Long-running operations (``202`` with ``Location``/``x-ms-operation-id`` and ``Retry-After``)
are polled at ``GET /v1/operations/{id}`` until ``Succeeded``, then read at ``.../result`` when they
have one.

The project: the payload's properties are the ``.pbip`` file, its attachments the project's other
files (a ``<Name>.SemanticModel/`` folder: ``definition.pbism`` and TMDL; a ``<Name>.Report/`` folder:
``definition.pbir`` and PBIR JSON). Each folder's files are one item's definition ``parts``, by their
path in the folder, base64 inline. The Fabric API takes a report that names its model by connection
only, so the report's ``definition.pbir`` is sent with its local ``byPath`` reference replaced by a
``byConnection`` one to the model's id (parsed, changed, serialized as the build writes JSON); reading
undoes that before comparing, so the rewrite is no drift.

Idempotence and ownership: items are found by type and display name (the folder's name) in the
workspace, and mlspec publishes them with a description naming the project and environment
(``Published by mlspec (<project>, <env>)``). A create that finds an item of that name with this
project's and environment's description adopts it as its own (the retry of an interrupted apply) and
brings its definition to the request if it differs; one without it (made by hand, or by another
project or environment) is adopted when its definition is the one it would send, recorded with the
outputs ``adopted: "true"`` and ``adopted_items`` (kept by update), and refused when it differs
(mlspec has no import). Delete (and an update's removal of items it moved away from) leaves an
adopted item in place: state only forgets it. Reading compares the parts mlspec sends and nothing else (Fabric adds ``.platform`` and
parts of its own): a part Fabric holds differently is drift, reported as the content hash it has now
in the payload's attachments (a part gone from Fabric drops out of them); a missing item is ``None``.
Ids are recorded: the provider id is the report's URL in the API, the outputs hold the workspace,
model and report ids, so reading and deleting need no look-up by name.

Fabric re-serialises the parts it stores (CRLF or LF line endings, JSON re-indented and its keys
reordered, a final newline added or dropped), so parts are compared by a normal form, not by their
bytes (:func:`normal_form`): a JSON part (``.json``, ``.pbir``, ``.pbism``, ``.pbip``) as the data it
parses to, any other (TMDL) as text with its line endings made LF and the whitespace at its end
ignored. A part whose normal form is what was sent is no drift (the sent hash is reported); any other
reports the live bytes' hash. The state holds only the hashes of the bytes sent, so create and update
record the digest of each part's normal form as sent in the ``part_digests`` output (a JSON object,
by attachment path); reading a state written before it was recorded re-renders the live part as the
build writes its files (two-space JSON in the part's own key order, text ending in one newline) and
compares that with the sent hash, which tells line endings and whitespace, not a reordering of keys.

The refresh: after publishing, the model's refresh is requested through the Power BI REST API (the
Fabric API has no refresh). It is queued, not awaited (a refresh takes minutes to hours). A refused
request fails the operation with a ProviderError that says the items *were* published: state then does
not record them, and the next apply adopts the published items (no second publish) and asks again,
so the failure stays visible until it is fixed; an empty dashboard would otherwise pass as deployed.

The workspace is named by the spec (``reports[].workspace``), per report; the provider is given the
names by report address (``workspaces``) and looks the id up (``GET /v1/workspaces``, paged).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from mlspec.contract.graph import Address, content_hash
from mlspec.contract.outputs import sent_payload
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.providers.azure.errors import azure_error
from mlspec.providers.azure.session import AzureSession
from mlspec.providers.base import DeployRequest, LiveObject, ProviderError, ProviderResult
from mlspec.redaction import printable

if TYPE_CHECKING:
    from azure.core import PipelineClient
    from azure.core.pipeline.transport import HttpTransport
    from azure.core.rest import HttpResponse

PROVIDER_TYPE = "powerbi:pbip"
FABRIC_API = "https://api.fabric.microsoft.com/v1"
FABRIC_SCOPE = "https://api.fabric.microsoft.com/.default"
POWERBI_API = "https://api.powerbi.com/v1.0/myorg"
POWERBI_SCOPE = "https://analysis.windows.net/powerbi/api/.default"
SEMANTIC_MODEL = "SemanticModel"
REPORT = "Report"
MODEL_SUFFIX = ".SemanticModel"
REPORT_SUFFIX = ".Report"
PBIR = "definition.pbir"
PBISM = "definition.pbism"
DEFAULT_POLL_SECONDS = 5.0
MAX_POLLS = 720
"""Polls of one long-running operation before giving up (an hour at Fabric's usual Retry-After)."""

_NEEDS = (
    "Contributor (or Member, Admin) on the Power BI workspace {workspace!r}, and the tenant setting "
    "that lets service principals use Fabric APIs"
)


class NotFound(Exception):
    """A 404 from the Fabric or Power BI API."""


@dataclass(frozen=True)
class Layout:
    """Where the project's two items are among the build's files: each folder's build path and the
    item's display name (the folder's name without its suffix)."""

    model_folder: str
    report_folder: str

    @property
    def model_name(self) -> str:
        return posixpath.basename(self.model_folder).removesuffix(MODEL_SUFFIX)

    @property
    def report_name(self) -> str:
        return posixpath.basename(self.report_folder).removesuffix(REPORT_SUFFIX)

    def parts(self, folder: str, paths: Iterable[str]) -> list[str]:
        """The build paths of ``folder``'s files, sorted."""
        return sorted(p for p in paths if p.startswith(folder + "/"))


@dataclass(frozen=True)
class Ids:
    workspace: str
    model: str
    report: str


class PowerBIReports:
    """Publishes, reads and deletes Power BI projects (a semantic model and its report) in Fabric."""

    provider_types = frozenset({PROVIDER_TYPE})

    def __init__(
        self, session: AzureSession, project: str, workspaces: Mapping[str, str] | None = None
    ) -> None:
        self.session = session
        self.project = project
        self.workspaces: Mapping[str, str] = workspaces if workspaces is not None else {}
        """The Power BI workspace of each report, by address (the spec's ``reports[].workspace``)."""
        self._workspace_ids: dict[str, str] = {}

    @staticmethod
    def handles(provider_type: str) -> bool:
        return provider_type == PROVIDER_TYPE

    # --- the provider operations ---------------------------------------------------------------------

    def read(self, address: Address, current: ResourceState) -> LiveObject | None:
        sent = sent_payload(current.payload, current.resolved, current.sent_attachments)
        layout = layout_of(address, sent.properties, sent.attachments)
        ids = self._recorded_ids(address, current, layout)
        if ids is None:
            return None
        try:
            model = self._get_definition(address, ids.workspace, ids.model, SEMANTIC_MODEL)
            report = self._get_definition(address, ids.workspace, ids.report, REPORT)
        except NotFound:
            return None
        digests = recorded_digests(current.outputs)
        live = dict(sent.attachments)
        for folder, parts in ((layout.model_folder, model), (layout.report_folder, report)):
            for path in layout.parts(folder, sent.attachments):
                relative = path[len(folder) + 1 :]
                content = parts.get(relative)
                if content is None:
                    del live[path]  # gone from Fabric
                    continue
                compared: bytes | None = content
                if relative == PBIR and folder == layout.report_folder:
                    compared = restore_by_path(content, ids.model, layout)  # None: bound elsewhere
                if compared is None or not same_part(path, compared, sent.attachments[path], digests):
                    live[path] = content_hash([content])
        if live == dict(sent.attachments):
            return LiveObject(sent)
        return LiveObject(Payload(sent.properties, live))

    def create(self, request: DeployRequest) -> ProviderResult:
        address = request.address
        layout = layout_of(address, request.payload.properties, request.files)
        workspace = self._workspace_id(address, self._workspace_name(address))
        model_parts = self._parts(request, layout.model_folder)
        model, model_adopted = self._adopt_or_create(
            address, workspace, SEMANTIC_MODEL, layout.model_name, model_parts
        )
        report_parts = self._report_parts(request, layout, model)
        report, report_adopted = self._adopt_or_create(
            address, workspace, REPORT, layout.report_name, report_parts
        )
        adopted = {item for item, was in ((SEMANTIC_MODEL, model_adopted), (REPORT, report_adopted)) if was}
        return self._published(address, Ids(workspace, model, report), request, adopted)

    def update(self, request: DeployRequest, current: ResourceState) -> ProviderResult:
        address = request.address
        layout = layout_of(address, request.payload.properties, request.files)
        workspace = self._workspace_id(address, self._workspace_name(address))
        recorded = self._recorded_ids(address, current, layout)
        was_adopted = adopted_items(current.outputs)
        if recorded is None or recorded.workspace != workspace:  # moved to another workspace
            result = self.create(request)
            if recorded is not None:
                self._delete_items(address, recorded, was_adopted)
            return result
        model_parts = self._parts(request, layout.model_folder)
        model, model_kept = self._update_or_create(
            address, workspace, recorded.model, SEMANTIC_MODEL, layout.model_name, model_parts
        )
        report_parts = self._report_parts(request, layout, model)
        report, report_kept = self._update_or_create(
            address, workspace, recorded.report, REPORT, layout.report_name, report_parts
        )
        # An item updated in place stays as adopted as it was; one published again (it was gone) is
        # adopted only if what was found at its name had to be.
        adopted = {
            item
            for item, kept in ((SEMANTIC_MODEL, model_kept), (REPORT, report_kept))
            if (kept is None and item in was_adopted) or kept
        }
        return self._published(address, Ids(workspace, model, report), request, adopted)

    def delete(self, address: Address, current: ResourceState) -> None:
        sent = sent_payload(current.payload, current.resolved, current.sent_attachments)
        ids = self._recorded_ids(address, current, layout_of(address, sent.properties, sent.attachments))
        if ids is not None:
            self._delete_items(address, ids, adopted_items(current.outputs))

    def describe(self, address: Address, result: ProviderResult) -> str:
        workspace = self.workspaces.get(str(address)) or result.outputs.get("workspace_id", "?")
        return (
            f"Power BI report {printable(address.name, 120)} and its semantic model in workspace "
            f"{printable(str(workspace), 120)} ({printable(result.provider_id, 200)})"
        )

    # --- publishing ---------------------------------------------------------------------------------

    def _published(
        self, address: Address, ids: Ids, request: DeployRequest, adopted: set[str]
    ) -> ProviderResult:
        self._refresh(address, ids)
        layout = layout_of(address, request.payload.properties, request.files)
        sent = {
            path: request.files[path]
            for folder in (layout.model_folder, layout.report_folder)
            for path in layout.parts(folder, request.files)
        }
        outputs = {
            "workspace_id": ids.workspace,
            "semantic_model_id": ids.model,
            "report_id": ids.report,
            PART_DIGESTS: part_digests(sent),
        }
        if adopted:
            outputs[ADOPTED] = "true"
            outputs[ADOPTED_ITEMS] = ",".join(sorted(adopted))
        return ProviderResult(f"{FABRIC_API}/workspaces/{ids.workspace}/reports/{ids.report}", outputs)

    def _adopt_or_create(
        self, address: Address, workspace: str, item_type: str, name: str, parts: dict[str, bytes]
    ) -> tuple[str, bool]:
        """The id of the item ``name``, and whether it is adopted: one found that this project and
        environment published (its description is mlspec's marker: brought to ``parts``, since Fabric
        may hold a part as it rewrote it, or drifted since) is mlspec's; one found without the marker
        (made by hand, or by another project or environment) is adopted when it is identical, refused
        when it is not; else one is created now (mlspec's)."""
        item = self._find_item(address, workspace, item_type, name)
        if item is None:
            return self._create_item(address, workspace, item_type, name, parts), False
        found = str(item["id"])
        try:
            live = self._get_definition(address, workspace, found, item_type)
        except NotFound:  # deleted between the list and the read
            return self._create_item(address, workspace, item_type, name, parts), False
        differing = sorted(path for path, content in parts.items() if live.get(path) != content)
        if item.get("description") == self._marker:
            if differing:
                item_id, adopted = self._update_or_create(address, workspace, found, item_type, name, parts)
                return item_id, bool(adopted)
            return found, False
        if differing:
            raise ProviderError(
                address,
                f"another {_what(item_type)} {printable(name, 120)!r} already exists in Power BI workspace "
                f"{self._workspace_name(address)!r} and differs from this one "
                f"({', '.join(printable(p, 80) for p in differing[:3])}); publishing would overwrite it",
                "mlspec has no `import`: to let mlspec own it, delete it in the workspace (or rename the "
                "report in the spec) and apply again; to keep it, apply the spec that made it",
            )
        # Identical, but its description does not show that this project and environment published
        # it: adopted (recorded so), and a later delete leaves it in place.
        return found, True

    def _update_or_create(
        self,
        address: Address,
        workspace: str,
        item_id: str,
        item_type: str,
        name: str,
        parts: dict[str, bytes],
    ) -> tuple[str, bool | None]:
        """The id of the item once brought to ``parts``, and whether it is adopted: ``None`` when it
        is the item ``item_id`` (updated in place: as adopted as it was), else whether the item found
        or created at its name instead (it was gone) is."""
        try:
            self._lro(
                address,
                f"update of the {_what(item_type)}'s definition",
                "POST",
                f"{FABRIC_API}/workspaces/{workspace}/items/{item_id}/updateDefinition",
                {"definition": definition(parts)},
                result=False,
            )
        except NotFound:  # deleted behind mlspec's back: publish it again
            return self._adopt_or_create(address, workspace, item_type, name, parts)
        return item_id, None

    def _create_item(
        self, address: Address, workspace: str, item_type: str, name: str, parts: dict[str, bytes]
    ) -> str:
        body = {
            "displayName": name,
            "type": item_type,
            "description": self._marker,
            "definition": definition(parts),
        }
        try:
            created = self._lro(
                address,
                f"create of the {_what(item_type)}",
                "POST",
                f"{FABRIC_API}/workspaces/{workspace}/items",
                body,
            )
        except NotFound:
            raise ProviderError(
                address,
                f"Power BI workspace {self._workspace_name(address)!r} ({workspace}) is gone",
                "create the workspace (or grant the deploying identity access) and apply again",
            ) from None
        item_id = created.get("id") if isinstance(created, dict) else None
        if not item_id:
            raise ProviderError(address, f"Fabric created the {_what(item_type)} but reported no id")
        return str(item_id)

    def _report_parts(self, request: DeployRequest, layout: Layout, model_id: str) -> dict[str, bytes]:
        parts = self._parts(request, layout.report_folder)
        if PBIR not in parts:
            raise ProviderError(request.address, f"the project has no {layout.report_folder}/{PBIR}")
        parts[PBIR] = by_connection(request.address, parts[PBIR], model_id, layout)
        return parts

    def _parts(self, request: DeployRequest, folder: str) -> dict[str, bytes]:
        paths = [p for p in request.files if p.startswith(folder + "/")]
        if not paths:
            raise ProviderError(request.address, f"the build ships no file of {folder}")
        return {p[len(folder) + 1 :]: request.files[p] for p in sorted(paths)}

    def _refresh(self, address: Address, ids: Ids) -> None:
        try:
            self._call(
                address,
                "refresh request of the semantic model",
                "POST",
                f"{POWERBI_API}/groups/{ids.workspace}/datasets/{ids.model}/refreshes",
                {"notifyOption": "NoNotification"},
                api="powerbi",
            )
        except (NotFound, ProviderError) as exc:
            cause = exc.diagnostics[0].message if isinstance(exc, ProviderError) else "404 (not found)"
            raise ProviderError(
                address,
                f"the report and its semantic model were published, but Power BI refused to refresh the "
                f"model: {cause.removeprefix(f'{address}: ')}",
                "give the model's data source credentials (or a connection) in the workspace's semantic "
                "model settings, or grant the deploying identity Dataset.ReadWrite.All, then apply again "
                "(it publishes nothing twice)",
            ) from None

    def _delete_items(self, address: Address, ids: Ids, adopted: frozenset[str]) -> None:
        """Delete the report, then the model, except an adopted one (found at create, not shown to
        be mlspec's: state forgets it, the workspace keeps it)."""
        for item_id, item_type in ((ids.report, REPORT), (ids.model, SEMANTIC_MODEL)):
            if not item_id or item_type in adopted:
                continue
            # a missing item was deleted already: a retried delete, or removed behind mlspec's back
            with contextlib.suppress(NotFound):
                self._call(
                    address,
                    f"delete of the {_what(item_type)}",
                    "DELETE",
                    f"{FABRIC_API}/workspaces/{ids.workspace}/items/{item_id}",
                )

    # --- look-ups -----------------------------------------------------------------------------------

    def _workspace_name(self, address: Address) -> str:
        name = self.workspaces.get(str(address))
        if not name:
            raise ProviderError(
                address,
                "no Power BI workspace is named for this report",
                "set reports[].workspace in the spec and build again",
            )
        return name

    def _workspace_id(self, address: Address, name: str) -> str:
        if name in self._workspace_ids:
            return self._workspace_ids[name]
        listed = list(self._paged(address, "list of workspaces", f"{FABRIC_API}/workspaces"))
        exact = [w for w in listed if w.get("displayName") == name and w.get("id")]
        folded = [w for w in listed if str(w.get("displayName", "")).casefold() == name.casefold()]
        matches = exact or [w for w in folded if w.get("id")]
        if not matches:
            raise ProviderError(
                address,
                f"no Power BI workspace {printable(name, 120)!r} is visible to the deploying identity",
                "create the workspace (on a Fabric or Premium capacity) or, if it exists, add the "
                "deploying identity to it as Contributor (or Member, Admin), then apply again",
            )
        self._workspace_ids[name] = str(matches[0]["id"])
        return self._workspace_ids[name]

    def _find_item(
        self, address: Address, workspace: str, item_type: str, name: str
    ) -> dict[str, Any] | None:
        url = f"{FABRIC_API}/workspaces/{workspace}/items"
        for item in self._paged(address, f"list of {_what(item_type)}s", url, {"type": item_type}):
            if item.get("type") == item_type and item.get("displayName") == name and item.get("id"):
                return item
        return None

    @property
    def _marker(self) -> str:
        """The description of the items mlspec publishes: whose they are (project and environment)."""
        return f"Published by mlspec ({self.project}, {self.session.workspace.environment})"

    def _recorded_ids(self, address: Address, current: ResourceState, layout: Layout) -> Ids | None:
        """The ids apply recorded (outputs; the provider id holds workspace and report); ``None`` when
        state has none, as a state entry written by hand may not."""
        outputs = current.outputs or {}
        workspace = str(outputs.get("workspace_id") or "")
        report = str(outputs.get("report_id") or "")
        model = str(outputs.get("semantic_model_id") or "")
        segments = current.provider_id.removeprefix(FABRIC_API).strip("/").split("/")
        if len(segments) == 4 and segments[0] == "workspaces" and segments[2] == "reports":
            workspace, report = workspace or segments[1], report or segments[3]
        if not (workspace and report):
            return None
        if not model:
            found = self._find_item(address, workspace, SEMANTIC_MODEL, layout.model_name)
            if found is None:
                return None
            model = str(found["id"])
        return Ids(workspace, model, report)

    def _get_definition(
        self, address: Address, workspace: str, item_id: str, item_type: str
    ) -> dict[str, bytes]:
        """The item's definition parts, decoded, by path; NotFound when the item is gone."""
        params = {"format": "TMDL"} if item_type == SEMANTIC_MODEL else None
        answer = self._lro(
            address,
            f"read of the {_what(item_type)}'s definition",
            "POST",
            f"{FABRIC_API}/workspaces/{workspace}/items/{item_id}/getDefinition",
            None,
            params=params,
        )
        parts = ((answer or {}).get("definition") or {}).get("parts") if isinstance(answer, dict) else None
        decoded: dict[str, bytes] = {}
        for part in parts or []:
            if isinstance(part, dict) and part.get("path") and part.get("payloadType") == "InlineBase64":
                decoded[str(part["path"])] = base64.b64decode(str(part.get("payload") or ""))
        return decoded

    # --- HTTP ---------------------------------------------------------------------------------------

    @cached_property
    def transport(self) -> HttpTransport:  # type: ignore[type-arg]
        from azure.core.pipeline.transport import RequestsTransport

        given: HttpTransport | None = self.session.client_options.get("transport")  # type: ignore[type-arg]
        return given if given is not None else RequestsTransport()

    @cached_property
    def fabric(self) -> PipelineClient:  # type: ignore[type-arg]
        return self._client(FABRIC_API, FABRIC_SCOPE)

    @cached_property
    def powerbi(self) -> PipelineClient:  # type: ignore[type-arg]
        return self._client(POWERBI_API, POWERBI_SCOPE)

    def _client(self, base_url: str, scope: str) -> PipelineClient:  # type: ignore[type-arg]
        from azure.core import PipelineClient
        from azure.core.pipeline import policies

        options = {k: v for k, v in self.session.client_options.items() if k != "transport"}
        pipeline_policies = [
            policies.RequestIdPolicy(**options),
            policies.HeadersPolicy(**options),
            policies.UserAgentPolicy(sdk_moniker="mlspec-powerbi", **options),
            policies.RetryPolicy(**options),
            policies.BearerTokenCredentialPolicy(self.session.credential, scope, **options),
            policies.HttpLoggingPolicy(**options),
        ]
        return PipelineClient(base_url, policies=pipeline_policies, transport=self.transport)

    def _call(
        self,
        address: Address,
        action: str,
        method: str,
        url: str,
        body: Any = None,
        *,
        params: Mapping[str, str] | None = None,
        api: str = "fabric",
    ) -> HttpResponse:
        """One request through the pipeline (retried there); NotFound on 404, a ProviderError on any
        other failure."""
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        request = HttpRequest(method, url, params=dict(params or {}), json=body)
        client = self.fabric if api == "fabric" else self.powerbi
        try:
            response: HttpResponse = client.send_request(request)
        except AzureError as exc:  # the connection failed, after the retries
            raise azure_error(address, action, exc) from None
        if response.status_code == 404:
            raise NotFound(url)
        if response.status_code >= 400:
            raise azure_error(address, action, _api_error(response), self._needs(address)) from None
        return response

    def _paged(
        self, address: Address, action: str, url: str, params: Mapping[str, str] | None = None
    ) -> Iterable[dict[str, Any]]:
        query = dict(params or {})
        while True:
            try:
                page = _json(self._call(address, action, "GET", url, params=query))
            except NotFound:
                return
            page = page if isinstance(page, dict) else {}
            for item in page.get("value") or []:
                if isinstance(item, dict):
                    yield item
            token = page.get("continuationToken")
            if not token:
                return
            query = {**dict(params or {}), "continuationToken": str(token)}

    def _lro(
        self,
        address: Address,
        action: str,
        method: str,
        url: str,
        body: Any,
        *,
        params: Mapping[str, str] | None = None,
        result: bool = True,
    ) -> Any:
        """Send, and when Fabric answers ``202``, poll the operation until it ends; its result (the
        response body when there was no operation), or ``None`` when ``result`` is false."""
        response = self._call(address, action, method, url, body, params=params)
        if response.status_code != 202:
            return _json(response) if result else None
        operation = response.headers.get("Location") or (
            f"{FABRIC_API}/operations/{response.headers['x-ms-operation-id']}"
            if response.headers.get("x-ms-operation-id")
            else ""
        )
        if not operation:
            raise ProviderError(address, f"{action}: Fabric accepted it but named no operation to follow")
        for _ in range(MAX_POLLS):
            self.transport.sleep(self._delay(response))
            response = self._call(address, action, "GET", operation)
            state = _json(response)
            status = str(state.get("status", "")) if isinstance(state, dict) else ""
            if status == "Succeeded":
                if not result:
                    return None
                where = response.headers.get("Location") or f"{operation.rstrip('/')}/result"
                return _json(self._call(address, action, "GET", where))
            if status in ("Failed", "Cancelled", "Canceled"):
                error = state.get("error") if isinstance(state, dict) else None
                failure = _api_error(response, error if isinstance(error, dict) else {}, status=None)
                raise azure_error(address, f"{action} (operation {status.lower()})", failure)
        raise ProviderError(
            address, f"{action}: the operation {operation} did not finish after {MAX_POLLS} polls"
        )

    def _delay(self, response: HttpResponse) -> float:
        header = response.headers.get("Retry-After")
        try:
            return max(0.0, float(header)) if header else self._polling_interval
        except ValueError:
            return self._polling_interval

    @property
    def _polling_interval(self) -> float:
        return float(self.session.client_options.get("polling_interval", DEFAULT_POLL_SECONDS))

    def _needs(self, address: Address) -> str:
        return _NEEDS.format(workspace=self.workspaces.get(str(address)) or "of the report")


# --- the project -------------------------------------------------------------------------------------


def layout_of(address: Address, properties: Any, paths: Iterable[str]) -> Layout:
    """The model and report folders of the project whose ``.pbip`` is ``properties``, among ``paths``
    (the build's files, or the attachments): the report the ``.pbip`` names, and the one semantic
    model beside it."""
    artifacts = properties.get("artifacts") if isinstance(properties, dict) else None
    reports = [
        str(a["report"]["path"])
        for a in artifacts or []
        if isinstance(a, dict) and isinstance(a.get("report"), dict) and a["report"].get("path")
    ]
    if len(reports) != 1:
        raise ProviderError(address, f"the .pbip names {len(reports)} reports; mlspec publishes exactly one")
    report = reports[0].strip("/")
    all_paths = list(paths)
    pbirs = [p for p in all_paths if p == f"{report}/{PBIR}" or p.endswith(f"/{report}/{PBIR}")]
    if len(pbirs) != 1:
        raise ProviderError(address, f"the project ships no {report}/{PBIR}")
    report_folder = pbirs[0].removesuffix(f"/{PBIR}")
    root = posixpath.dirname(report_folder)
    models = [
        p.removesuffix(f"/{PBISM}")
        for p in all_paths
        if p.endswith(f"{MODEL_SUFFIX}/{PBISM}") and posixpath.dirname(posixpath.dirname(p)) == root
    ]
    if len(models) != 1:
        raise ProviderError(
            address, f"the project has {len(models)} semantic models beside its report, not one"
        )
    return Layout(models[0], report_folder)


def definition(parts: Mapping[str, bytes]) -> dict[str, Any]:
    """An item definition as the Fabric API takes it: every part inline, base64."""
    return {
        "parts": [
            {
                "path": path,
                "payload": base64.b64encode(content).decode("ascii"),
                "payloadType": "InlineBase64",
            }
            for path, content in sorted(parts.items())
        ]
    }


ADOPTED = "adopted"
"""The output (``"true"``) of a project create found an item of (or both) already, identical, without
the description that shows this project and environment published it: adopted; update keeps the mark,
and delete leaves the adopted items in place (state only forgets them)."""
ADOPTED_ITEMS = "adopted_items"
"""Which items are adopted (item types, comma-separated: ``Report``, ``SemanticModel``)."""


def adopted_items(outputs: Mapping[str, Any] | None) -> frozenset[str]:
    """The item types a state entry records as adopted; both when it is marked :data:`ADOPTED` but
    does not say which (nothing is deleted that may not be mlspec's)."""
    found = outputs or {}
    if str(found.get(ADOPTED, "")).lower() != "true":
        return frozenset()
    listed = str(found.get(ADOPTED_ITEMS, ""))
    items = frozenset(item.strip() for item in listed.split(",") if item.strip())
    return items & {SEMANTIC_MODEL, REPORT} or frozenset({SEMANTIC_MODEL, REPORT})


JSON_SUFFIXES = (".json", ".pbir", ".pbism", ".pbip")
PART_DIGESTS = "part_digests"
"""The output that records the digest of each part's normal form as sent (:func:`part_digests`)."""
_BOM = b"\xef\xbb\xbf"


def normal_form(path: str, content: bytes) -> bytes:
    """What a part is, whatever Fabric's serialisation of it: a JSON part (by its suffix) the data it
    parses to (canonical: keys sorted, no whitespace, a float with an integral value as that integer);
    any other part (TMDL), or a JSON part that does not parse, its text with a leading byte order mark
    dropped, CRLF and CR made LF and the whitespace at its end removed."""
    import orjson

    text = content.removeprefix(_BOM)
    if path.lower().endswith(JSON_SUFFIXES):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            return b"json:" + orjson.dumps(_integral(data), option=orjson.OPT_SORT_KEYS)
    return b"text:" + text.replace(b"\r\n", b"\n").replace(b"\r", b"\n").rstrip()


def part_digest(path: str, content: bytes) -> str:
    """A digest of the part's :func:`normal_form` (128 bits of SHA-256: it tells a change, in state)."""
    return hashlib.sha256(normal_form(path, content)).hexdigest()[:32]


def part_digests(parts: Mapping[str, bytes]) -> str:
    """The :data:`PART_DIGESTS` output: each part's :func:`part_digest`, by path, as compact JSON."""
    import orjson

    digests = {path: part_digest(path, content) for path, content in parts.items()}
    return orjson.dumps(digests, option=orjson.OPT_SORT_KEYS).decode()


def recorded_digests(outputs: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The :data:`PART_DIGESTS` a state entry records; ``None`` when it has none (written before they
    were recorded, or edited by hand)."""
    import orjson

    text = (outputs or {}).get(PART_DIGESTS)
    if not isinstance(text, str):
        return None
    try:
        found = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        return None
    return found


def same_part(path: str, live: bytes, sent_hash: str, digests: Mapping[str, str] | None) -> bool:
    """Whether the part Fabric holds at ``path`` is the one that was sent (whose bytes hash to
    ``sent_hash``): the same bytes, or the same :func:`normal_form` (by the recorded digest; without
    one, the live part rendered as the build writes its files has the sent bytes)."""
    if content_hash([live]) == sent_hash:
        return True
    if digests is not None and path in digests:
        return part_digest(path, live) == digests[path]
    normal = normal_form(path, live)
    if normal.startswith(b"json:"):
        import orjson

        return content_hash([_json_bytes(orjson.loads(live.removeprefix(_BOM)))]) == sent_hash
    return content_hash([normal.removeprefix(b"text:") + b"\n"]) == sent_hash


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def connection_string(model_id: str) -> str:
    return f"semanticmodelid={model_id}"


def by_connection(address: Address, pbir: bytes, model_id: str, layout: Layout) -> bytes:
    """``definition.pbir`` with its ``byPath`` reference to the project's model replaced by a
    ``byConnection`` one to the published model (the only kind the Fabric API takes)."""
    import orjson

    try:
        document = orjson.loads(pbir)
    except orjson.JSONDecodeError:
        raise ProviderError(address, f"{layout.report_folder}/{PBIR} is not JSON") from None
    reference = document.get("datasetReference") if isinstance(document, dict) else None
    by_path = reference.get("byPath") if isinstance(reference, dict) else None
    if not isinstance(by_path, dict) or not _is_model_path(by_path.get("path"), layout):
        raise ProviderError(
            address,
            f"{layout.report_folder}/{PBIR} does not reference the project's semantic model by path",
            "the build writes `byPath` to ../<name>.SemanticModel: build again",
        )
    document["datasetReference"] = {"byConnection": {"connectionString": connection_string(model_id)}}
    return _json_bytes(document)


def restore_by_path(pbir: bytes, model_id: str, layout: Layout) -> bytes | None:
    """The inverse of :func:`by_connection` on a ``definition.pbir`` read from Fabric: the file the build
    wrote, when Fabric's references the model ``model_id``; ``None`` when it references anything else."""
    import orjson

    try:
        document = orjson.loads(pbir)
    except orjson.JSONDecodeError:
        return None
    reference = document.get("datasetReference") if isinstance(document, dict) else None
    connection = reference.get("byConnection") if isinstance(reference, dict) else None
    text = str(connection.get("connectionString", "")) if isinstance(connection, dict) else ""
    fields = {
        key.strip().lower(): value.strip().strip('"')
        for key, _, value in (item.partition("=") for item in text.split(";"))
    }
    if fields.get("semanticmodelid", "").lower() != model_id.lower():
        return None
    relative = posixpath.relpath(layout.model_folder, layout.report_folder)
    document["datasetReference"] = {"byPath": {"path": relative}}
    return _json_bytes(document)


def _is_model_path(path: Any, layout: Layout) -> bool:
    if not isinstance(path, str):
        return False
    resolved = posixpath.normpath(posixpath.join(layout.report_folder, path))
    return resolved == layout.model_folder


def _json_bytes(document: Any) -> bytes:
    """JSON as the build writes it (two-space indent, keys in their order, a final newline)."""
    import orjson

    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def _json(response: HttpResponse) -> Any:
    try:
        return response.json() if response.content else None
    except ValueError:
        return None


class ApiError(Exception):
    """A Fabric or Power BI error, in the shape :func:`azure_error` reads (``status_code``, ``error``)."""

    def __init__(self, status_code: int | None, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error = SimpleNamespace(code=code, message=message, details=None)


def _api_error(
    response: HttpResponse, error: Mapping[str, Any] | None = None, status: int | None = -1
) -> ApiError:
    """The error of a response (``{"errorCode", "message"}``, or ``{"error": {"code", "message"}}``),
    or ``error`` (a failed operation's), with the response's status unless ``status`` is given."""
    body = error if error is not None else _json(response)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    body = body if isinstance(body, dict) else {}
    code = str(body.get("errorCode") or body.get("code") or "")
    message = str(body.get("message") or response.reason or "")
    return ApiError(response.status_code if status == -1 else status, code, message)


def _what(item_type: str) -> str:
    return "semantic model" if item_type == SEMANTIC_MODEL else "report"
