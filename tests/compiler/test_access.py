"""Role assignments: platform-valid, deterministic guid() names, the spec's grants and the implied ones."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec import api
from mlspec.compiler.access import template
from mlspec.compiler.build import resolve_pointer
from mlspec.compiler.platform_checks import check_arm_template
from mlspec.spec_schema.resolve import environment_names
from mlspec.spec_schema.roles import BUILT_IN_ROLES
from tests.compiler.access_support import CONTRACT, assignments, build, contract_with, errors_of, template_of

ROOT = Path(__file__).resolve().parents[2]
SPECS = [CONTRACT, *sorted(ROOT.glob("projects/*/mlproject.yaml"))]
CASES = [(spec, env) for spec in SPECS for env in environment_names(api.load(spec))]
IDS = [f"{s.parent.name}-{e}" for s, e in CASES]
TEMPLATE = template.TEMPLATE_FILE
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ROLE_ID = re.compile(
    r"^\[subscriptionResourceId\('Microsoft\.Authorization/roleDefinitions', '([0-9a-f-]{36})'\)\]$"
)


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_role_assignment_template_passes_the_platform_check(spec: Path, env: str, tmp_path: Path) -> None:
    build(spec, env, tmp_path)
    assert check_arm_template(template_of(tmp_path), artifact=TEMPLATE) == []


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_assignments_are_guid_named_built_in_roles_at_their_pointers(
    spec: Path, env: str, tmp_path: Path
) -> None:
    result = build(spec, env, tmp_path)
    data = template_of(tmp_path)
    known = set(BUILT_IN_ROLES.values())
    names = [a["name"] for a in assignments(tmp_path)]
    assert len(names) == len(set(names))
    for name in names:
        assert name.startswith("[guid(") and "reference(" not in name
    for resource in result.manifest.resources:
        if resource.address.service != "access" or resource.file != "access/role-assignments.json":
            continue  # Synapse RBAC assignments have a file of their own (test_access_synapse_roles.py)
        part = resolve_pointer(data, resource.pointer)
        assert resource.provider_type == f"arm:{part['type']}"
        if resource.address.kind == "role_assignment":
            assert part["apiVersion"] == "2022-04-01"
            assert resource.immutable == [
                "name",
                "scope",
                "properties.roleDefinitionId",
                "properties.principalId",
                "properties.principalType",
            ]
            match = ROLE_ID.match(part["properties"]["roleDefinitionId"])
            assert match is not None and match[1] in known
            assert part["properties"]["principalType"] in ("User", "Group", "ServicePrincipal")


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_every_grant_is_assigned(spec: Path, env: str, tmp_path: Path) -> None:
    build(spec, env, tmp_path)
    grants = yaml.safe_load(spec.read_text(encoding="utf-8")).get("access", {}).get("grants", [])
    literal = {
        a["properties"]["principalId"]
        for a in assignments(tmp_path)
        if GUID.fullmatch(a["properties"]["principalId"])
    }
    for grant in grants:
        assert next(iter(grant["principal"].values())) in literal


def test_names_do_not_depend_on_grant_order(tmp_path: Path) -> None:
    def reverse(data: dict[str, Any]) -> None:
        data["access"]["grants"].append(
            {
                "principal": {"user": "11111111-1111-1111-1111-111111111111"},
                "role": "Reader",
                "scope": "key_vault",
            }
        )

    def reverse_twice(data: dict[str, Any]) -> None:
        reverse(data)
        data["access"]["grants"].reverse()

    build(contract_with(tmp_path / "a", reverse), "dev", tmp_path / "a" / "out")
    build(contract_with(tmp_path / "b", reverse_twice), "dev", tmp_path / "b" / "out")
    first = {a["name"]: a for a in assignments(tmp_path / "a" / "out")}
    second = {a["name"]: a for a in assignments(tmp_path / "b" / "out")}
    assert first == second


def test_contract_grants_and_implied_identities(tmp_path: Path) -> None:
    build(CONTRACT, "dev", tmp_path)
    data = template_of(tmp_path)
    by_role: dict[str, list[dict[str, Any]]] = {}
    for a in assignments(tmp_path):
        guid = ROLE_ID.match(a["properties"]["roleDefinitionId"])[1]  # type: ignore[index]
        role = next(name for name, g in BUILT_IN_ROLES.items() if g == guid)
        by_role.setdefault(role, []).append(a)
    grant = by_role["AzureML Data Scientist"][0]
    assert grant["scope"] == "Microsoft.MachineLearningServices/workspaces/mlw-churn-dev"
    assert grant["name"] == (
        "[guid(resourceId('Microsoft.MachineLearningServices/workspaces', 'mlw-churn-dev'), "
        "'00000000-0000-0000-0000-000000000000', 'f6c7c914-8db3-469d-8ca1-694a8f32e121')]"
    )
    assert (grant["properties"]["principalId"], grant["properties"]["principalType"]) == (
        "00000000-0000-0000-0000-000000000000",
        "Group",
    )
    pull = by_role["AcrPull"][0]
    assert pull["scope"] == "Microsoft.ContainerRegistry/registries/acrchurndev"
    assert pull["properties"]["principalId"].endswith(".identityProfile.kubeletidentity.objectId]")
    reader = by_role["Storage Blob Data Reader"][0]
    assert (
        reader["scope"]
        == "Microsoft.Storage/storageAccounts/contosolakedev/blobServices/default/containers/curated"
    )
    assert "Microsoft.MachineLearningServices/workspaces" in reader["properties"]["principalId"]
    contributors = by_role["Storage Blob Data Contributor"]
    synapse_scopes = {
        a["scope"] for a in contributors if "Microsoft.Synapse" in a["properties"]["principalId"]
    }
    assert synapse_scopes == {
        "Microsoft.Storage/storageAccounts/contosolakedev/blobServices/default/containers/raw",
        "Microsoft.Storage/storageAccounts/contosolakedev/blobServices/default/containers/curated",
    }
    # the scoring pods write the prediction log (deployment.log_predictions) into its container
    pods_scopes = {
        a["scope"] for a in contributors if "userAssignedIdentities" in a["properties"]["principalId"]
    }
    assert pods_scopes == {
        "Microsoft.Storage/storageAccounts/contosolakedev/blobServices/default/containers/monitoring"
    }
    secrets = by_role["Key Vault Secrets User"][0]
    assert secrets["scope"] == "Microsoft.KeyVault/vaults/kv-churn-dev"
    assert secrets["properties"]["principalId"] == (
        "[reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', 'churn-churn-scoring'), "
        "'2023-01-31').principalId]"
    )
    assert secrets["dependsOn"] == [
        "[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', 'churn-churn-scoring')]"
    ]
    assert "Microsoft.Logic/workflows" in by_role["AzureML Data Scientist"][1]["properties"]["principalId"]
    identity = data["resources"][0]
    assert identity["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities"
    credential = identity["resources"][0]
    assert credential["properties"]["subject"] == "system:serviceaccount:churn:churn-scoring"
    assert credential["properties"]["audiences"] == ["api://AzureADTokenExchange"]
    assert credential["properties"]["issuer"].endswith(".oidcIssuerProfile.issuerURL]")
    assert set(data["outputs"]) == {"servingIdentityClientId", "servingIdentityPrincipalId"}


def test_the_identity_resource_is_what_the_aks_objects_wait_for(tmp_path: Path) -> None:
    result = build(CONTRACT, "dev", tmp_path)
    by_address = {str(r.address): r for r in result.manifest.resources}
    identity = by_address["access.identity.churn-scoring"]
    assert (identity.pointer, identity.provider_type) == (
        "/resources/0",
        "arm:Microsoft.ManagedIdentity/userAssignedIdentities",
    )
    waiting = [
        a for a, r in by_address.items() if "access.identity.churn-scoring" in {str(d) for d in r.depends_on}
    ]
    assert "aks.service_account.churn-scoring" in waiting


def test_a_given_client_id_means_no_created_identity(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["deployment"]["identity"] = {"client_id": "22222222-2222-2222-2222-222222222222"}

    result = build(contract_with(tmp_path, change), "dev", tmp_path / "out")
    assert not any(str(r.address).startswith("access.identity.") for r in result.manifest.resources)
    warned = [d for d in result.diagnostics if d.code == "MLS653"]
    assert [d.path for d in warned] == [("deployment", "identity", "client_id")]


def test_a_repeated_grant_is_reported_at_the_repeat(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["access"]["grants"].append(dict(data["access"]["grants"][0]))

    found = [d for d in errors_of(contract_with(tmp_path, change), tmp_path) if d.code == "MLS651"]
    assert [d.path for d in found] == [("access", "grants", 1)]


def test_a_subscription_scope_is_refused_at_the_scope(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["access"]["grants"][0]["scope"] = "subscription"

    found = [d for d in errors_of(contract_with(tmp_path, change), tmp_path) if d.code == "MLS652"]
    assert [d.path for d in found] == [("access", "grants", 0, "scope")]


def test_a_dataset_scope_is_its_container_and_resource_group_has_no_scope(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["access"]["grants"] = [
            {
                "principal": {"group": "33333333-3333-3333-3333-333333333333"},
                "role": "Storage Blob Data Reader",
                "scope": "customers",
            },
            {
                "principal": {"user": "44444444-4444-4444-4444-444444444444"},
                "role": "reader",
                "scope": "resource_group",
            },
        ]

    build(contract_with(tmp_path, change), "dev", tmp_path / "out")
    found = {a["properties"]["principalId"]: a for a in assignments(tmp_path / "out")}
    container = found["33333333-3333-3333-3333-333333333333"]
    assert (
        container["scope"]
        == "Microsoft.Storage/storageAccounts/contosolakedev/blobServices/default/containers/raw"
    )
    group = found["44444444-4444-4444-4444-444444444444"]
    assert "scope" not in group and group["name"].startswith("[guid(resourceGroup().id, ")


HOSTILE = "[concat('x')] ' \" \n {{ a }} ${{ b }} </script> ../../x"


def test_hostile_grant_description_stays_data(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["access"]["grants"][0]["description"] = HOSTILE

    build(contract_with(tmp_path, change), "dev", tmp_path / "out")
    grant = next(a for a in assignments(tmp_path / "out") if a["properties"]["principalType"] == "Group")
    assert grant["properties"]["description"] == "[" + HOSTILE
    assert check_arm_template(template_of(tmp_path / "out")) == []


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    build(CONTRACT, "prod", tmp_path / "one")
    build(CONTRACT, "prod", tmp_path / "two")
    assert (tmp_path / "one" / TEMPLATE).read_bytes() == (tmp_path / "two" / TEMPLATE).read_bytes()


def test_scoring_pods_may_read_the_model_registry(tmp_path: Path) -> None:
    """Pods load models:/<name>/... from the Azure ML workspace at start-up: their identity needs a role there."""
    api.build(CONTRACT, "dev", out_dir=tmp_path, environ={})
    template = json.loads((tmp_path / "access" / "role-assignments.json").read_text())
    grants = [
        r
        for r in template["resources"]
        if r["type"] == "Microsoft.Authorization/roleAssignments"
        and "pods load the registered model" in r["properties"].get("description", "")
    ]
    assert len(grants) == 1
    assert "Microsoft.MachineLearningServices/workspaces" in grants[0]["scope"]


def test_training_runs_as_the_compute_identity_which_may_read_the_training_data(tmp_path: Path) -> None:
    """Scheduled and alert-triggered runs must not depend on who submitted them."""
    import yaml

    api.build(CONTRACT, "dev", out_dir=tmp_path, environ={})
    compute = yaml.safe_load((tmp_path / "azureml" / "compute.yml").read_text())
    pipeline = yaml.safe_load((tmp_path / "azureml" / "pipeline.yml").read_text())
    assert compute["identity"] == {"type": "system_assigned"}
    assert pipeline["identity"] == {"type": "managed"}
    template = json.loads((tmp_path / "access" / "role-assignments.json").read_text())
    readers = [
        r
        for r in template["resources"]
        if r["type"] == "Microsoft.Authorization/roleAssignments"
        and "as the compute cluster's identity" in r["properties"].get("description", "")
    ]
    assert len(readers) == 1
    assert "workspaces/computes" in readers[0]["properties"]["principalId"]
