"""mlspec's serving policy (MLS635-MLS639): own registry, pinned images and model versions, restricted
pods, no secret values, internal load balancers, realisable rollouts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from mlspec.compiler.addresses import acr_task
from mlspec.compiler.aks.conventions import (
    INTERNAL_LB,
    INTERNAL_SUBNET,
    SECRETS_MOUNT,
    is_marker,
    output_marker,
    registry_host,
)
from mlspec.compiler.aks.render import served_version
from mlspec.compiler.aks.rollout import MODEL_URI_VAR, MODEL_VERSION_VAR, plan_rollout
from mlspec.compiler.aks.view import ArtifactView, containers, dig, meta, name_of
from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.redaction import credential_kind
from mlspec.spec_schema.checks.security import SECRET_KEY_NAMES

# --- MLS635 -------------------------------------------------------------------------------

IMAGE_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def check_image(v: ArtifactView) -> Iterator[Diagnostic]:
    """Every container runs the project's image by digest: ``<registry>/<repository>@<digest>``, the
    digest being ``sha256:<hex>`` or the output marker of the ACR task that pushed it (apply writes the
    digest). A tag alone is refused: rerunning the task could move it."""
    host = registry_host(v.ctx.model)
    task = v.out.artifacts.get("acr/task.yaml")
    pushed = (
        set((dig(task.data, "steps") or [{}])[-1].get("push") or [])
        if task and isinstance(task.data, dict)
        else set()
    )
    pushed_repositories = {str(ref).removeprefix("$Registry/").rpartition(":")[0] for ref in pushed}
    task_digest = output_marker(str(acr_task(v.d.endpoint)), "image_digest")
    path: SpecPath = ("workspace", "container_registry")
    for deployment in v.of("Deployment"):
        for container in containers(deployment):
            image = str(container.get("image", ""))
            registry, _, rest = image.partition("/")
            named, _, digest = rest.partition("@")
            repository = named.rpartition(":")[0] if ":" in named else named
            if host is None or registry != host:
                yield v.error("MLS635", f"image {image!r} is not in the project's registry {host!r}", path)
            elif digest != task_digest and not IMAGE_DIGEST.fullmatch(digest):
                yield v.error(
                    "MLS635",
                    f"image {image!r} is not pinned by digest",
                    ("deployment",),
                    "a Deployment runs the digest the ACR task pushed (@sha256:...), never a tag it could move",
                )
            elif repository not in pushed_repositories:
                yield v.error("MLS635", f"image {image!r} is not pushed by acr/task.yaml", ("deployment",))


def check_model_pins(v: ArtifactView) -> Iterator[Diagnostic]:
    """Every Deployment pins the model version it serves in its own pod template: a slot that read it
    from the shared ConfigMap, or loaded ``latest``, would serve another model after a pod restart."""
    model = v.ctx.model.model
    if model is None:
        return
    for config in v.of("ConfigMap"):
        shared = sorted({MODEL_URI_VAR, MODEL_VERSION_VAR} & set(config.get("data") or {}))
        if shared:
            yield v.error(
                "MLS635",
                f"ConfigMap {name_of(config)} sets {' and '.join(shared)} for every rollout slot",
                ("deployment",),
                "each Deployment names its model version in its own pod template",
            )
    slots = {w.name: w for w in plan_rollout(v.d).workloads}
    for deployment in v.of("Deployment"):
        workload = slots.get(name_of(deployment))
        path = workload.version_source if workload is not None else ("deployment", "model_version")
        wanted = served_version(workload, model) if workload is not None else None
        for container in containers(deployment):
            problem = _model_pin_problem(container, model.name, wanted)
            if problem is not None:
                yield v.error(
                    "MLS635",
                    f"Deployment {name_of(deployment)} {problem}",
                    path,
                    "a pod restart must load the version its slot was given, never latest",
                )


def _model_pin_problem(container: dict[str, Any], model_name: str, wanted: str | None) -> str | None:
    """Why the container does not load one pinned version of ``model_name``, or ``None``."""
    names = [e.get("name") for e in container.get("env") or [] if isinstance(e, dict)]
    values = {e.get("name"): e.get("value") for e in container.get("env") or [] if isinstance(e, dict)}
    version, uri = values.get(MODEL_VERSION_VAR), values.get(MODEL_URI_VAR)
    if not isinstance(version, str) or not version:
        return f"does not pin the model version it serves (no {MODEL_VERSION_VAR} value in its env)"
    if not (is_marker(version) or (version.isascii() and version.isdigit() and int(version) >= 1)):
        return f"serves model version {version!r}, not a registered version number"
    if wanted is not None and version != wanted:
        return f"serves model version {version!r}, and its slot was given {wanted!r}"
    if uri not in (f"models:/{model_name}/$({MODEL_VERSION_VAR})", f"models:/{model_name}/{version}"):
        return f"loads {uri!r}, not version {MODEL_VERSION_VAR} of {model_name!r}"
    if "$(" in str(uri) and names.index(MODEL_URI_VAR) < names.index(MODEL_VERSION_VAR):
        return f"defines {MODEL_URI_VAR} before {MODEL_VERSION_VAR}, so Kubernetes cannot expand it"
    return None


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
