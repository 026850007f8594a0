"""Mutated example specs: validate and build end in success or located MLSxxx diagnostics, nothing else.

Each example project (``projects/*/mlproject.yaml``) is mutated the way a careless user or a hostile
contributor would: a scalar replaced by a huge integer, NaN, infinity, a long string, control
characters or a value of the wrong type; a key removed or written twice; a value buried in deep
nesting. Every mutant goes through the library API (:mod:`mlspec.api`) exactly as the CLI calls
it. An exception escaping, an "internal error" (MLS699) or a diagnostic without a code or a
location fails the test, naming the mutation so it can be replayed.

Seeded and deterministic (the same mutants on every run), bounded to well under 30 s.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from collections.abc import Callable, Iterator
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from fuzz.spec_tree import SpecTreePath
from fuzz.spec_tree import parent as container_of
from fuzz.spec_tree import paths as tree_paths
from mlspec import api
from mlspec.diagnostics import Diagnostic, MlspecError

PROJECTS = Path(__file__).resolve().parents[2] / "projects"
EXAMPLES = sorted(p.parent.name for p in PROJECTS.glob("*/mlproject.yaml"))
SEED = 20240613
MUTANTS_PER_PROJECT = 36
CODE = re.compile(r"MLS\d{3}")

HOSTILE_VALUES: tuple[Any, ...] = (
    10**30,
    -(10**30),
    2**63,
    2**64,
    -(2**63) - 1,
    2**32,
    -1,
    0,
    float("nan"),
    float("inf"),
    float("-inf"),
    1e308,
    -0.0,
    "x" * 5000,
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "line\nbreak",
    "\u202eevil",
    "…",
    "",
    " ",
    "${var.nope}",
    "${",
    "../../etc/passwd",
    True,
    None,
    [],
    {},
    [1, [2, [3]]],
    {"nested": {"deeper": 1}},
)

EXTREME_INTS = (10**30, -(10**30), 2**63, 2**64, -(2**63) - 1, 2**32, 2**31, -1, 0)
EXTREME_FLOATS = (float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 5e-324, -0.0)
EXTREME_STRINGS = (
    "x" * 5000,
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "line\nbreak\r\n",
    "\u202eevil\u2066",
    "\u2026 caf\u00e9 \U0001f600",
    "",
    "'\"; DROP TABLE x; --",
    "{{ 7*7 }} ${{x}} $(id) `id`",
    "</script><script>alert(1)</script>",
)
FREE_FORM = (  # mappings whose keys the user chooses: new keys with hostile values go here
    ("model", "training", "params"),
    ("project", "tags"),
    ("variables",),
)

Path_ = SpecTreePath


@dataclass(frozen=True)
class Mutant:
    description: str
    text: str


def _replace(data: dict[str, Any], path: Path_, rng: random.Random) -> str:
    value = deepcopy(rng.choice(HOSTILE_VALUES))
    container_of(data, path)[path[-1]] = value
    return f"set {path} to {value!r:.60}"


def _same_type_extreme(data: dict[str, Any], path: Path_, rng: random.Random) -> str:
    """An extreme value of the type already there: it passes the type checks and reaches the compiler."""
    current = container_of(data, path)[path[-1]]
    if current is None or isinstance(current, bool | dict | list):
        return _replace(data, path, rng)
    pool = (
        EXTREME_INTS
        if isinstance(current, int)
        else EXTREME_FLOATS
        if isinstance(current, float)
        else EXTREME_STRINGS
    )
    value = rng.choice(pool)
    container_of(data, path)[path[-1]] = value
    return f"set {path} to {value!r:.60}"


def _add_free_form_key(data: dict[str, Any], path: Path_, rng: random.Random) -> str:
    target = rng.choice(FREE_FORM)
    try:
        mapping = container_of(data, (*target, "_"))
    except (KeyError, IndexError, TypeError):
        return "nothing (no free-form mapping there)"
    if not isinstance(mapping, dict):
        return "nothing (not a mapping)"
    key = rng.choice(("extra", "x" * 600, "a/b", "k\x07", "\u2026"))
    value = rng.choice((*EXTREME_INTS, *EXTREME_FLOATS, *EXTREME_STRINGS))
    if target == ("variables",):
        value = {"default": value}
    mapping[key] = value
    return f"added {(*target, key)!r:.80} = {value!r:.60}"


def _remove(data: dict[str, Any], path: Path_, rng: random.Random) -> str:
    parent = container_of(data, path)
    del parent[path[-1]]
    return f"removed {path}"


def _nest(data: dict[str, Any], path: Path_, rng: random.Random) -> str:
    depth = rng.choice((20, 60, 200))
    value: Any = container_of(data, path)[path[-1]]
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    container_of(data, path)[path[-1]] = value
    return f"nested {path} {depth} levels deep"


DATA_MUTATIONS: tuple[Callable[[dict[str, Any], Path_, random.Random], str], ...] = (
    _replace,
    _replace,
    _same_type_extreme,
    _same_type_extreme,
    _same_type_extreme,
    _add_free_form_key,
    _remove,
    _nest,
)


def _duplicate_key_line(text: str, rng: random.Random) -> tuple[str, str]:
    lines = text.splitlines(keepends=True)
    keyed = [i for i, line in enumerate(lines) if re.match(r"\s*[A-Za-z_][\w-]*:", line)]
    index = rng.choice(keyed)
    lines.insert(index + 1, lines[index])
    return "".join(lines), f"duplicated line {index + 1}: {lines[index].strip()!r:.60}"


def _mutants(project: str, count: int) -> Iterator[Mutant]:
    rng = random.Random(f"{SEED}:{project}")
    text = (PROJECTS / project / "mlproject.yaml").read_text(encoding="utf-8")
    original = yaml.safe_load(text)
    paths = list(tree_paths(original))
    leaves = [p for p in paths if not isinstance(container_of(original, p)[p[-1]], dict | list)]
    # Numbers are few among the leaves but are where 64-bit and NaN trouble lives: pick them often.
    numbers = [
        p
        for p in leaves
        if isinstance(container_of(original, p)[p[-1]], int | float)
        and not isinstance(container_of(original, p)[p[-1]], bool)
    ]
    for number in range(count):
        if number % 6 == 5:  # text-level: YAML that no dump can produce
            mutated, description = _duplicate_key_line(text, rng)
            yield Mutant(f"#{number} {description}", mutated)
            continue
        data = deepcopy(original)
        descriptions = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            mutation = rng.choice(DATA_MUTATIONS)
            pool = numbers if mutation is _same_type_extreme and rng.random() < 0.5 else leaves
            path = rng.choice(pool if rng.random() < 0.8 else paths)
            try:
                descriptions.append(mutation(data, path, rng))
            except (KeyError, IndexError, TypeError):  # an earlier edit removed or replaced the parent
                continue
        dumped = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)
        yield Mutant(f"#{number} " + "; ".join(descriptions), dumped)


def _bad_diagnostics(diagnostics: list[Diagnostic]) -> list[str]:
    return [
        f"{d.code} {d.location} {d.message}"
        for d in diagnostics
        if not CODE.fullmatch(d.code) or d.code == "MLS699" or d.location is None
    ]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unusable_artifacts(built: Any) -> list[str]:
    """A successful build deploys: its JSON must be JSON Azure reads (no NaN, no Infinity)."""
    problems: list[str] = []
    try:
        json.dumps(built.manifest.to_json(), allow_nan=False)
    except ValueError as error:
        problems.append(f"manifest.json: {error}")
    for path, artifact in built.artifacts.artifacts.items():
        if path.endswith((".json", ".ipynb")):
            try:
                json.loads(artifact.content, parse_constant=_refuse_constant)
            except ValueError as error:
                problems.append(f"{path}: {error}")
    return problems


def _outcome(spec: Path) -> list[str]:
    """What went wrong with ``spec`` beyond what a user may see: an escaped exception or a bad diagnostic."""
    problems: list[str] = []
    try:
        result = api.validate_file(spec, all_environments=True, environ={})
        problems += [f"validate: {p}" for p in _bad_diagnostics(result.diagnostics)]
        for environment in (None, "local"):
            try:
                built = api.build(spec, environment, environ={})
            except MlspecError as error:
                problems += [f"build {environment}: {p}" for p in _bad_diagnostics(error.diagnostics)]
            else:
                problems += [f"build {environment}: {p}" for p in _bad_diagnostics(built.diagnostics)]
                problems += [f"build {environment}: {p}" for p in _unusable_artifacts(built)]
    except Exception as error:  # the one outcome this test exists to catch
        problems.append(f"{type(error).__name__}: {error!s:.300}")
    return problems


@pytest.mark.parametrize("project", EXAMPLES)
def test_mutated_example_specs_give_only_success_or_located_diagnostics(tmp_path: Path, project: str) -> None:
    workdir = tmp_path / project
    shutil.copytree(PROJECTS / project, workdir, ignore=shutil.ignore_patterns(".mlspec", "build"))
    spec = workdir / "mlproject.yaml"
    failures: list[str] = []
    for mutant in _mutants(project, MUTANTS_PER_PROJECT):
        spec.write_text(mutant.text, encoding="utf-8")
        failures += [f"{mutant.description}: {problem}" for problem in _outcome(spec)]
    assert not failures, f"{len(failures)} problem(s):\n" + "\n".join(failures[:20])


def _number_sweep(project: str) -> Iterator[Mutant]:
    """Every number in the example, in turn, set to an extreme of its kind (past 64 bits, NaN, ...)."""
    text = (PROJECTS / project / "mlproject.yaml").read_text(encoding="utf-8")
    original = yaml.safe_load(text)
    numbers = [
        p
        for p in tree_paths(original)
        if isinstance(container_of(original, p)[p[-1]], int | float)
        and not isinstance(container_of(original, p)[p[-1]], bool)
    ]
    for index, path in enumerate(numbers):
        data = deepcopy(original)
        pool = EXTREME_FLOATS if isinstance(container_of(data, path)[path[-1]], float) else EXTREME_INTS
        value = pool[index % len(pool)]
        container_of(data, path)[path[-1]] = value
        yield Mutant(f"{path} = {value!r}", yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


@pytest.mark.parametrize("project", EXAMPLES)
def test_every_number_of_the_examples_at_an_extreme_builds_or_is_refused_at_its_line(
    tmp_path: Path, project: str
) -> None:
    workdir = tmp_path / project
    shutil.copytree(PROJECTS / project, workdir, ignore=shutil.ignore_patterns(".mlspec", "build"))
    spec = workdir / "mlproject.yaml"
    failures: list[str] = []
    for mutant in _number_sweep(project):
        spec.write_text(mutant.text, encoding="utf-8")
        try:
            built = api.build(spec, None, environ={})
        except MlspecError as error:
            failures += [f"{mutant.description}: {p}" for p in _bad_diagnostics(error.diagnostics)]
        except Exception as error:
            failures.append(f"{mutant.description}: {type(error).__name__}: {error!s:.200}")
        else:
            failures += [f"{mutant.description}: {p}" for p in _unusable_artifacts(built)]
    assert not failures, f"{len(failures)} problem(s):\n" + "\n".join(failures[:20])


def test_the_mutants_are_the_same_on_every_run() -> None:
    first = [m.description for m in _mutants(EXAMPLES[0], 8)]
    assert first == [m.description for m in _mutants(EXAMPLES[0], 8)]
    assert len(set(first)) > 4
