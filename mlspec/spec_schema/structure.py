"""Validate the resolved data against the pydantic models; translate errors into located diagnostics.

pydantic reports one error per union member and per nesting level; users want one
message per place they wrote, so errors are grouped by spec path and phrased in YAML
terms ("expected a string, got the number 3.1 — quote it").
"""

from __future__ import annotations

import difflib
import math
import re
import typing
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.spec_schema.models import API_VERSION, INT64_MAX, INT64_MIN, MLProject
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


_RANGE_ERRORS = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}
)
_BOUND_KEYS = ("ge", "gt", "le", "lt")


def check_structure(spec: ResolvedSpec) -> tuple[MLProject | None, list[Diagnostic]]:
    try:
        model: MLProject | None = MLProject.model_validate(spec.data)
        found: list[Diagnostic] = []
    except ValidationError as exc:
        model, found = None, _diagnostics(spec, exc)
    # Numbers no consumer takes, in every field (free-form ones such as params and options too);
    # a field whose own range the models already refused is not reported twice.
    reported = {d.path for d in found}
    unusable = (
        [d for d in _unusable_numbers(spec, spec.data, ()) if d.path not in reported]
        if _document_holds_unusable_number(spec)
        else []
    )
    return (model if not unusable else None), [*found, *unusable]


def _document_holds_unusable_number(spec: ResolvedSpec) -> bool:
    """Once per document, not per environment: interpolation only moves numbers the file holds (a
    variable's value from --var or MLSPEC_VAR_* is a string), so the file has them all."""
    memo = spec.document.memo
    if "unusable_numbers" not in memo:
        memo["unusable_numbers"] = _holds_unusable_number(spec.document.data)
    return bool(memo["unusable_numbers"])


def _holds_unusable_number(root: Any) -> bool:
    """A quick look (no paths built) before :func:`_unusable_numbers`: nearly every spec has none."""
    stack = [root]
    while stack:
        node = stack.pop()
        for item in node.values() if isinstance(node, dict) else node:
            kind = type(item)
            if kind is dict or kind is list:
                stack.append(item)
            elif kind is int:
                if not INT64_MIN <= item <= INT64_MAX:
                    return True
            elif kind is float and not math.isfinite(item):
                return True
    return False


def _unusable_numbers(spec: ResolvedSpec, value: Any, path: SpecPath) -> Iterator[Diagnostic]:
    """Integers past 64 bits and NaN/infinity: JSON, ARM, Kubernetes and orjson take neither."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _unusable_numbers(spec, item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unusable_numbers(spec, item, (*path, index))
    elif isinstance(value, bool):
        return
    elif isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        field = path[-1] if path else "spec"
        yield Diagnostic.error(
            "MLS102",
            f"{field!r} must be a whole number between {INT64_MIN} and {INT64_MAX} (64 bits), got {_shown(value)}",
            path,
            spec.locate(path),
            "no Azure service, Kubernetes or JSON reader takes a wider integer",
        )
    elif isinstance(value, float) and not math.isfinite(value):
        field = path[-1] if path else "spec"
        yield Diagnostic.error(
            "MLS102",
            f"{field!r} must be a finite number, got {value}",
            path,
            spec.locate(path),
            "NaN and infinity (.nan, .inf) are not values Azure or Kubernetes accept; give a number",
        )


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
    if isinstance(value, int | float) and not isinstance(value, bool) and kinds & _RANGE_ERRORS:
        return _out_of_range(spec, path, errors, value)
    literal_expected = [
        str(e["ctx"]["expected"]) for e in errors if e["type"] == "literal_error" and "ctx" in e
    ]
    if literal_expected:
        message = f"invalid value {_shown(value)} for {field!r}: expected {' or '.join(literal_expected)}"
        return Diagnostic.error(
            "MLS102", message, path, spec.locate(path), _closest_choice(value, literal_expected)
        )
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


def _closest_choice(value: Any, expected: list[str]) -> str | None:
    """``did you mean 'canary'?`` for ``canry`` (or ``Canary``): only ever a value the field accepts."""
    if not isinstance(value, str):
        return None
    choices = [c for text in expected for c in re.findall(r"'((?:[^'\\]|\\.)*)'", text)]
    folded = {c.casefold(): c for c in choices}
    if value.casefold() in folded:
        return f"did you mean {folded[value.casefold()]!r}? (values are case-sensitive)"
    close = difflib.get_close_matches(value.casefold(), list(folded), n=1, cutoff=0.6)
    return f"did you mean {folded[close[0]]!r}?" if close else None


def _out_of_range(
    spec: ResolvedSpec, path: SpecPath, errors: list[dict[str, Any]], value: float
) -> Diagnostic:
    """``'seed' must be between 0 and 4294967295, got -1``: the whole accepted range, not one bound."""
    field = path[-1] if path else "spec"
    bounds, description = _field_bounds(path)
    for error in errors:  # constraints on a union member (max_surge's int) are only in the errors
        for key in _BOUND_KEYS:
            if key in (error.get("ctx") or {}):
                bounds.setdefault(key, error["ctx"][key])
    accepted = _range_text(bounds)
    if any(e["type"] == "finite_number" for e in errors):
        message = f"{field!r} must be a finite number" + (f" {accepted}" if accepted else "")
    else:
        message = f"{field!r} must be {accepted or 'in range'}"
    return Diagnostic.error("MLS102", f"{message}, got {_shown(value)}", path, spec.locate(path), description)


def _field_bounds(path: SpecPath) -> tuple[dict[str, Any], str | None]:
    """The ``ge``/``gt``/``le``/``lt`` constraints and description of the model field at ``path``."""
    model = _model_at(path[:-1]) if path else None
    if model is None or not isinstance(path[-1], str):
        return {}, None
    fields = {(f.alias or n): f for n, f in model.model_fields.items()}
    info = fields.get(path[-1])
    if info is None:
        return {}, None
    bounds = {
        key: getattr(item, key)
        for item in [*info.metadata, *_member_metadata(info.annotation)]
        for key in _BOUND_KEYS
        if getattr(item, key, None) is not None
    }
    return bounds, info.description


def _member_metadata(annotation: Any) -> list[Any]:
    """The constraints of an optional field's number (``Annotated[int, Field(ge=1)] | None``): pydantic
    keeps them on the union's member, not the field."""
    found: list[Any] = []
    for member in typing.get_args(annotation):
        for item in getattr(member, "__metadata__", ()):
            found.extend(getattr(item, "metadata", None) or [item])
    return found


def _range_text(bounds: dict[str, Any]) -> str:
    def shown(number: Any) -> str:
        return str(int(number)) if isinstance(number, float) and number.is_integer() else str(number)

    low = f"at least {shown(bounds['ge'])}" if "ge" in bounds else None
    low = f"greater than {shown(bounds['gt'])}" if "gt" in bounds else low
    high = f"at most {shown(bounds['le'])}" if "le" in bounds else None
    high = f"less than {shown(bounds['lt'])}" if "lt" in bounds else high
    if "ge" in bounds and "le" in bounds:
        return f"between {shown(bounds['ge'])} and {shown(bounds['le'])}"
    return " and ".join(part for part in (low, high) if part)


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
