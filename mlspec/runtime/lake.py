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

import datetime
import fnmatch
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
# Spark's error conditions for a read that finds nothing: the path is missing, or it holds no
# file to take a schema from.
_NO_DATA_CONDITIONS = ("PATH_NOT_FOUND", "UNABLE_TO_INFER_SCHEMA")
_SPARK_QUOTE = "`"
_DELTA_RS_QUOTE = '"'  # delta-rs (DataFusion) quotes identifiers as standard SQL does


SAMPLE_ROWS = 5  # offending rows a failed expectation shows
_SHOWN_VALUE_CHARS = 60


class DataQualityError(Exception):
    """A data-quality expectation failed; the notebook stops before it writes anything.

    ``rule`` is the expectation as the spec writes it (``unique(customer_id)``), ``count`` the
    number of offending rows (for ``row_count``: the rows there are), ``sample`` up to
    ``SAMPLE_ROWS`` offending rows as dicts, ``problem`` what is wrong with them. The message
    says all of it.
    """

    def __init__(
        self,
        transform: str,
        rule: str,
        count: int,
        problem: str,
        sample: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.transform = transform
        self.rule = rule
        self.count = count
        self.problem = problem
        self.sample = [dict(row) for row in sample]
        message = f"expectation {rule} failed on {transform}: {count} {problem}"
        if self.sample:
            shown = "\n".join(f"  {_row_text(row)}" for row in self.sample)
            which = "they are" if len(self.sample) == count else f"the first {len(self.sample)}"
            message += f"; {which}:\n{shown}"
        super().__init__(message)

    def __reduce__(self) -> Any:  # the arguments are not the message: rebuild from the fields
        return (type(self), (self.transform, self.rule, self.count, self.problem, self.sample))


class InputMissing(Exception):
    """An input has no data where it is read: its folder is missing or holds no data file.

    ``url`` is the input's URL as the notebook names it, ``path`` where it was looked for
    (the URL itself on Synapse), ``problem`` what was found there. Raised when the input is
    read, so that the error names the input rather than a later line that used it.
    """

    def __init__(self, url: str, path: str, problem: str) -> None:
        self.url = url
        self.path = path
        self.problem = problem
        super().__init__(f"no data at {path}: {problem}")

    def __reduce__(self) -> Any:
        return (type(self), (self.url, self.path, self.problem))


def _row_text(row: Mapping[str, Any]) -> str:
    """A row as ``{'column': value, ...}`` with long values (images, documents) cut short."""

    def shown(value: Any) -> str:
        text = repr(value)
        return text if len(text) <= _SHOWN_VALUE_CHARS else text[: _SHOWN_VALUE_CHARS - 3] + "..."

    return "{" + ", ".join(f"{name!r}: {shown(value)}" for name, value in row.items()) + "}"


# --- paths ---------------------------------------------------------------------------------


def lake_root() -> str | None:
    """The local lake folder, or ``None`` when running on Synapse."""
    return os.environ.get(LAKE_ROOT_VARIABLE) or None


def resolve_path(url: str) -> str:
    """Where ``url`` (``abfss://<container>@<account>.dfs.core.windows.net/<path>``) is read and written.

    On Synapse, the URL itself. Locally, :func:`local_path` under ``MLSPEC_LAKE_ROOT``.
    """
    root = lake_root()
    return url if root is None else local_path(url, root)


def local_path(url: str, root: str) -> str:
    """``<root>/<account>/<container>/<path>`` for an ADLS Gen2 URL.

    A URL that is not ADLS Gen2 or whose path contains ``..`` raises ``ValueError``.
    """
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
    local = lake_root() is not None
    if local:
        _check_local_input(url, path, format, glob)
    if format == "delta" and local:
        frame = _read_delta_locally(spark, path)
    else:
        reader = spark.read.format(_SPARK_READ_FORMATS.get(format, format))
        for key, value in (options or {}).items():
            reader = reader.option(key, _option_text(value))
        if glob:
            reader = reader.option("pathGlobFilter", glob)
        if schema_ddl and format in _SCHEMA_ON_READ:
            reader = reader.schema(schema_ddl)
        try:
            frame = reader.load(path)
        except Exception as error:
            # On Synapse the lake cannot be listed from here: Spark's own error says it.
            condition = getattr(error, "getErrorClass", lambda: None)()
            if condition in _NO_DATA_CONDITIONS:
                raise InputMissing(url, path, str(error).strip().splitlines()[0]) from error
            raise
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


def _check_local_input(url: str, path: str, format: str, glob: str | None) -> None:
    """Raise :class:`InputMissing` unless ``path`` holds data Spark (or delta-rs) would read."""
    if not os.path.exists(path):
        raise InputMissing(url, path, "the path does not exist")
    if format == "delta":
        if not _module("deltalake").DeltaTable.is_deltatable(path):
            raise InputMissing(url, path, "it is not a Delta table (no _delta_log)")
        return
    if os.path.isfile(path) or _has_data_file(path, glob):
        return
    which = f"no file matching {glob!r}" if glob else "no data file"
    raise InputMissing(url, path, f"the folder holds {which}")


def _has_data_file(folder: str, glob: str | None) -> bool:
    # Spark skips names starting with "_" or "." (_SUCCESS, .crc files, _delta_log) at any depth.
    for _, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(("_", "."))]
        for name in files:
            if not name.startswith(("_", ".")) and (glob is None or fnmatch.fnmatchcase(name, glob)):
                return True
    return False


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
    if "timestamp" in frame.schema.simpleString():
        records = [_utc_timestamps(record, frame.schema) for record in records]
    return _module("pyarrow").Table.from_pylist(records, schema=schema)


def _utc_timestamps(value: Any, kind: Any) -> Any:
    """``value`` with its TimestampType values made timezone-aware.

    PySpark hands timestamps to Python as naive datetimes in the process's local time zone,
    and pyarrow reads a naive datetime as UTC: unchanged, every timestamp would move by the
    machine's UTC offset. Timestamps without a time zone (TimestampNTZType) stay naive.
    """
    types = _module("pyspark.sql.types")
    if value is None:
        return None
    if isinstance(kind, types.TimestampType):
        # A naive datetime is read as local time. timezone.utc, not datetime.UTC (3.11+): Synapse
        # pools run older Pythons, and this file runs there too.
        return value.astimezone(datetime.timezone.utc)  # noqa: UP017
    if isinstance(kind, types.StructType):
        return {field.name: _utc_timestamps(value.get(field.name), field.dataType) for field in kind.fields}
    if isinstance(kind, types.ArrayType):
        return [_utc_timestamps(item, kind.elementType) for item in value]
    if isinstance(kind, types.MapType):
        return {
            _utc_timestamps(key, kind.keyType): _utc_timestamps(item, kind.valueType)
            for key, item in value.items()
        }
    return value


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


def _rule(kind: str, *arguments: Any) -> str:
    return f"{kind}({', '.join(str(a) for a in arguments)})"


def _bound(value: float) -> str:
    """``0`` rather than ``0.0``: bounds are shown as the spec writes them."""
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def _rows_text(count: int) -> str:
    return "row" if count == 1 else "rows"


def _fail_on_rows(frame: Any, offending: Any, transform: str, rule: str, problem: str) -> None:
    """Raise :class:`DataQualityError` if ``frame`` has rows matching the ``offending`` condition."""
    bad = frame.filter(offending)
    count = int(bad.count())
    if count:
        sample = [row.asDict(recursive=True) for row in bad.limit(SAMPLE_ROWS).collect()]
        raise DataQualityError(transform, rule, count, f"{_rows_text(count)} {problem}", sample)


def _columns(columns: str | Sequence[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)


def expect_not_null(frame: Any, columns: str | Sequence[str], transform: str) -> None:
    """Every row has a value in each of ``columns``."""
    functions = _module("pyspark.sql.functions")

    names = _columns(columns)
    nulls = [functions.sum(functions.col(name).isNull().cast("long")) for name in names]
    counts = frame.select([count.alias(str(i)) for i, count in enumerate(nulls)]).first()
    missing = [name for i, name in enumerate(names) if counts[i]]
    if missing:
        any_null = functions.lit(False)
        for name in missing:
            any_null = any_null | functions.col(name).isNull()
        problem = f"with no value in {' or '.join(missing)}"
        _fail_on_rows(frame, any_null, transform, _rule("not_null", *names), problem)


def expect_unique(frame: Any, columns: str | Sequence[str], transform: str) -> None:
    """No two rows share the same values in ``columns``."""
    functions = _module("pyspark.sql.functions")
    window = _module("pyspark.sql.window").Window

    names = _columns(columns)
    marker = "__mlspec_rows_with_key"
    counted = frame.withColumn(marker, functions.count(functions.lit(1)).over(window.partitionBy(*names)))
    duplicated = counted.filter(functions.col(marker) > 1)
    count = int(duplicated.count())
    if count:
        # Sorted by key, so the sample shows rows that clash with each other.
        rows = duplicated.orderBy(*names).drop(marker).limit(SAMPLE_ROWS).collect()
        problem = f"share their {', '.join(names)} with another row"
        sample = [row.asDict(recursive=True) for row in rows]
        raise DataQualityError(
            transform, _rule("unique", *names), count, f"{_rows_text(count)} {problem}", sample
        )


def expect_row_count(frame: Any, transform: str, min: int | None = None, max: int | None = None) -> None:
    """The number of rows is within ``[min, max]`` (either bound may be absent)."""
    count = int(frame.count())
    bounds = [f"{name}={value}" for name, value in (("min", min), ("max", max)) if value is not None]
    rule = _rule("row_count", *bounds)
    if min is not None and count < min:
        raise DataQualityError(transform, rule, count, f"{_rows_text(count)}, below the minimum {min}")
    if max is not None and count > max:
        raise DataQualityError(transform, rule, count, f"{_rows_text(count)}, above the maximum {max}")


def expect_accepted_values(frame: Any, column: str, values: Sequence[Any], transform: str) -> None:
    """Every non-null value of ``column`` is one of ``values``."""
    functions = _module("pyspark.sql.functions")

    outside = ~functions.col(column).isin(list(values))
    problem = f"with a {column} outside {list(values)!r}"
    _fail_on_rows(frame, outside, transform, _rule("accepted_values", column), problem)


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
    bounds = [f"{name}={_bound(v)}" for name, v in (("min", min), ("max", max)) if v is not None]
    low = "-inf" if min is None else _bound(min)
    high = "inf" if max is None else _bound(max)
    problem = f"with {column} outside [{low}, {high}]"
    _fail_on_rows(frame, outside, transform, _rule("range", column, *bounds), problem)


def expect_expression(frame: Any, expression: str, transform: str) -> None:
    """The Spark SQL boolean ``expression`` is true on every row (null counts as false)."""
    functions = _module("pyspark.sql.functions")

    holds = functions.coalesce(functions.expr(expression), functions.lit(False))
    _fail_on_rows(frame, ~holds, transform, _rule("expression", expression), "where it does not hold")
