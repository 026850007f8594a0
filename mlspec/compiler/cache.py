"""A content-addressed cache of compiled builds, so `plan`/`apply` skip validating and rendering an
unchanged project (importing the models and renderers alone costs more than the plan itself).

The key covers everything a build depends on: mlspec's own code (every file of the package, by
size and modification time), the spec's bytes, the environment asked for, ``--var`` values and
``MLSPEC_VAR_*`` variables, and every project file the renderers read (recorded while rendering,
so the set is exact, not guessed). A hit returns the manifest with each resource's payload and
the artifact files; anything else is a miss and the caller builds as usual. Entries are written
atomically; a corrupt or foreign entry is a miss, never an error.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlspec.contract.graph import Manifest
from mlspec.project_files import MAX_PROJECT_FILE_BYTES, read_project_file, read_regular_file

CACHE_VERSION = 1
MAX_ENTRY_BYTES = 64 * 1024 * 1024
"""An entry holds a build's artifacts; anything bigger (or a FIFO, a device) is not one mlspec wrote."""
_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@dataclass
class CachedBuild:
    manifest: Manifest
    payloads: dict[str, dict[str, Any]]
    files: dict[str, bytes]
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
    try:
        entry = json.loads(read_regular_file(cache_file(project_dir, environment), limit=MAX_ENTRY_BYTES))
        if entry.get("key") != key:
            return None
        if _inputs_digest(project_dir, entry["inputs"]) != entry["inputs"]:
            return None
        manifest_document = entry["manifest"]
        manifest = Manifest.from_json(manifest_document)
        payloads = {r["address"]: r["payload"] for r in manifest_document["resources"]}
        files = {path: base64.b64decode(data) for path, data in entry["files"].items()}
        project_files = tuple(entry.get("project_files", ()))
        if not all(isinstance(f, str) for f in project_files):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return CachedBuild(manifest, payloads, files, project_files)


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
    entry = {
        "key": key,
        "inputs": {k: (hashlib.sha256(v).hexdigest() if v is not None else None) for k, v in inputs.items()},
        "manifest": manifest_document,
        "files": {path: base64.b64encode(content).decode("ascii") for path, content in sorted(files.items())},
        "project_files": list(project_files),
    }
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".build-", dir=target.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(json.dumps(entry))  # dumps, not dump: only the one-shot call uses the C encoder
        os.replace(temporary, target)
    except OSError:
        return
