"""MLS0xx…MLS5xx: what ``mlspec validate`` reports about a spec (reading, schema, environments,
references, naming and formats, security)."""

from __future__ import annotations

from mlspec.diagnostic_codes.entries import (
    ENVIRONMENTS,
    ERROR,
    ERROR_OR_WARNING,
    NAMING,
    READ,
    REFERENCES,
    SCHEMA,
    SECURITY,
    WARNING,
    DiagnosticCode,
    code,
)

SPEC_CODES: tuple[DiagnosticCode, ...] = (
    # --- reading --------------------------------------------------------------------------------------
    code(
        "MLS000",
        ERROR,
        READ,
        "a path or file cannot be used",
        "a path does not exist or cannot be read, or the spec is not a regular file (a FIFO, `/dev/zero`, a "
        "folder); likewise a usage problem that is not in a spec: a file given as a saved plan that is not "
        "one (`mlspec plan --out` writes them; a truncated or damaged file included), `mlspec init` with an "
        "invalid project name, an unknown template or a destination that is a file or a non-empty folder, "
        "`--lake` that is not a folder",
        exit_code=2,
    ),
    code(
        "MLS001",
        ERROR,
        READ,
        "YAML syntax error",
        "YAML syntax error (with a quoting hint for unquoted `${...}` inside `{...}`/`[...]`)",
    ),
    code("MLS002", ERROR, READ, "duplicate mapping key", "duplicate mapping key (at the second occurrence)"),
    code(
        "MLS003",
        ERROR,
        READ,
        "a mapping key that is not a string",
        "a mapping key that is not a string (`1:`, `on:`, `true:`)",
    ),
    code(
        "MLS004",
        ERROR,
        READ,
        "YAML aliases expand too far or refer to themselves",
        "anchors/aliases expand past the budget (YAML bomb) or refer to themselves",
    ),
    code("MLS005", ERROR, READ, "file larger than 8 MiB"),
    code("MLS006", ERROR, READ, "not UTF-8", "not UTF-8 (at the offending byte)"),
    code(
        "MLS007",
        ERROR,
        READ,
        "tab in indentation",
        "tab in indentation (tabs inside block scalars such as `sql: |` are content and fine)",
    ),
    code("MLS008", ERROR, READ, "empty file, or top level not a mapping"),
    # --- schema ---------------------------------------------------------------------------------------
    code("MLS100", ERROR, SCHEMA, "unknown field", 'unknown field (with "did you mean")'),
    code("MLS101", ERROR, SCHEMA, "missing required field"),
    code(
        "MLS102",
        ERROR,
        SCHEMA,
        "wrong type or value",
        "wrong type or value (with YAML quoting hints), including a number out of the range the service "
        "takes — the message gives the range (e.g. `split.seed` 0…4294967295, `compute.max_nodes` 1…65000, "
        "percentages, ports) —, an integer past 64 bits or NaN/infinity in any field (free-form `params`, "
        "`options` and variables too)",
    ),
    code("MLS103", ERROR, SCHEMA, "unsupported `apiVersion`"),
    # --- environments, variables, ${...} --------------------------------------------------------------
    code("MLS201", ERROR, ENVIRONMENTS, "unknown `${...}` reference"),
    code("MLS202", ERROR, ENVIRONMENTS, "cyclic `${workspace.*}` references"),
    code(
        "MLS203",
        ERROR,
        ENVIRONMENTS,
        "a value for an undeclared variable",
        "a value for an undeclared variable (environment `variables:` or `--var`)",
    ),
    code("MLS204", ERROR, ENVIRONMENTS, "a variable used without a value in this environment"),
    code("MLS205", ERROR, ENVIRONMENTS, "unknown environment", "unknown environment (`--env`)"),
    code(
        "MLS206",
        ERROR,
        ENVIRONMENTS,
        "a top-level section that cannot be overridden per environment",
        "`apiVersion`, `environments`, `variables` or `moved` overridden per environment",
    ),
    code("MLS207", ERROR, ENVIRONMENTS, "more than one environment marked `default: true`"),
    code("MLS208", WARNING, ENVIRONMENTS, "a production-named environment without `protect: true`"),
    code(
        "MLS209",
        ERROR,
        ENVIRONMENTS,
        "a `--var-file` entry that is not a single value",
        "a `--var-file` is a YAML mapping of variable names to strings, numbers or true/false; a list, a "
        "mapping or an empty value is refused at its line (the file is read like a spec: size cap, regular "
        "files only, duplicate keys refused)",
    ),
    # --- references -----------------------------------------------------------------------------------
    code(
        "MLS300",
        ERROR,
        REFERENCES,
        "a name used both as a source and a transform, or two datasets whose names differ only in case",
    ),
    code("MLS301", ERROR, REFERENCES, "transform input is not a source or transform"),
    code("MLS302", ERROR, REFERENCES, "training data is not a source or transform"),
    code("MLS303", ERROR, REFERENCES, "deployment secret not declared in `access.secrets`"),
    code("MLS304", ERROR, REFERENCES, "`retrain.on_alerts` names an unknown alert"),
    code(
        "MLS305",
        ERROR,
        REFERENCES,
        "a report refers to something it does not have",
        "report table/measure/visual refers to something the report does not have (`predictions` needs "
        "`deployment.log_predictions`)",
    ),
    code(
        "MLS306",
        ERROR,
        REFERENCES,
        "grant scope is not a workspace key, source or transform",
        "grant scope is not a workspace key, source or transform (or that workspace key is unset)",
    ),
    code(
        "MLS307", ERROR, REFERENCES, "transforms form a cycle", "transforms form a cycle (the cycle is shown)"
    ),
    code(
        "MLS308",
        ERROR,
        REFERENCES,
        "a column not produced upstream",
        "feature, target, partition/merge key or expectation column not produced upstream (checked where "
        "columns are known: declared `schema`, or the SELECT list of simple SQL)",
    ),
    code(
        "MLS309",
        ERROR,
        REFERENCES,
        "target used as a feature, or a monitored feature that is not a training feature",
        "target used as a feature; monitored feature that is not a training feature",
    ),
    code("MLS310", ERROR, REFERENCES, "gate or alert metric not among `evaluation.metrics`"),
    code(
        "MLS311",
        ERROR,
        REFERENCES,
        "retraining without its prerequisites",
        "`action: retrain` without `monitoring.retrain`, or retrain without a model",
    ),
    code("MLS313", ERROR, REFERENCES, "duplicate alert or report name (alert names ignoring case)"),
    code("MLS314", ERROR, REFERENCES, "serving alert without a deployment"),
    code("MLS315", WARNING, REFERENCES, "alerts with nobody notified"),
    code(
        "MLS316",
        ERROR,
        REFERENCES,
        "a section needs a workspace resource that is not set",
        "a section needs a workspace resource that is not set (e.g. transforms need `workspace.synapse`)",
    ),
    code(
        "MLS317",
        ERROR,
        REFERENCES,
        "metric does not apply to the task",
        "metric does not apply to the task (e.g. `rmse` for classification)",
    ),
    code("MLS318", ERROR, REFERENCES, 'gate is not a comparison like `">= 0.80"`'),
    code("MLS319", WARNING, REFERENCES, "feature listed twice"),
    code(
        "MLS320",
        ERROR_OR_WARNING,
        REFERENCES,
        "merge mode and merge keys do not go together",
        "`mode: merge` needs `merge_keys` and Delta (errors); merge keys without merge (a warning)",
    ),
    code(
        "MLS321",
        ERROR,
        REFERENCES,
        "a grant's role is not a known Azure role",
        "a grant's role is not a known built-in Azure role name or a role definition GUID (Synapse RBAC "
        "roles are assigned inside Synapse, not through ARM)",
    ),
    code(
        "MLS322",
        ERROR,
        REFERENCES,
        "a drift metric the watched features' kind never gets",
        "a drift alert names a metric computed only for numerical features (`normalized_wasserstein_distance`, "
        "`two_sample_kolmogorov_smirnov_test`) and watches a text, boolean or date column, or one computed "
        "only for categorical features (`pearsons_chi_squared_test`) and watches a float or decimal column "
        "(column types from the declared schemas and the transforms' SQL); for `prediction_drift`, the "
        "task decides: classification predictions are categorical, regression ones numerical",
    ),
    code(
        "MLS323",
        WARNING,
        REFERENCES,
        "the estimator's package is not installed for training",
        "`model.training.estimator` comes from a package that `model.training.environment` does not list in "
        "`pip` or `conda` (conda-forge's `py-<name>` counts) and mlspec does not add (scikit-learn, with numpy "
        "and scipy; mlflow, pandas, pyarrow): the training job would fail at its import",
    ),
    # --- naming and formats ---------------------------------------------------------------------------
    code(
        "MLS401",
        ERROR,
        NAMING,
        "Azure or Kubernetes naming rule broken",
        "Azure or Kubernetes naming rule broken (length, characters), Azure tag rules included: tag names "
        "1…512 characters without `< > % & \\ ? /`, control characters or the reserved prefixes `microsoft`, "
        "`azure`, `windows`; values at most 256 characters without control characters; at most 49 project "
        "tags (Azure takes 50 a resource, mlspec sets `mlspec-project`)",
    ),
    code(
        "MLS402",
        ERROR,
        NAMING,
        "a min greater than its max",
        "a min greater than its max (executors, nodes, replicas)",
    ),
    code(
        "MLS403",
        ERROR,
        NAMING,
        "estimator not a dotted path, Python version not `3.x`, or compute size not a VM size",
        "estimator not a dotted path; Python version not `3.x`; `model.training.compute.size` not an Azure VM "
        "size name with its tier (`Standard_DS3_v2`)",
    ),
    code("MLS404", ERROR, NAMING, "not a Kubernetes quantity"),
    code("MLS405", ERROR, NAMING, "bad CIDR or private IP"),
    code(
        "MLS406",
        ERROR_OR_WARNING,
        NAMING,
        "rollout settings",
        "rollout settings (canary needs `canary_percent`; surge/unavailable format; `rollout.model_version` "
        "only with `canary` or `blue_green`, the strategies with a second slot): errors; `canary_percent` "
        "with another strategy, where it is ignored, is a warning",
    ),
    code("MLS407", ERROR, NAMING, "bad e-mail, or webhook not https", "bad e-mail; webhook not https"),
    code("MLS408", ERROR, NAMING, "bad duration", "bad duration (`5m`, `1h`, `30d`)"),
    code(
        "MLS409",
        ERROR,
        NAMING,
        "alert missing what its signal needs, or threshold out of range",
        "alert missing what its signal needs (metric, features) or threshold out of range",
    ),
    code(
        "MLS410",
        ERROR,
        NAMING,
        "bad cron expression",
        "bad cron expression (five fields, UTC), or one that never fires (a day of the month none of its "
        "months has: `0 3 31 2 *`)",
    ),
    code(
        "MLS411",
        ERROR,
        NAMING,
        "not a GUID",
        "not a GUID (subscription, tenant, principal, client id)",
    ),
    code("MLS412", ERROR, NAMING, "not an `abfss://container@account.dfs.core.windows.net/path` URL"),
    code(
        "MLS413",
        ERROR,
        NAMING,
        "a referenced code file cannot be used",
        "a referenced code file (`transforms.<t>.python`, `model.training.script`, `run.seed`) is missing, "
        "not `.py`, outside the project — lexically or through a symlink, which is resolved —, not a regular "
        "file (a FIFO, a device), or larger than 4 MiB",
    ),
    code("MLS414", ERROR, NAMING, "a `moved` entry is not a resource address"),
    code(
        "MLS415",
        ERROR,
        NAMING,
        "an alert window Azure Monitor does not accept for that signal",
        "an alert window Azure Monitor does not accept for that signal's rule: metric alerts (request rate "
        "with Application Insights) take PT1M…P1D from a fixed set, log alerts (latency, error rate, the "
        "scoring pods' cpu and memory) a fixed set up to P2D; drift, data-quality and model-metric signals "
        "take any duration (the monitoring job computes them over the window), and no window is ever "
        "rendered as another",
    ),
    # --- security -------------------------------------------------------------------------------------
    code(
        "MLS501",
        ERROR,
        SECURITY,
        "a value looks like a credential",
        "a value looks like a credential (private key, connection string with a key or password, SAS token, "
        "JWT, storage key, client secret, cloud tokens, URL with a password) — including values put in by "
        "`--var`/`MLSPEC_VAR_*`",
    ),
    code(
        "MLS502",
        ERROR,
        SECURITY,
        "a secret-named field or variable holds a literal",
        "a secret-named field (`password`, `token`, `api_key`, ...) or variable holds a literal",
    ),
    code(
        "MLS503",
        ERROR,
        SECURITY,
        "a public load balancer without `network.allow_public: true`",
        "the deployment would get a public load balancer without `network.allow_public: true`",
    ),
    code(
        "MLS504",
        WARNING,
        SECURITY,
        "a public endpoint, or `allow_public` with no effect",
    ),
    code("MLS505", WARNING, SECURITY, "`allow_from` admits every address"),
    code("MLS506", WARNING, SECURITY, "key auth on a public endpoint"),
)
