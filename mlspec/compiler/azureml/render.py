"""Render the Azure ML artifacts of a spec's ``model`` (and its monitoring) into ``azureml/``.

Layout::

    azureml/environment.yml, conda.yml     the training environment
    azureml/compute.yml                    the compute cluster
    azureml/components/<step>.yml          prepare, train, evaluate, register (after refresh_features
                                           when the training data is a Synapse transform: :mod:`.refresh`)
    azureml/src/<step>/*.py                the code each component ships
    azureml/pipeline.yml                   the pipeline job binding the four steps
    azureml/schedules/retrain.yml          cron retrain (monitoring.retrain.schedule)
    azureml/schedules/monitor.yml          model monitor (drift / data-quality alerts)
    azureml/components/monitor.yml,        the monitoring job: mlspec's monitor program sending its rows
    azureml/src/monitor/*,                 to Log Analytics, where the statistic alerts read them
    azureml/monitoring-job.yml,            (:mod:`.monitoring_job`)
    azureml/schedules/monitoring.yml
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from mlspec.compiler import addresses
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.azureml import (
    components,
    environment,
    monitor_preprocess,
    monitoring_job,
    names,
    pipeline,
    refresh,
    schedules,
)
from mlspec.compiler.azureml.scripts import render_script
from mlspec.contract.graph import Address, Resource
from mlspec.spec_schema.checks.columns import GATE
from mlspec.spec_schema.models import Alert, ModelSpec, Monitoring
from mlspec.spec_schema.monitor_signals import watched_alerts

TEAM_FOLDER = "team"

# Where in the spec each resource comes from (error locations).
SOURCES: dict[str, tuple[str, ...]] = {
    "environment": ("model", "training", "environment"),
    "compute": ("model", "training", "compute"),
    "refresh_features": ("model", "training", "data"),
    "prepare": ("model", "training", "split"),
    "train": ("model", "training"),
    "evaluate": ("model", "evaluation"),
    "register": ("model", "evaluation", "gate"),
    "pipeline": ("model",),
    "retrain": ("monitoring", "retrain", "schedule"),
    "monitor": ("monitoring", "alerts"),
    "monitoring_job": ("monitoring", "alerts"),
}


@dataclass(frozen=True)
class TrainingData:
    url: str
    format: str
    csv_header: bool
    columns: list[str] | None


def provides(ctx: RenderContext) -> set[Address]:
    """Every address :func:`render` adds, from the spec: the retrain schedule and the monitor are asked
    about by the monitoring template."""
    model = ctx.model.model
    if model is None or _training_data(ctx, model) is None:
        return set()
    found = {
        addresses.aml_environment(model.name),
        addresses.aml_compute(model.training.compute.cluster),
        *(addresses.aml_component(name) for name in components.STEP_DEFINITIONS),
        addresses.aml_pipeline(model.name),
    }
    if refresh.feature_refresh(ctx) is not None:
        found.add(addresses.aml_component(refresh.STEP))
    if _retrain_cron(ctx) is not None:
        found.add(_retrain_address(model))
    if _monitor_inputs(ctx) is not None:
        found.add(addresses.aml_monitor(model.name))
        found.add(addresses.aml_component(monitor_preprocess.STEP))
    if monitoring_job.monitoring_job(ctx) is not None:
        found.add(addresses.aml_component(monitoring_job.STEP))
        found.add(addresses.aml_monitoring_schedule(model.name))
    return found


def render(ctx: RenderContext, out: ArtifactSet) -> None:
    """Add the Azure ML artifacts and resources to ``out``; spec problems go to ``out.diagnostics``."""
    model = ctx.model.model
    if model is None:
        return
    data = _training_data(ctx, model)
    if data is None:
        return  # an unknown training dataset: the spec checks have reported it
    tags = {names.inert(k): names.inert(v) for k, v in ctx.model.project.tags.items()}
    description = model.description or ctx.model.project.description

    job = monitoring_job.monitoring_job(ctx)
    features = refresh.feature_refresh(ctx)
    # Each package once (both ask for azure-identity), in the order first asked for.
    extra = dict(
        (
            *(monitoring_job.MONITORING_PACKAGES if job is not None else ()),
            *(refresh.PACKAGES if features is not None else ()),
        )
    )
    conda = environment.conda_file(model, needs_delta=data.format == "delta", extra=tuple(extra.items()))
    out.add_yaml(names.path("conda.yml"), conda)
    env = environment.environment(model, conda, "conda.yml", description)
    out.add_yaml(names.path("environment.yml"), env)
    _resource(
        out,
        addresses.aml_environment(model.name),
        "environment",
        ["environment.yml", "conda.yml"],
        origin="environment",
        immutable=("version",),
    )
    out.add_yaml(names.path("compute.yml"), environment.compute(model.training.compute, tags))
    cluster = addresses.aml_compute(model.training.compute.cluster)
    # An AmlCompute cluster's VM size and tier cannot change in place.
    _resource(out, cluster, "compute", ["compute.yml"], origin="compute", immutable=("type", "size", "tier"))

    shipped: list[str] = []
    registered: dict[str, str] = {}
    for name, step in refresh.steps(components.STEP_DEFINITIONS, features).items():
        sources = _step_sources(ctx, out, model, data, name, features)
        for file, text in sources.items():
            out.add_text(f"{names.source_folder(name)}/{file}", text)
        component = components.component(
            step,
            model.name,
            environment.environment_reference(env),
            {k: v.encode() for k, v in sources.items()},
            tags,
        )
        out.add_yaml(names.component_file(name), component)
        registered[name] = pipeline.registered_component(component["name"], component["version"])
        files = [f"components/{name}.yml", *(f"src/{name}/{f}" for f in sorted(sources))]
        shipped += files
        _resource(
            out,
            addresses.aml_component(name),
            "component",
            files,
            origin=name,
            immutable=("version",),
            depends_on=(addresses.aml_environment(model.name), *_runs_before(ctx, name)),
        )

    out.add_yaml(
        names.path("pipeline.yml"),
        pipeline.pipeline_job(ctx.project, model, data.url, description, tags, registered),
    )
    pipeline_files = ["pipeline.yml", *shipped]
    _resource(
        out,
        addresses.aml_pipeline(model.name),
        "pipeline_job",
        pipeline_files,
        origin="pipeline",
        depends_on=(*(addresses.aml_component(s) for s in registered), cluster),
    )
    _render_retrain(ctx, out, model, description, pipeline_files)
    _render_monitor(ctx, out, model, data)
    if job is not None:
        _render_monitoring_job(ctx, out, model, data, job, environment.environment_reference(env), tags)


def _resource(
    out: ArtifactSet,
    address: Address,
    kind: str,
    files: list[str],
    *,
    origin: str,
    immutable: tuple[str, ...] = (),
    depends_on: tuple[Address, ...] = (),
    reads: tuple[str, ...] = (),
) -> None:
    """A resource of provider type ``azureml:<kind>``; ``origin`` and each of ``reads`` (the origins
    of other files it ships) key :data:`SOURCES`."""
    out.add_resource(
        Resource(
            address=address,
            provider_type=f"azureml:{kind}",
            files=[names.path(f) for f in files],
            depends_on=list(depends_on),
            immutable=list(immutable),
            source=SOURCES[origin],
            reads=[SOURCES[other] for other in reads],
            description=f"Azure ML {kind.replace('_', ' ')} {address.name}",
        )
    )


def _training_data(ctx: RenderContext, model: ModelSpec) -> TrainingData | None:
    name = model.training.data
    if name in ctx.model.transforms:
        output = ctx.model.transforms[name].output
        columns = list(output.schema_) if output.schema_ else None
        return TrainingData(output.path, output.format, True, columns)
    if name in ctx.model.sources:
        source = ctx.model.sources[name]
        header = str(source.options.get("header", "false")).lower() == "true"
        columns = list(source.schema_) if source.schema_ else None
        return TrainingData(source.path, source.format, header, columns)
    return None


def _runs_before(ctx: RenderContext, step: str) -> tuple[Address, ...]:
    """What a step's component needs to exist before it can run: the Synapse pipeline it starts."""
    synapse = addresses.synapse_pipeline(ctx.project)
    return (synapse,) if step == refresh.STEP and ctx.will_produce(synapse) else ()


def _step_sources(
    ctx: RenderContext,
    out: ArtifactSet,
    model: ModelSpec,
    data: TrainingData,
    step: str,
    features_refresh: refresh.FeatureRefresh | None,
) -> dict[str, str]:
    """The files of one step's code folder: file name → text."""
    training = model.training
    features = list(dict.fromkeys(training.features))
    common: dict[str, Any] = {"target": training.target, "features": features, "task": model.task}
    if step == refresh.STEP and features_refresh is not None:
        return refresh.sources(features_refresh)
    if step == "prepare":
        return {
            "prepare.py": render_script(
                "prepare.py.j2",
                flags={"wait_for_features": features_refresh is not None},
                data_format=data.format,
                csv_header=data.csv_header,
                csv_columns=data.columns,
                **common,
            )
        }
    if step == "train":
        return _train_sources(ctx, out, model, common)
    if step == "evaluate":
        metrics: list[str] = list(dict.fromkeys(model.evaluation.metrics))
        gate = _gate(ctx, out, model)
        metrics += [m for m, _, _ in gate if m not in metrics]
        return {"evaluate.py": render_script("evaluate.py.j2", metrics=metrics, gate=gate, **common)}
    return {"register.py": render_script("register.py.j2", model_name=model.name)}


def _train_sources(
    ctx: RenderContext, out: ArtifactSet, model: ModelSpec, common: dict[str, Any]
) -> dict[str, str]:
    training = model.training
    if training.estimator is not None:
        return {
            "train.py": render_script(
                "train.py.j2",
                estimator=training.estimator,
                params=dict(training.params),
                model_name=model.name,
                **common,
            )
        }
    assert training.script is not None  # the model guarantees estimator xor script
    # A feature with a comma is refused by the spec checks (MLS628): scripts get --features comma-separated.
    team_name = PurePosixPath(training.script).name
    files = {
        "train.py": render_script(
            "train_script.py.j2",
            team_script=f"{TEAM_FOLDER}/{team_name}",
            target=common["target"],
            features=common["features"],
            params=dict(training.params),
        )
    }
    text = _read_team_script(ctx, out, training.script)
    if text is not None:
        files[f"{TEAM_FOLDER}/{team_name}"] = text
    return files


def _read_team_script(ctx: RenderContext, out: ArtifactSet, script: str) -> str | None:
    path = ("model", "training", "script")
    file = ctx.project_dir / script
    try:
        text = ctx.read_project_file(script)
    except (OSError, UnicodeDecodeError) as exc:
        reason = "it is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (exc.strerror or str(exc))
        out.diagnostics.append(
            ctx.error(
                "MLS626", f"cannot read training script {script!r}: {reason}", path, f"expected at {file}"
            )
        )
        return None
    return text  # whether it parses as Python is a spec check (MLS626, a warning)


def _gate(ctx: RenderContext, out: ArtifactSet, model: ModelSpec) -> list[tuple[str, str, float]]:
    gate: list[tuple[str, str, float]] = []
    for metric, condition in model.evaluation.gate.items():
        match = GATE.match(condition)
        if match is None:
            out.diagnostics.append(
                ctx.error(
                    "MLS628",
                    f"gate {condition!r} is not a comparison",
                    ("model", "evaluation", "gate", metric),
                    'e.g. ">= 0.80"',
                )
            )
            continue
        gate.append((metric, match[1], float(match[2])))
    return gate


def _render_retrain(
    ctx: RenderContext, out: ArtifactSet, model: ModelSpec, description: str | None, pipeline_files: list[str]
) -> None:
    cron = _retrain_cron(ctx)
    if cron is None:
        return
    data = schedules.retrain_schedule(model, cron, description)
    out.add_yaml(names.path("schedules", "retrain.yml"), data)
    _resource(
        out,
        _retrain_address(model),
        "schedule",
        ["schedules/retrain.yml", *pipeline_files],
        origin="retrain",
        depends_on=(addresses.aml_pipeline(model.name),),
        reads=("pipeline",),  # it embeds the pipeline job, so a change to the model changes it
    )


def _retrain_cron(ctx: RenderContext) -> str | None:
    """The retrain schedule's cron, when the spec asks for one."""
    monitoring = ctx.model.monitoring
    if monitoring is None or monitoring.retrain is None:
        return None
    return monitoring.retrain.schedule


def _render_monitoring_job(
    ctx: RenderContext,
    out: ArtifactSet,
    model: ModelSpec,
    data: TrainingData,
    job: monitoring_job.MonitoringJob,
    env: str,
    tags: dict[str, str],
) -> None:
    config = monitoring_job.monitor_config(ctx, model, job, (data.url, data.format))
    sources = {
        monitoring_job.PROGRAM: monitoring_job.program_text(),
        monitoring_job.CONFIG: monitoring_job.config_text(config),
    }
    for file, text in sources.items():
        out.add_text(f"{names.source_folder(monitoring_job.STEP)}/{file}", text)
    component = monitoring_job.component(model, job, env, sources, tags)
    out.add_yaml(names.component_file(monitoring_job.STEP), component)
    component_files = [
        f"components/{monitoring_job.STEP}.yml",
        *(f"src/{monitoring_job.STEP}/{f}" for f in sorted(sources)),
    ]
    _resource(
        out,
        addresses.aml_component(monitoring_job.STEP),
        "component",
        component_files,
        origin="monitoring_job",
        immutable=("version",),
        depends_on=(addresses.aml_environment(model.name),),
    )
    document = monitoring_job.job_document(
        ctx.project, model, job, data.url, monitoring_job.registered(component), tags
    )
    out.add_yaml(names.path("monitoring-job.yml"), document)
    out.add_yaml(names.path("schedules", "monitoring.yml"), monitoring_job.schedule_document(model, job))
    _resource(
        out,
        addresses.aml_monitoring_schedule(model.name),
        "schedule",
        ["schedules/monitoring.yml", "monitoring-job.yml"],
        origin="monitoring_job",
        # The job's markers name these: apply resolves them once they exist.
        depends_on=(
            addresses.aml_component(monitoring_job.STEP),
            addresses.aml_compute(job.cluster),
            addresses.aml_pipeline(model.name),
            addresses.monitor_data_collection_endpoint(ctx.project),
            addresses.monitor_data_collection_rule(ctx.project),
        ),
    )


def _retrain_address(model: ModelSpec) -> Address:
    return addresses.aml_schedule(names.retrain_schedule_name(model.name))


@dataclass(frozen=True)
class _MonitorInputs:
    alerts: list[tuple[int, Alert]]
    monitoring: Monitoring
    serving_log: str
    endpoint: str


def _monitor_inputs(ctx: RenderContext) -> _MonitorInputs | None:
    """What the model monitor watches, when there is one: drift or data-quality alerts over a serving log."""
    alerts = watched_alerts(ctx.model)
    monitoring, deployment = ctx.model.monitoring, ctx.model.deployment
    if not alerts or monitoring is None or deployment is None or deployment.log_predictions is None:
        return None  # without a serving log the spec checks warn that no monitor is rendered (MLS629)
    return _MonitorInputs(alerts, monitoring, deployment.log_predictions.path, deployment.endpoint)


def _render_monitor(ctx: RenderContext, out: ArtifactSet, model: ModelSpec, data: TrainingData) -> None:
    inputs = _monitor_inputs(ctx)
    if inputs is None:
        return
    tags = {names.inert(k): names.inert(v) for k, v in ctx.model.project.tags.items()}
    preprocess = monitor_preprocess.component(model, tags)
    out.add_text(
        f"{names.source_folder(monitor_preprocess.STEP)}/{monitor_preprocess.PROGRAM}",
        monitor_preprocess.program_text(),
    )
    out.add_yaml(names.component_file(monitor_preprocess.STEP), preprocess)
    _resource(
        out,
        addresses.aml_component(monitor_preprocess.STEP),
        "component",
        [
            f"components/{monitor_preprocess.STEP}.yml",
            f"src/{monitor_preprocess.STEP}/{monitor_preprocess.PROGRAM}",
        ],
        origin="monitor",
        immutable=("version",),
    )
    monitor = schedules.monitor_schedule(
        model,
        inputs.alerts,
        training_data_url=data.url,
        production_data_url=inputs.serving_log,
        endpoint=inputs.endpoint,
        emails=inputs.monitoring.notify.email,
        preprocessing=pipeline.registered_component(preprocess["name"], preprocess["version"]),
    )
    out.add_yaml(names.path("schedules", "monitor.yml"), monitor)
    _resource(
        out,
        addresses.aml_monitor(model.name),
        "monitor_schedule",
        ["schedules/monitor.yml"],
        origin="monitor",
        depends_on=(addresses.aml_component(monitor_preprocess.STEP),),
    )
