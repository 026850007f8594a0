"""Traffic for the local endpoint: replay a file of feature rows against the scoring server.

A traffic file is CSV, Parquet (a file or a folder of them) or JSON lines, one feature row per
record, optionally with the target column; :func:`read_traffic` and :func:`check_traffic` (from
:mod:`.traffic_input`) read it and hold it to the model. :func:`replay` sends it in batches, each
request with its own ``x-request-id``, and returns what came back and, when the rows carry the
target, the ground truth ``{request_id, row, target}`` that the monitor joins to the prediction log.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# Reading and checking a traffic file live in their own module; callers may import them from here.
from mlspec.runtime.serving.traffic_input import check_traffic, read_traffic

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "NO_RESPONSE",
    "REQUEST_TIMEOUT_SECONDS",
    "EndpointGone",
    "ReplayResult",
    "ScoringEndpoint",
    "check_traffic",
    "json_rows",
    "read_traffic",
    "replay",
]

DEFAULT_BATCH_ROWS = 50
REQUEST_TIMEOUT_SECONDS = 30.0
NO_RESPONSE = 0
"""The status counted for a request that timed out."""


class ScoringEndpoint(Protocol):
    """What replay needs of a server (:class:`.server.ScoringServer` is one)."""

    @property
    def url(self) -> str: ...

    @property
    def headers(self) -> dict[str, str]: ...


class EndpointGone(ConnectionError):
    """The scoring server stopped accepting connections during a replay."""


@dataclass
class ReplayResult:
    requests: int = 0
    rows: int = 0
    status_counts: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    """One per answered request, in sending order."""
    ground_truth: list[dict[str, Any]] = field(default_factory=list)
    """``{request_id, row, target}``: ``row`` is the row's position within its request."""
    first_error: str | None = None
    """The status and body of the first answer that was not a 200 (cut to 500 characters)."""

    @property
    def succeeded(self) -> int:
        return self.status_counts.get(200, 0)


def replay(
    server: ScoringEndpoint,
    frame: Any,
    features: Sequence[str],
    target: str | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_ROWS,
    max_requests: int | None = None,
    timeout: float = REQUEST_TIMEOUT_SECONDS,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    """Send ``frame``'s ``features`` to ``server`` in batches of ``batch_size`` rows.

    At most ``max_requests`` requests are sent (all the rows by default). A request that times out
    counts under status 0; a refused connection raises :class:`EndpointGone`. ``on_progress(rows
    sent, rows in all)`` is called at most once a second, and after the last request.
    """
    import requests

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise ValueError(f"the traffic has no column(s) {', '.join(map(repr, missing))}")
    has_target = target is not None and target in frame.columns
    batches = math.ceil(len(frame) / batch_size)
    if max_requests is not None:
        batches = min(batches, max_requests)
    result = ReplayResult()
    total = min(len(frame), batches * batch_size)
    reported = time.monotonic()
    with requests.Session() as session:
        session.headers.update({**server.headers, "Content-Type": "application/json"})
        for number in range(batches):
            chunk = frame.iloc[number * batch_size : (number + 1) * batch_size]
            rid = str(uuid.uuid4())
            body = {"columns": list(features), "data": json_rows(chunk, features)}
            started = time.perf_counter()
            try:
                response = session.post(
                    f"{server.url}/score",
                    data=json.dumps(body, allow_nan=False),
                    headers={"x-request-id": rid},
                    timeout=timeout,
                )
            except requests.Timeout:
                result.status_counts[NO_RESPONSE] += 1
                result.requests += 1
                continue
            except requests.ConnectionError as error:
                raise EndpointGone(
                    f"the scoring server at {server.url} stopped answering: {error}"
                ) from error
            result.latencies_ms.append(round(1000 * (time.perf_counter() - started), 3))
            result.status_counts[response.status_code] += 1
            result.requests += 1
            if response.status_code != 200 and result.first_error is None:
                result.first_error = f"{response.status_code}: {_error_text(response)}"
            result.rows += len(chunk)
            if on_progress is not None and (time.monotonic() - reported >= 1.0 or number == batches - 1):
                on_progress(result.rows, total)
                reported = time.monotonic()
            if has_target and response.status_code == 200:
                assert target is not None
                targets = [_plain(value) for value in chunk[target].tolist()]
                result.ground_truth.extend(
                    {"request_id": rid, "row": row, "target": value} for row, value in enumerate(targets)
                )
    return result


def json_rows(chunk: Any, features: Sequence[str]) -> list[list[Any]]:
    """The rows as JSON values: missing values as null, numpy and pandas scalars as Python ones."""
    # Plain tuples (name=None): a namedtuple class per batch is an eval of generated source, and a
    # Ctrl-C landing in it would turn the handled interrupt's exit code into death by SIGINT.
    return [
        [_plain(value) for value in row] for row in chunk[list(features)].itertuples(index=False, name=None)
    ]


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, Mapping | list | tuple):
        return json.loads(json.dumps(value, default=str))
    import pandas as pd

    if pd.isna(value):  # NaN, NaT, pd.NA, numpy's missing values
        return None
    if hasattr(value, "isoformat"):  # pandas Timestamp, datetime, date
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return str(value)


def _error_text(response: Any, limit: int = 500) -> str:
    """The server's ``error`` field (else the body), cut at a word boundary when long."""
    text = str(response.text)
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        text = body["error"]
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " ..."
