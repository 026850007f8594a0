"""Helpers for the crash and concurrency tests: run apply in a subprocess, stop it at a resource."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from mlspec.providers.local import workspace
from plan.conftest import cli_env

PAUSED = "MLSPEC_TEST_PAUSE_AFTER: paused after resource"


def start_paused(
    command: list[str], cwd: Path, after: int, seconds: float = 3600, **env: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=cli_env(MLSPEC_TEST_PAUSE_AFTER=str(after), MLSPEC_TEST_PAUSE_SECONDS=str(seconds), **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_pause(process: subprocess.Popen[str], timeout: float = 90) -> str:
    """Read stderr until the pause marker; returns what was read. Fails if the process ends first."""
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"apply ended (exit {process.wait()}) before pausing:\n{''.join(seen)}")
        seen.append(line)
        if line.startswith(PAUSED):
            return "".join(seen)
    raise AssertionError("apply did not pause in time:\n" + "".join(seen))


def kill_hard(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    if process.stderr is not None:
        process.stderr.close()


def normalised_state(state_path: Path, project_dir: Path) -> dict[str, Any]:
    """The state's resources with absolute paths made relative (so copies of a project compare equal)."""
    data = json.loads(state_path.read_text(encoding="utf-8"))
    resources: dict[str, Any] = data["resources"]
    prefix = str(project_dir.resolve()) + os.sep
    for entry in resources.values():
        outputs = entry["outputs"]
        if isinstance(outputs.get("path"), str):
            outputs["path"] = outputs["path"].removeprefix(prefix)
    return resources


def workspace_tree(project_dir: Path) -> dict[str, str]:
    """Every file of the local provider's workspace (hidden leftovers included) with its content hash;
    in ``resource.json`` the signatures of the files as written (times, inodes: this copy's own) aside."""
    root = project_dir / ".mlspec" / "local"
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(_comparable(path)).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _comparable(path: Path) -> bytes:
    if path.name != workspace.RESOURCE_FILE:
        return path.read_bytes()
    meta = json.loads(path.read_text(encoding="utf-8"))
    for key in (workspace.FILE_STATS, workspace.PROPERTIES_STAT):
        meta.pop(key, None)
    return json.dumps(meta, sort_keys=True).encode()
