"""CPU and memory alerts find exactly the pods the AKS manifests run: every slot, its scoring container."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec import api

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"
_LABEL = re.compile(r'\| where tostring\(Labels\["([^"]+)"\]\) == "([^"]*)"')
_NAMESPACE = re.compile(r'\| where Namespace == "([^"]*)"')
_CONTAINER = re.compile(r'\| where tostring\(split\(ContainerName, "/"\)\[1\]\) == "([^"]*)"')


def pod_alert_queries(out: Path) -> list[str]:
    template = json.loads((out / "monitor" / "alerts.json").read_text(encoding="utf-8"))
    return [
        r["properties"]["criteria"]["allOf"][0]["query"]
        for r in template["resources"]
        if r["type"].endswith("scheduledQueryRules") and "KubePodInventory" in json.dumps(r)
    ]


def deployments(out: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted((out / "aks").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(document, dict) and document.get("kind") == "Deployment":
                found.append(document)
    return found


def with_pod_alerts(tmp_path: Path, rollout: dict[str, Any]) -> Path:
    data = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    data["deployment"]["rollout"] = rollout
    data["monitoring"]["alerts"] += [
        {"name": "cpu", "signal": "cpu_percent", "operator": ">", "threshold": 85, "window": "15m"},
        {"name": "memory", "signal": "memory_percent", "operator": ">", "threshold": 90, "window": "15m"},
    ]
    path = tmp_path / "spec" / "mlproject.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "rollout",
    [{"strategy": "rolling"}, {"strategy": "canary", "canary_percent": 10}, {"strategy": "blue_green"}],
    ids=["rolling", "canary", "blue_green"],
)
def test_pod_alerts_select_every_scoring_pod_of_the_endpoint(rollout: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "out"
    api.build(with_pod_alerts(tmp_path, rollout), "dev", out_dir=out, environ={})
    queries = pod_alert_queries(out)
    pods = deployments(out)
    assert len(queries) == 2 and pods
    for query in queries:
        labels = dict(_LABEL.findall(query))
        assert labels  # the pods are told by their labels, not by the node they run on
        for deployment in pods:
            template = deployment["spec"]["template"]
            assert _NAMESPACE.findall(query) == [deployment["metadata"]["namespace"]]
            assert labels.items() <= template["metadata"]["labels"].items()
            assert _CONTAINER.findall(query)[0] in [c["name"] for c in template["spec"]["containers"]]


def test_the_diabetes_cpu_alert_no_longer_watches_node_metrics(tmp_path: Path) -> None:
    spec = ROOT / "projects" / "diabetes" / "mlproject.yaml"
    api.build(spec, "dev", out_dir=tmp_path, environ={})
    text = (tmp_path / "monitor" / "alerts.json").read_text(encoding="utf-8")
    assert "node_cpu_usage_percentage" not in text and "node_memory_working_set_percentage" not in text
    assert len(pod_alert_queries(tmp_path)) == 2  # cpu-saturation and memory-pressure
