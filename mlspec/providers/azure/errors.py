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


def azure_error(address: Address | str, action: str, exc: Exception, needs_role: str = "") -> ProviderError:
    """The one-line :class:`ProviderError` for an SDK exception raised while doing ``action``.

    ``needs_role`` names the role (and where) that a 401/403 means the deploying identity lacks.
    """
    status = getattr(exc, "status_code", None)
    code, message = error_code_and_message(exc)
    head = f"{status} on {action}" if status else f"{action} failed"
    if code:
        head += f" ({code})"
    hint: str | None = None
    if status in (401, 403):
        hint = (
            f"the deploying identity needs {needs_role}"
            if needs_role
            else "the deploying identity lacks a role it needs here"
        ) + "; `mlspec doctor --env NAME` lists the roles to deploy"
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
