"""The HTML report: spec pages and visuals over local tables, DAX measures, model and drift figures."""

from __future__ import annotations

import html
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlspec.runtime import monitor_program
from mlspec.runtime.report import (
    ReportInputs,
    ReportModel,
    ReportMonitoring,
    render_report,
)
from mlspec.runtime.report.dax import DaxError, Evaluator, Measure, format_value
from mlspec.runtime.report.visuals import MAX_GROUPS

NOW = "2026-12-01T10:00:00Z"


class Elements(HTMLParser):
    """Every element's tag and attributes, and the text inside each element with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: dict[str, list[str]] = {}
        self._open: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.elements.append((tag, values))
        if tag not in ("meta", "br", "img", "path", "use", "rect", "circle", "line", "stop"):
            self._open.append(values.get("id"))

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for element_id in self._open:
            if element_id:
                self.text.setdefault(element_id, []).append(data)

    def text_of(self, element_id: str) -> str:
        return " ".join(" ".join(self.text.get(element_id, [])).split())

    def with_attr(self, name: str, value: str | None = None) -> list[dict[str, str]]:
        return [a for _, a in self.elements if name in a and (value is None or a[name] == value)]


def parse(path: Path) -> Elements:
    parser = Elements()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


# --- DAX -----------------------------------------------------------------------------------------


@pytest.fixture
def sales() -> dict[str, pd.DataFrame]:
    return {
        "sales": pd.DataFrame(
            {
                "amount": [10.0, 20.0, None, 40.0, 30.0],
                "units": [1, 2, 3, 4, 5],
                "won": [True, False, True, True, False],
                "region": ["n", "s", "n", None, "e"],
            }
        ),
        "Cost Centers": pd.DataFrame({"budget": [100.0, 300.0]}),
        "empty": pd.DataFrame({"amount": pd.Series([], dtype=float)}),
    }


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("COUNTROWS(sales)", 5.0),
        ("SUM(sales[amount])", 100.0),
        ("AVERAGE(sales[amount])", 25.0),  # blanks are skipped
        ("MIN(sales[amount]) + MAX(sales[amount])", 50.0),
        ("MEDIAN(sales[units])", 3.0),
        ("DISTINCTCOUNT(sales[region])", 4.0),  # BLANK counts as a value
        ("COUNT(sales[amount])", 4.0),
        ("AVERAGE(sales[won])", 0.6),
        ("DIVIDE(SUM(sales[amount]), COUNTROWS(sales))", 20.0),
        ("DIVIDE(1, 0, -1)", -1.0),
        ("DIVIDE(1, 0)", None),
        ("sum( Sales[Amount] ) / 4 * (2 - 1)", 25.0),  # names ignore case
        ("SUM('Cost Centers'[budget]) -- a comment", 400.0),
        ("-SUM(sales[units]) + 0.5", -14.5),
        ("SUM(empty[amount])", None),
        ("COUNTROWS(empty)", None),
        ("SUM(empty[amount]) + 5", 5.0),  # BLANK + 5 is 5
        ("SUM(empty[amount]) * 5", None),  # BLANK * 5 is BLANK
        ("ROUND(DIVIDE(2, 3), 2)", 0.67),
        ("[total] / [rows]", 20.0),
    ],
)
def test_dax_aggregates_and_arithmetic(
    sales: dict[str, pd.DataFrame], expression: str, expected: float | None
) -> None:
    measures = {
        "m": Measure("m", "sales", expression),
        "total": Measure("total", "sales", "SUM(sales[amount])"),
        "rows": Measure("rows", "sales", "COUNTROWS(sales)"),
    }
    value = Evaluator(measures).evaluate("m", sales)
    assert value == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ('CALCULATE(SUM(sales[amount]), sales[region] = "n")', "CALCULATE() is not evaluated locally"),
        ('DIVIDE(1, "x")', "text values"),
        ("ABS(1, 2)", "ABS() with 2 argument(s)"),
        ("SUMX(sales, sales[amount])", "SUMX"),
        ("SUM(sales[region])", "numeric column"),
        ("SUM(sales[nope])", "no such column"),
        ("COUNTROWS(missing)", "not available"),
        ("sales[amount]", "needs an aggregation"),
        ("[m] + 1", "refers to itself"),
        ("SUM(sales[amount]", "expected"),
    ],
)
def test_dax_refuses_what_it_cannot_evaluate_by_name(
    sales: dict[str, pd.DataFrame], expression: str, message: str
) -> None:
    with pytest.raises(DaxError, match=re.escape(message)):
        Evaluator({"m": Measure("m", "sales", expression)}).evaluate("m", sales)


@pytest.mark.parametrize(
    ("value", "pattern", "text"),
    [
        (0.2534, "0.0%", "25.3%"),
        (1234567.0, "#,0", "1,234,567"),
        (3.14159, "0.00", "3.14"),
        (-1234.5, "#,0.00", "-1,234.50"),
        (1234.5, '"$"#,0.00', "$1,234.50"),
        (12.0, '0.0 "ms"', "12.0 ms"),
        (-0.5, "0.0%;(0.0%)", "-50.0%"),
        (1500.0, None, "1,500"),
        (0.12345, None, "0.12"),
        (None, "0.0%", "(Blank)"),
    ],
)
def test_power_bi_format_strings(value: float | None, pattern: str | None, text: str) -> None:
    assert format_value(value, pattern) == text


# --- the spec's pages and visuals ----------------------------------------------------------------


def lake(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """The report's tables (written on the first call of a test)."""
    sources = {
        "customers": (tmp_path / "customers", "parquet"),
        "stations": (tmp_path / "stations.csv", "csv"),
        "predictions": (tmp_path / "predictions", "predictions"),
        "absent": (tmp_path / "nowhere", "delta"),
    }
    if not (tmp_path / "customers").exists():
        write_lake(tmp_path)
    return sources


def write_lake(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    n = 120
    customers = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "contract": rng.choice(["monthly", "yearly", "two-year"], n),
            "tenure": rng.integers(1, 6, n),
            "charges": rng.normal(60, 15, n).round(2),
            "churned": rng.integers(0, 2, n),
            "region": rng.choice(["north", "south"], n),
        }
    )
    customers.to_parquet(tmp_path / "customers", partition_cols=["region"])  # a partitioned folder
    stations = pd.DataFrame(
        {"site": ["a", "b", "a", "c"], "uploads": [10, 20, 30, 40], "day": ["d1", "d1", "d2", "d2"]}
    )
    stations.to_csv(tmp_path / "stations.csv", index=False)
    predictions = tmp_path / "predictions"
    predictions.mkdir()
    with (predictions / "predictions-20261201.jsonl").open("w") as handle:
        for i in range(30):
            record = {
                "time": f"2026-12-01T0{8 + i // 15}:{i % 60:02d}:00+00:00",
                "project": "p",
                "endpoint": "e",
                "model": "m",
                "model_version": "2",
                "request_id": f"r{i}",
                "inputs": [{"tenure": int(i % 5 + 1), "charges": 50.0 + i, "contract": "monthly"}],
                "predictions": [i % 3 == 0],
            }
            handle.write(json.dumps(record) + "\n")


REPORT: dict[str, Any] = {
    "name": "Churn dashboard",
    "workspace": "w",
    "tables": ["customers", "predictions", "stations", "absent"],
    "measures": {
        "customers_n": {"table": "customers", "expression": "COUNTROWS(customers)", "format": "#,0"},
        "churn_rate": {"table": "customers", "expression": "AVERAGE(customers[churned])", "format": "0.0%"},
        "predicted_rate": {
            "table": "predictions",
            "expression": "AVERAGE(predictions[prediction])",
            "format": "0.0%",
        },
        "uploads": {"table": "stations", "expression": "SUM(stations[uploads])", "format": "#,0"},
        "fancy": {"table": "customers", "expression": "CALCULATE(COUNTROWS(customers), ALL(customers))"},
    },
    "pages": [
        {
            "title": "Overview",
            "visuals": [
                {"type": "card", "title": "Customers", "measure": "customers_n"},
                {"type": "card", "title": "Churn rate", "measure": "churn_rate"},
                {"type": "bar", "title": "Churn by contract", "x": "contract", "y": "churn_rate"},
                {
                    "type": "column",
                    "x": "tenure",
                    "y": "churn_rate",
                },  # untitled: the compiler's default title
                {"type": "pie", "title": "Customers by region", "x": "region", "measure": "customers_n"},
                {"type": "scatter", "title": "Charges vs tenure", "x": "tenure", "y": "charges"},
                {"type": "card", "title": "Fancy", "measure": "fancy"},
            ],
        },
        {
            "title": "Production",
            "visuals": [
                {
                    "type": "card",
                    "title": "Predicted rate",
                    "measure": "predicted_rate",
                    "table": "predictions",
                },
                {
                    "type": "line",
                    "title": "Predicted rate over time",
                    "table": "predictions",
                    "x": "time",
                    "y": "predicted_rate",
                },
                {
                    "type": "table",
                    "title": "Recent scores",
                    "table": "predictions",
                    "columns": ["time", "model", "prediction", "tenure", "nope"],
                },
                {"type": "bar", "title": "Uploads by site", "table": "stations", "x": "site", "y": "uploads"},
                {"type": "card", "title": "From nowhere", "table": "absent", "measure": "uploads"},
            ],
        },
    ],
}


def render_spec_report(tmp_path: Path, name: str = "report.html") -> Path:
    inputs = ReportInputs(project="churn", environment="local", reports=[REPORT], tables=lake(tmp_path))
    return render_report(inputs, tmp_path / name)


def test_every_page_and_visual_is_there_with_a_stable_id(tmp_path: Path) -> None:
    page = parse(render_spec_report(tmp_path))
    pages = page.with_attr("data-page")
    assert [p["data-page"] for p in pages] == ["Overview", "Production"]
    visuals = page.with_attr("data-visual")
    assert [v["id"] for v in visuals] == [f"churn-dashboard-p1-v{i}" for i in range(1, 8)] + [
        f"churn-dashboard-p2-v{i}" for i in range(1, 6)
    ]
    assert [v["data-visual"] for v in visuals] == [
        "card", "card", "bar", "column", "pie", "scatter", "card", "card", "line", "table", "bar", "card"
    ]  # fmt: skip
    titles = [v["data-title"] for v in visuals]
    assert titles[3] == "churn_rate by tenure"
    for visual in visuals:
        assert page.text_of(visual["id"]).startswith(visual["data-title"])


def test_measure_values_are_right_on_known_data(tmp_path: Path) -> None:
    tables = lake(tmp_path)
    customers = pd.read_parquet(tables["customers"][0])
    path = render_spec_report(tmp_path)
    page = parse(path)
    assert page.text_of("churn-dashboard-p1-v1") == f"Customers {len(customers):,}"
    assert page.text_of("churn-dashboard-p1-v2") == f"Churn rate {customers.churned.mean():.1%}"
    assert page.text_of("churn-dashboard-p2-v1") == f"Predicted rate {10 / 30:.1%}"  # every third is True
    # The bar chart's numbers, group by group (the group is the filter context of the measure).
    text = path.read_text()
    bar = text[text.index('id="churn-dashboard-p1-v3"') : text.index('id="churn-dashboard-p1-v4"')]
    rows = dict(re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td></tr>", bar))
    expected = customers.groupby("contract").churned.mean()
    assert rows == {k: f"{v:.1%}" for k, v in expected.items()}
    uploads = text[text.index('id="churn-dashboard-p2-v4"') : text.index('id="churn-dashboard-p2-v5"')]
    assert dict(re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td></tr>", uploads)) == {
        "a": "40",
        "c": "40",
        "b": "20",
    }
    # A partitioned folder keeps its partition column: the pie groups by it.
    pie = text[text.index('id="churn-dashboard-p1-v5"') : text.index('id="churn-dashboard-p1-v6"')]
    counts = customers.region.astype(str).value_counts()
    assert dict(re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td></tr>", pie)) == {
        k: f"{v:,}" for k, v in counts.items()
    }


def test_what_cannot_be_shown_is_a_visible_note_naming_it(tmp_path: Path) -> None:
    page = parse(render_spec_report(tmp_path))
    fancy = page.text_of("churn-dashboard-p1-v7")
    assert "'fancy' could not be evaluated locally" in fancy and "CALCULATE" in fancy
    assert "table 'absent'" in page.text_of("churn-dashboard-p2-v5")
    assert "nope" in page.text_of("churn-dashboard-p2-v3")  # the one column the table lacks
    notes = [a for _, a in page.elements if a.get("class") == "note"]
    assert notes


def test_table_visual_lists_the_first_rows_of_its_columns(tmp_path: Path) -> None:
    text = render_spec_report(tmp_path).read_text()
    table = text[text.index('id="churn-dashboard-p2-v3"') : text.index('id="churn-dashboard-p2-v4"')]
    assert re.findall(r"<th>([^<]+)</th>", table) == ["time", "model", "prediction", "tenure"]
    first = re.search(r"<tbody><tr>(.*?)</tr>", table)
    assert first is not None
    assert re.findall(r"<td>([^<]*)</td>", first.group(1)) == ["2026-12-01T08:00:00+00:00", "m", "True", "1"]
    assert table.count("<tr>") == 1 + 20  # header + the first 20 of 30 rows
    assert "showing 20 of 30 rows" in table


def test_report_is_self_contained_and_deterministic(tmp_path: Path) -> None:
    first = render_spec_report(tmp_path, "a.html")
    second = render_spec_report(tmp_path, "b.html")
    text = first.read_text()
    assert first.read_bytes() == second.read_bytes()
    assert text.count("<svg") >= 6  # bar, column, pie, scatter, line, bar
    page = parse(first)
    for tag, attrs in page.elements:
        for name in ("src", "href", "xlink:href"):
            assert not attrs.get(name, "").startswith(("http://", "https://", "//")), (tag, attrs)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text)
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert not re.search(r"url\((?!#)", text)  # SVG clip paths point inside the page only


# --- model, monitoring, alerts ------------------------------------------------------------------


def monitored(tmp_path: Path, task: str) -> tuple[ReportMonitoring, Path]:
    rng = np.random.default_rng(4)
    n = 600
    reference = pd.DataFrame(
        {"age": rng.normal(40, 8, n), "plan": rng.choice(["a", "b", "c"], n), "y": rng.integers(0, 2, n)}
    )
    if task == "regression":
        reference["y"] = rng.normal(100, 20, n)
    reference.to_parquet(tmp_path / "train.parquet")
    folder = tmp_path / "log"
    folder.mkdir()
    with (folder / "predictions-20261201.jsonl").open("w") as handle:
        for i in range(200):
            inputs = [{"age": float(rng.normal(55, 8)), "plan": str(rng.choice(["a", "b", "c"]))}]
            prediction = int(rng.integers(0, 2)) if task == "classification" else float(rng.normal(100, 20))
            handle.write(
                json.dumps(
                    {
                        "time": "2026-12-01T09:00:00+00:00",
                        "request_id": f"r{i}",
                        "inputs": inputs,
                        "predictions": [prediction],
                    }
                )
                + "\n"
            )
    alerts = [
        {
            "name": "drift",
            "signal": "data_drift",
            "operator": ">",
            "threshold": 0.2,
            "window": "1d",
            "severity": 2,
        },
        {
            "name": "cpu",
            "signal": "cpu_percent",
            "operator": ">",
            "threshold": 80,
            "window": "15m",
            "severity": 3,
        },
    ]
    config = {
        "project": "p",
        "environment": "local",
        "model": "m",
        "model_version": "1",
        "task": task,
        "target": "y",
        "features": ["age", "plan"],
        "reference": {"path": str(tmp_path / "train.parquet"), "format": "parquet"},
        "predictions": {"path": str(folder)},
        "alerts": alerts,
        "now": NOW,
    }
    result = monitor_program.run_monitor(config)
    return ReportMonitoring(
        result, (tmp_path / "train.parquet", "parquet"), folder
    ), tmp_path / "train.parquet"


def test_monitoring_section_draws_every_feature_and_the_alert_outcomes(tmp_path: Path) -> None:
    monitoring, _ = monitored(tmp_path, "classification")
    spec_alerts = [
        {"name": "drift", "severity": 2},
        {"name": "cpu", "severity": 3},
        {
            "name": "never-run",
            "signal": "error_rate",
            "operator": ">",
            "threshold": 0.1,
            "window": "5m",
            "severity": 1,
        },
    ]
    path = render_report(
        ReportInputs(project="p", environment="local", monitoring=monitoring, alerts=spec_alerts),
        tmp_path / "r.html",
    )
    page = parse(path)
    drift = page.with_attr("data-chart", "drift")
    assert [d["data-feature"] for d in drift] == ["age", "plan", "prediction"]
    text = path.read_text()
    assert "normalized wasserstein distance" in text and "jensen shannon distance" in text
    states = {a["data-alert"]: a["data-state"] for a in page.with_attr("data-alert")}
    assert states == {"drift": "fired", "cpu": "not-evaluated", "never-run": "not-evaluated"}
    assert "platform metric" in text
    features = {a["data-feature"] for a in page.with_attr("data-feature")}
    assert {"age", "plan"} <= features


def evaluated(tmp_path: Path, task: str, frame: pd.DataFrame, model: Any, target: str) -> Path:
    """The evaluation folder the build's own evaluate.py writes for ``model`` on ``frame``."""
    import subprocess
    import sys

    import mlflow.sklearn

    from mlspec.compiler.azureml.scripts import render_script

    features = [c for c in frame.columns if c != target]
    metric = "roc_auc" if task == "classification" else "rmse"
    script = tmp_path / "evaluate.py"
    script.write_text(
        render_script(
            "evaluate.py.j2", target=target, features=features, task=task, metrics=[metric], gate=[]
        )
    )
    (tmp_path / "test").mkdir()
    frame.to_parquet(tmp_path / "test" / "test.parquet")
    mlflow.sklearn.save_model(model, str(tmp_path / "model"))
    subprocess.run(
        [
            sys.executable,
            str(script),
            "--model",
            str(tmp_path / "model"),
            "--test-data",
            str(tmp_path / "test"),
            "--evaluation",
            str(tmp_path / "evaluation"),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": (tmp_path / "mlruns").as_uri()},
    )
    return tmp_path / "evaluation"


@pytest.mark.slow
def test_classification_model_gets_roc_and_confusion_matrix(tmp_path: Path) -> None:
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(n_samples=400, n_features=4, random_state=0)
    frame = pd.DataFrame(x, columns=["f1", "f2", "f3", "f4"]).assign(label=y)
    model = LogisticRegression().fit(frame.iloc[:300][["f1", "f2", "f3", "f4"]], frame.iloc[:300].label)
    evaluation = evaluated(tmp_path, "classification", frame.iloc[300:], model, "label")
    monitoring, _ = monitored(tmp_path, "classification")
    inputs = ReportInputs(
        project="p",
        environment="local",
        model=ReportModel(
            "clf",
            "3",
            "classification",
            {"roc_auc": 0.91, "accuracy": 0.85},
            {
                "passed": False,
                "failures": ["roc_auc = 0.91 is not >= 0.95"],
                "gate": [["roc_auc", ">=", 0.95]],
            },
        ),
        evaluation=evaluation,
        monitoring=monitoring,
    )
    path = render_report(inputs, tmp_path / "model.html")
    page = parse(path)
    charts = [c["data-chart"] for c in page.with_attr("data-chart")]
    assert charts[:2] == ["roc", "confusion"]
    text = path.read_text()
    # The legend gives the area the evaluate step measured on the test split.
    measured = json.loads((evaluation / "metrics.json").read_text())["roc_auc"]
    assert f"class 1, AUC {measured:.3f}" in text
    assert page.with_attr("data-gate", "failed")
    assert "roc_auc = 0.91 is not &gt;= 0.95" in text
    # The confusion matrix's cells add up to the test split.
    confusion = text[text.index('data-chart="confusion"') :]
    confusion = confusion[: confusion.index("</figure>")]
    rows = re.findall(r"<tr><td>[^<]*</td>((?:<td>\d+</td>)+)</tr>", confusion)  # label, then counts
    counts = [int(n) for row in rows for n in re.findall(r"\d+", row)]
    assert len(counts) == 4 and sum(counts) == 100
    assert counts[0] + counts[3] >= 80  # a separable problem: mostly on the diagonal


@pytest.mark.slow
def test_multiclass_and_regression_charts_from_the_evaluate_step(tmp_path: Path) -> None:
    from sklearn.datasets import load_iris, make_regression
    from sklearn.linear_model import LinearRegression
    from sklearn.tree import DecisionTreeClassifier

    iris = load_iris(as_frame=True).frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    features = [c for c in iris.columns if c != "target"]
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(iris[features], iris.target)
    (tmp_path / "iris").mkdir()
    charts = json.loads(
        (evaluated(tmp_path / "iris", "classification", iris, tree, "target") / "charts.json").read_text()
    )
    assert charts["confusion"]["labels"] == ["0", "1", "2"]
    assert sum(map(sum, charts["confusion"]["matrix"])) == 150
    assert [c["label"] for c in charts["roc"]["curves"]] == ["0", "1", "2"]  # one-vs-rest per class
    assert charts["roc"]["scored_by"] == "probabilities"

    x, y = make_regression(n_samples=3000, n_features=3, noise=5.0, random_state=0)
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(target=y)
    (tmp_path / "reg").mkdir()
    evaluation = evaluated(tmp_path / "reg", "regression", frame, LinearRegression().fit(x, y), "target")
    residuals = json.loads((evaluation / "charts.json").read_text())["residuals"]
    assert residuals["rows"] == 3000 and len(residuals["predicted"]) == 2000  # the scatter is thinned
    assert sum(residuals["histogram"]["counts"]) == 3000  # the histogram counts every row
    inputs = ReportInputs(
        project="p",
        environment="local",
        model=ReportModel("reg", "1", "regression", {"rmse": 5.1}),
        evaluation=evaluation,
    )
    path = render_report(inputs, tmp_path / "reg.html")
    page = parse(path)
    assert [c["data-chart"] for c in page.with_attr("data-chart")] == ["residuals"]
    assert "2000 of 3000 rows in the scatter" in path.read_text()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "the evaluate step wrote no charts.json"),
        ("{not json", "cannot read"),
        (
            '{"task": "classification", "confusion": {"labels": ["a"]}}',
            "is not as the evaluate step writes it",
        ),
        (
            '{"task": "regression", "residuals": {"predicted": [1, "x"]}}',
            "is not as the evaluate step writes it",
        ),
    ],
)
def test_charts_that_cannot_be_drawn_are_a_note(tmp_path: Path, content: str | None, problem: str) -> None:
    (tmp_path / "evaluation").mkdir()
    if content is not None:
        (tmp_path / "evaluation" / "charts.json").write_text(content)
    inputs = ReportInputs(
        project="p",
        environment="local",
        model=ReportModel("m", "1", "classification", {}),
        evaluation=tmp_path / "evaluation",
    )
    text = html.unescape(render_report(inputs, tmp_path / "r.html").read_text())
    assert "no model charts: " in text and problem in text
    assert 'data-chart="' not in text


def test_a_wide_model_draws_the_watched_features_and_the_most_drifted_others() -> None:
    from mlspec.runtime.report import MAX_DRIFT_FIGURES, _features_to_draw

    drift = {f"px{i}": i / 100 for i in range(40)}
    shown = _features_to_draw(drift, {"px0", "px1"})
    assert len(shown) == MAX_DRIFT_FIGURES == 16
    assert set(shown) == {"px0", "px1", *(f"px{i}" for i in range(26, 40))}
    assert shown == [f for f in drift if f in set(shown)]  # in the table's order
    assert _features_to_draw({"a": 0.1, "b": None}, set()) == ["a", "b"]


# --- review findings: tables not written yet, axes, header, layout -------------------------------


def visual_texts(path: Path, slug: str, count: int) -> list[str]:
    page = parse(path)
    return [page.text_of(f"{slug}-p1-v{i}") for i in range(1, count + 1)]


def test_tables_not_written_yet_say_no_data_yet(tmp_path: Path) -> None:
    (tmp_path / "empty_delta").mkdir()
    (tmp_path / "marker_only").mkdir()
    (tmp_path / "marker_only" / "_SUCCESS").write_text("")
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "predictions-20261201.jsonl").write_text("")
    sources = {
        "missing": (tmp_path / "missing", "delta"),
        "empty_delta": (tmp_path / "empty_delta", "delta"),
        "marker_only": (tmp_path / "marker_only", "parquet"),
        "empty_log": (tmp_path / "log", "predictions"),
        "no_log": (tmp_path / "no-log", "predictions"),
    }
    visuals = [
        {"type": "table", "title": name, "table": name, "columns": ["tenure_months"]} for name in sources
    ]
    report = {"name": "r", "tables": list(sources), "pages": [{"title": "p", "visuals": visuals}]}
    path = render_report(
        ReportInputs(project="p", environment="local", reports=[report], tables=sources), tmp_path / "r.html"
    )
    texts = visual_texts(path, "r", len(sources))
    for (name, (where, _)), text in zip(sources.items(), texts, strict=True):
        assert (
            text == f"{name} table {name!r}: no data yet at {where} (run the transforms / serve step first)"
        )
    page_text = html.unescape(path.read_text())
    assert "could not be read" not in page_text and "not a column" not in page_text


def axis_rows(path: Path, visual_id: str) -> list[tuple[str, str]]:
    text = path.read_text()
    start = text.index(f'id="{visual_id}"')
    end = text.index("</figure>", start)
    return re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td></tr>", text[start:end])


def render_axes(
    tmp_path: Path, frame: pd.DataFrame, visuals: list[dict[str, Any]], fmt: str = "parquet"
) -> Path:
    table = tmp_path / ("t.csv" if fmt == "csv" else "t.parquet")
    if fmt == "csv":
        frame.to_csv(table, index=False)
    else:
        frame.to_parquet(table)
    report = {
        "name": "axes",
        "tables": ["t"],
        "measures": {"n": {"table": "t", "expression": "COUNTROWS(t)", "format": "0"}},
        "pages": [{"title": "p", "visuals": visuals}],
    }
    inputs = ReportInputs(project="p", environment="local", reports=[report], tables={"t": (table, fmt)})
    return render_report(inputs, tmp_path / "axes.html")


def test_a_numeric_axis_with_many_values_is_binned_in_order(tmp_path: Path) -> None:
    tenure = np.arange(1, 93)  # 92 distinct months, one row each
    frame = pd.DataFrame({"tenure": tenure, "few": [10, 9, 100, 2] * 23})
    path = render_axes(
        tmp_path,
        frame,
        [
            {"type": "column", "title": "by tenure", "x": "tenure", "measure": "n"},
            {"type": "bar", "title": "by few", "x": "few", "measure": "n"},
        ],
    )
    binned = axis_rows(path, "axes-p1-v1")
    dash = "\N{EN DASH}"
    assert binned[0] == (f"0{dash}5", "4") and binned[1] == (f"5{dash}10", "5")
    assert binned[-1] == (f"90{dash}95", "3")
    assert len(binned) == 19 and sum(int(n) for _, n in binned) == 92
    assert "showing the first" not in path.read_text()
    assert [label for label, _ in axis_rows(path, "axes-p1-v2")] == ["2", "9", "10", "100"]


def test_dates_and_decimals_from_parquet_are_ordered_by_value(tmp_path: Path) -> None:
    import datetime
    import decimal

    days = [datetime.date(2026, 11, d) for d in (3, 1, 2, 3, 3, 1)]  # by count: 3rd, 1st, 2nd
    prices = [decimal.Decimal(v) for v in ("10.5", "9.25", "100", "10.5", "10.5", "9.25")]
    path = render_axes(
        tmp_path,
        pd.DataFrame({"day": days, "price": prices}),
        [
            {"type": "bar", "title": "rows", "x": "day", "measure": "n"},
            {"type": "column", "title": "rows", "x": "price", "measure": "n"},
        ],
    )
    assert axis_rows(path, "axes-p1-v1") == [("2026-11-01", "2"), ("2026-11-02", "1"), ("2026-11-03", "3")]
    assert [label for label, _ in axis_rows(path, "axes-p1-v2")] == ["9.25", "10.5", "100"]


def test_a_line_over_text_timestamps_groups_by_day_or_by_the_grain_its_title_names(tmp_path: Path) -> None:
    start = pd.Timestamp("2026-11-29T00:00:00Z")
    times = [start + pd.Timedelta(minutes=37 * i) for i in range(200)]  # ~5 days, 200 instants
    frame = pd.DataFrame({"time": [t.isoformat() for t in times]})  # a CSV keeps them as text
    path = render_axes(
        tmp_path,
        frame,
        [
            {"type": "line", "title": "Requests over time", "x": "time", "measure": "n"},
            {"type": "line", "title": "Requests per hour", "x": "time", "measure": "n"},
        ],
        fmt="csv",
    )
    by_day = axis_rows(path, "axes-p1-v1")
    expected = pd.Series(1, index=[t.strftime("%Y-%m-%d") for t in times]).groupby(level=0).sum()
    assert by_day == [(day, str(n)) for day, n in expected.items()]
    by_hour = axis_rows(path, "axes-p1-v2")
    assert by_hour[0] == ("2026-11-29 00:00", "2") and len(by_hour) == MAX_GROUPS
    assert "showing the first 50 of" in path.read_text()  # ~123 hours: the grain the title asked for


def test_roc_legend_names_the_class() -> None:
    from mlspec.runtime.report.charts import roc_chart

    svg = roc_chart([("1", np.array([0.0, 0.2, 1.0]), np.array([0.0, 0.8, 1.0]), 0.894)])
    assert "class 1, AUC 0.894" in svg


def test_wide_tables_scroll_inside_the_page(tmp_path: Path) -> None:
    monitoring, _ = monitored(tmp_path, "classification")
    path = render_report(
        ReportInputs(project="p", environment="local", monitoring=monitoring), tmp_path / "r.html"
    )
    text = path.read_text()
    assert "<div class=\"scroll\"><table class='features'>" in text
    assert "<div class=\"scroll\"><table class='alerts'>" in text
    css = re.search(r"<style>(.*)</style>", text, re.DOTALL)
    assert css is not None and ".scroll{max-width:100%;overflow-x:auto}" in css.group(1)


def header_of(path: Path) -> str:
    found = re.search(r"<header>(.*?)<nav>", path.read_text(), re.DOTALL)
    assert found is not None
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


def test_header_shows_model_version_run_and_time_only_when_given(tmp_path: Path) -> None:
    model = ReportModel("churn-clf", "3", "classification", {"accuracy": 0.8})
    given = ReportInputs(
        project="p", environment="dev", model=model, run_id="run-42", generated="2026-12-01 10:00 UTC"
    )
    header = " ".join(header_of(render_report(given, tmp_path / "a.html")).split())
    assert (
        "environment dev · model churn-clf version 3 · run run-42 · generated 2026-12-01 10:00 UTC" in header
    )
    bare = header_of(render_report(ReportInputs(project="p", environment="dev"), tmp_path / "b.html"))
    assert "version" not in bare and "run " not in bare.replace("local run report", "")
    assert "generated" not in bare


def test_drift_figures_leave_out_other_model_versions(tmp_path: Path) -> None:
    monitoring, _ = monitored(tmp_path, "classification")
    assert monitoring.predictions is not None
    with (monitoring.predictions / "predictions-20261201.jsonl").open("a") as handle:
        for i in range(50):  # an earlier version's traffic, far outside the reference
            record = {"time": "2026-12-01T09:30:00+00:00", "request_id": f"old{i}", "model_version": "0"}
            handle.write(
                json.dumps({**record, "inputs": [{"age": 500.0, "plan": "z"}], "predictions": [1]}) + "\n"
            )
    assert monitoring.result["model_version"] == "1"

    def plan_levels(result: dict[str, Any], name: str) -> list[str]:
        shown = ReportMonitoring(result, monitoring.reference, monitoring.predictions)
        path = render_report(
            ReportInputs(project="p", environment="local", monitoring=shown), tmp_path / name
        )
        figure = path.read_text().split('data-chart="drift" data-feature="plan"', 1)[1].split("</figure>")[0]
        return re.findall(r">([a-z])</text>", figure)

    assert sorted(plan_levels(dict(monitoring.result), "v1.html")) == ["a", "b", "c"]
    assert "z" in plan_levels({**monitoring.result, "model_version": None}, "all.html")  # the test can fail


@pytest.mark.parametrize(
    "field", ["avg(amount)", "sum(sales.amount)", "max(units)", "distinct_count(region)"]
)
def test_aggregate_shorthands_of_visuals_are_evaluated_as_the_semantic_model_does(
    sales: dict[str, pd.DataFrame], field: str
) -> None:
    frame = sales["sales"]
    truth = {
        "avg(amount)": frame["amount"].mean(),
        "sum(sales.amount)": frame["amount"].sum(),
        "max(units)": frame["units"].max(),
        "distinct_count(region)": frame["region"].nunique(dropna=False),
    }[field]
    assert Evaluator({}).value(field, "sales", sales) == pytest.approx(float(truth))
    with pytest.raises(DaxError, match="is not a column"):
        Evaluator({}).value("avg(nope)", "sales", sales)
