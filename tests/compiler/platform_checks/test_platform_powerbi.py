"""check_pbip_project: mlspec's .pbip/.pbir/.pbism schemas, references, report JSON and the TMDL folder."""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mlspec.compiler.platform_checks import PlatformProblem, check_pbip_project

CHURN = Path(__file__).parent / "data" / "powerbi" / "Churn"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "Churn"
    shutil.copytree(CHURN, root)
    return root


def edit_json(file: Path, change: Any) -> None:
    data = json.loads(file.read_text())
    change(data)
    file.write_text(json.dumps(data, indent=2))


def seen(problems: list[PlatformProblem], root: Path) -> list[tuple[str, str, str]]:
    """(file relative to the project, where, message)."""
    return [(str(Path(p.artifact).relative_to(root)), p.where, p.message) for p in problems]


def test_valid_project_has_no_problems() -> None:
    assert check_pbip_project(CHURN) == []


def test_pbip_with_an_extra_property(project: Path) -> None:
    edit_json(project / "Churn.pbip", lambda d: d.update(defaultReport="Churn.Report"))
    problems = check_pbip_project(project)
    assert seen(problems, project) == [("Churn.pbip", "/defaultReport", "unknown field 'defaultReport'")]
    assert problems[0].checker == "jsonschema"


def test_pbip_without_schema_and_with_a_wrong_artifact_path(project: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        del d["$schema"]
        d["artifacts"][0]["report"]["path"] = "Churn.Reports"

    edit_json(project / "Churn.pbip", change)
    assert seen(check_pbip_project(project), project) == [
        ("Churn.pbip", "", "'$schema' is a required property"),
        (
            "Churn.pbip",
            "/artifacts/0/report/path",
            "'Churn.Reports' is not a report folder holding definition.pbir (relative to Churn.pbip)",
        ),
    ]


def test_pbir_with_the_wrong_schema_url_and_a_dangling_by_path(project: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["$schema"] = d["$schema"].replace("2.0.0", "1.0.0")
        d["datasetReference"]["byPath"]["path"] = "../Churn.Dataset"

    edit_json(project / "Churn.Report" / "definition.pbir", change)
    problems = seen(check_pbip_project(project), project)
    assert [(file, where) for file, where, _ in problems] == [
        ("Churn.Report/definition.pbir", "/$schema"),
        ("Churn.Report/definition.pbir", "/datasetReference/byPath/path"),
    ]
    assert "is not the report definitionProperties 2.x schema URL" in problems[0][2]
    assert "'../Churn.Dataset' is not a semantic model folder" in problems[1][2]


def test_pbir_needs_exactly_one_dataset_reference(project: Path) -> None:
    pbir = project / "Churn.Report" / "definition.pbir"
    edit_json(
        pbir, lambda d: d["datasetReference"].update(byConnection={"connectionString": "Data Source=x"})
    )
    assert seen(check_pbip_project(project), project) == [
        ("Churn.Report/definition.pbir", "/datasetReference", "only one of byPath, byConnection may be set")
    ]
    edit_json(pbir, lambda d: d.update(datasetReference={}))
    assert seen(check_pbip_project(project), project) == [
        ("Churn.Report/definition.pbir", "/datasetReference", "needs exactly one of byPath, byConnection")
    ]


def test_pbism_without_version_and_bad_setting(project: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        del d["version"]
        d["settings"] = {"qnaLsdlSharingPermissions": 2}

    edit_json(project / "Churn.SemanticModel" / "definition.pbism", change)
    assert seen(check_pbip_project(project), project) == [
        ("Churn.SemanticModel/definition.pbism", "", "'version' is a required property"),
        (
            "Churn.SemanticModel/definition.pbism",
            "/settings/qnaLsdlSharingPermissions",
            "2 is not one of [0, 1]",
        ),
    ]


def test_report_json_that_does_not_parse(project: Path) -> None:
    page = project / "Churn.Report" / "definition" / "pages" / "overview" / "page.json"
    page.write_text(page.read_text().replace('"height": 720,', '"height": 720,,'))
    problems = seen(check_pbip_project(project), project)
    assert [(file, where) for file, where, _ in problems] == [
        ("Churn.Report/definition/pages/overview/page.json", "")
    ]
    assert problems[0][2].startswith("not valid JSON")


TABLES = "Churn.SemanticModel/definition/tables"


def test_tmdl_indented_with_spaces(project: Path) -> None:
    table = project / TABLES / "Customers.tmdl"
    table.write_text(table.read_text().replace("\tcolumn region", "    column region"))
    problems = check_pbip_project(project)
    assert seen(problems, project) == [
        (f"{TABLES}/Customers.tmdl", "line 10", "indented with spaces; TMDL indents with tabs")
    ]
    assert problems[0].checker == "mlspec"


def test_tmdl_declarations_and_indentation(project: Path) -> None:
    table = project / TABLES / "Customers.tmdl"
    text = table.read_text().replace("table Customers", "table Customer Accounts")
    text = text.replace("\tcolumn region", "\t\tcolumn region")
    text = text.replace("\t\tsourceColumn: region", "\t\t\t\tsourceColumn: region")
    table.write_text(text)
    assert seen(check_pbip_project(project), project) == [
        (f"{TABLES}/Customers.tmdl", "line 14", "indented 4 tabs, more than one deeper than the line above"),
        (
            f"{TABLES}/Customers.tmdl",
            "line 1",
            "the file must start with 'table <name>' (quote names with spaces)",
        ),
        (f"{TABLES}/Customers.tmdl", "line 10", "a column is declared one tab in, under its table"),
        (
            "Churn.SemanticModel/definition/model.tmdl",
            "line 7",
            "ref table Customers names no table in tables/",
        ),
    ]


def test_tmdl_unquoted_column_name_with_a_space(project: Path) -> None:
    table = project / TABLES / "Customers.tmdl"
    table.write_text(table.read_text().replace("\tcolumn region", "\tcolumn home region"))
    assert seen(check_pbip_project(project), project) == [
        (f"{TABLES}/Customers.tmdl", "line 10", "column name must be quoted when it holds spaces or . = : '")
    ]


def test_tmdl_required_files_and_exclusive_formats(project: Path) -> None:
    model = project / "Churn.SemanticModel"
    (model / "definition" / "database.tmdl").unlink()
    (model / "model.bim").write_text("{}")
    assert seen(check_pbip_project(project), project) == [
        ("Churn.SemanticModel", "", "definition/ (TMDL) and model.bim (TMSL) are mutually exclusive"),
        ("Churn.SemanticModel/definition/database.tmdl", "", "missing database.tmdl"),
    ]


def test_folder_without_a_project() -> None:
    problems = check_pbip_project(CHURN / "Churn.Report")
    assert [p.message for p in problems] == [
        "no <Name>.pbip file in the project folder",
        "no <Name>.Report folder in the project folder",
    ]
