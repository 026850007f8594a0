"""Pointers into JSON documents (RFC 6901 notation), as reported in :attr:`PlatformProblem.where`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def pointer(*parts: str | int) -> str:
    """``pointer("properties", "cells", 0)`` → ``/properties/cells/0``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def child(where: str, *parts: str | int) -> str:
    """Extend a pointer: ``child("/a", "b", 0)`` → ``/a/b/0``."""
    return where + pointer(*parts)


def from_path(parts: Iterable[str | int]) -> str:
    """A pointer from a path such as jsonschema's ``error.absolute_path``."""
    return pointer(*parts)


def strings_in(node: object, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string value under ``node`` (not the keys), with its pointer."""
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings_in(value, child(where, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings_in(value, child(where, index))
