"""Notebook cells from the jinja2 templates in ``mlspec/templates/synapse/``.

Templates run with ``StrictUndefined`` (a missing value is an error, not an empty string) and a
``finalize`` that refuses to print anything but :class:`~mlspec.compiler.synapse.literals.Code`:
every value must go through ``|py`` (a Python literal), ``|identifier`` (a checked Python name)
or ``|md`` (a markdown code span), so a spec value can never be pasted into a cell raw.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from mlspec.compiler.synapse.literals import Code, markdown_code, python_identifier, python_literal
from mlspec.templates.engine import code_environment

TEMPLATE_PACKAGE = ("mlspec", "templates/synapse")


class TemplateValueError(TypeError):
    """A template printed a value without ``|py`` or ``|md`` (a bug in the template)."""


def _printable(value: object) -> Code:
    if isinstance(value, Code):
        return value
    raise TemplateValueError(f"a cell template printed {value!r} without |py or |md")


@cache
def _environment() -> jinja2.Environment:
    environment = code_environment(
        jinja2.PackageLoader(*TEMPLATE_PACKAGE),
        finalize=_printable,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    environment.filters["py"] = python_literal
    environment.filters["identifier"] = python_identifier
    environment.filters["md"] = markdown_code
    return environment


@cache
def _template(name: str) -> jinja2.Template:
    template = _environment().get_template(name)
    # jinja keeps a template's globals as a ChainMap over the environment's, and copies it into a
    # dict on every render: for thousands of cells that copy was a fifth of the rendering. The
    # environment's globals never change once made, so one flat copy serves every render.
    template.globals = dict(template.globals)
    return template


def render_template(name: str, **values: Any) -> str:
    """The text of template ``name`` (e.g. ``inputs.py.j2``) rendered with ``values``."""
    return _template(name).render(**values)


def source_lines(text: str) -> list[str]:
    """A cell's ``source`` as Synapse and nbformat store it: lines keeping ``\\n``, except the last.

    Lines are split on ``\\n`` only (``str.splitlines`` would also split inside a string literal
    on characters such as U+2028), and trailing blank lines are dropped.
    """
    lines = text.rstrip("\n").split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def code_cell(text: str, *, tags: list[str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"tags": list(tags)} if tags else {}
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": metadata,
        "outputs": [],
        "source": source_lines(text),
    }


def markdown_cell(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": source_lines(text)}


def cell_text(cell: dict[str, Any]) -> str:
    """A cell's source as one string."""
    source = cell.get("source", [])
    return "".join(source) if isinstance(source, list) else str(source)
