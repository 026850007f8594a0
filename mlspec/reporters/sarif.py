"""``--format sarif``: SARIF 2.1.0 for code scanning (GitHub, Azure DevOps)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, TextIO

from mlspec.api import ValidationReport
from mlspec.diagnostic_codes import lookup
from mlspec.diagnostics import Diagnostic, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/mlspec/mlspec"
DOCS_URI = f"{INFORMATION_URI}/blob/main/"
"""Where the repository's files are browsed: a code's ``docs/diagnostics.md#mls301`` is resolved against it."""


def _uri(file: str) -> str:
    path = Path(file)
    if path.is_absolute():
        try:
            path = path.relative_to(Path.cwd())
        except ValueError:
            return path.as_uri()
    return path.as_posix()


def _rule_name(title: str) -> str:
    """SARIF wants a rule name that is an identifier: ``transform input is not ...`` → ``TransformInputIsNot...``."""
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", title))


def _rule(code: str) -> dict[str, Any]:
    """A rule's metadata from the registry of codes; a code it does not know keeps its bare id."""
    entry = lookup(code)
    if entry is None:
        return {"id": code, "name": code}
    return {
        "id": code,
        "name": _rule_name(entry.title),
        "shortDescription": {"text": entry.title},
        "fullDescription": {"text": entry.description or entry.title},
        "helpUri": DOCS_URI + entry.docs_anchor,
        "defaultConfiguration": {"level": "error" if Severity.ERROR in entry.severities else "warning"},
    }


def _result(d: Diagnostic) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": d.code,
        "level": "error" if d.is_error else "warning",
        "message": {"text": d.message + (f" (hint: {d.hint})" if d.hint else "")},
    }
    if d.location:
        result["locations"] = [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(d.location.file)},
                    "region": {"startLine": d.location.line, "startColumn": d.location.column},
                },
                **({"logicalLocations": [{"fullyQualifiedName": d.named_path}]} if d.path else {}),
            }
        ]
    return result


def write_sarif(report: ValidationReport, out: TextIO, color: bool) -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        tool_version = version("mlspec-azure")
    except PackageNotFoundError:
        tool_version = "0.0.0"
    diagnostics = [d.redacted() for d in report.diagnostics]
    rules = sorted({d.code for d in diagnostics})
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mlspec",
                        "version": tool_version,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule(code) for code in rules],
                    }
                },
                # mlspec counts columns in code points, as Python strings do (SARIF defaults to UTF-16 units).
                "columnKind": "unicodeCodePoints",
                "results": [_result(d) for d in diagnostics],
            }
        ],
    }
    json.dump(document, out, indent=2)
    out.write("\n")
