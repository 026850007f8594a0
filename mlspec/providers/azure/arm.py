"""ARM resources (alert rules, action groups, data collection, log tables, the retrain workflow, role
assignments, federated credentials): each is deployed as a one-resource template, in incremental mode.

Why deployments and not a plain PUT of each resource: the compiler writes ARM template resources, whose
values hold template expressions (``[resourceId(...)]``, ``[reference(...).principalId]``,
``[guid(...)]``) that only Resource Manager evaluates. One deployment per resource (named after the
address, so a rerun overwrites the same deployment record) keeps mlspec's graph the order of work and
lets a failed resource stop only its dependants.

Drift is what-if: the same template is sent to ``whatIf``, and Resource Manager says whether the
resource is missing (``Create``: deleted behind mlspec's back), unchanged (``NoChange``/``Ignore``) or
changed (``Modify``: the delta's ``before`` values are what Azure holds now, put back into the payload
at their paths). Properties Azure holds that the template does not set (``Delete`` in incremental
mode) and changes what-if marks ``NoEffect`` are not drift: mlspec does not manage them.

Outputs: a producer's template has ``outputs`` that read them (``reference(...).clientId``); the
resource id is the deployment's ``outputResources`` entry.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from mlspec.contract.graph import Address
from mlspec.contract.outputs import sent_payload
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.providers.azure.errors import azure_error
from mlspec.providers.azure.session import AzureSession, raw_json
from mlspec.providers.base import DeployRequest, LiveObject, ProviderError, ProviderResult
from mlspec.redaction import printable

PREFIX = "arm:"
TEMPLATE_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
DEPLOYMENT_NAME_LIMIT = 64
DEPLOYER_ROLE = "Contributor (or Microsoft.Resources/deployments/*) on the resource group"
IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
IDENTITY_API = "2023-01-31"

API_VERSIONS: Mapping[str, str] = {
    "Microsoft.Authorization/roleAssignments": "2022-04-01",
    "Microsoft.Insights/actionGroups": "2023-01-01",
    "Microsoft.Insights/dataCollectionEndpoints": "2022-06-01",
    "Microsoft.Insights/dataCollectionRules": "2022-06-01",
    "Microsoft.Insights/metricAlerts": "2018-03-01",
    "Microsoft.Insights/scheduledQueryRules": "2023-12-01",
    "Microsoft.Logic/workflows": "2019-05-01",
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials": IDENTITY_API,
    "Microsoft.OperationalInsights/workspaces/tables": "2022-10-01",
}
"""The API version of each type the compiler emits, for a resource that names none (the compiler's
resources always do; an older state entry or a hand-made manifest may not)."""

_NO_DRIFT = frozenset({"NoChange", "Ignore"})
_DRIFT_IGNORED = frozenset({"NoEffect", "Delete"})


def _identity_output(attribute: str) -> Callable[[dict[str, Any]], str]:
    def expression(resource: dict[str, Any]) -> str:
        identity = str(resource.get("name", "")).split("/")[0]
        return f"[reference(resourceId('{IDENTITY_TYPE}', '{identity}'), '{IDENTITY_API}').{attribute}]"

    return expression


def _own_output(path: str) -> Callable[[dict[str, Any]], str]:
    def expression(resource: dict[str, Any]) -> str:
        names = ", ".join(f"'{n}'" for n in str(resource.get("name", "")).split("/"))
        return f"[reference(resourceId('{resource['type']}', {names}), '{resource['apiVersion']}').{path}]"

    return expression


OUTPUT_EXPRESSIONS: Mapping[str, Mapping[str, Callable[[dict[str, Any]], str]]] = {
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials": {
        "client_id": _identity_output("clientId"),
        "principal_id": _identity_output("principalId"),
    },
    "Microsoft.Insights/dataCollectionEndpoints": {
        "logs_ingestion_endpoint": _own_output("logsIngestion.endpoint")
    },
    "Microsoft.Insights/dataCollectionRules": {"immutable_id": _own_output("immutableId")},
}
"""The template outputs each producing type reports (:data:`mlspec.contract.outputs.PRODUCERS`)."""


class ArmResources:
    """Deploys, reads (what-if) and deletes ARM template resources in the environment's resource group."""

    def __init__(self, session: AzureSession, project: str) -> None:
        self.session = session
        self.project = project

    @staticmethod
    def handles(provider_type: str) -> bool:
        return provider_type.startswith(PREFIX)

    # --- the provider operations ---------------------------------------------------------------------

    def read(self, address: Address, current: ResourceState) -> LiveObject | None:
        sent = sent_payload(current.payload, current.resolved, current.sent_attachments)
        resource = self.resource_of(address, current.provider_type, sent.properties)
        result = self._what_if(address, resource)
        change = _change_for(result, current.provider_id)
        change_type = str(change.get("changeType", "")) if change else "Create"
        if change_type == "Create":
            return None
        if change_type in _NO_DRIFT:
            return LiveObject(sent)
        live = copy.deepcopy(sent.properties)
        for delta in (change or {}).get("delta") or []:
            _put_back(live, delta)
        if live == sent.properties:  # every difference was one mlspec does not manage
            return LiveObject(sent)
        return LiveObject(Payload(live, sent.attachments))

    def create(self, request: DeployRequest) -> ProviderResult:
        resource = self.resource_of(request.address, request.provider_type, request.payload.properties)
        change = _change_for(self._what_if(request.address, resource), None)
        change_type = str(change.get("changeType", "Create")) if change else "Create"
        if change_type not in ("Create", *_NO_DRIFT):
            shown = "; ".join(_delta_line(d) for d in ((change or {}).get("delta") or [])[:3])
            raise ProviderError(
                request.address,
                f"another {resource['type']} already exists at {change.get('resourceId') if change else '?'}"
                f"{f' ({shown})' if shown else ''}; deploying this one would change it",
                "mlspec has no `import`: to let mlspec own it, delete it in Azure (or give the spec's "
                "resource another name) and apply again; to keep it, apply the spec that made it",
            )
        return self._deploy(request.address, resource)

    def update(self, request: DeployRequest, current: ResourceState) -> ProviderResult:
        return self._deploy(
            request.address,
            self.resource_of(request.address, request.provider_type, request.payload.properties),
        )

    def delete(self, address: Address, current: ResourceState) -> None:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        if current.provider_id.lower().rstrip("/") in self.session.workspace.own_resource_ids():
            raise ProviderError(
                address,
                f"refusing to delete {current.provider_id}: it is one of the environment's own resources, "
                "which mlspec deploys into and never deletes",
                "the state was edited to point at it: `mlspec state rm` the address, then plan again",
            )
        properties = current.payload.properties if isinstance(current.payload.properties, dict) else {}
        resource_type = current.provider_type.removeprefix(PREFIX)
        api_version = str(properties.get("apiVersion") or API_VERSIONS.get(resource_type, ""))
        if current.provider_id.startswith("/"):
            try:
                self.session.resources.resources.begin_delete_by_id(
                    current.provider_id, api_version=api_version
                ).result()
            except ResourceNotFoundError:
                pass  # deleted already: a retried delete, or removed behind mlspec's back
            except HttpResponseError as exc:
                raise azure_error(address, f"delete of {current.provider_id}", exc, DEPLOYER_ROLE) from None
        try:  # the deployment record is mlspec's too; a missing one is fine
            self.session.deployments.deployments.begin_delete(
                self.session.workspace.resource_group, self.deployment_name(address)
            ).result()
        except ResourceNotFoundError:
            pass
        except HttpResponseError as exc:
            raise azure_error(address, "delete of its deployment record", exc, DEPLOYER_ROLE) from None

    def describe(self, address: Address, result: ProviderResult) -> str:
        return f"ARM resource {printable(result.provider_id, 300)}"

    # --- templates ------------------------------------------------------------------------------------

    def deployment_name(self, address: Address) -> str:
        """``mlspec-<project>-<env>-<address>``, readable where it fits in 64 characters, always unique
        (a digest of the address ends it when it must be cut)."""
        base = f"mlspec-{self.project}-{self.session.workspace.environment}-{address}"
        name = re.sub(r"[^-\w.()]", "-", base)
        if len(name) <= DEPLOYMENT_NAME_LIMIT:
            return name
        digest = hashlib.sha256(str(address).encode()).hexdigest()[:12]
        return f"{name[: DEPLOYMENT_NAME_LIMIT - len(digest) - 1]}-{digest}"

    def resource_of(self, address: Address, provider_type: str, properties: Any) -> dict[str, Any]:
        """The template resource to deploy: the payload with its name (the address's), type and API
        version filled in where it has none, and mlspec's ownership tags where the resource has tags."""
        resource = copy.deepcopy(properties) if isinstance(properties, dict) else {}
        resource.setdefault("name", address.name)
        resource.setdefault("type", provider_type.removeprefix(PREFIX))
        resource.setdefault("apiVersion", API_VERSIONS.get(str(resource["type"]), ""))
        if isinstance(resource.get("tags"), dict):
            resource["tags"] = {
                **resource["tags"],
                "mlspec-project": self.project,
                "mlspec-env": self.session.workspace.environment,
            }
        return resource

    def template(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        """A template of ``resource`` alone. ``dependsOn`` goes: the resources it names are deployed by
        their own deployments, before this one (mlspec's graph orders them)."""
        body = {k: v for k, v in resource.items() if k != "dependsOn"}
        outputs = {
            attribute: {"type": "string", "value": expression(body)}
            for attribute, expression in OUTPUT_EXPRESSIONS.get(str(body.get("type")), {}).items()
        }
        template: dict[str, Any] = {
            "$schema": TEMPLATE_SCHEMA,
            "contentVersion": "1.0.0.0",
            "resources": [body],
        }
        if outputs:
            template["outputs"] = outputs
        return template

    def _deploy(self, address: Address, resource: dict[str, Any]) -> ProviderResult:
        from azure.core.exceptions import HttpResponseError

        workspace = self.session.workspace
        body: Any = {
            "properties": {"mode": "Incremental", "template": self.template(resource)},
            "tags": {
                "mlspec-project": self.project,
                "mlspec-env": workspace.environment,
                "mlspec-address": str(address),
            },
        }
        try:
            deployment = self.session.deployments.deployments.begin_create_or_update(
                workspace.resource_group, self.deployment_name(address), body, cls=raw_json
            ).result()
        except HttpResponseError as exc:
            raise azure_error(address, "deploy", exc, DEPLOYER_ROLE) from None
        properties: dict[str, Any] = (
            (deployment.get("properties") or {}) if isinstance(deployment, dict) else {}
        )
        ids = [str(r.get("id")) for r in properties.get("outputResources") or [] if isinstance(r, dict)]
        if not ids:
            raise ProviderError(address, "the deployment succeeded but reports no resource it deployed")
        outputs = {
            attribute: str(value.get("value"))
            for attribute, value in (properties.get("outputs") or {}).items()
            if isinstance(value, dict)
        }
        return ProviderResult(ids[0], outputs)

    def _what_if(self, address: Address, resource: dict[str, Any]) -> dict[str, Any]:
        from azure.core.exceptions import HttpResponseError

        body: Any = {"properties": {"mode": "Incremental", "template": self.template(resource)}}
        try:
            result = self.session.deployments.deployments.begin_what_if(
                self.session.workspace.resource_group, self.deployment_name(address), body, cls=raw_json
            ).result()
        except HttpResponseError as exc:
            raise azure_error(address, "what-if", exc, DEPLOYER_ROLE) from None
        return result if isinstance(result, dict) else {}


def _change_for(result: Mapping[str, Any], resource_id: str | None) -> dict[str, Any] | None:
    """The what-if change of the template's one resource (of ``resource_id`` when known)."""
    changes = [c for c in (result.get("properties") or {}).get("changes") or [] if isinstance(c, dict)]
    if resource_id:
        for change in changes:
            if str(change.get("resourceId", "")).lower() == resource_id.lower():
                return change
    return changes[0] if changes else None


def _put_back(live: Any, delta: Mapping[str, Any], prefix: str = "") -> None:
    """Write what Azure holds (``before``) at the delta's path into ``live``, the sent payload."""
    kind = str(delta.get("propertyChangeType", ""))
    path = str(delta.get("path", ""))
    full = f"{prefix}.{path}" if prefix and path else (path or prefix)
    if kind in _DRIFT_IGNORED or not full:
        return
    if kind == "Array" and delta.get("children"):
        for child in delta["children"]:
            _put_back(live, child, full)
        return
    parts = _path_parts(full)
    parent: Any = live
    for part in parts[:-1]:
        parent = parent[part] if _has(parent, part) else None
        if parent is None:
            return
    last = parts[-1]
    if kind == "Create":  # in the template, not in Azure: gone behind mlspec's back
        if isinstance(parent, dict):
            parent.pop(last, None)
        elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
            parent.pop(last)
        return
    if isinstance(parent, dict) or _has(parent, last):
        parent[last] = delta.get("before")


def _path_parts(path: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in path.split(".") if p]


def _has(container: Any, part: str | int) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and part < len(container)


def _delta_line(delta: Mapping[str, Any]) -> str:
    return printable(f"{delta.get('path')}: {delta.get('before')!r} in Azure", 120)
