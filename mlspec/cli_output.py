"""``--format text|json`` for every command that reports, and the rule that goes with it: with json,
stdout holds exactly one JSON document, also when the command fails.

The option is not a parameter of the commands (``expose_value=False``): it is kept on the click
context, so every command reads it the same way (:func:`wants_json`) and an old ``--json`` flag is
simply its short form.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.redaction import redact

F = TypeVar("F", bound=Callable[..., Any])
_FORMAT = "mlspec.output_format"
SCHEMA_VERSION = 1


def _remember_format(ctx: click.Context, _param: click.Parameter, value: str) -> None:
    ctx.meta[_FORMAT] = value


def format_option(func: F) -> F:
    """``--format text|json`` (json: one document on stdout, also on failure)."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        expose_value=False,
        is_eager=True,
        callback=_remember_format,
        help="json: one JSON document on stdout, also on failure.",
    )(func)


def select_json(as_json: bool) -> None:
    """A command's own ``--json`` flag: the same as ``--format json`` from here on."""
    context = click.get_current_context(silent=True)
    if as_json and context is not None:
        context.meta[_FORMAT] = "json"


def wants_json(as_json: bool = False) -> bool:
    """``--format json`` (or the command's own ``--json``) was given."""
    context = click.get_current_context(silent=True)
    return as_json or (context is not None and context.meta.get(_FORMAT) == "json")


def failure_document(diagnostics: list[Diagnostic]) -> dict[str, Any]:
    from mlspec.reporters.json_report import diagnostic_json

    return {"version": SCHEMA_VERSION, "ok": False, "diagnostics": [diagnostic_json(d) for d in diagnostics]}


def print_json(document: Any) -> None:
    sys.stdout.write(redact(json.dumps(document, indent=2, ensure_ascii=False, default=str)) + "\n")


def json_failures(func: F) -> F:
    """With json output, a failure is a JSON document on stdout too; the diagnostics still go to
    stderr and set the exit code (the outer ``handle_errors`` does that). Usage errors are turned into
    the document by :func:`mlspec.cli.main`, which sees them all."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MlspecError as error:
            if wants_json(bool(kwargs.get("as_json"))):
                print_json(failure_document(error.diagnostics))
            raise
        except BrokenPipeError:
            raise
        except OSError as error:  # a folder that cannot be written: handle_errors says it on stderr
            if wants_json(bool(kwargs.get("as_json"))):
                message = f"{error.strerror or error}: {error.filename or ''}".rstrip(": ")
                print_json(failure_document([Diagnostic.error("MLS000", message)]))
            raise

    return wrapper  # type: ignore[return-value]
