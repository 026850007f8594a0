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

import json
import os
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RECORD_FILE = "run.json"
RECORD_VERSION = 1


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
        run_id = self.latest_id()
        return None if run_id is None else read_record(self.runs / run_id)

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
    try:
        data = json.loads((run_dir / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


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
