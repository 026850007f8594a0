"""Where state documents and their locks live: a local file (default) or an Azure Blob.

Both implement :class:`StateBackend`. ``write`` is conditional: it refuses to overwrite a
state that someone else wrote since this backend last read or wrote it (the serial on the
local file, the ETag on the blob), so a lost lock can never silently lose an update.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.plan.lock import LockInfo
from mlspec.plan.state import State, StateChange

BACKEND_KINDS = ("local", "azure_blob")
"""The values ``state.backend`` may take."""


class StateBackend(Protocol):
    """Stores one project/environment's state document and its lock."""

    @property
    def description(self) -> str:
        """Where the state lives, for messages (a path or a blob URL)."""
        ...

    def read(self) -> State | None:
        """The current state, or ``None`` if none was ever written."""
        ...

    def write(self, state: State) -> None:
        """Replace the state with ``state`` atomically, keeping the previous version as a backup.

        Raises :class:`MlspecError` if the stored state changed since the last read or write.
        """
        ...

    def append(self, state: State, change: StateChange) -> None:
        """Make ``change`` (already applied to ``state``) durable without rewriting the document: an
        apply records each resource this way, then calls :meth:`write` once. :meth:`read` returns the
        document with the appended changes; :meth:`write` folds them in. Conflicts as for :meth:`write`."""
        ...

    def fold_journal(self, state: State) -> None:
        """Write ``state`` (as :meth:`read` returned it) as the document if it came partly from the
        journal of an apply that did not finish; otherwise do nothing."""
        ...

    def lock(self, operation: str) -> LockInfo:
        """Take the lock or raise :class:`~mlspec.plan.lock.LockHeldError` at once."""
        ...

    def unlock(self, info: LockInfo) -> None:
        """Release a lock this process holds."""
        ...

    def current_lock(self) -> LockInfo | None:
        """Who holds the lock now, if anyone."""
        ...

    def force_unlock(self, lock_id: str) -> LockInfo:
        """Remove the lock whose id is ``lock_id``, whoever holds it; returns what was removed."""
        ...

    def retire(self) -> str:
        """Take the state out of use after ``mlspec state mv --from-project`` copied it elsewhere: it is
        kept beside, renamed ``.moved`` (nothing is lost), and no longer read. Returns where it went."""
        ...

    def neighbours(self) -> list[tuple[str, State]]:
        """States of the same environment stored beside this one that may have owned its objects
        (where each lives, the state): after a project rename, the old name's state is there."""
        ...


def backend_for(
    config: dict[str, Any],
    project: str,
    environment: str,
    project_dir: Path,
    state_dir: Path | None = None,
) -> StateBackend:
    """The backend named by the spec's ``state:`` section (``local`` when absent).

    ``state_dir`` overrides the local backend's folder (default ``<project>/.mlspec/state``).
    """
    kind = config.get("backend", "local")
    if kind == "local":
        from mlspec.plan.backends.local import LocalBackend

        folder = (state_dir or project_dir / ".mlspec" / "state") / project
        return LocalBackend(folder, environment, None if state_dir else project_dir)
    if kind == "azure_blob":
        from mlspec.plan.backends.blob import BlobBackend

        return BlobBackend.from_config(config, project, environment)
    raise MlspecError([Diagnostic.error("MLS804", f"unknown state backend {kind!r}", ("state", "backend"))])
