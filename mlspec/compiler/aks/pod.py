"""The Deployment manifests: one pod template, hardened to the restricted Pod Security Standard."""

from __future__ import annotations

from typing import Any

from mlspec.compiler.aks.conventions import (
    CONTAINER,
    LIVE_PATH,
    NAME_LABEL,
    PORT_NAME,
    PRE_STOP_SECONDS,
    READY_PATH,
    RUN_AS,
    SECRETS_MOUNT,
    TERMINATION_GRACE_SECONDS,
    TMP_MOUNT,
    WORKLOAD_IDENTITY_LABEL,
)
from mlspec.compiler.aks.objects import metadata
from mlspec.compiler.aks.rollout import Workload
from mlspec.spec_schema.models import Deployment

SECRETS_VOLUME = "secrets-store"
TMP_VOLUME = "tmp"
TMP_SIZE = "1Gi"
"""emptyDir for /tmp: MLflow downloads the model there (the root file system is read-only)."""


def resources(d: Deployment) -> dict[str, dict[str, str]]:
    """Requests as the spec says; limits as given, else equal to the requests."""
    r = d.resources
    return {
        "requests": {"cpu": r.cpu, "memory": r.memory},
        "limits": {"cpu": r.cpu_limit or r.cpu, "memory": r.memory_limit or r.memory},
    }


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _probe(path: str, *, period: int, failures: int, delay: int = 0) -> dict[str, Any]:
    probe: dict[str, Any] = {
        "httpGet": {"path": path, "port": PORT_NAME, "scheme": "HTTP"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }
    if delay:
        probe["initialDelaySeconds"] = delay
    return probe


def _container(d: Deployment, image: str, mounts_secrets: bool, env: list[dict[str, str]]) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [{"name": TMP_VOLUME, "mountPath": TMP_MOUNT}]
    if mounts_secrets:
        mounts.append({"name": SECRETS_VOLUME, "mountPath": SECRETS_MOUNT, "readOnly": True})
    return {
        "name": CONTAINER,
        "image": image,
        # Always (CKV_K8S_15): every start checks this pod may pull the image; cached layers are reused.
        "imagePullPolicy": "Always",
        "ports": [{"name": PORT_NAME, "containerPort": d.port, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": d.endpoint}}],
        # The slot's own settings (its model version): env wins over the ConfigMap shared by every slot.
        "env": [dict(item) for item in env],
        "resources": resources(d),
        # The server answers only once the model is loaded, which may take minutes (startup probe: 10 min).
        "startupProbe": _probe(LIVE_PATH, period=5, failures=120),
        "livenessProbe": _probe(LIVE_PATH, period=10, failures=3),
        "readinessProbe": _probe(READY_PATH, period=5, failures=3),
        # gunicorn stops accepting at SIGTERM; the pause lets the Service stop routing here first.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRE_STOP_SECONDS)]}}},
        "securityContext": container_security_context(),
        "volumeMounts": mounts,
    }


def _volumes(d: Deployment, secret_provider_class: str | None) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [{"name": TMP_VOLUME, "emptyDir": {"sizeLimit": TMP_SIZE}}]
    if secret_provider_class is not None:
        volumes.append(
            {
                "name": SECRETS_VOLUME,
                "csi": {
                    "driver": "secrets-store.csi.k8s.io",
                    "readOnly": True,
                    "volumeAttributes": {"secretProviderClass": secret_provider_class},
                },
            }
        )
    return volumes


def _spread(selector: dict[str, str]) -> list[dict[str, Any]]:
    """Spread the endpoint's pods (all tracks and slots together) over zones and nodes, best effort."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(selector)},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def deployment(
    d: Deployment,
    workload: Workload,
    labels: dict[str, str],
    *,
    image: str,
    secret_provider_class: str | None,
    config_hash: str,
    env: list[dict[str, str]],
) -> dict[str, Any]:
    """A Deployment for ``workload``; replicas are left to the HPA unless the workload fixes them.
    ``env`` holds the container variables of this slot alone (what model version it serves)."""
    pod_labels = {**labels, **workload.selector, WORKLOAD_IDENTITY_LABEL: "true"}
    pod_annotations = {
        "kubectl.kubernetes.io/default-container": CONTAINER,
        "mlspec.dev/config-hash": config_hash,
    }
    spec: dict[str, Any] = {}
    if workload.replicas is not None:
        spec["replicas"] = workload.replicas
    spec.update(
        {
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": 900,
            "selector": {"matchLabels": dict(workload.selector)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {
                    "maxSurge": d.rollout.max_surge,
                    "maxUnavailable": d.rollout.max_unavailable,
                },
            },
            "template": {
                "metadata": {"labels": pod_labels, "annotations": pod_annotations},
                "spec": {
                    "serviceAccountName": d.endpoint,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "securityContext": pod_security_context(),
                    "topologySpreadConstraints": _spread({NAME_LABEL: d.endpoint}),
                    "containers": [_container(d, image, secret_provider_class is not None, env)],
                    "volumes": _volumes(d, secret_provider_class),
                },
            },
        }
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(
            workload.name, d.namespace, {**labels, **workload.selector}, workload.annotations
        ),
        "spec": spec,
    }
