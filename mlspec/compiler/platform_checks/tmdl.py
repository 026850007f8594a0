"""Structural checks of a TMDL ``definition/`` folder (no Python TMDL parser exists; the real one is .NET).

What is checked is what a renderer gets wrong and Power BI Desktop refuses to open: the required files,
tab indentation, one object declared per file at the top level, declarations of columns, measures,
partitions and hierarchies one tab in, no indentation jumps outside expressions, quoted names where
TMDL needs quotes, ``ref table`` lines naming tables that exist, and relationships
(``relationships.tmdl``) whose ``fromColumn``/``toColumn`` name columns that exist. Problems point at
``line N``.
"""

from __future__ import annotations

import re
from pathlib import Path

Finding = tuple[Path, str, str]
"""``(file, where, message)``."""

_TABLE_CHILDREN = ("column", "measure", "partition", "hierarchy")
# Unquoted TMDL names cannot hold whitespace or . = : ' (they must then be in single quotes).
_NAME = r"(?:'(?:[^']|'')+'|[^\s.=:']+)"
_DECLARATION = re.compile(rf"^(?P<keyword>[a-zA-Z]+) (?P<name>{_NAME})(?P<rest>.*)$")
_REF_TABLE = re.compile(rf"^ref table (?P<name>{_NAME})\s*$")
_RELATIONSHIP_END = re.compile(
    rf"^\t(?P<end>fromColumn|toColumn): (?P<table>{_NAME})\.(?P<column>{_NAME})\s*$"
)
_COLUMN = re.compile(rf"^\tcolumn (?P<name>{_NAME})")


def tmdl_problems(definition: Path) -> list[Finding]:
    """Problems in a semantic model's TMDL ``definition/`` folder."""
    found: list[Finding] = []
    for name in ("database.tmdl", "model.tmdl"):
        if not (definition / name).is_file():
            found.append((definition / name, "", f"missing {name}"))
    tables = sorted((definition / "tables").glob("*.tmdl"))
    if not tables:
        found.append((definition / "tables", "", "no tables/*.tmdl: the model has no table"))
    texts: dict[Path, list[str]] = {}
    for file in sorted(definition.rglob("*.tmdl")):
        try:
            texts[file] = file.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            found.append((file, "", f"cannot read the file: {exc}"))
    for file, lines in texts.items():
        found += _indentation(file, lines)
    for file, keyword in ((definition / "database.tmdl", "database"), (definition / "model.tmdl", "model")):
        if file in texts:
            found += _top_declaration(file, texts[file], keyword)
    declared: dict[str, Path] = {}
    for file in tables:
        if file in texts:
            found += _top_declaration(file, texts[file], "table")
            found += _table_children(file, texts[file])
            table = _declared_name(texts[file])
            if table is not None and table in declared:
                found.append((file, "", f"table {table} is also declared in {declared[table].name}"))
            if table is not None:
                declared.setdefault(table, file)
    if definition / "model.tmdl" in texts:
        found += _table_refs(definition / "model.tmdl", texts[definition / "model.tmdl"], set(declared))
    relationships = definition / "relationships.tmdl"
    if relationships in texts:
        columns = {table: _columns(texts[file]) for table, file in declared.items()}
        found += _relationship_ends(relationships, texts[relationships], columns)
    return found


def _significant(lines: list[str]) -> list[tuple[int, str]]:
    """``(line number, line)`` without blank lines and ``///`` descriptions."""
    return [
        (n, line) for n, line in enumerate(lines, 1) if line.strip() and not line.strip().startswith("///")
    ]


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip("\t"))


def _space_indented(line: str) -> bool:
    return " " in line[: len(line) - len(line.lstrip())]


def _indentation(file: Path, lines: list[str]) -> list[Finding]:
    found: list[Finding] = []
    previous = 0
    expression_depth: int | None = None  # inside a multi-line expression opened at this depth
    for number, line in _significant(lines):
        depth = _depth(line)
        if expression_depth is not None and depth > expression_depth:
            continue  # expression bodies (M, DAX) may align with spaces after their tabs
        if _space_indented(line):
            found.append((file, f"line {number}", "indented with spaces; TMDL indents with tabs"))
            continue
        expression_depth = None
        if depth > previous + 1:
            found.append(
                (file, f"line {number}", f"indented {depth} tabs, more than one deeper than the line above")
            )
        previous = depth
        if line.rstrip().endswith("=") or line.strip().endswith("```"):
            expression_depth = depth
    return found


def _top_declaration(file: Path, lines: list[str], keyword: str) -> list[Finding]:
    significant = _significant(lines)
    if not significant:
        return [(file, "", f"empty file: expected '{keyword} <name>'")]
    number, first = significant[0]
    match = _DECLARATION.match(first)
    if match is None or match.group("keyword") != keyword or match.group("rest").strip():
        return [
            (file, f"line {number}", f"the file must start with '{keyword} <name>' (quote names with spaces)")
        ]
    # Space-indented lines are reported once, by _indentation, not again as top-level ones.
    top_level = [
        n
        for n, line in significant[1:]
        if not line[0].isspace() and not line.startswith(("ref ", "annotation "))
    ]
    if keyword == "table":
        return [(file, f"line {n}", "only the table declaration belongs at the top level") for n in top_level]
    return []


def _expression_body(lines: list[str]) -> set[int]:
    """Line numbers inside multi-line expressions (M, DAX): their text is code, not TMDL declarations."""
    inside: set[int] = set()
    opened_at: int | None = None
    for number, line in _significant(lines):
        depth = _depth(line)
        if opened_at is not None and (depth > opened_at or _space_indented(line)):
            inside.add(number)
            continue
        opened_at = depth if line.rstrip().endswith("=") or line.strip().endswith("```") else None
    return inside


def _table_children(file: Path, lines: list[str]) -> list[Finding]:
    found: list[Finding] = []
    body = _expression_body(lines)
    for number, line in _significant(lines):
        if number in body:
            continue  # "measure 'x' = 1" inside a DAX expression is code, not a declaration
        keyword = line.strip().split(" ", 1)[0]
        if keyword not in _TABLE_CHILDREN or _space_indented(line):
            continue
        if _depth(line) != 1:
            found.append((file, f"line {number}", f"a {keyword} is declared one tab in, under its table"))
        elif not _is_declaration(line.strip()):
            found.append(
                (file, f"line {number}", f"{keyword} name must be quoted when it holds spaces or . = : '")
            )
    return found


def _is_declaration(text: str) -> bool:
    """``column 'Home Region'`` or ``measure Rate = ...``: a name, then nothing or an expression."""
    match = _DECLARATION.match(text)
    return match is not None and match.group("rest").strip()[:1] in ("", "=")


def _declared_name(lines: list[str]) -> str | None:
    significant = _significant(lines)
    match = _DECLARATION.match(significant[0][1]) if significant else None
    return _unquote(match.group("name")) if match else None


def _table_refs(file: Path, lines: list[str], tables: set[str]) -> list[Finding]:
    found: list[Finding] = []
    for number, line in _significant(lines):
        match = _REF_TABLE.match(line.strip())
        if match and _unquote(match.group("name")) not in tables:
            found.append(
                (file, f"line {number}", f"ref table {match.group('name')} names no table in tables/")
            )
    return found


def _columns(lines: list[str]) -> set[str]:
    return {_unquote(m.group("name")) for line in lines if (m := _COLUMN.match(line))}


def _relationship_ends(file: Path, lines: list[str], columns: dict[str, set[str]]) -> list[Finding]:
    found: list[Finding] = []
    for number, line in _significant(lines):
        if not line[0].isspace():
            match = _DECLARATION.match(line)
            if match is None or match.group("keyword") != "relationship" or match.group("rest").strip():
                found.append((file, f"line {number}", "expected 'relationship <name>' at the top level"))
            continue
        end = _RELATIONSHIP_END.match(line)
        if end is None:
            if line.strip().startswith(("fromColumn:", "toColumn:")):
                found.append((file, f"line {number}", "a relationship end is written table.column"))
            continue
        table, column = _unquote(end.group("table")), _unquote(end.group("column"))
        written = f"{end.group('end')} {end.group('table')}.{end.group('column')}"
        if table not in columns:
            found.append((file, f"line {number}", f"{written} names no table in tables/"))
        elif column not in columns[table]:
            found.append((file, f"line {number}", f"{written} names no column of table {table}"))
    return found


def _unquote(name: str) -> str:
    return name[1:-1].replace("''", "'") if name.startswith("'") else name
