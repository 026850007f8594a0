"""Serialising artifacts: structured files are always dumped from data, never pasted together as text.

Output is deterministic: the same data gives the same bytes (stable key order, ``\\n``
line endings, a trailing newline).
"""

from __future__ import annotations

from typing import Any

import yaml


class _ArtifactDumper(yaml.CSafeDumper):
    """libyaml's emitter; block style; multi-line strings as literal blocks so code stays readable."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # never emit &anchors: every artifact is read by tools that dislike them


def _str_presenter(dumper: yaml.CSafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and not any(c in value for c in "\t\r") and value == value.rstrip(" "):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_ArtifactDumper.add_representer(str, _str_presenter)


def to_yaml(value: Any) -> bytes:
    return yaml.dump(
        value,
        Dumper=_ArtifactDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    ).encode("utf-8")


def to_yaml_documents(values: list[Any]) -> bytes:
    return yaml.dump_all(
        values,
        Dumper=_ArtifactDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    ).encode("utf-8")


def to_json(value: Any, *, sort_keys: bool = True) -> bytes:
    """Two-space indented UTF-8 JSON with a trailing newline. orjson, because the standard library
    falls back to its pure-Python encoder whenever it indents (a build serialises megabytes)."""
    import orjson

    options = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    return orjson.dumps(value, option=options)
