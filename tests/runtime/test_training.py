"""The compiled Azure ML pipeline runs step by step as local processes (mlspec.runtime.training).

The contract spec's pipeline reads its features from the lake (``abfss://curated@.../churn/features/``);
the runner binds that to the local lake folder, each step output to a fresh folder, and MLflow to a
file store in tmp_path, so ``register`` registers a real model version there.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from mlspec import api
from mlspec.runtime.training import TrainingFailed, run_pipeline
from tests.compiler.test_azureml_run import churn_frame

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(importlib.util.find_spec(m) is None for m in ("sklearn", "mlflow", "pandas", "deltalake")),
        reason="needs scikit-learn, mlflow, pandas and deltalake (pip install -e '.[local]')",
    ),
]


def build_contract(tmp_path: Path, gate: str) -> Path:
    data = yaml.safe_load(CONTRACT.read_text())
    data["model"]["training"]["params"] = {"n_estimators": 30, "max_depth": 2, "random_state": 0}
    data["model"]["evaluation"]["gate"] = {"roc_auc": gate}
    spec = tmp_path / "spec" / "mlproject.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    build = tmp_path / "build"
    api.build(spec, "dev", out_dir=build)
    return build


def seed_features(lake: Path) -> None:
    from deltalake import write_deltalake

    write_deltalake(str(lake / "contosolakedev" / "curated" / "churn" / "features"), churn_frame())


def test_pipeline_runs_every_step_and_registers_when_the_gate_passes(tmp_path: Path) -> None:
    build = build_contract(tmp_path, ">= 0.6")
    seed_features(tmp_path / "lake")
    seen: list[str] = []
    result = run_pipeline(
        build,
        lake_root=tmp_path / "lake",
        work_dir=tmp_path / "work",
        tracking_uri=(tmp_path / "mlruns").as_uri(),
        experiment="churn",
        on_step=seen.append,
    )
    assert seen == ["refresh_features", "prepare", "train", "evaluate", "register"]
    assert [s.name for s in result.steps] == seen and all(s.log.is_file() for s in result.steps)
    assert result.gate_passed and result.version == "1" and result.model_name == "churn-classifier"
    assert set(result.metrics) == {"roc_auc", "accuracy", "f1"} and result.metrics["roc_auc"] >= 0.6
    model, test = result.output("model"), result.output("test")
    assert model is not None and (model / "MLmodel").is_file() and (model / "requirements.txt").is_file()
    assert test is not None and (test / "test.parquet").is_file()
    # the registry is a real MLflow one: the version resolves to the model's files
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    assert client.get_model_version("churn-classifier", "1").status == "READY"


def test_a_failed_gate_registers_nothing(tmp_path: Path) -> None:
    build = build_contract(tmp_path, ">= 0.999")
    seed_features(tmp_path / "lake")
    result = run_pipeline(
        build,
        lake_root=tmp_path / "lake",
        work_dir=tmp_path / "work",
        tracking_uri=(tmp_path / "mlruns").as_uri(),
    )
    assert not result.gate_passed and result.version is None
    assert result.gate_failures and result.gate_failures[0].startswith("roc_auc = ")
    assert "is not >= 0.999" in result.gate_failures[0]
    assert not (tmp_path / "mlruns" / "models").exists()


def test_a_failing_step_names_itself_and_shows_its_log(tmp_path: Path) -> None:
    build = build_contract(tmp_path, ">= 0.6")  # nothing in the lake: prepare cannot read the features
    with pytest.raises(TrainingFailed) as caught:
        run_pipeline(
            build,
            lake_root=tmp_path / "lake",
            work_dir=tmp_path / "work",
            tracking_uri=(tmp_path / "mlruns").as_uri(),
        )
    assert caught.value.step == "prepare"
    assert "step prepare failed (exit" in str(caught.value)
    assert caught.value.log is not None and caught.value.log.is_file()


def test_a_binding_to_an_unknown_step_output_is_refused(tmp_path: Path) -> None:
    build = build_contract(tmp_path, ">= 0.6")
    pipeline = build / "azureml" / "pipeline.yml"
    data = yaml.safe_load(pipeline.read_text())
    data["jobs"]["train"]["inputs"]["train_data"] = "${{parent.jobs.prepare.outputs.nope}}"
    pipeline.write_text(yaml.safe_dump(data), encoding="utf-8")
    seed_features(tmp_path / "lake")
    with pytest.raises(
        TrainingFailed, match=r"reads parent\.jobs\.prepare\.outputs\.nope, which no earlier step"
    ):
        run_pipeline(
            build,
            lake_root=tmp_path / "lake",
            work_dir=tmp_path / "work",
            tracking_uri=(tmp_path / "mlruns").as_uri(),
        )


def test_a_step_runs_the_builds_component_of_the_registered_name_and_version(tmp_path: Path) -> None:
    build = build_contract(tmp_path, ">= 0.6")
    pipeline = build / "azureml" / "pipeline.yml"
    data = yaml.safe_load(pipeline.read_text())
    named = data["jobs"]["prepare"]["component"]
    assert named.startswith("azureml:") and named.count(":") == 2
    data["jobs"]["prepare"]["component"] = named.rsplit(":", 1)[0] + ":0000"  # a version not built
    pipeline.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(TrainingFailed) as caught:
        run_pipeline(
            build,
            lake_root=tmp_path / "lake",
            work_dir=tmp_path / "work",
            tracking_uri=(tmp_path / "mlruns").as_uri(),
        )
    assert caught.value.step == "prepare"
    assert f"runs component {named.rsplit(':', 1)[0]}:0000, which the build's azureml/components/" in str(
        caught.value
    )
