"""The Log Analytics tables log alerts read, and the data collection rule that fills the custom one.

Serving signals read ``ContainerLogV2``, where Container Insights puts the scoring server's stdout: the
server writes one JSON object per line (``LogMessage`` is that object, parsed) -- ``"event": "request"``
lines carry ``status`` and ``path``, ``"event": "scored"`` lines carry ``ms`` (latency of a
successful request); every line carries ``project`` and ``endpoint``. Nothing extra has to run.
CPU and memory read ``KubePodInventory`` and ``Perf``, which Container Insights fills as well.

Model statistics go to a custom table shared by every mlspec project of a workspace (queries filter
on ``Project`` and ``Environment``), ``MlspecModelMonitoring_CL``, one row per statistic per
monitoring run, written by the monitoring job:

    TimeGenerated  datetime  when the statistic was computed (UTC)
    Project        string    project.name
    Environment    string    the mlspec environment (dev, prod, ...)
    Model          string    model.name
    ModelVersion   string    the registered version monitored
    Signal         string    data_drift | prediction_drift | data_quality | model_metric
    Feature        string    the feature (data_drift, data_quality); empty otherwise
    Metric         string    jensen_shannon_distance, null_value_rate, roc_auc, ...
    Value          real      the statistic
    Window         string    ISO 8601 duration the statistic was computed over (the alert's window)
    SampleCount    long      production rows the statistic was computed from (empty for serving)

Rows arrive through the Logs Ingestion API: the data collection endpoint (DCE) receives them and the
data collection rule (DCR) routes stream ``Custom-MlspecModelMonitoring_CL`` into the table. A writer
needs ``Monitoring Metrics Publisher`` on the DCR (the access renderer grants it to the Azure ML
workspace identity). The template's outputs give the ingestion endpoint and the DCR's immutable id.
"""

from __future__ import annotations

from typing import Any

from mlspec.compiler.arm import expression, resource_id

TABLES_API = "2022-10-01"
DATA_COLLECTION_API = "2022-06-01"

SERVING_TABLE = "ContainerLogV2"
"""A standard table (Container Insights); not declared by the template."""
POD_INVENTORY_TABLE = "KubePodInventory"
POD_PERFORMANCE_TABLE = "Perf"
"""Standard Container Insights tables: each pod's namespace, labels and containers, and each
container's CPU and memory usage and limits (object ``K8SContainer``). CPU and memory alerts read them."""
STANDARD_TABLES = frozenset({SERVING_TABLE, POD_INVENTORY_TABLE, POD_PERFORMANCE_TABLE})
"""Tables Container Insights fills: log alerts may read them, the template declares none of them."""
MONITORING_TABLE = "MlspecModelMonitoring_CL"

# Log Analytics table column types (the tables API spells dateTime with a capital T).
TABLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    MONITORING_TABLE: (
        ("TimeGenerated", "dateTime"),
        ("Project", "string"),
        ("Environment", "string"),
        ("Model", "string"),
        ("ModelVersion", "string"),
        ("Signal", "string"),
        ("Feature", "string"),
        ("Metric", "string"),
        ("Value", "real"),
        ("Window", "string"),
        ("SampleCount", "long"),
    ),
}
_STREAM_TYPES = {
    "dateTime": "datetime",
    "string": "string",
    "real": "real",
    "int": "int",
    "long": "long",
    "boolean": "boolean",
}
_DESTINATION = "logs"


def stream_name(table: str) -> str:
    return f"Custom-{table}"


def table_resource(workspace: str, table: str) -> dict[str, Any]:
    return {
        "type": "Microsoft.OperationalInsights/workspaces/tables",
        "apiVersion": TABLES_API,
        "name": f"{workspace}/{table}",
        "properties": {
            "plan": "Analytics",
            "schema": {
                "name": table,
                "description": "Written by mlspec-deployed services; see mlspec/compiler/monitor/tables.py.",
                "columns": [{"name": name, "type": kind} for name, kind in TABLE_COLUMNS[table]],
            },
        },
    }


def endpoint_resource(name: str, location: str) -> dict[str, Any]:
    return {
        "type": "Microsoft.Insights/dataCollectionEndpoints",
        "apiVersion": DATA_COLLECTION_API,
        "name": name,
        "location": location,
        "properties": {"description": "Logs Ingestion API endpoint for mlspec serving and monitoring rows."},
    }


def rule_resource(
    name: str, location: str, workspace: str, endpoint: str, tables: list[str]
) -> dict[str, Any]:
    return {
        "type": "Microsoft.Insights/dataCollectionRules",
        "apiVersion": DATA_COLLECTION_API,
        "name": name,
        "location": location,
        "dependsOn": [
            expression(resource_id("Microsoft.Insights/dataCollectionEndpoints", endpoint)),
            *(
                expression(resource_id("Microsoft.OperationalInsights/workspaces/tables", workspace, table))
                for table in tables
            ),
        ],
        "properties": {
            "description": "Routes mlspec serving and monitoring rows into their Log Analytics tables.",
            "dataCollectionEndpointId": expression(
                resource_id("Microsoft.Insights/dataCollectionEndpoints", endpoint)
            ),
            "streamDeclarations": {
                stream_name(table): {
                    "columns": [{"name": n, "type": _STREAM_TYPES[k]} for n, k in TABLE_COLUMNS[table]]
                }
                for table in tables
            },
            "destinations": {
                "logAnalytics": [
                    {
                        "name": _DESTINATION,
                        "workspaceResourceId": expression(
                            resource_id("Microsoft.OperationalInsights/workspaces", workspace)
                        ),
                    }
                ]
            },
            "dataFlows": [
                {
                    "streams": [stream_name(table)],
                    "destinations": [_DESTINATION],
                    "transformKql": "source",
                    "outputStream": stream_name(table),
                }
                for table in tables
            ],
        },
    }


def outputs(endpoint: str, rule: str) -> dict[str, Any]:
    """What writers need: the ingestion URL and the rule's immutable id."""
    return {
        "logsIngestionEndpoint": {
            "type": "string",
            "value": expression(
                f"reference({resource_id('Microsoft.Insights/dataCollectionEndpoints', endpoint)}, "
                f"'{DATA_COLLECTION_API}').logsIngestion.endpoint"
            ),
        },
        "dataCollectionRuleImmutableId": {
            "type": "string",
            "value": expression(
                f"reference({resource_id('Microsoft.Insights/dataCollectionRules', rule)}, "
                f"'{DATA_COLLECTION_API}').immutableId"
            ),
        },
    }
