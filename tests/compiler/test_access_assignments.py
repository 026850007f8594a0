"""Role assignments Azure accepts on a first deploy (issue 11, items 7 and 8).

7. One assignment per principal, role definition and scope, compared as Azure resolves them: a grant
   repeating an automatic assignment is merged into it (the grant's description kept).
8. An assignment to an identity that another part of the build creates waits for it: the manifest has
   the ``depends_on`` edge (and the template a ``dependsOn`` when the identity is in it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mlspec import api
from mlspec.compiler.access import scopes
from mlspec.compiler.access.assignment import Assignment
from mlspec.compiler.access.identities import literal_principal, synapse_workspace
from mlspec.compiler.access.template import TEMPLATE_FILE
from mlspec.compiler.build import resolve_pointer
from mlspec.spec_schema.resolve import environment_names
from mlspec.spec_schema.roles import BUILT_IN_ROLES
from tests.compiler.access_support import CONTRACT, assignments, build, contract_with, template_of

ROOT = Path(__file__).resolve().parents[2]
SPECS = [CONTRACT, *sorted(ROOT.glob("projects/*/mlproject.yaml"))]
CASES = [(spec, env) for spec in SPECS for env in environment_names(api.load(spec))]
IDS = [f"{s.parent.name}-{e}" for s, e in CASES]
SECRETS_USER = BUILT_IN_ROLES["Key Vault Secrets User"]
# reference(resourceId('<type>', '<name>', ...), ...): the resource whose identity a principal is
REFERENCE = re.compile(r"^\[reference\(resourceId\((?P<args>'[^)]*')\)")


# --- item 7: no duplicate assignments ----------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_no_two_assignments_share_principal_role_and_scope(spec: Path, env: str, tmp_path: Path) -> None:
    build(spec, env, tmp_path)
    keys = [
        (
            a["properties"]["principalId"].lower(),
            a["properties"]["roleDefinitionId"].lower(),
            str(a.get("scope", "")).lower(),
        )
        for a in assignments(tmp_path)
    ]
    assert len(keys) == len(set(keys))


def test_a_grant_repeating_an_automatic_assignment_is_merged_keeping_its_description(tmp_path: Path) -> None:
    object_id = "44444444-4444-4444-4444-44444444abcd"

    def change(data: dict[str, Any]) -> None:
        data["deployment"]["identity"] = {
            "client_id": "22222222-2222-2222-2222-222222222222",
            "object_id": object_id,
            "name": "id-churn-scoring",
        }
        data["access"]["grants"].append(
            {
                "principal": {"service_principal": object_id.upper()},  # the same object id, spelt otherwise
                "role": "key vault secrets user",
                "scope": "key_vault",
                "description": "the pods read the CRM key",
            }
        )

    result = build(contract_with(tmp_path, change), "dev", tmp_path / "out")
    same = [
        a
        for a in assignments(tmp_path / "out")
        if a["properties"]["principalId"].lower() == object_id
        and a["properties"]["roleDefinitionId"].endswith(f"'{SECRETS_USER}')]")
    ]
    assert len(same) == 1
    assert same[0]["scope"] == "Microsoft.KeyVault/vaults/kv-churn-dev"
    assert same[0]["properties"]["description"] == "the pods read the CRM key"
    assert same[0]["properties"]["principalType"] == "ServicePrincipal"
    # one resource in the graph, located at the grant the user wrote
    at_it = [
        r
        for r in result.manifest.resources
        if TEMPLATE_FILE in r.files and resolve_pointer(template_of(tmp_path / "out"), r.pointer) == same[0]
    ]
    assert len(at_it) == 1 and at_it[0].source == ("access", "grants", 1)


def test_merging_compares_resolved_scopes_and_object_ids() -> None:
    """``scope: customer_features`` and the container its path is in are one scope; object ids ignore case."""
    from mlspec.compiler.access.merge import merge  # here: the rest of the file runs on any version

    model = api.resolve(api.load(CONTRACT), "dev").model
    assert model is not None
    role = "Storage Blob Data Reader"
    guid = BUILT_IN_ROLES[role]
    url = model.transforms["customer_features"].output.path
    object_id = "55555555-5555-5555-5555-55555555abcd"
    grant = Assignment(
        literal_principal("service_principal", object_id.upper()),
        role,
        guid,
        scopes.grant_scope(model, "customer_features"),
        ("access", "grants", 0),
        "written by the user",
    )
    automatic = Assignment(
        literal_principal("service_principal", object_id),
        role,
        guid,
        scopes.container_scope(url),
        ("deployment",),
        "automatic",
        depends_on=[],
    )
    other = Assignment(
        synapse_workspace("syn-churn-dev"),
        role,
        guid,
        scopes.container_scope(url),
        ("transforms",),
        "synapse",
    )
    merged = merge([grant], [automatic, other])
    assert [(a.why, a.source) for a in merged] == [
        ("written by the user", ("access", "grants", 0)),
        ("synapse", ("transforms",)),
    ]
    assert merged[0].label == automatic.label  # the automatic address: the grant can come and go in place


# --- item 8: an assignment waits for the identity it grants to ---------------------------------------------


def _owner_address(principal: str, produced: dict[str, str]) -> str | None:
    """The manifest address of the resource whose identity ``principal`` reads, when the build makes it."""
    match = REFERENCE.match(principal)
    if match is None:
        return None
    parts = [p.strip().strip("'") for p in match["args"].split(",")]
    return produced.get("/".join(parts))


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_every_assignment_depends_on_the_identity_the_build_creates(
    spec: Path, env: str, tmp_path: Path
) -> None:
    result = build(spec, env, tmp_path)
    data = template_of(tmp_path)
    # what the build creates that has an identity, by ARM type and names
    produced: dict[str, str] = {}
    model = api.resolve(api.load(spec), env).model
    assert model is not None
    for resource in result.manifest.resources:
        address = resource.address
        if (address.service, address.kind) == ("aml", "compute"):
            ws = model.workspace.machine_learning
            produced[f"Microsoft.MachineLearningServices/workspaces/computes/{ws}/{address.name}"] = str(
                address
            )
        elif (address.service, address.kind) == ("monitor", "retrain_trigger"):
            produced[f"Microsoft.Logic/workflows/{address.name}"] = str(address)
        elif resource.provider_type == "arm:Microsoft.ManagedIdentity/userAssignedIdentities":
            name = resolve_pointer(data, resource.pointer)["name"]
            produced[f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}"] = str(address)
    checked = 0
    for resource in result.manifest.resources:
        if (resource.address.service, resource.address.kind) != ("access", "role_assignment"):
            continue
        part = resolve_pointer(data, resource.pointer)
        owner = _owner_address(part["properties"]["principalId"], produced)
        if owner is None:
            continue
        checked += 1
        assert owner in {str(d) for d in resource.depends_on}, (str(resource.address), owner)
        if owner.startswith("access."):  # in this template: ARM must wait for it too
            assert any("userAssignedIdentities" in d for d in part.get("dependsOn", []))
    assert checked > 0


def test_the_compute_identity_read_waits_for_the_compute(tmp_path: Path) -> None:
    result = build(CONTRACT, "dev", tmp_path)
    by_address = {str(r.address): r for r in result.manifest.resources}
    compute = next(a for a in by_address if a.startswith("aml.compute."))
    reader = next(a for a in by_address if a.startswith("access.role_assignment.aml-compute-"))
    assert compute in {str(d) for d in by_address[reader].depends_on}
