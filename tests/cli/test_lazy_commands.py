"""The commands that live in their own modules are imported only when used: the names the ``mlspec``
group announces are exactly the ones those modules register, and ``mlspec validate`` imports none of them."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
from click.testing import CliRunner

from mlspec.cli import _COMMAND_MODULES, cli

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"


def test_each_lazy_name_is_what_its_module_registers() -> None:
    for module_name in sorted(set(_COMMAND_MODULES.values())):
        group = click.Group()
        importlib.import_module(module_name).register(group)
        announced = sorted(name for name, module in _COMMAND_MODULES.items() if module == module_name)
        assert sorted(group.commands) == announced, module_name


def test_help_lists_every_command_and_a_lazy_one_runs() -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["--help"])
    assert listed.exit_code == 0
    for name in (*_COMMAND_MODULES, "validate", "build", "schema"):
        assert f"\n  {name} " in listed.output, name
    plan_help = runner.invoke(cli, ["plan", "--help"])
    assert plan_help.exit_code == 0
    assert "Usage: cli plan" in plan_help.output or "Usage: mlspec plan" in plan_help.output
    assert runner.invoke(cli, ["no-such-command"]).exit_code == 2


def test_validate_imports_no_other_command_module() -> None:
    code = textwrap.dedent(
        f"""
        import contextlib, io, json, sys
        from mlspec.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["validate", {str(CONTRACT)!r}, "-q"])
            except SystemExit as exit:
                outcome = exit.code
        loaded = sorted(m for m in {sorted(set(_COMMAND_MODULES.values()))!r} if m in sys.modules)
        print(json.dumps({{"outcome": outcome, "loaded": loaded}}))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result == {"outcome": 0, "loaded": []}


def test_validate_skips_pydantic_plugin_discovery_and_restores_the_environment() -> None:
    code = textwrap.dedent(
        f"""
        import contextlib, io, json, os
        from mlspec.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["validate", {str(CONTRACT)!r}, "-q"])
            except SystemExit as exit:
                outcome = exit.code
        import pydantic.plugin._loader as plugins
        print(json.dumps({{"outcome": outcome, "scanned": plugins._plugins is not None,
                          "env": os.environ.get("PYDANTIC_DISABLE_PLUGINS")}}))
        """
    )
    environ = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environ,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"outcome": 0, "scanned": False, "env": None}
