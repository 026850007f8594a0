"""Reading the files a spec makes mlspec read — transform code, the training script, the seed
program, and the spec itself — so that none of them can lead mlspec out of the project or stall it.

A file the spec names is resolved (symlinks included) and must stay inside the project root; the
final component is opened with ``O_NOFOLLOW``, so a symlink swapped in after the check is refused
too. It must be a regular file: checked before opening (a FIFO would block ``open``, a device may
act on it) and again on the open descriptor. It is read with a bounded read, so the size limit
holds for the bytes actually read — ``/proc`` files report a size of 0 and ``/dev/zero`` never ends.

mlspec's own files (the local state, its backup and lock, the local provider's objects) are read
with :func:`read_own_file` under the same rules, except that a symlink is refused outright.

Every failure is one :class:`ProjectFileError` (an ``OSError``: ``strerror`` says why in words,
``filename`` is the path as the spec wrote it); callers turn it into a diagnostic at the spec field
that named the file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath

MAX_PROJECT_FILE_BYTES = 4 * 1024 * 1024
"""Transform code, a training script, a seed program: code, not data; 4 MiB is far more than any."""

_READ_CHUNK = 64 * 1024

_FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class ProjectFileError(OSError):
    """A file mlspec will not read, or could not; ``strerror`` says why, ``filename`` names it."""


class FileTooLargeError(ProjectFileError):
    """The file holds more bytes than the limit it was read with."""


def check_project_file(root: Path | str, relative: str, *, limit: int = MAX_PROJECT_FILE_BYTES) -> Path:
    """The real path of ``relative`` (a path the spec wrote) below ``root``, without reading it.

    Raises :class:`ProjectFileError` when the path leaves the project, lexically or through a
    symlink, names no regular file, or the file is already larger than ``limit`` by its size
    (reading enforces the limit on the bytes themselves). A missing file has ``errno`` ENOENT
    (or ENOTDIR when a folder on the way is a file).
    """
    pure = PurePosixPath(relative)
    if (
        not relative
        or "\\" in relative
        or "\x00" in relative
        or pure.is_absolute()
        or ".." in pure.parts
        or not pure.parts
    ):
        raise ProjectFileError(errno.EINVAL, "it is not a relative path inside the project", relative)
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, *pure.parts))
    if os.path.commonpath([real_root, real]) != real_root:
        raise ProjectFileError(
            errno.EXDEV, f"it leads outside the project through a symlink (to {real})", relative
        )
    try:
        status = os.stat(real)
    except OSError as exc:
        raise ProjectFileError(exc.errno, exc.strerror, relative) from None
    _require_regular(status, relative)
    if status.st_size > limit:
        raise _too_large(relative, limit)
    return Path(real)


def read_project_file(root: Path | str, relative: str, *, limit: int = MAX_PROJECT_FILE_BYTES) -> bytes:
    """The bytes of ``relative`` below ``root``: see :func:`check_project_file` for what is refused."""
    real = check_project_file(root, relative, limit=limit)
    return _read(real, relative, limit, follow_symlink=False)


def read_regular_file(path: Path | str, *, limit: int) -> bytes:
    """The bytes of a file the user named (the spec itself): symlinks are the user's choice and are
    followed, but it must be a regular file and hold at most ``limit`` bytes."""
    shown = str(path)
    try:
        status = os.stat(path)
    except OSError as exc:
        raise ProjectFileError(exc.errno, exc.strerror, shown) from None
    _require_regular(status, shown)
    if status.st_size > limit:
        raise _too_large(shown, limit)
    return _read(Path(path), shown, limit, follow_symlink=True)


def read_own_file(path: Path | str, *, limit: int) -> bytes:
    """The bytes of a file mlspec wrote for itself (a state, its backup or lock, a local provider
    object): a symlink in its place is refused, never followed — mlspec never links its own files, so
    one there was planted — and it must be a regular file of at most ``limit`` bytes. Nothing is checked
    before opening: ``O_NOFOLLOW | O_NONBLOCK`` make the open itself safe, the descriptor is checked.

    A missing file is a :class:`ProjectFileError` with ``errno`` ENOENT (callers treat it as absent).
    """
    shown = str(path)
    return _read(path, shown, limit, follow_symlink=False, link_reason="it is a symlink")


def _read(
    path: Path | str,
    shown: str,
    limit: int,
    *,
    follow_symlink: bool,
    link_reason: str = "it was replaced by a symlink while being read",
) -> bytes:
    # O_NONBLOCK: should the file be (or have become) a FIFO, open must not wait for a writer.
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    if not follow_symlink:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlink:
            raise ProjectFileError(exc.errno, link_reason, shown) from None
        raise ProjectFileError(exc.errno, exc.strerror, shown) from None
    try:
        _require_regular(os.fstat(descriptor), shown)
        os.set_blocking(descriptor, True)
        return _read_at_most(descriptor, shown, limit)
    except ProjectFileError:
        raise
    except OSError as exc:
        raise ProjectFileError(exc.errno, exc.strerror, shown) from None
    finally:
        os.close(descriptor)


def _read_at_most(descriptor: int, shown: str, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = os.read(descriptor, min(_READ_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise _too_large(shown, limit)
        chunks.append(chunk)


def _require_regular(status: os.stat_result, shown: str) -> None:
    if stat.S_ISREG(status.st_mode):
        return
    kind = next((name for test, name in _FILE_KINDS if test(status.st_mode)), "a special file")
    raise ProjectFileError(errno.EINVAL, f"it is not a regular file but {kind}", shown)


def _too_large(shown: str, limit: int) -> FileTooLargeError:
    return FileTooLargeError(errno.EFBIG, f"it is larger than {_size(limit)}", shown)


def _size(limit: int) -> str:
    if limit >= 1024 * 1024 and limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"
