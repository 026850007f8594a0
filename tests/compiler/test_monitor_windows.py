"""Alert windows are never silently changed: a statistic alert reads the statistic of its own window.

The monitoring job computes each statistic over every window an alert asks for and writes that window
in ``Window``; a log alert can look back at most two days, so the rule's range is how old the newest
row may be, and the query's ``Window`` filter is what keeps a 7-day alert a 7-day alert.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec import api
from mlspec.runtime.monitor_program import iso_window, window_minutes

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"
TEMPLATE = "monitor/alerts.json"


def rules_of(spec: Path, env: str, out: Path) -> dict[str, dict[str, Any]]:
    api.build(spec, env, out_dir=out, environ={})
    template = json.loads((out / TEMPLATE).read_text(encoding="utf-8"))
    return {r["name"]: r for r in template["resources"] if r["type"].endswith("scheduledQueryRules")}


def query_of(rule: dict[str, Any]) -> str:
    query: str = rule["properties"]["criteria"]["allOf"][0]["query"]
    return query


def contract_with(tmp_path: Path, alerts: list[dict[str, Any]]) -> Path:
    data = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    data["monitoring"]["alerts"] += alerts
    path = tmp_path / "spec" / "mlproject.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_a_seven_day_statistic_alert_reads_the_seven_day_rows(tmp_path: Path) -> None:
    rules = rules_of(CONTRACT, "dev", tmp_path)
    auc = rules["churn-auc-drop"]  # model_metric roc_auc over 7d
    assert '| where Signal == "model_metric" and Window == "P7D"' in query_of(auc)
    assert auc["properties"]["windowSize"] == "P2D"  # how old the newest P7D row may be, not the statistic
    drift = rules["churn-feature-drift"]  # data_drift over 1d
    assert '| where Signal == "data_drift" and Window == "P1D"' in query_of(drift)


def test_two_alerts_on_one_signal_read_their_own_windows(tmp_path: Path) -> None:
    weekly = {"name": "auc-week", "signal": "model_metric", "metric": "roc_auc", "operator": "<"}
    spec = contract_with(
        tmp_path,
        [
            {**weekly, "threshold": 0.7, "window": "30d"},
            {**weekly, "name": "auc-day", "threshold": 0.6, "window": "1d"},
        ],
    )
    rules = rules_of(spec, "dev", tmp_path / "out")
    month, day = query_of(rules["churn-auc-week"]), query_of(rules["churn-auc-day"])
    assert 'Window == "P30D"' in month and 'Window == "P1D"' not in month
    assert 'Window == "P1D"' in day and 'Window == "P30D"' not in day


@pytest.mark.parametrize("window", ["30m", "90m", "6h", "36h", "1d", "7d", "30d"])
def test_the_query_names_the_window_the_monitoring_job_writes(window: str, tmp_path: Path) -> None:
    alert = {"name": "auc-x", "signal": "model_metric", "metric": "roc_auc", "operator": "<"}
    spec = contract_with(tmp_path, [{**alert, "threshold": 0.7, "window": window}])
    written = iso_window(window_minutes(window))  # the job's Window column for this alert
    assert f'Window == "{written}"' in query_of(rules_of(spec, "dev", tmp_path / "out")["churn-auc-x"])
