"""A Spark standalone cluster on this machine: one master and one worker, on the loopback interface.

The pip ``pyspark`` package has no ``sbin/start-*.sh`` scripts, but its ``bin/spark-class``
starts the standalone daemons. Each runs in a process group of its own, so stopping the
cluster ends exactly the processes it started (``spark-class`` and the JVM it runs), by id.
Everything the daemons write (logs, the worker's application folders) goes to a temporary
folder, never into the installed package.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any

HOST = "127.0.0.1"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
START_TIMEOUT = 120.0  # seconds; a cold JVM on a busy two-core machine takes ~15
STOP_TIMEOUT = 15.0
_LOG_TAIL_LINES = 20


class ClusterFailed(Exception):
    """The cluster did not come up (the message holds the end of the daemons' logs)."""


def spark_home() -> Path:
    """The installed ``pyspark`` folder, which holds ``bin/spark-class`` and the jars."""
    import pyspark

    return Path(pyspark.__file__).parent


def free_port() -> int:
    """A TCP port nothing listens on at the moment (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class StandaloneCluster:
    """``with StandaloneCluster() as cluster: spark_session(cluster.url)``.

    Starts a master and one worker (``cores`` cores, ``memory`` of memory) on free loopback
    ports and waits until the worker has registered with the master; ``url`` is the
    ``spark://127.0.0.1:<port>`` master URL and ``ui_url`` the master's web UI. On exit —
    also when the body or the start-up fails — both daemons are stopped by process group.
    """

    def __init__(self, *, cores: int = 1, memory: str = "1g", start_timeout: float = START_TIMEOUT) -> None:
        self.cores = cores
        self.memory = memory
        self.start_timeout = start_timeout
        self.port = 0
        self.ui_port = 0
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._processes: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    @property
    def url(self) -> str:
        return f"spark://{HOST}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://{HOST}:{self.ui_port}"

    @property
    def folder(self) -> Path:
        """Where the daemons' logs (``master.log``, ``worker.log``) and work folders are."""
        if self._folder is None:
            raise RuntimeError("the cluster is not running")
        return Path(self._folder.name)

    def __enter__(self) -> StandaloneCluster:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the master, then the worker, and wait until the worker is registered."""
        self._folder = tempfile.TemporaryDirectory(prefix="mlspec-spark-cluster-")
        try:
            self.port, self.ui_port = free_port(), free_port()
            self._start(
                "master",
                MASTER_CLASS,
                ["--host", HOST, "--port", str(self.port), "--webui-port", str(self.ui_port)],
            )
            self._start(
                "worker",
                WORKER_CLASS,
                [
                    self.url,
                    "--host", HOST,
                    "--cores", str(self.cores),
                    "--memory", self.memory,
                    "--webui-port", str(free_port()),
                    "--work-dir", str(self.folder / "work"),
                ],
            )  # fmt: skip
            self._wait_for_worker()
        except BaseException:
            self.stop()
            raise

    def _start(self, role: str, main_class: str, arguments: list[str]) -> None:
        home = spark_home()
        log = (self.folder / f"{role}.log").open("wb")
        environment = {
            **os.environ,
            "SPARK_HOME": str(home),
            "SPARK_LOCAL_IP": HOST,
            "SPARK_LOCAL_DIRS": str(self.folder / "local"),
            "SPARK_LOG_DIR": str(self.folder),
            "SPARK_WORKER_DIR": str(self.folder / "work"),
            # Executors start this interpreter's Python workers unless the driver says otherwise.
            "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
        }
        process = subprocess.Popen(
            [str(home / "bin" / "spark-class"), main_class, *arguments],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=self.folder,
            start_new_session=True,  # its own process group: stop() ends it and the JVM it execs
        )
        self._processes.append((role, process, log))

    def _wait_for_worker(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            for role, process, _ in self._processes:
                if process.poll() is not None:
                    raise ClusterFailed(f"the Spark {role} exited with {process.returncode}\n{self._logs()}")
            if any(worker.get("state") == "ALIVE" for worker in self._master_state().get("workers", [])):
                return
            time.sleep(0.5)
        raise ClusterFailed(f"no Spark worker registered within {self.start_timeout:.0f} s\n{self._logs()}")

    def _master_state(self) -> dict[str, Any]:
        """The master's JSON status page, or ``{}`` while it is not up yet."""
        try:
            with urllib.request.urlopen(f"{self.ui_url}/json/", timeout=2) as response:
                state: dict[str, Any] = json.load(response)
                return state
        except (OSError, ValueError, urllib.error.URLError):
            return {}

    def _logs(self) -> str:
        parts = []
        for role, _, _ in self._processes:
            path = self.folder / f"{role}.log"
            lines = path.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:] if path.exists() else []
            parts.append(f"--- {role} log ({path}):\n" + "\n".join(lines))
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop the worker, then the master (SIGTERM, SIGKILL after a grace period); idempotent."""
        for _, process, log in reversed(self._processes):
            _end_group(process)
            log.close()
        self._processes.clear()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None


def _end_group(process: subprocess.Popen[bytes]) -> None:
    """End the process group ``process`` leads (its id is the group's): the daemon and what it
    started (the worker's executor JVM and its Python workers), SIGKILL after a grace period."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sent)
        deadline = time.monotonic() + STOP_TIMEOUT
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)  # reap the leader, or its id stays a zombie's
        while time.monotonic() < deadline and _group_alive(process.pid):
            time.sleep(0.1)
        if not _group_alive(process.pid):
            return


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal still exists
        return True
    return True
