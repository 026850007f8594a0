"""Random mutations of the contract example never crash the validator.

Every rejection must come back as diagnostics, each located inside the file. The runs are
derandomized and use no example database, so CI sees the same examples every time.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlspec import api
from mlspec.spec_schema.loader import parse_spec

from .spec_text import CONTRACT

FUZZ = settings(
    max_examples=120,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TEXT_FUZZ = settings(FUZZ, max_examples=300)
"""Text mutations mostly stop at the loader, which is where the hard cases are: more of them."""
CONTRACT_DATA: dict[str, Any] = parse_spec(CONTRACT).data

SECRETS = (
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=dGhpcyBpcyBub3QgYSByZWFsIGtleQ==",
)
HOSTILE_STRINGS = (
    *SECRETS,
    "${var.lake_account}",
    "${var.nope}",
    "${workspace.key_vault}",
    "${workspace.storage_account}-${workspace.synapse}",
    "${project.name}",
    "${environment.name}",
    "${env.HOME}",
    "${",
    "${}",
    "$${var.x}",
    "${{parent.inputs.x}}",
    "abfss://raw@contosolake.dfs.core.windows.net/../x",
    "abfss://",
    "../../etc/passwd.py",
    "/abs/train.py",
    "0 3 * * 1",
    "61 25 32 13 8",
    "*/0 * * * *",
    "² * * * *",
    "5m",
    "0m",
    "9" * 400 + "d",
    "10.0.0.0/33",
    "0.0.0.0/0",
    "3.10",
    ">= 0.8",
    "SELECT * FROM customers",
    "SELECT a, FROM t",
    "x" * 3000,
    "é²٣\u2028\x85",
    "\t",
    "",
    " ",
    "null",
    "-",
)
GARBAGE = (
    "{",
    "}",
    "[",
    "]",
    ":",
    ": ",
    "- ",
    "? ",
    ",",
    "&a ",
    "*a",
    "*a\n",
    "<<: *a\n",
    "!!python/object:os.system ",
    "!vault ",
    "\t",
    "\n\t",
    "\n  ",
    "\n",
    "|",
    ">-",
    "'",
    '"',
    "#",
    "---\n",
    "...\n",
    "${",
    "${var.x}",
    "%YAML 1.1\n",
    "0x_",
    "2024-02-30",
    "~",
    "\ufeff",
    "\x85",
    "\u2028",
    "\r",
    "key: [${var.x}]\n",
    "a: b: c\n",
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(HOSTILE_STRINGS),
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value below ``value`` (mapping keys and list indexes)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from paths(child, (*prefix, index))


ALL_PATHS = list(paths(CONTRACT_DATA))
LIST_PATHS = [p for p in ALL_PATHS if isinstance(p[-1], int)]


def parent_of(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check(spec_dir: Path, raw: bytes) -> list[Any]:
    """Validate ``raw`` in every environment; it must return located diagnostics, never raise."""
    path = spec_dir / "mlproject.yaml"
    path.write_bytes(raw)
    result = api.validate_file(path, all_environments=True, environ={})
    text = raw.decode("utf-8", "replace")
    lines = text.splitlines() or [""]
    longest = max(len(line) for line in lines)
    for d in result.diagnostics:
        assert d.location is not None, d
        assert d.location.file == str(path)
        assert 1 <= d.location.line <= len(lines) + 1, (d, len(lines))
        assert 1 <= d.location.column <= longest + 2, (d, longest)
        assert d.message
    return result.diagnostics


def dump(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).encode("utf-8")


@FUZZ
@given(st.data())
def test_deleting_a_key_never_crashes(spec_dir: Path, data: st.DataObject) -> None:
    spec = copy.deepcopy(CONTRACT_DATA)
    for _ in range(data.draw(st.integers(1, 3))):
        candidates = [p for p in paths(spec) if isinstance(p[-1], str)]
        if not candidates:
            break
        path = data.draw(st.sampled_from(candidates))
        del parent_of(spec, path)[path[-1]]
    check(spec_dir, dump(spec))


@FUZZ
@given(st.data())
def test_replacing_a_value_never_crashes_nor_quotes_a_secret(spec_dir: Path, data: st.DataObject) -> None:
    spec = copy.deepcopy(CONTRACT_DATA)
    path = data.draw(st.sampled_from(ALL_PATHS))
    value = data.draw(values)
    parent_of(spec, path)[path[-1]] = value
    found = check(spec_dir, dump(spec))
    if isinstance(value, str) and value in SECRETS:
        assert any(d.code == "MLS501" for d in found)
        for d in found:
            assert value not in d.message and value not in (d.hint or "")


@FUZZ
@given(st.data())
def test_duplicating_list_items_and_renaming_keys_never_crashes(spec_dir: Path, data: st.DataObject) -> None:
    spec = copy.deepcopy(CONTRACT_DATA)
    item = data.draw(st.sampled_from(LIST_PATHS))
    items = parent_of(spec, item)
    items.insert(item[-1], copy.deepcopy(items[item[-1]]))
    key_path = data.draw(st.sampled_from([p for p in paths(spec) if isinstance(p[-1], str)]))
    parent = parent_of(spec, key_path)
    old = key_path[-1]
    new = data.draw(
        st.one_of(
            st.text(min_size=1, max_size=12), st.just(old + "x"), st.just(old.upper()), st.just(old[:-1])
        )
    )
    parent[new] = parent.pop(old)
    check(spec_dir, dump(spec))


@TEXT_FUZZ
@given(st.data())
def test_garbage_inserted_into_the_text_never_crashes(spec_dir: Path, data: st.DataObject) -> None:
    text = CONTRACT
    for _ in range(data.draw(st.integers(1, 3))):
        offset = data.draw(st.integers(0, len(text)))
        garbage = data.draw(st.one_of(st.sampled_from(GARBAGE), st.text(max_size=6)))
        text = text[:offset] + garbage + text[offset:]
    raw = text.encode("utf-8")
    if data.draw(st.booleans()):
        offset = data.draw(st.integers(0, len(raw)))
        raw = raw[:offset] + data.draw(st.binary(min_size=1, max_size=3)) + raw[offset:]
    check(spec_dir, raw)


@TEXT_FUZZ
@given(st.integers(0, len(CONTRACT.encode("utf-8"))))
def test_truncated_text_never_crashes(spec_dir: Path, length: int) -> None:
    check(spec_dir, CONTRACT.encode("utf-8")[:length])


def test_fuzz_targets_cover_the_whole_contract() -> None:
    # The mutations can reach every section, overlays included.
    assert {p[0] for p in ALL_PATHS} >= {
        "project",
        "variables",
        "workspace",
        "environments",
        "access",
        "sources",
        "transforms",
        "model",
        "deployment",
        "monitoring",
        "reports",
    }
    assert ("environments", "prod", "overrides", "deployment", "replicas", "min") in ALL_PATHS
    assert LIST_PATHS
