"""Render each report into a Power BI Project, ``powerbi/<Name>/`` (resource ``powerbi.report.<Name>``)."""

from __future__ import annotations

import re

from mlspec.compiler import addresses
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.graph import Address, Resource
from mlspec.compiler.powerbi import report as pbir
from mlspec.compiler.powerbi import semantic
from mlspec.compiler.powerbi.model import SemanticModel, build_model
from mlspec.diagnostics import has_errors
from mlspec.spec_schema.models import Report

FOLDER = "powerbi"
SAFE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 _-]{0,62}[A-Za-z0-9_-])?")
"""Report names become folder and file names: letters, digits, space, ``_`` and ``-``; no dots, no
separators, no leading/trailing space (Windows drops those)."""
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
)


def folder_name_problem(name: str) -> str | None:
    if not SAFE_NAME.fullmatch(name):
        return (
            "report names become folder names: 1-64 letters, digits, spaces, '_' or '-', "
            "starting and ending with a letter or digit"
        )
    if name.lower() in _RESERVED:
        return f"{name!r} is a reserved device name on Windows"
    return None


def project_root(name: str) -> str:
    return f"{FOLDER}/{name}"


def report_address(name: str) -> Address:
    """``powerbi.report.<name>``, spaces as ``_`` (addresses hold no spaces)."""
    return addresses.powerbi_report(name.replace(" ", "_"))


def render(ctx: RenderContext, out: ArtifactSet) -> None:
    """Add one PBIP project per report (skipped, with located errors, when a report cannot be written)."""
    taken: set[str] = set()
    for index, spec in enumerate(ctx.model.reports):
        problem = folder_name_problem(spec.name)
        key = str(report_address(spec.name)).casefold()
        if problem is None and key in taken:
            problem = (
                "another report has the same folder name (names differing only in case or ' '/'_' clash)"
            )
        taken.add(key)
        if problem is not None:
            out.diagnostics.append(
                ctx.error("MLS664", f"report name {spec.name!r}: {problem}", ("reports", index, "name"))
            )
            continue
        model = build_model(ctx, index, spec)
        out.diagnostics.extend(model.diagnostics)
        if has_errors(model.diagnostics) or not model.tables:
            continue
        files = _write_project(out, spec, model)
        out.add_resource(
            Resource(
                address=report_address(spec.name),
                provider_type="powerbi:pbip",
                files=files,
                depends_on=_depends_on(ctx, out, spec),
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


def _depends_on(ctx: RenderContext, out: ArtifactSet, spec: Report) -> list[Address]:
    """The report reads the transforms' outputs: refresh after their notebooks exist."""
    found = [addresses.synapse_notebook(t) for t in spec.tables if t in ctx.model.transforms]
    return [a for a in found if out.address_exists(a)]
