"""The columns of each report table and their types, from what the spec tells.

Declared schemas (``sources.<x>.schema``, ``transforms.<x>.output.schema``) give names and Spark
types. For a SQL transform without a declared schema the names come from the SELECT list
(:func:`mlspec.spec_schema.sql_columns.select_columns`) and each type from the same-named column of
an input, or from the aggregate producing it (``count(...) AS n`` is a long); a column whose type
cannot be known is text. ``None`` means the columns themselves are unknown (a Python transform with no
declared schema, a JSON source without one).
"""

from __future__ import annotations

import functools
import re

from mlspec.spec_schema.models import MLProject
from mlspec.spec_schema.sql_columns import select_items

Columns = list[tuple[str, str]]
"""``[(name, TMDL data type)]``."""

PREDICTIONS_TABLE = "predictions"
"""The report table of served predictions (``deployment.log_predictions``)."""

_FORMAT_COLUMNS = {
    "text": [("value", "string")],
    "binary": [("path", "string"), ("modificationTime", "timestamp"), ("length", "bigint")],
}
_AGGREGATE_TYPES = {
    "count": "bigint",
    "count_if": "bigint",
    "approx_count_distinct": "bigint",
    "avg": "double",
    "mean": "double",
    "stddev": "double",
    "stddev_pop": "double",
    "stddev_samp": "double",
    "variance": "double",
    "var_pop": "double",
    "var_samp": "double",
}
"""Functions whose result type does not depend on their arguments (Spark SQL's built-ins)."""
_FIXED_TYPES = {
    **_AGGREGATE_TYPES,
    "to_timestamp": "timestamp",
    "current_timestamp": "timestamp",
    "date_trunc": "timestamp",
    "from_unixtime": "string",
    "to_date": "date",
    "current_date": "date",
    "datediff": "int",
    "length": "int",
    "year": "int",
    "month": "int",
    "day": "int",
    "dayofmonth": "int",
    "hour": "int",
    "unix_timestamp": "bigint",
    "floor": "bigint",
    "ceil": "bigint",
    "ceiling": "bigint",
    "lower": "string",
    "upper": "string",
    "trim": "string",
    "concat": "string",
    "concat_ws": "string",
    "substring": "string",
    "date_format": "string",
}
_SAME_AS_ARGUMENT = frozenset(
    {
        "min",
        "max",
        "first",
        "last",
        "any_value",
        "percentile_approx",
        "round",
        "bround",
        "abs",
        "coalesce",
        "nvl",
        "ifnull",
    }
)
"""Functions whose result has the type of their first argument (``round(avg(x), 2)`` is a double)."""
_INTEGRAL = frozenset({"int", "integer", "long", "bigint", "short", "smallint", "byte", "tinyint"})
_FRACTIONAL = frozenset({"float", "double", "real"})


def tmdl_type(spark_type: str | None) -> str:
    """The TMDL ``dataType`` for a Spark SQL type (text when unknown or complex)."""
    t = (spark_type or "string").strip().lower()
    if t in ("int", "integer", "long", "bigint", "short", "smallint", "byte", "tinyint"):
        return "int64"
    if t in ("float", "double", "real") or t.startswith(("decimal", "numeric")):
        return "double"
    if t in ("boolean", "bool"):
        return "boolean"
    if t in ("date", "timestamp", "timestamp_ntz", "timestamp_ltz"):
        return "dateTime"
    if t == "binary":
        return "binary"
    return "string"


SparkColumns = list[tuple[str, str | None]]
"""``[(name, Spark type or None)]``."""


def spark_columns(
    model: MLProject,
    dataset: str,
    seen: frozenset[str] = frozenset(),
    known: dict[str, SparkColumns | None] | None = None,
) -> SparkColumns | None:
    """``[(name, Spark type or None)]`` of a source or transform, or ``None`` when unknown.

    ``known`` memoises the transforms' columns across calls on one spec (a report's tables share
    their upstream transforms); the lists it holds must not be changed.
    """
    if dataset in seen:
        return None
    if known is not None and dataset in known:
        return known[dataset]
    found = _spark_columns(model, dataset, seen, known)
    if known is not None and dataset in model.transforms:
        known[dataset] = found
    return found


def _spark_columns(
    model: MLProject, dataset: str, seen: frozenset[str], known: dict[str, SparkColumns | None] | None
) -> SparkColumns | None:
    if dataset in model.sources:
        source = model.sources[dataset]
        if source.schema_:
            return list(source.schema_.items())
        fixed = _FORMAT_COLUMNS.get(source.format)
        return [(n, t) for n, t in fixed] if fixed else None
    transform = model.transforms.get(dataset)
    if transform is None:
        return None
    if transform.output.schema_:
        return list(transform.output.schema_.items())
    if transform.sql is None:
        return None
    if select_items(transform.sql) is None:
        return None
    upstream: dict[str, str | None] = {}
    for name in transform.inputs:
        for column, kind in spark_columns(model, name, seen | {dataset}, known) or []:
            upstream.setdefault(column.lower(), kind)
    return list(_select_types(transform.sql, tuple(upstream.items())))


@functools.lru_cache(maxsize=256)
def _select_types(
    sql: str, upstream: tuple[tuple[str, str | None], ...]
) -> tuple[tuple[str, str | None], ...]:
    """The SELECT list's ``(name, type)`` given the inputs' columns. Memoised: validate derives the
    same transform's columns for every environment and every report that reads it."""
    known = dict(upstream)
    return tuple((name, expression_type(tokens, known)) for name, tokens in select_items(sql) or [])


_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?[lLdDfF]?|\.\d+")
_OPERATORS = frozenset({"+", "-", "*", "/", "%"})


def expression_type(tokens: list[str], upstream: dict[str, str | None]) -> str | None:
    """The Spark type of a SELECT expression, where it can be read off the expression itself.

    ``CAST(x AS t)`` is ``t``; an aggregate its result type (``sum`` of integers a bigint, of anything
    else a double; ``min``/``max`` the type of their argument); a ``CASE`` whose results are all number
    literals ``int`` (or ``decimal``); ``coalesce(x, ...)``, ``round(x, n)`` the type of ``x``; arithmetic
    the type Spark widens its operands to (``/`` always a double); a plain (qualified) column its
    upstream type. Anything else is unknown (``None``), never a guess from a same-named column.
    """
    if not tokens:
        return None
    operands = _operands(tokens)
    if operands is not None:
        return _arithmetic_type(operands, upstream)
    head = tokens[0].lower()
    whole_call = len(tokens) >= 3 and tokens[1] == "(" and tokens[-1] == ")" and _balanced(tokens[1:])
    if head == "cast" and whole_call and len(tokens) >= 6 and tokens[-3].lower() == "as":
        return tokens[-2].lower()
    if head == "cast" and whole_call and "as" in (t.lower() for t in tokens):
        position = max(i for i, t in enumerate(tokens) if t.lower() == "as")
        return "".join(tokens[position + 1 : -1]).lower() or None
    if head in _FIXED_TYPES and whole_call:
        return _FIXED_TYPES[head]
    if head == "sum" and whole_call:
        argument = expression_type(_strip_distinct(_first_argument(tokens)), upstream)
        if argument in _INTEGRAL:
            return "bigint"
        return argument if argument is not None and argument.startswith("decimal") else "double"
    if head in _SAME_AS_ARGUMENT and whole_call:
        return expression_type(_strip_distinct(_first_argument(tokens)), upstream)
    if head == "case" and tokens[-1].lower() == "end":
        return _case_type(tokens)
    literal = _literal_type(tokens)
    if literal is not None:
        return literal
    if (
        all((t == ".") if i % 2 else t.replace("_", "a").isalnum() for i, t in enumerate(tokens))
        and len(tokens) % 2
    ):
        return upstream.get(tokens[-1].strip("`").lower())
    return None


def _first_argument(call: list[str]) -> list[str]:
    """The tokens of a call's first argument: ``f ( a , b )`` → ``a``."""
    depth = 0
    for index, token in enumerate(call[2:-1], start=2):
        depth += token == "("
        depth -= token == ")"
        if token == "," and depth == 0:
            return call[2:index]
    return call[2:-1]


def _strip_distinct(tokens: list[str]) -> list[str]:
    return tokens[1:] if tokens and tokens[0].lower() == "distinct" else tokens


def _literal_type(tokens: list[str]) -> str | None:
    """``int``, ``decimal`` (``1.5``: Spark reads such literals as decimals) or ``double`` (``1e3``)."""
    text = "".join(tokens)
    if not _NUMBER.fullmatch(text):
        return None
    if "e" in text.lower() or text[-1] in "dDfF":
        return "double"
    if "." in text:
        return "decimal"
    return "bigint" if text[-1] in "lL" else "int"


def _case_type(tokens: list[str]) -> str | None:
    results = [tokens[i + 1] for i, t in enumerate(tokens[:-1]) if t.lower() in ("then", "else")]
    if results and all(_INTEGER.fullmatch(r) for r in results):
        # "1.0" is tokenised as "1", ".", "0": a result followed by "." is a decimal literal
        decimal = any(
            tokens[i + 2] == "." for i, t in enumerate(tokens[:-2]) if t.lower() in ("then", "else")
        )
        return "decimal" if decimal else "int"
    return None


def _operands(tokens: list[str]) -> list[tuple[str, list[str]]] | None:
    """``[(operator before it, operand tokens)]`` of a top-level arithmetic expression, else ``None``.

    ``a / b`` → ``[("", a), ("/", b)]``; a leading ``-`` is a sign (``("-", x)``); ``1.5`` (three tokens)
    is one operand.
    """
    parts: list[tuple[str, list[str]]] = []
    operator, depth = "", 0
    current: list[str] = []
    for index, token in enumerate(tokens):
        depth += token == "("
        depth -= token == ")"
        if depth == 0 and token in _OPERATORS and current:
            parts.append((operator, current))
            operator, current = token, []
        elif depth == 0 and token in ("+", "-") and not current and index == 0:
            operator = token
        else:
            current.append(token)
    if not current:
        return None
    parts.append((operator, current))
    if len(parts) == 1 and parts[0][0] == "":
        return None
    return parts


def _arithmetic_type(operands: list[tuple[str, list[str]]], upstream: dict[str, str | None]) -> str | None:
    types = [expression_type(tokens, upstream) for _, tokens in operands]
    if any(t is None for t in types):
        return None
    known = [t for t in types if t is not None]
    if any(op == "/" for op, _ in operands):
        return "double"
    if all(t in _INTEGRAL for t in known):
        return "bigint" if len(known) > 1 else known[0]
    if all(t in _INTEGRAL or t in _FRACTIONAL or t.startswith("decimal") for t in known):
        return "double" if any(t in _FRACTIONAL for t in known) else "decimal"
    return None


def _balanced(tokens: list[str]) -> bool:
    """Whether the first "(" closes only at the last token (a single call, not ``f(a) + g(b)``)."""
    depth = 0
    for index, token in enumerate(tokens):
        depth += token == "("
        depth -= token == ")"
        if depth == 0 and index != len(tokens) - 1:
            return False
    return depth == 0


def dataset_columns(
    model: MLProject, dataset: str, known: dict[str, SparkColumns | None] | None = None
) -> Columns | None:
    found = spark_columns(model, dataset, known=known)
    return None if found is None else [(n, tmdl_type(t)) for n, t in found]


PREDICTION_FIXED: Columns = [("time", "dateTime"), ("endpoint", "string"), ("model", "string")]


def prediction_columns(
    model: MLProject, known: dict[str, SparkColumns | None] | None = None
) -> tuple[Columns, list[str]]:
    """Columns of the served predictions log and the feature names read from each request."""
    spec = model.model
    if spec is None:
        return [*PREDICTION_FIXED, ("prediction", "string")], []
    trained = {n.lower(): t for n, t in spark_columns(model, spec.training.data, known=known) or []}
    reserved = {c for c, _ in PREDICTION_FIXED} | {"prediction"}
    features = [f for f in _once(spec.training.features) if f not in reserved]
    columns = [*PREDICTION_FIXED, *((f, tmdl_type(trained.get(f.lower()))) for f in features)]
    if spec.task == "regression":
        prediction = "double"
    else:
        prediction = tmdl_type(trained.get(spec.training.target.lower()))
    return [*columns, ("prediction", prediction)], features


def _once(names: list[str]) -> list[str]:
    """``names`` without repeats, ignoring case (a feature listed twice is one column, MLS319)."""
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        if name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out
