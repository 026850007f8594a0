"""Saved plans: applied exactly as listed, refused once the state moved."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from mlspec.api import deploy as api_deploy
from mlspec.diagnostics import MlspecError
from mlspec.plan import operations
from mlspec.plan.plan import Action
from plan.conftest import edit, read_state

pytestmark = pytest.mark.usefixtures("synthetic")


@pytest.mark.parametrize("name", ["plan.json", "plan.bin"])
def test_a_saved_plan_round_trips_in_both_forms(shop: Path, name: str) -> None:
    fresh = api_deploy.plan_environment(shop, "dev")
    path = operations.save_plan(fresh, shop.parent / name)
    raw = path.read_bytes()
    assert (raw[:1] == b"{") == name.endswith(".json")
    if name.endswith(".bin"):
        assert json.loads(gzip.decompress(raw))["format_version"] == 1
    saved = operations.load_plan(path)
    assert saved.plan.to_json() == fresh.plan.to_json()
    assert saved.target.project_dir == shop.parent.resolve()
    assert set(saved.files) == {f for c in fresh.plan.changes if c.after for f in c.after.files}


def test_applying_a_fresh_saved_plan_does_exactly_what_it_listed(shop: Path) -> None:
    api_deploy.apply_environment(shop, "dev")
    edit(shop, "replicas: {min: 2, max: 4}", "replicas: {min: 3, max: 4}")
    path = operations.save_plan(api_deploy.plan_environment(shop, "dev"), shop.parent / "plan.bin")
    listed = {
        (str(c.address), c.action)
        for c in operations.load_plan(path).plan.changes
        if c.action is not Action.NO_OP
    }
    # the spec changes again after the plan was saved: the saved plan still does only what it listed
    edit(shop, "max: 4}", "max: 9}")
    edit(shop, "namespace: shop", "namespace: elsewhere")
    result = operations.apply_plan(operations.load_plan(path))
    assert result.ok
    assert (
        {(str(o.address), o.action) for o in result.outcomes}
        == listed
        == {("aks.deployment.shop-scoring", Action.UPDATE)}
    )
    recorded = read_state(shop)["resources"]["aks.deployment.shop-scoring"]["properties"]  # type: ignore[index]
    assert recorded["spec"]["replicas"] == 3 and recorded["metadata"]["namespace"] == "shop"


def test_applying_a_stale_saved_plan_is_refused(shop: Path) -> None:
    path = operations.save_plan(api_deploy.plan_environment(shop, "dev"), shop.parent / "plan.json")
    api_deploy.apply_environment(shop, "dev", select=["aml.component.train"])  # someone applies meanwhile
    serial = read_state(shop)["serial"]
    with pytest.raises(MlspecError, match=r"stale: it was made against state serial 0 .* now serial 1"):
        operations.apply_plan(operations.load_plan(path))
    assert read_state(shop)["serial"] == serial


def test_a_saved_plan_against_an_old_lineage_is_refused(shop: Path) -> None:
    api_deploy.apply_environment(shop, "dev")
    path = operations.save_plan(
        api_deploy.plan_environment(shop, "dev", destroy=True), shop.parent / "plan.json"
    )
    state_path = shop.parent / ".mlspec/state/shop/dev.json"
    data = json.loads(state_path.read_text())
    data["lineage"] = "00000000-0000-4000-8000-000000000000"
    state_path.write_text(json.dumps(data))
    with pytest.raises(MlspecError, match="stale"):
        operations.apply_plan(operations.load_plan(path))


def test_a_file_that_is_not_a_plan_is_a_usage_error(tmp_path: Path) -> None:
    bogus = tmp_path / "plan.bin"
    bogus.write_bytes(b"\x00\x01")
    with pytest.raises(MlspecError) as raised:
        operations.load_plan(bogus)
    assert raised.value.diagnostics[0].code == "MLS000"
