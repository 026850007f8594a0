"""End to end over the real example projects, built by mlspec's own renderers (``python -m mlspec``).

The renderers grow while they are written, so these tests assert behaviour generically, for
whatever resources a build produces: everything is created, a second plan is empty, a crash in
the middle converges on rerun, destroy removes it all. A project that does not build (yet) is
skipped with the build's error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlspec import api
from mlspec.api import deploy as api_deploy
from plan.conftest import REPO, cli_env
from plan.crash import kill_hard, normalised_state, start_paused, wait_for_pause, workspace_tree

EXAMPLES = sorted(p.parent for p in (REPO / "projects").glob("*/mlproject.yaml"))


def mlspec(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlspec", *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _copy_buildable(example: Path, target: Path) -> tuple[Path, list[str]]:
    try:
        result = api.build(example / "mlproject.yaml", "local")
    except Exception as exc:
        pytest.skip(f"{example.name} does not build for env local yet: {str(exc)[:200]}")
    if not result.manifest.resources:
        pytest.skip(f"{example.name} has no resources yet")
    shutil.copytree(example, target, ignore=shutil.ignore_patterns(".mlspec", "build"))
    return target, sorted(str(r.address) for r in result.manifest.resources)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_an_example_plans_applies_and_then_has_no_changes(example: Path, tmp_path: Path) -> None:
    project, addresses = _copy_buildable(example, tmp_path / example.name)
    planned = api_deploy.plan_environment(project / "mlproject.yaml", "local").plan
    assert {str(c.address): c.action.value for c in planned.changes} == dict.fromkeys(addresses, "create")

    applied = mlspec(["apply", "--env", "local", "--auto-approve"], project)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert f"Apply complete! Resources: {len(addresses)} added" in applied.stdout
    state = json.loads((project / f".mlspec/state/{planned.project}/local.json").read_text())
    assert sorted(state["resources"]) == addresses
    for address, entry in state["resources"].items():
        service, kind, name = address.split(".", 2)
        assert entry["provider_id"] == f".mlspec/local/local/{service}/{kind}/{name}"
        assert (project / entry["provider_id"] / "properties.json").is_file()

    again = mlspec(["plan", "--env", "local", "--detailed-exitcode"], project)
    assert again.returncode == 0, again.stdout + again.stderr
    destroyed = api_deploy.destroy(project / "mlproject.yaml", "local")
    assert destroyed.ok and len(destroyed.outcomes) == len(addresses)
    assert not any((project / ".mlspec/local/local").rglob("properties.json"))


def test_an_example_killed_mid_apply_converges_on_rerun(tmp_path: Path) -> None:
    example = next((e for e in EXAMPLES if e.name == "churn"), None) or EXAMPLES[0]
    reference, addresses = _copy_buildable(example, tmp_path / "reference")
    assert mlspec(["apply", "--env", "local", "--auto-approve", "-q"], reference).returncode == 0
    project = tmp_path / "killed"
    shutil.copytree(example, project, ignore=shutil.ignore_patterns(".mlspec", "build"))
    middle = max(1, len(addresses) // 2)
    process = start_paused(
        [sys.executable, "-m", "mlspec", "apply", "--env", "local", "--auto-approve"], project, middle
    )
    wait_for_pause(process)
    kill_hard(process)
    lock = next((project / ".mlspec/state").rglob("local.lock"))
    api_deploy.force_unlock(project / "mlproject.yaml", "local", json.loads(lock.read_text())["id"])
    rerun = mlspec(["apply", "--env", "local", "--auto-approve", "-q"], project)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    state_rel = lock.relative_to(project).with_suffix(".json")
    assert normalised_state(project / state_rel, project) == normalised_state(
        reference / state_rel, reference
    )
    assert workspace_tree(project) == workspace_tree(reference)
