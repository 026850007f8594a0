"""Shared helpers of the AKS renderer tests: render one spec through the AKS renderer alone."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlspec import api
from mlspec.compiler import aks
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.contract.graph import Resource
from mlspec.diagnostics import Diagnostic

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "aks"
BASE = DATA / "mlproject.yaml"
HOSTILE = DATA / "hostile" / "mlproject.yaml"
CONTRACT = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"


@dataclass
class Rendered:
    ctx: RenderContext
    out: ArtifactSet
    diagnostics: list[Diagnostic]

    def doc(self, path: str) -> Any:
        return self.out.artifacts[path].data

    def text(self, path: str) -> str:
        return self.out.artifacts[path].content.decode("utf-8")

    def manifests(self) -> list[dict[str, Any]]:
        """Every Kubernetes manifest, parsed back from the bytes written (not the data kept in memory)."""
        return [
            yaml.safe_load(a.content) for p, a in sorted(self.out.artifacts.items()) if p.startswith("aks/")
        ]

    def resource(self, address: str) -> Resource:
        return next(r for r in self.out.resources if str(r.address) == address)

    def addresses(self) -> set[str]:
        return {str(r.address) for r in self.out.resources}

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    def codes(self) -> list[str]:
        return sorted(d.code for d in self.diagnostics)


def render(spec: Path, environment: str | None = None, *, checked: bool = True) -> Rendered:
    """Resolve (all spec checks must pass unless ``checked`` is false: the renderer's defence in depth
    is then under test), render the AKS artifacts and run the AKS checks."""
    resolved = api.resolve(api.load(spec), environment, environ={})
    assert resolved.model is not None
    assert resolved.ok or not checked, [str(d) for d in resolved.diagnostics if d.is_error]
    ctx = RenderContext(resolved.model, resolved.spec)
    out = ArtifactSet()
    aks.render(ctx, out)
    return Rendered(ctx, out, [*out.diagnostics, *aks.check(ctx, out)])


def spec_diagnostics(spec: Path, environment: str | None = None) -> list[Diagnostic]:
    """What ``mlspec validate`` reports for ``spec`` (the spec checks, before any rendering)."""
    return api.resolve(api.load(spec), environment, environ={}).diagnostics


def variant(tmp_path: Path, change: Callable[[dict[str, Any]], None], base: Path = BASE) -> Path:
    """A copy of ``base`` with ``change`` applied to its data, written to ``tmp_path``, with the base's
    lock file when it has one (a change to the model's pip list or auth makes it stale: MLS608)."""
    data = copy.deepcopy(yaml.safe_load(base.read_text(encoding="utf-8")))
    change(data)
    target = tmp_path / "variant" / "mlproject.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    lock = base.with_name("mlproject.lock.json")
    if lock.is_file():
        target.with_name(lock.name).write_bytes(lock.read_bytes())
    return target


def example_cases() -> list[tuple[Path, str]]:
    """(spec, environment) for the contract example and every example project, all environments."""
    specs = [CONTRACT, *sorted(ROOT.glob("projects/*/mlproject.yaml"))]
    from mlspec.spec_schema.resolve import environment_names

    return [(spec, env) for spec in specs for env in environment_names(api.load(spec))]
