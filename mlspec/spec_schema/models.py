"""The ``mlproject.yaml`` v1 contract as pydantic models.

These models are the published interface: the JSON Schema in ``mlproject.v1.schema.json``
is generated from them (``python -m mlspec.spec_schema.export``). They check structure
and types; rules that need the whole spec (references, naming, security) live in
``mlspec/spec_schema/checks/`` where each has a stable code and a hint.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

API_VERSION = "mlspec/v1"

Scalar = str | int | float | bool
SourceFormat = Literal["csv", "parquet", "json", "delta", "text", "binary"]
OutputFormat = Literal["parquet", "delta", "csv", "json"]
ExecutorSize = Literal["Small", "Medium", "Large", "XLarge", "XXLarge"]
ClassificationMetric = Literal["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"]
RegressionMetric = Literal["rmse", "mae", "r2", "mape"]
Metric = ClassificationMetric | RegressionMetric
CLASSIFICATION_METRICS: frozenset[str] = frozenset(ClassificationMetric.__args__)  # type: ignore[attr-defined]
REGRESSION_METRICS: frozenset[str] = frozenset(RegressionMetric.__args__)  # type: ignore[attr-defined]
Comparison = Literal[">", ">=", "<", "<="]
Signal = Literal[
    "latency_p95_ms",
    "latency_p99_ms",
    "error_rate",
    "request_rate",
    "cpu_percent",
    "memory_percent",
    "data_drift",
    "prediction_drift",
    "data_quality",
    "model_metric",
]
DRIFT_SIGNALS = frozenset({"data_drift", "prediction_drift", "data_quality"})

Name = Annotated[str, Field(min_length=1, max_length=128)]

# Number ranges: what the services that receive a value accept, so validate refuses what a deploy
# would (and a number no JSON consumer takes never reaches build). Every integer anywhere in a spec,
# free-form fields included, must also fit a signed 64-bit integer and every float be finite
# (``structure.check_structure``).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SEED_MAX = 2**32 - 1
"""numpy's and scikit-learn's ``random_state`` take 0..2**32-1."""
AML_MAX_NODES = 65_000
"""Azure ML's maximum nodes in one compute cluster (``maxNodeCount`` is an Int32; the service caps it)."""
INT32_MAX = 2**31 - 1
"""Kubernetes int-or-string fields (maxSurge, maxUnavailable) are int32."""


def _not_a_boolean(value: Any) -> Any:
    """YAML's ``true``/``yes``/``on`` where a number goes would otherwise count as 1 (pydantic takes a
    boolean for a number), which the editor schema refuses: so does validate."""
    if isinstance(value, bool):
        raise ValueError(f"a number is expected here, not the boolean {str(value).lower()}")
    return value


Integer = Annotated[int, BeforeValidator(_not_a_boolean)]
"""A whole number, never a boolean (a quoted one, as a variable gives, is its number)."""
Real = Annotated[float, BeforeValidator(_not_a_boolean)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False), BeforeValidator(_not_a_boolean)]
"""A float that is a number: YAML's ``.nan``/``.inf`` are refused (ARM and JSON take neither), and so
are booleans."""


def _empty_list() -> list[Any]:
    """The default of list fields. Not ``default_factory=list``: pydantic inspects each factory's
    signature when it builds the models, and for the builtin ``list`` that takes ~0.4 ms a field
    (17 fields: ~7 ms of every cold start)."""
    return []


class SpecModel(BaseModel):
    """Base of every spec model: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- project and variables -------------------------------------------------------------


class Project(SpecModel):
    name: str = Field(
        description="Lowercase DNS label, 3..24 characters; it prefixes every Azure resource mlspec names.",
        examples=["churn"],
    )
    description: str | None = Field(None, description="What the project predicts and for whom.")
    owner: str | None = Field(
        None, description="Team or person answering for it (e-mail).", examples=["ml-team@contoso.com"]
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Azure tags put on every resource.",
        examples=[{"cost-center": "4711"}],
    )


class Variable(SpecModel):
    default: Scalar | None = Field(
        None, description="Value used when neither the environment, MLSPEC_VAR_<NAME> nor --var sets one."
    )
    description: str | None = Field(None, description="What the variable is for.")


# --- workspace ---------------------------------------------------------------------------


class Workspace(SpecModel):
    """The existing Azure resources this project deploys into (one set per environment)."""

    subscription_id: str | None = Field(
        None,
        description="Azure subscription GUID (needed once the project deploys anything).",
        examples=["${var.subscription_id}"],
    )
    tenant_id: str | None = Field(
        None, description="Entra ID tenant GUID (workload identity, Key Vault CSI)."
    )
    resource_group: str | None = Field(
        None,
        description="Resource group of the workspace resources.",
        examples=["rg-churn-${environment.name}"],
    )
    location: str | None = Field(None, description="Azure region.", examples=["westeurope"])
    machine_learning: str | None = Field(
        None, description="Azure ML workspace name.", examples=["mlw-churn-${environment.name}"]
    )
    synapse: str | None = Field(None, description="Synapse workspace name.")
    spark_pool: str | None = Field(None, description="Default Synapse Spark pool.", examples=["sparkpool01"])
    key_vault: str | None = Field(None, description="Key Vault holding the project's secrets.")
    container_registry: str | None = Field(
        None, description="Azure Container Registry name (images are pushed here only)."
    )
    kubernetes: str | None = Field(None, description="AKS cluster name.")
    log_analytics: str | None = Field(
        None, description="Log Analytics workspace for alerts and prediction logs."
    )
    storage_account: str | None = Field(None, description="ADLS Gen2 (hierarchical namespace) account.")
    application_insights: str | None = Field(
        None, description="Application Insights resource for serving telemetry."
    )


# --- environments --------------------------------------------------------------------------


class Environment(SpecModel):
    """An overlay deep-merged onto the base spec (RFC 7396 merge-patch: maps merge, lists and
    scalars replace, ``null`` removes)."""

    default: bool = Field(False, description="The environment used when --env is not given.")
    protect: bool = Field(False, description="Refuse deletes and destroy without --allow-destroy.")
    provider: Literal["azure", "local"] = Field(
        "azure",
        description="Where apply deploys: Azure, or the embedded local provider (the `local` environment always is).",
    )
    variables: dict[str, Scalar] = Field(default_factory=dict, description="Values for declared variables.")
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Spec sections merged onto the base: maps merge key by key, lists and scalars replace, null removes.",
        examples=[{"deployment": {"replicas": {"min": 3, "max": 20}}}],
    )


# --- access ----------------------------------------------------------------------------------


class Principal(SpecModel):
    """An Entra ID principal by object id: exactly one of user, group, service_principal."""

    user: str | None = Field(None, description="User object id (GUID).")
    group: str | None = Field(None, description="Group object id (GUID).")
    service_principal: str | None = Field(None, description="Service principal object id (GUID).")

    @model_validator(mode="after")
    def _exactly_one(self) -> Principal:
        given = [k for k in ("user", "group", "service_principal") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of user, group or service_principal")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("user", "group", "service_principal") if getattr(self, k) is not None)

    @property
    def object_id(self) -> str:
        value = getattr(self, self.kind)
        assert isinstance(value, str)
        return value


class Grant(SpecModel):
    principal: Principal = Field(
        description="Who gets the role: exactly one of user, group or service_principal (an object id).",
        examples=[{"group": "00000000-0000-0000-0000-000000000001"}],
    )
    role: str = Field(
        description="Built-in role name or role definition GUID.", examples=["AzureML Data Scientist"]
    )
    scope: str = Field(
        description="A workspace key (machine_learning, storage_account, key_vault, ...) or a source/transform name.",
        examples=["machine_learning"],
    )
    description: str | None = Field(None, description="Why the grant exists (for reviewers).")


class SecretRef(SpecModel):
    """A Key Vault reference; mlspec never holds a secret's value."""

    key_vault: str = Field(description="Key Vault name.", examples=["${workspace.key_vault}"])
    name: str = Field(description="Secret name in the vault.", examples=["crm-api-key"])
    version: str | None = Field(None, description="Pinned secret version; latest when absent.")


class Access(SpecModel):
    grants: list[Grant] = Field(
        default_factory=_empty_list, description="RBAC role assignments rendered as ARM."
    )
    secrets: dict[str, SecretRef] = Field(
        default_factory=dict, description="Key Vault references by local name."
    )


# --- data ----------------------------------------------------------------------------------


class Source(SpecModel):
    path: str = Field(
        description="abfss://container@account.dfs.core.windows.net/path",
        examples=["abfss://raw@${var.lake_account}.dfs.core.windows.net/crm/customers/"],
    )
    format: SourceFormat = Field(
        description="How the files are read: csv | parquet | json | delta | text | binary (media).",
        examples=["parquet"],
    )
    options: dict[str, Scalar] = Field(
        default_factory=dict, description="Spark reader options.", examples=[{"header": True}]
    )
    schema_: dict[str, str] | None = Field(
        None,
        alias="schema",
        description="Column → Spark SQL type; enforced on read and used to check features.",
        examples=[{"customer_id": "string", "tenure_months": "int"}],
    )
    glob: str | None = Field(
        None, description="File name pattern (pathGlobFilter), e.g. for media files.", examples=["*.wav"]
    )
    description: str | None = Field(None, description="What the data is and where it comes from.")


class ExecutorRange(SpecModel):
    min: Integer = Field(
        2, ge=1, le=200, description="Fewest Spark executors (a Synapse pool has at most 200 nodes)."
    )
    max: Integer = Field(
        2, ge=1, le=200, description="Most Spark executors (a Synapse pool has at most 200 nodes)."
    )


class SparkSettings(SpecModel):
    pool: str | None = Field(None, description="Synapse Spark pool; the workspace's spark_pool when absent.")
    executor_size: ExecutorSize = Field(
        "Small", description="Synapse executor node size: Small | Medium | Large | XLarge | XXLarge."
    )
    executors: ExecutorRange = Field(
        default_factory=ExecutorRange,
        description="Autoscale range of the Spark executors.",
        examples=[{"min": 2, "max": 6}],
    )


class TransformOutput(SpecModel):
    path: str = Field(description="abfss:// folder the result is written to.")
    format: OutputFormat = Field("delta", description="File format written: parquet | delta | csv | json.")
    mode: Literal["overwrite", "append", "merge"] = Field(
        "overwrite",
        description="overwrite replaces the output, append adds rows, merge upserts on merge_keys (delta only).",
    )
    merge_keys: list[str] = Field(
        default_factory=_empty_list, description="Columns matched on when mode is merge."
    )
    partition_by: list[str] = Field(
        default_factory=_empty_list,
        description="Columns the output is partitioned by (they become folder names, col=value).",
        examples=[["country"]],
    )
    schema_: dict[str, str] | None = Field(
        None,
        alias="schema",
        description="Declared output columns (used when they cannot be read from the SQL).",
    )


class RowCount(SpecModel):
    min: Annotated[int, Field(ge=0, le=INT64_MAX), BeforeValidator(_not_a_boolean)] | None = Field(
        None, description="Fewest rows the output may have."
    )
    max: Annotated[int, Field(ge=0, le=INT64_MAX), BeforeValidator(_not_a_boolean)] | None = Field(
        None, description="Most rows the output may have."
    )


class AcceptedValues(SpecModel):
    column: str = Field(description="The column checked.")
    values: list[Scalar] = Field(
        min_length=1, description="The only values the column may hold (nulls aside).", examples=[[0, 1]]
    )


class ValueRange(SpecModel):
    column: str = Field(description="The (numeric) column checked.")
    min: FiniteFloat | None = Field(None, description="Smallest allowed value (inclusive).")
    max: FiniteFloat | None = Field(None, description="Largest allowed value (inclusive).")


class Expectation(SpecModel):
    """A data-quality gate: exactly one of the kinds below. A failing one stops the run."""

    not_null: str | list[str] | None = Field(None, description="Column(s) that must have no nulls.")
    unique: str | list[str] | None = Field(None, description="Column(s) whose combination must be unique.")
    row_count: RowCount | None = Field(
        None, description="Bounds on the number of rows.", examples=[{"min": 100}]
    )
    accepted_values: AcceptedValues | None = Field(
        None,
        description="A column holds only the listed values.",
        examples=[{"column": "churned", "values": [0, 1]}],
    )
    range: ValueRange | None = Field(
        None,
        description="A numeric column lies between min and max.",
        examples=[{"column": "tenure_months", "min": 0}],
    )
    expression: str | None = Field(None, description="A Spark SQL boolean that must hold on every row.")

    @model_validator(mode="after")
    def _exactly_one(self) -> Expectation:
        given = [k for k in self.model_fields_set if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "an expectation is exactly one of not_null, unique, row_count, accepted_values, range, expression"
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in type(self).model_fields if getattr(self, k) is not None)


class Transform(SpecModel):
    inputs: list[str] = Field(min_length=1, description="Sources or other transforms (a DAG).")
    sql: str | None = Field(
        None, description="Spark SQL over the inputs, each registered as a view by its name."
    )
    python: str | None = Field(
        None,
        description="Path to a .py file defining transform(spark, **inputs) -> DataFrame.",
        examples=["transforms/features.py"],
    )
    output: TransformOutput = Field(description="Where and how the result is written.")
    spark: SparkSettings = Field(default_factory=SparkSettings, description="The Spark pool and its sizing.")
    expectations: list[Expectation] = Field(
        default_factory=_empty_list,
        description="Data-quality gates on the output; a failing one stops the run.",
        examples=[[{"not_null": "customer_id"}, {"row_count": {"min": 100}}]],
    )
    description: str | None = Field(None, description="What the transform produces.")

    @model_validator(mode="after")
    def _sql_or_python(self) -> Transform:
        if (self.sql is None) == (self.python is None):
            raise ValueError("a transform has exactly one of sql or python")
        return self


# --- model -----------------------------------------------------------------------------------


class Split(SpecModel):
    test_size: Real = Field(
        0.2, gt=0, lt=1, allow_inf_nan=False, description="Share of the rows held out for evaluation (0..1)."
    )
    seed: Integer = Field(
        42,
        ge=0,
        le=SEED_MAX,
        description="Seed of the train/test split; numpy and scikit-learn take 0..4294967295 (32 bits).",
    )


class Compute(SpecModel):
    cluster: str = Field("cpu-cluster", description="Azure ML compute cluster name.")
    size: str = Field("Standard_DS3_v2", description="VM size.")
    min_nodes: Integer = Field(
        0, ge=0, le=AML_MAX_NODES, description="Nodes kept running (0 scales to zero)."
    )
    max_nodes: Integer = Field(
        4,
        ge=1,
        le=AML_MAX_NODES,
        description="Most nodes; Azure ML caps a cluster at 65000 (quota permitting).",
    )


class PythonEnvironment(SpecModel):
    python: str = Field("3.11", description='Python version; quote it ("3.10" unquoted is the number 3.1).')
    pip: list[str] = Field(
        default_factory=_empty_list,
        description="pip requirements (pin versions for reproducible training).",
        examples=[["scikit-learn==1.5.2", "pandas"]],
    )
    conda: list[str] = Field(default_factory=_empty_list, description="Conda packages installed before pip.")
    image: str | None = Field(None, description="Base image; the Azure ML curated CPU image when absent.")


class Training(SpecModel):
    data: str = Field(description="A transform or source name.", examples=["customer_features"])
    target: str = Field(description="The column predicted (the label).", examples=["churned"])
    features: list[str] = Field(
        min_length=1,
        description="The input columns of the model.",
        examples=[["tenure_months", "monthly_charges"]],
    )
    estimator: str | None = Field(
        None,
        description="Dotted path of a scikit-learn compatible estimator (built-in trainer).",
        examples=["sklearn.ensemble.GradientBoostingClassifier"],
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Estimator constructor arguments.")
    script: str | None = Field(None, description="The team's own training script, relative to the spec.")
    split: Split = Field(default_factory=Split, description="The train/test split.")
    compute: Compute = Field(
        default_factory=Compute, description="The Azure ML compute cluster training runs on."
    )
    environment: PythonEnvironment = Field(
        default_factory=PythonEnvironment, description="The Python environment of training and scoring."
    )

    @model_validator(mode="after")
    def _estimator_or_script(self) -> Training:
        if (self.estimator is None) == (self.script is None):
            raise ValueError("training has exactly one of estimator or script")
        return self


class Evaluation(SpecModel):
    metrics: list[Metric] = Field(
        min_length=1,
        description=(
            "Metrics computed on the test split: accuracy, precision, recall, f1, roc_auc, log_loss "
            "(classification) or rmse, mae, r2, mape (regression)."
        ),
        examples=[["roc_auc", "accuracy"]],
    )
    gate: dict[str, str] = Field(
        default_factory=dict,
        description='Metric → comparison; below the gate the model is not registered, e.g. {roc_auc: ">= 0.80"}.',
        examples=[{"roc_auc": ">= 0.80"}],
    )


class ModelSpec(SpecModel):
    name: str = Field(description="Azure ML model name.", examples=["churn-classifier"])
    task: Literal["classification", "regression"] = Field(
        description="classification | regression: decides which metrics apply."
    )
    training: Training = Field(description="What the model learns from and how it is trained.")
    evaluation: Evaluation = Field(description="The metrics and the gate a model must pass to be registered.")
    description: str | None = Field(None, description="What the model predicts.")


# --- deployment ------------------------------------------------------------------------------


class Replicas(SpecModel):
    min: Integer = Field(
        2,
        ge=1,
        le=1000,
        description="Fewest scoring pods (HorizontalPodAutoscaler minReplicas).",
        examples=[2],
    )
    max: Integer = Field(
        10,
        ge=1,
        le=1000,
        description="Most scoring pods (HorizontalPodAutoscaler maxReplicas).",
        examples=[10],
    )
    target_cpu_percent: Integer = Field(
        70,
        ge=1,
        le=100,
        description="Average CPU utilisation, in percent of the request, the autoscaler aims at.",
    )


def _number_as_quantity(value: Any) -> Any:
    """Kubernetes users write ``cpu: 2`` or ``cpu: 0.5``; keep every quantity as its text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Quantity = Annotated[
    str,
    BeforeValidator(_number_as_quantity),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}]}),
]


class Resources(SpecModel):
    cpu: Quantity = Field("500m", description="CPU request (Kubernetes quantity).")
    memory: Quantity = Field("1Gi", description="Memory request (Kubernetes quantity).")
    cpu_limit: Quantity | None = Field(None, description="CPU limit; the request when absent.")
    memory_limit: Quantity | None = Field(None, description="Memory limit; the request when absent.")


class Network(SpecModel):
    internal_load_balancer: bool = Field(True, description="Internal Azure load balancer (no public IP).")
    subnet: str | None = Field(None, description="Subnet of the internal load balancer.")
    ip: str | None = Field(None, description="Static private IPv4 of the internal load balancer.")
    allow_from: list[str] = Field(
        default_factory=_empty_list, description="CIDRs allowed by the NetworkPolicy."
    )
    allow_public: bool = Field(
        False, description="Explicitly allow a public load balancer (security policy)."
    )


def _model_version_number(value: Any) -> Any:
    """A registered version is a number: YAML's ``true``/``yes``/``on`` would otherwise be taken as 1,
    and ``latest`` (what a pinned version replaces) deserves to be told what to write instead."""
    if isinstance(value, bool):
        raise ValueError(
            f"a model version is a whole number (1, 2, ...), not the boolean {str(value).lower()}"
        )
    if isinstance(value, str) and not (value.strip().isascii() and value.strip().isdigit()):
        raise ValueError(
            f"a model version is a whole number (1, 2, ...), not {value!r}; leave model_version out to serve "
            "the version the training pipeline last registered"
        )
    return value


ModelVersion = Annotated[int, Field(ge=1), BeforeValidator(_model_version_number)]
"""A version of ``model.name`` in the Azure ML (MLflow) model registry: 1, 2, ..."""


class Rollout(SpecModel):
    strategy: Literal["rolling", "blue_green", "canary"] = Field(
        "rolling",
        description="rolling replaces pods in place; blue_green switches between two slots; canary sends canary_percent of the traffic to the new version.",
    )
    canary_percent: Annotated[int, Field(ge=1, le=99), BeforeValidator(_not_a_boolean)] | None = Field(
        None, description="Traffic share of the canary (canary only)."
    )
    max_surge: str | Annotated[int, Field(ge=0, le=INT32_MAX), BeforeValidator(_not_a_boolean)] = Field(
        "25%", description="Rolling update maxSurge: pods or a percentage."
    )
    max_unavailable: str | Annotated[int, Field(ge=0, le=INT32_MAX), BeforeValidator(_not_a_boolean)] = Field(
        0, description="Rolling update maxUnavailable: pods or a percentage."
    )
    model_version: ModelVersion | None = Field(
        None,
        description=(
            "canary and blue_green: the registered model version the canary (the standby slot) serves while "
            "the stable (active) slot serves deployment.model_version; absent, both serve the same version."
        ),
        examples=[8],
    )


class PredictionLog(SpecModel):
    path: str = Field(description="abfss:// folder where served requests and predictions are logged.")
    sample_rate: Real = Field(
        1.0, ge=0, le=1, allow_inf_nan=False, description="Share of the requests logged (0..1)."
    )


class Identity(SpecModel):
    """An existing user-assigned managed identity the scoring pods run as (AKS workload identity).

    ``client_id`` alone (the first form of the contract) annotates the pods, but a working deploy also
    needs ``name`` (mlspec creates the federated credential on that identity and looks its object id
    up for the role assignments) or at least ``object_id`` (the roles, without the credential)."""

    client_id: str = Field(
        description="Client id of the user-assigned managed identity used by workload identity."
    )
    name: str | None = Field(
        None,
        description=(
            "Azure name of that identity in workspace.resource_group: mlspec creates its federated "
            "credential for the endpoint's service account and grants it what the pods need."
        ),
        examples=["id-churn-scoring"],
    )
    object_id: str | None = Field(
        None,
        description=(
            "Object (principal) id of that identity, what role assignments name; absent, it is looked "
            "up from name at deployment. Never the client id."
        ),
    )


class Deployment(SpecModel):
    target: Literal["aks"] = Field(
        "aks", description="Where the model is served: aks (Azure Kubernetes Service)."
    )
    endpoint: str = Field(
        description="Endpoint name (DNS-1123 label); names the Kubernetes objects.",
        examples=["churn-scoring"],
    )
    namespace: str = Field("default", description="Kubernetes namespace (DNS-1123 label).")
    replicas: Replicas = Field(
        default_factory=Replicas,
        description="Autoscaling of the scoring pods.",
        examples=[{"min": 2, "max": 10, "target_cpu_percent": 70}],
    )
    resources: Resources = Field(
        default_factory=Resources,
        description="CPU and memory of one scoring pod.",
        examples=[{"cpu": "500m", "memory": "1Gi"}],
    )
    network: Network = Field(default_factory=Network, description="Load balancer and network policy.")
    auth: Literal["key", "entra"] = Field(
        "key",
        description="How callers authenticate: key (an API key from Key Vault) | entra (Entra ID tokens).",
    )
    secrets: list[str] = Field(
        default_factory=_empty_list,
        description="Names from access.secrets, mounted via the Key Vault CSI driver.",
    )
    model_version: ModelVersion | None = Field(
        None,
        description=(
            "The registered version of model.name the pods serve (a pin, or a rollback); absent, the version "
            "the training pipeline last registered past its gate, fixed in the manifests at each apply."
        ),
        examples=[7],
    )
    rollout: Rollout = Field(
        default_factory=Rollout,
        description="How a new model version replaces the serving one.",
        examples=[{"strategy": "canary", "canary_percent": 10}],
    )
    log_predictions: PredictionLog | None = Field(
        None, description="Log served requests and predictions (what drift monitoring compares)."
    )
    identity: Identity | None = Field(
        None, description="The managed identity the scoring pods use (workload identity)."
    )
    port: Integer = Field(
        8080, ge=1024, le=65535, description="Container port of the scoring server (non-root: ≥ 1024)."
    )


# --- monitoring ------------------------------------------------------------------------------


class Notify(SpecModel):
    email: list[str] = Field(
        default_factory=_empty_list,
        description="Addresses alerts are sent to.",
        examples=[["ml-oncall@contoso.com"]],
    )
    webhook: list[str] = Field(
        default_factory=_empty_list, description="HTTPS webhook URLs (no secrets in the URL)."
    )


class Alert(SpecModel):
    name: str = Field(
        description="Unique alert name; retrain.on_alerts refers to it.", examples=["high-latency"]
    )
    signal: Signal = Field(
        description=(
            "What is watched: latency_p95_ms, latency_p99_ms, error_rate, request_rate, cpu_percent, "
            "memory_percent (serving), data_drift, prediction_drift, data_quality (drift monitoring) "
            "or model_metric."
        ),
        examples=["latency_p95_ms"],
    )
    operator: Comparison = Field(">", description="How the signal compares to the threshold to fire.")
    threshold: FiniteFloat = Field(
        description="The value the signal is compared with, in the signal's unit (ms, a 0..1 rate, percent, a drift score).",
        examples=[250, 0.2],
    )
    window: str = Field(description="Duration: a number and m, h or d.", examples=["5m", "1d"])
    severity: Integer = Field(3, ge=0, le=4, description="Azure Monitor severity: 0 critical ... 4 verbose.")
    features: list[str] | None = Field(None, description="Features watched (data_drift, data_quality).")
    metric: str | None = Field(None, description="Model metric watched (model_metric).")
    action: Literal["notify", "retrain"] = Field(
        "notify", description="notify sends to monitoring.notify; retrain also starts retraining."
    )
    description: str | None = Field(None, description="What firing means and what to do.")


DEFAULT_MAX_FEATURE_AGE = "1d"
"""``monitoring.retrain.max_feature_age`` when the spec does not set it (or has no ``retrain``)."""


class Retrain(SpecModel):
    schedule: str | None = Field(None, description="Cron, five fields, UTC.", examples=["0 3 * * 1"])
    on_alerts: list[str] = Field(
        default_factory=_empty_list, description="Alerts (by name) that trigger retraining."
    )
    max_feature_age: str = Field(
        DEFAULT_MAX_FEATURE_AGE,
        description=(
            "Duration: how old the last successful run of the Synapse pipeline that produces the training "
            "data may be before the training pipeline (scheduled or alert-triggered) runs it again first "
            "(training on a transform only)."
        ),
        examples=["1d", "12h"],
    )


class Monitoring(SpecModel):
    notify: Notify = Field(default_factory=Notify, description="Where alerts are sent.")
    alerts: list[Alert] = Field(default_factory=_empty_list, description="Azure Monitor alert rules.")
    retrain: Retrain | None = Field(
        None, description="When the model is retrained: on a schedule and/or when alerts fire."
    )
    ground_truth: str | None = Field(
        None,
        description=(
            "abfss:// folder where the team writes the true outcomes of served requests, as JSON lines "
            "{request_id, row, target}: the monitoring job joins them to the prediction log for "
            "model_metric alerts."
        ),
    )


# --- reports ---------------------------------------------------------------------------------


class Visual(SpecModel):
    type: Literal["card", "bar", "column", "line", "pie", "table", "scatter"] = Field(
        description="card | bar | column | line | pie | table | scatter."
    )
    title: str | None = Field(None, description="Title shown on the visual.")
    measure: str | None = Field(
        None,
        description=(
            "The value a card shows: a measure of the report, an aggregate shorthand "
            "(sum|avg|min|max|count|distinct_count|median of a column, e.g. `sum(amount)` or "
            "`avg(orders.amount)`), or a column (aggregated). Columns are looked up in the visual's table "
            "first, then in the report's other tables; `table.column` names one."
        ),
        examples=["churn_rate", "sum(orders.amount)"],
    )
    x: str | None = Field(
        None,
        description=(
            "Category axis of a chart: a column of any of the report's tables (the visual's table first); "
            "`table.column` when several other tables have it."
        ),
        examples=["region", "customer_features.region"],
    )
    y: str | None = Field(
        None,
        description=(
            "Value axis of a chart: a measure of the report, an aggregate shorthand "
            "(`sum(amount)`, `avg(orders.amount)`, `count(order_id)`, ...), or a column (aggregated)."
        ),
        examples=["churn_rate", "avg(monthly_charges)"],
    )
    columns: list[str] | None = Field(
        None,
        description="Columns a table visual lists: names or `table.column`, from any of the report's tables.",
        examples=[["region", "customer_features.tenure_months"]],
    )
    table: str | None = Field(
        None,
        description=(
            "The visual's table: its columns win over same-named columns of the report's other tables. "
            "The report's first table when absent."
        ),
    )


class Page(SpecModel):
    title: str = Field(description="Page title (the report's tab).")
    visuals: list[Visual] = Field(
        default_factory=_empty_list,
        description="The visuals on the page.",
        examples=[[{"type": "card", "measure": "churn_rate"}]],
    )


class Measure(SpecModel):
    table: str = Field(description="The report table the measure belongs to.")
    expression: str = Field(description="DAX expression.", examples=["AVERAGE(customer_features[churned])"])
    format: str | None = Field(None, description="Power BI format string.", examples=["0.0%"])


class Relationship(SpecModel):
    """A relationship of the report's semantic model: many rows of ``from`` to one row of ``to``."""

    from_: str = Field(
        alias="from",
        description="`table.column` on the many side: a table of the report and one of its columns.",
        examples=["predictions.customer_id"],
    )
    to: str = Field(
        description=(
            "`table.column` on the one side: its values must be unique (Power BI refuses the refresh "
            "otherwise)."
        ),
        examples=["customer_features.customer_id"],
    )


class Report(SpecModel):
    name: str = Field(description="Report name in Power BI.", examples=["churn-dashboard"])
    workspace: str = Field(description="Power BI workspace.")
    tables: list[str] = Field(min_length=1, description="Transforms, sources, or `predictions`.")
    relationships: list[Relationship] = Field(
        default_factory=_empty_list,
        description=(
            "Relationships between the report's tables, besides those inferred from a shared key column "
            "(a column two tables have that is unique in one of them: a single-column `unique` expectation "
            "or merge key). A pair of tables is related once; the relationships form no loop."
        ),
        examples=[[{"from": "predictions.customer_id", "to": "customer_features.customer_id"}]],
    )
    measures: dict[str, Measure] = Field(default_factory=dict, description="DAX measures by name.")
    pages: list[Page] = Field(default_factory=_empty_list, description="The report's pages.")


# --- state, moved and the whole spec -----------------------------------------------------


class StateConfig(SpecModel):
    """Where plan/apply keep state: a local file (default) or an Azure Blob (lease-locked)."""

    backend: Literal["local", "azure_blob"] = Field(
        "local",
        description="local: a file under .mlspec/; azure_blob: a blob, lease-locked, for teams and CI.",
    )
    storage_account: str | None = Field(None, description="Storage account of the azure_blob backend.")
    container: str = Field("mlspec-state", description="Blob container of the azure_blob backend.")
    prefix: str | None = Field(None, description="Blob name prefix; the project name when absent.")


class Moved(SpecModel):
    from_: str = Field(
        alias="from", description="The old resource address.", examples=["synapse.notebook.features"]
    )
    to: str = Field(description="The new resource address.", examples=["synapse.notebook.customer_features"])


class RunSettings(SpecModel):
    """How ``mlspec run`` executes the project on the local engines; no Azure artifact depends on it."""

    seed: str | None = Field(
        None,
        description=(
            "A Python program, relative to the spec, that fills the raw sources when they are empty. "
            "It is run as `python <seed> --lake <lake root>` with the project folder as working "
            "directory and MLSPEC_SOURCES holding JSON {source name: {url, path, format}} for the "
            "environment being run (path: the source's local folder), so it never hard-codes lake paths."
        ),
        examples=["data/generate.py"],
    )


class MLProject(SpecModel):
    """An mlspec project: lake data → Spark transforms → training → gate → AKS → monitoring → reports."""

    api_version: Literal["mlspec/v1"] = Field(alias="apiVersion", description="Always mlspec/v1.")
    project: Project = Field(description="Name, owner and tags of the project.")
    variables: dict[str, Variable] = Field(
        default_factory=dict,
        description="Declared variables, used as ${var.NAME}; every one used must be declared.",
        examples=[{"lake_account": {"default": "contosolakedev"}}],
    )
    workspace: Workspace = Field(
        default_factory=Workspace, description="The existing Azure resources the project deploys into."
    )
    environments: dict[str, Environment] = Field(
        default_factory=dict,
        description="Environments by name (short lowercase), each an overlay on this spec; `local` always exists.",
        examples=[{"dev": {}, "prod": {"protect": True}}],
    )
    access: Access = Field(default_factory=Access, description="RBAC grants and Key Vault secret references.")
    sources: dict[str, Source] = Field(
        default_factory=dict, description="Lake data read by the transforms, by name."
    )
    transforms: dict[str, Transform] = Field(
        default_factory=dict, description="Spark transforms by name; each becomes a Synapse notebook."
    )
    model: ModelSpec | None = Field(None, description="The model trained and gated in Azure ML.")
    deployment: Deployment | None = Field(None, description="Serving the model on AKS.")
    monitoring: Monitoring | None = Field(None, description="Alerts, notifications and retraining.")
    reports: list[Report] = Field(default_factory=_empty_list, description="Power BI reports.")
    state: StateConfig = Field(default_factory=StateConfig, description="State backend for plan/apply.")
    moved: list[Moved] = Field(
        default_factory=_empty_list, description="Renamed resources: old address → new."
    )
    run: RunSettings = Field(
        default_factory=RunSettings, description="How `mlspec run` works on the local engines."
    )
