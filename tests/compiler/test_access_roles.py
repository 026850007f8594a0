"""The built-in role table and the spec check that a grant's role is one of them (MLS321)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from mlspec import api
from mlspec.spec_schema.checks import CheckContext
from mlspec.spec_schema.checks.roles import check_roles
from mlspec.spec_schema.roles import (
    BUILT_IN_ROLES,
    SYNAPSE_WORKSPACE_ROLES,
    canonical_role_name,
    role_definition_guid,
)

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
REQUIRED = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "Key Vault Reader": "21090545-7ca7-4776-b22c-e363652d74d2",
    "AzureML Data Scientist": "f6c7c914-8db3-469d-8ca1-694a8f32e121",
    "AzureML Compute Operator": "e503ece1-11d0-4e8e-8e2c-7a6c3bf38815",
    "Azure Kubernetes Service Cluster User Role": "4abbcc35-e782-43d8-92c5-2d3f1bd2253f",
    "Azure Kubernetes Service RBAC Reader": "7f6c6a51-bcf8-42ba-9220-52d62157d7db",
    "Azure Kubernetes Service RBAC Writer": "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb",
    "Monitoring Reader": "43d0d8ad-25c7-4714-9337-8ba259a9fe05",
    "Monitoring Contributor": "749f88d5-cbae-40b8-bcfc-e573ddc772fa",
    "Log Analytics Reader": "73c42c96-874c-492b-b04d-ab87d138a893",
}


def test_the_table_holds_the_required_roles_with_their_documented_guids() -> None:
    for name, guid in REQUIRED.items():
        assert BUILT_IN_ROLES[name] == guid


def test_every_guid_is_a_lowercase_guid_and_unique() -> None:
    assert all(GUID.fullmatch(g) for g in BUILT_IN_ROLES.values())
    assert len(set(BUILT_IN_ROLES.values())) == len(BUILT_IN_ROLES)


def test_names_match_case_insensitively_and_guids_pass_through() -> None:
    assert role_definition_guid("storage blob data reader") == REQUIRED["Storage Blob Data Reader"]
    assert canonical_role_name("acrpull") == "AcrPull"
    assert (
        role_definition_guid("0A1B2C3D-0000-4000-8000-000000000000") == "0a1b2c3d-0000-4000-8000-000000000000"
    )
    assert role_definition_guid("Synapse Administrator") is None
    assert role_definition_guid("Storage Blob Reader") is None


def _check(tmp_path: Path, roles: list[str]) -> list[tuple[str, str, tuple[object, ...], int]]:
    data = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    principal = {"group": "00000000-0000-0000-0000-000000000000"}
    data["access"]["grants"] = [
        {"principal": principal, "role": r, "scope": "machine_learning"} for r in roles
    ]
    path = tmp_path / "mlproject.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    resolved = api.resolve(api.load(path), "dev")
    assert resolved.model is not None
    found = list(check_roles(CheckContext(resolved.spec, resolved.model)))
    lines = path.read_text(encoding="utf-8").splitlines()
    for d in found:
        assert d.location is not None and "role:" in lines[d.location.line - 1]
    return [(d.code, d.severity.value, d.path, d.location.line if d.location else 0) for d in found]


def test_unknown_and_synapse_roles_are_errors_at_the_role_line(tmp_path: Path) -> None:
    found = _check(
        tmp_path,
        ["Reader", "Storage Blob Reader", "Synapse Administrator", "12345678-1234-1234-1234-123456789abc"],
    )
    assert [(code, severity, path) for code, severity, path, _ in found] == [
        ("MLS321", "error", ("access", "grants", 1, "role")),
        ("MLS321", "error", ("access", "grants", 2, "role")),
    ]
    assert sorted(SYNAPSE_WORKSPACE_ROLES)[0].startswith("Synapse")


def test_a_miscased_role_is_a_warning(tmp_path: Path) -> None:
    found = _check(tmp_path, ["acrpull"])
    assert [(code, severity) for code, severity, _, _ in found] == [("MLS321", "warning")]
