"""The spec's Power BI measures (DAX) evaluated over local tables, and their format strings.

No Python library evaluates DAX: the only engine is Analysis Services (.NET), inside Power BI.
The local report therefore evaluates the forms report measures are written in here, and refuses
the rest by name (:class:`DaxError`), so a measure it cannot compute shows as a note, never as a
silent blank:

- ``COUNTROWS(t)``; ``SUM``, ``AVERAGE``, ``MIN``, ``MAX``, ``MEDIAN``, ``COUNT``, ``COUNTA``,
  ``COUNTBLANK``, ``DISTINCTCOUNT`` of a column ``t[c]`` (or ``'table name'[c]``);
- ``DIVIDE(a, b[, alternate])``, ``BLANK()``, ``ABS(x)``, ``ROUND(x, digits)``;
- numbers, ``+ - * /``, parentheses and references to other measures (``[churn_rate]``).

BLANK follows DAX: an aggregate over no value is BLANK, BLANK + 5 is 5, BLANK * 5 is BLANK, and
``x / 0`` is infinite (``DIVIDE`` returns its alternate or BLANK instead). The *filter context* of a
grouped visual is the subset of the visual's table handed in as that table; other tables stay whole,
as they would in a model without relationships (the mlspec semantic model declares none).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlspec.spec_schema.report_aggregates import Shorthand
from mlspec.spec_schema.report_aggregates import dax as shorthand_dax
from mlspec.spec_schema.report_aggregates import parse as shorthand_call

Tables = Mapping[str, pd.DataFrame]
Value = float | None
"""A measure's value: a number, or ``None`` for BLANK."""


class DaxError(Exception):
    """The expression is not one the local evaluator understands, or does not fit the data."""


@dataclass(frozen=True)
class Measure:
    name: str
    table: str
    expression: str
    format: str | None = None


AGGREGATES = frozenset(
    {"SUM", "AVERAGE", "MIN", "MAX", "MEDIAN", "COUNT", "COUNTA", "COUNTBLANK", "DISTINCTCOUNT"}
)
FUNCTIONS = AGGREGATES | {"COUNTROWS", "DIVIDE", "BLANK", "ABS", "ROUND"}

# --- parsing ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|--[^\n]*|//[^\n]*)
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
  | (?P<string>"(?:[^"]|"")*")
  | (?P<quoted>'(?:[^']|'')*')
  | (?P<bracket>\[(?:[^\]]|\]\])*\])
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<op>[-+*/(),])
  | (?P<other><=|>=|<>|==|&&|\|\||[=<>&!{};:^])  # DAX syntax beyond the supported forms
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokens(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            raise DaxError(f"unexpected {expression[position : position + 10]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group()))
    return tokens


@dataclass(frozen=True)
class Node:
    kind: str  # number, blank, column, table, measure, call, binary, negate
    value: Any = None
    children: tuple[Node, ...] = ()


class _Parser:
    def __init__(self, expression: str) -> None:
        self.tokens = _tokens(expression)
        self.position = 0

    def parse(self) -> Node:
        node = self._sum()
        if self.position != len(self.tokens):
            raise DaxError(f"unexpected {self.tokens[self.position].text!r}")
        return node

    def _peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, text: str | None = None) -> _Token:
        token = self._peek()
        if token is None or (text is not None and token.text != text):
            raise DaxError(f"expected {text or 'more'} at the end" if token is None else f"expected {text!r}")
        self.position += 1
        return token

    def _sum(self) -> Node:
        node = self._product()
        while (token := self._peek()) is not None and token.text in "+-" and token.kind == "op":
            self.position += 1
            node = Node("binary", token.text, (node, self._product()))
        return node

    def _product(self) -> Node:
        node = self._unary()
        while (token := self._peek()) is not None and token.text in "*/" and token.kind == "op":
            self.position += 1
            node = Node("binary", token.text, (node, self._unary()))
        return node

    def _unary(self) -> Node:
        token = self._peek()
        if token is not None and token.kind == "op" and token.text in "+-":
            self.position += 1
            inner = self._unary()
            return inner if token.text == "+" else Node("negate", None, (inner,))
        return self._primary()

    def _primary(self) -> Node:
        token = self._take()
        if token.kind == "number":
            return Node("number", float(token.text))
        if token.kind == "string":
            raise DaxError("text values are not supported")
        if token.text == "(":
            node = self._sum()
            self._take(")")
            return node
        if token.kind == "bracket":
            return Node("measure", _unbracket(token.text))
        if token.kind in ("name", "quoted"):
            name = token.text[1:-1].replace("''", "'") if token.kind == "quoted" else token.text
            following = self._peek()
            if following is not None and following.kind == "bracket":
                self.position += 1
                return Node("column", (name, _unbracket(following.text)))
            if token.kind == "name" and following is not None and following.text == "(":
                if name.upper() not in FUNCTIONS:
                    raise DaxError(f"{name.upper()}() is not evaluated locally")
                return self._call(name.upper())
            return Node("table", name)
        raise DaxError(f"unexpected {token.text!r}")

    def _call(self, function: str) -> Node:
        self._take("(")
        arguments: list[Node] = []
        if (token := self._peek()) is not None and token.text == ")":
            self.position += 1
            return Node("call", function, ())
        while True:
            arguments.append(self._sum())
            if self._take().text == ")":
                return Node("call", function, tuple(arguments))


def _unbracket(text: str) -> str:
    return text[1:-1].replace("]]", "]")


def parse(expression: str) -> Node:
    """The expression's tree; :class:`DaxError` for anything outside the supported forms."""
    return _Parser(expression).parse()


# --- evaluation ------------------------------------------------------------------------------


def _lookup(mapping: Mapping[str, Any], name: str) -> str | None:
    """The key matching ``name``; DAX names ignore case."""
    if name in mapping:
        return name
    folded = name.casefold()
    return next((key for key in mapping if str(key).casefold() == folded), None)


def _numbers(series: pd.Series, function: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    numeric = pd.to_numeric(series, errors="coerce")
    if numeric.notna().sum() < series.notna().sum():
        raise DaxError(f"{function} needs a numeric column, {series.name!r} holds text")
    return numeric.astype(float)


def _aggregate(function: str) -> Callable[[pd.Series], Value]:
    def numeric(reduce: Callable[[pd.Series], Any]) -> Callable[[pd.Series], Value]:
        def run(series: pd.Series) -> Value:
            values = _numbers(series, function).dropna()
            return None if values.empty else float(reduce(values))

        return run

    def count(keep: Callable[[pd.Series], pd.Series]) -> Callable[[pd.Series], Value]:
        def run(series: pd.Series) -> Value:
            n = int(keep(series).sum())
            return float(n) if n else None

        return run

    functions: dict[str, Callable[[pd.Series], Value]] = {
        "SUM": numeric(lambda v: v.sum()),
        "AVERAGE": numeric(lambda v: v.mean()),
        "MIN": numeric(lambda v: v.min()),
        "MAX": numeric(lambda v: v.max()),
        "MEDIAN": numeric(lambda v: v.median()),
        "COUNT": count(lambda s: s.notna()),
        "COUNTA": count(lambda s: s.notna()),
        "COUNTBLANK": count(lambda s: s.isna()),
        # DAX counts BLANK as one more distinct value.
        "DISTINCTCOUNT": lambda s: float(s.nunique(dropna=False)) if len(s) else None,
    }
    return functions[function]


AGGREGATES = frozenset(
    {"SUM", "AVERAGE", "MIN", "MAX", "MEDIAN", "COUNT", "COUNTA", "COUNTBLANK", "DISTINCTCOUNT"}
)


class Evaluator:
    """Evaluates the measures of one report over the tables it is handed."""

    def __init__(self, measures: Mapping[str, Measure]) -> None:
        self.measures = dict(measures)
        self._trees: dict[str, Node] = {}

    def measure(self, name: str) -> Measure | None:
        key = _lookup(self.measures, name)
        return None if key is None else self.measures[key]

    def evaluate(self, name: str, tables: Tables) -> Value:
        """The value of measure ``name``; :class:`DaxError` when it cannot be computed."""
        return self._measure(name, tables, ())

    def value(self, name: str, table: str, tables: Tables) -> Value:
        """A visual's value field: a measure, or a column of ``table`` with Power BI's default
        aggregation (the sum of a numeric column, the count of any other)."""
        if self.measure(name) is not None:
            return self.evaluate(name, tables)
        shorthand = shorthand_call(name)
        if shorthand is not None and shorthand.known:
            return self._shorthand(shorthand, table, tables)
        frame = _table(tables, table)
        column = _lookup(dict.fromkeys(frame.columns), name)
        if column is None:
            raise DaxError(f"{name!r} is neither a measure nor a column of {table!r}")
        series = frame[column]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        return _aggregate("SUM" if numeric else "COUNT")(series)

    def _shorthand(self, call: Shorthand, table: str, tables: Tables) -> Value:
        """``avg(monthly_charges)`` or ``sum(orders.amount)``: the DAX measure the semantic model gets
        for it (mlspec.spec_schema.report_aggregates), evaluated here the same way."""
        owner, _, column = call.argument.rpartition(".")
        if not owner or owner not in tables:
            owner, column = "", call.argument
        candidates = [owner] if owner else [table, *(t for t in tables if t != table)]
        for name in candidates:
            frame = tables.get(name)
            found = _lookup(dict.fromkeys(frame.columns), column) if frame is not None else None
            if frame is not None and found is not None:
                kind = "boolean" if pd.api.types.is_bool_dtype(frame[found]) else "double"
                return self._node(parse(shorthand_dax(call.function, name, str(found), kind)), tables, ())
        raise DaxError(f"{call.argument!r} is not a column of {owner or table!r}")

    def _measure(self, name: str, tables: Tables, stack: tuple[str, ...]) -> Value:
        measure = self.measure(name)
        if measure is None:
            raise DaxError(f"[{name}] is not a measure of this report")
        if measure.name in stack:
            raise DaxError(f"[{measure.name}] refers to itself")
        tree = self._trees.get(measure.name)
        if tree is None:
            tree = self._trees[measure.name] = parse(measure.expression)
        return self._node(tree, tables, (*stack, measure.name))

    def _node(self, node: Node, tables: Tables, stack: tuple[str, ...]) -> Value:
        if node.kind == "number":
            return float(node.value)
        if node.kind == "measure":
            return self._measure(str(node.value), tables, stack)
        if node.kind == "negate":
            inner = self._node(node.children[0], tables, stack)
            return None if inner is None else -inner
        if node.kind == "binary":
            left, right = (self._node(child, tables, stack) for child in node.children)
            return _arithmetic(str(node.value), left, right)
        if node.kind == "call":
            return self._call(node, tables, stack)
        if node.kind == "column":
            raise DaxError(f"the column {node.value[0]}[{node.value[1]}] needs an aggregation such as SUM")
        raise DaxError(f"the table {node.value!r} cannot stand alone here")

    def _call(self, node: Node, tables: Tables, stack: tuple[str, ...]) -> Value:
        function, arguments = str(node.value), node.children
        if function == "BLANK" and not arguments:
            return None
        if function == "COUNTROWS" and len(arguments) == 1 and arguments[0].kind == "table":
            rows = len(_table(tables, str(arguments[0].value)))
            return float(rows) if rows else None
        if function in AGGREGATES and len(arguments) == 1 and arguments[0].kind == "column":
            table, column = arguments[0].value
            frame = _table(tables, table)
            found = _lookup(dict.fromkeys(frame.columns), column)
            if found is None:
                raise DaxError(f"{table}[{column}]: the table has no such column")
            return _aggregate(function)(frame[found])
        values = [self._node(a, tables, stack) for a in arguments]
        if function == "DIVIDE" and len(values) in (2, 3):
            numerator, denominator = values[0], values[1]
            if denominator is None or denominator == 0:
                return values[2] if len(values) == 3 else None
            return None if numerator is None else numerator / denominator
        if function == "ABS" and len(values) == 1:
            return None if values[0] is None else abs(values[0])
        if function == "ROUND" and len(values) == 2 and values[1] is not None:
            return None if values[0] is None else _round_half_away(values[0], int(values[1]))
        raise DaxError(f"{function}() with {len(arguments)} argument(s) is not evaluated locally")


def _table(tables: Tables, name: str) -> pd.DataFrame:
    key = _lookup(tables, name)
    if key is None:
        raise DaxError(f"table {name!r} is not available locally")
    return tables[key]


def _arithmetic(op: str, left: Value, right: Value) -> Value:
    if op in "+-":
        if left is None and right is None:
            return None
        a, b = left or 0.0, right or 0.0
        return a + b if op == "+" else a - b
    if op == "*":
        return None if left is None or right is None else left * right
    if left is None and right is None:
        return None
    a, b = left or 0.0, right or 0.0
    if b == 0.0:
        return math.nan if a == 0.0 else math.copysign(math.inf, a)
    return a / b


def _round_half_away(value: float, digits: int) -> float:
    scale = 10.0**digits
    return math.copysign(math.floor(abs(value) * scale + 0.5) / scale, value)


# --- format strings --------------------------------------------------------------------------

_FORMAT = re.compile(r"(?P<prefix>[^0#.,%]*)(?P<integer>[0#,]*)(?:\.(?P<decimals>[0#]+))?(?P<suffix>.*)")


def format_value(value: Value, pattern: str | None = None) -> str:
    """``value`` as Power BI shows it with format string ``pattern``.

    The common custom formats: ``0``, ``0.00``, ``#,0`` (thousands separators), ``0.0%`` (times
    100), literal text around them (``"$"#,0.00``, ``0.0 "ms"``); the first ``;`` section is used,
    with a minus sign for negative values. Without a pattern: thousands separators and up to two
    decimals. BLANK shows as ``(Blank)``, as Power BI's card does.
    """
    if value is None:
        return "(Blank)"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if not pattern:
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    section = _split_sections(pattern)[0]
    match = _FORMAT.fullmatch(section)
    if match is None or not (match["integer"] or match["decimals"]):
        return f"{value:,.2f}"
    prefix, suffix = _literal(match["prefix"]), _literal(match["suffix"])
    percent = "%" in match["suffix"]
    number = abs(value) * (100 if percent else 1)
    decimals = len(match["decimals"] or "")
    grouping = "," if "," in match["integer"] else ""
    text = f"{number:{grouping}.{decimals}f}"
    sign = "-" if value < 0 and float(text.replace(",", "")) != 0 else ""
    return f"{sign}{prefix}{text}{suffix}"


def _split_sections(pattern: str) -> list[str]:
    sections: list[str] = []
    current: list[str] = []
    quoted = False
    for char in pattern:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            sections.append("".join(current))
            current = []
        else:
            current.append(char)
    sections.append("".join(current))
    return sections


def _literal(text: str) -> str:
    """Format-string literal text: quotes and backslash escapes removed."""
    return re.sub(r'"([^"]*)"|\\(.)', lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)
