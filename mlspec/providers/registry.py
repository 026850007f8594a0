"""Picks the provider an environment deploys with (the manifest's ``provider``)."""

from __future__ import annotations

from pathlib import Path

from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.providers.base import Provider

AZURE_UNAVAILABLE = (
    "the Azure provider is not available in this version; "
    "use --env local or an environment with provider: local"
)


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
