"""The "restricted" Pod Security Standard, checked on every pod template.

AKS namespaces labelled ``pod-security.kubernetes.io/enforce: restricted`` reject pods that break it,
and no schema says so: the API objects are all valid. Rules as in the Kubernetes documentation
(concepts/security/pod-security-standards), baseline plus restricted, for Linux pods.
"""

from __future__ import annotations

from typing import Any

from mlspec.compiler.platform_checks.json_pointers import child, pointer

RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
ALLOWED_SECCOMP = frozenset({"RuntimeDefault", "Localhost"})
_ADDABLE_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

Violation = tuple[str, str]
"""``(where, message)``."""


def pod_spec(doc: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The pod spec a workload manifest carries, with its pointer; ``None`` for other kinds."""
    path = _POD_SPEC_PATHS.get(str(doc.get("kind")))
    node: object = doc
    for key in path or ():
        node = node.get(key) if isinstance(node, dict) else None
    if path is None or not isinstance(node, dict):
        return None
    return pointer(*path), node


def restricted_violations(spec: dict[str, Any], where: str) -> list[Violation]:
    """What in a pod spec the restricted profile forbids."""
    found: list[Violation] = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field) is True:
            found.append((child(where, field), f"{field} must not be true (host namespaces)"))
    pod_context = _mapping(spec.get("securityContext"))
    context_where = child(where, "securityContext")
    found += _context_violations(pod_context, context_where)
    for index, sysctl in enumerate(pod_context.get("sysctls") or []):
        name = sysctl.get("name") if isinstance(sysctl, dict) else None
        if name not in _SAFE_SYSCTLS:
            found.append(
                (child(context_where, "sysctls", index, "name"), f"sysctl {name!r} is not in the safe set")
            )
    for index, volume in enumerate(spec.get("volumes") or []):
        if isinstance(volume, dict):
            for kind in sorted(set(volume) - {"name"} - RESTRICTED_VOLUME_TYPES):
                allowed = ", ".join(sorted(RESTRICTED_VOLUME_TYPES))
                message = f"volume type {kind!r} is not allowed; use one of {allowed}"
                found.append((child(where, "volumes", index, kind), message))
    for list_name in _CONTAINER_LISTS:
        for index, container in enumerate(spec.get(list_name) or []):
            if isinstance(container, dict):
                found += _container_violations(container, pod_context, child(where, list_name, index))
    return found


def _container_violations(
    container: dict[str, Any], pod_context: dict[str, Any], where: str
) -> list[Violation]:
    context = _mapping(container.get("securityContext"))
    at = child(where, "securityContext")
    found = _context_violations(context, at)
    if context.get("privileged") is True:
        found.append((child(at, "privileged"), "privileged containers are not allowed"))
    if context.get("allowPrivilegeEscalation") is not False:
        found.append((child(at, "allowPrivilegeEscalation"), "allowPrivilegeEscalation must be false"))
    if context.get("procMount", "Default") != "Default":
        found.append((child(at, "procMount"), "procMount must be Default"))
    capabilities = _mapping(context.get("capabilities"))
    if "ALL" not in (capabilities.get("drop") or []):
        found.append((child(at, "capabilities", "drop"), "capabilities must drop ALL"))
    for index, added in enumerate(capabilities.get("add") or []):
        if added not in _ADDABLE_CAPABILITIES:
            message = f"capability {added!r} may not be added (only NET_BIND_SERVICE)"
            found.append((child(at, "capabilities", "add", index), message))
    # An explicit false on the container is reported by _context_violations; unset inherits the pod's.
    if context.get("runAsNonRoot") is None and pod_context.get("runAsNonRoot") is not True:
        message = "runAsNonRoot must be true (on the container or the pod)"
        found.append((child(at, "runAsNonRoot"), message))
    seccomp = _mapping(context.get("seccompProfile")).get("type")
    if seccomp is None and _mapping(pod_context.get("seccompProfile")).get("type") is None:
        message = "seccompProfile.type must be RuntimeDefault or Localhost (on the container or the pod)"
        found.append((child(at, "seccompProfile", "type"), message))
    for index, port in enumerate(container.get("ports") or []):
        if isinstance(port, dict) and port.get("hostPort") not in (None, 0):
            found.append((child(where, "ports", index, "hostPort"), "hostPort is not allowed"))
    return found


def _context_violations(context: dict[str, Any], where: str) -> list[Violation]:
    """Rules that read the same on a pod's and a container's securityContext."""
    found: list[Violation] = []
    if context.get("runAsUser") == 0:
        found.append((child(where, "runAsUser"), "runAsUser must not be 0 (root)"))
    if context.get("runAsNonRoot") is False:
        found.append((child(where, "runAsNonRoot"), "runAsNonRoot must not be false"))
    seccomp = _mapping(context.get("seccompProfile")).get("type")
    if seccomp is not None and seccomp not in ALLOWED_SECCOMP:
        found.append(
            (child(where, "seccompProfile", "type"), f"seccompProfile.type {seccomp!r} is not allowed")
        )
    if _mapping(context.get("appArmorProfile")).get("type") == "Unconfined":
        found.append(
            (child(where, "appArmorProfile", "type"), "appArmorProfile.type Unconfined is not allowed")
        )
    if _mapping(context.get("windowsOptions")).get("hostProcess") is True:
        found.append(
            (child(where, "windowsOptions", "hostProcess"), "hostProcess containers are not allowed")
        )
    selinux = _mapping(context.get("seLinuxOptions"))
    if selinux.get("type", "") not in _SELINUX_TYPES:
        found.append(
            (
                child(where, "seLinuxOptions", "type"),
                f"seLinuxOptions.type {selinux['type']!r} is not allowed",
            )
        )
    for field in ("user", "role"):
        if selinux.get(field):
            found.append((child(where, "seLinuxOptions", field), f"seLinuxOptions.{field} must not be set"))
    return found


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
