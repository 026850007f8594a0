"""Columns and metrics: features exist upstream, monitored features are trained on, gates are measurable."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlspec.diagnostics import Diagnostic
from mlspec.spec_schema.checks.context import CheckContext
from mlspec.spec_schema.models import CLASSIFICATION_METRICS, REGRESSION_METRICS, MLProject
from mlspec.spec_schema.monitor_signals import DRIFT_CATEGORICAL, DRIFT_NUMERICAL
from mlspec.spec_schema.report_columns import spark_columns
from mlspec.spec_schema.sql_columns import select_columns

GATE = re.compile(r"^\s*(>=|>|<=|<)\s*(-?\d+(?:\.\d+)?)\s*$")


def known_columns(model: MLProject, dataset: str) -> list[str] | None:
    """Columns of a source or transform when the spec tells them (declared schema or simple SQL)."""
    if dataset in model.sources:
        schema = model.sources[dataset].schema_
        return list(schema) if schema else None
    transform = model.transforms.get(dataset)
    if transform is None:
        return None
    if transform.output.schema_:
        return list(transform.output.schema_)
    return select_columns(transform.sql) if transform.sql else None


def _missing(wanted: str, columns: list[str]) -> bool:
    return wanted.lower() not in {c.lower() for c in columns}


def check_columns(ctx: CheckContext) -> Iterator[Diagnostic]:
    m = ctx.model
    yield from _transform_columns(ctx)
    if m.model is None:
        return
    training = m.model.training
    columns = known_columns(m, training.data)
    base = ("model", "training")
    if columns is not None:
        for i, feature in enumerate(training.features):
            if _missing(feature, columns):
                yield ctx.error(
                    "MLS308",
                    f"feature {feature!r} is not a column of {training.data!r}",
                    (*base, "features", i),
                    f"columns of {training.data!r}: {', '.join(columns)}",
                )
        if _missing(training.target, columns):
            yield ctx.error(
                "MLS308",
                f"target {training.target!r} is not a column of {training.data!r}",
                (*base, "target"),
                f"columns of {training.data!r}: {', '.join(columns)}",
            )
    if training.target in training.features:
        yield ctx.error(
            "MLS309",
            f"the target {training.target!r} is also a feature",
            (*base, "features", training.features.index(training.target)),
            "remove it from features: training on the label leaks it",
        )
    seen: set[str] = set()
    for i, feature in enumerate(training.features):
        if feature in seen:
            yield ctx.warning("MLS319", f"feature {feature!r} is listed twice", (*base, "features", i))
        seen.add(feature)
    yield from _metrics(ctx)
    yield from _monitored_features(ctx)
    yield from _drift_metric_kinds(ctx)


def _transform_columns(ctx: CheckContext) -> Iterator[Diagnostic]:
    for name, transform in ctx.model.transforms.items():
        out = transform.output
        if out.mode == "merge" and not out.merge_keys:
            yield ctx.error(
                "MLS320",
                f"transform {name!r} writes with mode: merge but has no merge_keys",
                ("transforms", name, "output", "mode"),
                "add output.merge_keys (the columns a row is matched on)",
            )
        if out.merge_keys and out.mode != "merge":
            yield ctx.warning(
                "MLS320",
                f"transform {name!r} sets merge_keys but writes with mode: {out.mode}",
                ("transforms", name, "output", "merge_keys"),
                "merge_keys are only used with mode: merge",
            )
        if out.mode == "merge" and out.format != "delta":
            yield ctx.error(
                "MLS320",
                f"transform {name!r}: mode merge needs format delta",
                ("transforms", name, "output", "format"),
                "merge (upsert) is a Delta Lake operation",
            )
        columns = known_columns(ctx.model, name)
        if columns is None:
            continue
        for field in ("partition_by", "merge_keys"):
            for i, column in enumerate(getattr(out, field)):
                if _missing(column, columns):
                    yield ctx.error(
                        "MLS308",
                        f"{field} column {column!r} is not produced by transform {name!r}",
                        ("transforms", name, "output", field, i),
                        f"its columns: {', '.join(columns)}",
                    )
        for i, expectation in enumerate(transform.expectations):
            for column in _expectation_columns(expectation.kind, getattr(expectation, expectation.kind)):
                if _missing(column, columns):
                    yield ctx.error(
                        "MLS308",
                        f"expectation on {column!r}: not a column of transform {name!r}",
                        ("transforms", name, "expectations", i, expectation.kind),
                        f"its columns: {', '.join(columns)}",
                    )


def _expectation_columns(kind: str, value: object) -> list[str]:
    if kind in ("not_null", "unique"):
        return [value] if isinstance(value, str) else list(value) if isinstance(value, list) else []
    if kind in ("accepted_values", "range"):
        column = getattr(value, "column", None)
        return [column] if isinstance(column, str) else []
    return []


def _metrics(ctx: CheckContext) -> Iterator[Diagnostic]:
    assert ctx.model.model is not None
    model = ctx.model.model
    allowed = CLASSIFICATION_METRICS if model.task == "classification" else REGRESSION_METRICS
    for i, metric in enumerate(model.evaluation.metrics):
        if metric not in allowed:
            yield ctx.error(
                "MLS317",
                f"metric {metric!r} does not apply to {model.task}",
                ("model", "evaluation", "metrics", i),
                f"{model.task} metrics: {', '.join(sorted(allowed))}",
            )
    for gated, condition in model.evaluation.gate.items():
        path = ("model", "evaluation", "gate", gated)
        if gated not in model.evaluation.metrics:
            yield ctx.error(
                "MLS310",
                f"gate metric {gated!r} is not among evaluation.metrics",
                path,
                f"add {gated!r} to model.evaluation.metrics or gate on one of: {', '.join(model.evaluation.metrics)}",
                at_key=True,
            )
        if not GATE.match(condition):
            yield ctx.error(
                "MLS318",
                f"gate {condition!r} is not a comparison",
                path,
                'write an operator and a number, e.g. ">= 0.80" (operators: >=, >, <=, <)',
            )
    monitoring = ctx.model.monitoring
    if monitoring is None:
        return
    for i, alert in enumerate(monitoring.alerts):
        if (
            alert.signal == "model_metric"
            and alert.metric is not None
            and alert.metric not in model.evaluation.metrics
        ):
            yield ctx.error(
                "MLS310",
                f"alert {alert.name!r} watches metric {alert.metric!r}, which evaluation does not compute",
                ("monitoring", "alerts", i, "metric"),
                f"evaluation.metrics: {', '.join(model.evaluation.metrics)}",
            )


def _monitored_features(ctx: CheckContext) -> Iterator[Diagnostic]:
    monitoring = ctx.model.monitoring
    if monitoring is None or ctx.model.model is None:
        return
    trained = ctx.model.model.training.features
    for i, alert in enumerate(monitoring.alerts):
        for j, feature in enumerate(alert.features or []):
            if _missing(feature, trained):
                yield ctx.error(
                    "MLS309",
                    f"alert {alert.name!r} monitors {feature!r}, which is not a training feature",
                    ("monitoring", "alerts", i, "features", j),
                    f"training features: {', '.join(trained)}",
                )


_NUMERICAL_ONLY = DRIFT_NUMERICAL - DRIFT_CATEGORICAL
_CATEGORICAL_ONLY = DRIFT_CATEGORICAL - DRIFT_NUMERICAL
_NEVER_NUMERICAL = ("string", "varchar", "char", "boolean", "bool", "date", "timestamp", "binary")
_ALWAYS_NUMERICAL = ("float", "double", "real", "decimal", "numeric")
"""Spark types whose drift is always categorical, or always numerical. Integers can be either: the
monitor treats one with few distinct values as categorical (``CATEGORICAL_MAX_LEVELS``)."""


def _drift_metric_kinds(ctx: CheckContext) -> Iterator[Diagnostic]:
    """MLS322: a drift alert naming a metric its features' kind never gets (a Wasserstein distance of
    a text column, a chi-squared test of a double) would never fire for them: neither Azure ML's model
    monitor nor mlspec's monitoring job computes it there."""
    monitoring, spec = ctx.model.monitoring, ctx.model.model
    if monitoring is None or spec is None:
        return
    types: dict[str, str] | None = None
    for i, alert in enumerate(monitoring.alerts):
        metric = alert.metric
        if alert.signal not in ("data_drift", "prediction_drift") or metric is None:
            continue
        if metric not in _NUMERICAL_ONLY | _CATEGORICAL_ONLY:
            continue
        numerical_only = metric in _NUMERICAL_ONLY
        where = ("monitoring", "alerts", i, "metric")
        if alert.signal == "prediction_drift":
            kind = "categorical" if spec.task == "classification" else "numerical"
            if (kind == "numerical") != numerical_only:
                yield ctx.error(
                    "MLS322",
                    f"alert {alert.name!r}: {metric} is computed for {'numerical' if numerical_only else 'categorical'} "
                    f"values, and the predictions of a {spec.task} model are {kind}: it would never fire",
                    where,
                    "jensen_shannon_distance and population_stability_index suit predictions of either kind"
                    + (", or pearsons_chi_squared_test for a classifier's" if kind == "categorical" else ""),
                )
            continue
        if types is None:
            found = spark_columns(ctx.model, spec.training.data) or []
            types = {name.lower(): (t or "").strip().lower() for name, t in found if t}
        wrong = [
            f"{feature} ({types[feature.lower()]})"
            for feature in dict.fromkeys(alert.features or [])  # none: MLS409; a repeat once
            if feature.lower() in types and _mismatched(types[feature.lower()], numerical_only)
        ]
        if wrong:
            kind = "numerical" if numerical_only else "categorical"
            yield ctx.error(
                "MLS322",
                f"alert {alert.name!r}: {metric} is computed only for {kind} features, and it watches "
                f"{', '.join(wrong)}: it would never fire for {'it' if len(wrong) == 1 else 'them'}",
                where,
                _KIND_HINT,
            )


_KIND_HINT = (
    "jensen_shannon_distance and population_stability_index suit both kinds; or watch those features "
    "in an alert of their own (normalized_wasserstein_distance and two_sample_kolmogorov_smirnov_test are "
    "for numbers, pearsons_chi_squared_test for categories)"
)


def _mismatched(spark_type: str, numerical_only: bool) -> bool:
    if numerical_only:
        return spark_type.startswith(_NEVER_NUMERICAL)
    return spark_type.startswith(_ALWAYS_NUMERICAL)
