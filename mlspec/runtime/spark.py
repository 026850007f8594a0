"""Run a build's compiled Synapse notebooks on PySpark against a local lake.

The notebooks run unchanged: each one's code cells are executed in order in a fresh
namespace, as a notebook kernel would, with ``MLSPEC_LAKE_ROOT`` pointing at the lake (the
inlined ``mlspec/runtime/lake.py`` then maps ``abfss://`` URLs to local folders and writes
Delta with delta-rs). The order and the dependencies come from the build's Synapse pipeline
(:mod:`mlspec.runtime.notebooks`); nothing here reads the spec.

PySpark and deltalake are imported inside the functions that need them: importing this module
is cheap, and ``mlspec validate/build/plan`` never load it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlspec.runtime.lake import LAKE_ROOT_VARIABLE, local_path
from mlspec.runtime.notebooks import BuildUnreadable, CodeCell, CompiledNotebook, read_pipeline

DEFAULT_MASTER = "local[*]"
SHUFFLE_PARTITIONS = "4"  # sample-sized data: Spark's default of 200 tasks per shuffle is all overhead
_MESSAGE_LINES = 12  # of an engine error shown in TransformFailed (Java traces run to hundreds)

# Spark's own console output at ERROR only, to stderr, so the run's progress stays readable.
# Read by log4j when the driver JVM starts (a session that already runs gets setLogLevel).
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


class TransformFailed(Exception):
    """A transform's notebook stopped; nothing after it ran.

    ``cell`` is the index of the failing cell in the notebook (``None`` when the build itself
    could not be read). For a data-quality failure ``rule`` (``unique(customer_id)``),
    ``count`` (offending rows) and ``sample`` (up to five of them, as dicts) are set, and the
    notebook wrote nothing.
    """

    def __init__(
        self,
        transform: str,
        message: str,
        *,
        cell: int | None = None,
        rule: str | None = None,
        count: int | None = None,
        sample: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(message)
        self.transform = transform
        self.cell = cell
        self.rule = rule
        self.count = count
        self.sample = [dict(row) for row in sample]


def spark_session(master: str | None = None, *, app_name: str = "mlspec", ui: bool = False) -> Any:
    """A Spark session for running notebooks: ``local[*]`` unless ``master`` (``spark://host:port``).

    UTC session time zone, few shuffle partitions, the Spark UI off unless ``ui``, the driver
    on the loopback interface, Spark's console logging at ERROR. An active session is reused
    when ``master`` is ``None`` or names its master; one on another master is stopped first
    (a process has one Spark session). The session stays up for the caller to reuse or stop.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        if master is None or active.sparkContext.master == master:
            _apply_session_settings(active)
            return active
        active.stop()
    # Executors start Python workers with PYSPARK_PYTHON: this interpreter, unless told otherwise.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    with _quiet_log_configuration() as log_configuration:
        builder = (
            SparkSession.builder.master(master or DEFAULT_MASTER)
            .appName(app_name)
            .config("spark.ui.enabled", "true" if ui else "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", SHUFFLE_PARTITIONS)
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log_configuration}")
        )
        session = builder.getOrCreate()
    _apply_session_settings(session)
    return session


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
    first failure raises :class:`TransformFailed` and nothing after it runs; a failed
    expectation stops its notebook before it writes.
    """
    try:
        notebooks = read_pipeline(Path(build_dir))
    except (BuildUnreadable, OSError, ValueError) as error:
        raise TransformFailed(
            "(build)", f"cannot read the compiled pipeline in {build_dir}: {error}"
        ) from error
    notebooks = _selected(notebooks, only)
    if not notebooks:
        return []
    session = spark_session(master)
    results: list[TransformResult] = []
    root = Path(lake_root).resolve()
    with _lake_root_set(root):
        for notebook in notebooks:
            if on_start is not None:
                on_start(notebook.name)
            started = time.perf_counter()
            path = _output_path(notebook, root)
            try:
                _run_notebook(notebook)
                rows = _output_rows(session, notebook, path)
            finally:
                with contextlib.suppress(Exception):  # a broken session must not hide the notebook's error
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


def _run_notebook(notebook: CompiledNotebook) -> None:
    """Execute the code cells in order in a fresh namespace, as a notebook kernel does."""
    # "__main__", as in a kernel: cloudpickle then ships functions defined in a cell (UDFs) by value.
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for cell in notebook.cells:
        try:
            exec(compile(cell.source, _cell_file(notebook, cell), "exec"), namespace)
        except Exception as error:
            raise _failure(notebook, cell, error, namespace) from error


def _cell_file(notebook: CompiledNotebook, cell: CodeCell) -> str:
    """The file name tracebacks show for a cell's code."""
    return f"<{notebook.name} cell {cell.index}>"


def _failure(
    notebook: CompiledNotebook, running: CodeCell, error: Exception, namespace: Mapping[str, Any]
) -> TransformFailed:
    transform = notebook.name
    quality_error = namespace.get("DataQualityError")
    if isinstance(quality_error, type) and isinstance(error, quality_error):
        return TransformFailed(
            transform,
            str(error),
            cell=running.index,
            rule=getattr(error, "rule", None),
            count=getattr(error, "count", None),
            sample=getattr(error, "sample", ()),
        )
    cell, line = _origin(notebook, running, error)
    where = f"cell {cell.index}" + (f" ({cell.label})" if cell.label else "")
    if line is not None:
        source = cell.source.splitlines()[line - 1].strip() if line <= len(cell.source.splitlines()) else ""
        where += f", line {line}: {source}" if source else f", line {line}"
    return TransformFailed(
        transform, f"transform {transform} failed in {where}\n{_error_text(error)}", cell=cell.index
    )


def _origin(
    notebook: CompiledNotebook, running: CodeCell, error: BaseException
) -> tuple[CodeCell, int | None]:
    """The notebook cell and line closest to where ``error`` was raised.

    The project's transform code is a cell of its own and is called from a later cell, so the
    innermost notebook frame of the traceback is meant, not the cell that was running.
    """
    cells = {_cell_file(notebook, cell): cell for cell in notebook.cells}
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename in cells:
            return cells[frame.filename], frame.lineno
    return running, None


def _error_text(error: BaseException) -> str:
    lines = f"{type(error).__name__}: {error}".strip().splitlines()
    if len(lines) > _MESSAGE_LINES:
        lines = [*lines[:_MESSAGE_LINES], f"... ({len(lines) - _MESSAGE_LINES} more lines)"]
    return "\n".join(lines)


def _forget_session_state(session: Any) -> None:
    """Drop the notebook's temporary views and cached data: on Synapse each notebook has a session
    of its own, so none may see what an earlier one registered."""
    for table in session.catalog.listTables():
        if table.isTemporary:
            session.catalog.dropTempView(table.name)
    session.catalog.clearCache()


def _output_rows(session: Any, notebook: CompiledNotebook, path: Path) -> int:
    try:
        return count_rows(session, path, notebook.output_format)
    except Exception as error:
        message = f"transform {notebook.name} ran, but its {notebook.output_format} output at {path} cannot be read: {_error_text(error)}"
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
