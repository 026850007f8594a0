"""The local provider: materialises resources in .mlspec/local/<env>/, reads them back, idempotently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlspec.compiler.graph import Address
from mlspec.diagnostics import MlspecError
from mlspec.plan.state import ResourceState
from mlspec.providers.base import DeployRequest, Provider
from mlspec.providers.local import LocalProvider
from mlspec.providers.local.workspace import file_hash
from mlspec.providers.registry import AZURE_UNAVAILABLE, provider_for

NOTEBOOK = Address("synapse", "notebook", "features")
FILES = {"synapse/features.json": b'{"cells": []}\n', "synapse/features.py": b"print('hi')\n"}


def _request(
    address: Address = NOTEBOOK, properties: object = None, files: dict[str, bytes] | None = None
) -> DeployRequest:
    files = FILES if files is None else files
    return DeployRequest(
        address=address,
        provider_type="Microsoft.Synapse/workspaces/notebooks",
        properties={"cells": []} if properties is None else properties,
        attachments={p: file_hash(c) for p, c in list(files.items())[1:]},
        hash="sha256:x",
        files=files,
        primary_file=next(iter(files), ""),
    )


def _state(request: DeployRequest, provider_id: str) -> ResourceState:
    return ResourceState(
        request.provider_type, request.properties, request.attachments, request.hash, provider_id
    )


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
    assert live is not None and live.payload == {
        "properties": request.properties,
        "attachments": request.attachments,
    }


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
    assert live.properties == {"cells": [1]}
    assert live.attachments["synapse/features.py"] == file_hash(b"print('edited')\n")
    assert live.attachments["synapse/features.json"] == file_hash(b"{}\n")
    (folder / "properties.json").write_text("{not json")
    broken = provider.read(NOTEBOOK, current)
    assert broken is not None and broken.properties == "{not json"


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


def test_the_registry_picks_local_and_refuses_azure_honestly(tmp_path: Path) -> None:
    provider: Provider = provider_for("local", tmp_path, "dev")
    assert provider.name == "local"
    with pytest.raises(MlspecError) as raised:
        provider_for("azure", tmp_path, "prod")
    assert raised.value.diagnostics[0].message == AZURE_UNAVAILABLE
    assert AZURE_UNAVAILABLE == (
        "the Azure provider is not available in this version; "
        "use --env local or an environment with provider: local"
    )
    with pytest.raises(MlspecError, match="unknown provider 'gcp'"):
        provider_for("gcp", tmp_path, "prod")
