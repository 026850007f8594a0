"""The package's layering, read from its source: no arrow the design forbids, no cycle between packages.

Go refuses import cycles at compile time; Python needs this test. It parses every module of ``mlspec``
with :mod:`ast`, collects every ``import`` and ``from ... import`` (those inside functions too: a lazy
import is still a dependency, it only runs later), maps each module to its layer and fails, naming
``importer → imported (file:line)``, on

- an arrow the design forbids (``FORBIDDEN``): data flows spec → checks → resource graph → renderers →
  plan → providers → CLI, and a later stage never reaches back (``/work/shared/design/style.md``);
- a cycle between the top-level packages and modules (``spec_schema``, ``compiler``, ``plan``,
  ``providers``, ``runtime``, ``reporters``, ``api``, ``cli``, ``cli_state``...).

There is no exceptions list, on purpose: an arrow the design forbids is fixed, or the design changes here.

Imports under ``if TYPE_CHECKING:`` are skipped: they never run, so they cannot form an import cycle, and
they name a type for mypy rather than use a stage's behaviour.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "mlspec"
CLI_LAYER = "cli"


@dataclass(frozen=True)
class ModuleSource:
    """One module's text, its dotted name and the file it came from (relative to the repository)."""

    name: str
    text: str
    file: str
    is_package: bool = False


@dataclass(frozen=True)
class ImportArrow:
    """One import statement's dependency of ``importer`` on ``imported`` (both dotted module names)."""

    importer: str
    imported: str
    file: str
    line: int
    names: tuple[str, ...] = ()  # what a ``from`` import takes from the module, for the reader

    def __str__(self) -> str:
        taken = f" [{', '.join(self.names)}]" if self.names else ""
        return f"{self.importer} → {self.imported} ({self.file}:{self.line}){taken}"


@dataclass(frozen=True)
class Rule:
    """Modules of layer ``importer`` must not import modules of the layers in ``imported``."""

    importer: str
    imported: frozenset[str]
    why: str

    @property
    def id(self) -> str:
        return f"{self.importer} -> {'|'.join(sorted(self.imported))}"


# The target design (issue 10). The deploy contract (Address, Payload, ResourceState, the manifest's
# types) moves out of `compiler/graph.py` into a small package below plan and providers: with it, plan
# and providers need nothing from the compiler, so neither may import it at all.
FORBIDDEN = (
    Rule(
        "spec_schema",
        frozenset({"compiler", "plan", "providers", "runtime", "api"}),
        "the spec is the first stage: it knows nothing of what is made of it",
    ),
    Rule(
        "compiler",
        frozenset({"plan", "providers", "api"}),
        "the compiler renders artifacts and the manifest; deploying reads them, never the reverse",
    ),
    Rule(
        "plan",
        frozenset({"spec_schema", "compiler", "api"}),
        "plan takes a manifest (the contract package), never the YAML, the compiler or the API that drives it",
    ),
    Rule(
        "providers",
        frozenset({"plan", "compiler", "spec_schema", "api"}),
        "providers depend on the contract package only (Terraform's providers import neither states nor plans)",
    ),
)


def layer_of(module: str) -> str:
    """``mlspec.compiler.graph`` → ``compiler``; every ``mlspec.cli*`` module and ``__main__`` → ``cli``."""
    unit = unit_of(module)
    return CLI_LAYER if unit == CLI_LAYER or unit.startswith("cli_") or unit == "__main__" else unit


def unit_of(module: str) -> str:
    """The top-level package or module that ``module`` belongs to: the nodes of the cycle check."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def package_sources(package_dir: Path, root: Path) -> dict[str, ModuleSource]:
    """Every ``.py`` module under ``package_dir``, by dotted name."""
    sources: dict[str, ModuleSource] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        sources[name] = ModuleSource(
            name, path.read_text(encoding="utf-8"), path.relative_to(root).as_posix(), is_package
        )
    return sources


def import_graph(sources: Mapping[str, ModuleSource]) -> list[ImportArrow]:
    """Every arrow from one module of ``sources`` to another (standard library and third parties left out)."""
    known = set(sources)
    return [arrow for source in sources.values() for arrow in _arrows_of(source, known)]


def _arrows_of(source: ModuleSource, known: set[str]) -> Iterator[ImportArrow]:
    tree = ast.parse(source.text, filename=source.file)
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _known_prefix(alias.name, known)
                if target is not None:
                    yield ImportArrow(source.name, target, source.file, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, source)
            taken: dict[str, list[str]] = {}
            for alias in node.names:
                # `from mlspec import api` imports the module mlspec.api; `from mlspec.api import load` a name.
                submodule = f"{base}.{alias.name}"
                target = submodule if submodule in known else _known_prefix(base, known)
                if target is not None:
                    taken.setdefault(target, []).extend([] if target == submodule else [alias.name])
            for target, names in taken.items():
                yield ImportArrow(source.name, target, source.file, node.lineno, tuple(names))


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except what sits under ``if TYPE_CHECKING:`` (its ``else:`` does run)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(node: ast.ImportFrom, source: ModuleSource) -> str:
    """The module a ``from`` import names, relative imports resolved against the importing module."""
    if not node.level:
        return node.module or ""
    package = source.name.split(".") if source.is_package else source.name.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _known_prefix(dotted: str, known: set[str]) -> str | None:
    """``mlspec.compiler.graph.Address`` → ``mlspec.compiler.graph``; ``None`` outside the package."""
    parts = dotted.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def forbidden_arrows(arrows: Iterable[ImportArrow], rule: Rule) -> list[ImportArrow]:
    found = [
        a for a in arrows if layer_of(a.importer) == rule.importer and layer_of(a.imported) in rule.imported
    ]
    return sorted(found, key=_in_file_order)


def arrows_into_the_cli(arrows: Iterable[ImportArrow]) -> list[ImportArrow]:
    """The library never imports the command line: the CLI is the thin layer on top of it."""
    found = [a for a in arrows if layer_of(a.importer) != CLI_LAYER and layer_of(a.imported) == CLI_LAYER]
    return sorted(found, key=_in_file_order)


def _in_file_order(arrow: ImportArrow) -> tuple[str, int, str]:
    return (arrow.file, arrow.line, arrow.imported)


def unit_cycles(arrows: Iterable[ImportArrow]) -> list[list[ImportArrow]]:
    """Per cycle between top-level units (a strongly connected component of two or more): its arrows."""
    between = [a for a in arrows if unit_of(a.importer) != unit_of(a.imported)]
    edges: dict[str, set[str]] = {}
    for a in between:
        edges.setdefault(unit_of(a.importer), set()).add(unit_of(a.imported))
    cycles = []
    for component in _strongly_connected(edges):
        if len(component) > 1:
            inside = [
                a for a in between if unit_of(a.importer) in component and unit_of(a.imported) in component
            ]
            cycles.append(
                sorted(inside, key=lambda a: (unit_of(a.importer), unit_of(a.imported), _in_file_order(a)))
            )
    return cycles


def _strongly_connected(edges: Mapping[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm (recursive: the graph has a few dozen nodes)."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = lowest[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(edges.get(node, ())):
            if successor not in index:
                visit(successor)
                lowest[node] = min(lowest[node], lowest[successor])
            elif successor in on_stack:
                lowest[node] = min(lowest[node], index[successor])
        if lowest[node] == index[node]:
            component: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted({*edges, *(t for targets in edges.values() for t in targets)}):
        if node not in index:
            visit(node)
    return components


def _listing(arrows: Iterable[ImportArrow]) -> str:
    return "\n".join(f"  {arrow}" for arrow in arrows)


# --- the package as it is ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def arrows() -> list[ImportArrow]:
    return import_graph(package_sources(ROOT / PACKAGE, ROOT))


@pytest.mark.parametrize("rule", FORBIDDEN, ids=lambda rule: rule.id)
def test_no_stage_imports_a_layer_the_design_puts_after_it(rule: Rule, arrows: list[ImportArrow]) -> None:
    found = forbidden_arrows(arrows, rule)
    if found:
        pytest.fail(f"{len(found)} forbidden arrow(s) {rule.id} ({rule.why}):\n{_listing(found)}")


def test_the_library_never_imports_the_cli(arrows: list[ImportArrow]) -> None:
    found = arrows_into_the_cli(arrows)
    if found:
        pytest.fail(f"{len(found)} arrow(s) from the library into the CLI:\n{_listing(found)}")


def test_no_cycle_between_top_level_packages(arrows: list[ImportArrow]) -> None:
    cycles = unit_cycles(arrows)
    described = "\n".join(
        f"cycle {' ⇄ '.join(sorted({unit_of(a.importer) for a in cycle}))}:\n{_listing(cycle)}"
        for cycle in cycles
    )
    if cycles:
        pytest.fail(f"{len(cycles)} cycle(s) between top-level packages:\n{described}")


def test_the_graph_sees_the_package_s_real_arrows(arrows: list[ImportArrow]) -> None:
    """Guards the guard: a builder that found nothing would pass every test above."""
    # mlspec.cli imports the API inside its commands only: a lazy import the builder must see.
    assert any(a.importer == "mlspec.cli" and a.imported == "mlspec.api" for a in arrows)
    assert any(
        a.importer.startswith("mlspec.compiler.") and layer_of(a.imported) == "spec_schema" for a in arrows
    )
    assert len({unit_of(a.importer) for a in arrows}) >= 8


# --- the graph builder catches what it must ------------------------------------------------------------


def _synthetic(**modules: str) -> dict[str, ModuleSource]:
    """Modules given as ``mlspec__plan__state="text"`` (``__`` for a dot); ``__init`` marks a package."""
    sources = {}
    for key, text in modules.items():
        is_package = key.endswith("__init")
        name = key.removesuffix("__init").replace("__", ".")
        file = name.replace(".", "/") + ("/__init__.py" if is_package else ".py")
        sources[name] = ModuleSource(name, text, file, is_package)
    return sources


PLANTED = _synthetic(
    mlspec__init="",
    mlspec__plan__init="",
    mlspec__plan__state="class ResourceState: ...\n",
    mlspec__providers__init="",
    mlspec__providers__base=(
        "import json\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from mlspec.compiler.graph import Address\n"
        "def read():\n"
        "    from ..plan.state import ResourceState\n"  # lazy and relative: still an arrow
        "    return ResourceState\n"
    ),
    mlspec__compiler__init="",
    mlspec__compiler__graph="from mlspec import cli_state\n",
    mlspec__cli_state="import mlspec.compiler.graph\n",
)


def test_a_planted_lazy_relative_import_is_a_forbidden_arrow_at_its_line() -> None:
    graph = import_graph(PLANTED)
    providers_rule = next(rule for rule in FORBIDDEN if rule.importer == "providers")
    found = forbidden_arrows(graph, providers_rule)
    assert [str(a) for a in found] == [
        "mlspec.providers.base → mlspec.plan.state (mlspec/providers/base.py:6) [ResourceState]"
    ]


def test_type_checking_imports_are_not_arrows_but_their_else_branch_is() -> None:
    sources = _synthetic(
        mlspec__init="",
        mlspec__plan="",
        mlspec__api=(
            "import typing\n"
            "if typing.TYPE_CHECKING:\n"
            "    import mlspec.plan\n"
            "else:\n"
            "    from mlspec import plan\n"
        ),
    )
    assert [(a.imported, a.line) for a in import_graph(sources)] == [("mlspec.plan", 5)]


def test_a_module_importing_the_cli_and_a_package_cycle_are_both_caught() -> None:
    graph = import_graph(PLANTED)
    assert [str(a) for a in arrows_into_the_cli(graph)] == [
        "mlspec.compiler.graph → mlspec.cli_state (mlspec/compiler/graph.py:1)"
    ]
    cycles = unit_cycles(graph)
    assert [[str(a) for a in cycle] for cycle in cycles] == [
        [
            "mlspec.cli_state → mlspec.compiler.graph (mlspec/cli_state.py:1)",
            "mlspec.compiler.graph → mlspec.cli_state (mlspec/compiler/graph.py:1)",
        ]
    ]


def test_arrows_one_way_are_no_cycle() -> None:
    one_way = _synthetic(
        mlspec__init="", mlspec__api="from mlspec.plan import run\n", mlspec__plan="run = 1\n"
    )
    graph = import_graph(one_way)
    assert [str(a) for a in graph] == ["mlspec.api → mlspec.plan (mlspec/api.py:1) [run]"]
    assert unit_cycles(graph) == []
