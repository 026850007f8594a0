"""``mlspec plan``, ``apply``, ``destroy``, ``force-unlock``: parse flags, call
:mod:`mlspec.api.deploy`, render, set the exit code (``docs/plan.md``, ``cli.md``).

Exit codes: 0 success; 1 failure (including a lock held by another process, named in the
message, and a refused or cancelled apply); 2 usage or I/O error. ``plan
--detailed-exitcode``: 0 no changes, 1 any error, 2 changes present.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mlspec.cli_conventions import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    color_option,
    env_option,
    handle_errors,
    parse_vars,
    use_color,
    var_option,
)
from mlspec.cli_output import format_option, json_failures, print_json, select_json, wants_json
from mlspec.diagnostics import MlspecError
from mlspec.redaction import printable

if TYPE_CHECKING:
    from mlspec.plan.plan import Plan

EXIT_CHANGES = 2  # plan --detailed-exitcode
SPEC_SUFFIXES = (".yaml", ".yml")
F = TypeVar("F", bound=Callable[..., Any])


def _interruptible(func: F) -> F:
    """Ctrl-C or SIGTERM (CI cancel, ``timeout``) during apply/destroy: the resources in flight finish
    and are recorded, nothing new starts, the lock is released, and a re-run continues."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from mlspec.runtime.interrupts import sigterm_as_interrupt

        try:
            with sigterm_as_interrupt():
                return func(*args, **kwargs)
        except KeyboardInterrupt:
            click.echo(
                "\nInterrupted: what was in flight finished and is recorded in state; nothing else was "
                "started and the lock is released. Run the same command again to continue.",
                err=True,
            )
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def _select_option(func: F) -> F:
    return click.option(
        "--select",
        "select",
        multiple=True,
        metavar="ADDRESS|GLOB",
        help="Only these resources (and what they depend on); repeatable, globs like 'aks.*'.",
    )(func)


def _allow_destroy_option(func: F) -> F:
    return click.option(
        "--allow-destroy",
        is_flag=True,
        help="Allow deletes and replaces in an environment with protect: true.",
    )(func)


def _execution_options(func: F) -> F:
    """How apply and destroy run: bounded parallelism, and whether progress lines are shown."""
    func = click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")(func)
    return click.option(
        "--parallelism", type=click.IntRange(1, 64), default=4, show_default=True, help="Resources at once."
    )(func)


def _progress(quiet: bool) -> Callable[[str], None] | None:
    if quiet:
        return None

    def say(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    return say


@click.command()
@click.argument("path", default="mlproject.yaml", metavar="[PATH]")
@env_option
@var_option
@click.option(
    "--refresh/--no-refresh", default=True, show_default=True, help="Read the live objects (drift)."
)
@_select_option
@click.option("--destroy", "destroy_mode", is_flag=True, help="Plan the deletion of everything in state.")
@_allow_destroy_option
@click.option("--json", "as_json", is_flag=True, help="Same as --format json (docs/plan.md).")
@format_option
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan for `mlspec apply FILE` (.json: JSON; else gzip-compressed JSON, e.g. plan.bin).",
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 without changes, 1 on error, 2 with changes.")
@color_option
def plan(**options: Any) -> None:
    """Show what apply would do: desired (the spec) vs state, and drift against the live objects."""

    select_json(options["as_json"])
    options["as_json"] = wants_json(options["as_json"])

    @json_failures
    def body() -> int:
        return _plan_body(**options)

    if not options["detailed_exitcode"]:
        sys.exit(handle_errors(body)())
    try:  # every error is 1 here: 2 means "changes present"
        code = handle_errors(body)()
    except click.ClickException as error:
        error.show()
        sys.exit(EXIT_INVALID)
    except SystemExit as exit_:
        sys.exit(EXIT_OK if exit_.code in (0, None) else EXIT_INVALID)
    sys.exit(code)


def _plan_body(
    *,
    path: str,
    environment: str | None,
    variables: tuple[str, ...],
    refresh: bool,
    select: tuple[str, ...],
    destroy_mode: bool,
    allow_destroy: bool,
    as_json: bool,
    out_file: Path | None,
    detailed_exitcode: bool,
    no_color: bool,
) -> int:
    from mlspec.api.deploy import plan_environment
    from mlspec.plan.operations import check_plan_out, refuse_blocked, save_plan
    from mlspec.plan.render import render_plan

    result = plan_environment(
        path,
        environment,
        parse_vars(variables),
        refresh=refresh,
        select=select,
        allow_destroy=allow_destroy,
        destroy=destroy_mode,
    )
    the_plan = result.plan
    if out_file is not None:
        check_plan_out(result, out_file)  # a refused --out (the spec, a symlink…) fails before any output
    if as_json:
        sys.stdout.write(json.dumps(the_plan.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_plan(the_plan, color=use_color(no_color)))
    sys.stdout.flush()
    if out_file is not None:
        save_plan(result, out_file)
        note = f"\nSaved the plan to {out_file}. To apply exactly this plan: mlspec apply {out_file}\n"
        (sys.stderr if as_json else sys.stdout).write(note)
    refuse_blocked(the_plan)  # the plan is shown, then refused: exit 1
    return EXIT_CHANGES if detailed_exitcode and the_plan.has_changes else EXIT_OK


@click.command()
@click.argument("target", default="mlproject.yaml", metavar="[PATH|PLANFILE]")
@env_option
@var_option
@click.option("--auto-approve", is_flag=True, help="Apply without asking (CI).")
@click.option(
    "--refresh/--no-refresh", default=True, show_default=True, help="Read the live objects first (drift)."
)
@_select_option
@_allow_destroy_option
@_execution_options
@format_option
@color_option
@handle_errors
@_interruptible
@json_failures
def apply(
    *,
    target: str,
    environment: str | None,
    variables: tuple[str, ...],
    auto_approve: bool,
    refresh: bool,
    select: tuple[str, ...],
    allow_destroy: bool,
    parallelism: int,
    quiet: bool,
    no_color: bool,
) -> None:
    """Apply the spec (a fresh plan, after confirmation) or exactly a saved PLANFILE."""
    from mlspec.api import deploy as api_deploy
    from mlspec.plan import operations
    from mlspec.plan.render import render_apply

    color = use_color(no_color)
    if _is_plan_file(target):
        if variables or select:
            raise click.UsageError(
                "--var and --select belong to `mlspec plan`; a saved plan is applied as it is"
            )
        saved = operations.load_plan(target)  # refused here if it was changed after it was saved
        if environment and environment != saved.plan.environment:
            raise click.UsageError(
                f"{target} is a plan for environment {printable(saved.plan.environment)!r}, "
                f"not {printable(environment)!r}"
            )
        operations.check_saved_plan(saved)  # a stale plan is refused before it is shown
        _show_plan(saved.plan, color)
        result = api_deploy.apply_saved_plan(saved, parallelism=parallelism, progress=_progress(quiet))
    else:
        result = api_deploy.apply_environment(
            target,
            environment,
            parse_vars(variables),
            confirm=_confirmer(auto_approve, color, "Do you want to perform these actions?"),
            refresh=refresh,
            select=select,
            allow_destroy=allow_destroy,
            parallelism=parallelism,
            progress=_progress(quiet),
        )
        if not result.plan.has_changes:
            _show_plan(result.plan, color)
            if wants_json():
                print_json(_apply_document(result))
            sys.exit(EXIT_OK)
    _finish(result, color, render_apply)


@click.command()
@click.argument("path", default="mlproject.yaml", metavar="[PATH]")
@env_option
@var_option
@click.option("--auto-approve", is_flag=True, help="Destroy without asking (CI).")
@_select_option
@_allow_destroy_option
@_execution_options
@format_option
@color_option
@handle_errors
@_interruptible
@json_failures
def destroy(
    *,
    path: str,
    environment: str | None,
    variables: tuple[str, ...],
    auto_approve: bool,
    select: tuple[str, ...],
    allow_destroy: bool,
    parallelism: int,
    quiet: bool,
    no_color: bool,
) -> None:
    """Delete everything mlspec created in an environment (refused where protect: true)."""
    from mlspec.api import deploy as api_deploy
    from mlspec.plan.render import render_apply

    color = use_color(no_color)
    result = api_deploy.destroy(
        path,
        environment,
        parse_vars(variables),
        allow_destroy=allow_destroy,
        confirm=_confirmer(auto_approve, color, "Do you really want to destroy these resources?"),
        select=select,
        parallelism=parallelism,
        progress=_progress(quiet),
    )
    if not result.plan.has_changes:
        _show_plan(result.plan, color)
        if wants_json():
            print_json(_apply_document(result))
        sys.exit(EXIT_OK)
    _finish(result, color, render_apply)


@click.command("force-unlock")
@click.argument("lock_id", metavar="LOCK_ID")
@click.argument("path", default="mlproject.yaml", metavar="[PATH]")
@env_option
@var_option
@click.option("--force", is_flag=True, help="Do not ask for confirmation (CI).")
@handle_errors
def force_unlock(
    lock_id: str, path: str, environment: str | None, variables: tuple[str, ...], force: bool
) -> None:
    """Remove a lock whose holder is gone (the id is in the error that named the holder).

    Asks first, showing the holder (and whether its process is gone, when it ran on this host);
    --force skips the question. Breaking the lock of a running apply can corrupt its state.
    """
    from mlspec.api import deploy as api_deploy
    from mlspec.plan.lock import LockInfo

    def confirm(holder: LockInfo, resolved_environment: str) -> bool:
        if force:
            return True
        click.echo(f"The lock is held by {holder.describe()}.")
        if not sys.stdin.isatty():
            raise MlspecError(
                [
                    _usage_diagnostic(
                        "refusing to break a lock without confirmation: stdin is not a terminal",
                        "pass --force once you are sure the holder is gone: `mlspec force-unlock "
                        f"{printable(lock_id)} {printable(path)} --env {resolved_environment} --force`",
                    )
                ]
            )
        answer = click.prompt(
            "Break it? Only do this when that operation no longer runs. Only 'yes' is accepted",
            default="",
            show_default=False,
            prompt_suffix=": ",
        )
        return bool(answer.strip() == "yes")

    removed = api_deploy.force_unlock(path, environment, lock_id, parse_vars(variables), confirm=confirm)
    if removed is None:
        click.echo("Force-unlock cancelled: the lock stays.")
        sys.exit(EXIT_INVALID)
    click.echo(  # the fields come from a lock file anyone may have written: escaped
        f"Lock {printable(removed.id)} removed (was held by {printable(removed.who)}, "
        f"operation {printable(removed.operation)}, since {printable(removed.created)})."
    )


def _finish(result: Any, color: bool, render_apply: Callable[..., str]) -> None:
    if wants_json():
        print_json(_apply_document(result))
        sys.exit(EXIT_OK if result.ok else EXIT_INVALID)
    if result.cancelled:
        click.echo("Apply cancelled: nothing changed.")
        sys.exit(EXIT_INVALID)
    sys.stdout.write("\n" + render_apply(result, color=color))
    sys.exit(EXIT_OK if result.ok else EXIT_INVALID)


def _show_plan(the_plan: Plan, color: bool) -> None:
    from mlspec.plan.render import render_plan

    if not wants_json():  # with json the plan is part of the one document printed at the end
        sys.stdout.write(render_plan(the_plan, color=color))


def _apply_document(result: Any) -> dict[str, Any]:
    """``apply``/``destroy --format json``: the plan, then what happened to each resource."""
    return {
        "version": 1,
        "ok": bool(result.ok),
        "cancelled": bool(result.cancelled),
        "state_serial": result.state_serial,
        "plan": result.plan.to_json(),
        "outcomes": [
            {
                "address": str(o.address),
                "action": o.action.value,
                "ok": o.ok,
                "seconds": round(o.seconds, 3),
                "error": o.error or None,
                "hint": o.hint or None,
            }
            for o in result.outcomes
        ],
        "skipped": [str(a) for a in result.skipped],
        "moved": [[str(old), str(new)] for old, new in result.moved],
    }


def _confirmer(auto_approve: bool, color: bool, question: str) -> Callable[[Plan], bool]:
    from mlspec.plan.render import render_plan

    def confirm(the_plan: Plan) -> bool:
        if wants_json():
            if not auto_approve:
                raise MlspecError(
                    [
                        _usage_diagnostic(
                            "--format json asks nothing: stdout holds one JSON document",
                            "pass --auto-approve, or apply a saved plan (`mlspec plan --out FILE`)",
                        )
                    ]
                )
            return True
        sys.stdout.write(render_plan(the_plan, color=color))
        sys.stdout.flush()
        if auto_approve:
            return True
        if not sys.stdin.isatty():
            raise MlspecError(
                [
                    _usage_diagnostic(
                        "refusing to change anything without confirmation: stdin is not a terminal",
                        "pass --auto-approve (CI), or save a plan with `mlspec plan --out FILE` and apply it",
                    )
                ]
            )
        answer = click.prompt(
            f"\n{question} Only 'yes' is accepted", default="", show_default=False, prompt_suffix=": "
        )
        return bool(answer.strip() == "yes")

    return confirm


def _usage_diagnostic(message: str, hint: str) -> Any:
    from mlspec.diagnostics import Diagnostic

    return Diagnostic.error("MLS000", message, hint=hint)


def _is_plan_file(target: str) -> bool:
    candidate = Path(target)
    return candidate.is_file() and candidate.suffix.lower() not in SPEC_SUFFIXES


def register(cli: click.Group) -> None:
    """Add plan / apply / destroy / force-unlock to the ``mlspec`` group."""
    for command in (plan, apply, destroy, force_unlock):
        cli.add_command(command)


__all__ = ["EXIT_CHANGES", "register"]
