"""``mlspec run`` end to end on each example project, on the real engines.

Each example is copied to tmp_path and run whole: its seed program fills the lake, the notebooks run
on PySpark, the Azure ML components as processes with MLflow, the scoring script on the Azure ML
inference server, the monitor program over the logs, and the report is written. The assertions are
on outcomes: curated row counts, the gate metric, a registered version, one prediction per row, a
drift value per monitored feature, a report holding every visual.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec import api
from mlspec.runtime.chain import RunOptions
from mlspec.runtime.progress import PlainProgress
from tests.e2e.conditions import EXAMPLE_SECRETS, needs_engines

ROOT = Path(__file__).resolve().parents[2]
ENVIRON = {**os.environ, **EXAMPLE_SECRETS}
pytestmark = [pytest.mark.slow, needs_engines]


def copy_project(name: str, tmp: Path) -> Path:
    target = tmp / name
    shutil.copytree(
        ROOT / "projects" / name, target, ignore=shutil.ignore_patterns(".mlspec", "build", "__pycache__")
    )
    return target / "mlproject.yaml"


def run_cli(spec: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-m", "mlspec", "run", str(spec), "--json", *args],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        env={**os.environ, **EXAMPLE_SECRETS, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
    )
    try:
        document = json.loads(done.stdout)
    except ValueError:
        pytest.fail(
            f"stdout is not one JSON document (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.returncode, document, done.stderr


def step_status(record: dict[str, Any]) -> dict[str, str]:
    return {step["name"]: step["status"] for step in record["steps"]}


def spec_data(spec: Path) -> dict[str, Any]:
    return yaml.safe_load(spec.read_text(encoding="utf-8"))


def monitored_features(data: dict[str, Any]) -> set[str]:
    return {
        f
        for a in data.get("monitoring", {}).get("alerts", [])
        if a["signal"] == "data_drift"
        for f in a.get("features") or []
    }


def report_visual_titles(data: dict[str, Any]) -> list[str]:
    return [
        v["title"]
        for r in data.get("reports", [])
        for p in r["pages"]
        for v in p["visuals"]
        if v.get("title")
    ]


# --- churn: tabular classification, through the CLI ------------------------------------------------


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, dict[str, Any], str]:
    spec = copy_project("churn", tmp_path_factory.mktemp("churn"))
    code, record, stderr = run_cli(spec)
    return spec, code, record, stderr


def test_churn_runs_the_whole_chain(churn: tuple[Path, int, dict[str, Any], str]) -> None:
    _, code, record, stderr = churn
    assert code == 0, f"{record.get('error')}\n{stderr}"
    assert record["status"] == "succeeded"
    assert set(step_status(record).values()) == {"succeeded"}
    assert [s["name"] for s in record["steps"]] == [
        "seed",
        "transforms",
        "train",
        "serve",
        "monitor",
        "retrain",
        "report",
    ]
    # curated outputs: one row per customer with at least the expectation's minimum
    features = record["transforms"]["customer_features"]
    assert features["rows"] >= 1500 and features["format"] == "delta"
    from deltalake import DeltaTable

    assert len(DeltaTable(features["path"]).to_pandas()) == features["rows"]
    # the gate metric and a registered version
    model = record["model"]
    assert model["gate"]["passed"] is True and model["metrics"]["roc_auc"] >= 0.80
    assert model["version"] == "1"


def test_churn_endpoint_answered_every_row(churn: tuple[Path, int, dict[str, Any], str]) -> None:
    _, _, record, _ = churn
    serving = record["serving"]
    assert serving["status_counts"] == {"200": serving["requests"]} and serving["requests"] > 0
    log = Path(record["serving"]["log"])
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(line.get("event") == "scored" for line in lines)
    # the prediction log in the lake holds one prediction per replayed row
    data = spec_data(Path(record["build"]).parents[1] / "mlproject.yaml")
    url = data["deployment"]["log_predictions"]["path"]
    from mlspec.runtime.lake import local_path

    folder = Path(local_path(url.replace("${var.lake_account}", "contosolakedev"), record["lake"]))
    entries = [
        json.loads(line)
        for file in folder.glob("predictions-*.jsonl")
        for line in file.read_text().splitlines()
    ]
    assert sum(len(e["predictions"]) for e in entries) == serving["rows"]
    assert all(len(e["predictions"]) == len(e["inputs"]) for e in entries)


def test_churn_monitoring_has_a_drift_value_per_feature(churn: tuple[Path, int, dict[str, Any], str]) -> None:
    spec, _, record, _ = churn
    drift = record["monitoring"]["drift"]
    watched = monitored_features(spec_data(spec))
    assert watched and watched <= set(drift)
    assert all(isinstance(drift[f], float) for f in watched)
    # traffic from the evaluation split is the training distribution: nothing drifts, nothing retrains
    assert all(value < 0.2 for value in drift.values())
    assert record["retrain"]["triggered"] is False
    names = {a["name"] for a in record["monitoring"]["alerts"]}
    assert names == {a["name"] for a in spec_data(spec)["monitoring"]["alerts"]}


# What a visual of the local report says when it cannot be drawn.
REPORT_FAILURES = ("could not be evaluated locally", "is not available locally", "is not a column of")


def test_churn_report_holds_every_visual(churn: tuple[Path, int, dict[str, Any], str]) -> None:
    spec, _, record, _ = churn
    html = Path(record["report"]["path"]).read_text(encoding="utf-8")
    for title in report_visual_titles(spec_data(spec)):
        assert title in html
    for failure in REPORT_FAILURES:  # every visual drawn, aggregate shorthands (avg(x)) included
        assert failure not in html, failure
    assert "ROC" in html and "onfusion" in html
    assert "<script src=" not in html and 'href="http' not in html


def test_report_alone_twice_still_draws_the_last_monitoring(
    churn: tuple[Path, int, dict[str, Any], str],
) -> None:
    """--only report takes the monitoring of the last run whose monitor step ran, not of the last run."""
    spec, _, record, _ = churn
    for _ in range(2):
        again = api.run(
            spec, options=RunOptions(only="report"), environ=ENVIRON, progress=PlainProgress(quiet=True)
        )
        assert again["status"] == "succeeded", again["error"]
        assert again["monitoring"]["result"] == record["monitoring"]["result"]
    html = Path(again["report"]["path"]).read_text(encoding="utf-8")
    drawn = set(re.findall(r'data-chart="drift" data-feature="([^"]+)"', html))
    assert monitored_features(spec_data(spec)) <= drawn


def test_status_shows_the_last_run(churn: tuple[Path, int, dict[str, Any], str]) -> None:
    spec, _, record, _ = churn
    done = subprocess.run(
        [sys.executable, "-m", "mlspec", "status", str(spec), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    shown = json.loads(done.stdout)
    runs = spec.parent / ".mlspec" / "runs"
    newest = max((d for d in runs.iterdir() if (d / "run.json").is_file()), key=lambda d: d.name)
    assert shown["run_id"] == newest.name  # the last run, whichever test made it
    assert shown["project"] == record["project"] and shown["status"] == "succeeded"


def test_shifted_traffic_fires_drift_and_retrains(
    churn: tuple[Path, int, dict[str, Any], str], tmp_path: Path
) -> None:
    import pandas as pd

    spec, _, record, _ = churn
    frame = pd.read_parquet(Path(record["model"]["test_data"]) / "test.parquet")
    watched = sorted(monitored_features(spec_data(spec)))
    shifted = frame.copy()
    for feature in watched:  # far outside the training range, in the column's own type
        moved = shifted[feature] * 3 + shifted[feature].std() * 4
        shifted[feature] = (
            moved.round().astype(frame[feature].dtype) if frame[feature].dtype.kind in "iu" else moved
        )
    traffic = tmp_path / "shifted.parquet"
    shifted.to_parquet(traffic)
    code, after, stderr = run_cli(spec, "--from", "serve", "--traffic", str(traffic))
    assert code == 0, f"{after.get('error')}\n{stderr}"
    fired = {a["name"] for a in after["monitoring"]["alerts"] if a["fired"]}
    assert "feature-drift" in fired
    assert max(after["monitoring"]["drift"][f] for f in watched) > 0.2
    assert after["retrain"]["triggered"] is True and after["retrain"]["promoted"] is True
    assert after["retrain"]["version"] == "2"
    assert after["serving"]["version"] == "2"  # the endpoint moved to the new version


def test_a_failed_step_puts_the_lake_back(churn: tuple[Path, int, dict[str, Any], str]) -> None:
    """Rerunning the transforms with an expectation the last one cannot meet: the two transforms that
    ran before it are rewritten, then put back; the failed one never writes; state is as before."""
    from deltalake import DeltaTable

    spec, _, record, _ = churn
    before = {name: _folder_state(Path(t["path"])) for name, t in record["transforms"].items()}
    versions = DeltaTable(record["transforms"]["customer_features"]["path"]).version()
    original = spec.read_text(encoding="utf-8")
    data = spec_data(spec)
    data["transforms"]["customer_features"]["expectations"].append({"row_count": {"max": 10}})
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    try:
        failed = api.run(spec, options=RunOptions(only="transforms"), environ=ENVIRON)
    finally:
        spec.write_text(original, encoding="utf-8")
    assert failed["status"] == "failed" and failed["error"]["step"] == "transforms"
    assert (
        "row_count(max=10)" in failed["error"]["message"]
        and "customer_features" in failed["error"]["message"]
    )
    assert {name: _folder_state(Path(t["path"])) for name, t in record["transforms"].items()} == before
    assert DeltaTable(record["transforms"]["customer_features"]["path"]).version() == versions


def _folder_state(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sigterm_stops_the_run_its_children_and_records_it(
    churn: tuple[Path, int, dict[str, Any], str],
) -> None:
    import signal
    import time

    spec, _, _, _ = churn
    run = subprocess.Popen(
        [sys.executable, "-m", "mlspec", "run", str(spec), "--only", "train"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **EXAMPLE_SECRETS, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
    )
    assert run.stderr is not None
    deadline = time.monotonic() + 300
    for line in run.stderr:  # wait until a training process is running
        if "train: train" in line or time.monotonic() > deadline:
            break
    time.sleep(1.0)
    run.send_signal(signal.SIGTERM)
    out, _ = run.communicate(timeout=120)
    assert run.returncode == 130, out
    assert "interrupted during train" in out
    record = json.loads(
        subprocess.run(
            [sys.executable, "-m", "mlspec", "status", str(spec), "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert record["status"] == "interrupted" and step_status(record)["train"] == "interrupted"
    time.sleep(1.0)
    left = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert str(spec.parent) not in left  # no training step outlived the run


def test_an_interrupted_replay_takes_its_predictions_back_out_of_the_log(
    churn: tuple[Path, int, dict[str, Any], str], tmp_path: Path
) -> None:
    import signal
    import time

    import pandas as pd

    spec, _, record, _ = churn
    [log] = (spec.parent / ".mlspec" / "lake").glob("*/monitoring/churn/predictions")
    before = _folder_state(log)
    frame = pd.read_parquet(Path(record["model"]["test_data"]) / "test.parquet")
    traffic = tmp_path / "long.parquet"
    pd.concat([frame] * 100, ignore_index=True).to_parquet(traffic)  # long enough to interrupt
    run = subprocess.Popen(
        [sys.executable, "-m", "mlspec", "run", str(spec), "--only", "serve", "--traffic", str(traffic)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **EXAMPLE_SECRETS, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
    )
    assert run.stderr is not None
    deadline = time.monotonic() + 300
    for line in run.stderr:
        if "is healthy" in line or time.monotonic() > deadline:
            break
    time.sleep(3.0)  # requests are being answered and logged
    run.send_signal(signal.SIGTERM)
    out, _ = run.communicate(timeout=120)
    assert run.returncode == 130, out
    assert _folder_state(log) == before


def test_sigterm_stops_serve_and_removes_its_secret_files(
    churn: tuple[Path, int, dict[str, Any], str], tmp_path: Path
) -> None:
    import signal
    import time

    spec, _, _, _ = churn
    scratch = tmp_path / "tmp"  # the server's private folder (and its secret files) goes here
    scratch.mkdir()
    serve = subprocess.Popen(
        [sys.executable, "-m", "mlspec", "serve", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **EXAMPLE_SECRETS, "PYTHONPATH": str(ROOT), "TMPDIR": str(scratch)},
        stdin=subprocess.DEVNULL,
    )
    assert serve.stdout is not None
    deadline = time.monotonic() + 300
    for line in serve.stdout:
        if line.startswith("Serving on") or time.monotonic() > deadline:
            break
    secrets = list(scratch.glob("mlspec-scoring-*/secrets/*"))
    assert secrets, "the server should have its Key Vault secrets as files while it runs"
    serve.send_signal(signal.SIGTERM)
    out, _ = serve.communicate(timeout=60)
    assert serve.returncode == 0, out
    assert "stopping" in out
    assert not [p for p in scratch.glob("mlspec-scoring-*") if p.is_dir()]  # secrets and all removed


def test_serve_with_json_prints_one_document_a_script_can_use(
    churn: tuple[Path, int, dict[str, Any], str], tmp_path: Path
) -> None:
    import signal
    import urllib.request

    spec, _, _, _ = churn
    serve = subprocess.Popen(
        [sys.executable, "-m", "mlspec", "serve", str(spec), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **EXAMPLE_SECRETS, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)},
        stdin=subprocess.DEVNULL,
    )
    assert serve.stdout is not None
    text = ""
    try:
        for line in serve.stdout:  # one indented document, then nothing until it stops
            text += line
            if line.startswith("}"):
                break
        document = json.loads(text)
        assert document["ok"] is True and document["url"].startswith("http://127.0.0.1:")
        with urllib.request.urlopen(document["url"] + "/", timeout=30) as answer:
            assert answer.status == 200
    finally:
        serve.send_signal(signal.SIGTERM)
        out, err = serve.communicate(timeout=60)
    assert serve.returncode == 0, err
    assert out == "" and "stopping" in err  # stdout stays the one document


# --- failures ------------------------------------------------------------------------------------


def test_a_failing_expectation_stops_the_run_naming_it(tmp_path: Path) -> None:
    spec = copy_project("churn", tmp_path)
    data = spec_data(spec)
    data["transforms"]["web_engagement"]["expectations"].append(
        {"range": {"column": "visits", "min": 0, "max": 1}}
    )
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    record = api.run(spec, options=RunOptions(), environ=ENVIRON)
    assert record["status"] == "failed"
    error = record["error"]
    assert error["step"] == "transforms" and "--from transforms" in error["rerun"]
    assert "web_engagement" in error["message"] and "visits" in error["message"]
    assert step_status(record)["train"] == "blocked" and record["model"] is None
    # nothing of the failed transform was written
    assert "web_engagement" not in record["transforms"]


def test_rerun_hints_lead_to_the_step_that_fixes_the_cause(tmp_path: Path) -> None:
    spec = copy_project("churn", tmp_path)
    bare = {k: v for k, v in os.environ.items() if not k.startswith("MLSPEC_SECRET_")}
    # A preflight failure: nothing ran, so the hint is the same command.
    record = api.run(spec, environ=bare, progress=PlainProgress(quiet=True))
    assert record["status"] == "failed" and "MLSPEC_SECRET_" in record["error"]["message"]
    assert "--from" not in record["error"]["rerun"] and "--only" not in record["error"]["rerun"]
    only = api.run(spec, options=RunOptions(only="serve"), environ=bare, progress=PlainProgress(quiet=True))
    assert only["error"]["rerun"].endswith("--only serve")
    # An empty raw source: the seed step fills it, so the hint starts the run from the beginning.
    empty = api.run(
        spec, options=RunOptions(only="transforms"), environ=ENVIRON, progress=PlainProgress(quiet=True)
    )
    assert empty["error"]["step"] == "transforms" and "has no data" in empty["error"]["message"]
    assert "the seed step fills empty sources" in empty["error"]["message"]
    assert "--from" not in empty["error"]["rerun"]


def test_a_failing_gate_blocks_registration_and_serving(tmp_path: Path) -> None:
    spec = copy_project("churn", tmp_path)
    data = spec_data(spec)
    data["model"]["evaluation"]["gate"] = {"roc_auc": ">= 0.999"}
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    code, record, _ = run_cli(spec)
    assert code == 1 and record["status"] == "failed"
    assert record["error"]["step"] == "train"
    message = record["error"]["message"]
    assert "roc_auc = " in message and ">= 0.999" in message
    assert record["model"]["version"] is None
    assert step_status(record)["serve"] == "blocked" and record["serving"] is None
    assert not (spec.parent / ".mlspec" / "mlruns" / "models").exists()


def test_a_spec_without_a_deployment_runs_to_the_end(tmp_path: Path) -> None:
    """Nothing served: serve, monitor and retrain have nothing to do, and the run still succeeds."""
    spec = copy_project("churn", tmp_path)
    data = spec_data(spec)
    for section in ("deployment", "monitoring"):
        data.pop(section)
    data["reports"] = [r for r in data.get("reports", []) if "predictions" not in str(r)]
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    code, record, stderr = run_cli(spec, "--from", "serve")
    assert code == 0, f"{record.get('error')}\n{stderr}"
    assert step_status(record) == {
        "seed": "skipped",
        "transforms": "skipped",
        "train": "skipped",
        "serve": "succeeded",
        "monitor": "succeeded",
        "retrain": "succeeded",
        "report": "succeeded",
    }
    details = {step["name"]: step.get("detail", "") for step in record["steps"]}
    assert "no deployment" in details["serve"] and "no deployment" in details["monitor"]


# --- diabetes (regression) and digits (logs + images) ------------------------------------------------


@pytest.mark.parametrize("name", ["diabetes", "digits"])
def test_example_runs_the_whole_chain(name: str, tmp_path: Path) -> None:
    spec = copy_project(name, tmp_path)
    data = spec_data(spec)
    record = api.run(spec, environ=ENVIRON)
    assert record["status"] == "succeeded", record["error"]
    for transform, result in record["transforms"].items():
        assert result["rows"] > 0, transform
    model = record["model"]
    assert model["gate"]["passed"] and model["version"] == "1"
    gate_metric = next(iter(data["model"]["evaluation"]["gate"]))
    assert gate_metric in model["metrics"]
    assert record["serving"]["status_counts"] == {"200": record["serving"]["requests"]}
    watched = monitored_features(data)
    assert watched <= set(record["monitoring"]["drift"])
    html = Path(record["report"]["path"]).read_text(encoding="utf-8")
    for title in report_visual_titles(data):
        assert title in html
    for failure in REPORT_FAILURES:
        assert failure not in html, failure
    if data["model"]["task"] == "regression":
        assert "esidual" in html
