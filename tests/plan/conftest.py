"""Fixtures for the plan/apply tests: a copy of the test project, the synthetic renderer, the
CLI in a subprocess, and an Azurite blob server started from npm."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plan.synthetic import installed

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
SYNTHETIC_CLI = Path(__file__).parent / "synthetic_cli.py"
AZURITE_BIN = REPO / ".ci" / "node" / "node_modules" / ".bin" / "azurite-blob"
# The documented, public development account of the Azure storage emulator (not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


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


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """A blob connection string to an Azurite server on a free loopback port (skips without node/azurite)."""
    node = shutil.which("node")
    if node is None or not AZURITE_BIN.exists():
        pytest.skip(
            "Azurite is not installed: run `npm install --prefix .ci/node azurite@3` (needs node); "
            ".ci/run does this"
        )
    workdir = tempfile.mkdtemp(prefix="azurite-")
    process = subprocess.Popen(
        [
            str(AZURITE_BIN),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            "0",
            "--location",
            workdir,
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    port = None
    deadline = time.monotonic() + 30
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        found = re.search(r"listens on http://127\.0\.0\.1:(\d+)", line)
        if found:
            port = int(found.group(1))
            break
    if port is None:
        process.kill()
        pytest.fail("Azurite did not start (no 'listens on' line within 30 s)")
    try:
        yield (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(workdir, ignore_errors=True)
