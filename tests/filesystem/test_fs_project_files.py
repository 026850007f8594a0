"""Files the spec names (transform code, training script, seed program): never read through a symlink
out of the project, never a FIFO or device, never more bytes than the limit — each refused at the spec
line naming the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from mlspec import api
from mlspec.compiler.artifacts import RenderContext
from mlspec.diagnostics import MlspecError
from mlspec.project_files import (
    MAX_PROJECT_FILE_BYTES,
    FileTooLargeError,
    ProjectFileError,
    read_project_file,
    read_regular_file,
)

from .conftest import NAMED_FILES, NAMED_IDS, assert_clean_failure, line_of, mlspec

SECRET = "TOKEN=hunter2-from-outside-the-project"


def _outside_file(project: Path) -> Path:
    outside = project.parent / "elsewhere" / "secret.py"
    outside.parent.mkdir(exist_ok=True)
    outside.write_text(f"# {SECRET}\n")
    return outside


def _replace_with_symlink(project: Path, relative: str, target: Path | str) -> None:
    link = project / relative
    link.unlink()
    link.symlink_to(target)


def _diagnostics(project: Path) -> list[tuple[str, tuple[str | int, ...], int | None, str]]:
    spec = project / "mlproject.yaml"
    result = api.validate_file(spec, ["local"], environ={})
    return [
        (d.code, d.path, d.location.line if d.location else None, d.message)
        for d in result.diagnostics
        if d.is_error
    ]


TARGETS = ["outside-file", "/etc/passwd", "/proc/self/environ"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("relative", "spec_path", "needle"), NAMED_FILES, ids=NAMED_IDS)
def test_symlink_out_of_the_project_is_refused_at_the_field(
    project: Path, relative: str, spec_path: tuple[str, ...], needle: str, target: str
) -> None:
    if target != "outside-file" and not Path(target).exists():
        pytest.skip(f"{target} does not exist here")
    _replace_with_symlink(project, relative, _outside_file(project) if target == "outside-file" else target)
    [(code, path, line, message)] = _diagnostics(project)
    assert (code, path) == ("MLS413", spec_path)
    assert line == line_of(project / "mlproject.yaml", needle)
    assert "outside the project" in message


def test_a_symlinked_folder_leading_out_of_the_project_is_refused(project: Path) -> None:
    outside = project.parent / "shared-transforms"
    (project / "transforms").rename(outside)
    (project / "transforms").symlink_to(outside, target_is_directory=True)
    [(code, path, _, message)] = _diagnostics(project)
    assert (code, path) == ("MLS413", ("transforms", "lab_panel", "python"))
    assert "outside the project" in message


@pytest.mark.parametrize(("relative", "spec_path", "needle"), NAMED_FILES, ids=NAMED_IDS)
def test_build_reads_nothing_through_a_symlink_out_of_the_project(
    project: Path, relative: str, spec_path: tuple[str, ...], needle: str
) -> None:
    _replace_with_symlink(project, relative, _outside_file(project))
    done = mlspec("build", str(project / "mlproject.yaml"), "--env", "local")
    assert done.returncode == 1, done.stderr
    assert_clean_failure(done.stderr)
    assert f"mlproject.yaml:{line_of(project / 'mlproject.yaml', needle)}:" in done.stderr
    assert "MLS413" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert not (project / "build").exists()


@pytest.mark.parametrize(("relative", "spec_path", "needle"), NAMED_FILES[:2], ids=NAMED_IDS[:2])
def test_the_renderers_reader_refuses_a_symlink_swapped_in_after_validation(
    project: Path, relative: str, spec_path: tuple[str, ...], needle: str
) -> None:
    resolved = api.resolve(api.load(project / "mlproject.yaml"), "local", environ={})
    assert resolved.model is not None and resolved.ok
    _replace_with_symlink(project, relative, _outside_file(project))  # after validation, before build
    ctx = RenderContext(resolved.model, resolved.spec)
    with pytest.raises(ProjectFileError) as raised:
        ctx.read_project_file(relative)
    assert SECRET not in str(raised.value)
    assert "outside the project" in str(raised.value)


def test_build_diagnostic_when_code_is_swapped_for_a_symlink_after_validation(project: Path) -> None:
    from mlspec.compiler.build import compile_spec

    resolved = api.resolve(api.load(project / "mlproject.yaml"), "local", environ={})
    assert resolved.model is not None and resolved.ok
    _replace_with_symlink(project, "transforms/lab_panel.py", _outside_file(project))
    with pytest.raises(MlspecError) as raised:
        compile_spec(resolved.spec, resolved.model)
    [found] = [d for d in raised.value.diagnostics if d.is_error]
    assert (found.code, found.path) == ("MLS610", ("transforms", "lab_panel", "python"))
    assert found.location is not None
    assert found.location.line == line_of(project / "mlproject.yaml", "python: transforms/lab_panel.py")
    assert SECRET not in found.message


def test_symlinks_that_stay_inside_the_project_are_fine(project: Path, tmp_path: Path) -> None:
    (project / "lib").mkdir()
    for relative, _, _ in NAMED_FILES:
        moved = project / "lib" / Path(relative).name
        (project / relative).rename(moved)
        (project / relative).symlink_to(os.path.relpath(moved, (project / relative).parent))
    assert _diagnostics(project) == []
    result = api.build(project / "mlproject.yaml", "local", out_dir=tmp_path / "out", environ={})
    assert result.ok
    assert result.inputs["src/train.py"] == (project / "lib" / "train.py").read_bytes()


# --- special files --------------------------------------------------------------------------------


def _special(project: Path, relative: str, kind: str) -> None:
    (project / relative).unlink()
    if kind == "fifo":
        os.mkfifo(project / relative)
    else:
        (project / relative).symlink_to("/dev/zero")


@pytest.mark.usefixtures("alarm")
@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
@pytest.mark.parametrize(("relative", "spec_path", "needle"), NAMED_FILES, ids=NAMED_IDS)
def test_special_files_are_refused_at_the_field_without_blocking(
    project: Path, relative: str, spec_path: tuple[str, ...], needle: str, kind: str
) -> None:
    _special(project, relative, kind)
    [(code, path, line, message)] = _diagnostics(project)
    assert (code, path) == ("MLS413", spec_path)
    assert line == line_of(project / "mlproject.yaml", needle)
    # /dev/zero is outside the project as well; that reason comes first
    assert "not a regular file" in message if kind == "fifo" else "outside the project" in message


@pytest.mark.usefixtures("alarm")
@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
@pytest.mark.parametrize(("relative", "spec_path", "needle"), NAMED_FILES[:2], ids=NAMED_IDS[:2])
def test_the_renderers_reader_never_opens_a_special_file(
    project: Path, relative: str, spec_path: tuple[str, ...], needle: str, kind: str
) -> None:
    resolved = api.resolve(api.load(project / "mlproject.yaml"), "local", environ={})
    assert resolved.model is not None
    _special(project, relative, kind)
    reason = "not a regular file" if kind == "fifo" else "outside the project"
    with pytest.raises(ProjectFileError, match=reason):
        RenderContext(resolved.model, resolved.spec).read_project_file(relative)


@pytest.mark.usefixtures("alarm")
def test_a_device_is_never_read_whether_outside_or_inside_the_root(project: Path) -> None:
    # No mknod without privileges: /dev itself as the root stands in for a device inside a project.
    (project / "devices").symlink_to("/dev", target_is_directory=True)
    with pytest.raises(ProjectFileError, match="outside the project"):
        read_project_file(project, "devices/zero")
    with pytest.raises(ProjectFileError, match="not a regular file but a character device"):
        read_project_file("/dev", "zero")


# --- the size limit counts bytes read ---------------------------------------------------------------


def test_size_limit_is_enforced_on_bytes_read_not_on_st_size() -> None:
    status = Path("/proc/self/status")  # a regular file whose st_size is 0
    if not status.exists():
        pytest.skip("no /proc here")
    assert status.stat().st_size == 0
    with pytest.raises(FileTooLargeError):
        read_regular_file(status, limit=16)
    assert len(read_regular_file(status, limit=1 << 20)) > 16


def test_project_file_over_the_limit_is_refused(project: Path) -> None:
    (project / "src" / "train.py").write_bytes(b"#" * (MAX_PROJECT_FILE_BYTES + 1))
    with pytest.raises(FileTooLargeError):
        read_project_file(project, "src/train.py")
    [(code, path, _, message)] = _diagnostics(project)
    assert (code, path) == ("MLS413", ("model", "training", "script"))
    assert "larger than" in message


def test_project_file_at_the_limit_is_read(project: Path) -> None:
    content = b"#" * 1000
    (project / "src" / "train.py").write_bytes(content)
    assert read_project_file(project, "src/train.py", limit=1000) == content
    with pytest.raises(FileTooLargeError):
        read_project_file(project, "src/train.py", limit=999)


@pytest.mark.parametrize("relative", ["../x.py", "/etc/passwd", "a\\b.py", "a/../../x.py", ""])
def test_reader_refuses_paths_that_leave_the_project_lexically(project: Path, relative: str) -> None:
    with pytest.raises(ProjectFileError):
        read_project_file(project, relative)


def test_reader_turns_a_missing_file_into_the_one_error_type(project: Path) -> None:
    with pytest.raises(ProjectFileError, match="No such file"):
        read_project_file(project, "src/nope.py")


@pytest.mark.usefixtures("alarm")
def test_the_build_cache_never_opens_a_fifo_named_by_its_inputs(project: Path) -> None:
    from mlspec.compiler import cache

    data = yaml.safe_load((project / "mlproject.yaml").read_text())
    assert data["model"]["training"]["script"] == "src/train.py"
    _special(project, "src/train.py", "fifo")
    # A digest that opened the FIFO would block; refusing it makes the cache entry a miss.
    assert cache._inputs_digest(project, {"src/train.py": "x"}) == {"src/train.py": None}


def test_the_build_cache_does_not_hash_a_file_outside_the_project(project: Path) -> None:
    from mlspec.compiler import cache

    _replace_with_symlink(project, "src/train.py", _outside_file(project))
    assert cache._inputs_digest(project, {"src/train.py": "x"}) == {"src/train.py": None}
