"""Checks of the rendered pipeline job: every binding resolves, every job matches its component."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any

from mlspec.compiler.azureml import names
from mlspec.compiler.azureml.findings import BINDING, DATA_TYPES, Findings
from mlspec.compiler.azureml.pipeline import REGISTERED_COMPONENT

JOB_KEYS = frozenset(
    {
        "type",
        "component",
        "inputs",
        "outputs",
        "compute",
        "display_name",
        "description",
        "tags",
        "environment_variables",
        "resources",
        "limits",
        "identity",
        "distribution",
        "queue_settings",
    }
)
_NAME = r"([A-Za-z_][A-Za-z0-9_]*)"
_PARENT_INPUT = re.compile(rf"parent\.inputs\.{_NAME}")
_PARENT_OUTPUT = re.compile(rf"parent\.outputs\.{_NAME}")
_JOB_OUTPUT = re.compile(rf"parent\.jobs\.{_NAME}\.outputs\.{_NAME}")


def check_pipeline(found: Findings, path: str, doc: Any, documents: dict[str, Any]) -> None:
    if not isinstance(doc, dict):
        found.add("MLS620", path, "is not a mapping")
        return
    if doc.get("type") != "pipeline":
        found.add("MLS620", path, f"type {doc.get('type')!r} is not 'pipeline'")
    _default_compute(found, path, doc, documents)
    inputs = _mapping(found, path, doc, "inputs")
    outputs = _mapping(found, path, doc, "outputs")
    for name, value in inputs.items():
        if isinstance(value, dict) and value.get("type") not in DATA_TYPES:
            found.add("MLS620", path, f"inputs.{name} has type {value.get('type')!r}")
    for name, value in outputs.items():
        if not isinstance(value, dict) or value.get("type") not in DATA_TYPES:
            found.add("MLS620", path, f"outputs.{name} is not a typed data output")
    jobs = _mapping(found, path, doc, "jobs")
    if not jobs:
        found.add("MLS620", path, "has no jobs")
    declared = {step: _job_component(found, path, step, job, documents) for step, job in jobs.items()}
    pipeline = _Pipeline(found, path, declared, inputs, outputs)
    edges: dict[str, set[str]] = {step: set() for step in jobs}
    for step, job in jobs.items():
        if isinstance(job, dict):
            edges[step] = _job(pipeline, step, job)
    _cycles(found, path, edges)


def _default_compute(found: Findings, path: str, doc: dict[str, Any], documents: dict[str, Any]) -> None:
    settings = doc.get("settings")
    compute = settings.get("default_compute") if isinstance(settings, dict) else None
    cluster = documents.get(names.path("compute.yml"))
    if not isinstance(compute, str) or not compute.startswith("azureml:"):
        found.add("MLS620", path, f"settings.default_compute {compute!r} is not azureml:<cluster>")
    elif isinstance(cluster, dict) and compute != f"azureml:{cluster.get('name')}":
        found.add(
            "MLS620",
            path,
            f"settings.default_compute {compute!r} is not the rendered cluster {cluster.get('name')!r}",
        )


def _mapping(found: Findings, path: str, doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key) or {}
    if not isinstance(value, dict):
        found.add("MLS620", path, f"{key} is not a mapping")
        return {}
    return value


def _job_component(
    found: Findings, path: str, step: str, job: Any, documents: dict[str, Any]
) -> dict[str, Any] | None:
    """The component document a job runs, or ``None`` (reported) when it cannot be found."""
    if not isinstance(job, dict):
        found.add("MLS622", path, f"jobs.{step} is not a mapping")
        return None
    reference = job.get("component")
    if not isinstance(reference, str):
        found.add("MLS622", path, f"jobs.{step} names no component")
        return None
    registered = REGISTERED_COMPONENT.fullmatch(reference)
    if registered is not None:  # azureml:<name>:<version>: the build's component of that name and version
        component = next(
            (
                document
                for document in documents.values()
                if isinstance(document, dict)
                and document.get("type") == "command"
                and str(document.get("name")) == registered["name"]
                and str(document.get("version")) == registered["version"]
            ),
            None,
        )
    else:
        component = documents.get(posixpath.normpath(posixpath.join(posixpath.dirname(path), reference)))
    if not isinstance(component, dict):
        found.add("MLS622", path, f"jobs.{step}.component {reference!r} is not a rendered component")
        return None
    return component


@dataclass(frozen=True)
class _Pipeline:
    """What a job's bindings are resolved against."""

    found: Findings
    path: str
    components: dict[str, dict[str, Any] | None]
    """Step → the component document it runs (``None`` when it could not be found)."""
    inputs: dict[str, Any]
    outputs: dict[str, Any]

    def error(self, code: str, message: str) -> None:
        self.found.add(code, self.path, message)


def _job(pipeline: _Pipeline, step: str, job: dict[str, Any]) -> set[str]:
    """Check one job; returns the steps it reads from."""
    for key in sorted(set(job) - JOB_KEYS):
        pipeline.error("MLS622", f"jobs.{step} has unknown key {key!r}")
    if job.get("type") != "command":
        pipeline.error("MLS622", f"jobs.{step}.type {job.get('type')!r} is not 'command'")
    component = pipeline.components.get(step)
    declared_in = (component or {}).get("inputs") or {}
    declared_out = (component or {}).get("outputs") or {}
    job_inputs = job.get("inputs") or {}
    job_outputs = job.get("outputs") or {}
    upstream: set[str] = set()
    for name, value in job_inputs.items() if isinstance(job_inputs, dict) else ():
        if component is not None and name not in declared_in:
            pipeline.error("MLS622", f"jobs.{step}.inputs.{name} is not an input of {job.get('component')}")
        for expression in _bindings(value):
            upstream |= _input_binding(pipeline, step, f"jobs.{step}.inputs.{name}", expression)
    if component is not None:
        for name, port in declared_in.items():
            optional = isinstance(port, dict) and (port.get("optional") or "default" in port)
            if not optional and name not in job_inputs:
                pipeline.error("MLS622", f"jobs.{step} does not pass the required input {name!r}")
    for name, value in job_outputs.items() if isinstance(job_outputs, dict) else ():
        where = f"jobs.{step}.outputs.{name}"
        if component is not None and name not in declared_out:
            pipeline.error("MLS622", f"{where} is not an output of {job.get('component')}")
        for expression in _bindings(value):
            match = _PARENT_OUTPUT.fullmatch(expression)
            if match is None:
                pipeline.error("MLS620", f"{where}: ${{{{{expression}}}}} is not parent.outputs.<name>")
            elif match[1] not in pipeline.outputs:
                pipeline.error("MLS620", f"{where}: the pipeline has no output {match[1]!r}")
    return upstream


def _bindings(value: Any) -> list[str]:
    if isinstance(value, str):
        return BINDING.findall(value)
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        return BINDING.findall(value["path"])
    return []


def _input_binding(pipeline: _Pipeline, step: str, where: str, expression: str) -> set[str]:
    """Report what ``expression`` fails to resolve to; returns the step it reads from, if any."""
    parent = _PARENT_INPUT.fullmatch(expression)
    if parent is not None:
        if parent[1] not in pipeline.inputs:
            pipeline.error("MLS620", f"{where}: the pipeline has no input {parent[1]!r}")
        return set()
    job = _JOB_OUTPUT.fullmatch(expression)
    if job is None:
        pipeline.error(
            "MLS620",
            f"{where}: ${{{{{expression}}}}} is neither parent.inputs.<name> "
            "nor parent.jobs.<step>.outputs.<name>",
        )
        return set()
    source, output = job[1], job[2]
    if source not in pipeline.components:
        pipeline.error("MLS620", f"{where}: there is no step {source!r}")
        return set()
    if source == step:
        pipeline.error("MLS620", f"{where}: step {step!r} reads its own output")
        return set()
    component = pipeline.components[source]
    if component is not None and output not in (component.get("outputs") or {}):
        pipeline.error("MLS620", f"{where}: step {source!r} has no output {output!r}")
    return {source}


def _cycles(found: Findings, path: str, edges: dict[str, set[str]]) -> None:
    state: dict[str, int] = {}

    def visit(step: str, trail: list[str]) -> None:
        state[step] = 1
        for upstream in sorted(edges.get(step, ())):
            if state.get(upstream) == 1:
                cycle = [*trail[trail.index(upstream) :], upstream] if upstream in trail else [step, upstream]
                found.add("MLS620", path, f"the steps read each other in a cycle: {' -> '.join(cycle)}")
            elif upstream not in state:
                visit(upstream, [*trail, upstream])
        state[step] = 2

    for step in sorted(edges):
        if step not in state:
            visit(step, [step])
