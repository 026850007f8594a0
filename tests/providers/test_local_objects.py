"""The local provider's object files are mlspec's own: a damaged, linked or special one is a located
MLS820 naming the file (never an internal error, a hang or a read of something outside), and a file
path that would leave the object folder is refused before anything is written."""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlspec.contract.graph import Address
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import MlspecError
from mlspec.providers.base import DeployRequest
from mlspec.providers.local import LocalProvider, workspace
from mlspec.providers.local.workspace import file_hash

NOTEBOOK = Address("synapse", "notebook", "features")
FILES = {"synapse/features.json": b'{"cells": []}\n', "synapse/features.py": b"print('hi')\n"}


def _request(files: dict[str, bytes] | None = None) -> DeployRequest:
    files = FILES if files is None else files
    return DeployRequest(
        address=NOTEBOOK,
        provider_type="Microsoft.Synapse/workspaces/notebooks",
        payload=Payload({"cells": []}, {p: file_hash(c) for p, c in list(files.items())[1:]}, "sha256:x"),
        files=files,
        primary_file=next(iter(files), ""),
    )


@pytest.fixture
def alarm() -> Iterator[None]:
    """Fail instead of hanging when a FIFO is opened or read."""

    def expired(signum: int, frame: object) -> None:
        raise AssertionError("blocked for 10 s: a FIFO was opened or read")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def deployed(tmp_path: Path) -> tuple[LocalProvider, ResourceState, Path]:
    """A provider, the state of one object it created, and that object's folder."""
    provider = LocalProvider(tmp_path, "dev")
    request = _request()
    result = provider.create(request)
    current = ResourceState(request.provider_type, request.payload, result.provider_id)
    return provider, current, tmp_path / result.provider_id


def _assert_mls820_at(error: MlspecError, path: Path) -> None:
    assert error.diagnostics, error
    for d in error.diagnostics:
        assert d.code == "MLS820", d
        assert d.location is not None and d.location.file == str(path), d
        assert str(path) in d.message, d


def _replace(path: Path, kind: str, outside: Path) -> None:
    """Put ``kind`` where ``path`` was."""
    path.unlink()
    if kind == "a symlink to /proc/self/environ":
        path.symlink_to("/proc/self/environ")
    elif kind == "a symlink to a JSON file outside":
        outside.write_text('{"password": "hunter2hunter2"}')
        path.symlink_to(outside)
    elif kind == "a symlink to /dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "a FIFO":
        os.mkfifo(path)
    elif kind == "a folder":
        path.mkdir()
    else:  # content
        path.write_bytes(DAMAGED[kind])


DAMAGED = {
    "not UTF-8": b"\xff",
    "100000 brackets": b"[" * 100_000,
    "a 5000-digit number": b"9" * 5000,
    "NaN": b'{"cells": NaN}',
    "Infinity": b'{"cells": -Infinity}',
}
KINDS = [
    "a symlink to /proc/self/environ",
    "a symlink to a JSON file outside",
    "a symlink to /dev/zero",
    "a FIFO",
    "a folder",
    *DAMAGED,
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["properties.json", "resource.json"])
def test_a_special_linked_or_damaged_object_file_is_mls820_at_the_file(
    deployed: tuple[LocalProvider, ResourceState, Path], tmp_path: Path, alarm: None, kind: str, name: str
) -> None:
    provider, current, folder = deployed
    path = folder / name
    _replace(path, kind, tmp_path / "outside.json")
    with pytest.raises(MlspecError) as raised:
        provider.read(NOTEBOOK, current)
    _assert_mls820_at(raised.value, path)
    assert "hunter2" not in str(raised.value) and "PATH=" not in str(raised.value)


@pytest.mark.parametrize("kind", ["a symlink to /proc/self/environ", "a symlink to /dev/zero", "a FIFO"])
def test_a_special_or_linked_attachment_is_mls820_at_the_file(
    deployed: tuple[LocalProvider, ResourceState, Path], tmp_path: Path, alarm: None, kind: str
) -> None:
    provider, current, folder = deployed
    path = folder / "files/synapse/features.py"
    _replace(path, kind, tmp_path / "outside.json")
    with pytest.raises(MlspecError) as raised:
        provider.read(NOTEBOOK, current)
    _assert_mls820_at(raised.value, path)


def test_a_linked_object_folder_is_refused(deployed: tuple[LocalProvider, ResourceState, Path]) -> None:
    provider, current, folder = deployed
    elsewhere = folder.with_name("elsewhere")
    folder.rename(elsewhere)
    folder.symlink_to(elsewhere)
    with pytest.raises(MlspecError) as raised:
        provider.read(NOTEBOOK, current)
    _assert_mls820_at(raised.value, folder)


def test_a_linked_files_folder_is_refused(deployed: tuple[LocalProvider, ResourceState, Path]) -> None:
    provider, current, folder = deployed
    (folder / "files").rename(folder.parent / "elsewhere")
    (folder / "files").symlink_to(folder.parent / "elsewhere")
    with pytest.raises(MlspecError) as raised:
        provider.read(NOTEBOOK, current)
    _assert_mls820_at(raised.value, folder / "files")
    (folder / "files").unlink()
    (folder / "files").mkdir()
    (folder / "files/synapse").symlink_to(folder.parent / "elsewhere/synapse")
    with pytest.raises(MlspecError) as raised:
        provider.read(NOTEBOOK, current)
    _assert_mls820_at(raised.value, folder / "files/synapse")


def test_an_object_file_over_the_bound_is_refused(
    deployed: tuple[LocalProvider, ResourceState, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    provider, current, folder = deployed
    monkeypatch.setattr(workspace, "MAX_OBJECT_FILE_BYTES", 64)
    (folder / "properties.json").write_text('{"cells": ["' + "x" * 100 + '"]}')
    with pytest.raises(MlspecError, match="larger than 64 bytes") as raised:
        provider.read(NOTEBOOK, current)
    _assert_mls820_at(raised.value, folder / "properties.json")


def test_properties_that_are_not_json_are_still_drift(
    deployed: tuple[LocalProvider, ResourceState, Path],
) -> None:
    provider, current, folder = deployed
    (folder / "properties.json").write_text("{not json")
    live = provider.read(NOTEBOOK, current)
    assert live is not None and live.payload.properties == "{not json"


@pytest.mark.parametrize(
    "path",
    [
        "<absolute>",
        "../../../../../PWNED.txt",
        "synapse/../../PWNED.txt",
        "a/../PWNED.txt",
        "",
        "a\\..\\b",
        "a\x00b",
    ],
)
def test_a_file_path_that_leaves_the_object_folder_is_refused_before_writing(
    tmp_path: Path, path: str
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    provider = LocalProvider(project, "dev")
    path = path.replace("<absolute>", str(tmp_path / "PWNED.txt"))
    with pytest.raises(MlspecError) as raised:
        provider.create(_request({"synapse/features.json": b"{}", path: b"pwned"}))
    d = raised.value.diagnostics[0]
    assert d.code == "MLS820" and "not a relative path inside the build" in d.message, d
    assert not any(p.name == "PWNED.txt" for p in tmp_path.rglob("*"))
    assert not (project / ".mlspec/local/dev/synapse/notebook/features").exists()


@pytest.mark.parametrize("kind", ["a symlink to a JSON file outside", "a FIFO", "not UTF-8"])
def test_create_over_an_unreadable_object_is_mls820_at_the_file_and_leaves_it(
    deployed: tuple[LocalProvider, ResourceState, Path], tmp_path: Path, alarm: None, kind: str
) -> None:
    """The state does not record it (a retried create): something mlspec cannot read is not replaced."""
    _, _, folder = deployed
    path = folder / "properties.json"
    _replace(path, kind, tmp_path / "outside.json")
    with pytest.raises(MlspecError) as raised:
        LocalProvider(tmp_path, "dev").create(_request())
    _assert_mls820_at(raised.value, path)
    assert "delete the folder" in (raised.value.diagnostics[0].hint or "")
    if kind == "a FIFO":
        assert stat.S_ISFIFO(os.lstat(path).st_mode)
    elif kind == "not UTF-8":
        assert path.read_bytes() == DAMAGED[kind]
    else:
        assert path.readlink() == tmp_path / "outside.json"
