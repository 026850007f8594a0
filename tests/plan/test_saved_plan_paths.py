"""A saved plan whose digest was recomputed after an edit is still held to what `plan --out` writes:
file paths that stay inside the build, absolute normalised folders, a bounded size, numbers Python
can read — each refused (MLS836 / MLS000) before anything is printed or applied."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlspec.api import deploy as api_deploy
from mlspec.diagnostics import MlspecError
from mlspec.plan import operations, planfile
from plan.conftest import run_cli

pytestmark = pytest.mark.usefixtures("synthetic")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def saved(shop: Path) -> tuple[Path, dict[str, Any]]:
    path = operations.save_plan(api_deploy.plan_environment(shop, "dev"), shop.parent / "plan.json")
    return path, json.loads(path.read_bytes())


def _rewrite(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` with its digest recomputed, as a careful attacker would."""
    document["digest"] = planfile.plan_digest(json.loads(json.dumps(document)))
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")


def _refused(path: Path, code: str = "MLS836") -> str:
    with pytest.raises(MlspecError) as raised:
        operations.load_plan(path)
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == code and diagnostic.location is not None
    assert diagnostic.location.file == str(path)
    return diagnostic.message


def _created(document: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in document["resource_changes"] if c["action"] == "create" and c["after"]["files"])


def _retarget_file(document: dict[str, Any], new: str) -> None:
    """Point a created resource's first file (and the bytes the plan carries for it) at ``new``."""
    change = _created(document)
    old = change["after"]["files"][0]
    change["after"]["files"][0] = new
    files = document["saved"]["files"]
    files[new] = files.pop(old)


BAD_PATHS = [
    "/tmp/PWNED-absolute.txt",
    "../../../../../tmp/PWNED-dotdot.txt",
    "synapse/../../PWNED.txt",
    "synapse\\..\\PWNED.txt",
    "synapse/PWNED\x00.txt",
    "synapse//PWNED.txt",
    "./synapse/PWNED.txt",
    "",
]


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_a_file_path_leaving_the_build_is_refused(saved: tuple[Path, dict[str, Any]], bad: str) -> None:
    path, document = saved
    _retarget_file(document, bad)
    _rewrite(path, document)
    assert "file path" in _refused(path)


def test_such_a_plan_writes_nothing_when_applied_by_the_cli(
    shop: Path, saved: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, document = saved
    victim = tmp_path / "PWNED.txt"
    _retarget_file(document, str(victim))
    _rewrite(path, document)
    result = run_cli(["apply", str(path), "--auto-approve"], shop.parent)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "MLS836" in result.stderr
    assert not victim.exists()
    assert not (shop.parent / ".mlspec" / "state").exists() or not any(
        (shop.parent / ".mlspec" / "state").rglob("*.json")
    )


@pytest.mark.parametrize("side", ["after", "before"])
def test_an_attachment_path_leaving_the_build_is_refused(
    saved: tuple[Path, dict[str, Any]], side: str
) -> None:
    path, document = saved
    change = _created(document)
    if side == "before":
        change["before"] = copy.deepcopy(change["after"])
    change[side]["attachments"] = {"../../outside.txt": "sha256:00"}
    _rewrite(path, document)
    assert "file path" in _refused(path)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("project_dir", "relative/project"),
        ("project_dir", "/tmp/a/../b"),
        ("project_dir", "/tmp/a/"),
        ("project_dir", "/tmp/./a"),
        ("state_dir", "relative/state"),
        ("state_dir", "/tmp/s/../../etc"),
        ("state_dir", "/tmp/\x00s"),
    ],
)
def test_a_folder_that_is_not_absolute_and_normalised_is_refused(
    saved: tuple[Path, dict[str, Any]], field: str, value: str
) -> None:
    path, document = saved
    document["saved"][field] = value
    _rewrite(path, document)
    assert f"saved.{field}" in _refused(path)


def test_a_relative_state_dir_is_saved_absolute(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(shop.parent)
    result = api_deploy.plan_environment(shop, "dev", state_dir=Path("elsewhere/state"))
    path = operations.save_plan(result, shop.parent / "plan.json")
    loaded = operations.load_plan(path)
    assert loaded.target.state_dir == shop.parent / "elsewhere" / "state"


def test_a_number_python_cannot_read_is_refused_not_an_internal_error(
    saved: tuple[Path, dict[str, Any]],
) -> None:
    path, _document = saved
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{", '{"zzz": ' + "9" * 5000 + ", ", 1), encoding="utf-8")
    _refused(path, "MLS000")


@pytest.mark.parametrize("name", ["plan.json", "plan.bin"])
def test_a_plan_file_larger_than_the_bound_is_refused_unread(
    saved: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path = saved[0].with_name(name)
    operations_path = saved[0]
    path.write_bytes(operations_path.read_bytes() if name.endswith(".json") else b"\x1f\x8b" + b"\0" * 4096)
    monkeypatch.setattr(planfile, "MAX_PLAN_FILE_BYTES", 1024)
    assert "larger than" in _refused(path, "MLS000")


@pytest.mark.usefixtures("alarm")
def test_a_fifo_as_plan_file_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.bin"
    os.mkfifo(fifo)
    assert "FIFO" in _refused(fifo, "MLS000")


LOAD_IN_A_SMALL_PROCESS = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1024**3, 1024**3))
    from mlspec.diagnostics import MlspecError
    from mlspec.plan.planfile import load_plan
    try:
        load_plan(sys.argv[1])
    except MlspecError as error:
        print(error.diagnostics[0].code, error.diagnostics[0].message)
    """
)


@pytest.mark.parametrize("kind", ["dev-zero", "sparse-4g"])
def test_an_endless_or_huge_plan_file_is_refused_within_memory(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "plan.bin"
    if kind == "dev-zero":
        target.symlink_to("/dev/zero")
    else:
        with open(target, "wb") as sparse:
            sparse.truncate(4 * 1024**3)
    done = subprocess.run(
        [sys.executable, "-c", LOAD_IN_A_SMALL_PROCESS, str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("MLS000 "), done.stdout


@pytest.fixture
def alarm() -> Any:
    import signal

    def expired(signum: int, frame: object) -> None:
        raise RuntimeError("blocked for 10 s opening a FIFO")

    previous: Callable[..., Any] | int | None = signal.signal(signal.SIGALRM, expired)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
