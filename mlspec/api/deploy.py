"""The library API of deploying a spec: plan, apply, destroy, force-unlock and the state commands.

Each function goes load → resolve → check → build (from the build cache when nothing changed) →
:mod:`mlspec.plan`, which works from the manifest alone and never reads the spec. Errors that name a
spec path (a refused provider, a protected environment) are located at the spec's own line here.

- :func:`plan_environment` — desired (a build) vs state, refreshed against the provider by default;
- :func:`apply_environment` — plan afresh under the lock, confirm, apply;
- :func:`destroy` — delete everything in state (refused in protected environments);
- :func:`force_unlock` — break a lock whose holder is gone;
- :func:`read_view`, :func:`remove_resource`, :func:`move_resource`, :func:`adopt_project_state` —
  ``mlspec state list|show|rm|mv`` and ``mlspec output``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.plan import operations, state_commands
from mlspec.plan.desired import (
    SPEC_FIELDS_KEY,
    Desired,
    LeafMemo,
    desired_from_parts,
    spec_fields,
    with_spec_fields,
)
from mlspec.plan.lock import LockInfo
from mlspec.plan.target import PlanResult, Target

if TYPE_CHECKING:
    from mlspec.compiler.build import BuildResult
    from mlspec.contract.resource_state import ResourceState
    from mlspec.plan.apply import ApplyResult, Progress
    from mlspec.plan.operations import Confirm
    from mlspec.plan.planfile import SavedPlan
    from mlspec.plan.state_commands import StateView

DEFAULT_PARALLELISM = operations.DEFAULT_PARALLELISM


def project_dir_of(spec_path: Path | str) -> Path:
    path = Path(spec_path)
    return (path if path.is_dir() else path.parent).resolve()


def desired_from_build(
    result: BuildResult, project_dir: Path, spec_data: Mapping[str, Any] | None = None
) -> Desired:
    """Desired state of a build; each resource carries its spec fields, taken from ``spec_data`` or
    else the build's own resolved spec (``BuildResult.spec_data``)."""
    from mlspec.compiler.build import payload

    artifacts = result.artifacts.artifacts
    payloads = {r.address: payload(result.artifacts, r) for r in result.manifest.resources}
    spec_data = result.spec_data if spec_data is None else spec_data
    if spec_data is not None:
        memo: LeafMemo = {}  # the notebooks and the pipeline flatten the same transforms
        for resource in result.manifest.resources:
            payloads[resource.address][SPEC_FIELDS_KEY] = spec_fields(
                spec_data, resource.source, resource.reads, memo
            )

    def read_file(path: str) -> bytes:
        return artifacts[path].content

    desired = desired_from_parts(result.manifest, payloads, read_file, project_dir)
    desired.project_files = result.project_files
    return desired


def load_desired(
    spec_path: Path | str,
    environment: str | None = None,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Desired:
    """Build the spec in memory (nothing written) and return its desired resources.

    An unchanged project is served from the build cache (``mlspec.compiler.cache``), which keeps
    ``plan`` from importing the models and renderers at all.
    """
    from mlspec.compiler import cache
    from mlspec.contract.graph import Address

    project_dir = project_dir_of(spec_path)
    spec_file = _spec_file(spec_path)
    env_map = os.environ if environ is None else environ
    cli_vars = dict(variables or {})
    key = cache.build_key(spec_file, environment, cli_vars, env_map)
    hit = cache.load(spec_file, environment, key)
    if hit is not None:
        payloads = {Address.parse(address): payload for address, payload in hit.payloads.items()}
        desired = desired_from_parts(hit.manifest, payloads, hit.files.__getitem__, project_dir)
        desired.project_files = hit.project_files
        return desired

    from mlspec import api
    from mlspec.compiler.build import manifest_document

    result = api.build(spec_path, environment, variables, environ=environ)
    desired = desired_from_build(result, project_dir)
    files = {path: artifact.content for path, artifact in result.artifacts.artifacts.items()}
    document = with_spec_fields(manifest_document(result), desired)
    cache.store(spec_file, environment, key, document, files, result.inputs, result.project_files)
    return desired


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
    return Target(
        model.project.name,
        env_name,
        project_dir_of(spec_path),
        {"backend": "local"} if env_name == LOCAL_ENVIRONMENT else model.state.model_dump(exclude_none=True),
        "local" if env is None or env_name == LOCAL_ENVIRONMENT else env.provider,
        bool(env and env.protect),
        state_dir,
        Path(resolved.spec.file).name,
        model.workspace.model_dump(mode="json", exclude_none=True),
    )


@contextlib.contextmanager
def located_at(spec_file: Path | None) -> Iterator[None]:
    """Errors raised inside that name a spec path but no place (a refused provider, a protected
    environment) are located at the line of ``spec_file`` the path points to."""
    try:
        yield
    except MlspecError as error:
        if spec_file is None or not any(d.path and d.location is None for d in error.diagnostics):
            raise
        from mlspec import api

        try:
            document = api.load(spec_file)
        except MlspecError:
            raise error from None
        raise type(error)(
            [
                Diagnostic(d.code, d.severity, d.message, d.path, document.locate(d.path), d.hint)
                if d.path and d.location is None
                else d
                for d in error.diagnostics
            ]
        ) from None


def _spec_file(spec_path: Path | str) -> Path:
    from mlspec.api import SPEC_FILE_NAME

    path = Path(spec_path)
    return path / SPEC_FILE_NAME if path.is_dir() else path


def plan_environment(
    spec_path: Path | str = "mlproject.yaml",
    environment: str | None = None,
    variables: Mapping[str, str] | None = None,
    *,
    refresh: bool = True,
    select: Iterable[str] = (),
    state_dir: Path | None = None,
    allow_destroy: bool = False,
    destroy: bool = False,
    environ: Mapping[str, str] | None = None,
) -> PlanResult:
    """Plan one environment of a spec. With ``refresh`` (the default) the provider's live view is
    read under the state lock, so drift shows; without it no lock is taken and no provider called."""
    desired = load_desired(spec_path, environment, variables, environ)
    with located_at(_spec_file(spec_path)):
        return operations.plan_desired(
            desired,
            refresh=refresh,
            select=select,
            state_dir=state_dir,
            allow_destroy=allow_destroy,
            destroy=destroy,
        )


def apply_environment(
    spec_path: Path | str = "mlproject.yaml",
    environment: str | None = None,
    variables: Mapping[str, str] | None = None,
    *,
    confirm: Confirm | None = None,
    refresh: bool = True,
    select: Iterable[str] = (),
    state_dir: Path | None = None,
    allow_destroy: bool = False,
    destroy: bool = False,
    parallelism: int = DEFAULT_PARALLELISM,
    progress: Progress | None = None,
    environ: Mapping[str, str] | None = None,
) -> ApplyResult:
    """Plan afresh under the lock, show it to ``confirm`` (``None``: approved), apply it."""
    desired = load_desired(spec_path, environment, variables, environ)
    with located_at(_spec_file(spec_path)):
        return operations.apply_desired(
            desired,
            confirm=confirm,
            refresh=refresh,
            select=select,
            state_dir=state_dir,
            allow_destroy=allow_destroy,
            destroy=destroy,
            parallelism=parallelism,
            progress=progress,
        )


def destroy(
    spec_path: Path | str = "mlproject.yaml",
    environment: str | None = None,
    variables: Mapping[str, str] | None = None,
    *,
    allow_destroy: bool = False,
    confirm: Confirm | None = None,
    select: Iterable[str] = (),
    state_dir: Path | None = None,
    parallelism: int = DEFAULT_PARALLELISM,
    progress: Progress | None = None,
    environ: Mapping[str, str] | None = None,
) -> ApplyResult:
    """Delete every resource recorded in state (dependants first). A protected environment
    refuses without ``allow_destroy``."""
    return apply_environment(
        spec_path,
        environment,
        variables,
        confirm=confirm,
        select=select,
        state_dir=state_dir,
        allow_destroy=allow_destroy,
        destroy=True,
        parallelism=parallelism,
        progress=progress,
        environ=environ,
    )


def apply_saved_plan(
    saved: SavedPlan,
    *,
    state_dir: Path | None = None,
    parallelism: int = DEFAULT_PARALLELISM,
    progress: Progress | None = None,
) -> ApplyResult:
    """Apply exactly a saved plan (:func:`mlspec.plan.operations.apply_plan`), its errors located at the spec."""
    target = saved.target
    spec_file = target.project_dir / target.spec_file if target.spec_file else None
    with located_at(spec_file):
        return operations.apply_plan(saved, state_dir=state_dir, parallelism=parallelism, progress=progress)


def force_unlock(
    spec_path: Path | str,
    environment: str | None,
    lock_id: str,
    variables: Mapping[str, str] | None = None,
    *,
    state_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    confirm: Callable[[LockInfo, str], bool] | None = None,
) -> LockInfo | None:
    """Remove the lock ``lock_id`` of one environment's state; returns who held it.

    ``confirm`` is shown the current holder and the environment first (a human decides that it is gone);
    when it says no, nothing is removed and ``None`` comes back.
    """
    target = target_of_spec(spec_path, environment, variables, environ, state_dir)
    return operations.force_unlock(target, lock_id, confirm)


def read_view(
    spec_path: Path | str = "mlproject.yaml",
    environment: str | None = None,
    variables: Mapping[str, str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    state_dir: Path | None = None,
) -> StateView:
    """The state of one environment (``None`` inside when nothing was applied yet); no lock is taken."""
    return state_commands.read_view(target_of_spec(spec_path, environment, variables, environ, state_dir))


def remove_resource(
    spec_path: Path | str,
    environment: str | None,
    address: str,
    variables: Mapping[str, str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    state_dir: Path | None = None,
) -> ResourceState:
    """Forget ``address``: it leaves the state, its object stays where it is. Returns what was recorded."""
    target = target_of_spec(spec_path, environment, variables, environ, state_dir)
    return state_commands.remove_resource(target, address)


def move_resource(
    spec_path: Path | str,
    environment: str | None,
    source: str,
    destination: str,
    variables: Mapping[str, str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    state_dir: Path | None = None,
) -> None:
    """Rename ``source`` to ``destination`` in state (same service and kind; the destination free)."""
    target = target_of_spec(spec_path, environment, variables, environ, state_dir)
    state_commands.move_resource(target, source, destination)


def adopt_project_state(
    spec_path: Path | str,
    environment: str | None,
    old_project: str,
    variables: Mapping[str, str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    state_dir: Path | None = None,
) -> tuple[int, str]:
    """Take over the state of ``old_project`` (this project before a rename); see
    :func:`mlspec.plan.state_commands.adopt_project_state`."""
    target = target_of_spec(spec_path, environment, variables, environ, state_dir)
    return state_commands.adopt_project_state(target, old_project)
