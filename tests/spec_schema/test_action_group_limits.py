"""MLS648: ``monitoring.notify`` goes into one Azure Monitor action group, which takes at most 1,000
e-mail and 10 webhook receivers; more is a warning at the list."""

from __future__ import annotations

import pytest

from mlspec.diagnostics import Severity

from .spec_text import Validate, contract_with

NOTIFY = "  notify: {email: [ml-oncall@contoso.com]}"


def _notify(emails: int, webhooks: int) -> str:
    email = ", ".join(f"oncall{i}@contoso.com" for i in range(emails))
    webhook = ", ".join(f"https://hooks.contoso.com/alerts/{i}" for i in range(webhooks))
    return contract_with((NOTIFY, f"  notify: {{email: [{email}], webhook: [{webhook}]}}"))


@pytest.mark.parametrize(("emails", "webhooks"), [(1000, 10), (1, 0), (0, 1)])
def test_as_many_receivers_as_a_group_takes_validate(validate: Validate, emails: int, webhooks: int) -> None:
    assert "MLS648" not in validate(_notify(emails, webhooks)).codes


def test_more_webhooks_than_a_group_takes_is_a_warning_at_the_list(validate: Validate) -> None:
    validate(_notify(1, 11)).only(
        "MLS648",
        "11 webhook receivers: an Azure Monitor action group takes at most 10",
        "[https://hooks",
        severity=Severity.WARNING,
    )


def test_more_emails_than_a_group_takes_is_a_warning(validate: Validate) -> None:
    validate(_notify(1001, 0)).only(
        "MLS648",
        "1001 email receivers: an Azure Monitor action group takes at most 1000",
        "[oncall0",
        severity=Severity.WARNING,
    )
