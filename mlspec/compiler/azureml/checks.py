"""mlspec's own checks of the rendered Azure ML artifacts: what ``azure.ai.ml`` does not catch offline.

The SDK loads a pipeline whose step reads ``${{parent.inputs.nope}}``, names a step that
does not exist or carries unknown keys inside a step; it takes any cron string and any
metric name. These checks read the rendered YAML (the bytes that ship) and report each
problem at the spec line the artifact came from.

Codes: MLS620 pipeline bindings and structure · MLS621 component commands and declarations ·
MLS622 a job against its component · MLS623 binding syntax outside a binding ·
MLS624 schedules (cron, trigger, job) · MLS625 monitor signals, metrics and thresholds.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import Any

import yaml

from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.azureml import names
from mlspec.compiler.azureml.findings import BINDING, DATA_TYPES, VALUE_TYPES, Findings
from mlspec.compiler.azureml.pipeline_checks import check_pipeline
from mlspec.compiler.azureml.schedule_checks import check_monitor, check_recurrence, check_retrain
from mlspec.diagnostics import Diagnostic, SpecPath

_OPENERS = ("${{", "$[[")
KEY = "<key>"  # where a mapping key (rather than a value) holds the text
_COMMAND_REF = re.compile(r"(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)")


def check(ctx: RenderContext, out: ArtifactSet) -> list[Diagnostic]:
    """Every problem mlspec can see in the rendered ``azureml/`` artifacts."""
    found = Findings(ctx, _origins(out), frozenset(out.artifacts), [])
    documents = _documents(out, found)
    for path, doc in sorted(documents.items()):
        _stray_bindings(found, path, doc)
        kind = _kind(path)
        if kind == "component":
            _component(found, path, doc, documents)
        elif kind == "pipeline":
            check_pipeline(found, path, doc, documents)
        elif kind == "retrain":
            check_retrain(found, path, doc, documents)
        elif kind == "recurrence":
            check_recurrence(found, path, doc, documents)
        elif kind == "monitor":
            check_monitor(found, path, doc)
    return found.items


def _origins(out: ArtifactSet) -> dict[str, SpecPath]:
    """Artifact path → the spec path of the first resource shipping it as its primary file."""
    origins: dict[str, SpecPath] = {}
    for resource in out.resources:
        if resource.provider_type.startswith("azureml:"):
            origins.setdefault(resource.file, resource.source)
    return origins


def _documents(out: ArtifactSet, found: Findings) -> dict[str, Any]:
    documents: dict[str, Any] = {}
    prefix = names.FOLDER + "/"
    for path, artifact in out.artifacts.items():
        if not path.startswith(prefix) or not path.endswith(".yml"):
            continue
        try:
            documents[path] = yaml.load(artifact.content, Loader=yaml.CSafeLoader)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            found.add("MLS620", path, f"is not readable YAML: {exc}")
    return documents


def _kind(path: str) -> str:
    relative = path.removeprefix(names.FOLDER + "/")
    if relative.startswith("components/"):
        return "component"
    return {
        "pipeline.yml": "pipeline",
        "monitoring-job.yml": "pipeline",
        "schedules/retrain.yml": "retrain",
        "schedules/monitoring.yml": "recurrence",
        "schedules/monitor.yml": "monitor",
    }.get(relative, "other")


# -- binding syntax where no binding belongs ---------------------------------------------------------------


def _stray_bindings(found: Findings, path: str, doc: Any) -> None:
    kind = _kind(path)
    for where, text in _strings(doc, ()):
        if not any(opener in text for opener in _OPENERS):
            continue
        if kind == "component" and where in (("command",), ("args",)):
            continue
        if kind == "pipeline" and _is_job_port_value(where):
            continue
        found.add(
            "MLS623",
            path,
            f"{_dotted(where)} holds Azure ML binding syntax ({text[:60]!r}) where no binding belongs",
        )


def _is_job_port_value(where: tuple[str, ...]) -> bool:
    """``jobs.<step>.inputs.<name>`` or ``jobs.<step>.outputs.<name>`` (the value, not the key)."""
    return len(where) == 4 and where[0] == "jobs" and where[2] in ("inputs", "outputs") and where[3] != KEY


def _strings(node: Any, where: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield (*where, KEY), str(key)
            yield from _strings(value, (*where, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, (*where, str(i)))


def _dotted(where: tuple[str, ...]) -> str:
    return ".".join(where) or "<document>"


# -- components ---------------------------------------------------------------------------------------------


def _component(found: Findings, path: str, doc: Any, documents: dict[str, Any]) -> None:
    if not isinstance(doc, dict):
        found.add("MLS621", path, "is not a mapping")
        return
    kind = doc.get("type")
    if kind not in ("command", "spark"):
        found.add("MLS621", path, f"type {kind!r} is neither 'command' nor 'spark'")
    inputs, outputs = (
        _ports(found, path, doc, "inputs", DATA_TYPES | VALUE_TYPES),
        _ports(found, path, doc, "outputs", DATA_TYPES),
    )
    if kind == "spark":
        # A Spark component runs its entry file with args; Azure ML's monitor passes the ports.
        entry = doc.get("entry")
        file = entry.get("file") if isinstance(entry, dict) else None
        args = doc.get("args")
        if not isinstance(file, str) or not isinstance(args, str):
            found.add("MLS621", path, "a Spark component needs entry.file and args")
            return
        given: Any = f"python {file} {args}"
    else:
        given = doc.get("command")
    if not isinstance(given, str) or not given.strip():
        found.add("MLS621", path, "has no command")
        return
    command: str = given
    for expression in BINDING.findall(command):
        match = _COMMAND_REF.fullmatch(expression)
        if match is None:
            found.add(
                "MLS621",
                path,
                f"command binding ${{{{{expression}}}}} is not inputs.<name> or outputs.<name>",
            )
            continue
        declared = inputs if match[1] == "inputs" else outputs
        if match[2] not in declared:
            found.add(
                "MLS621", path, f"command uses {match[1]}.{match[2]}, which the component does not declare"
            )
    _component_code(found, path, doc, command)
    if kind != "spark":  # serverless Spark brings its own runtime; conf names its size
        _component_environment(found, path, doc, documents)


def _ports(
    found: Findings, path: str, doc: dict[str, Any], key: str, allowed: frozenset[str]
) -> dict[str, Any]:
    ports = doc.get(key) or {}
    if not isinstance(ports, dict):
        found.add("MLS621", path, f"{key} is not a mapping")
        return {}
    for name, port in ports.items():
        kind = port.get("type") if isinstance(port, dict) else None
        if kind not in allowed:
            found.add(
                "MLS621",
                path,
                f"{key}.{name} has type {kind!r}; expected one of {', '.join(sorted(allowed))}",
            )
    return ports


def _component_code(found: Findings, path: str, doc: dict[str, Any], command: str) -> None:
    code = doc.get("code")
    if not isinstance(code, str):
        found.add("MLS621", path, "has no code folder")
        return
    folder = posixpath.normpath(posixpath.join(posixpath.dirname(path), code))
    shipped = {p for p in found.artifacts if p.startswith(folder + "/")}
    if not shipped:
        found.add("MLS621", path, f"code folder {code!r} ships no files")
        return
    words = command.split()
    if len(words) >= 2 and words[0] == "python" and f"{folder}/{words[1]}" not in shipped:
        found.add("MLS621", path, f"command runs {words[1]!r}, which is not in the code folder {code!r}")


def _component_environment(
    found: Findings, path: str, doc: dict[str, Any], documents: dict[str, Any]
) -> None:
    env = documents.get(names.path("environment.yml"))
    reference = doc.get("environment")
    rendered = f"azureml:{env.get('name')}:{env.get('version')}" if isinstance(env, dict) else None
    if rendered is not None and reference != rendered:
        found.add("MLS621", path, f"environment {reference!r} is not the rendered environment {rendered}")
