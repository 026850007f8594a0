"""Plans a reviewer can read (issue 9 item 6).

- a change to generated code names the spec fields that caused it (``caused by:`` lines, ``causes``
  in JSON), from the spec fields apply records in state; an older state without them says nothing;
- long changed values are cut around their first difference, so the part that changed shows;
- a rename written without ``moved:`` says how to write the ``moved:`` entry, in the spec's syntax.

The end-to-end tests use the real build of tests/plan/data/shop on the local provider.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlspec.api import deploy as api_deploy
from mlspec.contract.graph import Address
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import MlspecError
from mlspec.plan.diff import MISSING, FieldChange
from mlspec.plan.plan import Action, Plan, ResourceChange, Snapshot
from mlspec.plan.render import render_plan
from mlspec.plan.state import State
from plan.conftest import edit, read_state, state_file

TRAIN = "aml.component.train"
TRAIN_ADDRESS = Address.parse(TRAIN)
PARAMS = "params: {n_estimators: 100}"


def _plan(spec: Path) -> Plan:
    return api_deploy.plan_environment(spec, "dev").plan


def _apply(spec: Path) -> None:
    result = api_deploy.apply_environment(spec, "dev")
    assert result.ok, result.failures


def _update(before: object, after: object, path: str = "properties.query") -> Plan:
    change = ResourceChange(
        Address("synapse", "notebook", "n"),
        Action.UPDATE,
        "t",
        before=Snapshot("t", Payload({}, {}, "sha256:a")),
        after=Snapshot("t", Payload({}, {}, "sha256:b")),
        changes=[FieldChange(path, before, after)],
    )
    return Plan("p", "dev", "local", [change])


# --- 1. which spec fields caused a change -----------------------------------------------------------


def test_a_changed_training_parameter_is_named_as_the_cause(shop: Path) -> None:
    _apply(shop)
    edit(shop, PARAMS, "params: {n_estimators: 300}")
    plan = _plan(shop)
    change = plan.change_for(TRAIN_ADDRESS)
    assert change is not None and change.action in (Action.UPDATE, Action.REPLACE)
    # the generated code changed (a file hash), and the plan says which spec field did it
    assert any(c.path.startswith("attachments.") for c in change.changes)
    assert change.causes == [FieldChange("model.training.params.n_estimators", 100, 300)]
    text = render_plan(plan)
    block = text[text.index(f"# {TRAIN} ") :].split("\n\n")[0]
    assert "      # caused by: model.training.params.n_estimators: 100 → 300" in block.splitlines()
    document = plan.to_json()
    entry = next(c for c in document["resource_changes"] if c["address"] == TRAIN)
    assert entry["causes"] == [
        {"path": "model.training.params.n_estimators", "action": "change", "before": 100, "after": 300}
    ]
    assert Plan.from_json(json.loads(json.dumps(document))).to_json() == document


def test_an_added_field_and_an_unchanged_resource(shop: Path) -> None:
    _apply(shop)
    edit(shop, PARAMS, "params: {n_estimators: 100, max_depth: 5}")
    plan = _plan(shop)
    change = plan.change_for(TRAIN_ADDRESS)
    assert change is not None
    assert change.causes == [FieldChange("model.training.params.max_depth", MISSING, 5)]
    assert "# caused by: model.training.params.max_depth: (not set) → 5" in render_plan(plan)
    untouched = plan.change_for(Address("aks", "deployment", "shop-scoring"))
    assert untouched is not None and untouched.action is Action.NO_OP and untouched.causes is None


def test_apply_records_the_spec_fields_also_when_the_build_comes_from_the_cache(shop: Path) -> None:
    _apply(shop)
    recorded = read_state(shop)["resources"][TRAIN]["spec_fields"]  # type: ignore[index]
    assert recorded["model.training.params.n_estimators"] == 100
    assert recorded["model.training.features[0]"] == "spend"
    edit(shop, PARAMS, "params: {n_estimators: 300}")
    _plan(shop)  # builds and stores the build in the cache
    _apply(shop)  # served from the cache
    recorded = read_state(shop)["resources"][TRAIN]["spec_fields"]  # type: ignore[index]
    assert recorded["model.training.params.n_estimators"] == 300
    assert not _plan(shop).has_changes


def test_a_resource_built_from_another_section_names_the_change_there(shop: Path) -> None:
    """The retrain schedule lives under ``monitoring.retrain`` but embeds the pipeline job built from
    ``model``: a training parameter is its cause too, not a guess about "another section"."""
    edit(shop, "  notify: {email:", '  retrain: {schedule: "0 3 * * 1"}\n  notify: {email:')
    _apply(shop)
    edit(shop, PARAMS, "params: {n_estimators: 300}")
    plan = _plan(shop)
    schedule = next(c for c in plan.changes if c.address.kind == "schedule")
    assert schedule.action is not Action.NO_OP
    assert schedule.causes == [FieldChange("model.training.params.n_estimators", 100, 300)]
    text = render_plan(plan)
    block = text[text.index(f"# {schedule.address} ") :].split("\n\n")[0]
    assert "      # caused by: model.training.params.n_estimators: 100 → 300" in block.splitlines()
    assert "another section it uses did" not in text
    # and its own section still counts: a new cron is named as the cause
    _apply(shop)
    edit(shop, '"0 3 * * 1"', '"0 4 * * 1"')
    changed = _plan(shop).change_for(schedule.address)
    assert changed is not None
    assert changed.causes == [FieldChange("monitoring.retrain.schedule", "0 3 * * 1", "0 4 * * 1")]


def test_a_section_the_state_did_not_record_is_not_listed_as_added(shop: Path) -> None:
    """A state from an mlspec before ``reads`` recorded only the schedule's own section: the first plan
    after an upgrade names what changed there, not every ``model`` field as new."""
    edit(shop, "  notify: {email:", '  retrain: {schedule: "0 3 * * 1"}\n  notify: {email:')
    _apply(shop)
    path = state_file(shop, "dev", "shop")
    state = json.loads(path.read_text(encoding="utf-8"))
    (address,) = [a for a in state["resources"] if a.startswith("aml.schedule.")]
    state["resources"][address]["spec_fields"] = {"monitoring.retrain.schedule": "0 3 * * 1"}
    path.write_text(json.dumps(state), encoding="utf-8")
    edit(shop, PARAMS, "params: {n_estimators: 300}")
    edit(shop, '"0 3 * * 1"', '"0 4 * * 1"')
    change = _plan(shop).change_for(Address.parse(address))
    assert change is not None
    assert change.causes == [FieldChange("monitoring.retrain.schedule", "0 3 * * 1", "0 4 * * 1")]


def test_a_state_without_recorded_spec_fields_says_nothing_extra(shop: Path) -> None:
    _apply(shop)
    path = state_file(shop, "dev", "shop")
    state = json.loads(path.read_text(encoding="utf-8"))
    for entry in state["resources"].values():
        del entry["spec_fields"]  # as written by an mlspec before spec fields were recorded
    path.write_text(json.dumps(state), encoding="utf-8")
    edit(shop, PARAMS, "params: {n_estimators: 300}")
    plan = _plan(shop)
    change = plan.change_for(TRAIN_ADDRESS)
    assert change is not None and change.action is not Action.NO_OP and change.causes is None
    assert "caused by" not in render_plan(plan)
    assert all(c["causes"] is None for c in plan.to_json()["resource_changes"])


def test_no_spec_field_changed_under_the_source_is_said_so() -> None:
    plan = _update(1, 2)
    change = plan.changes[0]
    assert change.before is not None and change.after is not None
    change.before.spec_fields = change.after.spec_fields = {"transforms.n.sql": "SELECT 1"}
    change.after.source = "transforms.n"
    change.causes = []
    assert "# caused by: no spec field under `transforms.n` changed" in render_plan(plan)


def test_a_change_from_elsewhere_in_its_section_names_what_changed_there() -> None:
    plan = _update(1, 2)
    quiet = plan.changes[0]
    assert quiet.before is not None and quiet.after is not None
    quiet.after.source, quiet.causes = "deployment.replicas", []
    canary = ResourceChange(
        Address("aks", "deployment", "d"), Action.UPDATE, "t", before=quiet.before, after=quiet.after
    )
    canary.causes = [FieldChange("deployment.rollout.canary_percent", 10, 20)]
    plan.changes.append(canary)
    lines = render_plan(plan).splitlines()
    at = lines.index(
        "      # caused by: no spec field under `deployment.replicas` changed; elsewhere in `deployment`:"
    )
    assert lines[at + 1] == "      #   deployment.rollout.canary_percent: 10 → 20"


def test_spec_fields_are_flattened_bounded_and_redacted() -> None:
    from mlspec.plan.desired import SPEC_FIELD_LIMIT, SPEC_FIELDS_BYTES, spec_fields

    data = {
        "model": {"training": {"params": {"max_depth": 3}, "features": ["a", "b"], "extra": {}}},
        "reports": [{"name": "r", "pages": []}],
        "transforms": {
            f"t{i}": {"sql": "SELECT 1", "inputs": [f"s{j}" for j in range(9)]} for i in range(60)
        },
        "sources": {
            "s": {"path": "https://acct.blob.core.windows.net/c/x?sv=2024&sig=abcdefghijklmnopqrstuvwx"}
        },
        "long": "x" * 5000,
    }
    assert spec_fields(data, ("model", "training")) == {
        "model.training.params.max_depth": 3,
        "model.training.features[0]": "a",
        "model.training.features[1]": "b",
        "model.training.extra": {},
    }
    # a manifest read back from JSON names list items by a string index
    assert spec_fields(data, ("reports", "0")) == {"reports[0].name": "r", "reports[0].pages": []}
    assert spec_fields(data, ("model", "nothing")) == {}
    assert "sig=" not in json.dumps(spec_fields(data, ("sources",)))
    (long,) = spec_fields(data, ("long",)).values()
    assert len(long) < 600 and "5000 characters" in long
    whole = spec_fields(data, ("transforms",))  # 600 leaves: each transform becomes one digest
    assert len(whole) == 60 and whole["transforms.t0"].startswith("(10 fields, sha256 ")
    assert len(whole) <= SPEC_FIELD_LIMIT and len(json.dumps(whole)) <= SPEC_FIELDS_BYTES
    changed = json.loads(json.dumps(data))
    changed["transforms"]["t7"]["sql"] = "SELECT 2"
    after = spec_fields(changed, ("transforms",))
    assert [k for k in whole if whole[k] != after[k]] == ["transforms.t7"]

    # one memo shared by every resource of a build gives each the fields it gets alone, in any order,
    # and a caller's edit of what it got never reaches the next caller
    sources = [("transforms", "t3"), ("transforms",), ("transforms", "t3", "inputs"), ("transforms", "t3")]
    for order in (sources, sources[::-1]):
        memo: dict = {}
        for source in order:
            got = spec_fields(data, source, memo=memo)
            assert got == spec_fields(data, source)
            got["transforms.t3.sql"] = "edited"


def test_state_keeps_spec_fields_and_checks_their_type() -> None:
    entry = ResourceState("t", Payload({}, {}, "h"), "id", spec_fields={"model.training.params.max_depth": 3})
    state = State("shop", "dev", resources={TRAIN_ADDRESS: entry})
    again = State.from_bytes(state.to_bytes())
    assert again.resources[TRAIN_ADDRESS].spec_fields == {"model.training.params.max_depth": 3}
    document = state.to_json()
    del document["resources"][TRAIN]["spec_fields"]
    assert State.from_json(document).resources[TRAIN_ADDRESS].spec_fields is None  # an older state
    for bad in ([1], {"a": {"nested": 1}}, {"a": [1]}):
        document["resources"][TRAIN]["spec_fields"] = bad
        with pytest.raises(MlspecError) as caught:
            State.from_json(document)
        (diagnostic,) = caught.value.diagnostics
        assert diagnostic.code == "MLS801" and "spec_fields" in diagnostic.message


# --- 2. long values are cut around the difference --------------------------------------------------


def test_long_values_that_differ_only_at_the_end_show_the_end() -> None:
    prefix = "SELECT customer_id, spend, visits FROM curated.features WHERE region = 'emea' AND " * 3
    text = render_plan(_update(prefix + "year = 2024", prefix + "year = 2025"))
    (line,) = [ln for ln in text.splitlines() if "properties.query" in ln]
    old, new = line.split(": ", 1)[1].split(" → ")
    assert old.startswith("…") and old.endswith('year = 2024"')
    assert new.startswith("…") and new.endswith('year = 2025"')
    assert len(old) <= 76 and len(new) <= 76


def test_a_difference_in_the_middle_shows_with_context_either_side() -> None:
    before = "a" * 100 + "OLD" + "z" * 100
    after = "a" * 100 + "NEW" + "z" * 100
    text = render_plan(_update(before, after))
    (line,) = [ln for ln in text.splitlines() if "properties.query" in ln]
    old, new = line.split(": ", 1)[1].split(" → ")
    assert old.startswith("…aaaa") and "aOLDz" in old and old.endswith("z…")
    assert new.startswith("…aaaa") and "aNEWz" in new and new.endswith("z…")


def test_short_values_are_shown_whole() -> None:
    assert '~ properties.query: "a" → "b"' in render_plan(_update("a", "b"))
    digest = "sha256:" + "0" * 63
    assert f'"{digest}1" → "{digest}2"' in render_plan(_update(digest + "1", digest + "2", "attachments.x"))


# --- 3. a rename without moved: says how to write it -----------------------------------------------


def test_a_rename_without_moved_says_how_to_write_the_moved_entry(shop: Path) -> None:
    _apply(shop)
    shop.write_text(shop.read_text().replace("click_stats", "visit_stats"))
    plan = _plan(shop)
    assert plan.suggested_moves == [
        (Address("synapse", "notebook", "click_stats"), Address("synapse", "notebook", "visit_stats"))
    ]
    assert plan.to_json()["suggested_moves"] == [
        {"from": "synapse.notebook.click_stats", "to": "synapse.notebook.visit_stats"}
    ]
    text = render_plan(plan)
    hint = "  moved: [{from: synapse.notebook.click_stats, to: synapse.notebook.visit_stats}]"
    assert hint in text.splitlines()
    assert "# looks like synapse.notebook.click_stats renamed" in text
    # what the plan says to write is valid spec syntax that turns the rename into a move
    shop.write_text(shop.read_text() + "\n" + hint.strip() + "\n")
    moved = _plan(shop)
    change = moved.change_for(Address("synapse", "notebook", "visit_stats"))
    assert change is not None and change.moved_from == Address("synapse", "notebook", "click_stats")
    assert moved.suggested_moves == [] and "Renamed?" not in render_plan(moved)


def _side(address: str, action: Action, properties: dict[str, object]) -> ResourceChange:
    snapshot = Snapshot("t", Payload(properties, {}, "h"))
    if action is Action.DELETE:
        return ResourceChange(Address.parse(address), action, "t", before=snapshot)
    return ResourceChange(Address.parse(address), action, "t", after=snapshot)


def test_renames_pair_within_one_kind_by_similar_payload() -> None:
    common = {f"k{i}": i for i in range(8)}
    changes = [
        _side("synapse.notebook.a", Action.DELETE, {**common, "name": "a", "sql": "one"}),
        _side("synapse.notebook.b", Action.DELETE, {"name": "b", "sql": "two", "x": 1}),
        _side("synapse.notebook.a2", Action.CREATE, {**common, "name": "a2", "sql": "one"}),
        _side("synapse.notebook.c", Action.CREATE, {"name": "c", "other": True}),
        _side("aks.service.s", Action.DELETE, {"port": 1}),
        _side("aks.deployment.d", Action.CREATE, {"port": 1}),  # another kind: never a rename
    ]
    plan = Plan("p", "dev", "local", changes)
    assert plan.suggested_moves == [
        (Address.parse("synapse.notebook.a"), Address.parse("synapse.notebook.a2"))
    ]
    # one delete and one create of a kind pair whatever their payloads
    single = Plan("p", "dev", "local", [changes[1], changes[3]])
    assert single.suggested_moves == [
        (Address.parse("synapse.notebook.b"), Address.parse("synapse.notebook.c"))
    ]
    # recreating an object deleted outside mlspec is not a rename
    gone = _side("synapse.notebook.c", Action.CREATE, {})
    gone.before, gone.gone = Snapshot("t", Payload({}, {}, "h")), True
    assert Plan("p", "dev", "local", [changes[1], gone]).suggested_moves == []


_RECORDED = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.just([]),
    st.just({}),
)


@given(st.dictionaries(st.text(max_size=20), _RECORDED, max_size=20))
@settings(max_examples=400, deadline=None, derandomize=True)
def test_the_size_bound_that_skips_serialising_fields_is_never_below_their_size(
    fields: dict[str, object],
) -> None:
    from mlspec.plan import desired

    assert desired._size_bound(fields) >= desired._size(fields)
