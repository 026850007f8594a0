"""`mlspec state list|show|rm|mv` and `mlspec output`: reading and editing one environment's state by hand.

As in Terraform: ``rm`` forgets a resource (the object itself stays where it is, and mlspec no longer
manages it), ``mv`` renames a resource's address in state (what a ``moved:`` entry does on the next
apply, done now), and ``mv --from-project OLD`` takes over the state of a renamed project — the way out
of MLS808. Every edit holds the state lock and writes through the backend (serial + 1, the previous
version kept as a backup); nothing here calls a provider.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from dataclasses import dataclass
from typing import Any

from mlspec.contract.graph import Address
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import Diagnostic, Location, MlspecError
from mlspec.plan.backends import backend_for
from mlspec.plan.operations import locked
from mlspec.plan.ownership import read_state
from mlspec.plan.state import State
from mlspec.plan.target import Target
from mlspec.redaction import printable, strip_query

# Any name a project could have had (spec_schema's rule is stricter): one safe folder or blob name.
_PROJECT_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class StateView:
    """One environment's state as the commands show it."""

    target: Target
    where: str
    state: State | None

    @property
    def addresses(self) -> list[Address]:
        return sorted(self.state.resources) if self.state else []


def read_view(target: Target) -> StateView:
    """The state of one environment (``None`` inside when nothing was applied yet); no lock is taken."""
    backend = target.backend()
    return StateView(target, backend.description, read_state(backend, target))


def show_resource(view: StateView, address: str) -> ResourceState:
    """The recorded entry of ``address`` (as the user wrote it), or MLS837 naming the closest addresses."""
    return _recorded(view, address)[1]


def _recorded(view: StateView, text: str) -> tuple[Address, ResourceState]:
    """The address ``text`` names and its entry in state, or MLS837 (text that is no address is in no state)."""
    try:
        address = Address.parse(text)
    except ValueError:
        raise _not_in_state(view, text) from None
    if view.state is None or address not in view.state.resources:
        raise _not_in_state(view, text)
    return address, view.state.resources[address]


def outputs(view: StateView) -> dict[str, Any]:
    """Every value a provider reported back (``<address>.<key>``: an endpoint URL, a path), sorted."""
    if view.state is None:
        return {}
    return {
        f"{address}.{key}": value
        for address in sorted(view.state.resources)
        for key, value in sorted(view.state.resources[address].outputs.items())
    }


def remove_resource(target: Target, address: str) -> ResourceState:
    """Forget ``address``: it leaves the state, its object stays where it is. Returns what was recorded."""
    backend = target.backend()
    with locked(backend, "state rm"):
        state = read_state(backend, target)
        view = StateView(target, backend.description, state)
        forgotten, removed = _recorded(view, address)
        assert state is not None  # _recorded found the address in it
        edited = state.copy()
        del edited.resources[forgotten]
        for entry in edited.resources.values():
            entry.depends_on = [d for d in entry.depends_on if d != forgotten]
        edited.serial += 1
        backend.write(edited)
    return removed


def move_resource(target: Target, source: str, destination: str) -> None:
    """Rename ``source`` to ``destination`` in state (same service and kind; the destination free)."""
    backend = target.backend()
    try:
        old, new = Address.parse(source), Address.parse(destination)
    except ValueError as error:
        raise _state_command_error(
            "MLS838",
            str(error),
            backend.description,
            "an address is <service>.<kind>.<name>, as `mlspec state list` prints it",
        ) from None
    if (old.service, old.kind) != (new.service, new.kind):
        raise _state_command_error(
            "MLS838",
            f"{source} is of kind {old.service}.{old.kind} and {destination} of kind {new.service}.{new.kind}: "
            "a move keeps the kind of object",
            backend.description,
            "move it to an address of the same <service>.<kind>",
        )
    with locked(backend, "state mv"):
        state = read_state(backend, target)
        view = StateView(target, backend.description, state)
        _recorded(view, source)
        assert state is not None
        if new in state.resources:
            raise _state_command_error(
                "MLS838",
                f"{destination} is already in the state",
                backend.description,
                f"remove it first (`mlspec state rm {destination}`) if it is stale",
            )
        edited = state.copy()
        edited.resources[new] = edited.resources.pop(old)
        for entry in edited.resources.values():
            entry.depends_on = sorted(new if d == old else d for d in entry.depends_on)
        edited.serial += 1
        backend.write(edited)


def adopt_project_state(target: Target, old_project: str) -> tuple[int, str]:
    """Make the state of ``old_project`` (a renamed project, same environment and backend) this project's:
    it is written under this project's name (same lineage, serial + 1) and the old one is moved aside
    (``.moved``). Refused when this project already has resources in state. Returns (resources, old place)."""
    backend = target.backend()
    if not _PROJECT_NAME.fullmatch(old_project):  # a folder or blob name: never a path or control characters
        raise _state_command_error(
            "MLS839",
            f"--from-project {printable(old_project, 80)!r} is not a project name: lowercase letters, "
            "digits and hyphens, at most 63 characters",
            backend.description,
            "give the project.name the project had when it was applied",
        )
    if old_project == target.project:
        raise _state_command_error(
            "MLS839",
            f"--from-project {printable(old_project)!r} is this project's own name",
            backend.description,
            "name the project's previous project.name",
        )
    # Same backend settings under the old name: the default prefix is the project name, so a rename moved
    # the state's place; with an explicit state.prefix the old state sits where this one reads.
    old_backend = backend_for(
        target.state_config, old_project, target.environment, target.project_dir, target.state_dir
    )
    in_place = old_backend.description == backend.description
    with contextlib.ExitStack() as held:
        held.enter_context(locked(backend, "state mv"))
        if not in_place:
            held.enter_context(locked(old_backend, "state mv"))
        old_state = (backend if in_place else old_backend).read()
        if (
            old_state is None
            or old_state.project != old_project
            or old_state.environment != target.environment
        ):
            found = (
                "no state"
                if old_state is None
                else f"the state of {printable(old_state.project)}/{printable(old_state.environment)}"
            )
            raise _state_command_error(
                "MLS839",
                f"{old_backend.description} holds {found}, not one of project {printable(old_project)!r} "
                f"and environment {target.environment!r}",
                old_backend.description,
                "give the project.name the project had when it was applied",
            )
        current = None if in_place else backend.read()
        if current is not None and current.resources:
            raise _state_command_error(
                "MLS839",
                f"{backend.description} already holds {len(current.resources)} resource(s) of "
                f"{target.project}/{target.environment}: two states cannot be merged",
                backend.description,
                "destroy or `mlspec state rm` what this state holds first, or keep the old project.name",
            )
        adopted = old_state.copy()
        adopted.project = target.project
        adopted.serial = max(old_state.serial, current.serial if current else 0) + 1
        backend.write(adopted)
        moved_to = backend.description if in_place else old_backend.retire()
    return len(adopted.resources), moved_to


def _not_in_state(view: StateView, address: str) -> MlspecError:
    close = difflib.get_close_matches(address, [str(a) for a in view.addresses], n=3, cutoff=0.6)
    if view.state is None:
        hint = "nothing was applied to this environment yet"
    elif close:
        hint = "did you mean " + ", ".join(close) + "?"
    else:
        hint = "`mlspec state list` prints the addresses in state"
    return _state_command_error(
        "MLS837", f"{printable(address)!r} is not in the state of {view.target.environment}", view.where, hint
    )


def _state_command_error(code: str, message: str, where: str, hint: str | None = None) -> MlspecError:
    return MlspecError([Diagnostic.error(code, message, (), Location(strip_query(where), 1, 1), hint)])
