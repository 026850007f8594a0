"""The optional ``run`` section: ``run.seed`` names the program that fills a local lake's sources.

It gets the checks every code path in the spec gets (MLS413: a ``.py`` file inside the
project that exists), located at the value the user wrote, and the usual structure errors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlspec import api
from mlspec.spec_schema.loader import parse_spec

from .spec_text import CONTRACT, Validate


def with_run(body: str) -> str:
    """The contract example with a ``run:`` section appended (``body`` is its indented content)."""
    return CONTRACT.rstrip("\n") + "\n\nrun:\n" + body


def test_a_spec_without_run_has_no_seed() -> None:
    resolved = api.resolve(parse_spec(CONTRACT), environ={})
    assert resolved.model is not None and resolved.model.run.seed is None


def test_an_existing_seed_inside_the_project_is_accepted(validate: Validate, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "generate.py").write_text("print('seeded')\n")
    text = with_run("  seed: data/generate.py\n")
    validate(text, all_environments=True).assert_clean()
    resolved = api.resolve(api.load(tmp_path / "mlproject.yaml"), "dev", environ={})
    assert resolved.model is not None and resolved.model.run.seed == "data/generate.py"


def test_a_missing_seed_is_reported_at_its_value(validate: Validate, tmp_path: Path) -> None:
    found = validate(with_run("  seed: data/generate.py\n")).only(
        "MLS413", "file 'data/generate.py' does not exist", "data/generate.py"
    )
    assert found.path == ("run", "seed")
    assert found.hint == f"create {tmp_path / 'data' / 'generate.py'}"


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ("../outside/generate.py", "'../outside/generate.py' must be a relative path inside the project"),
        ("data/../../generate.py", "must be a relative path inside the project"),
        ("/opt/generate.py", "'/opt/generate.py' must be a relative path inside the project"),
        ("data\\generate.py", "must be a relative path inside the project"),
        ("data/generate.sh", "'data/generate.sh' must be a .py file"),
    ],
)
def test_a_seed_outside_the_project_or_not_python_is_refused(
    validate: Validate, tmp_path: Path, seed: str, message: str
) -> None:
    outside = tmp_path.parent / "shared"
    outside.mkdir(exist_ok=True)
    (outside / "generate.py").write_text("")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "generate.sh").write_text("")
    validate(with_run(f"  seed: '{seed}'\n")).only("MLS413", message, f"'{seed}'")


def test_an_unknown_run_field_is_refused_with_a_suggestion(validate: Validate) -> None:
    found = validate(with_run("  sede: data/generate.py\n")).only("MLS100", "unknown field 'sede'", "sede")
    assert found.hint is not None and "did you mean 'seed'?" in found.hint


def test_a_seed_that_is_not_a_string_is_refused(validate: Validate) -> None:
    validate(with_run("  seed: [data/generate.py]\n")).only(
        "MLS102", "'seed' must be a string", "[data/generate.py]"
    )


def test_an_environment_overlay_can_name_another_seed(validate: Validate, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "generate.py").write_text("")
    text = with_run("  seed: data/generate.py\n").replace(
        "    overrides:\n", "    overrides:\n      run: {seed: data/prod_sample.py}\n", 1
    )
    checked = validate(text, "prod")
    checked.only("MLS413", "file 'data/prod_sample.py' does not exist", "data/prod_sample.py")
