"""Human output of plans and applies: per-resource blocks with +/~/-/-+ markers and coloured diffs.

The JSON form is :meth:`mlspec.plan.plan.Plan.to_json` (documented in ``docs/plan.md``);
this module only renders text. Colour is ANSI, and only when the caller asks for it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mlspec.contract.graph import Address
from mlspec.contract.payload import Payload
from mlspec.plan.apply import ApplyResult
from mlspec.plan.diff import MISSING, FieldChange, first_leaves
from mlspec.plan.plan import Action, Plan, ResourceChange

_GREEN, _YELLOW, _RED, _MAGENTA, _BOLD, _DIM, _RESET = (
    "\033[32m",
    "\033[33m",
    "\033[31m",
    "\033[35m",
    "\033[1m",
    "\033[2m",
    "\033[0m",
)
_MARKERS = {
    Action.CREATE: ("+", _GREEN, "will be created"),
    Action.UPDATE: ("~", _YELLOW, "will be updated in place"),
    Action.REPLACE: ("-+", _MAGENTA, "must be replaced"),
    Action.DELETE: ("-", _RED, "will be destroyed"),
}
CREATE_FIELD_LIMIT = 12
CAUSE_LIMIT = 10
OUTPUT_LIMIT = 4
"""At most this many output markers are named on a change's "known after apply" line."""
VALUE_WIDTH = 76
"""Wide enough for a quoted content hash (`"sha256:` and 64 hex digits)."""
DIFF_CONTEXT = 24
"""A long changed value is cut to VALUE_WIDTH characters starting this many before its first
difference, so the part that changed shows (``…abc[the change]xyz…``), not only its start."""


class _Paint:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text


def render_plan(plan: Plan, *, color: bool = False) -> str:
    """The whole plan as text, ending with the summary line."""
    paint = _Paint(color)
    lines: list[str] = []
    drifted = [c for c in plan.changes if c.drift or c.gone]
    if drifted:
        lines.append(paint(_BOLD, "Objects changed outside mlspec since the last apply:"))
        lines.append("")
        for change in drifted:
            lines.extend(_drift_block(change, paint))
            lines.append("")
    acting = [c for c in plan.changes if c.action is not Action.NO_OP or c.moved_from]
    if not acting:
        total = len(plan.changes)
        lines.append(
            paint(_GREEN, "No changes.")
            + f" {plan.project}/{plan.environment} matches the configuration "
            + f"({total} resource{'s' * (total != 1)})."
        )
        return "\n".join(lines) + "\n"
    lines.append(
        f"mlspec will perform the following actions on {plan.project}/{plan.environment} "
        f"(provider {plan.provider}):"
    )
    lines.append("")
    blocked = {c.address for c in plan.blocked}
    moves = plan.suggested_moves
    renamed_to = {new: old for old, new in moves}
    plan_causes = list({c.path: c for change in plan.changes for c in change.causes or []}.values())
    for change in acting:
        lines.extend(
            _change_block(
                change,
                paint,
                blocked=change.address in blocked,
                renamed_from=renamed_to.get(change.address),
                plan_causes=plan_causes,
            )
        )
        lines.append("")
    if moves:
        lines.extend(_moves_hint(moves, paint))
        lines.append("")
    lines.append(summary_line(plan, paint))
    return "\n".join(lines) + "\n"


def summary_line(plan: Plan, paint: _Paint | None = None) -> str:
    paint = paint or _Paint(False)
    s = plan.summary
    text = (
        f"Plan: {s['add']} to add, {s['change']} to change, "
        f"{s['replace']} to replace, {s['destroy']} to destroy."
    )
    if s["move"]:
        text += f" {s['move']} moved in state."
    return paint(_BOLD, text)


def _change_block(
    change: ResourceChange,
    paint: _Paint,
    *,
    blocked: bool,
    renamed_from: Address | None = None,
    plan_causes: list[FieldChange] | None = None,
) -> list[str]:
    lines: list[str] = []
    if change.moved_from:
        lines.append(paint(_DIM, f"  # {change.address} has moved from {change.moved_from}"))
    if change.action is Action.NO_OP:
        return lines
    marker, code, says = _MARKERS[change.action]
    note = " (deleted outside mlspec)" if change.gone and change.action is Action.CREATE else ""
    lines.append(f"  # {paint(_BOLD, str(change.address))} {says}{note}")
    lines.append(f"  {paint(code, marker)} {change.address} ({change.provider_type})")
    for reason in change.replace_reasons:
        lines.append(paint(_MAGENTA, f"      # replace: {reason}"))
    if blocked:
        lines.append(paint(_RED, "      # refused: the environment is protected (--allow-destroy to allow)"))
    if renamed_from is not None:
        lines.append(
            paint(
                _DIM, f"      # looks like {renamed_from} renamed (destroyed below): see `moved:` at the end"
            )
        )
    if change.causes is not None:
        lines.extend(_cause_lines(change, paint, plan_causes or []))
    lines.extend(_output_lines(change, paint))
    if change.action is Action.CREATE:
        assert change.after is not None
        lines.extend(_leaf_lines("+", _GREEN, change.after.payload, paint))
    elif change.action is Action.DELETE:
        assert change.before is not None
        lines.extend(_leaf_lines("-", _RED, change.before.payload, paint))
    else:
        forcing = _forcing_paths(change)
        for field_change in change.changes:
            lines.extend(_field_lines(field_change, paint, forces=field_change.path in forcing))
        if not change.changes and change.drift:
            lines.append(
                paint(_DIM, "      # the live object already matches the spec; the state catches up")
            )
    return lines


def _output_lines(change: ResourceChange, paint: _Paint) -> list[str]:
    """Output markers: values known only after apply, values that changed since the resource was
    applied with them, and (a producer) the outputs it is applied again to report."""
    lines: list[str] = []
    if change.missing_outputs:
        lines.append(
            paint(
                _DIM,
                f"      # applied again to report {', '.join(change.missing_outputs)} "
                "(the state records none; something needs it)",
            )
        )
    for output in change.output_changes:
        old = "(not recorded)" if output.before is MISSING else _value(output.before)
        lines.append(
            f"      {paint(_YELLOW, '~')} output {output.path}: {paint(_RED, old)} → "
            f"{paint(_GREEN, _value(output.after))}"
        )
    if change.known_after_apply:
        shown = change.known_after_apply[:OUTPUT_LIMIT]
        more = len(change.known_after_apply) - len(shown)
        lines.append(
            paint(
                _DIM,
                "      # known after apply: " + ", ".join(shown) + (f" and {more} more" if more else ""),
            )
        )
    return lines


def _cause_lines(change: ResourceChange, paint: _Paint, plan_causes: list[FieldChange]) -> list[str]:
    """Which spec fields changed since the last apply (the state records those it applied)."""
    causes = change.causes or []
    if causes:
        return _listed(causes, "      # caused by: ", paint)
    source = change.after.source if change.after else ""
    where = f"`{source}`" if source else "its spec section"
    section = re.split(r"[.\[]", source, maxsplit=1)[0]
    nearby = [c for c in plan_causes if section and re.split(r"[.\[]", c.path, maxsplit=1)[0] == section]
    if nearby:  # its payload also uses other parts of its section (replicas split by a canary share)
        return [
            paint(_DIM, f"      # caused by: no spec field under {where} changed; elsewhere in `{section}`:"),
            *_listed(nearby, "      #   ", paint),
        ]
    return [
        paint(
            _DIM,
            f"      # caused by: no spec field under {where} changed (another section it uses did, "
            "or this mlspec generates it differently)",
        )
    ]


def _listed(causes: list[FieldChange], prefix: str, paint: _Paint) -> list[str]:
    lines = []
    for cause in causes[:CAUSE_LIMIT]:
        if cause.before is MISSING:
            old, new = "(not set)", _value(cause.after)
        elif cause.after is MISSING:
            old, new = _value(cause.before), "(not set)"
        else:
            old, new = _value_pair(cause.before, cause.after)
        lines.append(f"{prefix}{cause.path}: {old} → {new}")
    if len(causes) > CAUSE_LIMIT:
        lines.append(
            paint(_DIM, f"      # … {len(causes) - CAUSE_LIMIT} more spec fields (--json shows all)")
        )
    return lines


def _moves_hint(moves: list[tuple[Address, Address]], paint: _Paint) -> list[str]:
    """How to write the ``moved:`` entry that turns a destroy-and-create into a rename in state."""
    entries = ", ".join(f"{{from: {old}, to: {new}}}" for old, new in moves)
    pairs = "; ".join(f"{old} → {new}" for old, new in moves)
    return [
        paint(_BOLD, "Renamed? ") + f"this plan destroys and creates resources of the same kind ({pairs}).",
        "If they are the same objects under new names, keep them (and their data) instead: add to the spec",
        f"  moved: [{entries}]",
        "(or add the entries to its existing `moved:` list) and plan again.",
    ]


def _drift_block(change: ResourceChange, paint: _Paint) -> list[str]:
    if change.gone:
        return [f"  # {paint(_BOLD, str(change.address))} was deleted outside mlspec"]
    lines = [f"  # {paint(_BOLD, str(change.address))} was changed outside mlspec"]
    for field_change in change.drift:
        lines.extend(_field_lines(field_change, paint, forces=False))
    return lines


def _forcing_paths(change: ResourceChange) -> set[str]:
    return {c.path for c in change.changes if any(f"at {c.path})" in r for r in change.replace_reasons)}


def _field_lines(change: FieldChange, paint: _Paint, *, forces: bool) -> list[str]:
    suffix = paint(_MAGENTA, "  # forces replacement") if forces else ""
    if change.before is MISSING:
        return [f"      {paint(_GREEN, '+')} {change.path} = {_value(change.after)}{suffix}"]
    if change.after is MISSING:
        return [f"      {paint(_RED, '-')} {change.path} = {_value(change.before)}{suffix}"]
    if _multiline(change.before) or _multiline(change.after):
        return [
            f"      {paint(_YELLOW, '~')} {change.path}:{suffix}",
            *_text_diff(change.before, change.after, paint),
        ]
    old, new = _value_pair(change.before, change.after)
    return [f"      {paint(_YELLOW, '~')} {change.path}: {paint(_RED, old)} → {paint(_GREEN, new)}{suffix}"]


def _leaf_lines(marker: str, code: str, payload: Payload, paint: _Paint) -> list[str]:
    fields, count = first_leaves(payload.properties, "properties", CREATE_FIELD_LIMIT)
    attachments = sorted(payload.attachments.items())
    fields += [
        (f"attachments.{name}", digest) for name, digest in attachments[: CREATE_FIELD_LIMIT - len(fields)]
    ]
    count += len(attachments)
    lines = [f"      {paint(code, marker)} {path} = {_value(value)}" for path, value in fields]
    if count > CREATE_FIELD_LIMIT:
        lines.append(paint(_DIM, f"        … {count - CREATE_FIELD_LIMIT} more fields (--json shows all)"))
    return lines


def _multiline(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value.strip("\n")


def _text_diff(before: Any, after: Any, paint: _Paint) -> list[str]:
    import difflib

    old = before.splitlines() if isinstance(before, str) else [_value(before)]
    new = after.splitlines() if isinstance(after, str) else [_value(after)]
    lines = []
    for line in list(difflib.unified_diff(old, new, lineterm="", n=1))[2:]:
        if line.startswith("+"):
            lines.append("          " + paint(_GREEN, line))
        elif line.startswith("-"):
            lines.append("          " + paint(_RED, line))
        else:
            lines.append("          " + paint(_DIM, line))
    return lines


def _value(value: Any) -> str:
    text = _full_text(value)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def _full_text(value: Any) -> str:
    if isinstance(value, str) and "\n" in value:
        return (
            json.dumps(value.splitlines()[0] + " …", ensure_ascii=False)
            + f" ({value.count(chr(10)) + 1} lines)"
        )
    return _json(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _value_pair(before: Any, after: Any) -> tuple[str, str]:
    """Both sides of a change as JSON, each cut to :data:`VALUE_WIDTH` around their first difference:
    two long values that differ only at the end show their ends, not two identical beginnings (a
    multi-line string stays one line, newlines escaped, so a change on its third line shows too)."""
    old, new = _json(before), _json(after)
    if len(old) <= VALUE_WIDTH and len(new) <= VALUE_WIDTH:
        return old, new
    same = next(
        (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new))
    )
    start = max(0, same - DIFF_CONTEXT)
    return _window(old, start), _window(new, start)


def _window(text: str, start: int) -> str:
    if len(text) <= VALUE_WIDTH:
        return text
    begin = max(0, min(start, len(text) - (VALUE_WIDTH - 1)))  # a short tail still fills the width
    head = "…" if begin else ""
    body = text[begin : begin + VALUE_WIDTH - len(head)]
    if begin + len(body) < len(text):
        body = body[:-1] + "…"
    return head + body


def render_apply(result: ApplyResult, *, color: bool = False) -> str:
    """What an apply did: where each created or updated object lives, then the totals."""
    paint = _Paint(color)
    lines: list[str] = []
    for outcome in sorted(result.outcomes, key=lambda o: o.address):
        if outcome.ok and outcome.description:
            marker, code, _ = _MARKERS[outcome.action]
            lines.append(f"  {paint(code, marker)} {outcome.address}: {outcome.description}")
    for old, new in result.moved:
        lines.append(f"  {paint(_DIM, '>')} {new}: moved from {old}")
    if lines:
        lines.append("")
    counts = (
        f"{result.count(Action.CREATE)} added, {result.count(Action.UPDATE)} changed, "
        f"{result.count(Action.REPLACE)} replaced, {result.count(Action.DELETE)} destroyed"
    )
    if result.ok and result.plan.destroy:
        lines.append(
            paint(_GREEN + _BOLD, f"Destroy complete! Resources: {result.count(Action.DELETE)} destroyed.")
        )
    elif result.ok:
        lines.append(paint(_GREEN + _BOLD, f"Apply complete! Resources: {counts}."))
    else:
        failures = result.failures
        lines.append(
            paint(
                _RED + _BOLD,
                f"Apply failed: {len(failures)} resource{'s' * (len(failures) != 1)} failed, "
                f"{len(result.skipped)} skipped. Resources: {counts}.",
            )
        )
        for outcome in failures:
            lines.append(f"  {paint(_RED, 'x')} {outcome.address}: {outcome.error}")
            if outcome.hint:
                lines.append(f"      hint: {outcome.hint}")
        for address in result.skipped:
            lines.append(f"  {paint(_DIM, '!')} {address}: skipped (depends on a failed resource)")
        lines.append(
            "The state records everything that succeeded; fix the cause and run apply again to continue."
        )
    return "\n".join(lines) + "\n"
