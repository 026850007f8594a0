"""mlspec's own checks of the rendered artifacts, for what the platforms' offline checks miss.

Each service's registry entry has a ``check`` next to its ``render``; this runs them all
after every service has rendered, so a check may look across services (an alert's retrain
trigger names the Azure ML pipeline). They are cheap and SDK-free: they run on every build.
"""

from __future__ import annotations

from mlspec.compiler import cross_artifact
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.contract.graph import Address
from mlspec.diagnostics import Diagnostic


def check_artifacts(ctx: RenderContext, out: ArtifactSet) -> list[Diagnostic]:
    """Every service's own check (in registry order), then the graph's dangling dependencies and the
    checks across services' artifacts (:mod:`.cross_artifact`)."""
    found: list[Diagnostic] = []
    for service in ctx.services:
        found.extend(service.check(ctx, out))
    found.extend(_dangling_dependencies(ctx, out))
    found.extend(cross_artifact.check(ctx, out))
    return found


def _dangling_dependencies(ctx: RenderContext, out: ArtifactSet) -> list[Diagnostic]:
    known: set[Address] = {r.address for r in out.resources}
    return [
        ctx.error(
            "MLS699",
            f"internal error: {r.address} depends on {dep}, which the build does not produce",
            r.source,
        )
        for r in out.resources
        for dep in r.depends_on
        if dep not in known
    ]
