"""Where `mlspec plan --out FILE` may write: never over the spec, a file the spec names, mlspec's own
`.mlspec/` folder or a name `apply` would take for a spec; never through a symlink or into a special
file; written beside the target and renamed over it, so a full disk leaves an older plan there intact.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlspec.api import deploy as api_deploy
from mlspec.cli import cli
from mlspec.diagnostics import MlspecError
from mlspec.plan import operations, planfile

from .conftest import NAMED_FILES, NAMED_IDS, ROOT, assert_clean_failure
from .test_fs_build_out import tree


def project_tree(project: Path) -> dict[str, bytes | str]:
    """The project's own files (planning writes its build cache into .mlspec/)."""
    return {k: v for k, v in tree(project).items() if not k.startswith(".mlspec")}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def plan_out(project: Path, out: Path | str, *extra: str) -> tuple[int, str, str]:
    return run("plan", str(project / "mlproject.yaml"), "--env", "local", "--out", str(out), *extra)


def assert_refused(code: int, out: str, err: str, where: Path | str) -> None:
    assert code == 2, err
    assert f"{where}:1:1: error MLS840:" in err, err
    assert_clean_failure(err)
    assert out == "", "refused before the plan is shown"


@pytest.mark.parametrize("relative", [f for f, _, _ in NAMED_FILES], ids=NAMED_IDS)
def test_out_at_a_file_the_spec_names_is_refused(project: Path, relative: str) -> None:
    before = project_tree(project)
    code, out, err = plan_out(project, project / relative)
    assert_refused(code, out, err, project / relative)
    assert "a file the spec names" in err
    assert project_tree(project) == before


def test_a_plan_served_from_the_build_cache_knows_the_files_the_spec_names_too(project: Path) -> None:
    assert plan_out(project, project / "first.bin")[0] == 0  # fills the build cache
    before = project_tree(project)
    code, out, err = plan_out(project, project / "src" / "train.py")
    assert_refused(code, out, err, project / "src" / "train.py")
    assert project_tree(project) == before


def test_out_at_the_spec_is_refused(project: Path) -> None:
    before = project_tree(project)
    code, out, err = plan_out(project, project / "mlproject.yaml")
    assert_refused(code, out, err, project / "mlproject.yaml")
    assert "the spec" in err
    assert project_tree(project) == before


def test_out_at_the_spec_through_another_spelling_is_refused(project: Path) -> None:
    spelled = project / "src" / ".." / "mlproject.yaml"
    before = project_tree(project)
    code, out, err = plan_out(project, spelled)
    assert_refused(code, out, err, spelled)
    assert project_tree(project) == before


@pytest.mark.parametrize("name", ["plan.yaml", "plan.yml", "PLAN.YAML"])
def test_out_with_a_spec_suffix_is_refused(project: Path, tmp_path: Path, name: str) -> None:
    code, out, err = plan_out(project, tmp_path / name)
    assert_refused(code, out, err, tmp_path / name)
    assert "would read it as a spec" in err
    assert not (tmp_path / name).exists()


def test_out_inside_mlspecs_own_folder_is_refused(project: Path) -> None:
    assert plan_out(project, project / "first.bin")[0] == 0  # creates .mlspec/ (cache, state)
    state = next((project / ".mlspec").rglob("*.json"))
    before = state.read_bytes()
    code, out, err = plan_out(project, state)
    assert_refused(code, out, err, state)
    assert state.read_bytes() == before


def test_out_through_a_symlink_is_refused_and_the_target_kept(project: Path, tmp_path: Path) -> None:
    link = tmp_path / "planlink.json"
    link.symlink_to(project / "README.md")
    readme = (project / "README.md").read_bytes()
    code, out, err = plan_out(project, link)
    assert_refused(code, out, err, link)
    assert "symlink" in err
    assert (project / "README.md").read_bytes() == readme
    assert link.is_symlink()


def test_out_at_a_dangling_symlink_is_refused(project: Path, tmp_path: Path) -> None:
    link = tmp_path / "plan.bin"
    link.symlink_to(tmp_path / "elsewhere" / "created-through-the-link")
    code, out, err = plan_out(project, link)
    assert_refused(code, out, err, link)
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.usefixtures("alarm")
def test_out_at_a_fifo_is_refused_without_blocking(project: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "plan.bin"
    os.mkfifo(fifo)
    code, out, err = plan_out(project, fifo)
    assert_refused(code, out, err, fifo)
    assert "FIFO" in err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_out_at_dev_full_is_a_located_error_with_a_code(project: Path) -> None:
    code, out, err = plan_out(project, "/dev/full")
    assert_refused(code, out, err, "/dev/full")
    assert "character device" in err


def test_the_library_refuses_too(project: Path) -> None:
    result = api_deploy.plan_environment(project / "mlproject.yaml", "local", refresh=False)
    spec = project / "mlproject.yaml"
    before = spec.read_bytes()
    with pytest.raises(MlspecError) as raised:
        operations.save_plan(result, spec)
    assert [d.code for d in raised.value.diagnostics] == ["MLS840"]
    assert spec.read_bytes() == before


def test_a_plan_beside_the_spec_is_written_with_the_umask_and_replaced_next_time(project: Path) -> None:
    previous = os.umask(0o027)
    try:
        assert plan_out(project, project / "plan.bin")[0] == 0
        assert stat.S_IMODE(os.stat(project / "plan.bin").st_mode) == 0o640
        (project / "plan.bin").write_bytes(b"\x1f\x8b an older plan")  # gzip: what a saved plan is
        code, _, err = plan_out(project, project / "plan.bin")
    finally:
        os.umask(previous)
    assert code == 0, err
    assert planfile.load_plan(project / "plan.bin").plan.project == "diabetes"
    assert not [p.name for p in project.iterdir() if p.name.startswith(".plan.bin")], "no temp file left"


# --- a full disk ------------------------------------------------------------------------------------


def test_a_full_disk_is_a_located_error_and_leaves_an_older_plan_intact(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = project / "plan.bin"
    assert plan_out(project, target)[0] == 0
    before = target.read_bytes()

    def disk_full(descriptor: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(planfile, "_write_all", disk_full)
    code, _, err = plan_out(project, target)
    assert code == 2, err
    assert f"{target}:1:1: error MLS841:" in err and "No space left on device" in err
    assert_clean_failure(err)
    assert target.read_bytes() == before
    assert not [p.name for p in project.iterdir() if p.name.startswith(".plan.bin")], "no temp file left"


TMPFS_SCRIPT = textwrap.dedent(
    """
    mount -t tmpfs -o size=16k tmpfs "$1" || exit 99
    printf '\\037\\213old\\n' > "$1/plan.bin"
    "$2" -m mlspec plan "$3" --env local --out "$1/plan.bin" > /dev/null 2> "$4/stderr.txt"
    echo $? > "$4/rc.txt"
    cat "$1/plan.bin" > "$4/after.txt"
    ls -A "$1" > "$4/entries.txt"
    """
)


def test_a_real_full_tmpfs_is_a_located_error(project: Path, tmp_path: Path) -> None:
    """Mounts a 16 KiB tmpfs in a user namespace: too small for the plan of the diabetes example."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare here")
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip("this machine allows no user namespace to mount a tmpfs in")
    mount_point, results = tmp_path / "disk", tmp_path / "results"
    mount_point.mkdir()
    results.mkdir()
    done = subprocess.run(
        [
            *("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", TMPFS_SCRIPT, "sh"),
            *(str(mount_point), sys.executable, str(project / "mlproject.yaml"), str(results)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    stderr = (results / "stderr.txt").read_text()
    assert (results / "rc.txt").read_text().strip() == "2", stderr
    assert "error MLS841:" in stderr and "No space left on device" in stderr
    assert_clean_failure(stderr)
    assert (results / "after.txt").read_bytes() == b"\x1f\x8bold\n"
    assert (results / "entries.txt").read_text().split() == ["plan.bin"]


def test_plan_out_never_replaces_a_project_file_the_spec_does_not_name_nor_writes_into_git_or_a_build(
    tmp_path: Path,
) -> None:
    from mlspec.plan import operations

    project = tmp_path / "p"
    shutil.copytree(
        ROOT / "tests" / "compiler" / "data" / "contract",
        project,
        ignore=shutil.ignore_patterns(".mlspec", "build"),
    )
    spec = project / "mlproject.yaml"
    result = api_deploy.plan_environment(spec, "local")
    (project / "README.md").write_text("keep me")
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text("[core]")
    build = project / "build" / "local"
    build.mkdir(parents=True)
    (build / ".mlspec-build").write_text("x")
    for out, why in (
        (project / "README.md", "not a saved plan"),
        (project / ".git" / "config", "inside the git folder"),
        (build / "plan.bin", "inside the build folder"),
    ):
        with pytest.raises(MlspecError) as raised:
            operations.save_plan(result, out)
        assert raised.value.diagnostics[0].code == "MLS840" and why in raised.value.diagnostics[0].message
    assert (project / "README.md").read_text() == "keep me"
    assert (project / ".git" / "config").read_text() == "[core]"
    first = project / "plan.bin"
    operations.save_plan(result, first)
    operations.save_plan(result, first)  # an older plan is replaced
