"""Synapse RBAC role assignments (:mod:`mlspec.providers.azure.synapse_access`), through
``AccessControlClient``'s own pipeline (signing, retries, error mapping) against a fake of the
workspace's access-control API (``https://<ws>.dev.azuresynapse.net``, api-version 2020-12-01)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import pytest

pytest.importorskip("azure.synapse.accesscontrol")


from mlspec.contract.graph import Address
from mlspec.contract.outputs import output_marker
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.providers.azure.session import AzureSession
from mlspec.providers.azure.synapse_access import ASSIGNMENT_NAMESPACE, SynapseRoleAssignments
from mlspec.providers.azure.workspace import AzureWorkspace
from mlspec.providers.base import DeployRequest, ProviderError, ProviderResult
from tests.azure_http import FakeTransport, Recorded, http_response
from tests.azure_http import recorded as recorded_request

WORKSPACE = "syn-churn-test"
HOST = f"{WORKSPACE}.dev.azuresynapse.net"
API = "2020-12-01"
PRINCIPAL = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
OTHER_PRINCIPAL = "9b2e2c1e-5a47-4f57-8d0c-3a1f6b0e7d42"
ROLES = {  # the built-in roles' ids, as Synapse lists them
    "Synapse Administrator": "6e4bf58a-b8e1-4cc3-bbf9-d73143322b78",
    "Synapse Compute Operator": "e3844cc2-da11-4b2e-8b4a-7b1d4b9b0d4e",
    "Synapse Credential User": "5e8a8a36-4e3d-4b2c-a1b4-7d8b0c1f3a9e",
    "Synapse Monitoring Operator": "8b0b9d5b-9a1c-4a6d-b1a0-0e7f7e9b5c62",
}
ADDRESS = Address("access", "synapse_role_assignment", "aml-compute-synapse-compute-operator-pool")
POOL_SCOPE = f"workspaces/{WORKSPACE}/bigDataPools/sparkpool01"


class FakeSynapseAccess(FakeTransport):
    """The workspace's role definitions and role assignments, in memory, answering as Synapse does:
    ``404`` for a missing assignment, ``409`` for a second assignment of the same grant, ``204`` for
    the delete of a missing one."""

    def __init__(self) -> None:
        super().__init__()
        self.assignments: dict[str, dict[str, Any]] = {}
        self.failures: list[tuple[str, str, int, dict[str, str]]] = []

    def fail_next(
        self, method: str, path_start: str, status: int, headers: dict[str, str] | None = None
    ) -> None:
        self.failures.append((method, path_start, status, dict(headers or {})))

    def sent(self, method: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if method is None or r.method == method]

    def send(self, request: Any, **kwargs: Any) -> Any:
        sent, _ = recorded_request(request)
        assert sent.host == HOST, request.url
        self.requests.append(sent)
        status, headers, answer = self._answer(sent.method, sent.path, sent.query, sent.body)
        content = b"" if answer is None else json.dumps(answer).encode()
        return http_response(request, status, {"Content-Type": "application/json", **headers}, content)

    def _answer(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        for index, (f_method, f_path, f_status, f_headers) in enumerate(self.failures):
            if f_method == method and path.startswith(f_path):
                del self.failures[index]
                return f_status, f_headers, {"error": {"code": "Failed", "message": f"{f_status} on purpose"}}
        assert query.get("api-version") == API, query
        if path == "/roleDefinitions" and method == "GET":
            return 200, {}, [{"id": i, "name": n, "isBuiltIn": True} for n, i in ROLES.items()]
        if path == "/roleAssignments" and method == "GET":
            found = [
                a
                for a in self.assignments.values()
                if a["roleDefinitionId"] == query.get("roleId")
                and a["principalId"] == query.get("principalId")
                and a["scope"] == query.get("scope")
            ]
            return 200, {}, {"count": len(found), "value": found}
        assignment_id = path.removeprefix("/roleAssignments/")
        if method == "GET":
            found_one = self.assignments.get(assignment_id)
            if found_one is None:
                return 404, {}, {"error": {"code": "RoleAssignmentNotFound", "message": "not found"}}
            return 200, {}, found_one
        if method == "PUT":
            grant = (body["roleId"], body["principalId"], body["scope"])
            for existing in self.assignments.values():
                same = (existing["roleDefinitionId"], existing["principalId"], existing["scope"])
                if same == grant and existing["id"] != assignment_id:
                    message = "A role assignment with the same role, principal and scope already exists"
                    return 409, {}, {"error": {"code": "RoleAssignmentAlreadyExists", "message": message}}
            stored = {
                "id": assignment_id,
                "roleDefinitionId": body["roleId"],
                "principalId": body["principalId"],
                "scope": body["scope"],
                "principalType": body.get("principalType"),
            }
            self.assignments[assignment_id] = stored
            return 200, {}, stored
        if method == "DELETE":
            return (200 if self.assignments.pop(assignment_id, None) else 204), {}, None
        raise AssertionError(f"unexpected {method} {path}")


class StaticCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        assert scopes == ("https://dev.azuresynapse.net/.default",), scopes
        return AccessToken("fake-token", 4102444800)


def provider(fake: FakeSynapseAccess) -> SynapseRoleAssignments:
    workspace = AzureWorkspace.of(
        {
            "subscription_id": "00000000-0000-0000-0000-0000000000aa",
            "resource_group": "rg",
            "synapse": WORKSPACE,
        },
        "test",
    )
    options = {"transport": fake, "polling_interval": 0, "retry_backoff_factor": 0}
    return SynapseRoleAssignments(AzureSession(workspace, StaticCredential(), options), "churn")  # type: ignore[arg-type]


def properties(
    role: str = "Synapse Compute Operator", principal: str = PRINCIPAL, **more: Any
) -> dict[str, Any]:
    return {
        "description": "the refresh_features step runs notebooks on Spark",
        "principalId": principal,
        "principalType": "ServicePrincipal",
        "role": role,
        "scope": POOL_SCOPE,
        **more,
    }


def request(props: dict[str, Any] | None = None) -> DeployRequest:
    props = props if props is not None else properties()
    return DeployRequest(
        address=ADDRESS,
        provider_type="synapse:role_assignment",
        payload=Payload.hashed("synapse:role_assignment", props, {}),
    )


def recorded(req: DeployRequest, result: ProviderResult) -> ResourceState:
    return ResourceState(req.provider_type, req.payload, result.provider_id, dict(result.outputs))


def expected_id(role: str, principal: str, scope: str) -> str:
    return str(uuid.uuid5(ASSIGNMENT_NAMESPACE, f"{ROLES[role]}|{principal}|{scope.lower()}"))


@pytest.fixture
def fake() -> FakeSynapseAccess:
    return FakeSynapseAccess()


def test_handles_only_synapse_role_assignments() -> None:
    assert SynapseRoleAssignments.handles("synapse:role_assignment")
    assert not SynapseRoleAssignments.handles("arm:Microsoft.Authorization/roleAssignments")
    assert not SynapseRoleAssignments.handles("Microsoft.Synapse/workspaces/notebooks")


def test_create_sends_the_role_id_with_a_derived_assignment_id(fake: FakeSynapseAccess) -> None:
    result = provider(fake).create(request())
    assignment_id = expected_id("Synapse Compute Operator", PRINCIPAL, POOL_SCOPE)
    assert result.provider_id == assignment_id
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/roleDefinitions"),
        ("GET", f"/roleAssignments/{assignment_id}"),
        ("PUT", f"/roleAssignments/{assignment_id}"),
    ]
    put = fake.sent("PUT")[0]
    assert put.query == {"api-version": API}
    assert put.body == {
        "roleId": ROLES["Synapse Compute Operator"],
        "principalId": PRINCIPAL,
        "scope": POOL_SCOPE,
        "principalType": "ServicePrincipal",
    }
    assert put.headers["Authorization"] == "Bearer fake-token"


def test_the_id_differs_by_role_principal_and_scope(fake: FakeSynapseAccess) -> None:
    subject = provider(fake)
    ids = {
        subject.assignment_id(ADDRESS, properties()),
        subject.assignment_id(ADDRESS, properties(role="Synapse Administrator")),
        subject.assignment_id(ADDRESS, properties(principal=OTHER_PRINCIPAL)),
        subject.assignment_id(ADDRESS, properties(scope=f"workspaces/{WORKSPACE}")),
    }
    assert len(ids) == 4
    assert subject.assignment_id(ADDRESS, properties(description="other words")) in ids


def test_create_then_read_is_unchanged(fake: FakeSynapseAccess) -> None:
    req = request()
    result = provider(fake).create(req)
    live = provider(fake).read(ADDRESS, recorded(req, result))
    assert live is not None
    assert live.payload.content() == req.payload.content()
    assert live.hash == req.payload.hash  # vouched for: no properties compared by plan


def test_read_of_a_marker_payload_compares_what_was_sent(fake: FakeSynapseAccess) -> None:
    marker = output_marker("aml.compute.cpu-cluster", "principal_id")
    built = properties(principal=marker)
    state = ResourceState(
        "synapse:role_assignment",
        Payload.hashed("synapse:role_assignment", built, {}),
        "",
        resolved={"aml.compute.cpu-cluster.principal_id": PRINCIPAL},
    )
    result = provider(fake).create(request())  # what apply sent: the marker replaced
    state.provider_id = result.provider_id
    live = provider(fake).read(ADDRESS, state)
    assert live is not None and live.payload.properties["principalId"] == PRINCIPAL
    assert live.hash == state.payload.hash


def test_read_reports_drift_and_a_removed_assignment(fake: FakeSynapseAccess) -> None:
    req = request()
    result = provider(fake).create(req)
    fake.assignments[result.provider_id]["roleDefinitionId"] = ROLES["Synapse Administrator"]
    live = provider(fake).read(ADDRESS, recorded(req, result))
    assert live is not None
    assert live.payload.properties == properties(role="Synapse Administrator")
    assert live.hash == ""  # not vouched for: plan compares and sees the change
    fake.assignments.clear()
    assert provider(fake).read(ADDRESS, recorded(req, result)) is None


def test_a_retried_create_adopts_the_assignment_it_made(fake: FakeSynapseAccess) -> None:
    first = provider(fake).create(request())
    assert first.outputs == {}  # made by this create: mlspec's
    again = provider(fake).create(request())  # the next run, its state write lost
    assert again.provider_id == first.provider_id
    assert len(fake.sent("PUT")) == 1 and len(fake.assignments) == 1
    # The id cannot tell this retry from another project's grant: adopted, so a destroy leaks it
    # rather than revoke a grant another project may rely on.
    assert again.outputs == {"adopted": "true"}
    provider(fake).delete(ADDRESS, recorded(request(), again))
    assert not fake.sent("DELETE") and len(fake.assignments) == 1


def test_another_project_s_grant_is_adopted_and_never_revoked(fake: FakeSynapseAccess) -> None:
    """Two projects grant the same role to the same principal at the same scope: the same derived id.
    The second adopts the first's assignment; neither its destroy nor its update revokes it."""
    theirs = SynapseRoleAssignments(provider(fake).session, "fraud").create(request())
    planted = dict(fake.assignments[theirs.provider_id])
    ours = provider(fake).create(request())
    assert ours.provider_id == theirs.provider_id and ours.outputs == {"adopted": "true"}
    current = recorded(request(), ours)
    reworded = provider(fake).update(request(properties(description="reworded")), current)
    assert reworded.provider_id == ours.provider_id and reworded.outputs == {"adopted": "true"}
    fake.requests.clear()
    provider(fake).delete(ADDRESS, recorded(request(properties(description="reworded")), reworded))
    assert not fake.sent("DELETE")
    moved = provider(fake).update(request(properties(principal=OTHER_PRINCIPAL)), current)
    new_id = expected_id("Synapse Compute Operator", OTHER_PRINCIPAL, POOL_SCOPE)
    assert moved.provider_id == new_id and moved.outputs == {}  # made now: mlspec's
    assert not fake.sent("DELETE"), "the adopted grant is left in place"
    assert fake.assignments[theirs.provider_id] == planted and new_id in fake.assignments
    provider(fake).delete(ADDRESS, recorded(request(properties(principal=OTHER_PRINCIPAL)), moved))
    assert [r.path for r in fake.sent("DELETE")] == [f"/roleAssignments/{new_id}"]
    assert set(fake.assignments) == {theirs.provider_id}


BY_HAND = "0a0a0a0a-0000-4000-8000-000000000001"


def plant_by_hand(fake: FakeSynapseAccess, principal: str = PRINCIPAL) -> dict[str, Any]:
    """The grant the spec asks for, made in Synapse Studio: under an id of Synapse's, not mlspec's."""
    fake.assignments[BY_HAND] = {
        "id": BY_HAND,
        "roleDefinitionId": ROLES["Synapse Compute Operator"],
        "principalId": principal,
        "scope": POOL_SCOPE,
        "principalType": "ServicePrincipal",
    }
    return dict(fake.assignments[BY_HAND])


def test_the_same_grant_made_by_hand_is_refused_not_adopted(fake: FakeSynapseAccess) -> None:
    planted = plant_by_hand(fake)
    with pytest.raises(ProviderError) as refused:
        provider(fake).create(request())
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.message.startswith(f"{ADDRESS}: Synapse workspace {WORKSPACE} already grants")
    assert BY_HAND in diagnostic.message and "made outside mlspec" in diagnostic.message
    assert "\n" not in diagnostic.message
    hint = diagnostic.hint or ""
    assert "exists already, made outside mlspec" in hint
    assert "Synapse Studio" in hint and "drop it from the spec" in hint
    listed = [r for r in fake.sent("GET") if r.path == "/roleAssignments"]
    assert listed[0].query == {  # looked up only to name it
        "api-version": API,
        "roleId": ROLES["Synapse Compute Operator"],
        "principalId": PRINCIPAL,
        "scope": POOL_SCOPE,
    }
    assert fake.assignments == {BY_HAND: planted} and not fake.sent("DELETE")
    fake.assignments.clear()  # removed in Synapse Studio, as the hint says: mlspec makes its own
    result = provider(fake).create(request())
    assert result.provider_id == expected_id("Synapse Compute Operator", PRINCIPAL, POOL_SCOPE)


def test_delete_only_ever_deletes_mlspec_s_own_id(fake: FakeSynapseAccess) -> None:
    """A state entry an older mlspec wrote when it adopted a hand-made grant records that grant's id:
    destroying the spec must not revoke it."""
    planted = plant_by_hand(fake)
    mine = expected_id("Synapse Compute Operator", PRINCIPAL, POOL_SCOPE)
    stale = recorded(request(), ProviderResult(BY_HAND))
    assert provider(fake).read(ADDRESS, stale) is None  # mlspec's assignment does not exist
    provider(fake).delete(ADDRESS, stale)
    assert [r.path for r in fake.sent("DELETE")] == [f"/roleAssignments/{mine}"]
    assert fake.assignments == {BY_HAND: planted}


def test_update_never_removes_a_hand_made_grant_the_state_names(fake: FakeSynapseAccess) -> None:
    planted = plant_by_hand(fake)
    stale = recorded(request(), ProviderResult(BY_HAND))
    after = request(properties(principal=OTHER_PRINCIPAL))
    new = provider(fake).update(after, stale)
    new_id = expected_id("Synapse Compute Operator", OTHER_PRINCIPAL, POOL_SCOPE)
    assert new.provider_id == new_id
    old_id = expected_id("Synapse Compute Operator", PRINCIPAL, POOL_SCOPE)
    assert [r.path for r in fake.sent("DELETE")] == [f"/roleAssignments/{old_id}"]  # mlspec's: 204
    assert set(fake.assignments) == {BY_HAND, new_id} and fake.assignments[BY_HAND] == planted


def test_delete_of_an_assignment_whose_role_is_gone_sends_nothing(fake: FakeSynapseAccess) -> None:
    gone = recorded(request(properties(role="Synapse Retired Role")), ProviderResult(BY_HAND))
    provider(fake).delete(ADDRESS, gone)
    assert not fake.sent("DELETE")


def test_create_refuses_another_grant_at_the_derived_id(fake: FakeSynapseAccess) -> None:
    assignment_id = expected_id("Synapse Compute Operator", PRINCIPAL, POOL_SCOPE)
    fake.assignments[assignment_id] = {
        "id": assignment_id,
        "roleDefinitionId": ROLES["Synapse Administrator"],
        "principalId": PRINCIPAL,
        "scope": POOL_SCOPE,
    }
    with pytest.raises(ProviderError) as refused:
        provider(fake).create(request())
    [diagnostic] = refused.value.diagnostics
    assert str(ADDRESS) in diagnostic.message
    assert "delete" in (diagnostic.hint or "")
    assert not fake.sent("PUT")


def test_update_of_the_principal_makes_the_new_assignment_then_deletes_the_old(
    fake: FakeSynapseAccess,
) -> None:
    before, after = request(), request(properties(principal=OTHER_PRINCIPAL))
    old = provider(fake).create(before)
    fake.requests.clear()
    new = provider(fake).update(after, recorded(before, old))
    new_id = expected_id("Synapse Compute Operator", OTHER_PRINCIPAL, POOL_SCOPE)
    assert new.provider_id == new_id
    assert [(r.method, r.path) for r in fake.requests if r.path != "/roleDefinitions"] == [
        ("GET", f"/roleAssignments/{new_id}"),
        ("PUT", f"/roleAssignments/{new_id}"),
        ("DELETE", f"/roleAssignments/{old.provider_id}"),
    ]
    assert list(fake.assignments) == [new_id]
    again = provider(fake).update(after, recorded(before, old))  # retried: its state write lost
    assert again.provider_id == new_id and list(fake.assignments) == [new_id]
    live = provider(fake).read(ADDRESS, recorded(after, new))
    assert live is not None and live.payload.content() == after.payload.content()


def test_update_of_the_description_alone_changes_nothing_in_synapse(fake: FakeSynapseAccess) -> None:
    before = request()
    old = provider(fake).create(before)
    fake.requests.clear()
    after = request(properties(description="reworded"))
    assert provider(fake).update(after, recorded(before, old)).provider_id == old.provider_id
    assert [r.method for r in fake.requests] == ["GET", "GET"]  # role definitions, the assignment


def test_delete_and_delete_of_a_missing_assignment(fake: FakeSynapseAccess) -> None:
    req = request()
    result = provider(fake).create(req)
    provider(fake).delete(ADDRESS, recorded(req, result))
    assert not fake.assignments
    assert fake.sent("DELETE")[-1].path == f"/roleAssignments/{result.provider_id}"
    provider(fake).delete(ADDRESS, recorded(req, result))  # Synapse answers 204
    fake.fail_next("DELETE", "/roleAssignments/", 404)
    provider(fake).delete(ADDRESS, recorded(req, result))  # or 404
    assert provider(fake).read(ADDRESS, recorded(req, result)) is None


def test_an_unknown_role_lists_the_known_ones(fake: FakeSynapseAccess) -> None:
    with pytest.raises(ProviderError) as refused:
        provider(fake).create(request(properties(role="Synapse Wizard")))
    [diagnostic] = refused.value.diagnostics
    assert "'Synapse Wizard'" in diagnostic.message and WORKSPACE in diagnostic.message
    assert "Synapse Compute Operator" in (diagnostic.hint or "")
    assert "Synapse Monitoring Operator" in (diagnostic.hint or "")
    assert not fake.sent("PUT")


def test_forbidden_is_one_line_naming_the_roles_it_needs(fake: FakeSynapseAccess) -> None:
    fake.fail_next("PUT", "/roleAssignments/", 403)
    with pytest.raises(ProviderError) as refused:
        provider(fake).create(request())
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.message.startswith(f"{ADDRESS}: 403 on create")
    assert "\n" not in diagnostic.message
    assert f"needs Synapse Administrator (or Synapse Access Administrator) on {WORKSPACE}" in (
        diagnostic.hint or ""
    )


def test_throttling_is_retried_after_the_time_synapse_asks(fake: FakeSynapseAccess) -> None:
    fake.fail_next("PUT", "/roleAssignments/", 429, {"Retry-After": "7"})
    result = provider(fake).create(request())
    assert result.provider_id in fake.assignments
    assert len(fake.sent("PUT")) == 2
    assert 7 in fake.slept


def test_importing_the_module_imports_no_sdk() -> None:
    code = (
        "import sys, mlspec.providers.azure.synapse_access\n"
        "print(any(m.startswith('azure.synapse') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
