"""Plan and apply through the library API, on the synthetic build of tests/plan/data/shop."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mlspec.api import deploy as api_deploy
from mlspec.contract.graph import Address
from mlspec.diagnostics import MlspecError
from mlspec.plan import operations, target
from mlspec.plan.plan import Action, Plan
from mlspec.plan.state import State
from mlspec.providers.local import LocalProvider
from plan.conftest import edit, read_state

pytestmark = pytest.mark.usefixtures("synthetic")

ERRORS_ALERT = (
    '    - {name: errors, signal: error_rate, operator: ">", threshold: 0.02, window: 15m, severity: 1}\n'
)
ALL = {
    "aks.deployment.shop-scoring",
    "aks.service.shop-scoring",
    "aml.component.train",
    "aml.pipeline.shop-churn",
    "monitor.metric_alert.errors",
    "monitor.metric_alert.high-latency",
    "powerbi.report.shop-dashboard",
    "synapse.notebook.basket_stats",
    "synapse.notebook.click_stats",
    "synapse.notebook.features",
    "synapse.pipeline.shop",
}


def plan(spec: Path, env: str = "dev", **kwargs: object) -> Plan:
    return api_deploy.plan_environment(spec, env, **kwargs).plan  # type: ignore[arg-type]


def apply(spec: Path, env: str = "dev", **kwargs: object) -> operations.ApplyResult:  # type: ignore[name-defined]
    result = api_deploy.apply_environment(spec, env, **kwargs)  # type: ignore[arg-type]
    assert result.ok, result.failures
    return result


def acting(p: Plan) -> dict[str, Action]:
    return {str(c.address): c.action for c in p.changes if c.action is not Action.NO_OP}


def test_plan_on_an_empty_state_creates_everything(shop: Path) -> None:
    p = plan(shop)
    assert acting(p) == dict.fromkeys(ALL, Action.CREATE)
    assert p.summary == {"add": 11, "change": 0, "replace": 0, "destroy": 0, "move": 0, "no_op": 0}
    assert (p.state_lineage, p.state_serial) == (None, 0)
    order = [c.address for c in p.changes]
    for change in p.changes:  # dependencies before dependants
        assert all(order.index(d) < order.index(change.address) for d in change.depends_on)


def test_apply_then_plan_shows_no_changes(shop: Path) -> None:
    result = apply(shop)
    assert {str(o.address) for o in result.outcomes} == ALL
    state = read_state(shop)
    assert state["serial"] == 11 and set(state["resources"]) == ALL  # type: ignore[arg-type]
    again = plan(shop)
    assert not again.has_changes and again.summary["no_op"] == 11
    assert again.state_serial == 11


def test_the_local_workspace_holds_every_resource_with_its_files(shop: Path) -> None:
    result = apply(shop)
    root = shop.parent / ".mlspec" / "local" / "dev"
    notebook = root / "synapse" / "notebook" / "basket_stats"
    assert json.loads((notebook / "properties.json").read_text())["name"] == "basket_stats"
    assert (
        (notebook / "files" / "synapse" / "notebooks" / "basket_stats.py")
        .read_text()
        .startswith("# notebook")
    )
    deployment = next(o for o in result.outcomes if str(o.address) == "aks.deployment.shop-scoring")
    assert "serving URL http://127.0.0.1:" in deployment.description
    outputs = read_state(shop)["resources"]["aks.deployment.shop-scoring"]["outputs"]  # type: ignore[index]
    assert outputs["url"].startswith("http://127.0.0.1:")


def test_changing_one_field_shows_exactly_that_field(shop: Path) -> None:
    apply(shop)
    edit(shop, "replicas: {min: 2, max: 4}", "replicas: {min: 3, max: 4}")
    p = plan(shop)
    assert acting(p) == {"aks.deployment.shop-scoring": Action.UPDATE}
    change = p.change_for(Address.parse("aks.deployment.shop-scoring"))
    assert change is not None
    assert [(c.path, c.before, c.after) for c in change.changes] == [("properties.spec.replicas", 2, 3)]
    apply(shop)
    assert read_state(shop)["resources"]["aks.deployment.shop-scoring"]["properties"]["spec"]["replicas"] == 3  # type: ignore[index]
    assert not plan(shop).has_changes


def test_changing_an_immutable_field_plans_a_replace_and_says_why(shop: Path) -> None:
    apply(shop)
    edit(shop, "namespace: shop", "namespace: shop2")
    p = plan(shop)
    assert acting(p) == {"aks.deployment.shop-scoring": Action.REPLACE}
    change = p.change_for(Address.parse("aks.deployment.shop-scoring"))
    assert change is not None and change.replace_reasons == [
        "properties.metadata.namespace cannot be changed in place (changed at properties.metadata.namespace)"
    ]
    result = apply(shop)
    assert [o.action for o in result.outcomes] == [Action.REPLACE]
    assert not plan(shop).has_changes


def test_removing_a_resource_plans_a_delete(shop: Path) -> None:
    apply(shop)
    edit(
        shop,
        ERRORS_ALERT,
        "",
    )
    p = plan(shop)
    assert acting(p) == {"monitor.metric_alert.errors": Action.DELETE}
    # the other alert's payload moved from /alerts/1 to /alerts/0 but is the same: no change
    apply(shop)
    assert "monitor.metric_alert.errors" not in read_state(shop)["resources"]  # type: ignore[operator]
    assert not (shop.parent / ".mlspec/local/dev/monitor/metric_alert/errors").exists()


def test_a_protected_environment_refuses_deletes_without_allow_destroy(shop: Path) -> None:
    apply(shop, "prod")
    edit(
        shop,
        ERRORS_ALERT,
        "",
    )
    p = plan(shop, "prod")
    assert [str(c.address) for c in p.blocked] == ["monitor.metric_alert.errors"]
    with pytest.raises(MlspecError, match=r"protected: refusing to delete monitor\.metric_alert\.errors"):
        api_deploy.apply_environment(shop, "prod")
    assert "monitor.metric_alert.errors" in read_state(shop, "prod")["resources"]  # type: ignore[operator]
    apply(shop, "prod", allow_destroy=True)
    assert "monitor.metric_alert.errors" not in read_state(shop, "prod")["resources"]  # type: ignore[operator]


def test_destroy_removes_everything_and_is_refused_when_protected(shop: Path) -> None:
    apply(shop, "prod")
    with pytest.raises(MlspecError, match="protected: destroy is refused"):
        api_deploy.destroy(shop, "prod")
    apply(shop)
    result = api_deploy.destroy(shop, "dev")
    assert result.ok and {o.action for o in result.outcomes} == {Action.DELETE} and len(result.outcomes) == 11
    assert read_state(shop)["resources"] == {}
    assert not any((shop.parent / ".mlspec/local/dev").rglob("properties.json"))
    result = api_deploy.destroy(shop, "prod", allow_destroy=True)
    assert result.ok and read_state(shop, "prod")["resources"] == {}


def test_a_moved_rename_keeps_the_resource(shop: Path) -> None:
    apply(shop)
    before = read_state(shop)["resources"]["synapse.notebook.click_stats"]  # type: ignore[index]
    text = shop.read_text().replace("click_stats", "visit_stats")
    shop.write_text(
        text + "\nmoved:\n  - {from: synapse.notebook.click_stats, to: synapse.notebook.visit_stats}\n"
    )
    p = plan(shop)
    change = p.change_for(Address.parse("synapse.notebook.visit_stats"))
    assert change is not None and str(change.moved_from) == "synapse.notebook.click_stats"
    assert change.action is Action.UPDATE  # its name and code changed; the object is kept
    assert p.change_for(Address.parse("synapse.notebook.click_stats")) is None
    assert Action.CREATE not in acting(p).values() and Action.DELETE not in acting(p).values()
    result = apply(shop)
    assert [(str(old), str(new)) for old, new in result.moved] == [
        ("synapse.notebook.click_stats", "synapse.notebook.visit_stats")
    ]
    after = read_state(shop)["resources"]
    assert "synapse.notebook.click_stats" not in after  # type: ignore[operator]
    assert after["synapse.notebook.visit_stats"]["provider_id"] == before["provider_id"]  # type: ignore[index]
    assert not plan(shop).has_changes


def test_without_a_moved_note_a_rename_is_a_delete_plus_a_create(shop: Path) -> None:
    apply(shop)
    shop.write_text(shop.read_text().replace("click_stats", "visit_stats"))
    actions = acting(plan(shop))
    assert actions["synapse.notebook.click_stats"] is Action.DELETE
    assert actions["synapse.notebook.visit_stats"] is Action.CREATE


def test_hand_editing_the_local_workspace_is_reported_as_drift(shop: Path) -> None:
    apply(shop)
    folder = shop.parent / ".mlspec/local/dev/aks/deployment/shop-scoring"
    properties = json.loads((folder / "properties.json").read_text())
    properties["spec"]["replicas"] = 7
    (folder / "properties.json").write_text(json.dumps(properties))
    code = shop.parent / ".mlspec/local/dev/synapse/notebook/features/files/synapse/notebooks/features.py"
    code.write_text("# edited by hand\n")
    p = plan(shop)
    assert acting(p) == {
        "aks.deployment.shop-scoring": Action.UPDATE,
        "synapse.notebook.features": Action.UPDATE,
    }
    deployment = p.change_for(Address.parse("aks.deployment.shop-scoring"))
    assert deployment is not None
    assert [(d.path, d.before, d.after) for d in deployment.drift] == [("properties.spec.replicas", 2, 7)]
    assert [(c.path, c.before, c.after) for c in deployment.changes] == [("properties.spec.replicas", 7, 2)]
    notebook = p.change_for(Address.parse("synapse.notebook.features"))
    assert notebook is not None and [d.path for d in notebook.drift] == [
        "attachments.synapse/notebooks/features.py"
    ]
    assert not plan(shop, refresh=False).has_changes  # without refresh only the state is compared
    apply(shop)
    assert json.loads((folder / "properties.json").read_text())["spec"]["replicas"] == 2
    assert not plan(shop).has_changes


def test_an_object_deleted_outside_mlspec_is_created_again(shop: Path) -> None:
    apply(shop)
    import shutil

    shutil.rmtree(shop.parent / ".mlspec/local/dev/powerbi/report/shop-dashboard")
    p = plan(shop)
    change = p.change_for(Address.parse("powerbi.report.shop-dashboard"))
    assert change is not None and change.action is Action.CREATE and change.gone
    apply(shop)
    assert not plan(shop).has_changes


def test_select_keeps_matches_and_their_dependencies(shop: Path) -> None:
    p = plan(shop, select=["synapse.pipeline.shop"])
    assert set(acting(p)) == {
        "synapse.pipeline.shop",
        "synapse.notebook.basket_stats",
        "synapse.notebook.click_stats",
        "synapse.notebook.features",
    }
    assert set(acting(plan(shop, select=["aks.*"]))) == {
        "aks.deployment.shop-scoring",
        "aks.service.shop-scoring",
    }
    with pytest.raises(MlspecError, match="matches no resource"):
        plan(shop, select=["nothing.here.*"])
    apply(shop, select=["monitor.*"])
    assert set(read_state(shop)["resources"]) == {
        "monitor.metric_alert.errors",
        "monitor.metric_alert.high-latency",
    }  # type: ignore[arg-type]


def test_a_failure_stops_dependants_keeps_the_state_true_and_a_rerun_continues(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Failing(LocalProvider):
        def create(self, request):  # type: ignore[no-untyped-def]
            if str(request.address) == "synapse.notebook.click_stats":
                raise RuntimeError("quota exceeded")
            return super().create(request)

    monkeypatch.setattr(target, "provider_for", lambda name, d, e, **_: Failing(d, e))
    result = api_deploy.apply_environment(shop, "dev")
    assert not result.ok
    assert [str(f.address) for f in result.failures] == ["synapse.notebook.click_stats"]
    assert result.failures[0].error == "quota exceeded"
    # features needs click_stats, the pipelines need features: skipped; everything else is done
    skipped = {str(a) for a in result.skipped}
    assert skipped == {
        "synapse.notebook.features",
        "synapse.pipeline.shop",
        "aml.pipeline.shop-churn",
    }
    recorded = set(read_state(shop)["resources"])  # type: ignore[arg-type]
    assert recorded == ALL - {"synapse.notebook.click_stats", *skipped}
    monkeypatch.undo()
    rerun = apply(shop)
    assert {str(o.address) for o in rerun.outcomes} == {"synapse.notebook.click_stats", *skipped}
    assert not plan(shop).has_changes


def test_the_azure_provider_is_refused_honestly(shop: Path) -> None:
    with pytest.raises(MlspecError) as raised:
        plan(shop, "cloud")
    [refused] = raised.value.diagnostics
    assert refused.code == "MLS810"
    assert (
        refused.message.startswith("the Azure provider cannot deploy") and "powerbi:report" in refused.message
    )
    assert plan(shop, "cloud", refresh=False).has_changes  # without refresh a plan is data only: no provider
    with pytest.raises(MlspecError, match="Azure provider cannot deploy"):
        api_deploy.apply_environment(shop, "cloud")


def test_the_undeclared_local_environment_always_exists(shop: Path) -> None:
    p = plan(shop, "local")
    assert p.environment == "local" and p.provider == "local" and len(acting(p)) == 11
    apply(shop, "local")
    assert (shop.parent / ".mlspec/local/local/synapse/notebook/features/properties.json").exists()


def test_plan_json_is_the_documented_shape(shop: Path) -> None:
    apply(shop)
    edit(shop, "replicas: {min: 2, max: 4}", "replicas: {min: 3, max: 4}")
    data = plan(shop).to_json()
    assert set(data) == {
        "format_version",
        "project",
        "environment",
        "provider",
        "created",
        "state",
        "refreshed",
        "destroy",
        "protect",
        "allow_destroy",
        "select",
        "has_changes",
        "summary",
        "blocked",
        "suggested_moves",
        "resource_changes",
    }
    assert data["format_version"] == 1 and data["state"]["serial"] == 11
    change = next(c for c in data["resource_changes"] if c["action"] == "update")
    assert set(change) == {
        "address",
        "action",
        "provider_type",
        "moved_from",
        "gone",
        "replace_reasons",
        "changes",
        "causes",
        "drift",
        "before",
        "after",
    }
    assert change["changes"] == [
        {"path": "properties.spec.replicas", "action": "change", "before": 2, "after": 3}
    ]
    assert Plan.from_json(json.loads(json.dumps(data))).to_json() == data


def test_the_local_environment_keeps_local_state_even_when_the_spec_names_a_blob(shop: Path) -> None:
    shop.write_text(shop.read_text() + "\nstate: {backend: azure_blob, storage_account: stteamstate}\n")
    apply(shop, "local")
    assert len(read_state(shop, "local")["resources"]) == 11  # type: ignore[arg-type]


def test_a_delete_waits_until_former_dependants_stop_referring_to_it(shop: Path) -> None:
    """Renaming a transform updates the pipeline and deletes the old notebook: the pipeline first,
    so no live object ever points at a notebook that no longer exists."""
    apply(shop)
    shop.write_text(shop.read_text().replace("click_stats", "visit_stats"))
    assert acting(plan(shop))["synapse.pipeline.shop"] is Action.UPDATE
    events: list[str] = []
    apply(shop, progress=events.append, parallelism=4)
    updated = next(
        i for i, e in enumerate(events) if e.startswith("synapse.pipeline.shop") and "updated" in e
    )
    destroying = next(
        i for i, e in enumerate(events) if e.startswith("synapse.notebook.click_stats") and "Destroying" in e
    )
    assert updated < destroying, events


def test_moved_chains_are_followed(shop: Path) -> None:
    """An environment two renames behind (a → b → c) keeps its object."""
    apply(shop)
    before = read_state(shop)["resources"]["synapse.notebook.click_stats"]  # type: ignore[index]
    shop.write_text(
        shop.read_text().replace("click_stats", "tap_stats")
        + "\nmoved:\n"
        + "  - {from: synapse.notebook.click_stats, to: synapse.notebook.visit_stats}\n"
        + "  - {from: synapse.notebook.visit_stats, to: synapse.notebook.tap_stats}\n"
    )
    p = plan(shop)
    change = p.change_for(Address.parse("synapse.notebook.tap_stats"))
    assert change is not None and str(change.moved_from) == "synapse.notebook.click_stats"
    assert Action.CREATE not in acting(p).values() and Action.DELETE not in acting(p).values()
    apply(shop)
    assert read_state(shop)["resources"]["synapse.notebook.tap_stats"]["provider_id"] == before["provider_id"]  # type: ignore[index]


def test_a_moved_entry_whose_old_address_still_exists_is_refused(shop: Path) -> None:
    apply(shop)
    shop.write_text(
        shop.read_text() + "\nmoved:\n  - {from: synapse.notebook.click_stats, to: synapse.notebook.other}\n"
    )
    with pytest.raises(MlspecError, match=r"moved: synapse\.notebook\.click_stats still exists"):
        plan(shop)


def test_immutable_paths_force_a_replace_only_below_them() -> None:
    """A role assignment's description updates in place; another principal replaces it."""
    from mlspec.plan.diff import FieldChange, replace_reasons

    immutable = ["name", "scope", "properties.roleDefinitionId", "properties.principalId"]
    description = FieldChange("properties.properties.description", "a", "b")
    principal = FieldChange("properties.properties.principalId", "x", "y")
    assert replace_reasons([description], immutable) == []
    assert len(replace_reasons([principal], immutable)) == 1


def test_after_the_state_moves_under_an_apply_no_new_resource_is_started(shop: Path) -> None:
    """Someone force-unlocked and wrote the state mid-apply: stop rather than change unrecorded objects."""
    from plan.conftest import state_file

    events: list[str] = []

    def progress(line: str) -> None:
        events.append(line)
        if " created " in f" {line} " or "created after" in line:
            path = state_file(shop)
            if not any("bumped" in e for e in events):
                # Another process wrote the state (during a first apply this one has only its journal).
                data = json.loads(path.read_text()) if path.exists() else State.empty("shop", "dev").to_json()
                data["serial"] += 5
                path.write_text(json.dumps(data))
                events.append("bumped")

    result = api_deploy.apply_environment(shop, "dev", progress=progress, parallelism=1)
    assert not result.ok
    not_started = [e for e in events if "not started (the state was changed by another process)" in e]
    assert not_started, events
    created = [e for e in events if "created after" in e]
    assert len(created) + len(not_started) < len(ALL) + 1


def test_an_apply_refused_by_the_provider_shows_its_hint_under_the_failed_address(shop: Path) -> None:
    """A different object where a create would go (the state forgot it, then it was edited by hand)."""
    from mlspec.plan.render import render_apply

    apply(shop)
    api_deploy.remove_resource(shop, "dev", "aks.deployment.shop-scoring")
    folder = shop.parent / ".mlspec/local/dev/aks/deployment/shop-scoring"
    properties = json.loads((folder / "properties.json").read_text())
    properties["spec"]["replicas"] = 7
    (folder / "properties.json").write_text(json.dumps(properties))
    result = api_deploy.apply_environment(shop, "dev")
    assert not result.ok
    [failure] = result.failures
    assert str(failure.address) == "aks.deployment.shop-scoring"
    assert failure.error.startswith("another object already exists")  # the address is not repeated
    assert "delete" in failure.hint and str(folder.relative_to(shop.parent)) in failure.hint
    shown = render_apply(result, color=False)
    assert f"x aks.deployment.shop-scoring: {failure.error}" in shown
    assert f"hint: {failure.hint}" in shown
    assert json.loads((folder / "properties.json").read_text())["spec"]["replicas"] == 7  # left as it was


def test_a_long_operation_says_it_is_still_working_and_stops_saying_so(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlspec.plan import apply as apply_module

    lines: list[str] = []

    class Slow(LocalProvider):
        def create(self, request):  # type: ignore[no-untyped-def]
            if str(request.address) == "synapse.notebook.click_stats":  # an image build, a rollout...
                deadline = time.monotonic() + 30
                while sum("still" in line for line in lines) < 2 and time.monotonic() < deadline:
                    time.sleep(0.01)
            return super().create(request)

    monkeypatch.setattr(apply_module, "STILL_WORKING_EVERY", 0.05)
    monkeypatch.setattr(target, "provider_for", lambda name, d, e, **_: Slow(d, e))
    assert api_deploy.apply_environment(shop, "dev", progress=lines.append).ok
    slow = "synapse.notebook.click_stats"
    ticks = [i for i, line in enumerate(lines) if line.startswith(f"{slow}: still creating... [")]
    assert len(ticks) >= 2, lines
    created = next(i for i, line in enumerate(lines) if line.startswith(f"{slow}: created"))
    assert max(ticks) < created, "no tick after the resource is done"
