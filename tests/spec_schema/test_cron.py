"""Five-field cron, UTC: what Azure ML schedules take (the SDK itself accepts nonsense)."""

from __future__ import annotations

import pytest

from mlspec.spec_schema.cron import cron_problem


@pytest.mark.parametrize(
    "expression",
    [
        "0 3 * * 1",
        "* * * * *",
        "*/15 * * * *",
        "0 0-23/2 * * *",
        "0,30 8-18 * * 1-5",
        "59 23 31 12 7",
        "0 0 1 1 0",
        "0 3 * JAN-MAR MON-FRI",
        "0 3 * jan,jul sun",
        "0 3 1-31/10 * *",
        "  0   3 * * 1  ",
    ],
)
def test_valid_cron_is_accepted(expression: str) -> None:
    assert cron_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("", "has 0 fields, cron has 5"),
        ("@daily", "has 1 fields, cron has 5"),
        ("0 3 * *", "has 4 fields, cron has 5"),
        ("0 3 * * 1 2024", "has 6 fields, cron has 5"),
        ("60 * * * *", "minute field '60': '60' is not in 0-59"),
        ("* 24 * * *", "hour field '24': '24' is not in 0-23"),
        ("* * 0 * *", "day of month field '0': '0' is not in 1-31"),
        ("* * 32 * *", "day of month field '32': '32' is not in 1-31"),
        ("* * * 0 *", "month field '0': '0' is not in 1-12"),
        ("* * * 13 *", "month field '13': '13' is not in 1-12"),
        ("* * * * 8", "day of week field '8': '8' is not in 0-7"),
        ("* * * FOO *", "month field 'FOO': 'FOO' is not in 1-12"),
        ("* * * * MON-FOO", "day of week field 'MON-FOO': 'FOO' is not in 0-7"),
        ("* * * * MONDAY", "day of week field 'MONDAY': 'MONDAY' is not in 0-7"),
        ("5-1 * * * *", "minute field '5-1': range '5-1' runs backwards"),
        ("* * * DEC-JAN *", "month field 'DEC-JAN': range 'DEC-JAN' runs backwards"),
        ("*/0 * * * *", "minute field '*/0': step '0' must be a positive number"),
        ("*/x * * * *", "minute field '*/x': step 'x' must be a positive number"),
        ("*/60 * * * *", "minute field '*/60': step 60 is larger than 59"),
        ("1,,2 * * * *", "minute field '1,,2': empty list item"),
        ("1- * * * *", "minute field '1-': '' is not in 0-59"),
        ("-1 * * * *", "minute field '-1': '' is not in 0-59"),
        ("1-5-7 * * * *", "minute field '1-5-7': '5-7' is not in 0-59"),
        ("? * * * *", "minute field '?': '?' is not in 0-59"),
        ("² * * * *", "minute field '²': '²' is not in 0-59"),
        ("٣ * * * *", "minute field '٣': '٣' is not in 0-59"),
        ("*/² * * * *", "minute field '*/²': step '²' must be a positive number"),
    ],
)
def test_invalid_cron_says_which_field_and_why(expression: str, problem: str) -> None:
    found = cron_problem(expression)
    assert found is not None
    assert problem in found


def test_number_too_long_for_int_is_invalid_not_a_crash() -> None:
    assert (
        cron_problem("9" * 5000 + " * * * *") == f"minute field {'9' * 5000!r}: {'9' * 5000!r} is not in 0-59"
    )
    assert cron_problem("*/" + "9" * 5000 + " * * * *") is not None


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 3 31 2,4 *", "never fires: no day 31 in Feb, Apr"),
        ("0 0 30 2 *", "never fires: no day 30 in Feb"),
        ("0 0 30,31 FEB *", "never fires: no day 30,31 in Feb"),
        ("0 0 31 4-6/2 *", "never fires: no day 31 in Apr, Jun"),
        ("0 3 31 2 */1", "never fires: no day 31 in Feb"),  # a day of week starting with * restricts nothing
    ],
)
def test_days_none_of_the_months_has_never_fire(expression: str, problem: str) -> None:
    assert cron_problem(expression) == problem


@pytest.mark.parametrize(
    "expression",
    [
        "0 0 29 2 *",  # every fourth year
        "0 0 31 */2 *",  # January, March, ...
        "0 0 31 FEB-APR *",  # March
        "0 0 31 4 1",  # and on Mondays: cron fires on either day
        "0 0 31 * *",
    ],
)
def test_days_some_month_has_fire(expression: str) -> None:
    assert cron_problem(expression) is None
