"""The published JSON Schema of ``mlproject.yaml``, generated from the pydantic models.

Regenerate the checked-in copy with ``make schema`` (``python -m mlspec.spec_schema.export``;
``--check`` only reports whether it is stale); a test fails when it is stale. ``mlspec schema``
prints the checked-in copy and ``mlspec schema --write`` copies it into a project (no model
introspection at run time, so both are instant).

The schema is for editors first, so it is written in JSON Schema **draft-07**, the draft the
YAML language server (VS Code's YAML extension) fully supports. pydantic emits draft 2020-12;
:func:`generate_schema` rewrites what a draft-07 consumer would not understand:

- ``$defs`` and ``#/$defs/...`` become ``definitions`` and ``#/definitions/...``;
- a ``$ref`` with siblings (a field's description) becomes ``allOf: [{$ref}]`` plus the
  siblings, because draft-07 ignores every keyword next to a ``$ref``;
- every typed leaf the resolver interpolates (numbers, booleans, enums, ranged integers) also
  accepts a ``${...}`` reference: ``threshold: ${var.latency_ms}`` is valid in mlspec, so an
  editor must not flag it. Everything else stays as strict as the models (closed objects,
  ranges on literal numbers).

There is no ``$id``: the project publishes the schema at no URL, and an ``$id`` an editor would
try to fetch is worse than none. Specs point at the file by a relative path instead.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

SCHEMA_FILE = "mlproject.v1.schema.json"
PROJECT_SCHEMA_DIR = Path(".mlspec") / "schema"
"""Where ``mlspec schema --write`` and ``mlspec init`` put the schema, relative to the project."""
PROJECT_SCHEMA_PATH = PROJECT_SCHEMA_DIR / SCHEMA_FILE
DRAFT_07 = "http://json-schema.org/draft-07/schema#"

INTERPOLATION = "Interpolation"
INTERPOLATION_PATTERN = r"\$\{[^{}]+\}"
"""A string holding a ``${...}`` reference; Azure ML's ``${{ ... }}`` does not match (never interpolated)."""
_INTERPOLATION_REF = {"$ref": f"#/definitions/{INTERPOLATION}"}

_NOT_INTERPOLATED = frozenset({"Environment", "Variable"})
"""Definitions the resolver consumes as written (``environments``, ``variables``): no ``${...}`` there."""
_ANNOTATIONS = ("description", "default", "examples")
_TYPED_LEAVES = frozenset({"integer", "number", "boolean"})


def generate_schema() -> dict[str, Any]:
    from mlspec.spec_schema.models import MLProject

    emitted = MLProject.model_json_schema(
        by_alias=True, mode="validation", ref_template="#/definitions/{model}"
    )
    emitted_definitions: dict[str, Any] = emitted.pop("$defs", {})
    definitions = {
        name: _draft07(definition, interpolated=name not in _NOT_INTERPOLATED, is_definition=True)
        for name, definition in sorted(emitted_definitions.items())
    }
    definitions[INTERPOLATION] = {
        "type": "string",
        "pattern": INTERPOLATION_PATTERN,
        "description": (
            "A reference resolved before validation: ${var.NAME}, ${project.name}, "
            "${environment.name} or ${workspace.KEY}. A value that is exactly one reference "
            "takes the referenced value's type, so it can stand for a number or a boolean."
        ),
        "examples": ["${var.NAME}"],
    }
    root = _draft07(emitted, interpolated=True, is_definition=True)
    return {
        "$schema": DRAFT_07,
        "$comment": "Generated from mlspec's models by `make schema`; do not edit.",
        "title": "mlproject.yaml (mlspec/v1)",
        **{k: v for k, v in root.items() if k != "title"},
        "definitions": definitions,
    }


def _draft07(node: dict[str, Any], *, interpolated: bool, is_definition: bool = False) -> dict[str, Any]:
    """``node`` (a schema object) in draft-07 terms; see the module docstring."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and not is_definition:
            continue  # pydantic's "Min Nodes" says less than the description beside it
        if key == "properties":
            out[key] = {name: _draft07(child, interpolated=interpolated) for name, child in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _draft07(value, interpolated=interpolated)
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [_draft07(child, interpolated=interpolated) for child in value]
        else:
            out[key] = value
    if "$ref" in out and len(out) > 1:
        out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
    return _accepting_references(out) if interpolated else out


def _accepting_references(node: dict[str, Any]) -> dict[str, Any]:
    """A typed leaf (or a union of them) that also takes a ``${...}`` string."""
    if "anyOf" in node:
        # The branches were rewritten first: take their own reference alternative back out and
        # add one for the whole union, unless a branch takes any string anyway (str | int).
        branches: list[dict[str, Any]] = []
        for branch in node["anyOf"]:
            if set(branch) == {"anyOf"} and branch["anyOf"][-1] == _INTERPOLATION_REF:
                branches.extend(branch["anyOf"][:-1])
            elif branch != _INTERPOLATION_REF:
                branches.append(branch)
        takes_references = any(_is_typed_leaf(b) for b in branches) and not any(
            _takes_any_string(b) for b in branches
        )
        return {**node, "anyOf": [*branches, _INTERPOLATION_REF] if takes_references else branches}
    if not _is_typed_leaf(node):
        return node
    core = {k: v for k, v in node.items() if k not in _ANNOTATIONS}
    annotations = {k: node[k] for k in _ANNOTATIONS if k in node}
    return {"anyOf": [core, _INTERPOLATION_REF], **annotations}


def _is_typed_leaf(node: dict[str, Any]) -> bool:
    return node.get("type") in _TYPED_LEAVES or "enum" in node or "const" in node


def _takes_any_string(node: dict[str, Any]) -> bool:
    return node.get("type") == "string" and not ({"enum", "const", "pattern", "maxLength"} & set(node))


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def published_schema_text() -> str:
    return files("mlspec.spec_schema").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def schema_target(destination: Path | None = None) -> Path:
    """Where :func:`write_schema` writes: ``destination`` itself when it names a ``.json`` file,
    ``destination/mlproject.v1.schema.json`` for a folder, ``.mlspec/schema/...`` when absent."""
    if destination is None:
        return PROJECT_SCHEMA_PATH
    return destination if destination.suffix == ".json" else destination / SCHEMA_FILE


def write_schema(destination: Path | None = None) -> Path:
    """Write the published schema (see :func:`schema_target`) and return the path written."""
    target = schema_target(destination)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # mkdir's word for "a file is in the way", which misleads
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(target.parent)) from None
    target.write_text(published_schema_text(), encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    target = Path(__file__).with_name(SCHEMA_FILE)
    text = schema_text(generate_schema())
    if arguments == ["--check"]:
        stale = not target.exists() or target.read_text(encoding="utf-8") != text
        sys.stdout.write(f"{target} is stale: run `make schema`\n" if stale else f"{target} is up to date\n")
        return 1 if stale else 0
    if arguments:
        sys.stderr.write("usage: python -m mlspec.spec_schema.export [--check]\n")
        return 2
    target.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {target}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
