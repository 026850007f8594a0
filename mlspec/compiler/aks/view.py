"""What the AKS checks look at: the rendered manifests by kind, and a way to report at the spec."""

from __future__ import annotations

from typing import Any

from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.spec_schema.models import Deployment

Manifest = dict[str, Any]


class ArtifactView:
    """The rendered ``aks/`` manifests of one build, and the spec they came from."""

    def __init__(self, ctx: RenderContext, d: Deployment, out: ArtifactSet) -> None:
        self.ctx = ctx
        self.d = d
        self.out = out
        self.docs: list[Manifest] = [
            a.data
            for p, a in sorted(out.artifacts.items())
            if p.startswith("aks/") and isinstance(a.data, dict)
        ]

    def of(self, kind: str) -> list[Manifest]:
        return [m for m in self.docs if m.get("kind") == kind]

    def named(self, kind: str, name: str) -> Manifest | None:
        return next((m for m in self.of(kind) if meta(m).get("name") == name), None)

    def error(self, code: str, message: str, path: SpecPath, hint: str | None = None) -> Diagnostic:
        return self.ctx.error(code, message, path, hint)

    def warning(self, code: str, message: str, path: SpecPath, hint: str | None = None) -> Diagnostic:
        return Diagnostic.warning(code, message, path, self.ctx.spec.locate(path), hint)


def meta(m: Manifest) -> dict[str, Any]:
    found = m.get("metadata")
    return found if isinstance(found, dict) else {}


def dig(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def pod_labels(deployment: Manifest) -> dict[str, Any]:
    labels = dig(deployment, "spec", "template", "metadata", "labels")
    return labels if isinstance(labels, dict) else {}


def containers(deployment: Manifest) -> list[dict[str, Any]]:
    found = dig(deployment, "spec", "template", "spec", "containers")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def selects(selector: Any, labels: dict[str, Any]) -> bool:
    return (
        isinstance(selector, dict) and bool(selector) and all(labels.get(k) == v for k, v in selector.items())
    )


def name_of(m: Manifest) -> str:
    return str(meta(m).get("name"))
