"""The one rule for a path inside a build folder (MLS601), shared by the build that writes it, the saved
plan that carries it and the provider that writes it again: relative, normalised, no ``..``, no empty
or ``.`` parts, no backslash or NUL. Kept free of heavy imports (``plan`` must stay fast)."""

from __future__ import annotations

import posixpath

BUILD_MARKER = ".mlspec-build"
"""Written into every build folder: only a folder holding it (a regular file with mlspec's text) is replaced."""


class ArtifactError(ValueError):
    """A renderer tried to write outside its folder or twice to one path (a compiler bug or hostile name)."""


def is_build_path(path: object) -> bool:
    """Whether ``path`` is already a safe, normalised path inside a build folder."""
    return (
        isinstance(path, str)
        and path != ""
        and "\\" not in path
        and "\x00" not in path
        and not path.startswith("/")
        and posixpath.normpath(path) == path
        and all(part not in ("", ".", "..") for part in path.split("/"))
    )


def safe_relative_path(path: str) -> str:
    """``path`` normalised, or :class:`ArtifactError` if it would leave the build folder."""
    if not path or "\\" in path or "\x00" in path or path.startswith("/"):
        raise ArtifactError(f"unsafe artifact path {path!r}")
    normal = posixpath.normpath(path)
    if not is_build_path(normal):
        raise ArtifactError(f"unsafe artifact path {path!r}")
    return normal
