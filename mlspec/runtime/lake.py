"""Read, check and write lake data the same way on Synapse and on a local PySpark.

mlspec inlines this file into every Synapse notebook it renders, so the notebook runs on
Synapse without installing mlspec and locally without change. That sets the rules here:
the standard library only at import time (PySpark, ``deltalake`` and ``pyarrow`` are imported
inside the functions that need them), nothing imported from mlspec, and no ``from __future__``
import (in a notebook cell it would not be the first statement of the module).

Where the code runs is one environment variable. With ``MLSPEC_LAKE_ROOT`` set, the URL
``abfss://<container>@<account>.dfs.core.windows.net/<path>`` is the local folder
``<root>/<account>/<container>/<path>``, and Delta tables are read and written with the
``deltalake`` package (delta-rs), because Delta's Spark jars come from Maven and cannot be
fetched everywhere. Without it (on Synapse) URLs are used as given and Delta goes through
Spark's ``delta`` format and ``delta.tables.DeltaTable``.
"""

import importlib
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

LAKE_ROOT_VARIABLE = "MLSPEC_LAKE_ROOT"
INPUT_FORMATS = ("csv", "parquet", "json", "delta", "text", "binary")
OUTPUT_FORMATS = ("parquet", "delta", "csv", "json")
WRITE_MODES = ("overwrite", "append", "merge")

_ABFSS = re.compile(
    r"abfss://(?P<container>[^@/]+)@(?P<account>[^./]+)\.dfs\.core\.windows\.net(?:/(?P<path>.*))?"
)
_SPARK_READ_FORMATS = {"binary": "binaryFile"}
# Readers that take a declared schema themselves; other formats are cast after reading, and
# text/binary files have Spark's fixed schemas (value; path, modificationTime, length, content).
_SCHEMA_ON_READ = ("csv", "json")
_CAST_AFTER_READ = ("parquet", "delta")
_SPARK_QUOTE = "`"
_DELTA_RS_QUOTE = '"'  # delta-rs (DataFusion) quotes identifiers as standard SQL does


class DataQualityError(Exception):
    """A data-quality expectation failed; the notebook stops before it writes anything."""


# --- paths ---------------------------------------------------------------------------------


def lake_root() -> str | None:
    """The local lake folder, or ``None`` when running on Synapse."""
    return os.environ.get(LAKE_ROOT_VARIABLE) or None


def resolve_path(url: str) -> str:
    """Where ``url`` (``abfss://<container>@<account>.dfs.core.windows.net/<path>``) is read and written.

    On Synapse, the URL itself. Locally, ``<MLSPEC_LAKE_ROOT>/<account>/<container>/<path>``;
    a URL that is not ADLS Gen2 or whose path contains ``..`` raises ``ValueError``.
    """
    root = lake_root()
    if root is None:
        return url
    match = _ABFSS.fullmatch(url)
    if match is None:
        raise ValueError(
            f"{url!r} is not an ADLS Gen2 URL (abfss://<container>@<account>.dfs.core.windows.net/<path>)"
        )
    parts = [part for part in (match["path"] or "").split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"{url!r}: '..' is not allowed in a lake path")
    return os.path.join(root, match["account"], match["container"], *parts)


# --- Spark -----------------------------------------------------------------------------------


def spark_session() -> Any:
    """The active Spark session (Synapse's own ``spark``, or a local one created on first use)."""
    return _module("pyspark.sql").SparkSession.builder.getOrCreate()


def read_input(
    spark: Any,
    url: str,
    format: str,
    *,
    options: Mapping[str, Any] | None = None,
    schema_ddl: str | None = None,
    glob: str | None = None,
) -> Any:
    """A DataFrame of the data at ``url`` in ``format`` (csv, parquet, json, delta, text, binary).

    ``options`` are Spark reader options, ``schema_ddl`` (``"id string, n int"``) is enforced on
    read, ``glob`` keeps only matching file names (Spark's ``pathGlobFilter``).
    """
    if format not in INPUT_FORMATS:
        raise ValueError(f"cannot read format {format!r}; known: {', '.join(INPUT_FORMATS)}")
    path = resolve_path(url)
    if format == "delta" and lake_root() is not None:
        frame = _read_delta_locally(spark, path)
    else:
        reader = spark.read.format(_SPARK_READ_FORMATS.get(format, format))
        for key, value in (options or {}).items():
            reader = reader.option(key, _option_text(value))
        if glob:
            reader = reader.option("pathGlobFilter", glob)
        if schema_ddl and format in _SCHEMA_ON_READ:
            reader = reader.schema(schema_ddl)
        frame = reader.load(path)
    if schema_ddl and format in _CAST_AFTER_READ:
        frame = _cast_to_schema(spark, frame, schema_ddl)
    return frame


def write_output(
    frame: Any,
    url: str,
    format: str,
    *,
    mode: str = "overwrite",
    partition_by: Sequence[str] = (),
    merge_keys: Sequence[str] = (),
) -> None:
    """Write ``frame`` to ``url``: overwrite, append, or merge (a Delta upsert on ``merge_keys``)."""
    if format not in OUTPUT_FORMATS:
        raise ValueError(f"cannot write format {format!r}; known: {', '.join(OUTPUT_FORMATS)}")
    if mode not in WRITE_MODES:
        raise ValueError(f"unknown write mode {mode!r}; known: {', '.join(WRITE_MODES)}")
    if mode == "merge" and (format != "delta" or not merge_keys):
        raise ValueError("mode merge needs format delta and at least one merge key")
    path = resolve_path(url)
    local = lake_root() is not None
    if format == "delta" and local:
        _write_delta_locally(frame, path, mode, list(partition_by), list(merge_keys))
    elif mode == "merge":
        _merge_delta_on_spark(frame, path, list(partition_by), list(merge_keys))
    else:
        writer = frame.write.format(format).mode(mode)
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        if format == "csv":
            writer = writer.option("header", "true")
        if format == "delta" and mode == "overwrite":
            writer = writer.option("overwriteSchema", "true")  # the output is replaced as a whole
        writer.save(path)


def _option_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _cast_to_schema(spark: Any, frame: Any, schema_ddl: str) -> Any:
    functions = _module("pyspark.sql.functions")
    declared = spark.createDataFrame([], schema_ddl).schema
    return frame.select([functions.col(field.name).cast(field.dataType) for field in declared.fields])


def _read_delta_locally(spark: Any, path: str) -> Any:
    # Row by row through Python values rather than pandas, whose integer columns with nulls turn
    # into floats: local tables are samples, and this keeps every type exact.
    table = _plain_arrow(_module("deltalake").DeltaTable(path).to_pyarrow_table())
    schema = _module("pyspark.sql.pandas.types").from_arrow_schema(table.schema)
    names = table.schema.names
    rows = [tuple(record[name] for name in names) for record in table.to_pylist()]
    return spark.createDataFrame(rows, schema=schema)


def _plain_arrow(table: Any) -> Any:
    """``table`` with the string/binary/list encodings PySpark 3.5 cannot map (large, view) made plain."""
    pyarrow = _module("pyarrow")

    def plain(kind: Any) -> Any:
        if pyarrow.types.is_large_string(kind) or pyarrow.types.is_string_view(kind):
            return pyarrow.string()
        if pyarrow.types.is_large_binary(kind) or pyarrow.types.is_binary_view(kind):
            return pyarrow.binary()
        if pyarrow.types.is_large_list(kind) or pyarrow.types.is_list_view(kind):
            return pyarrow.list_(plain(kind.value_type))
        if pyarrow.types.is_struct(kind):
            return pyarrow.struct([field.with_type(plain(field.type)) for field in kind])
        return kind

    schema = pyarrow.schema([field.with_type(plain(field.type)) for field in table.schema])
    return table.cast(schema)


def _to_arrow(frame: Any) -> Any:
    schema = _module("pyspark.sql.pandas.types").to_arrow_schema(frame.schema)
    records = [row.asDict(recursive=True) for row in frame.collect()]
    return _module("pyarrow").Table.from_pylist(records, schema=schema)


def _write_delta_locally(
    frame: Any, path: str, mode: str, partition_by: list[str], merge_keys: list[str]
) -> None:
    deltalake = _module("deltalake")
    data = _to_arrow(frame)
    exists = deltalake.DeltaTable.is_deltatable(path)
    if mode == "merge" and exists:
        predicate = _match_condition(merge_keys, _DELTA_RS_QUOTE)
        merger = deltalake.DeltaTable(path).merge(data, predicate, source_alias="s", target_alias="t")
        merger.when_matched_update_all().when_not_matched_insert_all().execute()
        return
    write_mode = "append" if mode == "append" and exists else "overwrite"
    deltalake.write_deltalake(
        path,
        data,
        mode=write_mode,
        partition_by=partition_by or None,
        schema_mode="overwrite" if write_mode == "overwrite" else None,
    )


def _merge_delta_on_spark(frame: Any, path: str, partition_by: list[str], merge_keys: list[str]) -> None:
    delta_table = _module("delta.tables").DeltaTable  # Synapse ships Delta Lake in its Spark runtime
    spark = frame.sparkSession
    if not delta_table.isDeltaTable(spark, path):
        writer = frame.write.format("delta").mode("overwrite")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        writer.save(path)
        return
    condition = _match_condition(merge_keys, _SPARK_QUOTE)
    target = delta_table.forPath(spark, path).alias("t")
    target.merge(frame.alias("s"), condition).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()


def _match_condition(keys: Sequence[str], quote: str) -> str:
    """``t.k = s.k AND ...`` with each key quoted (backticks for Spark, double quotes for delta-rs)."""

    def quoted(name: str) -> str:
        return quote + name.replace(quote, quote + quote) + quote

    return " AND ".join(f"t.{quoted(key)} = s.{quoted(key)}" for key in keys)


def _module(name: str) -> Any:
    """Import a heavy optional dependency where it is needed (and untyped to the type checker)."""
    return importlib.import_module(name)


# --- data-quality expectations -----------------------------------------------------------------


def _fail(transform: str, what: str, rows: int) -> None:
    raise DataQualityError(f"expectation failed on {transform}: {what} ({rows} rows)")


def _columns(columns: str | Sequence[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)


def expect_not_null(frame: Any, columns: str | Sequence[str], transform: str) -> None:
    """Every row has a value in each of ``columns``."""
    functions = _module("pyspark.sql.functions")

    names = _columns(columns)
    nulls = [functions.sum(functions.col(name).isNull().cast("long")) for name in names]
    counts = frame.select([count.alias(str(i)) for i, count in enumerate(nulls)]).first()
    for i, name in enumerate(names):
        rows = int(counts[i] or 0)
        if rows:
            _fail(transform, f"{name} is null", rows)


def expect_unique(frame: Any, columns: str | Sequence[str], transform: str) -> None:
    """No two rows share the same values in ``columns``."""
    functions = _module("pyspark.sql.functions")

    names = _columns(columns)
    duplicates = frame.groupBy(*names).count().filter(functions.col("count") > 1)
    rows = int(duplicates.agg(functions.sum("count")).first()[0] or 0)
    if rows:
        _fail(transform, f"{', '.join(names)} is not unique", rows)


def expect_row_count(frame: Any, transform: str, min: int | None = None, max: int | None = None) -> None:
    """The number of rows is within ``[min, max]`` (either bound may be absent)."""
    rows = int(frame.count())
    if min is not None and rows < min:
        _fail(transform, f"row count is below the minimum {min}", rows)
    if max is not None and rows > max:
        _fail(transform, f"row count is above the maximum {max}", rows)


def expect_accepted_values(frame: Any, column: str, values: Sequence[Any], transform: str) -> None:
    """Every non-null value of ``column`` is one of ``values``."""
    functions = _module("pyspark.sql.functions")

    rows = int(frame.filter(~functions.col(column).isin(list(values))).count())
    if rows:
        _fail(transform, f"{column} has values outside {list(values)!r}", rows)


def expect_range(
    frame: Any, column: str, transform: str, min: float | None = None, max: float | None = None
) -> None:
    """Every non-null value of ``column`` is within ``[min, max]``."""
    functions = _module("pyspark.sql.functions")

    value = functions.col(column)
    outside = functions.lit(False)
    if min is not None:
        outside = outside | (value < functions.lit(min))
    if max is not None:
        outside = outside | (value > functions.lit(max))
    rows = int(frame.filter(outside).count())
    if rows:
        low = "-inf" if min is None else repr(min)
        high = "inf" if max is None else repr(max)
        _fail(transform, f"{column} is outside [{low}, {high}]", rows)


def expect_expression(frame: Any, expression: str, transform: str) -> None:
    """The Spark SQL boolean ``expression`` is true on every row (null counts as false)."""
    functions = _module("pyspark.sql.functions")

    holds = functions.coalesce(functions.expr(expression), functions.lit(False))
    rows = int(frame.filter(~holds).count())
    if rows:
        _fail(transform, f"{expression!r} does not hold", rows)
