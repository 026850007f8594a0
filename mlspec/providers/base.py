"""The provider protocol: four operations per resource, each idempotent.

Apply calls ``create``/``update``/``delete`` in dependency order and records the result in
state after each one; a crash between the provider call and the state write is repaired by
the next run calling the same operation again, so every operation must accept a second call
with the same request (create of an existing identical object, delete of a missing one).

Outputs ("known after apply"): ``create`` and ``update`` of a resource whose kind reports outputs
(:data:`mlspec.contract.outputs.PRODUCERS`: an identity's ``client_id``, an ACR task's
``image_digest``...) return them in :attr:`ProviderResult.outputs`, as strings; state records them
with the resource. A request never holds an output marker: apply replaced every one of them with
the value its producer reported (or, for ``workspace.*``, :meth:`Provider.target_outputs` gave)
before calling the provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from mlspec.contract.graph import Address
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import Diagnostic, MlspecError


@dataclass
class DeployRequest:
    """What to create or update: the payload (with its hash) and the artifact files it ships.

    ``files`` maps build-relative paths to bytes; ``primary_file`` is the one the payload's
    ``properties`` were read from (empty when the resource ships no file). ``dependencies`` gives
    the outputs of the resources this one depends on, by address.

    Output markers are replaced in ``payload.properties``, ``payload.attachments`` and ``files`` (what
    is sent), while ``payload.hash`` stays the build's hash of the marker form, the one state records:
    a provider that records the hash it wrote vouches for an unchanged object with it. ``resolved``
    says what was replaced (``<target>.<attribute>``: value).
    """

    address: Address
    provider_type: str
    payload: Payload
    files: Mapping[str, bytes] = field(default_factory=dict)
    primary_file: str = ""
    dependencies: Mapping[Address, Mapping[str, Any]] = field(default_factory=dict)
    resolved: Mapping[str, str] = field(default_factory=dict)


class LiveObject:
    """What the provider sees of a resource now, as a payload (so it diffs against state).

    ``hash`` is set when the provider can vouch that the object is byte for byte what it wrote for a
    payload with that hash (nothing changed it since): plan then knows there is no drift without
    comparing properties. An object made by :meth:`unread` reads its properties on first use of
    :attr:`payload`, so an unchanged object's are never parsed (a no-change plan of thousands of
    resources reads none).
    """

    def __init__(self, payload: Payload) -> None:
        self.payload = payload
        self.attachments: Mapping[str, str] = payload.attachments
        self.hash = payload.hash

    @classmethod
    def unread(
        cls, attachments: Mapping[str, str], hash: str, read_properties: Callable[[], Any]
    ) -> LiveObject:
        """An object whose properties ``read_properties`` reads when its payload is first asked for."""
        return cls(Payload.deferred(read_properties, attachments, hash))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LiveObject) and self.payload.same_content(other.payload)

    __hash__ = None  # type: ignore[assignment]  # mutable on first read, like a dataclass

    def __repr__(self) -> str:
        return f"LiveObject(hash={self.hash!r}, attachments={dict(self.attachments)!r})"


@dataclass
class ProviderResult:
    """The provider's id for the object (a path, an Azure resource id) and what it reports back
    (every output its kind declares, and whatever else it likes: a URL, a path)."""

    provider_id: str
    outputs: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    """Creates, reads, updates and deletes one kind of deployment target's objects."""

    @property
    def name(self) -> str: ...

    def read(self, address: Address, current: ResourceState) -> LiveObject | None:
        """The live object recorded in ``current``, or ``None`` if it no longer exists."""
        ...

    def create(self, request: DeployRequest) -> ProviderResult:
        """Create the object (or adopt an identical one left by an interrupted apply)."""
        ...

    def update(self, request: DeployRequest, current: ResourceState) -> ProviderResult:
        """Bring the object recorded in ``current`` to ``request``."""
        ...

    def delete(self, address: Address, current: ResourceState) -> None:
        """Remove the object recorded in ``current``; a missing object is not an error."""
        ...

    def describe(self, address: Address, result: ProviderResult) -> str:
        """One line for humans: what the object is and where it lives."""
        ...

    def target_outputs(self) -> Mapping[str, str]:
        """The values of the environment deployed into that markers name as ``workspace.<attribute>``
        (:data:`mlspec.contract.outputs.TARGET_OUTPUTS`: ``tenant_id``), by attribute."""
        ...

    def check_sources(self, sources: Mapping[str, str]) -> Mapping[str, str]:
        """The sources (name → lake path) whose path does not exist where this provider deploys, each
        with why ("does not exist", "cannot be read: 403 ..."); a plan stops on any (MLS817)."""
        ...

    def observe_outputs(self, address: Address, current: ResourceState) -> Mapping[str, str]:
        """The outputs of the recorded resource that change without an apply (those whose kind says
        ``observed``: the newest model version training registered), as they are now; a refreshed plan
        asks, and a value newer than the one a consumer was applied with updates that consumer."""
        ...


class ProviderError(MlspecError):
    """A provider operation failed; the message names the resource."""

    def __init__(self, address: Address | str, message: str, hint: str | None = None) -> None:
        super().__init__([Diagnostic.error("MLS820", f"{address}: {message}", hint=hint)])
