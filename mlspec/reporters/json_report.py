"""``--format json``: one JSON document on stdout and nothing else. Stable keys (documented in docs/ci.md)."""

from __future__ import annotations

import json
from typing import Any, TextIO

from mlspec.api import ValidationReport
from mlspec.diagnostics import Diagnostic
from mlspec.redaction import redact

SCHEMA_VERSION = 1


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    d = d.redacted()
    return {
        "code": d.code,
        "severity": d.severity.value,
        "message": d.message,
        "path": d.dotted_path,
        "file": d.location.file if d.location else None,
        "line": d.location.line if d.location else None,
        "column": d.location.column if d.location else None,
        "hint": d.hint,
        "environments": list(d.environments),  # empty: it holds in every environment checked
    }


def write_json(report: ValidationReport, out: TextIO, color: bool) -> None:
    document = {
        "version": SCHEMA_VERSION,
        "valid": report.ok,
        "error_count": report.error_count,
        "warning_count": report.warning_count,
        "files": [
            {
                "file": redact(f.file),
                "valid": f.ok,
                "environments": [redact(name) for name in f.environments],  # an --env may be a pasted token
                "diagnostics": [diagnostic_json(d) for d in f.diagnostics],
            }
            for f in report.files
        ],
    }
    json.dump(document, out, indent=2)
    out.write("\n")
