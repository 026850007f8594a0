"""Benchmark: ``mlspec run`` on each example project — wall time per step, and mlspec's own overhead.

    python bench/run.py [--projects churn diabetes digits] [--out bench/.work/run]

Each project is copied to ``--out`` (a fresh lake every time) and run whole through the library API
(what ``mlspec run`` calls). The scoring environment is built once beforehand (it is cached across
runs), so the figures are those of a run on a machine that has run mlspec before.

Overhead is everything except the engines' own work: the total wall time (build + apply + chain)
minus Spark (session start-up and jobs, as ``transforms`` measures them), the training processes
(model fitting, each Azure ML step as its own process), the scoring server's start-up, and the
project's own seed program (the example's data generator: the project's code, not mlspec's; the
table shows it in its own column). The bar is overhead <= 10% of the total.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mlspec import api  # noqa: E402
from mlspec.runtime.progress import PlainProgress  # noqa: E402

ENGINE_KEYS = ("spark", "training_processes", "server_start", "seed_program")
# The examples' Key Vault secrets have no value here: the same stand-ins as `make demo`.
DEMO_SECRETS = {
    "MLSPEC_SECRET_CRM_API_KEY": "local-demo",
    "MLSPEC_SECRET_APPINSIGHTS_CONNECTION_STRING": "local-demo",
    "MLSPEC_SECRET_EHR_CLIENT_CERTIFICATE": "local-demo",
    "MLSPEC_SECRET_SORTING_LINE_API_KEY": "local-demo",
}


def run_project(name: str, out: Path) -> dict[str, object]:
    target = out / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(REPO / "projects" / name, target, ignore=shutil.ignore_patterns(".mlspec", "build"))
    started = time.monotonic()
    environ = {**DEMO_SECRETS, **os.environ}
    record = api.run(target / "mlproject.yaml", progress=PlainProgress(quiet=True), environ=environ)
    wall = time.monotonic() - started
    if record["status"] != "succeeded":
        raise SystemExit(f"{name}: the run failed: {record['error']}")
    timings = record["timings"]
    assert isinstance(timings, dict)
    engines = sum(float(timings[k]) for k in ENGINE_KEYS)
    steps = {str(s["name"]): float(s["seconds"]) for s in record["steps"]}  # type: ignore[union-attr]
    return {
        "project": name,
        "wall": round(wall, 2),
        "steps": steps,
        "engines": {k: float(timings[k]) for k in ENGINE_KEYS},
        "overhead": round(wall - engines, 2),
        "overhead_share": round((wall - engines) / wall, 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", nargs="+", default=["churn", "diabetes", "digits"])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / ".work" / "run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    # Warm-up: the first run on a machine builds the cached scoring environment; not measured.
    run_project(args.projects[0], args.out / "warm-up")
    results = [run_project(name, args.out) for name in args.projects]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    steps = list(results[0]["steps"])  # type: ignore[arg-type]
    print("| project | " + " | ".join(steps) + " | total | engines | mlspec overhead |")
    print("|---" * (len(steps) + 4) + "|")
    for r in results:
        cells = [f"{r['steps'][s]:.1f} s" for s in steps]  # type: ignore[index]
        engines = sum(r["engines"].values())  # type: ignore[union-attr]
        print(
            f"| {r['project']} | "
            + " | ".join(cells)
            + f" | {r['wall']:.1f} s | {engines:.1f} s | {r['overhead']:.1f} s ({100 * float(r['overhead_share']):.1f}%) |"  # type: ignore[arg-type]
        )


if __name__ == "__main__":
    main()
