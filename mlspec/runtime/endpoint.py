"""The local endpoint: the promoted model version served by the build's scoring script.

Used by the chain's ``serve`` and ``retrain`` steps and by ``mlspec serve``. The model version is
the one the last passing gate promoted (``.mlspec/runs/endpoint.json``); the scoring environment
is pinned by that version's own ``requirements.txt``; the deployment's Key Vault secrets come from
the local secrets file or environment (:mod:`mlspec.runtime.serving.secrets`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from mlspec.runtime.project import RunProject
from mlspec.runtime.records import RunLayout


class EndpointUnavailable(Exception):
    """The endpoint cannot start; ``step`` is the chain step that has to run (or be fixed) first."""

    def __init__(self, message: str, step: str | None = None) -> None:
        super().__init__(message)
        self.step = step


def start_endpoint(
    project: RunProject,
    layout: RunLayout,
    *,
    log_dir: Path,
    environ: Mapping[str, str],
    port: int = 0,
    on_progress: Callable[[str], None] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Start the scoring server on 127.0.0.1; returns it (healthy) and the served ``{model, version}``."""
    from mlspec.runtime.serving.environment import ScoringEnvironmentError, scoring_python
    from mlspec.runtime.serving.secrets import SecretMissing, load_local_secrets
    from mlspec.runtime.serving.server import ScoringServerError, start_scoring_server

    say = on_progress or (lambda _text: None)
    model, deployment = project.model, project.deployment
    if model is None or deployment is None:
        raise EndpointUnavailable("the spec has no model and deployment to serve", "serve")
    served = layout.served_version()
    if served is None or served.get("model") != model.name:
        raise EndpointUnavailable(
            f"no version of {model.name} has passed its evaluation gate yet: run `mlspec run` first", "train"
        )
    version = str(served["version"])
    model_dir = registered_model_dir(layout, model.name, version)
    vault_names = [project.secret_names.get(name, name) for name in deployment.secrets]
    try:
        secrets = load_local_secrets(project.project_dir, vault_names, environ)
    except SecretMissing as error:
        raise EndpointUnavailable(str(error), "serve") from error
    try:
        say("scoring environment ...")
        python = scoring_python(model_dir)
        say(f"starting the scoring server ({model.name} v{version}) ...")
        server = start_scoring_server(
            project.build_dir / "acr" / "score.py",
            python=python,
            build_dir=project.build_dir,
            model_uri=f"models:/{model.name}/{version}",
            model_version=version,
            tracking_uri=layout.tracking_uri,
            secrets=secrets,
            lake_root=layout.lake,
            log_path=log_dir / f"serving-v{version}.log",
            port=port,
        )
    except (ScoringEnvironmentError, ScoringServerError) as error:
        raise EndpointUnavailable(str(error), "serve") from error
    return server, {"model": model.name, "version": version}


def registered_model_dir(layout: RunLayout, name: str, version: str) -> Path:
    """The files of a registered model version in the local MLflow registry."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=layout.tracking_uri, registry_uri=layout.tracking_uri)
    try:
        source = client.get_model_version_download_uri(name, version)
    except MlflowException as error:
        raise EndpointUnavailable(
            f"{name} v{version} is not in the local registry ({layout.mlruns})", "train"
        ) from error
    path = Path(unquote(urlparse(source).path)) if source.startswith("file:") else Path(source)
    if not (path / "MLmodel").is_file():
        raise EndpointUnavailable(f"{name} v{version}: no MLflow model at {path}", "train")
    return path


def write_example_request(layout: RunLayout, features: list[str], target: Path, rows: int = 2) -> Path | None:
    """A request body of a few rows of the last run's evaluation split (for a person to try the endpoint)."""
    import json

    import pandas as pd

    record = layout.latest_record() or {}
    test = (record.get("model") or {}).get("test_data")
    if not test or not (Path(test) / "test.parquet").is_file():
        return None
    frame = pd.read_parquet(Path(test) / "test.parquet", columns=features).head(rows)
    body = {"data": json.loads(frame.to_json(orient="records"))}
    target.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return target
