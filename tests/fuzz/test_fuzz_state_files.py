"""Mutated state files, lock files and saved plans: success or a located MLSxxx error, nothing else.

A real state, lock and saved plan of the plan tests' project (``tests/plan/data/shop``, built with
the synthetic renderer) are mutated by hypothesis — a value replaced by a huge or non-finite number,
a hostile string, a wrong type or deep nesting; a key removed or added; bytes truncated, inserted or
flipped — and fed to what reads them: a refreshed plan (state), taking the lock and force-unlock
(lock), loading, showing and checking a saved plan (with its digest as saved, and recomputed so
that the structure checks behind the digest are reached too). An exception that is not an
:class:`MlspecError`, an internal error (MLS699) or a diagnostic without a code or a location fails
the test, and hypothesis prints the mutation.

Deterministic (``derandomize``, no example database) and bounded: a few hundred examples in all,
well under 30 s.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ → `plan.synthetic`

from plan.synthetic import installed, load_desired

from mlspec.diagnostics import MlspecError
from mlspec.plan import operations
from mlspec.plan.backends.local import LocalBackend
from mlspec.plan.planfile import plan_digest
from mlspec.plan.render import render_plan

SHOP = Path(__file__).resolve().parents[1] / "plan" / "data" / "shop"
CODE = re.compile(r"MLS\d{3}")
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=120,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

HOSTILE: tuple[Any, ...] = (
    10**30,
    2**63,
    -1,
    1e308,
    float("nan"),
    float("inf"),
    True,
    None,
    "",
    "x" * 5000,
    "a\x00b",
    "\x1b[31mred\n",
    "../../../../etc/passwd",
    "not-an-address",
    "a.b",
    "aks.deployment.x",
    "sha256:0",
    [],
    {},
    [1, "2", None],
    {"provider_type": 1},
)

Document = Any
JsonPath = tuple[str | int, ...]


class Files:
    """One project with a real state, lock record and saved plan, restored before every example."""

    def __init__(self, root: Path) -> None:
        self.project = root / "shop"
        shutil.copytree(SHOP, self.project)
        self.spec = self.project / "mlproject.yaml"
        self.desired = load_desired(self.spec, "dev")
        operations.apply_desired(
            self.desired, select=["synapse.notebook.basket_stats", "aks.deployment.shop-scoring"]
        )
        self.backend = LocalBackend(self.project / ".mlspec" / "state" / "shop", "dev")
        self.state = json.loads(self.backend.path.read_bytes())
        info = self.backend.lock("apply")
        self.lock = json.loads(self.backend.lock_path.read_bytes())
        self.backend.force_unlock(info.id)
        self.plan_path = self.project / "plan.json"
        operations.save_plan(operations.plan_desired(self.desired), self.plan_path)
        self.plan = json.loads(self.plan_path.read_bytes())
        self.state_bytes = self.backend.path.read_bytes()

    def reset(self) -> None:
        self.backend.path.write_bytes(self.state_bytes)
        self.backend.lock_path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Files]:
    with installed():
        yield Files(tmp_path_factory.mktemp("fuzz-state"))


# --- mutations ---------------------------------------------------------------------------------


def _paths(value: Document, prefix: JsonPath = ()) -> Iterator[JsonPath]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _at(document: Document, path: JsonPath) -> Document:
    for part in path:
        document = document[part]
    return document


def _replace(document: Document, path: JsonPath, rng: random.Random) -> str:
    new = deepcopy(rng.choice(HOSTILE))
    _at(document, path[:-1])[path[-1]] = new
    return f"{path} = {new!r:.60}"


def _nest(document: Document, path: JsonPath, rng: random.Random) -> str:
    depth = rng.choice((50, 400))
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    _at(document, path[:-1])[path[-1]] = value
    return f"{path} nested {depth} deep"


def _remove(document: Document, path: JsonPath, rng: random.Random) -> str:
    parent = _at(document, path[:-1])
    del parent[path[-1]]
    return f"removed {path}"


def _add(document: Document, path: JsonPath, rng: random.Random) -> str:
    container = _at(document, path[:-1])
    if isinstance(container, dict):
        key = rng.choice(("extra", "not-an-address", "aks.deployment.new", "", "\x1b"))
        container[key] = deepcopy(rng.choice(HOSTILE))
        return f"added {(*path[:-1], key)}"
    container.append(deepcopy(rng.choice(HOSTILE)))
    return f"appended to {path[:-1]}"


def _rename_key(document: Document, path: JsonPath, rng: random.Random) -> str:
    parent = _at(document, path[:-1])
    if not isinstance(parent, dict):
        return _replace(document, path, rng)
    new = rng.choice(("not-an-address", "a.b", "Aks.x.y", "aks.deployment.", "x" * 300))
    parent[new] = parent.pop(path[-1])
    return f"renamed {path} to {new!r}"


STRUCTURAL: tuple[Callable[[Document, JsonPath, random.Random], str], ...] = (
    _replace,
    _replace,
    _nest,
    _remove,
    _add,
    _rename_key,
)


def mutate_document(document: Document, rng: random.Random) -> tuple[Document, str]:
    mutated = deepcopy(document)
    paths = [p for p in _paths(mutated) if p]
    path = rng.choice(paths)
    return mutated, rng.choice(STRUCTURAL)(mutated, path, rng)


def mutate_bytes(raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    at = rng.randrange(len(raw) + 1)
    kind = rng.choice(("truncate", "insert", "flip", "number", "deep"))
    if kind == "truncate":
        return raw[:at], f"truncated at {at}"
    if kind == "insert":
        junk = rng.choice((b"\xff", b"\x00", b"{", b"]", b'"', b"\xc3\x28", b"\\u0000"))
        return raw[:at] + junk + raw[at:], f"inserted {junk!r} at {at}"
    if kind == "flip" and raw:
        index = min(at, len(raw) - 1)
        return raw[:index] + bytes([raw[index] ^ (1 << rng.randrange(8))]) + raw[
            index + 1 :
        ], f"flipped {index}"
    if kind == "number":
        return re.sub(rb"(?<=: )\d+", b"1e999", raw, count=1), "a number replaced by 1e999"
    return raw.replace(b"{", b"[" * 100_000 + b"{", 1), "100k-deep nesting inserted"


def mutant(document: Document, rng: random.Random) -> tuple[bytes, str]:
    if rng.random() < 0.7:
        mutated, what = mutate_document(document, rng)
        return json.dumps(mutated, indent=1).encode(), what
    return mutate_bytes(json.dumps(document, indent=1).encode(), rng)


def allowed(call: Callable[[], object], what: str) -> None:
    """``call`` succeeds or raises an MlspecError whose every diagnostic has a code and a location."""
    try:
        call()
    except MlspecError as error:
        assert error.diagnostics, what
        for d in error.diagnostics:
            assert CODE.fullmatch(d.code) and d.code != "MLS699", (what, d)
            assert d.location is not None, (what, d)
            assert "\x1b" not in d.message and "\n" not in d.message, (what, d)


# --- targets ------------------------------------------------------------------------------------


@FUZZ
@given(rng=st.randoms(use_true_random=False))
def test_mutated_state_files_plan_or_fail_located(files: Files, rng: random.Random) -> None:
    raw, what = mutant(files.state, rng)
    files.reset()
    files.backend.path.write_bytes(raw)

    def plan_and_show() -> None:
        result = operations.plan_desired(files.desired)
        render_plan(result.plan, color=False)
        json.dumps(result.plan.to_json())

    with installed():
        allowed(plan_and_show, what)
    assert not files.backend.lock_path.exists(), f"{what}: the lock was left behind"


@FUZZ
@given(rng=st.randoms(use_true_random=False))
def test_mutated_lock_files_are_held_or_fail_located(files: Files, rng: random.Random) -> None:
    raw, what = mutant(files.lock, rng)
    files.reset()
    files.backend.lock_path.write_bytes(raw)
    allowed(lambda: files.backend.lock("plan"), what)
    allowed(lambda: files.backend.force_unlock("0"), what)
    assert files.backend.lock_path.read_bytes() == raw, f"{what}: a lock was replaced or removed silently"


@FUZZ
@given(rng=st.randoms(use_true_random=False), recompute=st.booleans())
def test_mutated_saved_plans_load_or_fail_located(files: Files, rng: random.Random, recompute: bool) -> None:
    files.reset()
    if recompute:  # someone re-digested the mutated plan: the checks behind the digest must hold
        mutated, what = mutate_document(files.plan, rng)
        mutated["digest"] = plan_digest(json.loads(json.dumps(mutated)))
        raw = json.dumps(mutated).encode()
    else:
        raw, what = mutant(files.plan, rng)
    path = files.project / "mutant.json"
    path.write_bytes(raw)

    def load_show_check() -> None:
        saved = operations.load_plan(path)
        render_plan(saved.plan, color=False)
        operations.check_saved_plan(saved)

    allowed(load_show_check, what)
    assert files.backend.path.read_bytes() == files.state_bytes, f"{what}: the state changed"
