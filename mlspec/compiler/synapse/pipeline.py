"""The Synapse pipeline that runs every transform's notebook in DAG order.

One ``SynapseNotebook`` activity per transform, named after it, listed in dependency order;
``dependsOn`` holds the transforms among its inputs (``Succeeded``), so Synapse runs
independent transforms in parallel and stops downstream ones when an upstream fails. Each
activity runs on the transform's pool and executor size, with dynamic allocation between its
min and max executors, and passes the pipeline's ``environment`` and ``run_date`` parameters to
the notebook's parameters cell.
"""

from __future__ import annotations

import heapq
from typing import Any

from mlspec.compiler.artifacts import RenderContext
from mlspec.compiler.synapse.notebook import notebook_parameters
from mlspec.compiler.synapse.spark import dynamic_allocation, pool_name
from mlspec.spec_schema.models import MLProject, Transform

PROVIDER_TYPE = "Microsoft.Synapse/workspaces/pipelines"
ACTIVITY_TYPE = "SynapseNotebook"
ACTIVITY_TIMEOUT = "0.12:00:00"  # d.hh:mm:ss; Synapse's default is 7 days
SUCCEEDED = "Succeeded"


def pipeline_file(project: str) -> str:
    return f"synapse/pipelines/{project}.json"


def transform_order(model: MLProject) -> list[str]:
    """Transform names, every one after the transforms it reads; ties keep the spec's order.

    Transforms caught in a cycle (the spec checks report those) come last, in spec order.
    """
    names = list(model.transforms)
    position = {name: index for index, name in enumerate(names)}
    waiting = {name: len(set(upstream_transforms(model, name))) for name in names}
    downstream: dict[str, list[str]] = {name: [] for name in names}
    for name in names:
        for source in set(upstream_transforms(model, name)):
            downstream[source].append(name)
    # Always the first ready transform in spec order: a heap of spec positions (O(n log n); picking
    # it from a scan of every name after each step was quadratic in the number of transforms).
    ready = [position[n] for n in names if waiting[n] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(name)
        for child in downstream[name]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, position[child])
    placed = set(order)
    order.extend(n for n in names if n not in placed)  # caught in a cycle: last, in spec order
    return order


def upstream_transforms(model: MLProject, name: str) -> list[str]:
    """The transforms among transform ``name``'s inputs, in input order, once each."""
    return [i for i in dict.fromkeys(model.transforms[name].inputs) if i in model.transforms and i != name]


def render_synapse_pipeline(ctx: RenderContext) -> dict[str, Any]:
    """The pipeline resource (``{"name", "properties": {...}}``) running every transform."""
    model = ctx.model
    parameters = notebook_parameters(ctx)
    properties: dict[str, Any] = {
        "activities": [
            _activity(ctx, name, model.transforms[name], list(parameters)) for name in transform_order(model)
        ],
        "parameters": {key: {"type": "String", "defaultValue": value} for key, value in parameters.items()},
        "folder": {"name": ctx.project},
        "annotations": ["mlspec"],
    }
    if model.project.description is not None:
        properties["description"] = model.project.description
    return {"name": ctx.project, "properties": properties}


def _activity(ctx: RenderContext, name: str, transform: Transform, parameters: list[str]) -> dict[str, Any]:
    size = transform.spark.executor_size
    activity: dict[str, Any] = {
        "name": name,
        "type": ACTIVITY_TYPE,
        "dependsOn": [
            {"activity": upstream, "dependencyConditions": [SUCCEEDED]}
            for upstream in upstream_transforms(ctx.model, name)
        ],
        "policy": {
            "timeout": ACTIVITY_TIMEOUT,
            "retry": 0,
            "retryIntervalInSeconds": 30,
            "secureInput": False,
            "secureOutput": False,
        },
        "userProperties": [],
        "typeProperties": {
            "notebook": {"referenceName": name, "type": "NotebookReference"},
            "parameters": {
                key: {
                    "value": {"value": f"@pipeline().parameters.{key}", "type": "Expression"},
                    "type": "string",
                }
                for key in parameters
            },
            "sparkPool": {
                "referenceName": pool_name(ctx.model, transform) or "",
                "type": "BigDataPoolReference",
            },
            "executorSize": size,
            "driverSize": size,
            "conf": dynamic_allocation(transform.spark),
            "numExecutors": transform.spark.executors.min,
        },
    }
    if transform.description is not None:
        activity["description"] = transform.description
    return activity
