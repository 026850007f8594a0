"""Azure ML model monitor's pre-processing component: the scoring pods' prediction log as a table.

The pods write JSON lines, one record per scored request (``time``, ``request_id``,
``model_version``, ``inputs``: a list of feature objects, ``predictions``: a list of the same
length), in dated folders below ``deployment.log_predictions.path``. Azure ML's model monitor
cannot window or read that: its production data must be an MLTable of one row per scored input.
The monitor calls this program (a Spark component) once per signal and window::

    preprocess.py --data_window_start ISO --data_window_end ISO \
        --input_data <log folder> --preprocessed_input_data <MLTable folder>

It keeps the records whose ``time`` is in ``[start, end)``, turns each scored input into a row (its
features, ``prediction``, ``correlationid`` = the request id and the row's position, ``timestamp``,
``model_version``), and writes them as Parquet with the ``MLTable`` file that names them.

One file, PySpark only (nothing from mlspec): a component's code is this folder alone. mlspec's
tests run it on local PySpark.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

MLTABLE = {"paths": [{"pattern": "./data/*.parquet"}], "transformations": ["read_parquet"]}
"""The MLTable file: the Parquet files this program wrote (JSON is YAML, so no YAML writer is needed)."""


def scored_rows(log: DataFrame, start: str, end: str) -> DataFrame:
    """One row per scored input of the records in ``[start, end)``."""
    time = F.to_timestamp(F.col("time"))
    window = log.where((time >= F.to_timestamp(F.lit(start))) & (time < F.to_timestamp(F.lit(end))))
    pairs = F.arrays_zip(F.col("inputs").alias("input"), F.col("predictions").alias("prediction"))
    exploded = window.select(
        time.alias("timestamp"),
        F.col("request_id"),
        F.col("model_version").cast("string").alias("model_version"),
        F.posexplode(pairs).alias("row", "pair"),
    )
    return exploded.select(
        "pair.input.*",
        F.col("pair.prediction").alias("prediction"),
        F.concat_ws("-", F.col("request_id"), F.col("row").cast("string")).alias("correlationid"),
        "timestamp",
        "model_version",
    )


def read_log(spark: SparkSession, folder: str) -> DataFrame:
    """Every ``*.jsonl`` file below ``folder`` (the pods' dated folders), as JSON records."""
    return (
        spark.read.option("recursiveFileLookup", "true")
        .option("pathGlobFilter", "*.jsonl")
        .option("mode", "DROPMALFORMED")  # a line cut short by a crash is left out, not a failed run
        .json(folder)
    )


def write_mltable(spark: SparkSession, rows: DataFrame, folder: str) -> None:
    target = folder.rstrip("/")
    rows.write.mode("overwrite").parquet(f"{target}/data")
    # The MLTable file through Hadoop's file system, so it lands wherever Spark writes (abfss, file).
    jvm = spark.sparkContext._jvm
    assert jvm is not None  # a started session has its JVM gateway
    path = jvm.org.apache.hadoop.fs.Path(f"{target}/MLTable")
    stream = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).create(path, True)
    try:
        stream.write(bytearray(json.dumps(MLTABLE, indent=2).encode("utf-8")))
    finally:
        stream.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The prediction log of a window as an MLTable.")
    parser.add_argument("--data_window_start", required=True)
    parser.add_argument("--data_window_end", required=True)
    parser.add_argument("--input_data", required=True)
    parser.add_argument("--preprocessed_input_data", required=True)
    args = parser.parse_args(argv)
    spark = SparkSession.builder.appName("mlspec-prediction-log-preprocess").getOrCreate()
    rows = scored_rows(read_log(spark, args.input_data), args.data_window_start, args.data_window_end)
    write_mltable(spark, rows, args.preprocessed_input_data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
