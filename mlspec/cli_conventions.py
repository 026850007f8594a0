"""What every ``mlspec`` command shares: the ``--env``/``--var``/``--var-file``/``--no-color`` flags, the
exit codes, and the one place library errors become diagnostics on stderr and an exit code.

``mlspec/cli.py`` and the modules of the other commands (``cli_state``, ``cli_state_commands``,
``cli_run``) all build on it, so none of them imports another one's commands.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from mlspec.diagnostics import Diagnostic, MlspecError, sort_key
from mlspec.redaction import printable, redact

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
# A path that does not exist / cannot be read; a build folder refused (MLS602) or not writable (MLS603);
# `build --check` without the SDK validators (MLS604); a `plan --out` file refused (MLS840) or not writable (MLS841).
USAGE_CODES = frozenset({"MLS000", "MLS602", "MLS603", "MLS604", "MLS840", "MLS841"})

F = TypeVar("F", bound=Callable[..., Any])


def use_color(no_color: bool, stream: Any = None) -> bool:
    """Colour only on a terminal, never with --no-color or the NO_COLOR convention."""
    stream = stream or sys.stdout
    # NO_COLOR counts only when set to a non-empty value (https://no-color.org).
    return not no_color and not os.environ.get("NO_COLOR") and hasattr(stream, "isatty") and stream.isatty()


def configure_output_streams() -> None:
    """Never crash on the terminal's encoding: what it cannot show is escaped (``\\u2026``), not fatal.

    ``PYTHONIOENCODING=ascii``, a C locale or a Windows code page would otherwise turn the first
    ``…`` in a plan into a UnicodeEncodeError.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    # azure-identity logs every failed sign-in as a dozen-line warning; mlspec says it as one diagnostic
    # (MLS816, MLS806): the command line owns its output, so the library's warning is not shown twice.
    logging.getLogger("azure.identity").setLevel(logging.ERROR)


def shown(user_text: str) -> str:
    """What the user typed (``--env``, a ``--var`` name), safe to echo: no credential, no control characters."""
    return printable(redact(user_text))


def parse_vars(values: Sequence[str]) -> dict[str, str]:
    """``--var`` values over those of every ``--var-file`` (in the order given)."""
    parsed: dict[str, str] = {}
    context = click.get_current_context(silent=True)
    for file in context.meta.get(_VAR_FILES, ()) if context is not None else ():
        parsed.update(read_var_file(file))
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            # Without "=" the whole item may be the secret value itself: never echo it as typed.
            raise click.BadParameter(f"'{shown(name)}' is not NAME=VALUE", param_hint="--var")
        parsed[name.strip()] = value
    return parsed


def print_diagnostics(diagnostics: list[Diagnostic], *, color: bool, stream: Any = None) -> None:
    from mlspec.reporters.text import format_diagnostic

    out = stream or sys.stderr
    for d in sorted(diagnostics, key=sort_key):
        out.write(format_diagnostic(d, color=color) + "\n")


def exit_code_for(error: MlspecError) -> int:
    if error.diagnostics and all(d.code in USAGE_CODES for d in error.diagnostics):
        return EXIT_USAGE
    return EXIT_INVALID


def quiet_broken_pipe() -> None:
    """The reader went away (``mlspec state list | head -1``): stop without a word, as cat and git do.

    Python would otherwise complain about the unflushed stdout once more at exit; point it at devnull.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_INVALID)


def forget_handled_interrupts() -> None:
    """Let the exit code stand after a Ctrl-C/SIGTERM that mlspec caught and handled.

    CPython (3.11, ``run_eval_code_obj``) notes a ``KeyboardInterrupt`` that leaves any ``eval`` or
    ``exec`` of a string in one process-wide flag, even when a caller catches it afterwards; under
    ``python -m`` the process then ends by SIGINT (returncode -2) instead of with its exit code.
    Libraries eval strings all the time (every ``namedtuple`` class, every ``dataclass``), so a
    signal that lands in one makes the exit code of a handled interrupt a matter of luck. Each
    such eval clears the flag as it starts, so one that succeeds leaves it clear.
    """
    eval("None")  # a constant: the point is the interpreter's bookkeeping, not the value


def handle_errors(func: F) -> F:
    """Turn library errors into diagnostics and exit codes; never a traceback for a user mistake."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MlspecError as error:
            print_diagnostics(error.diagnostics, color=use_color(kwargs.get("no_color", False), sys.stderr))
            sys.exit(exit_code_for(error))
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            quiet_broken_pipe()
        except OSError as error:
            text = f"mlspec: {error.strerror or error}: {error.filename or ''}".rstrip(": ")
            click.echo(redact(text), err=True)
            sys.exit(EXIT_USAGE)
        except Exception as error:  # a bug in mlspec, not the user's mistake: say so, briefly
            click.echo(redact(f"mlspec: internal error: {type(error).__name__}: {error}"), err=True)
            if os.environ.get("MLSPEC_DEBUG"):
                traceback.print_exc()
            else:
                click.echo("  set MLSPEC_DEBUG=1 for the traceback and please report it", err=True)
            sys.exit(EXIT_INVALID)

    return wrapper  # type: ignore[return-value]


def env_option(func: F) -> F:
    return click.option(
        "-e",
        "--env",
        "environment",
        metavar="NAME",
        help="Environment (default: the one marked default: true, else local).",
    )(func)


def var_option(func: F) -> F:
    func = click.option(
        "--var-file",
        "var_files",
        multiple=True,
        metavar="FILE",
        expose_value=False,
        callback=_remember_var_files,
        help="Variables from a YAML file of NAME: VALUE (repeatable; --var wins over it).",
    )(func)
    return click.option(
        "--var", "variables", multiple=True, metavar="NAME=VALUE", help="Set a variable (repeatable)."
    )(func)


_VAR_FILES = "mlspec.var_files"


def _remember_var_files(ctx: click.Context, _param: click.Parameter, files: tuple[str, ...]) -> None:
    """Kept on the context so that :func:`parse_vars` (every command calls it) merges them under --var."""
    ctx.meta[_VAR_FILES] = files


def read_var_file(file: str) -> dict[str, str]:
    """A ``--var-file``: a YAML mapping of variable names to scalars, read with the spec's own hardened
    loader (size cap, regular files only, duplicate keys, YAML bombs), refused at its line otherwise."""
    from mlspec.spec_schema.loader import load_spec

    if not Path(file).exists():
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS000",
                    f"--var-file {shown(file)}: no such file",
                    hint="give a YAML file of NAME: VALUE",
                )
            ]
        )
    try:
        document = load_spec(Path(file))
    except MlspecError as error:  # the loader speaks of "the spec": this is the --var-file
        raise MlspecError(
            [replace(d, message=d.message.replace("the spec", "the --var-file")) for d in error.diagnostics]
        ) from None
    values: dict[str, str] = {}
    for name, value in document.data.items():
        if isinstance(value, dict | list) or value is None:
            raise MlspecError(
                [
                    Diagnostic.error(
                        "MLS209",
                        f"variable {shown(str(name))!r} in --var-file is not a single value",
                        (name,),
                        document.locate((name,)),
                        "write NAME: VALUE, one per line (a string, number or true/false)",
                    )
                ]
            )
        values[str(name)] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return values


def color_option(func: F) -> F:
    return click.option("--no-color", is_flag=True, help="Plain output even on a terminal (also: NO_COLOR).")(
        func
    )
