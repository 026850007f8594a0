"""Plan and apply over desired resources (a manifest with its payloads), a state and a provider.

This package never reads a spec: :mod:`mlspec.api.deploy` builds the desired resources from one and
calls these.

- :func:`plan_desired` — desired vs state, refreshed against the provider by default;
- :func:`apply_desired` — plan afresh under the lock, confirm, apply (``destroy=True``: delete everything
  in state, refused in protected environments);
- :func:`apply_plan` — apply exactly a saved plan, refused if the state moved since;
- :func:`force_unlock` — break a lock whose holder is gone;
- :func:`save_plan` / :func:`load_plan` — the plan file (:mod:`mlspec.plan.planfile`); :func:`check_plan_out`
  says whether ``plan --out`` may write a path, before the plan is shown.

Every refreshed plan, apply and destroy holds the state lock from reading the state to the
last state write; a second process fails at once, naming the holder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mlspec.contract.graph import Address
from mlspec.contract.outputs import PRODUCERS, TARGET
from mlspec.diagnostics import Diagnostic, Location, MlspecError
from mlspec.plan.backends import StateBackend
from mlspec.plan.desired import Desired
from mlspec.plan.lock import LockInfo
from mlspec.plan.needs import refuse_unsatisfiable
from mlspec.plan.ownership import read_state
from mlspec.plan.plan import Action, Plan, make_plan
from mlspec.plan.planfile import SavedPlan, check_plan_out, load_plan, save_plan
from mlspec.plan.state import State
from mlspec.plan.target import PlanResult, Target
from mlspec.providers.base import LiveObject, Provider, ProviderError
from mlspec.providers.registry import supplied_target_outputs
from mlspec.redaction import printable, strip_query

if TYPE_CHECKING:  # the apply engine (a thread pool) is imported only when applying
    from mlspec.plan.apply import ApplyResult, Progress

DEFAULT_PARALLELISM = 4
Confirm = Callable[[Plan], bool]
"""Shown the plan before anything changes; returns whether to go on."""


@contextlib.contextmanager
def locked(backend: StateBackend, operation: str) -> Iterator[LockInfo]:
    """Hold the state lock for ``operation``; fails at once if someone else holds it."""
    info = backend.lock(operation)
    try:
        yield info
    except BaseException:
        # The operation's own error is what the user needs; a failing release (the network that
        # broke the operation) must not replace it. A blob lease then expires by itself.
        with contextlib.suppress(MlspecError):
            backend.unlock(info)
        raise
    backend.unlock(info)


def plan_desired(
    desired: Desired,
    *,
    refresh: bool = True,
    select: Iterable[str] = (),
    state_dir: Path | None = None,
    allow_destroy: bool = False,
    destroy: bool = False,
) -> PlanResult:
    """:func:`plan_environment` for desired state already built (tests build it synthetically)."""
    target = Target.of(desired, state_dir)
    backend = target.backend()
    if refresh:
        provider = target.provider_instance()
        if not destroy:
            refuse_missing_sources(provider, desired)
        with locked(backend, "plan"):
            state = read_state(backend, target)
            plan = make_plan(
                desired,
                state,
                live=refresh_live(provider, state, backend.description),
                select=select,
                destroy=destroy,
                allow_destroy=allow_destroy,
                target=target_values(desired, provider),
                observed=observe_outputs(provider, state),
            )
    else:
        state = read_state(backend, target)
        plan = make_plan(
            desired,
            state,
            select=select,
            destroy=destroy,
            allow_destroy=allow_destroy,
            target=target_values(desired, None),
        )
    return PlanResult(plan, target, desired.files, desired.project_files)


def apply_desired(
    desired: Desired,
    *,
    confirm: Confirm | None = None,
    refresh: bool = True,
    select: Iterable[str] = (),
    state_dir: Path | None = None,
    allow_destroy: bool = False,
    destroy: bool = False,
    parallelism: int = DEFAULT_PARALLELISM,
    progress: Progress | None = None,
) -> ApplyResult:
    """:func:`apply_environment` for desired state already built."""
    from mlspec.plan.apply import ApplyResult, execute

    target = Target.of(desired, state_dir)
    if destroy:
        refuse_protected_destroy(target, allow_destroy)
    provider = target.provider_instance()
    if refresh and not destroy:
        refuse_missing_sources(provider, desired)
    backend = target.backend()
    with locked(backend, "destroy" if destroy else "apply"):
        state = read_state(backend, target)
        live = refresh_live(provider, state, backend.description) if refresh else None
        plan = make_plan(
            desired,
            state,
            live=live,
            select=select,
            destroy=destroy,
            allow_destroy=allow_destroy,
            target=target_values(desired, provider),
            observed=observe_outputs(provider, state) if refresh else None,
        )
        refuse_blocked(plan)
        if not plan.has_changes:
            if state is not None:
                backend.fold_journal(state)  # an interrupted apply's records become the document
            return ApplyResult(plan, state_serial=state.serial if state else 0)
        if confirm is not None and not confirm(plan):
            return ApplyResult(plan, state_serial=state.serial if state else 0, cancelled=True)
        return execute(
            plan,
            provider=provider,
            backend=backend,
            state=state,
            files=desired.files,
            parallelism=parallelism,
            progress=progress,
        )


def apply_plan(
    saved: SavedPlan,
    *,
    state_dir: Path | None = None,
    parallelism: int = DEFAULT_PARALLELISM,
    progress: Progress | None = None,
) -> ApplyResult:
    """Apply exactly a saved plan: refused if the state changed since it was made."""
    from mlspec.plan.apply import ApplyResult, execute

    target = saved.target
    if state_dir is not None:
        target.state_dir = state_dir
    plan = saved.plan
    if plan.destroy:
        refuse_protected_destroy(target, plan.allow_destroy)
    refuse_blocked(plan)
    provider = target.provider_instance()
    backend = target.backend()
    with locked(backend, "destroy" if plan.destroy else "apply"):
        state = read_state(backend, target)
        refuse_stale(saved, state, backend.description)
        refuse_unsatisfiable(plan, state.resources if state else {}, _supplied(plan, provider))
        serial = state.serial if state else 0
        if not plan.has_changes:
            if state is not None:
                backend.fold_journal(state)
            return ApplyResult(plan, state_serial=serial)
        return execute(
            plan,
            provider=provider,
            backend=backend,
            state=state,
            files=saved.file,
            parallelism=parallelism,
            progress=progress,
        )


def force_unlock(
    target: Target, lock_id: str, confirm: Callable[[LockInfo, str], bool] | None = None
) -> LockInfo | None:
    """Remove the lock ``lock_id`` of ``target``'s state; returns who held it.

    ``confirm`` is shown the current holder and the environment first (a human decides that it is gone); when it says no,
    nothing is removed and ``None`` comes back.
    """
    backend = target.backend()
    if confirm is not None:
        current = backend.current_lock()
        if current is not None and current.id == lock_id and not confirm(current, target.environment):
            return None
    return backend.force_unlock(lock_id)


def refuse_stale(saved: SavedPlan, state: State | None, where: str) -> None:
    """Refuse (MLS832) a saved plan made against another state than ``state``."""
    plan = saved.plan
    lineage, serial = (state.lineage, state.serial) if state else (None, 0)
    if (lineage, serial) != (plan.state_lineage, plan.state_serial):
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS832",
                    f"the saved plan is stale: it was made against state serial {plan.state_serial} "
                    f"(lineage {printable(str(plan.state_lineage))}), the state is now serial {serial} "
                    f"(lineage {lineage})",
                    (),
                    Location(strip_query(where), 1, 1),
                    "run `mlspec plan --out FILE` again and apply the new plan",
                )
            ]
        )


def check_saved_plan(saved: SavedPlan, *, state_dir: Path | None = None) -> None:
    """Refuse a stale saved plan before it is shown (read without the lock; :func:`apply_plan` checks
    again under it)."""
    target = saved.target
    if state_dir is not None:
        target.state_dir = state_dir
    backend = target.backend()
    refuse_stale(saved, read_state(backend, target), backend.description)


def target_values(desired: Desired, provider: Provider | None) -> dict[str, str | None]:
    """What the deployment target supplies for ``workspace.*`` markers, for :func:`make_plan`: the
    provider's values when there is one to ask, else what its kind supplies (values known at apply).
    Nothing is asked when no resource needs any."""
    if not any(n.startswith(f"{TARGET}.") for r in desired.resources.values() for n in r.needs):
        return {}
    if provider is None:
        return dict.fromkeys(supplied_target_outputs(desired.manifest.provider))
    return dict(provider.target_outputs())


def _supplied(plan: Plan, provider: Provider) -> frozenset[str]:
    needs_target = any(
        n.startswith(f"{TARGET}.") for c in plan.changes if c.after is not None for n in c.after.needs
    )
    return frozenset(provider.target_outputs()) if needs_target else frozenset()


def observe_outputs(provider: Provider, state: State | None) -> dict[Address, dict[str, str]]:
    """The current value of every output in state that changes outside apply (``observed`` kinds: the
    newest model version), by producer; only what the provider reports and the state records."""
    if state is None:
        return {}
    observed: dict[Address, dict[str, str]] = {}
    for address, entry in state.resources.items():
        kinds = PRODUCERS.get((address.service, address.kind), ())
        if not any(k.observed for k in kinds):
            continue
        now = dict(provider.observe_outputs(address, entry))
        wanted = {k.attribute for k in kinds if k.observed}
        found = {a: str(v) for a, v in now.items() if a in wanted}
        if found:
            observed[address] = found
    return observed


def refresh_live(
    provider: Provider, state: State | None, where: str = "state"
) -> dict[Address, LiveObject | None]:
    """The provider's view of every resource in state, by state address. A provider refusing an entry
    (a provider id outside its workspace: the state was edited) is located at the state."""
    if state is None:
        return {}
    live: dict[Address, LiveObject | None] = {}
    for address, entry in state.resources.items():
        try:
            live[address] = provider.read(address, entry)
        except ProviderError as exc:
            raise MlspecError(
                [
                    Diagnostic.error(
                        d.code, d.message, d.path, d.location or Location(strip_query(where), 1, 1), d.hint
                    )
                    for d in exc.diagnostics
                ]
            ) from None
    return live


def refuse_protected_destroy(target: Target, allow_destroy: bool) -> None:
    if target.protect and not allow_destroy:
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS833",
                    f"environment {target.environment!r} is protected: destroy is refused",
                    ("environments", target.environment, "protect"),
                    hint="pass --allow-destroy if you really mean to delete everything it deployed",
                )
            ]
        )


def refuse_missing_sources(provider: Provider, desired: Desired) -> None:
    """MLS817 for every source whose lake path the provider finds missing: the transforms would fail
    on it at run time, so the plan stops now (not for a destroy, which reads nothing)."""
    sources = desired.manifest.sources
    if not sources:
        return
    missing = provider.check_sources(sources)
    if missing:
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS817",
                    f"source {name!r}: {printable(sources[name], 300)} {printable(why, 300)}",
                    ("sources", name, "path"),
                    hint="write the data there first (or correct the path), then plan again",
                )
                for name, why in sorted(missing.items())
            ]
        )


def refuse_blocked(plan: Plan) -> None:
    blocked = plan.blocked
    if not blocked:
        return
    raise MlspecError(
        [
            Diagnostic.error(
                "MLS834",
                f"environment {plan.environment!r} is protected: refusing to "
                f"{'delete' if c.action is Action.DELETE else 'replace'} {c.address}",
                ("environments", plan.environment, "protect"),
                hint="pass --allow-destroy to allow deletes and replaces in a protected environment",
            )
            for c in blocked
        ]
    )


__all__ = [
    "PlanResult",
    "SavedPlan",
    "Target",
    "apply_desired",
    "apply_plan",
    "check_plan_out",
    "check_saved_plan",
    "force_unlock",
    "load_plan",
    "plan_desired",
    "save_plan",
]
