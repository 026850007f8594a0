"""The Python the components run, rendered from jinja2 templates in ``mlspec/templates/azureml``.

Spec values reach the code only as Python literals (:func:`py_literal`); the template
environment refuses to print anything else, so no spec string can become code, whatever it
contains (quotes, newlines, ``{{ }}``, ``${{ }}``...).
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import jinja2

from mlspec.templates.engine import code_environment


class PyLiteral(str):
    """Python source text that evaluates to a spec value; the only thing templates may print."""


def py_literal(value: Any) -> PyLiteral:
    """A Python expression, ASCII only, that evaluates to ``value`` (JSON-like data)."""
    return PyLiteral(_literal(value))


def _literal(value: Any) -> str:
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if isinstance(value, str):
        return ascii(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(str(k))}: {_literal(v)}" for k, v in value.items()) + "}"
    return ascii(str(value))  # dates and other YAML scalars: their text


def _only_literals(value: object) -> object:
    if not isinstance(value, PyLiteral):
        raise TypeError(f"template printed a raw value {value!r}; pass it through py_literal()")
    return value


@cache
def _environment() -> jinja2.Environment:
    return code_environment(
        jinja2.PackageLoader("mlspec", "templates/azureml"),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_only_literals,
    )


def render_script(template: str, *, flags: dict[str, bool] | None = None, **values: Any) -> str:
    """Render ``template`` with every value as a Python literal; ``flags`` are booleans for its
    ``{% if %}`` blocks only (printing one is refused like any raw value)."""
    literals: dict[str, Any] = {name: py_literal(value) for name, value in values.items()}
    literals.update({name: bool(flag) for name, flag in (flags or {}).items()})
    return _environment().get_template(template).render(**literals)
