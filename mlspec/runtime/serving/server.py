"""Serve the build's scoring script locally with Azure ML's inference server, as the AKS image does.

:func:`start_scoring_server` runs ``python -m azureml_inference_server_http`` (``azmlinfsrv``) from
the scoring environment (:mod:`.environment`) with the entry script ``acr/score.py`` and its
gunicorn settings ``acr/gunicorn.conf.py``, configured by the build's ``aks/configmap.yaml`` as the
pods are, with these local changes: the server binds 127.0.0.1 on a free port; the model comes
from the local registry (``model_uri`` against ``tracking_uri``) or a model folder; ``abfss://``
prediction logs land in the local lake (``lake_root``); the Key Vault secrets are files in a private
folder (``secrets``, laid out as the CSI driver mounts them); and authentication is always ``key``
with a one-off random key (:attr:`ScoringServer.headers` carries it), because Entra ID tokens
cannot be had locally. Everything the server prints goes to one log file: its JSON lines are
the local stand-in for ContainerLogV2.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets as token_source
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any

from mlspec.contract.outputs import MARKER_PREFIX
from mlspec.runtime.serving.secrets import write_secret_files

LOCAL_HOST = "127.0.0.1"
SERVER_MODULE = "azureml_inference_server_http"
SERVER_CONFIG = "gunicorn.conf.py"
CONFIG_MAP = Path("aks") / "configmap.yaml"
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
"""The only variables of mlspec's own environment the server sees (never PYTHONPATH or credentials)."""
READY_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 30.0
REMOVE_ATTEMPTS = 10  # of removing the private folder, 0.2 s apart, while a killed worker exits
LOG_TAIL_LINES = 40
DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit('the process that started the scoring server is gone')\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])\n"
)
"""Linux: run the server so that it gets SIGTERM when the process (thread) that started it dies,
even by SIGKILL; the setting survives the ``exec`` into the server."""
_REMOTE_AUTH = ("SCORING_KEY", "ENTRA_TENANT_ID", "ENTRA_AUDIENCE", "ENTRA_ISSUERS", "ENTRA_JWKS_URL")


class ScoringServerError(Exception):
    """The server did not start (or answer healthy and ready); the message ends with its log's tail."""


@dataclass
class ScoringServer:
    """A running local scoring server; a context manager that stops it on exit."""

    url: str
    """``http://127.0.0.1:<port>``; score at ``url + "/score"``."""
    log_path: Path
    process: subprocess.Popen[bytes]
    headers: dict[str, str] = field(repr=False)
    """What every scoring request must carry: ``Authorization: Bearer <the one-off key>``."""
    workdir: Path = field(repr=False)
    example_request: Path | None = None
    """A request body file a person can send (``mlspec serve`` writes one from the evaluation split)."""

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def score_url(self) -> str:
        return f"{self.url}/score"

    def running(self) -> bool:
        return self.process.poll() is None

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines that carry an ``event`` (the server's own text lines are skipped)."""
        return log_events(self.log_path)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop the server's whole process group (gracefully, then by force) and remove its secrets."""
        atexit.unregister(self.stop)
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        _signal_group(self.process.pid, signal.SIGKILL)  # a worker the master left behind
        _remove_private_folder(self.workdir)

    def __enter__(self) -> ScoringServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def _remove_private_folder(workdir: Path) -> None:
    """Remove the server's folder, its secret files first.

    A worker killed a moment ago may still be writing into it (MLflow's files), and rmtree then
    fails on a folder that is not empty: it is tried again, briefly, until the folder is gone.
    """
    shutil.rmtree(workdir / "secrets", ignore_errors=True)
    for _ in range(REMOVE_ATTEMPTS):
        shutil.rmtree(workdir, ignore_errors=True)
        if not workdir.exists():
            return
        time.sleep(0.2)


def start_scoring_server(
    entry_script: Path,
    *,
    python: Path,
    build_dir: Path | None = None,
    model_uri: str | None = None,
    model_dir: Path | None = None,
    model_version: str | None = None,
    tracking_uri: str | None = None,
    secrets: Mapping[str, str] | None = None,
    lake_root: Path | None = None,
    log_path: Path | None = None,
    port: int = 0,
    workers: int = 1,
    environment: Mapping[str, str] | None = None,
    ready_timeout: float = READY_TIMEOUT_SECONDS,
) -> ScoringServer:
    """Start the scoring server and return it once it answers healthy (``GET /``) and ready (``GET /score``).

    ``entry_script`` is the build's ``acr/score.py`` (its ``gunicorn.conf.py`` lies beside it);
    ``build_dir`` holds ``aks/configmap.yaml`` (default: the script's grandparent). The model is
    ``model_dir`` (an MLflow model folder) or ``model_uri`` (``models:/<name>/<version>``), one of
    them required: the ConfigMap names no version, each Deployment pins its own; ``secrets``
    maps Key Vault secret names to values (see :func:`.secrets.load_local_secrets`). ``port`` 0
    picks a free one; ``workers`` is the gunicorn worker count; ``environment`` overrides any
    variable last. Raises :class:`ScoringServerError`.
    """
    named = {"MODEL_DIR", "AZUREML_MODEL_DIR", "MODEL_URI"} & set(environment or {})
    if model_dir is None and model_uri is None and not named:
        raise ScoringServerError("no model to serve: pass model_dir or model_uri (models:/<name>/<version>)")
    build = build_dir or entry_script.resolve().parent.parent
    config = entry_script.parent / SERVER_CONFIG
    for needed in (entry_script, config, build / CONFIG_MAP):
        if not needed.is_file():
            raise ScoringServerError(
                f"{needed} is missing: build the project with a deployment section first"
            )
    workdir = Path(tempfile.mkdtemp(prefix="mlspec-scoring-"))
    try:
        environ, headers = _server_environment(
            _config_map(build / CONFIG_MAP),
            workdir=workdir,
            config=config,
            model_uri=model_uri,
            model_dir=model_dir,
            model_version=model_version,
            tracking_uri=tracking_uri,
            secrets=secrets or {},
            lake_root=lake_root,
            workers=workers,
        )
        environ.update(environment or {})
        bound = port or _free_port()
        log = log_path or workdir.with_suffix(".log")
        log.parent.mkdir(parents=True, exist_ok=True)
        command = [str(python), "-m", SERVER_MODULE, "--entry_script", str(entry_script.resolve())]
        if sys.platform.startswith("linux"):
            command = [str(python), "-c", DIE_WITH_PARENT, str(os.getpid()), *command[1:]]
        with log.open("ab") as output:
            process = subprocess.Popen(
                [*command, "--port", str(bound)],
                cwd=workdir,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends the master and its workers
            )
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    server = ScoringServer(f"http://{LOCAL_HOST}:{bound}", log, process, headers, workdir)
    atexit.register(server.stop)
    try:
        _wait_until_ready(server, ready_timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _config_map(path: Path) -> dict[str, str]:
    import yaml

    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise ScoringServerError(f"{path} has no data section")
    return {str(key): str(value) for key, value in data.items()}


def _server_environment(
    settings: dict[str, str],
    *,
    workdir: Path,
    config: Path,
    model_uri: str | None,
    model_dir: Path | None,
    model_version: str | None,
    tracking_uri: str | None,
    secrets: Mapping[str, str],
    lake_root: Path | None,
    workers: int,
) -> tuple[dict[str, str], dict[str, str]]:
    """The server's environment variables, and the headers a caller authenticates with."""
    environ = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    # A value known only once Azure resources exist (an output marker, e.g. the Application Insights
    # connection string) has no local value: the setting is left unset, as the script then expects.
    environ.update({name: value for name, value in settings.items() if not value.startswith(MARKER_PREFIX)})
    for name in _REMOTE_AUTH:
        environ.pop(name, None)
    secret_dir = workdir / "secrets"
    files = _secret_files(settings.get("MLSPEC_SECRET_FILES", "{}"), secrets)
    key = token_source.token_urlsafe(32)
    key_file = PurePosixPath(settings.get("SCORING_KEY_FILE") or "scoring-key").name
    written = write_secret_files(secret_dir, {**{file: value for _, file, value in files}, key_file: key})
    environ.update(
        HOST=LOCAL_HOST,
        MLSPEC_AUTH="key",
        SCORING_KEY_FILE=str(written[key_file]),
        MLSPEC_SECRET_FILES=json.dumps({name: str(written[file]) for name, file, _ in files}, sort_keys=True),
        GUNICORN_CMD_ARGS=f"--config {config.resolve()}",
        WORKER_COUNT=str(workers),
        AML_APP_ROOT=str(workdir),
        PYTHONUNBUFFERED="1",  # log lines reach the file as they happen
        # The entry script and its gunicorn settings are imported from the build folder, which
        # is the compiler's output: no __pycache__ may land in it (nor in the model's folder).
        PYTHONDONTWRITEBYTECODE="1",
    )
    if model_dir is not None:
        environ["MODEL_DIR"] = str(model_dir.resolve())
        environ.pop("MODEL_URI", None)
    elif model_uri is not None:
        environ["MODEL_URI"] = model_uri
    if model_version is not None:
        environ["MODEL_VERSION"] = model_version
    if tracking_uri is not None:
        environ["MLFLOW_TRACKING_URI"] = tracking_uri
    elif model_dir is not None or settings.get("MLFLOW_TRACKING_URI", "").startswith("azureml:"):
        environ.pop("MLFLOW_TRACKING_URI", None)  # a workspace cannot be reached from here
    if lake_root is not None:
        environ["MLSPEC_LAKE_ROOT"] = str(lake_root.resolve())
    return environ, {"Authorization": f"Bearer {key}"}


def _secret_files(mapping: str, secrets: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """``(spec name, file name, value)`` for each mounted secret; the file is the Key Vault secret's name."""
    try:
        mounted = json.loads(mapping)
    except ValueError:
        raise ScoringServerError("the ConfigMap's MLSPEC_SECRET_FILES is not JSON") from None
    found: list[tuple[str, str, str]] = []
    missing: list[str] = []
    for name, path in sorted(mounted.items()):
        file = PurePosixPath(str(path)).name
        value = secrets.get(file, secrets.get(name))
        if value is None:
            missing.append(file)
        else:
            found.append((name, file, value))
    if missing:
        raise ScoringServerError(
            f"no local value for the Key Vault secret(s) {', '.join(map(repr, missing))}"
        )
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOCAL_HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_ready(server: ScoringServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    checks = [("/", "healthy"), ("/score", "ready")]
    while checks:
        if not server.running():
            raise ScoringServerError(
                f"the scoring server exited (code {server.process.returncode}) before it was "
                f"{checks[0][1]}; its log {server.log_path} ends:\n{log_tail(server.log_path)}"
            )
        if time.monotonic() > deadline:
            raise ScoringServerError(
                f"the scoring server was not {checks[0][1]} within {timeout:g} s; "
                f"its log {server.log_path} ends:\n{log_tail(server.log_path)}"
            )
        if _answers(server.url + checks[0][0]):
            checks.pop(0)
        else:
            time.sleep(0.2)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def log_events(path: Path) -> list[dict[str, Any]]:
    """The JSON objects with an ``event`` among a server log's lines."""
    found: list[dict[str, Any]] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return found
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "event" in entry:
            found.append(entry)
    return found
