"""Azure ML's monitor's pre-processing component, run as the build ships it, on local PySpark: the
scoring pods' prediction log (dated folders of JSON lines) becomes a windowed MLTable of one row per
scored input."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from mlspec import api

ROOT = Path(__file__).resolve().parents[2]
CHURN = ROOT / "projects" / "churn" / "mlproject.yaml"


def _missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'pyspark>=3.5,<3.6')"
    if shutil.which("java") is None:
        return "no Java runtime for local Spark"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_missing() is not None, reason=_missing() or "")]


def _record(time: str, request: str, rows: list[dict[str, float]], predictions: list[int]) -> str:
    """A record as the scoring script writes it (``PredictionLog.write``)."""
    entry = {
        "time": time,
        "project": "churn",
        "endpoint": "churn-scoring",
        "model": "churn-classifier",
        "model_version": "3",
        "request_id": request,
        "inputs": rows,
        "predictions": predictions,
    }
    return json.dumps(entry) + "\n"


def test_the_shipped_component_windows_the_log_into_one_row_per_scored_input(tmp_path: Path) -> None:
    out = tmp_path / "build"
    api.build(CHURN, "dev", out_dir=out, environ={})
    component = yaml.safe_load((out / "azureml" / "components" / "prediction_log_preprocess.yml").read_text())
    code = out / "azureml" / "src" / "prediction_log_preprocess"
    log = tmp_path / "log"
    (log / "2026" / "12" / "01").mkdir(parents=True)
    (log / "2026" / "11" / "30").mkdir(parents=True)
    (log / "2026" / "12" / "01" / "predictions-a.jsonl").write_text(
        _record(
            "2026-12-01T10:00:00.000+00:00", "r1", [{"tenure_months": 3.0}, {"tenure_months": 40.0}], [1, 0]
        )
        + _record("2026-12-01T23:59:59.999+00:00", "r2", [{"tenure_months": 7.0}], [1])
        + '{"time": "2026-12-01T11:00:00.000+00:00", "inputs": [{"tenure_m',  # a line cut short by a crash
        encoding="utf-8",
    )
    (log / "2026" / "11" / "30" / "predictions-b.jsonl").write_text(
        _record("2026-11-30T12:00:00.000+00:00", "old", [{"tenure_months": 9.0}], [0]), encoding="utf-8"
    )
    (log / "2026" / "12" / "01" / "notes.txt").write_text("not a log file", encoding="utf-8")
    # A folder outside the window is not read at all (its record's time would match the window).
    (log / "2026" / "10" / "01").mkdir(parents=True)
    (log / "2026" / "10" / "01" / "predictions-old.jsonl").write_text(
        _record("2026-12-01T12:00:00.000+00:00", "misfiled", [{"tenure_months": 1.0}], [1]), encoding="utf-8"
    )
    values = {
        "inputs.data_window_start": "2026-12-01T00:00:00Z",
        "inputs.data_window_end": "2026-12-02T00:00:00Z",
        "inputs.input_data": str(log),
        "outputs.preprocessed_input_data": str(tmp_path / "table"),
    }
    _run(component, code, values)
    mltable = yaml.safe_load((tmp_path / "table" / "MLTable").read_text(encoding="utf-8"))
    assert mltable == {"paths": [{"pattern": "./data/*.parquet"}], "transformations": ["read_parquet"]}
    rows = sorted(pq.read_table(tmp_path / "table" / "data").to_pylist(), key=lambda r: r["correlationid"])
    assert [(r["correlationid"], r["tenure_months"], r["prediction"]) for r in rows] == [
        ("r1-0", 3.0, 1),
        ("r1-1", 40.0, 0),
        ("r2-0", 7.0, 1),
    ], "the day's records only, one row per input, the truncated line left out"
    assert {r["model_version"] for r in rows} == {"3"}


def _run(component: dict[str, object], code: Path, values: dict[str, str]) -> None:
    args = str(component["args"])
    for binding, value in values.items():
        args = args.replace(f"${{{{{binding}}}}}", value)
    entry = component["entry"]
    assert isinstance(entry, dict)
    environ = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    done = subprocess.run(
        [sys.executable, entry["file"], *args.split()],
        cwd=code,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_window_without_traffic_gives_an_empty_table_not_a_failed_run(tmp_path: Path) -> None:
    out = tmp_path / "build"
    api.build(CHURN, "dev", out_dir=out, environ={})
    component = yaml.safe_load((out / "azureml" / "components" / "prediction_log_preprocess.yml").read_text())
    log = tmp_path / "log" / "2026" / "12" / "01"
    log.mkdir(parents=True)
    (log / "predictions-a.jsonl").write_text(
        _record("2026-12-01T10:00:00.000+00:00", "r1", [{"tenure_months": 3.0}], [1]), encoding="utf-8"
    )
    _run(
        component,
        out / "azureml" / "src" / "prediction_log_preprocess",
        {
            "inputs.data_window_start": "2027-01-01T00:00:00Z",
            "inputs.data_window_end": "2027-01-02T00:00:00Z",
            "inputs.input_data": str(tmp_path / "log"),
            "outputs.preprocessed_input_data": str(tmp_path / "table"),
        },
    )
    assert (tmp_path / "table" / "MLTable").is_file()
    table = pq.read_table(tmp_path / "table" / "data")
    assert table.num_rows == 0 and {"timestamp", "correlationid", "prediction"} <= set(table.column_names)
