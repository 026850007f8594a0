"""Environment rules (MLS207, MLS208): one default at most, production protected."""

from __future__ import annotations

import pytest

from mlspec.diagnostics import Severity

from .spec_text import CONTRACT, Validate, contract_with

PROD = "  prod:\n    variables: {lake_account: contosolakeprod}\n    protect: true "


def test_two_default_environments_are_reported_at_the_second(validate: Validate) -> None:
    text = contract_with(
        (
            PROD,
            "  prod:\n    default: true\n    variables: {lake_account: contosolakeprod}\n    protect: true ",
        )
    )
    found = validate(text).only(
        "MLS207",
        "environments 'dev' and 'prod' are both marked default",
        "true\n",
        after="  prod:\n    default: ",
    )
    assert found.hint == "mark exactly one environment with default: true"


def test_two_defaults_are_reported_once_across_environments(validate: Validate) -> None:
    text = contract_with(
        (
            PROD,
            "  prod:\n    default: true\n    variables: {lake_account: contosolakeprod}\n    protect: true ",
        )
    )
    checked = validate(text, all_environments=True)
    assert checked.codes == ["MLS207"]  # reported once, whichever environment is validated


def test_single_default_is_accepted(validate: Validate) -> None:
    validate(CONTRACT, all_environments=True).assert_clean()


@pytest.mark.parametrize("name", ["prod", "prd", "production", "live"])
def test_unprotected_production_environment_is_a_warning(validate: Validate, name: str) -> None:
    text = contract_with(
        (PROD, f"  {name}:\n    variables: {{lake_account: contosolakeprod}}\n    protect: false ")
    )
    found = validate(text).only(
        "MLS208",
        f"environment {name!r} is not protected",
        f"{name}:\n    variables",
        severity=Severity.WARNING,
    )
    assert found.hint is not None and "protect: true" in found.hint


@pytest.mark.parametrize("name", ["staging", "test", "preprod"])
def test_other_environments_need_no_protection(validate: Validate, name: str) -> None:
    text = contract_with(
        (PROD, f"  {name}:\n    variables: {{lake_account: contosolakeprod}}\n    protect: false ")
    )
    validate(text, all_environments=True).assert_clean()


def test_strict_turns_the_protection_warning_into_an_error(validate: Validate) -> None:
    text = contract_with(
        (PROD, "  prod:\n    variables: {lake_account: contosolakeprod}\n    protect: false ")
    )
    relaxed = validate(text)
    assert [d.severity for d in relaxed.diagnostics] == [Severity.WARNING]
    strict = validate(text, strict=True)
    assert [(d.code, d.severity) for d in strict.diagnostics] == [("MLS208", Severity.ERROR)]
