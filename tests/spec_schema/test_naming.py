"""Azure and Kubernetes naming rules (MLS401), checked on resolved values, reported where written."""

from __future__ import annotations

import pytest

from .spec_text import Validate, contract_with

WORKSPACE_LINES = {
    "resource_group": "  resource_group: rg-churn-${environment.name}",
    "location": "  location: westeurope",
    "machine_learning": "  machine_learning: mlw-churn-${environment.name}",
    "synapse": "  synapse: syn-churn-${environment.name}",
    "spark_pool": "  spark_pool: sparkpool01",
    "key_vault": "  key_vault: kv-churn-${environment.name}",
    "container_registry": "  container_registry: acrchurn${environment.name}",
    "kubernetes": "  kubernetes: aks-ml-${environment.name}",
    "log_analytics": "  log_analytics: log-ml-${environment.name}",
    "storage_account": "  storage_account: ${var.lake_account}",
}


def with_workspace(key: str, value: str) -> str:
    if key not in WORKSPACE_LINES:  # a key the contract leaves out: add it
        return contract_with(("  location: westeurope\n", f"  location: westeurope\n  {key}: {value}\n"))
    return contract_with((WORKSPACE_LINES[key], f"  {key}: {value}"))


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("storage_account", "contoso-lake", "lowercase letters and digits only"),
        ("storage_account", "ContosoLake", "lowercase letters and digits only"),
        ("storage_account", "ab", "2 characters; storage account names are 3-24"),
        ("storage_account", "a" * 25, "25 characters; storage account names are 3-24"),
        ("key_vault", "kv--churn", "letters, digits and single hyphens"),
        ("key_vault", "1kv-churn", "starts with a letter"),
        ("key_vault", "kv-churn-", "ends with a letter or digit"),
        ("key_vault", "kv_churn", "letters, digits and single hyphens"),
        ("key_vault", "kv", "2 characters; key vault names are 3-24"),
        ("container_registry", "acr-churn", "letters and digits only (no hyphens)"),
        ("container_registry", "acr", "3 characters; container registry names are 5-50"),
        ("machine_learning", "-mlw-churn", "starts with a letter or digit"),
        ("machine_learning", "mlw churn", "letters, digits, hyphens and underscores"),
        ("machine_learning", "m" * 34, "34 characters; Azure ML workspace names are 3-33"),
        ("synapse", "Syn-Churn", "lowercase letters, digits and hyphens"),
        ("synapse", "syn-churn-", "starts and ends with a letter or digit"),
        ("spark_pool", "spark-pool", "letters and digits; starts with a letter"),
        ("spark_pool", "1pool", "letters and digits; starts with a letter"),
        ("spark_pool", "p" * 16, "16 characters; Spark pool names are 1-15"),
        ("kubernetes", "aks-ml-", "starts and ends with a letter or digit"),
        ("kubernetes", "a" * 64, "64 characters; AKS cluster names are 1-63"),
        ("log_analytics", "log", "3 characters; Log Analytics workspace names are 4-63"),
        ("log_analytics", "log_ml", "letters, digits and hyphens"),
        ("resource_group", "rg-churn.", "must not end with a period"),
        ("resource_group", "rg churn", "letters, digits, -, _, ., ( and )"),
        ("location", "West Europe", "a region name such as westeurope"),
        ("application_insights", "appi/churn", "no %, &, \\, ? or /"),
    ],
)
def test_invalid_workspace_resource_name_is_reported_at_the_value(
    validate: Validate, key: str, value: str, problem: str
) -> None:
    text = with_workspace(key, value)
    found = validate(text).one("MLS401", f"name {value!r}: ", value, after=f"  {key}: ")
    assert problem in found.message
    assert found.hint is not None and "characters" in found.hint
    assert found.path == ("workspace", key)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("storage_account", "a" * 24),
        ("storage_account", "abc"),
        ("key_vault", "kv-a-b-c"),
        ("key_vault", "K" * 24),
        ("container_registry", "A" * 50),
        ("machine_learning", "Mlw_churn-01"),
        ("synapse", "s"),
        ("synapse", "s" * 50),
        ("spark_pool", "Pool" + "1" * 11),
        ("kubernetes", "aks_ml-01"),
        ("log_analytics", "log1"),
        ("resource_group", "rg.churn_(dev)"),
        ("location", "westus2"),
        ("application_insights", "appi churn (dev)"),
    ],
)
def test_valid_workspace_resource_name_is_accepted(validate: Validate, key: str, value: str) -> None:
    validate(with_workspace(key, value)).assert_clean()


def test_bad_key_vault_name_is_reported_at_each_place_it_is_used(validate: Validate) -> None:
    text = with_workspace("key_vault", "kv--churn")
    checked = validate(text)
    checked.one("MLS401", "invalid key vault name 'kv--churn'", "kv--churn", after="  key_vault: ")
    checked.one("MLS401", "invalid key vault name 'kv--churn'", '"${workspace.key_vault}"')
    assert checked.codes == ["MLS401", "MLS401"]


def test_synapse_name_must_not_contain_ondemand(validate: Validate) -> None:
    text = with_workspace("synapse", "syn-ondemand-churn")
    validate(text).only(
        "MLS401", "Synapse workspace names must not contain '-ondemand'", "syn-ondemand-churn"
    )


def test_interpolated_name_is_checked_per_environment(validate: Validate) -> None:
    # acr${environment.name}: fine for dev (5 chars), too short for a 1-letter environment.
    text = contract_with(
        ("  container_registry: acrchurn${environment.name}", "  container_registry: acr${environment.name}"),
        ("  prod:\n", "  q:\n    variables: {}\n  prod:\n"),
    )
    validate(text, "dev").assert_clean()
    validate(text, "q").only(
        "MLS401", "invalid container registry name 'acrq': 4 characters", "acr${environment.name}"
    )


def test_project_name_rules(validate: Validate) -> None:
    validate(contract_with(("  name: churn  ", "  name: Churn  "))).only(
        "MLS401", "invalid project name 'Churn'", "Churn  "
    )
    validate(contract_with(("  name: churn  ", "  name: ch     "))).only(
        "MLS401", "invalid project name 'ch': 2 characters; project names are 3-24", "ch     "
    )


@pytest.mark.parametrize(
    ("old", "new", "message", "at"),
    [
        (
            "  endpoint: churn-scoring",
            "  endpoint: Churn-Scoring",
            "invalid endpoint name 'Churn-Scoring'",
            "Churn-Scoring",
        ),
        ("  endpoint: churn-scoring", "  endpoint: 1churn", "invalid endpoint name '1churn'", "1churn"),
        (
            "  endpoint: churn-scoring",
            "  endpoint: " + "e" * 33,
            "33 characters; endpoint names are 3-32",
            "e" * 33,
        ),
        (
            "  namespace: churn",
            "  namespace: churn_ns",
            "invalid Kubernetes name 'churn_ns': a DNS-1123 label",
            "churn_ns",
        ),
        ("  namespace: churn", "  namespace: -churn", "invalid Kubernetes name '-churn'", "-churn"),
        (
            "  namespace: churn",
            "  namespace: " + "n" * 64,
            "64 characters; Kubernetes names are 1-63",
            "n" * 64,
        ),
    ],
)
def test_kubernetes_names_are_dns_labels(
    validate: Validate, old: str, new: str, message: str, at: str
) -> None:
    validate(contract_with((old, new))).only("MLS401", message, at, after=new.split(":", maxsplit=1)[0] + ":")


def test_dns_label_names_are_accepted(validate: Validate) -> None:
    text = contract_with(
        ("  endpoint: churn-scoring", "  endpoint: c" + "1" * 31), ("  namespace: churn", "  namespace: 0-ml")
    )
    validate(text).assert_clean()


def test_source_name_is_reported_at_its_key(validate: Validate) -> None:
    text = contract_with(("  call_audio:\n", "  call-audio:\n"))
    found = validate(text).only("MLS401", "invalid source/transform name 'call-audio'", "call-audio:")
    assert found.path == ("sources", "call-audio")


def test_transform_name_is_reported_at_its_key(validate: Validate) -> None:
    text = contract_with(
        ("  customer_features:\n", "  2features:\n"),
        ("    data: customer_features      #", "    data: 2features              #"),
        ("tables: [customer_features, predictions]", "tables: [2features, predictions]"),
        ("        table: customer_features\n", "        table: 2features\n"),  # the report's measure
    )
    validate(text).only("MLS401", "invalid source/transform name '2features'", "2features:")


def test_transform_spark_pool_is_checked(validate: Validate) -> None:
    text = contract_with(("spark: {pool: sparkpool01,", "spark: {pool: spark_pool_01,"))
    validate(text).only("MLS401", "invalid Spark pool name 'spark_pool_01'", "spark_pool_01")


def test_key_vault_secret_name_is_checked(validate: Validate) -> None:
    text = contract_with(("name: crm-api-key}", "name: crm_api_key}"))
    validate(text).only("MLS401", "invalid Key Vault secret name 'crm_api_key'", "crm_api_key}")


def test_model_and_compute_names_are_checked(validate: Validate) -> None:
    validate(contract_with(("  name: churn-classifier", "  name: churn classifier"))).only(
        "MLS401", "invalid model name 'churn classifier'", "churn classifier"
    )
    validate(contract_with(("compute: {cluster: cpu-cluster,", "compute: {cluster: cpu_cluster,"))).only(
        "MLS401", "invalid Azure ML compute name 'cpu_cluster'", "cpu_cluster"
    )
    validate(contract_with(("compute: {cluster: cpu-cluster,", "compute: {cluster: c,"))).only(
        "MLS401", "1 characters; Azure ML compute names are 2-16", "c,", after="cluster: "
    )


def test_alert_and_report_names_are_checked(validate: Validate) -> None:
    validate(contract_with(("{name: errors,", "{name: all errors,"))).only(
        "MLS401", "invalid alert name 'all errors'", "all errors"
    )
    validate(contract_with(("  - name: churn-dashboard", "  - name: churn/dashboard"))).only(
        "MLS401", "invalid report name 'churn/dashboard'", "churn/dashboard"
    )


@pytest.mark.parametrize("name", ["Staging", "pre-prod", "e" * 17, "1dev"])
def test_environment_name_is_reported_at_its_key(validate: Validate, name: str) -> None:
    text = contract_with(("  prod:\n", f"  {name}:\n    protect: true\n  prod:\n"))
    found = validate(text).only("MLS401", f"invalid environment name {name!r}", f"{name}:")
    assert found.path == ("environments", name)


def test_a_model_name_leaves_room_for_the_suffixes_of_its_azure_ml_names(validate: Validate) -> None:
    longest = "m" * 245
    validate(contract_with(("  name: churn-classifier", f"  name: {longest}"))).assert_clean()
    found = validate(contract_with(("  name: churn-classifier", f"  name: {longest}x"))).one(
        "MLS401", "invalid model name", f"{longest}x"
    )
    assert found.hint is not None and "1-245 characters" in found.hint
