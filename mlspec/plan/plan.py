"""A plan is data: per address an action, before/after, the field-level changes and why.

:func:`make_plan` compares the desired resources (a build) with the state, optionally
refreshed against the provider's live view (drift), and orders the result by the
dependency graph: creates and updates dependencies first, deletes dependants first.
Rendering lives in :mod:`mlspec.plan.render`; saving and applying in
:mod:`mlspec.plan.operations`. The JSON form (:meth:`Plan.to_json`) is a documented,
stable interface (``docs/plan.md``).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mlspec.contract.graph import Address, Resource, dependency_closure, topological_order
from mlspec.contract.outputs import sent_payload
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.plan.desired import Desired, DesiredResource
from mlspec.plan.diff import FieldChange, diff_fields, diff_payloads, leaves, replace_reasons
from mlspec.plan.lock import utc_now
from mlspec.plan.state import State
from mlspec.providers.base import LiveObject

PLAN_FORMAT_VERSION = 1


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NO_OP = "no-op"


@dataclass
class Snapshot:
    """One side of a change: a payload with its hash, dependencies and (after) the files it ships.

    ``spec_fields`` are the spec values the payload was built from (``None``: not known, as in a
    state written before they were recorded); ``source`` is the spec path they come from (after);
    ``needs`` the output markers of the payload (after), which apply replaces before sending it.
    """

    provider_type: str
    payload: Payload
    depends_on: list[Address] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    spec_fields: dict[str, Any] | None = None
    source: str = ""
    needs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "provider_type": self.provider_type,
            "hash": self.payload.hash,
            **self.payload.content(),
            "depends_on": sorted(str(d) for d in self.depends_on),
        }
        if self.files:
            out["files"] = list(self.files)
        if self.source:
            out["source"] = self.source
        if self.spec_fields is not None:
            out["spec_fields"] = dict(self.spec_fields)
        if self.needs:
            out["needs"] = list(self.needs)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Snapshot | None:
        if data is None:
            return None
        return cls(
            provider_type=str(data["provider_type"]),
            payload=Payload.from_json(data),
            depends_on=[Address.parse(d) for d in data.get("depends_on") or []],
            files=list(data.get("files") or []),
            spec_fields=dict(fields) if isinstance(fields := data.get("spec_fields"), dict) else None,
            source=str(data.get("source") or ""),
            needs=[str(n) for n in data.get("needs") or []],
        )

    @classmethod
    def of_state(cls, entry: ResourceState) -> Snapshot:
        return cls(entry.provider_type, entry.payload, list(entry.depends_on), spec_fields=entry.spec_fields)

    @classmethod
    def of_desired(cls, resource: DesiredResource) -> Snapshot:
        return cls(
            resource.provider_type,
            resource.payload,
            sorted(resource.depends_on),
            list(resource.files),
            spec_fields=resource.spec_fields,
            source=resource.source,
            needs=list(resource.needs),
        )


@dataclass
class ResourceChange:
    """What happens to one address.

    ``changes`` go from the current object (live when the plan was refreshed, else the state)
    to ``after``; ``drift`` lists where the live object differs from the state;
    ``replace_reasons`` say why an update cannot happen in place; ``moved_from`` is the old
    address of a ``moved:`` rename (the state entry is renamed, the object kept);
    ``gone`` means refresh found the object deleted outside mlspec; ``causes`` (updates and
    replaces) are the spec fields that changed since the last apply, from the fields the state
    recorded to those of the build — ``None`` when the state recorded none (an older state).
    ``known_after_apply`` are the output markers of ``after`` whose values exist only once this
    apply ran their producers; ``output_changes`` the markers whose value differs from the one the
    resource was last applied with (``path`` the marker's ``<target>.<attribute>``), which alone make
    an update; ``missing_outputs`` (a producer) the outputs a consumer needs that the state does not
    record (applied by an older mlspec), so it is applied again to report them.
    """

    address: Address
    action: Action
    provider_type: str
    before: Snapshot | None = None
    after: Snapshot | None = None
    changes: list[FieldChange] = field(default_factory=list)
    replace_reasons: list[str] = field(default_factory=list)
    drift: list[FieldChange] = field(default_factory=list)
    moved_from: Address | None = None
    gone: bool = False
    causes: list[FieldChange] | None = None
    known_after_apply: list[str] = field(default_factory=list)
    output_changes: list[FieldChange] = field(default_factory=list)
    missing_outputs: list[str] = field(default_factory=list)

    @property
    def depends_on(self) -> list[Address]:
        side = self.after or self.before
        return list(side.depends_on) if side else []

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "address": str(self.address),
            "action": self.action.value,
            "provider_type": self.provider_type,
            "moved_from": str(self.moved_from) if self.moved_from is not None else None,
            "gone": self.gone,
            "replace_reasons": list(self.replace_reasons),
            "changes": [c.to_json() for c in self.changes],
            "causes": [c.to_json() for c in self.causes] if self.causes is not None else None,
            "drift": [c.to_json() for c in self.drift],
            "before": self.before.to_json() if self.before else None,
            "after": self.after.to_json() if self.after else None,
        }
        # Only where there is something to say: most resources need no output of another.
        if self.known_after_apply:
            out["known_after_apply"] = list(self.known_after_apply)
        if self.output_changes:
            out["output_changes"] = [c.to_json() for c in self.output_changes]
        if self.missing_outputs:
            out["missing_outputs"] = list(self.missing_outputs)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResourceChange:
        return cls(
            address=Address.parse(str(data["address"])),
            action=Action(data["action"]),
            provider_type=str(data["provider_type"]),
            before=Snapshot.from_json(data.get("before")),
            after=Snapshot.from_json(data.get("after")),
            changes=[FieldChange.from_json(c) for c in data.get("changes") or []],
            replace_reasons=list(data.get("replace_reasons") or []),
            drift=[FieldChange.from_json(c) for c in data.get("drift") or []],
            moved_from=Address.parse(str(moved)) if (moved := data.get("moved_from")) is not None else None,
            gone=bool(data.get("gone", False)),
            causes=(
                [FieldChange.from_json(c) for c in causes]
                if isinstance(causes := data.get("causes"), list)
                else None
            ),
            known_after_apply=[str(r) for r in data.get("known_after_apply") or []],
            output_changes=[FieldChange.from_json(c) for c in data.get("output_changes") or []],
            missing_outputs=[str(a) for a in data.get("missing_outputs") or []],
        )


@dataclass
class Plan:
    """Desired vs state for one project and environment, and the state it was made against.

    ``state_lineage``/``state_serial`` identify that state (``None``/0 when none existed); a
    saved plan is applied only while they are unchanged.
    """

    project: str
    environment: str
    provider: str
    changes: list[ResourceChange]
    state_lineage: str | None = None
    state_serial: int = 0
    refreshed: bool = False
    destroy: bool = False
    protect: bool = False
    allow_destroy: bool = False
    select: list[str] = field(default_factory=list)
    created: str = field(default_factory=utc_now)

    @property
    def summary(self) -> dict[str, int]:
        count = dict.fromkeys(Action, 0)
        for change in self.changes:
            count[change.action] += 1
        return {
            "add": count[Action.CREATE],
            "change": count[Action.UPDATE],
            "replace": count[Action.REPLACE],
            "destroy": count[Action.DELETE],
            "move": sum(1 for c in self.changes if c.moved_from),
            "no_op": count[Action.NO_OP],
        }

    @property
    def has_changes(self) -> bool:
        return any(c.action is not Action.NO_OP or c.moved_from for c in self.changes)

    @property
    def blocked(self) -> list[ResourceChange]:
        """Deletes and replaces a protected environment refuses (without ``allow_destroy``)."""
        if not self.protect or self.allow_destroy:
            return []
        return [c for c in self.changes if c.action in (Action.DELETE, Action.REPLACE)]

    def change_for(self, address: Address) -> ResourceChange | None:
        return next((c for c in self.changes if c.address == address), None)

    @property
    def suggested_moves(self) -> list[tuple[Address, Address]]:
        """(old, new) pairs that look like a rename written without ``moved:`` (see :func:`suggest_moves`)."""
        return suggest_moves(self.changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": PLAN_FORMAT_VERSION,
            "project": self.project,
            "environment": self.environment,
            "provider": self.provider,
            "created": self.created,
            "state": {"lineage": self.state_lineage, "serial": self.state_serial},
            "refreshed": self.refreshed,
            "destroy": self.destroy,
            "protect": self.protect,
            "allow_destroy": self.allow_destroy,
            "select": list(self.select),
            "has_changes": self.has_changes,
            "summary": self.summary,
            "blocked": [str(c.address) for c in self.blocked],
            "suggested_moves": [{"from": str(old), "to": str(new)} for old, new in self.suggested_moves],
            "resource_changes": [c.to_json() for c in self.changes],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        if data.get("format_version") != PLAN_FORMAT_VERSION:
            raise plan_error(
                f"unsupported plan format_version {data.get('format_version')!r} "
                f"(this mlspec reads {PLAN_FORMAT_VERSION})"
            )
        state = data.get("state") or {}
        return cls(
            project=str(data["project"]),
            environment=str(data["environment"]),
            provider=str(data["provider"]),
            changes=[ResourceChange.from_json(c) for c in data["resource_changes"]],
            state_lineage=state.get("lineage"),
            state_serial=int(state.get("serial", 0)),
            refreshed=bool(data.get("refreshed", False)),
            destroy=bool(data.get("destroy", False)),
            protect=bool(data.get("protect", False)),
            allow_destroy=bool(data.get("allow_destroy", False)),
            select=list(data.get("select") or []),
            created=str(data.get("created", "")),
        )


def plan_error(message: str, hint: str | None = None, code: str = "MLS830") -> MlspecError:
    return MlspecError([Diagnostic.error(code, message, hint=hint)])


def make_plan(
    desired: Desired,
    state: State | None,
    *,
    live: Mapping[Address, LiveObject | None] | None = None,
    select: Iterable[str] = (),
    destroy: bool = False,
    allow_destroy: bool = False,
    target: Mapping[str, str | None] | None = None,
    observed: Mapping[Address, Mapping[str, str]] | None = None,
) -> Plan:
    """Compare ``desired`` with ``state`` (and ``live``, the provider's view by state address, when
    refreshed). With ``destroy`` every resource in state is deleted. ``target`` is what the
    deployment target supplies for output markers (:data:`mlspec.plan.needs.TargetOutputs`; none when
    not given); ``observed`` the current value of outputs that change outside apply, by producer (a
    refreshed plan asks the provider); a need nothing satisfies is an MLS842
    (:func:`mlspec.plan.needs.settle_needs`)."""
    from mlspec.plan.needs import settle_needs

    manifest = desired.manifest
    recorded = dict(state.resources) if state else {}
    live_view = dict(live) if live is not None else None
    moved_from = _apply_moves(manifest.moved, recorded, live_view, desired)
    wanted = {} if destroy else dict(desired.resources)
    chosen = _selection(list(select), wanted, recorded, desired, destroy)

    changes: list[ResourceChange] = []
    for address, resource in wanted.items():  # already in dependency order
        if chosen is None or address in chosen:
            current = recorded.get(address)
            lived = live_view.get(address) if live_view is not None and current is not None else None
            change = _change_for(resource, current, lived, refreshed=live_view is not None)
            change.moved_from = moved_from.get(address)
            if change.action in (Action.UPDATE, Action.REPLACE):
                change.causes = spec_causes(change.before, change.after, moved=change.moved_from is not None)
            changes.append(change)
    for address in _delete_order({a: r for a, r in recorded.items() if a not in wanted}):
        if chosen is None or address in chosen:
            current = recorded[address]
            change = ResourceChange(
                address, Action.DELETE, current.provider_type, before=Snapshot.of_state(current)
            )
            change.moved_from = moved_from.get(address)
            if live_view is not None:
                found = live_view.get(address)
                change.gone = found is None
                if found is not None and not _vouched_unchanged(found, current):
                    change.drift = diff_payloads(current.payload, found.payload)
            changes.append(change)
    settle_needs(changes, recorded, target or {}, observed or {})
    return Plan(
        project=manifest.project,
        environment=manifest.environment,
        provider=manifest.provider,
        changes=changes,
        state_lineage=state.lineage if state else None,
        state_serial=state.serial if state else 0,
        refreshed=live_view is not None,
        destroy=destroy,
        protect=manifest.protect,
        allow_destroy=allow_destroy,
        select=list(select),
    )


def spec_causes(
    before: Snapshot | None, after: Snapshot | None, *, moved: bool = False
) -> list[FieldChange] | None:
    """The spec fields that changed between the last apply and this build; ``None`` when either side
    has none recorded (a state from before they were kept), or when a ``moved:`` rename left no
    field path in common (they are under the old name: comparing them would list every field)."""
    if before is None or after is None or before.spec_fields is None or after.spec_fields is None:
        return None
    if moved and before.spec_fields and not set(before.spec_fields) & set(after.spec_fields):
        return None
    after_fields = after.spec_fields
    if before.spec_fields:
        # A section the state recorded nothing of was not recorded (an mlspec before `reads` kept
        # only the resource's own section): comparing it would list all of its fields as added.
        recorded = {_section(path) for path in before.spec_fields}
        after_fields = {k: v for k, v in after_fields.items() if _section(k) in recorded}
    return diff_fields(before.spec_fields, after_fields)


def _section(path: str) -> str:
    """The top-level spec section of a dotted field path (``model`` of ``model.training.params.x``)."""
    return path.split(".", 1)[0].split("[", 1)[0]


RENAME_SIMILARITY = 0.5
"""Of two resources of one kind, one destroyed and one created, with several of that kind each side,
the pair is a likely rename when this share of their payload leaves is equal."""


def suggest_moves(changes: Iterable[ResourceChange]) -> list[tuple[Address, Address]]:
    """Deletes paired with creates of the same ``service.kind`` that look like a rename without a
    ``moved:`` entry: the only delete and the only create of their kind, or else the most similar
    pairs by payload. Applying such a plan destroys the object and creates a new one; a ``moved:``
    entry keeps it."""
    deletes: dict[tuple[str, str], list[ResourceChange]] = {}
    creates: dict[tuple[str, str], list[ResourceChange]] = {}
    for change in changes:
        kind = (change.address.service, change.address.kind)
        if change.action is Action.DELETE and not change.moved_from:
            deletes.setdefault(kind, []).append(change)
        elif change.action is Action.CREATE and change.before is None:
            creates.setdefault(kind, []).append(change)
    pairs: list[tuple[Address, Address]] = []
    for kind, gone in deletes.items():
        new = creates.get(kind, [])
        if len(gone) == 1 and len(new) == 1:
            pairs.append((gone[0].address, new[0].address))
            continue
        scored = sorted(
            ((_similarity(old, fresh), old.address, fresh.address) for old in gone for fresh in new),
            key=lambda item: (-item[0], item[1], item[2]),
        )
        taken: set[Address] = set()
        for score, old_address, new_address in scored:
            if score >= RENAME_SIMILARITY and old_address not in taken and new_address not in taken:
                pairs.append((old_address, new_address))
                taken |= {old_address, new_address}
    return sorted(pairs)


def _similarity(deleted: ResourceChange, created: ResourceChange) -> float:
    """The share of equal leaves of two payloads (attachments by content, whatever their file name)."""

    def facts(side: Snapshot | None) -> set[str]:
        if side is None:
            return set()
        found = {
            f"{path}={json.dumps(value, sort_keys=True, default=str)}"
            for path, value in leaves(side.payload.properties, "properties")
        }
        return found | {f"attachment={digest}" for digest in side.payload.attachments.values()}

    old, new = facts(deleted.before), facts(created.after)
    return len(old & new) / len(old | new) if old | new else 1.0


def _vouched_unchanged(live: LiveObject, current: ResourceState) -> bool:
    """The provider says the live object is exactly the one written for the recorded payload."""
    return bool(live.hash) and live.hash == current.payload.hash


def _change_for(
    resource: DesiredResource, current: ResourceState | None, live: LiveObject | None, *, refreshed: bool
) -> ResourceChange:
    address = resource.address
    after = Snapshot.of_desired(resource)
    if current is None:
        return ResourceChange(address, Action.CREATE, resource.provider_type, after=after)
    before = Snapshot.of_state(current)
    recorded, wanted = current.payload, resource.payload
    drift: list[FieldChange] = []
    if refreshed:
        if live is None:  # deleted outside mlspec: create it again
            return ResourceChange(address, Action.CREATE, resource.provider_type, before, after, gone=True)
        # What was sent: the recorded payload with its markers replaced as they were at apply
        # (made only when the provider does not vouch for the object: it walks the whole payload).
        sent = (
            None
            if _vouched_unchanged(live, current)
            else sent_payload(recorded, current.resolved, current.sent_attachments)
        )
        if sent is not None and not live.payload.same_content(sent):
            drift = diff_payloads(sent, live.payload)
            recorded = live.payload
            # compared as sent too, so a marker and the value it was replaced with are no change
            unchanged_files = {
                path: sent_hash
                for path, sent_hash in current.sent_attachments.items()
                if resource.payload.attachments.get(path) == current.payload.attachments.get(path)
            }
            wanted = sent_payload(resource.payload, current.resolved, unchanged_files)
    if (
        not drift
        and current.payload.hash == resource.payload.hash
        and current.provider_type == resource.provider_type
    ):
        return ResourceChange(address, Action.NO_OP, resource.provider_type, before, after)
    changes = diff_payloads(recorded, wanted)
    reasons = replace_reasons(changes, resource.immutable)
    if current.provider_type != resource.provider_type:
        reasons.insert(0, f"provider type changes from {current.provider_type} to {resource.provider_type}")
    if not changes and not drift and not reasons:  # same payload, only the recorded hash differs
        return ResourceChange(address, Action.NO_OP, resource.provider_type, before, after)
    action = Action.REPLACE if reasons else Action.UPDATE
    return ResourceChange(address, action, resource.provider_type, before, after, changes, reasons, drift)


def _apply_moves(
    moved: list[tuple[Address, Address]],
    recorded: dict[Address, ResourceState],
    live: dict[Address, LiveObject | None] | None,
    desired: Desired,
) -> dict[Address, Address]:
    """Rename state entries per ``moved:`` (old → new) where the old one exists and the new one does not.

    Chains (a → b, b → c) are followed, so an environment that lags several renames behind still
    keeps its objects. A ``from`` that is still in the configuration is refused, as Terraform does:
    two addresses would then claim one object.
    """
    following = dict(moved)
    wanted = desired.resources
    for source in following:
        if source in wanted:
            raise plan_error(
                f"moved: {source} still exists in the configuration",
                f"remove the moved entry from {source}, or rename the resource it names",
                "MLS835",
            )
    renamed: dict[Address, Address] = {}
    for source in list(following):
        target, seen = following[source], {source}
        while target in following and target not in seen:
            seen.add(target)
            target = following[target]
        if source in recorded and target not in recorded and target in wanted:
            recorded[target] = recorded.pop(source)
            if live is not None and source in live:
                live[target] = live.pop(source)
            renamed[target] = source
    return renamed


def _selection(
    patterns: list[str],
    wanted: dict[Address, DesiredResource],
    recorded: dict[Address, ResourceState],
    desired: Desired,
    destroy: bool,
) -> set[Address] | None:
    """What ``--select`` keeps: matches and their dependencies (for destroy: their dependants)."""
    if not patterns:
        return None
    # patterns match the addresses as the user writes them
    known = {str(a): a for a in set(wanted) | set(recorded)}
    matched: set[Address] = set()
    for pattern in patterns:
        hits = {a for text, a in known.items() if text == pattern or fnmatch.fnmatchcase(text, pattern)}
        if not hits:
            raise plan_error(
                f"--select {pattern!r} matches no resource",
                "addresses look like synapse.notebook.NAME; globs like 'aks.*' work",
                "MLS831",
            )
        matched |= hits
    if destroy:
        return _dependants_closure(matched, recorded)
    resources = [r for r in desired.manifest.resources if r.address in wanted]
    closure = dependency_closure(resources, [a for a in matched if a in wanted])
    return closure | {a for a in matched if a not in wanted}


def _dependants_closure(matched: set[Address], recorded: dict[Address, ResourceState]) -> set[Address]:
    result = set(matched)
    grew = True
    while grew:
        grew = False
        for address, entry in recorded.items():
            if address not in result and any(d in result for d in entry.depends_on):
                result.add(address)
                grew = True
    return result


def _delete_order(entries: dict[Address, ResourceState]) -> list[Address]:
    """Dependants before their dependencies (reverse topological order of the recorded graph)."""
    if not entries:
        return []
    fake = [
        Resource(a, e.provider_type, [], [d for d in e.depends_on if d in entries])
        for a, e in entries.items()
    ]
    return [r.address for r in reversed(topological_order(fake))]
