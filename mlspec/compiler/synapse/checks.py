"""mlspec's own checks of the Synapse artifacts: what the SDK models and nbformat do not look at.

They run on every build (no SDK import) and point at the spec's lines:

- MLS614: a notebook, pipeline or activity name Synapse would refuse (characters, length:
  activity names are at most 55 characters); a spec that makes one is refused by the check stage
  first (:mod:`mlspec.spec_schema.checks.synapse`), this one guards the renderer.
- MLS615: a code cell that is not valid Python, or whose ``source`` is not a list of lines; a
  ``%run`` cell that is not ``%run <notebook name>`` alone.
- MLS616: notebooks and pipeline out of step: a transform without a notebook, ``.ipynb`` twin
  or activity; an activity running a notebook the build does not produce; a ``%run`` of a
  notebook the build does not produce (or one the notebook's resource does not depend on, so a
  deploy could create the caller first).
- MLS617: ``dependsOn`` naming an unknown activity, differing from the transform DAG, or cyclic.
- MLS618: parameters: not exactly one ``parameters`` cell, a parameter an activity passes that
  the cell does not set, or an ``@pipeline().parameters.x`` the pipeline does not declare.
- MLS619: an activity or notebook without a Spark pool.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from typing import Any

from mlspec.compiler.addresses import synapse_notebook
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.synapse.cells import cell_text
from mlspec.compiler.synapse.notebook import (
    PARAMETERS_TAG,
    RUN_MAGIC,
    ipynb_file,
    notebook_file,
    runtime_notebook_name,
)
from mlspec.compiler.synapse.pipeline import ACTIVITY_TYPE, pipeline_file, upstream_transforms
from mlspec.contract.graph import Address
from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.spec_schema.synapse_names import (
    ACTIVITY_NAME_MAX,
    NOTEBOOK_NAME_MAX,
    PIPELINE_NAME_MAX,
    artifact_name_problems,
)

_PIPELINE_PARAMETER = re.compile(r"@pipeline\(\)\.parameters\.([A-Za-z_][A-Za-z0-9_]*)")


def check_synapse(ctx: RenderContext, out: ArtifactSet) -> list[Diagnostic]:
    """Every problem in this build's Synapse notebooks and pipeline, located in the spec."""
    if not ctx.model.transforms:
        return []
    found: list[Diagnostic] = []
    notebooks: dict[str, dict[str, Any]] = {}
    runtime = runtime_notebook_name(ctx.project)
    runtime_notebook = _data(out, notebook_file(runtime))
    if runtime_notebook is None:
        found.append(
            _error(ctx, "MLS616", f"the transforms have no runtime notebook {runtime!r}", ("transforms",))
        )
    else:
        found.extend(_runtime_notebook_problems(ctx, out, runtime, runtime_notebook))
    dependencies = {r.address: r.depends_on for r in out.resources if r.address.service == "synapse"}
    for name in ctx.model.transforms:
        notebook = _data(out, notebook_file(name))
        if notebook is None:
            found.append(
                _error(ctx, "MLS616", f"transform {name!r} has no Synapse notebook", ("transforms", name))
            )
            continue
        notebooks[name] = notebook
        found.extend(
            _notebook_problems(ctx, out, name, notebook, dependencies.get(synapse_notebook(name), []))
        )
    pipeline = _data(out, pipeline_file(ctx.project))
    if pipeline is None:
        found.append(_error(ctx, "MLS616", "the transforms have no Synapse pipeline", ("transforms",)))
    else:
        found.extend(_pipeline_problems(ctx, pipeline, notebooks))
    return found


def _error(
    ctx: RenderContext, code: str, message: str, path: SpecPath, hint: str | None = None
) -> Diagnostic:
    """An error at the spec line of ``path``'s key: ``transforms.x`` points at ``x:``, not its first field."""
    return Diagnostic.error(code, message, path, ctx.spec.locate(path, at_key=True), hint)


def _data(out: ArtifactSet, path: str) -> dict[str, Any] | None:
    artifact = out.artifacts.get(path)
    return artifact.data if artifact is not None and isinstance(artifact.data, dict) else None


# --- notebooks ----------------------------------------------------------------------------------


def _notebook_problems(
    ctx: RenderContext, out: ArtifactSet, name: str, notebook: dict[str, Any], depends_on: list[Address]
) -> Iterator[Diagnostic]:
    at: SpecPath = ("transforms", name)
    yield from _shared_notebook_problems(ctx, out, name, notebook, at)
    cells = notebook.get("properties", {}).get("cells", [])
    tagged = [i for i, cell in enumerate(cells) if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        yield _error(
            ctx, "MLS618", f"notebook {name} has {len(tagged)} cells tagged 'parameters', not one", at
        )
    runs = []
    for index, cell in enumerate(cells):
        yield from _cell_problems(ctx, name, index, cell, at)
        called = _run_target(cell)
        if called is not None:
            runs.append(called)
            yield from _run_problems(ctx, out, name, index, called, depends_on, at)
    if runtime_notebook_name(ctx.project) not in runs:
        yield _error(ctx, "MLS616", f"notebook {name} does not %run the project's runtime notebook", at)


def _shared_notebook_problems(
    ctx: RenderContext, out: ArtifactSet, name: str, notebook: dict[str, Any], at: SpecPath
) -> Iterator[Diagnostic]:
    """What every notebook of the build must have: a name Synapse allows, its twin, a Spark pool."""
    yield from _name_problems(ctx, "notebook", str(notebook.get("name")), NOTEBOOK_NAME_MAX, at)
    properties = notebook.get("properties", {})
    twin = _data(out, ipynb_file(name))
    if twin is None or twin.get("cells") != properties.get("cells", []):
        yield _error(ctx, "MLS616", f"notebook {name}: the .ipynb twin is missing or has other cells", at)
    if not properties.get("bigDataPool", {}).get("referenceName"):
        yield _error(
            ctx, "MLS619", f"notebook {name} has no Spark pool", at, "set workspace.spark_pool or spark.pool"
        )


def _runtime_notebook_problems(
    ctx: RenderContext, out: ArtifactSet, name: str, notebook: dict[str, Any]
) -> Iterator[Diagnostic]:
    at: SpecPath = ("transforms",)
    yield from _shared_notebook_problems(ctx, out, name, notebook, at)
    cells = notebook.get("properties", {}).get("cells", [])
    for index, cell in enumerate(cells):
        yield from _cell_problems(ctx, name, index, cell, at)
        if _run_target(cell) is not None:
            yield _error(
                ctx, "MLS615", f"notebook {name}, cell {index}: the runtime notebook runs no other", at
            )


def _run_target(cell: dict[str, Any]) -> str | None:
    """The notebook a ``%run`` cell names (everything after the magic), or ``None`` for another cell."""
    if cell.get("cell_type") != "code":
        return None
    source = cell.get("source")
    first = source[0] if isinstance(source, list) and source else source
    if not (isinstance(first, str) and first.lstrip().startswith(RUN_MAGIC)):
        return None  # most cells: decided by their first line, without joining them
    words = cell_text(cell).strip().split(None, 1)
    if words[0] != RUN_MAGIC:
        return None
    return words[1].strip() if len(words) == 2 else ""


def _run_problems(
    ctx: RenderContext,
    out: ArtifactSet,
    name: str,
    index: int,
    called: str,
    depends_on: list[Address],
    at: SpecPath,
) -> Iterator[Diagnostic]:
    if not called or any(c.isspace() for c in called):
        message = (
            f"notebook {name}, cell {index}: {RUN_MAGIC} names no notebook, or more than the notebook alone"
        )
        yield _error(ctx, "MLS615", message, at, "a bug in mlspec's notebook templates: please report it")
        return
    if _data(out, notebook_file(called)) is None:
        message = f"notebook {name}, cell {index} runs notebook {called!r}, which the build does not produce"
        yield _error(ctx, "MLS616", message, at)
        return
    if synapse_notebook(called) not in depends_on:
        message = f"notebook {name} runs notebook {called!r} but does not depend on it"
        yield _error(ctx, "MLS616", message, at, "a deploy could create the caller before what it runs")


@functools.lru_cache(maxsize=256)
def _syntax_problem(code: str) -> str | None:
    """Why ``code`` is not valid Python, or ``None``. Memoised: notebooks share cells (the same
    reads and writes in many), and parsing each once per build instead of once per notebook matters."""
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    return None


@functools.lru_cache(maxsize=4096)
def _lines_ok(source: tuple[Any, ...]) -> bool:
    """A cell's source is a list of lines: strings, each but the last ending in its only newline.
    Memoised: most cells of a build are the same helper cells in every notebook."""
    return (
        all(isinstance(line, str) for line in source)
        and all(line.endswith("\n") and "\n" not in line[:-1] for line in source[:-1])
        and "\n" not in source[-1]
    )


def _cell_problems(
    ctx: RenderContext, name: str, index: int, cell: dict[str, Any], at: SpecPath
) -> Iterator[Diagnostic]:
    source = cell.get("source")
    if not (isinstance(source, list) and source and _lines_ok(tuple(source))):
        yield _error(ctx, "MLS615", f"notebook {name}, cell {index}: source is not a list of lines", at)
        return
    if cell.get("cell_type") != "code" or _run_target(cell) is not None:
        return  # a %run cell is Synapse's, not Python: _run_problems judges it
    problem = _syntax_problem(_without_magic(cell_text(cell)))
    if problem is not None:
        yield _error(
            ctx,
            "MLS615",
            f"notebook {name}, cell {index} is not valid Python: {problem}",
            at,
            "a bug in mlspec's notebook templates: please report it with the spec",
        )


def _without_magic(text: str) -> str:
    """Python text of a cell: a leading ``%%pyspark`` line, if any, is Synapse's, not Python's."""
    first, _, rest = text.partition("\n")
    return rest if first.strip() == "%%pyspark" else text


def _assigned_names(cell: dict[str, Any]) -> frozenset[str]:
    return _names_assigned_in(cell_text(cell))


@functools.lru_cache(maxsize=64)
def _names_assigned_in(code: str) -> frozenset[str]:
    """Memoised: every notebook of a build has the same parameters cell."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return frozenset()  # reported as MLS615
    return frozenset(
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    )


# --- pipeline -------------------------------------------------------------------------------------


def _pipeline_problems(
    ctx: RenderContext, pipeline: dict[str, Any], notebooks: dict[str, dict[str, Any]]
) -> Iterator[Diagnostic]:
    yield from _name_problems(
        ctx, "pipeline", str(pipeline.get("name")), PIPELINE_NAME_MAX, ("project", "name")
    )
    properties = pipeline.get("properties", {})
    activities: list[dict[str, Any]] = properties.get("activities", [])
    declared = set(properties.get("parameters", {}))
    names = {str(a.get("name")) for a in activities}
    for name in ctx.model.transforms:
        if name not in names:
            yield _error(
                ctx,
                "MLS616",
                f"transform {name!r} has no activity in the Synapse pipeline",
                ("transforms", name),
            )
    for activity in activities:
        yield from _activity_problems(ctx, activity, names, declared, notebooks)
    yield from _cycle_problems(ctx, activities)


def _activity_problems(
    ctx: RenderContext,
    activity: dict[str, Any],
    names: set[str],
    declared: set[str],
    notebooks: dict[str, dict[str, Any]],
) -> Iterator[Diagnostic]:
    name = str(activity.get("name"))
    at: SpecPath = ("transforms", name) if name in ctx.model.transforms else ("transforms",)
    yield from _name_problems(ctx, "pipeline activity", name, ACTIVITY_NAME_MAX, at)
    if activity.get("type") != ACTIVITY_TYPE:
        return
    properties = activity.get("typeProperties", {})
    notebook = properties.get("notebook", {}).get("referenceName")
    if notebook not in notebooks:
        yield _error(
            ctx, "MLS616", f"activity {name} runs notebook {notebook!r}, which the build does not produce", at
        )
    if not properties.get("sparkPool", {}).get("referenceName"):
        yield _error(
            ctx, "MLS619", f"activity {name} has no Spark pool", at, "set workspace.spark_pool or spark.pool"
        )
    yield from _dependency_problems(ctx, name, activity, names, at)
    cells = notebooks.get(str(notebook), {}).get("properties", {}).get("cells", [])
    tagged = [c for c in cells if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])]
    assigned = _assigned_names(tagged[0]) if tagged else None
    for key, parameter in properties.get("parameters", {}).items():
        expression = str(parameter.get("value", {}).get("value", "")) if isinstance(parameter, dict) else ""
        for used in _PIPELINE_PARAMETER.findall(expression):
            if used not in declared:
                message = f"activity {name} passes @pipeline().parameters.{used}, which is not declared"
                yield _error(ctx, "MLS618", message, at)
        if assigned is not None and key not in assigned:
            message = f"activity {name} passes parameter {key!r}, which notebook {notebook} does not set"
            yield _error(ctx, "MLS618", message, at)


def _dependency_problems(
    ctx: RenderContext, name: str, activity: dict[str, Any], names: set[str], at: SpecPath
) -> Iterator[Diagnostic]:
    depends = [str(d.get("activity")) for d in activity.get("dependsOn", [])]
    for target in depends:
        if target not in names:
            yield _error(ctx, "MLS617", f"activity {name} depends on unknown activity {target!r}", at)
    if name in ctx.model.transforms and sorted(depends) != sorted(upstream_transforms(ctx.model, name)):
        expected = ", ".join(upstream_transforms(ctx.model, name)) or "nothing"
        message = f"activity {name} depends on {', '.join(depends) or 'nothing'}, its inputs on {expected}"
        yield _error(ctx, "MLS617", message, at)


def _cycle_problems(ctx: RenderContext, activities: list[dict[str, Any]]) -> Iterator[Diagnostic]:
    edges = {str(a.get("name")): [str(d.get("activity")) for d in a.get("dependsOn", [])] for a in activities}
    cycle = _find_cycle(edges)
    if cycle:
        message = f"pipeline activities depend on each other in a cycle: {' -> '.join(cycle)}"
        yield _error(ctx, "MLS617", message, ("transforms",))


def _find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """A cycle of ``edges`` as the path that closes it (``[a, b, a]``), or ``None``. A loop over an
    explicit stack, with the path's members in a set: a chain of thousands of transforms would pass
    Python's recursion limit, and a list search per step made it quadratic."""
    done: set[str] = set()
    for start in edges:
        if start in done:
            continue
        path, on_path = [start], {start}
        pending = [iter(edges.get(start, []))]
        while pending:
            target = next(pending[-1], None)
            if target is None:
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                pending.pop()
                continue
            if target in on_path:
                return [*path[path.index(target) :], target]
            if target in edges and target not in done:
                path.append(target)
                on_path.add(target)
                pending.append(iter(edges[target]))
    return None


# --- names ------------------------------------------------------------------------------------------


def _name_problems(
    ctx: RenderContext, what: str, name: str, longest: int, at: SpecPath
) -> Iterator[Diagnostic]:
    for problem in artifact_name_problems(what, name, longest):
        yield _error(ctx, "MLS614", problem.message, at, problem.hint)
