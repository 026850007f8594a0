"""Azure ML model monitor's pre-processing component: the scoring pods' prediction log as a table.

The pods write JSON lines, one record per scored request (``time``, ``request_id``,
``model_version``, ``inputs``: a list of feature objects, ``predictions``: a list of the same
length), in dated folders below ``deployment.log_predictions.path``. Azure ML's model monitor
cannot window or read that: its production data must be an MLTable of one row per scored input.
The monitor calls this program (a Spark component) once per signal and window::

    preprocess.py --data_window_start ISO --data_window_end ISO \
        --input_data <log folder> --preprocessed_input_data <MLTable folder>

It reads only the window's dated folders (``YYYY/MM/DD``; a log without them is read whole), keeps
the records whose ``time`` is in ``[start, end)``, turns each scored input into a row (its
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
from datetime import UTC, datetime, timedelta

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


EMPTY_SCHEMA = (
    "timestamp TIMESTAMP, request_id STRING, model_version STRING, prediction STRING, correlationid STRING"
)
"""The table of a window without traffic: the columns the monitor reads, no rows."""


def window_folders(spark: SparkSession, folder: str, start: str, end: str) -> list[str] | None:
    """The pods' dated folders (``YYYY/MM/DD``) of the window that exist (from the day before its start,
    as a record's folder is the day it was written); ``None`` when the log has no dated folders."""
    root = folder.rstrip("/")
    first = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(UTC).date() - timedelta(days=1)
    last = datetime.fromisoformat(end.replace("Z", "+00:00")).astimezone(UTC).date()
    jvm = spark.sparkContext._jvm
    assert jvm is not None  # a started session has its JVM gateway
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()

    def exists(path: str) -> bool:
        target = jvm.org.apache.hadoop.fs.Path(path)
        return bool(target.getFileSystem(hadoop).exists(target))

    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    found = [f"{root}/{day:%Y/%m/%d}" for day in days if exists(f"{root}/{day:%Y/%m/%d}")]
    if found:
        return found
    dated = any(exists(f"{root}/{year}") for year in {first.year, last.year})
    return [] if dated else None


def read_log(spark: SparkSession, paths: list[str]) -> DataFrame | None:
    """Every ``*.jsonl`` file below ``paths``, as JSON records; ``None`` when they hold none."""
    if not paths:
        return None
    log = (
        spark.read.option("recursiveFileLookup", "true")
        .option("pathGlobFilter", "*.jsonl")
        .option("mode", "DROPMALFORMED")  # a line cut short by a crash is left out, not a failed run
        .json(paths)
    )
    return log if "time" in log.columns and "inputs" in log.columns else None


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
    # Only the window's days are read (the log grows every day); a flat folder is read whole.
    folders = window_folders(spark, args.input_data, args.data_window_start, args.data_window_end)
    log = read_log(spark, [args.input_data] if folders is None else folders)
    if log is None:  # no traffic in the window: an empty table, not a failed monitor run
        rows = spark.createDataFrame([], EMPTY_SCHEMA)
    else:
        rows = scored_rows(log, args.data_window_start, args.data_window_end)
    write_mltable(spark, rows, args.preprocessed_input_data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
