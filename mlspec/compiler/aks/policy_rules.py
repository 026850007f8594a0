"""mlspec's serving policy (MLS635-MLS639): own registry, restricted pods, no secret values, internal
load balancers, realisable rollouts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from mlspec.compiler.aks.conventions import (
    INTERNAL_LB,
    INTERNAL_SUBNET,
    SECRETS_MOUNT,
    is_marker,
    registry_host,
)
from mlspec.compiler.aks.view import ArtifactView, containers, dig, meta, name_of
from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.redaction import credential_kind
from mlspec.spec_schema.checks.security import SECRET_KEY_NAMES

# --- MLS635 -------------------------------------------------------------------------------


def check_image(v: ArtifactView) -> Iterator[Diagnostic]:
    host = registry_host(v.ctx.model)
    task = v.out.artifacts.get("acr/task.yaml")
    pushed = (
        set((dig(task.data, "steps") or [{}])[-1].get("push") or [])
        if task and isinstance(task.data, dict)
        else set()
    )
    path: SpecPath = ("workspace", "container_registry")
    for deployment in v.of("Deployment"):
        for container in containers(deployment):
            image = str(container.get("image", ""))
            registry, _, rest = image.partition("/")
            repository, _, tag = rest.rpartition(":") if "@" not in rest else (rest, "", "")
            if host is None or registry != host:
                yield v.error("MLS635", f"image {image!r} is not in the project's registry {host!r}", path)
            elif not tag or tag == "latest" or "/" in tag:
                yield v.error(
                    "MLS635",
                    f"image {image!r} has no pinned tag",
                    ("deployment",),
                    "images are tagged by content, never latest",
                )
            elif f"$Registry/{repository}:{tag}" not in pushed:
                yield v.error("MLS635", f"image {image!r} is not pushed by acr/task.yaml", ("deployment",))


# --- MLS636 -------------------------------------------------------------------------------

RESTRICTED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected"}
    | {"secret"}
)
"""Volume types the restricted Pod Security Standard allows (the test suite checks the whole profile)."""
_POD_REQUIRED: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("runAsNonRoot",), True),
    (("seccompProfile", "type"), "RuntimeDefault"),
)
_CONTAINER_REQUIRED: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("allowPrivilegeEscalation",), False),
    (("readOnlyRootFilesystem",), True),
    (("privileged",), False),
)


def check_pod_security(v: ArtifactView) -> Iterator[Diagnostic]:
    path: SpecPath = ("deployment",)
    for deployment in v.of("Deployment"):
        name = name_of(deployment)
        spec = dig(deployment, "spec", "template", "spec") or {}
        for keys, wanted in _POD_REQUIRED:
            if dig(spec, "securityContext", *keys) != wanted:
                yield v.error(
                    "MLS636", f"{name}: pod securityContext.{'.'.join(keys)} must be {wanted!r}", path
                )
        for container in containers(deployment):
            for keys, wanted in _CONTAINER_REQUIRED:
                if dig(container, "securityContext", *keys) is not wanted:
                    yield v.error(
                        "MLS636",
                        f"{name}: container securityContext.{'.'.join(keys)} must be {wanted!r}",
                        path,
                    )
            if "ALL" not in (dig(container, "securityContext", "capabilities", "drop") or []):
                yield v.error("MLS636", f"{name}: the container must drop ALL capabilities", path)
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(field) is True:
                yield v.error("MLS636", f"{name}: {field} must not be set (host namespaces)", path)
        for volume in spec.get("volumes") or []:
            kinds = set(volume) - {"name"} if isinstance(volume, dict) else set()
            for kind in sorted(kinds - RESTRICTED_VOLUME_TYPES):
                yield v.error("MLS636", f"{name}: volume type {kind!r} is not allowed (restricted)", path)
    for namespace in v.of("Namespace"):
        if dig(namespace, "metadata", "labels", "pod-security.kubernetes.io/enforce") != "restricted":
            yield v.error(
                "MLS636",
                "the namespace does not enforce the restricted Pod Security Standard",
                ("deployment", "namespace"),
            )


# --- MLS637 -------------------------------------------------------------------------------


def check_secret_values(v: ArtifactView) -> Iterator[Diagnostic]:
    path: SpecPath = ("deployment",)
    hint = "secrets reach the pod as files mounted from Key Vault (deployment.secrets), never as values"
    pairs: list[tuple[str, str, Any]] = []
    for config in v.of("ConfigMap"):
        pairs += [
            (f"ConfigMap {name_of(config)}", str(k), val) for k, val in (config.get("data") or {}).items()
        ]
    for deployment in v.of("Deployment"):
        for container in containers(deployment):
            for env in container.get("env") or []:
                if isinstance(env, dict) and "value" in env:
                    pairs.append((f"Deployment {name_of(deployment)}", str(env.get("name")), env["value"]))
    for owner, key, value in pairs:
        if not isinstance(value, str) or is_marker(value):
            continue
        kind = credential_kind(value)
        if kind is not None:
            yield v.error("MLS637", f"{owner}: {key} looks like {kind}", path, hint)
        elif SECRET_KEY_NAMES.search(key) and value and not _names_mounted_files(value):
            yield v.error("MLS637", f"{owner}: {key} holds a literal value", path, hint)
    for secret in v.of("Secret"):
        yield v.error(
            "MLS637", f"Secret {name_of(secret)} would put secret values into the build", path, hint
        )


def _names_mounted_files(value: str) -> bool:
    """A path, or a JSON object of paths, under the secrets mount: where secrets are, not what they are."""
    try:
        decoded = json.loads(value)
    except ValueError:
        decoded = value
    paths = list(decoded.values()) if isinstance(decoded, dict) else [decoded]
    return bool(paths) and all(isinstance(p, str) and p.startswith(f"{SECRETS_MOUNT}/") for p in paths)


# --- MLS639 -------------------------------------------------------------------------------


def check_rollout_and_network(v: ArtifactView) -> Iterator[Diagnostic]:
    """Defence in depth: the spec checks refuse a rollout that cannot start and warn about an empty
    ``allow_from`` (mlspec.spec_schema.checks.deployment); this looks at what was rendered."""
    rollout, net = v.d.rollout, v.d.network
    if str(rollout.max_surge).strip("%") == "0" and str(rollout.max_unavailable).strip("%") == "0":
        yield v.error(
            "MLS639",
            "max_surge and max_unavailable are both 0: a rolling update could never start",
            ("deployment", "rollout"),
            "max_surge: 25% (new pods first) with max_unavailable: 0",
        )
    public = net.allow_public and not net.internal_load_balancer
    for service in v.of("Service"):
        if dig(service, "spec", "type") != "LoadBalancer" or public:
            continue
        annotations = meta(service).get("annotations") or {}
        if annotations.get(INTERNAL_LB) != "true":
            yield v.error(
                "MLS639",
                f"Service {name_of(service)} would get a public load balancer",
                ("deployment", "network"),
            )
        if net.subnet and annotations.get(INTERNAL_SUBNET) != net.subnet:
            yield v.error(
                "MLS639",
                f"Service {name_of(service)} is not placed in subnet {net.subnet!r}",
                ("deployment", "network", "subnet"),
            )
