"""The monitor program on synthetic logs: distances, data quality, serving, model metrics, alerts."""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn import metrics as skm

from mlspec.runtime import monitor_program as mp

NOW = "2026-12-01T10:00:00Z"
PROGRAM = Path(mp.__file__)


# --- builders ------------------------------------------------------------------------------------


def write_predictions(
    folder: Path,
    inputs: Sequence[dict[str, Any]],
    predictions: Sequence[Any] | None = None,
    *,
    time: str = "2026-12-01T09:59:00.000+00:00",
    probabilities: Sequence[list[float]] | None = None,
    classes: list[Any] | None = None,
    per_request: int = 1,
    name: str = "predictions-20261201.jsonl",
    version: str | None = "3",
) -> list[str]:
    """One request per ``per_request`` inputs; returns the request ids."""
    folder.mkdir(parents=True, exist_ok=True)
    predictions = list(predictions) if predictions is not None else [0] * len(inputs)
    ids = []
    with (folder / name).open("a", encoding="utf-8") as handle:
        for start in range(0, len(inputs), per_request):
            request_id = f"{name}-{start}"
            ids.append(request_id)
            record: dict[str, Any] = {
                "time": time,
                "project": "p",
                "endpoint": "e",
                "model": "m",
                "request_id": request_id,
                "inputs": list(inputs[start : start + per_request]),
                "predictions": predictions[start : start + per_request],
            }
            if version is not None:  # older logs name no version
                record["model_version"] = version
            if probabilities is not None:
                record["probabilities"] = list(probabilities[start : start + per_request])
                record["classes"] = classes
            handle.write(json.dumps(record) + "\n")
    return ids


def config(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "project": "p",
        "environment": "local",
        "model": "m",
        "model_version": "3",
        "task": "classification",
        "target": "y",
        "features": ["x"],
        "reference": {"path": str(tmp_path / "reference.parquet"), "format": "parquet"},
        "predictions": {"path": str(tmp_path / "predictions")},
        "ground_truth": None,
        "serving_log": None,
        "alerts": [],
        "now": NOW,
    }
    base.update(overrides)
    return base


def alert(
    signal: str, threshold: float, operator: str = ">", window: str = "1d", **extra: Any
) -> dict[str, Any]:
    return {
        "name": f"{signal}-{operator}-{threshold}",
        "signal": signal,
        "operator": operator,
        "threshold": threshold,
        "window": window,
        "action": "notify",
        "severity": 3,
        "features": None,
        "metric": None,
        **extra,
    }


# --- distances against independent computations -------------------------------------------------


def test_jensen_shannon_distance_of_known_frequencies() -> None:
    p, q = [0.5, 0.5], [0.75, 0.25]
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]

    def kl(a: list[float], b: list[float]) -> float:
        return sum(x * math.log2(x / y) for x, y in zip(a, b, strict=True) if x > 0)

    expected = math.sqrt((kl(p, m) + kl(q, m)) / 2)
    assert mp.jensen_shannon_distance(["a", "a", "b", "b"], ["a", "a", "a", "b"]) == pytest.approx(expected)
    assert mp.jensen_shannon_distance(["a", "b"], ["a", "b", "b", "a"]) == 0.0
    assert mp.jensen_shannon_distance(["a"], ["b"]) == pytest.approx(1.0)  # disjoint: the maximum


def test_population_stability_index_of_known_bins() -> None:
    reference = np.arange(10, dtype=float)  # two bins at the median 4.5: five values each
    production = np.array([0.0, 1.0, 2.0, 8.0])  # three below, one above
    expected = (0.75 - 0.5) * math.log(0.75 / 0.5) + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert mp.population_stability_index(reference, production, bins=2) == pytest.approx(expected)
    # A cut value has a bin of its own (below 2, exactly 2, above 2), so a point mass is told apart.
    tied, on_edge = np.array([1.0, 2.0, 2.0, 3.0]), np.array([1.0, 1.0, 2.0, 3.0])
    p, q = np.array([0.25, 0.5, 0.25]), np.array([0.5, 0.25, 0.25])
    assert mp.population_stability_index(tied, on_edge, bins=2) == pytest.approx(
        np.sum((q - p) * np.log(q / p))
    )
    # 95% zeros against all ones: a complete shift, not two samples in one bin x >= 0.
    zeros, ones = np.array([0.0] * 95 + [1.0] * 5), np.ones(100)
    assert mp.numerical_jensen_shannon_distance(zeros, ones) > 0.9
    assert mp.numerical_jensen_shannon_distance(np.full(50, 1.5), np.full(50, 2.5)) == pytest.approx(1.0)
    # An empty production bin counts as epsilon instead of making the index infinite.
    empty = np.array([0.0, 1.0])
    eps = 1e-4
    with_eps = (1 - 0.5) * math.log(1 / 0.5) + (eps - 0.5) * math.log(eps / 0.5)
    assert mp.population_stability_index(reference, empty, bins=2, epsilon=eps) == pytest.approx(with_eps)


def test_population_stability_index_bins_follow_numpy_histogram_on_deciles() -> None:
    rng = np.random.default_rng(7)
    reference, production = rng.normal(0, 1, 5000), rng.normal(0.3, 1.2, 800)
    edges = np.concatenate([[-np.inf], np.quantile(reference, np.linspace(0, 1, 11))[1:-1], [np.inf]])
    p = np.histogram(reference, edges)[0] / reference.size
    q = np.histogram(production, edges)[0] / production.size
    assert mp.population_stability_index(reference, production) == pytest.approx(
        np.sum((q - p) * np.log(q / p))
    )


def test_normalized_wasserstein_distance_is_in_reference_standard_deviations() -> None:
    reference = np.array([0.0, 1.0, 2.0, 3.0])
    production = reference + 1.0  # every value moved by one: W1 = 1
    assert mp.normalized_wasserstein_distance(reference, production) == pytest.approx(1 / np.std(reference))
    assert mp.normalized_wasserstein_distance(reference, reference.copy()) == 0.0
    constant = np.array([5.0, 5.0])
    assert mp.normalized_wasserstein_distance(constant, np.array([6.0])) == pytest.approx(1 / 5)


# --- drift over logs ---------------------------------------------------------------------------


def drift_case(tmp_path: Path, shift: float, alerts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    n = 4000
    pd.DataFrame(
        {
            "amount": rng.normal(50, 10, n),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]),
            "addons": rng.integers(0, 4, n),
            "active": rng.random(n) < 0.4,
            "y": rng.integers(0, 2, n),
        }
    ).to_parquet(tmp_path / "reference.parquet")
    m = 1500
    inputs = [
        {
            "amount": float(v),
            "plan": str(p),
            "addons": int(a),
            "active": bool(b),
        }
        for v, p, a, b in zip(
            rng.normal(50 + shift * 10, 10, m),
            rng.choice(["basic", "plus", "pro"], m, p=[0.5, 0.3, 0.2]),
            rng.integers(0, 4, m),
            rng.random(m) < 0.4,
            strict=True,
        )
    ]
    write_predictions(
        tmp_path / "predictions", inputs, [int(v) for v in rng.integers(0, 2, m)], per_request=5
    )
    features = ["amount", "plan", "addons", "active"]
    return mp.run_monitor(
        config(tmp_path, features=features, alerts=alerts or [alert("data_drift", 0.2, features=features)]),
        tmp_path / "out",
    )


def test_identically_distributed_inputs_show_no_drift(tmp_path: Path) -> None:
    result = drift_case(tmp_path, shift=0.0)
    assert result["feature_kinds"] == {
        "amount": "numerical",
        "plan": "categorical",
        "addons": "categorical",  # few integer levels
        "active": "categorical",
    }
    assert all(value is not None and value < 0.06 for value in result["drift"].values()), result["drift"]
    assert result["drift_metrics"]["amount"]["population_stability_index"] < 0.05
    assert result["prediction_drift"] < 0.06
    [outcome] = result["alerts"]
    assert outcome["fired"] is False and outcome["value"] < 0.2


def test_a_shifted_feature_drifts_clearly_and_fires_on_it(tmp_path: Path) -> None:
    result = drift_case(tmp_path, shift=0.8)  # mean moved by 0.8 standard deviations
    assert result["drift"]["amount"] > 0.6
    assert result["drift_metrics"]["amount"]["population_stability_index"] > 0.25
    assert max(result["drift"][f] for f in ("plan", "addons", "active")) < 0.06
    [outcome] = result["alerts"]
    assert outcome["fired"] is True
    assert outcome["feature"] == "amount"
    assert outcome["metric"] == "normalized_wasserstein_distance"
    assert outcome["value"] == pytest.approx(result["drift"]["amount"])


def test_the_statistical_tests_are_p_values_computed_as_scipy_does_by_hand() -> None:
    # Chi-squared of homogeneity for a 2x2 table, written out: expected counts from the margins.
    reference, production = ["a"] * 30 + ["b"] * 70, ["a"] * 50 + ["b"] * 50
    table = [[30, 70], [50, 50]]
    total, rows, columns = 200, [100, 100], [80, 120]
    statistic = sum(
        (table[i][j] - rows[i] * columns[j] / total) ** 2 / (rows[i] * columns[j] / total)
        for i in range(2)
        for j in range(2)
    )
    expected = math.erfc(math.sqrt(statistic / 2))  # chi-squared survival with one degree of freedom
    assert mp.chi_squared_p_value(reference, production) == pytest.approx(expected)
    assert mp.chi_squared_p_value(["a", "b"] * 20, ["b", "a"] * 20) == pytest.approx(1.0)
    assert mp.chi_squared_p_value(["a"] * 5, ["a"] * 9) == 1.0  # one level: nothing can differ
    numbers = mp.profile(pd.Series(np.linspace(0.0, 1.0, 101)))
    assert numbers is not None
    same = mp.drift_between(numbers, np.linspace(0.0, 1.0, 101))
    apart = mp.drift_between(numbers, np.linspace(2.0, 3.0, 101))
    assert same["two_sample_kolmogorov_smirnov_test"] == pytest.approx(1.0)
    assert apart["two_sample_kolmogorov_smirnov_test"] < 1e-20  # disjoint samples
    # Jensen-Shannon of numbers, over the PSI bins, counted by hand: the cuts are the reference's deciles
    # 0.1 ... 0.9, each a bin of its own (they are values of this sample); the shifted sample is all above.
    cuts = [k / 10 for k in range(1, 10)]

    def shares(sample: list[float]) -> list[float]:
        counts = [0] * 19
        for x in sample:
            counts[sum(c < x for c in cuts) + sum(c <= x for c in cuts)] += 1
        return [n / len(sample) for n in counts]

    p, q = shares([k / 100 for k in range(101)]), shares([2 + k / 100 for k in range(101)])
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]
    kl = lambda a, b: sum(x * math.log2(x / y) for x, y in zip(a, b, strict=True) if x > 0)  # noqa: E731
    assert same["jensen_shannon_distance"] == pytest.approx(0.0, abs=1e-9)
    assert apart["jensen_shannon_distance"] == pytest.approx(math.sqrt((kl(p, m) + kl(q, m)) / 2))


def test_a_decimal_column_is_numerical(tmp_path: Path) -> None:
    """A decimal(p,s) column comes out of pyarrow as Decimal objects: it drifts as the numbers it holds."""
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    values = pa.array([decimal.Decimal(f"{i}.25") for i in range(200)], pa.decimal128(10, 2))
    pq.write_table(pa.table({"amount": values}), tmp_path / "reference.parquet")
    found = mp.profile(mp.read_table(tmp_path / "reference.parquet", "parquet")["amount"])
    assert found is not None and (found.kind, found.family) == ("numerical", "number")
    drift = mp.drift_between(found, mp.comparable_values(found, pd.Series([i + 100.25 for i in range(200)])))
    assert (
        drift["two_sample_kolmogorov_smirnov_test"] < 1e-10 and drift["normalized_wasserstein_distance"] > 1
    )


def test_an_alert_on_a_statistical_test_fires_when_the_p_value_falls_below(tmp_path: Path) -> None:
    alerts = [
        alert(
            "data_drift", 0.01, operator="<", features=["amount"], metric="two_sample_kolmogorov_smirnov_test"
        ),
        alert("data_drift", 0.01, operator="<", features=["plan"], metric="pearsons_chi_squared_test"),
    ]
    result = drift_case(tmp_path, shift=0.8, alerts=alerts)  # only amount moves
    ks, chi2 = result["alerts"]
    assert ks["fired"] is True and ks["metric"] == "two_sample_kolmogorov_smirnov_test" and ks["value"] < 0.01
    assert chi2["fired"] is False and chi2["metric"] == "pearsons_chi_squared_test" and chi2["value"] > 0.01


def test_window_keeps_only_recent_records(tmp_path: Path) -> None:
    pd.DataFrame({"x": np.linspace(0, 1, 200), "y": [0, 1] * 100}).to_parquet(tmp_path / "reference.parquet")
    folder = tmp_path / "predictions"
    write_predictions(folder, [{"x": 0.5}] * 20, time="2026-12-01T09:30:00+00:00")  # inside 1h
    write_predictions(folder, [{"x": 9.0}] * 20, time="2026-11-28T10:00:00+00:00", name="old.jsonl")
    write_predictions(folder, [{"x": 9.0}] * 20, time="2026-12-01T11:00:00+00:00", name="future.jsonl")
    write_predictions(folder, [{"x": 9.0}] * 20, time="not a time", name="undated.jsonl")
    alerts = [
        alert("data_quality", 0.0, window="1h", metric="out_of_bounds_rate"),
        alert("data_quality", 0.0, window="7d", metric="out_of_bounds_rate"),
    ]
    result = mp.run_monitor(config(tmp_path, alerts=alerts))
    recent, week = result["alerts"]
    assert recent["value"] == 0.0 and recent["fired"] is False
    assert week["value"] == pytest.approx(0.5) and week["fired"] is True  # the old rows count
    assert result["windows"]["data_quality"] == "P7D"  # the longest alert window sums up


def test_only_the_configured_model_versions_records_are_measured(tmp_path: Path) -> None:
    """After a retrain promotes version 3, version 2's drifted traffic no longer fires the alert."""
    pd.DataFrame({"x": np.linspace(0, 1, 200), "y": [0, 1] * 100}).to_parquet(tmp_path / "reference.parquet")
    folder = tmp_path / "predictions"
    fresh = [{"x": float(v)} for v in np.linspace(0, 1, 30)]
    current = write_predictions(folder, fresh, [1] * 30, name="v3.jsonl")
    unversioned = write_predictions(folder, fresh[::3], [1] * 10, name="old-format.jsonl", version=None)
    stale = write_predictions(folder, [{"x": 9.0}] * 40, [0] * 40, name="v2.jsonl", version="2")
    with (tmp_path / "truth.jsonl").open("w") as handle:
        for request_id in current + unversioned + stale:
            handle.write(json.dumps({"request_id": request_id, "row": 0, "target": 1}) + "\n")
    rules = [
        alert("data_drift", 0.2),
        alert("data_quality", 0.0, metric="out_of_bounds_rate"),
        alert("prediction_drift", 0.5, metric="population_stability_index"),
    ]
    # 40 rows of the version: few, but a clear change (min_drift_rows is tested on its own below).
    cfg = config(
        tmp_path, ground_truth={"path": str(tmp_path / "truth.jsonl")}, alerts=rules, min_drift_rows=20
    )
    result = mp.run_monitor(cfg)
    assert result["model_version"] == "3"
    assert result["prediction_rows"] == 40 and result["other_version_rows"] == 40
    assert [a["fired"] for a in result["alerts"]] == [False, False, True]  # predictions all 1 vs 50/50
    assert result["data_quality"]["x"]["out_of_bounds_rate"] == 0.0
    assert result["ground_truth_rows"] == 40 and result["model_metrics"]["accuracy"] == 1.0
    # Without a version every record counts, and version 2's inputs fire the drift alert.
    everything = mp.run_monitor({**cfg, "model_version": ""})
    assert everything["other_version_rows"] == 0 and everything["prediction_rows"] == 80
    assert everything["alerts"][0]["fired"] is True
    assert everything["model_metrics"]["accuracy"] == 0.5


def test_a_window_with_only_other_versions_says_so(tmp_path: Path) -> None:
    pd.DataFrame({"x": np.linspace(0, 1, 200), "y": [0, 1] * 100}).to_parquet(tmp_path / "reference.parquet")
    write_predictions(tmp_path / "predictions", [{"x": 9.0}] * 5, version="2")
    result = mp.run_monitor(config(tmp_path, now=None, alerts=[alert("data_drift", 0.2)]))
    assert result["now"] == "2026-12-01T09:59:00+00:00"  # the newest record of any version
    [outcome] = result["alerts"]
    assert outcome["fired"] is False and outcome["value"] is None
    assert outcome["reason"] == (
        "no logged prediction of model version 3 in the P1D window (5 logged rows of other versions are left out)"
    )


# --- data quality ------------------------------------------------------------------------------


def test_data_quality_counts_nulls_type_errors_and_out_of_bounds(tmp_path: Path) -> None:
    pd.DataFrame(
        {
            "n": [1.0, 2.0, 3.0, 4.0],
            "flag": [True, False, True, False],
            "color": ["red", "blue", "red", "blue"],
            "y": [0, 1, 0, 1],
        }
    ).to_parquet(tmp_path / "reference.parquet")
    inputs = [
        {"n": 2.5, "flag": True, "color": "red"},
        {"n": None, "flag": "yes", "color": "green"},  # null, type error, unseen level
        {"n": "abc", "flag": False},  # type error, (missing) null
        {"n": 99, "flag": float("nan"), "color": 7},  # out of bounds, null, type error
        {"n": True, "flag": 1, "color": "blue"},  # booleans are not numbers, numbers not booleans
    ]
    write_predictions(tmp_path / "predictions", inputs)
    result = mp.run_monitor(config(tmp_path, features=["n", "flag", "color"]))
    quality = result["data_quality"]
    assert quality["n"] == {"null_value_rate": 0.2, "data_type_error_rate": 0.4, "out_of_bounds_rate": 0.2}
    assert quality["flag"] == {"null_value_rate": 0.2, "data_type_error_rate": 0.4, "out_of_bounds_rate": 0.0}
    assert quality["color"] == {
        "null_value_rate": 0.2,
        "data_type_error_rate": 0.2,
        "out_of_bounds_rate": 0.2,
    }
    # Drift reads only values of the right type: one 2.5 and one 99 for n.
    assert set(result["drift_metrics"]["n"]) == {
        "normalized_wasserstein_distance",
        "population_stability_index",
        "two_sample_kolmogorov_smirnov_test",
        "jensen_shannon_distance",
    }


@pytest.mark.parametrize(
    ("operator", "threshold", "fired"),
    [
        (">", 0.25, False),
        (">=", 0.25, True),
        ("<", 0.25, False),
        ("<=", 0.25, True),
        (">", 0.2, True),
        ("<", 0.3, True),
    ],
)
def test_alerts_fire_exactly_as_their_operator_says(
    tmp_path: Path, operator: str, threshold: float, fired: bool
) -> None:
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]}).to_parquet(tmp_path / "reference.parquet")
    write_predictions(tmp_path / "predictions", [{"x": 1.0}, {"x": None}, {"x": 2.0}, {"x": 3.0}])
    rule = alert("data_quality", threshold, operator, metric="null_value_rate")
    [outcome] = mp.run_monitor(config(tmp_path, alerts=[rule]))["alerts"]
    assert outcome["value"] == 0.25
    assert outcome["fired"] is fired
    assert outcome["operator"] == operator and outcome["threshold"] == threshold


def test_per_feature_alert_takes_the_most_alarming_watched_feature(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0], "c": [1.0, 2.0], "y": [0, 1]}).to_parquet(
        tmp_path / "reference.parquet"
    )
    inputs = [{"a": None, "b": 1.0, "c": None}, {"a": 1.0, "b": 1.0, "c": None}]
    write_predictions(tmp_path / "predictions", inputs)
    rising = alert("data_quality", 0.4, ">", features=["a", "b"])  # c is not watched
    falling = alert("data_quality", 0.1, "<", features=["a", "b"], metric="null_value_rate")
    high, low = mp.run_monitor(config(tmp_path, features=["a", "b", "c"], alerts=[rising, falling]))["alerts"]
    assert (high["feature"], high["value"], high["fired"]) == ("a", 0.5, True)
    # With "<" the smallest value counts (per feature too: a metric named keeps the others out).
    assert (low["feature"], low["value"], low["fired"]) == ("b", 0.0, True)


# --- model metrics -----------------------------------------------------------------------------


def test_ground_truth_join_gives_the_scikit_learn_metrics(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 240
    truth = rng.integers(0, 2, n)
    positive = np.clip(truth * 0.35 + rng.random(n) * 0.65, 0, 1)
    predicted = (positive >= 0.5).astype(int)
    pd.DataFrame({"x": rng.random(50), "y": rng.integers(0, 2, 50)}).to_parquet(
        tmp_path / "reference.parquet"
    )
    ids = write_predictions(
        tmp_path / "predictions",
        [{"x": float(v)} for v in rng.random(n)],
        predicted.tolist(),
        probabilities=[[1 - p, p] for p in positive.tolist()],
        classes=[0, 1],
        per_request=4,
    )
    joined = list(range(0, n, 3))  # a third of the rows got their outcome
    with (tmp_path / "truth.jsonl").open("w") as handle:
        for i in joined:
            handle.write(
                json.dumps({"request_id": ids[i // 4], "row": i % 4, "target": int(truth[i])}) + "\n"
            )
        handle.write(json.dumps({"request_id": "unknown", "row": 0, "target": 1}) + "\n")
    rule = alert("model_metric", 0.99, "<", window="7d", metric="roc_auc")
    result = mp.run_monitor(
        config(tmp_path, ground_truth={"path": str(tmp_path / "truth.jsonl")}, alerts=[rule])
    )
    y, p, score = truth[joined], predicted[joined], positive[joined]
    expected = {
        "accuracy": skm.accuracy_score(y, p),
        "precision": skm.precision_score(y, p),
        "recall": skm.recall_score(y, p),
        "f1": skm.f1_score(y, p),
        "roc_auc": skm.roc_auc_score(y, score),
        "log_loss": skm.log_loss(y, np.column_stack([1 - score, score])),
    }
    assert result["ground_truth_rows"] == len(joined)
    assert result["model_metrics"] == pytest.approx(expected)
    [outcome] = result["alerts"]
    assert outcome["value"] == pytest.approx(expected["roc_auc"]) and outcome["fired"] is True


def test_multiclass_metrics_are_weighted_and_auc_is_one_vs_rest(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n, labels = 300, ["cat", "dog", "eel"]
    truth = rng.choice(labels, n)
    raw = rng.random((n, 3)) + np.array([[0.4 * (t == c) for c in labels] for t in truth])
    proba = raw / raw.sum(axis=1, keepdims=True)
    predicted = np.array(labels)[proba.argmax(axis=1)]
    pd.DataFrame({"x": [1.0, 2.0], "y": ["cat", "dog"]}).to_parquet(tmp_path / "reference.parquet")
    ids = write_predictions(
        tmp_path / "predictions",
        [{"x": 1.0}] * n,
        predicted.tolist(),
        probabilities=proba.tolist(),
        classes=labels,
    )
    with (tmp_path / "truth.jsonl").open("w") as handle:
        for request_id, target in zip(ids, truth, strict=True):
            handle.write(json.dumps({"request_id": request_id, "row": 0, "target": str(target)}) + "\n")
    result = mp.run_monitor(config(tmp_path, ground_truth={"path": str(tmp_path / "truth.jsonl")}))
    metrics = result["model_metrics"]
    assert 0.5 < metrics["accuracy"] < 0.95  # separable enough to measure, not perfect
    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(truth, predicted))
    assert metrics["recall"] == pytest.approx(skm.recall_score(truth, predicted, average="weighted"))
    assert metrics["f1"] == pytest.approx(skm.f1_score(truth, predicted, average="weighted"))
    assert metrics["precision"] == pytest.approx(skm.precision_score(truth, predicted, average="weighted"))
    assert metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(truth, proba, multi_class="ovr", labels=labels)
    )
    assert metrics["log_loss"] == pytest.approx(skm.log_loss(truth, proba, labels=labels))


def test_without_probabilities_auc_comes_from_hard_labels_and_log_loss_is_absent(tmp_path: Path) -> None:
    truth = [True, False, True, True, False, False, True, False]
    predicted = [True, False, False, True, True, False, True, False]
    pd.DataFrame({"x": [1.0, 2.0], "y": [True, False]}).to_parquet(tmp_path / "reference.parquet")
    ids = write_predictions(tmp_path / "predictions", [{"x": 1.0}] * 8, predicted)
    (tmp_path / "truth").mkdir()
    with (tmp_path / "truth" / "part-0.jsonl").open("w") as handle:
        for request_id, target in zip(ids, truth, strict=True):
            handle.write(json.dumps({"request_id": request_id, "target": target}) + "\n")  # row defaults to 0
    result = mp.run_monitor(config(tmp_path, ground_truth={"path": str(tmp_path / "truth")}))
    metrics = result["model_metrics"]
    assert metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(truth, predicted))
    assert metrics["recall"] == pytest.approx(skm.recall_score(truth, predicted))
    assert "log_loss" not in metrics


def test_regression_metrics_match_scikit_learn(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    truth = rng.normal(150, 40, 120)
    predicted = truth + rng.normal(0, 20, 120)
    pd.DataFrame({"x": rng.random(30), "y": rng.normal(150, 40, 30)}).to_parquet(
        tmp_path / "reference.parquet"
    )
    ids = write_predictions(tmp_path / "predictions", [{"x": 0.5}] * 120, predicted.tolist())
    with (tmp_path / "truth.jsonl").open("w") as handle:
        for request_id, target in zip(ids, truth, strict=True):
            handle.write(json.dumps({"request_id": request_id, "row": 0, "target": float(target)}) + "\n")
    rule = alert("model_metric", 15.0, ">", window="30d", metric="rmse")
    result = mp.run_monitor(
        config(
            tmp_path, task="regression", ground_truth={"path": str(tmp_path / "truth.jsonl")}, alerts=[rule]
        )
    )
    assert result["model_metrics"] == pytest.approx(
        {
            "rmse": math.sqrt(skm.mean_squared_error(truth, predicted)),
            "mae": skm.mean_absolute_error(truth, predicted),
            "r2": skm.r2_score(truth, predicted),
            "mape": skm.mean_absolute_percentage_error(truth, predicted),
        }
    )
    assert result["feature_kinds"] == {"x": "numerical"}
    assert set(result["prediction_drift_metrics"]) == {
        "normalized_wasserstein_distance",
        "population_stability_index",
        "two_sample_kolmogorov_smirnov_test",
        "jensen_shannon_distance",
    }
    assert result["alerts"][0]["fired"] is True


# --- serving -----------------------------------------------------------------------------------


def test_serving_statistics_from_the_scoring_server_log(tmp_path: Path) -> None:
    lines = ["not json at all", json.dumps(["a list"]), json.dumps({"message": "no event"})]
    latencies = [float(v) for v in range(1, 101)]
    for i, ms in enumerate(latencies):
        when = f"2026-12-01T09:5{i % 10}:00+00:00"
        status = (500, 503, 500, 599)[i] if i < 4 else (400 if i < 10 else 200)
        lines.append(
            json.dumps(
                {"event": "request", "method": "POST", "path": "/score", "status": status, "time": when}
            )
        )
        if status == 200:  # the server logs a latency for answered requests only
            lines.append(json.dumps({"event": "scored", "ms": ms, "rows": 1, "time": when}))
    lines.append(
        json.dumps(
            {"event": "request", "path": "/health/ready", "status": 500, "time": "2026-12-01T09:59:00+00:00"}
        )
    )
    lines.append(
        json.dumps({"event": "scored", "ms": 10_000, "time": "2026-12-01T08:00:00+00:00"})
    )  # too old
    (tmp_path / "serving.log").write_text("\n".join(lines) + "\n")
    rules = [
        alert("latency_p95_ms", 90, window="15m"),
        alert("error_rate", 0.05, window="15m"),
        alert("request_rate", 0.5, "<", window="15m"),
    ]
    result = mp.run_monitor(config(tmp_path, serving_log=str(tmp_path / "serving.log"), alerts=rules))
    scored = latencies[10:]
    assert result["serving"] == pytest.approx(
        {
            "latency_p95_ms": float(np.percentile(scored, 95)),
            "latency_p99_ms": float(np.percentile(scored, 99)),
            "error_rate": 0.04,  # 4 of 100 /score requests got a 5xx; 400s are the caller's
            "request_rate": 100 / 900,
        }
    )
    latency, errors, rate = result["alerts"]
    assert latency["fired"] is True and errors["fired"] is False and rate["fired"] is True


def test_a_silent_endpoint_has_request_rate_zero_but_no_error_rate(tmp_path: Path) -> None:
    (tmp_path / "serving.log").write_text(json.dumps({"event": "listening", "time": NOW}) + "\n")
    rules = [alert("request_rate", 0.5, "<", window="30m"), alert("error_rate", 0.01, window="10m")]
    rate, errors = mp.run_monitor(config(tmp_path, serving_log=str(tmp_path / "serving.log"), alerts=rules))[
        "alerts"
    ]
    assert rate["value"] == 0.0 and rate["fired"] is True
    assert errors["value"] is None and errors["fired"] is False and "/score" in errors["reason"]


# --- empty inputs, the table, the CLI ------------------------------------------------------------


def test_nothing_to_read_gives_nulls_and_no_alert(tmp_path: Path) -> None:
    rules = [
        alert("data_drift", 0.2),
        alert("prediction_drift", 0.1),
        alert("data_quality", 0.05, window="1h"),
        alert("model_metric", 0.75, "<", window="7d", metric="roc_auc"),
        alert("latency_p99_ms", 100, window="5m"),
        alert("request_rate", 0.5, "<", window="30m"),
        alert("cpu_percent", 80, window="15m"),
        alert("memory_percent", 90, window="15m"),
    ]
    cfg = config(tmp_path, reference=None, ground_truth={"path": str(tmp_path / "nope")}, alerts=rules)
    result = mp.run_monitor(cfg, tmp_path / "out")
    assert result["rows"] == 0 and result["table_file"] is None
    assert result["drift"] == {"x": None} and result["prediction_drift"] is None
    assert result["model_metrics"] == {} and set(result["serving"].values()) == {None}
    for outcome in result["alerts"]:
        assert outcome["value"] is None and outcome["fired"] is False, outcome
        assert outcome["reason"]
    assert "platform metric" in result["alerts"][-1]["reason"]
    written = json.loads((tmp_path / "out" / "monitor-result.json").read_text())
    assert written == result


def test_empty_log_files_and_a_missing_target_do_not_crash(tmp_path: Path) -> None:
    pd.DataFrame({"x": [1.0, np.nan, 3.0]}).to_parquet(tmp_path / "reference.parquet")  # no target column
    (tmp_path / "predictions").mkdir()
    (tmp_path / "predictions" / "predictions-20261201.jsonl").write_text("")
    (tmp_path / "serving.log").write_text("")
    (tmp_path / "truth.jsonl").write_text("\n")
    cfg = config(
        tmp_path,
        features=["x", "absent"],
        serving_log=str(tmp_path / "serving.log"),
        ground_truth={"path": str(tmp_path / "truth.jsonl")},
        alerts=[alert("prediction_drift", 0.1), alert("latency_p95_ms", 100, window="5m")],
    )
    result = mp.run_monitor(cfg)
    assert result["prediction_rows"] == 0
    assert result["feature_notes"] == {"absent": "not a column of the reference"}
    assert all(not a["fired"] and a["value"] is None for a in result["alerts"])
    write_predictions(tmp_path / "predictions", [{"x": 2.0}], ["a"])
    again = mp.run_monitor(cfg)
    assert "no usable target" in again["alerts"][0]["reason"]
    assert again["drift"]["x"] is not None


def test_monitoring_table_has_the_alert_rules_columns_and_each_run_appends_a_file(tmp_path: Path) -> None:
    pd.DataFrame({"x": np.arange(20, dtype=float), "y": [0, 1] * 10}).to_parquet(
        tmp_path / "reference.parquet"
    )
    write_predictions(tmp_path / "predictions", [{"x": float(v)} for v in range(10)], [0, 1] * 5)
    cfg = config(tmp_path, alerts=[alert("data_drift", 0.2, window="6h")])
    first = mp.run_monitor(cfg, tmp_path / "out")
    folder = tmp_path / "out" / "MlspecModelMonitoring_CL"
    [first_file] = folder.glob("*.parquet")
    before = first_file.read_bytes()
    second = mp.run_monitor(cfg, tmp_path / "out")
    assert sorted(folder.glob("*.parquet")) == sorted({first_file, Path(second["table_file"])})
    assert first_file.read_bytes() == before
    table = pq.read_table(first_file)
    assert table.column_names == [
        "TimeGenerated",
        "Project",
        "Environment",
        "Model",
        "ModelVersion",
        "Signal",
        "Feature",
        "Metric",
        "Value",
        "Window",
        "SampleCount",
    ]
    assert str(table.schema.field("TimeGenerated").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("Value").type) == "double"
    rows = table.to_pandas()
    assert len(rows) == first["rows"]
    assert set(rows["Window"]) == {
        "PT6H",
        "P1D",
    }  # the alert's window, and one day for families without alerts
    drift = rows[(rows.Signal == "data_drift") & (rows.Window == "PT6H")]
    assert set(drift.Metric) == {
        "normalized_wasserstein_distance",
        "population_stability_index",
        "two_sample_kolmogorov_smirnov_test",
        "jensen_shannon_distance",
    }
    assert set(drift.Feature) == {"x"}
    assert set(drift.SampleCount) == {10}  # the ten logged rows
    assert set(rows[rows.Signal == "prediction_drift"].Feature) == {""}
    assert (
        (rows.Project == "p").all()
        and (rows.ModelVersion == "3").all()
        and (rows.Environment == "local").all()
    )
    assert rows.TimeGenerated.iloc[0] == pd.Timestamp(NOW)


def test_the_programs_table_has_the_columns_the_compiled_log_analytics_table_declares() -> None:
    from mlspec.compiler.monitor.tables import MONITORING_TABLE, TABLE_COLUMNS

    arrow_types = {"dateTime": "timestamp[us, tz=UTC]", "string": "string", "real": "double", "long": "int64"}
    declared = [(name, arrow_types[kind]) for name, kind in TABLE_COLUMNS[MONITORING_TABLE]]
    assert [(f.name, str(f.type)) for f in mp.TABLE_SCHEMA] == declared
    assert mp.MONITORING_TABLE == MONITORING_TABLE


def small_sample_case(tmp_path: Path, rows: int, shift: float, **settings: Any) -> dict[str, Any]:
    """``rows`` logged inputs drawn from the reference's own distribution, moved by ``shift`` sd."""
    rng = np.random.default_rng(7)
    pd.DataFrame({"x": rng.normal(0, 1, 4000), "y": rng.integers(0, 2, 4000)}).to_parquet(
        tmp_path / "reference.parquet"
    )
    inputs = [{"x": float(v)} for v in rng.normal(shift, 1, rows)]
    write_predictions(
        tmp_path / f"predictions-{rows}-{shift}", inputs, [int(v) for v in rng.integers(0, 2, rows)]
    )
    cfg = config(
        tmp_path,
        predictions={"path": str(tmp_path / f"predictions-{rows}-{shift}")},
        alerts=[alert("data_drift", 0.2)],
        **settings,
    )
    return mp.run_monitor(cfg)


def test_a_drift_alert_is_not_decided_on_too_few_rows(tmp_path: Path) -> None:
    # 12 rows of unchanged traffic measure above the 0.2 threshold by chance alone ...
    small = small_sample_case(tmp_path, rows=12, shift=0.0)
    [outcome] = small["alerts"]
    assert outcome["value"] > 0.2 and small["drift"]["x"] == pytest.approx(outcome["value"])
    assert outcome["fired"] is False and outcome["rows"] == 12
    assert outcome["reason"] == (
        "only 12 production values in the P1D window: a drift decision needs at least 100 "
        "(a small sample drifts by chance)"
    )
    # ... the same rows decide when the minimum is lowered, and enough rows decide by default.
    [lowered] = small_sample_case(tmp_path, rows=12, shift=0.0, min_drift_rows=10)["alerts"]
    assert lowered["fired"] is True and "reason" not in lowered
    [steady] = small_sample_case(tmp_path, rows=1500, shift=0.0)["alerts"]
    assert steady["fired"] is False and "reason" not in steady and steady["rows"] == 1500
    [moved] = small_sample_case(tmp_path, rows=150, shift=1.0)["alerts"]
    assert moved["fired"] is True and moved["rows"] == 150


@pytest.mark.parametrize("value", [0, -5, 2.5, "100", True])
def test_min_drift_rows_must_be_a_positive_whole_number(tmp_path: Path, value: Any) -> None:
    with pytest.raises(mp.ConfigError, match="min_drift_rows must be a whole number of at least 1"):
        mp.parse_config(config(tmp_path, min_drift_rows=value))


def test_reference_formats_partitioned_parquet_csv_jsonl_and_delta(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "region": ["n", "n", "s", "s"]})
    frame.to_parquet(tmp_path / "parted", partition_cols=["region"])
    (tmp_path / "parted" / "_SUCCESS").write_text("")
    parted = mp.read_table(tmp_path / "parted", "parquet")
    assert sorted(parted["region"].astype(str)) == ["n", "n", "s", "s"]  # the partition column stays
    (tmp_path / "csv").mkdir()
    frame.to_csv(tmp_path / "csv" / "part-0.csv", index=False)
    assert mp.read_table(tmp_path / "csv", "csv")["x"].tolist() == [1.0, 2.0, 3.0, 4.0]
    frame.to_json(tmp_path / "data.jsonl", orient="records", lines=True)
    assert mp.read_table(tmp_path / "data.jsonl")["region"].tolist() == ["n", "n", "s", "s"]
    from deltalake import write_deltalake

    write_deltalake(str(tmp_path / "delta"), frame)
    assert mp.read_table(tmp_path / "delta")["x"].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(mp.ConfigError, match="operator"):
        mp.run_monitor(config(tmp_path, alerts=[alert("data_drift", 0.2, "=>")]))
    with pytest.raises(mp.ConfigError, match="window"):
        mp.run_monitor(config(tmp_path, alerts=[alert("data_drift", 0.2, window="soon")]))
    assert mp.window_minutes("PT5M") == 5 and mp.window_minutes("P1DT2H") == 1560
    assert mp.iso_window(mp.window_minutes("90m")) == "PT90M"


def test_cli_runs_as_a_program(tmp_path: Path) -> None:
    pd.DataFrame({"x": np.arange(10, dtype=float), "y": [0, 1] * 5}).to_parquet(
        tmp_path / "reference.parquet"
    )
    write_predictions(tmp_path / "predictions", [{"x": 50.0}] * 10, [1] * 10)
    alerts = [alert("data_drift", 0.2), alert("prediction_drift", 0.1)]
    cfg = config(tmp_path, alerts=alerts, min_drift_rows=10)  # ten rows, all far out of the reference
    (tmp_path / "monitor.json").write_text(json.dumps(cfg))
    done = subprocess.run(
        [
            sys.executable,
            str(PROGRAM),
            "--config",
            str(tmp_path / "monitor.json"),
            "--output",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "rows": json.loads(done.stdout)["rows"],
        "sent": 0,
        "alerts": 2,
        "fired": [
            "data_drift->-0.2",
            "prediction_drift->-0.1",
        ],
    }
    result = json.loads((tmp_path / "out" / "monitor-result.json").read_text())
    assert (
        result["rows"] > 0
        and len(list((tmp_path / "out" / "MlspecModelMonitoring_CL").glob("*.parquet"))) == 1
    )
    (tmp_path / "bad.json").write_text(json.dumps(config(tmp_path, task="ranking")))
    bad = subprocess.run(
        [
            sys.executable,
            str(PROGRAM),
            "--config",
            str(tmp_path / "bad.json"),
            "--output",
            str(tmp_path / "o2"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "task" in bad.stderr


def test_program_imports_nothing_but_its_allowed_libraries() -> None:
    """The Azure SDKs only inside the function that sends rows: a local run never imports them."""
    tree = ast.parse(PROGRAM.read_text(encoding="utf-8"))
    allowed = {"numpy", "pandas", "pyarrow", "scipy", "deltalake", "__future__"}
    sending = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "ingest_rows")
    inside_sending = {id(n) for n in ast.walk(sending)}
    seen_azure = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        for name in names:
            top = name.split(".")[0]
            if top == "azure" and id(node) in inside_sending:
                seen_azure.add(name)
                continue
            assert top in allowed or top in sys.stdlib_module_names, name
    assert seen_azure == {"azure.monitor.ingestion", "azure.identity"}


class _Ingestion:
    """The end of the Logs Ingestion client's HTTP pipeline: records each request, answers 204."""

    def __init__(self, status: int = 204) -> None:
        self.sent: list[Any] = []
        self.status = status

    def __enter__(self) -> _Ingestion:
        return self

    def __exit__(self, *args: Any) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, request: Any, **kwargs: Any) -> Any:
        from azure.core.pipeline.transport import HttpResponse

        self.sent.append(request)
        status = self.status

        class Reply(HttpResponse):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__(request, None)
                self.status_code = status
                self.headers = {"Content-Type": "application/json", "x-ms-request-id": "1"}
                self.reason = "No Content" if status == 204 else "Forbidden"

            def body(self) -> bytes:
                if status == 204:
                    return b""
                return json.dumps({"error": {"code": "OperationFailed", "message": "no role"}}).encode()

        return Reply()


class _Token:
    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        assert scopes == ("https://monitor.azure.com/.default",)
        return AccessToken("job-token", 4102444800)


def _table_file(tmp_path: Path) -> Path:
    pd.DataFrame({"x": np.arange(200, dtype=float), "y": [0, 1] * 100}).to_parquet(
        tmp_path / "reference.parquet"
    )
    write_predictions(tmp_path / "predictions", [{"x": 50.0}] * 120, [1] * 120)
    result = mp.run_monitor(config(tmp_path, alerts=[alert("data_drift", 0.2)]), output=tmp_path / "out")
    return Path(result["table_file"])


def test_the_rows_of_a_run_are_sent_to_the_data_collection_rules_stream(tmp_path: Path) -> None:
    import gzip

    table = _table_file(tmp_path)
    transport = _Ingestion()
    sent = mp.ingest_rows(
        table,
        endpoint="https://dce-churn.westeurope-1.ingest.monitor.azure.com",
        rule_id="dcr-00000000000000000000000000000001",
        stream="Custom-MlspecModelMonitoring_CL",
        credential=_Token(),
        transport=transport,
    )
    [request] = transport.sent
    assert request.method == "POST"
    assert request.url.split("?")[0] == (
        "https://dce-churn.westeurope-1.ingest.monitor.azure.com/dataCollectionRules/"
        "dcr-00000000000000000000000000000001/streams/Custom-MlspecModelMonitoring_CL"
    )
    assert "api-version=2023-01-01" in request.url
    assert request.headers["Authorization"] == "Bearer job-token"
    rows = json.loads(gzip.decompress(request.body))
    expected = pq.read_table(table).to_pylist()
    assert sent == len(rows) == len(expected) > 0
    assert [r["Metric"] for r in rows] == [r["Metric"] for r in expected]
    assert all(r["TimeGenerated"].endswith("Z") and r["Project"] == "p" for r in rows)
    assert set(rows[0]) == {field.name for field in mp.TABLE_SCHEMA}


def test_refused_rows_are_an_error_not_silence(tmp_path: Path) -> None:
    table = _table_file(tmp_path)
    with pytest.raises(OSError, match="refused rows for Custom-MlspecModelMonitoring_CL"):
        mp.ingest_rows(
            table,
            endpoint="https://dce.example.ingest.monitor.azure.com",
            rule_id="dcr-1",
            stream="Custom-MlspecModelMonitoring_CL",
            credential=_Token(),
            transport=_Ingestion(status=403),
        )


def test_the_job_passes_its_mounted_inputs_over_the_configs_paths(tmp_path: Path) -> None:
    """Azure ML mounts the inputs where it likes; the config written at build time names lake URLs."""
    mounted = tmp_path / "mounted"
    pd.DataFrame({"x": np.arange(10, dtype=float), "y": [0, 1] * 5}).to_parquet(
        tmp_path / "reference.parquet"
    )
    (mounted / "reference").mkdir(parents=True)
    (tmp_path / "reference.parquet").rename(mounted / "reference" / "part-0.parquet")
    write_predictions(mounted / "log", [{"x": 50.0}] * 10, [1] * 10, version="7")
    cfg = config(
        tmp_path,
        reference={"path": "abfss://curated@lake.dfs.core.windows.net/t", "format": "parquet"},
        predictions={"path": "abfss://monitoring@lake.dfs.core.windows.net/p"},
        model_version="",
        alerts=[alert("data_drift", 0.2)],
        min_drift_rows=10,
    )
    (tmp_path / "monitor.json").write_text(json.dumps(cfg))
    argv = ["--config", str(tmp_path / "monitor.json"), "--output", str(tmp_path / "out")]
    mounts = [
        "--reference",
        str(mounted / "reference"),
        "--predictions",
        str(mounted / "log"),
        "--model-version",
        "7",
    ]
    assert mp.main([*argv, *mounts]) == 0
    result = json.loads((tmp_path / "out" / "monitor-result.json").read_text())
    assert (result["prediction_rows"], result["model_version"]) == (10, "7")
    assert [a["fired"] for a in result["alerts"]] == [True]
    with pytest.raises(SystemExit):
        mp.main([*argv, "--rule-id", "dcr-1"])  # half of what sending needs


def test_a_deployment_that_logs_no_predictions_says_how_to_log_them(tmp_path: Path) -> None:
    pd.DataFrame({"x": np.arange(10, dtype=float), "y": [0, 1] * 5}).to_parquet(
        tmp_path / "reference.parquet"
    )
    result = mp.run_monitor(config(tmp_path, predictions=None, alerts=[alert("data_drift", 0.2)]))
    [outcome] = result["alerts"]
    assert outcome["fired"] is False and outcome["value"] is None
    assert (
        outcome["reason"] == "the deployment logs no predictions: set deployment.log_predictions in the spec"
    )


def test_one_far_outlier_does_not_make_the_drift_absurd() -> None:
    rng = np.random.default_rng(3)
    reference = rng.normal(50, 10, 4000)
    production = rng.normal(50, 10, 2000)
    calm = mp.normalized_wasserstein_distance(reference, production)
    production[0] = 2.0**62  # the endpoint answered it; the monitor must not report 1e13
    assert mp.normalized_wasserstein_distance(reference, production) < calm + 0.1
    # A shift of the whole distribution, even far beyond the reference's range, still measures large.
    assert mp.normalized_wasserstein_distance(reference, production + 500) > 5


def test_dated_log_folders_older_than_the_longest_window_are_not_read(tmp_path: Path) -> None:
    """The pods write YYYY/MM/DD/ folders: a run reads its windows' days, not the whole history."""
    pd.DataFrame({"x": np.arange(200, dtype=float), "y": [0, 1] * 100}).to_parquet(
        tmp_path / "reference.parquet"
    )
    log = tmp_path / "predictions"
    write_predictions(log / "2026" / "12" / "01", [{"x": 1.0}] * 5, time="2026-12-01T09:00:00.000+00:00")
    write_predictions(log / "2026" / "11" / "29", [{"x": 1.0}] * 7, time="2026-11-29T09:00:00.000+00:00")
    write_predictions(log / "2026" / "10" / "01", [{"x": 1.0}] * 11, time="2026-10-01T09:00:00.000+00:00")
    result = mp.run_monitor(config(tmp_path, alerts=[alert("data_drift", 0.2, window="1d")]))
    assert result["prediction_rows"] == 12, "the last two days' folders only, not October's"
    everything = mp.read_prediction_log(log)
    assert len(everything.meta) == 23
