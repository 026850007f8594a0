"""The pipeline job binding the four components: prepare → train → evaluate → register (after
``refresh_features`` when the training data is a Synapse transform, :mod:`.refresh`)."""

from __future__ import annotations

import re
from typing import Any

from mlspec.compiler.azureml import refresh
from mlspec.compiler.azureml.names import inert
from mlspec.spec_schema.models import ModelSpec

# Which job input is bound to what: ``parent.inputs.X`` or ``parent.jobs.S.outputs.O``.
WIRING: dict[str, dict[str, str]] = {
    "prepare": {
        "data": "parent.inputs.training_data",
        "test_size": "parent.inputs.test_size",
        "seed": "parent.inputs.seed",
    },
    "train": {"train_data": "parent.jobs.prepare.outputs.train"},
    "evaluate": {"model": "parent.jobs.train.outputs.model", "test_data": "parent.jobs.prepare.outputs.test"},
    "register": {
        "model": "parent.jobs.train.outputs.model",
        "evaluation": "parent.jobs.evaluate.outputs.evaluation",
    },
}
# Job outputs surfaced as pipeline outputs: (step, output) → pipeline output name.
SURFACED: dict[tuple[str, str], str] = {
    ("train", "model"): "model",
    ("evaluate", "evaluation"): "evaluation",
    ("register", "registration"): "registration",
}
OUTPUT_TYPES = {"model": "mlflow_model", "evaluation": "uri_folder", "registration": "uri_folder"}


def binding(expression: str) -> str:
    return "${{" + expression + "}}"


REGISTERED_COMPONENT = re.compile(r"azureml:(?P<name>[^:/]+):(?P<version>[^:/]+)")
"""A job's component as registered in the workspace: ``azureml:<name>:<version>``."""


def registered_component(name: str, version: str) -> str:
    """How a job names a component registered in the workspace: ``azureml:<name>:<version>``."""
    return f"azureml:{name}:{version}"


def pipeline_job(
    project: str,
    model: ModelSpec,
    training_data_url: str,
    description: str | None,
    tags: dict[str, str],
    components: dict[str, str],
) -> dict[str, Any]:
    """The pipeline job YAML data; each step runs the registered component ``components[step]``.

    A job naming a component by its file (``./components/train.yml``) makes Azure ML register an
    anonymous copy on every submission: the named, versioned components the build registers would
    never be what runs. By ``azureml:<name>:<version>`` the job (and every scheduled retrain) runs
    exactly the versions the deploy registered first (the pipeline resource depends on them).
    """
    split = model.training.split
    data: dict[str, Any] = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
        "type": "pipeline",
        "display_name": f"{inert(model.name)} training",
        "experiment_name": project,
    }
    if description:
        data["description"] = inert(description)
    if tags:
        data["tags"] = tags
    data["settings"] = {
        "default_compute": f"azureml:{model.training.compute.cluster}",
        "continue_on_step_failure": False,
    }
    data["identity"] = {"type": "managed"}  # the compute cluster's identity, granted the lake read
    data["inputs"] = {
        "training_data": {"type": "uri_folder", "path": inert(training_data_url)},
        # Literal values: a pipeline job's inputs take no type/default form.
        "test_size": float(split.test_size),
        "seed": int(split.seed),
    }
    data["outputs"] = {name: {"type": kind} for name, kind in OUTPUT_TYPES.items()}
    wired = refresh.wiring(WIRING, components)  # the refresh_features step first, when it is rendered
    data["jobs"] = {step: _job(step, inputs, components[step]) for step, inputs in wired.items()}
    return data


def _job(step: str, inputs: dict[str, str], component: str) -> dict[str, Any]:
    job: dict[str, Any] = {"type": "command", "component": component}
    if inputs:
        job["inputs"] = {name: binding(expression) for name, expression in inputs.items()}
    outputs = {out: binding(f"parent.outputs.{name}") for (s, out), name in SURFACED.items() if s == step}
    if outputs:
        job["outputs"] = outputs
    return job
