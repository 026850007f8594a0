"""Where one command's time goes, phase by phase, in one process: the figures behind docs/benchmarks.md.

    python3 bench/phases.py compile SPEC [--env local] [--runs 5]
        compile_spec of a resolved spec, best of RUNS, per service render and check
    python3 bench/phases.py plan SPEC_FOLDER [--env local]
        one `mlspec plan --detailed-exitcode` with the cache load, state read, refresh and plan timed

Run it from a project made by bench/scale.py (bench/.work/scale/<shape>-r<size>/) to see what grows.
Timings wrap the library's own functions (monkeypatching), so they add a few microseconds a call.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TIMES: dict[str, float] = {}


def _timed(key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            TIMES[key] = TIMES.get(key, 0.0) + time.perf_counter() - start

    return wrapper


def compile_phases(spec: str, environment: str, runs: int) -> None:
    from mlspec import api
    from mlspec.compiler import build, services

    timed_services = []
    for service in services.SERVICES:
        changes = {
            f.name: _timed(f"{service.name}.{f.name}", getattr(service, f.name))
            for f in dataclasses.fields(service)
            if f.name in ("render", "check") and callable(getattr(service, f.name))
        }
        timed_services.append(dataclasses.replace(service, **changes))
    services.SERVICES = tuple(timed_services)
    build.record_outputs = _timed("record_outputs", build.record_outputs)  # type: ignore[assignment]
    build.payload_hash = _timed("payload_hash", build.payload_hash)  # type: ignore[assignment]
    resolved = api.resolve(api.load(spec), environment, None, None)
    best: dict[str, float] = {}
    for _ in range(runs):
        TIMES.clear()
        start = time.perf_counter()
        build.compile_spec(resolved.spec, resolved.model)  # type: ignore[arg-type]
        TIMES["compile_spec (total)"] = time.perf_counter() - start
        for key, value in TIMES.items():
            best[key] = min(best.get(key, float("inf")), value)
    for key, value in sorted(best.items(), key=lambda item: -item[1]):
        print(f"{key:28} {value * 1000:8.1f} ms")


def plan_phases(folder: str, environment: str) -> None:
    started = time.perf_counter()
    from mlspec import cli
    from mlspec.api import deploy
    from mlspec.compiler import cache
    from mlspec.plan import operations

    imported = time.perf_counter()
    cache.load = _timed("cache.load", cache.load)  # type: ignore[assignment]
    deploy.load_desired = _timed("load_desired (cache or build)", deploy.load_desired)  # type: ignore[assignment]
    operations.read_state = _timed("read_state", operations.read_state)  # type: ignore[assignment]
    operations.refresh_live = _timed("refresh_live", operations.refresh_live)  # type: ignore[assignment]
    operations.plan_desired = _timed("plan_desired (all of the plan)", operations.plan_desired)  # type: ignore[assignment]
    os.chdir(folder)
    sys.argv = ["mlspec", "plan", "--env", environment, "--detailed-exitcode"]
    try:
        cli.main()
    except SystemExit as done:
        code = done.code
    finished = time.perf_counter()
    print(
        f"exit {code}; imports {imported - started:.3f} s, total {finished - started:.3f} s", file=sys.stderr
    )
    for key, value in TIMES.items():
        print(f"  {key:32} {value:.3f} s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["compile", "plan"])
    parser.add_argument("path")
    parser.add_argument("--env", default="local")
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    if options.what == "compile":
        compile_phases(options.path, options.env, options.runs)
    else:
        plan_phases(options.path, options.env)


if __name__ == "__main__":
    main()
