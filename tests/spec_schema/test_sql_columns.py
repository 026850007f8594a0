"""Reading output columns from simple Spark SQL, and saying "unknown" rather than guessing."""

from __future__ import annotations

import pytest

from mlspec.spec_schema.loader import parse_spec
from mlspec.spec_schema.sql_columns import select_columns

from .spec_text import CONTRACT


@pytest.mark.parametrize(
    ("sql", "columns"),
    [
        ("SELECT a, b FROM t", ["a", "b"]),
        ("select a, b from t", ["a", "b"]),
        ("SELECT t.a, t.b AS c FROM t", ["a", "c"]),
        ("SELECT db.t.a FROM db.t", ["a"]),
        ("SELECT count(x) visits FROM t GROUP BY y", ["visits"]),
        ("SELECT count(*) AS n FROM t", ["n"]),
        ("SELECT DISTINCT a, b FROM t", ["a", "b"]),
        ("SELECT ALL a FROM t", ["a"]),
        ("SELECT `weird col`, `b` AS `c d` FROM t", ["weird col", "c d"]),
        ("SELECT concat(a, ', ', b) AS ab FROM t", ["ab"]),
        ("SELECT 'x, y' AS s, \"FROM\" AS f FROM t", ["s", "f"]),
        ("-- SELECT z FROM q\nSELECT a /* , hidden */ FROM t", ["a"]),
        ("SELECT a FROM (SELECT b FROM u) sub", ["a"]),
        ("WITH x AS (SELECT b FROM t) SELECT a FROM x", ["a"]),
        ("SELECT a FROM t UNION ALL SELECT b FROM u", ["a"]),
        ("SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END AS flag FROM t", ["flag"]),
        ("SELECT row_number() OVER (PARTITION BY a ORDER BY b) AS rn FROM t", ["rn"]),
        ("SELECT 1 AS one", ["one"]),
        ("SELECT a FROM t WHERE b = 1 ORDER BY a LIMIT 5", ["a"]),
        ("SELECT from_date, to_date FROM t", ["from_date", "to_date"]),
    ],
)
def test_columns_are_read_from_the_outer_select(sql: str, columns: list[str]) -> None:
    assert select_columns(sql) == columns


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM t",
        "SELECT a, t.* FROM t",
        "SELECT a + 1 FROM t",
        "SELECT count(*) FROM t",
        "SELECT CASE WHEN a THEN 1 ELSE 0 END FROM t",
        "SELECT a IS NULL FROM t",
        "SELECT a, FROM t",
        "SELECT FROM t",
        "INSERT INTO t VALUES (1)",
        "",
        "-- SELECT a FROM t",
    ],
)
def test_unknown_columns_are_none_not_a_guess(sql: str) -> None:
    assert select_columns(sql) is None


def test_contract_sql_columns() -> None:
    sql = parse_spec(CONTRACT).data["transforms"]["customer_features"]["sql"]
    assert select_columns(sql) == ["customer_id", "tenure_months", "monthly_charges", "churned", "visits"]
