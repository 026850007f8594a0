"""``mlspec init``: scaffolded projects validate cleanly everywhere and run; bad input is refused."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
from click.testing import CliRunner

from mlspec import api
from mlspec.cli import cli
from mlspec.diagnostics import MlspecError
from mlspec.scaffold import TEMPLATES, init_project, render_template

ABFSS = re.compile(r"abfss://(?P<container>[^@]+)@(?P<account>[^.]+)\.dfs\.core\.windows\.net/(?P<path>.*)")
# Shortest and longest names, hyphen runs (key vaults forbid "--"), a Synapse reserved word.
NAMES = ["abc", "a-very-long-project-name", "x--y--z", "ondemand-2", "fraud-scoring"]
EXPECTED_FILES = {
    "tabular": {
        ".gitignore",
        "README.md",
        "mlproject.yaml",
        "data/generate.py",
        "transforms/clean_customers.py",
        ".mlspec/secrets.yaml",
        ".mlspec/schema/mlproject.v1.schema.json",  # what the spec's `$schema=` line points at
    },
    "images": {
        ".gitignore",
        "README.md",
        "mlproject.yaml",
        "data/generate.py",
        "transforms/image_features.py",
        ".mlspec/secrets.yaml",
        ".mlspec/schema/mlproject.v1.schema.json",  # what the spec's `$schema=` line points at
    },
}


def _shown(diagnostics: list[object]) -> str:
    return "\n".join(str(d) for d in diagnostics)


def test_templates_are_the_ones_the_cli_offers() -> None:
    assert set(TEMPLATES) == {"tabular", "images"} == set(EXPECTED_FILES)


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("name", NAMES)
def test_scaffold_validates_without_any_diagnostic_in_every_environment(
    template: str, name: str, tmp_path: Path
) -> None:
    destination = tmp_path / name
    created = init_project(name, destination, template)  # type: ignore[arg-type]

    assert created == sorted(created)
    assert {p.relative_to(destination).as_posix() for p in created} == EXPECTED_FILES[template]
    result = api.validate_file(destination / "mlproject.yaml", all_environments=True)
    assert set(result.environments) == {"dev", "prod", "local"}
    assert result.diagnostics == [], _shown(result.diagnostics)
    spec = api.load(destination / "mlproject.yaml")
    assert spec.data["project"]["name"] == name
    assert spec.data["environments"]["prod"]["protect"] is True
    assert spec.text.startswith("# yaml-language-server: $schema=.mlspec/schema/mlproject.v1.schema.json\n")


@pytest.mark.parametrize("template", TEMPLATES)
def test_scaffold_gitignore_and_code(template: str, tmp_path: Path) -> None:
    init_project("demo", tmp_path / "demo", template)  # type: ignore[arg-type]
    ignored = (tmp_path / "demo" / ".gitignore").read_text().splitlines()
    assert "build/" in ignored and ".mlspec/" in ignored
    for python_file in (tmp_path / "demo").rglob("*.py"):
        compile(python_file.read_text(), str(python_file), "exec")
    transform = next((tmp_path / "demo" / "transforms").glob("*.py"))
    # The transform must import where PySpark is absent (sys.modules[...] = None blocks the import).
    probe = (
        "import sys, importlib.util\n"
        "sys.modules['pyspark'] = None\n"
        f"s = importlib.util.spec_from_file_location('probe', {str(transform)!r})\n"
        "m = importlib.util.module_from_spec(s); s.loader.exec_module(m)\n"
        "assert callable(m.transform)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("template", TEMPLATES)
def test_scaffold_logs_predictions_for_its_drift_alerts(template: str, tmp_path: Path) -> None:
    import yaml

    init_project("demo", tmp_path / "demo", template)  # type: ignore[arg-type]
    spec = yaml.safe_load((tmp_path / "demo" / "mlproject.yaml").read_text())
    assert any(a["signal"] in ("data_drift", "prediction_drift") for a in spec["monitoring"]["alerts"])
    assert spec["deployment"]["log_predictions"]["path"].startswith("abfss://")


@pytest.mark.parametrize("template", TEMPLATES)
def test_scaffold_generator_writes_every_source(template: str, tmp_path: Path) -> None:
    project = tmp_path / "demo-project"
    init_project("demo-project", project, template)  # type: ignore[arg-type]
    lake = tmp_path / "lake"
    done = subprocess.run(
        [sys.executable, str(project / "data" / "generate.py"), "--lake", str(lake)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    resolved = api.resolve(api.load(project), "dev")
    assert resolved.model is not None
    for name, source in resolved.model.sources.items():
        match = ABFSS.fullmatch(source.path)
        assert match is not None
        folder = lake / match["account"] / match["container"] / match["path"]
        assert sorted(folder.glob(source.glob or "*")), f"no data for source {name!r} in {folder}"


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "x" * 25,
        "Churn",
        "9lives",
        "trailing-",
        "-leading",
        "under_score",
        "a.b",
        "a: b",
        "new\nline",
        "",
    ],
)
def test_bad_name_is_refused_before_anything_is_written(name: str, tmp_path: Path) -> None:
    destination = tmp_path / "project"
    with pytest.raises(MlspecError) as caught:
        init_project(name, destination)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "MLS000"
    assert f"invalid project name {name!r}" in str(caught.value)
    assert diagnostic.hint is not None and "lowercase DNS label of 3-24 characters" in diagnostic.hint
    assert not destination.exists()


def test_non_empty_destination_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(MlspecError) as caught:
        init_project("churn", tmp_path)
    assert "is not empty" in str(caught.value)
    assert (
        caught.value.diagnostics[0].hint is not None
        and "never overwrites" in caught.value.diagnostics[0].hint
    )
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_destination_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "churn"
    target.write_text("")
    with pytest.raises(MlspecError, match="is a file"):
        init_project("churn", target)


def test_empty_existing_folder_is_used(tmp_path: Path) -> None:
    created = init_project("churn", tmp_path, "tabular")
    assert (tmp_path / "mlproject.yaml") in created


def test_unknown_template_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MlspecError, match="unknown template 'audio'"):
        init_project("churn", tmp_path / "churn", "audio")  # type: ignore[arg-type]
    assert not (tmp_path / "churn").exists()


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_missing_template_value_is_an_error_not_an_empty_string(template: str) -> None:
    with pytest.raises(jinja2.UndefinedError):
        render_template(template, {})


def test_cli_init_creates_a_valid_project_and_reports_a_bad_name(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(cli, ["init", "demo", "--template", "images", "--dir", str(tmp_path / "demo")])
    assert done.exit_code == 0, done.output
    assert "created" in done.output and "mlproject.yaml" in done.output
    assert api.validate_file(tmp_path / "demo", all_environments=True).diagnostics == []
    refused = runner.invoke(cli, ["init", "Not_A_Name", "--dir", str(tmp_path / "bad")])
    assert refused.exit_code != 0
    assert "invalid project name 'Not_A_Name'" in refused.output
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("template", ["tabular", "images"])
def test_scaffolded_project_builds_in_every_environment(template: str, tmp_path: Path) -> None:
    """`validate` passing must mean `build` passes too: the scaffold is what newcomers start from."""
    from mlspec import api
    from mlspec.spec_schema.resolve import environment_names

    project = tmp_path / "proj"
    init_project("newproj", project, template)  # type: ignore[arg-type]
    spec = project / "mlproject.yaml"
    for env in environment_names(api.load(spec)):
        result = api.build(spec, env, environ={})
        assert result.manifest.resources, env
        assert not [d for d in result.diagnostics if d.is_error], env


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_scaffold_plans_and_applies_at_once_with_no_cloud_account(template: str, tmp_path: Path) -> None:
    """`mlspec init` then a bare `mlspec plan` / `apply` (no --env): the embedded local environment,
    never an Azure one that this version cannot deploy (MLS810)."""
    project = tmp_path / "proj"
    init_project("newproj", project, template)  # type: ignore[arg-type]
    runner = CliRunner()
    for command in (["validate"], ["build", "-q"], ["plan"], ["apply", "--auto-approve", "-q"]):
        done = runner.invoke(
            cli,
            [*command, str(project / "mlproject.yaml")]
            if command[0] != "validate"
            else [*command, str(project)],
        )
        assert done.exit_code == 0, f"{command}: {done.output}"
    assert "Apply complete!" in done.stdout


@pytest.mark.parametrize("template", TEMPLATES)
def test_scaffold_gives_each_secret_a_private_local_stand_in(template: str, tmp_path: Path) -> None:
    import stat

    import yaml

    init_project("demo", tmp_path / "demo", template)  # type: ignore[arg-type]
    spec = yaml.safe_load((tmp_path / "demo" / "mlproject.yaml").read_text())
    names = {ref["name"] for ref in spec["access"]["secrets"].values()}
    local = tmp_path / "demo" / ".mlspec" / "secrets.yaml"
    values = yaml.safe_load(local.read_text())
    assert set(values) == names and all(v.startswith("local-") and len(v) > 20 for v in values.values())
    assert stat.S_IMODE(local.stat().st_mode) == 0o600
    other = tmp_path / "other"
    init_project("demo", other, template)  # type: ignore[arg-type]
    assert yaml.safe_load((other / ".mlspec" / "secrets.yaml").read_text()) != values  # random, per project
