"""Synapse renderer: one notebook per transform and a pipeline that runs them in DAG order.

Files, under ``synapse/``:

- ``notebooks/<transform>.json``: the notebook resource (``synapse.notebook.<transform>``)
- ``notebooks/<transform>.ipynb``: the same cells as a Jupyter notebook (nbformat 4.2)
- ``pipelines/<project>.json``: the pipeline resource (``synapse.pipeline.<project>``), which
  depends on every notebook

JSON is serialised from data structures; only cell code comes from templates (see
:mod:`~mlspec.compiler.synapse.cells`), so no spec value can change an artifact's structure.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlspec.compiler.addresses import synapse_notebook, synapse_pipeline
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.graph import Resource
from mlspec.compiler.synapse import notebook, pipeline
from mlspec.compiler.synapse.checks import check_synapse
from mlspec.compiler.synapse.spark_types import is_spark_type
from mlspec.diagnostics import Diagnostic, SpecPath

__all__ = ["check", "render"]


def render(ctx: RenderContext, out: ArtifactSet) -> None:
    """Add the notebooks and the pipeline of every transform to ``out``."""
    model = ctx.model
    if not model.transforms:
        return
    out.diagnostics.extend(_schema_type_problems(ctx))
    notebooks = []
    for name in pipeline.transform_order(model):
        rendered = notebook.render_synapse_notebook(ctx, name, model.transforms[name])
        out.diagnostics.extend(rendered.diagnostics)
        files = [
            out.add_json(notebook.notebook_file(name), rendered.resource),
            out.add_json(notebook.ipynb_file(name), rendered.ipynb),
        ]
        resource = Resource(
            address=synapse_notebook(name),
            provider_type=notebook.PROVIDER_TYPE,
            files=files,
            source=("transforms", name),
            description=f"Synapse notebook running transform {name}",
        )
        notebooks.append(out.add_resource(resource).address)
    file = out.add_json(pipeline.pipeline_file(ctx.project), pipeline.render_synapse_pipeline(ctx))
    out.add_resource(
        Resource(
            address=synapse_pipeline(ctx.project),
            provider_type=pipeline.PROVIDER_TYPE,
            files=[file],
            depends_on=notebooks,
            source=("transforms",),
            description="Synapse pipeline running every transform's notebook in dependency order",
        )
    )


def check(ctx: RenderContext, out: ArtifactSet) -> list[Diagnostic]:
    """mlspec's own checks of the Synapse artifacts (what the SDK models and nbformat miss)."""
    return check_synapse(ctx, out)


def _schema_type_problems(ctx: RenderContext) -> Iterator[Diagnostic]:
    """Column types a notebook passes to Spark: each must be one Spark SQL type (MLS613)."""
    model = ctx.model
    read = {i for t in model.transforms.values() for i in t.inputs}
    schemas: list[tuple[SpecPath, dict[str, str]]] = [
        (("sources", name, "schema"), source.schema_)
        for name, source in model.sources.items()
        if name in read and source.schema_
    ]
    schemas += [
        (("transforms", name, "output", "schema"), t.output.schema_)
        for name, t in model.transforms.items()
        if name in read and t.output.schema_
    ]
    for path, schema in schemas:
        for column, kind in schema.items():
            if not is_spark_type(kind):
                yield ctx.error(
                    "MLS613",
                    f"column {column!r}: {kind!r} is not a Spark SQL type",
                    (*path, column),
                    "e.g. string, int, bigint, double, decimal(10,2), boolean, date, timestamp",
                )
