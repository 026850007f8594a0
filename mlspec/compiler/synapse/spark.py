"""How a transform runs on Synapse Spark: its pool, and node sizes (Synapse docs: Spark pool configs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlspec.spec_schema.models import MLProject, SparkSettings, Transform


@dataclass(frozen=True)
class NodeSize:
    cores: int
    memory: str


NODE_SIZES: dict[str, NodeSize] = {
    "Small": NodeSize(4, "28g"),
    "Medium": NodeSize(8, "56g"),
    "Large": NodeSize(16, "112g"),
    "XLarge": NodeSize(32, "224g"),
    "XXLarge": NodeSize(64, "400g"),
}


def session_properties(spark: SparkSettings) -> dict[str, Any]:
    """A notebook's ``sessionProperties``: driver and executors of the transform's size, min executors."""
    node = NODE_SIZES[spark.executor_size]
    return {
        "driverMemory": node.memory,
        "driverCores": node.cores,
        "executorMemory": node.memory,
        "executorCores": node.cores,
        "numExecutors": spark.executors.min,
    }


def dynamic_allocation(spark: SparkSettings) -> dict[str, Any]:
    """The ``conf`` of a notebook activity: dynamic allocation between the spec's min and max executors."""
    return {
        "spark.dynamicAllocation.enabled": spark.executors.min < spark.executors.max,
        "spark.dynamicAllocation.minExecutors": spark.executors.min,
        "spark.dynamicAllocation.maxExecutors": spark.executors.max,
    }


def pool_name(model: MLProject, transform: Transform) -> str | None:
    """The transform's Spark pool, else the workspace's default one."""
    return transform.spark.pool or model.workspace.spark_pool
