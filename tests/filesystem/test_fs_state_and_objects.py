"""mlspec's own files — the local state, its backup and lock, the local provider's objects — are
read without following a symlink, only when they are regular files, and with a bounded read: a
special or linked one is a located error naming it within a second, never a hang, a MemoryError,
a RecursionError or a read of something outside; and drift values are shown redacted in the text
plan, its JSON and a saved plan."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ → `plan.conftest`

from plan.conftest import run_cli, shop, state_file, synthetic  # noqa: F401  (shop, synthetic: fixtures)

from mlspec.api import deploy as api_deploy
from mlspec.diagnostics import MlspecError
from mlspec.plan.backends import local as local_backend
from mlspec.plan.backends.local import LocalBackend
from mlspec.plan.state import State

pytestmark = pytest.mark.usefixtures("alarm")

SPECIAL = ["a symlink to /dev/zero", "a FIFO", "a folder", "a dangling symlink", "a symlink to a valid file"]


def _make(path: Path, kind: str, valid: bytes) -> None:
    if kind == "a symlink to /dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "a FIFO":
        os.mkfifo(path)
    elif kind == "a folder":
        path.mkdir()
    elif kind == "a dangling symlink":
        path.symlink_to(path.with_name("nonexistent"))
    else:
        outside = path.parent.parent / f"outside-{path.name}"
        outside.write_bytes(valid)
        path.symlink_to(outside)


def _backend(tmp_path: Path) -> LocalBackend:
    backend = LocalBackend(tmp_path / "state" / "shop", "dev")
    backend.folder.mkdir(parents=True)
    return backend


def _valid_state() -> bytes:
    state = State.empty("shop", "dev")
    state.serial = 2
    return state.to_bytes()


def _lock_record() -> bytes:
    return json.dumps({"id": "i", "who": "w", "operation": "apply", "created": "t"}).encode()


def _assert_mls801_at(error: MlspecError, path: Path) -> None:
    assert error.diagnostics, error
    for d in error.diagnostics:
        assert d.code == "MLS801", d
        assert d.location is not None and d.location.file == str(path), d
        assert str(path) in d.message, d


@pytest.mark.parametrize("kind", SPECIAL)
def test_a_special_or_linked_state_file_is_mls801_at_the_file(tmp_path: Path, kind: str) -> None:
    backend = _backend(tmp_path)
    _make(backend.path, kind, _valid_state())
    started = time.monotonic()
    with pytest.raises(MlspecError) as raised:
        backend.read()
    _assert_mls801_at(raised.value, backend.path)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("kind", ["a symlink to /dev/zero", "a FIFO", "a folder"])
def test_writing_over_a_special_state_file_is_mls801_not_a_hang(tmp_path: Path, kind: str) -> None:
    backend = _backend(tmp_path)
    _make(backend.path, kind, _valid_state())
    with pytest.raises(MlspecError) as raised:
        backend.write(State.empty("shop", "dev"))
    _assert_mls801_at(raised.value, backend.path)


@pytest.mark.parametrize("kind", SPECIAL)
def test_a_special_or_linked_lock_file_is_mls801_at_the_lock(tmp_path: Path, kind: str) -> None:
    backend = _backend(tmp_path)
    _make(backend.lock_path, kind, _lock_record())
    started = time.monotonic()
    with pytest.raises(
        MlspecError
    ) as raised:  # the dangling link was a RecursionError: lock() retried forever
        backend.lock("plan")
    _assert_mls801_at(raised.value, backend.lock_path)
    assert time.monotonic() - started < 1.0
    assert os.path.lexists(backend.lock_path)  # left for a human: never taken over or removed


def test_the_lock_retries_a_bounded_number_of_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = _backend(tmp_path)
    backend.lock_path.write_bytes(_lock_record())
    # A lock that always seems released between the attempt and the read: no endless recursion.
    monkeypatch.setattr(LocalBackend, "current_lock", lambda self: None)
    with pytest.raises(MlspecError) as raised:
        backend.lock("plan")
    d = raised.value.diagnostics[0]
    assert d.code == "MLS802" and "taken and released 5 times" in d.message, d
    assert d.location is not None and d.location.file == str(backend.lock_path)


def test_state_and_lock_reads_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = _backend(tmp_path)
    monkeypatch.setattr(local_backend, "MAX_STATE_BYTES", 100)
    monkeypatch.setattr(local_backend, "MAX_LOCK_BYTES", 50)
    backend.path.write_bytes(_valid_state() + b" " * 200)
    with pytest.raises(MlspecError, match="larger than 100 bytes") as raised:
        backend.read()
    _assert_mls801_at(raised.value, backend.path)
    backend.lock_path.write_bytes(_lock_record() + b" " * 100)
    with pytest.raises(MlspecError, match="larger than 50 bytes") as raised:
        backend.current_lock()
    _assert_mls801_at(raised.value, backend.lock_path)


def test_a_special_neighbour_state_is_skipped_without_a_hang(tmp_path: Path) -> None:
    backend = _backend(tmp_path)
    other = backend.folder.parent / "old-name"
    other.mkdir()
    os.mkfifo(other / "dev.json")
    assert backend.neighbours() == []


def test_a_planted_temporary_file_link_is_not_written_through(tmp_path: Path) -> None:
    backend = _backend(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (backend.folder / f".dev.json.{os.getpid()}.tmp").symlink_to(victim)
    backend.write(State.empty("shop", "dev"))
    assert victim.read_text() == "precious"
    assert State.from_bytes(backend.path.read_bytes()).project == "shop"


# --- the CLI, end to end -------------------------------------------------------------------------


def _applied(spec: Path) -> Path:
    result = run_cli(["apply", "--env", "dev", "--auto-approve", "-q"], spec.parent)
    assert result.returncode == 0, result.stderr
    return spec.parent / ".mlspec/local/dev/aks/deployment/shop-scoring/properties.json"


def test_plan_refuses_an_object_file_linked_to_the_process_environment(shop: Path) -> None:  # noqa: F811
    properties = _applied(shop)
    properties.unlink()
    properties.symlink_to("/proc/self/environ")
    token = "ghp_SuperSecretTokenValue1234567890abcd"
    out = shop.parent / "p.json"
    for args in (
        ["plan", "--env", "dev"],
        ["plan", "--env", "dev", "--json"],
        ["plan", "--env", "dev", "--out", str(out)],
    ):
        result = run_cli(args, shop.parent, FAKE_CI_TOKEN=token)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert token not in result.stdout + result.stderr
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr
        assert f"{properties}:1:1: error MLS820:" in result.stderr, result.stderr
    assert not out.exists()


def test_state_and_lock_special_files_fail_fast_from_the_cli(shop: Path) -> None:  # noqa: F811
    path = state_file(shop)
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    started = time.monotonic()
    result = run_cli(["plan", "--env", "dev"], shop.parent)
    assert result.returncode == 1 and f"{path}:1:1: error MLS801:" in result.stderr, result.stderr
    assert not path.with_suffix(".lock").exists()  # released, not left behind
    path.unlink()
    path.with_suffix(".lock").symlink_to("/nonexistent")
    result = run_cli(["plan", "--env", "dev"], shop.parent)
    assert result.returncode == 1 and "RecursionError" not in result.stderr, result.stderr
    assert f"{path.with_suffix('.lock')}:1:1: error MLS801:" in result.stderr, result.stderr
    assert time.monotonic() - started < 20


def test_drift_values_are_redacted_in_text_json_and_saved_plans(shop: Path, synthetic: None) -> None:  # noqa: F811
    properties = _applied(shop)
    edited = json.loads(properties.read_text())
    edited["conn"] = "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc123secretkey"
    edited["password"] = "hunter2hunter2"
    edited["url"] = "https://acct.blob.core.windows.net/c?sv=2022&sig=SIGNATURESIGNATURE123"
    properties.write_text(json.dumps(edited))
    out = shop.parent / "p.json"
    texts = [
        run_cli(["plan", "--env", "dev"], shop.parent).stdout,
        run_cli(["plan", "--env", "dev", "--json"], shop.parent).stdout,
    ]
    saved = run_cli(["plan", "--env", "dev", "--out", str(out)], shop.parent)
    assert saved.returncode == 0, saved.stderr
    texts.append(out.read_text())
    for text in texts:
        assert "properties.conn" in text or '"properties.conn"' in text, text[:2000]
        for secret in ("abc123secretkey", "hunter2hunter2", "SIGNATURESIGNATURE123"):
            assert secret not in text
    # The redacted saved plan still applies and puts the object back.
    applied = run_cli(["apply", str(out), "--auto-approve", "-q"], shop.parent)
    assert applied.returncode == 0, applied.stderr
    assert "password" not in json.loads(properties.read_text())
    assert not api_deploy.plan_environment(shop, "dev").plan.has_changes


def test_a_symlinked_state_or_workspace_folder_is_refused_not_followed(tmp_path: Path) -> None:
    import shutil

    from mlspec.diagnostics import MlspecError

    project = tmp_path / "p"
    shutil.copytree(
        Path(__file__).resolve().parents[1] / "compiler" / "data" / "contract",
        project,
        ignore=shutil.ignore_patterns(".mlspec", "build"),
    )
    spec = project / "mlproject.yaml"
    assert api_deploy.apply_environment(spec, "local").ok
    elsewhere = tmp_path / "elsewhere"
    (project / ".mlspec" / "local" / "local" / "aml").rename(elsewhere)
    (project / ".mlspec" / "local" / "local" / "aml").symlink_to(elsewhere)
    with pytest.raises(MlspecError) as raised:
        api_deploy.plan_environment(spec, "local")
    assert "is a symlink: the local workspace must stay inside the project" in str(raised.value)
    before = sorted(p.name for p in elsewhere.rglob("*"))
    with pytest.raises(MlspecError):
        api_deploy.destroy(spec, "local", confirm=lambda plan: True)
    assert sorted(p.name for p in elsewhere.rglob("*")) == before  # nothing deleted through the link
    state = project / ".mlspec" / "state" / "churn"
    state.rename(tmp_path / "state-elsewhere")
    state.symlink_to(tmp_path / "state-elsewhere")
    with pytest.raises(MlspecError) as raised:
        api_deploy.plan_environment(spec, "local", refresh=False)
    assert (
        raised.value.diagnostics[0].code == "MLS801" and "is a symlink" in raised.value.diagnostics[0].message
    )
