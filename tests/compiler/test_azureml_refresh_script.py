"""The generated ``refresh_features.py`` against the real azure-synapse-artifacts client.

Every request the client sends ends in a recording transport that checks it against the exchange the
test expects and answers it: a fresh run skips, a stale one starts a run and polls it to its end, a
failed run fails the step naming it; in ``mlspec run`` the script talks to nothing.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mlspec.compiler.azureml import refresh

pytest.importorskip("azure.synapse.artifacts")

from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import HttpResponse, HttpTransport

WORKSPACE = "syn-churn-dev"
ENDPOINT = f"https://{WORKSPACE}.dev.azuresynapse.net"
NOW = dt.datetime(2024, 6, 3, 3, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Exchange:
    """One request the script must send (method and path) and the answer it gets."""

    method: str
    path: str
    status: int
    body: dict[str, Any]


class _Synapse(HttpTransport):  # type: ignore[type-arg]
    """The end of the client's HTTP pipeline: each request must be the next expected one."""

    def __init__(self, *exchanges: Exchange) -> None:
        self.expected = list(exchanges)
        self.sent: list[Any] = []

    def __enter__(self) -> _Synapse:
        return self

    def __exit__(self, *args: Any) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, request: Any, **kwargs: Any) -> HttpResponse:
        assert self.expected, f"unexpected request {request.method} {request.url}"
        exchange = self.expected.pop(0)
        url, _, query = request.url.partition("?")
        assert (request.method, url) == (exchange.method, ENDPOINT + exchange.path)
        assert "api-version=2020-12-01" in query
        assert request.headers["Authorization"] == "Bearer compute-identity-token"
        self.sent.append(request)

        class Reply(HttpResponse):
            def __init__(self) -> None:
                super().__init__(request, None)
                self.status_code = exchange.status
                self.headers = {"Content-Type": "application/json"}
                self.reason = "OK"

            def body(self) -> bytes:
                return json.dumps(exchange.body).encode()

        return Reply()


class _Token:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        assert scopes == ("https://dev.azuresynapse.net/.default",)
        return AccessToken("compute-identity-token", 4102444800)


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script as the build renders it for churn/dev (max age 1d), imported; not in `mlspec run`."""
    monkeypatch.delenv("MLSPEC_LAKE_ROOT", raising=False)
    settings = refresh.FeatureRefresh(WORKSPACE, "churn", max_age_minutes=1440)
    file = tmp_path / refresh.SCRIPT
    file.write_text(refresh.sources(settings)[refresh.SCRIPT], encoding="utf-8")
    spec = importlib.util.spec_from_file_location("refresh_features_under_test", file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "POLL_SECONDS", 0)
    return module


def _client(transport: _Synapse) -> Any:
    from azure.synapse.artifacts import ArtifactsClient

    return ArtifactsClient(credential=_Token(), endpoint=ENDPOINT, transport=transport)


def _query(*runs: dict[str, Any]) -> Exchange:
    return Exchange("POST", "/queryPipelineRuns", 200, {"value": list(runs)})


def _run(run_id: str, status: str, end: str | None = None, message: str = "") -> dict[str, Any]:
    return {"runId": run_id, "pipelineName": "churn", "status": status, "runEnd": end, "message": message}


def _decided(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "refresh.json").read_text(encoding="utf-8")))


def test_a_run_that_ended_within_the_max_age_is_fresh_enough(script: ModuleType, tmp_path: Path) -> None:
    transport = _Synapse(_query(_run("run-1", "Succeeded", "2024-06-02T22:15:00Z")))
    out = tmp_path / "out"
    assert script.main(["--refresh", str(out)], client=_client(transport), now=NOW) == 0
    assert transport.expected == []  # no createRun
    [query] = transport.sent
    body = json.loads(query.body)
    assert body["filters"] == [
        {"operand": "PipelineName", "operator": "Equals", "values": ["churn"]},
        {"operand": "Status", "operator": "Equals", "values": ["Succeeded"]},
    ]
    assert body["orderBy"] == [{"orderBy": "RunEnd", "order": "DESC"}]
    window = [
        dt.datetime.fromisoformat(body[k].replace("Z", "+00:00"))
        for k in ("lastUpdatedAfter", "lastUpdatedBefore")
    ]
    assert window == [NOW - dt.timedelta(days=1), NOW]
    decided = _decided(out)
    assert decided["decision"] == "skipped" and decided["last_run_id"] == "run-1"
    assert decided["last_run_end"] == "2024-06-02T22:15:00+00:00" and decided["max_age_minutes"] == 1440


def test_stale_features_start_a_run_and_wait_for_it_to_succeed(script: ModuleType, tmp_path: Path) -> None:
    transport = _Synapse(
        _query(),
        Exchange("POST", "/pipelines/churn/createRun", 202, {"runId": "run-2"}),
        Exchange("GET", "/pipelineruns/run-2", 200, _run("run-2", "Queued")),
        Exchange("GET", "/pipelineruns/run-2", 200, _run("run-2", "InProgress")),
        Exchange("GET", "/pipelineruns/run-2", 200, _run("run-2", "Succeeded", "2024-06-03T03:41:00Z")),
    )
    out = tmp_path / "out"
    assert script.main(["--refresh", str(out)], client=_client(transport), now=NOW) == 0
    assert transport.expected == []
    decided = _decided(out)
    assert (decided["decision"], decided["run_id"], decided["status"]) == ("ran", "run-2", "Succeeded")
    assert decided["run_end"] == "2024-06-03T03:41:00+00:00"


def test_a_success_older_than_the_max_age_is_stale(script: ModuleType, tmp_path: Path) -> None:
    """The query's window is on last update; a run the service still returns that ended earlier is stale."""
    transport = _Synapse(
        _query(_run("run-0", "Succeeded", "2024-06-01T23:00:00Z")),
        Exchange("POST", "/pipelines/churn/createRun", 202, {"runId": "run-3"}),
        Exchange("GET", "/pipelineruns/run-3", 200, _run("run-3", "Succeeded", "2024-06-03T03:30:00Z")),
    )
    assert script.main(["--refresh", str(tmp_path)], client=_client(transport), now=NOW) == 0
    assert transport.expected == [] and _decided(tmp_path)["run_id"] == "run-3"


def test_a_failed_run_fails_the_step_naming_the_run(
    script: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    transport = _Synapse(
        _query(),
        Exchange("POST", "/pipelines/churn/createRun", 202, {"runId": "run-4"}),
        Exchange(
            "GET",
            "/pipelineruns/run-4",
            200,
            _run("run-4", "Failed", "2024-06-03T03:10:00Z", "notebook web_engagement failed"),
        ),
    )
    assert script.main(["--refresh", str(tmp_path)], client=_client(transport), now=NOW) == 1
    error = capsys.readouterr().err
    assert "Synapse pipeline churn run run-4 ended Failed: notebook web_engagement failed" in error
    assert "not retrained on stale features" in error
    decided = _decided(tmp_path)
    assert decided["decision"] == "failed" and "run-4" in decided["error"]


def test_a_refused_request_says_which_roles_the_identity_needs(script: ModuleType, tmp_path: Path) -> None:
    forbidden = {
        "error": {
            "code": "Unauthorized",
            "message": "The principal does not have the required Synapse RBAC permission",
        }
    }
    transport = _Synapse(Exchange("POST", "/queryPipelineRuns", 403, forbidden))
    assert script.main(["--refresh", str(tmp_path)], client=_client(transport), now=NOW) == 1
    error = _decided(tmp_path)["error"]
    assert "refused a request for pipeline churn (403" in error
    assert "access/synapse-role-assignments.json" in error


def test_a_run_that_does_not_finish_in_time_fails_the_step(script: ModuleType) -> None:
    ticks = iter(range(0, 10**6, 3600))
    transport = _Synapse(
        Exchange("POST", "/pipelines/churn/createRun", 202, {"runId": "run-5"}),
        *(Exchange("GET", "/pipelineruns/run-5", 200, _run("run-5", "InProgress")) for _ in range(5)),
    )
    with pytest.raises(
        script.RefreshFailed, match=r"run run-5 did not finish within 14400 s \(still InProgress\)"
    ):
        script.run_pipeline(_client(transport), sleep=lambda s: None, clock=lambda: float(next(ticks)))


def test_in_mlspec_run_it_writes_its_decision_without_the_sdk_or_the_network(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLSPEC_LAKE_ROOT", str(tmp_path / "lake"))
    for module in ("azure.synapse.artifacts", "azure.identity", "azure.core.exceptions"):
        monkeypatch.setitem(sys.modules, module, None)  # importing any of them now raises ImportError

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the local refresh step opened a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    assert script.main(["--refresh", str(tmp_path / "out")], now=NOW) == 0
    decided = _decided(tmp_path / "out")
    assert decided["decision"] == "local" and decided["pipeline"] == "churn"
    assert decided["checked_at"] == "2024-06-03T03:00:00+00:00"
