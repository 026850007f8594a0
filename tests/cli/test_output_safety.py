"""What the command line prints never crashes on the terminal's encoding and never carries a credential.

- ``PYTHONIOENCODING=ascii``: ``…``, ``≥`` and other non-ASCII text are escaped, not a UnicodeEncodeError.
- Every reporter (text, json, github, sarif) and the CLI's own error lines pass messages, hints,
  locations and spec paths through :func:`mlspec.redaction.redact`; ``--env`` values and ``--var``
  names the user typed are shown redacted and with control characters escaped.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlspec.api import FileResult, ValidationReport
from mlspec.cli import cli
from mlspec.diagnostics import Diagnostic, Location
from mlspec.reporters import FORMATS, reporter_for

ROOT = Path(__file__).resolve().parents[2]
CHURN = ROOT / "projects" / "churn"
SIGNATURE = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"
SAS_URL = f"https://acct.blob.core.windows.net/state/x.json?sv=2022-11-02&sp=rwl&sig={SIGNATURE}"
GITHUB_TOKEN = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the churn example (plan and build write beside the spec)."""
    target = tmp_path / "churn"
    shutil.copytree(CHURN, target, ignore=shutil.ignore_patterns(".mlspec", "build"))
    return target


def _ascii_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "NO_COLOR": "1"}
    env.pop("MLSPEC_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "mlspec", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        # click.echo re-encodes an ASCII-configured stdout as UTF-8 on purpose; sys.stdout.write
        # (plan, schema, validate's reports) must come out escaped.
        encoding="utf-8",
        errors="strict",
        timeout=120,
        check=False,
    )


# --- 5b: the terminal's encoding ---------------------------------------------------------------


def test_plan_on_an_ascii_terminal_escapes_non_ascii_instead_of_crashing(project: Path) -> None:
    done = _ascii_run("plan", "mlproject.yaml", "--env", "local", cwd=project)
    assert "UnicodeEncodeError" not in done.stderr
    assert "internal error" not in done.stderr
    assert done.returncode == 0, done.stderr
    assert "\\u2026" in done.stdout and "\u2026" not in done.stdout


def test_schema_validate_and_build_on_an_ascii_terminal(project: Path) -> None:
    schema = _ascii_run("schema", cwd=project)
    assert schema.returncode == 0, schema.stderr
    assert "\\u2265" in schema.stdout and "\u2265" not in schema.stdout  # "≥ 1024", escaped
    validate = _ascii_run("validate", ".", "--env", "d\u00e9v\u2026", cwd=project)
    assert validate.returncode == 1, validate.stderr
    assert "MLS205" in validate.stdout and "internal error" not in validate.stderr
    build = _ascii_run("build", "mlproject.yaml", "--env", "dev", "--out", "b\u00e2ti", cwd=project)
    assert build.returncode == 0, build.stderr
    assert "b\\xe2ti" in build.stdout or "b\u00e2ti" in build.stdout
    assert (project / "b\u00e2ti" / "manifest.json").is_file()


def _failed_run(project: Path) -> None:
    """A recorded failed run whose error names a SAS URL and holds non-ASCII text."""
    import json

    runs = project / ".mlspec" / "runs"
    (runs / "r1").mkdir(parents=True)
    record = {
        "run_id": "r1",
        "status": "failed",
        "environment": "local",
        "started": "2024-01-01T00:00:00Z",
        "steps": [{"name": "train", "status": "failed", "seconds": 1.0, "detail": "gate \u2265 0.8"}],
        "error": {
            "step": "train",
            "message": f"cannot upload to {SAS_URL} \u2026",
            "rerun": "mlspec run --from train",
        },
    }
    (runs / "r1" / "run.json").write_text(json.dumps(record), encoding="utf-8")
    (runs / "latest").write_text("r1", encoding="utf-8")


def test_status_of_a_failed_run_on_an_ascii_terminal_is_escaped_and_redacted(project: Path) -> None:
    _failed_run(project)
    done = _ascii_run("status", "mlproject.yaml", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "internal error" not in done.stderr
    assert "acct.blob.core.windows.net" in done.stdout and SIGNATURE not in done.stdout


def test_the_run_summary_is_redacted() -> None:
    from mlspec.cli_run import summary

    text = summary({"run_id": "r1", "status": "failed", "error": {"step": "train", "message": SAS_URL}})
    assert "acct.blob.core.windows.net" in text and SIGNATURE not in text


# --- 3b: one redaction layer in every format -----------------------------------------------------


def _report_with_secrets() -> ValidationReport:
    diagnostic = Diagnostic.error(
        "MLS801",
        f"cannot read the state at {SAS_URL}: 403",
        ("state", SAS_URL),
        Location(SAS_URL, 3, 7),
        f"check access to {SAS_URL}, or the token {GITHUB_TOKEN}",
    )
    # An --env value is echoed as the environments checked and the ones a finding holds in.
    return ValidationReport([FileResult(SAS_URL, ["dev", SAS_URL], [diagnostic.in_environments([SAS_URL])])])


@pytest.mark.parametrize("output_format", FORMATS)
def test_every_reporter_redacts_messages_hints_locations_and_paths(output_format: str) -> None:
    out = io.StringIO()
    reporter_for(output_format)(_report_with_secrets(), out, False)
    printed = out.getvalue()
    assert "MLS801" in printed
    assert "acct.blob.core.windows.net" in printed  # the place is still named...
    assert "sig=" not in printed and SIGNATURE not in printed  # ... without its token
    assert GITHUB_TOKEN not in printed


def test_error_diagnostics_on_stderr_are_redacted() -> None:
    from mlspec.cli import print_diagnostics

    out = io.StringIO()
    print_diagnostics(_report_with_secrets().diagnostics, color=False, stream=out)
    assert "acct.blob.core.windows.net" in out.getvalue()
    assert SIGNATURE not in out.getvalue() and GITHUB_TOKEN not in out.getvalue()


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


@pytest.mark.parametrize("command", ["validate", "build", "plan"])
def test_an_env_value_that_is_a_sas_url_is_not_echoed(project: Path, command: str) -> None:
    code, printed = _cli(command, str(project / "mlproject.yaml"), "--env", SAS_URL)
    assert code == 1
    assert "MLS205" in printed
    assert SIGNATURE not in printed and "sig=" not in printed


def test_a_var_name_that_is_a_token_is_not_echoed(project: Path) -> None:
    code, printed = _cli("validate", str(project / "mlproject.yaml"), "--var", f"{GITHUB_TOKEN}=1")
    assert code == 1
    assert "MLS203" in printed
    assert GITHUB_TOKEN not in printed


def test_a_var_without_a_name_does_not_echo_the_token(project: Path) -> None:
    code, printed = _cli("validate", str(project / "mlproject.yaml"), "--var", GITHUB_TOKEN)
    assert code == 2
    assert "NAME=VALUE" in printed
    assert GITHUB_TOKEN not in printed


def test_control_characters_in_an_env_value_are_escaped(project: Path) -> None:
    code, printed = _cli("validate", str(project / "mlproject.yaml"), "--env", "dev\x1b[2J\nfake: ok")
    assert code == 1
    assert "\x1b" not in printed
    assert "\nfake: ok" not in printed
