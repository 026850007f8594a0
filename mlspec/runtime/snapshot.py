"""Put folders back as they were when a step fails: the lake outputs and the model registry.

Before a step that writes, :meth:`FolderSnapshot.take` keeps a copy of each folder it may change
(``link=True``: hard links where the file system allows, for lake folders, because Spark and
delta-rs write new files and rename, never rewriting one in place, so a linked copy keeps the old
bytes; MLflow rewrites its ``meta.yaml`` files in place, so the registry is copied). A failed step calls
:meth:`restore`, which replaces each folder by its copy (or removes a folder that did not exist
before); a step that succeeded calls :meth:`discard`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


class FolderSnapshot:
    def __init__(self, scratch: Path, *, link: bool = False) -> None:
        self.scratch = scratch
        self.link = link
        self._kept: dict[Path, Path | None] = {}

    def take(self, folders: list[Path]) -> FolderSnapshot:
        self.scratch.mkdir(parents=True, exist_ok=True)
        for index, given in enumerate(folders):
            folder = given.resolve()
            if folder in self._kept:
                continue
            if not folder.exists():
                self._kept[folder] = None
                continue
            copy = self.scratch / f"{index:04d}"
            shutil.copytree(
                folder, copy, symlinks=True, copy_function=_link_or_copy if self.link else shutil.copy2
            )
            self._kept[folder] = copy
        return self

    def restore(self) -> None:
        for folder, copy in self._kept.items():
            if folder.exists():
                shutil.rmtree(folder)
            if copy is not None:
                folder.parent.mkdir(parents=True, exist_ok=True)
                os.replace(copy, folder)
        self._kept.clear()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def discard(self) -> None:
        self._kept.clear()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


class AppendedFiles:
    """Put a folder of append-only logs back as it was: files cut back to their length, new ones removed.

    The prediction log is JSON lines appended by the scoring server, possibly gigabytes: copying it
    before every serve step would cost more than the step. Appending never changes what is already
    written, so each file's length is all there is to keep.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lengths: dict[Path, int] = {}
        self._existed = folder.exists()

    def take(self) -> AppendedFiles:
        if self._existed:
            self._lengths = {p: p.stat().st_size for p in self.folder.rglob("*") if p.is_file()}
        return self

    def restore(self) -> None:
        if not self.folder.exists():
            return
        for path in sorted(self.folder.rglob("*"), reverse=True):  # files before their folders
            if path.is_file() and path in self._lengths:
                if path.stat().st_size > self._lengths[path]:
                    os.truncate(path, self._lengths[path])
            elif path.is_file() or path.is_symlink():
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()) and path != self.folder:
                path.rmdir()
        if not self._existed and not any(self.folder.iterdir()):
            self.folder.rmdir()
