"""The exported JSON Schema is one editors fully support (draft-07), accepts ``${...}`` where the
validator does, describes every property, and is what ``mlspec init`` points its spec at.

The schema sees the spec as written, before overlays are merged: it cannot check an overlay, so it
is only comparable with the validator on specs whose base is complete by itself. That holds for
every spec that does not declare a ``local`` environment with ``overrides`` (the implicit ``local``
environment validates the base with no overlay, so mlspec refuses an incomplete base).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from mlspec import api
from mlspec.cli import cli
from mlspec.diagnostics import Diagnostic, Severity
from mlspec.scaffold import TEMPLATES, init_project
from mlspec.spec_schema.export import SCHEMA_FILE, generate_schema, published_schema_text

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests/compiler/data/contract/mlproject.yaml"
CHECKED_IN = ROOT / "mlspec/spec_schema" / SCHEMA_FILE
EXAMPLE_SPECS = [
    *sorted(ROOT.glob("projects/*/mlproject.yaml")),
    CONTRACT,
    ROOT / "tests/compiler/data/aks/mlproject.yaml",
    ROOT / "tests/compiler/data/synapse/lake/mlproject.yaml",
    ROOT / "tests/compiler/data/azureml/script_project/mlproject.yaml",
    ROOT / "tests/spec_schema/data/contract.yaml",
]
SCHEMA_LINE = re.compile(r"^# yaml-language-server: \$schema=(?P<target>\S+)\n")

# Keywords of draft 2019-09 / 2020-12 that a draft-07 consumer (the VS Code YAML extension)
# does not know: it ignores them silently, so a rule written with one of them is never checked.
LATER_DRAFT_KEYWORDS = {
    "$defs",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "$recursiveAnchor",
    "$vocabulary",
    "prefixItems",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentRequired",
    "dependentSchemas",
    "minContains",
    "maxContains",
}
ANNOTATIONS = {"description", "title", "default", "examples"}


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(published_schema_text())
    return schema


def _subschemas(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object in ``node``, with a JSON pointer (values under properties/definitions
    are schemas; ``default``, ``examples`` and ``enum`` hold data, not schemas)."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _subschemas(item, f"{path}/{index}")
        return
    if not isinstance(node, dict):
        return
    yield path, node
    for key, value in node.items():
        if key in ("default", "examples", "enum", "const"):
            continue
        if key in ("properties", "definitions", "patternProperties"):
            for name, child in value.items():
                yield from _subschemas(child, f"{path}/{key}/{name}")
        elif isinstance(value, dict | list):
            yield from _subschemas(value, f"{path}/{key}")


def _draft7_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    """``path: message`` of the innermost errors: an error inside an ``anyOf`` (``X | None``) is
    reported where it is, not as "not valid under any of the given schemas" at the section."""
    leaves: list[jsonschema.ValidationError] = []

    def collect(error: jsonschema.ValidationError) -> None:
        if error.context:
            for inner in error.context:
                collect(inner)
        else:
            leaves.append(error)

    for error in jsonschema.Draft7Validator(schema).iter_errors(instance):
        collect(error)
    paths = {tuple(e.absolute_path) for e in leaves}
    innermost = [
        e
        for e in leaves
        if not any(
            len(p) > len(e.absolute_path) and p[: len(e.absolute_path)] == tuple(e.absolute_path)
            for p in paths
        )
    ]
    return sorted({f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in innermost})


def _local_overrides(spec: dict[str, Any]) -> bool:
    local = (spec.get("environments") or {}).get("local") or {}
    return bool(local.get("overrides"))


def _check_jsonschema() -> str:
    candidate = Path(sysconfig.get_path("scripts")) / "check-jsonschema"
    found = str(candidate) if candidate.exists() else shutil.which("check-jsonschema")
    assert found, "check-jsonschema is part of the test extra: pip install -e '.[test]'"
    return found


# --- the schema itself ---------------------------------------------------------------------


def test_exported_schema_is_a_valid_draft_07_schema() -> None:
    schema = _schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft7Validator


def test_exported_schema_uses_no_keyword_of_a_later_draft() -> None:
    found = [
        f"{path}: {key}"
        for path, node in _subschemas(_schema())
        for key in node
        if key in LATER_DRAFT_KEYWORDS
    ]
    assert found == []
    assert '"$defs"' not in published_schema_text()


def test_every_reference_is_a_local_definition_without_ignored_siblings() -> None:
    schema = _schema()
    for path, node in _subschemas(schema):
        if "$ref" not in node:
            continue
        reference = node["$ref"]
        assert reference.startswith("#/definitions/"), f"{path}: {reference}"
        assert reference.removeprefix("#/definitions/") in schema["definitions"], f"{path}: {reference}"
        # Draft-07 ignores every keyword next to $ref: a description there would never show.
        assert set(node) == {"$ref"}, f"{path}: keywords beside $ref are ignored in draft-07: {sorted(node)}"


def test_schema_has_no_id_that_an_editor_would_try_to_fetch() -> None:
    text = published_schema_text()
    assert "mlspec.dev" not in text
    assert all(
        not str(node.get("$id", "urn:")).startswith(("http:", "https:")) for _, node in _subschemas(_schema())
    )


def test_every_property_has_a_description() -> None:
    missing = [
        f"{path}/{name}"
        for path, node in _subschemas(_schema())
        for name, child in (node.get("properties") or {}).items()
        if not str(child.get("description", "")).strip()
    ]
    assert missing == [], "properties without a description (add Field(description=...)): " + ", ".join(
        missing
    )


def test_properties_editors_offer_have_examples() -> None:
    definitions = _schema()["definitions"]
    for definition, field in [
        ("Alert", "threshold"),
        ("Alert", "window"),
        ("Replicas", "min"),
        ("Source", "path"),
        ("Transform", "python"),
        ("Deployment", "endpoint"),
    ]:
        assert definitions[definition]["properties"][field].get("examples"), f"{definition}.{field}"


def test_models_forbidding_extras_stay_closed() -> None:
    definitions = _schema()["definitions"]
    open_objects = [
        name
        for name, definition in definitions.items()
        if definition.get("type") == "object" and definition.get("additionalProperties") is not False
    ]
    assert open_objects == []
    assert _schema()["additionalProperties"] is False


# --- interpolation -------------------------------------------------------------------------


def _scalar_leaves(
    data: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _scalar_leaves(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _scalar_leaves(value, (*path, index))
    elif data is not None:
        yield path, data


def _with_reference(spec: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """``spec`` with the leaf at ``path`` replaced by ``${var.stand_in}``, a variable defaulting to ``value``."""
    changed = copy.deepcopy(spec)
    changed.setdefault("variables", {})["stand_in"] = {"default": value, "description": "test"}
    parent: Any = changed
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = "${var.stand_in}"
    return changed


def _validator_errors(spec: dict[str, Any], tmp_path: Path) -> list[str]:
    path = tmp_path / "mlproject.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return _errors(api.validate_file(path, environ={}).diagnostics)


def _errors(diagnostics: list[Diagnostic]) -> list[str]:
    return [f"{d.code} {d.message}" for d in diagnostics if d.severity is Severity.ERROR]


def test_a_reference_is_accepted_by_the_schema_wherever_the_validator_accepts_it(tmp_path: Path) -> None:
    """Every typed leaf of the contract spec (numbers, booleans, enums, ranged integers) written as
    ``${var.x}``: the validator resolves it to the same value, and the schema must not flag it."""
    schema = _schema()
    spec = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    leaves = [
        (path, value)
        for path, value in _scalar_leaves(spec)
        # the validator does not interpolate these (resolution consumes them); project.name and
        # workspace values are references' own targets
        if path[0] not in ("environments", "variables", "project", "workspace", "apiVersion")
        and not (isinstance(value, str) and "$" in value)
    ]
    typed = [leaf for leaf in leaves if not isinstance(leaf[1], str)]
    assert len(typed) >= 20, typed
    refused = {}
    for path, value in leaves:
        changed = _with_reference(spec, path, value)
        assert _validator_errors(changed, tmp_path) == [], path
        errors = _draft7_errors(schema, changed)
        if errors:
            refused[".".join(map(str, path))] = errors
    assert refused == {}


def test_numeric_fields_still_refuse_a_string_that_is_no_reference() -> None:
    schema = _schema()
    spec = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    spec["monitoring"]["alerts"][0]["threshold"] = "high"
    spec["deployment"]["replicas"]["min"] = "${{ inputs.replicas }}"  # Azure ML's syntax, left alone
    spec["deployment"]["network"]["internal_load_balancer"] = "yes please"
    spec["deployment"]["rollout"]["strategy"] = "big_bang"
    errors = _draft7_errors(schema, spec)
    assert {e.split(":")[0] for e in errors} == {
        "monitoring/alerts/0/threshold",
        "deployment/replicas/min",
        "deployment/network/internal_load_balancer",
        "deployment/rollout/strategy",
    }, errors


def test_ranges_are_kept_for_literal_numbers() -> None:
    spec = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    spec["deployment"]["replicas"]["min"] = 0
    spec["monitoring"]["alerts"][0]["severity"] = 7
    errors = _draft7_errors(_schema(), spec)
    assert {e.split(":")[0] for e in errors} == {"deployment/replicas/min", "monitoring/alerts/0/severity"}


def test_environment_settings_the_validator_does_not_interpolate_refuse_a_reference(tmp_path: Path) -> None:
    spec = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    spec["variables"]["prod_protected"] = {"default": True}
    spec["environments"]["prod"]["protect"] = "${var.prod_protected}"
    assert _validator_errors(spec, tmp_path) == [
        "MLS102 'protect' must be true or false, got the string '${var.prod_protected}'"
    ]
    assert [e.split(":")[0] for e in _draft7_errors(_schema(), spec)] == ["environments/prod/protect"]


def test_unknown_fields_are_refused_next_to_references() -> None:
    spec = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    spec["deployment"]["replicas"]["min"] = "${var.replicas}"
    spec["deployment"]["replicas"]["mni"] = 2
    errors = _draft7_errors(_schema(), spec)
    assert len(errors) == 1 and "mni" in errors[0], errors


# --- check-jsonschema over the specs -------------------------------------------------------


def _rendered_templates(tmp_path: Path) -> list[Path]:
    written = []
    for template in TEMPLATES:
        init_project("demo", tmp_path / template, template)  # type: ignore[arg-type]
        written.append(tmp_path / template / "mlproject.yaml")
    return written


def test_check_jsonschema_accepts_every_example_spec_and_a_numeric_reference(tmp_path: Path) -> None:
    specs = [*EXAMPLE_SPECS, *_rendered_templates(tmp_path)]
    for spec in specs:
        data = yaml.safe_load(spec.read_text(encoding="utf-8"))
        assert not _local_overrides(data), f"{spec}: the schema cannot see overlays; see the module docstring"
        assert api.validate_file(spec, environ={}).ok, spec
    numeric = tmp_path / "numeric" / "mlproject.yaml"
    numeric.parent.mkdir()
    text = CONTRACT.read_text(encoding="utf-8")
    text = text.replace("threshold: 250,", 'threshold: "${var.latency_ms}",')
    text = text.replace("replicas: {min: 2,", 'replicas: {min: "${var.min_replicas}",')
    text = text.replace(
        "variables:                       # optional",
        "variables:\n  latency_ms: {default: 250}\n  min_replicas: {default: 2}\n  # optional",
    )
    numeric.write_text(text, encoding="utf-8")
    assert _errors(api.validate_file(numeric, environ={}).diagnostics) == []
    done = subprocess.run(
        [_check_jsonschema(), "--schemafile", str(CHECKED_IN), *map(str, [*specs, numeric])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_jsonschema_refuses_what_the_validator_refuses_as_structure(tmp_path: Path) -> None:
    bad = tmp_path / "mlproject.yaml"
    text = CONTRACT.read_text(encoding="utf-8").replace("threshold: 250,", "threshold: lots,")
    bad.write_text(
        text.replace("  namespace: churn\n", "  namespace: churn\n  replica: 3\n"), encoding="utf-8"
    )
    assert not api.validate_file(bad, environ={}).ok
    done = subprocess.run(
        [_check_jsonschema(), "--schemafile", str(CHECKED_IN), str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "threshold" in done.stdout and "replica" in done.stdout, done.stdout


# --- mlspec init and mlspec schema --write -------------------------------------------------


@pytest.mark.parametrize("template", TEMPLATES)
def test_init_points_its_spec_at_a_schema_file_it_writes(template: str, tmp_path: Path) -> None:
    project = tmp_path / "demo"
    created = init_project("demo", project, template)  # type: ignore[arg-type]
    text = (project / "mlproject.yaml").read_text(encoding="utf-8")
    line = SCHEMA_LINE.match(text)
    assert line, text.splitlines()[0]
    target = line["target"]
    assert not re.match(r"^[a-z]+:", target), f"{target}: must resolve offline, relative to the spec"
    schema_file = (project / target).resolve()
    assert schema_file in [p.resolve() for p in created]
    assert schema_file.read_text(encoding="utf-8") == published_schema_text()
    assert schema_file.is_relative_to(project.resolve())


def test_schema_write_defaults_to_the_project_schema_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["schema", "--write"])
    assert result.exit_code == 0, result.output
    expected = Path(".mlspec") / "schema" / SCHEMA_FILE
    assert result.output.strip() == str(expected)
    assert (tmp_path / expected).read_text(encoding="utf-8") == published_schema_text()


def test_schema_write_to_a_folder_or_a_file(tmp_path: Path) -> None:
    runner = CliRunner()
    folder = runner.invoke(cli, ["schema", "--write", str(tmp_path / "schemas")])
    assert folder.exit_code == 0, folder.output
    assert folder.output.strip() == str(tmp_path / "schemas" / SCHEMA_FILE)
    assert (tmp_path / "schemas" / SCHEMA_FILE).read_text(encoding="utf-8") == published_schema_text()
    file = runner.invoke(cli, ["schema", "--write", str(tmp_path / "editor.schema.json")])
    assert file.exit_code == 0, file.output
    assert (tmp_path / "editor.schema.json").read_text(encoding="utf-8") == published_schema_text()


def test_schema_without_write_prints_the_schema() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == _schema()


def test_schema_write_to_an_unwritable_place_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    result = CliRunner().invoke(cli, ["schema", "--write", str(blocker / "sub")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("mlspec: ") and str(blocker) in result.output, result.output


def test_checked_in_schema_is_regenerated_by_the_documented_command(tmp_path: Path) -> None:
    """``make schema`` (``python -m mlspec.spec_schema.export``) writes exactly the checked-in copy."""
    assert published_schema_text() == json.dumps(generate_schema(), indent=2, ensure_ascii=False) + "\n"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "-m mlspec.spec_schema.export" in makefile
    done = subprocess.run(
        [sys.executable, "-m", "mlspec.spec_schema.export", "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
