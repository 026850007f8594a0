"""Why a transform's notebook stopped, said in terms of the spec: the transform, the input, the cell.

A missing or empty input is named as the input (``source web_logs has no data at …``), not as
the runtime helper's line that read it; a FAILFAST reader's malformed record blames the source
it was read from, not the later action that made Spark parse it; anything else names the
notebook cell and line closest to where it was raised. Engine errors are cut to their first
meaningful line (:mod:`mlspec.runtime.spark_errors`); the full error stays the ``__cause__``.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlspec.runtime import spark_errors
from mlspec.runtime.lake import local_path
from mlspec.runtime.notebooks import CodeCell, CompiledNotebook, NotebookInput


class TransformFailed(Exception):
    """A transform's notebook stopped; nothing after it ran.

    ``cell`` is the index of the failing cell in the notebook (``None`` when the build itself
    could not be read, or the failure is not a cell's). For a data-quality failure ``rule``
    (``unique(customer_id)``), ``count`` (offending rows) and ``sample`` (up to five of them,
    as dicts) are set, and the notebook wrote nothing. ``source`` names the input to blame
    when there is one (it has no data, or a record of it is malformed); ``empty`` is true when it
    has no data.
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
        source: str | None = None,
        empty: bool = False,
    ) -> None:
        super().__init__(message)
        self.transform = transform
        self.cell = cell
        self.rule = rule
        self.count = count
        self.sample = [dict(row) for row in sample]
        self.source = source
        self.empty = empty


@dataclass(frozen=True)
class RunContext:
    """What explaining a failure needs beyond the notebook: the lake, the master, who writes what."""

    lake_root: Path
    master: str = ""
    written_by: Mapping[str, str] = field(default_factory=dict)  # output URL -> transform
    master_lost: bool = False


def explain(
    notebook: CompiledNotebook,
    running: CodeCell,
    error: Exception,
    namespace: Mapping[str, Any],
    context: RunContext,
) -> TransformFailed:
    """The :class:`TransformFailed` for ``error``, raised while ``running`` executed."""
    transform = notebook.name
    quality_error = namespace.get("DataQualityError")
    if isinstance(quality_error, type) and isinstance(error, quality_error):
        return TransformFailed(
            transform,
            str(error),
            cell=running.position,
            rule=getattr(error, "rule", None),
            count=getattr(error, "count", None),
            sample=getattr(error, "sample", ()),
        )
    stopped = engine_stopped(transform, error, context)
    if stopped is not None:
        return stopped
    input_missing = namespace.get("InputMissing")
    if isinstance(input_missing, type) and isinstance(error, input_missing):
        url = str(getattr(error, "url", ""))
        known = next((i for i in notebook.inputs if i.url == url), None)
        title = _input_title(known, context) if known else f"the input at {url}"
        message = f"transform {transform} failed: {title} has no data at {getattr(error, 'path', url)}"
        problem = getattr(error, "problem", "")
        return TransformFailed(
            transform,
            message + (f" ({problem})" if problem else ""),
            source=known.name if known else None,
            empty=True,
        )
    if spark_errors.is_malformed_record(error):
        culprit = _malformed_source(notebook, namespace)
        if culprit is not None:
            where = _input_path(culprit, context)
            message = (
                f"transform {transform} failed: {_input_title(culprit, context)}: malformed record in its"
                f" {culprit.format} data at {where}: {spark_errors.short_message(error)}"
            )
            return TransformFailed(transform, message, source=culprit.name)
    cell, line = _origin(notebook, running, error)
    where = _place(cell, line)
    helper = _origin(notebook, running, error, own_cells_only=False)
    if helper[0].notebook is not None and helper[0] is not cell:
        # Raised inside the runtime notebook's helpers: the transform's own call is what to look at,
        # the helper's line the detail.
        where += f" (in {helper[0].notebook}, {_place(helper[0], helper[1], label=False)})"
    message = f"transform {transform} failed in {where}\n{spark_errors.short_message(error)}"
    return TransformFailed(transform, message, cell=cell.position)


def engine_stopped(transform: str, error: BaseException, context: RunContext) -> TransformFailed | None:
    """A :class:`TransformFailed` saying the Spark master or application went away, if it did."""
    if context.master_lost:
        message = f"transform {transform} failed: the Spark master {context.master} stopped answering"
        return TransformFailed(transform, message + "; the run cannot go on")
    if spark_errors.from_engine(error) and spark_errors.is_stopped_context(error):
        on = f" on {context.master}" if context.master else ""
        message = f"transform {transform} failed: the Spark application{on} stopped (its master went away?)"
        return TransformFailed(transform, message)
    return None


def cell_file(notebook: CompiledNotebook, cell: CodeCell) -> str:
    """The file name tracebacks show for a cell's code (a cell a ``%run`` brought in: its own notebook's)."""
    return f"<{cell.notebook or notebook.name} cell {cell.index}>"


def _place(cell: CodeCell, line: int | None, *, label: bool = True) -> str:
    where = f"cell {cell.index}" + (f" ({cell.label})" if label and cell.label else "")
    if label and cell.notebook is not None:
        where += f" of notebook {cell.notebook} (run by cell {cell.position})"
    if line is not None:
        lines = cell.source.splitlines()
        source = lines[line - 1].strip() if line <= len(lines) else ""
        where += f", line {line}: {source}" if source else f", line {line}"
    return where


def _origin(
    notebook: CompiledNotebook, running: CodeCell, error: BaseException, *, own_cells_only: bool = True
) -> tuple[CodeCell, int | None]:
    """The notebook cell and line closest to where ``error`` was raised.

    The project's transform code is a cell of its own and is called from a later cell, so the
    innermost notebook frame of the traceback is meant, not the cell that was running; with
    ``own_cells_only``, the innermost frame of the transform's own notebook (not of a notebook a
    ``%run`` brought in: the runtime helper's frames are where the transform's call failed, not why).
    """
    cells = {cell_file(notebook, cell): cell for cell in notebook.cells}
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        cell = cells.get(frame.filename)
        if cell is not None and not (own_cells_only and cell.notebook is not None):
            return cell, frame.lineno
    return running, None


def _input_title(known: NotebookInput, context: RunContext) -> str:
    writer = context.written_by.get(known.url)
    return f"input {known.name} (written by transform {writer})" if writer else f"source {known.name}"


def _input_path(known: NotebookInput, context: RunContext) -> str:
    try:
        return local_path(known.url, str(context.lake_root))
    except ValueError:
        return known.url


def _malformed_source(notebook: CompiledNotebook, namespace: Mapping[str, Any]) -> NotebookInput | None:
    """The FAILFAST csv/json input with a record Spark cannot parse.

    Spark's error names neither the file nor the input, and it surfaces at the first action that
    parses the data. With one such input it is that one; with several, each is read in full
    (a ``noop`` write parses every column) until one fails the same way.
    """
    candidates = [
        i
        for i in notebook.inputs
        if i.format in ("csv", "json") and (i.option("mode") or "").upper() == "FAILFAST"
    ]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    frames = namespace.get("inputs")
    for candidate in candidates:
        frame = frames.get(candidate.name) if isinstance(frames, Mapping) else None
        if frame is None:
            continue
        try:
            frame.write.format("noop").mode("overwrite").save()
        except Exception as error:
            if spark_errors.is_malformed_record(error):
                return candidate
    return None
