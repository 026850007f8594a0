"""The state document and the local backend: atomic writes with a backup, conditional writes, locks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlspec.contract.graph import Address
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import MlspecError
from mlspec.plan.backends import backend_for
from mlspec.plan.backends.local import LocalBackend
from mlspec.plan.lock import LockHeldError
from mlspec.plan.state import STATE_VERSION, State


def _entry(value: int = 1) -> ResourceState:
    return ResourceState(
        "t",
        Payload({"v": value}, {"a.py": "sha256:x"}, f"sha256:{value}"),
        "id",
        {"path": "p"},
        [Address("x", "y", "z")],
    )


def test_state_round_trips_through_json_with_documented_keys() -> None:
    state = State.empty("shop", "dev")
    state.resources[Address("synapse", "notebook", "a")] = _entry()
    data = json.loads(state.to_bytes())
    assert list(data) == ["version", "lineage", "serial", "project", "environment", "resources"]
    assert data["version"] == STATE_VERSION
    assert set(data["resources"]["synapse.notebook.a"]) == {
        "provider_type",
        "properties",
        "attachments",
        "hash",
        "provider_id",
        "outputs",
        "depends_on",
    }
    assert State.from_bytes(state.to_bytes()) == state


def test_lineage_is_a_fresh_uuid_per_new_state() -> None:
    assert State.empty("a", "b").lineage != State.empty("a", "b").lineage


def test_unparseable_or_foreign_state_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MlspecError, match="not valid JSON"):
        State.from_bytes(b"{nope", "s.json")
    with pytest.raises(MlspecError, match="state version 99"):
        State.from_bytes(json.dumps({"version": 99}).encode(), "s.json")


def test_local_backend_writes_atomically_and_keeps_the_previous_version(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "shop", "dev")
    assert backend.read() is None
    state = State.empty("shop", "dev")
    state.serial = 1
    backend.write(state)
    assert not backend.backup_path.exists()
    state.resources[Address("a", "b", "c")] = _entry()
    state.serial = 2
    backend.write(state)
    assert json.loads(backend.backup_path.read_text())["serial"] == 1
    assert json.loads(backend.path.read_text())["serial"] == 2
    assert [p.name for p in backend.folder.iterdir() if p.name.endswith(".tmp")] == []


def test_local_backend_refuses_to_overwrite_a_state_written_by_someone_else(tmp_path: Path) -> None:
    first, second = LocalBackend(tmp_path, "dev"), LocalBackend(tmp_path, "dev")
    state = State.empty("shop", "dev")
    first.read()
    second.read()
    state.serial = 1
    first.write(state)
    with pytest.raises(MlspecError, match="written by someone else"):
        second.write(state)


def test_second_lock_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    first, second = LocalBackend(tmp_path, "dev"), LocalBackend(tmp_path, "dev")
    info = first.lock("apply")
    with pytest.raises(LockHeldError) as raised:
        second.lock("plan")
    message = raised.value.diagnostics[0].message
    assert f"pid {os.getpid()}" in message and "operation apply" in message and info.id in message
    assert f"force-unlock {info.id} --env dev" in (raised.value.diagnostics[0].hint or "")
    first.unlock(info)
    second.unlock(second.lock("plan"))


def test_force_unlock_needs_the_exact_lock_id(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, "dev")
    info = backend.lock("apply")
    with pytest.raises(MlspecError, match="does not match"):
        backend.force_unlock("wrong")
    assert backend.force_unlock(info.id).id == info.id
    assert backend.current_lock() is None
    with pytest.raises(MlspecError, match="no lock"):
        backend.force_unlock(info.id)


def test_default_local_state_lives_under_the_project(tmp_path: Path) -> None:
    backend = backend_for({}, "shop", "dev", tmp_path)
    assert backend.description == str(tmp_path / ".mlspec" / "state" / "shop" / "dev.json")
    with pytest.raises(MlspecError, match="unknown state backend"):
        backend_for({"backend": "s3"}, "shop", "dev", tmp_path)


def test_a_competing_locker_always_sees_who_holds_the_lock(tmp_path: Path) -> None:
    """The lock file appears with its contents at once: no loser ever reads an empty lock."""
    import threading

    from mlspec.plan.lock import LockHeldError

    for _ in range(20):
        backends = [LocalBackend(tmp_path / "race", "dev") for _ in range(6)]
        start = threading.Barrier(len(backends))
        won: list[object] = []
        holders: list[str] = []

        def contend(
            backend: LocalBackend,
            start: threading.Barrier = start,
            won: list[object] = won,
            holders: list[str] = holders,
        ) -> None:
            start.wait()
            try:
                won.append(backend.lock("apply"))
            except LockHeldError as refused:
                holders.append(refused.diagnostics[0].message)

        threads = [threading.Thread(target=contend, args=(b,)) for b in backends]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1
        assert len(holders) == len(backends) - 1
        assert all("unreadable" not in message and "pid" in message for message in holders), holders
        backends[0].force_unlock(won[0].id)  # type: ignore[attr-defined]
