"""Synapse notebooks, pipelines and Spark job definitions against azure-synapse-artifacts' models."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from mlspec.compiler.platform_checks import (
    PlatformProblem,
    check_synapse_notebook,
    check_synapse_pipeline,
    check_synapse_spark_job,
)

SYNAPSE = Path(__file__).parent / "data" / "synapse"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SYNAPSE / name).read_text())
    return data


def located(problems: list[PlatformProblem]) -> list[tuple[str, str]]:
    return [(p.where, p.checker) for p in problems]


@pytest.fixture
def notebook() -> dict[str, Any]:
    return load("notebook.json")


@pytest.fixture
def pipeline() -> dict[str, Any]:
    return load("pipeline.json")


def test_valid_resources_have_no_problems(notebook: dict[str, Any], pipeline: dict[str, Any]) -> None:
    spark_job = load("spark_job.json")
    assert check_synapse_notebook(notebook) == []
    assert check_synapse_pipeline(pipeline) == []
    assert check_synapse_spark_job(spark_job) == []
    assert check_synapse_spark_job(spark_job["properties"]) == []  # the bare definition


def test_checking_does_not_modify_the_resource(pipeline: dict[str, Any]) -> None:
    before = copy.deepcopy(pipeline)
    check_synapse_pipeline(pipeline)
    assert pipeline == before  # from_dict pops discriminators from what it reads


def test_cell_source_as_a_plain_string_is_located(notebook: dict[str, Any]) -> None:
    notebook["properties"]["cells"][2]["source"] = "print('hello')"
    problems = check_synapse_notebook(notebook)
    assert located(problems) == [("/properties/cells/2/source", "azure-synapse-artifacts")]
    assert problems[0].message == "expected a list, got a string"


def test_cell_source_with_a_non_string_line(notebook: dict[str, Any]) -> None:
    notebook["properties"]["cells"][0]["source"] = ["run_date = 1\n", 42]
    problems = check_synapse_notebook(notebook)
    assert located(problems) == [("/properties/cells/0/source/1", "mlspec")]
    assert "expected a string, got a number" in problems[0].message


def test_missing_required_notebook_fields(notebook: dict[str, Any]) -> None:
    del notebook["properties"]["nbformat"]
    del notebook["properties"]["cells"][1]["cell_type"]
    problems = check_synapse_notebook(notebook)
    assert located(problems) == [
        ("/properties/nbformat", "azure-synapse-artifacts"),
        ("/properties/cells/1/cell_type", "azure-synapse-artifacts"),
    ]
    assert problems[0].message == "missing required field 'nbformat'"


def test_wrong_type_in_session_properties(notebook: dict[str, Any]) -> None:
    notebook["properties"]["sessionProperties"]["driverCores"] = "four"
    problems = check_synapse_notebook(notebook)
    assert located(problems) == [("/properties/sessionProperties/driverCores", "azure-synapse-artifacts")]
    assert problems[0].message == "cannot read 'four' as an integer"


def test_unknown_notebook_keys_and_bad_memory_size(notebook: dict[str, Any]) -> None:
    notebook["properties"]["bigDatapool"] = notebook["properties"].pop("bigDataPool")
    notebook["properties"]["sessionProperties"]["executorMemory"] = "28GB"
    problems = check_synapse_notebook(notebook)
    assert located(problems) == [
        ("/properties/bigDatapool", "mlspec"),
        ("/properties/sessionProperties/executorMemory", "mlspec"),
    ]
    assert "did you mean 'bigDataPool'?" in problems[0].message
    assert "'28GB' is not a Spark memory size" in problems[1].message


def test_cell_magic_a_pipeline_cannot_run_and_second_parameters_cell(notebook: dict[str, Any]) -> None:
    notebook["properties"]["cells"][3]["source"][0] = "%%python\n"
    notebook["properties"]["cells"][2]["metadata"]["tags"] = ["parameters"]
    problems = check_synapse_notebook(notebook)
    assert located(problems) == [
        ("/properties/cells/3/source/0", "mlspec"),
        ("/properties/cells/2/metadata/tags", "mlspec"),
    ]
    assert "'%%python' cannot run in a pipeline" in problems[0].message
    assert "only one cell may be tagged 'parameters'" in problems[1].message


def test_unknown_activity_type_is_reported_not_silently_downgraded() -> None:
    problems = check_synapse_pipeline(load("bad_pipeline_unknown_activity.json"))
    assert located(problems) == [("/properties/activities/0/type", "mlspec")]
    assert "unknown type 'SynapseNoteBook'" in problems[0].message
    assert "did you mean 'SynapseNotebook'?" in problems[0].message


def test_bad_enum_values_in_activities(pipeline: dict[str, Any]) -> None:
    activity = pipeline["properties"]["activities"][1]
    activity["dependsOn"][0]["dependencyConditions"] = ["Success"]
    activity["typeProperties"]["notebook"]["type"] = "NotebookRef"
    problems = check_synapse_pipeline(pipeline)
    assert located(problems) == [
        ("/properties/activities/1/dependsOn/0/dependencyConditions/0", "mlspec"),
        ("/properties/activities/1/typeProperties/notebook/type", "mlspec"),
    ]
    assert "'Success' is not one of Completed, Failed, Skipped, Succeeded" in problems[0].message


def test_missing_required_notebook_reference(pipeline: dict[str, Any]) -> None:
    del pipeline["properties"]["activities"][0]["typeProperties"]["notebook"]["referenceName"]
    problems = check_synapse_pipeline(pipeline)
    assert located(problems) == [
        ("/properties/activities/0/typeProperties/notebook/referenceName", "azure-synapse-artifacts")
    ]


def test_depends_on_unknown_activity_and_undeclared_parameter(pipeline: dict[str, Any]) -> None:
    activity = pipeline["properties"]["activities"][1]
    activity["dependsOn"][0]["activity"] = "customer_feature"
    activity["typeProperties"]["parameters"]["run_date"]["value"] = "@pipeline().parameters.rundate"
    problems = check_synapse_pipeline(pipeline)
    assert located(problems) == [
        ("/properties/activities/1/dependsOn/0/activity", "mlspec"),
        ("/properties/activities/1/typeProperties/parameters/run_date/value", "mlspec"),
    ]
    assert "unknown activity 'customer_feature'" in problems[0].message
    assert "parameters.rundate is not declared" in problems[1].message


def test_spark_job_missing_file_and_wrong_cores() -> None:
    spark_job = load("spark_job.json")
    job = spark_job["properties"]["jobProperties"]
    del job["file"]
    job["executorCores"] = "4"
    problems = check_synapse_spark_job(spark_job)
    assert located(problems) == [
        ("/properties/jobProperties/file", "azure-synapse-artifacts"),
        ("/properties/jobProperties/executorCores", "mlspec"),
    ]
    assert problems[1].message == "expected an integer, got a string '4'"


def test_undeclared_parameter_in_an_expression_is_still_reported() -> None:
    """The description exemption must not hide a real expression that names an undeclared parameter."""
    from mlspec.compiler.platform_checks import check_synapse_pipeline

    pipeline = {
        "name": "p",
        "properties": {
            "parameters": {"environment": {"type": "string"}},
            "activities": [
                {
                    "name": "a",
                    "type": "SynapseNotebook",
                    "description": "@pipeline().parameters.region is just text here",
                    "typeProperties": {
                        "notebook": {"referenceName": "a", "type": "NotebookReference"},
                        "parameters": {
                            "region": {"value": "@pipeline().parameters.region", "type": "Expression"}
                        },
                    },
                }
            ],
        },
    }
    problems = check_synapse_pipeline(pipeline)
    assert [p.where for p in problems if "region" in p.message] == [
        "/properties/activities/0/typeProperties/parameters/region/value"
    ]
