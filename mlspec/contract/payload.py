"""The payload of one resource: what is deployed (``properties`` and ``attachments``) and its hash.

One value shared by the desired side (a build), state, the journal, plan snapshots and provider
requests, so that none of them repeats the three fields or their JSON form. The JSON form is part of
the state, journal and plan file formats: ``"properties"``, ``"attachments"`` and ``"hash"`` keys
inside each record, which keeps its own key order around them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mlspec.contract.graph import canonical_json, content_hash

PROPERTIES_LOADER = "load_properties"
"""The key of a payload mapping (the build cache's, given to ``mlspec.plan.desired.desired_from_parts``)
that holds a function returning its properties, in place of ``"properties"``: see :meth:`Payload.deferred`."""


class Payload:
    """What a provider deploys for one resource, and the hash of it the build took.

    ``properties`` is the primary artifact's data (any JSON value); ``attachments`` maps each further
    file a resource ships to its content hash. ``hash`` is :func:`payload_hash` of them (an empty
    string where none is known: a state written before hashes were recorded, a live object the
    provider cannot vouch for).

    Immutable, and compared by its three fields. A payload made by :meth:`deferred` reads its
    properties on first use: a plan whose hashes agree never needs them, and parsing a thousand
    resources' properties was most of a no-change plan (the build cache and the providers defer them).
    """

    __slots__ = ("_attachments", "_hash", "_load", "_properties")
    _properties: Any
    _attachments: dict[str, str]
    _hash: str
    _load: Callable[[], Any] | None

    def __init__(
        self, properties: Any = None, attachments: Mapping[str, str] | None = None, hash: str = ""
    ) -> None:
        # A copy of its own: a payload is shared by plan, state and requests, so nobody may change
        # another's attachments through it.
        object.__setattr__(self, "_properties", properties)
        object.__setattr__(self, "_attachments", dict(attachments or {}))
        object.__setattr__(self, "_hash", hash)
        object.__setattr__(self, "_load", None)

    @classmethod
    def deferred(cls, load: Callable[[], Any], attachments: Mapping[str, str], hash: str) -> Payload:
        """A payload whose properties ``load`` returns when they are first asked for (once; its
        errors reach whoever asks)."""
        payload = cls(None, attachments, hash)
        object.__setattr__(payload, "_load", load)
        return payload

    @property
    def properties(self) -> Any:
        load = self._load
        if load is not None:
            # Two threads may both load: the same value either way, and the last one is kept.
            object.__setattr__(self, "_properties", load())
            object.__setattr__(self, "_load", None)
        return self._properties

    @property
    def attachments(self) -> Mapping[str, str]:
        return self._attachments

    @property
    def hash(self) -> str:
        return self._hash

    @property
    def loaded(self) -> bool:
        """Whether the properties are in memory (a deferred payload's are not until asked for)."""
        return self._load is None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a Payload is immutable: make a new one rather than set .{name}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Payload):
            return NotImplemented
        return (
            self.hash == other.hash
            and self._attachments == other._attachments
            and self.properties == other.properties
        )

    __hash__ = None  # type: ignore[assignment]  # properties are any JSON value: lists and maps

    def __reduce__(self) -> tuple[Any, ...]:
        # copy, deepcopy and pickle make a new one (setting the slots one by one is refused above);
        # a deferred payload's properties are read for it.
        return (Payload, (self.properties, dict(self._attachments), self._hash))

    def __repr__(self) -> str:
        shown = "<deferred>" if self._load is not None else repr(self._properties)
        return f"Payload(properties={shown}, attachments={self._attachments!r}, hash={self._hash!r})"

    def content(self) -> dict[str, Any]:
        """``{"properties", "attachments"}``: the shape diffs walk and :func:`payload_hash` is taken
        over (attachments sorted by file, as the state file writes them)."""
        return {"properties": self.properties, "attachments": dict(sorted(self._attachments.items()))}

    def same_content(self, other: Payload) -> bool:
        """Whether both deploy the same thing, whatever hash each one carries."""
        return dict(self._attachments) == dict(other.attachments) and self.properties == other.properties

    def to_json(self) -> dict[str, Any]:
        """The three fields in the order the state file has them: properties, attachments, hash."""
        return {**self.content(), "hash": self.hash}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Payload:
        """The payload fields of a record :meth:`to_json` (or a plan snapshot) wrote; absent ones are
        empty. Callers that must refuse a damaged file type-check the fields before (state does)."""
        return cls(
            properties=data.get("properties"),
            attachments=dict(data.get("attachments") or {}),
            hash=str(data.get("hash") or ""),
        )

    @classmethod
    def hashed(cls, provider_type: str, properties: Any, attachments: Mapping[str, str]) -> Payload:
        """A payload with its hash computed as the build computes it."""
        return cls(properties, attachments, payload_hash(provider_type, properties, attachments))


def payload_hash(provider_type: str, properties: Any, attachments: Mapping[str, str]) -> str:
    """The content hash the build records for a resource's payload (``manifest.json`` ``hash``): over
    the provider type and the canonical JSON of ``{"properties", "attachments"}``."""
    body = {"properties": properties, "attachments": dict(attachments)}
    return content_hash([provider_type.encode(), canonical_json(body)])
