"""The training environment (conda file + environment asset) and the compute cluster."""

from __future__ import annotations

import re
from typing import Any

from mlspec.compiler.azureml.names import DEFAULT_IMAGE, content_version, environment_name, inert
from mlspec.spec_schema.models import Compute, ModelSpec, PythonEnvironment

# What the generated scripts import. Added only when the spec does not name the package itself,
# so a team's own pin always wins.
RUNTIME_PACKAGES = (
    ("mlflow", "mlflow>=2.16,<3"),
    ("azureml-mlflow", "azureml-mlflow>=1.57,<2"),  # MLflow tracking and registry against the workspace
    ("scikit-learn", "scikit-learn>=1.5,<1.8"),
    ("pandas", "pandas>=2,<3"),
    ("pyarrow", "pyarrow>=15,<21"),
)
DELTA_PACKAGE = ("deltalake", "deltalake>=0.18,<2")

IDLE_SECONDS_BEFORE_SCALE_DOWN = 1800

_PACKAGE_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def package_name(requirement: str) -> str:
    """The normalised name of a pip or conda requirement: ``scikit_learn==1.5`` → ``scikit-learn``."""
    match = _PACKAGE_NAME.match(requirement)
    name = match[1] if match else requirement
    return re.sub(r"[-_.]+", "-", name).lower()


def conda_file(
    model: ModelSpec, *, needs_delta: bool, extra: tuple[tuple[str, str], ...] = ()
) -> dict[str, Any]:
    """The conda file; ``extra`` adds (name, requirement) pairs the spec does not name (the monitoring job's)."""
    env = model.training.environment
    named = {package_name(r) for r in (*env.pip, *env.conda)}
    wanted = [*RUNTIME_PACKAGES, *([DELTA_PACKAGE] if needs_delta else []), *extra]
    pip = [*env.pip, *(requirement for name, requirement in wanted if name not in named)]
    return {
        "name": environment_name(model.name),
        "channels": ["conda-forge"],
        "dependencies": [f"python={env.python}", "pip", *env.conda, {"pip": pip}],
    }


def environment(
    model: ModelSpec, conda: dict[str, Any], conda_path: str, description: str | None
) -> dict[str, Any]:
    """The environment asset; its version is the hash of the image and conda file."""
    image = _image(model.training.environment)
    data: dict[str, Any] = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/environment.schema.json",
        "name": environment_name(model.name),
        "version": content_version(image, conda),
        "image": image,
        "conda_file": conda_path,
    }
    if description:
        data["description"] = inert(description)
    return data


def environment_reference(env: dict[str, Any]) -> str:
    return f"azureml:{env['name']}:{env['version']}"


def compute(spec: Compute, tags: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json",
        "name": spec.cluster,
        "type": "amlcompute",
        "size": spec.size,
        "tier": "dedicated",
        "min_instances": spec.min_nodes,
        "max_instances": spec.max_nodes,
        "idle_time_before_scale_down": IDLE_SECONDS_BEFORE_SCALE_DOWN,
        # Jobs run as the cluster's own identity (the pipeline sets identity: managed), so scheduled
        # and alert-triggered runs read the lake with a role mlspec grants, not the submitter's.
        "identity": {"type": "system_assigned"},
    }
    if tags:
        data["tags"] = tags
    return data


def _image(env: PythonEnvironment) -> str:
    return env.image or DEFAULT_IMAGE
