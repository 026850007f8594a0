"""Power Query (M) for the semantic model's partitions: each table read from its lake folder.

Spec values enter M only as string literals (:func:`string`): ``"`` doubled, ``#(`` escaped as
``#(#)(`` and every control character written as an ``#(XXXX)`` escape, so a value can neither end
the literal nor add a line to the expression.

Reading by format (the lake endpoint of each storage account is a model parameter, see
``expressions.tmdl``):

- delta: ``DeltaLake.Table(AzureStorage.DataLake(<folder>))``
- parquet / csv / json: the folder's data files combined (``Parquet.Document``, ``Csv.Document`` with
  promoted headers when the source says ``header: true``, JSON lines through ``Json.Document``)
- text: one row per line, column ``value`` (what Spark's text reader gives)
- binary: one row per file, columns ``path``, ``modificationTime``, ``length``
- the served predictions log: JSON lines as the scoring server writes them
  (``{time, endpoint, model, inputs: [...], predictions: [...]}``), one row per scored input

Every query ends by selecting the model's columns (missing ones as nulls) and setting their types,
so the model's column list is the contract, not whatever the folder happens to hold.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from mlspec.spec_schema.checks.formats import ABFSS

M_TYPES = {
    "string": "type text",
    "int64": "Int64.Type",
    "double": "type number",
    "boolean": "type logical",
    "dateTime": "type datetime",
    "binary": "type binary",
}


def string(value: str) -> str:
    """``value`` as an M text literal."""
    out: list[str] = []
    for char in value:
        if char == '"':
            out.append('""')
        elif char == "#":
            out.append("#(#)")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(f"#({ord(char):04X})" if ord(char) <= 0xFFFF else f"#({ord(char):08X})")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def identifier(name: str) -> str:
    """A quoted M identifier ``#"..."``."""
    return "#" + string(name)


def lake_parameter(account: str) -> str:
    """The model parameter holding ``https://<account>.dfs.core.windows.net``."""
    return f"LakeEndpoint_{''.join(c if c.isalnum() else '_' for c in account)}"


def endpoint(account: str) -> str:
    return f"https://{account}.dfs.core.windows.net"


def parameter_expression(account: str) -> str:
    meta = '[IsParameterQuery = true, Type = "Text", IsParameterQueryRequired = true]'
    return f"{string(endpoint(account))} meta {meta}"


def split_url(url: str) -> tuple[str, str]:
    """``(account, "/container/path/")`` of an abfss:// URL (validated by the spec checks)."""
    match = ABFSS.fullmatch(url)
    if match is None:
        raise ValueError(f"not an ADLS Gen2 URL: {url!r}")
    path = match["path"] or "/"
    return match["account"], f"/{match['container']}{path}"


def _folder(url: str) -> str:
    account, path = split_url(url)
    return f"{identifier(lake_parameter(account))} & {string(path)}"


def _files(url: str, suffix: str | None) -> list[str]:
    step = [f"    Source = AzureStorage.DataLake({_folder(url)}, [HierarchicalNavigation = false]),"]
    if suffix is None:
        step.append(
            '    Files = Table.SelectRows(Source, each not Text.StartsWith([Name], "_") '
            'and not Text.EndsWith([Name], ".crc")),'
        )
    else:
        step.append(
            "    Files = Table.SelectRows(Source, each "
            f"Text.EndsWith(Text.Lower([Name]), {string(suffix.lower())})),"
        )
    return step


def _json_lines(content: str) -> str:
    lines = f'List.Select(Lines.FromBinary({content}, null, null, 65001), each Text.Trim(_) <> "")'
    return f"List.Transform({lines}, Json.Document)"


def _finish(steps: list[str], last: str, columns: Sequence[tuple[str, str]]) -> str:
    if columns:
        names = "{" + ", ".join(string(c) for c, _ in columns) + "}"
        steps.append(f"    Selected = Table.SelectColumns({last}, {names}, MissingField.UseNull),")
        types = ", ".join("{" + f"{string(c)}, {M_TYPES[t]}" + "}" for c, t in columns)
        steps.append(f"    Typed = Table.TransformColumnTypes(Selected, {{{types}}})")
        last = "Typed"
    else:
        steps[-1] = steps[-1].rstrip(",")
    return "\n".join(["let", *steps, "in", f"    {last}"])


def table_query(
    url: str,
    data_format: str,
    columns: Sequence[tuple[str, str]],
    *,
    header: bool = False,
    suffix: str | None = None,
    partitions: Sequence[str] = (),
) -> str:
    """The partition query of a source or transform output in ``data_format``.

    ``partitions`` are the columns a partitioned write (``partition_by``) keeps in the folder names,
    ``<column>=<value>``, instead of the files: each file's rows get them from its folder path
    (Spark's ``__HIVE_DEFAULT_PARTITION__`` is null). A Delta table reports them itself.
    """
    if data_format == "delta":
        steps = [f"    Data = DeltaLake.Table(AzureStorage.DataLake({_folder(url)})),"]
        return _finish(steps, "Data", columns)
    readers = {
        "parquet": ".parquet",
        "csv": ".csv",
        "json": ".json",
    }
    if data_format in readers:
        read = _file_reader(data_format, columns, header)
        steps = _files(url, suffix or readers[data_format])
        if partitions:
            steps += [*_partition_function(), f"    Data = {_partitioned_rows(read, partitions)},"]
        elif data_format == "json":  # one table from every file's records
            names = "{" + ", ".join(string(c) for c, _ in columns) + "}"
            records = f"List.Combine(List.Transform(Files[Content], each {_json_lines('_')}))"
            fields = f", {names}, MissingField.UseNull" if columns else ""
            steps.append(f"    Data = Table.FromRecords({records}{fields}),")
        else:
            each_file = read.replace(_CONTENT, "_")
            steps.append(f"    Data = Table.Combine(List.Transform(Files[Content], each {each_file})),")
    elif data_format == "text":
        lines = "List.Combine(List.Transform(Files[Content], each Lines.FromBinary(_, null, null, 65001)))"
        steps = [*_files(url, suffix), f'    Data = Table.FromColumns({{{lines}}}, {{"value"}}),']
    elif data_format == "binary":
        steps = [
            *_files(url, suffix),
            "    Data = Table.FromRecords(Table.TransformRows(Files, each [path = [Folder Path] & [Name], "
            "modificationTime = [Date modified], length = Binary.Length([Content])])),",
        ]
    else:
        raise ValueError(f"no Power BI reader for format {data_format!r}")
    return _finish(steps, "Data", columns)


_CONTENT = "\x00"
"""Stands for a file's content in a reader expression (no spec value can hold it: :func:`string` escapes it)."""


def _file_reader(data_format: str, columns: Sequence[tuple[str, str]], header: bool) -> str:
    """The M expression reading one file's content, :data:`_CONTENT` standing for the content."""
    if data_format == "parquet":
        return f"Parquet.Document({_CONTENT})"
    if data_format == "csv":
        read = f'Csv.Document({_CONTENT}, [Delimiter = ",", Encoding = 65001, QuoteStyle = QuoteStyle.Csv])'
        return f"Table.PromoteHeaders({read}, [PromoteAllScalars = true])" if header else read
    names = "{" + ", ".join(string(c) for c, _ in columns) + "}"
    fields = f", {names}, MissingField.UseNull" if columns else ""
    return f"Table.FromRecords({_json_lines(_CONTENT)}{fields})"


def _partition_function() -> list[str]:
    """``PartitionValue(folder, column)``: the value of the last ``column=value`` segment of a path."""
    return [
        "    PartitionValue = (folder as text, column as text) as nullable text =>",
        "        let",
        '            Segment = List.Last(List.Select(Text.Split(folder, "/"), '
        '(s) => Text.StartsWith(s, column & "="))),',
        "            Value = if Segment = null then null else Text.Middle(Segment, Text.Length(column) + 1)",
        "        in",
        '            if Value = "__HIVE_DEFAULT_PARTITION__" then null else Value,',
    ]


def _partitioned_rows(read: str, partitions: Sequence[str]) -> str:
    """Every file read, its partition columns (if a file holds them too) replaced by its folder's values."""
    names = "{" + ", ".join(string(p) for p in partitions) + "}"
    rows = f"Table.RemoveColumns({read.replace(_CONTENT, 'file[Content]')}, {names}, MissingField.Ignore)"
    for column in partitions:
        rows = f"Table.AddColumn({rows}, {string(column)}, each PartitionValue(file[Folder Path], {string(column)}))"
    return f"Table.Combine(Table.TransformRows(Files, (file) => {rows}))"


def predictions_query(url: str, columns: Sequence[tuple[str, str]], inputs: Sequence[str]) -> str:
    """The served predictions log: one row per scored input, its fields (from the input, else from the
    record) and the prediction.

    The scoring server writes ``time`` as ISO 8601 with its UTC offset (``2024-06-03T10:15:00.123+00:00``):
    it is read as a date-time with a zone and stored as UTC (the model has no zoned type), not converted
    as local text. The files are listed recursively, so a log kept in dated sub-folders reads the same.
    """
    fields = " ".join(
        f"{identifier(f)} = Record.FieldOrDefault(r[inputs]{{i}}, {string(f)}, "
        f"Record.FieldOrDefault(r, {string(f)}, null)),"
        for f in inputs
    )
    row = (
        f"[time = UtcTime(r[time]), endpoint = r[endpoint], model = r[model], {fields} "
        "prediction = r[predictions]{i}]"
    ).replace(",  ", ", ")
    steps = [
        *_files(url, ".jsonl"),
        "    UtcTime = (value as nullable text) as nullable datetime =>",
        "        if value = null then null else DateTimeZone.RemoveZone(DateTimeZone.ToUtc(DateTimeZone.FromText(value))),",
        f"    Records = List.Combine(List.Transform(Files[Content], each {_json_lines('_')})),",
        "    Rows = List.Combine(List.Transform(Records, (r) => "
        f"List.Transform(List.Positions(r[inputs]), (i) => {row}))),",
        "    Data = Table.FromRecords(Rows, null, MissingField.UseNull),",
    ]
    return _finish(steps, "Data", columns)
