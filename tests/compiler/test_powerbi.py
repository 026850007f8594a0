"""Power BI projects: platform-valid PBIP, schema-valid PBIR, TMDL that spec text cannot restructure."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from mlspec import api
from mlspec.compiler.build import BuildResult
from mlspec.compiler.platform_checks import check_pbip_project
from mlspec.compiler.powerbi import mquery, tmdl
from mlspec.diagnostics import MlspecError
from mlspec.spec_schema.report_model import folder_name_problem
from mlspec.spec_schema.resolve import environment_names
from mlspec.spec_schema.tmdl_text import single_line_problem

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"
# Microsoft's published Fabric schemas (microsoft/json-schemas, folder fabric/) are not vendored:
# their licence and this project's rules keep third-party files out of the repository. Point
# MLSPEC_PUBLISHED_SCHEMAS_DIR at a checkout's `fabric/..` folder to run the extra check below;
# the project-kept schemas in platform_checks cover .pbip/.pbir/.pbism in every run.
SCHEMAS = Path(os.environ.get("MLSPEC_PUBLISHED_SCHEMAS_DIR", "/nonexistent"))
SPECS = [CONTRACT, *sorted(ROOT.glob("projects/*/mlproject.yaml"))]
CASES = [(spec, env) for spec in SPECS for env in environment_names(api.load(spec))]
IDS = [f"{s.parent.name}-{e}" for s, e in CASES]
JSON_SUFFIXES = (".json", ".pbip", ".pbir", ".pbism")


def build(spec: Path, env: str | None, out: Path) -> BuildResult:
    return api.build(spec, env, out_dir=out, environ={})


def projects(out: Path) -> list[Path]:
    folder = out / "powerbi"
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def contract_with(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    data = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "spec" / "mlproject.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@cache
def registry() -> Registry:
    """Microsoft's published schemas, kept under data/powerbi/schemas, by URL and by $id."""
    base = "https://developer.microsoft.com/json-schemas/"
    pairs = []
    for file in SCHEMAS.rglob("*.json"):
        contents = json.loads(file.read_text(encoding="utf-8"))
        resource = Resource.from_contents(contents, default_specification=DRAFT7)
        pairs.append((base + file.relative_to(SCHEMAS).as_posix(), resource))
        if contents.get("$id"):
            pairs.append((contents["$id"], resource))
    return Registry().with_resources(pairs)


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = registry().get_or_retrieve(document["$schema"]).value.contents
    return [e.message for e in jsonschema.Draft7Validator(schema, registry=registry()).iter_errors(document)]


Tmdl = dict[str, dict[str, str]]


def declared(project: Path) -> Tmdl:
    """``{table: {name: "column"|"measure"}}`` read from the TMDL tables."""
    found: Tmdl = {}
    for file in sorted(project.glob("*.SemanticModel/definition/tables/*.tmdl")):
        lines = file.read_text(encoding="utf-8").split("\n")
        table = re.fullmatch(r"table '((?:[^']|'')*)'", lines[0])
        assert table is not None, file
        children = {}
        for line in lines[1:]:
            match = re.match(r"^\t(column|measure) '((?:[^']|'')*)'", line)
            if match:
                children[match[2].replace("''", "'")] = match[1]
        found[table[1].replace("''", "'")] = children
    return found


def projections(project: Path) -> list[tuple[str, str, str]]:
    found = []
    for file in sorted(project.glob("*.Report/definition/pages/*/visuals/*/visual.json")):
        state = json.loads(file.read_text(encoding="utf-8"))["visual"].get("query", {}).get("queryState", {})
        for role in state.values():
            for projection in role["projections"]:
                field = projection["field"]
                field = field.get("Aggregation", {}).get("Expression", field)
                kind = "measure" if "Measure" in field else "column"
                ref = field["Measure" if kind == "measure" else "Column"]
                found.append((kind, ref["Expression"]["SourceRef"]["Entity"], ref["Property"]))
    return found


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_projects_pass_the_platform_check(spec: Path, env: str, tmp_path: Path) -> None:
    build(spec, env, tmp_path)
    for project in projects(tmp_path):
        assert check_pbip_project(project) == []


@pytest.mark.skipif(
    not (SCHEMAS / "fabric").is_dir(),
    reason="set MLSPEC_PUBLISHED_SCHEMAS_DIR to Microsoft's json-schemas checkout",
)
@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_every_json_file_is_valid_against_its_published_schema(spec: Path, env: str, tmp_path: Path) -> None:
    build(spec, env, tmp_path)
    for project in projects(tmp_path):
        for file in sorted(project.rglob("*")):
            if file.suffix in JSON_SUFFIXES:
                document = json.loads(file.read_text(encoding="utf-8"))
                assert document["$schema"].startswith("https://developer.microsoft.com/json-schemas/fabric/")
                assert schema_errors(document) == [], file


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_every_visual_field_is_in_the_model(spec: Path, env: str, tmp_path: Path) -> None:
    build(spec, env, tmp_path)
    for project in projects(tmp_path):
        model = declared(project)
        for kind, table, name in projections(project):
            assert model.get(table, {}).get(name) == kind, (table, name)
        names = [n.casefold() for children in model.values() for n, k in children.items() if k == "measure"]
        assert len(names) == len(set(names))


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_one_resource_per_report_carries_all_its_files(spec: Path, env: str, tmp_path: Path) -> None:
    result = build(spec, env, tmp_path)
    reports = yaml.safe_load(spec.read_text(encoding="utf-8")).get("reports", [])
    resources = {str(r.address): r for r in result.manifest.resources if r.address.service == "powerbi"}
    address = {r["name"]: f"powerbi.report.{r['name'].replace(' ', '_')}" for r in reports}
    assert set(resources) == set(address.values())
    for report in reports:
        resource = resources[address[report["name"]]]
        root = f"powerbi/{report['name']}/"
        on_disk = {p.relative_to(tmp_path).as_posix() for p in (tmp_path / root).rglob("*") if p.is_file()}
        assert resource.provider_type == "powerbi:pbip"
        assert resource.files[0] == f"{root}{report['name']}.pbip"
        assert set(resource.files) == on_disk


def test_an_undeclared_measure_gets_a_placeholder_and_a_warning(tmp_path: Path) -> None:
    spec = contract_with(tmp_path, lambda data: data["reports"][0].pop("measures"))
    result = build(spec, "dev", tmp_path / "out")
    warned = [d for d in result.diagnostics if d.code == "MLS663"]
    assert [d.path for d in warned] == [("reports", 0, "pages", 0, "visuals", 0, "measure")]
    validated = api.validate_file(spec, environ={}).diagnostics
    assert [(d.code, d.location) for d in validated] == [(w.code, w.location) for w in warned]
    table = (
        tmp_path
        / "out/powerbi/churn-dashboard/churn-dashboard.SemanticModel/definition/tables/customer_features.tmdl"
    )
    text = table.read_text(encoding="utf-8")
    assert (
        "\t/// mlspec placeholder: churn_rate is not declared in the report's measures.\n"
        "\tmeasure 'churn_rate' =\n\t\t\tBLANK()\n" in text
    )


def test_lake_endpoint_is_a_model_parameter(tmp_path: Path) -> None:
    build(CONTRACT, "prod", tmp_path)
    definition = tmp_path / "powerbi/churn-dashboard/churn-dashboard.SemanticModel/definition"
    expressions = (definition / "expressions.tmdl").read_text(encoding="utf-8")
    assert expressions.startswith(
        "expression 'LakeEndpoint_contosolakeprod' =\n"
        '\t\t"https://contosolakeprod.dfs.core.windows.net" meta'
    )
    table = (definition / "tables/customer_features.tmdl").read_text(encoding="utf-8")
    assert (
        'DeltaLake.Table(AzureStorage.DataLake(#"LakeEndpoint_contosolakeprod" & "/curated/churn/features/"))'
        in table
    )
    assert "\tcolumn 'visits'\n\t\tdataType: int64\n" in table  # count(...) AS visits


HOSTILE = "it's \"quoted\" \n\tmeasure 'x' = 1 {{ a }} ${{ b }} </script> ../../etc #(lf) `"
DAX = (
    "SUM(customer_features[tenure_months])\r\n"
    "\tmeasure 'injected' = 1\n"
    'formatString: "hacked"\n'
    "\n"
    "column 'evil'\n"
    "/// doc\n"
    "table 'other'"
)


def hostile_report(data: dict[str, Any]) -> None:
    data["reports"][0]["measures"] = {
        "churn 'rate'": {"table": "customer_features", "expression": DAX, "format": '0.0% "x"'},
    }
    data["reports"][0]["pages"] = [
        {
            "title": HOSTILE,
            "visuals": [
                {"type": "card", "title": HOSTILE, "measure": "churn 'rate'"},
                {
                    "type": "bar",
                    "title": "</script><script>alert(1)</script>",
                    "x": "tenure_months",
                    "y": "churn 'rate'",
                },
            ],
        }
    ]


def test_hostile_titles_and_dax_stay_data(tmp_path: Path) -> None:
    build(contract_with(tmp_path, hostile_report), "dev", tmp_path / "out")
    project = tmp_path / "out" / "powerbi" / "churn-dashboard"
    table = project / "churn-dashboard.SemanticModel/definition/tables/customer_features.tmdl"
    lines = table.read_text(encoding="utf-8").split("\n")
    start = lines.index("\tmeasure 'churn ''rate''' =") + 1
    body: list[str] = []
    for line in lines[start:]:
        if line and not line.startswith("\t\t\t"):
            break
        body.append(line[3:])
    inside = {f"line {n}" for n in range(start + 1, start + len(body) + 1)}
    assert body, "the hostile DAX should span several lines of the expression"
    assert inside and check_pbip_project(project) == []
    for file in project.rglob("*"):
        if file.suffix in JSON_SUFFIXES:
            document = json.loads(file.read_text(encoding="utf-8"))
            if (SCHEMAS / "fabric").is_dir():
                assert schema_errors(document) == [], file
    model = declared(project)
    assert model["customer_features"]["churn 'rate'"] == "measure"
    assert not any("injected" in n or "evil" in n for children in model.values() for n in children)
    assert set(model) == {"customer_features", "predictions"}
    assert body == tmdl.expression_lines(DAX)
    assert lines[start + len(body)] == '\t\tformatString: "0.0% ""x"""'
    page = json.loads(next(project.rglob("page.json")).read_text(encoding="utf-8"))
    assert page["displayName"] == HOSTILE.replace("\n", " ").replace("\t", " ")
    card = json.loads(
        sorted(project.rglob("visual.json"), key=lambda p: json.loads(p.read_text())["position"]["z"])[
            0
        ].read_text()
    )
    value = card["visual"]["visualContainerObjects"]["title"][0]["properties"]["text"]["expr"]["Literal"][
        "Value"
    ]
    assert value == "'" + HOSTILE.replace("\n", " ").replace("\t", " ").replace("'", "''") + "'"


@pytest.mark.parametrize(
    ("change", "code", "path"),
    [
        (
            lambda d: d["reports"][0].update(
                measures={"a\nb": {"table": "customer_features", "expression": "1"}}
            ),
            "MLS662",
            ("reports", 0, "measures", "a\nb"),
        ),
        (
            lambda d: d["reports"][0].update(
                measures={"m": {"table": "customer_features", "expression": "1\n```\n2"}}
            ),
            "MLS665",
            ("reports", 0, "measures", "m", "expression"),
        ),
        (
            lambda d: d["reports"][0].update(
                measures={"m": {"table": "customer_features", "expression": "1", "format": "0\n0"}}
            ),
            "MLS666",
            ("reports", 0, "measures", "m", "format"),
        ),
        (
            lambda d: d["reports"][0].update(
                measures={"visits": {"table": "customer_features", "expression": "1"}}
            ),
            "MLS661",
            ("reports", 0, "measures", "visits"),
        ),
        (
            lambda d: d["reports"][0]["pages"][0]["visuals"].append(
                {"type": "bar", "x": "nope", "y": "visits"}
            ),
            "MLS660",
            ("reports", 0, "pages", 0, "visuals", 2, "x"),
        ),
    ],
    ids=["newline-name", "backticks", "newline-format", "measure-named-like-column", "unknown-column"],
)
def test_what_tmdl_cannot_hold_is_an_error_at_its_line(
    change: Callable[[dict[str, Any]], None], code: str, path: tuple[object, ...], tmp_path: Path
) -> None:
    spec = contract_with(tmp_path, change)
    with pytest.raises(MlspecError) as caught:
        build(spec, "dev", tmp_path / "out")
    found = [d for d in caught.value.diagnostics if d.code == code]
    assert [d.path for d in found] == [path]
    assert found[0].location is not None and found[0].location.file == str(spec)


@pytest.mark.parametrize("name", ["../../escape", "a/b", "x.y", " lead", "CON", "a\\b", ""])
def test_report_names_that_are_no_plain_folder_name_are_refused(name: str) -> None:
    assert folder_name_problem(name) is not None


def test_a_path_like_report_name_writes_nothing(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["reports"][0]["name"] = "../../outside"

    with pytest.raises(MlspecError) as caught:
        build(contract_with(tmp_path, change), "dev", tmp_path / "out" / "build")
    assert any(d.path == ("reports", 0, "name") for d in caught.value.diagnostics)
    assert not (tmp_path / "out").exists()


def test_a_report_name_with_spaces_is_a_folder_and_an_address(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["reports"][0]["name"] = "Churn dashboard"
        data["reports"].append({**data["reports"][0], "name": "churn_Dashboard"})

    spec = contract_with(tmp_path, change)
    with pytest.raises(MlspecError) as caught:
        build(spec, "dev", tmp_path / "clash")
    assert [d.path for d in caught.value.diagnostics if d.code == "MLS664"] == [("reports", 1, "name")]

    def single(data: dict[str, Any]) -> None:
        data["reports"][0]["name"] = "Churn dashboard"

    result = build(contract_with(tmp_path / "single", single), "dev", tmp_path / "out")
    resource = next(r for r in result.manifest.resources if r.address.service == "powerbi")
    assert str(resource.address) == "powerbi.report.Churn_dashboard"
    assert resource.files[0] == "powerbi/Churn dashboard/Churn dashboard.pbip"
    assert check_pbip_project(tmp_path / "out" / "powerbi" / "Churn dashboard") == []


def test_tmdl_and_m_quoting() -> None:
    assert tmdl.name("it's") == "'it''s'"
    assert tmdl.text('say "hi"') == '"say ""hi"""'
    assert single_line_problem("a\u2028b") is not None
    assert mquery.string('a"b#(lf)c\n\u2029') == '"a""b#(#)(lf)c#(000A)#(2029)"'


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    build(contract_with(tmp_path, hostile_report), "prod", tmp_path / "one")
    build(contract_with(tmp_path, hostile_report), "prod", tmp_path / "two")
    one = {
        p.relative_to(tmp_path / "one"): p.read_bytes()
        for p in (tmp_path / "one" / "powerbi").rglob("*")
        if p.is_file()
    }
    two = {
        p.relative_to(tmp_path / "two"): p.read_bytes()
        for p in (tmp_path / "two" / "powerbi").rglob("*")
        if p.is_file()
    }
    assert one == two and one


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT CAST(c.churned AS INT) AS churned FROM c", "int"),
        ("SELECT CAST(amount AS decimal(12,2)) AS amount FROM c", "decimal(12,2)"),
        ("SELECT count(x) AS churned FROM c", "bigint"),
        ("SELECT CASE WHEN x THEN 1 ELSE 0 END AS churned FROM c", "int"),
        ("SELECT coalesce(churned, false) AS churned FROM c", "boolean"),
        ("SELECT c.churned FROM c", "boolean"),
        ("SELECT churned * 2 AS churned FROM c", None),
    ],
)
def test_column_types_come_from_the_expression_not_a_same_named_input(sql: str, expected: str | None) -> None:
    """`CAST(churned AS INT) AS churned` is an int even though the input column is boolean (DAX AVERAGE
    ignores booleans, so a wrong type silently breaks a churn-rate measure)."""
    from mlspec.spec_schema.report_columns import expression_type
    from mlspec.spec_schema.sql_columns import select_items

    items = select_items(sql)
    assert items is not None
    ((_, tokens),) = items
    assert expression_type(tokens, {"churned": "boolean", "amount": "double"}) == expected
