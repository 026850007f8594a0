from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from mlspec import api

from .spec_text import Checked, Validate


@pytest.fixture
def validate(tmp_path: Path) -> Validate:
    """Write a spec to ``tmp_path/mlproject.yaml`` and validate it (no OS environment leaks in)."""

    def run(
        text: str,
        env: str | Sequence[str] | None = None,
        *,
        all_environments: bool = False,
        variables: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        strict: bool = False,
    ) -> Checked:
        path = tmp_path / "mlproject.yaml"
        path.write_text(text, encoding="utf-8")
        envs = [env] if isinstance(env, str) else env
        result = api.validate_file(
            path,
            envs,
            all_environments=all_environments,
            variables=variables,
            environ=environ if environ is not None else {},
            strict=strict,
        )
        return Checked(text, str(path), result.diagnostics)

    return run
