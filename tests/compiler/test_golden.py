"""Every example project builds exactly to its reviewed golden files (regenerate: `make golden`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("golden", Path(__file__).with_name("golden.py"))
assert _spec and _spec.loader
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)

CASES = list(golden.golden_cases())


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 6, "expected three example projects with dev and prod"


@pytest.mark.parametrize(("spec", "environment"), CASES, ids=[f"{s.parent.name}-{e}" for s, e in CASES])
def test_build_matches_golden_files(spec: Path, environment: str, tmp_path: Path) -> None:
    built = golden.build_tree(spec, environment, tmp_path / "out")
    expected_dir = golden.golden_dir(spec, environment)
    expected = {
        p.relative_to(expected_dir).as_posix(): p.read_bytes()
        for p in sorted(expected_dir.rglob("*"))
        if p.is_file()
    }
    assert sorted(built) == sorted(expected), "files differ from the golden set: run `make golden` and review"
    changed = [name for name in built if built[name] != expected[name]]
    assert not changed, (
        f"{len(changed)} files differ from golden (first: {changed[:3]}): run `make golden` and review"
    )
