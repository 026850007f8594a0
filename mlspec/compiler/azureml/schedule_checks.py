"""Checks of the rendered schedules: cron and trigger of the retrain schedule, the monitor's signals.

What the spec alone decides (an unknown metric, an operator pointing the wrong way) is checked before a
build by :mod:`mlspec.spec_schema.checks.azureml`; these look at what was rendered (defence in depth)."""

from __future__ import annotations

import posixpath
import re
from typing import Any

from mlspec.compiler.azureml import names, schedules
from mlspec.compiler.azureml.findings import Findings
from mlspec.diagnostics import SpecPath
from mlspec.spec_schema.cron import cron_problem
from mlspec.spec_schema.monitor_signals import SIGNAL_METRICS

_ISO_DURATION = re.compile(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?")


def check_retrain(found: Findings, path: str, doc: Any, documents: dict[str, Any]) -> None:
    if not isinstance(doc, dict):
        found.add("MLS624", path, "is not a mapping")
        return
    trigger = doc.get("trigger")
    if not isinstance(trigger, dict) or trigger.get("type") != "cron":
        found.add("MLS624", path, "trigger is not a cron trigger")
    else:
        expression = trigger.get("expression")
        problem = cron_problem(expression) if isinstance(expression, str) else "is not a string"
        if problem:
            found.add("MLS624", path, f"cron expression {expression!r} {problem}")
        if trigger.get("time_zone") != "UTC":
            found.add("MLS624", path, f"time_zone {trigger.get('time_zone')!r}: the spec's cron is UTC")
    _creates_a_rendered_pipeline(found, path, doc, documents)


def check_recurrence(found: Findings, path: str, doc: Any, documents: dict[str, Any]) -> None:
    """The monitoring job's schedule: a UTC recurrence that creates a rendered pipeline job."""
    if not isinstance(doc, dict):
        found.add("MLS624", path, "is not a mapping")
        return
    trigger = doc.get("trigger")
    if not isinstance(trigger, dict) or trigger.get("type") != "recurrence":
        found.add("MLS624", path, "trigger is not a recurrence trigger")
    else:
        interval = trigger.get("interval")
        if trigger.get("frequency") not in schedules.RECURRENCE_FREQUENCIES:
            found.add("MLS624", path, f"frequency {trigger.get('frequency')!r} is not one Azure ML accepts")
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            found.add("MLS624", path, f"interval {interval!r} is not a positive whole number")
        if trigger.get("time_zone") != "UTC":
            found.add("MLS624", path, f"time_zone {trigger.get('time_zone')!r}: mlspec schedules run in UTC")
    _creates_a_rendered_pipeline(found, path, doc, documents)


def _creates_a_rendered_pipeline(
    found: Findings, path: str, doc: dict[str, Any], documents: dict[str, Any]
) -> None:
    job = doc.get("create_job")
    target = (
        posixpath.normpath(posixpath.join(posixpath.dirname(path), job)) if isinstance(job, str) else None
    )
    if (
        target is None
        or not isinstance(documents.get(target), dict)
        or documents[target].get("type") != "pipeline"
    ):
        found.add("MLS624", path, f"create_job {job!r} is not the rendered pipeline job")


def check_monitor(found: Findings, path: str, doc: Any) -> None:
    if not isinstance(doc, dict):
        found.add("MLS625", path, "is not a mapping")
        return
    trigger = doc.get("trigger")
    if not isinstance(trigger, dict) or trigger.get("type") != "recurrence":
        found.add("MLS625", path, "trigger is not a recurrence trigger")
    else:
        frequency = trigger.get("frequency")
        if frequency not in schedules.RECURRENCE_FREQUENCIES:
            known = ", ".join(sorted(schedules.RECURRENCE_FREQUENCIES))
            found.add("MLS625", path, f"trigger.frequency {frequency!r} is not one of {known}")
        interval = trigger.get("interval")
        if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
            found.add("MLS625", path, f"trigger.interval {interval!r} is not a positive whole number")
    definition = doc.get("create_monitor")
    signals = definition.get("monitoring_signals") if isinstance(definition, dict) else None
    if not isinstance(signals, dict) or not signals:
        found.add("MLS625", path, "create_monitor has no monitoring_signals")
        return
    for name, signal in signals.items():
        _signal(found, path, str(name), signal)


def _signal(found: Findings, path: str, name: str, signal: Any) -> None:
    alert_path = _alert_path(found, name)
    if not isinstance(signal, dict) or signal.get("type") not in SIGNAL_METRICS:
        kind = signal.get("type") if isinstance(signal, dict) else signal
        found.add("MLS625", path, f"signal {name!r} has type {kind!r}", alert_path)
        return
    numerical, categorical = SIGNAL_METRICS[signal["type"]]
    thresholds = signal.get("metric_thresholds")
    if not isinstance(thresholds, dict) or not thresholds:
        found.add("MLS625", path, f"signal {name!r} has no metric_thresholds", alert_path)
        thresholds = {}
    for data_type, metrics in thresholds.items():
        allowed = {"numerical": numerical, "categorical": categorical}.get(data_type)
        if allowed is None or not isinstance(metrics, dict):
            found.add(
                "MLS625",
                path,
                f"signal {name!r}: metric_thresholds.{data_type} is not numerical or categorical",
                alert_path,
            )
            continue
        for metric, value in metrics.items():
            metric_path = (
                (*alert_path, "metric") if alert_path and _alert_has_metric(found, alert_path) else alert_path
            )
            if metric not in allowed:
                found.add(
                    "MLS625",
                    path,
                    f"signal {name!r}: {metric!r} is not a {data_type} {signal['type']} metric "
                    f"(one of {', '.join(sorted(allowed))})",
                    metric_path,
                )
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                found.add(
                    "MLS625",
                    path,
                    f"signal {name!r}: threshold {value!r} for {metric} is not a number >= 0",
                    alert_path,
                )
    for role in ("production_data", "reference_data"):
        data = signal.get(role)
        if not isinstance(data, dict):
            found.add("MLS625", path, f"signal {name!r} has no {role}", alert_path)
            continue
        if data.get("data_context") not in schedules.DATA_CONTEXTS:
            found.add(
                "MLS625",
                path,
                f"signal {name!r}: {role}.data_context {data.get('data_context')!r} is not valid",
                alert_path,
            )
        window = data.get("data_window")
        for key, value in (window or {}).items() if isinstance(window, dict) else ():
            if not isinstance(value, str) or not _ISO_DURATION.fullmatch(value):
                found.add(
                    "MLS625",
                    path,
                    f"signal {name!r}: {role}.data_window.{key} {value!r} is not an ISO 8601 duration",
                    alert_path,
                )


def _alert_path(found: Findings, name: str) -> SpecPath:
    monitoring = found.ctx.model.monitoring
    for i, alert in enumerate(monitoring.alerts if monitoring else []):
        if alert.name == name:
            return ("monitoring", "alerts", i)
    return found.origins.get(names.path("schedules", "monitor.yml"), ("monitoring",))


def _alert_has_metric(found: Findings, alert_path: SpecPath) -> bool:
    monitoring = found.ctx.model.monitoring
    index = alert_path[2] if len(alert_path) == 3 else None
    return monitoring is not None and isinstance(index, int) and monitoring.alerts[index].metric is not None
