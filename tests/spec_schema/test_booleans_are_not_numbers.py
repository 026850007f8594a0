"""A boolean where a number goes is refused at its value, as the editor schema refuses it: pydantic alone
would take ``threshold: true`` as 1.0 and ``severity: yes`` as 1."""

from __future__ import annotations

import pytest

from .spec_text import Validate, contract_with


@pytest.mark.parametrize(
    ("old", "new", "field", "at", "after"),
    [
        ("threshold: 250,", "threshold: true,", "threshold", "true,", "high-latency"),
        ("5m, severity: 2", "5m, severity: yes", "severity", "yes", "high-latency"),
        ("max_nodes: 4}", "max_nodes: on}", "max_nodes", "on}", "max_nodes: "),
        ("row_count: {min: 100}", "row_count: {min: false}", "min", "false}", "row_count: "),
        ("test_size: 0.2", "test_size: true", "test_size", "true,", "test_size: "),
    ],
)
def test_a_boolean_for_a_number_is_refused_at_it(
    validate: Validate, old: str, new: str, field: str, at: str, after: str
) -> None:
    text = contract_with((old, new))
    spelled = "false" if "false" in new else "true"
    validate(text).only(
        "MLS102",
        f"{field!r}: a number is expected here, not the boolean {spelled}",
        at,
        after=after,
    )


def test_numbers_and_quoted_numbers_still_validate(validate: Validate) -> None:
    """A quoted number is what ``${var.x}`` gives (variables are text): it stays the number it spells."""
    validate(
        contract_with(("max_nodes: 4}", 'max_nodes: "4"}'), ("threshold: 250,", "threshold: 250.5,"))
    ).assert_clean()
