"""Synapse renderer: one notebook per transform and a pipeline that runs them in DAG order.

Files, under ``synapse/``:

- ``notebooks/<transform>.json``: the notebook resource (``synapse.notebook.<transform>``), which
  depends on the runtime notebook it ``%run``-s
- ``notebooks/mlspec-lake-<project>.json``: that runtime notebook (``synapse.notebook.mlspec-lake-<project>``)
- ``notebooks/<name>.ipynb``: each notebook's cells as a Jupyter notebook (nbformat 4.2)
- ``pipelines/<project>.json``: the pipeline resource (``synapse.pipeline.<project>``), which
  depends on every transform's notebook

JSON is serialised from data structures; only cell code comes from templates (see
:mod:`~mlspec.compiler.synapse.cells`), so no spec value can change an artifact's structure.

What the spec decides (column types are Spark SQL types, transform code is a usable Python file,
names Synapse allows) is checked before any renderer runs, by
:mod:`mlspec.spec_schema.checks.synapse`; this package relies on it.
"""

from __future__ import annotations

from mlspec.compiler.addresses import synapse_notebook, synapse_pipeline
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.synapse import notebook, pipeline
from mlspec.compiler.synapse.checks import check_synapse
from mlspec.contract.graph import Address, Resource
from mlspec.diagnostics import Diagnostic

__all__ = ["check", "provides", "render"]


def provides(ctx: RenderContext) -> set[Address]:
    """Every address :func:`render` adds: a notebook per transform and the pipeline running them."""
    transforms = ctx.model.transforms
    if not transforms:
        return set()
    return {
        *(synapse_notebook(name) for name in transforms),
        synapse_notebook(notebook.runtime_notebook_name(ctx.project)),
        synapse_pipeline(ctx.project),
    }


def render(ctx: RenderContext, out: ArtifactSet) -> None:
    """Add the notebooks and the pipeline of every transform to ``out``."""
    model = ctx.model
    if not model.transforms:
        return
    runtime = _add_notebook(
        out,
        notebook.render_runtime_notebook(ctx),
        source=("transforms",),
        description="Synapse notebook with the runtime helper every transform notebook runs first",
    )
    notebooks = [
        _add_notebook(
            out,
            notebook.render_synapse_notebook(ctx, name, model.transforms[name]),
            source=("transforms", name),
            description=f"Synapse notebook running transform {name}",
            depends_on=[runtime],
        )
        for name in pipeline.transform_order(model)
    ]
    file = out.add_json(pipeline.pipeline_file(ctx.project), pipeline.render_synapse_pipeline(ctx))
    out.add_resource(
        Resource(
            address=synapse_pipeline(ctx.project),
            provider_type=pipeline.PROVIDER_TYPE,
            files=[file],
            # and on the reports whose models it refreshes: their ids are filled in once they are published
            depends_on=[*notebooks, *pipeline.report_addresses(model)],
            source=("transforms",),
            description="Synapse pipeline running every transform's notebook in dependency order",
        )
    )


def _add_notebook(
    out: ArtifactSet,
    rendered: notebook.RenderedNotebook,
    *,
    source: tuple[str, ...],
    description: str,
    depends_on: list[Address] | None = None,
) -> Address:
    name = rendered.resource["name"]
    out.diagnostics.extend(rendered.diagnostics)
    files = [
        out.add_json(notebook.notebook_file(name), rendered.resource),
        out.add_json(notebook.ipynb_file(name), rendered.ipynb),
    ]
    resource = Resource(
        address=synapse_notebook(name),
        provider_type=notebook.PROVIDER_TYPE,
        files=files,
        depends_on=list(depends_on or []),
        source=source,
        description=description,
    )
    return out.add_resource(resource).address


def check(ctx: RenderContext, out: ArtifactSet) -> list[Diagnostic]:
    """mlspec's own checks of the Synapse artifacts (what the SDK models and nbformat miss)."""
    return check_synapse(ctx, out)
