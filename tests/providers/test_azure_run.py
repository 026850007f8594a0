"""``mlspec run --env <azure env>``: the deployed Synapse pipeline started and polled to its end in
Azure (:class:`FakeAzure` through the SDK's pipeline), what a failure says, and a cancel on Ctrl-C."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.synapse.artifacts")

from click.testing import CliRunner

from mlspec import api
from mlspec.api import deploy as api_deploy
from mlspec.cli import cli
from mlspec.contract.graph import Address
from mlspec.diagnostics import MlspecError
from mlspec.providers.azure.pipeline_runs import run_pipeline
from tests.providers.azure_fake import FakeAzure
from tests.providers.test_azure_end_to_end import VARIABLES

PIPELINE = "mlspec-live"


@pytest.fixture
def deployed(live_project: Path, fake_azure: FakeAzure) -> Path:
    fake_azure.lake.add("mlspeclivelake/raw/mlspec-live/events")
    assert api_deploy.apply_environment(live_project, "live", VARIABLES).ok
    return live_project


def test_nothing_deployed_is_said_before_anything_runs(live_project: Path, fake_azure: FakeAzure) -> None:
    with pytest.raises(MlspecError) as refused:
        api.run(live_project, "live", VARIABLES)
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.code == "MLS818"
    assert "mlspec apply --env live" in (diagnostic.hint or "")
    assert fake_azure.requests == [], "not even a credential's first call"


def test_the_deployed_pipeline_is_started_and_polled_to_the_end(
    deployed: Path, fake_azure: FakeAzure
) -> None:
    record = api.run(deployed, "live", VARIABLES)
    assert record["status"] == "succeeded"
    [step] = record["steps"]
    assert (step["name"], step["engine"], step["pipeline"], step["status"], step["azure_status"]) == (
        "transforms",
        "synapse",
        PIPELINE,
        "succeeded",
        "Succeeded",
    )
    from mlspec.runtime.records import RunLayout

    assert RunLayout(deployed.parent).latest_record() == record, "`mlspec status` shows it"
    [start] = [r for r in fake_azure.sent("POST") if r.path.endswith("/createRun")]
    assert (start.host, start.path, start.api_version) == (
        "syn-mlspec-live.dev.azuresynapse.net",
        f"/pipelines/{PIPELINE}/createRun",
        "2020-12-01",
    )
    assert start.body == {
        "environment": "live",
        "run_date": dt.datetime.now(dt.UTC).date().isoformat(),
    }
    polls = [r for r in fake_azure.sent("GET") if r.path.startswith("/pipelineruns/")]
    assert len(polls) == 3  # Queued, InProgress, Succeeded
    assert not [r for r in fake_azure.requests if "queryActivityruns" in r.path], (
        "nothing failed, nothing to ask"
    )


def test_a_failed_run_names_the_activity_and_its_error(deployed: Path, fake_azure: FakeAzure) -> None:
    fake_azure.run_statuses = ["InProgress", "Failed"]
    fake_azure.failed_activities = [
        {
            "activityName": "daily_counts",
            "status": "Failed",
            "error": {"message": "AnalysisException:\n Path does not exist"},
        },
        {"activityName": "other", "status": "Succeeded"},
    ]
    record = api.run(deployed, "live", VARIABLES)
    assert record["status"] == "failed"
    assert record["error"]["step"] == "transforms"
    assert record["error"]["message"].splitlines() == [
        f"Synapse pipeline {PIPELINE} run {record['steps'][0]['azure_run_id']} failed",
        "daily_counts: AnalysisException: Path does not exist",
    ]
    assert record["error"]["rerun"] == "mlspec run --env live"


def test_the_cli_says_how_it_went_and_exits_accordingly(deployed: Path, fake_azure: FakeAzure) -> None:
    arguments = [
        "run",
        str(deployed),
        "--env",
        "live",
        "--var",
        f"subscription_id={VARIABLES['subscription_id']}",
    ]
    ok = CliRunner().invoke(cli, arguments)
    assert ok.exit_code == 0, ok.output
    assert f"synapse  Synapse pipeline {PIPELINE} run " in ok.stdout and ": Succeeded in " in ok.stdout
    status = CliRunner().invoke(cli, ["status", str(deployed)])
    assert "transforms  succeeded" in status.stdout and f"Synapse pipeline {PIPELINE} run" in status.stdout
    fake_azure.run_statuses = ["Failed"]
    failed = CliRunner().invoke(cli, arguments)
    assert failed.exit_code == 1
    assert "failed at step transforms:" in failed.stdout
    assert "Fix the cause, then rerun: mlspec run --env live" in failed.stdout


def test_a_local_runs_options_are_refused_not_ignored(deployed: Path, fake_azure: FakeAzure) -> None:
    from mlspec.runtime.chain import RunOptions

    with pytest.raises(MlspecError) as refused:
        api.run(deployed, "live", VARIABLES, lake="/tmp/nowhere", options=RunOptions(only="train"))
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.code == "MLS819"
    assert diagnostic.message.startswith("--only, --lake apply to a run on this machine")
    assert diagnostic.location is not None  # at the spec line of the environment's provider
    assert not fake_azure.pipeline_runs, "nothing was started"


def test_a_failed_activitys_secrets_stay_out_of_the_record(deployed: Path, fake_azure: FakeAzure) -> None:
    fake_azure.run_statuses = ["Failed"]
    sas = "https://lake.blob.core.windows.net/raw/x?sv=2022-11-02&sig=AbCdEf0123456789abcdefABCDEF%2B%3D"
    fake_azure.failed_activities = [
        {"activityName": "daily_counts", "status": "Failed", "error": {"message": f"403 on {sas}"}}
    ]
    record = api.run(deployed, "live", VARIABLES)
    printed = str(record)
    assert "AbCdEf0123456789" not in printed
    assert "daily_counts: 403 on https://lake.blob.core.windows.net/raw/x" in record["error"]["message"]


def test_azure_refusing_the_run_is_recorded_as_failed_not_running(
    deployed: Path, fake_azure: FakeAzure
) -> None:
    from mlspec.runtime.records import RunLayout

    fake_azure.fail_next("POST", r"/createRun$", 403, "Unauthorized", "no Synapse Credential User role")
    with pytest.raises(MlspecError) as refused:
        api.run(deployed, "live", VARIABLES)
    assert "403 on starting a run" in refused.value.diagnostics[0].message
    record = RunLayout(deployed.parent).latest_record()
    assert record is not None and record["status"] == "failed"
    assert "no Synapse Credential User role" in record["error"]["message"]
    assert record["finished"] is not None


def test_sigterm_during_a_run_in_azure_cancels_it(deployed: Path, fake_azure: FakeAzure) -> None:
    import os
    import signal

    from mlspec.runtime.records import RunLayout

    fake_azure.run_statuses = ["InProgress"] * 1000  # a long run
    polls = 0
    original = fake_azure._pipeline_run

    def poll(method: str, match: Any, body: Any) -> Any:
        nonlocal polls
        if match["run"] and not match["cancel"]:
            polls += 1
            if polls == 2:
                os.kill(os.getpid(), signal.SIGTERM)  # what a cancelled CI job sends
        return original(method, match, body)

    fake_azure._pipeline_run = poll  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        api.run(deployed, "live", VARIABLES)
    [run] = fake_azure.pipeline_runs.values()
    assert run.get("cancelled") is True
    record = RunLayout(deployed.parent).latest_record()
    assert record is not None and record["status"] == "interrupted"
    assert record["error"]["message"] == "interrupted: the Synapse run was cancelled"


def test_an_interrupt_cancels_the_run_in_synapse(deployed: Path, fake_azure: FakeAzure) -> None:
    from mlspec.plan.target import Target

    desired = api_deploy.load_desired(deployed, "live", VARIABLES)
    provider: Any = Target.of(desired).provider_instance()

    def interrupt(line: str) -> None:
        if "InProgress" in line:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_pipeline(
            provider.session,
            Address("synapse", "pipeline", PIPELINE),
            PIPELINE,
            {},
            say=interrupt,
            poll_seconds=0,
        )
    [run] = fake_azure.pipeline_runs.values()
    assert run.get("cancelled") is True
    [cancel] = [r for r in fake_azure.sent("POST") if r.path.endswith("/cancel")]
    assert cancel.query.get("isRecursive") == "true"
