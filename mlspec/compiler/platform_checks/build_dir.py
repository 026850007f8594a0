"""``mlspec build --check``: run the platform check that fits each file of a build output folder.

Files are recognised by what they hold, not where a renderer put them, so the checks follow the
renderers without a second copy of their layout: Kubernetes manifests by ``apiVersion``/``kind``,
Azure ML YAML by its ``$schema`` or shape, ARM templates by their ``$schema``, Synapse resources by
their properties, notebooks by extension, Power BI Projects by their ``.pbip`` file. Files that fit
no check (scripts, Dockerfiles, manifest.json, conda files) are skipped. Every problem's ``artifact``
is the file's path relative to the build folder.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import yaml

from mlspec.compiler.platform_checks.arm import check_arm_template
from mlspec.compiler.platform_checks.azureml import AmlKind, check_aml_file
from mlspec.compiler.platform_checks.ipynb import check_ipynb
from mlspec.compiler.platform_checks.kubernetes import check_kubernetes_manifests
from mlspec.compiler.platform_checks.powerbi import check_pbip_project
from mlspec.compiler.platform_checks.problems import PlatformProblem
from mlspec.compiler.platform_checks.synapse import (
    check_synapse_notebook,
    check_synapse_pipeline,
    check_synapse_spark_job,
)

_COMPUTE_TYPES = frozenset({"amlcompute", "computeinstance", "kubernetes", "virtualmachine", "synapsespark"})
_PBIP_PARTS = (".pbip", ".Report", ".SemanticModel")


CHECKS_EXTRA = "azure-checks"


def checker_modules() -> list[str]:
    """What `build --check` runs the artifacts through: the SDKs' own loaders and models (the
    `azure-checks` extra), as each service's registry entry names them. Imported lazily by each check;
    looked for up front so that a missing one is one clear sentence, not an ImportError mid-check."""
    from mlspec.compiler.services import SERVICES

    return list(dict.fromkeys(module for service in SERVICES for module in service.checker_modules))


def missing_checkers() -> list[str]:
    """The modules of :func:`checker_modules` that cannot be imported here."""
    import importlib.util

    missing = []
    for module in checker_modules():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package missing, or a module set to None
            found = False
        if not found:
            missing.append(module)
    return missing


def check_build_dir(root: Path, kubernetes_version: str = "1.30.0") -> list[PlatformProblem]:
    """Every platform problem in the artifacts under ``root``, files in path order."""
    problems: list[PlatformProblem] = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = file.relative_to(root).as_posix()
        if any(part.endswith(_PBIP_PARTS) for part in file.relative_to(root).parts):
            if file.suffix == ".pbip":  # the project folder is checked as a whole, once
                problems += [_relabel(p, root) for p in check_pbip_project(file.parent)]
            continue
        found = _check_file(file, relative, kubernetes_version)
        problems += [_relabel(p, root) for p in found]
    return problems


def _check_file(file: Path, relative: str, kubernetes_version: str) -> list[PlatformProblem]:
    if file.suffix == ".ipynb":
        notebook = _read_json(file)
        return (
            check_ipynb(notebook, artifact=relative) if isinstance(notebook, dict) else _unreadable(relative)
        )
    if file.suffix == ".json":
        data = _read_json(file)
        return _check_json(data, relative) if data is not None else _unreadable(relative)
    if file.suffix in (".yml", ".yaml"):
        try:
            documents = [d for d in yaml.safe_load_all(file.read_text(encoding="utf-8")) if d is not None]
        except (OSError, yaml.YAMLError) as exc:
            return [PlatformProblem(relative, "", f"not valid YAML: {exc}", "mlspec")]
        if documents and all(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in documents):
            return check_kubernetes_manifests(documents, kubernetes_version, artifact=relative)
        kind = _aml_kind(documents[0]) if len(documents) == 1 and isinstance(documents[0], dict) else None
        return check_aml_file(file, kind) if kind is not None else []
    return []


def _check_json(data: Any, relative: str) -> list[PlatformProblem]:
    if not isinstance(data, dict):
        return []
    if "deploymentTemplate.json" in str(data.get("$schema", "")):
        return check_arm_template(data, artifact=relative)
    properties = data.get("properties")
    if isinstance(properties, dict) and "cells" in properties:
        return check_synapse_notebook(data, artifact=relative)
    if isinstance(properties, dict) and "activities" in properties:
        return check_synapse_pipeline(data, artifact=relative)
    if "jobProperties" in data or (isinstance(properties, dict) and "jobProperties" in properties):
        return check_synapse_spark_job(data, artifact=relative)
    return []


def _aml_kind(doc: dict[str, Any]) -> AmlKind | None:
    """The Azure ML loader a YAML document is for, by its ``$schema`` or, lacking one, its shape."""
    schema = str(doc.get("$schema", "")).rsplit("/", 1)[-1].lower()
    kind = str(doc.get("type", "")).lower()
    if "create_monitor" in doc:
        return "monitor_schedule"
    if "create_job" in doc or schema.startswith("schedule"):
        return "schedule"
    if "component" in schema:
        return "component"
    if "job" in schema or kind == "pipeline":
        return "job"
    if "environment" in schema or ({"image", "build"} & set(doc) and "command" not in doc):
        return "environment"
    if "compute" in schema or kind in _COMPUTE_TYPES:
        return "compute"
    if "command" in doc and kind == "command":
        return "component" if "version" in doc else "job"
    return None


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None


def _unreadable(relative: str) -> list[PlatformProblem]:
    return [PlatformProblem(relative, "", "not valid JSON", "mlspec")]


def _relabel(problem: PlatformProblem, root: Path) -> PlatformProblem:
    """Checks label problems with the path they were given; the build folder's reader wants it relative."""
    artifact = Path(problem.artifact)
    if artifact.is_relative_to(root):
        return dataclasses.replace(problem, artifact=artifact.relative_to(root).as_posix())
    return problem
