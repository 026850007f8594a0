"""Benchmark: ``mlspec plan`` with no changes over ~100 resources on the local state and provider.

    python bench/plan.py [--resources 100] [--runs 10] [--renderer auto|real|synthetic]

Generates a project in ``bench/.work/plan/`` with enough transforms for the wanted resource
count, applies it once, then times ``mlspec plan --detailed-exitcode`` (refresh on: the lock
is taken and every resource is read back from the local workspace), which must report no
changes. Timing uses hyperfine when it is installed, else repeated subprocess runs.

``--renderer real`` builds with mlspec's own renderers (``python -m mlspec``); ``synthetic``
with the test renderer of ``tests/plan/synthetic.py`` (one notebook per transform plus a
few other resources), which stands in while the real renderers produce fewer resources than
wanted; ``auto`` (default) picks real when it reaches the count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlspec.api import deploy as api_deploy

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work" / "plan"
SYNTHETIC_CLI = REPO / "tests" / "plan" / "synthetic_cli.py"

HEADER = """\
apiVersion: mlspec/v1
project: {name: benchplan, description: plan benchmark, owner: bench@contoso.com}
workspace:
  subscription_id: 00000000-0000-0000-0000-000000000000
  resource_group: rg-bench
  location: westeurope
  machine_learning: mlw-bench
  synapse: syn-bench
  spark_pool: sparkpool01
  key_vault: kv-bench
  container_registry: acrbench
  kubernetes: aks-bench
  log_analytics: log-bench
  storage_account: benchlake
sources:
  events:
    path: abfss://raw@benchlake.dfs.core.windows.net/events/
    format: parquet
    schema: {customer_id: string, amount: double, churned: int}
transforms:
"""
TRANSFORM = """\
  t{i:03d}:
    inputs: [{input}]
    sql: SELECT customer_id, amount + {i} AS amount, churned FROM {input}
    output: {{path: "abfss://curated@benchlake.dfs.core.windows.net/t{i:03d}/", format: delta}}
"""
FOOTER = """\
model:
  name: bench-model
  task: classification
  training:
    data: t000
    target: churned
    features: [amount]
    estimator: sklearn.linear_model.LogisticRegression
  evaluation: {{metrics: [roc_auc], gate: {{roc_auc: ">= 0.5"}}}}
deployment: {{endpoint: bench-scoring, namespace: bench, network: {{allow_from: [10.0.0.0/16]}}}}
monitoring:
  notify: {{email: [bench@contoso.com]}}
  alerts:
    - {{name: errors, signal: error_rate, operator: ">", threshold: 0.02, window: 15m}}
"""


def write_project(folder: Path, transforms: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = HEADER
    for i in range(transforms):
        body += TRANSFORM.format(i=i, input="events" if i < 4 else f"t{(i - 4) // 2:03d}")
    body += FOOTER.format()
    spec = folder / "mlproject.yaml"
    spec.write_text(body, encoding="utf-8")
    return spec


def command(renderer: str) -> list[str]:
    return (
        [sys.executable, str(SYNTHETIC_CLI)] if renderer == "synthetic" else [sys.executable, "-m", "mlspec"]
    )


def count_resources(spec: Path, renderer: str) -> int:
    sys.path[:0] = [str(REPO), str(REPO / "tests")]
    if renderer == "synthetic":
        from plan.synthetic import load_desired  # type: ignore[import-not-found]

        return len(load_desired(spec, "local").resources)
    from mlspec import api

    try:
        return len(api.build(spec, "local").manifest.resources)
    except Exception:  # the real renderers may reject the generated spec while they are written
        return 0


def prepare(wanted: int, renderer: str) -> tuple[Path, int, str]:
    shutil.rmtree(WORK, ignore_errors=True)
    choices = ["real", "synthetic"] if renderer == "auto" else [renderer]
    for choice in choices:
        transforms = 1
        spec = write_project(WORK, transforms)
        per_transform_probe = count_resources(spec, choice)
        spec = write_project(WORK, 10)
        ten = count_resources(spec, choice)
        per = max(ten - per_transform_probe, 0) / 9
        if per <= 0:
            continue
        transforms = max(1, round((wanted - (ten - 10 * per)) / per))
        spec = write_project(WORK, transforms)
        found = count_resources(spec, choice)
        if found >= wanted * 0.95:
            return spec, found, choice
    raise SystemExit(f"no renderer gives {wanted} resources for the generated project")


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def breakdown(spec: Path, renderer: str, runs: int) -> None:
    """In-process: where a no-change plan spends its time (best of ``runs``)."""
    sys.path[:0] = [str(REPO), str(REPO / "tests")]
    from mlspec.plan import operations

    load = api_deploy.load_desired
    if renderer == "synthetic":
        from plan.synthetic import load_desired as load  # type: ignore[import-not-found]
    build_times, plan_times = [], []
    for _ in range(runs):
        started = time.perf_counter()
        desired = load(spec, "local")
        built = time.perf_counter()
        result = operations.plan_desired(desired)
        build_times.append(built - started)
        plan_times.append(time.perf_counter() - built)
        assert not result.plan.has_changes
    print(
        f"in-process, best of {runs}: spec load + validate + render {min(build_times):.3f} s; "
        f"plan (lock, state, refresh of {len(desired.resources)} resources, diff) {min(plan_times):.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resources", type=int, default=100)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--renderer", choices=["auto", "real", "synthetic"], default="auto")
    args = parser.parse_args()

    spec, found, renderer = prepare(args.resources, args.renderer)
    base = command(renderer)
    applied = run([*base, "apply", "--env", "local", "--auto-approve", "-q", str(spec)], WORK)
    if applied.returncode != 0:
        raise SystemExit(f"apply failed:\n{applied.stdout}\n{applied.stderr}")
    plan = [*base, "plan", "--env", "local", "--detailed-exitcode", str(spec)]
    check = run(plan, WORK)
    if check.returncode != 0:
        raise SystemExit(
            f"plan after apply is not a no-change plan (exit {check.returncode}):\n{check.stdout}"
        )

    print(f"project: {spec} ({found} resources, renderer {renderer})")
    print(f"command: (cd {WORK} && PYTHONPATH={REPO} {' '.join(plan)})")
    if shutil.which("hyperfine"):
        with tempfile.NamedTemporaryFile(suffix=".json") as export:
            subprocess.run(
                [
                    "hyperfine",
                    "--warmup",
                    "2",
                    "--runs",
                    str(args.runs),
                    "--export-json",
                    export.name,
                    "--command-name",
                    "mlspec plan (no changes)",
                    " ".join(plan),
                ],
                cwd=WORK,
                env={**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"},
                check=True,
            )
            result = json.loads(Path(export.name).read_text())["results"][0]
        times = result["times"]
        print(
            f"hyperfine: mean {result['mean']:.3f} s, min {result['min']:.3f} s, max {result['max']:.3f} s, "
            f"user {result['user']:.3f} s, system {result['system']:.3f} s over {len(times)} runs"
        )
    else:
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            run(plan, WORK)
            times.append(time.perf_counter() - started)
        print(
            f"subprocess: mean {statistics.mean(times):.3f} s, median {statistics.median(times):.3f} s, "
            f"min {min(times):.3f} s, max {max(times):.3f} s over {len(times)} runs"
        )
    breakdown(spec, renderer, args.runs)


if __name__ == "__main__":
    main()
