"""A fake of the Azure REST APIs the Azure provider calls, as a transport for the SDKs' own pipeline.

It keeps what was deployed and answers as the services do, in the shapes their REST references give:

- Resource Manager: template deployments at resource-group scope (PUT, answered ``201`` with an
  ``Azure-AsyncOperation`` to poll, ``Running`` once, then ``Succeeded``; the deployment's
  ``outputResources`` and ``outputs``), ``whatIf`` (POST, ``202`` with a ``Location`` polled to the
  result: ``Create``/``NoChange``/``Modify`` with a property delta), a resource's DELETE by id, the
  subscription (its ``tenantId``) and the Application Insights component (its ``ConnectionString``);
- the lake: HEAD of a path through an account's blob endpoint (what ``exists()`` sends), ``200`` for
  the entries of :attr:`FakeAzure.lake`, ``404`` for the rest;
- Synapse artifacts: notebooks and pipelines, PUT/DELETE as long-running operations with a ``Location``,
  GET ``404`` for a missing one.

Template expressions are not evaluated: a name that is an expression gets a GUID derived from it, an
output that reads ``clientId``/``principalId``/``immutableId``/``logsIngestion.endpoint`` a value
derived from the resource's name, stable across calls, as the real ones are.

Every request is recorded (:attr:`FakeAzure.requests`), and :meth:`FakeAzure.fail_next` makes the
next matching requests fail with a given status (throttling, conflicts, outages).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from typing import Any

from tests.azure_http import FakeTransport, Recorded, http_response, recorded

ARM = "management.azure.com"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CONNECTION_STRING = (
    "InstrumentationKey=0f6b4c8e-1a2b-4c3d-9e8f-7a6b5c4d3e2f;"
    "IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/"
)
_DEPLOYMENT = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/Microsoft\.Resources/"
    r"deployments/(?P<name>[^/]+)(?P<what_if>/whatIf)?$",
    re.IGNORECASE,
)
_SYNAPSE = re.compile(r"^/(?P<kind>notebooks|pipelines)/(?P<name>[^/]+)$")
_SYNAPSE_RUN = re.compile(
    r"^(?:/pipelines/(?P<pipeline>[^/]+)/(?:createRun|pipelineruns/(?P<activities_of>[^/]+)/queryActivityruns)"
    r"|/pipelineruns/(?P<run>[^/]+)(?P<cancel>/cancel)?)$"
)


def _guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


class FakeAzure(FakeTransport):
    """Resource Manager and the Synapse workspace artifacts API, in memory. One per test; give it to
    the provider as ``client_options={"transport": fake, "polling_interval": 0}``."""

    def __init__(self, subscription: str, resource_group: str) -> None:
        super().__init__()
        self.subscription = subscription
        self.resource_group = resource_group
        self.resources: dict[str, dict[str, Any]] = {}  # by lower-cased id
        self.ids: dict[str, str] = {}  # lower-cased id -> id as Azure spells it
        self.deployments: dict[str, dict[str, Any]] = {}
        self.artifacts: dict[tuple[str, str], dict[str, Any]] = {}
        self._operations: dict[str, list[tuple[int, Any]]] = {}
        self._counter = 0
        self._deployment_errors: list[dict[str, Any]] = []
        self.resource_group_exists = True
        self.run_statuses: list[str] = ["Queued", "InProgress", "Succeeded"]  # what each poll of a run says
        self.failed_activities: list[dict[str, Any]] = []
        self.pipeline_runs: dict[str, dict[str, Any]] = {}
        self.lake: set[str] = set()  # "<account>/<container>/<path>" of every file and directory there
        self.permissions: list[dict[str, Any]] = [{"actions": ["*"], "notActions": []}]  # an Owner's

    # --- the transport protocol -------------------------------------------------------------------

    def send(self, request: Any, **kwargs: Any) -> Any:
        sent, _ = recorded(request)
        self.requests.append(sent)
        status, headers, answer = self._answer(sent.method, sent.host, sent.path, sent.body)
        payload = b"" if answer is None else json.dumps(answer).encode()
        headers = {
            "Content-Type": "application/json",
            "x-ms-request-id": _guid("request", str(len(self.requests))),
            **headers,
        }
        return http_response(request, status, headers, payload, bool(kwargs.get("stream")))

    # --- what tests use -----------------------------------------------------------------------------

    def fail_next_deployment(self, error: dict[str, Any]) -> None:
        """The next template deployment is accepted, then ends ``Failed`` with ``error`` (what Resource
        Manager reports when a resource in it cannot be made: ``DeploymentFailed`` with ``details``)."""
        self._deployment_errors.append(error)

    def sent(self, method: str | None = None, path_contains: str = "") -> list[Recorded]:
        """The recorded requests, without polls of long-running operations."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method)
            and path_contains in r.path
            and "/operations/" not in r.path
        ]

    def resource(self, resource_id: str) -> dict[str, Any] | None:
        return self.resources.get(resource_id.lower())

    def remove(self, resource_id: str) -> None:
        self.resources.pop(resource_id.lower(), None)

    # --- routing ------------------------------------------------------------------------------------

    def _answer(self, method: str, host: str, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        failure = self.scripted_failure(method, path)
        if failure is not None:
            return failure.answer()
        if "/operations/" in path:
            return self._poll(path)
        if host == ARM:
            try:
                return self._arm(method, path, body)
            except _InvalidTemplate as exc:
                return 400, {}, {"error": {"code": "InvalidTemplate", "message": str(exc)}}
        if host.endswith(".blob.core.windows.net") and method == "HEAD":
            entry = host.split(".", 1)[0] + path.rstrip("/")
            if entry in self.lake:
                return 200, {"x-ms-resource-type": "directory", "Content-Length": "0"}, None
            return 404, {"x-ms-error-code": "BlobNotFound"}, None
        if host.endswith(".dev.azuresynapse.net"):
            return self._synapse(method, host, path, body)
        return 404, {}, {"error": {"code": "NotFound", "message": f"no such host {host}"}}

    def _operation(self, host: str, results: list[tuple[int, Any]]) -> str:
        """A long-running operation that answers ``results`` in turn (the last one stays)."""
        self._counter += 1
        op = f"op{self._counter}"
        self._operations[op] = results
        return f"https://{host}/operations/{op}"

    def _poll(self, path: str) -> tuple[int, dict[str, str], Any]:
        op = path.rsplit("/", 1)[-1]
        results = self._operations[op]
        status, answer = results[0] if len(results) == 1 else results.pop(0)
        return status, {}, answer

    # --- Resource Manager ----------------------------------------------------------------------------

    def _arm(self, method: str, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        if path.lower() == f"/subscriptions/{self.subscription}".lower() and method == "GET":
            return (
                200,
                {},
                {"id": path, "subscriptionId": self.subscription, "tenantId": TENANT, "state": "Enabled"},
            )
        if (
            method == "GET"
            and path.lower() == f"{self._rg_id()}/providers/Microsoft.Resources/deployments".lower()
        ):
            return 200, {}, {"value": list(self.deployments.values())}
        deployment = _DEPLOYMENT.match(path)
        if deployment:
            name = deployment["name"]
            if deployment["what_if"] and method == "POST":
                result = {"status": "Succeeded", "properties": {"changes": self._what_if(body)}}
                location = self._operation(ARM, [(202, None), (200, result)])
                return 202, {"Location": location, "Retry-After": "0"}, None
            if method == "PUT":
                return self._deploy(path, name, body)
            if method == "GET":
                found = self.deployments.get(name.lower())
                return (200, {}, found) if found else (404, {}, _not_found("DeploymentNotFound", name))
            if method == "DELETE":
                if self.deployments.pop(name.lower(), None) is None:
                    return 204, {}, None
                return 202, {"Location": self._operation(ARM, [(204, None)]), "Retry-After": "0"}, None
        if path.lower() == self._rg_id().lower() and method == "GET":
            if not self.resource_group_exists:
                return 404, {}, _not_found("ResourceGroupNotFound", f"Resource group '{self.resource_group}'")
            return 200, {}, {"id": self._rg_id(), "name": self.resource_group, "location": "westeurope"}
        if path.lower() == f"{self._rg_id()}/providers/Microsoft.Authorization/permissions".lower():
            return 200, {}, {"value": self.permissions}
        component = "/providers/microsoft.insights/components/" + path.rsplit("/", 1)[-1].lower()
        if path.lower().endswith(component) and method == "GET":
            return 200, {}, {"id": path, "properties": {"ConnectionString": CONNECTION_STRING}}
        if method == "DELETE":
            if self.resources.pop(path.lower(), None) is None:
                return 204, {}, None
            return 202, {"Location": self._operation(ARM, [(200, None)]), "Retry-After": "0"}, None
        if method == "GET":
            found = self.resources.get(path.lower())
            return (200, {}, found) if found else (404, {}, _not_found("ResourceNotFound", path))
        return 400, {}, {"error": {"code": "BadRequest", "message": f"{method} {path} is not served here"}}

    def _rg_id(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"

    def resource_id_of(self, resource: dict[str, Any]) -> str:
        """The id Resource Manager gives a template resource (names that are expressions become GUIDs)."""
        rtype = str(resource["type"])
        name = str(resource["name"])
        names = [_guid(name)] if name.startswith("[") else name.split("/")
        provider, *segments = rtype.split("/")
        if len(segments) != len(names):
            raise _InvalidTemplate(
                f"The template resource '{name}' for type '{rtype}' has incorrect segment lengths. A nested "
                "resource type must have identical number of segments as its resource name."
            )
        tail = "/".join(f"{s}/{n}" for s, n in zip(segments, names, strict=True))
        scope = resource.get("scope")
        base = self._rg_id() + (f"/providers/{scope}" if scope else "")
        return f"{base}/providers/{provider}/{tail}"

    def _deploy(self, path: str, name: str, body: Any) -> tuple[int, dict[str, str], Any]:
        if self._deployment_errors:
            error = self._deployment_errors.pop(0)
            failed = self._operation(
                ARM, [(200, {"status": "Running"}), (200, {"status": "Failed", "error": error})]
            )
            accepted = {"id": path, "name": name, "properties": {"provisioningState": "Accepted"}}
            return 201, {"Azure-AsyncOperation": failed, "Retry-After": "0"}, accepted
        properties = body["properties"]
        assert properties["mode"] == "Incremental", properties
        template = properties["template"]
        [resource] = template["resources"]
        resource_id = self.resource_id_of(resource)
        self.resources[resource_id.lower()] = {"id": resource_id, **copy.deepcopy(resource)}
        outputs = {
            key: {"type": "String", "value": self._output_value(resource, str(spec["value"]))}
            for key, spec in (template.get("outputs") or {}).items()
        }
        deployment_id = path
        done = {
            "id": deployment_id,
            "name": name,
            "tags": body.get("tags"),
            "properties": {
                "provisioningState": "Succeeded",
                "mode": "Incremental",
                "outputResources": [{"id": resource_id}],
                "outputs": outputs,
            },
        }
        self.deployments[name.lower()] = done
        accepted = {"id": deployment_id, "name": name, "properties": {"provisioningState": "Accepted"}}
        operation = self._operation(ARM, [(200, {"status": "Running"}), (200, {"status": "Succeeded"})])
        return 201, {"Azure-AsyncOperation": operation, "Retry-After": "0"}, accepted

    def _output_value(self, resource: dict[str, Any], expression: str) -> str:
        name = str(resource["name"])
        if expression.endswith(".clientId]"):
            return _guid("client", name.split("/", maxsplit=1)[0])
        if expression.endswith(".principalId]"):
            return _guid("principal", name.split("/", maxsplit=1)[0])
        if expression.endswith(".immutableId]"):
            return "dcr-" + hashlib.md5(name.encode()).hexdigest()
        if expression.endswith(".logsIngestion.endpoint]"):
            return f"https://{name}-x1y2.westeurope-1.ingest.monitor.azure.com"
        raise AssertionError(f"the fake does not know the output {expression}")

    def _what_if(self, body: Any) -> list[dict[str, Any]]:
        [resource] = body["properties"]["template"]["resources"]
        resource_id = self.resource_id_of(resource)
        # As Resource Manager answers in incremental mode: every other resource of the group, which the
        # template leaves alone, is listed too, as Ignore, and before the template's own.
        ignored = [
            {"resourceId": other["id"], "changeType": "Ignore"}
            for key, other in sorted(self.resources.items())
            if key != resource_id.lower()
        ]
        return ignored + self._own_change(resource, resource_id)

    def _own_change(self, resource: dict[str, Any], resource_id: str) -> list[dict[str, Any]]:
        stored = self.resources.get(resource_id.lower())
        if stored is None:
            return [{"resourceId": resource_id, "changeType": "Create", "after": resource}]
        current = {k: v for k, v in stored.items() if k != "id"}
        delta = _delta(current, resource, "")
        if not delta:
            return [{"resourceId": resource_id, "changeType": "NoChange"}]
        return [
            {
                "resourceId": resource_id,
                "changeType": "Modify",
                "before": current,
                "after": resource,
                "delta": delta,
            }
        ]

    # --- Synapse ---------------------------------------------------------------------------------------

    def _pipeline_run(self, method: str, match: re.Match[str], body: Any) -> tuple[int, dict[str, str], Any]:
        if match["pipeline"] and match["activities_of"]:
            return 200, {}, {"value": self.failed_activities}
        if match["pipeline"]:
            if ("pipelines", match["pipeline"]) not in self.artifacts:
                return 404, {}, _not_found("PipelineNotFound", match["pipeline"])
            run_id = _guid("run", match["pipeline"], str(len(self.pipeline_runs)))
            self.pipeline_runs[run_id] = {
                "runId": run_id,
                "pipelineName": match["pipeline"],
                "parameters": body,
                "statuses": list(self.run_statuses),
                "status": "Queued",
            }
            return 202, {}, {"runId": run_id}  # what Synapse answers: accepted, the run queued
        run = self.pipeline_runs.get(match["run"])
        if run is None:
            return 404, {}, _not_found("PipelineRunNotFound", match["run"])
        if match["cancel"]:
            run["status"], run["statuses"], run["cancelled"] = "Cancelled", [], True
            return 200, {}, None
        if run["statuses"]:
            run["status"] = run["statuses"].pop(0)
        return 200, {}, _run_answer(run)

    def _synapse(self, method: str, host: str, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        run = _SYNAPSE_RUN.match(path)
        if run:
            return self._pipeline_run(method, run, body)
        match = _SYNAPSE.match(path)
        if not match:
            return 404, {}, _not_found("NotFound", path)
        workspace = host.split(".", maxsplit=1)[0]
        key = (match["kind"], match["name"])
        if method == "GET":
            found = self.artifacts.get(key)
            if found is None:
                code = "NotebookNotFound" if key[0] == "notebooks" else "PipelineNotFound"
                return 404, {}, _not_found(code, key[1])
            return 200, {}, found
        if method == "PUT":
            kind_type = "Microsoft.Synapse/workspaces/" + key[0]
            stored = {
                "id": f"{self._rg_id()}/providers/Microsoft.Synapse/workspaces/{workspace}/{key[0]}/{key[1]}",
                "type": kind_type,
                "etag": _guid("etag", json.dumps(body, sort_keys=True)),
                **copy.deepcopy(body),
            }
            self.artifacts[key] = stored
            location = self._operation(host, [(202, None), (200, stored)])
            return 202, {"Location": location, "Retry-After": "0"}, None
        if method == "DELETE":
            if self.artifacts.pop(key, None) is None:
                return 204, {}, None
            return 202, {"Location": self._operation(host, [(200, None)]), "Retry-After": "0"}, None
        return 400, {}, {"error": {"code": "BadRequest", "message": f"{method} {path}"}}


class _InvalidTemplate(Exception):
    """What Resource Manager answers 400 InvalidTemplate for."""


def _run_answer(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "runId": run["runId"],
        "pipelineName": run["pipelineName"],
        "status": run["status"],
        "message": run.get("message", ""),
    }


def _not_found(code: str, what: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": f"{what} was not found."}}


def _delta(current: Any, wanted: Any, path: str) -> list[dict[str, Any]]:
    """What-if's property changes from ``current`` (Azure) to ``wanted`` (the template)."""
    if isinstance(current, dict) and isinstance(wanted, dict):
        changes: list[dict[str, Any]] = []
        for key in sorted(set(current) | set(wanted)):
            child = f"{path}.{key}" if path else key
            if key not in current:
                changes.append({"path": child, "propertyChangeType": "Create", "after": wanted[key]})
            elif key not in wanted:
                changes.append({"path": child, "propertyChangeType": "Delete", "before": current[key]})
            else:
                changes.extend(_delta(current[key], wanted[key], child))
        return changes
    if current == wanted:
        return []
    return [{"path": path, "propertyChangeType": "Modify", "before": current, "after": wanted}]
