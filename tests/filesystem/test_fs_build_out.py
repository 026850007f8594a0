"""Where `mlspec build` (and `mlspec run`) may write: only a folder mlspec owns, replaced atomically,
never through a symlink, never over the project; a full disk leaves the previous build intact."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlspec import api
from mlspec.cli import cli
from mlspec.compiler import build as build_module
from mlspec.compiler.build import BUILD_MARKER
from mlspec.diagnostics import MlspecError

from .conftest import ROOT, assert_clean_failure


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def tree(folder: Path) -> dict[str, bytes | str]:
    """Every entry below ``folder`` (symlinks by their target, not followed)."""
    found: dict[str, bytes | str] = {}
    for root, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            path = Path(root) / name
            relative = path.relative_to(folder).as_posix()
            if path.is_symlink():
                found[relative] = f"-> {os.readlink(path)}"
            elif path.is_file():
                found[relative] = path.read_bytes()
            else:
                found[relative] = "<dir>"
    return found


@pytest.fixture
def repo(project: Path) -> Path:
    """The project as a checkout: a README, a .git folder, project code."""
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return project


def build(project: Path, *extra: str) -> tuple[int, str, str]:
    return run("build", str(project / "mlproject.yaml"), "--env", "local", *extra)


@pytest.mark.parametrize("where", [".", "..", "src", "transforms", ".git"])
def test_out_at_the_project_its_parent_or_its_code_is_refused(repo: Path, where: str) -> None:
    before = tree(repo.parent)
    code, _, err = build(repo, "--out", str(repo / where))
    assert code == 2, err
    assert "error MLS602:" in err
    assert_clean_failure(err)
    assert tree(repo.parent) == before


def test_a_planted_marker_does_not_make_the_project_a_build_folder(repo: Path) -> None:
    (repo / BUILD_MARKER).write_text("")
    before = tree(repo)
    code, _, err = build(repo, "--out", str(repo))
    assert code == 2 and "MLS602" in err
    assert tree(repo) == before


def test_a_non_empty_folder_mlspec_did_not_create_is_refused(repo: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "documents"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("years of work")
    code, _, err = build(repo, "--out", str(foreign))
    assert code == 2 and "MLS602" in err
    assert "not empty" in err
    assert (foreign / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.tex"]


def test_an_mlspec_manifest_without_the_marker_does_not_make_a_folder_a_build(
    repo: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "f4"
    (folder / "photos").mkdir(parents=True)
    (folder / "photos" / "p.jpg").write_text("precious")
    (folder / "manifest.json").write_text(
        '{"version":1,"project":"x","environment":"y","spec_file":"z","resources":[]}'
    )
    before = tree(folder)
    code, _, err = build(repo, "--out", str(folder))
    assert code == 2 and "MLS602" in err and "not empty" in err
    assert "older mlspec" in err  # the hint says how to retire a build folder written before markers
    assert tree(folder) == before


def test_a_marker_that_is_a_symlink_to_a_real_marker_is_not_a_marker(repo: Path, tmp_path: Path) -> None:
    real = tmp_path / "real-build"
    assert build(repo, "--out", str(real))[0] == 0
    foreign = tmp_path / "f2"
    foreign.mkdir()
    (foreign / "keep").write_text("x")
    (foreign / BUILD_MARKER).symlink_to(real / BUILD_MARKER)
    before = tree(foreign)
    code, _, err = build(repo, "--out", str(foreign))
    assert code == 2 and "MLS602" in err
    assert tree(foreign) == before


@pytest.mark.parametrize("content", [b"", b"anything else\n", b"Written by `mlspec build`"])
def test_a_marker_without_mlspecs_text_is_not_a_marker(repo: Path, tmp_path: Path, content: bytes) -> None:
    foreign = tmp_path / "planted"
    foreign.mkdir()
    (foreign / "keep").write_text("x")
    (foreign / BUILD_MARKER).write_bytes(content)
    code, _, err = build(repo, "--out", str(foreign))
    assert code == 2 and "MLS602" in err
    assert (foreign / "keep").read_text() == "x"


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_the_build_folder_gets_the_umasks_mode(repo: Path, tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        assert build(repo, "--out", str(tmp_path / "out"))[0] == 0
        assert build(repo, "--out", str(tmp_path / "out"))[0] == 0  # and so does its replacement
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "out").st_mode) == 0o777 & ~umask


def test_a_foreign_manifest_json_does_not_make_a_folder_a_build(repo: Path, tmp_path: Path) -> None:
    extension = tmp_path / "extension"
    extension.mkdir()
    (extension / "manifest.json").write_text('{"manifest_version": 3, "name": "mine"}')
    code, _, err = build(repo, "--out", str(extension))
    assert code == 2 and "MLS602" in err
    assert (extension / "manifest.json").is_file()


def test_out_naming_an_existing_file_is_refused(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep")
    assert build(repo, "--out", str(tmp_path / "notes.txt"))[0] == 2  # click refuses it already
    with pytest.raises(MlspecError) as raised:  # and so does the library
        api.build(repo / "mlproject.yaml", "local", out_dir=tmp_path / "notes.txt", environ={})
    assert [d.code for d in raised.value.diagnostics] == ["MLS602"]
    assert (tmp_path / "notes.txt").read_text() == "keep"


def test_an_empty_folder_becomes_a_build_folder_and_is_replaced_next_time(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert build(repo, "--out", str(out))[0] == 0
    assert (out / BUILD_MARKER).is_file() and (out / "manifest.json").is_file()
    (out / "stale.txt").write_text("left over")
    assert build(repo, "--out", str(out))[0] == 0
    assert not (out / "stale.txt").exists()


def test_default_build_folder_symlinked_elsewhere_is_refused_and_the_target_kept(
    repo: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("do not delete")
    (elsewhere / BUILD_MARKER).write_text("")  # even a folder that looks like a build
    (repo / "build").mkdir()
    (repo / "build" / "local").symlink_to(elsewhere, target_is_directory=True)
    code, _, err = build(repo)
    assert code == 2, err
    assert "MLS602" in err and "symlink" in err
    assert (elsewhere / "precious.txt").read_text() == "do not delete"
    assert (repo / "build" / "local").is_symlink()


def test_a_symlinked_build_parent_leading_out_of_the_project_is_refused(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "local").mkdir(parents=True)
    (elsewhere / "local" / BUILD_MARKER).write_text("")
    (elsewhere / "local" / "precious.txt").write_text("keep")
    (repo / "build").symlink_to(elsewhere, target_is_directory=True)
    code, _, err = build(repo)
    assert code == 2 and "MLS602" in err
    assert (elsewhere / "local" / "precious.txt").read_text() == "keep"


def test_out_given_as_a_symlink_is_refused(repo: Path, tmp_path: Path) -> None:
    real = tmp_path / "real-build"
    assert build(repo, "--out", str(real))[0] == 0
    before = tree(real)
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    code, _, err = build(repo, "--out", str(tmp_path / "link"))
    assert code == 2 and "MLS602" in err and "symlink" in err
    assert tree(real) == before


def test_mlspec_run_refuses_a_symlinked_build_local_before_running_anything(
    repo: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("do not delete")
    (repo / "build").mkdir()
    (repo / "build" / "local").symlink_to(elsewhere, target_is_directory=True)
    code, _, err = run("run", str(repo), "--env", "local")
    assert code == 2, err
    assert "MLS602" in err
    assert_clean_failure(err)
    assert (elsewhere / "precious.txt").read_text() == "do not delete"


# --- killed builds and full disks ------------------------------------------------------------------

KILLED_BUILD = textwrap.dedent(
    """
    import os, sys
    from mlspec import api

    def killed(*args, **kwargs):  # kill -9 just before the new tree is swapped in
        os._exit(137)

    os.rename = os.replace = killed
    api.build(sys.argv[1], "local", out_dir=sys.argv[2], environ={})
    """
)


def test_staging_left_by_a_killed_build_is_removed_by_the_next_build(repo: Path) -> None:
    out = repo / "build" / "local"
    assert build(repo)[0] == 0
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_BUILD, str(repo / "mlproject.yaml"), str(out)],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    assert killed.returncode == 137, killed.stderr
    assert [p.name for p in (repo / "build").iterdir() if p.name != "local"], "the kill left no staging"
    assert build(repo)[0] == 0
    assert sorted(p.name for p in (repo / "build").iterdir()) == ["local"]


def test_a_staging_folder_killed_while_writing_its_marker_is_removed_too(repo: Path) -> None:
    # the marker is the first file of a staging tree: a build killed while writing it leaves the start
    # of the marker text and nothing else, which no build would otherwise recognise as its own
    assert build(repo)[0] == 0
    dead = 2**22 + 12345  # above Linux's default pid_max: no process has it
    partial = repo / "build" / f".local.{dead}-abcd1234.staging"
    partial.mkdir()
    (partial / BUILD_MARKER).write_bytes(b"")
    other = repo / "build" / f".local.{dead}-ffff0000.staging"  # someone else's file in it: kept
    other.mkdir()
    (other / BUILD_MARKER).write_bytes(b"")
    (other / "notes.txt").write_text("mine")
    assert build(repo)[0] == 0
    assert not partial.exists()
    assert (other / "notes.txt").read_text() == "mine"


def test_a_full_disk_leaves_the_previous_build_intact(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    assert build(repo, "--out", str(out))[0] == 0
    before = tree(out)
    real_write = os.write
    calls = {"n": 0}

    def filling_up(descriptor: int, data: bytes) -> int:  # what the build writes its files with
        calls["n"] += 1
        if calls["n"] > 10:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(descriptor, data)

    monkeypatch.setattr(build_module.os, "write", filling_up)
    code, _, err = build(repo, "--out", str(out))
    assert calls["n"] > 10
    assert code == 2, err
    assert "error MLS603:" in err and "No space left on device" in err
    assert_clean_failure(err)
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diabetes", "out"]  # no staging left behind


TMPFS_SCRIPT = textwrap.dedent(
    """
    set -e
    mount -t tmpfs -o size=900k tmpfs "$1"
    mkdir "$1/out"
    "$2" -m mlspec build "$3" --env local --out "$1/out" -q
    "$2" -c 'import hashlib, json, os, sys
    print(json.dumps(sorted((os.path.relpath(os.path.join(r, f), sys.argv[1]),
        hashlib.sha256(open(os.path.join(r, f), "rb").read()).hexdigest())
        for r, _, fs in os.walk(sys.argv[1]) for f in fs)))' "$1/out" > "$4/before.json"
    set +e
    "$2" -m mlspec build "$3" --env local --out "$1/out" 2> "$4/stderr.txt"
    echo $? > "$4/rc.txt"
    "$2" -c 'import hashlib, json, os, sys
    print(json.dumps(sorted((os.path.relpath(os.path.join(r, f), sys.argv[1]),
        hashlib.sha256(open(os.path.join(r, f), "rb").read()).hexdigest())
        for r, _, fs in os.walk(sys.argv[1]) for f in fs)))' "$1/out" > "$4/after.json"
    ls -A "$1" > "$4/entries.txt"
    """
)


def test_a_real_full_tmpfs_leaves_the_previous_build_intact(repo: Path, tmp_path: Path) -> None:
    """Mounts a 900 KiB tmpfs in a user namespace: room for one build (~750 KiB on disk), not two."""
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
            *(str(mount_point), sys.executable, str(repo / "mlproject.yaml"), str(results)),
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
    assert "error MLS603:" in stderr and "No space left on device" in stderr
    assert_clean_failure(stderr)
    assert json.loads((results / "after.json").read_text()) == json.loads(
        (results / "before.json").read_text()
    )
    assert (results / "entries.txt").read_text().split() == ["out"]
