"""Output markers end to end: the build records needs and outputs (MLS605), plan says what is known
after apply and refuses a need nothing satisfies (MLS842), apply sends the values while state keeps
the marker form, and a producer whose output changes updates what needs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlspec import api
from mlspec.compiler.artifacts import ArtifactSet
from mlspec.compiler.build import manifest_document, payload
from mlspec.compiler.outputs import record_outputs
from mlspec.contract import outputs as contract_outputs
from mlspec.contract.graph import Address, Manifest, Resource, topological_order
from mlspec.contract.outputs import MARKER_PREFIX, output_marker
from mlspec.contract.payload import payload_hash
from mlspec.diagnostics import Location, MlspecError
from mlspec.plan import operations
from mlspec.plan.desired import Desired, desired_from_parts
from mlspec.plan.plan import Action, make_plan
from mlspec.plan.planfile import load_plan, save_plan
from mlspec.plan.render import render_plan
from mlspec.providers.local import LocalProvider

REPO = Path(__file__).resolve().parents[2]
TASK = Address("acr", "task", "scoring")
DEPLOYMENT = Address("aks", "deployment", "scoring")
DIGEST = f"{TASK}.image_digest"
TENANT = "workspace.tenant_id"


class _Spec:
    """What :func:`record_outputs` asks of a resolved spec: where a spec path is."""

    def locate(self, path: object) -> Location:
        return Location("mlproject.yaml", 7, 3)


def _build(
    folder: Path, dockerfile: str = "FROM python:3.11\n", *, depends: bool = True, variable: str = "TENANT"
) -> tuple[ArtifactSet, list[Resource]]:
    out = ArtifactSet()
    out.add_yaml("acr/task.yaml", {"steps": [{"build": "-t scoring ."}]})
    out.add_text("acr/Dockerfile", dockerfile)
    out.add_resource(Resource(TASK, "acr:task", ["acr/task.yaml", "acr/Dockerfile"]))
    out.add_yaml(
        "aks/deployment.yaml",
        {
            "spec": {
                "image": f"contoso.azurecr.io/scoring@{output_marker(str(TASK), 'image_digest')}",
                "env": [{"name": variable, "value": output_marker("workspace", "tenant_id")}],
            }
        },
    )
    out.add_resource(
        Resource(
            DEPLOYMENT, "kubernetes:apps/v1/Deployment", ["aks/deployment.yaml"], [TASK] if depends else []
        )
    )
    return out, topological_order(out.resources)


def _desired(folder: Path, dockerfile: str = "FROM python:3.11\n", variable: str = "TENANT") -> Desired:
    out, ordered = _build(folder, dockerfile, variable=variable)
    assert record_outputs(out, ordered, _Spec()) == []  # type: ignore[arg-type]
    manifest = Manifest("shop", "dev", "mlproject.yaml", ordered, provider="local")
    payloads = {r.address: payload(out, r) for r in ordered}
    return desired_from_parts(manifest, payloads, lambda path: out.artifacts[path].content, folder)


def _stored(folder: Path, address: Address) -> str:
    root = folder / ".mlspec" / "local" / "dev" / address.service / address.kind / address.name
    return "".join(p.read_text(encoding="utf-8") for p in sorted(root.rglob("*")) if p.is_file())


def _state(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / ".mlspec" / "state" / "shop" / "dev.json").read_text())
    return data


# --- build ------------------------------------------------------------------------------------------------


def test_the_diabetes_build_records_what_each_resource_needs_and_reports() -> None:
    result = api.build(REPO / "projects" / "diabetes" / "mlproject.yaml", "dev")
    by_address = result.manifest.by_address()
    config_map = next(r for a, r in by_address.items() if (a.service, a.kind) == ("aks", "config_map"))
    assert TENANT in config_map.needs
    deployment = next(r for a, r in by_address.items() if (a.service, a.kind) == ("aks", "deployment"))
    assert any(n.startswith("acr.task.") and n.endswith(".image_digest") for n in deployment.needs)
    assert deployment.needs == sorted(set(deployment.needs))
    identity = next(r for a, r in by_address.items() if (a.service, a.kind) == ("access", "identity"))
    assert identity.outputs == ["client_id", "principal_id"]
    document = manifest_document(result)
    entries = {e["address"]: e for e in document["resources"]}
    assert entries[str(config_map.address)]["needs"] == config_map.needs
    namespace = next(e for e in document["resources"] if e["address"].startswith("aks.namespace."))
    assert "needs" not in namespace and "outputs" not in namespace  # omitted where there are none
    assert Manifest.from_json(document).by_address()[config_map.address].needs == config_map.needs


def test_a_build_whose_marker_names_an_output_no_producer_reports_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producers = {k: v for k, v in contract_outputs.PRODUCERS.items() if k != ("acr", "task")}
    monkeypatch.setattr(contract_outputs, "PRODUCERS", producers)
    with pytest.raises(MlspecError) as failed:
        api.build(REPO / "projects" / "diabetes" / "mlproject.yaml", "dev")
    found = [d for d in failed.value.diagnostics if d.code == "MLS605"]
    assert found, failed.value.diagnostics
    assert any("aks/deployment" in d.message and "image_digest" in d.message for d in found)
    assert all(d.hint and d.location is not None for d in found)


def test_a_marker_naming_a_missing_or_unordered_producer_is_an_mls605(tmp_path: Path) -> None:
    out, ordered = _build(tmp_path, depends=False)
    [unordered] = record_outputs(out, ordered, _Spec())  # type: ignore[arg-type]
    assert unordered.code == "MLS605" and "aks/deployment.yaml" in unordered.message
    assert f"{MARKER_PREFIX}{DIGEST}" in unordered.message and "does not depend on" in unordered.message
    missing = [r for r in ordered if r.address != TASK]
    for resource in missing:
        resource.depends_on = []
    [absent] = record_outputs(out, missing, _Spec())  # type: ignore[arg-type]
    assert "does not create" in absent.message and absent.location == Location("mlproject.yaml", 7, 3)
    assert absent.hint


# --- plan and apply ---------------------------------------------------------------------------------------


def test_apply_sends_the_values_while_state_keeps_the_marker_form(tmp_path: Path) -> None:
    desired = _desired(tmp_path)
    planned = operations.plan_desired(desired).plan
    deployment = planned.change_for(DEPLOYMENT)
    assert deployment is not None and deployment.known_after_apply == [DIGEST]  # the tenant is known now
    assert "# known after apply: " + DIGEST in render_plan(planned)
    assert deployment.to_json()["after"]["needs"] == [DIGEST, TENANT]

    result = operations.apply_desired(desired)
    assert result.ok, [o.error for o in result.failures]
    stored = _stored(tmp_path, DEPLOYMENT)
    assert MARKER_PREFIX not in stored
    state = _state(tmp_path)
    digest = state["resources"][str(TASK)]["outputs"]["image_digest"]
    assert f"contoso.azurecr.io/scoring@{digest}" in stored
    entry = state["resources"][str(DEPLOYMENT)]
    out, _ = _build(tmp_path)
    built = payload(out, out.resources[-1])
    assert entry["hash"] == payload_hash("kubernetes:apps/v1/Deployment", built["properties"], {})
    assert MARKER_PREFIX in json.dumps(entry["properties"])  # the payload as built
    assert entry["resolved"] == {
        DIGEST: digest,
        TENANT: LocalProvider(tmp_path, "dev").target_outputs()["tenant_id"],
    }
    again = operations.plan_desired(desired).plan
    assert not again.has_changes, render_plan(again)


def test_a_producer_with_a_new_output_updates_what_needs_it(tmp_path: Path) -> None:
    operations.apply_desired(_desired(tmp_path))
    old_digest = _state(tmp_path)["resources"][str(TASK)]["outputs"]["image_digest"]
    rebuilt = _desired(tmp_path, "FROM python:3.12\n")
    planned = operations.plan_desired(rebuilt).plan
    deployment = planned.change_for(DEPLOYMENT)
    assert deployment is not None and deployment.action is Action.UPDATE
    assert deployment.changes == [] and deployment.known_after_apply == [DIGEST]
    assert operations.apply_desired(rebuilt).ok
    new_digest = _state(tmp_path)["resources"][str(TASK)]["outputs"]["image_digest"]
    assert new_digest != old_digest
    assert new_digest in _stored(tmp_path, DEPLOYMENT) and old_digest not in _stored(tmp_path, DEPLOYMENT)
    assert not operations.plan_desired(rebuilt).plan.has_changes


def test_a_resource_applied_with_a_literal_marker_is_updated_with_its_values(tmp_path: Path) -> None:
    """A state written before markers were replaced records no values: the next plan sends them."""
    desired = _desired(tmp_path)
    operations.apply_desired(desired)
    path = tmp_path / ".mlspec" / "state" / "shop" / "dev.json"
    document = json.loads(path.read_text())
    del document["resources"][str(DEPLOYMENT)]["resolved"]
    path.write_text(json.dumps(document))
    planned = operations.plan_desired(desired, refresh=False).plan
    deployment = planned.change_for(DEPLOYMENT)
    assert deployment is not None and deployment.action is Action.UPDATE
    assert [c.path for c in deployment.output_changes] == [DIGEST]
    assert TENANT in deployment.known_after_apply  # not refreshed: the provider was not asked
    assert "~ output " + DIGEST in render_plan(planned)
    assert operations.apply_desired(desired).ok
    assert not operations.plan_desired(desired).plan.has_changes


def test_plan_refuses_a_need_nothing_satisfies(tmp_path: Path) -> None:
    desired = _desired(tmp_path)
    del desired.resources[TASK]  # the producer is neither in the build nor in state
    desired.manifest.resources = [r for r in desired.manifest.resources if r.address != TASK]
    with pytest.raises(MlspecError) as refused:
        operations.plan_desired(desired)
    [problem] = refused.value.diagnostics
    assert problem.code == "MLS842"
    assert str(DEPLOYMENT) in problem.message and f"{MARKER_PREFIX}{DIGEST}" in problem.message
    assert problem.hint and str(TASK) in problem.hint
    with pytest.raises(MlspecError) as no_tenant:
        make_plan(_desired(tmp_path), None, target={})
    assert [d.code for d in no_tenant.value.diagnostics] == ["MLS842"]
    assert "set workspace.tenant_id in the spec" in (no_tenant.value.diagnostics[0].hint or "")


def test_a_saved_plan_is_checked_again_when_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = operations.plan_desired(_desired(tmp_path))
    saved = load_plan(save_plan(result, tmp_path / "plan.json"))
    assert saved.plan.change_for(DEPLOYMENT).known_after_apply == [DIGEST]  # type: ignore[union-attr]
    monkeypatch.setattr(LocalProvider, "target_outputs", lambda self: {})
    with pytest.raises(MlspecError) as refused:
        operations.apply_plan(saved)
    assert [d.code for d in refused.value.diagnostics] == ["MLS842"]
    assert not (tmp_path / ".mlspec" / "local" / "dev").exists()  # nothing was applied


def test_a_saved_plan_whose_producer_lost_its_output_is_refused_before_anything_is_applied(
    tmp_path: Path,
) -> None:
    assert operations.apply_desired(_desired(tmp_path)).ok
    changed = _desired(tmp_path, variable="TENANT_ID")  # the deployment changes, the task does not
    saved = load_plan(save_plan(operations.plan_desired(changed), tmp_path / "plan.json"))
    assert saved.plan.change_for(TASK).action is Action.NO_OP  # type: ignore[union-attr]
    state_file = tmp_path / ".mlspec" / "state" / "shop" / "dev.json"
    state = json.loads(state_file.read_text())
    del state["resources"][str(TASK)]["outputs"]["image_digest"]
    state_file.write_text(json.dumps(state))
    before = _stored(tmp_path, DEPLOYMENT)
    with pytest.raises(MlspecError) as refused:
        operations.apply_plan(saved)
    assert [d.code for d in refused.value.diagnostics] == ["MLS842"]
    assert _stored(tmp_path, DEPLOYMENT) == before, "nothing was applied"


# --- outputs that change outside apply ----------------------------------------------------------------------

PIPELINE = Address("aml", "pipeline", "churn-model")
SERVING = Address("aks", "deployment", "serving")
VERSION = f"{PIPELINE}.model_version"


def _serving_desired(folder: Path) -> Desired:
    out = ArtifactSet()
    out.add_yaml("azureml/pipeline.yml", {"type": "pipeline", "jobs": {}})
    out.add_resource(Resource(PIPELINE, "azureml:pipeline_job", ["azureml/pipeline.yml"]))
    out.add_yaml(
        "aks/serving.yaml",
        {"env": [{"name": "MODEL_VERSION", "value": output_marker(str(PIPELINE), "model_version")}]},
    )
    out.add_resource(Resource(SERVING, "kubernetes:apps/v1/Deployment", ["aks/serving.yaml"], [PIPELINE]))
    ordered = topological_order(out.resources)
    assert record_outputs(out, ordered, _Spec()) == []  # type: ignore[arg-type]
    manifest = Manifest("shop", "dev", "mlproject.yaml", ordered, provider="local")
    payloads = {r.address: payload(out, r) for r in ordered}
    return desired_from_parts(manifest, payloads, lambda path: out.artifacts[path].content, folder)


def _register(folder: Path, version: int) -> None:
    (folder / ".mlspec" / "mlruns" / "models" / PIPELINE.name / f"version-{version}").mkdir(parents=True)


def test_a_model_version_registered_after_apply_reaches_the_deployment_on_the_next_plan(
    tmp_path: Path,
) -> None:
    """Training registers versions outside any apply: a refreshed plan reads the newest again and updates
    what serves an older one; the pipeline itself is not applied again, and a second plan is empty."""
    desired = _serving_desired(tmp_path)
    assert operations.apply_desired(desired).ok
    assert '"unregistered"' in _stored(tmp_path, SERVING)  # the local stand-in before any training
    _register(tmp_path, 1)
    _register(tmp_path, 3)
    planned = operations.plan_desired(desired).plan
    serving, pipeline = planned.change_for(SERVING), planned.change_for(PIPELINE)
    assert serving is not None and serving.action is Action.UPDATE and serving.changes == []
    assert [(c.path, c.before, c.after) for c in serving.output_changes] == [(VERSION, "unregistered", "3")]
    assert pipeline is not None and pipeline.action is Action.NO_OP
    stale = operations.plan_desired(desired, refresh=False).plan
    assert not stale.has_changes, "without refresh nothing is read again"
    assert operations.apply_desired(desired).ok
    assert '"3"' in _stored(tmp_path, SERVING) and "unregistered" not in _stored(tmp_path, SERVING)
    assert _state(tmp_path)["resources"][str(SERVING)]["resolved"] == {VERSION: "3"}
    assert not operations.plan_desired(desired).plan.has_changes


@pytest.mark.parametrize(
    ("reported", "accepted"),
    [
        ("sha256:" + "ab" * 32, True),
        ("sha256:abc #injected", False),  # a YAML comment would cut the value short
        ("sha256:abc: x", False),  # a mapping inside a scalar: invalid YAML
        ("sha256:" + "AB" * 32, False),
        ("latest", False),
    ],
)
def test_a_reported_value_must_have_its_outputs_form_before_it_replaces_a_marker(
    reported: str, accepted: bool
) -> None:
    ref = contract_outputs.OutputRef.parse(DIGEST)
    if accepted:
        assert contract_outputs.check_output_value(ref, reported) == reported
    else:
        with pytest.raises(contract_outputs.MarkerError, match="is not of the form"):
            contract_outputs.check_output_value(ref, reported)
