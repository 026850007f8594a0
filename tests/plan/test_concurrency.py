"""Two applies started together: exactly one proceeds, the other fails at once naming the holder.
Once on the local state file and once on Azure Blob Storage (a real Azurite server)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from mlspec.plan.state import State
from plan.conftest import read_state, run_cli, synthetic_cli
from plan.crash import start_paused, wait_for_pause


def _race(project: Path, **env: str) -> None:
    command = synthetic_cli("apply", "--env", "dev", "--auto-approve")
    # each holds the lock at least 3 s once it has it (after its first resource), so the runs overlap
    started = time.monotonic()
    first, second = (start_paused(command, project, 1, seconds=3, **env) for _ in range(2))
    ended: dict[int, float] = {}
    while len(ended) < 2 and time.monotonic() - started < 120:
        for process in (first, second):
            if process.pid not in ended and process.poll() is not None:
                ended[process.pid] = time.monotonic() - started
        time.sleep(0.02)
    results = {}
    for process in (first, second):
        _, err = process.communicate(timeout=120)
        results[process.pid] = (process.returncode, err, ended.get(process.pid, 1e9))
    codes = sorted(code for code, _, _ in results.values())
    assert codes == [0, 1], results
    winner = next(pid for pid, (code, _, _) in results.items() if code == 0)
    _, loser_err, loser_time = next(r for pid, r in results.items() if pid != winner)
    assert "is locked: held by" in loser_err and f"pid {winner}, operation apply" in loser_err, loser_err
    assert "error MLS802" in loser_err
    assert loser_time < results[winner][2]  # it did not wait for the lock


def test_two_local_applies_exactly_one_proceeds(shop: Path) -> None:
    _race(shop.parent)
    assert len(read_state(shop)["resources"]) == 11  # type: ignore[arg-type]
    assert not (shop.parent / ".mlspec/state/shop/dev.lock").exists()


def test_two_applies_against_azure_blob_exactly_one_proceeds(shop: Path, azurite: str) -> None:
    container = f"state-{uuid.uuid4().hex[:12]}"
    shop.write_text(
        shop.read_text() + f"\nstate: {{backend: azure_blob, container: {container}, prefix: teams/shop}}\n"
    )
    _race(shop.parent, AZURE_STORAGE_CONNECTION_STRING=azurite)
    assert not (shop.parent / ".mlspec/state").exists()  # the state went to the blob, not to a file

    from azure.storage.blob import BlobServiceClient

    blobs = BlobServiceClient.from_connection_string(azurite).get_container_client(container)
    state = State.from_bytes(blobs.download_blob("teams/shop/dev.json").readall())
    assert len(state.resources) == 11 and state.serial == 11
    # One document write at the end of the apply (each resource was a journal block): nothing preceded
    # it to back up, and the journal was folded in and removed.
    names = {blob.name for blob in blobs.list_blobs(name_starts_with="teams/shop/")}
    assert names == {"teams/shop/dev.json", "teams/shop/dev.lock"}, names
    again = run_cli(
        ["plan", "--env", "dev", "--detailed-exitcode"], shop.parent, AZURE_STORAGE_CONNECTION_STRING=azurite
    )
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_refreshed_plan_fails_at_once_while_an_apply_holds_the_lock(shop: Path) -> None:
    holder = start_paused(
        synthetic_cli("apply", "--env", "dev", "--auto-approve"), shop.parent, 1, seconds=30
    )
    try:
        wait_for_pause(holder)
        blocked = run_cli(["plan", "--env", "dev"], shop.parent)
        assert blocked.returncode == 1 and f"pid {holder.pid}, operation apply" in blocked.stderr
    finally:
        holder.kill()
        holder.wait()
