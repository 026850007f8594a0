"""The semantic model of one report: its tables, columns, measures and how visuals bind to them.

Binding a visual's fields (``measure``, ``x``, ``y``, ``columns``) to the model:

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

Each table's partition query is written last, from its final column list.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from mlspec.compiler.artifacts import RenderContext
from mlspec.compiler.powerbi import columns as cols
from mlspec.compiler.powerbi import mquery, tmdl
from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.spec_schema.checks.references import PREDICTIONS_TABLE
from mlspec.spec_schema.models import Report, Visual

_LINEAGE = uuid.UUID("6f1c1d0e-58a4-4c52-9a7e-6d6c7370656c")
PLACEHOLDER = "BLANK()"
NUMERIC = frozenset({"int64", "double"})


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
    reader: Callable[[list[tuple[str, str]]], str]
    """The partition query for a column list."""
    measures: list[Measure] = field(default_factory=list)
    query: str = ""

    def column(self, wanted: str) -> Column | None:
        return next((c for c in self.columns if c.name.casefold() == wanted.casefold()), None)


@dataclass(frozen=True)
class Field:
    """A visual field: ``kind`` is Measure, Column, or Aggregation (of a column; ``function`` per the
    semantic query schema: 0 sum, 5 count of non-blank values)."""

    kind: str
    table: str
    name: str
    function: int | None = None


@dataclass
class SemanticModel:
    report: Report
    tables: dict[str, Table]
    parameters: dict[str, str]
    bindings: dict[tuple[int, int], dict[str, list[Field]]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def measure(self, wanted: str) -> Measure | None:
        return next(
            (m for t in self.tables.values() for m in t.measures if m.name.casefold() == wanted.casefold()),
            None,
        )


def lineage_tag(*parts: str) -> str:
    """A stable lineage tag (Power BI tracks objects across renames by it)."""
    return str(uuid.uuid5(_LINEAGE, "\x00".join(parts)))


def build_model(ctx: RenderContext, index: int, report: Report) -> SemanticModel:
    base: SpecPath = ("reports", index)
    model = SemanticModel(report, {}, {})
    for t, table in enumerate(report.tables):
        built = _table(ctx, model, table, (*base, "tables", t))
        if built is not None:
            model.tables[table] = built
    for name, measure in report.measures.items():
        path = (*base, "measures", name)
        problems = [
            ("MLS662", "measure name", tmdl.single_line_problem(name), path),
            ("MLS665", "DAX expression", tmdl.expression_problem(measure.expression), (*path, "expression")),
        ]
        if measure.format is not None:
            problems.append(
                ("MLS666", "format string", tmdl.single_line_problem(measure.format), (*path, "format"))
            )
        bad = [(code, what, why, where) for code, what, why, where in problems if why is not None]
        for code, what, why, where in bad:
            model.diagnostics.append(
                ctx.error(code, f"{what} of measure {name!r} cannot go into TMDL: {why}", where)
            )
        if bad or measure.table not in model.tables:
            continue
        _add_measure(ctx, model, Measure(name, measure.table, measure.expression, measure.format), path)
    for p, page in enumerate(report.pages):
        for v, visual in enumerate(page.visuals):
            model.bindings[(p, v)] = _bind(ctx, model, visual, (*base, "pages", p, "visuals", v))
    for built in model.tables.values():
        built.query = built.reader([(c.name, c.data_type) for c in built.columns])
    return model


def _table(ctx: RenderContext, model: SemanticModel, name: str, path: SpecPath) -> Table | None:
    spec = ctx.model
    reader: Callable[[list[tuple[str, str]]], str]
    if name == PREDICTIONS_TABLE:
        deployment = spec.deployment
        if deployment is None or deployment.log_predictions is None:
            return None  # the spec check (MLS305) reports it
        found, _ = cols.prediction_columns(spec)
        url = deployment.log_predictions.path
        fixed = {c for c, _ in cols.PREDICTION_FIXED} | {"prediction"}

        def reader(columns: list[tuple[str, str]]) -> str:
            return mquery.predictions_query(url, columns, [c for c, _ in columns if c not in fixed])

        open_columns = True
    else:
        listed = cols.dataset_columns(spec, name)
        found = listed or []
        open_columns = listed is None
        if name in spec.sources:
            source = spec.sources[name]
            url, data_format = source.path, source.format
            header = str(source.options.get("header", "false")).lower() == "true"
            glob = source.glob or ""
            suffix = glob[1:] if glob.startswith("*.") and "*" not in glob[1:] else None
        elif name in spec.transforms:
            output = spec.transforms[name].output
            url, data_format, header, suffix = output.path, output.format, True, None
        else:
            return None  # unknown table: reported by the spec check (MLS305)

        def reader(columns: list[tuple[str, str]]) -> str:
            return mquery.table_query(url, data_format, columns, header=header, suffix=suffix)

    try:
        account, _ = mquery.split_url(url)
    except ValueError:
        return None  # an invalid lake URL: reported by the spec check (MLS412)
    model.parameters[mquery.lake_parameter(account)] = mquery.parameter_expression(account)
    table = Table(name, [], open_columns, reader)
    for column, data_type in found:
        _add_column(ctx, model, table, Column(column, data_type), path)
    return table


def _add_column(
    ctx: RenderContext, model: SemanticModel, table: Table, column: Column, path: SpecPath
) -> None:
    problem = tmdl.single_line_problem(column.name)
    if problem is not None:
        model.diagnostics.append(
            ctx.error(
                "MLS662",
                f"column name {column.name!r} of table {table.name!r} cannot go into TMDL: {problem}",
                path,
            )
        )
    elif table.column(column.name) is not None:
        model.diagnostics.append(
            ctx.error(
                "MLS661",
                f"table {table.name!r} has two columns named {column.name!r} (names ignore case)",
                path,
            )
        )
    else:
        table.columns.append(column)


def _add_measure(ctx: RenderContext, model: SemanticModel, measure: Measure, path: SpecPath) -> None:
    table = model.tables[measure.table]
    clash = model.measure(measure.name)
    if clash is not None:
        message = (
            f"measure {measure.name!r} is declared twice (measure names are unique in a model, ignoring case)"
        )
        model.diagnostics.append(ctx.error("MLS661", message, path))
    elif table.column(measure.name) is not None:
        message = f"measure {measure.name!r} has the name of a column of table {measure.table!r}"
        model.diagnostics.append(ctx.error("MLS661", message, path, "rename the measure"))
    else:
        table.measures.append(measure)


def _bind(ctx: RenderContext, model: SemanticModel, visual: Visual, path: SpecPath) -> dict[str, list[Field]]:
    table_name = visual.table or model.report.tables[0]
    table = model.tables.get(table_name)
    if table is None:
        return {}
    bound: dict[str, list[Field]] = {}
    if visual.measure is not None:
        bound["measure"] = [_value(ctx, model, table, visual.measure, (*path, "measure"))]
    if visual.y is not None:
        bound["y"] = [_value(ctx, model, table, visual.y, (*path, "y"))]
    if visual.x is not None:
        found = _category(ctx, model, table, visual.x, (*path, "x"))
        bound["x"] = [found] if found else []
    if visual.columns:
        found_columns = [
            _category(ctx, model, table, c, (*path, "columns", i)) for i, c in enumerate(visual.columns)
        ]
        bound["columns"] = [f for f in found_columns if f is not None]
    return bound


def _value(ctx: RenderContext, model: SemanticModel, table: Table, name: str, path: SpecPath) -> Field:
    measure = model.measure(name)
    if measure is not None:
        return Field("Measure", measure.table, measure.name)
    column = table.column(name)
    if column is not None:
        return Field("Aggregation", table.name, column.name, 0 if column.data_type in NUMERIC else 5)
    problem = tmdl.single_line_problem(name)
    if problem is not None:
        model.diagnostics.append(
            ctx.error("MLS662", f"measure name {name!r} cannot go into TMDL: {problem}", path)
        )
        return Field("Measure", table.name, name)
    report_path = path[:2]
    model.diagnostics.append(
        Diagnostic.warning(
            "MLS663",
            f"{name!r} is neither a measure of this report nor a column of {table.name!r}; "
            "a placeholder measure (BLANK()) stands in for it",
            path,
            ctx.spec.locate(path),
            f"declare it under reports[{report_path[1]}].measures: "
            f"{{{name}: {{table: {table.name}, expression: <DAX>}}}}",
        )
    )
    table.measures.append(Measure(name, table.name, PLACEHOLDER, generated=True))
    return Field("Measure", table.name, name)


def _category(
    ctx: RenderContext, model: SemanticModel, table: Table, name: str, path: SpecPath
) -> Field | None:
    column = table.column(name)
    if column is not None:
        return Field("Column", table.name, column.name)
    problem = tmdl.single_line_problem(name)
    if problem is not None:
        model.diagnostics.append(
            ctx.error("MLS662", f"column name {name!r} cannot go into TMDL: {problem}", path)
        )
        return None
    if table.open_columns:
        hint = (
            "the predictions log holds the features, the prediction and what the scoring server adds"
            if table.name == PREDICTIONS_TABLE
            else "declare the table's schema (sources.<x>.schema or transforms.<x>.output.schema)"
        )
        model.diagnostics.append(
            Diagnostic.warning(
                "MLS667",
                f"{name!r} is not a known column of {table.name!r}; it is declared as a text column",
                path,
                ctx.spec.locate(path),
                hint,
            )
        )
        table.columns.append(Column(name, "string"))
        return Field("Column", table.name, name)
    known = ", ".join(c.name for c in table.columns)
    model.diagnostics.append(
        ctx.error("MLS660", f"{name!r} is not a column of {table.name!r}", path, f"its columns: {known}")
    )
    return None
