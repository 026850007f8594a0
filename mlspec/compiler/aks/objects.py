"""The Kubernetes objects around the Deployments, each built as plain data."""

from __future__ import annotations

from typing import Any

from mlspec.compiler.aks.conventions import (
    CLIENT_ID_ANNOTATION,
    INTERNAL_LB,
    INTERNAL_SUBNET,
    LB_IPV4,
    NAME_LABEL,
    PORT_NAME,
    SERVICE_PORT,
    TENANT_ID_ANNOTATION,
)
from mlspec.compiler.aks.rollout import RolloutPlan
from mlspec.compiler.serialize import to_yaml
from mlspec.spec_schema.models import Deployment

PSS_LEVEL = "restricted"


def metadata(
    name: str, namespace: str, labels: dict[str, str], annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def namespace(name: str, labels: dict[str, str]) -> dict[str, Any]:
    """The namespace, enforcing the restricted Pod Security Standard on everything in it."""
    pss = {f"pod-security.kubernetes.io/{mode}": PSS_LEVEL for mode in ("enforce", "audit", "warn")}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {**labels, **pss}},
    }


def service_account(
    d: Deployment, labels: dict[str, str], client_id: str, tenant_id: str | None
) -> dict[str, Any]:
    annotations = {CLIENT_ID_ANNOTATION: client_id}
    if tenant_id is not None:
        annotations[TENANT_ID_ANNOTATION] = tenant_id
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(d.endpoint, d.namespace, labels, annotations),
        "automountServiceAccountToken": False,
    }


def config_map(d: Deployment, labels: dict[str, str], data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(d.endpoint, d.namespace, labels),
        "data": dict(sorted(data.items())),
    }


def key_vault_objects(objects: list[tuple[str, str]]) -> str:
    """The Azure provider's ``objects`` parameter: YAML holding ``array:`` of one YAML string per object."""
    array = [
        to_yaml({"objectName": name, "objectType": "secret", "objectVersion": version}).decode("utf-8")
        for name, version in objects
    ]
    return to_yaml({"array": array}).decode("utf-8")


def secret_provider_class(
    d: Deployment,
    labels: dict[str, str],
    *,
    key_vault: str,
    client_id: str,
    tenant_id: str,
    objects: list[tuple[str, str]],
) -> dict[str, Any]:
    return {
        "apiVersion": "secrets-store.csi.x-k8s.io/v1",
        "kind": "SecretProviderClass",
        "metadata": metadata(d.endpoint, d.namespace, labels),
        "spec": {
            "provider": "azure",
            "parameters": {
                "usePodIdentity": "false",
                "clientID": client_id,
                "keyvaultName": key_vault,
                "tenantId": tenant_id,
                "objects": key_vault_objects(objects),
            },
        },
    }


def load_balancer_annotations(d: Deployment) -> dict[str, str]:
    """Internal unless the spec explicitly publishes the endpoint (``allow_public``)."""
    net = d.network
    if not net.internal_load_balancer and net.allow_public:
        return {}
    annotations = {INTERNAL_LB: "true"}
    if net.subnet:
        annotations[INTERNAL_SUBNET] = net.subnet
    if net.ip:
        annotations[LB_IPV4] = net.ip
    return annotations


def service(d: Deployment, labels: dict[str, str], plan: RolloutPlan) -> dict[str, Any]:
    """The endpoint's load balancer; ``Local`` traffic policy keeps client addresses for the NetworkPolicy."""
    spec: dict[str, Any] = {
        "type": "LoadBalancer",
        "externalTrafficPolicy": "Local",
        "selector": dict(plan.service_selector),
        "ports": [{"name": PORT_NAME, "port": SERVICE_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
    }
    if d.network.allow_from:
        spec["loadBalancerSourceRanges"] = list(d.network.allow_from)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(d.endpoint, d.namespace, labels, load_balancer_annotations(d)),
        "spec": spec,
    }


def preview_service(d: Deployment, labels: dict[str, str], selector: dict[str, str]) -> dict[str, Any]:
    """Blue/green: the standby slot, reachable inside the cluster only, for smoke tests before a switch."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(f"{d.endpoint}-preview", d.namespace, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(selector),
            "ports": [{"name": PORT_NAME, "port": SERVICE_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
        },
    }


def horizontal_pod_autoscaler(d: Deployment, labels: dict[str, str], plan: RolloutPlan) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(d.endpoint, d.namespace, labels),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": plan.primary.name},
            "minReplicas": plan.hpa_min,
            "maxReplicas": max(plan.hpa_max, plan.hpa_min),
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": d.replicas.target_cpu_percent,
                        },
                    },
                }
            ],
        },
    }


def pod_disruption_budget(d: Deployment, labels: dict[str, str], plan: RolloutPlan) -> dict[str, Any]:
    """At most one serving pod evicted at a time (none protected when the minimum is one pod:
    a budget of one would block node drains forever)."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(d.endpoint, d.namespace, labels),
        "spec": {
            "minAvailable": max(plan.hpa_min - 1, 0),
            "selector": {"matchLabels": dict(plan.pdb_selector)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def default_deny_policy(d: Deployment, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(f"{d.endpoint}-default-deny", d.namespace, labels),
        "spec": {"podSelector": {"matchLabels": {NAME_LABEL: d.endpoint}}, "policyTypes": ["Ingress"]},
    }


def allow_policy(d: Deployment, labels: dict[str, str]) -> dict[str, Any]:
    """Ingress to the scoring port from ``allow_from`` only (from anywhere when the list is empty)."""
    rule: dict[str, Any] = {"ports": [{"protocol": "TCP", "port": d.port}]}
    if d.network.allow_from:
        rule["from"] = [{"ipBlock": {"cidr": cidr}} for cidr in d.network.allow_from]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(d.endpoint, d.namespace, labels),
        "spec": {
            "podSelector": {"matchLabels": {NAME_LABEL: d.endpoint}},
            "policyTypes": ["Ingress"],
            "ingress": [rule],
        },
    }
