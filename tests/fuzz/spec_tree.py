"""Walking a parsed spec for the fuzz tests: every path into it, and the container a path ends in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

SpecTreePath = tuple[str | int, ...]


def paths(value: Any, prefix: SpecTreePath = ()) -> Iterator[SpecTreePath]:
    """Every path into ``value`` (mapping keys and list indexes), the root excluded."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from paths(item, (*prefix, index))


def parent(data: Any, path: SpecTreePath) -> Any:
    """The mapping or list that holds the last part of ``path``."""
    for part in path[:-1]:
        data = data[part]
    return data
