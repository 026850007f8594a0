"""The Synapse pipeline that runs every transform's notebook in DAG order.

One ``SynapseNotebook`` activity per transform, named after it, listed in dependency order;
``dependsOn`` holds the transforms among its inputs (``Succeeded``), so Synapse runs
independent transforms in parallel and stops downstream ones when an upstream fails. Each
activity runs on the transform's pool and executor size, with dynamic allocation between its
min and max executors, and passes the pipeline's ``environment`` and ``run_date`` parameters to
the notebook's parameters cell.
"""

from __future__ import annotations

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
    upstream = {name: set(upstream_transforms(model, name)) for name in names}
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(names):
        ready = [n for n in names if n not in placed and upstream[n] <= placed]
        if not ready:
            order.extend(n for n in names if n not in placed)
            break
        order.append(ready[0])
        placed.add(ready[0])
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
