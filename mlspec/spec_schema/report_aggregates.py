"""Aggregate shorthands in visuals: ``sum(amount)``, ``avg(orders.amount)``, ... as DAX measures.

A visual's ``measure`` or ``y`` may be ``<function>(<column>)`` with the column named as anywhere else
(``amount`` or ``table.amount``). Each becomes a measure of the column's table, named as Power BI names
its own implicit measures (``Sum of amount``; ``Sum of orders.amount`` when several tables have an
``amount``), with the type DAX gives it and a format string to match:

========================  ================  ================================  ===============
shorthand                 DAX               type                              format
========================  ================  ================================  ===============
``sum(c)``                ``SUM``           the column's (int64 or double)    ``#,0`` / ``#,0.00``
``avg(c)``                ``AVERAGE``       double                            ``#,0.00``
``median(c)``             ``MEDIAN``        double                            ``#,0.00``
``min(c)``, ``max(c)``    ``MIN``, ``MAX``  the column's                      by type
``count(c)``              ``COUNT``         int64                             ``#,0``
``distinct_count(c)``     ``DISTINCTCOUNT`` int64                             ``#,0``
========================  ================  ================================  ===============

DAX refuses ``SUM``/``AVERAGE``/``MEDIAN`` over text, dates or booleans, ``MIN``/``MAX`` over
booleans, and every aggregate over binary columns: those are errors (MLS671) at the visual's field,
as is a function name outside the list. ``count`` of a boolean column is rendered ``COUNTA`` (DAX's
``COUNT`` does not take booleans).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FUNCTIONS = ("sum", "avg", "min", "max", "count", "distinct_count", "median")
_DAX = {
    "sum": "SUM",
    "avg": "AVERAGE",
    "min": "MIN",
    "max": "MAX",
    "count": "COUNT",
    "distinct_count": "DISTINCTCOUNT",
    "median": "MEDIAN",
}
_LABEL = {
    "sum": "Sum",
    "avg": "Average",
    "min": "Min",
    "max": "Max",
    "count": "Count",
    "distinct_count": "Distinct count",
    "median": "Median",
}
_NUMERIC = frozenset({"int64", "double"})
_NEEDS_NUMBER = frozenset({"sum", "avg", "median"})
_FORMATS = {"int64": "#,0", "double": "#,0.00", "dateTime": "General Date"}
_TYPE_NAMES = {"string": "text", "dateTime": "a date", "boolean": "a boolean", "binary": "binary"}

_CALL = re.compile(r"\s*([A-Za-z_]\w*)\s*\(\s*([^()]*?)\s*\)\s*")


@dataclass(frozen=True)
class Shorthand:
    """``function(argument)`` as written in a visual (``function`` lower-cased)."""

    function: str
    argument: str
    text: str

    @property
    def known(self) -> bool:
        return self.function in _DAX


def parse(text: str) -> Shorthand | None:
    """The call ``text`` is written as, or ``None`` when it is no call (a measure or column name)."""
    match = _CALL.fullmatch(text)
    if match is None:
        return None
    return Shorthand(match[1].lower(), match[2], text.strip())


def result_type(function: str, column_type: str) -> str:
    """The TMDL data type of the measure DAX computes."""
    if function in ("count", "distinct_count"):
        return "int64"
    if function in ("avg", "median"):
        return "double"
    return column_type


def type_problem(function: str, column_type: str) -> str | None:
    """Why DAX refuses ``function`` over a column of ``column_type``, or ``None``."""
    if column_type == "binary":
        return f"{_DAX[function]} does not aggregate binary columns"
    if function in _NEEDS_NUMBER and column_type not in _NUMERIC:
        return f"{_DAX[function]} needs a number"
    if function in ("min", "max") and column_type == "boolean":
        return f"{_DAX[function]} does not take booleans"
    return None


def type_name(column_type: str) -> str:
    """``text``, ``a date``, ...: how a message names a column's type."""
    return _TYPE_NAMES.get(column_type, column_type)


def measure_name(function: str, column: str, qualified_by: str | None) -> str:
    """``Sum of amount``, or ``Sum of orders.amount`` when the column name needs its table."""
    name = f"{qualified_by}.{column}" if qualified_by else column
    return f"{_LABEL[function]} of {name}"


def dax(function: str, table: str, column: str, column_type: str) -> str:
    """``SUM('orders'[amount])``: table quoted with ``'`` doubled, column bracketed with ``]`` doubled."""
    name = "COUNTA" if function == "count" and column_type == "boolean" else _DAX[function]
    return f"{name}('{table.replace(chr(39), chr(39) * 2)}'[{column.replace(']', ']]')}])"


def format_string(data_type: str) -> str | None:
    return _FORMATS.get(data_type)
