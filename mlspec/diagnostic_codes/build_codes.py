"""MLS6xx: what ``mlspec build`` reports, located at the spec line that caused it."""

from __future__ import annotations

from mlspec.diagnostic_codes.entries import (
    BUILD,
    BUILD_ACCESS,
    BUILD_AKS,
    BUILD_AZUREML,
    BUILD_MONITOR,
    BUILD_POWERBI,
    BUILD_SYNAPSE,
    ERROR,
    ERROR_OR_WARNING,
    WARNING,
    DiagnosticCode,
    code,
)

_REPORT_IT = "a bug in mlspec, not in the spec: please report it with the spec"

BUILD_CODES: tuple[DiagnosticCode, ...] = (
    # --- the build itself -----------------------------------------------------------------------------
    code(
        "MLS601",
        ERROR,
        BUILD,
        "unsafe artifact path",
        "an artifact cannot be written because its path, made from names in the spec, would leave the build "
        "folder: names must not contain path separators or `..`",
    ),
    code(
        "MLS602",
        ERROR,
        BUILD,
        "will not write into the output folder",
        "`build`/`run` will not write into the output folder: it is a symlink, a folder inside the project "
        "that a symlink leads out of, it is, contains or is inside the project folder or a file the spec "
        "names, it is a file, or it is a non-empty folder mlspec did not create. mlspec writes "
        "`.mlspec-build` into every build folder and replaces only folders carrying it (or empty ones): a "
        "regular file, not a symlink, holding the text mlspec writes. A `manifest.json` alone does not make "
        "a folder a build (a build of an older mlspec that wrote no marker is deleted once by hand)",
        exit_code=2,
    ),
    code(
        "MLS603",
        ERROR,
        BUILD,
        "writing the build failed",
        "writing the build failed, e.g. the disk is full: nothing is swapped in, the previous build is left "
        "as it was, and the staging folder is removed",
        exit_code=2,
    ),
    code(
        "MLS604",
        ERROR,
        BUILD,
        "`build --check` without the SDK validators installed",
        "`build --check` runs every artifact through the Azure SDKs' own loaders and models (azure-ai-ml, "
        "azure-synapse-artifacts, azure-mgmt-monitor, kubernetes-validate, nbformat, jsonschema); when one "
        "is missing it names it and the extra that installs them all (`azure-checks`), before building",
        exit_code=2,
    ),
    code(
        "MLS605",
        ERROR,
        BUILD,
        "an output marker nothing in the build satisfies",
        "an artifact holds an output marker (`mlspec:output:<address>.<attribute>`, a value known only "
        "after another resource is applied) that is malformed, names a resource this build does not create "
        "or an attribute its kind does not report, or names a resource the needing one does not depend on; "
        "the message names the file and the marker. Set the value in the spec where it has a field "
        "(`workspace.tenant_id`, `deployment.identity.client_id`); otherwise the renderer is at fault: "
        f"{_REPORT_IT}",
    ),
    code(
        "MLS606",
        WARNING,
        BUILD,
        "a model-metric alert without ground truth on Azure",
        "a `model_metric` alert compares predictions with true outcomes; on Azure the monitoring job joins "
        "them from `monitoring.ground_truth` (JSON lines `{request_id, row, target}` in a lake folder). "
        "Without it the alert never fires there; a local run joins the replayed traffic's ground truth",
    ),
    code(
        "MLS608",
        ERROR_OR_WARNING,
        BUILD,
        "the scoring image's lock file does not match",
        "the spec's lock file (`mlproject.lock.json` beside it, written by `mlspec lock`) cannot be read, or was "
        "made from other inputs (the image's requirement set, the model's pip list, its Python or the base "
        "image's platform): the image then installs version ranges, so rerunning the ACR task could install "
        "other versions. A warning in `validate` and `build`; an error in `mlspec lock --check`. Without a "
        "lock file the image installs the ranges silently: locking is opted into with `mlspec lock`",
    ),
    code(
        "MLS609",
        ERROR_OR_WARNING,
        BUILD,
        "`mlspec lock` could not lock the scoring image's packages",
        "resolving the requirement set failed (pip found no version or no wheel for linux/amd64 and the "
        "image's Python, the package index could not be reached, or pip is older than 22.2), or there is no "
        "pinned base image for the model's Python (errors); resolving on a machine that is not Linux x86_64, "
        "where pip evaluates environment markers for this machine rather than the image, is a warning",
    ),
    code(
        "MLS699",
        ERROR,
        BUILD,
        "internal error",
        "the compiler produced something inconsistent (e.g. a resource that depends on one the build does "
        f"not produce); {_REPORT_IT}",
    ),
    # --- Synapse --------------------------------------------------------------------------------------
    code(
        "MLS610",
        ERROR,
        BUILD_SYNAPSE,
        "transform code cannot be read",
        "the file named by `transforms.<t>.python` cannot be read at build time (not UTF-8, an I/O error, or "
        "it fails the MLS413 checks, in which case it is refused at its field and never read)",
    ),
    code(
        "MLS611",
        ERROR,
        BUILD_SYNAPSE,
        "transform code is not valid Python",
        "the file named by `transforms.<t>.python` does not parse as Python (the message gives the line and "
        "the parser's reason)",
    ),
    code(
        "MLS612",
        ERROR,
        BUILD_SYNAPSE,
        "transform code defines no `transform` function",
        "the file named by `transforms.<t>.python` defines no top-level function "
        "`transform(spark, **inputs)` returning a DataFrame (inputs are passed by name)",
    ),
    code(
        "MLS613",
        ERROR,
        BUILD_SYNAPSE,
        "a column type is not a Spark SQL type",
        "a column type in a `schema` is not a Spark SQL type, e.g. `string`, `int`, `bigint`, `double`, "
        "`decimal(10,2)`, `boolean`, `date`, `timestamp`",
    ),
    code(
        "MLS614",
        ERROR,
        BUILD_SYNAPSE,
        "a name Synapse does not allow",
        "a notebook, pipeline activity or pipeline name (made from the transform or project name) is longer "
        "than Synapse allows, or does not start with a letter, digit or underscore, or contains one of "
        "`. + ? / < > * % & :` or `\\`",
    ),
    code(
        "MLS615",
        ERROR,
        BUILD_SYNAPSE,
        "a rendered notebook cell is not valid",
        f"a cell of a rendered notebook has a source that is not a list of lines, or a code cell that is not "
        f"valid Python; {_REPORT_IT}",
    ),
    code(
        "MLS616",
        ERROR,
        BUILD_SYNAPSE,
        "a Synapse notebook, pipeline or activity is missing",
        "a transform without a notebook or without an activity in the pipeline, transforms without a "
        "pipeline, a notebook whose `.ipynb` twin is missing or has other cells, or an activity that runs a "
        "notebook the build does not produce",
    ),
    code(
        "MLS617",
        ERROR,
        BUILD_SYNAPSE,
        "pipeline activity dependencies are wrong",
        "a pipeline activity depends on an unknown activity, on other activities than its transform's "
        "inputs, or the activities depend on each other in a cycle",
    ),
    code(
        "MLS618",
        ERROR,
        BUILD_SYNAPSE,
        "notebook parameters do not match",
        "a notebook has not exactly one cell tagged `parameters`, or an activity passes a pipeline parameter "
        "that is not declared or a parameter the notebook does not set",
    ),
    code(
        "MLS619",
        ERROR,
        BUILD_SYNAPSE,
        "no Spark pool",
        "a notebook or pipeline activity has no Spark pool: set `workspace.spark_pool` or the transform's "
        "`spark.pool`",
    ),
    # --- Azure ML -------------------------------------------------------------------------------------
    code(
        "MLS620",
        ERROR,
        BUILD_AZUREML,
        "the Azure ML pipeline job does not hold together",
        "a rendered Azure ML file is not readable YAML, or the pipeline job is not a mapping of type "
        "`pipeline`, its `settings.default_compute` is not the rendered cluster, its inputs or outputs are "
        "not typed data, it has no jobs, a `${{parent...}}` binding names an input, output or step that does "
        "not exist, or steps read their own or each other's outputs in a cycle",
    ),
    code(
        "MLS621",
        ERROR,
        BUILD_AZUREML,
        "an Azure ML command component is not valid",
        "a component is not a mapping of type `command`, has no command, a command binding that is not "
        "`inputs.<name>`/`outputs.<name>` or that the component does not declare, a port of the wrong type, "
        "no code folder or one that ships no files or not the script the command runs, or an environment "
        "that is not the rendered one",
    ),
    code(
        "MLS622",
        ERROR,
        BUILD_AZUREML,
        "a pipeline step does not match its component",
        "a step (`jobs.<step>`) is not a mapping, names no component file or one that is not rendered, has "
        "an unknown key or a type other than `command`, passes inputs or outputs its component does not "
        "declare, or does not pass a required input",
    ),
    code(
        "MLS623",
        ERROR,
        BUILD_AZUREML,
        "Azure ML binding syntax where no binding belongs",
        "a value in a rendered Azure ML file holds binding syntax (`${{` or `$[[`), typically from a spec "
        "value, where Azure ML would try to resolve it",
    ),
    code(
        "MLS624",
        ERROR,
        BUILD_AZUREML,
        "the retrain schedule is not valid",
        "the retrain schedule is not a mapping with a cron trigger, its cron expression is not valid, its "
        "time zone is not UTC (the spec's cron is UTC), or it does not create the rendered pipeline job",
    ),
    code(
        "MLS625",
        ERROR_OR_WARNING,
        BUILD_AZUREML,
        "the model monitor is not valid",
        "the model monitor schedule has no recurrence trigger (frequency, positive interval), no monitoring "
        "signals, a signal of an unknown type, without metric thresholds, with a metric that is not one of "
        "its type's or a threshold below 0, or production/reference data with an invalid `data_context` or "
        "a `data_window` that is not an ISO 8601 duration (errors); an alert whose operator points the other "
        "way than Azure ML alerts — a distance or rate alerts when it rises, a statistical test's p-value "
        "when it falls — is a warning",
    ),
    code(
        "MLS626",
        ERROR_OR_WARNING,
        BUILD_AZUREML,
        "the training script cannot be used",
        "the file named by `model.training.script` cannot be read at build time (not UTF-8, an I/O error, or "
        "it fails the MLS413 checks, in which case it is refused at its field and never read): an error; a "
        "script that is not valid Python (the line is given) is a warning",
    ),
    code(
        "MLS627",
        ERROR,
        BUILD_AZUREML,
        "training data in a format the prepare step does not read",
        "`model.training.data` is in a format the prepare step does not read (it reads parquet, delta, csv "
        "and json)",
    ),
    code(
        "MLS628",
        ERROR,
        BUILD_AZUREML,
        "a training argument cannot be passed",
        "a feature name contains a comma (training scripts get `--features` comma-separated), or an "
        'evaluation gate is not a comparison like `">= 0.80"`',
    ),
    code(
        "MLS629",
        WARNING,
        BUILD_AZUREML,
        "statistic alerts without a prediction log: no monitoring job",
        "drift, data-quality and model-metric alerts need the serving log as production data: without "
        "`deployment.log_predictions.path` (or without a deployment) no monitoring job or model monitor is "
        "rendered, and their alert rules are left out, since nothing would write the rows they read",
    ),
    # --- AKS ------------------------------------------------------------------------------------------
    code(
        "MLS630",
        ERROR,
        BUILD_AKS,
        "resource requests and limits",
        "a container has no cpu or memory request or limit, one that is not a Kubernetes quantity, a "
        "request of 0 (the autoscaler scales on a share of the CPU request; a memory request is the limit "
        "when none is set), or a request more than its limit (a limit is at least the request, or none)",
    ),
    code(
        "MLS631",
        ERROR,
        BUILD_AKS,
        "selectors do not match the pods",
        "the selector of a Deployment, PodDisruptionBudget or NetworkPolicy does not match the labels of the "
        "endpoint's pods",
    ),
    code(
        "MLS632",
        ERROR,
        BUILD_AKS,
        "a Service selects no pod or a port the pods do not expose",
    ),
    code(
        "MLS633",
        ERROR,
        BUILD_AKS,
        "a manifest refers to an object that is not rendered",
        "a HorizontalPodAutoscaler scales a workload that is not rendered or has `minReplicas` above "
        "`maxReplicas`, or a Deployment runs as a service account, reads a ConfigMap or mounts a "
        "SecretProviderClass that is not rendered",
    ),
    code(
        "MLS634",
        ERROR,
        BUILD_AKS,
        "Key Vault secrets are not mounted correctly",
        "`auth: key` without `workspace.key_vault` (the endpoint key is read from it, not the spec), secrets "
        "from more than one Key Vault (a SecretProviderClass mounts from one), a secret mounted at two "
        "versions, or a rendered SecretProviderClass that is missing, does not parse as the CSI driver "
        "expects, does not mount a secret the deployment names, reads another vault, or is not mounted by "
        "the Deployment",
    ),
    code(
        "MLS635",
        ERROR,
        BUILD_AKS,
        "the image or the model version a Deployment serves is not pinned",
        "an image is not from the project's own registry, is not pinned by digest (a Deployment runs the "
        "digest its ACR task pushed, `@sha256:...`, never a tag a rerun task could move), or is not pushed by "
        "the project's ACR task (`acr/task.yaml`, which tags it by content); or a Deployment does "
        "not pin the model version it serves in its own pod template (`MODEL_VERSION`, a version number or "
        "the training pipeline's output, and `MODEL_URI` naming it, never `latest`), or the shared ConfigMap "
        "sets them for every rollout slot",
    ),
    code(
        "MLS636",
        ERROR,
        BUILD_AKS,
        "the restricted Pod Security Standard is not met",
        "a pod or container `securityContext` field the restricted Pod Security Standard requires is missing, "
        "a container does not drop ALL capabilities, host namespaces are used, a volume type is not allowed, "
        "or the namespace does not enforce the restricted standard",
    ),
    code(
        "MLS637",
        ERROR,
        BUILD_AKS,
        "a secret value would go into the manifests",
        "a manifest value looks like a credential, a secret-named key holds a literal value (rather than "
        "naming a mounted file), or a Kubernetes Secret would put secret values into the build",
    ),
    code(
        "MLS638",
        ERROR_OR_WARNING,
        BUILD_AKS,
        "the deployment cannot be rendered as written",
        "the namespace belongs to the cluster's own components (`kube-*` and the like), `network.subnet` is "
        "not an Azure subnet name, the deployment has no model section to serve, a pip entry cannot go into "
        "the image's `requirements.txt`, the Python version cannot be an image base, or a name cannot be put "
        "into the image build safely, or a rollout slot without a pinned model version in a build that renders "
        "no training pipeline to register one (errors); conda packages, which the pip-built serving image "
        "does not install, are a warning",
    ),
    code(
        "MLS639",
        ERROR_OR_WARNING,
        BUILD_AKS,
        "rollout and network of the endpoint",
        "`max_surge` and `max_unavailable` both 0 (a rolling update could never start), a Service that would "
        "get a public load balancer, or one not placed in `network.subnet` (errors); a canary whose pod "
        "counts give it another share of requests than `canary_percent`, or an empty `network.allow_from` "
        "(any caller that reaches the load balancer can call the endpoint) are warnings",
    ),
    # --- Azure Monitor --------------------------------------------------------------------------------
    code(
        "MLS640",
        ERROR,
        BUILD_MONITOR,
        "an alert window or frequency Azure Monitor does not accept",
        "the window of an alert rule is not one Azure Monitor accepts for its kind, or the evaluation "
        "frequency does not fit the window (the message lists what is allowed)",
    ),
    code(
        "MLS641",
        ERROR,
        BUILD_MONITOR,
        "action group short name too long",
        "the action group's short name, made from `project.name`, is not 1…12 characters",
    ),
    code(
        "MLS642",
        ERROR,
        BUILD_MONITOR,
        "an alert rule notifies no action group of the template",
        "an alert rule names an action group the template lacks, or notifies none",
    ),
    code(
        "MLS643",
        ERROR,
        BUILD_MONITOR,
        "a log alert's query is empty or reads an undeclared table",
    ),
    code(
        "MLS644",
        ERROR,
        BUILD_MONITOR,
        "an alert's signal needs a workspace resource that is not set",
        "an alert watches a signal measured on a workspace resource (e.g. `workspace.application_insights`, "
        "`workspace.kubernetes`) that is not set",
    ),
    code(
        "MLS645",
        ERROR,
        BUILD_MONITOR,
        "a webhook URL carries a credential",
        "a `monitoring.notify.webhook` URL carries a credential, which would be stored in the ARM template in "
        "clear: use a webhook that authenticates otherwise (e.g. Entra ID), or a Logic App receiver",
    ),
    code(
        "MLS646",
        WARNING,
        BUILD_MONITOR,
        "an alert in `retrain.on_alerts` says another action",
        "an alert listed in `monitoring.retrain.on_alerts` says another `action` than `retrain`: it retrains "
        "all the same (write `action: retrain` to say so)",
    ),
    code(
        "MLS648",
        WARNING,
        BUILD_MONITOR,
        "more receivers than an action group takes",
        "`monitoring.notify` lists more than 1,000 e-mail addresses or more than 10 webhooks; they all go into "
        "the project's one Azure Monitor action group, which takes no more (Azure Monitor's service limits)",
    ),
    code(
        "MLS647",
        ERROR,
        BUILD_MONITOR,
        "alert-triggered retraining without a retrain schedule",
        "alert-triggered retraining re-runs the Azure ML retrain schedule's pipeline job, and there is none: "
        "set `monitoring.retrain.schedule`",
    ),
    # --- access ---------------------------------------------------------------------------------------
    code(
        "MLS650",
        ERROR,
        BUILD_ACCESS,
        "a role has no built-in role definition GUID",
        "a grant's role has no role definition GUID, or a rendered role assignment names a role definition "
        "id that is not a built-in role GUID",
    ),
    code(
        "MLS651",
        ERROR,
        BUILD_ACCESS,
        "two role assignments would be the same",
        "a grant repeats another (same principal, role and scope: a role assignment exists once), or two "
        "rendered role assignments would have the same name",
    ),
    code(
        "MLS652",
        ERROR,
        BUILD_ACCESS,
        "a grant scope cannot be made an Azure resource scope",
        "a grant's `scope` cannot be turned into the Azure resource id the role assignment is made on (the "
        "message says why)",
    ),
    code(
        "MLS653",
        WARNING,
        BUILD_ACCESS,
        "the scoring identity is given by client id only",
        "`deployment.identity` has a `client_id` but no `name`: mlspec cannot create the federated credential "
        "the pods' token exchange needs, and without `object_id` it cannot grant the identity its roles (Reader "
        "on the Azure ML workspace to load the model, Key Vault Secrets User): add `name` (the identity in "
        "`workspace.resource_group`)",
    ),
    code(
        "MLS654",
        ERROR,
        BUILD_ACCESS,
        "a client id where an object id belongs",
        "`deployment.identity.object_id` equals its `client_id`, or a grant's principal is the scoring "
        "identity's client id: a role assignment names the identity's object (principal) id, a different GUID",
    ),
    # --- Power BI -------------------------------------------------------------------------------------
    code(
        "MLS660",
        ERROR,
        BUILD_POWERBI,
        "a column or field is not in the semantic model",
        "a report names a column its table does not have (the message lists the columns), or a rendered "
        "visual uses a field that is not in the semantic model",
    ),
    code(
        "MLS661",
        ERROR,
        BUILD_POWERBI,
        "a name is declared twice in the semantic model",
        "two columns of a table with one name (names ignore case), a measure declared twice or in two tables, "
        "a measure with the name of a column of its table, a table declared twice, or a TMDL table file that "
        "does not start with a quoted table declaration",
    ),
    code(
        "MLS662",
        ERROR,
        BUILD_POWERBI,
        "a column or measure name cannot go into TMDL",
        "a column or measure name is empty or contains a line break or control character",
    ),
    code(
        "MLS663",
        WARNING,
        BUILD_POWERBI,
        "a visual names neither a measure nor a column: BLANK() placeholder",
        "a visual's `measure` or `y` names something that is neither a measure of its report, nor an "
        "aggregate shorthand, nor a column of the report's tables: a placeholder measure (`BLANK()`) "
        "stands in for it, reported at the visual's field; declare it under `reports[<i>].measures`",
    ),
    code(
        "MLS664",
        ERROR,
        BUILD_POWERBI,
        "a report name cannot be a PBIP folder name",
        "a report name cannot be a folder name, or two reports would get the same folder (names differing "
        "only in case or ` `/`_` clash)",
    ),
    code(
        "MLS665",
        ERROR,
        BUILD_POWERBI,
        "a measure's DAX expression cannot go into TMDL",
        "a measure's DAX expression is empty or contains three backticks (TMDL's verbatim-expression delimiter) "
        "or a control character",
    ),
    code(
        "MLS666",
        ERROR,
        BUILD_POWERBI,
        "a measure's format string cannot go into TMDL",
        "a measure's format string is empty or contains a line break or control character",
    ),
    code(
        "MLS667",
        WARNING,
        BUILD_POWERBI,
        "a column not known to be in its table: declared as text",
        "a visual names a column that is not a known column of a table whose columns are open (the "
        "predictions log holds the features, the prediction and what the scoring server adds): it is "
        "declared as a text column",
    ),
    code(
        "MLS668",
        ERROR,
        BUILD_POWERBI,
        "a PBIP JSON file names no `$schema`",
        f"a rendered `.json`, `.pbip`, `.pbir` or `.pbism` file names no `$schema`; {_REPORT_IT}",
    ),
    code(
        "MLS669",
        ERROR,
        BUILD_POWERBI,
        "a column name found in several of the report's tables",
        "a visual names a column that its own table does not have and several of the report's other tables "
        "do: write `table.column` (the message lists the candidates)",
    ),
    code(
        "MLS670",
        ERROR,
        BUILD_POWERBI,
        "a relationship the semantic model cannot hold",
        "a declared relationship (`reports[].relationships`) whose end is not `table.column` of a table of "
        "the report, that joins a table to itself or columns of two data types, relates two tables that "
        "are related already, or closes a loop of relationships (Power BI filters along one path)",
    ),
    code(
        "MLS671",
        ERROR,
        BUILD_POWERBI,
        "an aggregate shorthand DAX cannot compute",
        "a visual's `sum|avg|min|max|count|distinct_count|median(column)` names another function, "
        "aggregates a column DAX refuses (sum, avg or median of text, dates or booleans; min or max of "
        "booleans; anything of binary), or stands where a column belongs (`x`, `columns`)",
    ),
    code(
        "MLS680",
        ERROR,
        BUILD,
        "an alert queries a table nothing writes",
        "a log alert queries a custom Log Analytics table (`<Name>_CL`) that the build does not declare, "
        "route into through a data collection rule, or send rows to from a rendered job, so the alert "
        "could never fire. mlspec's monitoring job writes `MlspecModelMonitoring_CL` when the deployment "
        "logs predictions (`deployment.log_predictions`) and `workspace.log_analytics` is set",
    ),
    code(
        "MLS681",
        ERROR,
        BUILD,
        "an artifact reads a lake path nothing writes",
        "an Azure ML job or monitor input, or a Power BI query, reads an `abfss://` location that is "
        "neither a spec source, a transform's output nor the deployment's prediction log: it would read "
        "an empty folder. Point it at one of those",
    ),
    code(
        "MLS682",
        ERROR,
        BUILD,
        "an ARM resource names a resource it does not depend on",
        "a rendered ARM resource names another resource of the build in an expression (`resourceId`, "
        "`reference`) without depending on it, so a first deploy may apply it before that resource exists; "
        f"{_REPORT_IT}",
    ),
)
