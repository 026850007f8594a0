"""A "did you mean" never proposes what the validator then refuses.

Every key and every enumerated value of the example specs is misspelt in turn (a letter dropped, two
swapped, the case changed); the suggestion the error gives is applied as a user would, and the spec
is validated again: the finding must be gone, and no other error may appear at that place.
"""

from __future__ import annotations

import random
import re
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
import yaml

from fuzz.spec_tree import parent as container_of
from fuzz.spec_tree import paths as tree_paths
from mlspec import api
from mlspec.diagnostics import Diagnostic

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(ROOT.glob("projects/*/mlproject.yaml"))
SUGGESTION = re.compile(r"did you mean '([^']+)'\?")
ENVIRON = dict.fromkeys(
    ("MLSPEC_SECRET_CRM_API_KEY", "MLSPEC_SECRET_APPINSIGHTS_CONNECTION_STRING"), "test-value"
)
PER_SPEC = 40


def _typo(word: str, rng: random.Random) -> str:
    if len(word) > 3 and rng.random() < 0.4:
        i = rng.randrange(1, len(word) - 1)
        return word[:i] + word[i + 1 :]  # a letter dropped
    if len(word) > 3 and rng.random() < 0.5:
        i = rng.randrange(len(word) - 1)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # two letters swapped
    return word.swapcase() if word.swapcase() != word else word + "x"


def _validate(spec: Path, data: dict[str, Any]) -> list[Diagnostic]:
    spec.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return api.validate_file(spec, environ=ENVIRON).diagnostics


def _rename_key(data: dict[str, Any], path: tuple[str | int, ...], new: str) -> None:
    holder = container_of(data, path)
    holder[new] = holder.pop(path[-1])


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.parent.name for e in EXAMPLES])
def test_every_did_you_mean_is_accepted_once_applied(tmp_path: Path, example: Path) -> None:
    rng = random.Random(f"hints:{example.parent.name}")
    original = yaml.safe_load(example.read_text(encoding="utf-8"))
    spec = tmp_path / "mlproject.yaml"
    (tmp_path / "src").mkdir()
    for file in example.parent.rglob("*"):  # the code files the spec names
        if file.is_file() and ".mlspec" not in file.parts and "build" not in file.parts:
            target = tmp_path / file.relative_to(example.parent)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.read_bytes())
    keys = [
        p
        for p in tree_paths(original)
        if isinstance(p[-1], str) and p[0] not in ("environments", "variables")
    ]
    rng.shuffle(keys)
    checked, failures = 0, []
    for path in keys[:PER_SPEC]:
        data = deepcopy(original)
        wrong = _typo(str(path[-1]), rng)
        if wrong in container_of(data, path):
            continue
        _rename_key(data, path, wrong)
        misspelt = (*path[:-1], wrong)
        found = [d for d in _validate(spec, data) if d.path == misspelt and d.code == "MLS100"]
        hint = found[0].hint if found else None
        suggestion = SUGGESTION.search(hint or "")
        if suggestion is None:
            continue  # a free-form mapping (params, tags) or no close name: nothing proposed
        checked += 1
        _rename_key(data, misspelt, suggestion.group(1))
        fixed = (*path[:-1], suggestion.group(1))
        after = [d for d in _validate(spec, data) if d.is_error and d.path[: len(fixed)] == fixed]
        if after:
            failures.append(
                f"{wrong!r} at {path}: proposed {suggestion.group(1)!r}, then {[d.message for d in after]}"
            )
    assert checked >= 10, f"only {checked} suggestions were tried"
    assert not failures, "\n".join(failures)


def _enum_values() -> set[str]:
    import json

    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.update(v for v in node.get("enum", ()) if isinstance(v, str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(
        json.loads((ROOT / "mlspec" / "spec_schema" / "mlproject.v1.schema.json").read_text(encoding="utf-8"))
    )
    return found


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.parent.name for e in EXAMPLES])
def test_every_suggested_enum_value_is_accepted_once_applied(tmp_path: Path, example: Path) -> None:
    rng = random.Random(f"enum-hints:{example.parent.name}")
    enums = _enum_values()
    original = yaml.safe_load(example.read_text(encoding="utf-8"))
    spec = tmp_path / "mlproject.yaml"
    leaves = [
        p
        for p in tree_paths(original)
        if isinstance(container_of(original, p)[p[-1]], str) and container_of(original, p)[p[-1]] in enums
    ]
    checked, failures = 0, []
    for path in leaves[:PER_SPEC]:
        data = deepcopy(original)
        right = container_of(data, path)[path[-1]]
        container_of(data, path)[path[-1]] = wrong = _typo(right, rng)
        found = [d for d in _validate(spec, data) if d.path == path and d.code == "MLS102"]
        suggestion = SUGGESTION.search((found[0].hint or "") if found else "")
        if suggestion is None:
            continue
        checked += 1
        container_of(data, path)[path[-1]] = suggestion.group(1)
        after = [d for d in _validate(spec, data) if d.is_error and d.path == path]
        if after:
            failures.append(
                f"{wrong!r} at {path}: proposed {suggestion.group(1)!r}, then {[d.message for d in after]}"
            )
    assert checked >= 3, f"only {checked} suggestions were tried"
    assert not failures, "\n".join(failures)
