"""Validate the resolved data against the pydantic models; translate errors into located diagnostics.

pydantic reports one error per union member and per nesting level; users want one
message per place they wrote, so errors are grouped by spec path and phrased in YAML
terms ("expected a string, got the number 3.1 — quote it").
"""

from __future__ import annotations

import difflib
import typing
from collections import defaultdict
from typing import Any

from pydantic import BaseModel, ValidationError

from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.spec_schema.models import API_VERSION, MLProject
from mlspec.spec_schema.resolve import ResolvedSpec

_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping (key: value)",
    "list_type": "a list",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
}


def check_structure(spec: ResolvedSpec) -> tuple[MLProject | None, list[Diagnostic]]:
    try:
        return MLProject.model_validate(spec.data), []
    except ValidationError as exc:
        return None, _diagnostics(spec, exc)


def _diagnostics(spec: ResolvedSpec, exc: ValidationError) -> list[Diagnostic]:
    grouped: dict[SpecPath, list[dict[str, Any]]] = defaultdict(list)
    for error in exc.errors(include_url=False):
        grouped[_data_path(spec.data, error["loc"])].append(dict(error))
    found: list[Diagnostic] = []
    for path, errors in grouped.items():
        found.append(_one(spec, path, errors))
    return found


def _data_path(data: Any, loc: tuple[int | str, ...]) -> SpecPath:
    """pydantic's ``loc`` without union-member tags: only the steps that exist in the data (plus a missing key)."""
    path: list[str | int] = []
    current: Any = data
    for part in loc:
        if isinstance(current, dict) and isinstance(part, str):
            path.append(part)
            if part not in current:
                break
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int):
            path.append(part)
            current = current[part] if 0 <= part < len(current) else None
        # else: a union tag or a step into a scalar; the error is about ``current`` itself
    return tuple(path)


def _one(spec: ResolvedSpec, path: SpecPath, errors: list[dict[str, Any]]) -> Diagnostic:
    kinds = {e["type"] for e in errors}
    field = path[-1] if path else "spec"
    if "extra_forbidden" in kinds:
        allowed = _allowed_fields(path)
        hint = f"allowed here: {', '.join(allowed)}" if allowed else None
        close = difflib.get_close_matches(str(field), allowed, n=1, cutoff=0.6)
        if close:
            hint = f"did you mean {close[0]!r}? " + (hint or "")
        return Diagnostic.error(
            "MLS100", f"unknown field {field!r}", path, spec.locate(path, at_key=True), hint
        )
    if "missing" in kinds:
        origin = spec.origin(path)
        if origin != path:  # the environment's overlay removed it (set it to null)
            return Diagnostic.error(
                "MLS101",
                f"missing required field {field!r}: environment {spec.environment!r} removes it",
                path,
                spec.document.locate(origin),
                f"a required field cannot be null in an overlay; give environments.{spec.environment}.overrides a value for it",
            )
        return Diagnostic.error(
            "MLS101", f"missing required field {field!r}", path, spec.locate(path[:-1]), f"add `{field}:`"
        )
    if path == ("apiVersion",):
        return Diagnostic.error(
            "MLS103",
            f"unsupported apiVersion {_shown(errors[0].get('input'))}",
            path,
            spec.locate(path),
            f"this mlspec reads `apiVersion: {API_VERSION}`",
        )
    value = errors[0].get("input")
    literal_expected = [
        str(e["ctx"]["expected"]) for e in errors if e["type"] == "literal_error" and "ctx" in e
    ]
    if literal_expected:
        message = f"invalid value {_shown(value)} for {field!r}: expected {' or '.join(literal_expected)}"
        return Diagnostic.error("MLS102", message, path, spec.locate(path), None)
    type_names = sorted({_TYPE_NAMES[e["type"]] for e in errors if e["type"] in _TYPE_NAMES})
    if isinstance(field, str) and field.rstrip().endswith(")") and "(" not in field:
        # `{amount: decimal(10,2)}`: inside {...} the comma ends the entry, leaving a key "2)".
        return Diagnostic.error(
            "MLS102",
            f"{field!r} is the tail of a value split at a comma inside {{...}}",
            path,
            spec.locate(path, at_key=True),
            'quote values that contain commas in flow mappings, e.g. amount: "decimal(10,2)"',
        )
    if type_names:
        message = f"{field!r} must be {' or '.join(type_names)}, got {_described(value)}"
        hint = _yaml_hint(value, type_names)
        if len(path) == 4 and path[:3] == ("model", "evaluation", "gate"):
            hint = 'a gate is a comparison written as a string, e.g. ">= 0.80"'
        return Diagnostic.error("MLS102", message, path, spec.locate(path), hint)
    first = errors[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    return Diagnostic.error(
        "MLS102", f"{field!r}: {message}" if path else message, path, spec.locate(path), None
    )


def _allowed_fields(path: SpecPath) -> list[str]:
    model = _model_at(path[:-1])
    if model is None:
        return []
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _model_at(path: SpecPath) -> type[BaseModel] | None:
    """The model class that the mapping at ``path`` is validated against, if any."""
    current: Any = MLProject
    for part in path:
        model = _as_model(current)
        if isinstance(part, str) and model is not None:
            fields = {(f.alias or n): f for n, f in model.model_fields.items()}
            if part not in fields:
                return None
            current = fields[part].annotation
        else:  # a list index or a dict key: step to the element type
            args = [a for a in typing.get_args(current) if a is not type(None)]
            current = args[-1] if args else None
            inner = [a for a in typing.get_args(current) if a is not type(None)]
            if _as_model(current) is None and inner and typing.get_origin(current) in (list, dict):
                current = inner[-1]
    return _as_model(current)


def _as_model(annotation: Any) -> type[BaseModel] | None:
    """``X`` for a model ``X`` or ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    members = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(members) == 1 and isinstance(members[0], type) and issubclass(members[0], BaseModel):
        return members[0]
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _described(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {_shown(value)}"
    return f"{type(value).__name__} {_shown(value)}"


def _yaml_hint(value: Any, expected: list[str]) -> str | None:
    if "a string" in expected and isinstance(value, bool | int | float):
        return 'quote the value: YAML reads unquoted numbers, true/false/yes/no/on/off as non-strings (e.g. python: "3.10")'
    if "a string" in expected and value is not None and not isinstance(value, dict | list | str):
        return "quote the value: YAML reads unquoted dates and times as non-strings"
    if value is None:
        return "the value is empty; give one or remove the key"
    return None
