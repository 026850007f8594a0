"""Where a role assignment applies: a workspace resource, a lake container, or the resource group.

A grant's ``scope`` is a workspace key (``machine_learning``, ``key_vault``, ...) or a source/transform
name; a source or transform means the ADLS Gen2 *container* holding its path (the narrowest scope Azure
RBAC offers for blob data; folders would need ACLs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlspec.compiler.arm import resource_id
from mlspec.spec_schema.checks.formats import ABFSS, lake_url_problem
from mlspec.spec_schema.grant_scopes import SUBSCRIPTION_SCOPE_PROBLEM, dataset_url
from mlspec.spec_schema.models import MLProject

WORKSPACE_RESOURCE_TYPES = {
    "machine_learning": "Microsoft.MachineLearningServices/workspaces",
    "synapse": "Microsoft.Synapse/workspaces",
    "key_vault": "Microsoft.KeyVault/vaults",
    "container_registry": "Microsoft.ContainerRegistry/registries",
    "kubernetes": "Microsoft.ContainerService/managedClusters",
    "log_analytics": "Microsoft.OperationalInsights/workspaces",
    "storage_account": "Microsoft.Storage/storageAccounts",
    "application_insights": "Microsoft.Insights/components",
}
_CONTAINER_TYPE = "Microsoft.Storage/storageAccounts/blobServices/containers"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._()-]*")


@dataclass(frozen=True)
class Scope:
    label: str
    """Readable, for resource addresses: ``machine_learning``, ``lake-contosolakedev-raw``."""
    path: str | None
    """The role assignment's ``scope`` (``Microsoft.Storage/storageAccounts/x``); ``None`` for the group."""
    id_expression: str
    """An ARM expression (no brackets) for the scope's resource ID, the first input of ``guid()``."""


class ScopeError(ValueError):
    """The scope cannot be a role assignment scope of this template (message says why)."""


def resource_scope(resource_type: str, name: str, label: str) -> Scope:
    if not _SAFE_NAME.fullmatch(name):
        raise ScopeError(f"{name!r} cannot be a resource name in a role assignment scope")
    return Scope(label, f"{resource_type}/{name}", resource_id(resource_type, name))


def container_scope(url: str) -> Scope:
    """The container holding ``abfss://container@account.dfs.core.windows.net/path``."""
    problem = lake_url_problem(url)
    match = ABFSS.fullmatch(url)
    if problem is not None or match is None:
        raise ScopeError(problem or f"{url!r} is not an ADLS Gen2 URL")
    account, container = match["account"], match["container"]
    return Scope(
        f"lake-{account}-{container}",
        f"Microsoft.Storage/storageAccounts/{account}/blobServices/default/containers/{container}",
        resource_id(_CONTAINER_TYPE, account, "default", container),
    )


RESOURCE_GROUP = Scope("resource_group", None, "resourceGroup().id")


def grant_scope(model: MLProject, scope: str) -> Scope:
    """The scope a grant names. Raises :class:`ScopeError` for what a resource-group template cannot do."""
    if scope == "resource_group":
        return RESOURCE_GROUP
    if scope == "subscription":
        raise ScopeError(SUBSCRIPTION_SCOPE_PROBLEM)  # refused by the spec checks (MLS652)
    if scope in WORKSPACE_RESOURCE_TYPES:
        name = getattr(model.workspace, scope)
        if name is None:
            raise ScopeError(f"workspace.{scope} is not set")
        return resource_scope(WORKSPACE_RESOURCE_TYPES[scope], name, scope)
    url = dataset_url(model, scope)
    if url is None:
        raise ScopeError(f"{scope!r} is not a workspace key, source or transform")
    found = container_scope(url)
    return Scope(scope, found.path, found.id_expression)
