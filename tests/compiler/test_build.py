"""`mlspec build` as a whole: determinism, the manifest as resource graph, errors located in the spec."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlspec import api
from mlspec.compiler.build import read_manifest
from mlspec.contract.graph import topological_order
from mlspec.diagnostics import MlspecError
from mlspec.spec_schema.resolve import environment_names

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"
SPECS = [CONTRACT, *sorted(ROOT.glob("projects/*/mlproject.yaml"))]
CASES = [(spec, env) for spec in SPECS for env in environment_names(api.load(spec))]


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize(("spec", "env"), CASES, ids=[f"{s.parent.name}-{e}" for s, e in CASES])
def test_build_twice_is_byte_identical(spec: Path, env: str, tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    api.build(spec, env, out_dir=first, environ={})
    api.build(spec, env, out_dir=second, environ={})
    assert _tree(first) == _tree(second)


@pytest.mark.parametrize(("spec", "env"), CASES, ids=[f"{s.parent.name}-{e}" for s, e in CASES])
def test_manifest_is_a_closed_acyclic_resource_graph(spec: Path, env: str, tmp_path: Path) -> None:
    api.build(spec, env, out_dir=tmp_path, environ={})
    manifest, payloads = read_manifest(tmp_path)
    addresses = {r.address for r in manifest.resources}
    assert manifest.environment == env
    for resource in manifest.resources:
        assert set(resource.depends_on) <= addresses, resource.address
        for file in resource.files:
            assert (tmp_path / file).is_file(), f"{resource.address} names missing file {file}"
        assert manifest.hashes[resource.address].startswith("sha256:")
        assert "properties" in payloads[str(resource.address)]
    assert len(topological_order(manifest.resources)) == len(manifest.resources)


@pytest.mark.parametrize("spec", SPECS, ids=[s.parent.name for s in SPECS])
def test_artifacts_never_contain_the_machine_path(spec: Path, tmp_path: Path) -> None:
    api.build(spec, None, out_dir=tmp_path, environ={})
    for name, content in _tree(tmp_path).items():
        assert str(ROOT).encode() not in content, f"{name} leaks the build machine's path"
        assert str(tmp_path).encode() not in content, f"{name} leaks the output path"


def test_rebuild_replaces_stale_files(tmp_path: Path) -> None:
    api.build(CONTRACT, "dev", out_dir=tmp_path, environ={})
    (tmp_path / "stale.txt").write_text("left over")
    api.build(CONTRACT, "dev", out_dir=tmp_path, environ={})
    assert not (tmp_path / "stale.txt").exists()
    assert (tmp_path / "manifest.json").is_file()


def test_invalid_spec_fails_the_build_at_the_spec_line(tmp_path: Path) -> None:
    spec = tmp_path / "mlproject.yaml"
    spec.write_text(CONTRACT.read_text().replace("target: churned", "target: churn"))
    with pytest.raises(MlspecError) as caught:
        api.build(spec, "dev", out_dir=tmp_path / "out")
    diagnostic = caught.value.diagnostics[0]
    assert diagnostic.code == "MLS308"
    assert diagnostic.location is not None and diagnostic.location.file == str(spec)
    assert "target: churn" in spec.read_text().splitlines()[diagnostic.location.line - 1]
    assert not (tmp_path / "out").exists()


def test_build_command_writes_default_folder_and_reports(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    shutil.copy(CONTRACT, project / "mlproject.yaml")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mlspec.cli import main; main()",
            "build",
            str(project / "mlproject.yaml"),
            "--env",
            "prod",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((project / "build" / "prod" / "manifest.json").read_text())
    assert manifest["environment"] == "prod" and manifest["protect"] is True
    assert "built" in done.stdout


@pytest.mark.parametrize("output_format", ["mermaid", "dot", "json"])
def test_graph_command_draws_every_address(output_format: str) -> None:
    from mlspec.compiler.graph_render import render_graph

    result = api.build(CONTRACT, "dev", environ={})
    drawn = render_graph(result.manifest, output_format)
    for resource in result.manifest.resources:
        assert str(resource.address) in drawn
    if output_format == "json":
        graph = json.loads(drawn)
        assert len(graph["nodes"]) == len(result.manifest.resources)
        assert all(edge["from"] in {n["address"] for n in graph["nodes"]} for edge in graph["edges"])


def test_build_and_graph_never_import_heavy_sdks(tmp_path: Path) -> None:
    """`mlspec build` (without --check) and `mlspec graph` stay off the Azure SDKs, PySpark and MLflow."""
    probe = (
        "import sys\n"
        "from mlspec.cli import main\n"
        "for args in (['build', sys.argv[1], '--env', 'prod', '--out', sys.argv[2], '-q'], ['graph', sys.argv[1]]):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as done:\n"
        "        assert done.code in (0, None), done.code\n"
        "heavy = ('azure', 'pyspark', 'mlflow', 'kubernetes_validate', 'nbformat', 'sklearn', 'pandas', 'jsonschema',\n"
        "         'matplotlib', 'scipy', 'rich', 'azureml_inference_server_http', 'flask', 'gunicorn')\n"
        "print('HEAVY', sorted(m for m in sys.modules if m.split('.')[0] in heavy), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(CONTRACT), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stderr, done.stderr
