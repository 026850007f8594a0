"""Parity for the Power BI rules (MLS660-667): validate reports at the spec's line what build would.

Each case edits the compiler's contract example, then checks that ``validate --all-envs`` reports
the diagnostic at the line and column of the text it is about, and that ``build`` reports it once:
the check stage owns the rule (:mod:`mlspec.spec_schema.checks.reports`), the renderer does not
emit it again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlspec import api
from mlspec.diagnostics import Diagnostic, MlspecError, Severity

from .spec_text import describe, edit, position

CONTRACT = Path(__file__).resolve().parents[1] / "compiler" / "data" / "contract" / "mlproject.yaml"
CARD = "          - {type: card, measure: churn_rate}\n"
BAR = "          - {type: bar, x: tenure_months, y: churn_rate}\n"
MEASURES = (  # a case's own measures go right below it, before the contract's churn_rate
    "    measures:                    # DAX; a visual naming an undeclared one gets a BLANK() placeholder (MLS663)\n"
)
CHURN_RATE = (
    "      churn_rate:                # churned is a boolean column: count the true rows\n"
    "        table: customer_features\n"
    "        expression: DIVIDE(COUNTROWS(FILTER(customer_features, customer_features[churned])),"
    " COUNTROWS(customer_features))\n"
    '        format: "0.0%"\n'
)


def spec_text(*edits: tuple[str, str]) -> str:
    text = CONTRACT.read_text(encoding="utf-8")
    for old, new in edits:
        text = edit(text, old, new)
    return text


def build_diagnostics(path: Path, environment: str) -> list[Diagnostic]:
    try:
        return api.build(path, environment, environ={}).diagnostics
    except MlspecError as refused:
        return refused.diagnostics


CASES = [
    pytest.param(
        [(BAR, BAR + "          - {type: bar, x: nope, y: visits}\n")],
        "MLS660",
        Severity.ERROR,
        "'nope' is not a column of 'customer_features'",
        ("nope", None),
        id="MLS660-unknown-column",
    ),
    pytest.param(
        [(MEASURES, MEASURES + "      visits: {table: customer_features, expression: '1'}\n")],
        "MLS661",
        Severity.ERROR,
        "measure 'visits' has the name of a column of table 'customer_features'",
        ("{table: customer_features, expression", None),
        id="MLS661-measure-named-like-a-column",
    ),
    pytest.param(
        [
            (
                MEASURES,
                MEASURES
                + "      Rate: {table: customer_features, expression: '1'}\n"
                + "      rate: {table: customer_features, expression: '2'}\n",
            )
        ],
        "MLS661",
        Severity.ERROR,
        "measure 'rate' is declared twice",
        ("{table: customer_features, expression: '2'}", None),
        id="MLS661-measure-declared-twice",
    ),
    pytest.param(
        [(MEASURES, MEASURES + "      \"a\\nb\": {table: customer_features, expression: '1'}\n")],
        "MLS662",
        Severity.ERROR,
        "measure name of measure 'a\\nb' cannot go into TMDL: it contains the control character U+000A",
        ("{table: customer_features, expression", None),
        id="MLS662-measure-name-with-a-line-break",
    ),
    pytest.param(
        [(MEASURES + CHURN_RATE, "")],
        "MLS663",
        Severity.WARNING,
        "'churn_rate' is neither a measure of this report nor a column of 'customer_features'; "
        "a placeholder measure (BLANK()) stands in for it",
        ("churn_rate", CARD.strip()[:12]),
        id="MLS663-placeholder-measure",
    ),
    pytest.param(
        [("  - name: churn-dashboard\n", "  - name: CON\n")],
        "MLS664",
        Severity.ERROR,
        "report name 'CON': 'CON' is a reserved device name on Windows",
        ("CON", None),
        id="MLS664-device-name",
    ),
    pytest.param(
        [("  - name: churn-dashboard\n", "  - name: 'churn dashboard '\n")],
        "MLS664",
        Severity.ERROR,
        "report name 'churn dashboard ': report names become folder names",
        ("'churn dashboard '", None),
        id="MLS664-trailing-space",
    ),
    pytest.param(
        [(MEASURES, MEASURES + "      m: {table: customer_features, expression: '1 ``` 2'}\n")],
        "MLS665",
        Severity.ERROR,
        "DAX expression of measure 'm' cannot go into TMDL: it contains ```",
        ("'1 ``` 2'", None),
        id="MLS665-verbatim-delimiter-in-dax",
    ),
    pytest.param(
        [
            (
                MEASURES,
                MEASURES + '      m: {table: customer_features, expression: "1", format: "0\\n0"}\n',
            )
        ],
        "MLS666",
        Severity.ERROR,
        "format string of measure 'm' cannot go into TMDL",
        ('"0\\n0"', None),
        id="MLS666-format-with-a-line-break",
    ),
    pytest.param(
        [(BAR, BAR + "          - {type: table, table: predictions, columns: [time, region]}\n")],
        "MLS667",
        Severity.WARNING,
        "'region' is not a known column of 'predictions'; it is declared as a text column",
        ("region", "columns: [time, "),
        id="MLS667-unknown-column-of-the-predictions-log",
    ),
]


@pytest.mark.parametrize(("edits", "code", "severity", "message", "at"), CASES)
def test_validate_reports_what_build_would_at_the_spec_line(
    edits: list[tuple[str, str]],
    code: str,
    severity: Severity,
    message: str,
    at: tuple[str, str | None],
    tmp_path: Path,
) -> None:
    text = spec_text(*edits)
    path = tmp_path / "mlproject.yaml"
    path.write_text(text, encoding="utf-8")
    needle, after = at
    line, column = position(text, needle, after=after)

    validated = api.validate_file(path, all_environments=True, environ={}).diagnostics
    found = [d for d in validated if d.code == code and message in d.message]
    assert len(found) == 1, describe(validated)
    assert found[0].severity is severity
    assert found[0].location is not None
    assert (found[0].location.file, found[0].location.line, found[0].location.column) == (
        str(path),
        line,
        column,
    ), describe(found)

    built = build_diagnostics(path, "dev")
    assert [d.message for d in built if d.code == code and message in d.message] == [found[0].message]


def test_the_placeholder_warning_names_the_measure_to_declare(tmp_path: Path) -> None:
    path = tmp_path / "mlproject.yaml"
    path.write_text(spec_text((MEASURES + CHURN_RATE, "")), encoding="utf-8")
    [warning] = [d for d in api.validate_file(path, environ={}).diagnostics if d.code == "MLS663"]
    assert warning.path == ("reports", 0, "pages", 0, "visuals", 0, "measure")
    assert warning.hint == (
        "declare it under reports['churn-dashboard'].measures: {churn_rate: {table: customer_features, expression: <DAX>}}"
    )


def test_a_declared_measure_leaves_no_warning(tmp_path: Path) -> None:
    path = tmp_path / "mlproject.yaml"
    path.write_text(spec_text(), encoding="utf-8")
    assert api.validate_file(path, all_environments=True, environ={}).diagnostics == []
    assert [d for d in build_diagnostics(path, "dev") if d.code.startswith("MLS66")] == []


def test_two_reports_with_one_folder_name(tmp_path: Path) -> None:
    text = CONTRACT.read_text(encoding="utf-8")
    report = text[text.index("  - name: churn-dashboard\n") :]
    text += report.replace("name: churn-dashboard", "name: Churn-Dashboard", 1)
    path = tmp_path / "mlproject.yaml"
    path.write_text(text, encoding="utf-8")
    [clash] = [d for d in api.validate_file(path, environ={}).diagnostics if d.code == "MLS664"]
    assert clash.path == ("reports", 1, "name")
    assert "another report has the same folder name" in clash.message
    assert [d.code for d in build_diagnostics(path, "dev")].count("MLS664") == 1


def test_a_name_the_naming_rule_refuses_is_not_reported_again_as_a_folder_name(tmp_path: Path) -> None:
    path = tmp_path / "mlproject.yaml"
    path.write_text(spec_text(("  - name: churn-dashboard\n", "  - name: ../churn\n")), encoding="utf-8")
    codes = [
        d.code for d in api.validate_file(path, environ={}).diagnostics if d.path == ("reports", 0, "name")
    ]
    assert codes == ["MLS401"]
