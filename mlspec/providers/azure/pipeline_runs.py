"""Running the deployed Synapse pipeline (``mlspec run --env <azure env>``): start a run, poll it to the
end, and on failure say which activity failed and why.

Synapse answers ``Queued`` → ``InProgress`` → ``Succeeded`` | ``Failed`` | ``Cancelled`` (``Cancelling``
on the way); a run interrupted here (Ctrl-C, SIGTERM) is cancelled in Synapse before the interrupt
goes on, so nothing keeps spending Spark hours unwatched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlspec.contract.graph import Address
from mlspec.providers.azure.errors import azure_error
from mlspec.providers.azure.session import AzureSession, raw_json
from mlspec.providers.base import ProviderError
from mlspec.redaction import printable, redact

TERMINAL = frozenset({"Succeeded", "Failed", "Cancelled"})
POLL_SECONDS = 15.0
TIMEOUT_SECONDS = 24 * 3600.0
RUNNER_ROLE = "Synapse Credential User and Synapse Artifact User (or Synapse Contributor) on the workspace"


@dataclass
class PipelineRunResult:
    """How one pipeline run ended."""

    pipeline: str
    run_id: str
    status: str
    seconds: float
    message: str = ""
    failed_activities: list[dict[str, str]] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded"

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": "synapse",
            "pipeline": self.pipeline,
            "run_id": self.run_id,
            "status": self.status,
            "seconds": round(self.seconds, 1),
            "message": self.message,
            "failed_activities": self.failed_activities,
        }


def run_pipeline(
    session: AzureSession,
    address: Address,
    pipeline: str,
    parameters: Mapping[str, str],
    *,
    say: Callable[[str], None] = lambda line: None,
    poll_seconds: float = POLL_SECONDS,
    timeout_seconds: float = TIMEOUT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PipelineRunResult:
    """Start ``pipeline`` with ``parameters`` and wait for the run to end (or ``timeout_seconds``)."""
    from azure.core.exceptions import AzureError

    client = session.synapse
    started_at = dt.datetime.now(dt.UTC)
    start = clock()
    try:
        values: Any = dict(parameters)
        created: Any = client.pipeline.create_pipeline_run(pipeline, parameters=values, cls=raw_json)
    except AzureError as exc:
        raise azure_error(address, "starting a run", exc, RUNNER_ROLE) from None
    run_id = str((created or {}).get("runId", "")) if isinstance(created, dict) else ""
    if not run_id:
        raise ProviderError(address, f"Synapse accepted a run of {pipeline} but gave no run id")
    say(f"synapse pipeline {pipeline}: run {run_id} started")
    status, message, last = "Queued", "", ""
    try:
        while True:
            try:
                run: Any = client.pipeline_run.get_pipeline_run(run_id, cls=raw_json) or {}
            except AzureError as exc:  # after the SDK's retries: do not leave the run going unwatched
                _cancel(session, run_id)
                raise azure_error(address, f"reading run {run_id} (cancelled it)", exc, RUNNER_ROLE) from None
            status, message = str(run.get("status", "")), str(run.get("message", "") or "")
            if status != last:
                say(f"synapse pipeline {pipeline}: {status} ({clock() - start:.0f} s)")
                last = status
            if status in TERMINAL:
                break
            if clock() - start > timeout_seconds:
                _cancel(session, run_id)
                status, message = "Cancelled", f"mlspec stopped waiting after {timeout_seconds:.0f} s"
                break
            sleep(poll_seconds)
    except KeyboardInterrupt:
        _cancel(session, run_id)
        raise
    # What Synapse says of a run quotes what failed (a URL, a connection string): redacted like the text
    # output, so --json shows no more than the summary does.
    result = PipelineRunResult(pipeline, run_id, status, clock() - start, printable(redact(message), 500))
    if not result.succeeded:
        result.failed_activities = _failed_activities(session, pipeline, run_id, started_at)
    return result


def _cancel(session: AzureSession, run_id: str) -> None:
    from azure.core.exceptions import AzureError

    with contextlib.suppress(AzureError):  # it may have ended meanwhile; the caller says how
        session.synapse.pipeline_run.cancel_pipeline_run(run_id, is_recursive=True)


def _failed_activities(
    session: AzureSession, pipeline: str, run_id: str, started_at: dt.datetime
) -> list[dict[str, str]]:
    """Each failed activity's name and error message (the notebook's exception, for a notebook)."""
    from azure.core.exceptions import AzureError

    window: Any = {
        "lastUpdatedAfter": (started_at - dt.timedelta(minutes=5)).isoformat(),
        "lastUpdatedBefore": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat(),
    }
    try:
        found: Any = (
            session.synapse.pipeline_run.query_activity_runs(pipeline, run_id, window, cls=raw_json) or {}
        )
    except AzureError:
        return []
    failed = []
    for activity in found.get("value") or []:
        if isinstance(activity, dict) and activity.get("status") == "Failed":
            error = activity.get("error") if isinstance(activity.get("error"), dict) else {}
            failed.append(
                {
                    "activity": printable(str(activity.get("activityName", "?")), 120),
                    "message": printable(
                        redact(" ".join(str((error or {}).get("message", "")).split())), 500
                    ),
                }
            )
    return failed
