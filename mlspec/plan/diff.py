"""Field-level differences between two payloads, and which of them force a replace.

Paths are dotted from the payload root, with list indexes in brackets:
``properties.spec.replicas``, ``properties.containers[0].image``, ``attachments.src/train.py``.
Mappings are compared key by key; lists of the same length element by element; anything
else (scalars, lists whose length changed, a type change) as one value.

A :class:`FieldChange` holds its values redacted (:mod:`mlspec.redaction`): they are shown in the text
plan, its JSON and saved plans, and the live side comes from files anyone may have edited. Nothing
decides on these values — apply deploys the payload, never a field change — so redacting costs nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlspec.contract.payload import Payload
from mlspec.redaction import REDACTED, redact

ADD, REMOVE, CHANGE = "add", "remove", "change"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class FieldChange:
    """One changed leaf: ``before`` is :data:`MISSING` for an added field, ``after`` for a removed one."""

    path: str
    before: Any
    after: Any

    def __post_init__(self) -> None:
        secret_key = _names_a_secret(self.path)
        object.__setattr__(self, "before", _redacted(self.before, secret_key))
        object.__setattr__(self, "after", _redacted(self.after, secret_key))

    @property
    def action(self) -> str:
        if self.before is MISSING:
            return ADD
        if self.after is MISSING:
            return REMOVE
        return CHANGE

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "action": self.action}
        if self.before is not MISSING:
            out["before"] = self.before
        if self.after is not MISSING:
            out["after"] = self.after
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FieldChange:
        return cls(str(data["path"]), data.get("before", MISSING), data.get("after", MISSING))


def diff_values(before: Any, after: Any, path: str) -> list[FieldChange]:
    """Every leaf that differs between ``before`` and ``after``, in a stable order."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[FieldChange] = []
        for key in sorted(set(before) | set(after), key=str):
            child = f"{path}.{key}" if path else str(key)
            changes.extend(diff_values(before.get(key, MISSING), after.get(key, MISSING), child))
        return changes
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        changes = []
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            changes.extend(diff_values(b, a, f"{path}[{index}]"))
        return changes
    if before is MISSING and after is MISSING:
        return []
    if _same(before, after):
        return []
    return [FieldChange(path, before, after)]


def diff_fields(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """Differences of two flat ``{dotted.path: value}`` maps (spec fields), in ``after``'s order, then
    the removed paths in ``before``'s: a path is one key here, never split at its dots."""
    changes = [
        FieldChange(path, before.get(path, MISSING), value)
        for path, value in after.items()
        if path not in before or not _same(before[path], value)
    ]
    changes += [FieldChange(path, value, MISSING) for path, value in before.items() if path not in after]
    return changes


def leaves(value: Any, path: str) -> list[tuple[str, Any]]:
    """Every leaf of ``value`` with its path (an empty map or list is a leaf)."""
    if isinstance(value, dict) and value:
        out: list[tuple[str, Any]] = []
        for key in sorted(value, key=str):
            out.extend(leaves(value[key], f"{path}.{key}"))
        return out
    if isinstance(value, list) and value:
        out = []
        for index, item in enumerate(value):
            out.extend(leaves(item, f"{path}[{index}]"))
        return out
    return [(path, value)]


def first_leaves(value: Any, path: str, limit: int) -> tuple[list[tuple[str, Any]], int]:
    """The first ``limit`` of :func:`leaves` and how many there are in all: a plan shows a dozen
    fields of each created resource, and a notebook has hundreds (paths made for all of them were
    a third of the first plan of a thousand resources)."""
    first: list[tuple[str, Any]] = []
    if limit > 0:
        _first_leaves(value, path, limit, first)
    return first, leaf_count(value)


def _first_leaves(value: Any, path: str, limit: int, first: list[tuple[str, Any]]) -> None:
    """Appends leaves to ``first`` until it holds ``limit``."""
    if isinstance(value, dict) and value:
        for key in sorted(value, key=str):
            _first_leaves(value[key], f"{path}.{key}", limit, first)
            if len(first) >= limit:
                return
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _first_leaves(item, f"{path}[{index}]", limit, first)
            if len(first) >= limit:
                return
    else:
        first.append((path, value))


def leaf_count(value: Any) -> int:
    """``len(leaves(value, ...))`` without making their paths (a loop: a notebook's every source line
    is a leaf, and recursion was most of the count)."""
    count, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict) and item:
            pending.extend(item.values())
        elif isinstance(item, list) and item:
            pending.extend(item)
        else:
            count += 1
    return count


def diff_payloads(before: Payload, after: Payload) -> list[FieldChange]:
    """Differences of two payloads' properties and attachments (attachments are compared per file;
    the hashes are not fields of the deployed object, so they are left out)."""
    changes = diff_values(before.properties, after.properties, "properties")
    before_files, after_files = before.attachments, after.attachments
    for name in sorted(set(before_files) | set(after_files)):
        b, a = before_files.get(name, MISSING), after_files.get(name, MISSING)
        if b != a:  # file names contain dots: never split them into a path
            changes.append(FieldChange(f"attachments.{name}", b, a))
    return changes


def replace_reasons(changes: list[FieldChange], immutable: list[str]) -> list[str]:
    """Why the changes force a replace: each changed path under (or above) an immutable property path."""
    reasons: list[str] = []
    for name in immutable:
        prefix = f"properties.{name}"
        hit = next((c for c in changes if _under(c.path, prefix) or _under(prefix, c.path)), None)
        if hit is not None:
            reasons.append(f"{prefix} cannot be changed in place (changed at {hit.path})")
    return reasons


_LAST_KEY = re.compile(r"([^.\[\]]+)(?:\[\d+\])*$")


def _names_a_secret(path: str) -> bool:
    """Whether the path's last key is one whose value the redaction layer hides (``password``,
    ``AccountKey``, ...): asked of :func:`redact` itself, so the two never disagree."""
    found = _LAST_KEY.search(path)
    if found is None:
        return False
    probe = f"{found.group(1)}=x"
    return redact(probe) != probe


def _redacted(value: Any, secret_key: bool) -> Any:
    if value is MISSING or value is None or isinstance(value, bool):
        return value
    if secret_key and not isinstance(value, dict | list):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(item, False) for item in value]
    if isinstance(value, dict):
        return {key: _redacted(item, _names_a_secret(str(key))) for key, item in value.items()}
    return value


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def _same(a: Any, b: Any) -> bool:
    # 1 and 1.0 are the same value in JSON, True and 1 are not.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)
