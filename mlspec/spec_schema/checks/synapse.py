"""What the Synapse notebooks and pipeline need from the spec, checked before anything is rendered.

- MLS610-612: a Python transform's code file is readable UTF-8, valid Python, and defines a
  top-level ``transform()`` (:mod:`mlspec.spec_schema.transform_code`; the notebook inlines it).
- MLS613: every column type in a schema a notebook passes to Spark is one Spark SQL type
  (:mod:`mlspec.spec_schema.spark_types`).
- MLS614: names Synapse allows for the notebooks, activities and pipeline named after the
  transforms and the project (:mod:`mlspec.spec_schema.synapse_names`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.project_files import ProjectFileError, check_project_file, read_project_file
from mlspec.spec_schema.checks.context import CheckContext
from mlspec.spec_schema.checks.naming import DATASET, PROJECT
from mlspec.spec_schema.spark_types import is_spark_type
from mlspec.spec_schema.synapse_names import (
    ACTIVITY_NAME_MAX,
    NOTEBOOK_NAME_MAX,
    PIPELINE_NAME_MAX,
    artifact_name_problems,
)
from mlspec.spec_schema.transform_code import CodeProblem, transform_code_problem, unreadable_code

SPARK_TYPE_HINT = "e.g. string, int, bigint, double, decimal(10,2), boolean, date, timestamp"


def check_synapse(ctx: CheckContext) -> Iterator[Diagnostic]:
    if not ctx.model.transforms:
        return
    yield from _schema_types(ctx)
    yield from _artifact_names(ctx)
    for name, transform in ctx.model.transforms.items():
        if transform.python is not None:
            problem = _code_problem(ctx, transform.python)
            if problem is not None:
                path = ("transforms", name, "python")
                yield ctx.error(problem.code, problem.message, path, problem.hint)


def _schema_types(ctx: CheckContext) -> Iterator[Diagnostic]:
    """MLS613 for the schemas the notebooks enforce: those of the datasets a transform reads."""
    model = ctx.model
    read = {i for t in model.transforms.values() for i in t.inputs}
    schemas: list[tuple[SpecPath, dict[str, str]]] = [
        (("sources", name, "schema"), source.schema_)
        for name, source in model.sources.items()
        if name in read and source.schema_
    ]
    schemas += [
        (("transforms", name, "output", "schema"), t.output.schema_)
        for name, t in model.transforms.items()
        if name in read and t.output.schema_
    ]
    for path, schema in schemas:
        for column, kind in schema.items():
            if not is_spark_type(kind):
                message = f"column {column!r}: {kind!r} is not a Spark SQL type"
                yield ctx.error("MLS613", message, (*path, column), SPARK_TYPE_HINT)


def _artifact_names(ctx: CheckContext) -> Iterator[Diagnostic]:
    """MLS614 where the spec's own naming rule (MLS4xx) lets a name through that Synapse refuses:
    a transform name of 56-64 characters is a fine view name but too long an activity name."""
    for name in ctx.model.transforms:
        if DATASET.problem(name) is not None:
            continue
        for what, longest in (("notebook", NOTEBOOK_NAME_MAX), ("pipeline activity", ACTIVITY_NAME_MAX)):
            for problem in artifact_name_problems(what, name, longest):
                yield ctx.error("MLS614", problem.message, ("transforms", name), problem.hint, at_key=True)
    project = ctx.model.project.name
    if PROJECT.problem(project) is None:
        for problem in artifact_name_problems("pipeline", project, PIPELINE_NAME_MAX):
            yield ctx.error("MLS614", problem.message, ("project", "name"), problem.hint, at_key=True)


def _code_problem(ctx: CheckContext, relative: str) -> CodeProblem | None:
    """The problem of a transform's code file; ``None`` also when MLS413 (check_formats) reports the file."""
    if ctx.spec.file == "<string>" or PurePosixPath(relative).suffix != ".py":
        return None
    project_dir = Path(ctx.spec.file).parent
    try:
        check_project_file(project_dir, relative)
    except ProjectFileError:
        return None  # MLS413: missing, outside the project, not a regular file
    try:
        text = read_project_file(project_dir, relative).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return unreadable_code(relative, exc)
    return transform_code_problem(relative, text)
