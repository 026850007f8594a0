"""Turn what ``azure-ai-ml`` raises while loading a YAML file into located problems.

The SDK reports schema errors as one marshmallow ``ValidationError`` whose text embeds JSON, in two
shapes: marshmallow's nested messages (``{"create_monitor": {"monitoring_signals": ...}}``) or a
validation result (``{"result": "Failed", "errors": [{"path": "jobs.train.component", ...}]}``) whose
messages may embed the first shape again. Union fields list one error set per alternative; the one
whose ``type`` matched is what the author meant, the others are noise.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from mlspec.compiler.platform_checks.json_pointers import pointer

Located = tuple[list[str], str]
"""``(path parts, message)``."""

_DECORATED = re.compile(r"\s*Validation for \w+ failed:\s*")
_NOT_IN_SET = re.compile(r"Value '(?P<value>[^']*)' passed is not in set \[(?P<allowed>[^\]]*)\]")
_MISSING_FILE = ("No such file or directory", "Can't find directory or file")


def sdk_error_messages(exc: BaseException) -> list[tuple[str, str]]:
    """``(where, message)`` for each error an SDK load raised."""
    # A bad monitor schedule surfaces as an empty NotImplementedError raised while handling the real error.
    if isinstance(exc, NotImplementedError) and not str(exc) and exc.__context__ is not None:
        exc = exc.__context__
    text = str(exc)
    if _DECORATED.match(text):
        return [
            (pointer(*parts), _lead_with_missing_files(message)) for parts, message in decorated(text, [])
        ]
    message = text or type(exc).__name__
    return [("", _lead_with_missing_files(message))]


def decorated(text: str, base: list[str]) -> list[Located]:
    """Errors in a "Validation for XSchema failed: {json} ..." message."""
    match = _DECORATED.match(text)
    if match is None:
        return _union_repr(text, base) or [(base, text)]
    try:
        data, _ = json.JSONDecoder().raw_decode(text, match.end())
    except ValueError:
        return [(base, text)]
    if isinstance(data, dict) and "errors" in data and "result" in data:
        found: list[Located] = []
        for error in data["errors"]:
            # "*" is the validation result's name for the whole document.
            parts = base + [p for p in str(error.get("path", "")).split(".") if p and p != "*"]
            found += decorated(str(error.get("message", "")), parts)
        return found
    return flatten(data, base)


def flatten(node: Any, parts: list[str]) -> list[Located]:
    """marshmallow's nested messages as one entry per field."""
    if isinstance(node, str):
        return [(parts, node)]
    if isinstance(node, list):
        if all(isinstance(item, str) for item in node):
            return [(parts, " ".join(node))] if node else []
        return _union(node, parts)
    if isinstance(node, dict):
        found: list[Located] = []
        # A Dict field nests its errors under "key"/"value"; "_schema" holds errors of the object itself.
        wrapper = set(node) <= {"key", "value"}
        for key, value in node.items():
            inner = parts if wrapper or key == "_schema" else [*parts, str(key)]
            found += flatten(value, inner)
        return found
    return [(parts, str(node))]


def _union(alternatives: list[Any], parts: list[str]) -> list[Located]:
    objects = [a for a in alternatives if isinstance(a, dict)]
    type_matched = [a for a in objects if "type" not in a]
    if type_matched and len(type_matched) < len(alternatives):
        best = min(type_matched, key=lambda a: len(flatten(a, [])))
        return flatten(best, parts)
    rejected_types = [_NOT_IN_SET.search(" ".join(map(str, a["type"]))) for a in objects if "type" in a]
    if objects and len(objects) == len(alternatives) and all(rejected_types):
        value = rejected_types[0].group("value")  # type: ignore[union-attr]
        allowed = sorted({v.strip(" '") for m in rejected_types for v in m.group("allowed").split(",")})  # type: ignore[union-attr]
        return [([*parts, "type"], f"type {value!r} is not one of {', '.join(allowed)}")]
    # No alternative stands out: say what each one objected to, as the SDK itself does.
    messages = ["; ".join(message for _, message in flatten(a, [])) for a in alternatives]
    return [(parts, "; ".join(m for m in messages if m))]


def _union_repr(text: str, parts: list[str]) -> list[Located]:
    """A validation result's message may be a union's alternatives as Python reprs joined by "; "."""
    alternatives = []
    for piece in text.split("; "):
        try:
            alternatives.append(ast.literal_eval(piece))
        except (ValueError, SyntaxError):
            return []
    if len(alternatives) < 2 or not all(isinstance(a, dict) for a in alternatives):
        return []
    return _union(alternatives, parts)


def _lead_with_missing_files(message: str) -> str:
    """Put "No such file" first: among a union's objections it is the one that explains the error."""
    pieces = [_unlist(p.strip()) for p in message.split("; ")]
    if len(pieces) < 2:
        return message
    pieces.sort(key=lambda p: not any(marker in p for marker in _MISSING_FILE))
    return "; ".join(pieces)


def _unlist(piece: str) -> str:
    """``['No such file ...']`` → ``No such file ...``."""
    if piece.startswith("['") and piece.endswith("']") and "', '" not in piece:
        return piece[2:-2]
    return piece
