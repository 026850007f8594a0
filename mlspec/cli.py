"""The ``mlspec`` command line: parses flags, calls :mod:`mlspec.api`, picks a reporter, sets the exit code.

Exit codes: 0 success; 1 the spec is invalid or the operation failed; 2 usage or I/O error.
Human text goes to stdout, progress and logs to stderr; ``--format json`` prints one JSON
document and nothing else on stdout.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from mlspec.cli_output import failure_document, format_option, json_failures, print_json, wants_json
from mlspec.diagnostics import Diagnostic, MlspecError, sort_key
from mlspec.redaction import printable, redact

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
# A path that does not exist / cannot be read; a build folder refused (MLS602) or not writable (MLS603);
# a `plan --out` file refused (MLS840) or not writable (MLS841).
_USAGE_CODES = frozenset({"MLS000", "MLS602", "MLS603", "MLS604", "MLS840", "MLS841"})
DISTRIBUTION = "mlspec-azure"  # the name pip installs this project by (`mlspec` on PyPI is another project)

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
    if error.diagnostics and all(d.code in _USAGE_CODES for d in error.diagnostics):
        return EXIT_USAGE
    return EXIT_INVALID


def quiet_broken_pipe() -> None:
    """The reader went away (``mlspec state list | head -1``): stop without a word, as cat and git do.

    Python would otherwise complain about the unflushed stdout once more at exit; point it at devnull.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_INVALID)


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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name=DISTRIBUTION, message="mlspec %(version)s")
def cli() -> None:
    """mlspec: one mlproject.yaml → a working Azure machine-learning system."""


@cli.command()
@click.argument("paths", nargs=-1, metavar="[PATHS]...")
@click.option(
    "-e",
    "--env",
    "environment",
    metavar="NAME",
    help="Check only this environment (default: every declared one, and local).",
)
@click.option(
    "--all-envs", is_flag=True, hidden=True, help="Every environment (the default; kept for old scripts)."
)
@var_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github", "sarif"]),
    default="text",
    show_default=True,
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print only problems.")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also say, on stderr, which files and environments were checked and how long it took.",
)
@color_option
@handle_errors
def validate(
    paths: tuple[str, ...],
    environment: str | None,
    all_envs: bool,
    variables: tuple[str, ...],
    output_format: str,
    strict: bool,
    quiet: bool,
    verbose: bool,
    no_color: bool,
) -> None:
    """Check specs: schema, references, naming, security policy.

    PATHS are spec files, folders (searched for mlproject.yaml) or globs; default: the current folder.
    """
    from mlspec import api
    from mlspec.reporters import reporter_for

    if environment and all_envs:
        raise click.UsageError("--env and --all-envs are exclusive")
    started = time.perf_counter()
    report = api.validate(
        paths or (".",),
        [environment] if environment else None,
        all_environments=all_envs,
        variables=parse_vars(variables),
        strict=strict,
    )
    if verbose:
        for checked in report.files:
            environments = ", ".join(checked.environments) or "-"
            click.echo(
                redact(f"checked {checked.file} [{environments}]: {len(checked.diagnostics)} finding(s)"),
                err=True,
            )
        click.echo(f"{len(report.files)} file(s) in {time.perf_counter() - started:.3f} s", err=True)
    if quiet and output_format == "text" and report.ok and not report.warning_count:
        sys.exit(EXIT_OK)
    reporter_for(output_format)(report, sys.stdout, use_color(no_color))
    sys.exit(EXIT_USAGE if report.usage_error else EXIT_OK if report.ok else EXIT_INVALID)


@cli.command()
@click.option(
    "--write",
    "write_to",
    is_flag=False,
    flag_value=".mlspec/schema",
    default=None,
    metavar="[DIR]",
    help="Write it to DIR (or a .json file path) instead, default .mlspec/schema/, and print the path.",
)
@handle_errors
def schema(write_to: str | None) -> None:
    """Print the JSON Schema of mlproject.yaml (for editors and other validators).

    `--write` puts it where `mlspec init` points a spec's `# yaml-language-server: $schema=` line.
    """
    from mlspec.spec_schema.export import published_schema_text, write_schema

    if write_to is None:
        sys.stdout.write(published_schema_text())
    else:
        click.echo(write_schema(Path(write_to)))


@cli.command()
@click.argument("name")
@click.option("--template", type=click.Choice(["tabular", "images"]), default="tabular", show_default=True)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to create it (default: ./NAME).",
)
@handle_errors
def init(name: str, template: str, directory: Path | None) -> None:
    """Scaffold a valid project folder NAME."""
    from mlspec.scaffold import init_project

    destination = directory or Path(name)
    created = init_project(name, destination, template)  # type: ignore[arg-type]
    for path in created:
        click.echo(f"created {path}")
    click.echo(f"\nnext: mlspec validate {destination}")


@cli.command()
@click.argument("path", default="mlproject.yaml", metavar="[PATH]")
@env_option
@var_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: build/<env>/ beside the spec).",
)
@click.option(
    "--check",
    "deep_check",
    is_flag=True,
    help="Also check every artifact with the Azure SDKs' own offline validators (slower).",
)
@click.option("-q", "--quiet", is_flag=True)
@format_option
@color_option
@handle_errors
@json_failures
def build(
    path: str,
    environment: str | None,
    variables: tuple[str, ...],
    out_dir: Path | None,
    deep_check: bool,
    quiet: bool,
    no_color: bool,
) -> None:
    """Render every Azure artifact and manifest.json for one environment."""
    from mlspec import api
    from mlspec.reporters.json_report import diagnostic_json

    if deep_check:
        _require_checkers()
    result = api.build(path, environment, parse_vars(variables))
    target = out_dir or api.default_build_dir(path, result.manifest.environment)
    from mlspec.compiler.build import write_build

    write_build(result, target)
    warnings = [d for d in result.diagnostics if not d.is_error]
    if warnings:
        print_diagnostics(warnings, color=use_color(no_color, sys.stderr))
    document = {
        "version": 1,
        "ok": True,
        "project": result.manifest.project,
        "environment": result.manifest.environment,
        "out": str(target),
        "resources": len(result.manifest.resources),
        "diagnostics": [diagnostic_json(d) for d in warnings],
    }
    if deep_check:
        from mlspec.compiler.platform_checks.build_dir import check_build_dir

        problems = check_build_dir(target)
        for problem in problems:
            click.echo(
                f"{target / problem.artifact}:{problem.where}: error ({problem.checker}): {problem.message}",
                err=True,
            )
        if problems:
            click.echo(f"{len(problems)} artifact problem(s) found by the platform checks", err=True)
            if wants_json():
                document["ok"] = False
                document["platform_problems"] = [
                    {
                        "artifact": p.artifact,
                        "where": str(p.where),
                        "checker": p.checker,
                        "message": p.message,
                    }
                    for p in problems
                ]
                print_json(document)
            sys.exit(EXIT_INVALID)
    if wants_json():
        print_json(document)
    elif not quiet:
        click.echo(
            f"built {len(result.manifest.resources)} resources for {result.manifest.project}/{result.manifest.environment} "
            f"into {target}"
        )


def _require_checkers() -> None:
    """`build --check` needs the SDKs' validators: say which extra installs them (MLS604, exit 2)."""
    from mlspec.compiler.platform_checks.build_dir import CHECKS_EXTRA, missing_checkers

    missing = missing_checkers()
    if missing:
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS604",
                    f"build --check runs the artifacts through the Azure SDKs' own validators, and "
                    f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed",
                    hint=f"pip install '{DISTRIBUTION}[{CHECKS_EXTRA}]' (or build without --check)",
                )
            ]
        )


@cli.command()
@click.argument("path", default="mlproject.yaml", metavar="[PATH]")
@env_option
@var_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["mermaid", "dot", "json"]),
    default="mermaid",
    show_default=True,
)
@handle_errors
def graph(path: str, environment: str | None, variables: tuple[str, ...], output_format: str) -> None:
    """Draw the resource graph (addresses, kinds, dependencies)."""
    from mlspec import api
    from mlspec.compiler.graph_render import render_graph

    result = api.build(path, environment, parse_vars(variables))
    sys.stdout.write(render_graph(result.manifest, output_format))


def _register_state_commands() -> None:
    """plan / apply / destroy / force-unlock (mlspec/cli_state.py), state list|show|rm|mv / output
    (mlspec/cli_state_commands.py) and run / serve / status (mlspec/cli_run.py) live in their own modules."""
    from mlspec import cli_run, cli_state, cli_state_commands

    cli_state.register(cli)
    cli_state_commands.register(cli)
    cli_run.register(cli)


_register_state_commands()


def _json_requested(args: Sequence[str]) -> bool:
    """``--format json`` / ``--format=json`` / ``--json`` among the arguments (read before click could)."""
    pairs = zip(args, [*args[1:], ""], strict=True)
    return (
        "--json" in args or "--format=json" in args or any(a == "--format" and b == "json" for a, b in pairs)
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = list(argv) if argv is not None else sys.argv[1:]
    configure_output_streams()
    try:
        cli.main(args=args, prog_name="mlspec", standalone_mode=False)
        sys.stdout.flush()  # here, not at exit: a reader gone away is then one quiet exit
    except BrokenPipeError:
        quiet_broken_pipe()
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.ctx.get_help() if error.ctx else str(error), err=True)
        sys.exit(EXIT_USAGE)
    except click.UsageError as error:
        # The message may quote a flag's value (an --env that is a pasted URL with a token).
        if _json_requested(args):  # even a mistyped flag leaves one JSON document on stdout
            print_json(failure_document([Diagnostic.error("MLS000", redact(error.message))]))
        click.UsageError(redact(error.message), error.ctx).show()
        # `plan --detailed-exitcode` reserves 2 for "changes present": any error there is 1.
        sys.exit(EXIT_INVALID if "--detailed-exitcode" in args else EXIT_USAGE)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(EXIT_INVALID)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)


__all__ = ["cli", "main"]
