"""Build the churn training table from the curated customer features."""

import argparse

import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("--features")
parser.add_argument("--test-fraction", type=float)
parser.add_argument("--train")
args = parser.parse_args()
frame = pd.read_parquet(args.features)
frame.sample(frac=1 - args.test_fraction, random_state=7).to_parquet(f"{args.train}/train.parquet")
