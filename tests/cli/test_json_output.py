"""`--format json` on every command that reports: stdout is exactly one JSON document, on success
and on failure (scripts parse one thing; the diagnostics still go to stderr and set the exit code)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "tests" / "compiler" / "data" / "contract"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("json") / "contract"
    shutil.copytree(CONTRACT, target, ignore=shutil.ignore_patterns(".mlspec", "build"))
    return target


def mlspec(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlspec", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "NO_COLOR": "1", "HOME": str(project)},
        timeout=180,
        check=False,
    )


# In this order: each builds on the state the one before left.
SUCCEEDING = [
    ("validate",),
    ("build", "-e", "local"),
    ("plan", "-e", "local"),
    ("apply", "-e", "local", "--auto-approve"),
    ("state", "list", "-e", "local"),
    ("state", "show", "aks.namespace.churn", "-e", "local"),
    ("output", "-e", "local"),
    ("plan", "-e", "local", "--json"),  # the old flag is the short form
    ("status",),
    ("destroy", "-e", "local", "--auto-approve"),
]


def test_every_reporting_command_prints_one_json_document_when_it_succeeds(project: Path) -> None:
    for command in SUCCEEDING:
        done = mlspec(project, *command, *(() if "--json" in command else ("--format", "json")))
        assert done.returncode == 0, f"{command}: {done.stderr}"
        document = json.loads(done.stdout)  # the whole of stdout: one document, nothing else
        assert isinstance(document, dict), command
        if command[0] in ("build", "apply", "destroy", "state", "output"):
            assert document["ok"] is True, command


FAILING = [
    ("validate", "-e", "nope"),
    ("build", "-e", "nope"),
    ("plan", "-e", "nope"),
    ("apply", "-e", "nope", "--auto-approve"),
    ("destroy", "-e", "nope", "--auto-approve"),
    ("state", "list", "-e", "nope"),
    ("state", "show", "no.such.address", "-e", "local"),
    ("state", "rm", "no.such.address", "-e", "local"),
    ("output", "no.such.output", "-e", "local"),
    ("run", "-e", "nope"),
    ("serve", "-e", "nope"),
]


@pytest.mark.parametrize("command", FAILING, ids=["-".join(c[:2]) for c in FAILING])
def test_a_failing_command_still_prints_one_json_document(project: Path, command: tuple[str, ...]) -> None:
    done = mlspec(project, *command, "--format", "json")
    assert done.returncode == 1, done.stdout + done.stderr
    document = json.loads(done.stdout)
    if command[0] == "validate":  # its report is the document: the findings are in it, per file
        findings = [d for f in document["files"] for d in f["diagnostics"]]
    else:
        findings = document["diagnostics"]
        assert "error MLS" in done.stderr  # and the human diagnostics, on stderr
    codes = [d["code"] for d in findings]
    assert codes and all(code.startswith("MLS") for code in codes), document


def test_apply_with_json_asks_nothing(project: Path) -> None:
    done = mlspec(project, "apply", "-e", "local", "--format", "json")
    assert done.returncode == 2
    assert json.loads(done.stdout)["ok"] is False
    assert "pass --auto-approve" in done.stderr


@pytest.mark.parametrize(
    "command", [("validate",), ("plan", "-e", "local"), ("state", "list", "-e", "local")]
)
def test_a_usage_error_with_json_is_one_json_document_too(project: Path, command: tuple[str, ...]) -> None:
    done = mlspec(project, *command, "--var", "not-a-pair", "--format", "json")
    assert done.returncode == 2
    document = json.loads(done.stdout)
    assert document["ok"] is False and document["diagnostics"][0]["code"] == "MLS000"
    assert "is not NAME=VALUE" in done.stderr


def test_a_missing_argument_is_named_in_text_and_json(project: Path) -> None:
    # click keeps this message out of ``UsageError.message``: printing that gave a bare "Error: "
    done = mlspec(project, "init")
    assert done.returncode == 2
    assert "Error: Missing argument 'NAME'." in done.stderr
    done = mlspec(project, "init", "--format", "json")
    assert done.returncode == 2
    (diagnostic,) = json.loads(done.stdout)["diagnostics"]
    assert diagnostic["code"] == "MLS000" and diagnostic["message"] == "Missing argument 'NAME'."


def test_init_and_schema_write_report_what_they_wrote_as_json(project: Path, tmp_path: Path) -> None:
    done = mlspec(project, "init", "scaffolded", "--dir", str(tmp_path / "new"), "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["ok"] is True and document["project"] == "scaffolded"
    assert str(tmp_path / "new" / "mlproject.yaml") in document["created"]
    assert all(Path(path).is_file() for path in document["created"])
    again = mlspec(project, "init", "scaffolded", "--dir", str(tmp_path / "new"), "--format", "json")
    assert again.returncode != 0 and json.loads(again.stdout)["ok"] is False  # it never overwrites
    written = mlspec(project, "schema", "--write", str(tmp_path / "schema"), "--format", "json")
    assert written.returncode == 0, written.stderr
    path = Path(json.loads(written.stdout)["written"])
    assert path.is_file() and json.loads(path.read_text())["$schema"].startswith("http://json-schema.org/")


def test_a_folder_that_cannot_be_written_is_a_json_document_too(project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    for command in (
        ("init", "scaffolded", "--dir", str(blocker / "sub")),
        ("schema", "--write", str(blocker / "schema.json")),
    ):
        done = mlspec(project, *command, "--format", "json")
        assert done.returncode == 2, done.stdout + done.stderr
        document = json.loads(done.stdout)
        assert document["ok"] is False and "Not a directory" in document["diagnostics"][0]["message"]
