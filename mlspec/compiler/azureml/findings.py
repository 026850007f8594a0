"""What the Azure ML checks share: the findings being collected and the YAML vocabulary."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlspec.compiler.artifacts import RenderContext
from mlspec.diagnostics import Diagnostic, SpecPath

DATA_TYPES = frozenset({"uri_folder", "uri_file", "mltable", "mlflow_model", "custom_model", "triton_model"})
VALUE_TYPES = frozenset({"number", "integer", "string", "boolean"})
BINDING = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Findings:
    """Diagnostics of one check run, located at each artifact's spec origin."""

    ctx: RenderContext
    origins: dict[str, SpecPath]
    """Artifact path → the spec path it was rendered from."""
    artifacts: frozenset[str]
    items: list[Diagnostic]

    def add(self, code: str, artifact: str, message: str, path: SpecPath | None = None) -> None:
        where = self.origins.get(artifact, ("model",)) if path is None else path
        self.items.append(self.ctx.error(code, f"{artifact}: {message}", where))

    def warn(self, code: str, artifact: str, message: str, path: SpecPath) -> None:
        located = self.ctx.spec.locate(path)
        self.items.append(Diagnostic.warning(code, f"{artifact}: {message}", path, located))
