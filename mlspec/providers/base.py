"""The provider protocol: four operations per resource, each idempotent.

Apply calls ``create``/``update``/``delete`` in dependency order and records the result in
state after each one; a crash between the provider call and the state write is repaired by
the next run calling the same operation again, so every operation must accept a second call
with the same request (create of an existing identical object, delete of a missing one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from mlspec.contract.graph import Address
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import Diagnostic, MlspecError


@dataclass
class DeployRequest:
    """What to create or update: the payload, its hash, and the artifact files it ships.

    ``files`` maps build-relative paths to bytes; ``primary_file`` is the one ``properties``
    were read from (empty when the resource ships no file). ``dependencies`` gives the
    outputs of the resources this one depends on, by address.
    """

    address: Address
    provider_type: str
    properties: Any
    attachments: dict[str, str]
    hash: str
    files: Mapping[str, bytes] = field(default_factory=dict)
    primary_file: str = ""
    dependencies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class LiveObject:
    """What the provider sees of a resource now, in payload shape (so it diffs against state).

    ``hash`` is set when the provider can vouch that the object is byte for byte what it wrote for a
    payload with that hash (nothing changed it since): plan then knows there is no drift without
    comparing properties. ``read_properties``, when given, reads the properties on first use, so an
    unchanged object's are never parsed.
    """

    def __init__(
        self,
        properties: Any = None,
        attachments: dict[str, str] | None = None,
        *,
        hash: str = "",
        read_properties: Callable[[], Any] | None = None,
    ) -> None:
        self._properties = properties
        self._read_properties = read_properties
        self.attachments = dict(attachments or {})
        self.hash = hash

    @property
    def properties(self) -> Any:
        if self._read_properties is not None:
            self._properties, self._read_properties = self._read_properties(), None
        return self._properties

    @property
    def payload(self) -> dict[str, Any]:
        return {"properties": self.properties, "attachments": self.attachments}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LiveObject) and self.payload == other.payload

    __hash__ = None  # type: ignore[assignment]  # mutable on first read, like a dataclass

    def __repr__(self) -> str:
        return f"LiveObject(hash={self.hash!r}, attachments={self.attachments!r})"


@dataclass
class ProviderResult:
    """The provider's id for the object (a path, an Azure resource id) and what it reports back."""

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


class ProviderError(MlspecError):
    """A provider operation failed; the message names the resource."""

    def __init__(self, address: Address | str, message: str, hint: str | None = None) -> None:
        super().__init__([Diagnostic.error("MLS820", f"{address}: {message}", hint=hint)])
