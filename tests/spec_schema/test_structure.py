"""Schema errors (MLS100-MLS103): one message per place the user wrote, phrased in YAML terms."""

from __future__ import annotations

import pytest

from .spec_text import Validate, contract_with

# --- MLS100 unknown fields ------------------------------------------------------------------------


def test_unknown_field_is_reported_at_the_key_with_did_you_mean(validate: Validate) -> None:
    text = contract_with(
        ("  owner: ml-team@contoso.com\n", "  owner: ml-team@contoso.com\n  ownr: someone\n")
    )
    found = validate(text).only("MLS100", "unknown field 'ownr'", "ownr:")
    assert found.hint is not None
    assert found.hint.startswith("did you mean 'owner'?")
    assert "allowed here: description, name, owner, tags" in found.hint
    assert found.path == ("project", "ownr")


def test_unknown_top_level_section_suggests_the_known_one(validate: Validate) -> None:
    text = contract_with(("reports:                         # Power BI", "report:"))
    found = validate(text).one("MLS100", "unknown field 'report'", "report:")
    assert found.hint is not None and "did you mean 'reports'?" in found.hint


def test_unknown_field_in_flow_mapping_is_reported_at_its_key(validate: Validate) -> None:
    text = contract_with(("split: {test_size: 0.2, seed: 42}", "split: {test_size: 0.2, sed: 42}"))
    found = validate(text).only("MLS100", "unknown field 'sed'", "sed: 42")
    assert found.hint is not None and "did you mean 'seed'?" in found.hint


def test_unknown_field_without_close_match_lists_the_allowed_ones(validate: Validate) -> None:
    text = contract_with(("  auth: key                      # key | entra", "  auth: key\n  zzz: 1"))
    found = validate(text).only("MLS100", "unknown field 'zzz'", "zzz: 1")
    assert found.hint is not None
    assert not found.hint.startswith("did you mean")
    assert found.hint.startswith("allowed here: auth, endpoint, identity,")


def test_unknown_field_inside_list_item_is_reported_at_its_key(validate: Validate) -> None:
    text = contract_with(("      scope: machine_learning    #", "      scpe: machine_learning    #"))
    checked = validate(text)
    found = checked.one("MLS100", "unknown field 'scpe'", "scpe:")
    assert found.hint is not None and "did you mean 'scope'?" in found.hint
    checked.one("MLS101", "missing required field 'scope'", "principal: {group")


def test_unknown_field_in_overlay_is_reported_in_the_overlay(validate: Validate) -> None:
    text = contract_with(("{replicas: {min: 3, max: 20}}", "{replicas: {min: 3, max: 20, mx: 30}}"))
    found = validate(text, "prod").only("MLS100", "unknown field 'mx'", "mx: 30")
    assert found.hint is not None and "did you mean 'max'?" in found.hint


def test_known_fields_are_accepted(validate: Validate) -> None:
    text = contract_with(("  auth: key                      # key | entra", "  auth: key\n  port: 8081"))
    validate(text).assert_clean()


# --- MLS101 missing fields ------------------------------------------------------------------------


def test_missing_required_field_is_reported_at_its_parent_mapping(validate: Validate) -> None:
    text = contract_with(("  task: classification           # classification | regression\n", ""))
    found = validate(text).only("MLS101", "missing required field 'task'", "name: churn-classifier")
    assert found.hint == "add `task:`"
    assert found.path == ("model", "task")


def test_missing_api_version_is_missing_field(validate: Validate) -> None:
    text = contract_with(("apiVersion: mlspec/v1            # required; unknown versions are rejected\n", ""))
    validate(text).only("MLS101", "missing required field 'apiVersion'", "project:")


def test_missing_field_in_list_item_points_at_that_item(validate: Validate) -> None:
    text = contract_with(("      role: AzureML Data Scientist\n", ""))
    validate(text).only("MLS101", "missing required field 'role'", "principal: {group")


# --- MLS102 types and values ----------------------------------------------------------------------


def test_unquoted_python_version_gets_the_quoting_hint(validate: Validate) -> None:
    text = contract_with(('python: "3.11"', "python: 3.10"))
    found = validate(text).only("MLS102", "'python' must be a string, got the number 3.1", "3.10,")
    assert found.hint is not None and 'python: "3.10"' in found.hint and "quote the value" in found.hint


def test_quoted_python_version_is_accepted(validate: Validate) -> None:
    validate(contract_with(('python: "3.11"', 'python: "3.10"'))).assert_clean()


@pytest.mark.parametrize(
    ("written", "described"),
    [("yes", "the boolean true"), ("off", "the boolean false"), ("404", "the number 404")],
)
def test_yaml_typed_scalar_in_string_field_is_explained(
    validate: Validate, written: str, described: str
) -> None:
    text = contract_with(("  endpoint: churn-scoring", f"  endpoint: {written}"))
    found = validate(text).only(
        "MLS102", f"'endpoint' must be a string, got {described}", written, after="endpoint: "
    )
    assert found.hint is not None and "quote the value" in found.hint


def test_date_in_string_field_is_explained(validate: Validate) -> None:
    text = contract_with(("  description: Predict customer churn", "  description: 2024-01-31"))
    found = validate(text).only("MLS102", "'description' must be a string, got date", "2024-01-31")
    assert found.hint is not None and "dates" in found.hint


def test_empty_value_is_explained(validate: Validate) -> None:
    text = contract_with(("  namespace: churn\n", "  namespace:\n"))
    found = validate(text).only(
        "MLS102", "'namespace' must be a string, got nothing (null)", "\n", after="namespace:"
    )
    assert found.hint == "the value is empty; give one or remove the key"


def test_scalar_where_list_expected(validate: Validate) -> None:
    text = contract_with(("inputs: [customers, web_logs]", "inputs: customers"))
    validate(text).only(
        "MLS102", "'inputs' must be a list, got the string 'customers'", "customers", after="inputs: "
    )


def test_list_where_mapping_expected(validate: Validate) -> None:
    text = contract_with(("  resources: {cpu: 500m, memory: 1Gi}", "  resources: [500m, 1Gi]"))
    validate(text).only("MLS102", "'resources' must be a mapping (key: value), got a list", "[500m, 1Gi]")


def test_number_out_of_range_is_reported_at_the_number(validate: Validate) -> None:
    text = contract_with(("split: {test_size: 0.2, seed: 42}", "split: {test_size: 1.5, seed: 42}"))
    validate(text).only("MLS102", "'test_size' must be greater than 0 and less than 1, got 1.5", "1.5, seed")


def test_bad_enum_value_lists_the_choices(validate: Validate) -> None:
    text = contract_with(("    format: csv                  # csv", "    format: xls                  # csv"))
    found = validate(text).only("MLS102", "invalid value 'xls' for 'format'", "xls")
    assert "expected 'csv', 'parquet', 'json', 'delta', 'text' or 'binary'" in found.message


@pytest.mark.parametrize("value", ["csv", "parquet", "json", "delta", "text", "binary"])
def test_every_documented_source_format_is_accepted(validate: Validate, value: str) -> None:
    validate(
        contract_with(
            ("    format: csv                  # csv", f"    format: {value}                  # csv")
        )
    ).assert_clean()


def test_bad_executor_size_is_reported(validate: Validate) -> None:
    text = contract_with(("executor_size: Small,", "executor_size: Smalll,"))
    found = validate(text).only("MLS102", "invalid value 'Smalll' for 'executor_size'", "Smalll")
    assert "'XXLarge'" in found.message


# --- MLS103 apiVersion ----------------------------------------------------------------------------


def test_unknown_api_version_is_rejected(validate: Validate) -> None:
    text = contract_with(("apiVersion: mlspec/v1", "apiVersion: mlspec/v2"))
    found = validate(text).only("MLS103", "unsupported apiVersion 'mlspec/v2'", "mlspec/v2")
    assert found.hint == "this mlspec reads `apiVersion: mlspec/v1`"


def test_api_version_must_be_exact(validate: Validate) -> None:
    text = contract_with(("apiVersion: mlspec/v1", "apiVersion: MLSpec/V1"))
    validate(text).only("MLS103", "unsupported apiVersion 'MLSpec/V1'", "MLSpec/V1")


# --- exactly-one rules ----------------------------------------------------------------------------

GROUP = "principal: {group: 00000000-0000-0000-0000-000000000000}"
GUID = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    "principal",
    [
        f"principal: {{group: {GUID}, user: {GUID}}}",
        "principal: {}",
        f"principal: {{user: {GUID}, service_principal: {GUID}}}",
    ],
)
def test_principal_needs_exactly_one_kind(validate: Validate, principal: str) -> None:
    text = contract_with((GROUP, principal))
    validate(text).only(
        "MLS102",
        "'principal': give exactly one of user, group or service_principal",
        principal[len("principal: ") :],
    )


@pytest.mark.parametrize("kind", ["user", "group", "service_principal"])
def test_principal_of_each_kind_is_accepted(validate: Validate, kind: str) -> None:
    validate(contract_with((GROUP, f"principal: {{{kind}: {GUID}}}"))).assert_clean()


@pytest.mark.parametrize("item", ["{unique: customer_id, not_null: customer_id}", "{}"])
def test_expectation_needs_exactly_one_kind(validate: Validate, item: str) -> None:
    text = contract_with(("      - unique: customer_id\n", f"      - {item}\n"))
    validate(text).only("MLS102", "an expectation is exactly one of not_null, unique, row_count", item)


def test_expectation_kinds_are_accepted(validate: Validate) -> None:
    text = contract_with(
        (
            "      - unique: customer_id\n",
            "      - unique: [customer_id]\n"
            "      - accepted_values: {column: churned, values: [true, false]}\n"
            "      - range: {column: visits, min: 0}\n"
            "      - expression: visits >= 0\n",
        )
    )
    validate(text).assert_clean()


def test_transform_with_both_sql_and_python_is_rejected(validate: Validate) -> None:
    text = contract_with(("    # python: transforms/features.py", "    python: transforms/features.py"))
    validate(text).only(
        "MLS102", "'customer_features': a transform has exactly one of sql or python", "inputs: [customers"
    )


def test_transform_with_neither_sql_nor_python_is_rejected(validate: Validate) -> None:
    text = contract_with(
        (
            "    sql: |                                  # Spark SQL over the inputs as views ...\n",
            "    description: |\n",
        )
    )
    validate(text).only("MLS102", "a transform has exactly one of sql or python", "inputs: [customers")


def test_training_with_both_estimator_and_script_is_rejected(validate: Validate) -> None:
    text = contract_with(("    # script: src/train.py", "    script: src/train.py"))
    validate(text).only(
        "MLS102", "'training': training has exactly one of estimator or script", "data: customer_features"
    )


def test_training_with_neither_estimator_nor_script_is_rejected(validate: Validate) -> None:
    text = contract_with(
        ("    estimator: sklearn.ensemble.GradientBoostingClassifier   # built-in trainer ...\n", "")
    )
    validate(text).only(
        "MLS102", "training has exactly one of estimator or script", "data: customer_features"
    )


# --- robustness -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "message", "at"),
    [
        (
            ("transforms:                      #", "transforms: []\nold_transforms:  #"),
            "'transforms' must be a mapping (key: value), got a list",
            "[]\nold",
        ),
        (
            ("sources:                         #", "sources: lake\nold_sources:  #"),
            "'sources' must be a mapping (key: value), got the string 'lake'",
            "lake\nold",
        ),
    ],
)
def test_section_of_the_wrong_shape_is_one_error(
    validate: Validate, edit: tuple[str, str], message: str, at: str
) -> None:
    checked = validate(contract_with(edit))
    checked.one("MLS102", message, at)


# --- MLS102 enum values: did you mean -------------------------------------------------------------


def test_a_misspelt_enum_value_gets_the_closest_allowed_one(validate: Validate) -> None:
    text = contract_with(("task: classification", "task: clasification"))
    found = validate(text).only("MLS102", "invalid value 'clasification' for 'task'", "clasification")
    assert found.hint == "did you mean 'classification'?"


def test_an_enum_value_in_the_wrong_case_is_named_as_such(validate: Validate) -> None:
    text = contract_with(("executor_size: Small", "executor_size: small"))
    found = validate(text).only("MLS102", "invalid value 'small' for 'executor_size'", "small")
    assert found.hint == "did you mean 'Small'? (values are case-sensitive)"


def test_an_enum_value_far_from_every_choice_gets_no_guess(validate: Validate) -> None:
    text = contract_with(("task: classification", "task: zzzzzz"))
    found = validate(text).only("MLS102", "invalid value 'zzzzzz' for 'task'", "zzzzzz")
    assert found.hint is None
