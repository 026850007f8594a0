"""ARM template expressions built from data: spec values only ever appear as quoted literals.

A JSON string ARM reads is an expression when it starts with ``[`` (and ends with ``]``); a literal
that happens to start with ``[`` must be written ``[[``. Inside an expression a string literal is
single-quoted with ``'`` doubled.
"""

from __future__ import annotations


def literal(value: str) -> str:
    """``value`` as a JSON string ARM keeps as it is (free text that could start with ``[``)."""
    return "[" + value if value.startswith("[") else value


def quote(value: str) -> str:
    """``value`` as a string literal inside an ARM expression."""
    return "'" + value.replace("'", "''") + "'"


def expression(body: str) -> str:
    """``[body]``: a JSON string ARM evaluates."""
    return f"[{body}]"


def resource_id(resource_type: str, *names: str) -> str:
    """``resourceId('<type>', '<name>', ...)`` (without brackets) for a resource in the deployment's group."""
    return f"resourceId({', '.join(quote(part) for part in (resource_type, *names))})"
