"""The payload of one resource: what is deployed (``properties`` and ``attachments``) and its hash.

One value shared by the desired side (a build), state, the journal, plan snapshots and provider
requests, so that none of them repeats the three fields or their JSON form. The JSON form is part of
the state, journal and plan file formats: ``"properties"``, ``"attachments"`` and ``"hash"`` keys
inside each record, which keeps its own key order around them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlspec.contract.graph import canonical_json, content_hash


@dataclass(frozen=True)
class Payload:
    """What a provider deploys for one resource, and the hash of it the build took.

    ``properties`` is the primary artifact's data (any JSON value); ``attachments`` maps each further
    file a resource ships to its content hash. ``hash`` is :func:`payload_hash` of them (an empty
    string where none is known: a state written before hashes were recorded, a live object the
    provider cannot vouch for).
    """

    properties: Any
    attachments: Mapping[str, str] = field(default_factory=dict)
    hash: str = ""

    def __post_init__(self) -> None:
        # A copy of its own: a payload is shared by plan, state and requests, so nobody may change
        # another's attachments through it.
        object.__setattr__(self, "attachments", dict(self.attachments))

    def content(self) -> dict[str, Any]:
        """``{"properties", "attachments"}``: the shape diffs walk and :func:`payload_hash` is taken
        over (attachments sorted by file, as the state file writes them)."""
        return {"properties": self.properties, "attachments": dict(sorted(self.attachments.items()))}

    def same_content(self, other: Payload) -> bool:
        """Whether both deploy the same thing, whatever hash each one carries."""
        return self.properties == other.properties and dict(self.attachments) == dict(other.attachments)

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
