"""Shared fixtures of the file-system suite: a copy of a real project and guards against hangs."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Every place the spec names a project file, in the diabetes example (which has all three):
# (the file, its spec path, the text of the spec line that names it).
NAMED_FILES = [
    ("transforms/lab_panel.py", ("transforms", "lab_panel", "python"), "python: transforms/lab_panel.py"),
    ("src/train.py", ("model", "training", "script"), "script: src/train.py"),
    ("data/generate.py", ("run", "seed"), "seed: data/generate.py"),
]
NAMED_IDS = ["transform-code", "training-script", "seed-program"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The diabetes example, which names a transform's code, a training script and a seed program."""
    target = tmp_path / "diabetes"
    shutil.copytree(ROOT / "projects" / "diabetes", target, ignore=shutil.ignore_patterns(".mlspec", "build"))
    return target


class Blocked(Exception):
    """Not an OSError (as TimeoutError is), so code under test cannot swallow it."""


@pytest.fixture
def alarm() -> Iterator[None]:
    """Fail (instead of hanging the suite) when a test blocks, e.g. on opening a FIFO."""

    def expired(signum: int, frame: object) -> None:
        raise Blocked("blocked for 10 s: a FIFO or device was opened or read")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def line_of(spec: Path, needle: str) -> int:
    return next(i for i, line in enumerate(spec.read_text().splitlines(), 1) if needle in line)


def _bounded_memory() -> None:
    # An unbounded read of /dev/zero must end in a failed test, not in a machine out of memory.
    limit = 2 * 1024**3
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def mlspec(*args: str, cwd: Path | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``python -m mlspec ARGS`` in its own process, with a timeout and a memory ceiling."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLSPEC_")}
    return subprocess.run(
        [sys.executable, "-m", "mlspec", *args],
        cwd=cwd or ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_bounded_memory,
        check=False,
    )


def assert_clean_failure(stderr: str) -> None:
    """A user-caused failure is a diagnostic, never a crash."""
    assert "Traceback" not in stderr
    assert "internal error" not in stderr
    assert "MemoryError" not in stderr
