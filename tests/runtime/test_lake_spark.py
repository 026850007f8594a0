"""Rendered Synapse notebooks run unchanged on local PySpark against a small lake in tmp_path.

The lake project (tests/compiler/data/synapse/lake) reads CSV and JSON sources, runs a SQL
transform into a partitioned Delta table, a Python transform into Parquet, and a merge into a
Delta table; its ``strict`` environment has an expectation the data cannot meet. Each notebook's
code cells are executed in order in a fresh namespace, in the pipeline's activity order, with
``MLSPEC_LAKE_ROOT`` pointing at the lake.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlspec import api
from mlspec.compiler import synapse
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.runtime import lake

LAKE_PROJECT = (
    Path(__file__).resolve().parents[1] / "compiler" / "data" / "synapse" / "lake" / "mlproject.yaml"
)
ACCOUNT = "lakedemodev"


def _missing() -> str | None:
    for module in ("pyspark", "deltalake", "pyarrow"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'pyspark>=3.5,<3.6' deltalake pyarrow)"
    if shutil.which("java") is None:
        return "no Java runtime for local Spark"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_missing() is not None, reason=_missing() or "")]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("mlspec-notebook-test")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    yield session
    session.stop()


def render(environment: str) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Activity order and each transform's .ipynb, as the build writes them."""
    resolved = api.resolve(api.load(LAKE_PROJECT), environment, environ={})
    assert resolved.model is not None and resolved.ok
    out = ArtifactSet()
    synapse.render(RenderContext(resolved.model, resolved.spec), out)
    pipeline = json.loads(out.artifacts["synapse/pipelines/lakedemo.json"].content)
    order = [a["name"] for a in pipeline["properties"]["activities"]]
    notebooks = {
        path.removeprefix("synapse/notebooks/").removesuffix(".ipynb"): json.loads(artifact.content)
        for path, artifact in out.artifacts.items()
        if path.startswith("synapse/notebooks/") and path.endswith(".ipynb")
    }
    assert set(order) < set(notebooks), "every activity's notebook, and the runtime notebook they %run"
    return order, notebooks


def run_notebook(
    name: str, notebooks: dict[str, dict[str, Any]], namespace: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Execute notebook ``name``'s code cells in order, as a Synapse kernel would (``%run <notebook>``:
    that notebook of ``notebooks``, in the same namespace); returns the namespace."""
    namespace = {"__name__": "__main__"} if namespace is None else namespace
    for index, cell in enumerate(notebooks[name]["cells"]):
        if cell["cell_type"] != "code":
            continue
        code = "".join(cell["source"])
        if code.startswith("%run "):
            called = code.split()[1]
            run_notebook(called, notebooks, namespace)
            continue
        exec(compile(code, f"<{name} cell {index}>", "exec"), namespace)
    return namespace


def write_lake(root: Path, customers: list[str], events: list[dict[str, Any]]) -> None:
    raw = root / ACCOUNT / "raw"
    (raw / "crm" / "customers").mkdir(parents=True, exist_ok=True)
    (raw / "web" / "events").mkdir(parents=True, exist_ok=True)
    header = "customer_id,region,monthly_charges\n"
    (raw / "crm" / "customers" / "part-0.csv").write_text(header + "".join(f"{r}\n" for r in customers))
    (raw / "web" / "events" / "day-1.json").write_text("".join(json.dumps(e) + "\n" for e in events))
    (raw / "web" / "events" / "notes.txt").write_text("not json: the glob keeps this file out\n")


CUSTOMERS = ["c1,north,10.5", "c2,south,20", "c3,north,30", "c4,south,0"]
EVENTS = [{"customer_id": c, "page": p} for c, p in [("c1", "/"), ("c1", "/help"), ("c2", "/"), ("c9", "/")]]


def delta_rows(path: Path) -> list[dict[str, Any]]:
    from deltalake import DeltaTable

    rows: list[dict[str, Any]] = DeltaTable(str(path)).to_pyarrow_table().to_pylist()
    return sorted(rows, key=lambda r: str(r["customer_id"]))


def test_the_pipeline_runs_on_local_pyspark(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet
    from deltalake import DeltaTable

    lake = tmp_path / "lake"
    monkeypatch.setenv("MLSPEC_LAKE_ROOT", str(lake))
    write_lake(lake, CUSTOMERS, EVENTS)
    order, notebooks = render("dev")
    assert order == ["customer_activity", "region_summary", "customer_latest"]
    for name in order:
        run_notebook(name, notebooks)

    curated = lake / ACCOUNT / "curated" / "lakedemo"
    activity = delta_rows(curated / "customer_activity")
    assert [(r["customer_id"], r["region"], r["events"]) for r in activity] == [
        ("c1", "north", 2),
        ("c2", "south", 1),
        ("c3", "north", 0),
        ("c4", "south", 0),
    ]
    assert sorted(p.name for p in (curated / "customer_activity").glob("region=*")) == [
        "region=north",
        "region=south",
    ]
    summary = pyarrow.parquet.read_table(curated / "region_summary").to_pylist()
    assert sorted((r["region"], r["customers"], r["events"]) for r in summary) == [
        ("north", 2, 2),
        ("south", 2, 1),
    ]
    assert len(delta_rows(curated / "customer_latest")) == 4

    # A second run with new data: customer_latest is upserted (merge), not replaced.
    write_lake(lake, [*CUSTOMERS, "c5,south,5"], [*EVENTS, {"customer_id": "c1", "page": "/"}])
    for name in order:
        run_notebook(name, notebooks)
    latest = delta_rows(curated / "customer_latest")
    assert [(r["customer_id"], r["events"]) for r in latest] == [
        ("c1", 3),
        ("c2", 1),
        ("c3", 0),
        ("c4", 0),
        ("c5", 0),
    ]
    assert DeltaTable(str(curated / "customer_latest")).version() == 1  # one write, then one merge


def test_a_failing_expectation_stops_the_run_before_the_write(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = tmp_path / "lake"
    monkeypatch.setenv("MLSPEC_LAKE_ROOT", str(lake))
    write_lake(lake, CUSTOMERS, EVENTS)
    _, notebooks = render("strict")
    with pytest.raises(Exception) as failure:
        run_notebook("customer_activity", notebooks)
    assert type(failure.value).__name__ == "DataQualityError"
    assert (
        str(failure.value)
        == "expectation row_count(min=1000) failed on customer_activity: 4 rows, below the minimum 1000"
    )
    assert not (lake / ACCOUNT / "curated" / "lakedemo" / "customer_activity").exists()


# --- each expectation names its rule, the offending row count and up to five offending rows ------

ROWS = [(f"c{i}", "north" if i % 2 else "south", float(i), i % 3) for i in range(8)]


def _frame(spark: Any, rows: list[tuple[Any, ...]] = ROWS) -> Any:
    return spark.createDataFrame(rows, "id string, region string, amount double, tier int")


@pytest.mark.parametrize(
    ("check", "rows", "rule", "count", "problem", "sample_ids"),
    [
        (
            lambda lake, f: lake.expect_not_null(f, ["id", "region"], transform="t"),
            [*ROWS, (None, "east", 1.0, 0), ("c9", None, 2.0, 1)],
            "not_null(id, region)",
            2,
            "rows with no value in id or region",
            [None, "c9"],
        ),
        (
            lambda lake, f: lake.expect_unique(f, "region", transform="t"),
            ROWS[:3],
            "unique(region)",
            2,
            "rows share their region with another row",
            ["c0", "c2"],
        ),
        (
            lambda lake, f: lake.expect_accepted_values(f, "tier", [0, 1], transform="t"),
            ROWS,
            "accepted_values(tier)",
            2,
            "rows with a tier outside [0, 1]",
            ["c2", "c5"],
        ),
        (
            lambda lake, f: lake.expect_range(f, "amount", transform="t", min=0.0, max=5.0),
            ROWS,
            "range(amount, min=0, max=5)",
            2,
            "rows with amount outside [0, 5]",
            ["c6", "c7"],
        ),
        (
            lambda lake, f: lake.expect_expression(f, "amount < 1 OR tier > 0", transform="t"),
            ROWS,
            "expression(amount < 1 OR tier > 0)",
            2,
            "rows where it does not hold",
            ["c3", "c6"],
        ),
    ],
    ids=["not_null", "unique", "accepted_values", "range", "expression"],
)
def test_a_failed_expectation_shows_its_rule_count_and_offending_rows(
    spark: Any,
    check: Any,
    rows: list[tuple[Any, ...]],
    rule: str,
    count: int,
    problem: str,
    sample_ids: list[str | None],
) -> None:
    with pytest.raises(lake.DataQualityError) as failure:
        check(lake, _frame(spark, rows))
    error = failure.value
    assert (error.transform, error.rule, error.count, error.problem) == ("t", rule, count, problem)
    assert sorted(error.sample, key=lambda r: str(r["id"])) == sorted(
        [dict(zip(("id", "region", "amount", "tier"), r, strict=True)) for r in rows if r[0] in sample_ids],
        key=lambda r: str(r["id"]),
    )
    assert str(error).startswith(f"expectation {rule} failed on t: {count} {problem}; they are:\n  {{")


def test_at_most_five_offending_rows_are_kept(spark: Any) -> None:
    with pytest.raises(lake.DataQualityError) as failure:
        lake.expect_range(_frame(spark), "amount", transform="t", max=0)
    assert failure.value.count == 7 and len(failure.value.sample) == lake.SAMPLE_ROWS
    assert "; the first 5:\n" in str(failure.value) and len(str(failure.value).splitlines()) == 6


def test_row_count_names_its_bounds_and_passing_checks_raise_nothing(spark: Any) -> None:
    frame = _frame(spark)
    with pytest.raises(
        lake.DataQualityError,
        match=r"^expectation row_count\(min=1, max=5\) failed on t: 8 rows, above the maximum 5$",
    ):
        lake.expect_row_count(frame, transform="t", min=1, max=5)
    lake.expect_row_count(frame, transform="t", min=8, max=8)
    lake.expect_not_null(frame, ["id", "region"], transform="t")
    lake.expect_unique(frame, ["id"], transform="t")
    lake.expect_unique(frame, ["id", "region"], transform="t")
    lake.expect_accepted_values(frame, "tier", [0, 1, 2], transform="t")
    lake.expect_range(frame, "amount", transform="t", min=0, max=7)
    lake.expect_expression(frame, "amount >= 0", transform="t")
