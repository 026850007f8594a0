"""Read the output column names of a simple Spark SQL query, or say they cannot be known.

Used to check that training features exist upstream without running Spark. It is
deliberately conservative: ``SELECT *``, an unnamed expression or anything it does not
understand gives ``None`` ("unknown"), never a guess.
"""

from __future__ import annotations

import functools
import re

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_TOKEN = re.compile(r"`[^`]*`|\w+|\S")
_IDENTIFIER = re.compile(r"^(?:`[^`]+`|[A-Za-z_]\w*)$")
_NOT_ALIASES = frozenset(
    {
        "end",
        "null",
        "true",
        "false",
        "and",
        "or",
        "not",
        "is",
        "in",
        "like",
        "then",
        "else",
        "when",
        "desc",
        "asc",
    }
)


def select_columns(sql: str) -> list[str] | None:
    """Output column names of the query's outermost SELECT, or ``None`` when unknown."""
    items = _select_items(sql)
    return [name for name, _ in items] if items is not None else None


def select_items(sql: str) -> list[tuple[str, list[str]]] | None:
    """``(output name, expression tokens)`` for each column of the outermost SELECT, or ``None``.

    The tokens are the expression without its alias (``CAST(x AS INT) AS y`` → ``CAST ( x AS INT )``);
    string literals are blanked to ``''``.
    """
    items = _select_items(sql)
    return [(name, list(tokens)) for name, tokens in items] if items is not None else None


@functools.lru_cache(maxsize=1024)
def _select_items(sql: str) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
    text = _STRINGS.sub("''", _COMMENTS.sub(" ", sql))
    tokens = _TOKEN.findall(text)
    depth = 0
    start = end = None
    for index, token in enumerate(tokens):
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        elif depth == 0:
            word = token.lower()
            if start is None and word == "select":
                start = index + 1
            elif start is not None and word in (
                "from",
                "union",
                "intersect",
                "except",
                "where",
                "group",
                "order",
                "limit",
            ):
                end = index
                break
    if start is None:
        return None
    items = _split_commas(tokens[start:end])
    if items and items[0] and items[0][0].lower() in ("distinct", "all"):
        items[0] = items[0][1:]
    named: list[tuple[str, tuple[str, ...]]] = []
    for item in items:
        name = _item_name(item)
        if name is None:
            return None
        named.append((name, tuple(_without_alias(item))))
    return tuple(named) or None


def _without_alias(item: list[str]) -> list[str]:
    if len(item) >= 3 and item[-2].lower() == "as":
        return item[:-2]
    if len(item) >= 2 and _IDENTIFIER.match(item[-1]) and (item[-2] == ")" or _IDENTIFIER.match(item[-2])):
        return item[:-1] if item[-1].lower() not in _NOT_ALIASES else item
    return item


def _split_commas(tokens: list[str]) -> list[list[str]]:
    items: list[list[str]] = [[]]
    depth = 0
    for token in tokens:
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        if token == "," and depth == 0:
            items.append([])
        else:
            items[-1].append(token)
    return items


def _item_name(item: list[str]) -> str | None:
    if not item or item[-1] == "*":
        return None
    qualified = all(
        (token == ".") if position % 2 else bool(_IDENTIFIER.match(token))
        for position, token in enumerate(item)
    )
    if qualified and len(item) % 2 == 1:
        return _unquote(item[-1])  # column or table.column
    if len(item) >= 3 and item[-2].lower() == "as" and _IDENTIFIER.match(item[-1]):
        return _unquote(item[-1])
    last, before = item[-1], item[-2] if len(item) >= 2 else ""
    if (
        _IDENTIFIER.match(last)
        and last.lower() not in _NOT_ALIASES
        and (before == ")" or _IDENTIFIER.match(before))
    ):
        return _unquote(last)  # implicit alias: count(x) visits
    return None


def _unquote(name: str) -> str:
    return name[1:-1] if name.startswith("`") else name
