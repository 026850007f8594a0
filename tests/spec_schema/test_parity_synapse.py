"""Parity for the Synapse rules a spec decides (MLS610-614): validate reports what build would.

Each case edits the Synapse test project (a copy in ``tmp_path``), then checks that
``validate --all-envs`` reports the diagnostic at the line and column of the text it is about, and
that ``build`` reports it once: the check stage owns the rule
(:mod:`mlspec.spec_schema.checks.synapse`), the renderer does not emit it again.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlspec import api
from mlspec.diagnostics import Diagnostic, MlspecError

from .spec_text import describe, edit, position

LAKE = Path(__file__).resolve().parents[1] / "compiler" / "data" / "synapse" / "lake"
CODE = "transforms/summary.py"
LONG_NAME = "customer_latest_" + "x" * 44  # 60 characters: a valid transform name, too long an activity


def project(tmp_path: Path, edits: list[tuple[str, str]], code: bytes | None) -> tuple[Path, str]:
    folder = tmp_path / "lake"
    shutil.copytree(LAKE, folder)
    spec = folder / "mlproject.yaml"
    text = spec.read_text(encoding="utf-8")
    for old, new in edits:
        text = edit(text, old, new)
    spec.write_text(text, encoding="utf-8")
    if code is not None:
        (folder / CODE).write_bytes(code)
    return spec, text


def build_diagnostics(path: Path, environment: str) -> list[Diagnostic]:
    try:
        return api.build(path, environment, environ={}).diagnostics
    except MlspecError as refused:
        return refused.diagnostics


CASES = [
    pytest.param(
        [("region: string, monthly_charges", "region: Large, monthly_charges")],
        None,
        "MLS613",
        "column 'region': 'Large' is not a Spark SQL type",
        ("Large", "region: "),
        id="MLS613-not-a-spark-type",
    ),
    pytest.param(
        [("region: string, monthly_charges", "region: 'string, injected int', monthly_charges")],
        None,
        "MLS613",
        "column 'region': 'string, injected int' is not a Spark SQL type",
        ("'string, injected int'", None),
        id="MLS613-two-types-in-one",
    ),
    pytest.param(
        [("  customer_latest:\n", f"  {LONG_NAME}:\n")],
        None,
        "MLS614",
        f"pipeline activity name '{LONG_NAME}' is 60 characters; Synapse allows at most 55",
        (LONG_NAME, None),
        id="MLS614-activity-name-too-long",
    ),
    pytest.param(
        [],
        b"def transform(spark, **inputs):\n    return '\xff'\n",
        "MLS610",
        f"cannot read transform code '{CODE}': 'utf-8' codec can't decode byte 0xff",
        (CODE, None),
        id="MLS610-not-utf8",
    ),
    pytest.param(
        [],
        b"def transform(spark, **inputs)\n    return 1\n",
        "MLS611",
        f"'{CODE}' is not valid Python: line 1: expected ':'",
        (CODE, None),
        id="MLS611-not-python",
    ),
    pytest.param(
        [],
        b"def run(spark):\n    return None\n",
        "MLS612",
        f"'{CODE}' defines no top-level function transform(spark, **inputs)",
        (CODE, None),
        id="MLS612-no-transform-function",
    ),
    pytest.param(
        [],
        b"def transform(**inputs):\n    return None\n",
        "MLS612",
        f"'{CODE}': transform() takes no positional parameter, but the notebook calls transform(spark, **inputs)",
        (CODE, None),
        id="MLS612-transform-cannot-take-spark",
    ),
]


@pytest.mark.parametrize(("edits", "code", "diagnostic", "message", "at"), CASES)
def test_validate_reports_what_build_would_at_the_spec_line(
    edits: list[tuple[str, str]],
    code: bytes | None,
    diagnostic: str,
    message: str,
    at: tuple[str, str | None],
    tmp_path: Path,
) -> None:
    path, text = project(tmp_path, edits, code)
    needle, after = at
    line, column = position(text, needle, after=after)

    validated = api.validate_file(path, all_environments=True, environ={}).diagnostics
    found = [d for d in validated if d.code == diagnostic and message in d.message]
    assert len(found) == 1, describe(validated)
    assert found[0].is_error
    assert found[0].location is not None
    assert (found[0].location.file, found[0].location.line, found[0].location.column) == (
        str(path),
        line,
        column,
    ), describe(found)

    built = build_diagnostics(path, "dev")
    assert [d.message for d in built if d.code == diagnostic] == [found[0].message], describe(built)


def test_the_lake_project_is_clean(tmp_path: Path) -> None:
    path, _ = project(tmp_path, [], None)
    assert api.validate_file(path, all_environments=True, environ={}).diagnostics == []


def test_a_missing_code_file_is_reported_once_as_a_missing_file(tmp_path: Path) -> None:
    path, _ = project(tmp_path, [], None)
    (path.parent / CODE).unlink()
    validated = api.validate_file(path, environ={}).diagnostics
    assert [(d.code, d.message) for d in validated] == [("MLS413", f"file {CODE!r} does not exist")]


def test_an_unread_schema_is_not_a_notebook_schema(tmp_path: Path) -> None:
    """Only schemas a notebook passes to Spark (those of datasets a transform reads) are Spark DDL."""
    unread = (
        "  unused:\n"
        "    path: abfss://raw@${var.lake_account}.dfs.core.windows.net/unused/\n"
        "    format: csv\n"
        "    schema: {a: Large}\n"
    )
    path, _ = project(tmp_path, [("sources:\n", "sources:\n" + unread)], None)
    validated = api.validate_file(path, all_environments=True, environ={}).diagnostics
    assert [d.code for d in validated if d.code == "MLS613"] == []
