"""The generated Azure ML steps run: prepare → train → evaluate → register as local processes.

Each step runs its component's own ``command`` with the pipeline's bindings resolved to local
folders by mlspec's runner (``mlspec.runtime.training``), so the test exercises the wiring in
pipeline.yml as well as the scripts. Needs
scikit-learn, MLflow, pandas and pyarrow (``pip install "scikit-learn>=1.5,<1.8" "mlflow>=2.16,<3"
pandas pyarrow``); skipped without them.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec import api
from mlspec.compiler import azureml
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.diagnostics import MlspecError, has_errors
from mlspec.runtime import training

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"
SCRIPT_PROJECT = ROOT / "tests" / "compiler" / "data" / "azureml" / "script_project" / "mlproject.yaml"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(importlib.util.find_spec(m) is None for m in ("sklearn", "mlflow", "pandas", "pyarrow")),
        reason="needs scikit-learn, mlflow, pandas and pyarrow",
    ),
]


def _build(spec: Path, env: str, folder: Path) -> None:
    """Render ``spec``'s Azure ML artifacts into ``folder`` (as ``mlspec build`` would)."""
    resolved = api.resolve(api.load(spec), env, environ={})
    assert resolved.model is not None and resolved.ok, resolved.diagnostics
    ctx, out = RenderContext(resolved.model, resolved.spec), ArtifactSet()
    azureml.render(ctx, out)
    found = [*out.diagnostics, *azureml.check(ctx, out)]
    if has_errors(found):
        raise MlspecError(found)
    for path, artifact in out.artifacts.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(artifact.content)


def _write_spec(folder: Path, data: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "mlproject.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return spec


def run_pipeline(build: Path, lake: Path, work: Path) -> dict[str, Path]:
    """Every job of ``build``'s pipeline.yml as a local process (mlspec.runtime.training); step outputs."""
    result = training.run_pipeline(
        build, lake_root=lake, work_dir=work, tracking_uri=(work / "mlruns").as_uri()
    )
    return result.outputs


def churn_frame(rows: int = 600) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    tenure = rng.integers(1, 72, rows)
    charges = rng.normal(70, 20, rows).round(2)
    visits = rng.poisson(5, rows)
    score = -0.08 * tenure + 0.04 * charges - 0.3 * visits + 1.0
    churned = rng.random(rows) < 1 / (1 + np.exp(-score))
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(rows)],
            "tenure_months": tenure,
            "monthly_charges": charges,
            "visits": visits,
            "churned": churned,
        }
    )


FEATURES = ("contosolakedev", "curated", "churn", "features")
PATIENTS = ("contosolakedev", "curated", "clinical", "patients")


def write_delta_or_parquet(frame: Any, folder: Path, *, delta: bool = True) -> str:
    """The contract's features are a delta table; Spark-style parquet part files without deltalake."""
    if delta and importlib.util.find_spec("deltalake") is not None:
        from deltalake import write_deltalake

        write_deltalake(str(folder), frame)
        return "delta"
    folder.mkdir(parents=True)
    frame.to_parquet(folder / "part-00000.parquet", index=False)
    (folder / "_SUCCESS").write_text("")
    return "parquet"


def contract_spec(tmp_path: Path, data_format: str, gate: str) -> Path:
    data = yaml.safe_load(CONTRACT.read_text())
    data["transforms"]["customer_features"]["output"]["format"] = data_format
    data["model"]["training"]["params"] = {"n_estimators": 50, "max_depth": 2, "random_state": 0}
    data["model"]["evaluation"]["gate"] = {"roc_auc": gate}
    return _write_spec(tmp_path / "spec", data)


def test_builtin_trainer_runs_and_registers_when_the_gate_passes(tmp_path: Path) -> None:
    fmt = write_delta_or_parquet(churn_frame(), tmp_path.joinpath("lake", *FEATURES))
    _build(contract_spec(tmp_path, fmt, ">= 0.6"), "dev", tmp_path / "build")
    out = run_pipeline(tmp_path / "build", tmp_path / "lake", tmp_path / "work")

    assert (out["prepare.train"] / "train.parquet").is_file() and (
        out["prepare.test"] / "test.parquet"
    ).is_file()
    mlmodel = yaml.safe_load((out["train.model"] / "MLmodel").read_text())
    assert "sklearn" in mlmodel["flavors"] and "signature" in mlmodel
    metrics = json.loads((out["evaluate.evaluation"] / "metrics.json").read_text())
    assert set(metrics) == {"roc_auc", "accuracy", "f1"}
    assert all(0 <= v <= 1 for v in metrics.values()) and metrics["roc_auc"] >= 0.6
    gate = json.loads((out["evaluate.evaluation"] / "gate.json").read_text())
    assert gate == {"passed": True, "failures": [], "gate": [["roc_auc", ">=", 0.6]]}
    registration = json.loads((out["register.registration"] / "registration.json").read_text())
    assert registration["registered"] is True and registration["version"] == "1"
    assert registration["model"] == "churn-classifier"


def test_a_failed_gate_registers_nothing_and_the_pipeline_still_succeeds(tmp_path: Path) -> None:
    fmt = write_delta_or_parquet(churn_frame(), tmp_path.joinpath("lake", *FEATURES), delta=False)
    _build(contract_spec(tmp_path, fmt, ">= 0.999"), "dev", tmp_path / "build")
    out = run_pipeline(tmp_path / "build", tmp_path / "lake", tmp_path / "work")

    gate = json.loads((out["evaluate.evaluation"] / "gate.json").read_text())
    assert gate["passed"] is False and gate["failures"][0].startswith("roc_auc = ")
    registration = json.loads((out["register.registration"] / "registration.json").read_text())
    assert registration["registered"] is False and "version" not in registration
    assert not (tmp_path / "work" / "mlruns" / "models").exists()


def test_team_script_runs_through_the_argument_contract(tmp_path: Path) -> None:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame = frame.rename(columns={"target": "progression"})[["age", "bmi", "bp", "s5", "progression"]]
    patients = tmp_path.joinpath("lake", *PATIENTS)
    patients.mkdir(parents=True)
    frame.to_csv(patients / "part-00000.csv", index=False)
    (patients / "_SUCCESS").write_text("")
    _build(SCRIPT_PROJECT, "dev", tmp_path / "build")
    out = run_pipeline(tmp_path / "build", tmp_path / "lake", tmp_path / "work")

    assert (out["train.model"] / "MLmodel").is_file()
    metrics = json.loads((out["evaluate.evaluation"] / "metrics.json").read_text())
    assert set(metrics) == {"rmse", "mae", "r2", "mape"} and metrics["r2"] > 0.2
    registration = json.loads((out["register.registration"] / "registration.json").read_text())
    assert registration["registered"] is True
