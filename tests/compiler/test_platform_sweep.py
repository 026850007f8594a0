"""Every example spec, in every environment, builds into artifacts the platforms' own offline checks accept.

The sweep builds the contract example and each ``projects/*/mlproject.yaml`` for each of its
environments, runs ``check_build_dir`` (the same checks as ``mlspec build --check``) over the
output, and checks that every resource the spec implies was actually rendered. A second group
plants one defect at a time in a real build to show the sweep can fail.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlspec import api
from mlspec.compiler.build import read_manifest
from mlspec.compiler.platform_checks import check_build_dir
from mlspec.spec_schema.models import MLProject
from mlspec.spec_schema.resolve import environment_names

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"
SPECS = [CONTRACT, *sorted(ROOT.glob("projects/*/mlproject.yaml"))]
CASES = [(spec, env) for spec in SPECS for env in environment_names(api.load(spec))]


def implied_addresses(model: MLProject) -> dict[str, str]:
    """Address pattern (``fnmatch``: ``*`` is any text) → why the spec implies a resource matching it."""
    implied: dict[str, str] = {}
    for name in model.transforms:
        implied[f"synapse.notebook.{name}"] = f"transform {name}"
    if model.transforms:
        implied["synapse.pipeline.*"] = "the transforms' pipeline"
    if model.model is not None:
        implied[f"aml.pipeline.{model.model.name}"] = "the model's training pipeline"
        implied["aml.component.*"] = "the training pipeline's steps"
        implied["aml.environment.*"] = "the training environment"
    if model.deployment is not None:
        endpoint = model.deployment.endpoint
        # blue/green keeps one Deployment per slot, <endpoint>-blue and <endpoint>-green
        slots = "-*" if model.deployment.rollout.strategy == "blue_green" else ""
        implied[f"aks.deployment.{endpoint}{slots}"] = "the deployment"
        implied[f"aks.service.{endpoint}"] = "the deployment's service"
        implied["acr.task.*"] = "the scoring image"
    if model.monitoring is not None:
        for alert in model.monitoring.alerts:
            implied[f"monitor.*.{alert.name}"] = f"alert {alert.name}"
        if model.monitoring.retrain is not None and model.monitoring.retrain.schedule is not None:
            implied["aml.schedule.*"] = "the retraining schedule"
    for report in model.reports:
        implied[f"powerbi.report.{report.name}"] = f"report {report.name}"
    if model.access.grants:
        implied["access.role_assignment.*"] = "the grants"
    return implied


@pytest.mark.parametrize(("spec", "env"), CASES, ids=[f"{s.parent.name}-{e}" for s, e in CASES])
def test_every_example_builds_into_artifacts_the_platforms_accept(
    spec: Path, env: str, tmp_path: Path
) -> None:
    result = api.build(spec, env, out_dir=tmp_path, environ={})
    resolved = api.resolve(api.load(spec), env, environ={})
    assert resolved.model is not None
    manifest, _ = read_manifest(tmp_path)
    addresses = {str(r.address) for r in manifest.resources}
    assert addresses == {str(r.address) for r in result.manifest.resources}
    missing = {
        pattern: why
        for pattern, why in implied_addresses(resolved.model).items()
        if not any(fnmatch.fnmatchcase(address, pattern) for address in addresses)
    }
    problems = check_build_dir(tmp_path)
    assert not missing and not problems, "\n".join(
        [
            *(f"implied by the spec but not built: {pattern} ({why})" for pattern, why in missing.items()),
            *(f"{p.artifact}:{p.where}: {p.message} ({p.checker})" for p in problems),
        ]
    )
    for resource in manifest.resources:
        for file in resource.files:
            assert (tmp_path / file).is_file(), f"{resource.address} names missing file {file}"


@pytest.fixture(scope="module")
def contract_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("contract") / "build"
    api.build(CONTRACT, "dev", out_dir=out, environ={})
    assert check_build_dir(out) == [], (
        "the unmodified build must be clean for a planted defect to mean anything"
    )
    return out


def _edit_json(relative: str, edit: Callable[[dict], None]) -> Callable[[Path], str]:
    def plant(root: Path) -> str:
        file = root / relative
        data = json.loads(file.read_text(encoding="utf-8"))
        edit(data)
        file.write_text(json.dumps(data), encoding="utf-8")
        return relative

    return plant


def _edit_text(relative: str, old: str, new: str) -> Callable[[Path], str]:
    def plant(root: Path) -> str:
        file = root / relative
        text = file.read_text(encoding="utf-8")
        assert old in text, f"{relative} no longer contains {old!r}: update the planted defect"
        file.write_text(text.replace(old, new, 1), encoding="utf-8")
        return relative

    return plant


def _pbip(root: Path) -> str:
    file = next(root.glob("powerbi/*/*.pbip"))
    data = json.loads(file.read_text(encoding="utf-8"))
    data["name"] = "not a PBIP field"
    file.write_text(json.dumps(data), encoding="utf-8")
    return file.relative_to(root).as_posix()


def _drop_severity(data: dict) -> None:
    rule = next(r for r in data["resources"] if r["type"] == "Microsoft.Insights/scheduledQueryRules")
    del rule["properties"]["severity"]


DEFECTS: dict[str, Callable[[Path], str]] = {
    "notebook-cell-without-cell_type": _edit_json(
        "synapse/notebooks/customer_features.json", lambda d: d["properties"]["cells"][1].pop("cell_type")
    ),
    "notebook-without-nbformat": _edit_json(
        "synapse/notebooks/customer_features.json", lambda d: d["properties"].pop("nbformat")
    ),
    "ipynb-cell-without-source": _edit_json(
        "synapse/notebooks/customer_features.ipynb", lambda d: d["cells"][0].pop("source")
    ),
    "pipeline-activity-type-misspelt": _edit_json(
        "synapse/pipelines/churn.json",
        lambda d: d["properties"]["activities"][0].update(type="SynapseNoteBook"),
    ),
    "deployment-httpGett": _edit_text("aks/deployment.yaml", "httpGet:", "httpGett:"),
    "aml-pipeline-names-missing-component": _edit_text(
        "azureml/pipeline.yml",
        "component: azureml:churn_classifier_train:",
        "component: azureml:churn_classifier_trian:",
    ),
    "alert-rule-without-severity": _edit_json("monitor/alerts.json", _drop_severity),
    "role-assignment-bad-api-version": _edit_json(
        "access/role-assignments.json", lambda d: d["resources"][0].update(apiVersion="latest")
    ),
    "pbip-unknown-field": _pbip,
    "notebook-not-json": _edit_text("synapse/notebooks/customer_features.json", "{", "{{"),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_check_build_dir_catches_a_defect_planted_in_a_real_build(
    defect: str, contract_build: Path, tmp_path: Path
) -> None:
    root = tmp_path / "build"
    shutil.copytree(contract_build, root)
    planted = DEFECTS[defect](root)
    problems = check_build_dir(root)
    flagged = {p.artifact.split(":", 1)[0] for p in problems}
    assert planted in flagged, f"{defect} in {planted} went unnoticed: {problems}"


def test_build_check_command_exits_zero_on_a_good_spec(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mlspec.cli import main; main()",
            "build",
            str(CONTRACT),
            "--env",
            "dev",
            "--out",
            str(tmp_path / "out"),
            "--check",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "built" in done.stdout
    assert "problem" not in done.stderr
    assert (tmp_path / "out" / "manifest.json").is_file()
