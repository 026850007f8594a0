"""Binding a visual's fields (``measure``, ``y``, ``x``, ``columns``) to the report's columns and measures.

The rules are described in :mod:`mlspec.spec_schema.report_model`: columns are looked up in the
visual's table, then in the report's other tables (MLS669 when several have the name), ``table.column``
names one; values are declared measures, aggregate shorthands (:mod:`.report_aggregates`), columns
shown aggregated, or ``BLANK()`` placeholders with a warning (MLS663).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from mlspec.diagnostics import SpecPath
from mlspec.spec_schema import report_aggregates as aggregates
from mlspec.spec_schema.models import Visual
from mlspec.spec_schema.report_columns import PREDICTIONS_TABLE
from mlspec.spec_schema.report_parts import NUMERIC, PLACEHOLDER, Column, Field, Measure, ReportModel, Table
from mlspec.spec_schema.tmdl_text import single_line_problem


def bind_visual(model: ReportModel, visual: Visual, path: SpecPath) -> dict[str, list[Field]]:
    home = model.tables.get(visual.table or model.report.tables[0])
    if home is None:
        return {}
    bound: dict[str, list[Field]] = {}
    for role in ("measure", "y"):
        written = getattr(visual, role)
        if written is not None:
            value = _value(model, home, written, (*path, role))
            bound[role] = [value] if value else []
    if visual.x is not None:
        found = _category(model, home, visual.x, (*path, "x"))
        bound["x"] = [found] if found else []
    if visual.columns:
        found_columns = [
            _category(model, home, c, (*path, "columns", i)) for i, c in enumerate(visual.columns)
        ]
        bound["columns"] = [f for f in found_columns if f is not None]
    return bound


@dataclass(frozen=True)
class _Lookup:
    """Where a column a visual names is: ``found``, or the table it was looked for in (``table``, only
    for ``table.column``) and its bare ``name``; ``refused`` when an error has been reported."""

    found: tuple[Table, Column] | None = None
    table: Table | None = None
    name: str = ""
    refused: bool = False
    elsewhere: tuple[str, ...] = ()
    """``table.column`` in the report's other tables, when the visual's own table is open."""


def _lookup(model: ReportModel, home: Table, written: str, path: SpecPath) -> _Lookup:
    table_name, dot, column_name = written.partition(".")
    if dot and column_name:
        named = _table_named(model, table_name)
        if named is not None:
            column = named.column(column_name)
            return _Lookup((named, column) if column else None, named, column_name)
        if table_name in model.report.tables:
            return _Lookup(refused=True)  # a listed table left out of the model: MLS305
    column = home.column(written)
    if column is not None:
        return _Lookup((home, column), name=written)
    others = [(t, c) for t in model.tables.values() if t is not home for c in [t.column(written)] if c]
    if home.open_columns:
        # The visual's table may hold any column: the name is its own (MLS667), not a guess elsewhere.
        return _Lookup(name=written, elsewhere=tuple(f"{t.name}.{c.name}" for t, c in others))
    if len(others) == 1:
        return _Lookup(others[0], name=written)
    if len(others) > 1:
        names = [t.name for t, _ in others]
        model.error(
            "MLS669",
            f"{written!r} is a column of several tables of report {model.report.name!r}: "
            + ", ".join(repr(n) for n in names),
            path,
            "write table.column: "
            + " or ".join(f"{n}.{c.name}" for n, (_, c) in zip(names, others, strict=True)),
        )
        return _Lookup(refused=True)
    return _Lookup(name=written)


def _table_named(model: ReportModel, name: str) -> Table | None:
    found = model.tables.get(name)
    if found is None:
        found = next((t for t in model.tables.values() if t.name.casefold() == name.casefold()), None)
    return found


def _value(model: ReportModel, home: Table, name: str, path: SpecPath) -> Field | None:
    measure = model.measure(name)
    if measure is not None:
        return Field("Measure", measure.table, measure.name)
    shorthand = aggregates.parse(name)
    if shorthand is not None:
        return _shorthand(model, home, shorthand, path)
    problem = single_line_problem(name)
    if problem is not None:
        model.error("MLS662", f"measure name {name!r} cannot go into TMDL: {problem}", path)
        return None
    looked = _lookup(model, home, name, path)
    if looked.refused:
        return None
    if looked.found is None and looked.table is not None:  # table.column, no such column
        looked = _Lookup(_missing_column(model, looked.table, looked.name, path))
        if looked.found is None:
            return None
    if looked.found is not None:
        table, column = looked.found
        return Field("Aggregation", table.name, column.name, 0 if column.data_type in NUMERIC else 5)
    if name.casefold() in model.refused:
        return None  # its declaration is an error already
    model.warning(
        "MLS663",
        f"{name!r} is neither a measure of this report nor a column of {home.name!r}; "
        "a placeholder measure (BLANK()) stands in for it",
        path,
        f"declare it under reports[{model.report.name!r}].measures: {{{name}: {{table: {home.name}, expression: <DAX>}}}}",
    )
    home.measures.append(Measure(name, home.name, PLACEHOLDER, generated=True))
    return Field("Measure", home.name, name)


def _shorthand(
    model: ReportModel, home: Table, written: aggregates.Shorthand, path: SpecPath
) -> Field | None:
    if not written.known:
        close = difflib.get_close_matches(written.function, aggregates.FUNCTIONS, n=1, cutoff=0.6)
        model.error(
            "MLS671",
            f"{written.text} is no aggregate: mlspec knows {', '.join(aggregates.FUNCTIONS)}",
            path,
            f"did you mean {close[0]}({written.argument})?" if close else "or declare a measure of that name",
        )
        return None
    looked = _lookup(model, home, written.argument, path)
    if looked.refused:
        return None
    found = looked.found or _missing_column(
        model, looked.table or home, looked.name, path, written.text, looked.elsewhere
    )
    if found is None:
        return None
    table, column = found
    problem = aggregates.type_problem(written.function, column.data_type)
    if problem is not None:
        model.error(
            "MLS671",
            f"{written.text}: {column.name!r} of {table.name!r} is {aggregates.type_name(column.data_type)}; "
            f"{problem}",
            path,
            "aggregate a numeric column, or use count or distinct_count",
        )
        return None
    shared = sum(1 for t in model.tables.values() if t.column(column.name) is not None) > 1
    name = aggregates.measure_name(written.function, column.name, table.name if shared else None)
    canonical = f"{written.function}({table.name + '.' if shared else ''}{column.name})"
    existing = model.measure(name)
    if existing is not None and existing.shorthand == canonical:
        return Field("Measure", existing.table, existing.name)
    if existing is not None or table.column(name) is not None:
        what = "measure" if existing is not None else f"column of {table.name!r}"
        model.error(
            "MLS661",
            f"{written.text} is rendered as measure {name!r}, which is the name of a {what}",
            path,
            "rename the declared measure or column",
        )
        return None
    data_type = aggregates.result_type(written.function, column.data_type)
    expression = aggregates.dax(written.function, table.name, column.name, column.data_type)
    format_string = aggregates.format_string(data_type)
    table.measures.append(
        Measure(name, table.name, expression, format_string, data_type=data_type, shorthand=canonical)
    )
    return Field("Measure", table.name, name)


def _missing_column(
    model: ReportModel,
    table: Table,
    name: str,
    path: SpecPath,
    written: str | None = None,
    elsewhere: tuple[str, ...] = (),
) -> tuple[Table, Column] | None:
    """A column ``name`` that ``table`` is not known to have: declared as text on an open table
    (MLS667), else an error (MLS660)."""
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
        if elsewhere:
            hint += f"; for the column of another table write {' or '.join(elsewhere)}"
        message = f"{name!r} is not a known column of {table.name!r}; it is declared as a text column"
        model.warning("MLS667", message, path, hint)
        return table, table.declare(name, "string")
    others = [t.name for t in model.tables.values() if t is not table]
    message = f"{name!r} is not a column of {table.name!r}"
    if others and "." not in (written or name):
        message += f" nor of the report's other tables ({', '.join(others)})"
    if written is not None:
        message = f"{written}: {message}"
    known = ", ".join(c.name for c in table.columns)
    model.error("MLS660", message, path, f"its columns: {known}")
    return None


def _category(model: ReportModel, home: Table, name: str, path: SpecPath) -> Field | None:
    problem = single_line_problem(name)
    if problem is not None:
        model.error("MLS662", f"column name {name!r} cannot go into TMDL: {problem}", path)
        return None
    looked = _lookup(model, home, name, path)
    if looked.refused:
        return None
    if looked.found is None and aggregates.parse(name) is not None:
        model.error(
            "MLS671",
            f"{name} is an aggregate: a category axis or a table's columns show columns",
            path,
            "put it in the visual's measure or y",
        )
        return None
    found = looked.found or _missing_column(
        model, looked.table or home, looked.name, path, None, looked.elsewhere
    )
    if found is None:
        return None
    table, column = found
    return Field("Column", table.name, column.name)
