"""Read ``mlproject.yaml`` into plain data, rejecting what YAML lets through but a spec must not.

The fast path is libyaml's C parser (``yaml.CSafeLoader``) composing a node tree and a
thin constructor turning it into dicts, lists and scalars. The node tree is kept: it is
how :meth:`SpecDocument.locate` finds a ``line:col`` for a spec path, and it is walked
only when there is something to report.

Rejected, each with a location and a hint: files over :data:`MAX_SPEC_BYTES`, bytes that
are not UTF-8, tabs in indentation, duplicate keys, non-string keys, aliases that expand
past :data:`MAX_EXPANDED_NODES` (YAML bombs), nesting past :data:`MAX_NESTING_DEPTH`,
several documents in one file, a top level that is not a mapping, scalars PyYAML cannot build.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from mlspec.diagnostics import Diagnostic, Location, MlspecError, Severity, SpecPath
from mlspec.project_files import FileTooLargeError, read_regular_file

MAX_SPEC_BYTES = 8 * 1024 * 1024
"""A spec is a page or two of YAML; a project of 5,000 transforms is about 1.3 MB; 8 MB is a mistake or
an attack."""

MAX_EXPANDED_NODES = 20_000
"""Nodes the document may hold once every alias is expanded (a real spec has a few hundred)."""

MAX_NESTING_DEPTH = 100
"""Collections inside collections (a real spec nests about eight). libyaml composes nodes
recursively in C: tens of thousands of levels overflow the C stack and kill the process."""

_MAX_INT_BITS = 1024
"""Integers past this cannot be printed (Python refuses ``str()`` of very long numbers)."""

_QUOTE_IT = "quote the value to keep it as text"

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_TAB_IN_INDENT = re.compile(r"^[ ]*\t", re.MULTILINE)
_ANCHOR = re.compile(r"(?:^|[\s\[{,])&[^\s,\[\]{}]")


@dataclass
class SpecDocument:
    """A loaded spec file: its data and the YAML nodes that say where each value was written."""

    file: str
    data: dict[str, Any]
    root: yaml.MappingNode
    text: str = field(repr=False)
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """Results that depend on the document alone, computed once for all its environments."""

    def locate(self, path: SpecPath, *, at_key: bool = False) -> Location:
        """The location of ``path``, or of its deepest existing ancestor.

        With ``at_key`` the location of the last mapping key rather than of its value
        (for "unknown field" errors, the user wants the key underlined).
        """
        node: yaml.Node = self.root
        for index, part in enumerate(path):
            child = _child(node, part, want_key=at_key and index == len(path) - 1)
            if child is None:
                break
            node = child
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def locate_in_scalar(self, path: SpecPath, offset: int) -> Location:
        """The location of character ``offset`` of the string at ``path`` (e.g. a ``${...}`` in it).

        Exact for one-line plain or quoted scalars and for literal blocks (``|``); elsewhere (folded
        or multi-line flow scalars, escapes) the scalar's own start.
        """
        start = self.locate(path)
        node: yaml.Node | None = self.root
        for part in path:
            node = _child(node, part, want_key=False) if node is not None else None
        if not isinstance(node, yaml.ScalarNode) or offset <= 0:
            return start
        value = node.value
        if node.style in (None, "", "'", '"') and node.start_mark.line == node.end_mark.line:
            if node.style == '"' and "\\" in self.text[node.start_mark.index : node.end_mark.index]:
                return start  # escapes make source and value columns differ
            if node.style == "'" and "''" in value[:offset]:
                return start
            quote = 1 if node.style else 0
            return Location(self.file, start.line, start.column + quote + offset)
        if node.style == "|":
            line_in_block = value.count("\n", 0, offset)
            column_in_line = offset - (value.rfind("\n", 0, offset) + 1)
            lines = self.text.splitlines()
            first = node.start_mark.line + 1
            indent = next(
                (
                    len(line) - len(line.lstrip(" "))
                    for line in lines[first : node.end_mark.line + 1]
                    if line.strip()
                ),
                0,
            )
            return Location(self.file, first + line_in_block + 1, indent + column_in_line + 1)
        return start


def _child(node: yaml.Node, part: str | int, *, want_key: bool) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        # Last match wins, as it does when the mapping is constructed (merge keys come first).
        for key_node, value_node in reversed(node.value):
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                return key_node if want_key else value_node
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    return None


class _Position(Protocol):
    """What a problem needs of a mark: PyYAML's ``yaml.Mark`` and libyaml's event marks both have it."""

    @property
    def line(self) -> int: ...

    @property
    def column(self) -> int: ...


@dataclass(frozen=True)
class _Spot:
    line: int
    column: int


class _LoadProblem(Exception):
    def __init__(self, code: str, message: str, mark: _Position | None, hint: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.mark, self.hint = code, message, mark, hint


_TAG_OF_PLAIN_SCALAR: dict[str, str] = {}
"""Memo of implicit tag resolution: the same keys and values recur in every spec of a monorepo."""


class _SpecConstructor(yaml.CSafeLoader):
    """libyaml's parser with a constructor that refuses duplicate and non-string keys."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        # libyaml calls back into Python for every node; for plain scalars the answer depends only
        # on the text (this loader has no path resolvers), so remember it.
        if kind is yaml.ScalarNode and implicit[0]:
            tag = _TAG_OF_PLAIN_SCALAR.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
                if len(_TAG_OF_PLAIN_SCALAR) < 100_000:
                    _TAG_OF_PLAIN_SCALAR[value] = tag
            return tag
        if kind is yaml.ScalarNode:
            return _STR_TAG
        return _MAP_TAG if kind is yaml.MappingNode else _SEQ_TAG

    # libyaml calls these around every node for path resolvers, which this loader never adds:
    # doing nothing at once is about a tenth of a spec's parse.
    def descend_resolver(self, current_node: yaml.Node | None, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # PyYAML's scalar constructors raise plain ValueError & co. for values their regexes
        # accept (2024-02-30, 0x_, !!int abc): report them at the value, not as a crash.
        try:
            value = super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            shown = repr(node.value) if isinstance(node, yaml.ScalarNode) else "this value"
            tag = str(node.tag).rsplit(":", 1)[-1]
            message = f"{shown} is not a valid {tag}"
            raise _LoadProblem("MLS001", message, node.start_mark, _QUOTE_IT) from exc
        if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
            raise _LoadProblem("MLS001", "the number is too large", node.start_mark, _QUOTE_IT)
        return value

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.check_mapping_keys(node)
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            mapping[self.construct_object(key_node, deep=deep)] = self.construct_object(value_node, deep=deep)
        return mapping

    def check_mapping_keys(self, node: yaml.MappingNode) -> None:
        """Refuse non-string and duplicate keys (``<<`` merge keys aside)."""
        seen: dict[str, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag == _STR_TAG):
                shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "a collection"
                raise _LoadProblem(
                    "MLS003",
                    f"mapping key {shown!r} is not a string",
                    key_node.start_mark,
                    f'quote the key ("{shown}"): YAML reads unquoted true/false/yes/no/on/off, '
                    "numbers, dates and null as other types",
                )
            if key_node.value in seen:
                first = seen[key_node.value].start_mark
                raise _LoadProblem(
                    "MLS002",
                    f"duplicate key {key_node.value!r} (first defined at line {first.line + 1})",
                    key_node.start_mark,
                    "remove one of the two entries; YAML would silently keep only the last",
                )
            seen[key_node.value] = key_node


def load_spec(path: Path | str) -> SpecDocument:
    """Read and parse one spec file; raise :class:`MlspecError` with located diagnostics."""
    file = str(path)
    try:
        # Bounded and regular files only: a FIFO would block, /dev/zero never ends, /proc lies about sizes.
        raw = read_regular_file(path, limit=MAX_SPEC_BYTES)
    except FileTooLargeError:
        raise MlspecError(
            [
                _diag(
                    "MLS005",
                    f"the spec is larger than {MAX_SPEC_BYTES // 1024} KiB",
                    file,
                    (1, 1),
                    "a spec describes a project in a few hundred lines; keep data and code in their own files",
                )
            ]
        ) from None
    except OSError as exc:
        raise MlspecError(
            [_diag("MLS000", f"cannot read the spec: {exc.strerror or exc}", file, None)]
        ) from None
    return parse_spec(raw, file)


def parse_spec(raw: bytes | str, file: str = "<string>") -> SpecDocument:
    """Parse spec text (``bytes`` are decoded as strict UTF-8)."""
    text = _decode(raw, file) if isinstance(raw, bytes) else raw
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES:
        raise MlspecError(
            [_diag("MLS005", f"the spec is larger than {MAX_SPEC_BYTES // 1024} KiB", file, (1, 1))]
        )
    loader = _SpecConstructor(text)
    try:
        try:
            if _nesting_bound(text) > MAX_NESTING_DEPTH:
                _check_nesting(text)
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            # A tab in indentation is the usual cause of "cannot start any token": say so, but only
            # for a tab on the line libyaml stopped at (a tab inside a SQL block above is content).
            line = exc.problem_mark.line if exc.problem_mark else None
            raise (_tab_in_indentation(text, None, only_line=line) or _syntax_problem(exc, text)) from exc
        tab_problem = _tab_in_indentation(text, root)
        if tab_problem is not None:
            raise tab_problem
        if root is None:
            raise _LoadProblem("MLS008", "the spec is empty", None, "start from `mlspec init NAME`")
        if not isinstance(root, yaml.MappingNode):
            raise _LoadProblem(
                "MLS008",
                "the spec's top level must be a mapping (apiVersion:, project:, ...)",
                root.start_mark,
            )
        # No anchor, no alias: the common case skips the walk (and, with no `&` at all, the regex).
        if "&" in text and _ANCHOR.search(text):
            _check_alias_expansion(root)
        data = _construct(loader, root, merge_keys="<<" in text or "merge" in text)
    except _LoadProblem as problem:
        where = (problem.mark.line + 1, problem.mark.column + 1) if problem.mark else (1, 1)
        raise MlspecError([_diag(problem.code, problem.message, file, where, problem.hint)]) from None
    except yaml.MarkedYAMLError as exc:  # constructor errors (bad timestamps, unknown tags)
        syntax = _syntax_problem(exc, text)
        where = (syntax.mark.line + 1, syntax.mark.column + 1) if syntax.mark else (1, 1)
        raise MlspecError([_diag(syntax.code, syntax.message, file, where, syntax.hint)]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML forbids (control characters, U+FFFE)
        # libyaml reads the text as UTF-8: ``position`` counts bytes.
        before = text.encode("utf-8", "surrogatepass")[: exc.position].decode("utf-8", "replace")
        where = (before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1)
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"YAML syntax error: unacceptable character #x{code:04x}: {exc.reason}"
        hint = "remove it; inside double quotes a control character can be written as an escape (\\x07)"
        raise MlspecError([_diag("MLS001", message, file, where, hint)]) from None
    except RecursionError:
        raise MlspecError(
            [_diag("MLS001", "YAML syntax error: the document is nested too deeply", file, (1, 1))]
        ) from None
    finally:
        loader.dispose()
    return SpecDocument(file=file, data=data, root=root, text=text)


def _construct(loader: _SpecConstructor, root: yaml.Node, *, merge_keys: bool = True) -> Any:
    """Nodes to Python values. Strings, maps and lists (nearly every node) are built here directly;
    other scalars (int, float, bool, null, timestamps) go through PyYAML's safe constructors. This is
    about three times faster than ``construct_document``'s generic machinery. ``merge_keys`` false
    says the text holds no ``<<`` (nor a ``merge`` tag), so no mapping is looked at for one."""
    return _build(root, loader, {}, merge_keys)


def _build(node: yaml.Node, loader: _SpecConstructor, built: dict[int, Any], merge_keys: bool) -> Any:
    """One node's value; ``built`` (by node id) makes an alias the same object as its anchor.

    A module function, not a closure over ``built``: a recursive closure is a reference cycle, which
    would keep every document's node tree alive until the garbage collector's next full pass."""
    key = id(node)
    if key in built:
        return built[key]
    if node.__class__ is yaml.ScalarNode:
        value = node.value if node.tag == _STR_TAG else loader.construct_object(node, deep=True)
    elif isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
        value = {}
        built[key] = value
        if merge_keys and any(k.tag == _MERGE_TAG for k, _ in node.value):
            value.update(loader.construct_mapping(node, deep=True))
            return value
        for key_node, value_node in node.value:
            name = key_node.value
            if key_node.tag != _STR_TAG or name in value:
                loader.check_mapping_keys(node)  # raises MLS002/MLS003 at the first such key
            # Plain strings are most leaves: take them without a call.
            if value_node.__class__ is yaml.ScalarNode and value_node.tag == _STR_TAG:
                value[name] = value_node.value
            else:
                value[name] = _build(value_node, loader, built, merge_keys)
        return value
    elif isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
        value = []
        built[key] = value
        value.extend(_build(item, loader, built, merge_keys) for item in node.value)
        return value
    else:
        value = loader.construct_object(node, deep=True)
    built[key] = value
    return value


def _decode(raw: bytes, file: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # ``exc.start`` counts from after the BOM; columns count characters, like every other location.
        body = raw[len(codecs.BOM_UTF8) :] if raw.startswith(codecs.BOM_UTF8) else raw
        offset = exc.start
        line_start = body.rfind(b"\n", 0, offset) + 1
        line = body.count(b"\n", 0, offset) + 1
        column = len(body[line_start:offset].decode("utf-8", "replace")) + 1
        raise MlspecError(
            [
                _diag(
                    "MLS006",
                    f"the spec is not valid UTF-8 (byte 0x{body[offset]:02x})",
                    file,
                    (line, column),
                    "save the file as UTF-8",
                )
            ]
        ) from None


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> _LoadProblem:
    mark = exc.problem_mark or exc.context_mark
    message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
    hint = None
    if mark is not None:
        line_text = text.splitlines()[mark.line] if mark.line < len(text.splitlines()) else ""
        if "\t" in message or "'\\t'" in message:
            return _LoadProblem(
                "MLS007", "tab character in indentation", mark, "indent YAML with spaces, never tabs"
            )
        if "${" in line_text and not re.search(r"""["']\$\{""", line_text):
            hint = (
                'quote the value ("${...}"): inside a flow collection ({...} or [...]) '
                "`{` and `}` are YAML syntax, so an unquoted ${...} breaks the line"
            )
    if exc.problem and "found duplicate anchor" in exc.problem:
        hint = "give each anchor (&name) a distinct name"
    return _LoadProblem("MLS001", f"YAML syntax error: {message}", mark, hint)


def _tab_in_indentation(
    text: str, root: yaml.Node | None, *, only_line: int | None = None
) -> _LoadProblem | None:
    """A tab in leading whitespace (on ``only_line`` if given), unless it is block scalar content (SQL)."""
    if "\t" not in text:
        return None
    block_content: dict[int, int] = {}  # line (0-based) -> indentation that starts the content
    if root is not None:
        for node in _walk_nodes(root):
            if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
                content_indent = node.start_mark.column + 1
                for line in range(node.start_mark.line + 1, node.end_mark.line + 1):
                    block_content[line] = content_indent
    for match in _TAB_IN_INDENT.finditer(text):
        line = text.count("\n", 0, match.start())
        spaces = match.end() - match.start() - 1
        if only_line is not None and line != only_line:
            continue
        if line in block_content and spaces >= 1:
            continue  # a tab after the block's own space indentation is content
        hint = "indent YAML with spaces, never tabs"
        return _LoadProblem("MLS007", "tab character in indentation", _Spot(line, spaces), hint)
    return None


_BLOCK_PREFIX = re.compile(r"^[ ?-]*", re.MULTILINE)


def _nesting_bound(text: str) -> int:
    """A cheap upper bound of the nesting depth, so the exact (second-parse) check runs only when needed.

    A block collection nests only under more indentation or a `-`/`?` indicator, so the longest
    run of those at a line start bounds block depth; every flow level needs a `[` or `{`.
    """
    block = max((len(m) for m in _BLOCK_PREFIX.findall(text)), default=0)
    return block + 1 + text.count("[") + text.count("{")


def _check_nesting(text: str) -> None:
    """Refuse documents nested past :data:`MAX_NESTING_DEPTH`, before libyaml composes them."""
    parser = yaml.CBaseLoader(text)
    depth = 0
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING_DEPTH:
                    raise _LoadProblem(
                        "MLS001",
                        "YAML syntax error: the document is nested too deeply",
                        event.start_mark,
                        f"a spec nests a handful of levels; more than {MAX_NESTING_DEPTH} is refused",
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    finally:
        parser.dispose()


def _walk_nodes(root: yaml.Node) -> Iterator[yaml.Node]:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _check_alias_expansion(root: yaml.Node) -> None:
    """Refuse documents whose aliases expand past the budget (a "billion laughs" bomb).

    Sizes are memoised per node, so the check is linear in the nodes actually written even
    when the expansion is exponential.
    """
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    first_alias: list[yaml.Node] = []
    seen_once: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in seen_once and not first_alias:
            first_alias.append(node)
        seen_once.add(key)
        if key in sizes:
            return sizes[key]
        if key in in_progress:
            raise _LoadProblem("MLS004", "an alias refers to itself (recursive structure)", node.start_mark)
        in_progress.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
                if total > MAX_EXPANDED_NODES:
                    break
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item)
                if total > MAX_EXPANDED_NODES:
                    break
        in_progress.discard(key)
        sizes[key] = total
        return total

    if size(root) > MAX_EXPANDED_NODES:
        mark = first_alias[0].start_mark if first_alias else root.start_mark
        raise _LoadProblem(
            "MLS004",
            f"anchors and aliases expand to more than {MAX_EXPANDED_NODES} nodes",
            mark,
            "aliases that nest other aliases grow exponentially; write the values out or use fewer levels",
        )


def _diag(
    code: str, message: str, file: str, where: tuple[int, int] | None, hint: str | None = None
) -> Diagnostic:
    location = Location(file, where[0], where[1]) if where else Location(file, 1, 1)
    return Diagnostic(code, Severity.ERROR, message, (), location, hint)
