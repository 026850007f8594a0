"""Overlays, variables and ``${...}`` interpolation (MLS201-MLS206), errors at the line the user wrote."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from mlspec import api
from mlspec.spec_schema.loader import parse_spec
from mlspec.spec_schema.resolve import default_environment, environment_names, merge_patch

from .spec_text import CONTRACT, Validate, contract_with

OVERLAY = "      deployment: {replicas: {min: 3, max: 20}}\n"


def resolved(
    text: str,
    env: str | None = None,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> api.Resolved:
    return api.resolve(parse_spec(text, "spec.yaml"), env, variables, environ if environ is not None else {})


# --- overlays -------------------------------------------------------------------------------------


def test_overlay_deep_merges_and_keeps_unset_siblings() -> None:
    prod = resolved(CONTRACT, "prod")
    assert prod.ok
    assert prod.spec.data["deployment"]["replicas"] == {"min": 3, "max": 20, "target_cpu_percent": 70}
    assert resolved(CONTRACT, "dev").spec.data["deployment"]["replicas"] == {
        "min": 2,
        "max": 10,
        "target_cpu_percent": 70,
    }


@pytest.mark.parametrize(
    ("base", "patch", "expected"),
    [
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}, {"a": {"b": 3, "c": 2}}),
        ({"a": [1, 2, 3]}, {"a": [4]}, {"a": [4]}),
        ({"a": 1, "b": 2}, {"a": None}, {"b": 2}),
        ({"a": {"b": 1}}, {"a": None}, {}),
        ({"a": 1}, {"a": {"b": 2}}, {"a": {"b": 2}}),
        ({"a": {"b": 1}}, {"a": "x"}, {"a": "x"}),
        ({"a": 1}, {"z": {"y": None}}, {"a": 1, "z": {}}),
        ({"a": 1}, ["replaced"], ["replaced"]),
    ],
)
def test_merge_patch_follows_rfc_7396(base: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(base, patch) == expected


def test_merge_patch_does_not_mutate_its_inputs() -> None:
    base = {"a": {"b": 1}, "l": [1]}
    patch = {"a": {"c": 2}, "l": [2]}
    merge_patch(base, patch)
    assert base == {"a": {"b": 1}, "l": [1]}
    assert patch == {"a": {"c": 2}, "l": [2]}


def test_overlay_replaces_lists_whole() -> None:
    text = contract_with(
        (OVERLAY, "      deployment: {replicas: {min: 3, max: 20}, network: {allow_from: [10.20.0.0/16]}}\n")
    )
    network = resolved(text, "prod").spec.data["deployment"]["network"]
    assert network == {
        "internal_load_balancer": True,
        "subnet": "snet-aks-inference",
        "allow_from": ["10.20.0.0/16"],
    }


def test_overlay_null_removes_a_key_and_checks_see_it_gone(validate: Validate) -> None:
    text = contract_with(
        (OVERLAY, "      deployment: {replicas: {min: 3, max: 20}, log_predictions: null}\n")
    )
    assert "log_predictions" not in resolved(text, "prod").spec.data["deployment"]
    assert "log_predictions" in resolved(text, "dev").spec.data["deployment"]
    validate(text, "dev").assert_clean()
    prod = validate(text, "prod")
    prod.one("MLS305", "report table 'predictions' needs deployment.log_predictions", "predictions]")
    assert prod.codes == ["MLS305", "MLS629"]  # MLS629: the build's warning that no monitor is rendered


def test_overlay_null_removing_a_required_field_reports_it_missing(validate: Validate) -> None:
    text = contract_with((OVERLAY, OVERLAY + "      model: {name: null}\n"))
    found = validate(text, "prod").only(
        "MLS101", "missing required field 'name': environment 'prod' removes it", "null}"
    )
    assert found.hint is not None and "overrides" in found.hint


def test_error_is_located_in_the_overlay_when_the_overlay_wrote_the_value(validate: Validate) -> None:
    text = contract_with((OVERLAY, "      deployment: {replicas: {min: 0, max: 20}}\n"))
    validate(text, "prod").only("MLS102", "'min' must be between 1 and 1000, got 0", "0, max: 20")
    validate(text, "dev").assert_clean()


def test_error_is_located_in_the_base_when_the_base_wrote_the_value(validate: Validate) -> None:
    text = contract_with(("target_cpu_percent: 70}", "target_cpu_percent: 700}"))
    validate(text, "prod").only("MLS102", "'target_cpu_percent' must be between 1 and 100", "700")


def test_overlay_list_item_error_is_located_in_the_overlay(validate: Validate) -> None:
    text = contract_with(
        (OVERLAY, "      deployment: {network: {allow_from: [10.20.0.0/16, 10.30.0.0/33]}}\n")
    )
    validate(text, "prod").only("MLS405", "allow_from '10.30.0.0/33' is not a CIDR", "10.30.0.0/33")


def test_overlay_adding_a_value_is_located_in_the_overlay(validate: Validate) -> None:
    text = contract_with((OVERLAY, OVERLAY + '      monitoring: {retrain: {schedule: "61 3 * * 1"}}\n'))
    validate(text, "prod").only("MLS410", "schedule '61 3 * * 1': minute field '61'", '"61 3 * * 1"')


def test_interpolation_error_in_overlay_is_located_in_the_overlay(validate: Validate) -> None:
    text = contract_with((OVERLAY, OVERLAY + "      project: {description: 'for ${var.lake_acount}'}\n"))
    found = validate(text, "prod").only(
        "MLS201", "unknown variable ${var.lake_acount}", "${var.lake_acount}'}"
    )
    assert found.hint is not None and "did you mean 'lake_account'?" in found.hint


# --- variables ------------------------------------------------------------------------------------

LAYERED = contract_with(
    (
        "{default: contosolakedev, description: ADLS Gen2 account}",
        "{default: lakedefault, description: ADLS Gen2 account}",
    ),
    ("    variables: {lake_account: contosolakedev}", "    variables: {lake_account: lakedev}"),
)


@pytest.mark.parametrize(
    ("env", "cli", "environ", "expected"),
    [
        ("local", {}, {}, "lakedefault"),
        ("dev", {}, {}, "lakedev"),
        ("dev", {}, {"MLSPEC_VAR_LAKE_ACCOUNT": "lakeenv"}, "lakeenv"),
        ("local", {}, {"MLSPEC_VAR_LAKE_ACCOUNT": "lakeenv"}, "lakeenv"),
        ("dev", {"lake_account": "lakecli"}, {"MLSPEC_VAR_LAKE_ACCOUNT": "lakeenv"}, "lakecli"),
        ("local", {"lake_account": "lakecli"}, {}, "lakecli"),
    ],
)
def test_variable_precedence_cli_over_environ_over_environment_over_default(
    env: str, cli: dict[str, str], environ: dict[str, str], expected: str
) -> None:
    result = resolved(LAYERED, env, cli, environ)
    assert result.ok, result.diagnostics
    assert result.spec.variables["lake_account"] == expected
    assert result.spec.data["workspace"]["storage_account"] == expected
    assert (
        result.spec.data["sources"]["customers"]["path"]
        == f"abfss://raw@{expected}.dfs.core.windows.net/crm/customers/"
    )


def test_os_environment_is_read_when_environ_is_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLSPEC_VAR_LAKE_ACCOUNT", "lakeos")
    result = api.resolve(parse_spec(LAYERED), "dev")
    assert result.spec.data["workspace"]["storage_account"] == "lakeos"


def test_undeclared_mlspec_var_in_environment_is_ignored() -> None:
    result = resolved(CONTRACT, "dev", environ={"MLSPEC_VAR_SOMETHING_ELSE": "x", "PATH": "/bin"})
    assert result.ok and result.diagnostics == []


def test_whole_string_reference_keeps_the_value_type(validate: Validate) -> None:
    text = contract_with(
        (
            "  lake_account: {default:",
            "  drift: {default: 0.2}\n  internal: {default: true}\n  lake_account: {default:",
        ),
        ("threshold: 0.2, window: 1d", 'threshold: "${var.drift}", window: 1d'),
        ("    internal_load_balancer: true", "    internal_load_balancer: ${var.internal}"),
    )
    data = resolved(text, "dev").spec.data
    assert data["monitoring"]["alerts"][2]["threshold"] == 0.2
    assert data["deployment"]["network"]["internal_load_balancer"] is True
    validate(text).assert_clean()


def test_reference_inside_a_string_is_formatted_as_text() -> None:
    text = contract_with(
        (
            "  lake_account: {default:",
            "  drift: {default: 0.2}\n  internal: {default: true}\n  lake_account: {default:",
        ),
        (
            "  description: Predict customer churn",
            "  description: ${project.name} drift ${var.drift} internal ${var.internal}",
        ),
    )
    assert resolved(text, "prod").spec.data["project"]["description"] == "churn drift 0.2 internal true"


def test_cli_variable_is_a_string_that_the_schema_may_coerce(validate: Validate) -> None:
    text = contract_with(
        ("  lake_account: {default:", "  drift: {default: 0.2}\n  lake_account: {default:"),
        ("threshold: 0.2, window: 1d", 'threshold: "${var.drift}", window: 1d'),
    )
    assert resolved(text, "dev", {"drift": "0.3"}).spec.data["monitoring"]["alerts"][2]["threshold"] == "0.3"
    validate(text, variables={"drift": "0.3"}).assert_clean()
    validate(text, variables={"drift": "high"}).one(
        "MLS102", "'threshold' must be a number, got the string 'high'", '"${var.drift}"'
    )


def test_double_dollar_writes_a_literal_reference(validate: Validate) -> None:
    text = contract_with(
        ("  description: Predict customer churn", "  description: costs $${var.nothing} and ${project.name}")
    )
    assert resolved(text).spec.data["project"]["description"] == "costs ${var.nothing} and churn"
    validate(text).assert_clean()


def test_azure_ml_binding_syntax_is_left_untouched(validate: Validate) -> None:
    text = contract_with(
        (
            "params: {n_estimators: 200, max_depth: 3}",
            'params: {n_estimators: 200, max_depth: 3, data: "${{parent.inputs.x}}",'
            ' out: "${{ parent.jobs.train.outputs.model }}"}',
        )
    )
    params = resolved(text).spec.data["model"]["training"]["params"]
    assert params["data"] == "${{parent.inputs.x}}"
    assert params["out"] == "${{ parent.jobs.train.outputs.model }}"
    validate(text).assert_clean()


def test_project_and_environment_names_are_interpolated() -> None:
    data = resolved(CONTRACT, "prod").spec.data
    assert data["workspace"]["resource_group"] == "rg-churn-prod"
    assert data["workspace"]["container_registry"] == "acrchurnprod"
    assert data["workspace"]["storage_account"] == "contosolakeprod"
    assert data["access"]["secrets"]["crm_api_key"]["key_vault"] == "kv-churn-prod"


def test_unknown_variable_is_reported_with_did_you_mean(validate: Validate) -> None:
    text = contract_with(
        (
            "raw@${var.lake_account}.dfs.core.windows.net/crm/",
            "raw@${var.lake_acount}.dfs.core.windows.net/crm/",
        )
    )
    found = validate(text).one(
        "MLS201",
        "unknown variable ${var.lake_acount}",
        "${var.lake_acount}.dfs.core.windows.net/crm/customers/",
    )
    assert found.hint is not None and "did you mean 'lake_account'?" in found.hint


def test_unknown_namespace_is_reported_with_the_escape_hint(validate: Validate) -> None:
    text = contract_with(("  description: Predict customer churn", "  description: home is ${env.HOME}"))
    found = validate(text).only("MLS201", "unknown reference ${env.HOME}", "${env.HOME}")
    assert found.hint is not None and "write $${ for a literal ${" in found.hint


def test_unknown_workspace_key_is_reported_with_did_you_mean(validate: Validate) -> None:
    text = contract_with(('"${workspace.key_vault}"', '"${workspace.keyvault}"'))
    found = validate(text).one("MLS201", "unknown reference ${workspace.keyvault}", '"${workspace.keyvault}"')
    assert found.hint is not None and "did you mean 'key_vault'?" in found.hint


def test_declared_variable_without_value_is_reported(validate: Validate) -> None:
    text = contract_with(
        ("  lake_account: {default:", "  region: {description: Azure region}\n  lake_account: {default:"),
        ("  location: westeurope", "  location: ${var.region}"),
    )
    found = validate(text).one("MLS204", "variable 'region' has no value", "${var.region}")
    assert found.hint is not None
    assert (
        "MLSPEC_VAR_REGION" in found.hint
        and "--var region=" in found.hint
        and "the environment's `variables:`" in found.hint
    )
    validate(text, variables={"region": "westeurope"}).assert_clean()
    validate(text, environ={"MLSPEC_VAR_REGION": "northeurope"}).assert_clean()


def test_workspace_keys_may_refer_to_each_other(validate: Validate) -> None:
    text = contract_with(
        ("  log_analytics: log-ml-${environment.name}\n", "  log_analytics: log-${workspace.kubernetes}\n")
    )
    assert resolved(text, "prod").spec.data["workspace"]["log_analytics"] == "log-aks-ml-prod"
    validate(text, all_environments=True).assert_clean()


def test_cyclic_workspace_references_are_reported_once(validate: Validate) -> None:
    text = contract_with(
        ("  key_vault: kv-churn-${environment.name}", "  key_vault: ${workspace.container_registry}"),
        (
            "  container_registry: acrchurn${environment.name}",
            "  container_registry: acr${workspace.key_vault}",
        ),
    )
    found = validate(text).one(
        "MLS202",
        "cyclic reference: workspace.key_vault → workspace.container_registry → workspace.key_vault",
        "${workspace.container_registry}",
    )
    assert found.hint == "break the cycle with a literal value"


def test_self_referencing_workspace_key_is_a_cycle(validate: Validate) -> None:
    text = contract_with(
        ("  log_analytics: log-ml-${environment.name}\n", "  log_analytics: log-${workspace.log_analytics}\n")
    )
    validate(text).one(
        "MLS202", "cyclic reference: workspace.log_analytics → workspace.log_analytics", "log-${workspace"
    )


def test_undeclared_environment_variable_is_reported_in_the_environment(validate: Validate) -> None:
    text = contract_with(
        (
            "    variables: {lake_account: contosolakedev}",
            "    variables: {lake_account: contosolakedev, lake_acount: x}",
        )
    )
    found = validate(text).only(
        "MLS203", "variable 'lake_acount' is not declared", "x}", after="lake_acount: "
    )
    assert found.hint is not None and "did you mean 'lake_account'?" in found.hint


def test_undeclared_cli_variable_is_reported_at_variables(validate: Validate) -> None:
    found = validate(CONTRACT, variables={"lake_acount": "x"}).only(
        "MLS203", "--var lake_acount: variable 'lake_acount' is not declared", "lake_account: {default"
    )
    assert found.hint is not None and "did you mean 'lake_account'?" in found.hint


# --- environments ---------------------------------------------------------------------------------


def test_unknown_environment_is_reported_with_the_known_ones(validate: Validate) -> None:
    found = validate(CONTRACT, "prd").only("MLS205", "unknown environment 'prd'", "dev:\n")
    assert found.hint == "declared environments: dev, prod, local (did you mean 'prod'?)"


def test_unknown_environment_in_spec_without_environments_is_at_the_top(validate: Validate) -> None:
    text = CONTRACT.split("environments:")[0] + "access:" + CONTRACT.split("\naccess:", 1)[1]
    validate(text, "dev").only("MLS205", "unknown environment 'dev'", "apiVersion")


@pytest.mark.parametrize(
    ("override", "at"),
    [
        ("apiVersion: mlspec/v2", "mlspec/v2"),
        ("variables: {lake_account: other}", "{lake_account: other}"),
        ("environments: {dev: {default: false}}", "{dev: {default: false}}"),
        ("moved: []", "[]\n"),
    ],
)
def test_sections_that_cannot_be_overridden_per_environment(
    validate: Validate, override: str, at: str
) -> None:
    key = override.split(":", maxsplit=1)[0]
    text = contract_with((OVERLAY, OVERLAY + f"      {override}\n"))
    found = validate(text, "prod").only(
        "MLS206", f"{key!r} cannot be overridden per environment", at, after=OVERLAY
    )
    assert found.hint is not None and "variables:" in found.hint
    assert resolved(text, "prod").spec.data.get("apiVersion") == "mlspec/v1"


def test_local_environment_always_exists(validate: Validate) -> None:
    document = parse_spec(CONTRACT)
    assert environment_names(document) == ["dev", "prod", "local"]
    validate(CONTRACT, "local").assert_clean()
    assert resolved(CONTRACT, "local").spec.data["workspace"]["resource_group"] == "rg-churn-local"


def test_spec_without_environments_defaults_to_local(validate: Validate) -> None:
    text = CONTRACT.split("environments:")[0] + "access:" + CONTRACT.split("\naccess:", 1)[1]
    document = parse_spec(text)
    assert environment_names(document) == ["local"]
    assert default_environment(document) == "local"
    validate(text).assert_clean()


def test_declared_local_environment_overlay_is_applied() -> None:
    text = contract_with(("  prod:\n", "  local:\n    variables: {lake_account: lakelocal}\n  prod:\n"))
    document = parse_spec(text)
    assert environment_names(document) == ["dev", "local", "prod"]
    assert resolved(text, "local").spec.data["workspace"]["storage_account"] == "lakelocal"


def test_default_environment_is_the_one_marked_default() -> None:
    assert default_environment(parse_spec(CONTRACT)) == "dev"
    unmarked = contract_with(("    default: true\n", ""))
    assert default_environment(parse_spec(unmarked)) == "local"


REFERENCES = """\
apiVersion: mlspec/v1
project: {name: refs, description: "hello ${var.nope} and ${foo.bar}"}
workspace:
  subscription_id: 00000000-0000-0000-0000-000000000000
  resource_group: rg-x-${workspace.nokey}
  location: westeurope
  synapse: syn-x
  spark_pool: pool1
sources:
  s1: {path: "abfss://raw@acct01.dfs.core.windows.net/s1/", format: csv}
transforms:
  t1:
    inputs: [s1]
    sql: |
      SELECT a, b
      FROM s1
      WHERE x = '${var.missing}'
    output: {path: "abfss://cur@acct01.dfs.core.windows.net/t1/"}
"""


@pytest.mark.parametrize(
    "reference",
    ["${var.nope}", "${foo.bar}", "${workspace.nokey}", "${var.missing}"],
)
def test_unknown_reference_is_reported_at_the_reference_itself(reference: str) -> None:
    """Plain, quoted and literal-block scalars: the location is the `${`, not the scalar's start."""
    from mlspec import api
    from mlspec.spec_schema.loader import parse_spec

    resolved = api.resolve(parse_spec(REFERENCES, "refs.yaml"), "local", environ={})
    lines = REFERENCES.splitlines()
    line = next(i for i, text in enumerate(lines, 1) if reference in text)
    column = lines[line - 1].index(reference) + 1
    found = [d for d in resolved.diagnostics if d.code == "MLS201" and reference in d.message]
    assert len(found) == 1, resolved.diagnostics
    assert found[0].location is not None
    assert (found[0].location.line, found[0].location.column) == (line, column)
