"""check_ipynb: nbformat's schema on the notebook part of a document."""

import json
from pathlib import Path
from typing import Any

from mlspec.compiler.platform_checks import check_ipynb

DATA = Path(__file__).parent / "data"


def load(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / path).read_text())
    return data


def test_plain_notebook_and_synapse_notebook_properties_are_valid() -> None:
    assert check_ipynb(load("ipynb/churn_eda.ipynb")) == []
    # Synapse's own keys (bigDataPool, sessionProperties, folder) beside the nbformat ones are ignored.
    assert check_ipynb(load("synapse/notebook.json")["properties"]) == []


def test_markdown_cell_with_outputs() -> None:
    notebook = load("ipynb/churn_eda.ipynb")
    notebook["cells"][0]["outputs"] = []
    problems = check_ipynb(notebook)
    assert [(p.where, p.checker) for p in problems] == [("/cells/0", "nbformat")]
    assert "'outputs' was unexpected" in problems[0].message


def test_minor_version_5_requires_cell_ids() -> None:
    notebook = load("ipynb/churn_eda.ipynb")
    notebook["nbformat_minor"] = 5
    problems = check_ipynb(notebook)
    assert [p.where for p in problems] == ["/cells/0", "/cells/1", "/cells/2"]
    assert all(p.message == "'id' is a required property" for p in problems)


def test_missing_cells_and_string_version() -> None:
    notebook = load("ipynb/churn_eda.ipynb")
    del notebook["cells"]
    assert [p.message for p in check_ipynb(notebook)] == ["missing required field 'cells'"]
    notebook = load("ipynb/churn_eda.ipynb")
    notebook["nbformat"] = "4"
    assert "must be integers" in check_ipynb(notebook)[0].message
