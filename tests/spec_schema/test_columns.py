"""Columns and metrics (MLS308-MLS310, MLS317-MLS320): features exist upstream, gates are measurable."""

from __future__ import annotations

import pytest

from mlspec.diagnostics import Severity

from .spec_text import Validate, contract_with

FEATURES = "features: [tenure_months, monthly_charges, visits]"
SQL_COLUMNS = "customer_id, tenure_months, monthly_charges, churned, visits"
OUTPUT = "      mode: overwrite                       # overwrite | append | merge (with merge_keys)\n"

# --- MLS308 features and columns ------------------------------------------------------------------


def test_feature_missing_from_sql_output_is_reported_with_the_columns(validate: Validate) -> None:
    text = contract_with((FEATURES, "features: [tenure_months, monthly_charges, visitz]"))
    found = validate(text).only("MLS308", "feature 'visitz' is not a column of 'customer_features'", "visitz")
    assert found.hint == f"columns of 'customer_features': {SQL_COLUMNS}"


def test_target_missing_from_sql_output_is_reported(validate: Validate) -> None:
    text = contract_with(("    target: churned\n", "    target: churn\n"))
    validate(text).only(
        "MLS308", "target 'churn' is not a column of 'customer_features'", "churn\n", after="    target: "
    )


def test_feature_names_match_columns_case_insensitively(validate: Validate) -> None:
    text = contract_with((FEATURES, "features: [tenure_months, monthly_charges, VISITS]"))
    validate(text).assert_clean()


def test_feature_missing_from_source_schema_is_reported(validate: Validate) -> None:
    text = contract_with(
        ("    data: customer_features      #", "    data: customers              #"),
        (FEATURES, "features: [tenure_months, monthly_charges, visits]  "),
        ("features: [tenure_months, monthly_charges],\n", "features: [tenure_months],\n"),
    )
    found = validate(text).only("MLS308", "feature 'visits' is not a column of 'customers'", "visits]  ")
    assert found.hint == "columns of 'customers': customer_id, tenure_months, monthly_charges, churned"


def test_source_without_schema_has_unknown_columns(validate: Validate) -> None:
    text = contract_with(
        ("    data: customer_features      #", "    data: web_logs               #"),
    )
    validate(text).assert_clean()  # web_logs declares no schema: nothing can be checked


def test_select_star_gives_unknown_columns(validate: Validate) -> None:
    text = contract_with(
        (
            "      SELECT c.customer_id, c.tenure_months, c.monthly_charges, c.churned,\n",
            "      SELECT *, \n",
        ),
    )
    # The column checks cannot tell; the report declares the column it cannot find as text (as build does).
    validate(text).only(
        "MLS667",
        "'tenure_months' is not a known column of 'customer_features'",
        "tenure_months, y:",
        severity=Severity.WARNING,
    )


def test_declared_output_schema_is_used_instead_of_the_sql(validate: Validate) -> None:
    schema = (
        "      schema: {customer_id: string, tenure_months: int, monthly_charges: double, churned: boolean,"
        " visit_count: long}\n"
    )
    text = contract_with((OUTPUT, OUTPUT + schema))
    checked = validate(text)
    found = checked.only("MLS308", "feature 'visits' is not a column of 'customer_features'", "visits]")
    assert found.hint is not None and found.hint.endswith("churned, visit_count")


def test_output_schema_with_the_used_columns_is_accepted(validate: Validate) -> None:
    schema = (
        "      schema: {customer_id: string, tenure_months: int, monthly_charges: double, churned: boolean,"
        " visits: long}\n"
    )
    validate(contract_with((OUTPUT, OUTPUT + schema))).assert_clean()


def test_partition_column_not_produced_is_reported(validate: Validate) -> None:
    text = contract_with(("      partition_by: []", "      partition_by: [country]"))
    found = validate(text).only(
        "MLS308", "partition_by column 'country' is not produced by transform 'customer_features'", "country"
    )
    assert found.hint == f"its columns: {SQL_COLUMNS}"


def test_merge_key_not_produced_is_reported(validate: Validate) -> None:
    text = contract_with(
        ("      mode: overwrite ", "      mode: merge\n      merge_keys: [customer_uid]\n      # ")
    )
    validate(text).only(
        "MLS308",
        "merge_keys column 'customer_uid' is not produced by transform 'customer_features'",
        "customer_uid",
    )


def test_merge_with_produced_keys_is_accepted(validate: Validate) -> None:
    text = contract_with(
        ("      mode: overwrite ", "      mode: merge\n      merge_keys: [customer_id]\n      # ")
    )
    validate(text).assert_clean()


@pytest.mark.parametrize(
    ("expectation", "column", "kind", "at"),
    [
        ("- not_null: customer_uid", "customer_uid", "not_null", "customer_uid"),
        ("- unique: [customer_id, day]", "day", "unique", "[customer_id, day]"),
        ("- accepted_values: {column: plan, values: [a, b]}", "plan", "accepted_values", "{column: plan"),
        ("- range: {column: age, min: 0}", "age", "range", "{column: age"),
    ],
)
def test_expectation_on_a_column_not_produced_is_reported(
    validate: Validate, expectation: str, column: str, kind: str, at: str
) -> None:
    text = contract_with(
        ("      - row_count: {min: 100}\n", f"      - row_count: {{min: 100}}\n      {expectation}\n")
    )
    found = validate(text).only(
        "MLS308", f"expectation on {column!r}: not a column of transform 'customer_features'", at
    )
    assert found.path == ("transforms", "customer_features", "expectations", 3, kind)


def test_expression_expectation_is_not_column_checked(validate: Validate) -> None:
    text = contract_with(
        (
            "      - row_count: {min: 100}\n",
            "      - row_count: {min: 100}\n      - expression: anything_goes > 0\n",
        )
    )
    validate(text).assert_clean()


# --- MLS309 target and monitored features ---------------------------------------------------------


def test_target_listed_as_feature_is_reported(validate: Validate) -> None:
    text = contract_with((FEATURES, "features: [tenure_months, monthly_charges, visits, churned]"))
    found = validate(text).only(
        "MLS309", "the target 'churned' is also a feature", "churned]", after="visits, "
    )
    assert found.hint is not None and "leaks" in found.hint


def test_drift_alert_on_a_feature_not_trained_is_reported(validate: Validate) -> None:
    text = contract_with(
        ("features: [tenure_months, monthly_charges],\n", "features: [tenure_months, customer_id],\n")
    )
    found = validate(text).only(
        "MLS309",
        "alert 'feature-drift' monitors 'customer_id', which is not a training feature",
        "customer_id],",
    )
    assert found.hint == "training features: tenure_months, monthly_charges, visits"


# --- MLS310, MLS317, MLS318 metrics and gates -----------------------------------------------------


def test_gate_on_a_metric_not_computed_is_reported_at_the_gate_key(validate: Validate) -> None:
    text = contract_with(('gate: {roc_auc: ">= 0.80"}', 'gate: {roc_auc: ">= 0.80", log_loss: "<= 0.4"}'))
    found = validate(text).only(
        "MLS310", "gate metric 'log_loss' is not among evaluation.metrics", "log_loss:"
    )
    assert found.hint is not None and "add 'log_loss' to model.evaluation.metrics" in found.hint


def test_alert_on_a_metric_not_computed_is_reported(validate: Validate) -> None:
    text = contract_with(("metric: roc_auc, operator", "metric: f1_macro, operator"))
    found = validate(text).only(
        "MLS310", "alert 'auc-drop' watches metric 'f1_macro', which evaluation does not compute", "f1_macro"
    )
    assert found.hint == "evaluation.metrics: roc_auc, accuracy, f1"


def test_metric_for_the_other_task_is_reported(validate: Validate) -> None:
    text = contract_with(("metrics: [roc_auc, accuracy, f1]", "metrics: [roc_auc, accuracy, f1, rmse]"))
    found = validate(text).only("MLS317", "metric 'rmse' does not apply to classification", "rmse")
    assert found.hint == "classification metrics: accuracy, f1, log_loss, precision, recall, roc_auc"


def test_regression_with_regression_metrics_is_accepted(validate: Validate) -> None:
    text = contract_with(
        ("  task: classification ", "  task: regression     "),
        ("metrics: [roc_auc, accuracy, f1]", "metrics: [rmse, mae, r2, mape]"),
        ('gate: {roc_auc: ">= 0.80"}', 'gate: {rmse: "< 3.5", r2: ">0.5"}'),
        ("metric: roc_auc, operator", "metric: r2, operator"),
        (
            "estimator: sklearn.ensemble.GradientBoostingClassifier",
            "estimator: sklearn.ensemble.GradientBoostingRegressor",
        ),
    )
    validate(text).assert_clean()


@pytest.mark.parametrize("gate", ["about 0.8", "0.8", ">= high", "=> 0.8", "== 0.8", ">= 0.8 or so"])
def test_gate_that_is_not_a_comparison_is_reported(validate: Validate, gate: str) -> None:
    text = contract_with(('gate: {roc_auc: ">= 0.80"}', f'gate: {{roc_auc: "{gate}"}}'))
    found = validate(text).only("MLS318", f"gate {gate!r} is not a comparison", f'"{gate}"')
    assert found.hint is not None and '">= 0.80"' in found.hint


@pytest.mark.parametrize("gate", [">= 0.80", "> 0.8", "<= 1", "< -0.5", " >=0.7 "])
def test_gate_comparisons_are_accepted(validate: Validate, gate: str) -> None:
    validate(contract_with(('gate: {roc_auc: ">= 0.80"}', f'gate: {{roc_auc: "{gate}"}}'))).assert_clean()


# --- MLS319, MLS320 -------------------------------------------------------------------------------


def test_feature_listed_twice_is_a_warning(validate: Validate) -> None:
    text = contract_with((FEATURES, "features: [tenure_months, monthly_charges, visits, tenure_months]"))
    validate(text).only(
        "MLS319",
        "feature 'tenure_months' is listed twice",
        "tenure_months]",
        after="visits, ",
        severity=Severity.WARNING,
    )


def test_merge_without_merge_keys_is_reported_at_the_mode(validate: Validate) -> None:
    text = contract_with(("      mode: overwrite ", "      mode: merge     "))
    found = validate(text).only("MLS320", "writes with mode: merge but has no merge_keys", "merge     ")
    assert found.hint is not None and "merge_keys" in found.hint


def test_merge_keys_without_merge_mode_is_a_warning(validate: Validate) -> None:
    text = contract_with(
        ("      partition_by: []", "      partition_by: []\n      merge_keys: [customer_id]")
    )
    validate(text).only(
        "MLS320",
        "sets merge_keys but writes with mode: overwrite",
        "[customer_id]",
        severity=Severity.WARNING,
    )


def test_merge_into_a_non_delta_format_is_reported_at_the_format(validate: Validate) -> None:
    text = contract_with(
        ("      format: delta\n", "      format: parquet\n"),
        ("      mode: overwrite ", "      mode: merge\n      merge_keys: [customer_id]\n      # "),
    )
    found = validate(text).only("MLS320", "mode merge needs format delta", "parquet", after="output:")
    assert found.hint == "merge (upsert) is a Delta Lake operation"
