"""The Synapse renderer: notebooks and pipeline for every example project and environment.

Every spec here is rendered for each of its environments; the artifacts must pass the offline
platform checks (azure-synapse-artifacts models + required-field walk, nbformat), their code
cells must parse, the pipeline must follow the transform DAG, and two renders must give the
same bytes.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from mlspec import api
from mlspec.compiler import synapse
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.synapse.notebook import runtime_notebook_name, runtime_source
from mlspec.compiler.synapse.pipeline import upstream_transforms
from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.spec_schema.models import MLProject
from mlspec.spec_schema.resolve import environment_names

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
LAKE_PROJECT = DATA / "synapse" / "lake" / "mlproject.yaml"
SPECS = [DATA / "contract" / "mlproject.yaml", LAKE_PROJECT, *sorted(ROOT.glob("projects/*/mlproject.yaml"))]


def _cases() -> list[tuple[Path, str]]:
    cases = []
    for spec in SPECS:
        try:
            envs = environment_names(api.load(spec))
        except MlspecError:
            envs = ["<unloadable>"]  # the test reports it
        cases.extend((spec, env) for env in envs)
    return cases


CASES = _cases()
IDS = [f"{spec.parent.name}-{env}" for spec, env in CASES]


def compile_synapse(spec: Path, environment: str) -> tuple[ArtifactSet, MLProject, list[Diagnostic]]:
    """The Synapse part of ``mlspec build``: resolve, render, then mlspec's own checks."""
    resolved = api.resolve(api.load(spec), environment, environ={})
    assert resolved.model is not None and resolved.ok, [str(d) for d in resolved.diagnostics]
    ctx = RenderContext(resolved.model, resolved.spec)
    out = ArtifactSet()
    synapse.render(ctx, out)
    return out, resolved.model, [*out.diagnostics, *synapse.check(ctx, out)]


def all_notebooks(out: ArtifactSet) -> dict[str, dict[str, Any]]:
    return {
        path.rsplit("/", 1)[1].removesuffix(".json"): artifact.data
        for path, artifact in out.artifacts.items()
        if path.startswith("synapse/notebooks/") and path.endswith(".json")
    }


def notebooks(out: ArtifactSet) -> dict[str, dict[str, Any]]:
    """The transforms' notebooks (every one but the project's runtime notebook)."""
    return {name: data for name, data in all_notebooks(out).items() if not name.startswith("mlspec-lake-")}


RUN_CELL = "%run "


def pipeline_of(out: ArtifactSet) -> dict[str, Any]:
    [data] = [a.data for p, a in out.artifacts.items() if p.startswith("synapse/pipelines/")]
    assert isinstance(data, dict)
    return data


def code_cells(notebook: dict[str, Any]) -> list[str]:
    """The Python code cells (a ``%run`` cell is Synapse's magic, not Python)."""
    return [code for code in all_code_cells(notebook) if not code.startswith(RUN_CELL)]


def all_code_cells(notebook: dict[str, Any]) -> list[str]:
    return ["".join(c["source"]) for c in notebook["properties"]["cells"] if c["cell_type"] == "code"]


def test_the_examples_are_there() -> None:
    assert len(SPECS) >= 3, "expected the contract, the lake project and projects/*"
    assert all(env != "<unloadable>" for _, env in CASES), "a spec could not be loaded"


@pytest.mark.parametrize(("spec", "environment"), CASES, ids=IDS)
def test_every_artifact_passes_the_platform_checks(spec: Path, environment: str) -> None:
    from mlspec.compiler.platform_checks import check_ipynb, check_synapse_notebook, check_synapse_pipeline

    out, model, diagnostics = compile_synapse(spec, environment)
    assert diagnostics == []
    problems = []
    for path, artifact in sorted(out.artifacts.items()):
        data = json.loads(artifact.content)  # what is written, not the in-memory value
        if path.endswith(".ipynb"):
            problems += check_ipynb(data, artifact=path)
        elif path.startswith("synapse/notebooks/"):
            problems += check_synapse_notebook(data, artifact=path)
            problems += check_ipynb(data["properties"], artifact=path)
        else:
            problems += check_synapse_pipeline(data, artifact=path)
    assert problems == []
    assert len(notebooks(out)) == len(model.transforms)
    assert set(all_notebooks(out)) - set(notebooks(out)) == {runtime_notebook_name(model.project.name)}


@pytest.mark.parametrize(("spec", "environment"), CASES, ids=IDS)
def test_code_cells_parse_and_the_pipeline_follows_the_dag(spec: Path, environment: str) -> None:
    out, model, _ = compile_synapse(spec, environment)
    runtime = runtime_notebook_name(model.project.name)
    for name, notebook in all_notebooks(out).items():
        for index, code in enumerate(code_cells(notebook)):
            ast.parse(code, filename=f"{name}[{index}]")
        runs = [code for code in all_code_cells(notebook) if code.startswith(RUN_CELL)]
        assert runs == ([] if name == runtime else [f"%run {runtime}"]), name
    activities = pipeline_of(out)["properties"]["activities"]
    notebooks = [a for a in activities if a["type"] == "SynapseNotebook"]
    refreshes = [a for a in activities if a["type"] == "WebActivity"]
    seen: set[str] = set()
    for activity in notebooks:
        depends = [d["activity"] for d in activity["dependsOn"]]
        assert depends == upstream_transforms(model, activity["name"])
        assert set(depends) <= seen, "an activity is listed before one it depends on"
        assert all(d["dependencyConditions"] == ["Succeeded"] for d in activity["dependsOn"])
        seen.add(activity["name"])
    assert seen == set(model.transforms)
    # then one refresh of each report's model, once every transform succeeded
    assert [a["name"] for a in refreshes] == [
        f"mlspec-refresh-{r.name.replace(' ', '_')}" for r in model.reports
    ]
    for refresh in refreshes:
        assert {d["activity"] for d in refresh["dependsOn"]} == set(model.transforms)
        assert activities.index(refresh) > max(activities.index(a) for a in notebooks)


@pytest.mark.parametrize(("spec", "environment"), CASES, ids=IDS)
def test_two_renders_are_byte_identical(spec: Path, environment: str) -> None:
    first, _, _ = compile_synapse(spec, environment)
    second, _, _ = compile_synapse(spec, environment)
    assert {p: a.content for p, a in first.artifacts.items()} == {
        p: a.content for p, a in second.artifacts.items()
    }


def test_resources_and_file_layout() -> None:
    out, _, _ = compile_synapse(LAKE_PROJECT, "dev")
    by_address = {str(r.address): r for r in out.resources}
    transforms = ["customer_activity", "region_summary", "customer_latest"]
    runtime = "synapse.notebook.mlspec-lake-lakedemo"
    assert sorted(by_address) == sorted(
        [*(f"synapse.notebook.{t}" for t in transforms), runtime, "synapse.pipeline.lakedemo"]
    )
    for t in transforms:
        resource = by_address[f"synapse.notebook.{t}"]
        assert resource.provider_type == "Microsoft.Synapse/workspaces/notebooks"
        assert resource.files == [f"synapse/notebooks/{t}.json", f"synapse/notebooks/{t}.ipynb"]
        assert resource.source == ("transforms", t)
        assert [str(d) for d in resource.depends_on] == [runtime], "created after the notebook it %runs"
    assert by_address[runtime].files == [
        "synapse/notebooks/mlspec-lake-lakedemo.json",
        "synapse/notebooks/mlspec-lake-lakedemo.ipynb",
    ]
    assert by_address[runtime].depends_on == []
    pipeline = by_address["synapse.pipeline.lakedemo"]
    assert pipeline.provider_type == "Microsoft.Synapse/workspaces/pipelines"
    assert pipeline.files == ["synapse/pipelines/lakedemo.json"]
    assert sorted(str(d) for d in pipeline.depends_on) == sorted(f"synapse.notebook.{t}" for t in transforms)


def test_notebook_resource_shape() -> None:
    out, _, _ = compile_synapse(LAKE_PROJECT, "dev")
    notebook = notebooks(out)["customer_activity"]
    properties = notebook["properties"]
    assert notebook["name"] == "customer_activity"
    assert (properties["nbformat"], properties["nbformat_minor"]) == (4, 2)
    assert properties["bigDataPool"] == {"referenceName": "sparkpool01", "type": "BigDataPoolReference"}
    assert properties["sessionProperties"] == {  # Medium: 8 cores, 56g; executors.min 1
        "driverMemory": "56g",
        "driverCores": 8,
        "executorMemory": "56g",
        "executorCores": 8,
        "numExecutors": 1,
    }
    assert properties["metadata"]["kernelspec"]["name"] == "synapse_pyspark"
    assert properties["description"] == "Events per customer, one row per customer"
    twin = out.artifacts["synapse/notebooks/customer_activity.ipynb"].data
    assert twin["cells"] == properties["cells"]
    assert set(twin) == {"nbformat", "nbformat_minor", "metadata", "cells"}


def test_cells_are_lists_of_lines_with_one_parameters_cell() -> None:
    out, _, _ = compile_synapse(LAKE_PROJECT, "dev")
    for notebook in notebooks(out).values():
        cells = notebook["properties"]["cells"]
        for cell in cells:
            source = cell["source"]
            assert isinstance(source, list) and source
            assert all(line.endswith("\n") for line in source[:-1]) and not source[-1].endswith("\n")
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None
                assert not source[0].startswith("%%"), "cells are in the notebook's default language"
        tagged = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
        assert len(tagged) == 1
        assert "".join(tagged[0]["source"]).splitlines()[1:] == ['environment = "dev"', 'run_date = ""']


def test_the_runtime_notebook_holds_the_helper_verbatim_and_every_notebook_runs_it_first() -> None:
    out, _, _ = compile_synapse(LAKE_PROJECT, "dev")
    lake = (ROOT / "mlspec" / "runtime" / "lake.py").read_text(encoding="utf-8")
    assert runtime_source() == lake
    runtime = all_notebooks(out)["mlspec-lake-lakedemo"]
    assert runtime["properties"]["folder"] == {"name": "lakedemo"}
    assert [code for code in code_cells(runtime) if code.endswith(lake.rstrip("\n"))], "verbatim"
    for name, notebook in notebooks(out).items():
        codes = all_code_cells(notebook)
        assert lake.rstrip("\n")[-200:] not in "".join(codes), f"{name} copies the helper"
        reads = next(i for i, code in enumerate(codes) if "read_input(" in code)
        assert codes.index("%run mlspec-lake-lakedemo") < reads, f"{name} reads before the helper ran"


def test_reads_transform_and_write_follow_the_spec() -> None:
    out, _, _ = compile_synapse(LAKE_PROJECT, "dev")
    activity = "\n".join(code_cells(notebooks(out)["customer_activity"]))
    assert 'options={"header": True},' in activity
    assert 'schema_ddl="`customer_id` string, `region` string, `monthly_charges` double",' in activity
    assert 'glob="*.json",' in activity
    assert "result = spark.sql(TRANSFORM_SQL)" in activity
    assert 'partition_by=["region"],' in activity
    assert (
        'expect_accepted_values(result, "region", ["north", "south"], transform="customer_activity")'
        in activity
    )
    latest = "\n".join(code_cells(notebooks(out)["customer_latest"]))
    assert 'mode="merge",' in latest and 'merge_keys=["customer_id"],' in latest
    assert (
        '"abfss://curated@lakedemodev.dfs.core.windows.net/lakedemo/customer_activity/",\n    "delta",'
        in latest
    )


def test_python_transform_embeds_the_project_code() -> None:
    out, _, _ = compile_synapse(LAKE_PROJECT, "dev")
    cells = code_cells(notebooks(out)["region_summary"])
    code = (LAKE_PROJECT.parent / "transforms" / "summary.py").read_text(encoding="utf-8")
    position = cells.index(code.rstrip("\n"))
    assert "result = transform(spark, **inputs)" in cells[position + 1]


def test_pipeline_runs_each_notebook_on_its_pool_and_size() -> None:
    out, _, _ = compile_synapse(LAKE_PROJECT, "dev")
    pipeline = pipeline_of(out)
    assert pipeline["name"] == "lakedemo"
    assert pipeline["properties"]["parameters"] == {
        "environment": {"type": "String", "defaultValue": "dev"},
        "run_date": {"type": "String", "defaultValue": ""},
    }
    latest = next(a for a in pipeline["properties"]["activities"] if a["name"] == "customer_latest")
    assert latest["type"] == "SynapseNotebook"
    properties = latest["typeProperties"]
    assert properties["notebook"] == {"referenceName": "customer_latest", "type": "NotebookReference"}
    assert properties["sparkPool"] == {"referenceName": "bigpool", "type": "BigDataPoolReference"}
    assert (properties["executorSize"], properties["driverSize"], properties["numExecutors"]) == (
        "Large",
        "Large",
        2,
    )
    assert properties["conf"] == {
        "spark.dynamicAllocation.enabled": False,
        "spark.dynamicAllocation.minExecutors": 2,
        "spark.dynamicAllocation.maxExecutors": 2,
    }
    assert properties["parameters"]["run_date"] == {
        "value": {"value": "@pipeline().parameters.run_date", "type": "Expression"},
        "type": "string",
    }


def test_overlays_reach_the_notebooks() -> None:
    out, _, _ = compile_synapse(LAKE_PROJECT, "strict")
    activity = "\n".join(code_cells(notebooks(out)["customer_activity"]))
    assert 'expect_row_count(result, transform="customer_activity", min=1000, max=None)' in activity
    assert "expect_unique(result" not in activity  # the overlay's list replaces the base list


def test_build_writes_synapse_resources_into_the_manifest(tmp_path: Path) -> None:
    result = api.build(DATA / "contract" / "mlproject.yaml", "dev", out_dir=tmp_path / "out", environ={})
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    addresses = {r["address"]: r for r in manifest["resources"]}
    assert addresses["synapse.notebook.customer_features"]["files"] == [
        "synapse/notebooks/customer_features.json",
        "synapse/notebooks/customer_features.ipynb",
    ]
    assert addresses["synapse.pipeline.churn"]["depends_on"] == [
        "powerbi.report.churn-dashboard",  # the report whose model the pipeline refreshes
        "synapse.notebook.customer_features",
    ]
    assert (tmp_path / "out" / "synapse" / "pipelines" / "churn.json").is_file()
    assert result.ok
