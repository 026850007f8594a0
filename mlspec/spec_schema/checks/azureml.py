"""Training and the model monitor in Azure ML: what the Azure ML build refuses or leaves out, at the spec's line.

- MLS625 a drift or data-quality alert's metric that its signal does not have, or an operator that
  points against how Azure ML alerts on the metric (a warning)
- MLS626 a training script that cannot be read as UTF-8 text (an error), or is not valid Python (a warning)
- MLS627 training data in a format the prepare step does not read
- MLS628 a feature with a comma, which cannot reach a training script (``--features`` is comma-separated)
- MLS629 statistic alerts without a serving log: no monitoring job or model monitor is rendered, and their
  alert rules are left out (a warning)
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.project_files import ProjectFileError, check_project_file, read_project_file
from mlspec.spec_schema.alert_windows import STATISTIC_SIGNALS
from mlspec.spec_schema.checks.context import CheckContext
from mlspec.spec_schema.models import ModelSpec
from mlspec.spec_schema.monitor_signals import (
    SIGNAL_METRICS,
    STATISTICAL_TESTS,
    alert_metric,
    watched_alerts,
)

TRAINING_FORMATS = frozenset({"parquet", "delta", "csv", "json"})
"""What the generated prepare step reads."""


def check_azureml(ctx: CheckContext) -> Iterator[Diagnostic]:
    model = ctx.model.model
    if model is None:
        return
    data_format = _training_format(ctx, model)
    if data_format is None:
        return  # an unknown training dataset: MLS302
    if data_format not in TRAINING_FORMATS:
        yield ctx.error(
            "MLS627",
            f"training data {model.training.data!r} is {data_format}; the prepare step reads "
            f"{', '.join(sorted(TRAINING_FORMATS))}",
            ("model", "training", "data"),
            "train on a transform that writes parquet or delta",
        )
    if model.training.script is not None:
        for i, feature in enumerate(model.training.features):
            if "," in feature:
                yield ctx.error(
                    "MLS628",
                    f"feature {feature!r} contains a comma; training scripts get --features comma-separated",
                    ("model", "training", "features", i),
                )
        yield from _training_script(ctx, model.training.script)
    yield from _monitor(ctx)
    yield from _ground_truth(ctx)


def _training_format(ctx: CheckContext, model: ModelSpec) -> str | None:
    name = model.training.data
    if name in ctx.model.transforms:
        return ctx.model.transforms[name].output.format
    if name in ctx.model.sources:
        return ctx.model.sources[name].format
    return None


def _training_script(ctx: CheckContext, script: str) -> Iterator[Diagnostic]:
    if ctx.spec.file == "<string>":
        return
    path: SpecPath = ("model", "training", "script")
    project_dir = Path(ctx.spec.file).parent
    try:
        status = os.stat(project_dir / script)  # a cheap key: the full project-file check runs on a miss
    except (OSError, ValueError):
        return  # reported by the format checks (MLS413)
    problem = _script_problem(str(project_dir), script, status.st_ino, status.st_mtime_ns, status.st_size)
    if problem is None:
        return
    is_error, message = problem
    if is_error:
        yield ctx.error("MLS626", message, path, f"expected at {project_dir / script}")
    else:
        yield ctx.warning("MLS626", message, path)


@lru_cache(maxsize=64)
def _script_problem(
    project_dir: str, script: str, inode: int, mtime_ns: int, size: int
) -> tuple[bool, str] | None:
    """``(is_error, message)`` for a script that cannot be read or parsed; cached per file version,
    so validating every environment (and every spec of a repository) reads and parses it once."""
    try:
        check_project_file(project_dir, script)
    except ProjectFileError:
        return None  # outside the project, not a regular file, too large: the format checks (MLS413)
    try:
        text = read_project_file(project_dir, script).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "it is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (exc.strerror or str(exc))
        return True, f"cannot read training script {script!r}: {reason}"
    try:
        ast.parse(text, filename=script)
    except SyntaxError as exc:
        return False, f"training script {script!r} is not valid Python (line {exc.lineno}): {exc.msg}"
    return None


def _ground_truth(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A model-metric alert needs labels on Azure: locally the replayed traffic brings its own."""
    monitoring, deployment = ctx.model.monitoring, ctx.model.deployment
    if monitoring is None or monitoring.ground_truth is not None or deployment is None:
        return
    for index, alert in enumerate(monitoring.alerts):
        if alert.signal == "model_metric":
            yield ctx.warning(
                "MLS606",
                f"alert {alert.name!r} watches a model metric, which needs the true outcomes of served "
                "requests; without monitoring.ground_truth the monitoring job on Azure has none to join, "
                "and the alert never fires there (a local run joins the replayed traffic's)",
                ("monitoring", "alerts", index, "signal"),
                "set monitoring.ground_truth to the abfss:// folder where outcomes are written as JSON "
                "lines {request_id, row, target}",
            )


def _monitor(ctx: CheckContext) -> Iterator[Diagnostic]:
    """The model monitor exists with a deployment and drift or data-quality alerts (as the renderer decides)."""
    alerts = watched_alerts(ctx.model)
    monitoring = ctx.model.monitoring
    if not alerts:
        # No deployment: no production data, nothing to compare; no job computes these statistics.
        unwatched = (
            [(i, a) for i, a in enumerate(monitoring.alerts) if a.signal in STATISTIC_SIGNALS]
            if monitoring is not None
            else []
        )
        for index, alert in unwatched:
            yield ctx.warning(
                "MLS629",
                f"alert {alert.name!r} ({alert.signal}) needs a deployment whose serving log is the production "
                "data; without one no monitoring job computes it, its alert rule is left out and it never fires",
                ("monitoring", "alerts", index, "signal"),
                "add a deployment with log_predictions, or remove the alert",
            )
        return
    assert ctx.model.deployment is not None  # watched_alerts needs one
    if ctx.model.deployment.log_predictions is None:
        yield ctx.warning(
            "MLS629",
            "drift, data-quality and model-metric alerts need the serving log as production data; no "
            "monitoring job or model monitor is rendered, and their alert rules are left out",
            ("deployment",),
            "set deployment.log_predictions.path",
        )
        return
    for index, alert in alerts:
        base: SpecPath = ("monitoring", "alerts", index)
        metric = alert_metric(alert)
        numerical, categorical = SIGNAL_METRICS[alert.signal]
        if metric not in numerical | categorical:
            yield ctx.error(
                "MLS625",
                f"signal {alert.name!r}: {metric!r} is not a numerical {alert.signal} metric "
                f"(one of {', '.join(sorted(numerical))})",
                (*base, "metric"),
            )
            continue
        rising = alert.operator in (">", ">=")
        if (metric in STATISTICAL_TESTS) == rising:
            way = "below" if metric in STATISTICAL_TESTS else "above"
            yield ctx.warning(
                "MLS625",
                f"signal {alert.name!r}: Azure ML alerts when {metric} is {way} the threshold, "
                f"but the alert says {alert.operator!r}",
                (*base, "operator"),
            )
