"""Schedules: the cron retrain schedule and the model monitor schedule (``create_monitor``).

The monitor's signals come from ``monitoring.alerts`` with a drift or data-quality signal;
each alert becomes one signal named after it, its threshold the alert's threshold for the
alert's ``metric`` (or the signal's default metric), watched over the alert's window.
Production data is the serving log (``deployment.log_predictions``); reference data is the
training data.
"""

from __future__ import annotations

from typing import Any

from mlspec.compiler.azureml.monitor_preprocess import CORRELATION_COLUMN, PREDICTION_COLUMN
from mlspec.compiler.azureml.names import inert, monitor_name, retrain_schedule_name
from mlspec.spec_schema.durations import duration_minutes, iso8601
from mlspec.spec_schema.models import Alert, ModelSpec
from mlspec.spec_schema.monitor_signals import SIGNAL_METRICS, alert_metric

PRODUCTION_CONTEXT = {
    "data_drift": "model_inputs",
    "data_quality": "model_inputs",
    "prediction_drift": "model_outputs",
}
DATA_CONTEXTS = frozenset({"model_inputs", "model_outputs", "training", "test", "validation", "ground_truth"})
MONITOR_COMPUTE = {"instance_type": "standard_e4s_v3", "runtime_version": "3.4"}  # 1.35.2 accepts 3.4 and 3.5
RECURRENCE_FREQUENCIES = frozenset({"minute", "hour", "day", "week", "month"})


def retrain_schedule(model: ModelSpec, expression: str, description: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/schedule.schema.json",
        "name": retrain_schedule_name(model.name),
        "display_name": f"{inert(model.name)} retrain",
    }
    if description:
        data["description"] = inert(description)
    data["trigger"] = {"type": "cron", "expression": expression, "time_zone": "UTC"}
    data["create_job"] = "../pipeline.yml"
    return data


def monitor_schedule(
    model: ModelSpec,
    alerts: list[tuple[int, Alert]],
    *,
    training_data_url: str,
    production_data_url: str,
    endpoint: str,
    emails: list[str],
    preprocessing: str,
) -> dict[str, Any]:
    """The monitor schedule YAML data (call with at least one alert); ``preprocessing`` is the registered
    component that turns the prediction log into the table each signal reads."""
    shortest = min(duration_minutes(a.window) for _, a in alerts)
    definition: dict[str, Any] = {
        "compute": dict(MONITOR_COMPUTE),
        "monitoring_target": {"ml_task": model.task},
        "monitoring_signals": {
            alert.name: _signal(
                alert, model.training.target, training_data_url, production_data_url, preprocessing
            )
            for _, alert in alerts
        },
    }
    if emails:
        definition["alert_notification"] = {"emails": [inert(e) for e in emails]}
    return {
        "$schema": "https://azuremlschemas.azureedge.net/latest/schedule.schema.json",
        "name": monitor_name(model.name),
        "display_name": f"{inert(model.name)} monitor",
        # The model is served on AKS, not by an Azure ML endpoint: the endpoint is named here
        # for people, and the monitor reads the serving log as its production data.
        "tags": {"mlspec.endpoint": endpoint},
        "trigger": {"type": "recurrence", **_every(shortest), "time_zone": "UTC"},
        "create_monitor": definition,
    }


def _signal(
    alert: Alert, target: str, training_url: str, production_url: str, preprocessing: str
) -> dict[str, Any]:
    metric = alert_metric(alert)
    numerical, categorical = SIGNAL_METRICS[alert.signal]
    thresholds: dict[str, Any] = {}
    if metric in numerical or metric not in categorical:  # an unknown metric goes where check() reports it
        thresholds["numerical"] = {metric: float(alert.threshold)}
    if metric in categorical:
        thresholds["categorical"] = {metric: float(alert.threshold)}
    signal: dict[str, Any] = {
        "type": alert.signal,
        "alert_enabled": True,
        "production_data": {
            "input_data": {"type": "uri_folder", "path": inert(production_url)},
            "data_context": PRODUCTION_CONTEXT[alert.signal],
            "pre_processing_component": preprocessing,
            "data_window": {"lookback_window_size": iso8601(alert.window), "lookback_window_offset": "P0D"},
            "data_column_names": {"correlation_id": CORRELATION_COLUMN, "prediction": PREDICTION_COLUMN},
        },
        "reference_data": {
            "input_data": {"type": "uri_folder", "path": inert(training_url)},
            "data_context": "training",
            "data_column_names": {"target_column": inert(target)},
        },
    }
    if alert.signal != "prediction_drift" and alert.features:
        signal["features"] = [inert(f) for f in alert.features]
    signal["metric_thresholds"] = thresholds
    return signal


def _every(minutes: int) -> dict[str, Any]:
    if minutes % 1440 == 0:
        return {"frequency": "day", "interval": minutes // 1440}
    if minutes % 60 == 0:
        return {"frequency": "hour", "interval": minutes // 60}
    return {"frequency": "minute", "interval": minutes}
