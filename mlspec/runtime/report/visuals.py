"""The spec's report visuals over local tables: what each Power BI visual would show, as HTML.

A visual reads one table (its ``table``, else the report's first). Its value field (``measure``,
else ``y``) is a measure of the report or a column with Power BI's default aggregation (the sum of a
number, the count of anything else). ``card`` shows that value over the whole table, formatted
with the measure's format string; ``bar``/``column``/``line``/``pie`` group the table by ``x`` and
evaluate the value per group (the group is the filter context); ``scatter`` plots ``x`` against
``y`` row by row when ``y`` is a column, else the value per ``x``; ``table`` lists the first rows
of its ``columns``.

The axis of a grouped visual is ordered by value when ``x`` is a number or a date/time (text that
reads as ISO dates, and ``datetime.date``/``Decimal`` values as Parquet gives them, count as such),
else a bar or column chart is ordered by its value, largest first. A numeric ``x`` with more than
``MAX_DISTINCT_NUMBERS`` distinct values is binned into about ``NUMBER_BINS`` equal-width ranges
with round edges, labelled by the edges joined with an en dash (``10`` to ``15`` holding
10 <= x < 15), rather than one bar per value. A date-time axis is grouped by the grain its title
names (``daily``, ``per day``, ``by hour``, ...), else at the coarsest of day, hour, minute and
second that gives more than one point, so data that spans days is grouped by day (Power BI's date
hierarchy lets a reader drill down the same way).
Anything that cannot be shown (a missing table or column, a measure the local evaluator cannot
compute) becomes a visible note naming it.
"""

from __future__ import annotations

import datetime
import decimal
import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from mlspec.runtime.report import charts as report_charts
from mlspec.runtime.report.dax import DaxError, Evaluator, Tables, Value, format_value

MAX_GROUPS = 50
TABLE_ROWS = 20
MAX_POINTS = 2000
MAX_DISTINCT_NUMBERS = 30
NUMBER_BINS = 20
_BUCKETS = (("D", "%Y-%m-%d"), ("h", "%Y-%m-%d %H:00"), ("min", "%Y-%m-%d %H:%M"), ("s", "%Y-%m-%d %H:%M:%S"))
_TITLE_GRAINS = (
    ("D", re.compile(r"\b(daily|per day|by day|each day|days?)\b", re.IGNORECASE)),
    ("h", re.compile(r"\b(hourly|per hour|by hour|each hour|hours?)\b", re.IGNORECASE)),
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
BLANK = "(Blank)"


class VisualProblem(Exception):
    """The visual cannot be drawn; the message says what is missing."""


@dataclass(frozen=True)
class Visual:
    type: str
    title: str
    table: str
    value: str | None
    x: str | None
    y: str | None
    columns: tuple[str, ...]

    @classmethod
    def from_spec(cls, raw: Mapping[str, Any], default_table: str) -> Visual:
        value = raw.get("measure") or raw.get("y")
        return cls(
            type=str(raw.get("type") or "table"),
            title=str(raw.get("title") or _default_title(raw)),
            table=str(raw.get("table") or default_table),
            value=str(value) if value else None,
            x=str(raw["x"]) if raw.get("x") else None,
            y=str(raw["y"]) if raw.get("y") else None,
            columns=tuple(str(c) for c in raw.get("columns") or ()),
        )


def _default_title(raw: Mapping[str, Any]) -> str:
    """The title Power BI shows when the spec gives none (as the compiler writes it)."""
    value = raw.get("measure") or raw.get("y")
    if value and raw.get("x"):
        return f"{value} by {raw['x']}"
    return str(value or raw.get("x") or ", ".join(raw.get("columns") or []) or raw.get("type") or "visual")


def render_visual(
    visual: Visual, tables: Tables, evaluator: Evaluator, problems: Mapping[str, str] | None = None
) -> str:
    """The visual's body (a card value, a chart, a table or a note), as HTML.

    ``problems`` says, per table that could not be loaded, why: the note of a visual on it."""
    try:
        frame = _frame(tables, visual.table, problems or {})
        if visual.type == "card":
            return _card(visual, tables, evaluator)
        if visual.type == "table":
            return _table(visual, frame, tables, evaluator)
        if visual.type == "scatter":
            return _scatter(visual, frame, tables, evaluator)
        return _grouped(visual, frame, tables, evaluator)
    except (DaxError, VisualProblem) as problem:
        return note(str(problem))


def note(text: str) -> str:
    return f'<p class="note" role="note">{html.escape(text)}</p>'


def _frame(tables: Tables, name: str, problems: Mapping[str, str]) -> pd.DataFrame:
    if name not in tables:
        raise VisualProblem(problems.get(name) or f"table {name!r} is not available locally")
    return tables[name]


def _column(frame: pd.DataFrame, name: str, table: str) -> str:
    if name in frame.columns:
        return name
    folded = next((c for c in frame.columns if str(c).casefold() == name.casefold()), None)
    if folded is None:
        raise VisualProblem(f"{name!r} is not a column of table {table!r}")
    return str(folded)


def _value(visual: Visual, tables: Tables, evaluator: Evaluator) -> Value:
    assert visual.value is not None
    try:
        return evaluator.value(visual.value, visual.table, tables)
    except DaxError as error:
        raise DaxError(f"measure {visual.value!r} could not be evaluated locally: {error}") from error


def _format(visual: Visual, value: Value, evaluator: Evaluator) -> str:
    measure = evaluator.measure(visual.value) if visual.value else None
    return format_value(value, measure.format if measure else None)


def _card(visual: Visual, tables: Tables, evaluator: Evaluator) -> str:
    if visual.value is None:
        raise VisualProblem("the card names no measure")
    value = _value(visual, tables, evaluator)
    text = html.escape(_format(visual, value, evaluator))
    return f'<p class="card-value" data-value="{"" if value is None else repr(value)}">{text}</p>'


@dataclass(frozen=True)
class _Axis:
    """The grouping key of each row, whether keys are ordered values, and the label of each key."""

    keys: pd.Series
    ordered: bool
    labels: Mapping[Any, str] = field(default_factory=dict)

    def label(self, key: Any) -> Any:
        if key in self.labels:
            return self.labels[key]
        # A number column with blanks groups by floats: 3.0 is shown as 3.
        if isinstance(key, float) and key.is_integer():
            return str(int(key))
        return key


def _axis(series: pd.Series, title: str) -> _Axis:
    series = typed_axis(series)
    if pd.api.types.is_datetime64_any_dtype(series):
        return _time_axis(series, title)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        if series.nunique() > MAX_DISTINCT_NUMBERS:
            return _binned_axis(series)
        return _Axis(series.astype(object).where(series.notna(), BLANK), True)
    return _Axis(series.astype(object).where(series.notna(), BLANK), False)


def typed_axis(series: pd.Series) -> pd.Series:
    """``series`` as numbers or times when its values are those in another dress: ``datetime.date``
    and ``Decimal`` objects (Parquet date and decimal columns) or ISO date text (CSV, JSON)."""
    if series.dtype != object:
        return series
    values = series.dropna()
    if values.empty:
        return series
    if all(isinstance(v, (datetime.date, pd.Timestamp)) for v in values):
        return pd.to_datetime(series, utc=True, errors="coerce")
    if all(isinstance(v, (decimal.Decimal, int, float)) and not isinstance(v, bool) for v in values):
        return pd.to_numeric(series, errors="coerce")
    if all(isinstance(v, str) and _ISO_DATE.match(v) for v in values):
        times = pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601")
        if times.notna().sum() == len(values):
            return times
    return series


def _time_axis(series: pd.Series, title: str) -> _Axis:
    named = next((unit for unit, words in _TITLE_GRAINS if words.search(title)), None)
    for unit, pattern in _BUCKETS:
        if named is not None and unit != named:
            continue
        buckets = series.dt.floor(unit)
        if named is not None or buckets.nunique() > 1 or unit == "s":
            return _Axis(buckets.dt.strftime(pattern).fillna(BLANK), True)
    raise AssertionError("unreachable: the second grain always groups")


def _binned_axis(series: pd.Series) -> _Axis:
    """About :data:`NUMBER_BINS` equal-width ranges with round edges; a key is the range's index."""
    numbers = pd.to_numeric(series, errors="coerce").astype(float)
    low, high = float(numbers.min()), float(numbers.max())
    integer = pd.api.types.is_integer_dtype(series)
    locator = MaxNLocator(nbins=NUMBER_BINS, steps=[1, 2, 2.5, 5, 10], integer=integer)
    edges = [float(e) for e in locator.tick_values(low, high)]
    if edges[-1] <= high:  # the last range must hold the maximum
        edges.append(edges[-1] + (edges[-1] - edges[-2]))
    index = np.clip(np.searchsorted(edges, numbers.to_numpy(), side="right") - 1, 0, len(edges) - 2)
    keys = pd.Series(index, index=series.index, dtype=object).where(numbers.notna(), BLANK)
    labels = {i: f"{edges[i]:g}\N{EN DASH}{edges[i + 1]:g}" for i in range(len(edges) - 1)}
    return _Axis(keys, True, labels)


def _grouped(visual: Visual, frame: pd.DataFrame, tables: Tables, evaluator: Evaluator) -> str:
    if visual.x is None:
        raise VisualProblem(f"a {visual.type} visual needs an x column to group by")
    column = _column(frame, visual.x, visual.table)
    axis = _axis(frame[column], visual.title)
    points: list[tuple[Any, float]] = []
    for key, rows in frame.groupby(axis.keys, sort=False, dropna=False):
        context = {**tables, visual.table: rows}
        value = _value(visual, context, evaluator) if visual.value else float(len(rows))
        if value is not None and math.isfinite(value):  # Power BI leaves out groups whose value is blank
            points.append((key, value))
    if not points:
        raise VisualProblem("no group has a value")
    by_axis = axis.ordered or visual.type == "line"
    points.sort(key=(lambda p: _sortable(p[0])) if by_axis else (lambda p: -p[1]))
    shown = points[:MAX_GROUPS]
    labels, values = [axis.label(p[0]) for p in shown], [p[1] for p in shown]
    value_label = visual.value or "rows"
    if visual.type == "pie":
        chart = report_charts.pie_chart(labels, values)
    elif visual.type == "line":
        chart = report_charts.line_chart(labels, values, value_label=value_label)
    else:
        chart = report_charts.bar_chart(
            labels, values, horizontal=visual.type == "bar", value_label=value_label
        )
    caption = "" if visual.value else note("no measure: the bars count rows")
    if len(points) > MAX_GROUPS:
        caption += note(f"showing the first {MAX_GROUPS} of {len(points)} groups")
    return chart + caption + _data_table(visual, labels, values, evaluator)


def _sortable(key: Any) -> tuple[int, Any]:
    if isinstance(key, (int, float, np.integer, np.floating)) and not isinstance(key, (bool, np.bool_)):
        return (0, float(key))
    return (1, str(key))


def _data_table(visual: Visual, labels: Sequence[Any], values: Sequence[float], evaluator: Evaluator) -> str:
    """The plotted numbers, so the report can be read (and checked) without the chart."""
    rows = "".join(
        f"<tr><td>{html.escape(str(label))}</td><td>{html.escape(_format(visual, value, evaluator))}</td></tr>"
        for label, value in zip(labels, values, strict=True)
    )
    head = f"<tr><th>{html.escape(visual.x or '')}</th><th>{html.escape(visual.value or 'rows')}</th></tr>"
    return f'<details class="data"><summary>Data</summary><table>{head}{rows}</table></details>'


def _scatter(visual: Visual, frame: pd.DataFrame, tables: Tables, evaluator: Evaluator) -> str:
    if visual.x is None or visual.value is None:
        raise VisualProblem("a scatter visual needs x and y")
    x = _column(frame, visual.x, visual.table)
    if evaluator.measure(visual.value) is not None:
        return _grouped(
            Visual("column", visual.title, visual.table, visual.value, x, None, ()), frame, tables, evaluator
        )
    y = _column(frame, visual.value, visual.table)
    points = frame[[x, y]].apply(pd.to_numeric, errors="coerce").dropna()
    if points.empty:
        raise VisualProblem(f"{x!r} and {y!r} have no pair of numbers to plot")
    shown = points if len(points) <= MAX_POINTS else points.sample(MAX_POINTS, random_state=0)
    chart = report_charts.scatter_chart(shown[x].tolist(), shown[y].tolist(), x_label=x, y_label=y)
    if len(points) > MAX_POINTS:
        chart += note(f"a sample of {MAX_POINTS} of {len(points)} rows")
    return chart


def _table(visual: Visual, frame: pd.DataFrame, tables: Tables, evaluator: Evaluator) -> str:
    wanted = list(dict.fromkeys([*visual.columns, *([visual.x] if visual.x else [])])) or list(frame.columns)
    present = [c for c in wanted if c in frame.columns]
    missing = [c for c in wanted if c not in frame.columns]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in present)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell_text(v))}</td>" for v in row) + "</tr>"
        for row in frame[present].head(TABLE_ROWS).itertuples(index=False, name=None)
    )
    out = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    out += (
        note(f"showing {min(TABLE_ROWS, len(frame))} of {len(frame)} rows") if len(frame) > TABLE_ROWS else ""
    )
    if missing:
        out += note(f"not a column of table {visual.table!r}: {', '.join(missing)}")
    if visual.value:
        out += f'<p class="total">{html.escape(visual.value)}: {html.escape(_format(visual, _value(visual, tables, evaluator), evaluator))}</p>'
    return out


def cell_text(value: Any) -> str:
    if not isinstance(value, (list, tuple, dict)) and pd.isna(value):
        return ""
    if isinstance(value, pd.Timestamp):
        return str(value.isoformat())
    if isinstance(value, float):
        return f"{value:.6g}"
    return f"{value}"
