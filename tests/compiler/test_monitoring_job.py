"""The monitoring loop on Azure: the job that writes the table the statistic alerts query, the
identities that let it and the scoring pods read and write what they must, and the telemetry the
request-rate alert counts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from mlspec import api
from mlspec.runtime import monitor_program

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"
CHURN = ROOT / "projects" / "churn" / "mlproject.yaml"
STATISTIC = {"data_drift", "prediction_drift", "data_quality", "model_metric"}


def _build(spec: Path, tmp_path: Path, env: str = "dev") -> Path:
    out = tmp_path / "out"
    api.build(spec, env, out_dir=out, environ={})
    return out


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _manifest(out: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {r["address"]: r for r in data["resources"]}


def _assignments(out: Path) -> list[dict[str, Any]]:
    template = json.loads((out / "access" / "role-assignments.json").read_text(encoding="utf-8"))
    return [r for r in template["resources"] if r["type"].endswith("roleAssignments")]


def test_the_job_ships_mlspecs_own_program_with_the_specs_statistic_alerts(tmp_path: Path) -> None:
    out = _build(CHURN, tmp_path)
    source = out / "azureml" / "src" / "monitor"
    assert (source / "monitor_program.py").read_bytes() == Path(monitor_program.__file__).read_bytes()
    config = json.loads((source / "monitor.json").read_text(encoding="utf-8"))
    spec = _yaml(CHURN)
    wanted = [a["name"] for a in spec["monitoring"]["alerts"] if a["signal"] in STATISTIC]
    assert [a["name"] for a in config["alerts"]] == wanted and wanted
    assert config["features"] == spec["model"]["training"]["features"]
    job = _yaml(out / "azureml" / "monitoring-job.yml")
    assert config["reference"]["path"] == job["inputs"]["reference"]["path"]
    assert config["predictions"]["path"] == job["inputs"]["predictions"]["path"]
    monitor_program.parse_config(config)  # the program accepts what the build wrote


def test_the_job_reads_the_lake_and_sends_its_rows_to_the_rule_the_alerts_read(tmp_path: Path) -> None:
    out = _build(CHURN, tmp_path)
    component = _yaml(out / "azureml" / "components" / "monitor.yml")
    job = _yaml(out / "azureml" / "monitoring-job.yml")
    schedule = _yaml(out / "azureml" / "schedules" / "monitoring.yml")
    configmap = _yaml(out / "aks" / "configmap.yaml")
    assert job["jobs"]["monitor"]["component"] == f"azureml:{component['name']}:{component['version']}"
    assert job["inputs"]["predictions"]["path"] == configmap["data"]["PREDICTION_LOG_PATH"]
    assert job["inputs"]["rule_id"] == "mlspec:output:monitor.data_collection_rule.churn-mlspec.immutable_id"
    assert job["identity"] == {"type": "managed"}
    assert "--stream Custom-MlspecModelMonitoring_CL" in component["command"]
    alerts = json.loads((out / "monitor" / "alerts.json").read_text(encoding="utf-8"))
    rule = next(r for r in alerts["resources"] if r["type"] == "Microsoft.Insights/dataCollectionRules")
    assert "Custom-MlspecModelMonitoring_CL" in rule["properties"]["streamDeclarations"]
    assert schedule["create_job"] == "../monitoring-job.yml" and schedule["trigger"]["type"] == "recurrence"
    resources = _manifest(out)
    scheduled = resources["aml.schedule.churn-classifier-monitoring"]
    assert set(scheduled["needs"]) == {
        "aml.pipeline.churn-classifier.model_version",
        "monitor.data_collection_endpoint.churn-mlspec.logs_ingestion_endpoint",
        "monitor.data_collection_rule.churn-mlspec.immutable_id",
    }
    assert {"monitor.data_collection_rule.churn-mlspec", "aml.component.monitor"} <= set(
        scheduled["depends_on"]
    )


@pytest.mark.parametrize(
    ("window", "expected"), [("1d", ("day", 1)), ("6h", ("hour", 6)), ("15m", ("hour", 1))]
)
def test_the_job_runs_as_often_as_its_shortest_window_between_hourly_and_daily(
    tmp_path: Path, window: str, expected: tuple[str, int]
) -> None:
    data = _yaml(CONTRACT)
    for alert in data["monitoring"]["alerts"]:
        if alert["signal"] in STATISTIC:
            alert["window"] = window
    spec = tmp_path / "spec" / "mlproject.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    trigger = _yaml(_build(spec, tmp_path) / "azureml" / "schedules" / "monitoring.yml")["trigger"]
    assert (trigger["frequency"], trigger["interval"]) == expected


def test_no_statistic_alert_means_no_job(tmp_path: Path) -> None:
    data = _yaml(CONTRACT)
    data["monitoring"]["alerts"] = [a for a in data["monitoring"]["alerts"] if a["signal"] not in STATISTIC]
    data["monitoring"].pop("retrain", None)
    spec = tmp_path / "spec" / "mlproject.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    out = _build(spec, tmp_path)
    assert not (out / "azureml" / "monitoring-job.yml").exists()
    assert not any("monitoring" in a for a in _manifest(out) if a.startswith("aml."))


def test_the_component_command_runs_the_shipped_program_on_mounted_inputs(tmp_path: Path) -> None:
    """What Azure ML runs, run here: the component's command with its bindings filled in, in its code folder
    (the sending flags left out: the ingestion client is tested against its HTTP pipeline)."""
    out = _build(CHURN, tmp_path)
    component = _yaml(out / "azureml" / "components" / "monitor.yml")
    config = json.loads((out / "azureml" / "src" / "monitor" / "monitor.json").read_text())
    features = config["features"]
    rng = np.random.default_rng(1)
    reference = tmp_path / "mounted" / "reference"
    reference.parent.mkdir(parents=True)
    frame = pd.DataFrame({f: rng.normal(10, 2, 400) for f in features})
    frame["churned"] = rng.integers(0, 2, 400)
    if config["reference"]["format"] == "delta":
        from deltalake import write_deltalake

        write_deltalake(str(reference), frame)
    else:
        frame.to_parquet(reference / "part-0.parquet")
    log = tmp_path / "mounted" / "log" / "2026" / "12" / "01"
    log.mkdir(parents=True)
    now = pd.Timestamp.now(tz="UTC").isoformat()
    with (log / "predictions-1.jsonl").open("w", encoding="utf-8") as handle:
        for i in range(300):
            row = {f: float(rng.normal(16, 2)) for f in features}  # shifted: the drift alert fires
            record = {
                "time": now,
                "model_version": "4",
                "request_id": f"r{i}",
                "inputs": [row],
                "predictions": [i % 2],
            }
            handle.write(json.dumps(record) + "\n")
    truth = tmp_path / "mounted" / "outcomes"
    truth.mkdir(parents=True)
    (truth / "outcomes.jsonl").write_text(
        "".join(json.dumps({"request_id": f"r{i}", "row": 0, "target": i % 2}) + "\n" for i in range(300)),
        encoding="utf-8",
    )
    values = {
        "inputs.reference": str(reference),
        "inputs.predictions": str(tmp_path / "mounted" / "log"),
        "inputs.model_version": "4",
        "inputs.ground_truth": str(truth),
        "outputs.monitoring": str(tmp_path / "result"),
    }
    command = re.sub(r" --(ingestion-endpoint|rule-id|stream) \S+", "", component["command"])
    argv = re.sub(r"\$\{\{([a-z_.]+)\}\}", lambda m: values[m[1]], command).split()
    assert argv[:2] == ["python", "monitor_program.py"]
    done = subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=out / "azureml" / "src" / "monitor",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "result" / "monitor-result.json").read_text())
    assert (result["prediction_rows"], result["model_version"]) == (300, "4")
    fired = {a["name"] for a in result["alerts"] if a["fired"]}
    assert "feature-drift" in fired
    assert result["ground_truth_rows"] == 300 and result["model_metrics"]["accuracy"] == 1.0
    assert "auc-drop" not in fired, "every outcome joined and predicted right: no AUC drop"
    assert list((tmp_path / "result" / "MlspecModelMonitoring_CL").glob("*.parquet"))


def _grants(out: Path) -> set[tuple[str, str]]:
    """(role assignment name in the manifest, its description) pairs, by principal role and scope."""
    return {a for a in _manifest(out) if a.startswith("access.role_assignment.")}


def test_every_identity_of_the_loop_has_the_role_it_needs_once(tmp_path: Path) -> None:
    out = _build(CHURN, tmp_path)
    grants = _grants(out)
    for expected in (
        "access.role_assignment.aml-compute-monitoring-metrics-publisher-monitoring-dcr",
        "access.role_assignment.aml-compute-storage-blob-data-reader-lake-contosolakedev-monitoring",
        "access.role_assignment.aml-workspace-storage-blob-data-reader-lake-contosolakedev-monitoring",
        "access.role_assignment.churn-scoring-pods-storage-blob-data-contributor-lake-contosolakedev-monitoring",
        "access.role_assignment.churn-scoring-pods-monitoring-metrics-publisher-application_insights",
    ):
        assert expected in grants, expected
    assert "access.role_assignment.aml-workspace-monitoring-metrics-publisher-monitoring-dcr" not in grants, (
        "the job sends as the compute cluster's identity: the workspace needs no publisher role"
    )
    resources = _manifest(out)
    publisher = resources["access.role_assignment.aml-compute-monitoring-metrics-publisher-monitoring-dcr"]
    assert {"aml.compute.cpu-cluster", "monitor.data_collection_rule.churn-mlspec"} <= set(
        publisher["depends_on"]
    )
    keys = [
        (a["properties"]["principalId"], a["properties"]["roleDefinitionId"], a.get("scope"))
        for a in _assignments(out)
    ]
    assert len(keys) == len(set(keys)), "no two assignments share principal, role and scope"


def test_the_pods_get_the_application_insights_connection_string_as_a_target_output(tmp_path: Path) -> None:
    out = _build(CHURN, tmp_path)
    data = _yaml(out / "aks" / "configmap.yaml")["data"]
    assert data["APPLICATIONINSIGHTS_CONNECTION_STRING"] == (
        "mlspec:output:workspace.application_insights_connection_string"
    )
    assert (
        "workspace.application_insights_connection_string"
        in _manifest(out)["aks.config_map.churn-scoring"]["needs"]
    )


def test_a_model_metric_alert_without_ground_truth_is_a_warning_and_the_job_reads_none(
    tmp_path: Path,
) -> None:
    data = _yaml(CHURN)
    del data["monitoring"]["ground_truth"]
    project = tmp_path / "spec"
    shutil.copytree(CHURN.parent, project, ignore=shutil.ignore_patterns("build", ".mlspec"))
    spec = project / "mlproject.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = api.build(spec, "dev", out_dir=tmp_path / "out", environ={})
    [warning] = [d for d in result.diagnostics if d.code == "MLS606"]
    assert "auc-drop" in warning.message and "monitoring.ground_truth" in (warning.hint or "")
    component = _yaml(tmp_path / "out" / "azureml" / "components" / "monitor.yml")
    assert "ground_truth" not in component["inputs"] and "--ground-truth" not in component["command"]
    with_truth = api.build(CHURN, "dev", environ={})
    assert not [d for d in with_truth.diagnostics if d.code == "MLS606"]


def test_the_job_watches_the_version_the_primary_slot_is_pinned_to(tmp_path: Path) -> None:
    data = _yaml(CHURN)
    data["deployment"]["model_version"] = 7
    data["deployment"]["rollout"]["model_version"] = 8
    project = tmp_path / "spec"
    shutil.copytree(CHURN.parent, project, ignore=shutil.ignore_patterns("build", ".mlspec"))
    (project / "mlproject.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    out = _build(project / "mlproject.yaml", tmp_path)
    job = _yaml(out / "azureml" / "monitoring-job.yml")
    assert job["inputs"]["model_version"] == "7", "the stable slot's traffic, not the newest registration"
    needs = _manifest(out)["aml.schedule.churn-classifier-monitoring"]["needs"]
    assert "aml.pipeline.churn-classifier.model_version" not in needs


def test_the_loops_lake_grants_are_limited_to_their_folders_and_the_pods_never_delete(tmp_path: Path) -> None:
    """The prediction log may share a container with other data (diabetes keeps raw patient data in
    it): the grants of the loop carry an ABAC condition on the blob path."""
    out = _build(CHURN, tmp_path)
    by_description = {a["properties"]["description"]: a["properties"] for a in _assignments(out)}
    pods = by_description["the scoring pods write the prediction log to the lake"]
    assert pods["conditionVersion"] == "2.0"
    assert "StringStartsWith 'churn/predictions'" in pods["condition"]
    assert pods["condition"].startswith(
        "((!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'})))"
    )
    job = next(
        p for d, p in by_description.items() if d.startswith("the monitoring job reads the prediction log")
    )
    assert "'churn/predictions'" in job["condition"] and "'churn/outcomes'" in job["condition"]
    assert "blobs/write" not in job["condition"], "a reader's condition limits reads only"
    training = next(
        p for d, p in by_description.items() if d.startswith("training jobs read the training data")
    )
    assert "condition" not in training, "the training data's container is read whole, as before"
