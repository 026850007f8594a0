"""The record of one applied resource, shared by the state document, its journal and providers.

Its JSON form is part of the state file format: every field is type-checked when read, since a
state file may have been damaged or edited by hand; a problem is an MLS801 located at the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlspec.contract.graph import Address
from mlspec.contract.payload import Payload
from mlspec.diagnostics import Diagnostic, Location, MlspecError
from mlspec.redaction import printable, redact, strip_query


@dataclass
class ResourceState:
    """One applied resource: what was deployed (payload and its hash) and what the provider said back."""

    provider_type: str
    payload: Payload
    provider_id: str
    outputs: dict[str, Any] = field(default_factory=dict)
    depends_on: list[Address] = field(default_factory=list)
    spec_fields: dict[str, Any] | None = None
    """The spec values the applied payload was built from (``dotted.path: value``), so a later plan
    can name the spec fields that cause a change; ``None`` in states written before they were kept."""
    resolved: dict[str, str] = field(default_factory=dict)
    """The value each output marker of the payload was replaced with when it was sent
    (``<target>.<attribute>: value``): the next plan updates the resource when a producer's output
    no longer matches. Empty when the payload holds no marker (and in states written before)."""
    sent_attachments: dict[str, str] = field(default_factory=dict)
    """The content hash of each attachment as sent, where replacing markers changed it (the payload
    keeps the build's hash of the marker form), so a refresh compares the live file with what was sent."""

    def to_json(self) -> dict[str, Any]:
        out = {
            "provider_type": self.provider_type,
            **self.payload.to_json(),
            "provider_id": self.provider_id,
            "outputs": self.outputs,
            "depends_on": sorted(str(d) for d in self.depends_on),
        }
        if self.spec_fields is not None:
            out["spec_fields"] = dict(self.spec_fields)
        # Written only when there are some: a state without markers keeps the file format it had.
        if self.resolved:
            out["resolved"] = dict(sorted(self.resolved.items()))
        if self.sent_attachments:
            out["sent_attachments"] = dict(sorted(self.sent_attachments.items()))
        return out

    @classmethod
    def from_json(cls, data: Any, where: str = "state", address: Address | str = "?") -> ResourceState:
        """Parse one resource entry; every field is type-checked (the file may have been edited)."""
        context = f"resource {printable(str(address))!r}"
        entry = mapping(data, where, context)
        return cls(
            provider_type=text_field(entry, "provider_type", where, context, required=True),
            payload=Payload(
                properties=entry.get("properties"),
                attachments=text_map(entry.get("attachments"), where, f"{context} attachments"),
                hash=text_field(entry, "hash", where, context),
            ),
            provider_id=text_field(entry, "provider_id", where, context),
            outputs=mapping(entry.get("outputs") or {}, where, f"{context} outputs"),
            depends_on=address_list(entry.get("depends_on"), where, f"{context} depends_on"),
            spec_fields=spec_fields_of(entry.get("spec_fields"), where, f"{context} spec_fields"),
            resolved=text_map(entry.get("resolved"), where, f"{context} resolved"),
            sent_attachments=text_map(entry.get("sent_attachments"), where, f"{context} sent_attachments"),
        )


def state_error(message: str, hint: str | None = None, where: str | None = None) -> MlspecError:
    """An MLS801: the state (or its lock) cannot be used; located at ``where``, the file or blob."""
    location = Location(strip_query(where), 1, 1) if where else None
    return MlspecError([Diagnostic.error("MLS801", redact(message), location=location, hint=hint)])


HAND_EDITED = "the file was damaged or edited by hand; restore it from its .backup"


def mapping(value: Any, where: str, context: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise state_error(f"{where} is malformed: {context} must be an object", HAND_EDITED, where)
    return value


def text_field(data: dict[str, Any], key: str, where: str, context: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise state_error(f"{where} is malformed: {context}: {key} must be a string", HAND_EDITED, where)
    return value


def text_map(value: Any, where: str, context: str) -> dict[str, str]:
    found = mapping(value if value is not None else {}, where, context)
    if not all(isinstance(v, str) for v in found.values()):
        raise state_error(f"{where} is malformed: {context} must map names to strings", HAND_EDITED, where)
    return dict(found)


def spec_fields_of(value: Any, where: str, context: str) -> dict[str, Any] | None:
    """Absent in states written before spec fields were recorded; else an object of leaf values."""
    if value is None:
        return None
    found = mapping(value, where, context)
    if not all(_spec_leaf(v) for v in found.values()):
        raise state_error(
            f"{where} is malformed: {context} must map paths to strings, numbers, booleans or null",
            HAND_EDITED,
            where,
        )
    return dict(found)


def _spec_leaf(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, str | int | float | bool)
        or (isinstance(value, list | dict) and not value)
    )


def address_list(value: Any, where: str, context: str) -> list[Address]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise state_error(f"{where} is malformed: {context} must be a list", HAND_EDITED, where)
    return [parse_address(item, where, context) for item in value]


def parse_address(value: Any, where: str, context: str) -> Address:
    """``value``, an address as JSON holds it (a string), parsed; an MLS801 at ``where`` if it is none."""
    try:
        if not isinstance(value, str):
            raise ValueError("not a string")
        return Address.parse(value)
    except ValueError:
        raise state_error(
            f"{where} is malformed: {context}: {printable(repr(value), 80)} is not a resource address "
            "(<service>.<kind>.<name>)",
            HAND_EDITED,
            where,
        ) from None
