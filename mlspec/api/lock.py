"""``mlspec lock``: resolve the scoring image's requirements once, with network access, into the lock file.

Like ``poetry lock`` or ``terraform providers lock``: the build stays offline and reads the committed
lock (:mod:`mlspec.spec_schema.serving_image.lock_file`). Every environment of the spec is resolved (they can differ
in the model's pip list and in ``deployment.auth``); each distinct requirement set becomes one entry.
An entry whose inputs are unchanged is kept as it is unless ``upgrade`` is asked for, so relocking after
a change touches only what changed; entries no environment needs any more are dropped.

Resolution uses pip alone (``pip install --dry-run --report``) for the image's platform: CPython of the
base image's version, manylinux wheels for its glibc and machine, binary wheels only (the image installs
with ``--only-binary=:all:``). The report names the one wheel pip chose for each distribution; the
image's own pip may choose another wheel of the same version (a newer manylinux tag), so the hashes of
every wheel of that version that can install on the image are read from the index's JSON API (PEP 691).
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.diagnostics import Diagnostic, MlspecError, has_errors
from mlspec.spec_schema.loader import SpecDocument
from mlspec.spec_schema.resolve import environment_names
from mlspec.spec_schema.serving_image.base_images import BaseImage, base_image, supported_pythons
from mlspec.spec_schema.serving_image.lock_file import (
    LockedPackage,
    LockedSet,
    LockFileError,
    find_set,
    inputs_digest,
    lock_file_name,
    parse_lock,
    render_lock,
    requirement_lines,
)
from mlspec.spec_schema.serving_image.requirements import requirements_text

DEFAULT_INDEX_URL = "https://pypi.org/simple"
"""Where the ACR task's pip installs from (pip's default index): the lock must come from the same."""
PIP_TIMEOUT_SECONDS = 900
INDEX_TIMEOUT_SECONDS = 60
_INDEX_WORKERS = 8
WHEEL_FILENAME = re.compile(
    r"(?P<name>[^-]+)-(?P<version>[^-]+)(?:-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl"
)
_MANYLINUX = re.compile(
    r"manylinux(?:_(?P<major>\d+)_(?P<minor>\d+)|(?P<legacy>1|2010|2014))_(?P<machine>\w+)"
)
_LEGACY_GLIBC = {"1": (2, 5), "2010": (2, 12), "2014": (2, 17)}

Resolver = Callable[[list[str], BaseImage, str], list[LockedPackage]]
"""Requirement lines, the base image, the index URL → every distribution the image installs."""


class ResolutionError(Exception):
    """pip could not resolve the set, or the index could not be read; the message says which."""


@dataclass(frozen=True)
class ServingSet:
    """One distinct requirement set of the spec and the environments that build it."""

    ranges: str
    base: BaseImage
    environments: tuple[str, ...]

    @property
    def inputs(self) -> str:
        return inputs_digest(self.ranges, self.base)


@dataclass
class LockResult:
    lock_file: Path
    sets: list[LockedSet] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    """Inputs digests resolved afresh by this run (empty: the lock was up to date)."""
    changed: bool = False
    """The file was (``check``: would be) rewritten."""
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def package_count(self) -> int:
        return sum(len(s.packages) for s in self.sets)


def lock(
    path: Path | str,
    *,
    index_url: str = DEFAULT_INDEX_URL,
    upgrade: bool = False,
    check: bool = False,
    resolver: Resolver | None = None,
    environ: dict[str, str] | None = None,
) -> LockResult:
    """Write (or with ``check``, only compare) the spec's lock file. Raises :class:`MlspecError` with
    the spec's own diagnostics if an environment is invalid, MLS609 if resolution fails, and MLS608
    (``check``) if the lock file is missing or stale."""
    from mlspec import api

    document = api.load(path)
    wanted, problems = serving_sets(document, environ)
    if has_errors(problems):
        raise MlspecError(problems)
    spec_file = Path(document.file)
    result = LockResult(spec_file.with_name(lock_file_name(spec_file.name)), diagnostics=problems)
    existing = _existing_sets(result.lock_file)
    kept = [] if upgrade else [s for s in (find_set(existing, w.inputs) for w in wanted) if s is not None]
    missing = [w for w in wanted if find_set(kept, w.inputs) is None]
    if check:
        if missing or len(kept) != len(existing):
            raise MlspecError([_stale(result.lock_file, missing)])
        result.sets = kept
        return result
    if missing and (sys.platform != "linux" or platform.machine() not in {"x86_64", "AMD64"}):
        result.diagnostics.append(_foreign_host_warning())
    resolve = resolver or resolve_with_pip
    fresh: list[LockedSet] = []
    for serving in missing:
        try:
            packages = resolve(requirement_lines(serving.ranges), serving.base, index_url)
        except ResolutionError as exc:
            raise MlspecError([_resolution_failed(serving, str(exc))]) from None
        fresh.append(
            LockedSet(
                serving.inputs,
                serving.base.python,
                serving.base.platform_tag,
                tuple(requirement_lines(serving.ranges)),
                tuple(sorted(packages, key=lambda p: p.name)),
            )
        )
        result.resolved.append(serving.inputs)
    result.sets = sorted([*kept, *fresh], key=lambda s: s.inputs)
    text = render_lock(result.sets)
    previous = result.lock_file.read_text("utf-8") if result.lock_file.is_file() else None
    if text != previous:
        _write_atomically(result.lock_file, text)
        result.changed = True
    return result


def serving_sets(
    document: SpecDocument, environ: dict[str, str] | None = None
) -> tuple[list[ServingSet], list[Diagnostic]]:
    """The distinct requirement sets of every environment of the spec that deploys an endpoint."""
    from mlspec import api

    by_inputs: dict[str, ServingSet] = {}
    problems: list[Diagnostic] = []
    for environment in environment_names(document):
        resolved = api.resolve(document, environment, environ=environ)
        if resolved.model is None or not resolved.ok:
            problems.extend(d for d in resolved.diagnostics if d.is_error)
            continue
        model, deployment = resolved.model.model, resolved.model.deployment
        if model is None or deployment is None:
            continue
        env = model.training.environment
        base = base_image(env.python)
        if base is None:
            problems.append(
                Diagnostic.error(
                    "MLS609",
                    f"there is no pinned base image for Python {env.python}: nothing to lock against",
                    ("model", "training", "environment", "python"),
                    resolved.spec.locate(("model", "training", "environment", "python")),
                    f"the serving image is built on Python {supported_pythons()}",
                )
            )
            continue
        serving = ServingSet(requirements_text(list(env.pip), deployment.auth), base, (environment,))
        known = by_inputs.get(serving.inputs)
        if known is not None:
            serving = ServingSet(known.ranges, base, (*known.environments, environment))
        by_inputs[serving.inputs] = serving
    return list(by_inputs.values()), _unique(problems)


def _unique(found: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[object, ...]] = set()
    out = []
    for d in found:
        key = (d.code, d.message, d.location)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _existing_sets(lock_file: Path) -> list[LockedSet]:
    try:
        return parse_lock(lock_file.read_text("utf-8"))
    except (OSError, LockFileError):
        return []  # rewritten from scratch: nothing in an unreadable lock is trusted


# --- resolution with pip ------------------------------------------------------------------------------


def target_platforms(base: BaseImage) -> list[str]:
    """Every manylinux tag the image's glibc installs, newest first (pip prefers the order given)."""
    major, newest = base.glibc
    tags = [f"manylinux_{major}_{minor}_{base.machine}" for minor in range(newest, 16, -1)]
    return [
        *tags,
        f"manylinux2014_{base.machine}",
        f"manylinux2010_{base.machine}",
        f"manylinux1_{base.machine}",
    ]


def pip_command(
    requirements_file: Path, report: Path, target: Path, base: BaseImage, index_url: str
) -> list[str]:
    """``pip install --dry-run --report`` for the image's platform. ``--isolated`` and no configuration
    file: the machine's own pip settings (extra indexes, find-links, constraints) must not leak into a
    lock the ACR task's plain pip then installs from the default index."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "--isolated",
        "--disable-pip-version-check",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--report",
        str(report),
        "--target",
        str(target),  # pip 23 wants --target with --platform; --dry-run writes nothing there
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        base.python,
        "--index-url",
        index_url,
    ]
    for tag in target_platforms(base):
        command += ["--platform", tag]
    return [*command, "--requirement", str(requirements_file)]


def resolve_with_pip(requirements: list[str], base: BaseImage, index_url: str) -> list[LockedPackage]:
    """Every distribution the image installs for ``requirements``, with the hashes of its usable wheels."""
    with tempfile.TemporaryDirectory(prefix="mlspec-lock-") as folder:
        work = Path(folder)
        requirements_file = work / "requirements.txt"
        requirements_file.write_text("\n".join(requirements) + "\n", "utf-8")
        report = work / "report.json"
        env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
        try:
            done = subprocess.run(
                pip_command(requirements_file, report, work / "target", base, index_url),
                capture_output=True,
                text=True,
                env=env,
                timeout=PIP_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ResolutionError(f"pip could not be run: {exc}") from None
        if done.returncode != 0 or not report.is_file():
            raise ResolutionError(_pip_failure(done.stderr))
        chosen = _report_packages(json.loads(report.read_text("utf-8")))
    with ThreadPoolExecutor(_INDEX_WORKERS) as pool:
        siblings = list(pool.map(lambda p: _wheel_hashes(index_url, p[0], p[1], base), chosen))
    return [
        LockedPackage(name, version, tuple(sorted({chosen_hash, *more})))
        for (name, version, chosen_hash), more in zip(chosen, siblings, strict=True)
    ]


def _pip_failure(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("WARNING:")]
    if any("no such option: --report" in line for line in lines):
        return "this pip has no --report (pip 22.2 or later is needed)"
    return "\n".join(lines[-12:]) or "pip failed without saying why"


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _report_packages(report: object) -> list[tuple[str, str, str]]:
    """(name, version, ``sha256:`` of the chosen file) of every distribution in a pip report."""
    if not isinstance(report, dict) or not isinstance(report.get("install"), list):
        raise ResolutionError("pip wrote no installation report")
    found = []
    for item in report["install"]:
        metadata, download = item.get("metadata") or {}, item.get("download_info") or {}
        digest = ((download.get("archive_info") or {}).get("hashes") or {}).get("sha256")
        if not digest or not str(download.get("url", "")).endswith(".whl"):
            raise ResolutionError(f"{metadata.get('name')}: pip chose no wheel with a sha256 (a direct URL?)")
        found.append((normalized(str(metadata["name"])), str(metadata["version"]), f"sha256:{digest}"))
    return found


def _wheel_hashes(index_url: str, name: str, version: str, base: BaseImage) -> set[str]:
    """``sha256:`` of every wheel of ``name`` ``version`` on the index that can install on the image."""
    request = urllib.request.Request(
        f"{index_url.rstrip('/')}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=INDEX_TIMEOUT_SECONDS) as response:
            page = json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError) as exc:
        raise ResolutionError(f"{name}: the index's JSON page could not be read: {exc}") from None
    hashes = set()
    for file in page.get("files") or []:
        filename, digest = str(file.get("filename", "")), (file.get("hashes") or {}).get("sha256")
        match = WHEEL_FILENAME.fullmatch(filename)
        if digest and match and match["version"].lower() == version.lower() and installs_on(match, base):
            hashes.add(f"sha256:{digest}")
    return hashes


def installs_on(wheel: re.Match[str], base: BaseImage) -> bool:
    """Whether a wheel's tags fit CPython ``base.python`` on manylinux ``base.glibc`` ``base.machine``."""
    interpreter = base.interpreter_tag
    minor = int(base.python.split(".")[1])
    pythons, abis, platforms = (set(wheel[part].split(".")) for part in ("py", "abi", "plat"))
    # cp38-abi3 wheels run on every later CPython 3; the version-specific tags on that version alone.
    stable_abi_from = [_cp_minor(tag) for tag in pythons]
    python_ok = bool(pythons & {"py3", f"py3{minor}", interpreter}) or (
        "abi3" in abis and any(m is not None and m <= minor for m in stable_abi_from)
    )
    abi_ok = bool(abis & {"none", "abi3", interpreter})
    return python_ok and abi_ok and any(_platform_ok(tag, base) for tag in platforms)


def _cp_minor(tag: str) -> int | None:
    match = re.fullmatch(r"cp3(\d+)", tag)
    return int(match[1]) if match else None


def _platform_ok(tag: str, base: BaseImage) -> bool:
    if tag == "any":
        return True
    match = _MANYLINUX.fullmatch(tag)
    if match is None or match["machine"] != base.machine:
        return False
    glibc = _LEGACY_GLIBC[match["legacy"]] if match["legacy"] else (int(match["major"]), int(match["minor"]))
    return glibc <= base.glibc


# --- diagnostics ----------------------------------------------------------------------------------------


def _stale(lock_file: Path, missing: Iterable[ServingSet]) -> Diagnostic:
    environments = sorted({e for s in missing for e in s.environments})
    why = (
        f"it has no entry for the requirements of {', '.join(environments)}"
        if environments
        else "it holds entries no environment needs"
    )
    if not lock_file.is_file():
        why = "it does not exist"
    return Diagnostic.error(
        "MLS608",
        f"the lock file {lock_file} is not up to date: {why}",
        hint="run `mlspec lock` (it needs network access to the package index) and commit the lock file",
    )


def _resolution_failed(serving: ServingSet, why: str) -> Diagnostic:
    return Diagnostic.error(
        "MLS609",
        f"the scoring image's requirements of {', '.join(serving.environments)} could not be resolved for "
        f"CPython {serving.base.python} on {serving.base.platform_tag}: {why}",
        hint="every package needs a wheel for linux/amd64 and that Python; the index must be reachable",
    )


def _foreign_host_warning() -> Diagnostic:
    return Diagnostic.warning(
        "MLS609",
        f"resolving on {sys.platform}/{platform.machine()}: pip evaluates environment markers "
        "(sys_platform, platform_machine) for this machine, not for the image (linux/x86_64)",
        hint="run mlspec lock on Linux x86_64 (e.g. in CI) for a lock that is exact for the image",
    )


def _write_atomically(target: Path, text: str) -> None:
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    staging.write_text(text, "utf-8")
    os.replace(staging, target)
