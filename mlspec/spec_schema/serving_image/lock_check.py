"""Whether the scoring image installs a locked set: one answer for ``validate`` and ``build``.

The image's requirements are the spec's ranges unless the lock file beside the spec (``mlspec lock``)
has an entry for exactly these inputs (requirement ranges, Python, platform). Without a lock file the
team has not opted in: the ranges, silently (the Dockerfile says so). A lock file that is stale or
unreadable is a mistake: build writes the ranges and both commands warn (MLS608) with the same
message at the same line, so a spec ``validate`` passes quietly builds quietly.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

from mlspec.diagnostics import SpecPath
from mlspec.spec_schema.serving_image.base_images import BaseImage
from mlspec.spec_schema.serving_image.lock_file import (
    LOCK_COMMAND,
    LockedSet,
    LockFileError,
    find_set,
    inputs_digest,
    lock_file_name,
    parse_lock,
)

LOCK_PATH: SpecPath = ("model", "training", "environment", "pip")
"""Where MLS608 points: the pip list the lock is made from."""
CODE = "MLS608"


@dataclass(frozen=True)
class LockFinding:
    """The locked set, or why there is none (``message`` and ``hint`` of the MLS608 warning; empty when
    there is no lock file at all)."""

    locked: LockedSet | None
    message: str = ""
    hint: str = ""


def find_locked_set(spec_file: str, ranges: str, base: BaseImage, read: Callable[[str], str]) -> LockFinding:
    """The lock file's set for ``ranges`` on ``base``; ``read`` reads a project file (``OSError`` when it
    cannot), so build reads it through its render context and a build cache sees it as an input."""
    name = lock_file_name(spec_file)
    inputs = inputs_digest(ranges, base)
    try:
        text = read(name)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            # No lock: the team has not opted in (``mlspec lock``); the Dockerfile says it installs ranges.
            return LockFinding(None)
        return _unlocked(spec_file, f"{name} cannot be read ({exc.strerror or exc})", "; rewrite it")
    try:
        locked = find_set(parse_lock(text), inputs)
    except LockFileError as exc:
        return _unlocked(spec_file, f"{name} cannot be read ({exc})", "; rewrite it")
    if locked is None:
        return _unlocked(
            spec_file,
            f"{name} was made from other requirements, Python or platform (no entry has inputs {inputs})",
            "; rerun it",
        )
    return LockFinding(locked)


def _unlocked(spec_file: str, why: str, again: str) -> LockFinding:
    return LockFinding(
        None,
        f"the scoring image installs version ranges, not a locked set: {why}; rerunning the ACR task "
        "could then install other versions",
        f"run `{LOCK_COMMAND} {spec_file}` (it needs network access to the package index) and commit "
        f"{lock_file_name(spec_file)}{again}",
    )
