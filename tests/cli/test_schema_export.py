"""The published JSON Schema is generated from the models and must never be stale."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from mlspec.spec_schema.export import generate_schema, published_schema_text, schema_text

ROOT = Path(__file__).resolve().parent.parent.parent


def test_checked_in_schema_matches_the_models() -> None:
    assert published_schema_text() == schema_text(generate_schema()), (
        "mlspec/spec_schema/mlproject.v1.schema.json is stale: run `make schema` and commit it"
    )


def test_schema_fields_have_descriptions_for_editor_hover() -> None:
    schema = generate_schema()
    transform = schema["definitions"]["Transform"]["properties"]
    assert transform["python"]["description"]
    assert schema["definitions"]["Source"]["properties"]["path"]["examples"]


def test_every_example_spec_passes_the_json_schema_and_declares_it() -> None:
    schema = json.loads(published_schema_text())
    specs = [
        *sorted(ROOT.glob("projects/*/mlproject.yaml")),
        ROOT / "tests/compiler/data/contract/mlproject.yaml",
    ]
    assert len(specs) >= 1
    for spec in specs:
        text = spec.read_text(encoding="utf-8")
        assert text.startswith("# yaml-language-server: $schema="), spec
        jsonschema.validate(yaml.safe_load(text), schema)


def test_schema_rejects_an_unknown_field() -> None:
    schema = json.loads(published_schema_text())
    data = yaml.safe_load((ROOT / "tests/compiler/data/contract/mlproject.yaml").read_text())
    data["project"]["nmae"] = "x"
    try:
        jsonschema.validate(data, schema)
    except jsonschema.ValidationError as error:
        assert "nmae" in error.message
    else:
        raise AssertionError("the schema accepted an unknown field")
