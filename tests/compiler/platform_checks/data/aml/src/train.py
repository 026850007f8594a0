"""Train the churn classifier and log it as an MLflow model."""

import argparse

import mlflow
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier

parser = argparse.ArgumentParser()
parser.add_argument("--train")
parser.add_argument("--learning-rate", type=float)
parser.add_argument("--model")
args = parser.parse_args()
frame = pd.read_parquet(f"{args.train}/train.parquet")
model = GradientBoostingClassifier(learning_rate=args.learning_rate).fit(
    frame.drop(columns="churned"), frame.churned
)
mlflow.sklearn.save_model(model, args.model)
