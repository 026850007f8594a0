"""``mlspec build``: run every renderer over a resolved spec, check the result, write it with its manifest.

Phases: render (one renderer per Azure service, each writing its own folder) → mlspec's
own cross-artifact checks → manifest (the resource graph with each resource's payload
and content hash) → write (the output folder is replaced as a whole, so no stale file
survives a rename).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlspec.compiler.artifacts import ArtifactError, ArtifactSet, RenderContext
from mlspec.compiler.graph import Address, Manifest, Resource, canonical_json, content_hash, topological_order
from mlspec.compiler.serialize import to_json
from mlspec.diagnostics import Diagnostic, MlspecError, has_errors
from mlspec.spec_schema.models import MLProject
from mlspec.spec_schema.resolve import LOCAL_ENVIRONMENT, ResolvedSpec

MANIFEST_FILE = "manifest.json"

Renderer = Callable[[RenderContext, ArtifactSet], None]


def _renderers() -> list[Renderer]:
    from mlspec.compiler import access, aks, azureml, monitor, powerbi, synapse

    return [synapse.render, azureml.render, aks.render, monitor.render, access.render, powerbi.render]


@dataclass
class BuildResult:
    artifacts: ArtifactSet
    manifest: Manifest
    diagnostics: list[Diagnostic] = field(default_factory=list)
    inputs: dict[str, bytes | None] = field(default_factory=dict)
    """Project files the renderers read, besides the spec (for the build cache)."""

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def compile_spec(spec: ResolvedSpec, model: MLProject) -> BuildResult:
    """Render every artifact in memory. Raises :class:`MlspecError` with spec-located diagnostics."""
    from mlspec.compiler.consistency import check_artifacts

    ctx = RenderContext(model, spec)
    out = ArtifactSet()
    try:
        for render in _renderers():
            render(ctx, out)
    except ArtifactError as exc:
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS601",
                    f"cannot write artifact: {exc}",
                    (),
                    spec.locate(()),
                    "names in the spec must not contain path separators or '..'",
                )
            ]
        ) from None
    diagnostics = [*out.diagnostics, *check_artifacts(ctx, out)]
    if has_errors(diagnostics):
        raise MlspecError(diagnostics)
    try:
        ordered = topological_order(out.resources)
    except ValueError as exc:  # a compiler bug, never user input: say so plainly
        raise MlspecError(
            [Diagnostic.error("MLS699", f"internal error: {exc}", (), spec.locate(()))]
        ) from None
    env = model.environments.get(spec.environment)
    manifest = Manifest(
        project=model.project.name,
        environment=spec.environment,
        spec_file=os.path.basename(spec.file),
        resources=ordered,
        workspace=model.workspace.model_dump(exclude_none=True),
        provider="local" if env is None or spec.environment == LOCAL_ENVIRONMENT else env.provider,
        protect=bool(env and env.protect),
        state=model.state.model_dump(exclude_none=True),
        moved=[(Address.parse(m.from_), Address.parse(m.to)) for m in model.moved],
    )
    for resource in ordered:
        manifest.hashes[resource.address] = content_hash(
            [resource.provider_type.encode(), canonical_json(payload(out, resource))]
        )
    return BuildResult(out, manifest, diagnostics, dict(ctx.inputs))


def payload(out: ArtifactSet, resource: Resource) -> dict[str, Any]:
    """What the provider deploys for ``resource``: the primary artifact's data (its pointer part)
    and a content hash of every further file it ships (code, Dockerfile, report files)."""
    primary = out.artifacts[resource.file]
    data: Any = primary.data if primary.data is not None else primary.content.decode("utf-8")
    if resource.pointer:
        data = resolve_pointer(data, resource.pointer)
    attachments = {f: content_hash([out.artifacts[f].content]) for f in resource.files[1:]}
    return {"properties": data, "attachments": attachments}


def resolve_pointer(data: Any, pointer: str) -> Any:
    """RFC 6901 JSON pointer lookup."""
    for raw in pointer.lstrip("/").split("/") if pointer else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        data = data[int(token)] if isinstance(data, list) else data[token]
    return data


def manifest_document(result: BuildResult) -> dict[str, Any]:
    document = result.manifest.to_json()
    by_address = {str(r.address): r for r in result.manifest.resources}
    for entry in document["resources"]:
        entry["payload"] = payload(result.artifacts, by_address[entry["address"]])
    return document


def write_build(result: BuildResult, out_dir: Path) -> list[Path]:
    """Replace ``out_dir`` with the build's files and ``manifest.json``; returns the written paths.

    The new tree is written beside the old one and swapped in, so an interrupted build
    never leaves half of each.
    """
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    written: list[Path] = []
    try:
        for artifact in sorted(result.artifacts.artifacts.values(), key=lambda a: a.path):
            target = staging / artifact.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(artifact.content)
            written.append(out_dir / artifact.path)
        (staging / MANIFEST_FILE).write_bytes(to_json(manifest_document(result)))
        written.append(out_dir / MANIFEST_FILE)
        if out_dir.exists():
            retired = out_dir.with_name(f".{out_dir.name}.old")
            if retired.exists():
                shutil.rmtree(retired)
            out_dir.rename(retired)
            staging.rename(out_dir)
            shutil.rmtree(retired)
        else:
            staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return written


def read_manifest(build_dir: Path) -> tuple[Manifest, dict[str, dict[str, Any]]]:
    """The manifest of a build folder and each resource's payload by address."""
    data = json.loads((build_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest = Manifest.from_json(data)
    payloads = {entry["address"]: entry.get("payload", {}) for entry in data["resources"]}
    return manifest, payloads
