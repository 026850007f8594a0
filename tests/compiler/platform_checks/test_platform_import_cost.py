"""Importing the package must not import any SDK: the checks run only behind ``mlspec build --check``."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROBE = (
    "import mlspec.compiler.platform_checks, sys; "
    "heavy = sorted(m for m in sys.modules "
    "if m.startswith(('azure', 'kubernetes_validate', 'nbformat', 'jsonschema'))); "
    "assert not heavy, heavy"
)


def test_importing_the_package_imports_no_sdk() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
