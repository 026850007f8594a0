"""A saved plan changed after it was saved is refused before it is shown or applied.

Every mutation of a real saved plan — each JSON leaf changed, each key removed, a key added at every
object, truncations, non-UTF-8 bytes, a damaged gzip stream — must give a located MLS error from
``load_plan`` (or ``mlspec apply``), and nothing may be applied: no state written, no local object.
"""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlspec.api import deploy as api_deploy
from mlspec.diagnostics import MlspecError
from mlspec.plan import operations
from plan.conftest import run_cli, state_file

pytestmark = pytest.mark.usefixtures("synthetic")


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _leaves(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _leaves(child, (*path, index))
    else:
        yield path, value


def _containers(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict | list):
        yield path, value
        children = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in children:
            yield from _containers(child, (*path, key))


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


def _changed(value: Any) -> list[Any]:
    """Values that differ from ``value`` (as JSON: 1 and 1.0 differ in the file, so both count)."""
    if isinstance(value, bool):
        return [not value, None]
    if isinstance(value, int | float):
        return [value + 1, str(value), 1e999]
    if isinstance(value, str):
        return [value + "x", value[:-1] if value else "y", 5]
    return [0, "x"]  # null


def mutations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, value in _leaves(document):
        for new in _changed(value):
            mutated = copy.deepcopy(document)
            parent = _get(mutated, path[:-1])
            parent[path[-1]] = new
            yield f"leaf {path} = {new!r}", mutated
    for path, container in _containers(document):
        if isinstance(container, dict):
            for key in list(container):
                mutated = copy.deepcopy(document)
                del _get(mutated, path)[key]
                yield f"removed {(*path, key)}", mutated
            mutated = copy.deepcopy(document)
            _get(mutated, path)["extra"] = 1
            yield f"added {(*path, 'extra')}", mutated
        elif container:
            mutated = copy.deepcopy(document)
            _get(mutated, path).pop()
            yield f"shortened {path}", mutated


@pytest.fixture
def saved(shop: Path) -> tuple[Path, dict[str, Any]]:
    api_deploy.apply_environment(shop, "dev", select=["synapse.notebook.basket_stats"])
    path = operations.save_plan(api_deploy.plan_environment(shop, "dev"), shop.parent / "plan.json")
    return path, json.loads(path.read_bytes())


def _assert_refused(path: Path, what: str) -> None:
    with pytest.raises(MlspecError) as raised:
        operations.load_plan(path)
    for d in raised.value.diagnostics:
        assert d.code.startswith("MLS") and d.location is not None, (what, d)
        assert d.location.file == str(path), (what, d)


def test_every_mutation_of_a_saved_plan_is_refused_and_nothing_is_applied(
    shop: Path, saved: tuple[Path, dict[str, Any]]
) -> None:
    path, document = saved
    state_before = state_file(shop).read_bytes()
    workspace = shop.parent / ".mlspec" / "local" / "dev"
    objects_before = sorted(p.relative_to(workspace) for p in workspace.rglob("*"))
    original = path.read_bytes()
    count = 0
    for what, mutated in mutations(document):
        path.write_text(json.dumps(mutated, indent=1), encoding="utf-8")
        _assert_refused(path, what)
        count += 1
    for cut in (1, 2, len(original) // 3, len(original) // 2, len(original) - 2):
        path.write_bytes(original[:cut])
        _assert_refused(path, f"truncated at {cut}")
        count += 1
    text = original.decode("utf-8")
    at = text.index('"project"')
    for bad in (b"\xff", b"\xc3\x28", b"\xed\xa0\x80"):
        path.write_bytes(original[:at] + bad + original[at:])
        _assert_refused(path, f"non-UTF-8 {bad!r}")
        count += 1
    compressed = gzip.compress(original, mtime=0)
    for damaged in (compressed[:-8], compressed[:20], compressed[:12] + b"\x00" * 8 + compressed[20:]):
        path.with_suffix(".bin").write_bytes(damaged)
        _assert_refused(path.with_suffix(".bin"), "damaged gzip")
        count += 1
    assert count > 400
    assert state_file(shop).read_bytes() == state_before
    assert sorted(p.relative_to(workspace) for p in workspace.rglob("*")) == objects_before
    path.write_bytes(original)  # the untouched plan still applies
    assert operations.apply_plan(operations.load_plan(path)).ok


def test_a_tampered_property_is_refused_by_the_cli_before_anything_is_printed(
    shop: Path, saved: tuple[Path, dict[str, Any]]
) -> None:
    path, document = saved
    change = next(c for c in document["resource_changes"] if c["action"] == "create")
    change["after"]["properties"]["injected"] = "rm -rf /"
    path.write_text(json.dumps(document), encoding="utf-8")
    result = run_cli(["apply", str(path)], shop.parent)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""  # refused before the plan is shown
    assert f"{path}:1:1: error MLS836:" in result.stderr and "digest" in result.stderr


def test_a_stale_plan_is_refused_by_the_cli_before_it_is_printed(
    shop: Path, saved: tuple[Path, dict[str, Any]]
) -> None:
    path, _document = saved
    api_deploy.apply_environment(shop, "dev", select=["synapse.notebook.click_stats"])
    result = run_cli(["apply", str(path)], shop.parent)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "MLS832" in result.stderr and "stale" in result.stderr


def test_a_plan_saved_by_an_older_mlspec_without_a_digest_is_refused(
    saved: tuple[Path, dict[str, Any]],
) -> None:
    path, document = saved
    del document["digest"]
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(MlspecError, match="no digest"):
        operations.load_plan(path)
