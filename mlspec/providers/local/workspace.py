"""The local provider's workspace on disk: one folder per resource, replaced as a whole.

``<project>/.mlspec/local/<env>/<service>/<kind>/<name>/`` holds

- ``properties.json``: the resource's properties as deployed (what ``read`` returns),
- ``files/<build path>``: every artifact file the resource ships, byte for byte,
- ``resource.json``: address, provider type, payload hash, the primary file and the hash of
  each file as written (so a hand edit of the primary file shows up as drift too).

A folder is written beside its target and swapped in, so a crash never leaves half of one;
leftovers of an interrupted swap are removed by the next write.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlspec.compiler.graph import content_hash

PROPERTIES_FILE = "properties.json"
RESOURCE_FILE = "resource.json"
FILES_DIR = "files"


def file_hash(content: bytes) -> str:
    """The hash the build records for an attachment (``payload()['attachments']``)."""
    return content_hash([content])


def write_object(
    folder: Path,
    *,
    meta: dict[str, Any],
    properties: Any,
    files: Mapping[str, bytes],
) -> None:
    """Replace ``folder`` with the object's files (atomically as seen by readers of ``folder``)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder)
    tag = f"{os.getpid()}-{threading.get_ident()}"
    staging = folder.with_name(f".{folder.name}.new-{tag}")
    staging.mkdir()
    try:
        for relative, content in files.items():
            target = staging / FILES_DIR / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        meta = {**meta, "files": {path: file_hash(content) for path, content in sorted(files.items())}}
        (staging / PROPERTIES_FILE).write_text(_dump(properties), encoding="utf-8")
        (staging / RESOURCE_FILE).write_text(_dump(meta), encoding="utf-8")
        _fsync_tree(staging)
        if folder.exists():
            retired = folder.with_name(f".{folder.name}.old-{tag}")
            folder.rename(retired)
            staging.rename(folder)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(folder)
        _fsync_dir(folder.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def read_object(folder: Path) -> tuple[Any, dict[str, Any], dict[str, str]] | None:
    """``(properties, meta, file hashes on disk)`` or ``None`` if the folder is gone.

    A properties file that no longer parses is returned as its text, so it shows up as drift.
    """
    if not folder.is_dir():
        return None
    try:
        text = (folder / PROPERTIES_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        properties: Any = json.loads(text)
    except json.JSONDecodeError:
        properties = text
    try:
        meta = json.loads((folder / RESOURCE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        meta = {}
    on_disk: dict[str, str] = {}
    root = folder / FILES_DIR
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file():
                on_disk[path.relative_to(root).as_posix()] = file_hash(path.read_bytes())
    return properties, meta if isinstance(meta, dict) else {}, on_disk


def remove_object(folder: Path) -> None:
    _remove_leftovers(folder)
    if folder.exists():
        retired = folder.with_name(f".{folder.name}.old-{os.getpid()}-{threading.get_ident()}")
        folder.rename(retired)
        shutil.rmtree(retired, ignore_errors=True)
        _fsync_dir(folder.parent)


def _remove_leftovers(folder: Path) -> None:
    parent = folder.parent
    if not parent.is_dir():
        return
    for leftover in parent.glob(f".{folder.name}.*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
