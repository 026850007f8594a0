"""Benchmark: how fast ``mlspec plan`` on an Azure environment fails on a machine without credentials.

    python bench/azure_no_credentials.py [--runs 10] [--spec projects/churn/mlproject.yaml] [--env prod]

The issue's bound is one second: the provider asks ``DefaultAzureCredential`` for one Resource Manager
token before it reads anything, and MLS816 ends the command. Each run is a fresh process with the
Azure variables removed, ``PATH`` without ``az``/``azd``/``pwsh`` and an empty ``HOME`` (no token
caches), so every credential of the chain is tried. Reports the median and the slowest wall time,
next to ``mlspec validate`` of the same spec in the same run (the floor: start-up, loading, checks).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(command: list[str], env: dict[str, str], expect: int) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != expect:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}, not {expect}:\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--spec", default="projects/churn/mlproject.yaml")
    parser.add_argument("--env", default="prod")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
        env.update({"HOME": home, "PATH": str(Path(sys.executable).parent), "NO_COLOR": "1"})
        plan = [sys.executable, "-m", "mlspec", "plan", args.spec, "--env", args.env]
        validate = [sys.executable, "-m", "mlspec", "validate", args.spec, "--env", args.env]
        timed(plan, env, 1)  # warm the build cache and the file system, as a second plan would be
        plans = [timed(plan, env, 1) for _ in range(args.runs)]
        validates = [timed(validate, env, 0) for _ in range(args.runs)]
    print(
        f"plan without credentials (MLS816): median {statistics.median(plans):.2f} s, max {max(plans):.2f} s"
    )
    print(f"validate, same spec:               median {statistics.median(validates):.2f} s")
    print(f"runs: {args.runs}; python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
