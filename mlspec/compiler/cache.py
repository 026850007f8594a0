"""A content-addressed cache of compiled builds, so `plan`/`apply` skip validating and rendering an
unchanged project (importing the models and renderers alone costs more than the plan itself).

The key covers everything a build depends on: mlspec's own code (every file of the package, by
size and modification time), the spec's bytes, the environment asked for, ``--var`` values and
``MLSPEC_VAR_*`` variables, and every project file the renderers read (recorded while rendering,
so the set is exact, not guessed). A hit returns the manifest with each resource's payload and
the artifact files; anything else is a miss and the caller builds as usual. Entries are written
atomically; a corrupt or foreign entry is a miss, never an error.

The entry (``build-<env>.json``) names each artifact file by its place in one pack of the build's
files (offset, size and SHA-256); the pack is ``objects/<sha256 of the pack>`` beside it (identical
builds share it) and is read only where a file is needed (apply ships files;
a plan reads none). Inlining the files as base64 made a 1,000-resource project's entry 110 MB, slow
to parse; one object per file made storing a build of 2,000 files 2,000 file creations (a second
and more on this machine's disk), where one pack is a single write. Objects no entry names any
more, and that no load used for a day, are removed when an entry is stored; a load that finds its
pack changed (another size) or missing is a miss, and a file whose bytes no longer match its
SHA-256 is refused when read (and its entry dropped, so the next run builds afresh).

Each resource's payload properties (the primary artifact's data: most of a build's bytes) are in the
pack too, as JSON, and the entry says where (``properties_packed``). A hit hands them out deferred
(:meth:`mlspec.contract.payload.Payload.deferred`): a plan whose hashes agree parses none, where
parsing them with the entry was most of a no-change plan of a thousand resources.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from mlspec.contract.graph import Manifest
from mlspec.contract.payload import PROPERTIES_LOADER, payload_hash
from mlspec.project_files import MAX_PROJECT_FILE_BYTES, read_project_file, read_regular_file

CACHE_VERSION = 4
MAX_ENTRY_BYTES = 512 * 1024 * 1024
"""An entry holds a build's manifest and payloads (a 1,000-resource project's: about 30 MB); anything
bigger (or a FIFO, a device) is not one mlspec wrote."""
OBJECTS_DIR = "objects"
PRUNE_AFTER_SECONDS = 24 * 3600.0
"""An object no entry names any more is removed once no load has used it for this long."""
_DIGEST = re.compile(r"[0-9a-f]{64}")
PACKED_PROPERTIES = "properties_packed"
"""The key of an entry's resource payload that places its properties in the pack."""
_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PackedFile:
    """Where one artifact file is in its build's pack, and the SHA-256 of its bytes."""

    offset: int
    size: int
    digest: str


class CachedFiles:
    """A cached build's artifact files, each read from its pack when asked for and checked against
    the hash its entry recorded."""

    def __init__(self, pack: Path, files: Mapping[str, PackedFile], entry: Path | None = None) -> None:
        self._pack = pack
        self._files = dict(files)
        self._entry = entry

    def __getitem__(self, path: str) -> bytes:
        return self.read(self._files[path], path)

    def read(self, packed: PackedFile, what: str) -> bytes:
        """The bytes ``packed`` places in the pack, checked against its hash; ``what`` names them in
        the error when they were changed."""
        content = _read_slice(self._pack, packed.offset, packed.size)
        if len(content) != packed.size or hashlib.sha256(content).hexdigest() != packed.digest:
            raise self.damaged(what)  # never ship it
        return content

    def damaged(self, what: str) -> OSError:
        """Drop the entry, so the next plan or apply builds afresh, and say why this one cannot go on."""
        if self._entry is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._entry)
        return OSError(f"the build cache's copy of {what} was changed; the cache entry is dropped: run again")


def _read_slice(pack: Path, offset: int, size: int) -> bytes:
    """``size`` bytes at ``offset`` of the pack, opened as :func:`read_regular_file` opens files: a link
    or a FIFO put in its place since :func:`load` looked is refused, never followed or waited on."""
    descriptor = os.open(
        pack, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    )
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"the build cache's pack {pack} is not a regular file")
        return os.pread(descriptor, size, offset)
    finally:
        os.close(descriptor)


@dataclass
class CachedBuild:
    manifest: Manifest
    payloads: dict[str, dict[str, Any]]
    files: CachedFiles
    project_files: tuple[str, ...] = ()
    """The files the spec names (``BuildResult.project_files``)."""


def _code_fingerprint() -> str:
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(_PACKAGE_DIR):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            stat = os.stat(os.path.join(root, name))
            digest.update(
                f"{os.path.relpath(os.path.join(root, name), _PACKAGE_DIR)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode()
            )
    return digest.hexdigest()


def build_key(
    spec_path: Path, environment: str | None, variables: Mapping[str, str], environ: Mapping[str, str]
) -> str | None:
    """The cache key for building ``spec_path`` now, or ``None`` if the spec cannot be read.

    Take it *before* building and store the result under it: a spec saved while the build runs
    then misses next time instead of being served the build of the old text.
    """
    try:
        spec_bytes = read_regular_file(spec_path, limit=MAX_PROJECT_FILE_BYTES)
    except OSError:  # a FIFO, a device, too large, missing: the build says what is wrong
        return None
    selected = {k: v for k, v in environ.items() if k.startswith("MLSPEC_VAR_")}
    material = json.dumps(
        {
            "version": CACHE_VERSION,
            "code": _code_fingerprint(),
            "spec_name": spec_path.name,  # artifacts name the spec file they came from
            "spec": hashlib.sha256(spec_bytes).hexdigest(),
            "environment": environment,
            "variables": sorted(variables.items()),
            "environ": sorted(selected.items()),
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _inputs_digest(project_dir: Path, inputs: Mapping[str, str | None]) -> dict[str, str | None]:
    now: dict[str, str | None] = {}
    for relative in inputs:
        try:
            now[relative] = hashlib.sha256(read_project_file(project_dir, relative)).hexdigest()
        except OSError:
            now[relative] = None
    return now


def cache_file(project_dir: Path, environment: str | None) -> Path:
    return project_dir / ".mlspec" / "cache" / f"build-{environment or '_default'}.json"


def load(spec_path: Path, environment: str | None, key: str | None) -> CachedBuild | None:
    """The cached build stored under ``key`` (from :func:`build_key`), if every recorded input is unchanged."""
    project_dir = spec_path.parent
    if key is None:
        return None
    target = cache_file(project_dir, environment)
    try:
        entry = orjson.loads(read_regular_file(target, limit=MAX_ENTRY_BYTES))
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        if _inputs_digest(project_dir, entry["inputs"]) != entry["inputs"]:
            return None
        manifest_document = entry["manifest"]
        if not isinstance(manifest_document, dict):
            return None
        manifest = Manifest.from_json(manifest_document)
        payloads = {r["address"]: r["payload"] for r in manifest_document["resources"]}
        if not all(isinstance(p, dict) for p in payloads.values()):
            return None
        recorded, pack_digest, pack_size = entry["files"], entry["pack"], entry["pack_size"]
        objects = target.parent / OBJECTS_DIR
        if not (
            isinstance(recorded, dict) and isinstance(pack_digest, str) and _DIGEST.fullmatch(pack_digest)
        ):
            return None
        if not _real_folder(objects) or not isinstance(pack_size, int):
            return None
        found = os.lstat(objects / pack_digest)  # a missing pack is an OSError: a miss
        if not stat.S_ISREG(found.st_mode) or found.st_size != pack_size:
            return None  # changed or replaced since it was stored: build afresh
        files: dict[str, PackedFile] = {}
        for path, place in recorded.items():
            packed = _packed(place, pack_size)
            if packed is None:
                return None
            files[path] = packed
        cached_files = CachedFiles(objects / pack_digest, files, entry=target)
        for resource in manifest.resources:
            address = str(resource.address)
            body = payloads[address]
            packed = _packed(body.pop(PACKED_PROPERTIES, None), pack_size)
            digest = manifest.hashes.get(resource.address, "")
            if packed is None or not digest or not isinstance(body.get("attachments", {}), dict):
                return None
            body[PROPERTIES_LOADER] = _properties_loader(
                cached_files, packed, address, resource.provider_type, body.get("attachments") or {}, digest
            )
        if any(file not in files for resource in manifest.resources for file in resource.files):
            return None  # a resource would ship a file the entry does not hold
        _touch(objects, {pack_digest})
        project_files = tuple(entry.get("project_files", ()))
        if not all(isinstance(f, str) for f in project_files):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # an entry of another shape (damaged, edited, not mlspec's): build afresh
    return CachedBuild(manifest, payloads, cached_files, project_files)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _packed(place: Any, pack_size: int) -> PackedFile | None:
    """An ``[offset, size, sha256]`` of the entry, if it is one inside a pack of ``pack_size`` bytes."""
    if not (isinstance(place, list) and len(place) == 3):
        return None
    offset, size, digest = place
    if not (_whole(offset) and _whole(size) and 0 <= offset <= offset + size <= pack_size):
        return None
    if not (isinstance(digest, str) and _DIGEST.fullmatch(digest)):
        return None
    return PackedFile(offset, size, digest)


def _properties_loader(
    files: CachedFiles,
    packed: PackedFile,
    address: str,
    provider_type: str,
    attachments: Mapping[str, str],
    digest: str,
) -> Callable[[], Any]:
    """Reads a resource's properties from the pack, and vouches that they are the ones its manifest hash
    was taken over: a slice moved to another resource, or bytes that are not JSON, drop the entry."""
    what = f"the properties of {address}"

    def load() -> Any:
        raw = files.read(packed, what)
        try:
            properties = orjson.loads(raw)
        except (ValueError, RecursionError):
            raise files.damaged(what) from None
        if payload_hash(provider_type, properties, attachments) != digest:
            raise files.damaged(what)
        return properties

    return load


def store(
    spec_path: Path,
    environment: str | None,
    key: str | None,
    manifest_document: dict[str, Any],
    files: Mapping[str, bytes],
    inputs: Mapping[str, bytes | None],
    project_files: tuple[str, ...] = (),
) -> None:
    """Remember a successful build; failures to write are ignored (the cache is an optimisation)."""
    if key is None:
        return
    project_dir = spec_path.parent
    target = cache_file(project_dir, environment)
    objects = target.parent / OBJECTS_DIR
    pack = bytearray()

    def packed(content: bytes) -> list[Any]:
        place = [len(pack), len(content), hashlib.sha256(content).hexdigest()]
        pack.extend(content)
        return place

    recorded = {path: packed(content) for path, content in sorted(files.items())}
    resources = []
    try:
        for resource in manifest_document["resources"]:
            body = dict(resource["payload"])
            body[PACKED_PROPERTIES] = packed(orjson.dumps(body.pop("properties", None)))
            resources.append({**resource, "payload": body})
        pack_digest = hashlib.sha256(pack).hexdigest()
        entry = {
            "key": key,
            "inputs": {
                k: (hashlib.sha256(v).hexdigest() if v is not None else None) for k, v in inputs.items()
            },
            "manifest": {**manifest_document, "resources": resources},
            "pack": pack_digest,
            "pack_size": len(pack),
            "files": recorded,
            "project_files": list(project_files),
        }
        entry_bytes = orjson.dumps(entry)
    except TypeError:
        return  # a value orjson cannot write (an integer past 64 bits): not cached, built each time
    try:
        objects.mkdir(parents=True, exist_ok=True)
        if not _real_folder(objects):
            return  # a link or a file there: never write (or prune) through it
        # Written even when a pack of that name is there: one write, and a damaged copy is replaced.
        _write_atomically(objects / pack_digest, bytes(pack))
        # What the entry names, small, beside it: pruning reads these, not every (big) entry.
        _write_atomically(target.with_suffix(".objects"), json.dumps([pack_digest]).encode("ascii"))
        _write_atomically(target, entry_bytes)
    except OSError:
        return
    _remove_unnamed_objects(target.parent)


def _write_atomically(target: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(prefix=".build-", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _remove_unnamed_objects(folder: Path) -> None:
    """Remove the objects no entry in ``folder`` names (files of builds replaced since) that no load
    touched for :data:`PRUNE_AFTER_SECONDS`: a plan storing a new entry must not take away the files of
    the build an apply is shipping right now. Only regular files named by a SHA-256 are ever removed,
    and only in a real folder (never through a link)."""
    objects = folder / OBJECTS_DIR
    if not _real_folder(objects):
        return
    named: set[str] = set()
    try:
        for listing in folder.glob("build-*.objects"):
            named.update(json.loads(read_regular_file(listing, limit=MAX_ENTRY_BYTES)))
        stored = list(os.scandir(objects))
    except (OSError, ValueError, TypeError):
        return  # a listing that cannot be read: keep every object rather than guess
    now = time.time()
    for item in stored:
        if item.name in named or not _DIGEST.fullmatch(item.name):
            continue
        with contextlib.suppress(OSError):
            status = item.stat(follow_symlinks=False)
            if stat.S_ISREG(status.st_mode) and now - status.st_mtime > PRUNE_AFTER_SECONDS:
                os.unlink(item.path)


def _real_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _touch(objects: Path, digests: set[str]) -> None:
    """Mark the objects a load is about to use as recently used (see :func:`_remove_unnamed_objects`)."""
    for digest in digests:
        with contextlib.suppress(OSError):
            os.utime(objects / digest, follow_symlinks=False)
