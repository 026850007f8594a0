"""The generated scoring script, run as a process on 127.0.0.1 with a real scikit-learn model."""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


def _support() -> Any:
    if "aks_support" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "aks_support", Path(__file__).with_name("test_aks_support.py")
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["aks_support"] = module
        spec.loader.exec_module(module)
    return sys.modules["aks_support"]


_s = _support()
BASE, render = _s.BASE, _s.render

sklearn = pytest.importorskip("sklearn", reason="the scoring tests serve a real scikit-learn model")

ROWS = [[3, 20.5, "basic"], [48, 99.0, "premium"], [12, 55.0, "basic"]]
KEY = "test-key-not-a-secret"


def _train() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encode = ColumnTransformer(
        [("plan", OneHotEncoder(handle_unknown="ignore"), [2])], remainder="passthrough"
    )
    model = Pipeline([("encode", encode), ("classify", LogisticRegression(max_iter=500))])
    features = [[1, 10.0, "basic"], [2, 15.0, "basic"], [60, 110.0, "premium"], [50, 90.0, "premium"]]
    return model.fit(features, [1, 1, 0, 0])


def _mlflow_folder(folder: Path, model: Any) -> Path:
    """An MLflow model folder as ``mlflow.sklearn.save_model`` lays it out (MLmodel + pickle)."""
    import sklearn as sk

    folder.mkdir(parents=True)
    with (folder / "model.pkl").open("wb") as handle:
        pickle.dump(model, handle)
    (folder / "MLmodel").write_text(
        "flavors:\n"
        "  python_function:\n"
        "    loader_module: mlflow.sklearn\n"
        "    model_path: model.pkl\n"
        "    predict_fn: predict\n"
        f"    python_version: {sys.version.split()[0]}\n"
        "  sklearn:\n"
        "    code: null\n"
        "    pickled_model: model.pkl\n"
        "    serialization_format: pickle\n"
        f"    sklearn_version: {sk.__version__}\n",
        encoding="utf-8",
    )
    return folder


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    lines: list[dict[str, Any]]

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def score(self, body: Any, key: str | None = KEY) -> tuple[int, Any]:
        return self.call("POST", "/score", body, {"Authorization": f"Bearer {key}"} if key else {})

    def event(self, name: str, seconds: float = 10) -> dict[str, Any]:
        """The first log line of ``event`` (lines arrive through a pipe: wait for it)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = next((line for line in list(self.lines) if line.get("event") == name), None)
            if found is not None:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {name!r} line: {self.lines}")

    def wait_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.call("GET", "/health/ready")[0] == 200:
                return
            time.sleep(0.05)
        raise AssertionError(f"not ready: {self.lines}")


def _environment(**values: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "PYTHONPATH", "LANG", "SYSTEMROOT") if k in os.environ}
    env.update(HOST="127.0.0.1", PORT="0", SHUTDOWN_DELAY_SECONDS="0", HOME=values.pop("HOME", "/tmp"))
    env.update(values)
    return env


def _start(script: Path, env: dict[str, str]) -> Server:
    process = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[dict[str, Any]] = []
    arrived: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            entry = json.loads(line) if line.startswith("{") else {"raw": line}
            lines.append(entry)
            arrived.put(entry)
        arrived.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 60  # generous: CI machines may be busy
    while time.monotonic() < deadline:
        entry = arrived.get(timeout=60)
        if entry is None:
            raise AssertionError(f"the server exited: {lines}")
        if entry.get("event") == "listening":
            assert entry["host"] == "127.0.0.1"
            return Server(process, int(entry["port"]), lines)
    raise AssertionError(f"no listening line: {lines}")


def _stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


def _has_mlflow(env: dict[str, str]) -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "import mlflow.sklearn, pandas"], env=env, capture_output=True, check=False
    )
    return probe.returncode == 0


def _model_folder(folder: Path, model: Any, env: dict[str, str]) -> Path:
    """The model as the registry hands it over: saved by MLflow itself when MLflow is installed."""
    if not _has_mlflow(env):
        return _mlflow_folder(folder, model)
    pickled = folder.with_suffix(".pickle")
    pickled.write_bytes(pickle.dumps(model))
    save = (
        "import pickle, sys, mlflow.sklearn; "
        "model = pickle.load(open(sys.argv[1], 'rb')); "
        "mlflow.sklearn.save_model(model, sys.argv[2], serialization_format='pickle')"
    )
    subprocess.run([sys.executable, "-c", save, str(pickled), str(folder)], env=env, check=True, timeout=300)
    return folder


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scoring") / "score.py"
    path.write_text(render(BASE).text("acr/score.py"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model() -> Any:
    return _train()


@pytest.fixture(scope="module")
def model_folder(model: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _model_folder(tmp_path_factory.mktemp("registry") / "model", model, _environment())


@pytest.fixture(scope="module")
def log_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("predictions")


@pytest.fixture(scope="module")
def server(
    script: Path, model_folder: Path, log_folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    key_file = tmp_path_factory.mktemp("secrets") / "scorer-key"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    env = _environment(
        MODEL_DIR=str(model_folder),
        SCORING_KEY_FILE=str(key_file),
        PREDICTION_LOG_PATH=str(log_folder),
        PREDICTION_LOG_SAMPLE_RATE="1.0",
    )
    running = _start(script, env)
    try:
        running.wait_ready()
        yield running
    finally:
        _stop(running)


def _logged(folder: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for file in sorted(folder.glob("predictions-*.jsonl"))
        for line in file.read_text(encoding="utf-8").splitlines()
    ]


def test_scores_records_and_columns_in_feature_order(server: Server, model: Any, log_folder: Path) -> None:
    expected = model.predict(ROWS).tolist()
    records = [dict(zip(["tenure", "charges", "plan"], row, strict=True)) for row in ROWS]
    before = len(_logged(log_folder))
    assert server.score({"data": records}) == (200, {"predictions": expected})
    reordered = {"columns": ["plan", "tenure", "charges"], "data": [[r[2], r[0], r[1]] for r in ROWS]}
    assert server.score(reordered) == (200, {"predictions": expected})
    deadline = time.monotonic() + 10  # the record is written after the response is sent
    while len(logged := _logged(log_folder)[before:]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(logged) == 2, "sample_rate 1.0 logs every request"
    assert logged[0]["inputs"] == records and logged[0]["predictions"] == expected
    assert logged[0]["endpoint"] == "scorer" and logged[0]["model"] == "scoring-model"
    assert KEY not in json.dumps(server.lines), "the key is never logged"


def test_log_lines_carry_what_the_serving_alerts_query(server: Server) -> None:
    """The monitor renderer's KQL reads these fields from ContainerLogV2 (``LogMessage``)."""
    before = len(server.lines)
    assert server.score({"data": [{"tenure": 1, "charges": 2.0, "plan": "basic"}]})[0] == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        events = {line.get("event"): line for line in server.lines[before:]}
        if "request" in events and "scored" in events:
            break
        time.sleep(0.05)
    request, scored = events["request"], events["scored"]
    assert request["status"] == 200 and request["path"] == "/score" and request["method"] == "POST"
    assert isinstance(scored["ms"], int | float) and scored["rows"] == 1
    for line in (request, scored):
        assert (line["project"], line["endpoint"]) == ("scoring", "scorer")


def test_unknown_and_missing_features_are_rejected_by_name(server: Server) -> None:
    status, body = server.score({"data": [{"tenure": 1, "charges": 2.0, "plan": "basic", "zip": "12345"}]})
    assert status == 400 and 'unknown feature(s) "zip"' in body["error"]
    status, body = server.score({"data": [{"tenure": 1}]})
    assert status == 400 and 'missing feature(s) "charges", "plan"' in body["error"]
    status, body = server.score({"columns": ["tenure", "charges"], "data": [[1, 2.0]]})
    assert status == 400 and '"plan"' in body["error"]
    assert server.score({"rows": []})[0] == 400
    assert server.score({"data": [{"tenure": [1], "charges": 2.0, "plan": "basic"}]})[0] == 400
    assert server.score([1, 2])[0] == 400


def test_a_value_the_model_cannot_use_is_the_callers_error_not_a_500(server: Server) -> None:
    """Wrong types reach the model's own checks: that is a 400, so it never pages through the error alert."""
    status, body = server.score({"data": [{"tenure": "ten", "charges": 2.0, "plan": "basic"}]})
    assert status == 400, body
    assert "cannot use this input" in body["error"] or "signature" in body["error"]


def test_the_key_is_required_for_scoring_but_not_for_health(server: Server) -> None:
    body = {"data": [{"tenure": 1, "charges": 2.0, "plan": "basic"}]}
    assert server.score(body, key=None)[0] == 401
    assert server.score(body, key="wrong")[0] == 401
    assert server.call("POST", "/score", body, {"x-api-key": KEY})[0] == 200
    assert server.call("GET", "/health/live") == (200, {"status": "alive"})
    assert server.call("GET", "/health/ready") == (200, {"status": "ready"})
    assert server.call("GET", "/nope")[0] == 404


def test_without_mlflow_the_sklearn_flavour_is_loaded_from_its_pickle(
    script: Path, model: Any, tmp_path: Path
) -> None:
    shadow = tmp_path / "shadow" / "mlflow"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        'raise ImportError("MLflow is hidden for this test")\n', encoding="utf-8"
    )
    path = os.pathsep.join(p for p in (str(shadow.parent), os.environ.get("PYTHONPATH", "")) if p)
    env = _environment(
        MODEL_DIR=str(_mlflow_folder(tmp_path / "model", model)), SCORING_KEY=KEY, PYTHONPATH=path
    )
    running = _start(script, env)
    try:
        running.wait_ready()
        assert running.event("model_ready")["kind"] == "sklearn"
        records = [dict(zip(["tenure", "charges", "plan"], row, strict=True)) for row in ROWS]
        assert running.score({"data": records}) == (200, {"predictions": model.predict(ROWS).tolist()})
    finally:
        _stop(running)


def test_a_model_that_cannot_load_fails_liveness(script: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    running = _start(script, _environment(MODEL_DIR=str(tmp_path / "empty"), SCORING_KEY=KEY))
    try:
        deadline = time.monotonic() + 20
        while running.call("GET", "/health/live")[0] != 500:
            assert time.monotonic() < deadline, running.lines
            time.sleep(0.05)
        assert running.call("GET", "/health/ready")[0] == 503
        assert running.score({"data": [{"tenure": 1, "charges": 2.0, "plan": "basic"}]})[0] == 503
    finally:
        _stop(running)


def test_no_auth_is_refused_unless_bound_to_loopback(script: Path) -> None:
    env = _environment(MLSPEC_AUTH="none")
    env["HOST"] = "0.0.0.0"
    result = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert "loopback" in result.stdout


# --- Entra ID tokens ----------------------------------------------------------------------


class _KeysHandler(BaseHTTPRequestHandler):
    keys: bytes = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.keys)))
        self.end_headers()
        self.wfile.write(self.keys)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_entra_tokens_are_verified_against_the_published_keys(script: Path, model_folder: Path) -> None:
    jwt = pytest.importorskip("jwt", reason="signature verification uses PyJWT")
    pytest.importorskip("cryptography", reason="RS256 needs cryptography")
    from cryptography.hazmat.primitives.asymmetric import rsa

    signing, stranger = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing.public_key()))
    handler = type("Keys", (_KeysHandler,), {"keys": json.dumps({"keys": [{**jwk, "kid": "k1"}]}).encode()})
    keys_server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=keys_server.serve_forever, daemon=True).start()
    env = _environment(
        MODEL_DIR=str(model_folder),
        MLSPEC_AUTH="entra",
        ENTRA_AUDIENCE="api://scorer",
        ENTRA_ISSUERS="https://issuer.test/",
        ENTRA_JWKS_URL=f"http://127.0.0.1:{keys_server.server_address[1]}/keys",
    )
    running = _start(script, env)
    now = int(time.time())
    claims = {"aud": "api://scorer", "iss": "https://issuer.test/", "exp": now + 600, "nbf": now - 10}

    def token(key: Any = signing, **changes: Any) -> str:
        encoded: str = jwt.encode({**claims, **changes}, key, algorithm="RS256", headers={"kid": "k1"})
        return encoded

    body = {"data": [{"tenure": 1, "charges": 2.0, "plan": "basic"}]}
    try:
        running.wait_ready()
        assert running.score(body, key=token())[0] == 200
        assert running.score(body, key=token(aud="api://other"))[0] == 401
        assert running.score(body, key=token(iss="https://evil.test/"))[0] == 401
        assert running.score(body, key=token(exp=now - 3600))[0] == 401
        assert running.score(body, key=token(stranger))[0] == 401
        assert running.score(body, key=None)[0] == 401
    finally:
        _stop(running)
        keys_server.shutdown()


# --- with MLflow itself ---------------------------------------------------------------------


def test_mlflow_models_are_served_through_pyfunc(server: Server) -> None:
    if not _has_mlflow(_environment()):
        pytest.skip(
            "MLflow and pandas are not installed: the sklearn-flavour loader serves the model instead"
        )
    assert server.event("model_ready")["kind"] == "pyfunc"
