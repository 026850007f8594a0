"""The semantic model of one report as the spec decides it: tables, columns, measures, relationships and
visual fields.

The check stage (:mod:`mlspec.spec_schema.checks.reports`) reports :attr:`ReportModel.problems` at
the spec's lines; the Power BI renderer (:mod:`mlspec.compiler.powerbi.model`) writes the TMDL and
the visuals from the same model, so what validate accepts is what build renders.

Columns and their types come from :mod:`.report_columns`; a transform's ``partition_by`` columns are
columns of its table even where the files do not hold them (partitioned Parquet, CSV and JSON keep
them in folder names). Relationships between the tables are :mod:`.report_relationships`; the
objects of the model :mod:`.report_parts`; binding the visuals' fields, as below, :mod:`.report_fields`.

A column named in a visual (``x``, ``columns``, an aggregate's argument, a column in ``measure``/``y``)
is looked up in the visual's table (``visual.table``, else the report's first table), then in the
report's other tables: found in exactly one, it is that table's; found in several, it is an error
asking for ``table.column`` (MLS669). ``table.column`` names the table itself.

Binding a visual's value (``measure``, ``y``):

- a name declared in ``report.measures`` is that measure (on its table);
- an aggregate shorthand, ``sum(amount)`` or ``avg(orders.amount)``, is a generated measure of the
  column's table (:mod:`.report_aggregates`, MLS671 for what DAX refuses);
- a column is shown aggregated (sum of a number, count of anything else);
- a name that is none of these gets a generated placeholder measure of that name on the visual's
  table, ``BLANK()`` with a description saying so, and a warning at the visual's field (MLS663): the
  report opens and shows where the definition is missing, instead of failing to build for a metric
  someone has yet to write in DAX. A name written as a call (``total(amount)``) is never a
  placeholder: an unknown function is an error (MLS671).

An ``x``/``columns`` name that is not a column is an error (MLS660) -- unless the table's columns are
not all known (no declared schema; the served predictions log, whose records hold whatever the
scoring server logs beyond features and prediction), in which case it is declared as a text column
with a warning (MLS667).

Other problems: MLS661 names that clash, MLS662 a name TMDL cannot hold, MLS664 a report name that
is no safe folder name, MLS665 a DAX expression and MLS666 a format string TMDL cannot hold, MLS670 a
declared relationship Power BI cannot hold.
"""

from __future__ import annotations

import re

from mlspec.diagnostics import SpecPath
from mlspec.spec_schema import report_columns as cols
from mlspec.spec_schema.models import MLProject, Report
from mlspec.spec_schema.report_columns import PREDICTIONS_TABLE
from mlspec.spec_schema.report_fields import bind_visual
from mlspec.spec_schema.report_parts import (
    NUMERIC,
    PLACEHOLDER,
    Column,
    Field,
    Measure,
    ReportModel,
    ReportProblem,
    Table,
)
from mlspec.spec_schema.report_relationships import relationships
from mlspec.spec_schema.tmdl_text import expression_problem, single_line_problem

__all__ = [
    "NUMERIC",
    "PLACEHOLDER",
    "Column",
    "Field",
    "Measure",
    "ReportModel",
    "ReportProblem",
    "Table",
    "folder_name_problem",
    "report_model",
    "report_name_problems",
]

SAFE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 _-]{0,62}[A-Za-z0-9_-])?")
"""Report names become folder and file names: letters, digits, space, ``_`` and ``-``; no dots, no
separators, no leading/trailing space (Windows drops those)."""
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
)


def folder_name_problem(name: str) -> str | None:
    """Why report ``name`` cannot be a folder and file name, or ``None``."""
    if not SAFE_NAME.fullmatch(name):
        return (
            "report names become folder names: 1-64 letters, digits, spaces, '_' or '-', "
            "starting and ending with a letter or digit"
        )
    if name.lower() in _RESERVED:
        return f"{name!r} is a reserved device name on Windows"
    return None


def report_name_problems(spec: MLProject) -> dict[int, str]:
    """MLS664 by report index: a name that is no safe folder name, or whose folder another report has."""
    found: dict[int, str] = {}
    taken: set[str] = set()
    for index, report in enumerate(spec.reports):
        problem = folder_name_problem(report.name)
        key = report.name.replace(" ", "_").casefold()  # the folder and the address powerbi.report.<name>
        if problem is None and key in taken:
            problem = (
                "another report has the same folder name (names differing only in case or ' '/'_' clash)"
            )
        taken.add(key)
        if problem is not None:
            found[index] = problem
    return found


def report_model(spec: MLProject, index: int, report: Report) -> ReportModel:
    """The model of ``spec.reports[index]``; tables the spec checks refuse (MLS305) are left out."""
    base: SpecPath = ("reports", index)
    model = ReportModel(report)
    known: dict[str, cols.SparkColumns | None] = {}
    for t, table in enumerate(report.tables):
        built = _table(spec, model, table, (*base, "tables", t), known)
        if built is not None:
            model.tables[table] = built
    for name, measure in report.measures.items():
        path = (*base, "measures", name)
        problems = [
            ("MLS662", "measure name", single_line_problem(name), path),
            ("MLS665", "DAX expression", expression_problem(measure.expression), (*path, "expression")),
        ]
        if measure.format is not None:
            problems.append(
                ("MLS666", "format string", single_line_problem(measure.format), (*path, "format"))
            )
        bad = [(code, what, why, where) for code, what, why, where in problems if why is not None]
        for code, what, why, where in bad:
            model.error(code, f"{what} of measure {name!r} cannot go into TMDL: {why}", where)
        if bad or measure.table not in model.tables:  # the table: MLS305 (check_references)
            model.refused.add(name.casefold())
            continue
        _add_measure(model, Measure(name, measure.table, measure.expression, measure.format), path)
    model.relationships = relationships(
        spec,
        report,
        base,
        model.tables,
        model.error,
    )
    for p, page in enumerate(report.pages):
        for v, visual in enumerate(page.visuals):
            model.bindings[(p, v)] = bind_visual(model, visual, (*base, "pages", p, "visuals", v))
    return model


def _table(
    spec: MLProject, model: ReportModel, name: str, path: SpecPath, known: dict[str, cols.SparkColumns | None]
) -> Table | None:
    if name == PREDICTIONS_TABLE:
        if spec.deployment is None or spec.deployment.log_predictions is None:
            return None  # the spec check (MLS305) reports it
        found, _ = cols.prediction_columns(spec, known)
        open_columns = True
    elif name in spec.sources or name in spec.transforms:
        listed = cols.dataset_columns(spec, name, known)
        found = listed or []
        open_columns = listed is None
    else:
        return None  # unknown table: reported by the spec check (MLS305)
    table = Table(name, [], open_columns)
    for column, data_type in found:
        _add_column(model, table, Column(column, data_type), path)
    if name in spec.transforms:
        for column in spec.transforms[name].output.partition_by:
            partition = table.column(column)
            if partition is None and open_columns and single_line_problem(column) is None:
                partition = table.declare(column, "string")  # in the folder names; type unknown
            if partition is not None:  # else not produced by the transform: MLS308 (check_columns)
                table.partition_columns.append(partition.name)
    return table


def _add_column(model: ReportModel, table: Table, column: Column, path: SpecPath) -> None:
    problem = single_line_problem(column.name)
    if problem is not None:
        message = f"column name {column.name!r} of table {table.name!r} cannot go into TMDL: {problem}"
        model.error("MLS662", message, path)
    elif table.column(column.name) is not None:
        message = f"table {table.name!r} has two columns named {column.name!r} (names ignore case)"
        model.error("MLS661", message, path)
    else:
        table.add_column(column)


def _add_measure(model: ReportModel, measure: Measure, path: SpecPath) -> None:
    table = model.tables[measure.table]
    if model.measure(measure.name) is not None:
        message = (
            f"measure {measure.name!r} is declared twice (measure names are unique in a model, ignoring case)"
        )
        model.error("MLS661", message, path)
    elif table.column(measure.name) is not None:
        message = f"measure {measure.name!r} has the name of a column of table {measure.table!r}"
        model.error("MLS661", message, path, "rename the measure")
    else:
        table.measures.append(measure)
