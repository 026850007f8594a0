"""The checks across services' artifacts (MLS680-682), and the classes other checks own, on the
examples: what one artifact reads another writes, every reference is to a dependency, every principal
an object id, no assignment twice, every image and model version pinned."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec import api
from mlspec.compiler import cross_artifact
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.services import SERVICES
from mlspec.contract.graph import Address

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "projects").glob("*/mlproject.yaml"))
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _environments(spec: Path) -> list[str]:
    return sorted(yaml.safe_load(spec.read_text(encoding="utf-8")).get("environments", {}))


CASES = [(spec, env) for spec in EXAMPLES for env in _environments(spec)]


def _render(spec: Path, env: str) -> tuple[RenderContext, ArtifactSet]:
    resolved = api.resolve(api.load(spec), env, environ={})
    assert resolved.model is not None and resolved.ok
    ctx = RenderContext(resolved.model, resolved.spec, services=SERVICES)
    out = ArtifactSet()
    for service in SERVICES:
        service.render(ctx, out)
    return ctx, out


def _codes(ctx: RenderContext, out: ArtifactSet) -> list[str]:
    return [d.code for d in cross_artifact.check(ctx, out)]


@pytest.mark.parametrize(("spec", "env"), CASES, ids=[f"{s.parent.name}-{e}" for s, e in CASES])
def test_every_example_reads_what_it_writes_and_depends_on_what_it_names(spec: Path, env: str) -> None:
    ctx, out = _render(spec, env)
    assert cross_artifact.check(ctx, out) == []


def test_an_alert_on_a_table_no_job_writes_is_refused(tmp_path: Path) -> None:
    ctx, out = _render(ROOT / "projects" / "churn" / "mlproject.yaml", "dev")
    component = out.artifacts["azureml/components/monitor.yml"]
    component.data = {
        **component.data,
        "command": component.data["command"].replace("--stream", "--no-stream"),
    }
    [problem] = cross_artifact.check(ctx, out)
    assert problem.code == "MLS680" and "MlspecModelMonitoring_CL" in problem.message
    assert "no rendered job sends rows to it" in problem.message


def test_an_alert_on_a_table_no_rule_routes_is_refused() -> None:
    ctx, out = _render(ROOT / "projects" / "churn" / "mlproject.yaml", "dev")
    template = out.artifacts["monitor/alerts.json"]
    data = copy.deepcopy(template.data)
    rule = next(r for r in data["resources"] if r["type"] == "Microsoft.Insights/dataCollectionRules")
    rule["properties"]["dataFlows"] = []
    template.data = data
    assert _codes(ctx, out) == ["MLS680"]


def test_a_reader_of_a_path_nothing_writes_is_refused() -> None:
    ctx, out = _render(ROOT / "projects" / "churn" / "mlproject.yaml", "dev")
    job = out.artifacts["azureml/monitoring-job.yml"]
    data = copy.deepcopy(job.data)
    data["inputs"]["predictions"]["path"] = (
        "abfss://monitoring@contosolakedev.dfs.core.windows.net/churn/typo/"
    )
    job.data = data
    [problem] = cross_artifact.check(ctx, out)
    assert problem.code == "MLS681" and "/churn/typo/" in problem.message


def test_a_power_bi_query_of_a_path_nothing_writes_is_refused() -> None:
    ctx, out = _render(ROOT / "projects" / "churn" / "mlproject.yaml", "dev")
    path = next(
        p for p in out.artifacts if p.endswith("expressions.tmdl") or p.endswith("customer_features.tmdl")
    )
    tables = [
        p
        for p in out.artifacts
        if p.endswith(".tmdl") and '"LakeEndpoint_' in out.artifacts[p].content.decode()
    ]
    assert tables, path
    artifact = out.artifacts[tables[0]]
    artifact.content = re.sub(rb'& "/[a-z]+/', b'& "/nowhere/', artifact.content, count=1)
    assert "MLS681" in _codes(ctx, out)


def test_an_arm_resource_naming_one_it_does_not_depend_on_is_refused() -> None:
    ctx, out = _render(ROOT / "projects" / "churn" / "mlproject.yaml", "dev")
    rule = Address.parse("monitor.data_collection_rule.churn-mlspec")
    named = next(r for r in out.resources if r.address == rule)
    named.depends_on = [d for d in named.depends_on if d.kind != "data_collection_endpoint"]
    [problem] = cross_artifact.check(ctx, out)
    assert problem.code == "MLS682" and "monitor.data_collection_endpoint.churn-mlspec" in problem.message


@pytest.mark.parametrize(("spec", "env"), CASES, ids=[f"{s.parent.name}-{e}" for s, e in CASES])
def test_every_principal_is_an_object_id_once_per_role_and_scope_and_every_pod_is_pinned(
    spec: Path, env: str, tmp_path: Path
) -> None:
    """The classes other checks own (MLS654, MLS651, MLS635), on what the build wrote."""
    out = tmp_path / "out"
    api.build(spec, env, out_dir=out, environ={})
    template = json.loads((out / "access" / "role-assignments.json").read_text(encoding="utf-8"))
    keys = []
    for resource in template["resources"]:
        if not resource["type"].endswith("roleAssignments"):
            continue
        principal = resource["properties"]["principalId"]
        assert _GUID.fullmatch(principal) or re.fullmatch(
            r"\[reference\(.*\.(principalId|objectId)\]", principal
        ), principal
        keys.append((principal, resource["properties"]["roleDefinitionId"], resource.get("scope")))
    assert len(keys) == len(set(keys))
    for manifest in sorted((out / "aks").glob("deployment*.yaml")):
        document: Any = yaml.safe_load(manifest.read_text(encoding="utf-8"))
        for container in document["spec"]["template"]["spec"]["containers"]:
            assert "@" in container["image"] and container["imagePullPolicy"] == "Always"
            env_vars = {e["name"]: e.get("value") for e in container.get("env", [])}
            assert env_vars["MODEL_URI"].endswith("/$(MODEL_VERSION)") and env_vars["MODEL_VERSION"]
