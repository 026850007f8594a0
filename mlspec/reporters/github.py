"""``--format github``: GitHub Actions workflow commands, so each diagnostic annotates the pull request."""

from __future__ import annotations

from typing import TextIO

from mlspec.api import ValidationReport


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def write_github(report: ValidationReport, out: TextIO, color: bool) -> None:
    for file in report.files:
        for d in (diagnostic.redacted() for diagnostic in file.diagnostics):
            command = "error" if d.is_error else "warning"
            props = []
            if d.location:
                props += [
                    f"file={_escape_property(d.location.file)}",
                    f"line={d.location.line}",
                    f"col={d.location.column}",
                ]
            props.append(f"title={_escape_property(d.code)}")
            scope = f" ({d.environment_note})" if d.environments else ""
            message = d.message + scope + (f"\n{d.hint}" if d.hint else "")
            out.write(f"::{command} {','.join(props)}::{_escape_data(message)}\n")
