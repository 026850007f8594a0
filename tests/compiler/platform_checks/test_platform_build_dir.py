"""check_build_dir: the right check for each file of a build folder, problems labelled relative to it."""

import json
import shutil
from pathlib import Path

import pytest

from mlspec.compiler.platform_checks.build_dir import check_build_dir

DATA = Path(__file__).parent / "data"
AML_FILES = (
    "pipeline.yml",
    "environment.yml",
    "compute.yml",
    "schedule.yml",
    "monitor_schedule.yml",
    "conda.yml",
)


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A build folder laid out like ``mlspec build`` output, from the valid fixtures."""
    root = tmp_path / "build"
    aml = root / "azureml"
    shutil.copytree(DATA / "aml" / "src", aml / "src")
    (aml / "components").mkdir(parents=True)
    for name in ("prepare.yml", "train.yml"):
        shutil.copy(DATA / "aml" / "components" / name, aml / "components" / name)
    for name in AML_FILES:
        shutil.copy(DATA / "aml" / name, aml / name)
    for folder, name in [
        ("notebooks", "notebook"),
        ("pipelines", "pipeline"),
        ("sparkJobDefinitions", "spark_job"),
    ]:
        (root / "synapse" / folder).mkdir(parents=True)
        shutil.copy(DATA / "synapse" / f"{name}.json", root / "synapse" / folder / f"{name}.json")
    (root / "aks").mkdir()
    shutil.copy(DATA / "kubernetes" / "serving.yaml", root / "aks" / "serving.yaml")
    (root / "monitor").mkdir()
    shutil.copy(DATA / "arm" / "monitoring.json", root / "monitor" / "alerts.json")
    shutil.copytree(DATA / "powerbi" / "Churn", root / "powerbi")
    (root / "acr").mkdir()
    (root / "acr" / "Dockerfile").write_text(
        "FROM mcr.microsoft.com/azureml/minimal-ubuntu22.04-py311-cpu-inference\n"
    )
    (root / "manifest.json").write_text(
        json.dumps({"project": "churn", "environment": "dev", "resources": []})
    )
    return root


def test_a_valid_build_folder_has_no_problems(build: Path) -> None:
    assert check_build_dir(build) == []


def test_problems_name_files_relative_to_the_build_folder(build: Path) -> None:
    shutil.copy(DATA / "kubernetes" / "bad_privileged_job.yaml", build / "aks" / "batch.yaml")
    shutil.copy(
        DATA / "synapse" / "bad_pipeline_unknown_activity.json", build / "synapse" / "pipelines" / "bad.json"
    )
    pipeline = build / "azureml" / "pipeline.yml"
    pipeline.write_text(pipeline.read_text().replace("./components/train.yml", "./components/trian.yml"))
    pbip = build / "powerbi" / "Churn.pbip"
    pbip.write_text(pbip.read_text().replace('"version": "1.0"', '"version": "1.0", "name": "Churn"'))
    problems = check_build_dir(build)
    artifacts = {p.artifact for p in problems}
    assert artifacts == {
        "aks/batch.yaml:CronJob/churn-batch-score",
        "azureml/pipeline.yml",
        "azureml/schedule.yml",  # its create_job is the broken pipeline
        "powerbi/Churn.pbip",
        "synapse/pipelines/bad.json",
    }
    assert ("powerbi/Churn.pbip", "/name", "unknown field 'name'") in {
        (p.artifact, p.where, p.message) for p in problems
    }
