"""The Synapse pipeline that runs every transform's notebook in DAG order.

One ``SynapseNotebook`` activity per transform, named after it, listed in dependency order;
``dependsOn`` holds the transforms among its inputs (``Succeeded``), so Synapse runs
independent transforms in parallel and stops downstream ones when an upstream fails. Each
activity runs on the transform's pool and executor size, with dynamic allocation between its
min and max executors, and passes the pipeline's ``environment`` and ``run_date`` parameters to
the notebook's parameters cell.

After the transforms, one ``WebActivity`` per report asks Power BI to refresh the report's published
semantic model, signed in as the Synapse workspace's managed identity: whoever started the pipeline
(``mlspec run``, the Azure ML pipeline's first step on a retrain, a trigger), the reports then show
the new data. The model's ids are output markers of the report resource, filled in when it is
published; the local run ignores these activities (it renders its own report).
"""

from __future__ import annotations

import heapq
from typing import Any

from mlspec.compiler import addresses
from mlspec.compiler.artifacts import RenderContext
from mlspec.compiler.synapse.notebook import notebook_parameters
from mlspec.compiler.synapse.spark import dynamic_allocation, pool_name
from mlspec.contract.graph import Address
from mlspec.contract.outputs import output_marker
from mlspec.spec_schema.models import MLProject, Transform

PROVIDER_TYPE = "Microsoft.Synapse/workspaces/pipelines"
ACTIVITY_TYPE = "SynapseNotebook"
ACTIVITY_TIMEOUT = "0.12:00:00"  # d.hh:mm:ss; Synapse's default is 7 days
SUCCEEDED = "Succeeded"
REFRESH_ACTIVITY_TYPE = "WebActivity"
REFRESH_PREFIX = "mlspec-refresh-"  # a hyphen, which transform names cannot hold: no clash with one
POWER_BI_RESOURCE = "https://analysis.windows.net/powerbi/api"
POWER_BI_API = "https://api.powerbi.com/v1.0/myorg"


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
    order = transform_order(model)
    properties: dict[str, Any] = {
        "activities": [
            *(_activity(ctx, name, model.transforms[name], list(parameters)) for name in order),
            *(_refresh_activity(report, order) for report in report_addresses(model)),
        ],
        "parameters": {key: {"type": "String", "defaultValue": value} for key, value in parameters.items()},
        "folder": {"name": ctx.project},
        "annotations": ["mlspec"],
    }
    if model.project.description is not None:
        properties["description"] = model.project.description
    return {"name": ctx.project, "properties": properties}


def report_addresses(model: MLProject) -> list[Address]:
    """The report resources whose models the pipeline refreshes (every report of the spec)."""
    return [addresses.powerbi_report(report.name) for report in model.reports] if model.transforms else []


def _refresh_activity(report: Address, transforms: list[str]) -> dict[str, Any]:
    """A refresh request of ``report``'s semantic model, once every transform succeeded."""
    workspace = output_marker(str(report), "workspace_id")
    model = output_marker(str(report), "semantic_model_id")
    return {
        "name": f"{REFRESH_PREFIX}{report.name}",
        "type": REFRESH_ACTIVITY_TYPE,
        "description": f"asks Power BI to refresh {report.name}'s semantic model with the new data",
        "dependsOn": [{"activity": name, "dependencyConditions": [SUCCEEDED]} for name in transforms],
        "policy": {
            "timeout": "0.00:10:00",
            "retry": 2,
            "retryIntervalInSeconds": 60,
            "secureInput": False,
            "secureOutput": False,
        },
        "userProperties": [],
        "typeProperties": {
            "method": "POST",
            "url": f"{POWER_BI_API}/groups/{workspace}/datasets/{model}/refreshes",
            "headers": {"Content-Type": "application/json"},
            "body": {"notifyOption": "NoNotification"},
            "authentication": {"type": "MSI", "resource": POWER_BI_RESOURCE},
        },
    }


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
