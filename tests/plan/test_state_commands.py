"""`mlspec state list|show|rm|mv` and `mlspec output`, through the CLI as users type them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlspec.api import deploy as api_deploy
from plan.conftest import SYNTHETIC_CLI, cli_env, read_state, state_file


def mlspec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SYNTHETIC_CLI), *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        check=False,
    )


@pytest.fixture
def applied(shop: Path, synthetic: None) -> Path:
    assert api_deploy.apply_environment(shop, "dev").ok
    return shop


def test_list_prints_every_address_in_state(applied: Path) -> None:
    done = mlspec("state", "list", str(applied), "-e", "dev")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == sorted(read_state(applied)["resources"])  # type: ignore[arg-type]
    document = json.loads(mlspec("state", "list", str(applied), "-e", "dev", "--format", "json").stdout)
    assert document["ok"] is True and document["addresses"] == done.stdout.splitlines()
    assert document["serial"] == read_state(applied)["serial"]


def test_list_without_state_says_so_and_succeeds(shop: Path, synthetic: None) -> None:
    done = mlspec("state", "list", str(shop), "-e", "dev")
    assert done.returncode == 0 and done.stdout == ""
    assert "No state yet for shop/dev" in done.stderr


def test_show_prints_the_recorded_entry(applied: Path) -> None:
    address = "synapse.notebook.basket_stats"
    done = mlspec("state", "show", address, str(applied), "-e", "dev")
    entry = read_state(applied)["resources"][address]  # type: ignore[index]
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"# {address}\n")
    assert f"hash          = {entry['hash']}" in done.stdout
    shown = json.loads(mlspec("state", "show", address, str(applied), "-e", "dev", "--format", "json").stdout)
    assert shown["properties"] == entry["properties"] and shown["hash"] == entry["hash"]


def test_an_unknown_address_is_mls837_with_the_closest_ones(applied: Path) -> None:
    done = mlspec("state", "show", "synapse.notebook.basket_stat", str(applied), "-e", "dev")
    assert done.returncode == 1
    assert f"{state_file(applied)}:1:1: error MLS837:" in done.stderr
    assert "did you mean synapse.notebook.basket_stats" in done.stderr
    as_json = mlspec("state", "show", "nope.x.y", str(applied), "-e", "dev", "--format", "json")
    document = json.loads(as_json.stdout)  # a failure is one JSON document on stdout too
    assert as_json.returncode == 1 and document["ok"] is False
    assert document["diagnostics"][0]["code"] == "MLS837"


def test_rm_forgets_a_resource_and_the_next_plan_creates_it_again(applied: Path) -> None:
    address = "synapse.notebook.basket_stats"
    serial = read_state(applied)["serial"]
    done = mlspec("state", "rm", address, str(applied), "-e", "dev")
    assert done.returncode == 0, done.stderr
    assert "no longer manages it" in done.stdout
    after = read_state(applied)
    assert address not in after["resources"]  # type: ignore[operator]
    assert after["serial"] == serial + 1  # type: ignore[operator]
    for entry in after["resources"].values():  # type: ignore[attr-defined]
        assert address not in entry["depends_on"]
    actions = {
        str(c.address): c.action.value for c in api_deploy.plan_environment(applied, "dev").plan.changes
    }
    assert actions[address] == "create"


def test_mv_renames_an_address_and_refuses_another_kind_or_a_taken_one(applied: Path) -> None:
    old, new = "synapse.notebook.basket_stats", "synapse.notebook.basket_statistics"
    done = mlspec("state", "mv", old, new, str(applied), "-e", "dev")
    assert done.returncode == 0, done.stderr
    resources = read_state(applied)["resources"]
    assert new in resources and old not in resources  # type: ignore[operator]
    assert all(old not in e["depends_on"] for e in resources.values())  # type: ignore[attr-defined]
    other_kind = mlspec("state", "mv", new, "synapse.pipeline.x", str(applied), "-e", "dev")
    assert other_kind.returncode == 1 and "MLS838" in other_kind.stderr
    taken = next(a for a in resources if a.startswith("synapse.notebook.") and a != new)  # type: ignore[attr-defined]
    clash = mlspec("state", "mv", new, taken, str(applied), "-e", "dev")
    assert clash.returncode == 1 and "is already in the state" in clash.stderr
    assert mlspec("state", "mv", new, str(applied)).returncode == 2  # one address: a usage error


def test_mv_from_project_refuses_its_own_name_and_a_project_without_state(applied: Path) -> None:
    own = mlspec("state", "mv", "--from-project", "shop", str(applied), "-e", "dev")
    assert own.returncode == 1 and "MLS839" in own.stderr
    missing = mlspec("state", "mv", "--from-project", "nosuch", str(applied), "-e", "dev")
    assert missing.returncode == 1 and "holds no state" in missing.stderr


def test_output_lists_values_and_prints_one_raw(applied: Path) -> None:
    done = mlspec("output", str(applied), "-e", "dev")
    assert done.returncode == 0, done.stderr
    resources = read_state(applied)["resources"]
    expected = {
        f"{a}.{k}": v
        for a, e in resources.items()  # type: ignore[attr-defined]
        for k, v in e["outputs"].items()
    }
    assert expected, "the synthetic provider reports outputs"
    name, value = sorted(expected.items())[0]
    assert [line.split(" = ")[0].strip() for line in done.stdout.splitlines()] == sorted(expected)
    one = mlspec("output", name, str(applied), "-e", "dev")
    assert one.returncode == 0 and one.stdout == f"{value}\n"
    document = json.loads(mlspec("output", str(applied), "-e", "dev", "--format", "json").stdout)
    assert document["outputs"] == dict(sorted(expected.items()))
    unknown = mlspec("output", name + "x", str(applied), "-e", "dev")
    assert unknown.returncode == 1 and "mlspec: error MLS837" in unknown.stderr  # not the spec's: no file


def test_a_closed_pipe_ends_quietly(applied: Path) -> None:
    done = subprocess.run(
        f"{sys.executable} {SYNTHETIC_CLI} state list {applied} -e dev | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env=cli_env(),
        check=False,
    )
    assert done.stdout.count("\n") == 1
    assert "Broken pipe" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("name", ["../../victim", "a/b", "a\x1b[2Jb", "x" * 5000])
def test_mv_from_project_takes_a_project_name_never_a_path(applied: Path, name: str) -> None:
    root = applied.parent / ".mlspec" / "state"
    before = sorted(p.name for p in root.iterdir())
    done = mlspec("state", "mv", "--from-project", name, str(applied), "-e", "dev")
    assert done.returncode == 1 and "MLS839" in done.stderr and "is not a project name" in done.stderr
    assert "\x1b" not in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in root.iterdir()) == before  # no folder made, nothing locked outside
    assert not (applied.parent.parent / "victim").exists()
