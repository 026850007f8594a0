"""docs/spec.md documents every field of the spec (issue 9, item 7).

The reference is checked against the pydantic models, so a field added to the models without a line
in the docs fails here, naming it. A field ``deployment.rollout.canary_percent`` counts as documented
when, in the section of its top-level key (``## `deployment` ...``, or a heading whose first word is
the key, as ``## Reports``):

- its dotted path appears in backticks (``rollout.canary_percent``, or the whole path anywhere in the
  page; ``[]``, ``[<i>]`` and ``<name>`` parts are ignored, so ``transforms.<t>.output.mode`` names
  ``transforms.output.mode``), or
- it is backticked on its own (``canary_percent`` or ``canary_percent: 10``) under a heading naming
  its parent (``### `deployment.rollout` ``), or anywhere in the section for a field directly under the
  top-level key.

Every allowed value of every enumerated field (formats, strategies, alert signals, metrics, ...)
appears in backticks in its section, each alert signal in a row of the signals table, and each task's
metrics on one line that names the task.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel

from mlspec.spec_schema.models import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    MLProject,
    Signal,
)

DOCS = Path(__file__).resolve().parents[1] / "docs"
SPEC_DOC = DOCS / "spec.md"
LIST_ITEM, MAP_VALUE = "[]", "<name>"

CODE_SPAN = re.compile(r"`([^`\n]+)`")
HEADING = re.compile(r"^(#{2,6}) (.*)$")
DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
PLACEHOLDER = re.compile(r"\[[^\]]*\]|<[^>]*>\.?|\*\.")
"""``[]``, ``[0]``, ``[<i>]``, ``<t>.`` and ``*.`` parts of a dotted path in the docs."""


# --- the models -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldPath:
    parts: tuple[str, ...]
    """``("monitoring", "alerts", "[]", "features")``: YAML keys, list items ``[]``, map values ``<name>``."""
    literals: tuple[str, ...]
    """The allowed values when the field is an enumeration."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p for p in self.parts if p not in (LIST_ITEM, MAP_VALUE))

    def __str__(self) -> str:
        shown = ""
        for part in self.parts:
            if part == LIST_ITEM:
                shown += part
            else:
                shown += ("." if shown else "") + part
        return shown


def _unwrapped(annotation: Any) -> list[Any]:
    """The types an annotation is made of, through ``Annotated`` and unions."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrapped(get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in get_args(annotation) for t in _unwrapped(arg)]
    return [annotation]


def _nested_models(annotation: Any) -> Iterator[tuple[tuple[str, ...], type[BaseModel]]]:
    """``(path suffix, model)`` for each model inside a field's type (``[]`` for list items)."""
    for kind in _unwrapped(annotation):
        origin = get_origin(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield (), kind
        elif origin is list:
            for suffix, model in _nested_models(get_args(kind)[0]):
                yield (LIST_ITEM, *suffix), model
        elif origin is dict:
            for suffix, model in _nested_models(get_args(kind)[1]):
                yield (MAP_VALUE, *suffix), model


def _literals(annotation: Any) -> tuple[str, ...]:
    found: list[str] = []
    for kind in _unwrapped(annotation):
        origin = get_origin(kind)
        if origin is Literal:
            found += [str(value) for value in get_args(kind)]
        elif origin in (list, dict):
            found += _literals(get_args(kind)[-1])
    return tuple(dict.fromkeys(found))


def field_paths(model: type[BaseModel] = MLProject, prefix: tuple[str, ...] = ()) -> Iterator[FieldPath]:
    for name, info in model.model_fields.items():
        path = (*prefix, info.alias or name)
        yield FieldPath(path, _literals(info.annotation))
        for suffix, nested in dict.fromkeys(_nested_models(info.annotation)):
            yield from field_paths(nested, (*path, *suffix))


# --- the docs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    level: int
    heading: str
    lines: tuple[str, ...]
    """The heading's own text up to the next heading of the same or a higher level."""

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def sections(text: str) -> list[Section]:
    lines = text.splitlines()
    starts = [(i, len(m[1]), m[2]) for i, line in enumerate(lines) if (m := HEADING.match(line))]
    found = []
    for n, (start, level, heading) in enumerate(starts):
        end = next((s for s, lvl, _ in starts[n + 1 :] if lvl <= level), len(lines))
        found.append(Section(level, heading, tuple(lines[start + 1 : end])))
    return found


def code_spans(text: str) -> list[str]:
    return CODE_SPAN.findall(text)


def dotted_names(span: str) -> list[tuple[str, ...]]:
    """The dotted names in a code span, placeholders removed: ``a.<b>.c[].d`` → ``(a, c, d)``."""
    return [tuple(name.split(".")) for name in DOTTED_NAME.findall(PLACEHOLDER.sub("", span))]


def _contains(sequence: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    return any(sequence[i : i + len(wanted)] == wanted for i in range(len(sequence) - len(wanted) + 1))


def _names_in(text: str) -> list[tuple[str, ...]]:
    return [name for span in code_spans(text) for name in dotted_names(span)]


@cache
def doc_text() -> str:
    return SPEC_DOC.read_text(encoding="utf-8")


def _heading_names(heading: str, key: str) -> bool:
    """Whether a heading is about ``key``: `` `deployment` ...``, or a word heading (``Reports``)."""
    words = heading.replace("`", "").split()
    return any(name[0] == key for name in _names_in(heading)) or bool(words and words[0].lower() == key)


def top_sections(page: str, key: str) -> list[Section]:
    """The ``##`` sections about the top-level key ``key``."""
    return [s for s in sections(page) if s.level == 2 and _heading_names(s.heading, key)]


def documented(page: str, field: FieldPath) -> bool:
    names = field.names
    if any(names == name[: len(names)] for name in _names_in(page)):
        return True  # the whole dotted path, anywhere in the page
    found = top_sections(page, names[0])
    if len(names) == 1 or not found:
        return bool(found)
    field_name, parent = names[-1], names[-2]
    for section in found:
        if any(_contains(name, (parent, field_name)) for name in _names_in(section.text)):
            return True
        if len(names) == 2 and any(name == (field_name,) for name in _names_in(section.text)):
            return True
        for sub in sections(section.text):
            if any(name[-1] == parent for name in _names_in(sub.heading)) and any(
                name == (field_name,) for name in _names_in(sub.text)
            ):
                return True
    return False


def _section_text(key: str) -> str:
    return "\n".join(s.text for s in top_sections(doc_text(), key))


def _literal_shown(value: str, text: str) -> bool:
    alone = re.compile(rf"(?<![\w<>=/.-]){re.escape(value)}(?![\w<>=/-])")
    return any(alone.search(span) for span in code_spans(text))


# --- the tests ------------------------------------------------------------------------------------


def test_the_model_walk_finds_nested_fields() -> None:
    """The walk itself: list items, map values, aliases and literals (so the doc test means something)."""
    walked = {str(f): f for f in field_paths()}
    assert "deployment.rollout.canary_percent" in walked
    assert "monitoring.alerts[].features" in walked
    assert "transforms.<name>.expectations[].row_count.min" in walked
    assert "sources.<name>.schema" in walked  # the alias, not the attribute name schema_
    assert "apiVersion" in walked and "moved[].from" in walked
    assert set(walked["monitoring.alerts[].signal"].literals) == set(get_args(Signal))
    assert set(walked["model.evaluation.metrics"].literals) == CLASSIFICATION_METRICS | REGRESSION_METRICS


def test_every_field_is_documented() -> None:
    missing = [str(f) for f in field_paths() if not documented(doc_text(), f)]
    assert not missing, (
        f"{len(missing)} spec fields are not documented in {SPEC_DOC.name} (as `field` in backticks in "
        "the section of their top-level key, or as a dotted path):\n  " + "\n  ".join(missing)
    )


def test_every_allowed_value_is_documented() -> None:
    missing = [
        f"{field}: {value}"
        for field in field_paths()
        for value in field.literals
        if not _literal_shown(value, _section_text(field.names[0]))
    ]
    assert not missing, (
        f"allowed values not shown in backticks in their section of {SPEC_DOC.name}:\n  "
        + "\n  ".join(missing)
    )


def test_every_alert_signal_has_a_row_in_the_signals_table() -> None:
    rows = [line for line in _section_text("monitoring").splitlines() if line.startswith("|")]
    missing = [
        signal for signal in get_args(Signal) if not any(f"`{signal}`" in row.split("|")[1] for row in rows)
    ]
    assert not missing, f"alert signals without a row in the monitoring section's signals table: {missing}"


def test_each_tasks_metrics_are_listed_together() -> None:
    lines = _section_text("model").splitlines()
    for task, metrics in (("classification", CLASSIFICATION_METRICS), ("regression", REGRESSION_METRICS)):
        assert any(task in line and all(f"`{metric}`" in line for metric in metrics) for line in lines), (
            f"no line of the model section lists every {task} metric ({', '.join(sorted(metrics))}) with the task"
        )


def test_diagnostic_links_point_at_existing_anchors() -> None:
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', (DOCS / "diagnostics.md").read_text(encoding="utf-8")))
    links = re.findall(r"diagnostics\.md#([\w-]+)", doc_text())
    broken = sorted({link for link in links if link not in anchors})
    assert not broken, f"links from {SPEC_DOC.name} to anchors diagnostics.md does not have: {broken}"


def heading_anchors(page: str) -> set[str]:
    """The anchors GitHub gives the page's headings: lowercase, punctuation dropped, repeats ``-1``, ``-2``."""
    seen: dict[str, int] = {}
    anchors = set()
    for line in page.splitlines():
        match = re.match(r"#{1,6} (.*)$", line)
        if match is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", match[1].strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_links_within_the_page_resolve() -> None:
    page = doc_text()
    anchors = heading_anchors(page)
    broken = sorted({a for a in re.findall(r"\]\(#([^)]+)\)", page) if a not in anchors})
    assert not broken, f"links to headings {SPEC_DOC.name} does not have: {broken}"


def test_the_checker_refuses_an_undocumented_field() -> None:
    """A page that names a field nowhere fails; naming it under its parent's heading passes."""
    field = FieldPath(("deployment", "rollout", "canary_percent"), ())
    page = "## `deployment`: serving\n\n### `deployment.rollout`\n\n| `strategy` | ... |\n"
    assert not documented(page, field)
    assert documented(page + "| `canary_percent` | 1…99 |\n", field)
    assert documented("## `deployment`\n\nSet `rollout.canary_percent`.\n", field)
    assert not documented("## `monitoring`\n\n### `deployment.rollout`\n\n`canary_percent`\n", field)
    assert not documented("## `deployment`\n\n### `deployment.replicas`\n\n`canary_percent`\n", field)
    # A field named only as the parent of another is not documented by it.
    port = FieldPath(("reports", "[]", "workspace"), ())
    assert not documented("## `reports`\n\nSet `workspace.tenant_id`.\n", port)
