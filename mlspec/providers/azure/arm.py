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
from mlspec.redaction import printable, redact

PREFIX = "arm:"
TEMPLATE_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
DEPLOYMENT_NAME_LIMIT = 64
DEPLOYER_ROLE = "Contributor (or Microsoft.Resources/deployments/*) on the resource group"
ROLE_ASSIGNER = (
    "Role Based Access Control Administrator (or Owner) on the resource group, besides Contributor: "
    "Contributor cannot write role assignments"
)
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

ADOPTED = "adopted"
"""The output that marks a resource mlspec found identical at its name and did not make: a delete
leaves it in Azure (another project, or a person, may be using it) and only forgets it."""

_NO_DRIFT = frozenset({"NoChange"})
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
        live = live_properties(sent.properties, (change or {}).get("delta") or [])
        if live == sent.properties:  # every difference was one mlspec does not manage
            return LiveObject(sent)
        return LiveObject(Payload(live, sent.attachments))

    def create(self, request: DeployRequest) -> ProviderResult:
        resource = self.resource_of(request.address, request.provider_type, request.payload.properties)
        change = _change_for(self._what_if(request.address, resource), None)
        change_type = str(change.get("changeType", "Create")) if change else "Create"
        resource_id = str((change or {}).get("resourceId") or "")
        exists = change_type != "Create"
        ours = exists and self._made_by_mlspec(request.address, resource_id, request.payload.hash)
        if exists and change_type not in _NO_DRIFT and not ours:
            shown = "; ".join(_delta_line(d) for d in ((change or {}).get("delta") or [])[:3])
            raise ProviderError(
                request.address,
                f"another {resource['type']} already exists at {change.get('resourceId') if change else '?'}"
                f"{f' ({shown})' if shown else ''}; deploying this one would change it",
                "mlspec has no `import`: to let mlspec own it, delete it in Azure (or give the spec's "
                "resource another name) and apply again; to keep it, apply the spec that made it",
            )
        # An identical resource mlspec cannot show it made (another project's of the same name, such as
        # the shared monitoring table or a grant both give, or one made by hand) is adopted: deployed
        # again (a no-op), and recorded as adopted, so a destroy leaves it where it is.
        return self._deploy(request.address, resource, request.payload.hash, adopted=exists and not ours)

    def update(self, request: DeployRequest, current: ResourceState) -> ProviderResult:
        return self._deploy(
            request.address,
            self.resource_of(request.address, request.provider_type, request.payload.properties),
            request.payload.hash,
            adopted=_adopted(current),
        )

    def _made_by_mlspec(self, address: Address, resource_id: str, payload_hash: str = "") -> bool:
        """Whether mlspec's own deployment record of ``address`` lists ``resource_id`` — for ``payload_hash``
        when one is given: a create retried after its state write was lost, which finds its resource
        drifted, repairs it; one made for another payload is refused — or, for a delete, whether the
        resource carries this project's and environment's ``mlspec-*`` tags."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        if not resource_id:
            return False
        workspace = self.session.workspace
        try:
            record = self.session.deployments.deployments.get(
                workspace.resource_group, self.deployment_name(address), cls=raw_json
            )
        except ResourceNotFoundError:
            record = None
        except AzureError as exc:
            raise azure_error(address, "reading its deployment record", exc, DEPLOYER_ROLE) from None
        if isinstance(record, dict):
            tags = record.get("tags") or {}
            listed = {
                str(r.get("id", "")).lower()
                for r in (record.get("properties") or {}).get("outputResources") or []
                if isinstance(r, dict)
            }
            same_payload = not payload_hash or tags.get("mlspec-hash") == payload_hash
            made_it = tags.get("mlspec-adopted") != "true"  # a record of an adoption proves nothing
            if self._is_ours(tags, address) and resource_id.lower() in listed and same_payload and made_it:
                return True
        return not payload_hash and self._tagged_ours(address, resource_id)

    def _is_ours(self, tags: Mapping[str, Any], address: Address) -> bool:
        """Whether a deployment record's tags name this project, environment and address."""
        return (
            tags.get("mlspec-project") == self.project
            and tags.get("mlspec-env") == self.session.workspace.environment
            and tags.get("mlspec-address") == str(address)
        )

    def _others_using(self, address: Address, resource_id: str) -> list[str]:
        """The other mlspec deployments (another project, environment or address) whose records list
        ``resource_id``: a resource they share (the monitoring table every project writes to, a grant two
        projects give) stays while one of them still has it."""
        from azure.core.exceptions import AzureError

        wanted = resource_id.lower()
        users: list[str] = []
        try:
            records = self.session.deployments.deployments.list_by_resource_group(
                self.session.workspace.resource_group
            )
            for record in records:
                tags = dict(record.tags or {})
                if "mlspec-address" not in tags or self._is_ours(tags, address):
                    continue
                listed = (
                    {str(r.id or "").lower() for r in (record.properties.output_resources or [])}
                    if record.properties
                    else set()
                )
                if wanted in listed:  # one that adopted it uses it all the same
                    users.append(
                        f"{tags.get('mlspec-project')}/{tags.get('mlspec-env')}: {tags.get('mlspec-address')}"
                    )
        except AzureError as exc:
            raise azure_error(
                address, "listing the resource group's deployments", exc, DEPLOYER_ROLE
            ) from None
        return users

    def _unchanged_since_applied(self, address: Address, current: ResourceState) -> bool:
        """Whether Azure holds exactly what the state says mlspec deployed (what-if: no change): the
        proof left for a resource that takes no tags when its deployment record is gone (pruned from the
        history, overwritten by a failed redeploy)."""
        sent = sent_payload(current.payload, current.resolved, current.sent_attachments)
        result = self._what_if(address, self.resource_of(address, current.provider_type, sent.properties))
        change = _change_for(result, current.provider_id)
        same_resource = (
            change is not None and str(change.get("resourceId", "")).lower() == current.provider_id.lower()
        )
        return same_resource and str((change or {}).get("changeType", "")) in _NO_DRIFT

    def _by_id(self, resource_id: str) -> Any:
        """The resource's JSON, ``None`` when it does not exist or its type's API version is unknown;
        an SDK error for any other answer."""
        from azure.core.exceptions import ResourceNotFoundError

        api_version = API_VERSIONS.get(_type_of_id(resource_id), "")
        if not api_version:
            return None
        try:
            return self.session.resources.resources.get_by_id(
                resource_id, api_version=api_version, cls=raw_json
            )
        except ResourceNotFoundError:
            return None

    def _tagged_ours(self, address: Address, resource_id: str) -> bool:
        from azure.core.exceptions import AzureError

        try:
            found = self._by_id(resource_id)
        except AzureError as exc:
            raise azure_error(address, f"reading {resource_id}", exc, DEPLOYER_ROLE) from None
        tags: Any = found.get("tags") if isinstance(found, dict) else None
        if not isinstance(tags, dict):
            return False
        return bool(
            tags.get("mlspec-project") == self.project
            and tags.get("mlspec-env") == self.session.workspace.environment
        )

    def _refuse_to_delete(self, address: Address, current: ResourceState) -> None:
        """Delete only what mlspec made here: inside the resource group, of the state's type, not one of
        the environment's own resources, and proven mlspec's (its deployment record or its tags)."""
        workspace = self.session.workspace
        resource_id = current.provider_id
        why = ""
        if resource_id.lower().rstrip("/") in workspace.own_resource_ids():
            why = "it is one of the environment's own resources, which mlspec deploys into and never deletes"
        elif not resource_id.lower().startswith(workspace.resource_group_id.lower() + "/providers/"):
            why = f"it is outside the environment's resource group {workspace.resource_group}"
        elif _type_of_id(resource_id).lower() != current.provider_type.removeprefix(PREFIX).lower():
            why = f"it is not a {current.provider_type.removeprefix(PREFIX)}, as the state says"
        elif not self._made_by_mlspec(address, resource_id) and not self._unchanged_since_applied(
            address, current
        ):
            why = (
                "neither mlspec's deployment record nor the resource's tags show that mlspec made it, and it "
                "is not what the state says mlspec deployed"
            )
        if why:
            raise ProviderError(
                address,
                f"refusing to delete {resource_id}: {why}",
                "if the state is wrong, `mlspec state rm` the address; if mlspec did make it, delete it in "
                "Azure yourself, then `mlspec state rm` it",
            )

    def delete(self, address: Address, current: ResourceState) -> None:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        gone = False
        if current.provider_id.startswith("/"):
            try:
                self._refuse_to_delete(address, current)
            except ProviderError:
                if not self._gone(address, current):
                    raise
                gone = True  # nothing there to delete (a retried delete): nothing to refuse either
        properties = current.payload.properties if isinstance(current.payload.properties, dict) else {}
        resource_type = current.provider_type.removeprefix(PREFIX)
        api_version = str(properties.get("apiVersion") or API_VERSIONS.get(resource_type, ""))
        keep = (
            gone
            or _adopted(current)
            or bool(current.provider_id.startswith("/") and self._others_using(address, current.provider_id))
        )
        if current.provider_id.startswith("/") and not keep:
            try:
                self.session.resources.resources.begin_delete_by_id(
                    current.provider_id, api_version=api_version
                ).result()
            except ResourceNotFoundError:
                pass  # deleted already: a retried delete, or removed behind mlspec's back
            except AzureError as exc:
                raise azure_error(
                    address, f"delete of {current.provider_id}", exc, self.role_for(resource_type)
                ) from None
        try:  # the deployment record is mlspec's too; a missing one is fine
            self.session.deployments.deployments.begin_delete(
                self.session.workspace.resource_group, self.deployment_name(address)
            ).result()
        except ResourceNotFoundError:
            pass
        except AzureError as exc:
            raise azure_error(address, "delete of its deployment record", exc, DEPLOYER_ROLE) from None

    def _gone(self, address: Address, current: ResourceState) -> bool:
        """Whether the recorded resource no longer exists (then a delete has nothing to do)."""
        from azure.core.exceptions import AzureError

        if not API_VERSIONS.get(_type_of_id(current.provider_id)):
            return False  # cannot be asked: not known to be gone
        try:
            return self._by_id(current.provider_id) is None
        except AzureError:
            return False

    def role_for(self, resource_type: str) -> str:
        """What the deploying identity needs to deploy ``resource_type``."""
        if resource_type.lower() == "microsoft.authorization/roleassignments":
            return ROLE_ASSIGNER
        return DEPLOYER_ROLE

    def describe(self, address: Address, result: ProviderResult) -> str:
        return f"ARM resource {printable(result.provider_id, 300)}"

    # --- templates ------------------------------------------------------------------------------------

    def deployment_name(self, address: Address) -> str:
        """``mlspec-<project>-<env>-<address>-<digest>``, cut to 64 characters: readable, and unique per
        project, environment and address (the digest covers the three, so ``a-b``/``c`` and ``a``/``b-c``
        or two long project names that cut alike never share a record)."""
        environment = self.session.workspace.environment
        digest = hashlib.sha256(f"{self.project}\0{environment}\0{address}".encode()).hexdigest()[:10]
        readable = re.sub(r"[^-\w.()]", "-", f"mlspec-{self.project}-{environment}-{address}")
        return f"{readable[: DEPLOYMENT_NAME_LIMIT - len(digest) - 1]}-{digest}"

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

    def _deploy(
        self, address: Address, resource: dict[str, Any], payload_hash: str, adopted: bool = False
    ) -> ProviderResult:
        from azure.core.exceptions import AzureError

        workspace = self.session.workspace
        body: Any = {
            "properties": {"mode": "Incremental", "template": self.template(resource)},
            "tags": {
                "mlspec-project": self.project,
                "mlspec-env": workspace.environment,
                "mlspec-address": str(address),
                "mlspec-hash": payload_hash,
                **({"mlspec-adopted": "true"} if adopted else {}),
            },
        }
        try:
            deployment = self.session.deployments.deployments.begin_create_or_update(
                workspace.resource_group, self.deployment_name(address), body, cls=raw_json
            ).result()
        except AzureError as exc:
            raise azure_error(address, "deploy", exc, self.role_for(str(resource.get("type", "")))) from None
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
        if adopted:
            outputs[ADOPTED] = "true"
        return ProviderResult(ids[0], outputs)

    def _what_if(self, address: Address, resource: dict[str, Any]) -> dict[str, Any]:
        from azure.core.exceptions import AzureError

        body: Any = {"properties": {"mode": "Incremental", "template": self.template(resource)}}
        try:
            result = self.session.deployments.deployments.begin_what_if(
                self.session.workspace.resource_group, self.deployment_name(address), body, cls=raw_json
            ).result()
        except AzureError as exc:
            raise azure_error(address, "what-if", exc, DEPLOYER_ROLE) from None
        return result if isinstance(result, dict) else {}


def _adopted(current: ResourceState) -> bool:
    return str((current.outputs or {}).get(ADOPTED, "")) == "true"


def _change_for(result: Mapping[str, Any], resource_id: str | None) -> dict[str, Any] | None:
    """The what-if change of the template's one resource (of ``resource_id`` when known). In incremental
    mode what-if also lists every other resource of the group as ``Ignore`` (not in the template, left
    alone): never the template's own, whose change is ``Create``, ``NoChange``, ``Modify``..."""
    changes = [c for c in (result.get("properties") or {}).get("changes") or [] if isinstance(c, dict)]
    if resource_id:
        for change in changes:
            if str(change.get("resourceId", "")).lower() == resource_id.lower():
                return change
    own = [c for c in changes if str(c.get("changeType", "")) != "Ignore"]
    return own[0] if own else None


_REMOVED = object()


def live_properties(sent: Any, deltas: list[Any]) -> Any:
    """What Azure holds, as the sent payload with what-if's property changes put back: ``Modify`` gives
    the value in Azure (``before``), ``Create`` a value Azure lacks (removed), ``Array`` and a
    ``Modify`` with ``children`` change element by element; in an array, an element Azure has beyond
    the template (``Delete``) is drift too, since the next deployment replaces the whole array. A
    property Azure has that the template does not set (``Delete`` on an object) and ``NoEffect`` are
    not: mlspec does not manage them."""
    live = copy.deepcopy(sent)
    for delta in deltas:
        if isinstance(delta, dict):
            _put_back(live, _path_parts(str(delta.get("path", ""))), delta)
    return _without_removed(live)


def _without_removed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_removed(v) for k, v in value.items() if v is not _REMOVED}
    if isinstance(value, list):
        return [_without_removed(v) for v in value if v is not _REMOVED]
    return value


def _put_back(container: Any, parts: list[str], delta: dict[str, Any]) -> None:
    """Apply ``delta`` at ``parts`` below ``container`` (a dict or list), in place. A segment is a key
    of a dict (``tags.2024`` is the tag "2024") and an index only into a list."""
    if not parts:
        return
    *parents, last = parts
    for part in parents:
        slot = _slot(container, part)
        if slot is None:
            return
        container = container[slot]
    kind = str(delta.get("propertyChangeType", ""))
    if kind in ("NoEffect", "Delete") and not isinstance(container, list):
        return
    slot = _slot(container, last)
    value = _changed(container[slot] if slot is not None else None, delta)
    if value is _REMOVED:
        if isinstance(container, dict):
            container.pop(last, None)
        elif slot is not None:
            container[slot] = _REMOVED  # removed after its siblings are done, so indices hold
    elif isinstance(container, dict):
        container[last] = value
    elif isinstance(container, list):
        if isinstance(slot, int):
            container[slot] = value
        else:
            container.append(value)  # an element Azure has beyond the template's


def _changed(value: Any, delta: dict[str, Any]) -> Any:
    kind = str(delta.get("propertyChangeType", ""))
    children = [c for c in delta.get("children") or [] if isinstance(c, dict)]
    if kind == "NoEffect":
        return value
    if kind == "Create":
        return _REMOVED
    if kind == "Delete":
        return delta.get("before")
    if children and isinstance(value, (dict, list)):
        changed = copy.deepcopy(value)
        extra: list[Any] = []
        for child in children:
            parts = _path_parts(str(child.get("path", "")))
            if isinstance(changed, list) and len(parts) == 1:
                index = _slot(changed, parts[0])
                if str(child.get("propertyChangeType")) == "Delete" or not isinstance(index, int):
                    extra.append(child.get("before"))
                    continue
                changed[index] = _changed(changed[index], child)
            else:
                _put_back(changed, parts, child)
        if isinstance(changed, list):
            changed = [v for v in changed if v is not _REMOVED] + extra
        return changed
    return delta.get("before", value)


def _path_parts(path: str) -> list[str]:
    return [p for p in path.split(".") if p]


def _slot(container: Any, part: str) -> str | int | None:
    """Where ``part`` is in ``container``: the key of a dict, the index of a list; ``None`` if absent."""
    if isinstance(container, dict):
        return part if part in container else None
    if isinstance(container, list) and part.isdigit() and int(part) < len(container):
        return int(part)
    return None


def _type_of_id(resource_id: str) -> str:
    """``Microsoft.X/a/b`` of ``/.../providers/Microsoft.X/a/name/b/name`` (the last provider's types)."""
    tail = resource_id.rsplit("/providers/", 1)[-1].strip("/").split("/")
    if len(tail) < 3:
        return ""
    return "/".join([tail[0], *tail[1::2]])


def _delta_line(delta: Mapping[str, Any]) -> str:
    return printable(redact(f"{delta.get('path')}: {delta.get('before')!r} in Azure"), 120)
