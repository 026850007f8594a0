"""The scoring image's base and its locked requirements: base images by digest, the lock file, `mlspec lock`."""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from mlspec.api.lock import (
    DEFAULT_INDEX_URL,
    WHEEL_FILENAME,
    installs_on,
    lock,
    normalized,
    pip_command,
    resolve_with_pip,
)
from mlspec.diagnostics import MlspecError
from mlspec.spec_schema.serving_image.base_images import BASE_IMAGES, BaseImage
from mlspec.spec_schema.serving_image.lock_file import LockedPackage, LockFileError, parse_lock


def _support() -> Any:
    if "aks_support" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "aks_support", Path(__file__).with_name("test_aks_support.py")
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["aks_support"] = module
        spec.loader.exec_module(module)
    return sys.modules["aks_support"]


_s = _support()
BASE, render, variant = _s.BASE, _s.render, _s.variant
ROOT = Path(__file__).resolve().parents[2]
LOCKED_SPECS = [
    *sorted((ROOT / "projects").glob("*/mlproject.yaml")),
    BASE,
    ROOT / "tests" / "spec_schema" / "data" / "reports" / "three_tables.yaml",
]
"""Specs whose builds tests expect free of warnings: their lock files are committed."""
RELOCK = "for f in " + " ".join(str(p.relative_to(ROOT)) for p in LOCKED_SPECS) + "; do mlspec lock $f; done"
PY311 = BASE_IMAGES["3.11"]
FAKE_HASH = "sha256:" + "ab" * 32


class FakeResolver:
    """Pins every requirement line at 1.0 with one made-up hash, and counts what it was asked."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, requirements: list[str], base: BaseImage, index_url: str) -> list[LockedPackage]:
        self.calls.append(requirements)
        names = {normalized(re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0]) for line in requirements}
        return [LockedPackage(name, "1.0", (FAKE_HASH,)) for name in sorted(names)]


def _spec(tmp_path: Path, change: Any = lambda d: None) -> Path:
    """A variant of the base spec without a lock file."""
    spec: Path = variant(tmp_path, change)
    spec.with_name("mlproject.lock.json").unlink(missing_ok=True)
    return spec


def _locked(tmp_path: Path, change: Any = lambda d: None) -> Path:
    spec = _spec(tmp_path, change)
    lock(spec, resolver=FakeResolver(), environ={})
    return spec


# --- the base image -------------------------------------------------------------------------------------


def test_every_base_image_is_pinned_by_digest_on_microsofts_registry() -> None:
    for python, base in BASE_IMAGES.items():
        assert base.python == python
        assert re.fullmatch(
            r"mcr\.microsoft\.com/[a-z0-9/._-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}", base.reference
        )


def test_a_python_without_a_pinned_base_is_an_error_at_its_line(tmp_path: Path) -> None:
    spec = _spec(tmp_path, lambda d: d["model"]["training"]["environment"].update(python="3.12"))
    rendered = render(spec)
    assert [(d.code, d.path) for d in rendered.errors] == [
        ("MLS638", ("model", "training", "environment", "python"))
    ]
    assert '"3.11"' in (rendered.errors[0].hint or "")
    assert "acr/Dockerfile" not in rendered.out.artifacts


# --- build: locked or not -------------------------------------------------------------------------------


def test_without_a_lock_file_the_image_installs_ranges_silently(tmp_path: Path) -> None:
    """Locking is opted into with `mlspec lock`; a project without a lock file is not warned at every
    build (the Dockerfile says it installs ranges). A stale lock is a warning (below)."""
    rendered = render(_spec(tmp_path))
    assert rendered.diagnostics == []
    assert "scikit-learn==1.5.2" in rendered.text("acr/requirements.txt").splitlines()
    dockerfile = rendered.text("acr/Dockerfile")
    assert "--require-hashes" not in dockerfile
    assert "mlproject.lock.json" in rendered.ctx.inputs, "the build cache must see the (missing) lock"


def test_a_matching_lock_makes_the_image_install_exactly_the_locked_files(tmp_path: Path) -> None:
    rendered = render(_locked(tmp_path))
    assert rendered.diagnostics == []
    lines = [line for line in rendered.text("acr/requirements.txt").splitlines() if not line.startswith("#")]
    assert "scikit-learn==1.0 \\" in lines and f"    --hash={FAKE_HASH}" in lines
    assert not any(re.search(r"[<>]|>=", line) for line in lines), "no ranges left"
    run = next(line for line in rendered.text("acr/Dockerfile").splitlines() if "pip install" in line)
    for flag in (
        "--require-hashes",
        "--no-deps",
        "--only-binary=:all:",
        "--requirement /app/requirements.txt",
    ):
        assert flag in run
    assert rendered.ctx.inputs["mlproject.lock.json"] is not None


def test_a_changed_pip_list_makes_the_lock_stale(tmp_path: Path) -> None:
    spec = _locked(tmp_path)
    text = spec.read_text().replace("scikit-learn==1.5.2", "scikit-learn==1.5.1")
    spec.write_text(text)
    rendered = render(spec)
    assert [d.code for d in rendered.diagnostics] == ["MLS608"]
    assert "other requirements" in rendered.diagnostics[0].message
    assert "scikit-learn==1.5.1" in rendered.text("acr/requirements.txt")


def test_a_hand_edited_lock_cannot_add_pip_options(tmp_path: Path) -> None:
    spec = _locked(tmp_path)
    lock_file = spec.with_name("mlproject.lock.json")
    document = json.loads(lock_file.read_text())
    document["serving"][0]["packages"][0]["name"] = "--index-url=https://evil.example/simple"
    lock_file.write_text(json.dumps(document))
    rendered = render(spec)
    assert [d.code for d in rendered.diagnostics] == ["MLS608"]
    assert "cannot be read" in rendered.diagnostics[0].message
    assert "evil" not in rendered.text("acr/requirements.txt")
    with pytest.raises(LockFileError):
        parse_lock(lock_file.read_text())


@pytest.mark.parametrize("text", ["", "[]", '{"format": 2, "serving": []}', '{"format": 1, "serving": [{}]}'])
def test_lock_files_of_another_shape_are_refused(text: str) -> None:
    with pytest.raises(LockFileError):
        parse_lock(text)


# --- mlspec lock ----------------------------------------------------------------------------------------


def test_lock_resolves_each_distinct_set_once_and_keeps_unchanged_entries(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    resolver = FakeResolver()
    first = lock(spec, resolver=resolver, environ={})
    assert first.changed and len(resolver.calls) == 1, "dev, prod and local share one requirement set"
    assert any(line.startswith("azureml-inference-server-http") for line in resolver.calls[0])
    again = lock(spec, resolver=resolver, environ={})
    assert not again.changed and len(resolver.calls) == 1, "an up-to-date entry is not resolved again"
    lock(spec, resolver=resolver, environ={}, upgrade=True)
    assert len(resolver.calls) == 2


def test_lock_check_is_offline_and_fails_on_a_stale_lock(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    with pytest.raises(MlspecError) as missing:
        lock(spec, check=True, environ={})
    assert [d.code for d in missing.value.diagnostics] == ["MLS608"]
    lock(spec, resolver=FakeResolver(), environ={})
    assert lock(spec, check=True, environ={}).sets
    spec.write_text(spec.read_text().replace("scikit-learn==1.5.2", "scikit-learn==1.5.1"))
    with pytest.raises(MlspecError) as stale:
        lock(spec, check=True, environ={})
    assert "no entry for the requirements of" in stale.value.diagnostics[0].message


@pytest.mark.parametrize("spec", LOCKED_SPECS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_committed_lock_of_every_example_is_up_to_date(spec: Path) -> None:
    """Changing the image's requirement set (image.py) or an example's pip list needs `mlspec lock` on
    the examples and on the AKS tests' base spec (tests/compiler/data/aks)."""
    try:
        result = lock(spec, check=True, environ={})
    except MlspecError as exc:
        pytest.fail(f"{exc.diagnostics[0].message}; relock (network needed): {RELOCK}")
    packages = {p.name for s in result.sets for p in s.packages}
    assert {"azureml-inference-server-http", "gunicorn", "gevent", "scikit-learn"} <= packages


def test_pip_resolves_in_isolation_for_the_image_platform(tmp_path: Path) -> None:
    command = pip_command(
        tmp_path / "r.txt", tmp_path / "report.json", tmp_path / "t", PY311, DEFAULT_INDEX_URL
    )
    assert command[1:5] == ["-m", "pip", "--isolated", "--disable-pip-version-check"]
    assert {"--dry-run", "--only-binary=:all:", "--ignore-installed"} <= set(command)
    platforms = [command[i + 1] for i, part in enumerate(command) if part == "--platform"]
    assert platforms[0] == "manylinux_2_35_x86_64" and "manylinux2014_x86_64" in platforms
    assert command[command.index("--python-version") + 1] == "3.11"


@pytest.mark.parametrize(
    ("filename", "fits"),
    [
        ("six-1.17.0-py2.py3-none-any.whl", True),
        ("gevent-26.9.0-cp311-cp311-manylinux_2_28_x86_64.whl", True),
        ("numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", True),
        ("cryptography-50.0.2-cp311-abi3-manylinux_2_28_x86_64.whl", True),
        ("protobuf-5.29.6-cp38-abi3-manylinux2014_x86_64.whl", True),
        ("gevent-26.9.0-cp312-cp312-manylinux_2_28_x86_64.whl", False),
        ("gevent-26.9.0-cp311-cp311-manylinux_2_28_aarch64.whl", False),
        ("gevent-26.9.0-cp311-cp311-musllinux_1_2_x86_64.whl", False),
        ("gevent-26.9.0-cp311-cp311-win_amd64.whl", False),
        ("x-1.0-cp311-cp311-manylinux_2_39_x86_64.whl", False),
    ],
)
def test_the_hashes_recorded_are_of_wheels_the_image_can_install(filename: str, fits: bool) -> None:
    match = WHEEL_FILENAME.fullmatch(filename)
    assert match is not None
    assert installs_on(match, PY311) is fits


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(
    not _pypi_reachable(), reason="PyPI is not reachable: the real resolution needs the network"
)
def test_a_tiny_set_resolves_against_pypi_with_the_published_hash() -> None:
    packages = resolve_with_pip(["six==1.17.0"], PY311, DEFAULT_INDEX_URL)
    assert [(p.name, p.version) for p in packages] == [("six", "1.17.0")]
    # six 1.17.0 publishes one wheel; its sha256 on PyPI:
    assert packages[0].hashes == ("sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274",)


def test_validate_warns_of_a_stale_lock_as_build_does(tmp_path: Path) -> None:
    import shutil

    import yaml

    from mlspec import api

    project = tmp_path / "churn"
    shutil.copytree(ROOT / "projects" / "churn", project, ignore=shutil.ignore_patterns("build", ".mlspec"))
    spec = project / "mlproject.yaml"
    data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    data["model"]["training"]["environment"]["pip"].append("tabulate==0.9.0")
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    validated = [
        d
        for d in api.validate_file(spec, all_environments=True, environ={}).diagnostics
        if d.code == "MLS608"
    ]
    built = [d for d in api.build(spec, "dev", environ={}).diagnostics if d.code == "MLS608"]
    assert validated and built
    assert {(d.message, d.location) for d in built} <= {(d.message, d.location) for d in validated}
