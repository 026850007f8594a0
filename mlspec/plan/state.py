"""State: what mlspec last applied to one project and environment, as one versioned JSON document.

``lineage`` is a uuid4 chosen when the state is first written and never changed; ``serial``
goes up by one on every write. A saved plan remembers both, so applying it after anyone else
wrote the state is refused. Backends (:mod:`mlspec.plan.backends`) store the document.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from mlspec.contract.graph import Address
from mlspec.contract.resource_state import (
    HAND_EDITED,
    ResourceState,
    mapping,
    parse_address,
    state_error,
    text_field,
)
from mlspec.diagnostics import Diagnostic, Location, MlspecError
from mlspec.redaction import printable, redact, strip_query
from mlspec.strict_json import strict_json_loads

STATE_VERSION = 1


@dataclass
class State:
    """The state document. ``resources`` maps an address to what was applied (its JSON has the addresses'
    string forms as keys, in string order)."""

    project: str
    environment: str
    lineage: str = field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    resources: dict[Address, ResourceState] = field(default_factory=dict)
    version: int = STATE_VERSION

    @classmethod
    def empty(cls, project: str, environment: str) -> State:
        """A state never written: serial 0, a fresh lineage."""
        return cls(project=project, environment=environment)

    def to_json(self) -> dict[str, Any]:
        # Keys in the string order of the addresses, as state files have always had them.
        by_text = sorted(((str(a), entry) for a, entry in self.resources.items()), key=lambda item: item[0])
        return {
            "version": self.version,
            "lineage": self.lineage,
            "serial": self.serial,
            "project": self.project,
            "environment": self.environment,
            "resources": {text: entry.to_json() for text, entry in by_text},
        }

    def to_bytes(self) -> bytes:
        # Compact: the C encoder (``indent`` falls back to the pure-Python one, ten times slower on a
        # state of thousands of resources); `mlspec state show` and `jq` are the readable views.
        return (json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: Any, where: str = "state") -> State:
        """Parse a state document, refusing anything that is not exactly what :meth:`to_json` writes."""
        if not isinstance(data, dict):
            raise state_error(f"{where} is not a JSON object", where=where)
        if data.get("version") != STATE_VERSION or isinstance(data.get("version"), bool):
            raise state_error(
                f"{where} has state version {printable(repr(data.get('version')), 40)}; "
                f"this mlspec reads version {STATE_VERSION}",
                where=where,
            )
        serial = data.get("serial")
        if not isinstance(serial, int) or isinstance(serial, bool) or not 0 <= serial < 2**63:
            raise state_error(
                f"{where} is malformed: serial must be a whole number from 0, "
                f"not {printable(repr(serial), 40)}",
                HAND_EDITED,
                where,
            )
        resources = data.get("resources")
        if not isinstance(resources, dict):
            raise state_error(f"{where} is malformed: resources must be an object", HAND_EDITED, where)
        parsed: dict[Address, ResourceState] = {}
        for text, entry in resources.items():
            parsed[parse_address(text, where, "resources")] = ResourceState.from_json(entry, where, text)
        return cls(
            project=text_field(data, "project", where, "the state", required=True),
            environment=text_field(data, "environment", where, "the state", required=True),
            lineage=text_field(data, "lineage", where, "the state", required=True),
            serial=serial,
            resources=parsed,
        )

    @classmethod
    def from_bytes(cls, raw: bytes, where: str = "state") -> State:
        return cls.from_json(parse_json_document(raw, where, "state"), where)

    def copy(self) -> State:
        return State.from_json(json.loads(json.dumps(self.to_json())))


@dataclass(frozen=True)
class StateChange:
    """One change to a state, as the journal records it: the entry of one ``address`` set (``entry``) or
    removed (``entry`` None), or (``address`` None) a batch of renames, ``moves``; ``serial`` is the
    state's after it."""

    serial: int
    address: Address | None = None
    entry: ResourceState | None = None
    moves: tuple[tuple[Address, Address], ...] = ()

    def apply_to(self, state: State) -> None:
        if self.address is None:
            for old, new in self.moves:
                state.resources[new] = state.resources.pop(old)
        elif self.entry is None:
            state.resources.pop(self.address, None)
        else:
            state.resources[self.address] = self.entry
        state.serial = self.serial

    def to_json(self) -> dict[str, Any]:
        if self.address is None:
            return {"serial": self.serial, "moves": [[str(old), str(new)] for old, new in self.moves]}
        if self.entry is None:
            return {"serial": self.serial, "remove": str(self.address)}
        return {"serial": self.serial, "set": str(self.address), "entry": self.entry.to_json()}

    @classmethod
    def from_json(cls, data: Any, where: str) -> StateChange:
        """One journal record, every field type-checked like the state document's."""
        record = mapping(data, where, "a journal record")
        serial = record.get("serial")
        if not isinstance(serial, int) or isinstance(serial, bool) or not 0 < serial < 2**63:
            raise state_error(f"{where} is malformed: a journal record has no serial", HAND_EDITED, where)
        if "moves" in record:
            moves = record["moves"]
            if not isinstance(moves, list) or not all(isinstance(m, list) and len(m) == 2 for m in moves):
                raise state_error(f"{where} is malformed: moves must be address pairs", HAND_EDITED, where)
            return cls(
                serial,
                moves=tuple(
                    (parse_address(a, where, "moves"), parse_address(b, where, "moves")) for a, b in moves
                ),
            )
        if "remove" in record:
            return cls(serial, parse_address(record["remove"], where, "remove"))
        address = parse_address(record.get("set"), where, "set")
        return cls(serial, address, ResourceState.from_json(record.get("entry"), where, address))


def parse_json_document(raw: bytes, where: str, what: str) -> Any:
    """``raw`` (the ``what``: state or lock) as JSON, or a located MLS801 when it is not UTF-8, not JSON,
    nested too deeply for the parser, or holds a number JSON has not (NaN, Infinity, 1e999) or Python
    will not convert (an integer of thousands of digits): a damaged or hostile file is never a traceback."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _document_error(f"{where} is not UTF-8 (byte {exc.start})", where, what) from None
    try:
        return strict_json_loads(text)
    except json.JSONDecodeError as exc:
        raise _document_error(
            f"{where} is not valid JSON: {exc.msg}", where, what, exc.lineno, exc.colno
        ) from None
    except (RecursionError, ValueError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise _document_error(f"{where} is not valid JSON: {reason}", where, what) from None


def _document_error(message: str, where: str, what: str, line: int = 1, column: int = 1) -> MlspecError:
    hint = (
        f"the previous version is kept beside it as .backup; restore it if this {what} was damaged"
        if what == "state"
        else None
    )
    return MlspecError(
        [
            Diagnostic.error(
                "MLS801", redact(message), location=Location(strip_query(where), line, column), hint=hint
            )
        ]
    )


class StateConflictError(MlspecError):
    """Someone else wrote the state while this process held the lock (it was force-unlocked)."""


def conflict_error(message: str, hint: str | None = None, where: str | None = None) -> StateConflictError:
    location = Location(strip_query(where), 1, 1) if where else None
    return StateConflictError([Diagnostic.error("MLS801", redact(message), location=location, hint=hint)])
