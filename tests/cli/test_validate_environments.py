"""`mlspec validate` checks every declared environment by default, and says which one a finding is in.

An overlay typo in `prod` used to pass a plain `mlspec validate` (only the default environment was
checked) and fail `mlspec build --env prod` — the "validate passes, deploy fails" complaint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlspec import api
from mlspec.cli import cli

CONTRACT = Path(__file__).resolve().parent.parent / "compiler" / "data" / "contract" / "mlproject.yaml"
OVERLAY = "      deployment: {replicas: {min: 3, max: 20}}"


@pytest.fixture
def overlay_typo(tmp_path: Path) -> Path:
    """The contract spec with a typo in prod's overlay only (``mxa`` for ``max``)."""
    text = CONTRACT.read_text(encoding="utf-8")
    assert OVERLAY in text
    path = tmp_path / "mlproject.yaml"
    path.write_text(
        text.replace(OVERLAY, "      deployment: {replicas: {min: 3, mxa: 20}}"), encoding="utf-8"
    )
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


def test_a_plain_validate_reports_an_overlay_typo_at_the_overlay_line_naming_the_environment(
    overlay_typo: Path,
) -> None:
    code, out = run("validate", str(overlay_typo), "--no-color")
    line = _line_of(overlay_typo, "mxa: 20")
    assert code == 1, out
    assert f"{overlay_typo}:{line}:" in out
    assert "error MLS100: unknown field 'mxa'" in out
    assert "in environment prod" in out
    assert "did you mean 'max'" in out


def test_env_narrows_the_check_to_one_environment(overlay_typo: Path) -> None:
    assert run("validate", str(overlay_typo), "-e", "dev")[0] == 0
    assert run("validate", str(overlay_typo), "--env", "prod")[0] == 1


def test_the_old_all_envs_flag_still_works(overlay_typo: Path) -> None:
    code, out = run("validate", str(overlay_typo), "--all-envs")
    assert code == 1 and "MLS100" in out


def test_json_and_github_name_the_environment(overlay_typo: Path) -> None:
    code, out = run("validate", str(overlay_typo), "--format", "json")
    document = json.loads(out)
    assert code == 1
    assert document["files"][0]["environments"] == ["dev", "prod", "local"]
    [finding] = [d for d in document["files"][0]["diagnostics"] if d["severity"] == "error"]
    assert (finding["code"], finding["line"], finding["environments"]) == (
        "MLS100",
        _line_of(overlay_typo, "mxa: 20"),
        ["prod"],
    )
    code, out = run("validate", str(overlay_typo), "--format", "github")
    assert "title=MLS100::unknown field 'mxa' (in environment prod)" in out


def test_a_finding_in_every_environment_names_none(tmp_path: Path) -> None:
    text = CONTRACT.read_text(encoding="utf-8")
    path = tmp_path / "mlproject.yaml"
    path.write_text(
        text.replace("inputs: [customers, web_logs]", "inputs: [customers, web_log]"), encoding="utf-8"
    )
    result = api.validate_file(path)
    [finding] = [d for d in result.diagnostics if d.code == "MLS301"]
    assert finding.environments == ()
    assert result.environments == ["dev", "prod", "local"]


def test_one_bad_var_is_one_error_naming_the_variable_and_its_other_uses() -> None:
    code, out = run("validate", str(CONTRACT), "-e", "dev", "--var", "lake_account=Bad_Name", "--no-color")
    assert code == 1
    assert out.count("error MLS") == 1, out
    assert "(the value of --var lake_account; it fails 5 more uses at lines 46, 51, 54, 68, 109" in out


def test_var_file_sets_variables_and_var_wins_over_it(tmp_path: Path) -> None:
    values = tmp_path / "dev.vars.yaml"
    values.write_text("lake_account: Bad_Name\nsubscription_id: 00000000-0000-0000-0000-000000000009\n")
    code, out = run("validate", str(CONTRACT), "-e", "dev", "--var-file", str(values))
    assert code == 1 and "MLS401" in out
    code, out = run(
        "validate", str(CONTRACT), "-e", "dev", "--var-file", str(values), "--var", "lake_account=okay"
    )
    assert code == 0, out


def test_a_var_file_entry_that_is_not_a_value_is_refused_at_its_line(tmp_path: Path) -> None:
    values = tmp_path / "bad.yaml"
    values.write_text("subscription_id: x\nlake_account: [a, b]\n")
    result = CliRunner().invoke(cli, ["validate", str(CONTRACT), "--var-file", str(values)])
    assert result.exit_code == 1
    assert f"{values}:2:15: error MLS209:" in result.stderr
    missing = CliRunner().invoke(cli, ["validate", str(CONTRACT), "--var-file", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "no such file" in missing.stderr


def test_build_check_without_the_sdk_validators_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "kubernetes_validate", None)  # as if not installed
    result = CliRunner().invoke(cli, ["build", str(CONTRACT), "--check", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "error MLS604" in result.stderr and "kubernetes_validate is not installed" in result.stderr
    assert "[azure-checks]" in result.stderr
    assert not (tmp_path / "out").exists()  # refused before building


def test_an_azure_environment_without_credentials_is_refused_at_its_line_in_the_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith(("AZURE_", "IDENTITY_", "MSI_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PATH", str(tmp_path))  # no az, azd or pwsh to sign in with
    monkeypatch.setenv("HOME", str(tmp_path))
    spec = tmp_path / "mlproject.yaml"
    spec.write_text(CONTRACT.read_text(encoding="utf-8"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["plan", str(spec), "-e", "dev"])
    assert result.exit_code == 1
    line = _line_of(spec, "  dev:")
    assert f"mlproject.yaml:{line + 1}:" in result.stderr and "error MLS816" in result.stderr
    assert "no Azure credentials for environment 'dev'" in result.stderr
    assert "<spec>" not in result.stderr


def test_list_items_are_named_by_their_field_in_the_path(tmp_path: Path) -> None:
    text = CONTRACT.read_text(encoding="utf-8")
    spec = tmp_path / "mlproject.yaml"
    spec.write_text(
        text.replace("inputs: [customers, web_logs]", "inputs: [customers, web_log]"), encoding="utf-8"
    )
    [finding] = [d for d in api.validate_file(spec).diagnostics if d.code == "MLS301"]
    assert finding.named_path == finding.dotted_path  # a mapping key names itself
    grants = CliRunner().invoke(cli, ["validate", str(_with_bad_grant(tmp_path)), "--no-color"]).stdout
    assert "at access.grants['AzureML Data Scientis'].role" in grants, grants


def _with_bad_grant(tmp_path: Path) -> Path:
    text = CONTRACT.read_text(encoding="utf-8")
    spec = tmp_path / "grant" / "mlproject.yaml"
    spec.parent.mkdir()
    spec.write_text(
        text.replace("role: AzureML Data Scientist", "role: AzureML Data Scientis", 1), encoding="utf-8"
    )
    return spec
