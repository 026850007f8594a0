"""Which notebook cell a failed transform is blamed on: its own cell, with a helper's line as detail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlspec.runtime.notebooks import CodeCell, CompiledNotebook
from mlspec.runtime.transform_failure import RunContext, cell_file, explain

HELPER = CodeCell(
    1,
    "# mlspec runtime helper\ndef read_input(name):\n    raise ValueError(f'cannot read {name}')\n",
    notebook="mlspec-lake-demo",
    run_by=2,
)
READ = CodeCell(3, "# Read every input\nframe = read_input('lab_panel')\n")


def _failure(cells: tuple[CodeCell, ...]) -> Any:
    notebook = CompiledNotebook(
        "features", Path("features.ipynb"), cells, "abfss://c@a.dfs.core.windows.net/x", "delta", ()
    )
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for cell in cells:
        try:
            exec(compile(cell.source, cell_file(notebook, cell), "exec"), namespace)
        except Exception as error:  # what spark._run_notebook catches
            return explain(notebook, cell, error, namespace, RunContext(lake_root=Path("/tmp/lake")))
    pytest.fail("no cell failed")


def test_a_failure_inside_the_runtime_helper_names_the_transforms_own_call_then_the_helper_line() -> None:
    failure = _failure((HELPER, READ))
    message = str(failure)
    assert message.startswith(
        "transform features failed in cell 3 (Read every input), line 2: frame = read_input('lab_panel')"
        " (in mlspec-lake-demo, cell 1, line 3: raise ValueError(f'cannot read {name}'))\n"
    ), message
    assert failure.cell == 3
    assert message.endswith("cannot read lab_panel")


def test_a_failure_in_the_helper_cell_itself_is_blamed_on_it_and_its_run_cell() -> None:
    broken = CodeCell(
        1, "# mlspec runtime helper\nraise RuntimeError('broken helper')\n", "mlspec-lake-demo", 2
    )
    failure = _failure((broken, READ))
    assert str(failure).startswith(
        "transform features failed in cell 1 (mlspec runtime helper) of notebook mlspec-lake-demo (run by cell 2)"
    ), str(failure)
    assert failure.cell == 2  # the transform notebook's %run cell
