"""Address conventions, in one place so renderers can depend on each other's resources without
knowing each other: a renderer asks here for ``aml_pipeline(model)``, never builds the string itself."""

from __future__ import annotations

from mlspec.contract.graph import Address


def synapse_notebook(transform: str) -> Address:
    return Address("synapse", "notebook", transform)


def synapse_pipeline(project: str) -> Address:
    """The Synapse pipeline running every transform; its name is the pipeline's name in the workspace."""
    return Address("synapse", "pipeline", project)


def aml_environment(model: str) -> Address:
    return Address("aml", "environment", model)


def aml_compute(cluster: str) -> Address:
    return Address("aml", "compute", cluster)


def aml_component(step: str) -> Address:
    return Address("aml", "component", step)


FEATURE_REFRESH_STEP = "refresh_features"
"""The Azure ML step that runs the Synapse pipeline before training when the features are stale: its
component is ``aml_component(FEATURE_REFRESH_STEP)``, and its identity needs Synapse roles (access)."""


def aml_pipeline(model: str) -> Address:
    return Address("aml", "pipeline", model)


def aml_schedule(name: str) -> Address:
    return Address("aml", "schedule", name)


def aml_monitor(model: str) -> Address:
    return Address("aml", "monitor", model)


def aml_monitoring_schedule(model: str) -> Address:
    """The schedule of the monitoring job, which writes the table the statistic alerts query."""
    return aml_schedule(f"{model}-monitoring")


def acr_task(endpoint: str) -> Address:
    return Address("acr", "task", endpoint)


def aks(kind: str, name: str) -> Address:
    """Kubernetes objects: ``aks.deployment.<endpoint>``, ``aks.service.<endpoint>``, ..."""
    return Address("aks", kind, name)


def monitor_action_group(name: str) -> Address:
    return Address("monitor", "action_group", name)


def monitor_metric_alert(name: str) -> Address:
    return Address("monitor", "metric_alert", name)


def monitor_log_alert(name: str) -> Address:
    return Address("monitor", "log_alert", name)


def access_role_assignment(name: str) -> Address:
    return Address("access", "role_assignment", name)


def access_synapse_role_assignment(name: str) -> Address:
    """A Synapse RBAC role assignment (the workspace's data plane; ARM cannot create these)."""
    return Address("access", "synapse_role_assignment", name)


def access_identity(name: str) -> Address:
    return Address("access", "identity", name)


def powerbi_report(name: str) -> Address:
    """``powerbi.report.<name>``, spaces as ``_`` (addresses hold no spaces)."""
    return Address("powerbi", "report", name.replace(" ", "_"))


# The monitoring template's supporting resources. For these the address name *is* the Azure resource
# name, so another renderer (access grants roles on them) can name the resource without knowing monitor.


def monitor_retrain_trigger(project: str) -> Address:
    """The Logic App (``Microsoft.Logic/workflows``) an alert with ``action: retrain`` calls."""
    return Address("monitor", "retrain_trigger", f"{project}-retrain")


def monitor_log_table(table: str) -> Address:
    """A custom Log Analytics table (``<Name>_CL``) the serving and monitoring jobs write."""
    return Address("monitor", "log_table", table)


def monitor_data_collection_endpoint(project: str) -> Address:
    """The data collection endpoint the Logs Ingestion API is called on."""
    return Address("monitor", "data_collection_endpoint", f"{project}-mlspec")


def monitor_data_collection_rule(project: str) -> Address:
    """The data collection rule routing ingested rows into the custom tables."""
    return Address("monitor", "data_collection_rule", f"{project}-mlspec")
