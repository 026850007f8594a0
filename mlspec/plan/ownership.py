"""Who owns a state: the project and environment it records, checked on every read.

A state is refused (MLS808) when it records another owner than the spec that reads it, or when
none exists yet for this project but one of the same environment with live objects sits beside it
under another project name — the project was renamed, and a fresh state would claim the same
objects a second time.
"""

from __future__ import annotations

from pathlib import Path

from mlspec.diagnostics import Diagnostic, Location, MlspecError
from mlspec.plan.backends import StateBackend
from mlspec.plan.state import State
from mlspec.plan.target import Target
from mlspec.redaction import printable, redact, strip_query


def read_state(backend: StateBackend, target: Target) -> State | None:
    """The state of ``target``, refused (MLS808) when another project or environment owns it: one
    state recorded under another owner at this location, or, when there is none here yet, a state
    beside it with live objects whose project has another name (the project was renamed)."""
    state = backend.read()
    where = backend.description
    if state is not None:
        if state.project == target.project and state.environment != target.environment:
            raise owner_error(
                f"{where} holds the state of environment {printable(state.environment)!r} of this project, "
                f"not of {target.environment!r}: it was copied or moved here",
                f"put back the own state of environment {target.environment!r} (its previous version is "
                f"{Path(where).name}.backup beside it, if it had one), or remove the file if this environment was "
                "never applied; states are never shared between environments",
                where,
            )
        if (state.project, state.environment) != (target.project, target.environment):
            raise owner_error(
                f"{where} holds the state of {printable(state.project)}/{printable(state.environment)}, "
                f"not {target.project}/{target.environment}",
                "if this project was renamed from "
                f"{printable(state.project)!r}, adopt its state: `mlspec state mv --from-project "
                f"{printable(state.project)} --env {target.environment}`; if two projects share one state "
                "location (the same state.prefix, or one project.name), give this one its own state.prefix "
                "or project.name",
                where,
            )
        return state
    for place, other in backend.neighbours():
        if other.environment == target.environment and other.project != target.project and other.resources:
            old = printable(other.project)
            raise owner_error(
                f"the state of environment {target.environment!r} is owned by project {old!r} ({place}, "
                f"{len(other.resources)} resource(s)), and this spec names project {target.project!r}: "
                "applying would make a second state claim the same objects",
                f"if the project was renamed, adopt the old state: `mlspec state mv --from-project {old} "
                f"--env {target.environment}` (or set project.name back to {old!r}); if {old!r} is another "
                "project, destroy its objects first",
                where,
            )
    return None


def owner_error(message: str, hint: str, where: str) -> MlspecError:
    return MlspecError(
        [Diagnostic.error("MLS808", redact(message), (), Location(strip_query(where), 1, 1), hint)]
    )
