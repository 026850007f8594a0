"""Kubernetes quantity grammar."""

from decimal import Decimal

import pytest

from mlspec.compiler.platform_checks.quantity import is_quantity, quantity_value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("1Gi", Decimal(2**30)),
        ("2", Decimal(2)),
        ("1.5", Decimal("1.5")),
        (".5", Decimal("0.5")),
        ("1e3", Decimal(1000)),
        ("128974848", Decimal(128974848)),
        ("129M", Decimal(129_000_000)),
        ("100u", Decimal("0.0001")),
        (2, Decimal(2)),
    ],
)
def test_valid_quantities_and_their_value(text: str | int, value: Decimal) -> None:
    assert is_quantity(text)
    assert quantity_value(text) == value


@pytest.mark.parametrize("text", ["500mm", "1gi", "1KB", "Gi", "1 Gi", "1e1.5", "", "0x10", True])
def test_invalid_quantities(text: object) -> None:
    assert not is_quantity(text)


def test_value_of_an_invalid_quantity_raises() -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        quantity_value("500mm")
