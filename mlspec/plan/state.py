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

from mlspec.diagnostics import Diagnostic, MlspecError

STATE_VERSION = 1


@dataclass
class ResourceState:
    """One applied resource: what was deployed (payload and its hash) and what the provider said back."""

    provider_type: str
    properties: Any
    attachments: dict[str, str]
    hash: str
    provider_id: str
    outputs: dict[str, Any] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "provider_type": self.provider_type,
            "properties": self.properties,
            "attachments": dict(sorted(self.attachments.items())),
            "hash": self.hash,
            "provider_id": self.provider_id,
            "outputs": self.outputs,
            "depends_on": sorted(self.depends_on),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceState:
        return cls(
            provider_type=str(data["provider_type"]),
            properties=data.get("properties"),
            attachments={str(k): str(v) for k, v in dict(data.get("attachments") or {}).items()},
            hash=str(data.get("hash", "")),
            provider_id=str(data.get("provider_id", "")),
            outputs=dict(data.get("outputs") or {}),
            depends_on=[str(d) for d in data.get("depends_on") or []],
        )


@dataclass
class State:
    """The state document. ``resources`` maps an address (its string form) to what was applied."""

    project: str
    environment: str
    lineage: str = field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    resources: dict[str, ResourceState] = field(default_factory=dict)
    version: int = STATE_VERSION

    @classmethod
    def empty(cls, project: str, environment: str) -> State:
        """A state never written: serial 0, a fresh lineage."""
        return cls(project=project, environment=environment)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "lineage": self.lineage,
            "serial": self.serial,
            "project": self.project,
            "environment": self.environment,
            "resources": {address: self.resources[address].to_json() for address in sorted(self.resources)},
        }

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=False, ensure_ascii=False) + "\n").encode(
            "utf-8"
        )

    @classmethod
    def from_json(cls, data: Any, where: str = "state") -> State:
        if not isinstance(data, dict):
            raise state_error(f"{where} is not a JSON object")
        if data.get("version") != STATE_VERSION:
            raise state_error(
                f"{where} has state version {data.get('version')!r}; "
                f"this mlspec reads version {STATE_VERSION}"
            )
        try:
            return cls(
                project=str(data["project"]),
                environment=str(data["environment"]),
                lineage=str(data["lineage"]),
                serial=int(data["serial"]),
                resources={str(a): ResourceState.from_json(r) for a, r in dict(data["resources"]).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise state_error(f"{where} is malformed: {exc}") from None

    @classmethod
    def from_bytes(cls, raw: bytes, where: str = "state") -> State:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise state_error(
                f"{where} is not valid JSON ({exc}); the previous version is kept beside it as .backup"
            ) from None
        return cls.from_json(data, where)

    def copy(self) -> State:
        return State.from_json(json.loads(json.dumps(self.to_json())))


def state_error(message: str, hint: str | None = None) -> MlspecError:
    return MlspecError([Diagnostic.error("MLS801", message, hint=hint)])


class StateConflictError(MlspecError):
    """Someone else wrote the state while this process held the lock (it was force-unlocked)."""


def conflict_error(message: str, hint: str | None = None) -> StateConflictError:
    return StateConflictError([Diagnostic.error("MLS801", message, hint=hint)])
