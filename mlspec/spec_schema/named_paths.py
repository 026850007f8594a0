"""List items named by their field in a finding's path: ``reports['churn-dashboard'].pages['Overview']``
reads better than ``reports[0].pages[0]`` when a spec has many of them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mlspec.diagnostics import Diagnostic

# The field that names an item of a list, in the order they are tried.
NAMING_FIELDS = ("name", "title", "role")
_LONGEST_NAME = 40


def with_item_names(data: Any, d: Diagnostic) -> Diagnostic:
    """``d`` with the names of the list items its path goes through (those that have one)."""
    names: list[tuple[int, str]] = []
    node = data
    for position, part in enumerate(d.path):
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            name = _name_of(node[part])
            # A name two items share (two grants of one role) would not say which: the index does.
            if name is not None and sum(_name_of(item) == name for item in node) == 1:
                names.append((position, name))
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    return replace(d, item_names=tuple(names)) if names else d


def _name_of(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    for field in NAMING_FIELDS:
        value = item.get(field)
        if isinstance(value, str) and value and len(value) <= _LONGEST_NAME and value.isprintable():
            return value
    return None
