"""The objects of a report's semantic model: tables, columns, measures, visual fields and problems.

Made by :func:`mlspec.spec_schema.report_model.report_model`; read by the check stage and by the Power
BI renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlspec.diagnostics import Severity, SpecPath
from mlspec.spec_schema.models import Report
from mlspec.spec_schema.report_relationships import Relationship

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
    """A ``BLANK()`` placeholder for a name the report does not declare (MLS663)."""
    data_type: str | None = None
    """The TMDL type of the value, where mlspec knows it (aggregate shorthands)."""
    shorthand: str | None = None
    """``sum(amount)``: the aggregate shorthand this measure was generated for."""


@dataclass
class Table:
    name: str
    columns: list[Column]
    open_columns: bool
    """Columns beyond the listed ones may exist (a visual may name one)."""
    measures: list[Measure] = field(default_factory=list)
    partition_columns: list[str] = field(default_factory=list)
    """``output.partition_by`` of a transform: in folder names (``col=value``) unless the format is delta."""
    _by_name: dict[str, Column] = field(default_factory=dict, repr=False, compare=False)

    def column(self, wanted: str) -> Column | None:
        """The column named ``wanted``, ignoring case (as Power BI does)."""
        return self._by_name.get(wanted.casefold())

    def add_column(self, column: Column) -> None:
        self.columns.append(column)
        self._by_name.setdefault(column.name.casefold(), column)

    def declare(self, name: str, data_type: str) -> Column:
        """Add a column an open table is not known to have (a visual or relationship names it)."""
        column = Column(name, data_type)
        self.add_column(column)
        return column


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
    relationships: list[Relationship] = field(default_factory=list)
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
