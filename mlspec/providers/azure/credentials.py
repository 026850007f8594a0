"""Who the Azure provider acts as: ``DefaultAzureCredential``, checked once before anything is read.

``DefaultAzureCredential`` tries, in order, environment variables (a service principal's secret or
certificate), workload identity federation (``AZURE_FEDERATED_TOKEN_FILE``: GitHub Actions, AKS), a
managed identity, and the developer tools' sign-ins (``az login``, ``azd auth login``, PowerShell). The
provider asks it for one Resource Manager token when it starts, so a machine with none of them fails
at once with what to do, not half-way through a refresh (measured: well under a second on a machine
without credentials, IMDS unreachable).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.redaction import printable, redact

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

SIGN_IN_HINT = (
    "sign in with `az login` (then `az account set --subscription <id>`), or set AZURE_TENANT_ID and "
    "AZURE_CLIENT_ID with AZURE_CLIENT_SECRET (a service principal) or AZURE_FEDERATED_TOKEN_FILE "
    "(workload identity in CI), or run where a managed identity is assigned"
)
NO_CREDENTIALS_HINT = f"{SIGN_IN_HINT}; `mlspec doctor --env NAME` checks the rest"
MAX_CAUSE_CHARS = 300


def default_credential(scope: str, environment: str) -> TokenCredential:
    """A ``DefaultAzureCredential`` that has just given a token for ``scope``; MLS816 when none works."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential()
    # azure-identity also logs its whole attempt list as a warning; MLS816 says it on one line instead.
    identity_log = logging.getLogger("azure.identity")
    level = identity_log.level
    identity_log.setLevel(logging.ERROR)
    try:
        credential.get_token(scope)
    except ClientAuthenticationError as exc:
        raise no_credentials(environment, exc) from None
    finally:
        identity_log.setLevel(level)
    return credential


def no_credentials(environment: str, exc: Exception) -> MlspecError:
    """MLS816: nothing gave a token; the message says which sign-in came closest, on one line."""
    return MlspecError(
        [
            Diagnostic.error(
                "MLS816",
                f"no Azure credentials for environment {environment!r}: {credential_cause(exc)}",
                ("environments", environment, "provider"),
                hint=NO_CREDENTIALS_HINT,
            )
        ]
    )


_UNAVAILABLE = re.compile(r"(?im)^\s*(\w+Credential): (.*)$")


def credential_cause(exc: Exception) -> str:
    """One line out of azure-identity's many: a credential that was found but refused (an expired ``az
    login``, a wrong secret) matters; when every one was merely unavailable, say so."""
    text = str(exc)
    refused: list[str] = []
    for name, reason in _UNAVAILABLE.findall(text):
        if (
            "unavailable" in reason.lower()
            or "not installed" in reason.lower()
            or "not found" in reason.lower()
        ):
            continue
        if "could not be found" in reason.lower() or "requires the" in reason.lower():
            continue
        refused.append(f"{name}: {reason.strip()}")
    if refused:
        return printable(redact(refused[0]), MAX_CAUSE_CHARS)
    if _UNAVAILABLE.search(text):
        return "no sign-in was found (environment, workload identity, managed identity, Azure CLI)"
    return printable(redact(text.splitlines()[0] if text else type(exc).__name__), MAX_CAUSE_CHARS)
