"""Retraining on a Synapse transform refreshes the features first: the ``refresh_features`` step.

A model trained on a transform gets a first pipeline step that runs the Synapse pipeline when its last
success is older than ``monitoring.retrain.max_feature_age``, and ``prepare`` waits for it through a data
binding (Azure ML orders steps by data only). A model trained on a source gets none, and its components
and pipeline job carry no trace of it.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from mlspec import api
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.azureml import refresh
from mlspec.compiler.services import SERVICES

ROOT = Path(__file__).resolve().parents[2]
CHURN = ROOT / "projects" / "churn" / "mlproject.yaml"
ON_A_SOURCE = ROOT / "tests" / "compiler" / "data" / "azureml" / "script_project" / "mlproject.yaml"


def _render(spec: Path, tmp_path: Path | None = None, edit: Any = None) -> tuple[RenderContext, ArtifactSet]:
    """Every service's artifacts of ``spec`` for dev; with ``edit``, of a copy of its project in
    ``tmp_path`` whose spec ``edit(data)`` changed."""
    if edit is not None:
        assert tmp_path is not None
        project = tmp_path / spec.parent.name
        shutil.copytree(spec.parent, project, ignore=shutil.ignore_patterns(".mlspec", "build"))
        data = yaml.safe_load(spec.read_text(encoding="utf-8"))
        edit(data)
        spec = project / spec.name
        spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    resolved = api.resolve(api.load(spec), "dev", environ={})
    assert resolved.ok and resolved.model is not None, resolved.diagnostics
    ctx, out = RenderContext(resolved.model, resolved.spec), ArtifactSet()
    for service in SERVICES:
        service.render(ctx, out)
    return ctx, out


def _yaml(out: ArtifactSet, path: str) -> Any:
    return yaml.safe_load(out.artifacts[path].content)


def test_training_on_a_transform_runs_the_refresh_step_first_and_prepare_waits_for_it() -> None:
    _, out = _render(CHURN)
    job = _yaml(out, "azureml/pipeline.yml")
    assert list(job["jobs"]) == ["refresh_features", "prepare", "train", "evaluate", "register"]
    component = _yaml(out, "azureml/components/refresh_features.yml")
    assert job["jobs"]["refresh_features"] == {
        "type": "command",
        "component": f"azureml:{component['name']}:{component['version']}",
    }
    assert job["jobs"]["prepare"]["inputs"]["features_ready"] == (
        "${{parent.jobs.refresh_features.outputs.refresh}}"
    )
    assert component["command"] == "python refresh_features.py --refresh ${{outputs.refresh}}"
    assert "inputs" not in component and set(component["outputs"]) == {"refresh"}
    assert component["environment"] == _yaml(out, "azureml/components/train.yml")["environment"]
    prepare = _yaml(out, "azureml/components/prepare.yml")
    assert prepare["inputs"]["features_ready"]["type"] == "uri_folder"
    assert "--features-ready ${{inputs.features_ready}}" in prepare["command"]
    script = out.artifacts["azureml/src/prepare/prepare.py"].content.decode()
    assert 'parser.add_argument("--features-ready", required=True)' in script
    assert "log_refresh(args.features_ready)" in script
    ast.parse(script)


def test_the_refresh_step_is_a_resource_of_the_pipeline_and_its_environment_has_the_synapse_client() -> None:
    _, out = _render(CHURN)
    resources = {str(r.address): r for r in out.resources}
    step = resources["aml.component.refresh_features"]
    assert step.provider_type == "azureml:component"
    assert {str(d) for d in step.depends_on} == {"aml.environment.churn-classifier", "synapse.pipeline.churn"}
    assert "aml.component.refresh_features" in {
        str(d) for d in resources["aml.pipeline.churn-classifier"].depends_on
    }
    retrain = resources["aml.schedule.churn-classifier-retrain"]
    assert "azureml/src/refresh_features/refresh_features.py" in retrain.files
    pip = _yaml(out, "azureml/conda.yml")["dependencies"][-1]["pip"]
    assert "azure-synapse-artifacts>=0.19,<1" in pip
    assert len([p for p in pip if p.startswith("azure-identity")]) == 1  # the monitoring job asks for it too


def test_spec_values_reach_the_refresh_script_as_literals_only(tmp_path: Path) -> None:
    def twelve_hours(data: dict[str, Any]) -> None:
        data["monitoring"]["retrain"]["max_feature_age"] = "12h"

    _, out = _render(CHURN, tmp_path, twelve_hours)
    script = out.artifacts["azureml/src/refresh_features/refresh_features.py"].content.decode()
    constants = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(script).body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id.isupper()
        and isinstance(node.value, ast.Constant)
    }
    assert constants["SYNAPSE_WORKSPACE"] == "syn-churn-dev"
    synapse_pipeline = json.loads(out.artifacts["synapse/pipelines/churn.json"].content)
    assert constants["PIPELINE"] == synapse_pipeline["name"] == "churn"
    assert constants["MAX_AGE_MINUTES"] == 720


def test_without_a_retrain_section_the_max_age_is_a_day(tmp_path: Path) -> None:
    def no_retraining(data: dict[str, Any]) -> None:
        del data["monitoring"]["retrain"]
        for alert in data["monitoring"]["alerts"]:
            alert.pop("action", None)

    ctx, out = _render(CHURN, tmp_path, no_retraining)
    found = refresh.feature_refresh(ctx)
    assert found is not None and found.max_age_minutes == 1440
    assert "azureml/components/refresh_features.yml" in out.artifacts


def test_training_on_a_source_has_no_refresh_step_and_the_components_of_before() -> None:
    _, out = _render(ON_A_SOURCE)
    job = _yaml(out, "azureml/pipeline.yml")
    assert list(job["jobs"]) == ["prepare", "train", "evaluate", "register"]
    assert set(job["jobs"]["prepare"]["inputs"]) == {"data", "test_size", "seed"}
    assert not any("refresh" in path for path in out.artifacts)
    assert "access/synapse-role-assignments.json" not in out.artifacts
    prepare = _yaml(out, "azureml/components/prepare.yml")
    assert set(prepare["inputs"]) == {"data", "test_size", "seed"}
    assert prepare["command"] == (
        "python prepare.py --data ${{inputs.data}} --test-size ${{inputs.test_size}} --seed ${{inputs.seed}} "
        "--train ${{outputs.train}} --test ${{outputs.test}}"
    )
    script = out.artifacts["azureml/src/prepare/prepare.py"].content.decode()
    assert "features" not in script.replace("FEATURES", "") and "import json" not in script
    pip = _yaml(out, "azureml/conda.yml")["dependencies"][-1]["pip"]
    assert not any(p.startswith("azure-synapse-artifacts") for p in pip)


def test_the_prepare_script_without_the_step_is_the_one_with_it_minus_its_blocks() -> None:
    """The blocks the step adds leave nothing behind when it is absent: not a blank line, not an import."""
    import difflib

    from mlspec.compiler.azureml.scripts import render_script

    values = {
        "data_format": "delta",
        "csv_header": True,
        "csv_columns": None,
        "target": "y",
        "features": ["a"],
        "task": "classification",
    }
    without = render_script("prepare.py.j2", flags={"wait_for_features": False}, **values).splitlines()
    waiting = render_script("prepare.py.j2", flags={"wait_for_features": True}, **values).splitlines()
    changes = [op for op in difflib.SequenceMatcher(a=without, b=waiting).get_opcodes() if op[0] != "equal"]
    assert {op[0] for op in changes} == {"insert"}
    added = [line for _, _, _, start, end in changes for line in waiting[start:end]]
    assert added[0] == "import json"
    assert '    parser.add_argument("--features-ready", required=True)' in added
    assert "    log_refresh(args.features_ready)" in added
