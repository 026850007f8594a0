"""Where a plan applies: the project folder, the state backend settings and the provider.

A :class:`Target` comes from a build (:meth:`Target.of`), from the validated spec without
rendering (:func:`target_of_spec`, for force-unlock) or from a saved plan file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlspec.diagnostics import Diagnostic, MlspecError
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
    """The spec's file name in ``project_dir``: a refused provider is located at its line there."""

    def provider_instance(self) -> Provider:
        try:
            return provider_for(self.provider, self.project_dir, self.environment)
        except MlspecError as error:
            raise MlspecError([self._located(d) for d in error.diagnostics]) from None

    def _located(self, d: Diagnostic) -> Diagnostic:
        """``d`` at its spec path's line (an environment's ``provider:``, or the environment when absent)."""
        if d.location is not None or not d.path or self.spec_file is None:
            return d
        from mlspec import api

        try:
            document = api.load(self.project_dir / self.spec_file)
        except MlspecError:
            return d
        return Diagnostic(d.code, d.severity, d.message, d.path, document.locate(d.path), d.hint)

    @classmethod
    def of(cls, desired: Desired, state_dir: Path | None = None) -> Target:
        m = desired.manifest
        config = state_config_for(m.environment, m.state)
        return cls(
            m.project,
            m.environment,
            desired.project_dir,
            config,
            m.provider,
            m.protect,
            state_dir,
            m.spec_file,
        )


def state_config_for(environment: str, configured: Mapping[str, Any]) -> dict[str, Any]:
    """The spec's ``state:`` settings, except that the embedded ``local`` environment always keeps its
    state in a local file beside the workspace it describes (a team's blob is for real environments)."""
    from mlspec.spec_schema.resolve import LOCAL_ENVIRONMENT

    return {"backend": "local"} if environment == LOCAL_ENVIRONMENT else dict(configured)


@dataclass
class PlanResult:
    """A fresh plan and what applying it needs (the build's files)."""

    plan: Plan
    target: Target
    files: FileSource
    project_files: tuple[str, ...] = ()
    """Files the spec names, relative to the project folder (``plan --out`` never overwrites them)."""


def project_dir_of(spec_path: Path | str) -> Path:
    path = Path(spec_path)
    return (path if path.is_dir() else path.parent).resolve()


def target_of_spec(
    spec_path: Path | str,
    environment: str | None,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    state_dir: Path | None = None,
) -> Target:
    """Where an environment's state lives, from the validated spec (without rendering artifacts)."""
    from mlspec import api
    from mlspec.diagnostics import sort_key
    from mlspec.spec_schema.resolve import LOCAL_ENVIRONMENT

    resolved = api.resolve(api.load(spec_path), environment, variables, environ)
    model = resolved.model
    if model is None or not resolved.ok:
        raise MlspecError(sorted(resolved.diagnostics, key=sort_key))
    env_name = resolved.spec.environment
    env = model.environments.get(env_name)
    provider = "local" if env is None or env_name == LOCAL_ENVIRONMENT else env.provider
    return Target(
        model.project.name,
        env_name,
        project_dir_of(spec_path),
        state_config_for(env_name, model.state.model_dump(exclude_none=True)),
        provider,
        bool(env and env.protect),
        state_dir,
        Path(resolved.spec.file).name,
    )
