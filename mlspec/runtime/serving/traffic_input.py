"""The traffic a replay sends: a file of feature rows read into a DataFrame, and checked before serving.

:func:`read_traffic` reads CSV, Parquet (a file or a folder of them) or JSON lines and raises a
``ValueError`` that says what is wrong with the file and where (the line, the file in a folder).
:func:`check_traffic` holds the rows to what the model was trained on before the scoring server is
started, so that a traffic file the model cannot score fails with the column and the row rather
than as a batch of HTTP 400s. Messages quote at most a short cut of a value: traffic is user data.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

_READERS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
}
_PARQUET_MAGIC = b"PAR1"
_IGNORED_PREFIXES = (".", "_")
"""What pyarrow skips in a folder of Parquet files (``_SUCCESS``, ``_delta_log/``, ``.crc`` files)."""
_CSV_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_CSV_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")
_INT64 = (-(2**63), 2**63 - 1)
_LISTED = 5
"""How many values a message lists before it says how many more there are."""
_LISTED_COLUMNS = 20
_QUOTED = 40
"""How many characters of a value a message quotes."""


def read_traffic(path: Path) -> Any:
    """The rows of a traffic file as a pandas DataFrame.

    Raises ``ValueError`` for a missing file or an unknown format, a file without rows ("… is empty",
    "… has no rows"), a CSV line pandas cannot parse, a JSON line that is not a JSON object, a folder
    without Parquet files or with other files in it, and text that is not UTF-8 — each with its line.
    """
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    kind = "parquet" if path.is_dir() else _READERS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path}: traffic must be CSV, Parquet or JSON lines (.csv, .parquet, .jsonl)")
    if kind == "csv":
        frame = _read_csv(path)
    elif kind == "parquet":
        frame = _read_parquet(path)
    else:
        frame = _read_json_lines(path)
    if len(frame) == 0:
        raise ValueError(f"{path} has no rows")
    return frame


def check_traffic(
    frame: Any,
    features: Sequence[str],
    target: str | None,
    *,
    classes: Sequence[Any] | None = None,
    numeric_features: Iterable[str] | None = None,
    whole_number_features: Iterable[str] | None = None,
) -> None:
    """Raise ``ValueError`` naming every problem that would keep the model from scoring ``frame``.

    The problems: a feature column that is missing; in a column of ``numeric_features``, a value
    that is not a number or does not fit float64 / int64 (the column and the first such row, rows
    counted from 1 in the file's order); and, when ``classes`` (the labels the model was trained on)
    is given and ``frame`` has the ``target`` column, target values that are not among them.
    Missing values are a problem only in ``whole_number_features`` (columns the model's signature
    takes as int64, which has no missing value: MLflow refuses the whole request); elsewhere the
    server sends them as null and the model decides.
    """
    if len(frame) == 0:
        raise ValueError("the traffic has no rows")
    columns = [str(name) for name in frame.columns]
    missing = [name for name in features if name not in frame.columns]
    if missing:
        its = _listed(columns, quote=False, limit=_LISTED_COLUMNS)
        raise ValueError(f"the traffic has no column(s) {_listed(missing)} (its columns: {its})")
    found: list[str | None] = [
        _numeric_problem(frame[name], name)
        for name in dict.fromkeys(numeric_features or ())
        if name in frame.columns
    ]
    found += [
        _missing_problem(frame[name], name)
        for name in dict.fromkeys(whole_number_features or ())
        if name in frame.columns
    ]
    if classes is not None and target is not None and target in frame.columns:
        found.append(_unseen_classes(frame[target], target, classes))
    problems = [problem for problem in found if problem is not None]
    if problems:
        raise ValueError("; ".join(problems))


# --- reading ---------------------------------------------------------------------------------


def _read_csv(path: Path) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty") from None
    except pd.errors.ParserError as error:
        raise ValueError(f"{path} is not valid CSV: {_csv_problem(str(error))}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: line {_first_undecodable_line(path)} is not UTF-8 text") from None


def _csv_problem(message: str) -> str:
    """pandas' tokenizer message as ``line N: what is wrong`` (its "row" counts lines from 0)."""
    fields = _CSV_FIELDS.search(message)
    if fields:
        expected, line, seen = fields.groups()
        return f"line {line} has {seen} fields where the header has {expected}"
    quote = _CSV_OPEN_QUOTE.search(message)
    if quote:
        return f"line {int(quote.group(1)) + 1} opens a quoted field that is never closed"
    return message.strip().removeprefix("Error tokenizing data. C error: ")


def _first_undecodable_line(path: Path) -> int:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 1  # pandas decodes in chunks; a character cut at a chunk's end is still line 1's fault


def _read_parquet(path: Path) -> Any:
    import pandas as pd
    import pyarrow

    if path.is_dir():
        files = [
            file
            for file in sorted(path.rglob("*"))
            if file.is_file() and not _ignored_in_folder(file.relative_to(path))
        ]
        if not files:
            raise ValueError(f"{path} is a folder without Parquet files")
        for file in files:
            if not _is_parquet(file):
                raise ValueError(f"{path} holds {file.relative_to(path)}, which is not a Parquet file")
    elif not _is_parquet(path):
        raise ValueError(f"{path} is not a Parquet file")
    try:
        return pd.read_parquet(path)
    except pyarrow.ArrowException as error:
        raise ValueError(f"{path} cannot be read as Parquet: {error}") from None


def _ignored_in_folder(relative: Path) -> bool:
    return any(part.startswith(_IGNORED_PREFIXES) for part in relative.parts)


def _is_parquet(file: Path) -> bool:
    """Parquet files begin and end with ``PAR1``."""
    with file.open("rb") as content:
        head = content.read(len(_PARQUET_MAGIC))
        if content.seek(0, 2) < 2 * len(_PARQUET_MAGIC) + 4:
            return False
        content.seek(-len(_PARQUET_MAGIC), 2)
        return head == _PARQUET_MAGIC and content.read() == _PARQUET_MAGIC


def _read_json_lines(path: Path) -> Any:
    import pandas as pd

    records: list[dict[str, Any]] = []
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise ValueError(f"{path}: line {number} is not UTF-8 text") from None
            if not line.strip():
                continue
            records.append(_json_record(line, f"{path}: line {number}"))
    if not records:
        raise ValueError(f"{path} is empty")
    # Built from Python values rather than by pd.read_json, which turns "date"-like columns into
    # timestamps and whole floats into ints, and cannot say which line is broken.
    return pd.DataFrame.from_records(records)


def _json_record(line: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(line.rstrip(), parse_float=_json_float)  # columns count as in the file
    except json.JSONDecodeError as error:
        if line.lstrip().startswith("["):
            raise ValueError(
                f"{where} starts a JSON array: traffic must be JSON lines, one object per line"
            ) from None
        raise ValueError(f"{where} is not valid JSON: {error.msg} (column {error.colno})") from None
    if isinstance(record, list):
        raise ValueError(f"{where} is a JSON array: traffic must be JSON lines, one object per line")
    if not isinstance(record, dict):
        kind = {str: "a string", bool: "a boolean"}.get(type(record), "a number")
        kind = "null" if record is None else kind
        raise ValueError(f"{where} is {kind}, not a JSON object of column values")
    return record


def _json_float(text: str) -> float | str:
    """A JSON number as a float, or as its text when float64 cannot hold it (``1e400``), so that
    :func:`check_traffic` names the value rather than an infinity nobody wrote."""
    value = float(text)
    return value if math.isfinite(value) else text


# --- checking --------------------------------------------------------------------------------


def _missing_problem(column: Any, name: str) -> str | None:
    empty = column.isna().to_numpy(dtype=bool)
    if not empty.any():
        return None
    return (
        f"column {name!r} has {int(empty.sum())} empty value(s), the first in row {int(empty.argmax()) + 1}: "
        "the model was trained on whole numbers there, which cannot be missing"
    )


def _numeric_problem(column: Any, name: str) -> str | None:
    """What is wrong with the first value of ``column`` that is not a number float64/int64 holds."""
    import numpy
    from pandas.api import types

    if types.is_bool_dtype(column.dtype):
        return None
    if types.is_integer_dtype(column.dtype):
        if column.dtype.kind == "u" and column.dtype.itemsize == 8:  # CSV integers past int64's end
            beyond = (column > _INT64[1]).fillna(False).to_numpy(dtype=bool)
            if beyond.any():
                row = int(beyond.argmax())
                return _row_problem(name, row, column.iloc[row], "does not fit in int64")
        return None
    if types.is_float_dtype(column.dtype):
        infinite = numpy.isinf(column.to_numpy(dtype="float64", na_value=math.nan))
        if infinite.any():
            row = int(infinite.argmax())
            return _row_problem(name, row, column.iloc[row], "is not a finite number")
        return None
    for row, value in enumerate(column.tolist()):
        problem = _value_problem(value)
        if problem is not None:
            return _row_problem(name, row, value, problem)
    return None


def _value_problem(value: Any) -> str | None:
    """Why one value of a numeric column in an object column cannot be scored, or None."""
    if _is_missing(value):
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return None if _INT64[0] <= int(value) <= _INT64[1] else "does not fit in int64"
    if isinstance(value, numbers.Real):
        return None if math.isfinite(float(value)) else "is not a finite number"
    if not isinstance(value, str):
        return f"is {type(value).__name__}, not a number"
    text = value.strip()
    try:
        whole = int(text)
    except ValueError:
        pass
    else:
        return None if _INT64[0] <= whole <= _INT64[1] else "does not fit in int64"
    try:
        number = float(text)
    except ValueError:
        return "is not a number"
    if math.isfinite(number):
        return None
    if text.lower().lstrip("+-") in ("inf", "infinity", "nan"):
        return "is not a finite number"
    return "is too large for float64"


def _unseen_classes(column: Any, target: str, classes: Sequence[Any]) -> str | None:
    known = [_python(label) for label in classes]
    unseen: dict[str, Any] = {}
    for value in column.tolist():
        if _is_missing(value):
            continue  # an unlabelled row: it is scored, it just has no ground truth
        plain = _python(value)
        if not any(plain == label for label in known):
            unseen.setdefault(repr(plain), plain)
    if not unseen:
        return None
    values = _listed(list(unseen.values()), quote=True)
    verb = "has the value" if len(unseen) == 1 else "has values"
    return (
        f"target {target} {verb} {values} that the model never saw "
        f"(its classes: {_listed(known, quote=True, limit=len(known))})"
    )


def _row_problem(name: str, row: int, value: Any, problem: str) -> str:
    return f"numeric feature {name}: row {row + 1} has {_quoted(value)}, which {problem}"


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or a dict: an array of answers, not missing
        return False


def _python(value: Any) -> Any:
    """numpy scalars as Python ones, so that ``numpy.int64(1) == 1`` and the messages read plainly."""
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "ndim", None) == 0 else value


def _quoted(value: Any) -> str:
    text = repr(_python(value))
    return text if len(text) <= _QUOTED else text[: _QUOTED - 1] + "…"


def _listed(values: Sequence[Any], *, quote: bool = True, limit: int = _LISTED) -> str:
    shown = [_quoted(value) if quote else str(value) for value in values[:limit]]
    more = len(values) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
