"""Azure ML environments, components, compute, pipeline jobs and schedules (mlspec.providers.azure.azureml)
through the real ``azure-ai-ml`` SDK against :class:`FakeAzureML`: the SDK builds, signs, retries,
polls and uploads as in production; only the wire is replaced. The requests are those of the churn
example's prod build (``mlspec build projects/churn/mlproject.yaml --env prod``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.ai.ml")

from mlspec.contract.graph import Address
from mlspec.contract.outputs import OutputRef, check_output_value, substituted_request_parts
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.providers.azure.azureml import AzureMLResources
from mlspec.providers.azure.session import AzureSession
from mlspec.providers.azure.workspace import AzureWorkspace
from mlspec.providers.base import DeployRequest, ProviderError, ProviderResult
from tests.providers.azureml_fake import ACCOUNT, FakeAzureML, JwtCredential, serve_uploads

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENT = Address("aml", "environment", "churn-classifier")
COMPUTE = Address("aml", "compute", "cpu-cluster")
TRAIN = Address("aml", "component", "train")
PIPELINE = Address("aml", "pipeline", "churn-classifier")
RETRAIN = Address("aml", "schedule", "churn-classifier-retrain")
MONITORING = Address("aml", "schedule", "churn-classifier-monitoring")
MONITOR = Address("aml", "monitor", "churn-classifier")
PROD = ("--env", "prod", "-q", "--out")
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("churn-prod")
    subprocess.run(
        [sys.executable, "-m", "mlspec", "build", "projects/churn/mlproject.yaml", *PROD, str(out)],
        cwd=REPO,
        check=True,
    )
    return out


@pytest.fixture(scope="module")
def manifest(build: Path) -> dict[str, Any]:
    return json.loads((build / "manifest.json").read_text())


class Subject:
    """The service module under test, a fake workspace, and the churn build's requests."""

    def __init__(self, build: Path, manifest: dict[str, Any]) -> None:
        self.build = build
        self.manifest = manifest
        self.workspace = AzureWorkspace.of(manifest["workspace"], "prod")
        self.fake = FakeAzureML(
            self.workspace.subscription_id, self.workspace.resource_group, self.workspace.machine_learning
        )
        self.aml = self.reopen()

    def reopen(self, project: str = "churn", environment: str = "prod") -> AzureMLResources:
        """A new provider on the same workspace: the next run of apply (or, given another project or
        environment, another project's apply into the same workspace)."""
        workspace = self.workspace
        if environment != workspace.environment:
            workspace = AzureWorkspace.of(self.manifest["workspace"], environment)
        session = AzureSession(
            workspace,
            JwtCredential(),  # type: ignore[arg-type]
            {"transport": self.fake, "polling_interval": 0, "retry_backoff_factor": 0},
        )
        return AzureMLResources(session, project)

    def request(
        self, address: Address, values: Mapping[str, str] | None = None, **changes: Any
    ) -> DeployRequest:
        """The request apply sends for ``address``: markers replaced by ``values``; ``changes`` edits
        top-level properties of the primary YAML (and its payload) as another build would."""
        [resource] = [r for r in self.manifest["resources"] if r["address"] == str(address)]
        files = {path: (self.build / path).read_bytes() for path in resource["files"]}
        properties = dict(resource["payload"]["properties"])
        if changes:
            import yaml

            primary = yaml.safe_load(files[resource["file"]])
            primary.update(changes)
            properties.update(changes)
            files[resource["file"]] = yaml.safe_dump(primary, sort_keys=False).encode()
        payload = Payload(
            properties,
            resource["payload"]["attachments"],
            resource["hash"] if not changes else f"{resource['hash']}-{sorted(changes.items())}",
        )
        if values:
            payload, files, _ = substituted_request_parts(payload, files, values)
        return DeployRequest(
            address, resource["provider_type"], payload, files, resource["file"], resolved=dict(values or {})
        )

    def recorded(self, request: DeployRequest, result: ProviderResult) -> ResourceState:
        """The state entry apply writes after ``result``: the payload in its marker form, the values
        that replaced its markers and the hashes of the attachments that replacing changed."""
        sent_attachments: dict[str, str] = {}
        payload = request.payload
        if request.resolved:
            marker_form = self.request(request.address)
            payload = marker_form.payload
            _, _, sent_attachments = substituted_request_parts(payload, marker_form.files, request.resolved)
        return ResourceState(
            request.provider_type,
            payload,
            result.provider_id,
            dict(result.outputs),
            resolved=dict(request.resolved),
            sent_attachments=sent_attachments,
        )

    def ws(self, relative: str = "") -> str:
        return self.fake.ws_path(relative).rstrip("/")

    def calls(self, start: int = 0) -> list[tuple[str, str]]:
        """``(method, path under the workspace or host/path)`` of every request since ``start``, polls too."""
        prefix = self.ws("")
        shown = []
        for r in self.fake.requests[start:]:
            if r.path.startswith(prefix):
                shown.append((r.method, r.path[len(prefix) :] or "/"))
            elif "/operations/" in r.path:
                shown.append((r.method, "<poll>"))
            else:
                shown.append((r.method, f"{r.host}{r.path}"))
        return shown


@pytest.fixture
def subject(build: Path, manifest: dict[str, Any]) -> Iterator[Subject]:
    made = Subject(build, manifest)
    with serve_uploads(made.fake):
        yield made


def content(live: Any) -> dict[str, Any] | None:
    return None if live is None else live.payload.content()


# --- the module -------------------------------------------------------------------------------------


def test_it_handles_the_azure_ml_provider_types_only() -> None:
    for provider_type in (
        "azureml:environment",
        "azureml:component",
        "azureml:compute",
        "azureml:pipeline_job",
        "azureml:schedule",
        "azureml:monitor_schedule",
    ):
        assert AzureMLResources.handles(provider_type)
    assert not AzureMLResources.handles("arm:Microsoft.Insights/actionGroups")
    assert not AzureMLResources.handles("Microsoft.Synapse/workspaces/notebooks")


def test_importing_it_does_not_import_the_sdk() -> None:
    code = (
        "import sys, mlspec.providers.azure.azureml\n"
        "assert 'azure.ai.ml' not in sys.modules, sorted(m for m in sys.modules if m.startswith('azure'))\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_every_request_goes_through_the_session_transport(subject: Subject) -> None:
    for address in (ENVIRONMENT, COMPUTE, TRAIN, PIPELINE, RETRAIN):
        subject.aml.create(subject.request(address))
    hosts = {r.host for r in subject.fake.requests}
    assert hosts == {"management.azure.com", f"{ACCOUNT}.blob.core.windows.net"}
    assert all(
        r.headers.get("Authorization", "").startswith("Bearer ")
        for r in subject.fake.requests
        if r.host == "management.azure.com"
    )


# --- environments -----------------------------------------------------------------------------------


def test_environment_create_sends_the_version_and_its_conda_file_then_reads_back(subject: Subject) -> None:
    request = subject.request(ENVIRONMENT)
    result = subject.aml.create(request)
    version = "environments/churn-classifier-env/versions/707beb79e9e7"
    assert result.provider_id == subject.ws(version)
    assert result.outputs == {}
    assert subject.calls() == [("GET", f"/{version}"), ("PUT", f"/{version}")]
    get, put = subject.fake.requests
    assert get.api_version == put.api_version == "2023-04-01-preview"
    body = put.body["properties"]
    assert body["image"] == request.payload.properties["image"]
    assert body["condaFile"].splitlines()[:2] == ["channels:", "- conda-forge"]
    assert "scikit-learn==1.5.2" in body["condaFile"]
    assert body["tags"] == {"mlspec-project": "churn", "mlspec-env": "prod"}
    live = subject.aml.read(ENVIRONMENT, subject.recorded(request, result))
    assert content(live) == request.payload.content()
    assert live is not None and live.hash == request.payload.hash
    assert subject.aml.describe(ENVIRONMENT, result) == (
        "Azure ML environment churn-classifier-env:707beb79e9e7 in mlw-churn-prod"
    )


def test_environment_create_retried_adopts_the_version_without_sending_it_again(subject: Subject) -> None:
    request = subject.request(ENVIRONMENT)
    first = subject.aml.create(request)
    start = len(subject.fake.requests)
    again = subject.reopen().create(request)
    assert (again.provider_id, again.outputs) == (first.provider_id, first.outputs)
    # the version (through the SDK), then whether it is archived (the SDK's entity does not say)
    assert subject.calls(start) == [("GET", "/environments/churn-classifier-env/versions/707beb79e9e7")] * 2
    assert [r.api_version for r in subject.fake.requests[start:]] == ["2023-04-01-preview", "2023-04-01"]


def test_environment_drift_changed_and_deleted_behind_its_back(subject: Subject) -> None:
    request = subject.request(ENVIRONMENT)
    current = subject.recorded(request, subject.aml.create(request))
    stored = subject.fake.entity("environments/churn-classifier-env/versions/707beb79e9e7")
    assert stored is not None
    stored["properties"]["description"] = "edited in the studio"
    live = content(subject.aml.read(ENVIRONMENT, current))
    assert live is not None and live["properties"]["description"] == "edited in the studio"
    assert {k: v for k, v in live["properties"].items() if k != "description"} == {
        k: v for k, v in request.payload.properties.items() if k != "description"
    }
    subject.aml.update(request, current)  # repairs it: the mutable fields of the version are sent again
    assert content(subject.aml.read(ENVIRONMENT, current)) == request.payload.content()
    subject.fake.drop("environments/churn-classifier-env/versions/707beb79e9e7")
    assert subject.aml.read(ENVIRONMENT, current) is None
    start = len(subject.fake.requests)
    recreated = subject.aml.create(request)  # what plan does of a deleted one: 404, so created again
    assert subject.calls(start) == [
        ("GET", "/environments/churn-classifier-env/versions/707beb79e9e7"),
        ("PUT", "/environments/churn-classifier-env/versions/707beb79e9e7"),
    ]
    assert content(subject.aml.read(ENVIRONMENT, subject.recorded(request, recreated))) == (
        request.payload.content()
    )


def test_environment_delete_archives_the_version_and_a_create_restores_it(subject: Subject) -> None:
    request = subject.request(ENVIRONMENT)
    result = subject.aml.create(request)
    current = subject.recorded(request, result)
    start = len(subject.fake.requests)
    subject.aml.delete(ENVIRONMENT, current)
    puts = [r for r in subject.fake.requests[start:] if r.method == "PUT"]
    assert [r.path for r in puts] == [result.provider_id]
    assert puts[0].body["properties"]["isArchived"] is True
    assert subject.fake.entity("environments/churn-classifier-env/versions/707beb79e9e7") is not None
    assert subject.aml.read(ENVIRONMENT, current) is None  # archived reads as deleted
    subject.reopen().delete(ENVIRONMENT, current)  # a retried delete
    again = subject.aml.create(request)
    assert again.provider_id == result.provider_id
    stored = subject.fake.entity("environments/churn-classifier-env/versions/707beb79e9e7")
    assert stored is not None and stored["properties"]["isArchived"] is False
    assert content(subject.aml.read(ENVIRONMENT, current)) == request.payload.content()


def test_environment_delete_of_a_missing_version_is_not_an_error(subject: Subject) -> None:
    request = subject.request(ENVIRONMENT)
    current = subject.recorded(request, subject.aml.create(request))
    subject.fake.drop("environments/churn-classifier-env/versions/707beb79e9e7")
    subject.aml.delete(ENVIRONMENT, current)
    subject.reopen().delete(ENVIRONMENT, current)
    assert subject.aml.read(ENVIRONMENT, current) is None


def test_environment_create_refuses_a_different_version_already_there(subject: Subject) -> None:
    foreign = subject.request(ENVIRONMENT, description="made by hand in the studio")
    subject.reopen().create(foreign)
    before = json.dumps(subject.fake.entity("environments/churn-classifier-env/versions/707beb79e9e7"))
    start = len(subject.fake.requests)
    with pytest.raises(ProviderError) as refused:
        subject.aml.create(subject.request(ENVIRONMENT))
    [diagnostic] = refused.value.diagnostics
    assert (
        str(ENVIRONMENT) in diagnostic.message and "churn-classifier-env:707beb79e9e7" in diagnostic.message
    )
    assert any(word in (diagnostic.hint or "") for word in ("import", "archive", "delete"))
    assert [m for m, _ in subject.calls(start)] == ["GET"]
    assert (
        json.dumps(subject.fake.entity("environments/churn-classifier-env/versions/707beb79e9e7")) == before
    )


# --- components -------------------------------------------------------------------------------------


def test_component_create_uploads_its_code_folder_then_sends_the_version(subject: Subject) -> None:
    request = subject.request(TRAIN)
    result = subject.aml.create(request)
    version = "components/churn_classifier_train/versions/9880f74ae9ea"
    assert result.provider_id == subject.ws(version)
    calls = subject.calls()
    assert calls[0] == ("GET", f"/{version}")
    assert calls[-1] == ("PUT", f"/{version}")
    code_calls = [c for c in calls[1:-1] if c[1].startswith("/codes/")]
    assert [m for m, _ in code_calls] == ["GET", "POST", "PUT"]  # hash look-up, pending upload, version
    assert code_calls[1][1].endswith("/versions/1/startPendingUpload")
    [uploaded] = [p for p in subject.fake.blobs if p.endswith("/train/train.py")]
    assert subject.fake.blobs[uploaded] == request.files["azureml/src/train/train.py"]
    [code_put] = [r for r in subject.fake.requests if r.method == "PUT" and "/codes/" in r.path]
    assert code_put.body["properties"]["codeUri"].endswith("/train")
    [put] = [r for r in subject.fake.requests if r.method == "PUT" and r.path == result.provider_id]
    assert put.api_version == "2024-01-01-preview"
    spec = put.body["properties"]["componentSpec"]
    assert spec["code"] == f"azureml:{code_put.path}"
    assert spec["environment"] == "azureml:" + subject.ws(
        "environments/churn-classifier-env/versions/707beb79e9e7"
    )
    assert spec["command"] == request.payload.properties["command"]
    assert put.body["properties"]["tags"]["team"] == "customer-analytics"
    current = subject.recorded(request, result)
    assert content(subject.aml.read(TRAIN, current)) == request.payload.content()
    start, blobs = len(subject.fake.requests), len(subject.fake.blobs)
    assert subject.reopen().create(request).provider_id == result.provider_id  # adopted: no new upload
    assert [m for m, _ in subject.calls(start)] == ["GET", "GET"] and len(subject.fake.blobs) == blobs


def test_component_delete_archives_and_a_changed_command_behind_its_back_is_drift(subject: Subject) -> None:
    request = subject.request(TRAIN)
    result = subject.aml.create(request)
    current = subject.recorded(request, result)
    stored = subject.fake.entity("components/churn_classifier_train/versions/9880f74ae9ea")
    assert stored is not None
    stored["properties"]["componentSpec"]["command"] = "python other.py"
    live = content(subject.aml.read(TRAIN, current))
    assert live is not None and live["properties"]["command"] == "python other.py"
    subject.aml.delete(TRAIN, current)
    archived = subject.fake.entity("components/churn_classifier_train/versions/9880f74ae9ea")
    assert archived is not None and archived["properties"]["isArchived"] is True
    assert subject.aml.read(TRAIN, current) is None


# --- compute ----------------------------------------------------------------------------------------


def test_compute_create_is_a_polled_operation_that_reports_the_identity(subject: Subject) -> None:
    request = subject.request(COMPUTE)
    result = subject.aml.create(request)
    assert result.provider_id == subject.ws("computes/cpu-cluster")
    assert subject.calls() == [
        ("GET", "/computes/cpu-cluster"),
        ("GET", "/"),  # the workspace, for its location
        ("PUT", "/computes/cpu-cluster"),
        ("GET", "<poll>"),
        ("GET", "<poll>"),
        ("GET", "/computes/cpu-cluster"),
    ]
    [put] = [r for r in subject.fake.requests if r.method == "PUT"]
    assert put.api_version == "2023-08-01-preview"
    assert put.body["location"] == "westeurope"
    assert put.body["identity"]["type"] == "SystemAssigned"
    properties = put.body["properties"]
    assert properties["computeType"] == "AmlCompute"
    assert properties["properties"]["vmSize"] == "Standard_DS4_v2"
    assert properties["properties"]["scaleSettings"] == {
        "maxNodeCount": 8,
        "minNodeCount": 0,
        "nodeIdleTimeBeforeScaleDown": "PT30M",
    }
    principal = result.outputs["principal_id"]
    check_output_value(OutputRef(str(COMPUTE), "principal_id"), principal)
    stored = subject.fake.entity("computes/cpu-cluster")
    assert stored is not None and principal == stored["identity"]["principalId"]
    assert content(subject.aml.read(COMPUTE, subject.recorded(request, result))) == request.payload.content()


def test_compute_outputs_are_stable_across_a_retried_create(subject: Subject) -> None:
    request = subject.request(COMPUTE)
    first = subject.aml.create(request)
    start = len(subject.fake.requests)
    again = subject.reopen().create(request)
    assert (again.provider_id, again.outputs) == (first.provider_id, first.outputs)
    assert subject.calls(start) == [("GET", "/computes/cpu-cluster")]  # adopted, not sent again
    assert subject.aml.create(request).outputs == first.outputs


def test_compute_drift_update_and_delete(subject: Subject) -> None:
    request = subject.request(COMPUTE)
    current = subject.recorded(request, subject.aml.create(request))
    stored = subject.fake.entity("computes/cpu-cluster")
    assert stored is not None
    stored["properties"]["properties"]["scaleSettings"]["maxNodeCount"] = 2
    live = content(subject.aml.read(COMPUTE, current))
    assert live is not None and live["properties"]["max_instances"] == 2
    bigger = subject.request(COMPUTE, max_instances=12)
    updated = subject.aml.update(bigger, current)
    assert updated.outputs == current.outputs
    [*_, put] = [r for r in subject.fake.requests if r.method == "PUT"]
    assert put.body["properties"]["properties"]["scaleSettings"]["maxNodeCount"] == 12
    assert content(subject.aml.read(COMPUTE, subject.recorded(bigger, updated))) == bigger.payload.content()
    start = len(subject.fake.requests)
    subject.aml.delete(COMPUTE, current)
    assert ("DELETE", "/computes/cpu-cluster") in subject.calls(start)
    assert ("GET", "<poll>") in subject.calls(start)
    assert subject.fake.entity("computes/cpu-cluster") is None
    assert subject.aml.read(COMPUTE, current) is None
    subject.reopen().delete(COMPUTE, current)  # deleting a missing cluster is fine


def test_a_retried_create_repairs_the_drifted_cluster_it_made(subject: Subject) -> None:
    """This project's and environment's cluster (its tags say so), found by a create retried after a
    lost state write, drifted since: adopted and repaired, not refused."""
    subject.reopen().create(subject.request(COMPUTE, size="Standard_NC6"))
    stored = subject.fake.entity("computes/cpu-cluster")
    assert stored is not None and OWNED.items() <= stored["tags"].items()
    request = subject.request(COMPUTE)
    start = len(subject.fake.requests)
    result = subject.aml.create(request)
    assert "adopted" not in result.outputs and GUID.fullmatch(result.outputs["principal_id"])
    assert ("PUT", "/computes/cpu-cluster") in subject.calls(start)
    stored = subject.fake.entity("computes/cpu-cluster")
    assert stored is not None and stored["properties"]["properties"]["vmSize"] == "Standard_DS4_v2"
    current = subject.recorded(request, result)
    assert content(subject.aml.read(COMPUTE, current)) == request.payload.content()
    subject.aml.delete(COMPUTE, current)  # mlspec's: deleted
    assert subject.fake.entity("computes/cpu-cluster") is None


def test_compute_refuses_a_different_cluster_another_project_made(subject: Subject) -> None:
    subject.reopen("fraud").create(subject.request(COMPUTE, size="Standard_NC6"))
    start = len(subject.fake.requests)
    with pytest.raises(ProviderError) as refused:
        subject.aml.create(subject.request(COMPUTE))
    [diagnostic] = refused.value.diagnostics
    assert str(COMPUTE) in diagnostic.message and "cpu-cluster" in diagnostic.message
    assert "'fraud'" in diagnostic.message
    assert "delete" in (diagnostic.hint or "")
    assert [m for m, _ in subject.calls(start)] == ["GET"]  # nothing sent
    stored = subject.fake.entity("computes/cpu-cluster")
    assert stored is not None and stored["properties"]["properties"]["vmSize"] == "Standard_NC6"


def test_a_conflict_on_compute_is_tried_again(subject: Subject) -> None:
    subject.fake.fail_next("PUT", r"/computes/cpu-cluster$", 409, "Conflict", "an operation is in progress")
    result = subject.aml.create(subject.request(COMPUTE))
    assert GUID.fullmatch(result.outputs["principal_id"])
    assert [c for c in subject.calls() if c[0] == "PUT"] == [("PUT", "/computes/cpu-cluster")] * 2


def test_throttling_is_retried_by_the_sdk(subject: Subject) -> None:
    request = subject.request(COMPUTE)
    current = subject.recorded(request, subject.aml.create(request))
    start = len(subject.fake.requests)
    subject.fake.fail_next(
        "GET", r"/computes/cpu-cluster$", 429, "TooManyRequests", headers={"Retry-After": "3"}
    )
    assert content(subject.aml.read(COMPUTE, current)) == request.payload.content()
    assert subject.calls(start) == [("GET", "/computes/cpu-cluster")] * 2
    assert 3 in subject.fake.slept  # the SDK waited as told (through the transport: no real sleep)


def test_a_refusal_names_the_role_the_deployer_lacks(subject: Subject) -> None:
    subject.fake.fail_next("GET", r"/computes/cpu-cluster$", 403, "AuthorizationFailed", "no access")
    with pytest.raises(ProviderError) as refused:
        subject.aml.create(subject.request(COMPUTE))
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.message.startswith(f"{COMPUTE}: 403 on read (AuthorizationFailed)")
    assert "AzureML Compute Operator" in (diagnostic.hint or "") and "mlw-churn-prod" in (
        diagnostic.hint or ""
    )


# --- pipeline jobs ----------------------------------------------------------------------------------


def test_pipeline_job_create_submits_one_run_named_after_the_request(subject: Subject) -> None:
    request = subject.request(PIPELINE)
    result = subject.aml.create(request)
    name = subject.aml.job_name(PIPELINE, request)
    assert re.fullmatch(r"mlspec-churn-prod-churn-classifier-[0-9a-f]{16}", name)
    assert result.provider_id == subject.ws(f"jobs/{name}")
    assert subject.calls() == [
        ("GET", f"/jobs/{name}"),
        ("GET", "/"),
        ("PUT", f"/jobs/{name}"),
        ("GET", "/models/churn-classifier/versions"),
    ]
    [put] = [r for r in subject.fake.requests if r.method == "PUT"]
    assert put.api_version == "2024-01-01-preview"
    body = put.body["properties"]
    assert (body["jobType"], body["experimentName"], body["displayName"]) == (
        "Pipeline",
        "churn",
        "churn-classifier training",
    )
    assert body["settings"]["default_compute"] == subject.ws("computes/cpu-cluster")
    assert body["jobs"]["train"]["componentId"] == subject.ws(
        "components/churn_classifier_train/versions/9880f74ae9ea"
    )
    assert body["inputs"]["training_data"]["uri"].startswith("abfss://curated@")
    assert body["identity"] == {"identityType": "Managed"}
    assert body["tags"]["mlspec-project"] == "churn"
    assert result.outputs == {"model_version": "unregistered"}
    check_output_value(OutputRef(str(PIPELINE), "model_version"), result.outputs["model_version"])
    live = subject.aml.read(PIPELINE, subject.recorded(request, result))
    assert content(live) == request.payload.content()
    assert subject.aml.describe(PIPELINE, result) == f"Azure ML pipeline job {name} in mlw-churn-prod"


def test_a_retried_pipeline_create_finds_its_run_instead_of_submitting_again(subject: Subject) -> None:
    request = subject.request(PIPELINE)
    first = subject.aml.create(request)
    again = subject.reopen().create(request)
    assert (again.provider_id, again.outputs) == (first.provider_id, first.outputs)
    assert len([r for r in subject.fake.requests if r.method == "PUT" and "/jobs/" in r.path]) == 1
    changed = subject.request(PIPELINE, display_name="churn-classifier training, again")
    assert subject.aml.job_name(PIPELINE, changed) != subject.aml.job_name(PIPELINE, request)
    other = subject.aml.update(changed, subject.recorded(request, first))
    assert other.provider_id != first.provider_id  # a changed pipeline is a new run
    assert len([r for r in subject.fake.requests if r.method == "PUT" and "/jobs/" in r.path]) == 2
    resolved = DeployRequest(
        request.address,
        request.provider_type,
        request.payload,
        request.files,
        request.primary_file,
        resolved={"workspace.tenant_id": "x"},
    )
    assert subject.aml.job_name(PIPELINE, resolved) != subject.aml.job_name(PIPELINE, request)


def test_a_run_edited_in_the_studio_is_drift_repaired_without_a_second_run(subject: Subject) -> None:
    request = subject.request(PIPELINE)
    result = subject.aml.create(request)
    current = subject.recorded(request, result)
    name = result.provider_id.rsplit("/", 1)[-1]
    stored = subject.fake.entity(f"jobs/{name}")
    assert stored is not None
    stored["properties"]["tags"]["team"] = "someone else"
    live = content(subject.aml.read(PIPELINE, current))
    assert live is not None and live["properties"]["tags"]["team"] == "someone else"
    start = len(subject.fake.requests)
    repaired = subject.aml.update(request, current)
    assert repaired.provider_id == result.provider_id
    [(method, path)] = [c for c in subject.calls(start) if c[0] in ("PUT", "PATCH", "POST")]
    assert (method, path) == (
        "PATCH",
        f"westeurope.api.azureml.ms/history/v1.0{subject.ws('experiments/churn/runs/' + name)}",
    )
    [(run, edits)] = subject.fake.run_patches
    assert run == name and edits["tags"]["team"] == "customer-analytics"
    assert edits["tags"]["mlspec-project"] == "churn"
    assert content(subject.aml.read(PIPELINE, current)) == request.payload.content()
    assert len(subject.fake.sent("PUT", "/jobs/")) == 1


def test_a_retried_pipeline_create_repairs_its_run_edited_in_the_studio(subject: Subject) -> None:
    """The run a create submitted (its tags say this project's), edited before the retry that finds
    it: its tags are set back, with no second run and no refusal."""
    request = subject.request(PIPELINE)
    first = subject.aml.create(request)
    name = first.provider_id.rsplit("/", 1)[-1]
    stored = subject.fake.entity(f"jobs/{name}")
    assert stored is not None
    stored["properties"]["tags"]["team"] = "someone else"
    again = subject.reopen().create(request)
    assert (again.provider_id, again.outputs) == (first.provider_id, first.outputs)
    [(run, edits)] = subject.fake.run_patches
    assert run == name and edits["tags"]["team"] == "customer-analytics"
    assert len(subject.fake.sent("PUT", "/jobs/")) == 1
    assert content(subject.aml.read(PIPELINE, subject.recorded(request, again))) == request.payload.content()


def test_model_version_is_the_newest_registered_one_and_is_observed_again(subject: Subject) -> None:
    request = subject.request(PIPELINE)
    result = subject.aml.create(request)
    current = subject.recorded(request, result)
    assert subject.aml.observe(PIPELINE, current) == {"model_version": "unregistered"}
    for version in ("1", "2", "10", "9"):
        subject.fake.register_model("churn-classifier", version)
    archived = subject.fake.entity("models/churn-classifier/versions/10")
    assert archived is not None
    assert subject.reopen().observe(PIPELINE, current) == {"model_version": "10"}
    archived["properties"]["isArchived"] = True  # an archived version no longer counts
    observed = subject.aml.observe(PIPELINE, current)
    assert observed == {"model_version": "9"}
    check_output_value(OutputRef(str(PIPELINE), "model_version"), observed["model_version"])
    [*_, listing] = [r for r in subject.fake.requests if r.path.endswith("/models/churn-classifier/versions")]
    assert (listing.method, listing.api_version) == ("GET", "2023-08-01-preview")
    assert subject.aml.observe(COMPUTE, subject.recorded(subject.request(COMPUTE), result)) == {}


def test_pipeline_job_delete_cancels_a_running_job_then_archives_it(subject: Subject) -> None:
    request = subject.request(PIPELINE)
    result = subject.aml.create(request)
    current = subject.recorded(request, result)
    name = result.provider_id.rsplit("/", 1)[-1]
    start = len(subject.fake.requests)
    subject.aml.delete(PIPELINE, current)
    calls = subject.calls(start)
    assert ("POST", f"/jobs/{name}/cancel") in calls
    # archived the way the SDK (and the studio) does it: the run history's `hidden`
    run = f"experiments/churn/runs/{name}"
    assert calls[-1] == ("PATCH", f"westeurope.api.azureml.ms/history/v1.0{subject.ws(run)}")
    assert subject.fake.run_patches == [(name, {"hidden": True})]
    stored = subject.fake.entity(f"jobs/{name}")
    assert stored is not None and stored["properties"]["status"] == "Canceled"
    assert stored["properties"]["isArchived"] is True
    assert subject.aml.read(PIPELINE, current) is None
    again = subject.reopen().create(request)  # applied again: the same run, restored, not a new one
    assert again.provider_id == result.provider_id
    assert subject.fake.run_patches[-1] == (name, {"hidden": False})
    assert len(subject.fake.sent("PUT", "/jobs/")) == 1
    assert content(subject.aml.read(PIPELINE, current)) == request.payload.content()
    subject.aml.delete(PIPELINE, current)
    start = len(subject.fake.requests)
    subject.reopen().delete(PIPELINE, current)  # a finished job is not cancelled again
    assert ("POST", f"/jobs/{name}/cancel") not in subject.calls(start)
    subject.fake.drop(f"jobs/{name}")
    subject.aml.delete(PIPELINE, current)  # a missing job is fine


# --- schedules --------------------------------------------------------------------------------------


def test_schedule_create_read_drift_and_delete(subject: Subject) -> None:
    request = subject.request(RETRAIN)
    result = subject.aml.create(request)
    assert result.provider_id == subject.ws("schedules/churn-classifier-retrain")
    calls = subject.calls()
    assert calls[0] == ("GET", "/schedules/churn-classifier-retrain")
    assert calls[-4:] == [
        ("PUT", "/schedules/churn-classifier-retrain"),
        ("GET", "<poll>"),  # a long-running operation, polled to its end
        ("GET", "<poll>"),
        ("GET", "/schedules/churn-classifier-retrain"),
    ]
    [put] = [r for r in subject.fake.requests if r.method == "PUT"]
    assert put.api_version == "2023-06-01-preview"
    body = put.body["properties"]
    assert body["trigger"]["triggerType"] == "Cron" and body["trigger"]["expression"] == "0 3 * * 1"
    assert body["action"]["actionType"] == "CreateJob"
    assert body["action"]["jobDefinition"]["jobType"] == "Pipeline"
    assert body["displayName"] == "churn-classifier retrain"
    current = subject.recorded(request, result)
    assert content(subject.aml.read(RETRAIN, current)) == request.payload.content()
    start = len(subject.fake.requests)
    assert subject.reopen().create(request).provider_id == result.provider_id  # a retried create
    puts = [c for c in subject.calls(start) if c[0] == "PUT"]
    assert puts == [("PUT", "/schedules/churn-classifier-retrain")]  # its job cannot be compared: sent again
    assert len(subject.fake.sent("PUT")) == 2
    stored = subject.fake.entity("schedules/churn-classifier-retrain")
    assert stored is not None
    stored["properties"]["trigger"]["expression"] = "0 4 * * *"
    live = content(subject.aml.read(RETRAIN, current))
    assert live is not None and live["properties"]["trigger"]["expression"] == "0 4 * * *"
    subject.aml.update(request, current)
    assert content(subject.aml.read(RETRAIN, current)) == request.payload.content()
    start = len(subject.fake.requests)
    subject.aml.delete(RETRAIN, current)
    deleting = [c for c in subject.calls(start) if c[0] in ("PUT", "DELETE")]
    assert deleting == [
        ("PUT", "/schedules/churn-classifier-retrain"),  # disabled first
        ("DELETE", "/schedules/churn-classifier-retrain"),
    ]
    [disable] = [r for r in subject.fake.requests[start:] if r.method == "PUT"]
    assert disable.body["properties"]["isEnabled"] is False
    assert subject.aml.read(RETRAIN, current) is None
    subject.reopen().delete(RETRAIN, current)  # a missing schedule is fine


def test_a_schedule_is_sent_with_the_outputs_replaced(subject: Subject) -> None:
    values = {
        "aml.pipeline.churn-classifier.model_version": "7",
        "monitor.data_collection_endpoint.churn-mlspec.logs_ingestion_endpoint": "https://dce.ingest.monitor.azure.com",
        "monitor.data_collection_rule.churn-mlspec.immutable_id": "dcr-" + "0" * 32,
    }
    request = subject.request(MONITORING, values)
    result = subject.aml.create(request)
    [put] = [r for r in subject.fake.requests if r.method == "PUT"]
    sent = json.dumps(put.body)
    assert "mlspec:output:" not in sent
    inputs = put.body["properties"]["action"]["jobDefinition"]["inputs"]
    assert inputs["model_version"]["value"] == "7"
    assert inputs["rule_id"]["value"] == "dcr-" + "0" * 32
    assert (
        content(subject.aml.read(MONITORING, subject.recorded(request, result))) == request.payload.content()
    )


def test_monitor_schedule_create_and_delete(subject: Subject) -> None:
    request = subject.request(MONITOR)
    result = subject.aml.create(request)
    assert result.provider_id == subject.ws("schedules/churn-classifier-monitor")
    [put] = [r for r in subject.fake.requests if r.method == "PUT"]
    action = put.body["properties"]["action"]
    assert action["actionType"] == "CreateMonitor"
    signals = action["monitorDefinition"]["signals"]
    assert set(signals) >= {"feature-drift", "score-drift"}
    current = subject.recorded(request, result)
    assert content(subject.aml.read(MONITOR, current)) == request.payload.content()
    assert (
        subject.aml.describe(MONITOR, result)
        == "Azure ML monitor schedule churn-classifier-monitor in mlw-churn-prod"
    )
    subject.aml.delete(MONITOR, current)
    assert subject.aml.read(MONITOR, current) is None


def test_schedule_polls_print_nothing(subject: Subject, capsys: pytest.CaptureFixture[str]) -> None:
    subject.aml.create(subject.request(RETRAIN))
    assert capsys.readouterr().out == ""


# --- errors -----------------------------------------------------------------------------------------


def test_a_yaml_the_sdk_refuses_is_one_error_and_nothing_is_sent(subject: Subject) -> None:
    with pytest.raises(ProviderError) as refused:
        subject.aml.update(
            subject.request(COMPUTE, type="not_a_compute_type"),
            ResourceState("azureml:compute", Payload({}), subject.ws("computes/cpu-cluster")),
        )
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.message.startswith(f"{COMPUTE}: create or update failed (")
    assert "\n" not in diagnostic.message
    assert "mlspec validate" in (diagnostic.hint or "")
    assert subject.fake.sent("PUT") == []


def test_a_workspace_without_azure_ml_is_mls815_before_any_request(subject: Subject) -> None:
    from mlspec.diagnostics import MlspecError

    workspace = AzureWorkspace.of(
        {k: v for k, v in subject.manifest["workspace"].items() if k != "machine_learning"}, "prod"
    )
    aml = AzureMLResources(AzureSession(workspace, JwtCredential(), {"transport": subject.fake}), "churn")  # type: ignore[arg-type]
    with pytest.raises(MlspecError) as refused:
        aml.create(subject.request(COMPUTE))
    assert not isinstance(refused.value, ProviderError)
    assert [d.code for d in refused.value.diagnostics] == ["MLS815"]
    assert subject.fake.requests == []


# --- ownership ---------------------------------------------------------------------------------------

OWNED = {"mlspec-project": "churn", "mlspec-env": "prod"}


def sent_tags(body: dict[str, Any]) -> dict[str, Any]:
    """The tags of a PUT's body, where the kind's REST shape keeps them."""
    properties = body.get("properties") or {}
    return dict(body.get("tags") or properties.get("tags") or {})


def test_everything_sent_carries_the_ownership_tags_beside_the_spec_s(subject: Subject) -> None:
    for address in (ENVIRONMENT, COMPUTE, TRAIN, PIPELINE, RETRAIN, MONITOR):
        request = subject.request(address)
        start = len(subject.fake.requests)
        result = subject.aml.create(request)
        [put] = [
            r for r in subject.fake.requests[start:] if r.method == "PUT" and r.path == result.provider_id
        ]
        tags = sent_tags(put.body)
        assert {k: tags.get(k) for k in OWNED} == OWNED, (address, tags)
        spec_tags = request.payload.properties.get("tags") or {}
        assert {k: v for k, v in tags.items() if k not in OWNED} == spec_tags, address
        # not part of the diff: the live object reads as the build's payload, vouched for by its hash
        live = subject.aml.read(address, subject.recorded(request, result))
        assert live is not None and live.hash == request.payload.hash, address
        assert "mlspec-project" not in json.dumps(live.payload.properties), address


def test_a_yaml_s_own_mlspec_tags_do_not_claim_ownership(subject: Subject) -> None:
    request = subject.request(COMPUTE, tags={"mlspec-project": "fraud", "team": "x"})
    subject.aml.create(request)
    [put] = subject.fake.sent("PUT", "/computes/cpu-cluster")
    assert sent_tags(put.body) == {**OWNED, "team": "x"}


def test_an_identical_compute_another_project_made_is_adopted_and_destroy_leaves_it(
    subject: Subject,
) -> None:
    """fraud and churn both name their cluster cpu-cluster (the schema's default): churn may adopt
    fraud's identical cluster, as it is and marked adopted, but never retag, change or delete it."""
    fraud = subject.reopen("fraud")
    request = subject.request(COMPUTE)
    made = fraud.create(request)
    stored = subject.fake.entity("computes/cpu-cluster")
    assert stored is not None and stored["tags"]["mlspec-project"] == "fraud"
    before = json.dumps(stored, sort_keys=True)
    start = len(subject.fake.requests)
    adopted = subject.aml.create(request)
    assert adopted.outputs == {**made.outputs, "adopted": "true"}
    assert adopted.provider_id == made.provider_id
    assert [m for m, _ in subject.calls(start)] == ["GET"]  # nothing sent: still fraud's
    current = subject.recorded(request, adopted)
    assert content(subject.aml.read(COMPUTE, current)) == request.payload.content()
    # an update that asks for what it is keeps it adopted; one that would change it is refused
    again = subject.aml.update(request, current)
    assert again.outputs == adopted.outputs
    with pytest.raises(ProviderError, match="updating it would overwrite it"):
        subject.aml.update(subject.request(COMPUTE, max_instances=2), current)
    subject.aml.delete(COMPUTE, current)  # forgotten, not deleted
    subject.reopen().delete(COMPUTE, current)
    assert not [c for c in subject.calls(start) if c[0] in ("PUT", "DELETE")]
    assert json.dumps(subject.fake.entity("computes/cpu-cluster"), sort_keys=True) == before
    # a churn state entry that points at fraud's cluster without the mark (an older mlspec's)
    stale = subject.recorded(request, made)
    with pytest.raises(ProviderError) as kept:
        subject.aml.delete(COMPUTE, stale)
    [diagnostic] = kept.value.diagnostics
    assert "'fraud'" in diagnostic.message and "does not delete it" in diagnostic.message
    assert "\n" not in diagnostic.message and "mlspec state rm" in (diagnostic.hint or "")
    fraud.delete(COMPUTE, subject.recorded(request, made))  # its owner deletes it
    assert subject.fake.entity("computes/cpu-cluster") is None


def test_create_refuses_what_the_same_project_made_differently_for_another_environment(
    subject: Subject,
) -> None:
    subject.reopen("churn", "staging").create(subject.request(COMPUTE, max_instances=2))
    with pytest.raises(ProviderError, match="environment 'staging'"):
        subject.aml.create(subject.request(COMPUTE))
    stored = subject.fake.entity("computes/cpu-cluster")
    assert stored is not None and stored["tags"]["mlspec-env"] == "staging"


def test_an_identical_version_another_project_made_is_adopted_never_archived(
    subject: Subject,
) -> None:
    request = subject.request(ENVIRONMENT)
    made = subject.reopen("fraud").create(request)
    version = "environments/churn-classifier-env/versions/707beb79e9e7"
    start = len(subject.fake.requests)
    adopted = subject.aml.create(request)
    assert adopted.provider_id == made.provider_id and adopted.outputs == {"adopted": "true"}
    assert not [c for c in subject.calls(start) if c[0] not in ("GET",)]
    subject.aml.delete(ENVIRONMENT, subject.recorded(request, adopted))  # forgotten only
    with pytest.raises(ProviderError, match="does not delete it"):
        subject.aml.delete(ENVIRONMENT, subject.recorded(request, made))  # not marked: refused
    stored = subject.fake.entity(version)
    assert stored is not None and not stored["properties"].get("isArchived")
    assert stored["properties"]["tags"]["mlspec-project"] == "fraud"


def test_a_different_version_another_project_made_is_refused(subject: Subject) -> None:
    subject.reopen("fraud").create(subject.request(ENVIRONMENT, description="fraud's"))
    with pytest.raises(ProviderError) as refused:
        subject.aml.create(subject.request(ENVIRONMENT))
    [diagnostic] = refused.value.diagnostics
    assert "churn-classifier-env:707beb79e9e7" in diagnostic.message and "'fraud'" in diagnostic.message
    assert all(word in (diagnostic.hint or "") for word in ("import", "rename"))


def test_delete_refuses_an_object_without_ownership_tags_and_a_missing_one_is_fine(
    subject: Subject,
) -> None:
    request = subject.request(RETRAIN)
    result = subject.aml.create(request)
    current = subject.recorded(request, result)
    stored = subject.fake.entity("schedules/churn-classifier-retrain")
    assert stored is not None
    for key in OWNED:  # made by hand: a state entry pointing at something mlspec did not make
        del stored["properties"]["tags"][key]
    start = len(subject.fake.requests)
    with pytest.raises(ProviderError) as refused:
        subject.reopen().delete(RETRAIN, current)
    [diagnostic] = refused.value.diagnostics
    assert "was not made by mlspec" in diagnostic.message and "\n" not in diagnostic.message
    assert [m for m, _ in subject.calls(start)] == ["GET"]
    assert subject.fake.entity("schedules/churn-classifier-retrain") is not None
    with pytest.raises(ProviderError, match="was not made by mlspec"):
        subject.aml.create(request)  # nor adopted
    subject.fake.drop("schedules/churn-classifier-retrain")
    subject.aml.delete(RETRAIN, current)  # 404: nothing to refuse


def test_a_pipeline_job_of_another_project_is_not_archived(subject: Subject) -> None:
    request = subject.request(PIPELINE)
    result = subject.aml.create(request)
    name = result.provider_id.rsplit("/", 1)[-1]
    stored = subject.fake.entity(f"jobs/{name}")
    assert stored is not None
    stored["properties"]["tags"]["mlspec-project"] = "fraud"
    with pytest.raises(ProviderError, match="does not delete it"):
        subject.aml.delete(PIPELINE, subject.recorded(request, result))
    assert not subject.fake.sent("POST", "/cancel") and subject.fake.run_patches == []


# --- through plan and apply, wired into the Azure provider ----------------------------------------


def wired_provider(subject: Subject) -> Any:
    """The Azure provider with this module dispatched to, as provider.py is to wire it (the dispatch
    lines of the report): Azure ML types to :class:`AzureMLResources`, ``observe_outputs`` to its
    ``observe``."""
    from mlspec.providers.azure import AzureProvider

    class Wired(AzureProvider):
        def __init__(self) -> None:
            super().__init__(
                subject.workspace,
                "churn",
                JwtCredential(),  # type: ignore[arg-type]
                {"transport": subject.fake, "polling_interval": 0, "retry_backoff_factor": 0},
            )
            self.azureml = AzureMLResources(self.session, self.project)

        def _service(self, address: Address, provider_type: str) -> Any:
            if AzureMLResources.handles(provider_type):
                return self.azureml
            return super()._service(address, provider_type)

        def describe(self, address: Address, result: ProviderResult) -> str:
            if address.service == "aml":
                return self.azureml.describe(address, result)
            return super().describe(address, result)

        def observe_outputs(self, address: Address, current: ResourceState) -> Mapping[str, str]:
            if AzureMLResources.handles(current.provider_type):
                return self.azureml.observe(address, current)
            return super().observe_outputs(address, current)

    return Wired()


CHAIN = (
    "monitor.data_collection_endpoint.churn-mlspec",
    "monitor.data_collection_rule.churn-mlspec",
    "aml.environment.churn-classifier",
    "aml.compute.cpu-cluster",
    *(f"aml.component.{name}" for name in ("refresh_features", "prepare", "train", "evaluate")),
    *(f"aml.component.{name}" for name in ("register", "monitor")),
    "aml.pipeline.churn-classifier",
    "aml.schedule.churn-classifier-monitoring",
)


def test_apply_records_the_outputs_and_a_newer_model_version_updates_its_consumer(
    subject: Subject, tmp_path: Path
) -> None:
    from mlspec.contract.graph import Manifest
    from mlspec.plan.apply import execute
    from mlspec.plan.backends import backend_for
    from mlspec.plan.desired import desired_from_parts
    from mlspec.plan.operations import locked, observe_outputs, refresh_live, target_values
    from mlspec.plan.plan import Action, make_plan

    document = dict(subject.manifest)
    kept = []
    for resource in document["resources"]:
        if resource["address"] in CHAIN:
            kept.append({**resource, "depends_on": [d for d in resource["depends_on"] if d in CHAIN]})
    document["resources"] = kept
    manifest = Manifest.from_json(document)
    payloads = {Address.parse(r["address"]): dict(r["payload"]) for r in kept}
    desired = desired_from_parts(
        manifest, payloads, lambda path: (subject.build / path).read_bytes(), tmp_path
    )
    backend = backend_for({"backend": "local"}, "churn", "prod", tmp_path, tmp_path / "state")

    def plan(provider: Any) -> Any:
        state = backend.read()
        return make_plan(
            desired,
            state,
            live=refresh_live(provider, state),
            target=target_values(desired, provider),
            observed=observe_outputs(provider, state),
        )

    def apply(provider: Any) -> Any:
        with locked(backend, "apply"):
            return execute(
                plan(provider), provider=provider, backend=backend, state=backend.read(), files=desired.files
            )

    first = apply(wired_provider(subject))
    assert first.ok, [o.error for o in first.failures]
    state = backend.read()
    assert state is not None
    compute = state.resources[COMPUTE].outputs["principal_id"]
    assert compute == subject.fake.entity("computes/cpu-cluster")["identity"]["principalId"]  # type: ignore[index]
    assert state.resources[PIPELINE].outputs == {"model_version": "unregistered"}
    schedule = state.resources[MONITORING]
    assert schedule.resolved["aml.pipeline.churn-classifier.model_version"] == "unregistered"
    [put] = subject.fake.sent("PUT", "/schedules/churn-classifier-monitoring")
    assert (
        put.body["properties"]["action"]["jobDefinition"]["inputs"]["model_version"]["value"]
        == "unregistered"
    )
    assert len(subject.fake.sent("PUT", "/jobs/")) == 1  # one training run submitted
    assert not plan(wired_provider(subject)).has_changes  # the applied values are no change

    subject.fake.register_model("churn-classifier", "3")  # the training run registered a version
    later = plan(wired_provider(subject))
    updated = [(str(c.address), c.action) for c in later.changes if c.action is not Action.NO_OP]
    assert updated == [(str(MONITORING), Action.UPDATE)]
    second = apply(wired_provider(subject))
    assert second.ok, [o.error for o in second.failures]
    [*_, put] = subject.fake.sent("PUT", "/schedules/churn-classifier-monitoring")
    assert put.body["properties"]["action"]["jobDefinition"]["inputs"]["model_version"]["value"] == "3"
    assert len(subject.fake.sent("PUT", "/jobs/")) == 1  # observing the version submits no run
    assert not plan(wired_provider(subject)).has_changes
