"""Synapse notebooks, pipelines and Spark job definitions, read as ``azure-synapse-artifacts`` reads them.

The SDK's models (the REST contract) catch type errors; the walk in :mod:`sdk_models` adds missing
required fields, unknown keys, unknown activity types and bad enum values. On top, what Synapse
rejects at run time and no schema says: the cell language magic, a single parameters cell,
``dependsOn`` pointing at real activities, ``@pipeline().parameters.x`` being declared, and Spark
memory sizes in the ``28g`` form.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import Any

from mlspec.compiler.platform_checks.json_pointers import child, pointer, strings_in
from mlspec.compiler.platform_checks.problems import PlatformProblem
from mlspec.compiler.platform_checks.sdk_models import ModelSet, check_model

CHECKER = "azure-synapse-artifacts"

# The magics a notebook run from a pipeline may start a cell with (the cell's language).
PIPELINE_CELL_MAGICS = frozenset({"%%pyspark", "%%sql", "%%spark", "%%csharp"})

_SPARK_MEMORY = re.compile(r"^[1-9][0-9]*[gGmM]$")
_PIPELINE_PARAMETER = re.compile(r"pipeline\(\)\.parameters\.([A-Za-z_][A-Za-z0-9_]*)")


@cache
def _models() -> ModelSet:
    from azure.core.exceptions import DeserializationError
    from azure.synapse.artifacts import models
    from azure.synapse.artifacts._serialization import Deserializer

    return ModelSet(
        namespace=models,
        deserializer=Deserializer(),
        error=DeserializationError,
        checker=CHECKER,
        # Jupyter metadata is open by design (nbformat allows any key there), and Synapse's own
        # exports carry execution_count/id on cells although the SDK does not map them.
        extra_keys={
            "NotebookCell": frozenset({"execution_count", "id"}),
            "NotebookMetadata": frozenset({"*"}),
            "NotebookKernelSpec": frozenset({"*"}),
            "NotebookLanguageInfo": frozenset({"*"}),
        },
        sdk_logger="azure.synapse.artifacts._serialization",
    )


def check_synapse_notebook(resource: dict[str, Any], *, artifact: str | None = None) -> list[PlatformProblem]:
    """Problems in a notebook resource (``{"name", "properties": {nbformat, cells, ...}}``)."""
    label = artifact or f"notebook {resource.get('name', '?')}"
    problems = check_model(_models(), "NotebookResource", copy.deepcopy(resource), label)
    properties = resource.get("properties")
    if not isinstance(properties, dict):
        return problems
    cells = properties.get("cells")
    if isinstance(cells, list):
        problems += _check_cells(cells, label)
    session = properties.get("sessionProperties")
    if isinstance(session, dict):
        problems += _check_spark_memory(session, child("/properties", "sessionProperties"), label)
    return problems


def check_synapse_pipeline(resource: dict[str, Any], *, artifact: str | None = None) -> list[PlatformProblem]:
    """Problems in a pipeline resource (``{"name", "properties": {activities, parameters, ...}}``)."""
    label = artifact or f"pipeline {resource.get('name', '?')}"
    problems = check_model(_models(), "PipelineResource", copy.deepcopy(resource), label)
    properties = resource.get("properties")
    if isinstance(properties, dict):
        problems += _check_activity_graph(properties, label)
        problems += _check_pipeline_parameters(properties, label)
    return problems


def check_synapse_spark_job(
    resource: dict[str, Any], *, artifact: str | None = None
) -> list[PlatformProblem]:
    """Problems in a Spark job definition.

    Accepts the resource envelope (``{"name", "properties": {targetBigDataPool, jobProperties}}``) or
    the bare definition (``{targetBigDataPool, jobProperties}``); pointers are relative to what was given.
    """
    enveloped = "properties" in resource
    label = artifact or f"spark job {resource.get('name', '?')}"
    model = "SparkJobDefinitionResource" if enveloped else "SparkJobDefinition"
    problems = check_model(_models(), model, copy.deepcopy(resource), label)
    definition = resource.get("properties") if enveloped else resource
    if isinstance(definition, dict) and isinstance(definition.get("jobProperties"), dict):
        base = pointer("properties", "jobProperties") if enveloped else pointer("jobProperties")
        problems += _check_spark_memory(definition["jobProperties"], base, label)
    return problems


def _check_cells(cells: list[Any], label: str) -> list[PlatformProblem]:
    problems: list[PlatformProblem] = []
    parameter_cells: list[int] = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict):
            continue
        where = pointer("properties", "cells", index)
        metadata = cell.get("metadata")
        tags = metadata.get("tags") if isinstance(metadata, dict) else None
        if isinstance(tags, list) and "parameters" in tags:
            parameter_cells.append(index)
        source = cell.get("source")
        if cell.get("cell_type") != "code" or not isinstance(source, list) or not source:
            continue
        first = source[0].strip() if isinstance(source[0], str) else ""
        magic = first.split()[0] if first.startswith("%%") else None
        if magic is not None and magic not in PIPELINE_CELL_MAGICS:
            problems.append(
                PlatformProblem(
                    label,
                    child(where, "source", 0),
                    f"cell language magic {magic!r} cannot run in a pipeline; use one of "
                    f"{', '.join(sorted(PIPELINE_CELL_MAGICS))}",
                    "mlspec",
                )
            )
    for extra in parameter_cells[1:]:
        problems.append(
            PlatformProblem(
                label,
                pointer("properties", "cells", extra, "metadata", "tags"),
                f"only one cell may be tagged 'parameters' (cell {parameter_cells[0]} already is)",
                "mlspec",
            )
        )
    return problems


def _check_activity_graph(properties: dict[str, Any], label: str) -> list[PlatformProblem]:
    activities = properties.get("activities")
    if not isinstance(activities, list):
        return []
    problems: list[PlatformProblem] = []
    names: dict[str, int] = {}
    for index, activity in enumerate(activities):
        name = activity.get("name") if isinstance(activity, dict) else None
        if isinstance(name, str):
            if name in names:
                where = pointer("properties", "activities", index, "name")
                problems.append(PlatformProblem(label, where, f"duplicate activity name {name!r}", "mlspec"))
            names.setdefault(name, index)
    for index, activity in enumerate(activities):
        depends = activity.get("dependsOn") if isinstance(activity, dict) else None
        if not isinstance(depends, list):
            continue
        for d_index, dependency in enumerate(depends):
            target = dependency.get("activity") if isinstance(dependency, dict) else None
            if not isinstance(target, str):
                continue
            where = pointer("properties", "activities", index, "dependsOn", d_index, "activity")
            if target == activity.get("name"):
                problems.append(
                    PlatformProblem(label, where, f"activity {target!r} depends on itself", "mlspec")
                )
            elif target not in names:
                problems.append(
                    PlatformProblem(label, where, f"dependsOn names unknown activity {target!r}", "mlspec")
                )
    return problems


def _check_pipeline_parameters(properties: dict[str, Any], label: str) -> list[PlatformProblem]:
    declared = properties.get("parameters")
    known = set(declared) if isinstance(declared, dict) else set()
    problems: list[PlatformProblem] = []
    for where, text in strings_in(properties.get("activities"), pointer("properties", "activities")):
        # Synapse evaluates a string only when it starts with "@" (or interpolates "@{...}"), and
        # never a name or a description: those are literal text even if they mention a parameter.
        if where.endswith(("/description", "/name")) or not (text.startswith("@") or "@{" in text):
            continue
        for name in _PIPELINE_PARAMETER.findall(text):
            if name not in known:
                message = f"@pipeline().parameters.{name} is not declared in properties.parameters"
                problems.append(PlatformProblem(label, where, message, "mlspec"))
    return problems


def _check_spark_memory(settings: dict[str, Any], where: str, label: str) -> list[PlatformProblem]:
    problems: list[PlatformProblem] = []
    for key in ("driverMemory", "executorMemory"):
        value = settings.get(key)
        if isinstance(value, str) and not _SPARK_MEMORY.match(value):
            message = f"{key} {value!r} is not a Spark memory size such as '28g'"
            problems.append(PlatformProblem(label, child(where, key), message, "mlspec"))
    return problems
