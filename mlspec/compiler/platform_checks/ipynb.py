"""Jupyter notebooks (the ``.ipynb`` a Synapse notebook also is), checked by ``nbformat``."""

from __future__ import annotations

from typing import Any

from mlspec.compiler.platform_checks.json_pointers import from_path
from mlspec.compiler.platform_checks.problems import PlatformProblem

CHECKER = "nbformat"

# Synapse puts its own keys (bigDataPool, sessionProperties, ...) beside these; to nbformat they are
# "additional properties", so only the nbformat part is validated.
_NBFORMAT_KEYS = ("nbformat", "nbformat_minor", "metadata", "cells")


def check_ipynb(notebook: dict[str, Any], *, artifact: str | None = None) -> list[PlatformProblem]:
    """Problems ``nbformat`` finds in a notebook document (or a Synapse notebook's ``properties``)."""
    from nbformat.validator import iter_validate

    label = artifact or "notebook"
    missing = [key for key in _NBFORMAT_KEYS if key not in notebook]
    if missing:
        return [PlatformProblem(label, "", f"missing required field '{key}'", CHECKER) for key in missing]
    version = (notebook["nbformat"], notebook["nbformat_minor"])
    if not all(isinstance(part, int) and not isinstance(part, bool) for part in version):
        # nbformat would only say "No schema for validating v4.2 notebooks".
        message = f"nbformat and nbformat_minor must be integers, got {version[0]!r} and {version[1]!r}"
        return [PlatformProblem(label, "", message, CHECKER)]
    document = {key: notebook[key] for key in _NBFORMAT_KEYS}
    problems = []
    # iter_validate reports every error (validate() stops at the first); it does not modify its input.
    for error in iter_validate(document):  # type: ignore[no-untyped-call]
        problems.append(PlatformProblem(label, from_path(error.absolute_path), error.message, CHECKER))
    return problems
