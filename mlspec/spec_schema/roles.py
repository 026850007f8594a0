"""Azure built-in role names and their role definition GUIDs.

The spec names roles the way the portal does (``Storage Blob Data Reader``); ARM role assignments
need the role definition's GUID. The GUIDs are the same in every Azure tenant and cloud.

Source: Microsoft's "Azure built-in roles" reference, ``articles/role-based-access-control/built-in-roles.md``
in MicrosoftDocs/azure-docs (commit 00a583295ba737a5caf885472cb3bca3624e9cde, page dated 2026-04-09),
each entry checked against its row in that page's tables.

Synapse RBAC roles (``Synapse Administrator``, ``Synapse Contributor``, ...) are *not* Azure RBAC
roles: they are assigned inside a Synapse workspace (Synapse Studio, ``az synapse role assignment``,
the Synapse access-control REST API), never through ``Microsoft.Authorization/roleAssignments``.
They are listed here only so that a spec naming one gets a precise error instead of "unknown role".
Likewise, Power BI workspace roles (Admin, Member, Contributor, Viewer) are not Azure roles.

This module is plain data: the spec checks and the compiler both import it, so it must stay free of
heavy imports.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final

BUILT_IN_ROLES: Final = MappingProxyType(
    {
        # Privileged / general
        "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
        "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        "Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
        # Containers
        "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
        "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
        "AcrDelete": "c2f4ef07-c644-48eb-af81-4b1b4947fb11",
        "Azure Kubernetes Service Cluster User Role": "4abbcc35-e782-43d8-92c5-2d3f1bd2253f",
        "Azure Kubernetes Service Cluster Admin Role": "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8",
        "Azure Kubernetes Service Contributor Role": "ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8",
        "Azure Kubernetes Service RBAC Reader": "7f6c6a51-bcf8-42ba-9220-52d62157d7db",
        "Azure Kubernetes Service RBAC Writer": "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb",
        "Azure Kubernetes Service RBAC Admin": "3498e952-d568-435e-9b2c-8d77e338d7f7",
        "Azure Kubernetes Service RBAC Cluster Admin": "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b",
        # Storage
        "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
        "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
        "Storage Blob Delegator": "db58b8e5-c6ad-4a2a-8342-4190687cbf4a",
        "Storage Account Contributor": "17d1049b-9a84-46fb-8f53-869881c3d3ab",
        "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
        "Storage Queue Data Reader": "19e7f393-937e-4f77-808e-94535e297925",
        "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
        "Storage Table Data Reader": "76199698-9eea-4c19-bc75-cec21354c6b6",
        # Security (Key Vault, RBAC permission model)
        "Key Vault Administrator": "00482a5a-887f-4fb3-b363-3b7fe8e74483",
        "Key Vault Reader": "21090545-7ca7-4776-b22c-e363652d74d2",
        "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
        "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        "Key Vault Certificate User": "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
        "Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
        "Key Vault Contributor": "f25e0fa2-a7c8-4377-a976-54943a77a395",
        # AI + machine learning
        "AzureML Data Scientist": "f6c7c914-8db3-469d-8ca1-694a8f32e121",
        "AzureML Compute Operator": "e503ece1-11d0-4e8e-8e2c-7a6c3bf38815",
        "AzureML Registry User": "1823dd4f-9b8c-4ab6-ab4e-7397a3684615",
        # Identity
        "Managed Identity Operator": "f1a07417-d97a-45cb-824c-7a7467783830",
        "Managed Identity Contributor": "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59",
        # Monitor
        "Monitoring Reader": "43d0d8ad-25c7-4714-9337-8ba259a9fe05",
        "Monitoring Contributor": "749f88d5-cbae-40b8-bcfc-e573ddc772fa",
        "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
        "Log Analytics Reader": "73c42c96-874c-492b-b04d-ab87d138a893",
        "Log Analytics Contributor": "92aaf0da-9dab-42b6-94a3-d43ce8d16293",
        "Log Analytics Data Reader": "3b03c2da-16b3-4a49-8834-0f8130efdd3b",
        "Application Insights Component Contributor": "ae349356-3a1b-4a5e-921d-050484c6347e",
        # Integration (the retrain trigger is a Logic App)
        "Logic App Contributor": "87a39d53-fc1b-424a-814c-f7e04687dc9e",
        "Logic App Operator": "515c2055-d9d4-4321-b1b9-bd0c9a0f79fe",
    }
)

SYNAPSE_WORKSPACE_ROLES: Final = frozenset(
    {
        "Synapse Administrator",
        "Synapse SQL Administrator",
        "Synapse Apache Spark Administrator",
        "Synapse Contributor",
        "Synapse Artifact Publisher",
        "Synapse Artifact User",
        "Synapse Compute Operator",
        "Synapse Monitoring Operator",
        "Synapse Credential User",
        "Synapse Linked Data Manager",
        "Synapse User",
    }
)

GUID: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

_BY_FOLDED_NAME: Final = {name.casefold(): guid for name, guid in BUILT_IN_ROLES.items()}


def role_definition_guid(role: str) -> str | None:
    """The role definition GUID for a built-in role name (case-insensitive) or a GUID as written.

    ``None`` when ``role`` is neither: the spec check reports it at the grant's line.
    """
    if GUID.fullmatch(role):
        return role.lower()
    return _BY_FOLDED_NAME.get(role.strip().casefold())


def canonical_role_name(role: str) -> str | None:
    """The built-in role's name as Azure spells it, or ``None`` for GUIDs and unknown names."""
    folded = role.strip().casefold()
    return next((name for name in BUILT_IN_ROLES if name.casefold() == folded), None)
