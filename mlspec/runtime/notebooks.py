"""The compiled Synapse pipeline and notebooks of a build, read back as what a local run executes.

A build holds ``synapse/pipelines/<project>.json`` (one ``SynapseNotebook`` activity per
transform, ordered by ``dependsOn``) and ``synapse/notebooks/<transform>.ipynb``. This module
reads only those files — never the spec — so a local run executes exactly what Synapse would.
Where a notebook writes is read from the notebook itself: the literal URL and format of its
``write_output(...)`` call; what it reads, from its ``inputs["<name>"] = read_input(...)`` calls.

A ``%run <notebook>`` cell is what Synapse makes of it: the named notebook's code cells, run in the
caller's context, in place of the ``%run`` (nested up to Synapse's limit of five, never
recursively). Every transform notebook ``%run``-s the project's runtime notebook this way.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PIPELINES_FOLDER = Path("synapse") / "pipelines"
NOTEBOOKS_FOLDER = Path("synapse") / "notebooks"
WRITE_CALL = "write_output"
READ_CALL = "read_input"
NOTEBOOK_ACTIVITY = "SynapseNotebook"
RUN_MAGIC = "%run"
MAX_RUN_DEPTH = 5
"""Synapse refuses a ``%run`` nested deeper than five notebooks."""


class BuildUnreadable(Exception):
    """The build's pipeline or a notebook is missing or not what mlspec writes."""


@dataclass(frozen=True)
class CodeCell:
    """A notebook code cell: its position among all its notebook's cells, and its source.

    A cell a ``%run`` brought in names the ``notebook`` it is a cell of, and ``run_by``, the index
    of the transform notebook's ``%run`` cell that ran it.
    """

    index: int
    source: str
    notebook: str | None = None
    run_by: int | None = None

    @property
    def position(self) -> int:
        """Where in the transform's own notebook the cell runs: its index, or its ``%run`` cell's."""
        return self.index if self.run_by is None else self.run_by

    @property
    def label(self) -> str:
        """The cell's leading comment (the generated cells open with one saying what they do)."""
        first = self.source.lstrip().splitlines()[0] if self.source.strip() else ""
        return first.lstrip("#").strip() if first.startswith("#") else ""


@dataclass(frozen=True)
class NotebookInput:
    """One ``inputs["<name>"] = read_input(spark, "<url>", "<format>", options={...})`` of a notebook."""

    name: str
    url: str
    format: str
    options: tuple[tuple[str, str], ...] = ()

    def option(self, key: str) -> str | None:
        """The reader option ``key`` (Spark's option names are case-insensitive)."""
        return next((value for name, value in self.options if name.lower() == key.lower()), None)


@dataclass(frozen=True)
class CompiledNotebook:
    """One transform's notebook as the pipeline runs it."""

    name: str
    file: Path
    cells: tuple[CodeCell, ...]
    output_url: str
    output_format: str
    depends_on: tuple[str, ...]
    inputs: tuple[NotebookInput, ...] = ()


def read_pipeline(build_dir: Path) -> list[CompiledNotebook]:
    """Every notebook the build's pipeline runs, each after the ones it depends on.

    Ties keep the pipeline's activity order. A build without a pipeline (no transforms) has
    none. Raises :class:`BuildUnreadable` for missing notebooks, unknown dependencies or cycles.
    """
    pipeline_file = _pipeline_file(build_dir)
    if pipeline_file is None:
        return []
    activities = _activities(pipeline_file)
    run = _RunCells(build_dir / NOTEBOOKS_FOLDER)
    notebooks = {
        name: _read_notebook(build_dir / NOTEBOOKS_FOLDER / f"{reference}.ipynb", name, depends_on, run)
        for name, reference, depends_on in activities
    }
    return _in_dependency_order([notebooks[name] for name, _, _ in activities], pipeline_file)


def _pipeline_file(build_dir: Path) -> Path | None:
    folder = build_dir / PIPELINES_FOLDER
    manifest = build_dir / "manifest.json"
    if manifest.is_file():
        project = json.loads(manifest.read_text(encoding="utf-8")).get("project")
        if isinstance(project, str) and (folder / f"{project}.json").is_file():
            return folder / f"{project}.json"
    found = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise BuildUnreadable(f"{folder} holds several pipelines ({names}) and no manifest.json names one")
    return found[0] if found else None


def _activities(pipeline_file: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    """(activity name, notebook name, the activities it depends on) of every notebook activity."""
    try:
        pipeline = json.loads(pipeline_file.read_text(encoding="utf-8"))
        activities = pipeline["properties"]["activities"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BuildUnreadable(f"{pipeline_file} is not a Synapse pipeline: {error}") from error
    found = []
    for activity in activities:
        if activity.get("type") != NOTEBOOK_ACTIVITY:
            continue
        name = str(activity["name"])
        reference = activity.get("typeProperties", {}).get("notebook", {}).get("referenceName", name)
        depends_on = tuple(str(d["activity"]) for d in activity.get("dependsOn", []))
        found.append((name, str(reference), depends_on))
    return found


def _read_notebook(path: Path, name: str, depends_on: tuple[str, ...], run: _RunCells) -> CompiledNotebook:
    own = _code_cells(path, f"the notebook of {name}")
    cells: list[CodeCell] = []
    for cell in own:
        called = run_target(cell.source)
        if called is None:
            cells.append(cell)
        else:
            included = run.cells(called, (path.stem,), f"{path} cell {cell.index}")
            cells += [dataclasses.replace(c, run_by=cell.index) for c in included]
    url, format_ = _output_of(own, path)
    return CompiledNotebook(name, path, tuple(cells), url, format_, depends_on, _inputs_of(own))


def _code_cells(path: Path, what: str) -> list[CodeCell]:
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        raw_cells = notebook["cells"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BuildUnreadable(f"cannot read {what} ({path}): {error}") from error
    return [
        CodeCell(index, _source_text(cell.get("source", "")))
        for index, cell in enumerate(raw_cells)
        if cell.get("cell_type") == "code"
    ]


def run_target(source: str) -> str | None:
    """The notebook a ``%run <notebook>`` cell runs; ``None`` for any other cell."""
    words = source.strip().split()
    if not words or words[0] != RUN_MAGIC:
        return None
    return words[1] if len(words) == 2 else ""


class _RunCells:
    """The code cells a ``%run`` of each notebook brings in, read once per build (every transform
    notebook runs the same runtime notebook)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._read: dict[str, list[CodeCell]] = {}

    def cells(self, called: str, callers: tuple[str, ...], where: str) -> list[CodeCell]:
        if not called or "/" in called or called in (".", ".."):
            raise BuildUnreadable(f"{where}: {RUN_MAGIC} must name one notebook of the build, not {called!r}")
        if called in callers:
            raise BuildUnreadable(
                f"{where}: {RUN_MAGIC} {called} runs itself ({' -> '.join((*callers, called))})"
            )
        if len(callers) > MAX_RUN_DEPTH:
            raise BuildUnreadable(f"{where}: {RUN_MAGIC} nested deeper than {MAX_RUN_DEPTH} notebooks")
        if called not in self._read:
            path = self.folder / f"{called}.ipynb"
            found: list[CodeCell] = []
            for cell in _code_cells(path, f"notebook {called}, which {where} runs"):
                inner = run_target(cell.source)
                if inner is None:
                    found.append(dataclasses.replace(cell, notebook=called))
                else:
                    found += self.cells(inner, (*callers, called), f"{path} cell {cell.index}")
            self._read[called] = found
        return self._read[called]


def _source_text(source: str | Sequence[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def _output_of(cells: Sequence[CodeCell], path: Path) -> tuple[str, str]:
    """URL and format of the notebook's ``write_output(frame, url, format, ...)`` call."""
    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue  # the cell fails when it runs, and says why there
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called_name(node.func) == WRITE_CALL:
                arguments = _call_arguments(node, ("frame", "url", "format"))
                try:
                    url, format_ = ast.literal_eval(arguments["url"]), ast.literal_eval(arguments["format"])
                except (KeyError, ValueError) as error:
                    raise BuildUnreadable(
                        f"{path} cell {cell.index}: {WRITE_CALL}(...) has no literal url and format"
                    ) from error
                return str(url), str(format_)
    raise BuildUnreadable(f"{path} has no {WRITE_CALL}(...) call: cannot tell where it writes")


def _inputs_of(cells: Sequence[CodeCell]) -> tuple[NotebookInput, ...]:
    """Every ``inputs["<name>"] = read_input(...)`` with a literal name, URL and format.

    Only used to name an input in an error, so anything else is skipped rather than refused.
    """
    found = []
    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
                continue
            if _called_name(node.value.func) != READ_CALL or len(node.targets) != 1:
                continue
            target = node.targets[0]
            arguments = _call_arguments(node.value, ("spark", "url", "format"))
            try:
                name = ast.literal_eval(target.slice) if isinstance(target, ast.Subscript) else None
                url, format_ = ast.literal_eval(arguments["url"]), ast.literal_eval(arguments["format"])
                options = ast.literal_eval(arguments["options"]) if "options" in arguments else {}
            except (KeyError, ValueError):
                continue
            if isinstance(name, str) and isinstance(options, dict):
                pairs = tuple((str(k), str(v)) for k, v in options.items())
                found.append(NotebookInput(name, str(url), str(format_), pairs))
    return tuple(found)


def _called_name(function: ast.expr) -> str | None:
    if isinstance(function, ast.Name):
        return function.id
    return function.attr if isinstance(function, ast.Attribute) else None


def _call_arguments(call: ast.Call, positional: Sequence[str]) -> dict[str, Any]:
    arguments: dict[str, Any] = dict(zip(positional, call.args, strict=False))
    arguments.update({k.arg: k.value for k in call.keywords if k.arg is not None})
    return arguments


def _in_dependency_order(notebooks: list[CompiledNotebook], pipeline_file: Path) -> list[CompiledNotebook]:
    known = {n.name for n in notebooks}
    for notebook in notebooks:
        unknown = sorted(set(notebook.depends_on) - known)
        if unknown:
            raise BuildUnreadable(
                f"{pipeline_file}: {notebook.name} depends on {', '.join(unknown)}, which it does not run"
            )
    ordered: list[CompiledNotebook] = []
    placed: set[str] = set()
    waiting = list(notebooks)
    while waiting:
        ready = next((n for n in waiting if set(n.depends_on) <= placed), None)
        if ready is None:
            cycle = ", ".join(n.name for n in waiting)
            raise BuildUnreadable(f"{pipeline_file}: the dependsOn of {cycle} form a cycle")
        ordered.append(ready)
        placed.add(ready.name)
        waiting.remove(ready)
    return ordered
