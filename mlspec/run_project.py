"""The :class:`~mlspec.runtime.project.RunProject` of a resolved spec: what ``mlspec run`` needs, as data.

This is the one place that reads spec models for the run stage; the runtime itself reads only this
and the build's artifacts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlspec.runtime.project import (
    AlertInfo,
    DeploymentInfo,
    ModelInfo,
    RunProject,
    SourceInfo,
    TransformInfo,
)
from mlspec.spec_schema.models import MLProject


def run_project(model: MLProject, *, environment: str, spec_file: Path, build_dir: Path) -> RunProject:
    project_dir = spec_file.resolve().parent
    seed = getattr(getattr(model, "run", None), "seed", None)
    monitoring = model.monitoring
    alerts = tuple(
        AlertInfo(
            name=a.name,
            signal=a.signal,
            operator=a.operator,
            threshold=float(a.threshold),
            window=a.window,
            severity=a.severity,
            action=a.action,
            features=tuple(a.features) if a.features is not None else None,
            metric=a.metric,
        )
        for a in (monitoring.alerts if monitoring else [])
    )
    on_alerts = set(monitoring.retrain.on_alerts) if monitoring and monitoring.retrain else set()
    retrain_on = tuple(a.name for a in alerts if a.action == "retrain" or a.name in on_alerts)
    return RunProject(
        name=model.project.name,
        environment=environment,
        project_dir=project_dir,
        spec_file=spec_file.resolve(),
        build_dir=build_dir.resolve(),
        seed=(project_dir / seed) if seed else None,
        sources=tuple(SourceInfo(n, s.path, s.format) for n, s in model.sources.items()),
        transforms=tuple(
            TransformInfo(n, tuple(t.inputs), t.output.path, t.output.format)
            for n, t in model.transforms.items()
        ),
        model=_model_info(model),
        deployment=_deployment_info(model),
        alerts=alerts,
        retrain_on=retrain_on,
        reports=tuple(r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in model.reports),
        log_analytics=model.workspace.log_analytics or "local",
        secret_names={k: v.name for k, v in model.access.secrets.items()},
    )


def _model_info(model: MLProject) -> ModelInfo | None:
    spec = model.model
    if spec is None:
        return None
    return ModelInfo(
        name=spec.name,
        task=spec.task,
        target=spec.training.target,
        features=tuple(spec.training.features),
        metrics=tuple(spec.evaluation.metrics),
        training_data=spec.training.data,
    )


def _deployment_info(model: MLProject) -> DeploymentInfo | None:
    spec = model.deployment
    if spec is None:
        return None
    log: Any = spec.log_predictions
    return DeploymentInfo(
        endpoint=spec.endpoint,
        auth=spec.auth,
        secrets=tuple(spec.secrets),
        log_predictions_url=log.path if log is not None else None,
        sample_rate=float(log.sample_rate) if log is not None else 0.0,
    )
