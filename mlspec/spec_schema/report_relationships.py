"""Relationships between a report's tables: declared in the spec, or inferred from a shared key column.

A relationship joins many rows of its ``from`` table to one row of its ``to`` table on one column
each (Power BI's default, many-to-one, filtering from the one side to the many side); when both
columns are known keys it is one-to-one and filters both ways, as Power BI makes every one-to-one
relationship.

A **key** is what the spec says is unique in a table: a transform's single-column ``unique``
expectation, or its single ``merge_keys`` column when it writes with ``mode: merge``. Sources and
the predictions log declare none. Partition columns are never keys (they repeat by design).

**Declared** (``reports[].relationships: [{from: table.column, to: table.column}]``): both ends name a
table of the report (MLS670) and a column of it (MLS660; on a table whose columns are open, such as
the predictions log, the column is declared with the type of the other end), of the same data type,
two different tables (MLS670). A pair of tables is related once, and the relationships form no loop:
Power BI filters along one path between two tables and would deactivate one of them (MLS670).

**Inferred**, conservatively, for each pair of the report's tables in the order listed, after the
declared ones: exactly one column name (ignoring case) that both tables have, of the same type, that
is a key in at least one of them; the table where it is a key is the ``to`` side (a key in both:
one-to-one, from the first-listed table to the other). A pair already related, or one that would close a loop, is left
unrelated: declare the relationship you want instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlspec.diagnostics import SpecPath
from mlspec.spec_schema.models import MLProject, Report

if TYPE_CHECKING:
    from mlspec.spec_schema.report_parts import Column, Table


@dataclass(frozen=True)
class Relationship:
    from_table: str
    from_column: str
    to_table: str
    to_column: str
    one_to_one: bool
    declared: bool


Problem = Callable[[str, str, SpecPath, str | None], None]
"""Reports an error: ``(code, message, spec path, hint)``."""


def keys(spec: MLProject, table: str) -> set[str]:
    """The casefolded names of the columns the spec says are unique in ``table``."""
    transform = spec.transforms.get(table)
    if transform is None:
        return set()
    found: set[str] = set()
    for expectation in transform.expectations:
        unique = expectation.unique
        columns = [unique] if isinstance(unique, str) else list(unique or [])
        if len(columns) == 1:
            found.add(columns[0].casefold())
    output = transform.output
    if output.mode == "merge" and len(output.merge_keys) == 1:
        found.add(output.merge_keys[0].casefold())
    return found - {c.casefold() for c in output.partition_by}


class _Graph:
    """The tables related so far, to find the path a new relationship would close into a loop."""

    def __init__(self) -> None:
        self.edges: dict[str, set[str]] = {}
        self.pairs: set[frozenset[str]] = set()

    def add(self, a: str, b: str) -> None:
        self.edges.setdefault(a, set()).add(b)
        self.edges.setdefault(b, set()).add(a)
        self.pairs.add(frozenset((a, b)))

    def path(self, start: str, goal: str) -> list[str] | None:
        """Tables from ``start`` to ``goal`` along the relationships, or ``None``."""
        previous: dict[str, str | None] = {start: None}
        queue = [start]
        while queue:
            here = queue.pop(0)
            if here == goal:
                path: list[str] = []
                step: str | None = here
                while step is not None:
                    path.append(step)
                    step = previous[step]
                return path[::-1]
            for there in sorted(self.edges.get(here, ())):
                if there not in previous:
                    previous[there] = here
                    queue.append(there)
        return None


def relationships(
    spec: MLProject,
    report: Report,
    base: SpecPath,
    tables: dict[str, Table],
    problem: Problem,
) -> list[Relationship]:
    """The report's relationships, declared first, then inferred; problems of declared ones reported."""
    graph = _Graph()
    found: list[Relationship] = []
    table_keys = {name: keys(spec, name) for name in tables}
    for index, declared in enumerate(report.relationships):
        path = (*base, "relationships", index)
        made = _declared(declared.from_, declared.to, path, report, tables, table_keys, problem)
        if made is None:
            continue
        label = f"relationship {made.from_table}.{made.from_column} → {made.to_table}.{made.to_column}"
        if frozenset((made.from_table, made.to_table)) in graph.pairs:
            problem(
                "MLS670",
                f"{label}: tables {made.from_table!r} and {made.to_table!r} are already related",
                path,
                "two tables are related once: remove one of the relationships",
            )
            continue
        loop = graph.path(made.from_table, made.to_table)
        if loop is not None:
            problem(
                "MLS670",
                f"{label} closes a loop between tables {_listing(loop)}",
                path,
                "Power BI filters along one path between two tables: remove one of the relationships",
            )
            continue
        graph.add(made.from_table, made.to_table)
        found.append(made)
    names = list(tables)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            made = _inferred(tables[first], tables[second], table_keys)
            if made is None or frozenset((first, second)) in graph.pairs:
                continue
            if graph.path(first, second) is not None:
                continue  # a loop: left out (documented), declare the relationship wanted instead
            graph.add(first, second)
            found.append(made)
    return found


def _listing(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


def _declared(
    written_from: str,
    written_to: str,
    path: SpecPath,
    report: Report,
    tables: dict[str, Table],
    table_keys: dict[str, set[str]],
    problem: Problem,
) -> Relationship | None:
    ends = [_end(written_from, (*path, "from"), report, tables, problem)]
    ends.append(_end(written_to, (*path, "to"), report, tables, problem))
    from_end, to_end = ends
    if from_end is None or to_end is None:
        return None
    (from_table, from_name, from_column), (to_table, to_name, to_column) = from_end, to_end
    if from_table is to_table:
        problem("MLS670", f"relationship {written_from} → {written_to} joins a table to itself", path, None)
        return None
    if from_column is None and to_column is None:
        problem(
            "MLS660",
            f"relationship {written_from} → {written_to}: neither column is a known column of its table",
            path,
            "declare the tables' schemas (sources.<x>.schema or transforms.<x>.output.schema)",
        )
        return None
    # On an open table a declared end is a column of it, of the type the other end has.
    if from_column is None:
        assert to_column is not None
        from_column = from_table.declare(from_name, to_column.data_type)
    if to_column is None:
        to_column = to_table.declare(to_name, from_column.data_type)
    if from_column.data_type != to_column.data_type:
        problem(
            "MLS670",
            f"relationship {written_from} → {written_to} joins a {from_column.data_type} column to a "
            f"{to_column.data_type} column",
            path,
            "Power BI relates columns of one data type: cast one of them in its transform",
        )
        return None
    one_to_one = (
        from_column.name.casefold() in table_keys[from_table.name]
        and to_column.name.casefold() in table_keys[to_table.name]
    )
    return Relationship(
        from_table.name, from_column.name, to_table.name, to_column.name, one_to_one, declared=True
    )


def _end(
    written: str, path: SpecPath, report: Report, tables: dict[str, Table], problem: Problem
) -> tuple[Table, str, Column | None] | None:
    """``(table, column name, column or None when the table's columns are open)`` of one end."""
    table_name, dot, column_name = written.partition(".")
    if not dot or not table_name or not column_name:
        problem(
            "MLS670",
            f"relationship end {written!r} is not written as table.column",
            path,
            "e.g. customer_features.customer_id",
        )
        return None
    table = tables.get(table_name)
    if table is None:
        if table_name not in report.tables:
            problem(
                "MLS670",
                f"relationship end {written!r}: {table_name!r} is not a table of report {report.name!r}",
                path,
                f"the report's tables: {', '.join(report.tables)}",
            )
        return None  # a listed table left out of the model has an error of its own (MLS305)
    column = table.column(column_name)
    if column is None and not table.open_columns:
        problem(
            "MLS660",
            f"relationship end {written!r}: {column_name!r} is not a column of {table.name!r}",
            path,
            f"its columns: {', '.join(c.name for c in table.columns)}",
        )
        return None
    return table, column.name if column else column_name, column


def _inferred(first: Table, second: Table, table_keys: dict[str, set[str]]) -> Relationship | None:
    candidates = [
        (one, other)
        for one, other in _shared(first.columns, second)
        if one.data_type == other.data_type
        and (
            one.name.casefold() in table_keys[first.name] or other.name.casefold() in table_keys[second.name]
        )
    ]
    if len(candidates) != 1:
        return None
    (one, other) = candidates[0]
    first_key = one.name.casefold() in table_keys[first.name]
    second_key = other.name.casefold() in table_keys[second.name]
    if first_key and not second_key:
        return Relationship(second.name, other.name, first.name, one.name, False, declared=False)
    return Relationship(first.name, one.name, second.name, other.name, first_key and second_key, False)


def _shared(columns: Iterable[Column], table: Table) -> list[tuple[Column, Column]]:
    found = []
    for column in columns:
        other = table.column(column.name)
        if other is not None:
            found.append((column, other))
    return found
