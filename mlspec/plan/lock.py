"""State locks: who holds one, and the error a second process gets at once.

Every plan with refresh, apply and destroy holds the lock of its project and environment.
A lock is never broken automatically: a holder that died leaves it, and ``mlspec
force-unlock LOCK_ID`` removes it after a human has checked that the holder is gone.
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlspec.diagnostics import Diagnostic, Location, MlspecError


@dataclass(frozen=True)
class LockInfo:
    """Who holds a state lock, since when, for what; ``id`` is what force-unlock takes."""

    id: str
    who: str
    operation: str
    created: str
    where: str = field(default="", compare=False)

    @classmethod
    def new(cls, operation: str, where: str = "") -> LockInfo:
        return cls(str(uuid.uuid4()), holder_name(), operation, utc_now(), where)

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "who": self.who, "operation": self.operation, "created": self.created}

    @classmethod
    def from_json(cls, data: Any, where: str = "") -> LockInfo:
        if not isinstance(data, dict):
            data = {}
        return cls(
            id=str(data.get("id", "?")),
            who=str(data.get("who", "?")),
            operation=str(data.get("operation", "?")),
            created=str(data.get("created", "?")),
            where=where,
        )

    def describe(self) -> str:
        return f"{self.who}, operation {self.operation}, since {self.created} (lock id {self.id})"


class LockHeldError(MlspecError):
    """The state is locked by someone else; the message names the holder and how to break a stale lock."""

    def __init__(self, holder: LockInfo, environment: str) -> None:
        self.holder = holder
        super().__init__(
            [
                Diagnostic.error(
                    "MLS802",
                    f"the state of environment {environment!r} is locked: held by {holder.describe()}",
                    (),
                    Location(holder.where, 1, 1) if holder.where else None,
                    hint=(
                        "wait for that operation to finish; if its process is gone, break the lock with "
                        f"`mlspec force-unlock {holder.id} --env {environment}`"
                    ),
                )
            ]
        )


def lock_error(message: str, hint: str | None = None) -> MlspecError:
    return MlspecError([Diagnostic.error("MLS803", message, hint=hint)])


def holder_name() -> str:
    """``user@host pid N``: enough for a human to find the process that holds a lock."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
