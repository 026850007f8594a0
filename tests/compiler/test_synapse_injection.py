"""Hostile text in every free-text field the Synapse artifacts carry stays data.

The same spec is rendered twice, once with a hostile payload in each free-text field and once
with plain text: the artifacts must have the same structure (JSON shape, and the same Python
syntax tree once string constants are blanked), parse, pass the platform checks, and carry
the payload back unchanged where it belongs.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec import api
from mlspec.compiler import synapse
from mlspec.compiler.artifacts import ArtifactSet, RenderContext

HOSTILE = (
    "x'y\"z \"\"\" ''' ` `` \\ {{ evil }} {% if x %} ${{ parent.inputs.x }} </script>"
    "<script>alert(1)</script> ../../etc/passwd\n: - &a *a !!python/object "
    '{"k": [1]} # comment\n\tindented \u2028 "); import os #\\'
)
PLAIN = "plain text"


def _lake_path_text(text: str) -> str:
    """``text`` without what validation refuses in a lake path (MLS412): '..', '${{', '#', '?', control
    characters. Everything else hostile stays, for the renderers to keep as data."""
    for refused, kept in (("\n", " "), ("\t", " "), ("..", "."), ("${{", "{{"), ("#", ""), ("?", "")):
        text = text.replace(refused, kept)
    return text


def spec(text: str) -> dict[str, Any]:
    return {
        "apiVersion": "mlspec/v1",
        "project": {"name": "hostile", "description": text},
        "workspace": {
            "subscription_id": "00000000-0000-0000-0000-000000000000",
            "resource_group": "rg-hostile",
            "location": "westeurope",
            "synapse": "syn-hostile",
            "spark_pool": "pool01",
            "storage_account": "acct",
        },
        "environments": {"dev": {"default": True}},
        "sources": {
            "raw_events": {
                "description": text,
                "path": "abfss://raw@acct.dfs.core.windows.net/x/" + _lake_path_text(text),
                "format": "csv",
                "options": {"header": True, "quote": text, "nullValue": text},
                "glob": text,
                "schema": {text: "string", "n": "decimal(10,2)"},
            }
        },
        "transforms": {
            "cleaned": {
                "description": text,
                "inputs": ["raw_events"],
                "sql": "SELECT *\nFROM raw_events\nWHERE note <> " + json.dumps(text) + "\n",
                "output": {
                    "path": "abfss://curated@acct.dfs.core.windows.net/" + _lake_path_text(text),
                    "format": "parquet",
                    "partition_by": [text],
                },
                "expectations": [
                    {"not_null": [text, "n"]},
                    {"unique": text},
                    {"accepted_values": {"column": text, "values": [text, 1, 2.5, True]}},
                    {"range": {"column": text, "min": 0, "max": 1}},
                    {"expression": text},
                ],
            }
        },
    }


def render(tmp_path: Path, text: str) -> tuple[ArtifactSet, dict[str, Any]]:
    folder = tmp_path / ("hostile" if text == HOSTILE else "plain")
    folder.mkdir()
    data = spec(text)
    (folder / "mlproject.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    resolved = api.resolve(api.load(folder / "mlproject.yaml"), "dev", environ={})
    assert resolved.model is not None and resolved.ok, [str(d) for d in resolved.diagnostics]
    ctx = RenderContext(resolved.model, resolved.spec)
    out = ArtifactSet()
    synapse.render(ctx, out)
    assert [*out.diagnostics, *synapse.check(ctx, out)] == []
    return out, data


def shape(value: Any) -> Any:
    """The structure of a JSON value; code cells by their syntax tree with every string blanked."""
    if isinstance(value, dict):
        if value.get("cell_type") == "code":
            code = "".join(value["source"])
            if code.startswith("%run "):  # Synapse's notebook reference, not Python
                return ("magic", "%run")
            return ("code", blanked_tree(code))
        if value.get("cell_type") == "markdown":
            return ("markdown",)
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


class _Blank(ast.NodeTransformer):
    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        return ast.Constant("") if isinstance(node.value, str) else node


def blanked_tree(code: str) -> str:
    return ast.dump(_Blank().visit(ast.parse(code)), include_attributes=False)


def string_constants(code: str) -> list[str]:
    return [
        n.value for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


@pytest.fixture
def rendered(tmp_path: Path) -> tuple[ArtifactSet, ArtifactSet, dict[str, Any]]:
    hostile, data = render(tmp_path, HOSTILE)
    plain, _ = render(tmp_path, PLAIN)
    return hostile, plain, data


def test_hostile_text_does_not_change_any_artifact_structure(
    rendered: tuple[ArtifactSet, ArtifactSet, dict[str, Any]],
) -> None:
    hostile, plain, _ = rendered
    assert sorted(hostile.artifacts) == sorted(plain.artifacts)
    for path, artifact in hostile.artifacts.items():
        written = json.loads(artifact.content)
        assert shape(written) == shape(json.loads(plain.artifacts[path].content)), path


def test_hostile_artifacts_pass_the_platform_checks(
    rendered: tuple[ArtifactSet, ArtifactSet, dict[str, Any]],
) -> None:
    from mlspec.compiler.platform_checks import check_ipynb, check_synapse_notebook, check_synapse_pipeline

    hostile, _, _ = rendered
    notebook = json.loads(hostile.artifacts["synapse/notebooks/cleaned.json"].content)
    assert check_synapse_notebook(notebook) == []
    assert check_ipynb(json.loads(hostile.artifacts["synapse/notebooks/cleaned.ipynb"].content)) == []
    assert (
        check_synapse_pipeline(json.loads(hostile.artifacts["synapse/pipelines/hostile.json"].content)) == []
    )


def test_the_payload_survives_as_data(rendered: tuple[ArtifactSet, ArtifactSet, dict[str, Any]]) -> None:
    hostile, _, data = rendered
    notebook = json.loads(hostile.artifacts["synapse/notebooks/cleaned.json"].content)
    pipeline = json.loads(hostile.artifacts["synapse/pipelines/hostile.json"].content)
    assert notebook["properties"]["description"] == HOSTILE
    assert pipeline["properties"]["description"] == HOSTILE
    assert pipeline["properties"]["activities"][0]["description"] == HOSTILE
    code = "\n".join(
        "".join(c["source"])
        for c in notebook["properties"]["cells"]
        if c["cell_type"] == "code" and not "".join(c["source"]).startswith("%run ")
    )
    constants = string_constants(code)
    transform = data["transforms"]["cleaned"]
    assert transform["sql"] in constants  # the SQL, exactly, as one string literal
    assert constants.count(HOSTILE) >= 8  # options, glob, partition, and every expectation
    assert data["sources"]["raw_events"]["path"] in constants
    assert transform["output"]["path"] in constants
    ddl = next(c for c in constants if "`n` decimal(10,2)" in c)
    assert "`" + HOSTILE.replace("`", "``") + "` string" in ddl  # the column name, quoted


def test_markdown_shows_names_only(rendered: tuple[ArtifactSet, ArtifactSet, dict[str, Any]]) -> None:
    hostile, _, _ = rendered
    notebook = json.loads(hostile.artifacts["synapse/notebooks/cleaned.json"].content)
    markdown = "".join(notebook["properties"]["cells"][0]["source"])
    assert "<script>" not in markdown and "{{" not in markdown
