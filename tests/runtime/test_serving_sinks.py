"""Where the scoring script sends what it observes on Azure: the prediction log to the lake
(ADLS Gen2, with the pod's identity) and request telemetry to Application Insights.

The lake writer runs the real ``azure-storage-file-datalake`` client in the scoring environment; its
HTTP pipeline ends in a recording transport (Azurite has no DFS endpoint), so the tests assert the
exact requests Azure would receive. The telemetry test runs the real server and Microsoft's exporter
against an ingestion endpoint on 127.0.0.1 and reads the envelopes it posts.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlspec.runtime.serving.server import start_scoring_server

from .test_serving import ROWS, SECRETS, build, model_dir, python  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow

LAKE_URL = "abfss://monitoring@servelake.dfs.core.windows.net/leaver-api/predictions/"

# Runs inside the scoring environment: the build's score.py, a LakeLog whose pipeline ends in a
# transport that records each request and answers as the DFS endpoint does (201 create, 202 append,
# 200 flush), or 409 (the path exists) for a request that creates only if nothing is there
# (If-None-Match: *) while `fail_creates` is positive.
LAKE_DRIVER = r"""
import importlib.util, json, sys, types
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpResponse

spec = importlib.util.spec_from_file_location("score", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
plan = json.loads(sys.argv[2])
sent = []
folders = []
fail_creates = [plan.get("fail_creates", 0)]


class Token:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("test-token", 4102444800)


class Answer:
    def __init__(self, request, status):
        self.request, self.status_code, self.reason = request, status, "x"
        self.headers = {"x-ms-request-id": "1", "Content-Length": "0", "ETag": '"0x1"',
                        "Last-Modified": "Tue, 01 Dec 2026 00:00:00 GMT", "x-ms-request-server-encrypted": "true"}
        self.content_type = None
    def body(self):
        return b""
    def text(self, encoding=None):
        return ""
    def stream_download(self, *a, **k):
        return iter([b""])


class Recording(HttpTransport):
    def __enter__(self): return self
    def __exit__(self, *a): pass
    def open(self): pass
    def close(self): pass
    def send(self, request, **kwargs):
        from urllib.parse import urlsplit, parse_qs
        url = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if query.get("resource") == "directory":
            folders.append(url.path)
            return Answer(request, 201)
        body = request.data if isinstance(request.data, bytes) else (request.data or b"")
        if hasattr(body, "read"):
            body = body.read()
        sent.append({
            "method": request.method, "host": url.netloc, "path": url.path, "query": query,
            "authorization": request.headers.get("Authorization"),
            "if_none_match": request.headers.get("If-None-Match"),
            "body": body.decode("utf-8") if isinstance(body, bytes) else str(body),
        })
        status = {"PUT": 201, "PATCH": 202 if query.get("action") == "append" else 200}[request.method]
        if request.headers.get("If-None-Match") == "*" and fail_creates[0] > 0:
            fail_creates[0] -= 1
            status = 409
        return Answer(request, status)


log = module.LakeLog(sys.argv[3], credential=Token(), transport=Recording())
log.closed = True  # the test drives the flushes itself
log.wake.set()
log.thread.join(5)
results = []
for step in plan["steps"]:
    if step == "flush":
        results.append(log.flush())
    else:
        log.add((json.dumps(step) + "\n").encode())
print(json.dumps({"sent": sent, "folders": folders, "results": results, "dropped": log.dropped, "buffered": len(log.buffer)}))
"""


def _drive(
    interpreter: Path, build_dir: Path, plan: dict[str, Any], env: dict[str, str] | None = None
) -> dict[str, Any]:
    done = subprocess.run(
        [
            str(interpreter),
            "-c",
            LAKE_DRIVER,
            str(build_dir / "acr" / "score.py"),
            json.dumps(plan),
            LAKE_URL,
        ],
        check=False,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_batch_of_predictions_becomes_one_new_lake_file_written_with_the_pods_token(
    python: Path,  # noqa: F811
    build: Path,  # noqa: F811
) -> None:
    outcome = _drive(python, build, {"steps": [{"row": 1}, {"row": 2}, "flush", "flush"]})
    assert outcome["results"] == [True, True], "an empty buffer is not a file"
    assert outcome["folders"] == ["/monitoring/leaver-api/predictions"], "made once, for the job's mount"
    sent = outcome["sent"]
    assert {r["path"] for r in sent} == {sent[0]["path"]}, "one batch, one file"
    assert {r["host"] for r in sent} == {"servelake.dfs.core.windows.net"}
    assert {r["authorization"] for r in sent} == {"Bearer test-token"}
    day = time.strftime("%Y/%m/%d", time.gmtime())
    folder, name = sent[0]["path"].rsplit("/", 1)
    assert folder == f"/monitoring/leaver-api/predictions/{day}"
    assert name.startswith("predictions-") and name.endswith("-1.jsonl")
    body = '{"row": 1}\n{"row": 2}\n'
    appended = [r for r in sent if r["query"].get("action") == "append"]
    assert [(r["query"]["position"], r["body"]) for r in appended] == [("0", body)]
    flushed = sent[-1]
    assert (flushed["method"], flushed["query"]["action"], flushed["query"]["position"]) == (
        "PATCH",
        "flush",
        str(len(body)),
    )
    creating = [r for r in sent if r["method"] == "PUT" or r["query"].get("action") == "flush"]
    assert all(r["if_none_match"] == "*" for r in creating), "a batch never replaces an existing file"


def test_a_failed_upload_keeps_the_records_for_a_new_file_and_the_buffer_stays_bounded(
    python: Path,  # noqa: F811
    build: Path,  # noqa: F811
) -> None:
    outcome = _drive(
        python,
        build,
        {"fail_creates": 1, "steps": [{"row": 1}, {"row": 2}, "flush", {"row": 3}, {"row": 4}, "flush"]},
        env={"PREDICTION_LOG_MAX_BUFFERED": "3"},
    )
    assert outcome["results"] == [False, True]
    paths = list(dict.fromkeys(r["path"] for r in outcome["sent"]))
    assert len(paths) == 2, "the retry writes a file of its own name"
    retried = [r for r in outcome["sent"] if r["path"] == paths[1] and r["query"].get("action") == "append"]
    assert [r["body"] for r in retried] == ['{"row": 2}\n{"row": 3}\n{"row": 4}\n'], "the oldest was dropped"
    assert (outcome["dropped"], outcome["buffered"]) == (1, 0)


def test_a_lake_path_that_is_not_abfss_stops_the_worker_with_the_setting_named(
    python: Path,  # noqa: F811
    build: Path,  # noqa: F811
) -> None:
    check = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('score', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "try:\n"
        "    module.LakeLog('https://servelake.blob.core.windows.net/monitoring/x')\n"
        "except module.ConfigError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run(
        [str(python), "-c", check, str(build / "acr" / "score.py")],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "PREDICTION_LOG_PATH" in done.stdout and "abfss://" in done.stdout


class _Ingestion(BaseHTTPRequestHandler):
    envelopes: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8")
        items = (
            json.loads(text)
            if text.lstrip().startswith("[")
            else [json.loads(t) for t in text.splitlines() if t]
        )
        type(self).envelopes.extend(items)
        answer = json.dumps({"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def ingestion() -> Iterator[str]:
    _Ingestion.envelopes = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ingestion)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def test_every_answered_request_is_a_request_row_in_application_insights_without_its_data(
    python: Path,  # noqa: F811
    build: Path,  # noqa: F811
    model_dir: Path,  # noqa: F811
    ingestion: str,
) -> None:
    import requests

    connection = f"InstrumentationKey=00000000-0000-0000-0000-0000000000aa;IngestionEndpoint={ingestion}"
    with start_scoring_server(
        build / "acr" / "score.py",
        python=python,
        model_dir=model_dir,
        secrets=SECRETS,
        environment={"APPLICATIONINSIGHTS_CONNECTION_STRING": connection},
    ) as server:
        body = json.dumps({"columns": ["months", "spend", "tier"], "data": ROWS})
        assert (
            requests.post(server.score_url, data=body, headers=server.headers, timeout=10).status_code == 200
        )
        assert (
            requests.post(server.score_url, data="{", headers=server.headers, timeout=10).status_code == 400
        )
        assert requests.get(server.score_url, timeout=10).status_code == 200  # readiness: not telemetry
    # The server stops its workers on leaving the block; the batch processor exports at exit.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(_requests()) < 2:
        time.sleep(0.2)
    rows = _requests()
    assert sorted(r["responseCode"] for r in rows) == ["200", "400"]
    assert {r["name"] for r in rows} == {"POST /score"}
    assert all(r["success"] is (r["responseCode"] == "200") for r in rows)
    sent = json.dumps(_Ingestion.envelopes)
    assert "premium" not in sent and "months" not in sent, "inputs never reach telemetry"
    assert SECRETS["upstream-token"] not in sent


def _requests() -> list[dict[str, Any]]:
    return [
        e["data"]["baseData"]
        for e in _Ingestion.envelopes
        if e.get("data", {}).get("baseType") == "RequestData"
    ]


def test_a_batch_is_cut_into_files_of_bounded_size_and_the_buffer_is_bounded_in_bytes(
    python: Path,  # noqa: F811
    build: Path,  # noqa: F811
) -> None:
    """Bodies may be large (10 MiB): the buffer is bounded in bytes too, and no file (so no upload) holds
    more than the flush size."""
    record = '{"row": 1}\n'  # 11 bytes, as each step below
    cut = _drive(
        python,
        build,
        {"steps": [{"row": 1}, {"row": 2}, {"row": 3}, "flush"]},
        {"PREDICTION_LOG_FLUSH_BYTES": "25"},
    )
    appended = [r["body"] for r in cut["sent"] if r["query"].get("action") == "append"]
    assert appended == ['{"row": 1}\n{"row": 2}\n', '{"row": 3}\n'] and cut["results"] == [True]
    assert len({r["path"] for r in cut["sent"]}) == 2
    bounded = _drive(
        python,
        build,
        {"fail_creates": 1, "steps": [{"row": 1}, {"row": 2}, "flush", {"row": 3}]},
        {"PREDICTION_LOG_MAX_BUFFERED_BYTES": str(2 * len(record) + 5)},
    )
    assert (bounded["dropped"], bounded["buffered"]) == (1, 2), "the oldest record went, two stay"
