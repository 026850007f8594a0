"""Where a local run keeps things, and the record each run leaves (``mlspec status`` reads it).

Layout under ``<project>/.mlspec/`` (git-ignored)::

    lake/                          the default local lake (``--lake DIR`` points elsewhere)
    mlruns/                        MLflow tracking + model registry (file store)
    runs/<run id>/run.json         the record of one run (the ``--json`` document)
    runs/<run id>/...              step logs, the training outputs, the serving log, the report
    runs/latest                    the id of the newest run
    runs/endpoint.json             the model version the local endpoint serves

The monitoring table (``MlspecModelMonitoring_CL`` on Azure) lives in the lake, under
``<lake>/log-analytics/<workspace>/``, as the lake is where everything the chain writes lives.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RECORD_FILE = "run.json"
RECORD_VERSION = 1
LOCK_FILE = "run.lock"


class RunRecordCorrupt(Exception):
    """A run's ``run.json`` cannot be read as a run record."""


class RunLocked(Exception):
    """Another ``mlspec run`` (or ``serve``) holds this project's run lock."""


class RunLayout:
    """The folders of one project's local runs."""

    def __init__(self, project_dir: Path, lake: Path | None = None) -> None:
        self.project_dir = project_dir.resolve()
        self.home = self.project_dir / ".mlspec"
        self.lake = (lake or self.home / "lake").resolve()
        self.mlruns = self.home / "mlruns"
        self.runs = self.home / "runs"

    @property
    def tracking_uri(self) -> str:
        return self.mlruns.as_uri()

    @property
    def endpoint_file(self) -> Path:
        return self.runs / "endpoint.json"

    def monitoring_dir(self, workspace: str) -> Path:
        return self.lake / "log-analytics" / workspace

    def new_run(self) -> tuple[str, Path]:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        run_id = f"{stamp}-{secrets.token_hex(3)}"
        folder = self.runs / run_id
        folder.mkdir(parents=True)
        return run_id, folder

    def run_dir(self, run_id: str) -> Path:
        return self.runs / run_id

    def latest_id(self) -> str | None:
        try:
            run_id = (self.runs / "latest").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return run_id if run_id and (self.runs / run_id / RECORD_FILE).is_file() else None

    def latest_record(self) -> dict[str, Any] | None:
        """The newest run's record; raises :class:`RunRecordCorrupt` when it cannot be read."""
        try:
            run_id = (self.runs / "latest").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        if not run_id:
            return None
        return load_record(self.runs / run_id)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every readable run record, newest first (unreadable ones are passed over)."""
        if not self.runs.is_dir():
            return
        for folder in sorted(
            (p for p in self.runs.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True
        ):
            record = read_record(folder)
            if record is not None:
                yield record

    @contextmanager
    def lock(self, what: str) -> Iterator[None]:
        """Hold the project's run lock (one run or serve at a time); the OS releases it if we die."""
        self.runs.mkdir(parents=True, exist_ok=True)
        path = self.runs / LOCK_FILE
        handle = path.open("a+", encoding="utf-8")
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise RunLocked(
                    f"another mlspec command is running on this project ({holder}); wait for it to end"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"mlspec {what}, pid {os.getpid()}, since {now_iso()}\n")
            handle.flush()
            yield
        finally:
            handle.close()

    def mark_latest(self, run_id: str) -> None:
        write_atomically(self.runs / "latest", run_id + "\n")

    def served_version(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.endpoint_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("version") else None

    def promote(self, model: str, version: str, run_id: str) -> None:
        """The local endpoint serves ``model`` ``version`` from now on."""
        body = {"model": model, "version": version, "run_id": run_id, "since": now_iso()}
        write_atomically(self.endpoint_file, json.dumps(body, indent=2, sort_keys=True) + "\n")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def read_record(run_dir: Path) -> dict[str, Any] | None:
    """The record of a run, or ``None`` when it is missing or unreadable."""
    try:
        return load_record(run_dir)
    except RunRecordCorrupt:
        return None


def load_record(run_dir: Path) -> dict[str, Any]:
    """The record of a run; raises :class:`RunRecordCorrupt` naming the file and what is wrong."""
    path = run_dir / RECORD_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunRecordCorrupt(
            f"{path} is missing (the run was interrupted before it wrote its record?)"
        ) from None
    except OSError as error:
        raise RunRecordCorrupt(f"cannot read {path}: {error.strerror or error}") from error
    except UnicodeDecodeError:
        raise RunRecordCorrupt(f"{path} is not UTF-8 text") from None
    except ValueError as error:
        raise RunRecordCorrupt(f"{path} is not valid JSON: {error}") from None
    problem = _record_problem(data)
    if problem:
        raise RunRecordCorrupt(f"{path} is not a run record: {problem}")
    return data  # type: ignore[no-any-return]


def _record_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "it is not a JSON object"
    if not isinstance(data.get("run_id"), str) or not isinstance(data.get("status"), str):
        return "run_id and status must be strings"
    steps = data.get("steps")
    if not isinstance(steps, list) or not all(
        isinstance(s, dict) and isinstance(s.get("name"), str) and isinstance(s.get("status"), str)
        for s in steps
    ):
        return "steps must be a list of {name, status, ...}"
    for section in ("transforms", "model", "serving", "monitoring", "retrain", "report", "error"):
        if data.get(section) is not None and not isinstance(data[section], dict):
            return f"{section} must be an object or null"
    return None


def write_record(run_dir: Path, record: dict[str, Any]) -> None:
    write_atomically(run_dir / RECORD_FILE, json.dumps(record, indent=2, sort_keys=False, default=str) + "\n")


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a reader sees the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
