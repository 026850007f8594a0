"""Customers and events per region (a Python transform: transform(spark, **inputs) -> DataFrame)."""

from pyspark.sql import functions as F


def transform(spark, customer_activity):
    return customer_activity.groupBy("region").agg(
        F.count("*").alias("customers"),
        F.sum("events").alias("events"),
    )
