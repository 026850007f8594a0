"""The monitoring job: mlspec's monitor program as an Azure ML component, run on a schedule, whose
rows reach the Log Analytics table the statistic alerts query.

Azure ML's own model monitor (``schedules/monitor.yml``) shows drift in the studio but writes no
Log Analytics table, and nothing else computes model metrics against ground truth. So the program
``mlspec run`` runs locally (``mlspec/runtime/monitor_program.py``, one file on purpose) ships
unchanged as the component's code, with the spec's alerts in ``monitor.json`` beside it. The job
mounts the training data (the reference) and the prediction log the scoring pods write, computes
every statistic over each alert's window, and sends the rows to the data collection rule with the
Logs Ingestion API, signed in as the compute cluster's managed identity (the access renderer grants
it *Monitoring Metrics Publisher* on the rule and read access to both folders).

Values that exist only once other resources do are output markers, resolved at apply: the
ingestion endpoint and the rule's immutable id (the monitoring template's data collection endpoint
and rule), and the model version the pods serve (what the training pipeline last registered).

Layout::

    azureml/components/monitor.yml         the command component (registered, versioned by content)
    azureml/src/monitor/monitor_program.py the program, byte for byte mlspec's
    azureml/src/monitor/monitor.json       the alerts, features and windows of this spec
    azureml/monitoring-job.yml             a one-step pipeline job running the component
    azureml/schedules/monitoring.yml       the recurrence that creates that job
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from mlspec.compiler import addresses
from mlspec.compiler.artifacts import RenderContext
from mlspec.compiler.azureml.names import component_name, content_version, inert
from mlspec.compiler.azureml.pipeline import registered_component
from mlspec.contract.graph import Address
from mlspec.contract.outputs import output_marker
from mlspec.spec_schema.alert_windows import STATISTIC_SIGNALS
from mlspec.spec_schema.durations import duration_minutes
from mlspec.spec_schema.models import Alert, ModelSpec

STEP = "monitor"
PROGRAM = "monitor_program.py"
CONFIG = "monitor.json"
STREAM = "Custom-MlspecModelMonitoring_CL"
"""The data collection rule's stream into ``MlspecModelMonitoring_CL`` (``compiler/monitor/tables.py``)."""
MONITORING_PACKAGES = (
    ("scipy", "scipy>=1.11,<2"),
    ("numpy", "numpy>=1.26,<3"),
    ("azure-monitor-ingestion", "azure-monitor-ingestion>=1.0,<2"),
    ("azure-identity", "azure-identity>=1.15,<2"),
)
"""What the program needs beyond the training environment's pandas, pyarrow and deltalake."""


@dataclass(frozen=True)
class MonitoringJob:
    """What the job watches, when the spec has one to run."""

    alerts: tuple[Alert, ...]
    predictions_url: str
    cluster: str
    ground_truth_url: str | None = None
    """Where the team writes true outcomes (``monitoring.ground_truth``), joined for model metrics."""
    served_version: str | None = None
    """The version the primary slot is pinned to (``deployment.model_version``): the monitor measures the
    traffic of what is served. ``None``: it serves, and the job watches, what the pipeline registered."""


def monitoring_job(ctx: RenderContext) -> MonitoringJob | None:
    """The job's inputs: statistic alerts, a prediction log and a Log Analytics workspace to send to
    (with alerts and a workspace the monitoring template renders the data collection rule).

    ``None`` without them; a statistic alert without a prediction log is the spec checks' warning.
    Read from the spec alone: ``provides`` asks it too."""
    model = ctx.model
    spec = model.model
    monitoring, deployment = model.monitoring, model.deployment
    if spec is None or monitoring is None or deployment is None or deployment.log_predictions is None:
        return None
    if model.workspace.log_analytics is None:
        return None  # no table to send to: the monitoring template renders no data collection rule
    alerts = tuple(a for a in monitoring.alerts if a.signal in STATISTIC_SIGNALS)
    if not alerts:
        return None
    pinned = deployment.model_version
    return MonitoringJob(
        alerts,
        deployment.log_predictions.path,
        spec.training.compute.cluster,
        monitoring.ground_truth,
        str(pinned) if pinned is not None else None,
    )


@cache
def program_text() -> str:
    """The monitor program's source, read as a file (the compiler never imports the runtime)."""
    return resources.files("mlspec").joinpath("runtime", PROGRAM).read_text("utf-8")


def monitor_config(
    ctx: RenderContext, spec: ModelSpec, job: MonitoringJob, reference: tuple[str, str]
) -> dict[str, Any]:
    """``monitor.json``: the alerts, features and windows; the data's lake URLs for the reader (the job
    passes the folders Azure ML mounts them at, which replace them)."""
    return {
        "project": ctx.project,
        "environment": ctx.environment,
        "model": spec.name,
        "model_version": "",
        "task": spec.task,
        "target": spec.training.target,
        "features": list(spec.training.features),
        "reference": {"path": reference[0], "format": reference[1]},
        "predictions": {"path": job.predictions_url},
        "ground_truth": {"path": job.ground_truth_url} if job.ground_truth_url else None,
        "serving_log": None,
        "alerts": [_alert(a) for a in job.alerts],
        "now": None,
    }


def _alert(alert: Alert) -> dict[str, Any]:
    return {
        "name": alert.name,
        "signal": alert.signal,
        "operator": alert.operator,
        "threshold": alert.threshold,
        "window": alert.window,
        "severity": alert.severity,
        "action": alert.action,
        "features": list(alert.features) if alert.features is not None else None,
        "metric": alert.metric,
    }


def config_text(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def component(
    spec: ModelSpec, job: MonitoringJob, environment: str, sources: dict[str, str], tags: dict[str, str]
) -> dict[str, Any]:
    """The command component; every value on its command line is a declared input or output."""
    inputs: dict[str, Any] = {
        "reference": {"type": "uri_folder", "description": "The training data (the drift reference)."},
        "predictions": {"type": "uri_folder", "description": "The prediction log the scoring pods write."},
        "model_version": {"type": "string", "description": "The model version the pods serve."},
        "ingestion_endpoint": {
            "type": "string",
            "description": "The data collection endpoint's ingestion URL.",
        },
        "rule_id": {"type": "string", "description": "The data collection rule's immutable id."},
    }
    if job.ground_truth_url:
        inputs["ground_truth"] = {"type": "uri_folder", "description": "True outcomes of served requests."}
    command = " ".join(
        [
            f"python {PROGRAM} --config {CONFIG}",
            "--reference ${{inputs.reference}}",
            "--predictions ${{inputs.predictions}}",
            *(["--ground-truth ${{inputs.ground_truth}}"] if job.ground_truth_url else []),
            "--model-version ${{inputs.model_version}}",
            "--ingestion-endpoint ${{inputs.ingestion_endpoint}}",
            "--rule-id ${{inputs.rule_id}}",
            f"--stream {STREAM}",
            "--output ${{outputs.monitoring}}",
        ]
    )
    return {
        "$schema": "https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json",
        "type": "command",
        "name": component_name(spec.name, STEP),
        "version": content_version(environment, command, {k: sources[k] for k in sorted(sources)}),
        "display_name": f"{inert(spec.name)} monitor",
        "description": "Compute the monitoring statistics of the alerts and send them to Log Analytics.",
        "inputs": inputs,
        "outputs": {
            "monitoring": {
                "type": "uri_folder",
                "description": "The rows of this run and monitor-result.json.",
            }
        },
        "code": f"../src/{STEP}",
        "environment": environment,
        "command": command,
        "tags": tags,
    }


def marker(address: Address, attribute: str) -> str:
    return output_marker(str(address), attribute)


def job_document(
    project: str,
    spec: ModelSpec,
    job: MonitoringJob,
    training_url: str,
    registered: str,
    tags: dict[str, str],
) -> dict[str, Any]:
    """The one-step pipeline job the schedule creates."""
    return {
        "$schema": "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
        "type": "pipeline",
        "display_name": f"{inert(spec.name)} monitoring",
        "experiment_name": f"{project}-monitoring",
        "tags": tags,
        "settings": {"default_compute": f"azureml:{job.cluster}", "continue_on_step_failure": False},
        # The compute cluster's managed identity reads the lake and sends the rows.
        "identity": {"type": "managed"},
        "inputs": {
            "reference": {"type": "uri_folder", "path": training_url},
            "predictions": {"type": "uri_folder", "path": job.predictions_url},
            "model_version": job.served_version or marker(addresses.aml_pipeline(spec.name), "model_version"),
            "ingestion_endpoint": marker(
                addresses.monitor_data_collection_endpoint(project), "logs_ingestion_endpoint"
            ),
            "rule_id": marker(addresses.monitor_data_collection_rule(project), "immutable_id"),
            **(
                {"ground_truth": {"type": "uri_folder", "path": job.ground_truth_url}}
                if job.ground_truth_url
                else {}
            ),
        },
        "outputs": {"monitoring": {"type": "uri_folder"}},
        "jobs": {
            STEP: {
                "type": "command",
                "component": registered,
                "inputs": {name: f"${{{{parent.inputs.{name}}}}}" for name in _job_inputs(job)},
                "outputs": {"monitoring": "${{parent.outputs.monitoring}}"},
            }
        },
    }


def _job_inputs(job: MonitoringJob) -> tuple[str, ...]:
    names = ("reference", "predictions", "model_version", "ingestion_endpoint", "rule_id")
    return (*names, "ground_truth") if job.ground_truth_url else names


def schedule_document(spec: ModelSpec, job: MonitoringJob) -> dict[str, Any]:
    """Run the job at least as often as the shortest statistic window, at most hourly, at least daily."""
    shortest = min(duration_minutes(a.window) for a in job.alerts)
    hours = max(1, min(24, shortest // 60))
    trigger: dict[str, Any] = (
        {"type": "recurrence", "frequency": "day", "interval": 1, "time_zone": "UTC"}
        if hours == 24
        else {"type": "recurrence", "frequency": "hour", "interval": hours, "time_zone": "UTC"}
    )
    return {
        "$schema": "https://azuremlschemas.azureedge.net/latest/schedule.schema.json",
        "name": f"{spec.name}-monitoring",
        "display_name": f"{inert(spec.name)} monitoring",
        "trigger": trigger,
        "create_job": "../monitoring-job.yml",
    }


def registered(document: dict[str, Any]) -> str:
    return registered_component(document["name"], document["version"])
