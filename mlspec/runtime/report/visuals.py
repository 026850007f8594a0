"""The spec's report visuals over local tables: what each Power BI visual would show, as HTML.

A visual reads one table (its ``table``, else the report's first). Its value field (``measure``,
else ``y``) is a measure of the report or a column with Power BI's default aggregation (the sum of a
number, the count of anything else). ``card`` shows that value over the whole table, formatted
with the measure's format string; ``bar``/``column``/``line``/``pie`` group the table by ``x`` and
evaluate the value per group (the group is the filter context); ``scatter`` plots ``x`` against
``y`` row by row when ``y`` is a column, else the value per ``x``; ``table`` lists the first rows
of its ``columns``. A date-time axis is grouped at the coarsest of day, hour, minute and second
that gives more than one point (Power BI's date hierarchy lets a reader drill down the same way).
Anything that cannot be shown (a missing table or column, a measure the local evaluator cannot
compute) becomes a visible note naming it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlspec.runtime.report import charts as report_charts
from mlspec.runtime.report.dax import DaxError, Evaluator, Tables, Value, format_value

MAX_GROUPS = 50
TABLE_ROWS = 20
MAX_POINTS = 2000
_BUCKETS = (("D", "%Y-%m-%d"), ("h", "%Y-%m-%d %H:00"), ("min", "%Y-%m-%d %H:%M"), ("s", "%Y-%m-%d %H:%M:%S"))


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


def render_visual(visual: Visual, tables: Tables, evaluator: Evaluator) -> str:
    """The visual's body (a card value, a chart, a table or a note), as HTML."""
    try:
        frame = _frame(tables, visual.table)
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


def _frame(tables: Tables, name: str) -> pd.DataFrame:
    if name not in tables:
        raise VisualProblem(f"table {name!r} is not available locally")
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


def _groups(frame: pd.DataFrame, column: str) -> tuple[pd.Series, bool]:
    """The grouping key of each row, and whether the axis is ordered (numbers, times)."""
    series = frame[column]
    if pd.api.types.is_datetime64_any_dtype(series):
        for unit, pattern in _BUCKETS:
            buckets = series.dt.floor(unit)
            if buckets.nunique() > 1 or unit == "s":
                return buckets.dt.strftime(pattern).fillna("(Blank)"), True
    ordered = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return series.astype(object).where(series.notna(), "(Blank)"), ordered


def _grouped(visual: Visual, frame: pd.DataFrame, tables: Tables, evaluator: Evaluator) -> str:
    if visual.x is None:
        raise VisualProblem(f"a {visual.type} visual needs an x column to group by")
    column = _column(frame, visual.x, visual.table)
    keys, ordered = _groups(frame, column)
    points: list[tuple[Any, float]] = []
    for key, rows in frame.groupby(keys, sort=False, dropna=False):
        context = {**tables, visual.table: rows}
        value = _value(visual, context, evaluator) if visual.value else float(len(rows))
        if value is not None and math.isfinite(value):  # Power BI leaves out groups whose value is blank
            points.append((key, value))
    if not points:
        raise VisualProblem("no group has a value")
    by_axis = ordered or visual.type == "line" or pd.api.types.is_datetime64_any_dtype(frame[column])
    points.sort(key=(lambda p: _sortable(p[0])) if by_axis else (lambda p: -p[1]))
    shown = points[:MAX_GROUPS]
    labels, values = [p[0] for p in shown], [p[1] for p in shown]
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
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return (0, key)
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
        for row in frame[present].head(TABLE_ROWS).itertuples(index=False)
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
