"""The local state backend: ``.mlspec/state/<project>/<env>.json`` and ``<env>.lock`` beside it.

Writes are atomic and durable: the new document goes to a temporary file that is fsynced and
renamed over the old one, then the folder is fsynced; the previous document is first copied
to ``<env>.json.backup`` the same way. At every instant ``<env>.json`` is a whole document.
During an apply, each change is appended to ``<env>.journal`` and fsynced instead
(:mod:`mlspec.plan.journal`); the document is rewritten when the apply ends.
The lock is a file created with ``O_EXCL`` holding who/operation/created.

Every read of these files is bounded (:data:`MAX_STATE_BYTES`, :data:`MAX_LOCK_BYTES`), refuses a
symlink and anything but a regular file (a FIFO must not hang a plan, ``/dev/zero`` must not fill
memory), and is a located MLS801 naming the file when it cannot be used.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
import tempfile
import time
from pathlib import Path

from mlspec.contract.resource_state import state_error
from mlspec.diagnostics import Diagnostic, Location, MlspecError
from mlspec.plan import journal
from mlspec.plan.lock import LockHeldError, LockInfo, lock_error, pid_alive
from mlspec.plan.state import State, StateChange, conflict_error
from mlspec.project_files import ProjectFileError, read_own_file
from mlspec.redaction import printable

MAX_STATE_BYTES = 1024 * 1024 * 1024
"""A state holds the payload of every applied resource: the largest example's is under 2 MiB, a
project of 5,000 notebooks about 140 MiB."""
MAX_JOURNAL_BYTES = 4 * MAX_STATE_BYTES
"""A journal is folded into the document once it outgrows it (see :data:`journal.COMPACT_MIN_BYTES`)."""
MAX_LOCK_BYTES = 64 * 1024
"""A lock holds four short strings: who, operation, when and an id."""
LOCK_ATTEMPTS = 5
"""Tries at taking a lock that other processes take and release between our attempt and our read of it."""


class LocalBackend:
    def __init__(self, folder: Path, environment: str, project_dir: Path | None = None) -> None:
        self.folder = folder
        self.project_dir = project_dir
        """With it, the folders from the project down to the state may not be symlinks (see :meth:`read`)."""
        self.environment = environment
        self.path = folder / f"{environment}.json"
        self.backup_path = folder / f"{environment}.json.backup"
        self.lock_path = folder / f"{environment}.lock"
        self.journal_path = folder / f"{environment}.journal"
        self._serial: int | None = None  # the document's serial last read or written by this backend
        self._document_seen: tuple[int, int, int] | None = None  # its inode, mtime and size then
        self._document_bytes = 0
        self._journal_fd: int | None = None
        self._journal_bytes = 0
        self._journal_continues = False  # the journal read continues the document: append to it
        self._journal_valid = 0
        self._journal_read_bytes = 0

    @property
    def description(self) -> str:
        return str(self.path)

    def _refuse_linked_folders(self) -> None:
        """``.mlspec``, ``.mlspec/state`` and the project's state folder must be real folders of the
        project: through a link the state (and its lock) would be read and replaced elsewhere."""
        if self.project_dir is None:
            return
        inside = self.project_dir / ".mlspec"
        for folder in (*reversed(self.folder.parents), self.folder):
            if folder.is_relative_to(inside) and folder.is_symlink():
                raise state_error(
                    f"{folder} is a symlink: mlspec keeps state only in real folders of the project",
                    "remove the link (move the state back into the project if it lives there)",
                    str(folder),
                )

    def read(self) -> State | None:
        self._refuse_linked_folders()
        self._close_journal()
        raw = _read(self.path, MAX_STATE_BYTES)
        self._document_seen = _identity(self.path)
        self._document_bytes = len(raw or b"")
        document = None if raw is None else State.from_bytes(raw, str(self.path))
        self._serial = document.serial if document is not None else 0
        replayed, self._journal_read_bytes = _replay_sized(document, self.journal_path)
        self._journal_continues, self._journal_valid = replayed.continues, replayed.valid_bytes
        return replayed.state

    def write(self, state: State) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._serial is not None and _identity(self.path) != self._document_seen:
            # Not the file this backend read or wrote (an atomic replace gives a new inode; an edit in
            # place a new mtime or size): no need to read a state of thousands of resources to know.
            raise self._conflict("the document is not the one it read")
        if os.path.lexists(self.path):
            if not stat.S_ISREG(os.lstat(self.path).st_mode):
                _read(self.path, MAX_STATE_BYTES)  # a link, FIFO or folder: the located MLS801 it gives
            _keep_as_backup(self.path, self.backup_path)
        data = state.to_bytes()
        _write_atomic(self.path, data)
        self._serial, self._document_seen, self._document_bytes = (
            state.serial,
            _identity(self.path),
            len(data),
        )
        # The journal's changes are in the document now: a crash before the unlink leaves a journal
        # that continues an older serial, which every read ignores.
        self._close_journal()
        self._journal_continues = False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.journal_path)
            _fsync_dir(self.folder)

    def fold_journal(self, state: State) -> None:
        if self._journal_continues and state.serial != self._serial:
            self.write(state)

    def append(self, state: State, change: StateChange) -> None:
        """Record ``change`` (already applied to ``state``) durably in the journal."""
        if self._journal_fd is None:
            self._open_journal(state)
        elif _identity(self.path) != self._document_seen or not self._journal_is_ours():
            raise self._conflict("its journal was replaced")
        assert self._journal_fd is not None
        if os.fstat(self._journal_fd).st_size != self._journal_bytes:
            raise self._conflict("another process appended to its journal")
        data = journal.record(change)
        try:
            _write_all(self._journal_fd, data)
            os.fsync(self._journal_fd)
        except OSError:
            # A full disk or an I/O error: no part-written line may stay for the next record to follow.
            with contextlib.suppress(OSError):
                os.ftruncate(self._journal_fd, self._journal_bytes)
            raise
        self._journal_bytes += len(data)
        if self._journal_bytes > max(journal.COMPACT_MIN_BYTES, self._document_bytes):
            self.write(state)  # fold it in: each change then costs a constant share of a rewrite

    def _open_journal(self, state: State) -> None:
        if self._serial is None:
            self.read()
        if _identity(self.path) != self._document_seen:
            raise self._conflict("the document changed since it was read")
        self.folder.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
        if self._journal_continues:
            # Continue the journal this backend replayed (after a crash), without its cut-short last line,
            # unless someone wrote to it since it was read.
            fd = os.open(self.journal_path, flags | os.O_APPEND)
            if os.fstat(fd).st_size != self._journal_read_bytes:
                os.close(fd)
                raise self._conflict("its journal changed since it was read")
            os.ftruncate(fd, self._journal_valid)
            self._journal_bytes = self._journal_valid
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.journal_path)  # one already folded into the document
            fd = os.open(self.journal_path, flags | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
            base = State(state.project, state.environment, state.lineage, self._serial or 0)
            first = journal.header(base)
            _write_all(fd, first)
            self._journal_bytes = len(first)
        os.fsync(fd)
        _fsync_dir(self.folder)
        self._journal_fd = fd
        self._journal_continues = True

    def _journal_is_ours(self) -> bool:
        assert self._journal_fd is not None
        try:
            on_path = os.stat(self.journal_path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return on_path.st_ino == os.fstat(self._journal_fd).st_ino

    def _close_journal(self) -> None:
        if self._journal_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._journal_fd)
            self._journal_fd = None

    def _conflict(self, what: str) -> MlspecError:
        return conflict_error(
            f"{self.path} was written by someone else ({what}) while this process held the lock",
            "was the lock broken with force-unlock while an apply ran? re-run plan",
            str(self.path),
        )

    def lock(self, operation: str) -> LockInfo:
        """Take the lock, or raise :class:`LockHeldError` naming the holder.

        The lock file appears with its contents in one step: the record is written and synced
        to a private file first, then hard-linked to the lock's name, which fails if the lock
        exists. (Creating the lock empty and writing it after would let a competing process read
        an empty lock and be unable to say who holds it.)
        """
        self._refuse_linked_folders()
        info = LockInfo.new(operation, str(self.lock_path))
        # The pid in the name lets a later run tell a dead process's leftover from a live one's.
        handle, staging = self._staging_file()
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(info.to_json(), stream)
                stream.flush()
                os.fsync(stream.fileno())
            for _ in range(LOCK_ATTEMPTS):
                try:
                    os.link(staging, self.lock_path)
                    break
                except FileExistsError:
                    holder = self.current_lock()
                    if holder is not None:
                        raise LockHeldError(holder, self.environment) from None
                    # released between our attempt and the read: try again, a bounded number of times
            else:
                raise _contended(self.lock_path, self.environment)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staging)
        _fsync_dir(self.folder)
        remove_leftovers(self.folder, self.environment)
        return info

    def _staging_file(self) -> tuple[int, str]:
        """A private file in the state folder, the folder made first. Another process's unlock removes
        the folder when it is empty (see :meth:`unlock`), so it may vanish between the two: try again."""
        for _ in range(LOCK_ATTEMPTS):
            self.folder.mkdir(parents=True, exist_ok=True)
            try:
                return tempfile.mkstemp(prefix=f".{self.lock_path.name}.{os.getpid()}.", dir=self.folder)
            except FileNotFoundError:
                continue
        raise _contended(self.lock_path, self.environment)

    def unlock(self, info: LockInfo) -> None:
        try:
            current = self.current_lock()
        except MlspecError:  # replaced by a damaged file meanwhile: not ours, leave it for a human
            return
        if current is None or current.id != info.id:
            return  # broken by force-unlock meanwhile: nothing of ours to remove
        with contextlib.suppress(FileNotFoundError):
            self.lock_path.unlink()
        _fsync_dir(self.folder)
        # A lock taken for an operation that wrote nothing (a refused plan, a plan of a renamed project)
        # leaves no empty state folder behind: an empty one would look like a state to people moving states.
        with contextlib.suppress(OSError):
            self.folder.rmdir()  # only succeeds when empty

    def current_lock(self) -> LockInfo | None:
        raw = _read(self.lock_path, MAX_LOCK_BYTES)
        return None if raw is None else LockInfo.from_bytes(raw, str(self.lock_path))

    def neighbours(self) -> list[tuple[str, State]]:
        """The states of this environment kept beside this one under other project names (one folder per
        project in the same state root): after a project rename, the old name's state is among them."""
        found: list[tuple[str, State]] = []
        root = self.folder.parent
        try:
            # A first apply killed before its end left only a journal: that claims objects as well.
            folders = {p.parent for p in root.glob(f"*/{self.environment}.json")}
            folders |= {p.parent for p in root.glob(f"*/{self.environment}.journal")}
        except OSError:
            return []
        for folder in sorted(folders):
            if folder == self.folder:
                continue
            path = folder / f"{self.environment}.json"
            try:
                raw = _read(path, MAX_STATE_BYTES)
                document = State.from_bytes(raw, str(path)) if raw is not None else None
                replayed = _replay_sized(document, path.with_suffix(".journal"))[0].state
                if replayed is not None:
                    found.append((str(path), replayed))
            except MlspecError:
                continue  # unreadable (a link, a FIFO, damaged): not evidence of an owner either way
        return found

    def retire(self) -> str:
        state = self.read()
        if state is not None and self.journal_path.exists():
            self.write(state)  # fold an unfinished apply's journal in: the moved copy is then whole
        moved = self.path.with_name(f"{self.path.name}.moved")
        try:
            os.replace(self.path, moved)
        except OSError as exc:
            raise state_error(
                f"cannot move {self.path} aside: {exc.strerror or exc}", where=str(self.path)
            ) from None
        _fsync_dir(self.folder)
        self._serial = 0
        return str(moved)

    def force_unlock(self, lock_id: str) -> LockInfo:
        current = self.current_lock()
        if current is None:
            raise lock_error(f"no lock to remove: {self.lock_path} does not exist", where=str(self.lock_path))
        if current.id != lock_id:
            raise lock_error(
                f"lock id {printable(lock_id)!r} does not match the current lock, held by {current.describe()}",
                "pass the lock id exactly as the error that named the holder printed it",
                str(self.lock_path),
            )
        self.lock_path.unlink()
        _fsync_dir(self.folder)
        return current


def _contended(lock_path: Path, environment: str) -> MlspecError:
    return MlspecError(
        [
            Diagnostic.error(
                "MLS802",
                f"the state of environment {printable(environment)!r} is locked: {lock_path} was taken and "
                f"released {LOCK_ATTEMPTS} times while this process tried to take it (other processes are "
                "working on it)",
                location=Location(str(lock_path), 1, 1),
                hint="try again when they are done",
            )
        ]
    )


def _read(path: Path, limit: int) -> bytes | None:
    """The bytes of one of this backend's files, ``None`` if it does not exist, else a located MLS801."""
    try:
        return read_own_file(path, limit=limit)
    except ProjectFileError as exc:
        if exc.errno == errno.ENOENT:
            return None
        where = str(path)
        hint = (
            "mlspec writes this file itself and never links it; move the link or special file away"
            if exc.errno in (errno.ELOOP, errno.EINVAL)
            else None
        )
        raise state_error(f"cannot read {where}: {exc.strerror or exc}", hint, where) from None


def _replay_sized(document: State | None, journal_path: Path) -> tuple[journal.Replayed, int]:
    """The replay, and how many bytes of journal it read."""
    raw = _read(journal_path, MAX_JOURNAL_BYTES)
    if raw is None:
        return journal.Replayed(document, False, 0, 0), 0
    return journal.replay(document, raw, str(journal_path)), len(raw)


def _identity(path: Path) -> tuple[int, int, int] | None:
    """What tells this file's version apart cheaply: an atomic replace gives a new inode."""
    try:
        found = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return (found.st_ino, found.st_mtime_ns, found.st_size)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


STALE_LEFTOVER_SECONDS = 600.0
"""A temporary file whose writer still runs is younger than this (writes take milliseconds); an older
one with a live pid belongs to a recycled pid."""


def remove_leftovers(folder: Path, environment: str) -> list[Path]:
    """Delete what killed processes left behind for ``environment`` in ``folder``: the temporary files
    of atomic writes (``.<env>.json.<pid>.tmp``, ``.<env>.json.backup.<pid>.tmp``) and lock staging
    files (``.<env>.lock.<pid>.<random>``). Called with the lock held; a file whose pid is alive on
    this machine is kept unless it is older than :data:`STALE_LEFTOVER_SECONDS`."""
    name = re.escape(environment)
    pattern = re.compile(
        rf"\.{name}\.(?:json(?:\.backup)?\.(?P<pid>\d+)\.tmp|lock\.(?:(?P<lpid>\d+)\.)?[\w-]+)"
    )
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        raw_pid = match.group("pid") or match.group("lpid")
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        dead = raw_pid is not None and not pid_alive(int(raw_pid))
        if dead or age > STALE_LEFTOVER_SECONDS:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _keep_as_backup(path: Path, backup: Path) -> None:
    """Make the current document the backup without copying it: a second name for the same file (the
    document is then replaced by a new file, so the backup keeps this version), swapped in atomically."""
    tmp = backup.with_name(f".{backup.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        os.link(path, tmp, follow_symlinks=False)
    except OSError:  # a file system without hard links: copy it
        raw = _read(path, MAX_STATE_BYTES)
        if raw is not None:
            _write_atomic(backup, raw)
        return
    os.replace(tmp, backup)
    _fsync_dir(backup.parent)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # A leftover of this pid (a recycled one) is removed and the file created anew, never opened through
    # whatever is there: a planted symlink would otherwise be written through.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
