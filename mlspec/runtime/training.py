"""Run the compiled Azure ML pipeline job on this machine: each step a local process.

The build's ``azureml/pipeline.yml`` binds four command components (prepare → train → evaluate →
register). Each step runs its component's own ``command`` line, in its component's ``code``
folder, with every ``${{inputs.x}}`` / ``${{outputs.y}}`` bound as Azure ML would bind it:
pipeline inputs that are data (``uri_folder``/``uri_file`` on ``abfss://``) become the matching
folder of the local lake, literal inputs their value, and each step output a fresh folder under
the run's work directory that later steps receive. MLflow tracking and the model registry are a
local file store (``MLFLOW_TRACKING_URI``), so ``register`` registers a real model version.

Nothing here knows the steps' names: any pipeline of command components in dependency order runs.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlspec.runtime.lake import local_path

_BINDING = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_DATA_TYPES = frozenset({"uri_folder", "uri_file", "mltable"})
STEP_TIMEOUT_SECONDS = 3600
_TAIL_LINES = 25


class TrainingFailed(Exception):
    """A pipeline step failed (its process exited non-zero) or the pipeline cannot be bound."""

    def __init__(self, message: str, *, step: str | None = None, log: Path | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.log = log


@dataclass(frozen=True)
class StepRun:
    name: str
    seconds: float
    log: Path


@dataclass
class TrainingResult:
    """What the pipeline produced: the outputs of every step and what the last steps decided."""

    model_name: str
    outputs: dict[str, Path]
    """``<step>.<output>`` → the folder the step wrote."""
    steps: list[StepRun] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    gate_passed: bool = False
    gate_failures: list[str] = field(default_factory=list)
    gate_rules: list[list[Any]] = field(default_factory=list)
    version: str | None = None
    """The registered model version; ``None`` when the gate blocked registration."""

    def output(self, kind: str) -> Path | None:
        """The folder of the first step output named ``kind`` (``model``, ``test``, ``train``...)."""
        for key, folder in self.outputs.items():
            if key.rpartition(".")[2] == kind:
                return folder
        return None


def run_pipeline(
    build_dir: Path,
    *,
    lake_root: Path,
    work_dir: Path,
    tracking_uri: str,
    experiment: str | None = None,
    on_step: Callable[[str], None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> TrainingResult:
    """Run every job of ``build_dir/azureml/pipeline.yml`` in order; raises :class:`TrainingFailed`."""
    aml = build_dir / "azureml"
    pipeline = _read_yaml(aml / "pipeline.yml")
    jobs = pipeline.get("jobs") or {}
    if not isinstance(jobs, dict) or not jobs:
        raise TrainingFailed(f"{aml / 'pipeline.yml'} has no jobs")
    base_env = dict(os.environ if environ is None else environ)
    base_env.update(
        {
            "MLFLOW_TRACKING_URI": tracking_uri,
            "MLFLOW_EXPERIMENT_NAME": experiment or str(pipeline.get("experiment_name") or "Default"),
            "MLSPEC_LAKE_ROOT": str(lake_root),
            "PYTHONHASHSEED": "0",
            # A step's own output should reach the log as it happens, not when it exits.
            "PYTHONUNBUFFERED": "1",
        }
    )
    result = TrainingResult(model_name="", outputs={})
    registered = _registered_components(aml)
    for step in _in_dependency_order(jobs):
        job = jobs[step]
        component_file = _component_file(aml, step, str(job.get("component", "")), registered)
        component = _read_yaml(component_file)
        values = _bind_inputs(step, job, pipeline, result.outputs, lake_root)
        for name in component.get("outputs") or {}:
            folder = work_dir / step / name
            folder.mkdir(parents=True, exist_ok=True)
            result.outputs[f"{step}.{name}"] = folder
            values[f"outputs.{name}"] = str(folder)
        command = _command_line(step, str(component.get("command", "")), values)
        code = (component_file.parent / str(component.get("code", "."))).resolve()
        if on_step is not None:
            on_step(step)
        log = work_dir / f"{step}.log"
        started = time.monotonic()
        _run_step(step, command, code, base_env, log)
        result.steps.append(StepRun(step, time.monotonic() - started, log))
    _read_decisions(result)
    return result


_REGISTERED = re.compile(r"azureml:(?P<name>[^:/]+):(?P<version>[^:/]+)")
"""A job's component registered in the workspace (``azureml:<name>:<version>``), as the build writes it."""


def _registered_components(aml: Path) -> dict[tuple[str, str], Path]:
    """The build's component files by (name, version): what the deploy registers in the workspace."""
    found: dict[tuple[str, str], Path] = {}
    folder = aml / "components"
    for file in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
        data = _read_yaml(file)
        found[(str(data.get("name", "")), str(data.get("version", "")))] = file
    return found


def _component_file(aml: Path, step: str, reference: str, registered: Mapping[tuple[str, str], Path]) -> Path:
    """The file of the component a job runs: a registered one's from the build, or a path beside the pipeline."""
    match = _REGISTERED.fullmatch(reference)
    if match is None:
        if not reference:
            raise TrainingFailed(f"step {step} names no component", step=step)
        return (aml / reference).resolve()
    file = registered.get((match["name"], match["version"]))
    if file is None:
        raise TrainingFailed(
            f"step {step} runs component {reference}, which the build's azureml/components/ does not hold",
            step=step,
        )
    return file.resolve()


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise TrainingFailed(f"cannot read {path}: {error.strerror or error}") from error
    if not isinstance(data, dict):
        raise TrainingFailed(f"{path} is not a YAML mapping")
    return data


def _upstream(job: Mapping[str, Any]) -> set[str]:
    """The steps whose outputs ``job`` binds (``${{parent.jobs.<step>.outputs.<name>}}``)."""
    found: set[str] = set()
    for value in (job.get("inputs") or {}).values():
        for expression in _BINDING.findall(str(value)):
            parts = expression.split(".")
            if parts[:2] == ["parent", "jobs"] and len(parts) >= 3:
                found.add(parts[2])
    return found


def _in_dependency_order(jobs: Mapping[str, Any]) -> list[str]:
    """The steps ordered so that each runs after the steps it reads from (stable: file order first)."""
    done: list[str] = []
    pending = list(jobs)
    while pending:
        ready = [s for s in pending if _upstream(jobs[s]) <= set(done)]
        if not ready:
            raise TrainingFailed(
                f"the pipeline's steps depend on each other in a cycle: {', '.join(pending)}"
            )
        done.append(ready[0])
        pending.remove(ready[0])
    return done


def _bind_inputs(
    step: str,
    job: Mapping[str, Any],
    pipeline: Mapping[str, Any],
    outputs: Mapping[str, Path],
    lake_root: Path,
) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in (job.get("inputs") or {}).items():
        match = _BINDING.fullmatch(str(value))
        if match is None:  # a literal in the step itself
            values[f"inputs.{name}"] = str(value)
            continue
        parts = match[1].split(".")
        if parts[:2] == ["parent", "inputs"] and len(parts) == 3:
            values[f"inputs.{name}"] = _pipeline_input(step, parts[2], pipeline, lake_root)
        elif parts[:2] == ["parent", "jobs"] and len(parts) == 5 and parts[3] == "outputs":
            key = f"{parts[2]}.{parts[4]}"
            if key not in outputs:
                raise TrainingFailed(f"step {step} reads {match[1]}, which no earlier step writes", step=step)
            values[f"inputs.{name}"] = str(outputs[key])
        else:
            raise TrainingFailed(f"step {step}: cannot bind input {name} to {match[1]}", step=step)
    return values


def _pipeline_input(step: str, name: str, pipeline: Mapping[str, Any], lake_root: Path) -> str:
    declared = (pipeline.get("inputs") or {}).get(name)
    if declared is None:
        raise TrainingFailed(f"step {step} reads parent.inputs.{name}, which the pipeline does not declare")
    if not isinstance(declared, dict):
        return str(declared)
    if declared.get("type") in _DATA_TYPES and str(declared.get("path", "")).startswith("abfss://"):
        try:
            return local_path(str(declared["path"]), str(lake_root))
        except ValueError as error:
            raise TrainingFailed(f"pipeline input {name}: {error}", step=step) from error
    return str(declared.get("path", declared.get("default", "")))


def _command_line(step: str, command: str, values: Mapping[str, str]) -> list[str]:
    def bound(match: re.Match[str]) -> str:
        key = match[1]
        if key not in values:
            raise TrainingFailed(
                f"step {step}: its command uses ${{{{{key}}}}}, which is not bound", step=step
            )
        return shlex.quote(values[key])

    words = shlex.split(_BINDING.sub(bound, command))
    if not words:
        raise TrainingFailed(f"step {step} has no command", step=step)
    # The component says `python`: run it with this interpreter, which has the training libraries.
    return [sys.executable if words[0] in ("python", "python3") else words[0], *words[1:]]


def _run_step(step: str, command: list[str], code: Path, env: Mapping[str, str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        try:
            done = subprocess.run(
                command,
                cwd=code,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                timeout=STEP_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise TrainingFailed(
                f"step {step} did not finish within {STEP_TIMEOUT_SECONDS} s", step=step, log=log
            ) from error
        except OSError as error:
            raise TrainingFailed(f"step {step} cannot start: {error}", step=step, log=log) from error
    if done.returncode != 0:
        raise TrainingFailed(
            f"step {step} failed (exit {done.returncode}):\n{log_tail(log)}", step=step, log=log
        )


def log_tail(log: Path, lines: int = _TAIL_LINES) -> str:
    """The last ``lines`` lines of a step's log, indented, for an error message."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "  (no log)"
    return "\n".join("  " + line for line in text.rstrip().splitlines()[-lines:])


def _read_decisions(result: TrainingResult) -> None:
    """Metrics, gate and registration from the files the evaluate and register steps write."""
    for folder in result.outputs.values():
        metrics, gate, registration = (folder / n for n in ("metrics.json", "gate.json", "registration.json"))
        if metrics.is_file():
            result.metrics = {str(k): float(v) for k, v in _json(metrics).items()}
        if gate.is_file():
            decided = _json(gate)
            result.gate_passed = bool(decided.get("passed"))
            result.gate_failures = [str(f) for f in decided.get("failures", [])]
            result.gate_rules = [list(rule) for rule in decided.get("gate", [])]
        if registration.is_file():
            registered = _json(registration)
            result.model_name = str(registered.get("model", result.model_name))
            if registered.get("registered"):
                result.version = str(registered["version"])


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TrainingFailed(f"cannot read {path}: {error}") from error
    if not isinstance(data, dict):
        raise TrainingFailed(f"{path} does not hold a JSON object")
    return data
