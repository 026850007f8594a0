"""The alerts Azure ML's model monitor watches, and the metrics each of its signals takes.

Drift and data-quality alerts become signals of the monitor schedule, each with a threshold for the
alert's ``metric`` (or the signal's default). Shared by the Azure ML check (unknown metrics and
operators that point the wrong way, at the alert's line) and the Azure ML renderer.
"""

from __future__ import annotations

from mlspec.spec_schema.models import Alert, MLProject

DRIFT_NUMERICAL = frozenset(
    {
        "jensen_shannon_distance",
        "normalized_wasserstein_distance",
        "population_stability_index",
        "two_sample_kolmogorov_smirnov_test",
    }
)
DRIFT_CATEGORICAL = frozenset(
    {"jensen_shannon_distance", "population_stability_index", "pearsons_chi_squared_test"}
)
QUALITY = frozenset({"null_value_rate", "data_type_error_rate", "out_of_bounds_rate"})
STATISTICAL_TESTS = frozenset({"two_sample_kolmogorov_smirnov_test", "pearsons_chi_squared_test"})
"""Their value is a p-value: drift is a value *below* the threshold."""

SIGNAL_METRICS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "data_drift": (DRIFT_NUMERICAL, DRIFT_CATEGORICAL),
    "prediction_drift": (DRIFT_NUMERICAL, DRIFT_CATEGORICAL),
    "data_quality": (QUALITY, QUALITY),
}
"""Signal type → (numerical metrics, categorical metrics)."""
DEFAULT_METRIC = {
    "data_drift": "jensen_shannon_distance",
    "prediction_drift": "jensen_shannon_distance",
    "data_quality": "null_value_rate",
}


def monitor_alerts(alerts: list[Alert]) -> list[tuple[int, Alert]]:
    """The alerts the model monitor watches, with their index in ``monitoring.alerts``."""
    return [(i, a) for i, a in enumerate(alerts) if a.signal in SIGNAL_METRICS]


def watched_alerts(project: MLProject) -> list[tuple[int, Alert]]:
    """What a model monitor would watch: the monitor alerts of a project that has a deployment to watch
    (none without one). Whether it is rendered also needs ``deployment.log_predictions`` (MLS629)."""
    if project.monitoring is None or project.deployment is None:
        return []
    return monitor_alerts(project.monitoring.alerts)


def alert_metric(alert: Alert) -> str:
    return alert.metric or DEFAULT_METRIC[alert.signal]
