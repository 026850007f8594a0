"""The team's training script, following mlspec's argument contract for `script:` training.

python train.py --train-data DIR --target COLUMN --features A,B --model-output DIR [--params JSON]
"""

from __future__ import annotations

import argparse
import json
import os

import mlflow
import mlflow.sklearn
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-data", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--features", required=True)
    parser.add_argument("--model-output", required=True)
    parser.add_argument("--params", default="{}")
    args = parser.parse_args()

    params = json.loads(args.params)
    frame = pd.read_parquet(os.path.join(args.train_data, "train.parquet"))
    features = args.features.split(",")
    model = make_pipeline(StandardScaler(), Ridge(alpha=float(params.get("alpha", 1.0))))
    model.fit(frame[features], frame[args.target])
    mlflow.log_params(params)
    mlflow.sklearn.save_model(model, args.model_output)


if __name__ == "__main__":
    main()
