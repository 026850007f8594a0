"""A handled interrupt exits with mlspec's own code, whatever library code the signal landed in.

CPython remembers a ``KeyboardInterrupt`` that left an ``eval`` of a string (every namedtuple and
dataclass is one) and, under ``python -m``, then ends the process by SIGINT even though the
interrupt was caught. Each program below lets one escape an eval and catches it, as a SIGTERM that
lands in a library's eval during ``mlspec run`` does, then exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ESCAPE = """
def escape():
    try:
        eval("(_ for _ in ()).throw(KeyboardInterrupt)")
    except KeyboardInterrupt:
        pass
"""


def _run_module(tmp_path: Path, body: str) -> int:
    (tmp_path / "interrupted_program.py").write_text(ESCAPE + body, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "interrupted_program"],
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode


def test_without_mlspec_the_caught_interrupt_still_ends_the_process_by_sigint(tmp_path: Path) -> None:
    # The interpreter behaviour the fix is for; should a Python release change it, this says so.
    if sys.version_info[:2] != (3, 11):
        pytest.skip("measured on CPython 3.11, the version mlspec pins")
    assert _run_module(tmp_path, "import sys\nescape()\nsys.exit(130)\n") == -2


def test_forgetting_the_handled_interrupt_lets_the_exit_code_stand(tmp_path: Path) -> None:
    body = "import sys\nfrom mlspec.cli_conventions import forget_handled_interrupts\n"
    assert _run_module(tmp_path, body + "escape()\nforget_handled_interrupts()\nsys.exit(130)\n") == 130


def test_the_command_line_forgets_an_interrupt_its_command_handled(tmp_path: Path) -> None:
    # The command (a stand-in for run, serve or apply) catches the interrupt and exits 130 itself.
    body = (
        "import sys\nimport mlspec.cli\n"
        "def command(**kwargs):\n    escape()\n    sys.exit(130)\n"
        "mlspec.cli.cli.main = command\nmlspec.cli.main([])\n"
    )
    assert _run_module(tmp_path, body) == 130
