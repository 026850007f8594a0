"""Kubernetes resource quantities (``500m``, ``1Gi``, ``2``) as numbers, so requests and limits compare.

Shared by the deployment check (a request above its limit is refused at the spec's line) and the AKS
renderer's own check of the rendered manifests (defence in depth).
"""

from __future__ import annotations

import re
from decimal import Decimal

# k8s.io/apimachinery resource.Quantity: a decimal number, then a binary (Ki..Ei), decimal
# (n, u, m, k, M..E) or exponent suffix.
_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))((?:[KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]+)?")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def quantity(value: object) -> Decimal | None:
    """The number a Kubernetes quantity stands for (``"500m"`` → 0.5), ``None`` if it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    match = _QUANTITY.fullmatch(str(value))
    if match is None:
        return None
    number, suffix = Decimal(match.group(1)), match.group(2) or ""
    if suffix in _BINARY:
        return number * Decimal(2 ** _BINARY[suffix])
    if suffix[:1] in ("e", "E"):
        return number.scaleb(int(suffix[1:]))
    return number.scaleb(_DECIMAL[suffix])
