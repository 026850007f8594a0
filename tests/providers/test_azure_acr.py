"""ACR tasks on Azure (:mod:`mlspec.providers.azure.acr`): the scoring image built by ACR Tasks, through
the SDKs' own pipelines (azure-mgmt-containerregistry, azure-storage-blob, azure-containerregistry)
against :class:`FakeAcr`, with the churn project's real build (``acr.task.churn-scoring``) as the request."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.mgmt.containerregistry.v2019_06_01_preview")
pytest.importorskip("azure.containerregistry")
pytest.importorskip("azure.storage.blob")

from mlspec.contract.graph import Address, content_hash
from mlspec.contract.outputs import OutputRef, check_output_value
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.providers.azure.acr import (
    MOVED_KEY,
    AcrTasks,
    build_context,
    content_image,
    context_files,
)
from mlspec.providers.azure.session import AzureSession
from mlspec.providers.azure.workspace import AzureWorkspace
from mlspec.providers.base import DeployRequest, LiveObject, ProviderError, ProviderResult
from tests.providers.acr_fake import (
    ARM,
    LOG_STORAGE,
    SAS_SIGNATURE,
    SOURCE_STORAGE,
    TASKS_API,
    FakeAcr,
    tar_contents,
    tar_members,
)

ROOT = Path(__file__).resolve().parents[2]
ADDRESS = Address("acr", "task", "churn-scoring")
REPOSITORY = "churn/churn-scoring"
TASKS_ROLE = "Contributor (or AcrPush and the Container Registry Tasks Contributor role) on acrchurnprod"


class StaticCredential:
    """A credential that is never asked for a real token (the fake checks it is this one)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        assert scopes == ("https://management.azure.com/.default",), scopes
        return AccessToken("fake-token", 4102444800)

    def get_token_info(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessTokenInfo

        assert scopes == ("https://management.azure.com/.default",), scopes
        return AccessTokenInfo("fake-token", 4102444800)


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """The churn project built for prod: its manifest's workspace, the ACR task entry, the build folder."""
    work = tmp_path_factory.mktemp("churn")
    project = work / "churn"  # a copy: the build's cache stays out of the repository
    shutil.copytree(ROOT / "projects" / "churn", project, ignore=shutil.ignore_patterns(".mlspec", "build"))
    out = work / "prod"
    command = [sys.executable, "-m", "mlspec", "build", str(project / "mlproject.yaml"), "--env", "prod"]
    subprocess.run([*command, "--out", str(out), "-q"], cwd=ROOT, check=True)
    manifest = json.loads((out / "manifest.json").read_text())
    [entry] = [r for r in manifest["resources"] if r["address"] == str(ADDRESS)]
    return manifest["workspace"], entry, out


@pytest.fixture
def request_(build: tuple[dict[str, Any], dict[str, Any], Path]) -> DeployRequest:
    """The request apply sends for the task: its files as built (no marker in them), the task YAML first."""
    _, entry, out = build
    assert entry["provider_type"] == "acr:task"
    files = {path: (out / path).read_bytes() for path in entry["files"]}
    payload = Payload(entry["payload"]["properties"], entry["payload"]["attachments"], entry["hash"])
    return DeployRequest(ADDRESS, entry["provider_type"], payload, files, entry["files"][0])


@pytest.fixture
def workspace(build: tuple[dict[str, Any], dict[str, Any], Path]) -> AzureWorkspace:
    return AzureWorkspace.of(build[0], "prod")


@pytest.fixture
def fake(workspace: AzureWorkspace) -> FakeAcr:
    assert workspace.container_registry == "acrchurnprod"
    return FakeAcr(workspace.subscription_id, workspace.resource_group, workspace.container_registry)


def tasks_for(fake: FakeAcr, workspace: AzureWorkspace) -> AcrTasks:
    """A new provider module on the fake (a new run of apply: no client, token or cache carried over)."""
    options = {"transport": fake, "polling_interval": 0, "retry_backoff_factor": 0}
    return AcrTasks(AzureSession(workspace, StaticCredential(), options), "churn")  # type: ignore[arg-type]


@pytest.fixture
def tasks(fake: FakeAcr, workspace: AzureWorkspace) -> AcrTasks:
    return tasks_for(fake, workspace)


def recorded(request: DeployRequest, result: ProviderResult) -> ResourceState:
    """The state entry apply writes after ``result``."""
    return ResourceState(request.provider_type, request.payload, result.provider_id, dict(result.outputs))


def content_tag(request: DeployRequest) -> str:
    repository, tag = content_image(ADDRESS, request.payload.properties)
    assert repository == REPOSITORY
    return tag


def changed_inputs(request: DeployRequest, new_tag: str) -> DeployRequest:
    """The request after the scoring script changed: another content tag, another build context."""
    old_tag = content_tag(request)
    files = dict(request.files)
    files["acr/task.yaml"] = files["acr/task.yaml"].replace(old_tag.encode(), new_tag.encode())
    files["acr/score.py"] = files["acr/score.py"] + b"\n# changed\n"
    properties = json.loads(json.dumps(request.payload.properties).replace(old_tag, new_tag))
    attachments = {**request.payload.attachments, "acr/score.py": content_hash([files["acr/score.py"]])}
    payload = Payload(properties, attachments, "sha256:" + "1" * 64)
    return DeployRequest(ADDRESS, request.provider_type, payload, files, request.primary_file)


def scheduled(fake: FakeAcr) -> list[Any]:
    return fake.sent("POST", "/scheduleRun")


# --- create ------------------------------------------------------------------------------------------


def test_create_uploads_the_context_schedules_the_task_and_reports_the_pushed_digest(
    fake: FakeAcr, tasks: AcrTasks, request_: DeployRequest
) -> None:
    result = tasks.create(request_)

    tag = content_tag(request_)
    registry_path = (
        f"/subscriptions/{fake.subscription}/resourceGroups/{fake.resource_group}/providers/"
        f"Microsoft.ContainerRegistry/registries/acrchurnprod"
    )
    tag_path = f"/acr/v1/{REPOSITORY}/_tags/{tag}"
    # Every request, polls included, in order: the tag looked up (challenge, token exchange, again),
    # the upload URL, the upload, the run scheduled (polled), the run read until it ended.
    assert [(r.method, r.host, r.path, r.api_version) for r in fake.requests] == [
        ("GET", "acrchurnprod.azurecr.io", tag_path, "2021-07-01"),
        ("POST", "acrchurnprod.azurecr.io", "/oauth2/exchange", "2021-07-01"),
        ("POST", "acrchurnprod.azurecr.io", "/oauth2/token", "2021-07-01"),
        ("GET", "acrchurnprod.azurecr.io", tag_path, "2021-07-01"),
        ("POST", ARM, f"{registry_path}/listBuildSourceUploadUrl", TASKS_API),
        ("PUT", SOURCE_STORAGE, fake.requests[5].path, ""),
        ("POST", ARM, f"{registry_path}/scheduleRun", TASKS_API),
        ("GET", ARM, fake.requests[7].path, ""),
        ("GET", ARM, fake.requests[7].path, ""),
        ("GET", ARM, f"{registry_path}/runs/ca1", TASKS_API),
        ("GET", ARM, f"{registry_path}/runs/ca1", TASKS_API),
    ]
    assert fake.requests[7].path.startswith("/operations/")
    assert fake.requests[2].body["scope"] == f"repository:{REPOSITORY}:metadata_read"
    assert fake.requests[3].headers["authorization"] == "Bearer acr-access-1"

    # The upload went where listBuildSourceUploadUrl said, and scheduleRun names its relative path.
    [upload_url] = fake.sent("POST", "listBuildSourceUploadUrl")
    relative = fake.requests[5].path.removeprefix("/acrchurnprod-sources/")
    assert relative.startswith("source/") and relative.endswith(".tar.gz")
    assert upload_url.body is None
    [schedule] = scheduled(fake)
    body = schedule.body
    assert body["type"] == "EncodedTaskRunRequest"
    assert body["sourceLocation"] == relative
    assert body["platform"] == {"os": "Linux", "architecture": "amd64"}
    assert body["timeout"] == 3600
    assert body["isArchiveEnabled"] is False
    assert base64.b64decode(body["encodedTaskContent"]) == request_.files["acr/task.yaml"]

    # The context: the build's files under acr/, by their paths there, as build_context makes them.
    uploaded = fake.raw[5]
    assert uploaded == build_context(context_files(request_.files, "acr/task.yaml"))
    assert tar_contents(uploaded) == {
        path.removeprefix("acr/"): content for path, content in request_.files.items()
    }
    assert sorted(tar_contents(uploaded)) == [
        "Dockerfile",
        "gunicorn.conf.py",
        "requirements.txt",
        "score.py",
        "task.yaml",
    ]

    # The output: the digest the run pushed the content tag with, as a marker may be replaced with it.
    digest = result.outputs["image_digest"]
    check_output_value(OutputRef(str(ADDRESS), "image_digest"), digest)
    assert digest == fake.tags[(REPOSITORY, tag)]
    [run] = fake.runs.values()
    assert {i["tag"]: i["digest"] for i in run.output_images} == {"ca1": digest, tag: digest}
    assert result.provider_id == f"acrchurnprod.azurecr.io/{REPOSITORY}@{digest}"
    assert set(result.outputs) == {"image_digest"}


@pytest.mark.parametrize("at_once", [True, False])
def test_a_run_scheduled_at_once_or_not_listing_its_images_still_reports_the_pushed_digest(
    fake: FakeAcr, tasks: AcrTasks, request_: DeployRequest, at_once: bool
) -> None:
    """scheduleRun may answer the queued run at once; a run may list no outputImages (the tag says)."""
    fake.schedule_at_once = at_once
    fake.list_output_images = not at_once

    result = tasks.create(request_)

    assert [r.path for r in fake.requests if r.path.startswith("/operations/")] == (
        [] if at_once else [fake.requests[7].path] * 2
    )
    assert result.outputs["image_digest"] == fake.tags[(REPOSITORY, content_tag(request_))]
    tag_reads = [r for r in fake.sent("GET", "/_tags/") if "authorization" in r.headers]
    assert len(tag_reads) == (2 if at_once else 1)  # looked up again when the run lists nothing


def test_a_retried_create_adopts_the_pushed_image_without_a_second_run(
    fake: FakeAcr, workspace: AzureWorkspace, request_: DeployRequest
) -> None:
    first = tasks_for(fake, workspace).create(request_)
    before = len(fake.requests)

    again = tasks_for(fake, workspace).create(request_)  # the next apply, its state write lost

    assert again == first
    assert len(scheduled(fake)) == 1
    assert len(fake.sent("PUT", host=SOURCE_STORAGE)) == 1
    assert {r.host for r in fake.requests[before:]} == {"acrchurnprod.azurecr.io"}  # the tag, only


def test_inputs_built_before_are_adopted_by_create(
    fake: FakeAcr, tasks: AcrTasks, request_: DeployRequest
) -> None:
    digest = "sha256:" + "ab" * 32
    fake.push(REPOSITORY, content_tag(request_), digest)

    result = tasks.create(request_)

    assert result.outputs == {"image_digest": digest}
    assert scheduled(fake) == []


def test_the_build_context_is_the_same_bytes_for_the_same_files(
    fake: FakeAcr, workspace: AzureWorkspace, request_: DeployRequest
) -> None:
    context = context_files(request_.files, "acr/task.yaml")
    packed = build_context(context)
    assert packed == build_context(dict(reversed(list(context.items()))))
    assert packed[4:8] == b"\0\0\0\0"  # the gzip header has no time
    assert gzip.decompress(packed)  # and is a gzip stream
    for member in tar_members(packed):
        assert (member.mtime, member.uid, member.gid, member.uname, member.gname, member.mode) == (
            0,
            0,
            0,
            "",
            "",
            0o644,
        )
        assert member.isreg()
    changed = {**context, "score.py": context["score.py"] + b"#"}
    assert build_context(changed) != packed

    # Two builds of the same files (the tag deleted in between) upload the very same bytes.
    tasks_for(fake, workspace).create(request_)
    fake.tags.clear()
    tasks_for(fake, workspace).create(request_)
    [first, second] = [fake.raw[i] for i, r in enumerate(fake.requests) if r.method == "PUT"]
    assert first == second == packed


def test_context_files_stay_inside_the_task_folder() -> None:
    files = {
        "acr/task.yaml": b"t",
        "acr/sub/x.txt": b"x",
        "aks/deployment.yaml": b"no",
        "acr/../escape": b"no",
    }
    assert context_files(files, "acr/task.yaml") == {"task.yaml": b"t", "sub/x.txt": b"x"}


# --- read --------------------------------------------------------------------------------------------


def test_read_of_the_applied_image_is_unchanged(
    fake: FakeAcr, workspace: AzureWorkspace, request_: DeployRequest
) -> None:
    current = recorded(request_, tasks_for(fake, workspace).create(request_))
    live = tasks_for(fake, workspace).read(ADDRESS, current)
    assert isinstance(live, LiveObject)
    assert live.hash == request_.payload.hash  # vouched for: plan compares no properties
    assert live.payload.same_content(request_.payload)


def test_read_of_a_deleted_tag_is_none(fake: FakeAcr, tasks: AcrTasks, request_: DeployRequest) -> None:
    current = recorded(request_, tasks.create(request_))
    del fake.tags[(REPOSITORY, content_tag(request_))]
    assert tasks.read(ADDRESS, current) is None


def test_a_moved_tag_is_drift_and_update_builds_again(
    fake: FakeAcr, tasks: AcrTasks, request_: DeployRequest
) -> None:
    result = tasks.create(request_)
    current = recorded(request_, result)
    foreign = "sha256:" + "cd" * 32
    fake.push(REPOSITORY, content_tag(request_), foreign)

    live = tasks.read(ADDRESS, current)

    assert live is not None
    assert live.hash == ""  # not vouched for
    assert not live.payload.same_content(request_.payload)
    expected = copy.deepcopy(request_.payload.properties)
    expected[MOVED_KEY] = foreign
    assert live.payload.properties == expected
    assert live.payload.attachments == request_.payload.attachments

    rebuilt = tasks.update(request_, current)  # what plan does with that drift

    assert len(scheduled(fake)) == 2
    assert rebuilt.outputs["image_digest"] not in (foreign, result.outputs["image_digest"])
    assert fake.tags[(REPOSITORY, content_tag(request_))] == rebuilt.outputs["image_digest"]


# --- update ------------------------------------------------------------------------------------------


def test_update_to_new_inputs_builds_them_and_a_retry_adopts(
    fake: FakeAcr, workspace: AzureWorkspace, request_: DeployRequest
) -> None:
    first = tasks_for(fake, workspace).create(request_)
    current = recorded(request_, first)
    changed = changed_inputs(request_, "0123456789ab")

    updated = tasks_for(fake, workspace).update(changed, current)
    retried = tasks_for(fake, workspace).update(changed, current)  # its state write lost

    assert updated == retried
    assert updated.outputs["image_digest"] != first.outputs["image_digest"]
    assert fake.tags[(REPOSITORY, "0123456789ab")] == updated.outputs["image_digest"]
    assert len(scheduled(fake)) == 2
    last = scheduled(fake)[-1].body
    assert base64.b64decode(last["encodedTaskContent"]) == changed.files["acr/task.yaml"]
    assert b"$Registry/churn/churn-scoring:0123456789ab" in changed.files["acr/task.yaml"]
    # the applied image stays (pods still pull it by digest while they roll)
    assert fake.tags[(REPOSITORY, content_tag(request_))] == first.outputs["image_digest"]


# --- delete ------------------------------------------------------------------------------------------


def test_delete_removes_the_content_tag_only_and_a_missing_one_is_fine(
    fake: FakeAcr, tasks: AcrTasks, request_: DeployRequest
) -> None:
    current = recorded(request_, tasks.create(request_))
    fake.push("churn/other", "v1", "sha256:" + "ee" * 32)
    tag = content_tag(request_)

    tasks.delete(ADDRESS, current)

    # challenged once (a token for the delete scope), then sent with it
    [challenged, deleted] = fake.sent("DELETE")
    assert "authorization" not in challenged.headers
    assert deleted.headers["authorization"].startswith("Bearer acr-access-")
    assert (deleted.host, deleted.path, deleted.api_version) == (
        "acrchurnprod.azurecr.io",
        f"/acr/v1/{REPOSITORY}/_tags/{tag}",
        "2021-07-01",
    )
    assert (REPOSITORY, tag) not in fake.tags
    assert set(fake.tags) == {(REPOSITORY, "ca1"), ("churn/other", "v1")}  # the run-id tag, another repo
    assert tasks.read(ADDRESS, current) is None

    tasks_for(fake, tasks.session.workspace).delete(ADDRESS, current)  # retried: 404 is no error
    assert len(fake.sent("DELETE")) == 4


# --- failures ----------------------------------------------------------------------------------------


def test_a_failed_run_is_one_line_with_status_and_log_tail_and_no_sas(
    fake: FakeAcr, tasks: AcrTasks, request_: DeployRequest
) -> None:
    fake.outcomes = ["Failed"]

    with pytest.raises(ProviderError) as caught:
        tasks.create(request_)

    [diagnostic] = caught.value.diagnostics
    text = diagnostic.message
    assert "\n" not in text
    assert text.startswith(f"{ADDRESS}: run ca1 in acrchurnprod ended Failed")
    assert "failed during run, err: exit status 1" in text
    assert "failed to run step ID: build: exit status 1" in text  # the log's last line
    assert f"https://{LOG_STORAGE}/logs/ca1/rawtext.log" in text
    everything = f"{text} {diagnostic.hint}"
    for secret in (SAS_SIGNATURE, SAS_SIGNATURE.replace("%3D", "="), "sig=", "?sv=", "se=2026"):
        assert secret not in everything
    assert "az acr task logs --registry acrchurnprod --run-id ca1" in str(diagnostic.hint)
    # the log was read from its end, not whole
    [ranged] = fake.sent("GET", host=LOG_STORAGE)
    assert ranged.headers["x-ms-range"].startswith("bytes=")
    assert ranged.headers["x-ms-range"] != f"bytes=0-{len(fake.runs['ca1'].log) - 1}"

    # nothing was pushed: the next apply builds again rather than adopting
    assert (REPOSITORY, content_tag(request_)) not in fake.tags
    result = tasks.create(request_)
    assert len(scheduled(fake)) == 2
    check_output_value(OutputRef(str(ADDRESS), "image_digest"), result.outputs["image_digest"])


@pytest.mark.parametrize(
    ("method", "path", "host", "status"),
    [
        ("POST", r"/scheduleRun$", ARM, 429),
        ("GET", r"/runs/ca1$", ARM, 429),
        ("GET", r"/_tags/", "acrchurnprod.azurecr.io", 429),
        ("PUT", r"\.tar\.gz$", SOURCE_STORAGE, 503),  # storage throttles with 503 ServerBusy
    ],
)
def test_throttling_is_retried(
    fake: FakeAcr,
    tasks: AcrTasks,
    request_: DeployRequest,
    method: str,
    path: str,
    host: str,
    status: int,
) -> None:
    fake.fail_next(method, path, status, "TooManyRequests", "slow down", headers={"Retry-After": "0"})

    result = tasks.create(request_)

    clean = FakeAcr(fake.subscription, fake.resource_group, fake.registry)
    tasks_for(clean, tasks.session.workspace).create(request_)

    def tries(transport: FakeAcr) -> int:
        return sum(
            1 for r in transport.requests if r.method == method and r.host == host and re.search(path, r.path)
        )

    assert tries(fake) == tries(clean) + 1  # the throttled request, sent again by the SDK's retry policy
    assert len(fake.runs) == 1
    assert result.outputs["image_digest"] == fake.tags[(REPOSITORY, content_tag(request_))]


def test_a_missing_role_names_the_roles_to_grant(
    fake: FakeAcr, tasks: AcrTasks, request_: DeployRequest
) -> None:
    fake.fail_next("POST", r"/listBuildSourceUploadUrl$", 403, "AuthorizationFailed", "no access")

    with pytest.raises(ProviderError) as caught:
        tasks.create(request_)

    [diagnostic] = caught.value.diagnostics
    assert diagnostic.message.startswith(f"{ADDRESS}: 403 on listBuildSourceUploadUrl (AuthorizationFailed)")
    assert TASKS_ROLE in str(diagnostic.hint)
    assert scheduled(fake) == []


def test_a_forbidden_tag_lookup_names_the_roles_too(
    fake: FakeAcr, tasks: AcrTasks, request_: DeployRequest
) -> None:
    fake.fail_next("POST", r"^/oauth2/exchange$", 401, "UNAUTHORIZED", "no pull")

    with pytest.raises(ProviderError) as caught:
        tasks.create(request_)

    hint = str(caught.value.diagnostics[0].hint)
    assert TASKS_ROLE in hint
    assert "az acr config authentication-as-arm show --registry acrchurnprod" in hint


def test_a_forbidden_delete_names_the_delete_role(
    fake: FakeAcr, tasks: AcrTasks, request_: DeployRequest
) -> None:
    current = recorded(request_, tasks.create(request_))
    fake.fail_next("DELETE", r"/_tags/", 403, "DENIED", "requested access to the resource is denied")

    with pytest.raises(ProviderError) as caught:
        tasks.delete(ADDRESS, current)

    [diagnostic] = caught.value.diagnostics
    assert diagnostic.message.startswith(f"{ADDRESS}: 403 on delete of tag {REPOSITORY}:")
    assert "Contributor (or AcrDelete) on acrchurnprod" in str(diagnostic.hint)
    assert (REPOSITORY, content_tag(request_)) in fake.tags


def test_a_task_without_a_content_tag_is_refused(tasks: AcrTasks, request_: DeployRequest) -> None:
    properties = {"version": "v1.1.0", "steps": [{"push": ["$Registry/churn/churn-scoring:{{.Run.ID}}"]}]}
    request = DeployRequest(ADDRESS, "acr:task", Payload(properties, {}, "sha256:x"), request_.files, "")
    with pytest.raises(ProviderError, match="no single"):
        tasks.create(request)


# --- the rest ----------------------------------------------------------------------------------------


def test_handles_and_describe(tasks: AcrTasks) -> None:
    assert AcrTasks.handles("acr:task")
    assert not AcrTasks.handles("arm:Microsoft.ContainerRegistry/registries")
    line = tasks.describe(
        ADDRESS, ProviderResult("acrchurnprod.azurecr.io/churn/churn-scoring@sha256:" + "0" * 64)
    )
    assert line == (
        "image acrchurnprod.azurecr.io/churn/churn-scoring@sha256:"
        + "0" * 64
        + " built by ACR Tasks in acrchurnprod"
    )


def test_importing_the_module_imports_no_sdk() -> None:
    code = (
        "import sys, mlspec.providers.azure.acr\n"
        "loaded = sorted(m for m in sys.modules if m == 'azure' or m.startswith('azure.'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
