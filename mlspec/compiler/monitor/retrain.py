"""The retrain trigger: an alert with ``action: retrain`` re-runs the model's Azure ML pipeline.

Chain: alert rule → action group ``<project>-retrain`` → its ``logicAppReceivers`` entry → Logic App
``<project>-retrain`` (``Microsoft.Logic/workflows``, HTTP request trigger, common alert schema) →
two HTTP actions signed in with the Logic App's system-assigned managed identity:

1. ``GET .../workspaces/<ml>/schedules/<model>-retrain`` -- the Azure ML retrain schedule the azureml
   renderer creates; its ``properties.action.jobDefinition`` is the pipeline job exactly as Azure ML
   registered it (component ids resolved), so nothing in this template duplicates the pipeline;
2. ``PUT .../workspaces/<ml>/jobs/<new guid>`` with that job definition -- a new pipeline run, named
   after the alert that caused it.

No secret is in the template: the receiver's ``callbackUrl`` (which carries the trigger's SAS ``sig``)
is read at deployment time with ARM's ``listCallbackUrl()``, and the Logic App calls Azure ML with a
managed identity token, never a key. The access renderer grants that identity ``AzureML Data
Scientist`` on the workspace.
"""

from __future__ import annotations

from typing import Any

from mlspec.compiler.arm import expression, quote, resource_id

WORKFLOW_API = "2019-05-01"
ACTION_GROUP_API = "2023-01-01"
ML_API = "2024-04-01"
TRIGGER = "alert"
_WORKFLOW_SCHEMA = "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#"
_MSI = {"type": "ManagedServiceIdentity", "audience": "https://management.azure.com/"}
_READ = "read_retrain_schedule"
_SUBMIT = "submit_retraining_run"


def workflow_resource(
    name: str, location: str, ml_workspace: str, schedule: str, tags: dict[str, str]
) -> dict[str, Any]:
    workspace_id = resource_id("Microsoft.MachineLearningServices/workspaces", ml_workspace)
    schedule_url = expression(
        f"concat('https://management.azure.com', {workspace_id}, "
        f"{quote(f'/schedules/{schedule}?api-version={ML_API}')})"
    )
    # "@{guid()}" is a Logic App expression, evaluated per run; ARM leaves it alone (no leading "[").
    job_url = expression(
        f"concat('https://management.azure.com', {workspace_id}, "
        f"{quote(f'/jobs/@{{guid()}}?api-version={ML_API}')})"
    )
    job_definition = f"body('{_READ}')?['properties']?['action']?['jobDefinition']"
    alert_rule = "coalesce(triggerBody()?['data']?['essentials']?['alertRule'], 'an alert')"
    return {
        "type": "Microsoft.Logic/workflows",
        "apiVersion": WORKFLOW_API,
        "name": name,
        "location": location,
        "tags": tags,
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "state": "Enabled",
            "definition": {
                "$schema": _WORKFLOW_SCHEMA,
                "contentVersion": "1.0.0.0",
                "parameters": {},
                "triggers": {
                    TRIGGER: {
                        "type": "Request",
                        "kind": "Http",
                        "inputs": {
                            "method": "POST",
                            "schema": {
                                "type": "object",
                                "properties": {"schemaId": {"type": "string"}, "data": {"type": "object"}},
                            },
                        },
                    }
                },
                "actions": {
                    _READ: {
                        "type": "Http",
                        "runAfter": {},
                        "inputs": {"method": "GET", "uri": schedule_url, "authentication": dict(_MSI)},
                    },
                    _SUBMIT: {
                        "type": "Http",
                        "runAfter": {_READ: ["Succeeded"]},
                        "inputs": {
                            "method": "PUT",
                            "uri": job_url,
                            "authentication": dict(_MSI),
                            "body": {
                                "properties": (
                                    f"@setProperty({job_definition}, 'displayName', "
                                    f"concat('retrain after ', {alert_rule}))"
                                )
                            },
                        },
                    },
                },
                "outputs": {},
            },
            "parameters": {},
        },
    }


def receiver(workflow: str) -> dict[str, Any]:
    """The action group receiver calling the workflow; its URL is resolved at deployment time."""
    trigger_id = resource_id("Microsoft.Logic/workflows/triggers", workflow, TRIGGER)
    return {
        "name": "retrain-pipeline",
        "resourceId": expression(resource_id("Microsoft.Logic/workflows", workflow)),
        "callbackUrl": expression(f"listCallbackUrl({trigger_id}, '{WORKFLOW_API}').value"),
        "useCommonAlertSchema": True,
    }
