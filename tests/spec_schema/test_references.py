"""References by name (MLS300-MLS316): a name that does not resolve is an error at the reference."""

from __future__ import annotations

import pytest

from mlspec.diagnostics import Severity

from .spec_text import CONTRACT, Validate, contract_with

MODEL_HEADER = "\nmodel:                           # Azure ML\n"


def with_transforms(*snippets: str, base: str = CONTRACT) -> str:
    """The spec with extra transforms (YAML snippets indented as transforms entries) appended."""
    assert base.count(MODEL_HEADER) == 1
    return base.replace(MODEL_HEADER, "".join(snippets) + MODEL_HEADER)


def transform(name: str, inputs: str, sql: str = "SELECT customer_id FROM customers") -> str:
    return (
        f"  {name}:\n    inputs: {inputs}\n    sql: {sql}\n"
        f'    output: {{path: "abfss://curated@${{var.lake_account}}.dfs.core.windows.net/churn/{name}/"}}\n'
    )


# --- datasets and the transform DAG ---------------------------------------------------------------


def test_transform_named_like_a_source_is_reported_at_its_key(validate: Validate) -> None:
    text = with_transforms(transform("web_logs", "[customers]"))
    found = validate(text).only(
        "MLS300", "'web_logs' is both a source and a transform", "web_logs:\n    inputs: [customers]"
    )
    assert found.hint is not None and "another name" in found.hint


def test_transform_reading_another_transform_is_accepted(validate: Validate) -> None:
    text = with_transforms(
        transform("weekly", "[customer_features]", "SELECT customer_id, visits FROM customer_features")
    )
    validate(text).assert_clean()


def test_unknown_transform_input_is_reported_with_did_you_mean(validate: Validate) -> None:
    text = contract_with(("inputs: [customers, web_logs]", "inputs: [customers, web_log]"))
    found = validate(text).only(
        "MLS301", "transform 'customer_features' reads unknown input 'web_log'", "web_log]"
    )
    assert found.hint == "did you mean 'web_logs'?"


def test_unknown_input_without_close_match_lists_the_known_datasets(validate: Validate) -> None:
    text = contract_with(("inputs: [customers, web_logs]", "inputs: [customers, zzz]"))
    found = validate(text).only("MLS301", "reads unknown input 'zzz'", "zzz]")
    assert found.hint == "known: call_audio, customer_features, customers, web_logs"


def test_transform_reading_itself_is_reported(validate: Validate) -> None:
    text = with_transforms(transform("loop", "[customers, loop]"))
    validate(text).only("MLS307", "transform 'loop' reads itself", "loop]")


def test_transform_cycle_is_reported_once_with_its_path(validate: Validate) -> None:
    text = with_transforms(transform("a_feats", "[b_feats]"), transform("b_feats", "[a_feats]"))
    found = validate(text).only("MLS307", "transforms form a cycle: a_feats → b_feats → a_feats", "a_feats]")
    assert found.hint is not None and "DAG" in found.hint


def test_longer_transform_cycle_is_reported_once(validate: Validate) -> None:
    text = with_transforms(transform("t1", "[t3]"), transform("t2", "[t1]"), transform("t3", "[t2]"))
    validate(text).only("MLS307", "transforms form a cycle: t1 → t3 → t2 → t1", "t1]")


def test_a_chain_of_thousands_of_transforms_listed_from_its_end_is_checked_without_recursing(
    validate: Validate,
) -> None:
    # each reads the next one listed: the cycle search walks 2,000 deep from the first
    chain = [transform(f"c{i}", f"[c{i + 1}]" if i < 1999 else "[customers]") for i in range(2000)]
    result = validate(with_transforms(*chain))
    assert not [d for d in result.diagnostics if d.severity is Severity.ERROR]
    looped = [*chain[:-1], transform("c1999", "[c0]")]
    found = validate(with_transforms(*looped)).only("MLS307", "transforms form a cycle: ", "c0]")
    assert "c0 → c1 → c2 → c3 → c4 → … → c1995 → c1996 → c1997 → c1998 → c1999 → c0 (2000 transforms)" in (
        found.message
    )


def test_a_cycle_of_thirteen_is_named_whole_and_one_of_fourteen_by_its_ends(validate: Validate) -> None:
    ring = [transform(f"r{i}", f"[r{(i + 1) % 13}]") for i in range(13)]
    whole = " → ".join([*(f"r{i}" for i in range(13)), "r0"])
    validate(with_transforms(*ring)).only("MLS307", f"transforms form a cycle: {whole}", "r0]")
    ring = [transform(f"r{i}", f"[r{(i + 1) % 14}]") for i in range(14)]
    cut = "r0 → r1 → r2 → r3 → r4 → … → r9 → r10 → r11 → r12 → r13 → r0 (14 transforms)"
    validate(with_transforms(*ring)).only("MLS307", f"transforms form a cycle: {cut}", "r0]")


def test_unknown_training_data_is_reported_with_did_you_mean(validate: Validate) -> None:
    text = contract_with(("    data: customer_features      #", "    data: customer_feature       #"))
    found = validate(text).only(
        "MLS302", "training data 'customer_feature' is not a source or transform", "customer_feature "
    )
    assert found.hint == "did you mean 'customer_features'?"


def test_training_on_a_source_is_accepted(validate: Validate) -> None:
    text = contract_with(
        ("    data: customer_features      #", "    data: customers      #"),
        ("features: [tenure_months, monthly_charges, visits]", "features: [tenure_months, monthly_charges]"),
        ("features: [tenure_months, monthly_charges],\n", "features: [tenure_months],\n"),
    )
    validate(text).assert_clean()


# --- secrets, alerts, reports ---------------------------------------------------------------------


def test_undeclared_deployment_secret_is_reported(validate: Validate) -> None:
    text = contract_with(("  secrets: [crm_api_key]", "  secrets: [crm_api_keys]"))
    found = validate(text).only(
        "MLS303", "deployment secret 'crm_api_keys' is not declared in access.secrets", "crm_api_keys]"
    )
    assert found.hint == "did you mean 'crm_api_key'?"


def test_retrain_on_unknown_alert_is_reported(validate: Validate) -> None:
    text = contract_with(("on_alerts: [feature-drift, auc-drop]", "on_alerts: [feature-drift, auc-drops]"))
    found = validate(text).only("MLS304", "retrain.on_alerts names unknown alert 'auc-drops'", "auc-drops]")
    assert found.hint == "did you mean 'auc-drop'?"


def test_report_with_unknown_table_is_reported(validate: Validate) -> None:
    text = contract_with(
        ("tables: [customer_features, predictions]", "tables: [customer_features, predictions, customer]")
    )
    found = validate(text).only(
        "MLS305", "report 'churn-dashboard' uses unknown table 'customer'", "customer]"
    )
    assert found.hint == "did you mean 'customers'?"


def test_predictions_table_needs_logged_predictions(validate: Validate) -> None:
    text = contract_with(
        (
            "  log_predictions:\n    path: abfss://monitoring@${var.lake_account}.dfs.core.windows.net/churn/predictions/\n"
            "    sample_rate: 1.0\n",
            "",
        )
    )
    checked = validate(text)
    found = checked.one(
        "MLS305", "report table 'predictions' needs deployment.log_predictions", "predictions]"
    )
    assert checked.codes == ["MLS305", "MLS629"]  # MLS629: the build's warning that no monitor is rendered
    assert found.hint == "set deployment.log_predictions.path to log served predictions"


MEASURE_TABLE = "        table: customer_features\n"  # of the contract's churn_rate measure


def test_measure_on_a_table_the_report_does_not_list_is_reported(validate: Validate) -> None:
    text = contract_with((MEASURE_TABLE, "        table: web_logs\n"))
    found = validate(text).only(
        "MLS305",
        "measure 'churn_rate' is on table 'web_logs', which the report does not list",
        "web_logs\n",
    )
    assert found.hint == "add it to reports['churn-dashboard'].tables"


def test_measure_on_a_listed_table_is_accepted(validate: Validate) -> None:
    text = contract_with((MEASURE_TABLE, MEASURE_TABLE))
    validate(text).assert_clean()


def test_visual_reading_an_unlisted_table_is_reported(validate: Validate) -> None:
    text = contract_with(
        ("{type: card, measure: churn_rate}", "{type: card, measure: churn_rate, table: customer_feature}")
    )
    found = validate(text).only(
        "MLS305", "visual reads table 'customer_feature', which the report does not list", "customer_feature}"
    )
    assert found.hint == "did you mean 'customer_features'?"


# --- grants ---------------------------------------------------------------------------------------

SCOPE = "      scope: machine_learning    #"


def test_unknown_grant_scope_is_reported_with_did_you_mean(validate: Validate) -> None:
    text = contract_with((SCOPE, "      scope: machine_learnin     #"))
    found = validate(text).only(
        "MLS306",
        "grant scope 'machine_learnin' is not a workspace key, source or transform",
        "machine_learnin ",
    )
    assert found.hint == "did you mean 'machine_learning'?"


def test_grant_on_unset_workspace_key_is_reported(validate: Validate) -> None:
    text = contract_with((SCOPE, "      scope: application_insights #"))
    found = validate(text).only(
        "MLS306",
        "grant scope 'application_insights': workspace.application_insights is not set",
        "application_insights #",
    )
    assert found.hint == "set workspace.application_insights"


@pytest.mark.parametrize(
    "scope",
    ["resource_group", "storage_account", "key_vault", "customers", "customer_features"],
)
def test_grant_on_workspace_key_or_dataset_is_accepted(validate: Validate, scope: str) -> None:
    validate(contract_with((SCOPE, f"      scope: {scope} #"))).assert_clean()


def test_grant_on_the_subscription_is_refused_as_the_build_would(validate: Validate) -> None:
    validate(contract_with((SCOPE, "      scope: subscription #"))).only(
        "MLS652", "needs a subscription-level deployment", "subscription #"
    )


# --- monitoring -----------------------------------------------------------------------------------

RETRAIN = (
    '  retrain:\n    schedule: "0 3 * * 1"        # cron, UTC\n    on_alerts: [feature-drift, auc-drop]\n'
)


def test_retrain_action_without_retrain_section_is_reported_per_alert(validate: Validate) -> None:
    checked = validate(contract_with((RETRAIN, "")))
    for alert in ("feature-drift", "auc-drop"):
        found = checked.one(
            "MLS311",
            f"alert {alert!r} has action: retrain but monitoring.retrain is not configured",
            "retrain}",
            after=f"name: {alert}",
        )
        assert found.hint == "add `monitoring.retrain:` (a schedule and/or on_alerts)"
    assert checked.codes == ["MLS311", "MLS311"]


def test_retrain_without_model_is_reported(validate: Validate) -> None:
    model_section = CONTRACT[CONTRACT.index("model:  ") : CONTRACT.index("deployment:  ")]
    checked = validate(contract_with((model_section, "")))
    checked.one("MLS311", "monitoring.retrain needs a model section to retrain", "schedule:")
    checked.one(
        "MLS638", "the deployment serves the spec's model, but there is no model section", "target: aks"
    )
    assert checked.codes == ["MLS311", "MLS638"]


def test_duplicate_alert_name_is_reported_at_the_second(validate: Validate) -> None:
    text = contract_with(("{name: errors, signal: error_rate", "{name: high-latency, signal: error_rate"))
    validate(text).only("MLS313", "duplicate alert name 'high-latency'", "high-latency, signal: error_rate")


def test_duplicate_report_name_is_reported_at_the_second(validate: Validate) -> None:
    text = CONTRACT + "  - name: churn-dashboard\n    workspace: Other\n    tables: [customers]\n"
    validate(text).only(
        "MLS313", "duplicate report name 'churn-dashboard'", "churn-dashboard\n    workspace: Other"
    )


def test_serving_alerts_without_deployment_are_reported(validate: Validate) -> None:
    deployment_section = CONTRACT[CONTRACT.index("deployment:  ") : CONTRACT.index("monitoring:  ")]
    text = contract_with(
        (deployment_section, ""),
        ("tables: [customer_features, predictions]", "tables: [customer_features]"),
        # prod's overlay would otherwise bring back a deployment of nothing but replicas (an MLS101 there)
        ("    overrides:\n      deployment: {replicas: {min: 3, max: 20}}\n", ""),
    )
    checked = validate(text)
    checked.one(
        "MLS314",
        "alert 'high-latency' watches latency_p95_ms but there is no deployment to watch",
        "latency_p95_ms",
    )
    checked.one(
        "MLS314", "alert 'errors' watches error_rate but there is no deployment to watch", "error_rate"
    )
    # and the drift and model-metric alerts, which need a deployment's serving log, as ones that never fire
    assert checked.codes == ["MLS314", "MLS314", "MLS629", "MLS629"]
    assert ["feature-drift" in d.message or "auc-drop" in d.message for d in checked.diagnostics[2:]] == [
        True,
        True,
    ]


def test_alerts_without_anyone_notified_is_a_warning(validate: Validate) -> None:
    text = contract_with(("  notify: {email: [ml-oncall@contoso.com]}\n", ""))
    found = validate(text).only(
        "MLS315",
        "alerts are defined but nobody is notified",
        "alerts:\n    - {name: high",
        severity=Severity.WARNING,
    )
    assert found.hint == "add monitoring.notify.email or monitoring.notify.webhook"


def test_webhook_alone_counts_as_notified(validate: Validate) -> None:
    text = contract_with(
        ("notify: {email: [ml-oncall@contoso.com]}", "notify: {webhook: [https://hooks.contoso.com/ml]}")
    )
    validate(text).assert_clean()


# --- workspace needs ------------------------------------------------------------------------------

WORKSPACE_FIRST_KEY = "subscription_id: ${var.subscription_id}"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "  synapse: syn-churn-${environment.name}            # Synapse workspace\n",
            "transforms needs workspace.synapse",
        ),
        (
            "  kubernetes: aks-ml-${environment.name}            # AKS cluster\n",
            "deployment needs workspace.kubernetes",
        ),
        (
            "  container_registry: acrchurn${environment.name}\n",
            "deployment needs workspace.container_registry",
        ),
        ("  log_analytics: log-ml-${environment.name}\n", "monitoring needs workspace.log_analytics"),
    ],
)
def test_section_needing_an_unset_workspace_key_is_reported(
    validate: Validate, line: str, message: str
) -> None:
    found = validate(contract_with((line, ""))).only("MLS316", message, WORKSPACE_FIRST_KEY)
    assert found.hint is not None and found.hint.startswith("set workspace.")


def test_model_without_machine_learning_workspace_is_reported(validate: Validate) -> None:
    text = contract_with(
        ("  machine_learning: mlw-churn-${environment.name}   # Azure ML workspace\n", ""),
        (SCOPE, "      scope: resource_group #"),
    )
    validate(text).only("MLS316", "model needs workspace.machine_learning", WORKSPACE_FIRST_KEY)


def test_transform_without_any_spark_pool_is_reported_at_its_key(validate: Validate) -> None:
    text = contract_with(
        ("  spark_pool: sparkpool01                           # default Synapse Spark pool\n", ""),
        ("spark: {pool: sparkpool01, executor_size: Small,", "spark: {executor_size: Small,"),
    )
    found = validate(text).only(
        "MLS316", "transform 'customer_features' has no Spark pool", "customer_features:\n"
    )
    assert found.hint == "set workspace.spark_pool or the transform's spark.pool"


def test_transform_pool_alone_is_enough(validate: Validate) -> None:
    text = contract_with(
        ("  spark_pool: sparkpool01                           # default Synapse Spark pool\n", "")
    )
    validate(text).assert_clean()


def test_deployment_secrets_without_key_vault_is_reported(validate: Validate) -> None:
    text = contract_with(
        ("  key_vault: kv-churn-${environment.name}\n", ""),
        (
            '{key_vault: "${workspace.key_vault}", name: crm-api-key}',
            "{key_vault: kv-churn-shared, name: crm-api-key}",
        ),
    )
    validate(text).only("MLS316", "deployment secrets need workspace.key_vault", WORKSPACE_FIRST_KEY)


MINIMAL = "apiVersion: mlspec/v1\nproject: {name: abc}\n"


def test_a_spec_with_only_apiversion_and_project_is_valid(validate: Validate) -> None:
    """The contract marks only apiVersion and project as required."""
    validate(MINIMAL).assert_clean()


def test_anything_deployable_needs_the_workspace_it_deploys_into(validate: Validate) -> None:
    text = MINIMAL + (
        "sources:\n"
        '  s1: {path: "abfss://raw@acct01.dfs.core.windows.net/s1/", format: csv, schema: {a: int, y: int}}\n'
        "model:\n"
        "  name: m1\n"
        "  task: regression\n"
        "  training: {data: s1, target: y, features: [a], estimator: sklearn.linear_model.Ridge}\n"
        "  evaluation: {metrics: [rmse]}\n"
    )
    checked = validate(text)
    messages = sorted(d.message for d in checked.diagnostics if d.code == "MLS316")
    assert messages == [
        "model needs workspace.location",
        "model needs workspace.machine_learning",
        "model needs workspace.resource_group",
        "model needs workspace.subscription_id",
    ]
    for d in checked.diagnostics:
        assert d.location is not None and (d.location.line, d.location.column) == (5, 1)  # the model: key


def test_datasets_whose_names_differ_only_in_case_are_refused(validate: Validate) -> None:
    # Spark views and Power BI tables ignore case: `Customers` would replace `customers`.
    text = contract_with(
        (
            "  customers:\n",
            "  Customers:\n    format: csv\n    path: abfss://raw@${var.lake_account}.dfs.core.windows.net/x/\n  customers:\n",
        )
    )
    found = validate(text).one("MLS300", "'customers' and 'Customers' differ only in case", "customers:")
    assert found.hint is not None and "ignore case" in found.hint


def test_alert_names_that_differ_only_in_case_are_duplicates(validate: Validate) -> None:
    text = contract_with(("name: errors", "name: High-Latency"))
    validate(text).one(
        "MLS313", "duplicate alert name 'High-Latency' (alert names ignore case)", "High-Latency"
    )
