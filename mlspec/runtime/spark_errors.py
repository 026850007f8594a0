"""Spark's errors cut down to what a user reads: the engine's own first meaningful line.

A Spark error that crosses py4j carries the whole Java stack (``\\tat …`` frames, ``Caused by:``
chains, ``... 25 more``) and, for a failed task, the scheduler's wrapping ("Job aborted due to
stage failure: … Lost task 0.0 …: "). Users need the condition Spark names
(``[PATH_NOT_FOUND] Path does not exist: file:/…``) and, when it says more, the root cause
(``NumberFormatException: For input string: "abc"``); the full text stays on the exception.
"""

from __future__ import annotations

import re

_PYTHON_LINES = 12  # of a Python error's own message (Java messages are cut to one line)
_CONDITION = re.compile(r"\[[A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)*\] ")
_JAVA_CLASS = re.compile(r"^(?:[a-z_$][\w$]*\.)+([A-Z][\w$]*): ")
_TASK_FAILURE = re.compile(r"^Job aborted due to stage failure: .*?most recent failure: Lost task .*?\): ")
_PY4J_CALL = re.compile(r"^An error occurred while calling [\w.]+\.?$")
_PYTHON_TRACEBACK = "Traceback (most recent call last):"
_MALFORMED = ("MALFORMED_RECORD_IN_PARSING", "Malformed records are detected", "Malformed CSV record")
_STOPPED_CONTEXT = ("Cannot call methods on a stopped SparkContext", "SparkContext was shut down")


def from_engine(error: BaseException) -> bool:
    """Whether ``error`` came from the JVM (through py4j or PySpark's captured exceptions)."""
    names = {cls.__module__.split(".")[0] for cls in type(error).__mro__}
    return bool(names & {"py4j", "pyspark"})


def short_message(error: BaseException) -> str:
    """One readable line (a few for a Python error's own message) saying what went wrong."""
    if not from_engine(error):
        lines = f"{type(error).__name__}: {error}".strip().splitlines()
        return "\n".join(lines[:_PYTHON_LINES])
    text = str(error)
    if _PYTHON_TRACEBACK in text:  # a Python UDF failed on an executor: its own last line says why
        return _python_worker_error(text)
    head = _head_lines(text)
    first = _without_wrapping(head[0]) if head else type(error).__name__
    cause = _root_cause(text)
    if cause is None or cause.partition(": ")[2] in first:  # the cause only repeats the message
        return first
    return f"{first} ({cause})"


def is_malformed_record(error: BaseException) -> bool:
    """A FAILFAST reader met a record it cannot parse."""
    text = str(error)
    return any(marker in text for marker in _MALFORMED)


def is_stopped_context(error: BaseException) -> bool:
    """The Spark application is gone (its master or driver stopped)."""
    text = str(error)
    return any(marker in text for marker in _STOPPED_CONTEXT)


def _head_lines(text: str) -> list[str]:
    """The message lines before the first Java frame, without py4j's "calling o66.x" line."""
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if raw.startswith("\tat ") or line.startswith(("Caused by:", "JVM stacktrace:", "== SQL")):
            break
        if line and not _PY4J_CALL.match(line):
            lines.append(line.removeprefix(": "))
    return lines


def _without_wrapping(line: str) -> str:
    """``[CONDITION] message`` if Spark names one, else the message without Java class names."""
    condition = _CONDITION.search(line)
    if condition is not None:
        return line[condition.start() :].strip()
    previous = None
    while previous != line:
        previous = line
        line = _TASK_FAILURE.sub("", _JAVA_CLASS.sub("", line))
    return line.strip()


def _root_cause(text: str) -> str | None:
    """The innermost ``Caused by:`` of a Java stack, as ``SimpleClassName: message``."""
    causes = [
        line.strip().removeprefix("Caused by: ")
        for line in text.splitlines()
        if line.startswith("Caused by: ")
    ]
    if not causes:
        return None
    cause = causes[-1]
    match = _JAVA_CLASS.match(cause)
    return f"{match[1]}: {cause[match.end() :]}" if match else cause


def _python_worker_error(text: str) -> str:
    traceback = text[text.index(_PYTHON_TRACEBACK) :]
    lines = [line for line in _head_lines_python(traceback) if line.strip()]
    return lines[-1].strip() if lines else "a Python worker failed"


def _head_lines_python(traceback: str) -> list[str]:
    lines = []
    for line in traceback.splitlines():
        if line.startswith("\tat ") or line.strip().startswith("JVM stacktrace:"):
            break
        lines.append(line)
    return lines
