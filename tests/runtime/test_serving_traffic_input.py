"""Traffic files read with errors a person can act on, and traffic checked against the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pd = pytest.importorskip("pandas", reason="traffic files are read with pandas")
pytest.importorskip("pyarrow", reason="Parquet traffic is read with pyarrow")

from mlspec.runtime.serving.traffic import check_traffic as check_traffic_from_traffic  # noqa: E402
from mlspec.runtime.serving.traffic_input import check_traffic, read_traffic  # noqa: E402


def _file(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _read_error(path: Path) -> str:
    with pytest.raises(ValueError) as raised:
        read_traffic(path)
    return str(raised.value)


def _check_error(frame: Any, features: list[str], target: str | None = None, **options: Any) -> str:
    with pytest.raises(ValueError) as raised:
        check_traffic(frame, features, target, **options)
    return str(raised.value)


# --- reading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["header.csv", "header.parquet"])
def test_a_file_with_a_header_and_no_rows_has_no_rows(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".csv"):
        path.write_text("months,spend\n", encoding="utf-8")
    else:
        pd.DataFrame({"months": pd.Series([], dtype="int64")}).to_parquet(path)
    assert _read_error(path) == f"{path} has no rows"


@pytest.mark.parametrize(
    ("name", "text"), [("t.jsonl", ""), ("t.jsonl", "\n  \n"), ("t.csv", ""), ("t.json", "\n")]
)
def test_an_empty_file_is_empty(tmp_path: Path, name: str, text: str) -> None:
    path = _file(tmp_path, name, text)
    assert _read_error(path) == f"{path} is empty"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}\n{"a":\n', "line 2 is not valid JSON: Expecting value (column 6)"),
        ('{"a": 1}\n\n  {"a": 2,, "b": 1}\n', "line 3 is not valid JSON: Expecting property name"),
        ('{"a": 1}\n7\n', "line 2 is a number, not a JSON object of column values"),
        ('{"a": 1}\n["x"]\n', "line 2 is a JSON array: traffic must be JSON lines, one object per line"),
        ('[{"a": 1},\n{"a": 2}]\n', "line 1 starts a JSON array: traffic must be JSON lines"),
        ('{"a": 1}\nnull\n', "line 2 is null, not a JSON object"),
    ],
)
def test_a_malformed_json_line_is_named_with_what_is_wrong(tmp_path: Path, text: str, expected: str) -> None:
    path = _file(tmp_path, "traffic.jsonl", text)
    message = _read_error(path)
    assert message.startswith(f"{path}: {expected}"), message


def test_json_lines_keep_their_values_and_skip_blank_lines(tmp_path: Path) -> None:
    text = '\ufeff{"n": 1, "x": 1.0, "when_date": "2026-01-02"}\n\n{"n": 2, "t": "b"}\n'
    frame = read_traffic(_file(tmp_path, "traffic.ndjson", text))
    assert list(frame.columns) == ["n", "x", "when_date", "t"]
    assert frame["n"].tolist() == [1, 2] and frame["x"].tolist()[0] == 1.0
    assert frame["when_date"].tolist()[0] == "2026-01-02", "no guessing of dates"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a,b\n1,2\n3,4,5\n", "is not valid CSV: line 3 has 3 fields where the header has 2"),
        ('a,b\n1,2\n3,4\n5,"x\n6,7\n', "is not valid CSV: line 4 opens a quoted field that is never closed"),
    ],
)
def test_a_csv_pandas_cannot_parse_names_the_line(tmp_path: Path, text: str, expected: str) -> None:
    path = _file(tmp_path, "traffic.csv", text)
    assert _read_error(path) == f"{path} {expected}"


@pytest.mark.parametrize("name", ["traffic.csv", "traffic.jsonl"])
def test_text_that_is_not_utf8_names_its_line(tmp_path: Path, name: str) -> None:
    good_lines = [b'{"a": 1}'] if name.endswith(".jsonl") else [b"a", b"1"]
    path = _file(tmp_path, name, b"\n".join([*good_lines, b'{"a": "\xff\xfe"}', b""]))
    message = _read_error(path)
    assert message == f"{path}: line {len(good_lines) + 1} is not UTF-8 text"


def test_a_folder_without_parquet_files_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "traffic"
    folder.mkdir()
    (folder / "_SUCCESS").write_text("", encoding="utf-8")
    assert _read_error(folder) == f"{folder} is a folder without Parquet files"
    (folder / "part-0.csv").write_text("a\n1\n", encoding="utf-8")
    assert _read_error(folder) == f"{folder} holds part-0.csv, which is not a Parquet file"


def test_a_file_that_is_not_parquet_and_a_missing_file_are_named(tmp_path: Path) -> None:
    path = _file(tmp_path, "traffic.parquet", "months,spend\n1,2\n")
    assert _read_error(path) == f"{path} is not a Parquet file"
    assert _read_error(tmp_path / "gone.csv") == f"{tmp_path / 'gone.csv'} does not exist"


def test_a_partitioned_parquet_folder_is_read_whole(tmp_path: Path) -> None:
    for part in ("1", "2"):
        (tmp_path / "traffic" / f"region={part}").mkdir(parents=True)
        pd.DataFrame({"months": [int(part)]}).to_parquet(
            tmp_path / "traffic" / f"region={part}" / "p.parquet"
        )
    assert sorted(read_traffic(tmp_path / "traffic")["months"].tolist()) == [1, 2]


# --- checking --------------------------------------------------------------------------------


def test_the_check_is_importable_where_replay_lives() -> None:
    assert check_traffic_from_traffic is check_traffic


def test_missing_feature_columns_are_named_with_the_columns_there_are() -> None:
    frame = pd.DataFrame({"months": [1], "spend": [2.0]})
    message = _check_error(frame, ["months", "plan", "region"])
    assert message == "the traffic has no column(s) 'plan', 'region' (its columns: months, spend)"


def test_target_values_the_model_never_saw_are_listed_with_its_classes() -> None:
    frame = pd.DataFrame({"months": [1, 2, 3, 4], "churned": ["yes", "no", "yes", None]})
    message = _check_error(frame, ["months"], "churned", classes=[0, 1])
    assert message == "target churned has values 'yes', 'no' that the model never saw (its classes: 0, 1)"


def test_known_classes_pass_whatever_numeric_type_carries_them() -> None:
    import numpy as np

    frame = pd.DataFrame({"months": [1, 2, 3], "churned": [1.0, 0.0, float("nan")]})
    check_traffic(frame, ["months"], "churned", classes=np.array([0, 1]))
    check_traffic(frame, ["months"], "no-target-column", classes=[0, 1])
    check_traffic(frame, ["months"], "churned")  # a regression model: no classes, no check
    message = _check_error(frame.assign(churned=["1", "0", "2"]), ["months"], "churned", classes=[0, 1])
    assert message.startswith("target churned has values '1', '0', '2' that")


def test_many_unseen_classes_are_cut_short() -> None:
    frame = pd.DataFrame({"f": range(9), "label": [f"c{i}" for i in range(9)]})
    message = _check_error(frame, ["f"], "label", classes=["a", "b"])
    assert (
        "'c0', 'c1', 'c2', 'c3', 'c4' and 4 more that the model never saw (its classes: 'a', 'b')" in message
    )


def test_a_non_numeric_value_names_the_column_and_the_first_bad_row(tmp_path: Path) -> None:
    path = _file(tmp_path, "traffic.csv", "months,spend\n1,2.5\n2,n/a?\n3,lots\n")
    message = _check_error(read_traffic(path), ["months", "spend"], numeric_features=["months", "spend"])
    assert message == "numeric feature spend: row 2 has 'n/a?', which is not a number"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("t.csv", "a,b\n1,2\n2,1e400\n", "row 2 has '1e400', which is too large for float64"),
        ("t.jsonl", '{"a": 1, "b": 2}\n{"a": 2, "b": 1e400}\n', "row 2 has '1e400', which is too large"),
        (
            "t.csv",
            "a,b\n1,2\n2,123456789012345678901234567890\n",
            "row 2 has '123456789012345678901234567890', which does not fit in int64",
        ),
        (
            "t.jsonl",
            '{"a": 1, "b": 2}\n{"a": 2, "b": -123456789012345678901234567890}\n',
            "row 2 has -123456789012345678901234567890, which does not fit in int64",
        ),
        ("t.csv", "a,b\n1,2\n2,18446744073709551615\n", "row 2 has 18446744073709551615, which does not fit"),
        ("t.csv", "a,b\n1,2\n2,inf\n", "row 2 has inf, which is not a finite number"),
    ],
)
def test_values_too_large_for_float64_or_int64_name_the_column_and_row(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    frame = read_traffic(_file(tmp_path, name, text))
    message = _check_error(frame, ["a", "b"], numeric_features=["a", "b"])
    assert message.startswith(f"numeric feature b: {expected}"), message


def test_every_problem_is_reported_at_once_and_good_traffic_passes() -> None:
    frame = pd.DataFrame(
        {"months": ["1", "x"], "spend": [1.5, None], "tier": ["a", "b"], "y": ["no", "maybe"]}
    )
    message = _check_error(
        frame, ["months", "spend", "tier"], "y", classes=["no", "yes"], numeric_features=["months", "spend"]
    )
    assert message == (
        "numeric feature months: row 2 has 'x', which is not a number; "
        "target y has the value 'maybe' that the model never saw (its classes: 'no', 'yes')"
    )
    good = frame.assign(months=[1, 2], y=["no", "yes"])
    check_traffic(
        good, ["months", "spend", "tier"], "y", classes=["no", "yes"], numeric_features=["months", "spend"]
    )


def test_traffic_without_rows_is_refused() -> None:
    assert _check_error(pd.DataFrame({"a": []}), ["a"]) == "the traffic has no rows"


def test_an_empty_value_where_the_model_takes_whole_numbers_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("months,spend\n3,1.5\n,2.5\n4,\n")
    frame = read_traffic(tmp_path / "t.csv")
    message = _check_error(
        frame, ["months", "spend"], numeric_features=["months", "spend"], whole_number_features=["months"]
    )
    assert message == (
        "column 'months' has 1 empty value(s), the first in row 2: "
        "the model was trained on whole numbers there, which cannot be missing"
    )
    # An empty float is the model's to handle (an imputer may fill it): not refused here.
    check_traffic(
        frame.dropna(subset=["months"]), ["months", "spend"], None, whole_number_features=["months"]
    )


def test_the_first_error_is_the_servers_message_cut_at_a_word() -> None:
    from mlspec.runtime.serving.traffic import _error_text

    class Answer:
        def __init__(self, text: str) -> None:
            self.text = text

        def json(self) -> Any:
            return json.loads(self.text)

    long = "word " * 200
    assert _error_text(Answer(json.dumps({"error": long, "request_id": "r"}))).endswith("word ...")
    assert _error_text(Answer("plain failure")) == "plain failure"
