"""``mlspec run``, ``serve`` and ``status``: the chain on the local engines (``docs/run.md``).

Exit codes: 0 the run succeeded; 1 the spec is invalid or a step failed (the message names the
step to rerun from); 2 usage or I/O error. ``--json`` prints the run record, and nothing else, on
stdout (also when a step failed); progress goes to stderr.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from mlspec.cli_conventions import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    color_option,
    handle_errors,
    parse_vars,
    use_color,
    var_option,
)
from mlspec.cli_output import SCHEMA_VERSION, format_option, json_failures, print_json, wants_json
from mlspec.diagnostics import MlspecError
from mlspec.redaction import redact
from mlspec.runtime.records import RunLayout, RunRecordCorrupt

SPEC_FILE = "mlproject.yaml"
F = TypeVar("F", bound=Callable[..., Any])


def _lake_given(context: click.Context, parameter: click.Parameter, value: str | None) -> Path | None:
    # An empty --lake would silently be the current directory, where a seed program then writes.
    if value is not None and not value.strip():
        raise click.BadParameter("--lake is empty: name the lake folder")
    return Path(value) if value is not None else None


def _project_options(func: F) -> F:
    """PATH, --env, --var and --lake: which project, environment and lake a run-type command uses."""
    func = click.option(
        "--lake",
        type=click.Path(file_okay=False),
        callback=_lake_given,
        help="Local lake folder (default <project>/.mlspec/lake).",
    )(func)
    func = var_option(func)
    func = click.option(
        "-e",
        "--env",
        "environment",
        metavar="NAME",
        help="Environment (default: local, which every project has). `run` of an Azure environment runs "
        "its deployed pipeline in Azure; `serve` and `status` need one with the local provider.",
    )(func)
    return click.argument("path", default=SPEC_FILE, metavar="[PATH]")(func)


def _spec_path(path: str) -> Path:
    spec = Path(path)
    return spec / SPEC_FILE if spec.is_dir() else spec


@click.command()
@_project_options
@click.option(
    "--spark-master", metavar="URL", help="An existing Spark cluster (spark://host:port); default local[*]."
)
@click.option(
    "--traffic",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Feature rows to replay against the endpoint (CSV, Parquet or JSON lines); default the evaluation split.",
)
@click.option(
    "--from",
    "from_step",
    type=click.Choice(["seed", "transforms", "train", "serve", "monitor", "retrain", "report"]),
    help="Rerun from this step on.",
)
@click.option(
    "--only",
    type=click.Choice(["seed", "transforms", "train", "serve", "monitor", "retrain", "report"]),
    help="Rerun this step alone.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json: the run record on stdout.")
@format_option
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@color_option
@handle_errors
def run(
    path: str,
    environment: str | None,
    variables: tuple[str, ...],
    lake: Path | None,
    spark_master: str | None,
    traffic: Path | None,
    from_step: str | None,
    only: str | None,
    as_json: bool,
    quiet: bool,
    no_color: bool,
) -> None:
    """Run the whole chain locally: seed → transforms → train → serve → monitor → retrain → report."""
    from mlspec import api
    from mlspec.runtime.chain import RunOptions
    from mlspec.runtime.progress import make_progress

    as_json = wants_json(as_json)
    if from_step and only:
        raise click.UsageError("--from and --only cannot be combined")
    options = RunOptions(spark_master=spark_master, traffic=traffic, from_step=from_step, only=only)
    progress = make_progress(tty=sys.stderr.isatty(), color=use_color(no_color, sys.stderr), quiet=quiet)
    spec = _spec_path(path)
    try:
        record = api.run(
            spec, environment, parse_vars(variables), lake=lake, options=options, progress=progress
        )
    except MlspecError as error:
        if as_json:  # still one document on stdout; the diagnostics go to stderr as usual
            sys.stdout.write(json.dumps(_refused(error), indent=2) + "\n")
        raise
    except KeyboardInterrupt:
        latest = RunLayout(spec.resolve().parent, lake).latest_record() or {}
        if as_json:
            sys.stdout.write(json.dumps(latest, indent=2, default=str) + "\n")
        else:
            sys.stdout.write(summary(latest) if latest.get("status") == "interrupted" else "interrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    if as_json:
        sys.stdout.write(json.dumps(record, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(summary(record))
    if record["status"] != "succeeded":
        sys.exit(EXIT_INVALID)


def _refused(error: MlspecError) -> dict[str, Any]:
    """The ``--json`` document of a run that could not start (invalid spec, wrong environment, locked)."""
    from mlspec.reporters.text import format_diagnostic

    messages = [format_diagnostic(d, color=False) for d in error.diagnostics]
    return {
        "status": "failed",
        "steps": [],
        "error": {"step": "build", "message": "\n".join(messages), "rerun": None},
        "diagnostics": [{"code": d.code, "message": d.message} for d in error.diagnostics],
    }


def summary(record: dict[str, Any]) -> str:
    """The human ending of a run: what was made, where the report is, or what failed."""
    lines: list[str] = []
    model = record.get("model") or {}
    if record["status"] == "succeeded":
        lines.append(f"Run {record['run_id']} succeeded.")
        if model.get("version"):
            gate = "passed" if (model.get("gate") or {}).get("passed") else "failed"
            lines.append(f"  model    {model['name']} v{model['version']} (gate {gate})")
        serving = record.get("serving") or {}
        if serving:
            counts = ", ".join(
                f"{code}: {n}" for code, n in sorted((serving.get("status_counts") or {}).items())
            )
            lines.append(
                f"  serving  {serving.get('requests')} requests (HTTP {counts}) to v{serving.get('version')}"
            )
        monitoring = record.get("monitoring") or {}
        fired = [a["name"] for a in monitoring.get("alerts", []) if a.get("fired")]
        if monitoring:
            lines.append(f"  alerts   fired: {', '.join(fired) or 'none'}")
        retrain = record.get("retrain") or {}
        if retrain.get("triggered"):
            outcome = (
                f"v{retrain['version']} now served"
                if retrain.get("promoted")
                else "gate failed, endpoint unchanged"
            )
            lines.append(f"  retrain  {outcome}")
        for step in record.get("steps") or [] if record.get("provider") == "azure" else []:
            lines.append(f"  {step.get('engine')}  {step.get('detail')} in {step.get('seconds')} s")
        report = record.get("report") or {}
        if report.get("path"):
            lines.append(f"  report   {report['path']}")
            lines.append(f"           open it in a browser: file://{report['path']}")
    else:
        error = record.get("error") or {}
        verb = "was interrupted during" if record["status"] == "interrupted" else "failed at step"
        lines.append(f"Run {record['run_id']} {verb} {error.get('step')}:")
        lines.extend("  " + line for line in str(error.get("message", "")).splitlines())
        lines.append(f"Fix the cause, then rerun: {error.get('rerun')}")
    # A step's error quotes what failed (a URL, a process's output): it may carry a credential.
    return redact("\n".join(lines)) + "\n"


@click.command()
@_project_options
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 (0: a free one).",
)
@format_option
@color_option
@handle_errors
@json_failures
def serve(
    path: str,
    environment: str | None,
    variables: tuple[str, ...],
    lake: Path | None,
    port: int,
    no_color: bool,
) -> None:
    """Keep the local endpoint up in the foreground (Ctrl-C stops it).

    With `--format json`, one document on stdout once it answers (url, headers, example request, log),
    for a script to read before it sends requests."""
    from mlspec import api

    with api.serve(_spec_path(path), environment, parse_vars(variables), lake=lake, port=port) as server:
        try:  # from here on, Ctrl-C or SIGTERM (even while the lines below print) stops cleanly
            if wants_json():
                print_json(
                    {
                        "version": SCHEMA_VERSION,
                        "ok": True,
                        "url": server.url,
                        "headers": dict(server.headers),
                        "example_request": str(server.example_request) if server.example_request else None,
                        "log": str(server.log_path),
                    }
                )
                sys.stdout.flush()
                while server.running():
                    time.sleep(0.5)
                sys.exit(_exited())
            click.echo(f"Serving on {server.url}  (Ctrl-C stops)")
            headers = " ".join(f"-H '{name}: {value}'" for name, value in server.headers.items())
            example = server.example_request
            body = f"-d @{example}" if example else "-d '{\"data\": [{...}]}'"
            click.echo(
                f"  try  curl -s {server.url}/score -H 'Content-Type: application/json' {headers} {body}"
            )
            click.echo(f"  log  {server.log_path}")
            while server.running():
                time.sleep(0.5)
        except KeyboardInterrupt:
            click.echo("stopping", err=wants_json())
            return
    sys.exit(_exited())


def _exited() -> int:
    click.echo("the scoring server exited; see its log", err=True)
    return EXIT_INVALID


@click.command()
@_project_options
@click.option("--json", "as_json", is_flag=True, help="Same as --format json: the last run's record.")
@format_option
@handle_errors
def status(
    path: str, environment: str | None, variables: tuple[str, ...], lake: Path | None, as_json: bool
) -> None:
    """The last run, step by step."""
    as_json = wants_json(as_json)
    spec = _spec_path(path)
    if not spec.is_file():
        raise click.BadParameter(f"{spec} does not exist", param_hint="PATH")
    layout = RunLayout(spec.resolve().parent, lake)
    try:
        record = layout.latest_record()
    except RunRecordCorrupt as error:
        click.echo(f"mlspec: the last run's record cannot be read: {error}", err=True)
        sys.exit(EXIT_INVALID)
    if record is None:
        if as_json:
            sys.stdout.write(json.dumps({"status": "none", "runs": 0}) + "\n")
        else:
            click.echo("no run yet: mlspec run")
        return
    if as_json:
        sys.stdout.write(json.dumps(record, indent=2, default=str) + "\n")
        return
    click.echo(
        f"run {record['run_id']} ({record.get('environment')}): {record['status']}, started {record.get('started')}"
    )
    for step in record.get("steps", []):
        detail = f"  {step['detail']}" if step.get("detail") else ""
        click.echo(f"  {step['name']:<11} {step['status']:<9} {step['seconds']:7.1f} s{detail}")
    if record.get("error"):
        click.echo(redact(f"error at {record['error']['step']}: {record['error']['message']}"))
        click.echo(f"rerun: {record['error']['rerun']}")
    if (record.get("report") or {}).get("path"):
        click.echo(f"report: {record['report']['path']}")


def register(cli: click.Group) -> None:
    for command in (run, serve, status):
        cli.add_command(command)


__all__ = ["register", "summary"]
