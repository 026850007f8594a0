"""Test transports for the Azure SDKs' own HTTP pipeline: the SDK builds, signs, retries, polls and
parses every request as in production; only the bytes on the wire are replaced."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import requests
from azure.core.pipeline._tools import is_rest
from azure.core.pipeline.transport import HttpTransport, RequestsTransportResponse

Handler = Callable[[Any], tuple[int, dict[str, str], bytes]]

REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    206: "Partial Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def http_response(
    request: Any, status: int, headers: dict[str, str], body: bytes, stream: bool = False
) -> Any:
    """The response object the SDK expects from a transport, for ``request``."""
    response = requests.Response()
    response.status_code = status
    response.reason = REASONS.get(status, "Error")
    response.headers.update({"Content-Length": str(len(body)), **headers})
    response._content = body
    response._content_consumed = True  # type: ignore[attr-defined]
    response.url = request.url
    if is_rest(request):  # what the SDKs send today; the legacy response type for older ones
        from azure.core.rest._requests_basic import RestRequestsTransportResponse

        rest = RestRequestsTransportResponse(request=request, internal_response=response)
        if not stream:
            rest.read()
        return rest
    return RequestsTransportResponse(request, response)


@dataclass
class Recorded:
    """One request as it went over the wire: method, host, path (unquoted), query, JSON body, headers."""

    method: str
    host: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]

    @property
    def api_version(self) -> str:
        return self.query.get("api-version", "")


def raw_body(request: Any) -> bytes:
    """The request's body as bytes (JSON, a form, an upload), whichever request type carries it
    (``azure.core.rest`` requests have ``content``, the legacy ones ``body`` or ``data``)."""
    for attribute in ("content", "body", "data"):
        value = getattr(request, attribute, None)
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode()
        if isinstance(value, dict):  # a form: encoded as the requests transport encodes it
            from requests.models import RequestEncodingMixin

            return str(RequestEncodingMixin._encode_params(value)).encode()
        if hasattr(value, "read"):
            data = value.read()
            if hasattr(value, "seek"):
                value.seek(0)
            return data if isinstance(data, bytes) else str(data).encode()
    return b""


def recorded(request: Any) -> tuple[Recorded, bytes]:
    """``request`` as a :class:`Recorded` (its body parsed when it is JSON or a form), and its raw bytes."""
    url = urlparse(request.url)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    raw = raw_body(request)
    headers = dict(request.headers)
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    body: Any = None
    if raw and "x-www-form-urlencoded" in content_type:
        body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
    elif raw and ("json" in content_type or not content_type):
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
    return Recorded(request.method, url.hostname or "", unquote(url.path), query, body, headers), raw


@dataclass
class Failure:
    """The next ``times`` requests of ``method`` whose path matches ``path_pattern`` fail so."""

    method: str
    path_pattern: str
    status: int
    code: str
    message: str
    times: int
    headers: dict[str, str] = field(default_factory=dict)

    def answer(self) -> tuple[int, dict[str, str], Any]:
        """The failure as Azure Resource Manager's error shape (``{"error": {"code", "message"}}``)."""
        return self.status, self.headers, {"error": {"code": self.code, "message": self.message}}


class FakeTransport(HttpTransport):  # type: ignore[misc]
    """What every fake service shares: the transport protocol (a context manager that opens and closes
    nothing), the requests it was sent, the waits the SDK asked for (recorded, not slept: polls and
    retries wait for nothing in tests, and a test can see they would have), and scripted failures."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.slept: list[float] = []
        self._failures: list[Failure] = []

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        status: int,
        code: str = "Failed",
        message: str = "failed on purpose",
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests of ``method`` whose path matches ``path_pattern`` (a regex)
        with ``status``, the service's error body of ``code`` and ``message``, and ``headers``."""
        self._failures.append(
            Failure(method, path_pattern, status, code, message, times, dict(headers or {}))
        )

    def scripted_failure(self, method: str, path: str) -> Failure | None:
        """The failure scripted for this request, if any (it counts as one of its ``times``)."""
        for failure in self._failures:
            if failure.times > 0 and failure.method == method and re.search(failure.path_pattern, path):
                failure.times -= 1
                return failure
        return None

    def __enter__(self) -> FakeTransport:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def sleep(self, duration: float) -> None:
        self.slept.append(duration)


class ScriptedTransport(FakeTransport):
    """Answers each request the SDK sends with what ``handler`` returns (or raises)."""

    def __init__(self, handler: Handler, extra_headers: dict[str, str] | None = None) -> None:
        super().__init__()
        self.handler = handler
        self.sent: list[Any] = []
        self.extra_headers = dict(extra_headers or {})

    def send(self, request: Any, **kwargs: Any) -> Any:
        self.sent.append(request)
        status, headers, body = self.handler(request)
        return http_response(
            request, status, {**self.extra_headers, **headers}, body, bool(kwargs.get("stream"))
        )
