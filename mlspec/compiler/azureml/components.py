"""The four command components: prepare → train → evaluate → register.

A component's ``command`` is assembled from its declared inputs and outputs and fixed
script names only: no spec value ever reaches a command line (Azure ML pastes binding
values into a shell command unquoted). Spec values live in the generated scripts as
escaped Python literals instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlspec.compiler.azureml.names import component_name, content_version, inert


@dataclass(frozen=True)
class Port:
    """One declared input or output: its name, command-line flag and Azure ML type."""

    name: str
    flag: str
    type: str
    description: str


@dataclass(frozen=True)
class Step:
    name: str
    script: str
    description: str
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]

    def command(self) -> str:
        args = [f"--{p.flag} ${{{{inputs.{p.name}}}}}" for p in self.inputs]
        args += [f"--{p.flag} ${{{{outputs.{p.name}}}}}" for p in self.outputs]
        return " ".join(["python", self.script, *args])


STEP_DEFINITIONS: dict[str, Step] = {
    "prepare": Step(
        "prepare",
        "prepare.py",
        "Read the training data and split it into train and test sets.",
        (
            Port("data", "data", "uri_folder", "The training data folder (parquet, delta, csv or json)."),
            Port("test_size", "test-size", "number", "Share of rows held out for evaluation."),
            Port("seed", "seed", "integer", "Random seed of the split."),
        ),
        (
            Port("train", "train", "uri_folder", "train.parquet"),
            Port("test", "test", "uri_folder", "test.parquet"),
        ),
    ),
    "train": Step(
        "train",
        "train.py",
        "Fit the model on the train split and save it as an MLflow model.",
        (Port("train_data", "train-data", "uri_folder", "The train split (train.parquet)."),),
        (Port("model", "model-output", "mlflow_model", "The trained model in MLflow format."),),
    ),
    "evaluate": Step(
        "evaluate",
        "evaluate.py",
        "Compute the evaluation metrics on the test split and decide the gate.",
        (
            Port("model", "model", "mlflow_model", "The trained model."),
            Port("test_data", "test-data", "uri_folder", "The test split (test.parquet)."),
        ),
        (Port("evaluation", "evaluation", "uri_folder", "metrics.json, gate.json and charts.json"),),
    ),
    "register": Step(
        "register",
        "register.py",
        "Register the model when the gate passed; otherwise record why it was not registered.",
        (
            Port("model", "model", "mlflow_model", "The trained model."),
            Port("evaluation", "evaluation", "uri_folder", "The evaluate step's metrics.json and gate.json."),
        ),
        (Port("registration", "registration", "uri_folder", "registration.json"),),
    ),
}


def component(
    step: Step, model: str, environment: str, sources: dict[str, bytes], tags: dict[str, str]
) -> dict[str, Any]:
    """The component YAML data; its version hashes everything it runs (definition, environment, code)."""
    head: dict[str, Any] = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json",
        "type": "command",
        "name": component_name(model, step.name),
    }
    body: dict[str, Any] = {
        "display_name": f"{inert(model)} {step.name}",
        "description": step.description,
        # A step without inputs (refresh_features) declares none rather than an empty mapping.
        **({"inputs": {p.name: _port(p) for p in step.inputs}} if step.inputs else {}),
        "outputs": {p.name: _port(p) for p in step.outputs},
        "code": f"../src/{step.name}",
        "environment": environment,
        "command": step.command(),
    }
    if tags:
        body["tags"] = tags
    version = content_version(head, body, sorted(sources), *(sources[name] for name in sorted(sources)))
    return {**head, "version": version, **body}


def _port(port: Port) -> dict[str, Any]:
    return {"type": port.type, "description": port.description}
