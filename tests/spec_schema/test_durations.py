"""Spec durations: a whole number and m, h or d; at most a year; ISO 8601 for Azure Monitor."""

from __future__ import annotations

import pytest

from mlspec.spec_schema.durations import duration_minutes, duration_problem, iso8601


@pytest.mark.parametrize(
    ("text", "minutes", "iso"),
    [
        ("1m", 1, "PT1M"),
        ("5m", 5, "PT5M"),
        ("90m", 90, "PT90M"),
        ("60m", 60, "PT1H"),
        ("1h", 60, "PT1H"),
        ("36h", 2160, "PT36H"),
        ("24h", 1440, "P1D"),
        ("1d", 1440, "P1D"),
        ("30d", 43200, "P30D"),
        ("366d", 527040, "P366D"),
        ("007m", 7, "PT7M"),
    ],
)
def test_valid_durations(text: str, minutes: int, iso: str) -> None:
    assert duration_problem(text) is None
    assert duration_minutes(text) == minutes
    assert iso8601(text) == iso


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "not a duration"),
        ("5", "not a duration"),
        ("m", "not a duration"),
        ("5s", "not a duration"),
        ("1w", "not a duration"),
        ("5M", "not a duration"),
        ("1.5h", "not a duration"),
        ("-5m", "not a duration"),
        (" 5m", "not a duration"),
        ("5 m", "not a duration"),
        ("PT5M", "not a duration"),
        ("٣m", "not a duration"),
        ("0m", "must be longer than zero"),
        ("0d", "must be longer than zero"),
        ("367d", "must be at most a year"),
        ("8785h", "must be at most a year"),
    ],
)
def test_invalid_durations(text: str, problem: str) -> None:
    assert duration_problem(text) == problem


def test_number_too_long_for_int_is_not_a_duration() -> None:
    assert duration_problem("9" * 5000 + "m") == "not a duration"
    assert duration_problem("1" + "0" * 9 + "m") == "not a duration"  # ten digits: more than a year anyway


def test_duration_minutes_refuses_an_invalid_duration() -> None:
    with pytest.raises(ValueError, match="not a duration: '5s'"):
        duration_minutes("5s")
