"""How the blob backend talks to Azure Storage: bounded retries and timeouts, and what a failed
request becomes — an MLS807 naming the container (its URL without the query string, where a SAS
token travels) and the cause, never the SDK's message, which may quote the signed request URL.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from mlspec.diagnostics import Diagnostic, Location, MlspecError
from mlspec.redaction import redact, strip_query

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
T = TypeVar("T")

# How long an unreachable or silent endpoint can hold a command: the SDK's defaults (20 s to connect,
# 60 s to read, 3 retries 15 s apart) keep `plan` waiting for minutes. With these, a storage account
# that does not answer fails in about 7 s: 3 attempts of at most 2 s each, 0.25 s apart.
RETRY_TOTAL = 2
"""Retries after the first attempt of each request (connection errors, timeouts, 5xx, throttling)."""
RETRY_BACKOFF_SECONDS = 0.25
"""Pause between attempts (linear, with up to half of it as random jitter)."""
CONNECTION_TIMEOUT_SECONDS = 2.0
"""Time to open a connection to the endpoint."""
READ_TIMEOUT_SECONDS = 2.0
"""Time to wait for the endpoint's answer (between two reads of a response)."""


OPERATION_DEADLINE_SECONDS = 7.0
"""The most one backend operation (read, write, lock, ...) may take, retries included. The timeouts above
bound each socket read only: an endpoint that answers one byte at a time would pass them for ever."""


class DeadlineExceeded(MlspecError):
    """An operation that did not finish in time: the endpoint is treated as unreachable from then on."""


def within_deadline(where: str, operation: Callable[[], T]) -> T:
    """``operation()`` (an SDK call), or MLS807 once :data:`OPERATION_DEADLINE_SECONDS` pass without it
    finishing. It runs in a daemon thread, which is abandoned at the deadline (the command ends anyway)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = operation()
        except BaseException as exc:  # handed to the caller's thread as it is
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="mlspec-state-storage", daemon=True)
    worker.start()
    worker.join(OPERATION_DEADLINE_SECONDS)
    if worker.is_alive():
        raise DeadlineExceeded(
            _backend_error(
                f"cannot reach the state storage {strip_query(where)}: timed out, no complete answer within "
                f"{OPERATION_DEADLINE_SECONDS:g} s ({RETRY_TOTAL + 1} attempts at most; it accepts connections "
                "but answers too slowly, or not at all)",
                "check the endpoint (state.storage_account or the connection string), the network and any proxy",
                strip_query(where),
            ).diagnostics
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def client_options(sdk: Any) -> dict[str, Any]:
    """The retry policy and timeouts every client of this backend uses (documented in docs/plan.md)."""
    return {
        "retry_policy": sdk.LinearRetry(
            backoff=RETRY_BACKOFF_SECONDS,
            random_jitter_range=RETRY_BACKOFF_SECONDS / 2,
            retry_total=RETRY_TOTAL,
        ),
        "connection_timeout": CONNECTION_TIMEOUT_SECONDS,
        "read_timeout": READ_TIMEOUT_SECONDS,
    }


@contextlib.contextmanager
def azure_errors(where: str) -> Iterator[None]:
    """SDK failures become MLS807 diagnostics naming the container (its URL without the query string,
    where a SAS token travels) and the cause; the SDK's own message is not quoted, since it may carry
    the request URL with its signature."""
    from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError

    where = strip_query(where)
    try:
        yield
    except ClientAuthenticationError as exc:
        raise _backend_error(
            f"cannot authenticate to the state storage {where}: {_http_summary(exc)}",
            f"sign in (`az login`), use a managed identity, or set {CONNECTION_STRING_ENV}",
            where,
        ) from None
    except HttpResponseError as exc:
        denied = getattr(exc, "status_code", None) in (401, 403)
        raise _backend_error(
            f"the state storage {where} refused the request: {_http_summary(exc)}",
            "check the container's permissions (a SAS needs read, write, create, delete and list)"
            if denied
            else "the service failed after the retries; try again later",
            where,
        ) from None
    except AzureError as exc:  # ServiceRequestError / ServiceResponseError: connection, timeouts
        raise _backend_error(
            f"cannot reach the state storage {where}: {network_cause(exc)} "
            f"({RETRY_TOTAL + 1} attempts, {CONNECTION_TIMEOUT_SECONDS:g} s to connect and "
            f"{READ_TIMEOUT_SECONDS:g} s to answer each)",
            "check the endpoint (state.storage_account or the connection string), the network and any proxy",
            where,
        ) from None


def _backend_error(message: str, hint: str, where: str) -> MlspecError:
    return MlspecError(
        [Diagnostic.error("MLS807", redact(message), ("state",), Location(where, 1, 1), hint=redact(hint))]
    )


def _http_summary(exc: Any) -> str:
    """``HTTP 403 AuthenticationFailed: <the first line of the service's message>``, redacted."""
    status = getattr(exc, "status_code", None)
    raw_code = getattr(exc, "error_code", None) or getattr(exc, "reason", None) or ""
    code = str(getattr(raw_code, "value", raw_code))  # the SDK's StorageErrorCode enum, or a string
    first_line = str(getattr(exc, "message", "") or "").strip().splitlines()[:1]
    detail = redact(first_line[0]) if first_line and "://" not in first_line[0] else ""
    head = f"HTTP {status} {code}".strip() if status else (str(code) or type(exc).__name__)
    return f"{head}: {detail}" if detail and detail != code else head


def network_cause(exc: BaseException) -> str:
    """What went wrong on the wire, from the exception chain's types (their messages quote the URL)."""
    chain = _exception_chain(exc)
    names = {type(e).__name__ for e in chain}
    for error in chain:
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(error, socket.gaierror):
            return "the host name does not resolve"
        if isinstance(error, ssl.SSLError):
            return "the TLS handshake failed"
    if names & {"ReadTimeout", "ReadTimeoutError", "ServiceResponseTimeoutError"}:
        return f"timed out: no answer within {READ_TIMEOUT_SECONDS:g} s"
    if names & {"ConnectTimeout", "ConnectTimeoutError", "TimeoutError", "ServiceRequestTimeoutError"}:
        return f"timed out connecting within {CONNECTION_TIMEOUT_SECONDS:g} s"
    for error in chain:
        if isinstance(error, OSError) and error.strerror:
            return f"connection failed: {error.strerror}"
    return f"connection failed ({type(chain[-1]).__name__})"


def _exception_chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending and len(found) < 50:
        error = pending.pop(0)
        if any(error is seen for seen in found):
            continue
        found.append(error)
        linked = [error.__cause__, error.__context__, getattr(error, "inner_exception", None)]
        linked += [getattr(error, "reason", None), *error.args]
        pending += [e for e in linked if isinstance(e, BaseException)]
    return found
