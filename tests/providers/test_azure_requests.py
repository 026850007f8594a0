"""What the Azure provider sends, request by request, through the SDKs' own pipelines (retry, polling,
error mapping as in production) against :class:`FakeAzure`: method, path, api-version and body of every
call for ARM resources and Synapse artifacts, what Azure's answers turn into (404 → create, what-if
changes → drift and update, 409/429/5xx, long-running operations), and one-line errors."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from typing import Any

import pytest

pytest.importorskip("azure.mgmt.resource.deployments")
pytest.importorskip("azure.synapse.artifacts")

from mlspec.contract.graph import Address, canonical_json
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import MlspecError
from mlspec.providers.azure import AzureProvider
from mlspec.providers.azure.arm import DEPLOYMENT_NAME_LIMIT
from mlspec.providers.azure.credentials import credential_cause, default_credential
from mlspec.providers.base import DeployRequest, ProviderError, ProviderResult
from tests.providers.azure_fake import CONNECTION_STRING, TENANT, FakeAzure
from tests.providers.test_azure_provider_contract import RESOURCE_GROUP, SUBSCRIPTION, azure_provider

DEPLOYMENTS_API = "2026-06-01"  # azure-mgmt-resource-deployments 2.0's; a new SDK version shows here first
RG_PATH = f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{RESOURCE_GROUP}"
DEPLOYMENTS = f"{RG_PATH}/providers/Microsoft.Resources/deployments"

ACTION_GROUP = Address("monitor", "action_group", "churn-notify")
ACTION_GROUP_PROPERTIES: dict[str, Any] = {
    "apiVersion": "2023-01-01",
    "location": "Global",
    "name": "churn-notify",
    "properties": {
        "enabled": True,
        "groupShortName": "churn-ntf",
        "emailReceivers": [
            {"emailAddress": "oncall@contoso.com", "name": "email-1", "useCommonAlertSchema": True}
        ],
    },
    "tags": {"mlspec-project": "churn", "team": "customer-analytics"},
    "type": "Microsoft.Insights/actionGroups",
}
RULE = Address("monitor", "log_alert", "auc-drop")
NOTEBOOK = Address("synapse", "notebook", "billing_history")
NOTEBOOK_TYPE = "Microsoft.Synapse/workspaces/notebooks"


def request_for(address: Address, provider_type: str, properties: Any) -> DeployRequest:
    return DeployRequest(
        address=address,
        provider_type=provider_type,
        payload=Payload.hashed(provider_type, properties, {}),
        files={},
    )


def action_group(properties: dict[str, Any] | None = None) -> DeployRequest:
    return request_for(
        ACTION_GROUP,
        "arm:Microsoft.Insights/actionGroups",
        properties or copy.deepcopy(ACTION_GROUP_PROPERTIES),
    )


def recorded(request: DeployRequest, result: ProviderResult) -> ResourceState:
    return ResourceState(request.provider_type, request.payload, result.provider_id, dict(result.outputs))


@pytest.fixture
def fake() -> FakeAzure:
    return FakeAzure(SUBSCRIPTION, RESOURCE_GROUP)


@pytest.fixture
def provider(fake: FakeAzure) -> AzureProvider:
    return azure_provider(fake)


# --- ARM: create ----------------------------------------------------------------------------------


def test_create_asks_what_if_then_deploys_a_one_resource_incremental_template(
    fake: FakeAzure, provider: AzureProvider
) -> None:
    result = provider.create(action_group())
    deployment = provider.arm.deployment_name(ACTION_GROUP)
    assert deployment.startswith("mlspec-contract-dev-monitor.action_group.churn-notify-")
    calls = [(r.method, r.path.lower(), r.api_version) for r in fake.sent()]
    assert calls == [
        ("POST", f"{DEPLOYMENTS}/{deployment}/whatIf".lower(), DEPLOYMENTS_API),
        ("PUT", f"{DEPLOYMENTS}/{deployment}".lower(), DEPLOYMENTS_API),
        ("GET", f"{DEPLOYMENTS}/{deployment}".lower(), DEPLOYMENTS_API),  # the LRO's final read
    ]
    put = fake.sent("PUT")[0]
    expected_resource = {
        **ACTION_GROUP_PROPERTIES,
        "tags": {"mlspec-project": "contract", "team": "customer-analytics", "mlspec-env": "dev"},
    }
    assert put.body == {
        "properties": {
            "mode": "Incremental",
            "template": {
                "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0",
                "resources": [expected_resource],
            },
        },
        "tags": {
            "mlspec-address": str(ACTION_GROUP),
            "mlspec-env": "dev",
            "mlspec-hash": action_group().payload.hash,
            "mlspec-project": "contract",
        },
    }
    assert put.headers["Authorization"] == "Bearer fake-token"
    assert fake.sent("POST")[0].body == {
        "properties": put.body["properties"]
    }  # what-if sees the same template
    assert result.provider_id == (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Insights/actionGroups/churn-notify"
    )
    assert result.outputs == {}
    polls = [r for r in fake.requests if "/operations/" in r.path]
    assert len(polls) >= 3, "the what-if and the deployment are long-running operations, polled to the end"


def test_depends_on_is_left_to_mlspecs_graph(fake: FakeAzure, provider: AzureProvider) -> None:
    properties = {
        "apiVersion": "2023-12-01",
        "name": "churn-auc-drop",
        "type": "Microsoft.Insights/scheduledQueryRules",
        "location": "westeurope",
        "dependsOn": ["[resourceId('Microsoft.Insights/actionGroups', 'churn-notify')]"],
        "properties": {"enabled": True, "actions": {"actionGroups": ["[resourceId('x', 'y')]"]}},
    }
    provider.create(request_for(RULE, "arm:Microsoft.Insights/scheduledQueryRules", properties))
    [resource] = fake.sent("PUT")[0].body["properties"]["template"]["resources"]
    assert "dependsOn" not in resource  # naming a resource outside the template would fail the deployment
    assert resource["properties"]["actions"]["actionGroups"] == ["[resourceId('x', 'y')]"]  # ARM evaluates it


def test_producers_read_their_outputs_in_the_template(fake: FakeAzure, provider: AzureProvider) -> None:
    identity = Address("access", "identity", "churn-scoring")
    properties = {
        "apiVersion": "2023-01-31",
        "name": "id-churn-scoring/churn-prod-churn-scoring",
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        "properties": {
            "audiences": ["api://AzureADTokenExchange"],
            "issuer": "[reference(x).issuer]",
            "subject": "s",
        },
    }
    result = provider.create(
        request_for(
            identity,
            "arm:Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
            properties,
        )
    )
    outputs = fake.sent("PUT")[0].body["properties"]["template"]["outputs"]
    identity_ref = "reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', 'id-churn-scoring'), '2023-01-31')"
    assert outputs == {
        "client_id": {"type": "string", "value": f"[{identity_ref}.clientId]"},
        "principal_id": {"type": "string", "value": f"[{identity_ref}.principalId]"},
    }
    assert set(result.outputs) == {"client_id", "principal_id"}
    assert result.provider_id.endswith(
        "/Microsoft.ManagedIdentity/userAssignedIdentities/id-churn-scoring/federatedIdentityCredentials/churn-prod-churn-scoring"
    )


def test_a_long_address_gets_a_deployment_name_within_the_limit_and_still_unique(
    provider: AzureProvider,
) -> None:
    long_one = Address("access", "role_assignment", "aml-compute-storage-blob-data-contributor-" + "x" * 60)
    other = Address(
        "access", "role_assignment", "aml-compute-storage-blob-data-contributor-" + "x" * 59 + "y"
    )
    names = {provider.arm.deployment_name(long_one), provider.arm.deployment_name(other)}
    assert len(names) == 2
    assert all(len(n) <= DEPLOYMENT_NAME_LIMIT for n in names)
    assert all(n.startswith("mlspec-contract-dev-access.role_assignment.aml-") for n in names)


# --- ARM: read (what-if), update, delete ------------------------------------------------------------


def test_read_is_one_what_if_and_unchanged_is_vouched_for_by_the_hash(
    fake: FakeAzure, provider: AzureProvider
) -> None:
    request = action_group()
    current = recorded(request, provider.create(request))
    before = len(fake.sent())
    live = provider.read(ACTION_GROUP, current)
    assert [r.method for r in fake.sent()[before:]] == ["POST"]
    assert fake.sent()[-1].path.endswith("/whatIf")
    assert live is not None and live.hash == request.payload.hash


def test_an_edit_in_the_portal_is_drift_at_its_path(fake: FakeAzure, provider: AzureProvider) -> None:
    request = action_group()
    result = provider.create(request)
    stored = fake.resource(result.provider_id)
    assert stored is not None
    stored["properties"]["enabled"] = False
    stored["properties"]["emailReceivers"][0]["emailAddress"] = "someone@contoso.com"
    stored["properties"]["addedByAzure"] = "a default"  # what-if "Delete" in incremental mode: not drift
    live = provider.read(ACTION_GROUP, recorded(request, result))
    assert live is not None and live.payload.properties != request.payload.properties
    expected = copy.deepcopy(ACTION_GROUP_PROPERTIES)
    expected["properties"]["enabled"] = False
    expected["properties"]["emailReceivers"][0]["emailAddress"] = "someone@contoso.com"
    assert live.payload.properties == expected


def test_a_resource_deleted_behind_mlspecs_back_reads_as_none(
    fake: FakeAzure, provider: AzureProvider
) -> None:
    request = action_group()
    result = provider.create(request)
    fake.remove(result.provider_id)
    assert provider.read(ACTION_GROUP, recorded(request, result)) is None


def test_create_refuses_a_different_resource_already_there_and_leaves_it(
    fake: FakeAzure, provider: AzureProvider
) -> None:
    theirs = copy.deepcopy(ACTION_GROUP_PROPERTIES)
    theirs["properties"]["groupShortName"] = "someone-else"
    made = provider.create(action_group(theirs))
    with pytest.raises(ProviderError) as refused:
        provider.create(action_group())
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.message.startswith(
        f"{ACTION_GROUP}: another Microsoft.Insights/actionGroups already exists"
    )
    assert "properties.groupShortName: 'someone-else' in Azure" in diagnostic.message
    assert "import" in (diagnostic.hint or "")
    assert fake.resource(made.provider_id)["properties"]["groupShortName"] == "someone-else"  # type: ignore[index]
    assert len(fake.sent("PUT")) == 1


def test_delete_removes_the_resource_by_id_and_its_deployment_record(
    fake: FakeAzure, provider: AzureProvider
) -> None:
    request = action_group()
    result = provider.create(request)
    before = len(fake.sent())
    provider.delete(ACTION_GROUP, recorded(request, result))
    deletes = [(r.method, r.path, r.api_version) for r in fake.sent()[before:]]
    record = f"{DEPLOYMENTS}/{provider.arm.deployment_name(ACTION_GROUP)}"
    assert deletes == [
        ("GET", record, DEPLOYMENTS_API),  # the proof that mlspec made it: its record lists the id
        ("GET", DEPLOYMENTS, DEPLOYMENTS_API),  # no other project's record still lists it
        ("DELETE", result.provider_id, "2023-01-01"),  # the resource's own API version
        ("DELETE", record, DEPLOYMENTS_API),
    ]
    assert fake.resource(result.provider_id) is None
    provider.delete(ACTION_GROUP, recorded(request, result))  # again: 204s, not an error


def test_a_state_pointing_outside_what_mlspec_made_deletes_nothing(
    fake: FakeAzure, provider: AzureProvider
) -> None:
    request = action_group()
    made = provider.create(request)
    elsewhere = made.provider_id.replace(RESOURCE_GROUP, "rg-shared-network")
    fake.resources[elsewhere.lower()] = {"id": elsewhere, "type": "Microsoft.Insights/actionGroups"}
    hand_made = made.provider_id.replace("churn-notify", "someone-elses")
    fake.resources[hand_made.lower()] = {
        "id": hand_made,
        "type": "Microsoft.Insights/actionGroups",
        "tags": {},
    }
    wrong_type = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Network/virtualNetworks/vnet"
    fake.resources[wrong_type.lower()] = {"id": wrong_type}
    reasons = {
        elsewhere: "outside the environment's resource group",
        hand_made: "neither mlspec's deployment record nor the resource's tags show that mlspec made it",
        wrong_type: "it is not a Microsoft.Insights/actionGroups",
    }
    for provider_id, why in reasons.items():
        edited = ResourceState(request.provider_type, request.payload, provider_id)
        with pytest.raises(ProviderError, match=why):
            provider.delete(ACTION_GROUP, edited)
    assert fake.sent("DELETE") == []
    assert all(fake.resource(i) is not None for i in reasons)
    gone = ResourceState(request.provider_type, request.payload, elsewhere.replace("churn-notify", "gone"))
    provider.delete(ACTION_GROUP, gone)  # nothing there: nothing to delete, nothing to refuse...
    deleted = [r.path for r in fake.sent("DELETE")]
    assert deleted == [f"{DEPLOYMENTS}/{provider.arm.deployment_name(ACTION_GROUP)}"]  # ...but its own record


def test_a_resource_tagged_as_this_projects_is_deleted_without_its_record(
    fake: FakeAzure, provider: AzureProvider
) -> None:
    request = action_group()
    made = provider.create(request)
    fake.deployments.clear()  # Resource Manager pruned the deployment history
    provider.delete(ACTION_GROUP, recorded(request, made))  # its tags say contract/dev: mlspec's
    assert fake.resource(made.provider_id) is None


def test_a_retried_create_repairs_its_own_drifted_resource(fake: FakeAzure, provider: AzureProvider) -> None:
    request = action_group()
    made = provider.create(request)  # ...and the state write is lost
    stored = fake.resource(made.provider_id)
    assert stored is not None
    stored["properties"]["enabled"] = False  # then someone disables it in the portal
    again = provider.create(request)  # the rerun: mlspec's record for this payload lists the resource
    assert again.provider_id == made.provider_id
    assert fake.resource(made.provider_id)["properties"]["enabled"] is True  # type: ignore[index]


def test_a_resource_two_projects_share_outlives_either_ones_destroy(fake: FakeAzure) -> None:
    from tests.providers.test_azure_provider_contract import StaticCredential, workspace

    def project(name: str) -> AzureProvider:
        return AzureProvider(
            workspace(),
            name,
            StaticCredential(),
            {"transport": fake, "polling_interval": 0},  # type: ignore[arg-type]
        )

    table = Address("monitor", "log_table", "MlspecModelMonitoring_CL")  # the one every project writes to
    properties = {
        "apiVersion": "2022-10-01",
        "name": "log-ml/MlspecModelMonitoring_CL",
        "type": "Microsoft.OperationalInsights/workspaces/tables",
        "properties": {"plan": "Analytics"},
    }
    request = request_for(table, "arm:Microsoft.OperationalInsights/workspaces/tables", properties)
    churn, fraud = project("churn"), project("fraud")
    made = churn.create(request)
    assert "adopted" not in made.outputs
    shared = fraud.create(request)  # identical, and not fraud's: adopted
    assert shared.provider_id == made.provider_id and shared.outputs["adopted"] == "true"
    assert churn.arm.deployment_name(table) != fraud.arm.deployment_name(table)
    churn.delete(table, recorded(request, made))  # fraud's record still lists it: it stays
    assert fake.resource(made.provider_id) is not None
    fraud.delete(table, recorded(request, shared))  # adopted: fraud never deletes it either
    assert fake.resource(made.provider_id) is not None
    assert not fake.deployments, "each project's own record is gone"


def test_an_untaggable_resource_is_destroyed_when_azure_holds_what_the_state_says_was_deployed(
    fake: FakeAzure, provider: AzureProvider
) -> None:
    grant = Address("access", "role_assignment", "lake-reader")
    properties = {
        "apiVersion": "2022-04-01",
        "name": "[guid('lake', 'reader')]",
        "type": "Microsoft.Authorization/roleAssignments",
        "scope": "Microsoft.Storage/storageAccounts/lake",
        "properties": {"principalId": "p", "roleDefinitionId": "r"},
    }
    request = request_for(grant, "arm:Microsoft.Authorization/roleAssignments", properties)
    made = provider.create(request)
    fake.deployments.clear()  # the deployment history was pruned: no record proves it any more
    provider.delete(grant, recorded(request, made))  # what-if: no change from what mlspec deployed
    assert fake.resource(made.provider_id) is None


def test_a_new_resource_in_a_busy_resource_group_is_made_not_adopted(
    fake: FakeAzure, provider: AzureProvider
) -> None:
    unrelated = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Storage/storageAccounts/lake"
    fake.resources[unrelated.lower()] = {"id": unrelated, "type": "Microsoft.Storage/storageAccounts"}
    request = action_group()
    made = provider.create(request)  # what-if lists the lake as Ignore before the action group's Create
    assert "adopted" not in made.outputs
    provider.delete(ACTION_GROUP, recorded(request, made))
    assert fake.resource(made.provider_id) is None
    assert fake.resource(unrelated) is not None


def test_an_adopted_resource_stays_adopted_when_its_create_is_retried(
    fake: FakeAzure, provider: AzureProvider
) -> None:
    request = action_group()
    hand_made = dict(ACTION_GROUP_PROPERTIES, id="")
    resource_id = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Insights/actionGroups/churn-notify"
    fake.resources[resource_id.lower()] = {
        **{k: v for k, v in hand_made.items() if k != "id"},
        "id": resource_id,
        "tags": {"mlspec-project": "contract", "team": "customer-analytics", "mlspec-env": "dev"},
    }
    first = provider.create(request)  # identical, made by hand: adopted
    assert first.outputs["adopted"] == "true"
    again = provider.create(request)  # the state write was lost: mlspec's record says adopted, not made
    assert again.outputs["adopted"] == "true"
    provider.delete(ACTION_GROUP, recorded(request, again))
    assert fake.resource(resource_id) is not None, "destroy leaves what it adopted"


def test_deployment_names_never_collide_between_projects_or_environments() -> None:
    from mlspec.providers.azure.arm import ArmResources
    from mlspec.providers.azure.session import AzureSession
    from mlspec.providers.azure.workspace import AzureWorkspace

    def name(project: str, environment: str, address: Address) -> str:
        ws = AzureWorkspace.of(
            {"subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP}, environment
        )
        return ArmResources(AzureSession(ws, None), project).deployment_name(address)  # type: ignore[arg-type]

    long = "p" * 50
    assert name("a-b", "c", ACTION_GROUP) != name("a", "b-c", ACTION_GROUP)
    assert name(long, "dev", ACTION_GROUP) != name(long, "prod", ACTION_GROUP)
    assert all(
        len(name(p, e, ACTION_GROUP)) <= DEPLOYMENT_NAME_LIMIT for p in ("a", long) for e in ("dev", "prod")
    )


def test_a_tag_that_looks_like_an_index_is_a_key() -> None:
    from mlspec.providers.azure.arm import live_properties

    sent = {"tags": {"2024": "budget-a"}}
    delta = [{"path": "tags.2024", "propertyChangeType": "Modify", "before": "budget-b", "after": "budget-a"}]
    assert live_properties(sent, delta) == {"tags": {"2024": "budget-b"}}


def test_the_environments_own_resources_are_never_deleted(fake: FakeAzure, provider: AzureProvider) -> None:
    own = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Insights/components/"
        "APPI-contract-dev"
    )
    for provider_id in (own, f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"):
        current = ResourceState("arm:Microsoft.Insights/components", Payload({}, {}), provider_id)
        with pytest.raises(ProviderError, match="one of the environment's own resources"):
            provider.delete(Address("monitor", "component", "edited-state"), current)
    assert fake.sent("DELETE") == []


# --- what-if deltas, as Resource Manager writes them ---------------------------------------------------


def test_an_element_added_in_the_portal_is_drift_because_the_next_deployment_removes_it() -> None:
    from mlspec.providers.azure.arm import live_properties

    sent = {"properties": {"emailReceivers": [{"name": "email-1", "emailAddress": "a@contoso.com"}]}}
    extra = {"name": "email-2", "emailAddress": "b@contoso.com"}
    delta = [
        {
            "path": "properties.emailReceivers",
            "propertyChangeType": "Array",
            "children": [{"path": "1", "propertyChangeType": "Delete", "before": extra}],
        }
    ]
    assert live_properties(sent, delta) == {
        "properties": {"emailReceivers": [sent["properties"]["emailReceivers"][0], extra]}
    }


def test_a_modified_element_keeps_its_other_fields_and_removed_elements_keep_indices() -> None:
    from mlspec.providers.azure.arm import live_properties

    sent = {
        "properties": {
            "receivers": [
                {"name": "a", "email": "a@x"},
                {"name": "b", "email": "b@x"},
                {"name": "c", "email": "c@x"},
            ]
        },
        "tags": {"team": "ml"},
    }
    delta = [
        {
            "path": "properties.receivers",
            "propertyChangeType": "Array",
            "children": [
                {"path": "0", "propertyChangeType": "Create", "after": {"name": "a", "email": "a@x"}},
                {
                    "path": "1",
                    "propertyChangeType": "Modify",
                    "children": [
                        {"path": "email", "propertyChangeType": "Modify", "before": "b@y", "after": "b@x"}
                    ],
                },
                {"path": "2", "propertyChangeType": "Create", "after": {"name": "c", "email": "c@x"}},
            ],
        },
        {"path": "tags.owner", "propertyChangeType": "Delete", "before": "someone"},  # not mlspec's: no drift
        {"path": "properties.enabled", "propertyChangeType": "NoEffect", "before": True, "after": True},
    ]
    assert live_properties(sent, delta) == {
        "properties": {"receivers": [{"name": "b", "email": "b@y"}]},
        "tags": {"team": "ml"},
    }


def test_nothing_is_sent_with_an_unresolved_marker(fake: FakeAzure, provider: AzureProvider) -> None:
    properties = copy.deepcopy(ACTION_GROUP_PROPERTIES)
    properties["properties"]["groupShortName"] = "mlspec:output:access.identity.x.client_id"
    with pytest.raises(ProviderError, match=r"unresolved output markers: access\.identity\.x\.client_id"):
        provider.create(action_group(properties))
    notebook_file = DeployRequest(
        NOTEBOOK,
        NOTEBOOK_TYPE,
        Payload.hashed(NOTEBOOK_TYPE, {"name": "n", "properties": {}}, {}),
        files={"synapse/notebooks/n.ipynb": b'{"x": "mlspec:output:workspace.tenant_id"}'},
    )
    with pytest.raises(ProviderError, match=r"workspace\.tenant_id"):
        provider.create(notebook_file)
    assert fake.requests == []


# --- Azure's refusals ---------------------------------------------------------------------------------


def test_throttling_is_retried_by_the_sdk_honouring_retry_after(
    fake: FakeAzure, provider: AzureProvider
) -> None:
    fake.fail_next(
        "PUT", r"/deployments/", 429, "TooManyRequests", "slow down", times=2, headers={"Retry-After": "7"}
    )
    result = provider.create(action_group())
    assert result.provider_id.endswith("/actionGroups/churn-notify")
    assert len(fake.sent("PUT")) == 3
    assert 7 in fake.slept or 7.0 in fake.slept


def test_a_server_error_is_retried(fake: FakeAzure, provider: AzureProvider) -> None:
    fake.fail_next("POST", r"/whatIf$", 503, "ServiceUnavailable", "try later")
    provider.create(action_group())
    assert len(fake.sent("POST")) == 2


def test_a_conflict_is_one_line_naming_the_resource(fake: FakeAzure, provider: AzureProvider) -> None:
    fake.fail_next(
        "PUT",
        r"/deployments/",
        409,
        "DeploymentActive",
        "Unable to edit or replace deployment: still active.",
    )
    with pytest.raises(ProviderError) as failed:
        provider.create(action_group())
    [diagnostic] = failed.value.diagnostics
    assert diagnostic.code == "MLS820"
    assert diagnostic.message == (
        f"{ACTION_GROUP}: 409 on deploy (DeploymentActive): Unable to edit or replace deployment: still active."
    )
    assert "\n" not in diagnostic.message
    assert "try again" in (diagnostic.hint or "")


def test_a_missing_role_says_which_one(fake: FakeAzure, provider: AzureProvider) -> None:
    fake.fail_next(
        "POST",
        r"/whatIf$",
        403,
        "AuthorizationFailed",
        "The client 'x' with object id 'y' does not have authorization to perform action "
        "'Microsoft.Resources/deployments/whatIf/action' over scope '/subscriptions/s/resourcegroups/rg'.",
    )
    with pytest.raises(ProviderError) as failed:
        provider.create(action_group())
    [diagnostic] = failed.value.diagnostics
    assert diagnostic.message.startswith(f"{ACTION_GROUP}: 403 on what-if (AuthorizationFailed): The client")
    assert (diagnostic.hint or "").startswith("the deploying identity needs Contributor")


def test_a_role_assignment_refused_inside_a_deployment_names_the_role_that_writes_them(
    fake: FakeAzure, provider: AzureProvider
) -> None:
    fake.fail_next_deployment(
        {
            "code": "DeploymentFailed",
            "message": "At least one resource deployment operation failed.",
            "details": [
                {"code": "AuthorizationFailed", "message": "The client does not have authorization."}
            ],
        }
    )
    properties = {
        "apiVersion": "2022-04-01",
        "name": "[guid('x')]",
        "type": "Microsoft.Authorization/roleAssignments",
        "scope": "Microsoft.Storage/storageAccounts/lake",
        "properties": {"principalId": "p", "roleDefinitionId": "r"},
    }
    address = Address("access", "role_assignment", "lake-reader")
    with pytest.raises(ProviderError) as failed:
        provider.create(request_for(address, "arm:Microsoft.Authorization/roleAssignments", properties))
    [diagnostic] = failed.value.diagnostics
    assert (
        diagnostic.message
        == f"{address}: deploy failed (AuthorizationFailed): The client does not have authorization."
    )
    assert (diagnostic.hint or "").startswith(
        "the deploying identity needs Role Based Access Control Administrator"
    )


def test_an_unreachable_azure_is_one_line_not_an_internal_error(
    fake: FakeAzure, provider: AzureProvider
) -> None:
    from azure.core.exceptions import ServiceRequestError

    def unreachable(request: Any, **kwargs: Any) -> Any:
        raise ServiceRequestError(
            "Failed to resolve 'management.azure.com' ([Errno -3] Temporary failure in name resolution)"
        )

    fake.send = unreachable  # type: ignore[method-assign]
    with pytest.raises(ProviderError) as failed:
        provider.create(action_group())
    [diagnostic] = failed.value.diagnostics
    assert diagnostic.message.startswith(
        f"{ACTION_GROUP}: what-if failed: Azure could not be reached (ServiceRequestError)"
    )
    assert "HTTPS_PROXY" in (diagnostic.hint or "")


def test_a_failed_deployment_reports_its_deepest_cause(fake: FakeAzure, provider: AzureProvider) -> None:
    fake.fail_next_deployment(
        {
            "code": "DeploymentFailed",
            "message": "At least one resource deployment operation failed. Please list deployment operations.",
            "details": [
                {"code": "BadRequest", "message": "Short name 'churn-notify-too-long' is\n longer than 12."}
            ],
        }
    )
    with pytest.raises(ProviderError) as failed:
        provider.create(action_group())
    message = failed.value.diagnostics[0].message
    assert "(BadRequest): Short name 'churn-notify-too-long' is longer than 12." in message
    assert "\n" not in message


# --- Synapse artifacts --------------------------------------------------------------------------------


def notebook(revision: int = 0) -> DeployRequest:
    properties = {
        "name": "billing_history",
        "properties": {
            "bigDataPool": {"referenceName": "sparkpool01", "type": "BigDataPoolReference"},
            "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": [f"print({revision})"]}],
            "metadata": {"language_info": {"name": "python"}},
            "nbformat": 4,
            "nbformat_minor": 2,
        },
    }
    return request_for(NOTEBOOK, NOTEBOOK_TYPE, properties)


def test_a_notebook_is_put_as_the_build_wrote_it(fake: FakeAzure, provider: AzureProvider) -> None:
    request = notebook()
    result = provider.create(request)
    calls = [(r.method, r.host, r.path, r.api_version) for r in fake.sent()]
    host = "syn-contract-dev.dev.azuresynapse.net"
    assert calls[:2] == [
        ("GET", host, "/notebooks/billing_history", "2020-12-01"),  # 404: nothing there, so create
        ("PUT", host, "/notebooks/billing_history", "2020-12-01"),
    ]
    put = fake.sent("PUT")[0]
    assert put.body == request.payload.properties
    assert json.dumps(put.body, sort_keys=True, separators=(",", ":")).encode() == canonical_json(put.body)
    assert result.provider_id.endswith("/workspaces/syn-contract-dev/notebooks/billing_history")


def test_synapse_defaults_are_not_drift_but_an_edit_is(fake: FakeAzure, provider: AzureProvider) -> None:
    request = notebook()
    result = provider.create(request)
    stored = fake.artifacts[("notebooks", "billing_history")]
    stored["properties"]["sessionProperties"] = {"driverMemory": "28g"}  # Synapse Studio adds these
    stored["properties"]["cells"][0]["metadata"]["collapsed"] = False
    live = provider.read(NOTEBOOK, recorded(request, result))
    assert live is not None and live.hash == request.payload.hash
    stored["properties"]["cells"][0]["source"] = ["print('edited in Studio')"]
    live = provider.read(NOTEBOOK, recorded(request, result))
    assert live is not None
    assert live.payload.properties["properties"]["cells"][0]["source"] == ["print('edited in Studio')"]


def test_a_notebook_update_and_delete(fake: FakeAzure, provider: AzureProvider) -> None:
    first = notebook(0)
    current = recorded(first, provider.create(first))
    provider.update(notebook(1), current)
    assert fake.artifacts[("notebooks", "billing_history")]["properties"]["cells"][0]["source"] == [
        "print(1)"
    ]
    provider.delete(NOTEBOOK, current)
    assert ("notebooks", "billing_history") not in fake.artifacts
    assert fake.sent("DELETE")[-1].path == "/notebooks/billing_history"
    provider.delete(NOTEBOOK, current)  # a retried delete: 204


def test_an_identical_notebook_found_at_create_is_adopted_and_delete_leaves_it(
    fake: FakeAzure, provider: AzureProvider
) -> None:
    """Synapse artifacts carry no tags: an identical notebook at the name may be another project's
    (or one made by hand) as well as this create's own before a lost state write. It is adopted, not
    sent again, and destroy leaves it (a crash-retry leaks a notebook rather than delete another's)."""
    made = provider.create(notebook())  # another project's, or the create this one retries
    assert made.outputs == {}
    planted = copy.deepcopy(fake.artifacts[("notebooks", "billing_history")])
    puts = len(fake.sent("PUT"))
    adopted = provider.create(notebook())
    assert adopted.provider_id == made.provider_id and adopted.outputs == {"adopted": "true"}
    assert len(fake.sent("PUT")) == puts, "adopted as it is: nothing sent"
    current = recorded(notebook(), adopted)
    live = provider.read(NOTEBOOK, current)
    assert live is not None and live.hash == notebook().payload.hash
    updated = provider.update(notebook(), current)
    assert updated.outputs == {"adopted": "true"}
    provider.delete(NOTEBOOK, recorded(notebook(), updated))
    assert not fake.sent("DELETE")
    assert fake.artifacts[("notebooks", "billing_history")]["properties"] == planted["properties"]
    provider.delete(NOTEBOOK, recorded(notebook(), made))  # the entry of the create that made it
    assert ("notebooks", "billing_history") not in fake.artifacts


def test_a_different_notebook_found_at_create_is_refused(fake: FakeAzure, provider: AzureProvider) -> None:
    provider.create(notebook(1))
    with pytest.raises(ProviderError, match="already exists in syn-contract-dev and differs"):
        provider.create(notebook(0))
    assert fake.artifacts[("notebooks", "billing_history")]["properties"]["cells"][0]["source"] == [
        "print(1)"
    ]
    assert len(fake.sent("PUT")) == 1


def test_a_synapse_403_names_the_role(fake: FakeAzure, provider: AzureProvider) -> None:
    fake.fail_next(
        "GET",
        r"^/notebooks/",
        403,
        "Unauthorized",
        "The principal does not have the required Synapse RBAC permission",
    )
    with pytest.raises(ProviderError) as failed:
        provider.create(notebook())
    [diagnostic] = failed.value.diagnostics
    assert diagnostic.message.startswith(f"{NOTEBOOK}: 403 on read (Unauthorized): The principal")
    assert "Synapse Artifact Publisher on syn-contract-dev" in (diagnostic.hint or "")


# --- the workspace's own values -----------------------------------------------------------------------


def test_target_outputs_read_the_subscription_and_application_insights_once(
    fake: FakeAzure, provider: AzureProvider
) -> None:
    assert provider.target_outputs() == {
        "tenant_id": TENANT,
        "application_insights_connection_string": CONNECTION_STRING,
    }
    provider.target_outputs()
    calls = [(r.method, r.path, r.api_version) for r in fake.sent()]
    assert calls == [
        ("GET", f"/subscriptions/{SUBSCRIPTION}", "2022-12-01"),
        (
            "GET",
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Insights/components/appi-contract-dev",
            "2020-02-02",
        ),
    ]


# --- credentials and imports --------------------------------------------------------------------------


def test_no_credentials_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in list(os.environ):
        if name.startswith(("AZURE_", "IDENTITY_", "MSI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PATH", str(tmp_path))  # no az, azd or pwsh to ask
    monkeypatch.setenv("HOME", str(tmp_path))  # no token caches
    with pytest.raises(MlspecError) as raised:
        default_credential("https://management.azure.com/.default", "prod")
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == "MLS816"
    assert diagnostic.message == (
        "no Azure credentials for environment 'prod': no sign-in was found (environment, workload identity, "
        "managed identity, Azure CLI)"
    )
    assert "az login" in (diagnostic.hint or "") and "AZURE_FEDERATED_TOKEN_FILE" in (diagnostic.hint or "")


def test_a_credential_that_was_found_but_refused_is_the_cause_shown() -> None:
    text = (
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
        "Attempted credentials:\n"
        "\tEnvironmentCredential: EnvironmentCredential authentication unavailable. Environment variables are not fully configured.\n"
        "\tAzureCliCredential: AADSTS700082: The refresh token has expired due to inactivity.\n"
    )
    assert credential_cause(RuntimeError(text)) == (
        "AzureCliCredential: AADSTS700082: The refresh token has expired due to inactivity."
    )


def test_importing_the_provider_imports_no_sdk() -> None:
    code = (
        "import sys, mlspec.providers.azure, mlspec.providers.registry\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('azure.', 'kubernetes')))\n"
        "print(loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
