"""The lake runtime helper without Spark: path mapping, and what lets notebooks inline it."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlspec.runtime import lake

LAKE_SOURCE = Path(lake.__file__).read_text(encoding="utf-8")


def test_on_synapse_urls_are_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLSPEC_LAKE_ROOT", raising=False)
    url = "abfss://raw@contosolakedev.dfs.core.windows.net/crm/customers/"
    assert lake.lake_root() is None
    assert lake.resolve_path(url) == url


def test_locally_urls_map_to_account_container_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLSPEC_LAKE_ROOT", str(tmp_path))
    resolved = lake.resolve_path("abfss://raw@contosolakedev.dfs.core.windows.net/crm/customers/")
    assert resolved == os.path.join(tmp_path, "contosolakedev", "raw", "crm", "customers")
    assert lake.resolve_path("abfss://curated@acct.dfs.core.windows.net") == os.path.join(
        tmp_path, "acct", "curated"
    )
    assert lake.resolve_path("abfss://c1@acct.dfs.core.windows.net//a/./b") == os.path.join(
        tmp_path, "acct", "c1", "a", "b"
    )


@pytest.mark.parametrize(
    "url",
    [
        "abfss://raw@acct.dfs.core.windows.net/a/../../../etc",
        "https://acct.blob.core.windows.net/raw/x",
        "/local/path",
        "abfss://raw@acct.blob.core.windows.net/x",
    ],
)
def test_locally_other_urls_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str) -> None:
    monkeypatch.setenv("MLSPEC_LAKE_ROOT", str(tmp_path))
    with pytest.raises(ValueError):
        lake.resolve_path(url)


def test_an_empty_lake_root_means_synapse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLSPEC_LAKE_ROOT", "")
    assert lake.lake_root() is None


def test_the_module_imports_only_the_standard_library_at_import_time() -> None:
    tree = ast.parse(LAKE_SOURCE)
    top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    modules = {alias.name for n in top_level if isinstance(n, ast.Import) for alias in n.names}
    modules |= {n.module or "" for n in top_level if isinstance(n, ast.ImportFrom)}
    assert modules <= {"datetime", "fnmatch", "importlib", "os", "re", "collections.abc", "typing"}
    assert "__future__" not in modules  # it would not be the first statement of a notebook


def test_importing_it_loads_no_spark_or_delta() -> None:
    code = "import sys, mlspec.runtime.lake, mlspec.compiler.synapse; print(sorted(m for m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for heavy in ("pyspark", "deltalake", "pyarrow", "pandas", "azure"):
        assert f"'{heavy}'" not in loaded and f"'{heavy}." not in loaded


def test_it_runs_as_a_notebook_cell_in_a_fresh_namespace() -> None:
    namespace: dict[str, object] = {}
    exec(compile(LAKE_SOURCE, "lake-cell", "exec"), namespace)
    assert callable(namespace["read_input"]) and callable(namespace["expect_not_null"])


def test_data_quality_error_names_rule_transform_count_and_sample_rows() -> None:
    sample = [{"customer_id": "c1", "region": "north"}, {"customer_id": "c1", "region": "south"}]
    error = lake.DataQualityError(
        "features", "unique(customer_id)", 2, "rows share their customer_id with another row", sample
    )
    assert (error.transform, error.rule, error.count, error.sample) == (
        "features",
        "unique(customer_id)",
        2,
        sample,
    )
    assert str(error) == (
        "expectation unique(customer_id) failed on features: 2 rows share their customer_id with another row;"
        " they are:\n"
        "  {'customer_id': 'c1', 'region': 'north'}\n"
        "  {'customer_id': 'c1', 'region': 'south'}"
    )


def test_data_quality_error_cuts_long_values_short_in_the_message_only() -> None:
    image = b"\x89PNG" + bytes(500)
    error = lake.DataQualityError(
        "t", "not_null(label)", 7, "rows with no value in label", [{"content": image}]
    )
    assert "; the first 1:\n" in str(error)
    shown = str(error).splitlines()[1]
    assert len(shown) < 100 and shown.endswith("...}")
    assert error.sample == [{"content": image}]


def test_data_quality_error_survives_pickling() -> None:
    import pickle

    error = lake.DataQualityError("t", "row_count(min=10)", 3, "rows, below the minimum 10")
    copy = pickle.loads(pickle.dumps(error))
    assert (
        str(copy) == str(error) == "expectation row_count(min=10) failed on t: 3 rows, below the minimum 10"
    )
    assert (copy.rule, copy.count, copy.sample) == ("row_count(min=10)", 3, [])


def test_write_refuses_merge_without_delta_and_keys() -> None:
    with pytest.raises(ValueError, match="merge needs format delta"):
        lake.write_output(
            None, "abfss://c1@acct.dfs.core.windows.net/x", "parquet", mode="merge", merge_keys=["id"]
        )
    with pytest.raises(ValueError, match="merge needs format delta"):
        lake.write_output(None, "abfss://c1@acct.dfs.core.windows.net/x", "delta", mode="merge")


def test_unknown_formats_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot read format 'xml'"):
        lake.read_input(None, "abfss://c1@acct.dfs.core.windows.net/x", "xml")
    with pytest.raises(ValueError, match="cannot write format 'text'"):
        lake.write_output(None, "abfss://c1@acct.dfs.core.windows.net/x", "text")


@pytest.mark.parametrize(
    ("files", "format", "glob", "problem"),
    [
        (None, "csv", None, "the path does not exist"),
        ([], "json", None, "the folder holds no data file"),
        (["_SUCCESS", ".part-0.crc", "_delta_log/0.json"], "parquet", None, "the folder holds no data file"),
        (["notes.txt"], "json", "*.json", "the folder holds no file matching '*.json'"),
        (["part-0.parquet"], "delta", None, "it is not a Delta table (no _delta_log)"),
    ],
)
def test_an_input_without_data_is_refused_where_it_is_read(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    files: list[str] | None,
    format: str,
    glob: str | None,
    problem: str,
) -> None:
    """Before Spark is asked (it would say "cell 2, line 158" of the inlined helper, or nothing)."""
    monkeypatch.setenv("MLSPEC_LAKE_ROOT", str(tmp_path))
    url = "abfss://raw@acct.dfs.core.windows.net/web/logs/"
    folder = tmp_path / "acct" / "raw" / "web" / "logs"
    if files is not None:
        folder.mkdir(parents=True)
    for name in files or []:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("{}")
    with pytest.raises(lake.InputMissing) as missing:
        lake.read_input(None, url, format, glob=glob)  # no Spark session is needed to tell
    assert (missing.value.url, missing.value.path, missing.value.problem) == (url, str(folder), problem)
    assert str(missing.value) == f"no data at {folder}: {problem}"


def test_data_files_in_partition_folders_count_as_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLSPEC_LAKE_ROOT", str(tmp_path))
    part = tmp_path / "acct" / "raw" / "t" / "region=north"
    part.mkdir(parents=True)
    (part / "part-0.csv").write_text("a\n1\n")
    with pytest.raises(AttributeError):  # past the check: the (missing) Spark session is asked next
        lake.read_input(None, "abfss://raw@acct.dfs.core.windows.net/t", "csv", glob="*.csv")


def test_input_missing_survives_pickling() -> None:
    import pickle

    error = lake.InputMissing("abfss://c@a.dfs.core.windows.net/x", "/lake/a/c/x", "the path does not exist")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.url, copy.path, copy.problem, str(copy)) == (
        error.url,
        error.path,
        error.problem,
        "no data at /lake/a/c/x: the path does not exist",
    )
