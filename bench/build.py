"""Benchmark `mlspec build`: (a) one example project built by a fresh process, as a user or CI runs it,
with its start-up and import cost broken out; (b) the same build in-process through ``api.build``.

Run: python3 bench/build.py [--runs 15] [--spec projects/churn/mlproject.yaml] [--env dev]

Issue target for (a): <= 0.4 s. Figures go to docs/benchmarks.md `## build` by hand, with this command,
the machine and its load (``uptime``) at the time. No unit test times anything.

(a) runs twice: with a bytecode cache, as after ``pip install`` (kept in a temporary
``PYTHONPYCACHEPREFIX``, so the working tree gets no ``__pycache__``), and without one
(``PYTHONDONTWRITEBYTECODE=1``: every mlspec module is compiled from source on each start, as in
an environment that sets it). CPU time (user + system) is printed beside wall time: a shared,
loaded machine inflates wall time far more than CPU time.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT / "projects" / "churn" / "mlproject.yaml"
TARGET_SECONDS = 0.4
IMPORTS = "import mlspec.cli, mlspec.api, mlspec.compiler.services"


def _script(name: str) -> str:
    """The console script itself (not a pyenv shim, which adds ~100 ms of bash)."""
    candidate = Path(sysconfig.get_path("scripts")) / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        sys.exit(f"{name} is not installed: pip install -e '.[test]'")
    return found


def _run(command: list[str], runs: int, env: Mapping[str, str]) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (user + system) seconds of each run."""
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, check=False, cwd=ROOT, env=dict(env))
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            output = done.stdout.decode()[-500:] + done.stderr.decode()[-500:]
            sys.exit(f"{command} exited {done.returncode}: {output}")
    return wall, cpu


def _ms(times: list[float]) -> str:
    return (
        f"median {statistics.median(times) * 1000:.0f} ms "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}, {len(times)} runs)"
    )


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def fresh_process(command: list[str], runs: int, env: Mapping[str, str], label: str) -> float:
    """Time ``command`` and its parts (interpreter start-up, imports); returns the build's median wall."""
    _run(command, 2, env)  # fills the bytecode cache (when there is one) and the OS file cache
    wall, cpu = _run(command, runs, env)
    print(f"  {label}")
    print(f"    mlspec build  wall {_ms(wall)}; CPU {_ms(cpu)}")
    for part, code in (("start-up", "pass"), ("imports", IMPORTS)):
        _run([sys.executable, "-c", code], 1, env)
        part_wall, part_cpu = _run([sys.executable, "-c", code], runs, env)
        print(f"    {part:12}  wall {_ms(part_wall)}; CPU {_ms(part_cpu)}")
    return statistics.median(wall)


def in_process(spec: Path, env: str, runs: int, out: Path) -> None:
    """First ``api.build`` in this process (renderer imports included), then warm builds."""
    start = time.perf_counter()
    from mlspec import api

    result = api.build(spec, env, out_dir=out, environ={})
    first = time.perf_counter() - start
    warm = []
    for _ in range(runs):
        start = time.perf_counter()
        api.build(spec, env, out_dir=out, environ={})
        warm.append(time.perf_counter() - start)
    resources = len(result.manifest.resources)
    print(
        f"(b) api.build in-process, {resources} resources: first call {first * 1000:.0f} ms; warm {_ms(warm)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--env", default="dev")
    args = parser.parse_args()
    spec = args.spec.resolve()
    shown = spec.relative_to(ROOT) if spec.is_relative_to(ROOT) else spec
    print(f"python {sys.version.split()[0]}, {shown} --env {args.env}; {_load()}")

    with tempfile.TemporaryDirectory(prefix="mlspec-bench-build-") as tmp:
        out = Path(tmp) / "out"
        command = [_script("mlspec"), "build", str(spec), "--env", args.env, "--out", str(out)]
        print(f"(a) fresh process: mlspec build {shown} --env {args.env} --out <tmp>")
        base = {
            k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
        }
        cached = {**base, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")}
        median = fresh_process(command, args.runs, cached, "with a bytecode cache (as installed):")
        fresh_process(command, args.runs, {**base, "PYTHONDONTWRITEBYTECODE": "1"}, "without one:")
        verdict = "within" if median <= TARGET_SECONDS else "OVER"
        print(f"  with a bytecode cache the median wall is {verdict} the {TARGET_SECONDS:.1f} s target")
        in_process(spec, args.env, args.runs, Path(tmp) / "in-process")
    print(f"after: {_load()}")


if __name__ == "__main__":
    main()
