"""Azure's errors as one line each: the status, Azure's own code and cause, and what to do.

An SDK error carries a status, an error code (``AuthorizationFailed``, ``DeploymentFailed``...), a
message, and for ARM deployments nested ``details`` where the real cause is. The provider turns it into
a :class:`ProviderError` (MLS820) that names the resource address, e.g. ``synapse.notebook.x: 403 on
create (Forbidden): ... ; the deploying identity needs Synapse Artifact Publisher on syn-churn-dev``.
"""

from __future__ import annotations

from typing import Any

from mlspec.contract.graph import Address
from mlspec.providers.base import ProviderError
from mlspec.redaction import printable, redact

MAX_MESSAGE_CHARS = 400


FORBIDDEN_CODES = frozenset(
    {
        "AuthorizationFailed",
        "LinkedAuthorizationFailed",
        "Forbidden",
        "Unauthorized",
        "InsufficientPermissions",
    }
)
"""Error codes that mean the identity lacks a role, whatever status carried them (a deployment that
fails inside reports its resources' 403s as codes, behind a 200 of the operation that polled it)."""


def azure_error(address: Address | str, action: str, exc: Exception, needs_role: str = "") -> ProviderError:
    """The one-line :class:`ProviderError` for an SDK exception raised while doing ``action``.

    ``needs_role`` names the role (and where) that a 401/403 means the deploying identity lacks. A
    request that never got an answer (DNS, proxy, TLS, a private endpoint out of reach) says so.
    """
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, (ServiceRequestError, ServiceResponseError)) and not isinstance(
        exc, HttpResponseError
    ):
        _, message = error_code_and_message(exc)
        return ProviderError(
            address,
            f"{action} failed: Azure could not be reached ({type(exc).__name__}): {message}",
            "check the network: DNS, the proxy (HTTPS_PROXY, NO_PROXY) and, for private endpoints, that this "
            "machine is inside the network; then apply again",
        )
    status = getattr(exc, "status_code", None)
    code, message = error_code_and_message(exc)
    answered = isinstance(status, int) and status >= 300  # a failed long-running operation polls with 200
    head = f"{status} on {action}" if answered else f"{action} failed"
    if code:
        head += f" ({code})"
    hint: str | None = None
    if status in (401, 403) or code in FORBIDDEN_CODES:
        hint = (
            f"the deploying identity needs {needs_role}"
            if needs_role
            else "the deploying identity lacks a role it needs here"
        ) + "; `mlspec doctor --env NAME` lists the roles to deploy"
        if status == 401:
            hint = "the sign-in was refused (expired, or another tenant), or " + hint
    elif status == 404:
        hint = "check that the resource named in the spec's workspace exists, in that subscription"
    elif status == 409:
        hint = (
            "another operation on the resource is running, or it is in a state that refuses this: try again"
        )
    elif status == 429 or (isinstance(status, int) and status >= 500):
        hint = "Azure refused after the SDK's retries (throttled or unavailable): apply again later"
    return ProviderError(address, f"{head}: {message}", hint)


def error_code_and_message(exc: Exception) -> tuple[str, str]:
    """Azure's error code and the deepest message of the error (where a deployment's cause is)."""
    error: Any = getattr(exc, "error", None)
    code = str(getattr(error, "code", "") or "")
    message = str(getattr(error, "message", "") or "")
    details = list(getattr(error, "details", None) or [])
    while details:  # a DeploymentFailed's cause is in its details (and theirs)
        deeper = details[0]
        code = str(getattr(deeper, "code", "") or code)
        message = str(getattr(deeper, "message", "") or message)
        details = list(getattr(deeper, "details", None) or [])
    if not message:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        message = message.splitlines()[0] if message else type(exc).__name__
    text = " ".join(str(message).split())  # one line: Azure's messages hold newlines and runs of spaces
    return printable(code, 80), printable(redact(text), MAX_MESSAGE_CHARS)
