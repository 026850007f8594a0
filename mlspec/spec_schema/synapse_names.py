"""The names Synapse gives mlspec's artifacts, and what Synapse allows in them.

A transform's notebook and its pipeline activity are named after the transform, the pipeline after
the project. The check stage (MLS614 at the spec's line) and the Synapse renderer's own check of the
written artifacts use the same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ARTIFACT_NAME = re.compile(r"[A-Za-z0-9_][^.+?/<>*%&:\\\n\r\t]*")
"""Notebooks, pipelines, activities: start with a letter, digit or underscore; none of
. + ? / < > * % & : \\ (the Data Factory/Synapse naming rules)."""
NOTEBOOK_NAME_MAX = 140
PIPELINE_NAME_MAX = 140
ACTIVITY_NAME_MAX = 55


@dataclass(frozen=True)
class NameProblem:
    message: str
    hint: str


def artifact_name_problems(what: str, name: str, longest: int) -> list[NameProblem]:
    """Why Synapse would refuse ``name`` for a ``what`` (``notebook``, ``pipeline``, ``pipeline activity``)."""
    found: list[NameProblem] = []
    if len(name) > longest:
        found.append(
            NameProblem(
                f"{what} name {name!r} is {len(name)} characters; Synapse allows at most {longest}",
                "shorten the transform name" if what != "pipeline" else "shorten the project name",
            )
        )
    if not ARTIFACT_NAME.fullmatch(name) or name != name.strip():
        found.append(
            NameProblem(
                f"{what} name {name!r} is not allowed by Synapse",
                "start with a letter, digit or underscore; do not use . + ? / < > * % & : or \\",
            )
        )
    return found
