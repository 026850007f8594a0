"""The library API: what the CLI calls and what tests call directly.

``load`` reads a spec file; ``resolve`` produces one environment's validated view;
``validate`` runs every check over one or many files. Nothing here imports the Azure
SDKs, PySpark or MLflow: validation must stay fast enough for every pull request.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlspec.diagnostics import Diagnostic, Location, MlspecError, Severity, has_errors, sort_key
from mlspec.spec_schema.loader import SpecDocument, load_spec
from mlspec.spec_schema.resolve import (
    LOCAL_ENVIRONMENT,
    ResolvedSpec,
    default_environment,
    environment_names,
    variable_environ,
)
from mlspec.spec_schema.resolve import resolve as resolve_environment

if TYPE_CHECKING:
    from mlspec.compiler.build import BuildResult
    from mlspec.compiler.platform_checks.problems import PlatformProblem
    from mlspec.runtime.chain import RunOptions
    from mlspec.runtime.progress import RunProgress
    from mlspec.runtime.project import RunProject
    from mlspec.runtime.records import RunLayout
    from mlspec.spec_schema.models import MLProject

SPEC_FILE_NAME = "mlproject.yaml"
_SKIPPED_DIRS = frozenset(
    {".git", ".mlspec", "build", "node_modules", ".venv", "venv", "__pycache__", ".tox"}
)


@dataclass
class Resolved:
    """One environment's view of a spec: ``model`` is ``None`` when the spec is invalid."""

    spec: ResolvedSpec
    model: MLProject | None
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return self.model is not None and not has_errors(self.diagnostics)


@dataclass
class FileResult:
    file: str
    environments: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


@dataclass
class ValidationReport:
    files: list[FileResult] = field(default_factory=list)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for f in self.files for d in f.diagnostics]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    @property
    def usage_error(self) -> bool:
        """A path named nothing (exit 2 rather than 1)."""
        return any(d.code == "MLS000" for d in self.diagnostics)

    @property
    def error_count(self) -> int:
        return sum(1 for d in self.diagnostics if d.is_error)

    @property
    def warning_count(self) -> int:
        return sum(1 for d in self.diagnostics if not d.is_error)


def load(path: Path | str) -> SpecDocument:
    """Read and parse a spec; raise :class:`MlspecError` with located diagnostics if it cannot be read."""
    spec_path = Path(path)
    if spec_path.is_dir():
        spec_path = spec_path / SPEC_FILE_NAME
    return load_spec(spec_path)


def resolve(
    document: SpecDocument,
    environment: str | None = None,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    strict: bool = False,
) -> Resolved:
    """Merge, interpolate, validate and check ``document`` for one environment."""
    from mlspec.spec_schema.checks import CheckContext, run_checks
    from mlspec.spec_schema.checks.security import redact, scan_credentials
    from mlspec.spec_schema.named_paths import with_item_names
    from mlspec.spec_schema.structure import check_structure
    from mlspec.spec_schema.variable_findings import fold_given_variable_errors

    env = environment or default_environment(document)
    spec, found = resolve_environment(document, env, variables, environ)
    model: MLProject | None = None
    secrets: set[str] = set()
    if not any(d.code == "MLS205" for d in found):
        credential_problems, secrets = scan_credentials(spec)
        found.extend(credential_problems)
        model, structural = check_structure(spec)
        found.extend(structural)
        if model is not None:
            found.extend(run_checks(CheckContext(spec, model)))
    found = [with_item_names(spec.data, d) for d in fold_given_variable_errors(spec, found)]
    if strict:
        found = [d.with_severity(Severity.ERROR) for d in found]
    return Resolved(spec, model, _unique(redact(found, secrets)))


def validate_file(
    path: Path | str,
    environments: Sequence[str] | None = None,
    *,
    all_environments: bool = False,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
) -> FileResult:
    """Validate one spec file for the given environments (default: every declared one, and ``local``).

    A finding that holds in some of the checked environments only (an overlay's, or a base value that
    one environment's variables break) names them in ``Diagnostic.environments``.
    ``all_environments`` is kept for callers of the ``--all-envs`` days: every environment is the default.
    """
    result = FileResult(str(path))
    try:
        document = load(path)
    except MlspecError as exc:
        result.diagnostics = exc.diagnostics
        return result
    if environments and not all_environments:
        envs = list(environments)
    else:
        # An environment whose own name is invalid (MLS401, reported by every other one) is not resolved
        # itself: every resource name it would derive (syn-x-Staging) would repeat that one mistake.
        from mlspec.spec_schema.checks.naming import ENVIRONMENT

        envs = [
            e for e in environment_names(document) if e == LOCAL_ENVIRONMENT or ENVIRONMENT.problem(e) is None
        ]
    result.environments = envs
    environ = variable_environ(os.environ if environ is None else environ)
    found: dict[tuple[object, ...], tuple[Diagnostic, list[str]]] = {}
    for env in envs:
        for diagnostic in resolve(document, env, variables, environ, strict=strict).diagnostics:
            found.setdefault(_identity(diagnostic), (diagnostic, []))[1].append(env)
    result.diagnostics = sorted(
        (
            diagnostic.in_environments(where) if len(envs) > 1 and len(where) < len(envs) else diagnostic
            for diagnostic, where in found.values()
        ),
        key=sort_key,
    )
    return result


def validate(
    paths: Iterable[Path | str] = (".",),
    environments: Sequence[str] | None = None,
    *,
    all_environments: bool = False,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
    jobs: int | None = None,
) -> ValidationReport:
    """Validate every spec found under ``paths`` (files, folders, globs).

    Many files (a monorepo) are spread over ``jobs`` worker processes (default: one per
    core once there are enough files to pay for the workers' start-up).
    """
    files, missing = discover_all(paths)
    not_found = [FileResult(d.location.file if d.location else "", [], [d]) for d in missing]
    task = _ValidateTask(
        list(environments) if environments else None,
        all_environments,
        dict(variables or {}),
        variable_environ(os.environ if environ is None else environ),
        strict,
    )
    workers = (
        jobs if jobs is not None else (min(os.cpu_count() or 1, 8) if len(files) >= _PARALLEL_FROM else 1)
    )
    if workers <= 1 or len(files) < 2:
        return ValidationReport([*not_found, *(task(f) for f in files)])
    import gc
    import importlib
    import multiprocessing

    # What resolve() imports on first use is imported once here, not again in every forked worker.
    for module in _RESOLVE_MODULES:
        importlib.import_module(module)
    # Everything imported so far lives as long as the process: move it out of the collector's way
    # (fewer objects to scan on every collection, and the forked workers share the pages unmodified).
    gc.freeze()
    context = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    with context.Pool(workers) as pool:
        results = pool.map(task, files, chunksize=max(1, len(files) // (workers * 4)))
    return ValidationReport([*not_found, *results])


_PARALLEL_FROM = 64
_RESOLVE_MODULES = (
    "mlspec.spec_schema.checks",
    "mlspec.spec_schema.checks.security",
    "mlspec.spec_schema.named_paths",
    "mlspec.spec_schema.structure",
    "mlspec.spec_schema.variable_findings",
)
"""The modules :func:`resolve` imports when first called."""


@dataclass(frozen=True)
class _ValidateTask:
    """One file's validation with fixed options; a picklable callable for worker processes."""

    environments: list[str] | None
    all_environments: bool
    variables: dict[str, str]
    environ: dict[str, str]
    strict: bool

    def __call__(self, file: Path) -> FileResult:
        return validate_file(
            file,
            self.environments,
            all_environments=self.all_environments,
            variables=self.variables,
            environ=self.environ,
            strict=self.strict,
        )


def discover(paths: Iterable[Path | str]) -> list[Path]:
    """Spec files named by ``paths``: files as given, folders searched for ``mlproject.yaml``, globs expanded.

    Raises :class:`MlspecError` (a usage problem, MLS000) when a path matches nothing.
    """
    found, missing = discover_all(paths)
    if missing:
        raise MlspecError(missing)
    return found


def discover_all(paths: Iterable[Path | str]) -> tuple[list[Path], list[Diagnostic]]:
    """Like :func:`discover`, but a path that matches nothing is returned as an MLS000 diagnostic."""
    found: list[Path] = []
    missing: list[Diagnostic] = []
    for raw in paths:
        text = str(raw)
        candidates = (
            [Path(p) for p in sorted(glob.glob(text, recursive=True))]
            if glob.has_magic(text)
            else [Path(text)]
        )
        matched = False
        for candidate in candidates:
            if candidate.is_dir():
                specs = _specs_below(candidate)
                matched = matched or bool(specs)
                found.extend(specs)
            elif candidate.exists():  # a FIFO or device too: loading it says it is not a regular file
                found.append(candidate)
                matched = True
        if not matched:
            if glob.has_magic(text):
                message = f"no file matches {text!r}"
            elif Path(text).is_dir():
                message = f"no {SPEC_FILE_NAME} in {text!r} or below"
            else:
                message = f"no such file or folder: {text!r}"
            hint = "give a spec file, a folder containing mlproject.yaml, or a glob"
            missing.append(Diagnostic.error("MLS000", message, (), Location(text, 1, 1), hint))
    unique: dict[str, Path] = {}
    for p in found:
        unique.setdefault(os.path.normpath(p), p)
    return list(unique.values()), missing


def _specs_below(folder: Path) -> list[Path]:
    specs: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        if SPEC_FILE_NAME in files:
            specs.append(Path(root) / SPEC_FILE_NAME)
    return specs


def _identity(d: Diagnostic) -> tuple[object, ...]:
    """Two findings are one when they say the same thing at the same place."""
    return (d.code, d.location, d.message)


def _unique(found: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[object, ...]] = set()
    out: list[Diagnostic] = []
    for d in found:
        key = _identity(d)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def build(
    path: Path | str,
    environment: str | None = None,
    variables: Mapping[str, str] | None = None,
    out_dir: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> BuildResult:
    """Validate and compile a spec for one environment; write it when ``out_dir`` is given.

    Raises :class:`MlspecError` with spec-located diagnostics if the spec is invalid or
    cannot be compiled. Warnings come back in ``result.diagnostics``.
    """
    from mlspec.compiler.build import compile_spec, write_build

    document = load(path)
    resolved = resolve(document, environment, variables, environ)
    if resolved.model is None or not resolved.ok:
        raise MlspecError(sorted(resolved.diagnostics, key=sort_key))
    result = compile_spec(resolved.spec, resolved.model)
    result.spec_data = resolved.spec.data
    result.diagnostics = [*resolved.diagnostics, *result.diagnostics]
    if out_dir is not None:
        write_build(result, Path(out_dir))
    return result


def default_build_dir(spec_path: Path | str, environment: str) -> Path:
    """``build/<env>/`` beside the spec."""
    spec = Path(spec_path)
    folder = spec if spec.is_dir() else spec.parent
    return folder / "build" / environment


@dataclass
class WrittenBuild:
    """What ``mlspec build`` produced: the compiled result, the folder it is written in, and what the
    Azure SDKs' offline validators found there (``build --check``; empty when they did not run)."""

    result: BuildResult
    out_dir: Path
    platform_problems: list[PlatformProblem] = field(default_factory=list)


def build_into_folder(
    path: Path | str,
    environment: str | None = None,
    variables: Mapping[str, str] | None = None,
    out_dir: Path | str | None = None,
    *,
    platform_checks: bool = False,
    environ: Mapping[str, str] | None = None,
) -> WrittenBuild:
    """``mlspec build``: compile the spec and write it into ``out_dir`` (default ``build/<env>/`` beside
    the spec); with ``platform_checks``, also run the written artifacts through the SDKs' own validators.

    Raises :class:`MlspecError` as :func:`build` does, and MLS604 before building anything when
    ``platform_checks`` is asked for and a validator is not installed.
    """
    from mlspec.compiler.build import write_build

    if platform_checks:
        require_platform_checkers()
    result = build(path, environment, variables, environ=environ)
    target = Path(out_dir) if out_dir is not None else default_build_dir(path, result.manifest.environment)
    write_build(result, target)
    written = WrittenBuild(result, target)
    if platform_checks:
        from mlspec.compiler.platform_checks.build_dir import check_build_dir

        written.platform_problems = check_build_dir(target)
    return written


def require_platform_checkers() -> None:
    """``build --check`` needs the SDKs' validators: MLS604 (a usage error) names the extra that installs them."""
    from mlspec import DISTRIBUTION
    from mlspec.compiler.platform_checks.build_dir import CHECKS_EXTRA, missing_checkers

    missing = missing_checkers()
    if missing:
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS604",
                    f"build --check runs the artifacts through the Azure SDKs' own validators, and "
                    f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed",
                    hint=f"pip install '{DISTRIBUTION}[{CHECKS_EXTRA}]' (or build without --check)",
                )
            ]
        )


def draw_graph(
    path: Path | str,
    environment: str | None = None,
    variables: Mapping[str, str] | None = None,
    output_format: str = "mermaid",
    environ: Mapping[str, str] | None = None,
) -> str:
    """``mlspec graph``: one environment's resource graph as ``mermaid``, ``dot`` or ``json`` text."""
    from mlspec.compiler.graph_render import render_graph

    return render_graph(build(path, environment, variables, environ=environ).manifest, output_format)


def run(
    path: Path | str = SPEC_FILE_NAME,
    environment: str | None = None,
    variables: Mapping[str, str] | None = None,
    *,
    lake: Path | str | None = None,
    options: RunOptions | None = None,
    progress: RunProgress | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """``mlspec run``: build, apply on the embedded local provider, then execute the whole chain.

    Returns the run record (the ``--json`` document, ``status`` ``succeeded`` or ``failed``). Raises
    :class:`MlspecError` for an invalid spec, an environment that does not run locally, or a project
    another run holds; ``KeyboardInterrupt`` (also for SIGTERM) after recording the interrupted run.
    """
    from mlspec.api.deploy import desired_from_build
    from mlspec.plan.operations import apply_desired
    from mlspec.runtime.chain import Chain, RunOptions

    opts = options or RunOptions()
    if environ is not None:
        opts.environ = environ
    opts.variables = dict(variables or {})
    opts.lake_given = lake is not None
    built = build(_spec_file_of(path), environment or LOCAL_ENVIRONMENT, variables, environ=environ)
    if built.manifest.provider == "azure":  # runs what the environment deployed, in Azure
        from mlspec.api.azure_run import refuse_local_options, run_on_azure
        from mlspec.api.deploy import located_at

        with located_at(_spec_file_of(path)):
            refuse_local_options(built.manifest.environment, opts, lake)
            return run_on_azure(built, _spec_file_of(path), progress)
    project, layout, result = _local_project(path, environment, variables, lake, environ, built)
    with _run_lock(layout, "run"):
        apply_desired(desired_from_build(result, project.project_dir))
        return Chain(project, layout, opts, progress).run()


def _spec_file_of(path: Path | str) -> Path:
    return Path(path) / SPEC_FILE_NAME if Path(path).is_dir() else Path(path)


def _local_project(
    path: Path | str,
    environment: str | None,
    variables: Mapping[str, str] | None,
    lake: Path | str | None,
    environ: Mapping[str, str] | None,
    built: BuildResult | None = None,
) -> tuple[RunProject, RunLayout, BuildResult]:
    """Build the spec into ``build/<env>/`` for an environment that runs on this machine."""
    from mlspec.compiler.build import write_build
    from mlspec.run_project import run_project
    from mlspec.runtime.records import RunLayout

    env = environment or LOCAL_ENVIRONMENT
    spec_file = _spec_file_of(path)
    result = built or build(spec_file, env, variables, environ=environ)
    if result.manifest.provider != "local":
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS812",
                    f"environment {env!r} deploys with provider {result.manifest.provider!r}; "
                    "`mlspec serve` runs the endpoint on this machine only",
                    ("environments", env, "provider"),
                    hint="use --env local (every project has it), or give the environment provider: local; "
                    "`mlspec run --env NAME` runs an Azure environment's deployed pipeline in Azure",
                )
            ]
        )
    build_dir = default_build_dir(spec_file, env)
    write_build(result, build_dir)
    model = resolve(load(spec_file), env, variables, environ).model
    assert model is not None  # the build succeeded, so the spec resolved
    project = run_project(model, environment=env, spec_file=spec_file, build_dir=build_dir)
    if lake is not None and Path(lake).exists() and not Path(lake).is_dir():
        raise MlspecError([Diagnostic.error("MLS000", f"--lake {lake} is not a folder")])
    return project, RunLayout(project.project_dir, Path(lake) if lake is not None else None), result


@contextlib.contextmanager
def _run_lock(layout: RunLayout, what: str) -> Iterator[None]:
    from mlspec.runtime.records import RunLocked

    try:
        with layout.lock(what):
            yield
    except RunLocked as error:
        raise MlspecError([Diagnostic.error("MLS814", str(error))]) from None


@contextlib.contextmanager
def serve(
    path: Path | str = SPEC_FILE_NAME,
    environment: str | None = None,
    variables: Mapping[str, str] | None = None,
    *,
    lake: Path | str | None = None,
    port: int = 0,
    environ: Mapping[str, str] | None = None,
) -> Iterator[Any]:
    """``mlspec serve``: the local endpoint on the promoted model version, until the block ends."""
    from mlspec.runtime.endpoint import EndpointUnavailable, start_endpoint, write_example_request
    from mlspec.runtime.interrupts import sigterm_as_interrupt

    project, layout, _ = _local_project(path, environment, variables, lake, environ)
    logs = layout.runs / "serve"
    logs.mkdir(parents=True, exist_ok=True)
    # SIGTERM (kill, systemd, docker stop) stops the server and removes its secret files as Ctrl-C does.
    with sigterm_as_interrupt(), _run_lock(layout, "serve"):
        try:
            server, _served = start_endpoint(
                project,
                layout,
                log_dir=logs,
                environ=dict(os.environ if environ is None else environ),
                port=port,
            )
        except EndpointUnavailable as error:
            raise MlspecError([Diagnostic.error("MLS813", str(error))]) from error
        features = list(project.model.features) if project.model else []
        server.example_request = write_example_request(layout, features, logs / "request.json")
        try:
            yield server
        finally:
            server.stop()
