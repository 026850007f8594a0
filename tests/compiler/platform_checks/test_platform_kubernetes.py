"""check_kubernetes_manifests: kubernetes-validate (strict), mlspec's CRD schema, quantities, Pod Security."""

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec.compiler.platform_checks import PlatformProblem, check_kubernetes_manifests

KUBERNETES = Path(__file__).parent / "data" / "kubernetes"
PSS = "restricted Pod Security Standard: "


def load(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((KUBERNETES / name).read_text()))


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(doc for doc in docs if doc["kind"] == kind)


def located(problems: list[PlatformProblem]) -> list[tuple[str, str, str]]:
    return [(p.artifact, p.where, p.checker) for p in problems]


@pytest.fixture
def serving() -> list[dict[str, Any]]:
    return load("serving.yaml")


CONTAINER = "/spec/template/spec/containers/0"


def test_serving_manifests_are_valid(serving: list[dict[str, Any]]) -> None:
    assert {doc["kind"] for doc in serving} >= {
        "Deployment",
        "Service",
        "SecretProviderClass",
        "NetworkPolicy",
    }
    assert check_kubernetes_manifests(serving) == []
    assert check_kubernetes_manifests(serving, kubernetes_version="1.33.2") == []


def test_unknown_probe_field_is_rejected_by_strict_schema(serving: list[dict[str, Any]]) -> None:
    container = by_kind(serving, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    container["livenessProbe"]["httpGett"] = container["livenessProbe"].pop("httpGet")
    problems = check_kubernetes_manifests(serving)
    assert located(problems) == [
        ("Deployment/churn-scorer", f"{CONTAINER}/livenessProbe/httpGett", "kubernetes-validate")
    ]
    assert problems[0].message == "unknown field 'httpGett' (did you mean 'httpGet'?)"


def test_bad_quantity_is_located(serving: list[dict[str, Any]]) -> None:
    container = by_kind(serving, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    container["resources"]["requests"]["cpu"] = "500mm"
    problems = check_kubernetes_manifests(serving)
    assert located(problems) == [("Deployment/churn-scorer", f"{CONTAINER}/resources/requests/cpu", "mlspec")]
    assert problems[0].message == "'500mm' is not a Kubernetes quantity such as 500m or 1Gi"


def test_request_above_limit(serving: list[dict[str, Any]]) -> None:
    container = by_kind(serving, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    container["resources"]["requests"]["memory"] = "3Gi"
    problems = check_kubernetes_manifests(serving)
    assert located(problems) == [
        ("Deployment/churn-scorer", f"{CONTAINER}/resources/requests/memory", "mlspec")
    ]
    assert problems[0].message == "memory request 3Gi is more than its limit 2Gi"


def test_enum_values_the_schema_leaves_open(serving: list[dict[str, Any]]) -> None:
    by_kind(serving, "Service")["spec"]["type"] = "LoadBalaner"
    by_kind(serving, "NetworkPolicy")["spec"]["policyTypes"] = ["Ingres"]
    problems = check_kubernetes_manifests(serving)
    assert located(problems) == [
        ("Service/churn-scorer", "/spec/type", "mlspec"),
        ("NetworkPolicy/churn-scorer", "/spec/policyTypes/0", "mlspec"),
    ]
    assert "did you mean 'LoadBalancer'?" in problems[0].message


def test_bad_secret_provider_class_fields(serving: list[dict[str, Any]]) -> None:
    spec = by_kind(serving, "SecretProviderClass")["spec"]
    spec["parameters"]["usePodIdentity"] = False
    spec["secretObject"] = spec.pop("secretObjects")
    del spec["parameters"]["tenantId"]
    problems = check_kubernetes_manifests(serving)
    assert located(problems) == [
        ("SecretProviderClass/churn-scorer-secrets", "/spec/parameters", "jsonschema"),
        ("SecretProviderClass/churn-scorer-secrets", "/spec/parameters/usePodIdentity", "jsonschema"),
        ("SecretProviderClass/churn-scorer-secrets", "/spec/secretObject", "jsonschema"),
    ]
    assert problems[0].message == "needs one of tenantId, tenantID"
    assert problems[1].message == "False is not of type 'string'"
    assert problems[2].message == "unknown field 'secretObject' (did you mean 'secretObjects'?)"


def test_secret_provider_class_without_provider(serving: list[dict[str, Any]]) -> None:
    del by_kind(serving, "SecretProviderClass")["spec"]["provider"]
    problems = check_kubernetes_manifests(serving)
    assert [(p.where, p.message) for p in problems] == [("/spec", "'provider' is a required property")]


def test_privileged_cron_job_breaks_the_restricted_profile() -> None:
    problems = check_kubernetes_manifests(load("bad_privileged_job.yaml"))
    pod = "/spec/jobTemplate/spec/template/spec"
    found = {(p.where, p.message) for p in problems}
    assert (
        f"{pod}/containers/0/resources/requests/cpu",
        "'500mm' is not a Kubernetes quantity such as 500m or 1Gi",
    ) in found
    assert (f"{pod}/hostNetwork", PSS + "hostNetwork must not be true (host namespaces)") in found
    assert (
        f"{pod}/containers/0/securityContext/privileged",
        PSS + "privileged containers are not allowed",
    ) in found
    assert (f"{pod}/containers/0/securityContext/runAsUser", PSS + "runAsUser must not be 0 (root)") in found
    assert any(w == f"{pod}/volumes/0/hostPath" and "'hostPath' is not allowed" in m for w, m in found)
    assert len(problems) == 9
    assert {p.artifact for p in problems} == {"CronJob/churn-batch-score"}


def test_container_level_settings_override_the_pod(serving: list[dict[str, Any]]) -> None:
    pod = by_kind(serving, "Deployment")["spec"]["template"]["spec"]
    pod["containers"][0]["securityContext"]["runAsNonRoot"] = False
    pod["containers"][0]["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    pod["containers"][0]["securityContext"]["capabilities"] = {"drop": ["ALL"], "add": ["NET_ADMIN"]}
    problems = check_kubernetes_manifests(serving)
    context = f"{CONTAINER}/securityContext"
    assert [(p.where, p.message.removeprefix(PSS)) for p in problems] == [
        (f"{context}/runAsNonRoot", "runAsNonRoot must not be false"),
        (f"{context}/seccompProfile/type", "seccompProfile.type 'Unconfined' is not allowed"),
        (f"{context}/capabilities/add/0", "capability 'NET_ADMIN' may not be added (only NET_BIND_SERVICE)"),
    ]


def test_unknown_kind_and_unsupported_version(serving: list[dict[str, Any]]) -> None:
    problems = check_kubernetes_manifests(
        [{"apiVersion": "v1", "kind": "Deployment", "metadata": {"name": "x"}}]
    )
    assert located(problems) == [("Deployment/x", "/kind", "kubernetes-validate")]
    assert "no schema for Deployment v1" in problems[0].message
    with pytest.raises(ValueError, match=r"not 1\.12"):
        check_kubernetes_manifests(serving, kubernetes_version="1.12.0")


def test_artifact_label_carries_the_file(serving: list[dict[str, Any]]) -> None:
    by_kind(serving, "Service")["spec"]["type"] = "NodePorts"
    problems = check_kubernetes_manifests(serving, artifact="aks/serving.yaml")
    assert [p.artifact for p in problems] == ["aks/serving.yaml:Service/churn-scorer"]


def test_schemas_are_loaded_once_not_per_call(serving: list[dict[str, Any]]) -> None:
    check_kubernetes_manifests(serving)
    start = time.perf_counter()
    for _ in range(20):
        check_kubernetes_manifests(serving)
    # kubernetes-validate's own validate() takes ~10 ms per manifest re-reading its schema files.
    assert time.perf_counter() - start < 1.0
