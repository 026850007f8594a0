"""A fake of the Fabric REST API (``api.fabric.microsoft.com/v1``) and of the Power BI REST API's
refresh (``api.powerbi.com/v1.0/myorg``), as a transport for azure-core's own pipeline.

It answers in the shapes the REST references give: workspaces and items listed in pages
(``continuationToken``), items created and their definitions read (``getDefinition``) and replaced
(``updateDefinition``) as long-running operations (``202`` with ``Location``, ``x-ms-operation-id``
and ``Retry-After``; the operation ``Running`` once, then ``Succeeded`` with a ``Location`` to its
``/result``), errors as ``{"requestId", "errorCode", "message"}``. Like the service, it refuses a
second item of a type and name in a workspace (``409 ItemDisplayNameAlreadyInUse``) and a report whose
``definition.pbir`` references its model by path (``400``: the API takes ``byConnection`` only), and
``getDefinition`` returns a ``.platform`` part of its own besides the parts it was sent.

Fabric stores a part as it re-serialises it, not as it was sent: :func:`resaved` does that to a part
(CRLF line endings; JSON re-indented with four spaces, its keys sorted, no final newline; text with an
extra final line break), :meth:`FakeFabric.resave` to an item's stored parts, and
:attr:`FakeFabric.resave_parts` to every definition as the fake stores it (create, updateDefinition).

Every request is recorded (:attr:`FakeFabric.requests`); :meth:`FakeFabric.fail_next` fails the next
matching requests; :attr:`FakeFabric.slept` holds what the pipeline and the poller waited.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.azure_http import FakeTransport, Recorded, http_response, recorded

FABRIC = "api.fabric.microsoft.com"
POWERBI = "api.powerbi.com"
PLATFORM = b'{"$schema": "https://developer.microsoft.com/json-schemas/fabric/gitIntegration/platformProperties/2.0.0/schema.json"}\n'

_ITEMS = re.compile(r"^/v1/workspaces/(?P<ws>[^/]+)/items$")
_ITEM = re.compile(
    r"^/v1/workspaces/(?P<ws>[^/]+)/items/(?P<id>[^/]+)(?P<verb>/getDefinition|/updateDefinition)?$"
)
_OPERATION = re.compile(r"^/v1/operations/(?P<op>[^/]+)(?P<result>/result)?$")
_REFRESH = re.compile(r"^/v1\.0/myorg/groups/(?P<ws>[^/]+)/datasets/(?P<id>[^/]+)/refreshes$")


@dataclass
class Item:
    id: str
    workspace: str
    type: str
    display_name: str
    description: str
    parts: dict[str, bytes] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "displayName": self.display_name,
            "description": self.description,
            "workspaceId": self.workspace,
        }


@dataclass
class _Operation:
    polls: int
    result: Any
    failure: dict[str, Any] | None = None


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], Any]:
    return status, {}, {"requestId": str(uuid.uuid4()), "errorCode": code, "message": message}


class FakeFabric(FakeTransport):
    """Workspaces, items and their definitions, in memory."""

    def __init__(self, workspaces: dict[str, str], page_size: int = 2, retry_after: str = "3") -> None:
        super().__init__()
        self.workspaces = dict(workspaces)  # id -> display name
        self.items: dict[str, Item] = {}
        self.refreshes: list[tuple[str, str]] = []
        self.page_size = page_size
        self.retry_after = retry_after
        self.fail_operations = 0  # the next N long-running operations end Failed
        self.resave_parts = False  # store every definition re-serialised, as Fabric does (resaved)
        self._operations: dict[str, _Operation] = {}
        self._counter = 0

    # --- the transport protocol -------------------------------------------------------------------

    def send(self, request: Any, **kwargs: Any) -> Any:
        sent, _ = recorded(request)
        self.requests.append(sent)
        status, headers, answer = self._answer(sent.method, sent.host, sent.path, sent.query, sent.body)
        content = b"" if answer is None else json.dumps(answer).encode()
        return http_response(request, status, {"Content-Type": "application/json", **headers}, content)

    # --- what tests use -----------------------------------------------------------------------------

    def sent(self, method: str | None = None, path_contains: str = "") -> list[Recorded]:
        """The recorded requests, without the polls of long-running operations."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method)
            and path_contains in r.path
            and "/operations/" not in r.path
        ]

    def polls(self) -> list[Recorded]:
        return [r for r in self.requests if "/operations/" in r.path]

    def item(self, item_type: str, name: str) -> Item | None:
        return next((i for i in self.items.values() if i.type == item_type and i.display_name == name), None)

    def resave(self, item: Item, *, sort_keys: bool = True) -> None:
        """Fabric re-saved the item's parts (:func:`resaved`)."""
        item.parts = {
            path: resaved(path, content, sort_keys=sort_keys) for path, content in item.parts.items()
        }

    def _stored_parts(self, definition: dict[str, Any]) -> dict[str, bytes]:
        parts = _decoded(definition)
        if self.resave_parts:
            parts = {path: resaved(path, content) for path, content in parts.items()}
        return parts

    def plant(self, workspace: str, item_type: str, name: str, parts: dict[str, bytes]) -> Item:
        """An item made without mlspec (by hand, by another project)."""
        self._counter += 1
        item = Item(
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"planted/{self._counter}")),
            workspace,
            item_type,
            name,
            "",
            dict(parts),
        )
        self.items[item.id] = item
        return item

    # --- routing ------------------------------------------------------------------------------------

    def _answer(
        self, method: str, host: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        failure = self.scripted_failure(method, path)
        if failure is not None:
            answered = _error(failure.status, failure.code, failure.message)
            return answered[0], failure.headers, answered[2]
        if host == POWERBI:
            return self._powerbi(method, path, body)
        assert host == FABRIC, host
        operation = _OPERATION.match(path)
        if operation and method == "GET":
            return self._poll(operation["op"], bool(operation["result"]))
        if path == "/v1/workspaces" and method == "GET":
            listed = [{"id": i, "displayName": n, "type": "Workspace"} for i, n in self.workspaces.items()]
            return self._page(listed, query)
        items = _ITEMS.match(path)
        if items:
            if items["ws"] not in self.workspaces:
                return _error(404, "WorkspaceNotFound", "The requested workspace was not found")
            if method == "GET":
                listed = [
                    i.json()
                    for i in self.items.values()
                    if i.workspace == items["ws"] and (not query.get("type") or i.type == query["type"])
                ]
                return self._page(listed, query)
            if method == "POST":
                return self._create(items["ws"], body)
        item = _ITEM.match(path)
        if item:
            found = self.items.get(item["id"])
            if found is None or found.workspace != item["ws"]:
                return _error(404, "ItemNotFound", "The requested item was not found")
            if method == "DELETE" and not item["verb"]:
                del self.items[found.id]
                return 200, {}, None
            if method == "POST" and item["verb"] == "/getDefinition":
                parts = {**found.parts, ".platform": PLATFORM}
                return self._accepted({"definition": {"parts": _encoded(parts)}})
            if method == "POST" and item["verb"] == "/updateDefinition":
                problem = self._check(found.workspace, found.type, body["definition"])
                if problem:
                    return _error(400, "InvalidDefinition", problem)
                found.parts = self._stored_parts(body["definition"])
                return self._accepted(None)
        return _error(400, "BadRequest", f"{method} {path} is not served here")

    def _page(self, listed: list[dict[str, Any]], query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        start = int(query.get("continuationToken", "0"))
        page: dict[str, Any] = {"value": listed[start : start + self.page_size]}
        if start + self.page_size < len(listed):
            page["continuationToken"] = str(start + self.page_size)
            page["continuationUri"] = f"https://{FABRIC}/v1/...?continuationToken={start + self.page_size}"
        return 200, {}, page

    def _create(self, workspace: str, body: Any) -> tuple[int, dict[str, str], Any]:
        item_type, name = body["type"], body["displayName"]
        if any(
            i.workspace == workspace and i.type == item_type and i.display_name == name
            for i in self.items.values()
        ):
            return _error(409, "ItemDisplayNameAlreadyInUse", f"Requested '{name}' is already in use")
        problem = self._check(workspace, item_type, body["definition"])
        if problem:
            return _error(400, "InvalidDefinition", problem)
        self._counter += 1
        item = Item(
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"{workspace}/{item_type}/{name}/{self._counter}")),
            workspace,
            item_type,
            name,
            str(body.get("description", "")),
            self._stored_parts(body["definition"]),
        )
        self.items[item.id] = item
        return self._accepted(item.json())

    def _check(self, workspace: str, item_type: str, definition: dict[str, Any]) -> str:
        for part in definition["parts"]:
            if part.get("payloadType") != "InlineBase64":
                return f"part {part.get('path')} is not InlineBase64"
        parts = _decoded(definition)
        if item_type == "SemanticModel" and "definition.pbism" not in parts:
            return "a semantic model needs definition.pbism"
        if item_type == "Report":
            pbir = json.loads(parts["definition.pbir"])
            reference = pbir["datasetReference"]
            if "byConnection" not in reference:
                return "Fabric REST API only supports byConnection references"
            model = reference["byConnection"]["connectionString"].removeprefix("semanticmodelid=")
            found = self.items.get(model)
            if found is None or found.type != "SemanticModel" or found.workspace != workspace:
                return f"semantic model {model} not found"
        return ""

    def _accepted(self, result: Any) -> tuple[int, dict[str, str], Any]:
        self._counter += 1
        op = str(uuid.uuid5(uuid.NAMESPACE_URL, f"operation/{self._counter}"))
        failure = None
        if self.fail_operations:
            self.fail_operations -= 1
            failure = {"errorCode": "OperationFailed", "message": "The operation failed on purpose"}
        self._operations[op] = _Operation(polls=0, result=result, failure=failure)
        headers = {
            "Location": f"https://{FABRIC}/v1/operations/{op}",
            "x-ms-operation-id": op,
            "Retry-After": self.retry_after,
        }
        return 202, headers, None

    def _poll(self, op: str, result: bool) -> tuple[int, dict[str, str], Any]:
        operation = self._operations[op]
        if result:
            if operation.result is None:
                return _error(400, "OperationHasNoResult", "The operation has no result")
            return 200, {}, operation.result
        operation.polls += 1
        if operation.polls == 1:
            return 200, {"Retry-After": "1"}, {"status": "Running", "percentComplete": 50}
        if operation.failure:
            return 200, {}, {"status": "Failed", "error": operation.failure}
        return 200, {"Location": f"https://{FABRIC}/v1/operations/{op}/result"}, {"status": "Succeeded"}

    def _powerbi(self, method: str, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        refresh = _REFRESH.match(path)
        if refresh and method == "POST":
            model = self.items.get(refresh["id"])
            if model is None or model.type != "SemanticModel" or model.workspace != refresh["ws"]:
                return 404, {}, {"error": {"code": "ItemNotFound", "message": "Dataset not found"}}
            self.refreshes.append((refresh["ws"], refresh["id"]))
            return 202, {"RequestId": str(uuid.uuid4())}, None
        return 400, {}, {"error": {"code": "BadRequest", "message": f"{method} {path}"}}


def _encoded(parts: dict[str, bytes]) -> list[dict[str, str]]:
    return [
        {"path": p, "payload": base64.b64encode(c).decode(), "payloadType": "InlineBase64"}
        for p, c in sorted(parts.items())
    ]


def _decoded(definition: dict[str, Any]) -> dict[str, bytes]:
    return {p["path"]: base64.b64decode(p["payload"]) for p in definition["parts"]}


def resaved(path: str, content: bytes, *, sort_keys: bool = True) -> bytes:
    """``content`` as Fabric re-saves a part: a JSON one (``.json``, ``.pbir``, ``.pbism``, ``.pbip``)
    re-indented with four spaces, its keys sorted (unless ``sort_keys`` is false), CRLF line endings
    and no final newline; any other (TMDL) with CRLF line endings and one more line break at its end."""
    if path.endswith((".json", ".pbir", ".pbism", ".pbip")):
        text = json.dumps(json.loads(content), indent=4, sort_keys=sort_keys, ensure_ascii=False)
        return text.replace("\n", "\r\n").encode()
    return content.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + b"\r\n"
