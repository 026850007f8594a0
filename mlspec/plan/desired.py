"""The desired side of a plan: a build's resources with their payloads and the files they ship.

Built in memory from :func:`mlspec.api.build` (nothing is written to ``build/``); tests build
it from synthetic manifests with :func:`desired_from_parts`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlspec.compiler.graph import Address, Manifest, Resource

if TYPE_CHECKING:
    from mlspec.compiler.build import BuildResult

FileSource = Callable[[str], bytes]
"""Returns the bytes of a build-relative artifact path."""


@dataclass
class DesiredResource:
    """What the build says one resource should be."""

    address: Address
    provider_type: str
    properties: Any
    attachments: dict[str, str]
    hash: str
    depends_on: list[Address] = field(default_factory=list)
    immutable: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def payload(self) -> dict[str, Any]:
        return {"properties": self.properties, "attachments": self.attachments}


@dataclass
class Desired:
    """One environment's desired resources (in dependency order) and the manifest settings plan/apply use."""

    manifest: Manifest
    resources: dict[Address, DesiredResource]
    files: FileSource
    project_dir: Path

    @property
    def project(self) -> str:
        return self.manifest.project

    @property
    def environment(self) -> str:
        return self.manifest.environment


def desired_from_build(result: BuildResult, project_dir: Path) -> Desired:
    from mlspec.compiler.build import payload

    artifacts = result.artifacts.artifacts
    payloads = {r.address: payload(result.artifacts, r) for r in result.manifest.resources}

    def read_file(path: str) -> bytes:
        return artifacts[path].content

    return desired_from_parts(result.manifest, payloads, read_file, project_dir)


def desired_from_parts(
    manifest: Manifest,
    payloads: Mapping[Address, dict[str, Any]],
    files: FileSource,
    project_dir: Path,
) -> Desired:
    """Desired state from a manifest and each resource's ``{properties, attachments}`` payload.

    Hashes come from the manifest when it has them, else are computed as the build does.
    """
    from mlspec.compiler.graph import canonical_json, content_hash, topological_order

    resources: dict[Address, DesiredResource] = {}
    for resource in topological_order(manifest.resources):
        body = payloads[resource.address]
        resources[resource.address] = _desired(resource, body, manifest.hashes.get(resource.address, ""))
        if not resources[resource.address].hash:
            resources[resource.address].hash = content_hash(
                [resource.provider_type.encode(), canonical_json(body)]
            )
    return Desired(manifest, resources, files, project_dir)


def _desired(resource: Resource, body: dict[str, Any], digest: str) -> DesiredResource:
    return DesiredResource(
        address=resource.address,
        provider_type=resource.provider_type,
        properties=body.get("properties"),
        attachments=dict(body.get("attachments") or {}),
        hash=digest,
        depends_on=list(resource.depends_on),
        immutable=list(resource.immutable),
        files=list(resource.files),
    )
