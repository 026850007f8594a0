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
    "approx_count_distinct": "bigint",
    "avg": "double",
    "mean": "double",
    "sum": "double",
    "stddev": "double",
    "variance": "double",
}


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


def expression_type(tokens: list[str], upstream: dict[str, str | None]) -> str | None:
    """The Spark type of a SELECT expression, where it can be read off the expression itself.

    ``CAST(x AS t)`` is ``t``; an aggregate its result type; a ``CASE`` whose results are all
    integer literals ``int``; ``coalesce(x, ...)`` the type of ``x``; a plain (qualified) column its
    upstream type. Anything else is unknown (``None``), never a guess from a same-named column.
    """
    if not tokens:
        return None
    head = tokens[0].lower()
    whole_call = len(tokens) >= 3 and tokens[1] == "(" and tokens[-1] == ")" and _balanced(tokens[1:])
    if head == "cast" and whole_call and len(tokens) >= 6 and tokens[-3].lower() == "as":
        return tokens[-2].lower()
    if head == "cast" and whole_call and "as" in (t.lower() for t in tokens):
        position = max(i for i, t in enumerate(tokens) if t.lower() == "as")
        return "".join(tokens[position + 1 : -1]).lower() or None
    if head in _AGGREGATE_TYPES and whole_call:
        return _AGGREGATE_TYPES[head]
    if head in ("min", "max", "first", "last") and whole_call:
        return expression_type(tokens[2:-1], upstream)
    if head == "coalesce" and whole_call:
        argument = tokens[2 : tokens.index(",")] if "," in tokens else tokens[2:-1]
        return expression_type(argument, upstream)
    if head == "case" and tokens[-1].lower() == "end":
        results = [tokens[i + 1] for i, t in enumerate(tokens[:-1]) if t.lower() in ("then", "else")]
        return "int" if results and all(_INTEGER.fullmatch(r) for r in results) else None
    if (
        all((t == ".") if i % 2 else t.replace("_", "a").isalnum() for i, t in enumerate(tokens))
        and len(tokens) % 2
    ):
        return upstream.get(tokens[-1].strip("`").lower())
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
