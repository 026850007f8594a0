"""The Azure Blob state backend against a real Azurite server (no mock of blob storage)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from mlspec.api import deploy as api_deploy
from mlspec.diagnostics import MlspecError
from mlspec.plan.backends import backend_for
from mlspec.plan.backends import blob as blob_module
from mlspec.plan.lock import LockHeldError
from mlspec.plan.state import State


@pytest.fixture
def config(azurite: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    return {"backend": "azure_blob", "container": f"c{uuid.uuid4().hex[:16]}"}


def _backend(config: dict[str, str]) -> blob_module.BlobBackend:
    backend = backend_for(config, "shop", "dev", Path("."))
    assert isinstance(backend, blob_module.BlobBackend)
    return backend


def test_state_is_written_with_a_backup_of_the_previous_version(config: dict[str, str]) -> None:
    backend = _backend(config)
    assert backend.read() is None
    state = State.empty("shop", "dev")
    state.serial = 1
    backend.write(state)
    state.serial = 2
    backend.write(state)
    fresh = _backend(config)
    assert fresh.read() == state
    backup = fresh.container.get_blob_client("shop/dev.json.backup").download_blob().readall()
    assert State.from_bytes(backup).serial == 1
    assert fresh.description.endswith("/shop/dev.json")


def test_a_write_against_an_etag_someone_else_replaced_is_refused(config: dict[str, str]) -> None:
    first, second = _backend(config), _backend(config)
    state = State.empty("shop", "dev")
    first.read()
    second.read()
    state.serial = 1
    first.write(state)
    with pytest.raises(MlspecError, match="written by someone else"):
        second.write(state)  # it expected no blob at all
    second.read()
    state.serial = 2
    second.write(state)
    with pytest.raises(MlspecError, match="written by someone else"):
        first.write(state)  # its ETag is from serial 1


def test_the_lease_lock_names_its_holder_and_force_unlock_breaks_it(config: dict[str, str]) -> None:
    holder, other = _backend(config), _backend(config)
    info = holder.lock("apply")
    try:
        with pytest.raises(LockHeldError) as raised:
            other.lock("plan")
        assert f"held by {info.who}, operation apply, since {info.created} (lock id {info.id})" in str(
            raised.value
        )
        with pytest.raises(MlspecError, match="does not match"):
            other.force_unlock("nope")
        assert other.force_unlock(info.id).id == info.id
        assert other.current_lock() is None
        other.unlock(other.lock("plan"))
    finally:
        holder.unlock(info)  # its lease was broken: releasing is a quiet no-op
    with pytest.raises(MlspecError, match="no lock"):
        other.force_unlock(info.id)


def test_a_held_lease_is_renewed_in_the_background(
    config: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blob_module, "RENEW_EVERY_SECONDS", 0.05)
    backend = _backend(config)
    info = backend.lock("apply")
    renewals = []
    real_renew = backend._lease.renew
    backend._lease.renew = lambda **kw: renewals.append(1) or real_renew(**kw)
    time.sleep(0.5)
    backend.unlock(info)
    assert len(renewals) >= 2
    assert backend.current_lock() is None


def test_plan_apply_and_destroy_with_the_blob_backend(
    shop: Path, config: dict[str, str], synthetic: None
) -> None:
    shop.write_text(
        shop.read_text() + f"\nstate: {{backend: azure_blob, container: {config['container']}}}\n"
    )
    assert len(api_deploy.plan_environment(shop, "dev").plan.changes) == 11
    assert api_deploy.apply_environment(shop, "dev").ok
    assert not api_deploy.plan_environment(shop, "dev").plan.has_changes
    result = api_deploy.destroy(shop, "dev")
    assert result.ok and result.state_serial == 22
    final = _backend(config).read()
    assert final is not None and final.resources == {} and final.serial == 22
