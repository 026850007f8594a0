"""A stand-in renderer for the plan/apply tests: deterministic resources derived from the spec.

The real renderers (synapse, azureml, aks, monitor, access, powerbi) are written separately
and produce more resources over time; plan/apply must not depend on what they emit. This
renderer gives every test the same graph, driven by the YAML so that editing the spec edits
payloads: one notebook per transform (depending on its input transforms, with a code
attachment), a Synapse pipeline over all notebooks, an Azure ML component and pipeline, an AKS
deployment whose ``metadata.namespace`` is immutable and a service depending on it, one alert
per monitoring alert and one report per report.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from mlspec.api import deploy as api_deploy
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.build import payload
from mlspec.contract.graph import Address, Manifest, Resource, topological_order
from mlspec.diagnostics import MlspecError
from mlspec.plan.desired import Desired, desired_from_parts


def render(ctx: RenderContext, out: ArtifactSet) -> None:
    model = ctx.model
    notebooks: list[Address] = []
    for name, transform in sorted(model.transforms.items()):
        code = f"# notebook {name}\nspark.sql('''{transform.sql or ''}''')\n"
        data = {
            "name": name,
            "inputs": list(transform.inputs),
            "sql": transform.sql,
            "output": {"path": transform.output.path, "format": transform.output.format},
            "spark": {
                "executor_size": transform.spark.executor_size,
                "executors": transform.spark.executors.model_dump() if transform.spark.executors else None,
            },
        }
        primary = out.add_json(f"synapse/notebooks/{name}.json", data)
        script = out.add_text(f"synapse/notebooks/{name}.py", code)
        deps = [Address("synapse", "notebook", i) for i in transform.inputs if i in model.transforms]
        address = Address("synapse", "notebook", name)
        out.add_resource(Resource(address, "Microsoft.Synapse/workspaces/notebooks", [primary, script], deps))
        notebooks.append(address)
    if notebooks:
        path = out.add_json(
            "synapse/pipeline.json", {"activities": [{"notebook": a.name} for a in notebooks]}
        )
        out.add_resource(
            Resource(
                Address("synapse", "pipeline", ctx.project),
                "Microsoft.Synapse/workspaces/pipelines",
                [path],
                notebooks,
            )
        )
    if model.model is not None:
        training = model.model.training
        component = out.add_yaml(
            "azureml/components/train.yaml",
            {"name": "train", "estimator": training.estimator, "params": dict(training.params)},
        )
        out.add_resource(Resource(Address("aml", "component", "train"), "azureml:component", [component]))
        pipeline = out.add_yaml(
            "azureml/pipeline.yaml",
            {
                "name": model.model.name,
                "compute": training.compute.cluster,
                "features": list(training.features),
            },
        )
        out.add_resource(
            Resource(
                Address("aml", "pipeline", model.model.name),
                "azureml:pipeline_job",
                [pipeline],
                [Address("aml", "component", "train"), *notebooks[-1:]],
            )
        )
    if model.deployment is not None:
        d = model.deployment
        manifest = {
            "metadata": {"name": d.endpoint, "namespace": d.namespace},
            "spec": {
                "replicas": d.replicas.min,
                "resources": {"cpu": d.resources.cpu, "memory": d.resources.memory},
            },
        }
        path = out.add_json(f"aks/{d.endpoint}/deployment.json", manifest)
        deployment = Address("aks", "deployment", d.endpoint)
        out.add_resource(
            Resource(deployment, "kubernetes:apps/v1/Deployment", [path], immutable=["metadata.namespace"])
        )
        service = out.add_json(f"aks/{d.endpoint}/service.json", {"selector": d.endpoint, "port": d.port})
        out.add_resource(
            Resource(Address("aks", "service", d.endpoint), "kubernetes:v1/Service", [service], [deployment])
        )
    if model.monitoring is not None:
        alerts = [a.model_dump(mode="json", exclude_none=True) for a in model.monitoring.alerts]
        path = out.add_json("monitor/alerts.json", {"alerts": alerts})
        for index, alert in enumerate(model.monitoring.alerts):
            out.add_resource(
                Resource(
                    Address("monitor", "metric_alert", alert.name),
                    "Microsoft.Insights/metricAlerts",
                    [path],
                    pointer=f"/alerts/{index}",
                )
            )
    for report in model.reports:
        path = out.add_json(f"powerbi/{report.name}.json", report.model_dump(mode="json", exclude_none=True))
        out.add_resource(Resource(Address("powerbi", "report", report.name), "powerbi:report", [path]))


def load_desired(
    spec_path: Path | str,
    environment: str | None = None,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Desired:
    """Like :func:`mlspec.api.deploy.load_desired`, rendering with :func:`render` only
    (the real renderers and their cross-artifact checks are not involved)."""
    from mlspec import api
    from mlspec.api.deploy import project_dir_of
    from mlspec.spec_schema.resolve import LOCAL_ENVIRONMENT

    resolved = api.resolve(api.load(spec_path), environment, variables, environ)
    model = resolved.model
    if model is None or not resolved.ok:
        raise MlspecError(resolved.diagnostics)
    out = ArtifactSet()
    render(RenderContext(model, resolved.spec), out)
    env_name = resolved.spec.environment
    env = model.environments.get(env_name)
    manifest = Manifest(
        project=model.project.name,
        environment=env_name,
        spec_file=os.path.basename(resolved.spec.file),
        resources=topological_order(out.resources),
        provider="local" if env is None or env_name == LOCAL_ENVIRONMENT else env.provider,
        protect=bool(env and env.protect),
        # As the compiler's manifest: the embedded local environment's state is always a local file.
        state={"backend": "local"} if env_name == "local" else model.state.model_dump(exclude_none=True),
        moved=[(Address.parse(m.from_), Address.parse(m.to)) for m in model.moved],
    )
    payloads = {r.address: payload(out, r) for r in manifest.resources}
    artifacts = out.artifacts

    def read_file(path: str) -> bytes:
        return artifacts[path].content

    return desired_from_parts(manifest, payloads, read_file, project_dir_of(spec_path))


@contextmanager
def installed() -> Iterator[None]:
    """Plan and apply with this renderer instead of the real build, for the duration of the block."""

    original = api_deploy.load_desired
    api_deploy.load_desired = load_desired
    try:
        yield
    finally:
        api_deploy.load_desired = original


def install() -> None:
    """For a subprocess: plan and apply with this renderer from now on."""

    api_deploy.load_desired = load_desired
