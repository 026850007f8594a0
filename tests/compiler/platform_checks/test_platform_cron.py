"""Azure ML cron expressions (five fields)."""

import pytest

from mlspec.compiler.platform_checks.cron import cron_errors


@pytest.mark.parametrize(
    "expression", ["0 3 * * 1", "*/15 * * * *", "0 3 * * MON-FRI", "0 0 1 JAN,jul *", "5-50/5 * * * *"]
)
def test_valid_expressions(expression: str) -> None:
    assert cron_errors(expression) == []


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("every monday", "has 2 fields"),
        ("0 3 * * 1 2025", "has 6 fields"),
        ("0 24 * * *", "hours field '24': '24' is outside 0-23"),
        ("0 3 * * 7", "days of week field '7': '7' is outside 0-6"),
        ("0 3 0 * *", "days field '0'"),
        ("*/0 * * * *", "a step must be at least 1"),
        ("30-10 * * * *", "'30-10' is an empty range"),
        ("0 3 * FOO *", "months field 'FOO'"),
    ],
)
def test_invalid_expressions(expression: str, message: str) -> None:
    errors = cron_errors(expression)
    assert len(errors) == 1
    assert message in errors[0]
