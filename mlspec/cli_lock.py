"""``mlspec lock``: the scoring image's exact packages into the lock file beside the spec (:mod:`mlspec.api.lock`).

Exit codes: 0 locked (or, with ``--check``, up to date); 1 the spec is invalid, resolution failed, or
``--check`` found the lock stale (MLS608); 2 usage or I/O error.
"""

from __future__ import annotations

import sys

import click

from mlspec.cli_conventions import color_option, handle_errors, print_diagnostics, use_color
from mlspec.cli_output import format_option, json_failures, print_json, wants_json


@click.command()
@click.argument("path", default="mlproject.yaml", metavar="[PATH]")
@click.option(
    "--index-url",
    default=None,
    metavar="URL",
    help="Package index to resolve against (default: PyPI, where the ACR task's pip installs from).",
)
@click.option("--upgrade", is_flag=True, help="Resolve every set afresh, not only new or changed ones.")
@click.option(
    "--check", is_flag=True, help="Only tell whether the lock file is up to date (offline; exit 1 if not)."
)
@click.option("-q", "--quiet", is_flag=True)
@format_option
@color_option
@handle_errors
@json_failures
def lock(path: str, index_url: str | None, upgrade: bool, check: bool, quiet: bool, no_color: bool) -> None:
    """Resolve the scoring image's packages (every environment) into <spec>.lock.json, with hashes."""
    from mlspec.api.lock import DEFAULT_INDEX_URL
    from mlspec.api.lock import lock as lock_project
    from mlspec.reporters.json_report import diagnostic_json

    result = lock_project(path, index_url=index_url or DEFAULT_INDEX_URL, upgrade=upgrade, check=check)
    if result.diagnostics:
        print_diagnostics(result.diagnostics, color=use_color(no_color, sys.stderr))
    if wants_json():
        print_json(
            {
                "version": 1,
                "ok": True,
                "lock_file": str(result.lock_file),
                "changed": result.changed,
                "resolved": result.resolved,
                "sets": [{"inputs": s.inputs, "packages": len(s.packages)} for s in result.sets],
                "diagnostics": [diagnostic_json(d) for d in result.diagnostics],
            }
        )
    elif not quiet:
        if check:
            click.echo(f"{result.lock_file} is up to date")
        elif result.changed:
            click.echo(
                f"locked {result.package_count} packages in {len(result.sets)} set(s) into {result.lock_file}"
            )
        else:
            click.echo(f"{result.lock_file} is up to date ({result.package_count} packages)")


def register(cli: click.Group) -> None:
    cli.add_command(lock)


__all__ = ["register"]
