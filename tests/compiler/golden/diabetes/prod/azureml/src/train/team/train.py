"""Train the diabetes-progression regressor: the team's own training script (``script:`` style).

mlspec's Azure ML pipeline calls it with this contract (its prepare step has already split
``patient_features`` into train and test sets; its evaluate step scores the test set and
applies the spec's gate):

    python src/train.py --train-data DIR --target progression \\
        --features age,sex_male,bmi,bp,tc,ldl,hdl,tch,ltg,glu \\
        --model-output DIR [--params '{"algorithm": "ridge", "alpha": 1.0}']

- ``--train-data``: a folder holding ``train.parquet``. A ``.parquet`` or ``.csv`` file
  also works, for runs by hand.
- ``--model-output``: an empty folder that receives the fitted model as an MLflow model.
- ``--params``: ``model.training.params``: ``algorithm`` (``ridge`` | ``random_forest``);
  ``alpha`` for ridge; ``n_estimators``, ``max_depth``, ``min_samples_leaf`` and
  ``random_state`` for random_forest.

The script also computes MLflow-style metrics (``rmse``, ``mae``, ``r2``) by 5-fold
cross-validation on the training rows. It prints them and, inside an MLflow run (Azure ML
starts one for the job), logs them with the params. ``--metrics-output FILE`` writes them as
JSON too. The held-out scores that decide the gate come from mlspec's evaluate step.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def build_model(params: dict[str, Any]) -> Any:
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    algorithm = params.get("algorithm", "ridge")
    if algorithm == "ridge":
        # Lab values span two orders of magnitude: scale so the penalty treats them alike.
        return make_pipeline(StandardScaler(), Ridge(alpha=float(params.get("alpha", 1.0))))
    if algorithm == "random_forest":
        return RandomForestRegressor(
            n_estimators=int(params.get("n_estimators", 300)),
            max_depth=params.get("max_depth"),
            min_samples_leaf=int(params.get("min_samples_leaf", 5)),
            random_state=int(params.get("random_state", 0)),
            n_jobs=-1,
        )
    raise ValueError(f"unknown algorithm {algorithm!r}: use ridge or random_forest")


def cross_validated_metrics(
    features: np.ndarray, target: np.ndarray, params: dict[str, Any]
) -> dict[str, float]:
    """rmse, mae and r2 of the model over 5 shuffled folds of the training rows."""
    from sklearn.model_selection import KFold, cross_validate

    folds = KFold(n_splits=5, shuffle=True, random_state=0)
    scoring = {"rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error", "r2": "r2"}
    result = cross_validate(build_model(params), features, target, cv=folds, scoring=scoring)
    return {
        "cv_rmse": float(-result["test_rmse"].mean()),
        "cv_mae": float(-result["test_mae"].mean()),
        "cv_r2": float(result["test_r2"].mean()),
    }


def fit(features: np.ndarray, target: np.ndarray, params: dict[str, Any]) -> Any:
    return build_model(params).fit(features, target)


def load_table(path: Path, columns: Sequence[str]) -> np.ndarray:
    """The named columns, as floats, of train.parquet in a folder, a Parquet file, or a CSV file."""
    if path.is_dir():
        path = path / "train.parquet"
    if path.suffix == ".csv":
        with path.open() as handle:
            header = handle.readline().strip().split(",")
        missing = [c for c in columns if c not in header]
        if missing:
            raise SystemExit(f"columns missing from {path}: {missing}")
        return np.loadtxt(
            path, delimiter=",", skiprows=1, usecols=[header.index(c) for c in columns], ndmin=2
        )
    import pandas as pd

    return np.asarray(pd.read_parquet(path, columns=list(columns)).to_numpy(dtype=float))


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-data", type=Path, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--features", required=True, help="comma-separated column names")
    parser.add_argument("--model-output", type=Path, required=True, help="folder for the MLflow model")
    parser.add_argument("--params", default="{}", help="model.training.params as a JSON object")
    parser.add_argument(
        "--metrics-output", type=Path, help="also write the cross-validated metrics here (JSON)"
    )
    args = parser.parse_args(argv)

    import mlflow
    import mlflow.sklearn

    features = [f.strip() for f in args.features.split(",") if f.strip()]
    params = json.loads(args.params)
    table = load_table(args.train_data, [*features, args.target])
    x, y = table[:, :-1], table[:, -1]

    scores = cross_validated_metrics(x, y, params)
    model = fit(x, y, params)
    mlflow.sklearn.save_model(model, str(args.model_output))
    # Only track inside a run (Azure ML sets these); elsewhere no stray mlruns/ folder appears.
    if mlflow.active_run() or os.environ.get("MLFLOW_RUN_ID"):
        mlflow.log_params(params)
        mlflow.log_metrics(scores)
    if args.metrics_output:
        args.metrics_output.write_text(json.dumps(scores, indent=2, sort_keys=True) + "\n")
    for name, value in sorted(scores.items()):
        print(f"{name}: {value:.4f}")
    return scores


if __name__ == "__main__":
    main()
