"""Benchmark `mlspec validate`: (a) one spec cold, against check-jsonschema on the same file with the
exported schema; (b) throughput over 1,000 generated specs in one call.

Run: python3 bench/validate.py [--runs 15] [--specs 1000]
Figures go to docs/benchmarks.md by hand (with this command and the machine). No unit test times anything.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
SPEC = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"
SCHEMA = ROOT / "mlspec" / "spec_schema" / "mlproject.v1.schema.json"


def _script(name: str) -> str:
    """The console script itself (not a pyenv shim, which adds ~100 ms of bash)."""
    candidate = Path(sysconfig.get_path("scripts")) / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        sys.exit(f"{name} is not installed: pip install -e '.[test]'")
    return found


def _wall(command: list[str], runs: int, expect: int = 0) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != expect:
            sys.exit(
                f"{command} exited {done.returncode}: {done.stdout.decode()[-500:]} {done.stderr.decode()[-500:]}"
            )
    return times


def _summary(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"


def generate_specs(count: int) -> Path:
    """``count`` distinct, valid specs: the contract example with its own name, lake account and sizes."""
    target = WORK / "specs"
    if target.exists():
        shutil.rmtree(target)
    text = SPEC.read_text(encoding="utf-8")
    for i in range(count):
        folder = target / f"p{i:04d}"
        folder.mkdir(parents=True)
        spec = (
            text.replace("name: churn\n", f"name: churn{i:04d}\n", 1)
            .replace("contosolakedev", f"lake{i:04d}dev")
            .replace("n_estimators: 200", f"n_estimators: {100 + i % 300}")
            .replace("threshold: 250", f"threshold: {200 + i % 100}")
        )
        (folder / "mlproject.yaml").write_text(spec, encoding="utf-8")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--specs", type=int, default=1000)
    args = parser.parse_args()
    mlspec = _script("mlspec")
    print(
        f"python {sys.version.split()[0]}, spec {SPEC.relative_to(ROOT)} ({len(SPEC.read_text().splitlines())} lines)"
    )

    _wall([mlspec, "validate", str(SPEC), "-q"], 2)  # warm the OS file cache, not Python
    ours = _wall([mlspec, "validate", str(SPEC), "-q"], args.runs)
    print(f"(a) mlspec validate, one spec, cold process: {_summary(ours)}")
    peer = shutil.which("check-jsonschema") and _script("check-jsonschema")
    if peer:
        command = [peer, "--schemafile", str(SCHEMA), str(SPEC)]
        _wall(command, 2)
        theirs = _wall(command, args.runs)
        ratio = statistics.median(theirs) / statistics.median(ours)
        print(
            f"    check-jsonschema (schema only), same file:  {_summary(theirs)}  -> mlspec is {ratio:.1f}x faster"
        )
    else:
        print("    check-jsonschema not installed: pip install check-jsonschema")

    folder = generate_specs(args.specs)
    runs = 3
    times = _wall([mlspec, "validate", str(folder), "-q"], runs)
    best = min(times)
    print(
        f"(b) mlspec validate over {args.specs} specs in one call: best {best:.2f} s = {args.specs / best:.0f} specs/s "
        f"({_summary(times)})"
    )


if __name__ == "__main__":
    main()
