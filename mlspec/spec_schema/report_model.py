"""The semantic model of one report as the spec decides it: tables, columns, measures, visual fields.

The check stage (:mod:`mlspec.spec_schema.checks.reports`) reports :attr:`ReportModel.problems` at
the spec's lines; the Power BI renderer (:mod:`mlspec.compiler.powerbi.model`) writes the TMDL and
the visuals from the same model, so what validate accepts is what build renders.

Columns and their types come from :mod:`.report_columns`. Binding a visual's fields (``measure``,
``x``, ``y``, ``columns``):

- a name declared in ``report.measures`` is that measure (on its table);
- otherwise a column of the visual's table (``visual.table``, else the report's first table);
  ``measure`` and ``y`` then show it aggregated (sum of a number, count of anything else);
- a ``measure``/``y`` name that is neither gets a generated placeholder measure of that name on the
  visual's table, ``BLANK()`` with a description saying so, and a warning (MLS663): the report opens
  and shows where the definition is missing, instead of failing to build for a metric someone has yet
  to write in DAX;
- an ``x``/``columns`` name that is not a column is an error (MLS660) -- unless the table's columns
  are not all known (no declared schema; the served predictions log, whose records hold whatever the
  scoring server logs beyond features and prediction), in which case it is declared as a text
  column with a warning (MLS667).

Other problems: MLS661 names that clash, MLS662 a name TMDL cannot hold, MLS664 a report name that
is no safe folder name, MLS665 a DAX expression and MLS666 a format string TMDL cannot hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlspec.diagnostics import Severity, SpecPath
from mlspec.spec_schema import report_columns as cols
from mlspec.spec_schema.models import MLProject, Report, Visual
from mlspec.spec_schema.report_columns import PREDICTIONS_TABLE
from mlspec.spec_schema.tmdl_text import expression_problem, single_line_problem

PLACEHOLDER = "BLANK()"
NUMERIC = frozenset({"int64", "double"})

SAFE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 _-]{0,62}[A-Za-z0-9_-])?")
"""Report names become folder and file names: letters, digits, space, ``_`` and ``-``; no dots, no
separators, no leading/trailing space (Windows drops those)."""
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
)


@dataclass
class Column:
    name: str
    data_type: str


@dataclass
class Measure:
    name: str
    table: str
    expression: str
    format: str | None = None
    generated: bool = False


@dataclass
class Table:
    name: str
    columns: list[Column]
    open_columns: bool
    """Columns beyond the listed ones may exist (a visual may name one)."""
    measures: list[Measure] = field(default_factory=list)
    _by_name: dict[str, Column] = field(default_factory=dict, repr=False, compare=False)

    def column(self, wanted: str) -> Column | None:
        """The column named ``wanted``, ignoring case (as Power BI does)."""
        return self._by_name.get(wanted.casefold())

    def add_column(self, column: Column) -> None:
        self.columns.append(column)
        self._by_name.setdefault(column.name.casefold(), column)


@dataclass(frozen=True)
class Field:
    """A visual field: ``kind`` is Measure, Column, or Aggregation (of a column; ``function`` per the
    semantic query schema: 0 sum, 5 count of non-blank values)."""

    kind: str
    table: str
    name: str
    function: int | None = None


@dataclass(frozen=True)
class ReportProblem:
    code: str
    severity: Severity
    message: str
    path: SpecPath
    hint: str | None = None


@dataclass
class ReportModel:
    report: Report
    tables: dict[str, Table] = field(default_factory=dict)
    bindings: dict[tuple[int, int], dict[str, list[Field]]] = field(default_factory=dict)
    """``(page, visual)`` → role (``measure``, ``x``, ``y``, ``columns``) → the fields bound to it."""
    problems: list[ReportProblem] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    """Declared measures left out of the model for an error of their own (casefolded names): a visual
    naming one gets no placeholder warning on top of that error."""

    def measure(self, wanted: str) -> Measure | None:
        return next(
            (m for t in self.tables.values() for m in t.measures if m.name.casefold() == wanted.casefold()),
            None,
        )

    def error(self, code: str, message: str, path: SpecPath, hint: str | None = None) -> None:
        self.problems.append(ReportProblem(code, Severity.ERROR, message, path, hint))

    def warning(self, code: str, message: str, path: SpecPath, hint: str | None = None) -> None:
        self.problems.append(ReportProblem(code, Severity.WARNING, message, path, hint))


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
    for p, page in enumerate(report.pages):
        for v, visual in enumerate(page.visuals):
            model.bindings[(p, v)] = _bind(model, visual, (*base, "pages", p, "visuals", v))
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


def _bind(model: ReportModel, visual: Visual, path: SpecPath) -> dict[str, list[Field]]:
    table = model.tables.get(visual.table or model.report.tables[0])
    if table is None:
        return {}
    bound: dict[str, list[Field]] = {}
    if visual.measure is not None:
        bound["measure"] = [_value(model, table, visual.measure, (*path, "measure"))]
    if visual.y is not None:
        bound["y"] = [_value(model, table, visual.y, (*path, "y"))]
    if visual.x is not None:
        found = _category(model, table, visual.x, (*path, "x"))
        bound["x"] = [found] if found else []
    if visual.columns:
        found_columns = [
            _category(model, table, c, (*path, "columns", i)) for i, c in enumerate(visual.columns)
        ]
        bound["columns"] = [f for f in found_columns if f is not None]
    return bound


def _value(model: ReportModel, table: Table, name: str, path: SpecPath) -> Field:
    measure = model.measure(name)
    if measure is not None:
        return Field("Measure", measure.table, measure.name)
    column = table.column(name)
    if column is not None:
        return Field("Aggregation", table.name, column.name, 0 if column.data_type in NUMERIC else 5)
    problem = single_line_problem(name)
    if problem is not None:
        model.error("MLS662", f"measure name {name!r} cannot go into TMDL: {problem}", path)
        return Field("Measure", table.name, name)
    if name.casefold() in model.refused:
        return Field("Measure", table.name, name)  # its declaration is an error already
    model.warning(
        "MLS663",
        f"{name!r} is neither a measure of this report nor a column of {table.name!r}; "
        "a placeholder measure (BLANK()) stands in for it",
        path,
        f"declare it under reports[{path[1]}].measures: {{{name}: {{table: {table.name}, expression: <DAX>}}}}",
    )
    table.measures.append(Measure(name, table.name, PLACEHOLDER, generated=True))
    return Field("Measure", table.name, name)


def _category(model: ReportModel, table: Table, name: str, path: SpecPath) -> Field | None:
    column = table.column(name)
    if column is not None:
        return Field("Column", table.name, column.name)
    problem = single_line_problem(name)
    if problem is not None:
        model.error("MLS662", f"column name {name!r} cannot go into TMDL: {problem}", path)
        return None
    if table.open_columns:
        hint = (
            "the predictions log holds the features, the prediction and what the scoring server adds"
            if table.name == PREDICTIONS_TABLE
            else "declare the table's schema (sources.<x>.schema or transforms.<x>.output.schema)"
        )
        message = f"{name!r} is not a known column of {table.name!r}; it is declared as a text column"
        model.warning("MLS667", message, path, hint)
        table.add_column(Column(name, "string"))
        return Field("Column", table.name, name)
    known = ", ".join(c.name for c in table.columns)
    model.error("MLS660", f"{name!r} is not a column of {table.name!r}", path, f"its columns: {known}")
    return None
