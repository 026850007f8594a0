"""What the Power BI projects need from the spec's reports (MLS660-667), reported before rendering.

The rules live in :mod:`mlspec.spec_schema.report_model`, which the Power BI renderer builds its
semantic model from as well: a report validate accepts is the report build renders.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlspec.diagnostics import Diagnostic, Severity
from mlspec.spec_schema.checks.context import CheckContext
from mlspec.spec_schema.checks.naming import REPORT
from mlspec.spec_schema.report_model import report_model, report_name_problems


def check_reports(ctx: CheckContext) -> Iterator[Diagnostic]:
    names = report_name_problems(ctx.model)
    earlier: set[str] = set()
    for index, report in enumerate(ctx.model.reports):
        repeated = report.name in earlier
        earlier.add(report.name)
        if index in names:
            # Reported once: a name the naming rule refuses (MLS401) or one repeated exactly (MLS313)
            # is not reported again as a folder name.
            if REPORT.problem(report.name) is None and not repeated:
                message = f"report name {report.name!r}: {names[index]}"
                yield ctx.error("MLS664", message, ("reports", index, "name"))
            continue  # no folder to write its model into
        for problem in report_model(ctx.model, index, report).problems:
            report_at = ctx.error if problem.severity is Severity.ERROR else ctx.warning
            yield report_at(problem.code, problem.message, problem.path, problem.hint)
