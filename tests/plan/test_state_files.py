"""Damaged or hostile state and lock files: an MLS801 located at the file, never an internal error;
a lock's holder fields printed escaped."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlspec.api import deploy as api_deploy
from mlspec.contract.graph import Address
from mlspec.diagnostics import MlspecError
from mlspec.plan.backends.local import LocalBackend
from mlspec.plan.lock import LockHeldError
from mlspec.plan.state import State
from plan.conftest import run_cli, state_file


def _valid_state() -> dict[str, Any]:
    state = State.empty("shop", "dev")
    state.serial = 3
    return json.loads(state.to_bytes())


def _entry() -> dict[str, Any]:
    return {
        "provider_type": "t",
        "properties": {"a": 1},
        "attachments": {},
        "hash": "sha256:x",
        "provider_id": "",
        "outputs": {},
        "depends_on": [],
    }


def _with(**changes: Any) -> bytes:
    data = _valid_state()
    data.update(changes)
    return json.dumps(data).encode()


def _with_entry(**changes: Any) -> bytes:
    return _with(resources={"aks.deployment.x": {**_entry(), **changes}})


DAMAGED_STATES = {
    "serial beyond a float": _with().replace(b'"serial": 3', b'"serial": 1e999'),
    "serial a string": _with(serial="3"),
    "serial a boolean": _with(serial=True),
    "serial negative": _with(serial=-1),
    "an address key that does not parse": _with(resources={"not-an-address": _entry()}),
    "200k-deep JSON": b'{"version": 1, "resources": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
    "not UTF-8": b'{"version": 1, "project": "\xff\xfe"}',
    "truncated": _with()[:40],
    "a JSON array": b"[1, 2]",
    "project null": _with(project=None),
    "lineage a number": _with(lineage=7),
    "environment a list": _with(environment=["dev"]),
    "resources a list": _with(resources=[]),
    "a resource a string": _with(resources={"aks.deployment.x": "boom"}),
    "attachments a list": _with_entry(attachments=["a"]),
    "attachment hash a number": _with_entry(attachments={"a.py": 1}),
    "depends_on a string": _with_entry(depends_on="aks.deployment.y"),
    "depends_on a bad address": _with_entry(depends_on=["../../x"]),
    "outputs a list": _with_entry(outputs=[1]),
    "provider_type a dict": _with_entry(provider_type={"a": 1}),
    "provider_id a number": _with_entry(provider_id=1),
    "hash null is fine but a list is not": _with_entry(hash=[1]),
    "properties NaN": _with_entry(properties=1.5).replace(b"1.5", b"NaN"),
    "properties -Infinity": _with_entry(properties=1.5).replace(b"1.5", b"-Infinity"),
    "properties 1e999": _with_entry(properties=1.5).replace(b"1.5", b"1e999"),
    "an output of 5000 digits": _with_entry(outputs={"n": 1}).replace(b'"n": 1', b'"n": ' + b"9" * 5000),
}


def assert_located_at(error: MlspecError, path: Path, codes: tuple[str, ...] = ("MLS801",)) -> None:
    assert error.diagnostics, error
    for d in error.diagnostics:
        assert d.code in codes, d
        assert d.location is not None and d.location.file == str(path), d


@pytest.mark.parametrize("name", sorted(DAMAGED_STATES))
def test_a_damaged_state_file_is_mls801_located_at_the_file(tmp_path: Path, name: str) -> None:
    backend = LocalBackend(tmp_path / "shop", "dev")
    backend.folder.mkdir(parents=True)
    backend.path.write_bytes(DAMAGED_STATES[name])
    with pytest.raises(MlspecError) as raised:
        backend.read()
    assert_located_at(raised.value, backend.path)


def test_a_valid_state_with_resources_still_reads(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "shop", "dev")
    backend.folder.mkdir(parents=True)
    backend.path.write_bytes(_with_entry(hash=None, provider_id=None))
    state = backend.read()
    assert state is not None and state.resources[Address("aks", "deployment", "x")].payload.hash == ""


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe\x00garbage",
        b"[1, 2]",
        b'{"id": 1, "who": "x", "operation": "apply", "created": "t"}',
        b"{nope",
        b'{"id": "i", "who": "x", "operation": "apply", "created": "t", "since": NaN}',
    ],
    ids=["not UTF-8", "an array", "an id that is a number", "not JSON", "NaN"],
)
def test_a_damaged_lock_file_is_mls801_located_at_the_lock(tmp_path: Path, content: bytes) -> None:
    backend = LocalBackend(tmp_path / "shop", "dev")
    backend.folder.mkdir(parents=True)
    backend.lock_path.write_bytes(content)
    with pytest.raises(MlspecError) as raised:
        backend.lock("apply")
    assert_located_at(raised.value, backend.lock_path)
    assert backend.lock_path.read_bytes() == content  # never taken over or removed silently


def test_lock_holder_fields_are_printed_escaped(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "shop", "dev")
    backend.folder.mkdir(parents=True)
    hostile = {
        "id": "1234\n\x1b[2K",
        "who": "mallory\x1b[31m\nroot@host pid 1",
        "operation": "apply\x07\r",
        "created": "2026\u202e",
    }
    backend.lock_path.write_text(json.dumps(hostile), encoding="utf-8")
    with pytest.raises(LockHeldError) as raised:
        backend.lock("plan")
    d = raised.value.diagnostics[0]
    for text in (d.message, d.hint or ""):
        assert not any(c in text for c in "\x1b\n\r\x07\u202e"), text
    assert "mallory\\x1b[31m\\nroot@host pid 1" in d.message


def test_the_cli_reports_a_damaged_state_at_the_file_not_as_an_internal_error(shop: Path) -> None:
    path = state_file(shop)
    path.parent.mkdir(parents=True)
    path.write_bytes(DAMAGED_STATES["serial beyond a float"])
    for args in (
        ["plan", "--env", "dev"],
        ["plan", "--env", "dev", "--no-refresh"],
        ["apply", "--env", "dev", "--auto-approve"],
    ):
        result: subprocess.CompletedProcess[str] = run_cli(args, shop.parent)
        assert result.returncode == 1, result.stderr
        assert "internal error" not in result.stderr
        assert "<spec>" not in result.stderr
        assert f"{path}:1:1: error MLS801:" in result.stderr, result.stderr


def test_the_cli_force_unlock_prints_the_removed_holder_escaped(shop: Path) -> None:
    path = state_file(shop).with_suffix(".lock")
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps({"id": "abc", "who": "eve\x1b[2J", "operation": "apply\n", "created": "t"}),
        encoding="utf-8",
    )
    result = run_cli(["force-unlock", "abc", "--env", "dev", "--force"], shop.parent)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "eve\\x1b[2J" in result.stdout
    assert "operation apply\\n," in result.stdout


def test_a_state_entry_the_provider_refuses_is_located_at_the_state(shop: Path, synthetic: None) -> None:
    path = state_file(shop)
    path.parent.mkdir(parents=True)
    path.write_bytes(_with_entry(provider_id="../../../../etc"))
    with pytest.raises(MlspecError) as raised:
        api_deploy.plan_environment(shop, "dev")
    assert_located_at(raised.value, path, ("MLS820",))
