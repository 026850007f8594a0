"""What ``mlspec run`` needs to know about a project, as plain data.

The API fills a :class:`RunProject` from the resolved spec; everything under ``mlspec/runtime``
reads this and the build's artifacts, never the YAML, so the run stage has one input contract
(as plan has the manifest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SourceInfo:
    name: str
    url: str
    format: str


@dataclass(frozen=True)
class TransformInfo:
    name: str
    inputs: tuple[str, ...]
    url: str
    format: str


@dataclass(frozen=True)
class ModelInfo:
    name: str
    task: str
    target: str
    features: tuple[str, ...]
    metrics: tuple[str, ...]
    training_data: str
    """The source or transform the model trains on."""


@dataclass(frozen=True)
class DeploymentInfo:
    endpoint: str
    auth: str
    secrets: tuple[str, ...]
    """Names of ``access.secrets`` entries the deployment mounts."""
    log_predictions_url: str | None
    sample_rate: float


@dataclass(frozen=True)
class AlertInfo:
    name: str
    signal: str
    operator: str
    threshold: float
    window: str
    severity: int
    action: str
    features: tuple[str, ...] | None = None
    metric: str | None = None

    def as_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "signal": self.signal,
            "operator": self.operator,
            "threshold": self.threshold,
            "window": self.window,
            "severity": self.severity,
            "action": self.action,
            "features": list(self.features) if self.features is not None else None,
            "metric": self.metric,
        }


@dataclass(frozen=True)
class RunProject:
    name: str
    environment: str
    project_dir: Path
    spec_file: Path
    build_dir: Path
    seed: Path | None = None
    sources: tuple[SourceInfo, ...] = ()
    transforms: tuple[TransformInfo, ...] = ()
    model: ModelInfo | None = None
    deployment: DeploymentInfo | None = None
    alerts: tuple[AlertInfo, ...] = ()
    retrain_on: tuple[str, ...] = ()
    """Alerts whose firing starts a retrain (``action: retrain`` and ``monitoring.retrain.on_alerts``)."""
    reports: tuple[dict[str, Any], ...] = ()
    """The spec's ``reports`` entries as plain data."""
    log_analytics: str = "local"
    """The Log Analytics workspace name (the folder of the local monitoring table)."""
    secret_names: dict[str, str] = field(default_factory=dict)
    """``access.secrets`` key → the Key Vault secret name."""

    def table_location(self, name: str) -> tuple[str, str] | None:
        """``(url, format)`` of a source or transform output by name."""
        for transform in self.transforms:
            if transform.name == name:
                return transform.url, transform.format
        for source in self.sources:
            if source.name == name:
                return source.url, source.format
        return None
