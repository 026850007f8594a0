"""Power BI Projects (PBIP): the three JSON files against mlspec's schemas, references, and the TMDL folder.

The schemas in ``schemas/`` (pbip.v1, pbir.v2, pbism.v1) are mlspec's own encoding of the rules in
Microsoft's published fabric schemas. Beyond them: the ``.pbip``'s report paths and the report's
``byPath`` reference must resolve to folders holding the expected definition file, a semantic model
uses TMDL (``definition/``) or TMSL (``model.bim``) but not both, the report's JSON parses, and the TMDL
folder passes the structural checks of :mod:`tmdl`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlspec.compiler.platform_checks.json_pointers import pointer
from mlspec.compiler.platform_checks.json_schemas import bundled_validator, schema_problems
from mlspec.compiler.platform_checks.problems import PlatformProblem
from mlspec.compiler.platform_checks.tmdl import tmdl_problems


def check_pbip_project(root: Path) -> list[PlatformProblem]:
    """Problems in a Power BI Project folder (``X.pbip``, ``X.Report/``, ``X.SemanticModel/``)."""
    problems: list[PlatformProblem] = []
    shortcuts = sorted(root.glob("*.pbip"))
    if not shortcuts:
        problems.append(PlatformProblem(str(root), "", "no <Name>.pbip file in the project folder", "mlspec"))
    for shortcut in shortcuts:
        problems += _check_shortcut(shortcut)
    reports, models = sorted(root.glob("*.Report")), sorted(root.glob("*.SemanticModel"))
    if not reports:
        problems.append(
            PlatformProblem(str(root), "", "no <Name>.Report folder in the project folder", "mlspec")
        )
    for report in reports:
        problems += _check_report(report)
    for model in models:
        problems += _check_model(model)
    return problems


def _check_shortcut(file: Path) -> list[PlatformProblem]:
    data, problems = _json_file(file, "pbip.v1.json")
    artifacts = data.get("artifacts") if isinstance(data, dict) else None
    for index, item in enumerate(artifacts if isinstance(artifacts, list) else []):
        report = item.get("report") if isinstance(item, dict) else None
        path = report.get("path") if isinstance(report, dict) else None
        if isinstance(path, str) and not (file.parent / path / "definition.pbir").is_file():
            where = pointer("artifacts", index, "report", "path")
            message = f"{path!r} is not a report folder holding definition.pbir (relative to {file.name})"
            problems.append(PlatformProblem(str(file), where, message, "mlspec"))
    return problems


def _check_report(folder: Path) -> list[PlatformProblem]:
    file = folder / "definition.pbir"
    if not file.is_file():
        return [PlatformProblem(str(folder), "", "missing definition.pbir", "mlspec")]
    data, problems = _json_file(file, "pbir.v2.json")
    reference = data.get("datasetReference") if isinstance(data, dict) else None
    by_path = reference.get("byPath") if isinstance(reference, dict) else None
    path = by_path.get("path") if isinstance(by_path, dict) else None
    if isinstance(path, str) and not (folder / path / "definition.pbism").is_file():
        where = pointer("datasetReference", "byPath", "path")
        message = (
            f"{path!r} is not a semantic model folder holding definition.pbism (relative to {folder.name})"
        )
        problems.append(PlatformProblem(str(file), where, message, "mlspec"))
    definition = folder / "definition"
    if definition.is_dir():  # PBIR format: one JSON file per report, page and visual
        for required in ("report.json", "version.json"):
            if not (definition / required).is_file():
                problems.append(
                    PlatformProblem(str(definition), "", f"missing {required} (PBIR format)", "mlspec")
                )
        for part in sorted(definition.rglob("*.json")):
            problems += _json_syntax(part)
    elif (folder / "report.json").is_file():  # PBIR-Legacy: one report.json
        problems += _json_syntax(folder / "report.json")
    else:
        message = "the report has neither a definition/ folder (PBIR) nor a report.json"
        problems.append(PlatformProblem(str(folder), "", message, "mlspec"))
    return problems


def _check_model(folder: Path) -> list[PlatformProblem]:
    file = folder / "definition.pbism"
    problems: list[PlatformProblem] = []
    if file.is_file():
        problems += _json_file(file, "pbism.v1.json")[1]
    else:
        problems.append(PlatformProblem(str(folder), "", "missing definition.pbism", "mlspec"))
    definition, bim = folder / "definition", folder / "model.bim"
    if definition.is_dir() and bim.exists():
        message = "definition/ (TMDL) and model.bim (TMSL) are mutually exclusive"
        problems.append(PlatformProblem(str(folder), "", message, "mlspec"))
    if definition.is_dir():
        problems += [
            PlatformProblem(str(f), where, message, "mlspec")
            for f, where, message in tmdl_problems(definition)
        ]
    elif bim.is_file():
        problems += _json_syntax(bim)
    else:
        message = "the semantic model has neither a definition/ folder (TMDL) nor a model.bim (TMSL)"
        problems.append(PlatformProblem(str(folder), "", message, "mlspec"))
    return problems


def _json_file(file: Path, schema: str) -> tuple[Any, list[PlatformProblem]]:
    """The parsed file and its problems against a bundled schema."""
    try:
        data = json.loads(file.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        return None, [PlatformProblem(str(file), "", f"not valid JSON: {exc}", "mlspec")]
    return data, schema_problems(bundled_validator(schema), data, str(file), "jsonschema")


def _json_syntax(file: Path) -> list[PlatformProblem]:
    try:
        json.loads(file.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        return [PlatformProblem(str(file), "", f"not valid JSON: {exc}", "mlspec")]
    return []
