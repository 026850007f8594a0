"""Stop a notebook run's Spark work early — on Ctrl-C/SIGTERM, or when the master goes away.

PySpark's own SIGINT handler calls ``cancelAllJobs()`` through py4j from inside the signal
handler, on the main thread, while that thread is blocked reading py4j's answer to the call
the notebook made: the nested call fails ("reentrant call"), py4j logs two tracebacks and the
notebook's call surfaces as ``Py4JError: An error occurred while calling o280.filter``.

Here, a signal that arrives while the main thread is inside py4j only records the interrupt
and cancels Spark's jobs from another thread (its own py4j connection); the notebook's call then
returns with Spark's "job cancelled" error, which the runner turns into ``KeyboardInterrupt``.
A signal that arrives in Python code cancels the jobs too and raises ``KeyboardInterrupt`` at
once, as usual; so does a second signal. For a ``spark://`` master a watch thread checks that the master still
accepts connections and, once it stops, cancels the jobs the same way (they would otherwise
wait for executors that never come).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Iterator, Sequence
from types import FrameType, TracebackType
from typing import Any

INTERRUPTED = "interrupted"
MASTER_LOST = "master lost"
WATCH_INTERVAL = 2.0  # seconds between checks of the master
WATCH_MISSES = 3  # checks in a row without an answer before the master counts as gone
CONNECT_TIMEOUT = 2.0
_PY4J_LOGGERS = ("py4j", "py4j.java_gateway", "py4j.clientserver")


def answers(endpoints: Sequence[tuple[str, int]], timeout: float = CONNECT_TIMEOUT) -> bool:
    """Whether any of the ``(host, port)`` endpoints accepts a TCP connection within ``timeout``."""
    for host, port in endpoints:
        with contextlib.suppress(OSError):
            socket.create_connection((host, port), timeout=timeout).close()
            return True
    return False


class Cancellation:
    """``with Cancellation(session, master_endpoints) as cancel: ...; cancel.reason``.

    ``reason`` is ``None`` until the run is cancelled, then :data:`INTERRUPTED` or
    :data:`MASTER_LOST`. Signal handlers are installed only on the main thread, for SIGINT and
    (when the caller handles it in Python) SIGTERM, and put back on exit. While active, py4j's
    own log records are dropped: they repeat, as tracebacks, errors the runner reports itself.
    """

    def __init__(self, session: Any, master_endpoints: Sequence[tuple[str, int]] = ()) -> None:
        self.session = session
        self.master_endpoints = tuple(master_endpoints)
        self.reason: str | None = None
        self._previous: dict[int, Any] = {}
        self._stopped = threading.Event()
        self._watch: threading.Thread | None = None
        self._quiet = contextlib.ExitStack()

    def __enter__(self) -> Cancellation:
        self._quiet.enter_context(_py4j_logging_quiet())
        if threading.current_thread() is threading.main_thread():
            self._install(signal.SIGINT)
            if callable(signal.getsignal(signal.SIGTERM)):  # default SIGTERM ends the process: leave it
                self._install(signal.SIGTERM)
        if self.master_endpoints:
            self._watch = threading.Thread(target=self._watch_master, name="mlspec-master-watch", daemon=True)
            self._watch.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stopped.set()
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()
        if self._watch is not None:
            self._watch.join(timeout=WATCH_INTERVAL + CONNECT_TIMEOUT)
        self._quiet.close()

    def cancel(self, reason: str) -> None:
        """Record ``reason`` (the first one wins) and cancel Spark's jobs from a thread of its own."""
        if self.reason is None:
            self.reason = reason
        threading.Thread(target=self._cancel_jobs, name="mlspec-cancel-jobs", daemon=True).start()

    def _install(self, number: int) -> None:
        self._previous[number] = signal.signal(number, self._on_signal)

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        first = self.reason is None
        self.cancel(INTERRUPTED)  # also when Python reads a job's results: the job must not go on
        if first and _inside_py4j(frame):
            return  # the call returns once its job is cancelled; the runner raises then
        raise KeyboardInterrupt

    def _cancel_jobs(self) -> None:
        with contextlib.suppress(Exception):  # the JVM may be gone already: nothing left to cancel
            self.session.sparkContext.cancelAllJobs()

    def _watch_master(self) -> None:
        misses = 0
        while not self._stopped.wait(WATCH_INTERVAL):
            misses = 0 if answers(self.master_endpoints) else misses + 1
            if misses >= WATCH_MISSES:
                self.cancel(MASTER_LOST)
                return


def _inside_py4j(frame: FrameType | None) -> bool:
    """Whether the interrupted code is py4j talking to the JVM (the notebook waits on Spark)."""
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith("py4j"):
            return True
        frame = frame.f_back
    return False


class _DropPy4jRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "py4j" not in record.pathname.replace("\\", "/").split("/")


@contextlib.contextmanager
def _py4j_logging_quiet() -> Iterator[None]:
    """py4j logs to its own loggers and, for a failed call, through ``logging.exception`` on the
    root logger: both are dropped for the duration."""
    loggers = [logging.getLogger(name) for name in _PY4J_LOGGERS]
    levels = [logger.level for logger in loggers]
    drop = _DropPy4jRecords()
    root = logging.getLogger()
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
