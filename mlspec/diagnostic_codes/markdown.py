"""``docs/diagnostics.md`` as the registry says it: an introduction, then one table per stage.

Deterministic — the same registry gives the same bytes — so a test can compare the committed page with
what :func:`render_reference` writes.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlspec.diagnostic_codes.entries import STAGES, DiagnosticCode, Stage

REGENERATE = "python -m mlspec.diagnostic_codes --write docs/diagnostics.md"
"""The one command that regenerates the page (``make diagnostics`` runs it)."""

_INTRO = """\
Every problem mlspec reports has a stable code, a message, the spec path, the location
(`file:line:col`) and usually a hint. Errors fail `mlspec validate` (exit 1); warnings do
not, unless `--strict`. Codes are stable: a code never changes meaning, and keeps its number
when the check that reports it moves to another stage.

A command stopped by an error exits 1, or 2 where the severity column says `exit 2` (a usage or
I/O problem). Each code has an anchor: `docs/diagnostics.md#mls301` links to its row, and SARIF
output (`--format sarif`) links every rule here."""


def _cell(text: str) -> str:
    """Table-cell text: a ``|`` would end the cell, so it is escaped."""
    return text.replace("|", "\\|")


def _severity_cell(entry: DiagnosticCode) -> str:
    exit_note = f" (exit {entry.exit_code})" if entry.exit_code != 1 else ""
    return entry.severity_text + exit_note


def _code_ranges(entries: list[DiagnosticCode]) -> str:
    """``MLS601…MLS603, MLS699``: the codes of a stage as runs of consecutive numbers."""
    runs: list[list[str]] = []
    for entry in entries:
        if runs and int(entry.code[3:]) == int(runs[-1][-1][3:]) + 1:
            runs[-1].append(entry.code)
        else:
            runs.append([entry.code])
    return ", ".join(run[0] if len(run) == 1 else f"{run[0]}…{run[-1]}" for run in runs)


def _section(stage: Stage, entries: list[DiagnosticCode]) -> list[str]:
    lines = [f'## <a id="{stage.key}"></a>{stage.title}', ""]
    if stage.intro:
        lines += [stage.intro, ""]
    lines += ["| code | severity | what | details |", "|---|---|---|---|"]
    for entry in entries:
        lines.append(
            f'| <a id="{entry.anchor}"></a>{entry.code} | {_severity_cell(entry)} | {_cell(entry.title)} '
            f"| {_cell(entry.description)} |"
        )
    return [*lines, ""]


def render_reference(registry: Mapping[str, DiagnosticCode]) -> str:
    """The whole page for ``registry``; stages in :data:`STAGES` order, codes in code order within each."""
    by_stage: dict[str, list[DiagnosticCode]] = {stage.key: [] for stage in STAGES}
    for entry in sorted(registry.values(), key=lambda e: e.code):
        by_stage[entry.stage.key].append(entry)
    shown = [stage for stage in STAGES if by_stage[stage.key]]
    lines = [
        f"<!-- Generated from the registry in mlspec/diagnostic_codes/ by `{REGENERATE}`;",
        "     edit the registry, not this page (a test fails when the two differ). -->",
        "# Diagnostic codes",
        "",
        _INTRO,
        "",
        *(f"- [{stage.title}](#{stage.key}): {_code_ranges(by_stage[stage.key])}" for stage in shown),
        "",
    ]
    for stage in shown:
        lines += _section(stage, by_stage[stage.key])
    return "\n".join(lines).rstrip("\n") + "\n"
