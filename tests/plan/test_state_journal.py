"""The state journal: one durable record per change, the document written once per apply, replayed
after a crash (a cut-short last line dropped, a journal already folded in ignored), on both backends."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from mlspec.api import deploy as api_deploy
from mlspec.contract.graph import Address
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import MlspecError
from mlspec.plan import journal
from mlspec.plan.backends import backend_for
from mlspec.plan.backends import blob as blob_module
from mlspec.plan.backends.local import LocalBackend
from mlspec.plan.state import State, StateChange, StateConflictError
from plan.conftest import state_file


def _entry(n: int) -> ResourceState:
    return ResourceState("synapse.notebook", Payload({"n": n}, {}, f"sha256:{n:064d}"), f"id-{n}")


def _changes(backend: LocalBackend | blob_module.BlobBackend, state: State, count: int) -> None:
    for n in range(count):
        change = StateChange(state.serial + 1, Address("synapse", "notebook", f"n{n}"), _entry(n))
        change.apply_to(state)
        backend.append(state, change)


@pytest.fixture
def local(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "state" / "shop", "dev")


def test_appended_changes_are_read_back_without_the_document_being_written(local: LocalBackend) -> None:
    state = local.read() or State.empty("shop", "dev")
    _changes(local, state, 3)
    assert not local.path.exists()  # nothing but the journal so far
    lines = local.journal_path.read_bytes().splitlines()
    assert len(lines) == 4 and json.loads(lines[0])["base_serial"] == 0
    again = LocalBackend(local.folder, "dev").read()
    assert again == state and again.serial == 3
    local.write(state)  # the end of the apply: folded in, journal gone
    assert not local.journal_path.exists()
    assert State.from_bytes(local.path.read_bytes()) == state


def test_a_cut_short_last_line_is_dropped_and_the_next_append_continues_after_the_last_whole_one(
    local: LocalBackend,
) -> None:
    state = local.read() or State.empty("shop", "dev")
    _changes(local, state, 2)
    local.write(state)
    _changes(local, state, 2)  # serials 3 and 4, then a crash in the middle of writing 5:
    with local.journal_path.open("ab") as handle:
        handle.write(b'{"serial":5,"set":"synapse.notebook.x","ent')
    rerun = LocalBackend(local.folder, "dev")
    recovered = rerun.read()
    assert recovered is not None and recovered.serial == 4 and len(recovered.resources) == 2
    change = StateChange(5, Address("synapse", "notebook", "late"), _entry(9))
    change.apply_to(recovered)
    rerun.append(recovered, change)
    text = rerun.journal_path.read_bytes()
    assert b"ent\n" not in text and b'"ent' not in text.replace(b'"entry"', b"")  # the torn tail is gone
    final = LocalBackend(local.folder, "dev").read()
    assert (
        final is not None and final.serial == 5 and Address("synapse", "notebook", "late") in final.resources
    )


def test_a_journal_already_folded_into_the_document_is_ignored(local: LocalBackend) -> None:
    state = local.read() or State.empty("shop", "dev")
    _changes(local, state, 2)
    leftover = local.journal_path.read_bytes()
    local.write(state)
    local.journal_path.write_bytes(leftover)  # the crash came between the document write and the unlink
    again = LocalBackend(local.folder, "dev").read()
    assert again == state  # not applied twice (serial 2, not 4)


def test_a_damaged_record_in_the_middle_is_a_located_error_not_a_silent_loss(local: LocalBackend) -> None:
    state = local.read() or State.empty("shop", "dev")
    _changes(local, state, 3)
    lines = local.journal_path.read_bytes().split(b"\n")
    lines[2] = b"{not json"
    local.journal_path.write_bytes(b"\n".join(lines))
    with pytest.raises(MlspecError) as caught:
        LocalBackend(local.folder, "dev").read()
    diagnostic = caught.value.diagnostics[0]
    assert diagnostic.code == "MLS801" and "journal line is not JSON" in diagnostic.message
    assert diagnostic.location is not None and diagnostic.location.file == str(local.journal_path)
    assert diagnostic.hint is not None and "remove it" in diagnostic.hint


def test_records_out_of_sequence_are_refused(local: LocalBackend) -> None:
    state = local.read() or State.empty("shop", "dev")
    _changes(local, state, 2)
    lines = local.journal_path.read_bytes().split(b"\n")
    lines[1], lines[2] = lines[2], lines[1]
    local.journal_path.write_bytes(b"\n".join(lines))
    with pytest.raises(MlspecError, match="expected 1"):
        LocalBackend(local.folder, "dev").read()


def test_a_large_journal_is_folded_into_the_document_so_each_change_costs_a_constant_share(
    local: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "COMPACT_MIN_BYTES", 2_000)
    writes: list[int] = []
    real_write = LocalBackend.write

    def counting_write(self: LocalBackend, state: State) -> None:
        writes.append(state.serial)
        real_write(self, state)

    monkeypatch.setattr(LocalBackend, "write", counting_write)
    state = local.read() or State.empty("shop", "dev")
    _changes(local, state, 200)
    # Folded whenever the journal outgrew the document: the document grows by about the journal's size
    # between folds, so the rewrites grow with the logarithm of the changes (200 changes: a handful).
    assert 1 < len(writes) <= 12, writes
    if local.journal_path.exists():
        assert local.journal_path.stat().st_size <= max(2_000, local.path.stat().st_size) + 400
    assert LocalBackend(local.folder, "dev").read() == state


def test_a_document_replaced_under_an_open_journal_is_a_conflict(local: LocalBackend) -> None:
    state = local.read() or State.empty("shop", "dev")
    _changes(local, state, 1)
    other = State.empty("shop", "dev")
    other.serial = 7
    local.path.write_bytes(other.to_bytes())  # another process, after a force-unlock
    with pytest.raises(StateConflictError, match="written by someone else"):
        _changes(local, state, 1)


def test_a_symlinked_journal_is_refused(local: LocalBackend, tmp_path: Path) -> None:
    state = local.read() or State.empty("shop", "dev")
    _changes(local, state, 1)
    local.write(state)
    outside = tmp_path / "elsewhere.journal"
    outside.write_bytes(b"")
    os.symlink(outside, local.journal_path)
    with pytest.raises(MlspecError, match="cannot read"):
        LocalBackend(local.folder, "dev").read()


def test_an_apply_writes_the_state_document_once_whatever_the_number_of_resources(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[int] = []
    real_write = LocalBackend.write

    def counting_write(self: LocalBackend, state: State) -> None:
        writes.append(len(state.resources))
        real_write(self, state)

    monkeypatch.setattr(LocalBackend, "write", counting_write)
    result = api_deploy.apply_environment(shop, "dev")
    assert result.ok and len(result.outcomes) > 30
    assert writes == [len(result.outcomes)]
    assert not state_file(shop).with_suffix(".journal").exists()


def test_a_no_change_apply_folds_in_the_journal_an_interrupted_apply_left(shop: Path) -> None:
    assert api_deploy.apply_environment(shop, "dev").ok
    document = state_file(shop)
    before = State.from_bytes(document.read_bytes())
    backend = LocalBackend(document.parent, "dev")
    state = backend.read()
    assert state is not None
    # An apply that recorded a rename in its journal and was killed before writing the document.
    address = sorted(state.resources)[0]
    change = StateChange(state.serial + 1, address, state.resources[address])
    change.apply_to(state)
    backend.append(state, change)
    assert State.from_bytes(document.read_bytes()).serial == before.serial
    result = api_deploy.apply_environment(shop, "dev")
    assert result.ok and not result.outcomes
    assert State.from_bytes(document.read_bytes()).serial == before.serial + 1
    assert not document.with_suffix(".journal").exists()


# --- the Azure Blob backend (Azurite) --------------------------------------------------------


@pytest.fixture
def blob(azurite: str, monkeypatch: pytest.MonkeyPatch) -> blob_module.BlobBackend:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    backend = backend_for(
        {"backend": "azure_blob", "container": f"j{uuid.uuid4().hex[:16]}"}, "shop", "dev", Path(".")
    )
    assert isinstance(backend, blob_module.BlobBackend)
    return backend


def _names(backend: blob_module.BlobBackend) -> set[str]:
    return {b.name for b in backend.container.list_blobs()}


def test_blob_changes_are_journal_blocks_replayed_by_the_next_reader_and_folded_in(
    blob: blob_module.BlobBackend,
) -> None:
    state = blob.read() or State.empty("shop", "dev")
    _changes(blob, state, 3)
    assert _names(blob) == {"shop/dev.journal"}  # no document yet: the first apply was "killed" here
    properties = blob.container.get_blob_client("shop/dev.journal").get_blob_properties()
    assert properties.blob_type == "AppendBlob"
    rerun = blob_module.BlobBackend(blob.container, "shop", "dev")
    recovered = rerun.read()
    assert recovered == state and recovered.serial == 3
    _changes(rerun, recovered, 1)  # the rerun continues the same journal
    rerun.fold_journal(recovered)
    assert _names(blob) == {"shop/dev.json"}
    final = blob_module.BlobBackend(blob.container, "shop", "dev").read()
    assert final == recovered and final.serial == 4


def test_a_blob_journal_appended_to_by_someone_else_is_a_conflict(blob: blob_module.BlobBackend) -> None:
    state = blob.read() or State.empty("shop", "dev")
    _changes(blob, state, 1)
    blob.container.get_blob_client("shop/dev.journal").append_block(b"{}\n")  # another writer
    with pytest.raises(StateConflictError, match="written by someone else"):
        _changes(blob, state, 1)


def test_a_folded_blob_journal_left_behind_is_ignored(blob: blob_module.BlobBackend) -> None:
    state = blob.read() or State.empty("shop", "dev")
    _changes(blob, state, 2)
    leftover = blob.container.get_blob_client("shop/dev.journal").download_blob().readall()
    blob.write(state)
    assert "shop/dev.journal" not in _names(blob)
    blob.container.get_blob_client("shop/dev.journal").upload_blob(leftover, blob_type="AppendBlob")
    assert blob_module.BlobBackend(blob.container, "shop", "dev").read() == state


# --- found by review: a second writer, a failed write, moves that do not apply, a journal-only owner ------


def test_a_second_writer_appending_to_the_same_journal_is_a_conflict(local: LocalBackend) -> None:
    state = local.read() or State.empty("shop", "dev")
    _changes(local, state, 2)
    other = LocalBackend(local.folder, "dev")  # after a force-unlock, another apply
    theirs = other.read()
    assert theirs is not None
    _changes(other, theirs, 1)
    with pytest.raises(StateConflictError, match="another process appended"):
        _changes(local, state, 1)
    assert LocalBackend(local.folder, "dev").read() == theirs  # still one readable story


def test_a_failed_journal_write_leaves_no_part_line_and_the_apply_records_nothing_more(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlspec.plan.backends import local as local_module

    real = local_module._write_all
    calls: list[int] = []

    def failing_write(fd: int, data: bytes) -> None:
        calls.append(len(data))
        if len(calls) == 4:  # the header, two records, then a full disk in the middle of the third
            os.write(fd, data[: len(data) // 2])
            raise OSError(28, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(local_module, "_write_all", failing_write)
    result = api_deploy.apply_environment(shop, "dev", parallelism=1)
    assert not result.ok
    [failure] = result.failures
    assert "cannot record the change in the state" in failure.error and "No space left" in failure.error
    assert result.skipped  # nothing more was started: it could not have been recorded either
    journal_file = state_file(shop).with_suffix(".journal")
    assert journal_file.read_bytes().endswith(b"\n")  # the half line was cut off again
    recovered = LocalBackend(journal_file.parent, "dev").read()
    assert recovered is not None and recovered.serial == 2 and len(recovered.resources) == 2
    monkeypatch.setattr(local_module, "_write_all", real)
    assert api_deploy.apply_environment(shop, "dev").ok  # a rerun converges


def test_a_journal_move_of_an_address_the_state_lacks_is_a_located_error(local: LocalBackend) -> None:
    state = local.read() or State.empty("shop", "dev")
    _changes(local, state, 1)
    with local.journal_path.open("ab") as handle:
        handle.write(b'{"serial":2,"moves":[["synapse.notebook.nope","synapse.notebook.x"]]}\n')
    with pytest.raises(MlspecError) as caught:
        LocalBackend(local.folder, "dev").read()
    assert caught.value.diagnostics[0].code == "MLS801"
    assert "moves an address the state does not hold" in caught.value.diagnostics[0].message


def test_a_renamed_project_whose_first_apply_left_only_a_journal_still_owns_its_objects(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = LocalBackend(state_file(shop).parent, "dev")
    state = State.empty("shop", "dev")
    _changes(backend, state, 2)  # killed before the end: no document, a journal
    assert not state_file(shop).exists()
    shop.write_text(shop.read_text().replace("name: shop", "name: shop2", 1))
    with pytest.raises(MlspecError) as caught:
        api_deploy.plan_environment(shop, "dev")
    assert caught.value.diagnostics[0].code == "MLS808"
