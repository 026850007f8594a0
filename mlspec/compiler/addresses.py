"""Address conventions, in one place so renderers can depend on each other's resources without
knowing each other: a renderer asks here for ``aml_pipeline(model)``, never builds the string itself."""

from __future__ import annotations

from mlspec.compiler.graph import Address


def synapse_notebook(transform: str) -> Address:
    return Address("synapse", "notebook", transform)


def synapse_pipeline(project: str) -> Address:
    return Address("synapse", "pipeline", project)


def aml_environment(model: str) -> Address:
    return Address("aml", "environment", model)


def aml_compute(cluster: str) -> Address:
    return Address("aml", "compute", cluster)


def aml_component(step: str) -> Address:
    return Address("aml", "component", step)


def aml_pipeline(model: str) -> Address:
    return Address("aml", "pipeline", model)


def aml_schedule(name: str) -> Address:
    return Address("aml", "schedule", name)


def aml_monitor(model: str) -> Address:
    return Address("aml", "monitor", model)


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


def access_identity(name: str) -> Address:
    return Address("access", "identity", name)


def powerbi_report(name: str) -> Address:
    return Address("powerbi", "report", name)
