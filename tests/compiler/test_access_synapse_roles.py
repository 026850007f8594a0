"""Synapse RBAC: the compute identity that runs the Synapse pipeline before training gets the roles to do it.

ARM cannot create Synapse RBAC assignments, so they are their own artifact
(``access/synapse-role-assignments.json``), one resource each, applied after the compute cluster exists.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlspec import api
from mlspec.compiler.access import synapse_roles

ROOT = Path(__file__).resolve().parents[2]
CHURN = ROOT / "projects" / "churn" / "mlproject.yaml"
ON_A_SOURCE = ROOT / "tests" / "compiler" / "data" / "azureml" / "script_project" / "mlproject.yaml"


def test_the_refresh_steps_identity_may_run_the_pipeline_use_the_pools_and_read_the_runs(
    tmp_path: Path,
) -> None:
    result = api.build(CHURN, "dev", out_dir=tmp_path, environ={})
    document = json.loads((tmp_path / synapse_roles.FILE).read_text(encoding="utf-8"))
    assert document["workspace"] == "syn-churn-dev"
    assert document["endpoint"] == "https://syn-churn-dev.dev.azuresynapse.net"
    granted = {(a["role"], a["scope"]) for a in document["roleAssignments"]}
    assert granted == {
        ("Synapse Credential User", "workspaces/syn-churn-dev/credentials/WorkspaceSystemIdentity"),
        ("Synapse Compute Operator", "workspaces/syn-churn-dev/bigDataPools/sparkpool01"),  # its pool only
        ("Synapse Monitoring Operator", "workspaces/syn-churn-dev"),
    }
    # The Synapse API takes an object id: the cluster's identity, an output of the cluster, resolved at apply.
    assert {a["principalId"] for a in document["roleAssignments"]} == {
        "mlspec:output:aml.compute.cpu-cluster.principal_id"
    }
    assert {a["principalType"] for a in document["roleAssignments"]} == {"ServicePrincipal"}

    resources = [r for r in result.manifest.resources if r.address.kind == "synapse_role_assignment"]
    assert len(resources) == 3
    for resource in resources:
        assert str(resource.address).startswith("access.synapse_role_assignment.aml-compute-synapse-")
        assert resource.provider_type == "synapse:role_assignment"
        assert resource.files == [synapse_roles.FILE]
        assert [str(d) for d in resource.depends_on] == ["aml.compute.cpu-cluster"]
        index = int(resource.pointer.rsplit("/", 1)[1])
        assert resource.pointer == f"/roleAssignments/{index}"
        assert document["roleAssignments"][index]["role"] in resource.description
        assert set(resource.immutable) == {"role", "principalId", "principalType", "scope"}
        assert resource.needs == ["aml.compute.cpu-cluster.principal_id"]


def test_no_refresh_step_no_synapse_role_assignments(tmp_path: Path) -> None:
    result = api.build(ON_A_SOURCE, "dev", out_dir=tmp_path, environ={})
    assert not (tmp_path / synapse_roles.FILE).exists()
    assert not [r for r in result.manifest.resources if r.address.kind == "synapse_role_assignment"]
