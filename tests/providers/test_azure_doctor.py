"""``mlspec doctor`` against :class:`FakeAzure`: each prerequisite found or missing, with its fix."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.mgmt.resource.resources")

from click.testing import CliRunner

from mlspec.cli import cli
from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.providers.azure.doctor import allowed, check_environment
from mlspec.providers.azure.workspace import AzureWorkspace
from tests.providers.azure_fake import FakeAzure
from tests.providers.test_azure_provider_contract import RESOURCE_GROUP, SUBSCRIPTION, StaticCredential

ROOT = Path(__file__).resolve().parents[2]


def workspace(**names: str) -> AzureWorkspace:
    return AzureWorkspace.of(
        {"subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP, **names}, "prod"
    )


def jwt(claims: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJub25lIn0.{body}.c2ln"


class SignedIn(StaticCredential):
    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(jwt({"upn": "ada@contoso.com", "tid": "t-1"}), 4102444800)


def run(fake: FakeAzure, ws: AzureWorkspace) -> dict[str, Any]:
    checks = check_environment(ws, SignedIn, {"transport": fake, "polling_interval": 0, "retry_total": 0})
    return {c.name: c for c in checks}


def add(fake: FakeAzure, ws: AzureWorkspace, rtype: str, name: str, properties: dict[str, Any]) -> None:
    resource_id = ws.resource_id(rtype, name)
    fake.resources[resource_id.lower()] = {
        "id": resource_id,
        "location": "westeurope",
        "properties": properties,
    }


def test_a_ready_environment_passes_every_check() -> None:
    fake = FakeAzure(SUBSCRIPTION, RESOURCE_GROUP)
    ws = workspace(kubernetes="aks-ml-prod", storage_account="contosolakeprod", synapse="syn-churn-prod")
    add(fake, ws, "Microsoft.Synapse/workspaces", "syn-churn-prod", {})
    add(fake, ws, "Microsoft.Storage/storageAccounts", "contosolakeprod", {"isHnsEnabled": True})
    add(
        fake,
        ws,
        "Microsoft.ContainerService/managedClusters",
        "aks-ml-prod",
        {
            "aadProfile": {"managed": True, "enableAzureRBAC": True},
            "oidcIssuerProfile": {"enabled": True},
            "securityProfile": {"workloadIdentity": {"enabled": True}},
            "addonProfiles": {"azureKeyvaultSecretsProvider": {"enabled": True}},
        },
    )
    checks = run(fake, ws)
    assert all(c.ok for c in checks.values()), [c for c in checks.values() if not c.ok]
    assert checks["credentials"].detail == "signed in as ada@contoso.com (tenant t-1)"
    assert list(checks) == [
        "credentials",
        f"subscription {SUBSCRIPTION}",
        f"resource group {RESOURCE_GROUP}",
        "Synapse workspace syn-churn-prod",
        "AKS cluster aks-ml-prod",
        "aks-ml-prod: Entra ID sign-in",
        "aks-ml-prod: OIDC issuer and workload identity",
        "aks-ml-prod: Key Vault secrets provider (CSI driver)",
        "lake storage account contosolakeprod",
        "contosolakeprod is Data Lake Storage Gen2",
        f"permissions to deploy on {RESOURCE_GROUP}",
    ]
    assert all(r.method == "GET" for r in fake.requests), "doctor only reads"


def test_what_is_missing_is_said_with_its_fix() -> None:
    fake = FakeAzure(SUBSCRIPTION, RESOURCE_GROUP)
    ws = workspace(kubernetes="aks-ml-prod", key_vault="kv-churn-prod")
    add(
        fake,
        ws,
        "Microsoft.ContainerService/managedClusters",
        "aks-ml-prod",
        {"oidcIssuerProfile": {"enabled": True}},
    )
    fake.permissions = [{"actions": ["*/read", "Microsoft.Resources/deployments/*"], "notActions": []}]
    checks = run(fake, ws)
    vault = checks["Key Vault kv-churn-prod"]
    assert not vault.ok and vault.detail.startswith("404 (ResourceNotFound)")
    assert "it does not create it" in vault.fix
    entra = checks["aks-ml-prod: Entra ID sign-in"]
    assert not entra.ok and "--enable-aad --enable-azure-rbac" in entra.fix
    identity = checks["aks-ml-prod: OIDC issuer and workload identity"]
    assert not identity.ok and identity.detail == "OIDC issuer on, workload identity off"
    assert "--enable-workload-identity" in identity.fix
    deploy = checks[f"permissions to deploy on {RESOURCE_GROUP}"]
    assert not deploy.ok
    assert deploy.detail == "cannot assign the roles the spec's access section grants"


def test_no_resource_group_stops_there() -> None:
    fake = FakeAzure(SUBSCRIPTION, RESOURCE_GROUP)
    fake.resource_group_exists = False
    checks = run(fake, workspace(synapse="syn"))
    assert list(checks)[-1] == f"resource group {RESOURCE_GROUP}"
    assert not checks[f"resource group {RESOURCE_GROUP}"].ok


def test_no_credential_is_the_only_check() -> None:
    def none() -> Any:
        raise MlspecError(
            [Diagnostic.error("MLS816", "no Azure credentials for environment 'prod'", hint="az login")]
        )

    from mlspec.providers.azure.credentials import SIGN_IN_HINT

    checks = check_environment(workspace(), none, {})
    # the sign-in advice, without the diagnostic's pointer to doctor itself
    assert [(c.name, c.ok, c.fix) for c in checks] == [("credentials", False, SIGN_IN_HINT)]


def test_permissions_follow_azure_rbac_wildcards_and_not_actions() -> None:
    owner = [{"actions": ["*"], "notActions": []}]
    contributor = [
        {
            "actions": ["*"],
            "notActions": ["Microsoft.Authorization/*/Write", "Microsoft.Authorization/*/Delete"],
        }
    ]
    assert allowed("Microsoft.Authorization/roleAssignments/write", owner)
    assert not allowed("Microsoft.Authorization/roleAssignments/write", contributor)
    assert allowed("Microsoft.Resources/deployments/write", contributor)
    assert allowed("microsoft.resources/deployments/whatif/action", [{"actions": ["Microsoft.Resources/*"]}])


def test_the_cli_on_a_local_environment_and_without_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in [n for n in __import__("os").environ if n.startswith(("AZURE_", "IDENTITY_", "MSI_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    spec = str(ROOT / "projects" / "churn" / "mlproject.yaml")
    local = CliRunner().invoke(cli, ["doctor", spec, "--env", "local", "--format", "json"])
    assert local.exit_code == 0, local.output
    assert json.loads(local.stdout)["checks"][0]["check"] == "provider"
    prod = CliRunner().invoke(cli, ["doctor", spec, "--env", "prod"])
    assert prod.exit_code == 1
    assert prod.stdout.startswith("FAIL credentials: no Azure credentials for environment 'prod'")
    assert "fix: sign in with `az login`" in prod.stdout
    assert "mlspec doctor" not in prod.stdout.split("fix:", 1)[1], "doctor does not send you to doctor"
    assert "Traceback" not in prod.output
