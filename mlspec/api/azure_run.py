"""``mlspec run --env <azure env>``: run what the environment deployed, in Azure.

Unlike the local run, it deploys nothing: a run in Azure spends Spark hours in a team's workspace, so
it runs what ``mlspec apply`` put there (``databricks bundle run`` after ``bundle deploy``, likewise).
This version runs the transforms: the environment's Synapse pipeline, started with the pipeline's
parameters (``environment``, ``run_date``) and polled to the end (its last activities ask Power BI to
refresh the reports' models, as on any run of it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlspec.diagnostics import Diagnostic, MlspecError

if TYPE_CHECKING:
    from mlspec.compiler.build import BuildResult
    from mlspec.runtime.progress import RunProgress

STEP = "transforms"
LOCAL_OPTIONS = (
    ("only", "--only"),
    ("from_step", "--from"),
    ("spark_master", "--spark-master"),
    ("traffic", "--traffic"),
)


def refuse_local_options(environment: str, options: Any, lake: Any) -> None:
    """MLS819 for the options of a local run (``--only train``, ``--lake``...) given to a run in Azure,
    which runs the deployed pipeline as a whole: ignoring them would run (and bill) what was not asked."""
    given = [flag for field, flag in LOCAL_OPTIONS if getattr(options, field, None)]
    if lake is not None:
        given.append("--lake")
    if given:
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS819",
                    f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to a run on this machine; "
                    f"environment {environment!r} runs in "
                    "Azure, where `mlspec run` runs the deployed Synapse pipeline as a whole",
                    ("environments", environment, "provider"),
                    hint="drop them, or run on this machine with `--env local`",
                )
            ]
        )


def run_on_azure(result: BuildResult, spec_file: Path, progress: RunProgress | None = None) -> dict[str, Any]:
    """The run record of one run of the deployed pipeline (``status`` ``succeeded`` or ``failed``)."""
    from mlspec.api.deploy import desired_from_build
    from mlspec.plan.ownership import read_state
    from mlspec.plan.target import Target
    from mlspec.providers.azure import AzureProvider
    from mlspec.runtime.interrupts import sigterm_as_interrupt
    from mlspec.runtime.records import RECORD_VERSION, RunLayout, now_iso, write_record

    desired = desired_from_build(result, spec_file.resolve().parent)
    target = Target.of(desired)
    environment = target.environment
    # Signed in first: without credentials, say so (MLS816), not that a blob state cannot be read.
    provider = target.provider_instance()
    assert isinstance(provider, AzureProvider), provider  # the manifest says azure
    state = read_state(target.backend(), target)
    pipelines = sorted(
        (address, entry)
        for address, entry in (state.resources.items() if state else ())
        if (address.service, address.kind) == ("synapse", "pipeline")
    )
    if not pipelines:
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS818",
                    f"environment {environment!r} has no deployed Synapse pipeline to run",
                    ("environments", environment),
                    hint=f"deploy it first: `mlspec apply --env {environment}`; `mlspec run` in Azure runs "
                    "what apply deployed and deploys nothing itself",
                )
            ]
        )
    parameters = {"environment": environment, "run_date": dt.datetime.now(dt.UTC).date().isoformat()}
    layout = RunLayout(spec_file.resolve().parent)
    with _run_lock(layout):
        run_id, run_dir = layout.new_run()
        steps: list[dict[str, Any]] = []
        record: dict[str, Any] = {
            "version": RECORD_VERSION,
            "run_id": run_id,
            "project": target.project,
            "environment": environment,
            "provider": "azure",
            "status": "running",
            "started": now_iso(),
            "finished": None,
            "steps": steps,
            "error": None,
        }
        try:
            with (
                sigterm_as_interrupt()
            ):  # SIGTERM (a CI job cancelled) cancels the Synapse run as Ctrl-C does
                _run_pipelines(provider, pipelines, parameters, record, progress)
            if record["status"] == "running":
                record["status"] = "succeeded"
        except KeyboardInterrupt:
            running = any(step["status"] == "running" for step in steps)
            record["status"] = "interrupted"
            record["error"] = {
                "step": STEP,
                "message": "interrupted: the Synapse run was cancelled"
                if running or not steps
                else "interrupted after the Synapse run ended",
                "rerun": f"mlspec run --env {environment}",
            }
            raise
        except MlspecError as error:  # Azure refused to start or to report the run: the record says so
            record["status"] = "failed"
            record["error"] = {
                "step": STEP,
                "message": "; ".join(d.message for d in error.diagnostics),
                "rerun": f"mlspec run --env {environment}",
            }
            raise
        finally:
            record["finished"] = now_iso()
            write_record(run_dir, record)  # `mlspec status` shows the last run, local or in Azure
            layout.mark_latest(run_id)
    return record


def _run_pipelines(
    provider: Any,
    pipelines: list[Any],
    parameters: dict[str, str],
    record: dict[str, Any],
    progress: RunProgress | None,
) -> None:
    from mlspec.providers.azure.pipeline_runs import POLL_SECONDS, run_pipeline

    environment = record["environment"]
    for address, entry in pipelines:
        properties = entry.payload.properties if isinstance(entry.payload.properties, dict) else {}
        name = str(properties.get("name") or address.name)
        if progress is not None:
            progress.step_started(STEP, f"Synapse pipeline {name}")
        step: dict[str, Any] = {"name": STEP, "status": "running", "seconds": 0.0, "pipeline": name}
        record["steps"].append(step)
        outcome = run_pipeline(
            provider.session,
            address,
            name,
            parameters,
            # the SDK clients' polling interval, which tests set to 0, paces this poll too
            poll_seconds=float(provider.session.client_options.get("polling_interval", POLL_SECONDS)),
            say=(lambda line: progress.item(STEP, line)) if progress is not None else (lambda line: None),
        )
        if progress is not None:
            progress.step_finished(
                STEP, "ok" if outcome.succeeded else "failed", outcome.seconds, outcome.status
            )
        ran = outcome.to_json()
        step.update(
            status="succeeded" if outcome.succeeded else "failed",  # as a local run's steps say
            seconds=ran["seconds"],
            detail=f"Synapse pipeline {name} run {outcome.run_id}: {outcome.status}",
            engine=ran["engine"],
            azure_run_id=ran["run_id"],
            azure_status=ran["status"],
            failed_activities=ran["failed_activities"],
        )
        if not outcome.succeeded:
            causes = [f"{a['activity']}: {a['message']}" for a in outcome.failed_activities]
            record["status"] = "failed"
            record["error"] = {
                "step": STEP,
                "message": "\n".join(
                    [f"Synapse pipeline {name} run {outcome.run_id} {outcome.status.lower()}", *causes]
                    + ([outcome.message] if outcome.message and not causes else [])
                ),
                "rerun": f"mlspec run --env {environment}",
            }
            return


def _run_lock(layout: Any) -> Any:
    """The project's run lock (MLS814 when another run or serve holds it), as the local run takes it."""
    from mlspec.api import _run_lock as project_run_lock

    return project_run_lock(layout, "run")
