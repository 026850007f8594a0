"""Test transports for the Azure SDKs' own HTTP pipeline: the SDK builds, signs, retries, polls and
parses every request as in production; only the bytes on the wire are replaced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


class ScriptedTransport(HttpTransport):  # type: ignore[misc]
    """Answers each request the SDK sends with what ``handler`` returns (or raises)."""

    def __init__(self, handler: Handler, extra_headers: dict[str, str] | None = None) -> None:
        self.handler = handler
        self.sent: list[Any] = []
        self.extra_headers = dict(extra_headers or {})

    def __enter__(self) -> ScriptedTransport:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, request: Any, **kwargs: Any) -> Any:
        self.sent.append(request)
        status, headers, body = self.handler(request)
        return http_response(
            request, status, {**self.extra_headers, **headers}, body, bool(kwargs.get("stream"))
        )
