"""The scoring pods' identity works on a first deploy (issue 11, items 5 and 6).

5. A spec that names an existing identity (``deployment.identity.name``) gets the federated credential on
   that identity for the endpoint's service account, and the roles the pods need (Reader on the Azure ML
   workspace to load the model, Key Vault Secrets User for their secrets); an old spec with ``client_id``
   only still validates, with a warning (MLS653) that says what a working deploy lacks.
6. No role assignment names a client id: ``principalId`` is an object id or an expression yielding one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlspec import api
from mlspec.compiler.build import resolve_pointer
from mlspec.diagnostics import Severity
from mlspec.spec_schema.resolve import environment_names
from mlspec.spec_schema.roles import BUILT_IN_ROLES
from tests.compiler.access_support import CONTRACT, assignments, build, contract_with, errors_of, template_of

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(ROOT.glob("projects/*/mlproject.yaml"))
CASES = [(spec, env) for spec in EXAMPLES for env in environment_names(api.load(spec))]
IDS = [f"{s.parent.name}-{e}" for s, e in CASES]
CREDENTIAL_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
OBJECT_ID_EXPRESSION = re.compile(r"^\[reference\(.*\)(\.\w+)*\.(principalId|objectId)\]$")
READER = BUILT_IN_ROLES["Reader"]
DATA_SCIENTIST = BUILT_IN_ROLES["AzureML Data Scientist"]
SECRETS_USER = BUILT_IN_ROLES["Key Vault Secrets User"]
OLD_IDENTITY = {"client_id": "22222222-2222-2222-2222-222222222222"}


def role_guid(assignment: dict[str, Any]) -> str:
    return str(assignment["properties"]["roleDefinitionId"]).split("'")[-2]


def deployment_of(spec: Path, env: str) -> dict[str, Any]:
    model = api.resolve(api.load(spec), env).model
    assert model is not None and model.deployment is not None
    return {
        "endpoint": model.deployment.endpoint,
        "namespace": model.deployment.namespace,
        "identity": model.deployment.identity,
        "secrets": model.deployment.secrets,
        "workspace": model.workspace.machine_learning,
        "cluster": model.workspace.kubernetes,
    }


def given_identity(**fields: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["deployment"]["identity"] = {"client_id": OLD_IDENTITY["client_id"], **fields}

    return change


# --- item 5: the given identity is federated and granted ---------------------------------------------------


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_a_named_identity_gets_its_federated_credential(spec: Path, env: str, tmp_path: Path) -> None:
    d = deployment_of(spec, env)
    assert d["identity"] is not None and d["identity"].name is not None, "every example names its identity"
    result = build(spec, env, tmp_path)
    credentials = [r for r in template_of(tmp_path)["resources"] if r["type"] == CREDENTIAL_TYPE]
    assert len(credentials) == 1
    credential = credentials[0]
    identity_name, _, credential_name = credential["name"].partition("/")
    assert identity_name == d["identity"].name and credential_name
    assert credential["properties"]["subject"] == f"system:serviceaccount:{d['namespace']}:{d['endpoint']}"
    assert credential["properties"]["audiences"] == ["api://AzureADTokenExchange"]
    issuer = credential["properties"]["issuer"]
    assert issuer.startswith("[reference(resourceId('Microsoft.ContainerService/managedClusters', ")
    assert f"'{d['cluster']}'" in issuer and issuer.endswith(".oidcIssuerProfile.issuerURL]")
    # no identity is created beside it, and the manifest points at the credential
    assert not [r for r in template_of(tmp_path)["resources"] if r["type"] == IDENTITY_TYPE]
    by_address = {str(r.address): r for r in result.manifest.resources}
    resource = by_address[f"access.identity.{d['endpoint']}"]
    assert resource.provider_type == f"arm:{CREDENTIAL_TYPE}"
    assert resolve_pointer(template_of(tmp_path), resource.pointer) == credential


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_a_named_identity_may_load_the_model_and_read_its_secrets(
    spec: Path, env: str, tmp_path: Path
) -> None:
    d = deployment_of(spec, env)
    build(spec, env, tmp_path)
    identity = d["identity"]
    expected = (
        identity.object_id.lower()
        if identity.object_id
        else "[reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', "
        f"'{identity.name}'), '2023-01-31').principalId]"
    )
    pods = [a for a in assignments(tmp_path) if a["properties"]["principalId"] == expected]
    roles = {(role_guid(a), a["scope"]) for a in pods}
    workspace = f"Microsoft.MachineLearningServices/workspaces/{d['workspace']}"
    assert (READER, workspace) in roles
    assert (DATA_SCIENTIST, workspace) not in roles  # too broad: it may submit jobs and deploy
    if d["secrets"]:
        assert any(
            role == SECRETS_USER and scope.startswith("Microsoft.KeyVault/vaults/") for role, scope in roles
        )
    assert all(a["properties"]["principalType"] == "ServicePrincipal" for a in pods)


def test_the_created_identity_reads_the_model_with_reader_not_data_scientist(tmp_path: Path) -> None:
    build(CONTRACT, "dev", tmp_path)
    pods = [
        a
        for a in assignments(tmp_path)
        if "userAssignedIdentities', 'churn-churn-scoring'" in a["properties"]["principalId"]
    ]
    on_workspace = [
        a for a in pods if a["scope"] == "Microsoft.MachineLearningServices/workspaces/mlw-churn-dev"
    ]
    assert [role_guid(a) for a in on_workspace] == [READER]


def test_an_identity_by_client_id_only_still_validates_but_warns_what_is_missing(tmp_path: Path) -> None:
    spec = contract_with(tmp_path, given_identity())
    report = api.validate_file(spec, ["dev"])
    assert not [d for d in report.diagnostics if d.severity is Severity.ERROR]
    warned = [d for d in report.diagnostics if d.code == "MLS653"]
    assert [d.path for d in warned] == [("deployment", "identity", "client_id")]
    message = warned[0].message
    assert "federated credential" in message and "system:serviceaccount:churn:churn-scoring" in message
    assert "Reader" in message and "Key Vault Secrets User" in message
    assert warned[0].hint is not None and "name" in warned[0].hint
    build(spec, "dev", tmp_path / "out")
    types = {r["type"] for r in template_of(tmp_path / "out")["resources"]}
    assert CREDENTIAL_TYPE not in types and IDENTITY_TYPE not in types


def test_an_identity_with_its_object_id_but_no_name_gets_roles_and_a_warning(tmp_path: Path) -> None:
    object_id = "33333333-3333-3333-3333-333333333333"
    spec = contract_with(tmp_path, given_identity(object_id=object_id))
    result = build(spec, "dev", tmp_path / "out")
    warned = [d for d in result.diagnostics if d.code == "MLS653"]
    assert len(warned) == 1 and "federated credential" in warned[0].message
    assert "no role assignment" not in warned[0].message
    roles = {
        role_guid(a) for a in assignments(tmp_path / "out") if a["properties"]["principalId"] == object_id
    }
    # Reader loads the model, Key Vault Secrets User mounts the secrets, the contributor writes the prediction log
    assert roles == {READER, SECRETS_USER, BUILT_IN_ROLES["Storage Blob Data Contributor"]}


def test_a_named_identity_is_silent_and_its_name_is_checked(tmp_path: Path) -> None:
    named = api.validate_file(contract_with(tmp_path / "a", given_identity(name="id-churn-scoring")), ["dev"])
    assert [d.code for d in named.diagnostics if d.code.startswith("MLS65")] == []
    bad = api.validate_file(contract_with(tmp_path / "b", given_identity(name="-x")), ["dev"])
    assert [(d.code, d.path) for d in bad.diagnostics if d.code == "MLS401"] == [
        ("MLS401", ("deployment", "identity", "name"))
    ]


# --- item 6: never a client id as principalId --------------------------------------------------------------


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_no_principal_is_a_client_id(spec: Path, env: str, tmp_path: Path) -> None:
    d = deployment_of(spec, env)
    build(spec, env, tmp_path)
    for assignment in assignments(tmp_path):
        principal = assignment["properties"]["principalId"]
        assert GUID.fullmatch(principal) or OBJECT_ID_EXPRESSION.fullmatch(principal), principal
        assert principal.lower() != d["identity"].client_id.lower()


def test_a_grant_naming_the_client_id_is_refused_at_its_principal(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        given_identity(name="id-churn-scoring")(data)
        data["access"]["grants"].append(
            {
                "principal": {"service_principal": OLD_IDENTITY["client_id"].upper()},
                "role": "Key Vault Secrets User",
                "scope": "key_vault",
            }
        )

    found = [d for d in errors_of(contract_with(tmp_path, change), tmp_path) if d.code == "MLS654"]
    assert [d.path for d in found] == [("access", "grants", 1, "principal")]
    assert "object id" in found[0].message


def test_an_object_id_equal_to_the_client_id_is_refused(tmp_path: Path) -> None:
    spec = contract_with(tmp_path, given_identity(name="id-x", object_id=OLD_IDENTITY["client_id"]))
    found = [d for d in errors_of(spec, tmp_path) if d.code == "MLS654"]
    assert [d.path for d in found] == [("deployment", "identity", "object_id")]


def test_an_object_id_that_is_no_guid_is_refused(tmp_path: Path) -> None:
    spec = contract_with(tmp_path, given_identity(object_id="not-a-guid"))
    found = [d for d in errors_of(spec, tmp_path) if d.code == "MLS411"]
    assert [d.path for d in found] == [("deployment", "identity", "object_id")]
