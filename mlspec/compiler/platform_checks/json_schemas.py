"""JSON Schema validation, with errors turned into located problems.

Used for the schemas mlspec keeps itself (``schemas/``: custom resources, Power BI project files) and
for kubernetes-validate's schemas. ``additionalProperties`` errors are split into one problem per
unknown key, pointing at the key, with a "did you mean" from the allowed names.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from mlspec.compiler.platform_checks.json_pointers import child, from_path
from mlspec.compiler.platform_checks.problems import PlatformProblem
from mlspec.compiler.platform_checks.suggestions import did_you_mean

MLSPEC_MARK = "x-mlspec"
"""Set on schema parts mlspec adds to someone else's schema, so their errors are credited to mlspec."""
EXPECTED = "x-expected"
"""On a ``pattern``: what a matching value is, for the message (``a Kubernetes quantity such as 500m``)."""


@cache
def bundled_schema(name: str) -> dict[str, Any]:
    """A schema shipped in ``mlspec/compiler/platform_checks/schemas/``."""
    text = (
        resources.files("mlspec.compiler.platform_checks")
        .joinpath("schemas")
        .joinpath(name)
        .read_text("utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def bundled_validator(name: str) -> Any:
    """A validator for a bundled schema (its ``$schema`` picks the draft), built once."""
    from jsonschema.validators import validator_for

    schema = bundled_schema(name)
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema_problems(validator: Any, instance: object, artifact: str, checker: str) -> list[PlatformProblem]:
    """Every error ``validator`` finds in ``instance``, in document order."""
    problems: list[PlatformProblem] = []
    for error in validator.iter_errors(instance):
        where = from_path(error.absolute_path)
        credited = "mlspec" if isinstance(error.schema, dict) and error.schema.get(MLSPEC_MARK) else checker
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            problems += _unknown_keys(error, where, artifact, checker)
        elif error.validator in ("anyOf", "oneOf"):
            problems.append(PlatformProblem(artifact, where, _alternatives_message(error), credited))
        elif error.validator == "pattern" and isinstance(error.schema, dict) and EXPECTED in error.schema:
            message = f"{error.instance!r} is not {error.schema[EXPECTED]}"
            problems.append(PlatformProblem(artifact, where, message, credited))
        elif error.validator == "enum" and credited == "mlspec":
            allowed = [v for v in error.validator_value if v is not None]
            message = f"{error.instance!r} is not one of {', '.join(map(str, allowed))}"
            problems.append(
                PlatformProblem(artifact, where, message + did_you_mean(error.instance, allowed), credited)
            )
        else:
            problems.append(PlatformProblem(artifact, where, error.message, credited))
    return sorted(problems, key=lambda p: _document_order(p.where))


def _document_order(where: str) -> list[tuple[int, int | str]]:
    """Sort key for pointers: list indexes by number (``/2`` before ``/10``)."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in where.split("/")]


def _alternatives_message(error: Any) -> str:
    """anyOf/oneOf: jsonschema only says "not valid under any of the given schemas"."""
    from jsonschema.exceptions import best_match

    branches = error.validator_value
    if all(isinstance(b, dict) and set(b) == {"required"} and len(b["required"]) == 1 for b in branches):
        names = [b["required"][0] for b in branches]
        present = [n for n in names if isinstance(error.instance, dict) and n in error.instance]
        if error.validator == "oneOf" and len(present) > 1:
            return f"only one of {', '.join(names)} may be set"
        return f"needs {'exactly ' if error.validator == 'oneOf' else ''}one of {', '.join(names)}"
    closest = best_match(error.context) if error.context else None
    return closest.message if closest is not None else str(error.message)


def _unknown_keys(error: Any, where: str, artifact: str, checker: str) -> list[PlatformProblem]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = list(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    unknown = [k for k in error.instance if k not in known and not any(re.search(p, k) for p in patterns)]
    if not unknown:  # additionalProperties held a schema the value failed: keep jsonschema's message
        return [PlatformProblem(artifact, where, error.message, checker)]
    return [
        PlatformProblem(
            artifact, child(where, key), f"unknown field '{key}'{did_you_mean(key, known)}", checker
        )
        for key in unknown
    ]
