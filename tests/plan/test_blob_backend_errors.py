"""The blob backend's failures, through the Azure SDK's own HTTP pipeline: no SAS token in any
message or location, lock holders printed escaped, and an unreachable endpoint failing fast.

Most tests plug a scripted transport into the SDK (``transport=``): the SDK builds, signs, retries
and parses every request as in production; only the bytes on the wire are replaced. The timing
tests use real sockets on the loopback interface: one that accepts and never answers, one that
refuses.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.storage.blob")

from azure.core.exceptions import ServiceRequestError

from mlspec.diagnostics import MlspecError
from mlspec.plan.backends import blob as blob_module
from mlspec.plan.backends import blob_connection
from mlspec.plan.lock import LockHeldError
from mlspec.plan.state import State
from mlspec.reporters.text import format_diagnostic
from tests.azure_http import Handler
from tests.azure_http import ScriptedTransport as _Scripted

SIGNATURE = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789%2BABCDE%3D"
SAS = f"sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&spr=https&sig={SIGNATURE}"


def sas_connection_string(endpoint: str = "https://acct.blob.core.windows.net/") -> str:
    return f"BlobEndpoint={endpoint};SharedAccessSignature={SAS}"


def ScriptedTransport(handler: Handler) -> _Scripted:
    return _Scripted(handler, {"x-ms-version": "2025-01-05"})


def storage_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}\nRequestId:1\nTime:2026-01-01T00:00:00Z</Message></Error>"
    ).encode()
    return status, {"x-ms-error-code": code, "Content-Type": "application/xml"}, body


def backend_with(handler: Handler, monkeypatch: pytest.MonkeyPatch) -> blob_module.BlobBackend:
    monkeypatch.setenv(blob_module.CONNECTION_STRING_ENV, sas_connection_string())
    return blob_module.BlobBackend.from_config(
        {"backend": "azure_blob"}, "shop", "dev", transport=ScriptedTransport(handler)
    )


def everything_printed(error: MlspecError) -> str:
    """What a user can see of an error: its text form, every diagnostic as the CLI prints it, its fields."""
    parts = [str(error)]
    for d in error.diagnostics:
        parts += [format_diagnostic(d, color=False), repr(d)]
    return "\n".join(parts)


def assert_no_sas(text: str) -> None:
    assert "sig=" not in text.lower(), text
    assert SIGNATURE not in text and "AbCdEfGh" not in text, text
    assert "sv=2022" not in text, text


def test_an_authentication_failure_names_the_container_without_its_sas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = backend_with(
        lambda _r: storage_error(403, "AuthenticationFailed", "Server failed to authenticate the request."),
        monkeypatch,
    )
    with pytest.raises(MlspecError) as raised:
        backend.read()
    printed = everything_printed(raised.value)
    assert_no_sas(printed)
    assert raised.value.diagnostics[0].code == "MLS807"
    assert "https://acct.blob.core.windows.net/mlspec-state" in printed
    assert backend.description == "https://acct.blob.core.windows.net/mlspec-state/shop/dev.json"


def test_a_network_error_quoting_the_request_url_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(request: Any) -> tuple[int, dict[str, str], bytes]:
        raise ServiceRequestError(f"Failed to establish a new connection to {request.url}: [Errno 111]")

    monkeypatch.setattr(blob_connection, "RETRY_BACKOFF_SECONDS", 0.0)
    backend = backend_with(refuse, monkeypatch)
    for operation in (backend.read, lambda: backend.lock("plan")):
        with pytest.raises(MlspecError) as raised:
            operation()
        printed = everything_printed(raised.value)
        assert_no_sas(printed)
        assert raised.value.diagnostics[0].code == "MLS807"
        assert "acct.blob.core.windows.net" in printed


def test_a_server_error_on_write_is_a_diagnostic_without_the_sas(monkeypatch: pytest.MonkeyPatch) -> None:
    def answer(request: Any) -> tuple[int, dict[str, str], bytes]:
        if request.method == "GET":
            return storage_error(404, "BlobNotFound", "The specified blob does not exist.")
        return storage_error(500, "InternalError", f"The server failed; request {request.url}")

    monkeypatch.setattr(blob_connection, "RETRY_BACKOFF_SECONDS", 0.0)
    backend = backend_with(answer, monkeypatch)
    with pytest.raises(MlspecError) as raised:
        backend.write(State.empty("shop", "dev"))
    printed = everything_printed(raised.value)
    assert_no_sas(printed)
    assert raised.value.diagnostics[0].code == "MLS807"
    assert "InternalError" in printed


def test_a_corrupted_state_blob_is_mls801_located_at_the_blob_without_its_sas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def answer(request: Any) -> tuple[int, dict[str, str], bytes]:
        body = b'{"version": 1, "serial": 1e999}'
        headers = {"ETag": '"0x1"', "Content-Range": f"bytes 0-{len(body) - 1}/{len(body)}"}
        return 206, {**headers, "Content-Type": "application/octet-stream"}, body

    backend = backend_with(answer, monkeypatch)
    with pytest.raises(MlspecError) as raised:
        backend.read()
    printed = everything_printed(raised.value)
    assert_no_sas(printed)
    diagnostic = raised.value.diagnostics[0]
    assert diagnostic.code == "MLS801"
    assert diagnostic.location is not None
    assert diagnostic.location.file == "https://acct.blob.core.windows.net/mlspec-state/shop/dev.json"


def test_a_lock_race_names_the_holder_escaped_and_the_lock_blob_without_its_sas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def answer(request: Any) -> tuple[int, dict[str, str], bytes]:
        if request.method == "PUT" and "comp=lease" in request.url:
            return storage_error(409, "LeaseAlreadyPresent", "There is already a lease present.")
        if request.method == "PUT":
            return storage_error(409, "ContainerAlreadyExists", "The specified resource already exists.")
        if request.method == "HEAD":
            return (
                200,
                {
                    "x-ms-lease-state": "leased",
                    "x-ms-lease-status": "locked",
                    "x-ms-meta-id": "1234",
                    "x-ms-meta-who": "mallory\x1b[2J\x1b[31m",
                    "x-ms-meta-operation": "apply\x07",
                    "x-ms-meta-created": "2026-01-01T00:00:00Z",
                    "Last-Modified": "Thu, 01 Jan 2026 00:00:00 GMT",
                    "ETag": '"0x1"',
                },
                b"",
            )
        return storage_error(400, "Unexpected", "unexpected request")

    backend = backend_with(answer, monkeypatch)
    with pytest.raises(LockHeldError) as raised:
        backend.lock("plan")
    printed = everything_printed(raised.value)
    assert_no_sas(printed)
    assert "\x1b" not in printed and "\x07" not in printed
    assert "mallory\\x1b[2J\\x1b[31m" in printed
    location = raised.value.diagnostics[0].location
    assert (
        location is not None
        and location.file == "https://acct.blob.core.windows.net/mlspec-state/shop/dev.lock"
    )


# --- an unreachable endpoint fails fast, naming it and the cause ---------------------------------


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/devstoreaccount1"
    finally:
        server.close()


@pytest.fixture
def dripping_endpoint() -> Iterator[str]:
    """A loopback server that answers ``200 OK`` and then one header line every 1.5 s, for ever: each
    read arrives before the read timeout, so only an overall deadline ends the request."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    stop = threading.Event()

    def drip(connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection:
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            while not stop.wait(1.5):
                connection.sendall(b"x-ms-drip: 1\r\n")

    def accept() -> None:
        with contextlib.suppress(OSError):
            while not stop.is_set():
                connection, _ = server.accept()
                threading.Thread(target=drip, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/devstoreaccount1"
    finally:
        stop.set()
        server.close()


@pytest.fixture
def refusing_endpoint() -> str:
    """A loopback port nothing listens on: every connection is refused at once."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}/devstoreaccount1"


@pytest.mark.parametrize(
    ("endpoint_fixture", "cause"),
    [("silent_endpoint", "timed out"), ("refusing_endpoint", "refused"), ("dripping_endpoint", "timed out")],
)
def test_an_unreachable_endpoint_fails_within_10_s_naming_it_and_the_cause(
    endpoint_fixture: str, cause: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint: str = request.getfixturevalue(endpoint_fixture)
    monkeypatch.setenv(blob_module.CONNECTION_STRING_ENV, sas_connection_string(endpoint))
    for operation in ("read", "lock"):
        backend = blob_module.BlobBackend.from_config({"backend": "azure_blob"}, "shop", "dev")
        started = time.monotonic()
        with pytest.raises(MlspecError) as raised:
            backend.read() if operation == "read" else backend.lock("plan")
        elapsed = time.monotonic() - started
        assert elapsed < 10, f"{operation} took {elapsed:.1f} s"
        printed = everything_printed(raised.value)
        assert_no_sas(printed)
        assert raised.value.diagnostics[0].code == "MLS807"
        assert endpoint.split("/devstore", maxsplit=1)[0] in printed, printed
        assert cause in printed.lower(), printed
        assert f"{blob_connection.RETRY_TOTAL + 1} attempts" in printed, printed


def test_the_cli_fails_within_10_s_on_a_silent_endpoint(
    shop: Path, silent_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plan.conftest import run_cli

    shop.write_text(shop.read_text() + "\nstate: {backend: azure_blob}\n")
    started = time.monotonic()
    result = run_cli(
        ["plan", "--env", "dev"],
        shop.parent,
        AZURE_STORAGE_CONNECTION_STRING=sas_connection_string(silent_endpoint),
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert elapsed < 10, f"the CLI took {elapsed:.1f} s (python start-up and build included)"
    assert "internal error" not in result.stderr
    assert "MLS807" in result.stderr and "127.0.0.1" in result.stderr
    assert_no_sas(result.stdout + result.stderr)


def test_after_one_operation_times_out_the_next_fails_at_once(
    dripping_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(blob_module.CONNECTION_STRING_ENV, sas_connection_string(dripping_endpoint))
    backend = blob_module.BlobBackend.from_config({"backend": "azure_blob"}, "shop", "dev")
    with pytest.raises(MlspecError):
        backend.read()
    started = time.monotonic()
    with pytest.raises(MlspecError) as raised:
        backend.lock("plan")  # what a command does next: it must not wait out the deadline again
    assert time.monotonic() - started < 1
    assert raised.value.diagnostics[0].code == "MLS807"
