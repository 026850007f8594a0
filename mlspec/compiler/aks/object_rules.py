"""Whether the rendered objects fit together (MLS630-MLS634): quantities, selectors, references, mounts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from mlspec.compiler.aks.view import ArtifactView, Manifest, containers, dig, name_of, pod_labels, selects
from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.spec_schema.quantities import quantity
from mlspec.spec_schema.serving_secrets import scoring_key_secret

# --- MLS630 -------------------------------------------------------------------------------


def check_resources(v: ArtifactView) -> Iterator[Diagnostic]:
    fields = {("requests", "cpu"): "cpu", ("requests", "memory"): "memory", ("limits", "cpu"): "cpu_limit"}
    fields[("limits", "memory")] = "memory_limit"
    for deployment in v.of("Deployment")[:1]:  # every Deployment carries the same container
        for container in containers(deployment):
            res = container.get("resources") if isinstance(container.get("resources"), dict) else {}
            for (group, resource), field in fields.items():
                value = dig(res, group, resource)
                path: SpecPath = ("deployment", "resources", field)
                if value is None:
                    yield v.error("MLS630", f"{name_of(deployment)}: no {resource} {group[:-1]}", path)
                elif quantity(value) is None:
                    yield v.error(
                        "MLS630", f"{resource} {group[:-1]} {value!r} is not a Kubernetes quantity", path
                    )
            for resource in ("cpu", "memory"):
                request = quantity(dig(res, "requests", resource))
                limit = quantity(dig(res, "limits", resource))
                if request is not None and limit is not None and request > limit:
                    yield v.error(
                        "MLS630",
                        f"{resource} request {dig(res, 'requests', resource)} is more than its limit "
                        f"{dig(res, 'limits', resource)}",
                        ("deployment", "resources", f"{resource}_limit"),
                        "a limit at least the request, or none (the request is then the limit)",
                    )


# --- MLS631 -------------------------------------------------------------------------------


def check_selectors(v: ArtifactView) -> Iterator[Diagnostic]:
    pods = [pod_labels(dep) for dep in v.of("Deployment")]
    for deployment in v.of("Deployment"):
        selector = dig(deployment, "spec", "selector", "matchLabels")
        if not selects(selector, pod_labels(deployment)):
            yield v.error(
                "MLS631",
                f"Deployment {name_of(deployment)}'s selector does not match its pod labels",
                ("deployment", "rollout"),
            )
    for kind, keys, path in (
        ("PodDisruptionBudget", ("spec", "selector", "matchLabels"), ("deployment", "replicas")),
        ("NetworkPolicy", ("spec", "podSelector", "matchLabels"), ("deployment", "network")),
    ):
        for m in v.of(kind):
            if not any(selects(dig(m, *keys), labels) for labels in pods):
                yield v.error("MLS631", f"{kind} {name_of(m)} selects no pod of the endpoint", path)


# --- MLS632 -------------------------------------------------------------------------------


def check_services(v: ArtifactView) -> Iterator[Diagnostic]:
    deployments = v.of("Deployment")
    for service in v.of("Service"):
        selected = [dep for dep in deployments if selects(dig(service, "spec", "selector"), pod_labels(dep))]
        if not selected:
            yield v.error("MLS632", f"Service {name_of(service)} selects no pod", ("deployment", "network"))
            continue
        exposed = {
            key
            for dep in selected
            for c in containers(dep)
            for port in c.get("ports") or []
            if isinstance(port, dict)
            for key in (port.get("name"), port.get("containerPort"))
        }
        for port in dig(service, "spec", "ports") or []:
            target = port.get("targetPort", port.get("port")) if isinstance(port, dict) else None
            if target not in exposed:
                yield v.error(
                    "MLS632",
                    f"Service {name_of(service)} targets port {target!r}, which its pods do not expose",
                    ("deployment", "port"),
                )


# --- MLS633 -------------------------------------------------------------------------------


def check_references(v: ArtifactView) -> Iterator[Diagnostic]:
    for hpa in v.of("HorizontalPodAutoscaler"):
        target = dig(hpa, "spec", "scaleTargetRef", "name")
        if (
            dig(hpa, "spec", "scaleTargetRef", "kind") != "Deployment"
            or v.named("Deployment", str(target)) is None
        ):
            yield v.error(
                "MLS633",
                f"HorizontalPodAutoscaler {name_of(hpa)} scales {target!r}, which is not rendered",
                ("deployment", "replicas"),
            )
        low, high = dig(hpa, "spec", "minReplicas"), dig(hpa, "spec", "maxReplicas")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            yield v.error(
                "MLS633",
                f"HorizontalPodAutoscaler minReplicas {low} > maxReplicas {high}",
                ("deployment", "replicas"),
            )
    for deployment in v.of("Deployment"):
        spec = dig(deployment, "spec", "template", "spec") or {}
        account = spec.get("serviceAccountName")
        if account is None or v.named("ServiceAccount", str(account)) is None:
            yield v.error(
                "MLS633",
                f"Deployment {name_of(deployment)} runs as account {account!r}, which is not rendered",
                ("deployment", "identity"),
            )
        for container in containers(deployment):
            for source in container.get("envFrom") or []:
                ref = dig(source, "configMapRef", "name")
                if ref is not None and v.named("ConfigMap", str(ref)) is None:
                    yield v.error(
                        "MLS633",
                        f"Deployment {name_of(deployment)} reads ConfigMap {ref!r}, which is not rendered",
                        ("deployment",),
                    )
        for volume in spec.get("volumes") or []:
            spc = dig(volume, "csi", "volumeAttributes", "secretProviderClass")
            if spc is not None and v.named("SecretProviderClass", str(spc)) is None:
                yield v.error(
                    "MLS633",
                    f"Deployment {name_of(deployment)} mounts SecretProviderClass {spc!r}, not rendered",
                    ("deployment", "secrets"),
                )


# --- MLS634 -------------------------------------------------------------------------------


def mounted_objects(spc: Manifest) -> set[str] | None:
    """The object names a SecretProviderClass mounts, ``None`` if its ``objects`` do not parse."""
    try:
        outer = _load_yaml(str(dig(spc, "spec", "parameters", "objects") or ""))
        names: set[str] = set()
        for entry in outer["array"]:
            names.add(str(_load_yaml(entry)["objectName"]))
    except (yaml.YAMLError, KeyError, TypeError):
        return None
    return names


def check_secrets(v: ArtifactView) -> Iterator[Diagnostic]:
    d, model = v.d, v.ctx.model
    wanted: list[tuple[str, str, SpecPath]] = [
        (model.access.secrets[s].name, model.access.secrets[s].key_vault, ("deployment", "secrets", i))
        for i, s in enumerate(d.secrets)
        if s in model.access.secrets
    ]
    if d.auth == "key" and model.workspace.key_vault:
        wanted.append((scoring_key_secret(d.endpoint), model.workspace.key_vault, ("deployment", "auth")))
    if not wanted:
        return
    spc = v.named("SecretProviderClass", d.endpoint)
    if spc is None:
        yield v.error(
            "MLS634",
            "the deployment's secrets have no SecretProviderClass to mount them",
            ("deployment", "secrets"),
        )
        return
    names = mounted_objects(spc)
    vault = dig(spc, "spec", "parameters", "keyvaultName")
    if names is None:
        yield v.error(
            "MLS634",
            "the SecretProviderClass objects do not parse as the CSI driver expects",
            ("deployment", "secrets"),
        )
        return
    for name, key_vault, path in wanted:
        if name not in names:
            yield v.error(
                "MLS634", f"Key Vault secret {name!r} is not mounted by the SecretProviderClass", path
            )
        elif key_vault != vault:
            yield v.error(
                "MLS634",
                f"Key Vault secret {name!r} is in {key_vault!r}, but the mount reads {vault!r}",
                path,
            )
    for deployment in v.of("Deployment"):
        volumes = dig(deployment, "spec", "template", "spec", "volumes") or []
        if not any(
            dig(vol, "csi", "volumeAttributes", "secretProviderClass") == d.endpoint for vol in volumes
        ):
            yield v.error(
                "MLS634",
                f"Deployment {name_of(deployment)} does not mount the Key Vault secrets",
                ("deployment", "secrets"),
            )


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=yaml.CSafeLoader)
