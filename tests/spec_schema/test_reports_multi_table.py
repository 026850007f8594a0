"""A report over several related tables, validated: column resolution, relationships, aggregate shorthands.

The spec (``data/reports/three_tables.yaml``) reports over a source with a schema (``orders``), a
transform (``customer_features``, partitioned by two columns) and the served predictions; its visuals
use ``table.column`` names and aggregate shorthands. Each refusing case edits it and asserts code,
message and the line:col of the text the diagnostic is about; build refuses with the same diagnostic.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlspec import api
from mlspec.diagnostics import Diagnostic, MlspecError, Severity
from mlspec.spec_schema.report_columns import dataset_columns
from mlspec.spec_schema.report_model import report_model

from .spec_text import describe, edit, position

SPEC = Path(__file__).parent / "data" / "reports" / "three_tables.yaml"
TEXT = SPEC.read_text(encoding="utf-8")
BAR = "          - {type: column, title: Basket by channel, x: channel, y: avg(amount)}\n"
RELATIONSHIP = "      - {from: predictions.customer_id, to: customer_features.customer_id}\n"


def write(tmp_path: Path, *edits: tuple[str, str]) -> tuple[Path, str]:
    text = TEXT
    for old, new in edits:
        text = edit(text, old, new)
    path = tmp_path / "mlproject.yaml"
    path.write_text(text, encoding="utf-8")
    # The scoring image's lock (mlspec lock), named after the spec: without it the build warns (MLS608).
    lock = SPEC.with_suffix(".lock.json")
    (tmp_path / "mlproject.lock.json").write_bytes(lock.read_bytes())
    return path, text


def build_diagnostics(path: Path) -> list[Diagnostic]:
    try:
        return api.build(path, "dev", out_dir=path.parent / "build", environ={}).diagnostics
    except MlspecError as refused:
        return refused.diagnostics


def model_of(path: Path) -> object:
    resolved = api.resolve(api.load(path), "dev", environ={})
    assert resolved.model is not None
    return report_model(resolved.model, 0, resolved.model.reports[0])


def test_the_three_table_report_is_accepted(tmp_path: Path) -> None:
    path, _ = write(tmp_path)
    assert api.validate_file(path, all_environments=True, environ={}).diagnostics == []
    assert build_diagnostics(path) == []


def test_visual_columns_resolve_across_the_reports_tables(tmp_path: Path) -> None:
    path, _ = write(tmp_path)
    model = model_of(path)
    bound = model.bindings  # type: ignore[attr-defined]
    # page 0 visual 1: x names another table explicitly, y a shorthand over the first table
    [x] = bound[(0, 1)]["x"]
    assert (x.kind, x.table, x.name) == ("Column", "customer_features", "country")
    # page 0 visual 7: columns found in the one table that has them, and a qualified one
    assert [(f.table, f.name) for f in bound[(0, 7)]["columns"]] == [
        ("customer_features", "cohort_year"),
        ("customer_features", "country"),
        ("customer_features", "order_count"),
    ]
    # page 1 visual 1: the visual's table is predictions; x comes from customer_features
    [x] = bound[(1, 1)]["x"]
    assert (x.table, x.name) == ("customer_features", "country")


def test_shorthands_become_typed_measures_on_the_columns_table(tmp_path: Path) -> None:
    path, _ = write(tmp_path)
    model = model_of(path)
    measures = {
        m.name: (t.name, m.expression, m.data_type, m.format)
        for t in model.tables.values()  # type: ignore[attr-defined]
        for m in t.measures
    }
    assert measures == {
        "Sum of amount": ("orders", "SUM('orders'[amount])", "double", "#,0.00"),
        "Average of amount": ("orders", "AVERAGE('orders'[amount])", "double", "#,0.00"),
        "Distinct count of orders.customer_id": (
            "orders",
            "DISTINCTCOUNT('orders'[customer_id])",
            "int64",
            "#,0",
        ),
        "Count of order_id": ("orders", "COUNT('orders'[order_id])", "int64", "#,0"),
        "Median of quantity": ("orders", "MEDIAN('orders'[quantity])", "double", "#,0.00"),
        "Max of ordered_at": ("orders", "MAX('orders'[ordered_at])", "dateTime", "General Date"),
        "Average of prediction": ("predictions", "AVERAGE('predictions'[prediction])", "double", "#,0.00"),
        "Count of prediction": ("predictions", "COUNT('predictions'[prediction])", "int64", "#,0"),
    }
    [y] = model.bindings[(0, 1)]["y"]  # type: ignore[attr-defined]
    assert (y.kind, y.table, y.name) == ("Measure", "orders", "Sum of amount")


def test_sum_of_an_int_column_keeps_its_type(tmp_path: Path) -> None:
    path, _ = write(tmp_path, (BAR, BAR + "          - {type: card, measure: sum(quantity)}\n"))
    model = model_of(path)
    [measure] = [m for m in model.tables["orders"].measures if m.name == "Sum of quantity"]  # type: ignore[attr-defined]
    assert (measure.data_type, measure.format) == ("int64", "#,0")


def test_relationships_are_inferred_from_a_shared_key_and_declared(tmp_path: Path) -> None:
    path, _ = write(tmp_path)
    model = model_of(path)
    found = [
        (r.from_table, r.from_column, r.to_table, r.to_column, r.one_to_one, r.declared)
        for r in model.relationships  # type: ignore[attr-defined]
    ]
    assert found == [
        ("predictions", "customer_id", "customer_features", "customer_id", False, True),
        ("orders", "customer_id", "customer_features", "customer_id", False, False),
    ]
    # the declared end on the open predictions log is a column, typed like the other end
    column = model.tables["predictions"].column("customer_id")  # type: ignore[attr-defined]
    assert column is not None and column.data_type == "string"


def test_partition_columns_are_columns_of_the_table_with_their_types(tmp_path: Path) -> None:
    path, _ = write(tmp_path)
    table = model_of(path).tables["customer_features"]  # type: ignore[attr-defined]
    assert table.partition_columns == ["country", "cohort_year"]
    assert table.column("cohort_year").data_type == "int64"
    assert table.column("country").data_type == "string"


REFUSED = [
    pytest.param(
        [(BAR, BAR + "          - {type: column, x: tenure_months, y: count(orders.order_id)}\n")],
        "MLS669",
        "'tenure_months' is a column of several tables of report 'shop-dashboard': "
        "'customer_features', 'predictions'",
        ("tenure_months", "{type: column, x: "),
        "write table.column: customer_features.tenure_months or predictions.tenure_months",
        id="ambiguous-column",
    ),
    pytest.param(
        [
            (
                RELATIONSHIP,
                RELATIONSHIP.replace("to: customer_features.customer_id", "to: customer_features.client"),
            )
        ],
        "MLS660",
        "relationship end 'customer_features.client': 'client' is not a column of 'customer_features'",
        ("customer_features.client", None),
        None,
        id="declared-relationship-with-a-bad-column",
    ),
    pytest.param(
        [
            (
                RELATIONSHIP,
                RELATIONSHIP.replace("to: customer_features.customer_id", "to: customers.customer_id"),
            )
        ],
        "MLS670",
        "relationship end 'customers.customer_id': 'customers' is not a table of report 'shop-dashboard'",
        ("customers.customer_id", None),
        "the report's tables: orders, customer_features, predictions",
        id="declared-relationship-with-a-table-not-in-the-report",
    ),
    pytest.param(
        [
            (
                RELATIONSHIP,
                RELATIONSHIP + "      - {from: orders.customer_id, to: customer_features.customer_id}\n"
                "      - {from: predictions.customer_id, to: orders.customer_id}\n",
            )
        ],
        "MLS670",
        "relationship predictions.customer_id → orders.customer_id closes a loop between tables "
        "predictions, customer_features and orders",
        ("{from: predictions.customer_id, to: orders", None),
        "Power BI filters along one path between two tables: remove one of the relationships",
        id="declared-relationships-in-a-loop",
    ),
    pytest.param(
        [
            (
                RELATIONSHIP,
                RELATIONSHIP + "      - {from: customer_features.order_count, to: predictions.order_count}\n",
            )
        ],
        "MLS670",
        "relationship customer_features.order_count → predictions.order_count: tables 'customer_features' "
        "and 'predictions' are already related",
        ("{from: customer_features.order_count", None),
        "two tables are related once: remove one of the relationships",
        id="declared-relationship-twice-between-two-tables",
    ),
    pytest.param(
        [(BAR, BAR + "          - {type: card, measure: sum(channel)}\n")],
        "MLS671",
        "sum(channel): 'channel' of 'orders' is text; SUM needs a number",
        ("sum(channel)", None),
        "aggregate a numeric column, or use count or distinct_count",
        id="sum-of-a-text-column",
    ),
    pytest.param(
        [(BAR, BAR + "          - {type: card, measure: total(amount)}\n")],
        "MLS671",
        "total(amount) is no aggregate: mlspec knows sum, avg, min, max, count, distinct_count, median",
        ("total(amount)", None),
        None,
        id="unknown-aggregate",
    ),
]


@pytest.mark.parametrize(("edits", "code", "message", "at", "hint"), REFUSED)
def test_refused_at_its_line(
    edits: list[tuple[str, str]],
    code: str,
    message: str,
    at: tuple[str, str | None],
    hint: str | None,
    tmp_path: Path,
) -> None:
    path, text = write(tmp_path, *edits)
    needle, after = at
    line, column = position(text, needle, after=after)
    validated = api.validate_file(path, all_environments=True, environ={}).diagnostics
    found = [d for d in validated if d.code == code]
    assert [d.message for d in found] == [message], describe(validated)
    assert found[0].severity is Severity.ERROR
    assert found[0].location is not None
    assert (found[0].location.line, found[0].location.column) == (line, column), describe(found)
    if hint is not None:
        assert found[0].hint == hint
    built = build_diagnostics(path)
    assert [d.message for d in built if d.code == code] == [message]


def test_an_undeclared_measure_still_warns_at_the_visual(tmp_path: Path) -> None:
    path, text = write(tmp_path, (BAR, BAR + "          - {type: card, measure: margin}\n"))
    [warning] = [d for d in api.validate_file(path, environ={}).diagnostics if d.code == "MLS663"]
    assert warning.severity is Severity.WARNING
    assert warning.location is not None
    assert (warning.location.line, warning.location.column) == position(text, "margin")


SQL_TYPES = """\
SELECT customer_id,
       avg(duration_ms) / 1000.0 AS avg_view_seconds,
       sum(CASE WHEN page LIKE '/support%' THEN 1 ELSE 0 END) AS support_page_views,
       round(avg(amount), 2) AS avg_invoice_amount,
       count(*) AS invoices,
       sum(amount) AS total,
       sum(quantity) AS items,
       max(to_timestamp(ts)) AS last_seen_at,
       quantity * 2 AS doubled,
       -amount AS refund
FROM web_logs
GROUP BY customer_id
"""


def test_columns_of_aggregates_and_arithmetic_are_typed_as_spark_types_them(tmp_path: Path) -> None:
    block = TEXT[TEXT.index("    relationships:") : TEXT.index(RELATIONSHIP) + len(RELATIONSHIP)]
    path, _ = write(tmp_path, (block, ""))  # a spec without the newer report fields
    resolved = api.resolve(api.load(path), "dev", environ={})
    assert resolved.model is not None
    web_logs = resolved.model.sources["orders"].model_copy(
        update={
            "schema_": {
                "customer_id": "string",
                "duration_ms": "bigint",
                "page": "string",
                "amount": "double",
                "quantity": "int",
                "ts": "string",
            }
        }
    )
    transform = resolved.model.transforms["customer_features"].model_copy(
        update={"sql": SQL_TYPES, "inputs": ["web_logs"]}
    )
    spec = resolved.model.model_copy(
        update={
            "sources": {**resolved.model.sources, "web_logs": web_logs},
            "transforms": {"customer_features": transform},
        }
    )
    assert dict(dataset_columns(spec, "customer_features") or []) == {
        "customer_id": "string",
        "avg_view_seconds": "double",  # was text: arithmetic on an average
        "support_page_views": "int64",  # was double: Spark sums integers to a bigint
        "avg_invoice_amount": "double",  # was text: round keeps its argument's type
        "invoices": "int64",
        "total": "double",
        "items": "int64",
        "last_seen_at": "dateTime",
        "doubled": "int64",
        "refund": "double",
    }
