"""The build's scoring script served by the real Azure ML inference server (azmlinfsrv + gunicorn).

One scoring environment is built per session (cached across runs under ``MLSPEC_CACHE_DIR``),
one model trained with ``mlflow.sklearn.save_model``, and one server started for the module;
tests that need other settings start their own. The hardening tests talk raw HTTP/1.1 over
sockets to 127.0.0.1 only, with bounded loops.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlspec import api
from mlspec.runtime.serving.environment import scoring_python
from mlspec.runtime.serving.server import ScoringServer, ScoringServerError, start_scoring_server
from mlspec.runtime.serving.traffic import replay

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(importlib.util.find_spec(m) is None for m in ("sklearn", "mlflow", "pandas", "requests")),
        reason="needs scikit-learn, mlflow, pandas and requests (pip install -e '.[local]')",
    ),
]

SPEC = Path(__file__).parent / "data" / "serving" / "mlproject.yaml"
FEATURES = ["months", "spend", "tier"]
SECRETS = {"upstream-token": "token-value-never-logged", "partner-password": "password-never-logged"}
ROWS = [[3, 20.5, "basic"], [48, 99.0, "premium"], [12, 55.0, "basic"]]
MAX_BODY = 10 * 1024 * 1024


# --- fixtures ------------------------------------------------------------------------------


def _train(folder: Path) -> Any:
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "months": rng.integers(1, 60, 300),
            "spend": rng.normal(60, 20, 300).round(2),
            "tier": rng.choice(["basic", "premium"], 300),
        }
    )
    encode = ColumnTransformer(
        [("tier", OneHotEncoder(handle_unknown="ignore"), ["tier"])], remainder="passthrough"
    )
    model = Pipeline([("encode", encode), ("classify", LogisticRegression(max_iter=1000))])
    model.fit(frame, frame["months"] < 15)
    mlflow.sklearn.save_model(model, str(folder), input_example=frame.head(3))
    return model


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("registry") / "leaver-model"
    _train(folder)
    return folder


@pytest.fixture(scope="session")
def model(model_dir: Path) -> Any:
    import mlflow.sklearn

    return mlflow.sklearn.load_model(str(model_dir))


@pytest.fixture(scope="session")
def python(model_dir: Path) -> Path:
    return scoring_python(model_dir)


@pytest.fixture(scope="session")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    api.build(SPEC, "dev", out_dir=out, environ={})
    return out


def folder_contents(folder: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``folder`` with its size and modification time."""
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="session")
def built_contents(build: Path) -> dict[str, tuple[int, int]]:
    """The build folder as the compiler left it, before any server ran from it."""
    return folder_contents(build)


@pytest.fixture(scope="session")
def server_settings(build: Path) -> dict[str, Any]:
    """The gunicorn settings the build wrote (the tests hold the server to them)."""
    tree = ast.parse((build / "acr" / "gunicorn.conf.py").read_text(encoding="utf-8"))
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }


@dataclass
class Running:
    server: ScoringServer
    lake: Path

    @property
    def port(self) -> int:
        return self.server.port

    def score(self, body: Any, headers: dict[str, str] | None = None, **options: Any) -> Any:
        import requests

        data = body if isinstance(body, str | bytes) else json.dumps(body)
        sent = {**self.server.headers, "Content-Type": "application/json", **(headers or {})}
        return requests.post(self.server.score_url, data=data, headers=sent, timeout=30, **options)

    def predictions(self) -> list[dict[str, Any]]:
        folder = self.lake / "servelake" / "monitoring" / "leaver-api" / "predictions"
        return [
            json.loads(line)
            for file in sorted(folder.glob("predictions-*.jsonl"))
            for line in file.read_text(encoding="utf-8").splitlines()
        ]


@pytest.fixture(scope="module")
def running(
    python: Path,
    build: Path,
    built_contents: dict[str, tuple[int, int]],
    model_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Running]:
    lake = tmp_path_factory.mktemp("lake")
    server = start_scoring_server(
        build / "acr" / "score.py",
        python=python,
        model_dir=model_dir,
        model_version="4",
        secrets=SECRETS,
        lake_root=lake,
        log_path=tmp_path_factory.mktemp("logs") / "server.log",
    )
    with server:
        yield Running(server, lake)
    # Stopped: its private folder, with the secret files, is gone (a worker may have been writing).
    assert not server.workdir.exists()


def records(rows: list[list[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(FEATURES, row, strict=True)) for row in rows]


def wait_for(condition: Any, seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


# --- raw HTTP/1.1 ---------------------------------------------------------------------------


@dataclass
class Exchange:
    data: bytes
    closed: bool
    seconds: float

    @property
    def statuses(self) -> list[int]:
        return [int(line.split()[1]) for line in self.data.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]


def exchange(port: int, request: bytes, wait: float = 10.0) -> Exchange:
    """Send ``request`` and read until the server closes the connection (or ``wait`` runs out)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as connection:
        if request:
            connection.sendall(request)
        received = b""
        try:
            while time.monotonic() - started < wait:
                chunk = connection.recv(65536)
                if not chunk:
                    return Exchange(received, True, time.monotonic() - started)
                received += chunk
        except TimeoutError:
            pass
        except ConnectionResetError:
            return Exchange(received, True, time.monotonic() - started)
    return Exchange(received, False, time.monotonic() - started)


def head(running: Running, *lines: str, method: str = "POST") -> bytes:
    fields = ["Host: 127.0.0.1", f"Authorization: {running.server.headers['Authorization']}", *lines]
    return (f"{method} /score HTTP/1.1\r\n" + "".join(f"{f}\r\n" for f in fields) + "\r\n").encode()


SMUGGLED = b"GET /score HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
"""An unauthenticated readiness request: answering it would print ``"ready"``."""


# --- scoring --------------------------------------------------------------------------------


def test_scores_one_prediction_per_row_in_feature_order(running: Running, model: Any) -> None:
    import pandas as pd

    expected = model.predict(pd.DataFrame(ROWS, columns=FEATURES)).tolist()
    answer = running.score({"data": records(ROWS)}, {"x-request-id": "req-records"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": expected, "request_id": "req-records"}
    assert answer.headers["x-request-id"] == "req-records"
    reordered = {"columns": ["tier", "months", "spend"], "data": [[r[2], r[0], r[1]] for r in ROWS]}
    answer = running.score(reordered)
    assert answer.status_code == 200 and answer.json()["predictions"] == expected
    assert answer.json()["request_id"] == answer.headers["x-request-id"], (
        "the server's own id when none is sent"
    )


def test_prediction_log_records_request_ids_inputs_and_class_probabilities(
    running: Running, model: Any
) -> None:
    import pandas as pd

    answer = running.score({"data": records(ROWS[:2])}, {"x-request-id": "req-logged"})
    assert answer.status_code == 200
    entry = wait_for(
        lambda: next((r for r in running.predictions() if r["request_id"] == "req-logged"), None)
    )
    frame = pd.DataFrame(ROWS[:2], columns=FEATURES)
    assert entry["inputs"] == records(ROWS[:2])
    assert entry["predictions"] == model.predict(frame).tolist()
    assert (entry["project"], entry["endpoint"]) == ("servetest", "leaver-api")
    assert (entry["model"], entry["model_version"]) == ("leaver-model", "4")
    assert entry["classes"] == model.classes_.tolist()
    expected = model.predict_proba(frame).tolist()
    assert [p for row in entry["probabilities"] for p in row] == pytest.approx(
        [p for row in expected for p in row]
    )
    assert all(sum(row) == pytest.approx(1.0) for row in entry["probabilities"])
    client = running.score({"data": records(ROWS[:1])}, {"x-ms-client-request-id": "client-7"})
    assert client.json()["request_id"] == "client-7"
    assert wait_for(lambda: [r for r in running.predictions() if r["request_id"] == "client-7"])


def test_log_lines_carry_what_the_serving_alerts_query_and_never_a_secret(running: Running) -> None:
    assert running.score({"data": records(ROWS[:1])}, {"x-request-id": "req-alerts"}).status_code == 200

    def both() -> dict[str, dict[str, Any]] | None:
        found = {e["event"]: e for e in running.server.events() if e.get("request_id") == "req-alerts"}
        return found if {"request", "scored"} <= set(found) else None

    events = wait_for(both)
    request, scored = events["request"], events["scored"]
    assert (request["method"], request["path"], request["status"]) == ("POST", "/score", 200)
    assert scored["rows"] == 1 and isinstance(scored["ms"], int | float) and scored["ms"] >= 0
    for line in (request, scored):
        assert (line["project"], line["endpoint"]) == ("servetest", "leaver-api") and line["time"]
    log = running.server.log_path.read_text(encoding="utf-8")
    key = running.server.headers["Authorization"].split()[1]
    for value in (key, *SECRETS.values()):
        assert value not in log


def test_serving_writes_nothing_into_the_build_folder(
    running: Running, build: Path, built_contents: dict[str, tuple[int, int]]
) -> None:
    assert running.score({"columns": FEATURES, "data": ROWS}).status_code == 200
    assert folder_contents(build) == built_contents, "no __pycache__, no log, no other file"


def test_secrets_are_mounted_as_files_like_the_csi_driver_does(running: Running) -> None:
    folder = running.server.workdir / "secrets"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    for name, value in SECRETS.items():
        assert (folder / name).read_text(encoding="utf-8") == value
        assert oct((folder / name).stat().st_mode & 0o777) == "0o600"


# --- authentication and routes --------------------------------------------------------------


def test_scoring_needs_the_key_and_probes_do_not(running: Running) -> None:
    import requests

    body = json.dumps({"data": records(ROWS[:1])})
    no_key = requests.post(running.server.score_url, data=body, timeout=10)
    assert no_key.status_code == 401 and no_key.headers["WWW-Authenticate"] == "Bearer"
    wrong = requests.post(
        running.server.score_url, data=body, headers={"Authorization": "Bearer nope"}, timeout=10
    )
    assert wrong.status_code == 401
    key = running.server.headers["Authorization"].split()[1]
    assert requests.post(running.server.score_url, data=body, headers={"x-api-key": key}, timeout=10).ok
    assert requests.get(running.server.url + "/", timeout=10).text == "Healthy"
    ready = requests.get(running.server.score_url, timeout=10)
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    for method in ("PUT", "DELETE", "OPTIONS", "PATCH"):
        assert requests.request(method, running.server.score_url, timeout=10).status_code == 405, method


def test_a_rotated_key_is_read_again_and_the_old_one_refused(running: Running) -> None:
    key_file = running.server.workdir / "secrets" / "leaver-api-key"
    old = running.server.headers["Authorization"]
    try:
        time.sleep(0.01)  # a new modification time
        key_file.write_text("rotated-key", encoding="utf-8")
        assert running.score({"data": records(ROWS[:1])}).status_code == 401
        assert running.score({"data": records(ROWS[:1])}, {"Authorization": "Bearer rotated-key"}).ok
    finally:
        key_file.write_text(old.split()[1], encoding="utf-8")
    assert running.score({"data": records(ROWS[:1])}).ok


# --- caller mistakes are 4xx ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"data": [{"months": 1, "spend": 2.0, "tier": "basic", "zip": "1"}]}, 'unknown feature(s) "zip"'),
        ({"data": [{"months": 1}]}, 'missing feature(s) "spend", "tier"'),
        ({"columns": ["months", "spend"], "data": [[1, 2.0]]}, '"tier"'),
        ({"rows": []}, "unknown top-level field"),
        ({"data": [{"months": [1], "spend": 2.0, "tier": "basic"}]}, "must be a number"),
        ([1, 2], "JSON object"),
        ('{"data": [{"months": ' + "9" * 4000 + ', "spend": 1.0, "tier": "basic"}]}', "64 bits"),
        ('{"data": [{"months": 1, "spend": NaN, "tier": "basic"}]}', "NaN"),
        ('{"data": [{"months": 1, "spend": Infinity, "tier": "basic"}]}', "Infinity"),
        ('{"data": [{"months": 1, "spend": 1e999, "tier": "basic"}]}', "finite"),
        ("[" * 100_000 + "]" * 100_000, "nests too deeply"),
        ('{"data": [', "not valid JSON"),
        (b"\xff\xfe{}", "UTF-8"),
        ({"data": [{"months": "ten", "spend": 2.0, "tier": "basic"}]}, "signature"),
        ({"data": [{"months": 1, "spend": "lots", "tier": "basic"}]}, "signature"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_caller_mistakes_are_400_naming_the_problem(running: Running, body: Any, message: str) -> None:
    answer = running.score(body)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["error"]


def test_an_oversized_body_is_413_before_it_is_read(running: Running) -> None:
    declared = exchange(running.port, head(running, f"Content-Length: {MAX_BODY + 1}"), wait=10)
    assert declared.statuses == [413] and declared.seconds < 8
    chunk = b"x" * (1024 * 1024)
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(10)) + b"1\r\nx\r\n0\r\n\r\n"
    chunked = exchange(running.port, head(running, "Transfer-Encoding: chunked") + body, wait=20)
    assert chunked.statuses == [413]
    assert running.score({"data": records(ROWS[:1])}).ok, "the server still scores"


# --- HTTP framing and slow clients ----------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        ["Content-Length: 5", "Content-Length: 7"],
        ["Content-Length: 5", "Transfer-Encoding: chunked"],
        ["Transfer-Encoding: chunked", "Content-Length: 5"],
        ["Content-Length: +5"],
        ["Content-Length: -1"],
        ["Content-Length: 0x5"],
        ["Content-Length: 5 5"],
        ["Content-Length: 5,5"],
        ["Content-Length: 1e3"],
        ["Content-Length:"],
        ["Content-Length: " + "9" * 40],
        ["Transfer-Encoding: chunked, identity"],
    ],
    ids=" | ".join,
)
def test_a_framing_error_closes_the_connection_and_the_smuggled_request_is_never_answered(
    running: Running, fields: list[str]
) -> None:
    answer = exchange(running.port, head(running, *fields) + b"0\r\n\r\n" + SMUGGLED, wait=15)
    assert answer.closed, answer.data[:300]
    assert len(answer.statuses) == 1 and 400 <= answer.statuses[0] < 500, answer.data[:300]
    assert b'"ready"' not in answer.data


def test_a_malformed_chunked_body_is_400_and_the_smuggled_request_is_never_answered(running: Running) -> None:
    body = b"zz\r\nhello\r\n0\r\n\r\n"
    answer = exchange(running.port, head(running, "Transfer-Encoding: chunked") + body + SMUGGLED, wait=15)
    assert answer.closed and answer.statuses == [400], answer.data[:300]
    assert b'"ready"' not in answer.data


def test_a_valid_chunked_body_is_scored(running: Running) -> None:
    body = json.dumps({"data": records(ROWS[:1])}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    answer = exchange(
        running.port, head(running, "Transfer-Encoding: chunked", "Connection: close") + chunked
    )
    assert answer.statuses == [200] and b'"predictions"' in answer.data


def test_idle_and_half_sent_connections_are_closed_within_the_configured_timeouts(
    running: Running, server_settings: dict[str, Any]
) -> None:
    keepalive, body_idle = server_settings["keepalive"], server_settings["BODY_IDLE_SECONDS"]
    idle = exchange(running.port, b"", wait=keepalive + 10)
    assert idle.closed and idle.data == b"" and idle.seconds < keepalive + 3
    half_head = exchange(running.port, b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\n", wait=keepalive + 10)
    assert half_head.closed and half_head.data == b"" and half_head.seconds < keepalive + 3
    half_body = exchange(
        running.port, head(running, "Content-Length: 100") + b'{"data": [', wait=body_idle + 15
    )
    assert half_body.closed and half_body.statuses == [408] and half_body.seconds < body_idle + 5


def test_a_body_sent_a_byte_at_a_time_is_cut_off_at_the_whole_body_deadline(
    running: Running, server_settings: dict[str, Any], build: Path
) -> None:
    """Each byte arrives within the idle timeout, yet the body as a whole must not take longer
    than the script's deadline: a drip cannot hold a connection (one of a bounded number)."""
    script = ast.parse((build / "acr" / "score.py").read_text(encoding="utf-8"))
    [deadline] = [
        ast.literal_eval(node.value)
        for node in script.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "BODY_READ_SECONDS"
    ]
    body_idle = server_settings["BODY_IDLE_SECONDS"]
    started = time.monotonic()
    received = b""
    with socket.create_connection(("127.0.0.1", running.port), timeout=2) as connection:
        connection.sendall(head(running, "Content-Length: 100000") + b'{"data": [')
        while time.monotonic() - started < deadline + 20:
            try:
                connection.sendall(b" ")
            except OSError:  # closed by the server
                break
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                continue  # nothing yet: the next byte comes within the idle timeout
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        seconds = time.monotonic() - started
    assert body_idle > 2  # the drip (one byte per 2 s receive timeout) stays within the idle timeout
    assert received.startswith(b"HTTP/1.1 408"), received[:200]
    assert b"did not arrive within" in received
    assert deadline - 1 < seconds < deadline + 6  # ended by the server: the rest of the body is never read


def test_many_half_open_connections_do_not_stop_a_normal_request(running: Running) -> None:
    import requests

    stalled: list[socket.socket] = []
    try:
        for number in range(300):
            connection = socket.create_connection(("127.0.0.1", running.port), timeout=5)
            stalled.append(connection)
            if number % 2:
                connection.sendall(b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-")
        started = time.monotonic()
        answer = requests.post(
            running.server.score_url,
            data=json.dumps({"data": records(ROWS[:1])}),
            headers=running.server.headers,
            timeout=10,
        )
        assert answer.status_code == 200 and time.monotonic() - started < 3
    finally:
        for connection in stalled:
            connection.close()


# --- traffic replay against the real server -------------------------------------------------


def test_replayed_traffic_is_scored_and_its_ground_truth_joins_the_prediction_log(running: Running) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        [[*row, index % 2 == 0] for index, row in enumerate(ROWS * 4)], columns=[*FEATURES, "left"]
    )
    outcome = replay(running.server, frame, FEATURES, "left", batch_size=5)
    assert outcome.requests == 3 and dict(outcome.status_counts) == {200: 3}
    assert outcome.rows == 12 and len(outcome.latencies_ms) == 3
    assert [(g["row"], g["target"]) for g in outcome.ground_truth[:6]] == [
        (0, True), (1, False), (2, True), (3, False), (4, True), (0, False)
    ]  # fmt: skip
    ids = {g["request_id"] for g in outcome.ground_truth}

    def logged() -> dict[str, dict[str, Any]] | None:
        found = {r["request_id"]: r for r in running.predictions() if r["request_id"] in ids}
        return found if len(found) == 3 else None

    by_id = wait_for(logged)
    for truth in outcome.ground_truth:
        entry = by_id[truth["request_id"]]
        assert truth["row"] < len(entry["inputs"]) == len(entry["predictions"])


# --- start-up -------------------------------------------------------------------------------


def test_a_model_that_cannot_load_stops_the_start_with_the_log_tail(
    python: Path, build: Path, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScoringServerError) as raised:
        start_scoring_server(
            build / "acr" / "score.py", python=python, model_dir=tmp_path / "empty", secrets=SECRETS
        )
    assert "exited" in str(raised.value) and "no MLflow model" in str(raised.value)


def test_a_missing_secret_is_named_and_the_server_not_started(
    python: Path, build: Path, model_dir: Path
) -> None:
    with pytest.raises(ScoringServerError, match="partner-password"):
        start_scoring_server(
            build / "acr" / "score.py", python=python, model_dir=model_dir, secrets={"upstream-token": "x"}
        )


def test_no_auth_is_refused_unless_the_server_binds_loopback(
    python: Path, build: Path, model_dir: Path
) -> None:
    """The script's own start-up check, run in the scoring environment without a server."""
    load = (
        "import importlib.util, sys; "
        "spec = importlib.util.spec_from_file_location('score', sys.argv[1]); "
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); module.init()"
    )
    environ = {"MLSPEC_AUTH": "none", "MODEL_DIR": str(model_dir), "PATH": "/usr/bin:/bin"}
    for host, refused in (("0.0.0.0", True), ("127.0.0.1", False)):
        done = subprocess.run(
            [str(python), "-c", load, str(build / "acr" / "score.py")],
            env={**environ, "HOST": host},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert (done.returncode != 0) == refused, done.stderr[-2000:]
        assert ("loopback" in done.stdout + done.stderr) == refused


class _Keys(BaseHTTPRequestHandler):
    keys = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.keys)))
        self.end_headers()
        self.wfile.write(self.keys)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_entra_tokens_are_verified_against_the_published_keys(
    python: Path, build: Path, model_dir: Path
) -> None:
    jwt = pytest.importorskip("jwt", reason="signing test tokens uses PyJWT")
    pytest.importorskip("cryptography", reason="RS256 needs cryptography")
    import requests
    from cryptography.hazmat.primitives.asymmetric import rsa

    signing, stranger = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing.public_key()))
    handler = type("Keys", (_Keys,), {"keys": json.dumps({"keys": [{**jwk, "kid": "k1"}]}).encode()})
    keys_server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=keys_server.serve_forever, daemon=True).start()
    entra = {
        "MLSPEC_AUTH": "entra",
        "ENTRA_AUDIENCE": "api://leaver",
        "ENTRA_ISSUERS": "https://issuer.test/",
        "ENTRA_JWKS_URL": f"http://127.0.0.1:{keys_server.server_address[1]}/keys",
    }
    now = int(time.time())
    claims = {"aud": "api://leaver", "iss": "https://issuer.test/", "exp": now + 600, "nbf": now - 10}

    def token(key: Any = signing, **changes: Any) -> str:
        encoded: str = jwt.encode({**claims, **changes}, key, algorithm="RS256", headers={"kid": "k1"})
        return encoded

    body = json.dumps({"data": records(ROWS[:1])})
    try:
        with start_scoring_server(
            build / "acr" / "score.py", python=python, model_dir=model_dir, secrets=SECRETS, environment=entra
        ) as server:

            def status(bearer: str | None) -> int:
                headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
                return requests.post(server.score_url, data=body, headers=headers, timeout=10).status_code

            assert status(token()) == 200
            assert status(token(aud="api://other")) == 401
            assert status(token(iss="https://evil.test/")) == 401
            assert status(token(exp=now - 3600)) == 401
            assert status(token(stranger)) == 401
            assert status(None) == 401
            assert status(server.headers["Authorization"].split()[1]) == 401, "the local key is not a token"
    finally:
        keys_server.shutdown()


def test_the_prediction_log_lake_path_maps_as_the_lake_helper_does(
    python: Path, build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlspec.runtime import lake

    urls = [
        "abfss://monitoring@servelake.dfs.core.windows.net/leaver-api/predictions/",
        "abfss://logs@acct.dfs.core.windows.net",
        "abfss://logs@acct.dfs.core.windows.net/a/../../escape",
    ]
    check = (
        "import importlib.util, json, sys; "
        "spec = importlib.util.spec_from_file_location('score', sys.argv[1]); "
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "def folder(url):\n"
        "    try:\n"
        "        return str(module.log_folder(url))\n"
        "    except module.ConfigError as error:\n"
        "        return 'refused: ' + str(error)\n"
        "print(json.dumps([folder(url) for url in sys.argv[2:]]))"
    )
    environ = {"MLSPEC_LAKE_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(python), "-c", check, str(build / "acr" / "score.py"), *urls],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    mapped = json.loads(done.stdout.strip().splitlines()[-1])
    monkeypatch.setenv("MLSPEC_LAKE_ROOT", str(tmp_path))
    assert mapped[:2] == [lake.resolve_path(url) for url in urls[:2]]
    assert mapped[2].startswith("refused: ") and "'..'" in mapped[2]
    without_root = subprocess.run(
        [str(python), "-c", check, str(build / "acr" / "score.py"), urls[0]],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(without_root.stdout.strip().splitlines()[-1]) == ["None"], (
        "abfss without a lake: stdout"
    )


def test_the_prediction_log_sample_is_decided_by_the_request_and_keeps_the_rate(
    python: Path, build: Path, tmp_path: Path
) -> None:
    """The same traffic logs the same requests (every replica, every run); the share is the rate;
    another model version samples other requests."""
    check = (
        "import importlib.util, json, sys, types; "
        "spec = importlib.util.spec_from_file_location('score', sys.argv[1]); "
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "def log(rate):\n"
        "    return module.PredictionLog(types.SimpleNamespace(log_path=sys.argv[2], sample_rate=rate))\n"
        "requests = [(['a', 'b'], [[i, i * 0.5]]) for i in range(4000)]\n"
        "first, second = log(0.25), log(0.25)\n"
        "print(json.dumps({\n"
        "    'first': [first.sampled(c, r, '1') for c, r in requests],\n"
        "    'second': [second.sampled(c, r, '1') for c, r in requests],\n"
        "    'next_version': [first.sampled(c, r, '2') for c, r in requests],\n"
        "    'none': sum(log(0.0).sampled(c, r, '1') for c, r in requests),\n"
        "    'all': sum(log(1.0).sampled(c, r, '1') for c, r in requests),\n"
        "}))"
    )
    done = subprocess.run(
        [str(python), "-c", check, str(build / "acr" / "score.py"), str(tmp_path / "log")],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    decided = json.loads(done.stdout.strip().splitlines()[-1])
    assert decided["first"] == decided["second"]
    assert 0.22 < sum(decided["first"]) / 4000 < 0.28
    assert decided["next_version"] != decided["first"] and 0.22 < sum(decided["next_version"]) / 4000 < 0.28
    assert (decided["none"], decided["all"]) == (0, 4000)


def test_a_registered_model_is_served_by_uri_with_latest_resolved_to_its_version(
    python: Path, build: Path, model_dir: Path, tmp_path: Path
) -> None:
    """The local run's way: the model version in an MLflow file store, as ``models:/<name>/latest``."""
    import mlflow
    from mlflow.tracking import MlflowClient

    tracking = (tmp_path / "mlruns").as_uri()
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    client.create_registered_model("leaver-model")
    for _ in range(2):
        client.create_model_version("leaver-model", str(model_dir), run_id=None)
    assert mlflow.get_tracking_uri() != tracking, "the test's registry stays its own"
    with start_scoring_server(
        build / "acr" / "score.py",
        python=python,
        model_uri="models:/leaver-model/latest",
        tracking_uri=tracking,
        secrets=SECRETS,
        lake_root=tmp_path / "lake",
    ) as server:
        ready = next(e for e in server.events() if e["event"] == "model_ready")
        assert (ready["source"], ready["version"]) == ("models:/leaver-model/2", "2")
        running = Running(server, tmp_path / "lake")
        assert running.score({"data": records(ROWS[:1])}, {"x-request-id": "by-uri"}).ok
        entry = wait_for(
            lambda: next((r for r in running.predictions() if r["request_id"] == "by-uri"), None)
        )
        assert entry["model_version"] == "2"


def test_the_server_stops_when_the_process_that_started_it_is_killed(
    python: Path, build: Path, model_dir: Path, tmp_path: Path
) -> None:
    import os
    import signal
    import sys

    starter = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from mlspec.runtime.serving.server import start_scoring_server\n"
        "server = start_scoring_server(Path(sys.argv[1]), python=Path(sys.argv[2]), model_dir=Path(sys.argv[3]),\n"
        "                              secrets=json.loads(sys.argv[4]))\n"
        "print(server.process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            starter,
            str(build / "acr" / "score.py"),
            str(python),
            str(model_dir),
            json.dumps(SECRETS),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        group = int(parent.stdout.readline())
        os.killpg(group, 0)  # the server runs
    finally:
        parent.kill()
        parent.wait(30)

    def gone() -> bool:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        return False

    try:
        assert wait_for(gone, 30)
    finally:
        if not gone():
            os.killpg(group, signal.SIGKILL)
