"""Run a build's compiled Synapse notebooks on PySpark against a local lake.

The notebooks run unchanged: each one's code cells are executed in order in a fresh
namespace, as a notebook kernel would (a ``%run`` cell: the cells of the notebook it runs, in
that namespace, as on Synapse), with ``MLSPEC_LAKE_ROOT`` pointing at the lake (the project's
runtime notebook, ``mlspec/runtime/lake.py``, then maps ``abfss://`` URLs to local folders and
writes Delta with delta-rs). The order and the dependencies come from the build's Synapse pipeline
(:mod:`mlspec.runtime.notebooks`); nothing here reads the spec.

PySpark and deltalake are imported inside the functions that need them: importing this module
is cheap, and ``mlspec validate/build/plan`` never load it.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlspec.runtime import spark_errors
from mlspec.runtime.lake import LAKE_ROOT_VARIABLE, local_path
from mlspec.runtime.notebooks import BuildUnreadable, CompiledNotebook, read_pipeline
from mlspec.runtime.spark_cancellation import INTERRUPTED, MASTER_LOST, Cancellation, answers
from mlspec.runtime.transform_failure import RunContext, TransformFailed, cell_file, engine_stopped, explain

__all__ = [  # TransformFailed lives with the code that explains failures; callers catch it here
    "DEFAULT_MASTER",
    "SHUFFLE_PARTITIONS",
    "SparkUnavailable",
    "TransformFailed",
    "TransformResult",
    "check_master",
    "count_rows",
    "run_transforms",
    "spark_session",
]

DEFAULT_MASTER = "local[*]"
SHUFFLE_PARTITIONS = "4"  # sample-sized data: Spark's default of 200 tasks per shuffle is all overhead
ACCEPTED_MASTERS = "local, local[N], local[*], local[N,F] or spark://host:port[,host:port...]"
MAX_LOCAL_THREADS = 256  # local[N]: a thread per task; far more than cores only starves the driver
MASTER_CONNECT_TIMEOUT = 3.0  # seconds for a spark:// master to accept a connection
_LOCAL_MASTER = re.compile(r"local(?:\[(?:\*|[1-9][0-9]*)(?:,[1-9][0-9]*)?\])?")
_ENDPOINT = re.compile(r"(?P<host>[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})")

# Spark's own console output at ERROR only, to stderr, so the run's progress stays readable.
# Read by log4j when the driver JVM starts (a session that already runs gets setLogLevel).
# A failed task is logged by the executor and the task set with its whole Java stack, a lost
# executor by the scheduler: the runner reports those errors itself, in short, so they are off.
_LOG4J2_PROPERTIES = """\
rootLogger.level = error
rootLogger.appenderRef.console.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
# The PySpark gateway is Spark's "shell" logger: configured, Spark leaves the level alone
# instead of announcing a default of WARN.
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
logger.executor.name = org.apache.spark.executor.Executor
logger.executor.level = off
logger.tasks.name = org.apache.spark.scheduler.TaskSetManager
logger.tasks.level = off
logger.scheduler.name = org.apache.spark.scheduler.TaskSchedulerImpl
logger.scheduler.level = off
logger.broadcast.name = org.apache.spark.broadcast.TorrentBroadcast
logger.broadcast.level = off
"""


@dataclass(frozen=True)
class TransformResult:
    """A transform that ran: where it wrote (``url`` on Azure, ``path`` here) and what the output holds."""

    name: str
    url: str
    path: Path
    format: str
    rows: int
    seconds: float


class SparkUnavailable(Exception):
    """No Spark session could be had on the master asked for (it does not answer, or went away)."""


def check_master(master: str) -> tuple[tuple[str, int], ...]:
    """The ``(host, port)`` endpoints of a ``spark://`` master URL; ``()`` for a ``local`` one.

    Raises ``ValueError`` naming ``master`` and the accepted forms for anything else (Spark
    itself would wait a minute, or fail to start its gateway, before saying so).
    """
    local = _LOCAL_MASTER.fullmatch(master)
    if local:
        threads = re.match(r"local\[([0-9]+)", master)
        if threads and int(threads[1]) > MAX_LOCAL_THREADS:
            raise ValueError(
                f"Spark master {master!r} asks for {threads[1]} threads: at most {MAX_LOCAL_THREADS} "
                "(local[*] takes one per core)"
            )
        return ()
    if master.startswith("spark://"):
        endpoints = [_ENDPOINT.fullmatch(part) for part in master.removeprefix("spark://").split(",")]
        if all(endpoints) and all(1 <= int(e["port"]) <= 65535 for e in endpoints if e):
            return tuple((e["host"].strip("[]"), int(e["port"])) for e in endpoints if e)
    raise ValueError(f"unsupported Spark master {master!r}: use {ACCEPTED_MASTERS}")


def spark_session(master: str | None = None, *, app_name: str = "mlspec", ui: bool = False) -> Any:
    """A Spark session for running notebooks: ``local[*]`` unless ``master``.

    ``master`` is checked first (:func:`check_master`); a ``spark://`` master must accept a
    connection within :data:`MASTER_CONNECT_TIMEOUT` seconds, else :class:`SparkUnavailable`.
    UTC session time zone, few shuffle partitions, the Spark UI off unless ``ui``, the driver
    on the loopback interface, Spark's console logging at ERROR, scratch folders (the SQL
    warehouse, Derby's home) in a temporary folder rather than the current directory. An
    active session is reused when ``master`` is ``None`` or names its master; one on another
    master is stopped first (a process has one Spark session). The session stays up for the
    caller to reuse or stop.
    """
    endpoints = check_master(master) if master is not None else ()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and (master is None or active.sparkContext.master == master):
        _apply_session_settings(active)
        return active
    if endpoints and not answers(endpoints, timeout=MASTER_CONNECT_TIMEOUT):
        raise SparkUnavailable(f"no Spark master answers at {master} (waited {MASTER_CONNECT_TIMEOUT:.0f} s)")
    if active is not None:
        active.stop()
    # Executors start Python workers with PYSPARK_PYTHON: this interpreter, unless told otherwise.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    scratch = _scratch_folder()
    with _quiet_log_configuration() as log_configuration:
        java_options = f"-Dlog4j2.configurationFile=file:{log_configuration} -Dderby.system.home={scratch}"
        builder = (
            SparkSession.builder.master(master or DEFAULT_MASTER)
            .appName(app_name)
            .config("spark.ui.enabled", "true" if ui else "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", SHUFFLE_PARTITIONS)
            .config("spark.sql.warehouse.dir", str(scratch / "spark-warehouse"))
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.extraJavaOptions", java_options)
        )
        try:
            session = builder.getOrCreate()
        except Exception as error:
            if not endpoints:
                raise
            message = spark_errors.short_message(error)
            raise SparkUnavailable(f"cannot start a Spark application on {master}: {message}") from error
    _apply_session_settings(session)
    return session


@functools.cache
def _scratch_folder() -> Path:
    """One temporary folder per process for what Spark would write into the current directory."""
    folder = Path(tempfile.mkdtemp(prefix="mlspec-spark-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@contextlib.contextmanager
def _quiet_log_configuration() -> Iterator[str]:
    """A log4j2 file for the driver JVM, removed once the JVM has read it at start-up."""
    handle, name = tempfile.mkstemp(prefix="mlspec-log4j2-", suffix=".properties")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(_LOG4J2_PROPERTIES)
        yield name
    finally:
        Path(name).unlink(missing_ok=True)


def _apply_session_settings(session: Any) -> None:
    session.sparkContext.setLogLevel("ERROR")
    session.conf.set("spark.sql.session.timeZone", "UTC")
    session.conf.set("spark.sql.shuffle.partitions", SHUFFLE_PARTITIONS)


def run_transforms(
    build_dir: Path,
    lake_root: Path,
    *,
    master: str | None = None,
    only: Sequence[str] | None = None,
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[TransformResult], None] | None = None,
) -> list[TransformResult]:
    """Run the build's transform notebooks in pipeline order against the lake at ``lake_root``.

    ``only`` restricts the run to those transforms (still in pipeline order; their inputs must
    already be in the lake). ``on_start(name)`` and ``on_done(result)`` report progress. The
    first failure raises :class:`TransformFailed` (a short message; the engine's full error is
    its ``__cause__``) and nothing after it runs; a failed expectation stops its notebook before
    it writes. A master that is malformed, does not answer or goes away is a ``TransformFailed``
    too (transform ``"(spark)"`` when no notebook ran yet). Ctrl-C, or SIGTERM when the caller
    handles it, cancels Spark's jobs and raises ``KeyboardInterrupt``.
    """
    try:
        pipeline = read_pipeline(Path(build_dir))
    except (BuildUnreadable, OSError, ValueError) as error:
        raise TransformFailed(
            "(build)", f"cannot read the compiled pipeline in {build_dir}: {error}"
        ) from error
    notebooks = _selected(pipeline, only)
    if not notebooks:
        return []
    try:
        session = spark_session(master)
    except (ValueError, SparkUnavailable) as error:
        raise TransformFailed("(spark)", str(error)) from error
    running_on = str(session.sparkContext.master)
    endpoints: tuple[tuple[str, int], ...] = ()
    with contextlib.suppress(ValueError):  # a session the caller made on a master of another kind
        endpoints = check_master(running_on)
    context = RunContext(Path(lake_root).resolve(), running_on, {n.output_url: n.name for n in pipeline})
    results: list[TransformResult] = []
    with _lake_root_set(context.lake_root), Cancellation(session, endpoints) as cancellation:
        for notebook in notebooks:
            if on_start is not None:
                on_start(notebook.name)
            started = time.perf_counter()
            path = _output_path(notebook, context.lake_root)
            try:
                _run_notebook(notebook, context, cancellation)
                rows = _output_rows(session, notebook, path, context, cancellation)
            finally:
                # Not once cancelled: the run stops, and listing views runs a Spark job, which
                # would wait forever for the executors of a master that went away.
                if cancellation.reason is None:
                    with contextlib.suppress(
                        Exception
                    ):  # a broken session must not hide the notebook's error
                        _forget_session_state(session)
            result = TransformResult(
                notebook.name,
                notebook.output_url,
                path,
                notebook.output_format,
                rows,
                time.perf_counter() - started,
            )
            results.append(result)
            if on_done is not None:
                on_done(result)
    return results


def _output_path(notebook: CompiledNotebook, root: Path) -> Path:
    try:
        return Path(local_path(notebook.output_url, str(root)))
    except ValueError as error:
        raise TransformFailed(notebook.name, f"transform {notebook.name}: {error}") from error


def _selected(notebooks: list[CompiledNotebook], only: Sequence[str] | None) -> list[CompiledNotebook]:
    if only is None:
        return notebooks
    known = [n.name for n in notebooks]
    unknown = [name for name in only if name not in known]
    if unknown:
        shown = ", ".join(known) or "none"
        raise TransformFailed(unknown[0], f"no transform {', '.join(unknown)} in the build (it has: {shown})")
    return [n for n in notebooks if n.name in set(only)]


@contextlib.contextmanager
def _lake_root_set(root: Path) -> Iterator[None]:
    previous = os.environ.get(LAKE_ROOT_VARIABLE)
    os.environ[LAKE_ROOT_VARIABLE] = str(root)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(LAKE_ROOT_VARIABLE, None)
        else:
            os.environ[LAKE_ROOT_VARIABLE] = previous


def _run_notebook(notebook: CompiledNotebook, context: RunContext, cancellation: Cancellation) -> None:
    """Execute the code cells in order in a fresh namespace, as a notebook kernel does."""
    # "__main__", as in a kernel: cloudpickle then ships functions defined in a cell (UDFs) by value.
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for cell in notebook.cells:
        try:
            exec(compile(cell.source, cell_file(notebook, cell), "exec"), namespace)
        except Exception as error:
            _raise_if_cancelled(cancellation)
            raise explain(notebook, cell, error, namespace, _current(context, cancellation)) from error
        _raise_if_cancelled(cancellation, notebook.name, context)


def _raise_if_cancelled(
    cancellation: Cancellation, transform: str | None = None, context: RunContext | None = None
) -> None:
    """An interrupt is ``KeyboardInterrupt`` — what the job it cancelled raised is beside the point.
    A lost master stops the run even when the cell that ran did not notice."""
    if cancellation.reason == INTERRUPTED:
        raise KeyboardInterrupt
    if cancellation.reason == MASTER_LOST and transform is not None and context is not None:
        failure = engine_stopped(transform, RuntimeError(), _current(context, cancellation))
        if failure is not None:
            raise failure


def _current(context: RunContext, cancellation: Cancellation) -> RunContext:
    return dataclasses.replace(context, master_lost=cancellation.reason == MASTER_LOST)


def _forget_session_state(session: Any) -> None:
    """Drop the notebook's temporary views and cached data: on Synapse each notebook has a session
    of its own, so none may see what an earlier one registered."""
    for table in session.catalog.listTables():
        if table.isTemporary:
            session.catalog.dropTempView(table.name)
    session.catalog.clearCache()


def _output_rows(
    session: Any, notebook: CompiledNotebook, path: Path, context: RunContext, cancellation: Cancellation
) -> int:
    try:
        return count_rows(session, path, notebook.output_format)
    except Exception as error:
        _raise_if_cancelled(cancellation)
        stopped = engine_stopped(notebook.name, error, _current(context, cancellation))
        if stopped is not None:
            raise stopped from error
        problem = spark_errors.short_message(error)
        message = f"transform {notebook.name} ran, but its {notebook.output_format} output at {path} cannot be read: {problem}"
        raise TransformFailed(notebook.name, message) from error


def count_rows(session: Any, path: Path, format: str) -> int:
    """Rows the output at ``path`` holds: Delta through deltalake, other formats through Spark."""
    if format == "delta":
        from deltalake import DeltaTable

        return int(DeltaTable(str(path)).to_pyarrow_dataset().count_rows())
    reader = session.read.format(format)
    if format == "csv":
        reader = reader.option("header", "true")  # lake.write_output writes CSV with a header row
    return int(reader.load(str(path)).count())
