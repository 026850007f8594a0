"""Synapse notebooks and pipelines, through the workspace's artifacts API (``azure-synapse-artifacts``).

The payload is the artifact as the Synapse REST API takes it (``{"name", "properties"}``), sent as it
is: a PUT of the JSON the build wrote, not a model rebuilt from it, so nothing the SDK's models do not
know is lost. Reading compares only what mlspec sets: Synapse adds ``id``, ``etag``, ``type`` and
defaults of its own, which are not drift; a value mlspec set that Azure now holds differently, or no
longer holds, is.

Ownership: artifacts carry no tags, so nothing shows that mlspec made one. A create that finds a
different artifact at the name refuses; one that finds an identical artifact adopts it without sending
it, recording the output ``adopted: "true"`` (kept by update), and the delete of an adopted artifact
deletes nothing (state only forgets it). Only what create itself sent is ever deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlspec.contract.graph import Address, canonical_json
from mlspec.contract.outputs import sent_payload
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.providers.azure.errors import azure_error
from mlspec.providers.azure.session import AzureSession, raw_json
from mlspec.providers.base import DeployRequest, LiveObject, ProviderError, ProviderResult
from mlspec.redaction import printable

NOTEBOOK_TYPE = "Microsoft.Synapse/workspaces/notebooks"
PIPELINE_TYPE = "Microsoft.Synapse/workspaces/pipelines"
_WHAT = {NOTEBOOK_TYPE: "notebook", PIPELINE_TYPE: "pipeline"}
ADOPTED = "adopted"
"""The output (``"true"``) of an object create found already and could not show mlspec made: a later
delete leaves it in place (state only forgets it); update keeps the mark."""


class SynapseArtifacts:
    """Creates, reads, updates and deletes the workspace's notebooks and pipelines."""

    provider_types = frozenset(_WHAT)

    def __init__(self, session: AzureSession) -> None:
        self.session = session

    @staticmethod
    def handles(provider_type: str) -> bool:
        return provider_type in _WHAT

    def read(self, address: Address, current: ResourceState) -> LiveObject | None:
        sent = sent_payload(current.payload, current.resolved, current.sent_attachments)
        live = self._get(address, current.provider_type, _name(address, sent.properties))
        if live is None:
            return None
        seen = as_sent(live, sent.properties)
        if seen == sent.properties:
            return LiveObject(sent)
        return LiveObject(Payload(seen, sent.attachments))

    def create(self, request: DeployRequest) -> ProviderResult:
        name = _name(request.address, request.payload.properties)
        found = self._get(request.address, request.provider_type, name)
        if found is not None and as_sent(found, request.payload.properties) != request.payload.properties:
            raise ProviderError(
                request.address,
                f"another Synapse {_WHAT[request.provider_type]} {name!r} already exists in "
                f"{self.session.workspace.synapse} and differs from this one; creating it would overwrite it",
                "mlspec has no `import`: to let mlspec own it, delete it in Synapse Studio (or rename the "
                "transform) and apply again; to keep it, apply the spec that made it",
            )
        if found is not None:
            # Synapse artifacts carry no tags: an identical one found may be the one the create this
            # one retries made (its state write lost), or one made by hand or by another project or
            # environment sharing the workspace and the name. It cannot be told apart, so it is
            # adopted (not sent again) and a later delete leaves it in place: a crash-retry then
            # leaks an artifact rather than delete someone else's.
            provider_id = found.get("id") if isinstance(found, dict) else None
            return ProviderResult(
                str(provider_id or self._url(request.provider_type, name)), {ADOPTED: "true"}
            )
        return self._put(request)

    def update(self, request: DeployRequest, current: ResourceState) -> ProviderResult:
        result = self._put(request)
        if adopted(current):
            result.outputs[ADOPTED] = "true"  # still not shown to be mlspec's: delete leaves it
        return result

    def delete(self, address: Address, current: ResourceState) -> None:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        if adopted(current):
            return  # found at create, not made by mlspec: state forgets it, Synapse keeps it
        name = _name(address, current.payload.properties)
        try:
            self._operation(current.provider_type, "begin_delete")(name).result()
        except ResourceNotFoundError:
            pass
        except AzureError as exc:
            raise azure_error(address, "delete", exc, self._role()) from None

    def describe(self, address: Address, result: ProviderResult) -> str:
        what = "notebook" if address.kind == "notebook" else "pipeline"
        return f"Synapse {what} {printable(address.name)} in {self.session.workspace.synapse}"

    # ---------------------------------------------------------------------------------------------

    def _put(self, request: DeployRequest) -> ProviderResult:
        from azure.core.exceptions import AzureError

        name = _name(request.address, request.payload.properties)
        body = canonical_json(request.payload.properties)
        try:
            created = self._operation(request.provider_type, "begin_create_or_update")(
                name, body, content_type="application/json", cls=raw_json
            ).result()
        except AzureError as exc:
            raise azure_error(request.address, "create or update", exc, self._role()) from None
        provider_id = created.get("id") if isinstance(created, dict) else None
        return ProviderResult(str(provider_id or self._url(request.provider_type, name)))

    def _get(self, address: Address, provider_type: str, name: str) -> Any:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            return self._operation(provider_type, "get")(name, cls=raw_json)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise azure_error(address, "read", exc, self._role()) from None

    def _operation(self, provider_type: str, verb: str) -> Callable[..., Any]:
        what = _WHAT[provider_type]
        group = self.session.synapse.notebook if what == "notebook" else self.session.synapse.pipeline
        return getattr(group, f"{verb}_{what}")  # type: ignore[no-any-return]

    def _url(self, provider_type: str, name: str) -> str:
        return f"{self.session.workspace.synapse_endpoint}/{_WHAT[provider_type]}s/{name}"

    def _role(self) -> str:
        return f"Synapse Artifact Publisher on {self.session.workspace.synapse}"


def adopted(current: ResourceState) -> bool:
    """Whether the state records the object as adopted (:data:`ADOPTED`)."""
    return str((current.outputs or {}).get(ADOPTED, "")).lower() == "true"


def _name(address: Address, properties: Any) -> str:
    name = properties.get("name") if isinstance(properties, dict) else None
    return str(name or address.name)


def as_sent(live: Any, sent: Any) -> Any:
    """``live`` cut down to the shape of ``sent``: the keys mlspec set (a key Azure dropped stays
    dropped), so what Azure adds of its own is not a difference."""
    if isinstance(sent, dict) and isinstance(live, dict):
        return {key: as_sent(live[key], value) for key, value in sent.items() if key in live}
    if isinstance(sent, list) and isinstance(live, list):
        shaped = [as_sent(item, pattern) for item, pattern in zip(live, sent, strict=False)]
        return shaped + live[len(sent) :]
    return live
