"""The spec file itself as a device or a FIFO: a located MLS000 within seconds, never a hang or a
MemoryError (each command runs in its own process under a timeout and a memory ceiling)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mlspec.project_files import FileTooLargeError, ProjectFileError, read_regular_file
from mlspec.spec_schema.loader import MAX_SPEC_BYTES

from .conftest import assert_clean_failure, mlspec


def _spec(folder: Path, kind: str) -> Path:
    spec = folder / "mlproject.yaml"
    if kind == "fifo":
        os.mkfifo(spec)
    else:
        spec.symlink_to("/dev/zero")
    return spec


COMMANDS = [
    ("validate", "{spec}"),
    ("validate", "{folder}"),
    ("build", "{spec}", "--env", "local"),
    ("plan", "{spec}", "--env", "local"),
]


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
@pytest.mark.parametrize("command", COMMANDS, ids=["validate-file", "validate-folder", "build", "plan"])
def test_a_special_spec_file_is_a_located_error_quickly(
    tmp_path: Path, kind: str, command: tuple[str, ...]
) -> None:
    spec = _spec(tmp_path, kind)
    args = [a.format(spec=spec, folder=tmp_path) for a in command]
    started = time.monotonic()
    done = mlspec(*args)
    assert time.monotonic() - started < 20
    output = done.stdout + done.stderr  # validate reports on stdout, the other commands on stderr
    assert_clean_failure(output)
    assert done.returncode == 2, output  # an I/O error (docs/diagnostics.md: MLS000)
    assert f"{spec}:1:1: error MLS000:" in output
    assert "not a regular file" in output


def test_the_spec_reader_refuses_a_fifo_without_opening_it(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "fifo")
    with pytest.raises(ProjectFileError, match="not a regular file"):
        read_regular_file(spec, limit=MAX_SPEC_BYTES)


def test_the_spec_reader_stops_at_the_limit_on_a_growing_device(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="not a regular file"):
        read_regular_file(_spec(tmp_path, "dev-zero"), limit=MAX_SPEC_BYTES)


def test_an_oversized_spec_is_still_mls005(tmp_path: Path) -> None:
    spec = tmp_path / "mlproject.yaml"
    spec.write_bytes(b"#" * (MAX_SPEC_BYTES + 1))
    with pytest.raises(FileTooLargeError):
        read_regular_file(spec, limit=MAX_SPEC_BYTES)
    done = mlspec("validate", str(spec))
    assert done.returncode == 1
    assert f"{spec}:1:1: error MLS005:" in done.stdout
