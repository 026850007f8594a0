"""One Synapse notebook per transform, and the project's runtime notebook they all ``%run``.

Each is a notebook resource (REST JSON) and its ``.ipynb`` twin.

The runtime notebook (:func:`runtime_notebook_name`, one per project) holds the runtime helper
``mlspec/runtime/lake.py`` as it is, so no notebook needs a package installed on Synapse, and
``mlspec run`` runs them all on local PySpark (a plain Jupyter kernel does not: IPython's ``%run``
takes a file path, Synapse's a notebook name). Synapse's ``%run <notebook>`` executes it in the calling
notebook's context, as if its cells were the caller's: the helper is deployed once per project
instead of being copied into every notebook (at 1,000 transforms that copy was 80% of the build).
It is named with hyphens, which a transform name cannot have (MLS401), so no transform's
notebook can take its name, and after the project, so two projects sharing a workspace (and
perhaps mlspec versions) never overwrite each other's.

A transform notebook's cells, in order: a markdown title; the parameters cell (tagged
``parameters``, so a pipeline run can replace ``environment`` and ``run_date``); ``%run`` of the
runtime notebook, alone in its cell; reading the inputs; the transform (the spec's SQL, or the
project's ``transform()`` code cell and its call); the data-quality expectations; the write.

Cells are plain Python in the notebook's default language (``synapse_pyspark``), so none
needs a ``%%pyspark`` magic line, and each one but the ``%run`` ``ast.parse``-s as it is.
"""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from mlspec.compiler.artifacts import RenderContext
from mlspec.compiler.synapse.cells import code_cell, markdown_cell, render_template
from mlspec.compiler.synapse.literals import python_literal
from mlspec.compiler.synapse.spark import pool_name, session_properties
from mlspec.diagnostics import Diagnostic
from mlspec.spec_schema.models import Expectation, SparkSettings, Transform
from mlspec.spec_schema.spark_types import schema_ddl
from mlspec.spec_schema.transform_code import transform_code_problem, unreadable_code

PROVIDER_TYPE = "Microsoft.Synapse/workspaces/notebooks"
NBFORMAT = 4
NBFORMAT_MINOR = 2  # minor 5 would require cell ids
KERNELSPEC = {"name": "synapse_pyspark", "display_name": "Synapse PySpark"}
LANGUAGE_INFO = {"name": "python"}
PARAMETERS_TAG = "parameters"

RUNTIME_HEADER = """\
# mlspec runtime helper
# mlspec/runtime/lake.py, as it is: every transform notebook of the project runs this notebook first
# (%run), so none needs a package install on Synapse, and `mlspec run` runs them on local PySpark
# (MLSPEC_LAKE_ROOT names the local lake folder). A plain Jupyter kernel cannot: IPython's %run
# wants a file path (`%run mlspec-lake-<project>.ipynb`), Synapse a notebook name.
"""
RUN_MAGIC = "%run"
"""Synapse's notebook reference: ``%run <notebook name>``, alone in its cell (no relative paths)."""


@dataclass
class RenderedNotebook:
    """A notebook resource, its ``.ipynb`` twin, and the problems met rendering it."""

    resource: dict[str, Any]
    ipynb: dict[str, Any]
    diagnostics: list[Diagnostic] = field(default_factory=list)


def notebook_file(notebook: str) -> str:
    return f"synapse/notebooks/{notebook}.json"


def ipynb_file(notebook: str) -> str:
    return f"synapse/notebooks/{notebook}.ipynb"


def notebook_parameters(ctx: RenderContext) -> dict[str, str]:
    """What a pipeline run passes every notebook, with the notebook's own defaults."""
    return {"environment": ctx.environment, "run_date": ""}


def runtime_notebook_name(project: str) -> str:
    """The project's runtime notebook: hyphens keep it apart from every transform's notebook."""
    return f"mlspec-lake-{project}"


def run_cell_text(notebook: str) -> str:
    return f"{RUN_MAGIC} {notebook}"


@cache
def runtime_source() -> str:
    """The source of ``mlspec/runtime/lake.py``, read from the installed package (deterministic)."""
    return importlib.resources.files("mlspec.runtime").joinpath("lake.py").read_text(encoding="utf-8")


def render_synapse_notebook(ctx: RenderContext, name: str, transform: Transform) -> RenderedNotebook:
    """The notebook that runs transform ``name``."""
    diagnostics: list[Diagnostic] = []
    values = _template_values(ctx, name, transform)
    cells = [
        markdown_cell(render_template("title.md.j2", **values)),
        code_cell(render_template("parameters.py.j2", **values), tags=[PARAMETERS_TAG]),
        code_cell(run_cell_text(runtime_notebook_name(ctx.project))),
        code_cell(render_template("inputs.py.j2", **values)),
    ]
    if transform.python is None:
        cells.append(code_cell(render_template("transform_sql.py.j2", **values)))
    else:
        source, problems = _project_code(ctx, name, transform.python)
        diagnostics.extend(problems)
        cells.append(code_cell(source))
        cells.append(code_cell(render_template("transform_python.py.j2", **values)))
    if transform.expectations:
        cells.append(code_cell(render_template("expectations.py.j2", **values)))
    cells.append(code_cell(render_template("write.py.j2", **values)))

    pool = pool_name(ctx.model, transform)
    notebook = _notebook(ctx, name, cells, pool, transform.spark, transform.description)
    notebook.diagnostics.extend(diagnostics)
    return notebook


def render_runtime_notebook(ctx: RenderContext) -> RenderedNotebook:
    """The project's runtime notebook: the helper every transform notebook ``%run``-s.

    It runs on the workspace's default Spark pool, or else on the first transform's pool (a spec
    may name a pool per transform and none for the workspace): a ``%run`` executes it in the
    caller's session, so its pool only matters when someone opens it on its own, but Synapse
    wants one.
    """
    name = runtime_notebook_name(ctx.project)
    title = (
        f"# mlspec runtime: `{name}`\n\n"
        f"The helper every transform notebook of project `{ctx.project}` runs first (`%run {name}`):"
        " reading and writing the lake, and the data-quality expectations. Generated by mlspec;"
        " the next build replaces it."
    )
    cells = [markdown_cell(title), code_cell(RUNTIME_HEADER + runtime_source())]
    description = f"mlspec runtime helper of project {ctx.project}"
    pools = [pool_name(ctx.model, transform) for transform in ctx.model.transforms.values()]
    pool = ctx.model.workspace.spark_pool or next((p for p in pools if p), None)
    return _notebook(ctx, name, cells, pool, SparkSettings(), description)


def _notebook(
    ctx: RenderContext,
    name: str,
    cells: list[dict[str, Any]],
    pool: str | None,
    spark: SparkSettings,
    description: str | None,
) -> RenderedNotebook:
    metadata = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    properties: dict[str, Any] = {
        "bigDataPool": {"referenceName": pool or "", "type": "BigDataPoolReference"},
        "sessionProperties": session_properties(spark),
        "metadata": metadata,
        "nbformat": NBFORMAT,
        "nbformat_minor": NBFORMAT_MINOR,
        "cells": cells,
        "folder": {"name": ctx.project},
    }
    if description is not None:
        properties["description"] = description
    ipynb = {"nbformat": NBFORMAT, "nbformat_minor": NBFORMAT_MINOR, "metadata": metadata, "cells": cells}
    return RenderedNotebook({"name": name, "properties": properties}, _own_cells(ipynb))


def _own_cells(ipynb: dict[str, Any]) -> dict[str, Any]:
    """The ``.ipynb`` twin with cells of its own, so a later edit of one file cannot change the other.

    Cells hold only strings, lists of strings and the ``tags`` metadata (see :mod:`.cells`): copying
    those by hand is a tenth of what ``copy.deepcopy`` costs, which was more than the rest of the
    notebook's rendering.
    """
    cells = [
        {
            **cell,
            "metadata": {key: list(value) for key, value in cell["metadata"].items()},
            "source": list(cell["source"]),
            **({"outputs": list(cell["outputs"])} if "outputs" in cell else {}),
        }
        for cell in ipynb["cells"]
    ]
    metadata = {key: dict(value) for key, value in ipynb["metadata"].items()}
    return {**ipynb, "metadata": metadata, "cells": cells}


def _template_values(ctx: RenderContext, name: str, transform: Transform) -> dict[str, Any]:
    output = transform.output
    return {
        "transform": name,
        "project": ctx.project,
        "environment": ctx.environment,
        "parameters": notebook_parameters(ctx),
        "spec_file": os.path.basename(ctx.spec.file),
        "inputs": [_input(ctx, input_name) for input_name in dict.fromkeys(transform.inputs)],
        "sql": transform.sql,
        "python": transform.python,
        "expectations": [_expectation(e) for e in transform.expectations],
        "expectation_count": len(transform.expectations),
        "output": {
            "url": output.path,
            "format": output.format,
            "mode": output.mode,
            "partition_by": list(output.partition_by),
            "merge_keys": list(output.merge_keys),
        },
    }


def _input(ctx: RenderContext, name: str) -> dict[str, Any]:
    """How an input is read: a source as the spec describes it, a transform's input from its output."""
    source = ctx.model.sources.get(name)
    if source is not None:
        return {
            "name": name,
            "url": source.path,
            "format": source.format,
            "options": dict(source.options),
            "schema_ddl": schema_ddl(source.schema_) if source.schema_ else None,
            "glob": source.glob,
        }
    upstream = ctx.model.transforms[name].output  # references are checked before any renderer runs
    return {
        "name": name,
        "url": upstream.path,
        "format": upstream.format,
        "options": _written_options(upstream.format, declared=bool(upstream.schema_)),
        "schema_ddl": schema_ddl(upstream.schema_) if upstream.schema_ else None,
        "glob": None,
    }


def _written_options(format_: str, *, declared: bool) -> dict[str, Any]:
    """Reader options for a transform's output: write_output writes CSV with a header row."""
    if format_ != "csv":
        return {}
    return {"header": True} if declared else {"header": True, "inferSchema": True}


def _expectation(expectation: Expectation) -> dict[str, Any]:
    kind = expectation.kind
    if kind in ("not_null", "unique"):
        columns = getattr(expectation, kind)
        return {"kind": kind, "columns": [columns] if isinstance(columns, str) else list(columns)}
    if expectation.row_count is not None:
        return {"kind": kind, "min": expectation.row_count.min, "max": expectation.row_count.max}
    if expectation.accepted_values is not None:
        accepted = expectation.accepted_values
        return {"kind": kind, "column": accepted.column, "values": list(accepted.values)}
    if expectation.range is not None:
        bounds = expectation.range
        return {"kind": kind, "column": bounds.column, "min": bounds.min, "max": bounds.max}
    if expectation.expression is not None:
        return {"kind": kind, "expression": expectation.expression}
    raise ValueError(f"no notebook code for expectation kind {kind!r}")


def _project_code(ctx: RenderContext, name: str, relative: str) -> tuple[str, list[Diagnostic]]:
    """The project's transform code; or a cell that stops the run, and the error saying why.

    The check stage has judged the file already (:mod:`mlspec.spec_schema.transform_code`); the same
    judgement here only catches a file changed between validation and rendering.
    """
    try:
        text = ctx.read_project_file(relative)
    except (OSError, UnicodeDecodeError) as exc:
        problem = unreadable_code(relative, exc)
    else:
        found = transform_code_problem(relative, text)
        if found is None:
            return text, []
        problem = found
    diagnostic = ctx.error(problem.code, problem.message, ("transforms", name, "python"), problem.hint)
    return _stop_cell(problem.reason), [diagnostic]


def _stop_cell(reason: str) -> str:
    return f"raise RuntimeError({python_literal('mlspec build error: ' + reason)})"
