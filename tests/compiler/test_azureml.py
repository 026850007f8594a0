"""The Azure ML renderer: every artifact loads and validates in azure-ai-ml, mlspec's own checks
catch what the SDK lets through, hostile spec text stays data, and builds are byte-identical."""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec import api
from mlspec.compiler import azureml
from mlspec.compiler.artifacts import Artifact, ArtifactSet, RenderContext
from mlspec.compiler.azureml.names import inert
from mlspec.compiler.serialize import to_yaml
from mlspec.diagnostics import Diagnostic, MlspecError, has_errors
from mlspec.spec_schema.resolve import environment_names

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"
SCRIPT_PROJECT = ROOT / "tests" / "compiler" / "data" / "azureml" / "script_project" / "mlproject.yaml"
SPECS = [CONTRACT, SCRIPT_PROJECT, *sorted(ROOT.glob("projects/*/mlproject.yaml"))]
CASES = [(spec, env) for spec in SPECS for env in environment_names(api.load(spec))]
IDS = [f"{s.parent.name}-{e}" for s, e in CASES]

KINDS = {
    "environment.yml": "environment",
    "compute.yml": "compute",
    "pipeline.yml": "job",
    "schedules/retrain.yml": "schedule",
    "schedules/monitor.yml": "monitor_schedule",
    **{f"components/{step}.yml": "component" for step in ("prepare", "train", "evaluate", "register")},
}

HOSTILE = [
    "\"'; import os; os.system('echo pwned') #",
    "line one\nline two: {a: [b]}\n- item\n  # comment",
    "{{ 7 * 7 }} {% if true %}x{% endif %} {# c #}",
    "${{parent.inputs.training_data}} and ${{parent.jobs.prepare.outputs.train}} $[[inputs.x]]",
    "</script><script>alert(1)</script>",
    "': & * ! | > % @ ` # [ ] { } , ? \\ \t tab \r return",
    "../../../etc/passwd",
    "\"\"\" ''' \\\" \\' \\n \u2028 \U0001f600",
]


@dataclass
class Built:
    """This renderer's part of a build (the other renderers are other tests' business)."""

    ctx: RenderContext
    out: ArtifactSet
    diagnostics: list[Diagnostic]

    @property
    def files(self) -> dict[str, Artifact]:
        return self.out.artifacts


def _build(spec: Path, env: str | None, folder: Path | None = None) -> Built:
    """Validate ``spec`` and render its Azure ML artifacts (written to ``folder`` when given).

    Raises :class:`MlspecError` like ``mlspec build`` when the spec or the artifacts have errors.
    """
    resolved = api.resolve(api.load(spec), env, environ={})
    if resolved.model is None or not resolved.ok:
        raise MlspecError(resolved.diagnostics)
    ctx = RenderContext(resolved.model, resolved.spec)
    out = ArtifactSet()
    azureml.render(ctx, out)
    diagnostics = [*out.diagnostics, *azureml.check(ctx, out)]
    if has_errors(diagnostics):
        raise MlspecError(diagnostics)
    if folder is not None:
        for path, artifact in out.artifacts.items():
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(artifact.content)
    return Built(ctx, out, diagnostics)


def _aml_files(folder: Path) -> dict[str, str]:
    base = folder / "azureml"
    return {name: kind for name, kind in KINDS.items() if (base / name).is_file()}


# -- every example, every environment: the SDK loads and validates each artifact ---------------------------


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_every_artifact_passes_the_azure_ml_loaders(spec: Path, env: str, tmp_path: Path) -> None:
    check_aml_file = pytest.importorskip("mlspec.compiler.platform_checks.azureml").check_aml_file
    pytest.importorskip("azure.ai.ml")
    _build(spec, env, tmp_path)
    files = _aml_files(tmp_path)
    assert {"environment.yml", "compute.yml", "pipeline.yml", "components/train.yml"} <= set(files)
    for name, kind in files.items():
        problems = check_aml_file(tmp_path / "azureml" / name, kind)  # type: ignore[arg-type]
        assert problems == [], f"{name}: {problems}"


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_monitor_schedule_converts_to_the_rest_body(spec: Path, env: str, tmp_path: Path) -> None:
    """MonitorSchedule has no _validate(); converting to the REST body runs its real rules
    (compute runtime version, thresholds, data contexts)."""
    pytest.importorskip("azure.ai.ml")
    from azure.ai.ml.entities._load_functions import load_schedule

    _build(spec, env, tmp_path)
    monitor = tmp_path / "azureml" / "schedules" / "monitor.yml"
    if not monitor.is_file():
        pytest.skip("this project has no drift or data-quality alert")
    body = load_schedule(monitor)._to_rest_object().as_dict()
    signals = body["properties"]["action"]["monitorDefinition"]["signals"]
    assert signals and all(s["mode"] == "Enabled" for s in signals.values())


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_generated_scripts_parse_and_checks_pass(spec: Path, env: str, tmp_path: Path) -> None:
    result = _build(spec, env, tmp_path)
    scripts = sorted((tmp_path / "azureml" / "src").rglob("*.py"))
    assert {p.name for p in scripts} >= {"prepare.py", "train.py", "evaluate.py", "register.py"}
    for script in scripts:
        ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    assert [d for d in result.diagnostics if d.is_error] == []


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_rebuild_is_byte_identical(spec: Path, env: str) -> None:
    first, second = _build(spec, env), _build(spec, env)
    assert {p: a.content for p, a in first.files.items()} == {p: a.content for p, a in second.files.items()}
    assert [(r.address, r.files, r.depends_on) for r in first.out.resources] == [
        (r.address, r.files, r.depends_on) for r in second.out.resources
    ]


def test_whole_build_of_the_contract_carries_the_azure_ml_resources(tmp_path: Path) -> None:
    result = api.build(CONTRACT, "dev", out_dir=tmp_path, environ={})
    assert any(str(r.address) == "aml.pipeline.churn-classifier" for r in result.manifest.resources)
    assert (tmp_path / "azureml" / "pipeline.yml").is_file()


# -- resources ----------------------------------------------------------------------------------------------


def test_contract_resources_addresses_and_dependencies() -> None:
    aml = {str(r.address): r for r in _build(CONTRACT, "dev").out.resources}
    assert set(aml) == {
        "aml.environment.churn-classifier",
        "aml.compute.cpu-cluster",
        "aml.component.prepare",
        "aml.component.train",
        "aml.component.evaluate",
        "aml.component.register",
        "aml.pipeline.churn-classifier",
        "aml.schedule.churn-classifier-retrain",
        "aml.monitor.churn-classifier",
        "aml.component.refresh_features",
        "aml.component.monitor",
        "aml.component.prediction_log_preprocess",
        "aml.schedule.churn-classifier-monitoring",
    }
    assert aml["aml.compute.cpu-cluster"].provider_type == "azureml:compute"
    assert {"size", "type"} <= set(aml["aml.compute.cpu-cluster"].immutable)
    assert aml["aml.component.train"].files == ["azureml/components/train.yml", "azureml/src/train/train.py"]
    assert [str(d) for d in aml["aml.component.train"].depends_on] == ["aml.environment.churn-classifier"]
    assert {str(d) for d in aml["aml.pipeline.churn-classifier"].depends_on} == {
        "aml.component.refresh_features",
        "aml.component.prepare",
        "aml.component.train",
        "aml.component.evaluate",
        "aml.component.register",
        "aml.compute.cpu-cluster",
    }
    assert [str(d) for d in aml["aml.schedule.churn-classifier-retrain"].depends_on] == [
        "aml.pipeline.churn-classifier"
    ]
    assert aml["aml.monitor.churn-classifier"].provider_type == "azureml:monitor_schedule"
    assert [str(d) for d in aml["aml.monitor.churn-classifier"].depends_on] == [
        "aml.component.prediction_log_preprocess"
    ]
    assert {"aml.component.monitor", "aml.pipeline.churn-classifier"} <= {
        str(d) for d in aml["aml.schedule.churn-classifier-monitoring"].depends_on
    }
    assert aml["aml.pipeline.churn-classifier"].source == ("model",)


def test_a_changed_script_changes_only_its_component_version(tmp_path: Path) -> None:
    data = yaml.safe_load(CONTRACT.read_text())
    before = _build(CONTRACT, "dev")
    data["model"]["evaluation"]["gate"] = {"roc_auc": ">= 0.9"}
    after = _build(_write_spec(tmp_path, data), "dev")

    def versions(result: Any) -> dict[str, str]:
        out: dict[str, str] = {}
        for step in ("prepare", "train", "evaluate", "register"):
            out[step] = yaml.safe_load(result.files[f"azureml/components/{step}.yml"].content)["version"]
        return out

    one, two = versions(before), versions(after)
    assert one["evaluate"] != two["evaluate"]
    assert {k: v for k, v in one.items() if k != "evaluate"} == {
        k: v for k, v in two.items() if k != "evaluate"
    }


def test_conda_file_adds_runtime_packages_but_keeps_the_teams_pins() -> None:
    conda = yaml.safe_load(_build(CONTRACT, "dev").files["azureml/conda.yml"].content)
    pip = conda["dependencies"][-1]["pip"]
    assert "scikit-learn==1.5.2" in pip
    assert not any(p.startswith("scikit-learn>") for p in pip)
    assert any(p.startswith("mlflow") for p in pip) and "pyarrow>=15,<21" in pip
    assert any(p.startswith("deltalake") for p in pip)  # the contract trains on a delta table
    assert conda["dependencies"][0] == "python=3.11"
    # what mlspec adds is bounded, so a rebuilt environment cannot jump a major version
    for added in ("azureml-mlflow>=1.57,<2", "pyarrow>=15,<21", "deltalake>=0.18,<2"):
        assert added in pip
    environment = yaml.safe_load(_build(CONTRACT, "dev").files["azureml/environment.yml"].content)
    assert "@sha256:" in environment["image"] and not environment["image"].endswith(":latest")


# -- mlspec's own checks catch what the SDK lets through ----------------------------------------------------


def _compiled(spec: Path = CONTRACT, env: str = "dev") -> tuple[RenderContext, ArtifactSet]:
    built = _build(spec, env)
    return built.ctx, built.out


def _mutate(out: ArtifactSet, path: str, change: Any) -> None:
    data = yaml.safe_load(out.artifacts[path].content)
    change(data)
    out.artifacts[path] = Artifact(path, to_yaml(data), data)


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(data: Any) -> None:
        node = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


MUTATIONS = [
    (
        "azureml/pipeline.yml",
        _set(("jobs", "prepare", "inputs", "data"), "${{parent.inputs.nope}}"),
        "MLS620",
        "no input 'nope'",
    ),
    (
        "azureml/pipeline.yml",
        _set(("jobs", "train", "inputs", "train_data"), "${{parent.jobs.ghost.outputs.train}}"),
        "MLS620",
        "no step 'ghost'",
    ),
    (
        "azureml/pipeline.yml",
        _set(("jobs", "train", "inputs", "train_data"), "${{parent.jobs.prepare.outputs.nope}}"),
        "MLS620",
        "no output 'nope'",
    ),
    (
        "azureml/pipeline.yml",
        _set(("jobs", "train", "outputs", "model"), "${{parent.outputs.nope}}"),
        "MLS620",
        "no output 'nope'",
    ),
    (
        "azureml/pipeline.yml",
        _set(("jobs", "train", "inputs", "train_data"), "${{parent.inptus.x}}"),
        "MLS620",
        "neither",
    ),
    (
        "azureml/pipeline.yml",
        _set(("jobs", "prepare", "inputs", "data"), "${{parent.jobs.evaluate.outputs.evaluation}}"),
        "MLS620",
        "cycle",
    ),
    (
        "azureml/pipeline.yml",
        _set(("jobs", "train", "enviroment"), "x"),
        "MLS622",
        "unknown key 'enviroment'",
    ),
    (
        "azureml/pipeline.yml",
        _set(("jobs", "train", "inputs", "extra"), "${{parent.inputs.seed}}"),
        "MLS622",
        "not an input",
    ),
    (
        "azureml/pipeline.yml",
        lambda d: d["jobs"]["evaluate"]["inputs"].pop("model"),
        "MLS622",
        "required input 'model'",
    ),
    (
        "azureml/pipeline.yml",
        _set(("jobs", "train", "component"), "./components/missing.yml"),
        "MLS622",
        "not a rendered component",
    ),
    (
        "azureml/pipeline.yml",
        _set(("description",), "${{parent.inputs.training_data}}"),
        "MLS623",
        "binding syntax",
    ),
    (
        "azureml/pipeline.yml",
        _set(("jobs", "train", "inputs", "${{parent.inputs.seed}}"), "${{parent.inputs.seed}}"),
        "MLS623",
        "binding syntax",
    ),
    (
        "azureml/pipeline.yml",
        _set(("settings", "default_compute"), "azureml:other"),
        "MLS620",
        "default_compute",
    ),
    (
        "azureml/components/train.yml",
        _set(("command",), "python train.py --x ${{inputs.nope}}"),
        "MLS621",
        "does not declare",
    ),
    (
        "azureml/components/train.yml",
        _set(("command",), "python missing.py"),
        "MLS621",
        "not in the code folder",
    ),
    (
        "azureml/components/train.yml",
        _set(("inputs", "train_data", "type"), "uri_folders"),
        "MLS621",
        "has type 'uri_folders'",
    ),
    (
        "azureml/components/train.yml",
        _set(("environment",), "azureml:other:1"),
        "MLS621",
        "not the rendered environment",
    ),
    (
        "azureml/schedules/retrain.yml",
        _set(("trigger", "expression"), "61 3 * * 1"),
        "MLS624",
        "cron expression",
    ),
    ("azureml/schedules/retrain.yml", _set(("create_job",), "./pipeline.yml"), "MLS624", "create_job"),
    (
        "azureml/schedules/monitor.yml",
        _set(
            ("create_monitor", "monitoring_signals", "feature-drift", "metric_thresholds"),
            {"numerical": {"bogus": 0.1}},
        ),
        "MLS625",
        "'bogus' is not a numerical data_drift metric",
    ),
    (
        "azureml/schedules/monitor.yml",
        _set(
            ("create_monitor", "monitoring_signals", "feature-drift", "production_data", "data_context"),
            "inputs",
        ),
        "MLS625",
        "data_context",
    ),
    ("azureml/schedules/monitor.yml", _set(("trigger", "frequency"), "fortnight"), "MLS625", "frequency"),
]


def test_unmutated_artifacts_pass_the_checks() -> None:
    ctx, out = _compiled()
    assert azureml.check(ctx, out) == []


@pytest.mark.parametrize(("artifact", "change", "code", "words"), MUTATIONS, ids=[m[3] for m in MUTATIONS])
def test_check_catches_a_broken_artifact(artifact: str, change: Any, code: str, words: str) -> None:
    ctx, out = _compiled()
    _mutate(out, artifact, change)
    found = azureml.check(ctx, out)
    assert any(d.code == code and words in d.message for d in found), found
    assert all(d.location is not None and d.location.file == str(CONTRACT) for d in found)


def test_sdk_loads_a_pipeline_with_a_dangling_binding_that_check_reports(tmp_path: Path) -> None:
    """Why mlspec checks bindings itself: azure-ai-ml accepts this pipeline."""
    check_aml_file = pytest.importorskip("mlspec.compiler.platform_checks.azureml").check_aml_file
    pytest.importorskip("azure.ai.ml")
    ctx, out = _compiled()
    _mutate(
        out,
        "azureml/pipeline.yml",
        _set(("jobs", "train", "inputs", "train_data"), "${{parent.jobs.prepare.outputs.nope}}"),
    )
    for path, artifact in out.artifacts.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(artifact.content)
    sdk = check_aml_file(tmp_path / "azureml" / "pipeline.yml", "job")
    ours = azureml.check(ctx, out)
    assert any(d.code == "MLS620" for d in ours)
    assert sdk == [] or any(
        "nope" in p.message for p in sdk
    )  # the SDK itself says nothing; mlspec's extras may


def test_monitor_metric_problem_points_at_the_alert(tmp_path: Path) -> None:
    data = yaml.safe_load(CONTRACT.read_text())
    drift = next(a for a in data["monitoring"]["alerts"] if a["name"] == "feature-drift")
    drift["metric"] = "pearsons_chi_squared_tset"
    spec = _write_spec(tmp_path, data)
    with pytest.raises(MlspecError) as caught:
        _build(spec, "dev")
    [problem] = [d for d in caught.value.diagnostics if d.code == "MLS625" and d.is_error]
    assert problem.path == ("monitoring", "alerts", 2, "metric")
    assert problem.location is not None and problem.location.line > 1


def test_statistical_test_metric_with_a_rising_operator_warns(tmp_path: Path) -> None:
    data = yaml.safe_load(CONTRACT.read_text())
    drift = next(a for a in data["monitoring"]["alerts"] if a["name"] == "feature-drift")
    drift["metric"] = "two_sample_kolmogorov_smirnov_test"
    spec = _write_spec(tmp_path, data)
    result = _build(spec, "dev")
    assert not [d for d in result.diagnostics if d.code == "MLS625"], "validate warns, not the renderer"
    [warning] = [d for d in api.resolve(api.load(spec), "dev", environ={}).diagnostics if d.code == "MLS625"]
    assert not warning.is_error and warning.path == ("monitoring", "alerts", 2, "operator")
    monitor = yaml.safe_load(result.files["azureml/schedules/monitor.yml"].content)
    thresholds = monitor["create_monitor"]["monitoring_signals"]["feature-drift"]["metric_thresholds"]
    assert thresholds == {"numerical": {"two_sample_kolmogorov_smirnov_test": 0.2}}


def test_missing_team_script_is_an_error_at_the_script_line(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "src").mkdir()
    data = yaml.safe_load(SCRIPT_PROJECT.read_text())
    spec = project / "mlproject.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    (project / "src" / "train.py").write_text("print('hi')\n")
    resolved = api.resolve(api.load(spec), "dev", environ={})
    assert resolved.model is not None and resolved.ok
    (project / "src" / "train.py").unlink()  # gone between validation and build
    out = ArtifactSet()
    azureml.render(RenderContext(resolved.model, resolved.spec), out)
    [problem] = [d for d in out.diagnostics if d.code == "MLS626"]
    assert problem.is_error
    assert problem.path == ("model", "training", "script")
    assert problem.location is not None and problem.location.file == str(spec)


def test_script_mode_ships_the_team_script_and_a_wrapper() -> None:
    result = _build(SCRIPT_PROJECT, "dev")
    files = result.files
    team = (SCRIPT_PROJECT.parent / "src" / "train.py").read_bytes()
    assert files["azureml/src/train/team/train.py"].content == team
    wrapper = files["azureml/src/train/train.py"].content.decode()
    assert "TEAM_SCRIPT = 'team/train.py'" in wrapper
    train = next(r for r in result.out.resources if str(r.address) == "aml.component.train")
    assert "azureml/src/train/team/train.py" in train.files


# -- hostile text stays data ------------------------------------------------------------------------------


def _write_spec(folder: Path, data: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "mlproject.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return spec


def _assigned_literal(source: str, name: str) -> Any:
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not assigned")


@pytest.mark.parametrize("payload", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_in_free_text_fields_stays_data(payload: str, tmp_path: Path) -> None:
    data = copy.deepcopy(yaml.safe_load(CONTRACT.read_text()))
    data["project"]["description"] = payload
    data["model"]["description"] = "model: " + payload
    tag = re.sub(r"[\x00-\x1f\x7f-\x9f]", " ", payload)  # Azure refuses control characters in tags (MLS401)
    data["project"]["tags"] = {"note": tag}
    data["model"]["training"]["params"] = {
        "n_estimators": 5,
        "note": payload,
        payload: [payload, {"k": payload}],
    }
    for alert in data["monitoring"]["alerts"]:
        alert["description"] = payload
    spec = _write_spec(tmp_path / "spec", data)
    result = _build(spec, "dev", tmp_path / "out")
    files = result.files
    assert azureml.check(result.ctx, result.out) == []
    pipeline = yaml.safe_load(files["azureml/pipeline.yml"].content)
    assert pipeline["description"] == inert("model: " + payload)
    assert pipeline["tags"] == {"note": inert(tag)}
    environment = yaml.safe_load(files["azureml/environment.yml"].content)
    assert environment["description"] == inert("model: " + payload)
    for path, artifact in files.items():
        if path.startswith("azureml/") and path.endswith(".yml"):
            text = artifact.content.decode()
            yaml.safe_load(text)
            pipelines = ("azureml/pipeline.yml", "azureml/monitoring-job.yml")  # their jobs bind ports
            if "${{" in payload and path not in pipelines and "components/" not in path:
                assert "${{" not in text, path
    train = files["azureml/src/train/train.py"].content.decode()
    assert _assigned_literal(train, "PARAMS") == data["model"]["training"]["params"]
    for step in ("prepare", "evaluate", "register"):
        ast.parse(files[f"azureml/src/{step}/{step}.py"].content.decode())

    check_aml_file = pytest.importorskip("mlspec.compiler.platform_checks.azureml").check_aml_file
    pytest.importorskip("azure.ai.ml")
    for name, kind in _aml_files(tmp_path / "out").items():
        assert check_aml_file(tmp_path / "out" / "azureml" / name, kind) == [], name  # type: ignore[arg-type]


def test_hostile_column_names_stay_literals_and_data(tmp_path: Path) -> None:
    column = "x'\"; ${{parent.inputs.seed}} {{ c }}\n</script>"
    data = yaml.safe_load(SCRIPT_PROJECT.read_text())
    data["sources"]["patients"]["schema"] = {"age": "double", column: "double", "progression": "double"}
    data["model"]["training"]["features"] = ["age", column]
    data["monitoring"]["alerts"][0]["features"] = [column]
    folder = tmp_path / "project"
    spec = _write_spec(folder, data)
    (folder / "src").mkdir()
    (folder / "src" / "train.py").write_bytes((SCRIPT_PROJECT.parent / "src" / "train.py").read_bytes())
    result = _build(spec, "dev", tmp_path / "out")
    for step in ("prepare", "evaluate"):
        source = result.files[f"azureml/src/{step}/{step}.py"].content.decode()
        assert _assigned_literal(source, "FEATURES") == ["age", column]
    wrapper = result.files["azureml/src/train/train.py"].content.decode()
    assert _assigned_literal(wrapper, "FEATURES") == ["age", column]
    monitor = yaml.safe_load(result.files["azureml/schedules/monitor.yml"].content)
    assert monitor["create_monitor"]["monitoring_signals"]["missing-labs"]["features"] == [inert(column)]


def test_a_feature_with_a_comma_cannot_reach_a_team_script(tmp_path: Path) -> None:
    data = yaml.safe_load(SCRIPT_PROJECT.read_text())
    data["sources"]["patients"]["schema"]["a,b"] = "double"
    data["model"]["training"]["features"] = ["age", "bmi", "s5", "a,b"]
    folder = tmp_path / "project"
    spec = _write_spec(folder, data)
    (folder / "src").mkdir()
    (folder / "src" / "train.py").write_text("print(1)\n")
    with pytest.raises(MlspecError) as caught:
        _build(spec, "dev")
    assert [d.path for d in caught.value.diagnostics if d.code == "MLS628"] == [
        ("model", "training", "features", 3)
    ]


def test_importing_the_renderer_loads_no_heavy_packages() -> None:
    import subprocess
    import sys

    code = (
        "import sys, mlspec.compiler.azureml; "
        "heavy = [m for m in ('azure.ai.ml', 'mlflow', 'sklearn', 'pandas') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == ""


def test_every_step_runs_the_registered_component_version_the_build_registers() -> None:
    """A step naming a component file makes Azure ML register an anonymous copy per submission."""
    result = _build(CONTRACT, "dev")
    pipeline = yaml.safe_load(result.files["azureml/pipeline.yml"].content)
    for step, job in pipeline["jobs"].items():
        component = yaml.safe_load(result.files[f"azureml/components/{step}.yml"].content)
        assert job["component"] == f"azureml:{component['name']}:{component['version']}", step
    resources = {str(r.address): r for r in result.out.resources}
    needed = {f"aml.component.{step}" for step in pipeline["jobs"]}
    assert needed <= {str(d) for d in resources["aml.pipeline.churn-classifier"].depends_on}
