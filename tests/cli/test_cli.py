"""The command line as users and CI call it: exit codes, output formats, colour, usage errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlspec.cli import cli

CONTRACT = Path(__file__).resolve().parent.parent / "compiler" / "data" / "contract" / "mlproject.yaml"


@pytest.fixture
def invalid_spec(tmp_path: Path) -> Path:
    text = CONTRACT.read_text(encoding="utf-8")
    bad = text.replace("inputs: [customers, web_logs]", "inputs: [customers, web_log]")
    assert bad != text
    path = tmp_path / "mlproject.yaml"
    path.write_text(bad, encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_valid_spec_exits_zero_and_says_so() -> None:
    code, out, _ = run("validate", str(CONTRACT), "--all-envs")
    assert code == 0
    assert "1 spec valid" in out


def test_invalid_spec_exits_one_with_compiler_style_location(invalid_spec: Path) -> None:
    code, out, _ = run("validate", str(invalid_spec))
    line = _line_of(invalid_spec, "web_log]")
    assert code == 1
    assert f"{invalid_spec}:{line}:" in out
    assert "error MLS301: transform 'customer_features' reads unknown input 'web_log'" in out
    assert "hint: did you mean 'web_logs'?" in out


def test_missing_path_is_a_usage_error_exit_two(tmp_path: Path) -> None:
    code, out, _ = run("validate", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert f"error MLS000: no such file or folder: '{tmp_path / 'nope.yaml'}'" in out


def test_missing_path_still_gives_one_json_document_and_checks_the_rest(
    tmp_path: Path, invalid_spec: Path
) -> None:
    code, out, _ = run("validate", str(invalid_spec), str(tmp_path / "nope.yaml"), "--format", "json")
    document = json.loads(out)
    assert code == 2
    codes = {f["file"]: [d["code"] for d in f["diagnostics"]] for f in document["files"]}
    assert codes == {str(tmp_path / "nope.yaml"): ["MLS000"], str(invalid_spec): ["MLS301"]}


def test_sarif_declares_code_point_columns(invalid_spec: Path) -> None:
    _, out, _ = run("validate", str(invalid_spec), "--format", "sarif")
    assert json.loads(out)["runs"][0]["columnKind"] == "unicodeCodePoints"


def test_unknown_flag_and_bad_var_are_usage_errors() -> None:
    assert run("validate", "--bogus")[0] == 2
    code, _, err = run("validate", str(CONTRACT), "--var", "no-equals-sign")
    assert code == 2
    assert "NAME=VALUE" in err


def test_json_format_is_one_document_with_locations(invalid_spec: Path) -> None:
    code, out, _ = run("validate", str(invalid_spec), "--format", "json")
    document = json.loads(out)
    assert code == 1
    assert document["valid"] is False
    diagnostic = document["files"][0]["diagnostics"][0]
    assert diagnostic["code"] == "MLS301"
    assert diagnostic["line"] == _line_of(invalid_spec, "web_log]")
    assert diagnostic["path"] == "transforms.customer_features.inputs[1]"


def test_github_format_emits_workflow_commands(invalid_spec: Path) -> None:
    _, out, _ = run("validate", str(invalid_spec), "--format", "github")
    line = _line_of(invalid_spec, "web_log]")
    assert out.startswith(f"::error file={invalid_spec},line={line},col=")
    assert "title=MLS301::" in out


def test_sarif_format_is_sarif_2_1_0(invalid_spec: Path) -> None:
    _, out, _ = run("validate", str(invalid_spec), "--format", "sarif")
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    result = sarif["runs"][0]["results"][0]
    assert result["ruleId"] == "MLS301"
    assert result["level"] == "error"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == _line_of(invalid_spec, "web_log]")
    assert [r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]] == ["MLS301"]


def test_strict_turns_warnings_into_failures(tmp_path: Path) -> None:
    text = CONTRACT.read_text().replace("    protect: true", "    protect: false")
    spec = tmp_path / "mlproject.yaml"
    spec.write_text(text)
    assert run("validate", str(spec), "--all-envs")[0] == 0
    code, out, _ = run("validate", str(spec), "--all-envs", "--strict")
    assert code == 1
    assert "MLS208" in out


def test_folders_and_globs_find_every_spec(tmp_path: Path, invalid_spec: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(CONTRACT, tmp_path / name / "mlproject.yaml")
    code, out, _ = run("validate", str(tmp_path / "a"), str(tmp_path / "b"))
    assert (code, "2 specs valid") == (0, out.strip())
    code, out, _ = run("validate", str(tmp_path / "*" / "mlproject.yaml"))
    assert code == 0 and "2 specs valid" in out


def test_unknown_environment_is_reported(tmp_path: Path) -> None:
    code, out, _ = run("validate", str(CONTRACT), "--env", "staging")
    assert code == 1
    assert "MLS205" in out and "unknown environment 'staging'" in out


def test_var_overrides_the_default() -> None:
    code, out, _ = run("validate", str(CONTRACT), "--var", "lake_account=Not_Valid")
    assert code == 1
    assert "MLS412" in out or "MLS401" in out


def test_no_color_when_not_a_terminal(invalid_spec: Path) -> None:
    _, out, _ = run("validate", str(invalid_spec))
    assert "\x1b[" not in out


def test_schema_command_prints_the_published_schema() -> None:
    code, out, _ = run("schema")
    schema = json.loads(out)
    assert code == 0
    assert schema["title"] == "mlproject.yaml (mlspec/v1)"
    assert "transforms" in schema["properties"]


def test_console_entry_point_runs_as_a_module(invalid_spec: Path) -> None:
    """The real process: exit code and stderr/stdout split as a CI runner sees them."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mlspec.cli import main; main()",
            "validate",
            str(invalid_spec),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["error_count"] == 1


def test_verbose_lists_what_was_checked_on_stderr() -> None:
    code, out, err = run("validate", str(CONTRACT), "--all-envs", "-v")
    assert code == 0 and "1 spec valid" in out
    assert f"checked {CONTRACT} [dev, prod, local]: 0 finding(s)" in err


def test_unquoted_decimal_in_a_flow_mapping_gets_a_quoting_hint(tmp_path: Path) -> None:
    spec = tmp_path / "mlproject.yaml"
    spec.write_text(
        CONTRACT.read_text().replace("churned: boolean}", "churned: boolean, amount: decimal(10,2)}")
    )
    code, out, _ = run("validate", str(spec))
    assert code == 1
    assert "'2)' is the tail of a value split at a comma inside {...}" in out
    assert 'amount: "decimal(10,2)"' in out


@pytest.mark.parametrize("command", ["run", "serve", "status"])
def test_an_empty_lake_option_is_refused_rather_than_meaning_the_current_folder(command: str) -> None:
    result = CliRunner().invoke(cli, [command, str(CONTRACT), "--lake", ""], catch_exceptions=False)
    assert result.exit_code == 2
    assert "--lake is empty: name the lake folder" in result.output
