"""What ``azure-ai-ml`` does not check offline in a pipeline job: its bindings and step keys.

A step's unknown keys are kept as free attributes, ``${{parent.inputs.nope}}`` and
``${{parent.jobs.missing.outputs.x}}`` load and validate fine, and so do input names the component
does not declare. Azure ML rejects all of them when the job is submitted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mlspec.compiler.platform_checks.json_pointers import child, pointer, strings_in
from mlspec.compiler.platform_checks.suggestions import did_you_mean

REGISTERED_COMPONENT = re.compile(r"azureml:[^:/]+:[^:/]+")
"""A step's component registered in the workspace by name and version (the SDK keeps it a string).
Its own copy: the platform checks judge written files and import no service's renderer."""

Located = tuple[str, str]
"""``(where, message)``."""

_BINDING = re.compile(r"\$\{\{\s*parent\.(?P<ref>[A-Za-z0-9_.\-]+)\s*\}\}")


def pipeline_problems(
    raw: dict[str, Any], job: Any, registered: Mapping[str, Any] | None = None
) -> list[Located]:
    """Problems in a loaded pipeline job (``job``) that its YAML (``raw``) shows.

    ``registered`` maps ``<name>:<version>`` to the loaded component of that name and version that the
    build registers: a step naming one (``azureml:<name>:<version>``; the SDK keeps it as a string
    without the prefix) is checked against it as against a file it names.
    """
    steps = raw.get("jobs")
    if not isinstance(steps, dict):
        return []
    found: list[Located] = []
    loaded = getattr(job, "jobs", {}) or {}
    known = registered or {}
    components = {name: _component(loaded.get(name), known) for name in steps}
    for name, step in steps.items():
        if not isinstance(step, dict):
            continue
        where = pointer("jobs", name)
        node = loaded.get(name)
        found += _unknown_step_keys(node, where)
        component = components[name]
        reference = step.get("component")
        if isinstance(reference, str) and REGISTERED_COMPONENT.fullmatch(reference) and component is None:
            message = f"step {name!r} runs component {reference}, which the build does not register"
            found.append((child(where, "component"), message))
        for section in ("inputs", "outputs"):
            declared = getattr(component, section, None)
            given = step.get(section)
            if isinstance(given, dict) and declared is not None:
                for port in given:
                    if port not in declared:
                        message = (
                            f"step {name!r} sets {section[:-1]} {port!r}, which its component does not "
                            f"declare{did_you_mean(port, list(declared))}"
                        )
                        found.append((child(where, section, port), message))
            for at, text in strings_in(given, child(where, section)):
                found += _binding_problems(text, at, name, raw, components)
    return found


def _component(node: Any, registered: Mapping[str, Any]) -> Any:
    """The component a loaded step runs: loaded from its file by the SDK, or the registered one it names."""
    component = getattr(node, "component", None)
    return registered.get(component.removeprefix("azureml:")) if isinstance(component, str) else component


def _unknown_step_keys(node: Any, where: str) -> list[Located]:
    # The SDK keeps keys its node schema does not know as free attributes instead of rejecting them.
    get_attrs = getattr(node, "_get_attrs", None)
    if get_attrs is None:
        return []
    return [(child(where, key), f"unknown field {key!r} in a pipeline step") for key in get_attrs()]


def _binding_problems(
    text: str, where: str, step: str, raw: dict[str, Any], components: dict[str, Any]
) -> list[Located]:
    found: list[Located] = []
    for match in _BINDING.finditer(text):
        parts = match.group("ref").split(".")
        problem = _resolve(parts, step, raw, components)
        if problem:
            found.append((where, f"{match.group(0)}: {problem}"))
    return found


def _resolve(parts: list[str], step: str, raw: dict[str, Any], components: dict[str, Any]) -> str | None:
    if len(parts) == 2 and parts[0] in ("inputs", "outputs"):
        section = raw.get(parts[0])
        declared: list[str] = list(section) if isinstance(section, dict) else []
        if parts[1] not in declared:
            return f"the pipeline declares no {parts[0][:-1]} {parts[1]!r}{did_you_mean(parts[1], declared)}"
        return None
    if len(parts) == 4 and parts[0] == "jobs" and parts[2] in ("inputs", "outputs"):
        source, section, port = parts[1], parts[2], parts[3]
        if source not in raw["jobs"]:
            return f"there is no step {source!r}{did_you_mean(source, list(raw['jobs']))}"
        if source == step:
            return "a step cannot bind to itself"
        ports = getattr(components.get(source), section, None)
        if ports is not None and port not in ports:
            return f"step {source!r} has no {section[:-1]} {port!r}{did_you_mean(port, list(ports))}"
        return None
    return "not a parent.inputs.X, parent.outputs.X or parent.jobs.S.outputs.X binding"
