"""Benchmark: build, plan and apply of one big project, each as a fresh process, wall time and peak RSS.

    python3 bench/scale.py [--resources 100,1000,5000] [--runs 1] [--shape notebooks|grants]
                           [--profile] [--code DIR] [--max-apply-seconds 60]

For each size, generates a copy of ``projects/churn`` grown by N chained SQL transforms
(``bench/scale_project.py``; N chosen from two probe builds so that ``mlspec build`` reports about
that many resources; the real count is printed) in ``bench/.work/scale/<shape>-r<size>/`` and times, each
as ``python -m mlspec ...`` in a fresh process in the project's folder:

1. ``build --env local`` (into the project's ``build/``, removed first);
2. ``plan --env local`` without the build cache (``.mlspec/`` removed: no cache, empty state);
3. ``apply --env local --auto-approve -q`` on the embedded local provider (state and local
   workspace removed first, the build cache of step 2 kept, as after a plan);
4. ``plan --env local --detailed-exitcode`` with no changes after the apply (cache warm; must exit 0);
5. the same no-change plan with the build cache removed (the first plan in a fresh checkout).

Peak RSS comes from ``/usr/bin/time -v`` when it is there, else from ``getrusage(RUSAGE_CHILDREN)``
in a wrapper process per run. Children run with a bytecode cache (``PYTHONPYCACHEPREFIX`` under
``bench/.work/scale/``, as after ``pip install``); the probe builds fill it. ``--runs K`` repeats the
five steps K times per size (medians shown). Then a markdown table, and how much faster than the
resource count each measure grows between the two largest sizes (issue 10 wants at most 1.3x).

``--profile`` then runs each step once more under ``bench/scale_profile.py`` (cProfile of every
thread: apply works on a thread pool) and writes ``bench/.work/scale/profiles/<shape>-r<resources>-<step>.prof``
plus the top functions by cumulative and by own time in a ``.txt`` beside it. ``--code DIR`` runs the mlspec
package found in DIR (e.g. an export of a commit) instead of this checkout's. A size whose apply
takes longer than ``--max-apply-seconds`` is the last one measured (an apply that grows
quadratically would take hours at 5,000 resources). Figures go to docs/benchmarks.md by hand; no unit test times anything.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_project import SHAPES, write_project  # bench/ is not a package

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work" / "scale"
PROFILER = ROOT / "bench" / "scale_profile.py"
GNU_TIME = Path("/usr/bin/time")
PROBE_TRANSFORMS = 10
GROWTH_LIMIT = 1.3
SPEC = "mlproject.yaml"
ENV = ["--env", "local"]

STEPS: dict[str, str] = {
    "build": "build",
    "plan_no_cache": "plan, no cache",
    "apply": "apply, local provider",
    "plan_no_changes": "plan, no changes",
    "plan_no_changes_no_cache": "plan, no changes, no cache",
}
TARGETS_AT_1000: dict[str, tuple[float | None, float | None]] = {
    # issue 10, "Must show": (seconds, MB) at 1,000 resources; None where it sets none
    "build": (1.5, None),
    "plan_no_cache": (1.5, 150.0),
    "apply": (10.0, None),
    "plan_no_changes": (0.5, None),
}

_RUSAGE_WRAPPER = """\
import json, resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.run(sys.argv[2:], check=False).returncode
wall = time.perf_counter() - started
used = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as report:
    json.dump({"wall": wall, "cpu": used.ru_utime + used.ru_stime, "rss_kb": used.ru_maxrss}, report)
sys.exit(code)
"""


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    rss_mb: float


@dataclass
class SizeResult:
    wanted: int
    shape: str
    transforms: int
    resources: int
    samples: dict[str, list[Sample]]

    def median(self, step: str, field: str) -> float:
        values: list[float] = [getattr(sample, field) for sample in self.samples[step]]
        return statistics.median(values)


def child_env(code_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    env.update(
        PYTHONPATH=str(code_dir),
        PYTHONPYCACHEPREFIX=str(WORK / "pycache"),
        NO_COLOR="1",
    )
    return env


def _parse_gnu_time(report: str) -> tuple[float, float]:
    """(CPU seconds, peak RSS in kB) from ``/usr/bin/time -v``'s report."""
    found = {}
    for label in ("User time (seconds)", "System time (seconds)", "Maximum resident set size (kbytes)"):
        match = re.search(rf"{re.escape(label)}: ([0-9.]+)", report)
        if not match:
            raise RuntimeError(f"/usr/bin/time -v printed no {label!r}:\n{report}")
        found[label] = float(match.group(1))
    cpu = found["User time (seconds)"] + found["System time (seconds)"]
    return cpu, found["Maximum resident set size (kbytes)"]


def measure(
    command: Sequence[str], cwd: Path, env: Mapping[str, str]
) -> tuple[Sample, subprocess.CompletedProcess[str]]:
    """Run ``command`` once in a fresh process: its wall time, CPU time and peak RSS."""
    with tempfile.TemporaryDirectory(prefix="mlspec-scale-") as tmp:
        report = Path(tmp) / "usage"
        if GNU_TIME.exists():
            wrapped = [str(GNU_TIME), "-v", "-o", str(report), *command]
        else:
            wrapped = [sys.executable, "-c", _RUSAGE_WRAPPER, str(report), *command]
        started = time.perf_counter()
        done = subprocess.run(wrapped, cwd=cwd, env=dict(env), capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(
                f"{' '.join(command)} (in {cwd}) exited {done.returncode}:\n"
                f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )
        if GNU_TIME.exists():
            cpu, rss_kb = _parse_gnu_time(report.read_text())
        else:
            usage = json.loads(report.read_text())
            wall, cpu, rss_kb = usage["wall"], usage["cpu"], usage["rss_kb"]
    return Sample(wall=wall, cpu=cpu, rss_mb=rss_kb / 1024), done


def mlspec(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlspec", *args]


def built_resources(folder: Path, env: Mapping[str, str]) -> int:
    """How many resources ``mlspec build`` reports for the project in ``folder``."""
    shutil.rmtree(folder / "build", ignore_errors=True)
    _, done = measure(mlspec("build", SPEC, *ENV, "--format", "json"), folder, env)
    return int(json.loads(done.stdout)["resources"])


def sized_project(wanted: int, shape: str, env: Mapping[str, str]) -> tuple[Path, int, int]:
    """A project of about ``wanted`` resources: (folder, transforms, resources)."""
    folder = WORK / f"{shape}-r{wanted}"
    write_project(folder, 0, shape)
    base = built_resources(folder, env)
    write_project(folder, PROBE_TRANSFORMS, shape)
    per_transform = (built_resources(folder, env) - base) / PROBE_TRANSFORMS
    if per_transform <= 0:
        sys.exit(
            f"{PROBE_TRANSFORMS} extra transforms added no resource: the generator no longer fits mlspec"
        )
    transforms = max(0, round((wanted - base) / per_transform))
    write_project(folder, transforms, shape)
    return folder, transforms, built_resources(folder, env)


def _clear_state(folder: Path) -> None:
    """Everything apply left under ``.mlspec/`` (state, lock, journal, local workspace) except the build cache."""
    hidden = folder / ".mlspec"
    if hidden.is_dir():
        for entry in hidden.iterdir():
            if entry.name != "cache":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _clear_cache(folder: Path) -> None:
    shutil.rmtree(folder / ".mlspec" / "cache", ignore_errors=True)


@dataclass(frozen=True)
class Step:
    key: str
    args: list[str]
    prepare: Callable[[], None]
    """What to clear before the step runs."""


def step_commands(folder: Path) -> list[Step]:
    """The five steps, in the order they run; every one must exit 0 (``--detailed-exitcode``
    makes a plan that finds changes exit 2, so a no-change plan that is not one stops the run)."""

    def fresh_build() -> None:
        shutil.rmtree(folder / "build", ignore_errors=True)

    def fresh_checkout() -> None:
        shutil.rmtree(folder / ".mlspec", ignore_errors=True)

    return [
        Step("build", ["build", SPEC, *ENV, "-q"], fresh_build),
        Step("plan_no_cache", ["plan", *ENV, SPEC], fresh_checkout),
        Step("apply", ["apply", *ENV, "--auto-approve", "-q", SPEC], lambda: _clear_state(folder)),
        Step("plan_no_changes", ["plan", *ENV, "--detailed-exitcode", SPEC], lambda: None),
        Step(
            "plan_no_changes_no_cache",
            ["plan", *ENV, "--detailed-exitcode", SPEC],
            lambda: _clear_cache(folder),
        ),
    ]


def measure_size(wanted: int, shape: str, runs: int, env: Mapping[str, str]) -> tuple[SizeResult, Path]:
    folder, transforms, resources = sized_project(wanted, shape, env)
    print(f"\n{resources} resources ({transforms} extra transforms, shape {shape}) in {folder}", flush=True)
    samples: dict[str, list[Sample]] = {key: [] for key in STEPS}
    for run in range(runs):
        for step in step_commands(folder):
            step.prepare()
            sample, _ = measure(mlspec(*step.args), folder, env)
            samples[step.key].append(sample)
            print(
                f"  run {run + 1}/{runs} {STEPS[step.key]:27} wall {sample.wall:7.2f} s  CPU {sample.cpu:7.2f} s  "
                f"peak RSS {sample.rss_mb:6.0f} MB",
                flush=True,
            )
    return SizeResult(wanted, shape, transforms, resources, samples), folder


_PLUMBING = (
    r"^(?!.*(<frozen runpy>|click/|builtins.exec|mlspec/cli|mlspec/__main__|threading\.py|concurrent/futures"
    r"|<frozen importlib|builtins.__import__))"
)
"""Frames every step passes through (runpy, click, the CLI wrappers, the pool's threads, the import
machinery): they top any cumulative listing and say nothing about where the time goes. Imports are
summed on a line of their own instead."""
_IMPORT_FRAME = "_find_and_load"


def _import_seconds(stats: pstats.Stats) -> float:
    """Cumulative time of importing modules (cProfile counts only outermost calls of a recursive frame)."""
    table: dict[tuple[str, int, str], tuple[int, int, float, float, object]] = stats.stats  # type: ignore[attr-defined]
    return sum(
        cumulative
        for (file, _, function), (_, _, _, cumulative, _) in table.items()
        if function == _IMPORT_FRAME and file.startswith("<frozen importlib")
    )


def write_listing(profile: Path, top: int) -> Path:
    """``profile``'s top functions into a ``.txt`` beside it: by cumulative time below the CLI and
    the thread pool, by cumulative time overall, and by own time."""
    listing = io.StringIO()
    stats = pstats.Stats(str(profile), stream=listing)
    listing.write(f"== importing modules: {_import_seconds(stats):.3f} s cumulative\n")
    listing.write("== cumulative time, below the CLI, the thread pool and the import machinery\n")
    stats.sort_stats("cumulative").print_stats(_PLUMBING, top)
    listing.write("== cumulative time, all frames (a pool thread's include its waits)\n")
    stats.print_stats(top)
    listing.write("== own time\n")
    stats.sort_stats("tottime").print_stats(top)
    target = profile.with_suffix(".txt")
    target.write_text(listing.getvalue(), encoding="utf-8")
    return target


def profile_size(result: SizeResult, folder: Path, env: Mapping[str, str], top: int) -> None:
    """Each step once more under the all-thread profiler; stats and a top-``top`` listing per step."""
    target = WORK / "profiles"
    target.mkdir(parents=True, exist_ok=True)
    for step in step_commands(folder):
        step.prepare()
        out = target / f"{result.shape}-r{result.resources}-{step.key}.prof"
        command = [sys.executable, str(PROFILER), str(out), "mlspec", *step.args]
        sample, _ = measure(command, folder, env)
        write_listing(out, top)
        print(
            f"  profiled {STEPS[step.key]:27} wall {sample.wall:7.2f} s (profiler on) -> {out.relative_to(ROOT)}"
        )


def _cell(result: SizeResult, step: str) -> str:
    wall, rss = result.median(step, "wall"), result.median(step, "rss_mb")
    spread = ""
    if len(result.samples[step]) > 1:
        spread = f" (min {min(s.wall for s in result.samples[step]):.2f})"
    return f"{wall:.2f} s{spread}, {rss:.0f} MB"


def table(results: list[SizeResult]) -> str:
    header = ["extra transforms", "resources", *STEPS.values()]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for result in results:
        cells = [str(result.transforms), f"{result.resources:,}", *(_cell(result, step) for step in STEPS)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def growth(small: SizeResult, big: SizeResult) -> str:
    """Each measure's growth from ``small`` to ``big`` divided by the resource count's growth."""
    resource_growth = big.resources / small.resources
    lines = [
        f"growth {small.resources:,} -> {big.resources:,} resources ({resource_growth:.2f}x), "
        f"each measure's growth / the resource count's (target <= {GROWTH_LIMIT}):"
    ]
    for step, label in STEPS.items():
        parts = []
        for field, unit in (("wall", "wall"), ("rss_mb", "peak RSS")):
            ratio = big.median(step, field) / small.median(step, field) / resource_growth
            verdict = "ok" if ratio <= GROWTH_LIMIT else "OVER"
            parts.append(f"{unit} {ratio:.2f} {verdict}")
        lines.append(f"  {label:27} " + "; ".join(parts))
    return "\n".join(lines)


def targets(results: list[SizeResult]) -> str:
    """Issue 10's figures at 1,000 resources, against the size measured closest to it (if any is close)."""
    closest = min(results, key=lambda r: abs(r.resources - 1000))
    if not 800 <= closest.resources <= 1250:
        return "issue 10's targets are at 1,000 resources: no size measured near it"
    lines = [f"issue 10's targets at 1,000 resources, checked at {closest.resources:,}:"]
    for step, (seconds, megabytes) in TARGETS_AT_1000.items():
        wall, rss = closest.median(step, "wall"), closest.median(step, "rss_mb")
        wanted = (
            [f"wall {wall:.2f} s <= {seconds} s: {'ok' if wall <= seconds else 'OVER'}"] if seconds else []
        )
        if megabytes:
            wanted.append(
                f"peak RSS {rss:.0f} MB <= {megabytes:.0f} MB: {'ok' if rss <= megabytes else 'OVER'}"
            )
        lines.append(f"  {STEPS[step]:27} " + "; ".join(wanted))
    return "\n".join(lines)


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"comma-separated resource counts, e.g. 100,1000: {error}") from None
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("at least one resource count, each >= 1")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resources", "--sizes", dest="sizes", type=_sizes, default=_sizes("100,1000,5000"))
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--shape", choices=SHAPES, default="notebooks")
    parser.add_argument("--profile", action="store_true", help="cProfile each step once more per size")
    parser.add_argument("--profile-top", type=int, default=15, help="functions listed per profile")
    parser.add_argument("--code", type=Path, default=ROOT, help="folder holding the mlspec package to run")
    parser.add_argument("--max-apply-seconds", type=float, default=60.0)
    args = parser.parse_args()
    code_dir = args.code.resolve()
    if not (code_dir / "mlspec" / "__init__.py").is_file():
        sys.exit(f"--code {code_dir}: no mlspec package there")
    env = child_env(code_dir)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    rss_source = "/usr/bin/time -v" if GNU_TIME.exists() else "getrusage(RUSAGE_CHILDREN)"
    print(f"python {sys.version.split()[0]}, mlspec from {code_dir}, {os.cpu_count()} cores, load {load}")
    print(f"each step a fresh `python -m mlspec` process; peak RSS from {rss_source}")

    results: list[SizeResult] = []
    for wanted in args.sizes:
        result, folder = measure_size(wanted, args.shape, max(1, args.runs), env)
        results.append(result)
        if args.profile:
            profile_size(result, folder, env, args.profile_top)
        if result.median("apply", "wall") > args.max_apply_seconds and wanted != args.sizes[-1]:
            print(
                f"apply took {result.median('apply', 'wall'):.0f} s > --max-apply-seconds {args.max_apply_seconds:.0f}: "
                "larger sizes skipped"
            )
            break

    print(f"\nload after: {', '.join(f'{value:.2f}' for value in os.getloadavg())}\n")
    print(table(results))
    if len(results) > 1:
        print()
        print(growth(results[-2], results[-1]))
    print()
    print(targets(results))


if __name__ == "__main__":
    main()
