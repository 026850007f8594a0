"""Who owns a state: a renamed project does not silently start a second state over the first one's
objects; leftovers of killed processes are removed on the next run, never a live process's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlspec.api import deploy as api_deploy
from mlspec.diagnostics import MlspecError
from mlspec.plan.backends.local import STALE_LEFTOVER_SECONDS, LocalBackend
from plan.conftest import SYNTHETIC_CLI, cli_env, edit, state_file


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_renamed_project_is_refused_with_the_way_to_move_its_state(shop: Path, synthetic: None) -> None:
    assert api_deploy.apply_environment(shop, "dev").ok
    edit(shop, "name: shop\n", "name: boutique\n")
    for attempt in (
        lambda: api_deploy.plan_environment(shop, "dev"),
        lambda: api_deploy.plan_environment(shop, "dev", refresh=False),
        lambda: api_deploy.apply_environment(shop, "dev"),
    ):
        with pytest.raises(MlspecError) as raised:
            attempt()
        d = raised.value.diagnostics[0]
        assert d.code == "MLS808"
        assert "owned by project 'shop'" in d.message
        assert d.location is not None and d.location.file == str(state_file(shop, project="boutique"))
        assert "mlspec state mv --from-project shop --env dev" in (d.hint or "")
        assert "set project.name back to 'shop'" in (d.hint or "")
    assert not state_file(shop, project="boutique").exists()


def test_the_move_the_hint_describes_works(shop: Path, synthetic: None) -> None:
    assert api_deploy.apply_environment(shop, "dev").ok
    edit(shop, "name: shop\n", "name: boutique\n")
    count, kept = api_deploy.adopt_project_state(shop, "dev", "shop")
    assert count > 0 and kept == str(state_file(shop)) + ".moved"
    adopted = json.loads(state_file(shop, project="boutique").read_text())
    assert adopted["project"] == "boutique" and len(adopted["resources"]) == count
    assert not state_file(shop).exists()  # the old one no longer claims the objects
    plan = api_deploy.plan_environment(shop, "dev").plan
    actions = {str(c.address): c.action.value for c in plan.changes}
    assert actions.pop("synapse.pipeline.shop") == "delete"  # its name is the project's
    assert actions.pop("synapse.pipeline.boutique") == "create"
    assert set(actions.values()) == {"no-op"}  # every other object stays with the moved state


def test_the_move_by_cli_as_the_hint_prints_it(shop: Path, synthetic: None) -> None:
    assert api_deploy.apply_environment(shop, "dev").ok
    edit(shop, "name: shop\n", "name: boutique\n")
    with pytest.raises(MlspecError) as raised:
        api_deploy.plan_environment(shop, "dev")
    hint = raised.value.diagnostics[0].hint or ""
    command = hint.split("`")[1].split()  # `mlspec state mv --from-project shop --env dev`
    done = subprocess.run(
        [sys.executable, str(SYNTHETIC_CLI), *command[1:], str(shop)],
        capture_output=True,
        text=True,
        env=cli_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Adopted the state of project 'shop'" in done.stdout
    assert api_deploy.plan_environment(shop, "dev").plan.changes


def test_a_destroyed_old_project_does_not_block_the_new_name(shop: Path, synthetic: None) -> None:
    api_deploy.apply_environment(shop, "dev")
    api_deploy.destroy(shop, "dev")
    edit(shop, "name: shop\n", "name: boutique\n")
    assert api_deploy.apply_environment(shop, "dev").ok


def test_a_state_recorded_for_another_owner_is_refused_at_the_file(shop: Path, synthetic: None) -> None:
    api_deploy.apply_environment(shop, "dev", select=["synapse.notebook.basket_stats"])
    path = state_file(shop)
    data = json.loads(path.read_text())
    data["project"] = "other\x1b[31m"
    path.write_text(json.dumps(data))
    with pytest.raises(MlspecError) as raised:
        api_deploy.plan_environment(shop, "dev")
    d = raised.value.diagnostics[0]
    assert d.code == "MLS808" and d.location is not None and d.location.file == str(path)
    assert "\x1b" not in d.message


def test_leftovers_of_dead_processes_are_removed_on_the_next_lock(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "shop", "local")
    backend.folder.mkdir(parents=True)
    dead = _dead_pid()
    stale = [
        backend.folder / f".local.json.{dead}.tmp",
        backend.folder / f".local.json.backup.{dead}.tmp",
        backend.folder / f".local.lock.{dead}.k2j4h5g6",
        backend.folder / ".local.lock.99999999999999999999.x",
    ]
    old_unnamed = backend.folder / ".local.lock.ab12cd34"  # written before lock files carried a pid
    live = [
        backend.folder / f".local.json.{os.getppid()}.tmp",  # a running process (our parent)
        backend.folder / f".local.lock.{os.getppid()}.zz99yy88",
        backend.folder / ".local.lock.ef56gh78",  # no pid and young: could be anyone's, right now
    ]
    unrelated = [backend.folder / ".dev.json.123.tmp", backend.folder / "local.json.backup"]
    for path in [*stale, old_unnamed, *live, *unrelated]:
        path.write_text("x")
    old = time.time() - STALE_LEFTOVER_SECONDS - 60
    os.utime(old_unnamed, (old, old))
    backend.unlock(backend.lock("apply"))
    assert [p.name for p in [*stale, old_unnamed] if p.exists()] == []
    assert all(p.exists() for p in [*live, *unrelated])
    assert not backend.lock_path.exists()


def test_an_apply_killed_mid_write_leaves_nothing_after_the_next_run(shop: Path, synthetic: None) -> None:
    folder = state_file(shop).parent
    api_deploy.apply_environment(shop, "dev", select=["synapse.notebook.basket_stats"])
    dead = _dead_pid()
    leftover = folder / f".dev.json.{dead}.tmp"
    leftover.write_text('{"half": ')
    api_deploy.apply_environment(shop, "dev")
    assert not leftover.exists()
    assert sorted(p.name for p in folder.iterdir()) == ["dev.json", "dev.json.backup"]


def test_a_state_copied_from_another_environment_is_named_as_such(shop: Path, synthetic: None) -> None:
    assert api_deploy.apply_environment(shop, "dev").ok
    copied = state_file(shop, env="prod")
    copied.write_bytes(state_file(shop).read_bytes())
    with pytest.raises(MlspecError) as raised:
        api_deploy.plan_environment(shop, "prod")
    d = raised.value.diagnostics[0]
    assert d.code == "MLS808" and d.location is not None and d.location.file == str(copied)
    assert "holds the state of environment 'dev' of this project, not of 'prod'" in d.message
    assert "remove the file if this environment was never applied" in (d.hint or "")
    assert "state.prefix" not in (d.hint or "")  # not the two-projects advice


def test_a_refused_plan_leaves_no_empty_state_folder(shop: Path, synthetic: None) -> None:
    assert api_deploy.apply_environment(shop, "dev").ok
    edit(shop, "name: shop\n", "name: boutique\n")
    with pytest.raises(MlspecError):
        api_deploy.plan_environment(shop, "dev")
    assert sorted(p.name for p in state_file(shop).parent.parent.iterdir()) == ["shop"]
