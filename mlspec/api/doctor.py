"""``mlspec doctor``: the prerequisites of one environment, checked against its target."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlspec.providers.azure.doctor import Check


def doctor_environment(
    spec_path: Path | str,
    environment: str | None,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> tuple[str, list[Check]]:
    """The environment's name and its checks. A local environment has one: nothing in Azure to ask."""
    from mlspec.api.deploy import _spec_file, located_at, target_of_spec
    from mlspec.providers.azure.credentials import default_credential
    from mlspec.providers.azure.doctor import Check, check_environment
    from mlspec.providers.azure.workspace import ARM_SCOPE, AzureWorkspace

    target = target_of_spec(spec_path, environment, variables, environ)
    if target.provider != "azure":
        return target.environment, [
            Check("provider", True, f"{target.provider}: deploys on this machine, nothing in Azure to check")
        ]
    with located_at(_spec_file(spec_path)):
        workspace = AzureWorkspace.of(target.workspace, target.environment)
    checks = check_environment(
        workspace,
        lambda: default_credential(ARM_SCOPE, target.environment),
        dict(client_options or {}),
    )
    return target.environment, checks
