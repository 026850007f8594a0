"""State locks: who holds one, and the error a second process gets at once.

Every plan with refresh, apply and destroy holds the lock of its project and environment.
A lock is never broken automatically: a holder that died leaves it, and ``mlspec
force-unlock LOCK_ID`` removes it after a human has checked that the holder is gone.
"""

from __future__ import annotations

import getpass
import os
import re
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlspec.diagnostics import Diagnostic, Location, MlspecError
from mlspec.redaction import printable, redact, strip_query


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

    @classmethod
    def from_bytes(cls, raw: bytes, where: str) -> LockInfo:
        """Parse a lock file; anything but the object :meth:`to_json` writes is a located MLS801.

        A lock file appears whole (it is hard-linked into place), so an unreadable one is damaged,
        not half-written: it is reported, never silently treated as free or as held by nobody.
        """
        from mlspec.contract.resource_state import state_error
        from mlspec.plan.state import parse_json_document

        data = parse_json_document(raw, where, "lock")
        fields = ("id", "who", "operation", "created")
        if not isinstance(data, dict) or not all(isinstance(data.get(f), str) for f in fields):
            raise state_error(
                f"{where} is not a lock written by mlspec (an object with string {', '.join(fields)})",
                "if no mlspec process works on this environment, delete the file",
                where,
            )
        return cls(data["id"], data["who"], data["operation"], data["created"], where)

    def describe(self) -> str:
        """Who holds the lock, escaped: the fields come from a file anyone may have written."""
        stale = " — stale: that process is no longer running on this host" if self.holder_is_gone() else ""
        return (
            f"{printable(self.who)}, operation {printable(self.operation)}, "
            f"since {printable(self.created)} (lock id {printable(self.id)}){stale}"
        )

    def holder_is_gone(self) -> bool:
        """True when the holder was a process on this host (``user@host pid N``) that no longer runs.

        Only then can mlspec know; a holder elsewhere (a CI runner, a colleague) is never called stale.
        """
        match = _HOLDER.fullmatch(self.who)
        if match is None or match["host"] != socket.gethostname():
            return False
        return not pid_alive(int(match["pid"]))


class LockHeldError(MlspecError):
    """The state is locked by someone else; the message names the holder and how to break a stale lock."""

    def __init__(self, holder: LockInfo, environment: str) -> None:
        self.holder = holder
        super().__init__(
            [
                Diagnostic.error(
                    "MLS802",
                    f"the state of environment {printable(environment)!r} is locked: held by {holder.describe()}",
                    (),
                    Location(strip_query(holder.where), 1, 1) if holder.where else None,
                    hint=(
                        f"its process is gone: break the lock with `mlspec force-unlock {printable(holder.id)} "
                        f"--env {printable(environment)}`"
                        if holder.holder_is_gone()
                        else "wait for that operation to finish; if its process is gone, break the lock with "
                        f"`mlspec force-unlock {printable(holder.id)} --env {printable(environment)}`"
                    ),
                )
            ]
        )


def lock_error(message: str, hint: str | None = None, where: str | None = None) -> MlspecError:
    location = Location(strip_query(where), 1, 1) if where else None
    return MlspecError([Diagnostic.error("MLS803", redact(message), location=location, hint=hint)])


_HOLDER = re.compile(r"[^@\s]+@(?P<host>\S+) pid (?P<pid>\d{1,10})")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (one under another user counts: it exists)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone, or a number no process can have
        return False
    except OSError:  # e.g. EPERM: it exists, under another user
        return True
    return True


def holder_name() -> str:
    """``user@host pid N``: enough for a human to find the process that holds a lock."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
