"""What the serving build accepts of the spec: namespaces, subnet names, the image's pip requirements.

Shared by the deployment check (which refuses anything else at the spec's line) and the AKS
renderer, which writes these values into Kubernetes manifests and the image's ``requirements.txt``.
"""

from __future__ import annotations

import re

RESERVED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "gatekeeper-system"})
"""The cluster's own components live here (and in any ``kube-*`` namespace)."""

SUBNET_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?")

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_VERSION_CLAUSE = r"(?:===|==|!=|<=|>=|~=|<|>) *[A-Za-z0-9.*+!_-]+"
REQUIREMENT = re.compile(
    rf"(?P<name>{_NAME})(?:\[{_NAME}(?:, *{_NAME})*\])?"
    rf"(?: *{_VERSION_CLAUSE}(?: *, *{_VERSION_CLAUSE})*)?"
    r"(?: *; *[A-Za-z0-9_.<>=!~'\"() ]+)?"
)
"""A PEP 508 requirement by name and version only: no options (``--index-url``), URLs or line breaks."""


def is_reserved_namespace(namespace: str) -> bool:
    return namespace in RESERVED_NAMESPACES or namespace.startswith("kube-")
