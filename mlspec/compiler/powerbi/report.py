"""The report definition in the PBIR folder format: ``definition/`` with one JSON file per part.

    definition.pbir
    definition/version.json
    definition/report.json
    definition/pages/pages.json
    definition/pages/<page>/page.json
    definition/pages/<page>/visuals/<visual>/visual.json

Page and visual names (also their folder names) are 20 hex characters derived from the report name
and their positions, so a rebuild gives the same names. Visual titles and page names are data: JSON
escaping covers JSON, and a title inside a Power BI literal is single-quoted with ``'`` doubled.
"""

from __future__ import annotations

import hashlib
from typing import Any

from mlspec.compiler.powerbi.model import SemanticModel
from mlspec.spec_schema.models import Visual
from mlspec.spec_schema.report_model import Field

_BASE = "https://developer.microsoft.com/json-schemas/fabric/"
PBIR_SCHEMA = _BASE + "item/report/definitionProperties/2.0.0/schema.json"
VERSION_SCHEMA = _BASE + "item/report/definition/versionMetadata/1.0.0/schema.json"
REPORT_SCHEMA = _BASE + "item/report/definition/report/3.0.0/schema.json"
PAGES_SCHEMA = _BASE + "item/report/definition/pagesMetadata/1.0.0/schema.json"
PAGE_SCHEMA = _BASE + "item/report/definition/page/2.0.0/schema.json"
VISUAL_SCHEMA = _BASE + "item/report/definition/visualContainer/2.0.0/schema.json"
PBIP_SCHEMA = _BASE + "pbip/pbipProperties/1.0.0/schema.json"
DEFINITION_VERSION = "2.0.0"

PAGE_WIDTH, PAGE_HEIGHT = 1280, 720
_MARGIN, _GAP, _COLUMNS, _VISUAL_HEIGHT = 20, 20, 2, 320
_VISUAL_WIDTH = (PAGE_WIDTH - 2 * _MARGIN - (_COLUMNS - 1) * _GAP) // _COLUMNS

VISUAL_TYPES = {
    "card": "card",
    "bar": "clusteredBarChart",
    "column": "clusteredColumnChart",
    "line": "lineChart",
    "pie": "pieChart",
    "table": "tableEx",
    "scatter": "scatterChart",
}


def object_name(*parts: object) -> str:
    """A deterministic PBIR object name (Power BI Desktop uses 20 hex characters)."""
    return hashlib.sha256("\x00".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:20]


def pbip(name: str) -> dict[str, Any]:
    return {
        "$schema": PBIP_SCHEMA,
        "version": "1.0",
        "artifacts": [{"report": {"path": f"{name}.Report"}}],
        "settings": {"enableAutoRecovery": True},
    }


def pbir(name: str) -> dict[str, Any]:
    return {
        "$schema": PBIR_SCHEMA,
        "version": "4.0",
        "datasetReference": {"byPath": {"path": f"../{name}.SemanticModel"}},
    }


def version() -> dict[str, Any]:
    return {"$schema": VERSION_SCHEMA, "version": DEFINITION_VERSION}


def report() -> dict[str, Any]:
    return {"$schema": REPORT_SCHEMA, "themeCollection": {}}


def display_text(value: str) -> str:
    """Text shown on a canvas: control characters (line breaks included) become spaces."""
    return "".join(" " if ord(c) < 32 or c in "\x7f\u2028\u2029" else c for c in value)


def literal(value: str) -> dict[str, Any]:
    """A Power BI text literal expression: ``'text'`` with ``'`` doubled."""
    return {"expr": {"Literal": {"Value": "'" + display_text(value).replace("'", "''") + "'"}}}


def pages(model: SemanticModel) -> list[tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]]]]:
    """``[(page name, page.json, [(visual name, visual.json)])]``; a report without pages gets one."""
    report_name = model.report.name
    specs = model.report.pages or []
    out: list[tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]]]] = []
    for p, page in enumerate(specs or [None]):
        page_name = object_name(report_name, "page", p)
        title = page.title if page is not None else report_name
        visuals = []
        for v, visual in enumerate(page.visuals if page is not None else []):
            visual_name = object_name(report_name, "page", p, "visual", v)
            visuals.append((visual_name, _visual(visual_name, v, visual, model.bindings.get((p, v), {}))))
        rows = max(1, -(-len(visuals) // _COLUMNS))
        page_json = {
            "$schema": PAGE_SCHEMA,
            "name": page_name,
            "displayName": display_text(title),
            "displayOption": "FitToPage",
            "height": max(PAGE_HEIGHT, _MARGIN + rows * (_VISUAL_HEIGHT + _GAP)),
            "width": PAGE_WIDTH,
        }
        out.append((page_name, page_json, visuals))
    return out


def pages_metadata(names: list[str]) -> dict[str, Any]:
    return {"$schema": PAGES_SCHEMA, "pageOrder": names, "activePageName": names[0]}


def _projection(field: Field) -> dict[str, Any]:
    source = {"SourceRef": {"Entity": field.table}}
    if field.kind == "Aggregation":
        expression: dict[str, Any] = {
            "Aggregation": {
                "Expression": {"Column": {"Expression": source, "Property": field.name}},
                "Function": field.function,
            }
        }
        prefix = "Sum" if field.function == 0 else "CountNonNull"
        ref = f"{prefix}({field.table}.{field.name})"
        native = f"{'Sum' if field.function == 0 else 'Count'} of {field.name}"
    else:
        expression = {field.kind: {"Expression": source, "Property": field.name}}
        ref, native = f"{field.table}.{field.name}", field.name
    return {"field": expression, "queryRef": ref, "nativeQueryRef": native}


def _roles(visual: Visual, bound: dict[str, list[Field]]) -> dict[str, list[Field]]:
    values = bound.get("measure", []) + bound.get("y", [])
    category = bound.get("x", [])
    if visual.type == "card":
        return {"Values": values[:1]}
    if visual.type == "table":
        return {"Values": bound.get("columns", []) + category + values}
    if visual.type == "scatter":
        return {"Category": bound.get("columns", [])[:1], "X": category, "Y": values}
    return {"Category": category + bound.get("columns", []), "Y": values}


def _title(visual: Visual) -> str:
    if visual.title is not None:
        return visual.title
    value = visual.measure or visual.y
    if value and visual.x:
        return f"{value} by {visual.x}"
    return value or visual.x or ", ".join(visual.columns or []) or visual.type


def _visual(name: str, index: int, visual: Visual, bound: dict[str, list[Field]]) -> dict[str, Any]:
    query_state = {
        role: {"projections": [_projection(f) for f in fields]}
        for role, fields in _roles(visual, bound).items()
        if fields
    }
    content: dict[str, Any] = {"visualType": VISUAL_TYPES[visual.type]}
    if query_state:
        content["query"] = {"queryState": query_state}
    content["visualContainerObjects"] = {
        "title": [
            {
                "properties": {
                    "show": {"expr": {"Literal": {"Value": "true"}}},
                    "text": literal(_title(visual)),
                }
            }
        ]
    }
    content["drillFilterOtherVisuals"] = True
    row, column = divmod(index, _COLUMNS)
    return {
        "$schema": VISUAL_SCHEMA,
        "name": name,
        "position": {
            "x": _MARGIN + column * (_VISUAL_WIDTH + _GAP),
            "y": _MARGIN + row * (_VISUAL_HEIGHT + _GAP),
            "z": index * 1000,
            "height": _VISUAL_HEIGHT,
            "width": _VISUAL_WIDTH,
            "tabOrder": index * 1000,
        },
        "visual": content,
    }
