"""The generated scoring script is an entry script of Azure ML's inference server.

Its behaviour (scoring, authentication, the prediction log, 4xx for caller mistakes, the HTTP
hardening) is tested against the real server in ``tests/runtime/test_serving.py``; these tests pin
the script's shape, which needs neither the server nor a model.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest


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
BASE, HOSTILE, example_cases, render = _s.BASE, _s.HOSTILE, _s.example_cases, _s.render
CASES = example_cases()
STANDARD_LIBRARY = set(sys.stdlib_module_names)


@pytest.fixture(scope="module")
def tree() -> ast.Module:
    return ast.parse(render(BASE).text("acr/score.py"))


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_the_script_has_init_and_a_rawhttp_run(tree: ast.Module) -> None:
    functions = _functions(tree)
    assert [a.arg for a in functions["init"].args.args] == []
    run = functions["run"]
    assert [a.arg for a in run.args.args] == ["request"], "the server passes the flask request as-is"
    assert [d.id for d in run.decorator_list if isinstance(d, ast.Name)] == ["rawhttp"]


def test_only_the_standard_library_and_the_server_are_imported_at_module_level(tree: ast.Module) -> None:
    """MLflow and pandas are imported when the model is loaded, so importing the script is cheap."""
    top: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top.add(node.module.split(".")[0])
    assert top - STANDARD_LIBRARY == {"azureml_inference_server_http"}
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "azureml_inference_server_http.api.aml_request"
        for alias in node.names
    }
    assert imported == {"rawhttp"}


def test_the_alert_fields_are_written_by_name(tree: ast.Module) -> None:
    """The Azure Monitor log alerts read these keys from the log lines (see monitor/kql.py)."""
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "event"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]
    keywords = {str(call.args[0].value): {k.arg for k in call.keywords} for call in calls}
    assert {"method", "path", "status"} <= keywords["request"]
    assert {"ms", "rows"} <= keywords["scored"]


def test_the_body_limit_is_ten_mebibytes() -> None:
    assert "\nMAX_BODY_BYTES = 10 * 1024 * 1024\n" in render(BASE).text("acr/score.py")


@pytest.mark.parametrize(("spec", "env"), CASES, ids=[f"{s.parent.name}-{e}" for s, e in CASES])
def test_the_server_configuration_parses_for_every_example(spec: Path, env: str) -> None:
    compile(render(spec, env).text("acr/gunicorn.conf.py"), "gunicorn.conf.py", "exec")
