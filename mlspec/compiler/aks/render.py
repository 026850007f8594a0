"""``render(ctx, out)``: the deployment section as Kubernetes manifests, the image build, their resources."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mlspec.compiler.addresses import access_identity, acr_task, aks, aml_pipeline
from mlspec.compiler.aks import objects, pod
from mlspec.compiler.aks.conventions import (
    PRE_EXISTING_NAMESPACES,
    SECRETS_MOUNT,
    client_id,
    common_labels,
    is_marker,
    output_marker,
    registry_host,
    tenant_id,
)
from mlspec.compiler.aks.image import ImageBuild, NoBaseImage, build_image
from mlspec.compiler.aks.locked_requirements import serving_requirements
from mlspec.compiler.aks.rollout import RolloutPlan, Workload, model_env, plan_rollout
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.contract.graph import Address, Resource, canonical_json, content_hash
from mlspec.diagnostics import Diagnostic, SpecPath, has_errors
from mlspec.spec_schema.checks.context import CheckContext
from mlspec.spec_schema.checks.deployment import serving_inputs
from mlspec.spec_schema.models import Deployment, MLProject, ModelSpec
from mlspec.spec_schema.serving_image.base_images import supported_pythons
from mlspec.spec_schema.serving_image.requirements import UnsafeValue
from mlspec.spec_schema.serving_secrets import mount_problem, mounted_secrets, scoring_key_secret

BAKED_SETTINGS = ("MLSPEC_AUTH", "MLSPEC_FEATURES", "MLSPEC_TASK", "MODEL_NAME", "PORT")
"""ConfigMap settings also written into score.py as defaults (for local runs). Only values that are the
same in every environment, so one image can be promoted from dev to prod unchanged; never the model
version, which each rollout slot pins in its own pod template (a local run names the version itself)."""


@dataclass
class KeyVaultMount:
    """What the SecretProviderClass mounts: one vault, its objects, and the files they become."""

    vault: str
    objects: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)


def render(ctx: RenderContext, out: ArtifactSet) -> None:
    """Add ``aks/*.yaml``, ``acr/*`` and their resources to ``out`` (nothing without a deployment)."""
    d = ctx.model.deployment
    if d is None:
        return
    problems = _input_problems(ctx, d)
    out.diagnostics.extend(problems)
    if has_errors(problems):
        return
    registry = registry_host(ctx.model)
    model = ctx.model.model
    if registry is None or model is None:
        return  # reported by the spec checks (MLS316) and _input_problems
    mount, vault_problems = _key_vault_mount(ctx, d)
    if vault_problems:
        out.diagnostics.extend(vault_problems)
        return
    plan = plan_rollout(d)
    unpinned = _unpinned_without_a_producer(ctx, plan, model)
    if unpinned:
        out.diagnostics.extend(unpinned)
        return
    settings = config_settings(ctx, d, model, mount)
    try:
        requirements = serving_requirements(ctx, model.training.environment, d.auth)
        image = build_image(
            project=ctx.project,
            endpoint=d.endpoint,
            registry=registry,
            python_version=model.training.environment.python,
            port=d.port,
            requirements=requirements.text,
            locked=requirements.locked,
            defaults={k: settings[k] for k in BAKED_SETTINGS if k in settings},
        )
    except UnsafeValue as exc:
        out.diagnostics.append(_unsafe(ctx, model, str(exc), no_base=isinstance(exc, NoBaseImage)))
        return
    out.diagnostics.extend(requirements.diagnostics)
    _add_image(ctx, out, d, image)
    _add_cluster_objects(ctx, out, d, plan, model, image=image, settings=settings, mount=mount)


def _input_problems(ctx: RenderContext, d: Deployment) -> list[Diagnostic]:
    """The spec checks' errors about the serving inputs (build refuses on them before rendering, so
    these are defence in depth for a caller that renders an unchecked spec); their warnings are the
    spec checks' alone."""
    return [found for found in serving_inputs(CheckContext(ctx.spec, ctx.model), d) if found.is_error]


def _unsafe(ctx: RenderContext, model: ModelSpec, value: str, *, no_base: bool = False) -> Diagnostic:
    env = model.training.environment
    base: SpecPath = ("model", "training", "environment")
    if value in env.pip:
        return ctx.error(
            "MLS638",
            "this pip entry cannot go into the image's requirements.txt",
            (*base, "pip", env.pip.index(value)),
            "a package name with optional extras, versions and markers; no options, URLs or line breaks",
        )
    if value == env.python and no_base:
        return ctx.error(
            "MLS638",
            f"the scoring image has no pinned base image for Python {value}",
            (*base, "python"),
            f"the serving image is built on Python {supported_pythons()} (Microsoft's curated images, by digest)",
        )
    if value == env.python:
        return ctx.error(
            "MLS638", "not a Python version the image can be based on", (*base, "python"), 'e.g. "3.11"'
        )
    return ctx.error("MLS638", "a name cannot be put into the image build safely", ("deployment", "endpoint"))


def _key_vault_mount(ctx: RenderContext, d: Deployment) -> tuple[KeyVaultMount | None, list[Diagnostic]]:
    """The deployment's secrets (and the endpoint key with ``auth: key``) from one Key Vault.

    The spec checks refuse what one SecretProviderClass cannot mount (MLS316, MLS634) before a build
    renders; the errors here are defence in depth for a caller that renders an unchecked spec."""
    if d.auth == "key" and ctx.model.workspace.key_vault is None:
        return None, [
            ctx.error(
                "MLS634",
                "auth: key needs workspace.key_vault: the endpoint key is read from it, not the spec",
                ("deployment", "auth"),
                f"set workspace.key_vault and store the key in it as {scoring_key_secret(d.endpoint)!r}",
            )
        ]
    wanted = mounted_secrets(ctx.model)
    if not wanted:
        return None, []
    problem = mount_problem(wanted)
    if problem is not None:
        return None, [ctx.error("MLS634", problem.message, problem.path, problem.hint)]
    mount = KeyVaultMount(wanted[0].vault)
    for secret in wanted:
        if secret.local:
            mount.files[secret.local] = f"{SECRETS_MOUNT}/{secret.name}"
    mount.objects = list({s.name: s.version for s in wanted}.items())
    return mount, []


def mlflow_tracking_uri(model: MLProject) -> str | None:
    ws = model.workspace
    if ws.machine_learning is None:
        return None
    return (
        f"azureml://{ws.location}.api.azureml.ms/mlflow/v1.0/subscriptions/{ws.subscription_id}"
        f"/resourceGroups/{ws.resource_group}/providers/Microsoft.MachineLearningServices/workspaces/{ws.machine_learning}"
    )


def config_settings(
    ctx: RenderContext, d: Deployment, model: ModelSpec, mount: KeyVaultMount | None
) -> dict[str, str]:
    """The ConfigMap: runtime settings only, never a secret value (secrets are mounted files), and
    nothing a rollout slot serves differently (the model version is in each pod template)."""
    data = {
        "HOST": "0.0.0.0",
        "PORT": str(d.port),
        "LOG_LEVEL": "INFO",
        "MLSPEC_PROJECT": ctx.project,
        "MLSPEC_ENDPOINT": d.endpoint,
        "MLSPEC_ENVIRONMENT": ctx.environment,
        "MODEL_NAME": model.name,
        "MLSPEC_TASK": model.task,
        "MLSPEC_FEATURES": json.dumps(list(model.training.features), ensure_ascii=False),
        "MLSPEC_AUTH": d.auth,
    }
    tracking = mlflow_tracking_uri(ctx.model)
    if tracking is not None:
        data["MLFLOW_TRACKING_URI"] = tracking
    if d.auth == "key":
        data["SCORING_KEY_FILE"] = f"{SECRETS_MOUNT}/{scoring_key_secret(d.endpoint)}"
    else:
        data["ENTRA_TENANT_ID"] = tenant_id(ctx.model)
        data["ENTRA_AUDIENCE"] = client_id(ctx.model, d.endpoint)
    if mount is not None and mount.files:
        data["MLSPEC_SECRET_FILES"] = json.dumps(mount.files, sort_keys=True, ensure_ascii=False)
    if d.log_predictions is not None:
        data["PREDICTION_LOG_PATH"] = d.log_predictions.path
        data["PREDICTION_LOG_SAMPLE_RATE"] = repr(float(d.log_predictions.sample_rate))
    if ctx.model.workspace.application_insights is not None:
        # Not a secret (it names where telemetry goes; the pods sign in with Entra ID to send it), and
        # known once the component exists: the target reports it (mlspec.contract.outputs).
        data["APPLICATIONINSIGHTS_CONNECTION_STRING"] = output_marker(
            "workspace", "application_insights_connection_string"
        )
    return data


def _add_image(ctx: RenderContext, out: ArtifactSet, d: Deployment, image: ImageBuild) -> None:
    files = [
        out.add_yaml("acr/task.yaml", image.task()),
        out.add_text("acr/Dockerfile", image.dockerfile),
        out.add_text("acr/score.py", image.score),
        out.add_text("acr/gunicorn.conf.py", image.server_config),
        out.add_text("acr/requirements.txt", image.requirements),
    ]
    out.add_resource(
        Resource(
            acr_task(d.endpoint),
            "acr:task",
            files,
            source=("deployment",),
            description=f"builds and pushes {image.reference}",
        )
    )


@dataclass
class _Cluster:
    """What the cluster objects share while they are written."""

    ctx: RenderContext
    out: ArtifactSet
    d: Deployment
    labels: dict[str, str]
    base: list[Address] = field(default_factory=list)
    """Everything depends on these (the namespace, when mlspec creates it)."""

    def add(
        self,
        kind: str,
        path: str,
        manifest: dict[str, Any],
        source: SpecPath,
        *,
        depends_on: list[Address] | None = None,
        immutable: list[str] | None = None,
    ) -> Address:
        """Write one manifest to its own file and register it as ``aks.<kind>.<metadata.name>``."""
        address = aks(kind, manifest["metadata"]["name"])
        file = self.out.add_yaml(path, manifest)
        self.out.add_resource(
            Resource(
                address,
                f"kubernetes:{manifest['apiVersion']}/{manifest['kind']}",
                [file],
                depends_on=sorted({*self.base, *(depends_on or [])}),
                immutable=list(immutable or []),
                source=source,
                description=_describe(manifest),
            )
        )
        return address


def _add_cluster_objects(
    ctx: RenderContext,
    out: ArtifactSet,
    d: Deployment,
    plan: RolloutPlan,
    model: ModelSpec,
    *,
    image: ImageBuild,
    settings: dict[str, str],
    mount: KeyVaultMount | None,
) -> None:
    cluster = _Cluster(ctx, out, d, common_labels(ctx.project, d.endpoint, ctx.environment))
    if d.namespace not in PRE_EXISTING_NAMESPACES:
        namespace = objects.namespace(d.namespace, cluster.labels)
        cluster.base = [
            cluster.add("namespace", "aks/namespace.yaml", namespace, ("deployment", "namespace"))
        ]
    prerequisites = _add_pod_prerequisites(cluster, settings, mount)
    config_hash = content_hash([canonical_json(settings)]).removeprefix("sha256:")[:16]
    spc = d.endpoint if mount is not None else None
    rolled_out: list[Address] = []
    for workload in plan.apply_order():
        version = served_version(workload, model)
        manifest = pod.deployment(
            d,
            workload,
            cluster.labels,
            image=image.deployed_reference,
            secret_provider_class=spc,
            config_hash=config_hash,
            env=model_env(model.name, version),
        )
        # An unpinned slot serves what the training pipeline registered: apply resolves that first.
        producer = [aml_pipeline(model.name)] if is_marker(version) else []
        rolled_out.append(
            cluster.add(
                "deployment",
                workload.file,
                manifest,
                workload.source,
                depends_on=[*prerequisites, *producer, *rolled_out],
                immutable=["spec.selector"],
            )
        )
    _add_traffic_objects(cluster, plan, rolled_out)


def served_version(workload: Workload, model: ModelSpec) -> str:
    """The model version a slot's pods load: the spec's pin, else the marker of the version the training
    pipeline last registered past its gate (apply writes the number)."""
    if workload.model_version is not None:
        return str(workload.model_version)
    return output_marker(str(aml_pipeline(model.name)), "model_version")


def _unpinned_without_a_producer(ctx: RenderContext, plan: RolloutPlan, model: ModelSpec) -> list[Diagnostic]:
    """A slot without a pinned version needs the training pipeline of this build to name one."""
    if ctx.will_produce(aml_pipeline(model.name)):
        return []
    unpinned: dict[SpecPath, list[str]] = {}
    for workload in plan.workloads:
        if workload.model_version is None:
            unpinned.setdefault(workload.version_source, []).append(workload.name)
    return [
        ctx.error(
            "MLS638",
            f"{', '.join(names)} would serve the version the training pipeline registers, and this build "
            f"renders no training pipeline for {model.name!r}",
            path,
            f"pin the version: {'.'.join(str(p) for p in path)}: <a registered version of {model.name}>",
        )
        for path, names in unpinned.items()
    ]


def _add_pod_prerequisites(
    cluster: _Cluster, settings: dict[str, str], mount: KeyVaultMount | None
) -> list[Address]:
    """Identity, configuration, secrets and network policies: in place before any pod starts."""
    ctx, d, labels = cluster.ctx, cluster.d, cluster.labels
    identity = client_id(ctx.model, d.endpoint)
    from_access = [access_identity(d.endpoint)] if is_marker(identity) else []
    # A named identity of the spec's gets its federated credential from the access template (at the
    # same address): the service account waits for it, or the pods' token exchange fails until then.
    federated = [access_identity(d.endpoint)] if ctx.will_produce(access_identity(d.endpoint)) else []
    account = objects.service_account(d, labels, identity, ctx.model.workspace.tenant_id)
    config = objects.config_map(d, labels, settings)
    config_deps = from_access if any(is_marker(v) for v in settings.values()) else []
    ready = [
        acr_task(d.endpoint),
        cluster.add(
            "service_account",
            "aks/serviceaccount.yaml",
            account,
            ("deployment", "identity"),
            depends_on=sorted({*from_access, *federated}),
        ),
        cluster.add("config_map", "aks/configmap.yaml", config, ("deployment",), depends_on=config_deps),
    ]
    if mount is not None:
        spc = objects.secret_provider_class(
            d,
            labels,
            key_vault=mount.vault,
            client_id=identity,
            tenant_id=tenant_id(ctx.model),
            objects=mount.objects,
        )
        source: SpecPath = ("deployment", "secrets") if d.secrets else ("deployment", "auth")
        ready.append(
            cluster.add(
                "secret_provider_class", "aks/secretproviderclass.yaml", spc, source, depends_on=from_access
            )
        )
    deny = objects.default_deny_policy(d, labels)
    allow = objects.allow_policy(d, labels)
    ready.append(
        cluster.add("network_policy", "aks/networkpolicy-default-deny.yaml", deny, ("deployment", "network"))
    )
    ready.append(
        cluster.add(
            "network_policy", "aks/networkpolicy.yaml", allow, ("deployment", "network", "allow_from")
        )
    )
    return ready


def _add_traffic_objects(cluster: _Cluster, plan: RolloutPlan, deployments: list[Address]) -> None:
    d, labels = cluster.d, cluster.labels
    service = objects.service(d, labels, plan)
    cluster.add("service", "aks/service.yaml", service, ("deployment", "network"), depends_on=deployments)
    if plan.preview_selector is not None:
        preview = objects.preview_service(d, labels, plan.preview_selector)
        cluster.add(
            "service", "aks/service-preview.yaml", preview, ("deployment", "rollout"), depends_on=deployments
        )
    hpa = objects.horizontal_pod_autoscaler(d, labels, plan)
    primary = aks("deployment", plan.primary.name)
    cluster.add("hpa", "aks/hpa.yaml", hpa, ("deployment", "replicas"), depends_on=[primary])
    pdb = objects.pod_disruption_budget(d, labels, plan)
    cluster.add("pdb", "aks/pdb.yaml", pdb, ("deployment", "replicas"))


def _describe(manifest: dict[str, Any]) -> str:
    meta = manifest["metadata"]
    where = f"{meta['namespace']}/" if "namespace" in meta else ""
    return f"{manifest['kind']} {where}{meta['name']}"
