"""Picks the provider an environment deploys with (the manifest's ``provider``)."""

from __future__ import annotations

from pathlib import Path

from mlspec.contract.outputs import TARGET_OUTPUTS
from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.providers.base import Provider

AZURE_UNAVAILABLE = (
    "the Azure provider is not available in this version; "
    "use --env local or an environment with provider: local"
)


_EVERY_TARGET_OUTPUT = frozenset(o.attribute for o in TARGET_OUTPUTS)
SUPPLIED_TARGET_OUTPUTS: dict[str, frozenset[str]] = {
    "local": _EVERY_TARGET_OUTPUT,
    "azure": _EVERY_TARGET_OUTPUT,
}
"""What each provider supplies for ``workspace.<attribute>`` markers (its ``target_outputs``), known
without making one: a plan that does not refresh still refuses a need nothing supplies. Both supply
every one of :data:`~mlspec.contract.outputs.TARGET_OUTPUTS` (the local provider as stand-ins; the
Azure provider reads them from the subscription and workspace it deploys into)."""


def supplied_target_outputs(name: str) -> frozenset[str]:
    return SUPPLIED_TARGET_OUTPUTS.get(name, frozenset())


def provider_for(name: str, project_dir: Path, environment: str) -> Provider:
    """The provider called ``name`` for one project folder and environment.

    Raises :class:`MlspecError` for ``azure`` (a later version) and unknown names.
    """
    if name == "local":
        from mlspec.providers.local import LocalProvider

        return LocalProvider(project_dir, environment)
    if name == "azure":
        raise MlspecError(
            [Diagnostic.error("MLS810", AZURE_UNAVAILABLE, ("environments", environment, "provider"))]
        )
    raise MlspecError(
        [Diagnostic.error("MLS811", f"unknown provider {name!r}", ("environments", environment, "provider"))]
    )
