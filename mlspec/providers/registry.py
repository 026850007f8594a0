"""Picks the provider an environment deploys with (the manifest's ``provider``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mlspec.contract.outputs import TARGET_OUTPUTS
from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.providers.base import Provider

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


def provider_for(
    name: str,
    project_dir: Path,
    environment: str,
    *,
    project: str = "",
    workspace: Mapping[str, Any] | None = None,
    provider_types: Iterable[str] = (),
    report_workspaces: Mapping[str, str] | None = None,
) -> Provider:
    """The provider called ``name`` for one project folder and environment.

    ``azure`` deploys into the manifest's ``workspace``, as the signed-in identity: it is refused
    (MLS810) when the build holds a kind it cannot deploy yet (``provider_types``), and fails fast
    (MLS816) when no credential gives a token; ``report_workspaces`` names each report's Power BI
    workspace. Unknown names are MLS811.
    """
    if name == "local":
        from mlspec.providers.local import LocalProvider

        return LocalProvider(project_dir, environment)
    if name == "azure":
        from mlspec.providers.azure import AzureProvider, refuse_undeployable
        from mlspec.providers.azure.credentials import default_credential
        from mlspec.providers.azure.workspace import ARM_SCOPE, AzureWorkspace

        refuse_undeployable(provider_types, environment)
        target = AzureWorkspace.of(workspace or {}, environment)
        return AzureProvider(
            target,
            project,
            default_credential(ARM_SCOPE, environment),
            report_workspaces=report_workspaces,
        )
    raise MlspecError(
        [Diagnostic.error("MLS811", f"unknown provider {name!r}", ("environments", environment, "provider"))]
    )
