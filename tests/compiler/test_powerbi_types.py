"""Every Power BI column is typed as the writer writes it, and read back from where the writer put it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlspec import api
from mlspec.compiler.powerbi.mquery import M_TYPES
from mlspec.spec_schema.resolve import environment_names

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted(ROOT.glob("projects/*/mlproject.yaml"))
CASES = [(spec, env) for spec in SPECS for env in environment_names(api.load(spec))]
_COLUMN = re.compile(r"^\tcolumn '((?:[^']|'')*)'\n\t\tdataType: (\w+)$", re.MULTILINE)
_TYPED = re.compile(r'\{"((?:[^"]|"")*)", ([A-Za-z0-9. ]+)\}')


def tables_of(out: Path) -> dict[str, str]:
    return {
        p.stem: p.read_text(encoding="utf-8")
        for p in out.glob("powerbi/*/*.SemanticModel/definition/tables/*.tmdl")
    }


def declared_types(tmdl: str) -> dict[str, str]:
    return {name.replace("''", "'"): data_type for name, data_type in _COLUMN.findall(tmdl)}


def test_station_quality_counts_and_latencies_are_whole_numbers(tmp_path: Path) -> None:
    """The Spark job writes ``percentile_approx`` of a bigint and ``sum`` of a bigint as bigints (the
    local run's Delta log says ``long``); neither is text or a double in the model."""
    api.build(ROOT / "projects" / "digits" / "mlproject.yaml", "dev", out_dir=tmp_path, environ={})
    types = declared_types(tables_of(tmp_path)["station_quality"])
    assert types == {
        "site": "string",
        "station_id": "string",
        "day": "dateTime",
        "uploads": "int64",
        "retry_rate": "double",
        "p95_latency_ms": "int64",
        "bytes_uploaded": "int64",
    }


@pytest.mark.parametrize(("spec", "env"), CASES, ids=[f"{s.parent.name}-{e}" for s, e in CASES])
def test_the_m_query_types_each_column_as_the_tmdl_declares(spec: Path, env: str, tmp_path: Path) -> None:
    api.build(spec, env, out_dir=tmp_path, environ={})
    tables = tables_of(tmp_path)
    assert tables
    for name, tmdl in tables.items():
        declared = declared_types(tmdl)
        typed_line = next(line for line in tmdl.split("\n") if "Table.TransformColumnTypes" in line)
        typed = {column.replace('""', '"'): m_type for column, m_type in _TYPED.findall(typed_line)}
        assert typed == {column: M_TYPES[data_type] for column, data_type in declared.items()}, name


def test_prediction_times_are_read_with_their_offset_and_kept_as_utc(tmp_path: Path) -> None:
    """The scoring server writes ``time`` as ``2024-06-03T10:15:00.123+00:00``: parsed as a zoned
    date-time and stored in UTC, never converted as local text."""
    api.build(ROOT / "projects" / "churn" / "mlproject.yaml", "dev", out_dir=tmp_path, environ={})
    query = tables_of(tmp_path)["predictions"]
    assert "DateTimeZone.RemoveZone(DateTimeZone.ToUtc(DateTimeZone.FromText(value)))" in query
    assert "[time = UtcTime(r[time])," in query
    assert "[HierarchicalNavigation = false]" in query  # dated sub-folders of the log are read too


def test_partition_columns_of_a_partitioned_parquet_output_come_from_the_folder_names(tmp_path: Path) -> None:
    api.build(ROOT / "projects" / "diabetes" / "mlproject.yaml", "dev", out_dir=tmp_path, environ={})
    tmdl = tables_of(tmp_path)["patient_features"]
    assert declared_types(tmdl)["clinic"] == "string"
    assert 'Table.AddColumn(Table.RemoveColumns(Parquet.Document(file[Content]), {"clinic"}' in tmdl
    assert 'each PartitionValue(file[Folder Path], "clinic")' in tmdl
