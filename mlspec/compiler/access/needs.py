"""The roles the rendered artifacts' own identities need to run (see :mod:`.identities`).

One function per service, each named by that service's registry entry (``Service.roles`` in
:mod:`mlspec.compiler.services`); :func:`implied` is their union, which the access template renders.
Whether another service creates a resource to grant on is asked with ``ctx.will_produce``.

- the Azure ML workspace reads the training data's container (and the prediction log's, for its model
  monitor); the compute cluster reads the training data and, running the monitoring job, the prediction
  log, and publishes the job's rows through the monitoring template's data collection rule;
- the retrain trigger (when the monitoring template has one) submits Azure ML runs;
- Synapse reads and writes the containers of every source and transform output;
- AKS's kubelet pulls the scoring image from the registry;
- the scoring pods' workload identity (created here, or given with its name or object id) reads its Key
  Vaults, loads the model (Reader on the Azure ML workspace), writes the prediction log to its lake
  container and sends request telemetry to Application Insights.
"""

from __future__ import annotations

from typing import Any

from mlspec.compiler import addresses
from mlspec.compiler.access import identities, scopes
from mlspec.compiler.access.assignment import Assignment
from mlspec.compiler.access.identities import Principal
from mlspec.compiler.access.scopes import Scope, ScopeError
from mlspec.compiler.artifacts import RenderContext
from mlspec.diagnostics import SpecPath
from mlspec.spec_schema.checks.formats import ABFSS
from mlspec.spec_schema.grant_scopes import dataset_url
from mlspec.spec_schema.roles import role_definition_guid

MODEL_READER_ROLE = "Reader"
"""What the scoring pods need on the Azure ML workspace to load a registered MLflow model (see serving_roles)."""


def _assignment(
    principal: Principal, role: str, scope: Scope, source: SpecPath, why: str, **extra: Any
) -> Assignment:
    guid = role_definition_guid(role)
    assert guid is not None, role
    return Assignment(principal, role, guid, scope, source, why, **extra)


def implied(ctx: RenderContext) -> list[Assignment]:
    """What every service's identities need (each registry entry's ``roles``), in registry order."""
    return _unique([found for service in ctx.services for found in service.roles(ctx)])


def azure_ml_roles(ctx: RenderContext) -> list[Assignment]:
    """The Azure ML service's: its workspace and compute read the training data, the workspace publishes
    monitoring rows, the retrain trigger submits runs to it."""
    model, workspace = ctx.model, ctx.model.workspace
    if model.model is None or workspace.machine_learning is None:
        return []
    aml = identities.aml_workspace(workspace.machine_learning)
    found: list[Assignment] = []
    url = dataset_url(model, model.model.training.data)
    try:
        if url is not None:
            scope = scopes.container_scope(url)
            source: SpecPath = ("model", "training", "data")
            cluster = model.model.training.compute.cluster
            compute = identities.aml_compute(workspace.machine_learning, cluster)
            # The cluster's system identity exists once the Azure ML service has created the cluster
            # (azureml/compute.yml, another deployment than this template): the plan orders that first.
            created = addresses.aml_compute(cluster)
            found.append(
                _assignment(
                    compute,
                    "Storage Blob Data Reader",
                    scope,
                    source,
                    "training jobs read the training data as the compute cluster's identity",
                    depends_on=[created] if ctx.will_produce(created) else [],
                )
            )
            found.append(
                _assignment(
                    aml,
                    "Storage Blob Data Reader",
                    scope,
                    source,
                    "Azure ML studio previews the training data",
                )
            )
    except ScopeError:
        pass  # the spec check reports the URL
    found += _monitoring_roles(ctx, aml)
    trigger = addresses.monitor_retrain_trigger(ctx.project)
    if ctx.will_produce(trigger):
        ml_type = scopes.WORKSPACE_RESOURCE_TYPES["machine_learning"]
        scope = scopes.resource_scope(ml_type, workspace.machine_learning, "machine_learning")
        retrain = model.monitoring is not None and model.monitoring.retrain is not None
        source = ("monitoring", "retrain") if retrain else ("monitoring",)
        why = "the retrain trigger reads the retrain schedule and submits pipeline runs"
        principal = identities.retrain_trigger(trigger.name)
        found.append(
            _assignment(principal, "AzureML Data Scientist", scope, source, why, depends_on=[trigger])
        )
    return found


def _monitoring_roles(ctx: RenderContext, aml: Principal) -> list[Assignment]:
    """The monitoring job (``azureml/monitoring-job.yml``) runs as the compute cluster's identity: it reads
    the prediction log and sends its rows through the data collection rule. Azure ML's own model monitor
    (``schedules/monitor.yml``) reads the prediction log as the workspace's identity."""
    model, workspace = ctx.model, ctx.model.workspace
    deployment = model.deployment
    if model.model is None or workspace.machine_learning is None:
        return []
    found: list[Assignment] = []
    cluster = model.model.training.compute.cluster
    compute = identities.aml_compute(workspace.machine_learning, cluster)
    created = addresses.aml_compute(cluster)
    waits = {"depends_on": [created] if ctx.will_produce(created) else []}
    job = addresses.aml_monitoring_schedule(model.model.name)
    log = deployment.log_predictions.path if deployment and deployment.log_predictions else None
    rule = addresses.monitor_data_collection_rule(ctx.project)
    if ctx.will_produce(job) and ctx.will_produce(rule):
        scope = scopes.resource_scope("Microsoft.Insights/dataCollectionRules", rule.name, "monitoring-dcr")
        why = "the monitoring job sends its rows through the data collection rule"
        found.append(
            _assignment(
                compute,
                "Monitoring Metrics Publisher",
                scope,
                ("monitoring",),
                why,
                depends_on=[rule, *waits["depends_on"]],
            )
        )
    try:
        if log is not None and ctx.will_produce(job):
            why = "the monitoring job reads the prediction log"
            found.append(
                _assignment(
                    compute,
                    "Storage Blob Data Reader",
                    scopes.container_scope(log),
                    ("deployment", "log_predictions", "path"),
                    why,
                    paths=_folder(log),
                    **waits,
                )
            )
        truth = model.monitoring.ground_truth if model.monitoring is not None else None
        if truth is not None and ctx.will_produce(job):
            why = "the monitoring job joins the ground truth to the prediction log"
            source: SpecPath = ("monitoring", "ground_truth")
            found.append(
                _assignment(
                    compute,
                    "Storage Blob Data Reader",
                    scopes.container_scope(truth),
                    source,
                    why,
                    paths=_folder(truth),
                    **waits,
                )
            )
        if log is not None and ctx.will_produce(addresses.aml_monitor(model.model.name)):
            why = "Azure ML's model monitor reads the prediction log"
            scope = scopes.container_scope(log)
            found.append(
                _assignment(
                    aml,
                    "Storage Blob Data Reader",
                    scope,
                    ("deployment", "log_predictions", "path"),
                    why,
                    paths=_folder(log),
                )
            )
    except ScopeError:
        pass  # the spec check reports the URL
    return found


def synapse_roles(ctx: RenderContext) -> list[Assignment]:
    """The Synapse workspace reads and writes the lake containers of sources and transforms."""
    model, workspace = ctx.model, ctx.model.workspace
    if not model.transforms or workspace.synapse is None:
        return []
    synapse = identities.synapse_workspace(workspace.synapse)
    found: list[Assignment] = []
    for label, url, source in _lake_urls(ctx):
        try:
            scope = scopes.container_scope(url)
        except ScopeError:
            continue
        why = f"Synapse reads and writes {label}"
        found.append(_assignment(synapse, "Storage Blob Data Contributor", scope, source, why))
    return found


def serving_roles(ctx: RenderContext) -> list[Assignment]:
    """AKS's kubelet pulls the scoring image; the pods' workload identity (created by the access template,
    or given with its name or object id) reads its Key Vaults and loads the model from the Azure ML workspace."""
    deployment, workspace = ctx.model.deployment, ctx.model.workspace
    if deployment is None:
        return []
    found: list[Assignment] = []
    if workspace.container_registry is not None and workspace.kubernetes is not None:
        registry_type = scopes.WORKSPACE_RESOURCE_TYPES["container_registry"]
        scope = scopes.resource_scope(registry_type, workspace.container_registry, "container_registry")
        kubelet = identities.aks_kubelet(workspace.kubernetes)
        found.append(
            _assignment(kubelet, "AcrPull", scope, ("deployment",), "AKS nodes pull the scoring image")
        )
    identity = identities.scoring_identity(ctx.model)
    if identity is None or identity.principal is None:
        return found  # given by client id only: MLS653 says what the spec must add
    pods = identity.principal
    waits = {"depends_on": identity.depends_on(), "arm_depends_on": identity.arm_depends_on()}
    if identity.created:
        source: SpecPath = ("deployment", "secrets") if deployment.secrets else ("deployment", "auth")
    else:
        source = ("deployment", "identity")
    why = "the scoring pods read their secrets through the Key Vault CSI driver"
    for vault in _vaults(ctx):
        scope = scopes.resource_scope(
            scopes.WORKSPACE_RESOURCE_TYPES["key_vault"], vault, f"key-vault-{vault}"
        )
        found.append(_assignment(pods, "Key Vault Secrets User", scope, source, why, **waits))
    if workspace.machine_learning is not None and ctx.model.model is not None:
        # The pods load `models:/<name>/<version>` through the workspace's MLflow registry at start-up;
        # without a role there every pod gets 403 and never becomes ready. What that needs is
        # `Microsoft.MachineLearningServices/workspaces/models/*/read` ("get a model version, get the URI
        # where its artifacts are stored", the MLflow operations table of "Manage access to Azure Machine
        # Learning workspaces", articles/machine-learning/how-to-assign-roles.md) and reading the run's
        # artifacts, all `*/read` actions: the built-in Reader holds exactly those, where AzureML Data
        # Scientist would also let the pods submit jobs, write models and deploy.
        scope = scopes.resource_scope(
            scopes.WORKSPACE_RESOURCE_TYPES["machine_learning"],
            workspace.machine_learning,
            "machine_learning",
        )
        why = "the scoring pods load the registered model from the Azure ML workspace"
        found.append(_assignment(pods, MODEL_READER_ROLE, scope, ("deployment",), why, **waits))
    log = deployment.log_predictions
    if log is not None and log.path.startswith("abfss://"):
        try:
            scope = scopes.container_scope(log.path)
        except ScopeError:
            pass  # the spec check reports the URL
        else:
            why = "the scoring pods write the prediction log to the lake"
            source = ("deployment", "log_predictions", "path")
            # Only below the log's folder, and never delete: the container may hold other data.
            found.append(
                _assignment(
                    pods,
                    "Storage Blob Data Contributor",
                    scope,
                    source,
                    why,
                    paths=_folder(log.path),
                    read_only=False,
                    **waits,
                )
            )
    if workspace.application_insights is not None:
        scope = scopes.resource_scope(
            scopes.WORKSPACE_RESOURCE_TYPES["application_insights"],
            workspace.application_insights,
            "application_insights",
        )
        why = "the scoring pods send request telemetry to Application Insights, signed in with Entra ID"
        found.append(_assignment(pods, "Monitoring Metrics Publisher", scope, ("deployment",), why, **waits))
    return found


def _lake_urls(ctx: RenderContext) -> list[tuple[str, str, SpecPath]]:
    """Every lake location Synapse reads (sources) or writes (transform outputs)."""
    model = ctx.model
    urls: list[tuple[str, str, SpecPath]] = [
        (f"source {n}", s.path, ("sources", n, "path")) for n, s in model.sources.items()
    ]
    urls += [
        (f"transform {n}", t.output.path, ("transforms", n, "output", "path"))
        for n, t in model.transforms.items()
    ]
    return [(label, url, source) for label, url, source in urls]


def _vaults(ctx: RenderContext) -> list[str]:
    """Key Vaults the scoring pods read: the mounted secrets' and the endpoint key's (``auth: key``)."""
    deployment, access = ctx.model.deployment, ctx.model.access
    if deployment is None:
        return []
    vaults = [access.secrets[s].key_vault for s in deployment.secrets if s in access.secrets]
    if deployment.auth == "key" and ctx.model.workspace.key_vault is not None:
        vaults.append(ctx.model.workspace.key_vault)
    return sorted(set(vaults))


def _unique(assignments: list[Assignment]) -> list[Assignment]:
    """One assignment per principal, role and scope (several sources in one container need one grant);
    the folders two path-limited ones allow are joined, and one for the whole container wins."""
    kept: dict[tuple[str, str, str], Assignment] = {}
    for a in assignments:
        first = kept.get(a.key)
        if first is None:
            kept[a.key] = a
        elif first.paths is not None:
            first.paths = None if a.paths is None else tuple(sorted({*first.paths, *a.paths}))
            if a.why not in first.why:
                first.why = f"{first.why}; {a.why}"
    return list(kept.values())


def _folder(url: str) -> tuple[str, ...] | None:
    """The container-relative folder of a lake URL, for a path-limited grant (``None`` at the root)."""
    match = ABFSS.fullmatch(url)
    folder = (match["path"] or "").strip("/") if match is not None else ""
    return (folder,) if folder else None
