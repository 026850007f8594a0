"""``mlspec doctor``: parse flags, call :func:`mlspec.api.doctor.doctor_environment`, print each check.

Exit codes: 0 every check holds; 1 one does not (or the spec is invalid); 2 usage or I/O error. With
``--format json`` stdout holds one JSON document: ``{"ok", "environment", "checks": [...]}``.
"""

from __future__ import annotations

import sys

import click

from mlspec.cli_conventions import EXIT_INVALID, EXIT_OK, env_option, handle_errors, parse_vars, var_option
from mlspec.cli_output import format_option, json_failures, print_json, wants_json
from mlspec.redaction import printable, redact


@click.command()
@click.argument("path", default="mlproject.yaml", metavar="[PATH]")
@env_option
@var_option
@format_option
@handle_errors
@json_failures
def doctor(path: str, environment: str | None, variables: tuple[str, ...]) -> None:
    """Check an environment's prerequisites in Azure: credentials, the workspace's resources, AKS
    add-ons, and the roles deploying needs. Reads only."""
    from mlspec.api.doctor import doctor_environment

    name, checks = doctor_environment(path, environment, parse_vars(variables))
    ok = all(c.ok for c in checks)
    if wants_json():
        print_json({"version": 1, "ok": ok, "environment": name, "checks": [c.to_json() for c in checks]})
    else:
        for check in checks:
            mark = "ok  " if check.ok else "FAIL"
            click.echo(redact(f"{mark} {printable(check.name)}: {printable(check.detail, 300)}"))
            if not check.ok and check.fix:
                click.echo(redact(f"     fix: {printable(check.fix, 400)}"))
        passed = sum(c.ok for c in checks)
        click.echo(f"{passed} of {len(checks)} checks passed for environment {name!r}.", err=True)
    sys.exit(EXIT_OK if ok else EXIT_INVALID)


def register(cli: click.Group) -> None:
    cli.add_command(doctor)


__all__ = ["register"]
