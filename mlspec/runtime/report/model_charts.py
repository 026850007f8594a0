"""The model's charts for the report: the registered model scored on the test split.

Classification gives ROC curves (one per class, one-vs-rest, beyond two classes) and the confusion
matrix; regression the residuals. The MLflow model folder is loaded with its ``sklearn`` flavour
when it has one (for ``predict_proba``), else as a generic pyfunc (hard labels: the ROC curve is
then that of the labels, as the evaluate step computes it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlspec.runtime.report import charts as report_charts

MAX_ROC_CLASSES = 10


@dataclass(frozen=True)
class ModelChart:
    kind: str  # roc | confusion | residuals
    title: str
    svg: str
    table: tuple[tuple[str, ...], ...] = ()
    """The chart's numbers, header row first (the confusion matrix's counts), for readers and checks."""


def model_charts(
    task: str, test_data: Path, target: str, features: Sequence[str], model_dir: Path
) -> list[ModelChart]:
    """The charts of the model in ``model_dir`` over ``test_data`` (a Parquet file or folder).

    Raises ``ValueError`` for a test split without the columns; loading or scoring the model may
    raise what MLflow and the model raise, for the caller to show.
    """
    frame = pd.read_parquet(test_data)
    missing = [c for c in [*features, target] if c not in frame.columns]
    if missing:
        raise ValueError(f"the test split has no column {', '.join(map(repr, missing))}")
    frame = frame.dropna(subset=[target])
    inputs, truth = frame[list(features)], frame[target].to_numpy()
    model = _load(model_dir)
    predicted = np.asarray(model.predict(inputs)).reshape(-1)
    if task == "regression":
        values = predicted.astype(float)
        residuals = truth.astype(float) - values
        return [
            ModelChart(
                "residuals", "Residuals on the test split", report_charts.residual_chart(values, residuals)
            )
        ]
    return _classification_charts(model, inputs, truth, predicted)


def _load(model_dir: Path) -> Any:
    flavours = (model_dir / "MLmodel").read_text(encoding="utf-8")
    if "sklearn:" in flavours:
        import mlflow.sklearn

        return mlflow.sklearn.load_model(str(model_dir))
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(model_dir))


def _classification_charts(model: Any, inputs: pd.DataFrame, truth: Any, predicted: Any) -> list[ModelChart]:
    from sklearn import metrics

    labels = sorted(set(truth.tolist()) | set(predicted.tolist()), key=str)
    keys = [str(label) for label in labels]
    truth_keys = np.array([str(v) for v in truth])
    predicted_keys = np.array([str(v) for v in predicted])
    matrix = metrics.confusion_matrix(truth_keys, predicted_keys, labels=keys)
    counts = (
        ("actual \\ predicted", *keys),
        *((key, *(str(int(n)) for n in row)) for key, row in zip(keys, matrix, strict=True)),
    )
    chart = report_charts.confusion_chart(matrix, keys)
    charts = [ModelChart("confusion", "Confusion matrix on the test split", chart, counts)]
    scores, classes = _scores(model, inputs, predicted_keys, keys)
    curves = []
    positives = classes[-1:] if len(classes) <= 2 else classes[:MAX_ROC_CLASSES]
    for label in positives:
        actual = truth_keys == label
        if actual.all() or not actual.any():
            continue
        column = scores[:, classes.index(label)]
        fpr, tpr, _ = metrics.roc_curve(actual, column)
        curves.append((label, fpr, tpr, float(metrics.auc(fpr, tpr))))
    if curves:
        charts.insert(0, ModelChart("roc", "ROC curve on the test split", report_charts.roc_chart(curves)))
    return charts


def _scores(model: Any, inputs: pd.DataFrame, predicted: Any, keys: list[str]) -> tuple[Any, list[str]]:
    """Per-class scores: the model's probabilities when it has them, else one-hot hard labels."""
    if hasattr(model, "predict_proba") and hasattr(model, "classes_"):
        return np.asarray(model.predict_proba(inputs)), [str(c) for c in model.classes_]
    return np.array([[1.0 if p == k else 0.0 for k in keys] for p in predicted]).reshape(
        len(predicted), len(keys)
    ), keys
