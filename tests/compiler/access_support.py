"""What the role-assignment tests share: the specs they build, and how they read the access template."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec import api
from mlspec.compiler.access.assignment import ROLE_ASSIGNMENT_TYPE
from mlspec.compiler.access.template import TEMPLATE_FILE
from mlspec.compiler.build import BuildResult
from mlspec.diagnostics import Diagnostic, MlspecError

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"


def build(spec: Path, env: str | None, out: Path) -> BuildResult:
    return api.build(spec, env, out_dir=out, environ={})


def template_of(out: Path) -> dict[str, Any]:
    """The access template (``access/role-assignments.json``) of the build written to ``out``."""
    data: dict[str, Any] = json.loads((out / TEMPLATE_FILE).read_text(encoding="utf-8"))
    return data


def assignments(out: Path) -> list[dict[str, Any]]:
    return [r for r in template_of(out)["resources"] if r["type"] == ROLE_ASSIGNMENT_TYPE]


def contract_with(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """The contract spec with ``change`` applied, written to ``tmp_path/spec/mlproject.yaml``."""
    data = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "spec" / "mlproject.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def errors_of(spec: Path, tmp_path: Path) -> list[Diagnostic]:
    """The diagnostics building ``spec`` for dev stops with."""
    with pytest.raises(MlspecError) as caught:
        build(spec, "dev", tmp_path / "out")
    return caught.value.diagnostics
