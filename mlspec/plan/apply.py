"""Apply: carry out a plan's changes in dependency order, recording state after each resource.

Independent resources run in parallel on a bounded thread pool; state records are serialised.
A failed resource stops only what depends on it; the state always says what really exists
(a resource is recorded right after its provider call returns: one journal record, the
document itself is rewritten once at the end), so a rerun continues where this one stopped.
A crash between the provider call and the state record is repaired by the next run, because
provider operations are idempotent.

Output markers (:mod:`mlspec.plan.needs`): before a resource is sent, every marker of its payload is
replaced with the output its producer reported — recorded in state with the producer, which ran
first since the resource depends on it — or the value the provider supplies for ``workspace.*``.
The state records the payload as built (marker form, its hash) and the values it was sent with, so
a producer whose output changes later makes the next plan update it; a crash between producer and
consumer leaves the producer's outputs in the journal, and the rerun sends them.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from mlspec.contract.graph import Address
from mlspec.contract.outputs import (
    TARGET,
    MarkerError,
    OutputRef,
    check_output_value,
    substituted_request_parts,
)
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.plan.backends import StateBackend
from mlspec.plan.desired import FileSource
from mlspec.plan.plan import Action, Plan, ResourceChange
from mlspec.plan.state import State, StateChange, StateConflictError
from mlspec.providers.base import DeployRequest, Provider, ProviderResult
from mlspec.redaction import redact

DEFAULT_PARALLELISM = 4
TEST_PAUSE_ENV = "MLSPEC_TEST_PAUSE_AFTER"
TEST_PAUSE_SECONDS_ENV = "MLSPEC_TEST_PAUSE_SECONDS"
"""Test-only hooks: after the N-th resource's state write, keep the state lock and sleep (an hour, or
``MLSPEC_TEST_PAUSE_SECONDS``) so a test can kill the process there or race a second one against it."""

Progress = Callable[[str], None]

STILL_WORKING_EVERY = 10.0
"""Seconds between the "still creating..." lines of a resource whose operation takes long (an image
build, a rollout, a compute cluster), as Terraform prints them: silence is not mistaken for a hang."""

_VERBS = {
    Action.CREATE: ("Creating", "created"),
    Action.UPDATE: ("Updating", "updated"),
    Action.REPLACE: ("Replacing", "replaced"),
    Action.DELETE: ("Destroying", "destroyed"),
}


@dataclass
class ResourceOutcome:
    address: Address
    action: Action
    ok: bool
    seconds: float = 0.0
    error: str = ""
    description: str = ""
    hint: str = ""
    """How to fix a failure, when the provider said."""


@dataclass
class ApplyResult:
    """What an apply did: one outcome per attempted resource, and what it skipped."""

    plan: Plan
    outcomes: list[ResourceOutcome] = field(default_factory=list)
    skipped: list[Address] = field(default_factory=list)
    moved: list[tuple[Address, Address]] = field(default_factory=list)
    state_serial: int = 0
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not self.cancelled and all(o.ok for o in self.outcomes) and not self.skipped

    @property
    def failures(self) -> list[ResourceOutcome]:
        return [o for o in self.outcomes if not o.ok]

    def count(self, action: Action) -> int:
        return sum(1 for o in self.outcomes if o.ok and o.action is action)


def _undo(state: State, change: StateChange) -> Callable[[], None]:
    """What puts ``state`` back as it is now, once ``change`` was applied to it."""
    serial = state.serial
    if change.address is None:
        moves = list(change.moves)

        def unmove() -> None:
            for old, new in reversed(moves):
                state.resources[old] = state.resources.pop(new)
            state.serial = serial

        return unmove
    address = change.address
    previous = state.resources.get(address)

    def restore() -> None:
        if previous is None:
            state.resources.pop(address, None)
        else:
            state.resources[address] = previous
        state.serial = serial

    return restore


class StateRecordError(StateConflictError):
    """A change could not be recorded in the state: like a conflict, no new work starts."""


class StateRecorder:
    """The state being applied: one journal record per change, serialised, serial +1 each time;
    :meth:`finish` writes the document once."""

    def __init__(self, backend: StateBackend, state: State) -> None:
        self.backend = backend
        self.state = state
        self._lock = threading.Lock()
        self._completed = 0
        self._changed = False
        raw_pause = os.environ.get(TEST_PAUSE_ENV, "")
        self._pause_after = int(raw_pause) if raw_pause.isdigit() else 0
        raw_seconds = os.environ.get(TEST_PAUSE_SECONDS_ENV, "")
        self._pause_seconds = float(raw_seconds) if raw_seconds.replace(".", "", 1).isdigit() else 3600.0

    def record(self, address: Address, entry: ResourceState | None, *, resource_done: bool = True) -> None:
        with self._lock:
            self._append(StateChange(self.state.serial + 1, address, entry))
            if resource_done:
                self._completed += 1
                if self._completed == self._pause_after:
                    sys.stderr.write(f"{TEST_PAUSE_ENV}: paused after resource {self._completed}\n")
                    sys.stderr.flush()
                    time.sleep(self._pause_seconds)  # test-only: the test kills the process here

    def rename(self, moves: list[tuple[Address, Address]]) -> None:
        with self._lock:
            self._append(StateChange(self.state.serial + 1, moves=tuple(moves)))

    def get(self, address: Address) -> ResourceState | None:
        with self._lock:
            return self.state.resources.get(address)

    def outputs_of(self, addresses: list[Address]) -> dict[Address, dict[str, Any]]:
        with self._lock:
            return {a: dict(self.state.resources[a].outputs) for a in addresses if a in self.state.resources}

    def finish(self) -> None:
        """Fold the journal into the state document (nothing to do if nothing changed)."""
        with self._lock:
            if self._changed:
                self.backend.write(self.state)
                self._changed = False

    def _append(self, change: StateChange) -> None:
        undo = _undo(self.state, change)
        change.apply_to(self.state)
        try:
            self.backend.append(self.state, change)
        except StateConflictError:
            undo()
            raise
        except (OSError, MlspecError) as error:
            # Not recorded (a full disk, an I/O error): the state keeps saying what it said, and no new
            # work may start that it could not record either.
            undo()
            reason = error.strerror or str(error) if isinstance(error, OSError) else str(error)
            raise StateRecordError(
                [
                    Diagnostic.error(
                        "MLS801",
                        f"cannot record the change in the state ({redact(self.backend.description)}): {reason}",
                        hint="free space or fix the state folder, then apply again: what was done is adopted",
                    )
                ]
            ) from None
        self._changed = True


def execute(
    plan: Plan,
    *,
    provider: Provider,
    backend: StateBackend,
    state: State | None,
    files: FileSource,
    parallelism: int = DEFAULT_PARALLELISM,
    progress: Progress | None = None,
) -> ApplyResult:
    """Carry out ``plan`` (the caller holds the state lock and has checked the plan is current)."""
    say = progress or (lambda _line: None)
    recorder = StateRecorder(backend, state or State.empty(plan.project, plan.environment))
    result = ApplyResult(plan)
    moves: list[tuple[Address, Address]] = [
        (c.moved_from, c.address)
        for c in plan.changes
        if c.moved_from is not None
        and c.moved_from in recorder.state.resources
        and c.address not in recorder.state.resources
    ]
    if moves:
        recorder.rename(moves)
        result.moved = moves
        for old, new in moves:
            say(f"{new}: moved from {old} (renamed in state)")
    work = {c.address: c for c in plan.changes if c.action is not Action.NO_OP}
    waits_for = _dependencies(work)
    runner = _Runner(provider, recorder, files, say, _needed_outputs(work))
    try:
        _carry_out_all(work, waits_for, runner, result, parallelism)
    except BaseException:
        runner.finish()
        if not runner.conflict:  # keep what was done; a conflicting state is not ours to write
            with contextlib.suppress(MlspecError):
                recorder.finish()
        raise
    runner.finish()
    if not runner.conflict:
        recorder.finish()
    result.state_serial = recorder.state.serial
    return result


def _carry_out_all(
    work: dict[Address, ResourceChange],
    waits_for: dict[Address, set[Address]],
    runner: _Runner,
    result: ApplyResult,
    parallelism: int,
) -> None:
    """Run every change once its dependencies succeeded; skip what waits on a failure.

    Linear in the changes: each keeps a count of the dependencies it still waits for, and at most
    ``parallelism`` run at a time (handing the pool every ready change at once made each completion
    cost a pass over thousands of futures)."""
    say = runner.say
    slots = max(1, parallelism)
    remaining = {address: len(deps) for address, deps in waits_for.items()}
    dependants: dict[Address, list[Address]] = {address: [] for address in waits_for}
    for address, deps in waits_for.items():
        for dependency in deps:
            dependants[dependency].append(address)
    ready = [address for address, count in remaining.items() if count == 0]
    heapq.heapify(ready)  # started in address order, as before
    pending = set(waits_for)
    running: dict[Future[ResourceOutcome], Address] = {}

    def skip_dependants_of(failed: Address) -> None:
        stack, found = [failed], []
        while stack:
            for child in dependants[stack.pop()]:
                if child in pending:
                    pending.discard(child)
                    found.append(child)
                    stack.append(child)
        for address in sorted(found):
            result.skipped.append(address)
            say(f"{address}: skipped (a dependency failed)")

    with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="mlspec-apply") as pool:
        while True:
            if runner.conflict and pending:
                # The state moved under us (the lock was broken): starting more work would change
                # live objects that no state records. Stop; what is running finishes.
                why = (
                    "the state could not be recorded"
                    if runner.record_failed
                    else "the state was changed by another process"
                )
                for address in sorted(pending):
                    result.skipped.append(address)
                    say(f"{address}: not started ({why})")
                pending.clear()
                ready.clear()
            while ready and len(running) < slots:
                address = heapq.heappop(ready)
                if address in pending:
                    pending.discard(address)
                    running[pool.submit(runner.run, work[address])] = address
            if not running:
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in sorted(done, key=running.__getitem__):
                address = running.pop(future)
                outcome = future.result()
                result.outcomes.append(outcome)
                if not outcome.ok:
                    skip_dependants_of(address)
                    continue
                for child in dependants[address]:
                    remaining[child] -= 1
                    if remaining[child] == 0 and child in pending:
                        heapq.heappush(ready, child)
    result.skipped.extend(sorted(pending))  # unreachable unless the graph had a cycle


def _needed_outputs(work: Mapping[Address, ResourceChange]) -> dict[Address, set[str]]:
    """The outputs each producer must report because something this apply sends needs them."""
    needed: dict[Address, set[str]] = {}
    for change in work.values():
        if change.after is None or change.action is Action.DELETE:
            continue
        for text in change.after.needs:
            with contextlib.suppress(MarkerError):  # a malformed one fails its consumer (see _resolve)
                ref = OutputRef.parse(text)
                if ref.producer is not None:
                    needed.setdefault(ref.producer, set()).add(ref.attribute)
    return needed


def unresolved_error(address: Address, message: str, hint: str) -> MlspecError:
    """An MLS843: a marker apply cannot replace (nothing reported its value), or a producer that did
    not report an output something needs."""
    return MlspecError([Diagnostic.error("MLS843", f"{address}: {message}", hint=hint)])


class _Runner:
    def __init__(
        self,
        provider: Provider,
        recorder: StateRecorder,
        files: FileSource,
        say: Progress,
        needed_outputs: Mapping[Address, set[str]] | None = None,
    ) -> None:
        self.provider = provider
        self.recorder = recorder
        self.files = files
        self.say = say
        self.needed_outputs = dict(needed_outputs or {})
        self._target: Mapping[str, str] | None = None
        self._target_lock = threading.Lock()
        self.applied: set[Address] = set()
        """Producers this apply ran: their freshly reported outputs win over values the plan read."""
        self.conflict = False
        self._in_flight: dict[Address, tuple[str, float]] = {}
        self._in_flight_lock = threading.Lock()
        self._finished = threading.Event()
        self._ticker: threading.Thread | None = None
        self.record_failed = False
        """Set when a state write found the state changed by someone else: no new work starts."""

    def run(self, change: ResourceChange) -> ResourceOutcome:
        doing, done = _VERBS[change.action]
        self.say(f"{change.address}: {doing}...")
        started = time.monotonic()
        try:
            with self._still_working(change.address, doing.lower(), started):
                description = self._carry_out(change)
        except Exception as exc:  # any provider failure stops only this resource and its dependants
            if isinstance(exc, StateConflictError):
                self.conflict = True
                self.record_failed = isinstance(exc, StateRecordError)
            diagnostics = exc.diagnostics if isinstance(exc, MlspecError) else []
            # A provider names the resource at the start of its messages; the outcome is shown under its address.
            prefix = f"{change.address}: "
            message = (
                "; ".join(d.message.removeprefix(prefix) for d in diagnostics) if diagnostics else str(exc)
            )
            hint = "; ".join(d.hint for d in diagnostics if d.hint)
            self.say(f"{change.address}: FAILED: {message or type(exc).__name__}")
            return ResourceOutcome(
                change.address, change.action, False, time.monotonic() - started, message, hint=hint
            )
        seconds = time.monotonic() - started
        self.say(
            f"{change.address}: {done} after {seconds:.1f}s" + (f" — {description}" if description else "")
        )
        return ResourceOutcome(change.address, change.action, True, seconds, description=description)

    @contextlib.contextmanager
    def _still_working(self, address: Address, doing: str, started: float) -> Any:
        """While the body runs, ``address`` is among the resources the ticker reports on."""
        with self._in_flight_lock:
            self._in_flight[address] = (doing, started)
            if self._ticker is None:  # one thread for the whole apply, made when first needed
                self._ticker = threading.Thread(target=self._tick, name="mlspec-still-working", daemon=True)
                self._ticker.start()
        try:
            yield
        finally:
            with self._in_flight_lock:
                del self._in_flight[address]

    def _tick(self) -> None:
        """Every :data:`STILL_WORKING_EVERY` seconds, one line per resource in flight for longer than that."""
        while not self._finished.wait(STILL_WORKING_EVERY):
            now = time.monotonic()
            with self._in_flight_lock:
                late = [(a, d, s) for a, (d, s) in self._in_flight.items() if now - s >= STILL_WORKING_EVERY]
            for address, doing, started in sorted(late, key=lambda item: str(item[0])):
                self.say(f"{address}: still {doing}... [{now - started:.0f}s elapsed]")

    def finish(self) -> None:
        """Stop the ticker (the apply is over)."""
        self._finished.set()
        if self._ticker is not None:
            self._ticker.join()

    def _carry_out(self, change: ResourceChange) -> str:
        address = change.address
        current = self.recorder.get(address)
        if change.action is Action.DELETE:
            if current is not None:
                self.provider.delete(address, current)
            self.recorder.record(address, None)
            return ""
        if change.action is Action.REPLACE and current is not None:
            self.provider.delete(address, current)
            self.recorder.record(address, None, resource_done=False)
            current = None
        request, sent_attachments = self._request(address, change)
        if change.action is Action.UPDATE and current is not None:
            outcome = self.provider.update(request, current)
        else:
            outcome = self.provider.create(request)
        self.recorder.record(address, _entry(change, outcome, request.resolved, sent_attachments))
        self.applied.add(address)
        missing = sorted(a for a in self.needed_outputs.get(address, ()) if a not in outcome.outputs)
        if missing:  # the object exists (recorded above); what needs the output cannot be sent
            raise unresolved_error(
                address,
                f"the provider {self.provider.name!r} reported no {', '.join(missing)} for it",
                "a provider must report every output its resource kind declares; report this provider bug",
            )
        return self.provider.describe(address, outcome)

    def _request(self, address: Address, change: ResourceChange) -> tuple[DeployRequest, dict[str, str]]:
        after = change.after
        assert after is not None, "only deletes lack an after side"
        contents: Mapping[str, bytes] = {path: self.files(path) for path in after.files}
        planned = {c.path: c.after for c in change.output_changes if isinstance(c.after, str)}
        values = self._resolve(address, after.needs, planned)
        payload, sent_files, sent_attachments = substituted_request_parts(after.payload, contents, values)
        request = DeployRequest(
            address=address,
            provider_type=after.provider_type,
            payload=payload,
            files=sent_files,
            primary_file=after.files[0] if after.files else "",
            dependencies=self.recorder.outputs_of(after.depends_on),
            resolved=values,
        )
        return request, sent_attachments

    def _resolve(self, address: Address, needs: list[str], planned: Mapping[str, str]) -> dict[str, str]:
        """The value of every marker ``needs`` names: the one the plan read again (``planned``, for an
        output that changes outside apply), else the recorded output of its producer (which ran first)
        or the provider's target outputs; an MLS843 for one that has none."""
        values: dict[str, str] = {}
        for text in needs:
            try:
                ref = OutputRef.parse(text)
                producer = ref.producer
                if text in planned and not self._reapplied(producer):
                    values[text] = check_output_value(ref, planned[text])
                    continue
                if producer is None:
                    value: Any = self._target_outputs().get(ref.attribute)
                    source = f"the provider {self.provider.name!r}"
                else:
                    entry = self.recorder.get(producer)
                    value = entry.outputs.get(ref.attribute) if entry is not None else None
                    source = str(producer)
                if value is None:
                    raise unresolved_error(
                        address,
                        f"cannot replace {ref.marker}: {source} has reported no {ref.attribute}",
                        f"apply {producer} first (plan again: it shows what is known after apply)"
                        if producer is not None
                        else f"set {TARGET}.{ref.attribute} in the spec",
                    )
                values[text] = check_output_value(ref, value)
            except MarkerError as exc:
                raise unresolved_error(address, str(exc), "make the plan again from a fresh build") from None
        return values

    def _reapplied(self, producer: Address | None) -> bool:
        """Whether this apply ran ``producer`` (its fresh outputs then win over what the plan read)."""
        return producer is not None and producer in self.applied

    def _target_outputs(self) -> Mapping[str, str]:
        with self._target_lock:
            if self._target is None:
                self._target = dict(self.provider.target_outputs())
            return self._target


def _entry(
    change: ResourceChange,
    outcome: ProviderResult,
    resolved: Mapping[str, str] | None = None,
    sent_attachments: Mapping[str, str] | None = None,
) -> ResourceState:
    after = change.after
    assert after is not None
    return ResourceState(
        provider_type=after.provider_type,
        payload=after.payload,  # the marker form, as built: its hash is the build's
        provider_id=outcome.provider_id,
        outputs=dict(outcome.outputs),
        depends_on=list(after.depends_on),
        spec_fields=dict(after.spec_fields) if after.spec_fields is not None else None,
        resolved=dict(resolved or {}),
        sent_attachments=dict(sent_attachments or {}),
    )


def _dependencies(work: dict[Address, ResourceChange]) -> dict[Address, set[Address]]:
    """What each change waits for.

    Creates, updates and replaces wait for their (desired) dependencies. A delete waits for every
    other change to a resource that depended on it, by the state's record or the desired graph:
    dependants being deleted go first, and dependants being updated must stop referring to it
    (a pipeline re-pointed at a renamed notebook) before the old one disappears.
    """
    waits: dict[Address, set[Address]] = {a: set() for a in work}
    for address, change in work.items():
        if change.action is Action.DELETE:
            continue
        waits[address] |= {d for d in change.depends_on if d in work and work[d].action is not Action.DELETE}
    for address, change in work.items():
        used_before = set(change.before.depends_on) if change.before else set()
        used_after = set(change.after.depends_on) if change.after else set()
        for dependency in used_before | used_after:
            if dependency != address and dependency in work and work[dependency].action is Action.DELETE:
                waits[dependency].add(address)
    return waits
