"""The ``mlspec`` command line: parses flags, calls :mod:`mlspec.api`, picks a reporter, sets the exit code.

Exit codes: 0 success; 1 the spec is invalid or the operation failed; 2 usage or I/O error.
Human text goes to stdout, progress and logs to stderr; ``--format json`` prints one JSON
document and nothing else on stdout.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import click

from mlspec import DISTRIBUTION
from mlspec.cli_conventions import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    color_option,
    configure_output_streams,
    env_option,
    forget_handled_interrupts,
    handle_errors,
    parse_vars,
    print_diagnostics,
    quiet_broken_pipe,
    use_color,
    var_option,
)
from mlspec.cli_output import (
    SCHEMA_VERSION,
    failure_document,
    format_option,
    json_failures,
    print_json,
    wants_json,
)
from mlspec.diagnostics import Diagnostic
from mlspec.redaction import redact

_COMMAND_MODULES = {
    **dict.fromkeys(("plan", "apply", "destroy", "force-unlock"), "mlspec.cli_state"),
    **dict.fromkeys(("state", "output"), "mlspec.cli_state_commands"),
    **dict.fromkeys(("run", "serve", "status"), "mlspec.cli_run"),
    "lock": "mlspec.cli_lock",
    "doctor": "mlspec.cli_doctor",
}
"""Commands defined in their own modules (each has a ``register(group)``), by name."""


class _Commands(click.Group):
    """The ``mlspec`` group. The commands of :data:`_COMMAND_MODULES` are imported when one of them is
    run or help lists them: ``mlspec validate`` in a pull-request check never pays for the state,
    run and serve machinery."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_COMMAND_MODULES})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _COMMAND_MODULES:
            importlib.import_module(_COMMAND_MODULES[cmd_name]).register(self)
        return self.commands.get(cmd_name)


@click.group(
    cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
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
    with _no_pydantic_plugin_scan():
        from mlspec import api
        from mlspec.spec_schema import models  # noqa: F401  # built here, under the setting
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
@format_option
@handle_errors
@json_failures
def schema(write_to: str | None) -> None:
    """Print the JSON Schema of mlproject.yaml (for editors and other validators).

    `--write` puts it where `mlspec init` points a spec's `# yaml-language-server: $schema=` line. The
    schema is a JSON document whatever `--format` says; with `--write` and `--format json` the path
    written is one.
    """
    from mlspec.spec_schema.export import published_schema_text, write_schema

    if write_to is None:
        sys.stdout.write(published_schema_text())
        return
    written = write_schema(Path(write_to))
    if wants_json():
        print_json({"version": SCHEMA_VERSION, "ok": True, "written": str(written)})
    else:
        click.echo(written)


@cli.command()
@click.argument("name")
@click.option("--template", type=click.Choice(["tabular", "images"]), default="tabular", show_default=True)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to create it (default: ./NAME).",
)
@format_option
@handle_errors
@json_failures
def init(name: str, template: str, directory: Path | None) -> None:
    """Scaffold a valid project folder NAME."""
    from mlspec.scaffold import init_project

    destination = directory or Path(name)
    created = init_project(name, destination, template)  # type: ignore[arg-type]
    following = f"mlspec validate {destination}"
    if wants_json():
        print_json(
            {
                "version": SCHEMA_VERSION,
                "ok": True,
                "project": name,
                "template": template,
                "directory": str(destination),
                "created": [str(path) for path in created],
                "next": following,
            }
        )
        return
    for path in created:
        click.echo(f"created {path}")
    click.echo(f"\nnext: {following}")


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

    written = api.build_into_folder(
        path, environment, parse_vars(variables), out_dir, platform_checks=deep_check
    )
    result, target, problems = written.result, written.out_dir, written.platform_problems
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
    if problems:
        for problem in problems:
            click.echo(
                f"{target / problem.artifact}:{problem.where}: error ({problem.checker}): {problem.message}",
                err=True,
            )
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

    sys.stdout.write(api.draw_graph(path, environment, parse_vars(variables), output_format))


@contextlib.contextmanager
def _no_pydantic_plugin_scan() -> Iterator[None]:
    """While the spec models are built: pydantic looks for plugins of its own in the metadata of every
    installed distribution (~10-20 ms of a cold `mlspec validate`) unless PYDANTIC_DISABLE_PLUGINS says
    not to. No plugin has any business with mlspec's models; the user's own setting, if any, stands,
    and the process environment is as it was afterwards (for child processes)."""
    if "PYDANTIC_DISABLE_PLUGINS" in os.environ:
        yield
        return
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
    try:
        yield
    finally:
        del os.environ["PYDANTIC_DISABLE_PLUGINS"]


def _json_requested(args: Sequence[str]) -> bool:
    """``--format json`` / ``--format=json`` / ``--json`` among the arguments (read before click could)."""
    pairs = zip(args, [*args[1:], ""], strict=True)
    return (
        "--json" in args or "--format=json" in args or any(a == "--format" and b == "json" for a, b in pairs)
    )


GC_YOUNG_THRESHOLD = 50_000
"""Allocations between collections of the youngest generation (CPython's default: 700).

A build or plan of a big project makes hundreds of thousands of small containers that live until
the command ends; with the default, each full collection walks all of them again (a third of a
second at 1,000 resources). mlspec's data has no reference cycles to speak of, so collecting less
often costs no memory; cycles are still collected.
"""


def main(argv: Sequence[str] | None = None) -> None:
    args = list(argv) if argv is not None else sys.argv[1:]
    configure_output_streams()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
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
            print_json(failure_document([Diagnostic.error("MLS000", redact(error.format_message()))]))
        click.UsageError(redact(error.format_message()), error.ctx).show()
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
    finally:  # an interrupt handled above (run, serve, apply) exits with its code, not by SIGINT
        forget_handled_interrupts()


__all__ = ["cli", "main"]
