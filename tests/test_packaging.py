"""The distribution installs this project: `mlspec` on PyPI is an unrelated one, so every install
instruction names the distribution mlspec actually has, and the command stays `mlspec`."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import entry_points, version
from pathlib import Path

import yaml

from mlspec.cli import DISTRIBUTION

ROOT = Path(__file__).resolve().parent.parent


def test_the_distribution_is_not_the_taken_pypi_name_and_is_what_the_cli_names() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == DISTRIBUTION != "mlspec"
    assert project["scripts"]["mlspec"].startswith("mlspec.")
    assert version(DISTRIBUTION)  # installed under that name
    assert any(e.name == "mlspec" for e in entry_points(group="console_scripts"))


def test_ci_docs_install_this_distribution() -> None:
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    installs = re.findall(r"pip install ([^\n#]+)", text)
    assert installs
    for target in installs:
        assert target.strip().strip("\"'").startswith(DISTRIBUTION), target


def test_pre_commit_hooks_run_the_mlspec_command_of_this_repository() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hooks and all(
        h["language"] == "python" and h["entry"].startswith("mlspec validate") for h in hooks
    )
