"""Human output: ``file:line:col: error MLS123: message`` then an indented hint — the compiler convention
editors and CI turn into links. Colour only on a terminal (and never with NO_COLOR)."""

from __future__ import annotations

from typing import TextIO

from mlspec.api import ValidationReport
from mlspec.diagnostics import Diagnostic

_RED, _YELLOW, _BOLD, _DIM, _GREEN, _RESET = (
    "\033[31m",
    "\033[33m",
    "\033[1m",
    "\033[2m",
    "\033[32m",
    "\033[0m",
)


def format_diagnostic(d: Diagnostic, *, color: bool) -> str:
    d = d.redacted()
    # A finding without a place (a held run lock, a refused environment) is not the spec's: no file prefix.
    where = str(d.location) if d.location else "mlspec"
    severity = d.severity.value
    if color:
        paint = _RED if d.is_error else _YELLOW
        head = f"{_BOLD}{where}{_RESET}: {paint}{severity} {d.code}{_RESET}: {d.message}"
    else:
        head = f"{where}: {severity} {d.code}: {d.message}"
    lines = [head]
    if d.path:
        at = f"at {d.named_path}" + (f", {d.environment_note}" if d.environments else "")
        lines.append(f"    {at}" if not color else f"    {_DIM}{at}{_RESET}")
    elif d.environments:
        lines.append(f"    {d.environment_note}")
    if d.hint:
        lines.append(f"    hint: {d.hint}")
    return "\n".join(lines)


def write_text(report: ValidationReport, out: TextIO, color: bool) -> None:
    # format_diagnostic redacts each diagnostic (the one redaction layer, mlspec/redaction.py).
    for file in report.files:
        for d in file.diagnostics:
            out.write(format_diagnostic(d, color=color) + "\n")
    files = len(report.files)
    errors, warnings = report.error_count, report.warning_count
    noun = "spec" if files == 1 else "specs"
    if report.ok:
        summary = f"{files} {noun} valid" + (
            f", {warnings} warning{'s' * (warnings != 1)}" if warnings else ""
        )
        out.write((f"{_GREEN}{summary}{_RESET}" if color else summary) + "\n")
    else:
        invalid = sum(1 for f in report.files if not f.ok)
        summary = (
            f"{invalid} of {files} {noun} invalid: {errors} error{'s' * (errors != 1)}, "
            f"{warnings} warning{'s' * (warnings != 1)}"
        )
        out.write((f"{_RED}{summary}{_RESET}" if color else summary) + "\n")
