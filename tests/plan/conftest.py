"""Fixtures for the plan/apply tests: a copy of the test project, the synthetic renderer, the
CLI in a subprocess, and an Azurite blob server started from npm (tests/azurite.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from plan.synthetic import installed
from tests.azurite import azurite  # noqa: F401  (the fixture, shared with the provider tests)

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
SYNTHETIC_CLI = Path(__file__).parent / "synthetic_cli.py"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A fresh copy of tests/plan/data/shop; returns its mlproject.yaml."""
    target = tmp_path / "shop"
    shutil.copytree(DATA / "shop", target)
    return target / "mlproject.yaml"


@pytest.fixture
def synthetic() -> Iterator[None]:
    with installed():
        yield


def edit(spec: Path, old: str, new: str) -> None:
    text = spec.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {spec}"
    spec.write_text(text.replace(old, new, 1), encoding="utf-8")


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLSPEC_TEST_")}
    env.update({"PYTHONPATH": str(REPO), "NO_COLOR": "1", **extra})
    return env


def synthetic_cli(*args: str) -> list[str]:
    return [sys.executable, str(SYNTHETIC_CLI), *args]


def run_cli(args: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        synthetic_cli(*args),
        cwd=cwd,
        env=cli_env(**extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def state_file(spec: Path, env: str = "dev", project: str = "shop") -> Path:
    return spec.parent / ".mlspec" / "state" / project / f"{env}.json"


def read_state(spec: Path, env: str = "dev", project: str = "shop") -> dict[str, object]:
    data: dict[str, object] = json.loads(state_file(spec, env, project).read_text(encoding="utf-8"))
    return data
