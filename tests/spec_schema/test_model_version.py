"""``deployment.model_version`` and ``deployment.rollout.model_version`` (issue 11, item 10): what a rollout
slot serves is a registered version number, refused at its own line when it is not one."""

from __future__ import annotations

import pytest

from .spec_text import Validate, contract_with

ROLLOUT = "  rollout: {strategy: canary, canary_percent: 10}"
SECRETS = "  secrets: [crm_api_key]         # mounted from Key Vault (CSI driver), never copied"


def _pinned(value: str) -> str:
    return contract_with((SECRETS, f"{SECRETS}\n  model_version: {value}"))


def test_pinned_versions_of_both_slots_validate(validate: Validate) -> None:
    text = contract_with(
        (SECRETS, f"{SECRETS}\n  model_version: 7"),
        (ROLLOUT, "  rollout: {strategy: canary, canary_percent: 10, model_version: 8}"),
    )
    validate(text).assert_clean()


@pytest.mark.parametrize("strategy", ["canary, canary_percent: 10", "blue_green"])
def test_a_second_slot_may_serve_its_own_version(validate: Validate, strategy: str) -> None:
    validate(
        contract_with((ROLLOUT, f"  rollout: {{strategy: {strategy}, model_version: 3}}"))
    ).assert_clean()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "'model_version' must be at least 1, got 0"),
        ("-3", "'model_version' must be at least 1, got -3"),
        ("true", "not the boolean true"),
        ("latest", "not 'latest'; leave model_version out to serve the version the training pipeline"),
        ("1.5", "'model_version' must be a whole number"),
        ("[7]", "'model_version' must be a whole number"),
    ],
)
def test_a_model_version_that_is_not_a_version_number_is_refused_at_its_value(
    validate: Validate, value: str, message: str
) -> None:
    validate(_pinned(value)).only("MLS102", message, value, after="model_version: ")


def test_a_quoted_number_is_a_version_number(validate: Validate) -> None:
    """What ``${var.version}`` gives (variables are text) is accepted as the number it spells."""
    validate(_pinned('"12"')).assert_clean()


def test_the_rollout_version_is_refused_like_the_deployment_one(validate: Validate) -> None:
    text = contract_with(
        (ROLLOUT, "  rollout: {strategy: canary, canary_percent: 10, model_version: latest}")
    )
    validate(text).only("MLS102", "not 'latest'", "latest}")


def test_a_rollout_version_without_a_second_slot_is_an_error(validate: Validate) -> None:
    text = contract_with((ROLLOUT, "  rollout: {strategy: rolling, model_version: 8}"))
    found = validate(text).only(
        "MLS406", "rollout.model_version names the version of a second slot", "8}", after="model_version: "
    )
    assert found.hint is not None and "deployment.model_version" in found.hint


def test_an_environment_can_pin_its_own_version(validate: Validate) -> None:
    """A pin per environment (prod serves 7, dev follows the training pipeline) is an overlay."""
    overlay = "      deployment: {replicas: {min: 3, max: 20}}"
    text = contract_with((overlay, "      deployment: {replicas: {min: 3, max: 20}, model_version: 0}"))
    checked = validate(text, "prod")
    checked.only("MLS102", "'model_version' must be at least 1, got 0", "0}", after="model_version: ")
    validate(contract_with((overlay, "      deployment: {model_version: 7}")), "prod").assert_clean()
