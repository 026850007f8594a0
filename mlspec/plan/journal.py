"""The state journal: the changes an apply made since the state document was last written.

Rewriting the whole document after every resource makes an apply quadratic in the number of
resources (1,000 resources: minutes on a no-op provider). Instead each change is one line
appended to ``<env>.journal`` beside the document and made durable before the next resource
starts; the document is rewritten once, when the apply ends (or when the journal has grown
past the document's own size, which keeps the cost per change constant). Reading the state
replays a journal that continues the document, so after a crash at any point the state says
exactly what the finished resources are.

The first line names the document the journal continues (its lineage and serial); a journal
that does not continue the current document was already folded into it (the process died
between writing the document and removing the journal) and is ignored. A last line that was
cut short by the crash is ignored too: the change it would have recorded is repeated by the
next apply, whose provider operations are idempotent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlspec.contract.graph import Address
from mlspec.contract.resource_state import state_error
from mlspec.plan.state import State, StateChange
from mlspec.strict_json import strict_json_loads

JOURNAL_VERSION = 1
COMPACT_MIN_BYTES = 32 * 1024 * 1024
"""A journal is folded into the document once it is larger than this and than the document: folds then
cost at most about twice the final document in all, and a typical apply needs none before its end."""


def header(state: State) -> bytes:
    """The first line: which document (lineage, serial) the records continue."""
    return line(
        {
            "mlspec_state_journal": JOURNAL_VERSION,
            "project": state.project,
            "environment": state.environment,
            "lineage": state.lineage,
            "base_serial": state.serial,
        }
    )


def record(change: StateChange) -> bytes:
    return line(change.to_json())


def line(data: dict[str, Any]) -> bytes:
    # ensure_ascii keeps every record one line whatever the payload holds (U+2028 included).
    return (json.dumps(data, separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")


@dataclass
class Replayed:
    """The state with the journal's changes, and how much of the journal they came from."""

    state: State | None
    continues: bool
    """The journal continues the document (so a writer appends to it rather than starting anew)."""
    valid_bytes: int
    """The journal's length up to its last whole record (a cut-short last line is beyond it)."""
    records: int


def replay(document: State | None, raw: bytes, where: str) -> Replayed:
    """``document`` with the changes of journal ``raw`` applied, when the journal continues it."""
    lines = raw.split(b"\n")
    # Everything after the last newline was cut short by a crash: the writer syncs whole lines only.
    whole, valid_bytes = lines[:-1], len(raw) - len(lines[-1])
    if not whole:
        return Replayed(document, False, 0, 0)
    first = _parse(whole[0], where, last=len(whole) == 1)
    if first is None or not _continues(first, document):
        return Replayed(document, False, valid_bytes, 0)
    state = document.copy() if document is not None else _fresh(first, where)
    count = 0
    for index, text in enumerate(whole[1:], start=2):
        data = _parse(text, where, last=index == len(whole))
        if data is None:  # the last line, damaged by the crash (zeros after a power loss)
            valid_bytes = sum(len(t) + 1 for t in whole[: index - 1])
            break
        change = StateChange.from_json(data, where)
        if change.moves and not _moves_apply(change.moves, state):
            raise state_error(
                f"{where} is malformed: record {index} moves an address the state does not hold, or onto "
                "one it holds",
                _DAMAGED,
                where,
            )
        if change.serial != state.serial + 1:
            raise state_error(
                f"{where} is malformed: record {index} has serial {change.serial}, expected {state.serial + 1}",
                _DAMAGED,
                where,
            )
        change.apply_to(state)
        count += 1
    return Replayed(state, True, valid_bytes, count)


_DAMAGED = (
    "the journal holds the changes of an apply that did not finish; if it was damaged, remove it: "
    "the next plan then shows the resources it recorded as to be created again (creating them adopts what exists)"
)


def _parse(text: bytes, where: str, *, last: bool) -> dict[str, Any] | None:
    try:
        data = strict_json_loads(text.decode("utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError):
        if last:
            return None
        raise state_error(f"{where} is malformed: a journal line is not JSON", _DAMAGED, where) from None
    if not isinstance(data, dict):
        raise state_error(f"{where} is malformed: a journal line is not an object", _DAMAGED, where)
    return data


def _moves_apply(moves: tuple[tuple[Address, Address], ...], state: State) -> bool:
    held = set(state.resources)
    for old, new in moves:
        if old not in held or new in held:
            return False
        held.discard(old)
        held.add(new)
    return True


def _continues(first: dict[str, Any], document: State | None) -> bool:
    base = first.get("base_serial")
    if (
        first.get("mlspec_state_journal") != JOURNAL_VERSION
        or not isinstance(base, int)
        or isinstance(base, bool)
    ):
        return False
    if document is None:
        return first.get("base_serial") == 0
    return first.get("lineage") == document.lineage and first.get("base_serial") == document.serial


def _fresh(first: dict[str, Any], where: str) -> State:
    """The state a journal started before any document was written describes."""
    fields = [first.get(key) for key in ("project", "environment", "lineage")]
    if not all(isinstance(value, str) and value for value in fields):
        raise state_error(f"{where} is malformed: its first line names no state", _DAMAGED, where)
    project, environment, lineage = (str(value) for value in fields)
    return State(project=project, environment=environment, lineage=lineage)
