"""Output markers in a plan: which needs are satisfied, which values are known only after apply.

A resource's payload may hold output markers (``needs``, from the manifest; see
:mod:`mlspec.contract.outputs`). A need is satisfied when

- its producer is changed by this plan (created, replaced, or updated where that may give the output
  a new value): the value is *known after apply*, and apply replaces the marker once the producer ran
  (the consumer depends on it, so it runs after);
- its producer is recorded in state with that output: the value is known now (for an output that
  changes outside apply, such as the newest model version, the value a refreshed plan read again);
- its producer is in the build but the state records no such output (applied by an older mlspec):
  the producer is applied again (an update with ``missing_outputs``) so that it reports it;
- it names the deployment target (``workspace.tenant_id``) and the provider supplies it.

Anything else is an MLS842 and the plan is refused. A consumer whose payload is unchanged is still
updated when a value it was applied with changed (``output_changes``) or is known only after apply:
the value sent changes, while the payload hash (the marker form) does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mlspec.contract.graph import Address
from mlspec.contract.outputs import TARGET, MarkerError, OutputRef, output_kind
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.plan.diff import MISSING, FieldChange
from mlspec.plan.plan import Action, Plan, ResourceChange

TargetOutputs = Mapping[str, str | None]
"""What the deployment target supplies (``tenant_id``): attribute → value, ``None`` when the provider
supplies it but was not asked (a plan without refresh)."""

KNOWN_AFTER_APPLY = "(known after apply)"
CODE = "MLS842"


@dataclass(frozen=True)
class _Known:
    value: str


@dataclass(frozen=True)
class _AfterApply:
    pass


@dataclass(frozen=True)
class _Refused:
    why: str
    hint: str


_Status = _Known | _AfterApply | _Refused


def settle_needs(
    changes: list[ResourceChange],
    recorded: Mapping[Address, ResourceState],
    target: TargetOutputs,
    observed: Mapping[Address, Mapping[str, str]] | None = None,
) -> None:
    """Mark what is known after apply and the updates output values cause, on ``changes`` in place.

    Raises :class:`MlspecError` (MLS842) naming every need nothing satisfies."""
    consumers = [c for c in changes if c.action is not Action.DELETE and c.after and c.after.needs]
    if not consumers:
        return
    by_address = {c.address: c for c in changes}
    problems: list[Diagnostic] = []
    parsed: dict[Address, list[OutputRef]] = {}
    for change in consumers:
        assert change.after is not None
        try:
            parsed[change.address] = sorted({OutputRef.parse(n) for n in change.after.needs})
        except MarkerError as exc:
            problems.append(_problem(change.address, str(exc), "make the plan again from a fresh build"))
    # First the producers that must be applied again to report an output (so that the values of
    # their other outputs are not taken as known while they are about to be re-applied).
    for refs in parsed.values():
        for ref in refs:
            _promote_if_unrecorded(ref, by_address, recorded)
    for change in consumers:
        current = recorded.get(change.address)
        unknown: list[str] = []
        for ref in parsed.get(change.address, []):
            status = _status(ref, by_address, recorded, target, current, observed or {})
            if isinstance(status, _Refused):
                problems.append(
                    _problem(change.address, f"needs {ref.marker}, but {status.why}", status.hint)
                )
            elif isinstance(status, _AfterApply):
                unknown.append(str(ref))
            elif current is not None and current.resolved.get(str(ref)) != status.value:
                change.output_changes.append(
                    FieldChange(str(ref), current.resolved.get(str(ref), MISSING), status.value)
                )
        change.known_after_apply = unknown
        if change.action is Action.NO_OP and current is not None and (unknown or change.output_changes):
            change.action = Action.UPDATE
    if problems:
        raise MlspecError(problems)


def _promote_if_unrecorded(
    ref: OutputRef, by_address: Mapping[Address, ResourceChange], recorded: Mapping[Address, ResourceState]
) -> None:
    producer = ref.producer
    if producer is None:
        return
    change, entry = by_address.get(producer), recorded.get(producer)
    if change is None or entry is None or change.action not in (Action.NO_OP, Action.UPDATE):
        return
    if ref.attribute in entry.outputs or output_kind(ref) is None:
        return
    if ref.attribute not in change.missing_outputs:
        change.missing_outputs.append(ref.attribute)
    change.action = Action.UPDATE


def _status(
    ref: OutputRef,
    by_address: Mapping[Address, ResourceChange],
    recorded: Mapping[Address, ResourceState],
    target: TargetOutputs,
    consumer: ResourceState | None,
    observed: Mapping[Address, Mapping[str, str]],
) -> _Status:
    kind = output_kind(ref)
    if ref.target == TARGET:
        if kind is None or ref.attribute not in target:
            return _Refused(
                f"the provider of this environment supplies no {TARGET}.{ref.attribute}",
                f"set {TARGET}.{ref.attribute} in the spec",
            )
        value = target[ref.attribute]
        if value is None:  # supplied at apply; what the resource was applied with stands meanwhile
            recorded_value = consumer.resolved.get(str(ref)) if consumer is not None else None
            return _Known(recorded_value) if recorded_value is not None else _AfterApply()
        return _Known(value)
    producer = ref.producer
    assert producer is not None
    if kind is None:
        return _Refused(
            f"{producer} reports no {ref.attribute!r} (its kind has no such output)",
            "make the plan again from a fresh build",
        )
    change = by_address.get(producer)
    if change is not None and change.action is Action.DELETE:
        return _Refused(
            f"this plan destroys {producer}",
            f"keep {producer} in the spec, or remove what needs its {ref.attribute}",
        )
    if change is not None and (
        change.action in (Action.CREATE, Action.REPLACE)
        or (
            change.action is Action.UPDATE
            and (kind.changes_on_update or ref.attribute in change.missing_outputs)
        )
    ):
        return _AfterApply()
    entry = recorded.get(producer)
    value = observed.get(producer, {}).get(ref.attribute)  # read again: newer than the recorded one
    if value is None and entry is not None:
        value = entry.outputs.get(ref.attribute)
    if value is not None:
        return _Known(str(value))
    return _Refused(
        f"{producer} is not created by this plan and the state records no {ref.attribute} for it",
        f"apply the build that creates {producer} (include it in --select), or set the value in the spec",
    )


def refuse_unsatisfiable(
    plan: Plan, state_resources: Mapping[Address, ResourceState], supplied: frozenset[str]
) -> None:
    """At apply of a saved plan: every need of what it applies still has a producer in the plan (not
    destroyed) or in state with the output, and the provider supplies the target's values (MLS842)."""
    by_address = {c.address: c for c in plan.changes}
    problems: list[Diagnostic] = []
    for change in plan.changes:
        if change.action in (Action.DELETE, Action.NO_OP) or change.after is None:
            continue
        for text in change.after.needs:
            try:
                ref = OutputRef.parse(text)
            except MarkerError as exc:
                problems.append(_problem(change.address, str(exc), "make the plan again"))
                continue
            if ref.target == TARGET:
                if ref.attribute not in supplied:
                    problems.append(
                        _problem(
                            change.address,
                            f"needs {ref.marker}, but the provider {plan.provider!r} supplies no {ref.attribute}",
                            f"set {ref} in the spec and make the plan again",
                        )
                    )
                continue
            producer = ref.producer
            assert producer is not None
            producing = by_address.get(producer)
            if producing is not None and producing.action in (Action.CREATE, Action.REPLACE, Action.UPDATE):
                continue  # it runs first and reports the output
            entry = state_resources.get(producer)
            if entry is None or ref.attribute not in entry.outputs:
                problems.append(
                    _problem(
                        change.address,
                        f"needs {ref.marker}, but the plan does not apply {producer} and the state records no "
                        f"{ref.attribute} for it",
                        "make the plan again with `mlspec plan --out FILE`",
                    )
                )
    if problems:
        raise MlspecError(problems)


def _problem(address: Address, message: str, hint: str) -> Diagnostic:
    return Diagnostic.error(CODE, f"{address}: {message}", hint=hint)
