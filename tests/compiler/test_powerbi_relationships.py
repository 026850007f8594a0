"""The semantic model of a report over several tables: relationships, shorthand measures, partition columns.

Built from ``tests/spec_schema/data/reports/three_tables.yaml`` (orders, customer_features partitioned by
country and cohort_year, predictions) and checked in the written TMDL, by mlspec's own checks of the
rendered project and by the structural TMDL checks.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlspec import api
from mlspec.compiler.platform_checks import check_pbip_project
from mlspec.compiler.powerbi import mquery
from mlspec.compiler.powerbi.model import lineage_tag

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "spec_schema" / "data" / "reports" / "three_tables.yaml"
PROJECT = "powerbi/shop-dashboard"
DEFINITION = f"{PROJECT}/shop-dashboard.SemanticModel/definition"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    result = api.build(SPEC, "dev", out_dir=out, environ={})
    assert result.diagnostics == []
    return out


def read(out: Path, relative: str) -> str:
    return (out / relative).read_text(encoding="utf-8")


def test_relationships_are_written_in_the_model_definition(built: Path) -> None:
    text = read(built, f"{DEFINITION}/relationships.tmdl")
    declared = lineage_tag(
        "shop-dashboard", "relationship", "predictions", "customer_id", "customer_features", "customer_id"
    )
    inferred = lineage_tag(
        "shop-dashboard", "relationship", "orders", "customer_id", "customer_features", "customer_id"
    )
    assert text == (
        f"relationship {declared}\n"
        "\tfromColumn: 'predictions'.'customer_id'\n"
        "\ttoColumn: 'customer_features'.'customer_id'\n"
        "\n"
        f"relationship {inferred}\n"
        "\tfromColumn: 'orders'.'customer_id'\n"
        "\ttoColumn: 'customer_features'.'customer_id'\n"
    )


def test_relationship_names_are_deterministic(tmp_path: Path, built: Path) -> None:
    api.build(SPEC, "dev", out_dir=tmp_path, environ={})
    assert read(tmp_path, f"{DEFINITION}/relationships.tmdl") == read(
        built, f"{DEFINITION}/relationships.tmdl"
    )


def test_the_resource_carries_the_relationships_file(built: Path) -> None:
    result = api.build(SPEC, "dev", out_dir=built.parent / "again", environ={})
    [resource] = [r for r in result.manifest.resources if r.provider_type == "powerbi:pbip"]
    assert f"{DEFINITION}/relationships.tmdl" in resource.files


def test_a_one_to_one_relationship_filters_both_ways(tmp_path: Path) -> None:
    text = SPEC.read_text(encoding="utf-8")
    text = text.replace(
        "      - {from: predictions.customer_id, to: customer_features.customer_id}\n",
        "      - {from: predictions.customer_id, to: customer_features.customer_id}\n"
        "      - {from: orders.order_id, to: customer_features.customer_id}\n",
    )
    # orders.order_id is no key: the declared relationship is many-to-one, one direction
    spec = tmp_path / "mlproject.yaml"
    spec.write_text(text, encoding="utf-8")
    api.build(spec, "dev", out_dir=tmp_path / "out", environ={})
    written = read(tmp_path / "out", f"{DEFINITION}/relationships.tmdl")
    assert "'orders'.'order_id'" in written and "Cardinality" not in written

    diabetes = ROOT / "projects" / "diabetes" / "mlproject.yaml"
    api.build(diabetes, "dev", out_dir=tmp_path / "diabetes", environ={})
    definition = tmp_path / "diabetes/powerbi/diabetes-cohorts/diabetes-cohorts.SemanticModel/definition"
    one_to_one = (definition / "relationships.tmdl").read_text(encoding="utf-8")
    assert one_to_one.endswith(
        "\tfromColumn: 'patient_features'.'patient_id'\n"
        "\ttoColumn: 'lab_panel'.'patient_id'\n"
        "\tfromCardinality: one\n"
        "\tcrossFilteringBehavior: bothDirections\n"
    )


def test_shorthand_measures_are_dax_with_a_format(built: Path) -> None:
    orders = read(built, f"{DEFINITION}/tables/orders.tmdl")
    assert (
        "\t/// mlspec: sum(amount) in the report's visuals\n"
        "\tmeasure 'Sum of amount' =\n"
        "\t\t\tSUM('orders'[amount])\n"
        '\t\tformatString: "#,0.00"\n'
    ) in orders
    assert (
        "\tmeasure 'Count of order_id' =\n\t\t\tCOUNT('orders'[order_id])\n\t\tformatString: \"#,0\"\n"
        in orders
    )
    predictions = read(built, f"{DEFINITION}/tables/predictions.tmdl")
    assert "AVERAGE('predictions'[prediction])" in predictions


def test_partition_columns_are_read_from_the_folder_names(built: Path) -> None:
    table = read(built, f"{DEFINITION}/tables/customer_features.tmdl")
    assert "\tcolumn 'cohort_year'\n\t\tdataType: int64\n" in table
    assert "\tcolumn 'country'\n\t\tdataType: string\n" in table
    assert 'PartitionValue(file[Folder Path], "country")' in table
    assert 'PartitionValue(file[Folder Path], "cohort_year")' in table
    assert '{"cohort_year", Int64.Type}' in table  # typed from the schema, like every column


def test_partition_query_parses_col_equals_value_segments() -> None:
    query = mquery.table_query(
        "abfss://curated@acct.dfs.core.windows.net/shop/features/",
        "parquet",
        [("id", "string"), ("country", "string")],
        partitions=["country"],
    )
    assert 'Text.Split(folder, "/")' in query
    assert 'Text.StartsWith(s, column & "=")' in query
    assert '"__HIVE_DEFAULT_PARTITION__"' in query
    assert re.search(r"Table\.RemoveColumns\(Parquet\.Document\(file\[Content\]\), \{\"country\"\}", query)
    # an unpartitioned table reads as before
    plain = mquery.table_query(
        "abfss://curated@acct.dfs.core.windows.net/shop/features/", "parquet", [("id", "string")]
    )
    assert "PartitionValue" not in plain


def test_the_rendered_project_passes_the_tmdl_checks(built: Path) -> None:
    assert check_pbip_project(built / PROJECT) == []


def test_the_tmdl_check_refuses_a_relationship_to_an_unknown_column(tmp_path: Path, built: Path) -> None:
    import shutil

    project = tmp_path / "shop-dashboard"
    shutil.copytree(built / PROJECT, project)
    file = project / "shop-dashboard.SemanticModel/definition/relationships.tmdl"
    file.write_text(file.read_text(encoding="utf-8").replace("'orders'.'customer_id'", "'orders'.'client'"))
    problems = [(p.where, p.message) for p in check_pbip_project(project)]
    assert problems == [("line 6", "fromColumn 'orders'.'client' names no column of table orders")]
