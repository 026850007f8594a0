"""``mlspec doctor``: what an Azure environment needs before the first apply, checked one by one.

Every check reads only (a token, GETs of the workspace's resources, the caller's permissions on the
resource group) and says what it found or what to fix. The order is the order of dependence: without a
credential nothing else can be asked; without the subscription, no resource.
"""

from __future__ import annotations

import base64
import fnmatch
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlspec.diagnostics import MlspecError
from mlspec.providers.azure.credentials import SIGN_IN_HINT
from mlspec.providers.azure.errors import error_code_and_message
from mlspec.providers.azure.workspace import ARM_SCOPE, SUBSCRIPTION_API, WORKSPACE_RESOURCES, AzureWorkspace

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from mlspec.providers.azure.session import AzureSession


@dataclass(frozen=True)
class Check:
    """One prerequisite: what was checked, whether it holds, what was found, and the fix when not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


RESOURCE_GROUP_API = "2021-04-01"
PERMISSIONS_API = "2022-04-01"
DEPLOY_ACTIONS = (
    (
        "Microsoft.Resources/deployments/write",
        "deploy ARM resources (alerts, action groups, data collection)",
    ),
    (
        "Microsoft.Resources/deployments/whatIf/action",
        "plan ARM resources against what Azure holds (what-if)",
    ),
    ("Microsoft.Authorization/roleAssignments/write", "assign the roles the spec's access section grants"),
)
DEPLOYER_ROLES = "Contributor and Role Based Access Control Administrator (or Owner)"


def check_environment(
    workspace: AzureWorkspace,
    credential: Callable[[], TokenCredential],
    client_options: dict[str, Any] | None = None,
) -> list[Check]:
    """Every check, in order; stops after the first one the rest depend on (no credential, no
    subscription). ``credential`` makes the credential (raising MLS816 when none works)."""
    from mlspec.providers.azure.session import AzureSession

    checks: list[Check] = []
    try:
        signed_in = credential()
    except MlspecError as error:
        diagnostic = error.diagnostics[0]
        fix = SIGN_IN_HINT if diagnostic.code == "MLS816" else diagnostic.hint or ""
        return [Check("credentials", False, diagnostic.message, fix)]
    checks.append(Check("credentials", True, _who(signed_in)))
    session = AzureSession(workspace, signed_in, client_options)
    subscription = _get(session, f"/subscriptions/{workspace.subscription_id}", SUBSCRIPTION_API)
    if not isinstance(subscription, dict):
        checks.append(
            Check(
                f"subscription {workspace.subscription_id}",
                False,
                subscription,
                "check workspace.subscription_id, and that the signed-in identity has a role on it "
                "(`az account list` shows the subscriptions you can see)",
            )
        )
        return checks
    state = subscription.get("state", "?")
    checks.append(
        Check(
            f"subscription {workspace.subscription_id}",
            state == "Enabled",
            f"{subscription.get('displayName', '')} ({state}), tenant {subscription.get('tenantId', '?')}".strip(),
            "" if state == "Enabled" else "the subscription is not enabled: nothing can be deployed into it",
        )
    )
    group = _get(session, workspace.resource_group_id, RESOURCE_GROUP_API)
    checks.append(
        Check(
            f"resource group {workspace.resource_group}",
            isinstance(group, dict),
            f"in {group.get('location', '?')}" if isinstance(group, dict) else group,
            ""
            if isinstance(group, dict)
            else "create it (mlspec never creates or deletes the resource group), "
            "or correct workspace.resource_group",
        )
    )
    if not isinstance(group, dict):
        return checks
    checks.extend(_workspace_resources(session))
    checks.append(_deploy_permissions(session))
    return checks


def _workspace_resources(session: AzureSession) -> Iterator[Check]:
    workspace = session.workspace
    for resource in WORKSPACE_RESOURCES:
        name = str(getattr(workspace, resource.field))
        if not name:
            continue
        found = _get(session, workspace.resource_id(resource.type, name), resource.api_version)
        label = f"{resource.what} {name}"
        if not isinstance(found, dict):
            yield Check(
                label,
                False,
                found,
                f"create it, or correct workspace.{resource.field} (mlspec deploys into it, it does not create it)",
            )
            continue
        yield Check(label, True, f"found in {found.get('location', '?')}")
        properties = found.get("properties") if isinstance(found.get("properties"), dict) else {}
        if resource.field == "kubernetes":
            yield from _aks_add_ons(name, properties or {})
        if resource.field == "storage_account":
            hierarchical = bool((properties or {}).get("isHnsEnabled"))
            yield Check(
                f"{name} is Data Lake Storage Gen2",
                hierarchical,
                "hierarchical namespace on" if hierarchical else "hierarchical namespace off",
                ""
                if hierarchical
                else "abfss:// paths need an account with the hierarchical namespace enabled",
            )


def _aks_add_ons(cluster: str, properties: dict[str, Any]) -> Iterator[Check]:
    entra = properties.get("aadProfile") if isinstance(properties.get("aadProfile"), dict) else None
    azure_rbac = bool((entra or {}).get("enableAzureRBAC"))
    yield Check(
        f"{cluster}: Entra ID sign-in",
        entra is not None,
        (
            ("Entra ID integration on" if entra else "no Entra ID integration (local accounts only)")
            + (
                ", Azure RBAC authorizes"
                if azure_rbac
                else ", Kubernetes RBAC authorizes: bind the deploying identity to a ClusterRole"
                if entra
                else ""
            )
        ),
        ""
        if entra
        else f"mlspec signs in to the cluster with Entra ID tokens: az aks update -g <rg> -n {cluster} "
        "--enable-aad --enable-azure-rbac",
    )
    oidc = bool((properties.get("oidcIssuerProfile") or {}).get("enabled"))
    workload = bool(((properties.get("securityProfile") or {}).get("workloadIdentity") or {}).get("enabled"))
    csi = bool(
        ((properties.get("addonProfiles") or {}).get("azureKeyvaultSecretsProvider") or {}).get("enabled")
    )
    yield Check(
        f"{cluster}: OIDC issuer and workload identity",
        oidc and workload,
        f"OIDC issuer {'on' if oidc else 'off'}, workload identity {'on' if workload else 'off'}",
        ""
        if oidc and workload
        else f"az aks update -g <rg> -n {cluster} --enable-oidc-issuer --enable-workload-identity",
    )
    yield Check(
        f"{cluster}: Key Vault secrets provider (CSI driver)",
        csi,
        "enabled" if csi else "not enabled",
        "" if csi else f"az aks enable-addons -g <rg> -n {cluster} --addons azure-keyvault-secrets-provider",
    )


def _deploy_permissions(session: AzureSession) -> Check:
    workspace = session.workspace
    where = f"{workspace.resource_group_id}/providers/Microsoft.Authorization/permissions"
    found = _get(session, where, PERMISSIONS_API)
    name = f"permissions to deploy on {workspace.resource_group}"
    if not isinstance(found, dict):
        return Check(
            name, False, found, f"the signed-in identity needs {DEPLOYER_ROLES} on the resource group"
        )
    missing = [why for action, why in DEPLOY_ACTIONS if not allowed(action, found.get("value") or [])]
    if missing:
        return Check(
            name,
            False,
            "cannot " + "; cannot ".join(missing),
            f"grant the signed-in identity {DEPLOYER_ROLES} on the resource group",
        )
    return Check(name, True, "deployments, what-if and role assignments are allowed")


def allowed(action: str, permissions: list[Any]) -> bool:
    """Whether ``action`` is in some permission's ``actions`` and not in that one's ``notActions``
    (wildcards as Azure RBAC writes them, case-insensitive)."""
    wanted = action.lower()
    for permission in permissions:
        if not isinstance(permission, dict):
            continue
        grants = [str(a).lower() for a in permission.get("actions") or []]
        denies = [str(a).lower() for a in permission.get("notActions") or []]
        if any(fnmatch.fnmatchcase(wanted, g) for g in grants) and not any(
            fnmatch.fnmatchcase(wanted, d) for d in denies
        ):
            return True
    return False


def _get(session: AzureSession, resource_id: str, api_version: str) -> dict[str, Any] | str:
    """The resource's JSON, or a one-line reason it cannot be read."""
    from azure.core.exceptions import AzureError

    from mlspec.providers.azure.session import raw_json

    try:
        found = session.resources.resources.get_by_id(resource_id, api_version=api_version, cls=raw_json)
    except AzureError as exc:
        code, message = error_code_and_message(exc)
        status = getattr(exc, "status_code", None)
        return f"{status or 'error'} ({code}): {message}" if code else f"{status or 'error'}: {message}"
    return found if isinstance(found, dict) else "an empty answer"


def _who(credential: Any) -> str:
    """Who the token is for (its claims: a user's name or an application id, and the tenant): never
    the token itself."""
    try:
        token = credential.get_token(ARM_SCOPE).token
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, IndexError, AttributeError):
        return "a token for Azure Resource Manager was issued"
    if not isinstance(claims, dict):
        return "a token for Azure Resource Manager was issued"
    who = claims.get("upn") or claims.get("unique_name") or claims.get("appid") or claims.get("oid") or "?"
    return f"signed in as {who} (tenant {claims.get('tid', '?')})"
