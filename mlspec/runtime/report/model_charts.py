"""The model's charts for the report, drawn from the evaluate step's ``charts.json``.

The evaluate step (the build's ``azureml/src/evaluate.py``, on Azure ML or locally) scores the test
split once, with the model it has loaded already, and writes the confusion matrix and ROC curves
(classification) or the residuals (regression) next to ``metrics.json``. The report only draws
them: it loads no model and imports neither MLflow nor scikit-learn, and the AUC in the legend is
the one the evaluate step computed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlspec.runtime.report import charts as report_charts

CHARTS_FILE = "charts.json"


class ChartsUnreadable(ValueError):
    """``charts.json`` is missing or not what the evaluate step writes."""


@dataclass(frozen=True)
class ModelChart:
    kind: str  # roc | confusion | residuals
    title: str
    svg: str
    table: tuple[tuple[str, ...], ...] = ()
    """The chart's numbers, header row first (the confusion matrix's counts), for readers and checks."""


def model_charts(evaluation_dir: Path) -> list[ModelChart]:
    """The charts of ``<evaluation_dir>/charts.json``; :class:`ChartsUnreadable` when it cannot be drawn."""
    data = read_charts(evaluation_dir / CHARTS_FILE)
    try:
        if data.get("task") == "regression":
            return [_residuals(data["residuals"])]
        return _classification(data["confusion"], data.get("roc") or {})
    except (KeyError, TypeError, ValueError) as error:
        raise ChartsUnreadable(
            f"{evaluation_dir / CHARTS_FILE} is not as the evaluate step writes it: {error!r}"
        ) from error


def read_charts(path: Path) -> Mapping[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ChartsUnreadable(
            f"the evaluate step wrote no {CHARTS_FILE} (a build of an older mlspec?): "
            "rerun the training with `mlspec run --from train`"
        ) from error
    except (OSError, ValueError) as error:
        raise ChartsUnreadable(f"cannot read {path}: {error}") from error
    if not isinstance(data, dict):
        raise ChartsUnreadable(f"{path} holds no JSON object")
    return data


def _classification(confusion: Mapping[str, Any], roc: Mapping[str, Any]) -> list[ModelChart]:
    labels = [str(label) for label in confusion["labels"]]
    matrix = np.asarray(confusion["matrix"], dtype=np.int64).reshape(len(labels), len(labels))
    counts = (
        ("actual \\ predicted", *labels),
        *((label, *(str(int(n)) for n in row)) for label, row in zip(labels, matrix, strict=True)),
    )
    charts = [
        ModelChart(
            "confusion",
            "Confusion matrix on the test split",
            report_charts.confusion_chart(matrix, labels),
            counts,
        )
    ]
    curves = [
        (str(c["label"]), _floats(c["fpr"]), _floats(c["tpr"]), float(c["auc"]))
        for c in roc.get("curves", [])
    ]
    if curves:
        title = "ROC curve on the test split"
        if roc.get("scored_by") == "labels":
            title += " (the model gives no probabilities: ranked by its labels)"
        charts.insert(0, ModelChart("roc", title, report_charts.roc_chart(curves)))
    return charts


def _residuals(residuals: Mapping[str, Any]) -> ModelChart:
    histogram = residuals["histogram"]
    svg = report_charts.residual_chart(
        _floats(residuals["predicted"]),
        _floats(residuals["residual"]),
        counts=_floats(histogram["counts"]),
        edges=_floats(histogram["edges"]),
    )
    shown, rows = len(residuals["predicted"]), int(residuals.get("rows", len(residuals["predicted"])))
    title = "Residuals on the test split"
    if shown < rows:
        title += f" ({shown} of {rows} rows in the scatter; the histogram counts all)"
    return ModelChart("residuals", title, svg)


def _floats(values: Sequence[Any]) -> Any:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or not np.isfinite(array).all():
        raise ValueError("expected a list of finite numbers")
    return array
