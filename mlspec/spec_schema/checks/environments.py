"""Environments: one default at most, production protected."""

from __future__ import annotations

from collections.abc import Iterator

from mlspec.diagnostics import Diagnostic
from mlspec.spec_schema.checks.context import CheckContext

_PRODUCTION_NAMES = frozenset({"prod", "prd", "production", "live"})


def check_environments(ctx: CheckContext) -> Iterator[Diagnostic]:
    defaults = [name for name, env in ctx.model.environments.items() if env.default]
    for name in defaults[1:]:
        yield ctx.source_error(
            "MLS207",
            f"environments {defaults[0]!r} and {name!r} are both marked default",
            ("environments", name, "default"),
            "mark exactly one environment with default: true",
        )
    for name, env in ctx.model.environments.items():
        if name in _PRODUCTION_NAMES and not env.protect:
            yield ctx.source_warning(
                "MLS208",
                f"environment {name!r} is not protected",
                ("environments", name),
                "add protect: true so deletes and destroy need --allow-destroy",
                at_key=True,
            )
