"""The local stand-in for Power BI: one static, self-contained HTML report of a run.

:func:`render_report` writes one HTML file that opens offline: CSS inline, every chart an inline
SVG drawn by matplotlib, no script, no font, image or style fetched from anywhere. It shows

- every page and visual of the spec's ``reports`` over the local tables (see
  :mod:`mlspec.runtime.report.visuals`; measures by :mod:`mlspec.runtime.report.dax`);
- the model: version, test metrics, the evaluation gate, and its ROC curve and confusion matrix
  (classification) or residuals (regression) on the test split;
- monitoring: serving statistics, model metrics on joined ground truth, per-feature drift and data
  quality, and for every feature the reference and production distributions side by side;
- every alert with its outcome.

Each spec visual is a ``<figure>`` with a stable ``id`` (``<report>-p<page>-v<visual>``, counted
from 1) and ``data-visual`` (its type); charts carry ``data-chart``. The same inputs give the same
bytes.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mlspec.runtime import monitor_program as monitor
from mlspec.runtime.report import charts as report_charts
from mlspec.runtime.report.dax import Evaluator, Measure
from mlspec.runtime.report.visuals import Visual, cell_text, note, render_visual

MAX_DRIFT_FIGURES = 16
TableSource = tuple[Path | str, str]
"""``(local path, format)``; format is csv, parquet, json, delta or predictions (the prediction log)."""


@dataclass(frozen=True)
class ReportModel:
    name: str
    version: str
    task: str
    metrics: Mapping[str, float | None] = field(default_factory=dict)
    gate: Mapping[str, Any] | None = None
    """``{passed, failures: [str], gate: [[metric, comparison, threshold]]}`` (the evaluate step's gate.json)."""


@dataclass(frozen=True)
class ReportMonitoring:
    """The monitor program's result, and the data behind its drift figures."""

    result: Mapping[str, Any]
    reference: TableSource | None = None
    predictions: Path | None = None


@dataclass(frozen=True)
class ReportInputs:
    project: str
    environment: str
    reports: Sequence[Mapping[str, Any]] = ()
    """The spec's reports as plain dicts: ``{name, tables, measures: {name: {table, expression,
    format}}, pages: [{title, visuals: [{type, title, measure, x, y, columns, table}]}]}``."""
    tables: Mapping[str, TableSource] = field(default_factory=dict)
    model: ReportModel | None = None
    evaluation: Path | None = None
    """The evaluate step's output folder: the model charts are drawn from its ``charts.json``."""
    monitoring: ReportMonitoring | None = None
    alerts: Sequence[Mapping[str, Any]] = ()
    """The spec's alerts as plain dicts (name, signal, operator, threshold, window, severity, ...)."""
    run_id: str | None = None
    """The run the report belongs to, shown in the header when set."""
    generated: str | None = None
    """When the report was made, as the caller wants it shown (the header leaves it out when
    ``None``, so the same inputs keep giving the same bytes)."""


def render_report(inputs: ReportInputs, output: Path) -> Path:
    """Write the report of ``inputs`` to ``output`` (an ``.html`` file) and return its path."""
    tables, problems = load_tables(inputs.tables)
    sections: list[tuple[str, str, str]] = []  # (anchor, heading, body)
    slugs: set[str] = set()
    for index, report in enumerate(inputs.reports, start=1):
        slug = _unique(_slug(str(report.get("name") or f"report-{index}")), slugs)
        sections.append((slug, str(report.get("name") or slug), _report(report, slug, tables, problems)))
    if inputs.model is not None or inputs.evaluation is not None:
        sections.append(("model", "Model", _model_section(inputs.model, inputs.evaluation)))
    if inputs.monitoring is not None:
        watched = {f for alert in inputs.alerts for f in (alert.get("features") or [])}
        sections.append(("monitoring", "Monitoring", _monitoring_section(inputs.monitoring, watched)))
    if inputs.alerts or inputs.monitoring is not None:
        outcomes = (inputs.monitoring.result.get("alerts") if inputs.monitoring else None) or []
        sections.append(("alerts", "Alerts", _alerts_section(inputs.alerts, outcomes)))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(_page(inputs, sections), encoding="utf-8")
    return output


# --- tables ----------------------------------------------------------------------------------


def load_tables(sources: Mapping[str, TableSource]) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """The tables that could be read, and for the others what went wrong.

    A table whose path does not exist, holds no file or reads as no row has no data yet (the
    report was made before the step that writes it ran): that is what its problem says, rather
    than what the engine says about an empty folder or which columns an empty log lacks."""
    tables: dict[str, pd.DataFrame] = {}
    problems: dict[str, str] = {}
    for name, (path, fmt) in sources.items():
        where = Path(path)
        no_data = f"table {name!r}: no data yet at {where} (run the transforms / serve step first)"
        if not _holds_files(where):
            problems[name] = no_data
            continue
        try:
            if fmt == "predictions":
                frame = monitor.read_prediction_log(where).flat()
            else:
                frame = monitor.read_table(where, fmt)
        except Exception as error:  # any reader failure: the report shows it instead of failing
            problems[name] = f"table {name!r} could not be read: {error}"
            continue
        if frame.empty:
            problems[name] = no_data
        else:
            tables[name] = frame
    return tables, problems


def _holds_files(path: Path) -> bool:
    """Whether ``path`` is a file or a folder with one that is not a marker (``_SUCCESS``, ``.crc``)."""
    if path.is_file():
        return True
    return path.is_dir() and any(p.is_file() and not p.name.startswith(("_", ".")) for p in path.rglob("*"))


# --- spec reports --------------------------------------------------------------------------


def _report(
    report: Mapping[str, Any], slug: str, tables: Mapping[str, pd.DataFrame], problems: Mapping[str, str]
) -> str:
    names = [str(t) for t in report.get("tables") or []]
    evaluator = Evaluator(
        {
            name: Measure(name, str(m.get("table") or ""), str(m.get("expression") or ""), m.get("format"))
            for name, m in (report.get("measures") or {}).items()
        }
    )
    parts = [note(problems[n]) for n in names if n in problems]
    for page_index, page in enumerate(report.get("pages") or [], start=1):
        page_id = f"{slug}-p{page_index}"
        title = str(page.get("title") or f"Page {page_index}")
        figures = []
        for visual_index, raw in enumerate(page.get("visuals") or [], start=1):
            visual = Visual.from_spec(raw, names[0] if names else "")
            body = render_visual(visual, tables, evaluator, problems)
            figures.append(
                f'<figure class="visual visual-{_attr(visual.type)}" id="{page_id}-v{visual_index}" '
                f'data-visual="{_attr(visual.type)}" data-title="{_attr(visual.title)}">'
                f"<figcaption>{html.escape(visual.title)}</figcaption>{body}</figure>"
            )
        parts.append(
            f'<section class="page" id="{page_id}" data-page="{_attr(title)}"><h3>{html.escape(title)}</h3>'
            f'<div class="visuals">{"".join(figures)}</div></section>'
        )
    return "".join(parts)


# --- the model -------------------------------------------------------------------------------


def _model_section(model: ReportModel | None, evaluation: Path | None) -> str:
    parts = []
    if model is not None:
        parts.append(
            _facts([("Model", model.name), ("Version", model.version or "—"), ("Task", model.task)])
            + _gate(model)
            + _key_values("Test metrics", model.metrics)
        )
    if evaluation is not None:
        parts.append(_model_charts(evaluation))
    return "".join(parts)


def _gate(model: ReportModel) -> str:
    if model.gate is None:
        return ""
    passed = bool(model.gate.get("passed"))
    rows = []
    for condition in model.gate.get("gate") or []:
        metric, comparison, threshold = [*condition, None, None, None][:3]
        rows.append(
            f"<tr><td>{html.escape(str(metric))}</td><td>{html.escape(str(comparison))} {_number(threshold)}</td>"
            f"<td>{_number(model.metrics.get(str(metric)))}</td></tr>"
        )
    failures = "".join(f"<li>{html.escape(str(f))}</li>" for f in model.gate.get("failures") or [])
    badge = '<span class="badge ok">passed</span>' if passed else '<span class="badge bad">failed</span>'
    return (
        f'<div class="gate" data-gate="{"passed" if passed else "failed"}"><h3>Evaluation gate {badge}</h3>'
        f"<table><tr><th>Metric</th><th>Required</th><th>Measured</th></tr>{''.join(rows)}</table>"
        f"{f'<ul>{failures}</ul>' if failures else ''}</div>"
    )


def _model_charts(evaluation: Path) -> str:
    from mlspec.runtime.report.model_charts import ChartsUnreadable, model_charts

    try:
        charts = model_charts(evaluation)
    except ChartsUnreadable as error:  # shown; the rest of the report still renders
        return note(f"no model charts: {error}")
    figures = "".join(
        f'<figure class="chart" data-chart="{c.kind}"><figcaption>{html.escape(c.title)}</figcaption>'
        f"{c.svg}{_data_rows(c.table)}</figure>"
        for c in charts
    )
    return f'<div class="charts">{figures}</div>'


def _data_rows(rows: Sequence[Sequence[str]]) -> str:
    """A chart's numbers under it, folded away."""
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:])
    return f'<details class="data"><summary>Data</summary><table><tr>{head}</tr>{body}</table></details>'


# --- monitoring ------------------------------------------------------------------------------


def _monitoring_section(monitoring: ReportMonitoring, watched: set[str]) -> str:
    result = monitoring.result
    windows = result.get("windows") or {}
    facts = [
        ("Computed at", str(result.get("now") or "—")),
        ("Logged predictions", str(result.get("prediction_rows", "—"))),
        ("Rows with ground truth", str(result.get("ground_truth_rows", "—"))),
        ("Statistics written", str(result.get("rows", "—"))),
    ]
    if result.get("other_version_rows"):
        version = result.get("model_version")
        facts.insert(2, (f"Left out (not model version {version})", str(result["other_version_rows"])))
    parts = [
        _facts(facts),
        _key_values(f"Serving (window {windows.get('serving', '—')})", result.get("serving") or {}),
        _key_values(
            f"Model metrics on ground truth (window {windows.get('model_metric', '—')})",
            result.get("model_metrics") or {},
        ),
        _feature_table(result),
    ]
    notes = result.get("notes") or {}
    parts += [note(f"{family}: {text}") for family, text in sorted(notes.items())]
    parts.append(_drift_charts(monitoring, watched))
    return "".join(parts)


def _feature_table(result: Mapping[str, Any]) -> str:
    drift = result.get("drift") or {}
    if not drift:
        return ""
    kinds, details = result.get("feature_kinds") or {}, result.get("drift_metrics") or {}
    quality, feature_notes = result.get("data_quality") or {}, result.get("feature_notes") or {}
    metrics = [monitor.JS, monitor.NWD, monitor.PSI]
    head = "".join(
        f"<th>{html.escape(m)}</th>" for m in ["feature", "kind", *metrics, *monitor.QUALITY_METRICS]
    )
    rows = []
    for feature in drift:
        cells = [details.get(feature, {}).get(m) for m in metrics]
        cells += [quality.get(feature, {}).get(m) for m in monitor.QUALITY_METRICS]
        kind = kinds.get(feature) or feature_notes.get(feature, "—")
        rows.append(
            f'<tr data-feature="{_attr(feature)}"><td>{html.escape(feature)}</td><td>{html.escape(kind)}</td>'
            + "".join(f"<td>{_number(v)}</td>" for v in cells)
            + "</tr>"
        )
    window = (result.get("windows") or {}).get("data_drift", "—")
    table = f"<table class='features'><tr>{head}</tr>{''.join(rows)}</table>"
    return f"<h3>Features (drift window {html.escape(str(window))})</h3>{_scrolling(table)}"


def _scrolling(table: str) -> str:
    """A wide table in a box that scrolls sideways, so the page itself keeps its width."""
    return f'<div class="scroll">{table}</div>'


def _drift_charts(monitoring: ReportMonitoring, watched: set[str]) -> str:
    result = monitoring.result
    drift: Mapping[str, Any] = result.get("drift") or {}
    shown = _features_to_draw(drift, watched)
    if monitoring.reference is None or not Path(monitoring.reference[0]).exists():
        return note("no reference data for the drift figures")
    try:
        reference = monitor.read_table(Path(monitoring.reference[0]), monitoring.reference[1])
    except Exception as error:  # the figures are optional: say why they are missing
        return note(f"the reference data could not be read: {error}")
    # The records the monitor measured: those of the monitored model version (and unversioned ones).
    production, _ = monitor.read_prediction_log(monitoring.predictions).of_version(
        str(result.get("model_version") or "")
    )
    if result.get("now"):
        end = pd.Timestamp(str(result["now"])).to_pydatetime()
        minutes = monitor.window_minutes(str((result.get("windows") or {}).get("data_drift") or "P1D"))
        production = production.within(end - pd.Timedelta(minutes=minutes).to_pytimedelta(), end)
    figures = []
    for feature in shown:
        if feature not in reference.columns:
            continue
        column = production.inputs.get(feature, pd.Series([], dtype=object))
        figures.append(_drift_figure(feature, reference[feature], column, drift.get(feature), None))
    target = str(result.get("target") or "")
    if target in reference.columns:
        kind = "numerical" if result.get("task") == "regression" else "categorical"
        predictions = production.meta["prediction"]
        value = result.get("prediction_drift")
        figures.append(_drift_figure("prediction", reference[target], predictions, value, kind))
    heading = "<h3>Reference and production distributions</h3>"
    if len(shown) < len(drift):
        heading += note(
            f"figures for the {len(shown)} features the alerts watch or that drifted most, of {len(drift)}; "
            "every feature is in the table above"
        )
    return heading + "<div class='charts'>" + "".join(figures) + "</div>"


def _features_to_draw(drift: Mapping[str, Any], watched: set[str]) -> list[str]:
    """The features the alerts watch, then the most drifted others, up to :data:`MAX_DRIFT_FIGURES`.

    A wide model (64 pixel features) would otherwise spend most of the report's time and size on
    figures nobody reads; the table lists every feature's statistics regardless."""

    def drifted(feature: str) -> float:
        value = drift.get(feature)
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else -1.0

    first = [f for f in drift if f in watched]
    rest = sorted((f for f in drift if f not in watched), key=lambda f: (-drifted(f), f))
    chosen = set((first + rest)[: max(MAX_DRIFT_FIGURES, len(first))])
    return [f for f in drift if f in chosen]


def _drift_figure(
    name: str, reference: pd.Series, production: pd.Series, value: Any, kind: str | None
) -> str:
    profile = monitor.profile(reference, kind)
    label = "predictions vs the reference target" if kind else name
    if profile is None:
        return note(f"{label}: the reference has no usable value")
    values = monitor.comparable_values(profile, production)
    metric = monitor.CONVENTIONAL_DRIFT_METRIC[profile.kind]
    title = f"{label}: {metric.replace('_', ' ')} {_number(value)}"
    if len(values) == 0:
        chart = note(f"{label}: no production value in the window")
    elif isinstance(values, list):
        chart = report_charts.categorical_drift_chart(profile.keys, values)
    else:
        chart = report_charts.numeric_drift_chart(profile.numbers, values)
    caption = f"<figcaption>{html.escape(title)}</figcaption>"
    return f'<figure class="chart" data-chart="drift" data-feature="{_attr(name)}">{caption}{chart}</figure>'


# --- alerts ----------------------------------------------------------------------------------


def _alerts_section(spec: Sequence[Mapping[str, Any]], outcomes: Sequence[Mapping[str, Any]]) -> str:
    """One row per alert: the declared rule, and what the monitor measured (``not evaluated`` when
    the monitor did not run it)."""
    declared = {str(a.get("name")): a for a in spec}
    measured = {str(o.get("name")): o for o in outcomes}
    headings = (
        "Alert",
        "Signal",
        "Window",
        "Severity",
        "Condition",
        "Value",
        "Feature",
        "Metric",
        "State",
        "Action",
        "Why",
    )
    rows = []
    for name in dict.fromkeys([*declared, *measured]):
        rule, outcome = declared.get(name, {}), measured.get(name)
        merged = {**rule, **(outcome or {})}
        # A rule the monitor could not decide (no data, too few rows, a platform metric) is not "ok".
        if outcome is not None and outcome.get("fired"):
            state = "fired"
        elif outcome is None or outcome.get("reason"):
            state = "not evaluated"
        else:
            state = "ok"
        badge = {"fired": "bad", "ok": "ok"}.get(state, "")
        cells = [
            html.escape(name),
            html.escape(str(merged.get("signal") or "")),
            html.escape(str(merged.get("window") or "")),
            html.escape(str(rule.get("severity", ""))),
            f"{html.escape(str(merged.get('operator') or '>'))} {_number(merged.get('threshold'))}",
            _number(merged.get("value")),
            html.escape(str(merged.get("feature") or "")),
            html.escape(str(merged.get("metric") or "")),
            f'<span class="badge {badge}">{state}</span>',
            html.escape(str(merged.get("action") or "")),
            html.escape(str((outcome or {}).get("reason") or "")),
        ]
        row = "".join(f"<td>{c}</td>" for c in cells)
        rows.append(f'<tr data-alert="{_attr(name)}" data-state="{state.replace(" ", "-")}">{row}</tr>')
    if not rows:
        return "<p>No alert is declared.</p>"
    head = "".join(f"<th>{h}</th>" for h in headings)
    return _scrolling(f"<table class='alerts'><tr>{head}</tr>{''.join(rows)}</table>")


# --- page ------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1a202c;background:#f7f8fa}
header{background:#1f2d3d;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#cbd5e0}nav a{color:#bee3f8;margin-right:14px;text-decoration:none}
main{padding:8px 28px 40px}section.top{margin-top:24px}h2{border-bottom:2px solid #cbd5e0;padding-bottom:4px}
.visuals,.charts{display:flex;flex-wrap:wrap;gap:14px}
figure{background:#fff;border:1px solid #e2e8f0;border-radius:6px;margin:0;padding:10px 12px;max-width:100%;overflow:auto}
figure.visual{flex:1 1 420px}figcaption{font-weight:600;margin-bottom:6px}
figure svg{max-width:100%;height:auto}.card-value{font-size:34px;font-weight:600;margin:12px 0;color:#2b6cb0}
table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{border:1px solid #e2e8f0;padding:3px 8px;text-align:left}
th{background:#edf2f7}.note{color:#975a16;background:#fefcbf;padding:4px 8px;border-radius:4px;font-size:13px}
.badge{padding:1px 8px;border-radius:10px;background:#e2e8f0;font-size:12px}.badge.ok{background:#c6f6d5}
.badge.bad{background:#fed7d7}dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 14px}
dl.facts dt{color:#4a5568}dl.facts dd{margin:0;font-weight:600}details.data{font-size:12px;margin-top:4px}
.scroll{max-width:100%;overflow-x:auto}
"""


def _page(inputs: ReportInputs, sections: Sequence[tuple[str, str, str]]) -> str:
    nav = "".join(f'<a href="#{_attr(anchor)}">{html.escape(heading)}</a>' for anchor, heading, _ in sections)
    body = "".join(
        f'<section class="top" id="{_attr(anchor)}"><h2>{html.escape(heading)}</h2>{content}</section>'
        for anchor, heading, content in sections
    )
    title = f"{inputs.project} ({inputs.environment})"
    facts = " · ".join(html.escape(fact) for fact in _header_facts(inputs))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} — mlspec report</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{html.escape(inputs.project)}</h1><p class="run">{facts}</p>'
        f"<nav>{nav}</nav></header><main>{body}</main></body></html>\n"
    )


def _header_facts(inputs: ReportInputs) -> list[str]:
    """What the header says about the run: only what the inputs hold (no clock, no guess)."""
    facts = [f"environment {inputs.environment}"]
    if inputs.model is not None and inputs.model.version:
        facts.append(f"model {inputs.model.name} version {inputs.model.version}")
    if inputs.run_id:
        facts.append(f"run {inputs.run_id}")
    if inputs.generated:
        facts.append(f"generated {inputs.generated}")
    return [*facts, "local run report (the Power BI stand-in)"]


def _facts(items: Sequence[tuple[str, str]]) -> str:
    rows = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in items)
    return f'<dl class="facts">{rows}</dl>'


def _key_values(title: str, values: Mapping[str, Any]) -> str:
    if not values:
        return f"<h3>{html.escape(title)}</h3><p>No value.</p>"
    rows = "".join(
        f'<tr data-metric="{_attr(str(k))}"><td>{html.escape(str(k))}</td><td>{_number(v)}</td></tr>'
        for k, v in values.items()
    )
    return f"<h3>{html.escape(title)}</h3><table class='values'>{rows}</table>"


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return html.escape(cell_text(value))
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    return f"{value:.4g}"


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "report"


def _unique(slug: str, taken: set[str]) -> str:
    candidate, n = slug, 2
    while candidate in taken or candidate in ("model", "monitoring", "alerts"):
        candidate, n = f"{slug}-{n}", n + 1
    taken.add(candidate)
    return candidate
