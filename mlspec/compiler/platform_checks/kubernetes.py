"""Kubernetes manifests, checked against kubernetes-validate's strict schemas plus what they miss.

kubernetes-validate's own ``validate()`` re-reads two JSON files (one of them 1.3 MB) on every call;
here each (version, kind) validator is built once per process and reused. Its schemas let any string
through as a quantity and any string as an enum value, and they know no custom resources; mlspec adds
a quantity pattern and enum lists to the schema it loads (credited to ``mlspec`` in problems), checks
SecretProviderClass against its own schema, compares requests with limits and applies the
"restricted" Pod Security Standard to every pod template.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from mlspec.compiler.platform_checks.json_pointers import child
from mlspec.compiler.platform_checks.json_schemas import (
    EXPECTED,
    MLSPEC_MARK,
    bundled_validator,
    schema_problems,
)
from mlspec.compiler.platform_checks.pod_security import pod_spec, restricted_violations
from mlspec.compiler.platform_checks.problems import PlatformProblem
from mlspec.compiler.platform_checks.quantity import QUANTITY_PATTERN, is_quantity, quantity_value

CHECKER = "kubernetes-validate"

CUSTOM_RESOURCE_SCHEMAS = {
    ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"): "secretproviderclass.v1.json",
}

_QUANTITY_DEF = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_PROTOCOLS = ["TCP", "UDP", "SCTP"]
# Values the API server accepts for fields the schemas type as plain strings (from the API reference).
_ENUMS: dict[str, dict[str, list[str]]] = {
    "io.k8s.api.core.v1.Container": {
        "imagePullPolicy": ["Always", "Never", "IfNotPresent"],
        "terminationMessagePolicy": ["File", "FallbackToLogsOnError"],
    },
    "io.k8s.api.core.v1.ContainerPort": {"protocol": _PROTOCOLS},
    "io.k8s.api.core.v1.ServicePort": {"protocol": _PROTOCOLS},
    "io.k8s.api.networking.v1.NetworkPolicyPort": {"protocol": _PROTOCOLS},
    "io.k8s.api.core.v1.ServiceSpec": {
        "type": ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"],
        "externalTrafficPolicy": ["Cluster", "Local"],
        "internalTrafficPolicy": ["Cluster", "Local"],
        "sessionAffinity": ["ClientIP", "None"],
    },
    "io.k8s.api.core.v1.PodSpec": {
        "restartPolicy": ["Always", "OnFailure", "Never"],
        "dnsPolicy": ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
    },
    "io.k8s.api.core.v1.SeccompProfile": {"type": ["RuntimeDefault", "Localhost", "Unconfined"]},
    "io.k8s.api.core.v1.HTTPGetAction": {"scheme": ["HTTP", "HTTPS"]},
    "io.k8s.api.core.v1.Toleration": {
        "operator": ["Exists", "Equal"],
        "effect": ["NoSchedule", "PreferNoSchedule", "NoExecute"],
    },
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement": {
        "operator": ["In", "NotIn", "Exists", "DoesNotExist"],
    },
    "io.k8s.api.apps.v1.DeploymentStrategy": {"type": ["Recreate", "RollingUpdate"]},
    "io.k8s.api.autoscaling.v2.MetricSpec": {
        "type": ["ContainerResource", "External", "Object", "Pods", "Resource"],
    },
    "io.k8s.api.autoscaling.v2.MetricTarget": {"type": ["Utilization", "Value", "AverageValue"]},
    "io.k8s.api.policy.v1.PodDisruptionBudgetSpec": {
        "unhealthyPodEvictionPolicy": ["IfHealthyBudget", "AlwaysAllow"]
    },
}
_ARRAY_ENUMS: dict[str, dict[str, list[str]]] = {
    "io.k8s.api.networking.v1.NetworkPolicySpec": {"policyTypes": ["Ingress", "Egress"]},
}


def check_kubernetes_manifests(
    docs: list[dict[str, Any]], kubernetes_version: str = "1.30.0", *, artifact: str | None = None
) -> list[PlatformProblem]:
    """Problems in Kubernetes manifests for a cluster of ``kubernetes_version``.

    Each problem's ``artifact`` is ``Kind/name`` (prefixed by ``artifact:`` when given).
    Raises :class:`ValueError` when kubernetes-validate has no schemas for that version.
    """
    schema_version = _schema_version(kubernetes_version)
    problems: list[PlatformProblem] = []
    for index, doc in enumerate(docs):
        label = _label(doc, index, artifact)
        if not isinstance(doc, dict):
            problems.append(PlatformProblem(label, "", "a manifest must be a mapping", "mlspec"))
            continue
        problems += _schema_check(doc, schema_version, label)
        problems += _resource_checks(doc, label)
        found = pod_spec(doc)
        if found is not None:
            for where, message in restricted_violations(found[1], found[0]):
                problems.append(
                    PlatformProblem(label, where, f"restricted Pod Security Standard: {message}", "mlspec")
                )
    return problems


def _label(doc: object, index: int, artifact: str | None) -> str:
    kind = doc.get("kind", "?") if isinstance(doc, dict) else "?"
    metadata = doc.get("metadata") if isinstance(doc, dict) else None
    name = metadata.get("name", f"#{index}") if isinstance(metadata, dict) else f"#{index}"
    return f"{artifact}:{kind}/{name}" if artifact else f"{kind}/{name}"


def _schema_check(doc: dict[str, Any], schema_version: str, label: str) -> list[PlatformProblem]:
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return [PlatformProblem(label, "", "apiVersion and kind must be strings", CHECKER)]
    custom = CUSTOM_RESOURCE_SCHEMAS.get((api_version, kind))
    if custom is not None:
        return schema_problems(bundled_validator(custom), doc, label, "jsonschema")
    validator = _validator(schema_version, kind, api_version)
    if validator is None:
        message = (
            f"no schema for {kind} {api_version} in Kubernetes {schema_version}: unknown kind or apiVersion"
        )
        return [PlatformProblem(label, "/kind", message, CHECKER)]
    return schema_problems(validator, doc, label, CHECKER)


def _resource_checks(doc: dict[str, Any], label: str) -> list[PlatformProblem]:
    """Requests above limits: valid to the schema, rejected by the API server."""
    found = pod_spec(doc)
    if found is None:
        return []
    where, spec = found
    problems: list[PlatformProblem] = []
    for list_name in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(list_name) or []):
            resources_ = container.get("resources") if isinstance(container, dict) else None
            if not isinstance(resources_, dict):
                continue
            requests, limits = resources_.get("requests") or {}, resources_.get("limits") or {}
            if not isinstance(requests, dict) or not isinstance(limits, dict):
                continue
            for name, request in requests.items():
                limit = limits.get(name)
                if limit is None or not (is_quantity(request) and is_quantity(limit)):
                    continue
                if quantity_value(request) > quantity_value(limit):
                    at = child(where, list_name, index, "resources", "requests", name)
                    message = f"{name} request {request} is more than its limit {limit}"
                    problems.append(PlatformProblem(label, at, message, "mlspec"))
    return problems


# -- kubernetes-validate's schemas, loaded once -------------------------------------------------------


def _schema_root() -> Any:
    import kubernetes_validate

    return resources.files(kubernetes_validate).joinpath("kubernetes-json-schema")


@cache
def _available_versions() -> tuple[tuple[int, int], ...]:
    found = []
    for entry in _schema_root().iterdir():
        match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+-local-strict", entry.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2))))
    return tuple(sorted(found))


@cache
def _schema_version(kubernetes_version: str) -> str:
    """The newest schema set not newer than the cluster (kubernetes-validate's rule, compared as numbers)."""
    match = re.match(r"^v?(\d+)\.(\d+)", kubernetes_version)
    if match is None:
        raise ValueError(f"not a Kubernetes version: {kubernetes_version!r}")
    wanted = (int(match.group(1)), int(match.group(2)))
    versions = _available_versions()
    usable = [v for v in versions if v <= wanted]
    if not usable or wanted > versions[-1]:
        have = f"{versions[0][0]}.{versions[0][1]}-{versions[-1][0]}.{versions[-1][1]}"
        raise ValueError(f"kubernetes-validate has schemas for Kubernetes {have}, not {kubernetes_version}")
    return f"{usable[-1][0]}.{usable[-1][1]}"


def _schema_dir(schema_version: str) -> Any:
    return _schema_root().joinpath(f"v{schema_version}.0-local-strict")


@cache
def _definitions(schema_version: str) -> dict[str, Any]:
    definitions: dict[str, Any] = json.loads(
        _schema_dir(schema_version).joinpath("_definitions.json").read_text()
    )
    defs = definitions["$defs"]
    # Quantities are "string or number" in the schema; the API server parses them.
    defs[_QUANTITY_DEF] = {
        "type": ["string", "number", "null"],
        "pattern": QUANTITY_PATTERN,
        MLSPEC_MARK: True,
        EXPECTED: "a Kubernetes quantity such as 500m or 1Gi",
    }
    for name, fields in _ENUMS.items():
        for field, values in fields.items():
            prop = defs.get(name, {}).get("properties", {}).get(field)
            if prop is not None:
                prop.update({"enum": [*values, None], MLSPEC_MARK: True})
    for name, fields in _ARRAY_ENUMS.items():
        for field, values in fields.items():
            prop = defs.get(name, {}).get("properties", {}).get(field)
            if prop is not None:
                prop["items"] = {"type": "string", "enum": values, MLSPEC_MARK: True}
    return definitions


@cache
def _validator(schema_version: str, kind: str, api_version: str) -> Any:
    """A validator for one kind, or ``None`` if kubernetes-validate has no schema for it."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    # kubernetes-validate's file naming: rbac.authorization.k8s.io/v1 → rbac-v1, v1 → v1.
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    file = _schema_dir(schema_version).joinpath(f"{kind.lower()}-{group_version}.json")
    if not file.is_file():
        return None
    schema = json.loads(file.read_text())
    definitions = _definitions(schema_version)
    registry: Registry[Any] = Registry().with_resources(
        [
            (definitions["$id"], Resource.from_contents(definitions)),
            (schema["$id"], Resource.from_contents(schema)),
        ]
    )
    return Draft202012Validator(schema, registry=registry)
