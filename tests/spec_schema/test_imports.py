"""`mlspec validate` stays light: no Azure SDK, Spark, MLflow or data-science stack is imported.

Each check runs in a fresh interpreter, so modules imported by other tests cannot hide an import.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from .spec_text import CONTRACT_PATH

REPO = Path(__file__).resolve().parents[2]
HEAVY = (
    "pyspark",
    "mlflow",
    "kubernetes_validate",
    "nbformat",
    "sklearn",
    "pandas",
    # the run stage's own: the plotting library, the scoring server, the progress display
    "matplotlib",
    "scipy",
    "rich",
    "azureml_inference_server_http",
    "flask",
    "gunicorn",
)
REPORT_HEAVY = textwrap.dedent(
    f"""
    import json, sys
    heavy = sorted(
        name for name in sys.modules
        if name.split(".")[0].startswith("azure") or name.split(".")[0] in {HEAVY!r}
    )
    print(json.dumps({{"heavy": heavy, "outcome": outcome}}))
    """
)


def run_fresh(code: str) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-c", code + REPORT_HEAVY],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def test_validate_file_imports_no_sdk() -> None:
    code = textwrap.dedent(
        f"""
        from mlspec import api
        result = api.validate_file({str(CONTRACT_PATH)!r}, all_environments=True, environ={{}})
        outcome = [result.ok, sum(d.is_error for d in result.diagnostics)]  # warnings are fine
        """
    )
    result = run_fresh(code)
    assert result["outcome"] == [True, 0]
    assert result["heavy"] == []


def test_validate_command_imports_no_sdk() -> None:
    code = textwrap.dedent(
        f"""
        import contextlib, io
        from mlspec.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["validate", {str(CONTRACT_PATH)!r}, "--all-envs"])
            except SystemExit as exit:
                outcome = exit.code
        """
    )
    result = run_fresh(code)
    assert result["outcome"] == 0
    assert result["heavy"] == []
