"""The local provider: materialises resources in .mlspec/local/<env>/, reads them back, idempotently."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlspec.contract.graph import Address
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import MlspecError
from mlspec.providers.base import DeployRequest, Provider
from mlspec.providers.local import LocalProvider
from mlspec.providers.local.workspace import file_hash
from mlspec.providers.registry import provider_for

NOTEBOOK = Address("synapse", "notebook", "features")
FILES = {"synapse/features.json": b'{"cells": []}\n', "synapse/features.py": b"print('hi')\n"}


def _request(
    address: Address = NOTEBOOK, properties: object = None, files: dict[str, bytes] | None = None
) -> DeployRequest:
    files = FILES if files is None else files
    return DeployRequest(
        address=address,
        provider_type="Microsoft.Synapse/workspaces/notebooks",
        payload=Payload(
            {"cells": []} if properties is None else properties,
            {p: file_hash(c) for p, c in list(files.items())[1:]},
            "sha256:x",
        ),
        files=files,
        primary_file=next(iter(files), ""),
    )


def _state(request: DeployRequest, provider_id: str) -> ResourceState:
    return ResourceState(request.provider_type, request.payload, provider_id)


def test_create_materialises_properties_files_and_metadata(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path, "dev")
    result = provider.create(_request())
    folder = tmp_path / ".mlspec/local/dev/synapse/notebook/features"
    assert result.provider_id == ".mlspec/local/dev/synapse/notebook/features"
    assert result.outputs == {"path": str(folder)}
    assert json.loads((folder / "properties.json").read_text()) == {"cells": []}
    assert (folder / "files/synapse/features.py").read_bytes() == FILES["synapse/features.py"]
    meta = json.loads((folder / "resource.json").read_text())
    assert meta["address"] == str(NOTEBOOK) and meta["primary"] == "synapse/features.json"
    assert (
        provider.describe(NOTEBOOK, result)
        == "Synapse notebook registered at .mlspec/local/dev/synapse/notebook/features"
    )


def test_read_returns_what_is_on_disk_in_payload_shape(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path, "dev")
    request = _request()
    current = _state(request, provider.create(request).provider_id)
    live = provider.read(NOTEBOOK, current)
    assert live is not None and live.payload.content() == request.payload.content()


def test_hand_edits_of_properties_attachments_or_the_primary_file_show_in_read(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path, "dev")
    request = _request()
    current = _state(request, provider.create(request).provider_id)
    folder = tmp_path / current.provider_id
    (folder / "properties.json").write_text('{"cells": [1]}')
    (folder / "files/synapse/features.py").write_text("print('edited')\n")
    (folder / "files/synapse/features.json").write_text("{}\n")
    live = provider.read(NOTEBOOK, current)
    assert live is not None
    assert live.payload.properties == {"cells": [1]}
    assert live.attachments["synapse/features.py"] == file_hash(b"print('edited')\n")
    assert live.attachments["synapse/features.json"] == file_hash(b"{}\n")
    (folder / "properties.json").write_text("{not json")
    broken = provider.read(NOTEBOOK, current)
    assert broken is not None and broken.payload.properties == "{not json"


def test_every_operation_is_idempotent(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path, "dev")
    request = _request()
    first = provider.create(request)
    assert provider.create(request) == first  # a rerun after a crash adopts the same object
    current = _state(request, first.provider_id)
    updated = _request(properties={"cells": ["x"]}, files={"synapse/features.json": b"{}\n"})
    assert provider.update(updated, current) == first
    folder = tmp_path / first.provider_id
    assert not (folder / "files/synapse/features.py").exists()  # files no longer shipped are gone
    provider.delete(NOTEBOOK, current)
    provider.delete(NOTEBOOK, current)
    assert not folder.exists() and provider.read(NOTEBOOK, current) is None
    assert [p.name for p in folder.parent.iterdir()] == []  # no staging leftovers


def test_a_serving_deployment_records_a_stable_local_url(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path, "dev")
    address = Address("aks", "deployment", "churn-scoring")
    first = provider.create(_request(address, files={}))
    assert first.outputs["url"].startswith("http://127.0.0.1:")
    assert (
        LocalProvider(tmp_path / "elsewhere", "dev").create(_request(address, files={})).outputs["url"]
        == first.outputs["url"]
    )
    assert "serving URL http://127.0.0.1:" in provider.describe(address, first)


def test_a_provider_id_outside_the_workspace_is_refused(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path, "dev")
    (tmp_path / "precious").mkdir()
    current = _state(_request(), "precious")
    with pytest.raises(MlspecError, match="outside the local workspace"):
        provider.delete(NOTEBOOK, current)
    with pytest.raises(MlspecError, match="outside the local workspace"):
        provider.read(NOTEBOOK, _state(_request(), ".mlspec/local/dev/../../../precious"))
    assert (tmp_path / "precious").is_dir()


def test_the_registry_picks_local_and_refuses_what_azure_cannot_deploy(tmp_path: Path) -> None:
    provider: Provider = provider_for("local", tmp_path, "dev")
    assert provider.name == "local"
    kinds = ["arm:Microsoft.Insights/actionGroups", "kubernetes:batch/v1/CronJob", "databricks:job"]
    with pytest.raises(MlspecError) as raised:
        provider_for("azure", tmp_path, "prod", provider_types=kinds)
    [refused] = raised.value.diagnostics
    assert refused.code == "MLS810"
    assert refused.message == (
        "the Azure provider cannot deploy 2 kind(s) of this build yet: databricks:job, kubernetes:batch/v1/CronJob"
    )
    assert refused.path == ("environments", "prod", "provider")
    with pytest.raises(MlspecError) as nowhere:  # deployable kinds, but the manifest names no subscription
        provider_for("azure", tmp_path, "prod", provider_types=kinds[:1], workspace={})
    assert nowhere.value.diagnostics[0].code == "MLS815"
    with pytest.raises(MlspecError, match="unknown provider 'gcp'"):
        provider_for("gcp", tmp_path, "prod")


def _tree(folder: Path) -> dict[str, bytes | str]:
    """Every entry below ``folder``: a file's bytes, a link's target, a folder as ``"dir"``."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[name] = f"-> {path.readlink()}"
        elif path.is_dir():
            found[name] = "dir"
        else:
            found[name] = path.read_bytes()
    return found


@pytest.mark.parametrize("bookkeeping", ["resource.json removed", "resource.json from another hash scheme"])
def test_create_adopts_an_identical_object_whatever_its_bookkeeping_says(
    tmp_path: Path, bookkeeping: str
) -> None:
    provider = LocalProvider(tmp_path, "dev")
    request = _request()
    first = provider.create(request)
    meta_file = tmp_path / first.provider_id / "resource.json"
    if bookkeeping == "resource.json removed":
        meta_file.unlink()
    else:
        meta = json.loads(meta_file.read_text())
        meta_file.write_text(json.dumps({**meta, "hash": "sha1:older", "files": {}}))
    again = LocalProvider(tmp_path, "dev").create(request)
    assert again == first
    repaired = json.loads(meta_file.read_text())
    assert repaired["hash"] == request.payload.hash
    assert repaired["files"] == {path: file_hash(content) for path, content in FILES.items()}


_CHANGES = {
    "other properties": (
        lambda folder: (folder / "properties.json").write_text('{"cells": ["x"]}'),
        "its properties differ",
    ),
    "1 where the build has true": (
        lambda folder: (folder / "properties.json").write_text('{"cells": [], "enabled": 1}'),
        "its properties differ",
    ),
    "an attachment edited": (
        lambda folder: (folder / "files/synapse/features.py").write_text("print('mine')\n"),
        "its file synapse/features.py differs",
    ),
    "an attachment removed": (
        lambda folder: (folder / "files/synapse/features.py").unlink(),
        "it lacks the file synapse/features.py",
    ),
    "a file added": (
        lambda folder: (folder / "files/synapse/notes.md").write_text("mine\n"),
        "it has the file synapse/notes.md, which this build does not ship",
    ),
    "another provider type": (
        lambda folder: (folder / "resource.json").write_text(
            json.dumps({**json.loads((folder / "resource.json").read_text()), "provider_type": "Other/type"})
        ),
        "its provider type is 'Other/type'",
    ),
}


@pytest.mark.parametrize("change", sorted(_CHANGES))
def test_create_refuses_a_different_object_at_its_address_and_leaves_it_alone(
    tmp_path: Path, change: str
) -> None:
    """Terraform's "already exists": the object is not this state's to overwrite (a `state rm`, a lost
    state, a hand-made folder); the error says what differs and how to go on."""
    request = _request(properties={"cells": [], "enabled": True})
    first = LocalProvider(tmp_path, "dev").create(request)
    folder = tmp_path / first.provider_id
    edit, expected = _CHANGES[change]
    edit(folder)
    before = _tree(folder.parent)
    with pytest.raises(MlspecError) as refused:
        LocalProvider(tmp_path, "dev").create(request)
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.code == "MLS820"
    assert diagnostic.message.startswith(f"{NOTEBOOK}: another object already exists at {first.provider_id}")
    assert expected in diagnostic.message
    assert diagnostic.hint is not None and f"delete the folder {folder} and apply again" in diagnostic.hint
    assert _tree(folder.parent) == before


def test_a_refused_create_lists_at_most_three_differences(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path, "dev")
    folder = tmp_path / provider.create(_request()).provider_id
    for name in ("a", "b", "c", "d"):
        (folder / f"files/{name}.txt").write_text(name)
    with pytest.raises(MlspecError) as refused:
        provider.create(_request())
    message = refused.value.diagnostics[0].message
    assert "the file a.txt" in message and "the file c.txt" in message
    assert "d.txt" not in message and "; and 1 more)" in message


@pytest.mark.parametrize("existing", ["nothing", "the same object", "the previous version"])
def test_create_after_a_crash_mid_write_clears_the_leftovers(tmp_path: Path, existing: str) -> None:
    """A SIGKILL inside a write leaves only dot-named siblings (the staging copy, half written, or the
    retired old folder): never a half object at the address, so the retried create goes ahead."""
    provider = LocalProvider(tmp_path, "dev")
    request = _request()
    folder = tmp_path / ".mlspec/local/dev/synapse/notebook/features"
    if existing != "nothing":
        provider.create(request)
    if existing == "the previous version":  # killed between retiring the old folder and the swap
        folder.rename(folder.with_name(".features.old-4242-1"))
    staging = folder.with_name(".features.new-4242-1")
    (staging / "files/synapse").mkdir(parents=True)
    (staging / "files/synapse/features.json").write_bytes(b'{"cel')  # cut short by the kill
    result = LocalProvider(tmp_path, "dev").create(request)
    assert result.provider_id == ".mlspec/local/dev/synapse/notebook/features"
    assert [p.name for p in folder.parent.iterdir()] == ["features"]
    live = provider.read(NOTEBOOK, _state(request, result.provider_id))
    assert live is not None and live.payload.content() == {
        "properties": {"cells": []},
        "attachments": request.payload.attachments,
    }


@pytest.mark.parametrize("leftover", ["an empty folder", "a folder without properties.json", "a file"])
def test_create_writes_over_what_read_calls_no_object(tmp_path: Path, leftover: str) -> None:
    """What ``read`` reports as gone, plan creates again ("deleted outside mlspec"): create must not
    refuse it."""
    folder = tmp_path / ".mlspec/local/dev/synapse/notebook/features"
    folder.parent.mkdir(parents=True)
    if leftover == "a file":
        folder.write_text("stray")
    else:
        folder.mkdir()
        if leftover == "a folder without properties.json":
            (folder / "resource.json").write_text("{}")
    provider = LocalProvider(tmp_path, "dev")
    request = _request()
    current = _state(request, ".mlspec/local/dev/synapse/notebook/features")
    assert provider.read(NOTEBOOK, current) is None
    provider.create(request)
    assert provider.read(NOTEBOOK, current) is not None


def test_an_untouched_object_is_read_back_without_reading_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh of thousands of objects must not read and hash every file: the signatures recorded
    at write time vouch for an untouched one, and the live object carries the payload hash."""
    from mlspec.providers.local import workspace

    provider = LocalProvider(tmp_path, "dev")
    request = _request()
    result = provider.create(request)
    read: list[str] = []
    real_read = workspace._read

    def counting_read(path: Path | str) -> bytes | None:
        read.append(os.path.basename(path))
        return real_read(path)

    monkeypatch.setattr(workspace, "_read", counting_read)
    live = provider.read(NOTEBOOK, _state(request, result.provider_id))
    assert live is not None and live.hash == request.payload.hash
    assert read == ["resource.json"]
    assert live.payload == Payload(
        {"cells": []}, request.payload.attachments, request.payload.hash
    )  # read on asking
    assert "properties.json" in read


def test_an_edit_that_keeps_size_and_modification_time_is_still_drift(tmp_path: Path) -> None:
    import os

    provider = LocalProvider(tmp_path, "dev")
    request = _request()
    result = provider.create(request)
    code = tmp_path / ".mlspec/local/dev/synapse/notebook/features/files/synapse/features.py"
    before = os.stat(code)
    code.write_bytes(b"print('HI')\n")  # same length
    os.utime(code, ns=(before.st_atime_ns, before.st_mtime_ns))  # the change time cannot be set back
    live = provider.read(NOTEBOOK, _state(request, result.provider_id))
    assert live is not None and not live.hash
    assert live.attachments["synapse/features.py"] == file_hash(b"print('HI')\n")
