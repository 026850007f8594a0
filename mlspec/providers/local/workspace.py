"""The local provider's workspace on disk: one folder per resource, replaced as a whole.

``<project>/.mlspec/local/<env>/<service>/<kind>/<name>/`` holds

- ``properties.json``: the resource's properties as deployed (what ``read`` returns),
- ``files/<build path>``: every artifact file the resource ships, byte for byte,
- ``resource.json``: address, provider type, payload hash, the primary file and the hash of
  each file as written (so a hand edit of the primary file shows up as drift too).

A folder is written beside its target and swapped in, so a crash never leaves half of one;
leftovers of an interrupted swap are removed by the next write (a caller that writes many objects
passes a set in which each parent folder is remembered once looked through: only a killed process
leaves leftovers, and applies hold the state lock).
Nothing here is fsynced: the state journal is the durable record of what was applied, and an object
a power cut damaged or lost reads back as drift or as gone, which the next apply repairs. (Syncing
every file of every object made the local stand-in slower than the cloud it stands in for.)

These files are mlspec's own, but anyone may edit them (that is drift): each is read without following
a symlink, only when it is a regular file, and at most :data:`MAX_OBJECT_FILE_BYTES` of it. A file that
breaks these rules, or whose JSON Python cannot hold (not UTF-8, nested too deeply, NaN, a number of
thousands of digits), is an :class:`ObjectFileError` naming it; a ``properties.json`` that is merely
not JSON is returned as its text, so it shows up as drift. A file path to write must be the relative,
normalised path the build makes (:func:`mlspec.compiler.artifacts.safe_relative_path`), never one that
leaves the folder.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlspec.artifact_paths import ArtifactError, safe_relative_path
from mlspec.contract.graph import content_hash
from mlspec.project_files import ProjectFileError, read_own_file
from mlspec.strict_json import strict_json_loads

PROPERTIES_FILE = "properties.json"
PROPERTIES_DIGEST = "properties_hash"
"""The ``resource.json`` key of the hash of ``properties.json`` as written."""
PROPERTIES_STAT = "properties_stat"
FILE_STATS = "file_stats"
"""``resource.json`` keys of each file's size, modification and change times and inode as written: a
file whose four are unchanged has its recorded hash without being read (as git's index does). Any
write changes the change time, which no program can set back."""
RESOURCE_FILE = "resource.json"
FILES_DIR = "files"
MAX_OBJECT_FILE_BYTES = 64 * 1024 * 1024
"""Per file of an object (properties, metadata, each attachment): artifacts are code and JSON, the
largest a generated notebook of well under 1 MiB."""


class ObjectFileError(Exception):
    """An object's file mlspec will not read or write; ``path`` names it, ``reason`` says why."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def check_file_path(relative: str) -> None:
    """Refuse (:class:`ObjectFileError`) a file path that is not one the build writes: absolute,
    with ``..``, a backslash or NUL, or not normalised."""
    try:
        normal = safe_relative_path(relative)
    except ArtifactError:
        normal = None
    if normal != relative:
        raise ObjectFileError(
            relative, "it is not a relative path inside the build (no '/' at the start, no '..')"
        )


def file_hash(content: bytes) -> str:
    """The hash the build records for an attachment (``payload()['attachments']``)."""
    return content_hash([content])


def write_object(
    folder: Path,
    *,
    meta: dict[str, Any],
    properties: Any,
    files: Mapping[str, bytes],
    looked_through: set[Path] | None = None,
) -> None:
    """Replace ``folder`` with the object's files (atomically as seen by readers of ``folder``).

    Every file path is checked before anything is written (:func:`check_file_path`). ``looked_through``:
    see :func:`_remove_leftovers`."""
    for relative in files:
        check_file_path(relative)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder, looked_through)
    tag = f"{os.getpid()}-{threading.get_ident()}"
    staging = folder.with_name(f".{folder.name}.new-{tag}")
    staging.mkdir()
    try:
        stats: dict[str, list[int]] = {}
        for relative, content in files.items():
            target = staging / FILES_DIR / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            stats[relative] = _signature(os.lstat(target))
        dumped = _dump(properties).encode("utf-8")
        (staging / PROPERTIES_FILE).write_bytes(dumped)
        meta = {
            **meta,
            "files": {path: file_hash(content) for path, content in sorted(files.items())},
            # Let a read tell untouched files without reading them (see read_object).
            PROPERTIES_DIGEST: file_hash(dumped),
            PROPERTIES_STAT: _signature(os.lstat(staging / PROPERTIES_FILE)),
            FILE_STATS: dict(sorted(stats.items())),
        }
        (staging / RESOURCE_FILE).write_text(_dump(meta), encoding="utf-8")
        if folder.exists():
            retired = folder.with_name(f".{folder.name}.old-{tag}")
            folder.rename(retired)
            staging.rename(folder)
            _discard(retired)
        else:
            staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@dataclass
class StoredObject:
    """What :func:`read_object` found in a folder."""

    properties: Callable[[], Any]
    """Reads the properties (parsed on the call, not before)."""
    untouched: bool
    """The properties file's bytes are those written (``resource.json`` records their hash)."""
    meta: dict[str, Any]
    files: dict[str, str]
    """The hash of each file on disk, by path."""


def read_object(folder: Path) -> StoredObject | None:
    """What the folder holds, or ``None`` if the folder is gone.

    A properties file that is not JSON is read as its text, so it shows up as drift; a missing or
    non-JSON ``resource.json`` is no metadata. Anything else wrong is an :class:`ObjectFileError`
    (properties that Python cannot hold, when they are read).
    """
    try:
        status = os.lstat(folder)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ObjectFileError(folder, exc.strerror or str(exc)) from None
    if stat.S_ISLNK(status.st_mode):
        raise ObjectFileError(folder, "it is a symlink (mlspec never links its object folders)")
    if not stat.S_ISDIR(status.st_mode):
        return None
    # Strings, not Paths: this runs for every object of every plan (see _files_below).
    base = os.fspath(folder)
    properties_file = base + os.sep + PROPERTIES_FILE
    meta_file = base + os.sep + RESOURCE_FILE
    files_dir = base + os.sep + FILES_DIR
    try:
        properties_status: os.stat_result | None = os.lstat(properties_file)
    except FileNotFoundError:
        return None
    except OSError:
        properties_status = None  # reading it says what is wrong
    meta_problem: ObjectFileError | None = None
    try:
        raw_meta = _read(meta_file)
        meta = _json(_text(raw_meta, meta_file), meta_file) if raw_meta is not None else {}
    except ObjectFileError as problem:  # reported after the properties file's own, as ever
        meta_problem, meta = problem, {}
    meta = meta if isinstance(meta, dict) else {}
    known = _known_files(meta)
    if (
        meta_problem is None
        and properties_status is not None
        and stat.S_ISREG(properties_status.st_mode)
        and _signature(properties_status) == meta.get(PROPERTIES_STAT)
    ):
        # Untouched since written: read (and parse) only if someone asks for the properties.
        return StoredObject(
            lambda: _parsed_properties(properties_file), True, meta, _file_hashes(files_dir, known)
        )
    raw = _read(properties_file)
    if raw is None:
        return None
    text = _text(raw, properties_file)
    if meta_problem is not None:
        raise meta_problem
    untouched = meta.get(PROPERTIES_DIGEST) == file_hash(raw)
    return StoredObject(
        lambda: _properties_of(text, properties_file),
        untouched,
        meta,
        _file_hashes(files_dir, known),
    )


def _parsed_properties(path: Path | str) -> Any:
    raw = _read(path)
    if raw is None:
        raise ObjectFileError(path, "it was removed while being read")
    return _properties_of(_text(raw, path), path)


def _properties_of(text: str, path: Path | str) -> Any:
    """The properties in ``text``; text that is not JSON is returned as it is (it shows as drift)."""
    found: Any = _json(text, path)
    return text if found is _NOT_JSON else found


def object_differences(
    folder: Path, *, provider_type: str, properties: Any, files: Mapping[str, bytes]
) -> list[str] | None:
    """How the object in ``folder`` differs from the one :func:`write_object` would write there:
    ``None`` when there is none (what :func:`read_object` sees as none), ``[]`` when it is the same
    object, else what differs, a few words each (file paths as found on disk, not yet printable).

    The same object means the same properties as JSON (``1`` is not ``true``), the same files byte for
    byte, none more, and the same provider type when ``resource.json`` records one. The rest of that
    file is bookkeeping (the payload hash, the hash of each file as written), so an object that differs
    only there — or has lost the file — is still the same one; the next write rewrites it. Anything
    unreadable is an :class:`ObjectFileError`, as for :func:`read_object`."""
    found = read_object(folder)
    if found is None:
        return None
    found_properties, meta, found_files = found.properties(), found.meta, found.files
    differences: list[str] = []
    recorded_type = meta.get("provider_type")
    if recorded_type is not None and recorded_type != provider_type:
        differences.append(f"its provider type is {recorded_type!r}")
    if _dump(found_properties) != _dump(properties):
        differences.append("its properties differ")
    wanted = {path: file_hash(content) for path, content in files.items()}
    for path in sorted(wanted.keys() | found_files.keys()):
        if path not in found_files:
            differences.append(f"it lacks the file {path}")
        elif path not in wanted:
            differences.append(f"it has the file {path}, which this build does not ship")
        elif found_files[path] != wanted[path]:
            differences.append(f"its file {path} differs")
    return differences


def _signature(status: os.stat_result) -> list[int]:
    return [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino]


def _known_files(meta: dict[str, Any]) -> dict[str, tuple[list[int], str]]:
    """``{path: (signature, hash)}`` of the files ``resource.json`` says were written (none when it
    does not say, or says it in another shape: then every file is read)."""
    stats, hashes = meta.get(FILE_STATS), meta.get("files")
    if not isinstance(stats, dict) or not isinstance(hashes, dict):
        return {}
    return {
        path: (signature, hashes[path])
        for path, signature in stats.items()
        if isinstance(signature, list) and isinstance(hashes.get(path), str)
    }


def _file_hashes(
    root: Path | str, known: Mapping[str, tuple[list[int], str]] | None = None
) -> dict[str, str]:
    """The hash of every file below ``root`` by its path relative to it; a link or special file there
    is refused, a linked folder is not entered. A regular file whose signature (see :data:`FILE_STATS`)
    is the one ``known`` records for its path has the recorded hash, unread."""
    on_disk: dict[str, str] = {}
    if os.path.islink(root):
        raise ObjectFileError(root, "it is a symlink")
    if not os.path.isdir(root):
        return on_disk
    recorded_stats = known or {}
    for relative, path in _files_below(os.fspath(root)):
        recorded = recorded_stats.get(relative)
        if recorded is not None:
            with contextlib.suppress(OSError):
                status = os.lstat(path)
                if stat.S_ISREG(status.st_mode) and _signature(status) == recorded[0]:
                    on_disk[relative] = recorded[1]
                    continue
        content = _read(path)
        if content is not None:
            on_disk[relative] = file_hash(content)
    return dict(sorted(on_disk.items()))


def _files_below(base: str) -> Iterator[tuple[str, str]]:
    """``(path relative to base with "/", path)`` of every file below ``base``; a linked folder is
    refused, never entered (a linked file is listed: reading it refuses it). A folder that cannot
    be listed is passed over, as ``os.walk`` does.

    ``os.scandir`` directly, with strings: a refresh lists every object's files, and ``os.walk``
    with ``Path`` objects was most of a no-change plan of a thousand resources."""
    pending = [(base, "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            relative = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                pending.append((entry.path, relative + "/"))
            elif entry.is_symlink() and entry.is_dir():
                raise ObjectFileError(entry.path, "it is a symlink")
            else:
                yield relative, entry.path


def _read(path: Path | str) -> bytes | None:
    try:
        return read_own_file(path, limit=MAX_OBJECT_FILE_BYTES)
    except ProjectFileError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise ObjectFileError(path, exc.strerror or str(exc)) from None


def _text(raw: bytes, path: Path | str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ObjectFileError(path, f"it is not UTF-8 (byte {exc.start})") from None


_NOT_JSON: Any = object()


def _json(text: str, path: Path | str) -> Any:
    """``text`` parsed, :data:`_NOT_JSON` if it is not JSON, an :class:`ObjectFileError` if it is JSON
    that Python cannot hold: nested too deeply, NaN or Infinity, a number beyond a float or an
    integer of thousands of digits."""
    try:
        return strict_json_loads(text)
    except json.JSONDecodeError:
        return _NOT_JSON
    except RecursionError:
        raise ObjectFileError(path, "its JSON is nested too deeply") from None
    except ValueError as exc:
        raise ObjectFileError(path, f"its JSON cannot be read: {exc}") from None


def remove_object(folder: Path, looked_through: set[Path] | None = None) -> None:
    _remove_leftovers(folder, looked_through)
    if folder.exists():
        retired = folder.with_name(f".{folder.name}.old-{os.getpid()}-{threading.get_ident()}")
        folder.rename(retired)
        _discard(retired)


_LOOKED_THROUGH_LOCK = threading.Lock()


def _remove_leftovers(folder: Path, looked_through: set[Path] | None) -> None:
    """Remove what killed writers left in ``folder``'s parent (``.<name>.new-*``, ``.<name>.old-*``).

    Listing the parent for every object made writing N objects of one kind O(N²). A failing writer
    removes its own staging folder, so a parent in ``looked_through`` (kept by one apply's provider)
    holds no leftovers; without the set every call looks."""
    parent = folder.parent
    with _LOOKED_THROUGH_LOCK:
        if looked_through is not None and parent in looked_through:
            return
        try:
            entries = list(os.scandir(parent))
        except OSError:
            return
        # Without the set, only this object's own: another thread may be staging its sibling right now.
        # With it, this is the first write into the parent, so no write of this apply is under way there.
        prefix = "." if looked_through is not None else f".{folder.name}."
        for entry in entries:
            if entry.name.startswith(prefix) and (".new-" in entry.name or ".old-" in entry.name):
                _discard(Path(entry.path))
        if looked_through is not None:
            looked_through.add(parent)


def _discard(path: Path) -> None:
    """Remove a retired folder or leftover; a link or file in its place is unlinked, never followed."""
    if path.is_symlink() or not path.is_dir():
        with contextlib.suppress(OSError):
            path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def _dump(value: Any) -> str:
    # One key per line would need the pure-Python encoder (indent): ten times slower on big notebooks.
    return json.dumps(value, sort_keys=True, ensure_ascii=False) + "\n"
