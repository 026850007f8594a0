"""The image's ``requirements.txt``: the lock file's exact set when it matches, else the ranges."""

from __future__ import annotations

from dataclasses import dataclass

from mlspec.compiler.artifacts import RenderContext
from mlspec.diagnostics import Diagnostic
from mlspec.spec_schema.models import PythonEnvironment
from mlspec.spec_schema.serving_image.base_images import BaseImage, base_image
from mlspec.spec_schema.serving_image.lock_check import CODE, LOCK_PATH, find_locked_set
from mlspec.spec_schema.serving_image.requirements import requirements_text


@dataclass(frozen=True)
class ImageRequirements:
    text: str
    locked: bool
    """``text`` pins every distribution with hashes (the image installs with ``--require-hashes``)."""
    diagnostics: tuple[Diagnostic, ...] = ()


def image_requirements(ctx: RenderContext, ranges: str, base: BaseImage) -> ImageRequirements:
    """The locked set for ``ranges`` from the spec's lock file, or ``ranges`` with a warning (MLS608,
    as ``validate`` gives it: :mod:`mlspec.spec_schema.serving_image.lock_check`)."""
    found = find_locked_set(ctx.spec.file, ranges, base, ctx.read_project_file)
    if found.locked is not None:
        return ImageRequirements(found.locked.requirements_text(), True)
    if not found.message:
        return ImageRequirements(ranges, False)
    warning = Diagnostic.warning(CODE, found.message, LOCK_PATH, ctx.spec.locate(LOCK_PATH), found.hint)
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
