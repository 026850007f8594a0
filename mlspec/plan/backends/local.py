"""The local state backend: ``.mlspec/state/<project>/<env>.json`` and ``<env>.lock`` beside it.

Writes are atomic and durable: the new document goes to a temporary file that is fsynced and
renamed over the old one, then the folder is fsynced; the previous document is first copied
to ``<env>.json.backup`` the same way. At every instant ``<env>.json`` is a whole document.
The lock is a file created with ``O_EXCL`` holding who/operation/created.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from mlspec.plan.lock import LockHeldError, LockInfo, lock_error
from mlspec.plan.state import State, conflict_error


class LocalBackend:
    def __init__(self, folder: Path, environment: str) -> None:
        self.folder = folder
        self.environment = environment
        self.path = folder / f"{environment}.json"
        self.backup_path = folder / f"{environment}.json.backup"
        self.lock_path = folder / f"{environment}.lock"
        self._serial: int | None = None  # the serial last read or written by this backend

    @property
    def description(self) -> str:
        return str(self.path)

    def read(self) -> State | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            self._serial = 0
            return None
        state = State.from_bytes(raw, str(self.path))
        self._serial = state.serial
        return state

    def write(self, state: State) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            old = self.path.read_bytes()
        except FileNotFoundError:
            old = None
        if self._serial is not None:
            on_disk = _serial_of(old) if old is not None else 0
            if on_disk != self._serial:
                raise conflict_error(
                    f"{self.path} was written by someone else (serial {self._serial} → {on_disk}) while this "
                    "process held the lock",
                    "was the lock broken with force-unlock while an apply ran? re-run plan",
                )
        if old is not None:
            _write_atomic(self.backup_path, old)
        _write_atomic(self.path, state.to_bytes())
        self._serial = state.serial

    def lock(self, operation: str) -> LockInfo:
        """Take the lock, or raise :class:`LockHeldError` naming the holder.

        The lock file appears with its contents in one step: the record is written and synced
        to a private file first, then hard-linked to the lock's name, which fails if the lock
        exists. (Creating the lock empty and writing it after would let a competing process read
        an empty lock and be unable to say who holds it.)
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        info = LockInfo.new(operation, str(self.lock_path))
        handle, staging = tempfile.mkstemp(prefix=f".{self.lock_path.name}.", dir=self.folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(info.to_json(), stream)
                stream.flush()
                os.fsync(stream.fileno())
            try:
                os.link(staging, self.lock_path)
            except FileExistsError:
                holder = self.current_lock()
                if holder is None:  # released between our attempt and the read: try once more
                    return self.lock(operation)
                raise LockHeldError(holder, self.environment) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staging)
        _fsync_dir(self.folder)
        return info

    def unlock(self, info: LockInfo) -> None:
        current = self.current_lock()
        if current is None or current.id != info.id:
            return  # broken by force-unlock meanwhile: nothing of ours to remove
        with contextlib.suppress(FileNotFoundError):
            self.lock_path.unlink()
        _fsync_dir(self.folder)

    def current_lock(self) -> LockInfo | None:
        try:
            raw = self.lock_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            data = {"id": "?", "who": "unknown (unreadable lock file)", "operation": "?", "created": "?"}
        return LockInfo.from_json(data, str(self.lock_path))

    def force_unlock(self, lock_id: str) -> LockInfo:
        current = self.current_lock()
        if current is None:
            raise lock_error(f"no lock to remove: {self.lock_path} does not exist")
        if current.id != lock_id:
            raise lock_error(
                f"lock id {lock_id!r} does not match the current lock, held by {current.describe()}",
                "pass the lock id exactly as the error that named the holder printed it",
            )
        self.lock_path.unlink()
        _fsync_dir(self.folder)
        return current


def _serial_of(raw: bytes) -> int:
    try:
        return int(json.loads(raw)["serial"])
    except (ValueError, KeyError, TypeError):
        return -1


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
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
