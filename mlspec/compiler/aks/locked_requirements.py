"""The image's ``requirements.txt``: the lock file's exact set when it matches, else the ranges."""

from __future__ import annotations

from dataclasses import dataclass

from mlspec.compiler.artifacts import RenderContext
from mlspec.compiler.serving_image.base_images import BaseImage, base_image
from mlspec.compiler.serving_image.lock_file import (
    LOCK_COMMAND,
    LockFileError,
    find_set,
    inputs_digest,
    lock_file_name,
    parse_lock,
)
from mlspec.compiler.serving_image.requirements import requirements_text
from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.spec_schema.models import PythonEnvironment


@dataclass(frozen=True)
class ImageRequirements:
    text: str
    locked: bool
    """``text`` pins every distribution with hashes (the image installs with ``--require-hashes``)."""
    diagnostics: tuple[Diagnostic, ...] = ()


def image_requirements(ctx: RenderContext, ranges: str, base: BaseImage) -> ImageRequirements:
    """The locked set for ``ranges`` from the spec's lock file, or ``ranges`` with a warning (MLS608).

    The lock file is read through the render context, so a build cache sees it as an input (a new or
    changed lock rebuilds, and so does deleting it)."""
    name = lock_file_name(ctx.spec.file)
    inputs = inputs_digest(ranges, base)
    try:
        text = ctx.read_project_file(name)
    except OSError:
        return _unlocked(ctx, ranges, f"there is no lock file {name}", "")
    try:
        locked = find_set(parse_lock(text), inputs)
    except LockFileError as exc:
        return _unlocked(ctx, ranges, f"{name} cannot be read ({exc})", "; rewrite it")
    if locked is None:
        return _unlocked(
            ctx,
            ranges,
            f"{name} was made from other requirements, Python or platform (no entry has inputs {inputs})",
            "; rerun it",
        )
    return ImageRequirements(locked.requirements_text(), True)


def _unlocked(ctx: RenderContext, ranges: str, why: str, again: str) -> ImageRequirements:
    path: SpecPath = ("model", "training", "environment", "pip")
    warning = Diagnostic.warning(
        "MLS608",
        f"the scoring image installs version ranges, not a locked set: {why}; rerunning the ACR task "
        "could then install other versions",
        path,
        ctx.spec.locate(path),
        f"run `{LOCK_COMMAND} {ctx.spec.file}` (it needs network access to the package index) and commit "
        f"{lock_file_name(ctx.spec.file)}{again}",
    )
    return ImageRequirements(ranges, False, (warning,))


def serving_requirements(ctx: RenderContext, environment: PythonEnvironment, auth: str) -> ImageRequirements:
    """The image's requirements for the model's ``environment`` (``UnsafeValue`` for a pip entry that
    cannot go into a requirements file). Without a pinned base for its Python there is nothing to lock
    against: the ranges, and ``build_image`` refuses the Python version (MLS638)."""
    ranges = requirements_text(list(environment.pip), auth)
    base = base_image(environment.python)
    if base is None:
        return ImageRequirements(ranges, False)
    return image_requirements(ctx, ranges, base)
