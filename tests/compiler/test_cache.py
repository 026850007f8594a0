"""The build cache behind plan/apply: a hit only when nothing a build depends on has changed."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlspec.api.deploy import load_desired
from mlspec.compiler import cache

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The diabetes example: it has a Python transform and a team training script (project inputs)."""
    target = tmp_path / "diabetes"
    shutil.copytree(ROOT / "projects" / "diabetes", target, ignore=shutil.ignore_patterns(".mlspec", "build"))
    return target


def _hit(
    project: Path,
    environment: str = "dev",
    variables: dict[str, str] | None = None,
    environ: dict[str, str] | None = None,
    spec_name: str = "mlproject.yaml",
) -> bool:
    spec = project / spec_name
    key = cache.build_key(spec, environment, variables or {}, environ or {})
    return cache.load(spec, environment, key) is not None


def test_second_load_is_a_hit_with_the_same_resources(project: Path) -> None:
    first = load_desired(project / "mlproject.yaml", "dev", environ={})
    assert _hit(project)
    second = load_desired(project / "mlproject.yaml", "dev", environ={})
    assert list(first.resources) == list(second.resources)
    for address, resource in first.resources.items():
        assert second.resources[address].payload.hash == resource.payload.hash
        assert second.resources[address].payload == resource.payload
        for file in resource.files:
            assert second.files(file) == first.files(file)


def test_editing_the_spec_misses(project: Path) -> None:
    load_desired(project / "mlproject.yaml", "dev", environ={})
    spec = project / "mlproject.yaml"
    spec.write_text(spec.read_text() + "\n# a comment changes the bytes\n")
    assert not _hit(project)


def test_editing_a_file_the_renderers_read_misses(project: Path) -> None:
    load_desired(project / "mlproject.yaml", "dev", environ={})
    entry = json.loads(cache.cache_file(project, "dev").read_text())
    assert entry["inputs"], "the renderers should have recorded the project files they read"
    read = project / next(iter(entry["inputs"]))
    read.write_text(read.read_text() + "\n# changed\n")
    assert not _hit(project)


def test_variables_environment_and_variable_env_vars_are_part_of_the_key(project: Path) -> None:
    load_desired(project / "mlproject.yaml", "dev", environ={})
    spec = project / "mlproject.yaml"
    assert _hit(project)
    assert not _hit(project, "prod")
    assert not _hit(project, variables={"anything": "x"})
    assert spec.exists()
    assert not _hit(project, environ={"MLSPEC_VAR_LAKE_ACCOUNT": "other"})
    assert _hit(project, environ={"UNRELATED": "1"})


def test_another_spec_file_name_misses(project: Path) -> None:
    """Artifacts name the spec file they came from, so a copy under another name is another build."""
    load_desired(project / "mlproject.yaml", "dev", environ={})
    (project / "other.yaml").write_bytes((project / "mlproject.yaml").read_bytes())
    assert not _hit(project, spec_name="other.yaml")


def test_a_spec_saved_during_the_build_is_not_served_the_old_build(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key is taken before building: an edit that lands mid-build makes the next run miss."""
    from mlspec import api

    spec = project / "mlproject.yaml"
    real_build = api.build

    def build_then_edit(*args: object, **kwargs: object) -> object:
        result = real_build(*args, **kwargs)  # type: ignore[arg-type]
        spec.write_text(spec.read_text() + "\n# saved while the build ran\n")
        return result

    monkeypatch.setattr(api, "build", build_then_edit)
    load_desired(spec, "dev", environ={})
    assert not _hit(project)


def test_a_corrupt_entry_is_a_miss_not_an_error(project: Path) -> None:
    load_desired(project / "mlproject.yaml", "dev", environ={})
    cache.cache_file(project, "dev").write_text("{not json")
    assert not _hit(project)
    assert load_desired(project / "mlproject.yaml", "dev", environ={}).resources


def test_an_unchanged_plan_does_not_import_the_models_or_renderers(project: Path) -> None:
    command = [sys.executable, "-m", "mlspec", "plan", str(project / "mlproject.yaml"), "--env", "local"]
    subprocess.run(command, check=True, capture_output=True)  # fills the cache
    probe = (
        "import sys, runpy; sys.argv = ['mlspec', 'plan', sys.argv[1], '--env', 'local']\n"
        "try:\n    runpy.run_module('mlspec', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('mlspec.spec_schema.models', 'mlspec.compiler.synapse', 'pydantic', 'jinja2')))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(project / "mlproject.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "No changes" in done.stdout or "to add" in done.stdout, done.stdout + done.stderr
    assert "HEAVY []" in done.stderr, done.stderr


def _entry(project: Path, environment: str) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(cache.cache_file(project, environment).read_text())
    return entry


def _pack(project: Path, environment: str) -> Path:
    return (
        cache.cache_file(project, environment).parent
        / cache.OBJECTS_DIR
        / _entry(project, environment)["pack"]
    )


def test_artifact_files_are_stored_in_one_pack_beside_the_entry_and_read_when_asked_for(
    project: Path,
) -> None:
    first = load_desired(project / "mlproject.yaml", "dev", environ={})
    entry = _entry(project, "dev")
    pack = _pack(project, "dev").read_bytes()
    assert hashlib.sha256(pack).hexdigest() == entry["pack"] and len(pack) == entry["pack_size"]
    shipped = {file for resource in first.resources.values() for file in resource.files}
    assert set(entry["files"]) >= shipped and shipped
    for path, (offset, size, digest) in entry["files"].items():  # the entry places them; the pack holds them
        assert pack[offset : offset + size] == first.files(path)
        assert hashlib.sha256(first.files(path)).hexdigest() == digest
    assert len(cache.cache_file(project, "dev").read_bytes()) < len(pack)
    load_desired(project / "mlproject.yaml", "prod", environ={})
    objects = _pack(project, "dev").parent
    assert {p.name for p in objects.iterdir()} == {entry["pack"], _entry(project, "prod")["pack"]}


def test_a_changed_or_missing_pack_is_a_miss_and_a_same_size_edit_is_refused_when_read(
    project: Path,
) -> None:
    load_desired(project / "mlproject.yaml", "dev", environ={})
    path, (offset, size, _) = sorted(_entry(project, "dev")["files"].items())[0]
    pack = _pack(project, "dev")
    original = pack.read_bytes()
    pack.write_bytes(original + b"junk")  # another size: rebuilt, never shipped
    assert not _hit(project)
    damaged = original[:offset] + bytes(size) + original[offset + size :]
    pack.write_bytes(damaged)  # the same size: caught when the file is read
    spec = project / "mlproject.yaml"
    hit = cache.load(spec, "dev", cache.build_key(spec, "dev", {}, {}))
    assert hit is not None
    with pytest.raises(OSError, match="was changed; the cache entry is dropped"):
        hit.files[path]
    assert not cache.cache_file(project, "dev").exists() and not _hit(project)  # the next run rebuilds
    load_desired(spec, "dev", environ={})  # a miss builds and stores the pack again
    assert pack.read_bytes() == original and _hit(project)
    pack.unlink()
    assert not _hit(project)


def test_packs_no_entry_names_are_removed_once_unused_for_a_day(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_desired(project / "mlproject.yaml", "dev", environ={})
    objects = cache.cache_file(project, "dev").parent / cache.OBJECTS_DIR
    before = {p.name for p in objects.iterdir()}
    spec = project / "mlproject.yaml"
    spec.write_text(spec.read_text().replace("diabetes", "diabetic", 1))
    load_desired(spec, "dev", environ={})
    # A plan storing a new entry keeps the old build's files: an apply may be shipping them now.
    assert before <= {p.name for p in objects.iterdir()}
    monkeypatch.setattr(cache, "PRUNE_AFTER_SECONDS", -1.0)
    spec.write_text(spec.read_text() + "\n# another build\n")
    load_desired(spec, "dev", environ={})
    after = {p.name for p in objects.iterdir()}
    assert after == {_entry(project, "dev")["pack"]} and before - after


def test_a_linked_objects_folder_is_never_written_or_pruned_through(project: Path, tmp_path: Path) -> None:
    """Pruning through a planted link would delete whatever the link points at."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "thesis.tex").write_text("precious")
    (victim / ("a" * 64)).write_text("named like an object")
    objects = cache.cache_file(project, "dev").parent / cache.OBJECTS_DIR
    objects.parent.mkdir(parents=True)
    objects.symlink_to(victim)
    load_desired(project / "mlproject.yaml", "dev", environ={})
    spec = project / "mlproject.yaml"
    spec.write_text(spec.read_text() + "\n# changed\n")
    load_desired(spec, "dev", environ={})
    assert sorted(p.name for p in victim.iterdir()) == ["a" * 64, "thesis.tex"]
    assert not _hit(project)  # and never a hit through it


def _with_payloads(entry: dict[str, Any], change: Any) -> dict[str, Any]:
    resources = [{**r, "payload": change(r["payload"])} for r in entry["manifest"]["resources"]]
    return {**entry, "manifest": {**entry["manifest"], "resources": resources}}


def test_a_hit_reads_the_properties_only_when_asked_for_and_from_the_pack(project: Path) -> None:
    first = load_desired(project / "mlproject.yaml", "dev", environ={})
    entry = _entry(project, "dev")
    assert all("properties" not in r["payload"] for r in entry["manifest"]["resources"])
    pack = _pack(project, "dev").read_bytes()
    for resource in entry["manifest"]["resources"]:  # each resource's properties are JSON in the pack
        offset, size, digest = resource["payload"]["properties_packed"]
        assert hashlib.sha256(pack[offset : offset + size]).hexdigest() == digest
        expected = first.resources[_address(resource["address"])].payload.properties
        assert json.loads(pack[offset : offset + size]) == expected
    second = load_desired(project / "mlproject.yaml", "dev", environ={})
    assert second.resources and not any(r.payload.loaded for r in second.resources.values())
    some = next(iter(second.resources.values()))
    assert some.payload.properties == first.resources[some.address].payload.properties and some.payload.loaded


def test_changed_properties_in_the_pack_are_refused_when_read_and_the_entry_dropped(project: Path) -> None:
    load_desired(project / "mlproject.yaml", "dev", environ={})
    resource = _entry(project, "dev")["manifest"]["resources"][0]
    offset, size, _ = resource["payload"]["properties_packed"]
    pack = _pack(project, "dev")
    original = pack.read_bytes()
    pack.write_bytes(original[:offset] + b" " * size + original[offset + size :])  # same size: a hit
    hit = load_desired(project / "mlproject.yaml", "dev", environ={})
    with pytest.raises(OSError, match=f"the properties of {resource['address']} was changed"):
        _ = hit.resources[_address(resource["address"])].payload.properties
    assert not cache.cache_file(project, "dev").exists()  # the next run builds afresh


def test_properties_moved_to_another_resource_or_not_json_are_refused_when_read(project: Path) -> None:
    """A slice whose own SHA-256 holds but that is not the resource's properties (another resource's, or
    a file that is not JSON) is caught by the resource's payload hash: never deployed, the entry dropped."""
    load_desired(project / "mlproject.yaml", "dev", environ={})
    target = cache.cache_file(project, "dev")
    entry = json.loads(target.read_text())
    first, second = entry["manifest"]["resources"][:2]
    python_file = next(place for path, place in entry["files"].items() if path.endswith(".py"))
    for place in (second["payload"]["properties_packed"], python_file):
        first["payload"]["properties_packed"] = place
        target.write_text(json.dumps(entry))
        hit = load_desired(project / "mlproject.yaml", "dev", environ={})
        with pytest.raises(OSError, match=f"the properties of {first['address']} was changed"):
            _ = hit.resources[_address(first["address"])].payload.properties
        assert not target.exists()
    rebuilt = load_desired(project / "mlproject.yaml", "dev", environ={})  # the next run builds afresh
    assert rebuilt.resources[_address(first["address"])].payload.properties is not None


def _address(text: str) -> Any:
    from mlspec.contract.graph import Address

    return Address.parse(text)


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: [],
        lambda entry: {**entry, "manifest": []},
        lambda entry: {**entry, "files": {p: f for p, f in entry["files"].items() if not p.endswith(".py")}},
        lambda entry: {**entry, "files": {p: [True, f[1], f[2]] for p, f in entry["files"].items()}},
        lambda entry: {**entry, "manifest": {**entry["manifest"], "resources": [[]]}},
        lambda entry: _with_payloads(
            entry, lambda body: {k: v for k, v in body.items() if k != "properties_packed"}
        ),
        lambda entry: _with_payloads(
            entry, lambda body: {**body, "properties_packed": [0, 10**12, "0" * 64]}
        ),
    ],
    ids=[
        "a list",
        "a list for the manifest",
        "a shipped file missing",
        "a boolean offset",
        "a list for a resource",
        "properties not placed",
        "properties placed past the pack",
    ],
)
def test_an_entry_of_another_shape_is_a_miss(project: Path, damage: Any) -> None:
    load_desired(project / "mlproject.yaml", "dev", environ={})
    target = cache.cache_file(project, "dev")
    target.write_text(json.dumps(damage(json.loads(target.read_text()))))
    assert not _hit(project)
    load_desired(project / "mlproject.yaml", "dev", environ={})  # and the build still works
    assert _hit(project)
