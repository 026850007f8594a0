"""``mlspec state list|show|rm|mv`` and ``mlspec output``: parse flags, call :mod:`mlspec.plan.state_commands`,
print (docs/plan.md "Inspecting and editing state").

Exit codes: 0 success; 1 failure (an address not in state, a held lock); 2 usage or I/O error. With
``--format json`` stdout holds one JSON document, also on failure (``{"ok": false, "diagnostics": [...]}``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from mlspec.cli_conventions import EXIT_OK, env_option, handle_errors, parse_vars, var_option
from mlspec.cli_output import format_option, json_failures, print_json, wants_json
from mlspec.diagnostics import MlspecError
from mlspec.redaction import printable, redact

F = TypeVar("F", bound=Callable[..., Any])
SPEC_FILE = "mlproject.yaml"


def _split_name_and_path(arguments: tuple[str, ...]) -> tuple[str | None, str]:
    """``[NAME] [PATH]``: a lone argument that names an existing file or folder (or a .yaml) is the PATH."""
    if len(arguments) > 2:
        raise click.UsageError("expected at most NAME and PATH")
    if len(arguments) == 2:
        return arguments[0], arguments[1]
    if len(arguments) == 1:
        only = arguments[0]
        if Path(only).exists() or only.endswith((".yaml", ".yml")):
            return None, only
        return only, SPEC_FILE
    return None, SPEC_FILE


@click.group()
def state() -> None:
    """Inspect and edit one environment's state (as `terraform state`)."""


@state.command("list")
@click.argument("path", default=SPEC_FILE, metavar="[PATH]")
@env_option
@var_option
@format_option
@handle_errors
@json_failures
def list_command(path: str, environment: str | None, variables: tuple[str, ...]) -> None:
    """Every resource address in state, one per line."""
    from mlspec.api.deploy import read_view

    view = read_view(path, environment, parse_vars(variables))
    if wants_json():
        print_json(
            {
                "version": 1,
                "ok": True,
                "state": view.where,
                "environment": view.target.environment,
                "serial": view.state.serial if view.state else 0,
                "addresses": [str(a) for a in view.addresses],
            }
        )
        return
    for address in view.addresses:
        click.echo(printable(str(address)))
    if view.state is None:
        click.echo(
            f"No state yet for {view.target.project}/{view.target.environment} ({view.where}).", err=True
        )


@state.command("show")
@click.argument("address")
@click.argument("path", default=SPEC_FILE, metavar="[PATH]")
@env_option
@var_option
@format_option
@handle_errors
@json_failures
def show_command(address: str, path: str, environment: str | None, variables: tuple[str, ...]) -> None:
    """What state records for ADDRESS: kind, provider id, hash, outputs, dependencies, properties."""
    from mlspec.api.deploy import read_view
    from mlspec.plan.state_commands import show_resource

    entry = show_resource(read_view(path, environment, parse_vars(variables)), address)
    if wants_json():
        print_json({"version": 1, "ok": True, "address": address, **entry.to_json()})
        return
    lines = [
        f"# {printable(address)}",
        f"provider_type = {printable(entry.provider_type)}",
        f"provider_id   = {printable(entry.provider_id)}",
        f"hash          = {printable(entry.payload.hash)}",
        f"depends_on    = [{', '.join(printable(str(d)) for d in sorted(entry.depends_on))}]",
    ]
    if entry.outputs:
        lines.append("outputs:")
        lines += [f"  {printable(k)} = {printable(str(v))}" for k, v in sorted(entry.outputs.items())]
    if entry.payload.attachments:
        lines.append("attachments:")
        lines += [f"  {printable(k)} = {printable(v)}" for k, v in sorted(entry.payload.attachments.items())]
    lines.append("properties:")
    rendered = json.dumps(entry.payload.properties, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    lines += [f"  {printable(line)}" for line in rendered.splitlines()]
    click.echo(redact("\n".join(lines)))


@state.command("rm")
@click.argument("address")
@click.argument("path", default=SPEC_FILE, metavar="[PATH]")
@env_option
@var_option
@format_option
@handle_errors
@json_failures
def rm_command(address: str, path: str, environment: str | None, variables: tuple[str, ...]) -> None:
    """Forget ADDRESS: it leaves the state; the object itself is not deleted, and mlspec stops managing it.

    The next plan creates it anew if the spec still declares it (remove it from the spec too, or
    import it back by applying).
    """
    from mlspec.api.deploy import remove_resource

    removed = remove_resource(path, environment, address, parse_vars(variables))
    if wants_json():
        print_json({"version": 1, "ok": True, "removed": address, "provider_id": removed.provider_id})
        return
    click.echo(
        f"Removed {printable(address)} from state (the object {printable(removed.provider_id) or 'it names'} "
        "still exists; mlspec no longer manages it)."
    )


@state.command("mv")
@click.argument("arguments", nargs=-1, metavar="SOURCE DESTINATION [PATH]")
@click.option(
    "--from-project",
    "from_project",
    metavar="OLD_NAME",
    help="Take over the whole state of a renamed project (its old project.name) instead.",
)
@env_option
@var_option
@format_option
@handle_errors
@json_failures
def mv_command(
    arguments: tuple[str, ...], from_project: str | None, environment: str | None, variables: tuple[str, ...]
) -> None:
    """Rename SOURCE to DESTINATION in state, or (--from-project OLD_NAME [PATH]) adopt a renamed project's state.

    A resource rename in state is what a `moved:` entry does on the next apply, done now. After a
    project.name change, `mlspec state mv --from-project OLD_NAME` makes the old name's state this
    project's (the old one is kept beside it as .moved); MLS808 points here.
    """
    from mlspec.api import deploy as api_deploy

    if from_project is not None:
        if len(arguments) > 1:
            raise click.UsageError("with --from-project, give at most the spec PATH")
        path = arguments[0] if arguments else SPEC_FILE
        count, moved_to = api_deploy.adopt_project_state(
            path, environment, from_project, parse_vars(variables)
        )
        if wants_json():
            print_json(
                {"version": 1, "ok": True, "adopted": from_project, "resources": count, "kept": moved_to}
            )
            return
        click.echo(
            f"Adopted the state of project {printable(from_project)!r} ({count} resource(s)); "
            f"the old state is kept as {printable(moved_to)}."
        )
        return
    if len(arguments) not in (2, 3):
        raise click.UsageError("give SOURCE and DESTINATION addresses (and optionally the spec PATH)")
    source, destination = arguments[0], arguments[1]
    path = arguments[2] if len(arguments) == 3 else SPEC_FILE
    api_deploy.move_resource(path, environment, source, destination, parse_vars(variables))
    if wants_json():
        print_json({"version": 1, "ok": True, "moved": [source, destination]})
        return
    click.echo(f"Moved {printable(source)} to {printable(destination)}.")


@click.command("output")
@click.argument("arguments", nargs=-1, metavar="[NAME] [PATH]")
@env_option
@var_option
@format_option
@handle_errors
@json_failures
def output_command(arguments: tuple[str, ...], environment: str | None, variables: tuple[str, ...]) -> None:
    """Values the provider reported back (endpoint URLs, ids), as `<address>.<key>`; NAME prints one, raw."""
    from mlspec.api.deploy import read_view
    from mlspec.diagnostics import Diagnostic
    from mlspec.plan.state_commands import outputs

    name, path = _split_name_and_path(arguments)
    view = read_view(path, environment, parse_vars(variables))
    values = outputs(view)
    if name is not None:
        if name not in values:
            import difflib

            close = difflib.get_close_matches(name, list(values), n=3, cutoff=0.6)
            hint = ("did you mean " + ", ".join(close) + "?") if close else "`mlspec output` lists them"
            raise MlspecError(
                [Diagnostic.error("MLS837", f"no output {printable(name)!r} in state", hint=hint)]
            )
        values = {name: values[name]}
    if wants_json():
        print_json({"version": 1, "ok": True, "outputs": values})
    elif name is not None:
        click.echo(redact(printable(str(values[name]))))
    else:
        width = max((len(k) for k in values), default=0)
        for key, value in values.items():
            click.echo(redact(f"{printable(key):<{width}} = {printable(str(value))}"))
    sys.exit(EXIT_OK)


def register(cli: click.Group) -> None:
    """Add ``state`` and ``output`` to the ``mlspec`` group."""
    cli.add_command(state)
    cli.add_command(output_command)
