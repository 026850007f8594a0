"""Warm imports: the monitor's and report's heavy modules load in the background, and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys

from mlspec.runtime import warm_imports

PROBE = """
import json, sys
from mlspec.runtime import warm_imports
thread = warm_imports.warm(sys.argv[1:])
if thread is not None:
    thread.join(timeout=120)
print(json.dumps({m: m in sys.modules for m in ("scipy", "matplotlib", "mlspec.runtime.report")}))
"""


def probe(*steps: str) -> dict[str, bool]:
    done = subprocess.run([sys.executable, "-c", PROBE, *steps], capture_output=True, text=True, check=True)
    loaded: dict[str, bool] = json.loads(done.stdout)
    return loaded


def test_the_report_and_monitor_modules_load_in_the_background() -> None:
    assert probe("train", "report") == {"scipy": True, "matplotlib": True, "mlspec.runtime.report": True}


def test_steps_without_heavy_imports_start_no_thread() -> None:
    assert warm_imports.warm(["seed", "transforms"]) is None
    assert probe("seed") == {"scipy": False, "matplotlib": False, "mlspec.runtime.report": False}
