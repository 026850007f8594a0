"""Pivot long-format lab results into one row per patient, in the units the model expects.

The laboratories deliver one JSON record per analyte. LAB-EAST reports cholesterol and
glucose in mmol/L, LAB-NORTH in mg/dL; a re-run supersedes an earlier result; cancelled
orders come with a null value. This transform keeps, per patient and analyte, the latest
final result, converts it to mg/dL, and pivots the six analytes into columns. Patients
without a complete panel are left out (the model needs all six).

mlspec runs it as a Synapse notebook (and on local PySpark): ``transform(spark, **inputs)``
gets each input as a DataFrame by name and returns the result, which mlspec writes to
``output.path``. PySpark is imported inside the function so the module can be imported
(tests, tooling) where PySpark is not installed.
"""

from __future__ import annotations

from typing import Any

ANALYTES = ("TC", "LDL", "HDL", "TCH", "LTG", "GLU")
MG_DL_PER_MMOL = {"TC": 38.67, "LDL": 38.67, "HDL": 38.67, "GLU": 18.016}


def to_mg_dl(analyte: str, value: float, unit: str) -> float:
    """One result in mg/dL (ratios and logs pass through), rounded like the source system."""
    if unit == "mmol/L":
        return round(value * MG_DL_PER_MMOL[analyte], 1)
    return value


def transform(spark: Any, **inputs: Any) -> Any:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    labs = inputs["lab_results"]
    final = labs.where(
        (F.col("status") == "final") & F.col("value").isNotNull() & F.col("analyte").isin(*ANALYTES)
    ).withColumn("collected_at", F.to_timestamp("collected_at"))

    in_mg_dl = F.col("value")
    for analyte, factor in MG_DL_PER_MMOL.items():
        is_mmol = (F.col("unit") == "mmol/L") & (F.col("analyte") == analyte)
        in_mg_dl = F.when(is_mmol, F.round(F.col("value") * factor, 1)).otherwise(in_mg_dl)

    newest_first = Window.partitionBy("patient_id", "analyte").orderBy(F.col("collected_at").desc())
    latest = (
        final.withColumn("value_mg_dl", in_mg_dl.cast("double"))
        .withColumn("rank", F.row_number().over(newest_first))
        .where(F.col("rank") == 1)
    )
    panel = latest.groupBy("patient_id").pivot("analyte", list(ANALYTES)).agg(F.first("value_mg_dl"))
    collected = latest.groupBy("patient_id").agg(F.max("collected_at").alias("labs_collected_at"))
    complete = panel.dropna(subset=list(ANALYTES)).join(collected, "patient_id")
    return complete.select(
        "patient_id",
        *[F.col(analyte).alias(analyte.lower()) for analyte in ANALYTES],
        "labs_collected_at",
    )
