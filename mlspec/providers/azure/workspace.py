"""The Azure resources an environment deploys into, read from the manifest's ``workspace`` block.

The build resolves every name (subscription, resource group, Synapse workspace...) into the manifest;
the provider reads them from there and from nowhere else, so a saved plan applies into exactly the
resources it was made for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlspec.diagnostics import Diagnostic, MlspecError

ARM_ENDPOINT = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"
SUBSCRIPTION_API = "2022-12-01"
"""The API version mlspec reads a subscription with (its tenant, its state)."""


@dataclass(frozen=True)
class WorkspaceResource:
    """One kind of resource the spec's ``workspace`` names (``field``), and how to read it."""

    field: str
    type: str
    api_version: str
    what: str


WORKSPACE_RESOURCES = (
    WorkspaceResource("synapse", "Microsoft.Synapse/workspaces", "2021-06-01", "Synapse workspace"),
    WorkspaceResource(
        "machine_learning", "Microsoft.MachineLearningServices/workspaces", "2024-04-01", "Azure ML workspace"
    ),
    WorkspaceResource(
        "kubernetes", "Microsoft.ContainerService/managedClusters", "2024-02-01", "AKS cluster"
    ),
    WorkspaceResource("key_vault", "Microsoft.KeyVault/vaults", "2023-07-01", "Key Vault"),
    WorkspaceResource(
        "container_registry", "Microsoft.ContainerRegistry/registries", "2023-07-01", "container registry"
    ),
    WorkspaceResource(
        "storage_account", "Microsoft.Storage/storageAccounts", "2023-05-01", "lake storage account"
    ),
    WorkspaceResource(
        "log_analytics", "Microsoft.OperationalInsights/workspaces", "2022-10-01", "Log Analytics workspace"
    ),
    WorkspaceResource(
        "application_insights",
        "Microsoft.Insights/components",
        "2020-02-02",
        "Application Insights component",
    ),
)
"""The environment's own resources: mlspec deploys into them and never creates or deletes them."""


@dataclass(frozen=True)
class AzureWorkspace:
    """Names of the environment's Azure resources (``workspace`` in ``manifest.json``)."""

    environment: str
    subscription_id: str
    resource_group: str
    tenant_id: str = ""
    location: str = ""
    synapse: str = ""
    spark_pool: str = ""
    machine_learning: str = ""
    kubernetes: str = ""
    container_registry: str = ""
    application_insights: str = ""
    log_analytics: str = ""
    key_vault: str = ""
    storage_account: str = ""

    @classmethod
    def of(cls, workspace: Mapping[str, Any], environment: str) -> AzureWorkspace:
        """The workspace of ``environment``; MLS815 when the manifest lacks what every call needs."""
        missing = [key for key in ("subscription_id", "resource_group") if not workspace.get(key)]
        if missing:
            raise MlspecError(
                [
                    Diagnostic.error(
                        "MLS815",
                        f"environment {environment!r} names no {' and no '.join(missing)}: the Azure "
                        "provider does not know where to deploy",
                        ("workspace",),
                        hint="set workspace.subscription_id and workspace.resource_group for the "
                        "environment (or its variables), then build again",
                    )
                ]
            )
        names = {field: str(workspace.get(field) or "") for field in cls.__dataclass_fields__}
        names["environment"] = environment
        return cls(**names)

    @property
    def resource_group_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"

    def resource_id(self, resource_type: str, *names: str) -> str:
        """The id of a resource of this resource group: ``Microsoft.X/a/b`` with one name per segment."""
        provider, *segments = resource_type.split("/")
        if len(segments) != len(names):
            raise ValueError(f"{resource_type} takes {len(segments)} names, not {len(names)}")
        path = "/".join(f"{segment}/{name}" for segment, name in zip(segments, names, strict=True))
        return f"{self.resource_group_id}/providers/{provider}/{path}"

    def own_resource_ids(self) -> frozenset[str]:
        """The ids (lower-cased) of the resource group and of every workspace resource it names: the
        environment's own, which mlspec deploys into and must never delete."""
        ids = {self.resource_group_id.lower()}
        for resource in WORKSPACE_RESOURCES:
            name = str(getattr(self, resource.field))
            if name:
                ids.add(self.resource_id(resource.type, name).lower())
        if self.synapse and self.spark_pool:
            pool = self.resource_id(
                "Microsoft.Synapse/workspaces/bigDataPools", self.synapse, self.spark_pool
            )
            ids.add(pool.lower())
        return frozenset(ids)

    @property
    def synapse_endpoint(self) -> str:
        return f"https://{self.synapse}.dev.azuresynapse.net"

    def require(self, field: str, what: str) -> str:
        """The name in ``field``; MLS815 naming ``what`` needs it when the manifest has none."""
        value = str(getattr(self, field))
        if not value:
            raise MlspecError(
                [
                    Diagnostic.error(
                        "MLS815",
                        f"{what} needs workspace.{field}, which environment {self.environment!r} does not set",
                        ("workspace", field),
                        hint=f"set workspace.{field} in the spec (or the environment's variables)",
                    )
                ]
            )
        return value
