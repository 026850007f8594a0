"""The published JSON Schema of ``mlproject.yaml``, generated from the pydantic models.

Regenerate the checked-in copy with ``python -m mlspec.spec_schema.export``; a test fails
when it is stale. ``mlspec schema`` prints the checked-in copy (no model introspection at
run time, so it is instant).
"""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

SCHEMA_FILE = "mlproject.v1.schema.json"
SCHEMA_ID = "https://mlspec.dev/schemas/mlproject.v1.schema.json"


def generate_schema() -> dict[str, Any]:
    from mlspec.spec_schema.models import MLProject

    schema = MLProject.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "mlproject.yaml (mlspec/v1)",
    }


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def published_schema_text() -> str:
    return files("mlspec.spec_schema").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def main() -> None:
    target = Path(__file__).with_name(SCHEMA_FILE)
    target.write_text(schema_text(generate_schema()), encoding="utf-8")
    sys.stdout.write(f"wrote {target}\n")


if __name__ == "__main__":
    main()
