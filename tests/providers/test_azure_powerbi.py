"""Power BI projects published to Fabric (:mod:`mlspec.providers.azure.powerbi`), through azure-core's
own pipeline (bearer tokens, retries) against :class:`FakeFabric`, with the churn example's real build
of its dashboard (``projects/churn``, environment ``prod``)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.core")

from mlspec.contract.graph import Address, content_hash
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.providers.azure.powerbi import (
    FABRIC_SCOPE,
    PART_DIGESTS,
    POWERBI_SCOPE,
    PowerBIReports,
    by_connection,
    layout_of,
    normal_form,
    part_digest,
    restore_by_path,
)
from mlspec.providers.azure.session import AzureSession
from mlspec.providers.azure.workspace import AzureWorkspace
from mlspec.providers.base import DeployRequest, ProviderError, ProviderResult
from tests.providers.fabric_fake import FakeFabric, resaved

REPO = Path(__file__).resolve().parents[2]
ADDRESS = Address("powerbi", "report", "churn-dashboard")
WORKSPACE = "Churn Analytics"
WS_ID = "5d1b6a3e-0000-4000-8000-00000000c4a1"
OTHER_WORKSPACES = {
    "11111111-0000-4000-8000-000000000001": "Sales",
    "22222222-0000-4000-8000-000000000002": "Finance",
}
ROOT = "powerbi/churn-dashboard"
MODEL = f"{ROOT}/churn-dashboard.SemanticModel"
REPORT = f"{ROOT}/churn-dashboard.Report"
TABLE = f"{MODEL}/definition/tables/predictions.tmdl"
PAGES = f"{REPORT}/definition/pages/pages.json"
FABRIC_HOST = "api.fabric.microsoft.com"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The dashboard's resource as the churn example's build writes it, and its files."""
    out = tmp_path_factory.mktemp("churn-prod")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mlspec",
            "build",
            "projects/churn/mlproject.yaml",
            "--env",
            "prod",
            "--out",
            str(out),
            "-q",
        ],
        cwd=REPO,
        check=True,
    )
    manifest = json.loads((out / "manifest.json").read_text())
    [resource] = [r for r in manifest["resources"] if r["address"] == str(ADDRESS)]
    assert resource["provider_type"] == "powerbi:pbip"
    assert resource["description"] == f"Power BI project for workspace {WORKSPACE}"
    files = {path: (out / path).read_bytes() for path in resource["files"]}
    return {"resource": resource, "files": files}


def request(build: dict[str, Any], variant: int = 0) -> DeployRequest:
    """The request apply makes of the build; a variant changes a table's TMDL and the report's pages."""
    resource, files = build["resource"], dict(build["files"])
    attachments = dict(resource["payload"]["attachments"])
    properties = resource["payload"]["properties"]
    if variant:
        files[TABLE] = files[TABLE] + f"\n/// variant {variant}\n".encode()
        pages = json.loads(files[PAGES])
        pages["activePageName"] = pages["pageOrder"][-1]
        files[PAGES] = json.dumps(pages, indent=2).encode() + b"\n"
        attachments.update({p: content_hash([files[p]]) for p in (TABLE, PAGES)})
        payload = Payload.hashed("powerbi:pbip", properties, attachments)
    else:
        payload = Payload(properties, attachments, resource["hash"])
    return DeployRequest(ADDRESS, "powerbi:pbip", payload, files, resource["file"])


def recorded(req: DeployRequest, result: ProviderResult) -> ResourceState:
    return ResourceState(req.provider_type, req.payload, result.provider_id, dict(result.outputs))


class ScopedCredential:
    """A token that names its scope, so a test sees which API each request was signed for."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(f"token-for-{' '.join(scopes)}", 4102444800)


def provider(
    fake: FakeFabric, workspaces: dict[str, str] | None = None, project: str = "churn"
) -> PowerBIReports:
    target = AzureWorkspace.of(
        {"subscription_id": "00000000-0000-0000-0000-0000000000aa", "resource_group": "rg", "synapse": "syn"},
        "prod",
    )
    options = {"transport": fake, "polling_interval": 0, "retry_backoff_factor": 0}
    session = AzureSession(target, ScopedCredential(), options)  # type: ignore[arg-type]
    names = {str(ADDRESS): WORKSPACE} if workspaces is None else workspaces
    return PowerBIReports(session, project, names)


@pytest.fixture
def fake() -> FakeFabric:
    return FakeFabric({**OTHER_WORKSPACES, WS_ID: WORKSPACE}, page_size=2)


def parts_of(body: dict[str, Any]) -> dict[str, bytes]:
    parts = body["definition"]["parts"]
    assert all(p["payloadType"] == "InlineBase64" for p in parts)
    return {p["path"]: base64.b64decode(p["payload"]) for p in parts}


def in_folder(files: dict[str, bytes], folder: str) -> dict[str, bytes]:
    return {p[len(folder) + 1 :]: c for p, c in files.items() if p.startswith(folder + "/")}


# --- publishing -------------------------------------------------------------------------------------


def test_handles_only_power_bi_projects() -> None:
    assert PowerBIReports.handles("powerbi:pbip")
    assert not PowerBIReports.handles("synapse:role_assignment")


def test_the_build_s_attachments_are_its_files_hashes(build: dict[str, Any]) -> None:
    req = request(build)
    assert req.payload.attachments == {
        p: content_hash([c]) for p, c in req.files.items() if p != req.primary_file
    }
    layout = layout_of(ADDRESS, req.payload.properties, req.payload.attachments)
    assert (layout.model_folder, layout.report_folder) == (MODEL, REPORT)
    assert (layout.model_name, layout.report_name) == ("churn-dashboard", "churn-dashboard")


def test_create_publishes_the_model_then_the_report_bound_to_it(
    fake: FakeFabric, build: dict[str, Any]
) -> None:
    req = request(build)
    result = provider(fake).create(req)
    model = fake.item("SemanticModel", "churn-dashboard")
    report = fake.item("Report", "churn-dashboard")
    assert model is not None and report is not None
    assert [(r.method, r.host, r.path, r.query) for r in fake.sent()] == [
        ("GET", FABRIC_HOST, "/v1/workspaces", {}),
        ("GET", FABRIC_HOST, "/v1/workspaces", {"continuationToken": "2"}),  # the second page has it
        ("GET", FABRIC_HOST, f"/v1/workspaces/{WS_ID}/items", {"type": "SemanticModel"}),
        ("POST", FABRIC_HOST, f"/v1/workspaces/{WS_ID}/items", {}),
        ("GET", FABRIC_HOST, f"/v1/workspaces/{WS_ID}/items", {"type": "Report"}),
        ("POST", FABRIC_HOST, f"/v1/workspaces/{WS_ID}/items", {}),
        ("POST", "api.powerbi.com", f"/v1.0/myorg/groups/{WS_ID}/datasets/{model.id}/refreshes", {}),
    ]
    create_model, create_report = fake.sent("POST", "/items")
    assert (
        create_model.body["type"] == "SemanticModel" and create_model.body["displayName"] == "churn-dashboard"
    )
    sent_model = parts_of(create_model.body)
    assert sent_model == in_folder(req.files, MODEL)
    assert sorted(sent_model)[:3] == [
        "definition.pbism",
        "definition/database.tmdl",
        "definition/expressions.tmdl",
    ]
    assert create_report.body["type"] == "Report"
    sent_report = parts_of(create_report.body)
    assert set(sent_report) == set(in_folder(req.files, REPORT))
    pbir = json.loads(sent_report["definition.pbir"])
    original = json.loads(req.files[f"{REPORT}/definition.pbir"])
    assert original["datasetReference"] == {"byPath": {"path": "../churn-dashboard.SemanticModel"}}
    assert pbir == {
        **original,
        "datasetReference": {"byConnection": {"connectionString": f"semanticmodelid={model.id}"}},
    }
    assert list(pbir) == list(original)  # the build's key order kept
    for path, content in in_folder(req.files, REPORT).items():
        if path != "definition.pbir":
            assert sent_report[path] == content, path
    assert fake.refreshes == [(WS_ID, model.id)]
    assert fake.sent("POST", "/refreshes")[0].body == {"notifyOption": "NoNotification"}
    assert result.provider_id == f"https://api.fabric.microsoft.com/v1/workspaces/{WS_ID}/reports/{report.id}"
    digests = json.loads(result.outputs.pop(PART_DIGESTS))
    assert result.outputs == {"workspace_id": WS_ID, "semantic_model_id": model.id, "report_id": report.id}
    assert digests == {p: part_digest(p, c) for p, c in req.files.items() if p != req.primary_file}


def test_each_api_gets_a_token_for_its_own_scope(fake: FakeFabric, build: dict[str, Any]) -> None:
    provider(fake).create(request(build))
    for sent in fake.requests:
        scope = POWERBI_SCOPE if sent.host == "api.powerbi.com" else FABRIC_SCOPE
        assert sent.headers["Authorization"] == f"Bearer token-for-{scope}", sent.path


def test_long_running_operations_are_polled_after_the_time_fabric_asks(
    fake: FakeFabric, build: dict[str, Any]
) -> None:
    provider(fake).create(request(build))
    polls = [r.path for r in fake.polls()]
    assert len(polls) == 6  # two items, each: Running, Succeeded, then its /result
    assert polls[0] == polls[1] and polls[2] == polls[0] + "/result"
    assert fake.slept == [3.0, 1.0, 3.0, 1.0]  # Retry-After of the 202, then of the Running poll


def test_create_then_read_is_unchanged(fake: FakeFabric, build: dict[str, Any]) -> None:
    req = request(build)
    result = provider(fake).create(req)
    fake.requests.clear()
    live = provider(fake).read(ADDRESS, recorded(req, result))
    assert live is not None
    assert live.payload.content() == req.payload.content()
    assert live.hash == req.payload.hash
    reads = fake.sent("POST")
    assert [(r.path, r.query) for r in reads] == [
        (
            f"/v1/workspaces/{WS_ID}/items/{result.outputs['semantic_model_id']}/getDefinition",
            {"format": "TMDL"},
        ),
        (f"/v1/workspaces/{WS_ID}/items/{result.outputs['report_id']}/getDefinition", {}),
    ]
    assert not fake.sent("GET", "/workspaces")  # ids come from state: no look-up by name


def test_read_reports_a_part_changed_in_the_service_by_its_new_hash(
    fake: FakeFabric, build: dict[str, Any]
) -> None:
    req = request(build)
    result = provider(fake).create(req)
    model = fake.item("SemanticModel", "churn-dashboard")
    assert model is not None
    edited = model.parts["definition/tables/predictions.tmdl"] + b"\tmeasure 'edited in the service' = 1\n"
    model.parts["definition/tables/predictions.tmdl"] = edited
    live = provider(fake).read(ADDRESS, recorded(req, result))
    assert live is not None
    assert live.payload.properties == req.payload.properties
    assert live.payload.attachments == {**req.payload.attachments, TABLE: content_hash([edited])}
    assert live.hash == ""


def test_read_reports_a_part_gone_and_a_report_rebound(fake: FakeFabric, build: dict[str, Any]) -> None:
    req = request(build)
    result = provider(fake).create(req)
    report = fake.item("Report", "churn-dashboard")
    assert report is not None
    del report.parts["definition/pages/pages.json"]
    rebound = json.dumps(
        {
            "version": "4.0",
            "datasetReference": {"byConnection": {"connectionString": "semanticmodelid=other"}},
        }
    )
    report.parts["definition.pbir"] = rebound.encode()
    live = provider(fake).read(ADDRESS, recorded(req, result))
    assert live is not None
    expected = {k: v for k, v in req.payload.attachments.items() if k != PAGES}
    expected[f"{REPORT}/definition.pbir"] = content_hash([rebound.encode()])
    assert live.payload.attachments == expected


def test_read_of_a_deleted_item_is_none(fake: FakeFabric, build: dict[str, Any]) -> None:
    req = request(build)
    result = provider(fake).create(req)
    del fake.items[result.outputs["report_id"]]
    assert provider(fake).read(ADDRESS, recorded(req, result)) is None


def test_update_replaces_both_definitions_in_place(fake: FakeFabric, build: dict[str, Any]) -> None:
    before, after = request(build), request(build, 1)
    created = provider(fake).create(before)
    fake.requests.clear()
    updated = provider(fake).update(after, recorded(before, created))
    assert updated.provider_id == created.provider_id
    ids = {k: v for k, v in created.outputs.items() if k != PART_DIGESTS}
    assert {k: v for k, v in updated.outputs.items() if k != PART_DIGESTS} == ids
    old, new = (json.loads(r.outputs[PART_DIGESTS]) for r in (created, updated))
    assert sorted(p for p in new if new[p] != old[p]) == sorted([PAGES, TABLE])  # what changed, recorded
    model_id, report_id = created.outputs["semantic_model_id"], created.outputs["report_id"]
    updates = fake.sent("POST", "/updateDefinition")
    assert [r.path for r in updates] == [
        f"/v1/workspaces/{WS_ID}/items/{model_id}/updateDefinition",
        f"/v1/workspaces/{WS_ID}/items/{report_id}/updateDefinition",
    ]
    assert parts_of(updates[0].body) == in_folder(after.files, MODEL)
    report_parts = parts_of(updates[1].body)
    assert report_parts["definition/pages/pages.json"] == after.files[PAGES]
    assert json.loads(report_parts["definition.pbir"])["datasetReference"] == {
        "byConnection": {"connectionString": f"semanticmodelid={model_id}"}
    }
    assert not [r for r in fake.sent("POST") if r.path.endswith("/items")] and len(fake.items) == 2
    live = provider(fake).read(ADDRESS, recorded(after, updated))
    assert live is not None and live.payload.content() == after.payload.content()
    assert len(fake.refreshes) == 2


def test_update_republishes_a_model_deleted_behind_its_back(fake: FakeFabric, build: dict[str, Any]) -> None:
    req = request(build)
    created = provider(fake).create(req)
    del fake.items[created.outputs["semantic_model_id"]]
    updated = provider(fake).update(req, recorded(req, created))
    new_model = updated.outputs["semantic_model_id"]
    assert new_model != created.outputs["semantic_model_id"] and new_model in fake.items
    assert updated.outputs["report_id"] == created.outputs["report_id"]
    report = fake.items[created.outputs["report_id"]]
    assert json.loads(report.parts["definition.pbir"])["datasetReference"]["byConnection"] == {
        "connectionString": f"semanticmodelid={new_model}"
    }
    live = provider(fake).read(ADDRESS, recorded(req, updated))
    assert live is not None and live.payload.content() == req.payload.content()


def test_delete_removes_the_report_then_the_model_and_a_missing_one_is_fine(
    fake: FakeFabric, build: dict[str, Any]
) -> None:
    req = request(build)
    result = provider(fake).create(req)
    fake.requests.clear()
    provider(fake).delete(ADDRESS, recorded(req, result))
    assert [r.path for r in fake.sent("DELETE")] == [
        f"/v1/workspaces/{WS_ID}/items/{result.outputs['report_id']}",
        f"/v1/workspaces/{WS_ID}/items/{result.outputs['semantic_model_id']}",
    ]
    assert not fake.items
    provider(fake).delete(ADDRESS, recorded(req, result))  # retried: both 404
    assert provider(fake).read(ADDRESS, recorded(req, result)) is None


# --- retries, adoption, refusal ------------------------------------------------------------------------


def test_a_retried_create_adopts_what_the_first_published(fake: FakeFabric, build: dict[str, Any]) -> None:
    req = request(build)
    first = provider(fake).create(req)
    fake.requests.clear()
    again = provider(fake).create(req)  # the next run, its state write lost
    assert (again.provider_id, again.outputs) == (first.provider_id, first.outputs)
    assert len(fake.items) == 2
    assert not [r for r in fake.sent("POST", "/items") if r.path.endswith("/items")]
    assert not fake.sent("POST", "/updateDefinition")
    assert len(fake.refreshes) == 2  # the refresh is asked for again


def test_create_refuses_a_different_model_of_that_name(fake: FakeFabric, build: dict[str, Any]) -> None:
    planted = fake.plant(WS_ID, "SemanticModel", "churn-dashboard", {"definition.pbism": b"{}\n"})
    with pytest.raises(ProviderError) as refused:
        provider(fake).create(request(build))
    [diagnostic] = refused.value.diagnostics
    assert str(ADDRESS) in diagnostic.message and WORKSPACE in diagnostic.message
    assert "\n" not in diagnostic.message
    assert "delete" in (diagnostic.hint or "")
    assert fake.items == {planted.id: planted} and planted.parts == {"definition.pbism": b"{}\n"}
    assert not fake.sent("POST", "/updateDefinition") and not fake.refreshes


def test_create_refuses_a_different_report_of_that_name(fake: FakeFabric, build: dict[str, Any]) -> None:
    req = request(build)
    model = fake.plant(WS_ID, "SemanticModel", "churn-dashboard", in_folder(req.files, MODEL))
    fake.plant(WS_ID, "Report", "churn-dashboard", {"definition.pbir": b"{}\n"})
    with pytest.raises(ProviderError, match="another report 'churn-dashboard' already exists"):
        provider(fake).create(req)
    assert fake.items[model.id].parts == in_folder(req.files, MODEL)  # the identical model was adopted


def test_create_refuses_a_different_model_another_project_published(
    fake: FakeFabric, build: dict[str, Any]
) -> None:
    req = request(build)
    provider(fake, project="fraud").create(req)
    [model] = [i for i in fake.items.values() if i.type == "SemanticModel"]
    model.parts["definition/model.tmdl"] += b"\n// edited\n"
    before = dict(model.parts)
    with pytest.raises(ProviderError, match="another semantic model 'churn-dashboard' already exists"):
        provider(fake).create(req)
    assert model.parts == before and model.description == "Published by mlspec (fraud, prod)"


def test_identical_items_another_project_published_are_adopted_and_never_deleted(
    fake: FakeFabric, build: dict[str, Any]
) -> None:
    """fraud published the same project under the same names: churn may adopt both items (their
    description is fraud's, not churn's), marked adopted, but its destroy must leave them."""
    req = request(build)
    theirs = provider(fake, project="fraud").create(req)
    before = {i.id: (dict(i.parts), i.description) for i in fake.items.values()}
    fake.requests.clear()
    ours = provider(fake).create(req)
    assert ours.outputs == {**theirs.outputs, "adopted": "true", "adopted_items": "Report,SemanticModel"}
    assert not [r for r in fake.sent("POST") if r.path.endswith(("/items", "/updateDefinition"))]
    current = recorded(req, ours)
    live = provider(fake).read(ADDRESS, current)
    assert live is not None and live.hash == req.payload.hash
    updated = provider(fake).update(req, current)
    assert updated.outputs["adopted"] == "true" and updated.outputs["adopted_items"] == "Report,SemanticModel"
    fake.requests.clear()
    provider(fake).delete(ADDRESS, recorded(req, updated))
    assert not fake.sent("DELETE")
    assert {i.id: (dict(i.parts), i.description) for i in fake.items.values()} == before
    provider(fake, project="fraud").delete(ADDRESS, recorded(req, theirs))  # its owner deletes them
    assert not fake.items


def test_only_the_adopted_item_is_left_by_delete(fake: FakeFabric, build: dict[str, Any]) -> None:
    req = request(build)
    model = fake.plant(WS_ID, "SemanticModel", "churn-dashboard", in_folder(req.files, MODEL))
    result = provider(fake).create(req)
    assert result.outputs["semantic_model_id"] == model.id
    assert result.outputs["adopted"] == "true" and result.outputs["adopted_items"] == "SemanticModel"
    fake.requests.clear()
    provider(fake).delete(ADDRESS, recorded(req, result))
    assert [r.path for r in fake.sent("DELETE")] == [
        f"/v1/workspaces/{WS_ID}/items/{result.outputs['report_id']}"
    ]
    assert list(fake.items) == [model.id]


def test_an_adopted_mark_without_its_items_deletes_nothing(fake: FakeFabric, build: dict[str, Any]) -> None:
    req = request(build)
    result = provider(fake).create(req)
    marked = recorded(req, result)
    marked.outputs["adopted"] = "true"  # which items is not said: none is deleted
    provider(fake).delete(ADDRESS, marked)
    assert not fake.sent("DELETE") and len(fake.items) == 2


def test_update_into_another_workspace_leaves_the_adopted_old_items(
    fake: FakeFabric, build: dict[str, Any]
) -> None:
    req = request(build)
    theirs = provider(fake, project="fraud").create(req)
    ours = provider(fake).create(req)
    moved = provider(fake, {str(ADDRESS): "Sales"}).update(req, recorded(req, ours))
    assert "adopted" not in moved.outputs  # published anew in Sales: mlspec's
    kept = {theirs.outputs["semantic_model_id"], theirs.outputs["report_id"]}
    assert kept <= set(fake.items) and len(fake.items) == 4
    assert not fake.sent("DELETE")


def test_throttling_is_retried_after_the_time_fabric_asks(fake: FakeFabric, build: dict[str, Any]) -> None:
    fake.fail_next(
        "POST", r"/items$", 429, "RequestBlocked", "Too many requests", headers={"Retry-After": "7"}
    )
    provider(fake).create(request(build))
    assert len(fake.items) == 2
    assert len([r for r in fake.sent("POST") if r.path.endswith("/items")]) == 3  # one retried
    assert fake.slept[0] == 7.0


def test_a_failed_operation_is_one_line(fake: FakeFabric, build: dict[str, Any]) -> None:
    fake.fail_operations = 1
    with pytest.raises(ProviderError) as failed:
        provider(fake).create(request(build))
    [diagnostic] = failed.value.diagnostics
    assert diagnostic.message.startswith(f"{ADDRESS}: create of the semantic model (operation failed) failed")
    assert "OperationFailed" in diagnostic.message and "\n" not in diagnostic.message


def test_forbidden_is_one_line_naming_what_the_identity_needs(
    fake: FakeFabric, build: dict[str, Any]
) -> None:
    fake.fail_next(
        "POST", r"/items$", 403, "InsufficientPrivileges", "The caller does not have sufficient\npermissions"
    )
    with pytest.raises(ProviderError) as refused:
        provider(fake).create(request(build))
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.message == (
        f"{ADDRESS}: 403 on create of the semantic model (InsufficientPrivileges): "
        "The caller does not have sufficient permissions"
    )
    assert f"Contributor (or Member, Admin) on the Power BI workspace '{WORKSPACE}'" in (
        diagnostic.hint or ""
    )


def test_a_workspace_it_cannot_see_is_named(fake: FakeFabric, build: dict[str, Any]) -> None:
    with pytest.raises(ProviderError) as missing:
        provider(fake, {str(ADDRESS): "Churn Analytics (old)"}).create(request(build))
    [diagnostic] = missing.value.diagnostics
    assert "'Churn Analytics (old)'" in diagnostic.message
    assert "create the workspace" in (diagnostic.hint or "") and "add the deploying identity" in (
        diagnostic.hint or ""
    )
    assert not fake.sent("POST")


def test_a_report_without_a_workspace_is_refused_before_any_request(
    fake: FakeFabric, build: dict[str, Any]
) -> None:
    with pytest.raises(ProviderError, match="no Power BI workspace is named"):
        provider(fake, {}).create(request(build))
    assert not fake.requests


def test_a_refused_refresh_says_the_project_was_published(fake: FakeFabric, build: dict[str, Any]) -> None:
    req = request(build)
    fake.fail_next("POST", r"/refreshes$", 400, "InvalidRequest", "The data source credentials are missing")
    with pytest.raises(ProviderError) as refused:
        provider(fake).create(req)
    [diagnostic] = refused.value.diagnostics
    assert "were published, but Power BI refused to refresh the model" in diagnostic.message
    assert "credentials are missing" in diagnostic.message and "\n" not in diagnostic.message
    assert "apply again" in (diagnostic.hint or "")
    fake.requests.clear()
    result = provider(fake).create(req)  # the rerun adopts, publishes nothing twice, asks again
    assert not [r for r in fake.sent("POST") if r.path.endswith("/items")]
    assert fake.refreshes == [(WS_ID, result.outputs["semantic_model_id"])]


def test_describe_is_one_line(fake: FakeFabric, build: dict[str, Any]) -> None:
    result = provider(fake).create(request(build))
    line = provider(fake).describe(ADDRESS, result)
    assert "\n" not in line and WORKSPACE in line and "churn-dashboard" in line


# --- the definition.pbir rewrite ---------------------------------------------------------------------


def test_the_pbir_rewrite_is_undone_exactly_on_read(build: dict[str, Any]) -> None:
    req = request(build)
    layout = layout_of(ADDRESS, req.payload.properties, req.files)
    original = req.files[f"{REPORT}/definition.pbir"]
    sent = by_connection(ADDRESS, original, "m-1", layout)
    assert b"byPath" not in sent and b'"semanticmodelid=m-1"' in sent
    assert restore_by_path(sent, "m-1", layout) == original
    assert restore_by_path(sent, "m-2", layout) is None  # bound to another model: not what was sent


def test_a_pbir_bound_to_something_else_is_refused(build: dict[str, Any]) -> None:
    req = request(build)
    layout = layout_of(ADDRESS, req.payload.properties, req.files)
    foreign = json.dumps(
        {"version": "4.0", "datasetReference": {"byPath": {"path": "../other.SemanticModel"}}}
    )
    with pytest.raises(ProviderError, match="does not reference the project's semantic model"):
        by_connection(ADDRESS, foreign.encode(), "m-1", layout)


def test_importing_the_module_imports_no_sdk() -> None:
    code = (
        "import sys, mlspec.providers.azure.powerbi\n"
        "print(sorted(m for m in sys.modules if m.startswith('azure')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_update_into_another_workspace_publishes_there_then_deletes_the_old_items(
    fake: FakeFabric, build: dict[str, Any]
) -> None:
    req = request(build)
    old = provider(fake).create(req)
    moved = provider(fake, {str(ADDRESS): "Sales"}).update(req, recorded(req, old))
    assert moved.outputs["workspace_id"] == "11111111-0000-4000-8000-000000000001"
    assert {i.workspace for i in fake.items.values()} == {moved.outputs["workspace_id"]}
    assert len(fake.items) == 2


def test_a_retried_create_brings_its_own_items_to_the_request_when_fabric_rewrote_a_part(
    fake: FakeFabric, build: dict[str, Any]
) -> None:
    """Fabric may hold a part as it re-serialized it: an item this project and environment published
    (its description says so) is updated in place, not refused, when the state write was lost."""
    req = request(build)
    first = provider(fake).create(req)
    model = fake.items[first.outputs["semantic_model_id"]]
    assert model.description == "Published by mlspec (churn, prod)"
    model.parts["definition/model.tmdl"] = model.parts["definition/model.tmdl"].replace(b"\n", b"\r\n")
    fake.requests.clear()
    again = provider(fake).create(req)
    assert again.outputs == first.outputs
    assert [r.path for r in fake.sent("POST", "/updateDefinition")] == [
        f"/v1/workspaces/{WS_ID}/items/{model.id}/updateDefinition"
    ]
    assert model.parts == in_folder(req.files, MODEL)


# --- Fabric re-saving the parts ------------------------------------------------------------------------


def test_a_part_s_normal_form_ignores_serialisation_not_content() -> None:
    pages = b'{\n  "pageOrder": [\n    "a",\n    "b"\n  ],\n  "activePageName": "a",\n  "size": 1.0\n}\n'
    fabric = b'{\r\n    "activePageName": "a",\r\n    "pageOrder": ["a", "b"],\r\n    "size": 1\r\n}'
    assert normal_form("x/pages.json", pages) == normal_form("x/pages.json", fabric)
    assert normal_form("x/definition.pbir", b"\xef\xbb\xbf" + fabric) == normal_form("x/pages.json", pages)
    assert normal_form("x/pages.json", pages) != normal_form(
        "x/pages.json", pages.replace(b'"a",\n  "s', b'"b",\n  "s')
    )
    assert normal_form("x/pages.json", pages) != normal_form(
        "x/pages.json", pages.replace(b'"b"\n', b'"c"\n')
    )
    tmdl = b"table t\n\tcolumn a\n\t\tdataType: string\n"
    assert normal_form("t.tmdl", tmdl) == normal_form("t.tmdl", tmdl.replace(b"\n", b"\r\n") + b"  \r\n\r\n")
    assert normal_form("t.tmdl", tmdl) == normal_form("t.tmdl", tmdl.rstrip(b"\n"))
    assert normal_form("t.tmdl", tmdl) != normal_form("t.tmdl", tmdl.replace(b"\t\t", b"\t"))  # indentation
    assert normal_form("t.tmdl", tmdl) != normal_form("t.tmdl", b"\n" + tmdl)  # only the end is loose
    assert normal_form("broken.json", b"{\r\n") == normal_form("broken.json", b"{\n")  # unparsed: as text


def test_fabric_re_saving_every_part_on_publish_is_no_drift(fake: FakeFabric, build: dict[str, Any]) -> None:
    """Fabric stores each part as it re-serialises it (CRLF, JSON re-indented, keys reordered): the
    plan after an apply must not see drift in it."""
    fake.resave_parts = True
    req = request(build)
    result = provider(fake).create(req)
    model = fake.items[result.outputs["semantic_model_id"]]
    report = fake.items[result.outputs["report_id"]]
    assert model.parts["definition/tables/predictions.tmdl"] != req.files[TABLE]  # bytes differ
    assert b"\r\n" in model.parts["definition/tables/predictions.tmdl"]
    assert report.parts["definition/pages/pages.json"] != req.files[PAGES]
    assert list(json.loads(report.parts["definition/pages/pages.json"])) != list(json.loads(req.files[PAGES]))
    live = provider(fake).read(ADDRESS, recorded(req, result))
    assert live is not None
    assert live.payload.content() == req.payload.content()
    assert live.hash == req.payload.hash  # vouched for: the sent hashes, no drift
    after = request(build, 1)  # and after an update, re-saved again
    updated = provider(fake).update(after, recorded(req, result))
    live = provider(fake).read(ADDRESS, recorded(after, updated))
    assert live is not None and live.hash == after.payload.hash


def test_a_re_save_after_publishing_is_no_drift(fake: FakeFabric, build: dict[str, Any]) -> None:
    req = request(build)
    result = provider(fake).create(req)
    for item in fake.items.values():
        fake.resave(item)
    live = provider(fake).read(ADDRESS, recorded(req, result))
    assert live is not None and live.hash == req.payload.hash


def test_real_drift_is_still_reported_after_a_re_save(fake: FakeFabric, build: dict[str, Any]) -> None:
    fake.resave_parts = True
    req = request(build)
    result = provider(fake).create(req)
    model = fake.items[result.outputs["semantic_model_id"]]
    report = fake.items[result.outputs["report_id"]]
    table = model.parts["definition/tables/predictions.tmdl"]
    edited_table = table + b"\tmeasure 'edited in the service' = 1\r\n"
    model.parts["definition/tables/predictions.tmdl"] = edited_table
    pages = json.loads(report.parts["definition/pages/pages.json"])
    pages["activePageName"] = pages["pageOrder"][-1]  # a value changed, not the formatting
    edited_pages = resaved(PAGES, json.dumps(pages).encode())
    report.parts["definition/pages/pages.json"] = edited_pages
    pbir = json.loads(report.parts["definition.pbir"])
    pbir["datasetReference"]["byConnection"]["connectionString"] = "semanticmodelid=other"
    rebound = resaved(f"{REPORT}/definition.pbir", json.dumps(pbir).encode())
    report.parts["definition.pbir"] = rebound
    live = provider(fake).read(ADDRESS, recorded(req, result))
    assert live is not None and live.hash == ""
    assert live.payload.attachments == {
        **req.payload.attachments,  # every other part: re-saved only, reported as sent
        TABLE: content_hash([edited_table]),  # the live bytes' hash
        PAGES: content_hash([edited_pages]),
        f"{REPORT}/definition.pbir": content_hash([rebound]),
    }


def test_a_state_without_part_digests_still_reads_a_re_saved_part_as_sent(
    fake: FakeFabric, build: dict[str, Any]
) -> None:
    """A state written before the digests were recorded: the live part rendered as the build writes
    its files is compared with the sent hash (line endings and indentation, in the part's key order)."""
    req = request(build)
    result = provider(fake).create(req)
    old_state = recorded(req, ProviderResult(result.provider_id, {**result.outputs}))
    del old_state.outputs[PART_DIGESTS]
    for item in fake.items.values():
        fake.resave(item, sort_keys=False)
    live = provider(fake).read(ADDRESS, old_state)
    assert live is not None and live.hash == req.payload.hash
    model = fake.items[result.outputs["semantic_model_id"]]
    model.parts["definition/tables/predictions.tmdl"] += b"\tmeasure m = 1\r\n"
    live = provider(fake).read(ADDRESS, old_state)
    assert live is not None
    assert live.payload.attachments == {
        **req.payload.attachments,
        TABLE: content_hash([model.parts["definition/tables/predictions.tmdl"]]),
    }
