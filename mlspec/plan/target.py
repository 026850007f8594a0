"""Where a plan applies: the project folder, the state backend settings and the provider.

A :class:`Target` comes from a build's manifest (:meth:`Target.of`), from the validated spec without
rendering (:func:`mlspec.api.deploy.target_of_spec`, for force-unlock and the state commands) or from a
saved plan file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlspec.plan.backends import StateBackend, backend_for
from mlspec.plan.desired import Desired, FileSource
from mlspec.plan.plan import Plan
from mlspec.providers.base import Provider
from mlspec.providers.registry import provider_for


@dataclass
class Target:
    """Where a plan applies: the project folder, the state backend settings and the provider."""

    project: str
    environment: str
    project_dir: Path
    state_config: dict[str, Any]
    provider: str
    protect: bool = False
    state_dir: Path | None = None

    def backend(self) -> StateBackend:
        return backend_for(
            self.state_config, self.project, self.environment, self.project_dir, self.state_dir
        )

    spec_file: str | None = None
    """The spec's file name in ``project_dir`` (errors with a spec path are located at its lines)."""
    workspace: dict[str, Any] = field(default_factory=dict)
    """The manifest's ``workspace``: the Azure resources the environment deploys into."""
    provider_types: frozenset[str] = frozenset()
    """What kinds of object the plan deploys (a provider refuses a kind it cannot deploy up front)."""
    report_workspaces: dict[str, str] = field(default_factory=dict)
    """The manifest's Power BI workspace of each report, by address."""

    def provider_instance(self) -> Provider:
        return provider_for(
            self.provider,
            self.project_dir,
            self.environment,
            project=self.project,
            workspace=self.workspace,
            provider_types=self.provider_types,
            report_workspaces=self.report_workspaces,
        )

    @classmethod
    def of(cls, desired: Desired, state_dir: Path | None = None) -> Target:
        m = desired.manifest
        return cls(
            m.project,
            m.environment,
            desired.project_dir,
            dict(m.state),
            m.provider,
            m.protect,
            state_dir,
            m.spec_file,
            dict(m.workspace),
            frozenset(r.provider_type for r in desired.resources.values()),
            dict(m.report_workspaces),
        )


@dataclass
class PlanResult:
    """A fresh plan and what applying it needs (the build's files)."""

    plan: Plan
    target: Target
    files: FileSource
    project_files: tuple[str, ...] = ()
    """Files the spec names, relative to the project folder (``plan --out`` never overwrites them)."""
