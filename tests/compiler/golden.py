"""Golden files: the full `mlspec build` output of every example project for each declared environment.

Regenerate (then review the diff before committing):

    python3 tests/compiler/golden.py --update        # or: make golden

`test_golden.py` fails when a build differs from its golden copy.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"


def golden_cases() -> Iterator[tuple[Path, str]]:
    """(spec, environment) for every example project and every environment it declares."""
    import yaml

    for spec in sorted(ROOT.glob("projects/*/mlproject.yaml")):
        environments = yaml.safe_load(spec.read_text(encoding="utf-8")).get("environments") or {}
        for env in sorted(environments):
            yield spec, env


def golden_dir(spec: Path, environment: str) -> Path:
    return GOLDEN / spec.parent.name / environment


def build_tree(spec: Path, environment: str, out: Path) -> dict[str, bytes]:
    """Build into ``out`` and return every written file by relative path."""
    from mlspec import api

    api.build(spec, environment, out_dir=out, environ={})
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def update() -> None:
    if GOLDEN.exists():
        shutil.rmtree(GOLDEN)
    for spec, env in golden_cases():
        build_tree(spec, env, golden_dir(spec, env))
        print(f"wrote {golden_dir(spec, env).relative_to(ROOT)}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--update", action="store_true", help="rewrite the golden files")
    if parser.parse_args().update:
        update()
    else:
        parser.print_help()
