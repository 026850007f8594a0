"""Render each report into a Power BI Project, ``powerbi/<Name>/`` (resource ``powerbi.report.<Name>``)."""

from __future__ import annotations

from mlspec.artifact_paths import ArtifactError
from mlspec.compiler import addresses
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.powerbi import report as pbir
from mlspec.compiler.powerbi import semantic
from mlspec.compiler.powerbi.model import SemanticModel, build_model
from mlspec.contract.graph import Address, Resource
from mlspec.diagnostics import Severity
from mlspec.spec_schema.models import Report
from mlspec.spec_schema.report_model import folder_name_problem

FOLDER = "powerbi"


def project_root(name: str) -> str:
    return f"{FOLDER}/{name}"


def report_address(name: str) -> Address:
    """``powerbi.report.<name>`` (:func:`mlspec.compiler.addresses.powerbi_report`)."""
    return addresses.powerbi_report(name)


def render(ctx: RenderContext, out: ArtifactSet) -> None:
    """Add one PBIP project per report.

    The check stage has reported every problem of the reports' names and models
    (:mod:`mlspec.spec_schema.checks.reports`) and a build with errors stops before rendering, so
    nothing is reported again here: a warning (MLS663, MLS667) would show twice.
    """
    for index, spec in enumerate(ctx.model.reports):
        if folder_name_problem(spec.name) is not None:  # MLS664 in the check stage; never a path here
            raise ArtifactError(f"report name {spec.name!r} is no plain folder name")
        model = build_model(ctx, index, spec)
        if any(p.severity is Severity.ERROR for p in model.problems) or not model.tables:
            continue
        files = _write_project(out, spec, model)
        out.add_resource(
            Resource(
                address=report_address(spec.name),
                provider_type="powerbi:pbip",
                files=files,
                depends_on=_depends_on(ctx, spec),
                source=("reports", index),
                description=f"Power BI project for workspace {spec.workspace}",
            )
        )


def _write_project(out: ArtifactSet, spec: Report, model: SemanticModel) -> list[str]:
    root, name = project_root(spec.name), spec.name
    files = [out.add_json(f"{root}/{name}.pbip", pbir.pbip(name), sort_keys=False)]
    sm = f"{root}/{name}.SemanticModel"
    files.append(out.add_json(f"{sm}/definition.pbism", semantic.pbism(), sort_keys=False))
    files.append(out.add_text(f"{sm}/definition/database.tmdl", semantic.database_tmdl(name)))
    files.append(out.add_text(f"{sm}/definition/model.tmdl", semantic.model_tmdl(model)))
    files.append(out.add_text(f"{sm}/definition/expressions.tmdl", semantic.expressions_tmdl(model)))
    relationships = semantic.relationships_tmdl(model)
    if relationships is not None:
        files.append(out.add_text(f"{sm}/definition/relationships.tmdl", relationships))
    for table in model.tables.values():
        files.append(
            out.add_text(f"{sm}/definition/tables/{table.name}.tmdl", semantic.table_tmdl(model, table))
        )
    rp = f"{root}/{name}.Report"
    files.append(out.add_json(f"{rp}/definition.pbir", pbir.pbir(name), sort_keys=False))
    files.append(out.add_json(f"{rp}/definition/version.json", pbir.version(), sort_keys=False))
    files.append(out.add_json(f"{rp}/definition/report.json", pbir.report(), sort_keys=False))
    pages = pbir.pages(model)
    files.append(
        out.add_json(
            f"{rp}/definition/pages/pages.json",
            pbir.pages_metadata([p for p, _, _ in pages]),
            sort_keys=False,
        )
    )
    for page_name, page_json, visuals in pages:
        files.append(out.add_json(f"{rp}/definition/pages/{page_name}/page.json", page_json, sort_keys=False))
        for visual_name, visual_json in visuals:
            path = f"{rp}/definition/pages/{page_name}/visuals/{visual_name}/visual.json"
            files.append(out.add_json(path, visual_json, sort_keys=False))
    return files


def _depends_on(ctx: RenderContext, spec: Report) -> list[Address]:
    """The report reads the transforms' outputs: refresh after their notebooks exist."""
    found = [addresses.synapse_notebook(t) for t in spec.tables if t in ctx.model.transforms]
    return [a for a in found if ctx.will_produce(a)]
