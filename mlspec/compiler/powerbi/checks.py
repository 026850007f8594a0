"""mlspec's own checks of the rendered Power BI projects (MLS660-669), at the report's spec line.

Reported by the check stage from the spec (:mod:`mlspec.spec_schema.report_model`, before any
renderer runs): MLS660 a visual field that is no column ·
MLS661 names that clash · MLS662 a name TMDL cannot hold · MLS663 an undeclared measure (warning) ·
MLS664 a report name that is no safe folder name · MLS665 a DAX expression TMDL cannot hold ·
MLS666 a format string TMDL cannot hold · MLS667 a column declared on a table of unknown columns.

Checked here on the written files, what a slip in the renderer would break: every visual field and
every relationship end names a column or measure the TMDL declares (MLS660), TMDL names are unique
(MLS661), and every JSON file names its ``$schema`` (MLS668).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.diagnostics import Diagnostic, SpecPath

_TABLE = re.compile(r"^table '((?:[^']|'')*)'$")
_CHILD = re.compile(r"^\t(column|measure) '((?:[^']|'')*)'")
_END = re.compile(r"^\t(fromColumn|toColumn): '((?:[^']|'')*)'\.'((?:[^']|'')*)'$")


def check(ctx: RenderContext, out: ArtifactSet) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for resource in out.resources:
        if resource.provider_type != "powerbi:pbip":
            continue
        model = _declared(ctx, out, resource.files, resource.source, found)
        for path in resource.files:
            artifact = out.artifacts[path]
            is_json = path.endswith((".json", ".pbip", ".pbir", ".pbism"))
            if is_json and (not isinstance(artifact.data, dict) or "$schema" not in artifact.data):
                found.append(ctx.error("MLS668", f"{path} names no $schema", resource.source))
            if path.endswith("/visual.json") and isinstance(artifact.data, dict):
                found += _visual_fields(ctx, artifact.data, model, resource.source, path)
            if path.endswith("/definition/relationships.tmdl"):
                found += _relationship_ends(
                    ctx, artifact.content.decode("utf-8"), model, resource.source, path
                )
    return found


def _unquote(name: str) -> str:
    return name.replace("''", "'")


def _declared(
    ctx: RenderContext, out: ArtifactSet, files: list[str], source: SpecPath, found: list[Diagnostic]
) -> dict[str, dict[str, str]]:
    """``{table: {name: "column"|"measure"}}`` from the TMDL table files, reporting clashes."""
    tables: dict[str, dict[str, str]] = {}
    measures: set[str] = set()
    for path in files:
        if "/definition/tables/" not in path or not path.endswith(".tmdl"):
            continue
        lines = out.artifacts[path].content.decode("utf-8").split("\n")
        match = _TABLE.match(lines[0])
        if match is None:
            found.append(
                ctx.error("MLS661", f"{path} does not start with a quoted table declaration", source)
            )
            continue
        table = _unquote(match[1])
        if table.casefold() in {t.casefold() for t in tables}:
            found.append(ctx.error("MLS661", f"table {table!r} is declared twice", source))
        names: dict[str, str] = {}
        for line in lines[1:]:
            child = _CHILD.match(line)
            if child is None:
                continue
            kind, name = child[1], _unquote(child[2])
            if name.casefold() in {n.casefold() for n in names}:
                found.append(ctx.error("MLS661", f"table {table!r} declares {name!r} twice", source))
            if kind == "measure":
                if name.casefold() in measures:
                    found.append(ctx.error("MLS661", f"measure {name!r} is declared in two tables", source))
                measures.add(name.casefold())
            names[name] = kind
        tables[table] = names
    return tables


def _visual_fields(
    ctx: RenderContext, visual: dict[str, Any], model: dict[str, dict[str, str]], source: SpecPath, path: str
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    state = visual.get("visual", {}).get("query", {}).get("queryState", {})
    for role in state.values():
        for projection in role.get("projections", []):
            for kind, table, name in _fields(projection.get("field", {})):
                declared = model.get(table, {}).get(name)
                wanted = "measure" if kind == "Measure" else "column"
                if declared != wanted:
                    found.append(
                        ctx.error(
                            "MLS660", f"{path}: {wanted} {table}[{name}] is not in the semantic model", source
                        )
                    )
    return found


def _relationship_ends(
    ctx: RenderContext, text: str, model: dict[str, dict[str, str]], source: SpecPath, path: str
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for line in text.split("\n"):
        end = _END.match(line)
        if end is not None and model.get(_unquote(end[2]), {}).get(_unquote(end[3])) != "column":
            message = f"{path}: {end[1]} {_unquote(end[2])}[{_unquote(end[3])}] is not in the semantic model"
            found.append(ctx.error("MLS660", message, source))
        elif (
            line.startswith("\t")
            and line.lstrip("\t").startswith(("fromColumn:", "toColumn:"))
            and end is None
        ):
            found.append(
                ctx.error("MLS660", f"{path}: {line.strip()!r} is no quoted 'table'.'column'", source)
            )
    return found


def _fields(expression: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    for kind in ("Measure", "Column"):
        if kind in expression:
            ref = expression[kind]
            yield kind, ref["Expression"]["SourceRef"]["Entity"], ref["Property"]
    if "Aggregation" in expression:
        yield from _fields(expression["Aggregation"]["Expression"])
