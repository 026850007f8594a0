"""ARM template expressions: ``"[parameters('x')]"`` stands for a value the deployment computes."""

from __future__ import annotations

import re

_FUNCTION_CALL = re.compile(r"\b(?P<kind>parameters|variables)\(\s*'(?P<name>[^']+)'\s*\)")


def is_arm_expression(value: object) -> bool:
    """Whether ARM evaluates ``value`` (``"[...]"``; a leading ``[[`` escapes a literal bracket)."""
    return (
        isinstance(value, str)
        and value.startswith("[")
        and value.endswith("]")
        and not value.startswith("[[")
    )


def references(expression: str) -> list[tuple[str, str]]:
    """``("parameters", "x")`` and ``("variables", "y")`` for each lookup in an expression."""
    return [(m.group("kind"), m.group("name")) for m in _FUNCTION_CALL.finditer(expression)]
