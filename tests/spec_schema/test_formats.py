"""Value formats (MLS402-MLS413): lake URLs, cron, durations, GUIDs, CIDRs, quantities, rollout, files."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlspec import api
from mlspec.diagnostics import Severity
from mlspec.spec_schema.loader import parse_spec

from .spec_text import CONTRACT, Validate, contract_with

CUSTOMERS_PATH = "    path: abfss://raw@${var.lake_account}.dfs.core.windows.net/crm/customers/"

# --- MLS412 lake URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://contosolake.dfs.core.windows.net/raw/crm/", "is not an ADLS Gen2 URL"),
        ("abfss://raw@contosolake.blob.core.windows.net/crm/", "is not an ADLS Gen2 URL"),
        ("abfss://contosolake.dfs.core.windows.net/crm/", "is not an ADLS Gen2 URL"),
        ("abfs://raw@contosolake.dfs.core.windows.net/crm/", "is not an ADLS Gen2 URL"),
        (
            "abfss://Raw@contosolake.dfs.core.windows.net/crm/",
            "container 'Raw': 3-63 lowercase letters, digits and single hyphens",
        ),
        ("abfss://rw@contosolake.dfs.core.windows.net/crm/", "container 'rw'"),
        ("abfss://raw--data@contosolake.dfs.core.windows.net/crm/", "container 'raw--data'"),
        ("abfss://raw-@contosolake.dfs.core.windows.net/crm/", "container 'raw-'"),
        (
            "abfss://raw@contoso_lake.dfs.core.windows.net/crm/",
            "storage account 'contoso_lake': lowercase letters and digits only",
        ),
        ("abfss://raw@contosolake.dfs.core.windows.net/crm/../hr/", "the path must not contain '..'"),
    ],
)
def test_bad_lake_url_is_reported_at_the_path(validate: Validate, url: str, problem: str) -> None:
    text = contract_with((CUSTOMERS_PATH, f"    path: {url}"))
    found = validate(text).only("MLS412", problem, url)
    assert found.hint == "write abfss://<container>@<account>.dfs.core.windows.net/<path>"


@pytest.mark.parametrize(
    "url",
    [
        "abfss://raw@contosolake.dfs.core.windows.net",
        "abfss://raw@contosolake.dfs.core.windows.net/",
        "abfss://raw-data-01@contosolake.dfs.core.windows.net/a/b..c/",
        "abfss://raw@contosolake.dfs.core.windows.net/year=2024/month=01/",
    ],
)
def test_lake_url_shapes_are_accepted(validate: Validate, url: str) -> None:
    validate(contract_with((CUSTOMERS_PATH, f"    path: {url}"))).assert_clean()


def test_bad_output_and_prediction_log_paths_are_reported(validate: Validate) -> None:
    text = contract_with(
        ("abfss://curated@${var.lake_account}", "abfss://Curated@${var.lake_account}"),
        (
            "abfss://monitoring@${var.lake_account}",
            "abfss://monitoring@${var.lake_account}.dfs.core.windows.net/../x/ #",
        ),
    )
    checked = validate(text)
    checked.one("MLS412", "container 'Curated'", "abfss://Curated")
    checked.one("MLS412", "the path must not contain '..'", "abfss://monitoring")
    assert checked.codes == ["MLS412", "MLS412"]


def test_interpolated_account_is_checked_at_the_reference(validate: Validate) -> None:
    """A bad value written in the spec (an environment's variables) is reported at every use."""
    text = contract_with(
        ("variables: {lake_account: contosolakedev}", "variables: {lake_account: Contoso-Lake}")
    )
    checked = validate(text)
    checked.one("MLS412", "storage account 'Contoso-Lake'", CUSTOMERS_PATH.strip()[len("path: ") :])
    checked.one("MLS401", "invalid storage account name 'Contoso-Lake'", "${var.lake_account}              #")


def test_a_bad_var_is_one_error_that_names_it_and_its_other_uses(validate: Validate) -> None:
    checked = validate(CONTRACT, variables={"lake_account": "Contoso-Lake"})
    found = checked.only(
        "MLS401", "invalid storage account name 'Contoso-Lake'", "${var.lake_account}              #"
    )
    assert "(the value of --var lake_account; it fails 5 more uses at lines" in found.message
    assert not [d for d in checked.diagnostics if d.code == "MLS412"]


# --- MLS410 cron ----------------------------------------------------------------------------------

SCHEDULE = 'schedule: "0 3 * * 1"'


@pytest.mark.parametrize(
    ("cron", "problem"),
    [
        ("0 3 * *", "has 4 fields, cron has 5"),
        ("0 3 * * 1 2024", "has 6 fields, cron has 5"),
        ("60 3 * * 1", "minute field '60': '60' is not in 0-59"),
        ("0 24 * * 1", "hour field '24': '24' is not in 0-23"),
        ("0 3 0 * 1", "day of month field '0': '0' is not in 1-31"),
        ("0 3 * 13 1", "month field '13': '13' is not in 1-12"),
        ("0 3 * * 8", "day of week field '8': '8' is not in 0-7"),
        ("*/0 3 * * 1", "minute field '*/0': step '0' must be a positive number"),
        ("0 5-1 * * 1", "hour field '5-1': range '5-1' runs backwards"),
        ("0 3 * * FRI-MON", "day of week field 'FRI-MON': range 'FRI-MON' runs backwards"),
        ("0 3 * * MONDAY", "day of week field 'MONDAY': 'MONDAY' is not in 0-7"),
        ("0 3 1,,15 * *", "day of month field '1,,15': empty list item"),
    ],
)
def test_bad_cron_is_reported_at_the_schedule(validate: Validate, cron: str, problem: str) -> None:
    text = contract_with((SCHEDULE, f'schedule: "{cron}"'))
    found = validate(text).only("MLS410", f"schedule {cron!r}: {problem}", f'"{cron}"')
    assert found.hint is not None and "five fields, UTC" in found.hint


@pytest.mark.parametrize(
    "cron",
    ["*/15 * * * *", "0 0-23/2 * * *", "30 3 1,15 * *", "0 3 * JAN-MAR MON-FRI", "0 3 * * 7", "0 3 * * sun"],
)
def test_cron_shapes_are_accepted(validate: Validate, cron: str) -> None:
    validate(contract_with((SCHEDULE, f'schedule: "{cron}"'))).assert_clean()


# --- MLS408 durations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "problem"),
    [
        ("5x", "not a duration"),
        ("1w", "not a duration"),
        ("1.5h", "not a duration"),
        ("0m", "must be longer than zero"),
        ("367d", "must be at most a year"),
    ],
)
def test_bad_alert_window_is_reported_at_the_window(validate: Validate, window: str, problem: str) -> None:
    text = contract_with(("threshold: 250, window: 5m,", f"threshold: 250, window: {window},"))
    found = validate(text).only(
        "MLS408", f"window {window!r}: {problem}", f"{window},", after="threshold: 250, window: "
    )
    assert found.hint == "a number and m, h or d: 5m, 1h, 30d"


@pytest.mark.parametrize("window", ["1m", "90m", "24h", "366d"])
def test_alert_windows_are_accepted(validate: Validate, window: str) -> None:
    """Any valid duration on a statistic signal (drift), which is not bound to Azure Monitor's window sets."""
    validate(
        contract_with(("threshold: 0.2, window: 1d,", f"threshold: 0.2, window: {window},"))
    ).assert_clean()


# --- MLS411 GUIDs ---------------------------------------------------------------------------------


def test_bad_subscription_id_is_reported_where_the_workspace_uses_it(validate: Validate) -> None:
    text = contract_with(
        (
            "subscription_id: {default: 00000000-0000-0000-0000-000000000000",
            "subscription_id: {default: my-subscription",
        )
    )
    found = validate(text).only(
        "MLS411", "subscription id 'my-subscription' is not a GUID", "${var.subscription_id}"
    )
    assert found.hint == "e.g. 00000000-0000-0000-0000-000000000000"


def test_bad_principal_object_id_is_reported(validate: Validate) -> None:
    text = contract_with(
        ("principal: {group: 00000000-0000-0000-0000-000000000000}", "principal: {group: ml-team}")
    )
    found = validate(text).only("MLS411", "principal object id 'ml-team' is not a GUID", "ml-team}")
    assert found.path == ("access", "grants", 0, "principal", "group")


def test_bad_tenant_and_client_ids_are_reported(validate: Validate) -> None:
    text = contract_with(
        ("  location: westeurope\n", '  location: westeurope\n  tenant_id: "contoso.onmicrosoft.com"\n'),
        ("  auth: key ", "  identity: {client_id: 1234-abcd}\n  auth: key "),
    )
    checked = validate(text)
    checked.one("MLS411", "tenant id 'contoso.onmicrosoft.com' is not a GUID", '"contoso.onmicrosoft.com"')
    checked.one("MLS411", "client id '1234-abcd' is not a GUID", "1234-abcd")
    assert checked.codes == ["MLS411", "MLS411", "MLS653"]  # MLS653: the build's Key Vault role warning


def test_uppercase_guids_are_accepted(validate: Validate) -> None:
    guid = "0A1B2C3D-4E5F-6A7B-8C9D-0E1F2A3B4C5D"
    text = contract_with(
        ("  location: westeurope\n", f"  location: westeurope\n  tenant_id: {guid}\n"),
        ("  auth: key ", f"  identity: {{client_id: {guid.lower()}}}\n  auth: key "),
    )
    checked = validate(text)  # the identity has no Key Vault grant: the build's warning, nothing else
    checked.only("MLS653", "identity is given by client id", guid.lower(), severity=Severity.WARNING)


# --- MLS405 networks ------------------------------------------------------------------------------

ALLOW_FROM = "allow_from: [10.10.0.0/16]"


@pytest.mark.parametrize(
    ("cidr", "problem"),
    [
        ("10.10.0.0/33", "is not a CIDR"),
        ("10.10.0.1/16", "has host bits set"),
        ("intranet", "is not a CIDR"),
        ("10.10.0/16", "is not a CIDR"),
    ],
)
def test_bad_cidr_is_reported_at_the_item(validate: Validate, cidr: str, problem: str) -> None:
    text = contract_with((ALLOW_FROM, f"allow_from: [10.0.0.0/8, {cidr}]"))
    found = validate(text).only("MLS405", f"allow_from {cidr!r}", f"{cidr}]")
    assert problem in found.message


def test_cidrs_are_accepted(validate: Validate) -> None:
    validate(
        contract_with((ALLOW_FROM, 'allow_from: [10.0.0.0/8, 192.168.1.0/24, 10.10.1.7/32, "fd00::/8"]'))
    ).assert_clean()


@pytest.mark.parametrize(
    ("ip", "message"),
    [
        ("8.8.8.8", "network.ip 8.8.8.8 is not a private address"),
        ("10.0.0.300", "network.ip '10.0.0.300' is not an IPv4 address"),
        ("fd00::1", "is not an IPv4 address"),
    ],
)
def test_bad_load_balancer_ip_is_reported(validate: Validate, ip: str, message: str) -> None:
    text = contract_with(
        ("    subnet: snet-aks-inference\n", f'    subnet: snet-aks-inference\n    ip: "{ip}"\n')
    )
    validate(text).only("MLS405", message, f'"{ip}"')


def test_private_load_balancer_ip_is_accepted(validate: Validate) -> None:
    validate(
        contract_with(
            ("    subnet: snet-aks-inference\n", "    subnet: snet-aks-inference\n    ip: 10.10.4.20\n")
        )
    ).assert_clean()


# --- MLS404 quantities ----------------------------------------------------------------------------

RESOURCES = "resources: {cpu: 500m, memory: 1Gi}"


@pytest.mark.parametrize(
    ("resources", "field", "value"),
    [
        ("{cpu: half, memory: 1Gi}", "cpu", "half"),
        ("{cpu: 500m, memory: 1GB}", "memory", "1GB"),
        ("{cpu: 500m, memory: 1 Gi}", "memory", "1 Gi"),
        ("{cpu: 500m, memory: 1Gi, cpu_limit: 2 cores}", "cpu_limit", "2 cores"),
        ("{cpu: 500m, memory: 1Gi, memory_limit: -1Gi}", "memory_limit", "-1Gi"),
    ],
)
def test_bad_kubernetes_quantity_is_reported(
    validate: Validate, resources: str, field: str, value: str
) -> None:
    text = contract_with((RESOURCES, f"resources: {resources}"))
    found = validate(text).only(
        "MLS404", f"resources.{field} {value!r} is not a Kubernetes quantity", value, after=f"{field}: "
    )
    assert found.hint is not None and "512Mi" in found.hint


@pytest.mark.parametrize(
    "resources",
    [
        '{cpu: "2", memory: 512Mi}',
        '{cpu: "0.5", memory: 1e9}',
        "{cpu: 1500m, memory: 1G, cpu_limit: '4', memory_limit: 2Gi}",
    ],
)
def test_kubernetes_quantities_are_accepted(validate: Validate, resources: str) -> None:
    validate(contract_with((RESOURCES, f"resources: {resources}"))).assert_clean()


def test_unquoted_number_quantity_is_accepted_as_kubernetes_users_write_it(validate: Validate) -> None:
    from mlspec import api
    from mlspec.spec_schema.loader import parse_spec

    text = contract_with((RESOURCES, "resources: {cpu: 0.5, memory: 1Gi, cpu_limit: 2}"))
    resolved = api.resolve(parse_spec(text, "mlproject.yaml"), "dev", environ={})
    assert resolved.ok, resolved.diagnostics
    assert resolved.model is not None and resolved.model.deployment is not None
    assert (resolved.model.deployment.resources.cpu, resolved.model.deployment.resources.cpu_limit) == (
        "0.5",
        "2",
    )


def test_boolean_quantity_is_still_a_type_error(validate: Validate) -> None:
    text = contract_with((RESOURCES, "resources: {cpu: true, memory: 1Gi}"))
    validate(text).only("MLS102", "'cpu' must be a string, got the boolean true", "true", after="cpu:")


# --- MLS406 rollout -------------------------------------------------------------------------------

ROLLOUT = "rollout: {strategy: canary, canary_percent: 10}"


def test_canary_without_percent_is_reported(validate: Validate) -> None:
    text = contract_with((ROLLOUT, "rollout: {strategy: canary}"))
    found = validate(text).only("MLS406", "a canary rollout needs canary_percent", "{strategy: canary}")
    assert found.hint == "e.g. canary_percent: 10"


def test_canary_percent_with_another_strategy_is_a_warning(validate: Validate) -> None:
    text = contract_with((ROLLOUT, "rollout: {strategy: rolling, canary_percent: 10}"))
    validate(text).only(
        "MLS406",
        "canary_percent is ignored by the rolling strategy",
        "10}",
        after="canary_percent: ",
        severity=Severity.WARNING,
    )


@pytest.mark.parametrize("percent", ["0", "100"])
def test_canary_percent_out_of_range_is_a_schema_error(validate: Validate, percent: str) -> None:
    text = contract_with((ROLLOUT, f"rollout: {{strategy: canary, canary_percent: {percent}}}"))
    validate(text).only(
        "MLS102", "'canary_percent' must be between 1 and 99", f"{percent}}}", after="canary_percent: "
    )


@pytest.mark.parametrize(
    ("field", "value"), [("max_surge", "125%"), ("max_surge", "25 %"), ("max_unavailable", "one")]
)
def test_bad_rolling_update_limits_are_reported(validate: Validate, field: str, value: str) -> None:
    text = contract_with((ROLLOUT, f'rollout: {{strategy: rolling, {field}: "{value}"}}'))
    validate(text).only("MLS406", f"rollout.{field} {value!r} must be a number or a percentage", f'"{value}"')


def test_rolling_update_limits_are_accepted(validate: Validate) -> None:
    validate(
        contract_with((ROLLOUT, 'rollout: {strategy: blue_green, max_surge: "100%", max_unavailable: 1}'))
    ).assert_clean()


# --- MLS407 notifications -------------------------------------------------------------------------


def test_plain_http_webhook_is_reported(validate: Validate) -> None:
    text = contract_with(
        (
            "notify: {email: [ml-oncall@contoso.com]}",
            "notify: {email: [ml-oncall@contoso.com], webhook: [http://hooks.contoso.com/ml]}",
        )
    )
    validate(text).only("MLS407", "webhooks must use https://", "http://hooks")


def test_bad_email_is_reported(validate: Validate) -> None:
    text = contract_with(
        ("notify: {email: [ml-oncall@contoso.com]}", "notify: {email: [ml-oncall@contoso.com, oncall]}")
    )
    validate(text).only("MLS407", "'oncall' is not an e-mail address", "oncall]")


# --- MLS402 ranges, MLS403 model formats, MLS409 alerts -------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message", "at"),
    [
        (
            "executors: {min: 2, max: 6}",
            "executors: {min: 8, max: 6}",
            "executors.min (8) > executors.max (6)",
            "{min: 8",
        ),
        (
            "min_nodes: 0, max_nodes: 4",
            "min_nodes: 5, max_nodes: 4",
            "min_nodes (5) > max_nodes (4)",
            "{cluster: cpu-cluster",
        ),
        (
            "replicas: {min: 2, max: 10,",
            "replicas: {min: 12, max: 10,",
            "replicas.min (12) > replicas.max (10)",
            "{min: 12",
        ),
    ],
)
def test_minimum_above_maximum_is_reported(
    validate: Validate, old: str, new: str, message: str, at: str
) -> None:
    validate(contract_with((old, new))).only("MLS402", message, at)


def test_equal_minimum_and_maximum_are_accepted(validate: Validate) -> None:
    validate(contract_with(("executors: {min: 2, max: 6}", "executors: {min: 6, max: 6}"))).assert_clean()


def test_estimator_must_be_a_dotted_path(validate: Validate) -> None:
    text = contract_with(
        ("estimator: sklearn.ensemble.GradientBoostingClassifier", "estimator: GradientBoostingClassifier")
    )
    validate(text).only(
        "MLS403",
        "estimator 'GradientBoostingClassifier' is not a dotted class path",
        "GradientBoostingClassifier",
    )


@pytest.mark.parametrize("version", ["2.7", "3", "python3.11", "3.11.x"])
def test_python_version_must_be_python_3(validate: Validate, version: str) -> None:
    text = contract_with(('python: "3.11"', f'python: "{version}"'))
    found = validate(text).only("MLS403", f"python {version!r} is not a Python 3 version", f'"{version}"')
    assert found.hint is not None and 'python: "3.11"' in found.hint


def test_patch_python_version_is_accepted(validate: Validate) -> None:
    validate(contract_with(('python: "3.11"', 'python: "3.12.1"'))).assert_clean()


def test_model_metric_alert_needs_a_metric(validate: Validate) -> None:
    text = contract_with(
        ("signal: model_metric, metric: roc_auc, operator", "signal: model_metric, operator")
    )
    validate(text).only("MLS409", "alert 'auc-drop' (model_metric) needs metric", "{name: auc-drop")


def test_drift_alert_needs_features(validate: Validate) -> None:
    text = contract_with(
        ("signal: data_drift, features: [tenure_months, monthly_charges],\n", "signal: data_drift,\n")
    )
    validate(text).only("MLS409", "alert 'feature-drift' (data_drift) needs features", "{name: feature-drift")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "threshold: 0.2, window: 1d",
            "threshold: 1.5, window: 1d",
            "alert 'feature-drift': data_drift thresholds are between 0 and 1",
        ),
        (
            "threshold: 0.02, window: 15m",
            "threshold: 2, window: 15m",
            "alert 'errors': error_rate thresholds are between 0 and 1",
        ),
    ],
)
def test_ratio_thresholds_must_be_between_zero_and_one(
    validate: Validate, old: str, new: str, message: str
) -> None:
    validate(contract_with((old, new))).only("MLS409", message, new.removeprefix("threshold: "))


# --- MLS413 project files -------------------------------------------------------------------------

SQL_BLOCK = CONTRACT[CONTRACT.index("    sql: |") : CONTRACT.index("    # python: transforms/features.py")]
PYTHON_TRANSFORM = (
    (SQL_BLOCK, ""),
    ("    # python: transforms/features.py", "    python: transforms/features.py"),
    (  # declared: the report reads its columns, which cannot be read off Python code
        "      partition_by: []\n",
        "      partition_by: []\n      schema: {customer_id: string, tenure_months: int,"
        " monthly_charges: double, churned: boolean, visits: bigint}\n",
    ),
)
SCRIPT_TRAINING = (
    ("    estimator: sklearn.ensemble.GradientBoostingClassifier   # built-in trainer ...\n", ""),
    ("    # script: src/train.py", "    script: src/train.py"),
)


def test_python_transform_file_must_exist(validate: Validate, tmp_path: Path) -> None:
    found = validate(contract_with(*PYTHON_TRANSFORM)).only(
        "MLS413", "file 'transforms/features.py' does not exist", "transforms/", after="    python: "
    )
    assert found.hint == f"create {tmp_path / 'transforms' / 'features.py'}"


def test_existing_python_transform_file_is_accepted(validate: Validate, tmp_path: Path) -> None:
    (tmp_path / "transforms").mkdir()
    (tmp_path / "transforms" / "features.py").write_text(
        "def transform(spark, **inputs):\n    return inputs['customers']\n"
    )
    validate(contract_with(*PYTHON_TRANSFORM)).assert_clean()


def test_training_script_must_exist_and_be_accepted_when_it_does(validate: Validate, tmp_path: Path) -> None:
    text = contract_with(*SCRIPT_TRAINING)
    validate(text).only("MLS413", "file 'src/train.py' does not exist", "src/", after="    script: ")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('train')\n")
    validate(text).assert_clean()


@pytest.mark.parametrize(
    ("file", "message"),
    [
        ("../common/features.py", "'../common/features.py' must be a relative path inside the project"),
        ("transforms/../../features.py", "must be a relative path inside the project"),
        ("/opt/features.py", "'/opt/features.py' must be a relative path inside the project"),
        ("transforms\\features.py", "must be a relative path inside the project"),
        ("transforms/features.sql", "'transforms/features.sql' must be a .py file"),
    ],
)
def test_python_transform_path_must_stay_inside_the_project(
    validate: Validate, tmp_path: Path, file: str, message: str
) -> None:
    outside = tmp_path.parent / "shared"
    outside.mkdir(exist_ok=True)
    (outside / "features.py").write_text("")
    text = contract_with(
        *PYTHON_TRANSFORM[:1],
        ("    # python: transforms/features.py", f"    python: {file}"),
        PYTHON_TRANSFORM[2],
    )
    validate(text).only("MLS413", message, file, after="    python: ")


def test_spec_text_without_a_file_does_not_check_existence() -> None:
    resolved = api.resolve(parse_spec(contract_with(*PYTHON_TRANSFORM)), environ={})
    assert resolved.ok and resolved.diagnostics == []


@pytest.mark.parametrize("path", ["churn/${{inputs.x}}/", "churn/a#b/", "churn/a?b/", "churn/a\tb/"])
def test_lake_paths_that_azure_ml_or_a_url_would_misread_are_refused(path: str) -> None:
    from mlspec.spec_schema.checks.formats import lake_url_problem

    assert "must not contain" in (
        lake_url_problem(f"abfss://outcomes@acct.dfs.core.windows.net/{path}") or ""
    )
    assert lake_url_problem("abfss://outcomes@acct.dfs.core.windows.net/churn/a b/") is None
