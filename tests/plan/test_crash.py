"""Crash safety: apply killed with SIGKILL after each resource in turn, then run again.

Every time: the state file parses and records exactly the resources finished before the kill,
the lock left behind names the dead holder and is broken with force-unlock, and the rerun
converges to the same final state and workspace as an uninterrupted apply, creating nothing twice.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from pathlib import Path

from mlspec.api import deploy as api_deploy
from mlspec.plan.backends.local import LocalBackend
from mlspec.plan.state import State
from plan.conftest import DATA, run_cli, synthetic_cli
from plan.crash import kill_hard, normalised_state, start_paused, wait_for_pause, workspace_tree
from plan.synthetic import installed

RESOURCES = 11


def _read(project: Path) -> State:
    state = LocalBackend(project / ".mlspec/state/shop", "dev").read()
    assert state is not None
    return state


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(DATA / "shop", target)
    return target


def test_apply_killed_after_each_resource_converges_on_rerun(tmp_path: Path) -> None:
    reference_dir = _copy(tmp_path, "reference")
    assert run_cli(["apply", "--env", "dev", "--auto-approve", "-q"], reference_dir).returncode == 0
    state_rel = Path(".mlspec/state/shop/dev.json")
    reference_state = normalised_state(reference_dir / state_rel, reference_dir)
    reference_tree = workspace_tree(reference_dir)
    assert len(reference_state) == RESOURCES

    for n in range(1, RESOURCES + 1):
        project = _copy(tmp_path, f"killed-after-{n}")
        process = start_paused(synthetic_cli("apply", "--env", "dev", "--auto-approve"), project, n)
        wait_for_pause(process)
        kill_hard(process)

        # The document is untouched during an apply (a first apply has none yet); every finished resource
        # is a record of the journal beside it, which reading the state replays.
        assert not (project / state_rel).exists()
        assert (project / state_rel).with_suffix(".journal").read_bytes().count(b"\n") == n + 1
        state = _read(project)
        assert (state.serial, len(state.resources)) == (n, n), f"after kill at {n}"
        lock = json.loads((project / ".mlspec/state/shop/dev.lock").read_text())
        assert lock["who"].endswith(f"pid {process.pid}") and lock["operation"] == "apply"

        if n == 1:  # the rerun is refused at once, naming the dead holder and the way out
            refused = run_cli(["apply", "--env", "dev", "--auto-approve"], project)
            assert refused.returncode == 1
            assert f"pid {process.pid}, operation apply" in refused.stderr
            assert "stale: that process is no longer running on this host" in refused.stderr
            assert "its process is gone: break the lock" in refused.stderr
            found = re.search(r"mlspec force-unlock (\S+) --env dev", refused.stderr)
            assert found is not None and found.group(1) == lock["id"]
        api_deploy.force_unlock(project / "mlproject.yaml", "dev", lock["id"])

        if n == 1:  # the command line once; the library (the same code, no interpreter start) after
            rerun = run_cli(["apply", "--env", "dev", "--auto-approve"], project)
            assert rerun.returncode == 0, rerun.stdout + rerun.stderr
            assert f"Resources: {RESOURCES - 1} added, 0 changed" in rerun.stdout
        else:
            with installed():
                result = api_deploy.apply_environment(project / "mlproject.yaml", "dev")
            assert result.ok
            assert len(result.outcomes) == RESOURCES - n  # the n recorded ones are not touched again
        final = State.from_bytes((project / state_rel).read_bytes())  # the rerun folded the journal in
        assert not (project / state_rel).with_suffix(".journal").exists()
        assert final.lineage == state.lineage and final.serial == RESOURCES
        assert normalised_state(project / state_rel, project) == reference_state
        assert workspace_tree(project) == reference_tree  # nothing twice, no half-written leftovers
        shutil.rmtree(project)


def test_sigterm_during_apply_finishes_the_resource_in_flight_releases_the_lock_and_a_rerun_continues(
    tmp_path: Path,
) -> None:
    project = _copy(tmp_path, "terminated")
    process = start_paused(synthetic_cli("apply", "--env", "dev", "--auto-approve"), project, 2, seconds=2)
    wait_for_pause(process)
    os.kill(process.pid, signal.SIGTERM)  # CI cancelling the job; `timeout` expiring
    assert process.wait(timeout=60) == 130
    assert process.stderr is not None
    said = process.stderr.read()
    process.stderr.close()
    assert "Interrupted: what was in flight finished and is recorded in state" in said
    assert "Traceback" not in said
    assert not (project / ".mlspec/state/shop/dev.lock").exists()  # no force-unlock needed
    assert (project / ".mlspec/state/shop/dev.json").is_file()  # written on the way out
    # The document and the journal beside it are the state: a resource in flight when the document was
    # written on the way out finishes into the journal (parallel applies), and reading replays it.
    state = _read(project)
    assert 2 <= len(state.resources) < RESOURCES
    rerun = run_cli(["apply", "--env", "dev", "--auto-approve"], project)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"Resources: {RESOURCES - len(state.resources)} added" in rerun.stdout
