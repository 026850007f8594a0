"""Parity: what `mlspec validate` accepts, `mlspec build` builds — and build says nothing validate did not.

Pull-request checks run `validate`; a spec it passes must not be refused later by `build` (the
"validate passes but deploy fails" complaint of bundle users). Each example spec is mutated the way a
person editing it would: a value swapped for another name of the same spec or for a value the schema
allows elsewhere (enum values), a number changed, a flag flipped, a list item removed or repeated, an
optional key removed. For every environment of every mutant that `validate` accepts, `build` must
succeed, and every diagnostic `build` gives (warnings too) must be one `validate` gave, at the same line.

Seeded and deterministic; bounded to well under 60 s.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
import yaml

from fuzz.spec_tree import SpecTreePath
from fuzz.spec_tree import parent as container_of
from fuzz.spec_tree import paths as tree_paths
from mlspec import api
from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.spec_schema.resolve import environment_names

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted(
    [
        *ROOT.glob("projects/*/mlproject.yaml"),
        ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml",
    ]
)
SCHEMA = ROOT / "mlspec" / "spec_schema" / "mlproject.v1.schema.json"
SEED = 20261201
MUTANTS_PER_SPEC = 30
NUMBERS = (0, 1, 2, 3, 5, 10, 100, 1000, 0.5, 0.99, -1, 65000, 3600)
SHAPES = ("0", "0%", "100%", "25%", "a", "x-y", "A_B", "1Gi", "500m", "5m", "10.0.0.0/8", "https://x.example")
# Secrets the examples declare: a value for every one, as CI sets them.
ENVIRON = dict.fromkeys(
    ("MLSPEC_SECRET_CRM_API_KEY", "MLSPEC_SECRET_APPINSIGHTS_CONNECTION_STRING"), "test-value"
)

Path_ = SpecTreePath


def _enum_values() -> list[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.update(v for v in node.get("enum", ()) if isinstance(v, str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(SCHEMA.read_text(encoding="utf-8")))
    return sorted(found)


ENUMS = _enum_values()


def _mutate(data: dict[str, Any], rng: random.Random, names: list[str]) -> str:
    """One plausible edit: the kind of change a user makes, valid in type more often than not."""
    path = rng.choice(list(tree_paths(data)))
    parent = container_of(data, path)
    current = parent[path[-1]]
    if isinstance(current, bool):
        parent[path[-1]] = not current
        return f"flipped {path}"
    if isinstance(current, int | float):
        parent[path[-1]] = value = rng.choice(NUMBERS)
        return f"{path} = {value!r}"
    if isinstance(current, str):
        pool = rng.choice((ENUMS, names, SHAPES))
        parent[path[-1]] = value = rng.choice(pool)
        return f"{path} = {value!r}"
    if isinstance(current, list) and current:
        if rng.random() < 0.5:
            del current[rng.randrange(len(current))]
            return f"removed an item of {path}"
        current.append(deepcopy(rng.choice(current)))
        return f"repeated an item of {path}"
    del parent[path[-1]]
    return f"removed {path}"


def _mutants(spec: Path) -> Iterator[tuple[str, str]]:
    rng = random.Random(f"{SEED}:{spec.parent.name}")
    original = yaml.safe_load(spec.read_text(encoding="utf-8"))
    names = sorted(
        {
            value
            for path in tree_paths(original)
            if isinstance(value := container_of(original, path)[path[-1]], str) and len(value) < 40
        }
    )
    for number in range(MUTANTS_PER_SPEC):
        data = deepcopy(original)
        edits = []
        for _ in range(rng.choice((1, 1, 2))):
            try:
                edits.append(_mutate(data, rng, names))
            except (KeyError, IndexError, TypeError):  # an earlier edit removed the parent
                continue
        yield f"#{number} " + "; ".join(edits), yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _said(d: Diagnostic) -> tuple[object, ...]:
    return (d.code, d.location, d.message)


def _gaps(spec: Path) -> tuple[list[str], int]:
    """What build said (refusals and warnings) that validate did not, per environment; and how many
    environments validate accepted (so that the test cannot pass by validating nothing)."""
    gaps: list[str] = []
    accepted = 0
    document = api.load(spec)
    for environment in environment_names(document):
        validated = api.resolve(document, environment, environ=ENVIRON)
        if not validated.ok:
            continue
        accepted += 1
        said = {_said(d) for d in validated.diagnostics}
        try:
            built = api.build(spec, environment, environ=ENVIRON)
            unseen, verb = [d for d in built.diagnostics if _said(d) not in said], "warned"
        except MlspecError as error:
            unseen, verb = [d for d in error.diagnostics if _said(d) not in said], "refused"
            if not unseen:
                unseen = error.diagnostics  # a refusal validate did not foresee as an error
        gaps += [f"[{environment}] build {verb}: {d.code} {d.location} {d.message}" for d in unseen]
    return gaps, accepted


@pytest.mark.parametrize("spec", SPECS, ids=[s.parent.name for s in SPECS])
def test_what_validate_accepts_builds_and_build_says_nothing_validate_did_not(
    tmp_path: Path, spec: Path
) -> None:
    workdir = tmp_path / spec.parent.name
    shutil.copytree(spec.parent, workdir, ignore=shutil.ignore_patterns(".mlspec", "build"))
    target = workdir / spec.name
    failures: list[str] = []
    accepted = 0
    for description, text in [("the example as it is", spec.read_text(encoding="utf-8")), *_mutants(spec)]:
        target.write_text(text, encoding="utf-8")
        try:
            gaps, environments = _gaps(target)
        except MlspecError:  # the mutant does not even load (e.g. an empty mapping): nothing to compare
            continue
        accepted += environments
        failures += [f"{description}: {gap}" for gap in gaps]
    # Most plausible edits keep a spec valid somewhere; far fewer would mean the mutants test nothing.
    assert accepted >= MUTANTS_PER_SPEC // 2, (
        f"only {accepted} accepted environments: the mutants test nothing"
    )
    assert not failures, f"{len(failures)} gap(s):\n" + "\n".join(failures[:20])
