"""Kubernetes resource quantities (``500m``, ``1Gi``, ``2``), which kubernetes-validate accepts as any string.

The grammar (k8s.io/apimachinery ``resource/quantity.go``)::

    <quantity>        ::= <signedNumber><suffix>
    <signedNumber>    ::= <number> | <sign><number>
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= m | "" | k | M | G | T | P | E      (the parser also takes n and u)
    <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>  (the parser takes integers only)
"""

from __future__ import annotations

import re
from decimal import Decimal

QUANTITY_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$"
_QUANTITY = re.compile(QUANTITY_PATTERN)

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def is_quantity(value: object) -> bool:
    """Whether the API server would parse ``value`` (a string or a JSON number) as a quantity."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and _QUANTITY.match(value) is not None


def quantity_value(value: str | int | float) -> Decimal:
    """The number a valid quantity stands for (``"500m"`` → 0.5, ``"1Ki"`` → 1024)."""
    if not isinstance(value, str):
        return Decimal(str(value))
    match = _QUANTITY.match(value)
    if match is None:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    number, suffix = match.group(1), match.group(3) or ""
    sign = Decimal(-1) if value.startswith("-") else Decimal(1)
    if suffix in _BINARY:
        return sign * Decimal(number) * _BINARY[suffix]
    if suffix[:1] in ("e", "E"):
        return sign * Decimal(number).scaleb(int(suffix[1:]))
    return sign * Decimal(number).scaleb(_DECIMAL[suffix])
